//! Backstage's `KubernetesValidatorFunctions`, plus the catalog's tag rule.

use serde_json::Value;

use super::common::{
    ALNUM, DNS, LOWER_ALNUM, NAME, all_in, dns_label, dns_subdomain, is, prefix_and_or_suffix,
    tag_like,
};

/// `apiVersion`: `[<dns-subdomain>/]<version>` where the version is 1 to 63 ASCII letters and
/// digits (`backstage.io/v1alpha1`, `v1`).
pub fn is_valid_api_version(value: &Value) -> bool {
    value.as_str().is_some_and(api_version)
}

pub(crate) fn api_version(s: &str) -> bool {
    prefix_and_or_suffix(s, '/', dns_subdomain, |v| {
        (1..=63).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_alphanumeric())
    })
}

/// `kind`: a letter followed by letters and digits, 1 to 63 characters.
pub fn is_valid_kind(value: &Value) -> bool {
    value.as_str().is_some_and(kind)
}

pub(crate) fn kind(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric())
}

/// An object (entity) name: 1 to 63 characters of `[A-Za-z0-9-_.]`, starting and ending with
/// a letter or digit. Runs of separators (`a--b`, `a._b`) are allowed.
pub fn is_valid_object_name(value: &Value) -> bool {
    value.as_str().is_some_and(object_name)
}

pub(crate) fn object_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            b.len() <= 63 && is(first, ALNUM) && is(last, ALNUM) && all_in(b, NAME)
        }
        _ => false,
    }
}

/// A namespace: a DNS label (lower-case only).
pub fn is_valid_namespace(value: &Value) -> bool {
    value.as_str().is_some_and(dns_label)
}

/// A label key: `[<dns-subdomain>/]<object-name>`.
pub fn is_valid_label_key(value: &Value) -> bool {
    value.as_str().is_some_and(label_key)
}

pub(crate) fn label_key(s: &str) -> bool {
    let b = s.as_bytes();
    // One pass over the prefix: DNS labels separated by single dots, up to the first `/`.
    let mut label_start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' {
            let prefix_ok = (1..=253).contains(&i) && dns_label_end(b, label_start, i);
            return prefix_ok && object_name_bytes(&b[i + 1..]);
        }
        if c == b'.' {
            if !dns_label_end(b, label_start, i) {
                // Not a DNS prefix; without a `/` it may still be a valid name (`a.b`).
                return !b[i..].contains(&b'/') && object_name_bytes(b);
            }
            label_start = i + 1;
        } else if !is(c, NAME) {
            return false;
        }
        i += 1;
    }
    object_name_bytes(b)
}

/// Whether `b[start..end]` is a DNS label (1..=63 of `[a-z0-9-]`, alphanumeric at both ends).
#[inline]
fn dns_label_end(b: &[u8], start: usize, end: usize) -> bool {
    let label = &b[start..end];
    match (label.first(), label.last()) {
        (Some(&first), Some(&last)) => {
            label.len() <= 63
                && is(first, LOWER_ALNUM)
                && is(last, LOWER_ALNUM)
                && all_in(label, DNS)
        }
        _ => false,
    }
}

#[inline]
fn object_name_bytes(b: &[u8]) -> bool {
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            b.len() <= 63 && is(first, ALNUM) && is(last, ALNUM) && all_in(b, NAME)
        }
        _ => false,
    }
}

/// A label value: empty, or an object name.
pub fn is_valid_label_value(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.is_empty() || object_name(s))
}

/// An annotation key: same rule as a label key.
pub fn is_valid_annotation_key(value: &Value) -> bool {
    is_valid_label_key(value)
}

/// An annotation value: any string, including empty.
pub fn is_valid_annotation_value(value: &Value) -> bool {
    value.is_string()
}

/// The catalog's tag rule (`makeValidator`'s `isValidTag`): 1 to 63 characters of
/// `[a-z0-9:+#]` separated by single `-`.
pub fn is_valid_catalog_tag(value: &Value) -> bool {
    value.as_str().is_some_and(|s| tag_like(s, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(f: fn(&Value) -> bool, ok: &[&str], bad: &[&str]) {
        for v in ok {
            assert!(f(&Value::from(*v)), "should accept {v:?}");
        }
        for v in bad {
            assert!(!f(&Value::from(*v)), "should reject {v:?}");
        }
        assert!(!f(&json!(5)));
        assert!(!f(&json!(null)));
    }

    #[test]
    fn api_versions() {
        check(
            is_valid_api_version,
            &[
                "backstage.io/v1alpha1",
                "v1",
                "my-company.net/v1",
                "a.b.c/V1",
            ],
            &[
                "1.0",
                "Backstage.io/v1",
                "a/b/c",
                "/v1",
                "backstage.io/",
                "backstage.io/v1-alpha",
                "x_y/v1",
                "",
            ],
        );
    }

    #[test]
    fn kinds() {
        let long = "a".repeat(64);
        check(
            is_valid_kind,
            &["Component", "component", "API", "a1"],
            &["1a", "my-kind", "a_b", &long, ""],
        );
    }

    #[test]
    fn object_names() {
        let long = "a".repeat(64);
        check(
            is_valid_object_name,
            &[
                "a",
                "A",
                "1",
                "a--b",
                "a..b",
                "a-_.b",
                "CircleciBuildsDumpV2_avro_gcs",
                &"a".repeat(63),
            ],
            &["-a", "a-", "_a", "a_", "a b", "ä", "a/b", "a:b", "", &long],
        );
    }

    #[test]
    fn namespaces() {
        check(
            is_valid_namespace,
            &["default", "a-b", "a--b", "1"],
            &["Default", "a_b", "a.b", "-a", ""],
        );
    }

    #[test]
    fn label_and_annotation_keys() {
        let ok = [
            "foo",
            "backstage.io/foo",
            "example.com/Foo_Bar",
            "backstage.io/managed-by-location",
            "x.io/UPPER",
        ];
        let bad = [
            "Backstage.io/foo",
            "a/b/c",
            "/foo",
            "foo/",
            "",
            "UPPER.io/x",
        ];
        check(is_valid_label_key, &ok, &bad);
        check(is_valid_annotation_key, &ok, &bad);
    }

    #[test]
    fn label_values() {
        let long = "a".repeat(64);
        check(
            is_valid_label_value,
            &["", "V_a.l-ue"],
            &["-x", "a b", "a/b", &long],
        );
    }

    #[test]
    fn annotation_values_are_any_string() {
        assert!(is_valid_annotation_value(&json!("")));
        assert!(is_valid_annotation_value(&json!("any thing / at all")));
        assert!(!is_valid_annotation_value(&json!(1)));
        assert!(!is_valid_annotation_value(&json!(true)));
        assert!(!is_valid_annotation_value(&json!(null)));
    }

    #[test]
    fn catalog_tags_allow_colons() {
        let long = "a".repeat(64);
        check(
            is_valid_catalog_tag,
            &["java", "c++", "c#", "lang:java", "go:1-x", ":", "+", "#-#"],
            &["Java", "a--b", "-a", "a-", "a_b", "a.b", "", &long],
        );
    }
}
