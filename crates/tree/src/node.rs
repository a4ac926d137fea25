//! The [`Node`] trait: what every level of the tree (leaf and internal nodes) offers
//! to the level above it. Constants are derived from the child type, as in OpenVDB
//! (`TOTAL = LOG2DIM + Child::TOTAL`, `LEVEL = 1 + Child::LEVEL`).

use crate::{Coord, CoordBBox, Value};

/// Why [`validate`](crate::Tree::validate) rejected a tree: the first broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Origin of the offending node.
    pub origin: Coord,
    /// Level of the offending node (0 leaf, 1 lower internal, 2 upper internal, 3 root).
    pub level: u32,
    /// What is wrong.
    pub what: String,
}

impl core::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "invalid node at {} (level {}): {}",
            self.origin, self.level, self.what
        )
    }
}

impl std::error::Error for ValidationError {}

/// A node of the tree below the root: a [`LeafNode`](crate::LeafNode) or an
/// [`InternalNode`](crate::InternalNode). Users rarely call these methods directly:
/// [`Tree`](crate::Tree) wraps them with OpenVDB's semantics.
///
/// Coordinates passed to the per-voxel methods must lie inside the node
/// (`c.mask(!(DIM - 1)) == origin`); the tree guarantees that.
pub trait Node: Clone + Send + Sync + Sized + 'static {
    /// The voxel value type.
    type Value: Value;

    /// Whether nodes of this type may be kept as *tiny leaves* inside their parent
    /// (the leaves of an adaptive tree; decision 0011). An implementation detail of
    /// the tree's storage, not part of the node interface.
    #[doc(hidden)]
    const TINY: bool = false;
    /// The voxel offset of `c` inside a node of this type (tiny leaves only).
    #[doc(hidden)]
    #[inline(always)]
    fn local_offset(_c: Coord) -> usize {
        0
    }
    /// The node equal to a tiny leaf: active voxels at `offsets` with `values`, every
    /// other voxel inactive with `inactive` (tiny leaves only).
    #[doc(hidden)]
    fn from_tiny(
        origin: Coord,
        offsets: &[u16],
        values: &[Self::Value],
        inactive: Self::Value,
    ) -> Self {
        let _ = (offsets, values);
        Self::new_filled(origin, inactive, false)
    }
    /// Drops the spare capacity writes grew in this node's value storage (a packed
    /// leaf's buffer) when it exceeds a few values; values and states are unchanged.
    #[doc(hidden)]
    fn trim_spare(&mut self) {}
    /// A new node next to `neighbour` takes over how it starts new leaves (a lower
    /// node whose writes outgrew the tiny form starts them as objects).
    #[doc(hidden)]
    fn inherit_leaf_start(&mut self, neighbour: &Self) {
        let _ = neighbour;
    }
    /// See the method of the same name on the concrete node types.
    #[doc(hidden)]
    fn compact_node(&mut self) {}
    /// The tiny-leaf form of this node when it has at most `max` active voxels and
    /// uniform inactive values (tiny leaves only): pushes the active voxels'
    /// offsets (ascending) and values to `offsets` and `values` and returns the
    /// inactive value; `None` (pushing nothing) otherwise.
    #[doc(hidden)]
    fn tiny_parts(
        &self,
        max: usize,
        offsets: &mut Vec<u16>,
        values: &mut Vec<Self::Value>,
    ) -> Option<Self::Value> {
        let _ = (max, offsets, values);
        None
    }
    /// log2 of the number of slots along one axis of this node.
    const LOG2DIM: u32;
    /// log2 of the number of voxels along one axis of this node.
    const TOTAL: u32;
    /// Voxels along one axis (`1 << TOTAL`).
    const DIM: i64 = 1i64 << Self::TOTAL;
    /// Slots (values or children) in this node: `1 << (3 * LOG2DIM)`.
    const NUM_VALUES: usize = 1usize << (3 * Self::LOG2DIM);
    /// Voxels covered by this node: `DIM³`.
    const NUM_VOXELS: u64 = 1u64 << (3 * Self::TOTAL);
    /// Height above the leaves (0 for a leaf).
    const LEVEL: u32;

    /// A node whose every voxel holds `value` with state `active`; `origin` is aligned
    /// down to the node grid.
    fn new_filled(origin: Coord, value: Self::Value, active: bool) -> Self;
    /// The node's origin (its minimum corner).
    fn origin(&self) -> Coord;
    /// The node's box: `origin ..= origin + DIM − 1` (never overflows).
    fn node_bbox(&self) -> CoordBBox {
        node_bbox(self.origin(), Self::TOTAL)
    }

    /// The value at `c`.
    fn get_value(&self, c: Coord) -> Self::Value;
    /// The active state at `c`.
    fn is_value_on(&self, c: Coord) -> bool;
    /// Value and active state at `c`.
    fn probe_value(&self, c: Coord) -> (Self::Value, bool);
    /// OpenVDB `getValueLevel`: the level of the node holding `c`'s value (0 = leaf voxel).
    fn value_level(&self, c: Coord) -> u32;

    /// Value `v`, active.
    fn set_value_on(&mut self, c: Coord, v: Self::Value);
    /// Value `v`, inactive.
    fn set_value_off(&mut self, c: Coord, v: Self::Value);
    /// Value `v`, state unchanged.
    fn set_value_only(&mut self, c: Coord, v: Self::Value);
    /// State only.
    fn set_active(&mut self, c: Coord, on: bool);
    /// Apply `f` to the value at `c` and activate it.
    fn modify_value<F: FnOnce(&mut Self::Value)>(&mut self, c: Coord, f: F);

    /// Sparse fill of `bbox ∩ node` with tiles where whole slots are covered.
    fn fill(&mut self, bbox: &CoordBBox, v: Self::Value, active: bool);
    /// Fill of `bbox ∩ node` at voxel level.
    fn dense_fill(&mut self, bbox: &CoordBBox, v: Self::Value, active: bool);

    /// `tools::prune` (TolerancePruneOp): prune children bottom-up, then report whether
    /// this node is constant within `tol` (`max − min <= tol`, one active state) and,
    /// if so, its lower-median value.
    fn prune_tolerance(&mut self, tol: Self::Value) -> Option<(Self::Value, bool)>;
    /// `Node::prune` (as called by clip): prune children bottom-up, then report whether
    /// every value approx-equals the first one within `tol` (and one active state);
    /// the tile takes the first value.
    fn prune_first_value(&mut self, tol: Self::Value) -> Option<(Self::Value, bool)>;
    /// `tools::pruneInactive`: children with no active value become inactive tiles of
    /// `value`; returns true when this node itself has no active value and no child.
    fn prune_inactive(&mut self, value: Self::Value) -> bool;
    /// Replace every active tile by a child of active voxels, recursively.
    fn voxelize_active_tiles(&mut self);
    /// Set everything outside `clip` to the background, inactive (OpenVDB `clip`).
    fn clip(&mut self, clip: &CoordBBox, background: Self::Value);
    /// Inactive values approx-equal to `old` become `new`, those approx-equal to `−old`
    /// become `−new` (OpenVDB `resetBackground`).
    fn reset_background(&mut self, old: Self::Value, new: Self::Value);

    /// Active voxels, tiles counting their volume.
    fn on_voxel_count(&self) -> u64;
    /// Inactive voxels, tiles counting their volume.
    fn off_voxel_count(&self) -> u64;
    /// Active voxels stored in leaves.
    fn on_leaf_voxel_count(&self) -> u64;
    /// Inactive voxels stored in leaves.
    fn off_leaf_voxel_count(&self) -> u64;
    /// Active tiles at this level and below.
    fn on_tile_count(&self) -> u64;
    /// Leaves at or below this node.
    fn leaf_count(&self) -> usize;
    /// Internal nodes at or below this node (this one included).
    fn non_leaf_count(&self) -> usize;
    /// OpenVDB `evalActiveBoundingBox(bbox, visit_voxels)`: grows `bbox` by every active
    /// tile (whole) and, for leaves with an active voxel, by those voxels
    /// (`visit_voxels`) or by the leaf's whole box (`!visit_voxels`).
    fn eval_active_bbox(&self, bbox: &mut CoordBBox, visit_voxels: bool);
    /// Bytes held by this node: the struct and its heap buffers, children included.
    fn mem_usage(&self) -> usize;
    /// Checks every structural invariant of this node and its descendants.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// The box of the node of side `2^total` with origin `origin`, clamped so that it never
/// overflows (origins are aligned, so it never actually needs to clamp).
#[inline]
pub(crate) fn node_bbox(origin: Coord, total: u32) -> CoordBBox {
    let ext = |v: i32| -> i32 { (v as i64 + (1i64 << total) - 1).min(i32::MAX as i64) as i32 };
    CoordBBox::new(
        origin,
        Coord::new(ext(origin.x), ext(origin.y), ext(origin.z)),
    )
}

/// Lower median (OpenVDB `medianAll` / `nth_element` at `(n − 1) / 2`) of `values`,
/// comparing with `<` (incomparable values such as NaN count as equal).
pub(crate) fn lower_median<T: Value>(values: &mut [T]) -> T {
    let mid = (values.len() - 1) >> 1;
    let (_, m, _) = values.select_nth_unstable_by(mid, |a, b| {
        if T::less_than(*a, *b) {
            core::cmp::Ordering::Less
        } else if T::less_than(*b, *a) {
            core::cmp::Ordering::Greater
        } else {
            core::cmp::Ordering::Equal
        }
    });
    *m
}

/// OpenVDB's `isConstant(min, max, state, tol)` value scan: false as soon as the
/// spread exceeds `tol`.
pub(crate) fn within_tolerance<T: Value>(mut it: impl Iterator<Item = T>, tol: T) -> bool {
    let Some(first) = it.next() else { return true };
    let (mut min, mut max) = (first, first);
    for v in it {
        if T::less_than(v, min) {
            if T::exceeds_tolerance(max, v, tol) {
                return false;
            }
            min = v;
        } else if T::less_than(max, v) {
            if T::exceeds_tolerance(v, min, tol) {
                return false;
            }
            max = v;
        }
    }
    true
}

/// OpenVDB's `isApproxEqual(a, b, tol)`: `!(|a − b| > tol)`, written with the
/// ordered difference so that it never overflows.
#[inline]
pub(crate) fn approx_equal_tol<T: Value>(a: T, b: T, tol: T) -> bool {
    if T::less_than(a, b) {
        !T::exceeds_tolerance(b, a, tol)
    } else if T::less_than(b, a) {
        !T::exceeds_tolerance(a, b, tol)
    } else {
        true
    }
}

/// The sub-box of `bbox` along one axis, split into chunks aligned to `2^log2`:
/// yields `(chunk_min, chunk_max)` pairs; terminates at the `i32` extremes (the loop
/// OpenVDB writes as `x = tileMax + 1` overflows at `i32::MAX`).
pub(crate) fn aligned_chunks(lo: i32, hi: i32, log2: u32) -> impl Iterator<Item = (i32, i32)> {
    let mut next = if lo <= hi { Some(lo as i64) } else { None };
    let hi = hi as i64;
    core::iter::from_fn(move || {
        let start = next?;
        let tile_max = (start & !((1i64 << log2) - 1)) + (1i64 << log2) - 1;
        let end = tile_max.min(hi);
        next = if end < hi { Some(end + 1) } else { None };
        Some((start as i32, end as i32))
    })
}
