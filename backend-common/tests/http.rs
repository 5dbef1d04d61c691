//! End-to-end test of the HTTP stack: a real server on 127.0.0.1, a root router with two plugin
//! routers at `/api/a` and `/api/b`, spoken to with raw HTTP/1.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use backstage_backend_common::auth::{AuthBarrier, AuthPolicyAllow, TokenAuthenticator};
use backstage_backend_common::config::{ConfigReader, ListenAddress};
use backstage_backend_common::http::{
    HealthState, LifecycleGate, PluginRouter, RootRouter, RootRouterOptions, bind, spawn_server,
    startup_request_pause_timeout,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const TOKEN: &str = "integration-test-token";

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Sends one request on a new connection (`connection: close`) and reads the whole reply.
async fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end])
                .expect("ascii")
                .trim(),
            16,
        )
        .expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

struct Backend {
    addr: SocketAddr,
    server: backstage_backend_common::http::ServerHandle,
    health: HealthState,
    gate_b: LifecycleGate,
    slow_started: Arc<Notify>,
}

async fn start() -> Backend {
    let config = ConfigReader::from_value(json!({
        "backend": {
            "listen": "127.0.0.1:0",
            "lifecycle": { "startupRequestPauseTimeout": { "milliseconds": 300 } },
            "auth": { "externalAccess": [
                { "type": "static", "options": { "token": TOKEN, "subject": "integration" } },
            ] },
        },
    }));
    let health = HealthState::new();
    let root = RootRouter::new(
        &config,
        Arc::new(health.clone()),
        RootRouterOptions::default(),
    )
    .expect("root router");
    let authenticator = Arc::new(TokenAuthenticator::from_config(&config).expect("auth config"));
    let pause = startup_request_pause_timeout(&config).expect("pause timeout");
    assert_eq!(pause, Duration::from_millis(300));

    let gate_a = LifecycleGate::new();
    let a = PluginRouter::new(
        "a",
        gate_a.clone(),
        AuthBarrier::from_config(&config, authenticator.clone()).expect("barrier"),
        pause,
    );
    let slow_started = Arc::new(Notify::new());
    let started = Arc::clone(&slow_started);
    a.use_router(
        Router::new()
            .route("/hello", get(|| async { "hello from a" }))
            .route("/public", get(|| async { "public" }))
            .route(
                "/slow",
                get(move || {
                    let started = Arc::clone(&started);
                    async move {
                        started.notify_one();
                        tokio::time::sleep(Duration::from_millis(400)).await;
                        "slow done"
                    }
                }),
            ),
    );
    a.add_auth_policy("/public", AuthPolicyAllow::Unauthenticated)
        .expect("policy");

    let gate_b = LifecycleGate::new();
    let b = PluginRouter::new(
        "b",
        gate_b.clone(),
        AuthBarrier::from_config(&config, authenticator).expect("barrier"),
        pause,
    );
    b.use_router(Router::new().route("/hello", get(|| async { "hello from b" })));

    root.mount("/api/a", a.router()).expect("mount a");
    let listener = bind(&ListenAddress::from_config(&config).expect("listen"))
        .await
        .expect("bind");
    let server = spawn_server(listener, root.router()).expect("spawn");
    // Mounted after the server started: still served.
    root.mount("/api/b", b.router()).expect("mount b");
    gate_a.open();
    Backend {
        addr: server.local_addr(),
        server,
        health,
        gate_b,
        slow_started,
    }
}

#[tokio::test]
async fn health_endpoints() {
    let backend = start().await;
    let live = request(backend.addr, "GET", "/.backstage/health/v1/liveness", None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.text(), r#"{"status":"ok"}"#);
    assert_eq!(
        live.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let ready = request(backend.addr, "GET", "/.backstage/health/v1/readiness", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.text(),
        r#"{"message":"Backend has not started yet","status":"error"}"#
    );
    backend.health.set_up();
    let ready = request(backend.addr, "GET", "/.backstage/health/v1/readiness", None).await;
    assert_eq!(
        (ready.status, ready.text()),
        (200, r#"{"status":"ok"}"#.to_owned())
    );
    backend.health.set_down();
    let ready = request(backend.addr, "GET", "/.backstage/health/v1/readiness", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["message"], "Backend is shutting down");
    backend.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn plugin_routes_credentials_and_not_found() {
    let backend = start().await;
    let addr = backend.addr;

    let reply = request(addr, "GET", "/api/a/hello", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({
            "error": { "name": "AuthenticationError", "message": "Missing credentials" },
            "request": { "method": "GET", "url": "/hello" },
            "response": { "statusCode": 401 },
        })
    );
    let reply = request(addr, "GET", "/api/a/hello", Some("not-the-token")).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["message"], "Illegal token");

    let reply = request(addr, "GET", "/api/a/hello", Some(TOKEN)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "hello from a");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert!(reply.header("content-security-policy").is_some());

    let reply = request(addr, "GET", "/api/a/public", None).await;
    assert_eq!((reply.status, reply.text()), (200, "public".to_owned()));

    let reply = request(addr, "GET", "/api/a/.backstage/auth/v1/jwks.json", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({ "keys": [] }));

    // Unknown plugin path: the barrier first, then an empty 404.
    assert_eq!(request(addr, "GET", "/api/a/nope", None).await.status, 401);
    let reply = request(addr, "GET", "/api/a/nope", Some(TOKEN)).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.is_empty());

    let reply = request(addr, "GET", "/api/unknown", None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("content-length"), Some("0"));

    backend.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn requests_wait_for_the_plugin_to_start() {
    let backend = start().await;
    let addr = backend.addr;

    // Plugin b has not started: the request waits for the pause timeout, then 503.
    let start = Instant::now();
    let reply = request(addr, "GET", "/api/b/hello", Some(TOKEN)).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json(),
        json!({
            "error": { "name": "ServiceUnavailableError", "message": "Service has not started up yet" },
            "request": { "method": "GET", "url": "/hello" },
            "response": { "statusCode": 503 },
        })
    );

    // A request waiting when the plugin starts is released.
    let waiting = tokio::spawn(request(addr, "GET", "/api/b/hello", Some(TOKEN)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    backend.gate_b.open();
    let reply = waiting.await.expect("task");
    assert_eq!(
        (reply.status, reply.text()),
        (200, "hello from b".to_owned())
    );

    backend.gate_b.close();
    let start = Instant::now();
    let reply = request(addr, "GET", "/api/b/hello", Some(TOKEN)).await;
    assert!(start.elapsed() < Duration::from_millis(300));
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["error"]["message"], "Service is shutting down");

    backend.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let backend = start().await;
    let addr = backend.addr;
    let in_flight = tokio::spawn(request(addr, "GET", "/api/a/slow", Some(TOKEN)));
    backend.slow_started.notified().await;

    let start = Instant::now();
    backend.server.shutdown().await.expect("shutdown");
    // Shutdown waited for the slow request.
    assert!(start.elapsed() >= Duration::from_millis(200));
    let reply = in_flight.await.expect("task");
    assert_eq!((reply.status, reply.text()), (200, "slow done".to_owned()));

    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}
