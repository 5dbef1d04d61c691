//! SQLite: no session locks, so every step runs in a `BEGIN IMMEDIATE` transaction (which
//! takes the database's write lock at once) and re-reads the bookkeeping table under it: a
//! migration is applied only by the writer that finds it unrecorded, and commits together
//! with its row (SQLite DDL is transactional).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::{AppliedMigration, Ctx, MigrationReport, Plan};
use crate::Error;

/// Pause between attempts to take the write lock while another writer holds it.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

pub(super) async fn run(
    plan: &Plan<'_>,
    pool: &SqlitePool,
    lock_timeout: Duration,
) -> Result<MigrationReport, Error> {
    let ctx = &plan.ctx;
    let table = ctx.quoted_table();

    // Create the table and check what is recorded, under the write lock.
    let mut tx = begin_immediate(ctx, pool, lock_timeout).await?;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         version INTEGER NOT NULL PRIMARY KEY, \
         name TEXT NOT NULL, \
         checksum TEXT NOT NULL, \
         applied_at TEXT NOT NULL)"
    )))
    .execute(&mut *tx)
    .await
    .map_err(ctx.bookkeeping("creating the bookkeeping table"))?;
    let applied = select_applied(ctx, &mut tx, &table).await?;
    tx.commit()
        .await
        .map_err(ctx.bookkeeping("creating the bookkeeping table"))?;
    let done = plan.check(&applied)?;

    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: done.len(),
    };
    let recorded = format!("SELECT name, checksum FROM {table} WHERE version = ?");
    let insert =
        format!("INSERT INTO {table} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)");
    for step in plan.steps.iter().filter(|s| !done.contains(&s.version)) {
        let started = Instant::now();
        let mut tx = begin_immediate(ctx, pool, lock_timeout).await?;
        // Another replica may have applied it since the check above.
        let row: Option<(String, String)> = sqlx::query_as(AssertSqlSafe(recorded.as_str()))
            .bind(step.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(ctx.bookkeeping("reading the applied migrations"))?;
        if let Some((name, checksum)) = row {
            plan.check_row(step.version, &name, &checksum)?;
            report.already_applied += 1;
            continue;
        }
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

/// `BEGIN IMMEDIATE`, retried while another connection holds the write lock (the pool's
/// `busy_timeout` already waits inside each attempt; a shared-cache database reports
/// `SQLITE_LOCKED` at once instead).
async fn begin_immediate(
    ctx: &Ctx<'_>,
    pool: &SqlitePool,
    timeout: Duration,
) -> Result<Transaction<'static, Sqlite>, Error> {
    let started = Instant::now();
    loop {
        match pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => return Ok(tx),
            Err(e) if is_busy(&e) => {
                if started.elapsed() >= timeout {
                    return Err(ctx.lock_timeout(started.elapsed()));
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => return Err(ctx.bookkeeping("taking the database write lock")(e)),
        }
    }
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED`, with any extended code.
fn is_busy(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok()) else {
        return false;
    };
    matches!(code & 0xff, 5 | 6)
}

async fn select_applied(
    ctx: &Ctx<'_>,
    conn: &mut SqliteConnection,
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
    pool: &SqlitePool,
) -> Result<Vec<AppliedMigration>, Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(ctx.bookkeeping("connecting"))?;
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
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
