//! In-place parallel transforms of the active values: [`map`], [`scale`], [`clamp`],
//! [`deactivate_below`]. Active tiles are transformed too (once, as one value).
//! Each lower internal node (its active tiles and its leaves) is handled on one
//! thread; the root's and the upper nodes' tiles first, serially. The results are the
//! same for any number of threads (every value is transformed independently).

use rayon::prelude::*;
use sparsevdb_tree::{LowerNode, Mask, Tree, Value};

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

/// Runs `tile` on every active tile and `leaf(values, mask)` on every leaf, lower
/// nodes in parallel.
fn transform<T, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    tile: impl Fn(T) -> (T, bool) + Sync,
    leaf: impl Fn(&mut sparsevdb_tree::LeafNode<T, L0>) + Sync,
) where
    T: Value,
{
    active_tiles_above_lower(tree, &tile);
    lower_nodes_mut(tree).into_par_iter().for_each(|lower| {
        active_lower_tiles(lower, &tile);
        for l in lower.children_mut() {
            leaf(l);
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
        |leaf| {
            let mask = leaf.value_mask().clone();
            let values = leaf.values_mut();
            for n in mask.iter_on() {
                values[n] = f(values[n]);
            }
        },
    );
}

/// `v = f(v)` for every active value of a float tree, with the leaf loop vectorised
/// ([`kernels::masked_map`]): `f` is also evaluated on inactive voxels (the result
/// discarded), so it must be pure and must not panic.
fn map_pure<T, F, const L2: u32, const L1: u32, const L0: u32>(tree: &mut Tree<T, L2, L1, L0>, f: F)
where
    T: Real,
    F: Fn(T) -> T + Sync,
{
    transform(
        tree,
        |v| (f(v), true),
        |leaf| {
            let mask = leaf.value_mask().clone();
            kernels::masked_map(leaf.values_mut(), mask.words(), &f);
        },
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
/// The leaf kernel is [`Real::mask_below`] (SIMD for `f32`).
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
        |leaf| {
            let mut words = [0u64; 8];
            let n = leaf.value_mask().words().len();
            words[..n].copy_from_slice(leaf.value_mask().words());
            T::mask_below(leaf.values(), t, &mut words[..n]);
            *leaf.value_mask_mut() = Mask::from_words(&words[..n]).expect("leaf mask words");
        },
    );
    if prune {
        prune_inactive(tree);
    }
}
