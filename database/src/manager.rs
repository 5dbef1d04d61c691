//! The database manager: one per backend process, handing each plugin its
//! [`PluginDatabase`] (Backstage's `DatabaseManager`). See [`DatabaseManager`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;
use tokio::task::JoinHandle;

use crate::config::{BaseConfig, PluginConfig, Target};
use crate::connect::{self, Context, EnsureCache, Keeper};
use crate::{DatabaseClient, DatabaseService, Engine, Error};

/// Options for [`DatabaseManager::with_options`]. Start from [`ManagerOptions::default`].
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// The PostgreSQL database to connect to when creating plugin databases. Default
    /// `postgres`; set another (such as `template1` or a database you own) where the user
    /// may not connect to `postgres`.
    pub maintenance_database: String,
    /// Forces every plugin's `migrations_skip` (Backstage's programmatic `migrations`
    /// option); `None` reads `skipMigrations` from config.
    pub migrations_skip: Option<bool>,
    /// How often each PostgreSQL/MySQL pool runs `SELECT 1` to notice an unreachable server
    /// (a warning per failure streak). Default 60 s; `None` turns it off.
    pub keepalive_interval: Option<Duration>,
    /// How long [`DatabaseManager::close`] waits for each pool's checked-out connections.
    /// Default 10 s.
    pub close_timeout: Duration,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            maintenance_database: "postgres".to_owned(),
            migrations_skip: None,
            keepalive_interval: Some(Duration::from_secs(60)),
            close_timeout: Duration::from_secs(10),
        }
    }
}

impl ManagerOptions {
    /// Sets [`maintenance_database`](Self::maintenance_database).
    #[must_use]
    pub fn with_maintenance_database(mut self, database: impl Into<String>) -> Self {
        self.maintenance_database = database.into();
        self
    }

    /// Sets [`migrations_skip`](Self::migrations_skip).
    #[must_use]
    pub fn with_migrations_skip(mut self, skip: Option<bool>) -> Self {
        self.migrations_skip = skip;
        self
    }

    /// Sets [`keepalive_interval`](Self::keepalive_interval).
    #[must_use]
    pub fn with_keepalive_interval(mut self, interval: Option<Duration>) -> Self {
        self.keepalive_interval = interval;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}

/// Hands out one logical database per plugin, configured from `backend.database`
/// (Backstage's `DatabaseManager`). Cheap to clone (the state is shared); build one per
/// backend process and call [`close`](Self::close) at shutdown.
///
/// [`DatabaseManager::from_config`] reads `backend.database` and validates the keys that
/// apply to every plugin; it opens nothing. [`DatabaseManager::for_plugin`] resolves a
/// plugin's engine, database and pool settings, still without I/O, so config mistakes fail
/// the plugin's start. The first [`DatabaseService::client`] call creates the database or
/// schema when allowed, checks that a connection works and builds the pool; the result is
/// shared by every [`PluginDatabase`] of that plugin ID (the plugin and its modules). A
/// failed attempt is not remembered: the next call tries again.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use backstage_backend_common::config::ConfigReader;
/// use backstage_database::{DatabaseClient, DatabaseManager, DatabaseService};
/// use serde_json::json;
///
/// // No `backend.database` block: every plugin gets a private in-memory SQLite database.
/// let config = ConfigReader::from_value(json!({}));
/// let manager = DatabaseManager::from_config(&config)?;
/// let catalog = manager.for_plugin("catalog")?;
/// assert!(!catalog.migrations_skip());
/// match catalog.client().await? {
///     # #[cfg(feature = "sqlite")]
///     DatabaseClient::Sqlite(pool) => {
///         sqlx::query("CREATE TABLE entities (id TEXT PRIMARY KEY)").execute(&pool).await?;
///     }
///     _ => unreachable!("no config means SQLite"),
/// }
/// manager.close().await;
/// # Ok(())
/// # }
/// ```
///
/// # Differences from Backstage
///
/// * Databases are created from the plugin's *effective* connection (its host, user and
///   TLS), connected to the maintenance database ([`ManagerOptions::maintenance_database`],
///   default `postgres`); a schema goes into the database the plugin actually uses.
/// * Per-plugin `role` and `ensureSchemaExists` are honoured.
/// * A failed [`client`](DatabaseService::client) is retried on the next call; callers
///   waiting on the same attempt share its failure ([`Error::SharedAttempt`]).
/// * `client()` opens one connection to check the settings, so a bad host, password,
///   missing database or missing schema (creation disabled) fails there, with a message
///   naming plugin, engine, database and cause ([`ConnectFailure`](crate::ConnectFailure)).
/// * Every config error, including a bad connection string, fails
///   [`for_plugin`](Self::for_plugin) (plugin start), as do PostgreSQL names over 63 bytes.
/// * SQLite in memory: one shared-cache database per plugin, kept alive by a connection
///   held until [`close`](Self::close); files use WAL, foreign keys and a 5 s busy timeout.
/// * A plugin that switches engine ignores the base connection entirely (Backstage still
///   reads a base PostgreSQL string as a SQLite filename and fails).
/// * `prefix: ''` means the default prefix, with a warning;
///   [`warn_unused_plugin_configs`](Self::warn_unused_plugin_configs) warns about
///   `plugin.<id>` blocks no plugin asked for.
/// * PostgreSQL `sslmode` follows libpq (`require` encrypts without verifying);
///   `ssl: true` verifies the certificate and host, as node-postgres does.
/// * Cloud IAM connection types (`azure`, `cloudsql`, `rds`) are refused with
///   [`Error::UnsupportedConnectionType`].
#[derive(Clone)]
pub struct DatabaseManager {
    inner: Arc<Inner>,
}

struct Inner {
    base: BaseConfig,
    options: ManagerOptions,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    ddl: tokio::sync::Mutex<()>,
    ensured: EnsureCache,
    keepalives: Mutex<Vec<JoinHandle<()>>>,
    closed: AtomicBool,
    warned_unused: AtomicBool,
}

/// One plugin ID's client, shared by all its [`PluginDatabase`]s.
struct Slot {
    /// Finished failed attempts, readable without the lock.
    failures: AtomicU64,
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    client: Option<DatabaseClient>,
    keeper: Option<Keeper>,
    last_failure: Option<(String, Option<crate::ConnectFailure>)>,
}

impl fmt::Debug for DatabaseManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plugins: Vec<String> = self.lock_slots().keys().cloned().collect();
        f.debug_struct("DatabaseManager")
            .field("prefix", &self.inner.base.prefix)
            .field("division_mode", &self.inner.base.division_mode.as_str())
            .field("plugins", &plugins)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl DatabaseManager {
    /// Builds the manager from the root config's `backend.database` block (absent: an
    /// in-memory SQLite database per plugin). Validates `prefix`, `schemaPrefix`,
    /// `pluginDivisionMode` and the types of the base flags; opens no connection.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchemaPrefix`], [`Error::InvalidDivisionMode`], and
    /// [`Error::Config`] for values of the wrong type.
    pub fn from_config(config: &ConfigReader) -> Result<Self, Error> {
        Self::with_options(config, ManagerOptions::default())
    }

    /// [`from_config`](Self::from_config) with options.
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config).
    pub fn with_options(config: &ConfigReader, options: ManagerOptions) -> Result<Self, Error> {
        let base = BaseConfig::from_root(config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                base,
                options,
                slots: Mutex::new(HashMap::new()),
                ddl: tokio::sync::Mutex::new(()),
                ensured: EnsureCache::default(),
                keepalives: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                warned_unused: AtomicBool::new(false),
            }),
        })
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The database service of `plugin_id`. Resolves its client (engine), migrations flag,
    /// effective connection, and database, schema or file name; opens no connection. Every
    /// call for one plugin ID shares one pool.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedClient`] (`Unsupported database client type '<client>' specified
    /// for plugin '<pluginId>'`), [`Error::EngineNotEnabled`], [`Error::NameTooLong`]
    /// (PostgreSQL names over 63 bytes), [`Error::MySqlConnectionString`],
    /// [`Error::InvalidConnection`], [`Error::UnsupportedConnectionType`],
    /// [`Error::SqliteBaseFilename`], [`Error::DivisionModeUnsupported`],
    /// [`Error::InvalidConfig`], and [`Error::Config`] for missing (`client`, `connection`)
    /// or mistyped values.
    pub fn for_plugin(&self, plugin_id: &str) -> Result<PluginDatabase, Error> {
        let config = self
            .inner
            .base
            .resolve(plugin_id, self.inner.options.migrations_skip)?;
        let slot = self
            .lock_slots()
            .entry(plugin_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Slot {
                    failures: AtomicU64::new(0),
                    state: tokio::sync::Mutex::new(SlotState::default()),
                })
            })
            .clone();
        Ok(PluginDatabase {
            manager: self.clone(),
            config: Arc::new(config),
            slot,
        })
    }

    /// The plugin IDs with a `backend.database.plugin.<id>` block that no
    /// [`for_plugin`](Self::for_plugin) call has asked for (yet): usually a misspelt ID
    /// (case and dashes count), or a plugin that is not installed.
    pub fn unused_plugin_configs(&self) -> Vec<String> {
        let asked: HashSet<String> = self.lock_slots().keys().cloned().collect();
        self.inner
            .base
            .configured_plugin_ids()
            .into_iter()
            .filter(|id| !asked.contains(id))
            .collect()
    }

    /// Logs a warning for each of [`unused_plugin_configs`](Self::unused_plugin_configs).
    /// Call it once every plugin has started; it warns at most once per manager, and
    /// [`close`](Self::close) calls it if nobody did.
    pub fn warn_unused_plugin_configs(&self) {
        if self.inner.warned_unused.swap(true, Ordering::AcqRel) {
            return;
        }
        for plugin_id in self.unused_plugin_configs() {
            tracing::warn!(
                plugin_id,
                "backend.database.plugin.{plugin_id} is configured, but no plugin with that ID asked for a database; check the ID (case and dashes count) or remove the block"
            );
        }
    }

    /// Closes every pool this manager opened (waiting up to
    /// [`ManagerOptions::close_timeout`] for checked-out connections), stops the
    /// keepalives and drops in-memory SQLite databases. Later
    /// [`client`](DatabaseService::client) calls fail with [`Error::Closed`]. Never fails;
    /// problems are logged.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let keepalives = std::mem::take(
            &mut *self
                .inner
                .keepalives
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for keepalive in keepalives {
            keepalive.abort();
        }
        let slots: Vec<(String, Arc<Slot>)> = self
            .lock_slots()
            .iter()
            .map(|(id, slot)| (id.clone(), slot.clone()))
            .collect();
        let mut closing = tokio::task::JoinSet::new();
        let timeout = self.inner.options.close_timeout;
        for (plugin_id, slot) in slots {
            closing.spawn(async move {
                let (client, keeper) = {
                    let mut state = slot.state.lock().await;
                    (state.client.take(), state.keeper.take())
                };
                if let Some(client) = client {
                    connect::close_client(&plugin_id, client, timeout).await;
                }
                if let Some(keeper) = keeper {
                    keeper.close().await;
                }
            });
        }
        while let Some(result) = closing.join_next().await {
            if let Err(error) = result {
                tracing::error!(%error, "closing a database pool failed");
            }
        }
        self.warn_unused_plugin_configs();
    }

    fn start_keepalive(&self, plugin_id: &str, client: &DatabaseClient) {
        let Some(interval) = self.inner.options.keepalive_interval else {
            return;
        };
        if client.engine() == Engine::Sqlite || interval.is_zero() {
            return;
        }
        let client = client.clone();
        let plugin_id = plugin_id.to_owned();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.tick().await;
            let mut failing = false;
            loop {
                ticks.tick().await;
                match connect::ping(&client).await {
                    Ok(()) => failing = false,
                    Err(error) => {
                        if !failing {
                            tracing::warn!(
                                plugin_id,
                                "Database keepalive failed for plugin {plugin_id}, {error}"
                            );
                        }
                        failing = true;
                    }
                }
            }
        });
        self.inner
            .keepalives
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(task);
    }
}

/// One plugin's database service: what `DATABASE` resolves to for a plugin. Cheap to clone;
/// every `PluginDatabase` of one plugin ID, from one manager, shares a pool.
#[derive(Clone)]
pub struct PluginDatabase {
    manager: DatabaseManager,
    config: Arc<PluginConfig>,
    slot: Arc<Slot>,
}

impl fmt::Debug for PluginDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginDatabase")
            .field("plugin_id", &self.config.plugin_id)
            .field("engine", &self.config.engine)
            .field("database", &self.config.database_label())
            .field("schema", &self.schema_name())
            .finish_non_exhaustive()
    }
}

impl PluginDatabase {
    /// The plugin's database: the PostgreSQL or MySQL database name (in schema mode, the
    /// configured shared database, if any), the SQLite file path, or `:memory:`.
    pub fn database_name(&self) -> Option<String> {
        match &self.config.target {
            Target::Postgres(pg) => pg.database.clone(),
            _ => Some(self.config.database_label()),
        }
    }

    /// The plugin's schema in PostgreSQL schema mode.
    pub fn schema_name(&self) -> Option<&str> {
        match &self.config.target {
            Target::Postgres(pg) => pg.schema.as_deref(),
            _ => None,
        }
    }

    async fn connect(&self) -> Result<DatabaseClient, Error> {
        let plugin_id = self.config.plugin_id.as_str();
        let seen = self.slot.failures.load(Ordering::Acquire);
        let mut state = self.slot.state.lock().await;
        if let Some(client) = &state.client {
            return Ok(client.clone());
        }
        let inner = &self.manager.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed {
                plugin_id: plugin_id.to_owned(),
            });
        }
        // An attempt finished (and failed) while this caller waited: share its outcome
        // instead of queueing another one behind it.
        if self.slot.failures.load(Ordering::Acquire) != seen
            && let Some((message, failure)) = &state.last_failure
        {
            return Err(Error::SharedAttempt {
                plugin_id: plugin_id.to_owned(),
                message: message.clone(),
                failure: *failure,
            });
        }
        let ctx = Context {
            maintenance_database: &inner.options.maintenance_database,
            ddl: &inner.ddl,
            ensured: &inner.ensured,
        };
        match connect::connect(&ctx, &self.config).await {
            Ok(connected) => {
                self.manager.start_keepalive(plugin_id, &connected.client);
                state.client = Some(connected.client.clone());
                state.keeper = connected.keeper;
                state.last_failure = None;
                Ok(connected.client)
            }
            Err(error) => {
                state.last_failure = Some((error.to_string(), error.connect_failure()));
                self.slot.failures.fetch_add(1, Ordering::AcqRel);
                Err(error)
            }
        }
    }
}

#[async_trait]
impl DatabaseService for PluginDatabase {
    fn plugin_id(&self) -> &str {
        &self.config.plugin_id
    }

    fn engine(&self) -> Engine {
        self.config.engine
    }

    async fn client(&self) -> Result<DatabaseClient, Error> {
        self.connect().await
    }

    fn migrations_skip(&self) -> bool {
        self.config.skip_migrations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manager(database: serde_json::Value) -> DatabaseManager {
        DatabaseManager::from_config(&ConfigReader::from_value(json!({
            "backend": { "database": database }
        })))
        .unwrap()
    }

    #[test]
    fn for_plugin_needs_no_connection() {
        // Nothing listens on port 1: resolving must not try.
        let manager = manager(json!({
            "client": "better-sqlite3",
            "connection": ":memory:",
            "skipMigrations": true,
            "plugin": { "remote": { "client": "pg", "connection": "postgres://u:p@127.0.0.1:1/x" } }
        }));
        if cfg!(feature = "postgres") {
            let remote = manager.for_plugin("remote").unwrap();
            assert_eq!(remote.engine(), Engine::Postgres);
            // The plugin's own connection names its database.
            assert_eq!(remote.database_name().as_deref(), Some("x"));
            assert!(remote.migrations_skip());
        }
    }

    #[test]
    fn unused_plugin_configs_are_reported() {
        let manager = manager(json!({
            "client": "better-sqlite3",
            "connection": ":memory:",
            "plugin": { "catalog": {}, "Catalog": {}, "auth": {} }
        }));
        manager.for_plugin("catalog").unwrap();
        assert_eq!(manager.unused_plugin_configs(), ["Catalog", "auth"]);
        manager.warn_unused_plugin_configs();
    }

    #[test]
    fn options_builders() {
        let options = ManagerOptions::default()
            .with_maintenance_database("template1")
            .with_migrations_skip(Some(true))
            .with_keepalive_interval(None)
            .with_close_timeout(Duration::from_secs(1));
        assert_eq!(options.maintenance_database, "template1");
        assert_eq!(options.migrations_skip, Some(true));
        assert_eq!(options.keepalive_interval, None);
        assert_eq!(options.close_timeout, Duration::from_secs(1));
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn memory_databases_are_per_plugin_and_shared_by_modules() {
        let manager = manager(json!({ "client": "better-sqlite3", "connection": ":memory:" }));
        let plugin = manager.for_plugin("catalog").unwrap();
        let module = manager.for_plugin("catalog").unwrap();
        let other = manager.for_plugin("auth").unwrap();
        let pool = |client| match client {
            DatabaseClient::Sqlite(pool) => pool,
            #[allow(unreachable_patterns)]
            _ => panic!("sqlite expected"),
        };
        let a = pool(plugin.client().await.unwrap());
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&a)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&a)
            .await
            .unwrap();
        let b = pool(module.client().await.unwrap());
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&b)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let c = pool(other.client().await.unwrap());
        let missing = sqlx::query("SELECT * FROM t").execute(&c).await;
        assert!(
            missing.is_err(),
            "plugins must not share an in-memory database"
        );

        manager.close().await;
        let err = plugin.client().await.unwrap_err();
        assert!(matches!(err, Error::Closed { .. }), "{err}");
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn memory_database_survives_idle_pool() {
        // min 0 with a short idle timeout: the pool drops its connection, the keeper keeps
        // the data.
        let manager = manager(json!({
            "client": "better-sqlite3",
            "connection": ":memory:",
            "knexConfig": { "pool": { "min": 0, "max": 3, "idleTimeoutMillis": 10 } }
        }));
        let plugin = manager.for_plugin("catalog").unwrap();
        #[allow(unreachable_patterns)]
        let pool = match plugin.client().await.unwrap() {
            DatabaseClient::Sqlite(pool) => pool,
            _ => panic!("sqlite expected"),
        };
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        manager.close().await;
    }
}
