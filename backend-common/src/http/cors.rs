//! CORS from `backend.cors`, as Backstage's `readCorsOptions` configures the `cors` package.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::glob::Glob;
use super::util::js_number;
use crate::config::ConfigReader;
use crate::{Error, Result};

/// The `cors` package's default `methods`.
const DEFAULT_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

/// The CORS settings of `backend.cors`.
#[derive(Debug, Clone)]
pub(crate) struct Cors {
    /// Origin patterns; `None` allows any origin (`Access-Control-Allow-Origin: *`).
    origins: Option<Vec<Glob>>,
    methods: Option<HeaderValue>,
    /// `None`: reflect `Access-Control-Request-Headers`; `Some(None)`: configured empty.
    allowed_headers: Option<Option<HeaderValue>>,
    exposed_headers: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<HeaderValue>,
    preflight_continue: bool,
    options_success_status: StatusCode,
}

/// What `Access-Control-Allow-Origin` says for an allowed request.
#[derive(Debug, Clone)]
pub(crate) enum AllowOrigin {
    /// `*`: no origin patterns configured.
    Any,
    /// The request's origin, which matched a pattern (with `Vary: Origin`).
    Reflect(HeaderValue),
}

impl Cors {
    /// Reads `backend.cors`; `None` when it is absent (CORS disabled).
    pub(crate) fn from_config(config: &ConfigReader) -> Result<Option<Self>> {
        let Some(cors) = config.optional_config("backend.cors")? else {
            return Ok(None);
        };
        let key = |name: &str| {
            if cors.prefix().is_empty() {
                name.to_owned()
            } else {
                format!("{}.{name}", cors.prefix())
            }
        };
        let joined = |name: &str| -> Result<Option<HeaderValue>> {
            match read_string_array(&cors, name)? {
                None => Ok(None),
                Some(list) => HeaderValue::from_str(&list.join(","))
                    .map(Some)
                    .map_err(|_| Error::InvalidHttpConfig {
                        key: key(name),
                        message: "contains characters HTTP header values do not allow".to_owned(),
                    }),
            }
        };
        let origins = read_string_array(&cors, "origin")?
            .map(|patterns| patterns.iter().map(|p| Glob::new(p)).collect());
        let methods = match read_string_array(&cors, "methods")? {
            None => Some(HeaderValue::from_static(DEFAULT_METHODS)),
            Some(_) => joined("methods")?.filter(|v| !v.is_empty()),
        };
        let allowed_headers = match read_string_array(&cors, "allowedHeaders")? {
            None => None,
            Some(_) => Some(joined("allowedHeaders")?.filter(|v| !v.is_empty())),
        };
        let exposed_headers = joined("exposedHeaders")?.filter(|v| !v.is_empty());
        let max_age = match cors.optional_number("maxAge")? {
            None => None,
            Some(age) => Some(HeaderValue::from_str(&js_number(age)).map_err(|_| {
                Error::InvalidHttpConfig {
                    key: key("maxAge"),
                    message: format!("{age} is not a valid max age"),
                }
            })?),
        };
        let options_success_status = match cors.optional_number("optionsSuccessStatus")? {
            None => StatusCode::NO_CONTENT,
            Some(status) => status_code(status).ok_or_else(|| Error::InvalidHttpConfig {
                key: key("optionsSuccessStatus"),
                message: format!("{} is not an HTTP status code", js_number(status)),
            })?,
        };
        Ok(Some(Self {
            origins,
            methods,
            allowed_headers,
            exposed_headers,
            credentials: cors.optional_boolean("credentials")? == Some(true),
            max_age,
            preflight_continue: cors.optional_boolean("preflightContinue")? == Some(true),
            options_success_status,
        }))
    }

    /// Whether the request's `Origin` is allowed, and how to say so. A request without
    /// `Origin` fails every pattern.
    pub(crate) fn check(&self, request: &HeaderMap) -> Option<AllowOrigin> {
        let Some(patterns) = &self.origins else {
            return Some(AllowOrigin::Any);
        };
        let origin = request.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        patterns
            .iter()
            .any(|pattern| pattern.is_match(text))
            .then(|| AllowOrigin::Reflect(origin.clone()))
    }

    /// Whether an allowed `OPTIONS` request is answered right away (no `preflightContinue`).
    pub(crate) fn ends_preflight(&self) -> bool {
        !self.preflight_continue
    }

    /// The preflight response: the preflight headers, `optionsSuccessStatus` (204 by default)
    /// and an empty body.
    pub(crate) fn preflight_response(&self, origin: &AllowOrigin, request: &HeaderMap) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.options_success_status;
        self.apply(origin, true, request, response.headers_mut());
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        response
    }

    /// Adds the CORS headers to a response, for a preflight (`OPTIONS`) or an actual request.
    /// Headers the handler set itself are kept; `Vary` is extended.
    pub(crate) fn apply(
        &self,
        origin: &AllowOrigin,
        preflight: bool,
        request: &HeaderMap,
        response: &mut HeaderMap,
    ) {
        match origin {
            AllowOrigin::Any => set(
                response,
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            AllowOrigin::Reflect(value) => {
                set(response, header::ACCESS_CONTROL_ALLOW_ORIGIN, value.clone());
                vary(response, "Origin");
            }
        }
        if self.credentials {
            set(
                response,
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if preflight {
            if let Some(methods) = &self.methods {
                set(
                    response,
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    methods.clone(),
                );
            }
            match &self.allowed_headers {
                Some(Some(allowed)) => {
                    set(
                        response,
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        allowed.clone(),
                    );
                }
                Some(None) => {}
                None => {
                    vary(response, "Access-Control-Request-Headers");
                    if let Some(requested) = request
                        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                        .filter(|v| !v.is_empty())
                    {
                        set(
                            response,
                            header::ACCESS_CONTROL_ALLOW_HEADERS,
                            requested.clone(),
                        );
                    }
                }
            }
            if let Some(max_age) = &self.max_age {
                set(response, header::ACCESS_CONTROL_MAX_AGE, max_age.clone());
            }
        }
        if let Some(exposed) = &self.exposed_headers {
            set(
                response,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                exposed.clone(),
            );
        }
    }
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    if !headers.contains_key(&name) {
        headers.insert(name, value);
    }
}

/// Adds `field` to `Vary` unless it is already listed or `Vary` is `*` (the `vary` package).
fn vary(headers: &mut HeaderMap, field: &str) {
    let existing = headers
        .get(header::VARY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let value = match existing {
        None => field.to_owned(),
        Some(existing) => {
            let listed = existing
                .split(',')
                .map(str::trim)
                .any(|f| f == "*" || f.eq_ignore_ascii_case(field));
            if listed {
                return;
            }
            if existing.trim().is_empty() {
                field.to_owned()
            } else {
                format!("{existing}, {field}")
            }
        }
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(header::VARY, value);
    }
}

fn status_code(n: f64) -> Option<StatusCode> {
    if n.fract() != 0.0 || !(100.0..=599.0).contains(&n) {
        return None;
    }
    // In range and integral, so the conversion is exact.
    let code = format!("{n:.0}").parse::<u16>().ok()?;
    StatusCode::from_u16(code).ok()
}

/// Backstage's `readStringArray`: a string is a one-element list, a falsy value (`false`, `0`,
/// `""`) is absent, anything else must be a string list.
fn read_string_array(config: &ConfigReader, key: &str) -> Result<Option<Vec<String>>> {
    match config.optional(key)? {
        None | Some(Value::Null | Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s])),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f == 0.0 || f.is_nan()) => Ok(None),
        Some(_) => config.string_array(key).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cors(config: Value) -> Cors {
        Cors::from_config(&ConfigReader::from_value(
            json!({ "backend": { "cors": config } }),
        ))
        .expect("valid")
        .expect("enabled")
    }

    fn request(origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(
                header::ORIGIN,
                HeaderValue::from_str(origin).expect("ascii"),
            );
        }
        headers
    }

    #[test]
    fn absent_config_disables_cors() {
        let config = ConfigReader::from_value(json!({ "backend": {} }));
        assert!(Cors::from_config(&config).expect("valid").is_none());
    }

    #[test]
    fn origin_patterns_allow_and_deny() {
        let cors = cors(json!({ "origin": ["http://localhost:3000", "https://*.example.com"] }));
        assert!(matches!(
            cors.check(&request(Some("http://localhost:3000"))),
            Some(AllowOrigin::Reflect(v)) if v == "http://localhost:3000"
        ));
        assert!(
            cors.check(&request(Some("HTTPS://App.Example.com")))
                .is_some()
        );
        assert!(cors.check(&request(Some("https://evil.com"))).is_none());
        assert!(
            cors.check(&request(Some("https://a.b/.example.com")))
                .is_none()
        );
        assert!(cors.check(&request(None)).is_none());

        let single = super::tests::cors(json!({ "origin": "http://localhost:3000" }));
        assert!(
            single
                .check(&request(Some("http://localhost:3000")))
                .is_some()
        );
        assert!(
            single
                .check(&request(Some("http://localhost:3001")))
                .is_none()
        );
    }

    #[test]
    fn no_origin_key_allows_any() {
        let cors = cors(json!({ "credentials": true }));
        let origin = cors.check(&request(None)).expect("allowed");
        let mut response = HeaderMap::new();
        cors.apply(&origin, false, &request(None), &mut response);
        assert_eq!(response["access-control-allow-origin"], "*");
        assert_eq!(response["access-control-allow-credentials"], "true");
        assert!(!response.contains_key("vary"));
    }

    #[test]
    fn preflight_headers() {
        let cors = cors(json!({
            "origin": "http://localhost:3000",
            "methods": ["GET", "POST"],
            "credentials": true,
            "maxAge": 600,
            "exposedHeaders": "x-total",
        }));
        let mut req = request(Some("http://localhost:3000"));
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("authorization,content-type"),
        );
        let origin = cors.check(&req).expect("allowed");
        assert!(cors.ends_preflight());
        let response = cors.preflight_response(&origin, &req);
        assert_eq!(response.status(), 204);
        let h = response.headers();
        assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
        assert_eq!(h["vary"], "Origin, Access-Control-Request-Headers");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-methods"], "GET,POST");
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization,content-type"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["access-control-expose-headers"], "x-total");
        assert_eq!(h["content-length"], "0");
    }

    #[test]
    fn defaults_and_configured_allowed_headers() {
        let cors = cors(json!({
            "origin": ["http://a.com"],
            "allowedHeaders": ["x-a", "x-b"],
            "optionsSuccessStatus": 200,
            "preflightContinue": false,
        }));
        let req = request(Some("http://a.com"));
        let origin = cors.check(&req).expect("allowed");
        let response = cors.preflight_response(&origin, &req);
        assert_eq!(response.status(), 200);
        let h = response.headers();
        assert_eq!(h["access-control-allow-methods"], DEFAULT_METHODS);
        assert_eq!(h["access-control-allow-headers"], "x-a,x-b");
        assert_eq!(h["vary"], "Origin");
        assert!(!h.contains_key("access-control-max-age"));
    }

    #[test]
    fn actual_requests_get_origin_and_exposed_headers_only() {
        let cors =
            cors(json!({ "origin": "http://a.com", "exposedHeaders": ["x-a"], "maxAge": 5 }));
        let req = request(Some("http://a.com"));
        let origin = cors.check(&req).expect("allowed");
        let mut response = HeaderMap::new();
        response.insert(header::VARY, HeaderValue::from_static("Accept"));
        cors.apply(&origin, false, &req, &mut response);
        assert_eq!(response["vary"], "Accept, Origin");
        assert_eq!(response["access-control-expose-headers"], "x-a");
        assert!(!response.contains_key("access-control-allow-methods"));
        assert!(!response.contains_key("access-control-max-age"));
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = |config: Value| {
            Cors::from_config(&ConfigReader::from_value(
                json!({ "backend": { "cors": config } }),
            ))
            .expect_err("invalid")
            .to_string()
        };
        assert_eq!(
            err(json!({ "origin": 3 })),
            "Invalid type in config for key 'backend.cors.origin' in 'mock-config', got number, wanted string-array"
        );
        assert_eq!(
            err(json!({ "optionsSuccessStatus": 1000 })),
            "Invalid config at 'backend.cors.optionsSuccessStatus', 1000 is not an HTTP status code"
        );
        assert_eq!(
            err(json!({ "credentials": "maybe" })),
            "Unable to convert config value for key 'backend.cors.credentials' in 'mock-config' to a boolean"
        );
    }
}
