//! Parallel bulk build of a tree from unsorted `(Coord, value)` pairs.
//!
//! 1. Every pair gets a sort key — its leaf's position in [`SortOrder::TreeOrder`]
//!    (OpenVDB's order: root key, then upper slot, then lower slot, each
//!    lexicographic in x, y, z) or in [`SortOrder::Morton`] order (the leaf
//!    coordinates' bits interleaved) — and its index; the `(key, index, coord,
//!    value)` records are sorted by `(key, index)` in parallel (the pairs travel with
//!    their keys: gathering them by index afterwards cost a cache miss per pair). Both orders keep every leaf, lower node and upper node a contiguous
//!    run, and the index keeps the pairs of one voxel in input order.
//! 2. Each lower node's run is built on one thread: the node, its leaves, their
//!    voxels gathered in input order (so the last write of a voxel wins, exactly like
//!    calling `set_value` for every pair in order) into a stack buffer and a mask,
//!    then stored in offset order (a packed leaf only appends; a leaf with more than
//!    `PACKED_MAX` voxels is made dense once).
//! 3. The lower nodes are attached to the tree serially (one root lookup each).
//!
//! Keys are `u64` when the pairs span fewer than `2^21` leaves along every axis
//! (`2^24` voxels in the 5-4-3 tree) and `u128` otherwise.

use rayon::prelude::*;
use sparsevdb_tree::{Coord, LeafNode, LowerNode, Mask, Node, Tree, Value};

/// The order in which [`bulk_build_with`] sorts the pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// The tree's own order (lexicographic per level: root key, upper slot, lower
    /// slot, leaf).
    #[default]
    TreeOrder,
    /// Morton (Z-order) over the leaf coordinates.
    Morton,
}

/// Builds a tree with background `background` holding `pairs`, in parallel: the same
/// tree as `set_value` of every pair in order on an empty tree (duplicates: the last
/// one wins). Sorts in [`SortOrder::TreeOrder`].
///
/// It pays for unordered pairs. Pairs already in a coherent order (a scan, like
/// `sphere`'s x, y, z loops) go faster through one
/// [`ValueAccessorMut`](sparsevdb_tree::ValueAccessorMut) on one thread, since its
/// cached nodes make most writes a key compare and a store. In the 2026-11-26 standard
/// run (`docs/performance.md`), `sphere` took 8.0 ns per pair that way, against 68.5
/// here on one thread and 37.3 on two.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let pairs = vec![
///     (Coord::new(5000, 0, 0), 1.0f32),
///     (Coord::new(-3, 2, 1), 2.0),
///     (Coord::new(5000, 0, 0), 3.0),
/// ];
/// let t: Tree<f32> = sparsevdb_traverse::bulk_build(0.0, &pairs);
/// let mut serial: Tree<f32> = Tree::new(0.0);
/// for &(c, v) in &pairs {
///     serial.set_value(c, v);
/// }
/// assert_eq!(t, serial);
/// assert_eq!(t.get_value(Coord::new(5000, 0, 0)), 3.0);
/// ```
pub fn bulk_build<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    background: T,
    pairs: &[(Coord, T)],
) -> Tree<T, L2, L1, L0> {
    bulk_build_with(background, pairs, SortOrder::TreeOrder)
}

/// [`bulk_build`] with a given sort order (the result is the same tree).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// use sparsevdb_traverse::SortOrder;
/// let pairs: Vec<(Coord, f32)> = (0..1000).map(|i| (Coord::new(i * 7 % 300, i, -i), i as f32)).collect();
/// let a: Tree<f32> = sparsevdb_traverse::bulk_build_with(0.0, &pairs, SortOrder::Morton);
/// let b: Tree<f32> = sparsevdb_traverse::bulk_build_with(0.0, &pairs, SortOrder::TreeOrder);
/// assert_eq!(a, b);
/// assert_eq!(a.active_voxel_count(), 1000);
/// ```
pub fn bulk_build_with<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    background: T,
    pairs: &[(Coord, T)],
    order: SortOrder,
) -> Tree<T, L2, L1, L0> {
    assert!(
        pairs.len() <= u32::MAX as usize,
        "bulk_build: at most 2^32 - 1 pairs"
    );
    let mut tree = Tree::with_background(background);
    if pairs.is_empty() {
        return tree;
    }
    let keyer = Keyer::new::<L2, L1, L0>(pairs, order);
    // The pairs travel with their keys, so that building reads them in sorted order
    // (gathering them by index afterwards costs a cache miss per pair).
    let lowers: Vec<LowerNode<T, L1, L0>> = if keyer.bits <= 64 {
        let mut keyed: Vec<(u64, u32, Coord, T)> = pairs
            .par_iter()
            .enumerate()
            .map(|(i, &(c, v))| (keyer.key(c) as u64, i as u32, c, v))
            .collect();
        keyed.par_sort_unstable_by_key(|e| (e.0, e.1));
        build_lowers(background, &keyed, 3 * L1, |k| k as u128)
    } else {
        let mut keyed: Vec<(u128, u32, Coord, T)> = pairs
            .par_iter()
            .enumerate()
            .map(|(i, &(c, v))| (keyer.key(c), i as u32, c, v))
            .collect();
        keyed.par_sort_unstable_by_key(|e| (e.0, e.1));
        build_lowers(background, &keyed, 3 * L1, |k| k)
    };
    for lower in lowers {
        tree.root_mut()
            .densify(lower.origin())
            .insert_child(Box::new(lower));
    }
    tree
}

/// Computes the sort key of a coordinate's leaf.
struct Keyer {
    order: SortOrder,
    /// Minimum leaf coordinate, aligned down to an upper node (in leaf units).
    base: [i64; 3],
    /// Bits per axis of the biased leaf coordinates (at least `L2 + L1`).
    axis_bits: u32,
    /// Slot bits of the upper and lower nodes, and the leaf's.
    l2: u32,
    l1: u32,
    l0: u32,
    /// Bits of a key.
    bits: u32,
}

impl Keyer {
    fn new<const L2: u32, const L1: u32, const L0: u32>(
        pairs: &[(Coord, impl Sync)],
        order: SortOrder,
    ) -> Self {
        let leaf = |c: Coord| [(c.x >> L0) as i64, (c.y >> L0) as i64, (c.z >> L0) as i64];
        let (lo, hi) = pairs
            .par_iter()
            .map(|(c, _)| {
                let l = leaf(*c);
                (l, l)
            })
            .reduce(
                || ([i64::MAX; 3], [i64::MIN; 3]),
                |(a0, a1), (b0, b1)| {
                    (
                        core::array::from_fn(|k| a0[k].min(b0[k])),
                        core::array::from_fn(|k| a1[k].max(b1[k])),
                    )
                },
            );
        let align = !((1i64 << (L2 + L1)) - 1);
        let base = lo.map(|v| v & align);
        let span = (0..3).map(|k| (hi[k] - base[k]) as u64).max().unwrap_or(0);
        let axis_bits = (64 - span.leading_zeros()).max(L2 + L1);
        Keyer {
            order,
            base,
            axis_bits,
            l2: L2,
            l1: L1,
            l0: L0,
            bits: 3 * axis_bits,
        }
    }

    /// The key of the leaf holding `c`.
    #[inline]
    fn key(&self, c: Coord) -> u128 {
        let l0 = self.l0;
        let u = [
            ((c.x >> l0) as i64 - self.base[0]) as u128,
            ((c.y >> l0) as i64 - self.base[1]) as u128,
            ((c.z >> l0) as i64 - self.base[2]) as u128,
        ];
        match self.order {
            SortOrder::TreeOrder => {
                let (l1, l2) = (self.l1, self.l2);
                let part = |shift: u32, bits: u32| -> u128 {
                    let m = (1u128 << bits) - 1;
                    (((u[0] >> shift) & m) << (2 * bits))
                        | (((u[1] >> shift) & m) << bits)
                        | ((u[2] >> shift) & m)
                };
                let root_bits = self.axis_bits - l1 - l2;
                (part(l1 + l2, root_bits) << (3 * (l2 + l1)))
                    | (part(l1, l2) << (3 * l1))
                    | part(0, l1)
            }
            SortOrder::Morton => {
                let mut k = 0u128;
                for b in (0..self.axis_bits).rev() {
                    k = (k << 3)
                        | (((u[0] >> b) & 1) << 2)
                        | (((u[1] >> b) & 1) << 1)
                        | ((u[2] >> b) & 1);
                }
                k
            }
        }
    }
}

/// Builds one lower node per run of keys sharing `key >> lower_shift`, in parallel,
/// writing the voxels of each leaf in key-then-index order.
fn build_lowers<T: Value, K, const L1: u32, const L0: u32>(
    background: T,
    keyed: &[(K, u32, Coord, T)],
    lower_shift: u32,
    wide: impl Fn(K) -> u128 + Sync,
) -> Vec<LowerNode<T, L1, L0>>
where
    K: Copy + Send + Sync,
{
    let lower_of = |i: usize| wide(keyed[i].0) >> lower_shift;
    let mut starts: Vec<usize> = (1..keyed.len())
        .into_par_iter()
        .filter(|&i| lower_of(i) != lower_of(i - 1))
        .collect();
    starts.insert(0, 0);
    starts.push(keyed.len());
    starts
        .par_windows(2)
        .map(|w| {
            let run = &keyed[w[0]..w[1]];
            let mut lower = LowerNode::<T, L1, L0>::new_filled(run[0].2, background, false);
            let mut i = 0;
            while i < run.len() {
                let leaf_key = wide(run[i].0);
                let origin = run[i].2;
                // The leaf's voxels, last write winning, gathered first ...
                let mut vals = [background; 512];
                let mut mask = Mask::<L0>::new(false);
                while i < run.len() && wide(run[i].0) == leaf_key {
                    let (_, _, c, v) = run[i];
                    let n = LeafNode::<T, L0>::coord_to_offset(c);
                    vals[n] = v;
                    mask.set_on(n);
                    i += 1;
                }
                // ... then built whole: packed with a buffer of exactly its active
                // values, or dense past `PACKED_MAX` of them (one allocation each).
                let mut active = Vec::with_capacity(mask.count_on());
                active.extend(mask.iter_on().map(|n| vals[n]));
                let leaf = LeafNode::from_active(origin, mask, background, active)
                    .expect("one value per active voxel");
                lower.insert_child(Box::new(leaf));
            }
            // Leaves of a few voxels live inside the node (decision 0011).
            lower.pack_small_leaves();
            lower
        })
        .collect()
}
