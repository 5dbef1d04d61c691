//! The example plugin does what its docs say, in a backend and on its own.

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::Request;
use backstage_backend_common::config::ConfigReader;
use backstage_core_app_api::DefaultServices;
use backstage_core_plugin_api::core_services;
use backstage_examples::todo::{self, MemoryTodoStore, TODO_STORE, TodoStore};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "example-token-0123456789";

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: bool,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if token {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    let body = match body {
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

#[tokio::test]
async fn the_plugin_in_a_backend() {
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "auth": { "externalAccess": [{
                "type": "static", "options": { "token": TOKEN, "subject": "tests" },
            }] },
        },
    }));
    let backend = DefaultServices::new()
        .config(config)
        .embedded()
        .backend()
        .unwrap();
    backend.add(todo::plugin()).unwrap();
    backend.add(todo::seed_module(&["seeded"])).unwrap();
    backend.start().await.unwrap();
    let app = backend.router().await.unwrap();

    assert_eq!(
        call(&app, "GET", "/api/todo/health", None, false).await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        call(&app, "GET", "/api/todo/todos", None, false).await.0,
        401
    );
    let (status, todos) = call(&app, "GET", "/api/todo/todos", None, true).await;
    assert_eq!(
        (status, todos),
        (200, json!([{ "id": 1, "title": "seeded" }]))
    );
    let (status, created) = call(
        &app,
        "POST",
        "/api/todo/todos",
        Some(json!({"title": "more"})),
        true,
    )
    .await;
    assert_eq!(
        (status, created),
        (
            201,
            json!({ "id": 2, "title": "more", "createdBy": "tests" })
        )
    );
    let (status, error) = call(
        &app,
        "POST",
        "/api/todo/todos",
        Some(json!({"title": " "})),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"],
        json!({"name": "InputError", "message": "title must not be empty"})
    );
    let (status, error) = call(&app, "GET", "/api/todo/todos/99", None, true).await;
    assert_eq!(status, 404);
    assert_eq!(
        error["request"],
        json!({"method": "GET", "url": "/todos/99"})
    );
    // The scheduled task is registered and visible through the scheduler's routes.
    let (status, tasks) = call(
        &app,
        "GET",
        "/api/todo/.backstage/scheduler/v1/tasks",
        None,
        true,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tasks["tasks"][0]["taskId"], "todo-count");

    // The store is a root service the host can reach too.
    assert_eq!(backend.service(TODO_STORE).await.unwrap().list().len(), 2);
    assert!(backend.service(core_services::ROOT_CONFIG).await.is_ok());
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn the_router_on_its_own() {
    let store: Arc<dyn TodoStore> = Arc::new(MemoryTodoStore::default());
    let app = axum::Router::new().nest("/todos-here", todo::router(store.clone()));
    let (status, created) = call(
        &app,
        "POST",
        "/todos-here/todos",
        Some(json!({"title": "x"})),
        false,
    )
    .await;
    assert_eq!((status, created), (201, json!({ "id": 1, "title": "x" })));
    assert_eq!(store.list().len(), 1);
}
