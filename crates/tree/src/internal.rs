//! [`InternalNode`]: an interior level of the tree, a table of `2^(3·LOG2)` slots each
//! holding either a child node or a tile (a value and an active bit covering the
//! child's whole region), OpenVDB `tree/InternalNode.h`.
//!
//! Representation: a value (active) mask, a [`TileTable`](crate::tile_table) of tile
//! values (uniform with a few exceptions, or dense) and a
//! [`ChildTable`](crate::child_table) holding the child mask and the boxed children
//! (sparse or dense, chosen by child count). Invariant: a slot with a child has its
//! value-mask bit off and its child-mask bit on, and its tile value is never read; a
//! slot without one has its child-mask bit off.
//!
//! A lower node (whose children are leaves of an adaptive tree) keeps leaves with a
//! few active voxels as *tiny leaves* in a [`TinyLeaves`](crate::tiny) store instead
//! of as children (decision 0011): a tiny slot has both mask bits off and its tile
//! value is never read either. Tiny leaves are leaves for every count and query;
//! [`children`](InternalNode::children) and [`child`](InternalNode::child) show only
//! the leaf objects, `leaves()` shows both.

use crate::child_table::ChildTable;
use crate::mask::Mask;
use crate::node::{
    aligned_chunks, approx_equal_tol, lower_median, within_tolerance, Node, ValidationError,
};
use crate::tile_table::TileTable;
use crate::tiny::{TinyBatch, TinyLeaves, TINY_DEMOTE};
use crate::{Coord, CoordBBox, Value};
use std::borrow::Cow;

/// Promotions by writes after which a lower node may start new leaves as objects
/// (see [`InternalNode::make_tiny`]).
const PROMOTIONS_FOR_OBJECTS: u32 = 16;

/// An internal node with `2^LOG2` slots per axis over children of type `C`.
///
/// The constants follow the child: `TOTAL = LOG2 + C::TOTAL`, `LEVEL = 1 + C::LEVEL`.
///
/// ```
/// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
/// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
/// assert_eq!(Lower::TOTAL, 7);
/// assert_eq!(Lower::LEVEL, 1);
/// let mut n = Lower::new_filled(Coord::new(130, 0, 0), 0.0, false);
/// assert_eq!(n.origin(), Coord::new(128, 0, 0));
/// n.set_value_on(Coord::new(131, 1, 2), 4.0);
/// assert_eq!(n.get_value(Coord::new(131, 1, 2)), 4.0);
/// assert_eq!(n.leaf_count(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct InternalNode<C: Node, const LOG2: u32> {
    pub(crate) origin: Coord,
    pub(crate) value_mask: Mask<LOG2>,
    pub(crate) tiles: TileTable<C::Value, LOG2>,
    pub(crate) children: ChildTable<C, LOG2>,
    pub(crate) tiny: TinyLeaves<C::Value>,
    /// Tiny leaves this node created for writes, and how many of them writes then
    /// promoted (saturating): a node whose new leaves mostly outgrow the tiny form
    /// starts new leaves as objects.
    tiny_created: u32,
    tiny_promoted: u32,
}

impl<C: Node, const LOG2: u32> InternalNode<C, LOG2> {
    const CHECK: () = assert!(
        LOG2 >= 2 && LOG2 + C::TOTAL <= 30,
        "internal LOG2 must be >= 2 and the node side at most 2^30"
    );
    const SELF_DIM_MASK: i32 = ((1i64 << (LOG2 + C::TOTAL)) - 1) as i32;

    /// The node's origin (its minimum corner).
    #[inline]
    pub fn origin(&self) -> Coord {
        self.origin
    }

    /// Slot index of coordinate `c` (x-major, z fastest).
    #[inline(always)]
    pub fn coord_to_offset(c: Coord) -> usize {
        let m = Self::SELF_DIM_MASK;
        let t = C::TOTAL;
        ((((c.x & m) >> t) as usize) << (2 * LOG2))
            | ((((c.y & m) >> t) as usize) << LOG2)
            | (((c.z & m) >> t) as usize)
    }

    /// Origin of slot `n` (the corner of its child or tile region).
    #[inline]
    pub fn offset_to_global(&self, n: usize) -> Coord {
        let m = (1usize << LOG2) - 1;
        let t = C::TOTAL;
        Coord::new(
            self.origin.x + (((n >> (2 * LOG2)) as i32) << t),
            self.origin.y + ((((n >> LOG2) & m) as i32) << t),
            self.origin.z + (((n & m) as i32) << t),
        )
    }

    /// The child mask: bit `n` on when slot `n` holds a child.
    #[inline]
    pub fn child_mask(&self) -> &Mask<LOG2> {
        self.children.mask()
    }

    /// The value mask: bit `n` on when slot `n` holds an active tile.
    #[inline]
    pub fn value_mask(&self) -> &Mask<LOG2> {
        &self.value_mask
    }

    /// The child in slot `n`, if any.
    #[inline]
    pub fn child(&self, n: usize) -> Option<&C> {
        self.children.get(n)
    }

    /// The child in slot `n`, mutably, if any.
    #[inline]
    pub fn child_mut(&mut self, n: usize) -> Option<&mut C> {
        self.children.get_mut(n)
    }

    /// The tile in slot `n` as `(value, active)`, or `None` when the slot has a child
    /// (a child node or a tiny leaf).
    #[inline]
    pub fn tile(&self, n: usize) -> Option<(C::Value, bool)> {
        if self.has_branch(n) {
            None
        } else {
            Some((self.tiles.get(n), self.value_mask.is_on(n)))
        }
    }

    /// Iterates over the children in slot order.
    pub fn children(&self) -> impl Iterator<Item = &C> + '_ {
        self.children.iter()
    }

    /// Iterates mutably over the children in slot order.
    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut C> + '_ {
        self.children.iter_mut()
    }

    /// The child at slot `n`, created from the slot's tile if there is none.
    #[inline]
    pub(crate) fn child_or_densify(&mut self, n: usize) -> &mut C {
        if !self.children.mask().is_on(n) {
            if self.is_tiny(n) {
                return self.promote_tiny(n);
            }
            let child = self.new_child(n);
            self.set_child(n, Box::new(child));
            self.trim_previous_along_x(n);
        }
        self.children.get_mut(n).expect("child just ensured")
    }

    /// Puts `child` in slot `n` (dropping any child already there).
    #[inline]
    pub(crate) fn set_child(&mut self, n: usize, child: Box<C>) {
        if self.is_tiny(n) {
            self.tiny.take(n);
        }
        self.children.insert(n, child);
        self.value_mask.set_off(n);
        self.tiles.forget(n);
    }

    /// Makes slot `n` the tile `(v, active)`, dropping any child there.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(1, 1, 1), 2.0);
    /// n.set_tile(0, 4.0, true);
    /// assert_eq!(n.leaf_count(), 0);
    /// assert_eq!(n.tile(0), Some((4.0, true)));
    /// ```
    #[inline]
    pub fn set_tile(&mut self, n: usize, v: C::Value, active: bool) {
        if self.is_tiny(n) {
            self.tiny.take(n);
        }
        self.children.remove(n);
        self.tiles.set(n, v);
        self.value_mask.set(n, active);
    }

    /// Removes and returns the child in slot `n`, leaving the tile `(v, active)`.
    pub(crate) fn take_child(&mut self, n: usize, v: C::Value, active: bool) -> Option<Box<C>> {
        if self.is_tiny(n) {
            self.promote_tiny(n);
        }
        let child = self.children.remove(n);
        self.set_tile(n, v, active);
        child
    }

    /// Number of tiny leaves (always 0 above the lowest internal level and in a
    /// [`DenseTree`](crate::DenseTree)).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(1, 2, 3), 1.0);
    /// assert_eq!((n.tiny_leaf_count(), n.leaf_count(), n.children().count()), (1, 1, 0));
    /// ```
    #[inline]
    pub fn tiny_leaf_count(&self) -> usize {
        self.tiny.len()
    }

    /// The active values of all tiny leaves, in slot order and, within a leaf, in
    /// voxel offset order (one contiguous run: reductions read it in one pass).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(9, 0, 0), 2.0);
    /// n.set_value_on(Coord::new(1, 0, 0), 1.0);
    /// assert_eq!(n.tiny_active_values(), &[1.0, 2.0]);
    /// ```
    #[inline]
    pub fn tiny_active_values(&self) -> &[C::Value] {
        self.tiny.values()
    }

    /// [`tiny_active_values`](Self::tiny_active_values), mutably (values change, states
    /// do not).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(9, 0, 0), 2.0);
    /// n.tiny_active_values_mut()[0] *= 3.0;
    /// assert_eq!(n.get_value(Coord::new(9, 0, 0)), 6.0);
    /// ```
    #[inline]
    pub fn tiny_active_values_mut(&mut self) -> &mut [C::Value] {
        self.tiny.values_mut()
    }

    /// True when slot `n` holds a tiny leaf.
    #[inline]
    pub fn is_tiny(&self, n: usize) -> bool {
        C::TINY && self.tiny.contains(n)
    }

    /// A leaf object was just created in slot `n` of a lower node: the leaf before it
    /// along x (one x step back, same y and z) drops the spare capacity writes grew
    /// in it. Written in x-major order (x outermost, as the `sphere` workload and most
    /// scans of a grid are), that leaf is complete; in any other order it regrows,
    /// and the cost is bounded by one trim per leaf creation.
    #[inline]
    fn trim_previous_along_x(&mut self, n: usize) {
        let x_step = 1usize << (2 * LOG2);
        if C::TINY && n >= x_step {
            if let Some(previous) = self.children.get_mut(n - x_step) {
                previous.trim_spare();
            }
        }
    }

    /// Turns the tiny leaf in slot `n` into a child node and returns it.
    pub(crate) fn promote_tiny(&mut self, n: usize) -> &mut C {
        self.tiny_promoted = self.tiny_promoted.saturating_add(1);
        let inactive = self.tiny.inactive();
        let (offsets, values) = self.tiny.take(n);
        let child = C::from_tiny(self.offset_to_global(n), &offsets, &values, inactive);
        self.set_child(n, Box::new(child));
        self.trim_previous_along_x(n);
        self.children.get_mut(n).expect("child just inserted")
    }

    /// Every tiny leaf becomes a child node (for code that works on the children
    /// directly); [`compact`](Self::compact) turns small leaves back.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(1, 2, 3), 1.0);
    /// n.promote_tiny_leaves();
    /// assert_eq!((n.tiny_leaf_count(), n.children().count()), (0, 1));
    /// n.compact();
    /// assert_eq!((n.tiny_leaf_count(), n.children().count()), (1, 0));
    /// assert_eq!(n.probe_value(Coord::new(1, 2, 3)), (1.0, true));
    /// ```
    pub fn promote_tiny_leaves(&mut self) {
        if !C::TINY || self.tiny.is_empty() {
            return;
        }
        let slots: Vec<usize> = self.tiny.slots().collect();
        let promoted = self.tiny_promoted;
        for n in slots {
            self.promote_tiny(n);
        }
        // Not a sign that leaves outgrow the tiny form here.
        self.tiny_promoted = promoted;
    }

    /// Whether writes promoted most of the tiny leaves they created here (at least
    /// [`PROMOTIONS_FOR_OBJECTS`], more than half of the creations), so that new
    /// leaves start as objects (see [`make_tiny`](Self::make_tiny)).
    #[inline]
    fn starts_leaves_as_objects(&self) -> bool {
        self.tiny_promoted >= PROMOTIONS_FOR_OBJECTS
            && u64::from(self.tiny_promoted) * 2 > u64::from(self.tiny_created)
    }

    /// Slot `n`'s neighbours one step back along x, y and z, where they exist.
    fn slots_before(n: usize) -> impl Iterator<Item = usize> {
        (0..3).filter_map(move |axis| {
            let step = 1usize << (axis * LOG2);
            let index = (n >> (axis * LOG2)) & ((1 << LOG2) - 1);
            (index > 0).then(|| n - step)
        })
    }

    /// The child for slot `n`, filled with the slot's tile. A lower node created next
    /// to one that starts its leaves as objects (any of the three before it: a dense
    /// region continuing into it) does so from its first leaf.
    fn new_child(&self, n: usize) -> C {
        let mut child = C::new_filled(
            self.offset_to_global(n),
            self.tiles.get(n),
            self.value_mask.is_on(n),
        );
        if C::LEVEL == 1 {
            for neighbour in Self::slots_before(n).filter_map(|m| self.children.get(m)) {
                child.inherit_leaf_start(neighbour);
            }
        }
        child
    }

    /// Turns the inactive tile in slot `n` into an empty tiny leaf if the tiny store
    /// accepts its value; returns whether it did. A node where writes promoted most
    /// of the tiny leaves they created (a dense region, whose new leaves will outgrow
    /// the tiny form too: at least 16 promotions, more than half of the creations)
    /// starts new leaves as objects, which saves the build a promotion per leaf;
    /// `compact` and bulk operations still pack the small ones.
    #[inline]
    fn make_tiny(&mut self, n: usize) -> bool {
        if !C::TINY || self.value_mask.is_on(n) || self.starts_leaves_as_objects() {
            return false;
        }
        let v = self.tiles.get(n);
        if !self.tiny.accepts(v) {
            return false;
        }
        self.tiny
            .insert_leaf(Mask::<LOG2>::WORD_COUNT, n, v, &[], &[]);
        self.tiles.forget(n);
        self.tiny_created = self.tiny_created.saturating_add(1);
        true
    }

    /// Leaf objects that can be tiny leaves (at most 16 active voxels, every other
    /// voxel inactive with the value the node's tiny leaves share) become tiny leaves
    /// — what bulk operations do at their end. Values and states are unchanged.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(1, 2, 3), 1.0);
    /// n.promote_tiny_leaves();
    /// n.pack_small_leaves();
    /// assert_eq!((n.tiny_leaf_count(), n.children().count()), (1, 0));
    /// ```
    pub fn pack_small_leaves(&mut self) {
        if !C::TINY || self.children.len() == 0 {
            return;
        }
        let slots: Vec<usize> = self.children.mask().iter_on().collect();
        let before = slots.len();
        // The leaves found small are gathered first and merged into the tiny
        // store at once (one pass over its arrays, not one insertion each).
        let mut batch = TinyBatch::new();
        let mut inactive = None;
        for n in slots {
            let Some(child) = self.children.get(n) else {
                continue;
            };
            let Some(v) = child.tiny_parts(TINY_DEMOTE, &mut batch.offsets, &mut batch.values)
            else {
                continue;
            };
            let fits = self.tiny.accepts(v) && inactive.is_none_or(|i| C::Value::same_bits(i, v));
            if !fits {
                batch.discard_pending();
                continue;
            }
            inactive = Some(v);
            batch.finish_leaf(n);
            self.children.remove(n);
            self.tiles.forget(n);
        }
        if let Some(v) = inactive {
            self.tiny.insert_leaves(Mask::<LOG2>::WORD_COUNT, v, &batch);
        }
        if self.children.len() < before {
            self.children.shrink_to_fit();
        }
    }

    /// This node, or a copy of it whose tiny leaves are child nodes (for code that
    /// reads the children of another node directly).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(1, 2, 3), 1.0);
    /// assert_eq!(n.without_tiny().children().count(), 1);
    /// assert_eq!(n.children().count(), 0);
    /// ```
    pub fn without_tiny(&self) -> Cow<'_, Self> {
        if self.tiny.is_empty() {
            Cow::Borrowed(self)
        } else {
            let mut copy = self.clone();
            copy.promote_tiny_leaves();
            Cow::Owned(copy)
        }
    }

    /// Word `w` of the mask of slots holding a child node or a tiny leaf.
    #[inline(always)]
    pub(crate) fn branch_word(&self, w: usize) -> u64 {
        let child = self.children.mask().words()[w];
        if self.tiny.is_empty() {
            child
        } else {
            child | self.tiny.word(w)
        }
    }

    /// True when slot `n` holds a child node or a tiny leaf.
    #[inline]
    pub(crate) fn has_branch(&self, n: usize) -> bool {
        self.children.mask().is_on(n) || self.is_tiny(n)
    }

    /// Packs what can be packed below this node: leaves are compacted
    /// ([`LeafNode::compact`](crate::LeafNode::compact)), small leaves become tiny
    /// leaves and spare capacity is dropped. Values and states are unchanged.
    pub fn compact(&mut self) {
        for child in self.children.iter_mut() {
            child.compact_node();
        }
        self.pack_small_leaves();
        self.tiny.shrink_to_fit();
        self.children.shrink_to_fit();
        self.tiles.shrink_to_fit();
        self.value_mask.shrink();
    }

    fn slot_bbox(&self, n: usize) -> CoordBBox {
        crate::node::node_bbox(self.offset_to_global(n), C::TOTAL)
    }

    /// Shared body of [`Node::fill`] (`dense == false`) and [`Node::dense_fill`].
    fn fill_impl(&mut self, bbox: &CoordBBox, v: C::Value, active: bool, dense: bool) {
        let clipped = self.node_bbox().intersection(bbox);
        if clipped.is_empty() {
            return;
        }
        if !dense && clipped == self.node_bbox() {
            // Every slot becomes the tile: one whole-table fill.
            self.children = ChildTable::new();
            self.tiny = TinyLeaves::new();
            self.tiles.fill(v);
            self.value_mask = Mask::new(active);
            return;
        }
        let (lo, hi) = (clipped.min(), clipped.max());
        for (x0, x1) in aligned_chunks(lo.x, hi.x, C::TOTAL) {
            for (y0, y1) in aligned_chunks(lo.y, hi.y, C::TOTAL) {
                for (z0, z1) in aligned_chunks(lo.z, hi.z, C::TOTAL) {
                    let chunk = CoordBBox::new(Coord::new(x0, y0, z0), Coord::new(x1, y1, z1));
                    let n = Self::coord_to_offset(chunk.min());
                    let whole = chunk.volume() == C::NUM_VOXELS as u128;
                    if whole && !dense {
                        self.set_tile(n, v, active);
                    } else if dense {
                        self.child_or_densify(n).dense_fill(&chunk, v, active);
                    } else {
                        self.child_or_densify(n).fill(&chunk, v, active);
                    }
                }
            }
        }
    }

    /// OpenVDB `tools::prune`'s test of one node whose children have already been
    /// pruned: when the node has no child, all its tiles share one active state and
    /// `max − min <= tol`, the tile that replaces it — its lower-median value and that
    /// state; else `None`. (Parallel pruning calls this after pruning the children.)
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 1.0, true);
    /// n.set_tile(0, 1.5, true);
    /// assert_eq!(n.constant_tile(0.0), None);
    /// assert_eq!(n.constant_tile(0.5), Some((1.0, true)));
    /// ```
    pub fn constant_tile(&self, tol: C::Value) -> Option<(C::Value, bool)> {
        let state = self.tiles_constant()?;
        if let Some(v) = self.tiles.single_value() {
            // Every tile bit-for-bit `v`: within any tolerance, and `v` is the median.
            return Some((v, state));
        }
        if !within_tolerance(self.tiles.iter(), tol) {
            return None;
        }
        let mut scratch = self.tiles.to_vec();
        Some((lower_median(&mut scratch), state))
    }

    /// Inactive voxels of the tiny leaves.
    fn tiny_off_voxels(&self) -> u64 {
        (self.tiny.len() as u64 * C::NUM_VALUES as u64) - self.tiny.entry_count() as u64
    }

    /// The pruning of tiny leaves: one without an active voxel is uniform (every
    /// voxel inactive with the shared value), so it becomes an inactive tile of that
    /// value, or of `value` when given (`prune_inactive`); any other has two states and
    /// stays.
    fn collapse_empty_tiny(&mut self, value: Option<C::Value>) {
        if self.tiny.is_empty() {
            return;
        }
        let inactive = self.tiny.inactive();
        let empty: Vec<usize> = self
            .tiny
            .iter()
            .filter(|(_, offsets, _)| offsets.is_empty())
            .map(|(n, _, _)| n)
            .collect();
        for n in empty {
            self.set_tile(n, value.unwrap_or(inactive), false);
        }
    }

    fn tiles_constant(&self) -> Option<bool> {
        if self.children.len() != 0 || !self.tiny.is_empty() {
            return None;
        }
        self.value_mask.constant_state()
    }
}

impl<C: Node, const LOG2: u32> Node for InternalNode<C, LOG2> {
    type Value = C::Value;
    const LOG2DIM: u32 = LOG2;
    const TOTAL: u32 = LOG2 + C::TOTAL;
    const LEVEL: u32 = 1 + C::LEVEL;

    fn compact_node(&mut self) {
        self.compact();
    }

    fn inherit_leaf_start(&mut self, neighbour: &Self) {
        if C::TINY && neighbour.starts_leaves_as_objects() && self.tiny_created == 0 {
            self.tiny_promoted = PROMOTIONS_FOR_OBJECTS;
        }
    }

    fn new_filled(origin: Coord, value: C::Value, active: bool) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        InternalNode {
            origin: origin.mask(!Self::SELF_DIM_MASK),
            value_mask: Mask::new(active),
            tiles: TileTable::new(value),
            children: ChildTable::new(),
            tiny: TinyLeaves::new(),
            tiny_created: 0,
            tiny_promoted: 0,
        }
    }

    #[inline]
    fn origin(&self) -> Coord {
        self.origin
    }

    #[inline]
    fn get_value(&self, c: Coord) -> C::Value {
        self.probe_value(c).0
    }

    #[inline]
    fn is_value_on(&self, c: Coord) -> bool {
        let n = Self::coord_to_offset(c);
        match self.children.get(n) {
            Some(child) => child.is_value_on(c),
            None if self.is_tiny(n) => self.tiny.probe(n, C::local_offset(c)).1,
            None => self.value_mask.is_on(n),
        }
    }

    #[inline]
    fn probe_value(&self, c: Coord) -> (C::Value, bool) {
        let n = Self::coord_to_offset(c);
        match self.children.get(n) {
            Some(child) => child.probe_value(c),
            None if self.is_tiny(n) => self.tiny.probe(n, C::local_offset(c)),
            None => (self.tiles.get(n), self.value_mask.is_on(n)),
        }
    }

    fn value_level(&self, c: Coord) -> u32 {
        let n = Self::coord_to_offset(c);
        match self.children.get(n) {
            Some(child) => child.value_level(c),
            None if self.is_tiny(n) => 0,
            None => Self::LEVEL,
        }
    }

    #[inline]
    fn set_value_on(&mut self, c: Coord, v: C::Value) {
        let n = Self::coord_to_offset(c);
        if let Some(child) = self.children.get_mut(n) {
            return child.set_value_on(c, v);
        }
        if C::TINY && !self.tiny.contains(n) {
            // A write into a tile densifies only if it changes the value or the state.
            if self.value_mask.is_on(n) && self.tiles.get(n) == v {
                return;
            }
            if !self.make_tiny(n) {
                return self.child_or_densify(n).set_value_on(c, v);
            }
        }
        if C::TINY {
            if !self.tiny.set_on(n, C::local_offset(c), v) {
                self.promote_tiny(n).set_value_on(c, v);
            }
            return;
        }
        if self.value_mask.is_on(n) && self.tiles.get(n) == v {
            return;
        }
        self.child_or_densify(n).set_value_on(c, v);
    }

    #[inline]
    fn set_value_off(&mut self, c: Coord, v: C::Value) {
        let n = Self::coord_to_offset(c);
        if let Some(child) = self.children.get_mut(n) {
            return child.set_value_off(c, v);
        }
        if self.is_tiny(n) {
            if C::Value::same_bits(v, self.tiny.inactive()) {
                self.tiny.remove(n, C::local_offset(c));
                return;
            }
            return self.promote_tiny(n).set_value_off(c, v);
        }
        if !self.value_mask.is_on(n) && self.tiles.get(n) == v {
            return;
        }
        self.child_or_densify(n).set_value_off(c, v);
    }

    #[inline]
    fn set_value_only(&mut self, c: Coord, v: C::Value) {
        let n = Self::coord_to_offset(c);
        if let Some(child) = self.children.get_mut(n) {
            return child.set_value_only(c, v);
        }
        if self.is_tiny(n) {
            let o = C::local_offset(c);
            if self.tiny.set_existing(n, o, v) || C::Value::same_bits(v, self.tiny.inactive()) {
                return;
            }
            return self.promote_tiny(n).set_value_only(c, v);
        }
        if self.tiles.get(n) == v {
            return;
        }
        self.child_or_densify(n).set_value_only(c, v);
    }

    #[inline]
    fn set_active(&mut self, c: Coord, on: bool) {
        let n = Self::coord_to_offset(c);
        if let Some(child) = self.children.get_mut(n) {
            return child.set_active(c, on);
        }
        if !self.is_tiny(n) {
            if self.value_mask.is_on(n) == on {
                return;
            }
            // Activating one voxel of an inactive tile.
            if !(on && self.make_tiny(n)) {
                return self.child_or_densify(n).set_active(c, on);
            }
        }
        let o = C::local_offset(c);
        let (v, was_on) = self.tiny.probe(n, o);
        if was_on == on {
            return;
        }
        let done = if on {
            self.tiny.set_on(n, o, v)
        } else if C::Value::same_bits(v, self.tiny.inactive()) {
            self.tiny.remove(n, o).is_some()
        } else {
            false
        };
        if !done {
            self.promote_tiny(n).set_active(c, on);
        }
    }

    fn modify_value<F: FnOnce(&mut C::Value)>(&mut self, c: Coord, f: F) {
        let n = Self::coord_to_offset(c);
        if let Some(child) = self.children.get_mut(n) {
            return child.modify_value(c, f);
        }
        if self.is_tiny(n) {
            let mut v = self.tiny.probe(n, C::local_offset(c)).0;
            f(&mut v);
            return self.set_value_on(c, v);
        }
        // OpenVDB applies the operator to a copy of the tile value and densifies when the
        // tile is inactive or the value changes; the voxel then gets the modified value.
        let tile = self.tiles.get(n);
        let mut modified = tile;
        f(&mut modified);
        if self.value_mask.is_on(n) && modified == tile {
            return;
        }
        if self.make_tiny(n) {
            return self.set_value_on(c, modified);
        }
        self.child_or_densify(n).set_value_on(c, modified);
    }

    fn fill(&mut self, bbox: &CoordBBox, v: C::Value, active: bool) {
        self.fill_impl(bbox, v, active, false);
    }

    fn dense_fill(&mut self, bbox: &CoordBBox, v: C::Value, active: bool) {
        self.fill_impl(bbox, v, active, true);
    }

    fn prune_tolerance(&mut self, tol: C::Value) -> Option<(C::Value, bool)> {
        self.collapse_empty_tiny(None);
        for n in 0..Self::NUM_VALUES {
            if let Some(child) = self.children.get_mut(n) {
                if let Some((v, on)) = child.prune_tolerance(tol) {
                    self.set_tile(n, v, on);
                }
            }
        }
        self.pack_small_leaves();
        self.constant_tile(tol)
    }

    fn prune_first_value(&mut self, tol: C::Value) -> Option<(C::Value, bool)> {
        self.collapse_empty_tiny(None);
        for n in 0..Self::NUM_VALUES {
            if let Some(child) = self.children.get_mut(n) {
                if let Some((v, on)) = child.prune_first_value(tol) {
                    self.set_tile(n, v, on);
                }
            }
        }
        self.pack_small_leaves();
        let state = self.tiles_constant()?;
        if let Some(v) = self.tiles.single_value() {
            return Some((v, state));
        }
        let first = self.tiles.get(0);
        self.tiles
            .iter()
            .all(|v| approx_equal_tol(v, first, tol))
            .then_some((first, state))
    }

    fn prune_inactive(&mut self, value: C::Value) -> bool {
        self.collapse_empty_tiny(Some(value));
        for n in 0..Self::NUM_VALUES {
            if let Some(child) = self.children.get_mut(n) {
                if child.prune_inactive(value) {
                    self.set_tile(n, value, false);
                }
            }
        }
        self.pack_small_leaves();
        self.children.len() == 0 && self.tiny.is_empty() && self.value_mask.is_all_off()
    }

    fn voxelize_active_tiles(&mut self) {
        let active: Vec<usize> = self.value_mask.iter_on().collect();
        for n in active {
            let child = C::new_filled(self.offset_to_global(n), self.tiles.get(n), true);
            self.set_child(n, Box::new(child));
        }
        for child in self.children_mut() {
            child.voxelize_active_tiles();
        }
    }

    fn clip(&mut self, clip: &CoordBBox, background: C::Value) {
        if clip.contains_bbox(&self.node_bbox()) {
            return;
        }
        for n in 0..Self::NUM_VALUES {
            let slot = self.slot_bbox(n);
            if !clip.intersects(&slot) {
                self.set_tile(n, background, false);
            } else if !clip.contains_bbox(&slot) {
                if self.is_tiny(n) {
                    self.promote_tiny(n);
                }
                if let Some(child) = self.children.get_mut(n) {
                    child.clip(clip, background);
                } else {
                    let (v, on) = (self.tiles.get(n), self.value_mask.is_on(n));
                    // OpenVDB refills the inside with the tile; for an inactive tile that
                    // is bit-for-bit the background that builds nodes the final prune
                    // collapses again, so skip it (same result, no transient nodes).
                    if !on && C::Value::same_bits(v, background) {
                        continue;
                    }
                    self.set_tile(n, background, false);
                    self.fill(&slot.intersection(clip), v, on);
                }
            }
        }
    }

    fn reset_background(&mut self, old: C::Value, new: C::Value) {
        let neg_old = C::Value::negative(old);
        let neg_new = C::Value::negative(new);
        if !self.tiny.is_empty() {
            // Every inactive voxel of every tiny leaf holds the one shared value.
            let v = self.tiny.inactive();
            if C::Value::is_approx_equal(v, old) {
                self.tiny.set_inactive(new);
            } else if C::Value::is_approx_equal(v, neg_old) {
                self.tiny.set_inactive(neg_new);
            }
        }
        if let Some(v) = self.tiles.single_value() {
            if !C::Value::is_approx_equal(v, old) && !C::Value::is_approx_equal(v, neg_old) {
                // No tile changes.
                for child in self.children.iter_mut() {
                    child.reset_background(old, new);
                }
                return;
            }
        }
        // A whole-table update on a scratch copy, so that a uniform table whose inactive
        // tiles all change stays uniform (with the new value as its default).
        let mut values = self.tiles.to_vec();
        for (n, v) in values.iter_mut().enumerate() {
            if let Some(child) = self.children.get_mut(n) {
                child.reset_background(old, new);
            } else if !self.value_mask.is_on(n) {
                if C::Value::is_approx_equal(*v, old) {
                    *v = new;
                } else if C::Value::is_approx_equal(*v, neg_old) {
                    *v = neg_new;
                }
            }
        }
        self.tiles.assign(values, self.children.mask());
    }

    fn on_voxel_count(&self) -> u64 {
        let tiles = C::NUM_VOXELS.saturating_mul(self.value_mask.count_on() as u64)
            + self.tiny.entry_count() as u64;
        self.children()
            .fold(tiles, |s, c| s.saturating_add(c.on_voxel_count()))
    }

    fn off_voxel_count(&self) -> u64 {
        let off_tiles =
            Self::NUM_VALUES - self.value_mask.count_on() - self.children.len() - self.tiny.len();
        let tiles = C::NUM_VOXELS.saturating_mul(off_tiles as u64) + self.tiny_off_voxels();
        self.children()
            .fold(tiles, |s, c| s.saturating_add(c.off_voxel_count()))
    }

    fn on_leaf_voxel_count(&self) -> u64 {
        self.tiny.entry_count() as u64
            + self
                .children()
                .map(|c| c.on_leaf_voxel_count())
                .sum::<u64>()
    }

    fn off_leaf_voxel_count(&self) -> u64 {
        self.tiny_off_voxels()
            + self
                .children()
                .map(|c| c.off_leaf_voxel_count())
                .sum::<u64>()
    }

    fn on_tile_count(&self) -> u64 {
        self.value_mask.count_on() as u64 + self.children().map(|c| c.on_tile_count()).sum::<u64>()
    }

    fn leaf_count(&self) -> usize {
        self.tiny.len() + self.children().map(|c| c.leaf_count()).sum::<usize>()
    }

    fn non_leaf_count(&self) -> usize {
        1 + self.children().map(|c| c.non_leaf_count()).sum::<usize>()
    }

    fn eval_active_bbox(&self, bbox: &mut CoordBBox, visit_voxels: bool) {
        if bbox.contains_bbox(&self.node_bbox()) {
            return;
        }
        for n in self.value_mask.iter_on() {
            *bbox = bbox.union(&self.slot_bbox(n));
        }
        for child in self.children() {
            child.eval_active_bbox(bbox, visit_voxels);
        }
        for (n, offsets, _) in self.tiny.iter() {
            if offsets.is_empty() {
                continue;
            }
            let origin = self.offset_to_global(n);
            if !visit_voxels {
                *bbox = bbox.union(&crate::node::node_bbox(origin, C::TOTAL));
                continue;
            }
            for &o in offsets {
                let o = o as usize;
                let l = C::LOG2DIM;
                let m = (1usize << l) - 1;
                let c = Coord::new(
                    origin.x + (o >> (2 * l)) as i32,
                    origin.y + ((o >> l) & m) as i32,
                    origin.z + (o & m) as i32,
                );
                *bbox = bbox.union(&CoordBBox::new(c, c));
            }
        }
    }

    fn mem_usage(&self) -> usize {
        core::mem::size_of::<Self>()
            + self.tiles.heap_bytes()
            + self.children.heap_bytes()
            + self.value_mask.heap_bytes()
            + self.tiny.heap_bytes()
            + self.children().map(|c| c.mem_usage()).sum::<usize>()
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let err = |what: String| ValidationError {
            origin: self.origin,
            level: Self::LEVEL,
            what,
        };
        if self.origin.mask(!Self::SELF_DIM_MASK) != self.origin {
            return Err(err("origin not aligned to the node grid".into()));
        }
        self.tiles.check().map_err(&err)?;
        self.children.check().map_err(&err)?;
        if !self.children.mask().is_disjoint(&self.value_mask) {
            return Err(err("a slot is both a child and an active tile".into()));
        }
        if !self.tiny.is_empty() {
            if !C::TINY {
                return Err(err(
                    "tiny leaves in a node whose children cannot be tiny".into()
                ));
            }
            self.tiny
                .check(Mask::<LOG2>::WORD_COUNT, C::NUM_VALUES)
                .map_err(&err)?;
            let (child, value) = (self.children.mask().words(), self.value_mask.words());
            if (0..child.len()).any(|w| self.tiny.word(w) & (child[w] | value[w]) != 0) {
                return Err(err(
                    "a slot is both a tiny leaf and a child or active tile".into()
                ));
            }
        }
        for n in self.children.mask().iter_on() {
            if let Some(child) = self.children.get(n) {
                if child.origin() != self.offset_to_global(n) {
                    return Err(err(format!(
                        "child at slot {n} has origin {} instead of {}",
                        child.origin(),
                        self.offset_to_global(n)
                    )));
                }
                child.validate()?;
            }
        }
        Ok(())
    }
}
