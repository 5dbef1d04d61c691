//! `core.rootLogger` and `core.logger` (spec §3.2), on `tracing`.

use std::sync::Arc;

use tracing::Span;

/// A logger: a `tracing` span whose fields every record carries.
///
/// Plugins may also use `tracing`'s macros directly: plugin inits, startup hooks and request
/// handlers run inside the plugin's span, so their events carry `plugin = <id>`. The
/// methods here exist for code running elsewhere (spawned tasks) and for Backstage parity.
/// Which records are written, and how (JSON or pretty, redaction), is the host's subscriber's
/// business (see `backstage_backend_common::logging`).
pub trait LoggerService: Send + Sync {
    /// The span whose fields the records carry (`plugin = <id>` for a plugin logger).
    fn span(&self) -> &Span;

    /// A child logger; build the span with `parent: logger.span()` and the extra fields, e.g.
    /// `logger.child(tracing::info_span!(parent: logger.span(), "task", task = %id))`.
    fn child(&self, span: Span) -> Arc<dyn LoggerService>;

    /// Logs at error level.
    fn error(&self, message: &str) {
        tracing::error!(parent: self.span(), "{message}");
    }
    /// Logs at warn level.
    fn warn(&self, message: &str) {
        tracing::warn!(parent: self.span(), "{message}");
    }
    /// Logs at info level.
    fn info(&self, message: &str) {
        tracing::info!(parent: self.span(), "{message}");
    }
    /// Logs at debug level.
    fn debug(&self, message: &str) {
        tracing::debug!(parent: self.span(), "{message}");
    }
}

/// The root logger; the same interface. Plugin loggers are its children.
pub trait RootLoggerService: LoggerService {}

/// The stock logger: a span.
#[derive(Clone, Debug)]
pub struct SpanLogger {
    span: Span,
}

impl SpanLogger {
    /// A logger over `span`.
    pub fn new(span: Span) -> Self {
        Self { span }
    }

    /// The root logger: a span named `backstage` with no fields.
    pub fn root() -> Self {
        Self::new(tracing::info_span!(parent: None, "backstage"))
    }

    /// A plugin logger: a child span with `plugin = <id>`.
    pub fn plugin(parent: &dyn LoggerService, plugin_id: &str) -> Self {
        Self::new(tracing::info_span!(parent: parent.span(), "plugin", plugin = %plugin_id))
    }
}

impl LoggerService for SpanLogger {
    fn span(&self) -> &Span {
        &self.span
    }
    fn child(&self, span: Span) -> Arc<dyn LoggerService> {
        Arc::new(SpanLogger::new(span))
    }
}

impl RootLoggerService for SpanLogger {}
