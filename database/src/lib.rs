//! # backstage-database
//!
//! Per-plugin logical databases on sqlx (PostgreSQL, SQLite, MySQL/MariaDB), as Backstage's
//! database service gives them: every plugin gets its own database (or schema, or SQLite
//! file), configured from `backend.database` with Backstage's keys, so plugins evolve and
//! migrate independently.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use backstage_backend_common::config::ConfigReader;
//! use backstage_database::query::sea_query::{Iden, Query};
//! use backstage_database::{DatabaseManager, DatabaseService, Migration, Migrations};
//! use serde_json::json;
//!
//! // No `backend.database` block: every plugin gets a private in-memory SQLite database.
//! let manager = DatabaseManager::from_config(&ConfigReader::from_value(json!({})))?;
//! let database = manager.for_plugin("todo")?; // in a plugin: the `DATABASE` service
//! let client = database.client().await?;
//!
//! let migrations = Migrations::new().add(
//!     Migration::new(1, "create todos").all("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL)"),
//! );
//! if !database.migrations_skip() {
//!     assert_eq!(migrations.run(&client).await?.applied.len(), 1);
//! }
//! assert!(migrations.pending(&client).await?.is_empty()); // idempotent on restart
//!
//! #[derive(Iden)]
//! enum Todos { Table, Title }
//! let insert = Query::insert()
//!     .into_table(Todos::Table)
//!     .columns([Todos::Title])
//!     .values_panic(["write docs".into()])
//!     .to_owned();
//! assert_eq!(client.execute(&insert).await?, 1); // same code on PostgreSQL and MySQL
//! manager.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## In a backend
//!
//! Add [`service_factories`] (the [`DATABASE`] service and the database-backed
//! scheduler) to a `backstage-core-app-api` backend; plugins declare `DATABASE` as a
//! dependency and receive `Arc<dyn DatabaseService>`. The backend assembler adds them, not
//! `core-app-api` itself, which names no driver (see `docs/architecture.md`).
//!
//! | Module | What |
//! |---|---|
//! | [`DatabaseManager`], [`PluginDatabase`] | `backend.database` (client spellings `pg`, `better-sqlite3`/`sqlite3`, `mysql`/`mysql2`; `connection` as URL or object; `prefix`, `ensureExists`, `ensureSchemaExists`, `pluginDivisionMode`, `schemaPrefix`, `role`, `skipMigrations`, `knexConfig.pool`, `plugin.<id>` overrides), creation of databases and schemas, one pool per plugin |
//! | [`DatabaseClient`] | the plugin's pool, typed per engine |
//! | [`migrations`] | per-plugin, per-dialect migrations with a bookkeeping table, locking across replicas |
//! | [`query`] | dialect-neutral queries with `sea_query`: one statement, three engines |
//! | [`scheduler`] | the cross-replica scheduler: `global` tasks on exactly one replica at a time (a lease row) |
//!
//! ## Engines and features
//!
//! Each engine is a cargo feature: `sqlite` (default, embedded: the default build needs no
//! server), `postgres`, `mysql` (also MariaDB). A config naming an engine whose feature is off
//! fails with an error saying which feature to enable.
//!
//! ## Where we differ from Backstage
//!
//! Deliberate, following `../shared/spec/decisions.md`: databases and schemas are created
//! with the plugin's effective connection (maintenance database configurable, default
//! `postgres`); per-plugin `role` and `ensureSchemaExists` are honoured; a failed first
//! connection is retried on the next `client()` call; in-memory SQLite is one shared database
//! per plugin kept alive for the process; SQLite files use WAL; names over 63 bytes are
//! rejected on PostgreSQL instead of silently truncated; migrations are our own runner
//! (bookkeeping table `backstage_migrations` per plugin, an unknown applied migration is an
//! error naming it), not Knex's `knex_migrations`.

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!(
    "backstage-database needs at least one engine feature: `sqlite` (default), `postgres` or `mysql`"
);

mod config;
mod connect;
mod error;
mod manager;
pub mod migrations;
pub mod query;
pub mod scheduler;
mod service;

pub use error::{ConnectFailure, Error, is_unique_violation};
pub use manager::{DatabaseManager, ManagerOptions, PluginDatabase};
pub use migrations::{AppliedMigration, Migration, MigrationReport, Migrations};
pub use scheduler::{
    DatabaseScheduler, SchedulerOptions, scheduler_service_factory, scheduler_service_factory_with,
};
pub use service::{DATABASE, DatabaseService, database_service_factory};

/// The factories a backend with a database installs: the [`DATABASE`] service and the
/// database-backed scheduler (replacing the in-process one, so `global` tasks run on one
/// replica at a time).
pub fn service_factories() -> Vec<backstage_core_plugin_api::ServiceFactory> {
    vec![database_service_factory(), scheduler_service_factory()]
}

use std::fmt;

/// A database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// PostgreSQL (`client: pg`).
    Postgres,
    /// SQLite (`client: better-sqlite3` or `sqlite3`).
    Sqlite,
    /// MySQL or MariaDB (`client: mysql` or `mysql2`).
    MySql,
}

impl Engine {
    /// `postgres`, `sqlite` or `mysql`: the name used in messages and cargo features.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Sqlite => "sqlite",
            Engine::MySql => "mysql",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plugin's connection pool, typed per engine (sqlx's `Any` driver is too limited: no
/// timestamps, JSON or correct placeholders on PostgreSQL). Cheap to clone.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DatabaseClient {
    /// A PostgreSQL pool (database mode, or schema mode with `search_path` pinned).
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A MySQL/MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

impl DatabaseClient {
    /// The engine.
    pub fn engine(&self) -> Engine {
        match self {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(_) => Engine::Postgres,
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(_) => Engine::Sqlite,
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(_) => Engine::MySql,
        }
    }
}
