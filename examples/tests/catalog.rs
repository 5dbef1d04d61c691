//! The catalog examples: modules extend the catalog plugin through its extension points, and
//! the catalog embeds in a host router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::Request;
use backstage_backend_common::config::ConfigReader;
use backstage_catalog_backend::{Catalog, catalog_plugin};
use backstage_core_app_api::DefaultServices;
use backstage_database::{DatabaseManager, DatabaseService};
use backstage_examples::catalog_extensions::{
    HrTeamsProvider, TIER_LABEL, processor_module, provider_module,
};
use serde_json::{Value, json};
use tower::ServiceExt;

fn demo_location() -> String {
    format!(
        "{}/catalog/all.yaml",
        env!("CARGO_MANIFEST_DIR").trim_end_matches('/')
    )
}

fn config() -> ConfigReader {
    ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "auth": {"dangerouslyDisableDefaultAuthPolicy": true},
            "database": {"client": "better-sqlite3", "connection": ":memory:"},
        },
        "catalog": {
            "locations": [{"type": "file", "target": demo_location()}],
            "rules": [{"allow": ["Component", "System", "API", "Resource", "Location", "Domain", "Group", "User"]}],
        },
    }))
}

async fn get(app: &axum::Router, path: &str) -> (u16, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 16 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Polls `path` until `done` holds for its JSON body.
async fn eventually(app: &axum::Router, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(app, path).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never satisfied the condition; last answer {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn modules_add_a_processor_and_a_provider() {
    let backend = DefaultServices::new()
        .config(config())
        .embedded()
        .backend()
        .unwrap();
    for factory in backstage_database::service_factories() {
        backend.add(factory).unwrap();
    }
    backend.add(catalog_plugin()).unwrap();
    backend.add(processor_module()).unwrap();
    backend
        .add(provider_module(HrTeamsProvider::new(&[
            ("hr-finance", "Finance"),
            ("hr-legal", "Legal"),
        ])))
        .unwrap();
    backend.start().await.unwrap();
    let app = backend.router().await.unwrap();

    // The provider's groups arrive next to the demo catalog's.
    let groups = eventually(
        &app,
        "/api/catalog/entities?filter=kind=group&fields=metadata.name",
        |body| body.as_array().is_some_and(|a| a.len() == 9),
    )
    .await;
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["metadata"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"hr-finance") && names.contains(&"hr-legal"),
        "{names:?}"
    );

    // The processor labelled every component: production ones tier 1, the others tier 3.
    let components = eventually(
        &app,
        "/api/catalog/entities?filter=kind=component",
        |body| body.as_array().is_some_and(|a| a.len() == 10),
    )
    .await;
    for component in components.as_array().unwrap() {
        let expected = if component["spec"]["lifecycle"] == "production" {
            "1"
        } else {
            "3"
        };
        assert_eq!(
            component["metadata"]["labels"][TIER_LABEL], expected,
            "{}",
            component["metadata"]["name"]
        );
    }
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn the_catalog_embeds_in_a_host_router() {
    let config = config();
    let databases = DatabaseManager::from_config(&config).unwrap();
    let client = databases
        .for_plugin("catalog")
        .unwrap()
        .client()
        .await
        .unwrap();
    let catalog = Catalog::builder(&config, client).build().await.unwrap();
    catalog.start().await.unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "host" }))
        .nest("/api/catalog", catalog.router());
    let systems = eventually(
        &app,
        "/api/catalog/entities?filter=kind=system&fields=metadata.name",
        |body| body.as_array().is_some_and(|a| a.len() == 4),
    )
    .await;
    assert!(
        systems
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["metadata"].get("name").is_some())
    );
    let (status, _) = get(
        &app,
        "/api/catalog/entities/by-name/component/default/no-such",
    )
    .await;
    assert_eq!(status, 404);
    catalog.stop().await;
    databases.close().await;
}
