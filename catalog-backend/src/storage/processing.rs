//! The processing side of the store (spec 4.4): claiming due entities with a lease, and
//! writing a batch of processing results in one transaction.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::model::{ProcessingOutput, RelationRow, SerializedError};

use sha1::{Digest, Sha1};

use super::hash::{hex, refresh_key, stable_stringify, stable_stringify_into};
use super::provider::{
    KEY_MATCH, UnprocessedRow, insert_unprocessed, location_keys, update_unprocessed, warn_conflict,
};
use super::stitch::mark_in_tx;
use super::{
    CatalogStore, Column, Dialect, Tx, byte_chunks, duration_ms, now_ms, sorted_unique,
    text_chunks, write_tx,
};

/// Processor cache entries survive this many failed runs (Backstage's `CACHE_TTL`).
const CACHE_TTL: i64 = 5;

/// An entity claimed for processing: its unprocessed document and the state of its last
/// run.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEntity {
    /// The processing row id, which is the entity's `metadata.uid`.
    pub entity_id: String,
    /// Canonical ref.
    pub entity_ref: String,
    /// The entity as its provider or parent emitted it.
    pub unprocessed_entity: Value,
    /// Hash of the last result written (`None` before the first run or after a forced
    /// refresh).
    pub result_hash: Option<String>,
    /// Processor cache state of the last run (`Null` when none), including its `ttl`.
    pub cache: Value,
    /// The row's location key.
    pub location_key: Option<String>,
    /// Whether a successful result was ever stored (only then can the entity own relations
    /// and refresh keys).
    pub has_processed_result: bool,
}

/// A claimed entity with what processing produced.
#[derive(Debug, Clone)]
pub struct ProcessedEntity {
    /// The claim.
    pub claimed: ClaimedEntity,
    /// The orchestrator's output.
    pub output: ProcessingOutput,
}

/// What a batch write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessingReport {
    /// Results equal to the previous run: nothing written.
    pub unchanged: usize,
    /// Successful results written.
    pub changed: usize,
    /// Failed results written (errors only).
    pub errored: usize,
    /// Writes refused because another source owns a ref (the entity itself or a child).
    pub conflicts: usize,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    entity_id: String,
    entity_ref: String,
    unprocessed_entity: String,
    result_hash: Option<String>,
    cache: Option<String>,
    location_key: Option<String>,
    processed: i64,
}

/// One processing result, ready to write: documents serialized, the result hash computed up
/// to the current parents (which only the write transaction can read). Preparing runs in the
/// processing task, off the write path, and keeps only compact text in memory.
pub(crate) struct Prepared {
    id: String,
    has_processed_result: bool,
    entity_ref: String,
    location_key: Option<String>,
    previous_hash: Option<String>,
    ok: bool,
    errors_json: String,
    /// The result hash over everything it covers except the current parents.
    hasher: Sha1,
    processed_json: Option<String>,
    children: Vec<UnprocessedRow>,
    relations: Vec<RelationRow>,
    refresh_keys: Vec<String>,
    /// The new cache column when it changes.
    cache: Option<String>,
}

fn serialize_errors(errors: &[SerializedError]) -> String {
    serde_json::to_string(errors).unwrap_or_else(|_| "[]".to_owned())
}

/// The next processor cache (Backstage's TTL rule): a successful run stores its state with
/// `ttl: 5` when it differs from the previous one; a failed run keeps the previous state with
/// the ttl decremented, dropping it at 0. `None` when the stored cache does not change.
fn next_cache(previous: &Value, output: &Value, ok: bool) -> Option<Value> {
    let empty = Map::new();
    let previous_map = previous.as_object().unwrap_or(&empty);
    if ok {
        let mut without_ttl = previous_map.clone();
        without_ttl.remove("ttl");
        let state = output.as_object().unwrap_or(&empty);
        if stable_stringify(&Value::Object(without_ttl))
            == stable_stringify(&Value::Object(state.clone()))
        {
            return None;
        }
        let mut next = Map::new();
        next.insert("ttl".into(), json!(CACHE_TTL));
        for (k, v) in state {
            next.insert(k.clone(), v.clone());
        }
        Some(Value::Object(next))
    } else {
        let ttl = previous_map.get("ttl").and_then(Value::as_i64).unwrap_or(0);
        let next = if ttl > 0 {
            let mut next = previous_map.clone();
            next.insert("ttl".into(), json!(ttl - 1));
            Value::Object(next)
        } else {
            json!({})
        };
        (next != *previous).then_some(next)
    }
}

impl Prepared {
    /// Weight of this result in a write transaction: 1 plus 1 per child.
    pub(crate) fn weight(&self) -> usize {
        1 + self.children.len()
    }

    /// The processing row id.
    pub(crate) fn entity_id(&self) -> &str {
        &self.id
    }
}

/// Adds one length-prefixed field to a result hash (so field boundaries cannot shift).
fn hash_field(hasher: &mut Sha1, text: &str) {
    hasher.update((text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
}

/// Serializes a processing result for writing (see [`Prepared`]).
pub(crate) fn prepare(item: ProcessedEntity) -> Prepared {
    let ProcessedEntity { claimed, output } = item;
    let ProcessingOutput {
        ok,
        entity,
        children,
        relations,
        mut errors,
        refresh_keys,
        cache,
    } = output;
    let (ok, entity) = match (ok, entity) {
        (true, Some(entity)) if entity.is_object() => (true, Some(entity)),
        (true, _) => {
            errors.push(SerializedError::new(
                "Error",
                format!("Processing of {} produced no entity", claimed.entity_ref),
            ));
            (false, None)
        }
        (false, _) => (false, None),
    };
    let errors_json = serialize_errors(&errors);
    let mut hasher = Sha1::new();
    hash_field(&mut hasher, &errors_json);
    let cache = next_cache(&claimed.cache, &cache, ok).map(|v| v.to_string());
    let mut prepared = Prepared {
        id: claimed.entity_id,
        has_processed_result: claimed.has_processed_result,
        entity_ref: claimed.entity_ref,
        location_key: claimed.location_key,
        previous_hash: claimed.result_hash,
        ok,
        errors_json,
        hasher: Sha1::new(),
        processed_json: None,
        children: Vec::new(),
        relations: Vec::new(),
        refresh_keys: Vec::new(),
        cache,
    };
    if let Some(mut entity) = entity {
        if let Some(meta) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("uid".into(), Value::String(prepared.id.clone()));
        }
        let mut text = String::new();
        stable_stringify_into(&entity, &mut text);
        hash_field(&mut hasher, &text);
        prepared.processed_json = serde_json::to_string(&entity).ok();
        drop(entity);

        // Children are hashed as a set: one digest each, sorted.
        let mut child_digests: Vec<[u8; 20]> = Vec::with_capacity(children.len());
        for child in children {
            match UnprocessedRow::new(&child.entity, child.location_key.clone()) {
                Ok(row) if row.entity_ref == prepared.entity_ref => {
                    tracing::warn!(
                        entity_ref = %prepared.entity_ref,
                        "Entity {} emitted itself as a child; ignored",
                        prepared.entity_ref
                    );
                }
                Ok(row) => {
                    text.clear();
                    stable_stringify_into(&child.entity, &mut text);
                    let mut digest = Sha1::new();
                    hash_field(&mut digest, &text);
                    match child.location_key.as_deref() {
                        Some(key) => {
                            digest.update([1]);
                            hash_field(&mut digest, key);
                        }
                        None => digest.update([0]),
                    }
                    child_digests.push(digest.finalize().into());
                    prepared.children.push(row);
                }
                Err(error) => {
                    tracing::warn!(entity_ref = %prepared.entity_ref, %error, "ignoring a malformed child entity");
                }
            }
        }
        child_digests.sort_unstable();
        hasher.update((child_digests.len() as u64).to_le_bytes());
        for digest in &child_digests {
            hasher.update(digest);
        }

        let relations: BTreeSet<RelationRow> = relations.into_iter().collect();
        prepared.relations = relations.into_iter().collect();
        hasher.update((prepared.relations.len() as u64).to_le_bytes());
        for r in &prepared.relations {
            hash_field(&mut hasher, &r.source_ref);
            hash_field(&mut hasher, &r.relation_type);
            hash_field(&mut hasher, &r.target_ref);
        }
        prepared.refresh_keys = sorted_unique(refresh_keys.iter().map(|k| refresh_key(k)));
        hasher.update((prepared.refresh_keys.len() as u64).to_le_bytes());
        for k in &prepared.refresh_keys {
            hash_field(&mut hasher, k);
        }
    }
    prepared.hasher = hasher;
    prepared
}

impl CatalogStore {
    /// Claims up to `limit` due entities, oldest due first, and pushes their next run
    /// `lease` into the future (the lease: a crashed worker's entities come back after it).
    /// On PostgreSQL rows locked by another replica's claim are skipped.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_processing(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedEntity>> {
        let lease = duration_ms(lease);
        let rows: Vec<ClaimRow> = write_tx!(self, |tx| {
            let now = now_ms();
            let mut sql = self.sql("claiming entities for processing");
            sql.push("UPDATE refresh_state SET next_update_at = ")
                .bind_int(now.saturating_add(lease))
                .push(
                    " WHERE entity_id IN (SELECT entity_id FROM refresh_state \
                     WHERE next_update_at <= ",
                )
                .bind_int(now)
                .push(" ORDER BY next_update_at LIMIT ")
                .bind_int(i64::try_from(limit).unwrap_or(i64::MAX));
            if self.dialect() == Dialect::Postgres {
                sql.push(" FOR UPDATE SKIP LOCKED");
            }
            sql.push(
                ") RETURNING entity_id, entity_ref, unprocessed_entity, result_hash, cache, \
                 location_key, CAST(CASE WHEN processed_entity IS NULL THEN 0 ELSE 1 END AS BIGINT) AS processed",
            );
            tx.fetch(sql).await
        })?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let entity = match serde_json::from_str(&row.unprocessed_entity) {
                Ok(entity) => entity,
                Err(error) => {
                    tracing::warn!(entity_ref = %row.entity_ref, %error, "unreadable unprocessed entity");
                    continue;
                }
            };
            let cache = row
                .cache
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or(Value::Null);
            claimed.push(ClaimedEntity {
                entity_id: row.entity_id,
                entity_ref: row.entity_ref,
                unprocessed_entity: entity,
                result_hash: row.result_hash,
                cache,
                location_key: row.location_key,
                has_processed_result: row.processed != 0,
            });
        }
        Ok(claimed)
    }

    /// Makes claimed entities due again now (after a failed write), so they are retried
    /// without waiting for the lease.
    ///
    /// # Errors
    /// Database failures.
    pub async fn release_claims(&self, entity_ids: &[String]) -> Result<()> {
        write_tx!(self, |tx| {
            let now = now_ms();
            for chunk in text_chunks(entity_ids) {
                let mut sql = self.sql("releasing processing claims");
                sql.push("UPDATE refresh_state SET next_update_at = ")
                    .bind_int(now)
                    .push(" WHERE ")
                    .push_in("entity_id", chunk);
                tx.execute(sql).await?;
            }
            Ok(())
        })?;
        self.notify_processing();
        Ok(())
    }

    /// Writes a batch of processing results in one transaction (spec 4.4): results whose
    /// hash equals the previous one are skipped; failures store their errors and are queued
    /// for stitching; successes store the processed entity, upsert children (location-key
    /// rules), replace parent→child edges, diff relations, replace refresh keys, and queue
    /// the entity and every affected relation source for stitching. Processor caches are
    /// stored with Backstage's TTL rule.
    ///
    /// # Errors
    /// Database failures (after deadlock retries); nothing of the batch is written then.
    pub async fn write_processing_results(
        &self,
        items: Vec<ProcessedEntity>,
    ) -> Result<ProcessingReport> {
        self.write_prepared_results(items.into_iter().map(prepare).collect())
            .await
    }

    /// [`write_processing_results`](Self::write_processing_results) of results already
    /// [`prepare`]d (the engine prepares them in the processing tasks).
    pub(crate) async fn write_prepared_results(
        &self,
        prepared: Vec<Prepared>,
    ) -> Result<ProcessingReport> {
        if prepared.is_empty() {
            return Ok(ProcessingReport::default());
        }
        let (report, stitched, scheduled) =
            write_tx!(self, |tx| { write_batch(self, tx, &prepared).await })?;
        if stitched {
            self.notify_stitching();
        }
        if scheduled {
            self.notify_processing();
        }
        Ok(report)
    }
}

#[derive(sqlx::FromRow)]
struct OldRelation {
    originating_entity_id: String,
    /// The source ref, or the refresh key of a key row.
    source_entity_ref: String,
    #[sqlx(rename = "type")]
    relation_type: Option<String>,
    target_entity_ref: Option<String>,
}

/// Whether a write with location key `new` may take a row stored with `stored` (spec 4.10).
fn key_allows(stored: Option<&str>, new: Option<&str>) -> bool {
    match new {
        None => stored.is_none(),
        Some(k) => stored.is_none_or(|s| s == k),
    }
}

async fn write_batch(
    store: &CatalogStore,
    tx: &mut Tx,
    prepared: &[Prepared],
) -> Result<(ProcessingReport, bool, bool)> {
    let now = now_ms();
    let mut report = ProcessingReport::default();

    // Current parents of each entity and of its children: part of the result hash.
    let mut parent_targets: Vec<&str> = Vec::new();
    for p in prepared.iter().filter(|p| p.ok) {
        parent_targets.push(&p.entity_ref);
        parent_targets.extend(p.children.iter().map(|c| c.entity_ref.as_str()));
    }
    let parent_targets = sorted_unique(parent_targets);
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in text_chunks(&parent_targets) {
        let mut sql = store.sql("reading parents");
        sql.push(
            "SELECT target_entity_ref, source_entity_ref FROM refresh_state_references \
             WHERE source_entity_ref IS NOT NULL AND ",
        )
        .push_in("target_entity_ref", chunk);
        let rows: Vec<(String, String)> = tx.fetch(sql).await?;
        for (target, source) in rows {
            parents.entry(target).or_default().push(source);
        }
    }

    let mut to_stitch: Vec<String> = Vec::new();
    let mut failed_rows: Vec<(&Prepared, String)> = Vec::new();
    let mut ok_rows: Vec<(&Prepared, String)> = Vec::new();
    for p in prepared {
        let hash = if p.ok {
            let mut all: Vec<&str> = Vec::new();
            for r in std::iter::once(&p.entity_ref).chain(p.children.iter().map(|c| &c.entity_ref))
            {
                if let Some(list) = parents.get(r) {
                    all.extend(list.iter().map(String::as_str));
                }
            }
            all.sort_unstable();
            let mut hasher = p.hasher.clone();
            hasher.update((all.len() as u64).to_le_bytes());
            for parent in all {
                hash_field(&mut hasher, parent);
            }
            hex(&hasher.finalize())
        } else {
            hex(&p.hasher.clone().finalize())
        };
        if p.previous_hash.as_deref() == Some(hash.as_str()) {
            report.unchanged += 1;
        } else if p.ok {
            ok_rows.push((p, hash));
        } else {
            failed_rows.push((p, hash));
        }
    }

    // Failures: errors and hash only; the previous result stays.
    for chunk in byte_chunks(&failed_rows, |(p, errors)| p.id.len() + errors.len()) {
        let mut sql = store.sql("storing processing errors");
        sql.push(
            "UPDATE refresh_state SET errors = x_errors, result_hash = x_hash, \
             cache = COALESCE(x_cache, refresh_state.cache) FROM ",
        )
        .push_rows(
            "x",
            vec![
                (
                    "x_id",
                    Column::Text(chunk.iter().map(|(p, _)| p.id.clone()).collect()),
                ),
                (
                    "x_errors",
                    Column::Text(chunk.iter().map(|(p, _)| p.errors_json.clone()).collect()),
                ),
                (
                    "x_hash",
                    Column::Text(chunk.iter().map(|(_, h)| h.clone()).collect()),
                ),
                (
                    "x_cache",
                    Column::OptText(chunk.iter().map(|(p, _)| p.cache.clone()).collect()),
                ),
            ],
        )
        .push(" WHERE refresh_state.entity_id = x_id");
        tx.execute(sql).await?;
        to_stitch.extend(chunk.iter().map(|(p, _)| p.entity_ref.clone()));
    }
    report.errored = failed_rows.len();

    // Successes: the processed entity, guarded by the location key.
    let mut written_ids: HashSet<String> = HashSet::new();
    for chunk in byte_chunks(&ok_rows, |(p, _)| {
        p.processed_json.as_ref().map_or(0, String::len) + p.cache.as_ref().map_or(0, String::len)
    }) {
        let mut sql = store.sql("storing processed entities");
        sql.push(
            "UPDATE refresh_state SET processed_entity = x_entity, result_hash = x_hash, \
             errors = x_errors, location_key = x_location_key, \
             cache = COALESCE(x_cache, refresh_state.cache) FROM ",
        )
        .push_rows(
            "x",
            vec![
                (
                    "x_id",
                    Column::Text(chunk.iter().map(|(p, _)| p.id.clone()).collect()),
                ),
                (
                    "x_entity",
                    Column::OptText(
                        chunk
                            .iter()
                            .map(|(p, _)| p.processed_json.clone())
                            .collect(),
                    ),
                ),
                (
                    "x_hash",
                    Column::Text(chunk.iter().map(|(_, h)| h.clone()).collect()),
                ),
                (
                    "x_errors",
                    Column::Text(chunk.iter().map(|(p, _)| p.errors_json.clone()).collect()),
                ),
                (
                    "x_location_key",
                    Column::OptText(chunk.iter().map(|(p, _)| p.location_key.clone()).collect()),
                ),
                (
                    "x_cache",
                    Column::OptText(chunk.iter().map(|(p, _)| p.cache.clone()).collect()),
                ),
            ],
        )
        .push(" WHERE refresh_state.entity_id = x_id AND ")
        .push(KEY_MATCH)
        .push(" RETURNING entity_id");
        let rows: Vec<(String,)> = tx.fetch(sql).await?;
        written_ids.extend(rows.into_iter().map(|(id,)| id));
    }
    let written: Vec<&Prepared> = ok_rows
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| {
            let ok = written_ids.contains(&p.id);
            if !ok {
                tracing::warn!(
                    entity_ref = %p.entity_ref,
                    "Conflicting write of processing result for {} with location key '{}'",
                    p.id,
                    p.location_key.as_deref().unwrap_or("null"),
                );
            }
            ok
        })
        .collect();
    report.conflicts += ok_rows.len() - written.len();
    report.changed = written.len();

    // Caches of results not written above (unchanged, or refused).
    let failed_ids: HashSet<&str> = failed_rows.iter().map(|(p, _)| p.id.as_str()).collect();
    let caches: Vec<&Prepared> = prepared
        .iter()
        .filter(|p| {
            p.cache.is_some() && !written_ids.contains(&p.id) && !failed_ids.contains(p.id.as_str())
        })
        .collect();
    for chunk in byte_chunks(&caches, |p| {
        p.id.len() + p.cache.as_ref().map_or(0, String::len)
    }) {
        let mut sql = store.sql("storing processor caches");
        sql.push("UPDATE refresh_state SET cache = x_cache FROM ")
            .push_rows(
                "x",
                vec![
                    (
                        "x_id",
                        Column::Text(chunk.iter().map(|p| p.id.clone()).collect()),
                    ),
                    (
                        "x_cache",
                        Column::OptText(chunk.iter().map(|p| p.cache.clone()).collect()),
                    ),
                ],
            )
            .push(" WHERE refresh_state.entity_id = x_id");
        tx.execute(sql).await?;
    }
    if written.is_empty() {
        let stitched = !to_stitch.is_empty();
        mark_in_tx(store, tx, &sorted_unique(to_stitch), now).await?;
        return Ok((report, stitched, false));
    }
    to_stitch.extend(written.iter().map(|p| p.entity_ref.clone()));

    // Children: the last parent in the batch to emit a ref wins, as sequential writes would.
    let mut child_index: HashMap<&str, usize> = HashMap::new();
    let mut children: Vec<(&str, &UnprocessedRow)> = Vec::new();
    for p in &written {
        for child in &p.children {
            match child_index.get(child.entity_ref.as_str()) {
                Some(&i) => children[i] = (&p.entity_ref, child),
                None => {
                    child_index.insert(&child.entity_ref, children.len());
                    children.push((&p.entity_ref, child));
                }
            }
        }
    }
    let rows: Vec<&UnprocessedRow> = children.iter().map(|(_, c)| *c).collect();
    let mut ok_children: HashSet<String> = HashSet::new();
    // Children that already existed: one that was an orphan and is adopted again must be
    // re-stitched to lose its orphan annotation (its own result may not change).
    let mut existing_children: HashSet<String> = HashSet::new();
    if !rows.is_empty() {
        // Which children exist, and may this write take them? (Only refs go to the
        // database here; each entity document is sent once, to the statement that needs it.)
        let refs: Vec<String> = rows.iter().map(|r| r.entity_ref.clone()).collect();
        let existing = location_keys(store, tx, &refs).await?;
        let mut to_update = Vec::new();
        let mut to_insert = Vec::new();
        let mut refused: Vec<&UnprocessedRow> = Vec::new();
        for row in &rows {
            match existing.get(&row.entity_ref) {
                None => to_insert.push(*row),
                Some(stored) if key_allows(stored.as_deref(), row.location_key.as_deref()) => {
                    to_update.push(*row);
                }
                Some(_) => refused.push(*row),
            }
        }
        let updated = if to_update.is_empty() {
            HashSet::new()
        } else {
            update_unprocessed(store, tx, &to_update, now).await?
        };
        let inserted = if to_insert.is_empty() {
            HashSet::new()
        } else {
            insert_unprocessed(store, tx, &to_insert, now).await?
        };
        refused.extend(
            to_update
                .iter()
                .filter(|r| !updated.contains(&r.entity_ref)),
        );
        refused.extend(
            to_insert
                .iter()
                .filter(|r| !inserted.contains(&r.entity_ref)),
        );
        if !refused.is_empty() {
            let refs: Vec<String> = refused.iter().map(|r| r.entity_ref.clone()).collect();
            let keys = location_keys(store, tx, &refs).await?;
            for row in &refused {
                let existing = keys.get(&row.entity_ref).cloned().flatten();
                warn_conflict(
                    &row.entity_ref,
                    existing.as_deref(),
                    row.location_key.as_deref(),
                );
            }
            report.conflicts += refused.len();
        }
        existing_children.extend(updated.iter().cloned());
        ok_children.extend(updated);
        ok_children.extend(inserted);
    }

    // Edges: drop every edge from these parents and into the written children, then link.
    // (Only entities that stored a successful result before can have emitted children.)
    let parent_refs: Vec<String> = sorted_unique(
        written
            .iter()
            .filter(|p| p.has_processed_result)
            .map(|p| p.entity_ref.clone()),
    );
    let mut old_children: HashSet<String> = HashSet::new();
    for chunk in text_chunks(&parent_refs) {
        let mut sql = store.sql("replacing parent references");
        sql.push("DELETE FROM refresh_state_references WHERE ")
            .push_in("source_entity_ref", chunk)
            .push(" RETURNING target_entity_ref");
        let rows: Vec<(String,)> = tx.fetch(sql).await?;
        old_children.extend(rows.into_iter().map(|(r,)| r));
    }
    let ok_child_refs: Vec<String> = sorted_unique(ok_children.iter().cloned());
    for chunk in text_chunks(&ok_child_refs) {
        let mut sql = store.sql("replacing child references");
        sql.push("DELETE FROM refresh_state_references WHERE ")
            .push_in("target_entity_ref", chunk);
        tx.execute(sql).await?;
    }
    let edges: Vec<(&str, &str)> = children
        .iter()
        .filter(|(_, c)| ok_children.contains(&c.entity_ref))
        .map(|(p, c)| (*p, c.entity_ref.as_str()))
        .collect();
    for chunk in byte_chunks(&edges, |(a, b)| a.len() + b.len()) {
        let mut sql = store.sql("inserting parent references");
        sql.push(
            "INSERT INTO refresh_state_references (source_entity_ref, target_entity_ref) \
             SELECT x_source, x_target FROM ",
        )
        .push_rows(
            "x",
            vec![
                (
                    "x_source",
                    Column::Text(chunk.iter().map(|(p, _)| (*p).to_owned()).collect()),
                ),
                (
                    "x_target",
                    Column::Text(chunk.iter().map(|(_, c)| (*c).to_owned()).collect()),
                ),
            ],
        );
        tx.execute(sql).await?;
    }
    // Children no longer emitted may have become orphans, and existing children this parent
    // just adopted may have stopped being orphans: re-stitch both.
    to_stitch.extend(
        existing_children
            .iter()
            .filter(|c| !old_children.contains(*c))
            .cloned(),
    );
    to_stitch.extend(
        old_children
            .into_iter()
            .filter(|c| !ok_children.contains(c)),
    );

    // Relations and refresh keys: diff against the stored rows of each entity.
    // (Only entities that stored a successful result before can own any.)
    let ids: Vec<String> = written
        .iter()
        .filter(|p| p.has_processed_result)
        .map(|p| p.id.clone())
        .collect();
    let mut old: HashMap<String, BTreeSet<RelationRow>> = HashMap::new();
    let mut old_keys: HashMap<String, BTreeSet<String>> = HashMap::new();
    for chunk in text_chunks(&ids) {
        let mut sql = store.sql("reading relations and refresh keys");
        sql.push(
            "SELECT originating_entity_id, source_entity_ref, type, target_entity_ref \
             FROM relations WHERE ",
        )
        .push_in("originating_entity_id", chunk)
        .push(" UNION ALL SELECT entity_id, key, NULL, NULL FROM refresh_keys WHERE ")
        .push_in_last("entity_id");
        let rows: Vec<OldRelation> = tx.fetch(sql).await?;
        for r in rows {
            match (r.relation_type, r.target_entity_ref) {
                (Some(relation_type), Some(target_ref)) => {
                    old.entry(r.originating_entity_id)
                        .or_default()
                        .insert(RelationRow {
                            source_ref: r.source_entity_ref,
                            relation_type,
                            target_ref,
                        });
                }
                _ => {
                    old_keys
                        .entry(r.originating_entity_id)
                        .or_default()
                        .insert(r.source_entity_ref);
                }
            }
        }
    }
    let mut rewrite_ids: Vec<String> = Vec::new();
    let mut inserts: Vec<(&str, &RelationRow)> = Vec::new();
    for p in &written {
        let new: BTreeSet<&RelationRow> = p.relations.iter().collect();
        let previous = old.get(&p.id);
        let stale: Vec<&RelationRow> = previous
            .map(|set| set.iter().filter(|r| !new.contains(r)).collect())
            .unwrap_or_default();
        let added: Vec<&RelationRow> = p
            .relations
            .iter()
            .filter(|r| previous.is_none_or(|set| !set.contains(*r)))
            .collect();
        to_stitch.extend(stale.iter().map(|r| r.source_ref.clone()));
        to_stitch.extend(added.iter().map(|r| r.source_ref.clone()));
        if stale.is_empty() {
            inserts.extend(added.into_iter().map(|r| (p.id.as_str(), r)));
        } else {
            rewrite_ids.push(p.id.clone());
            inserts.extend(p.relations.iter().map(|r| (p.id.as_str(), r)));
        }
    }
    for chunk in text_chunks(&rewrite_ids) {
        let mut sql = store.sql("deleting stale relations");
        sql.push("DELETE FROM relations WHERE ")
            .push_in("originating_entity_id", chunk);
        tx.execute(sql).await?;
    }
    for chunk in byte_chunks(&inserts, |(id, r)| {
        id.len() + r.source_ref.len() + r.relation_type.len() + r.target_ref.len()
    }) {
        let mut sql = store.sql("inserting relations");
        sql.push(
            "INSERT INTO relations (originating_entity_id, source_entity_ref, type, \
             target_entity_ref) SELECT x_id, x_source, x_type, x_target FROM ",
        )
        .push_rows(
            "x",
            vec![
                (
                    "x_id",
                    Column::Text(chunk.iter().map(|(id, _)| (*id).to_owned()).collect()),
                ),
                (
                    "x_source",
                    Column::Text(chunk.iter().map(|(_, r)| r.source_ref.clone()).collect()),
                ),
                (
                    "x_type",
                    Column::Text(chunk.iter().map(|(_, r)| r.relation_type.clone()).collect()),
                ),
                (
                    "x_target",
                    Column::Text(chunk.iter().map(|(_, r)| r.target_ref.clone()).collect()),
                ),
            ],
        );
        tx.execute(sql).await?;
    }

    // Refresh keys: stale ones deleted, new ones inserted.
    let mut stale_keys: Vec<(&str, &str)> = Vec::new();
    let mut new_keys: Vec<(&str, &str)> = Vec::new();
    for p in &written {
        let previous = old_keys.get(&p.id);
        if let Some(previous) = previous {
            stale_keys.extend(
                previous
                    .iter()
                    .filter(|k| p.refresh_keys.binary_search(k).is_err())
                    .map(|k| (p.id.as_str(), k.as_str())),
            );
        }
        new_keys.extend(
            p.refresh_keys
                .iter()
                .filter(|k| previous.is_none_or(|set| !set.contains(*k)))
                .map(|k| (p.id.as_str(), k.as_str())),
        );
    }
    for chunk in byte_chunks(&stale_keys, |(id, key)| id.len() + key.len()) {
        let mut sql = store.sql("deleting refresh keys");
        sql.push("DELETE FROM refresh_keys WHERE (entity_id, key) IN (SELECT x_id, x_key FROM ")
            .push_rows(
                "x",
                vec![
                    (
                        "x_id",
                        Column::Text(chunk.iter().map(|(id, _)| (*id).to_owned()).collect()),
                    ),
                    (
                        "x_key",
                        Column::Text(chunk.iter().map(|(_, k)| (*k).to_owned()).collect()),
                    ),
                ],
            )
            .push(")");
        tx.execute(sql).await?;
    }
    for chunk in byte_chunks(&new_keys, |(id, key)| id.len() + key.len()) {
        let mut sql = store.sql("inserting refresh keys");
        sql.push("INSERT INTO refresh_keys (entity_id, key) SELECT x_id, x_key FROM ")
            .push_rows(
                "x",
                vec![
                    (
                        "x_id",
                        Column::Text(chunk.iter().map(|(id, _)| (*id).to_owned()).collect()),
                    ),
                    (
                        "x_key",
                        Column::Text(chunk.iter().map(|(_, k)| (*k).to_owned()).collect()),
                    ),
                ],
            );
        tx.execute(sql).await?;
    }

    mark_in_tx(store, tx, &sorted_unique(to_stitch), now).await?;
    Ok((report, true, !ok_children.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_key_rules() {
        assert!(key_allows(None, None));
        assert!(!key_allows(Some("a"), None));
        assert!(key_allows(None, Some("a")));
        assert!(key_allows(Some("a"), Some("a")));
        assert!(!key_allows(Some("a"), Some("b")));
    }

    #[test]
    fn cache_ttl_rule() {
        // A new state is stored with ttl 5.
        let next = next_cache(&Value::Null, &json!({"p": {"etag": "1"}}), true);
        assert_eq!(next, Some(json!({"ttl": 5, "p": {"etag": "1"}})));
        // The same state again: unchanged.
        let stored = json!({"ttl": 5, "p": {"etag": "1"}});
        assert_eq!(
            next_cache(&stored, &json!({"p": {"etag": "1"}}), true),
            None
        );
        // Failures count down, then drop the state.
        assert_eq!(
            next_cache(&stored, &Value::Null, false),
            Some(json!({"ttl": 4, "p": {"etag": "1"}}))
        );
        let last = json!({"ttl": 0, "p": 1});
        assert_eq!(next_cache(&last, &Value::Null, false), Some(json!({})));
        assert_eq!(next_cache(&json!({}), &Value::Null, false), None);
        // No state at all and none produced: nothing to store.
        assert_eq!(next_cache(&Value::Null, &Value::Null, true), None);
    }

    fn claimed(entity: Value) -> ClaimedEntity {
        ClaimedEntity {
            entity_id: "id-1".into(),
            entity_ref: "component:default/a".into(),
            unprocessed_entity: entity,
            result_hash: None,
            cache: Value::Null,
            location_key: None,
            has_processed_result: false,
        }
    }

    #[test]
    fn prepared_hash_input_is_order_independent() {
        let entity = json!({"apiVersion": "v1", "kind": "Component", "metadata": {"name": "a"}});
        let rel = |t: &str| RelationRow {
            source_ref: "component:default/a".into(),
            relation_type: "ownedBy".into(),
            target_ref: t.into(),
        };
        let child = |n: &str| crate::model::DeferredEntity {
            entity: json!({"apiVersion": "v1", "kind": "Component", "metadata": {"name": n}}),
            location_key: None,
        };
        let out = |relations: Vec<RelationRow>, children| ProcessingOutput {
            ok: true,
            entity: Some(entity.clone()),
            children,
            relations,
            errors: vec![],
            refresh_keys: vec!["b".into(), "a".into()],
            cache: Value::Null,
        };
        let a = prepare(ProcessedEntity {
            claimed: claimed(entity.clone()),
            output: out(
                vec![rel("group:default/x"), rel("group:default/y")],
                vec![child("c1"), child("c2")],
            ),
        });
        let b = prepare(ProcessedEntity {
            claimed: claimed(entity.clone()),
            output: out(
                vec![rel("group:default/y"), rel("group:default/x")],
                vec![child("c2"), child("c1")],
            ),
        });
        assert_eq!(a.hasher.clone().finalize(), b.hasher.clone().finalize());
        let c = prepare(ProcessedEntity {
            claimed: claimed(entity.clone()),
            output: out(vec![rel("group:default/x")], vec![child("c2"), child("c1")]),
        });
        assert_ne!(a.hasher.clone().finalize(), c.hasher.finalize());
        let mut keyed = child("c1");
        keyed.location_key = Some("url:https://example.com/a.yaml".into());
        let d = prepare(ProcessedEntity {
            claimed: claimed(entity.clone()),
            output: out(
                vec![rel("group:default/x"), rel("group:default/y")],
                vec![keyed, child("c2")],
            ),
        });
        assert_ne!(a.hasher.clone().finalize(), d.hasher.finalize());
        assert_eq!(a.refresh_keys, vec!["a", "b"]);
        let processed: Value = serde_json::from_str(a.processed_json.as_deref().unwrap()).unwrap();
        assert_eq!(processed["metadata"]["uid"], "id-1");
    }

    #[test]
    fn ok_without_entity_is_a_failure() {
        let p = prepare(ProcessedEntity {
            claimed: claimed(json!({})),
            output: ProcessingOutput {
                ok: true,
                ..Default::default()
            },
        });
        assert!(!p.ok);
        assert!(p.errors_json.contains("produced no entity"));
    }
}
