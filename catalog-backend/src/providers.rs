//! Entity providers: the contract plugin authors implement, and the two built-in providers
//! (config locations and registered locations, spec 4.3).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{DeferredEntity, LocationSpec};
use crate::storage::{CatalogStore, EntityMutation, RemovedEntity};

/// The handle a provider receives at start-up to write into its bucket of entities.
#[derive(Clone)]
pub struct EntityProviderConnection {
    provider: String,
    store: Arc<CatalogStore>,
}

impl std::fmt::Debug for EntityProviderConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityProviderConnection")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl EntityProviderConnection {
    pub(crate) fn new(provider: String, store: Arc<CatalogStore>) -> Self {
        Self { provider, store }
    }

    /// The provider's name (its bucket).
    pub fn provider_name(&self) -> &str {
        &self.provider
    }

    /// Replaces the provider's whole bucket with `entities` (a `full` mutation): entities
    /// no longer listed are removed with everything they emitted, changed ones are
    /// reprocessed, unchanged ones are left alone.
    ///
    /// # Errors
    /// Malformed entity envelopes and database errors.
    pub async fn replace(&self, entities: Vec<DeferredEntity>) -> Result<()> {
        self.store
            .apply_mutation(&self.provider, EntityMutation::Full { entities })
            .await?;
        Ok(())
    }

    /// Adds or updates `added` and removes `removed` (a `delta` mutation).
    ///
    /// # Errors
    /// Malformed entity envelopes and database errors.
    pub async fn apply_delta(
        &self,
        added: Vec<DeferredEntity>,
        removed: Vec<RemovedEntity>,
    ) -> Result<()> {
        self.store
            .apply_mutation(&self.provider, EntityMutation::Delta { added, removed })
            .await?;
        Ok(())
    }

    /// Schedules every entity carrying one of these refresh keys for processing now.
    ///
    /// # Errors
    /// Database errors.
    pub async fn refresh(&self, keys: &[String]) -> Result<()> {
        self.store.refresh_by_keys(keys).await?;
        Ok(())
    }
}

/// A source of entities: an org directory, a cloud inventory, a repository scan.
///
/// The catalog calls [`connect`](EntityProvider::connect) once at start-up; the provider
/// keeps the connection and writes its entities whenever it likes (typically from a
/// scheduled task). Its name must be unique and stable: it names the bucket the entities are
/// kept in, and a bucket whose provider disappears is emptied (`catalog.orphanProviderStrategy`).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use backstage_catalog_backend::model::DeferredEntity;
/// use backstage_catalog_backend::providers::{EntityProvider, EntityProviderConnection};
/// use serde_json::json;
///
/// struct TeamsFromHr;
///
/// #[async_trait]
/// impl EntityProvider for TeamsFromHr {
///     fn name(&self) -> &str {
///         "hr-teams"
///     }
///     async fn connect(&self, connection: EntityProviderConnection) -> backstage_catalog_backend::Result<()> {
///         let team = json!({
///             "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
///             "metadata": {"name": "payments",
///                          "annotations": {"backstage.io/managed-by-location": "hr:teams",
///                                          "backstage.io/managed-by-origin-location": "hr:teams"}},
///             "spec": {"type": "team", "children": []}
///         });
///         connection.replace(vec![DeferredEntity { entity: team, location_key: Some("hr:teams".into()) }]).await
///     }
/// }
/// ```
#[async_trait]
pub trait EntityProvider: Send + Sync {
    /// The unique, stable name of the provider.
    fn name(&self) -> &str;

    /// Called once at start-up with the provider's connection.
    ///
    /// # Errors
    /// A failure here is logged; the catalog keeps running.
    async fn connect(&self, connection: EntityProviderConnection) -> Result<()>;
}

/// `catalog.locations` from config (Backstage's `ConfigLocationProvider`).
#[derive(Debug, Clone)]
pub struct ConfigLocationProvider {
    locations: Vec<LocationSpec>,
}

impl ConfigLocationProvider {
    /// The provider for these locations.
    pub fn new(locations: Vec<LocationSpec>) -> Self {
        Self { locations }
    }

    /// The deferred Location entities of these locations.
    pub fn entities(&self) -> Vec<DeferredEntity> {
        self.locations
            .iter()
            .map(|spec| DeferredEntity {
                entity: spec.to_root_location_entity(),
                location_key: Some(spec.location_ref()),
            })
            .collect()
    }
}

#[async_trait]
impl EntityProvider for ConfigLocationProvider {
    fn name(&self) -> &str {
        "ConfigLocationProvider"
    }

    async fn connect(&self, connection: EntityProviderConnection) -> Result<()> {
        connection.replace(self.entities()).await
    }
}

/// The provider name of the registered locations (`POST /locations`).
pub const LOCATION_STORE_PROVIDER: &str = "DefaultLocationStore";
