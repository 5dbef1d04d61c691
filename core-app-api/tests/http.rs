//! A backend with two plugins on a real socket: plugin routes, health endpoints, the error
//! body, auth, 404s, and what stopping does to readiness and the server.

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use backstage_backend_common::config::ConfigReader;
use backstage_core_app_api::DefaultServices;
use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::{
    ApiError, AuthPolicyAllow, BoxError, Credentials, Plugin, ServiceFactory, ServiceRef,
    core_services,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "a-static-token-for-tests-0123456789";

/// A minimal HTTP/1.1 exchange (`Connection: close`): status, headers, body.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Bodies here are small; undo chunked encoding if used.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    (status, head.to_owned(), body)
}

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

trait Greeting: Send + Sync {
    fn greet(&self, name: &str) -> String;
}
struct Polite;
impl Greeting for Polite {
    fn greet(&self, name: &str) -> String {
        format!("hello, {name}")
    }
}
const GREETING: ServiceRef<dyn Greeting> = ServiceRef::root("test.greeting");

fn greeter_plugin() -> Plugin {
    Plugin::new("greeter", |reg| {
        reg.register_init(
            (core_services::HTTP_ROUTER, GREETING),
            |(router, greeting)| async move {
                router.use_router(
                    Router::new()
                        .route(
                            "/hello/{name}",
                            get(move |Path(name): Path<String>| async move {
                                Json(json!({ "message": greeting.greet(&name) }))
                            }),
                        )
                        .route(
                            "/whoami",
                            get(|credentials: Credentials| async move {
                                format!("{:?}", credentials.principal)
                            }),
                        ),
                );
                router.add_auth_policy("/hello", AuthPolicyAllow::Unauthenticated)?;
                Ok::<_, BoxError>(())
            },
        )
    })
}

fn inventory_plugin() -> Plugin {
    Plugin::new("inventory", |reg| {
        reg.register_init(
            (core_services::HTTP_ROUTER, core_services::LIFECYCLE),
            |(router, lifecycle)| async move {
                router.use_router(
                    Router::new()
                        .route(
                            "/items",
                            get(|| async { Json(json!({ "items": ["a", "b"] })) }),
                        )
                        .route(
                            "/panic",
                            get(|| async {
                                if true {
                                    panic!("handler bug");
                                }
                                "unreachable"
                            }),
                        )
                        .route(
                            "/items/{id}",
                            get(|Path(id): Path<String>| async move {
                                Err::<String, _>(ApiError::not_found(format!("no item {id}")))
                            }),
                        ),
                );
                lifecycle.add_shutdown_hook(hook(|| async { Ok::<_, Infallible>(()) }))?;
                Ok::<_, BoxError>(())
            },
        )
    })
}

fn config() -> ConfigReader {
    ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "listen": { "host": "127.0.0.1", "port": 0 },
            "auth": { "externalAccess": [
                { "type": "static", "options": { "token": TOKEN, "subject": "ci-bot" } },
            ] },
        },
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_plugins_on_a_real_socket() {
    let backend = DefaultServices::new().config(config()).backend().unwrap();
    backend
        .add(ServiceFactory::from_instance(
            GREETING,
            Arc::new(Polite) as Arc<dyn Greeting>,
        ))
        .unwrap();
    backend.add(greeter_plugin()).unwrap();
    backend.add(inventory_plugin()).unwrap();
    let result = backend.start().await.unwrap();
    assert_eq!(result.plugins.len(), 2);
    let addr = backend.local_addr().await.unwrap();

    let (status, _, body) = request(addr, "GET", "/.backstage/health/v1/liveness", &[]).await;
    assert_eq!((status, json_body(&body)), (200, json!({"status": "ok"})));
    let (status, _, body) = request(addr, "GET", "/.backstage/health/v1/readiness", &[]).await;
    assert_eq!((status, json_body(&body)), (200, json!({"status": "ok"})));

    // An unauthenticated path of the first plugin.
    let (status, _, body) = request(addr, "GET", "/api/greeter/hello/ada", &[]).await;
    assert_eq!(
        (status, json_body(&body)),
        (200, json!({"message": "hello, ada"}))
    );

    // Everything else needs credentials.
    let (status, _, body) = request(addr, "GET", "/api/inventory/items", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(json_body(&body)["error"]["name"], "AuthenticationError");
    assert_eq!(json_body(&body)["response"]["statusCode"], 401);
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let (status, _, body) = request(addr, "GET", "/api/inventory/items", &auth).await;
    assert_eq!(
        (status, json_body(&body)),
        (200, json!({"items": ["a", "b"]}))
    );
    let (status, _, body) = request(addr, "GET", "/api/greeter/whoami", &auth).await;
    assert_eq!(status, 200);
    assert!(body.contains("ci-bot"), "{body}");
    assert!(
        !body.contains(TOKEN),
        "credentials never show the token: {body}"
    );

    // The error path: Backstage's body, with the URL relative to the plugin.
    let (status, _, body) = request(addr, "GET", "/api/inventory/items/42", &auth).await;
    assert_eq!(status, 404);
    assert_eq!(
        json_body(&body),
        json!({
            "error": { "name": "NotFoundError", "message": "no item 42" },
            "request": { "method": "GET", "url": "/items/42" },
            "response": { "statusCode": 404 },
        })
    );

    // A panicking handler answers 500 with the error body; the server lives on.
    let (status, _, body) = request(addr, "GET", "/api/inventory/panic", &auth).await;
    assert_eq!(status, 500);
    assert_eq!(
        json_body(&body)["error"]["message"],
        "Internal server error"
    );
    let (status, _, _) = request(addr, "GET", "/api/inventory/items", &auth).await;
    assert_eq!(status, 200);

    // Unknown routes: 404 with an empty body (after the credentials barrier in a plugin).
    let (status, _, body) = request(addr, "GET", "/api/nobody/here", &[]).await;
    assert_eq!((status, body.as_str()), (404, ""));
    let (status, _, _) = request(addr, "GET", "/api/inventory/nothing", &[]).await;
    assert_eq!(status, 401);
    let (status, _, body) = request(addr, "GET", "/api/inventory/nothing", &auth).await;
    assert_eq!((status, body.as_str()), (404, ""));

    backend.stop().await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err()
            || request(addr, "GET", "/.backstage/health/v1/liveness", &[])
                .await
                .0
                == 0,
        "the server is closed after stop()"
    );
}

#[tokio::test]
async fn embedded_backends_hand_over_their_router() {
    use tower::ServiceExt;
    let backend = DefaultServices::new()
        .config(ConfigReader::from_value(json!({
            "backend": { "baseUrl": "http://localhost:7007" },
        })))
        .embedded()
        .backend()
        .unwrap();
    backend.add(inventory_plugin()).unwrap();
    backend.start().await.unwrap();
    assert!(
        backend.local_addr().await.is_err(),
        "embedded backends do not listen"
    );
    // A host nests the backend under its own routes.
    let host = Router::new()
        .route("/host", get(|| async { "host route" }))
        .merge(backend.router().await.unwrap());
    let call = |path: &'static str| {
        let host = host.clone();
        async move {
            let response = host
                .oneshot(
                    axum::http::Request::get(path)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    assert_eq!(call("/host").await, 200);
    assert_eq!(call("/.backstage/health/v1/readiness").await, 200);
    assert_eq!(call("/api/inventory/items").await, 401);
    backend.stop().await.unwrap();
    assert_eq!(call("/.backstage/health/v1/readiness").await, 503);
}

#[tokio::test]
async fn readiness_stays_503_when_start_up_fails() {
    use tower::ServiceExt;
    let backend = DefaultServices::new()
        .config(ConfigReader::from_value(json!({
            "backend": { "baseUrl": "http://localhost:7007" },
        })))
        .embedded()
        .backend()
        .unwrap();
    backend
        .add(Plugin::new("broken", |reg| {
            reg.register_init((), |()| async { Err::<(), BoxError>("no".into()) })
        }))
        .unwrap();
    assert!(backend.start().await.is_err());
    let router = backend.router().await.unwrap();
    let response = router
        .oneshot(
            axum::http::Request::get("/.backstage/health/v1/readiness")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn odd_requests_get_answers_not_panics() {
    use tower::ServiceExt;
    let backend = DefaultServices::new()
        .config(config())
        .embedded()
        .backend()
        .unwrap();
    backend
        .add(ServiceFactory::from_instance(
            GREETING,
            Arc::new(Polite) as Arc<dyn Greeting>,
        ))
        .unwrap();
    backend.add(greeter_plugin()).unwrap();
    backend.add(inventory_plugin()).unwrap();
    backend.start().await.unwrap();
    let router = backend.router().await.unwrap();
    let long = "a".repeat(10_000);
    let paths = [
        "/".to_owned(),
        "//".to_owned(),
        "/api".to_owned(),
        "/api/".to_owned(),
        "/api//greeter".to_owned(),
        "/API/GREETER/hello/x".to_owned(),
        "/api/greeter/../inventory/items".to_owned(),
        "/api/greeter/hello/%2e%2e%2f".to_owned(),
        "/api/greeter/hello/%ff%fe".to_owned(),
        "/api/greeter/hello/caf%C3%A9".to_owned(),
        format!("/api/greeter/hello/{long}"),
        format!("/api/{long}"),
        "/.backstage/health/v1/readiness/".to_owned(),
        "/.backstage/health/v1/".to_owned(),
        "/api/inventory/.backstage/auth/v1/jwks.json".to_owned(),
        "/api/inventory/items?x=%zz&&=".to_owned(),
    ];
    let headers: [(&str, &str); 6] = [
        ("authorization", "Bearer"),
        ("authorization", "Bearer "),
        ("authorization", "bearer \u{7f}"),
        ("authorization", "Basic abc"),
        ("origin", "http://*.example.com/../"),
        ("authorization", &"Bearer x".repeat(1000)),
    ];
    for path in &paths {
        for method in ["GET", "POST", "OPTIONS", "DELETE"] {
            for (name, value) in headers.iter().chain([("x-none", "")].iter()) {
                let Ok(request) = axum::http::Request::builder()
                    .method(method)
                    .uri(path.as_str())
                    .header(*name, *value)
                    .body(axum::body::Body::empty())
                else {
                    continue; // not a valid HTTP request at all
                };
                let response = router.clone().oneshot(request).await.unwrap();
                assert!(
                    response.status().as_u16() < 500,
                    "{method} {path} with {name}: {}",
                    response.status()
                );
            }
        }
    }
    backend.stop().await.unwrap();
}
