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
