//! Request-body checks shared by the handlers that require a JSON object (spec 1.2:
//! Backstage's `requireRequestBody`).

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use backstage_core_plugin_api::ApiError;
use serde_json::{Map, Value};

/// Largest accepted body, as Express' `json()` default (100 kB).
pub(crate) const BODY_LIMIT: usize = 100 * 1024;

/// The body as a non-empty JSON object, with Backstage's messages for everything else.
pub(crate) fn require_json_object(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, ApiError> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::input("Content-Type missing"));
    };
    let content_type = content_type.to_str().unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(ApiError::input("Illegal Content-Type"));
    }
    if body.len() > BODY_LIMIT {
        return Err(ApiError::input("request entity too large").with_status(413));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::input("Missing request body"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::input(format!("Malformed JSON in request body: {e}")))?;
    match value {
        Value::Object(map) if map.is_empty() => Err(ApiError::input("Empty request body")),
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::input("Expected body to be a JSON object")),
    }
}

/// The body parsed as JSON (any value) when there is one, for endpoints without
/// `requireRequestBody`; malformed JSON is a 400.
pub(crate) fn optional_json(body: &Bytes) -> Result<Option<Value>, ApiError> {
    if body.len() > BODY_LIMIT {
        return Err(ApiError::input("request entity too large").with_status(413));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::input(format!("Malformed JSON in request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h
    }

    #[test]
    fn messages_match_backstage() {
        let cases = [
            (None, "{\"a\":1}", "Content-Type missing"),
            (Some("text/plain"), "{\"a\":1}", "Illegal Content-Type"),
            (Some("application/json"), "", "Missing request body"),
            (
                Some("application/json"),
                "[1]",
                "Expected body to be a JSON object",
            ),
            (Some("application/json"), "{}", "Empty request body"),
        ];
        for (ct, body, message) in cases {
            let err = require_json_object(&headers(ct), &Bytes::from(body)).unwrap_err();
            assert_eq!(err.message(), message, "{ct:?} {body}");
            assert_eq!(err.status(), 400);
        }
        let ok = require_json_object(
            &headers(Some("application/json; charset=utf-8")),
            &Bytes::from("{\"a\":1}"),
        )
        .unwrap();
        assert_eq!(ok["a"], 1);
        let err =
            require_json_object(&headers(Some("application/json")), &Bytes::from("{")).unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
