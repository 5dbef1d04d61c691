//! Security headers: what Backstage's `helmet(readHelmetOptions(config))` sets (helmet 6, with
//! the cross-origin embedder/opener/resource policies and origin-agent-cluster disabled), with
//! the content security policy from `backend.csp` and the referrer policy from
//! `backend.referrer.policy`.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::util::kebab_case;
use crate::config::ConfigReader;
use crate::{Error, Result};

/// Helmet's default directives, as Backstage adjusts them: `script-src` allows `'unsafe-eval'`
/// and `form-action` is removed.
const DEFAULT_DIRECTIVES: [(&str, &[&str]); 10] = [
    ("default-src", &["'self'"]),
    ("base-uri", &["'self'"]),
    ("font-src", &["'self'", "https:", "data:"]),
    ("frame-ancestors", &["'self'"]),
    ("img-src", &["'self'", "data:"]),
    ("object-src", &["'none'"]),
    ("script-src", &["'self'", "'unsafe-eval'"]),
    ("script-src-attr", &["'none'"]),
    ("style-src", &["'self'", "https:", "'unsafe-inline'"]),
    ("upgrade-insecure-requests", &[]),
];

/// The default `Content-Security-Policy` value (no `backend.csp`).
pub const DEFAULT_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;\
frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self' 'unsafe-eval';\
script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

/// The referrer policy tokens helmet accepts.
const REFERRER_TOKENS: [&str; 9] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
    "",
];

/// Helmet 6's other default headers (those Backstage leaves on).
const STATIC_HEADERS: [(&str, &str); 7] = [
    (
        "strict-transport-security",
        "max-age=15552000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

/// The security headers every response of the root router gets.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl SecurityHeaders {
    /// Reads `backend.csp` and `backend.referrer.policy`.
    pub(crate) fn from_config(config: &ConfigReader) -> Result<Self> {
        let mut headers = Vec::with_capacity(STATIC_HEADERS.len() + 2);
        let csp = content_security_policy(config)?;
        headers.push((
            HeaderName::from_static("content-security-policy"),
            header_value("backend.csp", &csp)?,
        ));
        let referrer = referrer_policy(config)?;
        headers.push((
            HeaderName::from_static("referrer-policy"),
            header_value("backend.referrer.policy", &referrer)?,
        ));
        for (name, value) in STATIC_HEADERS {
            headers.push((
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ));
        }
        Ok(Self {
            headers: headers.into(),
        })
    }

    /// Sets each header the response does not already have (helmet sets them before the
    /// handlers run, so a handler's own value wins).
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in self.headers.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
}

fn header_value(key: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| Error::InvalidHttpConfig {
        key: key.to_owned(),
        message: format!("the header value {value:?} contains characters HTTP does not allow"),
    })
}

fn csp_error(key: &str, message: String) -> Error {
    Error::InvalidHttpConfig {
        key: key.to_owned(),
        message,
    }
}

/// The `Content-Security-Policy` value: Backstage's `applyCspDirectives` over helmet's
/// validation and rendering.
pub(crate) fn content_security_policy(config: &ConfigReader) -> Result<String> {
    let mut directives: Vec<(String, Vec<String>)> = DEFAULT_DIRECTIVES
        .iter()
        .map(|(name, values)| {
            (
                (*name).to_owned(),
                values.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect();
    if let Some(csp) = config.optional_config("backend.csp")? {
        // Read every key first, as Backstage's `readCspDirectives` does.
        let mut configured: Vec<(String, Option<Vec<String>>)> = Vec::new();
        if let Value::Object(map) = csp.value() {
            for (key, value) in map {
                if value == Value::Bool(false) {
                    configured.push((key, None));
                } else {
                    configured.push((key.clone(), Some(csp.string_array(&key)?)));
                }
            }
        }
        for (key, value) in configured {
            let name = kebab_case(&key);
            let position = directives.iter().position(|(n, _)| *n == name);
            match (value, position) {
                (None, Some(index)) => {
                    directives.remove(index);
                }
                (None, None) => {}
                (Some(values), Some(index)) => {
                    if let Some(slot) = directives.get_mut(index) {
                        slot.1 = values;
                    }
                }
                (Some(values), None) => directives.push((name, values)),
            }
        }
    }
    let key = "backend.csp";
    for (name, values) in &directives {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(csp_error(
                key,
                format!("Content-Security-Policy received an invalid directive name {name:?}"),
            ));
        }
        if values.iter().any(|v| v.contains(';') || v.contains(',')) {
            return Err(csp_error(
                key,
                format!("Content-Security-Policy received an invalid directive value for {name:?}"),
            ));
        }
    }
    if directives.is_empty() {
        return Err(csp_error(
            key,
            "Content-Security-Policy has no directives. Either set some or disable the header"
                .to_owned(),
        ));
    }
    if !directives.iter().any(|(name, _)| name == "default-src") {
        return Err(csp_error(
            key,
            "Content-Security-Policy needs a default-src but none was provided. If you really \
             want to disable it, set it to `contentSecurityPolicy.dangerouslyDisableDefaultSrc`."
                .to_owned(),
        ));
    }
    Ok(directives
        .iter()
        .map(|(name, values)| {
            let mut directive = name.clone();
            for value in values {
                directive.push(' ');
                directive.push_str(value);
            }
            directive
        })
        .collect::<Vec<_>>()
        .join(";"))
}

/// The `Referrer-Policy` value from `backend.referrer.policy` (a string or a list), validated
/// as helmet does; `no-referrer` when not configured.
pub(crate) fn referrer_policy(config: &ConfigReader) -> Result<String> {
    const KEY: &str = "backend.referrer.policy";
    let tokens = match config.optional(KEY)? {
        None => return Ok("no-referrer".to_owned()),
        Some(Value::String(token)) => vec![token],
        Some(_) => config.string_array(KEY)?,
    };
    if tokens.is_empty() {
        return Err(csp_error(
            KEY,
            "Referrer-Policy received no policy tokens".to_owned(),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for token in &tokens {
        if !REFERRER_TOKENS.contains(&token.as_str()) {
            return Err(csp_error(
                KEY,
                format!("Referrer-Policy received an unexpected policy token {token:?}"),
            ));
        }
        if seen.contains(&token.as_str()) {
            return Err(csp_error(
                KEY,
                format!("Referrer-Policy received a duplicate policy token {token:?}"),
            ));
        }
        seen.push(token);
    }
    Ok(tokens.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn csp(config: Value) -> Result<String> {
        content_security_policy(&ConfigReader::from_value(config))
    }

    #[test]
    fn default_csp_is_backstages() {
        assert_eq!(csp(json!({})).expect("valid"), DEFAULT_CSP);
        assert_eq!(
            DEFAULT_CSP,
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self' 'unsafe-eval';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
        );
    }

    #[test]
    fn overrides_replace_remove_and_add_directives() {
        let value = csp(json!({ "backend": { "csp": {
            "imgSrc": ["'self'", "data:", "https://avatars.example.com"],
            "upgrade-insecure-requests": false,
            "connect-src": ["'self'", "http:", "https:"],
        } } }))
        .expect("valid");
        assert_eq!(
            value,
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;frame-ancestors 'self';img-src 'self' data: https://avatars.example.com;object-src 'none';script-src 'self' 'unsafe-eval';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';connect-src 'self' http: https:"
        );
        // An empty list keeps the directive without values.
        let value = csp(json!({ "backend": { "csp": { "frameAncestors": [] } } })).expect("valid");
        assert!(value.contains(";frame-ancestors;"), "{value}");
        // Removing a directive that is not there is fine.
        assert!(csp(json!({ "backend": { "csp": { "form-action": false } } })).is_ok());
    }

    #[test]
    fn csp_errors() {
        let err = |config: Value| csp(config).expect_err("invalid").to_string();
        assert_eq!(
            err(json!({ "backend": { "csp": { "default-src": false } } })),
            "Invalid config at 'backend.csp', Content-Security-Policy needs a default-src but none was provided. If you really want to disable it, set it to `contentSecurityPolicy.dangerouslyDisableDefaultSrc`."
        );
        assert_eq!(
            err(json!({ "backend": { "csp": { "img-src": ["a;b"] } } })),
            "Invalid config at 'backend.csp', Content-Security-Policy received an invalid directive value for \"img-src\""
        );
        assert_eq!(
            err(json!({ "backend": { "csp": { "img-src": "'self'" } } })),
            "Invalid type in config for key 'backend.csp.img-src' in 'mock-config', got string, wanted string-array"
        );
        assert_eq!(
            err(json!({ "backend": { "csp": { "img-src": true } } })),
            "Invalid type in config for key 'backend.csp.img-src' in 'mock-config', got boolean, wanted string-array"
        );
    }

    #[test]
    fn referrer_policy_reads_and_validates() {
        let policy = |config: Value| referrer_policy(&ConfigReader::from_value(config));
        assert_eq!(policy(json!({})).expect("valid"), "no-referrer");
        assert_eq!(
            policy(
                json!({ "backend": { "referrer": { "policy": ["same-origin", "strict-origin"] } } })
            )
            .expect("valid"),
            "same-origin,strict-origin"
        );
        assert_eq!(
            policy(json!({ "backend": { "referrer": { "policy": "origin" } } })).expect("valid"),
            "origin"
        );
        assert_eq!(
            policy(json!({ "backend": { "referrer": { "policy": ["nope"] } } }))
                .expect_err("invalid")
                .to_string(),
            "Invalid config at 'backend.referrer.policy', Referrer-Policy received an unexpected policy token \"nope\""
        );
        assert_eq!(
            policy(json!({ "backend": { "referrer": { "policy": ["origin", "origin"] } } }))
                .expect_err("invalid")
                .to_string(),
            "Invalid config at 'backend.referrer.policy', Referrer-Policy received a duplicate policy token \"origin\""
        );
        assert_eq!(
            policy(json!({ "backend": { "referrer": { "policy": [] } } }))
                .expect_err("invalid")
                .to_string(),
            "Invalid config at 'backend.referrer.policy', Referrer-Policy received no policy tokens"
        );
    }

    #[test]
    fn headers_do_not_override_the_handlers() {
        let security =
            SecurityHeaders::from_config(&ConfigReader::from_value(json!({}))).expect("valid");
        let mut headers = HeaderMap::new();
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        security.apply(&mut headers);
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["content-security-policy"], DEFAULT_CSP);
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["strict-transport-security"],
            "max-age=15552000; includeSubDomains"
        );
        assert!(!headers.contains_key("cross-origin-opener-policy"));
        assert!(!headers.contains_key("origin-agent-cluster"));
    }
}
