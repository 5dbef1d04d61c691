//! Shared helpers of the storage and engine tests: a store per engine, entity builders, a
//! fake processor, and loops that drive processing and stitching to completion.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;
use backstage_catalog_backend::engine::EntityProcessing;
use backstage_catalog_backend::model::{
    DeferredEntity, ProcessingOutput, RelationRow, SerializedError,
};
use backstage_catalog_backend::storage::{CatalogStore, ClaimedEntity, ProcessedEntity};
use backstage_database::{DatabaseManager, DatabaseService};
use serde_json::{Value, json};

/// Where a test's store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The per-plugin shared in-memory SQLite database.
    SqliteMemory,
    /// A SQLite file (WAL).
    SqliteFile,
    /// A fresh PostgreSQL database on `POSTGRES_URL`.
    #[cfg(feature = "postgres")]
    Postgres,
}

/// A store on a fresh database, and what keeps it alive.
pub struct TestDb {
    pub kind: Kind,
    pub store: Arc<CatalogStore>,
    config: Value,
    managers: Vec<DatabaseManager>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        let (config, dir) = match kind {
            Kind::SqliteMemory => (json!({}), None),
            Kind::SqliteFile => {
                let dir = tempfile::tempdir().unwrap();
                let config = json!({"backend": {"database": {
                    "client": "better-sqlite3",
                    "connection": {"directory": dir.path().to_str().unwrap()},
                }}});
                (config, Some(dir))
            }
            #[cfg(feature = "postgres")]
            Kind::Postgres => {
                let url = backstage_test_support::server_url("POSTGRES_URL");
                let prefix = format!("{}_", backstage_test_support::unique_name("cat"));
                let config = json!({"backend": {"database": {
                    "client": "pg",
                    "connection": url,
                    "prefix": prefix,
                }}});
                (config, None)
            }
        };
        let mut managers = Vec::new();
        let store = Arc::new(open(&config, &mut managers).await);
        TestDb {
            kind,
            store,
            config,
            managers,
            _dir: dir,
        }
    }

    /// Another replica's store on the same database (not for in-memory SQLite).
    pub async fn replica(&mut self) -> Arc<CatalogStore> {
        let mut managers = Vec::new();
        let store = Arc::new(open(&self.config, &mut managers).await);
        self.managers.extend(managers);
        store
    }
}

async fn open(config: &Value, keep: &mut Vec<DatabaseManager>) -> CatalogStore {
    let manager = DatabaseManager::from_config(&ConfigReader::from_value(config.clone())).unwrap();
    let database = manager.for_plugin("catalog").unwrap();
    let client = database.client().await.unwrap();
    let store = CatalogStore::open(client).await.unwrap();
    keep.push(manager);
    store
}

/// Generates one `#[tokio::test]` per engine calling `$body(Kind)`.
#[macro_export]
macro_rules! per_engine {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                super::$name($crate::storage_support::Kind::SqliteMemory).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_file() {
                super::$name($crate::storage_support::Kind::SqliteFile).await;
            }
            #[cfg(feature = "postgres")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::storage_support::Kind::Postgres).await;
            }
        }
    };
}

/// An entity document.
pub fn entity(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "annotations": {
                "backstage.io/managed-by-location": "url:https://example.com/x.yaml",
                "backstage.io/managed-by-origin-location": "url:https://example.com/x.yaml",
            },
        },
        "spec": spec,
    })
}

pub fn deferred(entity: Value, key: Option<&str>) -> DeferredEntity {
    DeferredEntity {
        entity,
        location_key: key.map(str::to_owned),
    }
}

/// The canonical ref of a test entity.
pub fn ref_of(kind: &str, name: &str) -> String {
    format!("{}:default/{}", kind.to_lowercase(), name.to_lowercase())
}

/// A stand-in for the orchestrator, driven by the entity's spec:
///
/// * `spec.children`: `[{kind, name, spec?, locationKey?}]` emitted as children (key
///   defaults to none);
/// * `spec.owner`: `ownedBy` / `ownerOf` relations to `group:default/<owner>`;
/// * `spec.fail`: a processing error with that message;
/// * `spec.refreshKeys`: refresh keys;
/// * `metadata.namespace` defaults to `default`.
pub fn fake_process(entity: &Value, cache: &Value) -> ProcessingOutput {
    let _ = cache;
    let mut entity = entity.clone();
    let me = backstage_catalog_model::entity_ref::stringify_entity_ref_value(&entity).unwrap();
    if let Some(fail) = entity.pointer("/spec/fail").and_then(Value::as_str) {
        return ProcessingOutput {
            ok: false,
            errors: vec![SerializedError::new("InputError", fail)],
            cache: json!({"failures": 1}),
            ..Default::default()
        };
    }
    entity["metadata"]
        .as_object_mut()
        .unwrap()
        .entry("namespace")
        .or_insert(json!("default"));
    let mut children = Vec::new();
    if let Some(list) = entity.pointer("/spec/children").and_then(Value::as_array) {
        for c in list {
            let child = self::entity(
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                c.get("spec").cloned().unwrap_or(json!({})),
            );
            children.push(DeferredEntity {
                entity: child,
                location_key: c
                    .get("locationKey")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    let mut relations = Vec::new();
    if let Some(owner) = entity.pointer("/spec/owner").and_then(Value::as_str) {
        let group = format!("group:default/{}", owner.to_lowercase());
        relations.push(RelationRow {
            source_ref: me.clone(),
            relation_type: "ownedBy".into(),
            target_ref: group.clone(),
        });
        relations.push(RelationRow {
            source_ref: group,
            relation_type: "ownerOf".into(),
            target_ref: me.clone(),
        });
    }
    let refresh_keys = entity
        .pointer("/spec/refreshKeys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ProcessingOutput {
        ok: true,
        entity: Some(entity),
        children,
        relations,
        errors: vec![],
        refresh_keys,
        cache: json!({"seen": true}),
    }
}

/// [`fake_process`] as an [`EntityProcessing`].
pub struct FakeProcessor;

#[async_trait::async_trait]
impl EntityProcessing for FakeProcessor {
    async fn process(&self, entity: Value, cache: Value) -> ProcessingOutput {
        fake_process(&entity, &cache)
    }
}

/// Claims and processes everything due (with [`fake_process`]) until nothing is due.
pub async fn process_all(store: &CatalogStore) -> usize {
    process_all_with(store, |c| fake_process(&c.unprocessed_entity, &c.cache)).await
}

pub async fn process_all_with(
    store: &CatalogStore,
    f: impl Fn(&ClaimedEntity) -> ProcessingOutput,
) -> usize {
    let mut total = 0;
    for _ in 0..1000 {
        let claimed = store
            .claim_processing(100, Duration::from_secs(100))
            .await
            .unwrap();
        if claimed.is_empty() {
            return total;
        }
        total += claimed.len();
        let items = claimed
            .into_iter()
            .map(|c| {
                let output = f(&c);
                ProcessedEntity { claimed: c, output }
            })
            .collect();
        store.write_processing_results(items).await.unwrap();
    }
    panic!("processing never settled");
}

/// Stitches until the queue is empty.
pub async fn stitch_all(store: &CatalogStore) -> usize {
    let mut changed = 0;
    for _ in 0..1000 {
        let report = store
            .stitch_batch(100, Duration::from_secs(60))
            .await
            .unwrap();
        if report.claimed == 0 {
            return changed;
        }
        changed += report.changed;
    }
    panic!("stitching never settled");
}

/// Processes and stitches until both settle.
pub async fn settle(store: &CatalogStore) {
    for _ in 0..100 {
        let p = process_all(store).await;
        let s = stitch_all(store).await;
        if p == 0 && s == 0 {
            return;
        }
    }
    panic!("never settled");
}

/// The current final entities by ref, from the change feed.
pub async fn finals(store: &CatalogStore) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    let mut after = 0;
    loop {
        let changes = store.changes_since(after, 500).await.unwrap();
        if changes.is_empty() {
            return out;
        }
        for c in changes {
            after = c.seq;
            match c.json {
                Some(json) => {
                    out.insert(c.entity_ref, serde_json::from_str(&json).unwrap());
                }
                None => {
                    out.remove(&c.entity_ref);
                }
            }
        }
    }
}
