//! The change feed of final entities: every write of a final entity carries a fresh `seq`,
//! every deletion leaves a tombstone with one.
//!
//! `seq` values come from the single row of `catalog_feed_counter`, updated as the **last**
//! statements of a transaction before it commits. The row lock serialises those tails, so
//! the transaction that takes seq values later also commits later: a reader polling
//! `seq > last_seen` never misses a row committed afterwards with a smaller seq (on
//! PostgreSQL this is what an advisory lock plus a sequence would give, in one statement; on
//! SQLite there is one writer anyway).

use std::time::Duration;

use crate::error::Result;
use crate::model::FinalEntityChange;

use super::{CatalogStore, Column, Tx, byte_chunks, duration_ms, now_ms, write_tx};

/// Takes `n` seq values; returns the first. Hold no other locks you have not taken yet:
/// call this last in a transaction.
pub(crate) async fn allocate_seq(store: &CatalogStore, tx: &mut Tx, n: usize) -> Result<i64> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let mut sql = store.sql("allocating change feed positions");
    sql.push("UPDATE catalog_feed_counter SET value = value + ")
        .bind_int(n)
        .push(" WHERE id = 1 RETURNING value");
    let rows: Vec<(i64,)> = tx.fetch(sql).await?;
    let last = rows.first().map_or(n, |(v,)| *v);
    Ok(last - n + 1)
}

/// Records deletions in the feed. Call last in the transaction that deleted the rows.
pub(crate) async fn write_tombstones(
    store: &CatalogStore,
    tx: &mut Tx,
    deleted: &[(String, String)],
    now: i64,
) -> Result<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let first = allocate_seq(store, tx, deleted.len()).await?;
    let mut base = first;
    for chunk in byte_chunks(deleted, |(id, r)| id.len() + r.len()) {
        let mut sql = store.sql("writing tombstones");
        sql.push(
            "INSERT INTO final_entity_tombstones (seq, entity_id, entity_ref, deleted_at) \
             SELECT x_seq, x_id, x_ref, ",
        )
        .bind_int(now)
        .push(" FROM ")
        .push_rows(
            "x",
            vec![
                (
                    "x_seq",
                    Column::Int((0..chunk.len()).map(|i| base + i as i64).collect()),
                ),
                (
                    "x_id",
                    Column::Text(chunk.iter().map(|(id, _)| id.clone()).collect()),
                ),
                (
                    "x_ref",
                    Column::Text(chunk.iter().map(|(_, r)| r.clone()).collect()),
                ),
            ],
        );
        tx.execute(sql).await?;
        base += chunk.len() as i64;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct FeedRow {
    seq: i64,
    entity_id: String,
    entity_ref: String,
    final_entity: Option<String>,
}

impl CatalogStore {
    /// Changes of the final entities after `after_seq`, in seq order, at most `limit`: the
    /// latest state of each entity written since (`json`), or a deletion (`json: None`).
    /// An entity written several times appears once, at its latest seq.
    ///
    /// A reader that fell behind [`feed_floor`](Self::feed_floor) may have missed pruned
    /// deletions and must reload everything.
    ///
    /// # Errors
    /// Database failures.
    pub async fn changes_since(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<FinalEntityChange>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut sql = self.sql("reading the change feed");
        sql.push(
            "SELECT seq, entity_id, entity_ref, final_entity FROM ( \
               SELECT seq, entity_id, entity_ref, final_entity FROM final_entities WHERE seq > ",
        )
        .bind_int(after_seq)
        .push(
            " UNION ALL \
               SELECT seq, entity_id, entity_ref, NULL AS final_entity \
               FROM final_entity_tombstones WHERE seq > ",
        )
        .bind_int(after_seq)
        .push(") c ORDER BY seq LIMIT ")
        .bind_int(limit);
        let rows: Vec<FeedRow> = self.read(sql).await?;
        Ok(rows
            .into_iter()
            .map(|r| FinalEntityChange {
                seq: r.seq,
                uid: r.entity_id,
                entity_ref: r.entity_ref,
                json: r.final_entity,
            })
            .collect())
    }

    /// The highest seq committed so far (0 for an empty feed). Read it *before* loading a
    /// snapshot, then follow [`changes_since`](Self::changes_since) from it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn current_seq(&self) -> Result<i64> {
        let mut sql = self.sql("reading the change feed position");
        sql.push("SELECT value FROM catalog_feed_counter WHERE id = 1");
        let rows: Vec<(i64,)> = self.read(sql).await?;
        Ok(rows.first().map_or(0, |(v,)| *v))
    }

    /// The highest seq of a pruned tombstone: a reader whose last seen seq is below it may
    /// have missed deletions and must reload.
    ///
    /// # Errors
    /// Database failures.
    pub async fn feed_floor(&self) -> Result<i64> {
        let mut sql = self.sql("reading the change feed floor");
        sql.push("SELECT pruned_through FROM catalog_feed_counter WHERE id = 1");
        let rows: Vec<(i64,)> = self.read(sql).await?;
        Ok(rows.first().map_or(0, |(v,)| *v))
    }

    /// Deletes tombstones older than `max_age`; returns how many.
    ///
    /// # Errors
    /// Database failures.
    pub async fn prune_tombstones(&self, max_age: Duration) -> Result<u64> {
        let cutoff = now_ms().saturating_sub(duration_ms(max_age));
        write_tx!(self, |tx| {
            let mut sql = self.sql("pruning tombstones");
            sql.push("DELETE FROM final_entity_tombstones WHERE deleted_at < ")
                .bind_int(cutoff)
                .push(" RETURNING seq");
            let rows: Vec<(i64,)> = tx.fetch(sql).await?;
            if let Some(max) = rows.iter().map(|(s,)| *s).max() {
                let mut sql = self.sql("recording the change feed floor");
                sql.push(
                    "UPDATE catalog_feed_counter SET pruned_through = CASE WHEN pruned_through < ",
                )
                .bind_int(max)
                .push(" THEN ")
                .bind_int(max)
                .push(" ELSE pruned_through END WHERE id = 1");
                tx.execute(sql).await?;
            }
            Ok(rows.len() as u64)
        })
    }
}
