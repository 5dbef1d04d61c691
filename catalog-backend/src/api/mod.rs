//! The REST API under `/api/catalog` (spec section 3).

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::config::CatalogConfig;
use crate::index::EntityIndex;
use crate::processing::Orchestrator;
use crate::storage::CatalogStore;

mod admin;
pub(crate) mod body;
mod entities;
pub(crate) mod locations;
mod openapi;
mod validate;

/// Everything the handlers need; the router's state.
#[derive(Debug, Clone)]
pub struct CatalogContext {
    /// The read model.
    pub index: Arc<EntityIndex>,
    /// The tables.
    pub store: Arc<CatalogStore>,
    /// The processing pipeline (dry runs, validate-entity).
    pub orchestrator: Arc<Orchestrator>,
    /// The `catalog` config.
    pub config: Arc<CatalogConfig>,
}

impl CatalogContext {
    /// A context with the default config.
    pub fn new(
        index: Arc<EntityIndex>,
        store: Arc<CatalogStore>,
        orchestrator: Arc<Orchestrator>,
    ) -> Self {
        Self {
            index,
            store,
            orchestrator,
            config: Arc::new(CatalogConfig::default()),
        }
    }
}

/// The catalog's router, to be mounted at `/api/catalog`.
pub fn router(context: CatalogContext) -> axum::Router {
    axum::Router::new()
        .merge(entities::routes())
        .merge(validate::routes())
        .merge(admin::routes())
        .merge(locations::routes())
        .route(openapi::ROUTE, axum::routing::get(openapi::openapi))
        .with_state(Arc::new(context))
}

/// A JSON response with Express' content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        bytes,
    )
        .into_response()
}
