//! Helpers for the HTTP unit tests.

use std::sync::OnceLock;

use serde_json::json;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::ConfigReader;
use crate::logging::{Format, LogBuffer, LogLayer, LoggerConfig};

/// Captures the JSON log lines of the current thread until the guard is dropped.
///
/// `tracing` caches whether a callsite is enabled globally. While exactly one dispatcher
/// exists, a callsite first hit on another test's thread (with no subscriber) would be cached
/// as disabled for every thread; keeping a second dispatcher alive for the whole test run
/// makes `tracing` ask the current thread's subscriber instead.
pub(crate) fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    static KEEP_INTEREST_DYNAMIC: OnceLock<Dispatch> = OnceLock::new();
    KEEP_INTEREST_DYNAMIC.get_or_init(|| Dispatch::new(tracing_subscriber::registry()));
    let buffer = LogBuffer::default();
    let config = LoggerConfig::from_config(&ConfigReader::from_value(json!({})))
        .expect("logger config")
        .with_format(Format::Json);
    let layer = LogLayer::new(config, Vec::new()).with_writer(buffer.clone());
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (buffer, guard)
}
