//! [`CacheManager`]: the process-wide owner of the store, handing out one namespaced client per
//! plugin (Backstage's `CacheManager`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;

use crate::client::{CacheClient, PluginState};
use crate::config::{connection, operation_timeout, read_optional_duration, store_name};
use crate::store::CacheStore;
use crate::stores::MemoryStore;
use crate::{Error, Result};

/// Default bound of every store call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The stores this build knows, in `backend.cache.store` spelling.
pub const STORES: [&str; 5] = ["memory", "redis", "valkey", "memcache", "infinispan"];

/// Owns the one store of the process and hands out a [`CacheClient`] per plugin. Cheap to
/// clone; clones share the store and the per-plugin state.
///
/// ```
/// use std::time::Duration;
/// use backstage_backend_common::config::ConfigReader;
/// use backstage_cache::{CacheManager, CacheService};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), backstage_cache::Error> {
/// let config = ConfigReader::from_value(json!({
///     "backend": { "cache": { "store": "memory", "defaultTtl": "1h" } }
/// }));
/// let manager = CacheManager::from_config(&config)?;
/// assert_eq!(manager.default_ttl(), Some(Duration::from_secs(3600)));
/// let catalog = manager.for_plugin("catalog");
/// catalog.set("k", json!(1).into(), None).await;
/// assert_eq!(manager.for_plugin("search").get("k").await, None);
/// manager.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CacheManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn CacheStore>,
    default_ttl: Option<Duration>,
    timeout: Duration,
    plugins: Mutex<HashMap<String, Arc<PluginState>>>,
    closed: AtomicBool,
}

/// Builds a [`CacheManager`] in code.
#[must_use]
#[derive(Default)]
pub struct CacheManagerBuilder {
    store: Option<Arc<dyn CacheStore>>,
    default_ttl: Option<Duration>,
    timeout: Option<Duration>,
}

impl CacheManagerBuilder {
    /// The store (default: a new unbounded [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The default TTL of every plugin (`backend.cache.defaultTtl`); zero means none.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// The bound of every store call (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The manager.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a zero timeout.
    pub fn build(self) -> Result<CacheManager> {
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::invalid_config(
                "backend.cache.timeout",
                "must be longer than zero",
            ));
        }
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new()) as Arc<dyn CacheStore>);
        Ok(CacheManager {
            inner: Arc::new(Inner {
                store,
                default_ttl: self.default_ttl.filter(|ttl| !ttl.is_zero()),
                timeout,
                plugins: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
            }),
        })
    }
}

impl CacheManager {
    /// A builder.
    pub fn builder() -> CacheManagerBuilder {
        CacheManagerBuilder::default()
    }

    /// A manager over a new unbounded memory store, no default TTL, the default timeout.
    #[must_use]
    pub fn memory() -> Self {
        Self::with_store(Arc::new(MemoryStore::new()))
    }

    /// A manager over `store`, no default TTL, the default timeout.
    #[must_use]
    pub fn with_store(store: Arc<dyn CacheStore>) -> Self {
        CacheManager {
            inner: Arc::new(Inner {
                store,
                default_ttl: None,
                timeout: DEFAULT_TIMEOUT,
                plugins: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The manager configured by `backend.cache` of the root `config` (memory when absent).
    /// No connection is made here: stores connect on first use and reconnect by themselves.
    ///
    /// Keys read: `store`, `connection`, `defaultTtl` (milliseconds, `'1h'`, `'PT1H'` or
    /// `{ hours: 1 }`), `timeout` (same forms; default 1 s; an addition of ours), the block of
    /// the chosen store, and `useRedisSets` (deprecated, warns).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownStore`], [`Error::StoreNotBuilt`] when the store's cargo feature is off,
    /// [`Error::InvalidConfig`] / [`Error::Config`] for malformed values (a `connection` object
    /// for a store other than redis, an invalid duration, …), and the store's own errors.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let store = store_name(config)?;
        if !STORES.contains(&store.as_str()) {
            return Err(Error::UnknownStore { store });
        }
        connection(config, &store)?;
        if config.has("backend.cache.useRedisSets")? {
            tracing::warn!(
                target: "backstage_cache",
                "The 'backend.cache.useRedisSets' configuration key is deprecated and no longer has any effect."
            );
        }
        let default_ttl = read_optional_duration(
            config,
            "backend.cache.defaultTtl",
            "backend.cache.defaultTtl",
        )?;
        let timeout = operation_timeout(config)?;
        if store != "memory" && !config.has(&format!("backend.cache.{store}"))? {
            tracing::warn!(
                target: "backstage_cache",
                "No configuration found for cache store '{store}' at 'backend.cache.{store}'."
            );
        }
        let store = open_store(&store, config)?;
        let mut builder = CacheManager::builder().store(store);
        if let Some(ttl) = default_ttl {
            builder = builder.default_ttl(ttl);
        }
        builder.timeout(timeout).build()
    }

    /// The client of `plugin_id`: its keys are namespaced by the id, so plugins never see each
    /// other's entries. Every call for the same id shares one state.
    #[must_use]
    pub fn for_plugin(&self, plugin_id: &str) -> CacheClient {
        let state = match self.inner.plugins.lock() {
            Ok(mut plugins) => plugins
                .entry(plugin_id.to_owned())
                .or_insert_with(|| Arc::new(self.plugin_state(plugin_id)))
                .clone(),
            Err(_) => Arc::new(self.plugin_state(plugin_id)),
        };
        CacheClient::new(state)
    }

    fn plugin_state(&self, plugin_id: &str) -> PluginState {
        PluginState::new(
            plugin_id,
            self.inner.store.clone(),
            self.inner.timeout,
            self.inner.default_ttl,
        )
    }

    /// The store every plugin shares.
    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.inner.store
    }

    /// The configured default TTL (`None`: entries do not expire unless a call says so).
    pub fn default_ttl(&self) -> Option<Duration> {
        self.inner.default_ttl
    }

    /// The bound of every store call.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Closes the store's connections (at backend shutdown); later calls miss or do nothing.
    /// Closing twice does nothing.
    pub async fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            self.inner.store.close().await;
        }
    }
}

impl fmt::Debug for CacheManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheManager")
            .field("store", &self.inner.store.name())
            .field("default_ttl", &self.inner.default_ttl)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Creates the store named `store` from the root config.
fn open_store(store: &str, config: &ConfigReader) -> Result<Arc<dyn CacheStore>> {
    match store {
        "memory" => Ok(Arc::new(MemoryStore::from_config(config)?)),
        "redis" => {
            #[cfg(feature = "redis")]
            {
                Ok(Arc::new(crate::stores::RedisStore::from_config(config)?))
            }
            #[cfg(not(feature = "redis"))]
            {
                Err(Error::StoreNotBuilt { store: "redis" })
            }
        }
        "valkey" => {
            #[cfg(feature = "valkey")]
            {
                Ok(Arc::new(crate::stores::ValkeyStore::from_config(config)?))
            }
            #[cfg(not(feature = "valkey"))]
            {
                Err(Error::StoreNotBuilt { store: "valkey" })
            }
        }
        "memcache" => {
            #[cfg(feature = "memcache")]
            {
                Ok(Arc::new(crate::stores::MemcacheStore::from_config(config)?))
            }
            #[cfg(not(feature = "memcache"))]
            {
                Err(Error::StoreNotBuilt { store: "memcache" })
            }
        }
        "infinispan" => {
            #[cfg(feature = "infinispan")]
            {
                crate::stores::infinispan::InfinispanStore::from_config(config)
            }
            #[cfg(not(feature = "infinispan"))]
            {
                Err(Error::StoreNotBuilt {
                    store: "infinispan",
                })
            }
        }
        other => Err(Error::UnknownStore {
            store: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn manager(cache: Value) -> Result<CacheManager> {
        CacheManager::from_config(&ConfigReader::from_value(
            json!({ "backend": { "cache": cache } }),
        ))
    }

    #[test]
    fn memory_is_the_default() {
        let none = CacheManager::from_config(&ConfigReader::from_value(json!({}))).unwrap();
        assert_eq!(none.store().name(), "memory");
        assert_eq!(none.default_ttl(), None);
        assert_eq!(none.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(
            manager(json!({ "store": "" })).unwrap().store().name(),
            "memory"
        );
    }

    #[test]
    fn default_ttl_forms() {
        let ttl = |value: Value| {
            manager(json!({ "defaultTtl": value }))
                .unwrap()
                .default_ttl()
        };
        assert_eq!(ttl(json!(60_000)), Some(Duration::from_secs(60)));
        assert_eq!(ttl(json!("1h")), Some(Duration::from_secs(3600)));
        assert_eq!(ttl(json!("90 minutes")), Some(Duration::from_secs(5400)));
        assert_eq!(ttl(json!("PT1H")), Some(Duration::from_secs(3600)));
        assert_eq!(ttl(json!({ "days": 1 })), Some(Duration::from_secs(86_400)));
        assert_eq!(
            ttl(json!({ "months": 1 })),
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(ttl(json!(0)), None);
        assert!(manager(json!({ "defaultTtl": "0" })).is_err());
        assert!(manager(json!({ "defaultTtl": "whenever" })).is_err());
        assert!(manager(json!({ "defaultTtl": -1 })).is_err());
    }

    #[test]
    fn timeout_is_configurable() {
        let m = manager(json!({ "timeout": "250ms" })).unwrap();
        assert_eq!(m.timeout(), Duration::from_millis(250));
        assert!(manager(json!({ "timeout": 0 })).is_err());
    }

    #[test]
    fn startup_errors() {
        let message = |cache: Value| manager(cache).unwrap_err().to_string();
        assert_eq!(
            message(json!({ "store": "mongo" })),
            "Unknown cache store: mongo"
        );
        assert!(
            message(json!({ "store": "memory", "connection": { "url": "redis://x" } }))
                .contains("only supported when backend.cache.store is 'redis'")
        );
        assert!(message(json!({ "connection": ["a"] })).contains("must be a string or object"));
        // Deprecated, warns only.
        manager(json!({ "useRedisSets": true })).unwrap();
    }

    #[cfg(not(feature = "memcache"))]
    #[test]
    fn a_store_without_its_feature_is_named() {
        let error = manager(json!({ "store": "memcache" })).unwrap_err();
        assert!(matches!(error, Error::StoreNotBuilt { store: "memcache" }));
        assert!(error.to_string().contains("enable the `memcache` feature"));
    }

    #[tokio::test]
    async fn plugins_share_state_and_close_once() {
        let m = CacheManager::memory();
        let a = m.for_plugin("a");
        let a_again = m.for_plugin("a");
        assert!(Arc::ptr_eq(&a.plugin_state(), &a_again.plugin_state()));
        m.close().await;
        m.close().await;
    }
}
