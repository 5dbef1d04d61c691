//! Logging setup for backend hosts (spec §3.2): the `tracing` subscriber layer that gives
//! Backstage's `rootLogger` behaviour.
//!
//! Libraries, plugins included, only emit `tracing` events and spans
//! (`tracing::info_span!("plugin", plugin = "catalog")` is the Rust form of
//! `rootLogger.child({ plugin })`). The host (the `backstage` binary, or a team's own server)
//! installs a subscriber once, with [`init`], or composes [`LogLayer`] into its own:
//!
//! 1. [`LoggerConfig::from_config`] reads `backend.logger.level`, `.meta` and `.overrides`;
//!    the host applies `LOG_LEVEL` with [`LoggerConfig::with_level_override`] and picks the
//!    [`Format`] (Backstage writes JSON when `NODE_ENV=production`).
//! 2. [`secret_values`](crate::config::secret_values) lists the strings to redact.
//! 3. [`LogLayer::new`] (or [`init`]) builds the layer.
//!
//! ```
//! use backstage_backend_common::config::{ConfigReader, secret_values};
//! use backstage_backend_common::logging::{Format, LogBuffer, LogLayer, LoggerConfig};
//! use serde_json::{Value, json};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let config = ConfigReader::from_value(json!({
//!     "backend": { "logger": { "level": "info", "meta": { "env": "dev" } } },
//!     "integrations": { "github": [{ "token": "ghp_abc123" }] },
//! }));
//! let logger = LoggerConfig::from_config(&config)?
//!     .with_level_override(None)? // the host passes `LOG_LEVEL` here
//!     .with_format(Format::Json);
//! let buffer = LogBuffer::default();
//! let layer = LogLayer::new(logger, secret_values(&config)).with_writer(buffer.clone());
//!
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     let span = tracing::info_span!("plugin", plugin = "catalog");
//!     let _entered = span.enter();
//!     tracing::info!(entities = 3, "Refreshed with ghp_abc123");
//!     tracing::debug!("below the threshold: dropped");
//! });
//!
//! let lines = buffer.lines();
//! assert_eq!(lines.len(), 1);
//! let mut record: Value = serde_json::from_str(&lines[0])?;
//! assert!(record.as_object_mut().and_then(|r| r.remove("timestamp")).is_some());
//! assert_eq!(
//!     record.to_string(),
//!     r#"{"level":"info","message":"Refreshed with ***","service":"backstage","env":"dev","plugin":"catalog","entities":3}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Records
//!
//! Fields are `service: "backstage"`, then `backend.logger.meta`, then the fields of the
//! event's spans from the outermost in, then the event's own; a later field of the same name
//! wins (Backstage's child loggers work the same way). [`Format::Json`] writes `level`,
//! `message`, the fields and `timestamp`; [`Format::Pretty`] writes
//! `<timestamp> <plugin or service> <level> <message> key=value…`. Levels are mapped as
//! [`LogLevel`] describes. Overrides are matched against the fields and `message`.
//!
//! ## Redaction
//!
//! Every secret string (trimmed, longer than one character) is replaced by `***` in the
//! rendered line, also in its JSON-escaped form. Secrets are recognised by key name, not by
//! config schema: see [`config::secret_values`](crate::config::secret_values).
//!
//! ## Not done yet
//!
//! - **No reloading**: the level, overrides and secrets are fixed when the layer is built;
//!   Backstage re-applies overrides and adds secrets when config changes.
//! - **No `Found <n> new secrets in config that will be redacted`** start-up message.
//! - **No error `name` and `stack`**: an error recorded as a field (`error = &err as &dyn
//!   Error`) is its `Display` text.
//! - **No colours** in [`Format::Pretty`].

mod config;
mod layer;

pub use config::{Format, LevelOverride, LogLevel, LoggerConfig};
pub use layer::{LogBuffer, LogLayer, REDACTED};

use tracing_subscriber::layer::SubscriberExt;

use crate::{Error, Result};

/// Installs a [`LogLayer`] writing to standard output, on a `tracing_subscriber` registry, as
/// the global default subscriber. Only a host calls this, once, at start-up.
///
/// # Errors
///
/// [`Error::SubscriberAlreadySet`] when a global subscriber is already set (by an earlier
/// call, or by anything else); the existing one stays.
pub fn init(config: LoggerConfig, secrets: Vec<String>) -> Result<()> {
    let subscriber = tracing_subscriber::registry().with(LogLayer::new(config, secrets));
    tracing::subscriber::set_global_default(subscriber).map_err(|_| Error::SubscriberAlreadySet)
}

#[cfg(test)]
mod tests;
