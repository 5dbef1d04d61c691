//! The REST API under `/api/catalog` (spec section 3).

use std::sync::Arc;

use crate::index::EntityIndex;
use crate::processing::Orchestrator;
use crate::storage::CatalogStore;

mod entities;

/// Everything the handlers need; the router's state.
#[derive(Debug, Clone)]
pub struct CatalogContext {
    /// The read model.
    pub index: Arc<EntityIndex>,
    /// The tables.
    pub store: Arc<CatalogStore>,
    /// The processing pipeline (dry runs, validate-entity).
    pub orchestrator: Arc<Orchestrator>,
}

/// The catalog's router, to be mounted at `/api/catalog`.
pub fn router(context: CatalogContext) -> axum::Router {
    axum::Router::new()
        .merge(entities::routes())
        .with_state(Arc::new(context))
}
