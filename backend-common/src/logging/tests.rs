use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::config::{ConfigReader, secret_values};

fn logger(config: Value) -> LoggerConfig {
    LoggerConfig::from_config(&ConfigReader::from_value(config)).expect("valid logger config")
}

/// Runs `emit` under a layer for `config` and returns the lines written.
fn capture(config: LoggerConfig, secrets: &[&str], emit: impl FnOnce()) -> Vec<String> {
    let buffer = LogBuffer::default();
    let secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
    let layer = LogLayer::new(config, secrets).with_writer(buffer.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
    buffer.lines()
}

fn json_lines(config: LoggerConfig, secrets: &[&str], emit: impl FnOnce()) -> Vec<Value> {
    capture(config.with_format(Format::Json), secrets, emit)
        .iter()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn messages(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["message"].as_str().unwrap_or_default())
        .collect()
}

#[test]
fn json_records_have_level_message_service_meta_and_span_fields() {
    let config = logger(json!({ "backend": { "logger": { "meta": { "env": "prod" } } } }));
    let records = json_lines(config, &[], || {
        let span = tracing::info_span!("plugin", plugin = "catalog");
        let _entered = span.enter();
        tracing::warn!(count = 2, ok = true, "Stitching took too long");
    });
    assert_eq!(records.len(), 1);
    let record = records[0].as_object().expect("an object");
    let keys: Vec<&str> = record.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "level",
            "message",
            "service",
            "env",
            "plugin",
            "count",
            "ok",
            "timestamp"
        ]
    );
    assert_eq!(record["level"], "warn");
    assert_eq!(record["message"], "Stitching took too long");
    assert_eq!(record["service"], "backstage");
    assert_eq!(record["env"], "prod");
    assert_eq!(record["plugin"], "catalog");
    assert_eq!(record["count"], 2);
    assert_eq!(record["ok"], true);
    let timestamp = record["timestamp"].as_str().unwrap_or_default();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 24,
        "{timestamp}"
    );
}

#[test]
fn inner_spans_and_event_fields_win_over_outer_ones() {
    let records = json_lines(LoggerConfig::default(), &[], || {
        let outer = tracing::info_span!("outer", plugin = "catalog", task = "a");
        let _outer = outer.enter();
        let inner = tracing::info_span!("inner", task = "b");
        let _inner = inner.enter();
        tracing::info!(service = "other", "hi");
    });
    assert_eq!(records[0]["plugin"], "catalog");
    assert_eq!(records[0]["task"], "b");
    assert_eq!(records[0]["service"], "other");
}

#[test]
fn pretty_lines_start_with_timestamp_prefix_and_level() {
    let lines = capture(LoggerConfig::default(), &[], || {
        tracing::info!(user = "jane", attempt = 3, "Signed in");
        let span = tracing::info_span!("plugin", plugin = "auth");
        let _entered = span.enter();
        tracing::error!("Token refresh failed");
    });
    assert_eq!(lines.len(), 2);
    let (timestamp, rest) = lines[0].split_once(' ').expect("a timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 24,
        "{timestamp}"
    );
    assert_eq!(rest, "backstage info Signed in user=jane attempt=3");
    let (_, rest) = lines[1].split_once(' ').expect("a timestamp");
    assert_eq!(rest, "auth error Token refresh failed");
}

#[test]
fn records_more_verbose_than_the_level_are_dropped() {
    let emit = || {
        tracing::error!("e");
        tracing::warn!("w");
        tracing::info!("i");
        tracing::debug!("d");
        tracing::trace!("t");
    };
    let by_level = |level: &str| {
        let config = logger(json!({ "backend": { "logger": { "level": level } } }));
        messages(&json_lines(config, &[], emit)).join("")
    };
    assert_eq!(by_level("warn"), "ew");
    assert_eq!(by_level("info"), "ewi");
    assert_eq!(by_level("verbose"), "ewi");
    assert_eq!(by_level("debug"), "ewid");
    assert_eq!(by_level("silly"), "ewidt");
    let records = json_lines(LoggerConfig::default(), &[], emit);
    assert_eq!(messages(&records), ["e", "w", "i"]);
    assert_eq!(records[2]["level"], "info");
}

#[test]
fn log_level_override_wins_over_config_and_is_validated() {
    let config = logger(json!({ "backend": { "logger": { "level": "debug" } } }));
    let config = config
        .with_level_override(Some("error"))
        .expect("a valid level");
    assert_eq!(config.level(), LogLevel::Error);
    let err = LoggerConfig::default()
        .with_level_override(Some("loud"))
        .expect_err("not a level");
    assert_eq!(
        err.to_string(),
        "Invalid config at LOG_LEVEL, 'loud' is not a valid logging level, must be one of 'error', 'warn', 'info', 'http', 'verbose', 'debug' or 'silly'."
    );
}

#[test]
fn overrides_match_literals_regexes_and_lists_and_the_first_match_wins() {
    let config = logger(json!({ "backend": { "logger": {
        "level": "warn",
        "overrides": [
            { "matchers": { "plugin": "catalog", "task": "/^refresh/i" }, "level": "error" },
            { "matchers": { "plugin": "catalog" }, "level": "debug" },
            { "matchers": { "plugin": ["search", "/^tech/"] }, "level": "info" },
            { "matchers": { "message": "/noisy/" }, "level": "error" },
        ],
    } } }));
    let records = json_lines(config, &[], || {
        let catalog = tracing::info_span!("plugin", plugin = "catalog");
        catalog.in_scope(|| {
            tracing::debug!("catalog debug");
            tracing::warn!(task = "Refresh-1", "refresh warn");
            tracing::error!(task = "refresh-2", "refresh error");
        });
        for plugin in ["search", "techdocs", "scaffolder"] {
            tracing::info_span!("plugin", plugin).in_scope(|| tracing::info!("{plugin} info"));
        }
        tracing::warn!("noisy warn");
        tracing::warn!("plain warn");
    });
    assert_eq!(
        messages(&records),
        [
            "catalog debug",
            "refresh error",
            "search info",
            "techdocs info",
            "plain warn"
        ]
    );
}

#[test]
fn literal_matchers_compare_numbers_and_need_the_field() {
    let config = logger(json!({ "backend": { "logger": {
        "overrides": [{ "matchers": { "attempt": 2, "missing": ["/./"] }, "level": "debug" },
                      { "matchers": { "attempt": 2 }, "level": "debug" }],
    } } }));
    let records = json_lines(config, &[], || {
        tracing::debug!(attempt = 2_u64, "second");
        tracing::debug!(attempt = 3_u64, "third");
        tracing::debug!(attempt = "2", "a string");
    });
    assert_eq!(messages(&records), ["second"]);
}

#[test]
fn invalid_override_level_is_backstages_error() {
    let err = LoggerConfig::from_config(&ConfigReader::from_value(json!({
        "backend": { "logger": { "overrides": [
            { "matchers": { "plugin": "a" }, "level": "info" },
            { "matchers": { "plugin": "b" }, "level": "silly" },
        ] } },
    })))
    .expect_err("silly is not allowed in overrides");
    assert_eq!(
        err.to_string(),
        "Invalid config at backend.logger.overrides[1].level, 'silly' is not a valid logging level, must be one of 'error', 'warn', 'info' or 'debug'."
    );
    assert_eq!(err.key(), Some("backend.logger.overrides[1].level"));
}

#[test]
fn invalid_override_regex_names_the_matcher() {
    let err = LoggerConfig::from_config(&ConfigReader::from_value(json!({
        "backend": { "logger": { "overrides": [
            { "matchers": { "plugin": "/(/" }, "level": "info" },
        ] } },
    })))
    .expect_err("an unclosed group");
    assert_eq!(
        err.key(),
        Some("backend.logger.overrides[0].matchers.plugin")
    );
}

#[test]
fn secrets_are_redacted_in_messages_and_fields() {
    let config = ConfigReader::from_value(json!({
        "backend": { "auth": { "keys": [{ "secret": "  backend-key  " }] } },
        "db": { "password": "p\"w" },
        "short": { "token": "x" },
    }));
    let secrets = secret_values(&config);
    let owned: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let records = json_lines(LoggerConfig::default(), &owned, || {
        tracing::info!(
            header = "Bearer backend-key",
            "using backend-key and p\"w, x"
        );
    });
    assert_eq!(records[0]["message"], "using *** and ***, x");
    assert_eq!(records[0]["header"], "Bearer ***");

    let lines = capture(LoggerConfig::default(), &owned, || {
        tracing::info!(password = "p\"w", "login backend-key");
    });
    assert!(
        lines[0].ends_with("backstage info login *** password=***"),
        "{}",
        lines[0]
    );
}

#[test]
fn init_twice_is_an_error_not_a_panic() {
    let _ = init(LoggerConfig::default(), Vec::new());
    let second = init(LoggerConfig::default(), Vec::new());
    assert!(
        matches!(second, Err(Error::SubscriberAlreadySet)),
        "{second:?}"
    );
}
