//! # backstage-backend-common
//!
//! What every Rust Backstage backend needs besides its plugins: configuration today; errors,
//! logging and HTTP routing next. Depend on it from a backend host or from a plugin that reads
//! its own config. It is the Rust counterpart of `@backstage/config-loader` and
//! `@backstage/config`, and will cover the parts of `@backstage/errors` and
//! `@backstage/backend-defaults` listed below.
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
//! | HTTP (planned) | the axum root router, plugin routers under `/api/<plugin-id>`, health endpoints, CORS and CSP from `backend.*` | planned |
//! | config schema (planned) | `configSchema` collection, visibility filtering | planned |
//!
//! See [`config`] for how loading works and where we differ from Backstage.

pub mod config;
mod error;
pub mod errors;
pub mod logging;

pub use error::{Error, FileProblem, Result};
pub use errors::{ApiError, ErrorKind};
