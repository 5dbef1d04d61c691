//! Compact building blocks of the index: an open-addressing id table, a string arena, a
//! block store for entity documents, posting lists over dense `u32` slots and a bit set.
//!
//! They exist to keep the index small: a value that occurs once costs a 32-byte entry, about
//! 12 bytes of table and its characters, instead of a boxed string, a hash map entry and a
//! vector.

use bytes::{Bytes, BytesMut};

/// "No id" marker in linked lists and handles.
pub(super) const NONE: u32 = u32::MAX;

/// An open-addressing hash table of `u32` ids; the caller keeps the keys and supplies the
/// hash and an equality test. Linear probing with backward-shift deletion, so lookups stop
/// at the first empty bucket and several ids may share one hash (multi-map use).
#[derive(Debug, Default)]
pub(super) struct IdTable {
    /// `(id + 1, low 32 bits of the hash)`; id 0 marks an empty bucket.
    buckets: Vec<(u32, u32)>,
    len: usize,
}

impl IdTable {
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The first id with this hash for which `eq` holds.
    pub(super) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut found = None;
        self.for_each_match(hash, |id| {
            if found.is_none() && eq(id) {
                found = Some(id);
            }
        });
        found
    }

    /// Calls `f` with every id stored under this hash (the caller filters by equality).
    pub(super) fn for_each_match(&self, hash: u64, mut f: impl FnMut(u32)) {
        if self.buckets.is_empty() {
            return;
        }
        let h = hash as u32;
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let (id1, bh) = self.buckets[i];
            if id1 == 0 {
                return;
            }
            if bh == h {
                f(id1 - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds an id (no duplicate check).
    pub(super) fn insert(&mut self, hash: u64, id: u32) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow();
        }
        self.place(hash as u32, id + 1);
        self.len += 1;
    }

    fn place(&mut self, h: u32, id1: u32) {
        let mask = self.mask();
        let mut i = h as usize & mask;
        while self.buckets[i].0 != 0 {
            i = (i + 1) & mask;
        }
        self.buckets[i] = (id1, h);
    }

    fn grow(&mut self) {
        let capacity = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![(0, 0); capacity]);
        for (id1, h) in old {
            if id1 != 0 {
                self.place(h, id1);
            }
        }
    }

    /// Removes this id (stored under this hash); whether it was there.
    pub(super) fn remove(&mut self, hash: u64, id: u32) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let h = hash as u32;
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let (id1, bh) = self.buckets[i];
            if id1 == 0 {
                return false;
            }
            if bh == h && id1 == id + 1 {
                break;
            }
            i = (i + 1) & mask;
        }
        // Backward-shift deletion.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let (id1, bh) = self.buckets[j];
            if id1 == 0 {
                break;
            }
            let k = bh as usize & mask;
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.buckets[i] = self.buckets[j];
                i = j;
            }
        }
        self.buckets[i] = (0, 0);
        self.len -= 1;
        true
    }

    /// Approximate heap bytes.
    pub(super) fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * 8
    }
}

/// A byte arena for strings, addressed by `(offset, len)`: blocks of [`ARENA_BLOCK`] bytes
/// that never move, so growing the arena neither copies it nor holds two copies at once (as a
/// doubling `Vec` would). A string never straddles blocks; one longer than a block gets a
/// block of its own.
#[derive(Debug, Default)]
pub(super) struct Arena {
    blocks: Vec<Vec<u8>>,
    /// Bytes stored.
    len: usize,
    /// Bytes no longer referenced.
    pub(super) garbage: usize,
}

/// Bytes per arena block (the low 20 bits of an offset address inside a block).
const ARENA_BLOCK: usize = 1 << 20;

impl Arena {
    pub(super) fn push(&mut self, s: &str) -> (u32, u32) {
        let bytes = s.as_bytes();
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.len() + bytes.len() <= b.capacity().min(ARENA_BLOCK));
        if !fits {
            self.blocks
                .push(Vec::with_capacity(ARENA_BLOCK.max(bytes.len())));
        }
        let index = self.blocks.len() - 1;
        let block = &mut self.blocks[index];
        let pos = block.len();
        block.extend_from_slice(bytes);
        self.len += bytes.len();
        (saturate(index * ARENA_BLOCK + pos), saturate(bytes.len()))
    }

    pub(super) fn get(&self, off: u32, len: u32) -> &str {
        let (off, len) = (off as usize, len as usize);
        let (index, pos) = (off / ARENA_BLOCK, off % ARENA_BLOCK);
        self.blocks
            .get(index)
            .and_then(|b| b.get(pos..pos + len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    pub(super) fn should_compact(&self) -> bool {
        self.garbage > (1 << 20) && self.garbage * 2 > self.len
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.blocks.iter().map(Vec::capacity).sum()
    }
}

/// Entity documents packed into shared blocks of [`DOC_BLOCK`] bytes: each stored value is
/// a [`Bytes`] slice of a block, so an entity costs no allocation of its own and the
/// documents, the bulk of the index, stay out of the allocator's small size classes, where
/// they would be interleaved with short-lived allocations and pin their pages. A block is
/// freed when no slice of it is left, in the index or with a reader.
///
/// Replacing documents leaves dead bytes in older blocks; once they exceed an eighth of the
/// bytes held (and [`DOC_BLOCK`]), [`DocStore::should_compact`] says so and the owner copies
/// the live documents of blocks with more than an eighth dead into new blocks
/// ([`DocStore::sparse_blocks`]). Every copy reclaims at least a seventh of its size, and
/// dead bytes stay near an eighth of the documents (the looser thresholds first tried let
/// them eat what the blocks save over one allocation per document).
#[derive(Debug, Default)]
pub(super) struct DocStore {
    current: BytesMut,
    current_id: u32,
    blocks: Vec<DocBlock>,
    free_ids: Vec<u32>,
    /// Bytes written into blocks that are still tracked.
    written: usize,
    /// Bytes of those referenced by stored documents.
    live: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct DocBlock {
    written: usize,
    live: usize,
    tracked: bool,
}

/// Bytes per document block; a document over a quarter of this gets a buffer of its own.
pub(super) const DOC_BLOCK: usize = 256 * 1024;

/// Block id of a document stored in a buffer of its own.
pub(super) const OWN_BUFFER: u32 = u32::MAX;

impl DocStore {
    /// Stores the concatenation of `parts`; returns it and its block id.
    pub(super) fn push(&mut self, parts: &[&[u8]]) -> (Bytes, u32) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > DOC_BLOCK / 4 {
            return (Bytes::from(parts.concat()), OWN_BUFFER);
        }
        if self.blocks.is_empty() || self.current.capacity() - self.current.len() < len {
            if let Some(old) = self.blocks.get_mut(self.current_id as usize)
                && old.tracked
                && old.live == 0
            {
                // Every document of the block being left was removed already.
                self.written = self.written.saturating_sub(old.written);
                *old = DocBlock::default();
                self.free_ids.push(self.current_id);
            }
            self.current = BytesMut::with_capacity(DOC_BLOCK);
            let block = DocBlock {
                tracked: true,
                ..DocBlock::default()
            };
            self.current_id = match self.free_ids.pop() {
                Some(id) => {
                    self.blocks[id as usize] = block;
                    id
                }
                None => {
                    self.blocks.push(block);
                    saturate(self.blocks.len() - 1)
                }
            };
        }
        for part in parts {
            self.current.extend_from_slice(part);
        }
        let block = &mut self.blocks[self.current_id as usize];
        block.written += len;
        block.live += len;
        self.written += len;
        self.live += len;
        (self.current.split().freeze(), self.current_id)
    }

    /// Forgets a stored document of `len` bytes in block `id`.
    pub(super) fn remove(&mut self, id: u32, len: usize) {
        let Some(block) = self.blocks.get_mut(id as usize).filter(|b| b.tracked) else {
            return;
        };
        block.live = block.live.saturating_sub(len);
        self.live = self.live.saturating_sub(len);
        if block.live == 0 && id != self.current_id {
            self.written = self.written.saturating_sub(block.written);
            *block = DocBlock::default();
            self.free_ids.push(id);
        }
    }

    pub(super) fn should_compact(&self) -> bool {
        let dead = self.written - self.live;
        dead >= DOC_BLOCK && dead * 8 > self.written
    }

    /// Blocks (other than the one being filled) with more than an eighth of what was written
    /// to them dead, as a lookup table by block id.
    pub(super) fn sparse_blocks(&self) -> Vec<bool> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(id, b)| b.tracked && id as u32 != self.current_id && b.live * 8 < b.written * 7)
            .collect()
    }

    /// Bytes held in tracked blocks (written, live or not, plus the unused tail of the block
    /// being filled).
    pub(super) fn heap_bytes(&self) -> usize {
        self.written + self.current.capacity()
    }
}

pub(super) fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Posting lists: a handle is [`NONE`] (empty), a slot id (one element) or
/// `MANY | index` into sorted lists.
#[derive(Debug, Default)]
pub(super) struct Postings {
    lists: Vec<Vec<u32>>,
    free: Vec<u32>,
}

const MANY: u32 = 0x8000_0000;

impl Postings {
    pub(super) fn slice<'a>(&'a self, handle: &'a u32) -> &'a [u32] {
        if *handle == NONE {
            &[]
        } else if *handle & MANY == 0 {
            std::slice::from_ref(handle)
        } else {
            self.lists
                .get((*handle & !MANY) as usize)
                .map_or(&[], Vec::as_slice)
        }
    }

    pub(super) fn insert(&mut self, handle: &mut u32, slot: u32) {
        if *handle == NONE {
            *handle = slot;
        } else if *handle & MANY == 0 {
            if *handle == slot {
                return;
            }
            let list = if *handle < slot {
                vec![*handle, slot]
            } else {
                vec![slot, *handle]
            };
            let index = match self.free.pop() {
                Some(i) => {
                    self.lists[i as usize] = list;
                    i
                }
                None => {
                    self.lists.push(list);
                    saturate(self.lists.len() - 1)
                }
            };
            *handle = MANY | index;
        } else if let Some(list) = self.lists.get_mut((*handle & !MANY) as usize)
            && let Err(pos) = list.binary_search(&slot)
        {
            list.insert(pos, slot);
        }
    }

    pub(super) fn remove(&mut self, handle: &mut u32, slot: u32) {
        if *handle == NONE {
            return;
        }
        if *handle & MANY == 0 {
            if *handle == slot {
                *handle = NONE;
            }
            return;
        }
        let index = *handle & !MANY;
        let Some(list) = self.lists.get_mut(index as usize) else {
            return;
        };
        if let Ok(pos) = list.binary_search(&slot) {
            list.remove(pos);
        }
        if list.len() == 1 {
            *handle = list[0];
            *list = Vec::new();
            self.free.push(index);
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.lists.capacity() * 24 + self.lists.iter().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

/// A fixed-size bit set over slot ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(super) fn new(bits: usize) -> Self {
        Self {
            words: vec![0; bits.div_ceil(64)],
        }
    }

    pub(super) fn ensure(&mut self, bits: usize) {
        let words = bits.div_ceil(64);
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
    }

    pub(super) fn insert(&mut self, bit: u32) {
        let (w, b) = (bit as usize / 64, bit % 64);
        if let Some(word) = self.words.get_mut(w) {
            *word |= 1 << b;
        }
    }

    pub(super) fn remove(&mut self, bit: u32) {
        let (w, b) = (bit as usize / 64, bit % 64);
        if let Some(word) = self.words.get_mut(w) {
            *word &= !(1 << b);
        }
    }

    pub(super) fn contains(&self, bit: u32) -> bool {
        let (w, b) = (bit as usize / 64, bit % 64);
        self.words.get(w).is_some_and(|word| word & (1 << b) != 0)
    }

    pub(super) fn insert_all(&mut self, bits: &[u32]) {
        for &bit in bits {
            self.insert(bit);
        }
    }

    pub(super) fn and(&mut self, other: &BitSet) {
        for (i, word) in self.words.iter_mut().enumerate() {
            *word &= other.words.get(i).copied().unwrap_or(0);
        }
    }

    pub(super) fn or(&mut self, other: &BitSet) {
        for (word, o) in self.words.iter_mut().zip(&other.words) {
            *word |= o;
        }
    }

    pub(super) fn and_not(&mut self, other: &BitSet) {
        for (word, o) in self.words.iter_mut().zip(&other.words) {
            *word &= !o;
        }
    }

    pub(super) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Counts the given bits that are set.
    pub(super) fn count_in(&self, bits: &[u32]) -> usize {
        bits.iter().filter(|b| self.contains(**b)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_blocks_never_split_strings() {
        let mut arena = Arena::default();
        let small = "x".repeat(ARENA_BLOCK - 10);
        let a = arena.push(&small);
        let b = arena.push("hello world"); // does not fit the first block's 10 bytes
        let big = "y".repeat(ARENA_BLOCK + 5);
        let c = arena.push(&big);
        let d = arena.push("après");
        assert_eq!(arena.get(a.0, a.1), small);
        assert_eq!(arena.get(b.0, b.1), "hello world");
        assert_eq!(b.0 as usize, ARENA_BLOCK);
        assert_eq!(arena.get(c.0, c.1), big);
        assert_eq!(arena.get(d.0, d.1), "après");
        assert_eq!(d.0 as usize, 3 * ARENA_BLOCK);
        assert_eq!(arena.get(u32::MAX, 3), "");
    }

    #[test]
    fn doc_store_packs_documents_and_tracks_dead_bytes() {
        let mut docs = DocStore::default();
        let doc = vec![b'x'; 1000];
        let mut stored = Vec::new();
        for i in 0..600u32 {
            let tag = i.to_string();
            let (bytes, block) = docs.push(&[tag.as_bytes(), &doc]);
            assert_eq!(&bytes[..tag.len()], tag.as_bytes());
            assert_eq!(bytes.len(), tag.len() + doc.len());
            stored.push((bytes, block));
        }
        // ~600 KB in 256 KiB blocks: three blocks, documents never straddle them.
        let blocks: std::collections::BTreeSet<u32> = stored.iter().map(|(_, b)| *b).collect();
        assert_eq!(blocks.len(), 3);
        assert!(!docs.should_compact());

        // Dropping most documents of the first two blocks makes them sparse.
        let mut kept = Vec::new();
        for (i, (bytes, block)) in stored.into_iter().enumerate() {
            if block != 2 && i % 5 != 0 {
                docs.remove(block, bytes.len());
            } else {
                kept.push((bytes, block));
            }
        }
        assert!(docs.should_compact());
        let sparse = docs.sparse_blocks();
        assert_eq!(sparse, vec![true, true, false]);

        // Moving the survivors out frees the sparse blocks' ids for reuse.
        for (bytes, block) in kept.iter_mut().filter(|(_, b)| *b != 2) {
            let (moved, new_block) = docs.push(&[bytes.as_ref()]);
            docs.remove(*block, bytes.len());
            assert_eq!(moved, *bytes);
            (*bytes, *block) = (moved, new_block);
        }
        assert!(!docs.should_compact());
        assert_eq!(docs.live, kept.iter().map(|(b, _)| b.len()).sum::<usize>());

        // A document over a quarter block gets a buffer of its own, outside the accounting.
        let big = vec![b'y'; DOC_BLOCK / 2];
        let live = docs.live;
        let (bytes, block) = docs.push(&[&big]);
        assert_eq!((bytes.len(), block), (big.len(), OWN_BUFFER));
        docs.remove(block, bytes.len());
        assert_eq!(docs.live, live);
    }

    #[test]
    fn id_table_insert_find_remove_with_collisions() {
        let mut table = IdTable::default();
        // Many ids on few hashes, to exercise probing and backward shifts.
        for id in 0..500u32 {
            table.insert(u64::from(id % 7), id);
        }
        assert_eq!(table.len(), 500);
        for id in (0..500u32).step_by(3) {
            assert!(table.remove(u64::from(id % 7), id));
        }
        assert!(!table.remove(0, 0));
        for id in 0..500u32 {
            let found = table.find(u64::from(id % 7), |x| x == id);
            assert_eq!(found.is_some(), id % 3 != 0, "{id}");
        }
        let mut all = Vec::new();
        table.for_each_match(1, |id| all.push(id));
        all.sort_unstable();
        let expected: Vec<u32> = (0..500).filter(|i| i % 7 == 1 && i % 3 != 0).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn postings_switch_between_single_and_many() {
        let mut p = Postings::default();
        let mut h = NONE;
        p.insert(&mut h, 5);
        assert_eq!(p.slice(&h), &[5]);
        p.insert(&mut h, 2);
        p.insert(&mut h, 9);
        p.insert(&mut h, 5);
        assert_eq!(p.slice(&h), &[2, 5, 9]);
        p.remove(&mut h, 5);
        p.remove(&mut h, 2);
        assert_eq!(p.slice(&h), &[9]);
        p.remove(&mut h, 9);
        assert_eq!(h, NONE);
        assert!(p.slice(&h).is_empty());
    }

    #[test]
    fn bitset_operations() {
        let mut a = BitSet::new(130);
        a.insert_all(&[1, 64, 129]);
        let mut b = BitSet::new(130);
        b.insert_all(&[64, 100]);
        let mut c = a.clone();
        c.and(&b);
        assert_eq!(c.count(), 1);
        assert!(c.contains(64));
        c.or(&a);
        assert_eq!(c.count(), 3);
        c.and_not(&b);
        assert_eq!(c.count(), 2);
        assert_eq!(a.count_in(&[1, 2, 129]), 2);
        a.remove(1);
        assert!(!a.contains(1));
        assert!(BitSet::new(10).is_empty());
    }
}
