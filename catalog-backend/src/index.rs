//! The in-memory read model every replica keeps of the final entities.
//!
//! [`EntityIndex`] holds every final entity's stored JSON text (served verbatim, shared by
//! reference count) and the search rows of spec 2.1 as posting sets over dense `u32` slots:
//! for every `(key, lower-cased value, original value)` the set of entities that have such
//! a row, plus per key the entities whose value is null or too long (they "exist" but never
//! match, sort or facet). Every read endpoint is answered from it:
//!
//! * filters are evaluated as set operations on bit sets (spec 2.2, 2.3);
//! * sorted orders (by uid, by ref, by a sort key's lower-cased value then uid) are built
//!   lazily on first use and kept until the next write;
//! * facets count posting sets against the filter without touching entities;
//! * lookups by ref and uid are hash lookups.
//!
//! Writes come in batches from the final-entity change feed ([`EntityIndex::apply`]); JSON
//! parsing and flattening happen before the write lock is taken, so readers are blocked only
//! while the postings are updated. Readers never block each other.
//!
//! Sort and facet order is the byte order of the lower-cased UTF-8 value (decisions.md), ties
//! broken by uid; facet values with the same lower-cased value are ordered by their original
//! spelling's bytes.

mod table;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard};

use bytes::Bytes;
use serde_json::Value;

use crate::model::FinalEntityChange;
use crate::query::{Cursor, FullTextFilter, OrderDirection, OrderField, Predicate};
use crate::search::{SearchRow, flatten};
use table::{Arena, BitSet, DocStore, IdTable, NONE, Postings, saturate};

/// A final entity as the index holds it: a cheap handle (cloning shares the buffer) on its
/// uid, canonical ref and stored JSON text.
#[derive(Debug, Clone)]
pub struct IndexedEntity {
    /// The uid, the ref and the JSON text, back to back, in a slice of a shared block.
    data: Bytes,
    uid_len: u32,
    ref_len: u32,
}

impl IndexedEntity {
    fn part(&self, range: std::ops::Range<usize>) -> &str {
        // The parts were stored from `&str`s, so they are valid UTF-8.
        self.data
            .get(range)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn uid_bytes(&self) -> &[u8] {
        self.data.get(..self.uid_len as usize).unwrap_or(&[])
    }

    fn ref_bytes(&self) -> &[u8] {
        let start = self.uid_len as usize;
        self.data
            .get(start..start + self.ref_len as usize)
            .unwrap_or(&[])
    }

    fn json_start(&self) -> usize {
        self.uid_len as usize + self.ref_len as usize
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        self.part(0..self.uid_len as usize)
    }

    /// The canonical ref.
    pub fn entity_ref(&self) -> &str {
        let start = self.uid_len as usize;
        self.part(start..start + self.ref_len as usize)
    }

    /// The stored JSON text, served verbatim when no projection is asked for.
    pub fn json(&self) -> &[u8] {
        self.data.get(self.json_start()..).unwrap_or(&[])
    }

    /// The stored JSON text as a shared buffer (no copy), for response bodies.
    pub fn json_bytes(&self) -> Bytes {
        self.data.slice(self.json_start()..)
    }
}

/// The index of final entities. `Send + Sync`; share it in an `Arc`.
#[derive(Debug, Default)]
pub struct EntityIndex {
    inner: RwLock<Inner>,
}

/// A by-query request as the engine sees it (spec 3.2 steps 1-6): the query and position
/// live in `cursor`; an initial request has no `first_sort_field_values`.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The query, the position and the first page's total.
    pub cursor: Cursor,
    /// Rows to skip (initial requests only).
    pub offset: usize,
    /// Page size.
    pub limit: usize,
    /// `totalItems=exclude`: report 0 and do not count.
    pub skip_total_items: bool,
}

/// One page of a by-query request.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// The entities of the page, in order.
    pub items: Vec<IndexedEntity>,
    /// Entities matching the query (0 with `totalItems=exclude`).
    pub total_items: u64,
    /// The cursor of the next page, if more rows follow.
    pub next_cursor: Option<Cursor>,
    /// The cursor of the previous page, if this is not the first.
    pub prev_cursor: Option<Cursor>,
}

/// One facet value and how many entities have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    /// The original (not lower-cased) value.
    pub value: String,
    /// Number of matching entities with this value.
    pub count: u64,
}

/// Sizes of the index's parts, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Entities.
    pub entities: usize,
    /// Distinct search keys.
    pub keys: usize,
    /// Distinct `(key, value, original value)` entries.
    pub entries: usize,
    /// Bytes of stored entity JSON.
    pub json_bytes: usize,
    /// Bytes held by the blocks that store the entities' uids, refs and JSON, including
    /// bytes of replaced entities not yet compacted away.
    pub document_bytes: usize,
    /// Approximate heap bytes of the search structures (excluding the JSON).
    pub search_bytes: usize,
}

const NULL_ROW: u32 = 0x8000_0000;

#[derive(Debug)]
struct SlotData {
    entity: IndexedEntity,
    /// The [`DocStore`] block holding the entity's data.
    block: u32,
    /// Entry ids, or `NULL_ROW | key id` for a null row of that key.
    rows: Box<[u32]>,
}

#[derive(Debug, Clone, Copy)]
struct KeyData {
    name_off: u32,
    name_len: u32,
    /// First entry of this key (linked through `Entry::next`).
    head: u32,
    entries: u32,
    /// Entities with a null or over-long value for this key.
    nulls: u32,
    live: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u32,
    off: u32,
    len: u32,
    orig_off: u32,
    orig_len: u32,
    posting: u32,
    prev: u32,
    next: u32,
}

/// One key's rows sorted by `(lower value bytes, uid)`, and the entities having a value.
#[derive(Debug)]
struct SortedKey {
    rows: Vec<(u32, u32)>,
    with_value: BitSet,
}

type SortedRows = Arc<SortedKey>;

#[derive(Debug, Default)]
struct Caches {
    uid_order: OnceLock<Arc<Vec<u32>>>,
    uid_rank: OnceLock<Arc<Vec<u32>>>,
    ref_order: OnceLock<Arc<Vec<u32>>>,
    sorted: Mutex<HashMap<u32, SortedRows>>,
}

#[derive(Debug, Default)]
struct Inner {
    hasher: RandomState,
    slots: Vec<Option<SlotData>>,
    free_slots: Vec<u32>,
    live: BitSet,
    count: usize,
    json_bytes: usize,
    by_ref: IdTable,
    by_uid: IdTable,
    keys: IdTable,
    key_data: Vec<KeyData>,
    free_keys: Vec<u32>,
    entries: IdTable,
    entry_data: Vec<Entry>,
    free_entries: Vec<u32>,
    arena: Arena,
    docs: DocStore,
    postings: Postings,
    caches: Caches,
}

enum Prepared<'a> {
    Upsert {
        uid: &'a str,
        entity_ref: &'a str,
        json: &'a str,
        rows: Vec<SearchRow>,
    },
    Delete {
        uid: &'a str,
    },
    Skip,
}

impl EntityIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies changes from the feed, in order, as one batch.
    ///
    /// An upsert replaces the entity with the same uid (and any other entity with the same
    /// ref); a change whose JSON does not parse or flatten is logged and skipped, leaving the
    /// previous version in place. A deletion removes the entity with that uid, if any.
    pub fn apply(&self, changes: &[FinalEntityChange]) {
        if changes.is_empty() {
            return;
        }
        let prepared: Vec<Prepared> = changes.iter().map(prepare).collect();
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for change in prepared {
            match change {
                Prepared::Upsert {
                    uid,
                    entity_ref,
                    json,
                    rows,
                } => inner.upsert(uid, entity_ref, json, &rows),
                Prepared::Delete { uid } => {
                    if let Some(slot) = inner.slot_by_uid(uid) {
                        inner.remove_slot(slot);
                    }
                }
                Prepared::Skip => {}
            }
        }
        if inner.arena.should_compact() {
            inner.compact_arena();
        }
        if inner.docs.should_compact() {
            inner.compact_docs();
        }
        inner.caches = Caches::default();
    }

    /// Replaces the whole index with `other` (a reload), in one step for readers.
    pub(crate) fn replace(&self, other: EntityIndex) {
        let fresh = other
            .inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(
            &mut *self.inner.write().unwrap_or_else(PoisonError::into_inner),
            fresh,
        );
        drop(old);
    }

    /// The entity with this canonical ref (exact match).
    pub fn get_by_ref(&self, entity_ref: &str) -> Option<IndexedEntity> {
        let inner = self.read();
        inner
            .slot_by_ref(entity_ref)
            .and_then(|slot| inner.entity(slot))
    }

    /// The entity whose `metadata.uid` equals `uid` case-insensitively (spec 3.5).
    pub fn get_by_uid(&self, uid: &str) -> Option<IndexedEntity> {
        let inner = self.read();
        if let Some(slot) = inner.slot_by_uid(uid) {
            return inner.entity(slot);
        }
        let key = inner.key_id("metadata.uid")?;
        let lower = uid.to_lowercase();
        let mut found = None;
        inner.for_each_entry(key, &lower, |entry| {
            if found.is_none() {
                found = inner
                    .postings
                    .slice(&inner.entry_data[entry as usize].posting)
                    .first()
                    .copied();
            }
        });
        found.and_then(|slot| inner.entity(slot))
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.read().count
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sizes of the index's parts.
    pub fn stats(&self) -> IndexStats {
        let inner = self.read();
        IndexStats {
            entities: inner.count,
            keys: inner.keys.len(),
            entries: inner.entries.len(),
            json_bytes: inner.json_bytes,
            document_bytes: inner.docs.heap_bytes(),
            search_bytes: inner.search_bytes(),
        }
    }

    /// Whether the entity with this ref matches the predicate.
    pub fn matches(&self, entity_ref: &str, predicate: &Predicate) -> bool {
        let inner = self.read();
        inner
            .slot_by_ref(entity_ref)
            .is_some_and(|slot| inner.eval(predicate).contains(slot))
    }

    /// POST /entities/by-refs (spec 3.4): one slot per requested ref, exact match against
    /// canonical refs, `None` for missing or non-matching entities.
    pub fn by_refs<S: AsRef<str>>(
        &self,
        refs: &[S],
        filter: Option<&Predicate>,
    ) -> Vec<Option<IndexedEntity>> {
        let inner = self.read();
        let allowed = filter.map(|f| inner.eval(f));
        refs.iter()
            .map(|r| {
                let slot = inner.slot_by_ref(r.as_ref())?;
                if allowed.as_ref().is_some_and(|set| !set.contains(slot)) {
                    return None;
                }
                inner.entity(slot)
            })
            .collect()
    }

    /// Every matching entity in by-query order (non-paginated GET /entities, spec 3.1): by
    /// the first order field's value then uid, entities without a value excluded (and
    /// entities with several values listed once per value); by uid without an order field.
    pub fn list(
        &self,
        filter: Option<&Predicate>,
        order: Option<&OrderField>,
    ) -> Vec<IndexedEntity> {
        let inner = self.read();
        let candidates = inner.candidates(filter, None, order);
        let mut out = Vec::new();
        inner.walk(order, &candidates, None, false, |slot, _| {
            if let Some(entity) = inner.entity(slot) {
                out.push(entity);
            }
            true
        });
        out
    }

    /// Paginated GET /entities (spec 3.1, 2.5): every order field honoured with nulls last
    /// per field, ties by uid; by ref without order fields. Returns the page and whether
    /// more rows follow.
    pub fn list_paginated(
        &self,
        filter: Option<&Predicate>,
        order: &[OrderField],
        offset: usize,
        limit: Option<usize>,
    ) -> (Vec<IndexedEntity>, bool) {
        let inner = self.read();
        let candidates = match filter {
            Some(f) => inner.eval(f),
            None => inner.live.clone(),
        };
        let take = limit.map_or(usize::MAX, |l| l.saturating_add(1));
        let slots: Vec<u32> = if order.is_empty() {
            inner
                .ref_order()
                .iter()
                .copied()
                .filter(|s| candidates.contains(*s))
                .skip(offset)
                .take(take)
                .collect()
        } else {
            let ranks: Vec<(Vec<u32>, OrderDirection)> = order
                .iter()
                .map(|f| (inner.value_ranks(&f.field, f.order), f.order))
                .collect();
            let uid_rank = inner.uid_rank();
            let mut slots: Vec<u32> = inner
                .uid_order()
                .iter()
                .copied()
                .filter(|s| candidates.contains(*s))
                .collect();
            slots.sort_by(|a, b| {
                for (rank, direction) in &ranks {
                    let (ra, rb) = (rank[*a as usize], rank[*b as usize]);
                    let ordering = match (ra == NONE, rb == NONE) {
                        (true, true) => Ordering::Equal,
                        (true, false) => Ordering::Greater,
                        (false, true) => Ordering::Less,
                        (false, false) if *direction == OrderDirection::Desc => rb.cmp(&ra),
                        (false, false) => ra.cmp(&rb),
                    };
                    if ordering != Ordering::Equal {
                        return ordering;
                    }
                }
                uid_rank[*a as usize].cmp(&uid_rank[*b as usize])
            });
            slots.into_iter().skip(offset).take(take).collect()
        };
        let mut items: Vec<IndexedEntity> =
            slots.into_iter().filter_map(|s| inner.entity(s)).collect();
        let more = limit.is_some_and(|l| items.len() > l);
        if let Some(l) = limit {
            items.truncate(l);
        }
        (items, more)
    }

    /// The by-query engine (spec 3.2): filter, sort (first order field; entities without a
    /// value excluded), full-text filter, keyset paging in both directions, total count.
    pub fn query(&self, request: &QueryRequest) -> QueryPage {
        let inner = self.read();
        let cursor = &request.cursor;
        let sort = cursor.order_fields.first();
        let candidates = inner.candidates(
            cursor.query.as_ref(),
            cursor.full_text_filter.as_ref(),
            sort,
        );
        let total_items = match cursor.total_items {
            Some(total) => total,
            None if request.skip_total_items => 0,
            None => candidates.count() as u64,
        };
        let backwards = cursor.is_previous;
        let limit = request.limit;
        let is_initial = cursor.first_sort_field_values.is_none();
        let mut rows: Vec<(u32, u32)> = Vec::new();
        if limit > 0 {
            let position = match (sort.is_some(), cursor.order_field_values.as_slice()) {
                (true, [value, uid]) => Some((
                    value.clone().unwrap_or_default(),
                    uid.clone().unwrap_or_default(),
                )),
                (false, [uid]) => Some((String::new(), uid.clone().unwrap_or_default())),
                _ => None,
            };
            let want = if backwards {
                limit
            } else {
                limit.saturating_add(1)
            };
            let mut skip = if is_initial { request.offset } else { 0 };
            inner.walk(
                sort,
                &candidates,
                position.as_ref(),
                backwards,
                |slot, entry| {
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    rows.push((entry, slot));
                    rows.len() < want
                },
            );
        }
        if backwards {
            rows.reverse();
        }
        let has_more = limit > 0 && (backwards || rows.len() > limit);
        rows.truncate(limit);

        let sort_values = |row: &(u32, u32)| -> Vec<Option<String>> {
            let uid = inner.entity(row.1).map(|e| e.uid().to_owned());
            if sort.is_some() {
                vec![Some(inner.entry_value(row.0).to_owned()), uid]
            } else {
                vec![uid]
            }
        };
        let first_values = rows.first().map(&sort_values);
        let first_sort_field_values = cursor
            .first_sort_field_values
            .clone()
            .or_else(|| first_values.clone());
        let next_cursor = has_more.then(|| Cursor {
            order_field_values: rows.last().map(&sort_values).unwrap_or_default(),
            first_sort_field_values: first_sort_field_values.clone(),
            is_previous: false,
            total_items: Some(total_items),
            ..cursor.clone()
        });
        let prev_cursor = (!is_initial
            && first_values.is_some()
            && first_values != cursor.first_sort_field_values)
            .then(|| Cursor {
                order_field_values: first_values.clone().unwrap_or_default(),
                first_sort_field_values: cursor.first_sort_field_values.clone(),
                is_previous: true,
                total_items: Some(total_items),
                ..cursor.clone()
            });
        QueryPage {
            items: rows
                .iter()
                .filter_map(|(_, slot)| inner.entity(*slot))
                .collect(),
            total_items,
            next_cursor,
            prev_cursor,
        }
    }

    /// Facets (spec 3.10): per requested facet (looked up lower-cased), the original values
    /// of the matching entities with the number of entities having each; null and
    /// over-long values excluded; values differing in case are separate entries. Sorted by
    /// the lower-cased value's bytes, then the original's bytes.
    pub fn facets<S: AsRef<str>>(
        &self,
        facets: &[S],
        filter: Option<&Predicate>,
    ) -> Vec<Vec<FacetCount>> {
        let inner = self.read();
        let allowed = filter.map(|f| inner.eval(f));
        facets
            .iter()
            .map(|facet| {
                let Some(key) = inner.key_id(&facet.as_ref().to_lowercase()) else {
                    return Vec::new();
                };
                let mut counts: Vec<(u32, u64)> = Vec::new();
                inner.for_each_key_entry(key, |entry| {
                    let posting = inner
                        .postings
                        .slice(&inner.entry_data[entry as usize].posting);
                    let count = match &allowed {
                        Some(set) => set.count_in(posting),
                        None => posting.len(),
                    };
                    if count > 0 {
                        counts.push((entry, count as u64));
                    }
                });
                counts.sort_by(|(a, _), (b, _)| {
                    inner
                        .entry_value(*a)
                        .as_bytes()
                        .cmp(inner.entry_value(*b).as_bytes())
                        .then_with(|| {
                            inner
                                .entry_original(*a)
                                .as_bytes()
                                .cmp(inner.entry_original(*b).as_bytes())
                        })
                });
                counts
                    .into_iter()
                    .map(|(entry, count)| FacetCount {
                        value: inner.entry_original(entry).to_owned(),
                        count,
                    })
                    .collect()
            })
            .collect()
    }
}

fn prepare(change: &FinalEntityChange) -> Prepared<'_> {
    let Some(text) = &change.json else {
        return Prepared::Delete { uid: &change.uid };
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(entity_ref = %change.entity_ref, %error, "skipping final entity whose JSON does not parse");
            return Prepared::Skip;
        }
    };
    match flatten(&value) {
        Ok(rows) => Prepared::Upsert {
            uid: &change.uid,
            entity_ref: &change.entity_ref,
            json: text,
            rows,
        },
        Err(error) => {
            tracing::warn!(entity_ref = %change.entity_ref, %error, "skipping final entity that cannot be indexed");
            Prepared::Skip
        }
    }
}

impl Inner {
    fn entity(&self, slot: u32) -> Option<IndexedEntity> {
        self.slots
            .get(slot as usize)?
            .as_ref()
            .map(|s| s.entity.clone())
    }

    /// The slot's canonical ref, as bytes (compared and sorted bytewise).
    fn entity_ref_of(&self, slot: u32) -> &[u8] {
        self.slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .map_or(&[], |s| s.entity.ref_bytes())
    }

    /// The slot's uid, as bytes (compared and sorted bytewise).
    fn uid_of(&self, slot: u32) -> &[u8] {
        self.slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .map_or(&[], |s| s.entity.uid_bytes())
    }

    fn slot_by_ref(&self, entity_ref: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(entity_ref);
        self.by_ref.find(hash, |slot| {
            self.entity_ref_of(slot) == entity_ref.as_bytes()
        })
    }

    fn slot_by_uid(&self, uid: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(uid);
        self.by_uid
            .find(hash, |slot| self.uid_of(slot) == uid.as_bytes())
    }

    fn key_name(&self, key: u32) -> &str {
        let k = &self.key_data[key as usize];
        self.arena.get(k.name_off, k.name_len)
    }

    fn key_id(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.keys.find(hash, |key| self.key_name(key) == name)
    }

    fn entry_value(&self, entry: u32) -> &str {
        let e = &self.entry_data[entry as usize];
        self.arena.get(e.off, e.len)
    }

    fn entry_original(&self, entry: u32) -> &str {
        let e = &self.entry_data[entry as usize];
        self.arena.get(e.orig_off, e.orig_len)
    }

    fn entry_hash(&self, key: u32, value: &str) -> u64 {
        self.hasher.hash_one((key, value))
    }

    /// Every entry (one per original spelling) with this key and lower-cased value.
    fn for_each_entry(&self, key: u32, value: &str, mut f: impl FnMut(u32)) {
        let hash = self.entry_hash(key, value);
        self.entries.for_each_match(hash, |entry| {
            let e = &self.entry_data[entry as usize];
            if e.key == key && self.arena.get(e.off, e.len) == value {
                f(entry);
            }
        });
    }

    fn for_each_key_entry(&self, key: u32, mut f: impl FnMut(u32)) {
        let mut entry = self.key_data[key as usize].head;
        while entry != NONE {
            f(entry);
            entry = self.entry_data[entry as usize].next;
        }
    }

    fn search_bytes(&self) -> usize {
        self.by_ref.heap_bytes()
            + self.by_uid.heap_bytes()
            + self.keys.heap_bytes()
            + self.key_data.capacity() * std::mem::size_of::<KeyData>()
            + self.entries.heap_bytes()
            + self.entry_data.capacity() * std::mem::size_of::<Entry>()
            + self.arena.heap_bytes()
            + self.postings.heap_bytes()
            + self.slots.capacity() * std::mem::size_of::<Option<SlotData>>()
            + self
                .slots
                .iter()
                .flatten()
                .map(|s| s.rows.len() * 4 + s.entity.json_start())
                .sum::<usize>()
    }

    // ---- writes ----

    fn upsert(&mut self, uid: &str, entity_ref: &str, json: &str, rows: &[SearchRow]) {
        // The previous version (same uid, or same ref) is removed only after the new one's
        // rows are in, so the entries both versions share keep their postings and strings
        // instead of being freed and interned again (which left their old strings behind as
        // arena garbage on every update).
        let previous = [self.slot_by_uid(uid), self.slot_by_ref(entity_ref)];
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                saturate(self.slots.len() - 1)
            }
        };
        let mut row_ids = Vec::with_capacity(rows.len());
        for row in rows {
            let key = self.intern_key(&row.key);
            match (&row.value, &row.original_value) {
                (Some(value), Some(original)) => {
                    let entry = self.intern_entry(key, value, original);
                    let mut posting = self.entry_data[entry as usize].posting;
                    self.postings.insert(&mut posting, slot);
                    self.entry_data[entry as usize].posting = posting;
                    row_ids.push(entry);
                }
                _ => {
                    let mut nulls = self.key_data[key as usize].nulls;
                    self.postings.insert(&mut nulls, slot);
                    self.key_data[key as usize].nulls = nulls;
                    row_ids.push(NULL_ROW | key);
                }
            }
        }
        for old in previous.into_iter().flatten() {
            self.remove_slot(old);
        }
        self.json_bytes += json.len();
        let (data, block) =
            self.docs
                .push(&[uid.as_bytes(), entity_ref.as_bytes(), json.as_bytes()]);
        let entity = IndexedEntity {
            data,
            uid_len: saturate(uid.len()),
            ref_len: saturate(entity_ref.len()),
        };
        let ref_hash = self.hasher.hash_one(entity_ref);
        let uid_hash = self.hasher.hash_one(uid);
        self.slots[slot as usize] = Some(SlotData {
            entity,
            block,
            rows: row_ids.into_boxed_slice(),
        });
        self.by_ref.insert(ref_hash, slot);
        self.by_uid.insert(uid_hash, slot);
        self.live.ensure(self.slots.len());
        self.live.insert(slot);
        self.count += 1;
    }

    fn remove_slot(&mut self, slot: u32) {
        let Some(data) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        let ref_hash = self.hasher.hash_one(data.entity.entity_ref());
        let uid_hash = self.hasher.hash_one(data.entity.uid());
        self.by_ref.remove(ref_hash, slot);
        self.by_uid.remove(uid_hash, slot);
        for &row in data.rows.iter() {
            if row & NULL_ROW != 0 {
                let key = row & !NULL_ROW;
                let mut nulls = self.key_data[key as usize].nulls;
                self.postings.remove(&mut nulls, slot);
                self.key_data[key as usize].nulls = nulls;
                self.maybe_free_key(key);
            } else {
                let mut posting = self.entry_data[row as usize].posting;
                self.postings.remove(&mut posting, slot);
                self.entry_data[row as usize].posting = posting;
                if posting == NONE {
                    self.free_entry(row);
                }
            }
        }
        self.json_bytes -= data.entity.json().len();
        self.docs.remove(data.block, data.entity.data.len());
        self.live.remove(slot);
        self.free_slots.push(slot);
        self.count -= 1;
    }

    fn intern_key(&mut self, name: &str) -> u32 {
        if let Some(key) = self.key_id(name) {
            return key;
        }
        let (name_off, name_len) = self.arena.push(name);
        let data = KeyData {
            name_off,
            name_len,
            head: NONE,
            entries: 0,
            nulls: NONE,
            live: true,
        };
        let key = match self.free_keys.pop() {
            Some(key) => {
                self.key_data[key as usize] = data;
                key
            }
            None => {
                self.key_data.push(data);
                saturate(self.key_data.len() - 1)
            }
        };
        let hash = self.hasher.hash_one(name);
        self.keys.insert(hash, key);
        key
    }

    fn maybe_free_key(&mut self, key: u32) {
        let k = self.key_data[key as usize];
        if !k.live || k.entries > 0 || k.nulls != NONE {
            return;
        }
        let hash = self.hasher.hash_one(self.key_name(key));
        self.keys.remove(hash, key);
        self.arena.garbage += k.name_len as usize;
        self.key_data[key as usize].live = false;
        self.free_keys.push(key);
    }

    fn intern_entry(&mut self, key: u32, value: &str, original: &str) -> u32 {
        let mut existing = None;
        self.for_each_entry(key, value, |entry| {
            if existing.is_none() && self.entry_original(entry) == original {
                existing = Some(entry);
            }
        });
        if let Some(entry) = existing {
            return entry;
        }
        let (off, len) = self.arena.push(value);
        let (orig_off, orig_len) = if original == value {
            (off, len)
        } else {
            self.arena.push(original)
        };
        let head = self.key_data[key as usize].head;
        let data = Entry {
            key,
            off,
            len,
            orig_off,
            orig_len,
            posting: NONE,
            prev: NONE,
            next: head,
        };
        let entry = match self.free_entries.pop() {
            Some(entry) => {
                self.entry_data[entry as usize] = data;
                entry
            }
            None => {
                self.entry_data.push(data);
                saturate(self.entry_data.len() - 1)
            }
        };
        if head != NONE {
            self.entry_data[head as usize].prev = entry;
        }
        let k = &mut self.key_data[key as usize];
        k.head = entry;
        k.entries += 1;
        let hash = self.entry_hash(key, value);
        self.entries.insert(hash, entry);
        entry
    }

    fn free_entry(&mut self, entry: u32) {
        let e = self.entry_data[entry as usize];
        let hash = self.entry_hash(e.key, self.arena.get(e.off, e.len));
        self.entries.remove(hash, entry);
        if e.prev != NONE {
            self.entry_data[e.prev as usize].next = e.next;
        } else {
            self.key_data[e.key as usize].head = e.next;
        }
        if e.next != NONE {
            self.entry_data[e.next as usize].prev = e.prev;
        }
        self.key_data[e.key as usize].entries -= 1;
        self.arena.garbage += e.len as usize;
        if e.orig_off != e.off {
            self.arena.garbage += e.orig_len as usize;
        }
        self.free_entries.push(entry);
        self.maybe_free_key(e.key);
    }

    fn compact_arena(&mut self) {
        let old = std::mem::take(&mut self.arena);
        let mut arena = Arena::default();
        for k in self.key_data.iter_mut().filter(|k| k.live) {
            (k.name_off, k.name_len) = arena.push(old.get(k.name_off, k.name_len));
        }
        let mut live_entries = vec![false; self.entry_data.len()];
        for k in self.key_data.iter().filter(|k| k.live) {
            let mut entry = k.head;
            while entry != NONE {
                live_entries[entry as usize] = true;
                entry = self.entry_data[entry as usize].next;
            }
        }
        for (e, live) in self.entry_data.iter_mut().zip(live_entries) {
            if !live {
                continue;
            }
            let shared = e.orig_off == e.off && e.orig_len == e.len;
            let original = old.get(e.orig_off, e.orig_len).to_owned();
            (e.off, e.len) = arena.push(old.get(e.off, e.len));
            (e.orig_off, e.orig_len) = if shared {
                (e.off, e.len)
            } else {
                arena.push(&original)
            };
        }
        self.arena = arena;
    }

    /// Copies the documents of sparse blocks into new ones, so the old blocks are freed once
    /// readers drop their handles.
    fn compact_docs(&mut self) {
        let sparse = self.docs.sparse_blocks();
        if !sparse.contains(&true) {
            return;
        }
        for slot in self.slots.iter_mut().flatten() {
            if !sparse.get(slot.block as usize).copied().unwrap_or(false) {
                continue;
            }
            let (data, block) = self.docs.push(&[slot.entity.data.as_ref()]);
            self.docs.remove(slot.block, slot.entity.data.len());
            slot.entity.data = data;
            slot.block = block;
        }
    }

    // ---- reads ----

    fn uid_order(&self) -> Arc<Vec<u32>> {
        Arc::clone(self.caches.uid_order.get_or_init(|| {
            let mut slots: Vec<u32> = self.live_slots();
            slots.sort_by(|a, b| self.uid_of(*a).cmp(self.uid_of(*b)));
            Arc::new(slots)
        }))
    }

    fn uid_rank(&self) -> Arc<Vec<u32>> {
        Arc::clone(self.caches.uid_rank.get_or_init(|| {
            let mut rank = vec![NONE; self.slots.len()];
            for (i, slot) in self.uid_order().iter().enumerate() {
                rank[*slot as usize] = saturate(i);
            }
            Arc::new(rank)
        }))
    }

    fn ref_order(&self) -> Arc<Vec<u32>> {
        Arc::clone(self.caches.ref_order.get_or_init(|| {
            let mut slots: Vec<u32> = self.live_slots();
            slots.sort_by(|a, b| self.entity_ref_of(*a).cmp(self.entity_ref_of(*b)));
            Arc::new(slots)
        }))
    }

    fn live_slots(&self) -> Vec<u32> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| saturate(i))
            .collect()
    }

    /// `(entry, slot)` rows of a key sorted by (lower value bytes, uid).
    fn sorted_rows(&self, key: u32) -> SortedRows {
        let mut cache = self
            .caches
            .sorted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(rows) = cache.get(&key) {
            return Arc::clone(rows);
        }
        let uid_rank = self.uid_rank();
        let mut entries: Vec<u32> =
            Vec::with_capacity(self.key_data[key as usize].entries as usize);
        self.for_each_key_entry(key, |e| entries.push(e));
        entries.sort_by(|a, b| {
            self.entry_value(*a)
                .as_bytes()
                .cmp(self.entry_value(*b).as_bytes())
        });
        let mut rows: Vec<(u32, u32)> = Vec::new();
        let mut start = 0;
        while start < entries.len() {
            // Entries with the same lower-cased value (different spellings) form one run,
            // ordered by uid within it.
            let value = self.entry_value(entries[start]);
            let mut end = start + 1;
            while end < entries.len() && self.entry_value(entries[end]) == value {
                end += 1;
            }
            let run_start = rows.len();
            for &entry in &entries[start..end] {
                for &slot in self
                    .postings
                    .slice(&self.entry_data[entry as usize].posting)
                {
                    rows.push((entry, slot));
                }
            }
            rows[run_start..].sort_by_key(|(_, slot)| uid_rank[*slot as usize]);
            start = end;
        }
        let mut with_value = BitSet::new(self.slots.len());
        for (_, slot) in &rows {
            with_value.insert(*slot);
        }
        let sorted = Arc::new(SortedKey { rows, with_value });
        cache.insert(key, Arc::clone(&sorted));
        sorted
    }

    /// Per slot, the rank of its smallest (ascending) or largest (descending) value of the
    /// key among the key's distinct values; [`NONE`] without a value.
    fn value_ranks(&self, field: &str, direction: OrderDirection) -> Vec<u32> {
        let mut ranks = vec![NONE; self.slots.len()];
        let Some(key) = self.key_id(field) else {
            return ranks;
        };
        let sorted = self.sorted_rows(key);
        let mut rank = 0u32;
        let mut previous: Option<&str> = None;
        for (entry, slot) in &sorted.rows {
            let value = self.entry_value(*entry);
            if previous.is_some_and(|p| p != value) {
                rank += 1;
            }
            previous = Some(value);
            let r = &mut ranks[*slot as usize];
            if *r == NONE || direction == OrderDirection::Desc {
                *r = rank;
            }
        }
        ranks
    }

    /// Entities matching the filter and the full-text filter, and having a value for the
    /// sort key.
    fn candidates(
        &self,
        filter: Option<&Predicate>,
        full_text: Option<&FullTextFilter>,
        sort: Option<&OrderField>,
    ) -> BitSet {
        let mut set = match filter {
            Some(f) => self.eval(f),
            None => self.live.clone(),
        };
        if let Some(ft) = full_text {
            let term = ft.term.trim().to_lowercase();
            if !term.is_empty() {
                let fields: Vec<String> = match &ft.fields {
                    Some(fields) => fields.iter().map(|f| f.to_lowercase()).collect(),
                    None => {
                        vec![sort.map_or_else(|| "metadata.uid".to_owned(), |s| s.field.clone())]
                    }
                };
                let mut matching = BitSet::new(self.slots.len());
                for field in &fields {
                    if let Some(key) = self.key_id(field) {
                        self.for_each_key_entry(key, |entry| {
                            if self.entry_value(entry).contains(term.as_str()) {
                                matching.insert_all(
                                    self.postings
                                        .slice(&self.entry_data[entry as usize].posting),
                                );
                            }
                        });
                    }
                }
                set.and(&matching);
            }
        }
        if let Some(sort) = sort {
            match self.key_id(&sort.field) {
                Some(key) => set.and(&self.sorted_rows(key).with_value),
                None => set = BitSet::new(self.slots.len()),
            }
        }
        set
    }

    /// Walks the rows of the by-query order (sort key rows, or uid order without a sort
    /// key) that belong to `candidates`, starting strictly after `position` (`(value, uid)`)
    /// in the walking direction, calling `f(slot, entry)` until it returns false. Without a
    /// sort key, `entry` is [`NONE`].
    fn walk(
        &self,
        sort: Option<&OrderField>,
        candidates: &BitSet,
        position: Option<&(String, String)>,
        backwards: bool,
        mut f: impl FnMut(u32, u32) -> bool,
    ) {
        match sort {
            Some(sort) => {
                let Some(key) = self.key_id(&sort.field) else {
                    return;
                };
                let sorted = self.sorted_rows(key);
                let descending = (sort.order == OrderDirection::Desc) != backwards;
                let compare = |row: &(u32, u32), (value, uid): &(String, String)| {
                    self.entry_value(row.0)
                        .as_bytes()
                        .cmp(value.as_bytes())
                        .then_with(|| self.uid_of(row.1).cmp(uid.as_bytes()))
                };
                walk_rows(
                    &sorted.rows,
                    descending,
                    position,
                    compare,
                    |(entry, slot)| !candidates.contains(*slot) || f(*slot, *entry),
                );
            }
            None => {
                let order = self.uid_order();
                let compare = |slot: &u32, (_, uid): &(String, String)| {
                    self.uid_of(*slot).cmp(uid.as_bytes())
                };
                walk_rows(&order, backwards, position, compare, |slot| {
                    !candidates.contains(*slot) || f(*slot, NONE)
                });
            }
        }
    }

    /// Evaluates a predicate to the set of matching live entities.
    fn eval(&self, predicate: &Predicate) -> BitSet {
        match predicate {
            Predicate::All(items) => {
                let mut set = self.live.clone();
                for item in items {
                    if set.is_empty() {
                        break;
                    }
                    set.and(&self.eval(item));
                }
                set
            }
            Predicate::Any(items) => {
                let mut set = BitSet::new(self.slots.len());
                for item in items {
                    set.or(&self.eval(item));
                }
                set
            }
            Predicate::Not(inner) => {
                let mut set = self.live.clone();
                set.and_not(&self.eval(inner));
                set
            }
            Predicate::In { key, values } => {
                let mut set = BitSet::new(self.slots.len());
                if let Some(key) = self.key_id(key) {
                    for value in values {
                        self.for_each_entry(key, value, |entry| {
                            set.insert_all(
                                self.postings
                                    .slice(&self.entry_data[entry as usize].posting),
                            );
                        });
                    }
                }
                set
            }
            Predicate::Exists { key, exists } => {
                let mut set = BitSet::new(self.slots.len());
                if let Some(key) = self.key_id(key) {
                    set.insert_all(self.postings.slice(&self.key_data[key as usize].nulls));
                    self.for_each_key_entry(key, |entry| {
                        set.insert_all(
                            self.postings
                                .slice(&self.entry_data[entry as usize].posting),
                        );
                    });
                }
                if *exists {
                    set
                } else {
                    let mut all = self.live.clone();
                    all.and_not(&set);
                    all
                }
            }
            Predicate::HasPrefix { key, prefix } => {
                let mut set = BitSet::new(self.slots.len());
                if let Some(key) = self.key_id(key) {
                    self.for_each_key_entry(key, |entry| {
                        if self.entry_value(entry).starts_with(prefix.as_str()) {
                            set.insert_all(
                                self.postings
                                    .slice(&self.entry_data[entry as usize].posting),
                            );
                        }
                    });
                }
                set
            }
        }
    }
}

/// Walks `rows` (sorted ascending) in the given direction, starting strictly after
/// `position`, until `f` returns false.
fn walk_rows<T, P>(
    rows: &[T],
    descending: bool,
    position: Option<&P>,
    compare: impl Fn(&T, &P) -> Ordering,
    mut f: impl FnMut(&T) -> bool,
) {
    if descending {
        let end = position.map_or(rows.len(), |p| {
            rows.partition_point(|row| compare(row, p) == Ordering::Less)
        });
        for row in rows[..end].iter().rev() {
            if !f(row) {
                return;
            }
        }
    } else {
        let start = position.map_or(0, |p| {
            rows.partition_point(|row| compare(row, p) != Ordering::Greater)
        });
        for row in &rows[start..] {
            if !f(row) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
