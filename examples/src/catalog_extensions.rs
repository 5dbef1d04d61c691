//! Extending the catalog from modules, as a plugin author would: a processor and an entity
//! provider added through the catalog's extension points.
//!
//! - [`TierLabelProcessor`] labels every Component with its tier, derived from its
//!   lifecycle, and emits nothing else; [`processor_module`] adds it;
//! - [`HrTeamsProvider`] writes Group entities from an (imaginary) HR system into its own
//!   bucket with a `full` mutation; [`provider_module`] adds it.
//!
//! Both modules belong to the `catalog` plugin ([`backstage_catalog_backend::catalog_plugin`]).

use std::sync::Arc;

use async_trait::async_trait;
use backstage_catalog_backend::model::DeferredEntity;
use backstage_catalog_backend::processing::{CatalogProcessor, ProcessorContext, ProcessorResult};
use backstage_catalog_backend::providers::{EntityProvider, EntityProviderConnection};
use backstage_catalog_backend::{CATALOG_PROCESSING_EXTENSION_POINT, Result as CatalogResult};
use backstage_core_plugin_api::{BoxError, Module};
use serde_json::{Value, json};

/// The label [`TierLabelProcessor`] sets.
pub const TIER_LABEL: &str = "acme.example.com/tier-from-lifecycle";

/// Labels Components with a tier derived from `spec.lifecycle`: `production` is tier `1`,
/// anything else tier `3`.
#[derive(Debug, Default)]
pub struct TierLabelProcessor;

#[async_trait]
impl CatalogProcessor for TierLabelProcessor {
    fn name(&self) -> &str {
        "TierLabelProcessor"
    }

    async fn pre_process_entity(
        &self,
        mut entity: Value,
        _ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        if entity["kind"] != "Component" {
            return Ok(entity);
        }
        let tier = if entity["spec"]["lifecycle"] == "production" {
            "1"
        } else {
            "3"
        };
        if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(TIER_LABEL.to_owned(), json!(tier));
            }
        }
        Ok(entity)
    }
}

/// A module of the `catalog` plugin adding [`TierLabelProcessor`].
pub fn processor_module() -> Module {
    Module::new("catalog", "tier-label", |reg| {
        reg.register_init(CATALOG_PROCESSING_EXTENSION_POINT, |catalog| async move {
            catalog.add_processor(Arc::new(TierLabelProcessor));
            Ok::<_, BoxError>(())
        });
    })
}

/// Teams from an HR system, as Group entities. A real provider would fetch them from a
/// scheduled task and call [`EntityProviderConnection::replace`] on every run.
#[derive(Debug, Clone)]
pub struct HrTeamsProvider {
    teams: Vec<(String, String)>,
}

impl HrTeamsProvider {
    /// A provider of these `(name, display name)` teams.
    pub fn new(teams: &[(&str, &str)]) -> Self {
        Self {
            teams: teams
                .iter()
                .map(|(name, title)| ((*name).to_owned(), (*title).to_owned()))
                .collect(),
        }
    }

    /// The Group entities, annotated with where they come from.
    pub fn entities(&self) -> Vec<DeferredEntity> {
        self.teams
            .iter()
            .map(|(name, title)| DeferredEntity {
                entity: json!({
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Group",
                    "metadata": {
                        "name": name,
                        "annotations": {
                            "backstage.io/managed-by-location": "hr:teams",
                            "backstage.io/managed-by-origin-location": "hr:teams",
                        },
                    },
                    "spec": {"type": "team", "profile": {"displayName": title}, "children": []},
                }),
                location_key: Some("hr:teams".to_owned()),
            })
            .collect()
    }
}

#[async_trait]
impl EntityProvider for HrTeamsProvider {
    fn name(&self) -> &str {
        "hr-teams"
    }

    async fn connect(&self, connection: EntityProviderConnection) -> CatalogResult<()> {
        connection.replace(self.entities()).await
    }
}

/// A module of the `catalog` plugin adding an [`HrTeamsProvider`].
pub fn provider_module(provider: HrTeamsProvider) -> Module {
    Module::new("catalog", "hr-teams", move |reg| {
        let provider = provider.clone();
        reg.register_init(
            CATALOG_PROCESSING_EXTENSION_POINT,
            move |catalog| async move {
                catalog.add_entity_provider(Arc::new(provider));
                Ok::<_, BoxError>(())
            },
        );
    })
}
