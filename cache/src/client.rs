//! The handle plugins use: [`CacheClient`], Backstage's `DefaultCacheClient`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use backstage_core_plugin_api::BoxError;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::service::{CacheFuture, CacheService, CacheServiceOptions, Loader};
use crate::store::{CacheStore, StoreError};
use crate::{envelope, normalize_key};

/// How often a failure streak is logged again while it lasts.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// A plugin's cache handle, from [`CacheManager::for_plugin`](crate::CacheManager::for_plugin).
/// Cheap to clone; clones and [`with_options`](CacheService::with_options) copies share the
/// plugin's state (the store, the failure log, the in-flight loaders).
///
/// Every call to a network store is bounded by the manager's timeout (default 1 s); an
/// in-process store ([`CacheStore::local`]) is called directly. A store that fails or times
/// out makes `get` return `None` and `set`/`delete` do nothing; the first failure of a streak
/// is logged at `error` level (target `backstage_cache`), then at most once a minute with the
/// count of failures in between, and the recovery at `info` level.
#[derive(Clone)]
pub struct CacheClient {
    plugin: Arc<PluginState>,
    options: CacheServiceOptions,
    /// The effective default TTL: `None` for no expiry.
    default_ttl: Option<Duration>,
}

/// What every client of one plugin shares.
pub(crate) struct PluginState {
    pub(crate) plugin_id: String,
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) timeout: Duration,
    /// `backend.cache.defaultTtl` (`None` when unset or zero).
    pub(crate) manager_default_ttl: Option<Duration>,
    health: Health,
    flights: Mutex<HashMap<String, Arc<OnceCell<Arc<Value>>>>>,
}

impl PluginState {
    pub(crate) fn new(
        plugin_id: &str,
        store: Arc<dyn CacheStore>,
        timeout: Duration,
        manager_default_ttl: Option<Duration>,
    ) -> Self {
        Self {
            plugin_id: plugin_id.to_owned(),
            store,
            timeout,
            manager_default_ttl,
            health: Health::default(),
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl CacheClient {
    pub(crate) fn new(plugin: Arc<PluginState>) -> Self {
        let default_ttl = effective_ttl(None, plugin.manager_default_ttl);
        Self {
            plugin,
            options: CacheServiceOptions::default(),
            default_ttl,
        }
    }

    #[cfg(test)]
    pub(crate) fn plugin_state(&self) -> Arc<PluginState> {
        self.plugin.clone()
    }

    /// The default TTL of `set` calls without one (`None`: no expiry).
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl
    }

    /// The store behind this client.
    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.plugin.store
    }

    /// A copy whose `set` calls default to `ttl`; [`Duration::ZERO`] means no expiry. The
    /// concrete-typed twin of [`CacheServiceExt::with_default_ttl`](crate::CacheServiceExt).
    #[must_use]
    pub fn with_default_ttl(&self, ttl: Duration) -> CacheClient {
        self.derive(CacheServiceOptions::default_ttl(ttl))
    }

    fn derive(&self, options: CacheServiceOptions) -> CacheClient {
        // Backstage shallow-merges `{ ...current, ...new }`; an absent option keeps the current.
        let merged = CacheServiceOptions {
            default_ttl: options.default_ttl.or(self.options.default_ttl),
        };
        CacheClient {
            plugin: self.plugin.clone(),
            options: merged,
            default_ttl: effective_ttl(merged.default_ttl, self.plugin.manager_default_ttl),
        }
    }

    /// Runs one store call under the timeout; failures are logged and become `None`.
    async fn call<T>(
        &self,
        operation: &'static str,
        future: impl Future<Output = Result<T, StoreError>>,
    ) -> Option<T> {
        let plugin = &*self.plugin;
        let outcome = match tokio::time::timeout(plugin.timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(StoreError::new(
                plugin.store.name(),
                format!("{operation} timed out after {:?}", plugin.timeout),
            )),
        };
        match outcome {
            Ok(value) => {
                plugin.health.succeeded(plugin);
                Some(value)
            }
            Err(error) => {
                plugin.health.failed(plugin, operation, &error);
                None
            }
        }
    }

    /// The value of the caller's `key` (normalised here for a network store; an in-process
    /// store is handed the key as is, see [`LocalStore`]).
    async fn load(&self, key: &str) -> Option<Arc<Value>> {
        let plugin = &*self.plugin;
        if let Some(local) = plugin.store.local() {
            return local.get_value(&plugin.plugin_id, key);
        }
        let key = normalize_key(key);
        let text = self
            .call("get", plugin.store.get(&plugin.plugin_id, &key))
            .await??;
        let Some(decoded) = envelope::decode(&text) else {
            tracing::debug!(
                target: "backstage_cache",
                plugin = %plugin.plugin_id,
                store = plugin.store.name(),
                "cache entry is not a value envelope; treated as a miss"
            );
            return None;
        };
        if decoded.expires.is_some() && decoded.is_expired(now_millis()) {
            self.delete_expired(key);
            return None;
        }
        Some(Arc::new(decoded.value))
    }

    /// Removes an entry found expired (by its normalised key), in the background when a
    /// runtime is at hand.
    fn delete_expired(&self, key: String) {
        let client = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let plugin = &*client.plugin;
                client
                    .call("delete", plugin.store.delete(&plugin.plugin_id, &key))
                    .await;
            });
        }
    }

    /// The TTL of a `set` (`None`: no expiry) and the envelope's absolute expiry.
    fn resolve_ttl(&self, ttl: Option<Duration>) -> (Option<Duration>, Option<u64>) {
        let ttl = match ttl {
            Some(ttl) if ttl.is_zero() => None,
            Some(ttl) => Some(ttl),
            None => self.default_ttl,
        };
        let expires = ttl.map(|ttl| now_millis().saturating_add(ceil_millis(ttl)));
        (ttl, expires)
    }

    /// Stores `value` under the caller's `key`.
    async fn save(&self, key: &str, value: Arc<Value>, ttl: Option<Duration>) {
        let (ttl, expires) = self.resolve_ttl(ttl);
        let plugin = &*self.plugin;
        if let Some(local) = plugin.store.local() {
            local.set_value(&plugin.plugin_id, key, value, ttl, expires);
            return;
        }
        let text = envelope::encode(&value, expires);
        drop(value);
        let key = normalize_key(key);
        self.call("set", plugin.store.set(&plugin.plugin_id, &key, text, ttl))
            .await;
    }

    /// Removes the caller's `key`.
    async fn remove(&self, key: &str) {
        let plugin = &*self.plugin;
        if let Some(local) = plugin.store.local() {
            local.delete_value(&plugin.plugin_id, key);
            return;
        }
        let key = normalize_key(key);
        self.call("delete", plugin.store.delete(&plugin.plugin_id, &key))
            .await;
    }
}

/// `options ?? manager`, then zero means none (Keyv normalises a zero TTL to "no expiry").
fn effective_ttl(options: Option<Duration>, manager: Option<Duration>) -> Option<Duration> {
    options.or(manager).filter(|ttl| !ttl.is_zero())
}

/// Whole milliseconds, rounded up so that a positive TTL never becomes zero.
pub(crate) fn ceil_millis(ttl: Duration) -> u64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch (`Date.now()`).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[async_trait]
impl CacheService for CacheClient {
    fn plugin_id(&self) -> &str {
        &self.plugin.plugin_id
    }

    fn get<'a>(&'a self, key: &'a str) -> CacheFuture<'a, Option<Arc<Value>>> {
        let plugin = &*self.plugin;
        match plugin.store.local() {
            Some(local) => CacheFuture::ready(local.get_value(&plugin.plugin_id, key)),
            None => CacheFuture::new(self.load(key)),
        }
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Arc<Value>,
        ttl: Option<Duration>,
    ) -> CacheFuture<'a, ()> {
        match self.plugin.store.local() {
            Some(local) => {
                let (ttl, expires) = self.resolve_ttl(ttl);
                local.set_value(&self.plugin.plugin_id, key, value, ttl, expires);
                CacheFuture::ready(())
            }
            None => CacheFuture::new(self.save(key, value, ttl)),
        }
    }

    fn delete<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()> {
        let plugin = &*self.plugin;
        match plugin.store.local() {
            Some(local) => {
                local.delete_value(&plugin.plugin_id, key);
                CacheFuture::ready(())
            }
            None => CacheFuture::new(self.remove(key)),
        }
    }

    fn with_options(&self, options: CacheServiceOptions) -> Arc<dyn CacheService> {
        Arc::new(self.derive(options))
    }

    async fn get_or_compute_value(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: Loader<'_>,
    ) -> Result<Arc<Value>, BoxError> {
        if let Some(value) = self.load(key).await {
            return Ok(value);
        }
        let flights = &self.plugin.flights;
        let cell = match flights.lock() {
            Ok(mut map) => map.entry(key.to_owned()).or_default().clone(),
            // A poisoned registry only loses deduplication.
            Err(_) => Arc::new(OnceCell::new()),
        };
        let result = cell
            .get_or_try_init(|| async move {
                // A run that finished between our miss and joining may have stored it.
                if let Some(value) = self.load(key).await {
                    return Ok(value);
                }
                let value = Arc::new(loader.await?);
                self.save(key, value.clone(), ttl).await;
                Ok::<_, BoxError>(value)
            })
            .await
            .cloned();
        if let Ok(mut map) = flights.lock()
            && map
                .get(key)
                .is_some_and(|current| Arc::ptr_eq(current, &cell))
            && (cell.initialized() || Arc::strong_count(&cell) <= 2)
        {
            // Done (waiters hold their own handle), or failed with nobody waiting.
            map.remove(key);
        }
        result
    }
}

impl fmt::Debug for CacheClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheClient")
            .field("plugin_id", &self.plugin.plugin_id)
            .field("store", &self.plugin.store.name())
            .field("default_ttl", &self.default_ttl)
            .field("timeout", &self.plugin.timeout)
            .finish()
    }
}

/// The failure log of one plugin: one line per failure streak, repeated at most every
/// [`LOG_EVERY`].
#[derive(Default)]
struct Health {
    failing: AtomicBool,
    state: Mutex<HealthState>,
}

#[derive(Default)]
struct HealthState {
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl Health {
    fn succeeded(&self, plugin: &PluginState) {
        if !self.failing.load(Ordering::Relaxed) || !self.failing.swap(false, Ordering::AcqRel) {
            return;
        }
        let suppressed = self.state.lock().map_or(0, |mut state| {
            state.last_logged = None;
            std::mem::take(&mut state.suppressed)
        });
        tracing::info!(
            target: "backstage_cache",
            plugin = %plugin.plugin_id,
            store = plugin.store.name(),
            suppressed,
            "cache store is answering again"
        );
    }

    fn failed(&self, plugin: &PluginState, operation: &'static str, error: &StoreError) {
        let first = !self.failing.swap(true, Ordering::AcqRel);
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let due = state.last_logged.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if first || due {
            let suppressed = std::mem::take(&mut state.suppressed);
            state.last_logged = Some(Instant::now());
            drop(state);
            tracing::error!(
                target: "backstage_cache",
                plugin = %plugin.plugin_id,
                store = plugin.store.name(),
                operation,
                suppressed,
                error = %error,
                "cache store failed; reads miss and writes are dropped until it answers again"
            );
        } else {
            state.suppressed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ceil_millis(Duration::from_micros(1)), 1);
        assert_eq!(ceil_millis(Duration::from_millis(5)), 5);
        assert_eq!(ceil_millis(Duration::from_micros(5001)), 6);
        assert_eq!(ceil_millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn zero_means_no_default_ttl() {
        let second = Some(Duration::from_secs(1));
        assert_eq!(effective_ttl(None, second), second);
        assert_eq!(effective_ttl(Some(Duration::ZERO), second), None);
        assert_eq!(effective_ttl(None, None), None);
        assert_eq!(
            effective_ttl(Some(Duration::from_secs(2)), second),
            Some(Duration::from_secs(2))
        );
    }
}
