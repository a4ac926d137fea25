//! Structural access to the nodes for code outside this crate that works node by node
//! — above all `sparsevdb-traverse`, which splits a tree into disjoint `&mut` nodes
//! and hands them to rayon. Every method keeps the tree's invariants (child mask ⇔
//! child present, no slot both a child and an active tile, root index consistent), so
//! no sequence of calls can produce an invalid tree.
//!
//! These are deliberately few: mutable access to the root ([`Tree::root_mut`]), the
//! root's children in OpenVDB order ([`RootNode::children_mut`]), creating a child
//! from a tile at the root or in an internal node ([`RootNode::densify`],
//! [`InternalNode::densify`]), attaching a node built elsewhere
//! ([`InternalNode::insert_child`]), turning a slot into a tile ([`RootNode::set_tile`],
//! [`InternalNode::set_tile`]), a leaf's mask ([`LeafNode::value_mask_mut`]), and the
//! two root operations that tree-wide algorithms finish with
//! ([`RootNode::set_background_only`], [`RootNode::erase_background_tiles`]).

use crate::internal::InternalNode;
use crate::leaf::LeafNode;
use crate::mask::Mask;
use crate::node::Node;
use crate::root::{RootNode, RootSlot};
use crate::tree::UpperNode;
use crate::{Coord, Tree, Value};

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Tree<T, L2, L1, L0, D> {
    /// The root node, mutably: for algorithms that work on the nodes directly (see
    /// [`RootNode::children_mut`], [`RootNode::densify`]). Every public method of the
    /// root keeps the tree valid.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.root_mut().set_tile(Coord::new(0, 0, 0), 2.0, true);
    /// assert_eq!(t.probe_value(Coord::new(4095, 0, 7)), (2.0, true));
    /// ```
    pub fn root_mut(&mut self) -> &mut RootNode<UpperNode<T, L2, L1, L0, D>> {
        &mut self.root
    }
}

impl<C: Node> RootNode<C> {
    /// The root tile at `key` (a top-level region origin, see [`RootNode::key_of`]) as
    /// `(value, active)`; `None` when the entry is a child or there is no entry.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::splat(4095)), 1.0, true);
    /// assert_eq!(t.root().tile_at(Coord::new(0, 0, 0)), Some((1.0, true)));
    /// assert_eq!(t.root().tile_at(Coord::new(4096, 0, 0)), None);
    /// ```
    pub fn tile_at(&self, key: Coord) -> Option<(C::Value, bool)> {
        match self.entries[self.find(key)?].slot {
            RootSlot::Tile(v, on) => Some((v, on)),
            RootSlot::Child(_) => None,
        }
    }

    /// Makes the entry covering `c` the tile `(v, active)`, dropping any child there
    /// and adding the entry if absent (an inactive background tile is kept as an
    /// entry, as OpenVDB keeps it until pruning).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 2, 3), 5.0);
    /// t.root_mut().set_tile(Coord::new(1, 2, 3), 0.5, false);
    /// assert_eq!(t.leaf_count(), 0);
    /// assert_eq!(t.probe_value(Coord::new(1, 2, 3)), (0.5, false));
    /// ```
    pub fn set_tile(&mut self, c: Coord, v: C::Value, active: bool) {
        self.put(Self::key_of(c), RootSlot::Tile(v, active));
    }

    /// The top-level child covering `c`, created if needed: from the root tile there
    /// (its value and state everywhere) or, without an entry, as an inactive node of
    /// the background — what a write at `c` would create.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree, Node};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.root_mut().set_tile(Coord::new(0, 0, 0), 3.0, true);
    /// let upper = t.root_mut().densify(Coord::new(5, 5, 5));
    /// assert_eq!(upper.origin(), Coord::new(0, 0, 0));
    /// assert_eq!(t.probe_value(Coord::new(5, 5, 5)), (3.0, true));
    /// assert_eq!(t.root().children().count(), 1);
    /// ```
    pub fn densify(&mut self, c: Coord) -> &mut C {
        let i = self.child_index_or_create(c);
        self.child_mut_at(i)
    }

    /// The top-level children, mutably, in OpenVDB order (keys ascending). The
    /// references are disjoint, so they can be handed to different threads.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree, Node};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(5000, 0, 0), 1.0);
    /// t.set_value(Coord::new(-5, 0, 0), 1.0);
    /// let origins: Vec<Coord> = t.root_mut().children_mut().map(|u| u.origin()).collect();
    /// assert_eq!(origins, [Coord::new(-4096, 0, 0), Coord::new(4096, 0, 0)]);
    /// ```
    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut C> + '_ {
        let mut entries: Vec<_> = self.entries.iter_mut().collect();
        entries.sort_unstable_by_key(|e| e.key);
        entries.into_iter().filter_map(|e| match &mut e.slot {
            RootSlot::Child(c) => Some(&mut **c),
            RootSlot::Tile(..) => None,
        })
    }

    /// Replaces the background value *without* rewriting any stored value (OpenVDB
    /// `setBackground(v, updateChildNodes = false)`, what `combine` does to the
    /// backgrounds). [`Tree::set_background`] is the version that also rewrites
    /// inactive values equal to the old background.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value_off(Coord::new(0, 0, 0), 0.0);
    /// t.set_value(Coord::new(0, 0, 1), 1.0);
    /// t.root_mut().set_background_only(7.0);
    /// assert_eq!(t.get_value(Coord::new(0, 0, 0)), 0.0, "stored values unchanged");
    /// assert_eq!(t.get_value(Coord::new(99999, 0, 0)), 7.0);
    /// ```
    pub fn set_background_only(&mut self, v: C::Value) {
        self.background = v;
    }
}

impl<C: Node, const LOG2: u32> InternalNode<C, LOG2> {
    /// The child in slot `n`, created from the slot's tile (its value and state
    /// everywhere) if the slot holds a tile — what a write into the slot would create.
    /// Panics if `n >= Self::NUM_VALUES`.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 1.5, true);
    /// let leaf = n.densify(Lower::coord_to_offset(Coord::new(9, 0, 0)));
    /// assert_eq!(leaf.origin(), Coord::new(8, 0, 0));
    /// assert_eq!(leaf.active_count(), 512);
    /// assert_eq!(n.leaf_count(), 1);
    /// ```
    pub fn densify(&mut self, n: usize) -> &mut C {
        self.child_or_densify(n)
    }
}

impl<C: Node, const LOG2: u32> InternalNode<C, LOG2> {
    /// Replaces the tile of every slot that holds one (neither a child nor a tiny
    /// leaf) and is not on in `skip` by `f(n, value, active)`, in slot order. The
    /// tile table is rebuilt once at the end (a uniform table keeps its majority
    /// value as default), where a [`set_tile`](Self::set_tile) per slot would update
    /// it slot by slot — what a combination of two nodes does with every tile.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Mask, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 1.0, false);
    /// n.set_value_on(Coord::new(0, 0, 0), 5.0); // a leaf in slot 0
    /// n.set_tile(1, 2.0, true);
    /// let skip = Mask::from_on_bits([2]);
    /// n.map_tiles(Some(&skip), |_, v, on| (v * 10.0, !on));
    /// assert_eq!(n.tile(0), None, "a leaf, not a tile");
    /// assert_eq!(n.tile(1), Some((20.0, false)));
    /// assert_eq!(n.tile(2), Some((1.0, false)), "skipped");
    /// assert_eq!(n.tile(3), Some((10.0, true)));
    /// assert_eq!(n.probe_value(Coord::new(0, 0, 0)), (5.0, true));
    /// ```
    pub fn map_tiles(
        &mut self,
        skip: Option<&Mask<LOG2>>,
        mut f: impl FnMut(usize, C::Value, bool) -> (C::Value, bool),
    ) {
        let mut branches = self.children.mask().clone();
        if C::TINY && !self.tiny.is_empty() {
            branches.union_with(&Mask::from_on_bits(self.tiny.slots()));
        }
        if let Some(skip) = skip {
            branches.union_with(skip);
        }
        let mut values = self.tiles.to_vec();
        for (n, value) in values.iter_mut().enumerate() {
            if branches.is_on(n) {
                continue;
            }
            let (v, on) = f(n, *value, self.value_mask.is_on(n));
            *value = v;
            self.value_mask.set(n, on);
        }
        self.tiles.assign(values, self.children.mask());
    }

    /// Puts `child` into the slot its origin falls in (replacing the tile there) and
    /// returns the child it replaces, if any: OpenVDB `addChild`, for attaching nodes
    /// built elsewhere (e.g. on another thread).
    ///
    /// # Panics
    /// When `child`'s origin lies outside this node (the slot would be wrong).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut lower = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(16, 8, 0), 0.0, false);
    /// leaf.set_value_on(Coord::new(17, 8, 0), 2.0);
    /// assert!(lower.insert_child(Box::new(leaf)).is_none());
    /// assert_eq!(lower.probe_value(Coord::new(17, 8, 0)), (2.0, true));
    /// assert_eq!(lower.leaf_count(), 1);
    /// ```
    pub fn insert_child(&mut self, child: Box<C>) -> Option<Box<C>> {
        let o = child.origin();
        assert!(
            self.node_bbox().contains(o),
            "child origin {o} outside the node at {}",
            self.origin
        );
        let n = Self::coord_to_offset(o);
        let old = self.children.remove(n);
        self.set_child(n, child);
        old
    }
}

impl<T: Value, const LOG2: u32, const DENSE_ONLY: bool> LeafNode<T, LOG2, DENSE_ONLY> {
    /// The active mask, mutably. The leaf turns dense first (in the dense form any
    /// mask is a valid state; [`compact`](LeafNode::compact) packs it again).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Mask, Node};
    /// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// *leaf.value_mask_mut() = Mask::new(true);
    /// assert_eq!(leaf.active_count(), 512);
    /// leaf.value_mask_mut().set_off(3);
    /// assert!(!leaf.is_on_at(3));
    /// ```
    #[inline]
    pub fn value_mask_mut(&mut self) -> &mut Mask<LOG2> {
        self.make_dense();
        &mut self.value_mask
    }
}
