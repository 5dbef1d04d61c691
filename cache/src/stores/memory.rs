//! The in-process store (`store: memory`, the default).
//!
//! One map per process shared by every plugin, keyed `P:K` like Backstage's. Unlike
//! Backstage's, entries that expire are also freed when nobody reads them again: a background
//! sweeper removes them every `sweepInterval` (default 1 minute), and an optional bound on the
//! number of entries and/or their bytes evicts the oldest-written entries first.
//!
//! Values written through the plugin-facing client are kept decoded (no JSON text is written
//! or parsed on the hot path, see [`LocalStore`]); the [`CacheStore`] methods still see Keyv
//! envelopes, made on demand.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::read_optional_duration;
use crate::envelope;
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
    shards: Box<[Mutex<Shard>]>,
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
    order: Mutex<VecDeque<(Arc<str>, u64)>>,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Arc<str>, Entry>,
    /// Bytes of this shard's entries (the count is `map.len()`).
    bytes: usize,
}

/// What an entry holds: a decoded value (written by the client) or envelope text (written
/// through [`CacheStore::set`]).
enum Stored {
    Value(Arc<Value>),
    Text(Arc<str>),
}

struct Entry {
    stored: Stored,
    /// When the store drops it.
    expires_at: Option<Instant>,
    /// The envelope's `expires` (epoch milliseconds), for the text view of a value.
    expires_ms: Option<u64>,
    /// Key plus value bytes (the envelope's length, estimated for values).
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

/// FNV-1a, only to pick a shard (the shard maps hash with `RandomState`).
fn shard_of(key: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // The modulo keeps the value below SHARDS.
    #[allow(clippy::cast_possible_truncation)]
    let index = ((hash ^ (hash >> 32)) % SHARDS as u64) as usize;
    index
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

impl Inner {
    fn bounded(&self) -> bool {
        self.max_entries.is_some() || self.max_bytes.is_some()
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // Every mutation is a single map call, so a poisoned lock still guards a consistent map.
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Accounts for an entry taken out of `shard`. The store-wide totals are only kept for a
    /// bounded store (they are the bound check); otherwise each shard counts for itself, so
    /// concurrent writers share no counter.
    fn removed(&self, shard: &mut Shard, entry: &Entry) {
        shard.bytes -= entry.size;
        if self.bounded() {
            self.entries.fetch_sub(1, Ordering::Relaxed);
            self.bytes.fetch_sub(entry.size, Ordering::Relaxed);
        }
    }

    fn total_entries(&self) -> usize {
        if self.bounded() {
            self.entries.load(Ordering::Relaxed)
        } else {
            (0..SHARDS).map(|i| self.lock(i).map.len()).sum()
        }
    }

    fn total_bytes(&self) -> usize {
        if self.bounded() {
            self.bytes.load(Ordering::Relaxed)
        } else {
            (0..SHARDS).map(|i| self.lock(i).bytes).sum()
        }
    }

    fn over_bound(&self) -> bool {
        self.max_entries
            .is_some_and(|max| self.entries.load(Ordering::Relaxed) > max)
            || self
                .max_bytes
                .is_some_and(|max| self.bytes.load(Ordering::Relaxed) > max)
    }

    /// The live entry's stored value, or `None` (an expired entry is removed).
    fn get(&self, key: &str) -> Option<(StoredRef, Option<u64>)> {
        let mut shard = self.lock(shard_of(key));
        let entry = shard.map.get(key)?;
        if entry.is_live() {
            let stored = match &entry.stored {
                Stored::Value(value) => StoredRef::Value(value.clone()),
                Stored::Text(text) => StoredRef::Text(text.clone()),
            };
            return Some((stored, entry.expires_ms));
        }
        if let Some(entry) = shard.map.remove(key) {
            self.removed(&mut shard, &entry);
            drop(shard);
            drop(entry);
        }
        None
    }

    fn insert(
        &self,
        key: &str,
        new: New<'_>,
        ttl: Option<Duration>,
        expires_ms: Option<u64>,
        size: usize,
    ) {
        let expires_at = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        let size = key.len() + size;
        let bounded = self.bounded();
        let seq = if bounded {
            self.seq.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        let mut guard = self.lock(shard_of(key));
        let shard = &mut *guard;
        let (old, written_key) = match shard.map.get_mut(key) {
            Some(entry) => {
                let old_size = entry.size;
                let old = match (&mut entry.stored, new) {
                    // Nobody reads the old value right now: overwrite it in place, reusing
                    // its allocations where the shapes match.
                    (Stored::Value(current), New::Value(source)) => match Arc::get_mut(current) {
                        Some(current) => {
                            assign(current, source);
                            None
                        }
                        None => Some(Stored::Value(std::mem::replace(
                            current,
                            Arc::new(source.clone()),
                        ))),
                    },
                    (stored, new) => Some(std::mem::replace(stored, new.into_stored())),
                };
                entry.expires_at = expires_at;
                entry.expires_ms = expires_ms;
                entry.size = size;
                entry.seq = seq;
                shard.bytes = shard.bytes + size - old_size;
                if bounded {
                    self.bytes.fetch_add(size, Ordering::Relaxed);
                    self.bytes.fetch_sub(old_size, Ordering::Relaxed);
                }
                let written_key = bounded
                    .then(|| shard.map.get_key_value(key).map(|(k, _)| k.clone()))
                    .flatten();
                (Some(old), written_key)
            }
            None => {
                let owned: Arc<str> = Arc::from(key);
                shard.map.insert(
                    owned.clone(),
                    Entry {
                        stored: new.into_stored(),
                        expires_at,
                        expires_ms,
                        size,
                        seq,
                    },
                );
                shard.bytes += size;
                if bounded {
                    self.entries.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(size, Ordering::Relaxed);
                }
                (None, bounded.then_some(owned))
            }
        };
        drop(guard);
        // The replaced value is freed outside the lock.
        drop(old);
        if let Some(written_key) = written_key {
            self.record_write(written_key, seq);
            self.evict();
        }
    }

    fn remove(&self, key: &str) {
        let mut shard = self.lock(shard_of(key));
        let removed = shard.map.remove(key);
        if let Some(entry) = &removed {
            self.removed(&mut shard, entry);
        }
        drop(shard);
        drop(removed);
    }

    fn lock_order(&self) -> MutexGuard<'_, VecDeque<(Arc<str>, u64)>> {
        self.order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a write for eviction; compacts the queue once stale positions dominate.
    fn record_write(&self, key: Arc<str>, seq: u64) {
        let mut order = self.lock_order();
        order.push_back((key, seq));
        if order.len() > 2 * self.entries.load(Ordering::Relaxed) + 64 {
            order.retain(|(key, seq)| self.is_current(key, *seq));
        }
    }

    fn is_current(&self, key: &str, seq: u64) -> bool {
        self.lock(shard_of(key))
            .map
            .get(key)
            .is_some_and(|e| e.seq == seq)
    }

    /// Evicts the oldest-written entries until within bounds.
    fn evict(&self) {
        while self.over_bound() {
            let Some((key, seq)) = self.lock_order().pop_front() else {
                return;
            };
            let mut shard = self.lock(shard_of(&key));
            if shard.map.get(&key).is_some_and(|e| e.seq == seq)
                && let Some(entry) = shard.map.remove(&key)
            {
                self.removed(&mut shard, &entry);
            }
        }
    }

    fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut removed = 0;
        for index in 0..SHARDS {
            let mut guard = self.lock(index);
            let shard = &mut *guard;
            let bounded = self.bounded();
            let mut freed = 0;
            shard.map.retain(|_, entry| {
                if entry.is_expired(now) {
                    if bounded {
                        self.entries.fetch_sub(1, Ordering::Relaxed);
                        self.bytes.fetch_sub(entry.size, Ordering::Relaxed);
                    }
                    freed += entry.size;
                    removed += 1;
                    false
                } else {
                    true
                }
            });
            shard.bytes -= freed;
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

/// What a write brings: envelope text, or a value to copy.
enum New<'a> {
    Text(Arc<str>),
    Value(&'a Value),
}

impl New<'_> {
    fn into_stored(self) -> Stored {
        match self {
            New::Text(text) => Stored::Text(text),
            New::Value(value) => Stored::Value(Arc::new(value.clone())),
        }
    }
}

/// `*target = source.clone()`, reusing `target`'s allocations where the shapes match (the
/// common case of a key rewritten with a value of the same shape).
fn assign(target: &mut Value, source: &Value) {
    match (target, source) {
        (Value::String(target), Value::String(source)) => target.clone_from(source),
        (Value::Array(target), Value::Array(source)) => {
            target.truncate(source.len());
            for (target, source) in target.iter_mut().zip(source) {
                assign(target, source);
            }
            let reused = target.len();
            target.extend(source[reused..].iter().cloned());
        }
        (Value::Object(target), Value::Object(source))
            if target.len() == source.len() && target.keys().eq(source.keys()) =>
        {
            for ((_, target), (_, source)) in target.iter_mut().zip(source) {
                assign(target, source);
            }
        }
        (target, source) => *target = source.clone(),
    }
}

/// A stored value taken out of the map (reference-counted, so the lock is held briefly).
enum StoredRef {
    Value(Arc<Value>),
    Text(Arc<str>),
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
        let found = Self::with_key(plugin_id, key, |key| self.inner.get(key));
        Ok(found.map(|(stored, expires_ms)| match stored {
            StoredRef::Text(text) => text.to_string(),
            StoredRef::Value(value) => envelope::encode(&value, expires_ms),
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
        let new = New::Text(envelope.into());
        Self::with_key(plugin_id, key, |key| {
            self.inner.insert(key, new, ttl, None, size);
        });
        Ok(())
    }

    async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError> {
        Self::with_key(plugin_id, key, |key| self.inner.remove(key));
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
            let drained: Vec<Entry> = shard.map.drain().map(|(_, e)| e).collect();
            for entry in &drained {
                self.inner.removed(&mut shard, entry);
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
        let (stored, _) = Self::with_key(plugin_id, key, |key| self.inner.get(key))?;
        match stored {
            StoredRef::Value(value) => Some(value),
            StoredRef::Text(text) => {
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
        value: &Value,
        ttl: Option<Duration>,
        expires_ms: Option<u64>,
    ) {
        if ttl.is_some() {
            self.start_sweeper();
        }
        let size = estimated_len(value);
        Self::with_key(plugin_id, key, |key| {
            self.inner
                .insert(key, New::Value(value), ttl, expires_ms, size);
        });
    }

    fn delete_value(&self, plugin_id: &str, key: &str) {
        Self::with_key(plugin_id, key, |key| self.inner.remove(key));
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
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Ok(MemoryStore {
            inner: Arc::new(Inner {
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

    /// Bytes of keys and envelopes held.
    pub fn size_bytes(&self) -> usize {
        self.inner.total_bytes()
    }

    /// Removes every expired entry now (the sweeper does this periodically); returns how many.
    pub fn sweep(&self) -> usize {
        self.inner.sweep()
    }

    /// Runs `f` with the physical key `P:K`, built in a reused per-thread buffer.
    fn with_key<R>(plugin_id: &str, key: &str, f: impl FnOnce(&str) -> R) -> R {
        thread_local! {
            static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
        }
        BUFFER.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut buffer) => {
                buffer.clear();
                buffer.push_str(plugin_id);
                buffer.push(':');
                buffer.push_str(key);
                f(&buffer)
            }
            // Re-entered (cannot happen: `f` never calls back); fall back to a fresh string.
            Err(_) => f(&format!("{plugin_id}:{key}")),
        })
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
    use serde_json::json;

    #[test]
    fn assign_copies_whatever_the_shapes() {
        let cases = [
            (
                json!({ "a": [1, "x"], "b": "s" }),
                json!({ "a": [2, "yy", 3], "b": "t" }),
            ),
            (json!({ "a": 1 }), json!({ "b": 1 })),
            (json!([1, 2, 3]), json!([4])),
            (json!("s"), json!({ "now": "object" })),
            (json!(null), json!([null, { "k": ":v" }])),
        ];
        for (mut target, source) in cases {
            assign(&mut target, &source);
            assert_eq!(target, source);
            // Member order follows the source too.
            assert_eq!(serde_json::to_string(&target).unwrap(), source.to_string());
        }
    }

    #[tokio::test]
    async fn both_views_see_the_same_entries() {
        let store = MemoryStore::new();
        store.set_value("p", "a", &json!({ "x": ":y" }), None, Some(5));
        assert_eq!(
            store.get("p", "a").await.unwrap().as_deref(),
            Some(r#"{"value":{"x":"::y"},"expires":5}"#)
        );
        store
            .set("p", "b", r#"{"value":[1]}"#.into(), None)
            .await
            .unwrap();
        assert_eq!(store.get_value("p", "b").as_deref(), Some(&json!([1])));
        store
            .set("p", "old", r#"{"value":1,"expires":1}"#.into(), None)
            .await
            .unwrap();
        assert_eq!(store.get_value("p", "old"), None);
        store.delete_value("p", "a");
        assert_eq!(store.get("p", "a").await.unwrap(), None);
        let size = estimated_len(&json!({ "x": ":y" }));
        assert!(size >= r#"{"value":{"x":"::y"}}"#.len(), "{size}");
    }

    fn envelope(n: usize) -> String {
        format!("{{\"value\":{n}}}")
    }

    #[tokio::test]
    async fn keys_are_plugin_colon_key() {
        let store = MemoryStore::new();
        store.set("a", "Yg==", envelope(1), None).await.unwrap();
        assert_eq!(store.get("a", "Yg==").await.unwrap(), Some(envelope(1)));
        assert_eq!(store.get("b", "Yg==").await.unwrap(), None);
        let physical = MemoryStore::with_key("a", "Yg==", str::to_owned);
        assert_eq!(physical, "a:Yg==");
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
