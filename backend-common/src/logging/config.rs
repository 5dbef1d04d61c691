//! [`LoggerConfig`]: what `backend.logger.*` says, plus the host's choices.

use regex::Regex;
use serde_json::{Map, Value};
use tracing::Level;

use crate::config::ConfigReader;
use crate::{Error, Result};

/// The levels [`LoggerConfig::from_config`] accepts for `backend.logger.level`.
const ALL_LEVELS: &str = "'error', 'warn', 'info', 'http', 'verbose', 'debug' or 'silly'";
/// The levels Backstage accepts in `backend.logger.overrides[].level`.
const OVERRIDE_LEVELS: &str = "'error', 'warn', 'info' or 'debug'";

/// Backstage's logging levels, most severe first (so `Error < Warn < … < Silly`).
///
/// `tracing` has five levels and Backstage seven. Records are mapped by
/// [`from_tracing`](Self::from_tracing): `ERROR` → `error`, `WARN` → `warn`, `INFO` →
/// `info`, `DEBUG` → `debug`, `TRACE` → `silly`; no record is ever `http` or `verbose`. As a
/// threshold, `http` and `verbose` therefore let through what `info` does (the records they
/// add in Backstage have no `tracing` counterpart), `debug` adds `DEBUG` events and `silly`
/// adds `TRACE` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `error`.
    Error,
    /// `warn`.
    Warn,
    /// `info`, the default threshold.
    Info,
    /// `http`.
    Http,
    /// `verbose`.
    Verbose,
    /// `debug`.
    Debug,
    /// `silly`.
    Silly,
}

impl LogLevel {
    /// The level's Backstage name (`"info"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Http => "http",
            LogLevel::Verbose => "verbose",
            LogLevel::Debug => "debug",
            LogLevel::Silly => "silly",
        }
    }

    /// The level with this Backstage name (exact, lower case), if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "http" => LogLevel::Http,
            "verbose" => LogLevel::Verbose,
            "debug" => LogLevel::Debug,
            "silly" => LogLevel::Silly,
            _ => return None,
        })
    }

    /// The Backstage level a `tracing` record is shown with (see the [type docs](Self)).
    #[must_use]
    pub fn from_tracing(level: Level) -> Self {
        match level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Silly,
        }
    }

    /// The most verbose `tracing` level this threshold lets through.
    #[must_use]
    pub fn to_tracing(self) -> Level {
        match self {
            LogLevel::Error => Level::ERROR,
            LogLevel::Warn => Level::WARN,
            LogLevel::Info | LogLevel::Http | LogLevel::Verbose => Level::INFO,
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Silly => Level::TRACE,
        }
    }

    fn parse(key: &str, name: &str, allowed: &'static str) -> Result<Self> {
        let level = LogLevel::from_name(name).filter(|level| {
            allowed == ALL_LEVELS || *level <= LogLevel::Info || *level == LogLevel::Debug
        });
        level.ok_or_else(|| Error::InvalidLogLevel {
            key: key.to_owned(),
            level: name.to_owned(),
            allowed,
        })
    }
}

/// How records are written; the host chooses (Backstage uses JSON when
/// `NODE_ENV=production`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON object per line: `level`, `message`, then the fields, then `timestamp`.
    Json,
    /// `<timestamp> <plugin or service> <level> <message> key=value…`, without colours.
    #[default]
    Pretty,
}

/// One matcher of an override: a literal, a `/regex/flags` string, or a list of those.
#[derive(Debug, Clone)]
enum Matcher {
    Literal(Value),
    Regex(Regex),
    Any(Vec<Matcher>),
}

impl Matcher {
    fn parse(key: &str, value: Value) -> Result<Self> {
        match value {
            Value::Array(items) => Ok(Matcher::Any(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::Array(_) => Ok(Matcher::Literal(item)),
                        other => Matcher::parse(key, other),
                    })
                    .collect::<Result<_>>()?,
            )),
            Value::String(s) => match regex_parts(&s) {
                Some((pattern, flags)) => {
                    let inline: String = flags.chars().filter(|c| "ims".contains(*c)).collect();
                    let source = if inline.is_empty() {
                        pattern.to_owned()
                    } else {
                        format!("(?{inline}){pattern}")
                    };
                    Regex::new(&source).map(Matcher::Regex).map_err(|err| {
                        Error::InvalidLogMatcher {
                            key: key.to_owned(),
                            pattern: s.clone(),
                            reason: err.to_string(),
                        }
                    })
                }
                None => Ok(Matcher::Literal(Value::String(s))),
            },
            other => Ok(Matcher::Literal(other)),
        }
    }

    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Matcher::Literal(literal) => value.is_some_and(|value| loose_eq(literal, value)),
            Matcher::Regex(regex) => value
                .and_then(Value::as_str)
                .is_some_and(|s| regex.is_match(s)),
            Matcher::Any(list) => list.iter().any(|m| m.matches(value)),
        }
    }
}

/// `/pattern/flags` → (pattern, flags), with JavaScript's flag letters.
fn regex_parts(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('/')?;
    let end = rest.rfind('/')?;
    let flags = &rest[end + 1..];
    flags
        .chars()
        .all(|c| "dgimsuvy".contains(c))
        .then(|| (&rest[..end], flags))
}

/// Strict equality, except that `5` and `5.0` are the same number (as in JavaScript).
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// One entry of `backend.logger.overrides`: a threshold for the records whose fields match.
#[derive(Debug, Clone)]
pub struct LevelOverride {
    matchers: Vec<(String, Matcher)>,
    level: LogLevel,
}

impl LevelOverride {
    /// The threshold for matching records.
    #[must_use]
    pub fn level(&self) -> LogLevel {
        self.level
    }

    /// Whether every matcher matches; `field` looks a record's field up by name.
    pub(crate) fn matches<'a>(&self, field: impl Fn(&str) -> Option<&'a Value>) -> bool {
        self.matchers
            .iter()
            .all(|(name, matcher)| matcher.matches(field(name)))
    }
}

/// The logger settings: threshold, extra fields, overrides and output format.
///
/// Read `backend.logger.*` with [`from_config`](Self::from_config); then the host applies
/// what libraries must not read themselves: [`with_level_override`](Self::with_level_override)
/// for the `LOG_LEVEL` environment variable, [`with_format`](Self::with_format) for
/// production JSON output.
#[derive(Debug, Clone, Default)]
pub struct LoggerConfig {
    level: Option<LogLevel>,
    meta: Map<String, Value>,
    overrides: Vec<LevelOverride>,
    format: Format,
}

impl LoggerConfig {
    /// Reads `backend.logger.level` (default `info`), `backend.logger.meta` (an object of
    /// fields added to every record) and `backend.logger.overrides` (a list of
    /// `{ matchers: { <field>: <matcher> }, level }`; the first override whose matchers all
    /// match a record sets its threshold). A matcher is a literal (equality), a
    /// `/regex/flags` string (tested against string fields; flags `i`, `m` and `s` apply, others
    /// are ignored) or a list of those (any may match). The format is [`Format::Pretty`].
    ///
    /// # Errors
    ///
    /// The config's type errors, [`Error::InvalidLogLevel`] for an unknown level (for an
    /// override: Backstage's message, which only accepts `error`, `warn`, `info` and `debug`)
    /// and [`Error::InvalidLogMatcher`] for a regex that does not compile.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let level = match config.optional_string("backend.logger.level")? {
            Some(name) => Some(LogLevel::parse("backend.logger.level", &name, ALL_LEVELS)?),
            None => None,
        };
        let meta = match config.optional_config("backend.logger.meta")? {
            Some(meta) => match meta.value() {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        let mut overrides = Vec::new();
        for (i, entry) in config
            .optional_config_array("backend.logger.overrides")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let name = entry.string("level")?;
            let key = format!("backend.logger.overrides[{i}]");
            let level = LogLevel::parse(&format!("{key}.level"), &name, OVERRIDE_LEVELS)?;
            let mut matchers = Vec::new();
            if let Value::Object(map) = entry.config("matchers")?.value() {
                for (field, value) in map {
                    let matcher = Matcher::parse(&format!("{key}.matchers.{field}"), value)?;
                    matchers.push((field, matcher));
                }
            }
            overrides.push(LevelOverride { matchers, level });
        }
        Ok(LoggerConfig {
            level,
            meta,
            overrides,
            format: Format::default(),
        })
    }

    /// Replaces the threshold with `level` when it is `Some`: the host passes the `LOG_LEVEL`
    /// environment variable here, which wins over `backend.logger.level`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLogLevel`] (key `LOG_LEVEL`) when `level` is not a Backstage level.
    pub fn with_level_override(mut self, level: Option<&str>) -> Result<Self> {
        if let Some(name) = level {
            self.level = Some(LogLevel::parse("LOG_LEVEL", name, ALL_LEVELS)?);
        }
        Ok(self)
    }

    /// Sets the output format.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The threshold for records no override matches.
    #[must_use]
    pub fn level(&self) -> LogLevel {
        self.level.unwrap_or(LogLevel::Info)
    }

    /// The fields of `backend.logger.meta`.
    #[must_use]
    pub fn meta(&self) -> &Map<String, Value> {
        &self.meta
    }

    /// The overrides, in config order.
    #[must_use]
    pub fn overrides(&self) -> &[LevelOverride] {
        &self.overrides
    }

    /// The output format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The most verbose level any record could be let through at.
    pub(crate) fn max_level(&self) -> LogLevel {
        self.overrides
            .iter()
            .map(LevelOverride::level)
            .fold(self.level(), Ord::max)
    }
}
