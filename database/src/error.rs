//! The crate's error type.

/// Everything that can go wrong in this crate. Messages name the plugin, the engine, the
/// database and the cause, so the user knows what to fix.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config value is missing or has the wrong type.
    #[error(transparent)]
    Config(#[from] backstage_backend_common::Error),

    /// `client` names no engine this build supports.
    #[error("Unsupported database client type '{client}' specified for plugin '{plugin_id}'")]
    UnsupportedClient {
        /// The client string.
        client: String,
        /// The plugin.
        plugin_id: String,
    },

    /// The engine is known but its cargo feature is off.
    #[error(
        "The database client '{client}' of plugin '{plugin_id}' needs the `{feature}` feature of backstage-database, which this build does not enable"
    )]
    EngineNotEnabled {
        /// The client string.
        client: String,
        /// The plugin.
        plugin_id: String,
        /// The cargo feature.
        feature: &'static str,
    },

    /// A query failed.
    #[error("database query failed for plugin '{plugin_id}' on {engine}: {source}")]
    Query {
        /// The plugin.
        plugin_id: String,
        /// The engine.
        engine: crate::Engine,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
}
