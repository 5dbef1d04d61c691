//! The `locations` table through `CatalogStore`, on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod storage_support;

use backstage_catalog_backend::CatalogError;
use backstage_catalog_backend::model::LocationSpec;
use storage_support::{Kind, TestDb};

async fn location_crud(kind: Kind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    assert!(store.list_locations().await.unwrap().is_empty());

    let spec = LocationSpec::new("url", "https://example.com/catalog-info.yaml");
    let created = store.create_location(&spec).await.unwrap();
    assert!(uuid::Uuid::parse_str(&created.id).is_ok());
    assert_eq!(created.kind, "url");
    assert_eq!(created.entity_ref, spec.generated_entity_ref());

    // Same type and target again: conflict.
    match store.create_location(&spec).await {
        Err(CatalogError::Conflict(m)) => {
            assert_eq!(
                m,
                "Location url:https://example.com/catalog-info.yaml already exists"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    assert_eq!(
        store.get_location(&created.id).await.unwrap(),
        Some(created.clone())
    );
    // Upper-case UUIDs find the same row; non-UUIDs are simply not found.
    assert_eq!(
        store
            .get_location(&created.id.to_uppercase())
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.get_location("not-a-uuid").await.unwrap(), None);
    assert_eq!(
        store
            .get_location(&uuid::Uuid::new_v4().to_string())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_location("url", "https://example.com/catalog-info.yaml")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store
            .find_location("url", "https://example.com/CATALOG-info.yaml")
            .await
            .unwrap(),
        None
    );

    // Update keeps the entity ref; conflicts with another row are refused.
    let other = store
        .create_location(&LocationSpec::new("url", "https://example.com/other.yaml"))
        .await
        .unwrap();
    let updated = store
        .update_location(&created.id, "url", "https://example.com/moved.yaml")
        .await
        .unwrap();
    assert_eq!(updated.entity_ref, created.entity_ref);
    assert_eq!(updated.target, "https://example.com/moved.yaml");
    assert!(matches!(
        store
            .update_location(&created.id, "url", "https://example.com/other.yaml")
            .await,
        Err(CatalogError::Conflict(_))
    ));
    // Updating to its own current values is fine.
    store
        .update_location(&created.id, "url", "https://example.com/moved.yaml")
        .await
        .unwrap();
    let missing = uuid::Uuid::new_v4().to_string();
    match store.update_location(&missing, "url", "x").await {
        Err(CatalogError::NotFound(m)) => {
            assert_eq!(m, format!("Found no location with ID {missing}"))
        }
        other => panic!("expected not found, got {other:?}"),
    }

    let mut all = store.list_locations().await.unwrap();
    all.sort_by(|a, b| a.target.cmp(&b.target));
    assert_eq!(all, vec![updated.clone(), other.clone()]);

    assert_eq!(store.delete_location(&created.id).await.unwrap(), updated);
    assert!(matches!(
        store.delete_location(&created.id).await,
        Err(CatalogError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_location("nope").await,
        Err(CatalogError::NotFound(_))
    ));
    assert_eq!(store.list_locations().await.unwrap(), vec![other]);
}
per_engine!(location_crud);

async fn bootstrap_rows_are_hidden(kind: Kind) {
    let db = TestDb::new(kind).await;
    let id = uuid::Uuid::new_v4().to_string();
    let sql = format!(
        "INSERT INTO locations (id, type, target, location_entity_ref) \
         VALUES ('{id}', 'bootstrap', 'bootstrap', '')"
    );
    db.store.client().execute_sql(&sql).await.unwrap();
    assert!(db.store.list_locations().await.unwrap().is_empty());
    assert_eq!(db.store.get_location(&id).await.unwrap(), None);
    assert_eq!(
        db.store
            .find_location("bootstrap", "bootstrap")
            .await
            .unwrap(),
        None
    );
}
per_engine!(bootstrap_rows_are_hidden);
