//! [`LeafNode`]: the bottom level, a dense block of `2^(3·LOG2)` voxels (8³ = 512 by
//! default) with one value and one active bit per voxel (OpenVDB `tree/LeafNode.h`).

use crate::mask::Mask;
use crate::node::{approx_equal_tol, lower_median, within_tolerance, Node, ValidationError};
use crate::{Coord, CoordBBox, Value};

/// A leaf node: `2^LOG2` voxels along each axis, each with a value and an active bit.
///
/// `LOG2` is 1, 2 or 3 (up to 512 voxels, whose mask is stored inline).
///
/// ```
/// use sparsevdb_tree::{Coord, LeafNode, Node};
/// let mut leaf = LeafNode::<f32>::new_filled(Coord::new(9, 9, 9), 0.0, false);
/// assert_eq!(leaf.origin(), Coord::new(8, 8, 8));
/// leaf.set_value_on(Coord::new(9, 10, 11), 2.5);
/// assert_eq!(leaf.probe_value(Coord::new(9, 10, 11)), (2.5, true));
/// assert_eq!(leaf.on_voxel_count(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LeafNode<T, const LOG2: u32 = 3> {
    pub(crate) origin: Coord,
    pub(crate) value_mask: Mask<LOG2>,
    /// The voxel values, inline so that a leaf is one allocation (mask and value of a
    /// voxel are fetched in parallel). Only the first `NUM_VALUES` are used; that is
    /// all of them for the standard `LOG2 = 3`.
    pub(crate) values: [T; MAX_LEAF_VALUES],
}

/// Capacity of a leaf's inline value array: the voxel count of an 8³ leaf.
pub(crate) const MAX_LEAF_VALUES: usize = 512;

impl<T: Value, const LOG2: u32> LeafNode<T, LOG2> {
    const CHECK_LOG2: () = assert!(
        LOG2 >= 1 && (1usize << (3 * LOG2)) <= MAX_LEAF_VALUES,
        "leaf LOG2 must be 1, 2 or 3"
    );
    const DIM_MASK: i32 = (1 << LOG2) - 1;

    /// The leaf's origin (its minimum corner).
    #[inline]
    pub fn origin(&self) -> Coord {
        self.origin
    }

    /// Linear offset of `c` inside the leaf (x-major, z fastest).
    #[inline(always)]
    pub fn coord_to_offset(c: Coord) -> usize {
        (((c.x & Self::DIM_MASK) as usize) << (2 * LOG2))
            | (((c.y & Self::DIM_MASK) as usize) << LOG2)
            | ((c.z & Self::DIM_MASK) as usize)
    }

    /// Local coordinate (each component in `0..DIM`) of linear offset `n`.
    #[inline]
    pub fn offset_to_local(n: usize) -> Coord {
        let m = (1usize << LOG2) - 1;
        Coord::new(
            (n >> (2 * LOG2)) as i32,
            ((n >> LOG2) & m) as i32,
            (n & m) as i32,
        )
    }

    /// Global coordinate of linear offset `n`.
    #[inline]
    pub fn offset_to_global(&self, n: usize) -> Coord {
        let l = Self::offset_to_local(n);
        Coord::new(
            self.origin.x + l.x,
            self.origin.y + l.y,
            self.origin.z + l.z,
        )
    }

    /// The active mask, bit `n` for voxel offset `n`.
    #[inline]
    pub fn value_mask(&self) -> &Mask<LOG2> {
        &self.value_mask
    }

    /// All voxel values in offset order.
    #[inline]
    pub fn values(&self) -> &[T] {
        &self.values[..Self::NUM_VALUES]
    }

    /// All voxel values in offset order, mutably (states are not changed).
    #[inline]
    pub fn values_mut(&mut self) -> &mut [T] {
        &mut self.values[..Self::NUM_VALUES]
    }

    /// Value at offset `n`.
    #[inline]
    pub fn value_at(&self, n: usize) -> T {
        self.values[n]
    }

    /// Active state at offset `n`.
    #[inline]
    pub fn is_on_at(&self, n: usize) -> bool {
        self.value_mask.is_on(n)
    }

    /// Sets value and state at offset `n`.
    #[inline]
    pub fn set_at(&mut self, n: usize, v: T, on: bool) {
        self.values[n] = v;
        self.value_mask.set(n, on);
    }

    /// Sets the active state at offset `n`.
    #[inline]
    pub fn set_active_at(&mut self, n: usize, on: bool) {
        self.value_mask.set(n, on);
    }

    /// Number of active voxels.
    #[inline]
    pub fn active_count(&self) -> usize {
        self.value_mask.count_on()
    }

    /// Sets every voxel to `v` with state `active` (OpenVDB `LeafNode::fill(v, active)`).
    pub fn fill_all(&mut self, v: T, active: bool) {
        self.values.fill(v);
        self.value_mask.set_all(active);
    }

    /// Iterates over `(offset, value)` of the active voxels.
    pub fn iter_on(&self) -> impl Iterator<Item = (usize, T)> + '_ {
        self.value_mask.iter_on().map(move |n| (n, self.values[n]))
    }

    /// True when no voxel is active (OpenVDB `isInactive`).
    pub fn is_inactive(&self) -> bool {
        self.value_mask.is_all_off()
    }

    fn clipped(&self, bbox: &CoordBBox) -> CoordBBox {
        self.node_bbox().intersection(bbox)
    }

    fn for_each_in(&mut self, b: &CoordBBox, mut f: impl FnMut(&mut Self, usize)) {
        if b.is_empty() {
            return;
        }
        for x in b.min().x as i64..=b.max().x as i64 {
            for y in b.min().y as i64..=b.max().y as i64 {
                for z in b.min().z as i64..=b.max().z as i64 {
                    let n = Self::coord_to_offset(Coord::new(x as i32, y as i32, z as i32));
                    f(self, n);
                }
            }
        }
    }
}

impl<T: Value, const LOG2: u32> Node for LeafNode<T, LOG2> {
    type Value = T;
    const LOG2DIM: u32 = LOG2;
    const TOTAL: u32 = LOG2;
    const LEVEL: u32 = 0;

    fn new_filled(origin: Coord, value: T, active: bool) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK_LOG2;
        LeafNode {
            origin: origin.mask(!Self::DIM_MASK),
            value_mask: Mask::new(active),
            values: [value; MAX_LEAF_VALUES],
        }
    }

    #[inline]
    fn origin(&self) -> Coord {
        self.origin
    }

    #[inline]
    fn get_value(&self, c: Coord) -> T {
        self.values[Self::coord_to_offset(c)]
    }

    #[inline]
    fn is_value_on(&self, c: Coord) -> bool {
        self.value_mask.is_on(Self::coord_to_offset(c))
    }

    #[inline]
    fn probe_value(&self, c: Coord) -> (T, bool) {
        let n = Self::coord_to_offset(c);
        (self.values[n], self.value_mask.is_on(n))
    }

    #[inline]
    fn value_level(&self, _c: Coord) -> u32 {
        0
    }

    #[inline]
    fn set_value_on(&mut self, c: Coord, v: T) {
        self.set_at(Self::coord_to_offset(c), v, true);
    }

    #[inline]
    fn set_value_off(&mut self, c: Coord, v: T) {
        self.set_at(Self::coord_to_offset(c), v, false);
    }

    #[inline]
    fn set_value_only(&mut self, c: Coord, v: T) {
        self.values[Self::coord_to_offset(c)] = v;
    }

    #[inline]
    fn set_active(&mut self, c: Coord, on: bool) {
        self.value_mask.set(Self::coord_to_offset(c), on);
    }

    #[inline]
    fn modify_value<F: FnOnce(&mut T)>(&mut self, c: Coord, f: F) {
        let n = Self::coord_to_offset(c);
        f(&mut self.values[n]);
        self.value_mask.set_on(n);
    }

    fn fill(&mut self, bbox: &CoordBBox, v: T, active: bool) {
        let b = self.clipped(bbox);
        self.for_each_in(&b, |leaf, n| leaf.set_at(n, v, active));
    }

    fn dense_fill(&mut self, bbox: &CoordBBox, v: T, active: bool) {
        self.fill(bbox, v, active);
    }

    fn prune_tolerance(&mut self, tol: T) -> Option<(T, bool)> {
        let state = self.value_mask.constant_state()?;
        if !within_tolerance(self.values().iter().copied(), tol) {
            return None;
        }
        let mut scratch = self.values().to_vec();
        Some((lower_median(&mut scratch), state))
    }

    fn prune_first_value(&mut self, tol: T) -> Option<(T, bool)> {
        let state = self.value_mask.constant_state()?;
        let first = self.values[0];
        self.values()
            .iter()
            .all(|&v| approx_equal_tol(v, first, tol))
            .then_some((first, state))
    }

    fn prune_inactive(&mut self, _value: T) -> bool {
        self.is_inactive()
    }

    fn voxelize_active_tiles(&mut self) {}

    fn clip(&mut self, clip: &CoordBBox, background: T) {
        let node = self.node_bbox();
        if clip.contains_bbox(&node) {
            return;
        }
        let inside = node.intersection(clip);
        for n in 0..Self::NUM_VALUES {
            let g = self.offset_to_global(n);
            if !inside.contains(g) {
                self.set_at(n, background, false);
            }
        }
    }

    fn reset_background(&mut self, old: T, new: T) {
        let neg_old = T::negative(old);
        let neg_new = T::negative(new);
        let LeafNode {
            value_mask, values, ..
        } = self;
        for n in value_mask.iter_off() {
            let v = &mut values[n];
            if T::is_approx_equal(*v, old) {
                *v = new;
            } else if T::is_approx_equal(*v, neg_old) {
                *v = neg_new;
            }
        }
    }

    fn on_voxel_count(&self) -> u64 {
        self.value_mask.count_on() as u64
    }

    fn off_voxel_count(&self) -> u64 {
        self.value_mask.count_off() as u64
    }

    fn on_leaf_voxel_count(&self) -> u64 {
        self.on_voxel_count()
    }

    fn off_leaf_voxel_count(&self) -> u64 {
        self.off_voxel_count()
    }

    fn on_tile_count(&self) -> u64 {
        0
    }

    fn leaf_count(&self) -> usize {
        1
    }

    fn non_leaf_count(&self) -> usize {
        0
    }

    fn eval_active_bbox(&self, bbox: &mut CoordBBox, visit_voxels: bool) {
        let mut it = self.value_mask.iter_on();
        let Some(first) = it.next() else { return };
        if !visit_voxels {
            *bbox = bbox.union(&self.node_bbox());
            return;
        }
        let mut lo = Self::offset_to_local(first);
        let mut hi = lo;
        for n in it {
            let l = Self::offset_to_local(n);
            lo = lo.min_component(l);
            hi = hi.max_component(l);
        }
        let o = self.origin;
        let shift = |l: Coord| Coord::new(o.x + l.x, o.y + l.y, o.z + l.z);
        *bbox = bbox.union(&CoordBBox::new(shift(lo), shift(hi)));
    }

    fn mem_usage(&self) -> usize {
        core::mem::size_of::<Self>() + self.value_mask.heap_bytes()
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let err = |what: &str| ValidationError {
            origin: self.origin,
            level: 0,
            what: what.to_string(),
        };
        if self.origin.mask(!Self::DIM_MASK) != self.origin {
            return Err(err("origin not aligned to the leaf grid"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type L = LeafNode<f32, 3>;

    #[test]
    fn offsets_round_trip() {
        for n in 0..512 {
            assert_eq!(L::coord_to_offset(L::offset_to_local(n)), n);
        }
        assert_eq!(L::coord_to_offset(Coord::new(1, 0, 0)), 64);
        assert_eq!(L::coord_to_offset(Coord::new(0, 1, 0)), 8);
        assert_eq!(L::coord_to_offset(Coord::new(-1, -1, -1)), 511);
    }

    #[test]
    fn prune_takes_lower_median_within_tolerance() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 1.0, true);
        leaf.set_value_on(Coord::new(0, 0, 0), 1.5);
        assert_eq!(leaf.prune_tolerance(0.0), None);
        assert_eq!(leaf.prune_tolerance(0.5), Some((1.0, true)));
        leaf.set_value_off(Coord::new(0, 0, 1), 1.0);
        assert_eq!(
            leaf.prune_tolerance(1.0),
            None,
            "mixed states never collapse"
        );
    }

    #[test]
    fn lower_median_of_even_count() {
        let mut leaf = LeafNode::<i32, 1>::new_filled(Coord::new(0, 0, 0), 0, false);
        for (n, v) in [5, 1, 4, 2, 8, 7, 3, 6].into_iter().enumerate() {
            leaf.set_at(n, v, false);
        }
        assert_eq!(leaf.prune_tolerance(10), Some((4, false)));
    }

    #[test]
    fn clip_outside_sets_background_inactive() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 3.0, true);
        leaf.clip(
            &CoordBBox::new(Coord::new(0, 0, 0), Coord::new(3, 7, 7)),
            0.0,
        );
        assert_eq!(leaf.on_voxel_count(), 4 * 64);
        assert_eq!(leaf.probe_value(Coord::new(4, 0, 0)), (0.0, false));
    }

    #[test]
    fn reset_background_maps_negatives() {
        let mut leaf = L::new_filled(Coord::new(0, 0, 0), 0.0, false);
        leaf.set_value_off(Coord::new(0, 0, 1), -2.0);
        leaf.set_value_off(Coord::new(0, 0, 2), 2.0);
        leaf.set_value_on(Coord::new(0, 0, 3), 2.0);
        leaf.reset_background(2.0, 5.0);
        assert_eq!(leaf.get_value(Coord::new(0, 0, 1)), -5.0);
        assert_eq!(leaf.get_value(Coord::new(0, 0, 2)), 5.0);
        assert_eq!(
            leaf.get_value(Coord::new(0, 0, 3)),
            2.0,
            "active values stay"
        );
    }
}
