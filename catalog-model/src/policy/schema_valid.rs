use serde_json::Value;

use super::{EntityPolicy, Problem};
use crate::error::{Error, Result};
use crate::schema::entity_schema;

/// Validates the whole document against the full entity schema, stopping at the first error:
/// `Malformed envelope, <path> <message>`. Checks types and non-emptiness, not formats.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaValidEntityPolicy;

impl SchemaValidEntityPolicy {
    /// The policy.
    pub fn new() -> Self {
        Self
    }
}

impl EntityPolicy for SchemaValidEntityPolicy {
    fn enforce(&self, entity: Value) -> Result<Option<Value>> {
        match entity_schema().first_error(&entity) {
            None => Ok(Some(entity)),
            Some(e) => Err(Error::invalid_entity(
                format!("Malformed envelope, {}", e.short()),
                Some(e.path().to_owned()),
            )),
        }
    }

    fn problems(&self, entity: &Value) -> Vec<Problem> {
        entity_schema()
            .errors(entity)
            .into_iter()
            .map(|e| Problem::new(e.path(), format!("Malformed envelope, {}", e.short())))
            .collect()
    }
}
