use serde_json::Value;

use super::EntityPolicy;
use crate::entity_ref::{RefContext, is_falsy, parse_entity_ref, stringify_entity_ref_value};
use crate::error::{Error, Result};

/// Gives every `Group` without a `spec.parent` the configured parent, except the parent
/// group itself. Not installed by default.
#[derive(Debug, Clone)]
pub struct GroupDefaultParentEntityPolicy {
    parent_ref: String,
}

impl GroupDefaultParentEntityPolicy {
    /// Parses the parent ref (default kind `Group`, namespace `default`).
    ///
    /// # Errors
    /// [`Error::InvalidEntityRef`] for a malformed ref; [`Error::InvalidPolicy`]
    /// (`group parent must be a group`) when the ref names another kind.
    pub fn new(parent_entity_ref: &str) -> Result<Self> {
        let parsed = parse_entity_ref(parent_entity_ref, &RefContext::with_kind("Group"))?;
        if parsed.kind.to_uppercase() != "GROUP" {
            return Err(Error::InvalidPolicy {
                message: "group parent must be a group".into(),
            });
        }
        Ok(Self {
            parent_ref: parsed.to_string(),
        })
    }

    /// The canonical parent ref.
    pub fn parent_ref(&self) -> &str {
        &self.parent_ref
    }
}

impl EntityPolicy for GroupDefaultParentEntityPolicy {
    fn enforce(&self, mut entity: Value) -> Result<Option<Value>> {
        if entity.get("kind").and_then(Value::as_str) != Some("Group") {
            return Ok(Some(entity));
        }
        // Same order of checks as Backstage: `spec.parent` first, then the group's own ref.
        // Where JavaScript throws a TypeError (no spec, no usable name) we return an error.
        let has_parent = match entity.get("spec") {
            Some(Value::Object(spec)) => spec.get("parent").is_some_and(|p| !is_falsy(p)),
            _ => {
                return Err(Error::invalid_entity(
                    "Group entity has no spec object",
                    Some("/spec".into()),
                ));
            }
        };
        if has_parent {
            return Ok(Some(entity));
        }
        let own_ref = match entity.pointer("/metadata/name") {
            Some(Value::String(_)) => stringify_entity_ref_value(&entity)?,
            _ => {
                return Err(Error::invalid_entity(
                    "Group entity has no metadata.name string",
                    Some("/metadata/name".into()),
                ));
            }
        };
        if own_ref != self.parent_ref
            && let Some(spec) = entity.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert("parent".into(), Value::String(self.parent_ref.clone()));
        }
        Ok(Some(entity))
    }
}
