//! [`Tree`]: the public face of the data structure — a [`RootNode`] over two levels of
//! [`InternalNode`]s and [`LeafNode`]s (5-4-3 by default), with OpenVDB 10's
//! semantics for every read, write and structural operation (OpenVDB `tree/Tree.h`,
//! `tools/Prune.h`).

use crate::internal::InternalNode;
use crate::leaf::LeafNode;
use crate::node::ValidationError;
use crate::root::RootNode;
use crate::{Coord, CoordBBox, Value};

/// The lower internal node of a tree configuration: `2^L1` leaves per axis.
pub type LowerNode<T, const L1: u32 = 4, const L0: u32 = 3, const D: bool = false> =
    InternalNode<LeafNode<T, L0, D>, L1>;
/// The upper internal node of a tree configuration: `2^L2` lower nodes per axis.
pub type UpperNode<
    T,
    const L2: u32 = 5,
    const L1: u32 = 4,
    const L0: u32 = 3,
    const D: bool = false,
> = InternalNode<LowerNode<T, L1, L0, D>, L2>;

/// A sparse volume of `T` values over the whole `i32³` index space: a root table of
/// upper internal nodes (`2^L2` slots per axis), lower internal nodes (`2^L1`) and leaf
/// nodes (`2^L0` voxels per axis). `Tree<T>` is OpenVDB's standard 5-4-3 tree.
///
/// Every voxel has a value and an active state. Voxels no node covers have the
/// background value and are inactive; a *tile* (at any internal level or the root)
/// gives a whole region one value and one state.
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(1, 2, 3), 1.5);
/// assert_eq!(t.probe_value(Coord::new(1, 2, 3)), (1.5, true));
/// assert_eq!(t.get_value(Coord::new(100, 0, 0)), 0.0);
/// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(127, 127, 127)), 2.0, true);
/// assert_eq!(t.active_voxel_count(), 128 * 128 * 128);
/// assert_eq!(t.leaf_count(), 0, "a whole 128³ region is one tile");
/// ```
///
/// A second configuration is just other parameters:
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t = Tree::<f64, 4, 4, 3>::with_background(-1.0);
/// t.set_value(Coord::new(-1, -1, -1), 2.0);
/// assert_eq!(t.value_depth(Coord::new(-1, -1, -1)), 3);
/// ```
///
/// Leaves choose their storage (dense, or packed active values) by themselves; the
/// last parameter `D = true` pins every leaf to OpenVDB's dense layout instead
/// ([`DenseTree`]), with identical results for every operation:
///
/// ```
/// use sparsevdb_tree::{Coord, DenseTree, Node, Tree};
/// let mut adaptive: Tree<f32> = Tree::new(0.0);
/// let mut dense: DenseTree<f32> = DenseTree::with_background(0.0);
/// for i in 0..100 {
///     adaptive.set_value(Coord::new(i * 8, 0, 0), 1.0);
///     dense.set_value(Coord::new(i * 8, 0, 0), 1.0);
/// }
/// assert!(adaptive.leaves().all(|l| !l.is_dense()));
/// assert!(dense.leaves().all(|l| l.is_dense()));
/// let (a, d) = (adaptive.mem_usage(), dense.mem_usage());
/// assert!(a * 5 < d, "{a} vs {d} bytes");
/// assert_eq!(adaptive.active_voxel_count(), dense.active_voxel_count());
/// ```
#[derive(Clone, Debug)]
pub struct Tree<
    T: Value,
    const L2: u32 = 5,
    const L1: u32 = 4,
    const L0: u32 = 3,
    const D: bool = false,
> {
    pub(crate) root: RootNode<UpperNode<T, L2, L1, L0, D>>,
}

/// The standard 5-4-3 tree with every leaf pinned to the dense form (OpenVDB's
/// layout): the baseline the adaptive [`Tree`] is measured against.
pub type DenseTree<T> = Tree<T, 5, 4, 3, true>;

impl<T: Value> Tree<T> {
    /// An empty 5-4-3 tree with the given background value (OpenVDB `FloatTree(bg)`).
    ///
    /// ```
    /// # use sparsevdb_tree::Tree;
    /// let t: Tree<f32> = Tree::new(0.5);
    /// assert_eq!(t.background(), 0.5);
    /// assert!(t.is_empty());
    /// ```
    pub fn new(background: T) -> Self {
        Self::with_background(background)
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Default
    for Tree<T, L2, L1, L0, D>
{
    fn default() -> Self {
        Self::with_background(T::default())
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Tree<T, L2, L1, L0, D> {
    /// An empty tree of any configuration with the given background.
    ///
    /// ```
    /// # use sparsevdb_tree::Tree;
    /// let t = Tree::<i32, 6, 5, 3>::with_background(7);
    /// assert_eq!(t.background(), 7);
    /// ```
    pub fn with_background(background: T) -> Self {
        Tree {
            root: RootNode::new(background),
        }
    }

    /// The root node (read-only).
    pub fn root(&self) -> &RootNode<UpperNode<T, L2, L1, L0, D>> {
        &self.root
    }

    // ---- writes ----------------------------------------------------------------------

    /// Sets the value at `c` and marks it active (OpenVDB `setValue` / `setValueOn`).
    ///
    /// Densifies a tile only if the tile is inactive or holds another value.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(0, 0, 0), 3.0);
    /// assert!(t.is_value_on(Coord::new(0, 0, 0)));
    /// ```
    #[inline]
    pub fn set_value(&mut self, c: Coord, v: T) {
        self.root.set_value_on(c, v);
    }

    /// Sets the value at `c` and marks it inactive (OpenVDB `setValueOff(xyz, value)`).
    ///
    /// Writing the background into an empty region, or a tile's own value into an
    /// inactive tile, changes nothing and allocates nothing.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value_off(Coord::new(0, 0, 0), 3.0);
    /// assert_eq!(t.probe_value(Coord::new(0, 0, 0)), (3.0, false));
    /// t.set_value_off(Coord::new(9000, 0, 0), 0.0);
    /// assert_eq!(t.leaf_count(), 1);
    /// ```
    pub fn set_value_off(&mut self, c: Coord, v: T) {
        self.root.set_value_off(c, v);
    }

    /// Sets the value at `c` and leaves its active state unchanged (OpenVDB
    /// `setValueOnly`). Densifies a tile only if the value differs.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value_only(Coord::new(1, 1, 1), 2.0);
    /// assert_eq!(t.probe_value(Coord::new(1, 1, 1)), (2.0, false));
    /// ```
    pub fn set_value_only(&mut self, c: Coord, v: T) {
        self.root.set_value_only(c, v);
    }

    /// Sets the active state at `c`, keeping its value (OpenVDB `setActiveState`).
    /// Densifies a tile only if the state differs.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_active(Coord::new(1, 1, 1), true);
    /// assert_eq!(t.probe_value(Coord::new(1, 1, 1)), (0.0, true));
    /// ```
    pub fn set_active(&mut self, c: Coord, on: bool) {
        self.root.set_active(c, on);
    }

    /// Applies `f` to the value at `c` and marks it active (OpenVDB `modifyValue`).
    ///
    /// In an active tile, `f` runs on a copy of the tile value; the tile is densified
    /// only if the result differs.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(1.0);
    /// t.modify_value(Coord::new(0, 0, 0), |v| *v += 2.0);
    /// assert_eq!(t.probe_value(Coord::new(0, 0, 0)), (3.0, true));
    /// ```
    pub fn modify_value<F: FnOnce(&mut T)>(&mut self, c: Coord, f: F) {
        self.root.modify_value(c, f);
    }

    /// Fills the inclusive box with `v` and state `active` (OpenVDB `fill` /
    /// `sparseFill`): slots the box covers whole become tiles (replacing any children
    /// there), partly covered slots are densified and filled voxel by voxel. Never
    /// prunes. An empty (inverted) box does nothing. Unlike OpenVDB 10, a box touching
    /// `i32::MAX` terminates and is filled correctly.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(9, 7, 7)), 1.0, true);
    /// assert_eq!(t.active_voxel_count(), 640);
    /// assert_eq!(t.active_tile_count(), 1, "x in 0..=7 covers a whole leaf slot: a tile");
    /// assert_eq!(t.leaf_count(), 1, "x in 8..=9 is a partial leaf");
    /// ```
    pub fn fill(&mut self, bbox: &CoordBBox, v: T, active: bool) {
        self.root.fill(bbox, v, active, false);
    }

    /// Fills the inclusive box at voxel level: every touched slot is densified down to
    /// the leaves, no tile is created (OpenVDB `denseFill`). Never prunes.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.dense_fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(15, 15, 15)), 1.0, true);
    /// assert_eq!(t.leaf_count(), 8);
    /// assert_eq!(t.active_tile_count(), 0);
    /// ```
    pub fn dense_fill(&mut self, bbox: &CoordBBox, v: T, active: bool) {
        self.root.fill(bbox, v, active, true);
    }

    // ---- reads -----------------------------------------------------------------------

    /// The value at `c` (the background where nothing is stored).
    #[inline]
    pub fn get_value(&self, c: Coord) -> T {
        self.root.get_value(c)
    }

    /// The active state at `c`.
    #[inline]
    pub fn is_value_on(&self, c: Coord) -> bool {
        self.root.probe_value(c).1
    }

    /// Value and active state at `c` (OpenVDB `probeValue`).
    #[inline]
    pub fn probe_value(&self, c: Coord) -> (T, bool) {
        self.root.probe_value(c)
    }

    /// Where the value at `c` lives (OpenVDB `getValueDepth`): -1 background, 0 root
    /// tile, 1 upper-internal tile, 2 lower-internal tile, 3 leaf voxel.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// assert_eq!(t.value_depth(Coord::new(0, 0, 0)), -1);
    /// t.set_value(Coord::new(0, 0, 0), 1.0);
    /// assert_eq!(t.value_depth(Coord::new(0, 0, 0)), 3);
    /// assert_eq!(t.value_depth(Coord::new(8, 0, 0)), 2);
    /// assert_eq!(t.value_depth(Coord::new(128, 0, 0)), 1);
    /// ```
    pub fn value_depth(&self, c: Coord) -> i32 {
        self.root.value_depth(c)
    }

    // ---- structure -------------------------------------------------------------------

    /// OpenVDB `tools::prune(tree, tol)`: bottom-up, every node whose values all share
    /// one active state and satisfy `max − min <= tol` (no child left) collapses into a
    /// tile holding the node's *lower median* value; cascades upward; finally inactive
    /// root tiles approx-equal to the background are erased.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.dense_fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(7, 7, 7)), 1.0, true);
    /// t.set_value(Coord::new(0, 0, 0), 1.25);
    /// t.prune(0.0);
    /// assert_eq!(t.leaf_count(), 1);
    /// t.prune(0.5);
    /// assert_eq!(t.leaf_count(), 0);
    /// assert_eq!(t.get_value(Coord::new(0, 0, 0)), 1.0, "the lower median");
    /// ```
    pub fn prune(&mut self, tol: T) {
        self.root.prune_tolerance(tol);
    }

    /// OpenVDB `tools::pruneInactive`: every node with no active value and no child
    /// becomes an inactive tile of the background; background root tiles are erased.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value_off(Coord::new(0, 0, 0), 5.0);
    /// t.prune_inactive();
    /// assert!(t.is_empty());
    /// ```
    pub fn prune_inactive(&mut self) {
        let bg = self.background();
        self.root.prune_inactive(bg);
    }

    /// OpenVDB `tools::pruneInactiveWithValue`: like [`prune_inactive`](Self::prune_inactive)
    /// but the new tiles take `v`.
    pub fn prune_inactive_with_value(&mut self, v: T) {
        self.root.prune_inactive(v);
    }

    /// OpenVDB `voxelizeActiveTiles`: every active tile becomes leaves of active voxels.
    /// Beware root tiles: each covers `2^(3·(L2+L1+L0))` voxels.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(127, 127, 127)), 1.0, true);
    /// t.voxelize_active_tiles();
    /// assert_eq!(t.leaf_count(), 16 * 16 * 16);
    /// assert_eq!(t.active_tile_count(), 0);
    /// ```
    pub fn voxelize_active_tiles(&mut self) {
        self.root.voxelize_active_tiles();
    }

    /// OpenVDB `clip`: every voxel outside `bbox` becomes the background, inactive
    /// (tiles straddling the border are split); then the tree is pruned with
    /// OpenVDB's node `prune()` (tolerance zero, first-value rule), which also erases
    /// background root tiles.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(99, 99, 99)), 1.0, true);
    /// t.clip(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(9, 9, 9)));
    /// assert_eq!(t.active_voxel_count(), 1000);
    /// ```
    pub fn clip(&mut self, bbox: &CoordBBox) {
        self.root.clip(bbox);
    }

    /// The background value.
    #[inline]
    pub fn background(&self) -> T {
        self.root.background()
    }

    /// Changes the background (OpenVDB `setBackground`): inactive values (voxels and
    /// tiles) approx-equal to the old background become the new one, and those
    /// approx-equal to −old become −new. Active values are untouched.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(1.0);
    /// t.set_value_off(Coord::new(0, 0, 0), -1.0);
    /// t.set_value(Coord::new(0, 0, 1), 1.0);
    /// t.set_background(3.0);
    /// assert_eq!(t.get_value(Coord::new(0, 0, 0)), -3.0);
    /// assert_eq!(t.get_value(Coord::new(0, 0, 1)), 1.0);
    /// assert_eq!(t.get_value(Coord::new(0, 0, 2)), 3.0);
    /// ```
    pub fn set_background(&mut self, v: T) {
        self.root.set_background(v);
    }

    /// True when the tree holds nothing but background tiles (OpenVDB `empty`).
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Removes every node and tile; the background stays.
    pub fn clear(&mut self) {
        self.root.clear();
    }

    /// Packs every node as tightly as its contents allow, without changing any value
    /// or state: leaves take their packed form where they can
    /// ([`LeafNode::compact`]), leaves with a few active voxels become *tiny leaves*
    /// stored inside their lower node (decision 0011), spare capacity is dropped.
    /// Writes keep a tree compact on their own; this undoes what
    /// [`leaves_mut`](Tree::leaves_mut) and dense-form edits leave behind.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 2, 3), 1.0);
    /// let small = t.mem_usage();
    /// for leaf in t.leaves_mut() {
    ///     leaf.make_dense();
    /// }
    /// assert!(t.mem_usage() > small + 1024);
    /// t.compact();
    /// assert!(t.mem_usage() <= small);
    /// assert_eq!(t.probe_value(Coord::new(1, 2, 3)), (1.0, true));
    /// ```
    pub fn compact(&mut self) {
        self.lower_nodes_mut().for_each(|lower| lower.compact());
    }

    /// Every lower internal node, mutably (where tiny leaves live).
    pub(crate) fn lower_nodes_mut(&mut self) -> impl Iterator<Item = &mut LowerNode<T, L1, L0, D>> {
        self.root
            .children_mut()
            .flat_map(|upper| upper.children_mut())
    }

    /// Turns every tiny leaf into a leaf object (what code that needs `&mut
    /// LeafNode` for every leaf requires first); [`compact`](Tree::compact) undoes it.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 2, 3), 1.0);
    /// assert!(t.leaves().all(|l| l.is_tiny()));
    /// t.promote_tiny_leaves();
    /// assert!(t.leaves().all(|l| !l.is_tiny()));
    /// ```
    pub fn promote_tiny_leaves(&mut self) {
        self.lower_nodes_mut()
            .for_each(|lower| lower.promote_tiny_leaves());
    }

    /// Bytes held by the tree: its structs and every heap buffer of every node.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// let empty = t.mem_usage();
    /// t.set_value(Coord::new(0, 0, 0), 1.0);
    /// assert!(t.mem_usage() > empty);
    /// ```
    pub fn mem_usage(&self) -> usize {
        core::mem::size_of::<Self>() - core::mem::size_of_val(&self.root) + self.root.mem_usage()
    }

    // ---- counts and bounds -----------------------------------------------------------

    /// Active voxels; each active tile counts the voxels it covers (saturating).
    pub fn active_voxel_count(&self) -> u64 {
        self.root.on_voxel_count()
    }

    /// Inactive voxels; inactive tiles count their volume, internal tiles equal to the
    /// background included, root background tiles excluded (as OpenVDB).
    pub fn inactive_voxel_count(&self) -> u64 {
        self.root.off_voxel_count()
    }

    /// Active voxels stored in leaves (tiles excluded).
    pub fn active_leaf_voxel_count(&self) -> u64 {
        self.root.on_leaf_voxel_count()
    }

    /// Inactive voxels stored in leaves.
    pub fn inactive_leaf_voxel_count(&self) -> u64 {
        self.root.off_leaf_voxel_count()
    }

    /// Active tiles at every level, the root's included.
    pub fn active_tile_count(&self) -> u64 {
        self.root.on_tile_count()
    }

    /// Number of leaf nodes.
    pub fn leaf_count(&self) -> usize {
        self.root.leaf_count()
    }

    /// Number of internal nodes, the root included.
    pub fn non_leaf_count(&self) -> usize {
        self.root.non_leaf_count()
    }

    /// The bounding box of all active voxels and active tiles (OpenVDB
    /// `evalActiveVoxelBoundingBox`), or `None` when nothing is active.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 2, 3), 1.0);
    /// t.set_value(Coord::new(-4, 5, 6), 1.0);
    /// assert_eq!(t.eval_active_bbox(), Some(CoordBBox::new(Coord::new(-4, 2, 3), Coord::new(1, 5, 6))));
    /// ```
    pub fn eval_active_bbox(&self) -> Option<CoordBBox> {
        self.root.eval_active_bbox(true)
    }

    /// OpenVDB `evalLeafBoundingBox`: the box of every leaf holding an active voxel
    /// (whole leaves) and every active tile, or `None`.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(1, 2, 3), 1.0);
    /// assert_eq!(t.eval_leaf_bbox(), Some(CoordBBox::new(Coord::new(0, 0, 0), Coord::new(7, 7, 7))));
    /// ```
    pub fn eval_leaf_bbox(&self) -> Option<CoordBBox> {
        self.root.eval_active_bbox(false)
    }

    /// Checks every structural invariant (masks agree with the tables, origins are
    /// aligned, no slot is both a child and an active tile, the root index is
    /// consistent). For tests and fuzzing.
    #[doc(hidden)]
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.root.validate()
    }
}

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> PartialEq
    for Tree<T, L2, L1, L0, D>
{
    /// Two trees are equal when they have the same background and the same nodes,
    /// tiles, values and states (structural equality, like OpenVDB `hasSameTopology`
    /// plus values).
    fn eq(&self, other: &Self) -> bool {
        if self.background() != other.background() {
            return false;
        }
        let a: Vec<_> = self.iter_all().collect();
        let b: Vec<_> = other.iter_all().collect();
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;

    #[test]
    fn constants_follow_children() {
        type U = UpperNode<f32>;
        type L = LowerNode<f32>;
        assert_eq!(U::TOTAL, 12);
        assert_eq!(U::LEVEL, 2);
        assert_eq!(U::DIM, 4096);
        assert_eq!(U::NUM_VALUES, 32768);
        assert_eq!(L::TOTAL, 7);
        assert_eq!(L::NUM_VOXELS, 128 * 128 * 128);
        assert_eq!(LeafNode::<f32, 3>::NUM_VALUES, 512);
        assert_eq!(RootNode::<U>::LEVEL, 3);
    }

    #[test]
    fn writing_same_value_into_active_tile_does_not_densify() {
        let mut t: Tree<f32> = Tree::new(0.0);
        let b = CoordBBox::new(Coord::new(0, 0, 0), Coord::new(4095, 4095, 4095));
        t.fill(&b, 1.0, true);
        assert_eq!(t.non_leaf_count(), 1);
        t.set_value(Coord::new(5, 5, 5), 1.0);
        t.set_active(Coord::new(5, 5, 5), true);
        t.set_value_only(Coord::new(5, 5, 5), 1.0);
        t.modify_value(Coord::new(5, 5, 5), |v| *v *= 1.0);
        assert_eq!(t.non_leaf_count(), 1);
        t.set_value_off(Coord::new(5, 5, 5), 1.0);
        assert_eq!(t.leaf_count(), 1);
        assert_eq!(t.value_depth(Coord::new(5, 5, 5)), 3);
        t.validate().unwrap();
    }

    #[test]
    fn set_value_only_outside_creates_a_top_node_like_openvdb() {
        let mut t: Tree<f32> = Tree::new(0.0);
        t.set_value_only(Coord::new(5, 5, 5), 0.0);
        assert_eq!(
            t.non_leaf_count(),
            2,
            "root + one upper node, no lower node"
        );
        assert_eq!(t.leaf_count(), 0);
        t.set_value_off(Coord::new(9000, 0, 0), 0.0);
        assert_eq!(
            t.non_leaf_count(),
            2,
            "setValueOff(bg) outside creates nothing"
        );
        t.validate().unwrap();
    }

    #[test]
    fn clip_through_background_tiles_builds_nothing() {
        let mut t: Tree<f32> = Tree::new(0.0);
        t.set_value(Coord::new(1, 1, 1), 1.0);
        t.set_value(Coord::new(-1, 7, 100), 2.0);
        t.clip(&CoordBBox::new(Coord::new(-3, -3, -3), Coord::new(3, 3, 3)));
        assert_eq!(t.active_voxel_count(), 1);
        assert_eq!(t.leaf_count(), 1);
        // One upper and one lower node: the background tiles crossed by the clip box's
        // faces were not refilled.
        assert_eq!(t.non_leaf_count(), 3);
        t.validate().unwrap();
    }

    #[test]
    fn fill_at_i32_max_terminates() {
        let mut t: Tree<f32> = Tree::new(0.0);
        let b = CoordBBox::new(Coord::splat(i32::MAX - 9), Coord::MAX);
        t.fill(&b, 2.0, true);
        assert_eq!(t.active_voxel_count(), 1000);
        assert_eq!(t.get_value(Coord::MAX), 2.0);
        assert_eq!(t.eval_active_bbox(), Some(b));
        t.validate().unwrap();
    }
}
