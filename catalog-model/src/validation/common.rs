//! Backstage's `CommonValidatorFunctions`: generic predicates over untrusted JSON values.

use serde_json::Value;

/// `[a-z0-9]`
pub(crate) const LOWER_ALNUM: u8 = 1;
/// `[a-z0-9-]`
pub(crate) const DNS: u8 = 2;
/// `[A-Za-z0-9]`
pub(crate) const ALNUM: u8 = 4;
/// `[-A-Za-z0-9_.]`
pub(crate) const NAME: u8 = 8;

/// Character classes of the ASCII identifier rules, one lookup per byte.
pub(crate) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        let alnum = c.is_ascii_alphanumeric();
        let mut f = 0;
        if lower {
            f |= LOWER_ALNUM | DNS;
        }
        if c == b'-' {
            f |= DNS | NAME;
        }
        if alnum {
            f |= ALNUM | NAME;
        }
        if c == b'_' || c == b'.' {
            f |= NAME;
        }
        t[i] = f;
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn all_in(b: &[u8], class: u8) -> bool {
    b.iter().all(|&c| CLASS[c as usize] & class != 0)
}

#[inline]
pub(crate) fn is(c: u8, class: u8) -> bool {
    CLASS[c as usize] & class != 0
}

/// True for the characters JavaScript's `String.prototype.trim` removes
/// (Unicode White_Space except U+0085, line terminators and U+FEFF).
pub fn is_js_whitespace(c: char) -> bool {
    // Rust's White_Space includes U+0085 (NEL); JavaScript's trim does not remove it.
    (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}'
}

/// JavaScript's `String.prototype.trim`.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_whitespace)
}

/// Checks that `value` is a string of the form `<suffix>` or `<prefix><separator><suffix>`
/// and validates the parts. The string is split on every separator; three or more parts fail.
pub fn is_valid_prefix_and_or_suffix(
    value: &Value,
    separator: char,
    is_valid_prefix: impl Fn(&str) -> bool,
    is_valid_suffix: impl Fn(&str) -> bool,
) -> bool {
    match value {
        Value::String(s) => prefix_and_or_suffix(s, separator, is_valid_prefix, is_valid_suffix),
        _ => false,
    }
}

pub(crate) fn prefix_and_or_suffix(
    s: &str,
    separator: char,
    is_valid_prefix: impl Fn(&str) -> bool,
    is_valid_suffix: impl Fn(&str) -> bool,
) -> bool {
    match s.split_once(separator) {
        None => is_valid_suffix(s),
        Some((prefix, suffix)) => {
            !suffix.contains(separator) && is_valid_prefix(prefix) && is_valid_suffix(suffix)
        }
    }
}

/// A DNS label (RFC 1123, lower-case only): 1 to 63 characters of `[a-z0-9-]`, starting and
/// ending with a letter or digit. Runs of several hyphens are allowed.
pub fn is_valid_dns_label(value: &Value) -> bool {
    value.as_str().is_some_and(dns_label)
}

pub(crate) fn dns_label(s: &str) -> bool {
    dns_label_bytes(s.as_bytes())
}

#[inline]
fn dns_label_bytes(b: &[u8]) -> bool {
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            b.len() <= 63 && is(first, LOWER_ALNUM) && is(last, LOWER_ALNUM) && all_in(b, DNS)
        }
        _ => false,
    }
}

/// A DNS subdomain: 1 to 253 characters, every `.`-separated part a valid DNS label.
pub fn is_valid_dns_subdomain(value: &Value) -> bool {
    value.as_str().is_some_and(dns_subdomain)
}

pub(crate) fn dns_subdomain(s: &str) -> bool {
    (1..=253).contains(&s.len()) && s.as_bytes().split(|&c| c == b'.').all(dns_label_bytes)
}

/// The deprecated tag rule of `CommonValidatorFunctions.isValidTag` (no colon allowed).
/// The catalog uses [`crate::validation::kubernetes::is_valid_catalog_tag`] instead.
pub fn is_valid_tag(value: &Value) -> bool {
    value.as_str().is_some_and(|s| tag_like(s, false))
}

/// `^[a-z0-9+#]+(\-[a-z0-9+#]+)*$` (plus `:` when `allow_colon`), 1 to 63 characters.
pub(crate) fn tag_like(s: &str, allow_colon: bool) -> bool {
    let b = s.as_bytes();
    let part = |c: u8| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == b'+'
            || c == b'#'
            || (allow_colon && c == b':')
    };
    if !(1..=63).contains(&b.len()) || b[0] == b'-' || b[b.len() - 1] == b'-' {
        return false;
    }
    let mut prev_dash = false;
    for &c in b {
        if c == b'-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if part(c) {
            prev_dash = false;
        } else {
            return false;
        }
    }
    true
}

/// A string that the WHATWG URL parser accepts as an absolute URL (`new URL(value)` in
/// JavaScript). `mailto:a@b` and `a:b` are valid; relative references are not.
pub fn is_valid_url(value: &Value) -> bool {
    value.as_str().is_some_and(valid_url)
}

pub(crate) fn valid_url(s: &str) -> bool {
    match plain_http_url(s) {
        Some(valid) => valid,
        None => url::Url::parse(s).is_ok(),
    }
}

/// Decides the common `http(s)://host[:port][/path...]` case without the full WHATWG parser
/// (which allocates). `None` means "not obviously fine": ask the real parser.
fn plain_http_url(s: &str) -> Option<bool> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The parser strips or encodes whitespace and controls; leave those to it.
    if !tail.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (host, port) = match authority.bytes().position(|b| b == b':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    // `xn--` labels are Punycode the parser must decode: leave any `--` to it.
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.as_bytes().windows(2).any(|w| w == b"--");
    if !host_ok {
        return None;
    }
    // Hosts ending in a number are IPv4 addresses to the parser, with their own rules.
    let trimmed = host.trim_end_matches('.').as_bytes();
    let last = match trimmed.iter().rposition(|&b| b == b'.') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    if last.is_empty()
        || last.iter().all(u8::is_ascii_digit)
        || last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"0x"))
    {
        return None;
    }
    match port {
        None | Some("") => Some(true),
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u32>().is_ok_and(|n| n <= 65535))
        }
        Some(_) => None,
    }
}

/// A string that is not empty after JavaScript-style trimming.
pub fn is_non_empty_string(value: &Value) -> bool {
    value.as_str().is_some_and(|s| !js_trim(s).is_empty())
}

/// Deprecated alias of [`is_non_empty_string`].
pub fn is_valid_string(value: &Value) -> bool {
    is_non_empty_string(value)
}

/// Whether the value survives a JSON round trip unchanged. Every `serde_json::Value` does,
/// so this is always true; it exists for parity with Backstage's API.
pub fn is_json_safe(_value: &Value) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn dns_labels_are_lower_case_with_inner_hyphen_runs() {
        for ok in ["a", "default", "a-b", "a--b", "1", "a1-2b"] {
            assert!(is_valid_dns_label(&s(ok)), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_valid_dns_label(&s(bad)), "{bad}");
        }
        assert!(is_valid_dns_label(&s(&"a".repeat(63))));
        assert!(!is_valid_dns_label(&json!(1)));
    }

    #[test]
    fn dns_subdomains_need_every_part_valid() {
        assert!(is_valid_dns_subdomain(&s("backstage.io")));
        assert!(is_valid_dns_subdomain(&s("a.b.c")));
        for bad in ["", ".a", "a.", "a..b", "Backstage.io", "x_y"] {
            assert!(!is_valid_dns_subdomain(&s(bad)), "{bad}");
        }
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(!is_valid_dns_subdomain(&s(&long)));
        assert!(is_valid_dns_subdomain(&s(&long[2..])));
    }

    #[test]
    fn urls_follow_the_whatwg_parser() {
        for ok in [
            "https://x",
            "mailto:a@b",
            "a:b",
            "javascript:x",
            "file:///x",
            " https://x ",
        ] {
            assert!(is_valid_url(&s(ok)), "{ok}");
        }
        for bad in ["/relative", "x", "", "http://"] {
            assert!(!is_valid_url(&s(bad)), "{bad}");
        }
    }

    #[test]
    fn plain_http_fast_path_agrees_with_the_parser() {
        let cases = [
            "https://example.com",
            "https://example.com/a/b?c=d#e",
            "http://Example.COM:8080/x",
            "https://a..b/",
            "https://-a-.com",
            "https://host:",
            "https://host:65535",
            "https://host:65536",
            "https://host:99999999",
            "https://1.2.3.999/",
            "https://1.2.3.4/",
            "https://0x7f.1/",
            "https://xn--abc.com",
            "https://xn--nxasmq6b.com",
            "https://exa mple.com",
            "https://ex%41mple.com",
            "https://.",
            "https://a.b./x",
            "https://host/pa th",
            "https://user@host/",
            "https://[::1]/",
            "https:\\\\host\\x",
        ];
        for case in cases {
            let parser = url::Url::parse(case).is_ok();
            if let Some(fast) = plain_http_url(case) {
                assert_eq!(fast, parser, "{case}");
            }
            assert_eq!(valid_url(case), parser, "{case}");
        }
    }

    #[test]
    fn non_empty_string_trims_like_javascript() {
        assert!(is_non_empty_string(&s("x")));
        assert!(!is_non_empty_string(&s(" \t\n")));
        assert!(!is_non_empty_string(&s("\u{FEFF}\u{00A0}")));
        assert!(!is_non_empty_string(&json!(null)));
        assert!(is_valid_string(&s(" y ")));
    }

    #[test]
    fn prefix_and_or_suffix_splits_on_every_separator() {
        let ok = |p: &str| !p.is_empty();
        assert!(is_valid_prefix_and_or_suffix(&s("a/b"), '/', ok, ok));
        assert!(is_valid_prefix_and_or_suffix(&s("b"), '/', ok, ok));
        assert!(!is_valid_prefix_and_or_suffix(&s("a/b/c"), '/', ok, ok));
        assert!(!is_valid_prefix_and_or_suffix(&s("/b"), '/', ok, ok));
        assert!(!is_valid_prefix_and_or_suffix(&json!(3), '/', ok, ok));
    }

    #[test]
    fn deprecated_tag_rule_rejects_colons() {
        assert!(is_valid_tag(&s("c++")));
        assert!(!is_valid_tag(&s("lang:java")));
        assert!(is_json_safe(&json!({"a": [1, null]})));
    }
}
