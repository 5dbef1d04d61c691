//! Benchmarks of the plugin pools the database manager hands out, per engine:
//!
//! * `checkout_select_1/<engine>`: take a connection from the plugin's pool, run `SELECT 1`,
//!   give it back;
//! * `insert_10000_rows/<engine>`: one transaction inserting 10,000 rows as multi-row
//!   `INSERT`s of 100 rows (built once per dialect with `sea_query`), then commit. The table
//!   is emptied (`TRUNCATE`, SQLite `DELETE`) before each iteration, outside the timing.
//!
//! SQLite runs in memory and on a WAL file; PostgreSQL and MariaDB need `POSTGRES_URL` and
//! `MYSQL_URL` (the bench panics with a message when they are unset):
//!
//! ```text
//! scripts/with-servers cargo bench -p backstage-database --all-features --bench database -- --warm-up-time 1 --measurement-time 3
//! ```

// The server helpers are unused when a server engine's feature is off.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_variables)
)]

use std::time::{Duration, Instant};

use backstage_backend_common::config::ConfigReader;
use backstage_database::{DatabaseClient, DatabaseManager, DatabaseService, ManagerOptions};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sea_query::{Alias, InsertStatement, Query};
use sea_query_sqlx::SqlxBinder;
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

const ROWS: usize = 10_000;
/// Rows per `INSERT` (300 bind values). Statements much larger than 8 KiB stall ~40 ms each
/// over TCP with sqlx 0.9.0, which no longer sets `TCP_NODELAY` (sqlx issue #4335): with 500
/// rows per statement the PostgreSQL figure goes from ~40 ms to ~900 ms.
const CHUNK: usize = 100;

/// One engine under test: its manager (for cleanup) and the plugin's pool.
struct Target {
    name: &'static str,
    manager: DatabaseManager,
    client: DatabaseClient,
    /// SQL that drops what the bench created, run on an admin connection.
    cleanup: Option<(String, String)>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn server_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{var} is not set: the database benches need a real server. Run them with \
             scripts/with-servers cargo bench -p backstage-database --all-features --bench database"
        ),
    }
}

async fn target(name: &'static str, block: Value, cleanup: Option<(String, String)>) -> Target {
    let config = ConfigReader::from_value(json!({ "backend": { "database": block } }));
    let options = ManagerOptions::default().with_keepalive_interval(None);
    let manager = DatabaseManager::with_options(&config, options).expect("manager");
    let plugin = manager.for_plugin("bench").expect("for_plugin");
    let client = plugin.client().await.expect("client");
    Target {
        name,
        manager,
        client,
        cleanup,
    }
}

async fn targets(dir: &std::path::Path) -> Vec<Target> {
    let prefix = format!("bsbench_{}_", std::process::id());
    let _ = (&prefix, dir);
    let mut out = Vec::new();
    #[cfg(feature = "sqlite")]
    {
        out.push(
            target(
                "sqlite_memory",
                json!({ "client": "better-sqlite3", "connection": ":memory:" }),
                None,
            )
            .await,
        );
        out.push(
            target(
                "sqlite_file_wal",
                json!({ "client": "better-sqlite3", "connection": { "directory": dir } }),
                None,
            )
            .await,
        );
    }
    #[cfg(feature = "postgres")]
    {
        let url = server_url("POSTGRES_URL");
        out.push(
            target(
                "postgres",
                json!({ "client": "pg", "connection": url, "prefix": prefix }),
                Some((
                    url.clone(),
                    format!("DROP DATABASE IF EXISTS \"{prefix}bench\" WITH (FORCE)"),
                )),
            )
            .await,
        );
    }
    #[cfg(feature = "mysql")]
    {
        let raw = server_url("MYSQL_URL");
        let url = url::Url::parse(&raw).expect("MYSQL_URL is a URL");
        let mut connection = json!({
            "host": url.host_str().unwrap_or("127.0.0.1"),
            "port": url.port().unwrap_or(3306),
            "user": if url.username().is_empty() { "root" } else { url.username() },
        });
        if let Some(password) = url.password() {
            connection["password"] = json!(password);
        }
        out.push(
            target(
                "mariadb",
                json!({ "client": "mysql2", "connection": connection, "prefix": prefix }),
                Some((
                    raw.clone(),
                    format!("DROP DATABASE IF EXISTS `{prefix}bench`"),
                )),
            )
            .await,
        );
    }
    out
}

async fn exec(client: &DatabaseClient, sql: &str) {
    let sql = AssertSqlSafe(sql.to_owned());
    let result = match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    };
    result.expect("bench SQL");
}

async fn select_one(client: &DatabaseClient) {
    let result = match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(pool)
            .await
            .map(i64::from),
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT 1")
                .fetch_one(pool)
                .await
        }
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT 1")
                .fetch_one(pool)
                .await
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    };
    assert_eq!(result.expect("SELECT 1"), 1);
}

/// The 10,000 rows as `INSERT`s of [`CHUNK`] rows each.
fn insert_statements() -> Vec<InsertStatement> {
    (0..ROWS)
        .collect::<Vec<_>>()
        .chunks(CHUNK)
        .map(|chunk| {
            let mut insert = Query::insert();
            insert.into_table(Alias::new("bench_rows")).columns([
                Alias::new("id"),
                Alias::new("name"),
                Alias::new("score"),
            ]);
            for &i in chunk {
                insert
                    .values([
                        (i as i64).into(),
                        format!("entity-{i}").into(),
                        ((i % 97) as i64).into(),
                    ])
                    .expect("three values for three columns");
            }
            insert
        })
        .collect()
}

/// Inserts the rows in one transaction and commits.
async fn insert_rows(client: &DatabaseClient, statements: &[InsertStatement]) {
    macro_rules! run {
        ($pool:expr, $builder:expr) => {{
            let mut tx = $pool.begin().await.expect("begin");
            for statement in statements {
                let (sql, values) = statement.build_sqlx($builder);
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
            }
            tx.commit().await.expect("commit");
        }};
    }
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => run!(pool, sea_query::PostgresQueryBuilder),
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => run!(pool, sea_query::SqliteQueryBuilder),
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => run!(pool, sea_query::MysqlQueryBuilder),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

async fn cleanup(targets: Vec<Target>) {
    for target in targets {
        target.manager.close().await;
        let Some((url, sql)) = target.cleanup else {
            continue;
        };
        let result: Result<(), sqlx::Error> = match target.name {
            #[cfg(feature = "postgres")]
            "postgres" => match sqlx::PgPool::connect(&url).await {
                Ok(pool) => sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .map(drop),
                Err(e) => Err(e),
            },
            #[cfg(feature = "mysql")]
            "mariadb" => match sqlx::MySqlPool::connect(&url).await {
                Ok(pool) => sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .map(drop),
                Err(e) => Err(e),
            },
            _ => Ok(()),
        };
        if let Err(e) = result {
            eprintln!("cleanup of {}: {e}", target.name);
        }
        let _ = url;
    }
}

fn benches(c: &mut Criterion) {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let targets = runtime.block_on(targets(dir.path()));
    let statements = insert_statements();

    let mut group = c.benchmark_group("checkout_select_1");
    for target in &targets {
        group.bench_with_input(
            BenchmarkId::from_parameter(target.name),
            &target.client,
            |b, client| b.to_async(&runtime).iter(|| select_one(client)),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("insert_10000_rows");
    group.sample_size(10);
    for target in &targets {
        runtime.block_on(exec(
            &target.client,
            "CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, score BIGINT NOT NULL)",
        ));
        group.bench_with_input(
            BenchmarkId::from_parameter(target.name),
            &target.client,
            |b, client| {
                b.to_async(&runtime).iter_custom(|iterations| {
                    let statements = &statements;
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iterations {
                            // TRUNCATE on the servers: after DELETE, PostgreSQL's unique
                            // checks would wade through every earlier iteration's dead rows.
                            let empty = match client.engine() {
                                backstage_database::Engine::Sqlite => "DELETE FROM bench_rows",
                                _ => "TRUNCATE TABLE bench_rows",
                            };
                            exec(client, empty).await;
                            let start = Instant::now();
                            insert_rows(client, statements).await;
                            total += start.elapsed();
                        }
                        total
                    }
                })
            },
        );
    }
    group.finish();

    runtime.block_on(cleanup(targets));
}

criterion_group!(database, benches);
criterion_main!(database);
