//! # backstage-core-app-api
//!
//! Assembles a backend from plugins, modules and service factories, as Backstage's
//! `createBackend()` does, but checked: before any init runs, [`Backend::start`] checks the
//! whole graph and returns every wiring problem at once ([`WiringError`]).
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use backstage_backend_common::config::ConfigReader;
//! use backstage_core_app_api::DefaultServices;
//! use backstage_core_plugin_api::{BoxError, Plugin, core_services};
//! use serde_json::json;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ConfigReader::from_value(json!({
//!     "backend": {
//!         "baseUrl": "http://localhost:7007",
//!         "auth": { "dangerouslyDisableDefaultAuthPolicy": true },
//!     },
//! }));
//! // Embedded: the host serves the router; `DefaultServices::new()` would listen itself.
//! let backend = DefaultServices::new().config(config).embedded().backend()?;
//! backend.add(Plugin::new("hello", |reg| {
//!     reg.register_init(core_services::HTTP_ROUTER, |router| async move {
//!         router.use_router(Router::new().route("/greeting", get(|| async { "hello" })));
//!         Ok::<_, BoxError>(())
//!     });
//! }))?;
//! backend.start().await?;
//!
//! let app = backend.router().await?;
//! let request = axum::http::Request::get("/api/hello/greeting").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! backend.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## What happens in `start()`
//!
//! 1. Service factories are installed (added ones replace defaults), feature loaders run.
//! 2. Plugins and modules register; the wiring check runs (see [`WiringProblemKind`]).
//! 3. Eager root services are built in installation order (the stock root HTTP router
//!    starts listening; readiness answers 503).
//! 4. Every plugin starts concurrently: its eager plugin services, its modules (a module
//!    registering an extension point runs after the modules consuming it), its init, its
//!    startup hooks. Failures are judged by `backend.startup` (abort by default).
//! 5. Root startup hooks run (readiness turns 200).
//!
//! [`Backend::stop`] runs root before-shutdown hooks (readiness 503), plugin shutdown hooks
//! (plugins in parallel), then root shutdown hooks (the server closes).
//!
//! ## Differences from Backstage (deliberate)
//!
//! - **Wiring problems are found up front and together**: missing services (also of
//!   factories reached through dependencies), root services depending on plugin-scoped ones,
//!   duplicate plugins, modules, factories and extension points, illegal extension point use,
//!   and circular dependencies among *all* factories, added ones included (Backstage hangs
//!   forever on a cycle among added factories). Backstage reports some of these as plugin
//!   failures that `backend.startup` may permit; here they always stop `start()`.
//! - **A failed start-up is an error the host handles**: [`run`] logs it, stops what started
//!   and returns it, so the `backstage` binary exits non-zero (Backstage keeps the process
//!   running with readiness at 503).
//! - **Shutdown hooks run last-added-first**, one at a time, each bounded by
//!   `backend.lifecycle.shutdownHookTimeout` (default 10 s); Backstage runs them
//!   concurrently without a bound. Startup hooks run concurrently, as in Backstage.
//! - **A factory can decorate the default it replaces**: declaring `REF.replaced()` gives it the
//!   stock (or the ref's default) implementation; in Backstage that is a cycle.
//! - **A panicking request handler answers 500** with the error body; the server lives on.
//! - **Lifecycle services cannot be overridden** (like `core.pluginMetadata`), since the
//!   backend runs their hooks.
//! - No progress log every few seconds during plugin initialisation; no process-wide
//!   handlers for panics (plugin init and hooks run in their own tasks, so a panic is a
//!   failure of that plugin or hook).

mod backend;
mod defaults;
mod error;
mod lifecycle;
mod registry;
mod runner;
mod startup;
mod wiring;

pub use backend::Backend;
pub use defaults::{ConfigSource, DefaultRootHttpRouter, DefaultServices, create_backend};
pub use error::{Error, ServiceError};
pub use lifecycle::DEFAULT_SHUTDOWN_HOOK_TIMEOUT;
pub use runner::{ShutdownSignal, run, shutdown_signal};
pub use startup::{
    BackendStartupError, ModuleStartupResult, PluginStartupResult, StartupFailure, StartupOutcome,
    StartupResult,
};
pub use wiring::{WiringError, WiringProblem, WiringProblemKind};
