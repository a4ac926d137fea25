//! Parallel reductions over the active values of a tree: active count, sum, min/max,
//! L1 and L2 norms, histogram.
//!
//! # Determinism
//! The results do not depend on the number of threads. Each lower internal node is
//! reduced on one thread — its leaf objects in slot order, then the active values of
//! its tiny leaves (decision 0011) as one contiguous run, then its active tiles in
//! slot order — and the per-lower-node partial results are combined **left to right in
//! tree order**; then the active tiles of the upper nodes (tree order) and of the
//! root (key order) are added, in that order. Counts and histograms are exact
//! integers. An active tile counts as `value × voxels it covers`.
//!
//! A leaf is summed as it is stored (decision 0201): a dense leaf by the canonical
//! masked kernel of [`kernels`](crate::kernels) (voxel `i` in lane `i % 16`), a
//! packed leaf by the contiguous kernel over its active values (the `j`-th active
//! value in lane `j % 16`), with no mask and no gather. Both are fixed orders, so a
//! given tree always gives the same bits; but a leaf's sum can differ in the last
//! bits between its dense and packed forms (e.g. before and after
//! [`LeafNode::compact`]). Min/max and histograms do not depend on the form.

use rayon::prelude::*;
use sparsevdb_tree::{LeafNode, LeafStorage, LowerNode, Node, Tree, Value};

use crate::kernels;
use crate::nodes::lower_nodes;

/// How many leaves ahead the reductions prefetch a leaf's header (its address is
/// known without touching memory)...
const HEADER_AHEAD: usize = 16;
/// ... and its values (their address is in the header, fetched by then). 16 / 8
/// beat 8 / 4 by 7–9 % on `sphere` (1 thread, A/B runs in alternation, 2026-11-26);
/// 32 / 16 and 16 / 12 were no better, 8 / 2 clearly worse.
const VALUES_AHEAD: usize = 8;
// The look-ahead ring in `fold_lower` indexes with `% HEADER_AHEAD`.
const _: () = assert!(HEADER_AHEAD.is_power_of_two() && VALUES_AHEAD < HEADER_AHEAD);

use crate::ToF64;

/// The fixed-order fold shared by the reductions: `lower(node)` per lower node in
/// parallel, combined left to right with `merge`, then `tile(acc, value, voxels)` for
/// the active tiles of every upper node, then of the root.
fn fold_tree<T, R, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
    identity: R,
    lower: impl Fn(&LowerNode<T, L1, L0>) -> R + Sync + Send,
    merge: impl Fn(R, R) -> R,
    tile: impl Fn(R, T, u64) -> R,
) -> R
where
    T: Value,
    R: Send,
{
    let partials: Vec<R> = lower_nodes(tree).into_par_iter().map(&lower).collect();
    let mut acc = partials.into_iter().fold(identity, &merge);
    let lower_voxels = LowerNode::<T, L1, L0>::NUM_VOXELS;
    for upper in tree.root().children() {
        for n in upper.value_mask().iter_on() {
            if let Some((v, _)) = upper.tile(n) {
                acc = tile(acc, v, lower_voxels);
            }
        }
    }
    let upper_voxels = 1u64.checked_shl(3 * (L2 + L1 + L0)).unwrap_or(u64::MAX);
    for (_, v, on) in tree.root().tiles() {
        if on {
            acc = tile(acc, v, upper_voxels);
        }
    }
    acc
}

/// Reduces one lower node: its leaf objects in slot order, then the active values of
/// its tiny leaves (one slice, `tiny`), then its active tiles.
fn fold_lower<T: Value, R, const L1: u32, const L0: u32>(
    lower: &LowerNode<T, L1, L0>,
    identity: R,
    leaf: impl Fn(R, &LeafNode<T, L0>) -> R,
    tiny: impl Fn(R, &[T]) -> R,
    tile: impl Fn(R, T, u64) -> R,
) -> R {
    // Leaves are separate allocations (header, then values): prefetch in two stages
    // so that neither load stalls the sum. The look-ahead is a ring of the next
    // `HEADER_AHEAD` leaves of the child iterator (no per-node vector): when leaf `i`
    // is summed, `ring` holds leaves `i .. i + HEADER_AHEAD`.
    let mut kids = lower.children();
    let mut ring: [Option<&LeafNode<T, L0>>; HEADER_AHEAD] = [None; HEADER_AHEAD];
    for slot in ring.iter_mut() {
        *slot = kids.next();
        if let Some(l) = *slot {
            kernels::prefetch(core::slice::from_ref(l));
        }
    }
    let mut acc = identity;
    let mut i = 0;
    while let Some(l) = ring[i % HEADER_AHEAD] {
        if let Some(next) = ring[(i + VALUES_AHEAD) % HEADER_AHEAD] {
            match next.storage() {
                LeafStorage::Dense(values) => kernels::prefetch(values),
                LeafStorage::Packed { active, .. } => kernels::prefetch(active),
            }
        }
        let ahead = kids.next();
        if let Some(a) = ahead {
            kernels::prefetch(core::slice::from_ref(a));
        }
        ring[i % HEADER_AHEAD] = ahead;
        acc = leaf(acc, l);
        i += 1;
    }
    let tiny_values = lower.tiny_active_values();
    if !tiny_values.is_empty() {
        acc = tiny(acc, tiny_values);
    }
    let voxels = LeafNode::<T, L0>::NUM_VOXELS;
    for n in lower.value_mask().iter_on() {
        if let Some((v, _)) = lower.tile(n) {
            acc = tile(acc, v, voxels);
        }
    }
    acc
}

/// Number of active voxels, active tiles counting the voxels they cover (saturating;
/// equals [`Tree::active_voxel_count`]).
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(99, 99, 99)), 1.0, true);
/// assert_eq!(sparsevdb_traverse::active_count(&t), 1_000_000);
/// ```
pub fn active_count<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> u64 {
    fold_tree(
        tree,
        0u64,
        |lower| {
            fold_lower(
                lower,
                0u64,
                |a, l| a + l.active_count() as u64,
                |a, v| a + v.len() as u64,
                |a, _, n| a.saturating_add(n),
            )
        },
        u64::saturating_add,
        |a, _, n| a.saturating_add(n),
    )
}

/// Calls `f` on every active value of a leaf, in offset order (a packed leaf's
/// active values are read straight from their slice).
#[inline]
fn for_each_active<T: Value, const L0: u32>(l: &LeafNode<T, L0>, mut f: impl FnMut(T)) {
    match l.storage() {
        LeafStorage::Dense(values) => l.value_mask().iter_on().for_each(|n| f(values[n])),
        LeafStorage::Packed { active, .. } => active.iter().for_each(|&v| f(v)),
    }
}

/// A sum over the active values: `dense(values, mask words)` for a dense leaf,
/// `packed(active)` for a packed one, `tile_term` for tiles.
fn sum_with<T: ToF64, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
    dense: impl Fn(&[T], &[u64]) -> f64 + Sync,
    packed: impl Fn(&[T]) -> f64 + Sync,
    tile_term: impl Fn(T) -> f64 + Sync,
) -> f64 {
    let tile = |a: f64, v: T, n: u64| a + tile_term(v) * n as f64;
    let leaf = |l: &LeafNode<T, L0>| match l.storage() {
        LeafStorage::Dense(values) => dense(values, l.value_mask().words()),
        LeafStorage::Packed { active, .. } => packed(active),
    };
    fold_tree(
        tree,
        0.0f64,
        |lower| fold_lower(lower, 0.0, |a, l| a + leaf(l), |a, v| a + packed(v), tile),
        |a, b| a + b,
        tile,
    )
}

/// Sum of the active values in `f64` (an active tile adds `value × voxels`), the
/// same for any number of threads (lower nodes reduced in slot order, then combined
/// left to right in tree order, then the upper and root tiles added).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 1.5);
/// t.set_value(Coord::new(1000, 0, 0), 2.5);
/// t.set_value_off(Coord::new(1, 0, 0), 100.0);
/// assert_eq!(sparsevdb_traverse::sum(&t), 4.0);
/// ```
pub fn sum<T: ToF64, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> f64 {
    sum_with(tree, T::masked_sum, T::slice_sum, T::to_f64)
}

/// L1 norm of the active values: `Σ |v|` in `f64` (tiles weighted by their voxels).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), -1.5);
/// t.set_value(Coord::new(0, 0, 1), 2.0);
/// assert_eq!(sparsevdb_traverse::l1_norm(&t), 3.5);
/// ```
pub fn l1_norm<T: ToF64, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> f64 {
    sum_with(tree, T::masked_abs_sum, T::slice_abs_sum, |v| {
        v.to_f64().abs()
    })
}

/// L2 norm of the active values: `sqrt(Σ v²)` in `f64` (tiles weighted by their
/// voxels).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 3.0);
/// t.set_value(Coord::new(0, 0, 1), -4.0);
/// assert_eq!(sparsevdb_traverse::l2_norm(&t), 5.0);
/// ```
pub fn l2_norm<T: ToF64, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> f64 {
    sum_with(tree, T::masked_sq_sum, T::slice_sq_sum, |v| {
        let x = v.to_f64();
        x * x
    })
    .sqrt()
}

fn merge_min_max<T: Value>(a: Option<(T, T)>, b: Option<(T, T)>) -> Option<(T, T)> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some((a0, a1)), Some((b0, b1))) => Some((
            if T::less_than(b0, a0) { b0 } else { a0 },
            if T::less_than(a1, b1) { b1 } else { a1 },
        )),
    }
}

fn with_value<T: ToF64>(acc: Option<(T, T)>, v: T) -> Option<(T, T)> {
    if v.to_f64().is_nan() {
        acc
    } else {
        merge_min_max(acc, Some((v, v)))
    }
}

/// The smallest and largest active value (tiles included), ignoring NaN; `None`
/// when no non-NaN value is active. Of values that compare equal (`-0.0` and `0.0`)
/// the first in tree order is kept.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// assert_eq!(sparsevdb_traverse::min_max(&t), None);
/// t.set_value(Coord::new(0, 0, 0), 3.0);
/// t.set_value(Coord::new(9, 0, 0), -2.0);
/// t.set_value(Coord::new(20, 0, 0), f32::NAN);
/// t.set_value_off(Coord::new(1, 0, 0), -99.0);
/// assert_eq!(sparsevdb_traverse::min_max(&t), Some((-2.0, 3.0)));
/// ```
pub fn min_max<T: ToF64, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> Option<(T, T)> {
    let tile = |a, v, _| with_value(a, v);
    fold_tree(
        tree,
        None,
        |lower| {
            fold_lower(
                lower,
                None,
                |mut a, l| {
                    for_each_active(l, |v| a = with_value(a, v));
                    a
                },
                |a, vs| vs.iter().fold(a, |a, &v| with_value(a, v)),
                tile,
            )
        },
        merge_min_max,
        tile,
    )
}

/// A histogram of the active values (tiles weighted by their voxels): `bins` equal
/// bins over `[lo, hi)`.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// for (i, v) in [0.1f32, 0.2, 0.6, 1.5, -1.0].into_iter().enumerate() {
///     t.set_value(Coord::new(i as i32, 0, 0), v);
/// }
/// let h = sparsevdb_traverse::histogram(&t, 0.0, 1.0, 2);
/// assert_eq!(h.counts, [2, 1]);
/// assert_eq!((h.below, h.above, h.nan), (1, 1, 0));
/// assert_eq!(h.total(), 5);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub lo: OrdF64,
    /// Upper edge of the last bin (exclusive).
    pub hi: OrdF64,
    /// Voxel counts per bin; bin `k` holds `lo + k·w <= v < lo + (k+1)·w`, `w = (hi − lo) / bins`
    /// (computed as `floor((v − lo) / (hi − lo) · bins)` in `f64`).
    pub counts: Vec<u64>,
    /// Active voxels with `v < lo`.
    pub below: u64,
    /// Active voxels with `v >= hi`.
    pub above: u64,
    /// Active voxels holding NaN.
    pub nan: u64,
}

impl Histogram {
    /// Every active voxel counted: bins, below, above and NaN.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above + self.nan
    }

    fn empty(lo: f64, hi: f64, bins: usize) -> Self {
        Histogram {
            lo: OrdF64(lo),
            hi: OrdF64(hi),
            counts: vec![0; bins],
            below: 0,
            above: 0,
            nan: 0,
        }
    }

    fn add(&mut self, v: f64, n: u64) {
        let (lo, hi) = (self.lo.0, self.hi.0);
        if v.is_nan() {
            self.nan += n;
        } else if v < lo {
            self.below += n;
        } else if v >= hi {
            self.above += n;
        } else {
            let bins = self.counts.len();
            let k = (((v - lo) / (hi - lo)) * bins as f64) as usize;
            self.counts[k.min(bins - 1)] += n;
        }
    }

    fn merge(mut self, other: Histogram) -> Histogram {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.below += other.below;
        self.above += other.above;
        self.nan += other.nan;
        self
    }
}

/// An `f64` compared by its bits (so that [`Histogram`] is `Eq`).
///
/// ```
/// use sparsevdb_traverse::OrdF64;
/// assert_eq!(OrdF64(1.0), OrdF64(1.0));
/// assert_eq!(OrdF64(1.0).0, 1.0);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct OrdF64(pub f64);

impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for OrdF64 {}

/// Histogram of the active values in `bins` equal bins over `[lo, hi)` (see
/// [`Histogram`]); exact counts, so independent of the thread count.
///
/// # Panics
/// When `bins == 0` or `!(lo < hi)`.
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(7, 7, 7)), 0.5, true);
/// assert_eq!(sparsevdb_traverse::histogram(&t, 0.0, 1.0, 4).counts, [0, 0, 512, 0]);
/// ```
pub fn histogram<T: ToF64, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
    lo: f64,
    hi: f64,
    bins: usize,
) -> Histogram {
    assert!(bins > 0 && lo < hi, "histogram needs bins > 0 and lo < hi");
    let tile = |mut h: Histogram, v: T, n: u64| {
        h.add(v.to_f64(), n);
        h
    };
    fold_tree(
        tree,
        Histogram::empty(lo, hi, bins),
        |lower| {
            fold_lower(
                lower,
                Histogram::empty(lo, hi, bins),
                |mut h, l| {
                    for_each_active(l, |v| h.add(v.to_f64(), 1));
                    h
                },
                |mut h, vs| {
                    vs.iter().for_each(|&v| h.add(v.to_f64(), 1));
                    h
                },
                tile,
            )
        },
        Histogram::merge,
        tile,
    )
}
