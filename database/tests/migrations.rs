//! The migrations runner against real engines: PostgreSQL (`POSTGRES_URL`), MariaDB
//! (`MYSQL_URL`) and SQLite (temporary files and shared-cache memory). Every test gets a
//! fresh database, dropped afterwards. A missing server fails the test; run them with
//! `scripts/with-servers cargo test -p backstage-database --all-features --test migrations`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backstage_database::migrations::{Migration, Migrations};
use backstage_database::{DatabaseClient, Engine, Error};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use backstage_test_support::Server;
use backstage_test_support::unique_name;
use sqlx::AssertSqlSafe;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql,
    #[cfg(feature = "sqlite")]
    Sqlite,
}

impl Kind {
    fn engine(self) -> Engine {
        match self {
            #[cfg(feature = "postgres")]
            Kind::Postgres => Engine::Postgres,
            #[cfg(feature = "mysql")]
            Kind::MySql => Engine::MySql,
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => Engine::Sqlite,
        }
    }

    /// A statement that takes `seconds` (nothing on SQLite, which has no sleep).
    fn sleep(self, seconds: f64) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Kind::Postgres => format!("SELECT pg_sleep({seconds});"),
            #[cfg(feature = "mysql")]
            Kind::MySql => format!("DO SLEEP({seconds});"),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => {
                let _ = seconds;
                String::new()
            }
        }
    }

    /// Whether a failing migration is rolled back entirely.
    fn transactional_ddl(self) -> bool {
        self.engine() != Engine::MySql
    }
}

/// A fresh database (or SQLite file) for one test, and the pools opened on it.
struct Db {
    kind: Kind,
    name: String,
    /// The SQLite database's folder.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    dir: Option<tempfile::TempDir>,
    pools: Mutex<Vec<DatabaseClient>>,
}

impl Db {
    async fn create(kind: Kind) -> Db {
        let name = unique_name("mig");
        let dir = match kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres => {
                use sqlx::Connection as _;
                let mut admin = sqlx::PgConnection::connect(&Server::Postgres.url())
                    .await
                    .expect("connect to POSTGRES_URL");
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut admin)
                    .await
                    .expect("create database");
                admin.close().await.ok();
                None
            }
            #[cfg(feature = "mysql")]
            Kind::MySql => {
                use sqlx::Connection as _;
                let mut admin = sqlx::MySqlConnection::connect(&Server::MySql.url())
                    .await
                    .expect("connect to MYSQL_URL");
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                    .execute(&mut admin)
                    .await
                    .expect("create database");
                admin.close().await.ok();
                None
            }
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => Some(tempfile::tempdir().expect("tempdir")),
        };
        Db {
            kind,
            name,
            dir,
            pools: Mutex::new(Vec::new()),
        }
    }

    /// A new pool on the database, as another replica would have.
    async fn client(&self) -> DatabaseClient {
        let client = match self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres => {
                use std::str::FromStr as _;
                let options = sqlx::postgres::PgConnectOptions::from_str(&Server::Postgres.url())
                    .expect("POSTGRES_URL")
                    .database(&self.name);
                DatabaseClient::Postgres(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(2)
                        .acquire_timeout(Duration::from_secs(60))
                        .connect_with(options)
                        .await
                        .expect("connect to the test database"),
                )
            }
            #[cfg(feature = "mysql")]
            Kind::MySql => {
                use std::str::FromStr as _;
                let options = sqlx::mysql::MySqlConnectOptions::from_str(&Server::MySql.url())
                    .expect("MYSQL_URL")
                    .database(&self.name);
                DatabaseClient::MySql(
                    sqlx::mysql::MySqlPoolOptions::new()
                        .max_connections(2)
                        .acquire_timeout(Duration::from_secs(60))
                        .connect_with(options)
                        .await
                        .expect("connect to the test database"),
                )
            }
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => self.sqlite_client(Duration::from_secs(5)).await,
        };
        self.pools.lock().expect("pools").push(client.clone());
        client
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite_client(&self, busy_timeout: Duration) -> DatabaseClient {
        let dir = self.dir.as_ref().expect("a SQLite test database");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join(format!("{}.sqlite", self.name)))
            .create_if_missing(true)
            .busy_timeout(busy_timeout);
        let client = DatabaseClient::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .expect("open the SQLite file"),
        );
        self.pools.lock().expect("pools").push(client.clone());
        client
    }

    async fn drop_database(&self) {
        let pools: Vec<DatabaseClient> = std::mem::take(&mut *self.pools.lock().expect("pools"));
        for pool in pools {
            close(pool).await;
        }
        match self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres => {
                use sqlx::Connection as _;
                let mut admin = sqlx::PgConnection::connect(&Server::Postgres.url())
                    .await
                    .expect("connect to POSTGRES_URL");
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                )))
                .execute(&mut admin)
                .await
                .expect("drop database");
                admin.close().await.ok();
            }
            #[cfg(feature = "mysql")]
            Kind::MySql => {
                use sqlx::Connection as _;
                let mut admin = sqlx::MySqlConnection::connect(&Server::MySql.url())
                    .await
                    .expect("connect to MYSQL_URL");
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{}`",
                    self.name
                )))
                .execute(&mut admin)
                .await
                .expect("drop database");
                admin.close().await.ok();
            }
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => {}
        }
    }
}

async fn close(client: DatabaseClient) {
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(p) => p.close().await,
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(p) => p.close().await,
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(p) => p.close().await,
        _ => unreachable!("engine not enabled"),
    }
}

/// Run `test` on a fresh database of `kind`, then drop the database, even when it panics.
async fn with_db<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Arc<Db>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(Db::create(kind).await);
    let outcome = tokio::spawn(test(db.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn exec(client: &DatabaseClient, sql: &str) {
    let sql = AssertSqlSafe(sql.to_owned());
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(p) => {
            sqlx::raw_sql(sql).execute(p).await.expect("exec");
        }
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(p) => {
            sqlx::raw_sql(sql).execute(p).await.expect("exec");
        }
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(p) => {
            sqlx::raw_sql(sql).execute(p).await.expect("exec");
        }
        _ => unreachable!("engine not enabled"),
    }
}

async fn int(client: &DatabaseClient, query: &str) -> i64 {
    let sql = AssertSqlSafe(query.to_owned());
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        _ => unreachable!("engine not enabled"),
    }
    .unwrap_or_else(|e| panic!("{query}: {e}"))
}

async fn text(client: &DatabaseClient, sql: &str) -> String {
    let sql = AssertSqlSafe(sql.to_owned());
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        _ => unreachable!("engine not enabled"),
    }
    .expect("text query")
}

async fn table_exists(client: &DatabaseClient, table: &str) -> bool {
    let sql = match client.engine() {
        Engine::Postgres => format!(
            "SELECT COUNT(*) FROM pg_catalog.pg_tables \
             WHERE schemaname = current_schema() AND tablename = '{table}'"
        ),
        Engine::MySql => format!(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ),
        Engine::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
    };
    int(client, &sql).await > 0
}

async fn versions(migrations: &Migrations, client: &DatabaseClient) -> Vec<i64> {
    migrations
        .applied(client)
        .await
        .expect("read the bookkeeping table")
        .iter()
        .map(|m| m.version)
        .collect()
}

fn applied(list: &[(i64, &str)]) -> Vec<(i64, String)> {
    list.iter().map(|(v, n)| (*v, (*n).to_owned())).collect()
}

mod scenario {
    use super::*;

    fn base() -> Migrations {
        Migrations::new()
            .add(Migration::new(1, "create items").all(
                "CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, s VARCHAR(100) NOT NULL);
                 CREATE INDEX items_s ON items (s);",
            ))
            .add(Migration::new(2, "seed items").all(
                "INSERT INTO items (id, s) VALUES (1, 'a;b');
                 INSERT INTO items (id, s) VALUES (2, '-- not a comment; really');",
            ))
    }

    /// Apply, re-run (nothing), add a migration later (only it applies), dialect choice.
    pub async fn apply_rerun_and_add_later(db: Arc<Db>) {
        let engine = db.kind.engine();
        let client = db.client().await;
        let migrations = base();
        assert_eq!(migrations.pending(&client).await.unwrap(), [1, 2]);
        assert!(
            !table_exists(&client, "backstage_migrations").await,
            "pending() must not create the table"
        );

        let report = migrations.run(&client).await.unwrap();
        assert_eq!(
            report.applied,
            applied(&[(1, "create items"), (2, "seed items")])
        );
        assert_eq!(report.already_applied, 0);
        assert_eq!(int(&client, "SELECT COUNT(*) FROM items").await, 2);
        assert_eq!(
            text(&client, "SELECT s FROM items WHERE id = 1").await,
            "a;b"
        );

        // A restart (another pool) applies nothing.
        let other = db.client().await;
        let report = migrations.run(&other).await.unwrap();
        assert!(report.applied.is_empty(), "{report:?}");
        assert_eq!(report.already_applied, 2);
        assert!(migrations.pending(&other).await.unwrap().is_empty());
        assert_eq!(int(&client, "SELECT COUNT(*) FROM items").await, 2);

        // The next release adds migrations; only they run. Each dialect gets its own SQL.
        let migrations = migrations
            .add(
                Migration::new(4, "dialect marker")
                    .postgres("INSERT INTO items (id, s) VALUES (4, 'postgres')")
                    .mysql("INSERT INTO items (id, s) VALUES (4, 'mysql')")
                    .sqlite("INSERT INTO items (id, s) VALUES (4, 'sqlite')"),
            )
            .add(Migration::new(3, "add extra").all("ALTER TABLE items ADD COLUMN extra INTEGER"));
        assert_eq!(migrations.pending(&other).await.unwrap(), [3, 4]);
        let report = migrations.run(&other).await.unwrap();
        assert_eq!(
            report.applied,
            applied(&[(3, "add extra"), (4, "dialect marker")])
        );
        assert_eq!(report.already_applied, 2);
        assert_eq!(
            text(&client, "SELECT s FROM items WHERE id = 4").await,
            engine.as_str()
        );
        assert_eq!(
            int(&client, "SELECT COUNT(*) FROM items WHERE extra IS NULL").await,
            3
        );

        // The bookkeeping rows: version, name, this dialect's checksum, a recent time.
        let rows = migrations.applied(&client).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.version).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        for row in &rows {
            let m = migrations
                .migrations()
                .iter()
                .find(|m| m.version() == row.version)
                .unwrap();
            assert_eq!(row.name, m.name());
            assert_eq!(Some(&row.checksum), m.checksum(engine).as_ref());
            let age = chrono::Utc::now() - row.applied_at;
            assert!(
                age.num_seconds().abs() < 300,
                "applied_at {} is not now",
                row.applied_at
            );
        }
        let marker = &rows[3];
        assert_ne!(
            Some(&marker.checksum),
            migrations.migrations()[2]
                .checksum(if engine == Engine::Sqlite {
                    Engine::Postgres
                } else {
                    Engine::Sqlite
                })
                .as_ref(),
            "the checksum is of this dialect's SQL"
        );
    }

    /// Several statements in one migration, with semicolons in strings, comments and
    /// procedural bodies.
    pub async fn multi_statement_migrations(db: Arc<Db>) {
        let client = db.client().await;
        let migrations = Migrations::new().add(
            Migration::new(20240101120000, "notes with trigger")
                .postgres(
                    "-- a comment; with a semicolon
                     CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);
                     CREATE TABLE notes_log (note_id BIGINT NOT NULL);
                     CREATE FUNCTION notes_ai() RETURNS trigger AS $$
                     BEGIN
                       INSERT INTO notes_log (note_id) VALUES (NEW.id);
                       INSERT INTO notes_log (note_id) VALUES (NEW.id + 100);
                       RETURN NEW;
                     END;
                     $$ LANGUAGE plpgsql;
                     CREATE TRIGGER notes_ai AFTER INSERT ON notes
                       FOR EACH ROW EXECUTE FUNCTION notes_ai();
                     /* block; comment */
                     INSERT INTO notes (id, body) VALUES (1, 'x; y');",
                )
                .mysql(
                    "-- a comment; with a semicolon
                     CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);
                     CREATE TABLE notes_log (note_id BIGINT NOT NULL);
                     CREATE TRIGGER notes_ai AFTER INSERT ON notes FOR EACH ROW
                     BEGIN
                       INSERT INTO notes_log (note_id) VALUES (NEW.id);
                       INSERT INTO notes_log (note_id) VALUES (NEW.id + 100);
                     END;
                     /* block; comment */
                     INSERT INTO notes (id, body) VALUES (1, 'x; y');",
                )
                .sqlite(
                    "-- a comment; with a semicolon
                     CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
                     CREATE TABLE notes_log (note_id INTEGER NOT NULL);
                     CREATE TRIGGER notes_ai AFTER INSERT ON notes
                     BEGIN
                       INSERT INTO notes_log (note_id) VALUES (NEW.id);
                       INSERT INTO notes_log (note_id) VALUES (NEW.id + 100);
                     END;
                     /* block; comment */
                     INSERT INTO notes (id, body) VALUES (1, 'x; y');",
                ),
        );
        let report = migrations.run(&client).await.unwrap();
        assert_eq!(
            report.applied,
            applied(&[(20240101120000, "notes with trigger")])
        );
        assert_eq!(
            text(&client, "SELECT body FROM notes WHERE id = 1").await,
            "x; y"
        );
        assert_eq!(int(&client, "SELECT COUNT(*) FROM notes_log").await, 2);
        assert_eq!(
            int(
                &client,
                "SELECT COUNT(*) FROM notes_log WHERE note_id IN (1, 101)"
            )
            .await,
            2
        );
        // The trigger keeps working after the migration.
        exec(&client, "INSERT INTO notes (id, body) VALUES (2, 'z')").await;
        assert_eq!(int(&client, "SELECT COUNT(*) FROM notes_log").await, 4);
    }

    /// A recorded migration this build does not know stops the run before anything runs.
    pub async fn unknown_applied_version(db: Arc<Db>) {
        let client = db.client().await;
        base().run(&client).await.unwrap();

        // An older build: knows migration 1 only, and brings a new migration 3.
        let older = Migrations::new()
            .add(base().migrations()[0].clone())
            .add(Migration::new(3, "third").all("CREATE TABLE third (id BIGINT)"));
        let err = older.run(&client).await.unwrap_err();
        match &err {
            Error::UnknownAppliedMigration {
                table,
                version,
                name,
            } => {
                assert_eq!(
                    (table.as_str(), *version, name.as_str()),
                    ("backstage_migrations", 2, "seed items")
                );
            }
            other => panic!("expected UnknownAppliedMigration, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("2 'seed items'"), "{message}");
        assert!(message.contains("backstage_migrations"), "{message}");
        assert!(message.contains("not known"), "{message}");
        assert!(!table_exists(&client, "third").await, "nothing may run");
        assert_eq!(versions(&older, &client).await, [1, 2]);

        let err = older.pending(&client).await.unwrap_err();
        assert!(
            matches!(err, Error::UnknownAppliedMigration { version: 2, .. }),
            "{err}"
        );
    }

    /// A changed SQL of an applied migration stops the run; a line-ending change does not.
    pub async fn changed_checksum(db: Arc<Db>) {
        let engine = db.kind.engine();
        let client = db.client().await;
        let original = Migration::new(1, "create things")
            .all("CREATE TABLE things (id BIGINT);\nCREATE INDEX things_id ON things (id);");
        Migrations::new()
            .add(original.clone())
            .run(&client)
            .await
            .unwrap();

        let crlf = Migration::new(1, "create things")
            .all("CREATE TABLE things (id BIGINT);\r\nCREATE INDEX things_id ON things (id);");
        let report = Migrations::new().add(crlf).run(&client).await.unwrap();
        assert_eq!(report.already_applied, 1, "CRLF checkouts are not a change");

        let edited = Migration::new(1, "create things").all(
            "CREATE TABLE things (id BIGINT, name TEXT);\nCREATE INDEX things_id ON things (id);",
        );
        let migrations = Migrations::new()
            .add(edited.clone())
            .add(Migration::new(2, "more").all("CREATE TABLE more_things (id BIGINT)"));
        let err = migrations.run(&client).await.unwrap_err();
        match &err {
            Error::MigrationChecksumMismatch {
                table,
                version,
                name,
                engine: e,
                recorded,
                expected,
            } => {
                assert_eq!(table, "backstage_migrations");
                assert_eq!((*version, name.as_str(), *e), (1, "create things", engine));
                assert_eq!(Some(recorded), original.checksum(engine).as_ref());
                assert_eq!(Some(expected), edited.checksum(engine).as_ref());
            }
            other => panic!("expected MigrationChecksumMismatch, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("1 'create things'") && message.contains("checksum"),
            "{message}"
        );
        assert!(
            !table_exists(&client, "more_things").await,
            "nothing may run"
        );
        assert_eq!(versions(&migrations, &client).await, [1]);
    }

    /// A failing migration: rolled back where DDL is transactional, never recorded, the
    /// migrations after it do not run, the lock is released, and a fixed build goes on.
    pub async fn failing_migration(db: Arc<Db>) {
        let kind = db.kind;
        let client = db.client().await;
        let first = Migration::new(1, "create a").all("CREATE TABLE a (id BIGINT PRIMARY KEY)");
        let third = Migration::new(3, "create c").all("CREATE TABLE c (id BIGINT)");
        let broken = Migrations::new()
            .add(first.clone())
            .add(Migration::new(2, "create b").all(
                "CREATE TABLE b (id BIGINT PRIMARY KEY);
                 INSERT INTO b (id) VALUES (1);
                 INSERT INTO no_such_table (id) VALUES (1);",
            ))
            .add(third.clone());
        let err = broken.run(&client).await.unwrap_err();
        match &err {
            Error::MigrationFailed {
                table,
                version,
                name,
                engine,
                rolled_back,
                source,
            } => {
                assert_eq!(table, "backstage_migrations");
                assert_eq!(
                    (*version, name.as_str(), *engine),
                    (2, "create b", kind.engine())
                );
                assert_eq!(*rolled_back, kind.transactional_ddl());
                assert!(source.to_string().contains("no_such_table"), "{source}");
            }
            other => panic!("expected MigrationFailed, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("2 'create b'") && message.contains("no_such_table"),
            "{message}"
        );
        assert_eq!(
            versions(&broken, &client).await,
            [1],
            "only migration 1 is recorded"
        );
        assert!(table_exists(&client, "a").await);
        assert!(
            !table_exists(&client, "c").await,
            "migrations after a failure do not run"
        );
        // PostgreSQL and SQLite undo it all; MySQL/MariaDB committed the DDL implicitly.
        assert_eq!(table_exists(&client, "b").await, !kind.transactional_ddl());

        // A DML-only migration is atomic on every engine.
        let dml = Migrations::new().add(first.clone()).add(Migration::new(2, "fill a").all(
            "INSERT INTO a (id) VALUES (1); INSERT INTO a (id) VALUES (2); INSERT INTO no_such_table (id) VALUES (1);",
        ));
        let err = dml.run(&client).await.unwrap_err();
        assert!(
            matches!(err, Error::MigrationFailed { version: 2, .. }),
            "{err}"
        );
        assert_eq!(
            int(&client, "SELECT COUNT(*) FROM a").await,
            0,
            "rolled back"
        );

        // The lock was released: another replica with a fixed build proceeds at once.
        let fixed = Migrations::new()
            .add(first)
            .add(Migration::new(2, "create b").all(
                "CREATE TABLE IF NOT EXISTS b (id BIGINT PRIMARY KEY);
                 DELETE FROM b;
                 INSERT INTO b (id) VALUES (1);",
            ))
            .add(third)
            .lock_timeout(Duration::from_secs(5));
        let other = db.client().await;
        let report = fixed.run(&other).await.unwrap();
        assert_eq!(report.applied, applied(&[(2, "create b"), (3, "create c")]));
        assert_eq!(report.already_applied, 1);
        assert_eq!(versions(&fixed, &client).await, [1, 2, 3]);
        assert_eq!(int(&client, "SELECT COUNT(*) FROM b").await, 1);
    }

    /// Components with their own bookkeeping tables share one database without seeing each
    /// other's migrations, sequentially and at the same time.
    pub async fn custom_tables_share_a_database(db: Arc<Db>) {
        let client = db.client().await;
        let plugin = Migrations::new()
            .add(Migration::new(1, "plugin init").all("CREATE TABLE plugin_things (id BIGINT)"));
        let tasks = Migrations::new()
            .table("backstage_backend_tasks__migrations")
            .add(Migration::new(1, "tasks init").all("CREATE TABLE backstage_backend_tasks__tasks (id VARCHAR(100))"))
            .add(Migration::new(2, "tasks index").all("CREATE INDEX backstage_backend_tasks__tasks_id ON backstage_backend_tasks__tasks (id)"));
        let keys = Migrations::new()
            .table("backstage_backend_public_keys__migrations")
            .add(
                Migration::new(1, "keys init")
                    .all("CREATE TABLE backstage_backend_public_keys__keys (id VARCHAR(100))"),
            );
        assert_eq!(tasks.table_name(), "backstage_backend_tasks__migrations");

        let report = plugin.run(&client).await.unwrap();
        assert_eq!(report.applied, applied(&[(1, "plugin init")]));
        // Version 1 is taken in the plugin's table, not in the tasks table.
        let other = db.client().await;
        let (t, k) = tokio::join!(tasks.run(&client), keys.run(&other));
        assert_eq!(
            t.unwrap().applied,
            applied(&[(1, "tasks init"), (2, "tasks index")])
        );
        assert_eq!(k.unwrap().applied, applied(&[(1, "keys init")]));

        for (m, expected) in [(&plugin, 1), (&tasks, 2), (&keys, 1)] {
            let report = m.run(&client).await.unwrap();
            assert!(report.applied.is_empty(), "{}: {report:?}", m.table_name());
            assert_eq!(report.already_applied, expected);
        }
        assert_eq!(versions(&plugin, &client).await, [1]);
        assert_eq!(versions(&tasks, &client).await, [1, 2]);
        assert_eq!(versions(&keys, &client).await, [1]);
        assert_eq!(
            plugin.applied(&client).await.unwrap()[0].name,
            "plugin init"
        );
        assert_eq!(keys.applied(&client).await.unwrap()[0].name, "keys init");
        assert!(table_exists(&client, "backstage_backend_public_keys__keys").await);
    }

    /// Refusals found before anything runs: a migration without this dialect's SQL,
    /// duplicate versions, a bad table name.
    pub async fn invalid_definitions(db: Arc<Db>) {
        let engine = db.kind.engine();
        let client = db.client().await;
        let lacking = match engine {
            Engine::Postgres => Migration::new(2, "other dialects")
                .mysql("SELECT 1")
                .sqlite("SELECT 1"),
            Engine::MySql => Migration::new(2, "other dialects")
                .postgres("SELECT 1")
                .sqlite("SELECT 1"),
            Engine::Sqlite => Migration::new(2, "other dialects")
                .postgres("SELECT 1")
                .mysql("SELECT 1"),
        };
        let migrations = Migrations::new()
            .add(Migration::new(1, "fine").all("CREATE TABLE fine (id BIGINT)"))
            .add(lacking);
        let err = migrations.run(&client).await.unwrap_err();
        match &err {
            Error::MigrationDialectMissing {
                table,
                version,
                name,
                engine: e,
            } => {
                assert_eq!(table, "backstage_migrations");
                assert_eq!((*version, name.as_str(), *e), (2, "other dialects", engine));
            }
            other => panic!("expected MigrationDialectMissing, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("2 'other dialects'") && message.contains(engine.as_str()),
            "{message}"
        );
        assert!(migrations.pending(&client).await.is_err());
        assert!(!table_exists(&client, "fine").await, "nothing may run");
        assert!(
            !table_exists(&client, "backstage_migrations").await,
            "not even the bookkeeping"
        );

        let duplicate = Migrations::new()
            .add(Migration::new(1, "one").all("CREATE TABLE fine (id BIGINT)"))
            .add(Migration::new(1, "uno").all("CREATE TABLE fine2 (id BIGINT)"));
        let err = duplicate.run(&client).await.unwrap_err();
        assert!(matches!(err, Error::InvalidMigrations { .. }), "{err}");
        assert!(
            err.to_string().contains("'one'") && err.to_string().contains("'uno'"),
            "{err}"
        );

        let bad_table = Migrations::new()
            .table("plugin\"; DROP TABLE x; --")
            .add(Migration::new(1, "one").all("CREATE TABLE fine (id BIGINT)"));
        let err = bad_table.run(&client).await.unwrap_err();
        assert!(matches!(err, Error::InvalidMigrations { .. }), "{err}");
        assert!(bad_table.applied(&client).await.is_err());
        assert!(!table_exists(&client, "fine").await);
    }

    pub fn racing(kind: Kind) -> Migrations {
        Migrations::new()
            .add(Migration::new(1, "create hits").all("CREATE TABLE hits (n BIGINT NOT NULL)"))
            .add(Migration::new(2, "hit two").all(&format!(
                "{} INSERT INTO hits (n) VALUES (2);",
                kind.sleep(0.2)
            )))
            .add(Migration::new(3, "hit three").all("INSERT INTO hits (n) VALUES (3)"))
    }

    /// Ten replicas with their own pools start at once: each migration runs exactly once.
    pub async fn concurrent_replicas(db: Arc<Db>) {
        let migrations = racing(db.kind);
        let barrier = Arc::new(tokio::sync::Barrier::new(10));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let client = db.client().await;
            let migrations = migrations.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                migrations.run(&client).await
            }));
        }
        let mut applied_versions = Vec::new();
        for task in tasks {
            let report = task.await.unwrap().unwrap();
            assert_eq!(
                report.applied.len() + report.already_applied,
                3,
                "{report:?}"
            );
            applied_versions.extend(report.applied.iter().map(|(v, _)| *v));
        }
        applied_versions.sort_unstable();
        assert_eq!(
            applied_versions,
            [1, 2, 3],
            "each migration applied exactly once"
        );
        let client = db.client().await;
        assert_eq!(int(&client, "SELECT COUNT(*) FROM hits").await, 2);
        assert_eq!(
            int(&client, "SELECT COUNT(*) FROM hits WHERE n = 2").await,
            1
        );
        assert_eq!(
            int(&client, "SELECT COUNT(*) FROM hits WHERE n = 3").await,
            1
        );
        assert_eq!(versions(&migrations, &client).await, [1, 2, 3]);
    }

    /// A replica that waits longer than its lock timeout gives up with a clear error.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub async fn lock_timeout(db: Arc<Db>) {
        let kind = db.kind;
        let slow = Migrations::new().add(Migration::new(1, "slow").all(&format!(
            "{} CREATE TABLE slow (id BIGINT);",
            kind.sleep(3.0)
        )));
        let first = db.client().await;
        let runner = {
            let slow = slow.clone();
            tokio::spawn(async move { slow.run(&first).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = db.client().await;
        let started = Instant::now();
        let err = slow
            .clone()
            .lock_timeout(Duration::from_secs(1))
            .run(&second)
            .await
            .unwrap_err();
        match &err {
            Error::MigrationLockTimeout {
                table,
                engine,
                waited,
            } => {
                assert_eq!(
                    (table.as_str(), *engine),
                    ("backstage_migrations", kind.engine())
                );
                assert!(*waited >= Duration::from_millis(900), "{waited:?}");
            }
            other => panic!("expected MigrationLockTimeout, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_millis(2900),
            "gave up in time"
        );
        assert!(err.to_string().contains("backstage_migrations"), "{err}");
        let report = runner.await.unwrap().unwrap();
        assert_eq!(report.applied, applied(&[(1, "slow")]));
        let report = slow.run(&second).await.unwrap();
        assert_eq!(report.already_applied, 1);
    }

    /// A run cancelled half-way (its future dropped) releases the lock with its session,
    /// and its migration was not half-recorded: the next replica applies it once.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub async fn cancelled_run_releases_the_lock(db: Arc<Db>) {
        let kind = db.kind;
        let migrations = Migrations::new()
            .add(Migration::new(1, "create hits").all("CREATE TABLE hits (n BIGINT NOT NULL)"))
            .add(Migration::new(2, "slow hit").all(&format!(
                "{} INSERT INTO hits (n) VALUES (2);",
                kind.sleep(2.0)
            )))
            .lock_timeout(Duration::from_secs(20));
        let first = db.client().await;
        let cancelled =
            tokio::time::timeout(Duration::from_millis(700), migrations.run(&first)).await;
        assert!(cancelled.is_err(), "the run must still be sleeping");

        let second = db.client().await;
        let started = Instant::now();
        let report = migrations.run(&second).await.unwrap();
        assert_eq!(report.applied, applied(&[(2, "slow hit")]));
        assert_eq!(report.already_applied, 1);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            int(&second, "SELECT COUNT(*) FROM hits").await,
            1,
            "applied exactly once"
        );
        assert_eq!(versions(&migrations, &second).await, [1, 2]);
        // The first pool is still usable.
        assert_eq!(int(&first, "SELECT COUNT(*) FROM hits").await, 1);
    }
}

macro_rules! engine_tests {
    ($module:ident, $feature:literal, $kind:expr, [$($scenario:ident),* $(,)?]) => {
        #[cfg(feature = $feature)]
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    with_db($kind, scenario::$scenario).await;
                }
            )*
        }
    };
}

engine_tests!(
    postgres,
    "postgres",
    Kind::Postgres,
    [
        apply_rerun_and_add_later,
        multi_statement_migrations,
        unknown_applied_version,
        changed_checksum,
        failing_migration,
        custom_tables_share_a_database,
        invalid_definitions,
        concurrent_replicas,
        lock_timeout,
        cancelled_run_releases_the_lock,
    ]
);

engine_tests!(
    mysql,
    "mysql",
    Kind::MySql,
    [
        apply_rerun_and_add_later,
        multi_statement_migrations,
        unknown_applied_version,
        changed_checksum,
        failing_migration,
        custom_tables_share_a_database,
        invalid_definitions,
        concurrent_replicas,
        lock_timeout,
        cancelled_run_releases_the_lock,
    ]
);

engine_tests!(
    sqlite,
    "sqlite",
    Kind::Sqlite,
    [
        apply_rerun_and_add_later,
        multi_statement_migrations,
        unknown_applied_version,
        changed_checksum,
        failing_migration,
        custom_tables_share_a_database,
        invalid_definitions,
        concurrent_replicas,
    ]
);

#[cfg(feature = "sqlite")]
mod sqlite_specific {
    use super::*;

    /// Another writer holds SQLite's write lock longer than the lock timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn lock_timeout() {
        with_db(Kind::Sqlite, |db| async move {
            let holder = match db.sqlite_client(Duration::from_millis(100)).await {
                DatabaseClient::Sqlite(pool) => pool,
                _ => unreachable!(),
            };
            let client = db.sqlite_client(Duration::from_millis(100)).await;
            let migrations = Migrations::new()
                .add(Migration::new(1, "one").all("CREATE TABLE one (id BIGINT)"))
                .lock_timeout(Duration::from_millis(600));
            let tx = holder.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let started = Instant::now();
            let err = migrations.run(&client).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::MigrationLockTimeout {
                        engine: Engine::Sqlite,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{:?}",
                started.elapsed()
            );
            tx.rollback().await.unwrap();
            let report = migrations.run(&client).await.unwrap();
            assert_eq!(report.applied, applied(&[(1, "one")]));
        })
        .await;
    }

    /// Replicas on one shared-cache in-memory database (SQLITE_LOCKED rather than BUSY).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn shared_cache_memory_concurrent_replicas() {
        use std::str::FromStr as _;
        let url = format!(
            "sqlite:file:{}?mode=memory&cache=shared",
            unique_name("mig")
        );
        let open = || async {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap();
            DatabaseClient::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(2)
                    .min_connections(1)
                    .connect_with(options)
                    .await
                    .unwrap(),
            )
        };
        // Keeps the in-memory database alive.
        let keeper = open().await;
        let migrations = scenario::racing(Kind::Sqlite);
        let barrier = Arc::new(tokio::sync::Barrier::new(10));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let client = open().await;
            let migrations = migrations.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                migrations.run(&client).await
            }));
        }
        let mut applied_versions = Vec::new();
        for task in tasks {
            let report = task.await.unwrap().unwrap();
            assert_eq!(
                report.applied.len() + report.already_applied,
                3,
                "{report:?}"
            );
            applied_versions.extend(report.applied.iter().map(|(v, _)| *v));
        }
        applied_versions.sort_unstable();
        assert_eq!(applied_versions, [1, 2, 3]);
        assert_eq!(int(&keeper, "SELECT COUNT(*) FROM hits").await, 2);
    }
}
