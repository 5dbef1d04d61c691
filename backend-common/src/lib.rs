//! # backstage-backend-common
//!
//! What every backend needs: config, errors, logging and HTTP.
//!
//! **Status: not implemented yet.** This crate is a placeholder that reserves the
//! name and its place in the workspace; it exports nothing. It will hold:
//!
//! - `app-config.yaml` loading with Backstage's merge and substitution rules;
//! - the Backstage error kinds with their HTTP statuses and JSON bodies;
//! - tracing-based logging and the axum root router with health endpoints.
//!
//! See the workspace README ("Project layout") for how the crates relate.
