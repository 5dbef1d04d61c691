//! Key normalisation, as Backstage's `CacheClient` does it (spec §3.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Longest normalised key kept in its reversible base64 form; longer ones are hashed.
const MAX_BASE64_LEN: usize = 199;

/// The key a store sees for the caller's `key`: the standard base64 (with `=` padding) of its
/// UTF-8 bytes when that is shorter than 200 characters (keys up to 147 bytes), otherwise the
/// base64 of its SHA-256 digest (44 characters). The empty key normalises to the empty string.
///
/// ```
/// use backstage_cache::normalize_key;
///
/// assert_eq!(normalize_key("hello"), "aGVsbG8=");
/// assert_eq!(normalize_key(""), "");
/// assert_eq!(normalize_key(&"x".repeat(148)).len(), 44);
/// ```
#[must_use]
pub fn normalize_key(key: &str) -> String {
    let bytes = key.as_bytes();
    if is_kept(bytes.len()) {
        STANDARD.encode(bytes)
    } else {
        STANDARD.encode(Sha256::digest(bytes))
    }
}

/// Whether a key of `len` bytes normalises to its own base64 (otherwise to its digest's).
fn is_kept(len: usize) -> bool {
    len.div_ceil(3) * 4 <= MAX_BASE64_LEN
}

/// Appends the bytes whose base64 is the normalised form of `key`: the key itself, or its
/// SHA-256 digest when long. Normalising is then a bijection between these bytes and the
/// normalised key (`normalize_key(key) == base64(bytes)`), so a store in this process can key
/// its entries by them and skip the base64 step.
pub(crate) fn normalized_bytes_into(key: &str, out: &mut Vec<u8>) {
    let bytes = key.as_bytes();
    if is_kept(bytes.len()) {
        out.extend_from_slice(bytes);
    } else {
        out.extend_from_slice(&Sha256::digest(bytes));
    }
}

/// Appends the bytes of a normalised key (see [`normalized_bytes_into`]); `false` (and nothing
/// appended) when `normalized` is not canonical padded base64, which no key normalises to.
pub(crate) fn decode_normalized_into(normalized: &str, out: &mut Vec<u8>) -> bool {
    // The standard engine only accepts canonical padding and no trailing bits, so what it
    // decodes re-encodes to exactly `normalized`.
    let start = out.len();
    if STANDARD.decode_vec(normalized, out).is_ok() {
        true
    } else {
        out.truncate(start);
        false
    }
}

/// Length of the normalised key whose bytes (see [`normalized_bytes_into`]) are `len` long.
pub(crate) fn normalized_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_base64() {
        assert_eq!(normalize_key("a"), "YQ==");
        assert_eq!(normalize_key("ab"), "YWI=");
        assert_eq!(normalize_key("abc"), "YWJj");
        // `+` and `/` of the standard alphabet are kept.
        assert_eq!(normalize_key("\u{fb}\u{ff}"), "w7vDvw==");
        assert_eq!(normalize_key("日本"), "5pel5pys");
    }

    #[test]
    fn keys_of_148_bytes_or_more_are_hashed() {
        let at_limit = "k".repeat(147);
        assert_eq!(normalize_key(&at_limit).len(), 196);
        assert_eq!(
            normalize_key(&at_limit),
            STANDARD.encode(at_limit.as_bytes())
        );
        let over = "k".repeat(148);
        let hashed = normalize_key(&over);
        assert_eq!(hashed.len(), 44);
        assert_eq!(hashed, STANDARD.encode(Sha256::digest(over.as_bytes())));
    }

    #[test]
    fn normalized_bytes_encode_to_the_normalized_key() {
        for key in [
            "",
            "a",
            "ab",
            "bench-key-1",
            "日本",
            &"x".repeat(147),
            &"y".repeat(300),
        ] {
            let mut bytes = Vec::new();
            normalized_bytes_into(key, &mut bytes);
            let normalized = normalize_key(key);
            assert_eq!(STANDARD.encode(&bytes), normalized);
            assert_eq!(normalized_len(bytes.len()), normalized.len());
            let mut decoded = vec![7];
            assert!(decode_normalized_into(&normalized, &mut decoded));
            assert_eq!(decoded[1..], bytes[..]);
        }
        for not_normalized in ["YR==", "a", "YQ", "Y Q==", "YQ==YQ==", "日本"] {
            let mut decoded = vec![7];
            assert!(
                !decode_normalized_into(not_normalized, &mut decoded),
                "{not_normalized}"
            );
            assert_eq!(decoded, [7]);
        }
    }

    #[test]
    fn sha256_of_a_known_long_key() {
        // node -e "console.log(require('crypto').createHash('sha256').update('a'.repeat(200)).digest('base64'))"
        assert_eq!(
            normalize_key(&"a".repeat(200)),
            "wqkI2Y9d+Yet5BtfziEwZ++8wh7yJAISpB5UtefCiuU="
        );
    }
}
