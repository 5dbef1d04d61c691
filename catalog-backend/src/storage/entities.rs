//! Operations on single entities: explicit deletion (3.6), refresh (3.9), ancestry (3.8), and
//! orphan cleanup (4.11).

use std::collections::HashSet;

use crate::error::{CatalogError, Result};

use super::feed::write_tombstones;
use super::stitch::mark_in_tx;
use super::{CHUNK, CatalogStore, Tx, now_ms, sorted_unique, write_tx};

/// Ancestry walks stop after this many levels (Backstage's `MAX_ANCESTOR_DEPTH`).
const MAX_ANCESTOR_DEPTH: usize = 32;

/// Orphan cleanup runs at most this many rounds per call.
const MAX_ORPHAN_ROUNDS: usize = 100;

/// Deletes processing rows by ref (everything derived cascades), first queueing for
/// stitching the entities whose relations point at them and their surviving children (whose
/// orphan status may change). With `orphans_only`, rows that gained an incoming edge in the
/// meantime are kept. Returns the deleted `(entity_id, entity_ref)` pairs and whether
/// anything was queued for stitching; the caller writes the tombstones last.
pub(crate) async fn delete_rows(
    store: &CatalogStore,
    tx: &mut Tx,
    refs: &[String],
    now: i64,
) -> Result<(Vec<(String, String)>, bool)> {
    delete_rows_inner(store, tx, refs, now, false).await
}

async fn delete_rows_inner(
    store: &CatalogStore,
    tx: &mut Tx,
    refs: &[String],
    now: i64,
    orphans_only: bool,
) -> Result<(Vec<(String, String)>, bool)> {
    if refs.is_empty() {
        return Ok((Vec::new(), false));
    }
    let doomed: HashSet<&str> = refs.iter().map(String::as_str).collect();
    let mut sql = store.sql("finding entities affected by a deletion");
    sql.push("SELECT DISTINCT source_entity_ref FROM relations WHERE ")
        .push_in("target_entity_ref", refs)
        .push(
            " UNION SELECT DISTINCT target_entity_ref FROM refresh_state_references \
             WHERE ",
        )
        .push_in("source_entity_ref", refs);
    let peers: Vec<(String,)> = tx.fetch(sql).await?;
    let peers: Vec<String> = sorted_unique(
        peers
            .into_iter()
            .map(|(r,)| r)
            .filter(|r| !doomed.contains(r.as_str())),
    );

    let mut sql = store.sql("deleting entities");
    sql.push("DELETE FROM refresh_state WHERE ")
        .push_in("entity_ref", refs);
    if orphans_only {
        sql.push(
            " AND NOT EXISTS (SELECT 1 FROM refresh_state_references r \
             WHERE r.target_entity_ref = refresh_state.entity_ref)",
        );
    }
    sql.push(" RETURNING entity_id, entity_ref");
    let deleted: Vec<(String, String)> = tx.fetch(sql).await?;

    let mut sql = store.sql("dropping stitch requests of deleted entities");
    sql.push("DELETE FROM stitch_queue WHERE ")
        .push_in("entity_ref", refs);
    tx.execute(sql).await?;
    if !peers.is_empty() {
        mark_in_tx(store, tx, &peers, now).await?;
    }
    Ok((deleted, !peers.is_empty()))
}

impl CatalogStore {
    /// Deletes an entity by uid (spec 3.6, 4.11): its processing row and everything derived
    /// go; parents get `result_hash = 'child-was-deleted'` and are due now (so a parent that
    /// still emits it recreates it); relation peers are re-stitched. Returns whether an
    /// entity was deleted (an unknown uid is not an error).
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_entity_by_uid(&self, uid: &str) -> Result<bool> {
        let deleted = write_tx!(self, |tx| {
            let now = now_ms();
            let mut sql = self.sql("reading an entity by uid");
            sql.push("SELECT entity_ref FROM refresh_state WHERE entity_id = ")
                .bind_text(uid);
            let Some((entity_ref,)) = tx.fetch::<(String,)>(sql).await?.into_iter().next() else {
                return Ok(false);
            };
            let mut sql = self.sql("rescheduling parents of a deleted entity");
            sql.push(
                "UPDATE refresh_state SET result_hash = 'child-was-deleted', next_update_at = ",
            )
            .bind_int(now)
            .push(
                " WHERE entity_ref IN (SELECT source_entity_ref FROM refresh_state_references \
                 WHERE target_entity_ref = ",
            )
            .bind_text(&entity_ref)
            .push(" AND source_entity_ref IS NOT NULL)");
            tx.execute(sql).await?;
            let (deleted, _) =
                delete_rows(self, tx, std::slice::from_ref(&entity_ref), now).await?;
            write_tombstones(self, tx, &deleted, now).await?;
            Ok(!deleted.is_empty())
        })?;
        if deleted {
            self.notify_processing();
            self.notify_stitching();
            self.notify_feed();
        }
        Ok(deleted)
    }

    /// Schedules an entity and every Location entity above it for processing now (spec
    /// 3.9), in one transaction.
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] `Entity <ref> not found` (no incoming edge: unknown or
    /// orphan), `Entity <ref> has a broken parent reference chain at <ref>`, `Failed to
    /// schedule <ref> for refresh`; [`CatalogError::Internal`] beyond 32 levels; database
    /// failures.
    pub async fn refresh_entity(&self, entity_ref: &str) -> Result<()> {
        let root = entity_ref.to_lowercase();
        write_tx!(self, |tx| {
            let now = now_ms();
            let mut ancestors: Vec<String> = Vec::new();
            let mut current = root.clone();
            let mut reached_top = false;
            for depth in 1..=MAX_ANCESTOR_DEPTH {
                let mut sql = self.sql("reading parents");
                sql.push(
                    "SELECT source_entity_ref FROM refresh_state_references \
                     WHERE target_entity_ref = ",
                )
                .bind_text(&current)
                .push(" ORDER BY id");
                let rows: Vec<(Option<String>,)> = tx.fetch(sql).await?;
                if rows.is_empty() {
                    return Err(CatalogError::NotFound(if depth == 1 {
                        format!("Entity {current} not found")
                    } else {
                        format!(
                            "Entity {entity_ref} has a broken parent reference chain at {current}"
                        )
                    }));
                }
                match rows.into_iter().find_map(|(r,)| r) {
                    None => {
                        reached_top = true;
                        break;
                    }
                    Some(parent) => {
                        ancestors.push(parent.clone());
                        current = parent;
                    }
                }
            }
            if !reached_top {
                return Err(CatalogError::Internal(format!(
                    "Unable receive ancestors for {entity_ref}, reached maximum depth of \
                     {MAX_ANCESTOR_DEPTH}"
                )));
            }
            let locations: Vec<String> = ancestors
                .into_iter()
                .filter(|r| r.starts_with("location:"))
                .collect();
            for target in locations.iter().chain(std::iter::once(&root)) {
                let mut sql = self.sql("scheduling an entity for refresh");
                sql.push("UPDATE refresh_state SET next_update_at = ")
                    .bind_int(now)
                    .push(" WHERE entity_ref = ")
                    .bind_text(target);
                if tx.execute(sql).await? == 0 {
                    return Err(CatalogError::NotFound(format!(
                        "Failed to schedule {target} for refresh"
                    )));
                }
            }
            Ok(())
        })?;
        self.notify_processing();
        Ok(())
    }

    /// Forces an entity to be processed again now, even if its output is unchanged (clears
    /// its result hash). Used when a location is registered again with
    /// `onConflict=refresh` (spec 4.12). Returns whether the entity exists.
    ///
    /// # Errors
    /// Database failures.
    pub async fn reprocess_now(&self, entity_ref: &str) -> Result<bool> {
        let entity_ref = entity_ref.to_lowercase();
        let n = write_tx!(self, |tx| {
            let mut sql = self.sql("forcing reprocessing");
            sql.push("UPDATE refresh_state SET result_hash = NULL, next_update_at = ")
                .bind_int(now_ms())
                .push(" WHERE entity_ref = ")
                .bind_text(&entity_ref);
            tx.execute(sql).await
        })?;
        if n > 0 {
            self.notify_processing();
        }
        Ok(n > 0)
    }

    /// The "emitted-by" ancestry of an entity (spec 3.8): the root first, then parents found
    /// depth-first with a stack, each once; only parents that are final entities are listed.
    /// Each item is `(entity_ref, parent_refs)`.
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] `No such entity <ref>` when the root is not a final entity;
    /// database failures.
    pub async fn ancestry(&self, entity_ref: &str) -> Result<Vec<(String, Vec<String>)>> {
        let root = entity_ref.to_lowercase();
        let mut tx = self.begin_read().await?;
        let result = async {
            let mut sql = self.sql("reading a final entity");
            sql.push(
                "SELECT entity_ref FROM final_entities WHERE final_entity IS NOT NULL \
                 AND entity_ref = ",
            )
            .bind_text(&root);
            if tx.fetch::<(String,)>(sql).await?.is_empty() {
                return Err(CatalogError::NotFound(format!("No such entity {root}")));
            }
            let mut seen: HashSet<String> = HashSet::from([root.clone()]);
            let mut todo: Vec<String> = Vec::new();
            let mut items = Vec::new();
            let mut current = Some(root.clone());
            while let Some(node) = current {
                let mut sql = self.sql("reading parents");
                sql.push(
                    "SELECT r.source_entity_ref FROM refresh_state_references r \
                     JOIN final_entities f ON f.entity_ref = r.source_entity_ref \
                     WHERE f.final_entity IS NOT NULL AND r.target_entity_ref = ",
                )
                .bind_text(&node)
                .push(" ORDER BY r.id");
                let parents: Vec<(String,)> = tx.fetch(sql).await?;
                let mut refs = Vec::with_capacity(parents.len());
                for (parent,) in parents {
                    if seen.insert(parent.clone()) {
                        todo.push(parent.clone());
                    }
                    refs.push(parent);
                }
                items.push((node, refs));
                current = todo.pop();
            }
            Ok(items)
        }
        .await;
        tx.rollback().await;
        result
    }

    /// Deletes orphans (processing rows without incoming edges), repeatedly so their
    /// children go too (up to 100 rounds), re-stitching relation peers (spec 4.11). Returns
    /// how many entities were deleted.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_orphans(&self) -> Result<usize> {
        let mut total = 0;
        for _ in 0..MAX_ORPHAN_ROUNDS {
            let deleted = write_tx!(self, |tx| {
                let now = now_ms();
                let mut sql = self.sql("finding orphans");
                sql.push(
                    "SELECT entity_ref FROM refresh_state rs WHERE NOT EXISTS \
                     (SELECT 1 FROM refresh_state_references r \
                      WHERE r.target_entity_ref = rs.entity_ref) LIMIT ",
                )
                .bind_int(CHUNK as i64);
                let orphans: Vec<(String,)> = tx.fetch(sql).await?;
                let orphans = sorted_unique(orphans.into_iter().map(|(r,)| r));
                let (deleted, _) = delete_rows_inner(self, tx, &orphans, now, true).await?;
                write_tombstones(self, tx, &deleted, now).await?;
                Ok(deleted.len())
            })?;
            if deleted == 0 {
                break;
            }
            total += deleted;
            self.notify_stitching();
            self.notify_processing();
            self.notify_feed();
        }
        Ok(total)
    }
}
