//! Location references (`<type>:<target>`) and source-location helpers.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::annotations::{ANNOTATION_LOCATION, ANNOTATION_SOURCE_LOCATION};
use crate::entity_ref::display_ref;
use crate::error::{Error, Result};
use crate::validation::common::js_trim;

/// A location: where entities are read from, e.g. `url:https://host/catalog-info.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocationRef {
    /// The location type, e.g. `url`, `file`.
    #[serde(rename = "type")]
    pub location_type: String,
    /// The target, e.g. a URL or path. May contain colons.
    pub target: String,
}

impl LocationRef {
    /// A location ref (no validation).
    pub fn new(location_type: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            location_type: location_type.into(),
            target: target.into(),
        }
    }
}

/// `type:target`, verbatim (use [`stringify_location_ref`] for the checked version).
impl fmt::Display for LocationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.location_type, self.target)
    }
}

fn err(message: String) -> Error {
    Error::InvalidLocationRef { message }
}

/// Parses `<type>:<target>`: only the first colon separates, both sides are trimmed.
///
/// ```
/// use backstage_catalog_model::location::parse_location_ref;
/// let l = parse_location_ref(" url : https://x ")?;
/// assert_eq!((l.location_type.as_str(), l.target.as_str()), ("url", "https://x"));
/// assert!(parse_location_ref("https://github.com/x").is_err());
/// # Ok::<(), backstage_catalog_model::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidLocationRef`] with Backstage's message when there is no colon or a side is
/// empty, when the type is `http`/`https` (a URL without `url:`), or when the target is a
/// `javascript:` URL.
pub fn parse_location_ref(input: &str) -> Result<LocationRef> {
    let form = || {
        err(format!(
            "Unable to parse location ref '{input}', expected '<type>:<target>', e.g. 'url:https://host/path'"
        ))
    };
    let (location_type, target) = input.split_once(':').ok_or_else(form)?;
    let (location_type, target) = (js_trim(location_type), js_trim(target));
    if location_type.is_empty() || target.is_empty() {
        return Err(form());
    }
    if location_type == "http" || location_type == "https" {
        return Err(err(format!(
            "Invalid location ref '{input}', please prefix it with 'url:', e.g. 'url:{input}'"
        )));
    }
    if is_script_url(target) {
        return Err(err(format!(
            "Invalid location ref '{input}', target is a javascript: URL"
        )));
    }
    Ok(LocationRef::new(location_type, target))
}

/// [`parse_location_ref`] for untrusted JSON input.
///
/// # Errors
/// As [`parse_location_ref`]; non-strings give `unexpected argument <type>`.
pub fn parse_location_ref_value(input: &Value) -> Result<LocationRef> {
    match input {
        Value::String(s) => parse_location_ref(s),
        other => {
            let js_type = match other {
                Value::Null | Value::Array(_) | Value::Object(_) => "object",
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::String(_) => "string",
            };
            Err(err(format!(
                "Unable to parse location ref '{}', unexpected argument {js_type}",
                crate::schema_js_string(other)
            )))
        }
    }
}

/// `type:target`, verbatim (no trimming, no escaping).
///
/// # Errors
/// [`Error::InvalidLocationRef`] for an empty type or target, or a `javascript:` target.
pub fn stringify_location_ref(location: &LocationRef) -> Result<String> {
    if location.location_type.is_empty() {
        return Err(err("Unable to stringify location ref, empty type".into()));
    }
    if location.target.is_empty() {
        return Err(err("Unable to stringify location ref, empty target".into()));
    }
    if is_script_url(&location.target) {
        return Err(err(format!(
            "Invalid location ref '{location}', target is a javascript: URL"
        )));
    }
    Ok(location.to_string())
}

/// Whether a string is a `javascript:` URL as browsers read it: leading C0 controls and
/// spaces, then `javascript` case-insensitively with tabs and line breaks allowed between
/// letters, then `:`.
pub fn is_script_url(s: &str) -> bool {
    let mut chars = s.chars().skip_while(|c| *c <= ' ').peekable();
    for expected in "javascript".chars() {
        match chars.next() {
            Some(c) if c.eq_ignore_ascii_case(&expected) => {}
            _ => return false,
        }
        while chars
            .peek()
            .is_some_and(|c| matches!(c, '\r' | '\n' | '\t'))
        {
            chars.next();
        }
    }
    chars.next() == Some(':')
}

/// The entity's source location: the `source-location` annotation if present (even empty),
/// else `managed-by-location`, parsed (Backstage's `getEntitySourceLocation`).
///
/// # Errors
/// [`Error::MissingLocation`] when the chosen annotation is absent or empty; the errors of
/// [`parse_location_ref`] otherwise.
pub fn entity_source_location(entity: &Value) -> Result<LocationRef> {
    let annotations = entity.pointer("/metadata/annotations");
    let get = |k: &str| annotations.and_then(|a| a.get(k)).filter(|v| !v.is_null());
    let chosen = get(ANNOTATION_SOURCE_LOCATION).or_else(|| get(ANNOTATION_LOCATION));
    match chosen {
        Some(Value::String(s)) if !s.is_empty() => parse_location_ref(s),
        Some(v) if !v.is_string() => parse_location_ref_value(v),
        _ => Err(Error::MissingLocation {
            entity_ref: display_ref(entity),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(input: &str) -> (String, String) {
        let l = parse_location_ref(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (l.location_type, l.target)
    }

    fn t(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn spec_11_1_accepted_examples() {
        assert_eq!(
            ok("url:https://github.com/a/b/blob/main/catalog-info.yaml"),
            t("url", "https://github.com/a/b/blob/main/catalog-info.yaml")
        );
        assert_eq!(ok("file:./rel.yaml"), t("file", "./rel.yaml"));
        assert_eq!(ok("bootstrap:bootstrap"), t("bootstrap", "bootstrap"));
        assert_eq!(ok(" url : https://x "), t("url", "https://x"));
        assert_eq!(ok("a:b:c"), t("a", "b:c"));
        assert_eq!(
            ok("github-org:https://github.com/org"),
            t("github-org", "https://github.com/org")
        );
        assert_eq!(ok("url:data:text/html,hi"), t("url", "data:text/html,hi"));
        assert_eq!(ok("url:java script:x"), t("url", "java script:x"));
        assert_eq!(ok("HTTP://x"), t("HTTP", "//x"));
    }

    #[test]
    fn spec_11_1_rejected_examples() {
        let e = parse_location_ref("https://github.com/x")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Invalid location ref 'https://github.com/x', please prefix it with 'url:', e.g. 'url:https://github.com/x'"
        );
        for input in ["url:", ":x", "x:  ", "nocolon", ""] {
            let e = parse_location_ref(input).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "Unable to parse location ref '{input}', expected '<type>:<target>', e.g. 'url:https://host/path'"
                )
            );
        }
        for input in [
            "url:javascript:alert(1)",
            "url: JavaScript:x",
            "url:\tjava\nscript:x",
            "url:\u{1}javascript:x",
        ] {
            let e = parse_location_ref(input).unwrap_err().to_string();
            assert!(e.ends_with("target is a javascript: URL"), "{input}: {e}");
        }
        let e = parse_location_ref_value(&json!(5)).unwrap_err().to_string();
        assert_eq!(
            e,
            "Unable to parse location ref '5', unexpected argument number"
        );
    }

    #[test]
    fn stringify_is_verbatim_and_checked() {
        assert_eq!(
            stringify_location_ref(&LocationRef::new("a:b", "c")).unwrap(),
            "a:b:c"
        );
        assert_eq!(
            stringify_location_ref(&LocationRef::new("", "c"))
                .unwrap_err()
                .to_string(),
            "Unable to stringify location ref, empty type"
        );
        assert_eq!(
            stringify_location_ref(&LocationRef::new("url", ""))
                .unwrap_err()
                .to_string(),
            "Unable to stringify location ref, empty target"
        );
        assert_eq!(
            stringify_location_ref(&LocationRef::new("url", " javascript:x"))
                .unwrap_err()
                .to_string(),
            "Invalid location ref 'url: javascript:x', target is a javascript: URL"
        );
    }

    #[test]
    fn script_url_pattern() {
        assert!(is_script_url("javascript:x"));
        assert!(is_script_url("\u{0}  JaVa\tScRi\r\npt:"));
        assert!(!is_script_url("java script:x"));
        assert!(!is_script_url("javascript"));
        assert!(!is_script_url("xjavascript:"));
    }

    #[test]
    fn source_location_prefers_source_annotation_even_when_empty() {
        let e = json!({"kind": "Component", "metadata": {"name": "x", "annotations": {
            "backstage.io/source-location": "url:https://a/", "backstage.io/managed-by-location": "file:/b"}}});
        assert_eq!(
            entity_source_location(&e).unwrap(),
            LocationRef::new("url", "https://a/")
        );
        let e = json!({"kind": "Component", "metadata": {"name": "x", "annotations": {
            "backstage.io/managed-by-location": "file:/b"}}});
        assert_eq!(
            entity_source_location(&e).unwrap(),
            LocationRef::new("file", "/b")
        );
        let e = json!({"kind": "Component", "metadata": {"name": "X", "annotations": {
            "backstage.io/source-location": "", "backstage.io/managed-by-location": "file:/b"}}});
        assert_eq!(
            entity_source_location(&e).unwrap_err().to_string(),
            "Entity 'component:default/x' is missing location"
        );
    }
}
