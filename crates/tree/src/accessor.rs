//! Cached accessors (OpenVDB `ValueAccessor`): [`ValueAccessor`] for reads and
//! [`ValueAccessorMut`] for reads and writes. Each caches one node per level, keyed by
//! `xyz & !(DIM − 1)`, so that coherent access skips the root's hash lookup and the
//! upper levels.
//!
//! The shared accessor caches plain references. The mutable one holds the tree's
//! unique borrow and caches the *path* to each node (root entry index and slot
//! indices), which stays valid because only the accessor can change the tree while it
//! lives and its writes only ever add nodes — so a stale cache cannot exist.

use core::cell::Cell;

use crate::leaf::LeafNode;
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
pub struct ValueAccessor<'a, T: Value, const L2: u32 = 5, const L1: u32 = 4, const L0: u32 = 3> {
    tree: &'a Tree<T, L2, L1, L0>,
    // Each cache entry keeps its key in a cell of its own, so that a hit test never
    // waits for the cached node pointer (whose store may still wait on a cache miss):
    // independent random reads stay independent and their misses overlap, instead of
    // chaining through the previous read. A key of `None` means "no node cached".
    leaf_key: Cell<Option<Coord>>,
    leaf: Cell<Option<&'a LeafNode<T, L0>>>,
    lower_key: Cell<Option<Coord>>,
    lower: Cell<Option<&'a LowerNode<T, L1, L0>>>,
    upper_key: Cell<Option<Coord>>,
    upper: Cell<Option<&'a UpperNode<T, L2, L1, L0>>>,
}

impl<'a, T: Value, const L2: u32, const L1: u32, const L0: u32> ValueAccessor<'a, T, L2, L1, L0> {
    const LEAF_MASK: i32 = !((1i32 << L0) - 1);
    const LOWER_MASK: i32 = !((1i32 << (L1 + L0)) - 1);
    const UPPER_MASK: i32 = !((1i64 << (L2 + L1 + L0)) - 1) as i32;

    fn new(tree: &'a Tree<T, L2, L1, L0>) -> Self {
        ValueAccessor {
            tree,
            leaf_key: Cell::new(None),
            leaf: Cell::new(None),
            lower_key: Cell::new(None),
            lower: Cell::new(None),
            upper_key: Cell::new(None),
            upper: Cell::new(None),
        }
    }

    /// The tree this accessor reads.
    pub fn tree(&self) -> &'a Tree<T, L2, L1, L0> {
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
    fn probe_upper(&self, upper: &'a UpperNode<T, L2, L1, L0>, c: Coord) -> (T, bool) {
        let n = UpperNode::<T, L2, L1, L0>::coord_to_offset(c);
        match upper.child(n) {
            None => (upper.tiles[n], upper.value_mask.is_on(n)),
            Some(lower) => {
                self.lower_key.set(Some(c.mask(Self::LOWER_MASK)));
                self.lower.set(Some(lower));
                self.probe_lower(lower, c)
            }
        }
    }

    #[inline]
    fn probe_lower(&self, lower: &'a LowerNode<T, L1, L0>, c: Coord) -> (T, bool) {
        let n = LowerNode::<T, L1, L0>::coord_to_offset(c);
        match lower.child(n) {
            None => (lower.tiles[n], lower.value_mask.is_on(n)),
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

    /// The leaf containing `c`, if one exists (OpenVDB `probeConstLeaf`).
    pub fn probe_leaf(&self, c: Coord) -> Option<&'a LeafNode<T, L0>> {
        self.probe_value(c);
        if self.leaf_key.get() == Some(c.mask(Self::LEAF_MASK)) {
            self.leaf.get()
        } else {
            None
        }
    }
}

/// Cached path to a node: root entry index, then slot indices below it.
#[derive(Clone, Copy)]
struct Path {
    key: Coord,
    root: u32,
    upper_slot: u32,
    lower_slot: u32,
}

/// A read-write accessor with a per-level cache. Holds the tree's unique borrow.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// {
///     let mut acc = t.accessor_mut();
///     for x in 0..100 {
///         acc.set_value(Coord::new(x, 0, 0), x as f32);
///     }
///     acc.set_value_off(Coord::new(0, 0, 0), -1.0);
///     acc.set_active(Coord::new(1, 0, 0), false);
///     assert_eq!(acc.get_value(Coord::new(7, 0, 0)), 7.0);
/// }
/// assert_eq!(t.active_voxel_count(), 98);
/// ```
pub struct ValueAccessorMut<'a, T: Value, const L2: u32 = 5, const L1: u32 = 4, const L0: u32 = 3> {
    tree: &'a mut Tree<T, L2, L1, L0>,
    leaf: Option<Path>,
    lower: Option<Path>,
}

impl<'a, T: Value, const L2: u32, const L1: u32, const L0: u32>
    ValueAccessorMut<'a, T, L2, L1, L0>
{
    const LEAF_MASK: i32 = !((1i32 << L0) - 1);
    const LOWER_MASK: i32 = !((1i32 << (L1 + L0)) - 1);

    fn new(tree: &'a mut Tree<T, L2, L1, L0>) -> Self {
        ValueAccessorMut {
            tree,
            leaf: None,
            lower: None,
        }
    }

    #[inline]
    fn upper_at(&mut self, p: Path) -> Option<&mut UpperNode<T, L2, L1, L0>> {
        match &mut self.tree.root.entries.get_mut(p.root as usize)?.slot {
            RootSlot::Child(u) => Some(u),
            RootSlot::Tile(..) => None,
        }
    }

    #[inline]
    fn lower_at(&mut self, p: Path) -> Option<&mut LowerNode<T, L1, L0>> {
        self.upper_at(p)?.child_mut(p.upper_slot as usize)
    }

    #[inline]
    fn leaf_at(&mut self, p: Path) -> Option<&mut LeafNode<T, L0>> {
        self.lower_at(p)?.child_mut(p.lower_slot as usize)
    }

    #[inline]
    fn cached_leaf(&mut self, c: Coord) -> Option<&mut LeafNode<T, L0>> {
        let p = self.leaf?;
        if p.key != c.mask(Self::LEAF_MASK) {
            return None;
        }
        self.leaf_at(p)
    }

    /// Applies a write through the deepest cached node, then refreshes the cache.
    #[inline]
    fn write(&mut self, c: Coord, w: Write<T>) {
        if let Some(leaf) = self.cached_leaf(c) {
            return w.apply(leaf, c);
        }
        let lower_key = c.mask(Self::LOWER_MASK);
        if let Some(p) = self.lower.filter(|p| p.key == lower_key) {
            if let Some(lower) = self.lower_at(p) {
                w.apply(lower, c);
                self.cache_leaf_below(p, c);
                return;
            }
        }
        let root = &mut self.tree.root;
        match w {
            Write::On(v) => root.set_value_on(c, v),
            Write::Off(v) => root.set_value_off(c, v),
            Write::Only(v) => root.set_value_only(c, v),
            Write::Active(on) => root.set_active(c, on),
        }
        self.recache(c);
    }

    fn cache_leaf_below(&mut self, p: Path, c: Coord) {
        let slot = LowerNode::<T, L1, L0>::coord_to_offset(c);
        let has_leaf = self
            .lower_at(p)
            .is_some_and(|lower| lower.child(slot).is_some());
        self.leaf = has_leaf.then_some(Path {
            key: c.mask(Self::LEAF_MASK),
            lower_slot: slot as u32,
            ..p
        });
    }

    /// Finds the path to `c` from the root and caches what exists.
    fn recache(&mut self, c: Coord) {
        self.leaf = None;
        self.lower = None;
        let Some(ri) = self.tree.root.find(c) else {
            return;
        };
        let Some(upper) = self.tree.root.child_ref_at(ri) else {
            return;
        };
        let us = UpperNode::<T, L2, L1, L0>::coord_to_offset(c);
        if upper.child(us).is_none() {
            return;
        }
        let p = Path {
            key: c.mask(Self::LOWER_MASK),
            root: ri as u32,
            upper_slot: us as u32,
            lower_slot: 0,
        };
        self.lower = Some(p);
        self.cache_leaf_below(p, c);
    }

    /// Value and active state at `c`.
    #[inline]
    pub fn probe_value(&mut self, c: Coord) -> (T, bool) {
        if let Some(leaf) = self.cached_leaf(c) {
            return leaf.probe_value(c);
        }
        let lower_key = c.mask(Self::LOWER_MASK);
        if let Some(p) = self.lower.filter(|p| p.key == lower_key) {
            if let Some(lower) = self.lower_at(p) {
                let r = lower.probe_value(c);
                self.cache_leaf_below(p, c);
                return r;
            }
        }
        let r = self.tree.root.probe_value(c);
        self.recache(c);
        r
    }

    /// The value at `c`.
    #[inline]
    pub fn get_value(&mut self, c: Coord) -> T {
        self.probe_value(c).0
    }

    /// The active state at `c`.
    #[inline]
    pub fn is_value_on(&mut self, c: Coord) -> bool {
        self.probe_value(c).1
    }

    /// [`Tree::set_value`] through the cache.
    #[inline]
    pub fn set_value(&mut self, c: Coord, v: T) {
        self.write(c, Write::On(v));
    }

    /// [`Tree::set_value_off`] through the cache.
    #[inline]
    pub fn set_value_off(&mut self, c: Coord, v: T) {
        self.write(c, Write::Off(v));
    }

    /// [`Tree::set_value_only`] through the cache.
    #[inline]
    pub fn set_value_only(&mut self, c: Coord, v: T) {
        self.write(c, Write::Only(v));
    }

    /// [`Tree::set_active`] through the cache.
    #[inline]
    pub fn set_active(&mut self, c: Coord, on: bool) {
        self.write(c, Write::Active(on));
    }

    /// [`Tree::modify_value`] through the cache.
    pub fn modify_value<F: FnOnce(&mut T)>(&mut self, c: Coord, f: F) {
        if let Some(leaf) = self.cached_leaf(c) {
            return leaf.modify_value(c, f);
        }
        let lower_key = c.mask(Self::LOWER_MASK);
        if let Some(p) = self.lower.filter(|p| p.key == lower_key) {
            if let Some(lower) = self.lower_at(p) {
                lower.modify_value(c, f);
                self.cache_leaf_below(p, c);
                return;
            }
        }
        self.tree.root.modify_value(c, f);
        self.recache(c);
    }
}

/// One of the accessor's point writes.
#[derive(Clone, Copy)]
enum Write<T> {
    On(T),
    Off(T),
    Only(T),
    Active(bool),
}

impl<T: Value> Write<T> {
    #[inline(always)]
    fn apply<N: Node<Value = T>>(self, node: &mut N, c: Coord) {
        match self {
            Write::On(v) => node.set_value_on(c, v),
            Write::Off(v) => node.set_value_off(c, v),
            Write::Only(v) => node.set_value_only(c, v),
            Write::Active(on) => node.set_active(c, on),
        }
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32> Tree<T, L2, L1, L0> {
    /// A cached read accessor (OpenVDB `ValueAccessor` on a const tree).
    pub fn accessor(&self) -> ValueAccessor<'_, T, L2, L1, L0> {
        ValueAccessor::new(self)
    }

    /// A cached read-write accessor; the tree is borrowed mutably while it lives.
    pub fn accessor_mut(&mut self) -> ValueAccessorMut<'_, T, L2, L1, L0> {
        ValueAccessorMut::new(self)
    }
}
