//! Entity references: `[<kind>:][<namespace>/]<name>` strings and their compound form.
//!
//! Parsing keeps case and whitespace exactly as written; only the `Display` of [`CompoundEntityRef`]
//! (Backstage's `stringifyEntityRef`) lower-cases. Refs compare case-insensitively through their
//! canonical string.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::DEFAULT_NAMESPACE;
use crate::error::{Error, Result};

/// A fully qualified entity reference: `{ kind, namespace, name }`.
///
/// Its `Display` is the canonical string form (`component:default/my-service`), fully
/// lower-cased, as Backstage's `stringifyEntityRef` produces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CompoundEntityRef {
    /// The entity kind, e.g. `Component` (case as written).
    pub kind: String,
    /// The namespace, e.g. `default`.
    pub namespace: String,
    /// The entity name.
    pub name: String,
}

impl CompoundEntityRef {
    /// Builds a ref from its three parts (no validation, no case change).
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// True when both refs have the same canonical (lower-cased) string form.
    pub fn matches(&self, other: &CompoundEntityRef) -> bool {
        self.to_string() == other.to_string()
    }
}

impl fmt::Display for CompoundEntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&stringify_entity_ref(
            &self.kind,
            &self.namespace,
            &self.name,
        ))
    }
}

/// A parsed entity ref that borrows from the input and the context: no allocation.
/// Convert with [`EntityRefView::to_owned`] or print its canonical form with `Display`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityRefView<'a> {
    /// The entity kind (case as written).
    pub kind: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The entity name.
    pub name: &'a str,
}

impl EntityRefView<'_> {
    /// An owned [`CompoundEntityRef`].
    pub fn to_owned(&self) -> CompoundEntityRef {
        CompoundEntityRef::new(self.kind, self.namespace, self.name)
    }
}

impl fmt::Display for EntityRefView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&stringify_entity_ref(self.kind, self.namespace, self.name))
    }
}

/// Defaults applied to the parts a ref string leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefContext<'a> {
    /// Kind used when the ref has no `kind:` part. Without it such refs are errors.
    pub default_kind: Option<&'a str>,
    /// Namespace used when the ref has no `namespace/` part; `None` or an empty string
    /// means `default`.
    pub default_namespace: Option<&'a str>,
}

impl<'a> RefContext<'a> {
    /// A context with a default kind.
    pub fn with_kind(kind: &'a str) -> Self {
        Self {
            default_kind: Some(kind),
            default_namespace: None,
        }
    }

    /// Sets the default namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: &'a str) -> Self {
        self.default_namespace = Some(namespace);
        self
    }

    fn effective_namespace(&self) -> &'a str {
        match self.default_namespace {
            Some(ns) if !ns.is_empty() => ns,
            _ => DEFAULT_NAMESPACE,
        }
    }
}

fn not_on_the_form(input: &str) -> Error {
    Error::InvalidEntityRef {
        message: format!(
            "Entity reference \"{input}\" was not on the form [<kind>:][<namespace>/]<name>"
        ),
    }
}

fn missing_part(textual: &str, part: &str) -> Error {
    let message = if part == "kind" {
        format!(
            "Entity reference {textual} had missing or empty kind (e.g. did not start with \"component:\" or similar)"
        )
    } else {
        format!("Entity reference {textual} had missing or empty {part}")
    };
    Error::InvalidEntityRef { message }
}

fn empty_ref() -> Error {
    Error::InvalidEntityRef {
        message: "Entity reference must not be empty".to_owned(),
    }
}

/// The structural split of a ref string: `(kind, namespace, name)` where absent parts are `None`.
fn split_ref(input: &str) -> Result<(Option<&str>, Option<&str>, &str)> {
    // One pass: the first `/`, and the first `:` only if no `/` comes before it.
    let mut colon = None;
    let mut slash = None;
    for (i, &b) in input.as_bytes().iter().enumerate() {
        if b == b'/' {
            slash = Some(i);
            break;
        }
        if b == b':' && colon.is_none() {
            colon = Some(i);
        }
    }
    let kind = colon.map(|c| &input[..c]);
    let namespace = slash.map(|s| match colon {
        Some(c) => &input[c + 1..s],
        None => &input[..s],
    });
    let name_start = match (colon, slash) {
        (Some(c), Some(s)) => (c + 1).max(s + 1),
        (Some(c), None) => c + 1,
        (None, Some(s)) => s + 1,
        (None, None) => 0,
    };
    let name = &input[name_start..];
    if kind == Some("") || namespace == Some("") || name.is_empty() {
        return Err(not_on_the_form(input));
    }
    Ok((kind, namespace, name))
}

/// Parses a ref string (Backstage's `parseEntityRef` for string input).
///
/// Only the first `:` and the first `/` are structural; case and whitespace are kept.
///
/// ```
/// use backstage_catalog_model::{parse_entity_ref, RefContext};
/// let r = parse_entity_ref("team-a", &RefContext::with_kind("Group").namespace("ns1"))?;
/// assert_eq!(r.to_string(), "group:ns1/team-a");
/// let r = parse_entity_ref("Component:My-NS/My.Svc_1", &RefContext::default())?;
/// assert_eq!((r.kind.as_str(), r.namespace.as_str(), r.name.as_str()), ("Component", "My-NS", "My.Svc_1"));
/// # Ok::<(), backstage_catalog_model::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidEntityRef`] with Backstage's message when the string is empty, has an
/// empty part (`k:`, `:n`, `ns/`), or lacks a kind and the context has no default kind.
pub fn parse_entity_ref(input: &str, context: &RefContext<'_>) -> Result<CompoundEntityRef> {
    parse_entity_ref_view(input, context).map(|view| view.to_owned())
}

/// [`parse_entity_ref`] without allocating: the parts borrow from `input` and `context`.
///
/// ```
/// use backstage_catalog_model::{RefContext, entity_ref::parse_entity_ref_view};
/// let r = parse_entity_ref_view("api:ns1/petstore", &RefContext::default())?;
/// assert_eq!((r.kind, r.namespace, r.name), ("api", "ns1", "petstore"));
/// # Ok::<(), backstage_catalog_model::Error>(())
/// ```
///
/// # Errors
/// As [`parse_entity_ref`].
pub fn parse_entity_ref_view<'a>(
    input: &'a str,
    context: &RefContext<'a>,
) -> Result<EntityRefView<'a>> {
    if input.is_empty() {
        return Err(empty_ref());
    }
    let (kind, namespace, name) = split_ref(input)?;
    let kind = kind.or(context.default_kind).unwrap_or("");
    let namespace = namespace.unwrap_or_else(|| context.effective_namespace());
    if kind.is_empty() {
        return Err(missing_part(&json_text(&Value::from(input)), "kind"));
    }
    if namespace.is_empty() {
        return Err(missing_part(&json_text(&Value::from(input)), "namespace"));
    }
    Ok(EntityRefView {
        kind,
        namespace,
        name,
    })
}

/// Parses a ref given as arbitrary JSON: a string, or a compound object
/// `{kind?, namespace?, name}` (Backstage's `parseEntityRef` for untrusted input).
///
/// In the object form absent or `null` parts take the defaults, but empty strings do not.
///
/// # Errors
/// [`Error::InvalidEntityRef`] for falsy input (`""`, `null`, `false`, `0`), missing or empty
/// parts, and (unlike JavaScript, which passes them through) parts that are not strings.
pub fn parse_entity_ref_value(
    input: &Value,
    context: &RefContext<'_>,
) -> Result<CompoundEntityRef> {
    if is_falsy(input) {
        return Err(empty_ref());
    }
    if let Value::String(s) = input {
        return parse_entity_ref(s, context);
    }
    let textual = json_text(input);
    let field = |key: &str| -> Result<Option<&str>> {
        match input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) if is_falsy(v) => Ok(Some("")),
            Some(_) => Err(Error::InvalidEntityRef {
                message: format!("Entity reference {textual} has a {key} that is not a string"),
            }),
        }
    };
    let kind = field("kind")?.or(context.default_kind).unwrap_or("");
    let namespace = field("namespace")?.unwrap_or_else(|| context.effective_namespace());
    let name = field("name")?.unwrap_or("");
    if kind.is_empty() {
        return Err(missing_part(&textual, "kind"));
    }
    if namespace.is_empty() {
        return Err(missing_part(&textual, "namespace"));
    }
    if name.is_empty() {
        return Err(missing_part(&textual, "name"));
    }
    Ok(CompoundEntityRef::new(kind, namespace, name))
}

/// The canonical string form `kind:namespace/name`, fully lower-cased with Unicode rules
/// (Backstage's `stringifyEntityRef`). No validation: an empty namespace gives `k:/n`.
///
/// ```
/// assert_eq!(backstage_catalog_model::stringify_entity_ref("Component", "NS", "My-Svc"), "component:ns/my-svc");
/// ```
pub fn stringify_entity_ref(kind: &str, namespace: &str, name: &str) -> String {
    let mut out = String::with_capacity(kind.len() + namespace.len() + name.len() + 2);
    push_lower(&mut out, kind);
    out.push(':');
    push_lower(&mut out, namespace);
    out.push('/');
    push_lower(&mut out, name);
    out
}

fn push_lower(out: &mut String, s: &str) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
    } else {
        // `str::to_lowercase` implements the same mapping as JavaScript, final sigma included.
        out.push_str(&s.to_lowercase());
    }
}

/// The canonical ref of an entity document, or of a compound ref given as JSON
/// (Backstage's `stringifyEntityRef` on untrusted input). An absent or `null` namespace means
/// `default`; an empty one is kept (`k:/n`).
///
/// # Errors
/// [`Error::InvalidEntityRef`] when `kind` or `name` is missing or not a string.
pub fn stringify_entity_ref_value(value: &Value) -> Result<String> {
    let (kind, namespace, name) = if value.get("metadata").is_some() {
        let meta = &value["metadata"];
        (value.get("kind"), meta.get("namespace"), meta.get("name"))
    } else {
        (value.get("kind"), value.get("namespace"), value.get("name"))
    };
    let text = |v: Option<&Value>, part: &str| -> Result<String> {
        match v {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(Error::InvalidEntityRef {
                message: format!("Entity reference {} has no {part}", json_text(value)),
            }),
        }
    };
    let namespace = match namespace {
        None | Some(Value::Null) => DEFAULT_NAMESPACE.to_owned(),
        other => text(other, "namespace")?,
    };
    Ok(stringify_entity_ref(
        &text(kind, "kind")?,
        &namespace,
        &text(name, "name")?,
    ))
}

/// The compound ref of an entity document without changing case (Backstage's
/// `getCompoundEntityRef`). The namespace is `default` when absent, `null` or empty.
///
/// # Errors
/// [`Error::InvalidEntityRef`] when `kind` or `metadata.name` is missing or not a string.
pub fn compound_entity_ref(entity: &Value) -> Result<CompoundEntityRef> {
    let kind = entity.get("kind").and_then(Value::as_str);
    let name = entity.pointer("/metadata/name").and_then(Value::as_str);
    let namespace = entity
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE);
    match (kind, name) {
        (Some(kind), Some(name)) => Ok(CompoundEntityRef::new(kind, namespace, name)),
        _ => Err(Error::InvalidEntityRef {
            message: "Entity has no kind or metadata.name".to_owned(),
        }),
    }
}

/// A best-effort canonical ref for messages about an entity that may be malformed.
pub(crate) fn display_ref(entity: &Value) -> String {
    stringify_entity_ref_value(entity).unwrap_or_else(|_| {
        let kind = entity
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("<unknown>");
        let name = entity
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unknown>");
        let ns = entity
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_NAMESPACE);
        stringify_entity_ref(kind, ns, name)
    })
}

/// JavaScript truthiness for JSON values.
pub(crate) fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// `JSON.stringify` of a value (compact, keys in insertion order).
pub(crate) fn json_text(v: &Value) -> String {
    crate::js::json_stringify(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx<'a>(kind: Option<&'a str>, ns: Option<&'a str>) -> RefContext<'a> {
        RefContext {
            default_kind: kind,
            default_namespace: ns,
        }
    }

    fn ok(input: &str, c: RefContext<'_>) -> (String, String, String) {
        let r = parse_entity_ref(input, &c).unwrap_or_else(|e| panic!("{input}: {e}"));
        (r.kind, r.namespace, r.name)
    }

    fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    fn err(input: &str, c: RefContext<'_>) -> String {
        match parse_entity_ref(input, &c) {
            Ok(r) => panic!("{input} parsed as {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    const FORM: &str = "was not on the form [<kind>:][<namespace>/]<name>";

    #[test]
    fn spec_7_5_string_examples() {
        let none = ctx(None, None);
        let group = ctx(Some("Group"), None);
        let x = ctx(Some("x"), None);
        assert_eq!(
            ok("component:default/my-svc", none),
            t("component", "default", "my-svc")
        );
        assert_eq!(
            ok("Component:My-NS/My.Svc_1", none),
            t("Component", "My-NS", "My.Svc_1")
        );
        assert_eq!(ok("my-svc", group), t("Group", "default", "my-svc"));
        assert_eq!(ok("ns1/my-svc", group), t("Group", "ns1", "my-svc"));
        let team = ctx(Some("Group"), Some("team-ns"));
        assert_eq!(ok("my-svc", team), t("Group", "team-ns", "my-svc"));
        assert_eq!(ok("user:jdoe", team), t("user", "team-ns", "jdoe"));
        assert_eq!(ok("user:other/jdoe", team), t("user", "other", "jdoe"));
        assert_eq!(ok("k:n", ctx(None, Some("ZZ"))), t("k", "ZZ", "n"));
        assert!(err("my-svc", none).contains("had missing or empty kind"));
        assert!(err("ns1/my-svc", none).contains("had missing or empty kind"));
        assert!(err("my-svc", ctx(Some(""), None)).contains("had missing or empty kind"));
        assert_eq!(
            ok("my-svc", ctx(Some("Group"), Some(""))),
            t("Group", "default", "my-svc")
        );
        assert_eq!(err("", none), "Entity reference must not be empty");
        for (input, c) in [
            ("k:", none),
            (":n", x),
            ("k:/n", none),
            ("/n", x),
            ("ns/", x),
            ("k:ns/", none),
            (":", x),
            ("/", x),
        ] {
            assert_eq!(
                err(input, c),
                format!("Entity reference \"{input}\" {FORM}")
            );
        }
        assert_eq!(ok("a:b:c", none), t("a", "default", "b:c"));
        assert_eq!(ok("k::n", none), t("k", "default", ":n"));
        assert_eq!(ok("k:a/b/c", none), t("k", "a", "b/c"));
        assert_eq!(ok("a/b/c", x), t("x", "a", "b/c"));
        assert_eq!(ok("ns/k:n", x), t("x", "ns", "k:n"));
        assert!(err("a/b:c", none).contains("had missing or empty kind"));
        assert_eq!(ok("k:ns//n", none), t("k", "ns", "/n"));
        assert_eq!(
            ok("url:https://x.com/a", none),
            t("url", "https:", "/x.com/a")
        );
        assert_eq!(ok("  k:ns/n  ", none), t("  k", "ns", "n  "));
        assert_eq!(
            ok("component:default/with spaces", none),
            t("component", "default", "with spaces")
        );
        assert_eq!(
            ok("Gröup:Naméspace/Nåme", none),
            t("Gröup", "Naméspace", "Nåme")
        );
        assert_eq!(ok("k:ns/n\nx", none), t("k", "ns", "n\nx"));
    }

    #[test]
    fn missing_kind_message_quotes_the_input_as_json() {
        assert_eq!(
            err("my-svc", ctx(None, None)),
            "Entity reference \"my-svc\" had missing or empty kind (e.g. did not start with \"component:\" or similar)"
        );
    }

    #[test]
    fn spec_7_5_compound_examples() {
        let v = |j: Value, c: RefContext<'_>| parse_entity_ref_value(&j, &c);
        let none = ctx(None, None);
        let r = v(json!({"kind": "Component", "name": "a"}), none).unwrap();
        assert_eq!(
            (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()),
            ("Component", "default", "a")
        );
        let r = v(json!({"name": "a"}), ctx(Some("Group"), None)).unwrap();
        assert_eq!(r.to_string(), "group:default/a");
        let r = v(json!({"kind": "K", "namespace": "NS", "name": "N"}), none).unwrap();
        assert_eq!(
            (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()),
            ("K", "NS", "N")
        );
        let r = v(
            json!({"kind": "k", "namespace": "a/b", "name": "c:d"}),
            none,
        )
        .unwrap();
        assert_eq!((r.namespace.as_str(), r.name.as_str()), ("a/b", "c:d"));
        let e = v(json!({"kind": "", "name": "a"}), ctx(Some("Group"), None)).unwrap_err();
        assert!(e.to_string().contains("had missing or empty kind"), "{e}");
        let e = v(json!({"kind": "k", "namespace": "", "name": "a"}), none).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"Entity reference {"kind":"k","namespace":"","name":"a"} had missing or empty namespace"#
        );
        let r = v(json!({"kind": "k", "namespace": null, "name": "a"}), none).unwrap();
        assert_eq!(r.namespace, "default");
        let e = v(json!({"kind": "k"}), none).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"Entity reference {"kind":"k"} had missing or empty name"#
        );
        let e = v(json!(5), ctx(Some("k"), None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Entity reference 5 had missing or empty name"
        );
        for falsy in [json!(null), json!(""), json!(false), json!(0)] {
            let e = v(falsy, none).unwrap_err();
            assert_eq!(e.to_string(), "Entity reference must not be empty");
        }
    }

    #[test]
    fn spec_7_6_stringify_examples() {
        let s = |j: Value| stringify_entity_ref_value(&j).unwrap();
        assert_eq!(
            s(json!({"kind": "Component", "name": "a"})),
            "component:default/a"
        );
        assert_eq!(
            s(json!({"kind": "Component", "namespace": "NS", "name": "My-Svc"})),
            "component:ns/my-svc"
        );
        assert_eq!(
            s(json!({"kind": "K", "namespace": null, "name": "n"})),
            "k:default/n"
        );
        assert_eq!(
            s(json!({"kind": "K", "namespace": "", "name": "n"})),
            "k:/n"
        );
        assert_eq!(s(json!({"kind": "k", "name": "a:b/c"})), "k:default/a:b/c");
        assert_eq!(
            s(json!({"kind": "Group", "metadata": {"name": "Team-A"}})),
            "group:default/team-a"
        );
        assert_eq!(
            s(json!({"kind": "Group", "metadata": {"name": "Team-A", "namespace": "Other"}})),
            "group:other/team-a"
        );
        assert_eq!(
            s(json!({"kind": "Group", "metadata": {"name": "Team-A", "namespace": ""}})),
            "group:/team-a"
        );
        assert_eq!(s(json!({"kind": "K", "name": "ΟΔΟΣ"})), "k:default/οδος");
        assert_eq!(s(json!({"kind": "İ", "name": "ẞ"})), "i\u{307}:default/ß");
        assert_eq!(s(json!({"kind": "K", "name": "ΣΑΣ.Σ"})), "k:default/σασ.ς");
        assert_eq!(s(json!({"kind": "K", "name": "\u{212A}"})), "k:default/k");
        assert!(stringify_entity_ref_value(&json!({"name": "x"})).is_err());
    }

    #[test]
    fn spec_7_6_compound_entity_ref_examples() {
        let c = |j: Value| compound_entity_ref(&j).unwrap();
        assert_eq!(
            c(json!({"kind": "Component", "metadata": {"name": "X", "namespace": "NS"}})),
            CompoundEntityRef::new("Component", "NS", "X")
        );
        assert_eq!(
            c(json!({"kind": "Component", "metadata": {"name": "X"}})),
            CompoundEntityRef::new("Component", "default", "X")
        );
        assert_eq!(
            c(json!({"kind": "Component", "metadata": {"name": "X", "namespace": ""}})),
            CompoundEntityRef::new("Component", "default", "X")
        );
    }

    #[test]
    fn round_trip_lower_cases() {
        let r = parse_entity_ref("Component:My-NS/My.Name_1", &RefContext::default()).unwrap();
        assert_eq!(r.to_string(), "component:my-ns/my.name_1");
        assert!(r.matches(&CompoundEntityRef::new("component", "my-ns", "MY.NAME_1")));
    }
}
