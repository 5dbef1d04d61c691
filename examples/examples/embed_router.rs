//! Embedding in an axum application you already run, two ways:
//!
//! 1. `/todo-standalone/*`: only the plugin's router, without a backend (no auth barrier, no
//!    lifecycle): the plugin hands over its `Router` and the host owns the rest;
//! 2. everything else: a whole embedded backend (`DefaultServices::embedded()`), merged into
//!    the host's router: `/api/todo/*`, the health endpoints, auth, lifecycle.
//!
//! ```sh
//! cargo run -p backstage-examples --example embed_router
//! curl localhost:3000/                      # the host's own route
//! curl localhost:3000/todo-standalone/todos # the plugin's router alone
//! curl localhost:3000/.backstage/health/v1/readiness
//! ```

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use backstage_backend_common::config::ConfigReader;
use backstage_core_app_api::{DefaultServices, shutdown_signal};
use backstage_examples::todo::{self, MemoryTodoStore, TodoStore};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store: Arc<dyn TodoStore> = Arc::new(MemoryTodoStore::default());
    store.add("embedded", None);

    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:3000",
            "auth": { "dangerouslyDisableDefaultAuthPolicy": true },
        },
    }));
    let backend = DefaultServices::new().config(config).embedded().backend()?;
    backend.add(todo::plugin())?;
    backend.start().await?;

    let app = Router::new()
        .route("/", get(|| async { "the host application" }))
        .nest("/todo-standalone", todo::router(store))
        .merge(backend.router().await?);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = shutdown_signal().await;
        })
        .await?;
    backend.stop().await?;
    Ok(())
}
