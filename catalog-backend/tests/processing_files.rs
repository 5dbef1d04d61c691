//! Processing `file` locations: globs, relative targets, YAML errors, catalog rules,
//! relations, dry runs (spec 3.12, 4.4-4.9).

use std::path::PathBuf;

use backstage_catalog_backend::model::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, LocationSpec, Presence, ProcessingOutput,
};
use backstage_catalog_backend::processing::{DryRunError, Orchestrator, OrchestratorOptions};
use backstage_core_plugin_api::ConfigReader;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/processing")
}

fn fixture(path: &str) -> String {
    fixtures().join(path).to_string_lossy().into_owned()
}

fn orchestrator(catalog: Value) -> Orchestrator {
    let config = ConfigReader::from_value(json!({ "catalog": catalog }));
    Orchestrator::new(
        OrchestratorOptions::from_config(&config).expect("valid config"),
        Vec::new(),
        None,
    )
}

async fn process_location(o: &Orchestrator, spec: &LocationSpec) -> ProcessingOutput {
    o.process(spec.to_root_location_entity(), Value::Null).await
}

fn names(output: &ProcessingOutput) -> Vec<String> {
    output
        .children
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c.entity["kind"].as_str().unwrap_or_default(),
                c.entity["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn glob_location_emits_every_matching_document_with_annotations_and_refresh_keys() {
    let o = orchestrator(json!({}));
    let spec = LocationSpec::new("file", fixture("glob/components/*.yaml"));
    let out = process_location(&o, &spec).await;
    assert!(out.ok, "{:?}", out.errors);
    // Sorted by path; the dot file and the .txt file are not matched; the empty document
    // is skipped.
    assert_eq!(
        names(&out),
        ["Component:svc-a", "Component:svc-b", "Component:svc-c"]
    );
    let svc_a = fixture("glob/components/svc-a.yaml");
    let svc_b = fixture("glob/components/svc-b.yaml");
    assert_eq!(
        out.refresh_keys,
        [format!("file:{svc_a}"), format!("file:{svc_b}")]
    );
    let child = &out.children[0];
    assert_eq!(
        child.location_key.as_deref(),
        Some(format!("file:{svc_a}").as_str())
    );
    let annotations = &child.entity["metadata"]["annotations"];
    assert_eq!(annotations[ANNOTATION_LOCATION], format!("file:{svc_a}"));
    assert_eq!(annotations[ANNOTATION_ORIGIN_LOCATION], spec.location_ref());
    // The Location entity itself is what the catalog stores.
    let entity = out.entity.expect("entity");
    assert_eq!(entity["metadata"]["name"], spec.generated_entity_name());
    assert_eq!(
        entity["metadata"]["annotations"][ANNOTATION_LOCATION],
        spec.location_ref()
    );
    assert!(out.relations.is_empty());
    assert_eq!(out.cache, Value::Null);
}

#[tokio::test]
async fn location_entity_targets_resolve_relative_to_its_file() {
    let o = orchestrator(json!({}));
    let root = LocationSpec::new("file", fixture("glob/catalog/all.yaml"));
    let out = process_location(&o, &root).await;
    assert!(out.ok, "{:?}", out.errors);
    assert_eq!(names(&out), ["Location:example-components"]);
    // Process the emitted Location entity: its targets are relative to all.yaml.
    let location_entity = out.children[0].entity.clone();
    let out = o.process(location_entity, Value::Null).await;
    assert!(out.ok, "{:?}", out.errors);
    assert_eq!(
        names(&out),
        [
            "Component:svc-a",
            "Component:svc-b",
            "Component:svc-c",
            "API:petstore"
        ]
    );
    let api = out.children.last().expect("api");
    assert_eq!(
        api.entity["metadata"]["annotations"][ANNOTATION_LOCATION],
        format!("file:{}", fixture("glob/apis/petstore.yaml"))
    );
    // The origin is still the registered root.
    assert_eq!(
        api.entity["metadata"]["annotations"][ANNOTATION_ORIGIN_LOCATION],
        root.location_ref()
    );
}

#[tokio::test]
async fn components_emit_their_relation_pairs() {
    let o = orchestrator(json!({}));
    let out = process_location(
        &o,
        &LocationSpec::new("file", fixture("glob/components/svc-b.yaml")),
    )
    .await;
    let svc_b = out.children[0].entity.clone();
    let out = o.process(svc_b, Value::Null).await;
    assert!(out.ok, "{:?}", out.errors);
    let relations: Vec<String> = out
        .relations
        .iter()
        .map(|r| format!("{} {} {}", r.source_ref, r.relation_type, r.target_ref))
        .collect();
    assert_eq!(
        relations,
        [
            "component:default/svc-b ownedBy group:ops/team-b",
            "group:ops/team-b ownerOf component:default/svc-b",
            "component:default/svc-b consumesApi api:default/petstore",
            "api:default/petstore apiConsumedBy component:default/svc-b",
            "component:default/svc-b dependsOn component:default/svc-a",
            "component:default/svc-a dependencyOf component:default/svc-b",
        ]
    );
    let entity = out.entity.expect("entity");
    assert_eq!(entity["metadata"]["namespace"], "default");
    assert!(out.children.is_empty());
}

#[tokio::test]
async fn yaml_problems_and_missing_files_are_errors() {
    let o = orchestrator(json!({}));
    let mixed = fixture("errors/mixed.yaml");
    let out = process_location(&o, &LocationSpec::new("file", &mixed)).await;
    assert!(!out.ok);
    assert_eq!(
        names(&out),
        ["Component:good"],
        "valid documents are still emitted"
    );
    assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
    assert_eq!(out.errors[0].name, "InputError");
    assert_eq!(out.errors[0].message, "Expected object at root, got object");
    assert_eq!(out.errors[1].name, "InputError");
    assert!(
        out.errors[1]
            .message
            .starts_with(&format!("YAML error at file:{mixed}, line ")),
        "{}",
        out.errors[1].message
    );

    let missing = fixture("errors/missing.yaml");
    let out = process_location(&o, &LocationSpec::new("file", &missing)).await;
    assert!(!out.ok);
    assert_eq!(out.errors[0].name, "NotFoundError");
    assert_eq!(
        out.errors[0].message,
        format!("file {missing} does not exist")
    );

    let optional = LocationSpec {
        presence: Presence::Optional,
        ..LocationSpec::new("file", &missing)
    };
    let out = process_location(&o, &optional).await;
    assert!(out.ok, "{:?}", out.errors);
    assert!(out.children.is_empty());
}

#[tokio::test]
async fn catalog_rules_apply_to_children_against_the_origin() {
    let org = fixture("org/org.yaml");
    let spec = LocationSpec::new("file", &org);

    let out = process_location(&orchestrator(json!({})), &spec).await;
    assert!(!out.ok);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].name, "NotAllowedError");
    assert_eq!(
        out.errors[0].message,
        format!(
            "Entity group:default/team-a at file:{org}, originated at file:{org}, is not of an allowed kind for that location"
        )
    );
    assert!(out.children.is_empty() && out.entity.is_none());

    // Allowed for that exact location only.
    let per_location = orchestrator(json!({"locations": [
        {"type": "file", "target": org, "rules": [{"allow": ["Group", "User"]}]}
    ]}));
    let out = process_location(&per_location, &spec).await;
    assert!(out.ok, "{:?}", out.errors);
    assert_eq!(names(&out), ["Group:team-a", "User:alice"]);
    let elsewhere = LocationSpec::new("file", fixture("org/*.yaml"));
    let out = process_location(&per_location, &elsewhere).await;
    assert_eq!(out.errors[0].name, "NotAllowedError");

    // `[]` allows nothing, not even Components.
    let nothing = orchestrator(json!({"rules": []}));
    let out = process_location(
        &nothing,
        &LocationSpec::new("file", fixture("dup/one.yaml")),
    )
    .await;
    assert_eq!(out.errors[0].name, "NotAllowedError");

    // Kind and spec.type, case-insensitively.
    let typed = orchestrator(
        json!({"rules": [{"allow": [{"kind": "group", "spec.type": "TEAM"}, "user"]}]}),
    );
    let out = process_location(&typed, &spec).await;
    assert!(out.ok, "{:?}", out.errors);
}

#[tokio::test]
async fn location_entities_may_not_switch_to_a_disallowed_type() {
    let o = orchestrator(json!({}));
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "sneaky", "annotations": {
            ANNOTATION_LOCATION: "url:https://example.com/catalog-info.yaml",
            ANNOTATION_ORIGIN_LOCATION: "url:https://example.com/catalog-info.yaml",
        }},
        "spec": {"type": "file", "target": fixture("dup/one.yaml")},
    });
    let out = o.process(entity.clone(), Value::Null).await;
    assert!(!out.ok);
    assert!(out.children.is_empty(), "nothing was read");
    assert_eq!(out.errors[0].name, "NotAllowedError");
    assert!(
        out.errors[0]
            .message
            .contains("the type 'file' differs from its own location type 'url' and is not an allowed location type [\"url\"]"),
        "{}",
        out.errors[0].message
    );
    // Once `file` is an allowed type, the same entity reads the file.
    let permissive = orchestrator(json!({"allowedLocationTypes": ["url", "file"]}));
    assert_eq!(permissive.allowed_location_types(), ["url", "file"]);
    let out = permissive.process(entity, Value::Null).await;
    assert!(out.ok, "{:?}", out.errors);
    assert_eq!(names(&out), ["Component:same"]);
}

#[tokio::test]
async fn unknown_location_types_and_trailing_separators_are_errors() {
    let o = orchestrator(json!({}));
    let out = process_location(
        &o,
        &LocationSpec::new("github-org", "https://github.com/org"),
    )
    .await;
    assert!(!out.ok);
    assert_eq!(out.errors[0].name, "InputError");
    assert_eq!(
        out.errors[0].message,
        "No processor was able to handle reading of github-org:https://github.com/org"
    );
    let dir = format!("{}/", fixture("dup"));
    let out = process_location(&o, &LocationSpec::new("file", &dir)).await;
    assert_eq!(
        out.errors[0].message,
        format!(
            "LocationEntityProcessor cannot handle file type location with target {dir} that ends with a path separator"
        )
    );
}

#[tokio::test]
async fn dry_run_processes_everything_in_memory() {
    let o = orchestrator(json!({}));
    let root = LocationSpec::new("file", fixture("glob/catalog/all.yaml"));
    let entities = o.dry_run_location(&root).await.expect("dry run");
    let refs: Vec<String> = entities
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap_or_default(),
                e["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            format!("Location:{}", root.generated_entity_name()),
            "Location:example-components".to_owned(),
            "Component:svc-a".to_owned(),
            "Component:svc-b".to_owned(),
            "Component:svc-c".to_owned(),
            "API:petstore".to_owned(),
        ]
    );
    // Processed entities are complete: namespace defaulted, location annotations set.
    assert_eq!(entities[4]["metadata"]["namespace"], "other");
    assert_eq!(entities[5]["metadata"]["namespace"], "default");

    let duplicate = o
        .dry_run_location(&LocationSpec::new("file", fixture("dup/*.yaml")))
        .await
        .unwrap_err();
    assert_eq!(
        duplicate,
        DryRunError::DuplicateEntity("component:default/same".into())
    );
    assert_eq!(
        duplicate.to_string(),
        "Duplicate nested entity: component:default/same"
    );

    let failing = o
        .dry_run_location(&LocationSpec::new("file", fixture("org/org.yaml")))
        .await
        .unwrap_err();
    assert!(
        failing
            .to_string()
            .starts_with("NotAllowedError: Entity group:default/team-a at file:"),
        "{failing}"
    );
}
