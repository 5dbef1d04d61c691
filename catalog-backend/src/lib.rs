//! # backstage-catalog-backend
//!
//! Backstage's software catalog in Rust: entity providers and processors, stitching into
//! final entities with relations, and the catalog REST API (`/api/catalog`), wire-compatible
//! with `@backstage/catalog-client`. Storage is the plugin's database (SQLite by default,
//! PostgreSQL with the `postgres` feature); every read is answered from an in-memory index
//! each process keeps of the final entities (see `docs/catalog.md`).
//!
//! Use it as the `catalog` plugin of a backend ([`catalog_plugin`], extended through
//! [`CATALOG_PROCESSING_EXTENSION_POINT`]), or embed a [`Catalog`] in any axum server:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::body::{Body, to_bytes};
//! use axum::http::Request;
//! use backstage_catalog_backend::Catalog;
//! use backstage_catalog_backend::model::DeferredEntity;
//! use backstage_core_plugin_api::ConfigReader;
//! use backstage_database::{DatabaseManager, DatabaseService};
//! use serde_json::{Value, json};
//! use tower::ServiceExt;
//!
//! let config = ConfigReader::from_value(json!({
//!     "backend": {"database": {"client": "better-sqlite3", "connection": ":memory:"}},
//!     "catalog": {"processingInterval": {"seconds": 1}},
//! }));
//! let databases = DatabaseManager::from_config(&config)?;
//! let client = databases.for_plugin("catalog")?.client().await?;
//! let catalog = Catalog::builder(&config, client).build().await?;
//! catalog.start().await?;
//!
//! // What an entity provider does through its connection: hand the catalog entities.
//! let component = json!({
//!     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
//!     "metadata": {"name": "petstore", "annotations": {
//!         "backstage.io/managed-by-location": "url:https://example.com/petstore.yaml",
//!         "backstage.io/managed-by-origin-location": "url:https://example.com/petstore.yaml"}},
//!     "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
//! });
//! catalog
//!     .store()
//!     .apply_mutation("example", backstage_catalog_backend::storage::EntityMutation::Full {
//!         entities: vec![DeferredEntity { entity: component, location_key: None }],
//!     })
//!     .await?;
//!
//! // Processing and stitching are asynchronous: poll the REST API until it shows up.
//! let app = catalog.router();
//! let entity = loop {
//!     let response = app
//!         .clone()
//!         .oneshot(Request::get("/entities/by-name/component/default/petstore").body(Body::empty())?)
//!         .await?;
//!     if response.status() == 200 {
//!         let body = to_bytes(response.into_body(), 1 << 20).await?;
//!         break serde_json::from_slice::<Value>(&body)?;
//!     }
//!     tokio::time::sleep(std::time::Duration::from_millis(20)).await;
//! };
//! assert_eq!(entity["relations"][0], json!({"type": "ownedBy", "targetRef": "group:default/team-a"}));
//! catalog.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! | Module | What |
//! |---|---|
//! | [`Catalog`], [`CatalogBuilder`] | the assembled catalog: store, engine, index, providers, router |
//! | [`catalog_plugin`] and the extension points | the catalog as a backend plugin |
//! | [`config`] | the `catalog.*` keys |
//! | [`providers`] | the [`EntityProvider`](providers::EntityProvider) contract and the built-in providers |
//! | [`processing`] | the [`CatalogProcessor`](processing::CatalogProcessor) contract, built-in processors, URL reading, rules |
//! | [`storage`], [`engine`] | tables, mutations, processing loop, stitching, change feed |
//! | [`index`], [`search`], [`query`] | the in-memory read model and the query language |
//! | [`api`] | the REST API |
//! | [`model`] | shared types |

pub mod api;
mod catalog;
pub mod config;
pub mod engine;
mod error;
pub mod index;
pub mod model;
mod plugin;
pub mod processing;
pub mod providers;
pub mod query;
pub mod search;
pub mod storage;

pub use catalog::{Catalog, CatalogBuilder};
pub use error::{CatalogError, Result};
pub use plugin::{
    CATALOG_LOCATIONS_EXTENSION_POINT, CATALOG_PROCESSING_EXTENSION_POINT,
    CatalogLocationsExtensionPoint, CatalogProcessingExtensionPoint, catalog_plugin,
};
