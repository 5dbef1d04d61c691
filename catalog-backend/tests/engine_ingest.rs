//! The engine end to end: provider roots emitting children, processed and stitched by the
//! engine's loops until every entity is in the change feed; and two engines on one
//! PostgreSQL database never processing one entity at the same time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod storage_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backstage_catalog_backend::engine::{CatalogEngine, EngineOptions};
use backstage_catalog_backend::storage::{CatalogStore, EntityMutation};
use serde_json::{Value, json};
use storage_support::{FakeProcessor, Kind, TestDb, deferred, entity};
use tokio_util::sync::CancellationToken;

/// `locations` Location roots, each emitting `per_location` components owned by a group.
fn roots(locations: usize, per_location: usize) -> Vec<Value> {
    (0..locations)
        .map(|l| {
            let children: Vec<Value> = (0..per_location)
                .map(|c| {
                    json!({
                        "kind": "Component",
                        "name": format!("svc-{l}-{c}"),
                        "locationKey": format!("file:/catalog/{l}.yaml"),
                        "spec": {"owner": format!("team-{}", c % 10), "type": "service", "lifecycle": "production"},
                    })
                })
                .collect();
            entity("Location", &format!("loc-{l}"), json!({"children": children}))
        })
        .collect()
}

/// Follows the change feed like an index would, until `expected` entities are live.
async fn follow_until(
    store: &CatalogStore,
    expected: usize,
    timeout: Duration,
) -> HashMap<String, String> {
    let mut feed = store.subscribe_feed();
    let deadline = Instant::now() + timeout;
    let mut live: HashMap<String, String> = HashMap::new();
    let mut after = 0;
    loop {
        feed.borrow_and_update();
        loop {
            let page = store.changes_since(after, 1000).await.unwrap();
            if page.is_empty() {
                break;
            }
            for c in page {
                after = c.seq;
                match c.json {
                    Some(json) => live.insert(c.entity_ref, json),
                    None => live.remove(&c.entity_ref),
                };
            }
        }
        if live.len() >= expected {
            return live;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "only {} of {expected} entities after {timeout:?}",
            live.len()
        );
        let _ = tokio::time::timeout(left.min(Duration::from_millis(500)), feed.changed()).await;
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        poll_interval: Duration::from_millis(200),
        ..EngineOptions::default()
    }
}

async fn ingest(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store.clone();
    let engine = CatalogEngine::with_processing(store.clone(), Arc::new(FakeProcessor), options());
    let cancel = CancellationToken::new();
    let handle = engine.spawn(cancel.clone());

    store
        .apply_mutation(
            "config",
            EntityMutation::Full {
                entities: roots(10, 50)
                    .into_iter()
                    .map(|e| deferred(e, None))
                    .collect(),
            },
        )
        .await
        .unwrap();
    let live = follow_until(&store, 510, Duration::from_secs(60)).await;
    assert_eq!(live.len(), 510);
    let svc: Value = serde_json::from_str(&live["component:default/svc-3-7"]).unwrap();
    assert_eq!(
        svc["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/team-7"}])
    );

    // A removal reaches the feed as tombstones.
    store
        .apply_mutation(
            "config",
            EntityMutation::Full {
                entities: roots(9, 50)
                    .into_iter()
                    .map(|e| deferred(e, None))
                    .collect(),
            },
        )
        .await
        .unwrap();
    let seq = store.current_seq().await.unwrap();
    let deleted = store
        .changes_since(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.json.is_none())
        .count();
    assert_eq!(deleted, 51);
    assert!(seq > 510);

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the engine stops when cancelled")
        .unwrap();
}
per_engine!(ingest);

#[cfg(feature = "postgres")]
mod postgres {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use backstage_catalog_backend::engine::EntityProcessing;
    use backstage_catalog_backend::model::ProcessingOutput;

    use super::storage_support::fake_process;
    use super::*;

    /// Records which entities are being processed right now, and every overlap.
    struct Recorder {
        in_flight: Mutex<HashSet<String>>,
        overlaps: Mutex<Vec<String>>,
        processed: Mutex<HashMap<String, usize>>,
    }

    #[async_trait::async_trait]
    impl EntityProcessing for Recorder {
        async fn process(&self, entity: Value, cache: Value) -> ProcessingOutput {
            let name = entity["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !self.in_flight.lock().unwrap().insert(name.clone()) {
                self.overlaps.lock().unwrap().push(name.clone());
            }
            *self
                .processed
                .lock()
                .unwrap()
                .entry(name.clone())
                .or_default() += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
            let output = fake_process(&entity, &cache);
            self.in_flight.lock().unwrap().remove(&name);
            output
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_engines_never_process_one_entity_at_once() {
        let mut db = TestDb::new(Kind::Postgres).await;
        let replica = db.replica().await;
        let recorder = Arc::new(Recorder {
            in_flight: Mutex::new(HashSet::new()),
            overlaps: Mutex::new(Vec::new()),
            processed: Mutex::new(HashMap::new()),
        });
        let opts = EngineOptions {
            processing_batch_size: 20,
            stitch_batch_size: 50,
            ..options()
        };
        let one = CatalogEngine::with_processing(db.store.clone(), recorder.clone(), opts.clone());
        let two = CatalogEngine::with_processing(replica.clone(), recorder.clone(), opts);
        let cancel = CancellationToken::new();
        let handles = [one.spawn(cancel.clone()), two.spawn(cancel.clone())];

        db.store
            .apply_mutation(
                "config",
                EntityMutation::Full {
                    entities: roots(8, 40)
                        .into_iter()
                        .map(|e| deferred(e, None))
                        .collect(),
                },
            )
            .await
            .unwrap();
        // The second replica wakes by polling only.
        follow_until(&replica, 328, Duration::from_secs(60)).await;
        cancel.cancel();
        for h in handles {
            h.await.unwrap();
        }
        assert!(
            recorder.overlaps.lock().unwrap().is_empty(),
            "{:?}",
            recorder.overlaps.lock().unwrap()
        );
        let processed = recorder.processed.lock().unwrap();
        assert_eq!(processed.len(), 328);
        // Each entity is processed a bounded number of times (a child is re-processed when its
        // parent's result changes), never once per replica per entity.
        assert!(processed.values().all(|n| *n <= 3), "{processed:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_are_disjoint() {
        let mut db = TestDb::new(Kind::Postgres).await;
        let replica = db.replica().await;
        let entities: Vec<Value> = (0..300)
            .map(|i| entity("Component", &format!("c{i}"), json!({})))
            .collect();
        db.store
            .apply_mutation(
                "p",
                EntityMutation::Full {
                    entities: entities.into_iter().map(|e| deferred(e, None)).collect(),
                },
            )
            .await
            .unwrap();
        let claim_all = |store: Arc<CatalogStore>| async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim_processing(7, Duration::from_secs(100))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|c| c.entity_ref));
            }
        };
        let (a, b) = tokio::join!(
            tokio::spawn(claim_all(db.store.clone())),
            tokio::spawn(claim_all(replica.clone()))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let a_set: HashSet<_> = a.iter().collect();
        assert!(
            b.iter().all(|r| !a_set.contains(r)),
            "a ref was claimed twice"
        );
        assert_eq!(a.len() + b.len(), 300);
        assert!(!a.is_empty() && !b.is_empty(), "both replicas got work");
    }

    /// 100 locations of 100 entities; `CATALOG_INGEST_LOCATIONS` scales it (1000 for the
    /// 100,000-entity run).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_thousand_entities_on_postgres() {
        let locations: usize = std::env::var("CATALOG_INGEST_LOCATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        let expected = locations * 101;
        let db = TestDb::new(Kind::Postgres).await;
        let store = db.store.clone();
        let engine =
            CatalogEngine::with_processing(store.clone(), Arc::new(FakeProcessor), options());
        let cancel = CancellationToken::new();
        let handle = engine.spawn(cancel.clone());
        let started = Instant::now();
        store
            .apply_mutation(
                "config",
                EntityMutation::Full {
                    entities: roots(locations, 100)
                        .into_iter()
                        .map(|e| deferred(e, None))
                        .collect(),
                },
            )
            .await
            .unwrap();
        let live = follow_until(&store, expected, Duration::from_secs(120)).await;
        let elapsed = started.elapsed();
        eprintln!("{expected} entities processed and stitched on PostgreSQL in {elapsed:?}");
        assert_eq!(live.len(), expected);
        // Stitching and processing lock shared queue rows in one order, so they never
        // deadlock (each deadlock costs PostgreSQL's 1 s `deadlock_timeout`; completing a
        // stitch used to lock its rows in scan order and hit several per run).
        assert_eq!(store.retried_transactions(), 0);
        cancel.cancel();
        handle.await.unwrap();
    }
}
