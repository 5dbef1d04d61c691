//! The store boundary: what every backend (memory, redis, valkey, memcache, infinispan)
//! implements. Stores see the plugin id, the normalised key and the serialised envelope;
//! key normalisation, the envelope and TTL resolution live above them.

use std::time::Duration;

use async_trait::async_trait;

/// A failed store operation. The cache service logs it (rate-limited) and turns a `get` into a
/// miss and a `set`/`delete` into a no-op; plugins never see it.
#[derive(Debug, thiserror::Error)]
#[error("{store} cache store: {message}")]
pub struct StoreError {
    /// The store (`redis`, `memcache`, …).
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    /// An error of `store`.
    pub fn new(store: &'static str, message: impl Into<String>) -> Self {
        Self {
            store,
            message: message.into(),
        }
    }
}

/// A cache backend. One instance per store per process, shared by every plugin.
#[async_trait]
pub trait CacheStore: Send + Sync + 'static {
    /// `memory`, `redis`, `valkey`, `memcache` or `infinispan`.
    fn name(&self) -> &'static str;

    /// The stored envelope of `key` in `plugin_id`'s namespace.
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    async fn get(&self, plugin_id: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// Stores an envelope; `ttl` is the server-side expiry (the envelope also carries it).
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    async fn set(
        &self,
        plugin_id: &str,
        key: &str,
        envelope: String,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError>;

    /// Removes a key; a missing key is not an error.
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError>;

    /// Closes connections (at backend shutdown).
    async fn close(&self) {}
}
