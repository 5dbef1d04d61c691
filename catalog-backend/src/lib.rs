//! # backstage-catalog-backend
//!
//! The software catalog engine and its REST API.
//!
//! **Status: not implemented yet.** This crate is a placeholder that reserves the
//! name and its place in the workspace; it exports nothing. It will hold:
//!
//! - ingestion from locations and entity providers, processing and stitching;
//! - the `/api/catalog` REST API, wire-compatible with Backstage's catalog client.
//!
//! See the workspace README ("Project layout") for how the crates relate.
