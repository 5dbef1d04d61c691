//! Durations in config (Backstage's `readDurationFromConfig` and `HumanDuration`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigReader, js};
use crate::{Error, Result};

/// A duration as Backstage's `HumanDuration`: any combination of units, each possibly
/// fractional or negative.
///
/// Serializes to the same JSON object Backstage produces (absent units are left out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HumanDuration {
    /// Years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<f64>,
    /// Months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<f64>,
    /// Weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weeks: Option<f64>,
    /// Days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<f64>,
    /// Hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    /// Minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<f64>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milliseconds: Option<f64>,
}

/// The unit names, in Backstage's order.
const UNITS: [&str; 8] = [
    "years",
    "months",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
];

impl HumanDuration {
    fn unit_mut(&mut self, unit: &str) -> Option<&mut Option<f64>> {
        Some(match unit {
            "years" => &mut self.years,
            "months" => &mut self.months,
            "weeks" => &mut self.weeks,
            "days" => &mut self.days,
            "hours" => &mut self.hours,
            "minutes" => &mut self.minutes,
            "seconds" => &mut self.seconds,
            "milliseconds" => &mut self.milliseconds,
            _ => return None,
        })
    }

    /// The total in milliseconds, as Backstage's `durationToMilliseconds`: a year counts 365
    /// days and a month 30 days (unlike the 365.25-day year used when parsing `1y`).
    ///
    /// ```
    /// use backstage_backend_common::config::HumanDuration;
    ///
    /// let d = HumanDuration { hours: Some(1.0), minutes: Some(30.0), ..Default::default() };
    /// assert_eq!(d.as_millis(), 5_400_000.0);
    /// ```
    #[must_use]
    pub fn as_millis(&self) -> f64 {
        let total_days = self.years.unwrap_or(0.0) * 365.0
            + self.months.unwrap_or(0.0) * 30.0
            + self.weeks.unwrap_or(0.0) * 7.0
            + self.days.unwrap_or(0.0);
        let total_hours = total_days * 24.0 + self.hours.unwrap_or(0.0);
        let total_minutes = total_hours * 60.0 + self.minutes.unwrap_or(0.0);
        let total_seconds = total_minutes * 60.0 + self.seconds.unwrap_or(0.0);
        total_seconds * 1000.0 + self.milliseconds.unwrap_or(0.0)
    }

    /// The duration as a [`std::time::Duration`] (from [`as_millis`](Self::as_millis)).
    ///
    /// # Errors
    ///
    /// [`Error::DurationOutOfRange`] when the total is negative, not finite or too large.
    pub fn to_std(&self) -> Result<Duration> {
        let millis = self.as_millis();
        if millis < 0.0 {
            return Err(Error::DurationOutOfRange { millis });
        }
        Duration::try_from_secs_f64(millis / 1000.0)
            .map_err(|_| Error::DurationOutOfRange { millis })
    }
}

/// Reads a duration at `key`, as Backstage's `readDurationFromConfig(config, { key })`. The key
/// may be given as `"a.b"` or `Some("a.b")`; `None` (or `""`) reads `config` itself, which must
/// then be the object form.
///
/// * a string starting with `P` is an ISO 8601 duration (`PT1M`, `P2DT6H`; all zero is
///   `{ milliseconds: 0 }`);
/// * any other string is an `ms`-style duration (`1d`, `2 seconds`, `1.5h`), split greedily
///   into years (365.25 days), weeks, days, hours, minutes, seconds and milliseconds; plain
///   numbers (`5000`) and negative durations are rejected;
/// * an object holds unit keys (numbers or numeric strings); no unit, or any other key, is an
///   error; a number is a type error.
///
/// ```
/// use backstage_backend_common::config::{ConfigReader, HumanDuration, read_duration};
/// use serde_json::json;
///
/// let config = ConfigReader::from_value(json!({
///     "iso": "P2DT6H", "ms": "90m", "object": { "minutes": 5 }
/// }));
/// let iso = read_duration(&config, "iso")?;
/// assert_eq!((iso.days, iso.hours), (Some(2.0), Some(6.0)));
/// let ms = read_duration(&config, "ms")?;
/// assert_eq!((ms.hours, ms.minutes), (Some(1.0), Some(30.0)));
/// assert_eq!(read_duration(&config, "object")?.to_std()?.as_secs(), 300);
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidDuration`] for strings that do not parse, [`Error::DurationRead`],
/// [`Error::DurationWithoutUnits`] and [`Error::DurationUnknownUnits`] for the object form,
/// and reader errors ([`Error::InvalidKey`], [`Error::InvalidType`]) raised before the form is
/// known.
pub fn read_duration<'k>(
    config: &ConfigReader,
    key: impl Into<Option<&'k str>>,
) -> Result<HumanDuration> {
    let key = key.into().unwrap_or("");
    if !key.is_empty() && matches!(config.optional(key)?, Some(Value::String(_))) {
        let value = config.string(key)?;
        let value = js::trim(&value);
        let parsed = if value.starts_with('P') {
            parse_iso_duration(value)
        } else {
            parse_ms_duration(value)
        };
        return parsed.map_err(|reason| Error::InvalidDuration {
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        });
    }
    read_object_duration(config, key)
}

fn read_object_duration(config: &ConfigReader, key: &str) -> Result<HumanDuration> {
    let wrap = |cause| Error::DurationRead {
        cause: Box::new(cause),
    };
    let root = if key.is_empty() {
        config.clone()
    } else {
        config.config(key).map_err(wrap)?
    };
    let mut result = HumanDuration::default();
    let mut found = false;
    for unit in UNITS {
        if let Some(value) = root.optional_number(unit).map_err(wrap)? {
            if let Some(slot) = result.unit_mut(unit) {
                *slot = Some(value);
            }
            found = true;
        }
    }
    let key = (!key.is_empty()).then(|| key.to_owned());
    if !found {
        return Err(Error::DurationWithoutUnits { key });
    }
    let unknown: Vec<String> = root
        .keys()
        .into_iter()
        .filter(|k| !UNITS.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::DurationUnknownUnits { key, unknown });
    }
    Ok(result)
}

/// Backstage's `parseMsDuration` (with the `ms` package's parser).
fn parse_ms_duration(input: &str) -> Result<HumanDuration, String> {
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "The value cannot be a plain number; try adding a unit like 'ms' or 'seconds'"
                .to_owned(),
        );
    }
    if input.is_empty() {
        return Err("val is not a non-empty string or a valid number. val=\"\"".to_owned());
    }
    let Some(mut millis) = ms(input).filter(|n| n.is_finite()) else {
        return Err(
            "Not a valid duration string, try a number followed by a unit such as '1d' or '2 seconds'"
                .to_owned(),
        );
    };
    if millis < 0.0 {
        return Err("Negative durations are not allowed".to_owned());
    }
    if millis == 0.0 {
        return Ok(HumanDuration {
            milliseconds: Some(0.0),
            ..HumanDuration::default()
        });
    }
    let s = 1000.0;
    let m = s * 60.0;
    let h = m * 60.0;
    let d = h * 24.0;
    let w = d * 7.0;
    let y = d * 365.25;
    let mut result = HumanDuration::default();
    for (size, slot) in [
        (y, &mut result.years),
        (w, &mut result.weeks),
        (d, &mut result.days),
        (h, &mut result.hours),
        (m, &mut result.minutes),
        (s, &mut result.seconds),
    ] {
        if millis >= size {
            let count = (millis / size).floor();
            millis -= count * size;
            *slot = Some(count);
        }
    }
    if millis > 0.0 {
        result.milliseconds = Some(millis);
    }
    Ok(result)
}

/// The `ms` package's `parse`: `-?(\d+)?\.?\d+ *unit?`, case-insensitive; at most 100
/// characters. `None` when it does not match.
fn ms(input: &str) -> Option<f64> {
    if input.encode_utf16().count() > 100 {
        return None;
    }
    let bytes = input.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while bytes.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == frac_start {
            return None;
        }
        i = j;
    } else if i == int_start {
        return None;
    }
    let number: f64 = input.get(..i)?.parse().ok()?;
    let unit = input.get(i..)?.trim_start_matches(' ').to_ascii_lowercase();
    let factor = match unit.as_str() {
        "years" | "year" | "yrs" | "yr" | "y" => 1000.0 * 60.0 * 60.0 * 24.0 * 365.25,
        "weeks" | "week" | "w" => 1000.0 * 60.0 * 60.0 * 24.0 * 7.0,
        "days" | "day" | "d" => 1000.0 * 60.0 * 60.0 * 24.0,
        "hours" | "hour" | "hrs" | "hr" | "h" => 1000.0 * 60.0 * 60.0,
        "minutes" | "minute" | "mins" | "min" | "m" => 1000.0 * 60.0,
        "seconds" | "second" | "secs" | "sec" | "s" => 1000.0,
        "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" | "" => 1.0,
        _ => return None,
    };
    Some(number * factor)
}

/// Backstage's `parseIsoDuration`:
/// `^-?P(nY)?(nM)?(nW)?(nD)?(T(nH)?(nM)?(i([.,]i)?S)?)?$` where `n` is
/// `-?\d{1,20}(\.\d{1,20})?` and `i` is `-?\d{1,20}`.
fn parse_iso_duration(input: &str) -> Result<HumanDuration, String> {
    let invalid = || {
        "Invalid ISO format, expected a value similar to 'P2DT6H' (2 days 6 hours) or 'PT1M' (1 minute)"
            .to_owned()
    };
    let mut cursor = Cursor { rest: input };
    let negative = cursor.eat("-");
    if !cursor.eat("P") {
        return Err(invalid());
    }
    let years = cursor.component('Y');
    let months = cursor.component('M');
    let weeks = cursor.component('W');
    let days = cursor.component('D');
    let (mut hours, mut minutes, mut seconds, mut fraction) = (None, None, None, None);
    if cursor.eat("T") {
        hours = cursor.component('H');
        minutes = cursor.component('M');
        (seconds, fraction) = cursor.seconds();
    }
    if !cursor.rest.is_empty() {
        return Err(invalid());
    }
    let negative_seconds = seconds.is_some_and(|s: &str| s.starts_with('-'));
    let maybe_negate = |n: Option<f64>, force: bool| {
        n.map(|n| {
            if force || (n != 0.0 && negative) {
                -n
            } else {
                n
            }
        })
    };
    let float = |s: Option<&str>| s.and_then(|s| s.parse::<f64>().ok());
    let millis = fraction.map(|f: &str| {
        // `parseFloat("0." + fraction)`: a `-` after the point stops the number at `0.`.
        let value = if f.starts_with('-') {
            0.0
        } else {
            format!("0.{f}").parse::<f64>().unwrap_or(0.0)
        };
        (value * 1000.0).floor()
    });
    let values = [
        maybe_negate(float(years), false),
        maybe_negate(float(months), false),
        maybe_negate(float(weeks), false),
        maybe_negate(float(days), false),
        maybe_negate(float(hours), false),
        maybe_negate(float(minutes), false),
        maybe_negate(float(seconds), seconds == Some("-0")),
        maybe_negate(millis, negative_seconds),
    ];
    if values.iter().all(Option::is_none) {
        return Err("Invalid ISO format, no values given".to_owned());
    }
    let mut result = HumanDuration::default();
    for (unit, value) in UNITS.iter().zip(values) {
        if let (Some(value), Some(slot)) = (value.filter(|v| *v != 0.0), result.unit_mut(unit)) {
            *slot = Some(value);
        }
    }
    if result == HumanDuration::default() {
        result.milliseconds = Some(0.0);
    }
    Ok(result)
}

/// A tiny parser over the rest of an ISO duration.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// `-?\d{1,20}` at the start of `s`: its length.
    fn integer_len(s: &str) -> Option<usize> {
        let sign = usize::from(s.starts_with('-'));
        let digits = s
            .get(sign..)?
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        (1..=20).contains(&digits).then_some(sign + digits)
    }

    /// `(-?\d{1,20}(\.\d{1,20})?)<designator>`, consumed only when it matches.
    fn component(&mut self, designator: char) -> Option<&'a str> {
        let len = Self::integer_len(self.rest)?;
        let mut end = len;
        if let Some(after_dot) = self.rest.get(len..).and_then(|r| r.strip_prefix('.')) {
            let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            if (1..=20).contains(&digits) {
                end = len + 1 + digits;
            }
        }
        let number = self.rest.get(..end)?;
        let rest = self.rest.get(end..)?.strip_prefix(designator)?;
        self.rest = rest;
        Some(number)
    }

    /// `(-?\d{1,20})([.,](-?\d{1,20}))?S`, consumed only when it matches.
    fn seconds(&mut self) -> (Option<&'a str>, Option<&'a str>) {
        let Some(len) = Self::integer_len(self.rest) else {
            return (None, None);
        };
        let whole = self.rest.get(..len);
        let after = self.rest.get(len..).unwrap_or("");
        if let Some(rest) = after.strip_prefix('S') {
            self.rest = rest;
            return (whole, None);
        }
        if let Some(frac_rest) = after.strip_prefix(['.', ','])
            && let Some(frac_len) = Self::integer_len(frac_rest)
            && let Some(rest) = frac_rest.get(frac_len..).and_then(|r| r.strip_prefix('S'))
        {
            self.rest = rest;
            return (whole, frac_rest.get(..frac_len));
        }
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<HumanDuration> {
        read_duration(&ConfigReader::from_value(json!({ "d": value })), "d")
    }

    fn ok(value: Value) -> Value {
        serde_json::to_value(read(value).unwrap()).unwrap()
    }

    fn message(value: Value) -> String {
        read(value).unwrap_err().to_string()
    }

    #[test]
    fn iso_durations() {
        assert_eq!(ok(json!("PT1M")), json!({ "minutes": 1.0 }));
        assert_eq!(ok(json!("P2DT6H")), json!({ "days": 2.0, "hours": 6.0 }));
        assert_eq!(ok(json!("PT0S")), json!({ "milliseconds": 0.0 }));
        assert_eq!(
            ok(json!("P1Y2M3W4DT5H6M7.5S")),
            json!({
                "years": 1.0, "months": 2.0, "weeks": 3.0, "days": 4.0, "hours": 5.0,
                "minutes": 6.0, "seconds": 7.0, "milliseconds": 500.0
            })
        );
        assert_eq!(ok(json!("P1.5D")), json!({ "days": 1.5 }));
        assert_eq!(
            ok(json!("PT1,25S")),
            json!({ "seconds": 1.0, "milliseconds": 250.0 })
        );
        assert_eq!(ok(json!("P-1D")), json!({ "days": -1.0 }));
        assert_eq!(ok(json!("  PT2H  ")), json!({ "hours": 2.0 }));
    }

    #[test]
    fn invalid_iso_durations() {
        assert_eq!(
            message(json!("P")),
            "Invalid duration 'P' in config at 'd', Error: Invalid ISO format, no values given"
        );
        assert_eq!(
            message(json!("PT")),
            "Invalid duration 'PT' in config at 'd', Error: Invalid ISO format, no values given"
        );
        for bad in [
            "P1H",
            "PT1D",
            "P1",
            "PxD",
            "P1DT",
            "P123456789012345678901D",
        ] {
            let expected = format!(
                "Invalid duration '{}' in config at 'd', Error: Invalid ISO format, expected a value \
                 similar to 'P2DT6H' (2 days 6 hours) or 'PT1M' (1 minute)",
                bad
            );
            if bad == "P1DT" {
                // `T` with nothing after it is accepted by Backstage's pattern.
                assert_eq!(ok(json!(bad)), json!({ "days": 1.0 }));
            } else {
                assert_eq!(message(json!(bad)), expected, "{bad}");
            }
        }
    }

    #[test]
    fn ms_style_durations_are_decomposed_greedily() {
        assert_eq!(ok(json!("1d")), json!({ "days": 1.0 }));
        assert_eq!(ok(json!("2 seconds")), json!({ "seconds": 2.0 }));
        assert_eq!(ok(json!("90m")), json!({ "hours": 1.0, "minutes": 30.0 }));
        assert_eq!(ok(json!("1.5h")), json!({ "hours": 1.0, "minutes": 30.0 }));
        assert_eq!(ok(json!("1y")), json!({ "years": 1.0 }));
        assert_eq!(ok(json!("8d")), json!({ "weeks": 1.0, "days": 1.0 }));
        assert_eq!(
            ok(json!("1500ms")),
            json!({ "seconds": 1.0, "milliseconds": 500.0 })
        );
        assert_eq!(ok(json!("1.5ms")), json!({ "milliseconds": 1.5 }));
        assert_eq!(ok(json!("0s")), json!({ "milliseconds": 0.0 }));
        assert_eq!(ok(json!("2 Hours")), json!({ "hours": 2.0 }));
        assert_eq!(ok(json!(".5s")), json!({ "milliseconds": 500.0 }));
    }

    #[test]
    fn invalid_ms_style_durations() {
        assert_eq!(
            message(json!("5000")),
            "Invalid duration '5000' in config at 'd', Error: The value cannot be a plain number; \
             try adding a unit like 'ms' or 'seconds'"
        );
        assert_eq!(
            message(json!("-1d")),
            "Invalid duration '-1d' in config at 'd', Error: Negative durations are not allowed"
        );
        for bad in ["abc", "1 parsec", "1.", "1d 2h", "-"] {
            assert_eq!(
                message(json!(bad)),
                format!(
                    "Invalid duration '{bad}' in config at 'd', Error: Not a valid duration string, \
                     try a number followed by a unit such as '1d' or '2 seconds'"
                )
            );
        }
        assert_eq!(
            message(json!("   ")),
            "Invalid duration '' in config at 'd', Error: val is not a non-empty string or a valid \
             number. val=\"\""
        );
        assert_eq!(read(json!("")).unwrap_err().backstage_name(), "TypeError");
        assert_eq!(read(json!("x")).unwrap_err().backstage_name(), "InputError");
    }

    #[test]
    fn object_durations() {
        assert_eq!(
            ok(json!({ "hours": 1, "minutes": "30" })),
            json!({ "hours": 1.0, "minutes": 30.0 })
        );
        assert_eq!(
            message(json!({})),
            "Failed to read duration from config at 'd', Error: Needs one or more of 'years', \
             'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', 'milliseconds'"
        );
        assert_eq!(
            message(json!({ "days": 1, "fortnights": 2 })),
            "Failed to read duration from config at 'd', Error: Unknown property 'fortnights'; \
             expected one or more of 'years', 'months', 'weeks', 'days', 'hours', 'minutes', \
             'seconds', 'milliseconds'"
        );
        assert_eq!(
            message(json!({ "days": "many" })),
            "Failed to read duration from config, Error: Unable to convert config value for key \
             'd.days' in 'mock-config' to a number"
        );
    }

    #[test]
    fn numbers_are_not_durations() {
        assert_eq!(
            message(json!(5000)),
            "Failed to read duration from config, TypeError: Invalid type in config for key 'd' \
             in 'mock-config', got number, wanted object"
        );
    }

    #[test]
    fn a_missing_key_is_a_read_error() {
        let config = ConfigReader::from_value(json!({}));
        assert_eq!(
            read_duration(&config, "timeout").unwrap_err().to_string(),
            "Failed to read duration from config, Error: Missing required config value at \
             'timeout' in 'mock-config'"
        );
    }

    #[test]
    fn the_empty_key_reads_the_config_itself() {
        let config = ConfigReader::from_value(json!({ "seconds": 3 }));
        assert_eq!(read_duration(&config, "").unwrap().seconds, Some(3.0));
        let config = ConfigReader::from_value(json!({ "x": 3 }));
        assert!(
            read_duration(&config, "")
                .unwrap_err()
                .to_string()
                .starts_with("Failed to read duration from config, Error: Needs one or more")
        );
    }

    #[test]
    fn totals_count_365_day_years_and_30_day_months() {
        let d = HumanDuration {
            years: Some(1.0),
            months: Some(1.0),
            milliseconds: Some(1.0),
            ..HumanDuration::default()
        };
        assert_eq!(d.as_millis(), (395.0 * 24.0 * 3600.0 * 1000.0) + 1.0);
        assert_eq!(
            read(json!("90s")).unwrap().to_std().unwrap(),
            Duration::from_secs(90)
        );
        let negative = HumanDuration {
            days: Some(-1.0),
            ..HumanDuration::default()
        };
        assert!(matches!(
            negative.to_std(),
            Err(Error::DurationOutOfRange { .. })
        ));
    }
}
