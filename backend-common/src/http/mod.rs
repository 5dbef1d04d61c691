//! HTTP serving for backends (spec §3.4–3.6): the root router with its middleware chain, plugin
//! routers under `/api/<pluginId>`, the health endpoints, the plugin lifecycle gate, and the
//! server.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use axum::{Router, routing::get};
//! use backstage_backend_common::auth::{AuthBarrier, AuthPolicyAllow, TokenAuthenticator};
//! use backstage_backend_common::config::{ConfigReader, ListenAddress};
//! use backstage_backend_common::http::{
//!     HealthState, LifecycleGate, PluginRouter, RootRouter, RootRouterOptions, bind,
//!     spawn_server, startup_request_pause_timeout,
//! };
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let config = ConfigReader::from_value(serde_json::json!({
//!     "backend": { "listen": "127.0.0.1:0", "cors": { "origin": "http://localhost:3000" } },
//! }));
//! let health = HealthState::new();
//! let root = RootRouter::new(&config, Arc::new(health.clone()), RootRouterOptions::default())?;
//!
//! // One plugin: its router is mounted at /api/<pluginId>.
//! let authenticator = Arc::new(TokenAuthenticator::from_config(&config)?);
//! let gate = LifecycleGate::new();
//! let todo = PluginRouter::new(
//!     "todo",
//!     gate.clone(),
//!     AuthBarrier::from_config(&config, authenticator)?,
//!     startup_request_pause_timeout(&config)?,
//! );
//! todo.use_router(Router::new().route("/items", get(|| async { "[]" })));
//! todo.add_auth_policy("/items", AuthPolicyAllow::Unauthenticated)?;
//! root.mount("/api/todo", todo.router())?;
//!
//! let server = spawn_server(bind(&ListenAddress::from_config(&config)?).await?, root.router())?;
//! gate.open(); // the plugin started
//! health.set_up(); // the backend started
//!
//! let mut stream = tokio::net::TcpStream::connect(server.local_addr()).await?;
//! stream.write_all(b"GET /api/todo/items HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response).await?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.ends_with("[]"));
//!
//! health.set_down();
//! server.shutdown().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The root chain ([`RootRouter::router`])
//!
//! 1. **Security headers**, as helmet 6 with Backstage's options: `Content-Security-Policy`
//!    from Backstage's defaults ([`DEFAULT_CSP`]) and `backend.csp` (keys kebab-cased, a list
//!    replaces a directive, `false` removes it), `Referrer-Policy` from
//!    `backend.referrer.policy` (default `no-referrer`), HSTS, `X-Content-Type-Options`,
//!    `X-DNS-Prefetch-Control`, `X-Download-Options`, `X-Frame-Options`,
//!    `X-Permitted-Cross-Domain-Policies`, `X-XSS-Protection: 0`; the cross-origin
//!    embedder/opener/resource policies and `Origin-Agent-Cluster` are off. A handler's own
//!    value of one of these headers wins.
//! 2. **CORS** from `backend.cors` as the `cors` package (absent: disabled): `origin` is a
//!    glob or a list of globs matched case-insensitively (`*` does not cross `/`; a request
//!    without `Origin` matches nothing; no `origin` key allows any origin with `*`),
//!    `methods`, `allowedHeaders` (default: reflect the request's), `exposedHeaders`,
//!    `credentials`, `maxAge`, `preflightContinue`, `optionsSuccessStatus` (default 204).
//!    Preflights are answered here (unless `preflightContinue`) and not logged.
//! 3. **Request log**: one `info` event per response with `service: rootHttpRouter`, message
//!    `[<iso date>] "<METHOD> <url> HTTP/<version>" <status> <content length or 0> "<referrer or ->" "<user agent or ->"`
//!    and the fields `type: incomingRequest`, `date`, `method`, `url`, `status`,
//!    `httpVersion`, and when known `userAgent`, `contentLength`, `referrer`. No other header
//!    is logged.
//! 4. **Health**: `GET /.backstage/health/v1/liveness` and `/readiness` from the
//!    [`HealthCheck`], with `backend.health.headers`.
//! 5. **Mounted routers** ([`RootRouter::mount`]), then the **index fallback**: a request not
//!    under `/api/` that matches no mount goes to the router mounted at the index path
//!    (default `/api/app`) with its full path; `/api/unknown` is a 404.
//! 6. **Not found**: 404 with an empty body.
//! 7. **Error handler**: [`ApiError`](crate::errors::ApiError) responses get Backstage's body
//!    with the request's method and URL; statuses ≥ 500 are logged at `error` level.
//!
//! A [`PluginRouter`] has its own chain: the JWKS endpoint, the [`LifecycleGate`], the
//! credentials barrier ([`AuthBarrier`](crate::auth::AuthBarrier)), the handlers and the error
//! handler, with URLs relative to the plugin.
//!
//! ## Differences from Backstage
//!
//! - **No response compression and no rate limiting** (`backend.rateLimit` is ignored);
//!   put a `tower-http` layer around [`RootRouter::router`] if needed.
//! - **No HTTPS** (`backend.https`), no `backend.server.*` timeouts, no `backend.trustProxy`:
//!   terminate TLS in front of the backend.
//! - **No `configure` option** to replace the chain; compose your own from the pieces.
//! - A mounted router that has no route for a request answers it (with axum's 404) instead of
//!   passing it on to the index router, as Express would.
//! - Plugin handlers are merged axum routers: two handlers for the same path and method
//!   are refused ([`PluginRouter::try_use_router`]) instead of the first one winning.
//! - The request log is written when the response head is ready, not when its body finished.
//! - User tokens, plugin service tokens and the user cookie are not supported; see
//!   [`auth`](crate::auth).

mod access_log;
mod cors;
mod error_handler;
mod glob;
mod health;
mod lifecycle;
mod plugin;
mod root;
mod security;
mod server;
#[cfg(test)]
mod test_support;
pub(crate) mod util;

pub use health::{HealthCheck, HealthResponse, HealthState};
pub use lifecycle::{
    DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT, LifecycleGate, server_shutdown_delay,
    startup_request_pause_timeout,
};
pub use plugin::PluginRouter;
pub use root::{DEFAULT_INDEX_PATH, RootRouter, RootRouterOptions};
pub use security::DEFAULT_CSP;
pub use server::{ServerHandle, bind, spawn_server};
