//! Read endpoints: entities, by-query, by-refs, by-uid, by-name, facets.

use std::sync::Arc;

use axum::Router;

use super::CatalogContext;

pub(crate) fn routes() -> Router<Arc<CatalogContext>> {
    Router::new()
}
