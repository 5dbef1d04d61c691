//! MySQL and MariaDB: one connection holds a named lock (`GET_LOCK`) for the whole run. Each
//! migration runs in a transaction with its bookkeeping row, but DDL commits implicitly, so
//! only DML-only migrations are atomic: a failing migration may be partly applied.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Connection as _, MySqlConnection, MySqlPool};

use super::{AppliedMigration, Ctx, MigrationReport, Plan, SessionLock};
use crate::Error;

pub(super) async fn run(
    plan: &Plan<'_>,
    pool: &MySqlPool,
    lock_timeout: Duration,
) -> Result<MigrationReport, Error> {
    let ctx = &plan.ctx;
    let conn = pool
        .acquire()
        .await
        .map_err(ctx.bookkeeping("connecting"))?;
    let mut lock = SessionLock::new(conn);
    let name = lock_name(ctx, &mut lock.conn).await?;

    // GET_LOCK waits whole seconds (0: do not wait).
    let seconds = i64::try_from(lock_timeout.as_millis().div_ceil(1000)).unwrap_or(i64::MAX);
    let started = Instant::now();
    // Mark first: if the future is cancelled while GET_LOCK waits, the session may get the
    // lock anyway, so the connection must be closed rather than pooled.
    lock.held = true;
    let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
        .bind(&name)
        .bind(seconds)
        .fetch_one(&mut *lock.conn)
        .await
        .map_err(ctx.bookkeeping("acquiring the migration lock"))?;
    match got {
        Some(1) => {}
        Some(_) => {
            lock.held = false;
            return Err(ctx.lock_timeout(started.elapsed()));
        }
        None => {
            return Err(ctx.bookkeeping("acquiring the migration lock")(
                sqlx::Error::Protocol(format!("GET_LOCK('{name}') returned NULL")),
            ));
        }
    }

    let result = migrate(plan, &mut lock.conn).await;

    let released: Result<Option<i64>, _> = sqlx::query_scalar("SELECT RELEASE_LOCK(?)")
        .bind(&name)
        .fetch_one(&mut *lock.conn)
        .await;
    match released {
        Ok(Some(1)) => lock.held = false,
        Ok(other) => tracing::warn!(
            table = ctx.table,
            lock = %name,
            result = ?other,
            "the MySQL migration lock was not held at release; closing its connection"
        ),
        Err(e) => tracing::warn!(
            table = ctx.table,
            error = %e,
            "could not release the MySQL migration lock; closing its connection instead"
        ),
    }
    let report = result?;
    drop(lock);
    Ok(report)
}

/// Named locks are server-wide, so the name covers the database and the table; hashed to
/// stay within MySQL's 64-character limit.
async fn lock_name(ctx: &Ctx<'_>, conn: &mut MySqlConnection) -> Result<String, Error> {
    let database: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&mut *conn)
        .await
        .map_err(ctx.bookkeeping("reading the current database"))?;
    let digest = ctx.lock_digest(&[database.as_deref().unwrap_or("")]);
    let mut name = String::from("backstage_migrations_");
    for b in &digest[..20] {
        name.push_str(&format!("{b:02x}"));
    }
    Ok(name)
}

async fn migrate(plan: &Plan<'_>, conn: &mut MySqlConnection) -> Result<MigrationReport, Error> {
    let ctx = &plan.ctx;
    let table = ctx.quoted_table();
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         version BIGINT NOT NULL PRIMARY KEY, \
         name TEXT NOT NULL, \
         checksum VARCHAR(64) NOT NULL, \
         applied_at DATETIME(6) NOT NULL)"
    )))
    .execute(&mut *conn)
    .await
    .map_err(ctx.bookkeeping("creating the bookkeeping table"))?;
    let applied = select_applied(ctx, conn, &table).await?;
    let done = plan.check(&applied)?;

    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: done.len(),
    };
    let insert =
        format!("INSERT INTO {table} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)");
    for step in plan.steps.iter().filter(|s| !done.contains(&s.version)) {
        let started = Instant::now();
        // The transaction only protects DML: each DDL statement commits it implicitly.
        let mut tx = conn.begin().await.map_err(ctx.failed(step, false))?;
        // Migration SQL is the plugin's own code, never user input.
        sqlx::raw_sql(AssertSqlSafe(step.sql))
            .execute(&mut *tx)
            .await
            .map_err(ctx.failed(step, false))?;
        sqlx::query(AssertSqlSafe(insert.as_str()))
            .bind(step.version)
            .bind(step.name)
            .bind(&step.checksum)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(ctx.failed(step, false))?;
        tx.commit().await.map_err(ctx.failed(step, false))?;
        plan.log_applied(step, started.elapsed());
        report.applied.push((step.version, step.name.to_owned()));
    }
    Ok(report)
}

async fn select_applied(
    ctx: &Ctx<'_>,
    conn: &mut MySqlConnection,
    table: &str,
) -> Result<Vec<AppliedMigration>, Error> {
    let rows: Vec<(i64, String, String, DateTime<Utc>)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT version, name, checksum, applied_at FROM {table} ORDER BY version"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(ctx.bookkeeping("reading the applied migrations"))?;
    Ok(rows
        .into_iter()
        .map(|(version, name, checksum, applied_at)| AppliedMigration {
            version,
            name,
            checksum,
            applied_at,
        })
        .collect())
}

pub(super) async fn read_applied(
    ctx: &Ctx<'_>,
    pool: &MySqlPool,
) -> Result<Vec<AppliedMigration>, Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(ctx.bookkeeping("connecting"))?;
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = ?",
    )
    .bind(ctx.table)
    .fetch_one(&mut *conn)
    .await
    .map_err(ctx.bookkeeping("looking for the bookkeeping table"))?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    select_applied(ctx, &mut conn, &ctx.quoted_table()).await
}
