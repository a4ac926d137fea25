//! Node managers: the tree's nodes gathered into vectors in OpenVDB order (root keys
//! ascending, then slot order), so that rayon can split them. Mutable managers hand
//! out disjoint `&mut` nodes — safe split borrows, no locks, no `unsafe`.

use rayon::prelude::*;
use sparsevdb_tree::{LeafNode, LeafRef, LowerNode, Tree, UpperNode, Value};

/// The upper internal nodes (the root's children), in tree order.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 1.0);
/// t.set_value(Coord::new(-1, 0, 0), 1.0);
/// assert_eq!(sparsevdb_traverse::upper_nodes(&t).len(), 2);
/// ```
pub fn upper_nodes<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> Vec<&UpperNode<T, L2, L1, L0>> {
    tree.root().children().collect()
}

/// The upper internal nodes, mutably, in tree order.
///
/// ```
/// use sparsevdb_tree::{Coord, Node, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(5, 0, 0), 1.0);
/// let uppers = sparsevdb_traverse::upper_nodes_mut(&mut t);
/// assert_eq!(uppers[0].origin(), Coord::new(0, 0, 0));
/// ```
pub fn upper_nodes_mut<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
) -> Vec<&mut UpperNode<T, L2, L1, L0>> {
    tree.root_mut().children_mut().collect()
}

/// The lower internal nodes, in tree order.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 1.0);
/// t.set_value(Coord::new(200, 0, 0), 1.0);
/// assert_eq!(sparsevdb_traverse::lower_nodes(&t).len(), 2);
/// ```
pub fn lower_nodes<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &Tree<T, L2, L1, L0>,
) -> Vec<&LowerNode<T, L1, L0>> {
    tree.root()
        .children()
        .flat_map(|upper| upper.children())
        .collect()
}

/// The lower internal nodes, mutably, in tree order (disjoint borrows: hand them to
/// `par_iter_mut`).
///
/// ```
/// use rayon::prelude::*;
/// use sparsevdb_tree::{Coord, Node, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 1.0);
/// t.set_value(Coord::new(200, 0, 0), 1.0);
/// sparsevdb_traverse::lower_nodes_mut(&mut t)
///     .par_iter_mut()
///     .for_each(|lower| lower.set_value_on(lower.origin(), 5.0));
/// assert_eq!(t.get_value(Coord::new(128, 0, 0)), 5.0);
/// ```
pub fn lower_nodes_mut<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    tree: &mut Tree<T, L2, L1, L0>,
) -> Vec<&mut LowerNode<T, L1, L0>> {
    tree.root_mut()
        .children_mut()
        .flat_map(|upper| upper.children_mut())
        .collect()
}

/// The leaves of a tree in tree order (OpenVDB's `LeafManager`, read-only), gathered
/// in parallel below the lower nodes.
///
/// ```
/// use rayon::prelude::*;
/// use sparsevdb_tree::{Coord, Tree};
/// use sparsevdb_traverse::LeafManager;
/// let mut t: Tree<f32> = Tree::new(0.0);
/// for i in 0..100 {
///     t.set_value(Coord::new(i * 8, 0, 0), 1.0);
/// }
/// let leaves = LeafManager::new(&t);
/// assert_eq!(leaves.len(), 100);
/// let active: usize = leaves.par_iter().map(|l| l.active_count()).sum();
/// assert_eq!(active, 100);
/// ```
pub struct LeafManager<'a, T: Value, const L0: u32 = 3> {
    leaves: Vec<LeafRef<'a, T, L0>>,
}

impl<'a, T: Value, const L0: u32> LeafManager<'a, T, L0> {
    /// Gathers the leaves of `tree`: leaf objects and tiny leaves (decision 0011), as
    /// [`LeafRef`] views.
    pub fn new<const L2: u32, const L1: u32>(tree: &'a Tree<T, L2, L1, L0>) -> Self {
        let leaves = lower_nodes(tree)
            .into_par_iter()
            .flat_map_iter(|lower| lower.leaves())
            .collect();
        LeafManager { leaves }
    }

    /// The leaves, in tree order.
    pub fn leaves(&self) -> &[LeafRef<'a, T, L0>] {
        &self.leaves
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// True when the tree has no leaf.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// A parallel iterator over the leaves (indexed, in tree order).
    pub fn par_iter(&self) -> impl IndexedParallelIterator<Item = &LeafRef<'a, T, L0>> + '_ {
        self.leaves.par_iter()
    }
}

/// The leaves of a tree in tree order, mutably (OpenVDB's `LeafManager`): each leaf
/// is a disjoint `&mut`, so they can be changed in parallel. Values and states can
/// change through them, the tree's structure cannot. Tiny leaves (decision 0011)
/// become leaf objects first, so the tree takes more memory afterwards until
/// [`Tree::compact`] turns small leaves back.
///
/// ```
/// use rayon::prelude::*;
/// use sparsevdb_tree::{Coord, LeafStorageMut, Tree};
/// use sparsevdb_traverse::LeafManagerMut;
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(1, 2, 3), 1.0);
/// t.set_value(Coord::new(100, 2, 3), 2.0);
/// let mut leaves = LeafManagerMut::new(&mut t);
/// leaves.par_iter_mut().for_each(|l| match l.storage_mut() {
///     LeafStorageMut::Packed { active, .. } => active.iter_mut().for_each(|v| *v *= 10.0),
///     LeafStorageMut::Dense { values, mask } => mask.iter_on().for_each(|n| values[n] *= 10.0),
/// });
/// drop(leaves);
/// assert_eq!(t.get_value(Coord::new(100, 2, 3)), 20.0);
/// ```
pub struct LeafManagerMut<'a, T: Value, const L0: u32 = 3> {
    leaves: Vec<&'a mut LeafNode<T, L0>>,
}

impl<'a, T: Value, const L0: u32> LeafManagerMut<'a, T, L0> {
    /// Gathers the leaves of `tree`, mutably (tiny leaves become leaf objects).
    pub fn new<const L2: u32, const L1: u32>(tree: &'a mut Tree<T, L2, L1, L0>) -> Self {
        tree.promote_tiny_leaves();
        let leaves = lower_nodes_mut(tree)
            .into_par_iter()
            .flat_map_iter(|lower| lower.children_mut())
            .collect();
        LeafManagerMut { leaves }
    }

    /// The leaves, in tree order.
    pub fn leaves_mut(&mut self) -> &mut [&'a mut LeafNode<T, L0>] {
        &mut self.leaves
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// True when the tree has no leaf.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// A parallel iterator over the leaves, mutably (indexed, in tree order; the
    /// items are `&mut &mut LeafNode`, which auto-deref to the leaf).
    pub fn par_iter_mut(&mut self) -> rayon::slice::IterMut<'_, &'a mut LeafNode<T, L0>> {
        self.leaves.par_iter_mut()
    }
}
