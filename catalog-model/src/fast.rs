//! A single-pass validity check equal to the catalog's default policy chain (schema-valid,
//! default namespace, no foreign root fields, field format with the default predicates).
//!
//! [`crate::EntityValidator::validate`] asks it first. It only answers "valid" when every
//! policy of the chain would pass; for anything else the chain runs step by step and produces
//! Backstage's exact first error. The differential test against `@backstage/catalog-model`
//! goes through this path, so any divergence shows up there.

use serde_json::{Map, Value};

use crate::js::get;
use crate::validation::common::{dns_label, js_trim, tag_like, valid_url};
use crate::validation::kubernetes::{api_version, kind, label_key, object_name};

fn non_empty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

fn optional(map: &Map<String, Value>, key: &str, check: impl Fn(&Value) -> bool) -> bool {
    match map.len() {
        0..=12 => map
            .iter()
            .find(|(k, _)| crate::js::key_eq(k, key))
            .map(|(_, v)| v),
        _ => map.get(key),
    }
    .is_none_or(check)
}

/// True when the default policy chain accepts `entity` (it then also satisfies the full
/// entity schema, so kind validators may skip re-checking it).
pub(crate) fn default_chain_accepts(entity: &Value) -> bool {
    let Value::Object(root) = entity else {
        return false;
    };
    // NoForeignRootFields (stricter than the schema's own additionalProperties).
    if !root
        .keys()
        .all(|k| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "spec"))
    {
        return false;
    }
    let (Some(Value::String(v)), Some(Value::String(k)), Some(Value::Object(meta))) = (
        get(entity, "apiVersion"),
        get(entity, "kind"),
        get(entity, "metadata"),
    ) else {
        return false;
    };
    if !api_version(v) || !kind(k) {
        return false;
    }
    if !optional(root, "spec", Value::is_object) {
        return false;
    }
    metadata_ok(meta)
}

fn metadata_ok(meta: &Map<String, Value>) -> bool {
    let mut has_name = false;
    for (key, value) in meta {
        let ok = match key.as_str() {
            "name" => {
                has_name = true;
                value.as_str().is_some_and(object_name)
            }
            // An absent namespace is defaulted; a present one must be a DNS label.
            "namespace" => value.as_str().is_some_and(dns_label),
            "uid" | "etag" | "title" => non_empty_str(value),
            "description" => value.is_string(),
            "labels" => value.as_object().is_some_and(|labels| {
                labels.iter().all(|(k, v)| {
                    label_key(k) && v.as_str().is_some_and(|s| s.is_empty() || object_name(s))
                })
            }),
            "annotations" => value
                .as_object()
                .is_some_and(|a| a.iter().all(|(k, v)| label_key(k) && v.is_string())),
            "tags" => value.as_array().is_some_and(|tags| {
                tags.iter()
                    .all(|t| t.as_str().is_some_and(|s| tag_like(s, true)))
            }),
            "links" => value
                .as_array()
                .is_some_and(|links| links.iter().all(link_ok)),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    has_name
}

fn link_ok(link: &Value) -> bool {
    let Value::Object(link) = link else {
        return false;
    };
    let trimmed_non_empty = |v: &Value| v.as_str().is_some_and(|s| !js_trim(s).is_empty());
    optional(link, "url", |v| v.as_str().is_some_and(valid_url))
        && link.keys().any(|k| k == "url")
        && optional(link, "title", trimmed_non_empty)
        && optional(link, "icon", trimmed_non_empty)
        && optional(link, "type", non_empty_str)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::default_chain_accepts;
    use crate::policy::{EntityPolicy, default_policies};
    use crate::validation::Validators;

    fn base() -> Value {
        json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {
                "name": "svc", "namespace": "ns", "title": "T", "description": "",
                "labels": {"a.io/b": "v", "x": ""}, "annotations": {"k": ""},
                "tags": ["java", "lang:go"],
                "links": [{"url": "https://x.io/a", "title": "X", "icon": "i", "type": "docs"}],
                "custom": [1, 2]
            },
            "spec": {"anything": true}
        })
    }

    #[test]
    fn agrees_with_the_policy_chain() {
        let chain = default_policies(Validators::default());
        let mutations: Vec<(&str, Value)> = vec![
            ("/metadata/name", json!("a b")),
            ("/metadata/name", json!("")),
            ("/metadata/namespace", json!("")),
            ("/metadata/namespace", json!(null)),
            ("/metadata/namespace", json!("Ns")),
            ("/metadata/title", json!("")),
            ("/metadata/uid", json!(1)),
            ("/metadata/description", json!(null)),
            ("/metadata/labels", json!({"a b": "v"})),
            ("/metadata/labels", json!({"a": "-v"})),
            ("/metadata/labels", json!({"a": 1})),
            ("/metadata/labels", json!(null)),
            ("/metadata/annotations", json!({"a": 1})),
            ("/metadata/annotations", json!({"A.io/b": "x"})),
            ("/metadata/tags", json!(["Java"])),
            ("/metadata/tags", json!([""])),
            ("/metadata/links", json!([{"title": "x"}])),
            ("/metadata/links", json!([{"url": "/rel"}])),
            (
                "/metadata/links",
                json!([{"url": "https://x", "title": " "}]),
            ),
            ("/metadata/links", json!([{"url": "https://x", "type": ""}])),
            ("/metadata/links", json!(["https://x"])),
            ("/spec", json!([])),
            ("/spec", json!(null)),
            ("/apiVersion", json!("1.0")),
            ("/kind", json!("my-kind")),
        ];
        let mut cases = vec![base()];
        for (pointer, value) in mutations {
            let mut e = base();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            e.pointer_mut(if parent.is_empty() { "" } else { parent })
                .unwrap()[key] = value;
            cases.push(e);
        }
        let mut no_ns = base();
        no_ns["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        cases.push(no_ns);
        let mut status = base();
        status["status"] = json!({});
        cases.push(status);
        let mut no_name = base();
        no_name["metadata"].as_object_mut().unwrap().remove("name");
        cases.push(no_name);
        cases.push(json!([]));
        for case in cases {
            let chain_ok = chain.enforce(case.clone()).is_ok();
            assert_eq!(default_chain_accepts(&case), chain_ok, "{case}");
        }
        assert!(
            default_chain_accepts(&base()),
            "the common case takes the fast path"
        );
    }
}
