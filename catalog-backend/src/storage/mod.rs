//! The catalog's tables on the `database` crate (SQLite, PostgreSQL) and every write the
//! engine and the API run on them.
//!
//! The database is the source of truth; every replica keeps an in-memory index of the final
//! entities and follows the **change feed** ([`CatalogStore::changes_since`]) to stay
//! current. Tables follow Backstage's (spec section 5) minus `search`; see [`schema`] for
//! the differences.
//!
//! | Area | Operations |
//! |---|---|
//! | locations | [`list_locations`](CatalogStore::list_locations), [`get_location`](CatalogStore::get_location), [`find_location`](CatalogStore::find_location), [`create_location`](CatalogStore::create_location), [`update_location`](CatalogStore::update_location), [`delete_location`](CatalogStore::delete_location) |
//! | providers (4.2) | [`apply_mutation`](CatalogStore::apply_mutation), [`refresh_by_keys`](CatalogStore::refresh_by_keys), [`provider_keys`](CatalogStore::provider_keys) |
//! | processing (4.4) | [`claim_processing`](CatalogStore::claim_processing), [`write_processing_results`](CatalogStore::write_processing_results) |
//! | stitching (4.8) | [`mark_for_stitching`](CatalogStore::mark_for_stitching), [`stitch_batch`](CatalogStore::stitch_batch) |
//! | entities | [`refresh_entity`](CatalogStore::refresh_entity), [`reprocess_now`](CatalogStore::reprocess_now), [`delete_entity_by_uid`](CatalogStore::delete_entity_by_uid), [`ancestry`](CatalogStore::ancestry), [`delete_orphans`](CatalogStore::delete_orphans) |
//! | change feed | [`changes_since`](CatalogStore::changes_since), [`current_seq`](CatalogStore::current_seq), [`feed_floor`](CatalogStore::feed_floor), [`prune_tombstones`](CatalogStore::prune_tombstones), [`subscribe_feed`](CatalogStore::subscribe_feed) |
//!
//! Batches are set-based: a batch of any size is a handful of statements (`UNNEST` arrays on
//! PostgreSQL, `json_each` on SQLite), never one statement per entity. Write transactions are
//! retried with back-off on PostgreSQL deadlocks (`40P01`) and serialization failures; on
//! SQLite they begin `IMMEDIATE` and a per-store lock serialises this process's writers.
//!
//! Timestamps are taken from this process's clock (milliseconds since the epoch); replicas are
//! expected to run with synchronised clocks, as leases are 100 s and more.

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("backstage-catalog-backend needs the `sqlite` or the `postgres` feature");

mod entities;
mod feed;
mod hash;
mod locations;
pub(crate) mod processing;
mod provider;
pub mod schema;
mod sql;
mod stitch;

use std::sync::Arc;

use backstage_database::{DatabaseClient, Engine};
use tokio::sync::watch;

use crate::error::{CatalogError, Result};
use crate::model::DeferredEntity;

pub use processing::{ClaimedEntity, ProcessedEntity, ProcessingReport};
pub use stitch::StitchReport;

pub(crate) use sql::{Column, Dialect, Sql, Tx};

/// Transactions are attempted this many times when they hit a deadlock.
const MAX_ATTEMPTS: u32 = 5;

/// Statements write at most this many rows each.
const CHUNK: usize = 5000;

/// Statements carry about this many bytes of bound text at most (ids, refs, keys, entity
/// documents): sqlx keeps each pooled connection's write buffer at the size of the largest
/// message it ever sent, so this bounds the memory every connection holds on to. (5,000
/// relation rows made ~1 MiB statements, and 6.6 MiB of buffers stayed behind at 10,000
/// entities.)
const CHUNK_BYTES: usize = 64 * 1024;

/// What a bound row costs beyond its text (array element length prefixes and the like).
const ROW_OVERHEAD: usize = 8;

/// Splits `items` into runs of at most [`CHUNK`] items and about [`CHUNK_BYTES`] by `size`
/// plus [`ROW_OVERHEAD`] per item (an item larger than that gets a run of its own).
fn byte_chunks<T>(items: &[T], size: impl Fn(&T) -> usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        while n < rest.len() && n < CHUNK {
            bytes += size(&rest[n]) + ROW_OVERHEAD;
            if n > 0 && bytes > CHUNK_BYTES {
                break;
            }
            n += 1;
        }
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// [`byte_chunks`] for lists of strings (ids, refs, keys).
fn text_chunks<S: AsRef<str>>(items: &[S]) -> impl Iterator<Item = &[S]> {
    byte_chunks(items, |s| s.as_ref().len())
}

/// Runs `$body` in a write transaction, committing on `Ok`, retrying the whole body on
/// deadlocks and serialization failures. The body must only borrow its inputs.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut transaction = $store.begin_write().await?;
            let outcome: $crate::Result<_> = {
                let $tx = &mut transaction;
                async { $body }.await
            };
            let error = match outcome {
                Ok(value) => match transaction.commit().await {
                    Ok(()) => break Ok(value),
                    Err(e) => e,
                },
                Err(e) => {
                    transaction.rollback().await;
                    e
                }
            };
            if attempt >= $crate::storage::MAX_ATTEMPTS || !$crate::storage::sql::is_retryable(&error)
            {
                break Err(error);
            }
            tracing::debug!(%error, attempt, "retrying catalog transaction");
            $store
                .retries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep($crate::storage::sql::backoff(attempt)).await;
        }
    }};
}
pub(crate) use write_tx;

/// A provider's change to its bucket of entities (spec 4.2).
#[derive(Debug, Clone, PartialEq)]
pub enum EntityMutation {
    /// Replace the provider's whole bucket.
    Full {
        /// Every entity the provider now provides.
        entities: Vec<DeferredEntity>,
    },
    /// Add or update some entities and remove others.
    Delta {
        /// Entities added or changed.
        added: Vec<DeferredEntity>,
        /// Entities the provider no longer provides.
        removed: Vec<RemovedEntity>,
    },
}

/// An entity a provider removes from its bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedEntity {
    /// Its ref (canonicalised to lower case).
    pub entity_ref: String,
    /// Its location key, if the provider knows it (informative).
    pub location_key: Option<String>,
}

impl RemovedEntity {
    /// A removal by ref.
    pub fn new(entity_ref: impl Into<String>) -> Self {
        Self {
            entity_ref: entity_ref.into(),
            location_key: None,
        }
    }
}

/// Wake-ups between the store and the loops that follow it (counters on `watch` channels,
/// so a change between a poll and the wait is never missed).
#[derive(Debug)]
struct Signals {
    processing: watch::Sender<u64>,
    stitching: watch::Sender<u64>,
    feed: watch::Sender<u64>,
}

impl Signals {
    fn new() -> Self {
        Self {
            processing: watch::channel(0).0,
            stitching: watch::channel(0).0,
            feed: watch::channel(0).0,
        }
    }
}

fn bump(sender: &watch::Sender<u64>) {
    sender.send_modify(|n| *n = n.wrapping_add(1));
}

/// The catalog's storage.
#[derive(Debug, Clone)]
pub struct CatalogStore {
    client: DatabaseClient,
    dialect: Dialect,
    /// Serialises this process's SQLite write transactions (a shared-cache in-memory
    /// database answers concurrent writers with `SQLITE_LOCKED`, which no busy timeout
    /// covers).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    writer: Arc<tokio::sync::Mutex<()>>,
    signals: Arc<Signals>,
    /// Write transactions retried after a deadlock or serialization failure.
    retries: Arc<std::sync::atomic::AtomicU64>,
}

impl CatalogStore {
    /// Opens the store on a plugin database and runs the catalog's migrations.
    ///
    /// # Errors
    /// [`CatalogError::Config`] on MySQL/MariaDB or an engine this build lacks; migration
    /// failures.
    pub async fn open(client: DatabaseClient) -> Result<Self> {
        let store = Self::open_without_migrations(client)?;
        schema::migrations()
            .run(&store.client)
            .await
            .map_err(|e| CatalogError::Internal(format!("catalog migrations failed: {e}")))?;
        Ok(store)
    }

    /// Opens the store without running migrations (`skipMigrations`).
    ///
    /// # Errors
    /// [`CatalogError::Config`] on MySQL/MariaDB or an engine this build lacks.
    pub fn open_without_migrations(client: DatabaseClient) -> Result<Self> {
        let dialect = match &client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(_) => Dialect::Sqlite,
            other => {
                return Err(CatalogError::Config(match other.engine() {
                    Engine::MySql => "the catalog does not support MySQL/MariaDB yet; use \
                                      PostgreSQL or SQLite"
                        .to_owned(),
                    engine => format!(
                        "this build of the catalog lacks {engine} support; enable the \
                         `{engine}` feature of backstage-catalog-backend"
                    ),
                }));
            }
        };
        Ok(Self {
            client,
            dialect,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            signals: Arc::new(Signals::new()),
            retries: Arc::default(),
        })
    }

    /// The database client.
    pub fn client(&self) -> &DatabaseClient {
        &self.client
    }

    /// Bumps whenever this process committed a change to the feed (stitched entities,
    /// deletions): an index follower can wait on it and then call
    /// [`changes_since`](Self::changes_since). Changes made by other replicas do not bump it;
    /// poll as well.
    pub fn subscribe_feed(&self) -> watch::Receiver<u64> {
        self.signals.feed.subscribe()
    }

    /// Bumps whenever this process made entities due for processing.
    pub(crate) fn subscribe_processing(&self) -> watch::Receiver<u64> {
        self.signals.processing.subscribe()
    }

    /// Bumps whenever this process queued entities for stitching.
    pub(crate) fn subscribe_stitching(&self) -> watch::Receiver<u64> {
        self.signals.stitching.subscribe()
    }

    pub(crate) fn notify_processing(&self) {
        bump(&self.signals.processing);
    }

    pub(crate) fn notify_stitching(&self) {
        bump(&self.signals.stitching);
    }

    pub(crate) fn notify_feed(&self) {
        bump(&self.signals.feed);
    }

    /// Write transactions this store (and its clones) retried after a deadlock or a
    /// serialization failure since it was opened. Work is never lost to one, but each costs
    /// PostgreSQL's `deadlock_timeout` (1 s by default) before the retry: a number that keeps
    /// growing is worth a look.
    pub fn retried_transactions(&self) -> u64 {
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A new statement in this store's dialect.
    pub(crate) fn sql(&self, what: &'static str) -> Sql {
        Sql::new(self.dialect, what)
    }

    /// Begins a write transaction (SQLite: `BEGIN IMMEDIATE` under the writer lock).
    pub(crate) async fn begin_write(&self) -> Result<Tx> {
        let err = |e| CatalogError::database("beginning a catalog transaction", e);
        match &self.client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => Ok(Tx::Pg(begin_pg(pool).await.map_err(err)?)),
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => {
                let guard = self.writer.clone().lock_owned().await;
                let tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
                Ok(Tx::Sqlite(tx, Some(guard)))
            }
            _ => Err(CatalogError::Internal(
                "catalog store on an unsupported engine".into(),
            )),
        }
    }

    /// Begins a read-only transaction (one snapshot on SQLite).
    pub(crate) async fn begin_read(&self) -> Result<Tx> {
        let err = |e| CatalogError::database("beginning a catalog read", e);
        match &self.client {
            #[cfg(feature = "postgres")]
            DatabaseClient::Postgres(pool) => Ok(Tx::Pg(begin_pg(pool).await.map_err(err)?)),
            #[cfg(feature = "sqlite")]
            DatabaseClient::Sqlite(pool) => Ok(Tx::Sqlite(pool.begin().await.map_err(err)?, None)),
            _ => Err(CatalogError::Internal(
                "catalog store on an unsupported engine".into(),
            )),
        }
    }

    /// Runs one read query in its own transaction.
    pub(crate) async fn read<R: backstage_database::query::FromDatabaseRow>(
        &self,
        sql: Sql,
    ) -> Result<Vec<R>> {
        let mut tx = self.begin_read().await?;
        let rows = tx.fetch(sql).await;
        tx.rollback().await;
        rows
    }
}

/// Begins a PostgreSQL transaction with JIT compilation off.
///
/// The catalog's statements are short lookups and batch writes keyed by indexes. While a
/// catalog grows faster than autovacuum analyzes it, the planner overestimates their cost
/// and compiles them with LLVM, which costs more (10–30 ms a statement) than running them.
#[cfg(feature = "postgres")]
async fn begin_pg(
    pool: &sqlx::PgPool,
) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    Ok(tx)
}

/// Milliseconds since the Unix epoch, from this process's clock.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Milliseconds of a duration, saturating.
pub(crate) fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Sorted, deduplicated copy of some strings.
pub(crate) fn sorted_unique<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out: Vec<String> = items.into_iter().map(Into::into).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_chunks_bound_rows_and_bytes() {
        let half = super::CHUNK_BYTES / 2 - super::ROW_OVERHEAD;
        let sizes = [half, half, half, 3 * super::CHUNK_BYTES, 10, 10];
        let runs: Vec<&[usize]> = super::byte_chunks(&sizes, |s| *s).collect();
        assert_eq!(
            runs,
            vec![&sizes[0..2], &sizes[2..3], &sizes[3..4], &sizes[4..6]]
        );
        let many = vec![1usize; super::CHUNK + 1];
        let runs: Vec<usize> = super::byte_chunks(&many, |s| *s)
            .map(<[usize]>::len)
            .collect();
        assert_eq!(runs, vec![super::CHUNK, 1]);
        assert_eq!(super::byte_chunks(&[] as &[usize], |s| *s).count(), 0);
    }

    #[test]
    fn text_chunks_bound_statement_bytes() {
        // 5,000 refs of 60 characters would be one 340 KB statement.
        let refs: Vec<String> = (0..5000)
            .map(|i| format!("component:default/{i:0>42}"))
            .collect();
        let runs: Vec<&[String]> = super::text_chunks(&refs).collect();
        assert!(runs.len() > 1);
        for run in &runs {
            let bytes: usize = run.iter().map(|r| r.len() + super::ROW_OVERHEAD).sum();
            assert!(bytes <= super::CHUNK_BYTES, "{bytes}");
        }
        assert_eq!(runs.concat(), refs);
    }
}
