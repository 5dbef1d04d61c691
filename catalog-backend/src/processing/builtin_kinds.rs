//! `BuiltinKindsEntityProcessor`: validates the built-in kinds and emits their relations
//! (spec 4.5, 4.7).

use std::sync::Arc;

use async_trait::async_trait;
use backstage_catalog_model::kinds::{KindValidator, builtin_kind_validators};
use backstage_catalog_model::relations::{emit_relations, sort_relation_fields};
use serde_json::Value;

use super::error::{ProcessorError, ProcessorResult};
use super::processor::{CatalogProcessor, ProcessorContext};
use crate::model::RelationRow;

/// Sorts the relation arrays (pre), validates the built-in kinds with catalog-model's kind
/// validators (validate) and emits the relation pairs of spec 4.7 (post).
///
/// Kind validation trusts the entity envelope, which the orchestrator's policy step has
/// checked just before.
#[derive(Debug, Clone)]
pub struct BuiltinKindsEntityProcessor {
    validators: Vec<Arc<dyn KindValidator>>,
}

impl Default for BuiltinKindsEntityProcessor {
    fn default() -> Self {
        Self {
            validators: builtin_kind_validators(),
        }
    }
}

impl BuiltinKindsEntityProcessor {
    /// The processor with catalog-model's built-in kind validators.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a kind validator (e.g. the scaffolder's `Template`).
    #[must_use]
    pub fn with_kind_validator(mut self, validator: Arc<dyn KindValidator>) -> Self {
        self.validators.push(validator);
        self
    }
}

#[async_trait]
impl CatalogProcessor for BuiltinKindsEntityProcessor {
    fn name(&self) -> &str {
        "BuiltinKindsEntityProcessor"
    }

    async fn pre_process_entity(
        &self,
        mut entity: Value,
        _ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        sort_relation_fields(&mut entity);
        Ok(entity)
    }

    async fn validate_entity_kind(&self, entity: &Value) -> ProcessorResult<bool> {
        for validator in &self.validators {
            match validator.check_with_valid_envelope(entity) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => return Err(ProcessorError::type_error(e.to_string())),
            }
        }
        Ok(false)
    }

    async fn post_process_entity(
        &self,
        entity: Value,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        let relations =
            emit_relations(&entity).map_err(|e| ProcessorError::type_error(e.to_string()))?;
        let emit = ctx.emit();
        emit.relations.reserve(relations.len());
        for relation in relations {
            emit.relation(RelationRow {
                source_ref: relation.source.to_string(),
                relation_type: relation.relation_type.to_owned(),
                target_ref: relation.target.to_string(),
            });
        }
        Ok(entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LocationSpec;
    use crate::processing::processor::{Emitter, ProcessorCache};
    use serde_json::json;

    #[tokio::test]
    async fn validates_kinds_and_emits_relation_pairs() {
        let p = BuiltinKindsEntityProcessor::new();
        let entity = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "Me", "namespace": "NS"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "Team-A", "providesApis": ["z", "a"]}});
        let location = LocationSpec::new("url", "x");
        let mut emitter = Emitter::new("component:ns/me", "url:x", "url:x");
        let mut cache = ProcessorCache::default();
        let mut ctx = ProcessorContext::new(&location, &location, &mut emitter, &mut cache);
        let entity = p.pre_process_entity(entity, &mut ctx).await.unwrap();
        assert_eq!(entity["spec"]["providesApis"], json!(["a", "z"]));
        assert!(p.validate_entity_kind(&entity).await.unwrap());
        p.post_process_entity(entity, &mut ctx).await.unwrap();
        let lines: Vec<String> = emitter
            .relations()
            .iter()
            .map(|r| format!("{} {} {}", r.source_ref, r.relation_type, r.target_ref))
            .collect();
        assert_eq!(
            lines,
            [
                "component:ns/me ownedBy group:ns/team-a",
                "group:ns/team-a ownerOf component:ns/me",
                "component:ns/me providesApi api:ns/a",
                "api:ns/a apiProvidedBy component:ns/me",
                "component:ns/me providesApi api:ns/z",
                "api:ns/z apiProvidedBy component:ns/me",
            ]
        );
    }

    #[tokio::test]
    async fn foreign_kinds_are_not_recognised_and_invalid_ones_fail() {
        let p = BuiltinKindsEntityProcessor::new();
        let foreign = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}});
        assert!(!p.validate_entity_kind(&foreign).await.unwrap());
        let invalid = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "c", "namespace": "default"}, "spec": {"type": "service"}});
        let e = p.validate_entity_kind(&invalid).await.unwrap_err();
        assert_eq!(e.name(), "TypeError");
        assert!(
            e.message().contains("must have required property"),
            "{}",
            e.message()
        );
    }
}
