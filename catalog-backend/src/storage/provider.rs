//! Entity providers' mutations (spec 4.2), eager pruning (4.11) and refresh by keys (4.12).

use std::collections::{HashMap, HashSet};

use backstage_catalog_model::entity_ref::stringify_entity_ref_value;
use serde_json::Value;

use crate::error::{CatalogError, Result};
use crate::model::DeferredEntity;

use super::entities::delete_rows;
use super::feed::write_tombstones;
use super::hash::{refresh_key, stable_hash};
use super::{
    CatalogStore, Column, EntityMutation, Tx, byte_chunks, now_ms, sorted_unique, text_chunks,
    write_tx,
};

/// An entity ready to be written as an unprocessed row.
#[derive(Debug, Clone)]
pub(crate) struct UnprocessedRow {
    /// Canonical ref.
    pub entity_ref: String,
    /// The entity's JSON text.
    pub json: String,
    /// Stable hash of the entity.
    pub hash: String,
    /// Location key.
    pub location_key: Option<String>,
}

impl UnprocessedRow {
    /// Builds the row of a deferred entity.
    ///
    /// # Errors
    /// [`CatalogError::Input`] when the entity has no kind or name.
    pub(crate) fn from_deferred(deferred: &DeferredEntity) -> Result<Self> {
        Self::new(&deferred.entity, deferred.location_key.clone())
    }

    pub(crate) fn new(entity: &Value, location_key: Option<String>) -> Result<Self> {
        let entity_ref = stringify_entity_ref_value(entity)
            .map_err(|e| CatalogError::Input(format!("Malformed entity envelope, {e}")))?;
        let json = serde_json::to_string(entity)
            .map_err(|e| CatalogError::Internal(format!("cannot serialise entity: {e}")))?;
        Ok(Self {
            entity_ref,
            json,
            hash: stable_hash(entity),
            location_key,
        })
    }
}

/// Keeps the last of each ref, in first-seen order.
pub(crate) fn dedupe_last_wins(rows: Vec<UnprocessedRow>) -> Vec<UnprocessedRow> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<UnprocessedRow> = Vec::with_capacity(rows.len());
    for row in rows {
        match index.get(&row.entity_ref) {
            Some(&i) => out[i] = row,
            None => {
                index.insert(row.entity_ref.clone(), out.len());
                out.push(row);
            }
        }
    }
    out
}

#[derive(sqlx::FromRow)]
struct ExistingRow {
    entity_ref: String,
    location_key: Option<String>,
    unprocessed_hash: Option<String>,
}

/// The location-key condition of an unprocessed or processed write: a keyless write only
/// touches keyless rows; a keyed one touches rows with the same key or none.
pub(crate) const KEY_MATCH: &str = "((x_location_key IS NULL AND refresh_state.location_key IS NULL) \
     OR (x_location_key IS NOT NULL AND (refresh_state.location_key = x_location_key \
     OR refresh_state.location_key IS NULL)))";

/// The columns both writes of unprocessed rows bind: ref, entity, hash, location key.
fn unprocessed_columns(chunk: &[&UnprocessedRow]) -> Vec<(&'static str, Column)> {
    vec![
        (
            "x_ref",
            Column::Text(chunk.iter().map(|r| r.entity_ref.clone()).collect()),
        ),
        (
            "x_entity",
            Column::Text(chunk.iter().map(|r| r.json.clone()).collect()),
        ),
        (
            "x_hash",
            Column::Text(chunk.iter().map(|r| r.hash.clone()).collect()),
        ),
        (
            "x_location_key",
            Column::OptText(chunk.iter().map(|r| r.location_key.clone()).collect()),
        ),
    ]
}

/// Inserts new unprocessed rows (due now); returns the refs actually inserted (existing refs
/// are left alone).
pub(crate) async fn insert_unprocessed(
    store: &CatalogStore,
    tx: &mut Tx,
    rows: &[&UnprocessedRow],
    now: i64,
) -> Result<HashSet<String>> {
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in byte_chunks(rows, |r| r.json.len()) {
        let mut sql = store.sql("inserting unprocessed entities");
        sql.push(
            "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, \
             unprocessed_hash, errors, location_key, next_update_at, last_discovery_at) \
             SELECT x_id, x_ref, x_entity, x_hash, '', x_location_key, ",
        )
        .bind_int(now)
        .push(", ")
        .bind_int(now)
        .push(" FROM ")
        .push_rows("x", {
            let mut columns = vec![(
                "x_id",
                Column::Text(
                    chunk
                        .iter()
                        .map(|_| uuid::Uuid::new_v4().hyphenated().to_string())
                        .collect(),
                ),
            )];
            columns.extend(unprocessed_columns(chunk));
            columns
        })
        .push(" WHERE true ON CONFLICT (entity_ref) DO NOTHING RETURNING entity_ref");
        let refs: Vec<(String,)> = tx.fetch(sql).await?;
        inserted.extend(refs.into_iter().map(|(r,)| r));
    }
    Ok(inserted)
}

/// Updates existing unprocessed rows whose location key allows it (and makes them due now);
/// returns the refs updated.
pub(crate) async fn update_unprocessed(
    store: &CatalogStore,
    tx: &mut Tx,
    rows: &[&UnprocessedRow],
    now: i64,
) -> Result<HashSet<String>> {
    let mut updated = HashSet::with_capacity(rows.len());
    for chunk in byte_chunks(rows, |r| r.json.len()) {
        let mut sql = store.sql("updating unprocessed entities");
        sql.push(
            "UPDATE refresh_state SET unprocessed_entity = x_entity, unprocessed_hash = x_hash, \
             location_key = x_location_key, last_discovery_at = ",
        )
        .bind_int(now)
        .push(", next_update_at = ")
        .bind_int(now)
        .push(" FROM ")
        .push_rows("x", unprocessed_columns(chunk))
        .push(" WHERE refresh_state.entity_ref = x_ref AND ")
        .push(KEY_MATCH)
        .push(" RETURNING entity_ref");
        let refs: Vec<(String,)> = tx.fetch(sql).await?;
        updated.extend(refs.into_iter().map(|(r,)| r));
    }
    Ok(updated)
}

/// The stored location keys of some refs (for conflict messages).
pub(crate) async fn location_keys(
    store: &CatalogStore,
    tx: &mut Tx,
    refs: &[String],
) -> Result<HashMap<String, Option<String>>> {
    let mut out = HashMap::with_capacity(refs.len());
    for chunk in text_chunks(refs) {
        let mut sql = store.sql("reading location keys");
        sql.push("SELECT entity_ref, location_key FROM refresh_state WHERE ")
            .push_in("entity_ref", chunk);
        let rows: Vec<(String, Option<String>)> = tx.fetch(sql).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Logs a conflict (spec 4.10).
pub(crate) fn warn_conflict(entity_ref: &str, existing: Option<&str>, new: Option<&str>) {
    tracing::warn!(
        entity_ref,
        existing_location_key = existing,
        new_location_key = new,
        "Detected conflicting entityRef {entity_ref} already referenced by {} and now also {}",
        existing.unwrap_or("null"),
        new.unwrap_or("null"),
    );
}

/// Eager pruning (spec 4.11): removes `refs` from the provider bucket `source_key` and deletes
/// every descendant no other root keeps alive. Returns the deleted `(entity_id, entity_ref)`
/// pairs (tombstones are the caller's last write) and whether peers were queued for stitching.
pub(crate) async fn prune(
    store: &CatalogStore,
    tx: &mut Tx,
    refs: &[String],
    source_key: &str,
    now: i64,
) -> Result<(Vec<(String, String)>, bool)> {
    let mut deleted = Vec::new();
    let mut stitched = false;
    for chunk in text_chunks(refs) {
        let mut sql = store.sql("finding descendants to prune");
        sql.push(
            "WITH RECURSIVE descendants(entity_ref) AS ( \
               SELECT target_entity_ref FROM refresh_state_references \
               WHERE source_key = ",
        )
        .bind_text(source_key)
        .push(" AND ")
        .push_in("target_entity_ref", chunk)
        .push(
            " UNION \
               SELECT r.target_entity_ref FROM descendants d \
               JOIN refresh_state_references r ON d.entity_ref = r.source_entity_ref \
             ), \
             ancestors(source_key, source_entity_ref, target_entity_ref, subject) AS ( \
               SELECT r.source_key, r.source_entity_ref, r.target_entity_ref, d.entity_ref \
               FROM descendants d JOIN refresh_state_references r ON r.target_entity_ref = d.entity_ref \
               UNION \
               SELECT r.source_key, r.source_entity_ref, r.target_entity_ref, a.subject \
               FROM ancestors a JOIN refresh_state_references r ON r.target_entity_ref = a.source_entity_ref \
             ), \
             retained(entity_ref) AS ( \
               SELECT subject FROM ancestors WHERE source_key IS NOT NULL AND (source_key <> ",
        )
        .bind_text(source_key)
        .push(" OR NOT (")
        .push_in("target_entity_ref", chunk)
        .push(
            ")) \
             ) \
             SELECT d.entity_ref FROM descendants d \
             WHERE NOT EXISTS (SELECT 1 FROM retained r WHERE r.entity_ref = d.entity_ref)",
        );
        let doomed: Vec<(String,)> = tx.fetch(sql).await?;
        let doomed: Vec<String> = sorted_unique(doomed.into_iter().map(|(r,)| r));
        for part in text_chunks(&doomed) {
            let (rows, peers) = delete_rows(store, tx, part, now).await?;
            deleted.extend(rows);
            stitched |= peers;
        }
        let mut sql = store.sql("removing provider references");
        sql.push("DELETE FROM refresh_state_references WHERE source_key = ")
            .bind_text(source_key)
            .push(" AND ")
            .push_in("target_entity_ref", chunk);
        tx.execute(sql).await?;
    }
    Ok((deleted, stitched))
}

/// What a mutation did.
#[derive(Debug, Default)]
struct MutationOutcome {
    scheduled: bool,
    deleted: bool,
    stitched: bool,
}

impl CatalogStore {
    /// Applies a provider's mutation to its bucket (spec 4.2): adds, updates (only when the
    /// entity's stable hash changed) and removes (eager pruning) in one transaction, retried
    /// on deadlock. Refs claimed under another location key are conflicts: logged, the
    /// provider's edge dropped.
    ///
    /// # Errors
    /// [`CatalogError::Input`] `Malformed entity envelope, …` (nothing is written);
    /// database failures.
    pub async fn apply_mutation(
        &self,
        provider_name: &str,
        mutation: EntityMutation,
    ) -> Result<()> {
        let (entities, removed, full) = match mutation {
            EntityMutation::Full { entities } => (entities, Vec::new(), true),
            EntityMutation::Delta { added, removed } => (added, removed, false),
        };
        let mut rows = Vec::with_capacity(entities.len());
        for deferred in &entities {
            if let Err(e) = backstage_catalog_model::schema::validate_envelope(&deferred.entity) {
                return Err(CatalogError::Input(format!(
                    "Malformed entity envelope, {e}"
                )));
            }
            rows.push(UnprocessedRow::from_deferred(deferred)?);
        }
        drop(entities);
        let rows = dedupe_last_wins(rows);
        let removed: Vec<String> = removed
            .iter()
            .map(|r| r.entity_ref.to_lowercase())
            .collect();

        let outcome = write_tx!(self, |tx| {
            let now = now_ms();
            let mut to_add: Vec<&UnprocessedRow> = Vec::new();
            let mut to_upsert: Vec<&UnprocessedRow> = Vec::new();
            let mut to_remove: Vec<String> = removed.clone();
            if full {
                let mut sql = self.sql("reading a provider's bucket");
                sql.push(
                    "SELECT r.target_entity_ref AS entity_ref, rs.location_key, rs.unprocessed_hash \
                     FROM refresh_state_references r \
                     LEFT JOIN refresh_state rs ON rs.entity_ref = r.target_entity_ref \
                     WHERE r.source_key = ",
                )
                .bind_text(provider_name);
                let existing: Vec<ExistingRow> = tx.fetch(sql).await?;
                let new_refs: HashSet<&str> = rows.iter().map(|r| r.entity_ref.as_str()).collect();
                let old: HashMap<&str, &ExistingRow> = existing
                    .iter()
                    .map(|e| (e.entity_ref.as_str(), e))
                    .collect();
                to_remove.extend(
                    existing
                        .iter()
                        .filter(|e| !new_refs.contains(e.entity_ref.as_str()))
                        .map(|e| e.entity_ref.clone()),
                );
                for row in &rows {
                    classify(
                        row,
                        old.get(row.entity_ref.as_str()).copied(),
                        &mut to_add,
                        &mut to_upsert,
                        &mut to_remove,
                    );
                }
            } else {
                let refs: Vec<String> = rows.iter().map(|r| r.entity_ref.clone()).collect();
                let mut existing: Vec<ExistingRow> = Vec::new();
                for chunk in text_chunks(&refs) {
                    let mut sql = self.sql("reading existing entities");
                    sql.push(
                        "SELECT entity_ref, location_key, unprocessed_hash FROM refresh_state WHERE ",
                    )
                    .push_in("entity_ref", chunk);
                    existing.extend(tx.fetch::<ExistingRow>(sql).await?);
                }
                let old: HashMap<&str, &ExistingRow> = existing
                    .iter()
                    .map(|e| (e.entity_ref.as_str(), e))
                    .collect();
                for row in &rows {
                    classify(
                        row,
                        old.get(row.entity_ref.as_str()).copied(),
                        &mut to_add,
                        &mut to_upsert,
                        &mut to_remove,
                    );
                }
            }
            let mut outcome = MutationOutcome::default();
            let mut deleted = Vec::new();
            let to_remove = sorted_unique(to_remove);
            if !to_remove.is_empty() {
                let (rows, stitched) = prune(self, tx, &to_remove, provider_name, now).await?;
                outcome.deleted = !rows.is_empty();
                outcome.stitched = stitched;
                deleted = rows;
            }
            if !to_add.is_empty() {
                let inserted = insert_unprocessed(self, tx, &to_add, now).await?;
                let refs: Vec<String> = to_add
                    .iter()
                    .filter(|r| inserted.contains(&r.entity_ref))
                    .map(|r| r.entity_ref.clone())
                    .collect();
                insert_provider_edges(self, tx, provider_name, &refs).await?;
                outcome.scheduled |= !refs.is_empty();
                to_upsert.extend(to_add.iter().filter(|r| !inserted.contains(&r.entity_ref)));
            }
            if !to_upsert.is_empty() {
                let updated = update_unprocessed(self, tx, &to_upsert, now).await?;
                let rest: Vec<&UnprocessedRow> = to_upsert
                    .iter()
                    .copied()
                    .filter(|r| !updated.contains(&r.entity_ref))
                    .collect();
                let inserted = if rest.is_empty() {
                    HashSet::new()
                } else {
                    insert_unprocessed(self, tx, &rest, now).await?
                };
                let ok: Vec<String> = sorted_unique(updated.iter().chain(inserted.iter()).cloned());
                for chunk in text_chunks(&ok) {
                    let mut sql = self.sql("replacing references of upserted entities");
                    sql.push("DELETE FROM refresh_state_references WHERE ")
                        .push_in("target_entity_ref", chunk);
                    tx.execute(sql).await?;
                }
                insert_provider_edges(self, tx, provider_name, &ok).await?;
                outcome.scheduled |= !ok.is_empty();
                let failed: Vec<&UnprocessedRow> = rest
                    .into_iter()
                    .filter(|r| !inserted.contains(&r.entity_ref))
                    .collect();
                if !failed.is_empty() {
                    let refs: Vec<String> = failed.iter().map(|r| r.entity_ref.clone()).collect();
                    for chunk in text_chunks(&refs) {
                        let mut sql = self.sql("dropping conflicting provider references");
                        sql.push("DELETE FROM refresh_state_references WHERE source_key = ")
                            .bind_text(provider_name)
                            .push(" AND ")
                            .push_in("target_entity_ref", chunk);
                        tx.execute(sql).await?;
                    }
                    let keys = location_keys(self, tx, &refs).await?;
                    for row in failed {
                        let existing = keys.get(&row.entity_ref).cloned().flatten();
                        warn_conflict(
                            &row.entity_ref,
                            existing.as_deref(),
                            row.location_key.as_deref(),
                        );
                    }
                }
            }
            write_tombstones(self, tx, &deleted, now).await?;
            Ok(outcome)
        })?;
        if outcome.scheduled {
            self.notify_processing();
        }
        if outcome.stitched {
            self.notify_stitching();
        }
        if outcome.deleted {
            self.notify_feed();
        }
        Ok(())
    }

    /// Makes every entity carrying one of these refresh keys due now (spec 4.12); keys are
    /// shortened like stored ones.
    ///
    /// # Errors
    /// Database failures.
    pub async fn refresh_by_keys(&self, keys: &[String]) -> Result<u64> {
        let keys = sorted_unique(keys.iter().map(|k| refresh_key(k)));
        if keys.is_empty() {
            return Ok(0);
        }
        let n = write_tx!(self, |tx| {
            let now = now_ms();
            let mut total = 0;
            for chunk in text_chunks(&keys) {
                let mut sql = self.sql("refreshing entities by key");
                sql.push("UPDATE refresh_state SET next_update_at = ")
                    .bind_int(now)
                    .push(" WHERE entity_id IN (SELECT entity_id FROM refresh_keys WHERE ")
                    .push_in("key", chunk)
                    .push(")");
                total += tx.execute(sql).await?;
            }
            Ok(total)
        })?;
        if n > 0 {
            self.notify_processing();
        }
        Ok(n)
    }

    /// The provider names that own at least one entity (for `orphanProviderStrategy`).
    ///
    /// # Errors
    /// Database failures.
    pub async fn provider_keys(&self) -> Result<Vec<String>> {
        let mut sql = self.sql("listing provider keys");
        sql.push(
            "SELECT DISTINCT source_key FROM refresh_state_references \
             WHERE source_key IS NOT NULL ORDER BY source_key",
        );
        let rows: Vec<(String,)> = self.read(sql).await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }
}

/// Sorts one incoming entity into add / upsert / remove+add / nothing (Backstage's
/// `createDelta`).
fn classify<'a>(
    row: &'a UnprocessedRow,
    old: Option<&ExistingRow>,
    to_add: &mut Vec<&'a UnprocessedRow>,
    to_upsert: &mut Vec<&'a UnprocessedRow>,
    to_remove: &mut Vec<String>,
) {
    match old {
        None => to_add.push(row),
        Some(old) if old.location_key != row.location_key => {
            to_remove.push(row.entity_ref.clone());
            to_add.push(row);
        }
        Some(old) if old.unprocessed_hash.as_deref() != Some(row.hash.as_str()) => {
            to_upsert.push(row);
        }
        Some(_) => {}
    }
}

async fn insert_provider_edges(
    store: &CatalogStore,
    tx: &mut Tx,
    provider: &str,
    refs: &[String],
) -> Result<()> {
    for chunk in text_chunks(refs) {
        let mut sql = store.sql("inserting provider references");
        sql.push("INSERT INTO refresh_state_references (source_key, target_entity_ref) SELECT ")
            .bind_text(provider)
            .push(", x_ref FROM ")
            .push_rows("x", vec![("x_ref", Column::Text(chunk.to_vec()))]);
        tx.execute(sql).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(name: &str, key: Option<&str>, extra: i64) -> UnprocessedRow {
        UnprocessedRow::new(
            &json!({"apiVersion": "v1", "kind": "Component", "metadata": {"name": name, "x": extra}}),
            key.map(str::to_owned),
        )
        .unwrap()
    }

    #[test]
    fn classify_follows_backstage_delta_rules() {
        let a = row("A", Some("k"), 1);
        assert_eq!(a.entity_ref, "component:default/a");
        let same = ExistingRow {
            entity_ref: a.entity_ref.clone(),
            location_key: Some("k".into()),
            unprocessed_hash: Some(a.hash.clone()),
        };
        let (mut add, mut up, mut rm) = (Vec::new(), Vec::new(), Vec::new());
        classify(&a, Some(&same), &mut add, &mut up, &mut rm);
        assert!(add.is_empty() && up.is_empty() && rm.is_empty());
        let changed = ExistingRow {
            unprocessed_hash: Some("old".into()),
            ..same
        };
        classify(&a, Some(&changed), &mut add, &mut up, &mut rm);
        assert_eq!(up.len(), 1);
        let other_key = ExistingRow {
            location_key: Some("other".into()),
            ..changed
        };
        classify(&a, Some(&other_key), &mut add, &mut up, &mut rm);
        assert_eq!((add.len(), rm.len()), (1, 1));
        classify(&a, None, &mut add, &mut up, &mut rm);
        assert_eq!(add.len(), 2);
    }

    #[test]
    fn dedupe_keeps_last() {
        let rows = vec![row("a", None, 1), row("b", None, 1), row("a", None, 2)];
        let out = dedupe_last_wins(rows);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].entity_ref, "component:default/a");
        assert_eq!(out[0].hash, row("a", None, 2).hash);
    }
}
