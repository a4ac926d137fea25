//! Tree-wide iterators in OpenVDB order: value iterators ([`Tree::iter_on`],
//! [`Tree::iter_off`], [`Tree::iter_all`]) built as a fixed-depth stack of per-node
//! slot cursors over the masks, and node iterators ([`Tree::leaves`],
//! [`Tree::leaves_mut`], [`Tree::nodes`]).
//!
//! Order: root entries by key ascending (signed x, then y, then z); inside a node, slot
//! order (x-major, z fastest), a tile reported at its slot and a child's values at the
//! child's slot, depth first.

use crate::internal::InternalNode;
use crate::leaf::{LeafNode, LeafStorage};
use crate::leaf_ref::LeafRef;
use crate::mask::Mask;
use crate::node::Node;
use crate::root::RootSlot;
use crate::tree::{LowerNode, UpperNode};
use crate::{Coord, CoordBBox, Tree, Value};

/// Which values a value iterator visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    On,
    Off,
    All,
}

impl Filter {
    #[inline]
    fn accepts(self, active: bool) -> bool {
        match self {
            Filter::On => active,
            Filter::Off => !active,
            Filter::All => true,
        }
    }
}

/// One value visited by a tree iterator: a leaf voxel or a tile.
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(1, 2, 3), 5.0);
/// t.fill(&CoordBBox::new(Coord::new(128, 0, 0), Coord::new(255, 127, 127)), 1.0, true);
/// let items: Vec<_> = t.iter_on().collect();
/// assert_eq!(items.len(), 2);
/// assert_eq!((items[0].coord(), items[0].value(), items[0].is_tile()), (Coord::new(1, 2, 3), 5.0, false));
/// assert_eq!((items[1].level(), items[1].voxel_count()), (2, 128 * 128 * 128));
/// let total: u64 = t.iter_on().map(|i| i.voxel_count()).sum();
/// assert_eq!(total, t.active_voxel_count());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueItem<T> {
    coord: Coord,
    level: u32,
    log2_side: u32,
    value: T,
    active: bool,
}

impl<T: Value> ValueItem<T> {
    /// The voxel's coordinate, or the tile's origin (its minimum corner).
    #[inline]
    pub fn coord(&self) -> Coord {
        self.coord
    }

    /// The region the value covers: one voxel, or the tile's whole box.
    pub fn bbox(&self) -> CoordBBox {
        crate::node::node_bbox(self.coord, self.log2_side)
    }

    /// The value.
    #[inline]
    pub fn value(&self) -> T {
        self.value
    }

    /// The active state.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// True for a tile (any level above the leaves), false for a leaf voxel.
    #[inline]
    pub fn is_tile(&self) -> bool {
        self.level > 0
    }

    /// OpenVDB `getLevel`: 0 leaf voxel, 1 lower-internal tile, 2 upper-internal tile,
    /// 3 root tile.
    #[inline]
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Number of voxels the value covers (1 for a voxel).
    #[inline]
    pub fn voxel_count(&self) -> u64 {
        1u64 << (3 * self.log2_side)
    }
}

/// The word `w` of a node's "slots to visit" mask: children, plus the tiles or voxels
/// the filter accepts. `valid` masks off bits past the node's size.
#[inline(always)]
fn visit_word(child: u64, value: u64, filter: Filter, valid: u64) -> u64 {
    valid
        & (child
            | match filter {
                Filter::On => value,
                Filter::Off => !value,
                Filter::All => u64::MAX,
            })
}

/// Cursor over the slots of one internal node that are children or accepted tiles.
struct SlotCursor<'a, C: Node, const LOG2: u32> {
    node: &'a InternalNode<C, LOG2>,
    word: usize,
    bits: u64,
}

impl<'a, C: Node, const LOG2: u32> SlotCursor<'a, C, LOG2> {
    fn new(node: &'a InternalNode<C, LOG2>, filter: Filter) -> Self {
        let bits = visit_word(
            node.branch_word(0),
            node.value_mask.words()[0],
            filter,
            u64::MAX,
        );
        SlotCursor {
            node,
            word: 0,
            bits,
        }
    }

    /// The next slot that holds a child or an accepted tile.
    #[inline]
    fn next_slot(&mut self, filter: Filter) -> Option<usize> {
        while self.bits == 0 {
            self.word += 1;
            if self.word >= Mask::<LOG2>::WORD_COUNT {
                return None;
            }
            let value = self.node.value_mask.words();
            self.bits = visit_word(
                self.node.branch_word(self.word),
                value[self.word],
                filter,
                u64::MAX,
            );
        }
        let n = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(n)
    }
}

/// Cursor over the accepted voxels of one leaf.
struct VoxelCursor<'a, T, const L0: u32, const D: bool> {
    leaf: LeafRef<'a, T, L0, D>,
    storage: LeafStorage<'a, T>,
    /// Active voxels visited so far: the index of the next active value of a packed
    /// leaf (every active voxel is visited, in order, unless the filter is `Off`).
    active_seen: usize,
    word: usize,
    bits: u64,
}

impl<'a, T: Value, const L0: u32, const D: bool> VoxelCursor<'a, T, L0, D> {
    const VALID: u64 = if LeafNode::<T, L0, D>::NUM_VALUES < 64 {
        (1u64 << LeafNode::<T, L0, D>::NUM_VALUES) - 1
    } else {
        u64::MAX
    };

    fn new(leaf: LeafRef<'a, T, L0, D>, filter: Filter) -> Self {
        let bits = visit_word(0, leaf.value_mask().words()[0], filter, Self::VALID);
        VoxelCursor {
            storage: leaf.storage(),
            leaf,
            active_seen: 0,
            word: 0,
            bits,
        }
    }

    /// Value of voxel `n`, just returned by `next_voxel`, whose state is `on`.
    #[inline(always)]
    fn value(&mut self, n: usize, on: bool) -> T {
        match self.storage {
            LeafStorage::Dense(all) => all[n],
            LeafStorage::Packed { active, inactive } => {
                if on {
                    self.active_seen += 1;
                    active[self.active_seen - 1]
                } else {
                    inactive
                }
            }
        }
    }

    /// The next accepted voxel as an item.
    #[inline(always)]
    fn next_item(&mut self, filter: Filter) -> Option<ValueItem<T>> {
        let n = self.next_voxel(filter)?;
        let active = self.leaf.value_mask().is_on(n);
        Some(ValueItem {
            coord: self.leaf.offset_to_global(n),
            level: 0,
            log2_side: 0,
            value: self.value(n, active),
            active,
        })
    }

    #[inline]
    fn next_voxel(&mut self, filter: Filter) -> Option<usize> {
        while self.bits == 0 {
            self.word += 1;
            let words = self.leaf.value_mask().words();
            if self.word >= words.len() {
                return None;
            }
            self.bits = visit_word(0, words[self.word], filter, Self::VALID);
        }
        let n = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(n)
    }
}

/// Iterator over a tree's values (voxels and tiles) with a given active state, in
/// OpenVDB order. Created by [`Tree::iter_on`], [`Tree::iter_off`], [`Tree::iter_all`].
pub struct ValueIter<'a, T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> {
    tree: &'a Tree<T, L2, L1, L0, D>,
    filter: Filter,
    order: Vec<usize>,
    root_pos: usize,
    upper: Option<SlotCursor<'a, LowerNode<T, L1, L0, D>, L2>>,
    lower: Option<SlotCursor<'a, LeafNode<T, L0, D>, L1>>,
    leaf: Option<VoxelCursor<'a, T, L0, D>>,
}

impl<'a, T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>
    ValueIter<'a, T, L2, L1, L0, D>
{
    fn new(tree: &'a Tree<T, L2, L1, L0, D>, filter: Filter) -> Self {
        ValueIter {
            tree,
            filter,
            order: tree.root.sorted_indices(),
            root_pos: 0,
            upper: None,
            lower: None,
            leaf: None,
        }
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Iterator
    for ValueIter<'_, T, L2, L1, L0, D>
{
    type Item = ValueItem<T>;

    /// Internal iteration: walks the remaining nodes with tight per-node loops (no
    /// per-item state machine), so `sum`, `for_each`, `count`, … run several times
    /// faster than repeated `next()`.
    fn fold<B, F: FnMut(B, ValueItem<T>) -> B>(mut self, init: B, mut f: F) -> B {
        let filter = self.filter;
        let mut acc = init;
        if let Some(cur) = self.leaf.take() {
            acc = Self::fold_leaf(cur, filter, acc, &mut f);
        }
        if let Some(cur) = self.lower.take() {
            acc = Self::fold_lower(cur, filter, acc, &mut f);
        }
        if let Some(cur) = self.upper.take() {
            acc = Self::fold_upper(cur, filter, acc, &mut f);
        }
        let root = &self.tree.root;
        for &i in &self.order[self.root_pos..] {
            let entry = &root.entries[i];
            acc = match &entry.slot {
                RootSlot::Child(upper) => {
                    Self::fold_upper(SlotCursor::new(upper, filter), filter, acc, &mut f)
                }
                RootSlot::Tile(v, on) if filter.accepts(*on) => f(
                    acc,
                    ValueItem {
                        coord: entry.key,
                        level: 3,
                        log2_side: L2 + L1 + L0,
                        value: *v,
                        active: *on,
                    },
                ),
                RootSlot::Tile(..) => acc,
            };
        }
        acc
    }

    fn next(&mut self) -> Option<ValueItem<T>> {
        let filter = self.filter;
        loop {
            if let Some(cur) = &mut self.leaf {
                if let Some(item) = cur.next_item(filter) {
                    return Some(item);
                }
                self.leaf = None;
            }
            if let Some(cur) = &mut self.lower {
                if let Some(n) = cur.next_slot(filter) {
                    let node = cur.node;
                    match node.leaf(n) {
                        Some(leaf) => self.leaf = Some(VoxelCursor::new(leaf, filter)),
                        None => {
                            return Some(ValueItem {
                                coord: node.offset_to_global(n),
                                level: 1,
                                log2_side: L0,
                                value: node.tiles.get(n),
                                active: node.value_mask.is_on(n),
                            })
                        }
                    }
                    continue;
                }
                self.lower = None;
            }
            if let Some(cur) = &mut self.upper {
                if let Some(n) = cur.next_slot(filter) {
                    let node = cur.node;
                    match node.child(n) {
                        Some(lower) => self.lower = Some(SlotCursor::new(lower, filter)),
                        None => {
                            return Some(ValueItem {
                                coord: node.offset_to_global(n),
                                level: 2,
                                log2_side: L1 + L0,
                                value: node.tiles.get(n),
                                active: node.value_mask.is_on(n),
                            })
                        }
                    }
                    continue;
                }
                self.upper = None;
            }
            let &i = self.order.get(self.root_pos)?;
            self.root_pos += 1;
            let entry = &self.tree.root.entries[i];
            match &entry.slot {
                RootSlot::Child(upper) => self.upper = Some(SlotCursor::new(upper, filter)),
                RootSlot::Tile(v, on) if filter.accepts(*on) => {
                    return Some(ValueItem {
                        coord: entry.key,
                        level: 3,
                        log2_side: L2 + L1 + L0,
                        value: *v,
                        active: *on,
                    })
                }
                RootSlot::Tile(..) => {}
            }
        }
    }
}

impl<'a, T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>
    ValueIter<'a, T, L2, L1, L0, D>
{
    #[inline]
    fn fold_leaf<B, F: FnMut(B, ValueItem<T>) -> B>(
        mut cur: VoxelCursor<'a, T, L0, D>,
        filter: Filter,
        mut acc: B,
        f: &mut F,
    ) -> B {
        while let Some(item) = cur.next_item(filter) {
            acc = f(acc, item);
        }
        acc
    }

    /// The slot walk shared by both internal levels: each accepted slot is either a
    /// child, folded by `child`, or a tile of `level` and side `2^log2_side`.
    #[inline]
    fn fold_slots<C, const L: u32, B, F>(
        mut cur: SlotCursor<'a, C, L>,
        filter: Filter,
        (level, log2_side): (u32, u32),
        mut acc: B,
        f: &mut F,
        mut child: impl FnMut(usize, B, &mut F) -> B,
    ) -> B
    where
        C: Node<Value = T>,
        F: FnMut(B, ValueItem<T>) -> B,
    {
        let node = cur.node;
        while let Some(n) = cur.next_slot(filter) {
            acc = match node.has_branch(n) {
                true => child(n, acc, f),
                false => f(
                    acc,
                    ValueItem {
                        coord: node.offset_to_global(n),
                        level,
                        log2_side,
                        value: node.tiles.get(n),
                        active: node.value_mask.is_on(n),
                    },
                ),
            };
        }
        acc
    }

    fn fold_lower<B, F: FnMut(B, ValueItem<T>) -> B>(
        cur: SlotCursor<'a, LeafNode<T, L0, D>, L1>,
        filter: Filter,
        acc: B,
        f: &mut F,
    ) -> B {
        let node = cur.node;
        Self::fold_slots(cur, filter, (1, L0), acc, f, |n, acc, f| {
            match node.leaf(n) {
                Some(leaf) => Self::fold_leaf(VoxelCursor::new(leaf, filter), filter, acc, f),
                None => acc,
            }
        })
    }

    fn fold_upper<B, F: FnMut(B, ValueItem<T>) -> B>(
        cur: SlotCursor<'a, LowerNode<T, L1, L0, D>, L2>,
        filter: Filter,
        acc: B,
        f: &mut F,
    ) -> B {
        let node = cur.node;
        Self::fold_slots(cur, filter, (2, L1 + L0), acc, f, |n, acc, f| {
            match node.child(n) {
                Some(lower) => Self::fold_lower(SlotCursor::new(lower, filter), filter, acc, f),
                None => acc,
            }
        })
    }
}

/// A node visited by [`Tree::nodes`]: an upper internal node, a lower internal node or
/// a leaf, in depth-first OpenVDB order (each node before its children).
pub enum NodeRef<'a, T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> {
    /// An upper internal node (level 2).
    Upper(&'a UpperNode<T, L2, L1, L0, D>),
    /// A lower internal node (level 1).
    Lower(&'a LowerNode<T, L1, L0, D>),
    /// A leaf (level 0): a leaf object or a tiny leaf.
    Leaf(LeafRef<'a, T, L0, D>),
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>
    NodeRef<'_, T, L2, L1, L0, D>
{
    /// The node's level: 2 upper, 1 lower, 0 leaf.
    pub fn level(&self) -> u32 {
        match self {
            NodeRef::Upper(_) => 2,
            NodeRef::Lower(_) => 1,
            NodeRef::Leaf(_) => 0,
        }
    }

    /// The node's origin.
    pub fn origin(&self) -> Coord {
        match self {
            NodeRef::Upper(n) => n.origin(),
            NodeRef::Lower(n) => n.origin(),
            NodeRef::Leaf(n) => n.origin(),
        }
    }

    /// The node's box.
    pub fn bbox(&self) -> CoordBBox {
        match self {
            NodeRef::Upper(n) => n.node_bbox(),
            NodeRef::Lower(n) => n.node_bbox(),
            NodeRef::Leaf(n) => n.node_bbox(),
        }
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Tree<T, L2, L1, L0, D> {
    /// Iterates over the active values: active leaf voxels and active tiles (a tile is
    /// visited once; see [`ValueItem::voxel_count`]).
    pub fn iter_on(&self) -> ValueIter<'_, T, L2, L1, L0, D> {
        ValueIter::new(self, Filter::On)
    }

    /// Iterates over the inactive values: inactive leaf voxels and inactive tiles,
    /// root background tiles included (as OpenVDB's `ValueOffIter`).
    pub fn iter_off(&self) -> ValueIter<'_, T, L2, L1, L0, D> {
        ValueIter::new(self, Filter::Off)
    }

    /// Iterates over every stored value, active or not.
    pub fn iter_all(&self) -> ValueIter<'_, T, L2, L1, L0, D> {
        ValueIter::new(self, Filter::All)
    }

    /// Iterates over the leaves in OpenVDB order.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(9, 0, 0), 1.0);
    /// t.set_value(Coord::new(-9, 0, 0), 1.0);
    /// let origins: Vec<Coord> = t.leaves().map(|l| l.origin()).collect();
    /// assert_eq!(origins, [Coord::new(-16, 0, 0), Coord::new(8, 0, 0)]);
    /// ```
    pub fn leaves(&self) -> impl Iterator<Item = LeafRef<'_, T, L0, D>> + '_ {
        self.root
            .sorted_indices()
            .into_iter()
            .filter_map(move |i| self.root.child_ref_at(i))
            .flat_map(|upper| upper.children())
            .flat_map(|lower| lower.leaves())
    }

    /// Iterates mutably over the leaves in OpenVDB order. Through a leaf you can change
    /// values and states of existing voxels but not the tree's structure.
    ///
    /// Tiny leaves (decision 0011) have no leaf object to lend, so they become leaf
    /// objects first — the tree then takes more memory until
    /// [`compact`](Tree::compact) turns small leaves back into tiny ones.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 1, 1), 1.0);
    /// for leaf in t.leaves_mut() {
    ///     let active: Vec<usize> = leaf.value_mask().iter_on().collect();
    ///     for n in active {
    ///         let v = leaf.value_at(n);
    ///         leaf.set_at(n, v * 2.0, true);
    ///     }
    /// }
    /// assert_eq!(t.get_value(Coord::new(1, 1, 1)), 2.0);
    /// ```
    pub fn leaves_mut(&mut self) -> impl Iterator<Item = &mut LeafNode<T, L0, D>> + '_ {
        self.promote_tiny_leaves();
        self.lower_nodes_mut()
            .flat_map(|lower| lower.children_mut())
    }

    /// Iterates over every node below the root, depth first, each node before its
    /// children.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 1, 1), 1.0);
    /// let levels: Vec<u32> = t.nodes().map(|n| n.level()).collect();
    /// assert_eq!(levels, [2, 1, 0]);
    /// ```
    pub fn nodes(&self) -> impl Iterator<Item = NodeRef<'_, T, L2, L1, L0, D>> + '_ {
        self.root
            .sorted_indices()
            .into_iter()
            .filter_map(move |i| self.root.child_ref_at(i))
            .flat_map(|upper| {
                core::iter::once(NodeRef::Upper(upper)).chain(upper.children().flat_map(|lower| {
                    core::iter::once(NodeRef::Lower(lower)).chain(lower.leaves().map(NodeRef::Leaf))
                }))
            })
    }
}
