//! Schema migrations per plugin and per dialect, with a bookkeeping table per plugin (or per
//! component that shares a plugin's database).
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use backstage_database::DatabaseClient;
//! use backstage_database::migrations::{Migration, Migrations};
//!
//! // One connection: every connection to `sqlite::memory:` is its own empty database.
//! let pool = sqlx::sqlite::SqlitePoolOptions::new()
//!     .max_connections(1)
//!     .connect("sqlite::memory:")
//!     .await?;
//! let client = DatabaseClient::Sqlite(pool.clone());
//!
//! let migrations = Migrations::new()
//!     .add(Migration::new(1, "create bookmarks").all(
//!         "CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, url TEXT NOT NULL);
//!          CREATE INDEX bookmarks_url ON bookmarks (url);",
//!     ))
//!     .add(
//!         Migration::new(2, "add title")
//!             .postgres("ALTER TABLE bookmarks ADD COLUMN title TEXT")
//!             .mysql("ALTER TABLE bookmarks ADD COLUMN title VARCHAR(255)")
//!             .sqlite("ALTER TABLE bookmarks ADD COLUMN title TEXT"),
//!     );
//!
//! let report = migrations.run(&client).await?;
//! assert_eq!(report.applied, vec![(1, "create bookmarks".to_string()), (2, "add title".to_string())]);
//!
//! // Running again (a restart, another replica) applies nothing.
//! let report = migrations.run(&client).await?;
//! assert!(report.applied.is_empty());
//! assert_eq!(report.already_applied, 2);
//! assert!(migrations.pending(&client).await?.is_empty());
//!
//! sqlx::query("INSERT INTO bookmarks (url, title) VALUES ('https://backstage.io', 'Backstage')")
//!     .execute(&pool)
//!     .await?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```
//!
//! # Model
//!
//! A plugin owns its schema: it declares its [`Migration`]s in code (one SQL text per dialect,
//! or [`Migration::all`] for SQL every engine accepts) and runs them with [`Migrations::run`]
//! during its init, after [`DatabaseService::client`](crate::DatabaseService::client) and
//! unless [`DatabaseService::migrations_skip`](crate::DatabaseService::migrations_skip) says
//! otherwise. This is Backstage's Knex convention with the migration files compiled in.
//!
//! * **Order**: migrations run in ascending version order (`1, 2, 3` or timestamps such as
//!   `20240101120000`). A version below the highest applied one that is not applied yet (a
//!   branch merged late) is applied too, like Knex does.
//! * **Bookkeeping**: the table [`DEFAULT_TABLE`] (`backstage_migrations`) in the plugin's
//!   database or schema, one row per applied migration: `version`, `name`, `checksum` (the
//!   SHA-256 of that migration's SQL for this dialect, line endings normalised to `\n`) and
//!   `applied_at` (UTC). Core services that write into a plugin's database use their own
//!   table via [`Migrations::table`] (e.g. `backstage_backend_tasks__migrations`), so several
//!   components share one database without seeing each other's migrations.
//! * **Transactions**: on PostgreSQL and SQLite each migration and its bookkeeping row commit
//!   in one transaction: a failing migration is rolled back entirely and not recorded. MySQL
//!   and MariaDB commit DDL implicitly (`CREATE`, `ALTER`, `DROP`, ...), so a failing
//!   migration there may leave its earlier statements applied; the row is written right
//!   after the SQL succeeds, and the error says the migration may be partly applied. Keep
//!   MySQL migrations to one DDL statement each where possible.
//! * **Several statements**: a migration's SQL may hold several `;`-separated statements;
//!   they are sent as one multi-statement batch (sqlx's `raw_sql`), never split by hand, so
//!   semicolons inside strings, comments and function bodies are safe. Do not put `BEGIN` or
//!   `COMMIT` in migration SQL.
//! * **Refusals**, checked before any migration runs, each naming the table and migration:
//!   two migrations with one version or a table name that is not letters, digits and
//!   underscores ([`Error::InvalidMigrations`]); a migration without SQL for the client's
//!   engine ([`Error::MigrationDialectMissing`]); a recorded migration this build does not
//!   know, as after a downgrade (Knex's "migration directory is corrupt",
//!   [`Error::UnknownAppliedMigration`]); a recorded migration whose SQL changed since it was
//!   applied ([`Error::MigrationChecksumMismatch`]).
//! * **Replicas**: several replicas starting at once apply each migration exactly once.
//!   PostgreSQL takes a session advisory lock (`pg_advisory_lock`) keyed on the database,
//!   schema and table, on the one connection that runs everything; MySQL/MariaDB takes a named
//!   lock (`GET_LOCK`) derived from the database and table; SQLite applies each migration in a
//!   `BEGIN IMMEDIATE` transaction that first re-checks the bookkeeping table. Waiting is
//!   bounded by [`Migrations::lock_timeout`] (default [`DEFAULT_LOCK_TIMEOUT`]). The lock is
//!   released on success and on error; if the run is cancelled half-way, the locking
//!   connection is closed instead of returned to the pool, which ends the session and
//!   releases the lock with it (Knex would leave its lock row set).
//!
//! No down migrations: a rollback is a new migration, as Backstage plugins do in practice.
//! The bookkeeping is this crate's own, not Knex's `knex_migrations`, so a database migrated
//! by a Node.js plugin is not taken over.
//!
//! SQLite notes: statements that cannot run inside a transaction (`PRAGMA foreign_keys`,
//! `VACUUM`) do not belong in migrations; and a pool on plain `sqlite::memory:` gives each
//! connection its own empty database, so use one connection or a shared-cache URI
//! (`sqlite:file:<name>?mode=memory&cache=shared`).
//!
//! [`Error::InvalidMigrations`]: crate::Error::InvalidMigrations
//! [`Error::MigrationDialectMissing`]: crate::Error::MigrationDialectMissing
//! [`Error::UnknownAppliedMigration`]: crate::Error::UnknownAppliedMigration
//! [`Error::MigrationChecksumMismatch`]: crate::Error::MigrationChecksumMismatch

mod checksum;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{DatabaseClient, Engine, Error};

/// The default bookkeeping table: `backstage_migrations`.
pub const DEFAULT_TABLE: &str = "backstage_migrations";

/// How long [`Migrations::run`] waits by default for another replica's run to finish: ten
/// minutes.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest accepted bookkeeping table name, in bytes (PostgreSQL truncates identifiers
/// longer than 63 bytes).
pub const MAX_TABLE_NAME_LEN: usize = 63;

/// One migration: a version, a name, and its SQL per dialect.
///
/// The version orders migrations and identifies them in the bookkeeping table; the name is
/// for people (messages, logs, the table). Give the SQL for every engine the plugin supports,
/// with [`Migration::postgres`], [`Migration::sqlite`] and [`Migration::mysql`], or once
/// with [`Migration::all`]. Never change the SQL of a released migration: the run refuses a
/// changed checksum. Add a new migration instead.
///
/// ```
/// use backstage_database::Engine;
/// use backstage_database::migrations::Migration;
///
/// let m = Migration::new(20240101120000, "init")
///     .all("CREATE TABLE things (id BIGINT PRIMARY KEY)")
///     .mysql("CREATE TABLE things (id BIGINT PRIMARY KEY) ENGINE=InnoDB");
/// assert_eq!(m.version(), 20240101120000);
/// assert_eq!(m.sql(Engine::Postgres), Some("CREATE TABLE things (id BIGINT PRIMARY KEY)"));
/// assert_eq!(m.sql(Engine::MySql), Some("CREATE TABLE things (id BIGINT PRIMARY KEY) ENGINE=InnoDB"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    version: i64,
    name: String,
    postgres: Option<String>,
    sqlite: Option<String>,
    mysql: Option<String>,
}

impl Migration {
    /// A migration with no SQL yet.
    pub fn new(version: i64, name: &str) -> Self {
        Migration {
            version,
            name: name.to_owned(),
            postgres: None,
            sqlite: None,
            mysql: None,
        }
    }

    /// The SQL for PostgreSQL (replaces any set before).
    pub fn postgres(mut self, sql: &str) -> Self {
        self.postgres = Some(sql.to_owned());
        self
    }

    /// The SQL for SQLite (replaces any set before).
    pub fn sqlite(mut self, sql: &str) -> Self {
        self.sqlite = Some(sql.to_owned());
        self
    }

    /// The SQL for MySQL and MariaDB (replaces any set before).
    pub fn mysql(mut self, sql: &str) -> Self {
        self.mysql = Some(sql.to_owned());
        self
    }

    /// The same SQL for every dialect (replaces any set before; a later
    /// [`postgres`](Self::postgres), [`sqlite`](Self::sqlite) or [`mysql`](Self::mysql)
    /// overrides one dialect).
    pub fn all(self, sql: &str) -> Self {
        self.postgres(sql).sqlite(sql).mysql(sql)
    }

    /// The version.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL for `engine`, if given.
    pub fn sql(&self, engine: Engine) -> Option<&str> {
        match engine {
            Engine::Postgres => self.postgres.as_deref(),
            Engine::Sqlite => self.sqlite.as_deref(),
            Engine::MySql => self.mysql.as_deref(),
        }
    }

    /// The checksum recorded for this migration on `engine`: the lower-case hex SHA-256 of its
    /// SQL for that engine, with `\r\n` line endings turned into `\n` (so a checkout with other
    /// line endings does not count as a change). `None` without SQL for `engine`.
    pub fn checksum(&self, engine: Engine) -> Option<String> {
        self.sql(engine).map(checksum_of)
    }
}

fn checksum_of(sql: &str) -> String {
    if sql.contains("\r\n") {
        checksum::sha256_hex(sql.replace("\r\n", "\n").as_bytes())
    } else {
        checksum::sha256_hex(sql.as_bytes())
    }
}

/// A plugin's migrations, with the name of the table that records which ones ran.
///
/// Build it once (it is cheap to clone) and call [`Migrations::run`] at plugin init. See the
/// [module docs](self) for the rules.
#[derive(Clone, Debug)]
pub struct Migrations {
    table: String,
    lock_timeout: Duration,
    migrations: Vec<Migration>,
}

impl Default for Migrations {
    fn default() -> Self {
        Migrations::new()
    }
}

impl Migrations {
    /// No migrations yet, bookkeeping in [`DEFAULT_TABLE`].
    pub fn new() -> Self {
        Migrations {
            table: DEFAULT_TABLE.to_owned(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            migrations: Vec::new(),
        }
    }

    /// Record applied migrations in `name` instead of [`DEFAULT_TABLE`]. Components that share
    /// one database each need their own table. The name must be 1 to 63 ASCII letters, digits
    /// and underscores, not starting with a digit; it is checked when the migrations run.
    pub fn table(mut self, name: &str) -> Self {
        self.table = name.to_owned();
        self
    }

    /// How long [`run`](Self::run) waits for another replica that is running the same
    /// migrations before failing with [`Error::MigrationLockTimeout`] (default
    /// [`DEFAULT_LOCK_TIMEOUT`]). On MySQL/MariaDB it is rounded up to whole seconds; on
    /// SQLite each wait for the write lock is bounded by it.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Add a migration. Order of calls does not matter; versions do.
    #[allow(
        clippy::should_implement_trait,
        reason = "a builder step, not arithmetic: `Migrations::new().add(m1).add(m2)`"
    )]
    pub fn add(mut self, migration: Migration) -> Self {
        self.migrations.push(migration);
        self
    }

    /// Add several migrations.
    pub fn extend(mut self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.migrations.extend(migrations);
        self
    }

    /// The bookkeeping table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The migrations, in the order they were added.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Apply every migration not yet recorded, in version order, and record each one.
    ///
    /// Safe to call from several replicas at once (each migration is applied exactly once)
    /// and on every start (a second run applies nothing). Creates the bookkeeping table if
    /// it is missing.
    ///
    /// # Errors
    ///
    /// Before anything runs: [`Error::InvalidMigrations`] (invalid table name, duplicate
    /// versions), [`Error::MigrationDialectMissing`], [`Error::UnknownAppliedMigration`],
    /// [`Error::MigrationChecksumMismatch`]. While running: [`Error::MigrationFailed`] (the
    /// migration's SQL or its bookkeeping row failed; migrations before it stay applied),
    /// [`Error::MigrationLockTimeout`], [`Error::MigrationBookkeeping`] (connecting, locking,
    /// creating or reading the table).
    pub async fn run(&self, client: &DatabaseClient) -> Result<MigrationReport, Error> {
        let plan = self.plan(client.engine())?;
        let report = match client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => postgres::run(&plan, pool, self.lock_timeout).await?,
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => sqlite::run(&plan, pool, self.lock_timeout).await?,
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => mysql::run(&plan, pool, self.lock_timeout).await?,
        };
        tracing::debug!(
            table = %self.table,
            engine = %client.engine(),
            applied = report.applied.len(),
            already_applied = report.already_applied,
            "migrations up to date"
        );
        Ok(report)
    }

    /// The versions [`run`](Self::run) would apply now, in order. Reads only: takes no lock
    /// and does not create the bookkeeping table (a missing table means every migration is
    /// pending).
    ///
    /// # Errors
    ///
    /// The refusals of [`run`](Self::run) (invalid definitions, unknown applied migration,
    /// changed checksum) and [`Error::MigrationBookkeeping`] when the table cannot be read.
    pub async fn pending(&self, client: &DatabaseClient) -> Result<Vec<i64>, Error> {
        let plan = self.plan(client.engine())?;
        let applied = read_applied(&plan.ctx, client).await?;
        let done = plan.check(&applied)?;
        Ok(plan
            .steps
            .iter()
            .filter(|s| !done.contains(&s.version))
            .map(|s| s.version)
            .collect())
    }

    /// The migrations recorded in the bookkeeping table, by version; empty when the table
    /// does not exist. Does not compare them with this build's migrations.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMigrations`] for an invalid table name, [`Error::MigrationBookkeeping`]
    /// when the table cannot be read.
    pub async fn applied(&self, client: &DatabaseClient) -> Result<Vec<AppliedMigration>, Error> {
        let ctx = self.ctx(client.engine());
        validate_table(&ctx)?;
        read_applied(&ctx, client).await
    }

    fn ctx(&self, engine: Engine) -> Ctx<'_> {
        Ctx {
            table: &self.table,
            engine,
        }
    }

    /// Check the definitions for `engine` and order them, before touching the database.
    fn plan(&self, engine: Engine) -> Result<Plan<'_>, Error> {
        let ctx = self.ctx(engine);
        validate_table(&ctx)?;
        let mut seen: HashMap<i64, &str> = HashMap::with_capacity(self.migrations.len());
        for m in &self.migrations {
            if let Some(first) = seen.insert(m.version, &m.name) {
                return Err(ctx.invalid(format!(
                    "two migrations have version {}: '{first}' and '{}'",
                    m.version, m.name
                )));
            }
        }
        let mut steps = Vec::with_capacity(self.migrations.len());
        for m in &self.migrations {
            let Some(sql) = m.sql(engine) else {
                return Err(Error::MigrationDialectMissing {
                    table: ctx.table.to_owned(),
                    version: m.version,
                    name: m.name.clone(),
                    engine,
                });
            };
            steps.push(Step {
                version: m.version,
                name: &m.name,
                sql,
                checksum: checksum_of(sql),
            });
        }
        steps.sort_by_key(|s| s.version);
        Ok(Plan { ctx, steps })
    }
}

/// What [`Migrations::run`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// The migrations this run applied, `(version, name)` in the order applied.
    pub applied: Vec<(i64, String)>,
    /// How many of this build's migrations were already recorded (by an earlier run or, at
    /// the same time, by another replica).
    pub already_applied: usize,
}

/// One row of the bookkeeping table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The migration's version.
    pub version: i64,
    /// Its name when it was applied.
    pub name: String,
    /// The checksum of the SQL that was applied (see [`Migration::checksum`]).
    pub checksum: String,
    /// When it was applied (UTC).
    pub applied_at: DateTime<Utc>,
}

/// What became of a failed migration, for [`Error::MigrationFailed`]'s message.
pub(crate) fn failure_note(rolled_back: bool) -> &'static str {
    if rolled_back {
        "; it was rolled back and not recorded"
    } else {
        "; MySQL/MariaDB commits DDL implicitly, so it may be partly applied (not recorded): \
         undo its effects by hand before retrying"
    }
}

/// The table and engine a run is about; builds errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    table: &'a str,
    engine: Engine,
}

impl Ctx<'_> {
    fn invalid(&self, reason: String) -> Error {
        Error::InvalidMigrations {
            table: self.table.to_owned(),
            reason,
        }
    }

    /// An error of the bookkeeping (connect, lock, table) while `action`.
    fn bookkeeping(&self, action: &'static str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
        move |source| Error::MigrationBookkeeping {
            table: self.table.to_owned(),
            engine: self.engine,
            action,
            source,
        }
    }

    fn lock_timeout(&self, waited: Duration) -> Error {
        Error::MigrationLockTimeout {
            table: self.table.to_owned(),
            engine: self.engine,
            waited,
        }
    }

    /// `step` failed; `rolled_back` says whether its transaction undid it entirely.
    fn failed(&self, step: &Step<'_>, rolled_back: bool) -> impl FnOnce(sqlx::Error) -> Error {
        let table = self.table.to_owned();
        let engine = self.engine;
        let (version, name) = (step.version, step.name.to_owned());
        move |source| Error::MigrationFailed {
            table,
            version,
            name,
            engine,
            rolled_back,
            source,
        }
    }

    /// The table name, quoted for this engine (already validated: no quote characters).
    fn quoted_table(&self) -> String {
        match self.engine {
            Engine::MySql => format!("`{}`", self.table),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", self.table),
        }
    }

    /// A stable key for this database object, for lock names: SHA-256 of the parts.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn lock_digest(&self, scope: &[&str]) -> [u8; 32] {
        let mut input = String::from("backstage-database migrations");
        for part in scope.iter().chain([&self.table]) {
            input.push('\0');
            input.push_str(part);
        }
        checksum::sha256(input.as_bytes())
    }
}

fn validate_table(ctx: &Ctx<'_>) -> Result<(), Error> {
    let name = ctx.table;
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_chars || !starts_ok || name.len() > MAX_TABLE_NAME_LEN {
        return Err(ctx.invalid(format!(
            "the bookkeeping table name must be 1 to {MAX_TABLE_NAME_LEN} ASCII letters, digits \
             and underscores, not starting with a digit"
        )));
    }
    Ok(())
}

/// A migration prepared for one engine.
#[derive(Debug)]
pub(crate) struct Step<'a> {
    version: i64,
    name: &'a str,
    sql: &'a str,
    checksum: String,
}

/// The validated, ordered migrations for one engine.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    ctx: Ctx<'a>,
    steps: Vec<Step<'a>>,
}

impl Plan<'_> {
    fn step(&self, version: i64) -> Option<&Step<'_>> {
        self.steps
            .binary_search_by_key(&version, |s| s.version)
            .ok()
            .and_then(|i| self.steps.get(i))
    }

    /// Compare the recorded migrations with this build's: every recorded one must be known
    /// and unchanged. Returns the recorded versions.
    fn check(&self, applied: &[AppliedMigration]) -> Result<BTreeSet<i64>, Error> {
        let mut done = BTreeSet::new();
        for row in applied {
            self.check_row(row.version, &row.name, &row.checksum)?;
            done.insert(row.version);
        }
        Ok(done)
    }

    fn check_row(&self, version: i64, name: &str, recorded: &str) -> Result<(), Error> {
        let ctx = &self.ctx;
        let Some(step) = self.step(version) else {
            return Err(Error::UnknownAppliedMigration {
                table: ctx.table.to_owned(),
                version,
                name: name.to_owned(),
            });
        };
        if step.checksum != recorded {
            return Err(Error::MigrationChecksumMismatch {
                table: ctx.table.to_owned(),
                version,
                name: step.name.to_owned(),
                engine: ctx.engine,
                recorded: recorded.to_owned(),
                expected: step.checksum.clone(),
            });
        }
        Ok(())
    }

    fn log_applied(&self, step: &Step<'_>, took: Duration) {
        tracing::info!(
            table = self.ctx.table,
            engine = %self.ctx.engine,
            version = step.version,
            name = step.name,
            took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            "applied migration"
        );
    }
}

async fn read_applied(
    ctx: &Ctx<'_>,
    client: &DatabaseClient,
) -> Result<Vec<AppliedMigration>, Error> {
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => postgres::read_applied(ctx, pool).await,
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => sqlite::read_applied(ctx, pool).await,
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => mysql::read_applied(ctx, pool).await,
    }
}

/// A connection holding a session-level lock (PostgreSQL advisory lock, MySQL named lock).
/// Unless [`release`](SessionLock::release) succeeded, dropping it closes the connection
/// instead of returning it to the pool: ending the session releases the lock, even when the
/// run was cancelled half-way.
#[cfg(any(feature = "postgres", feature = "mysql"))]
struct SessionLock<DB: sqlx::Database> {
    conn: sqlx::pool::PoolConnection<DB>,
    /// The lock may be held: close on drop.
    held: bool,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: sqlx::Database> SessionLock<DB> {
    fn new(conn: sqlx::pool::PoolConnection<DB>) -> Self {
        SessionLock { conn, held: false }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: sqlx::Database> Drop for SessionLock<DB> {
    fn drop(&mut self) {
        if self.held {
            self.conn.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_orders_and_checks() {
        let m = Migrations::new()
            .add(Migration::new(3, "c").all("SELECT 3"))
            .add(Migration::new(1, "a").all("SELECT 1"));
        let plan = m.plan(Engine::Sqlite).unwrap();
        let versions: Vec<i64> = plan.steps.iter().map(|s| s.version).collect();
        assert_eq!(versions, [1, 3]);
    }

    #[test]
    fn duplicate_versions_are_refused() {
        let m = Migrations::new()
            .add(Migration::new(1, "a").all("SELECT 1"))
            .add(Migration::new(1, "b").all("SELECT 2"));
        let err = m.plan(Engine::Postgres).unwrap_err();
        assert!(matches!(err, Error::InvalidMigrations { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("version 1") && msg.contains("'a'") && msg.contains("'b'"),
            "{msg}"
        );
    }

    #[test]
    fn table_names_are_validated() {
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "a\"b",
            "a`b",
            "tâble",
            &"x".repeat(64),
        ] {
            let err = Migrations::new()
                .table(bad)
                .plan(Engine::Sqlite)
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidMigrations { .. }),
                "{bad}: {err}"
            );
        }
        for good in ["_x", "backstage_backend_tasks__migrations", &"x".repeat(63)] {
            Migrations::new().table(good).plan(Engine::Sqlite).unwrap();
        }
    }

    #[test]
    fn missing_dialect_is_named() {
        let m = Migrations::new().add(Migration::new(7, "pg only").postgres("SELECT 1"));
        let err = m.plan(Engine::MySql).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::MigrationDialectMissing { version: 7, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("7") && msg.contains("pg only") && msg.contains("mysql"),
            "{msg}"
        );
        assert!(msg.contains("backstage_migrations"), "{msg}");
    }

    #[test]
    fn checksum_ignores_line_endings_only() {
        let a = Migration::new(1, "a").all("SELECT 1;\nSELECT 2;");
        let b = Migration::new(1, "a").all("SELECT 1;\r\nSELECT 2;");
        let c = Migration::new(1, "a").all("SELECT 1;\nSELECT 3;");
        assert_eq!(a.checksum(Engine::Sqlite), b.checksum(Engine::Sqlite));
        assert_ne!(a.checksum(Engine::Sqlite), c.checksum(Engine::Sqlite));
        assert_eq!(
            Migration::new(1, "x")
                .all("")
                .checksum(Engine::Postgres)
                .as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn all_then_override() {
        let m = Migration::new(1, "a").all("A").mysql("M");
        assert_eq!(m.sql(Engine::Postgres), Some("A"));
        assert_eq!(m.sql(Engine::Sqlite), Some("A"));
        assert_eq!(m.sql(Engine::MySql), Some("M"));
        assert_eq!(Migration::new(1, "a").sql(Engine::Sqlite), None);
    }
}
