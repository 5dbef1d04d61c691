//! A small dialect layer over sqlx: one SQL text for SQLite and PostgreSQL, with set-valued
//! parameters rendered per engine.
//!
//! * Scalars bind as `$n` on both engines (sqlx's SQLite driver maps `$n` to the n-th
//!   argument).
//! * A list of strings ([`Sql::push_in`]) is a `text[]` on PostgreSQL (`= ANY($n)`) and a
//!   JSON array read with `json_each` on SQLite.
//! * A set of rows ([`Sql::push_rows`]) is `UNNEST` of one typed array per column on
//!   PostgreSQL and `json_each` over one JSON array of row arrays on SQLite, so a batch of any
//!   size is one statement with a fixed number of parameters (no bound-parameter limit, one
//!   prepared statement per operation).

use std::fmt::Write as _;
use std::time::Duration;

use backstage_database::query::FromDatabaseRow;
use sqlx::{Arguments as _, AssertSqlSafe};

use crate::error::{CatalogError, Result};

/// The SQL dialect of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// PostgreSQL.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
    /// SQLite.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite,
}

/// One bound argument.
#[derive(Debug)]
enum Arg {
    Text(String),
    Int(i64),
    TextArray(Vec<String>),
    OptTextArray(Vec<Option<String>>),
    IntArray(Vec<i64>),
}

/// One column of a row set ([`Sql::push_rows`]).
#[derive(Debug)]
pub(crate) enum Column {
    /// Non-null text.
    Text(Vec<String>),
    /// Nullable text.
    OptText(Vec<Option<String>>),
    /// 64-bit integers.
    Int(Vec<i64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::OptText(v) => v.len(),
            Column::Int(v) => v.len(),
        }
    }

    fn write_json(&self, row: usize, out: &mut Vec<u8>) {
        let written = match self {
            Column::Text(v) => serde_json::to_writer(&mut *out, &v[row]),
            Column::OptText(v) => serde_json::to_writer(&mut *out, &v[row]),
            Column::Int(v) => serde_json::to_writer(&mut *out, &v[row]),
        };
        // Writing strings and integers into a Vec cannot fail.
        debug_assert!(written.is_ok());
    }
}

/// A statement being built: its text, its arguments, and what it does (for error messages).
#[derive(Debug)]
pub(crate) struct Sql {
    dialect: Dialect,
    what: &'static str,
    text: String,
    args: Vec<Arg>,
    /// The parameter number of the last list bound by [`Sql::push_in`].
    last_list: usize,
}

impl Sql {
    /// An empty statement; `what` says what it does ("claiming entities").
    pub(crate) fn new(dialect: Dialect, what: &'static str) -> Self {
        Self {
            dialect,
            what,
            text: String::with_capacity(256),
            args: Vec::new(),
            last_list: 0,
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn placeholder(&mut self, arg: Arg) -> usize {
        self.args.push(arg);
        self.args.len()
    }

    /// Appends a text parameter.
    pub(crate) fn bind_text(&mut self, value: impl Into<String>) -> &mut Self {
        let n = self.placeholder(Arg::Text(value.into()));
        let _ = write!(self.text, "${n}");
        self
    }

    /// Appends an integer parameter.
    pub(crate) fn bind_int(&mut self, value: i64) -> &mut Self {
        let n = self.placeholder(Arg::Int(value));
        let _ = write!(self.text, "${n}");
        self
    }

    /// Appends `<expr> IN <list>` (`= ANY($n)` on PostgreSQL).
    pub(crate) fn push_in<S: AsRef<str>>(&mut self, expr: &str, list: &[S]) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => {
                let values = list.iter().map(|s| s.as_ref().to_owned()).collect();
                let n = self.placeholder(Arg::TextArray(values));
                self.last_list = n;
                let _ = write!(self.text, "{expr} = ANY(${n}::text[])");
            }
            Dialect::Sqlite => {
                let values: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
                let json = serde_json::to_string(&values).unwrap_or_else(|_| "[]".to_owned());
                let n = self.placeholder(Arg::Text(json));
                self.last_list = n;
                let _ = write!(self.text, "{expr} IN (SELECT value FROM json_each(${n}))");
            }
        }
        self
    }

    /// Appends `<expr> IN <list>` with the list of the last [`push_in`](Self::push_in) (sent
    /// once).
    pub(crate) fn push_in_last(&mut self, expr: &str) -> &mut Self {
        let n = self.last_list;
        match self.dialect {
            Dialect::Postgres => {
                let _ = write!(self.text, "{expr} = ANY(${n}::text[])");
            }
            Dialect::Sqlite => {
                let _ = write!(self.text, "{expr} IN (SELECT value FROM json_each(${n}))");
            }
        }
        self
    }

    /// Appends a derived table `alias(col, …)` holding the given columns row by row. All
    /// columns must have the same length.
    pub(crate) fn push_rows(&mut self, alias: &str, columns: Vec<(&str, Column)>) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => {
                let mut parts = Vec::with_capacity(columns.len());
                let mut names = Vec::with_capacity(columns.len());
                for (name, column) in columns {
                    let (arg, ty) = match column {
                        Column::Text(v) => (Arg::TextArray(v), "text[]"),
                        Column::OptText(v) => (Arg::OptTextArray(v), "text[]"),
                        Column::Int(v) => (Arg::IntArray(v), "bigint[]"),
                    };
                    let n = self.placeholder(arg);
                    parts.push(format!("${n}::{ty}"));
                    names.push(name);
                }
                let _ = write!(
                    self.text,
                    "UNNEST({}) AS {alias}({})",
                    parts.join(", "),
                    names.join(", ")
                );
            }
            Dialect::Sqlite => {
                let rows = columns.first().map_or(0, |(_, c)| c.len());
                let mut json = Vec::with_capacity(rows * 64);
                json.push(b'[');
                for row in 0..rows {
                    if row > 0 {
                        json.push(b',');
                    }
                    json.push(b'[');
                    for (i, (_, column)) in columns.iter().enumerate() {
                        if i > 0 {
                            json.push(b',');
                        }
                        column.write_json(row, &mut json);
                    }
                    json.push(b']');
                }
                json.push(b']');
                let json = String::from_utf8(json).unwrap_or_else(|_| "[]".to_owned());
                let n = self.placeholder(Arg::Text(json));
                let select: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, (name, _))| format!("value->>{i} AS {name}"))
                    .collect();
                let _ = write!(
                    self.text,
                    "(SELECT {} FROM json_each(${n})) AS {alias}",
                    select.join(", ")
                );
            }
        }
        self
    }
}

#[cfg(feature = "postgres")]
fn pg_args(args: Vec<Arg>) -> Result<sqlx::postgres::PgArguments, sqlx::Error> {
    let mut out = sqlx::postgres::PgArguments::default();
    for arg in args {
        match arg {
            Arg::Text(v) => out.add(v),
            Arg::Int(v) => out.add(v),
            Arg::TextArray(v) => out.add(v),
            Arg::OptTextArray(v) => out.add(v),
            Arg::IntArray(v) => out.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

#[cfg(feature = "sqlite")]
fn sqlite_args(args: Vec<Arg>) -> Result<sqlx::sqlite::SqliteArguments, sqlx::Error> {
    let mut out = sqlx::sqlite::SqliteArguments::default();
    for arg in args {
        match arg {
            Arg::Text(v) => out.add(v),
            Arg::Int(v) => out.add(v),
            // Lists are rendered as JSON text for SQLite; arrays never reach here.
            Arg::TextArray(v) => out.add(serde_json::to_string(&v).unwrap_or_default()),
            Arg::OptTextArray(v) => out.add(serde_json::to_string(&v).unwrap_or_default()),
            Arg::IntArray(v) => out.add(serde_json::to_string(&v).unwrap_or_default()),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// An open transaction on either engine.
pub(crate) enum Tx {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    /// SQLite, with the store's writer lock when this is a write transaction.
    #[cfg(feature = "sqlite")]
    Sqlite(
        sqlx::Transaction<'static, sqlx::Sqlite>,
        Option<tokio::sync::OwnedMutexGuard<()>>,
    ),
}

impl Tx {
    /// Runs a statement; the number of rows affected.
    pub(crate) async fn execute(&mut self, sql: Sql) -> Result<u64> {
        let Sql {
            text, args, what, ..
        } = sql;
        let err = |e| CatalogError::database(what, e);
        match self {
            #[cfg(feature = "postgres")]
            Tx::Pg(tx) => {
                let args = pg_args(args).map_err(err)?;
                Ok(sqlx::query_with(AssertSqlSafe(text), args)
                    .execute(&mut **tx)
                    .await
                    .map_err(err)?
                    .rows_affected())
            }
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx, _) => {
                let args = sqlite_args(args).map_err(err)?;
                Ok(sqlx::query_with(AssertSqlSafe(text), args)
                    .execute(&mut **tx)
                    .await
                    .map_err(err)?
                    .rows_affected())
            }
        }
    }

    /// Runs a query and decodes every row.
    pub(crate) async fn fetch<R: FromDatabaseRow>(&mut self, sql: Sql) -> Result<Vec<R>> {
        let Sql {
            text, args, what, ..
        } = sql;
        let err = |e| CatalogError::database(what, e);
        match self {
            #[cfg(feature = "postgres")]
            Tx::Pg(tx) => {
                let args = pg_args(args).map_err(err)?;
                sqlx::query_as_with::<_, R, _>(AssertSqlSafe(text), args)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(err)
            }
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx, _) => {
                let args = sqlite_args(args).map_err(err)?;
                sqlx::query_as_with::<_, R, _>(AssertSqlSafe(text), args)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(err)
            }
        }
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<()> {
        let err = |e| CatalogError::database("committing a catalog transaction", e);
        match self {
            #[cfg(feature = "postgres")]
            Tx::Pg(tx) => tx.commit().await.map_err(err),
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx, guard) => {
                let result = tx.commit().await.map_err(err);
                drop(guard);
                result
            }
        }
    }

    /// Rolls back (errors are logged: the connection is discarded by sqlx anyway).
    pub(crate) async fn rollback(self) {
        let result = match self {
            #[cfg(feature = "postgres")]
            Tx::Pg(tx) => tx.rollback().await,
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx, guard) => {
                let result = tx.rollback().await;
                drop(guard);
                result
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "catalog transaction rollback failed");
        }
    }
}

/// Whether a failed transaction should be retried: a PostgreSQL deadlock (`40P01`) or
/// serialization failure (`40001`), or a busy/locked SQLite database.
pub(crate) fn is_retryable(error: &CatalogError) -> bool {
    let CatalogError::Database {
        source: sqlx::Error::Database(db),
        ..
    } = error
    else {
        return false;
    };
    match db.code().as_deref() {
        Some("40P01" | "40001") => true,
        Some(code) => code
            .parse::<i32>()
            .is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6),
        None => false,
    }
}

/// Back-off before retry `attempt` (1-based): 25 ms doubled per attempt.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(25u64 << attempt.min(6).saturating_sub(1))
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_render_per_dialect() {
        let mut pg = Sql::new(Dialect::Postgres, "t");
        pg.push("SELECT 1 WHERE ").push_in("a", &["x", "y"]);
        assert_eq!(pg.text, "SELECT 1 WHERE a = ANY($1::text[])");
        let mut lite = Sql::new(Dialect::Sqlite, "t");
        lite.push("SELECT 1 WHERE ").push_in("a", &["x", "y"]);
        assert_eq!(
            lite.text,
            "SELECT 1 WHERE a IN (SELECT value FROM json_each($1))"
        );
        assert!(matches!(&lite.args[0], Arg::Text(j) if j == r#"["x","y"]"#));
    }

    #[test]
    fn lists_can_be_reused() {
        let mut pg = Sql::new(Dialect::Postgres, "t");
        pg.bind_int(1)
            .push(" ")
            .push_in("a", &["x"])
            .push(" OR ")
            .push_in_last("b");
        assert_eq!(pg.text, "$1 a = ANY($2::text[]) OR b = ANY($2::text[])");
        assert_eq!(pg.args.len(), 2);
    }

    #[test]
    fn rows_render_per_dialect() {
        let cols = || {
            vec![
                ("a", Column::Text(vec!["x".into(), "q\"".into()])),
                ("b", Column::OptText(vec![None, Some("z".into())])),
                ("c", Column::Int(vec![1, 2])),
            ]
        };
        let mut pg = Sql::new(Dialect::Postgres, "t");
        pg.bind_int(5).push(" ").push_rows("x", cols());
        assert_eq!(
            pg.text,
            "$1 UNNEST($2::text[], $3::text[], $4::bigint[]) AS x(a, b, c)"
        );
        let mut lite = Sql::new(Dialect::Sqlite, "t");
        lite.push_rows("x", cols());
        assert_eq!(
            lite.text,
            "(SELECT value->>0 AS a, value->>1 AS b, value->>2 AS c FROM json_each($1)) AS x"
        );
        assert!(matches!(&lite.args[0], Arg::Text(j) if j == r#"[["x",null,1],["q\"","z",2]]"#));
    }

    #[test]
    fn backoff_grows() {
        assert_eq!(backoff(1), Duration::from_millis(25));
        assert_eq!(backoff(2), Duration::from_millis(50));
        assert_eq!(backoff(3), Duration::from_millis(100));
    }
}
