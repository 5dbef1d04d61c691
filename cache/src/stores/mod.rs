//! The stores, one module per backend. The memory store is always built; each server store is
//! behind the cargo feature named after it.
//!
//! Every store is created from the **root** config with `from_config(&ConfigReader)` (it reads
//! `backend.cache.connection`, `backend.cache.timeout` and its own `backend.cache.<store>`
//! block) and implements [`CacheStore`](crate::CacheStore). The manager calls
//! `InfinispanStore::from_config(&ConfigReader) -> Result<Arc<dyn CacheStore>, Error>` for
//! `store: infinispan`.

mod memory;
#[cfg(any(feature = "redis", feature = "valkey"))]
mod resp;

#[cfg(feature = "memcache")]
mod memcache;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "valkey")]
mod valkey;

#[cfg(feature = "infinispan")]
pub mod infinispan;

#[cfg(feature = "memcache")]
pub use self::memcache::{MemcacheStore, MemcacheStoreBuilder};
pub use self::memory::{MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "valkey")]
pub use self::valkey::{ValkeyStore, ValkeyStoreBuilder};
