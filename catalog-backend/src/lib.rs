//! # backstage-catalog-backend
//!
//! The software catalog engine and its REST API (work in progress).

pub mod api;
pub mod engine;
mod error;
pub mod index;
pub mod model;
pub mod processing;
pub mod query;
pub mod search;
pub mod storage;

pub use error::{CatalogError, Result};
