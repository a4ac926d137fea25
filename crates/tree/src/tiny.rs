//! [`TinyLeaves`]: leaves with a few active voxels kept *inside* their lower internal
//! node instead of as leaf objects (decision 0011).
//!
//! A tiny leaf is a leaf whose inactive voxels all hold the store's one shared
//! `inactive` value and whose active voxels — at most [`TINY_MAX`] — are listed as
//! sorted `u16` voxel offsets with their values. All tiny leaves of a node share three
//! arrays (offsets, values, and a start index per leaf), found by rank over the slots
//! that hold one — a sorted slot list while there are at most [`LIST_MAX`] tiny leaves,
//! then a bit mask with a prefix count per word: about 6 bytes per `f32` value and
//! 4–8 per leaf, against a leaf object's 144-byte header, its own allocations and a
//! child pointer.
//!
//! Semantically a tiny leaf *is* a leaf (it counts in `leaf_count`, iterates like a
//! packed leaf, is a leaf for `value_level`); the node turns it into a real
//! [`LeafNode`](crate::LeafNode) ("promotes" it) when a write needs more than
//! [`TINY_MAX`] active voxels or an inactive voxel with another value, and turns small
//! leaves of at most [`TINY_DEMOTE`] active voxels back into tiny ones only on bulk
//! operations and `compact` — never on a single write, which is the hysteresis.

use crate::Value;

/// A tiny leaf holds at most this many active voxels; a write that needs one more
/// promotes it to a leaf object.
pub(crate) const TINY_MAX: usize = 16;
/// The most active voxels a tiny leaf holds: each leaf read by
/// [`TinyLeafIter::expand_keys`] writes this many places of its output.
///
/// ```
/// assert_eq!(sparsevdb_tree::TINY_LEAF_MAX, 16);
/// ```
pub const TINY_LEAF_MAX: usize = TINY_MAX;
/// Bulk operations and `compact` turn leaves with at most this many active voxels
/// (and the store's inactive value) into tiny ones: the tiny limit itself, so that a
/// leaf tiny before a bulk operation that leaves it as small is tiny after it.
/// (Single writes never turn a leaf tiny, so alternating writes cannot thrash.)
pub(crate) const TINY_DEMOTE: usize = TINY_MAX;
/// Up to this many tiny leaves their slots are a sorted list (4 bytes per leaf); past
/// it a mask and prefix counts (12 bytes per 64 slots: 768 bytes in a 16³ node).
pub(crate) const LIST_MAX: usize = 128;

/// Which slots hold a tiny leaf.
#[derive(Clone, Debug)]
enum Slots {
    /// The slots, ascending.
    List(Vec<u32>),
    /// Bit `n` on for slot `n`; `prefix[w]`: slots in mask words `0..w`.
    Mask {
        mask: Box<[u64]>,
        prefix: Box<[u32]>,
    },
}

impl Slots {
    /// The slots `sorted` (ascending) of a node of `words` mask words, as a list
    /// up to [`LIST_MAX`] of them, else as a mask with prefix counts.
    fn of_sorted(words: usize, sorted: Vec<u32>) -> Self {
        if sorted.len() <= LIST_MAX {
            Slots::List(sorted)
        } else {
            Self::mask_of(words, &sorted)
        }
    }

    /// The mask form of the ascending slots `sorted`.
    fn mask_of(words: usize, sorted: &[u32]) -> Self {
        let mut mask = vec![0u64; words].into_boxed_slice();
        for &s in sorted {
            mask[s as usize >> 6] |= 1u64 << (s & 63);
        }
        let mut prefix = vec![0u32; words].into_boxed_slice();
        let mut acc = 0;
        for (p, w) in prefix.iter_mut().zip(mask.iter()) {
            *p = acc;
            acc += w.count_ones();
        }
        Slots::Mask { mask, prefix }
    }
}

/// The tiny leaves of one internal node (see the module documentation).
#[derive(Clone, Debug)]
pub(crate) struct TinyLeaves<T> {
    /// The slots that hold a tiny leaf.
    slots: Slots,
    /// Where the entries of each tiny leaf (in slot order) start.
    starts: Starts,
    /// Voxel offsets of the entries, ascending within each leaf.
    offsets: Vec<u16>,
    /// Values of the entries (every listed voxel is active).
    values: Vec<T>,
    /// The value of every inactive voxel of every tiny leaf.
    inactive: T,
}

impl<T: Value> Default for TinyLeaves<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Value> TinyLeaves<T> {
    /// A store without tiny leaves (no allocation).
    pub(crate) fn new() -> Self {
        TinyLeaves {
            slots: Slots::List(Vec::new()),
            starts: Starts::default(),
            offsets: Vec::new(),
            values: Vec::new(),
            inactive: T::zeroed(),
        }
    }

    /// Number of tiny leaves.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when there is no tiny leaf.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.starts.len() == 0
    }

    /// Active voxels over all tiny leaves.
    #[inline]
    pub(crate) fn entry_count(&self) -> usize {
        self.offsets.len()
    }

    /// Every entry's value (slot order, then offset order).
    #[inline]
    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }

    /// Every entry's value, mutably.
    #[inline]
    pub(crate) fn values_mut(&mut self) -> &mut [T] {
        &mut self.values
    }

    /// The value of every inactive voxel of the tiny leaves.
    #[inline]
    pub(crate) fn inactive(&self) -> T {
        self.inactive
    }

    /// Replaces the shared inactive value (for `reset_background`).
    pub(crate) fn set_inactive(&mut self, v: T) {
        self.inactive = v;
    }

    /// Word `w` of the mask of slots holding a tiny leaf.
    #[inline]
    pub(crate) fn word(&self, w: usize) -> u64 {
        match &self.slots {
            Slots::Mask { mask, .. } => mask[w],
            Slots::List(list) => {
                let lo = (w * 64) as u32;
                let start = list.partition_point(|&n| n < lo);
                list[start..]
                    .iter()
                    .take_while(|&&n| n < lo + 64)
                    .fold(0u64, |acc, &n| acc | 1u64 << (n - lo))
            }
        }
    }

    /// True when slot `n` holds a tiny leaf.
    #[inline(always)]
    pub(crate) fn contains(&self, n: usize) -> bool {
        match &self.slots {
            Slots::Mask { mask, .. } => (mask[n >> 6] >> (n & 63)) & 1 != 0,
            Slots::List(list) => !list.is_empty() && list.binary_search(&(n as u32)).is_ok(),
        }
    }

    /// True when a new tiny leaf whose inactive voxels hold `inactive` can join.
    #[inline]
    pub(crate) fn accepts(&self, inactive: T) -> bool {
        self.is_empty() || T::same_bits(self.inactive, inactive)
    }

    /// Index (in slot order) of the tiny leaf at slot `n`, or where it would go.
    #[inline(always)]
    fn rank(&self, n: usize) -> usize {
        match &self.slots {
            Slots::Mask { mask, prefix } => {
                let w = n >> 6;
                let below = mask[w] & ((1u64 << (n & 63)) - 1);
                prefix[w] as usize + below.count_ones() as usize
            }
            Slots::List(list) => list.partition_point(|&s| s < n as u32),
        }
    }

    /// Entry range of the tiny leaf with index `i`.
    #[inline(always)]
    fn range(&self, i: usize) -> core::ops::Range<usize> {
        self.starts.get(i)..self.end(i)
    }

    /// Offsets and values of the tiny leaf at slot `n` (which must hold one).
    #[inline]
    pub(crate) fn leaf(&self, n: usize) -> (&[u16], &[T]) {
        let r = self.range(self.rank(n));
        (&self.offsets[r.clone()], &self.values[r])
    }

    /// Absolute entry position of offset `o` in leaf `i`: `Ok` when listed, `Err`
    /// where it would go.
    #[inline(always)]
    fn find(&self, i: usize, o: u16) -> Result<usize, usize> {
        let r = self.range(i);
        let base = r.start;
        match self.offsets[r].iter().position(|&x| x >= o) {
            Some(k) if self.offsets[base + k] == o => Ok(base + k),
            Some(k) => Err(base + k),
            None => Err(self.end(i)),
        }
    }

    /// Value and state of voxel `o` of the tiny leaf at slot `n`.
    #[inline]
    pub(crate) fn probe(&self, n: usize, o: usize) -> (T, bool) {
        match self.find(self.rank(n), o as u16) {
            Ok(k) => (self.values[k], true),
            Err(_) => (self.inactive, false),
        }
    }

    /// One past the last entry of leaf `i`.
    #[inline(always)]
    fn end(&self, i: usize) -> usize {
        if i + 1 < self.starts.len() {
            self.starts.get(i + 1)
        } else {
            self.offsets.len()
        }
    }

    fn shift_starts(&mut self, after: usize, up: bool) {
        self.starts.add_after(after, if up { 1 } else { -1 });
    }

    /// Room for `extra` more entries, growing by an eighth (not doubling: spare
    /// capacity is memory every tiny value pays for).
    fn reserve_entries(&mut self, extra: usize) {
        let len = self.offsets.len();
        if len + extra > self.offsets.capacity() {
            let add = extra.max(4).max(len / 8);
            self.offsets.reserve_exact(add);
        }
        if len + extra > self.values.capacity() {
            let add = extra.max(4).max(len / 8);
            self.values.reserve_exact(add);
        }
    }

    /// Makes voxel `o` of the tiny leaf at slot `n` active with value `v`; `false`
    /// (nothing changed) when the leaf is full and the voxel not yet active.
    pub(crate) fn set_on(&mut self, n: usize, o: usize, v: T) -> bool {
        let i = self.rank(n);
        match self.find(i, o as u16) {
            Ok(k) => {
                self.values[k] = v;
                true
            }
            Err(k) => {
                if self.range(i).len() >= TINY_MAX {
                    return false;
                }
                self.reserve_entries(1);
                self.offsets.insert(k, o as u16);
                self.values.insert(k, v);
                self.shift_starts(i, true);
                true
            }
        }
    }

    /// Sets the value of voxel `o` if it is active; returns whether it was.
    pub(crate) fn set_existing(&mut self, n: usize, o: usize, v: T) -> bool {
        match self.find(self.rank(n), o as u16) {
            Ok(k) => {
                self.values[k] = v;
                true
            }
            Err(_) => false,
        }
    }

    /// Removes voxel `o` from the active ones (it then holds the inactive value);
    /// returns the value it had.
    pub(crate) fn remove(&mut self, n: usize, o: usize) -> Option<T> {
        let i = self.rank(n);
        let k = self.find(i, o as u16).ok()?;
        self.offsets.remove(k);
        let v = self.values.remove(k);
        self.shift_starts(i, false);
        Some(v)
    }

    /// Adds a tiny leaf at slot `n` (which must hold none) with the given entries
    /// (sorted offsets, at most [`TINY_MAX`]); `inactive` becomes the shared value
    /// when the store was empty, else it must equal it ([`accepts`](Self::accepts)).
    pub(crate) fn insert_leaf(
        &mut self,
        words: usize,
        n: usize,
        inactive: T,
        offsets: &[u16],
        values: &[T],
    ) {
        debug_assert!(!self.contains(n) && self.accepts(inactive));
        debug_assert_eq!(offsets.len(), values.len());
        if self.is_empty() {
            self.inactive = inactive;
        }
        let i = self.rank(n);
        let k = if i < self.starts.len() {
            self.starts.get(i)
        } else {
            self.offsets.len()
        };
        self.starts.insert(i, k);
        self.reserve_entries(offsets.len());
        self.offsets.splice(k..k, offsets.iter().copied());
        self.values.splice(k..k, values.iter().copied());
        self.starts.add_after(i, offsets.len() as isize);
        match &mut self.slots {
            Slots::Mask { mask, prefix } => {
                mask[n >> 6] |= 1u64 << (n & 63);
                for p in &mut prefix[(n >> 6) + 1..] {
                    *p += 1;
                }
            }
            Slots::List(list) => {
                if list.len() == list.capacity() {
                    list.reserve_exact(4.max(list.len() / 8));
                }
                list.insert(i, n as u32);
                if list.len() > LIST_MAX {
                    self.slots = Slots::mask_of(words, list);
                }
            }
        }
    }

    /// Adds the tiny leaves of `batch` (none of whose slots holds one yet; their
    /// inactive value `inactive` must be accepted) in one merge of the old and the
    /// new leaves into arrays of the exact new size: a few allocations per node
    /// instead of several per leaf (what [`insert_leaf`](Self::insert_leaf) costs
    /// when bulk operations turn many leaves tiny).
    pub(crate) fn insert_leaves(&mut self, words: usize, inactive: T, batch: &TinyBatch<T>) {
        debug_assert!(self.accepts(inactive));
        debug_assert!(batch.slots.windows(2).all(|p| p[0] < p[1]));
        if batch.slots.is_empty() {
            return;
        }
        if self.is_empty() {
            self.inactive = inactive;
        }
        let leaves = self.len() + batch.slots.len();
        let entries = self.offsets.len() + batch.offsets.len();
        let mut slots = Vec::with_capacity(leaves);
        let mut starts = Vec::with_capacity(leaves);
        let mut offsets = Vec::with_capacity(entries);
        let mut values = Vec::with_capacity(entries);
        let mut old = self.iter().peekable();
        let mut new = batch.leaves().peekable();
        loop {
            let old_first = match (old.peek(), new.peek()) {
                (Some(o), Some(n)) => o.0 < n.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if old_first { old.next() } else { new.next() };
            if let Some((slot, o, v)) = next {
                debug_assert!(slot < words * 64);
                slots.push(slot as u32);
                starts.push(offsets.len());
                offsets.extend_from_slice(o);
                values.extend_from_slice(v);
            }
        }
        self.slots = Slots::of_sorted(words, slots);
        self.starts = Starts::from_starts(&starts);
        self.offsets = offsets;
        self.values = values;
    }

    /// Removes the tiny leaf at slot `n` (which must hold one), returning its entries.
    pub(crate) fn take(&mut self, n: usize) -> (Vec<u16>, Vec<T>) {
        let i = self.rank(n);
        let r = self.range(i);
        let removed = r.len() as isize;
        let offsets: Vec<u16> = self.offsets.drain(r.clone()).collect();
        let values: Vec<T> = self.values.drain(r).collect();
        self.starts.add_after(i, -removed);
        self.starts.remove(i);
        match &mut self.slots {
            Slots::Mask { mask, prefix } => {
                mask[n >> 6] &= !(1u64 << (n & 63));
                for p in &mut prefix[(n >> 6) + 1..] {
                    *p -= 1;
                }
            }
            Slots::List(list) => {
                list.remove(i);
            }
        }
        if self.starts.len() == 0 {
            // The last one went: give the memory back.
            *self = Self::new();
        }
        (offsets, values)
    }

    /// The slots holding a tiny leaf, ascending.
    pub(crate) fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.iter().map(|(n, _, _)| n)
    }

    /// Every tiny leaf in slot order: `(slot, offsets, values)`.
    pub(crate) fn iter(&self) -> TinyLeafIter<'_, T> {
        self.iter_in(0..usize::MAX)
    }

    /// Number of tiny leaves in slots below `n` (any `n`).
    fn rank_clamped(&self, n: usize) -> usize {
        match &self.slots {
            Slots::Mask { mask, .. } if n >= mask.len() * 64 => self.len(),
            _ => self.rank(n),
        }
    }

    /// The tiny leaves whose slots lie in `slots`, in slot order: the first found by
    /// rank (no walk over the leaves before it).
    pub(crate) fn iter_in(&self, slots: core::ops::Range<usize>) -> TinyLeafIter<'_, T> {
        if self.is_empty() || slots.start >= slots.end {
            return TinyLeafIter {
                store: self,
                i: 0,
                end: 0,
                start: 0,
                word: 0,
                bits: 0,
            };
        }
        let (i, end) = (self.rank_clamped(slots.start), self.rank_clamped(slots.end));
        let (word, bits) = match &self.slots {
            Slots::Mask { mask, .. } if i < end => {
                let w = slots.start >> 6;
                (w, mask[w] & !((1u64 << (slots.start & 63)) - 1))
            }
            _ => (0, 0),
        };
        TinyLeafIter {
            store: self,
            i,
            end,
            start: if i < end { self.starts.get(i) } else { 0 },
            word,
            bits,
        }
    }

    /// The index's bytes (slot list or mask with prefix counts, and the leaf starts)
    /// divided among the tiny leaves, rounded down (so that the leaves never add up to
    /// more than the store).
    pub(crate) fn index_bytes_per_leaf(&self) -> usize {
        let slots = match &self.slots {
            Slots::List(list) => list.len() * 4,
            Slots::Mask { mask, prefix } => mask.len() * 8 + prefix.len() * 4,
        };
        let starts = self.starts.base.len() * 4 + self.starts.rel.len() * 2;
        (slots + starts) / self.len().max(1)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let slots = match &self.slots {
            Slots::List(list) => list.capacity() * 4,
            Slots::Mask { mask, prefix } => mask.len() * 8 + prefix.len() * 4,
        };
        slots
            + self.starts.heap_bytes()
            + self.offsets.capacity() * 2
            + self.values.capacity() * core::mem::size_of::<T>()
    }

    /// Drops spare capacity.
    pub(crate) fn shrink_to_fit(&mut self) {
        if let Slots::List(list) = &mut self.slots {
            list.shrink_to_fit();
        }
        self.starts.shrink_to_fit();
        self.offsets.shrink_to_fit();
        self.values.shrink_to_fit();
    }

    /// Checks the store's invariants for a node of `words` mask words whose leaves
    /// have `voxels` voxels.
    pub(crate) fn check(&self, words: usize, voxels: usize) -> Result<(), String> {
        if self.is_empty() {
            let no_slots = matches!(&self.slots, Slots::List(l) if l.is_empty());
            if !no_slots || !self.offsets.is_empty() || !self.values.is_empty() {
                return Err("empty tiny store holds data".into());
            }
            return Ok(());
        }
        let count = match &self.slots {
            Slots::Mask { mask, prefix } => {
                if mask.len() != words || prefix.len() != words {
                    return Err("tiny mask of the wrong size".into());
                }
                let mut acc = 0u32;
                for (w, &word) in mask.iter().enumerate() {
                    if prefix[w] != acc {
                        return Err(format!("tiny prefix count wrong at word {w}"));
                    }
                    acc += word.count_ones();
                }
                acc as usize
            }
            Slots::List(list) => {
                if list.len() > LIST_MAX
                    || list.windows(2).any(|p| p[0] >= p[1])
                    || list.last().is_some_and(|&n| n as usize >= words * 64)
                {
                    return Err("tiny slot list not ascending, too long or out of range".into());
                }
                list.len()
            }
        };
        if count != self.len() || self.is_empty() {
            return Err("tiny leaf count disagrees with the slots".into());
        }
        if self.offsets.len() != self.values.len() || self.starts.get(0) != 0 {
            return Err("tiny entry arrays disagree".into());
        }
        self.starts.check()?;
        for i in 0..self.len() {
            if self.starts.get(i) > self.end(i) {
                return Err("tiny starts not ascending".into());
            }
            let r = self.range(i);
            if r.len() > TINY_MAX {
                return Err(format!("tiny leaf with {} entries", r.len()));
            }
            let o = &self.offsets[r];
            if o.windows(2).any(|p| p[0] >= p[1]) || o.iter().any(|&x| x as usize >= voxels) {
                return Err("tiny leaf offsets not ascending or out of range".into());
            }
        }
        Ok(())
    }
}

/// Iterator over the tiny leaves of a lower node as `(slot, offsets, values)`, in slot
/// order: what [`InternalNode::tiny_leaves`](crate::InternalNode::tiny_leaves) and
/// [`InternalNode::tiny_leaves_in`](crate::InternalNode::tiny_leaves_in) return.
#[derive(Clone)]
pub struct TinyLeafIter<'a, T> {
    store: &'a TinyLeaves<T>,
    /// Index of the next leaf, and one past the last.
    i: usize,
    end: usize,
    /// Where the next leaf's entries start (where the one before it ended).
    start: usize,
    /// Mask form: the word being walked and its bits not yet visited.
    word: usize,
    bits: u64,
}

impl<'a, T: Value> TinyLeafIter<'a, T> {
    /// The offsets and values of every tiny leaf of the node, in slot order and,
    /// within a leaf, in offset order: the arrays that
    /// [`next_range`](Self::next_range) indexes into. Kernels that want no branch
    /// per leaf walk these arrays in one loop.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(9, 0, 0), 2.0); // slot 256, offset 64
    /// n.set_value_on(Coord::new(0, 0, 1), 1.0); // slot 0, offset 1
    /// n.set_value_on(Coord::new(0, 0, 3), 3.0);
    /// let mut leaves = n.tiny_leaves_in(1..4096);
    /// assert_eq!(leaves.entries(), (&[1u16, 3, 64][..], &[1.0f32, 3.0, 2.0][..]));
    /// assert_eq!(leaves.next_range(), Some((256, 2..3)));
    /// assert_eq!(leaves.next_range(), None);
    /// ```
    pub fn entries(&self) -> (&'a [u16], &'a [T]) {
        (&self.store.offsets, &self.store.values)
    }

    /// The next tiny leaf as its slot and the range of its entries in
    /// [`entries`](Self::entries) (what [`next`](Iterator::next) returns as
    /// slices).
    #[inline(always)]
    pub fn next_range(&mut self) -> Option<(usize, core::ops::Range<usize>)> {
        if self.i >= self.end {
            return None;
        }
        let store = self.store;
        let slot = match &store.slots {
            Slots::List(list) => list[self.i] as usize,
            Slots::Mask { mask, .. } => {
                while self.bits == 0 {
                    self.word += 1;
                    self.bits = mask[self.word];
                }
                let b = self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                self.word * 64 + b
            }
        };
        // One start per leaf: this leaf starts where the one before it ended.
        let stop = store.end(self.i);
        let r = self.start..stop;
        self.start = stop;
        self.i += 1;
        Some((slot, r))
    }

    /// Where the next tiny leaf's entries start in [`entries`](Self::entries):
    /// where the last leaf read ended (0 for an iterator without leaves).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(0, 0, 1), 1.0); // slot 0
    /// n.set_value_on(Coord::new(0, 0, 3), 3.0);
    /// n.set_value_on(Coord::new(9, 0, 0), 2.0); // slot 256
    /// let mut leaves = n.tiny_leaves_in(0..4096);
    /// assert_eq!(leaves.next_start(), 0);
    /// leaves.next_range();
    /// assert_eq!(leaves.next_start(), 2);
    /// ```
    #[inline]
    pub fn next_start(&self) -> usize {
        self.start
    }

    /// Reads the next tiny leaves in one loop, for kernels that want each entry
    /// tagged with something about its leaf: for every leaf read, the key of its
    /// slot, `keys[slot - slot0]`, is written to the places of `out` of its
    /// entries, `out[e - first]` for its entries `e`, where `first` is
    /// [`next_start`](Self::next_start) before the call. Returns how many entries
    /// were tagged: the leaves read have the entries `first..first + n`.
    ///
    /// It stops before the first leaf whose slot is below `slot0` or at or past
    /// `slot0 + keys.len()`, or that would not fit: each leaf writes
    /// [`TINY_LEAF_MAX`] places of `out` from its first one (the places past its
    /// entries are written over by the next leaf, or hold junk), so a leaf is read
    /// only when `out` has that many places from its first. Nothing is read when
    /// `out` is shorter than [`TINY_LEAF_MAX`].
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node, TINY_LEAF_MAX};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(0, 0, 1), 1.0); // slot 0
    /// n.set_value_on(Coord::new(0, 0, 3), 3.0);
    /// n.set_value_on(Coord::new(0, 0, 9), 9.0); // slot 1
    /// n.set_value_on(Coord::new(9, 0, 0), 2.0); // slot 256
    /// let mut leaves = n.tiny_leaves_in(0..4096);
    /// let mut out = [0u8; 2 + TINY_LEAF_MAX];
    /// // Slots 0 and 1 are tagged 'a' and 'b'; slot 256 has no key.
    /// assert_eq!(leaves.expand_keys(0, b"ab", &mut out), 3);
    /// assert_eq!(&out[..3], b"aab");
    /// assert_eq!(leaves.next_start(), 3);
    /// assert_eq!(leaves.next_range(), Some((256, 3..4)));
    /// ```
    #[inline(never)]
    pub fn expand_keys<K: Copy>(&mut self, slot0: usize, keys: &[K], out: &mut [K]) -> usize {
        let store = self.store;
        let first = self.next_start();
        let Some(last_fit) = out.len().checked_sub(TINY_MAX) else {
            return 0;
        };
        // Local copies, so that the loop keeps them in registers.
        let (mut i, end, mut start) = (self.i, self.end, self.start);
        let (mut word, mut bits) = (self.word, self.bits);
        let slot_end = slot0.saturating_add(keys.len());
        match &store.slots {
            Slots::Mask { mask, .. } => {
                while i < end {
                    while bits == 0 {
                        word += 1;
                        bits = mask[word];
                    }
                    let slot = word * 64 + bits.trailing_zeros() as usize;
                    let at = start - first;
                    if slot < slot0 || slot >= slot_end || at > last_fit {
                        break;
                    }
                    let key = keys[slot - slot0];
                    out[at..at + TINY_MAX].fill(key);
                    bits &= bits - 1;
                    start = store.end(i);
                    i += 1;
                }
            }
            Slots::List(list) => {
                while i < end {
                    let slot = list[i] as usize;
                    let at = start - first;
                    if slot < slot0 || slot >= slot_end || at > last_fit {
                        break;
                    }
                    out[at..at + TINY_MAX].fill(keys[slot - slot0]);
                    start = store.end(i);
                    i += 1;
                }
            }
        }
        (self.i, self.start, self.word, self.bits) = (i, start, word, bits);
        start - first
    }
}

impl<'a, T: Value> Iterator for TinyLeafIter<'a, T> {
    type Item = (usize, &'a [u16], &'a [T]);

    // Always inlined: SpMV and reductions call it once per tiny leaf (~5 values).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (slot, r) = self.next_range()?;
        let store = self.store;
        Some((slot, &store.offsets[r.clone()], &store.values[r]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.i;
        (n, Some(n))
    }
}

/// The start index of each tiny leaf's entries, in 2 bytes per leaf: a `u32` base
/// per group of 64 leaves (the start of the group's first leaf) and a `u16` offset
/// from it per leaf (a group holds at most `64 · TINY_MAX` entries).
#[derive(Clone, Debug, Default)]
struct Starts {
    base: Vec<u32>,
    rel: Vec<u16>,
}

impl Starts {
    #[inline(always)]
    fn len(&self) -> usize {
        self.rel.len()
    }

    #[inline(always)]
    fn get(&self, i: usize) -> usize {
        self.base[i >> 6] as usize + self.rel[i] as usize
    }

    /// Adds `delta` to the starts of the leaves after `i`.
    fn add_after(&mut self, i: usize, delta: isize) {
        let group_end = ((i >> 6) + 1) << 6;
        for r in self.rel.iter_mut().take(group_end).skip(i + 1) {
            *r = (*r as isize + delta) as u16;
        }
        for b in self.base.iter_mut().skip((i >> 6) + 1) {
            *b = (*b as isize + delta) as u32;
        }
    }

    /// Rewrites the starts from index `from` on with `starts`.
    fn set_from(&mut self, from: usize, starts: &[usize]) {
        self.rel.truncate(from);
        self.base.truncate(from.div_ceil(64));
        for (k, &s) in starts.iter().enumerate() {
            let j = from + k;
            if j.is_multiple_of(64) {
                if self.base.len() == self.base.capacity() {
                    self.base.reserve_exact(4.max(self.base.len() / 8));
                }
                self.base.push(s as u32);
            }
            if self.rel.len() == self.rel.capacity() {
                self.rel.reserve_exact(4.max(self.rel.len() / 8));
            }
            self.rel.push((s - self.base[j >> 6] as usize) as u16);
        }
    }

    /// The starts `starts` (ascending), in exactly the memory they need.
    fn from_starts(starts: &[usize]) -> Self {
        let mut base = Vec::with_capacity(starts.len().div_ceil(64));
        let mut rel = Vec::with_capacity(starts.len());
        for (j, &s) in starts.iter().enumerate() {
            if j.is_multiple_of(64) {
                base.push(s as u32);
            }
            rel.push((s - base[j >> 6] as usize) as u16);
        }
        Starts { base, rel }
    }

    /// Inserts a leaf starting at `s` before leaf `i`.
    fn insert(&mut self, i: usize, s: usize) {
        let tail: Vec<usize> = core::iter::once(s)
            .chain((i..self.len()).map(|j| self.get(j)))
            .collect();
        self.set_from(i, &tail);
    }

    /// Removes leaf `i`'s start.
    fn remove(&mut self, i: usize) {
        let tail: Vec<usize> = (i + 1..self.len()).map(|j| self.get(j)).collect();
        self.set_from(i, &tail);
    }

    fn heap_bytes(&self) -> usize {
        self.base.capacity() * 4 + self.rel.capacity() * 2
    }

    fn shrink_to_fit(&mut self) {
        self.base.shrink_to_fit();
        self.rel.shrink_to_fit();
    }

    fn check(&self) -> Result<(), String> {
        if self.base.len() != self.rel.len().div_ceil(64)
            || self.rel.iter().step_by(64).any(|&r| r != 0)
        {
            return Err("tiny start groups malformed".into());
        }
        Ok(())
    }
}

/// Leaves on their way into a [`TinyLeaves`] store
/// ([`TinyLeaves::insert_leaves`]): their slots (ascending) and their entries, one
/// leaf after the other.
#[derive(Debug)]
pub(crate) struct TinyBatch<T> {
    slots: Vec<u32>,
    /// Where each leaf's entries end.
    ends: Vec<u32>,
    pub(crate) offsets: Vec<u16>,
    pub(crate) values: Vec<T>,
}

impl<T: Value> TinyBatch<T> {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            ends: Vec::new(),
            offsets: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Drops the entries pushed since the last leaf.
    pub(crate) fn discard_pending(&mut self) {
        let end = self.ends.last().map_or(0, |&e| e as usize);
        self.offsets.truncate(end);
        self.values.truncate(end);
    }

    /// Ends a leaf at slot `n` (above every earlier one) whose entries are those
    /// pushed since the last leaf.
    pub(crate) fn finish_leaf(&mut self, n: usize) {
        debug_assert!(self.slots.last().is_none_or(|&s| (s as usize) < n));
        self.slots.push(n as u32);
        self.ends.push(self.offsets.len() as u32);
    }

    /// The leaves as `(slot, offsets, values)`, ascending.
    fn leaves(&self) -> impl Iterator<Item = (usize, &[u16], &[T])> + '_ {
        let starts = core::iter::once(0).chain(self.ends.iter().map(|&e| e as usize));
        self.slots
            .iter()
            .zip(starts.zip(self.ends.iter()))
            .map(|(&n, (a, &b))| {
                let r = a..b as usize;
                (n as usize, &self.offsets[r.clone()], &self.values[r])
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_probe_remove_take() {
        let mut t = TinyLeaves::<f32>::new();
        assert!(t.is_empty() && t.accepts(5.0));
        t.insert_leaf(64, 100, 0.5, &[], &[]);
        t.insert_leaf(64, 3, 0.5, &[7], &[1.0]);
        assert_eq!(t.len(), 2);
        assert!(!t.accepts(0.0) && t.accepts(0.5));
        assert!(t.set_on(100, 9, 2.0));
        assert!(t.set_on(100, 2, 3.0));
        assert_eq!(t.leaf(100), (&[2u16, 9][..], &[3.0f32, 2.0][..]));
        assert_eq!(t.probe(100, 9), (2.0, true));
        assert_eq!(t.probe(100, 8), (0.5, false));
        assert_eq!(t.probe(3, 7), (1.0, true));
        assert!(t.set_existing(3, 7, 4.0));
        assert!(!t.set_existing(3, 8, 4.0));
        assert_eq!(t.remove(100, 2), Some(3.0));
        assert_eq!(t.remove(100, 2), None);
        t.check(64, 512).unwrap();
        assert_eq!(
            t.iter()
                .map(|(n, o, v)| (n, o.to_vec(), v.to_vec()))
                .collect::<Vec<_>>(),
            [(3, vec![7], vec![4.0]), (100, vec![9], vec![2.0])]
        );
        assert_eq!(t.take(3), (vec![7], vec![4.0]));
        assert_eq!(t.take(100), (vec![9], vec![2.0]));
        assert!(t.is_empty());
        assert_eq!(t.heap_bytes(), 0, "the last leaf gives the memory back");
    }

    #[test]
    fn slot_list_turns_into_a_mask_and_back_to_nothing() {
        let mut t = TinyLeaves::<f32>::new();
        let slots: Vec<usize> = (0..=LIST_MAX).map(|i| (i * 37) % 4096).collect();
        for (k, &n) in slots.iter().enumerate() {
            t.insert_leaf(64, n, 0.0, &[k as u16 % 512], &[k as f32]);
            t.check(64, 512).unwrap();
        }
        assert!(matches!(t.slots, Slots::Mask { .. }));
        let mut sorted = slots.clone();
        sorted.sort_unstable();
        assert_eq!(t.slots().collect::<Vec<_>>(), sorted);
        assert_eq!(
            t.word(0),
            sorted
                .iter()
                .filter(|&&n| n < 64)
                .fold(0, |a, &n| a | 1 << n)
        );
        for (k, &n) in slots.iter().enumerate() {
            assert_eq!(t.probe(n, k % 512), (k as f32, true));
        }
        for &n in &slots {
            t.take(n);
            t.check(64, 512).unwrap();
        }
        assert!(t.is_empty() && t.heap_bytes() == 0);
    }

    /// A batch merged into a store equals the same leaves inserted one by one,
    /// whether the store is empty, holds a list or a mask, and when the merge
    /// crosses from list to mask.
    #[test]
    fn batch_insert_equals_one_by_one() {
        let leaf = |n: usize| -> (Vec<u16>, Vec<f32>) {
            let k = n % 5;
            (
                (0..k)
                    .map(|j| (j * 97 + n) as u16 % 512)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                (0..k).map(|j| (n * 10 + j) as f32).collect(),
            )
        };
        for (before, added) in [(0usize, 7usize), (5, 3), (100, 60), (200, 300), (0, 1)] {
            let old: Vec<usize> = (0..before).map(|i| (i * 37) % 4096).collect();
            let mut new: Vec<usize> = (0..4096)
                .map(|i| (i * 11 + 5) % 4096)
                .filter(|n| !old.contains(n))
                .take(added)
                .collect();
            new.sort_unstable();
            let (mut one, mut merged) = (TinyLeaves::<f32>::new(), TinyLeaves::<f32>::new());
            for &n in &old {
                let (o, v) = leaf(n);
                one.insert_leaf(64, n, 0.5, &o, &v);
                merged.insert_leaf(64, n, 0.5, &o, &v);
            }
            let mut batch = TinyBatch::new();
            for &n in &new {
                let (o, v) = leaf(n);
                one.insert_leaf(64, n, 0.5, &o, &v);
                batch.offsets.extend_from_slice(&o);
                batch.values.extend_from_slice(&v);
                batch.finish_leaf(n);
            }
            merged.insert_leaves(64, 0.5, &batch);
            merged.check(64, 512).unwrap();
            let all = |t: &TinyLeaves<f32>| {
                t.iter()
                    .map(|(n, o, v)| (n, o.to_vec(), v.to_vec()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(all(&merged), all(&one), "{before} + {added}");
            assert_eq!(merged.len(), before + added);
            assert_eq!(
                matches!(merged.slots, Slots::Mask { .. }),
                before + added > LIST_MAX
            );
            assert_eq!(merged.inactive(), 0.5);
        }
    }

    #[test]
    fn iteration_from_any_slot() {
        for count in [5usize, 300] {
            let mut t = TinyLeaves::<f32>::new();
            let slots: Vec<usize> = (0..count).map(|i| (i * 13) % 4096).collect();
            for &n in &slots {
                t.insert_leaf(64, n, 0.0, &[n as u16 % 512], &[n as f32]);
            }
            let mut sorted = slots.clone();
            sorted.sort_unstable();
            for (lo, hi) in [
                (0, 4096),
                (0, 0),
                (1, 2),
                (100, 1000),
                (63, 65),
                (4000, 9999),
            ] {
                let want: Vec<usize> = sorted
                    .iter()
                    .copied()
                    .filter(|&n| lo <= n && n < hi)
                    .collect();
                let got: Vec<usize> = t.iter_in(lo..hi).map(|(n, _, _)| n).collect();
                assert_eq!(got, want, "{count} leaves, {lo}..{hi}");
                assert!(t
                    .iter_in(lo..hi)
                    .all(|(n, o, v)| o == [n as u16 % 512] && v == [n as f32]));
            }
        }
    }

    /// `expand_keys` tags exactly the leaves `next_range` would give, stops
    /// at the first leaf outside the keyed slots or without room, and leaves
    /// the iterator on it: slot lists and masks, leaves of 0 to 16 entries,
    /// sub-ranges, keyed slots starting before, at and after the range, and
    /// outputs from too short for any leaf to long enough for all.
    #[test]
    fn expand_keys_tags_what_next_range_gives() {
        let mut seed = 7u64;
        let mut next = |m: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % m
        };
        for count in [5usize, 300, 2000] {
            let mut t = TinyLeaves::<f32>::new();
            for i in 0..count {
                let n = (i * 13) % 4096;
                let len = next(TINY_MAX + 1);
                let offs: Vec<u16> = (0..len).map(|j| (j * 31 + n % 31) as u16).collect();
                let vals: Vec<f32> = offs.iter().map(|&o| o as f32).collect();
                t.insert_leaf(64, n, 0.0, &offs, &vals);
            }
            t.check(64, 512).unwrap();
            for (lo, hi) in [
                (0usize, 4096usize),
                (100, 1000),
                (63, 65),
                (4000, 4096),
                (7, 7),
            ] {
                for (slot0, keyed, room) in [
                    (lo, hi - lo, 40),
                    (lo + 50, 500, TINY_MAX),
                    (0, 4096, TINY_MAX - 1),
                    (0, 4096, 600),
                    (lo.saturating_sub(3), 20, 100),
                ] {
                    let keys: Vec<u32> = (0..keyed).map(|k| (slot0 + k) as u32 * 7 + 1).collect();
                    let (mut it, mut model) = (t.iter_in(lo..hi), t.iter_in(lo..hi));
                    loop {
                        let first = it.next_start();
                        let mut out = vec![u32::MAX; room];
                        let n = it.expand_keys(slot0, &keys, &mut out);
                        let mut tagged = 0;
                        loop {
                            let mut peek = model.clone();
                            match peek.next_range() {
                                Some((s, r))
                                    if s >= slot0
                                        && s < slot0 + keyed
                                        && r.start - first + TINY_MAX <= room =>
                                {
                                    assert_eq!(r.start, first + tagged);
                                    for e in r.clone() {
                                        assert_eq!(out[e - first], keys[s - slot0], "entry {e}");
                                    }
                                    tagged += r.len();
                                    model = peek;
                                }
                                _ => break,
                            }
                        }
                        let case = format!(
                            "{count} leaves, {lo}..{hi}, keys {slot0}+{keyed}, room {room}"
                        );
                        assert_eq!(n, tagged, "{case}");
                        assert_eq!(it.next_start(), first + n, "{case}");
                        let taken = it.next_range();
                        assert_eq!(taken, model.next_range(), "{case}");
                        if taken.is_none() {
                            break;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn full_leaf_refuses_a_new_voxel() {
        let mut t = TinyLeaves::<f32>::new();
        t.insert_leaf(64, 0, 0.0, &[], &[]);
        for o in 0..TINY_MAX {
            assert!(t.set_on(0, o * 3, o as f32));
        }
        assert!(!t.set_on(0, 1, 1.0), "full");
        assert!(t.set_on(0, 3, 9.0), "an active voxel can still change");
        t.check(64, 512).unwrap();
        assert!(t.check(64, 10).is_err(), "offset out of range detected");
    }
}
