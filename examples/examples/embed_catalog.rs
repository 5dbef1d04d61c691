//! The software catalog inside an axum application you already run, without a Backstage
//! backend: open a database, build the [`Catalog`], start it, nest its router.
//!
//! ```sh
//! cargo run -p backstage-examples --example embed_catalog
//! curl localhost:3000/                                   # the host's own route
//! curl 'localhost:3000/api/catalog/entities?filter=kind=system&fields=metadata.name'
//! ```
//!
//! Without the backend there is no auth barrier: put your own middleware in front of the
//! catalog's router if the host is reachable by others.

use axum::Router;
use axum::routing::get;
use backstage_backend_common::config::ConfigReader;
use backstage_catalog_backend::Catalog;
use backstage_core_app_api::shutdown_signal;
use backstage_database::{DatabaseManager, DatabaseService};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ConfigReader::from_value(json!({
        // An in-memory SQLite database; point `backend.database` at PostgreSQL in production.
        "backend": {"database": {"client": "better-sqlite3", "connection": ":memory:"}},
        "catalog": {
            "locations": [{"type": "file", "target": "examples/catalog/all.yaml"}],
            "rules": [{"allow": ["Component", "System", "API", "Resource", "Location", "Domain", "Group", "User"]}],
        },
    }));
    let databases = DatabaseManager::from_config(&config)?;
    let client = databases.for_plugin("catalog")?.client().await?;
    let catalog = Catalog::builder(&config, client).build().await?;
    catalog.start().await?;

    let app = Router::new()
        .route("/", get(|| async { "the host application" }))
        .nest("/api/catalog", catalog.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = shutdown_signal().await;
        })
        .await?;
    catalog.stop().await;
    databases.close().await;
    Ok(())
}
