//! In-place parallel transforms of the active values: [`map`], [`scale`], [`clamp`],
//! [`deactivate_below`]. Active tiles are transformed too (once, as one value).
//! Each lower internal node (its active tiles and its leaves) is handled on one
//! thread; the root's and the upper nodes' tiles first, serially. The results are the
//! same for any number of threads (every value is transformed independently).
//!
//! Leaves keep their storage form: a packed leaf's active values are one
//! contiguous slice, transformed in place; a dense leaf's through its mask; the tiny
//! leaves of a lower node (decision 0011) share one slice of active values. Only
//! [`deactivate_below`] can turn a packed leaf dense (a deactivated voxel keeps
//! its value, which a packed leaf can only hold if it equals the shared inactive
//! value).

use rayon::prelude::*;
use sparsevdb_tree::{LeafNode, LeafStorage, LeafStorageMut, LowerNode, Mask, Tree, Value};

use crate::kernels;
use crate::nodes::lower_nodes_mut;
use crate::prune::prune_inactive;
use crate::Real;

/// Replaces every active tile value `v` of the root and of the upper nodes by
/// `f(v) -> (value, active)`.
fn active_tiles_above_lower<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    f: &impl Fn(T) -> (T, bool),
) {
    let root_tiles: Vec<_> = tree.root().tiles().filter(|t| t.2).collect();
    for (key, v, _) in root_tiles {
        let (r, on) = f(v);
        tree.root_mut().set_tile(key, r, on);
    }
    for upper in tree.root_mut().children_mut() {
        let on: Vec<usize> = upper.value_mask().iter_on().collect();
        for n in on {
            if let Some((v, _)) = upper.tile(n) {
                let (r, act) = f(v);
                upper.set_tile(n, r, act);
            }
        }
    }
}

/// Replaces every active tile value `v` of a lower node by `f(v)`.
fn active_lower_tiles<T: Value, const L1: u32, const L0: u32>(
    lower: &mut LowerNode<T, L1, L0>,
    f: &impl Fn(T) -> (T, bool),
) {
    let on: Vec<usize> = lower.value_mask().iter_on().collect();
    for n in on {
        if let Some((v, _)) = lower.tile(n) {
            let (r, act) = f(v);
            lower.set_tile(n, r, act);
        }
    }
}

/// How a transform treats the tiny leaves of a lower node (decision 0011).
enum Tiny<F> {
    /// Values only: `F` runs on the slice of all their active values.
    Values(F),
    /// States change: they become leaf objects first (so that `leaf` sees them) and
    /// small leaves become tiny again afterwards.
    AsLeaves,
}

/// Runs `tile` on every active tile and `leaf` on every leaf, lower nodes in
/// parallel; tiny leaves as `tiny` says.
fn transform<T, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    tile: impl Fn(T) -> (T, bool) + Sync,
    leaf: impl Fn(&mut LeafNode<T, L0>) + Sync,
    tiny: Tiny<impl Fn(&mut [T]) + Sync>,
) where
    T: Value,
{
    active_tiles_above_lower(tree, &tile);
    lower_nodes_mut(tree).into_par_iter().for_each(|lower| {
        active_lower_tiles(lower, &tile);
        if matches!(tiny, Tiny::AsLeaves) {
            lower.promote_tiny_leaves();
        }
        for l in lower.children_mut() {
            leaf(l);
        }
        match &tiny {
            Tiny::Values(f) => f(lower.tiny_active_values_mut()),
            Tiny::AsLeaves => lower.pack_small_leaves(),
        }
    });
}

/// `v = f(v)` for every active value (voxels and tiles), in parallel. `f` is called
/// exactly once per active voxel and once per active tile.
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<i32> = Tree::new(0);
/// t.set_value(Coord::new(0, 0, 0), 3);
/// t.set_value_off(Coord::new(0, 0, 1), 3);
/// t.fill(&CoordBBox::new(Coord::new(128, 0, 0), Coord::new(255, 127, 127)), 1, true);
/// sparsevdb_traverse::map(&mut t, |v| v * 2);
/// assert_eq!(t.get_value(Coord::new(0, 0, 0)), 6);
/// assert_eq!(t.get_value(Coord::new(0, 0, 1)), 3, "inactive values are untouched");
/// assert_eq!(t.get_value(Coord::new(200, 5, 5)), 2, "an active tile");
/// ```
pub fn map<T, F, const L2: u32, const L1: u32, const L0: u32>(tree: &mut Tree<T, L2, L1, L0>, f: F)
where
    T: Value,
    F: Fn(T) -> T + Sync,
{
    transform(
        tree,
        |v| (f(v), true),
        |leaf| match leaf.storage_mut() {
            LeafStorageMut::Dense { values, mask } => {
                for n in mask.iter_on() {
                    values[n] = f(values[n]);
                }
            }
            LeafStorageMut::Packed { active, .. } => {
                for v in active {
                    *v = f(*v);
                }
            }
        },
        Tiny::Values(|active: &mut [T]| {
            for v in active {
                *v = f(*v);
            }
        }),
    );
}

/// `v = f(v)` for every active value of a float tree, with the leaf loop vectorised
/// ([`kernels::map`] over a packed leaf's active values, [`kernels::masked_map`]
/// over a dense leaf): `f` is also evaluated on the inactive voxels of dense leaves
/// (the result discarded), so it must be pure and must not panic.
fn map_pure<T, F, const L2: u32, const L1: u32, const L0: u32>(tree: &mut Tree<T, L2, L1, L0>, f: F)
where
    T: Real,
    F: Fn(T) -> T + Sync,
{
    transform(
        tree,
        |v| (f(v), true),
        |leaf| match leaf.storage_mut() {
            LeafStorageMut::Dense { values, mask } => {
                kernels::masked_map(values, mask.words(), &f);
            }
            LeafStorageMut::Packed { active, .. } => kernels::map(active, &f),
        },
        Tiny::Values(|active: &mut [T]| kernels::map(active, &f)),
    );
}

/// `v = a·v` for every active value (voxels and tiles), in parallel.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 3.0);
/// t.set_value_off(Coord::new(0, 0, 1), 3.0);
/// sparsevdb_traverse::scale(&mut t, 0.5);
/// assert_eq!(t.get_value(Coord::new(0, 0, 0)), 1.5);
/// assert_eq!(t.get_value(Coord::new(0, 0, 1)), 3.0);
/// ```
pub fn scale<T: Real, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    a: T,
) {
    map_pure(tree, move |v| a * v);
}

/// Clamps every active value into `[lo, hi]` (NaN stays NaN), in parallel.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 3.0);
/// t.set_value(Coord::new(0, 0, 1), -3.0);
/// sparsevdb_traverse::clamp(&mut t, -1.0, 1.0);
/// assert_eq!(t.get_value(Coord::new(0, 0, 0)), 1.0);
/// assert_eq!(t.get_value(Coord::new(0, 0, 1)), -1.0);
/// ```
pub fn clamp<T: Real, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    lo: T,
    hi: T,
) {
    map_pure(tree, move |v| {
        if v < lo {
            lo
        } else if v > hi {
            hi
        } else {
            v
        }
    });
}

/// Magnitude pruning: every active value with `|v| < t` becomes inactive (its value
/// is kept); active tiles likewise. With `prune`, nodes left without any active value
/// are then pruned in parallel like [`Tree::prune_inactive`] (they become inactive
/// background tiles, and the values they held are dropped). NaN is never below `t`.
/// The dense-leaf kernel is [`Real::mask_below`] (SIMD for `f32`); a packed leaf's
/// active values are compared one by one and the voxels turned off with
/// [`LeafNode::set_active_at`], which keeps their values (so the leaf turns dense
/// unless they equal its shared inactive value).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 0.01);
/// t.set_value(Coord::new(0, 0, 1), -2.0);
/// t.set_value(Coord::new(5000, 0, 0), 0.02);
/// sparsevdb_traverse::deactivate_below(&mut t, 0.1, false);
/// assert_eq!(t.probe_value(Coord::new(0, 0, 0)), (0.01, false));
/// assert_eq!(t.probe_value(Coord::new(0, 0, 1)), (-2.0, true));
/// assert_eq!(t.leaf_count(), 2);
/// sparsevdb_traverse::deactivate_below(&mut t, 0.1, true);
/// assert_eq!(t.leaf_count(), 1, "the leaf at x = 5000 had no active value left");
/// ```
pub fn deactivate_below<T: Real, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    t: T,
    prune: bool,
) {
    transform(
        tree,
        |v| {
            let below = v.abs() < t;
            (v, !below)
        },
        |leaf| deactivate_leaf_below(leaf, t),
        Tiny::<fn(&mut [T])>::AsLeaves,
    );
    if prune {
        prune_inactive(tree);
    }
}

/// Turns off the active voxels of `leaf` with `|v| < t`, keeping their values.
fn deactivate_leaf_below<T: Real, const L0: u32>(leaf: &mut LeafNode<T, L0>, t: T) {
    match leaf.storage() {
        LeafStorage::Dense(values) => {
            let mut words = [0u64; 8];
            let old = leaf.value_mask().words();
            let n = old.len();
            words[..n].copy_from_slice(old);
            T::mask_below(values, t, &mut words[..n]);
            if words[..n] != *old {
                // The leaf is dense: `value_mask_mut` converts nothing.
                *leaf.value_mask_mut() = Mask::from_words(&words[..n]).expect("leaf mask words");
            }
        }
        LeafStorage::Packed { active, .. } => {
            // At most PACKED_MAX (< 512) active values.
            let mut below = [0u16; 512];
            let mut k = 0;
            for (n, &v) in leaf.value_mask().iter_on().zip(active) {
                if v.abs() < t {
                    below[k] = n as u16;
                    k += 1;
                }
            }
            for &n in &below[..k] {
                leaf.set_active_at(usize::from(n), false);
            }
        }
    }
}
