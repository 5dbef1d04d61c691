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
    if bytes.len().div_ceil(3) * 4 <= MAX_BASE64_LEN {
        STANDARD.encode(bytes)
    } else {
        STANDARD.encode(Sha256::digest(bytes))
    }
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
    fn sha256_of_a_known_long_key() {
        // node -e "console.log(require('crypto').createHash('sha256').update('a'.repeat(200)).digest('base64'))"
        assert_eq!(
            normalize_key(&"a".repeat(200)),
            "wqkI2Y9d+Yet5BtfziEwZ++8wh7yJAISpB5UtefCiuU="
        );
    }
}
