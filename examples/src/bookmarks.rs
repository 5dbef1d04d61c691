//! A plugin with its own database: migrations and queries that run unchanged on SQLite and
//! PostgreSQL (and MySQL/MariaDB).
//!
//! - the table is defined once with `sea_query`'s schema builder and rendered per dialect
//!   into the plugin's migrations ([`migrations`]);
//! - queries are `sea_query` statements run through the plugin's
//!   [`DatabaseClient`], which renders them for whichever engine `backend.database` chose;
//! - migrations run at init unless `skipMigrations` is set.
//!
//! The plugin serves `GET /bookmarks` and `POST /bookmarks` under `/api/bookmarks`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use backstage_core_plugin_api::{ApiError, BoxError, Plugin, core_services};
use backstage_database::migrations::{Migration, Migrations};
use backstage_database::query::sea_query::{
    ColumnDef, Expr, ExprTrait, Iden, MysqlQueryBuilder, Order, PostgresQueryBuilder, Query,
    SqliteQueryBuilder, Table,
};
use backstage_database::{DATABASE, DatabaseClient};
use serde::{Deserialize, Serialize};

/// The plugin's table and columns.
#[derive(Iden, Clone, Copy)]
pub enum Bookmarks {
    /// `bookmarks`
    Table,
    /// `id`
    Id,
    /// `url`
    Url,
    /// `title`
    Title,
}

/// A stored bookmark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Bookmark {
    /// Assigned by the database.
    pub id: i64,
    /// Where it points.
    pub url: String,
    /// What it is called.
    pub title: String,
}

/// The plugin's migrations: one table definition, rendered for each dialect.
pub fn migrations() -> Migrations {
    let create = Table::create()
        .table(Bookmarks::Table)
        .if_not_exists()
        .col(
            ColumnDef::new(Bookmarks::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(Bookmarks::Url).string_len(2048).not_null())
        .col(ColumnDef::new(Bookmarks::Title).string_len(512).not_null())
        .to_owned();
    Migrations::new().add(
        Migration::new(20_261_121_000_000, "create bookmarks")
            .postgres(&create.build(PostgresQueryBuilder))
            .sqlite(&create.build(SqliteQueryBuilder))
            .mysql(&create.build(MysqlQueryBuilder)),
    )
}

/// Adds a bookmark.
///
/// # Errors
///
/// The driver's error.
pub async fn add(client: &DatabaseClient, url: &str, title: &str) -> Result<(), sqlx::Error> {
    let insert = Query::insert()
        .into_table(Bookmarks::Table)
        .columns([Bookmarks::Url, Bookmarks::Title])
        .values_panic([url.into(), title.into()])
        .to_owned();
    client.execute(&insert).await?;
    Ok(())
}

/// Every bookmark whose title contains `search` (all when empty), oldest first.
///
/// # Errors
///
/// The driver's error.
pub async fn list(client: &DatabaseClient, search: &str) -> Result<Vec<Bookmark>, sqlx::Error> {
    let mut select = Query::select()
        .columns([Bookmarks::Id, Bookmarks::Url, Bookmarks::Title])
        .from(Bookmarks::Table)
        .order_by(Bookmarks::Id, Order::Asc)
        .to_owned();
    if !search.is_empty() {
        select.and_where(Expr::col(Bookmarks::Title).like(format!("%{search}%")));
    }
    client.fetch_all(&select).await
}

#[derive(Deserialize)]
struct NewBookmark {
    url: String,
    title: String,
}

fn internal(error: sqlx::Error) -> ApiError {
    ApiError::internal("database error").with_cause(error)
}

async fn get_all(
    State(client): State<Arc<DatabaseClient>>,
) -> Result<Json<Vec<Bookmark>>, ApiError> {
    Ok(Json(list(&client, "").await.map_err(internal)?))
}

async fn create(
    State(client): State<Arc<DatabaseClient>>,
    Json(new): Json<NewBookmark>,
) -> Result<StatusCode, ApiError> {
    if !(new.url.starts_with("https://") || new.url.starts_with("http://")) {
        return Err(ApiError::input("url must be an http(s) URL"));
    }
    add(&client, &new.url, new.title.trim())
        .await
        .map_err(internal)?;
    Ok(StatusCode::CREATED)
}

/// The `bookmarks` plugin.
pub fn plugin() -> Plugin {
    Plugin::new("bookmarks", |reg| {
        reg.register_init(
            (DATABASE, core_services::HTTP_ROUTER, core_services::LOGGER),
            |(database, http, logger)| async move {
                let client = database.client().await?;
                if database.migrations_skip() {
                    logger.info("skipping migrations (skipMigrations)");
                } else {
                    let report = migrations().run(&client).await?;
                    logger.info(&format!("{} migrations applied", report.applied.len()));
                }
                http.use_router(
                    Router::new()
                        .route("/bookmarks", get(get_all).post(create))
                        .with_state(Arc::new(client)),
                );
                Ok::<_, BoxError>(())
            },
        );
    })
}
