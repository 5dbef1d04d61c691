//! The in-memory read model every replica keeps of the final entities.

use std::sync::Arc;

use crate::model::FinalEntityChange;

/// A final entity as the index holds it.
#[derive(Debug)]
pub struct IndexedEntity {
    /// `metadata.uid`.
    pub uid: String,
    /// Canonical ref.
    pub entity_ref: String,
    /// The stored JSON text, served verbatim when no projection is asked for.
    pub json: bytes::Bytes,
}

/// The index of final entities.
#[derive(Debug, Default)]
pub struct EntityIndex {}

impl EntityIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies changes from the feed, in order.
    pub fn apply(&self, changes: &[FinalEntityChange]) {
        let _ = changes;
    }

    /// The entity with this canonical ref.
    pub fn get_by_ref(&self, entity_ref: &str) -> Option<Arc<IndexedEntity>> {
        let _ = entity_ref;
        None
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        0
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
