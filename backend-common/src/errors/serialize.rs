//! `serializeError` and the JSON error response body.

use std::error::Error as StdError;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiError;

/// Field names an extra field can't use: they are written by [`serialize_error`] itself.
const RESERVED: [&str; 4] = ["name", "message", "stack", "cause"];

/// Backstage's `serializeError`: the error as plain JSON, with `name`, `message`, the extra
/// fields (in insertion order) and the cause, serialised the same way, under `cause`.
///
/// A cause that is not an [`ApiError`] is serialised as `{"name": "Error", "message":
/// <its Display>}`, followed by its own [`source`](StdError::source) as `cause`.
///
/// `stack` is never emitted: Rust errors carry no stack trace, so `include_stack` (Backstage's
/// `includeStack`, true in development) has no effect today; it is kept so that callers already
/// pass the right value if backtraces are added.
///
/// ```
/// use backstage_backend_common::errors::{ApiError, serialize_error};
/// use serde_json::json;
///
/// let err = ApiError::internal("teapot").with_status(418);
/// assert_eq!(
///     serialize_error(&err, false),
///     json!({ "name": "Error", "message": "teapot", "statusCode": 418 })
/// );
/// ```
pub fn serialize_error(err: &ApiError, include_stack: bool) -> Value {
    let _ = include_stack;
    let mut out = Map::new();
    out.insert("name".to_owned(), Value::from(err.name()));
    out.insert("message".to_owned(), Value::from(err.message()));
    for (key, value) in err.fields() {
        if !RESERVED.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    if let Some(cause) = err.cause() {
        out.insert("cause".to_owned(), serialize_cause(cause));
    }
    Value::Object(out)
}

fn serialize_cause(cause: &(dyn StdError + 'static)) -> Value {
    if let Some(api) = cause.downcast_ref::<ApiError>() {
        return serialize_error(api, false);
    }
    let mut out = Map::new();
    out.insert("name".to_owned(), Value::from("Error"));
    out.insert("message".to_owned(), Value::from(cause.to_string()));
    if let Some(source) = cause.source() {
        out.insert("cause".to_owned(), serialize_cause(source));
    }
    Value::Object(out)
}

/// The JSON body of a Backstage error response:
/// `{ "error": …, "request": { "method", "url" }, "response": { "statusCode" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponseBody {
    /// The serialised error ([`serialize_error`]).
    pub error: Value,
    /// The request that failed.
    pub request: ErrorRequest,
    /// The response status.
    pub response: ErrorResponse,
}

/// The `request` part of an [`ErrorResponseBody`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRequest {
    /// The HTTP method, such as `GET`.
    pub method: String,
    /// The URL as the handler saw it: path and query (relative to where the router is mounted
    /// in Backstage).
    pub url: String,
}

/// The `response` part of an [`ErrorResponseBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The HTTP status code of the response.
    #[serde(rename = "statusCode")]
    pub status_code: u16,
}

impl ErrorResponseBody {
    /// The body for `err` with [`ApiError::status`] and an empty request (method and URL are
    /// filled in by [`error_body_middleware`](super::error_body_middleware)).
    pub fn from_error(err: &ApiError, include_stack: bool) -> Self {
        Self {
            error: serialize_error(err, include_stack),
            request: ErrorRequest::default(),
            response: ErrorResponse {
                status_code: err.status(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_fields_and_nested_causes() {
        let inner = ApiError::not_found("no row").with_field("code", "E_ROW");
        let err = ApiError::forwarded("loading", inner).with_field("name", "ignored");
        assert_eq!(
            serialize_error(&err, true),
            json!({
                "name": "NotFoundError",
                "message": "loading; caused by NotFoundError: no row",
                "cause": { "name": "NotFoundError", "message": "no row", "code": "E_ROW" },
            })
        );
    }

    #[test]
    fn foreign_cause_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("outer")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let err = ApiError::internal("").with_cause(Outer(std::io::Error::other("inner")));
        assert_eq!(
            serialize_error(&err, false),
            json!({
                "name": "Error",
                "message": "caused by Error: outer",
                "cause": {
                    "name": "Error",
                    "message": "outer",
                    "cause": { "name": "Error", "message": "inner" },
                },
            })
        );
    }

    #[test]
    fn body_wire_names() {
        let body = ErrorResponseBody {
            request: ErrorRequest {
                method: "GET".into(),
                url: "/x".into(),
            },
            ..ErrorResponseBody::from_error(&ApiError::conflict("taken"), false)
        };
        let wire = serde_json::to_value(&body).expect("serialises");
        assert_eq!(
            wire,
            json!({
                "error": { "name": "ConflictError", "message": "taken" },
                "request": { "method": "GET", "url": "/x" },
                "response": { "statusCode": 409 },
            })
        );
        let back: ErrorResponseBody = serde_json::from_value(wire).expect("deserialises");
        assert_eq!(back, body);
    }
}
