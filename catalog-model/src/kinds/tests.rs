use serde_json::{Value, json};

use super::*;

fn entity(kind: &str, spec: Value) -> Value {
    json!({"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec})
}

fn component() -> Value {
    entity(
        "Component",
        json!({"type": "service", "lifecycle": "production", "owner": "me"}),
    )
}

#[test]
fn spec_5_3_tri_state_table() {
    let v = component_validator();
    let mut e = component();
    assert!(v.check(&e).unwrap());
    e["kind"] = json!("API");
    assert!(!v.check(&e).unwrap(), "other kind");
    e["spec"] = json!({});
    assert!(!v.check(&e).unwrap(), "other kind, invalid spec");
    e["kind"] = json!("component");
    assert!(!v.check(&e).unwrap(), "wrong case");
    let mut e = component();
    e["apiVersion"] = json!("backstage.io/v1");
    assert!(!v.check(&e).unwrap());
    let mut e = component();
    e["apiVersion"] = json!("x/v1");
    e["spec"] = json!({});
    assert!(!v.check(&e).unwrap());
    let mut e = component();
    e["kind"] = json!("API");
    e["metadata"] = json!({});
    assert!(!v.check(&e).unwrap());
    let mut e = component();
    e["kind"] = json!("");
    assert!(
        v.check(&e).is_err(),
        "minLength on /kind is not an enum error"
    );
    let mut e = component();
    e.as_object_mut().unwrap().remove("kind");
    assert!(v.check(&e).is_err());
    let mut e = component();
    e["apiVersion"] = json!(5);
    assert!(v.check(&e).is_err());
}

#[test]
fn kind_errors_use_ajv_text() {
    let e = component_validator()
        .check(&entity(
            "Component",
            json!({"type": "service", "lifecycle": "production"}),
        ))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "/spec must have required property 'owner' - missingProperty: owner"
    );
    assert_eq!(e.path(), Some("/spec"));
    let e = location_validator()
        .check(&entity("Location", json!({"presence": "maybe"})))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "/spec/presence must be equal to one of the allowed values - allowedValues: required,optional"
    );
    let e = component_validator()
        .check(&entity(
            "Component",
            json!({"type": "service", "lifecycle": "production", "owner": ""}),
        ))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "/spec/owner must NOT have fewer than 1 characters - limit: 1"
    );
}

#[test]
fn every_stable_kind_accepts_a_minimal_valid_entity_in_both_versions() {
    let cases = [
        (
            "API",
            api_validator(),
            json!({"type": "openapi", "lifecycle": "l", "owner": "o", "definition": "d"}),
        ),
        (
            "Component",
            component_validator(),
            json!({"type": "t", "lifecycle": "l", "owner": "o"}),
        ),
        (
            "Resource",
            resource_validator(),
            json!({"type": "t", "owner": "o"}),
        ),
        ("System", system_validator(), json!({"owner": "o"})),
        ("Domain", domain_validator(), json!({"owner": "o"})),
        (
            "Group",
            group_validator(),
            json!({"type": "team", "children": []}),
        ),
        ("User", user_validator(), json!({"memberOf": []})),
        ("Location", location_validator(), json!({})),
    ];
    for (kind, validator, spec) in cases {
        for version in ["backstage.io/v1alpha1", "backstage.io/v1beta1"] {
            let mut e = entity(kind, spec.clone());
            e["apiVersion"] = json!(version);
            assert!(validator.check(&e).unwrap(), "{kind} {version}");
        }
        let mut missing_spec = entity(kind, json!({}));
        missing_spec.as_object_mut().unwrap().remove("spec");
        assert!(
            validator.check(&missing_spec).is_err(),
            "{kind} requires spec"
        );
    }
}

#[test]
fn required_arrays_and_untyped_dependency_of() {
    assert!(
        group_validator()
            .check(&entity("Group", json!({"type": "team"})))
            .is_err()
    );
    assert!(user_validator().check(&entity("User", json!({}))).is_err());
    let e = entity(
        "Component",
        json!({"type": "t", "lifecycle": "l", "owner": "o", "dependencyOf": 5, "x": {}}),
    );
    assert!(
        component_validator().check(&e).unwrap(),
        "dependencyOf and unknown keys are not validated"
    );
}

#[test]
fn mcp_server_apis_need_the_alpha_validator() {
    let e = entity(
        "API",
        json!({"type": "mcp-server", "lifecycle": "l", "owner": "o", "remotes": [{"type": "sse", "url": "u"}]}),
    );
    let err = api_validator().check(&e).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/spec must have required property 'definition' - missingProperty: definition"
    );
    assert!(mcp_server_api_validator().check(&e).unwrap());
    let mut empty = e.clone();
    empty["spec"]["remotes"] = json!([]);
    assert_eq!(
        mcp_server_api_validator()
            .check(&empty)
            .unwrap_err()
            .to_string(),
        "/spec/remotes must NOT have fewer than 1 items - limit: 1"
    );
    assert!(is_mcp_server_api_entity(&e));
}

#[test]
fn ai_resource_variants() {
    let base =
        json!({"type": "skill", "lifecycle": "l", "owner": "o", "compatibility": "x".repeat(501)});
    let e = entity("AiResource", base);
    assert_eq!(
        skill_ai_resource_validator()
            .check(&e)
            .unwrap_err()
            .to_string(),
        "/spec/compatibility must NOT have more than 500 characters - limit: 500"
    );
    let rule = entity(
        "AiResource",
        json!({"type": "rule", "lifecycle": "l", "owner": "o", "category": "c", "rationale": "r"}),
    );
    assert!(rule_ai_resource_validator().check(&rule).unwrap());
    assert!(
        skill_ai_resource_validator().check(&rule).is_err(),
        "spec.type enum failure throws"
    );
    assert!(ai_resource_validator().check(&rule).unwrap());
    let mut beta = rule.clone();
    beta["apiVersion"] = json!("backstage.io/v1beta1");
    assert!(
        !ai_resource_validator().check(&beta).unwrap(),
        "v1alpha1 only"
    );
    assert!(is_rule_ai_resource_entity(&rule) && !is_rule_ai_resource_entity(&beta));
    let plugin = entity(
        "AiResource",
        json!({"type": "plugin", "lifecycle": "l", "owner": "o", "skills": []}),
    );
    assert!(plugin_ai_resource_validator().check(&plugin).unwrap());
    let market = entity(
        "AiResource",
        json!({"type": "marketplace", "lifecycle": "l", "owner": "o"}),
    );
    assert!(marketplace_ai_resource_validator().check(&market).is_err());
}

#[test]
fn type_guards_upper_case_the_kind() {
    assert!(is_component_entity(&json!({"kind": "component"})));
    assert!(is_system_entity(&json!({"kind": "ſystem"})));
    assert!(is_api_entity(&json!({"kind": "Api"})));
    assert!(!is_user_entity(&json!({"kind": "Users"})));
    assert!(!is_group_entity(&json!({"kind": 1})));
    assert!(
        is_domain_entity(&json!({"kind": "DOMAIN"}))
            && is_location_entity(&json!({"kind": "location"}))
    );
    assert!(is_resource_entity(&json!({"kind": "Resource"})));
}

#[test]
fn custom_kind_from_schema() {
    let template = SchemaKindValidator::from_schema(json!({
        "$id": "TemplateV1beta3",
        "allOf": [
            {"$ref": "Entity"},
            {"type": "object", "required": ["spec"], "properties": {
                "apiVersion": {"enum": ["scaffolder.backstage.io/v1beta3"]},
                "kind": {"enum": ["Template"]},
                "spec": {"type": "object", "required": ["type", "steps"], "properties": {
                    "type": {"type": "string", "minLength": 1},
                    "steps": {"type": "array", "items": {"type": "object", "required": ["action"]}}
                }}
            }}
        ]
    }))
    .unwrap();
    let t = json!({"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
        "metadata": {"name": "t"}, "spec": {"type": "service", "steps": [{"action": "fetch:plain"}]}});
    assert!(template.check(&t).unwrap());
    assert!(!template.check(&component()).unwrap());
    let mut bad = t.clone();
    bad["spec"]["steps"] = json!([{}]);
    assert_eq!(
        template.check(&bad).unwrap_err().to_string(),
        "/spec/steps/0 must have required property 'action' - missingProperty: action"
    );
}

#[test]
fn typed_views_round_trip() {
    let c = ComponentEntity::from_value(component()).unwrap();
    assert_eq!(c.spec.component_type, "service");
    assert_eq!(c.to_value(), component());
    let loc = LocationEntity::from_value(entity(
        "Location",
        json!({"target": "./a.yaml", "targets": ["./b.yaml"], "presence": "optional"}),
    ))
    .unwrap();
    assert_eq!(
        loc.spec.all_targets().collect::<Vec<_>>(),
        ["./a.yaml", "./b.yaml"]
    );
    assert_eq!(loc.spec.presence, Some(LocationPresence::Optional));
    let skill: KindEntity<SkillAiResourceSpec> = KindEntity::from_value(entity(
        "AiResource",
        json!({"type": "skill", "lifecycle": "l", "owner": "o", "agents": ["a"], "x": 1}),
    ))
    .unwrap();
    assert_eq!(skill.spec.base.owner, "o");
    assert_eq!(skill.spec.extra.get("x"), Some(&json!(1)));
    assert!(GroupEntity::from_value(entity("Group", json!({"type": "t"}))).is_err());
}
