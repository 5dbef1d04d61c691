//! # backstage-cache
//!
//! A namespaced cache service for plugins, with memory, memcache, redis, valkey and
//! infinispan stores, byte-compatible with Backstage's so a Rust and a Node backend can share
//! one cache.

pub mod store;

pub use store::{CacheStore, StoreError};
