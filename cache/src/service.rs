//! The plugin-facing cache service (Backstage's `coreServices.cache`), its typed helpers and its
//! service factory.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use backstage_core_plugin_api::core_services::CACHE_SERVICE_ID;
use backstage_core_plugin_api::{BoxError, ServiceRef};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

/// The loader handed to [`CacheService::get_or_compute_value`]: a future that computes the
/// value on a miss. It is only polled by the caller that wins the race for its key.
pub type Loader<'a> = Pin<Box<dyn Future<Output = Result<Value, BoxError>> + Send + 'a>>;

/// Options of a derived client ([`CacheService::with_options`]), Backstage's
/// `CacheServiceOptions`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheServiceOptions {
    /// The TTL of `set` calls that give none. `None` keeps the current one; `Some(ZERO)` means
    /// "no expiry", which also cancels a `backend.cache.defaultTtl`.
    pub default_ttl: Option<Duration>,
}

impl CacheServiceOptions {
    /// Options that set the default TTL.
    #[must_use]
    pub fn default_ttl(ttl: Duration) -> Self {
        Self {
            default_ttl: Some(ttl),
        }
    }
}

/// A plugin's cache: JSON values under string keys, in the plugin's own namespace.
///
/// Calls never fail: when the store is down or slow (past the configured timeout) a `get` is a
/// miss and a `set`/`delete` does nothing; the failure is logged. Values are shared, immutable
/// [`serde_json::Value`]s behind an [`Arc`]: `set` takes one (`json!(…).into()` or
/// `Arc::new(value)`; the caller hands it over, nothing is copied), and `get` returns one (with
/// the memory store the very value stored, so a hit costs a reference count, not a copy; use
/// [`Arc::unwrap_or_clone`] for an owned value). `null` is a value, distinct from a miss. Typed
/// helpers are on [`CacheServiceExt`].
///
/// # Contract
///
/// Implementors (test doubles, wrappers) keep: a `get` after a `set` of the same key on the same
/// plugin returns the value until its TTL passes or it is deleted (best effort: a cache may
/// drop entries); a per-call TTL of [`Duration::ZERO`] means "no expiry"; `with_options`
/// returns a client of the same plugin and store. [`get_or_compute_value`] has a default that
/// does not deduplicate concurrent loaders.
///
/// `get`, `set` and `delete` return a [`CacheFuture`]: implementors wrap their `async` block
/// with [`CacheFuture::new`], or answer with [`CacheFuture::ready`] when they have the result
/// at once (as the client over the memory store does, so that its calls allocate nothing).
///
/// [`get_or_compute_value`]: CacheService::get_or_compute_value
#[async_trait]
pub trait CacheService: Send + Sync + Debug + 'static {
    /// The plugin whose namespace this client reads and writes.
    fn plugin_id(&self) -> &str;

    /// The value under `key`, or `None` when absent, expired, or the store failed.
    fn get<'a>(&'a self, key: &'a str) -> CacheFuture<'a, Option<Arc<Value>>>;

    /// Stores `value` under `key`. `ttl` overrides the client's default TTL; `Some(ZERO)` stores
    /// without expiry; `None` uses the default (from [`with_options`](Self::with_options), else
    /// `backend.cache.defaultTtl`, else no expiry).
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Arc<Value>,
        ttl: Option<Duration>,
    ) -> CacheFuture<'a, ()>;

    /// Removes `key`; removing a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()>;

    /// A client for the same plugin and store with `options` merged over this client's.
    fn with_options(&self, options: CacheServiceOptions) -> Arc<dyn CacheService>;

    /// The value under `key`, or the result of `loader` (stored with `ttl` as in
    /// [`set`](Self::set)). Concurrent callers for the same key share one loader run.
    ///
    /// # Errors
    ///
    /// The loader's error; the other callers waiting on a failed loader run their own.
    async fn get_or_compute_value(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: Loader<'_>,
    ) -> Result<Arc<Value>, BoxError> {
        if let Some(value) = self.get(key).await {
            return Ok(value);
        }
        let value = Arc::new(loader.await?);
        self.set(key, value.clone(), ttl).await;
        Ok(value)
    }
}

/// The future of a [`CacheService`] call (`.await` it): either a result that is already there,
/// which costs no allocation, or a boxed future.
///
/// ```
/// use backstage_cache::CacheFuture;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(CacheFuture::ready(1).await, 1);
/// assert_eq!(CacheFuture::new(async { 2 }).await, 2);
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CacheFuture<'a, T> {
    state: FutureState<'a, T>,
}

enum FutureState<'a, T> {
    /// `None` once taken.
    Ready(Option<T>),
    Boxed(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
}

impl<'a, T> CacheFuture<'a, T> {
    /// A future that completes at once with `value`.
    pub fn ready(value: T) -> Self {
        Self {
            state: FutureState::Ready(Some(value)),
        }
    }

    /// Boxes `future`.
    pub fn new(future: impl Future<Output = T> + Send + 'a) -> Self {
        Self {
            state: FutureState::Boxed(Box::pin(future)),
        }
    }
}

// The value is moved out, never pinned in place, and the boxed future is pinned on the heap.
impl<T> Unpin for CacheFuture<'_, T> {}

impl<T> Future for CacheFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().state {
            FutureState::Ready(value) => {
                Poll::Ready(value.take().expect("CacheFuture polled after completion"))
            }
            FutureState::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> Debug for CacheFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            FutureState::Ready(Some(_)) => "ready",
            FutureState::Ready(None) => "done",
            FutureState::Boxed(_) => "boxed",
        };
        f.debug_struct("CacheFuture")
            .field("state", &state)
            .finish()
    }
}

/// The cache service: plugin-scoped, id `core.cache`.
pub const CACHE: ServiceRef<dyn CacheService> = ServiceRef::plugin(CACHE_SERVICE_ID);

mod sealed {
    pub trait Sealed {}
    impl<C: super::CacheService + ?Sized> Sealed for C {}
}

/// Typed conveniences over any [`CacheService`] (including `Arc<dyn CacheService>`).
///
/// ```
/// use backstage_cache::{CacheManager, CacheServiceExt};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Token { user: String, scopes: Vec<String> }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), backstage_cache::Error> {
/// let cache = CacheManager::memory().for_plugin("auth");
/// let token = Token { user: "ann".into(), scopes: vec!["read".into()] };
/// cache.set_as("token", &token, None).await?;
/// assert_eq!(cache.get_as::<Token>("token").await?, Some(token));
///
/// let n: u32 = cache
///     .get_or_compute("answer", None, || async { Ok::<_, backstage_cache::Error>(42) })
///     .await?;
/// assert_eq!(n, 42);
/// # Ok(())
/// # }
/// ```
pub trait CacheServiceExt: CacheService + sealed::Sealed {
    /// The value under `key` deserialized as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] when the stored value does not deserialize as `T`.
    fn get_as<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>, Error>> + Send {
        async move {
            match self.get(key).await {
                Some(value) => Ok(Some(T::deserialize(&*value)?)),
                None => Ok(None),
            }
        }
    }

    /// Serializes `value` to JSON and stores it (see [`CacheService::set`]).
    ///
    /// # Errors
    ///
    /// [`Error::Json`] when `value` does not serialize.
    fn set_as<T: Serialize + Sync + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async move {
            let value = serde_json::to_value(value)?;
            self.set(key, Arc::new(value), ttl).await;
            Ok(())
        }
    }

    /// The value under `key`, or the result of `loader`, stored with `ttl`. Concurrent callers
    /// for the same key (on the same plugin, in this process) run the loader once and all get
    /// its value; when that run fails, its caller gets the error and one of the waiting
    /// callers runs its own loader.
    ///
    /// # Errors
    ///
    /// The loader's error, or [`Error::Json`] (converted into `E`) when the cached or computed
    /// value does not round-trip through `T`.
    fn get_or_compute<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> impl Future<Output = Result<T, E>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        E: From<Error> + Send,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        async move {
            let failure: Mutex<Option<E>> = Mutex::new(None);
            let load = async {
                match loader().await {
                    Ok(value) => serde_json::to_value(value)
                        .map_err(|e| Box::new(Error::Json(e)) as BoxError),
                    Err(error) => {
                        if let Ok(mut slot) = failure.lock() {
                            *slot = Some(error);
                        }
                        Err(Box::new(LoaderFailed) as BoxError)
                    }
                }
            };
            let result = self.get_or_compute_value(key, ttl, Box::pin(load)).await;
            match result {
                Ok(value) => T::deserialize(&*value).map_err(|e| E::from(Error::Json(e))),
                Err(error) => {
                    let own = failure.lock().ok().and_then(|mut slot| slot.take());
                    match own {
                        Some(error) => Err(error),
                        None => match error.downcast::<Error>() {
                            Ok(error) => Err(E::from(*error)),
                            Err(other) => Err(E::from(Error::Loader(other))),
                        },
                    }
                }
            }
        }
    }

    /// A client for the same plugin whose `set` calls default to `ttl` (Backstage's
    /// `withOptions({ defaultTtl })`); [`Duration::ZERO`] means no expiry.
    fn with_default_ttl(&self, ttl: Duration) -> Arc<dyn CacheService> {
        self.with_options(CacheServiceOptions::default_ttl(ttl))
    }
}

impl<C: CacheService + ?Sized> CacheServiceExt for C {}

/// Marker for a loader that failed with the caller's own error type (kept aside).
#[derive(Debug)]
struct LoaderFailed;

impl std::fmt::Display for LoaderFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cache loader failed")
    }
}

impl std::error::Error for LoaderFailed {}

/// The stock cache service factory: a [`CacheManager`](crate::CacheManager) built once per
/// backend from `backend.cache` (its store is closed by a root shutdown hook), and each plugin's
/// [`CacheClient`](crate::CacheClient) from it. Install it in a backend
/// (`backend.add(cache_service_factory())`); no connection is made until a plugin uses its cache.
pub fn cache_service_factory() -> backstage_core_plugin_api::ServiceFactory {
    use backstage_core_plugin_api::services::lifecycle::hook;
    use backstage_core_plugin_api::{ServiceFactory, core_services};

    use crate::CacheManager;

    ServiceFactory::with_root_context(
        CACHE,
        (core_services::ROOT_CONFIG, core_services::ROOT_LIFECYCLE),
        |(config, lifecycle)| async move {
            let manager = CacheManager::from_config(&config.reader())?;
            let closing = manager.clone();
            lifecycle.add_shutdown_hook(hook(move || async move {
                closing.close().await;
                Ok::<_, BoxError>(())
            }))?;
            Ok::<_, BoxError>(manager)
        },
        core_services::PLUGIN_METADATA,
        |metadata, manager: Arc<CacheManager>| async move {
            let client = manager.for_plugin(metadata.plugin_id());
            Ok::<_, BoxError>(Arc::new(client) as Arc<dyn CacheService>)
        },
    )
}
