//! Provider mutations (spec 4.2), conflicts (4.10), eager pruning (4.11) and refresh keys
//! (4.12), on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod storage_support;

use std::time::Duration;

use backstage_catalog_backend::CatalogError;
use backstage_catalog_backend::storage::{CatalogStore, EntityMutation, RemovedEntity};
use serde_json::json;
use storage_support::{Kind, TestDb, deferred, entity, finals, ref_of, settle};

/// The refs due for processing (claimed, then released again).
async fn due_refs(store: &CatalogStore) -> Vec<String> {
    let claimed = store
        .claim_processing(1000, Duration::from_secs(100))
        .await
        .unwrap();
    let ids: Vec<String> = claimed.iter().map(|c| c.entity_id.clone()).collect();
    store.release_claims(&ids).await.unwrap();
    let mut refs: Vec<String> = claimed.into_iter().map(|c| c.entity_ref).collect();
    refs.sort();
    refs
}

fn full(entities: Vec<serde_json::Value>, key: Option<&str>) -> EntityMutation {
    EntityMutation::Full {
        entities: entities.into_iter().map(|e| deferred(e, key)).collect(),
    }
}

async fn uid_of(store: &CatalogStore, entity_ref: &str) -> Option<String> {
    finals(store)
        .await
        .get(entity_ref)
        .map(|e| e["metadata"]["uid"].as_str().unwrap().to_owned())
}

async fn full_mutations(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    let a = entity("Component", "a", json!({"owner": "team"}));
    let b = entity("Component", "b", json!({}));
    let c = entity("Component", "c", json!({}));
    store
        .apply_mutation("p", full(vec![a.clone(), b.clone(), c.clone()], Some("k")))
        .await
        .unwrap();
    assert_eq!(
        due_refs(store).await,
        vec![
            ref_of("Component", "a"),
            ref_of("Component", "b"),
            ref_of("Component", "c")
        ]
    );
    assert_eq!(store.provider_keys().await.unwrap(), vec!["p".to_owned()]);
    settle(store).await;

    // The same bucket again: nothing is rescheduled.
    store
        .apply_mutation("p", full(vec![a.clone(), b.clone(), c.clone()], Some("k")))
        .await
        .unwrap();
    assert!(due_refs(store).await.is_empty());

    // Change b, drop c, add d: b and d are due, c is gone.
    let b_uid = uid_of(store, &ref_of("Component", "b")).await.unwrap();
    assert!(finals(store).await.contains_key(&ref_of("Component", "c")));
    let b2 = entity("Component", "b", json!({"changed": true}));
    let d = entity("Component", "d", json!({}));
    store
        .apply_mutation("p", full(vec![a.clone(), b2.clone(), d.clone()], Some("k")))
        .await
        .unwrap();
    assert_eq!(
        due_refs(store).await,
        vec![ref_of("Component", "b"), ref_of("Component", "d")]
    );
    let now = finals(store).await;
    assert!(
        !now.contains_key(&ref_of("Component", "c")),
        "c was pruned at once"
    );
    settle(store).await;
    let now = finals(store).await;
    assert_eq!(now[&ref_of("Component", "b")]["spec"]["changed"], true);
    assert_eq!(
        uid_of(store, &ref_of("Component", "b")).await.unwrap(),
        b_uid,
        "upsert keeps the uid"
    );

    // A new location key: removed and added again, with a new uid.
    store
        .apply_mutation(
            "p",
            full(vec![a.clone(), b2.clone(), d.clone()], Some("k2")),
        )
        .await
        .unwrap();
    assert_eq!(
        due_refs(store).await,
        vec![
            ref_of("Component", "a"),
            ref_of("Component", "b"),
            ref_of("Component", "d")
        ]
    );
    settle(store).await;
    let new_uid = uid_of(store, &ref_of("Component", "b")).await.unwrap();
    assert_ne!(new_uid, b_uid);

    // An empty bucket removes everything.
    store.apply_mutation("p", full(vec![], None)).await.unwrap();
    settle(store).await;
    assert!(finals(store).await.is_empty());
    assert!(store.provider_keys().await.unwrap().is_empty());
}
per_engine!(full_mutations);

async fn delta_mutations(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    let a = entity("Component", "a", json!({}));
    let b = entity("Component", "b", json!({}));
    store
        .apply_mutation(
            "p",
            EntityMutation::Delta {
                added: vec![deferred(a.clone(), None), deferred(b.clone(), None)],
                removed: vec![],
            },
        )
        .await
        .unwrap();
    settle(store).await;
    assert_eq!(finals(store).await.len(), 2);

    // Unchanged additions do nothing; a removal by ref (any case) prunes.
    store
        .apply_mutation(
            "p",
            EntityMutation::Delta {
                added: vec![deferred(a.clone(), None)],
                removed: vec![RemovedEntity::new("Component:default/B")],
            },
        )
        .await
        .unwrap();
    assert!(due_refs(store).await.is_empty());
    let now = finals(store).await;
    assert_eq!(
        now.keys().cloned().collect::<Vec<_>>(),
        vec![ref_of("Component", "a")]
    );

    // A changed addition is an upsert.
    let a2 = entity("Component", "a", json!({"v": 2}));
    store
        .apply_mutation(
            "p",
            EntityMutation::Delta {
                added: vec![deferred(a2, None)],
                removed: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(due_refs(store).await, vec![ref_of("Component", "a")]);

    // Removing something this provider does not own does nothing.
    store
        .apply_mutation(
            "other",
            EntityMutation::Delta {
                added: vec![],
                removed: vec![RemovedEntity::new(ref_of("Component", "a"))],
            },
        )
        .await
        .unwrap();
    settle(store).await;
    assert!(finals(store).await.contains_key(&ref_of("Component", "a")));
}
per_engine!(delta_mutations);

async fn conflicts_between_providers(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    let from_a = entity("Component", "x", json!({"from": "a"}));
    let from_b = entity("Component", "x", json!({"from": "b"}));
    store
        .apply_mutation("provider-a", full(vec![from_a.clone()], Some("url:a")))
        .await
        .unwrap();
    settle(store).await;
    // Another key for the same ref: the first writer keeps it.
    store
        .apply_mutation("provider-b", full(vec![from_b.clone()], Some("url:b")))
        .await
        .unwrap();
    settle(store).await;
    let x = ref_of("Component", "x");
    assert_eq!(finals(store).await[&x]["spec"]["from"], "a");
    assert_eq!(
        store.provider_keys().await.unwrap(),
        vec!["provider-a".to_owned()]
    );

    // Once the owner lets go, the other provider wins on its next mutation.
    store
        .apply_mutation("provider-a", full(vec![], None))
        .await
        .unwrap();
    assert!(!finals(store).await.contains_key(&x));
    store
        .apply_mutation("provider-b", full(vec![from_b.clone()], Some("url:b")))
        .await
        .unwrap();
    settle(store).await;
    assert_eq!(finals(store).await[&x]["spec"]["from"], "b");

    // A keyless row can be claimed by a keyed writer.
    let y_free = entity("Component", "y", json!({"from": "free"}));
    let y_keyed = entity("Component", "y", json!({"from": "keyed"}));
    store
        .apply_mutation("provider-c", full(vec![y_free], None))
        .await
        .unwrap();
    store
        .apply_mutation("provider-d", full(vec![y_keyed], Some("url:d")))
        .await
        .unwrap();
    settle(store).await;
    assert_eq!(
        finals(store).await[&ref_of("Component", "y")]["spec"]["from"],
        "keyed"
    );
}
per_engine!(conflicts_between_providers);

async fn eager_pruning(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    // root -> mid -> leaf, and root2 -> other; `kept` is also held by another provider.
    let root = entity(
        "Location",
        "root",
        json!({"children": [
            {"kind": "Location", "name": "mid", "spec": {"children": [
                {"kind": "Component", "name": "leaf"},
                {"kind": "Component", "name": "kept"},
            ]}},
        ]}),
    );
    let root2 = entity(
        "Location",
        "root2",
        json!({"children": [{"kind": "Component", "name": "other"}]}),
    );
    store
        .apply_mutation("p", full(vec![root, root2], None))
        .await
        .unwrap();
    settle(store).await;
    assert_eq!(finals(store).await.len(), 6);
    db.store
        .client()
        .execute_sql(
            "INSERT INTO refresh_state_references (source_key, target_entity_ref) \
             VALUES ('elsewhere', 'component:default/kept')",
        )
        .await
        .unwrap();

    let seq_before = store.current_seq().await.unwrap();
    store
        .apply_mutation(
            "p",
            EntityMutation::Delta {
                added: vec![],
                removed: vec![RemovedEntity::new(ref_of("Location", "root"))],
            },
        )
        .await
        .unwrap();
    let mut left: Vec<String> = finals(store).await.into_keys().collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            ref_of("Component", "kept"),
            ref_of("Component", "other"),
            ref_of("Location", "root2")
        ]
    );
    // Three tombstones, after everything seen before.
    let changes = store.changes_since(seq_before, 100).await.unwrap();
    let mut deleted: Vec<String> = changes
        .iter()
        .filter(|c| c.json.is_none())
        .map(|c| c.entity_ref.clone())
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            ref_of("Component", "leaf"),
            ref_of("Location", "mid"),
            ref_of("Location", "root")
        ]
    );
}
per_engine!(eager_pruning);

async fn refresh_by_keys(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    let long = format!("url:https://example.com/{}", "x".repeat(400));
    let a = entity(
        "Component",
        "a",
        json!({"refreshKeys": ["file:/tmp/a.yaml", long.clone()]}),
    );
    let b = entity(
        "Component",
        "b",
        json!({"refreshKeys": ["file:/tmp/b.yaml"]}),
    );
    store
        .apply_mutation("p", full(vec![a, b], None))
        .await
        .unwrap();
    settle(store).await;
    assert!(due_refs(store).await.is_empty());
    assert_eq!(
        store
            .refresh_by_keys(&["file:/tmp/a.yaml".to_owned()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(due_refs(store).await, vec![ref_of("Component", "a")]);
    settle(store).await;
    assert!(due_refs(store).await.is_empty());
    assert_eq!(store.refresh_by_keys(&[long]).await.unwrap(), 1);
    assert_eq!(due_refs(store).await, vec![ref_of("Component", "a")]);
    assert_eq!(
        store
            .refresh_by_keys(&["file:/nope".to_owned()])
            .await
            .unwrap(),
        0
    );
}
per_engine!(refresh_by_keys);

async fn malformed_envelopes_are_refused(kind: Kind) {
    let db = TestDb::new(kind).await;
    let good = entity("Component", "a", json!({}));
    let bad = json!({"apiVersion": "v1", "kind": "Component", "metadata": {}});
    let err = db
        .store
        .apply_mutation("p", full(vec![good, bad], None))
        .await
        .unwrap_err();
    match err {
        CatalogError::Input(m) => assert!(m.starts_with("Malformed entity envelope"), "{m}"),
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(due_refs(&db.store).await.is_empty());
}
per_engine!(malformed_envelopes_are_refused);
