//! Parallel structure operations with exactly the results of the tree's serial ones:
//! [`prune`] (`Tree::prune(tol)`), [`prune_inactive`] (`Tree::prune_inactive`) and
//! [`voxelize_active_tiles`] (`Tree::voxelize_active_tiles`).
//!
//! The lower internal nodes are processed in parallel with the tree's own node
//! methods (`Node::prune_tolerance`, `Node::prune_inactive`,
//! `Node::voxelize_active_tiles`); the upper nodes and the root, which hold few slots,
//! then apply the same rules serially.

use rayon::prelude::*;
use sparsevdb_tree::{Node, Tree, UpperNode, Value};

use crate::nodes::upper_nodes_mut;

/// Tolerance pruning of one upper node: its lower nodes in parallel, then its own
/// constancy test (the tree's `InternalNode::prune_tolerance`).
fn prune_upper<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    upper: &mut UpperNode<T, L2, L1, L0>,
    tol: T,
) -> Option<(T, bool)> {
    let lowers: Vec<_> = upper.children_mut().collect();
    let collapsed: Vec<(usize, (T, bool))> = lowers
        .into_par_iter()
        .filter_map(|lower| {
            let n = UpperNode::<T, L2, L1, L0>::coord_to_offset(lower.origin());
            lower.prune_tolerance(tol).map(|t| (n, t))
        })
        .collect();
    for (n, (v, on)) in collapsed {
        upper.set_tile(n, v, on);
    }
    upper.constant_tile(tol)
}

/// Parallel [`Tree::prune`]: OpenVDB `tools::prune(tree, tol)` — every node whose
/// values share one active state and lie within `tol` collapses into a tile of its
/// lower median, bottom-up; then background root tiles are erased. The result equals
/// the serial one.
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.dense_fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(127, 127, 127)), 1.0, true);
/// t.set_value(Coord::new(0, 0, 0), 1.25);
/// let mut serial = t.clone();
/// serial.prune(0.0);
/// sparsevdb_traverse::prune(&mut t, 0.0);
/// assert_eq!(t, serial);
/// assert_eq!(t.leaf_count(), 1);
/// ```
pub fn prune<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
    tol: T,
) {
    let results: Vec<(sparsevdb_tree::Coord, Option<(T, bool)>)> = upper_nodes_mut(tree)
        .into_par_iter()
        .map(|upper| (upper.origin(), prune_upper(upper, tol)))
        .collect();
    for (key, r) in results {
        if let Some((v, on)) = r {
            tree.root_mut().set_tile(key, v, on);
        }
    }
    tree.root_mut().erase_background_tiles();
}

/// Parallel [`Tree::prune_inactive`]: OpenVDB `tools::pruneInactive` — every node
/// with no active value and no child becomes an inactive tile of the background;
/// background root tiles are erased. The result equals the serial one.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value_off(Coord::new(0, 0, 0), 5.0);
/// t.set_value(Coord::new(1000, 0, 0), 1.0);
/// sparsevdb_traverse::prune_inactive(&mut t);
/// assert_eq!(t.leaf_count(), 1);
/// assert_eq!(t.get_value(Coord::new(0, 0, 0)), 0.0);
/// ```
pub fn prune_inactive<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
) {
    let bg = tree.background();
    let results: Vec<(sparsevdb_tree::Coord, bool)> = upper_nodes_mut(tree)
        .into_par_iter()
        .map(|upper| {
            let lowers: Vec<_> = upper.children_mut().collect();
            let empty: Vec<usize> = lowers
                .into_par_iter()
                .filter_map(|lower| {
                    let n = UpperNode::<T, L2, L1, L0>::coord_to_offset(lower.origin());
                    lower.prune_inactive(bg).then_some(n)
                })
                .collect();
            for n in empty {
                upper.set_tile(n, bg, false);
            }
            let gone = upper.child_mask().is_all_off() && upper.value_mask().is_all_off();
            (upper.origin(), gone)
        })
        .collect();
    for (key, gone) in results {
        if gone {
            tree.root_mut().set_tile(key, bg, false);
        }
    }
    tree.root_mut().erase_background_tiles();
}

/// Parallel [`Tree::voxelize_active_tiles`]: every active tile becomes leaves of
/// active voxels holding its value. The result equals the serial one. Beware root
/// and upper tiles: they cover `2^36` and `2^21` voxels.
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(127, 127, 127)), 1.0, true);
/// sparsevdb_traverse::voxelize_active_tiles(&mut t);
/// assert_eq!(t.leaf_count(), 16 * 16 * 16);
/// assert_eq!(t.active_tile_count(), 0);
/// ```
pub fn voxelize_active_tiles<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
) {
    let active_root_tiles: Vec<_> = tree.root().tiles().filter(|t| t.2).collect();
    for (key, _, _) in active_root_tiles {
        tree.root_mut().densify(key);
    }
    upper_nodes_mut(tree).into_par_iter().for_each(|upper| {
        let active: Vec<usize> = upper.value_mask().iter_on().collect();
        for n in active {
            upper.densify(n);
        }
        let lowers: Vec<_> = upper.children_mut().collect();
        lowers
            .into_par_iter()
            .for_each(|lower| lower.voxelize_active_tiles());
    });
}
