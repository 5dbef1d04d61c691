//! Backstage's HTTP error kinds, their statuses and the JSON error body (`@backstage/errors`
//! and the error handler of `@backstage/backend-defaults`).
//!
//! A plugin's handler returns [`ApiError`] with `?`. It becomes a response with the status
//! Backstage would choose ([`ApiError::status`]) and Backstage's body:
//!
//! ```json
//! { "error": { "name": "NotFoundError", "message": "no such entity" },
//!   "request": { "method": "GET", "url": "/entities/by-name/component/default/x" },
//!   "response": { "statusCode": 404 } }
//! ```
//!
//! `request` is filled in by [`error_body_middleware`]; add it to the router with
//! [`axum::middleware::from_fn`]. A `NotModifiedError` (304) is sent without a body.
//!
//! ```
//! use axum::{Json, Router, middleware, response::IntoResponse, routing::get};
//! use backstage_backend_common::errors::{ApiError, error_body_middleware};
//! use serde::Serialize;
//!
//! #[derive(Serialize)]
//! struct Entity {
//!     name: String,
//! }
//!
//! async fn get_entity(name: String) -> Result<Json<Entity>, ApiError> {
//!     if name.is_empty() {
//!         return Err(ApiError::input("name must not be empty"));
//!     }
//!     let found = lookup(&name).ok_or_else(|| ApiError::not_found("no such entity"))?;
//!     Ok(Json(found))
//! }
//!
//! fn lookup(name: &str) -> Option<Entity> {
//!     (name == "petstore").then(|| Entity { name: name.to_owned() })
//! }
//!
//! let _router: Router = Router::new()
//!     .route("/entities/{name}", get(|axum::extract::Path(name)| get_entity(name)))
//!     .layer(middleware::from_fn(error_body_middleware));
//!
//! let response = ApiError::not_found("no such entity").into_response();
//! assert_eq!(response.status(), 404);
//! assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
//! ```
//!
//! ## Differences from Backstage
//!
//! * No stack traces: [`serialize_error`] never emits `stack`.
//! * Nothing is logged for statuses ≥ 500 yet (this crate has no logger).
//! * The internal-error filter (replacing database driver errors with
//!   `An internal error occurred logId=…`) is not implemented; don't put driver errors in a
//!   message that should not reach clients.
//! * `deserializeError`, `ResponseError` and `parseErrorResponseBody` (client side) are not
//!   ported; [`ErrorResponseBody`] does deserialise.

mod api_error;
mod kind;
mod response;
mod serialize;

pub use api_error::{ApiError, BoxError};
pub use kind::ErrorKind;
pub use response::error_body_middleware;
pub use serialize::{ErrorRequest, ErrorResponse, ErrorResponseBody, serialize_error};
