//! Smoke tests: one real round trip per server that `scripts/with-servers`
//! provides, with the client crates the workspace uses. A failure here means
//! the test environment is broken, not the code under test.

use backstage_test_support::{Server, unique_name};
use redis::AsyncCommands;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection};

#[tokio::test]
async fn postgres_round_trip() {
    let url = Server::Postgres.url();
    let mut conn = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to POSTGRES_URL={url}: {e}"));

    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect("SELECT 1");
    assert_eq!(one, 1);

    let table = unique_name("smoke_pg");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TEMP TABLE {table} (id INT PRIMARY KEY, name TEXT NOT NULL)"
    )))
    .execute(&mut conn)
    .await
    .expect("create temp table");
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {table} (id, name) VALUES ($1, $2)"
    )))
    .bind(7_i32)
    .bind("seven")
    .execute(&mut conn)
    .await
    .expect("insert");
    let name: String = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT name FROM {table} WHERE id = $1"
    )))
    .bind(7_i32)
    .fetch_one(&mut conn)
    .await
    .expect("select");
    assert_eq!(name, "seven");
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut conn)
        .await
        .expect("drop table");

    // Per-test databases need CREATE DATABASE.
    let db = unique_name("smoke_pg_db");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&mut conn)
        .await
        .expect("drop database");
    conn.close().await.expect("close");
}

#[tokio::test]
async fn mysql_round_trip() {
    let url = Server::MySql.url();
    let mut conn = MySqlConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to MYSQL_URL={url}: {e}"));

    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&mut conn)
        .await
        .expect("SELECT VERSION()");
    assert!(version.contains("MariaDB"), "not MariaDB: {version}");

    // Per-test databases need CREATE DATABASE; use one for the table too.
    let db = unique_name("smoke_my_db");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL)"
    )))
    .execute(&mut conn)
    .await
    .expect("create table");
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {db}.items (id, name) VALUES (?, ?)"
    )))
    .bind(7_i32)
    .bind("seven")
    .execute(&mut conn)
    .await
    .expect("insert");
    let name: String = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT name FROM {db}.items WHERE id = ?"
    )))
    .bind(7_i32)
    .fetch_one(&mut conn)
    .await
    .expect("select");
    assert_eq!(name, "seven");
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&mut conn)
        .await
        .expect("drop database");
    conn.close().await.expect("close");
}

/// SET / GET / DEL a unique key and return the server's `INFO server` text.
async fn resp_round_trip(server: Server) -> String {
    let url = server.url();
    let client = redis::Client::open(url.as_str())
        .unwrap_or_else(|e| panic!("parse {}={url}: {e}", server.env_var()));
    let mut conn = redis::aio::ConnectionManager::new(client)
        .await
        .unwrap_or_else(|e| panic!("connect to {}={url}: {e}", server.env_var()));

    let key = unique_name("smoke_resp");
    let () = conn
        .set_ex(&key, "value", 60)
        .await
        .expect("SET with expiry");
    let got: Option<String> = conn.get(&key).await.expect("GET");
    assert_eq!(got.as_deref(), Some("value"));
    let deleted: u64 = conn.del(&key).await.expect("DEL");
    assert_eq!(deleted, 1);
    let got: Option<String> = conn.get(&key).await.expect("GET after DEL");
    assert_eq!(got, None);

    redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .expect("INFO server")
}

#[tokio::test]
async fn redis_round_trip() {
    let info = resp_round_trip(Server::Redis).await;
    assert!(info.contains("redis_version:"), "INFO server: {info}");
}

#[tokio::test]
async fn valkey_round_trip() {
    let info = resp_round_trip(Server::Valkey).await;
    assert!(
        info.lines().any(|l| l.trim() == "server_name:valkey"),
        "VALKEY_URL does not point at Valkey; INFO server: {info}"
    );
}

#[tokio::test]
async fn memcached_round_trip_on_every_server() {
    use memcache::exp::{AsyncMemcache, Ttl};

    let urls = Server::MemcachedCluster.urls();
    assert!(
        urls.len() >= 2,
        "MEMCACHED_URLS must name two servers: {urls:?}"
    );
    assert!(
        urls.contains(&Server::Memcached.url()),
        "MEMCACHED_URL should be one of MEMCACHED_URLS"
    );
    for url in &urls {
        let addr = url
            .strip_prefix("memcache://")
            .unwrap_or_else(|| panic!("not a memcache:// URL: {url}"))
            .trim_end_matches('/');
        let cache = AsyncMemcache::connect([addr])
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        let key = unique_name("smoke_mc");
        cache
            .set(&key, "value", Ttl::secs(60))
            .await
            .unwrap_or_else(|e| panic!("set on {url}: {e}"));
        let got: Option<String> = cache.get(&key).await.expect("get");
        assert_eq!(got.as_deref(), Some("value"), "on {url}");
        cache.delete(&key).await.expect("delete");
        let got: Option<String> = cache.get(&key).await.expect("get after delete");
        assert_eq!(got, None, "on {url}");
    }
}
