//! The database manager's conformance suite: one test body, [`conformance`], run against
//! every engine setup (PostgreSQL in database and schema mode, MariaDB, SQLite in memory and
//! in a directory) on real servers.
//!
//! Servers come from `POSTGRES_URL` and `MYSQL_URL` (see `backstage-test-support`); a missing
//! server fails the test. Run with
//! `scripts/with-servers cargo test -p backstage-database --all-features --test conformance`.
//! Every run uses its own name prefix, so runs do not collide, and drops what it created.
//! Each setup is gated on its engine's feature; without `postgres` and `mysql` only the
//! SQLite setups run.

// The server helpers are unused when a server engine's feature is off.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_variables, unused_imports)
)]

use std::collections::BTreeSet;
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;
use backstage_database::{
    ConnectFailure, DatabaseClient, DatabaseManager, DatabaseService, Engine, Error,
    ManagerOptions, PluginDatabase,
};
use backstage_test_support::unique_name;
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

// ---------------------------------------------------------------------------------------
// Engine setups
// ---------------------------------------------------------------------------------------

/// One way of running the manager.
enum Setup {
    #[cfg(feature = "postgres")]
    PgDatabase,
    #[cfg(feature = "postgres")]
    PgSchema,
    #[cfg(feature = "mysql")]
    MariaDb,
    #[cfg(feature = "sqlite")]
    SqliteMemory,
    #[cfg(feature = "sqlite")]
    SqliteDirectory,
}

/// A setup in use: its names, scratch directory and what to drop afterwards.
struct Run {
    setup: Setup,
    /// Prefix of every database (pg, mysql) or schema (pg schema mode) this run creates.
    prefix: String,
    /// The shared database of PostgreSQL schema mode.
    shared_database: Option<String>,
    /// Scratch space (SQLite files, blocked paths).
    dir: tempfile::TempDir,
    cleanup: Cleanup,
}

/// What to drop on the way out; [`Run`] drops it even when a check panics.
#[derive(Default)]
struct Cleanup {
    pg_databases_with_prefix: Option<String>,
    /// Dropped after the databases (which they may own).
    pg_roles: std::sync::Mutex<Vec<String>>,
    mysql_databases_with_prefix: Option<String>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let work = std::mem::take(&mut self.cleanup);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(work.run());
        });
        let _ = thread.join();
    }
}

impl Cleanup {
    async fn run(self) {
        let roles = self
            .pg_roles
            .lock()
            .map(|roles| roles.clone())
            .unwrap_or_default();
        #[cfg(feature = "postgres")]
        if let Some(prefix) = &self.pg_databases_with_prefix {
            let admin = pg_admin().await;
            let all: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database")
                .fetch_all(&admin)
                .await
                .unwrap_or_default();
            for name in all.into_iter().filter(|n| n.starts_with(prefix.as_str())) {
                let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg_quote(&name));
                if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&admin).await {
                    eprintln!("cleanup: dropping database {name}: {e}");
                }
            }
            for role in &roles {
                let sql = format!("DROP ROLE IF EXISTS {}", pg_quote(role));
                if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&admin).await {
                    eprintln!("cleanup: dropping role {role}: {e}");
                }
            }
            admin.close().await;
        }
        #[cfg(feature = "mysql")]
        if let Some(prefix) = &self.mysql_databases_with_prefix {
            let admin = mysql_admin().await;
            let all: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA",
            )
            .fetch_all(&admin)
            .await
            .unwrap_or_default();
            for name in all.into_iter().filter(|n| n.starts_with(prefix.as_str())) {
                let sql = format!("DROP DATABASE IF EXISTS `{}`", name.replace('`', "``"));
                if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&admin).await {
                    eprintln!("cleanup: dropping database {name}: {e}");
                }
            }
            admin.close().await;
        }
        let _ = (&self.mysql_databases_with_prefix, roles);
    }
}

fn pg_quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(feature = "postgres")]
fn postgres_url() -> url::Url {
    let raw = backstage_test_support::Server::Postgres.url();
    url::Url::parse(&raw).expect("POSTGRES_URL is a URL")
}

#[cfg(feature = "postgres")]
async fn pg_admin() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(backstage_test_support::Server::Postgres.url().as_str())
        .await
        .expect("connect to POSTGRES_URL")
}

#[cfg(feature = "postgres")]
async fn pg_admin_on(database: &str) -> sqlx::PgPool {
    let mut url = postgres_url();
    url.set_path(database);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url.as_str())
        .await
        .expect("connect to the test database")
}

#[cfg(feature = "mysql")]
async fn mysql_admin() -> sqlx::MySqlPool {
    sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect(backstage_test_support::Server::MySql.url().as_str())
        .await
        .expect("connect to MYSQL_URL")
}

/// MYSQL_URL as a connection object (Backstage's MySQL URL form needs a password, and
/// the test server's root has none).
#[cfg(feature = "mysql")]
fn mysql_connection() -> Value {
    let url = url::Url::parse(&backstage_test_support::Server::MySql.url()).expect("MYSQL_URL");
    let mut connection = json!({
        "host": url.host_str().unwrap_or("127.0.0.1"),
        "port": url.port().unwrap_or(3306),
        "user": if url.username().is_empty() { "root" } else { url.username() },
    });
    if let Some(password) = url.password() {
        connection["password"] = json!(password);
    }
    connection
}

async fn admin_exec(run: &Run, sql: &str) {
    match run.setup.engine() {
        #[cfg(feature = "postgres")]
        Engine::Postgres => {
            let admin = match &run.shared_database {
                Some(db) => pg_admin_on(db).await,
                None => pg_admin().await,
            };
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&admin)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            admin.close().await;
        }
        #[cfg(feature = "mysql")]
        Engine::MySql => {
            let admin = mysql_admin().await;
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&admin)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            admin.close().await;
        }
        _ => panic!("no admin SQL for {}", run.setup.name()),
    }
}

impl Setup {
    fn name(&self) -> &'static str {
        match self {
            #[cfg(feature = "postgres")]
            Setup::PgDatabase => "postgres (database mode)",
            #[cfg(feature = "postgres")]
            Setup::PgSchema => "postgres (schema mode)",
            #[cfg(feature = "mysql")]
            Setup::MariaDb => "mariadb",
            #[cfg(feature = "sqlite")]
            Setup::SqliteMemory => "sqlite (memory)",
            #[cfg(feature = "sqlite")]
            Setup::SqliteDirectory => "sqlite (directory)",
        }
    }

    fn engine(&self) -> Engine {
        match self {
            #[cfg(feature = "postgres")]
            Setup::PgDatabase | Setup::PgSchema => Engine::Postgres,
            #[cfg(feature = "mysql")]
            Setup::MariaDb => Engine::MySql,
            #[cfg(feature = "sqlite")]
            Setup::SqliteMemory | Setup::SqliteDirectory => Engine::Sqlite,
        }
    }

    fn is_schema_mode(&self) -> bool {
        #[cfg(feature = "postgres")]
        if matches!(self, Setup::PgSchema) {
            return true;
        }
        false
    }

    fn is_server(&self) -> bool {
        self.engine() != Engine::Sqlite
    }

    /// Starts a run: unique names, scratch space, and the shared database of schema mode.
    async fn start(self) -> Run {
        let prefix = format!("{}_", unique_name("bsconf"));
        let mut cleanup = Cleanup::default();
        let mut shared_database = None;
        match self.engine() {
            Engine::Postgres => {
                cleanup.pg_databases_with_prefix = Some(prefix.clone());
                if self.is_schema_mode() {
                    let name = format!("{prefix}shared");
                    #[cfg(feature = "postgres")]
                    {
                        let admin = pg_admin().await;
                        sqlx::raw_sql(AssertSqlSafe(format!(
                            "CREATE DATABASE {}",
                            pg_quote(&name)
                        )))
                        .execute(&admin)
                        .await
                        .expect("create the shared database");
                        admin.close().await;
                    }
                    shared_database = Some(name);
                }
            }
            Engine::MySql => cleanup.mysql_databases_with_prefix = Some(prefix.clone()),
            Engine::Sqlite => {}
        }
        Run {
            setup: self,
            prefix,
            shared_database,
            dir: tempfile::tempdir().expect("tempdir"),
            cleanup,
        }
    }
}

impl Run {
    /// The `backend.database` block of this setup, with `extra` keys merged in.
    fn block(&self, extra: Value) -> Value {
        let mut block = match &self.setup {
            #[cfg(feature = "postgres")]
            Setup::PgDatabase => json!({
                "client": "pg",
                "connection": backstage_test_support::Server::Postgres.url(),
                "prefix": self.prefix,
            }),
            #[cfg(feature = "postgres")]
            Setup::PgSchema => {
                let mut url = postgres_url();
                url.set_path(self.shared_database.as_deref().unwrap_or_default());
                json!({
                    "client": "pg",
                    "connection": url.as_str(),
                    "pluginDivisionMode": "schema",
                    "schemaPrefix": self.prefix,
                })
            }
            #[cfg(feature = "mysql")]
            Setup::MariaDb => json!({
                "client": "mysql2",
                "connection": mysql_connection(),
                "prefix": self.prefix,
            }),
            #[cfg(feature = "sqlite")]
            Setup::SqliteMemory => json!({ "client": "better-sqlite3", "connection": ":memory:" }),
            #[cfg(feature = "sqlite")]
            Setup::SqliteDirectory => json!({
                "client": "better-sqlite3",
                "connection": { "directory": self.dir.path().join("plugins") },
            }),
        };
        if let (Value::Object(block), Value::Object(extra)) = (&mut block, extra) {
            for (key, value) in extra {
                block.insert(key, value);
            }
        }
        block
    }

    fn manager(&self, extra: Value) -> DatabaseManager {
        DatabaseManager::with_options(&root(self.block(extra)), test_options())
            .unwrap_or_else(|e| panic!("{}: manager: {e}", self.setup.name()))
    }

    /// The name the plugin's data lives under: database (pg, mysql), schema (pg schema
    /// mode) or file.
    fn object_name(&self, plugin: &str) -> String {
        match self.setup.engine() {
            Engine::Sqlite => format!("{plugin}.sqlite"),
            _ => format!("{}{plugin}", self.prefix),
        }
    }

    /// Whether the plugin's database/schema/file exists, looked up out of band.
    async fn exists(&self, plugin: &str) -> bool {
        let name = self.object_name(plugin);
        match &self.setup {
            #[cfg(feature = "postgres")]
            Setup::PgDatabase => {
                let admin = pg_admin().await;
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                        .bind(&name)
                        .fetch_one(&admin)
                        .await
                        .expect("pg_database");
                admin.close().await;
                n == 1
            }
            #[cfg(feature = "postgres")]
            Setup::PgSchema => {
                let admin = pg_admin_on(self.shared_database.as_deref().unwrap_or_default()).await;
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
                        .bind(&name)
                        .fetch_one(&admin)
                        .await
                        .expect("pg_namespace");
                admin.close().await;
                n == 1
            }
            #[cfg(feature = "mysql")]
            Setup::MariaDb => {
                let admin = mysql_admin().await;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                )
                .bind(&name)
                .fetch_one(&admin)
                .await
                .expect("SCHEMATA");
                admin.close().await;
                n == 1
            }
            #[cfg(feature = "sqlite")]
            Setup::SqliteMemory => true,
            #[cfg(feature = "sqlite")]
            Setup::SqliteDirectory => self.dir.path().join("plugins").join(name).is_file(),
        }
    }

    /// Creates the plugin's database (or schema) out of band.
    async fn create_out_of_band(&self, plugin: &str) {
        let name = self.object_name(plugin);
        match self.setup.engine() {
            Engine::Postgres if self.setup.is_schema_mode() => {
                admin_exec(self, &format!("CREATE SCHEMA {}", pg_quote(&name))).await;
            }
            Engine::Postgres => {
                admin_exec(self, &format!("CREATE DATABASE {}", pg_quote(&name))).await;
            }
            Engine::MySql => admin_exec(self, &format!("CREATE DATABASE `{name}`")).await,
            Engine::Sqlite => {}
        }
    }
}

fn root(block: Value) -> ConfigReader {
    ConfigReader::from_value(json!({ "backend": { "database": block } }))
}

fn test_options() -> ManagerOptions {
    ManagerOptions::default()
        .with_keepalive_interval(None)
        .with_close_timeout(Duration::from_secs(5))
}

// ---------------------------------------------------------------------------------------
// Engine-neutral helpers on a client
// ---------------------------------------------------------------------------------------

async fn exec(client: &DatabaseClient, sql: &str) -> Result<(), sqlx::Error> {
    let sql = AssertSqlSafe(sql.to_owned());
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        _ => unreachable!(),
    }
}

async fn count(client: &DatabaseClient, sql: &str) -> i64 {
    let query = AssertSqlSafe(sql.to_owned());
    let result = match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        _ => unreachable!(),
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn text(client: &DatabaseClient, sql: &str) -> String {
    let query = AssertSqlSafe(sql.to_owned());
    let result = match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        _ => unreachable!(),
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn client_of(db: &PluginDatabase) -> DatabaseClient {
    db.client()
        .await
        .unwrap_or_else(|e| panic!("client() of '{}': {e}", db.plugin_id()))
}

async fn client_err(db: &PluginDatabase) -> Error {
    match db.client().await {
        Ok(_) => panic!("client() of '{}' should fail", db.plugin_id()),
        Err(e) => e,
    }
}

fn for_plugin_err(manager: &DatabaseManager, plugin: &str) -> Error {
    match manager.for_plugin(plugin) {
        Ok(_) => panic!("for_plugin('{plugin}') should fail"),
        Err(e) => e,
    }
}

/// A TCP port on 127.0.0.1 with nothing listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

// ---------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------

/// Every check, in order, against one setup.
async fn conformance(setup: Setup) {
    let run = setup.start().await;
    isolation_and_sharing(&run).await;
    per_plugin_override(&run).await;
    prefix(&run).await;
    ensure_exists_false(&run).await;
    retry_after_failure(&run).await;
    concurrent_first_use(&run).await;
    schema_prefix(&run).await;
    role(&run).await;
    name_too_long(&run).await;
    error_texts(&run).await;
    skip_migrations_and_close(&run).await;
    drop(run);
}

/// Two plugins create the same table and never see each other's rows; a plugin and its
/// module share one pool; names keep case and dashes.
async fn isolation_and_sharing(run: &Run) {
    let manager = run.manager(json!({}));
    let a = manager.for_plugin("iso-A").expect("for_plugin");
    let module_of_a = manager.for_plugin("iso-A").expect("for_plugin");
    let b = manager.for_plugin("iso_b").expect("for_plugin");
    assert_eq!(a.engine(), run.setup.engine());

    let (ca, cb) = (client_of(&a).await, client_of(&b).await);
    for client in [&ca, &cb] {
        exec(client, "CREATE TABLE things (id INTEGER PRIMARY KEY)")
            .await
            .expect("create table");
    }
    exec(&ca, "INSERT INTO things (id) VALUES (1)")
        .await
        .expect("insert");
    exec(&cb, "INSERT INTO things (id) VALUES (1)")
        .await
        .expect("same key, other plugin");
    exec(&cb, "INSERT INTO things (id) VALUES (2)")
        .await
        .expect("insert");
    assert_eq!(count(&ca, "SELECT COUNT(*) FROM things").await, 1);
    assert_eq!(count(&cb, "SELECT COUNT(*) FROM things").await, 2);

    // The module sees the plugin's data (in memory, only possible through one database).
    let module_client = client_of(&module_of_a).await;
    assert_eq!(
        count(&module_client, "SELECT COUNT(*) FROM things").await,
        1
    );

    // Constraint violations are recognised on every engine.
    let duplicate = exec(&ca, "INSERT INTO things (id) VALUES (1)")
        .await
        .expect_err("duplicate key");
    assert!(
        backstage_database::is_unique_violation(&duplicate),
        "{}: {duplicate}",
        run.setup.name()
    );

    assert!(
        run.exists("iso-A").await,
        "{}: iso-A missing",
        run.setup.name()
    );
    match run.setup.engine() {
        Engine::Postgres if run.setup.is_schema_mode() => {
            assert_eq!(a.schema_name(), Some(run.object_name("iso-A").as_str()));
            assert_eq!(
                text(&ca, "SELECT current_schema()::text").await,
                run.object_name("iso-A")
            );
            assert_eq!(
                text(&ca, "SELECT current_database()::text").await,
                run.shared_database.clone().unwrap_or_default()
            );
        }
        Engine::Postgres => {
            assert_eq!(
                text(&ca, "SELECT current_database()::text").await,
                run.object_name("iso-A")
            );
            assert_eq!(
                text(&ca, "SELECT current_setting('application_name')").await,
                "backstage_plugin_iso-A"
            );
        }
        Engine::MySql => {
            assert_eq!(
                text(&ca, "SELECT DATABASE()").await,
                run.object_name("iso-A")
            );
        }
        Engine::Sqlite => {
            assert_eq!(count(&ca, "PRAGMA foreign_keys").await, 1);
            let mode = text(&ca, "PRAGMA journal_mode").await;
            if matches!(a.database_name().as_deref(), Some(":memory:")) {
                assert_eq!(mode, "memory");
            } else {
                assert_eq!(mode, "wal", "{}", run.setup.name());
            }
        }
    }
    manager.close().await;
}

/// A plugin can switch engine (the base connection is then ignored) or name its own
/// database (shallow-merged over the base connection); others keep the base.
async fn per_plugin_override(run: &Run) {
    let switched_to = match run.setup.engine() {
        Engine::Sqlite => {
            // Switch between the two SQLite flavours.
            if run.block(json!({}))["connection"] == json!(":memory:") {
                json!({ "client": "sqlite3", "connection": { "directory": run.dir.path().join("switched") } })
            } else {
                json!({ "client": "sqlite3", "connection": ":memory:" })
            }
        }
        _ => json!({ "client": "better-sqlite3", "connection": ":memory:" }),
    };
    let mut plugins = json!({ "switched": switched_to });
    let explicit = format!("{}explicit_db", run.prefix);
    if run.setup.is_server() {
        plugins["named"] = json!({ "connection": { "database": explicit } });
    }
    let manager = run.manager(json!({ "plugin": plugins }));

    if run.setup.is_schema_mode() {
        // The division mode is global, and SQLite has no schemas (as in Backstage).
        let err = for_plugin_err(&manager, "switched");
        assert_eq!(
            err.to_string(),
            "The SQLite driver does not support plugin division mode 'schema' (plugin 'switched')"
        );
    } else {
        let switched = manager.for_plugin("switched").expect("for_plugin");
        assert_eq!(switched.engine(), Engine::Sqlite);
        let client = client_of(&switched).await;
        assert_eq!(client.engine(), Engine::Sqlite);
        exec(&client, "CREATE TABLE t (x INTEGER)")
            .await
            .expect("create");
    }

    let plain = manager.for_plugin("plain").expect("for_plugin");
    assert_eq!(plain.engine(), run.setup.engine());
    let client = client_of(&plain).await;
    exec(&client, "CREATE TABLE t (x INTEGER)")
        .await
        .expect("create");

    if run.setup.is_server() {
        // In schema mode the plugin's schema goes into the database it names, which is
        // created from the plugin's own connection.
        let named = manager.for_plugin("named").expect("for_plugin");
        assert_eq!(named.database_name().as_deref(), Some(explicit.as_str()));
        let client = client_of(&named).await;
        let current = match run.setup.engine() {
            Engine::Postgres => text(&client, "SELECT current_database()::text").await,
            _ => text(&client, "SELECT DATABASE()").await,
        };
        assert_eq!(current, explicit);
        if run.setup.is_schema_mode() {
            assert_eq!(
                text(&client, "SELECT current_schema()::text").await,
                run.object_name("named")
            );
        }
        exec(&client, "CREATE TABLE t (x INTEGER)")
            .await
            .expect("create");
    }
    manager.close().await;
}

/// `prefix` names databases; `prefix: ''` means the default prefix.
async fn prefix(run: &Run) {
    let manager = run.manager(json!({ "prefix": "" }));
    let db = manager.for_plugin("catalog").expect("for_plugin");
    match run.setup.engine() {
        Engine::Postgres if run.setup.is_schema_mode() => {
            assert_eq!(db.schema_name(), Some(run.object_name("catalog").as_str()));
        }
        Engine::Postgres | Engine::MySql => {
            assert_eq!(
                db.database_name().as_deref(),
                Some("backstage_plugin_catalog")
            );
        }
        Engine::Sqlite => {}
    }
    // No connection was made: nothing to close but the manager.
    manager.close().await;

    let manager = run.manager(json!({}));
    let db = manager.for_plugin("catalog").expect("for_plugin");
    if run.setup.is_server() && !run.setup.is_schema_mode() {
        assert_eq!(db.database_name(), Some(format!("{}catalog", run.prefix)));
    }
    manager.close().await;
}

/// `ensureExists: false` uses an existing database and reports a missing one by name.
async fn ensure_exists_false(run: &Run) {
    let flags = json!({ "ensureExists": false, "ensureSchemaExists": false });
    let manager = run.manager(json!({ "plugin": { "pre": flags.clone(), "absent": flags } }));
    run.create_out_of_band("pre").await;
    let pre = manager.for_plugin("pre").expect("for_plugin");
    let client = client_of(&pre).await;
    exec(&client, "CREATE TABLE t (x INTEGER)")
        .await
        .expect("create");

    let absent = manager.for_plugin("absent").expect("for_plugin");
    if run.setup.is_server() {
        let err = client_err(&absent).await;
        let message = err.to_string();
        assert!(message.contains(&run.object_name("absent")), "{message}");
        assert!(message.contains("'absent'"), "{message}");
        if run.setup.is_schema_mode() {
            assert!(matches!(err, Error::MissingSchema { .. }), "{message}");
        } else {
            assert_eq!(
                err.connect_failure(),
                Some(ConnectFailure::MissingDatabase),
                "{message}"
            );
            assert!(message.contains(run.setup.engine().as_str()), "{message}");
            assert!(message.contains("does not exist"), "{message}");
        }
        assert!(!run.exists("absent").await, "{}", run.setup.name());
    } else {
        // SQLite ignores ensureExists, as Backstage does.
        client_of(&absent).await;
    }
    manager.close().await;
}

/// A failed `client()` is not remembered: once the cause is fixed, the next call works.
async fn retry_after_failure(run: &Run) {
    let blocked = run.dir.path().join("blocked");
    let plugin = if run.setup.is_server() {
        json!({ "ensureExists": false, "ensureSchemaExists": false })
    } else {
        std::fs::write(&blocked, b"a file where a directory should be").expect("write");
        json!({ "connection": { "filename": "late.sqlite", "directory": blocked.join("sub") } })
    };
    let manager = run.manager(json!({ "plugin": { "late": plugin } }));
    let late = manager.for_plugin("late").expect("for_plugin");

    // Concurrent callers share the failing attempt.
    let attempts: Vec<_> = (0..5)
        .map(|_| {
            let late = late.clone();
            tokio::spawn(async move { late.client().await.map(drop) })
        })
        .collect();
    for attempt in attempts {
        let result = attempt.await.expect("join");
        let err = result.expect_err("the first attempts fail");
        assert!(err.to_string().contains("'late'"), "{err}");
    }

    if run.setup.is_server() {
        run.create_out_of_band("late").await;
    } else {
        std::fs::remove_file(&blocked).expect("unblock");
    }
    let client = client_of(&late).await;
    exec(&client, "CREATE TABLE t (x INTEGER)")
        .await
        .expect("create");
    manager.close().await;
}

/// 20 plugins start at once, with a second manager (another process) racing for five of
/// them: each database is created once, every client works.
async fn concurrent_first_use(run: &Run) {
    let manager = run.manager(json!({}));
    let other_process = run.manager(json!({}));
    let plugins: Vec<String> = (0..20).map(|i| format!("conc{i}")).collect();
    let mut tasks = Vec::new();
    for (i, plugin) in plugins.iter().enumerate() {
        let managers = if i < 5 {
            vec![manager.clone(), other_process.clone()]
        } else {
            vec![manager.clone()]
        };
        for manager in managers {
            let plugin = plugin.clone();
            tasks.push(tokio::spawn(async move {
                let db = manager.for_plugin(&plugin).expect("for_plugin");
                let client = db.client().await.map_err(|e| e.to_string())?;
                exec(&client, "SELECT 1").await.map_err(|e| e.to_string())?;
                Ok::<_, String>(plugin)
            }));
        }
    }
    let mut done = BTreeSet::new();
    for task in tasks {
        match task.await.expect("join") {
            Ok(plugin) => {
                done.insert(plugin);
            }
            Err(e) => panic!("{}: concurrent first use failed: {e}", run.setup.name()),
        }
    }
    assert_eq!(done.len(), 20);
    for plugin in &plugins {
        assert!(
            run.exists(plugin).await,
            "{}: {plugin} missing",
            run.setup.name()
        );
    }
    manager.close().await;
    other_process.close().await;
}

/// `schemaPrefix` is validated on every engine (it is only used in schema mode).
async fn schema_prefix(run: &Run) {
    let err =
        DatabaseManager::from_config(&root(run.block(json!({ "schemaPrefix": "bad-prefix" }))))
            .expect_err("invalid schemaPrefix");
    assert!(
        err.to_string()
            .starts_with("Invalid schemaPrefix \"bad-prefix\"."),
        "{err}"
    );
    let manager = run.manager(json!({ "schemaPrefix": "Ok_1" }));
    let db = manager.for_plugin("sp").expect("for_plugin");
    if run.setup.is_schema_mode() {
        assert_eq!(db.schema_name(), Some("Ok_1sp"));
    } else {
        assert_eq!(db.schema_name(), None);
    }
    manager.close().await;
}

/// PostgreSQL: `role` (base, and per plugin) is what every connection runs as, and owns
/// what gets created. Other engines accept and ignore it.
async fn role(run: &Run) {
    let base_role = format!("{}role", run.prefix);
    let plugin_role = format!("{}role2", run.prefix);
    if run.setup.engine() == Engine::Postgres {
        for role in [&base_role, &plugin_role] {
            // Registered first, so the cleanup drops it even if a check fails.
            if let Ok(mut roles) = run.cleanup.pg_roles.lock() {
                roles.push(role.clone());
            }
            admin_exec(
                run,
                &format!("CREATE ROLE {} NOLOGIN CREATEDB", pg_quote(role)),
            )
            .await;
            if let Some(shared) = &run.shared_database {
                admin_exec(
                    run,
                    &format!(
                        "GRANT CREATE ON DATABASE {} TO {}",
                        pg_quote(shared),
                        pg_quote(role)
                    ),
                )
                .await;
            }
        }
    }
    let manager = run.manager(json!({
        "role": base_role,
        "plugin": { "roled2": { "role": plugin_role } },
    }));
    let one = manager.for_plugin("roled").expect("for_plugin");
    let two = manager.for_plugin("roled2").expect("for_plugin");
    let (c1, c2) = (client_of(&one).await, client_of(&two).await);
    if run.setup.engine() == Engine::Postgres {
        assert_eq!(text(&c1, "SELECT current_user::text").await, base_role);
        assert_eq!(text(&c2, "SELECT current_user::text").await, plugin_role);
        let owner_sql = if run.setup.is_schema_mode() {
            "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = current_schema()"
        } else {
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()"
        };
        assert_eq!(text(&c1, owner_sql).await, base_role);
        assert_eq!(text(&c2, owner_sql).await, plugin_role);
        if run.setup.is_schema_mode() {
            // The role owns the schema, so migrations can create tables in it.
            exec(&c1, "CREATE TABLE owned (x INTEGER)")
                .await
                .expect("create as role");
        }
    } else {
        exec(&c1, "CREATE TABLE t (x INTEGER)")
            .await
            .expect("role ignored");
    }
    manager.close().await;
    // The cleanup drops the databases (and so what the roles own), then the roles.
}

/// PostgreSQL names over 63 bytes fail at plugin start with a hint; MariaDB refuses long
/// names when creating them; SQLite file names may be long.
async fn name_too_long(run: &Run) {
    let long = format!(
        "{}{}",
        run.prefix,
        "x".repeat(70 - run.prefix.len().min(60))
    );
    let key = if run.setup.is_schema_mode() {
        "schemaPrefix"
    } else {
        "prefix"
    };
    let manager = run.manager(json!({ key: long }));
    match run.setup.engine() {
        Engine::Postgres => {
            let err = for_plugin_err(&manager, "catalog");
            assert!(matches!(err, Error::NameTooLong { .. }), "{err}");
            let message = err.to_string();
            assert!(message.contains("63-byte limit"), "{message}");
            let hint = if run.setup.is_schema_mode() {
                "shorter schemaPrefix"
            } else {
                "shorter prefix"
            };
            assert!(message.contains(hint), "{message}");
            assert!(message.contains("'catalog'"), "{message}");
        }
        Engine::MySql => {
            let db = manager.for_plugin("catalog").expect("for_plugin");
            let err = client_err(&db).await;
            assert!(matches!(err, Error::EnsureDatabase { .. }), "{err}");
            assert!(err.to_string().contains(&format!("{long}catalog")), "{err}");
        }
        Engine::Sqlite => {
            client_of(&manager.for_plugin("catalog").expect("for_plugin")).await;
        }
    }
    manager.close().await;
}

/// Messages for an unknown client, a bad MySQL URL and an unreachable server name the
/// plugin, the engine and the database.
async fn error_texts(run: &Run) {
    let port = closed_port();
    let unreachable = match run.setup.engine() {
        Engine::Postgres => json!({ "connection": { "host": "127.0.0.1", "port": port } }),
        Engine::MySql => json!({ "connection": { "host": "127.0.0.1", "port": port } }),
        Engine::Sqlite => {
            let file = run.dir.path().join("not-a-dir");
            std::fs::write(&file, b"x").expect("write");
            json!({ "connection": { "filename": "u.sqlite", "directory": file } })
        }
    };
    let unresolvable = json!({ "connection": { "host": "no-such-host.invalid" } });
    let manager = run.manager(json!({
        "plugin": {
            "oracle": { "client": "oracle" },
            "badurl": { "client": "mysql", "connection": "mysql://localhost/db" },
            "unreachable": unreachable,
            "unresolvable": unresolvable,
        }
    }));
    assert_eq!(
        for_plugin_err(&manager, "oracle").to_string(),
        "Unsupported database client type 'oracle' specified for plugin 'oracle'"
    );
    #[cfg(feature = "mysql")]
    assert_eq!(
        for_plugin_err(&manager, "badurl").to_string(),
        "Error while parsing MySQL connection string, Error: Missing username/password (plugin 'badurl')"
    );

    let db = manager.for_plugin("unreachable").expect("for_plugin");
    let err = client_err(&db).await;
    let message = err.to_string();
    assert!(message.contains("'unreachable'"), "{message}");
    match run.setup.engine() {
        Engine::Sqlite => {
            assert!(matches!(err, Error::SqliteDirectory { .. }), "{message}");
            assert!(message.contains("u.sqlite"), "{message}");
        }
        engine => {
            assert_eq!(
                err.connect_failure(),
                Some(ConnectFailure::Refused),
                "{message}"
            );
            assert!(message.contains(engine.as_str()), "{message}");
            assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
            let database = if run.setup.is_schema_mode() {
                run.shared_database.clone().unwrap_or_default()
            } else {
                run.object_name("unreachable")
            };
            assert!(message.contains(&database), "{message}");
            assert!(message.contains("connection was refused"), "{message}");
            assert!(!message.contains("pool timed out"), "{message}");

            let db = manager.for_plugin("unresolvable").expect("for_plugin");
            let err = client_err(&db).await;
            assert_eq!(
                err.connect_failure(),
                Some(ConnectFailure::HostNotFound),
                "{err}"
            );
            assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
        }
    }
    manager.close().await;
}

/// `skipMigrations` per plugin over the base; after `close()`, no new clients.
async fn skip_migrations_and_close(run: &Run) {
    let manager = run.manager(json!({
        "skipMigrations": true,
        "plugin": { "migrating": { "skipMigrations": false } },
    }));
    assert!(
        manager
            .for_plugin("skipping")
            .expect("for_plugin")
            .migrations_skip()
    );
    let migrating = manager.for_plugin("migrating").expect("for_plugin");
    assert!(!migrating.migrations_skip());
    client_of(&migrating).await;
    manager.close().await;
    let err = client_err(&migrating).await;
    assert!(matches!(err, Error::Closed { .. }), "{err}");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_database_mode() {
    conformance(Setup::PgDatabase).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_schema_mode() {
    conformance(Setup::PgSchema).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb() {
    conformance(Setup::MariaDb).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory() {
    conformance(Setup::SqliteMemory).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_directory() {
    conformance(Setup::SqliteDirectory).await;
}
