//! The value envelope every store keeps: Keyv's `{"value":…,"expires":…}` written with the
//! `@keyv/serialize` rules (spec §3.2), byte for byte, so a Rust and a Node backend can share
//! one cache.
//!
//! * `expires` is the absolute expiry in milliseconds since the Unix epoch, left out when the
//!   entry never expires;
//! * every string *value* (at any depth, not object keys) that starts with `:` gets one more
//!   `:` in front, removed again on read; a string value starting with `:base64:` read back is a
//!   Node `Buffer` and becomes `{"type":"Buffer","data":[…]}` (what `JSON.stringify` makes of
//!   one);
//! * the JSON text is what `JSON.stringify` writes: numbers in JavaScript's shortest form (`1`,
//!   not `1.0`; `1e+21`), object members with integer-like names (`"0"`, `"42"`) first in
//!   ascending order and the others in insertion order, as JavaScript objects enumerate them.
//!
//! ```
//! use backstage_cache::envelope;
//! use serde_json::json;
//!
//! assert_eq!(envelope::encode(&json!({ "x": 1 }), None), r#"{"value":{"x":1}}"#);
//! assert_eq!(
//!     envelope::encode(&json!([1, 2]), Some(1795249618237)),
//!     r#"{"value":[1,2],"expires":1795249618237}"#
//! );
//! assert_eq!(envelope::encode(&json!(":abc"), None), r#"{"value":"::abc"}"#);
//!
//! let decoded = envelope::decode(r#"{"value":"::abc","expires":5}"#).unwrap();
//! assert_eq!(decoded.value, json!(":abc"));
//! assert!(decoded.is_expired(6));
//! assert!(!decoded.is_expired(5));
//! ```

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The stored value (`null` is a value, distinct from a miss).
    pub value: Value,
    /// Absolute expiry in milliseconds since the Unix epoch, if any.
    pub expires: Option<f64>,
}

impl Envelope {
    /// Whether the entry has expired at `now_ms` (milliseconds since the Unix epoch). As in
    /// Keyv, an entry is still valid at exactly its expiry time.
    #[must_use]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        // Precision: epoch milliseconds fit an f64 exactly.
        #[allow(clippy::cast_precision_loss)]
        let now = now_ms as f64;
        self.expires.is_some_and(|expires| now > expires)
    }
}

/// Serialises `value` inside an envelope, with `expires` (epoch milliseconds) when set.
#[must_use]
pub fn encode(value: &Value, expires: Option<u64>) -> String {
    let mut out = String::with_capacity(32);
    encode_into(&mut out, value, expires);
    out
}

/// [`encode`] into an existing buffer (cleared first).
pub fn encode_into(out: &mut String, value: &Value, expires: Option<u64>) {
    out.clear();
    out.push_str("{\"value\":");
    write_value(out, value);
    if let Some(expires) = expires {
        out.push_str(",\"expires\":");
        write_u64(out, expires);
    }
    out.push('}');
}

/// Serialises a value as `@keyv/serialize` does (strings starting with `:` escaped, JavaScript
/// number and member order), without the envelope.
#[must_use]
pub fn serialize(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Decodes an envelope; `None` when the text is not JSON, not an object, or has no `value`
/// member (Keyv reads all of these as a miss).
#[must_use]
pub fn decode(text: &str) -> Option<Envelope> {
    // Serde would also read a struct from an array.
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let raw: RawEnvelope = serde_json::from_str(text).ok()?;
    let mut value = raw.value?;
    unescape(&mut value);
    let expires = raw.expires.as_ref().and_then(Value::as_f64);
    Some(Envelope { value, expires })
}

#[derive(Deserialize)]
struct RawEnvelope {
    /// `Some(Value::Null)` for `"value":null`, `None` when the member is missing.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    #[serde(default)]
    expires: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `@keyv/serialize`'s reviver: applied to every string value (object keys are left alone).
fn unescape(value: &mut Value) {
    match value {
        Value::String(s) => {
            if s.starts_with(':') {
                if let Some(encoded) = s.strip_prefix(":base64:")
                    && let Ok(bytes) = STANDARD.decode(encoded)
                {
                    let data = bytes.into_iter().map(Value::from).collect();
                    let mut buffer = Map::new();
                    buffer.insert("type".to_owned(), Value::from("Buffer"));
                    buffer.insert("data".to_owned(), Value::Array(data));
                    *value = Value::Object(buffer);
                    return;
                }
                s.remove(0);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unescape),
        Value::Object(members) => members.values_mut().for_each(unescape),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s, true),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => write_object(out, members),
    }
}

fn write_object(out: &mut String, members: &Map<String, Value>) {
    out.push('{');
    if members.keys().any(|k| array_index(k).is_some()) {
        // JavaScript enumerates integer-like names first, in ascending order.
        let mut indexed: Vec<(u32, &String, &Value)> = members
            .iter()
            .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
            .collect();
        indexed.sort_unstable_by_key(|(i, _, _)| *i);
        let named = members.iter().filter(|(k, _)| array_index(k).is_none());
        let ordered = indexed.into_iter().map(|(_, k, v)| (k, v)).chain(named);
        write_members(out, ordered);
    } else {
        write_members(out, members.iter());
    }
    out.push('}');
}

fn write_members<'a>(out: &mut String, members: impl Iterator<Item = (&'a String, &'a Value)>) {
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key, false);
        out.push(':');
        write_value(out, value);
    }
}

/// A canonical array index (`0`, `1`, … up to 2³² − 2), as JavaScript orders object members.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    let first = *bytes.first()?;
    if !first.is_ascii_digit() || (first == b'0' && bytes.len() > 1) || bytes.len() > 10 {
        return None;
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse::<u32>().ok().filter(|i| *i != u32::MAX)
}

/// `JSON.stringify` of a string, with Keyv's `:` escaping of values.
fn write_string(out: &mut String, s: &str, escape_colon: bool) {
    out.push('"');
    if escape_colon && s.starts_with(':') {
        out.push(':');
    }
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Escapes are at ASCII positions, so these slices are on char boundaries.
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_u64(out, u);
    } else if let Some(i) = n.as_i64() {
        out.push('-');
        write_u64(out, i.unsigned_abs());
    } else if let Some(f) = n.as_f64() {
        write_f64(out, f);
    } else {
        // Arbitrary-precision numbers are not enabled; keep serde_json's text.
        out.push_str(&n.to_string());
    }
}

fn write_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // n % 10 < 10 fits a u8.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        buf[i] = b'0' + digit;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// JavaScript's `Number.prototype.toString()` (what `JSON.stringify` writes): shortest
/// round-trip digits, plain notation for exponents from −7 to 20, `1e+21` style otherwise;
/// `-0` is `0` and non-finite numbers are `null`.
fn write_f64(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    if f == 0.0 {
        out.push('0');
        return;
    }
    let scientific = format!("{f:e}");
    let (negative, unsigned) = match scientific.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, scientific.as_str()),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Digit counts are tiny (≤ 17).
    #[allow(clippy::cast_possible_wrap)]
    let k = digits.len() as i64;
    let n = exponent + 1;
    if negative {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        let point = n as usize;
        out.push_str(&digits[..point]);
        out.push('.');
        out.push_str(&digits[point..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        write_u64(out, (n - 1).unsigned_abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(x: f64) -> String {
        let mut out = String::new();
        write_f64(&mut out, x);
        out
    }

    #[test]
    fn numbers_are_written_as_javascript_does() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(123.456), "123.456");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(-2.5e30), "-2.5e+30");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(f64::NAN), "null");
        assert_eq!(serialize(&json!(-42)), "-42");
        assert_eq!(serialize(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(serialize(&json!(i64::MIN)), "-9223372036854775808");
    }

    #[test]
    fn strings_starting_with_a_colon_are_escaped_at_any_depth_but_not_keys() {
        let value = json!({ ":k": [":a", "b:", { "x": "::" }], "y": ":" });
        let text = serialize(&value);
        assert_eq!(text, r#"{":k":["::a","b:",{"x":":::"}],"y":"::"}"#);
        let decoded = decode(&format!("{{\"value\":{text}}}")).unwrap();
        assert_eq!(decoded.value, value);
    }

    #[test]
    fn control_characters_and_quotes_are_escaped_like_json_stringify() {
        assert_eq!(
            serialize(&json!("a\"b\\c\n\u{1}\u{7f}é\u{2028}/")),
            "\"a\\\"b\\\\c\\n\\u0001\u{7f}é\u{2028}/\""
        );
        assert_eq!(serialize(&json!("\u{8}\u{c}\r\t")), r#""\b\f\r\t""#);
    }

    #[test]
    fn integer_like_members_come_first_in_ascending_order() {
        let value: Value =
            serde_json::from_str(r#"{"b":1,"10":2,"a":3,"2":4,"01":5,"-1":6}"#).unwrap();
        assert_eq!(
            serialize(&value),
            r#"{"2":4,"10":2,"b":1,"a":3,"01":5,"-1":6}"#
        );
        let big: Value = serde_json::from_str(r#"{"x":0,"4294967295":1,"4294967294":2}"#).unwrap();
        assert_eq!(serialize(&big), r#"{"4294967294":2,"x":0,"4294967295":1}"#);
    }

    #[test]
    fn null_is_a_value_and_a_missing_value_is_a_miss() {
        assert_eq!(encode(&Value::Null, None), r#"{"value":null}"#);
        assert_eq!(
            decode(r#"{"value":null}"#),
            Some(Envelope {
                value: Value::Null,
                expires: None
            })
        );
        assert_eq!(decode(r#"{"expires":1}"#), None);
        assert_eq!(decode("not json"), None);
        assert_eq!(decode("[1]"), None);
        assert_eq!(decode(r#""text""#), None);
    }

    #[test]
    fn expiry_is_read_from_the_envelope() {
        let e = decode(r#"{"value":1,"expires":1000.5}"#).unwrap();
        assert!(!e.is_expired(1000));
        assert!(e.is_expired(1001));
        let never = decode(r#"{"value":1,"expires":null}"#).unwrap();
        assert!(!never.is_expired(u64::MAX));
        let not_a_number = decode(r#"{"value":1,"expires":"5"}"#).unwrap();
        assert!(!not_a_number.is_expired(u64::MAX));
    }

    #[test]
    fn node_buffers_decode_to_their_json_form() {
        let e = decode(r#"{"value":":base64:AQI="}"#).unwrap();
        assert_eq!(e.value, json!({ "type": "Buffer", "data": [1, 2] }));
        // A string that merely looks like one was escaped on write.
        assert_eq!(serialize(&json!(":base64:AQI=")), r#""::base64:AQI=""#);
        let e = decode(r#"{"value":"::base64:AQI="}"#).unwrap();
        assert_eq!(e.value, json!(":base64:AQI="));
    }
}
