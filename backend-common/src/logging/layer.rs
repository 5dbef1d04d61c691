//! [`LogLayer`]: the `tracing_subscriber::Layer` that filters, formats, redacts and writes.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::config::{Format, LogLevel, LoggerConfig};

/// The text that replaces a secret in a rendered line.
pub const REDACTED: &str = "***";

/// A `tracing_subscriber::Layer` that writes Backstage-style log lines.
///
/// For each event it collects the fields: `service: "backstage"`, then `backend.logger.meta`,
/// then the fields of the event's spans from the outermost in, then the event's own (later
/// ones win). It picks the threshold (the first matching override, else the configured
/// level), drops the event if it is more verbose, renders it in the configured [`Format`],
/// replaces every secret with [`REDACTED`] and writes the line to its writer (standard output
/// unless [`with_writer`](Self::with_writer) says otherwise).
///
/// Its `enabled` hook turns off events more verbose than the most verbose configured level, for
/// the whole subscriber it is part of.
pub struct LogLayer<W = fn() -> io::Stdout> {
    config: LoggerConfig,
    /// Secrets, longest first, each with its JSON-escaped form when that differs.
    secrets: Vec<(String, Option<String>)>,
    max_level: LogLevel,
    writer: W,
}

impl<W> fmt::Debug for LogLayer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLayer")
            .field("config", &self.config)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish_non_exhaustive()
    }
}

impl LogLayer {
    /// A layer writing to standard output. `secrets` are redacted from every line (each
    /// trimmed; those of one character or less are ignored); pass
    /// [`secret_values`](crate::config::secret_values) of the config.
    #[must_use]
    pub fn new(config: LoggerConfig, secrets: Vec<String>) -> Self {
        let mut list: Vec<String> = secrets
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| s.chars().count() > 1)
            .collect();
        list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        list.dedup();
        let secrets = list
            .into_iter()
            .map(|raw| {
                let json = serde_json::to_string(&raw).unwrap_or_default();
                let escaped = json.get(1..json.len().saturating_sub(1)).unwrap_or("");
                let escaped = (escaped != raw).then(|| escaped.to_owned());
                (raw, escaped)
            })
            .collect();
        LogLayer {
            max_level: config.max_level(),
            config,
            secrets,
            writer: io::stdout,
        }
    }
}

impl<W> LogLayer<W> {
    /// The same layer writing to `writer` (a [`LogBuffer`] in tests, a file, …).
    #[must_use]
    pub fn with_writer<W2>(self, writer: W2) -> LogLayer<W2>
    where
        W2: for<'w> MakeWriter<'w> + 'static,
    {
        LogLayer {
            config: self.config,
            secrets: self.secrets,
            max_level: self.max_level,
            writer,
        }
    }

    /// Replaces every secret in `line` with [`REDACTED`].
    fn redact(&self, mut line: String) -> String {
        for (raw, escaped) in &self.secrets {
            if line.contains(raw.as_str()) {
                line = line.replace(raw.as_str(), REDACTED);
            }
            if let Some(escaped) = escaped
                && line.contains(escaped.as_str())
            {
                line = line.replace(escaped.as_str(), REDACTED);
            }
        }
        line
    }

    fn render(&self, level: LogLevel, message: &str, fields: Map<String, Value>) -> String {
        let timestamp = iso_timestamp(SystemTime::now());
        match self.config.format() {
            Format::Json => {
                let mut record = Map::new();
                record.insert("level".to_owned(), level.as_str().into());
                record.insert("message".to_owned(), message.into());
                for (key, value) in fields {
                    if key != "level" && key != "message" {
                        record.insert(key, value);
                    }
                }
                record.insert("timestamp".to_owned(), timestamp.into());
                Value::Object(record).to_string()
            }
            Format::Pretty => {
                let prefix = fields
                    .get("plugin")
                    .or_else(|| fields.get("service"))
                    .map(plain)
                    .unwrap_or_default();
                let mut line = format!("{timestamp} {prefix} {} {message}", level.as_str());
                for (key, value) in &fields {
                    if !matches!(key.as_str(), "plugin" | "service" | "level" | "message") {
                        line.push_str(&format!(" {key}={}", plain(value)));
                    }
                }
                line
            }
        }
    }
}

/// A string as itself, anything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// Records `tracing` fields as JSON values.
struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = Number::from_f64(value).map_or_else(|| value.to_string().into(), Value::Number);
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

impl<S, W> tracing_subscriber::Layer<S> for LogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        !metadata.is_event() || *metadata.level() <= self.max_level.to_tracing()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut recorded = Map::new();
            attrs.record(&mut FieldVisitor(&mut recorded));
            // Keep the order the fields are declared in, whatever order they are visited in.
            let mut fields = Map::new();
            for field in attrs.metadata().fields() {
                if let Some(value) = recorded.remove(field.name()) {
                    fields.insert(field.name().to_owned(), value);
                }
            }
            fields.extend(recorded);
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
                values.record(&mut FieldVisitor(fields));
            } else {
                let mut fields = Map::new();
                values.record(&mut FieldVisitor(&mut fields));
                extensions.insert(SpanFields(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        fields.insert("service".to_owned(), "backstage".into());
        for (key, value) in self.config.meta() {
            fields.insert(key.clone(), value.clone());
        }
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    for (key, value) in span_fields {
                        fields.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        let mut own = Map::new();
        event.record(&mut FieldVisitor(&mut own));
        let message = match own.remove("message") {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        // Keep the order the fields are declared in, whatever order they are visited in.
        for field in event.fields() {
            if let Some(value) = own.remove(field.name()) {
                fields.insert(field.name().to_owned(), value);
            }
        }
        fields.extend(own);

        let level = LogLevel::from_tracing(*event.metadata().level());
        let message_value = Value::String(message);
        let threshold = self
            .config
            .overrides()
            .iter()
            .find(|o| {
                o.matches(|name| {
                    if name == "message" {
                        Some(&message_value)
                    } else {
                        fields.get(name)
                    }
                })
            })
            .map_or(self.config.level(), |o| o.level());
        if level > threshold {
            return;
        }
        let message = match &message_value {
            Value::String(s) => s.as_str(),
            _ => "",
        };
        let mut line = self.redact(self.render(level, message, fields));
        line.push('\n');
        let mut writer = self.writer.make_writer_for(event.metadata());
        // A log line that cannot be written has nowhere to be reported.
        let _ = writer.write_all(line.as_bytes());
    }
}

/// `2024-05-01T12:34:56.789Z`, as JavaScript's `Date.prototype.toISOString`.
fn iso_timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// An in-memory writer for [`LogLayer::with_writer`]: cheap to clone, every clone appends to
/// the same buffer. Useful in tests.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    #[must_use]
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The lines written so far, without their line ends.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.contents().lines().map(str::to_owned).collect()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc() {
        let time = UNIX_EPOCH + std::time::Duration::from_millis(1_714_566_896_789);
        assert_eq!(iso_timestamp(time), "2024-05-01T12:34:56.789Z");
        assert_eq!(iso_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
