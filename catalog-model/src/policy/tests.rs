use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::validation::Validator;

fn component() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": "svc" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
    })
}

fn with_meta(key: &str, value: Value) -> Value {
    let mut e = component();
    e["metadata"][key] = value;
    e
}

fn field_format_error(e: Value) -> String {
    FieldFormatEntityPolicy::default()
        .enforce(e)
        .unwrap_err()
        .to_string()
}

const MORE: &str = " To learn more about catalog file format, visit: https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/adr002-default-catalog-file-format.md";

#[test]
fn schema_valid_reports_malformed_envelope() {
    let p = SchemaValidEntityPolicy::new();
    assert!(p.enforce(component()).unwrap().is_some());
    let e = p.enforce(with_meta("namespace", json!(""))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Malformed envelope, /metadata/namespace must NOT have fewer than 1 characters"
    );
    let e = p.enforce(json!("x")).unwrap_err();
    assert_eq!(e.to_string(), "Malformed envelope, <root> must be object");
}

#[test]
fn spec_6_2_field_format_messages() {
    assert_eq!(
        field_format_error(with_meta("name", json!("a b"))),
        format!(
            "\"metadata.name\" is not valid; expected a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total but found \"a b\".{MORE}"
        )
    );
    assert_eq!(
        field_format_error(with_meta("labels", json!({"a b": "x"}))),
        format!(
            "\"labels.a b\" is not valid; expected a valid prefix and/or suffix but found \"a b\".{MORE}"
        )
    );
    assert_eq!(
        field_format_error(with_meta("tags", json!(["Java"]))),
        format!(
            "\"tags.0\" is not valid; expected a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total but found \"Java\".{MORE}"
        )
    );
    assert_eq!(
        field_format_error(with_meta(
            "links",
            json!([{"url": "https://x", "title": " "}])
        )),
        format!(
            "\"links.0.title\" is not valid; expected a non empty string but found \" \".{MORE}"
        )
    );
    assert_eq!(
        field_format_error(with_meta("links", json!([{"title": "t"}]))),
        "links.0.url must have a value"
    );
    assert_eq!(
        field_format_error(with_meta("namespace", json!(null))),
        "metadata.namespace must have a value"
    );
    let mut e = component();
    e["kind"] = json!("my-kind");
    assert!(
        field_format_error(e)
            .contains("expected a string that is a sequence of [a-zA-Z][a-z0-9A-Z]")
    );
    let mut e = component();
    e["apiVersion"] = json!("1.0");
    assert!(
        field_format_error(e)
            .starts_with("\"apiVersion\" is not valid; expected a valid prefix and/or suffix")
    );
    assert!(
        field_format_error(with_meta("annotations", json!({"a": 1})))
            .contains("expected a string but found \"1\"")
    );
    assert!(
        field_format_error(with_meta("namespace", json!("Default")))
            .contains("[a-z0-9] separated by [-]")
    );
    assert!(
        field_format_error(with_meta("links", json!([{"url": "/rel"}]))).contains("a valid url")
    );
}

#[test]
fn field_format_order_and_all_problems() {
    let mut e = with_meta("labels", json!({"ok": "-bad", "Bad.io/x": "v"}));
    e["metadata"]["name"] = json!("-n");
    let problems = FieldFormatEntityPolicy::default().problems(&e);
    let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/metadata/name",
            "/metadata/labels/ok",
            "/metadata/labels/Bad.io~1x"
        ]
    );
    let first = FieldFormatEntityPolicy::default().enforce(e).unwrap_err();
    assert_eq!(first.path(), Some("/metadata/name"));
}

#[test]
fn field_format_rejects_wrong_container_types_instead_of_crashing() {
    let p = FieldFormatEntityPolicy::default();
    for (key, value) in [
        ("labels", json!(["a"])),
        ("annotations", json!("x")),
        ("tags", json!("java")),
        ("links", json!({})),
    ] {
        assert!(p.enforce(with_meta(key, value)).is_err(), "{key}");
    }
    assert!(p.enforce(json!(null)).is_err());
    assert!(p.enforce(json!({"apiVersion": "v1", "kind": "K"})).is_err());
}

#[test]
fn custom_validators_print_no_expectation() {
    let p = FieldFormatEntityPolicy::new(
        Validators::default().with_entity_name(Validator::custom(|v| v.as_str() == Some("ok"))),
    );
    assert_eq!(
        p.enforce(component()).unwrap_err().to_string(),
        format!("\"metadata.name\" is not valid;{MORE}")
    );
    assert!(p.enforce(with_meta("name", json!("ok"))).is_ok());
}

#[test]
fn default_namespace_only_fills_absent() {
    let p = DefaultNamespaceEntityPolicy::default();
    let out = p.enforce(component()).unwrap().unwrap();
    assert_eq!(out["metadata"]["namespace"], "default");
    let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["metadata", "apiVersion", "kind", "spec"]);
    let meta_keys: Vec<_> = out["metadata"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(meta_keys, ["namespace", "name"]);
    let kept = p
        .enforce(with_meta("namespace", json!("ns")))
        .unwrap()
        .unwrap();
    assert_eq!(kept, with_meta("namespace", json!("ns")));
    for explicit in [json!(""), json!(null)] {
        let out = p
            .enforce(with_meta("namespace", explicit.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(out["metadata"]["namespace"], explicit);
    }
    let custom = DefaultNamespaceEntityPolicy::new("team")
        .enforce(component())
        .unwrap()
        .unwrap();
    assert_eq!(custom["metadata"]["namespace"], "team");
}

#[test]
fn no_foreign_root_fields() {
    let p = NoForeignRootFieldsEntityPolicy::default();
    assert!(p.enforce(component()).is_ok());
    let mut e = component();
    e["status"] = json!({});
    e["relations"] = json!([]);
    assert_eq!(
        p.enforce(e.clone()).unwrap_err().to_string(),
        "Unknown field status"
    );
    assert_eq!(p.problems(&e).len(), 2);
    let wide = NoForeignRootFieldsEntityPolicy::new([
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "status",
        "relations",
    ]);
    assert!(wide.enforce(e).is_ok());
}

#[test]
fn group_default_parent() {
    let p = GroupDefaultParentEntityPolicy::new("Group:Default/Root").unwrap();
    assert_eq!(p.parent_ref(), "group:default/root");
    assert_eq!(
        GroupDefaultParentEntityPolicy::new("root")
            .unwrap()
            .parent_ref(),
        "group:default/root"
    );
    assert_eq!(
        GroupDefaultParentEntityPolicy::new("user:x")
            .unwrap_err()
            .to_string(),
        "group parent must be a group"
    );
    assert!(GroupDefaultParentEntityPolicy::new("group:").is_err());
    let group = |name: &str, spec: Value| json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": name}, "spec": spec});
    let out = p
        .enforce(group("team", json!({"type": "team", "children": []})))
        .unwrap()
        .unwrap();
    assert_eq!(out["spec"]["parent"], "group:default/root");
    let out = p
        .enforce(group("team", json!({"parent": "", "children": []})))
        .unwrap()
        .unwrap();
    assert_eq!(out["spec"]["parent"], "group:default/root");
    let out = p
        .enforce(group("team", json!({"parent": "other", "children": []})))
        .unwrap()
        .unwrap();
    assert_eq!(out["spec"]["parent"], "other");
    let out = p
        .enforce(group("ROOT", json!({"children": []})))
        .unwrap()
        .unwrap();
    assert!(
        out["spec"].get("parent").is_none(),
        "the root group gets no parent"
    );
    assert!(
        p.enforce(component())
            .unwrap()
            .unwrap()
            .get("spec")
            .unwrap()
            .get("parent")
            .is_none()
    );
    assert!(
        p.enforce(json!({"kind": "Group", "metadata": {"name": "g"}}))
            .is_err()
    );
}

#[derive(Debug)]
struct Nothing;
impl EntityPolicy for Nothing {
    fn enforce(&self, _entity: Value) -> crate::Result<Option<Value>> {
        Ok(None)
    }
}

#[derive(Debug)]
struct Fails;
impl EntityPolicy for Fails {
    fn enforce(&self, _entity: Value) -> crate::Result<Option<Value>> {
        Err(crate::Error::invalid_entity("nope", None))
    }
}

#[test]
fn all_of_and_one_of_composition() {
    let ns: Arc<dyn EntityPolicy> = Arc::new(DefaultNamespaceEntityPolicy::default());
    assert_eq!(
        AllOf::new(vec![]).enforce(component()).unwrap().unwrap(),
        component()
    );
    let e = AllOf::new(vec![ns.clone(), Arc::new(Nothing)])
        .enforce(component())
        .unwrap_err();
    assert_eq!(e.to_string(), "Policy Nothing did not return a result");
    let out = OneOf::new(vec![Arc::new(Nothing), ns.clone()])
        .enforce(component())
        .unwrap()
        .unwrap();
    assert_eq!(out["metadata"]["namespace"], "default");
    let e = OneOf::new(vec![Arc::new(Fails), ns])
        .enforce(component())
        .unwrap_err();
    assert_eq!(e.to_string(), "nope");
    let e = OneOf::new(vec![]).enforce(component()).unwrap_err();
    assert_eq!(e.to_string(), "The entity did not match any known policy");
}

#[test]
fn default_chain_normalises_and_rejects() {
    let chain = default_policies(Validators::default());
    let out = chain.enforce(component()).unwrap().unwrap();
    assert_eq!(out["metadata"]["namespace"], "default");
    let mut e = component();
    e["status"] = json!({});
    assert_eq!(
        chain.enforce(e).unwrap_err().to_string(),
        "Unknown field status"
    );
}
