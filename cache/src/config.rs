//! Reading durations and store blocks from `backend.cache`.

use std::time::Duration;

use backstage_backend_common::config::{ConfigReader, read_duration};
use serde_json::Value;

use crate::{Error, Result};

/// A duration at `key` of `block` in any of Backstage's forms: a number of milliseconds, an
/// ms-style string (`'1h'`, `'90 minutes'`, `'1.5s'`), an ISO-8601 string (`'PT1H'`) or a
/// `HumanDuration` object (`{ hours: 1 }`). `path` is the full config path, for messages.
///
/// # Errors
///
/// [`Error::Config`] for strings that do not parse (a bare number in a string is rejected, as in
/// Backstage) and malformed objects; [`Error::InvalidConfig`] for negative durations.
pub(crate) fn read_optional_duration(
    block: &ConfigReader,
    key: &str,
    path: &str,
) -> Result<Option<Duration>> {
    let millis = match block.optional(key)? {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(_) => read_duration(block, key)?.as_millis(),
    };
    millis_to_duration(millis, path).map(Some)
}

/// `backend.cache.timeout`, the bound of every store call (default 1 s).
///
/// # Errors
///
/// As [`read_optional_duration`]; a zero timeout is [`Error::InvalidConfig`].
pub(crate) fn operation_timeout(config: &ConfigReader) -> Result<Duration> {
    const KEY: &str = "backend.cache.timeout";
    match read_optional_duration(config, KEY, KEY)? {
        None => Ok(crate::manager::DEFAULT_TIMEOUT),
        Some(timeout) if timeout.is_zero() => {
            Err(Error::invalid_config(KEY, "must be longer than zero"))
        }
        Some(timeout) => Ok(timeout),
    }
}

fn millis_to_duration(millis: f64, path: &str) -> Result<Duration> {
    if !millis.is_finite() || millis < 0.0 {
        return Err(Error::invalid_config(
            path,
            format!("must be a duration of zero or more, got {millis} ms"),
        ));
    }
    Duration::try_from_secs_f64(millis / 1000.0)
        .map_err(|_| Error::invalid_config(path, format!("duration of {millis} ms is too long")))
}

/// Which store `backend.cache.store` selects.
pub(crate) fn store_name(config: &ConfigReader) -> Result<String> {
    const KEY: &str = "backend.cache.store";
    // Read raw: an empty string also means the default.
    match config.optional(KEY)? {
        None => Ok("memory".to_owned()),
        Some(Value::String(store)) if store.is_empty() => Ok("memory".to_owned()),
        Some(Value::String(store)) => Ok(store),
        Some(_) => Err(Error::invalid_config(KEY, "must be a string")),
    }
}

/// `backend.cache.connection` as Backstage reads it: a string (default `''`), or for redis an
/// object with a non-empty `url` and client options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Connection {
    /// The string form (possibly empty).
    Url(String),
    /// The object form: its `url` and the whole object (redis only).
    Object {
        /// The `url` member.
        url: String,
        /// The object, `url` included.
        options: serde_json::Map<String, Value>,
    },
}

/// Reads `backend.cache.connection` (spec §4.1).
pub(crate) fn connection(config: &ConfigReader, store: &str) -> Result<Connection> {
    const KEY: &str = "backend.cache.connection";
    match config.optional(KEY)? {
        None => Ok(Connection::Url(String::new())),
        Some(Value::String(url)) => Ok(Connection::Url(url)),
        Some(Value::Object(options)) => {
            if store != "redis" {
                return Err(Error::invalid_config(
                    KEY,
                    "the object form is only supported when backend.cache.store is 'redis'",
                ));
            }
            match options.get("url") {
                Some(Value::String(url)) if !url.is_empty() => Ok(Connection::Object {
                    url: url.clone(),
                    options,
                }),
                _ => Err(Error::invalid_config(
                    KEY,
                    "the connection object must include a non-empty 'url' string",
                )),
            }
        }
        Some(other) => Err(Error::invalid_config(
            KEY,
            format!(
                "must be a string or object, got {}",
                match other {
                    Value::Array(_) => "array",
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    _ => "null",
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn duration(value: Value) -> Result<Option<Duration>> {
        let block = ConfigReader::from_value(json!({ "d": value }));
        read_optional_duration(&block, "d", "x.d")
    }

    #[test]
    fn every_duration_form_is_accepted() {
        let secs = |s| Ok::<_, ()>(Some(Duration::from_secs(s)));
        assert_eq!(duration(json!(90_000)).map_err(|_| ()), secs(90));
        assert_eq!(duration(json!("90 minutes")).map_err(|_| ()), secs(5400));
        assert_eq!(duration(json!("1h")).map_err(|_| ()), secs(3600));
        assert_eq!(duration(json!("PT1H")).map_err(|_| ()), secs(3600));
        assert_eq!(duration(json!({ "minutes": 2 })).map_err(|_| ()), secs(120));
        assert_eq!(
            duration(json!(1.5)).unwrap(),
            Some(Duration::from_micros(1500))
        );
        assert_eq!(duration(json!(0)).unwrap(), Some(Duration::ZERO));
        let empty = ConfigReader::from_value(json!({}));
        assert_eq!(read_optional_duration(&empty, "d", "x.d").unwrap(), None);
    }

    #[test]
    fn bad_durations_are_startup_errors() {
        assert!(duration(json!("0")).is_err());
        assert!(duration(json!("soon")).is_err());
        assert!(duration(json!(-5)).is_err());
        assert!(duration(json!({ "fortnights": 1 })).is_err());
        assert!(duration(json!(true)).is_err());
    }

    #[test]
    fn connection_forms() {
        let read = |cache: Value, store: &str| {
            connection(
                &ConfigReader::from_value(json!({ "backend": { "cache": cache } })),
                store,
            )
        };
        assert_eq!(
            read(json!({}), "redis").unwrap(),
            Connection::Url(String::new())
        );
        assert_eq!(
            read(json!({ "connection": "redis://x" }), "redis").unwrap(),
            Connection::Url("redis://x".to_owned())
        );
        assert!(matches!(
            read(json!({ "connection": { "url": "redis://y", "pingInterval": 5 } }), "redis")
                .unwrap(),
            Connection::Object { url, .. } if url == "redis://y"
        ));
        assert!(read(json!({ "connection": { "url": "redis://y" } }), "valkey").is_err());
        assert!(read(json!({ "connection": { "url": "" } }), "redis").is_err());
        assert!(read(json!({ "connection": 5 }), "redis").is_err());
    }
}
