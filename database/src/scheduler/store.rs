//! The task table (`backstage_backend_tasks__tasks`) and every query the scheduler runs on it,
//! written once per SQL dialect.
//!
//! Every time comparison uses the database server's clock (`now()`, `UTC_TIMESTAMP(3)`,
//! `strftime(…, 'now')`), so replicas with skewed clocks agree on who holds a lease. Values
//! interpolated into the SQL text are only numbers and timestamps this module formats itself;
//! everything that comes from a caller (task IDs, tickets, settings, errors) is bound.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use sqlx::{AssertSqlSafe, Row};

use crate::{DatabaseClient, Engine, Error};

/// The table, as Backstage names it.
pub(crate) const TABLE: &str = "backstage_backend_tasks__tasks";

/// `serializeError(new Error('Task timed out'))`, as an SQL literal.
const TIMED_OUT_SQL: &str = r#"'{"name":"Error","message":"Task timed out"}'"#;

/// `serializeError(new Error('Task was cancelled'))`, as an SQL literal.
const CANCELLED_SQL: &str = r#"'{"name":"Error","message":"Task was cancelled"}'"#;

/// The longest duration written into SQL, so that interval arithmetic never overflows
/// (about 100 years).
const MAX_SQL_MILLIS: u128 = 100 * 366 * 24 * 3600 * 1000;

/// Key of the PostgreSQL advisory lock that serializes `CREATE TABLE IF NOT EXISTS` between
/// replicas starting together (concurrent creates of the same table can fail on PostgreSQL).
#[cfg(feature = "postgres")]
const PG_CREATE_LOCK: i64 = 0x6261_636b_7461_736b; // "backtask"

/// Runs `$body` (in an async block, so `?` stays inside) with `$pool` bound to the client's
/// typed pool.
macro_rules! with_pool {
    ($client:expr, |$pool:ident| $body:expr) => {
        match $client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres($pool) => async { $body }.await,
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite($pool) => async { $body }.await,
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql($pool) => async { $body }.await,
        }
    };
}

/// When a task should next start, as an SQL expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StartAt {
    /// The database's now.
    Now,
    /// The database's now plus this.
    In(Duration),
    /// This time.
    At(DateTime<Utc>),
    /// `NULL`: only when triggered.
    Never,
    /// `max(previous planned start + cadence, now)`: the next start after a run of a task
    /// with a duration cadence.
    AfterPrevious(Duration),
}

/// A row of the task table, for the task state the HTTP API reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TaskRow {
    pub(crate) id: String,
    pub(crate) next_run_start_at: Option<DateTime<Utc>>,
    pub(crate) current_run_ticket: Option<String>,
    pub(crate) current_run_started_at: Option<DateTime<Utc>>,
    pub(crate) current_run_expires_at: Option<DateTime<Utc>>,
    pub(crate) last_run_ended_at: Option<DateTime<Utc>>,
    pub(crate) last_run_error_json: Option<String>,
}

/// What `trigger` and `cancel` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Done.
    Done,
    /// No such task.
    NotFound,
    /// The task is running (trigger) or not running (cancel).
    Conflict,
}

/// Builds one statement: numbered (`$1`) or positional (`?`) placeholders, in text order.
struct Sql {
    engine: Engine,
    text: String,
    params: usize,
}

impl Sql {
    fn new(engine: Engine) -> Self {
        Self {
            engine,
            text: String::new(),
            params: 0,
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder; values must be bound in the order of these calls.
    fn param(&mut self) -> &mut Self {
        self.params += 1;
        match self.engine {
            Engine::Postgres => {
                let n = self.params;
                self.text.push_str(&format!("${n}"));
            }
            Engine::Sqlite | Engine::MySql => self.text.push('?'),
        }
        self
    }

    fn build(&self) -> AssertSqlSafe<String> {
        AssertSqlSafe(self.text.clone())
    }
}

/// The SQL expressions of one dialect.
#[derive(Clone, Copy)]
struct Dialect(Engine);

impl Dialect {
    fn now(self) -> &'static str {
        match self.0 {
            Engine::Postgres => "now()",
            Engine::MySql => "UTC_TIMESTAMP(3)",
            Engine::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        }
    }

    /// `expr + duration`.
    fn plus(self, expr: &str, duration: Duration) -> String {
        let millis = duration.as_millis().min(MAX_SQL_MILLIS);
        match self.0 {
            Engine::Postgres => format!("({expr} + interval '{millis} milliseconds')"),
            Engine::MySql => format!("({expr} + INTERVAL {} MICROSECOND)", millis * 1000),
            Engine::Sqlite => format!(
                "strftime('%Y-%m-%d %H:%M:%f', {expr}, '+{}.{:03} seconds')",
                millis / 1000,
                millis % 1000
            ),
        }
    }

    fn now_plus(self, duration: Duration) -> String {
        self.plus(self.now(), duration)
    }

    /// A timestamp literal.
    fn at(self, time: DateTime<Utc>) -> String {
        match self.0 {
            Engine::Postgres => format!(
                "CAST('{}' AS timestamptz)",
                time.to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
            Engine::MySql => format!(
                "CAST('{}' AS DATETIME(3))",
                time.format("%Y-%m-%d %H:%M:%S%.3f")
            ),
            Engine::Sqlite => format!("'{}'", time.format("%Y-%m-%d %H:%M:%S%.3f")),
        }
    }

    fn greatest(self, a: &str, b: &str) -> String {
        match self.0 {
            Engine::Postgres | Engine::MySql => format!("GREATEST({a}, {b})"),
            Engine::Sqlite => format!("max({a}, {b})"),
        }
    }

    fn least(self, a: &str, b: &str) -> String {
        match self.0 {
            Engine::Postgres | Engine::MySql => format!("LEAST({a}, {b})"),
            Engine::Sqlite => format!("min({a}, {b})"),
        }
    }

    fn start_at(self, start: &StartAt) -> String {
        match start {
            StartAt::Now => self.now().to_owned(),
            StartAt::In(duration) => self.now_plus(*duration),
            StartAt::At(time) => self.at(*time),
            StartAt::Never => "NULL".to_owned(),
            StartAt::AfterPrevious(cadence) => {
                let previous = format!("COALESCE(next_run_start_at, {})", self.now());
                self.greatest(&self.plus(&previous, *cadence), self.now())
            }
        }
    }

    /// The `CREATE TABLE IF NOT EXISTS` statement, with Backstage's columns (both migrations).
    fn create_table(self) -> String {
        let (id, time, text, long_text) = match self.0 {
            Engine::Postgres => ("varchar(255)", "timestamptz", "text", "text"),
            Engine::MySql => ("varchar(255)", "DATETIME(3)", "text", "longtext"),
            Engine::Sqlite => ("varchar(255)", "datetime", "text", "text"),
        };
        format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (\
             id {id} NOT NULL PRIMARY KEY, \
             settings_json {text} NOT NULL, \
             next_run_start_at {time} NULL, \
             current_run_ticket {text} NULL, \
             current_run_started_at {time} NULL, \
             current_run_expires_at {time} NULL, \
             last_run_error_json {long_text} NULL, \
             last_run_ended_at {time} NULL)"
        )
    }
}

/// Timestamps as each driver returns them.
trait TimestampRow: Row {
    fn timestamp(&self, index: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

#[cfg(feature = "postgres")]
impl TimestampRow for sqlx::postgres::PgRow {
    fn timestamp(&self, index: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get::<Option<DateTime<Utc>>, _>(index)
    }
}

#[cfg(feature = "mysql")]
impl TimestampRow for sqlx::mysql::MySqlRow {
    fn timestamp(&self, index: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        // Written with UTC_TIMESTAMP(3): a UTC wall-clock time.
        Ok(self
            .try_get::<Option<NaiveDateTime>, _>(index)?
            .map(|time| time.and_utc()))
    }
}

#[cfg(feature = "sqlite")]
impl TimestampRow for sqlx::sqlite::SqliteRow {
    fn timestamp(&self, index: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        match self.try_get::<Option<String>, _>(index)? {
            None => Ok(None),
            Some(text) => {
                parse_sqlite_time(&text)
                    .map(Some)
                    .ok_or_else(|| sqlx::Error::ColumnDecode {
                        index: index.to_string(),
                        source: format!("'{text}' is not a timestamp").into(),
                    })
            }
        }
    }
}

/// SQLite's `YYYY-MM-DD HH:MM:SS[.SSS]` (UTC), or an RFC 3339 time.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn parse_sqlite_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|time| time.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|time| time.with_timezone(&Utc))
        })
}

/// The task table of one plugin's database.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    client: DatabaseClient,
    plugin_id: String,
}

impl Store {
    pub(crate) fn new(plugin_id: &str, client: DatabaseClient) -> Self {
        Self {
            client,
            plugin_id: plugin_id.to_owned(),
        }
    }

    pub(crate) fn engine(&self) -> Engine {
        self.client.engine()
    }

    fn dialect(&self) -> Dialect {
        Dialect(self.engine())
    }

    fn sql(&self) -> Sql {
        Sql::new(self.engine())
    }

    fn error(&self, source: sqlx::Error) -> Error {
        Error::Query {
            plugin_id: self.plugin_id.clone(),
            engine: self.engine(),
            source,
        }
    }

    /// Creates the table when it does not exist.
    pub(crate) async fn ensure_table(&self) -> Result<(), Error> {
        let create = AssertSqlSafe(self.dialect().create_table());
        let result: Result<(), sqlx::Error> = match &self.client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => {
                async {
                    let mut tx = pool.begin().await?;
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(PG_CREATE_LOCK)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(create).execute(&mut *tx).await?;
                    tx.commit().await
                }
                .await
            }
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => sqlx::query(create).execute(pool).await.map(|_| ()),
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => sqlx::query(create).execute(pool).await.map(|_| ()),
        };
        result.map_err(|err| self.error(err))
    }

    /// Inserts the task, or updates its settings and moves its next start earlier when
    /// `next` is earlier (Backstage's `persistTask`).
    pub(crate) async fn upsert(
        &self,
        id: &str,
        settings_json: &str,
        start: &StartAt,
        next: &StartAt,
    ) -> Result<(), Error> {
        let d = self.dialect();
        let start = d.start_at(start);
        let next = d.start_at(next);
        let mut sql = self.sql();
        sql.push(&format!(
            "INSERT INTO {TABLE} (id, settings_json, next_run_start_at) VALUES ("
        ))
        .param()
        .push(", ")
        .param()
        .push(&format!(", {start}) "));
        match self.engine() {
            Engine::MySql => sql.push(&format!(
                "ON DUPLICATE KEY UPDATE \
                 next_run_start_at = CASE WHEN next_run_start_at IS NULL OR {next} < next_run_start_at \
                 THEN {next} ELSE next_run_start_at END, \
                 settings_json = VALUES(settings_json)"
            )),
            Engine::Postgres | Engine::Sqlite => sql.push(&format!(
                "ON CONFLICT (id) DO UPDATE SET \
                 settings_json = excluded.settings_json, \
                 next_run_start_at = CASE WHEN {TABLE}.next_run_start_at IS NULL \
                 OR {next} < {TABLE}.next_run_start_at \
                 THEN {next} ELSE {TABLE}.next_run_start_at END"
            )),
        };
        let query = sql.build();
        let result = with_pool!(&self.client, |pool| {
            sqlx::query(query)
                .bind(id)
                .bind(settings_json)
                .persistent(false)
                .execute(pool)
                .await
                .map(|_| ())
        });
        result.map_err(|err| self.error(err))
    }

    /// The task's settings and whether it is due and free (or its lease expired); `None` when
    /// the row is gone (Backstage's `findReadyTask`).
    pub(crate) async fn find_ready(&self, id: &str) -> Result<Option<(String, bool)>, Error> {
        let now = self.dialect().now();
        let mut sql = self.sql();
        sql.push(&format!(
            "SELECT settings_json, CASE WHEN next_run_start_at <= {now} \
             AND (current_run_ticket IS NULL OR current_run_expires_at < {now}) \
             THEN 'yes' ELSE 'no' END FROM {TABLE} WHERE id = "
        ))
        .param();
        let query = sql.build();
        let result: Result<Option<(String, String)>, sqlx::Error> =
            with_pool!(&self.client, |pool| {
                match sqlx::query(query).bind(id).fetch_optional(pool).await {
                    Ok(Some(row)) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
                    Ok(None) => Ok(None),
                    Err(err) => Err(err),
                }
            });
        result
            .map(|row| row.map(|(settings, ready)| (settings, ready == "yes")))
            .map_err(|err| self.error(err))
    }

    /// Takes the task with `ticket` for `lease` when it is due and free, or when the lease of
    /// its current run expired (the holder died); only one claimer wins. Taking over an
    /// expired lease records the lost run as timed out.
    pub(crate) async fn claim(
        &self,
        id: &str,
        ticket: &str,
        lease: Duration,
    ) -> Result<bool, Error> {
        let d = self.dialect();
        let now = d.now();
        let expires = d.now_plus(lease);
        let mut sql = self.sql();
        // MySQL assigns left to right, each assignment seeing the previous ones: the columns
        // that read `current_run_ticket` come before it changes.
        sql.push(&format!(
            "UPDATE {TABLE} SET \
             last_run_error_json = CASE WHEN current_run_ticket IS NULL \
             THEN last_run_error_json ELSE {TIMED_OUT_SQL} END, \
             last_run_ended_at = CASE WHEN current_run_ticket IS NULL \
             THEN last_run_ended_at ELSE {now} END, \
             current_run_ticket = "
        ))
        .param()
        .push(&format!(
            ", current_run_started_at = {now}, current_run_expires_at = {expires} WHERE id = "
        ))
        .param()
        .push(&format!(
            " AND next_run_start_at <= {now} \
             AND (current_run_ticket IS NULL OR current_run_expires_at < {now})"
        ));
        self.execute(sql, &[Some(ticket), Some(id)])
            .await
            .map(|rows| rows == 1)
    }

    /// Extends the lease of the run holding `ticket` to `now + lease`, but never past the
    /// run's start plus `timeout`. `false` when the ticket is gone (cancelled, or taken over).
    pub(crate) async fn renew(
        &self,
        id: &str,
        ticket: &str,
        lease: Duration,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let d = self.dialect();
        let expires = d.least(
            &d.now_plus(lease),
            &d.plus("current_run_started_at", timeout),
        );
        let mut sql = self.sql();
        sql.push(&format!(
            "UPDATE {TABLE} SET current_run_expires_at = {expires} WHERE id = "
        ))
        .param()
        .push(" AND current_run_ticket = ")
        .param();
        self.execute(sql, &[Some(id), Some(ticket)])
            .await
            .map(|rows| rows == 1)
    }

    /// Ends the run holding `ticket`: clears it, sets the next start and records the error
    /// (Backstage's `tryReleaseTask`). `false` when the ticket was already gone.
    pub(crate) async fn release(
        &self,
        id: &str,
        ticket: &str,
        next: &StartAt,
        error_json: Option<&str>,
    ) -> Result<bool, Error> {
        let d = self.dialect();
        let next = d.start_at(next);
        let now = d.now();
        let mut sql = self.sql();
        sql.push(&format!(
            "UPDATE {TABLE} SET next_run_start_at = {next}, current_run_ticket = NULL, \
             current_run_started_at = NULL, current_run_expires_at = NULL, \
             last_run_ended_at = {now}, last_run_error_json = "
        ))
        .param()
        .push(" WHERE id = ")
        .param()
        .push(" AND current_run_ticket = ")
        .param();
        self.execute(sql, &[error_json, Some(id), Some(ticket)])
            .await
            .map(|rows| rows == 1)
    }

    /// Whether the task exists.
    async fn exists(&self, id: &str) -> Result<bool, Error> {
        Ok(self.settings(id).await?.is_some())
    }

    /// The task's stored settings JSON.
    pub(crate) async fn settings(&self, id: &str) -> Result<Option<String>, Error> {
        let mut sql = self.sql();
        sql.push(&format!("SELECT settings_json FROM {TABLE} WHERE id = "))
            .param();
        let query = sql.build();
        let result: Result<Option<String>, sqlx::Error> = with_pool!(&self.client, |pool| {
            match sqlx::query(query).bind(id).fetch_optional(pool).await {
                Ok(Some(row)) => row.try_get(0).map(Some),
                Ok(None) => Ok(None),
                Err(err) => Err(err),
            }
        });
        result.map_err(|err| self.error(err))
    }

    /// Sets the next start to now unless a run holds a live lease (Backstage's `trigger`).
    pub(crate) async fn trigger(&self, id: &str) -> Result<Control, Error> {
        if !self.exists(id).await? {
            return Ok(Control::NotFound);
        }
        let now = self.dialect().now();
        let mut sql = self.sql();
        sql.push(&format!(
            "UPDATE {TABLE} SET next_run_start_at = {now} WHERE id = "
        ))
        .param()
        .push(&format!(
            " AND (current_run_ticket IS NULL OR current_run_expires_at < {now})"
        ));
        let rows = self.execute(sql, &[Some(id)]).await?;
        Ok(if rows == 1 {
            Control::Done
        } else {
            Control::Conflict
        })
    }

    /// Clears the current run's ticket, records `Task was cancelled` and sets the next start
    /// to `next` (Backstage's `cancel`, which leaves the next start alone). `next` is computed
    /// from the stored settings, read with [`settings`](Self::settings) first.
    pub(crate) async fn cancel(&self, id: &str, next: Option<&StartAt>) -> Result<Control, Error> {
        let d = self.dialect();
        let next = match next {
            Some(next) => d.start_at(next),
            None => "next_run_start_at".to_owned(),
        };
        let now = d.now();
        let mut sql = self.sql();
        sql.push(&format!(
            "UPDATE {TABLE} SET next_run_start_at = {next}, current_run_ticket = NULL, \
             current_run_started_at = NULL, current_run_expires_at = NULL, \
             last_run_ended_at = {now}, last_run_error_json = {CANCELLED_SQL} WHERE id = "
        ))
        .param()
        .push(" AND current_run_ticket IS NOT NULL");
        let rows = self.execute(sql, &[Some(id)]).await?;
        Ok(if rows == 1 {
            Control::Done
        } else {
            Control::Conflict
        })
    }

    /// Clears every ticket whose lease expired, recording `Task timed out`; returns the IDs
    /// (Backstage's janitor). The next start is left as it was, so the lost run is retried.
    pub(crate) async fn expire_leases(&self) -> Result<Vec<String>, Error> {
        let now = self.dialect().now();
        let set = format!(
            "UPDATE {TABLE} SET last_run_error_json = {TIMED_OUT_SQL}, last_run_ended_at = {now}, \
             current_run_ticket = NULL, current_run_started_at = NULL, \
             current_run_expires_at = NULL WHERE current_run_expires_at < {now}"
        );
        if self.engine() == Engine::MySql {
            // No `UPDATE … RETURNING` on MySQL/MariaDB: select, then expire one by one under
            // the same condition.
            let mut sql = self.sql();
            sql.push(&format!(
                "SELECT id FROM {TABLE} WHERE current_run_expires_at < {now}"
            ));
            let mut expired = Vec::new();
            for id in self.fetch_strings(sql, &[]).await? {
                let mut sql = self.sql();
                sql.push(&set).push(" AND id = ").param();
                if self.execute(sql, &[Some(&id)]).await? == 1 {
                    expired.push(id);
                }
            }
            Ok(expired)
        } else {
            let mut sql = self.sql();
            sql.push(&set).push(" RETURNING id");
            self.fetch_strings(sql, &[]).await
        }
    }

    /// Every row of the table.
    pub(crate) async fn rows(&self) -> Result<Vec<TaskRow>, Error> {
        let mut sql = self.sql();
        sql.push(&format!(
            "SELECT id, next_run_start_at, current_run_ticket, current_run_started_at, \
             current_run_expires_at, last_run_ended_at, last_run_error_json FROM {TABLE} \
             ORDER BY id"
        ));
        let query = sql.build();
        let result: Result<Vec<TaskRow>, sqlx::Error> = with_pool!(&self.client, |pool| {
            let rows = sqlx::query(query).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(TaskRow {
                        id: row.try_get(0)?,
                        next_run_start_at: row.timestamp(1)?,
                        current_run_ticket: row.try_get(2)?,
                        current_run_started_at: row.timestamp(3)?,
                        current_run_expires_at: row.timestamp(4)?,
                        last_run_ended_at: row.timestamp(5)?,
                        last_run_error_json: row.try_get(6)?,
                    })
                })
                .collect()
        });
        result.map_err(|err| self.error(err))
    }

    /// Runs `sql` with `binds` (strings or NULL) and returns the number of rows it matched.
    async fn execute(&self, sql: Sql, binds: &[Option<&str>]) -> Result<u64, Error> {
        let query = sql.build();
        let result = with_pool!(&self.client, |pool| {
            let mut query = sqlx::query(query);
            for bind in binds {
                query = query.bind(*bind);
            }
            query.execute(pool).await.map(|done| done.rows_affected())
        });
        result.map_err(|err| self.error(err))
    }

    /// Runs `sql` and returns its first column as strings.
    async fn fetch_strings(&self, sql: Sql, binds: &[Option<&str>]) -> Result<Vec<String>, Error> {
        let query = sql.build();
        let result: Result<Vec<String>, sqlx::Error> = with_pool!(&self.client, |pool| {
            let mut query = sqlx::query(query);
            for bind in binds {
                query = query.bind(*bind);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(|row| row.try_get(0)).collect()
        });
        result.map_err(|err| self.error(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_times_parse_with_and_without_fractions() {
        let want = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(parse_sqlite_time("2024-01-02 03:04:05"), Some(want));
        assert_eq!(
            parse_sqlite_time("2024-01-02 03:04:05.250"),
            Some(want + chrono::Duration::milliseconds(250))
        );
        assert_eq!(parse_sqlite_time("2024-01-02T03:04:05Z"), Some(want));
        assert_eq!(parse_sqlite_time("yesterday"), None);
    }

    #[test]
    fn expressions_per_dialect() {
        let time = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let pg = Dialect(Engine::Postgres);
        assert_eq!(
            pg.now_plus(Duration::from_millis(1500)),
            "(now() + interval '1500 milliseconds')"
        );
        assert_eq!(
            pg.at(time),
            "CAST('2024-01-02T03:04:05.000Z' AS timestamptz)"
        );
        let my = Dialect(Engine::MySql);
        assert_eq!(
            my.now_plus(Duration::from_millis(1500)),
            "(UTC_TIMESTAMP(3) + INTERVAL 1500000 MICROSECOND)"
        );
        assert_eq!(
            my.at(time),
            "CAST('2024-01-02 03:04:05.000' AS DATETIME(3))"
        );
        let lite = Dialect(Engine::Sqlite);
        assert_eq!(
            lite.now_plus(Duration::from_millis(1500)),
            "strftime('%Y-%m-%d %H:%M:%f', strftime('%Y-%m-%d %H:%M:%f', 'now'), '+1.500 seconds')"
        );
        assert_eq!(
            lite.start_at(&StartAt::AfterPrevious(Duration::from_secs(2))),
            "max(strftime('%Y-%m-%d %H:%M:%f', COALESCE(next_run_start_at, strftime('%Y-%m-%d %H:%M:%f', 'now')), '+2.000 seconds'), strftime('%Y-%m-%d %H:%M:%f', 'now'))"
        );
        // Absurd durations are capped rather than overflowing the database's arithmetic.
        assert_eq!(
            pg.now_plus(Duration::MAX),
            format!("(now() + interval '{MAX_SQL_MILLIS} milliseconds')")
        );
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        let mut pg = Sql::new(Engine::Postgres);
        pg.push("a = ").param().push(" AND b = ").param();
        assert_eq!(pg.text, "a = $1 AND b = $2");
        let mut my = Sql::new(Engine::MySql);
        my.push("a = ").param().push(" AND b = ").param();
        assert_eq!(my.text, "a = ? AND b = ?");
    }
}
