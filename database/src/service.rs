//! The plugin-facing database service (Backstage's `coreServices.database`).

use async_trait::async_trait;
use backstage_core_plugin_api::ServiceRef;
use backstage_core_plugin_api::core_services::DATABASE_SERVICE_ID;

use crate::{DatabaseClient, Engine, Error};

/// A plugin's own logical database.
#[async_trait]
pub trait DatabaseService: Send + Sync {
    /// The plugin the database belongs to.
    fn plugin_id(&self) -> &str;

    /// The engine, known from config before any connection is made.
    fn engine(&self) -> Engine;

    /// The plugin's connection pool. The first call creates the database or schema when
    /// configured to, then connects; the result is shared by the plugin and its modules. A
    /// failed first connection is retried on the next call.
    ///
    /// # Errors
    ///
    /// Connection, creation and configuration errors naming the plugin, the engine, the
    /// database and the cause.
    async fn client(&self) -> Result<DatabaseClient, Error>;

    /// Whether the plugin should skip its migrations (`skipMigrations`).
    fn migrations_skip(&self) -> bool;
}

/// The database service: plugin-scoped, id `core.database`.
pub const DATABASE: ServiceRef<dyn DatabaseService> = ServiceRef::plugin(DATABASE_SERVICE_ID);

/// The stock database service factory: a [`DatabaseManager`](crate::DatabaseManager) built
/// once per backend from `backend.database` (its pools are closed by a root shutdown hook),
/// and each plugin's [`PluginDatabase`](crate::PluginDatabase) from it. Install it in a backend
/// (`backend.add(database_service_factory())`); no connection is made until a plugin calls
/// [`DatabaseService::client`].
pub fn database_service_factory() -> backstage_core_plugin_api::ServiceFactory {
    use std::sync::Arc;

    use backstage_core_plugin_api::services::lifecycle::hook;
    use backstage_core_plugin_api::{BoxError, ServiceFactory, core_services};

    use crate::DatabaseManager;

    ServiceFactory::with_root_context(
        DATABASE,
        (core_services::ROOT_CONFIG, core_services::ROOT_LIFECYCLE),
        |(config, lifecycle)| async move {
            let manager = DatabaseManager::from_config(&config.reader())?;
            // Once every plugin started, `plugin.<id>` blocks nobody used are worth a warning.
            let checking = manager.clone();
            lifecycle.add_startup_hook(hook(move || async move {
                checking.warn_unused_plugin_configs();
                Ok::<_, BoxError>(())
            }))?;
            let closing = manager.clone();
            lifecycle.add_shutdown_hook(hook(move || async move {
                closing.close().await;
                Ok::<_, BoxError>(())
            }))?;
            Ok::<_, BoxError>(manager)
        },
        core_services::PLUGIN_METADATA,
        |metadata, manager: Arc<DatabaseManager>| async move {
            let database = manager.for_plugin(metadata.plugin_id())?;
            Ok::<_, BoxError>(Arc::new(database) as Arc<dyn DatabaseService>)
        },
    )
}
