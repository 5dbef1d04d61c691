//! # backstage-backend-common
//!
//! What every Rust Backstage backend needs besides its plugins: configuration, errors, logging,
//! and the HTTP, auth, discovery and scheduler building blocks. It is the Rust counterpart of
//! `@backstage/config-loader`, `@backstage/config`, `@backstage/errors` and the parts of
//! `@backstage/backend-defaults` listed below.
//!
//! It is the bottom of the backend system and knows nothing of plugins: the service traits live
//! in `backstage-core-plugin-api` (which re-exports the types plugins need from here), and
//! `backstage-core-app-api` wraps these building blocks into the stock services. Use this crate
//! directly to load config in a host, or to build a router without a backend.
//!
//! ```
//! use backstage_backend_common::config::{ConfigReader, ListenAddress, read_duration};
//! use serde_json::json;
//!
//! let config = ConfigReader::from_value(json!({
//!     "app": { "title": "Portal" },
//!     "backend": {
//!         "listen": "127.0.0.1:7007",
//!         "cache": { "store": "memory", "defaultTtl": "PT10M" },
//!         "cors": { "origin": ["http://localhost:3000"] },
//!     },
//! }));
//! assert_eq!(config.string("app.title")?, "Portal");
//! assert_eq!(ListenAddress::from_config(&config)?.port, 7007);
//!
//! let cache = config.config("backend.cache")?;
//! assert_eq!(cache.string("store")?, "memory");
//! assert_eq!(read_duration(&cache, "defaultTtl")?.to_std()?.as_secs(), 600);
//! assert_eq!(config.string_array("backend.cors.origin")?, ["http://localhost:3000"]);
//!
//! // Messages are Backstage's own.
//! let err = config.number("app.title").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "Unable to convert config value for key 'app.title' in 'mock-config' to a number"
//! );
//! # Ok::<(), backstage_backend_common::Error>(())
//! ```
//!
//! ## Contents
//!
//! | Module | What | Status |
//! |---|---|---|
//! | [`config`] | `app-config.yaml` loading (`${VAR}`, `$include`, `APP_CONFIG_*`), the layered [`ConfigReader`](config::ConfigReader), durations, `backend.listen` | **usable**; differential test against Backstage in `tests/` |
//! | [`Error`] | this crate's error enum, with Backstage's message texts | usable |
//! | [`errors`] | Backstage's HTTP error kinds (`InputError`, `NotFoundError`, …): [`ApiError`] for handlers, statuses, `serializeError`, the JSON error body and its axum middleware; a separate type from [`Error`] | usable; no logging, no stack traces |
//! | [`logging`] | `tracing` subscriber layer for hosts: `backend.logger.*` levels and overrides, JSON or pretty lines, secret redaction; libraries only emit events | usable; no reload on config change |
//! | [`discovery`] | Backstage's `HostDiscovery`: internal and external plugin base URLs from `backend.baseUrl`, `backend.listen`, `backend.https` and `discovery.endpoints` | usable; no SRV targets |
//! | [`scheduler`] | scheduled tasks of one plugin, run in-process (duration, cron or manual; timeouts, trigger, cancel), `readSchedulerServiceTaskScheduleDefinitionFromConfig` and the `/.backstage/scheduler/v1` endpoints | usable; `global` tasks run in-process (no database coordination yet) |
//! | [`http`] | the axum root router (security headers, CORS, request log, health endpoints, mounts with index fallback), plugin routers under `/api/<plugin-id>` with the lifecycle gate and credentials barrier, binding and graceful shutdown | usable; no compression, rate limiting or HTTPS |
//! | [`auth`] | request [`Credentials`](auth::Credentials), static external access tokens, the per-plugin credentials barrier and auth policies | usable; static tokens only (no user or plugin tokens) |
//! | config schema (planned) | `configSchema` collection, visibility filtering | planned |
//!
//! See [`config`] for how loading works and where we differ from Backstage.

pub mod auth;
pub mod config;
pub mod discovery;
mod error;
pub mod errors;
pub mod http;
pub mod logging;
pub mod scheduler;

pub use error::{Error, FileProblem, Result};
pub use errors::{ApiError, ErrorKind};
