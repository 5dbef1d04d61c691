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

    /// `backend.database.schemaPrefix` is not a plain SQL identifier prefix.
    #[error(
        "Invalid schemaPrefix \"{schema_prefix}\". It must match ^[a-zA-Z_][a-zA-Z0-9_]*$: start with a letter or underscore and contain only letters, digits and underscores"
    )]
    InvalidSchemaPrefix {
        /// The configured value.
        schema_prefix: String,
    },

    /// `backend.database.pluginDivisionMode` is neither `database` nor `schema`.
    #[error(
        "Invalid backend.database.pluginDivisionMode '{mode}': expected 'database' or 'schema'"
    )]
    InvalidDivisionMode {
        /// The configured value.
        mode: String,
    },

    /// The plugin's engine cannot divide plugins this way (`schema` on SQLite or MySQL).
    #[error(
        "The {driver} driver does not support plugin division mode '{mode}' (plugin '{plugin_id}')"
    )]
    DivisionModeUnsupported {
        /// `SQLite` or `MySQL`.
        driver: &'static str,
        /// The division mode.
        mode: String,
        /// The plugin.
        plugin_id: String,
    },

    /// A database config value is out of range or malformed (pool sizes, timeouts).
    #[error("Invalid database config for plugin '{plugin_id}' at '{key}': {reason}")]
    InvalidConfig {
        /// The plugin.
        plugin_id: String,
        /// The key, relative to `backend.database` (merged with the plugin's override).
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// The plugin's effective `connection` cannot be used (wrong type, bad port, bad URL).
    /// Never contains the password.
    #[error("Invalid {engine} connection config for plugin '{plugin_id}': {reason}")]
    InvalidConnection {
        /// The plugin.
        plugin_id: String,
        /// The engine.
        engine: crate::Engine,
        /// What is wrong.
        reason: String,
    },

    /// A MySQL connection string does not follow
    /// `mysql://user:password@host[:port]/database` (Backstage's message).
    #[error("Error while parsing MySQL connection string, {reason} (plugin '{plugin_id}')")]
    MySqlConnectionString {
        /// The plugin.
        plugin_id: String,
        /// Why, as Backstage words it (`Error: Missing username/password`).
        reason: String,
    },

    /// `connection.type` asks for cloud IAM authentication, which this crate does not
    /// implement, or names an unknown type.
    #[error(
        "Connection type '{connection_type}' of plugin '{plugin_id}' is not supported: cloud IAM authentication (azure, cloudsql, rds) is not implemented by this backend; use type 'default' with a password"
    )]
    UnsupportedConnectionType {
        /// The plugin.
        plugin_id: String,
        /// The configured `connection.type`.
        connection_type: String,
    },

    /// The base SQLite connection names a file (Backstage's message).
    #[error(
        "`connection.filename` is not supported for the base sqlite connection. Prefer `connection.directory` or provide a filename for the plugin connection instead. (plugin '{plugin_id}')"
    )]
    SqliteBaseFilename {
        /// The plugin.
        plugin_id: String,
    },

    /// A PostgreSQL database or schema name is longer than the server's 63-byte identifier
    /// limit (PostgreSQL would silently truncate it). Found at plugin start.
    #[error(
        "PostgreSQL {kind} name \"{name}\" for plugin '{plugin_id}' is {bytes} bytes, over the 63-byte limit. {hint}"
    )]
    NameTooLong {
        /// The plugin.
        plugin_id: String,
        /// `database` or `schema`.
        kind: &'static str,
        /// The full name.
        name: String,
        /// Its length in bytes (UTF-8).
        bytes: usize,
        /// What to shorten.
        hint: String,
    },

    /// Making sure the plugin's database exists failed (connecting to the maintenance
    /// database, checking, or `CREATE DATABASE`).
    #[error(
        "Failed to connect to the database to make sure that '{database}' exists, {failure}: {source} (plugin '{plugin_id}', {engine} at {server})"
    )]
    EnsureDatabase {
        /// The plugin.
        plugin_id: String,
        /// The engine.
        engine: crate::Engine,
        /// The database that should exist.
        database: String,
        /// `host:port`, or the socket path.
        server: String,
        /// What kind of failure it was.
        failure: ConnectFailure,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },

    /// Making sure the plugin's schema exists failed (PostgreSQL schema mode).
    #[error(
        "Failed to connect to the database to make sure that schema for plugin '{plugin_id}' exists, {failure}: {source} (schema '{schema}' in postgres database '{database}' at {server})"
    )]
    EnsureSchema {
        /// The plugin.
        plugin_id: String,
        /// The schema.
        schema: String,
        /// The database holding it (the server default when none is configured).
        database: String,
        /// `host:port`, or the socket path.
        server: String,
        /// What kind of failure it was.
        failure: ConnectFailure,
        /// The driver error.
        #[source]
        source: Box<sqlx::Error>,
    },

    /// The plugin's schema is missing and creating it is disabled.
    #[error(
        "Schema '{schema}' for plugin '{plugin_id}' does not exist in postgres database '{database}', and creating it is disabled (ensureExists and ensureSchemaExists are false): create it, or set ensureSchemaExists: true"
    )]
    MissingSchema {
        /// The plugin.
        plugin_id: String,
        /// The schema.
        schema: String,
        /// The database.
        database: String,
    },

    /// Connecting to the plugin's own database failed.
    #[error(
        "Plugin '{plugin_id}' could not connect to {engine} database '{database}' at {server}: {failure}: {source}"
    )]
    Connect {
        /// The plugin.
        plugin_id: String,
        /// The engine.
        engine: crate::Engine,
        /// The database (SQLite: the file, or `:memory:`).
        database: String,
        /// `host:port`, the socket path, or the SQLite file.
        server: String,
        /// What kind of failure it was.
        failure: ConnectFailure,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },

    /// The directory of a plugin's SQLite file could not be created.
    #[error(
        "Failed to create the directory of SQLite database '{}' for plugin '{plugin_id}': {source}",
        path.display()
    )]
    SqliteDirectory {
        /// The plugin.
        plugin_id: String,
        /// The database file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// [`DatabaseManager::close`](crate::DatabaseManager::close) has run: no new clients.
    #[error("The database manager is closed; plugin '{plugin_id}' cannot get a database client")]
    Closed {
        /// The plugin.
        plugin_id: String,
    },

    /// Another caller's concurrent attempt to get this plugin's client failed while this
    /// caller waited for it; `message` is that failure. The next call tries again.
    #[error("{message}")]
    SharedAttempt {
        /// The plugin.
        plugin_id: String,
        /// The failure of the attempt this caller waited for.
        message: String,
        /// Its kind, when it was a connection failure.
        failure: Option<ConnectFailure>,
    },

    /// Migrations that cannot run: an invalid bookkeeping table name or two migrations with
    /// one version. Found before anything runs.
    #[error("invalid migrations (bookkeeping table '{table}'): {reason}")]
    InvalidMigrations {
        /// The bookkeeping table.
        table: String,
        /// What is wrong.
        reason: String,
    },

    /// A migration has no SQL for the client's engine. Found before anything runs.
    #[error(
        "migration {version} '{name}' (bookkeeping table '{table}') has no SQL for {engine}: give it with Migration::{engine}(..) or Migration::all(..)"
    )]
    MigrationDialectMissing {
        /// The bookkeeping table.
        table: String,
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// The engine it lacks SQL for.
        engine: crate::Engine,
    },

    /// The bookkeeping table records a migration this build does not have (a downgrade, or a
    /// newer replica ran first; Knex's "migration directory is corrupt"). Nothing runs.
    #[error(
        "applied migration {version} '{name}' recorded in table '{table}' is not known to this build of the plugin (was it downgraded?): refusing to run migrations"
    )]
    UnknownAppliedMigration {
        /// The bookkeeping table.
        table: String,
        /// The recorded version.
        version: i64,
        /// The recorded name.
        name: String,
    },

    /// An applied migration's SQL changed since it was applied. Nothing runs.
    #[error(
        "migration {version} '{name}' recorded in table '{table}' was applied with checksum {recorded}, but this build's {engine} SQL has checksum {expected}: an applied migration must not change, add a new one instead"
    )]
    MigrationChecksumMismatch {
        /// The bookkeeping table.
        table: String,
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// The engine.
        engine: crate::Engine,
        /// The checksum in the bookkeeping table.
        recorded: String,
        /// The checksum of this build's SQL.
        expected: String,
    },

    /// A migration's SQL (or its bookkeeping row) failed. Migrations before it stay applied.
    #[error(
        "migration {version} '{name}' (bookkeeping table '{table}') failed on {engine}{}: {source}",
        crate::migrations::failure_note(*.rolled_back)
    )]
    MigrationFailed {
        /// The bookkeeping table.
        table: String,
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// The engine.
        engine: crate::Engine,
        /// Whether its transaction undid it entirely (PostgreSQL, SQLite). On MySQL/MariaDB,
        /// DDL commits implicitly, so the migration may be partly applied.
        rolled_back: bool,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },

    /// The migration machinery (connecting, locking, creating or reading the bookkeeping
    /// table) failed.
    #[error(
        "migrations with bookkeeping table '{table}' on {engine} failed while {action}: {source}"
    )]
    MigrationBookkeeping {
        /// The bookkeeping table.
        table: String,
        /// The engine.
        engine: crate::Engine,
        /// What was being done.
        action: &'static str,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },

    /// Another replica held the migration lock longer than the lock timeout.
    #[error(
        "gave up after {:.1}s waiting for the lock of migrations table '{table}' on {engine}: another replica is running these migrations",
        .waited.as_secs_f64()
    )]
    MigrationLockTimeout {
        /// The bookkeeping table.
        table: String,
        /// The engine.
        engine: crate::Engine,
        /// How long it waited.
        waited: std::time::Duration,
    },
}

/// What kind of failure a connection attempt hit, so the message (and callers) can say
/// what to fix.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectFailure {
    /// The server rejected the user name or password.
    Authentication,
    /// The host name could not be resolved.
    HostNotFound,
    /// TLS could not be negotiated or the certificate was rejected.
    Tls,
    /// Nothing listens at the address (or the socket file is missing).
    Refused,
    /// Connecting took longer than the connect timeout.
    Timeout,
    /// The user lacks a privilege (`CREATEDB`, `CONNECT`, `CREATE` on the database, …).
    Permission,
    /// The database does not exist.
    MissingDatabase,
    /// The server refused because it has too many connections.
    TooManyConnections,
    /// Anything else; the driver error says what.
    Other,
}

impl ConnectFailure {
    /// A short description with a hint at what to check.
    pub fn describe(self) -> &'static str {
        match self {
            ConnectFailure::Authentication => {
                "authentication failed (check connection.user and connection.password)"
            }
            ConnectFailure::HostNotFound => {
                "the host name could not be resolved (check connection.host)"
            }
            ConnectFailure::Tls => {
                "the TLS handshake failed (check connection.ssl, sslmode and the certificates)"
            }
            ConnectFailure::Refused => {
                "the connection was refused (is the server running and listening on that host and port?)"
            }
            ConnectFailure::Timeout => "the connection attempt timed out",
            ConnectFailure::Permission => "permission denied",
            ConnectFailure::MissingDatabase => {
                "the database does not exist (create it, or leave ensureExists on)"
            }
            ConnectFailure::TooManyConnections => {
                "the server has too many connections (lower knexConfig.pool.max or raise the server's limit)"
            }
            ConnectFailure::Other => "the connection failed",
        }
    }
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl Error {
    /// The kind of connection failure behind this error, if it is one
    /// ([`Error::Connect`], [`Error::EnsureDatabase`], [`Error::EnsureSchema`], or a
    /// [`Error::SharedAttempt`] of one of those).
    pub fn connect_failure(&self) -> Option<ConnectFailure> {
        match self {
            Error::Connect { failure, .. }
            | Error::EnsureDatabase { failure, .. }
            | Error::EnsureSchema { failure, .. } => Some(*failure),
            Error::SharedAttempt { failure, .. } => *failure,
            _ => None,
        }
    }
}

/// Whether `err` is a unique-constraint violation: SQLSTATE 23505 on PostgreSQL, error 1062
/// (and its siblings) on MySQL/MariaDB, extended code 2067 (`SQLITE_CONSTRAINT_UNIQUE`) or
/// 1555 (`SQLITE_CONSTRAINT_PRIMARYKEY`) on SQLite. Backstage's `isDatabaseConflictError`,
/// without matching message text.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use backstage_database::is_unique_violation;
///
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(&pool).await?;
/// sqlx::query("INSERT INTO t VALUES (1)").execute(&pool).await?;
/// let err = sqlx::query("INSERT INTO t VALUES (1)").execute(&pool).await.unwrap_err();
/// assert!(is_unique_violation(&err));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || matches!(db.code().as_deref(), Some("23505" | "2067" | "1555"))
        }
        _ => false,
    }
}
