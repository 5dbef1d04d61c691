use serde_json::{Value, json};

use super::*;

fn component() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": "svc" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
    })
}

fn first(schema: &JsonSchema, v: &Value) -> String {
    schema
        .first_error(v)
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn builtin_schemas_compile_and_accept_a_valid_entity() {
    assert!(entity_schema().is_valid(&component()));
    assert!(envelope_schema().is_valid(&component()));
    assert!(validate_entity_schema(&component()).is_ok());
}

#[test]
fn spec_5_1_order_required_then_additional_then_properties() {
    let s = entity_schema();
    assert_eq!(first(s, &json!([])), "<root> must be object - type: object");
    assert_eq!(
        first(s, &json!({"kind": 1})),
        "<root> must have required property 'apiVersion' - missingProperty: apiVersion"
    );
    assert_eq!(
        first(
            s,
            &json!({"apiVersion": 1, "kind": "", "metadata": {"name": "x"}, "foo": 1})
        ),
        "<root> must NOT have additional properties - additionalProperty: foo"
    );
    assert_eq!(
        first(
            s,
            &json!({"apiVersion": "", "kind": "", "metadata": {"name": "x"}})
        ),
        "/apiVersion must NOT have fewer than 1 characters - limit: 1"
    );
    assert_eq!(
        first(
            s,
            &json!({"apiVersion": 5, "kind": "K", "metadata": {"name": "x"}})
        ),
        "/apiVersion must be string - type: string"
    );
}

#[test]
fn metadata_properties_are_checked_in_schema_order() {
    let s = entity_schema();
    let v =
        json!({"apiVersion": "a", "kind": "K", "metadata": {"tags": [""], "name": "", "uid": 1}});
    let all: Vec<String> = s.errors(&v).iter().map(ToString::to_string).collect();
    assert_eq!(
        all,
        [
            "/metadata/uid must be string - type: string",
            "/metadata/name must NOT have fewer than 1 characters - limit: 1",
            "/metadata/tags/0 must NOT have fewer than 1 characters - limit: 1",
        ]
    );
}

#[test]
fn label_values_must_be_strings_under_non_empty_single_line_keys() {
    let s = entity_schema();
    let v = json!({"apiVersion": "a", "kind": "K", "metadata": {"name": "x",
        "labels": {"a/b": 1, "": 2, "x\ny": 3}}});
    let paths: Vec<String> = s.errors(&v).iter().map(|e| e.path().to_owned()).collect();
    assert_eq!(paths, ["/metadata/labels/a~1b"]);
}

#[test]
fn relations_and_status_use_the_common_schema() {
    let s = entity_schema();
    let mut v = component();
    v["relations"] = json!([{"type": "owned-by", "targetRef": "x"}]);
    assert_eq!(
        first(s, &v),
        "/relations/0/type must match pattern \"^\\w+$\" - pattern: ^\\w+$"
    );
    v["relations"] = json!([{"type": "ownedBy", "targetRef": "x", "extra": 1}]);
    assert_eq!(
        first(s, &v),
        "/relations/0 must NOT have additional properties - additionalProperty: extra"
    );
    v["relations"] = json!([{"type": "ownedBy", "targetRef": "x"}]);
    v["status"] = json!({"items": [{"type": "t", "level": "fatal", "message": ""}]});
    assert_eq!(
        first(s, &v),
        "/status/items/0/level must be equal to one of the allowed values - allowedValues: info,warning,error"
    );
    v["status"] =
        json!({"items": [{"type": "t", "level": "error", "message": "m", "error": {"name": "E"}}]});
    assert_eq!(
        first(s, &v),
        "/status/items/0/error must have required property 'message' - missingProperty: message"
    );
}

#[test]
fn relation_type_pattern_is_ascii_only() {
    let mut v = component();
    v["relations"] = json!([{"type": "ownédBy", "targetRef": "x"}]);
    assert!(!entity_schema().is_valid(&v));
}

#[test]
fn errors_collects_everything_first_error_stops() {
    let v = json!({"apiVersion": 1, "kind": 2, "metadata": {}, "spec": []});
    let all = entity_schema().errors(&v);
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(entity_schema().first_error(&v), all.first().cloned());
}

#[test]
fn compile_rejects_unknown_keywords_and_bad_refs() {
    let e = JsonSchema::compile(json!({"type": "object", "propertyNames": {}})).unwrap_err();
    assert!(
        e.to_string()
            .contains("unsupported keyword \"propertyNames\""),
        "{e}"
    );
    let e = JsonSchema::compile(json!({"$ref": "Nope"})).unwrap_err();
    assert!(e.to_string().contains("cannot resolve $ref"), "{e}");
    let e = JsonSchema::compile(json!({"pattern": "(?<=x)"})).unwrap_err();
    assert!(
        e.to_string().contains("not a supported regular expression"),
        "{e}"
    );
}

#[test]
fn composites_follow_ajv() {
    let s =
        JsonSchema::compile(json!({"anyOf": [{"type": "string"}, {"type": "number"}]})).unwrap();
    assert!(s.is_valid(&json!(1)));
    assert_eq!(
        first(&s, &json!(true)),
        "<root> must be string - type: string"
    );
    assert_eq!(
        s.errors(&json!(true)).last().unwrap().to_string(),
        "<root> must match a schema in anyOf - "
    );
    let s =
        JsonSchema::compile(json!({"oneOf": [{"type": "integer"}, {"type": "number"}]})).unwrap();
    assert_eq!(
        first(&s, &json!(1)),
        "<root> must match exactly one schema in oneOf - passingSchemas: 0,1"
    );
    assert!(s.is_valid(&json!(1.5)));
    let s = JsonSchema::compile(json!({"not": {"const": "x"}, "enum": ["x", "y"]})).unwrap();
    assert_eq!(first(&s, &json!("x")), "<root> must NOT be valid - ");
    assert_eq!(
        first(&s, &json!("z")),
        "<root> must be equal to one of the allowed values - allowedValues: x,y"
    );
    let s = JsonSchema::compile(json!({"if": {"const": 1}, "then": {"const": 2}})).unwrap();
    assert_eq!(
        s.errors(&json!(1))
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "<root> must be equal to constant - allowedValue: 2",
            "<root> must match \"then\" schema - failingKeyword: then"
        ]
    );
}

#[test]
fn single_type_with_rules_reports_type_after_untyped_keywords() {
    let s = JsonSchema::compile(json!({"type": "string", "minLength": 1, "enum": ["a"]})).unwrap();
    let all: Vec<_> = s
        .errors(&json!(5))
        .iter()
        .map(|e| e.keyword().to_owned())
        .collect();
    assert_eq!(all, ["enum", "type"]);
    let s = JsonSchema::compile(json!({"type": "string", "enum": ["a"]})).unwrap();
    let all: Vec<_> = s
        .errors(&json!(5))
        .iter()
        .map(|e| e.keyword().to_owned())
        .collect();
    assert_eq!(all, ["type", "enum"]);
}

#[test]
fn lengths_count_code_points_and_numbers_compare_like_javascript() {
    let s = JsonSchema::compile(json!({"maxLength": 2, "minimum": 1})).unwrap();
    assert!(s.is_valid(&json!("ää")));
    assert!(!s.is_valid(&json!("äää")));
    assert_eq!(
        first(&s, &json!(0.5)),
        "<root> must be >= 1 - comparison: >=, limit: 1"
    );
    let s = JsonSchema::compile(json!({"const": 1})).unwrap();
    assert!(s.is_valid(&json!(1.0)));
    let s = JsonSchema::compile(json!({"type": "integer"})).unwrap();
    assert!(s.is_valid(&json!(2.0)));
    assert!(!s.is_valid(&json!(2.5)));
}

#[test]
fn js_regex_translation() {
    use super::compile::js_regex_to_rust;
    let re = regex::Regex::new(&js_regex_to_rust("^.+$")).unwrap();
    assert!(re.is_match("a b"));
    assert!(!re.is_match("a\rb"));
    assert!(!re.is_match("a\u{2028}b"));
    let re = regex::Regex::new(&js_regex_to_rust("^[\\w-]+$")).unwrap();
    assert!(re.is_match("a_b-c"));
    assert!(!re.is_match("é"));
}

#[test]
fn editor_schemas_are_self_contained_and_accept_valid_entities() {
    let schemas = editor_schemas();
    assert_eq!(schemas.len(), 15);
    for s in &schemas {
        let text = s.schema.to_string();
        for bare in [
            "\"$ref\":\"Entity\"",
            "\"$ref\":\"EntityMeta\"",
            "\"$ref\":\"common#",
            "\"$ref\":\"#relation",
        ] {
            assert!(!text.contains(bare), "{} still has {bare}", s.file_name);
        }
        // The bundle compiles without Backstage's registry and judges like the originals.
        let compiled = JsonSchema::compile(s.schema.clone()).unwrap();
        if s.file_name == "Component.schema.json" || s.file_name == "catalog-info.schema.json" {
            assert!(compiled.is_valid(&component()), "{}", s.file_name);
            let mut bad = component();
            bad["spec"]["owner"] = json!("");
            assert!(!compiled.is_valid(&bad), "{}", s.file_name);
        }
    }
    let all = schemas
        .iter()
        .find(|s| s.file_name == "catalog-info.schema.json")
        .unwrap();
    let compiled = JsonSchema::compile(all.schema.clone()).unwrap();
    let mcp = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "m"},
        "spec": {"type": "mcp-server", "lifecycle": "l", "owner": "o", "remotes": [{"type": "sse", "url": "u"}]}});
    assert!(compiled.is_valid(&mcp));
    let unknown =
        json!({"apiVersion": "x/v1", "kind": "Template", "metadata": {"name": "t"}, "spec": {}});
    assert!(
        compiled.is_valid(&unknown),
        "other kinds only get the envelope rules"
    );
}

#[test]
fn committed_editor_schemas_are_up_to_date() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let bless = std::env::var_os("BACKSTAGE_BLESS").is_some();
    for s in editor_schemas() {
        let path = dir.join(&s.file_name);
        let text = serde_json::to_string_pretty(&s.schema).unwrap() + "\n";
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is stale; regenerate with: BACKSTAGE_BLESS=1 cargo test -p backstage-catalog-model committed_editor_schemas",
            path.display()
        );
    }
}
