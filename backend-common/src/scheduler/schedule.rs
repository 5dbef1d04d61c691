//! Task schedules: frequency, timeout, initial delay and scope, from code or from config
//! (Backstage's `SchedulerServiceTaskScheduleDefinition` and
//! `readSchedulerServiceTaskScheduleDefinitionFromConfig`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde_json::{Map, Value};

use crate::config::{ConfigReader, read_duration};
use crate::{Error, Result};

/// A validated cron expression: 5 fields (`minute hour day-of-month month day-of-week`) or 6
/// with leading seconds, as Backstage's `cron` package accepts them.
///
/// Month and weekday names (`JAN`, `mon`), ranges, lists and steps (`*/15`, `1-5`, `0/10`)
/// work; day of month and day of week combine with OR when both are restricted, as in Vixie
/// cron. Parsing is done by the `croner` crate, which also accepts a few extensions Backstage's
/// parser does not (`L`, `W`, `#`, `?`, `@daily`-style nicknames); a year field is rejected.
///
/// [`Display`](fmt::Display) gives the expression as written.
///
/// ```
/// use backstage_backend_common::scheduler::CronExpr;
/// use chrono::{TimeZone, Utc};
///
/// let cron: CronExpr = "*/15 * * * *".parse()?;
/// let after = Utc.with_ymd_and_hms(2024, 1, 1, 10, 7, 30).unwrap();
/// assert_eq!(cron.next_after(&after), Some(Utc.with_ymd_and_hms(2024, 1, 1, 10, 15, 0).unwrap()));
/// assert_eq!(cron.to_string(), "*/15 * * * *");
///
/// let err = "61 * * * *".parse::<CronExpr>().unwrap_err();
/// assert!(err.to_string().starts_with("invalid cron expression '61 * * * *', "));
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
#[derive(Clone)]
pub struct CronExpr {
    source: String,
    /// Shared: a parsed pattern is a few hundred bytes and never changes.
    cron: Arc<Cron>,
}

impl CronExpr {
    /// Parses and validates `expression`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCron`] (without a key) when it does not parse.
    pub fn parse(expression: &str) -> Result<Self> {
        Self::parse_at(expression, None)
    }

    pub(crate) fn parse_at(expression: &str, key: Option<&str>) -> Result<Self> {
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build();
        match parser.parse(expression) {
            Ok(cron) => Ok(Self {
                source: expression.to_owned(),
                cron: Arc::new(cron),
            }),
            Err(err) => Err(Error::InvalidCron {
                key: key.map(str::to_owned),
                expression: expression.to_owned(),
                reason: err.to_string(),
            }),
        }
    }

    /// The expression as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first time strictly after `after` (at whole seconds) that the expression matches,
    /// evaluated in `after`'s time zone; `None` if there is none (a pattern like `0 0 30 2 *`
    /// that never matches).
    #[must_use]
    pub fn next_after<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.cron.find_next_occurrence(after, false).ok()
    }
}

impl FromStr for CronExpr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronExpr").field(&self.source).finish()
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for CronExpr {}

/// How often a task runs (Backstage's `frequency`).
#[derive(Clone, Debug, PartialEq)]
pub enum TaskFrequency {
    /// At most once per this duration, start to start (a duration `frequency`).
    Every(Duration),
    /// At the times of a cron expression (`{ cron: '…' }`).
    Cron(CronExpr),
    /// Only when triggered (`{ trigger: 'manual' }`).
    Manual,
}

impl TaskFrequency {
    /// The `cadence` of the stored settings: an ISO 8601 duration (`PT2S`), the cron
    /// expression, or `manual`.
    #[must_use]
    pub fn cadence(&self) -> String {
        match self {
            TaskFrequency::Every(every) => iso_duration(*every),
            TaskFrequency::Cron(cron) => cron.as_str().to_owned(),
            TaskFrequency::Manual => "manual".to_owned(),
        }
    }
}

/// Where a task runs (Backstage's `scope`). See the [module docs](super) for how this
/// in-process scheduler treats `Global`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum TaskScope {
    /// Once across all backend instances (the default).
    #[default]
    Global,
    /// In every backend instance, independently.
    Local,
}

impl TaskScope {
    /// `global` or `local`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TaskScope::Global => "global",
            TaskScope::Local => "local",
        }
    }
}

impl fmt::Display for TaskScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When and how a task runs (Backstage's `SchedulerServiceTaskScheduleDefinition`).
///
/// ```
/// use std::time::Duration;
/// use backstage_backend_common::scheduler::{TaskFrequency, TaskSchedule, TaskScope};
///
/// let schedule = TaskSchedule::every(Duration::from_secs(600), Duration::from_secs(60))
///     .initial_delay(Duration::from_secs(5))
///     .scope(TaskScope::Local);
/// assert_eq!(schedule.frequency, TaskFrequency::Every(Duration::from_secs(600)));
/// assert_eq!(
///     schedule.settings(),
///     serde_json::json!({
///         "version": 2,
///         "cadence": "PT10M",
///         "initialDelayDuration": "PT5S",
///         "timeoutAfterDuration": "PT1M",
///     })
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSchedule {
    /// How often the task runs.
    pub frequency: TaskFrequency,
    /// How long one run may take before its cancellation token fires.
    pub timeout: Duration,
    /// How long to wait before the first run, if at all.
    pub initial_delay: Option<Duration>,
    /// Where the task runs.
    pub scope: TaskScope,
}

impl TaskSchedule {
    /// A schedule with `frequency` and `timeout`, no initial delay, global scope.
    #[must_use]
    pub fn new(frequency: TaskFrequency, timeout: Duration) -> Self {
        Self {
            frequency,
            timeout,
            initial_delay: None,
            scope: TaskScope::Global,
        }
    }

    /// Runs at most once per `every`, start to start.
    #[must_use]
    pub fn every(every: Duration, timeout: Duration) -> Self {
        Self::new(TaskFrequency::Every(every), timeout)
    }

    /// Runs at the times of `cron`.
    #[must_use]
    pub fn cron(cron: CronExpr, timeout: Duration) -> Self {
        Self::new(TaskFrequency::Cron(cron), timeout)
    }

    /// Runs only when triggered.
    #[must_use]
    pub fn manual(timeout: Duration) -> Self {
        Self::new(TaskFrequency::Manual, timeout)
    }

    /// Sets the initial delay.
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Sets the scope.
    #[must_use]
    pub fn scope(mut self, scope: TaskScope) -> Self {
        self.scope = scope;
        self
    }

    /// The version 2 settings Backstage stores for a task (`TaskSettingsV2`), with its key
    /// order: `version`, `cadence` ([`TaskFrequency::cadence`]), `initialDelayDuration` (only
    /// when there is an initial delay) and `timeoutAfterDuration`.
    ///
    /// Durations are written in a canonical ISO 8601 form, days, hours, minutes and seconds
    /// with up to three decimals (`P1DT2H`, `PT1H30M`, `PT0.5S`, `PT0S`). Backstage writes the
    /// units as they were given, so `{ minutes: 90 }` is `PT90M` there and `PT1H30M` here, and
    /// `{ weeks: 1 }` is `P1W` there and `P7D` here; both forms mean the same duration.
    #[must_use]
    pub fn settings(&self) -> Value {
        let mut settings = Map::new();
        settings.insert("version".to_owned(), Value::from(2));
        settings.insert("cadence".to_owned(), Value::from(self.frequency.cadence()));
        if let Some(delay) = self.initial_delay {
            settings.insert(
                "initialDelayDuration".to_owned(),
                Value::from(iso_duration(delay)),
            );
        }
        settings.insert(
            "timeoutAfterDuration".to_owned(),
            Value::from(iso_duration(self.timeout)),
        );
        Value::Object(settings)
    }
}

/// Reads a task schedule from the config block of one task (not the root config), as
/// Backstage's `readSchedulerServiceTaskScheduleDefinitionFromConfig`:
///
/// * `frequency`: an object with `cron` (the expression), `{ trigger: manual }`, or a duration
///   (ISO string, `ms`-style string or object; see [`read_duration`]);
/// * `timeout`: a duration;
/// * `initialDelay`: an optional duration;
/// * `scope`: optional, `global` or `local`.
///
/// ```
/// use std::time::Duration;
/// use backstage_backend_common::config::ConfigReader;
/// use backstage_backend_common::scheduler::{TaskFrequency, TaskScope, read_task_schedule};
/// use serde_json::json;
///
/// let config = ConfigReader::from_value(json!({
///     "frequency": { "cron": "0 30 * * * *" },
///     "timeout": "PT3M",
///     "initialDelay": { "minutes": 20 },
///     "scope": "local",
/// }));
/// let schedule = read_task_schedule(&config)?;
/// assert_eq!(schedule.frequency.cadence(), "0 30 * * * *");
/// assert_eq!(schedule.timeout, Duration::from_secs(180));
/// assert_eq!(schedule.initial_delay, Some(Duration::from_secs(1200)));
/// assert_eq!(schedule.scope, TaskScope::Local);
///
/// let config = ConfigReader::from_value(json!({ "frequency": "1h", "timeout": "PT3M" }));
/// let schedule = read_task_schedule(&config)?;
/// assert_eq!(schedule.frequency, TaskFrequency::Every(Duration::from_secs(3600)));
/// assert_eq!(schedule.scope, TaskScope::Global);
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
///
/// Unlike Backstage, the cron expression is validated here, and a duration must convert to a
/// [`std::time::Duration`] (not negative, not too large).
///
/// # Errors
///
/// [`Error::Missing`] without `frequency` (and, wrapped in [`Error::DurationRead`], without
/// `timeout`); the duration errors of [`read_duration`] (`{ secondz: 2 }` is
/// `Failed to read duration from config at 'frequency', Error: Needs one or more of …`);
/// [`Error::DurationOutOfRange`] for negative durations; [`Error::InvalidCron`] for a cron
/// expression that does not parse; [`Error::InvalidTaskScope`] for another scope, with
/// Backstage's message; reader errors for values of the wrong type.
pub fn read_task_schedule(config: &ConfigReader) -> Result<TaskSchedule> {
    let frequency = read_frequency(config, "frequency")?;
    let timeout = read_duration(config, "timeout")?.to_std()?;
    let initial_delay = if config.has("initialDelay")? {
        Some(read_duration(config, "initialDelay")?.to_std()?)
    } else {
        None
    };
    let scope = match config.optional_string("scope")?.as_deref() {
        None | Some("global") => TaskScope::Global,
        Some("local") => TaskScope::Local,
        Some(other) => {
            return Err(Error::InvalidTaskScope {
                key: full_key(config, "scope"),
                scope: other.to_owned(),
            });
        }
    };
    Ok(TaskSchedule {
        frequency,
        timeout,
        initial_delay,
        scope,
    })
}

/// Backstage's `readFrequency`.
fn read_frequency(config: &ConfigReader, key: &str) -> Result<TaskFrequency> {
    let value = config.get(key)?;
    if let Value::Object(map) = &value {
        if map.contains_key("cron") {
            let cron_key = format!("{key}.cron");
            let expression = config.string(&cron_key)?;
            let full = full_key(config, &cron_key);
            return Ok(TaskFrequency::Cron(CronExpr::parse_at(
                &expression,
                Some(&full),
            )?));
        }
        if map.get("trigger").and_then(Value::as_str) == Some("manual") {
            return Ok(TaskFrequency::Manual);
        }
    }
    Ok(TaskFrequency::Every(read_duration(config, key)?.to_std()?))
}

fn full_key(config: &ConfigReader, key: &str) -> String {
    match config.prefix() {
        "" => key.to_owned(),
        prefix => format!("{prefix}.{key}"),
    }
}

/// `duration` as an ISO 8601 duration: days, hours, minutes and seconds, the seconds with up
/// to three decimals (rounded to the millisecond); `PT0S` for zero (luxon's `toISO` of the
/// decomposed duration).
pub(crate) fn iso_duration(duration: Duration) -> String {
    const MS_PER_SECOND: u128 = 1000;
    const MS_PER_MINUTE: u128 = 60 * MS_PER_SECOND;
    const MS_PER_HOUR: u128 = 60 * MS_PER_MINUTE;
    const MS_PER_DAY: u128 = 24 * MS_PER_HOUR;

    let mut ms = (duration.as_nanos() + 500_000) / 1_000_000;
    let days = ms / MS_PER_DAY;
    ms %= MS_PER_DAY;
    let hours = ms / MS_PER_HOUR;
    ms %= MS_PER_HOUR;
    let minutes = ms / MS_PER_MINUTE;
    ms %= MS_PER_MINUTE;
    let seconds = ms / MS_PER_SECOND;
    let millis = ms % MS_PER_SECOND;

    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || millis > 0 {
        out.push('T');
    }
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if millis > 0 {
        let fraction = format!("{millis:03}");
        out.push_str(&format!("{seconds}.{}S", fraction.trim_end_matches('0')));
    } else if seconds > 0 {
        out.push_str(&format!("{seconds}S"));
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn read(value: Value) -> Result<TaskSchedule> {
        read_task_schedule(&ConfigReader::from_value(value))
    }

    fn message(value: Value) -> String {
        read(value).unwrap_err().to_string()
    }

    const UNITS: &str = "'years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', \
                         'milliseconds'";

    #[test]
    fn all_valid_values() {
        let schedule = read(json!({
            "frequency": { "cron": "0 30 * * * *" },
            "timeout": "PT3M",
            "initialDelay": { "minutes": 20 },
            "scope": "global",
        }))
        .unwrap();
        assert_eq!(
            schedule.frequency,
            TaskFrequency::Cron(CronExpr::parse("0 30 * * * *").unwrap())
        );
        assert_eq!(schedule.timeout, Duration::from_secs(180));
        assert_eq!(schedule.initial_delay, Some(Duration::from_secs(1200)));
        assert_eq!(schedule.scope, TaskScope::Global);
    }

    #[test]
    fn only_required_values() {
        let schedule =
            read(json!({ "frequency": { "cron": "0 30 * * * *" }, "timeout": "PT3M" })).unwrap();
        assert_eq!(schedule.initial_delay, None);
        assert_eq!(schedule.scope, TaskScope::Global);
    }

    #[test]
    fn every_frequency_form() {
        let frequency = |value: Value| {
            read(json!({ "frequency": value, "timeout": "PT1M" }))
                .unwrap()
                .frequency
        };
        let every = |secs| TaskFrequency::Every(Duration::from_secs(secs));
        assert_eq!(frequency(json!("PT30M")), every(1800));
        assert_eq!(frequency(json!("90m")), every(5400));
        assert_eq!(frequency(json!("2 seconds")), every(2));
        assert_eq!(
            frequency(json!({ "hours": 1, "minutes": "30" })),
            every(5400)
        );
        assert_eq!(
            frequency(json!({ "trigger": "manual" })),
            TaskFrequency::Manual
        );
        assert_eq!(
            frequency(json!({ "cron": "*/5 * * * *" })),
            TaskFrequency::Cron(CronExpr::parse("*/5 * * * *").unwrap())
        );
        assert_eq!(
            frequency(json!({ "cron": "*/5 * * * *" })).cadence(),
            "*/5 * * * *"
        );
        assert_eq!(
            frequency(json!({ "trigger": "manual" })).cadence(),
            "manual"
        );
    }

    #[test]
    fn missing_required_values() {
        assert_eq!(
            message(json!({ "timeout": "PT3M" })),
            "Missing required config value at 'frequency' in 'mock-config'"
        );
        assert_eq!(
            message(json!({ "frequency": "PT30M" })),
            "Failed to read duration from config, Error: Missing required config value at \
             'timeout' in 'mock-config'"
        );
    }

    #[test]
    fn duration_object_errors_have_backstages_messages() {
        assert_eq!(
            message(json!({ "frequency": { "secondz": 2 }, "timeout": "PT3M" })),
            format!(
                "Failed to read duration from config at 'frequency', Error: Needs one or more of \
                 {UNITS}"
            )
        );
        assert_eq!(
            message(json!({ "frequency": { "invalid": "value" }, "timeout": "PT3M" })),
            format!(
                "Failed to read duration from config at 'frequency', Error: Needs one or more of \
                 {UNITS}"
            )
        );
        assert_eq!(
            message(json!({ "frequency": { "minutes": "value" }, "timeout": "PT3M" })),
            "Failed to read duration from config, Error: Unable to convert config value for key \
             'frequency.minutes' in 'mock-config' to a number"
        );
        assert_eq!(
            message(
                json!({ "frequency": { "minutes": 20, "invalid": "value" }, "timeout": "PT3M" })
            ),
            format!(
                "Failed to read duration from config at 'frequency', Error: Unknown property \
                 'invalid'; expected one or more of {UNITS}"
            )
        );
        // A trigger other than `manual` is read as a duration object.
        assert_eq!(
            message(json!({ "frequency": { "trigger": "auto" }, "timeout": "PT3M" })),
            format!(
                "Failed to read duration from config at 'frequency', Error: Needs one or more of \
                 {UNITS}"
            )
        );
        assert_eq!(
            message(json!({ "frequency": "PT1M", "timeout": "soon" })),
            "Invalid duration 'soon' in config at 'timeout', Error: Not a valid duration string, \
             try a number followed by a unit such as '1d' or '2 seconds'"
        );
        assert!(matches!(
            read(json!({ "frequency": "P-1D", "timeout": "PT1M" })),
            Err(Error::DurationOutOfRange { .. })
        ));
    }

    #[test]
    fn scope_errors() {
        assert_eq!(
            message(json!({ "frequency": { "years": 2 }, "timeout": "PT3M", "scope": "invalid" })),
            "Only \"global\" or \"local\" are allowed for TaskScheduleDefinition.scope, but got: \
             invalid"
        );
        let config = ConfigReader::from_value(json!({
            "tasks": { "refresh": { "frequency": "PT1M", "timeout": "PT1M", "scope": "Local" } }
        }));
        let err = read_task_schedule(&config.config("tasks.refresh").unwrap()).unwrap_err();
        assert_eq!(err.key(), Some("tasks.refresh.scope"));
        assert_eq!(
            read(json!({ "frequency": "PT1M", "timeout": "PT1M", "scope": "local" }))
                .unwrap()
                .scope,
            TaskScope::Local
        );
        assert!(matches!(
            read(json!({ "frequency": "PT1M", "timeout": "PT1M", "scope": 3 })),
            Err(Error::InvalidType { .. })
        ));
    }

    #[test]
    fn cron_errors() {
        let err = read(json!({ "frequency": { "cron": "* * *" }, "timeout": "PT3M" })).unwrap_err();
        assert!(matches!(err, Error::InvalidCron { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("invalid cron expression '* * *' at 'frequency.cron', "),
            "{err}"
        );
        assert_eq!(err.key(), Some("frequency.cron"));
        assert!(matches!(
            read(json!({ "frequency": { "cron": 5 }, "timeout": "PT3M" })),
            Err(Error::InvalidType { .. })
        ));
    }

    #[test]
    fn cron_accepts_five_or_six_fields() {
        for ok in [
            "* * * * *",
            "0 30 * * * *",
            "*/5 * * * *",
            "0 9 * * MON-FRI",
            "0 0 1 jan *",
            "0/10 * * * *",
            "0 0 * * 7",
        ] {
            assert!(CronExpr::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "* * * *", "* * * * * * *", "60 * * * *", "x * * * *"] {
            assert!(CronExpr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cron_next_time_with_a_fixed_clock() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2024, 3, 1, h, m, s).unwrap();
        let every_30s = CronExpr::parse("*/30 * * * * *").unwrap();
        assert_eq!(every_30s.next_after(&at(10, 0, 10)), Some(at(10, 0, 30)));
        // Strictly after: a matching time gives the following one.
        assert_eq!(every_30s.next_after(&at(10, 0, 30)), Some(at(10, 1, 0)));
        let half_past = CronExpr::parse("0 30 * * * *").unwrap();
        assert_eq!(half_past.next_after(&at(10, 31, 0)), Some(at(11, 30, 0)));
        let five_fields = CronExpr::parse("15 2 * * *").unwrap();
        assert_eq!(
            five_fields.next_after(&at(10, 0, 0)),
            Some(Utc.with_ymd_and_hms(2024, 3, 2, 2, 15, 0).unwrap())
        );
        // 2024-03-01 is a Friday: the next Monday is the 4th.
        let mondays = CronExpr::parse("0 9 * * MON").unwrap();
        assert_eq!(
            mondays.next_after(&at(10, 0, 0)),
            Some(Utc.with_ymd_and_hms(2024, 3, 4, 9, 0, 0).unwrap())
        );
        // Day of month OR day of week, as in Vixie cron.
        let either = CronExpr::parse("0 0 2 * MON").unwrap();
        assert_eq!(
            either.next_after(&at(10, 0, 0)),
            Some(Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap())
        );
        let never = CronExpr::parse("0 0 30 2 *").unwrap();
        assert_eq!(never.next_after(&at(10, 0, 0)), None);
    }

    #[test]
    fn cron_display_and_equality_use_the_original_text() {
        let cron = CronExpr::parse(" 0 9 * * mon ").unwrap();
        assert_eq!(cron.to_string(), " 0 9 * * mon ");
        assert_eq!(format!("{cron:?}"), "CronExpr(\" 0 9 * * mon \")");
        assert_ne!(cron, CronExpr::parse("0 9 * * MON").unwrap());
    }

    #[test]
    fn iso_durations_like_luxon() {
        let iso = |ms: u64| iso_duration(Duration::from_millis(ms));
        assert_eq!(iso(0), "PT0S");
        assert_eq!(iso(2000), "PT2S");
        assert_eq!(iso(500), "PT0.5S");
        assert_eq!(iso(1250), "PT1.25S");
        assert_eq!(iso(60_000), "PT1M");
        assert_eq!(iso(5_400_000), "PT1H30M");
        assert_eq!(iso(3_600_000), "PT1H");
        assert_eq!(iso(86_400_000), "P1D");
        assert_eq!(iso(86_400_000 + 7_200_000 + 1), "P1DT2H0.001S");
        assert_eq!(iso_duration(Duration::from_nanos(1_499_999)), "PT0.001S");
        assert_eq!(iso_duration(Duration::from_nanos(999_999_999)), "PT1S");
        assert_eq!(iso_duration(Duration::from_nanos(400_000)), "PT0S");
    }

    #[test]
    fn settings_follow_backstages_v2_shape() {
        let schedule = TaskSchedule::every(Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(
            serde_json::to_string(&schedule.settings()).unwrap(),
            r#"{"version":2,"cadence":"PT2S","timeoutAfterDuration":"PT1M"}"#
        );
        let schedule = TaskSchedule::cron(
            CronExpr::parse("0 30 * * * *").unwrap(),
            Duration::from_secs(180),
        )
        .initial_delay(Duration::ZERO);
        assert_eq!(
            serde_json::to_string(&schedule.settings()).unwrap(),
            r#"{"version":2,"cadence":"0 30 * * * *","initialDelayDuration":"PT0S","timeoutAfterDuration":"PT3M"}"#
        );
        assert_eq!(
            TaskSchedule::manual(Duration::from_secs(1)).settings()["cadence"],
            "manual"
        );
    }

    #[test]
    fn scope_names() {
        assert_eq!(TaskScope::default(), TaskScope::Global);
        assert_eq!(TaskScope::Global.to_string(), "global");
        assert_eq!(TaskScope::Local.as_str(), "local");
    }
}
