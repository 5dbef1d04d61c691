//! Per-request overhead of the HTTP chains: one trivial `GET` answered by a bare axum router,
//! and by the same handler mounted through `RootRouter` + `PluginRouter` (gate open), with the
//! default auth policy disabled and with a static token. Requests go through
//! `tower::ServiceExt::oneshot` on a current-thread runtime; no tracing subscriber is
//! installed, so log events cost only their disabled-callsite check.
//!
//! Run with `cargo bench -p backstage-backend-common --bench http`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use backstage_backend_common::auth::{AuthBarrier, TokenAuthenticator};
use backstage_backend_common::config::ConfigReader;
use backstage_backend_common::http::{
    HealthState, LifecycleGate, PluginRouter, RootRouter, RootRouterOptions,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tower::ServiceExt;

const TOKEN: &str = "bench-static-token";

fn handler() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

fn mounted(disable_auth: bool) -> Router {
    let config = ConfigReader::from_value(json!({ "backend": { "auth": { "externalAccess": [
        { "type": "static", "options": { "token": TOKEN, "subject": "bench" } },
    ] } } }));
    let authenticator =
        Arc::new(TokenAuthenticator::from_config(&config).expect("valid auth config"));
    let root = RootRouter::new(
        &config,
        Arc::new(HealthState::new()),
        RootRouterOptions::default(),
    )
    .expect("valid config");
    let gate = LifecycleGate::new();
    gate.open();
    let plugin = PluginRouter::new(
        "demo",
        gate,
        AuthBarrier::new(authenticator, disable_auth),
        Duration::from_secs(5),
    );
    plugin.use_router(handler());
    root.mount("/api/demo", plugin.router()).expect("mount");
    root.router()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("trivial GET");

    let run = |app: &Router, uri: &str, token: Option<&str>| {
        let mut builder = Request::get(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = builder.body(Body::empty()).expect("request");
        let response = runtime
            .block_on(app.clone().oneshot(request))
            .expect("infallible");
        assert_eq!(response.status(), 200);
        black_box(response)
    };

    let bare = handler();
    group.bench_function("bare axum router", |b| {
        b.iter(|| run(&bare, "/hello", None));
    });

    let open = mounted(true);
    group.bench_function("root + plugin router, auth disabled", |b| {
        b.iter(|| run(&open, "/api/demo/hello", None));
    });

    let with_token = mounted(false);
    group.bench_function("root + plugin router, static token", |b| {
        b.iter(|| run(&with_token, "/api/demo/hello", Some(TOKEN)));
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
