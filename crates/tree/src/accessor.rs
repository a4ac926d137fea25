//! Cached accessors (OpenVDB `ValueAccessor`): [`ValueAccessor`] for reads and
//! [`ValueAccessorMut`] for reads and writes. Each caches one node per level, keyed by
//! `xyz & !(DIM − 1)`, so that coherent access skips the root's hash lookup and the
//! upper levels, plus a second lower node (the one before), so that access going back
//! and forth across a lower-node boundary skips them too.
//!
//! The shared accessor caches plain references; the mutable one lives in
//! `accessor_mut.rs` (the crate's only `unsafe`, see decision 0008).

use core::cell::Cell;

use crate::accessor_mut::ValueAccessorMut;
use crate::leaf::LeafNode;
use crate::leaf_ref::LeafRef;
use crate::node::Node;
use crate::root::RootSlot;
use crate::tree::{LowerNode, UpperNode};
use crate::{Coord, Tree, Value};

/// A read accessor with a per-level node cache. Reads take `&self`.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(1, 2, 3), 4.0);
/// let acc = t.accessor();
/// assert_eq!(acc.get_value(Coord::new(1, 2, 3)), 4.0);
/// assert!(acc.is_value_on(Coord::new(1, 2, 3)));
/// assert_eq!(acc.probe_value(Coord::new(1, 2, 4)), (0.0, false));
/// ```
pub struct ValueAccessor<
    'a,
    T: Value,
    const L2: u32 = 5,
    const L1: u32 = 4,
    const L0: u32 = 3,
    const D: bool = false,
> {
    tree: &'a Tree<T, L2, L1, L0, D>,
    // Each cache entry keeps its key in a cell of its own, so that a hit test never
    // waits for the cached node pointer (whose store may still wait on a cache miss):
    // independent random reads stay independent and their misses overlap, instead of
    // chaining through the previous read. A key of `None` means "no node cached".
    leaf_key: Cell<Option<Coord>>,
    leaf: Cell<Option<&'a LeafNode<T, L0, D>>>,
    lower_key: Cell<Option<Coord>>,
    lower: Cell<Option<&'a LowerNode<T, L1, L0, D>>>,
    // The lower node cached before `lower`: reads going back and forth across a
    // lower-node boundary (each z column of `sphere` crosses z = 0) swap the two.
    other_lower_key: Cell<Option<Coord>>,
    other_lower: Cell<Option<&'a LowerNode<T, L1, L0, D>>>,
    upper_key: Cell<Option<Coord>>,
    upper: Cell<Option<&'a UpperNode<T, L2, L1, L0, D>>>,
}

impl<'a, T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>
    ValueAccessor<'a, T, L2, L1, L0, D>
{
    const LEAF_MASK: i32 = !((1i32 << L0) - 1);
    const LOWER_MASK: i32 = !((1i32 << (L1 + L0)) - 1);
    const UPPER_MASK: i32 = !((1i64 << (L2 + L1 + L0)) - 1) as i32;

    fn new(tree: &'a Tree<T, L2, L1, L0, D>) -> Self {
        ValueAccessor {
            tree,
            leaf_key: Cell::new(None),
            leaf: Cell::new(None),
            lower_key: Cell::new(None),
            lower: Cell::new(None),
            other_lower_key: Cell::new(None),
            other_lower: Cell::new(None),
            upper_key: Cell::new(None),
            upper: Cell::new(None),
        }
    }

    /// The tree this accessor reads.
    pub fn tree(&self) -> &'a Tree<T, L2, L1, L0, D> {
        self.tree
    }

    /// Value and active state at `c`.
    #[inline]
    pub fn probe_value(&self, c: Coord) -> (T, bool) {
        if self.leaf_key.get() == Some(c.mask(Self::LEAF_MASK)) {
            if let Some(leaf) = self.leaf.get() {
                return leaf.probe_value(c);
            }
        }
        if self.lower_key.get() == Some(c.mask(Self::LOWER_MASK)) {
            if let Some(lower) = self.lower.get() {
                return self.probe_lower(lower, c);
            }
        }
        if self.upper_key.get() == Some(c.mask(Self::UPPER_MASK)) {
            if let Some(upper) = self.upper.get() {
                return self.probe_upper(upper, c);
            }
        }
        if self.other_lower_key.get() == Some(c.mask(Self::LOWER_MASK)) {
            if let Some(lower) = self.other_lower.get() {
                self.cache_lower(c, lower);
                return self.probe_lower(lower, c);
            }
        }
        let root = &self.tree.root;
        match root.find(c) {
            None => (root.background, false),
            Some(i) => match &root.entries[i].slot {
                RootSlot::Tile(v, on) => (*v, *on),
                RootSlot::Child(upper) => {
                    self.upper_key.set(Some(c.mask(Self::UPPER_MASK)));
                    self.upper.set(Some(upper));
                    self.probe_upper(upper, c)
                }
            },
        }
    }

    #[inline]
    fn probe_upper(&self, upper: &'a UpperNode<T, L2, L1, L0, D>, c: Coord) -> (T, bool) {
        let n = UpperNode::<T, L2, L1, L0, D>::coord_to_offset(c);
        match upper.child(n) {
            None => (upper.tiles.get(n), upper.value_mask.is_on(n)),
            Some(lower) => {
                self.cache_lower(c, lower);
                self.probe_lower(lower, c)
            }
        }
    }

    /// Caches `lower` (holding `c`) as the current lower node; the one cached so far
    /// becomes the other.
    #[inline]
    fn cache_lower(&self, c: Coord, lower: &'a LowerNode<T, L1, L0, D>) {
        self.other_lower_key.set(self.lower_key.get());
        self.other_lower.set(self.lower.get());
        self.lower_key.set(Some(c.mask(Self::LOWER_MASK)));
        self.lower.set(Some(lower));
    }

    #[inline]
    fn probe_lower(&self, lower: &'a LowerNode<T, L1, L0, D>, c: Coord) -> (T, bool) {
        let n = LowerNode::<T, L1, L0, D>::coord_to_offset(c);
        match lower.child(n) {
            None if lower.is_tiny(n) => lower
                .tiny
                .probe(n, LeafNode::<T, L0, D>::coord_to_offset(c)),
            None => (lower.tiles.get(n), lower.value_mask.is_on(n)),
            Some(leaf) => {
                self.leaf_key.set(Some(c.mask(Self::LEAF_MASK)));
                self.leaf.set(Some(leaf));
                leaf.probe_value(c)
            }
        }
    }

    /// The value at `c`.
    #[inline]
    pub fn get_value(&self, c: Coord) -> T {
        self.probe_value(c).0
    }

    /// The active state at `c`.
    #[inline]
    pub fn is_value_on(&self, c: Coord) -> bool {
        self.probe_value(c).1
    }

    /// The leaf containing `c`, if one exists (OpenVDB `probeConstLeaf`): a leaf
    /// object or a tiny leaf.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 2, 3), 4.0);
    /// let acc = t.accessor();
    /// assert_eq!(acc.probe_leaf(Coord::new(7, 7, 7)).unwrap().origin(), Coord::new(0, 0, 0));
    /// assert!(acc.probe_leaf(Coord::new(8, 0, 0)).is_none());
    /// ```
    pub fn probe_leaf(&self, c: Coord) -> Option<LeafRef<'a, T, L0, D>> {
        self.probe_value(c);
        if self.leaf_key.get() == Some(c.mask(Self::LEAF_MASK)) {
            if let Some(leaf) = self.leaf.get() {
                return Some(LeafRef::from_node(leaf));
            }
        }
        if self.lower_key.get() == Some(c.mask(Self::LOWER_MASK)) {
            let lower = self.lower.get()?;
            return lower.leaf(LowerNode::<T, L1, L0, D>::coord_to_offset(c));
        }
        None
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Tree<T, L2, L1, L0, D> {
    /// A cached read accessor (OpenVDB `ValueAccessor` on a const tree).
    pub fn accessor(&self) -> ValueAccessor<'_, T, L2, L1, L0, D> {
        ValueAccessor::new(self)
    }

    /// A cached read-write accessor; the tree is borrowed mutably while it lives.
    pub fn accessor_mut(&mut self) -> ValueAccessorMut<'_, T, L2, L1, L0, D> {
        ValueAccessorMut::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads going back and forth between two lower nodes (the cached ones swap),
    /// now and then a third one, a tile and an empty region, each against the
    /// tree's own uncached read.
    #[test]
    fn alternating_lower_nodes_read_what_the_tree_holds() {
        let mut t: Tree<f32> = Tree::new(0.0);
        for i in 0..300 {
            t.set_value(Coord::new(i % 128, 1, (i % 3) - 1), i as f32);
            t.set_value(Coord::new(1000 + i, 0, 0), -(i as f32));
        }
        t.fill(
            &crate::CoordBBox::new(Coord::new(0, 0, 128), Coord::new(127, 127, 255)),
            7.0,
            true,
        );
        let acc = t.accessor();
        for i in 0..2000 {
            let c = match i % 11 {
                10 => Coord::new(1000 + i % 300, 0, 0),
                9 => Coord::new(i % 128, i % 128, 200),
                8 => Coord::new(-5000, i, 3),
                _ => Coord::new(i % 128, 1 + i % 2, (i % 3) - 1),
            };
            assert_eq!(acc.probe_value(c), t.probe_value(c), "at {c:?}");
        }
    }
}
