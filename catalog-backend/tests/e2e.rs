//! The whole catalog end to end (spec sections 3 and 4): [`Catalog`] instances on a real
//! database (a SQLite file and PostgreSQL), fed with `file` locations written by the tests,
//! driven and observed only through the public API (the builder, `start`/`stop` and the
//! REST router).
//!
//! Processing is asynchronous: every expectation about it is polled with a timeout
//! ([`e2e_support::eventually`]), never assumed after a fixed sleep.
//!
//! [`Catalog`]: backstage_catalog_backend::Catalog

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use backstage_catalog_model::yaml::parse_entity_documents;
use backstage_catalog_model::{RefContext, parse_entity_ref};
use e2e_support::{
    Db, Engine, Instance, SETTLE, annotation, component, docs, entity_ref, eventually,
    generated_location_ref, relations, status_items, write,
};
use serde_json::{Value, json};

const LOCATION_ANNOTATION: &str = "backstage.io/managed-by-location";
const ORIGIN_ANNOTATION: &str = "backstage.io/managed-by-origin-location";
const ORPHAN_ANNOTATION: &str = "backstage.io/orphan";
const PROCESSING_ERROR: &str = "backstage.io/catalog-processing";

/// Every kind the demo and generated catalogs use.
fn allow_everything() -> Value {
    json!([{"allow": ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location"]}])
}

/// Reads a YAML file into its entity documents.
fn read_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    parse_entity_documents(&text)
        .into_iter()
        .map(|doc| doc.unwrap().into_value())
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. The demo catalog
// ---------------------------------------------------------------------------------------

/// The relation fields of the built-in kinds (spec 4.7): kind, spec field, default kind of
/// the target, forward type, reverse type.
#[rustfmt::skip]
const RELATION_FIELDS: &[(&str, &str, Option<&str>, &str, &str)] = &[
    ("Component", "owner", Some("Group"), "ownedBy", "ownerOf"),
    ("Component", "subcomponentOf", Some("Component"), "partOf", "hasPart"),
    ("Component", "providesApis", Some("API"), "providesApi", "apiProvidedBy"),
    ("Component", "consumesApis", Some("API"), "consumesApi", "apiConsumedBy"),
    ("Component", "dependsOn", None, "dependsOn", "dependencyOf"),
    ("Component", "dependencyOf", None, "dependencyOf", "dependsOn"),
    ("Component", "system", Some("System"), "partOf", "hasPart"),
    ("API", "owner", Some("Group"), "ownedBy", "ownerOf"),
    ("API", "system", Some("System"), "partOf", "hasPart"),
    ("Resource", "owner", Some("Group"), "ownedBy", "ownerOf"),
    ("Resource", "dependsOn", None, "dependsOn", "dependencyOf"),
    ("Resource", "dependencyOf", None, "dependencyOf", "dependsOn"),
    ("Resource", "system", Some("System"), "partOf", "hasPart"),
    ("System", "owner", Some("Group"), "ownedBy", "ownerOf"),
    ("System", "domain", Some("Domain"), "partOf", "hasPart"),
    ("Domain", "owner", Some("Group"), "ownedBy", "ownerOf"),
    ("Domain", "subdomainOf", Some("Domain"), "partOf", "hasPart"),
    ("User", "memberOf", Some("Group"), "memberOf", "hasMember"),
    ("Group", "parent", Some("Group"), "childOf", "parentOf"),
    ("Group", "children", Some("Group"), "parentOf", "childOf"),
    ("Group", "members", Some("User"), "hasMember", "memberOf"),
];

/// The relations every entity should carry, by source ref, derived from the documents
/// with the table of spec 4.7: each field emits `self -forward-> target` and
/// `target -reverse-> self`, and an entity's relations are the distinct pairs whose source
/// it is, whoever emitted them.
fn expected_relations(entities: &[Value]) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for entity in entities {
        let me = entity_ref(entity);
        let namespace = entity["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default");
        for (kind, field, default_kind, forward, reverse) in RELATION_FIELDS {
            if entity["kind"] != *kind {
                continue;
            }
            let targets = match &entity["spec"][field] {
                Value::Null => continue,
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            for target in targets {
                let context = RefContext {
                    default_kind: *default_kind,
                    default_namespace: Some(namespace),
                };
                let target = parse_entity_ref(target.as_str().unwrap(), &context)
                    .unwrap()
                    .to_string();
                out.entry(me.clone())
                    .or_default()
                    .insert(((*forward).to_owned(), target.clone()));
                out.entry(target)
                    .or_default()
                    .insert(((*reverse).to_owned(), me.clone()));
            }
        }
    }
    out
}

fn reverse_of(relation: &str) -> &'static str {
    RELATION_FIELDS
        .iter()
        .find_map(|(_, _, _, f, r)| {
            if *f == relation {
                Some(*r)
            } else if *r == relation {
                Some(*f)
            } else {
                None
            }
        })
        .unwrap_or_else(|| panic!("unknown relation type {relation}"))
}

async fn demo_catalog(engine: Engine) {
    let dir =
        std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog"))
            .unwrap();
    let all = dir.join("all.yaml");
    let all_target = all.to_str().unwrap().to_owned();

    // What the files say: the root Location and the files it lists.
    let root = read_documents(&all);
    assert_eq!(root.len(), 1);
    let mut expected: Vec<(PathBuf, Value)> = vec![(all.clone(), root[0].clone())];
    for target in root[0]["spec"]["targets"].as_array().unwrap() {
        let file = std::fs::canonicalize(dir.join(target.as_str().unwrap())).unwrap();
        for doc in read_documents(&file) {
            expected.push((file.clone(), doc));
        }
    }
    let generated = generated_location_ref("file", &all_target);
    let mut refs: BTreeSet<String> = expected.iter().map(|(_, e)| entity_ref(e)).collect();
    refs.insert(generated.clone());
    let non_locations = expected
        .iter()
        .filter(|(_, e)| e["kind"] != "Location")
        .count();
    assert_eq!(
        non_locations, 42,
        "the demo catalog has 42 entities besides Locations"
    );
    assert_eq!(refs.len(), 44);

    let db = Db::new(engine);
    let app = db
        .start(
            json!({
                "locations": [{"type": "file", "target": "all.yaml"}],
                "rules": allow_everything(),
            }),
            &dir,
        )
        .await;
    let finals = app.wait_refs(&refs).await;

    // The kind facet agrees.
    let facets = app.get("/entity-facets?facet=kind").await;
    facets.expect(200);
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for (_, e) in &expected {
        *kinds
            .entry(e["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    *kinds.get_mut("Location").unwrap() += 1;
    let served: BTreeMap<String, u64> = facets.json()["facets"]["kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(served, kinds);

    // Every entity is the document it came from, with identity and location annotations.
    let mut uids = BTreeSet::new();
    for (file, doc) in &expected {
        let r = entity_ref(doc);
        let entity = &finals[&r];
        assert_eq!(entity["apiVersion"], doc["apiVersion"], "{r}");
        assert_eq!(entity["kind"], doc["kind"], "{r}");
        assert_eq!(entity["metadata"]["name"], doc["metadata"]["name"], "{r}");
        assert_eq!(entity["metadata"]["namespace"], "default", "{r}");
        for key in ["title", "description", "labels", "tags", "links"] {
            assert_eq!(
                entity["metadata"][key], doc["metadata"][key],
                "{r} metadata.{key}"
            );
        }
        for (key, value) in doc["spec"].as_object().unwrap() {
            let served = &entity["spec"][key];
            match (value, served) {
                // The catalog sorts some relation arrays; order is not significant.
                (Value::Array(a), Value::Array(b)) => {
                    let a: BTreeSet<String> = a.iter().map(Value::to_string).collect();
                    let b: BTreeSet<String> = b.iter().map(Value::to_string).collect();
                    assert_eq!(a, b, "{r} spec.{key}");
                }
                _ => assert_eq!(served, value, "{r} spec.{key}"),
            }
        }
        let uid = entity["metadata"]["uid"].as_str().unwrap();
        assert!(
            !uid.is_empty() && uids.insert(uid.to_owned()),
            "{r}: uid {uid}"
        );
        assert!(
            !entity["metadata"]["etag"].as_str().unwrap().is_empty(),
            "{r}"
        );
        assert_eq!(
            annotation(entity, LOCATION_ANNOTATION),
            Some(format!("file:{}", file.display()).as_str()),
            "{r}"
        );
        assert_eq!(
            annotation(entity, ORIGIN_ANNOTATION),
            Some(format!("file:{all_target}").as_str()),
            "{r}"
        );
        assert!(status_items(entity).is_empty(), "{r}: {entity}");
    }
    // Entities of config locations have no registered location (spec 3.18).
    app.get("/locations/by-entity/component/default/storefront-web")
        .await
        .expect_error(
            404,
            "NotFoundError",
            &format!("Found no location with type file and target {all_target}"),
        );
    let root_location = &finals[&generated];
    assert_eq!(root_location["spec"]["target"], all_target);
    assert_eq!(root_location["spec"]["type"], "file");

    // Relations, both ways, for every relation field.
    let documents: Vec<Value> = expected.iter().map(|(_, e)| e.clone()).collect();
    let wanted = expected_relations(&documents);
    let types: BTreeSet<&str> = wanted.values().flatten().map(|(t, _)| t.as_str()).collect();
    for t in [
        "ownedBy",
        "ownerOf",
        "memberOf",
        "hasMember",
        "partOf",
        "hasPart",
        "providesApi",
        "apiProvidedBy",
        "consumesApi",
        "apiConsumedBy",
        "dependsOn",
        "dependencyOf",
        "parentOf",
        "childOf",
    ] {
        assert!(types.contains(t), "the demo catalog should exercise {t}");
    }
    for (r, entity) in &finals {
        let served = relations(entity);
        let want = wanted.get(r).cloned().unwrap_or_default();
        assert_eq!(served, want, "relations of {r}");
        for (relation, target) in &served {
            let peer = finals
                .get(target)
                .unwrap_or_else(|| panic!("{r} {relation} {target}: the target does not exist"));
            assert!(
                relations(peer).contains(&(reverse_of(relation).to_owned(), r.clone())),
                "{r} {relation} {target}, but {target} lacks {} {r}",
                reverse_of(relation)
            );
        }
    }
    app.stop().await;
}
e2e!(demo_catalog);

// ---------------------------------------------------------------------------------------
// 2. A generated catalog
// ---------------------------------------------------------------------------------------

async fn generated_catalog(engine: Engine) {
    const FILES: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut owned: BTreeMap<String, u64> = BTreeMap::new();
    let mut refs: BTreeSet<String> = BTreeSet::new();
    let mut targets = Vec::new();
    for f in 0..FILES {
        let team = format!("team-{f:02}");
        let mut entities = vec![json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": {"name": team},
            "spec": {"type": "team", "children": []},
        })];
        for u in 0..4 {
            entities.push(json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "User",
                "metadata": {"name": format!("user-{f:02}-{u}")},
                "spec": {"memberOf": [team]},
            }));
        }
        entities.push(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "System",
            "metadata": {"name": format!("system-{f:02}")},
            "spec": {"owner": team},
        }));
        for c in 0..70 {
            let kind = ["service", "website", "library"][c % 3];
            entities.push(json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": format!("component-{f:02}-{c:02}"), "tags": ["generated"]},
                "spec": {
                    "type": kind,
                    "lifecycle": "production",
                    "owner": team,
                    "system": format!("system-{f:02}"),
                },
            }));
        }
        for a in 0..15 {
            entities.push(json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "API",
                "metadata": {"name": format!("api-{f:02}-{a:02}")},
                "spec": {"type": "openapi", "lifecycle": "production", "owner": team, "definition": "openapi: 3.0.0"},
            }));
        }
        for r in 0..9 {
            entities.push(json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Resource",
                "metadata": {"name": format!("resource-{f:02}-{r}")},
                "spec": {"type": "database", "owner": team},
            }));
        }
        assert_eq!(entities.len(), 100);
        let mut text = String::new();
        for entity in &entities {
            *kinds
                .entry(entity["kind"].as_str().unwrap().to_owned())
                .or_default() += 1;
            if entity["spec"]["owner"].is_string() {
                *owned.entry(format!("group:default/{team}")).or_default() += 1;
            }
            refs.insert(entity_ref(entity));
            text.push_str("---\n");
            text.push_str(&serde_json::to_string(entity).unwrap());
            text.push('\n');
        }
        let name = format!("part-{f:02}.yaml");
        write(dir.path(), &name, &text);
        targets.push(format!("./{name}"));
    }
    let index = write(
        dir.path(),
        "index.yaml",
        &serde_json::to_string(&json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Location",
            "metadata": {"name": "generated-index"},
            "spec": {"targets": targets},
        }))
        .unwrap(),
    );
    refs.insert("location:default/generated-index".to_owned());
    refs.insert(generated_location_ref("file", &index));
    *kinds.entry("Location".to_owned()).or_default() += 2;
    assert_eq!(refs.len(), FILES * 100 + 2);

    let db = Db::new(engine);
    let app = db
        .start(
            json!({
                "locations": [{"type": "file", "target": index}],
                "rules": allow_everything(),
            }),
            dir.path(),
        )
        .await;
    let facet = |name: &'static str| {
        let app = &app;
        async move {
            let reply = app.get(&format!("/entity-facets?facet={name}")).await;
            reply.expect(200);
            reply.json()["facets"][name]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["value"].as_str().unwrap().to_owned(),
                        f["count"].as_u64().unwrap(),
                    )
                })
                .collect::<BTreeMap<String, u64>>()
        }
    };
    eventually(
        "every generated entity",
        Duration::from_secs(45),
        async || {
            let served = facet("kind").await;
            if served == kinds {
                Ok(())
            } else {
                Err(format!("kinds {served:?}, want {kinds:?}"))
            }
        },
    )
    .await;
    let all = app.by_ref().await;
    assert_eq!(all.keys().cloned().collect::<BTreeSet<_>>(), refs);
    assert_eq!(facet("relations.ownedBy").await, owned);
    let tags = facet("metadata.tags").await;
    assert_eq!(
        tags,
        BTreeMap::from([("generated".to_owned(), 70 * FILES as u64)])
    );
    let types = facet("spec.type").await;
    assert_eq!(types["service"], (24 * FILES) as u64);
    assert_eq!(types["library"], (23 * FILES) as u64);
    assert_eq!(types["openapi"], (15 * FILES) as u64);
    // The groups know their members and what they own.
    let team = &all["group:default/team-07"];
    let rel = relations(team);
    assert_eq!(rel.iter().filter(|(t, _)| t == "hasMember").count(), 4);
    assert_eq!(rel.iter().filter(|(t, _)| t == "ownerOf").count(), 95);
    // Processing marks related entities for stitching while the stitcher completes its
    // claims; both lock queue rows in ref order, so no transaction had to be retried (on
    // PostgreSQL each deadlock costs `deadlock_timeout`, 1 s by default).
    assert_eq!(app.catalog.store().retried_transactions(), 0);
    app.stop().await;
}
e2e!(generated_catalog);

// ---------------------------------------------------------------------------------------
// 3. Errors in status
// ---------------------------------------------------------------------------------------

/// The processing errors in an entity's status, checking each item's shape.
fn processing_errors(entity: &Value) -> Vec<Value> {
    status_items(entity)
        .into_iter()
        .map(|item| {
            assert_eq!(item["type"], PROCESSING_ERROR, "{item}");
            assert_eq!(item["level"], "error", "{item}");
            let name = item["error"]["name"].as_str().unwrap();
            let message = item["error"]["message"].as_str().unwrap();
            assert_eq!(item["message"], format!("{name}: {message}"), "{item}");
            item["error"].clone()
        })
        .collect()
}

async fn errors_in_status(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let root = write(
        dir.path(),
        "root.yaml",
        &docs(&[
            location_doc("errors-invalid", &["./invalid.yaml"]),
            location_doc("errors-missing", &["./gone.yaml"]),
            location_doc("errors-rules", &["./rules.yaml"]),
            location_doc("errors-late", &["./late.yaml"]),
        ]),
    );
    let valid_invalid = docs(&[
        component("inv-a", "first", "team-a"),
        component("inv-b", "second", "team-a"),
    ]);
    write(dir.path(), "invalid.yaml", &valid_invalid);
    let gone = write(
        dir.path(),
        "gone.yaml",
        &component("gone-a", "here", "team-a"),
    );
    write(
        dir.path(),
        "rules.yaml",
        &component("rules-a", "here", "team-a"),
    );

    let db = Db::new(engine);
    // The default (long) processing interval: only POST /refresh makes files re-read.
    let app = db
        .start(
            json!({
                "locations": [{"type": "file", "target": "root.yaml"}],
                "rules": [{"allow": ["Component", "Location"]}],
            }),
            dir.path(),
        )
        .await;
    let parents = [
        "location:default/errors-invalid",
        "location:default/errors-missing",
        "location:default/errors-rules",
    ];
    let children = [
        "component:default/inv-a",
        "component:default/inv-b",
        "component:default/gone-a",
        "component:default/rules-a",
    ];
    app.wait_all(&children).await;
    for parent in parents {
        let entity = app.wait_exists(parent).await;
        assert!(processing_errors(&entity).is_empty(), "{entity}");
    }
    // A Location that never processed successfully (its file is missing) is not served
    // (spec 4.4); once the file exists, a refresh brings it and its entities in.
    assert!(app.entity("location:default/errors-late").await.is_none());
    write(
        dir.path(),
        "late.yaml",
        &component("late-a", "late", "team-a"),
    );
    app.refresh("location:default/errors-late").await;
    app.wait_exists("component:default/late-a").await;
    let late = app.wait_exists("location:default/errors-late").await;
    assert!(processing_errors(&late).is_empty(), "{late}");

    // Break the three files: an entity without a name next to valid ones, a missing file,
    // a kind the rules do not allow.
    write(
        dir.path(),
        "invalid.yaml",
        &docs(&[
            valid_invalid.clone(),
            component("inv-c", "new", "team-a"),
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  title: No name\nspec:\n  type: service\n".to_owned(),
        ]),
    );
    std::fs::remove_file(&gone).unwrap();
    write(
        dir.path(),
        "rules.yaml",
        &docs(&[
            component("rules-a", "here", "team-a"),
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: rules-group\nspec:\n  type: team\n  children: []\n".to_owned(),
        ]),
    );
    app.refresh("component:default/inv-a").await;
    app.refresh("component:default/gone-a").await;
    app.refresh("component:default/rules-a").await;

    let has_error = |name: &'static str| {
        move |entity: &Value| processing_errors(entity).iter().any(|e| e["name"] == name)
    };
    let entity = app
        .wait_entity(parents[0], "has an envelope error", has_error("TypeError"))
        .await;
    assert_eq!(processing_errors(&entity).len(), 1, "{entity}");
    let entity = app
        .wait_entity(
            parents[1],
            "has a NotFoundError",
            has_error("NotFoundError"),
        )
        .await;
    let errors = processing_errors(&entity);
    assert_eq!(errors.len(), 1, "{entity}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains(&gone),
        "{entity}"
    );
    let entity = app
        .wait_entity(
            parents[2],
            "has a NotAllowedError",
            has_error("NotAllowedError"),
        )
        .await;
    let errors = processing_errors(&entity);
    assert_eq!(errors.len(), 1, "{entity}");
    // `at` names the location of the entity whose processing failed (the Location entity
    // read from root.yaml), as Backstage's orchestrator does.
    assert_eq!(
        errors[0]["message"],
        format!(
            "Entity group:default/rules-group at file:{root}, originated at file:{root}, \
             is not of an allowed kind for that location"
        )
    );
    // A failed run keeps what the parent emitted before (spec 4.4, write on failure), and
    // emits nothing new.
    for child in children {
        assert!(
            app.entity(child).await.is_some(),
            "{child} should still exist"
        );
    }
    assert!(app.entity("component:default/inv-c").await.is_none());
    assert!(app.entity("group:default/rules-group").await.is_none());
    // Only the parents carry the errors.
    for child in children {
        let entity = app.entity(child).await.unwrap();
        assert!(status_items(&entity).is_empty(), "{entity}");
    }

    // Fix the files and refresh: the errors go away, the new entity appears.
    write(
        dir.path(),
        "invalid.yaml",
        &docs(&[valid_invalid.clone(), component("inv-c", "new", "team-a")]),
    );
    write(
        dir.path(),
        "gone.yaml",
        &component("gone-a", "back", "team-a"),
    );
    write(
        dir.path(),
        "rules.yaml",
        &component("rules-a", "here", "team-a"),
    );
    app.refresh("component:default/inv-a").await;
    app.refresh("component:default/gone-a").await;
    app.refresh("location:default/errors-rules").await;
    for parent in parents {
        app.wait_entity(parent, "has no errors", |e| processing_errors(e).is_empty())
            .await;
    }
    app.wait_exists("component:default/inv-c").await;
    app.wait_entity("component:default/gone-a", "is re-read", |e| {
        e["metadata"]["description"] == "back"
    })
    .await;
    assert!(app.entity("group:default/rules-group").await.is_none());
    app.stop().await;
}
e2e!(errors_in_status);

/// A Location document.
fn location_doc(name: &str, targets: &[&str]) -> String {
    serde_json::to_string(&json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Location",
        "metadata": {"name": name},
        "spec": {"targets": targets},
    }))
    .unwrap()
        + "\n"
}

// ---------------------------------------------------------------------------------------
// 4. Orphans
// ---------------------------------------------------------------------------------------

/// Writes `services.yaml` with components `orphan-<name>` and starts a catalog reading it
/// (processing every second, so an orphaned entity is reprocessed and restitched).
async fn orphan_setup(engine: Engine, strategy: &str) -> (tempfile::TempDir, Db, Instance, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "services.yaml", &orphan_file(&["a", "b", "c"]));
    let db = Db::new(engine);
    let app = db
        .start(
            json!({
                "locations": [{"type": "file", "target": "services.yaml"}],
                "processingInterval": {"seconds": 1},
                "orphanStrategy": strategy,
            }),
            dir.path(),
        )
        .await;
    app.wait_all(&[
        "component:default/orphan-a",
        "component:default/orphan-b",
        "component:default/orphan-c",
    ])
    .await;
    (dir, db, app, file)
}

fn orphan_file(names: &[&str]) -> String {
    docs(
        &names
            .iter()
            .map(|n| component(&format!("orphan-{n}"), "a service", "team-a"))
            .collect::<Vec<_>>(),
    )
}

async fn orphans_kept(engine: Engine) {
    let (dir, _db, app, file) = orphan_setup(engine, "keep").await;
    let before = app.entity("component:default/orphan-c").await.unwrap();
    assert_eq!(annotation(&before, ORPHAN_ANNOTATION), None);

    write(dir.path(), "services.yaml", &orphan_file(&["a", "b"]));
    app.refresh(&generated_location_ref("file", &file)).await;
    let orphan = app
        .wait_entity(
            "component:default/orphan-c",
            "is marked as an orphan",
            |e| annotation(e, ORPHAN_ANNOTATION) == Some("true"),
        )
        .await;
    assert_eq!(orphan["metadata"]["uid"], before["metadata"]["uid"]);
    for name in ["a", "b"] {
        let entity = app
            .entity(&format!("component:default/orphan-{name}"))
            .await
            .unwrap();
        assert_eq!(annotation(&entity, ORPHAN_ANNOTATION), None, "{entity}");
    }

    // Emitted again: no longer an orphan, same entity.
    write(dir.path(), "services.yaml", &orphan_file(&["a", "b", "c"]));
    app.refresh(&generated_location_ref("file", &file)).await;
    let adopted = app
        .wait_entity(
            "component:default/orphan-c",
            "is no longer an orphan",
            |e| annotation(e, ORPHAN_ANNOTATION).is_none(),
        )
        .await;
    assert_eq!(adopted["metadata"]["uid"], before["metadata"]["uid"]);
    app.stop().await;
}
e2e!(orphans_kept);

async fn orphans_deleted(engine: Engine) {
    let (dir, _db, app, file) = orphan_setup(engine, "delete").await;
    write(dir.path(), "services.yaml", &orphan_file(&["a", "b"]));
    app.refresh(&generated_location_ref("file", &file)).await;
    // The cleanup runs every 30 s (spec 4.11).
    app.wait_gone("component:default/orphan-c", Duration::from_secs(45))
        .await;
    for name in ["a", "b"] {
        let entity = app
            .entity(&format!("component:default/orphan-{name}"))
            .await
            .unwrap();
        assert_eq!(annotation(&entity, ORPHAN_ANNOTATION), None, "{entity}");
    }
    app.stop().await;
}
e2e!(orphans_deleted);

// ---------------------------------------------------------------------------------------
// 5. Conflicts
// ---------------------------------------------------------------------------------------

/// Registers a `file` location through the API; its `Location` reply.
async fn register(app: &Instance, target: &str) -> Value {
    let reply = app
        .post("/locations", json!({"type": "file", "target": target}))
        .await;
    reply.expect(201);
    let body = reply.json();
    assert_eq!(body["entities"], json!([]), "{body}");
    body["location"].clone()
}

fn file_locations() -> Value {
    json!({"allowedLocationTypes": ["url", "file"]})
}

async fn conflicts(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.yaml",
        &docs(&[
            component("shared", "from a", "team-a"),
            component("only-a", "a", "team-a"),
        ]),
    );
    let b = write(
        dir.path(),
        "b.yaml",
        &docs(&[
            component("shared", "from b", "team-b"),
            component("only-b", "b", "team-b"),
        ]),
    );
    let db = Db::new(engine);
    let app = db.start(file_locations(), dir.path()).await;

    let location_a = register(&app, &a).await;
    let first = app
        .wait_entity("component:default/shared", "comes from a.yaml", |e| {
            e["metadata"]["description"] == "from a"
        })
        .await;
    let location_b = register(&app, &b).await;
    app.wait_exists("component:default/only-b").await;
    // b.yaml has been processed: its copy of `shared` was refused.
    let shared = app.entity("component:default/shared").await.unwrap();
    assert_eq!(shared["metadata"]["description"], "from a", "{shared}");
    assert_eq!(shared["metadata"]["uid"], first["metadata"]["uid"]);
    assert_eq!(
        annotation(&shared, LOCATION_ANNOTATION),
        Some(format!("file:{a}").as_str())
    );
    assert_eq!(
        relations(&shared),
        BTreeSet::from([("ownedBy".to_owned(), "group:default/team-a".to_owned())])
    );

    // Delete the first location: its entities go, `shared` with them (b.yaml's Location is
    // not its parent).
    let id_a = location_a["id"].as_str().unwrap();
    app.delete(&format!("/locations/{id_a}")).await.expect(204);
    app.wait_gone("component:default/only-a", SETTLE).await;
    app.wait_gone("component:default/shared", SETTLE).await;
    assert!(app.entity("component:default/only-b").await.is_some());

    // Now the loser wins once its location is processed again.
    app.refresh(location_b["entityRef"].as_str().unwrap()).await;
    let won = app
        .wait_entity("component:default/shared", "comes from b.yaml", |e| {
            e["metadata"]["description"] == "from b"
        })
        .await;
    assert_eq!(
        annotation(&won, LOCATION_ANNOTATION),
        Some(format!("file:{b}").as_str())
    );
    assert_ne!(won["metadata"]["uid"], first["metadata"]["uid"]);
    assert_eq!(
        relations(&won),
        BTreeSet::from([("ownedBy".to_owned(), "group:default/team-b".to_owned())])
    );
    app.stop().await;
}
e2e!(conflicts);

// ---------------------------------------------------------------------------------------
// 6. Registering and removing locations through the API
// ---------------------------------------------------------------------------------------

async fn locations_api(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let target = write(
        dir.path(),
        "loc.yaml",
        &docs(&[
            component("loc-a", "a", "team-a"),
            component("loc-b", "b", "team-a"),
        ]),
    );
    let location_entity = generated_location_ref("file", &target);
    let db = Db::new(engine);
    let app = db.start(file_locations(), dir.path()).await;
    let spec = json!({"type": "file", "target": target});

    // A dry run lists what would be registered, writes nothing.
    let reply = app.post("/locations?dryRun=true", spec.clone()).await;
    reply.expect(201);
    let body = reply.json();
    assert_eq!(body["exists"], false, "{body}");
    assert_eq!(
        body["location"],
        json!({"type": "file", "target": target, "id": format!("file:{target}"), "entityRef": location_entity})
    );
    let listed: BTreeSet<String> = body["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(entity_ref)
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            location_entity.clone(),
            "component:default/loc-a".to_owned(),
            "component:default/loc-b".to_owned()
        ])
    );
    app.get("/locations").await.expect(200);
    assert_eq!(app.get("/locations").await.json(), json!([]));
    assert!(app.entity("component:default/loc-a").await.is_none());

    // A type that is not allowed.
    app.post("/locations", json!({"type": "github", "target": target}))
        .await
        .expect_error(
            400,
            "InputError",
            r#"Registered locations must be of an allowed type ["url","file"]"#,
        );

    // Register it.
    let location = register(&app, &target).await;
    let id = location["id"].as_str().unwrap().to_owned();
    assert!(uuid_like(&id), "{location}");
    assert_eq!(
        location,
        json!({"id": id, "type": "file", "target": target, "entityRef": location_entity})
    );
    app.wait_all(&[
        "component:default/loc-a",
        "component:default/loc-b",
        &location_entity,
    ])
    .await;
    let a = app.entity("component:default/loc-a").await.unwrap();
    assert_eq!(
        annotation(&a, ORIGIN_ANNOTATION),
        Some(format!("file:{target}").as_str())
    );

    assert_eq!(
        app.get("/locations").await.json(),
        json!([{"data": location}])
    );
    let reply = app.get(&format!("/locations/{id}")).await;
    reply.expect(200);
    assert_eq!(reply.json(), location);
    let reply = app
        .get("/locations/by-entity/component/default/loc-a")
        .await;
    reply.expect(200);
    assert_eq!(reply.json(), location);
    let unknown = "00000000-0000-4000-8000-000000000000";
    app.get(&format!("/locations/{unknown}"))
        .await
        .expect_error(
            404,
            "NotFoundError",
            &format!("Found no location with ID {unknown}"),
        );
    app.get("/locations/not-a-uuid").await.expect(404);

    // Registered twice → 409; the dry run now says it exists.
    app.post("/locations", spec.clone()).await.expect_error(
        409,
        "ConflictError",
        &format!("Location file:{target} already exists"),
    );
    let reply = app.post("/locations?dryRun=true", spec.clone()).await;
    reply.expect(201);
    assert_eq!(reply.json()["exists"], true);
    // With onConflict=refresh the existing location is reused.
    let reply = app
        .post("/locations?onConflict=refresh", spec.clone())
        .await;
    reply.expect(201);
    assert_eq!(reply.json()["location"], location);
    assert_eq!(
        app.get("/locations").await.json(),
        json!([{"data": location}])
    );

    // Unregister: the location and everything it brought in disappear.
    app.delete(&format!("/locations/{id}")).await.expect(204);
    for r in [
        "component:default/loc-a",
        "component:default/loc-b",
        location_entity.as_str(),
    ] {
        app.wait_gone(r, SETTLE).await;
    }
    assert_eq!(app.get("/locations").await.json(), json!([]));
    app.get(&format!("/locations/{id}")).await.expect(404);
    app.delete(&format!("/locations/{id}")).await.expect(404);

    // Registered again, then a read-only replica refuses changes but allows dry runs.
    let location = register(&app, &target).await;
    let id = location["id"].as_str().unwrap().to_owned();
    app.wait_exists("component:default/loc-a").await;
    app.stop().await;
    let readonly = db
        .build(
            json!({"allowedLocationTypes": ["url", "file"], "readonly": true}),
            dir.path(),
        )
        .await;
    let other = write(dir.path(), "other.yaml", &component("loc-c", "c", "team-a"));
    readonly
        .post("/locations", json!({"type": "file", "target": other}))
        .await
        .expect_error(
            403,
            "NotAllowedError",
            "This operation not allowed in readonly mode",
        );
    readonly
        .delete(&format!("/locations/{id}"))
        .await
        .expect_error(
            403,
            "NotAllowedError",
            "This operation not allowed in readonly mode",
        );
    let reply = readonly
        .post(
            "/locations?dryRun=true",
            json!({"type": "file", "target": other}),
        )
        .await;
    reply.expect(201);
    assert_eq!(reply.json()["exists"], false);
    assert_eq!(
        readonly.get("/locations").await.json(),
        json!([{"data": location}])
    );
    assert!(readonly.entity("component:default/loc-a").await.is_some());
}
e2e!(locations_api);

fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

// ---------------------------------------------------------------------------------------
// 7. Refresh and explicit deletion
// ---------------------------------------------------------------------------------------

async fn refresh_and_delete(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svc.yaml",
        &docs(&[
            component("svc-a", "v1", "team-a"),
            component("svc-b", "v1", "team-a"),
        ]),
    );
    let db = Db::new(engine);
    // The default (long) processing interval: changes are picked up only on refresh.
    let app = db
        .start(
            json!({"locations": [{"type": "file", "target": "svc.yaml"}]}),
            dir.path(),
        )
        .await;
    let a0 = app.wait_exists("component:default/svc-a").await;
    let b0 = app.wait_exists("component:default/svc-b").await;

    // Refreshing svc-a while svc.yaml is unchanged, then changing only svc-b and refreshing
    // it: once svc-b shows the change the file has been re-read, and svc-a is untouched.
    app.refresh("component:default/svc-a").await;
    write(
        dir.path(),
        "svc.yaml",
        &docs(&[
            component("svc-a", "v1", "team-a"),
            component("svc-b", "v2", "team-a"),
        ]),
    );
    app.refresh("component:default/svc-b").await;
    let b1 = app
        .wait_entity("component:default/svc-b", "has the new description", |e| {
            e["metadata"]["description"] == "v2"
        })
        .await;
    assert_eq!(b1["metadata"]["uid"], b0["metadata"]["uid"]);
    assert_ne!(b1["metadata"]["etag"], b0["metadata"]["etag"]);
    let a1 = app.entity("component:default/svc-a").await.unwrap();
    assert_eq!(
        a1, a0,
        "an unchanged entity keeps its uid, etag and content"
    );

    // Change svc-a; the ref is canonicalised.
    write(
        dir.path(),
        "svc.yaml",
        &docs(&[
            component("svc-a", "v3", "team-a"),
            component("svc-b", "v2", "team-a"),
        ]),
    );
    app.refresh("Component:default/SVC-A").await;
    let a2 = app
        .wait_entity("component:default/svc-a", "has the new description", |e| {
            e["metadata"]["description"] == "v3"
        })
        .await;
    assert_eq!(a2["metadata"]["uid"], a0["metadata"]["uid"]);
    assert_ne!(a2["metadata"]["etag"], a0["metadata"]["etag"]);

    app.post("/refresh", json!({"entityRef": "component:default/nope"}))
        .await
        .expect(404);

    // Deleting svc-b by uid: it goes, and its parent, forced to reprocess, emits it again
    // as a new entity (spec 3.6, 4.11).
    let uid = b1["metadata"]["uid"].as_str().unwrap().to_owned();
    let reply = app.get(&format!("/entities/by-uid/{uid}")).await;
    reply.expect(200);
    app.delete(&format!("/entities/by-uid/{uid}"))
        .await
        .expect(204);
    let b2 = app
        .wait_entity(
            "component:default/svc-b",
            "is recreated with a new uid",
            |e| e["metadata"]["uid"] != uid.as_str(),
        )
        .await;
    assert_eq!(b2["metadata"]["description"], "v2");
    app.get(&format!("/entities/by-uid/{uid}"))
        .await
        .expect(404);
    let new_uid = b2["metadata"]["uid"].as_str().unwrap();
    let reply = app.get(&format!("/entities/by-uid/{new_uid}")).await;
    reply.expect(200);
    assert_eq!(reply.json()["metadata"]["name"], "svc-b");
    // Deleting an unknown uid is fine.
    app.delete("/entities/by-uid/00000000-0000-4000-8000-000000000000")
        .await
        .expect(204);
    app.stop().await;
}
e2e!(refresh_and_delete);

// ---------------------------------------------------------------------------------------
// 8. A restart keeps uids and etags
// ---------------------------------------------------------------------------------------

async fn restart(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "team.yaml",
        &docs(&[
            component("restart-a", "a", "team-r"),
            component("restart-b", "b", "team-r"),
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-r\nspec:\n  type: team\n  children: []\n".to_owned(),
        ]),
    );
    let config = json!({
        "locations": [{"type": "file", "target": "team.yaml"}],
        "rules": allow_everything(),
        "processingInterval": {"seconds": 1},
    });
    let db = Db::new(engine);
    let first = db.start(config.clone(), dir.path()).await;
    first
        .wait_all(&["component:default/restart-a", "component:default/restart-b"])
        .await;
    first
        .wait_entity("group:default/team-r", "owns both components", |e| {
            relations(e).iter().filter(|(t, _)| t == "ownerOf").count() == 2
        })
        .await;
    let before = first.by_ref().await;
    assert_eq!(before.len(), 4);
    first.stop().await;

    // Built, not started: the index comes from the database as it is.
    let second = db.build(config.clone(), dir.path()).await;
    assert_eq!(second.by_ref().await, before);

    // Started, the entities are processed again (every second) without changing.
    second.catalog.start().await.unwrap();
    write(
        dir.path(),
        "team.yaml",
        &docs(&[
            component("restart-a", "a", "team-r"),
            component("restart-b", "b", "team-r"),
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-r\nspec:\n  type: team\n  children: []\n".to_owned(),
            component("restart-c", "c", "team-r"),
        ]),
    );
    second.wait_exists("component:default/restart-c").await;
    second
        .wait_entity("group:default/team-r", "owns three components", |e| {
            relations(e).iter().filter(|(t, _)| t == "ownerOf").count() == 3
        })
        .await;
    let after = second.by_ref().await;
    for (r, entity) in &before {
        if r == "group:default/team-r" {
            // It gained a relation: same uid, new etag.
            assert_eq!(after[r]["metadata"]["uid"], entity["metadata"]["uid"]);
            assert_ne!(after[r]["metadata"]["etag"], entity["metadata"]["etag"]);
        } else {
            assert_eq!(&after[r], entity, "{r} changed across the restart");
        }
    }
    second.stop().await;
}
e2e!(restart);

// ---------------------------------------------------------------------------------------
// 9. Two replicas on one database
// ---------------------------------------------------------------------------------------

async fn replicas(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.yaml", &component("base-a", "a", "team-a"));
    let extra = write(
        dir.path(),
        "extra.yaml",
        &docs(&[
            component("extra-a", "x", "team-a"),
            component("extra-b", "x", "team-a"),
        ]),
    );
    let more = write(dir.path(), "more.yaml", &component("more-a", "m", "team-a"));
    let config = json!({
        "locations": [{"type": "file", "target": "base.yaml"}],
        "allowedLocationTypes": ["url", "file"],
        "processingInterval": {"seconds": 1},
    });
    let mut api_config = config.clone();
    api_config["mode"] = json!("api");
    let db = Db::new(engine);
    let a = db.start(config, dir.path()).await;
    a.wait_exists("component:default/base-a").await;
    let b = db.start(api_config, dir.path()).await;
    assert_eq!(b.by_ref().await, a.by_ref().await);
    let few = Duration::from_secs(10);

    // Registered on A, visible on B.
    let location = register(&a, &extra).await;
    let same_on_b = async |r: &str| {
        let on_a = a.wait_exists(r).await;
        eventually(format!("{r} on replica B"), few, async || {
            match b.entity(r).await {
                Some(e) if e == on_a => Ok(()),
                other => Err(format!("{other:?}, on A {on_a}")),
            }
        })
        .await;
    };
    same_on_b("component:default/extra-a").await;
    same_on_b("component:default/extra-b").await;
    let reply = b.get("/locations").await;
    assert_eq!(reply.json(), json!([{"data": location}]));

    // A file change refreshed through B is processed by A and served by both.
    write(
        dir.path(),
        "extra.yaml",
        &docs(&[
            component("extra-a", "changed", "team-a"),
            component("extra-b", "x", "team-a"),
        ]),
    );
    b.refresh("component:default/extra-a").await;
    a.wait_entity("component:default/extra-a", "changed", |e| {
        e["metadata"]["description"] == "changed"
    })
    .await;
    same_on_b("component:default/extra-a").await;

    // Registered on the API-only replica: A's engine processes it.
    let more_location = register(&b, &more).await;
    same_on_b("component:default/more-a").await;

    // Unregistered on A, gone on B; unregistered on B, gone on A.
    let id = location["id"].as_str().unwrap();
    a.delete(&format!("/locations/{id}")).await.expect(204);
    b.wait_gone("component:default/extra-a", few).await;
    b.wait_gone("component:default/extra-b", few).await;
    let id = more_location["id"].as_str().unwrap();
    b.delete(&format!("/locations/{id}")).await.expect(204);
    a.wait_gone("component:default/more-a", few).await;
    b.wait_gone("component:default/more-a", few).await;
    assert_eq!(b.by_ref().await, a.by_ref().await);
    b.stop().await;
    a.stop().await;
}
e2e!(replicas);

/// A replica further behind than `catalog.tombstoneRetention` cannot learn from the feed
/// which entities were deleted meanwhile: it notices the pruned floor and reloads.
async fn pruned_feed_reloads_lagging_replicas(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.yaml", &component("base-a", "a", "team-a"));
    let extra = write(
        dir.path(),
        "extra.yaml",
        &component("extra-a", "x", "team-a"),
    );
    let db = Db::new(engine);
    let a = db
        .start(
            json!({
                "locations": [{"type": "file", "target": "base.yaml"}],
                "allowedLocationTypes": ["url", "file"],
                "processingInterval": {"seconds": 1},
                "tombstoneRetention": {"seconds": 0},
            }),
            dir.path(),
        )
        .await;
    let location = register(&a, &extra).await;
    a.wait_exists("component:default/extra-a").await;
    // B follows the feed only when told to (built, not started).
    let b = db.build(json!({"mode": "api"}), dir.path()).await;
    b.catalog.sync_index().await.unwrap();
    assert!(b.entity("component:default/extra-a").await.is_some());

    let id = location["id"].as_str().unwrap();
    a.delete(&format!("/locations/{id}")).await.expect(204);
    let few = Duration::from_secs(10);
    a.wait_gone("component:default/extra-a", few).await;
    // A's engine prunes the tombstones (retention 0, checked every second).
    let store = a.catalog.store().clone();
    eventually("tombstones pruned", few, async || {
        match store.feed_floor().await.unwrap() {
            0 => Err("floor still 0".to_owned()),
            _ => Ok(()),
        }
    })
    .await;
    b.catalog.sync_index().await.unwrap();
    assert!(b.entity("component:default/extra-a").await.is_none());
    assert!(b.entity("component:default/base-a").await.is_some());
    assert_eq!(b.by_ref().await, a.by_ref().await);
    a.stop().await;
}
e2e!(pruned_feed_reloads_lagging_replicas);
