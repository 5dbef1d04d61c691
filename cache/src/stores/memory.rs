//! The in-process store (`store: memory`, the default).
//!
//! One map per process shared by every plugin, keyed `P:K` like Backstage's. Unlike
//! Backstage's, entries that expire are also freed when nobody reads them again: a background
//! sweeper removes them every `sweepInterval` (default 1 minute), and an optional bound on the
//! number of entries and/or their bytes evicts the oldest-written entries first.
//!
//! Values written through the plugin-facing client are kept as the caller's shared
//! `Arc<Value>` (no JSON text is written or parsed and nothing is copied on the hot path, see
//! [`LocalStore`]): a `set` stores the reference it is handed and a `get` hands out another. The
//! [`CacheStore`] methods still see Keyv envelopes, made on demand.
//!
//! The map is split into shards with a lock each, chosen by the key's hash; that one hash also
//! finds the key within its shard. It is foldhash (hashbrown's default hasher) with a per-store
//! seed drawn from the OS-seeded keys of std's `RandomState`: a few times cheaper than SipHash
//! on short keys, with the same kind of protection as the seeded string hash of Backstage's
//! own map (V8's): colliding keys cannot be chosen without knowing the seed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;
use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;
use hashbrown::HashTable;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::read_optional_duration;
use crate::envelope;
use crate::key::{decode_normalized_into, normalized_bytes_into, normalized_len};
use crate::store::{CacheStore, LocalStore, StoreError};
use crate::{Error, Result};

/// Shards of the map: independent locks so that concurrent callers rarely wait.
const SHARDS: usize = 32;
/// Default sweep interval.
const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The in-process store. Cheap to clone; clones share the map.
///
/// ```
/// use std::time::Duration;
/// use backstage_cache::CacheStore;
/// use backstage_cache::stores::MemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::builder().max_entries(10_000).max_bytes(64 << 20).build()?;
/// store.set("catalog", "a2V5", r#"{"value":1}"#.into(), None).await?;
/// assert_eq!(store.get("catalog", "a2V5").await?.as_deref(), Some(r#"{"value":1}"#));
/// assert_eq!(store.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Hashes keys, for both the shard and the slot within it.
    hasher: SeedableRandomState,
    shards: Box<[Padded<Mutex<Shard>>]>,
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
    sweep_interval: Duration,
    entries: AtomicUsize,
    bytes: AtomicUsize,
    seq: AtomicU64,
    sweeper_started: AtomicBool,
    sweeper: Mutex<Option<tokio::task::AbortHandle>>,
    /// Write order, for eviction (only kept when the store is bounded). Positions whose
    /// sequence number no longer matches the map were overwritten or removed. Never locked
    /// while the same thread holds a shard lock.
    order: Mutex<VecDeque<(Arc<[u8]>, u64)>>,
}

/// A value on cache lines of its own, so that threads using neighbouring shards do not
/// contend for a line (128 bytes: adjacent-line prefetching pairs 64-byte lines).
#[repr(align(128))]
struct Padded<T>(T);

#[derive(Default)]
struct Shard {
    table: HashTable<Entry>,
}

/// What an entry holds: a value (written by the client) or envelope text (written through
/// [`CacheStore::set`]). Both are reference-counted, so a read clones a pointer and the lock
/// is held briefly.
#[derive(Clone)]
enum Stored {
    Value(Arc<Value>),
    Text(Arc<str>),
}

struct Entry {
    /// The key (see [`KeyBuffer`]).
    key: Arc<[u8]>,
    stored: Stored,
    /// When the store drops it.
    expires_at: Option<Instant>,
    /// The envelope's `expires` (epoch milliseconds), for the text view of a value.
    expires_ms: Option<u64>,
    /// Bytes of the physical key `P:K` plus the envelope's length (for values: estimated, and
    /// only when the store has a byte bound; otherwise counted by [`Inner::total_bytes`]).
    size: usize,
    seq: u64,
}

impl Entry {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    fn is_live(&self) -> bool {
        self.expires_at.is_none_or(|at| Instant::now() < at)
    }
}

/// The JSON length of `value` in an envelope, estimated without writing it (exact for plain
/// strings and integers; escapes and float forms may differ by a few bytes).
fn estimated_len(value: &Value) -> usize {
    fn walk(value: &Value) -> usize {
        match value {
            Value::Null => 4,
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    digits(u)
                } else if let Some(i) = n.as_i64() {
                    1 + digits(i.unsigned_abs())
                } else {
                    24
                }
            }
            Value::String(s) => s.len() + 3,
            Value::Array(items) => 1 + items.iter().map(|v| walk(v) + 1).sum::<usize>().max(1),
            Value::Object(members) => {
                1 + members
                    .iter()
                    .map(|(k, v)| k.len() + 3 + walk(v) + 1)
                    .sum::<usize>()
                    .max(1)
            }
        }
    }
    fn digits(mut n: u64) -> usize {
        let mut count = 1;
        while n >= 10 {
            n /= 10;
            count += 1;
        }
        count
    }
    // `{"value":` ... `}` plus room for `,"expires":1234567890123`.
    walk(value) + 10
}

/// Separates the plugin id from key bytes that encode to the normalised key (see
/// [`with_client_key`]); UTF-8 (the plugin id) never contains this byte.
const DECODED: u8 = 0xFF;
/// Separates the plugin id from a normalised key kept as given (see [`with_store_key`]).
const LITERAL: u8 = 0xFE;

/// Runs `f` with a cleared, reused per-thread buffer.
fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            f(&mut buffer)
        }
        // Re-entered (`f` never calls back, but stay correct if it ever does).
        Err(_) => f(&mut Vec::new()),
    })
}

/// Runs `f` with the map key of a caller's `key` and the length of its physical key `P:K`.
///
/// Backstage's physical key is `P:K` with `K` the normalised (base64) key. Normalising is a
/// bijection between `K` and the bytes it encodes (the key itself, or its digest when long),
/// so the map is keyed by `P`, [`DECODED`] and those bytes instead: the same entries without
/// encoding base64 on every call. The [`CacheStore`] view decodes `K` ([`with_store_key`]).
fn with_client_key<R>(plugin_id: &str, key: &str, f: impl FnOnce(&[u8], usize) -> R) -> R {
    with_buffer(|buffer| {
        buffer.extend_from_slice(plugin_id.as_bytes());
        buffer.push(DECODED);
        let start = buffer.len();
        normalized_bytes_into(key, buffer);
        let physical = start + normalized_len(buffer.len() - start);
        f(buffer, physical)
    })
}

/// Runs `f` with the map key of a normalised key (the [`CacheStore`] view) and the length of
/// its physical key `P:K`: `P`, [`DECODED`] and the bytes `K` encodes, as the client's; or, for
/// a `K` that is not canonical base64 (which no caller's key normalises to), `P`, [`LITERAL`]
/// and `K` itself.
fn with_store_key<R>(plugin_id: &str, key: &str, f: impl FnOnce(&[u8], usize) -> R) -> R {
    with_buffer(|buffer| {
        buffer.extend_from_slice(plugin_id.as_bytes());
        buffer.push(DECODED);
        if !decode_normalized_into(key, buffer) {
            buffer.truncate(plugin_id.len());
            buffer.push(LITERAL);
            buffer.extend_from_slice(key.as_bytes());
        }
        f(buffer, plugin_id.len() + 1 + key.len())
    })
}

impl Inner {
    fn bounded(&self) -> bool {
        self.max_entries.is_some() || self.max_bytes.is_some()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // Every mutation is a single table call, so a poisoned lock still guards a consistent
        // table.
        self.shards[index]
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The shard of a key's hash. The table uses the low bits (slot) and the top seven
    /// (control bytes); the shard comes from bits in between.
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // The modulo keeps the value below SHARDS.
        #[allow(clippy::cast_possible_truncation)]
        let index = ((hash >> 40) % SHARDS as u64) as usize;
        self.lock(index)
    }

    /// Accounts for an entry taken out of `shard`. The store-wide totals are only kept for a
    /// bounded store (they are the bound check); otherwise each shard counts for itself, so
    /// concurrent writers share no counter.
    fn removed(&self, entry: &Entry) {
        if self.bounded() {
            self.entries.fetch_sub(1, Ordering::Relaxed);
            self.bytes.fetch_sub(entry.size, Ordering::Relaxed);
        }
    }

    fn total_entries(&self) -> usize {
        if self.bounded() {
            self.entries.load(Ordering::Relaxed)
        } else {
            (0..SHARDS).map(|i| self.lock(i).table.len()).sum()
        }
    }

    fn total_bytes(&self) -> usize {
        if self.max_bytes.is_some() {
            return self.bytes.load(Ordering::Relaxed);
        }
        // Without a byte bound, writes do not size values; count them now.
        (0..SHARDS)
            .map(|i| {
                let shard = self.lock(i);
                shard
                    .table
                    .iter()
                    .map(|e| match &e.stored {
                        Stored::Value(value) => e.size + estimated_len(value),
                        Stored::Text(_) => e.size,
                    })
                    .sum::<usize>()
            })
            .sum()
    }

    fn over_bound(&self) -> bool {
        self.max_entries
            .is_some_and(|max| self.entries.load(Ordering::Relaxed) > max)
            || self
                .max_bytes
                .is_some_and(|max| self.bytes.load(Ordering::Relaxed) > max)
    }

    /// The live entry's stored value and envelope expiry, or `None` (an expired entry is
    /// removed).
    fn get(&self, key: &[u8]) -> Option<(Stored, Option<u64>)> {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        let found = shard.table.find_entry(hash, |e| *e.key == *key).ok()?;
        let entry = found.get();
        if entry.is_live() {
            return Some((entry.stored.clone(), entry.expires_ms));
        }
        let (entry, _) = found.remove();
        self.removed(&entry);
        drop(shard);
        drop(entry);
        None
    }

    /// Writes an entry of `size` bytes (see [`Entry::size`]).
    fn insert(
        &self,
        key: &[u8],
        stored: Stored,
        ttl: Option<Duration>,
        expires_ms: Option<u64>,
        size: usize,
    ) {
        let expires_at = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        let bounded = self.bounded();
        let seq = if bounded {
            self.seq.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        let (old, written_key) = match shard.table.find_mut(hash, |e| *e.key == *key) {
            Some(entry) => {
                let old_size = entry.size;
                let old = std::mem::replace(&mut entry.stored, stored);
                entry.expires_at = expires_at;
                entry.expires_ms = expires_ms;
                entry.size = size;
                entry.seq = seq;
                let written_key = bounded.then(|| entry.key.clone());
                if bounded {
                    self.bytes.fetch_add(size, Ordering::Relaxed);
                    self.bytes.fetch_sub(old_size, Ordering::Relaxed);
                }
                (Some(old), written_key)
            }
            None => {
                let owned: Arc<[u8]> = Arc::from(key);
                let written_key = bounded.then(|| owned.clone());
                shard.table.insert_unique(
                    hash,
                    Entry {
                        key: owned,
                        stored,
                        expires_at,
                        expires_ms,
                        size,
                        seq,
                    },
                    |e| self.hasher.hash_one(&*e.key),
                );
                if bounded {
                    self.entries.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(size, Ordering::Relaxed);
                }
                (None, written_key)
            }
        };
        drop(shard);
        // The replaced value is freed outside the lock.
        drop(old);
        if let Some(written_key) = written_key {
            self.record_write(written_key, seq);
            self.evict();
        }
    }

    /// Removes `key`'s entry when `keep` says so.
    fn remove_if(&self, key: &[u8], remove: impl FnOnce(&Entry) -> bool) {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        let Ok(found) = shard.table.find_entry(hash, |e| *e.key == *key) else {
            return;
        };
        if !remove(found.get()) {
            return;
        }
        let (entry, _) = found.remove();
        self.removed(&entry);
        drop(shard);
        drop(entry);
    }

    fn remove(&self, key: &[u8]) {
        self.remove_if(key, |_| true);
    }

    fn lock_order(&self) -> MutexGuard<'_, VecDeque<(Arc<[u8]>, u64)>> {
        self.order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a write for eviction; compacts the queue once stale positions dominate.
    fn record_write(&self, key: Arc<[u8]>, seq: u64) {
        let mut order = self.lock_order();
        order.push_back((key, seq));
        if order.len() > 2 * self.entries.load(Ordering::Relaxed) + 64 {
            order.retain(|(key, seq)| self.is_current(key, *seq));
        }
    }

    fn is_current(&self, key: &[u8], seq: u64) -> bool {
        let hash = self.hash(key);
        self.shard(hash)
            .table
            .find(hash, |e| *e.key == *key)
            .is_some_and(|e| e.seq == seq)
    }

    /// Evicts the oldest-written entries until within bounds.
    fn evict(&self) {
        while self.over_bound() {
            let Some((key, seq)) = self.lock_order().pop_front() else {
                return;
            };
            self.remove_if(&key, |e| e.seq == seq);
        }
    }

    fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut removed = 0;
        for index in 0..SHARDS {
            let mut shard = self.lock(index);
            let bounded = self.bounded();
            shard.table.retain(|entry| {
                if entry.is_expired(now) {
                    if bounded {
                        self.entries.fetch_sub(1, Ordering::Relaxed);
                        self.bytes.fetch_sub(entry.size, Ordering::Relaxed);
                    }
                    removed += 1;
                    false
                } else {
                    true
                }
            });
        }
        if removed > 0 && self.bounded() {
            let mut order = self.lock_order();
            if order.len() > 2 * self.entries.load(Ordering::Relaxed) + 64 {
                order.retain(|(key, seq)| self.is_current(key, *seq));
            }
        }
        removed
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.sweeper.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
    }
}

#[async_trait]
impl CacheStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, plugin_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let found = with_store_key(plugin_id, key, |key, _| self.inner.get(key));
        Ok(found.map(|(stored, expires_ms)| match stored {
            Stored::Text(text) => text.to_string(),
            Stored::Value(value) => envelope::encode(&value, expires_ms),
        }))
    }

    async fn set(
        &self,
        plugin_id: &str,
        key: &str,
        envelope: String,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        if ttl.is_some() {
            self.start_sweeper();
        }
        let size = envelope.len();
        let stored = Stored::Text(envelope.into());
        with_store_key(plugin_id, key, |key, key_len| {
            self.inner.insert(key, stored, ttl, None, key_len + size);
        });
        Ok(())
    }

    async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError> {
        with_store_key(plugin_id, key, |key, _| self.inner.remove(key));
        Ok(())
    }

    async fn close(&self) {
        if let Ok(mut slot) = self.inner.sweeper.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
        for index in 0..SHARDS {
            let mut shard = self.inner.lock(index);
            let drained: Vec<Entry> = shard.table.drain().collect();
            for entry in &drained {
                self.inner.removed(entry);
            }
            drop(shard);
            drop(drained);
        }
        self.inner.lock_order().clear();
    }

    fn local(&self) -> Option<&dyn LocalStore> {
        Some(self)
    }
}

impl LocalStore for MemoryStore {
    fn get_value(&self, plugin_id: &str, key: &str) -> Option<Arc<Value>> {
        let (stored, _) = with_client_key(plugin_id, key, |key, _| self.inner.get(key))?;
        match stored {
            Stored::Value(value) => Some(value),
            Stored::Text(text) => {
                // Written through the envelope view: decode, honouring its own expiry.
                let decoded = envelope::decode(&text)?;
                if decoded.is_expired(crate::client::now_millis()) {
                    return None;
                }
                Some(Arc::new(decoded.value))
            }
        }
    }

    fn set_value(
        &self,
        plugin_id: &str,
        key: &str,
        value: Arc<Value>,
        ttl: Option<Duration>,
        expires_ms: Option<u64>,
    ) {
        if ttl.is_some() {
            self.start_sweeper();
        }
        // Sized only when the size is a bound (see `Entry::size`).
        let size = if self.inner.max_bytes.is_some() {
            estimated_len(&value)
        } else {
            0
        };
        let stored = Stored::Value(value);
        with_client_key(plugin_id, key, |key, key_len| {
            self.inner
                .insert(key, stored, ttl, expires_ms, key_len + size);
        });
    }

    fn delete_value(&self, plugin_id: &str, key: &str) {
        with_client_key(plugin_id, key, |key, _| self.inner.remove(key));
    }
}

/// Builds a [`MemoryStore`].
#[must_use]
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
    sweep_interval: Duration,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        Self {
            max_entries: None,
            max_bytes: None,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
        }
    }
}

impl MemoryStoreBuilder {
    /// Keep at most this many entries; the oldest-written are evicted first.
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = Some(max);
        self
    }

    /// Keep at most this many bytes of keys and envelopes; the oldest-written entries are
    /// evicted first.
    pub fn max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = Some(max);
        self
    }

    /// How often expired entries are swept (default 1 minute).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a zero bound or a zero sweep interval.
    pub fn build(self) -> Result<MemoryStore> {
        if self.max_entries == Some(0) {
            return Err(Error::invalid_config(
                "backend.cache.memory.maxEntries",
                "must be at least 1",
            ));
        }
        if self.max_bytes == Some(0) {
            return Err(Error::invalid_config(
                "backend.cache.memory.maxBytes",
                "must be at least 1",
            ));
        }
        if self.sweep_interval.is_zero() {
            return Err(Error::invalid_config(
                "backend.cache.memory.sweepInterval",
                "must be longer than zero",
            ));
        }
        let shards = (0..SHARDS)
            .map(|_| Padded(Mutex::new(Shard::default())))
            .collect();
        Ok(MemoryStore {
            inner: Arc::new(Inner {
                hasher: SeedableRandomState::with_seed(
                    std::hash::RandomState::new().hash_one(0x5eed_u64),
                    SharedSeed::global_random(),
                ),
                shards,
                max_entries: self.max_entries,
                max_bytes: self.max_bytes,
                sweep_interval: self.sweep_interval,
                entries: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                seq: AtomicU64::new(0),
                sweeper_started: AtomicBool::new(false),
                sweeper: Mutex::new(None),
                order: Mutex::new(VecDeque::new()),
            }),
        })
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .field("bytes", &self.size_bytes())
            .field("max_entries", &self.inner.max_entries)
            .field("max_bytes", &self.inner.max_bytes)
            .field("sweep_interval", &self.inner.sweep_interval)
            .finish()
    }
}

impl MemoryStore {
    /// An unbounded store swept every minute.
    pub fn new() -> Self {
        Self::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("the default memory store settings are valid"))
    }

    /// A builder.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    /// The store configured by `backend.cache.memory` of the root `config` (all optional):
    /// `maxEntries`, `maxBytes` (numbers) and `sweepInterval` (a duration: milliseconds,
    /// `'30s'`, `PT30S` or `{ seconds: 30 }`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::InvalidConfig`] for values of the wrong type or range.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let mut builder = Self::builder();
        let Some(block) = config.optional_config("backend.cache.memory")? else {
            return builder.build();
        };
        if let Some(max) = read_count(&block, "maxEntries")? {
            builder = builder.max_entries(max);
        }
        if let Some(max) = read_count(&block, "maxBytes")? {
            builder = builder.max_bytes(max);
        }
        if let Some(interval) = read_optional_duration(
            &block,
            "sweepInterval",
            "backend.cache.memory.sweepInterval",
        )? {
            builder = builder.sweep_interval(interval);
        }
        builder.build()
    }

    /// Number of entries held (expired ones included until swept or read).
    pub fn len(&self) -> usize {
        self.inner.total_entries()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of physical keys (`P:K`) and envelopes held; the envelopes of values written
    /// through the client are estimated. Without a `maxBytes` bound, writes do not size values
    /// and this walks every entry.
    pub fn size_bytes(&self) -> usize {
        self.inner.total_bytes()
    }

    /// Removes every expired entry now (the sweeper does this periodically); returns how many.
    pub fn sweep(&self) -> usize {
        self.inner.sweep()
    }

    fn start_sweeper(&self) {
        if self.inner.sweeper_started.load(Ordering::Relaxed)
            || self.inner.sweeper_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (a synchronous caller): try again on a later write.
            self.inner.sweeper_started.store(false, Ordering::Release);
            return;
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.sweep_interval;
        let task = runtime.spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let removed = inner.sweep();
                if removed > 0 {
                    tracing::debug!(removed, "memory cache store: swept expired entries");
                }
            }
        });
        if let Ok(mut slot) = self.inner.sweeper.lock() {
            *slot = Some(task.abort_handle());
        }
    }
}

fn read_count(block: &ConfigReader, key: &str) -> Result<Option<usize>> {
    let Some(value) = block.optional_number(key)? else {
        return Ok(None);
    };
    if value < 0.0 || value.fract() != 0.0 || value > 1e15 {
        return Err(Error::invalid_config(
            format!("backend.cache.memory.{key}"),
            format!("must be a whole number of at least 1, got {value}"),
        ));
    }
    // Checked above: a non-negative whole number well within usize.
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    Ok(Some(value as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize_key;
    use serde_json::json;

    #[tokio::test]
    async fn both_views_see_the_same_entries() {
        let store = MemoryStore::new();
        // The client's view takes the caller's key, the store's view the normalised one.
        store.set_value("p", "a", Arc::new(json!({ "x": ":y" })), None, Some(5));
        assert_eq!(
            store
                .get("p", &normalize_key("a"))
                .await
                .unwrap()
                .as_deref(),
            Some(r#"{"value":{"x":"::y"},"expires":5}"#)
        );
        store
            .set("p", &normalize_key("b"), r#"{"value":[1]}"#.into(), None)
            .await
            .unwrap();
        assert_eq!(store.get_value("p", "b").as_deref(), Some(&json!([1])));
        store
            .set(
                "p",
                &normalize_key("old"),
                r#"{"value":1,"expires":1}"#.into(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(store.get_value("p", "old"), None);
        // Hashed long keys too.
        let long = "k".repeat(300);
        store.set_value("p", &long, Arc::new(json!(2)), None, None);
        assert_eq!(
            store
                .get("p", &normalize_key(&long))
                .await
                .unwrap()
                .as_deref(),
            Some(r#"{"value":2}"#)
        );
        store.delete_value("p", "a");
        assert_eq!(store.get("p", &normalize_key("a")).await.unwrap(), None);
        let size = estimated_len(&json!({ "x": ":y" }));
        assert!(size >= r#"{"value":{"x":"::y"}}"#.len(), "{size}");
    }

    #[tokio::test]
    async fn the_stored_value_is_shared_not_copied() {
        let store = MemoryStore::new();
        let value = Arc::new(json!({ "big": "x".repeat(1000) }));
        store.set_value("p", "k", value.clone(), None, None);
        let read = store.get_value("p", "k").unwrap();
        assert!(Arc::ptr_eq(&read, &value));
        // Sized on demand: physical key `p:aw==` plus the envelope estimate.
        assert_eq!(store.size_bytes(), "p:aw==".len() + estimated_len(&value));
    }

    fn envelope(n: usize) -> String {
        format!("{{\"value\":{n}}}")
    }

    #[tokio::test]
    async fn plugins_and_key_forms_do_not_collide() {
        let store = MemoryStore::new();
        store.set("a", "Yg==", envelope(1), None).await.unwrap();
        assert_eq!(store.get("a", "Yg==").await.unwrap(), Some(envelope(1)));
        assert_eq!(store.get("b", "Yg==").await.unwrap(), None);
        assert_eq!(store.get_value("a", "b").as_deref(), Some(&json!(1)));
        // A plugin id with `:` against a key with `:`.
        store.set_value("a:b", "c", Arc::new(json!(1)), None, None);
        store.set_value("a", "b:c", Arc::new(json!(2)), None, None);
        assert_eq!(store.get_value("a:b", "c").as_deref(), Some(&json!(1)));
        assert_eq!(store.get_value("a", "b:c").as_deref(), Some(&json!(2)));
        // A store key that is not base64 is kept apart from every caller's key.
        store
            .set("a", "not base64", envelope(3), None)
            .await
            .unwrap();
        assert_eq!(
            store.get("a", "not base64").await.unwrap(),
            Some(envelope(3))
        );
        assert_eq!(store.get_value("a", "not base64"), None);
        assert_eq!(store.size_bytes(), {
            let value = |v| estimated_len(&json!(v));
            "a:Yg==".len()
                + envelope(1).len()
                + "a:b:Yw==".len()
                + value(1)
                + "a:Yjpj".len()
                + value(2)
                + "a:not base64".len()
                + envelope(3).len()
        });
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_swept_without_being_read() {
        let store = MemoryStore::builder()
            .sweep_interval(Duration::from_secs(1))
            .build()
            .unwrap();
        for i in 0..100 {
            store
                .set(
                    "p",
                    &i.to_string(),
                    envelope(i),
                    Some(Duration::from_millis(500)),
                )
                .await
                .unwrap();
        }
        store.set("p", "keep", envelope(0), None).await.unwrap();
        assert_eq!(store.len(), 101);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(store.len(), 1);
        assert_eq!(store.size_bytes(), "p:keep".len() + envelope(0).len());
    }

    #[tokio::test]
    async fn the_entry_bound_evicts_the_oldest_writes() {
        let store = MemoryStore::builder().max_entries(10).build().unwrap();
        for i in 0..25 {
            store
                .set("p", &i.to_string(), envelope(i), None)
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 10);
        for i in 0..15 {
            assert_eq!(store.get("p", &i.to_string()).await.unwrap(), None, "{i}");
        }
        for i in 15..25 {
            assert!(
                store.get("p", &i.to_string()).await.unwrap().is_some(),
                "{i}"
            );
        }
        // Overwrites refresh the write position and do not grow the count.
        for _ in 0..1000 {
            store.set("p", "15", envelope(15), None).await.unwrap();
        }
        store.set("p", "new", envelope(0), None).await.unwrap();
        assert_eq!(store.len(), 10);
        assert!(store.get("p", "15").await.unwrap().is_some());
        assert_eq!(store.get("p", "16").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_byte_bound_holds() {
        let store = MemoryStore::builder().max_bytes(1000).build().unwrap();
        for i in 0..1000 {
            store
                .set("p", &format!("{i:04}"), "x".repeat(50), None)
                .await
                .unwrap();
            assert!(store.size_bytes() <= 1000);
        }
        // Each entry is "p:0000" (6 bytes) plus 50 bytes.
        assert_eq!(store.len(), 1000 / 56);
    }

    #[tokio::test]
    async fn delete_and_close_release_everything() {
        let store = MemoryStore::builder().max_entries(100).build().unwrap();
        store.set("p", "a", envelope(1), None).await.unwrap();
        store.set("p", "b", envelope(2), None).await.unwrap();
        store.delete("p", "a").await.unwrap();
        store.delete("p", "missing").await.unwrap();
        assert_eq!(store.len(), 1);
        store.close().await;
        assert_eq!(store.len(), 0);
        assert_eq!(store.size_bytes(), 0);
    }

    #[test]
    fn zero_bounds_are_rejected() {
        assert!(MemoryStore::builder().max_entries(0).build().is_err());
        assert!(MemoryStore::builder().max_bytes(0).build().is_err());
        assert!(
            MemoryStore::builder()
                .sweep_interval(Duration::ZERO)
                .build()
                .is_err()
        );
    }

    #[test]
    fn config_block_is_read() {
        let config = ConfigReader::from_value(serde_json::json!({
            "backend": { "cache": { "memory": {
                "maxEntries": 5, "maxBytes": 100, "sweepInterval": "10s"
            } } }
        }));
        let store = MemoryStore::from_config(&config).unwrap();
        assert_eq!(store.inner.max_entries, Some(5));
        assert_eq!(store.inner.max_bytes, Some(100));
        assert_eq!(store.inner.sweep_interval, Duration::from_secs(10));
        let bad = ConfigReader::from_value(serde_json::json!({
            "backend": { "cache": { "memory": { "maxEntries": -1 } } }
        }));
        assert!(MemoryStore::from_config(&bad).is_err());
    }
}
