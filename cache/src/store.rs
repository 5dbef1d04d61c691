//! The store boundary: what every backend (memory, redis, valkey, memcache, infinispan)
//! implements. Stores see the plugin id, the normalised key and the serialised envelope;
//! key normalisation, the envelope and TTL resolution live above them.
//!
//! # Contract
//!
//! * A store receives the plugin id, the *normalised* key (Backstage's base64/sha256 form, see
//!   [`normalize_key`](crate::normalize_key)), the envelope string (see
//!   [`envelope`](crate::envelope)) and an optional server-side TTL, and builds its own physical
//!   key from the plugin id and the key (`P:K` for memory and infinispan, `[N<sep>]P<sep>K` for
//!   redis, `<keyPrefix>P:K` for valkey, `P:P:K` for memcache).
//! * `get` returns exactly the string `set` stored, or `None` when absent or expired on the
//!   server. Expiry recorded in the envelope is checked above the store.
//! * Every failure is a [`StoreError`]; a store never panics on what the network or the server
//!   sends. Calls may be cancelled at any `.await` (the client bounds each one with a timeout),
//!   so a store must stay usable after a dropped future.
//! * One instance serves every plugin of the process and is shared across tasks; `close` is
//!   called once at backend shutdown, after which calls may fail.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

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

/// A cache backend. One instance per store per process, shared by every plugin. See the
/// [module docs](self) for the contract implementors keep.
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

    /// The store's in-process view, for stores that live in this process (the memory store):
    /// the client then skips the envelope, the async call and the timeout. `None` (the default)
    /// for stores behind a network.
    fn local(&self) -> Option<&dyn LocalStore> {
        None
    }
}

/// Direct access to an in-process store's entries as values (see [`CacheStore::local`]).
///
/// Keys here are the caller's keys as given to the cache service, *not* normalised: the store
/// keys its entries as it likes, as long as the entries are the same as those of the
/// [`CacheStore`] methods under the normalised key ([`normalize_key`](crate::normalize_key)) —
/// a value set here reads back there as the envelope the client would have written, and the
/// other way round. Expiry is the store's own.
pub trait LocalStore: Send + Sync {
    /// The live value of `key` in `plugin_id`'s namespace (`None` when absent or expired).
    fn get_value(&self, plugin_id: &str, key: &str) -> Option<Arc<Value>>;

    /// Stores `value` (the reference itself: later `get_value` calls return the same
    /// allocation), expiring after `ttl`; `expires_ms` is the envelope's absolute expiry (epoch
    /// milliseconds), kept for the [`CacheStore`] view.
    fn set_value(
        &self,
        plugin_id: &str,
        key: &str,
        value: Arc<Value>,
        ttl: Option<Duration>,
        expires_ms: Option<u64>,
    );

    /// Removes `key`.
    fn delete_value(&self, plugin_id: &str, key: &str);
}
