//! # backstage-core-app-api
//!
//! Assembling a backend from plugins, modules and service factories.
//!
//! **Status: not implemented yet.** This crate is a placeholder that reserves the
//! name and its place in the workspace; it exports nothing. It will hold:
//!
//! - a backend builder that checks the whole wiring graph before any init runs;
//! - init ordering, one instance per service scope, lifecycle, start-up and shutdown.
//!
//! See the workspace README ("Project layout") for how the crates relate.
