//! # backstage-catalog-backend
//!
//! The software catalog engine and its REST API (work in progress).

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
