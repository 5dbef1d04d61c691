use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::errors::ApiError;
use crate::http::test_support::capture_logs;
use crate::http::{DEFAULT_CSP, HealthState};

fn root_with(config: Value, options: RootRouterOptions) -> RootRouter {
    RootRouter::new(
        &ConfigReader::from_value(config),
        Arc::new(HealthState::new()),
        options,
    )
    .expect("valid config")
}

fn root() -> RootRouter {
    root_with(json!({}), RootRouterOptions::default())
}

fn status_router(status: u16) -> Router {
    let status = StatusCode::from_u16(status).expect("status");
    Router::new().fallback(move || async move { status })
}

/// A router answering with the path and query it sees.
fn echo_router() -> Router {
    Router::new().fallback(|request: Request| async move {
        request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default()
    })
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

async fn send(app: &Router, request: Request) -> Reply {
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

async fn get_path(app: &Router, path: &str) -> Reply {
    send(
        app,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

fn mount_err(existing: &[&str], added: &str) -> Option<String> {
    let root = root();
    for path in existing {
        root.mount(path, Router::new()).expect("existing mounts");
    }
    root.mount(added, Router::new())
        .err()
        .map(|e| e.to_string())
}

#[test]
fn paths_without_conflict() {
    let cases: &[(&[&str], &str)] = &[
        (&["/b"], "/a"),
        (&["/a"], "/aa/b"),
        (&["/aa"], "/a/b"),
        (&["/a/b"], "/aa"),
        (&["/b/a"], "/a"),
        (&["/a"], "/aa"),
        (&["/api/catalog"], "/api/catalog-x"),
        (&["/api/catalog-x"], "/api/catalog"),
    ];
    for (existing, added) in cases {
        assert_eq!(mount_err(existing, added), None, "{existing:?} + {added}");
    }
}

#[test]
fn path_conflicts() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["/a"], "/a", "/a"),
        (&["/a"], "/a/b", "/a"),
        (&["/a/b"], "/a", "/a/b"),
        (&["/api/catalog"], "/api/catalog/sub", "/api/catalog"),
        (&["/api/catalog"], "/api", "/api/catalog"),
        (&["/api/catalog"], "/API/CATALOG/", "/api/catalog"),
        (&["/api/catalog"], "/api/catalog//", "/api/catalog"),
        (&["/api/Catalog/"], "/api/catalog", "/api/Catalog/"),
        (&["/x", "/api/catalog"], "/api/catalog", "/api/catalog"),
    ];
    for (existing, added, conflict) in cases {
        assert_eq!(
            mount_err(existing, added),
            Some(format!(
                "Path {added} conflicts with the existing path {conflict}"
            )),
            "{existing:?} + {added}"
        );
    }
}

#[test]
fn empty_paths_and_index_path() {
    for path in ["", "/", "//", " / ", "\t"] {
        assert_eq!(
            mount_err(&[], path).as_deref(),
            Some("Root router path may not be empty"),
            "{path:?}"
        );
    }
    let err = RootRouter::new(
        &ConfigReader::from_value(json!({})),
        Arc::new(HealthState::new()),
        RootRouterOptions {
            index_path: Some(String::new()),
        },
    )
    .expect_err("empty index path");
    assert_eq!(
        err.to_string(),
        "indexPath option may not be an empty string"
    );
    assert_eq!(
        RootRouterOptions::default().index_path.as_deref(),
        Some("/api/app")
    );
}

#[tokio::test]
async fn handlers_see_the_path_below_the_mount() {
    let root = root();
    root.mount("/api/catalog", echo_router()).expect("mount");
    let app = root.router();
    assert_eq!(
        get_path(&app, "/api/catalog/entities?filter=kind=api")
            .await
            .text(),
        "/entities?filter=kind=api"
    );
    assert_eq!(get_path(&app, "/api/catalog").await.text(), "/");
    assert_eq!(get_path(&app, "/api/catalog/").await.text(), "/");
    assert_eq!(get_path(&app, "/API/Catalog/x").await.text(), "/x");
    assert_eq!(get_path(&app, "/api/catalog?x=1").await.text(), "/?x=1");
    assert_eq!(get_path(&app, "/api/catalogx").await.status, 404);
}

#[tokio::test]
async fn non_index_paths_win_and_mounts_are_dynamic() {
    // Backstage's 'will always prioritize non-index paths'.
    let root = root_with(
        json!({}),
        RootRouterOptions {
            index_path: Some("/x".into()),
        },
    );
    let app = root.router();
    let x = Router::new().route("/a", get(|| async { StatusCode::CREATED }));
    let y = Router::new().route("/a", get(|| async { StatusCode::ACCEPTED }));
    for path in ["/", "/a", "/x/a", "/y/a"] {
        assert_eq!(get_path(&app, path).await.status, 404, "{path}");
    }
    root.mount("/x", x).expect("mount");
    assert_eq!(get_path(&app, "/").await.status, 404);
    assert_eq!(get_path(&app, "/a").await.status, 201);
    assert_eq!(get_path(&app, "/x/a").await.status, 201);
    assert_eq!(get_path(&app, "/y/a").await.status, 404);
    root.mount("/y", y).expect("mount");
    assert_eq!(get_path(&app, "/a").await.status, 201);
    assert_eq!(get_path(&app, "/x/a").await.status, 201);
    assert_eq!(get_path(&app, "/y/a").await.status, 202);
    assert_eq!(root.mounted_paths(), ["/x", "/y"]);
}

#[tokio::test]
async fn unknown_api_routes_are_404_with_an_empty_body() {
    let root = root();
    root.mount("/api/app", status_router(201)).expect("mount");
    root.mount("/api/catalog", status_router(202))
        .expect("mount");
    let app = root.router();
    assert_eq!(get_path(&app, "/").await.status, 201);
    assert_eq!(get_path(&app, "/some/page").await.status, 201);
    assert_eq!(get_path(&app, "/apix").await.status, 201);
    assert_eq!(get_path(&app, "/api/catalog").await.status, 202);
    for path in ["/api/unknown", "/api", "/api/", "/API/unknown"] {
        let reply = get_path(&app, path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.body.is_empty(), "{path}");
        assert!(!reply.headers.contains_key("content-type"), "{path}");
    }
}

#[tokio::test]
async fn the_index_router_sees_the_full_path() {
    let root = root();
    root.mount("/api/app", echo_router()).expect("mount");
    let app = root.router();
    assert_eq!(
        get_path(&app, "/catalog/entity?x=1").await.text(),
        "/catalog/entity?x=1"
    );
    assert_eq!(
        get_path(&app, "/api/app/static/x.js").await.text(),
        "/static/x.js"
    );
}

#[tokio::test]
async fn without_an_index_path_everything_unmatched_is_404() {
    let root = root_with(json!({}), RootRouterOptions { index_path: None });
    root.mount("/api/app", status_router(201)).expect("mount");
    root.mount("/api/catalog", status_router(202))
        .expect("mount");
    let app = root.router();
    assert_eq!(get_path(&app, "/").await.status, 404);
    assert_eq!(get_path(&app, "/api/catalog").await.status, 202);
    assert_eq!(get_path(&app, "/unknown").await.status, 404);
    assert_eq!(get_path(&app, "/api/unknown").await.status, 404);
}

#[tokio::test]
async fn health_endpoints_with_extra_and_security_headers() {
    let health = HealthState::new();
    let root = RootRouter::new(
        &ConfigReader::from_value(
            json!({ "backend": { "health": { "headers": { "x-health": "1" } } } }),
        ),
        Arc::new(health.clone()),
        RootRouterOptions::default(),
    )
    .expect("valid");
    // Health is answered before the mounts, even the index router.
    root.mount("/api/app", status_router(201)).expect("mount");
    let app = root.router();
    let ready = get_path(&app, "/.backstage/health/v1/readiness").await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json(),
        json!({ "message": "Backend has not started yet", "status": "error" })
    );
    assert_eq!(ready.headers["x-health"], "1");
    assert_eq!(ready.headers["content-security-policy"], DEFAULT_CSP);
    health.set_up();
    let ready = get_path(&app, "/.backstage/health/v1/readiness").await;
    assert_eq!(
        (ready.status, ready.text()),
        (StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
    );
    let live = get_path(&app, "/.backstage/health/v1/liveness").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.headers["x-health"], "1");
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let root = root_with(
        json!({ "backend": {
            "csp": { "connectSrc": ["'self'", "https:"], "upgrade-insecure-requests": false },
            "referrer": { "policy": ["same-origin"] },
        } }),
        RootRouterOptions::default(),
    );
    let app = root.router();
    let reply = get_path(&app, "/api/nothing").await;
    assert_eq!(reply.status, 404);
    let csp = reply.headers["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.ends_with(";connect-src 'self' https:"), "{csp}");
    assert!(!csp.contains("upgrade-insecure-requests"), "{csp}");
    assert_eq!(reply.headers["referrer-policy"], "same-origin");
    assert_eq!(reply.headers["x-frame-options"], "SAMEORIGIN");
    assert_eq!(reply.headers["x-xss-protection"], "0");
    assert!(!reply.headers.contains_key("cross-origin-resource-policy"));
}

fn options_request(path: &str, origin: Option<&str>) -> Request {
    let mut builder = Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization");
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    builder.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn cors_preflight_and_actual_requests() {
    let root = root_with(
        json!({ "backend": { "cors": {
            "origin": ["http://localhost:3000", "https://*.example.com"],
            "methods": ["GET", "POST"],
            "credentials": true,
        } } }),
        RootRouterOptions::default(),
    );
    root.mount("/api/catalog", status_router(200))
        .expect("mount");
    let app = root.router();

    let allowed = send(
        &app,
        options_request("/api/catalog/x", Some("https://app.example.com")),
    )
    .await;
    assert_eq!(allowed.status, 204);
    assert!(allowed.body.is_empty());
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(allowed.headers["access-control-allow-methods"], "GET,POST");
    assert_eq!(
        allowed.headers["access-control-allow-headers"],
        "authorization"
    );
    assert_eq!(allowed.headers["access-control-allow-credentials"], "true");
    assert_eq!(allowed.headers["x-content-type-options"], "nosniff");

    // A denied origin gets no CORS headers; the request goes on to the routes.
    let denied = send(
        &app,
        options_request("/api/catalog/x", Some("https://evil.com")),
    )
    .await;
    assert_eq!(denied.status, 200);
    assert!(!denied.headers.contains_key("access-control-allow-origin"));
    assert!(!denied.headers.contains_key("access-control-allow-methods"));

    let actual = send(
        &app,
        Request::get("/api/catalog/x")
            .header("origin", "http://localhost:3000")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(actual.status, 200);
    assert_eq!(
        actual.headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(actual.headers["vary"], "Origin");
    assert!(!actual.headers.contains_key("access-control-allow-methods"));

    let no_origin = get_path(&app, "/api/catalog/x").await;
    assert!(
        !no_origin
            .headers
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn cors_is_disabled_without_config() {
    let root = root();
    let app = root.router();
    let reply = send(
        &app,
        options_request("/api/catalog", Some("http://localhost:3000")),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn one_request_log_line_per_response() {
    let (buffer, _guard) = capture_logs();
    let root = root_with(
        json!({ "backend": { "cors": { "origin": "http://a.com" } } }),
        RootRouterOptions::default(),
    );
    root.mount(
        "/api/catalog",
        Router::new().route("/entities", get(|| async { "[1]" })),
    )
    .expect("mount");
    let app = root.router();
    send(
        &app,
        Request::get("/api/catalog/entities?limit=1")
            .header("user-agent", "curl/8.0")
            .header("referer", "http://a.com/page")
            .header("authorization", "Bearer top-secret-token")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    get_path(&app, "/api/unknown").await;
    // Preflights answered by CORS are not logged.
    send(&app, options_request("/api/catalog", Some("http://a.com"))).await;

    let lines = buffer.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(!buffer.contents().contains("top-secret-token"));

    let record: Value = serde_json::from_str(&lines[0]).expect("JSON line");
    let message = record["message"].as_str().expect("message");
    let pattern = regex::Regex::new(
        r#"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /api/catalog/entities\?limit=1 HTTP/1\.1" 200 3 "http://a\.com/page" "curl/8\.0"$"#,
    )
    .expect("regex");
    assert!(pattern.is_match(message), "{message}");
    assert_eq!(record["level"], "info");
    assert_eq!(record["service"], "rootHttpRouter");
    assert_eq!(record["type"], "incomingRequest");
    assert_eq!(record["method"], "GET");
    assert_eq!(record["url"], "/api/catalog/entities?limit=1");
    assert_eq!(record["status"], 200);
    assert_eq!(record["httpVersion"], "1.1");
    assert_eq!(record["userAgent"], "curl/8.0");
    assert_eq!(record["referrer"], "http://a.com/page");
    assert_eq!(record["contentLength"], 3);
    assert!(message.starts_with(&format!("[{}]", record["date"].as_str().expect("date"))));

    let record: Value = serde_json::from_str(&lines[1]).expect("JSON line");
    let message = record["message"].as_str().expect("message");
    assert!(
        message.ends_with(r#""GET /api/unknown HTTP/1.1" 404 0 "-" "-""#),
        "{message}"
    );
    assert!(record.get("userAgent").is_none());
    assert!(record.get("referrer").is_none());
}

#[tokio::test]
async fn root_error_handler_reports_the_full_url_and_logs_server_errors() {
    let (buffer, _guard) = capture_logs();
    let root = root();
    root.mount(
        "/api/legacy",
        Router::new()
            .route(
                "/missing",
                get(|| async { Err::<(), _>(ApiError::not_found("gone")) }),
            )
            .route(
                "/boom",
                get(|| async { Err::<(), _>(ApiError::internal("boom")) }),
            ),
    )
    .expect("mount");
    let app = root.router();
    let reply = get_path(&app, "/api/legacy/missing?x=1").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({
            "error": { "name": "NotFoundError", "message": "gone" },
            "request": { "method": "GET", "url": "/api/legacy/missing?x=1" },
            "response": { "statusCode": 404 },
        })
    );
    assert_eq!(
        reply.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(!buffer.contents().contains("Request failed"));
    let reply = get_path(&app, "/api/legacy/boom").await;
    assert_eq!(reply.status, 500);
    let errors: Vec<Value> = buffer
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .filter(|record: &Value| record["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["message"], "Request failed with status 500");
    assert_eq!(errors[0]["type"], "errorHandler");
    assert_eq!(errors[0]["error"], "boom");
}
