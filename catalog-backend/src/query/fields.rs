//! Field projection (`fields`, spec 2.4).
//!
//! The projection works on the stored JSON text: it scans the objects along each requested
//! path, copies the selected values' bytes verbatim and writes a new object around them, so
//! no tree is built for the unselected parts of an entity. Paths resolve greedy-with-merge
//! like Backstage's `getPathArrayAndValue`: a segment that is not a key of the current
//! object is glued to the next one with a dot (`metadata.annotations.backstage.io/orphan`).
//! Arrays are not traversed.

use std::borrow::Cow;

use crate::error::{CatalogError, Result};

/// A parsed, de-duplicated list of field paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSet {
    fields: Vec<String>,
}

impl FieldSet {
    /// Parses `fields` values: each is split on commas, trimmed, empty ones dropped,
    /// duplicates removed. `None` when nothing remains.
    ///
    /// # Errors
    /// `Invalid field "<f>", array type fields are not supported` for a path with `[`.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Option<Self>> {
        let mut fields: Vec<String> = Vec::new();
        for value in values {
            for field in value
                .as_ref()
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
            {
                if !fields.iter().any(|f| f == field) {
                    fields.push(field.to_owned());
                }
            }
        }
        if let Some(bad) = fields.iter().find(|f| f.contains('[')) {
            return Err(CatalogError::Input(format!(
                "Invalid field \"{bad}\", array type fields are not supported"
            )));
        }
        Ok((!fields.is_empty()).then_some(Self { fields }))
    }

    /// The paths, in request order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Projects one entity's JSON text, appending the result (a JSON object) to `out`.
    /// Text that is not a JSON object projects to `{}`.
    pub fn project_into(&self, json: &[u8], out: &mut Vec<u8>) {
        let mut root = Node::Obj(Vec::new());
        if json_kind(json, 0) == Some(b'{') {
            for field in &self.fields {
                if let Some((path, value)) = resolve(json, field) {
                    root.set(path, value);
                }
            }
        }
        root.write(out);
    }

    /// Projects one entity's JSON text into a new buffer.
    pub fn project(&self, json: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.project_into(json, &mut out);
        out
    }
}

enum Node<'a> {
    Raw(&'a [u8]),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// lodash's `set(output, path, value)` where `output` only ever holds values of the
    /// same input: setting below an already copied subtree changes nothing.
    fn set(&mut self, path: Vec<Cow<'a, str>>, value: &'a [u8]) {
        let mut node = self;
        let last = path.len().saturating_sub(1);
        for (i, key) in path.into_iter().enumerate() {
            let Node::Obj(children) = node else {
                return;
            };
            let index = match children.iter().position(|(k, _)| *k == key) {
                Some(index) => index,
                None => {
                    children.push((key, Node::Obj(Vec::new())));
                    children.len() - 1
                }
            };
            if i == last {
                children[index].1 = Node::Raw(value);
                return;
            }
            node = &mut children[index].1;
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Raw(raw) => out.extend_from_slice(raw),
            Node::Obj(children) => {
                out.push(b'{');
                for (i, (key, child)) in children.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_string(key, out);
                    out.push(b':');
                    child.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

fn write_json_string(s: &str, out: &mut Vec<u8>) {
    // Writing a string to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Resolves a dotted field against the JSON text: the key path and the raw value.
fn resolve<'a>(json: &'a [u8], field: &str) -> Option<(Vec<Cow<'a, str>>, &'a [u8])> {
    let mut parts: Vec<Cow<'_, str>> = field.split('.').map(Cow::Borrowed).collect();
    let mut path: Vec<Cow<'a, str>> = Vec::new();
    let mut current: (usize, usize) = value_span(json, 0)?;
    let count = parts.len();
    for i in 0..count {
        let part = std::mem::take(&mut parts[i]);
        match find_key(json, current.0, &part) {
            Some((key, span)) => {
                path.push(key);
                current = span;
            }
            None if i + 1 < count => {
                parts[i + 1] = Cow::Owned(format!("{part}.{}", parts[i + 1]));
            }
            None => return None,
        }
    }
    Some((path, &json[current.0..current.1]))
}

/// In the object starting at `start` (if it is one), the entry whose key equals `wanted`.
fn find_key<'a>(
    json: &'a [u8],
    start: usize,
    wanted: &str,
) -> Option<(Cow<'a, str>, (usize, usize))> {
    if json_kind(json, start)? != b'{' {
        return None;
    }
    let mut pos = skip_ws(json, start + 1);
    if json.get(pos) == Some(&b'}') {
        return None;
    }
    loop {
        let key_end = skip_string(json, pos)?;
        let key = decode_key(&json[pos..key_end])?;
        pos = skip_ws(json, key_end);
        if json.get(pos) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(json, pos + 1);
        let value_end = skip_value(json, value_start)?;
        if key == wanted {
            return Some((key, (value_start, value_end)));
        }
        pos = skip_ws(json, value_end);
        match json.get(pos) {
            Some(b',') => pos = skip_ws(json, pos + 1),
            _ => return None,
        }
    }
}

fn decode_key(raw: &[u8]) -> Option<Cow<'_, str>> {
    let inner = raw.get(1..raw.len().checked_sub(1)?)?;
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(raw).ok().map(Cow::Owned)
    } else {
        std::str::from_utf8(inner).ok().map(Cow::Borrowed)
    }
}

fn value_span(json: &[u8], start: usize) -> Option<(usize, usize)> {
    let start = skip_ws(json, start);
    Some((start, skip_value(json, start)?))
}

fn json_kind(json: &[u8], start: usize) -> Option<u8> {
    json.get(skip_ws(json, start)).copied()
}

fn skip_ws(json: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(pos) {
        pos += 1;
    }
    pos
}

/// The end (exclusive) of the string starting at `pos` (which must be a quote).
fn skip_string(json: &[u8], pos: usize) -> Option<usize> {
    if json.get(pos) != Some(&b'"') {
        return None;
    }
    let mut i = pos + 1;
    while i < json.len() {
        match json[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// The end (exclusive) of the value starting at `pos`.
fn skip_value(json: &[u8], pos: usize) -> Option<usize> {
    match json.get(pos)? {
        b'"' => skip_string(json, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            while i < json.len() {
                match json[i] {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = pos;
            while i < json.len()
                && !matches!(json[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                i += 1;
            }
            (i > pos).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn project(fields: &str, entity: &Value) -> Value {
        let set = FieldSet::parse(&[fields]).unwrap().unwrap();
        let text = serde_json::to_vec(entity).unwrap();
        serde_json::from_slice(&set.project(&text)).unwrap()
    }

    fn entity() -> Value {
        json!({
            "apiVersion": "av",
            "kind": "k",
            "metadata": {
                "name": "n",
                "tags": ["t1", "t2"],
                "annotations": {
                    "example.test/url-like-key": "ul1",
                    "example.com/other-url-like-key": "ul2",
                    "we\"ird": "q",
                },
            },
            "spec": {
                "type": "t",
                "strValue": "st1",
                "nullValue": null,
                "arrValue": [4, 5],
                "other-field-with.dot-also": {"subItem": "fd2.sub", "subite.with/dot": "fd2.sub.dot"},
            },
        })
    }

    #[test]
    fn parse_splits_trims_dedups_and_rejects_arrays() {
        assert_eq!(FieldSet::parse::<&str>(&[]).unwrap(), None);
        assert_eq!(FieldSet::parse(&["", " , "]).unwrap(), None);
        let set = FieldSet::parse(&["kind, metadata.name", "kind", "spec"])
            .unwrap()
            .unwrap();
        assert_eq!(set.fields(), ["kind", "metadata.name", "spec"]);
        assert_eq!(
            FieldSet::parse(&["kind,metadata.tags[0]"])
                .unwrap_err()
                .to_string(),
            "Invalid field \"metadata.tags[0]\", array type fields are not supported"
        );
    }

    #[test]
    fn selects_paths_and_subtrees() {
        let e = entity();
        assert_eq!(project("kind", &e), json!({"kind": "k"}));
        assert_eq!(
            project("kind,metadata.name", &e),
            json!({"kind": "k", "metadata": {"name": "n"}})
        );
        assert_eq!(project("metadata", &e), json!({"metadata": e["metadata"]}));
        assert_eq!(
            project("metadata.name,metadata", &e),
            json!({"metadata": e["metadata"]})
        );
        assert_eq!(
            project("metadata,metadata.name", &e),
            json!({"metadata": e["metadata"]})
        );
        assert_eq!(
            project("spec.nullValue", &e),
            json!({"spec": {"nullValue": null}})
        );
        assert_eq!(project("nothing,metadata.nothing", &e), json!({}));
        assert_eq!(project("metadata.we\"ird", &e), json!({}));
    }

    #[test]
    fn dotted_keys_merge_greedily() {
        let e = entity();
        assert_eq!(
            project(
                "kind,metadata.annotations.example.com/other-url-like-key",
                &e
            ),
            json!({"kind": "k", "metadata": {"annotations": {"example.com/other-url-like-key": "ul2"}}})
        );
        assert_eq!(
            project("spec.other-field-with.dot-also.subite.with/dot", &e),
            json!({"spec": {"other-field-with.dot-also": {"subite.with/dot": "fd2.sub.dot"}}})
        );
        assert_eq!(
            project("metadata.annotations.we\"ird", &e),
            json!({"metadata": {"annotations": {"we\"ird": "q"}}})
        );
    }

    #[test]
    fn no_sub_keys_of_scalars_or_arrays() {
        let e = entity();
        for f in [
            "spec.strValue.other",
            "spec.nullValue.other",
            "spec.arrValue.other",
            "metadata.tags.0",
        ] {
            assert_eq!(
                project(&format!("kind,{f}"), &e),
                json!({"kind": "k"}),
                "{f}"
            );
        }
    }

    #[test]
    fn whitespace_and_non_objects() {
        let set = FieldSet::parse(&["a.b"]).unwrap().unwrap();
        assert_eq!(
            set.project(b" { \"a\" : { \"b\" : [1, {\"c\": \"]\"}] } } "),
            br#"{"a":{"b":[1, {"c": "]"}]}}"#.to_vec()
        );
        assert_eq!(set.project(b"[1]"), b"{}".to_vec());
        assert_eq!(set.project(b"{\"a\": {\"b\""), b"{}".to_vec());
    }
}
