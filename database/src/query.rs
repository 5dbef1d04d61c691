//! Dialect-neutral queries: build once with [`sea_query`], run on whichever engine the plugin
//! is on.
//!
//! Plugins hold a typed pool per engine ([`DatabaseClient`]); writing every query three times
//! would defeat per-plugin engine choice. Instead, build a `sea_query` statement and hand it
//! to the client: [`DatabaseClient::execute`] and [`DatabaseClient::fetch_all`] render it with
//! the engine's own placeholders and quoting (`$1` on PostgreSQL, `?` elsewhere) and bind the
//! values. Rows decode into any `#[derive(sqlx::FromRow)]` struct whose field types every
//! enabled engine supports ([`FromDatabaseRow`]).
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use backstage_database::DatabaseClient;
//! use backstage_database::query::sea_query::{Expr, ExprTrait, Iden, Order, Query};
//!
//! #[derive(Iden)]
//! enum Todos {
//!     Table,
//!     Id,
//!     Title,
//! }
//!
//! #[derive(sqlx::FromRow, Debug, PartialEq)]
//! struct Todo {
//!     id: i64,
//!     title: String,
//! }
//!
//! # let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let client = DatabaseClient::Sqlite(pool); // in a plugin: `database.client().await?`
//! client.execute_sql("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL)").await?;
//!
//! let insert = Query::insert()
//!     .into_table(Todos::Table)
//!     .columns([Todos::Id, Todos::Title])
//!     .values_panic([1.into(), "write docs".into()])
//!     .values_panic([2.into(), "ship".into()])
//!     .to_owned();
//! assert_eq!(client.execute(&insert).await?, 2);
//!
//! let select = Query::select()
//!     .columns([Todos::Id, Todos::Title])
//!     .from(Todos::Table)
//!     .and_where(Expr::col(Todos::Title).like("%docs%"))
//!     .order_by(Todos::Id, Order::Asc)
//!     .to_owned();
//! let todos: Vec<Todo> = client.fetch_all(&select).await?;
//! assert_eq!(todos, [Todo { id: 1, title: "write docs".into() }]);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```
//!
//! For DDL, `sea_query`'s schema builders render a table definition for each dialect
//! (`Table::create()…build(PostgresQueryBuilder)`), which is how a plugin can keep one
//! definition for its per-dialect migrations. Anything `sea_query` cannot express is plain SQL
//! per engine: match on the [`DatabaseClient`] variant.

pub use sea_query;
pub use sea_query_sqlx::{SqlxBinder, SqlxValues};

use sqlx::AssertSqlSafe;

use crate::DatabaseClient;

macro_rules! row_bound {
    ($name:ident, $feature:literal, $row:ty) => {
        /// Decodable from this engine's rows when its feature is enabled (a blanket marker).
        #[cfg(feature = $feature)]
        pub trait $name: for<'r> sqlx::FromRow<'r, $row> {}
        #[cfg(feature = $feature)]
        impl<T: for<'r> sqlx::FromRow<'r, $row>> $name for T {}
        /// Decodable from this engine's rows when its feature is enabled (a blanket marker).
        #[cfg(not(feature = $feature))]
        pub trait $name {}
        #[cfg(not(feature = $feature))]
        impl<T> $name for T {}
    };
}

row_bound!(FromPgRow, "postgres", sqlx::postgres::PgRow);
row_bound!(FromSqliteRow, "sqlite", sqlx::sqlite::SqliteRow);
row_bound!(FromMySqlRow, "mysql", sqlx::mysql::MySqlRow);

/// A row type every enabled engine can decode: any `#[derive(sqlx::FromRow)]` struct whose
/// field types all engines support (integers, strings, booleans, `serde_json::Value`,
/// `chrono` timestamps, options of those).
pub trait FromDatabaseRow:
    FromPgRow + FromSqliteRow + FromMySqlRow + Send + Unpin + 'static
{
}
impl<T: FromPgRow + FromSqliteRow + FromMySqlRow + Send + Unpin + 'static> FromDatabaseRow for T {}

impl DatabaseClient {
    /// The statement's SQL and values for this client's dialect.
    pub fn build<S: SqlxBinder>(&self, statement: &S) -> (String, SqlxValues) {
        match self {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(_) => statement.build_sqlx(sea_query::PostgresQueryBuilder),
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(_) => statement.build_sqlx(sea_query::SqliteQueryBuilder),
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(_) => statement.build_sqlx(sea_query::MysqlQueryBuilder),
        }
    }

    /// Runs an insert, update or delete; returns the number of rows affected.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub async fn execute<S: SqlxBinder>(&self, statement: &S) -> Result<u64, sqlx::Error> {
        let (sql, values) = self.build(statement);
        Ok(match self {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(pool)
                .await?
                .rows_affected(),
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(pool)
                .await?
                .rows_affected(),
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a select and decodes every row.
    ///
    /// # Errors
    ///
    /// The driver's error, including decoding errors.
    pub async fn fetch_all<T: FromDatabaseRow, S: SqlxBinder>(
        &self,
        statement: &S,
    ) -> Result<Vec<T>, sqlx::Error> {
        let (sql, values) = self.build(statement);
        match self {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await
            }
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await
            }
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// Runs a select and decodes the first row, if any.
    ///
    /// # Errors
    ///
    /// The driver's error, including decoding errors.
    pub async fn fetch_optional<T: FromDatabaseRow, S: SqlxBinder>(
        &self,
        statement: &S,
    ) -> Result<Option<T>, sqlx::Error> {
        let (sql, values) = self.build(statement);
        match self {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_optional(pool)
                    .await
            }
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_optional(pool)
                    .await
            }
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_optional(pool)
                    .await
            }
        }
    }

    /// Runs SQL without parameters (DDL, or engine-specific statements); several statements
    /// separated by `;` are allowed.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub async fn execute_sql(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sql.to_owned();
        match self {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
            }
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
            }
            #[cfg(feature = "mysql")]
            DatabaseClient::MySql(pool) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
            }
        }
        Ok(())
    }
}
