//! Small helpers shared by the HTTP modules: JSON responses, Express-style path matching,
//! timestamps and JavaScript-flavoured text rules.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The content type Express's `res.json` sends.
pub(crate) const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A JSON response with `status`, as Express's `res.status(status).json(value)`.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
            response
        }
        // Serialising a `serde_json::Value` with string keys cannot fail.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The final 404 of the root chain: status 404 with an empty body, as Backstage's
/// `notFound()` middleware (`res.status(404).end()`).
pub(crate) fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// Whether `path` is what an Express route for `route` (a literal path) matches: compared
/// case-insensitively, with one optional trailing slash (Express's non-strict routing).
pub(crate) fn route_matches(path: &str, route: &str) -> bool {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    path.eq_ignore_ascii_case(route)
}

/// The part of `path` below the mount point `prefix` (given without trailing slash), if `path`
/// is at or under it: a case-insensitive prefix match on a segment boundary, as Express's
/// `router.use(prefix, …)`. The remainder always starts with `/` (`/` for the mount point
/// itself).
pub(crate) fn strip_mount<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let head = path.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = path.get(prefix.len()..)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// JavaScript's `\s`: Unicode white space plus U+FEFF.
pub(crate) fn is_js_space(c: char) -> bool {
    c == '\u{feff}' || c.is_whitespace()
}

/// Whether `s` matches JavaScript's `/^\S+$/`: non-empty, without any white space.
pub(crate) fn is_non_space(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(is_js_space)
}

/// A number as JavaScript's `String(n)` prints it, for the values config holds (integers print
/// without a fraction).
pub(crate) fn js_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// `new Date().toISOString()` for `time`: `2024-05-01T12:34:56.789Z`.
pub(crate) fn iso_timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Lodash's `kebabCase` for the ASCII keys config uses: words split at non-alphanumerics, at
/// lower-to-upper case changes, before the last capital of a run of capitals followed by a
/// lower-case letter, and between letters and digits; joined lower-case with `-`.
pub(crate) fn kebab_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).and_then(|p| chars.get(p)) {
            let next = chars.get(i + 1).copied();
            let boundary = prev.is_alphanumeric()
                && ((prev.is_lowercase() && c.is_uppercase())
                    || (prev.is_uppercase()
                        && c.is_uppercase()
                        && next.is_some_and(char::is_lowercase))
                    || (prev.is_numeric() != c.is_numeric()));
            if boundary && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words.join("-")
}

/// The message of a panic payload, when it is a string (`panic!("...")` gives `&str` or
/// `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_prefixes_match_on_segment_boundaries_case_insensitively() {
        assert_eq!(strip_mount("/api/catalog", "/api/catalog"), Some("/"));
        assert_eq!(strip_mount("/api/catalog/", "/api/catalog"), Some("/"));
        assert_eq!(
            strip_mount("/API/Catalog/entities", "/api/catalog"),
            Some("/entities")
        );
        assert_eq!(strip_mount("/api/catalog-x", "/api/catalog"), None);
        assert_eq!(strip_mount("/api", "/api/catalog"), None);
        assert_eq!(strip_mount("/é", "/a"), None);
    }

    #[test]
    fn routes_match_with_optional_trailing_slash() {
        assert!(route_matches(
            "/.backstage/health/v1/liveness",
            "/.backstage/health/v1/liveness"
        ));
        assert!(route_matches(
            "/.backstage/health/v1/liveness/",
            "/.backstage/health/v1/liveness"
        ));
        assert!(route_matches(
            "/.BACKSTAGE/health/v1/LIVENESS",
            "/.backstage/health/v1/liveness"
        ));
        assert!(!route_matches(
            "/.backstage/health/v1/liveness//",
            "/.backstage/health/v1/liveness"
        ));
        assert!(!route_matches(
            "/.backstage/health/v1",
            "/.backstage/health/v1/liveness"
        ));
    }

    #[test]
    fn kebab_case_like_lodash() {
        assert_eq!(kebab_case("imgSrc"), "img-src");
        assert_eq!(kebab_case("img-src"), "img-src");
        assert_eq!(
            kebab_case("upgradeInsecureRequests"),
            "upgrade-insecure-requests"
        );
        assert_eq!(kebab_case("script_src_attr"), "script-src-attr");
        assert_eq!(kebab_case("IMGSrc"), "img-src");
        assert_eq!(kebab_case("foo2bar"), "foo-2-bar");
        assert_eq!(kebab_case("--"), "");
    }

    #[test]
    fn timestamps_and_numbers() {
        let time = UNIX_EPOCH + std::time::Duration::from_millis(1_714_566_896_789);
        assert_eq!(iso_timestamp(time), "2024-05-01T12:34:56.789Z");
        assert_eq!(js_number(600.0), "600");
        assert_eq!(js_number(1.5), "1.5");
        assert!(is_non_space("abc"));
        assert!(!is_non_space("a b"));
        assert!(!is_non_space("ab\n"));
        assert!(!is_non_space("a\u{feff}"));
        assert!(!is_non_space(""));
    }
}
