//! Flattening a final entity into search rows (spec 2.1): what filters, facets and sort
//! keys see.
//!
//! The rows are those of Backstage's `buildEntitySearch`: every leaf of the entity under its
//! dotted path (array indices left out), a synthetic `<path>.<item> = true` row for every
//! string item of an array, the always-present `metadata.name` / `metadata.namespace` /
//! `metadata.uid` rows and one `relations.<type>` row per relation. Keys and values are
//! lower-cased; keys over 200 characters are dropped and values over 200 characters are
//! stored as null (the key still "exists"). Lengths are counted in UTF-16 code units, as
//! JavaScript does.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::error::{CatalogError, Result};

/// Longest key kept (UTF-16 code units); longer rows are dropped.
pub const MAX_KEY_LENGTH: usize = 200;
/// Longest value kept (UTF-16 code units); longer values are stored as null.
pub const MAX_VALUE_LENGTH: usize = 200;

/// Paths the generic walk skips (spec 2.1 rule 2).
const SPECIAL_KEYS: [&str; 7] = [
    "attachments",
    "relations",
    "status",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.etag",
];

/// One `(key, value, original_value)` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRow {
    /// Lower-cased dotted path.
    pub key: String,
    /// Lower-cased value; `None` for null or over-long values.
    pub value: Option<String>,
    /// The value with its original case; `None` when `value` is.
    pub original_value: Option<String>,
}

/// A raw `(path, value)` pair before lower-casing.
struct Raw<'a> {
    key: String,
    value: RawValue<'a>,
}

enum RawValue<'a> {
    Json(&'a Value),
    True,
    Text(&'a str),
    Null,
}

/// Flattens an entity (spec 2.1).
///
/// # Errors
/// [`crate::CatalogError::Input`] when two keys differ only by case
/// (`Entity has duplicate keys that vary only in casing, '<keys>'`).
pub fn flatten(entity: &Value) -> Result<Vec<SearchRow>> {
    let raw = raw_rows(entity);
    let lower_keys: Vec<Cow<'_, str>> = raw.iter().map(|r| lower(&r.key)).collect();
    check_case_duplicates(&raw, &lower_keys)?;
    Ok(convert(&raw, lower_keys))
}

/// The check [`flatten`] makes, without building the rows: what stitching needs to know
/// whether an entity can be indexed.
///
/// # Errors
/// As [`flatten`].
pub(crate) fn check_indexable(entity: &Value) -> Result<()> {
    let raw = raw_rows(entity);
    let lower_keys: Vec<Cow<'_, str>> = raw.iter().map(|r| lower(&r.key)).collect();
    check_case_duplicates(&raw, &lower_keys)
}

/// Every `(path, value)` pair of spec 2.1, before lower-casing.
fn raw_rows(entity: &Value) -> Vec<Raw<'_>> {
    let mut raw: Vec<Raw<'_>> = Vec::with_capacity(32);
    let mut seen_synthetic: HashSet<String> = HashSet::new();
    let mut path = String::with_capacity(64);
    visit(&mut path, entity, &mut raw, &mut seen_synthetic);

    let metadata = entity.get("metadata");
    let field = |name: &str| -> RawValue<'_> {
        match metadata.and_then(|m| m.get(name)) {
            Some(v) => RawValue::Json(v),
            None => RawValue::Null,
        }
    };
    raw.push(Raw {
        key: "metadata.name".into(),
        value: field("name"),
    });
    raw.push(Raw {
        key: "metadata.namespace".into(),
        value: field("namespace"),
    });
    raw.push(Raw {
        key: "metadata.uid".into(),
        value: field("uid"),
    });
    if !is_truthy(metadata.and_then(|m| m.get("namespace"))) {
        raw.push(Raw {
            key: "metadata.namespace".into(),
            value: RawValue::Text("default"),
        });
    }
    if let Some(Value::Array(relations)) = entity.get("relations") {
        for relation in relations {
            let kind = relation
                .get("type")
                .map_or_else(|| "undefined".to_owned(), js_string);
            raw.push(Raw {
                key: format!("relations.{kind}"),
                value: relation
                    .get("targetRef")
                    .map_or(RawValue::Null, RawValue::Json),
            });
        }
    }

    raw
}

/// The rows of `raw` (with its lower-cased keys): over-long keys dropped, values lower-cased,
/// duplicates of `(key, value)` removed.
fn convert(raw: &[Raw<'_>], lower_keys: Vec<Cow<'_, str>>) -> Vec<SearchRow> {
    // (key, value, original) of every kept row, then de-duplicated on (key, value).
    let mut converted: Vec<(String, Option<String>, Option<String>)> =
        Vec::with_capacity(raw.len());
    for (Raw { value, .. }, key) in raw.iter().zip(lower_keys) {
        if utf16_len_exceeds(&key, MAX_KEY_LENGTH) {
            continue;
        }
        let original = match value {
            RawValue::Null | RawValue::Json(Value::Null) => None,
            RawValue::True => Some("true".to_owned()),
            RawValue::Text(s) => Some((*s).to_owned()),
            RawValue::Json(v) => Some(js_string(v)),
        };
        let (value, original_value) = match original {
            Some(original) => {
                let lowered = lower(&original).into_owned();
                if utf16_len_exceeds(&lowered, MAX_VALUE_LENGTH) {
                    (None, None)
                } else {
                    (Some(lowered), Some(original))
                }
            }
            None => (None, None),
        };
        converted.push((key.into_owned(), value, original_value));
    }
    let keep: Vec<bool> = {
        let mut seen: HashSet<(&str, Option<&str>)> = HashSet::with_capacity(converted.len());
        converted
            .iter()
            .map(|(key, value, _)| seen.insert((key.as_str(), value.as_deref())))
            .collect()
    };
    converted
        .into_iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|((key, value, original_value), _)| SearchRow {
            key,
            value,
            original_value,
        })
        .collect()
}

/// Lower-cases like JavaScript's `toLocaleLowerCase('en-US')`, without allocating when
/// there is nothing to change.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn visit<'a>(
    path: &mut String,
    current: &'a Value,
    out: &mut Vec<Raw<'a>>,
    seen_synthetic: &mut HashSet<String>,
) {
    if SPECIAL_KEYS.contains(&path.as_str()) {
        return;
    }
    match current {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => out.push(Raw {
            key: path.clone(),
            value: RawValue::Json(current),
        }),
        Value::Array(items) => {
            for item in items {
                visit(path, item, out, seen_synthetic);
                if let Value::String(s) = item {
                    let key = format!("{path}.{s}");
                    if seen_synthetic.insert(lower(&key).into_owned()) {
                        out.push(Raw {
                            key,
                            value: RawValue::True,
                        });
                    }
                }
            }
        }
        Value::Object(map) => {
            for (key, value) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                visit(path, value, out, seen_synthetic);
                path.truncate(len);
            }
        }
    }
}

/// Backstage's check: the set of raw keys and the set of lower-cased keys must have the
/// same size; the message lists the lower-cased keys that occur in several spellings, in
/// the order their second spelling first appears.
fn check_case_duplicates(raw: &[Raw<'_>], lower_keys: &[Cow<'_, str>]) -> Result<()> {
    let mut first_spelling: HashMap<&str, &str> = HashMap::with_capacity(raw.len());
    let mut difference: Vec<&str> = Vec::new();
    for (r, lower) in raw.iter().zip(lower_keys) {
        match first_spelling.get(lower.as_ref()) {
            None => {
                first_spelling.insert(lower.as_ref(), r.key.as_str());
            }
            Some(first) if *first != r.key && !difference.contains(&lower.as_ref()) => {
                difference.push(lower.as_ref());
            }
            Some(_) => {}
        }
    }
    if difference.is_empty() {
        return Ok(());
    }
    Err(CatalogError::Input(format!(
        "Entity has duplicate keys that vary only in casing, '{}'",
        difference.join("', '")
    )))
}

fn is_truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// Whether `s` is longer than `max` UTF-16 code units.
fn utf16_len_exceeds(s: &str, max: usize) -> bool {
    // UTF-16 length <= UTF-8 length, so short strings need no counting.
    s.len() > max && s.encode_utf16().count() > max
}

/// JavaScript's `String(value)` for a JSON value.
pub(crate) fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                js_number(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_owned(),
    }
}

/// JavaScript's `Number.prototype.toString()` for a finite or non-finite double.
pub(crate) fn js_number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    // Shortest round-trip digits and exponent from Rust's formatter: "d.ddde±n".
    let formatted = format!("{:e}", x.abs());
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let n = exponent + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        let zeros = usize::try_from(n - k).unwrap_or(0);
        format!("{digits}{}", "0".repeat(zeros))
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        format!("{}.{}", &digits[..split], &digits[split..])
    } else if -6 < n && n <= 0 {
        let zeros = usize::try_from(-n).unwrap_or(0);
        format!("0.{}{digits}", "0".repeat(zeros))
    } else {
        let e = n - 1;
        let exp = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        if digits.len() == 1 {
            format!("{digits}e{exp}")
        } else {
            format!("{}.{}e{exp}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(entity: &Value) -> Vec<(String, Option<String>, Option<String>)> {
        flatten(entity)
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.value, r.original_value))
            .collect()
    }

    fn row(k: &str, v: &str, o: &str) -> (String, Option<String>, Option<String>) {
        (k.into(), Some(v.into()), Some(o.into()))
    }

    fn null_row(k: &str) -> (String, Option<String>, Option<String>) {
        (k.into(), None, None)
    }

    fn base(extra: Value) -> Value {
        let mut e = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": "Foo", "namespace": "default", "uid": "U1", "etag": "e"},
        });
        if let (Value::Object(target), Value::Object(src)) = (&mut e, extra) {
            for (k, v) in src {
                target.insert(k, v);
            }
        }
        e
    }

    #[test]
    fn walks_scalars_and_skips_special_paths() {
        let e = base(json!({
            "spec": {"type": "Service", "replicas": 3, "enabled": false, "nothing": null},
            "status": {"items": [{"level": "error"}]},
            "attachments": ["x"],
        }));
        assert_eq!(
            rows(&e),
            vec![
                row(
                    "apiversion",
                    "backstage.io/v1alpha1",
                    "backstage.io/v1alpha1"
                ),
                row("kind", "component", "Component"),
                row("spec.type", "service", "Service"),
                row("spec.replicas", "3", "3"),
                row("spec.enabled", "false", "false"),
                null_row("spec.nothing"),
                row("metadata.name", "foo", "Foo"),
                row("metadata.namespace", "default", "default"),
                row("metadata.uid", "u1", "U1"),
            ]
        );
    }

    #[test]
    fn arrays_produce_items_and_synthetic_keys() {
        let e = base(json!({"spec": {"tags": ["java", "Data", "JAVA", 4, {"a": "b"}]}}));
        let r = rows(&e);
        let spec: Vec<_> = r.into_iter().filter(|r| r.0.starts_with("spec")).collect();
        assert_eq!(
            spec,
            vec![
                row("spec.tags", "java", "java"),
                row("spec.tags.java", "true", "true"),
                row("spec.tags", "data", "Data"),
                row("spec.tags.data", "true", "true"),
                // "JAVA": same (key, value) as "java" → deduplicated; its synthetic key
                // was already seen case-insensitively.
                row("spec.tags", "4", "4"),
                row("spec.tags.a", "b", "b"),
            ]
        );
    }

    #[test]
    fn dotted_keys_are_concatenated() {
        let e = base(
            json!({"metadata": {"name": "n", "annotations": {"backstage.io/orphan": "true"}}}),
        );
        assert!(rows(&e).contains(&row(
            "metadata.annotations.backstage.io/orphan",
            "true",
            "true"
        )));
    }

    #[test]
    fn always_present_rows_and_default_namespace() {
        let e = json!({"kind": "User", "metadata": {"name": "a"}});
        let r = rows(&e);
        assert!(r.contains(&null_row("metadata.namespace")));
        assert!(r.contains(&row("metadata.namespace", "default", "default")));
        assert!(r.contains(&null_row("metadata.uid")));
        assert!(r.contains(&row("metadata.name", "a", "a")));
        // etag is never indexed.
        let e = base(json!({}));
        assert!(!rows(&e).iter().any(|r| r.0 == "metadata.etag"));
    }

    #[test]
    fn relations_become_typed_rows() {
        let e = base(json!({"relations": [
            {"type": "ownedBy", "targetRef": "group:default/Team-A"},
            {"type": "partOf", "targetRef": "system:default/s"},
        ]}));
        let r = rows(&e);
        assert!(r.contains(&row(
            "relations.ownedby",
            "group:default/team-a",
            "group:default/Team-A"
        )));
        assert!(r.contains(&row(
            "relations.partof",
            "system:default/s",
            "system:default/s"
        )));
        assert!(
            !r.iter()
                .any(|r| r.0 == "relations" || r.0.starts_with("relations.type"))
        );
    }

    #[test]
    fn keys_varying_only_in_case_are_rejected() {
        let e = base(json!({"spec": {"foo": 1, "Foo": 2, "bar": {"X": 1, "x": 2}}}));
        let err = flatten(&e).unwrap_err();
        assert!(matches!(err, CatalogError::Input(_)));
        assert_eq!(
            err.to_string(),
            "Entity has duplicate keys that vary only in casing, 'spec.foo', 'spec.bar.x'"
        );
    }

    #[test]
    fn long_keys_dropped_and_long_values_nulled() {
        let long_key = "k".repeat(200);
        let long_value = "v".repeat(201);
        let ok_value = "w".repeat(200);
        let e = base(json!({"s": {long_key.clone(): "x"}, "t": long_value, "u": ok_value}));
        let r = rows(&e);
        assert!(!r.iter().any(|r| r.0.starts_with("s.")));
        assert!(r.contains(&null_row("t")));
        assert!(r.contains(&row("u", &"w".repeat(200), &"w".repeat(200))));
        // 200 characters exactly is fine for keys too (UTF-16 units, not bytes).
        let key = "é".repeat(200);
        let e = base(json!({key.clone(): "x"}));
        assert!(rows(&e).contains(&row(&key, "x", "x")));
    }

    #[test]
    fn rows_are_deduplicated_on_key_and_value() {
        let e = base(json!({"spec": {"a": ["X", "x", null, null]}}));
        let spec: Vec<_> = rows(&e)
            .into_iter()
            .filter(|r| r.0.starts_with("spec"))
            .collect();
        assert_eq!(
            spec,
            vec![
                row("spec.a", "x", "X"),
                row("spec.a.x", "true", "true"),
                null_row("spec.a")
            ]
        );
    }

    #[test]
    fn numbers_are_stringified_like_javascript() {
        assert_eq!(js_number(1.0), "1");
        assert_eq!(js_number(1.5), "1.5");
        assert_eq!(js_number(-0.25), "-0.25");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(1.5e-7), "1.5e-7");
        assert_eq!(js_number(0.000001), "0.000001");
        assert_eq!(js_number(123456789012.0), "123456789012");
        let e = base(json!({"spec": {"f": 2.0, "g": 0.1}}));
        let r = rows(&e);
        assert!(r.contains(&row("spec.f", "2", "2")));
        assert!(r.contains(&row("spec.g", "0.1", "0.1")));
    }
}
