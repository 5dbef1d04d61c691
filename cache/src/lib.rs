//! # backstage-cache
//!
//! The cache service of a Rust Backstage backend (`coreServices.cache`): each plugin gets a
//! namespaced key-value cache of JSON values with optional expiry, over one store per process
//! (memory, redis, valkey, memcache or infinispan). Keys and stored values are byte-compatible
//! with Backstage's, so a Rust and a Node backend can share one cache during a migration.
//!
//! Depend on it when you assemble a backend (install [`cache_service_factory`]) or write a
//! plugin that needs a cache (take [`CACHE`] as a dependency and use [`CacheService`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use backstage_cache::{CacheManager, CacheService, CacheServiceExt};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), backstage_cache::Error> {
//! let manager = CacheManager::memory();
//! let cache = manager.for_plugin("catalog");
//!
//! // Values are shared `Arc<serde_json::Value>`s: `set` takes one over, `get` hands one out.
//! cache.set("greeting", json!({ "hello": "world" }).into(), None).await;
//! let greeting: Option<Arc<serde_json::Value>> = cache.get("greeting").await;
//! assert_eq!(greeting.as_deref(), Some(&json!({ "hello": "world" })));
//!
//! // `null` is a value, not a miss.
//! cache.set("nothing", json!(null).into(), None).await;
//! assert_eq!(cache.get("nothing").await.as_deref(), Some(&json!(null)));
//! assert_eq!(cache.get("absent").await, None);
//!
//! // Per-call TTLs, and a copy with a default TTL (Backstage's `withOptions`).
//! cache.set("short", json!(1).into(), Some(Duration::from_secs(60))).await;
//! let hourly = cache.with_default_ttl(Duration::from_secs(3600));
//! hourly.set("long", json!(2).into(), None).await;
//!
//! // Typed values, and a loader that runs once however many callers ask at the same time.
//! let count: u64 = cache
//!     .get_or_compute("count", None, || async { Ok::<_, backstage_cache::Error>(7) })
//!     .await?;
//! assert_eq!(count, 7);
//! assert_eq!(cache.get_as::<u64>("count").await?, Some(7));
//!
//! // Plugins do not see each other's keys.
//! assert_eq!(manager.for_plugin("search").get("greeting").await, None);
//! manager.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Concepts
//!
//! * [`CacheService`] is what plugins receive (`Arc<dyn CacheService>` through [`CACHE`]):
//!   `get`, `set` with an optional TTL, `delete`, `with_options`. [`CacheServiceExt`] adds
//!   typed helpers (`get_as`, `set_as`, `get_or_compute`) and `with_default_ttl`.
//! * Values are immutable and shared: `set` takes an `Arc<serde_json::Value>` (from a `Value`
//!   with `.into()`) and `get` returns one. With the memory store a hit is the stored value
//!   itself (a reference count, no copy); network stores decode a new one per `get`. Take an
//!   owned copy with [`Arc::unwrap_or_clone`](std::sync::Arc::unwrap_or_clone) when needed.
//! * [`CacheManager`] is built once per process from `backend.cache`
//!   ([`CacheManager::from_config`]) and hands out a [`CacheClient`] per plugin.
//! * [`CacheStore`] is the boundary every backend implements, in [`stores`]. Above it live the
//!   store-independent rules: key normalisation ([`normalize_key`]), the value envelope
//!   ([`envelope`]), TTL resolution, the per-call timeout and failure handling. An in-process
//!   store can also offer a [`LocalStore`] view of decoded values, which the client then uses.
//!
//! Benchmarks (criterion micro-benches, and `cache-bench` side by side with Backstage's own
//! `CacheManager`) are described in `cache/benches/README.md`.
//!
//! ## Configuration (`backend.cache`)
//!
//! | key | meaning |
//! | --- | --- |
//! | `store` | `memory` (default), `redis`, `valkey`, `memcache`, `infinispan` |
//! | `connection` | URL: `redis://[[user]:pass@]host[:port][/db]` / `rediss://…` (redis, valkey); `host:port[,host:port…]` or `memcache://host:port` (memcache); for redis also an object `{ url, username, password, database, socket: { tls, keepAlive, connectTimeout, rejectUnauthorized } }` |
//! | `defaultTtl` | milliseconds, `'1h'`, `'90 minutes'`, `'PT1H'` or `{ hours: 1 }`; `0` = none |
//! | `timeout` | bound of every store call, same forms, default 1 s (ours) |
//! | `memory.maxEntries`, `memory.maxBytes`, `memory.sweepInterval` | memory store bound and sweep period (ours; default unbounded, 1 minute) |
//! | `redis.client.namespace`, `redis.client.keyPrefixSeparator`, `redis.client.useUnlink` | key prefix `N<sep>`, separator (default `:`), `UNLINK` vs `DEL` |
//! | `redis.cluster.{rootNodes, defaults, useReplicas, maxCommandRedirections}` | cluster mode (`rootNodes`: `[{ url }]` or `[{ host, port }]`) |
//! | `valkey.client.keyPrefix`, `valkey.cluster.*` | as for redis; the prefix includes its separator |
//! | `infinispan.*` | see the infinispan store |
//!
//! ## Stores and features
//!
//! | store | feature | physical key (`P` plugin id, `K` normalised key) | server expiry |
//! | --- | --- | --- | --- |
//! | memory | always | `P:K` | sweeper + lazy check |
//! | redis | `redis` | `[N<sep>]P<sep>K` | `SET … PX ms` |
//! | valkey | `valkey` | `<keyPrefix>P:K` | `SET … PX ms` |
//! | memcache | `memcache` | `P:P:K` | seconds, rounded up; > 30 days sent as absolute time |
//! | infinispan | `infinispan` | `P:K` | Hot Rod lifespan (ms) |
//!
//! `all-stores` enables every feature.
//!
//! ## Failure semantics
//!
//! Every store call is bounded by `backend.cache.timeout` (default 1 s). A store that errors
//! or times out never fails the caller: `get` returns `None`, `set` and `delete` do nothing.
//! The failure is logged (target `backstage_cache`) once per failure streak per plugin, then at
//! most once a minute while it lasts, and the recovery is logged. Redis and valkey reconnect
//! by themselves with capped exponential backoff; memcache redials per request.
//!
//! ## Differences from Backstage
//!
//! * **One client per store per process**, shared by every plugin and closed at backend
//!   shutdown (Backstage opens one per plugin and never closes them). Redis and valkey calls
//!   share one connection, and the requests queued while a write is answered are sent as
//!   one pipeline (standalone mode).
//! * **Timeouts and failures**: see above. Backstage's redis client hangs forever or crashes the
//!   process when the server goes away.
//! * **Valkey keys include the plugin id** (`<keyPrefix>P:K`, like redis). Backstage 0.18
//!   writes `<keyPrefix>K`, so its plugins overwrite each other's keys, and keeps a
//!   `namespace:` set of every key written; this crate writes no such set and issues no
//!   `MULTI`, so a valkey cluster never sees a cross-slot transaction. Valkey entries are
//!   therefore not shared with a Node backend.
//! * **Memory store**: a sweeper frees expired entries nobody reads, and an optional bound
//!   (`maxEntries`, `maxBytes`) evicts the oldest-written entries first. Backstage's map only
//!   drops an entry when it is read after expiry. Values written by plugins are kept as the
//!   shared `Arc` they were handed ([`LocalStore`]) instead of as envelope text, and its calls
//!   skip the timeout (they never wait); the [`CacheStore`] view still reads and writes
//!   envelopes. Like Backstage's (which stores JSON text), a value read back is never affected
//!   by what the writer does afterwards: shared values cannot be mutated.
//! * **Memcache TTLs** under one second are rounded up to one second (Backstage sends 0, "never
//!   expires") and TTLs over 30 days are sent as an absolute time (Backstage's are dropped at
//!   once). Memcache is spoken over the meta text protocol, so SASL credentials in the
//!   connection string are rejected at startup.
//! * **TTL inputs** are [`Duration`](std::time::Duration)s: negative and fractional-millisecond
//!   TTLs cannot be expressed (Backstage stores a negative TTL as already expired in memory and
//!   drops it with an error on redis; redis rejects fractional ones). A sub-millisecond TTL is
//!   rounded up to one millisecond.
//! * `store: infinispan` without an `infinispan` block uses defaults (`localhost:11222`)
//!   instead of failing.
//! * `backend.cache.timeout` and the `memory` block are additions.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
pub mod envelope;
mod error;
mod key;
mod manager;
mod service;
pub mod store;
pub mod stores;

pub use client::CacheClient;
pub use error::{Error, Result};
pub use key::normalize_key;
pub use manager::{CacheManager, CacheManagerBuilder, DEFAULT_TIMEOUT, STORES};
pub use service::{
    CACHE, CacheFuture, CacheService, CacheServiceExt, CacheServiceOptions, Loader,
    cache_service_factory,
};
pub use store::{CacheStore, LocalStore, StoreError};
