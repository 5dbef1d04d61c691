//! The processing loop, the stitcher and orphan cleanup (spec 4.4, 4.8, 4.11, 4.13).
//!
//! [`CatalogEngine::spawn`] starts, as tokio tasks until its cancellation token fires:
//!
//! * `processing_workers` processing loops: each claims a batch of due entities (a lease of
//!   a random `[P, 1.5·P]`), processes the batch concurrently (one task per entity, which
//!   also serializes and hashes its result, so the work uses every core), and writes the
//!   results as they complete, in transactions of bounded size;
//! * `stitch_workers` stitch loops: each claims a batch of stitch requests, builds the final
//!   entities and writes them with their change-feed positions;
//! * the orphan cleanup every `orphan_cleanup_interval` when the strategy is `delete`;
//! * the pruning of change-feed tombstones older than `tombstone_retention`, every
//!   `min(tombstone_retention, 1 h)` (at least a second apart).
//!
//! Loops go on immediately while there is work. When idle they wait for the poll interval,
//! or less: the store wakes them when this process made work due (mutations, refreshes,
//! processing results), and wakes [`CatalogStore::subscribe_feed`] subscribers after every
//! commit that wrote to the change feed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::{ProcessingOutput, SerializedError};
use crate::processing::Orchestrator;
use crate::storage::processing::{Prepared, prepare};
use crate::storage::{CatalogStore, ProcessedEntity};

/// What processes one entity: the [`Orchestrator`] in production, anything in tests.
#[async_trait]
pub trait EntityProcessing: Send + Sync + 'static {
    /// Processes one unprocessed entity with the cache state of its previous run.
    async fn process(&self, entity: Value, cache: Value) -> ProcessingOutput;
}

#[async_trait]
impl EntityProcessing for Orchestrator {
    async fn process(&self, entity: Value, cache: Value) -> ProcessingOutput {
        Orchestrator::process(self, entity, cache).await
    }
}

pub use crate::config::OrphanStrategy;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Bounds of the random processing interval (`catalog.processingInterval` `P` gives
    /// `[P, 1.5·P]`; default 100–150 s). Also the claim lease.
    pub processing_interval: (Duration, Duration),
    /// How long idle loops wait before polling the database again (default 1 s).
    pub poll_interval: Duration,
    /// Entities claimed per processing batch (default 500); a batch's results are written
    /// in one transaction.
    pub processing_batch_size: usize,
    /// Entities of a batch being processed, or processed and waiting for a write batch, at
    /// the same time (default 100).
    pub processing_concurrency: usize,
    /// Bound of one results transaction: each result counts 1 plus 1 per emitted child
    /// (default 2000). Results of a batch are written as they complete, in transactions up
    /// to this size.
    pub write_batch_weight: usize,
    /// Concurrent processing loops (default 2).
    pub processing_workers: usize,
    /// Stitch requests claimed per batch (default 500).
    pub stitch_batch_size: usize,
    /// Concurrent stitch loops (default 2).
    pub stitch_workers: usize,
    /// The stitch lease (`catalog.stitchingStrategy.stitchTimeout`, default 60 s).
    pub stitch_timeout: Duration,
    /// `catalog.orphanStrategy`.
    pub orphan_strategy: OrphanStrategy,
    /// How often orphans are cleaned up (default 30 s).
    pub orphan_cleanup_interval: Duration,
    /// How long deletions stay in the change feed (`catalog.tombstoneRetention`, default
    /// 24 h). Replicas further behind reload their index.
    pub tombstone_retention: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            processing_interval: (Duration::from_secs(100), Duration::from_secs(150)),
            poll_interval: Duration::from_secs(1),
            processing_batch_size: 500,
            processing_concurrency: 100,
            write_batch_weight: 2000,
            processing_workers: 2,
            stitch_batch_size: 500,
            stitch_workers: 2,
            stitch_timeout: Duration::from_secs(60),
            orphan_strategy: OrphanStrategy::Delete,
            orphan_cleanup_interval: Duration::from_secs(30),
            tombstone_retention: Duration::from_secs(24 * 3600),
        }
    }
}

impl EngineOptions {
    /// Sets the processing interval from `catalog.processingInterval`: `[P, 1.5·P]`, at
    /// least one second.
    pub fn with_processing_interval(mut self, p: Duration) -> Self {
        let p = p.max(Duration::from_secs(1));
        self.processing_interval = (p, p.mul_f64(1.5));
        self
    }
}

/// A uniformly random duration in `[min, max]`.
fn random_between(min: Duration, max: Duration) -> Duration {
    if max <= min {
        return min;
    }
    let fraction = (uuid::Uuid::new_v4().as_u128() >> 64) as f64 / u64::MAX as f64;
    min + (max - min).mul_f64(fraction.clamp(0.0, 1.0))
}

/// The catalog's background work on one replica.
#[derive(Clone)]
pub struct CatalogEngine {
    store: Arc<CatalogStore>,
    processor: Arc<dyn EntityProcessing>,
    options: EngineOptions,
}

impl std::fmt::Debug for CatalogEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogEngine")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CatalogEngine {
    /// An engine running `orchestrator` on the store's due entities.
    pub fn new(
        store: Arc<CatalogStore>,
        orchestrator: Arc<Orchestrator>,
        options: EngineOptions,
    ) -> Self {
        Self::with_processing(store, orchestrator, options)
    }

    /// An engine with any [`EntityProcessing`].
    pub fn with_processing(
        store: Arc<CatalogStore>,
        processor: Arc<dyn EntityProcessing>,
        options: EngineOptions,
    ) -> Self {
        Self {
            store,
            processor,
            options,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<CatalogStore> {
        &self.store
    }

    /// Bumps after every commit of this process that wrote to the change feed.
    pub fn subscribe_feed(&self) -> watch::Receiver<u64> {
        self.store.subscribe_feed()
    }

    /// Starts the loops; they run until `cancel` fires (a batch in flight is finished
    /// first). The handle completes when every loop has stopped.
    pub fn spawn(&self, cancel: CancellationToken) -> JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..engine.options.processing_workers.max(1) {
                tasks.spawn(engine.clone().processing_loop(cancel.clone()));
            }
            for _ in 0..engine.options.stitch_workers.max(1) {
                tasks.spawn(engine.clone().stitch_loop(cancel.clone()));
            }
            if engine.options.orphan_strategy == OrphanStrategy::Delete {
                tasks.spawn(engine.clone().orphan_loop(cancel.clone()));
            }
            tasks.spawn(engine.clone().tombstone_loop(cancel.clone()));
            while let Some(result) = tasks.join_next().await {
                if let Err(error) = result {
                    tracing::error!(%error, "a catalog engine loop failed");
                }
            }
        })
    }

    /// Waits until `wake` changes, the poll interval passes, or `cancel` fires; `false` on
    /// cancellation.
    async fn idle(&self, wake: &mut watch::Receiver<u64>, cancel: &CancellationToken) -> bool {
        tokio::select! {
            () = cancel.cancelled() => false,
            _ = wake.changed() => true,
            () = tokio::time::sleep(self.options.poll_interval) => true,
        }
    }

    /// Claims, processes and writes one batch; the number of entities claimed.
    ///
    /// # Errors
    /// Database failures while claiming or writing (claims are released after a failed
    /// write).
    pub async fn process_once(&self) -> crate::Result<usize> {
        let (min, max) = self.options.processing_interval;
        let started = std::time::Instant::now();
        let claimed = self
            .store
            .claim_processing(self.options.processing_batch_size, random_between(min, max))
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let count = claimed.len();
        tracing::debug!(
            count,
            claim_ms = crate::storage::duration_ms(started.elapsed()),
            "claimed entities for processing"
        );
        let permits = Arc::new(tokio::sync::Semaphore::new(
            self.options.processing_concurrency.max(1),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for mut claimed in claimed {
            let entity = std::mem::take(&mut claimed.unprocessed_entity);
            let cache = claimed.cache.clone();
            let processor = self.processor.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                // Held until the result is taken into a write batch, so finished results
                // waiting for a write count against the concurrency too.
                let permit = permits.acquire_owned().await;
                let run = std::panic::AssertUnwindSafe(processor.process(entity, cache));
                let output = match futures_util::FutureExt::catch_unwind(run).await {
                    Ok(output) => output,
                    Err(_) => ProcessingOutput {
                        ok: false,
                        errors: vec![SerializedError::new(
                            "Error",
                            format!("Processing of {} panicked", claimed.entity_ref),
                        )],
                        cache: Value::Null,
                        ..ProcessingOutput::default()
                    },
                };
                // Serializing here keeps only compact text in memory and spreads the work
                // over the runtime's threads.
                (prepare(ProcessedEntity { claimed, output }), permit)
            });
        }
        // Results are written as they complete, in transactions of bounded size (an entity
        // counts once plus once per emitted child), so a batch of large locations never sits
        // in memory all at once.
        let mut pending: Vec<Prepared> = Vec::new();
        let mut weight = 0;
        let mut first_error = None;
        loop {
            let next = tasks.join_next().await;
            let done = next.is_none();
            match next {
                Some(Ok((item, permit))) => {
                    drop(permit);
                    weight += item.weight();
                    pending.push(item);
                }
                Some(Err(error)) => {
                    // Only a cancelled runtime gets here; the lease brings the entity back.
                    tracing::warn!(%error, "a processing task failed");
                }
                None => {}
            }
            if pending.is_empty() || !(done || weight >= self.options.write_batch_weight.max(1)) {
                if done {
                    break;
                }
                continue;
            }
            let batch = std::mem::take(&mut pending);
            weight = 0;
            let ids: Vec<String> = batch.iter().map(|r| r.entity_id().to_owned()).collect();
            let write_started = std::time::Instant::now();
            let result = self.store.write_prepared_results(batch).await;
            tracing::debug!(
                count = ids.len(),
                since_claim_ms = crate::storage::duration_ms(started.elapsed()),
                write_ms = crate::storage::duration_ms(write_started.elapsed()),
                "wrote processing results"
            );
            if let Err(error) = result {
                if let Err(release) = self.store.release_claims(&ids).await {
                    tracing::warn!(error = %release, "failed to release processing claims");
                }
                first_error.get_or_insert(error);
            }
            if done {
                break;
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(count),
        }
    }

    /// Stitches one batch; the number of requests claimed.
    ///
    /// # Errors
    /// Database failures.
    pub async fn stitch_once(&self) -> crate::Result<usize> {
        let report = self
            .store
            .stitch_batch(self.options.stitch_batch_size, self.options.stitch_timeout)
            .await?;
        Ok(report.claimed)
    }

    async fn processing_loop(self, cancel: CancellationToken) {
        let mut wake = self.store.subscribe_processing();
        while !cancel.is_cancelled() {
            wake.borrow_and_update();
            match self.process_once().await {
                Ok(0) => {
                    if !self.idle(&mut wake, &cancel).await {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "catalog processing failed");
                    if !self.idle(&mut wake, &cancel).await {
                        break;
                    }
                }
            }
        }
    }

    async fn stitch_loop(self, cancel: CancellationToken) {
        let mut wake = self.store.subscribe_stitching();
        while !cancel.is_cancelled() {
            wake.borrow_and_update();
            match self.stitch_once().await {
                Ok(0) => {
                    if !self.idle(&mut wake, &cancel).await {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "catalog stitching failed");
                    if !self.idle(&mut wake, &cancel).await {
                        break;
                    }
                }
            }
        }
    }

    async fn orphan_loop(self, cancel: CancellationToken) {
        let store = self.store.clone();
        every(self.options.orphan_cleanup_interval, cancel, move || {
            let store = store.clone();
            async move {
                match store.delete_orphans().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("Deleted {n} orphaned entities"),
                    Err(error) => tracing::warn!(%error, "Failed to delete orphaned entities"),
                }
            }
        })
        .await;
    }

    async fn tombstone_loop(self, cancel: CancellationToken) {
        let retention = self.options.tombstone_retention;
        let period = retention
            .min(Duration::from_secs(3600))
            .max(Duration::from_secs(1));
        let store = self.store.clone();
        every(period, cancel, move || {
            let store = store.clone();
            async move {
                match store.prune_tombstones(retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(count = n, "pruned change-feed tombstones"),
                    Err(error) => tracing::warn!(%error, "failed to prune change-feed tombstones"),
                }
            }
        })
        .await;
    }
}

/// Runs `task` every `period` (at least a millisecond; the first run one period after the
/// start, late runs delayed rather than bunched) until `cancel` fires.
async fn every<F, Fut>(period: Duration, cancel: CancellationToken, mut task: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut interval = tokio::time::interval(period.max(Duration::from_millis(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = interval.tick() => {}
        }
        task().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_interval_stays_in_bounds() {
        let (min, max) = (Duration::from_secs(100), Duration::from_secs(150));
        for _ in 0..100 {
            let d = random_between(min, max);
            assert!(d >= min && d <= max);
        }
        assert_eq!(random_between(max, min), max);
        let o = EngineOptions::default().with_processing_interval(Duration::from_millis(10));
        assert_eq!(
            o.processing_interval,
            (Duration::from_secs(1), Duration::from_millis(1500))
        );
    }
}
