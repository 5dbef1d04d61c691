//! Stable hashing: key-sorted JSON (like `fast-json-stable-stringify`), sha1 hex digests, and
//! the refresh-key shortening rule.

use std::fmt::Write as _;

use serde_json::Value;
use sha1::{Digest, Sha1};

/// Appends the JSON text of `value` with object keys sorted, no whitespace.
pub(crate) fn stable_stringify_into(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    stable_stringify_into(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                stable_stringify_into(item, out);
            }
            out.push(']');
        }
        Value::String(s) => push_json_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn push_json_string(s: &str, out: &mut String) {
    match serde_json::to_string(s) {
        Ok(text) => out.push_str(&text),
        Err(_) => out.push_str("\"\""),
    }
}

/// The key-sorted JSON text of `value`.
pub(crate) fn stable_stringify(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    stable_stringify_into(value, &mut out);
    out
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// sha1 hex of the stable JSON of `value` (Backstage's `generateStableHash`).
pub(crate) fn stable_hash(value: &Value) -> String {
    hex(&Sha1::digest(stable_stringify(value).as_bytes()))
}

/// Longest stored refresh key (Backstage's `MAX_KEY_LENGTH`).
const MAX_KEY_LENGTH: usize = 255;

/// A refresh key as stored: keys longer than 255 (UTF-16 units, as JavaScript counts) become
/// their first 180 units + `#sha256:<hex of the whole key>` (Backstage's `generateTargetKey`).
pub(crate) fn refresh_key(key: &str) -> String {
    if key.encode_utf16().count() <= MAX_KEY_LENGTH {
        return key.to_owned();
    }
    let keep = MAX_KEY_LENGTH - 75;
    let mut units = 0;
    let mut end = 0;
    for (i, c) in key.char_indices() {
        let n = c.len_utf16();
        if units + n > keep {
            break;
        }
        units += n;
        end = i + c.len_utf8();
    }
    format!("{}#sha256:{}", &key[..end], hex(&sha256(key.as_bytes())))
}

/// SHA-256 of some bytes.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stable_stringify_sorts_keys_recursively() {
        let a = json!({"b": 1, "a": {"d": [1, {"z": null, "y": "x\"y"}], "c": true}});
        assert_eq!(
            stable_stringify(&a),
            r#"{"a":{"c":true,"d":[1,{"y":"x\"y","z":null}]},"b":1}"#
        );
        let b = json!({"a": {"c": true, "d": [1, {"y": "x\"y", "z": null}]}, "b": 1});
        assert_eq!(stable_hash(&a), stable_hash(&b));
        assert_eq!(stable_hash(&a).len(), 40);
    }

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn long_refresh_keys_are_shortened() {
        let short = "url:https://example.com/a.yaml";
        assert_eq!(refresh_key(short), short);
        let long = format!("url:https://example.com/{}", "a".repeat(300));
        let key = refresh_key(&long);
        assert_eq!(key.len(), 180 + "#sha256:".len() + 64);
        assert!(key.starts_with(&long[..180]));
        assert!(key.ends_with(&hex(&sha256(long.as_bytes()))));
        let exactly = "x".repeat(255);
        assert_eq!(refresh_key(&exactly), exactly);
    }
}
