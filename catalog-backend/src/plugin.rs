//! The `catalog` plugin for a Backstage backend (`backstage-core-app-api`), and its
//! extension points.

use std::sync::{Arc, Mutex, PoisonError};

use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::{BoxError, ExtensionPoint, Plugin, core_services};
use backstage_database::DATABASE;

use crate::catalog::Catalog;
use crate::processing::CatalogProcessor;
use crate::providers::EntityProvider;

/// What modules can add to the catalog's processing: processors and entity providers
/// (Backstage's `catalogProcessingExtensionPoint`).
pub trait CatalogProcessingExtensionPoint: Send + Sync {
    /// Adds a processor.
    fn add_processor(&self, processor: Arc<dyn CatalogProcessor>);
    /// Adds an entity provider.
    fn add_entity_provider(&self, provider: Arc<dyn EntityProvider>);
}

/// What modules can change about locations (Backstage's `catalogLocationsExtensionPoint`).
pub trait CatalogLocationsExtensionPoint: Send + Sync {
    /// Lets `POST /locations` register locations of this type (e.g. `file` for development).
    fn allow_location_type(&self, kind: &str);
}

/// The processing extension point.
pub const CATALOG_PROCESSING_EXTENSION_POINT: ExtensionPoint<dyn CatalogProcessingExtensionPoint> =
    ExtensionPoint::new("catalog.processing");

/// The locations extension point.
pub const CATALOG_LOCATIONS_EXTENSION_POINT: ExtensionPoint<dyn CatalogLocationsExtensionPoint> =
    ExtensionPoint::new("catalog.locations");

#[derive(Default)]
struct Extensions {
    processors: Mutex<Vec<Arc<dyn CatalogProcessor>>>,
    providers: Mutex<Vec<Arc<dyn EntityProvider>>>,
    location_types: Mutex<Vec<String>>,
}

impl CatalogProcessingExtensionPoint for Extensions {
    fn add_processor(&self, processor: Arc<dyn CatalogProcessor>) {
        self.processors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(processor);
    }
    fn add_entity_provider(&self, provider: Arc<dyn EntityProvider>) {
        self.providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(provider);
    }
}

impl CatalogLocationsExtensionPoint for Extensions {
    fn allow_location_type(&self, kind: &str) {
        self.location_types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(kind.to_owned());
    }
}

/// The `catalog` plugin: the catalog on the plugin's database, its REST API at
/// `/api/catalog`, processing started with the backend and stopped at shutdown.
///
/// Add `backstage_database::service_factories()` to the backend too (the plugin needs the
/// database service).
pub fn catalog_plugin() -> Plugin {
    Plugin::new("catalog", |reg| {
        let extensions = Arc::new(Extensions::default());
        reg.register_extension_point(CATALOG_PROCESSING_EXTENSION_POINT, extensions.clone());
        reg.register_extension_point(CATALOG_LOCATIONS_EXTENSION_POINT, extensions.clone());
        let deps = (
            core_services::ROOT_CONFIG,
            DATABASE,
            core_services::HTTP_ROUTER,
            core_services::LIFECYCLE,
            core_services::LOGGER,
        );
        reg.register_init(
            deps,
            move |(config, database, http, lifecycle, logger)| async move {
                let client = database.client().await?;
                let mut builder = Catalog::builder(&config.reader(), client)
                    .skip_migrations(database.migrations_skip());
                for processor in std::mem::take(
                    &mut *extensions
                        .processors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                ) {
                    builder = builder.processor(processor);
                }
                for provider in std::mem::take(
                    &mut *extensions
                        .providers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                ) {
                    builder = builder.entity_provider(provider);
                }
                for kind in std::mem::take(
                    &mut *extensions
                        .location_types
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                ) {
                    builder = builder.allow_location_type(kind);
                }
                let catalog = Arc::new(builder.build().await?);
                if catalog.config().serves_api() {
                    http.use_router(catalog.router());
                }
                catalog.start().await?;
                logger.info(&format!(
                    "catalog started: {} entities in the index, processing {}",
                    catalog.index().len(),
                    if catalog.config().runs_engine() {
                        "on"
                    } else {
                        "off"
                    }
                ));
                let stopping = catalog.clone();
                lifecycle.add_shutdown_hook(hook(move || async move {
                    stopping.stop().await;
                    Ok::<_, BoxError>(())
                }))?;
                Ok::<_, BoxError>(())
            },
        );
    })
}
