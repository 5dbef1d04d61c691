//! # backstage-core-plugin-api
//!
//! The plugin boundary: what a plugin author depends on.
//!
//! **Status: not implemented yet.** This crate is a placeholder that reserves the
//! name and its place in the workspace; it exports nothing. It will hold:
//!
//! - typed service refs (id, root or plugin scope, multiton) and service factories;
//! - plugins, modules and extension points;
//! - the core service traits: root config, logger, lifecycle, http router, health,
//!   discovery, plugin metadata and scheduler.
//!
//! See the workspace README ("Project layout") for how the crates relate.
