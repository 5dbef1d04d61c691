use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;
use tower::ServiceExt;

use super::*;
use crate::auth::{Credentials, Principal, TokenAuthenticator};
use crate::config::ConfigReader;
use crate::errors::ApiError;
use crate::http::test_support::capture_logs;
use crate::http::{HealthState, RootRouter, RootRouterOptions};

const TOKEN: &str = "plugin-test-token";

fn authenticator() -> Arc<TokenAuthenticator> {
    let config = ConfigReader::from_value(json!({ "backend": { "auth": { "externalAccess": [
        { "type": "static", "options": { "token": TOKEN, "subject": "tester" } },
    ] } } }));
    Arc::new(TokenAuthenticator::from_config(&config).expect("valid"))
}

fn plugin(gate: &LifecycleGate) -> PluginRouter {
    PluginRouter::new(
        "demo",
        gate.clone(),
        AuthBarrier::new(authenticator(), false),
        Duration::from_secs(5),
    )
}

fn open_plugin() -> PluginRouter {
    let gate = LifecycleGate::new();
    gate.open();
    plugin(&gate)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

async fn call(app: &Router, method: &str, path: &str, token: Option<&str>) -> Reply {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = builder.body(Body::empty()).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn hello() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

#[tokio::test]
async fn jwks_needs_no_credentials_and_no_startup() {
    let gate = LifecycleGate::new();
    let plugin = plugin(&gate);
    let app = plugin.router();
    for path in [
        "/.backstage/auth/v1/jwks.json",
        "/.backstage/auth/v1/jwks.json/",
    ] {
        let reply = call(&app, "GET", path, None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), json!({ "keys": [] }));
        assert_eq!(
            reply.headers["content-type"],
            "application/json; charset=utf-8"
        );
    }
    gate.close();
    assert_eq!(
        call(&app, "GET", "/.backstage/auth/v1/jwks.json", None)
            .await
            .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn requests_wait_for_startup_then_fail_with_503() {
    let gate = LifecycleGate::new();
    let plugin = plugin(&gate);
    plugin.use_router(hello());
    let app = plugin.router();
    let start = Instant::now();
    let reply = call(&app, "GET", "/hello?x=1", Some(TOKEN)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json(),
        json!({
            "error": { "name": "ServiceUnavailableError", "message": "Service has not started up yet" },
            "request": { "method": "GET", "url": "/hello?x=1" },
            "response": { "statusCode": 503 },
        })
    );
}

#[tokio::test(start_paused = true)]
async fn opening_the_gate_releases_waiting_requests() {
    let gate = LifecycleGate::new();
    let plugin = plugin(&gate);
    plugin.use_router(hello());
    let app = plugin.router();
    let waiting = tokio::spawn(async move {
        let start = Instant::now();
        let reply = call(&app, "GET", "/hello", Some(TOKEN)).await;
        (reply.status, start.elapsed())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    gate.open();
    let (status, elapsed) = waiting.await.expect("task");
    assert_eq!(status, 200);
    assert_eq!(elapsed, Duration::from_secs(1));
}

#[tokio::test]
async fn closed_gate_fails_immediately() {
    let gate = LifecycleGate::new();
    gate.open();
    gate.close();
    let plugin = plugin(&gate);
    plugin.use_router(hello());
    let reply = call(&plugin.router(), "GET", "/hello", Some(TOKEN)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["error"]["message"], "Service is shutting down");
}

#[tokio::test]
async fn the_barrier_runs_before_handlers_and_unknown_paths() {
    let plugin = open_plugin();
    plugin.use_router(hello());
    let app = plugin.router();

    let reply = call(&app, "GET", "/hello", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({
            "error": { "name": "AuthenticationError", "message": "Missing credentials" },
            "request": { "method": "GET", "url": "/hello" },
            "response": { "statusCode": 401 },
        })
    );
    let reply = call(&app, "GET", "/hello", Some("wrong-token")).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["message"], "Illegal token");

    let reply = call(&app, "GET", "/hello", Some(TOKEN)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"hello");

    // Unknown paths: 401 without credentials, then a 404 with an empty body.
    assert_eq!(call(&app, "GET", "/nope", None).await.status, 401);
    let reply = call(&app, "GET", "/nope", Some(TOKEN)).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn handlers_get_the_credentials() {
    let plugin = open_plugin();
    plugin.use_router(Router::new().route(
        "/whoami",
        get(|credentials: Credentials| async move {
            match credentials.principal {
                Principal::Service { subject, .. } => subject,
                Principal::User { user_entity_ref } => user_entity_ref,
                Principal::None => "none".to_owned(),
            }
        }),
    ));
    plugin
        .add_auth_policy("/whoami", AuthPolicyAllow::Unauthenticated)
        .expect("valid policy");
    let app = plugin.router();
    assert_eq!(
        call(&app, "GET", "/whoami", Some(TOKEN)).await.body,
        b"tester"
    );
    assert_eq!(call(&app, "GET", "/whoami", None).await.body, b"none");
    assert_eq!(call(&app, "GET", "/WhoAmI/x", None).await.status, 404);
}

#[tokio::test]
async fn handlers_added_later_are_served_and_merged_in_order() {
    let plugin = open_plugin();
    let app = plugin.router();
    assert_eq!(call(&app, "GET", "/hello", Some(TOKEN)).await.status, 404);
    plugin.use_router(hello());
    plugin.use_router(Router::new().route("/hello", post(|| async { "posted" })));
    plugin.use_router(Router::new().route("/other", get(|| async { "other" })));
    assert_eq!(
        call(&app, "GET", "/hello", Some(TOKEN)).await.body,
        b"hello"
    );
    assert_eq!(
        call(&app, "POST", "/hello", Some(TOKEN)).await.body,
        b"posted"
    );
    assert_eq!(
        call(&app, "GET", "/other", Some(TOKEN)).await.body,
        b"other"
    );

    let err = plugin
        .try_use_router(Router::new().route("/hello", get(|| async { "again" })))
        .expect_err("overlap");
    assert!(
        err.to_string()
            .starts_with("cannot add routes to plugin 'demo': "),
        "{err}"
    );
    // `use_router` logs the same problem and keeps the handlers.
    plugin.use_router(Router::new().route("/other", get(|| async { "again" })));
    assert_eq!(
        call(&app, "GET", "/hello", Some(TOKEN)).await.body,
        b"hello"
    );
    assert_eq!(
        call(&app, "GET", "/other", Some(TOKEN)).await.body,
        b"other"
    );
}

#[tokio::test]
async fn errors_report_urls_relative_to_the_plugin_and_log_in_the_plugin_span() {
    let (buffer, _guard) = capture_logs();
    let root = RootRouter::new(
        &ConfigReader::from_value(json!({})),
        Arc::new(HealthState::new()),
        RootRouterOptions::default(),
    )
    .expect("valid");
    let plugin = open_plugin();
    plugin.use_router(
        Router::new()
            .route(
                "/err/input",
                get(|| async {
                    tracing::info!("handling");
                    Err::<(), _>(ApiError::input("bad input"))
                }),
            )
            .route(
                "/err/internal",
                get(|| async { Err::<(), _>(ApiError::internal("boom")) }),
            ),
    );
    root.mount("/api/demo", plugin.router()).expect("mount");
    let app = root.router();

    let reply = call(&app, "GET", "/api/demo/err/input?q=1", Some(TOKEN)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({
            "error": { "name": "InputError", "message": "bad input" },
            "request": { "method": "GET", "url": "/err/input?q=1" },
            "response": { "statusCode": 400 },
        })
    );
    assert_eq!(
        call(&app, "GET", "/api/demo/err/internal", Some(TOKEN))
            .await
            .json()["request"]["url"],
        "/err/internal"
    );
    let records: Vec<Value> = buffer
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    let handling = records
        .iter()
        .find(|r| r["message"] == "handling")
        .expect("handler event");
    assert_eq!(handling["plugin"], "demo");
    let failed: Vec<&Value> = records
        .iter()
        .filter(|r| r["message"] == "Request failed with status 500")
        .collect();
    assert_eq!(failed.len(), 1, "{records:#?}");
    assert_eq!(failed[0]["plugin"], "demo");
    assert_eq!(failed[0]["level"], "error");
    assert!(
        records
            .iter()
            .all(|r| r["message"] != "Request failed with status 400")
    );
}

#[tokio::test]
async fn disabled_default_policy_passes_anonymous_requests() {
    let gate = LifecycleGate::new();
    gate.open();
    let plugin = PluginRouter::new(
        "demo",
        gate,
        AuthBarrier::new(authenticator(), true),
        Duration::from_secs(5),
    );
    plugin.use_router(hello());
    assert_eq!(plugin.plugin_id(), "demo");
    let reply = call(&plugin.router(), "GET", "/hello", None).await;
    assert_eq!(reply.status, 200);
}
