//! JavaScript semantics that Backstage's config code relies on: `String.prototype.trim`,
//! `Number(string)`, `parseInt(string, 10)`, `Number.prototype.toString()`, how a JavaScript
//! number prints as JSON, and the order of an object's keys.

use serde_json::{Map, Number, Value};

/// 2^53: integers up to this magnitude are exact in a JavaScript number.
const MAX_SAFE_INTEGER_U64: u64 = 1 << 53;

/// JavaScript's `WhiteSpace` and `LineTerminator` characters (what `trim()` removes).
pub(crate) fn is_whitespace(c: char) -> bool {
    // Unicode `White_Space` minus U+0085 (NEL), plus U+FEFF (BOM).
    c == '\u{feff}' || (c != '\u{85}' && c.is_whitespace())
}

/// `String.prototype.trim`.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(is_whitespace)
}

/// `String.prototype.trimEnd`.
pub(crate) fn trim_end(s: &str) -> &str {
    s.trim_end_matches(is_whitespace)
}

/// `Number(s)` for a string: whitespace around is ignored, the empty string is 0, `0x`/`0o`/`0b`
/// prefixes (unsigned), decimal with optional sign, fraction and exponent, and `Infinity`.
/// Anything else is NaN.
pub(crate) fn string_to_number(s: &str) -> f64 {
    let s = trim(s);
    if s.is_empty() {
        return 0.0;
    }
    let radix = match s.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    if let (Some(radix), Some(digits)) = (radix, s.get(2..)) {
        return parse_radix(digits, radix);
    }
    let (sign, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, s.get(1..).unwrap_or("")),
        Some(b'+') => (1.0, s.get(1..).unwrap_or("")),
        _ => (1.0, s),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    if !is_decimal_literal(unsigned) {
        return f64::NAN;
    }
    unsigned.parse::<f64>().map_or(f64::NAN, |n| sign * n)
}

/// Digits of one radix, at least one, as a number (NaN if empty or invalid).
fn parse_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return f64::NAN;
    }
    if let Ok(n) = u128::from_str_radix(digits, radix) {
        // `as` rounds to nearest, as JavaScript does.
        #[allow(clippy::cast_precision_loss)]
        return n as f64;
    }
    digits.chars().fold(0.0, |acc, c| {
        acc * f64::from(radix) + c.to_digit(radix).map_or(0.0, f64::from)
    })
}

/// `digits [. digits?]? | . digits`, then an optional exponent `e[+-]?digits`.
fn is_decimal_literal(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    let int_digits = count_digits(bytes, i);
    i += int_digits;
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(bytes, i);
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(bytes, i);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == bytes.len()
}

fn count_digits(bytes: &[u8], from: usize) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// `parseInt(s, 10)`: leading whitespace skipped, optional sign, then the longest run of
/// decimal digits; `None` (NaN) when there is none. Trailing garbage is ignored.
pub(crate) fn parse_int(s: &str) -> Option<f64> {
    let s = s.trim_start_matches(is_whitespace);
    let (sign, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, s.get(1..).unwrap_or("")),
        Some(b'+') => (1.0, s.get(1..).unwrap_or("")),
        _ => (1.0, s),
    };
    let digits = count_digits(unsigned.as_bytes(), 0);
    unsigned
        .get(..digits)
        .filter(|d| !d.is_empty())
        .and_then(|d| d.parse::<f64>().ok())
        .map(|n| sign * n)
}

/// `Number.prototype.toString()` (radix 10) for a finite or non-finite number.
pub(crate) fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n < 0.0 {
        return format!("-{}", number_to_string(-n));
    }
    // Rust prints the shortest digits that round-trip, like JavaScript; only the layout differs.
    let formatted = format!("{n:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let point = exponent + 1; // JavaScript's `n`: value = 0.digits × 10^point
    let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or(0));
    if k <= point && point <= 21 {
        format!("{digits}{}", zeros(point - k))
    } else if 0 < point && point <= 21 {
        let split = usize::try_from(point).unwrap_or(0);
        let (whole, fraction) = digits.split_at(split.min(digits.len()));
        format!("{whole}.{fraction}")
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", zeros(-point))
    } else {
        let sign = if point - 1 < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{}", (point - 1).abs())
    }
}

/// A JavaScript number as JSON would carry it: non-finite numbers become `null` (as
/// `JSON.stringify` prints them), integral values are integers.
pub(crate) fn number_value(n: f64) -> Value {
    if !n.is_finite() {
        return Value::Null;
    }
    if n.fract() == 0.0 {
        // Exact for integral values inside these ranges; `-0.0` becomes 0.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        {
            if n.abs() < 2f64.powi(63) {
                return Value::from(n as i64);
            }
            if n > 0.0 && n < 2f64.powi(64) {
                return Value::from(n as u64);
            }
        }
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// A JSON number as a JavaScript number would hold it (integers beyond 2^53 lose precision).
pub(crate) fn normalize_number(n: &Number) -> Value {
    #[allow(clippy::cast_precision_loss)]
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE_INTEGER_U64 {
            return Value::from(i);
        }
        return number_value(i as f64);
    }
    #[allow(clippy::cast_precision_loss)]
    if let Some(u) = n.as_u64() {
        return number_value(u as f64);
    }
    number_value(n.as_f64().unwrap_or(f64::NAN))
}

/// Applies [`normalize_number`] to every number of a parsed JSON value.
pub(crate) fn normalize_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => normalize_number(&n),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether a key is an array index (`0`, `17`, up to 2^32 − 2), which JavaScript objects list
/// before all other keys, in numeric order.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

/// `Object.keys(obj)`: array-index keys first in numeric order, then the others in insertion
/// order.
pub(crate) fn object_keys(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    if keys.iter().any(|k| array_index(k).is_some()) {
        keys.sort_by_key(|k| array_index(k).map_or((1, 0), |i| (0, i)));
    }
    keys
}

/// Reorders an object's entries like [`object_keys`].
pub(crate) fn js_ordered(map: Map<String, Value>) -> Map<String, Value> {
    if !map.keys().any(|k| array_index(k).is_some()) {
        return map;
    }
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
    entries.into_iter().collect()
}

/// The key-segment pattern of Backstage's config keys and `APP_CONFIG_*` names:
/// `^[a-z][a-z0-9]*(?:[-_:][a-z0-9]+)*$`, case-insensitive, ASCII only.
pub(crate) fn is_valid_key_part(part: &str) -> bool {
    let mut bytes = part.bytes();
    if !bytes.next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let mut after_separator = false;
    for b in bytes {
        if b.is_ascii_alphanumeric() {
            after_separator = false;
        } else if matches!(b, b'-' | b'_' | b':') && !after_separator {
            after_separator = true;
        } else {
            return false;
        }
    }
    !after_separator
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn number_cast_follows_javascript() {
        let cases: &[(&str, f64)] = &[
            ("", 0.0),
            ("   ", 0.0),
            (" 42 ", 42.0),
            ("\t1e3\n", 1000.0),
            ("0x10", 16.0),
            ("0X1f", 31.0),
            ("0o17", 15.0),
            ("0b101", 5.0),
            ("-1.5", -1.5),
            ("+.5", 0.5),
            ("5.", 5.0),
            ("1E-2", 0.01),
            ("\u{feff}7\u{a0}", 7.0),
        ];
        for (input, expected) in cases {
            assert_eq!(string_to_number(input), *expected, "{input:?}");
        }
        for nan in [
            "abc", "1_000", "-0x10", "0x", "1e", ".", "e5", "1.2.3", "nan", "inf", "\u{85}1",
        ] {
            assert!(string_to_number(nan).is_nan(), "{nan:?}");
        }
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(string_to_number("1e400"), f64::INFINITY);
    }

    #[test]
    fn parse_int_reads_a_digit_prefix() {
        assert_eq!(parse_int("8080"), Some(8080.0));
        assert_eq!(parse_int(" 80abc"), Some(80.0));
        assert_eq!(parse_int("-1"), Some(-1.0));
        assert_eq!(parse_int("0x10"), Some(0.0));
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int("+"), None);
    }

    #[test]
    fn numbers_print_like_javascript() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (123_456.0, "123456"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (0.000_001, "0.000001"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "Infinity"),
        ];
        for (n, expected) in cases {
            assert_eq!(number_to_string(*n), *expected, "{n}");
        }
    }

    #[test]
    fn numbers_are_stored_as_javascript_holds_them() {
        assert_eq!(number_value(1.0), json!(1));
        assert_eq!(number_value(-0.0), json!(0));
        assert_eq!(number_value(1.5), json!(1.5));
        assert_eq!(number_value(f64::NAN), Value::Null);
        assert_eq!(number_value(f64::INFINITY), Value::Null);
        let big: Value = serde_json::from_str("9007199254740993").unwrap_or_default();
        assert_eq!(normalize_numbers(big), json!(9_007_199_254_740_992_u64));
        let float: Value = serde_json::from_str("[2.0]").unwrap_or_default();
        assert_eq!(normalize_numbers(float), json!([2]));
    }

    #[test]
    fn array_index_keys_come_first_in_numeric_order() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"b":1,"10":2,"a":3,"2":4,"02":5}"#).unwrap_or_default();
        let keys: Vec<&str> = object_keys(&map).into_iter().map(String::as_str).collect();
        assert_eq!(keys, ["2", "10", "b", "a", "02"]);
        let ordered: Vec<String> = js_ordered(map).keys().cloned().collect();
        assert_eq!(ordered, ["2", "10", "b", "a", "02"]);
    }

    #[test]
    fn key_parts_follow_backstages_pattern() {
        for ok in ["a", "a1", "camelCase", "my-key", "a_b", "a:b", "A-1-b"] {
            assert!(is_valid_key_part(ok), "{ok}");
        }
        for bad in ["", "1a", "$a", "a b", "a-", "a--b", "-a", "a_", "ä", "a.b"] {
            assert!(!is_valid_key_part(bad), "{bad}");
        }
    }

    #[test]
    fn trim_uses_javascript_whitespace() {
        assert_eq!(trim("\u{feff} a \u{3000}"), "a");
        assert_eq!(trim("\u{85}a"), "\u{85}a");
        assert_eq!(trim_end("a \n"), "a");
    }
}
