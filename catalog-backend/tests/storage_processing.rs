//! Processing writes (spec 4.4), stitching (4.8), deletion and orphans (4.11), refresh (3.9),
//! ancestry (3.8) and the change feed, on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod storage_support;

use std::time::Duration;

use backstage_catalog_backend::CatalogError;
use backstage_catalog_backend::model::ProcessingOutput;
use backstage_catalog_backend::storage::{CatalogStore, EntityMutation};
use serde_json::{Value, json};
use storage_support::{
    Kind, TestDb, deferred, entity, fake_process, finals, process_all, process_all_with, ref_of,
    settle, stitch_all,
};

async fn provide(store: &CatalogStore, provider: &str, entities: Vec<Value>) {
    store
        .apply_mutation(
            provider,
            EntityMutation::Full {
                entities: entities.into_iter().map(|e| deferred(e, None)).collect(),
            },
        )
        .await
        .unwrap();
}

fn root_with(children: Value) -> Value {
    entity("Location", "root", json!({ "children": children }))
}

async fn children_relations_and_ancestry(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![root_with(json!([
            {"kind": "Component", "name": "a", "spec": {"owner": "team"}},
            {"kind": "Group", "name": "team"},
        ]))],
    )
    .await;
    settle(store).await;
    let all = finals(store).await;
    assert_eq!(all.len(), 3);
    let a = &all[&ref_of("Component", "a")];
    let team = &all[&ref_of("Group", "team")];
    assert_eq!(
        a["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/team"}])
    );
    assert_eq!(
        team["relations"],
        json!([{"type": "ownerOf", "targetRef": "component:default/a"}])
    );
    assert_eq!(all[&ref_of("Location", "root")]["relations"], json!([]));
    for e in all.values() {
        let uid = e["metadata"]["uid"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(uid).is_ok());
        assert_eq!(e["metadata"]["etag"].as_str().unwrap().len(), 40);
        assert!(
            e["metadata"]["annotations"]
                .get("backstage.io/orphan")
                .is_none()
        );
        assert!(e.get("status").is_none());
    }
    // The feed carries the uid and ref of each entity.
    let changes = store.changes_since(0, 100).await.unwrap();
    assert_eq!(changes.len(), 3);
    for c in &changes {
        let e: Value = serde_json::from_str(c.json.as_deref().unwrap()).unwrap();
        assert_eq!(e["metadata"]["uid"], c.uid.as_str());
    }

    assert_eq!(
        store.ancestry("Component:Default/A").await.unwrap(),
        vec![
            (ref_of("Component", "a"), vec![ref_of("Location", "root")]),
            (ref_of("Location", "root"), vec![]),
        ]
    );
    match store.ancestry("component:default/nope").await {
        Err(CatalogError::NotFound(m)) => assert_eq!(m, "No such entity component:default/nope"),
        other => panic!("expected not found, got {other:?}"),
    }

    // Changing the owner moves the reverse relation from one group to the other.
    provide(
        store,
        "p",
        vec![root_with(json!([
            {"kind": "Component", "name": "a", "spec": {"owner": "other"}},
            {"kind": "Group", "name": "team"},
            {"kind": "Group", "name": "other"},
        ]))],
    )
    .await;
    settle(store).await;
    let all = finals(store).await;
    assert_eq!(all[&ref_of("Group", "team")]["relations"], json!([]));
    assert_eq!(
        all[&ref_of("Group", "other")]["relations"],
        json!([{"type": "ownerOf", "targetRef": "component:default/a"}])
    );
    assert_eq!(
        all[&ref_of("Component", "a")]["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/other"}])
    );
}
per_engine!(children_relations_and_ancestry);

async fn orphans_and_cleanup(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![root_with(json!([
            {"kind": "Component", "name": "a"},
            {"kind": "Location", "name": "b", "spec": {"children": [{"kind": "Component", "name": "c"}]}},
        ]))],
    )
    .await;
    settle(store).await;
    assert_eq!(finals(store).await.len(), 4);

    // The root stops emitting b: b is annotated as an orphan, c (its child) is not.
    provide(
        store,
        "p",
        vec![root_with(json!([{"kind": "Component", "name": "a"}]))],
    )
    .await;
    settle(store).await;
    let all = finals(store).await;
    assert_eq!(
        all[&ref_of("Location", "b")]["metadata"]["annotations"]["backstage.io/orphan"],
        "true"
    );
    assert!(
        all[&ref_of("Component", "c")]["metadata"]["annotations"]
            .get("backstage.io/orphan")
            .is_none()
    );
    // An orphan cannot be refreshed.
    match store.refresh_entity(&ref_of("Location", "b")).await {
        Err(CatalogError::NotFound(m)) => assert_eq!(m, "Entity location:default/b not found"),
        other => panic!("expected not found, got {other:?}"),
    }

    // Cleanup deletes b, then c in the next round.
    assert_eq!(store.delete_orphans().await.unwrap(), 2);
    let mut left: Vec<String> = finals(store).await.into_keys().collect();
    left.sort();
    assert_eq!(
        left,
        vec![ref_of("Component", "a"), ref_of("Location", "root")]
    );
    assert_eq!(store.delete_orphans().await.unwrap(), 0);
}
per_engine!(orphans_and_cleanup);

async fn processing_errors_and_status(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![
            entity("Component", "never", json!({"fail": "bad from the start"})),
            entity("Component", "later", json!({})),
        ],
    )
    .await;
    settle(store).await;
    let all = finals(store).await;
    assert!(
        !all.contains_key(&ref_of("Component", "never")),
        "never processed: invisible"
    );
    assert!(all[&ref_of("Component", "later")].get("status").is_none());

    provide(
        store,
        "p",
        vec![
            entity("Component", "never", json!({"fail": "bad from the start"})),
            entity("Component", "later", json!({"fail": "boom"})),
        ],
    )
    .await;
    settle(store).await;
    let later = &finals(store).await[&ref_of("Component", "later")];
    assert_eq!(
        later["status"]["items"],
        json!([{
            "type": "backstage.io/catalog-processing",
            "level": "error",
            "message": "InputError: boom",
            "error": {"name": "InputError", "message": "boom"},
        }])
    );
    // The previous processed entity stays.
    assert_eq!(later["spec"], json!({}));

    // Fixed again: the status goes away.
    provide(store, "p", vec![entity("Component", "later", json!({}))]).await;
    settle(store).await;
    assert!(
        finals(store).await[&ref_of("Component", "later")]
            .get("status")
            .is_none()
    );
}
per_engine!(processing_errors_and_status);

async fn etags_are_stable(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![root_with(json!([
            {"kind": "Component", "name": "a", "spec": {"owner": "team"}},
            {"kind": "Group", "name": "team"},
        ]))],
    )
    .await;
    settle(store).await;
    let before = finals(store).await;
    let seq = store.current_seq().await.unwrap();
    assert!(seq >= 3);

    // Force everything through processing and stitching again with identical input.
    for r in before.keys() {
        assert!(store.reprocess_now(r).await.unwrap());
    }
    // (The root's new result re-schedules its children once more.)
    assert!(process_all(store).await >= 3);
    assert_eq!(stitch_all(store).await, 0, "nothing changed");
    assert!(store.changes_since(seq, 10).await.unwrap().is_empty());
    assert_eq!(store.current_seq().await.unwrap(), seq);
    assert_eq!(finals(store).await, before);

    // An entity with its own etag keeps it.
    provide(
        store,
        "p",
        vec![
            root_with(json!([
                {"kind": "Component", "name": "a", "spec": {"owner": "team"}},
                {"kind": "Group", "name": "team"},
            ])),
            {
                let mut e = entity("Component", "own", json!({}));
                e["metadata"]["etag"] = json!("my-etag");
                e
            },
        ],
    )
    .await;
    settle(store).await;
    let own = &finals(store).await[&ref_of("Component", "own")];
    assert_eq!(own["metadata"]["etag"], "my-etag");
}
per_engine!(etags_are_stable);

async fn explicit_delete(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![root_with(json!([
            {"kind": "Component", "name": "a", "spec": {"owner": "team"}},
            {"kind": "Group", "name": "team"},
        ]))],
    )
    .await;
    settle(store).await;
    let a_ref = ref_of("Component", "a");
    let uid = finals(store).await[&a_ref]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!store.delete_entity_by_uid("no-such-uid").await.unwrap());
    let seq = store.current_seq().await.unwrap();
    assert!(store.delete_entity_by_uid(&uid).await.unwrap());
    let changes = store.changes_since(seq, 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].uid.as_str(), changes[0].json.as_ref()),
        (uid.as_str(), None)
    );
    assert!(!finals(store).await.contains_key(&a_ref));

    // The group is re-stitched without the relation the component owned.
    stitch_all(store).await;
    assert_eq!(
        finals(store).await[&ref_of("Group", "team")]["relations"],
        json!([])
    );

    // The parent was forced to re-process: it emits the component again, with a new uid.
    settle(store).await;
    let all = finals(store).await;
    let again = all[&a_ref]["metadata"]["uid"].as_str().unwrap();
    assert_ne!(again, uid);
    assert_eq!(
        all[&ref_of("Group", "team")]["relations"],
        json!([{"type": "ownerOf", "targetRef": "component:default/a"}])
    );
}
per_engine!(explicit_delete);

async fn refresh_entity(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![root_with(json!([
            {"kind": "Location", "name": "mid", "spec": {"children": [{"kind": "Component", "name": "leaf"}]}},
        ]))],
    )
    .await;
    settle(store).await;
    store
        .refresh_entity("Component:default/LEAF")
        .await
        .unwrap();
    let claimed = store
        .claim_processing(10, Duration::from_secs(100))
        .await
        .unwrap();
    let mut due: Vec<String> = claimed.iter().map(|c| c.entity_ref.clone()).collect();
    due.sort();
    assert_eq!(
        due,
        vec![
            ref_of("Component", "leaf"),
            ref_of("Location", "mid"),
            ref_of("Location", "root")
        ]
    );
    // A provider root refreshes itself.
    store
        .refresh_entity(&ref_of("Location", "root"))
        .await
        .unwrap();
    match store.refresh_entity("component:default/unknown").await {
        Err(CatalogError::NotFound(m)) => {
            assert_eq!(m, "Entity component:default/unknown not found")
        }
        other => panic!("expected not found, got {other:?}"),
    }
}
per_engine!(refresh_entity);

async fn child_conflicts(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(
        store,
        "p",
        vec![entity(
            "Location",
            "one",
            json!({"children": [{"kind": "Component", "name": "x", "locationKey": "url:one", "spec": {"from": "one"}}]}),
        )],
    )
    .await;
    settle(store).await;
    provide(
        store,
        "q",
        vec![entity(
            "Location",
            "two",
            json!({"children": [{"kind": "Component", "name": "x", "locationKey": "url:two", "spec": {"from": "two"}}]}),
        )],
    )
    .await;
    settle(store).await;
    let all = finals(store).await;
    assert_eq!(all[&ref_of("Component", "x")]["spec"]["from"], "one");
    assert_eq!(
        store.ancestry(&ref_of("Component", "x")).await.unwrap()[0].1,
        vec![ref_of("Location", "one")]
    );
}
per_engine!(child_conflicts);

async fn unchanged_results_are_skipped_and_caches_kept(kind: Kind) {
    use backstage_catalog_backend::model::SerializedError;
    use backstage_catalog_backend::storage::ProcessedEntity;
    let db = TestDb::new(kind).await;
    let store = &db.store;
    provide(store, "p", vec![entity("Component", "a", json!({}))]).await;
    settle(store).await;
    let a = ref_of("Component", "a");
    let claim = || async {
        store
            .claim_processing(10, Duration::from_secs(100))
            .await
            .unwrap()
    };

    // Forced: no previous hash; the cache of the last successful run is handed back.
    assert!(store.reprocess_now(&a).await.unwrap());
    let first = claim().await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].result_hash, None);
    assert_eq!(first[0].cache, json!({"ttl": 5, "seen": true}));
    let output = fake_process(&first[0].unprocessed_entity, &first[0].cache);
    let report = store
        .write_processing_results(vec![ProcessedEntity {
            claimed: first[0].clone(),
            output: output.clone(),
        }])
        .await
        .unwrap();
    assert_eq!((report.changed, report.unchanged), (1, 0));

    // The same output again: nothing written.
    store.refresh_entity(&a).await.unwrap();
    let second = claim().await;
    assert!(second[0].result_hash.is_some());
    let report = store
        .write_processing_results(vec![ProcessedEntity {
            claimed: second[0].clone(),
            output,
        }])
        .await
        .unwrap();
    assert_eq!((report.changed, report.unchanged), (0, 1));

    // A failed run counts the cache down and surfaces the error.
    store.refresh_entity(&a).await.unwrap();
    let n = process_all_with(store, |_| ProcessingOutput {
        ok: false,
        errors: vec![SerializedError::new("Error", "x")],
        ..Default::default()
    })
    .await;
    assert_eq!(n, 1);
    stitch_all(store).await;
    assert_eq!(
        finals(store).await[&a]["status"]["items"][0]["message"],
        "Error: x"
    );
    store.refresh_entity(&a).await.unwrap();
    let third = claim().await;
    assert_eq!(third[0].cache, json!({"ttl": 4, "seen": true}));
}
per_engine!(unchanged_results_are_skipped_and_caches_kept);

async fn change_feed(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    assert_eq!(store.current_seq().await.unwrap(), 0);
    assert!(store.changes_since(0, 10).await.unwrap().is_empty());
    let names: Vec<String> = (0..25).map(|i| format!("e{i:02}")).collect();
    provide(
        store,
        "p",
        names
            .iter()
            .map(|n| entity("Component", n, json!({})))
            .collect(),
    )
    .await;
    settle(store).await;
    // Pages in seq order.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.changes_since(after, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        for c in page {
            assert!(c.seq > after);
            after = c.seq;
            seen.push(c.entity_ref);
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(store.current_seq().await.unwrap(), after);

    // An update moves the entity to the end of the feed; a deletion adds a tombstone.
    provide(
        store,
        "p",
        names
            .iter()
            .skip(1)
            .map(|n| {
                let spec = if n == "e05" {
                    json!({"v": 1})
                } else {
                    json!({})
                };
                entity("Component", n, spec)
            })
            .collect(),
    )
    .await;
    settle(store).await;
    let tail = store.changes_since(after, 100).await.unwrap();
    let shape: Vec<(String, bool)> = tail
        .iter()
        .map(|c| (c.entity_ref.clone(), c.json.is_some()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (ref_of("Component", "e00"), false),
            (ref_of("Component", "e05"), true)
        ]
    );
    // Each entity appears once, at its latest seq.
    let all = store.changes_since(0, 100).await.unwrap();
    let e05: Vec<_> = all
        .iter()
        .filter(|c| c.entity_ref == ref_of("Component", "e05"))
        .collect();
    assert_eq!(e05.len(), 1);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));

    // Pruning tombstones raises the floor.
    assert_eq!(store.feed_floor().await.unwrap(), 0);
    assert_eq!(
        store
            .prune_tombstones(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(store.prune_tombstones(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(store.feed_floor().await.unwrap(), tail[0].seq);
    assert!(
        store
            .changes_since(after, 100)
            .await
            .unwrap()
            .iter()
            .all(|c| c.json.is_some())
    );
}
per_engine!(change_feed);

/// Marking entities for stitching (as processing does, refs in sorted order) while the
/// stitcher completes its claims never deadlocks: both lock queue rows in ref order.
/// Completing a claim used to lock them in scan order, and PostgreSQL then aborted one side
/// after `deadlock_timeout` (1 s by default).
async fn marking_and_stitching_do_not_deadlock(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = db.store.clone();
    let entities: Vec<Value> = (0..400)
        .map(|i| entity("Component", &format!("c{i:03}"), json!({})))
        .collect();
    let refs: Vec<String> = (0..400)
        .map(|i| ref_of("Component", &format!("c{i:03}")))
        .collect();
    provide(&store, "p", entities).await;
    settle(&store).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let marker = tokio::spawn({
        let store = store.clone();
        async move {
            let mut rounds = 0;
            while tokio::time::Instant::now() < deadline {
                store.mark_for_stitching(&refs).await.unwrap();
                rounds += 1;
            }
            rounds
        }
    });
    let mut stitched = 0;
    while tokio::time::Instant::now() < deadline {
        stitched += store
            .stitch_batch(50, Duration::from_secs(60))
            .await
            .unwrap()
            .claimed;
    }
    let rounds = marker.await.unwrap();
    assert!(
        rounds > 1 && stitched > 400,
        "{rounds} rounds, {stitched} stitched"
    );
    assert_eq!(store.retried_transactions(), 0);
}
per_engine!(marking_and_stitching_do_not_deadlock);
