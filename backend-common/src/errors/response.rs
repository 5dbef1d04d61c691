//! axum integration: [`ApiError`] as a response, and the middleware that completes its body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ErrorResponseBody};

/// The content type of error bodies, as Express sends it.
const JSON_UTF8: &str = "application/json; charset=utf-8";

impl IntoResponse for ApiError {
    /// The status of [`ApiError::status`] and the JSON body of [`ErrorResponseBody`], with
    /// content type `application/json; charset=utf-8`; a 304 has no body.
    ///
    /// A response cannot see its request, so `request.method` and `request.url` are empty here;
    /// [`error_body_middleware`] fills them in. The body is also stored as an
    /// [`ErrorResponseBody`] response extension for that purpose.
    ///
    /// Backstage logs errors with status ≥ 500; there is no logger in this crate yet, so
    /// nothing is logged.
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        let body = ErrorResponseBody::from_error(&self, false);
        let mut response = json_response(status, &body);
        response.extensions_mut().insert(body);
        response
    }
}

fn json_response(status: StatusCode, body: &ErrorResponseBody) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
            response
        }
        // Serialising a `serde_json::Value` tree with string keys cannot fail.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Middleware (for [`axum::middleware::from_fn`]) that puts the request's method and URL into
/// the body of error responses produced by [`ApiError`], completing Backstage's error body.
///
/// The URL is the request's path and query as this middleware sees it, so add the layer to the
/// plugin's own router to get the URL relative to the plugin, like Express's `req.url`.
/// Responses not produced by an [`ApiError`] pass through unchanged.
///
/// ```
/// use axum::{Router, middleware, routing::get};
/// use backstage_backend_common::errors::{ApiError, error_body_middleware};
///
/// async fn handler() -> Result<String, ApiError> {
///     Err(ApiError::not_found("no such entity"))
/// }
///
/// let router: Router = Router::new()
///     .route("/entities", get(handler))
///     .layer(middleware::from_fn(error_body_middleware));
/// ```
pub async fn error_body_middleware(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let response = next.run(req).await;
    let (mut parts, body) = response.into_parts();
    let Some(mut error_body) = parts.extensions.remove::<ErrorResponseBody>() else {
        return Response::from_parts(parts, body);
    };
    error_body.request.method = method;
    error_body.request.url = url;
    let rebuilt = json_response(parts.status, &error_body);
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(content_type) = rebuilt.headers().get(header::CONTENT_TYPE) {
        parts
            .headers
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    Response::from_parts(parts, rebuilt.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    async fn not_found() -> Result<String, ApiError> {
        Err(ApiError::not_found("no such entity"))
    }

    async fn not_modified() -> Result<String, ApiError> {
        Err(ApiError::not_modified("unchanged"))
    }

    async fn ok() -> Result<String, ApiError> {
        Ok("fine".to_owned())
    }

    fn router() -> Router {
        Router::new()
            .route("/entities/{name}", get(not_found))
            .route("/cached", get(not_modified))
            .route("/ok", get(ok))
            .layer(axum::middleware::from_fn(error_body_middleware))
    }

    async fn call(uri: &str) -> (StatusCode, Option<String>, Vec<u8>) {
        let request = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("valid request");
        let response = router().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, content_type, bytes.to_vec())
    }

    #[tokio::test]
    async fn error_body_has_request_method_and_url() {
        let (status, content_type, body) = call("/entities/foo?filter=kind%3Dapi").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type.as_deref(), Some(JSON_UTF8));
        let body: Value = serde_json::from_slice(&body).expect("JSON body");
        assert_eq!(
            body,
            json!({
                "error": { "name": "NotFoundError", "message": "no such entity" },
                "request": { "method": "GET", "url": "/entities/foo?filter=kind%3Dapi" },
                "response": { "statusCode": 404 },
            })
        );
    }

    #[tokio::test]
    async fn not_modified_has_no_body() {
        let (status, content_type, body) = call("/cached").await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(content_type, None);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn other_responses_pass_through() {
        let (status, _, body) = call("/ok").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"fine");
    }

    #[tokio::test]
    async fn without_middleware_request_is_empty() {
        let response = ApiError::internal("teapot")
            .with_status(418)
            .into_response();
        assert_eq!(response.status().as_u16(), 418);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON body");
        assert_eq!(
            body,
            json!({
                "error": { "name": "Error", "message": "teapot", "statusCode": 418 },
                "request": { "method": "", "url": "" },
                "response": { "statusCode": 418 },
            })
        );
    }
}
