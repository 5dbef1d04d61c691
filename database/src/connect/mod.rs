//! Per-engine connectors: turn a plugin's resolved config into a ready pool.
//!
//! Each connector first makes sure the database (or schema) exists when allowed, then opens
//! one probe connection itself, so a bad host, password or database is reported at once
//! with its real cause (sqlx's pool would retry a refused connection until its acquire
//! timeout and report only "pool timed out"), and finally builds the pool lazily from the
//! same options. The probe also runs the per-connection setup (`SET ROLE`, `search_path`)
//! that the pool repeats on every new connection.

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config::{PluginConfig, PoolConfig, Target};
use crate::error::ConnectFailure;
use crate::{DatabaseClient, Error};

/// Default timeout for opening a connection (Knex's `createTimeoutMillis`).
pub(crate) const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default pool acquire timeout (Knex's `acquireConnectionTimeout`).
const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default idle timeout for connections above `min` (Knex's `idleTimeoutMillis`).
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout for the admin connections that create databases and schemas.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at the ensure-database step, and the pause between them.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const ENSURE_ATTEMPTS: u32 = 3;
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const ENSURE_RETRY_DELAY: Duration = Duration::from_millis(100);

/// What the manager lends a connector.
pub(crate) struct Context<'a> {
    /// The database to connect to when creating databases (`postgres`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) maintenance_database: &'a str,
    /// Serialises DDL (create database/schema) across the manager's plugins.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) ddl: &'a tokio::sync::Mutex<()>,
    /// Databases and schemas already made sure of.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) ensured: &'a EnsureCache,
}

/// Remembers which databases/schemas exist, per server, so plugins sharing one check it
/// once. Failures are not remembered: the next plugin (or the next `client()` call) tries
/// again. Concurrent callers for one key wait for the attempt in flight.
#[derive(Default)]
pub(crate) struct EnsureCache {
    cells: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<()>>>>,
}

impl EnsureCache {
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) async fn ensure<F, Fut, E>(&self, key: String, run: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
            cells.entry(key).or_default().clone()
        };
        cell.get_or_try_init(run).await.map(|_| ())
    }
}

/// A connected plugin: its pool, and for in-memory SQLite the connection that keeps the
/// database alive.
pub(crate) struct Connected {
    pub(crate) client: DatabaseClient,
    pub(crate) keeper: Option<Keeper>,
}

/// A connection held open for the life of the manager.
pub(crate) enum Keeper {
    /// Keeps a shared-cache in-memory SQLite database alive.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqliteConnection),
}

impl Keeper {
    /// Closes the connection (the in-memory database goes with it).
    pub(crate) async fn close(self) {
        match self {
            #[cfg(feature = "sqlite")]
            Keeper::Sqlite(conn) => {
                use sqlx::Connection;
                if let Err(error) = conn.close().await {
                    tracing::debug!(%error, "closing the SQLite keeper connection failed");
                }
            }
        }
    }
}

/// Connects a plugin: ensure steps, probe, pool.
pub(crate) async fn connect(ctx: &Context<'_>, config: &PluginConfig) -> Result<Connected, Error> {
    match &config.target {
        #[cfg(feature = "postgres")]
        Target::Postgres(target) => postgres::connect(ctx, config, target).await,
        #[cfg(feature = "mysql")]
        Target::MySql(target) => mysql::connect(ctx, config, target).await,
        #[cfg(feature = "sqlite")]
        Target::Sqlite(target) => sqlite::connect(config, target).await,
        // `BaseConfig::resolve` refuses engines whose feature is off.
        #[allow(unreachable_patterns)]
        _ => {
            let _ = ctx;
            Err(Error::EngineNotEnabled {
                client: config.engine.as_str().to_owned(),
                plugin_id: config.plugin_id.clone(),
                feature: config.engine.as_str(),
            })
        }
    }
}

/// Runs `SELECT 1` on the pool (the keepalive).
pub(crate) async fn ping(client: &DatabaseClient) -> Result<(), sqlx::Error> {
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
    }
}

/// Closes the pool, waiting at most `timeout` for checked-out connections to come back.
pub(crate) async fn close_client(plugin_id: &str, client: DatabaseClient, timeout: Duration) {
    let closing = async {
        match &client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => pool.close().await,
        }
    };
    if tokio::time::timeout(timeout, closing).await.is_err() {
        tracing::warn!(
            plugin_id,
            "closing the database pool of plugin '{plugin_id}' timed out after {timeout:?}: connections are still checked out"
        );
    }
}

/// Engine defaults for a pool.
pub(crate) struct PoolDefaults {
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) idle_timeout: Option<Duration>,
}

/// PostgreSQL and MySQL: Backstage's current defaults (`min 0`, tarn's `max 10`).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) const SERVER_POOL: PoolDefaults = PoolDefaults {
    min: 0,
    max: 10,
    idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
};

/// sqlx pool options from `knexConfig.pool`, over the engine's defaults.
pub(crate) fn pool_options<DB: sqlx::Database>(
    pool: &PoolConfig,
    defaults: &PoolDefaults,
) -> sqlx::pool::PoolOptions<DB> {
    let max = pool.max.unwrap_or(defaults.max).max(1);
    let min = pool.min.unwrap_or(defaults.min).min(max);
    let mut options = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(max)
        .min_connections(min)
        .acquire_timeout(pool.acquire_timeout.unwrap_or(DEFAULT_ACQUIRE_TIMEOUT))
        .idle_timeout(pool.idle_timeout.or(defaults.idle_timeout));
    if let Some(lifetime) = pool.max_lifetime {
        options = options.max_lifetime(lifetime);
    }
    options
}

/// The timeout for opening one connection (`knexConfig.pool.createTimeoutMillis`).
pub(crate) fn create_timeout(pool: &PoolConfig) -> Duration {
    pool.create_timeout.unwrap_or(DEFAULT_CREATE_TIMEOUT)
}

/// Runs `connect` with a timeout; a timeout becomes an I/O `TimedOut` error naming it.
pub(crate) async fn with_timeout<T>(
    timeout: Duration,
    connect: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    match tokio::time::timeout(timeout, connect).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {:.1}s", timeout.as_secs_f64()),
        ))),
    }
}

/// Runs an ensure step up to [`ENSURE_ATTEMPTS`] times, 100 ms apart, retrying only
/// failures that may pass (refused, timed out, too many connections, unclassified).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) async fn with_retries<F, Fut>(mut attempt: F) -> Result<(), sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), sqlx::Error>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(error) => {
                let retry = matches!(
                    classify(&error),
                    ConnectFailure::Refused
                        | ConnectFailure::Timeout
                        | ConnectFailure::TooManyConnections
                        | ConnectFailure::Other
                );
                if !retry || tries >= ENSURE_ATTEMPTS {
                    return Err(error);
                }
                tokio::time::sleep(ENSURE_RETRY_DELAY).await;
            }
        }
    }
}

/// Sorts a driver error into a [`ConnectFailure`].
pub(crate) fn classify(error: &sqlx::Error) -> ConnectFailure {
    match error {
        sqlx::Error::Io(io) => classify_io(io),
        sqlx::Error::Tls(_) => ConnectFailure::Tls,
        sqlx::Error::PoolTimedOut => ConnectFailure::Timeout,
        sqlx::Error::Database(db) => {
            #[cfg(feature = "mysql")]
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return match my.number() {
                    1045 | 1698 | 1251 => ConnectFailure::Authentication,
                    1049 => ConnectFailure::MissingDatabase,
                    1044 | 1142 | 1227 | 1410 => ConnectFailure::Permission,
                    1040 | 1203 => ConnectFailure::TooManyConnections,
                    _ => ConnectFailure::Other,
                };
            }
            match db.code().as_deref() {
                // PostgreSQL SQLSTATEs.
                Some("28P01" | "28000") => ConnectFailure::Authentication,
                Some("3D000") => ConnectFailure::MissingDatabase,
                Some("42501") => ConnectFailure::Permission,
                Some("53300") => ConnectFailure::TooManyConnections,
                // SQLite: SQLITE_PERM, SQLITE_READONLY and SQLITE_AUTH (primary codes).
                Some(code) if code.len() < 5 => match code.parse::<i32>().map(|c| c & 0xff) {
                    Ok(3 | 8 | 23) => ConnectFailure::Permission,
                    _ => ConnectFailure::Other,
                },
                _ => ConnectFailure::Other,
            }
        }
        _ => {
            // Some drivers wrap I/O errors; look down the chain.
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                    return classify_io(io);
                }
                source = cause.source();
            }
            let text = error.to_string().to_ascii_lowercase();
            if text.contains("tls") || text.contains("ssl") || text.contains("certificate") {
                ConnectFailure::Tls
            } else {
                ConnectFailure::Other
            }
        }
    }
}

fn classify_io(io: &std::io::Error) -> ConnectFailure {
    use std::io::ErrorKind;
    match io.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::NotFound => ConnectFailure::Refused,
        ErrorKind::TimedOut => ConnectFailure::Timeout,
        ErrorKind::PermissionDenied => ConnectFailure::Permission,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => ConnectFailure::Refused,
        _ => {
            let text = io.to_string().to_ascii_lowercase();
            if text.contains("lookup address")
                || text.contains("name or service not known")
                || text.contains("nodename nor servname")
                || text.contains("no address associated")
                || text.contains("name resolution")
                || text.contains("no such host")
            {
                ConnectFailure::HostNotFound
            } else if text.contains("tls") || text.contains("certificate") {
                ConnectFailure::Tls
            } else {
                ConnectFailure::Other
            }
        }
    }
}

/// Whether a `CREATE DATABASE`/`CREATE SCHEMA` failed only because another process created
/// the object first: `duplicate_database` (42P04), `duplicate_schema` (42P06), or the unique
/// violation PostgreSQL raises when two `CREATE`s race on its catalog (23505).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn is_already_exists(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("42P04" | "42P06" | "23505"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_io_errors() {
        use std::io::{Error as IoError, ErrorKind};
        let io = |kind, text: &str| sqlx::Error::Io(IoError::new(kind, text.to_owned()));
        assert_eq!(
            classify(&io(ErrorKind::ConnectionRefused, "refused")),
            ConnectFailure::Refused
        );
        assert_eq!(
            classify(&io(ErrorKind::TimedOut, "slow")),
            ConnectFailure::Timeout
        );
        assert_eq!(
            classify(&io(
                ErrorKind::Other,
                "failed to lookup address information: Name or service not known"
            )),
            ConnectFailure::HostNotFound
        );
        assert_eq!(
            classify(&sqlx::Error::PoolTimedOut),
            ConnectFailure::Timeout
        );
        assert_eq!(
            classify(&sqlx::Error::Tls("bad cert".into())),
            ConnectFailure::Tls
        );
        assert_eq!(classify(&sqlx::Error::RowNotFound), ConnectFailure::Other);
    }

    #[test]
    fn pool_options_apply_defaults_and_config() {
        let defaults = PoolDefaults {
            min: 1,
            max: 1,
            idle_timeout: None,
        };
        #[cfg(feature = "sqlite")]
        {
            let options = pool_options::<sqlx::Sqlite>(&PoolConfig::default(), &defaults);
            assert_eq!(options.get_max_connections(), 1);
            assert_eq!(options.get_min_connections(), 1);
            assert_eq!(options.get_acquire_timeout(), DEFAULT_ACQUIRE_TIMEOUT);
            assert_eq!(options.get_idle_timeout(), None);
            let config = PoolConfig {
                min: Some(5),
                max: Some(3),
                acquire_timeout: Some(Duration::from_secs(2)),
                idle_timeout: Some(Duration::from_secs(4)),
                create_timeout: Some(Duration::from_secs(1)),
                max_lifetime: Some(Duration::from_secs(9)),
            };
            let options = pool_options::<sqlx::Sqlite>(&config, &defaults);
            assert_eq!(options.get_max_connections(), 3);
            assert_eq!(options.get_min_connections(), 3);
            assert_eq!(options.get_acquire_timeout(), Duration::from_secs(2));
            assert_eq!(options.get_idle_timeout(), Some(Duration::from_secs(4)));
            assert_eq!(options.get_max_lifetime(), Some(Duration::from_secs(9)));
            assert_eq!(create_timeout(&config), Duration::from_secs(1));
        }
        let _ = defaults;
    }
}
