//! PostgreSQL: one connection holds a session advisory lock for the whole run; each
//! migration commits with its bookkeeping row in one transaction (PostgreSQL DDL is
//! transactional).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool, Postgres};

use super::{AppliedMigration, Ctx, MigrationReport, Plan, SessionLock};
use crate::Error;

/// SQLSTATE `lock_not_available`: `lock_timeout` expired.
const LOCK_NOT_AVAILABLE: &str = "55P03";

pub(super) async fn run(
    plan: &Plan<'_>,
    pool: &PgPool,
    lock_timeout: Duration,
) -> Result<MigrationReport, Error> {
    let ctx = &plan.ctx;
    let conn = pool
        .acquire()
        .await
        .map_err(ctx.bookkeeping("connecting"))?;
    let mut lock = SessionLock::new(conn);
    let key = lock_key(ctx, &mut lock.conn).await?;
    acquire(ctx, &mut lock, key, lock_timeout).await?;

    let result = migrate(plan, &mut lock.conn).await;

    let released = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *lock.conn)
        .await;
    match released {
        // Only a connection known to be unlocked goes back to the pool.
        Ok(_) => lock.held = false,
        Err(e) => tracing::warn!(
            table = ctx.table,
            error = %e,
            "could not release the PostgreSQL migration lock; closing its connection instead"
        ),
    }
    let report = result?;
    drop(lock);
    Ok(report)
}

/// The advisory lock key: the first 8 bytes of a digest of database, schema and table, so
/// plugins in other databases or schemas (schema division mode) do not wait for each other.
async fn lock_key(ctx: &Ctx<'_>, conn: &mut PgConnection) -> Result<i64, Error> {
    let (database, schema): (String, Option<String>) =
        sqlx::query_as("SELECT current_database()::text, current_schema()::text")
            .fetch_one(&mut *conn)
            .await
            .map_err(ctx.bookkeeping("reading the current database and schema"))?;
    let digest = ctx.lock_digest(&[&database, schema.as_deref().unwrap_or("")]);
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    Ok(i64::from_be_bytes(key))
}

/// `pg_advisory_lock` under a transaction-local `lock_timeout`; the session lock outlives
/// the transaction.
async fn acquire(
    ctx: &Ctx<'_>,
    lock: &mut SessionLock<Postgres>,
    key: i64,
    timeout: Duration,
) -> Result<(), Error> {
    let started = Instant::now();
    let timeout_ms = timeout.as_millis().clamp(1, i32::MAX as u128);
    let mut tx = lock
        .conn
        .begin()
        .await
        .map_err(ctx.bookkeeping("acquiring the migration lock"))?;
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{timeout_ms}ms"))
        .execute(&mut *tx)
        .await
        .map_err(ctx.bookkeeping("acquiring the migration lock"))?;
    // Mark first: if the future is cancelled while the lock is awaited, the session may get
    // it anyway, so the connection must be closed rather than pooled.
    lock.held = true;
    let locked = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *tx)
        .await;
    match locked {
        Ok(_) => {}
        Err(e) if has_sqlstate(&e, LOCK_NOT_AVAILABLE) => {
            lock.held = false;
            return Err(ctx.lock_timeout(started.elapsed()));
        }
        Err(e) => return Err(ctx.bookkeeping("acquiring the migration lock")(e)),
    }
    tx.commit()
        .await
        .map_err(ctx.bookkeeping("acquiring the migration lock"))
}

fn has_sqlstate(e: &sqlx::Error, code: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

async fn migrate(plan: &Plan<'_>, conn: &mut PgConnection) -> Result<MigrationReport, Error> {
    let ctx = &plan.ctx;
    let table = ctx.quoted_table();
    ensure_table(ctx, conn, &table).await?;
    let applied = select_applied(ctx, conn, &table).await?;
    let done = plan.check(&applied)?;

    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: done.len(),
    };
    let insert = format!(
        "INSERT INTO {table} (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)"
    );
    for step in plan.steps.iter().filter(|s| !done.contains(&s.version)) {
        let started = Instant::now();
        let mut tx = conn.begin().await.map_err(ctx.failed(step, true))?;
        // Migration SQL is the plugin's own code, never user input.
        sqlx::raw_sql(AssertSqlSafe(step.sql))
            .execute(&mut *tx)
            .await
            .map_err(ctx.failed(step, true))?;
        sqlx::query(AssertSqlSafe(insert.as_str()))
            .bind(step.version)
            .bind(step.name)
            .bind(&step.checksum)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(ctx.failed(step, true))?;
        tx.commit().await.map_err(ctx.failed(step, true))?;
        plan.log_applied(step, started.elapsed());
        report.applied.push((step.version, step.name.to_owned()));
    }
    Ok(report)
}

async fn table_exists(ctx: &Ctx<'_>, conn: &mut PgConnection) -> Result<bool, Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
         WHERE schemaname = current_schema() AND tablename = $1)",
    )
    .bind(ctx.table)
    .fetch_one(&mut *conn)
    .await
    .map_err(ctx.bookkeeping("looking for the bookkeeping table"))
}

/// Checked first so that a present table causes no `already exists` notice.
async fn ensure_table(ctx: &Ctx<'_>, conn: &mut PgConnection, table: &str) -> Result<(), Error> {
    if table_exists(ctx, conn).await? {
        return Ok(());
    }
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         version BIGINT NOT NULL PRIMARY KEY, \
         name TEXT NOT NULL, \
         checksum TEXT NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL)"
    )))
    .execute(&mut *conn)
    .await
    .map_err(ctx.bookkeeping("creating the bookkeeping table"))?;
    Ok(())
}

async fn select_applied(
    ctx: &Ctx<'_>,
    conn: &mut PgConnection,
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
    pool: &PgPool,
) -> Result<Vec<AppliedMigration>, Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(ctx.bookkeeping("connecting"))?;
    if !table_exists(ctx, &mut conn).await? {
        return Ok(Vec::new());
    }
    select_applied(ctx, &mut conn, &ctx.quoted_table()).await
}
