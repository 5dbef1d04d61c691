//! The demo catalog in `examples/catalog/` is complete and consistent: every ref resolves,
//! every built-in kind and every classic relation rule (spec §9.3) is used, and `all.yaml`
//! lists every file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use backstage_catalog_model::relations::emit_relations;
use backstage_catalog_model::yaml::parse_entity_documents;
use backstage_catalog_model::{EntityValidator, stringify_entity_ref_value};
use serde_json::Value;

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")
}

/// Every entity of the demo catalog, validated and normalised as the catalog stores it
/// (namespace defaulted, relation arrays sorted), by file name.
fn entities() -> BTreeMap<String, Vec<Value>> {
    let validator = EntityValidator::default();
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(catalog_dir()).expect("examples/catalog exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("a readable file");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 file name")
            .to_owned();
        let documents = parse_entity_documents(&text)
            .into_iter()
            .map(|doc| {
                let doc = doc.unwrap_or_else(|e| panic!("{name}: {e}"));
                validator
                    .validate(doc.into_value())
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect();
        out.insert(name, documents);
    }
    out
}

fn canonical_ref(entity: &Value) -> String {
    stringify_entity_ref_value(entity).expect("a valid entity has a ref")
}

#[test]
fn every_relation_target_exists_in_the_catalog() {
    let all: Vec<Value> = entities().into_values().flatten().collect();
    let mut refs = BTreeSet::new();
    for entity in &all {
        assert!(
            refs.insert(canonical_ref(entity)),
            "duplicate entity {}",
            canonical_ref(entity)
        );
    }
    let mut relation_count = 0;
    for entity in &all {
        let relations =
            emit_relations(entity).unwrap_or_else(|e| panic!("{}: {e}", canonical_ref(entity)));
        for relation in relations {
            relation_count += 1;
            for end in [&relation.source, &relation.target] {
                assert!(
                    refs.contains(&end.to_string()),
                    "{} {} {}: {end} is not in the catalog",
                    relation.source,
                    relation.relation_type,
                    relation.target
                );
            }
        }
    }
    assert!(relation_count > 100, "only {relation_count} relations");
}

#[test]
fn every_built_in_kind_is_used() {
    let kinds: BTreeSet<String> = entities()
        .into_values()
        .flatten()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    let expected = [
        "API",
        "Component",
        "Domain",
        "Group",
        "Location",
        "Resource",
        "System",
        "User",
    ];
    assert_eq!(kinds, expected.iter().map(|k| (*k).to_owned()).collect());
}

/// The (kind, spec field) pairs of the catalog's classic relation rules (spec §9.3).
const RELATION_FIELDS: &[(&str, &str)] = &[
    ("Component", "owner"),
    ("Component", "subcomponentOf"),
    ("Component", "providesApis"),
    ("Component", "consumesApis"),
    ("Component", "dependsOn"),
    ("Component", "dependencyOf"),
    ("Component", "system"),
    ("API", "owner"),
    ("API", "system"),
    ("Resource", "owner"),
    ("Resource", "dependsOn"),
    ("Resource", "dependencyOf"),
    ("Resource", "system"),
    ("System", "owner"),
    ("System", "domain"),
    ("Domain", "owner"),
    ("Domain", "subdomainOf"),
    ("User", "memberOf"),
    ("Group", "parent"),
    ("Group", "children"),
    ("Group", "members"),
];

#[test]
fn every_relation_rule_is_used() {
    let all: Vec<Value> = entities().into_values().flatten().collect();
    for (kind, field) in RELATION_FIELDS {
        let used = all.iter().any(|e| {
            e["kind"] == *kind
                && match &e["spec"][*field] {
                    Value::String(s) => !s.is_empty(),
                    Value::Array(items) => !items.is_empty(),
                    _ => false,
                }
        });
        assert!(used, "no {kind} sets spec.{field}");
    }
    // And every relation type shows up, forward and reverse.
    let types: BTreeSet<&str> = all
        .iter()
        .flat_map(|e| emit_relations(e).expect("valid refs"))
        .map(|r| r.relation_type)
        .collect();
    assert_eq!(types.len(), 14, "{types:?}");
}

#[test]
fn the_location_lists_every_other_file() {
    let by_file = entities();
    let locations = &by_file["all.yaml"];
    assert_eq!(locations.len(), 1);
    let targets: BTreeSet<String> = locations[0]["spec"]["targets"]
        .as_array()
        .expect("spec.targets")
        .iter()
        .map(|t| t.as_str().expect("a string target").to_owned())
        .collect();
    let files: BTreeSet<String> = by_file
        .keys()
        .filter(|name| *name != "all.yaml")
        .map(|name| format!("./{name}"))
        .collect();
    assert_eq!(targets, files);
}
