//! The bookmarks plugin runs unchanged on SQLite and PostgreSQL.

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::{Body, to_bytes};
use axum::http::Request;
use backstage_backend_common::config::ConfigReader;
use backstage_core_app_api::{Backend, DefaultServices};
use backstage_database::database_service_factory;
use backstage_examples::bookmarks;
use backstage_test_support::{Server, unique_name};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn backend(database: Value) -> Backend {
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "auth": { "dangerouslyDisableDefaultAuthPolicy": true },
            "database": database,
        },
    }));
    let backend = DefaultServices::new()
        .config(config)
        .embedded()
        .backend()
        .unwrap();
    backend.add(database_service_factory()).unwrap();
    backend.add(bookmarks::plugin()).unwrap();
    backend.start().await.unwrap();
    backend
}

async fn call(backend: &Backend, method: &str, body: Option<Value>) -> (u16, Value) {
    let router = backend.router().await.unwrap();
    let mut request = Request::builder()
        .method(method)
        .uri("/api/bookmarks/bookmarks");
    let body = match body {
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = router.oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

async fn exercise(database: Value) {
    let first = backend(database.clone()).await;
    assert_eq!(
        call(
            &first,
            "POST",
            Some(json!({"url": "https://backstage.io", "title": "Backstage"}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(
            &first,
            "POST",
            Some(json!({"url": "ftp://x", "title": "x"}))
        )
        .await
        .0,
        400
    );
    let (status, list) = call(&first, "GET", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!([{ "id": 1, "url": "https://backstage.io", "title": "Backstage" }])
    );
    first.stop().await.unwrap();
}

#[tokio::test]
async fn on_sqlite_in_memory() {
    exercise(json!({ "client": "better-sqlite3", "connection": ":memory:" })).await;
}

#[tokio::test]
async fn on_sqlite_files_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = json!({
        "client": "better-sqlite3",
        "connection": { "directory": dir.path().to_str().unwrap() },
    });
    exercise(database.clone()).await;
    // A second backend on the same files: migrations are not re-applied, data is there.
    let again = backend(database).await;
    let (_, list) = call(&again, "GET", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let client = again_client(&again).await;
    assert!(
        bookmarks::migrations()
            .pending(&client)
            .await
            .unwrap()
            .is_empty()
    );
    again.stop().await.unwrap();
    assert!(dir.path().join("bookmarks.sqlite").exists());
}

/// The plugin's database as a second manager on the same files sees it (SQLite files are
/// shared between managers, as between processes).
async fn again_client(backend: &Backend) -> backstage_database::DatabaseClient {
    let config = backend
        .service(backstage_core_plugin_api::core_services::ROOT_CONFIG)
        .await
        .unwrap()
        .reader();
    let manager = backstage_database::DatabaseManager::from_config(&config).unwrap();
    let database = manager.for_plugin("bookmarks").unwrap();
    backstage_database::DatabaseService::client(&database)
        .await
        .unwrap()
}

#[tokio::test]
async fn on_postgres() {
    let url = Server::Postgres.url();
    let prefix = format!("{}_", unique_name("bm"));
    exercise(json!({ "client": "pg", "connection": url, "prefix": prefix })).await;
    // Clean up the plugin's database.
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{prefix}bookmarks\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}
