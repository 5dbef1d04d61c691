//! The catalog's batch write paths on SQLite (in memory, as a default backend has it):
//! provider mutations, processing-result writes, stitching, and reading the change feed.
//!
//! Run with `cargo bench -p backstage-catalog-backend --bench ingest`. Each measured
//! iteration starts from a fresh database prepared outside the timing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backstage_backend_common::config::ConfigReader;
use backstage_catalog_backend::model::{DeferredEntity, ProcessingOutput, RelationRow};
use backstage_catalog_backend::storage::{CatalogStore, EntityMutation, ProcessedEntity};
use backstage_database::{DatabaseManager, DatabaseService};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const N: usize = 500;

fn component(i: usize) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": format!("service-{i}"),
            "namespace": "default",
            "description": "A service of the benchmark catalog, with a realistic amount of text.",
            "tags": ["rust", "backend", "bench"],
            "annotations": {
                "backstage.io/managed-by-location": "url:https://example.com/catalog-info.yaml",
                "backstage.io/managed-by-origin-location": "url:https://example.com/catalog-info.yaml",
                "github.com/project-slug": "example/service",
            },
        },
        "spec": {"type": "service", "lifecycle": "production", "owner": format!("team-{}", i % 10)},
    })
}

async fn fresh() -> (DatabaseManager, CatalogStore) {
    let manager = DatabaseManager::from_config(&ConfigReader::from_value(json!({})))
        .expect("in-memory SQLite config");
    let client = manager
        .for_plugin("catalog")
        .expect("catalog database")
        .client()
        .await
        .expect("SQLite client");
    let store = CatalogStore::open(client).await.expect("migrations");
    (manager, store)
}

async fn provided(n: usize) -> (DatabaseManager, CatalogStore) {
    let (manager, store) = fresh().await;
    store
        .apply_mutation(
            "bench",
            EntityMutation::Full {
                entities: (0..n)
                    .map(|i| DeferredEntity {
                        entity: component(i),
                        location_key: None,
                    })
                    .collect(),
            },
        )
        .await
        .expect("mutation");
    (manager, store)
}

fn output(entity: &Value) -> ProcessingOutput {
    let name = entity["metadata"]["name"].as_str().unwrap_or_default();
    let me = format!("component:default/{name}");
    let owner = format!(
        "group:default/{}",
        entity["spec"]["owner"].as_str().unwrap_or_default()
    );
    ProcessingOutput {
        ok: true,
        entity: Some(entity.clone()),
        children: vec![],
        relations: vec![
            RelationRow {
                source_ref: me.clone(),
                relation_type: "ownedBy".into(),
                target_ref: owner.clone(),
            },
            RelationRow {
                source_ref: owner,
                relation_type: "ownerOf".into(),
                target_ref: me,
            },
        ],
        errors: vec![],
        refresh_keys: vec!["url:https://example.com/catalog-info.yaml".into()],
        cache: Value::Null,
    }
}

async fn processed(n: usize) -> (DatabaseManager, CatalogStore) {
    let (manager, store) = provided(n).await;
    let claimed = store
        .claim_processing(n, Duration::from_secs(100))
        .await
        .expect("claim");
    let items = claimed
        .into_iter()
        .map(|c| {
            let output = output(&c.unprocessed_entity);
            ProcessedEntity { claimed: c, output }
        })
        .collect();
    store.write_processing_results(items).await.expect("write");
    (manager, store)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("sqlite");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));

    group.bench_function(format!("provider_full_mutation_{N}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_manager, store) = fresh().await;
                    let entities: Vec<DeferredEntity> = (0..N)
                        .map(|i| DeferredEntity {
                            entity: component(i),
                            location_key: None,
                        })
                        .collect();
                    let start = Instant::now();
                    store
                        .apply_mutation("bench", EntityMutation::Full { entities })
                        .await
                        .expect("mutation");
                    total += start.elapsed();
                }
                total
            })
        });
    });

    group.bench_function(format!("claim_and_write_results_{N}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_manager, store) = provided(N).await;
                    let start = Instant::now();
                    let claimed = store
                        .claim_processing(N, Duration::from_secs(100))
                        .await
                        .expect("claim");
                    let items: Vec<ProcessedEntity> = claimed
                        .into_iter()
                        .map(|c| {
                            let output = output(&c.unprocessed_entity);
                            ProcessedEntity { claimed: c, output }
                        })
                        .collect();
                    black_box(store.write_processing_results(items).await.expect("write"));
                    total += start.elapsed();
                }
                total
            })
        });
    });

    group.bench_function(format!("stitch_{N}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_manager, store) = processed(N).await;
                    let start = Instant::now();
                    let report = store
                        .stitch_batch(N + 20, Duration::from_secs(60))
                        .await
                        .expect("stitch");
                    total += start.elapsed();
                    assert_eq!(report.changed, N);
                }
                total
            })
        });
    });

    group.bench_function(format!("changes_since_{N}"), |b| {
        let (_manager, store) = rt.block_on(async {
            let (manager, store) = processed(N).await;
            store
                .stitch_batch(N + 20, Duration::from_secs(60))
                .await
                .expect("stitch");
            (manager, store)
        });
        b.iter(|| {
            rt.block_on(async {
                let changes = store.changes_since(0, N).await.expect("feed");
                assert_eq!(changes.len(), N);
                black_box(changes)
            })
        });
    });
    group.finish();
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
