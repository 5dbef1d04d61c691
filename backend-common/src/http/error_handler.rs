//! The error handler step of the root and plugin chains (spec §5.4): completes the body of
//! [`ApiError`](crate::errors::ApiError) responses with the request and logs server errors.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::Response;
use serde_json::Value;

use super::util::JSON_UTF8;
use crate::errors::ErrorResponseBody;

/// If `response` came from an [`ApiError`](crate::errors::ApiError), fills in
/// `request.method` and `request.url` (path and query of `uri`, the URL as this chain sees it) and logs
/// `Request failed with status <status>` at `error` level for statuses ≥ 500. Other responses
/// pass through unchanged.
pub(crate) fn complete_error(
    response: Response,
    method: &Method,
    uri: &Uri,
    service: Option<&'static str>,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let Some(mut error_body) = parts.extensions.remove::<ErrorResponseBody>() else {
        return Response::from_parts(parts, body);
    };
    let status = parts.status.as_u16();
    if status >= 500 {
        let field = |name: &str| {
            error_body
                .error
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        tracing::error!(
            service,
            r#type = "errorHandler",
            name = field("name"),
            error = field("message"),
            "Request failed with status {status}"
        );
    }
    error_body.request.method = method.as_str().to_owned();
    error_body.request.url = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    match serde_json::to_vec(&error_body) {
        Ok(bytes) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
            Response::from_parts(parts, Body::from(bytes))
        }
        // Serialising `serde_json` values cannot fail; keep the original body if it did.
        Err(_) => Response::from_parts(parts, body),
    }
}
