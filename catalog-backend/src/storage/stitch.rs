//! Stitching (spec 4.8): turning processed entities, their relations and errors into final
//! entities, in batches, and writing them to the change feed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::{CatalogError, Result};
use crate::model::{ANNOTATION_ORPHAN, SerializedError};

use super::feed::allocate_seq;
use super::hash::stable_hash;
use super::{
    CatalogStore, Column, Dialect, Tx, byte_chunks, duration_ms, now_ms, sorted_unique,
    text_chunks, write_tx,
};

/// The status item type of processing errors.
const PROCESSING_STATUS_TYPE: &str = "backstage.io/catalog-processing";
/// What a `javascript:` view or edit URL is replaced with.
const REJECTED_URL: &str = "https://backstage.io/annotation-rejected-for-security-reasons";
const ANNOTATION_VIEW_URL: &str = "backstage.io/view-url";
const ANNOTATION_EDIT_URL: &str = "backstage.io/edit-url";

/// Queues refs for stitching inside a transaction: a new queue row is due now; an existing
/// one only gets a new ticket (an in-flight stitch is not interrupted, and finishes by making
/// the row due again). `refs` should be sorted (lock order).
pub(crate) async fn mark_in_tx(
    store: &CatalogStore,
    tx: &mut Tx,
    refs: &[String],
    now: i64,
) -> Result<()> {
    if refs.is_empty() {
        return Ok(());
    }
    let ticket = uuid::Uuid::new_v4().hyphenated().to_string();
    for chunk in text_chunks(refs) {
        let mut sql = store.sql("queueing entities for stitching");
        sql.push(
            "INSERT INTO stitch_queue (entity_ref, stitch_ticket, next_stitch_at) SELECT x_ref, ",
        )
        .bind_text(ticket.as_str())
        .push(", ")
        .bind_int(now)
        .push(" FROM ")
        .push_rows("x", vec![("x_ref", Column::Text(chunk.to_vec()))])
        .push(
            " WHERE true ON CONFLICT (entity_ref) DO UPDATE \
                 SET stitch_ticket = excluded.stitch_ticket",
        );
        tx.execute(sql).await?;
    }
    Ok(())
}

/// What one [`CatalogStore::stitch_batch`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StitchReport {
    /// Queue rows claimed.
    pub claimed: usize,
    /// Final entities written (each with a new feed position).
    pub changed: usize,
    /// Final entities already up to date.
    pub unchanged: usize,
    /// Refs with no processing row or no processed entity yet.
    pub abandoned: usize,
    /// Entities re-queued because they were marked again while being stitched.
    pub requeued: usize,
    /// Entities that could not be indexed (recorded as processing errors, not written).
    pub failed: usize,
}

#[derive(sqlx::FromRow)]
struct StitchRow {
    entity_id: String,
    entity_ref: String,
    processed_entity: Option<String>,
    errors: String,
    previous_hash: Option<String>,
}

/// The outcome of building one final entity.
#[derive(Debug, PartialEq)]
pub(crate) enum Built {
    /// Nothing to stitch (not processed yet).
    Abandoned,
    /// Same hash as the stored final entity.
    Unchanged,
    /// A new final entity.
    Changed {
        /// Its stable hash (and default etag).
        hash: String,
        /// Its JSON text.
        json: String,
    },
    /// The entity cannot be indexed; the error is recorded on it.
    Failed(SerializedError),
}

/// Whether a URL uses the `javascript:` scheme the way browsers parse it (leading control
/// characters and spaces skipped, tabs and newlines inside the scheme ignored).
pub(crate) fn is_script_url(value: &str) -> bool {
    let mut chars = value.chars().skip_while(|c| *c <= '\u{1f}' || *c == ' ');
    for expected in "javascript".chars() {
        loop {
            match chars.next() {
                Some('\r' | '\n' | '\t') => continue,
                Some(c) if c.eq_ignore_ascii_case(&expected) => break,
                _ => return false,
            }
        }
    }
    loop {
        match chars.next() {
            Some('\r' | '\n' | '\t') => continue,
            Some(':') => return true,
            _ => return false,
        }
    }
}

fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Builds the final entity of one processing row (spec 4.8 steps 3-6).
pub(crate) fn build_final(
    entity_id: &str,
    processed: Option<&str>,
    errors: &str,
    incoming_edges: i64,
    relations: &[(String, String)],
    previous_hash: Option<&str>,
) -> Built {
    let Some(processed) = processed else {
        return Built::Abandoned;
    };
    let mut entity: Value = match serde_json::from_str(processed) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Built::Abandoned,
    };
    let Some(root) = entity.as_object_mut() else {
        return Built::Abandoned;
    };
    {
        let metadata = object_at(root, "metadata");
        if incoming_edges == 0 {
            object_at(metadata, "annotations")
                .insert(ANNOTATION_ORPHAN.to_owned(), Value::String("true".into()));
        }
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            for key in [ANNOTATION_VIEW_URL, ANNOTATION_EDIT_URL] {
                if let Some(Value::String(url)) = annotations.get_mut(key)
                    && is_script_url(url)
                {
                    *url = REJECTED_URL.to_owned();
                }
            }
        }
    }
    let mut relation_items: Vec<&(String, String)> = relations.iter().collect();
    relation_items.sort();
    relation_items.dedup();
    root.insert(
        "relations".into(),
        Value::Array(
            relation_items
                .into_iter()
                .map(|(t, target)| json!({"type": t, "targetRef": target}))
                .collect(),
        ),
    );
    if !errors.is_empty()
        && let Ok(Value::Array(errors)) = serde_json::from_str::<Value>(errors)
        && !errors.is_empty()
    {
        let status = object_at(root, "status");
        let items = status.entry("items").or_insert_with(|| json!([]));
        if !items.is_array() {
            *items = json!([]);
        }
        if let Value::Array(items) = items {
            for error in errors {
                let name = error.get("name").and_then(Value::as_str).unwrap_or("Error");
                let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                items.push(json!({
                    "type": PROCESSING_STATUS_TYPE,
                    "level": "error",
                    "message": format!("{name}: {message}"),
                    "error": error,
                }));
            }
        }
    }
    let hash = stable_hash(&entity);
    if previous_hash == Some(hash.as_str()) {
        return Built::Unchanged;
    }
    if let Some(Value::Object(metadata)) = entity.get_mut("metadata") {
        metadata.insert("uid".into(), Value::String(entity_id.to_owned()));
        let has_etag = match metadata.get("etag") {
            None | Some(Value::Null | Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if !has_etag {
            metadata.insert("etag".into(), Value::String(hash.clone()));
        }
    }
    match crate::search::check_indexable(&entity) {
        Ok(()) => {}
        Err(CatalogError::Input(message)) => {
            return Built::Failed(SerializedError::new("InputError", message));
        }
        Err(error) => {
            tracing::debug!(%error, "search::flatten failed; stitching anyway");
        }
    }
    match serde_json::to_string(&entity) {
        Ok(json) => Built::Changed { hash, json },
        Err(_) => Built::Abandoned,
    }
}

/// The errors column with `error` appended (once).
fn with_error(errors: &str, error: &SerializedError) -> Option<String> {
    let mut list: Vec<Value> = if errors.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(errors).unwrap_or_default()
    };
    let value = serde_json::to_value(error).ok()?;
    if list.contains(&value) {
        return None;
    }
    list.push(value);
    serde_json::to_string(&list).ok()
}

impl CatalogStore {
    /// Queues entities for stitching.
    ///
    /// # Errors
    /// Database failures.
    pub async fn mark_for_stitching(&self, entity_refs: &[String]) -> Result<()> {
        let refs = sorted_unique(entity_refs.iter().map(|r| r.to_lowercase()));
        write_tx!(self, |tx| { mark_in_tx(self, tx, &refs, now_ms()).await })?;
        self.notify_stitching();
        Ok(())
    }

    /// Claims up to `limit` due stitch requests with a lease, builds their final entities
    /// and writes the changed ones with fresh feed positions, all in three round trips of
    /// set queries plus one write transaction.
    ///
    /// # Errors
    /// Database failures (the claimed requests come back after `lease`).
    pub async fn stitch_batch(&self, limit: usize, lease: Duration) -> Result<StitchReport> {
        let lease = duration_ms(lease);
        let started = std::time::Instant::now();
        let token = uuid::Uuid::new_v4().hyphenated().to_string();
        let claimed: Vec<(String,)> = write_tx!(self, |tx| {
            let now = now_ms();
            let mut sql = self.sql("claiming stitch requests");
            sql.push("UPDATE stitch_queue SET next_stitch_at = ")
                .bind_int(now.saturating_add(lease))
                .push(", claimed_ticket = stitch_ticket, claim_token = ")
                .bind_text(token.as_str())
                .push(
                    " WHERE entity_ref IN (SELECT entity_ref FROM stitch_queue \
                     WHERE next_stitch_at <= ",
                )
                .bind_int(now)
                .push(" ORDER BY next_stitch_at LIMIT ")
                .bind_int(i64::try_from(limit).unwrap_or(i64::MAX));
            if self.dialect() == Dialect::Postgres {
                sql.push(" FOR UPDATE SKIP LOCKED");
            }
            sql.push(") RETURNING entity_ref");
            tx.fetch(sql).await
        })?;
        let mut report = StitchReport {
            claimed: claimed.len(),
            ..StitchReport::default()
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let refs: Vec<String> = claimed.into_iter().map(|(r,)| r).collect();
        let claim_ms = duration_ms(started.elapsed());

        // Read everything the batch needs.
        let mut tx = self.begin_read().await?;
        let read = async {
            let mut rows: Vec<StitchRow> = Vec::with_capacity(refs.len());
            let mut incoming: HashMap<String, i64> = HashMap::new();
            let mut relations: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for chunk in text_chunks(&refs) {
                let mut sql = self.sql("reading entities to stitch");
                sql.push(
                    "SELECT rs.entity_id, rs.entity_ref, rs.processed_entity, rs.errors, \
                     fe.hash AS previous_hash FROM refresh_state rs \
                     LEFT JOIN final_entities fe ON fe.entity_id = rs.entity_id WHERE ",
                )
                .push_in("rs.entity_ref", chunk);
                rows.extend(tx.fetch::<StitchRow>(sql).await?);
                let mut sql = self.sql("counting incoming references");
                sql.push("SELECT target_entity_ref, COUNT(*) FROM refresh_state_references WHERE ")
                    .push_in("target_entity_ref", chunk)
                    .push(" GROUP BY target_entity_ref");
                incoming.extend(tx.fetch::<(String, i64)>(sql).await?);
                let mut sql = self.sql("reading relations to stitch");
                sql.push(
                    "SELECT DISTINCT source_entity_ref, type, target_entity_ref FROM relations \
                     WHERE ",
                )
                .push_in("source_entity_ref", chunk);
                for (source, t, target) in tx.fetch::<(String, String, String)>(sql).await? {
                    relations.entry(source).or_default().push((t, target));
                }
            }
            Ok::<_, CatalogError>((rows, incoming, relations))
        }
        .await;
        tx.rollback().await;
        let (rows, incoming, relations) = read?;
        let read_ms = duration_ms(started.elapsed());

        // Build.
        let mut changed: Vec<(String, String, String, String)> = Vec::new(); // id, ref, hash, json
        let mut failures: Vec<(String, String)> = Vec::new(); // id, new errors
        let empty = Vec::new();
        for row in &rows {
            let built = build_final(
                &row.entity_id,
                row.processed_entity.as_deref(),
                &row.errors,
                incoming.get(&row.entity_ref).copied().unwrap_or(0),
                relations.get(&row.entity_ref).unwrap_or(&empty),
                row.previous_hash.as_deref(),
            );
            match built {
                Built::Abandoned => report.abandoned += 1,
                Built::Unchanged => report.unchanged += 1,
                Built::Changed { hash, json } => {
                    changed.push((row.entity_id.clone(), row.entity_ref.clone(), hash, json));
                }
                Built::Failed(error) => {
                    tracing::warn!(
                        entity_ref = %row.entity_ref,
                        "Entity {} cannot be indexed: {}",
                        row.entity_ref,
                        error.message
                    );
                    report.failed += 1;
                    if let Some(errors) = with_error(&row.errors, &error) {
                        failures.push((row.entity_id.clone(), errors));
                    }
                }
            }
        }
        report.abandoned += refs.len() - rows.len();
        drop(rows);
        let build_ms = duration_ms(started.elapsed());

        // Write: complete the requests whose ticket is unchanged, write those entities.
        let (written, requeued) =
            write_tx!(self, |tx| {
                let now = now_ms();
                // Lock the rows to write against concurrent deletion (their final rows cascade).
                let mut sql = self.sql("locking entities to stitch");
                sql.push(
                    "SELECT entity_id FROM refresh_state WHERE entity_ref IN \
                 (SELECT entity_ref FROM stitch_queue WHERE claim_token = ",
                )
                .bind_text(token.as_str())
                .push(")");
                if self.dialect() == Dialect::Postgres {
                    sql.push(" FOR KEY SHARE");
                }
                let existing: HashSet<String> = tx
                    .fetch::<(String,)>(sql)
                    .await?
                    .into_iter()
                    .map(|(id,)| id)
                    .collect();
                if self.dialect() == Dialect::Postgres {
                    // Lock this claim's queue rows in the byte order of their refs, the order
                    // `mark_in_tx` locks them in: the DELETE below would lock them in scan
                    // order and deadlock with processing marking the same entities again
                    // (PostgreSQL then aborts one side after `deadlock_timeout`, 1 s by
                    // default, which cost seconds per ingestion).
                    let mut sql = self.sql("locking stitch requests");
                    sql.push("SELECT entity_ref FROM stitch_queue WHERE claim_token = ")
                        .bind_text(token.as_str())
                        .push(" ORDER BY entity_ref COLLATE \"C\" FOR UPDATE");
                    tx.execute(sql).await?;
                }
                // Complete the requests nobody marked again meanwhile; re-queue the others.
                let mut sql = self.sql("completing stitch requests");
                sql.push("DELETE FROM stitch_queue WHERE claim_token = ")
                    .bind_text(token.as_str())
                    .push(" AND stitch_ticket = claimed_ticket RETURNING entity_ref");
                let completed: HashSet<String> = tx
                    .fetch::<(String,)>(sql)
                    .await?
                    .into_iter()
                    .map(|(r,)| r)
                    .collect();
                let mut sql = self.sql("re-queueing stitch requests");
                sql.push("UPDATE stitch_queue SET claim_token = NULL, next_stitch_at = ")
                    .bind_int(now)
                    .push(" WHERE claim_token = ")
                    .bind_text(token.as_str());
                let requeued = tx.execute(sql).await?;
                for chunk in byte_chunks(&failures, |(id, errors)| id.len() + errors.len()) {
                    let mut sql = self.sql("recording stitching errors");
                    sql.push("UPDATE refresh_state SET errors = x_errors FROM ")
                        .push_rows(
                            "x",
                            vec![
                                (
                                    "x_id",
                                    Column::Text(chunk.iter().map(|(id, _)| id.clone()).collect()),
                                ),
                                (
                                    "x_errors",
                                    Column::Text(chunk.iter().map(|(_, e)| e.clone()).collect()),
                                ),
                            ],
                        )
                        .push(" WHERE refresh_state.entity_id = x_id");
                    tx.execute(sql).await?;
                }
                let to_write: Vec<&(String, String, String, String)> = changed
                    .iter()
                    .filter(|(id, r, ..)| existing.contains(id) && completed.contains(r))
                    .collect();
                if !to_write.is_empty() {
                    // Last: the feed counter's row lock orders commits by seq.
                    let first = allocate_seq(self, tx, to_write.len()).await?;
                    let mut base = first;
                    for chunk in byte_chunks(&to_write, |c| c.3.len()) {
                        let mut sql = self.sql("writing final entities");
                        sql.push(
                        "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity, \
                         last_updated_at, seq) SELECT x_id, x_ref, x_hash, x_json, ",
                    )
                    .bind_int(now)
                    .push(", x_seq FROM ")
                    .push_rows(
                        "x",
                        vec![
                            ("x_id", Column::Text(chunk.iter().map(|c| c.0.clone()).collect())),
                            ("x_ref", Column::Text(chunk.iter().map(|c| c.1.clone()).collect())),
                            ("x_hash", Column::Text(chunk.iter().map(|c| c.2.clone()).collect())),
                            ("x_json", Column::Text(chunk.iter().map(|c| c.3.clone()).collect())),
                            (
                                "x_seq",
                                Column::Int((0..chunk.len()).map(|i| base + i as i64).collect()),
                            ),
                        ],
                    )
                    .push(
                        " WHERE true ON CONFLICT (entity_id) DO UPDATE SET \
                         hash = excluded.hash, final_entity = excluded.final_entity, \
                         last_updated_at = excluded.last_updated_at, seq = excluded.seq",
                    );
                        tx.execute(sql).await?;
                        base += chunk.len() as i64;
                    }
                }
                Ok((
                    to_write.len(),
                    usize::try_from(requeued).unwrap_or(usize::MAX),
                ))
            })?;
        report.changed = written;
        report.requeued = requeued;
        tracing::debug!(
            claimed = report.claimed,
            written,
            claim_ms,
            read_ms,
            build_ms,
            total_ms = duration_ms(started.elapsed()),
            "stitched a batch"
        );
        if written > 0 {
            self.notify_feed();
        }
        if requeued > 0 {
            self.notify_stitching();
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_urls_are_detected_like_browsers_do() {
        assert!(is_script_url("javascript:alert(1)"));
        assert!(is_script_url(" \u{1}JavaScript:alert(1)"));
        assert!(is_script_url("java\tscr\nipt\r:x"));
        assert!(!is_script_url("https://example.com"));
        assert!(!is_script_url("javascript"));
        assert!(!is_script_url("xjavascript:"));
    }
}
