//! Checks shared by the `yaml_entities` and `entity_json` targets: run every entity-level
//! entry point of `backstage-catalog-model` on one untrusted JSON value and assert the
//! invariants that must hold for any input.

#![allow(dead_code)]

use std::sync::OnceLock;

use backstage_catalog_model::kinds::{self, ComponentEntity, GroupEntity};
use backstage_catalog_model::location::entity_source_location;
use backstage_catalog_model::relations::{emit_relations, reverse_relation, sort_relation_fields};
use backstage_catalog_model::yaml::{Position, YamlDocument};
use backstage_catalog_model::{
    CompoundEntityRef, Entity, EntityValidator, compound_entity_ref, stringify_entity_ref_value,
};
use serde_json::Value;

/// Maximum number of nodes whose positions are looked up per document (keeps each run fast on
/// large inputs; the fuzzer prefers small inputs anyway).
const MAX_WALKED_NODES: usize = 512;

/// Extra pointers tried on every document, existing or not, well-formed or not.
const FIXED_POINTERS: &[&str] = &[
    "",
    "/",
    "//",
    "/kind",
    "/apiVersion",
    "/metadata",
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/annotations/backstage.io~1source-location",
    "/metadata/tags/0",
    "/metadata/links/0/url",
    "/spec",
    "/spec/owner",
    "/spec/providesApis/0",
    "/spec/providesApis/00",
    "/spec/providesApis/-",
    "/spec/providesApis/18446744073709551616",
    "/0",
    "/~",
    "/~2",
    "/~0~1",
    "/a~1b/c~0d",
    "metadata",
    "#/metadata",
];

pub fn validator() -> &'static EntityValidator {
    static V: OnceLock<EntityValidator> = OnceLock::new();
    V.get_or_init(EntityValidator::default)
}

pub fn check_position(p: Position, what: &str, pointer: &str) {
    assert!(
        p.line >= 1 && p.column >= 1,
        "{what} for pointer {pointer:?} is {p:?}; lines and columns are 1-based"
    );
}

fn check_position_within(p: Position, max_line: usize, what: &str, pointer: &str) {
    check_position(p, what, pointer);
    assert!(
        p.line <= max_line,
        "{what} for pointer {pointer:?} is {p:?}, beyond the last line ({max_line})"
    );
}

/// Escapes a key as an RFC 6901 reference token.
fn escape_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Pointers to (up to `MAX_WALKED_NODES`) existing nodes, with whether the node is an object
/// member (so it has a key position).
fn existing_pointers(value: &Value) -> Vec<(String, bool)> {
    let mut out = vec![(String::new(), false)];
    let mut i = 0;
    while i < out.len() && out.len() < MAX_WALKED_NODES {
        let (ptr, _) = out[i].clone();
        match value.pointer(&ptr) {
            Some(Value::Object(map)) => {
                for k in map.keys() {
                    out.push((format!("{ptr}/{}", escape_token(k)), true));
                }
            }
            Some(Value::Array(items)) => {
                for n in 0..items.len() {
                    out.push((format!("{ptr}/{n}"), false));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.truncate(MAX_WALKED_NODES);
    out
}

/// Position checks for one YAML document (`max_line`: the last line a position may be on).
pub fn check_document_positions(doc: &YamlDocument, extra: &[String], max_line: usize) {
    check_position_within(doc.position(), max_line, "document position", "");
    let value = doc.value();
    for (ptr, is_member) in existing_pointers(value) {
        check_position_within(doc.position_of(&ptr), max_line, "position_of", &ptr);
        let key = doc.key_position_of(&ptr);
        if let Some(k) = key {
            check_position_within(k, max_line, "key_position_of", &ptr);
        }
        if is_member {
            assert!(key.is_some(), "object member {ptr:?} has no key position");
        } else if !ptr.is_empty() {
            // Sequence items have no key.
            assert!(
                key.is_none(),
                "sequence item {ptr:?} has a key position {key:?}"
            );
        }
    }
    assert!(
        doc.key_position_of("").is_none(),
        "the root has a key position"
    );
    for ptr in FIXED_POINTERS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        check_position_within(doc.position_of(ptr), max_line, "position_of", ptr);
        if let Some(k) = doc.key_position_of(ptr) {
            check_position_within(k, max_line, "key_position_of", ptr);
        }
    }
}

/// Whether the optional cross-checks between entry points are on (default). Set
/// `CATALOG_FUZZ_PANIC_ONLY=1` to fuzz for panics only, e.g. while a consistency bug that was
/// already reported is being fixed.
pub fn consistency_checks() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("CATALOG_FUZZ_PANIC_ONLY").is_none())
}

/// Everything that takes an untrusted entity value. Returns the problem paths (so the YAML
/// target can look their positions up).
pub fn check_entity(value: &Value) -> Vec<String> {
    let validator = validator();

    let validated = validator.validate(value.clone());
    let problems = validator.problems(value);
    for p in &problems {
        assert!(
            !p.message.is_empty(),
            "empty problem message at {:?}",
            p.path
        );
        assert!(
            p.path.is_empty() || p.path.starts_with('/'),
            "problem path {:?} is not a JSON pointer",
            p.path
        );
    }
    match &validated {
        Ok(entity) => {
            if consistency_checks() {
                assert!(
                    problems.is_empty(),
                    "validate() accepted the entity but problems() found {problems:?}"
                );
                // The stored form is a fixed point of validation.
                let again = validator.validate(entity.clone());
                assert_eq!(
                    again.as_ref().ok(),
                    Some(entity),
                    "re-validating the result changed it or failed: {again:?}"
                );
            }
            check_validated(entity);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            if let Some(p) = e.path() {
                assert!(
                    p.is_empty() || p.starts_with('/'),
                    "error path {p:?} is not a JSON pointer"
                );
            }
            if consistency_checks() {
                assert!(
                    !problems.is_empty(),
                    "validate() rejected the entity ({msg}) but problems() is empty"
                );
            }
        }
    }

    check_unvalidated(value);
    problems.into_iter().map(|p| p.path).collect()
}

fn check_relations(entity: &Value) {
    let mut sorted = entity.clone();
    sort_relation_fields(&mut sorted);
    let Ok(relations) = emit_relations(&sorted).map_err(|e| assert!(!e.to_string().is_empty()))
    else {
        return;
    };
    assert!(
        relations.len() % 2 == 0,
        "relations come in pairs: {relations:?}"
    );
    for pair in relations.chunks(2) {
        let (fwd, rev) = (&pair[0], &pair[1]);
        assert_eq!(fwd.source, rev.target, "pair {pair:?}");
        assert_eq!(fwd.target, rev.source, "pair {pair:?}");
        assert_eq!(
            reverse_relation(fwd.relation_type),
            Some(rev.relation_type),
            "pair {pair:?}"
        );
        let t: &CompoundEntityRef = &fwd.target;
        assert!(
            !t.kind.is_empty() && !t.namespace.is_empty() && !t.name.is_empty(),
            "relation target with an empty part: {t:?}"
        );
        let _ = t.to_string();
        let _ = fwd.source.to_string();
    }
}

fn type_guards(entity: &Value) {
    let _ = kinds::is_api_entity(entity);
    let _ = kinds::is_component_entity(entity);
    let _ = kinds::is_domain_entity(entity);
    let _ = kinds::is_group_entity(entity);
    let _ = kinds::is_location_entity(entity);
    let _ = kinds::is_resource_entity(entity);
    let _ = kinds::is_system_entity(entity);
    let _ = kinds::is_user_entity(entity);
    let _ = kinds::is_ai_resource_entity(entity);
    let _ = kinds::is_skill_ai_resource_entity(entity);
    let _ = kinds::is_rule_ai_resource_entity(entity);
    let _ = kinds::is_plugin_ai_resource_entity(entity);
    let _ = kinds::is_marketplace_ai_resource_entity(entity);
    let _ = kinds::is_mcp_server_api_entity(entity);
}

/// Calls that must not panic on any value.
fn check_unvalidated(value: &Value) {
    type_guards(value);
    check_relations(value);
    let _ = stringify_entity_ref_value(value).map_err(|e| e.to_string());
    if let Ok(r) = compound_entity_ref(value) {
        let _ = r.to_string();
    }
    let _ = entity_source_location(value).map_err(|e| e.to_string());
}

/// Extra calls on an entity the validator accepted.
fn check_validated(entity: &Value) {
    type_guards(entity);
    check_relations(entity);
    let _ = stringify_entity_ref_value(entity).map_err(|e| e.to_string());
    if let Ok(e) = Entity::from_value(entity.clone()) {
        let _ = e.to_value();
        let _ = e.namespace();
    }
    if kinds::is_component_entity(entity)
        && let Ok(c) = ComponentEntity::from_value(entity.clone())
    {
        let _ = c.to_value();
    }
    if kinds::is_group_entity(entity)
        && let Ok(g) = GroupEntity::from_value(entity.clone())
    {
        let _ = g.to_value();
    }
}
