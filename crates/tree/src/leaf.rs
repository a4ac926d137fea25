//! [`LeafNode`]: the bottom level, a block of `2^(3·LOG2)` voxels (8³ = 512 by
//! default) with one value and one active bit per voxel (OpenVDB `tree/LeafNode.h`),
//! stored in one of two forms chosen automatically (decision 0009):
//!
//! - **dense**: every voxel's value in one buffer, OpenVDB's layout;
//! - **packed**: only the active values, in offset order, found through the active
//!   mask with a per-word rank index; every inactive voxel holds one shared value.
//!
//! A leaf starts packed (when created inactive), turns dense when more than
//! [`PACKED_MAX`](LeafNode::PACKED_MAX) voxels are active or when an inactive voxel
//! would need a value other than the shared one, and packs again when a write drops
//! it to [`REPACK_AT`](LeafNode::REPACK_AT) active voxels or fewer with uniform
//! inactive values (the gap between the two thresholds is the hysteresis), or when
//! [`compact`](LeafNode::compact) is called. `DENSE_ONLY = true` pins every leaf dense
//! (the plain OpenVDB layout, for comparison).

use crate::mask::Mask;
use crate::node::{approx_equal_tol, lower_median, within_tolerance, Node, ValidationError};
use crate::{Coord, CoordBBox, Value};

/// Capacity of a dense leaf's value buffer: the voxel count of an 8³ leaf.
pub(crate) const MAX_LEAF_VALUES: usize = 512;

/// How a leaf holds its values (see the module documentation).
#[derive(Clone, Debug)]
pub(crate) enum LeafData<T> {
    /// Every voxel's value, in offset order (only the first `NUM_VALUES` are used).
    Dense(Box<[T; MAX_LEAF_VALUES]>),
    /// Only the active values.
    Packed(Packed<T>),
}

/// The packed form: active values in offset order plus the value of every inactive
/// voxel.
#[derive(Clone, Debug)]
pub(crate) struct Packed<T> {
    /// The value every inactive voxel holds.
    pub(crate) inactive: T,
    /// `ranks[w]`: number of active voxels in mask words `0..w`, for `w` up to the
    /// top word (the last word with an active voxel, or 0); [`UNRANKED`] after it,
    /// so that appending in offset order updates no entry.
    pub(crate) ranks: [u16; 8],
    /// The active values, one per on bit of the mask, in offset order.
    pub(crate) values: Vec<T>,
}

/// Why [`LeafNode::from_parts`] rejected its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafPartsError {
    /// The number of values does not match the form: every voxel's value for a dense
    /// leaf, one per active voxel for a packed one.
    WrongValueCount {
        /// Values the form needs.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A packed leaf may hold at most [`LeafNode::PACKED_MAX`] active voxels.
    TooManyActive {
        /// Active voxels in the mask.
        active: usize,
        /// The packed form's limit.
        max: usize,
    },
}

impl core::fmt::Display for LeafPartsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LeafPartsError::WrongValueCount { expected, got } => {
                write!(f, "{got} values given, the leaf form needs {expected}")
            }
            LeafPartsError::TooManyActive { active, max } => {
                write!(
                    f,
                    "a packed leaf holds at most {max} active voxels, the mask has {active}"
                )
            }
        }
    }
}

impl std::error::Error for LeafPartsError {}

/// A packed leaf's parts, borrowed (for the combination fast paths).
#[derive(Clone, Copy)]
pub(crate) struct PackedView<'a, T, const LOG2: u32> {
    pub(crate) mask: &'a Mask<LOG2>,
    pub(crate) active: &'a [T],
    pub(crate) inactive: T,
}

/// A read-only view of a leaf's values, as [`LeafNode::storage`] returns it.
///
/// ```
/// use sparsevdb_tree::{Coord, LeafNode, LeafStorage, Node};
/// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
/// leaf.set_value_on(Coord::new(0, 0, 5), 2.0);
/// match leaf.storage() {
///     LeafStorage::Packed { active, inactive } => {
///         assert_eq!(active, &[2.0]);
///         assert_eq!(inactive, 0.0);
///     }
///     LeafStorage::Dense(all) => unreachable!("{} values", all.len()),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LeafStorage<'a, T> {
    /// Every voxel's value in offset order (`NUM_VALUES` of them), active or not.
    Dense(&'a [T]),
    /// The active values in offset order (one per on bit of the mask); every inactive
    /// voxel has the value `inactive`.
    Packed {
        /// The active values.
        active: &'a [T],
        /// The value of every inactive voxel.
        inactive: T,
    },
}

/// A mutable view of a leaf's values, as [`LeafNode::storage_mut`] returns it. Values
/// can change; active states cannot (the mask is lent read-only).
///
/// ```
/// use sparsevdb_tree::{Coord, LeafNode, LeafStorageMut, Node};
/// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
/// leaf.set_value_on(Coord::new(0, 0, 5), 2.0);
/// match leaf.storage_mut() {
///     LeafStorageMut::Packed { active, .. } => active.iter_mut().for_each(|v| *v *= 3.0),
///     LeafStorageMut::Dense { values, mask } => {
///         mask.iter_on().for_each(|n| values[n] *= 3.0)
///     }
/// }
/// assert_eq!(leaf.get_value(Coord::new(0, 0, 5)), 6.0);
/// ```
#[derive(Debug)]
pub enum LeafStorageMut<'a, T, const LOG2: u32> {
    /// Every voxel's value in offset order, active or not.
    Dense {
        /// All `NUM_VALUES` values.
        values: &'a mut [T],
        /// The active mask.
        mask: &'a Mask<LOG2>,
    },
    /// The active values in offset order (inactive voxels share one value, which
    /// cannot be changed through this view).
    Packed {
        /// The active values, one per on bit of `mask`.
        active: &'a mut [T],
        /// The active mask.
        mask: &'a Mask<LOG2>,
    },
}

/// A leaf node: `2^LOG2` voxels along each axis, each with a value and an active bit.
///
/// `LOG2` is 1, 2 or 3 (up to 512 voxels, whose mask is stored inline). With
/// `DENSE_ONLY = true` the leaf always keeps the dense form.
///
/// ```
/// use sparsevdb_tree::{Coord, LeafNode, Node};
/// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(9, 9, 9), 0.0, false);
/// assert_eq!(leaf.origin(), Coord::new(8, 8, 8));
/// leaf.set_value_on(Coord::new(9, 10, 11), 2.5);
/// assert_eq!(leaf.probe_value(Coord::new(9, 10, 11)), (2.5, true));
/// assert_eq!(leaf.on_voxel_count(), 1);
/// assert!(!leaf.is_dense(), "one active value: packed");
/// ```
#[derive(Clone, Debug)]
pub struct LeafNode<T, const LOG2: u32 = 3, const DENSE_ONLY: bool = false> {
    pub(crate) origin: Coord,
    pub(crate) value_mask: Mask<LOG2>,
    pub(crate) data: LeafData<T>,
}

/// Spare bytes a recycled packed value buffer may have past the values it holds
/// (combine's buffer reuse; see [`LeafNode::assign_merged`]).
pub(crate) const SPARE_SLACK_BYTES: usize = 16;

fn dense_buffer<T: Value>(v: T) -> Box<[T; MAX_LEAF_VALUES]> {
    match vec![v; MAX_LEAF_VALUES].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("the vector has exactly MAX_LEAF_VALUES elements"),
    }
}

impl<T: Value, const LOG2: u32, const DENSE_ONLY: bool> PartialEq
    for LeafNode<T, LOG2, DENSE_ONLY>
{
    /// Equal origin, masks and voxel values (`T::eq`), whatever the storage form.
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin
            && self.value_mask == other.value_mask
            && (0..Self::NUM_VALUES).all(|n| self.value_at(n) == other.value_at(n))
    }
}

/// Writes the `i`-th value of `active` to `out[n]` for the `i`-th on bit `n` of
/// `words`, one copy per run of consecutive on bits (a leaf that turns dense at 385
/// active voxels is mostly long runs).
pub(crate) fn scatter_active<T: Copy>(words: &[u64], active: &[T], out: &mut [T]) {
    let mut k = 0;
    for (w, &word) in words.iter().enumerate() {
        let mut rest = word;
        while rest != 0 {
            let start = rest.trailing_zeros() as usize;
            let len = (!(rest >> start)).trailing_zeros() as usize;
            let n = w * 64 + start;
            out[n..n + len].copy_from_slice(&active[k..k + len]);
            k += len;
            rest = rest
                .checked_shr((start + len) as u32)
                .map_or(0, |r| r << (start + len));
        }
    }
}

/// A rank entry past the leaf's top word (the last mask word with an on bit): not
/// kept, so that appending in offset order touches no rank entry.
const UNRANKED: u16 = u16::MAX;

/// The rank index of an empty mask: word 0 starts at 0, no other word is ranked.
const EMPTY_RANKS: [u16; 8] = {
    let mut r = [UNRANKED; 8];
    r[0] = 0;
    r
};

/// The rank index of `words`: `ranks[w]` = number of on bits in words `0..w`, for `w`
/// up to the top word (the last word with an on bit, or 0); [`UNRANKED`] after it.
fn compute_ranks(words: &[u64]) -> [u16; 8] {
    let top = words.iter().rposition(|&w| w != 0).unwrap_or(0);
    let mut ranks = [UNRANKED; 8];
    let mut acc = 0u16;
    for (r, word) in ranks.iter_mut().zip(words).take(top + 1) {
        *r = acc;
        acc += word.count_ones() as u16;
    }
    ranks
}

impl<T: Value> Packed<T> {
    /// Index in `values` of the active voxel at offset `n` (for reads: one load and
    /// one population count, no branch; `n`'s word is at most the top word, so its
    /// rank entry is kept).
    #[inline(always)]
    fn rank_of_active(&self, words: &[u64], n: usize) -> usize {
        let w = n >> 6;
        let below = words[w] & ((1u64 << (n & 63)) - 1);
        self.ranks[w] as usize + below.count_ones() as usize
    }

    /// Index in `values` of the active voxel at offset `n`, or where it would go.
    #[inline(always)]
    fn rank(&self, words: &[u64], n: usize) -> usize {
        let w = n >> 6;
        let word = words[w];
        let below_bits = (1u64 << (n & 63)) - 1;
        if word & !below_bits == 0 {
            // Nothing at or above `n` in this word (appending in offset order, the
            // build's common case): the count is where the next word starts, or the
            // end past the top word — no population count, which costs ~10
            // operations without `popcnt`.
            return match self.ranks.get(w + 1) {
                Some(&r) if r != UNRANKED => usize::from(r),
                _ => self.values.len(),
            };
        }
        self.ranks[w] as usize + (word & below_bits).count_ones() as usize
    }

    /// Makes the inactive voxel at offset `n` active with value `v`: inserts the
    /// value (a push when appending), sets the bit and updates the rank index (nothing
    /// to update when `n` is in the top word or opens a new one: the rank entries
    /// past the top word are not kept).
    #[inline(always)]
    fn insert_at<const LOG2: u32>(&mut self, mask: &mut Mask<LOG2>, n: usize, v: T, limit: usize) {
        let r = self.rank(mask.words(), n);
        if r == self.values.len() && self.values.len() < self.values.capacity() {
            self.values.push(v);
        } else {
            self.insert(r, n, Mask::<LOG2>::SIZE, v, limit);
        }
        mask.set_on(n);
        let w = n >> 6;
        if self.ranks[w] == UNRANKED {
            self.rank_new_top_word(w, r);
        } else if self.ranks.get(w + 1).is_some_and(|&r| r != UNRANKED) {
            self.bump_ranks(w, true);
        }
    }

    /// Makes the inactive voxel at offset `n` active with value `v` when that is an
    /// append into spare capacity (no active voxel at or after `n`) that leaves at
    /// most `limit` values; `false` (doing nothing) otherwise.
    #[inline(always)]
    fn try_append<const LOG2: u32>(
        &mut self,
        mask: &mut Mask<LOG2>,
        n: usize,
        v: T,
        limit: usize,
    ) -> bool {
        let w = n >> 6;
        let len = self.values.len();
        if mask.words()[w] >> (n & 63) != 0
            || len == self.values.capacity()
            || len >= limit
            || self.ranks.get(w + 1).is_some_and(|&r| r != UNRANKED)
        {
            return false;
        }
        self.values.push(v);
        mask.set_on(n);
        if self.ranks[w] == UNRANKED {
            self.rank_new_top_word(w, len);
        }
        true
    }

    /// Word `w` got the first on bit past the old top word, at value index `start`:
    /// the words from after the old top word to `w` start there (those between are
    /// empty).
    #[cold]
    fn rank_new_top_word(&mut self, w: usize, start: usize) {
        let start = start as u16;
        for r in self.ranks[..=w].iter_mut().rev() {
            if *r != UNRANKED {
                break;
            }
            *r = start;
        }
    }

    /// Makes the active voxel at offset `n` inactive: removes its value, clears the
    /// bit and updates the rank index (when `n`'s word was the top word and is now
    /// empty, the words after the new top word are no longer ranked).
    fn remove_at<const LOG2: u32>(&mut self, mask: &mut Mask<LOG2>, n: usize) {
        let r = self.rank_of_active(mask.words(), n);
        self.values.remove(r);
        mask.set_off(n);
        let w = n >> 6;
        self.bump_ranks(w, false);
        let words = mask.words();
        let top_now_empty = words[w] == 0 && self.ranks.get(w + 1).is_none_or(|&r| r == UNRANKED);
        if top_now_empty && w > 0 {
            let top = words[..w].iter().rposition(|&x| x != 0).unwrap_or(0);
            self.ranks[top + 1..=w].fill(UNRANKED);
        }
    }

    /// Adds one (`up`) or removes one from the kept counts of the words after `w`
    /// (branch-free over all eight counts, so it vectorises).
    #[inline(always)]
    fn bump_ranks(&mut self, w: usize, up: bool) {
        let delta = if up { 1u16 } else { u16::MAX };
        for (i, r) in self.ranks.iter_mut().enumerate() {
            *r = r.wrapping_add(delta * u16::from(i > w && *r != UNRANKED));
        }
    }

    /// Inserts `v` at `pos` (the value of offset `n` of a leaf of `voxels` voxels),
    /// growing a full buffer to [`grown_capacity`] (at most `limit`).
    #[inline(never)]
    fn insert(&mut self, pos: usize, n: usize, voxels: usize, v: T, limit: usize) {
        let len = self.values.len();
        if len == self.values.capacity() {
            let cap = grown_capacity(len, n, voxels, pos == len);
            self.values.reserve_exact(cap.min(limit).max(len + 1) - len);
        }
        self.values.insert(pos, v);
    }
}

/// Appending: the buffer grows to at most this many times the values the leaf is
/// expected to end with (see [`grown_capacity`]).
const APPEND_MARGIN: usize = 5;
/// Appending: the first buffer holds at most this many values (one x plane of an
/// 8³ leaf; 128 made `neural_block`'s 64-value leaves 45 % larger).
const APPEND_FIRST: usize = 64;
/// Appending: a full buffer grows at most this many times.
const APPEND_GROWTH: usize = 4;

/// The capacity a full packed buffer of `len` values grows to when a value for
/// offset `n` of a leaf of `voxels` voxels arrives (`appending`: after every active
/// voxel, the order in which bulk data usually arrives).
///
/// - Inserting before an active voxel: doubling up to 128 values (first 4), then by
///   half — 16 bytes for a leaf of one to four values.
/// - Appending: the voxels before `n` hold `len + 1` values, so the leaf is expected
///   to end with about `(len + 1) · voxels / (n + 1)`. The buffer grows to
///   [`APPEND_MARGIN`] times that, but at most [`APPEND_GROWTH`]-fold (first
///   [`APPEND_FIRST`] values) and at least by a quarter (first 4). A typical
///   186-value `sphere` leaf grows once (64 → 256; six times by doubling); the spare
///   capacity an overshoot leaves is dropped when its lower node creates the next
///   leaf along x (`InternalNode::trim_previous_along_x`).
fn grown_capacity(len: usize, n: usize, voxels: usize, appending: bool) -> usize {
    if !appending {
        return len + if len < 128 { len.max(4) } else { len / 2 };
    }
    let expected = (len + 1) * voxels / (n + 1);
    let geometric = if len == 0 {
        APPEND_FIRST
    } else {
        len * APPEND_GROWTH
    };
    (expected * APPEND_MARGIN)
        .max(len + (len / 4).max(4))
        .min(geometric)
}

impl<T: Value, const LOG2: u32, const DENSE_ONLY: bool> LeafNode<T, LOG2, DENSE_ONLY> {
    const CHECK_LOG2: () = assert!(
        LOG2 >= 1 && (1usize << (3 * LOG2)) <= MAX_LEAF_VALUES,
        "leaf LOG2 must be 1, 2 or 3"
    );
    const DIM_MASK: i32 = (1 << LOG2) - 1;
    const VOXELS: usize = 1 << (3 * LOG2);

    /// A packed leaf turns dense when a write makes more than this many voxels
    /// active (three quarters of the voxels: 384 of 512). Decision 0009.
    pub const PACKED_MAX: usize = Self::VOXELS * 3 / 4;
    /// A dense leaf packs again when a write leaves this many active voxels or fewer
    /// (half of the voxels: 256 of 512) and every inactive voxel has the same value.
    pub const REPACK_AT: usize = Self::VOXELS / 2;

    /// The leaf's origin (its minimum corner).
    #[inline]
    pub fn origin(&self) -> Coord {
        self.origin
    }

    /// Linear offset of `c` inside the leaf (x-major, z fastest).
    #[inline(always)]
    pub fn coord_to_offset(c: Coord) -> usize {
        (((c.x & Self::DIM_MASK) as usize) << (2 * LOG2))
            | (((c.y & Self::DIM_MASK) as usize) << LOG2)
            | ((c.z & Self::DIM_MASK) as usize)
    }

    /// Local coordinate (each component in `0..DIM`) of linear offset `n`.
    #[inline]
    pub fn offset_to_local(n: usize) -> Coord {
        let m = (1usize << LOG2) - 1;
        Coord::new(
            (n >> (2 * LOG2)) as i32,
            ((n >> LOG2) & m) as i32,
            (n & m) as i32,
        )
    }

    /// Global coordinate of linear offset `n`.
    #[inline]
    pub fn offset_to_global(&self, n: usize) -> Coord {
        let l = Self::offset_to_local(n);
        Coord::new(
            self.origin.x + l.x,
            self.origin.y + l.y,
            self.origin.z + l.z,
        )
    }

    /// The active mask, bit `n` for voxel offset `n`.
    #[inline]
    pub fn value_mask(&self) -> &Mask<LOG2> {
        &self.value_mask
    }

    /// True when the leaf holds every voxel's value (the dense form).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// assert!(!leaf.is_dense());
    /// leaf.set_value_off(Coord::new(0, 0, 1), 5.0); // a second inactive value
    /// assert!(leaf.is_dense());
    /// let pinned = LeafNode::<f32, 3, true>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// assert!(pinned.is_dense());
    /// ```
    #[inline]
    pub fn is_dense(&self) -> bool {
        matches!(self.data, LeafData::Dense(_))
    }

    /// The values as they are stored: all of them (dense) or the active ones and the
    /// shared inactive value (packed). See [`LeafStorage`].
    #[inline]
    pub fn storage(&self) -> LeafStorage<'_, T> {
        match &self.data {
            LeafData::Dense(d) => LeafStorage::Dense(&d[..Self::VOXELS]),
            LeafData::Packed(p) => LeafStorage::Packed {
                active: &p.values,
                inactive: p.inactive,
            },
        }
    }

    /// The stored values, mutably, with the mask read-only. See [`LeafStorageMut`].
    #[inline]
    pub fn storage_mut(&mut self) -> LeafStorageMut<'_, T, LOG2> {
        match &mut self.data {
            LeafData::Dense(d) => LeafStorageMut::Dense {
                values: &mut d[..Self::VOXELS],
                mask: &self.value_mask,
            },
            LeafData::Packed(p) => LeafStorageMut::Packed {
                active: &mut p.values,
                mask: &self.value_mask,
            },
        }
    }

    /// Converts to the dense form (if needed) and returns every voxel's value,
    /// mutably. The leaf stays dense until [`compact`](Self::compact) or a write that
    /// drops it to [`REPACK_AT`](Self::REPACK_AT) active voxels.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 1.0, false);
    /// leaf.make_dense()[7] = 3.0;
    /// assert_eq!(leaf.value_at(7), 3.0);
    /// assert_eq!(leaf.value_at(8), 1.0);
    /// ```
    pub fn make_dense(&mut self) -> &mut [T] {
        if let LeafData::Packed(p) = &self.data {
            let mut d = dense_buffer(p.inactive);
            scatter_active(self.value_mask.words(), &p.values, &mut d[..]);
            self.data = LeafData::Dense(d);
        }
        match &mut self.data {
            LeafData::Dense(d) => &mut d[..Self::VOXELS],
            LeafData::Packed(_) => unreachable!("converted above"),
        }
    }

    /// Packs the leaf when it can be (at most [`PACKED_MAX`](Self::PACKED_MAX) active
    /// voxels, every inactive voxel with the same bits) and trims spare capacity.
    /// Values and states are unchanged. (A no-op with `DENSE_ONLY`.)
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// leaf.make_dense();
    /// leaf.set_value_on(Coord::new(1, 1, 1), 4.0);
    /// leaf.compact();
    /// assert!(!leaf.is_dense());
    /// assert_eq!(leaf.get_value(Coord::new(1, 1, 1)), 4.0);
    /// ```
    pub fn compact(&mut self) {
        match &mut self.data {
            LeafData::Dense(_) => {
                self.try_pack(Self::PACKED_MAX);
            }
            LeafData::Packed(p) => p.values.shrink_to_fit(),
        }
    }

    /// The packed form of `values` (every voxel's value) under `mask`, when at most
    /// `limit` voxels are active, at least one is inactive and every inactive voxel
    /// has the same bits.
    fn pack_from(values: &[T], mask: &Mask<LOG2>, limit: usize) -> Option<Packed<T>> {
        if DENSE_ONLY {
            return None;
        }
        let count = mask.count_on();
        if count > limit {
            return None;
        }
        let mut off = mask.iter_off();
        let inactive = values[off.next()?];
        if !off.all(|n| T::same_bits(values[n], inactive)) {
            return None;
        }
        Some(Packed {
            inactive,
            ranks: compute_ranks(mask.words()),
            values: mask.iter_on().map(|n| values[n]).collect(),
        })
    }

    /// Packs a dense leaf with at most `limit` active voxels and uniform inactive
    /// values; returns whether the leaf is packed afterwards.
    fn try_pack(&mut self, limit: usize) -> bool {
        let LeafData::Dense(d) = &self.data else {
            return true;
        };
        match Self::pack_from(&d[..Self::VOXELS], &self.value_mask, limit) {
            Some(p) => {
                self.data = LeafData::Packed(p);
                true
            }
            None => false,
        }
    }

    /// A leaf from its parts in either form (what [`storage`](Self::storage) shows):
    /// `inactive = Some(v)` builds a packed leaf whose active values are `values`
    /// (one per on bit of `mask`, in offset order) and whose inactive voxels hold `v`;
    /// `None` a dense leaf whose `values` are all `NUM_VALUES` voxel values. The form
    /// is kept as given (a `DENSE_ONLY` leaf unpacks), so that serialised trees
    /// round-trip exactly. `origin` is aligned down to the leaf grid.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, LeafPartsError, Mask, Node};
    /// let mut mask = Mask::<3>::new(false);
    /// mask.set_on(3);
    /// mask.set_on(70);
    /// let leaf = LeafNode::<f32>::from_parts(Coord::new(0, 0, 0), mask.clone(), Some(0.5), vec![1.0, 2.0])?;
    /// assert_eq!(leaf.probe_at(70), (2.0, true));
    /// assert_eq!(leaf.probe_at(4), (0.5, false));
    /// assert!(!leaf.is_dense());
    /// assert_eq!(
    ///     LeafNode::<f32>::from_parts(Coord::new(0, 0, 0), mask, Some(0.5), vec![1.0]).unwrap_err(),
    ///     LeafPartsError::WrongValueCount { expected: 2, got: 1 }
    /// );
    /// # Ok::<(), LeafPartsError>(())
    /// ```
    pub fn from_parts(
        origin: Coord,
        mask: Mask<LOG2>,
        inactive: Option<T>,
        values: Vec<T>,
    ) -> Result<Self, LeafPartsError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK_LOG2;
        let count = mask.count_on();
        let data = match inactive {
            None if values.len() == Self::VOXELS => {
                let mut d = dense_buffer(T::zeroed());
                d[..Self::VOXELS].copy_from_slice(&values);
                LeafData::Dense(d)
            }
            None => {
                return Err(LeafPartsError::WrongValueCount {
                    expected: Self::VOXELS,
                    got: values.len(),
                })
            }
            Some(_) if values.len() != count => {
                return Err(LeafPartsError::WrongValueCount {
                    expected: count,
                    got: values.len(),
                })
            }
            Some(_) if count > Self::PACKED_MAX => {
                return Err(LeafPartsError::TooManyActive {
                    active: count,
                    max: Self::PACKED_MAX,
                })
            }
            Some(v) => LeafData::Packed(Packed {
                inactive: v,
                ranks: compute_ranks(mask.words()),
                values,
            }),
        };
        let mut leaf = LeafNode {
            origin: origin.mask(!Self::DIM_MASK),
            value_mask: mask,
            data,
        };
        if DENSE_ONLY {
            leaf.densify();
        }
        Ok(leaf)
    }

    /// A leaf whose active voxels are the on bits of `mask`, with `values` (one per
    /// on bit, in offset order), and whose inactive voxels all hold `inactive`, in
    /// the form a write would reach: packed, or dense past
    /// [`PACKED_MAX`](Self::PACKED_MAX) active voxels. The value buffer of a packed
    /// leaf is `values` itself (no spare capacity unless `values` has some).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, LeafPartsError, Mask, Node};
    /// let mut mask = Mask::<3>::new(false);
    /// mask.set_on(7);
    /// let leaf = LeafNode::<f32>::from_active(Coord::new(0, 0, 0), mask, 0.5, vec![2.0])?;
    /// assert_eq!((leaf.probe_at(7), leaf.probe_at(8)), ((2.0, true), (0.5, false)));
    /// assert!(!leaf.is_dense());
    /// let all = LeafNode::<f32>::from_active(Coord::new(0, 0, 0), Mask::new(true), 0.5, vec![1.0; 512])?;
    /// assert!(all.is_dense());
    /// # Ok::<(), LeafPartsError>(())
    /// ```
    pub fn from_active(
        origin: Coord,
        mask: Mask<LOG2>,
        inactive: T,
        values: Vec<T>,
    ) -> Result<Self, LeafPartsError> {
        let count = mask.count_on();
        if values.len() != count {
            return Err(LeafPartsError::WrongValueCount {
                expected: count,
                got: values.len(),
            });
        }
        if count <= Self::PACKED_MAX {
            return Self::from_parts(origin, mask, Some(inactive), values);
        }
        let mut all = vec![inactive; Self::VOXELS];
        scatter_active(mask.words(), &values, &mut all);
        Self::from_parts(origin, mask, None, all)
    }

    /// The packed form's parts, if the leaf is packed.
    #[inline]
    pub(crate) fn packed_view(&self) -> Option<PackedView<'_, T, LOG2>> {
        match &self.data {
            LeafData::Packed(p) => Some(PackedView {
                mask: &self.value_mask,
                active: &p.values,
                inactive: p.inactive,
            }),
            LeafData::Dense(_) => None,
        }
    }

    /// Takes the result of a voxel-wise combination: packed when it allows (at most
    /// `PACKED_MAX` active, every inactive value the same), else dense. A sparse
    /// result's active values are `scratch[..count]`. A packed result keeps this
    /// leaf's value buffer when its capacity fits (at most [`SPARE_SLACK_BYTES`]
    /// spare), else takes a fitting one from `spare`, else allocates one of the
    /// exact size; a buffer the leaf no longer uses goes to `spare`. Reusing a buffer saves an allocation and a free — which matters
    /// when the old buffer was allocated by another thread.
    pub(crate) fn assign_merged(
        &mut self,
        m: crate::combine::Merged<T, LOG2>,
        scratch: &[T; MAX_LEAF_VALUES],
        spare: &mut impl crate::combine::Recycle<T>,
    ) {
        use crate::combine::Merged;
        match m {
            Merged::Full { values, mask } => {
                self.recycle(spare);
                self.data = LeafData::Dense(values);
                self.value_mask = mask;
                self.try_pack(Self::PACKED_MAX);
            }
            Merged::Sparse {
                mask,
                count,
                inactive,
                odd,
            } => {
                let active = &scratch[..count];
                if !DENSE_ONLY
                    && odd.is_empty()
                    && count <= Self::PACKED_MAX
                    && count < Self::VOXELS
                {
                    let slack = SPARE_SLACK_BYTES / core::mem::size_of::<T>().max(1);
                    let fits = |cap: usize| cap >= count && cap - count <= slack;
                    let ranks = compute_ranks(mask.words());
                    match &mut self.data {
                        LeafData::Packed(p) if fits(p.values.capacity()) => {
                            p.values.clear();
                            p.values.extend_from_slice(active);
                            p.inactive = inactive;
                            p.ranks = ranks;
                        }
                        _ => {
                            let mut values = match spare.take(count, count + slack) {
                                Some(mut v) => {
                                    v.clear();
                                    v
                                }
                                None => Vec::with_capacity(count),
                            };
                            values.extend_from_slice(active);
                            self.recycle(spare);
                            self.data = LeafData::Packed(Packed {
                                inactive,
                                ranks,
                                values,
                            });
                        }
                    }
                } else {
                    let mut d = dense_buffer(inactive);
                    scatter_active(mask.words(), active, &mut d[..]);
                    for (n, v) in odd {
                        d[usize::from(n)] = v;
                    }
                    self.recycle(spare);
                    self.data = LeafData::Dense(d);
                }
                self.value_mask = mask;
            }
        }
    }

    /// Hands a packed leaf's value buffer to `spare` (leaving an empty one; the
    /// caller replaces the data next). Nothing for a dense leaf or an unallocated
    /// buffer.
    fn recycle(&mut self, spare: &mut impl crate::combine::Recycle<T>) {
        if let LeafData::Packed(p) = &mut self.data {
            if p.values.capacity() > 0 {
                spare.give(core::mem::take(&mut p.values));
            }
        }
    }

    /// Converts to the dense form without returning the buffer.
    #[inline]
    fn densify(&mut self) {
        let _ = self.make_dense();
    }

    /// Every voxel's value in offset order, written to `out[..NUM_VALUES]`.
    ///
    /// # Panics
    /// If `out` is shorter than `NUM_VALUES`.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut leaf = LeafNode::<i32, 1>::new_filled(Coord::new(0, 0, 0), 5, false);
    /// leaf.set_at(3, 9, true);
    /// let mut out = [0; 8];
    /// leaf.copy_values_to(&mut out);
    /// assert_eq!(out, [5, 5, 5, 9, 5, 5, 5, 5]);
    /// ```
    pub fn copy_values_to(&self, out: &mut [T]) {
        let out = &mut out[..Self::VOXELS];
        match &self.data {
            LeafData::Dense(d) => out.copy_from_slice(&d[..Self::VOXELS]),
            LeafData::Packed(p) => {
                out.fill(p.inactive);
                scatter_active(self.value_mask.words(), &p.values, out);
            }
        }
    }

    /// Value at offset `n`.
    #[inline]
    pub fn value_at(&self, n: usize) -> T {
        match &self.data {
            LeafData::Dense(d) => d[n],
            LeafData::Packed(p) => {
                if self.value_mask.is_on(n) {
                    p.values[p.rank_of_active(self.value_mask.words(), n)]
                } else {
                    p.inactive
                }
            }
        }
    }

    /// Active state at offset `n`.
    #[inline]
    pub fn is_on_at(&self, n: usize) -> bool {
        self.value_mask.is_on(n)
    }

    /// Value and active state at offset `n`.
    #[inline]
    pub fn probe_at(&self, n: usize) -> (T, bool) {
        (self.value_at(n), self.value_mask.is_on(n))
    }

    /// After a voxel of a dense leaf turned off: pack again at the lower threshold.
    #[inline]
    fn after_turn_off(&mut self) {
        if !DENSE_ONLY && self.value_mask.count_on() == Self::REPACK_AT {
            self.try_pack(Self::REPACK_AT);
        }
    }

    /// After a packed leaf gained an active voxel: turn dense past the upper threshold.
    #[inline]
    fn after_turn_on(&mut self, len: usize) {
        if len > Self::PACKED_MAX {
            self.densify();
        }
    }

    /// Sets value and state at offset `n`.
    #[inline]
    pub fn set_at(&mut self, n: usize, v: T, on: bool) {
        match &mut self.data {
            LeafData::Dense(d) => {
                d[n] = v;
                let was_on = self.value_mask.is_on(n);
                self.value_mask.set(n, on);
                if was_on && !on {
                    self.after_turn_off();
                }
            }
            LeafData::Packed(p) => {
                let was_on = self.value_mask.is_on(n);
                if on {
                    if was_on {
                        let r = p.rank_of_active(self.value_mask.words(), n);
                        p.values[r] = v;
                    } else {
                        p.insert_at(&mut self.value_mask, n, v, Self::PACKED_MAX + 1);
                        let len = p.values.len();
                        self.after_turn_on(len);
                    }
                } else if !T::same_bits(v, p.inactive) {
                    self.densify();
                    self.set_at(n, v, on);
                } else if was_on {
                    p.remove_at(&mut self.value_mask, n);
                }
            }
        }
    }

    /// Sets the value at offset `n`, leaving its state.
    #[inline]
    pub fn set_value_only_at(&mut self, n: usize, v: T) {
        match &mut self.data {
            LeafData::Dense(d) => d[n] = v,
            LeafData::Packed(p) => {
                if self.value_mask.is_on(n) {
                    let r = p.rank_of_active(self.value_mask.words(), n);
                    p.values[r] = v;
                } else if !T::same_bits(v, p.inactive) {
                    self.make_dense()[n] = v;
                }
            }
        }
    }

    /// Sets the active state at offset `n`, leaving its value.
    #[inline]
    pub fn set_active_at(&mut self, n: usize, on: bool) {
        let was_on = self.value_mask.is_on(n);
        if was_on == on {
            return;
        }
        match &mut self.data {
            LeafData::Dense(_) => {
                self.value_mask.set(n, on);
                if !on {
                    self.after_turn_off();
                }
            }
            LeafData::Packed(p) => {
                if on {
                    let v = p.inactive;
                    p.insert_at(&mut self.value_mask, n, v, Self::PACKED_MAX + 1);
                    let len = p.values.len();
                    self.after_turn_on(len);
                } else if T::same_bits(
                    p.values[p.rank_of_active(self.value_mask.words(), n)],
                    p.inactive,
                ) {
                    p.remove_at(&mut self.value_mask, n);
                } else {
                    self.densify();
                    self.value_mask.set_off(n);
                }
            }
        }
    }

    /// Number of active voxels.
    #[inline]
    pub fn active_count(&self) -> usize {
        self.value_mask.count_on()
    }

    /// Sets every voxel to `v` with state `active` (OpenVDB `LeafNode::fill(v, active)`).
    pub fn fill_all(&mut self, v: T, active: bool) {
        self.value_mask.set_all(active);
        if active || DENSE_ONLY {
            match &mut self.data {
                LeafData::Dense(d) => d.fill(v),
                LeafData::Packed(_) => self.data = LeafData::Dense(dense_buffer(v)),
            }
        } else {
            self.data = LeafData::Packed(Packed {
                inactive: v,
                ranks: EMPTY_RANKS,
                values: Vec::new(),
            });
        }
    }

    /// Iterates over `(offset, value)` of the active voxels.
    pub fn iter_on(&self) -> impl Iterator<Item = (usize, T)> + '_ {
        let (dense, packed): (&[T], &[T]) = match &self.data {
            LeafData::Dense(d) => (&d[..], &[]),
            LeafData::Packed(p) => (&[], &p.values),
        };
        let mut k = 0;
        self.value_mask.iter_on().map(move |n| {
            if dense.is_empty() {
                k += 1;
                (n, packed[k - 1])
            } else {
                (n, dense[n])
            }
        })
    }

    /// True when no voxel is active (OpenVDB `isInactive`).
    pub fn is_inactive(&self) -> bool {
        self.value_mask.is_all_off()
    }

    /// Runs `f` over every voxel's value (`NUM_VALUES` of them, in offset order) and
    /// the mask as if the leaf were dense, then keeps or chooses the storage form
    /// with the leaf's hysteresis: a dense leaf packs only at
    /// [`REPACK_AT`](Self::REPACK_AT) active voxels or fewer, a packed one stays
    /// packed up to [`PACKED_MAX`](Self::PACKED_MAX) (both need every inactive voxel
    /// to hold the same bits). The bulk operations (fill of a sub-box, clip,
    /// combination) go through it.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// leaf.rewrite(|values, mask| {
    ///     values[..8].fill(2.0);
    ///     (0..8).for_each(|n| mask.set_on(n));
    /// });
    /// assert_eq!(leaf.probe_at(7), (2.0, true));
    /// assert!(!leaf.is_dense(), "8 active voxels stay packed");
    /// ```
    pub fn rewrite(&mut self, f: impl FnOnce(&mut [T], &mut Mask<LOG2>)) {
        if let LeafData::Dense(d) = &mut self.data {
            f(&mut d[..Self::VOXELS], &mut self.value_mask);
            self.try_pack(Self::REPACK_AT);
            return;
        }
        let mut buf = [T::zeroed(); MAX_LEAF_VALUES];
        self.copy_values_to(&mut buf);
        f(&mut buf[..Self::VOXELS], &mut self.value_mask);
        self.data = match Self::pack_from(&buf[..Self::VOXELS], &self.value_mask, Self::PACKED_MAX)
        {
            Some(p) => LeafData::Packed(p),
            None => {
                let mut d = dense_buffer(T::zeroed());
                d.copy_from_slice(&buf);
                LeafData::Dense(d)
            }
        };
    }

    fn clipped(&self, bbox: &CoordBBox) -> CoordBBox {
        self.node_bbox().intersection(bbox)
    }

    fn offsets_in(b: &CoordBBox, mut f: impl FnMut(usize)) {
        if b.is_empty() {
            return;
        }
        for x in b.min().x as i64..=b.max().x as i64 {
            for y in b.min().y as i64..=b.max().y as i64 {
                for z in b.min().z as i64..=b.max().z as i64 {
                    f(Self::coord_to_offset(Coord::new(
                        x as i32, y as i32, z as i32,
                    )));
                }
            }
        }
    }
}

impl<T: Value, const LOG2: u32, const DENSE_ONLY: bool> Node for LeafNode<T, LOG2, DENSE_ONLY> {
    type Value = T;
    const LOG2DIM: u32 = LOG2;
    const TOTAL: u32 = LOG2;
    const LEVEL: u32 = 0;
    const TINY: bool = !DENSE_ONLY;

    #[inline(always)]
    fn local_offset(c: Coord) -> usize {
        Self::coord_to_offset(c)
    }

    fn from_tiny(origin: Coord, offsets: &[u16], values: &[T], inactive: T) -> Self {
        let mask = Mask::from_on_bits(offsets.iter().map(|&o| usize::from(o)));
        let mut leaf = LeafNode {
            origin: origin.mask(!Self::DIM_MASK),
            data: LeafData::Packed(Packed {
                inactive,
                ranks: compute_ranks(mask.words()),
                values: values.to_vec(),
            }),
            value_mask: mask,
        };
        if DENSE_ONLY {
            leaf.densify();
        }
        leaf
    }

    fn compact_node(&mut self) {
        self.compact();
    }

    fn trim_spare(&mut self) {
        if let LeafData::Packed(p) = &mut self.data {
            let spare = p.values.capacity() - p.values.len();
            if spare * core::mem::size_of::<T>() > SPARE_SLACK_BYTES {
                p.values.shrink_to_fit();
            }
        }
    }

    fn tiny_parts(&self, max: usize, offsets: &mut Vec<u16>, values: &mut Vec<T>) -> Option<T> {
        if DENSE_ONLY {
            return None;
        }
        let inactive = match &self.data {
            LeafData::Packed(p) if p.values.len() <= max => {
                values.extend_from_slice(&p.values);
                p.inactive
            }
            LeafData::Packed(_) => return None,
            LeafData::Dense(d) => {
                let p = Self::pack_from(&d[..Self::VOXELS], &self.value_mask, max)?;
                values.extend_from_slice(&p.values);
                p.inactive
            }
        };
        offsets.extend(self.value_mask.iter_on().map(|n| n as u16));
        Some(inactive)
    }

    fn new_filled(origin: Coord, value: T, active: bool) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK_LOG2;
        let data = if active || DENSE_ONLY {
            LeafData::Dense(dense_buffer(value))
        } else {
            LeafData::Packed(Packed {
                inactive: value,
                ranks: EMPTY_RANKS,
                values: Vec::new(),
            })
        };
        LeafNode {
            origin: origin.mask(!Self::DIM_MASK),
            value_mask: Mask::new(active),
            data,
        }
    }

    #[inline]
    fn origin(&self) -> Coord {
        self.origin
    }

    #[inline]
    fn get_value(&self, c: Coord) -> T {
        self.value_at(Self::coord_to_offset(c))
    }

    #[inline]
    fn is_value_on(&self, c: Coord) -> bool {
        self.value_mask.is_on(Self::coord_to_offset(c))
    }

    #[inline]
    fn probe_value(&self, c: Coord) -> (T, bool) {
        self.probe_at(Self::coord_to_offset(c))
    }

    #[inline]
    fn value_level(&self, _c: Coord) -> u32 {
        0
    }

    #[inline]
    fn set_value_on(&mut self, c: Coord, v: T) {
        let n = Self::coord_to_offset(c);
        // The two common cases inline (the accessor's coherent writes): a store
        // into a dense leaf, an append past every active voxel of a packed one.
        match &mut self.data {
            LeafData::Dense(d) => {
                d[n] = v;
                self.value_mask.set_on(n);
            }
            LeafData::Packed(p) => {
                if !p.try_append(&mut self.value_mask, n, v, Self::PACKED_MAX) {
                    self.set_at(n, v, true);
                }
            }
        }
    }

    #[inline]
    fn set_value_off(&mut self, c: Coord, v: T) {
        self.set_at(Self::coord_to_offset(c), v, false);
    }

    #[inline]
    fn set_value_only(&mut self, c: Coord, v: T) {
        self.set_value_only_at(Self::coord_to_offset(c), v);
    }

    #[inline]
    fn set_active(&mut self, c: Coord, on: bool) {
        self.set_active_at(Self::coord_to_offset(c), on);
    }

    #[inline]
    fn modify_value<F: FnOnce(&mut T)>(&mut self, c: Coord, f: F) {
        let n = Self::coord_to_offset(c);
        match &mut self.data {
            LeafData::Dense(d) => {
                f(&mut d[n]);
                self.value_mask.set_on(n);
            }
            LeafData::Packed(p) => {
                if self.value_mask.is_on(n) {
                    let r = p.rank_of_active(self.value_mask.words(), n);
                    f(&mut p.values[r]);
                } else {
                    let mut v = p.inactive;
                    f(&mut v);
                    p.insert_at(&mut self.value_mask, n, v, Self::PACKED_MAX + 1);
                    let len = p.values.len();
                    self.after_turn_on(len);
                }
            }
        }
    }

    fn fill(&mut self, bbox: &CoordBBox, v: T, active: bool) {
        let b = self.clipped(bbox);
        if b == self.node_bbox() {
            self.fill_all(v, active);
            return;
        }
        if b.is_empty() {
            return;
        }
        self.rewrite(|values, mask| {
            Self::offsets_in(&b, |n| {
                values[n] = v;
                mask.set(n, active);
            })
        });
    }

    fn dense_fill(&mut self, bbox: &CoordBBox, v: T, active: bool) {
        self.fill(bbox, v, active);
    }

    fn prune_tolerance(&mut self, tol: T) -> Option<(T, bool)> {
        let state = self.value_mask.constant_state()?;
        if let LeafData::Packed(p) = &self.data {
            if !state {
                return Some((p.inactive, false));
            }
        }
        let mut scratch = [T::zeroed(); MAX_LEAF_VALUES];
        self.copy_values_to(&mut scratch);
        let all = &mut scratch[..Self::VOXELS];
        if !within_tolerance(all.iter().copied(), tol) {
            return None;
        }
        Some((lower_median(all), state))
    }

    fn prune_first_value(&mut self, tol: T) -> Option<(T, bool)> {
        let state = self.value_mask.constant_state()?;
        let first = self.value_at(0);
        match &self.data {
            LeafData::Dense(d) => d[..Self::VOXELS]
                .iter()
                .all(|&v| approx_equal_tol(v, first, tol)),
            LeafData::Packed(p) => {
                p.values.iter().all(|&v| approx_equal_tol(v, first, tol))
                    && (self.value_mask.is_all_on() || approx_equal_tol(p.inactive, first, tol))
            }
        }
        .then_some((first, state))
    }

    fn prune_inactive(&mut self, _value: T) -> bool {
        self.is_inactive()
    }

    fn voxelize_active_tiles(&mut self) {}

    fn clip(&mut self, clip: &CoordBBox, background: T) {
        let node = self.node_bbox();
        if clip.contains_bbox(&node) {
            return;
        }
        let inside = node.intersection(clip);
        let origin = self.origin;
        self.rewrite(|values, mask| {
            for (n, v) in values.iter_mut().enumerate() {
                let l = Self::offset_to_local(n);
                let g = Coord::new(origin.x + l.x, origin.y + l.y, origin.z + l.z);
                if !inside.contains(g) {
                    *v = background;
                    mask.set_off(n);
                }
            }
        });
    }

    fn reset_background(&mut self, old: T, new: T) {
        let neg_old = T::negative(old);
        let neg_new = T::negative(new);
        let remap = |v: &mut T| {
            if T::is_approx_equal(*v, old) {
                *v = new;
            } else if T::is_approx_equal(*v, neg_old) {
                *v = neg_new;
            }
        };
        match &mut self.data {
            LeafData::Dense(d) => {
                for n in self.value_mask.iter_off() {
                    remap(&mut d[n]);
                }
            }
            LeafData::Packed(p) => remap(&mut p.inactive),
        }
    }

    fn on_voxel_count(&self) -> u64 {
        self.value_mask.count_on() as u64
    }

    fn off_voxel_count(&self) -> u64 {
        self.value_mask.count_off() as u64
    }

    fn on_leaf_voxel_count(&self) -> u64 {
        self.on_voxel_count()
    }

    fn off_leaf_voxel_count(&self) -> u64 {
        self.off_voxel_count()
    }

    fn on_tile_count(&self) -> u64 {
        0
    }

    fn leaf_count(&self) -> usize {
        1
    }

    fn non_leaf_count(&self) -> usize {
        0
    }

    fn eval_active_bbox(&self, bbox: &mut CoordBBox, visit_voxels: bool) {
        let mut it = self.value_mask.iter_on();
        let Some(first) = it.next() else { return };
        if !visit_voxels {
            *bbox = bbox.union(&self.node_bbox());
            return;
        }
        let mut lo = Self::offset_to_local(first);
        let mut hi = lo;
        for n in it {
            let l = Self::offset_to_local(n);
            lo = lo.min_component(l);
            hi = hi.max_component(l);
        }
        let o = self.origin;
        let shift = |l: Coord| Coord::new(o.x + l.x, o.y + l.y, o.z + l.z);
        *bbox = bbox.union(&CoordBBox::new(shift(lo), shift(hi)));
    }

    fn mem_usage(&self) -> usize {
        let values = match &self.data {
            LeafData::Dense(_) => MAX_LEAF_VALUES,
            LeafData::Packed(p) => p.values.capacity(),
        };
        core::mem::size_of::<Self>()
            + self.value_mask.heap_bytes()
            + values * core::mem::size_of::<T>()
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let err = |what: &str| ValidationError {
            origin: self.origin,
            level: 0,
            what: what.to_string(),
        };
        if self.origin.mask(!Self::DIM_MASK) != self.origin {
            return Err(err("origin not aligned to the leaf grid"));
        }
        match &self.data {
            LeafData::Dense(_) => Ok(()),
            LeafData::Packed(_) if DENSE_ONLY => Err(err("packed leaf in a dense-only tree")),
            LeafData::Packed(p) => {
                if p.values.len() != self.value_mask.count_on() {
                    return Err(err(
                        "packed leaf: value count differs from the active count",
                    ));
                }
                if p.ranks != compute_ranks(self.value_mask.words()) {
                    return Err(err("packed leaf: stale rank index"));
                }
                if p.values.len() > Self::PACKED_MAX {
                    return Err(err("packed leaf above its threshold"));
                }
                Ok(())
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    type L = LeafNode<f32, 3>;

    #[test]
    fn offsets_round_trip() {
        for n in 0..512 {
            assert_eq!(L::coord_to_offset(L::offset_to_local(n)), n);
        }
        assert_eq!(L::coord_to_offset(Coord::new(1, 0, 0)), 64);
        assert_eq!(L::coord_to_offset(Coord::new(0, 1, 0)), 8);
        assert_eq!(L::coord_to_offset(Coord::new(-1, -1, -1)), 511);
    }

    #[test]
    fn prune_takes_lower_median_within_tolerance() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 1.0, true);
        leaf.set_value_on(Coord::new(0, 0, 0), 1.5);
        assert_eq!(leaf.prune_tolerance(0.0), None);
        assert_eq!(leaf.prune_tolerance(0.5), Some((1.0, true)));
        leaf.set_value_off(Coord::new(0, 0, 1), 1.0);
        assert_eq!(
            leaf.prune_tolerance(1.0),
            None,
            "mixed states never collapse"
        );
    }

    #[test]
    fn lower_median_of_even_count() {
        let mut leaf = LeafNode::<i32, 1>::new_filled(Coord::new(0, 0, 0), 0, false);
        for (n, v) in [5, 1, 4, 2, 8, 7, 3, 6].into_iter().enumerate() {
            leaf.set_at(n, v, false);
        }
        assert_eq!(leaf.prune_tolerance(10), Some((4, false)));
    }

    #[test]
    fn clip_outside_sets_background_inactive() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 3.0, true);
        leaf.clip(
            &CoordBBox::new(Coord::new(0, 0, 0), Coord::new(3, 7, 7)),
            0.0,
        );
        assert_eq!(leaf.on_voxel_count(), 4 * 64);
        assert_eq!(leaf.probe_value(Coord::new(4, 0, 0)), (0.0, false));
    }

    #[test]
    fn reset_background_maps_negatives() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        leaf.set_value_off(Coord::new(0, 0, 1), -2.0);
        leaf.set_value_off(Coord::new(0, 0, 2), 2.0);
        leaf.set_value_on(Coord::new(0, 0, 3), 2.0);
        leaf.reset_background(2.0, 5.0);
        assert_eq!(leaf.get_value(Coord::new(0, 0, 1)), -5.0);
        assert_eq!(leaf.get_value(Coord::new(0, 0, 2)), 5.0);
        assert_eq!(
            leaf.get_value(Coord::new(0, 0, 3)),
            2.0,
            "active values stay"
        );
    }

    fn check(leaf: &L) {
        leaf.validate().expect("valid leaf");
    }

    #[test]
    fn packed_until_the_upper_threshold_then_dense() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        assert!(!leaf.is_dense());
        for n in 0..L::PACKED_MAX {
            leaf.set_at(n * 512 / L::PACKED_MAX, n as f32, true);
            check(&leaf);
        }
        assert!(!leaf.is_dense(), "exactly PACKED_MAX active stays packed");
        leaf.set_at(511, -1.0, true);
        assert!(leaf.is_dense());
        assert_eq!(leaf.active_count(), L::PACKED_MAX + 1);
        for n in 0..L::PACKED_MAX {
            assert_eq!(leaf.value_at(n * 512 / L::PACKED_MAX), n as f32);
        }
        assert_eq!(leaf.value_at(511), -1.0);
    }

    #[test]
    fn dense_repacks_at_the_lower_threshold_only() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, true);
        assert!(leaf.is_dense());
        let mut on = 512;
        while on > L::REPACK_AT + 1 {
            on -= 1;
            leaf.set_at(on, 0.0, false);
            assert!(leaf.is_dense(), "{on} active");
        }
        leaf.set_at(L::REPACK_AT, 0.0, false);
        assert!(!leaf.is_dense(), "packed at REPACK_AT");
        check(&leaf);
        // Alternating around the lower threshold does not thrash.
        for _ in 0..10 {
            leaf.set_at(L::REPACK_AT, 1.0, true);
            assert!(!leaf.is_dense());
            leaf.set_at(L::REPACK_AT, 0.0, false);
            assert!(!leaf.is_dense());
        }
        check(&leaf);
    }

    #[test]
    fn an_inactive_value_other_than_the_shared_one_forces_dense() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        leaf.set_at(3, 1.0, true);
        leaf.set_at(4, 0.0, false); // the shared value: stays packed
        assert!(!leaf.is_dense());
        leaf.set_at(5, -0.0, false); // other bits
        assert!(leaf.is_dense());
        assert_eq!(leaf.value_at(5).to_bits(), (-0.0f32).to_bits());
        assert_eq!(leaf.value_at(3), 1.0);
        // Deactivating keeps the value: a non-shared value forces dense too.
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        leaf.set_at(3, 1.0, true);
        leaf.set_active_at(3, false);
        assert!(leaf.is_dense());
        assert_eq!(leaf.probe_at(3), (1.0, false));
        // set_value_only on an inactive voxel likewise.
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        leaf.set_value_only_at(9, 2.0);
        assert!(leaf.is_dense());
        assert_eq!(leaf.probe_at(9), (2.0, false));
    }

    #[test]
    fn packed_and_dense_agree_voxel_for_voxel() {
        let mut packed = L::new_filled(Coord::new(8, 0, -8), 0.5, false);
        let mut dense = LeafNode::<f32, 3, true>::new_filled(Coord::new(8, 0, -8), 0.5, false);
        let mut s = 12345u64;
        for i in 0..4000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = (s >> 33) as usize % 512;
            let v = ((s >> 20) % 7) as f32;
            let op = (s >> 50) % 5;
            let v = if op == 1 && i % 3 != 0 { 0.5 } else { v };
            match op {
                0 => {
                    packed.set_at(n, v, true);
                    dense.set_at(n, v, true);
                }
                1 => {
                    packed.set_at(n, v, false);
                    dense.set_at(n, v, false);
                }
                2 => {
                    packed.set_active_at(n, (s & 1) == 1);
                    dense.set_active_at(n, (s & 1) == 1);
                }
                3 => {
                    packed.modify_value(L::offset_to_local(n), |x| *x += 1.0);
                    dense.modify_value(L::offset_to_local(n), |x| *x += 1.0);
                }
                _ => {
                    if i % 50 == 0 {
                        packed.compact();
                    }
                }
            }
            check(&packed);
            for m in 0..512 {
                assert_eq!(packed.probe_at(m), dense.probe_at(m), "op {i} voxel {m}");
            }
        }
        assert!(dense.is_dense());
    }

    #[test]
    fn mem_usage_follows_the_form() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        let empty = leaf.mem_usage();
        assert_eq!(empty, core::mem::size_of::<L>());
        // The last offset: the leaf is expected to stay at one value.
        leaf.set_at(511, 1.0, true);
        assert!(leaf.mem_usage() > empty);
        assert!(leaf.mem_usage() < empty + 64);
        leaf.make_dense();
        assert_eq!(leaf.mem_usage(), empty + 512 * 4);
        // The first offset, appending: room for a leaf expected to fill up.
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        leaf.set_at(0, 1.0, true);
        assert_eq!(leaf.mem_usage(), empty + APPEND_FIRST * 4);
        leaf.trim_spare();
        assert_eq!(leaf.mem_usage(), empty + 4, "trimmed to its one value");
    }

    /// Every packed leaf's rank index: what `compute_ranks` gives for its mask.
    fn check_ranks(leaf: &L) {
        if let LeafData::Packed(p) = &leaf.data {
            assert_eq!(p.ranks, compute_ranks(leaf.value_mask.words()));
        }
        check(leaf);
    }

    #[test]
    fn the_rank_index_stops_at_the_top_word() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        let LeafData::Packed(p) = &leaf.data else {
            unreachable!("new inactive leaves are packed")
        };
        assert_eq!(p.ranks, EMPTY_RANKS);
        // Appends, a gap of empty words, an insert before the top word, removals
        // that empty the top word (twice) and word 0.
        let steps: [(usize, bool); 12] = [
            (3, true),
            (5, true),
            (200, true),
            (201, true),
            (70, true),
            (0, true),
            (201, false),
            (200, false),
            (70, false),
            (450, true),
            (3, false),
            (5, false),
        ];
        let mut model = [None; 512];
        for (i, &(n, on)) in steps.iter().enumerate() {
            let v = if on { i as f32 + 1.0 } else { 0.0 };
            leaf.set_at(n, v, on);
            model[n] = on.then_some(v);
            check_ranks(&leaf);
            for (m, want) in model.iter().enumerate() {
                assert_eq!(leaf.probe_at(m), want.map_or((0.0, false), |v| (v, true)));
            }
        }
        let LeafData::Packed(p) = &leaf.data else {
            unreachable!("two active voxels stay packed")
        };
        assert_eq!(
            p.ranks,
            [0, 1, 1, 1, 1, 1, 1, 1],
            "0 and 450: word 7 is the top"
        );
        leaf.set_at(450, 0.0, false);
        leaf.set_at(0, 0.0, false);
        check_ranks(&leaf);
        let LeafData::Packed(p) = &leaf.data else {
            unreachable!("an empty leaf stays packed")
        };
        assert_eq!(p.ranks, EMPTY_RANKS);
    }

    #[test]
    fn activating_and_modifying_keep_the_rank_index() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 2.0, false);
        for n in [130, 7, 300, 64, 510] {
            leaf.set_active_at(n, true);
            check_ranks(&leaf);
            leaf.modify_value(L::offset_to_local(n + 1), |v| *v += 1.0);
            check_ranks(&leaf);
        }
        for n in [510, 300, 7] {
            leaf.set_active_at(n, false);
            check_ranks(&leaf);
        }
        assert_eq!(leaf.active_count(), 7);
        assert_eq!(leaf.probe_at(130), (2.0, true));
        assert_eq!(leaf.probe_at(131), (3.0, true));
    }

    #[test]
    fn appending_grows_by_the_expected_count() {
        // 186 values over the first three x planes and a half, in offset order (a
        // typical `sphere` leaf): one buffer, grown at most once.
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        let mut capacities = Vec::new();
        for n in 0..186 {
            leaf.set_at(n, n as f32, true);
            let LeafData::Packed(p) = &leaf.data else {
                unreachable!("186 values stay packed")
            };
            if capacities.last() != Some(&p.values.capacity()) {
                capacities.push(p.values.capacity());
            }
        }
        assert!(capacities.len() <= 2, "{capacities:?}");
        assert!(*capacities.last().unwrap() <= L::PACKED_MAX + 1);
        // Inserting before active voxels: doubling, then by half.
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        for n in (0..186).rev() {
            leaf.set_at(n, n as f32, true);
        }
        let LeafData::Packed(p) = &leaf.data else {
            unreachable!("186 values stay packed")
        };
        assert!(p.values.capacity() <= 2 * 186, "{}", p.values.capacity());
        check_ranks(&leaf);
    }

    /// `set_value_on`'s inline append (spare capacity, past every active voxel)
    /// and every case it leaves to `set_at`: a voxel already active, one before the
    /// top, a full buffer, the packed limit (the leaf turns dense), a skipped word.
    #[test]
    fn set_value_on_appends_inline_and_falls_back() {
        let at = |n: usize| L::offset_to_local(n);
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.5, false);
        let mut want = vec![(0.5f32, false); 512];
        let write = |leaf: &mut L, want: &mut Vec<(f32, bool)>, n: usize, v: f32| {
            leaf.set_value_on(at(n), v);
            want[n] = (v, true);
            check_ranks(leaf);
            for (k, &w) in want.iter().enumerate() {
                assert_eq!(leaf.probe_at(k), w, "offset {k} after writing {n}");
            }
        };
        write(&mut leaf, &mut want, 3, 1.0); // first value (no buffer yet: set_at)
        write(&mut leaf, &mut want, 4, 2.0); // append
        write(&mut leaf, &mut want, 200, 3.0); // append into a new word past empty words
        write(&mut leaf, &mut want, 4, 4.0); // already active
        write(&mut leaf, &mut want, 100, 5.0); // before the top: an insertion
        write(&mut leaf, &mut want, 201, 6.0);
        let LeafData::Packed(p) = &leaf.data else {
            unreachable!("6 values stay packed")
        };
        assert_eq!(p.values, [1.0, 4.0, 5.0, 3.0, 6.0]);
        // Appending in offset order up to the packed limit, then past it.
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.5, false);
        let mut want = vec![(0.5f32, false); 512];
        for (n, w) in want.iter_mut().enumerate().take(L::PACKED_MAX) {
            leaf.set_value_on(at(n), n as f32);
            *w = (n as f32, true);
        }
        assert!(!leaf.is_dense(), "{} values", leaf.active_count());
        check_ranks(&leaf);
        write(&mut leaf, &mut want, 500, -1.0);
        assert!(leaf.is_dense(), "past PACKED_MAX the leaf turns dense");
        write(&mut leaf, &mut want, 511, -2.0); // dense: a store
        assert_eq!(leaf.active_count(), L::PACKED_MAX + 2);
    }

    #[test]
    fn scatter_active_copies_runs() {
        let masks: [[u64; 8]; 4] = [
            [0; 8],
            [u64::MAX; 8],
            [
                1 << 63,
                1,
                0xF0F0,
                u64::MAX << 1,
                u64::MAX >> 1,
                0,
                5,
                1 << 63,
            ],
            [0x8000_0000_0000_0001, 0, 0, 0, 0, 0, 0, u64::MAX],
        ];
        for words in masks {
            let count = words.iter().map(|w| w.count_ones() as usize).sum::<usize>();
            let active: Vec<u32> = (1..=count as u32).collect();
            let mut out = [0u32; 512];
            scatter_active(&words, &active, &mut out);
            let mut want = [0u32; 512];
            let mut k = 0;
            for n in 0..512 {
                if words[n / 64] >> (n % 64) & 1 == 1 {
                    want[n] = active[k];
                    k += 1;
                }
            }
            assert_eq!(out, want, "{words:x?}");
        }
    }

    #[test]
    fn equality_ignores_the_form() {
        let mut a = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        a.set_at(7, 3.0, true);
        let mut b = a.clone();
        b.make_dense();
        assert_eq!(a, b);
        b.set_at(8, 1.0, false);
        assert_ne!(a, b);
    }
}
