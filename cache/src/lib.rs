//! # backstage-cache
//!
//! A namespaced cache service for plugins.
//!
//! **Status: not implemented yet.** This crate is a placeholder that reserves the
//! name and its place in the workspace; it exports nothing. It will hold:
//!
//! - the plugin-facing cache client (`get`, `set` with TTL, `delete`);
//! - memory, memcache, redis, valkey and infinispan stores behind cargo features.
//!
//! See the workspace README ("Project layout") for how the crates relate.
