//! Scalar resolution (YAML 1.2 core schema) and JavaScript-compatible key stringification.

use std::borrow::Cow;

use saphyr_parser::{ScalarStyle, Tag};
use serde_json::{Number, Value};

/// Prefix of the core-schema tags (`!!str` expands to `tag:yaml.org,2002:str`).
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// 2^53: floats with an integral value up to this magnitude are stored as JSON integers,
/// like JavaScript's `JSON.stringify` prints them.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// The type a scalar resolved to; `Str` means "keep the scalar's text".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

/// Which core tag (if any) a node carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoreTag {
    /// The non-specific tag `!`: the scalar is a string.
    NonSpecific,
    Str,
    Null,
    Bool,
    Int,
    Float,
    /// `!!map`, `!!seq`, unknown core tags and local/global tags: ignored.
    Other,
}

fn core_tag(tag: &Tag) -> CoreTag {
    if tag.handle.is_empty() && tag.suffix == "!" {
        return CoreTag::NonSpecific;
    }
    // `!!str` is ("tag:yaml.org,2002:", "str"); a verbatim `!<tag:yaml.org,2002:str>` is
    // ("", "tag:yaml.org,2002:str").
    let name = if tag.handle == CORE_TAG_PREFIX {
        Some(tag.suffix.as_str())
    } else if tag.handle.is_empty() {
        tag.suffix.strip_prefix(CORE_TAG_PREFIX)
    } else {
        None
    };
    match name {
        Some("str") => CoreTag::Str,
        Some("null") => CoreTag::Null,
        Some("bool") => CoreTag::Bool,
        Some("int") => CoreTag::Int,
        Some("float") => CoreTag::Float,
        _ => CoreTag::Other,
    }
}

/// Resolve a scalar. Untagged plain scalars follow the core schema; quoted and block scalars are
/// strings. Explicit core tags force their type when the text fits it, otherwise the scalar stays
/// a string (the JS `yaml` library does the same, with a warning).
pub(crate) fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Scalar {
    match tag.map_or(CoreTag::Other, core_tag) {
        CoreTag::Other => {
            if style == ScalarStyle::Plain {
                resolve_plain(text)
            } else {
                Scalar::Str
            }
        }
        CoreTag::NonSpecific | CoreTag::Str => Scalar::Str,
        CoreTag::Null => {
            if is_null(text) {
                Scalar::Null
            } else {
                Scalar::Str
            }
        }
        CoreTag::Bool => parse_bool(text).map_or(Scalar::Str, Scalar::Bool),
        CoreTag::Int => parse_int(text).unwrap_or(Scalar::Str),
        CoreTag::Float => parse_float(text).map_or(Scalar::Str, Scalar::Float),
    }
}

/// Core-schema resolution of an untagged plain scalar.
fn resolve_plain(text: &str) -> Scalar {
    let Some(&first) = text.as_bytes().first() else {
        return Scalar::Null;
    };
    // Fast path: every non-string form starts with one of these bytes.
    if !matches!(
        first,
        b'0'..=b'9' | b'-' | b'+' | b'.' | b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F'
    ) {
        return Scalar::Str;
    }
    if is_null(text) {
        return Scalar::Null;
    }
    if let Some(b) = parse_bool(text) {
        return Scalar::Bool(b);
    }
    if let Some(n) = parse_int(text) {
        return n;
    }
    parse_float(text).map_or(Scalar::Str, Scalar::Float)
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
fn parse_int(text: &str) -> Option<Scalar> {
    if let Some(digits) = text.strip_prefix("0o") {
        return parse_radix(digits, 8);
    }
    if let Some(digits) = text.strip_prefix("0x") {
        return parse_radix(digits, 16);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Scalar::Int(i));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Some(Scalar::UInt(u));
    }
    text.parse::<f64>().ok().map(Scalar::Float)
}

fn parse_radix(digits: &str, radix: u32) -> Option<Scalar> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(u) => Some(i64::try_from(u).map_or(Scalar::UInt(u), Scalar::Int)),
        // Too large for u64: approximate, like JavaScript's Number.
        Err(_) => Some(Scalar::Float(digits.chars().fold(0.0, |acc, c| {
            acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        }))),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf` and `.nan` (any of the
/// three spellings each).
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            return Some(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let b = unsigned.as_bytes();
    let digits_from = |start: usize| {
        b.iter()
            .skip(start)
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let int_digits = digits_from(0);
    let mut i = int_digits;
    if b.get(i) == Some(&b'.') {
        let frac_digits = digits_from(i + 1);
        if int_digits == 0 && frac_digits == 0 {
            return None;
        }
        i += 1 + frac_digits;
    } else if int_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_digits = digits_from(i);
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != b.len() {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Turn a resolved scalar into a JSON value; `text` is the scalar's text (used for strings).
pub(crate) fn to_value(scalar: Scalar, text: Cow<'_, str>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::from(i),
        Scalar::UInt(u) => Value::from(u),
        Scalar::Float(f) => float_value(f),
        Scalar::Str => Value::String(text.into_owned()),
    }
}

/// Non-finite floats become `null` (as `JSON.stringify` does); integral floats within ±2^53
/// become integers, so `1.0` and `1e3` serialize as `1` and `1000`, like in JavaScript.
fn float_value(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
        // Exact: integral and within ±2^53.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The object key a resolved scalar becomes: JavaScript's `String(value)`, with `null` as `""`.
pub(crate) fn to_key(scalar: Scalar, text: Cow<'_, str>) -> String {
    match scalar {
        Scalar::Null => String::new(),
        Scalar::Bool(b) => b.to_string(),
        // JavaScript numbers are doubles; go through f64 so big integers print like in JS.
        #[allow(clippy::cast_precision_loss)]
        Scalar::Int(i) => js_number_to_string(i as f64),
        #[allow(clippy::cast_precision_loss)]
        Scalar::UInt(u) => js_number_to_string(u as f64),
        Scalar::Float(f) => js_number_to_string(f),
        Scalar::Str => text.into_owned(),
    }
}

/// The object key an already built (aliased) scalar value becomes; `None` for collections.
pub(crate) fn value_to_key(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(
            n.as_f64()
                .map_or_else(|| n.to_string(), js_number_to_string),
        ),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// ECMAScript `Number::toString(10)`: shortest round-trip digits, exponent notation below 1e-6
/// and from 1e21.
pub(crate) fn js_number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, e.g. "1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let Ok(exponent) = exponent.parse::<i64>() else {
        return sci;
    };
    // x = 0.DIGITS × 10^n
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let n = exponent + 1;
    let mut out = String::with_capacity(digits.len() + 8);
    if x < 0.0 {
        out.push('-');
    }
    let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or(0));
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.push_str(&zeros(n - k));
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        let (int_part, frac_part) = digits.split_at(split.min(digits.len()));
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.push_str(&zeros(-n));
        out.push_str(&digits);
    } else {
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            out.push(first);
        }
        let rest = chars.as_str();
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain(text: &str) -> Value {
        to_value(resolve(text, ScalarStyle::Plain, None), Cow::Borrowed(text))
    }

    fn core(suffix: &str) -> Tag {
        Tag {
            handle: CORE_TAG_PREFIX.to_owned(),
            suffix: suffix.to_owned(),
        }
    }

    #[test]
    fn plain_nulls_resolve_to_null() {
        for text in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(text), Value::Null, "{text:?}");
        }
        assert_eq!(plain("nULL"), json!("nULL"));
    }

    #[test]
    fn only_core_booleans_are_booleans() {
        for text in ["true", "True", "TRUE"] {
            assert_eq!(plain(text), json!(true));
        }
        for text in ["false", "False", "FALSE"] {
            assert_eq!(plain(text), json!(false));
        }
        for text in ["yes", "no", "on", "off", "y", "n", "Yes", "tRue"] {
            assert_eq!(plain(text), json!(text), "{text:?} must stay a string");
        }
    }

    #[test]
    fn integers_follow_the_core_schema() {
        assert_eq!(plain("12"), json!(12));
        assert_eq!(plain("012"), json!(12));
        assert_eq!(plain("-7"), json!(-7));
        assert_eq!(plain("+7"), json!(7));
        assert_eq!(plain("0o17"), json!(15));
        assert_eq!(plain("0x1F"), json!(31));
        assert_eq!(plain("0xff"), json!(255));
        assert_eq!(plain("18446744073709551615"), json!(u64::MAX));
        assert_eq!(plain("-9223372036854775808"), json!(i64::MIN));
        assert_eq!(plain("1_000"), json!("1_000"));
        assert_eq!(plain("0o18"), json!("0o18"));
        assert_eq!(plain("0x"), json!("0x"));
        assert_eq!(plain("-0x10"), json!("-0x10"));
        assert_eq!(plain("0b101"), json!("0b101"));
    }

    #[test]
    fn integers_too_big_for_64_bits_become_floats() {
        assert_eq!(plain("100000000000000000000"), json!(1e20));
        assert!(plain("0xffffffffffffffffffff").is_f64());
    }

    #[test]
    fn floats_follow_the_core_schema() {
        assert_eq!(plain("1.5"), json!(1.5));
        assert_eq!(plain("-.5"), json!(-0.5));
        assert_eq!(plain("2.5e-3"), json!(0.0025));
        assert_eq!(plain("1.0"), json!(1), "integral floats serialize like JS");
        assert_eq!(plain("1e3"), json!(1000));
        assert_eq!(plain("5."), json!(5));
        for text in [
            "1.2.3", ".", "e3", "1e", "1.5f", "inf", "nan", "Infinity", "1,5",
        ] {
            assert_eq!(plain(text), json!(text), "{text:?} must stay a string");
        }
    }

    #[test]
    fn non_finite_floats_become_null() {
        for text in [
            ".inf", ".Inf", ".INF", "-.inf", "+.INF", ".nan", ".NaN", ".NAN", "1e999",
        ] {
            assert_eq!(plain(text), Value::Null, "{text:?}");
        }
        assert_eq!(plain("-.nan"), json!("-.nan"));
    }

    #[test]
    fn dates_and_other_words_stay_strings() {
        for text in [
            "2021-01-01",
            "2001-12-14t21:59:43.10-05:00",
            "12:30",
            "1.0.0",
            "v1",
        ] {
            assert_eq!(plain(text), json!(text));
        }
    }

    #[test]
    fn quoted_and_block_scalars_are_strings() {
        for style in [
            ScalarStyle::SingleQuoted,
            ScalarStyle::DoubleQuoted,
            ScalarStyle::Literal,
            ScalarStyle::Folded,
        ] {
            assert_eq!(resolve("true", style, None), Scalar::Str);
            assert_eq!(resolve("12", style, None), Scalar::Str);
            assert_eq!(resolve("", style, None), Scalar::Str);
        }
    }

    #[test]
    fn explicit_core_tags_force_the_type() {
        let plain_style = ScalarStyle::Plain;
        let quoted = ScalarStyle::DoubleQuoted;
        assert_eq!(resolve("123", plain_style, Some(&core("str"))), Scalar::Str);
        assert_eq!(resolve("12", quoted, Some(&core("int"))), Scalar::Int(12));
        assert_eq!(
            resolve("1", plain_style, Some(&core("float"))),
            Scalar::Float(1.0)
        );
        assert_eq!(
            resolve("true", quoted, Some(&core("bool"))),
            Scalar::Bool(true)
        );
        assert_eq!(resolve("~", quoted, Some(&core("null"))), Scalar::Null);
        // Text that does not fit the tag stays a string.
        assert_eq!(resolve("abc", plain_style, Some(&core("int"))), Scalar::Str);
        assert_eq!(
            resolve("yes", plain_style, Some(&core("bool"))),
            Scalar::Str
        );
        // Other tags are ignored.
        let local = Tag {
            handle: "!".to_owned(),
            suffix: "thing".to_owned(),
        };
        assert_eq!(resolve("12", plain_style, Some(&local)), Scalar::Int(12));
        assert_eq!(
            resolve("12", plain_style, Some(&core("timestamp"))),
            Scalar::Int(12)
        );
        let verbatim = Tag {
            handle: String::new(),
            suffix: "tag:yaml.org,2002:str".to_owned(),
        };
        assert_eq!(resolve("12", plain_style, Some(&verbatim)), Scalar::Str);
        let non_specific = Tag {
            handle: String::new(),
            suffix: "!".to_owned(),
        };
        assert_eq!(resolve("12", plain_style, Some(&non_specific)), Scalar::Str);
    }

    #[test]
    fn keys_are_stringified_like_javascript() {
        let key = |text: &str| to_key(resolve(text, ScalarStyle::Plain, None), Cow::Borrowed(text));
        assert_eq!(key("1"), "1");
        assert_eq!(key("0x10"), "16");
        assert_eq!(key("0o17"), "15");
        assert_eq!(key("true"), "true");
        assert_eq!(key("null"), "");
        assert_eq!(key("~"), "");
        assert_eq!(key(""), "");
        assert_eq!(key("1.5"), "1.5");
        assert_eq!(key("1.0"), "1");
        assert_eq!(key("-0.0"), "0");
        assert_eq!(key(".inf"), "Infinity");
        assert_eq!(key("-.inf"), "-Infinity");
        assert_eq!(key(".nan"), "NaN");
        assert_eq!(key("9007199254740993"), "9007199254740992");
        assert_eq!(key("yes"), "yes");
    }

    #[test]
    fn js_number_formatting_matches_ecmascript() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (-1.25e-7, "-1.25e-7"),
            (0.000_123, "0.000123"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (x, expected) in cases {
            assert_eq!(js_number_to_string(x), expected, "{x:e}");
        }
    }

    #[test]
    fn aliased_values_become_keys_like_scalars() {
        assert_eq!(value_to_key(&json!(null)).as_deref(), Some(""));
        assert_eq!(value_to_key(&json!(16)).as_deref(), Some("16"));
        assert_eq!(value_to_key(&json!(1.5)).as_deref(), Some("1.5"));
        assert_eq!(value_to_key(&json!("x")).as_deref(), Some("x"));
        assert_eq!(value_to_key(&json!([1])), None);
        assert_eq!(value_to_key(&json!({})), None);
    }
}
