//! Health answers (spec §3.6): [`HealthCheck`], the default [`HealthState`] machine and the
//! root router's health endpoints with `backend.health.headers`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::util::{json_response, route_matches};
use crate::config::ConfigReader;
use crate::{Error, Result};

/// The liveness endpoint.
pub(crate) const LIVENESS_PATH: &str = "/.backstage/health/v1/liveness";
/// The readiness endpoint.
pub(crate) const READINESS_PATH: &str = "/.backstage/health/v1/readiness";
/// Where the extra health response headers are configured.
const HEADERS_KEY: &str = "backend.health.headers";

/// Response of a health probe: the HTTP status and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthResponse {
    /// The HTTP status (an invalid status answers 500).
    pub status: u16,
    /// The JSON body.
    pub payload: Value,
}

impl HealthResponse {
    /// `200 {"status":"ok"}`.
    #[must_use]
    pub fn ok() -> Self {
        Self {
            status: 200,
            payload: json!({ "status": "ok" }),
        }
    }

    /// `503 {"message":<message>,"status":"error"}`.
    #[must_use]
    pub fn unavailable(message: &str) -> Self {
        Self {
            status: 503,
            payload: json!({ "message": message, "status": "error" }),
        }
    }
}

/// Source of health answers (the root health service implements this via an adapter).
pub trait HealthCheck: Send + Sync + 'static {
    /// The answer of `GET /.backstage/health/v1/liveness`.
    fn liveness(&self) -> HealthResponse;
    /// The answer of `GET /.backstage/health/v1/readiness`.
    fn readiness(&self) -> HealthResponse;
}

const INIT: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// Backstage's default state machine `init` → `up` → `down` (spec §3.6).
///
/// Liveness is always `200 {"status":"ok"}`. Readiness is `503` with
/// `Backend has not started yet` until [`set_up`](Self::set_up) (the root startup hook),
/// `200 {"status":"ok"}` while up, and `503` with `Backend is shutting down` after
/// [`set_down`](Self::set_down) (the root before-shutdown hook). Clones share the state.
///
/// ```
/// use backstage_backend_common::http::{HealthCheck, HealthState};
///
/// let health = HealthState::new();
/// assert_eq!(health.readiness().status, 503);
/// health.set_up();
/// assert_eq!(health.readiness().status, 200);
/// health.set_down();
/// assert_eq!(health.readiness().payload["message"], "Backend is shutting down");
/// assert_eq!(health.liveness().status, 200);
/// ```
#[derive(Debug, Clone, Default)]
pub struct HealthState {
    state: Arc<AtomicU8>,
}

impl HealthState {
    /// A state machine in `init`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `init` → `up`; no effect once down.
    pub fn set_up(&self) {
        let _ = self
            .state
            .compare_exchange(INIT, UP, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Any state → `down`.
    pub fn set_down(&self) {
        self.state.store(DOWN, Ordering::Release);
    }
}

impl HealthCheck for HealthState {
    fn liveness(&self) -> HealthResponse {
        HealthResponse::ok()
    }

    fn readiness(&self) -> HealthResponse {
        match self.state.load(Ordering::Acquire) {
            UP => HealthResponse::ok(),
            DOWN => HealthResponse::unavailable("Backend is shutting down"),
            _ => HealthResponse::unavailable("Backend has not started yet"),
        }
    }
}

/// The health endpoints of the root router.
#[derive(Clone)]
pub(crate) struct HealthRoutes {
    check: Arc<dyn HealthCheck>,
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl HealthRoutes {
    /// Reads `backend.health.headers` as Backstage's `createHealthRouter` does.
    pub(crate) fn new(config: &ConfigReader, check: Arc<dyn HealthCheck>) -> Result<Self> {
        Ok(Self {
            check,
            headers: read_headers(config)?.into(),
        })
    }

    /// The response for `method` and `path`, if they are a health endpoint (`GET` or `HEAD`,
    /// matched like an Express route).
    pub(crate) fn respond(&self, method: &Method, path: &str) -> Option<Response> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let answer = if route_matches(path, READINESS_PATH) {
            self.check.readiness()
        } else if route_matches(path, LIVENESS_PATH) {
            self.check.liveness()
        } else {
            return None;
        };
        let status =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, &answer.payload);
        for (name, value) in self.headers.iter() {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        Some(response)
    }
}

fn read_headers(config: &ConfigReader) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let Some(headers) = config.optional_config(HEADERS_KEY)? else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = headers.value() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let key = format!("{HEADERS_KEY}.{name}");
        if name.is_empty() {
            return Err(Error::InvalidHealthHeader { key, part: "name" });
        }
        let value = match value {
            Value::String(value) if !value.is_empty() => value,
            _ => return Err(Error::InvalidHealthHeader { key, part: "value" }),
        };
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::InvalidHttpConfig {
                key: key.clone(),
                message: format!("header name must be a valid HTTP token [\"{name}\"]"),
            })?;
        // Express computes the length of the JSON body itself.
        if header_name == header::CONTENT_LENGTH {
            continue;
        }
        let header_value = HeaderValue::from_str(&value).map_err(|_| Error::InvalidHttpConfig {
            key: key.clone(),
            message: format!("invalid header value for \"{name}\""),
        })?;
        out.push((header_name, header_value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    fn routes(config: Value, state: &HealthState) -> HealthRoutes {
        HealthRoutes::new(&ConfigReader::from_value(config), Arc::new(state.clone()))
            .expect("valid config")
    }

    #[tokio::test]
    async fn bodies_and_statuses_in_each_state() {
        let state = HealthState::new();
        let routes = routes(json!({}), &state);
        let get = |path: &str| routes.respond(&Method::GET, path).expect("health path");

        let live = get(LIVENESS_PATH);
        assert_eq!(live.status(), 200);
        assert_eq!(
            live.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(body(live).await.to_string(), r#"{"status":"ok"}"#);

        let ready = get(READINESS_PATH);
        assert_eq!(ready.status(), 503);
        assert_eq!(
            body(ready).await.to_string(),
            r#"{"message":"Backend has not started yet","status":"error"}"#
        );

        state.set_up();
        let ready = get(READINESS_PATH);
        assert_eq!(ready.status(), 200);
        assert_eq!(body(ready).await.to_string(), r#"{"status":"ok"}"#);

        state.set_down();
        let ready = get(READINESS_PATH);
        assert_eq!(ready.status(), 503);
        assert_eq!(
            body(ready).await.to_string(),
            r#"{"message":"Backend is shutting down","status":"error"}"#
        );
        // Down is final.
        state.set_up();
        assert_eq!(get(READINESS_PATH).status(), 503);
        assert_eq!(get(LIVENESS_PATH).status(), 200);
    }

    #[test]
    fn only_get_and_head_on_the_two_paths() {
        let routes = routes(json!({}), &HealthState::new());
        assert!(routes.respond(&Method::HEAD, LIVENESS_PATH).is_some());
        assert!(routes.respond(&Method::POST, LIVENESS_PATH).is_none());
        assert!(
            routes
                .respond(&Method::GET, "/.backstage/health/v1")
                .is_none()
        );
        assert!(
            routes
                .respond(&Method::GET, "/.backstage/health/v1/liveness/")
                .is_some()
        );
    }

    #[test]
    fn extra_headers_on_both_endpoints() {
        let state = HealthState::new();
        let routes = routes(
            json!({ "backend": { "health": { "headers": {
                "x-probe": "yes", "Cache-Control": "no-store"
            } } } }),
            &state,
        );
        for path in [LIVENESS_PATH, READINESS_PATH] {
            let response = routes.respond(&Method::GET, path).expect("health path");
            assert_eq!(response.headers()["x-probe"], "yes");
            assert_eq!(response.headers()["cache-control"], "no-store");
        }
    }

    #[test]
    fn bad_headers_fail_with_backstage_messages() {
        let err = |config: Value| {
            HealthRoutes::new(
                &ConfigReader::from_value(config),
                Arc::new(HealthState::new()),
            )
            .err()
            .expect("invalid config")
            .to_string()
        };
        assert_eq!(
            err(json!({ "backend": { "health": { "headers": { "x-a": "" } } } })),
            "Invalid header value in at backend.health.headers, must be a non-empty string"
        );
        assert_eq!(
            err(json!({ "backend": { "health": { "headers": { "x-a": 3 } } } })),
            "Invalid header value in at backend.health.headers, must be a non-empty string"
        );
        assert_eq!(
            err(json!({ "backend": { "health": { "headers": { "": "x" } } } })),
            "Invalid header name in at backend.health.headers, must be a non-empty string"
        );
        assert_eq!(
            err(json!({ "backend": { "health": { "headers": { "a b": "x" } } } })),
            "Invalid config at 'backend.health.headers.a b', header name must be a valid HTTP token [\"a b\"]"
        );
        assert_eq!(
            err(json!({ "backend": { "health": { "headers": "x" } } })),
            "Invalid type in config for key 'backend.health.headers' in 'mock-config', got string, wanted object"
        );
    }
}
