//! # backstage-database
//!
//! Per-plugin logical databases on sqlx (PostgreSQL, SQLite, MySQL/MariaDB), as Backstage's
//! database service gives them: every plugin gets its own database (or schema, or SQLite
//! file), configured from `backend.database`, so plugins evolve and migrate independently.

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
pub use service::{DATABASE, DatabaseService, database_service_factory};
pub use scheduler::{
    DatabaseScheduler, SchedulerOptions, scheduler_service_factory, scheduler_service_factory_with,
};

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
