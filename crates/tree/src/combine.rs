//! Value and topology combination of two trees: OpenVDB's `Tree::combineExtended`
//! (and the `tools::compSum` / `compMax` / `compMin` / `compMul` / `compReplace`
//! built on it), `topologyUnion`, `topologyIntersection`, `topologyDifference` and
//! `merge(MERGE_ACTIVE_STATES)`, with the rules of OpenVDB 10.0.1's `RootNode.h`,
//! `InternalNode.h`, `LeafNode.h` and `tools/Composite.h`.
//!
//! One deliberate difference: OpenVDB steals nodes from the other tree and empties it;
//! here every `other: &Tree` is borrowed and left intact (a child OpenVDB would steal
//! is cloned), and [`Tree::merge`] consumes its argument.
//!
//! Implementation: each level implements the crate-private [`Combine`] trait; the root
//! level lives in an `impl RootNode` block below, the public methods on [`Tree`] at the
//! end of the file.

use crate::internal::InternalNode;
use crate::leaf::{LeafNode, PackedView, MAX_LEAF_VALUES};
use crate::mask::Mask;
use crate::node::Node;
use crate::root::{RootNode, RootSlot};
use crate::tiny::{TinyBatch, TINY_MAX};
use crate::{Coord, Tree, Value};

/// The per-level operations of combination, implemented for [`LeafNode`] and, over any
/// child implementing it, for [`InternalNode`].
///
/// `f` is always an *extended* combine operator: `f(a, a_active, b, b_active)` returns
/// `(result, result_active)` (OpenVDB `CombineArgs`).
pub(crate) trait Combine: Node {
    /// OpenVDB's `TopologyCopy` constructor with one value: the topology (children,
    /// active masks) of `other`, every tile and voxel holding `value`.
    fn topology_copy(other: &Self, value: Self::Value) -> Self;

    /// OpenVDB `setValuesOn`: every tile and voxel becomes active, recursively.
    fn set_values_on(&mut self);

    /// OpenVDB `topologyUnion(other, preserveTiles = false)`.
    fn topology_union(&mut self, other: &Self);

    /// OpenVDB `topologyIntersection(other, background)`.
    fn topology_intersection(&mut self, other: &Self, background: Self::Value);

    /// OpenVDB `topologyDifference(other, background)`.
    fn topology_difference(&mut self, other: &Self, background: Self::Value);

    /// OpenVDB `combine(otherNode, op)`: `self`'s values are the A operands.
    fn combine_node<F>(&mut self, other: &Self, f: &mut F)
    where
        F: FnMut(Self::Value, bool, Self::Value, bool) -> (Self::Value, bool);

    /// OpenVDB `combine(value, valueIsActive, op)`: every value of `self` (the A
    /// operand) is combined with the constant B operand `(value, active)`.
    fn combine_tile<F>(&mut self, value: Self::Value, active: bool, f: &mut F)
    where
        F: FnMut(Self::Value, bool, Self::Value, bool) -> (Self::Value, bool);

    /// OpenVDB `merge<MERGE_ACTIVE_STATES>(other, background, otherBackground)` below
    /// the root. Children moved from `other` into an inactive tile of `self` get
    /// `reset_background(reset_old, reset_new)`.
    fn merge_active_states(&mut self, other: Self, reset_old: Self::Value, reset_new: Self::Value);

    /// The second and third passes of `tools::compReplace` on a node whose topology
    /// already contains `other`'s (after [`topology_union`](Combine::topology_union)):
    /// `other`'s active tiles replace whatever `self` holds in their slot, `other`'s
    /// active voxels overwrite `self`'s (value and active state).
    fn replace_active(&mut self, other: &Self);
}

// ---- leaves ------------------------------------------------------------------------

impl<T: Value, const L: u32, const D: bool> Combine for LeafNode<T, L, D> {
    fn topology_copy(other: &Self, value: T) -> Self {
        let mut leaf = Self::new_filled(other.origin, value, false);
        leaf.rewrite(|_, mask| *mask = other.value_mask.clone());
        leaf
    }

    fn set_values_on(&mut self) {
        self.rewrite(|_, mask| mask.set_all(true));
    }

    fn topology_union(&mut self, other: &Self) {
        self.rewrite(|_, mask| mask.union_with(&other.value_mask));
    }

    fn topology_intersection(&mut self, other: &Self, _background: T) {
        self.rewrite(|_, mask| mask.intersect_with(&other.value_mask));
    }

    fn topology_difference(&mut self, other: &Self, _background: T) {
        self.rewrite(|_, mask| mask.subtract(&other.value_mask));
    }

    fn combine_node<F>(&mut self, other: &Self, f: &mut F)
    where
        F: FnMut(T, bool, T, bool) -> (T, bool),
    {
        if self.merge_if_packed(other, f, &mut NoRecycling) {
            return;
        }
        let mut theirs = [T::zeroed(); MAX_LEAF_VALUES];
        other.copy_values_to(&mut theirs);
        let their_mask = &other.value_mask;
        self.rewrite(|values, mask| {
            for (n, v) in values.iter_mut().enumerate() {
                let (r, on) = f(*v, mask.is_on(n), theirs[n], their_mask.is_on(n));
                *v = r;
                mask.set(n, on);
            }
        });
    }

    fn combine_tile<F>(&mut self, value: T, active: bool, f: &mut F)
    where
        F: FnMut(T, bool, T, bool) -> (T, bool),
    {
        if !active {
            if let Some(a) = self.packed_view() {
                // A packed leaf against an inactive tile: as two packed leaves, the
                // tile being one with no active voxel.
                let (r0, on0) = f(a.inactive, false, value, false);
                let none = Mask::new(false);
                let b = PackedView {
                    mask: &none,
                    active: &[],
                    inactive: value,
                };
                let mut scratch = [T::zeroed(); MAX_LEAF_VALUES];
                let result = merge_packed(a, b, r0, on0, f, &mut scratch);
                self.assign_merged(result, &scratch, &mut NoRecycling);
                return;
            }
        }
        self.rewrite(|values, mask| {
            for (n, v) in values.iter_mut().enumerate() {
                let (r, on) = f(*v, mask.is_on(n), value, active);
                *v = r;
                mask.set(n, on);
            }
        });
    }

    fn merge_active_states(&mut self, other: Self, _reset_old: T, _reset_new: T) {
        // Every active voxel of `other` that is inactive here is copied, value and state.
        self.rewrite(|values, mask| {
            for (n, v) in other.iter_on() {
                if mask.is_off(n) {
                    values[n] = v;
                    mask.set_on(n);
                }
            }
        });
    }

    fn replace_active(&mut self, other: &Self) {
        self.rewrite(|values, mask| {
            for (n, v) in other.iter_on() {
                values[n] = v;
                mask.set_on(n);
            }
        });
    }
}

impl<T: Value, const L: u32, const D: bool> LeafNode<T, L, D> {
    /// Combines every voxel with the corresponding voxel of `other`:
    /// `(value, active) = f(a, a_active, b, b_active)` — the leaf level of
    /// [`Tree::combine_extended`], with its fast paths: where both leaves are packed,
    /// `f` runs once for all the voxels inactive in both (identical inputs) and then
    /// per voxel active in either, in offset order; otherwise once per voxel. The
    /// result takes whichever form suits it (decision 0009).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut a = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// let mut b = a.clone();
    /// a.set_at(1, 2.0, true);
    /// b.set_at(1, 3.0, true);
    /// b.set_at(2, 4.0, true);
    /// a.combine_extended_with(&b, |x, xo, y, yo| (x + y, xo || yo));
    /// assert_eq!(a.probe_at(1), (5.0, true));
    /// assert_eq!(a.probe_at(2), (4.0, true));
    /// assert_eq!(a.probe_at(3), (0.0, false));
    /// ```
    pub fn combine_extended_with<F>(&mut self, other: &Self, mut f: F)
    where
        F: FnMut(T, bool, T, bool) -> (T, bool),
    {
        self.combine_node(other, &mut f);
    }

    /// [`combine_extended_with`](Self::combine_extended_with) recycling value buffers:
    /// where both leaves are packed and the result is packed, its active values go
    /// into this leaf's own buffer when that one's capacity fits them (at most 16
    /// spare bytes), else into the buffer `take(lo, hi)` returns (it must have a
    /// capacity in `lo..=hi`; it is cleared before use), else into a new exact-size
    /// one; a buffer this leaf no longer uses is handed to `give`. The values and
    /// states are those of `combine_extended_with`, bit for bit; only where the
    /// buffers come from differs (fewer allocations and frees when many leaves are
    /// combined in a row, e.g. all the leaves of a lower node).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, LeafNode, Node};
    /// let mut a = LeafNode::<f32>::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// let mut b = a.clone();
    /// a.set_at(1, 2.0, true);
    /// a.set_at(2, 0.0, true);
    /// a.compact(); // an exact-size buffer
    /// b.set_at(1, 3.0, true);
    /// b.set_at(2, 4.0, true);
    /// let mut spare: Vec<Vec<f32>> = Vec::new();
    /// a.combine_extended_with_buffers(
    ///     &b,
    ///     |x, xo, y, yo| (x + y, xo || yo),
    ///     |_, _| None,
    ///     |v| spare.push(v),
    /// );
    /// assert_eq!(a.probe_at(1), (5.0, true));
    /// assert_eq!(a.probe_at(2), (4.0, true));
    /// // `a`'s buffer holds the two values: no buffer was given back.
    /// assert!(spare.is_empty());
    /// for n in 3..40 {
    ///     b.set_at(n, 1.0, true);
    /// }
    /// a.combine_extended_with_buffers(&b, |x, xo, y, yo| (x + y, xo || yo), |_, _| None, |v| spare.push(v));
    /// assert_eq!(a.probe_at(39), (1.0, true));
    /// // Too small for 39 values: `a`'s old buffer was given back.
    /// assert_eq!(spare.len(), 1);
    /// ```
    pub fn combine_extended_with_buffers<F>(
        &mut self,
        other: &Self,
        mut f: F,
        take: impl FnMut(usize, usize) -> Option<Vec<T>>,
        give: impl FnMut(Vec<T>),
    ) where
        F: FnMut(T, bool, T, bool) -> (T, bool),
    {
        if !self.merge_if_packed(other, &mut f, &mut Buffers { take, give }) {
            self.combine_node(other, &mut f);
        }
    }

    /// When both leaves are packed, combines them over the union of their masks
    /// (`f` runs on the voxels active in either leaf, and once for all the others:
    /// inactive in both, so the same inputs everywhere), taking and giving value
    /// buffers through `spare`; returns whether it did.
    fn merge_if_packed<F, R>(&mut self, other: &Self, f: &mut F, spare: &mut R) -> bool
    where
        F: FnMut(T, bool, T, bool) -> (T, bool),
        R: Recycle<T>,
    {
        let (Some(a), Some(b)) = (self.packed_view(), other.packed_view()) else {
            return false;
        };
        let (r0, on0) = f(a.inactive, false, b.inactive, false);
        let mut scratch = [T::zeroed(); MAX_LEAF_VALUES];
        let result = merge_packed(a, b, r0, on0, f, &mut scratch);
        self.assign_merged(result, &scratch, spare);
        true
    }
}

/// Where a combination's packed leaves get their value buffers and put the ones
/// they no longer use (see [`LeafNode::assign_merged`]).
pub(crate) trait Recycle<T> {
    /// A buffer with a capacity in `lo..=hi` (any length), if there is one.
    fn take(&mut self, lo: usize, hi: usize) -> Option<Vec<T>>;
    /// A buffer no longer used.
    fn give(&mut self, v: Vec<T>);
}

/// No recycling: buffers are allocated and dropped.
pub(crate) struct NoRecycling;

impl<T> Recycle<T> for NoRecycling {
    #[inline]
    fn take(&mut self, _lo: usize, _hi: usize) -> Option<Vec<T>> {
        None
    }
    #[inline]
    fn give(&mut self, _v: Vec<T>) {}
}

/// Recycling through the caller's closures
/// ([`LeafNode::combine_extended_with_buffers`]).
struct Buffers<A, G> {
    take: A,
    give: G,
}

impl<T, A, G> Recycle<T> for Buffers<A, G>
where
    A: FnMut(usize, usize) -> Option<Vec<T>>,
    G: FnMut(Vec<T>),
{
    #[inline]
    fn take(&mut self, lo: usize, hi: usize) -> Option<Vec<T>> {
        (self.take)(lo, hi).filter(|v| (lo..=hi).contains(&v.capacity()))
    }
    #[inline]
    fn give(&mut self, v: Vec<T>) {
        (self.give)(v)
    }
}

/// Voxel-wise result of combining two packed leaves (see [`merge_packed`]).
pub(crate) enum Merged<T, const L: u32> {
    /// Every voxel's value and state (when `f` activates the voxels inactive on both
    /// sides).
    Full {
        /// Every voxel's result value.
        values: Box<[T; MAX_LEAF_VALUES]>,
        /// Every voxel's result state.
        mask: Mask<L>,
    },
    /// The active results in offset order (the first `count` values of the scratch
    /// buffer handed to [`merge_packed`]); every inactive voxel holds `inactive`
    /// except the `(offset, value)` pairs of `odd`.
    Sparse {
        /// The result's states.
        mask: Mask<L>,
        /// The number of active results, one per on bit of `mask`.
        count: usize,
        /// The value of the inactive results (what `f` gave for two inactive voxels).
        inactive: T,
        /// Inactive results whose bits differ from `inactive`.
        odd: Vec<(u16, T)>,
    },
}

/// Calls `f` on every voxel active in `a` or `b`, in offset order, with each side's
/// value (its active value, or its shared inactive value) and state, and hands the
/// offset and `f`'s result to `emit`.
#[inline(always)]
fn for_each_union<T: Value, const L: u32, F>(
    a: PackedView<'_, T, L>,
    b: PackedView<'_, T, L>,
    f: &mut F,
    mut emit: impl FnMut(usize, T, bool),
) where
    F: FnMut(T, bool, T, bool) -> (T, bool),
{
    // Branch-free operand fetch: the index stays in range and the value is chosen
    // by the bit (an empty side always reads its inactive value).
    #[inline(always)]
    fn fetch<T: Copy>(vals: &[T], k: &mut usize, on: bool, inactive: T) -> T {
        let v = match vals.get((*k).min(vals.len().saturating_sub(1))) {
            Some(&v) if on => v,
            _ => inactive,
        };
        *k += usize::from(on);
        v
    }
    let (mut ka, mut kb) = (0, 0);
    for (w, (&wa, &wb)) in a.mask.words().iter().zip(b.mask.words()).enumerate() {
        let mut union = wa | wb;
        while union != 0 {
            let bit = union & union.wrapping_neg();
            let n = w * 64 + union.trailing_zeros() as usize;
            union &= union - 1;
            let (a_on, b_on) = (wa & bit != 0, wb & bit != 0);
            let av = fetch(a.active, &mut ka, a_on, a.inactive);
            let bv = fetch(b.active, &mut kb, b_on, b.inactive);
            let (r, on) = f(av, a_on, bv, b_on);
            emit(n, r, on);
        }
    }
}

/// Applies `f` to every voxel active in `a` or `b` (in offset order); every other
/// voxel gets `(r0, on0)`, what `f` gives for two inactive voxels. A sparse result's
/// active values are written to the front of `scratch` (no allocation, so that the
/// leaf can keep or recycle its buffer).
fn merge_packed<T: Value, const L: u32, F>(
    a: PackedView<'_, T, L>,
    b: PackedView<'_, T, L>,
    r0: T,
    on0: bool,
    f: &mut F,
    scratch: &mut [T; MAX_LEAF_VALUES],
) -> Merged<T, L>
where
    F: FnMut(T, bool, T, bool) -> (T, bool),
{
    let mut mask = Mask::<L>::new(on0);
    if on0 {
        let mut values = Box::new([r0; MAX_LEAF_VALUES]);
        for_each_union(a, b, f, |n, r, on| {
            values[n] = r;
            mask.set(n, on);
        });
        return Merged::Full { values, mask };
    }
    let mut count = 0;
    let mut odd = Vec::new();
    for_each_union(a, b, f, |n, r, on| {
        if on {
            mask.set_on(n);
            scratch[count] = r;
            count += 1;
        } else if !T::same_bits(r, r0) {
            odd.push((n as u16, r));
        }
    });
    Merged::Sparse {
        mask,
        count,
        inactive: r0,
        odd,
    }
}

// ---- internal nodes ------------------------------------------------------------------

impl<C: Combine, const L: u32> Combine for InternalNode<C, L> {
    fn topology_copy(other: &Self, value: C::Value) -> Self {
        let other = &*other.without_tiny();
        let mut node = Self::new_filled(other.origin, value, false);
        node.value_mask = other.value_mask.clone();
        for n in other.children.mask().iter_on() {
            let child = other.child(n).expect("child mask agrees");
            node.set_child(n, Box::new(C::topology_copy(child, value)));
        }
        node.pack_small_leaves();
        node
    }

    fn set_values_on(&mut self) {
        self.promote_tiny_leaves();
        let mut on = Mask::new(true);
        on.subtract(self.children.mask());
        self.value_mask = on;
        for child in self.children_mut() {
            child.set_values_on();
        }
    }

    fn topology_union(&mut self, other: &Self) {
        self.promote_tiny_leaves();
        let other = &*other.without_tiny();
        for n in 0..Self::NUM_VALUES {
            if let Some(theirs) = other.children.get(n) {
                if let Some(mine) = self.children.get_mut(n) {
                    mine.topology_union(theirs);
                } else {
                    // A tile (active or not) becomes a branch with the other child's
                    // topology and the tile's value; an active tile activates it all.
                    let (v, on) = (self.tiles.get(n), self.value_mask.is_on(n));
                    let mut child = C::topology_copy(theirs, v);
                    if on {
                        child.set_values_on();
                    }
                    self.set_child(n, Box::new(child));
                }
            } else if other.value_mask.is_on(n) {
                match self.children.get_mut(n) {
                    Some(mine) => mine.set_values_on(),
                    None => self.value_mask.set_on(n),
                }
            }
        }
        self.pack_small_leaves();
    }

    fn topology_intersection(&mut self, other: &Self, background: C::Value) {
        self.promote_tiny_leaves();
        let other = &*other.without_tiny();
        for n in 0..Self::NUM_VALUES {
            let theirs = other.children.get(n);
            let their_on = other.value_mask.is_on(n);
            if let Some(mine) = self.children.get_mut(n) {
                match theirs {
                    Some(theirs) => mine.topology_intersection(theirs, background),
                    // An inactive tile there: the child becomes an inactive background tile.
                    None if !their_on => self.set_tile(n, background, false),
                    // An active tile there: the child stays as it is.
                    None => {}
                }
            } else if self.value_mask.is_on(n) {
                match theirs {
                    // An active tile over a child: a branch with the child's topology,
                    // holding the tile's value.
                    Some(theirs) => {
                        let child = C::topology_copy(theirs, self.tiles.get(n));
                        self.set_child(n, Box::new(child));
                    }
                    None if !their_on => self.value_mask.set_off(n),
                    None => {}
                }
            }
            // An inactive tile here stays as it is.
        }
        self.pack_small_leaves();
    }

    fn topology_difference(&mut self, other: &Self, background: C::Value) {
        self.promote_tiny_leaves();
        let other = &*other.without_tiny();
        for n in 0..Self::NUM_VALUES {
            let theirs = other.children.get(n);
            let their_on = other.value_mask.is_on(n);
            if let Some(mine) = self.children.get_mut(n) {
                match theirs {
                    Some(theirs) => mine.topology_difference(theirs, background),
                    // An active tile there: the child becomes an inactive background tile.
                    None if their_on => self.set_tile(n, background, false),
                    None => {}
                }
            } else if self.value_mask.is_on(n) {
                match theirs {
                    // An active tile over a child: densify (active) and descend.
                    Some(theirs) => {
                        let mut child =
                            C::new_filled(self.offset_to_global(n), self.tiles.get(n), true);
                        child.topology_difference(theirs, background);
                        self.set_child(n, Box::new(child));
                    }
                    None if their_on => self.value_mask.set_off(n),
                    None => {}
                }
            }
        }
        self.pack_small_leaves();
    }

    fn combine_node<F>(&mut self, other: &Self, f: &mut F)
    where
        F: FnMut(C::Value, bool, C::Value, bool) -> (C::Value, bool),
    {
        // Tiny leaves against tiny leaves and tiles stay tiny where they can
        // (`combine_tiny`); `other`'s tiny leaves facing leaf objects here take part
        // as leaf objects, built one at a time (a copy of `other` with its tiny leaves
        // promoted would copy every child).
        let done = self.combine_tiny(other, f);
        let their_tiny = other_tiny_slots(other);
        // First the slots with a leaf or child on either side (ours are objects now:
        // our tiny leaves left are in `done`), then every tile facing a tile in one
        // pass over the tile table (`map_tiles`).
        let mut branch_slots = self.children.mask().clone();
        branch_slots.union_with(other.children.mask());
        if let Some(m) = &their_tiny {
            branch_slots.union_with(m);
        }
        for n in branch_slots.iter_on() {
            if done.is_on(n) {
                continue;
            }
            let tiny;
            let theirs = match other.children.get(n) {
                Some(c) => Some(c),
                None if their_tiny.as_ref().is_some_and(|m| m.is_on(n)) => {
                    let (offsets, vals) = other.tiny.leaf(n);
                    tiny = C::from_tiny(
                        other.offset_to_global(n),
                        offsets,
                        vals,
                        other.tiny.inactive(),
                    );
                    Some(&tiny)
                }
                None => None,
            };
            match (self.children.get_mut(n), theirs) {
                (Some(mine), None) => {
                    mine.combine_tile(other.tiles.get(n), other.value_mask.is_on(n), f);
                }
                (None, Some(theirs)) => {
                    let (value, active) = (self.tiles.get(n), self.value_mask.is_on(n));
                    let child = combine_tile_into_clone(theirs, value, active, f);
                    self.set_child(n, child);
                }
                (Some(mine), Some(theirs)) => mine.combine_node(theirs, f),
                (None, None) => unreachable!("a branch on one side"),
            }
        }
        self.map_tiles(Some(&done), |n, value, active| {
            f(value, active, other.tiles.get(n), other.value_mask.is_on(n))
        });
        self.pack_small_leaves();
    }

    fn combine_tile<F>(&mut self, value: C::Value, active: bool, f: &mut F)
    where
        F: FnMut(C::Value, bool, C::Value, bool) -> (C::Value, bool),
    {
        self.promote_tiny_leaves();
        let mut values = self.tiles.to_vec();
        for (n, tile) in values.iter_mut().enumerate() {
            match self.children.get_mut(n) {
                Some(child) => child.combine_tile(value, active, f),
                None => {
                    let (r, on) = f(*tile, self.value_mask.is_on(n), value, active);
                    *tile = r;
                    self.value_mask.set(n, on);
                }
            }
        }
        self.tiles.assign(values, self.children.mask());
        self.pack_small_leaves();
    }

    fn merge_active_states(&mut self, mut other: Self, reset_old: C::Value, reset_new: C::Value) {
        self.promote_tiny_leaves();
        other.promote_tiny_leaves();
        // Children first: merged into ours, or moved into our inactive tiles; a child
        // over one of our active tiles is dropped.
        for n in 0..Self::NUM_VALUES {
            if other.children.mask().is_off(n) {
                continue;
            }
            if let Some(mine) = self.children.get_mut(n) {
                let theirs = other.children.remove(n).expect("child mask agrees");
                mine.merge_active_states(*theirs, reset_old, reset_new);
            } else if self.value_mask.is_off(n) {
                let mut theirs = other
                    .take_child(n, C::Value::default(), false)
                    .expect("child mask agrees");
                theirs.reset_background(reset_old, reset_new);
                self.set_child(n, theirs);
            }
        }
        // Then their active tiles replace our children and inactive tiles.
        for n in other.value_mask.iter_on() {
            if self.value_mask.is_off(n) {
                self.set_tile(n, other.tiles.get(n), true);
            }
        }
        self.pack_small_leaves();
    }

    fn replace_active(&mut self, other: &Self) {
        self.promote_tiny_leaves();
        let other = &*other.without_tiny();
        for n in 0..Self::NUM_VALUES {
            if let Some(theirs) = other.children.get(n) {
                // After the topology union we always have a child here; densify anyway
                // if not, which is what OpenVDB's fill / setValue would do.
                self.child_or_densify(n).replace_active(theirs);
            } else if other.value_mask.is_on(n) {
                self.set_tile(n, other.tiles.get(n), true);
            }
        }
        self.pack_small_leaves();
    }
}

/// The slots of `other`'s tiny leaves, if it has any.
fn other_tiny_slots<C: Node, const L: u32>(other: &InternalNode<C, L>) -> Option<Mask<L>> {
    if !C::TINY || other.tiny.is_empty() {
        return None;
    }
    Some(Mask::from_on_bits(other.tiny.slots()))
}

impl<C: Node, const LOG2: u32> InternalNode<C, LOG2> {
    /// The tile `(value, active)` of slot `n`, which holds neither a child nor a tiny
    /// leaf: [`tile`](Self::tile) without looking `n` up among the tiny leaves, for
    /// code that walks the slots knowing where the tiny leaves are (e.g. from
    /// [`tiny_leaves`](Self::tiny_leaves)), such as a combination. What it returns
    /// for a slot with a child or a tiny leaf is unspecified.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.5, false);
    /// n.set_value_on(Coord::new(9, 0, 0), 2.0);
    /// n.set_tile(0, 3.0, true);
    /// assert_eq!(n.tile_where_no_leaf(0), (3.0, true));
    /// assert_eq!(n.tile_where_no_leaf(5), (0.5, false));
    /// ```
    #[inline]
    pub fn tile_where_no_leaf(&self, n: usize) -> (C::Value, bool) {
        debug_assert!(self.children.get(n).is_none() && !self.is_tiny(n));
        (self.tiles.get(n), self.value_mask.is_on(n))
    }
}

/// What one side of a combination holds at a slot where the other side's leaf is
/// tiny: a tiny leaf (its entries and the store's inactive value) or a tile.
#[derive(Clone, Copy)]
enum TinySide<'a, T> {
    Tiny(&'a [u16], &'a [T], T),
    Tile(T, bool),
}

impl<'a, T: Value> TinySide<'a, T> {
    /// The entries listed (none for a tile).
    fn entries(self) -> (&'a [u16], &'a [T]) {
        match self {
            TinySide::Tiny(o, v, _) => (o, v),
            TinySide::Tile(..) => (&[], &[]),
        }
    }

    /// `(value, active)` of the voxels not listed.
    fn rest(self) -> (T, bool) {
        match self {
            TinySide::Tiny(_, _, inactive) => (inactive, false),
            TinySide::Tile(v, on) => (v, on),
        }
    }
}

impl<C: Node, const LOG2: u32> InternalNode<C, LOG2> {
    /// The tiny half of a combination with `other`, slot by slot, voxel by voxel with
    /// `f(a, a_on, b, b_on)`, without turning tiny leaves into leaf objects (decision
    /// 0011): every slot where this node holds a tiny leaf and `other` a tiny leaf or
    /// a tile, and every slot where this node holds a tile and `other` a tiny leaf.
    /// The voxels listed on either side get `f` each; all the others get it once
    /// (they have the same inputs). The result is a tiny leaf when it can be one (no
    /// more active voxels than a tiny leaf holds, every inactive voxel holding the
    /// inactive value this node's tiny leaves share), else a leaf object. A tiny leaf
    /// facing a leaf object is turned into a leaf object and left to the caller.
    /// Returns the slots combined here: the caller's walk over the slots skips them.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let (mut a, mut b) = (
    ///     Lower::new_filled(Coord::new(0, 0, 0), 0.0, false),
    ///     Lower::new_filled(Coord::new(0, 0, 0), 0.0, false),
    /// );
    /// a.set_value_on(Coord::new(1, 0, 0), 1.0);
    /// b.set_value_on(Coord::new(1, 0, 0), 2.0);
    /// b.set_value_on(Coord::new(9, 0, 0), 3.0);
    /// let done = a.combine_tiny(&b, &mut |x, xo, y, yo| (x + y, xo || yo));
    /// assert_eq!(done.count_on(), 2);
    /// assert_eq!(a.tiny_leaf_count(), 2);
    /// assert_eq!(a.probe_value(Coord::new(1, 0, 0)), (3.0, true));
    /// assert_eq!(a.probe_value(Coord::new(9, 0, 0)), (3.0, true));
    /// ```
    pub fn combine_tiny<F>(&mut self, other: &Self, f: &mut F) -> Mask<LOG2>
    where
        F: FnMut(C::Value, bool, C::Value, bool) -> (C::Value, bool),
    {
        let mut done = Mask::new(false);
        if !C::TINY || (self.tiny.is_empty() && other.tiny.is_empty()) {
            return done;
        }
        // A tiny leaf facing a leaf object takes part as a leaf object.
        let facing_objects: Vec<usize> = self
            .tiny
            .slots()
            .filter(|&n| other.children.get(n).is_some())
            .collect();
        for n in facing_objects {
            self.promote_tiny(n);
        }
        let mine = core::mem::take(&mut self.tiny);
        let mut batch = TinyBatch::new();
        let mut inactive: Option<C::Value> = None;
        let mut a_iter = mine.iter().peekable();
        let mut b_iter = other.tiny.iter().peekable();
        loop {
            let (a_slot, b_slot) = (a_iter.peek().map(|l| l.0), b_iter.peek().map(|l| l.0));
            let n = match (a_slot, b_slot) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (None, None) => break,
            };
            let a = match a_iter.next_if(|l| l.0 == n) {
                Some((_, o, v)) => TinySide::Tiny(o, v, mine.inactive()),
                // A leaf object here facing a tiny leaf there: the caller's.
                None if self.children.get(n).is_some() => {
                    b_iter.next();
                    continue;
                }
                None => TinySide::Tile(self.tiles.get(n), self.value_mask.is_on(n)),
            };
            let b = match b_iter.next_if(|l| l.0 == n) {
                Some((_, o, v)) => TinySide::Tiny(o, v, other.tiny.inactive()),
                None => TinySide::Tile(other.tiles.get(n), other.value_mask.is_on(n)),
            };
            done.set_on(n);
            let merged = merge_tiny_sides(a, b, f);
            let fits = !merged.rest.1
                && merged.off_values_are(merged.rest.0)
                && merged.active_count() <= TINY_MAX
                && inactive.is_none_or(|v| C::Value::same_bits(v, merged.rest.0));
            if fits {
                inactive = Some(merged.rest.0);
                for k in 0..merged.len {
                    if merged.on[k] {
                        batch.offsets.push(merged.offsets[k]);
                        batch.values.push(merged.values[k]);
                    }
                }
                batch.finish_leaf(n);
                self.value_mask.set_off(n);
                self.tiles.forget(n);
            } else {
                let origin = self.offset_to_global(n);
                let mut leaf = C::new_filled(origin, merged.rest.0, merged.rest.1);
                for k in 0..merged.len {
                    let c = voxel_in(origin, C::LOG2DIM, usize::from(merged.offsets[k]));
                    if merged.on[k] {
                        leaf.set_value_on(c, merged.values[k]);
                    } else {
                        leaf.set_value_off(c, merged.values[k]);
                    }
                }
                self.set_child(n, Box::new(leaf));
            }
        }
        if let Some(v) = inactive {
            self.tiny.insert_leaves(Mask::<LOG2>::WORD_COUNT, v, &batch);
        }
        done
    }
}

/// The voxel at offset `o` of a node of side `2^log2` with origin `origin`.
fn voxel_in(origin: Coord, log2: u32, o: usize) -> Coord {
    let m = (1usize << log2) - 1;
    Coord::new(
        origin.x + ((o >> (2 * log2)) as i32),
        origin.y + (((o >> log2) & m) as i32),
        origin.z + ((o & m) as i32),
    )
}

/// A tiny-leaf combination's result: the voxels listed on either side (ascending,
/// at most two tiny leaves' worth) with their `(value, active)`, and the
/// `(value, active)` of every other voxel.
struct MergedTiny<T> {
    offsets: [u16; 2 * TINY_MAX],
    values: [T; 2 * TINY_MAX],
    on: [bool; 2 * TINY_MAX],
    len: usize,
    rest: (T, bool),
}

impl<T: Value> MergedTiny<T> {
    fn active_count(&self) -> usize {
        self.on[..self.len].iter().filter(|&&on| on).count()
    }

    /// Whether every listed inactive voxel holds `v`.
    fn off_values_are(&self, v: T) -> bool {
        (0..self.len).all(|k| self.on[k] || T::same_bits(self.values[k], v))
    }
}

/// `f` once over the voxels listed by neither `a` nor `b`, then over the listed
/// ones (a merge of their sorted offsets).
fn merge_tiny_sides<T: Value, F>(a: TinySide<'_, T>, b: TinySide<'_, T>, f: &mut F) -> MergedTiny<T>
where
    F: FnMut(T, bool, T, bool) -> (T, bool),
{
    let ((ao, av), (bo, bv)) = (a.entries(), b.entries());
    let ((a_rest, a_rest_on), (b_rest, b_rest_on)) = (a.rest(), b.rest());
    let mut m = MergedTiny {
        offsets: [0; 2 * TINY_MAX],
        values: [T::zeroed(); 2 * TINY_MAX],
        on: [false; 2 * TINY_MAX],
        len: 0,
        // Once for the voxels listed on neither side, first (as the packed merge).
        rest: f(a_rest, a_rest_on, b_rest, b_rest_on),
    };
    let (mut i, mut j) = (0, 0);
    while (i < ao.len() || j < bo.len()) && m.len < 2 * TINY_MAX {
        let (o, x, y) = match (ao.get(i), bo.get(j)) {
            (Some(&p), Some(&q)) if p == q => {
                i += 1;
                j += 1;
                (p, (av[i - 1], true), (bv[j - 1], true))
            }
            (Some(&p), Some(&q)) if p < q => {
                i += 1;
                (p, (av[i - 1], true), (b_rest, b_rest_on))
            }
            (Some(&p), None) => {
                i += 1;
                (p, (av[i - 1], true), (b_rest, b_rest_on))
            }
            (_, Some(&q)) => {
                j += 1;
                (q, (a_rest, a_rest_on), (bv[j - 1], true))
            }
            (None, None) => break,
        };
        let (r, on) = f(x.0, x.1, y.0, y.1);
        m.offsets[m.len] = o;
        m.values[m.len] = r;
        m.on[m.len] = on;
        m.len += 1;
    }
    m
}

/// OpenVDB's tile/child case: the B child is combined with A's tile through a
/// `SwappedCombineOp` (so that `f` still sees A's tile as its A operand) and then
/// stolen — here, a clone of it is.
fn combine_tile_into_clone<C, F>(theirs: &C, value: C::Value, active: bool, f: &mut F) -> Box<C>
where
    C: Combine,
    F: FnMut(C::Value, bool, C::Value, bool) -> (C::Value, bool),
{
    let mut child = Box::new(theirs.clone());
    let mut swapped = |b: C::Value, b_on: bool, a: C::Value, a_on: bool| f(a, a_on, b, b_on);
    child.combine_tile(value, active, &mut swapped);
    child
}

// ---- the root ------------------------------------------------------------------------

/// What one side of the root holds at a key.
enum Side<'a, C: Node> {
    Tile(C::Value, bool),
    Child(&'a C),
}

/// The root level of combination, on [`RootNode`] (a crate-private extension trait, so
/// that the private [`Combine`] bound stays private).
pub(crate) trait RootCombine<C: Combine> {
    /// OpenVDB `RootNode::combine(other, op, prune = false)`.
    fn combine_extended<F>(&mut self, other: &Self, f: &mut F)
    where
        F: FnMut(C::Value, bool, C::Value, bool) -> (C::Value, bool);
    /// OpenVDB `RootNode::topologyUnion(other, preserveTiles = false)`.
    fn topology_union(&mut self, other: &Self);
    /// OpenVDB `RootNode::topologyIntersection(other)`.
    fn topology_intersection(&mut self, other: &Self);
    /// OpenVDB `RootNode::topologyDifference(other)`.
    fn topology_difference(&mut self, other: &Self);
    /// OpenVDB `RootNode::merge<MERGE_ACTIVE_STATES>(other)`, consuming `other`.
    fn merge_active_states(&mut self, other: Self);
    /// The passes of `tools::compReplace` after its topology union: copy `other`'s
    /// active tiles and active voxels (values and states).
    fn replace_active(&mut self, other: &Self);
}

impl<C: Node> RootNode<C> {
    fn side(&self, key: Coord) -> Side<'_, C> {
        match self.index.get(&key) {
            None => Side::Tile(self.background, false),
            Some(&i) => match &self.entries[i as usize].slot {
                RootSlot::Tile(v, on) => Side::Tile(*v, *on),
                RootSlot::Child(c) => Side::Child(c),
            },
        }
    }
}

impl<C: Combine> RootCombine<C> for RootNode<C> {
    /// OpenVDB `RootNode::combine(other, op, prune = false)`.
    fn combine_extended<F>(&mut self, other: &Self, f: &mut F)
    where
        F: FnMut(C::Value, bool, C::Value, bool) -> (C::Value, bool),
    {
        // OpenVDB visits the union of both key sets, in ascending order (a std::set).
        let mut keys: Vec<Coord> = self
            .entries
            .iter()
            .chain(other.entries.iter())
            .map(|e| e.key)
            .collect();
        keys.sort_unstable();
        keys.dedup();

        // OpenVDB reuses one CombineArgs for the root's tile/tile pairs and the
        // backgrounds, and never resets the operands' active flags before the
        // backgrounds: the background op sees the flags of the last tile/tile pair.
        let mut last_states = (false, false);
        for key in keys {
            // A missing key on either side is an inactive tile of that side's background
            // (OpenVDB findOrAddCoord); on our side that tile is really added.
            let i = match self.index.get(&key) {
                Some(&i) => i as usize,
                None => self.put(key, RootSlot::Tile(self.background, false)),
            };
            let theirs = other.side(key);
            let slot = &mut self.entries[i].slot;
            match (slot, theirs) {
                (RootSlot::Tile(av, aon), Side::Tile(bv, bon)) => {
                    let (r, on) = f(*av, *aon, bv, bon);
                    last_states = (*aon, bon);
                    *av = r;
                    *aon = on;
                }
                (RootSlot::Child(mine), Side::Tile(bv, bon)) => mine.combine_tile(bv, bon, f),
                (slot @ RootSlot::Tile(..), Side::Child(theirs)) => {
                    let RootSlot::Tile(av, aon) = *slot else {
                        unreachable!("matched a tile")
                    };
                    *slot = RootSlot::Child(combine_tile_into_clone(theirs, av, aon, f));
                }
                (RootSlot::Child(mine), Side::Child(theirs)) => mine.combine_node(theirs, f),
            }
        }

        let (bg, _) = f(
            self.background,
            last_states.0,
            other.background,
            last_states.1,
        );
        self.background = bg;
    }

    /// OpenVDB `RootNode::topologyUnion(other, preserveTiles = false)`.
    fn topology_union(&mut self, other: &Self) {
        for e in &other.entries {
            let mine = self.index.get(&e.key).map(|&i| i as usize);
            match (&e.slot, mine) {
                (RootSlot::Child(theirs), None) => {
                    let child = C::topology_copy(theirs, self.background);
                    self.put(e.key, RootSlot::Child(Box::new(child)));
                }
                (RootSlot::Child(theirs), Some(i)) => match &mut self.entries[i].slot {
                    RootSlot::Child(mine) => mine.topology_union(theirs),
                    RootSlot::Tile(v, on) => {
                        let mut child = C::topology_copy(theirs, *v);
                        if *on {
                            child.set_values_on();
                        }
                        self.entries[i].slot = RootSlot::Child(Box::new(child));
                    }
                },
                (RootSlot::Tile(_, true), None) => {
                    self.put(e.key, RootSlot::Tile(self.background, true));
                }
                (RootSlot::Tile(_, true), Some(i)) => match &mut self.entries[i].slot {
                    RootSlot::Child(mine) => mine.set_values_on(),
                    RootSlot::Tile(_, on) => *on = true,
                },
                (RootSlot::Tile(_, false), _) => {}
            }
        }
    }

    /// OpenVDB `RootNode::topologyIntersection(other)`.
    fn topology_intersection(&mut self, other: &Self) {
        let bg = self.background;
        let mut erase = false;
        for e in &mut self.entries {
            let theirs = other.side(e.key);
            match (&mut e.slot, theirs) {
                (RootSlot::Child(mine), Side::Child(theirs)) => {
                    mine.topology_intersection(theirs, bg)
                }
                // Missing or an inactive tile there: the branch is deleted (below).
                (RootSlot::Child(_), Side::Tile(_, false)) => erase = true,
                (RootSlot::Child(_), Side::Tile(_, true)) => {}
                (RootSlot::Tile(v, true), Side::Child(theirs)) => {
                    e.slot = RootSlot::Child(Box::new(C::topology_copy(theirs, *v)));
                }
                (RootSlot::Tile(_, on @ true), Side::Tile(_, false)) => *on = false,
                (RootSlot::Tile(..), _) => {}
            }
        }
        if erase {
            self.retain(|e| match &e.slot {
                RootSlot::Child(_) => !matches!(other.side(e.key), Side::Tile(_, false)),
                RootSlot::Tile(..) => true,
            });
        }
    }

    /// OpenVDB `RootNode::topologyDifference(other)`.
    fn topology_difference(&mut self, other: &Self) {
        let bg = self.background;
        let mut erase = Vec::new();
        for e in &other.entries {
            let Some(&i) = self.index.get(&e.key) else {
                continue;
            };
            let key = e.key;
            let mine = &mut self.entries[i as usize].slot;
            match (mine, &e.slot) {
                (RootSlot::Child(mine), RootSlot::Child(theirs)) => {
                    mine.topology_difference(theirs, bg)
                }
                (slot @ RootSlot::Tile(_, true), RootSlot::Child(theirs)) => {
                    let RootSlot::Tile(v, _) = *slot else {
                        unreachable!("matched a tile")
                    };
                    let mut child = C::new_filled(key, v, true);
                    child.topology_difference(theirs, bg);
                    *slot = RootSlot::Child(Box::new(child));
                }
                (RootSlot::Child(_), RootSlot::Tile(_, true)) => erase.push(key),
                (RootSlot::Tile(_, on @ true), RootSlot::Tile(_, true)) => *on = false,
                _ => {}
            }
        }
        if !erase.is_empty() {
            erase.sort_unstable();
            self.retain(|e| erase.binary_search(&e.key).is_err());
        }
    }

    /// OpenVDB `RootNode::merge<MERGE_ACTIVE_STATES>(other)`, consuming `other`.
    fn merge_active_states(&mut self, other: Self) {
        let (bg_a, bg_b) = (self.background, other.background);
        for e in other.entries {
            let mine = self.index.get(&e.key).map(|&i| i as usize);
            match (e.slot, mine) {
                (RootSlot::Child(mut theirs), None) => {
                    theirs.reset_background(bg_b, bg_a);
                    self.put(e.key, RootSlot::Child(theirs));
                }
                (RootSlot::Child(mut theirs), Some(i)) => match &mut self.entries[i].slot {
                    slot @ RootSlot::Tile(_, false) => {
                        theirs.reset_background(bg_b, bg_a);
                        *slot = RootSlot::Child(theirs);
                    }
                    RootSlot::Tile(_, true) => {}
                    // OpenVDB passes (other.mBackground, mBackground) as the internal
                    // node's (background, otherBackground) and resets moved children
                    // with resetBackground(otherBackground, background): below the root,
                    // the reset goes from this tree's background to the other's.
                    RootSlot::Child(mine) => mine.merge_active_states(*theirs, bg_a, bg_b),
                },
                (RootSlot::Tile(v, true), None) => {
                    self.put(e.key, RootSlot::Tile(v, true));
                }
                (RootSlot::Tile(v, true), Some(i)) => {
                    let slot = &mut self.entries[i].slot;
                    if !matches!(slot, RootSlot::Tile(_, true)) {
                        *slot = RootSlot::Tile(v, true);
                    }
                }
                (RootSlot::Tile(_, false), _) => {}
            }
        }
    }

    /// The passes of `tools::compReplace` after its topology union: copy `other`'s
    /// active tiles and active voxels (values and states).
    fn replace_active(&mut self, other: &Self) {
        for e in &other.entries {
            match &e.slot {
                RootSlot::Child(theirs) => {
                    let i = self.child_index_or_create(e.key);
                    self.child_mut_at(i).replace_active(theirs);
                }
                RootSlot::Tile(v, true) => {
                    self.put(e.key, RootSlot::Tile(*v, true));
                }
                RootSlot::Tile(_, false) => {}
            }
        }
    }
}

// ---- the public API --------------------------------------------------------------------

impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Tree<T, L2, L1, L0, D> {
    /// OpenVDB `tools::compSum(a, b)`: `self = self + other` over the union of both
    /// trees, active where either is active.
    ///
    /// Like OpenVDB (`combineExtended(other, op, prune = false)`):
    /// - every root key of either tree is visited; where a tree has no entry, its
    ///   operand is its background (inactive), so regions only `other` covers get
    ///   `background + other` and regions only `self` covers get `self + other's
    ///   background`;
    /// - tiles stay tiles where both sides are tiles (tile + tile, active if either
    ///   is), a tile facing a node is combined with every value of that node (the node
    ///   is copied from `other` when the tile is ours), nothing is pruned — an inactive
    ///   tile equal to the background stays in the root table;
    /// - finally the backgrounds are combined too: the new background is
    ///   `self.background() + other.background()` (inactive values are not rewritten).
    ///
    /// `other` is left intact (OpenVDB empties it).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(1.0);
    /// let mut b: Tree<f32> = Tree::new(2.0);
    /// a.set_value(Coord::new(0, 0, 0), 10.0);
    /// b.set_value(Coord::new(0, 0, 1), 20.0);
    /// b.set_value(Coord::new(5000, 0, 0), 30.0); // a region `a` does not cover
    /// a.comp_sum(&b);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (12.0, true)); // 10 + b's background
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (21.0, true)); // a's background + 20
    /// assert_eq!(a.probe_value(Coord::new(5000, 0, 0)), (31.0, true));
    /// assert_eq!(a.background(), 3.0);
    /// assert_eq!(b.get_value(Coord::new(0, 0, 1)), 20.0, "other is unchanged");
    /// ```
    pub fn comp_sum(&mut self, other: &Self) {
        self.combine_extended(other, |a, a_on, b, b_on| (T::add(a, b), a_on || b_on));
    }

    /// OpenVDB `tools::compMul(a, b)`: `self = self * other` over the union of both
    /// trees, active where either is active. Visits the union of root keys and combines
    /// the backgrounds (`self.background() * other.background()`), never prunes — see
    /// [`comp_sum`](Self::comp_sum) for the exact rules. `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(1.0);
    /// let mut b: Tree<f32> = Tree::new(3.0);
    /// a.set_value(Coord::new(0, 0, 0), 2.0);
    /// b.set_value(Coord::new(0, 0, 0), 4.0);
    /// b.set_value_off(Coord::new(0, 0, 1), 5.0);
    /// a.comp_mul(&b);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (8.0, true));
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (5.0, false));
    /// assert_eq!(a.background(), 3.0);
    /// ```
    pub fn comp_mul(&mut self, other: &Self) {
        self.combine_extended(other, |a, a_on, b, b_on| (T::mul(a, b), a_on || b_on));
    }

    /// OpenVDB `tools::compMax(a, b)`: `self = std::max(self, other)` (`if a < b { b }
    /// else { a }`, so a NaN in `self` wins) over the union of both trees, active where
    /// either is active. Visits the union of root keys, combines the backgrounds
    /// (`max(self.background(), other.background())`), never prunes — see
    /// [`comp_sum`](Self::comp_sum) for the exact rules. `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(-1.0);
    /// a.set_value(Coord::new(0, 0, 0), 2.0);
    /// b.set_value(Coord::new(0, 0, 0), 4.0);
    /// b.set_value(Coord::new(0, 0, 1), -3.0);
    /// a.comp_max(&b);
    /// assert_eq!(a.get_value(Coord::new(0, 0, 0)), 4.0);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (0.0, true), "max(a's background, -3)");
    /// assert_eq!(a.background(), 0.0);
    /// ```
    pub fn comp_max(&mut self, other: &Self) {
        self.combine_extended(other, |a, a_on, b, b_on| (T::max_value(a, b), a_on || b_on));
    }

    /// OpenVDB `tools::compMin(a, b)`: `self = std::min(self, other)` (`if b < a { b }
    /// else { a }`) over the union of both trees, active where either is active. Visits
    /// the union of root keys, combines the backgrounds (`min(self.background(),
    /// other.background())`), never prunes — see [`comp_sum`](Self::comp_sum) for the
    /// exact rules. `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<i32> = Tree::new(0);
    /// let mut b: Tree<i32> = Tree::new(5);
    /// a.set_value(Coord::new(0, 0, 0), 7);
    /// b.set_value(Coord::new(0, 0, 0), 6);
    /// a.comp_min(&b);
    /// assert_eq!(a.get_value(Coord::new(0, 0, 0)), 6);
    /// assert_eq!(a.probe_value(Coord::new(9, 9, 9)), (0, false), "min(0, 5) in a's leaf");
    /// assert_eq!(a.background(), 0);
    /// ```
    pub fn comp_min(&mut self, other: &Self) {
        self.combine_extended(other, |a, a_on, b, b_on| (T::min_value(a, b), a_on || b_on));
    }

    /// OpenVDB `Tree::combine(other, op, prune = false)`: `self = f(self, other)` for
    /// every pair of corresponding values, with the result active where either operand
    /// is active. `f(a, b)` always gets `self`'s value first.
    ///
    /// The rules are those of [`combine_extended`](Self::combine_extended) (union of
    /// the root keys, tiles kept as tiles, nothing pruned), and, as in OpenVDB, the
    /// backgrounds are combined too: the new background is
    /// `f(self.background(), other.background())`. `f` is called once per tile pair,
    /// once per voxel (a tile facing a node is combined with each of the node's values)
    /// and once for the backgrounds, in OpenVDB's (serial) order — except that where
    /// both leaves are packed (decision 0009), or a packed leaf faces an inactive tile,
    /// `f` is called once for all the voxels inactive on both sides (they share their
    /// inputs) and then for the others in offset order. `f` should therefore be a
    /// function of its arguments. `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(10.0);
    /// a.set_value(Coord::new(0, 0, 0), 1.0);
    /// b.set_value_off(Coord::new(0, 0, 0), 3.0);
    /// a.combine(&b, |x, y| x - y);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (-2.0, true));
    /// assert_eq!(a.background(), -10.0);
    /// ```
    pub fn combine(&mut self, other: &Self, mut f: impl FnMut(T, T) -> T) {
        self.combine_extended(other, |a, a_on, b, b_on| (f(a, b), a_on || b_on));
    }

    /// OpenVDB `Tree::combineExtended(other, op, prune = false)` (with `CombineArgs`):
    /// `f(a, a_active, b, b_active)` returns `(result, result_active)` for every pair of
    /// corresponding values, `a` from `self`, `b` from `other`.
    ///
    /// OpenVDB's rules, level by level:
    /// - **root**: every key of either tree is visited in ascending order; a missing
    ///   key is an inactive tile of that tree's background (and one is added to
    ///   `self`'s table). Tile/tile: `self`'s tile becomes `f(..)` — kept even if it is
    ///   an inactive background tile. Child/tile: every value of our child is combined
    ///   with the tile. Tile/child: a copy of `other`'s child is combined with our tile
    ///   as the `a` operand and replaces the tile. Child/child: recursion.
    /// - **internal nodes**: the same four cases per slot.
    /// - **leaves**: `f` per voxel; where both leaves are packed (or a packed leaf faces
    ///   an inactive tile), once for all the voxels inactive on both sides (identical
    ///   inputs) and then per voxel active on either side, in offset order.
    /// - **backgrounds**: finally `self`'s background becomes the value of
    ///   `f(self.background(), sa, other.background(), sb)`. As in OpenVDB (which reuses
    ///   one argument struct at the root), `sa` / `sb` are the `a_active` / `b_active`
    ///   flags of the last root tile/tile pair visited, or `false` if there was none.
    ///   Inactive values are not rewritten.
    ///
    /// Nothing is pruned. `other` is left intact (OpenVDB steals its nodes).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(0.0);
    /// a.set_value(Coord::new(0, 0, 0), 1.0);
    /// b.set_value(Coord::new(0, 0, 0), 5.0);
    /// b.set_value(Coord::new(0, 0, 1), 7.0);
    /// // Keep b's value only where both are active; the result is active only there.
    /// a.combine_extended(&b, |a, a_on, b, b_on| {
    ///     if a_on && b_on { (b, true) } else { (a, false) }
    /// });
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (5.0, true));
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (0.0, false));
    /// ```
    pub fn combine_extended(
        &mut self,
        other: &Self,
        mut f: impl FnMut(T, bool, T, bool) -> (T, bool),
    ) {
        self.root.combine_extended(&other.root, &mut f);
    }

    /// OpenVDB `tools::compReplace(a, b)`: first [`topology_union`](Self::topology_union)
    /// with `other`, then every active tile of `other` is copied into `self` (as a fill
    /// of its region, replacing whatever `self` held there) and every active voxel of
    /// `other` is written with `set_value`. Inactive values of `other` are ignored and
    /// the backgrounds are *not* combined. `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, CoordBBox, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(9.0);
    /// a.set_value(Coord::new(0, 0, 0), 1.0);
    /// a.set_value(Coord::new(0, 0, 1), 2.0);
    /// b.set_value(Coord::new(0, 0, 0), 5.0);
    /// b.set_value_off(Coord::new(0, 0, 1), 6.0);
    /// b.fill(&CoordBBox::new(Coord::new(8, 0, 0), Coord::new(15, 7, 7)), 3.0, true);
    /// a.comp_replace(&b);
    /// assert_eq!(a.get_value(Coord::new(0, 0, 0)), 5.0);
    /// assert_eq!(a.get_value(Coord::new(0, 0, 1)), 2.0, "b's inactive value is ignored");
    /// assert_eq!(a.probe_value(Coord::new(9, 1, 1)), (3.0, true));
    /// assert_eq!(a.background(), 0.0);
    /// ```
    pub fn comp_replace(&mut self, other: &Self) {
        self.root.topology_union(&other.root);
        self.root.replace_active(&other.root);
    }

    /// OpenVDB `Tree::topologyUnion(other, preserveTiles = false)`: every value active
    /// in `other` becomes active in `self`; `self`'s values are kept wherever `self`
    /// has one.
    ///
    /// The exact rules: where `other` has a node and `self` a tile (active or not),
    /// the tile is replaced by a copy of `other`'s branch topology filled with the
    /// tile's value (all active if the tile was active, else active where `other` is);
    /// where `self` has no root entry, the new branch holds `self`'s background. An
    /// active tile of `other` activates `self`'s tile in place (value kept), activates
    /// every value of `self`'s node there, or, at the root where `self` has nothing,
    /// adds an active tile of `self`'s background. `other`'s inactive tiles change
    /// nothing. Backgrounds are untouched; `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(0.0);
    /// a.set_value_off(Coord::new(0, 0, 0), 1.0);
    /// b.set_value(Coord::new(0, 0, 0), 5.0);
    /// b.set_value(Coord::new(0, 0, 9), 6.0);
    /// a.topology_union(&b);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (1.0, true), "a's value, b's state");
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 9)), (0.0, true));
    /// ```
    pub fn topology_union(&mut self, other: &Self) {
        self.root.topology_union(&other.root);
    }

    /// OpenVDB `Tree::topologyIntersection(other)`: values of `self` stay active only
    /// where `other` is active too; values are kept.
    ///
    /// The exact rules: a node of `self` facing an inactive tile of `other` (or, at the
    /// root, no entry) is deleted — an inactive tile of `self`'s background below the
    /// root, no entry at the root; facing an active tile it is kept as is. An active tile
    /// of `self` facing a node of `other` becomes a copy of that branch's topology
    /// filled with the tile's value; facing an inactive tile (or nothing) it becomes
    /// inactive. Leaves intersect their active masks. Inactive tiles of `self` are never
    /// touched and nothing is pruned. `other` is left intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(0.0);
    /// a.set_value(Coord::new(0, 0, 0), 1.0);
    /// a.set_value(Coord::new(0, 0, 1), 2.0);
    /// a.set_value(Coord::new(9000, 0, 0), 3.0);
    /// b.set_value(Coord::new(0, 0, 0), 5.0);
    /// a.topology_intersection(&b);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (1.0, true));
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (2.0, false));
    /// assert_eq!(a.value_depth(Coord::new(9000, 0, 0)), -1, "branch deleted");
    /// ```
    pub fn topology_intersection(&mut self, other: &Self) {
        self.root.topology_intersection(&other.root);
    }

    /// OpenVDB `Tree::topologyDifference(other)`: values of `self` active in `other`
    /// become inactive; values are kept.
    ///
    /// The exact rules: a node of `self` facing an active tile of `other` is deleted (an
    /// inactive tile of `self`'s background below the root, no entry at the root); an
    /// active tile of `self` facing a node of `other` is densified (active, its value)
    /// and the difference descends; an active tile facing an active tile becomes
    /// inactive. Leaves subtract `other`'s active mask. Inactive tiles of `self` and
    /// inactive tiles of `other` change nothing; nothing is pruned. `other` is left
    /// intact.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(0.0);
    /// a.set_value(Coord::new(0, 0, 0), 1.0);
    /// a.set_value(Coord::new(0, 0, 1), 2.0);
    /// b.set_value(Coord::new(0, 0, 0), 5.0);
    /// a.topology_difference(&b);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (1.0, false));
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (2.0, true));
    /// ```
    pub fn topology_difference(&mut self, other: &Self) {
        self.root.topology_difference(&other.root);
    }

    /// OpenVDB `Tree::merge(other, MERGE_ACTIVE_STATES)`, consuming `other`: every
    /// active value of `other` becomes active in `self` with `other`'s value, unless
    /// `self`'s value there is already active.
    ///
    /// The exact rules, at every level: a node of `other` merges into `self`'s node,
    /// is moved into an inactive tile of `self` (or, at the root, where `self` has
    /// nothing), and is dropped over an active tile of `self`. An active tile of
    /// `other` replaces anything of `self` but an active tile — a node of `self`
    /// included, whatever it holds. Inactive tiles of `other` are ignored. In leaves,
    /// active voxels of `other` are copied where `self`'s voxel is inactive.
    ///
    /// Moved nodes get OpenVDB's `resetBackground`: inactive values approx-equal to the
    /// old background (or its negation) take the new one (or its negation). OpenVDB
    /// resets a node moved at the root from `other`'s background to `self`'s, but — as
    /// it passes the two backgrounds swapped to the internal nodes — a node moved below
    /// the root from `self`'s background to `other`'s; this is reproduced. With equal
    /// backgrounds this only snaps inactive values approx-equal to the background to it.
    /// The background of `self` is kept. Follow with [`prune`](Self::prune) for
    /// sparseness.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut a: Tree<f32> = Tree::new(0.0);
    /// let mut b: Tree<f32> = Tree::new(0.0);
    /// a.set_value(Coord::new(0, 0, 0), 1.0);
    /// b.set_value(Coord::new(0, 0, 0), 5.0);
    /// b.set_value(Coord::new(0, 0, 1), 6.0);
    /// b.set_value(Coord::new(9000, 0, 0), 7.0);
    /// a.merge(b);
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (1.0, true), "already active");
    /// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (6.0, true));
    /// assert_eq!(a.probe_value(Coord::new(9000, 0, 0)), (7.0, true));
    /// ```
    pub fn merge(&mut self, other: Self) {
        self.root.merge_active_states(other.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CoordBBox, LowerNode};

    type L = LeafNode<f32, 3>;
    type Lower = LowerNode<f32>;

    fn c(x: i32, y: i32, z: i32) -> Coord {
        Coord::new(x, y, z)
    }

    fn cube(min: Coord, dim: u32) -> CoordBBox {
        CoordBBox::create_cube(min, dim)
    }

    #[test]
    fn leaf_topology_masks() {
        let mut a = L::new_filled(c(0, 0, 0), 1.0, false);
        let mut b = L::new_filled(c(0, 0, 0), 2.0, false);
        a.set_active_at(1, true);
        a.set_active_at(2, true);
        b.set_active_at(2, true);
        b.set_active_at(3, true);
        let mut u = a.clone();
        u.topology_union(&b);
        assert_eq!(u.value_mask.iter_on().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(
            (0..512).all(|n| u.value_at(n) == 1.0),
            "values are never taken"
        );
        let mut i = a.clone();
        i.topology_intersection(&b, 0.0);
        assert_eq!(i.value_mask.iter_on().collect::<Vec<_>>(), [2]);
        let mut d = a.clone();
        d.topology_difference(&b, 0.0);
        assert_eq!(d.value_mask.iter_on().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn leaf_merge_copies_only_into_inactive() {
        let mut a = L::new_filled(c(0, 0, 0), 0.0, false);
        let mut b = L::new_filled(c(0, 0, 0), 9.0, false);
        a.set_at(0, 1.0, true);
        b.set_at(0, 5.0, true);
        b.set_at(1, 6.0, true);
        a.merge_active_states(b, 0.0, 0.0);
        assert_eq!((a.value_at(0), a.is_on_at(0)), (1.0, true));
        assert_eq!((a.value_at(1), a.is_on_at(1)), (6.0, true));
        assert_eq!((a.value_at(2), a.is_on_at(2)), (0.0, false));
    }

    #[test]
    fn internal_topology_copy_and_set_values_on() {
        let mut src = Lower::new_filled(c(0, 0, 0), 3.0, false);
        src.set_value_on(c(1, 1, 1), 4.0);
        src.fill(&cube(c(8, 0, 0), 8), 5.0, true);
        let copy = Lower::topology_copy(&src, 7.0);
        assert_eq!(copy.child_mask(), src.child_mask());
        assert_eq!(copy.value_mask, src.value_mask);
        assert_eq!(copy.probe_value(c(1, 1, 1)), (7.0, true));
        assert_eq!(copy.probe_value(c(1, 1, 2)), (7.0, false));
        assert_eq!(copy.probe_value(c(9, 0, 0)), (7.0, true));
        assert_eq!(copy.probe_value(c(100, 0, 0)), (7.0, false));
        copy.validate().unwrap();
        let mut on = copy.clone();
        on.set_values_on();
        assert_eq!(on.on_voxel_count(), Lower::NUM_VOXELS);
        assert!(on.child_mask().is_on(0), "children stay children");
        on.validate().unwrap();
    }

    /// `combine_tiny` on every kind of slot pair, checked voxel by voxel against
    /// `f` applied to what both nodes held before, with the form each result takes.
    #[test]
    fn combine_tiny_every_slot_pair() {
        let leaf = |n: usize| Lower::new_filled(c(0, 0, 0), 0.0, false).offset_to_global(n);
        let at = |n: usize, o: i32| {
            let l = leaf(n);
            c(l.x + o / 64, l.y + (o / 8) % 8, l.z + o % 8)
        };
        // Different inactive values on the two sides: a voxel listed on one side
        // meets the other side's inactive value.
        let mut a = Lower::new_filled(c(0, 0, 0), 0.0, false);
        let mut b = Lower::new_filled(c(0, 0, 0), 100.0, false);
        // Slot 0: tiny × tiny, the union fits (3 voxels).
        a.set_value_on(at(0, 1), 1.0);
        b.set_value_on(at(0, 1), 2.0);
        b.set_value_on(at(0, 5), 3.0);
        // Slot 1: tiny × tiny, the union outgrows a tiny leaf (10 + 10 voxels).
        for o in 0..10 {
            a.set_value_on(at(1, o), 1.0 + o as f32);
            b.set_value_on(at(1, 30 + o), 2.0 + o as f32);
        }
        // Slot 2: tiny × inactive tile holding another value (it changes the
        // inactive voxels: no longer the value the tiny leaves share).
        a.set_value_on(at(2, 3), 4.0);
        b.set_tile(2, 7.0, false);
        // Slot 3: tile × tiny.
        b.set_value_on(at(3, 9), 5.0);
        // Slot 4: tiny × leaf object (promoted: the caller's).
        a.set_value_on(at(4, 2), 6.0);
        for o in 0..20 {
            b.set_value_on(at(4, o), 0.5);
        }
        // Slot 5: leaf object × tiny (the caller's).
        for o in 0..20 {
            a.set_value_on(at(5, o), 0.25);
        }
        b.set_value_on(at(5, 40), 8.0);
        // Slot 6: tiny × active tile (every voxel active: a leaf object).
        a.set_value_on(at(6, 0), 9.0);
        b.set_tile(6, 1.0, true);
        assert!(a.is_tiny(0) && b.is_tiny(0) && a.is_tiny(1) && !b.is_tiny(4) && !a.is_tiny(5));
        let before = a.clone();
        let f = |x: f32, xo: bool, y: f32, yo: bool| (x + y, xo || yo);
        let done = a.combine_tiny(&b, &mut |x, xo, y, yo| f(x, xo, y, yo));
        assert_eq!(done.iter_on().collect::<Vec<_>>(), [0, 1, 2, 3, 6]);
        for n in [0, 1, 2, 3, 6] {
            for o in 0..512 {
                let v = at(n, o);
                let (x, xo) = before.probe_value(v);
                let (y, yo) = b.probe_value(v);
                assert_eq!(a.probe_value(v), f(x, xo, y, yo), "slot {n} offset {o}");
            }
        }
        assert!(a.is_tiny(0) && a.is_tiny(3), "small results stay tiny");
        assert!(
            !a.is_tiny(1) && a.child(1).is_some(),
            "20 active voxels: an object"
        );
        assert!(
            !a.is_tiny(2) && a.child(2).is_some(),
            "another inactive value: an object"
        );
        assert!(a.child(6).is_some_and(|l| l.value_mask().is_all_on()));
        assert!(a.child(4).is_some(), "facing a leaf object: promoted");
        assert_eq!(
            a.probe_value(at(4, 2)),
            (6.0, true),
            "and left to the caller"
        );
        assert_eq!(a.probe_value(at(5, 0)), (0.25, true));
        a.validate().unwrap();
    }

    #[test]
    fn internal_combine_four_cases_and_swapped_operands() {
        // Slot 0: child/child, slot 1: child/tile, slot 2: tile/child, slot 3: tile/tile.
        let mut a = Lower::new_filled(c(0, 0, 0), 1.0, false);
        let mut b = Lower::new_filled(c(0, 0, 0), 100.0, false);
        a.set_value_on(c(0, 0, 0), 2.0); // leaf at slot 0
        b.set_value_on(c(0, 0, 1), 200.0); // leaf at slot 0
        a.set_value_on(c(0, 0, 8), 3.0); // leaf at slot 1
        b.set_value_on(c(0, 0, 16), 300.0); // leaf at slot 2
        b.fill(&cube(c(0, 0, 24), 8), 400.0, true); // active tile at slot 3
        let b_before = b.clone();
        let mut calls = Vec::new();
        a.combine_node(&b, &mut |x, xo, y, yo| {
            calls.push((x, y));
            (x - y, xo || yo)
        });
        assert_eq!(
            b.probe_value(c(0, 0, 16)),
            b_before.probe_value(c(0, 0, 16))
        );
        assert_eq!(a.probe_value(c(0, 0, 0)), (2.0 - 100.0, true));
        assert_eq!(a.probe_value(c(0, 0, 1)), (1.0 - 200.0, true));
        assert_eq!(a.probe_value(c(0, 0, 8)), (3.0 - 100.0, true));
        assert_eq!(a.probe_value(c(0, 0, 9)), (1.0 - 100.0, false));
        // Tile/child: the cloned B leaf is combined with A's tile as the A operand.
        assert_eq!(a.probe_value(c(0, 0, 16)), (1.0 - 300.0, true));
        assert_eq!(a.probe_value(c(0, 0, 17)), (1.0 - 100.0, false));
        assert_eq!(a.value_level(c(0, 0, 16)), 0);
        assert_eq!(a.value_level(c(0, 0, 24)), 1, "tile/tile stays a tile");
        assert_eq!(a.probe_value(c(0, 0, 24)), (1.0 - 400.0, true));
        // Slot 0 first; both leaves are packed, so `f` sees the pair of inactive
        // values once, then the voxels active in either leaf in offset order.
        assert_eq!(calls[0], (1.0, 100.0));
        assert_eq!(calls[1], (2.0, 100.0));
        assert_eq!(calls[2], (1.0, 200.0));
        // 3 calls per leaf slot (the inactive pair + one active voxel; slot 0 has
        // two), one per tile/tile slot.
        assert_eq!(calls.len(), 3 + 2 + 2 + (Lower::NUM_VALUES - 3));
        a.validate().unwrap();
    }

    #[test]
    fn root_combine_background_sees_last_tile_pair_states() {
        let mut a: Tree<f32> = Tree::new(0.0);
        let mut b: Tree<f32> = Tree::new(0.0);
        a.fill(&cube(c(0, 0, 0), 4096), 1.0, true);
        b.set_value_off(c(5000, 0, 0), 2.0); // a child at a larger key
        let mut seen = Vec::new();
        a.combine_extended(&b, |x, xo, y, yo| {
            seen.push((x, xo, y, yo));
            (x + y, xo || yo)
        });
        // Keys: (0,0,0) tile/tile, (4096,0,0) tile(bg)/child; then the backgrounds
        // with the flags of the (0,0,0) pair.
        assert_eq!(seen[0], (1.0, true, 0.0, false));
        assert_eq!(*seen.last().unwrap(), (0.0, true, 0.0, false));
        assert_eq!(a.probe_value(c(5000, 0, 0)), (2.0, false));
    }

    #[test]
    fn merge_resets_backgrounds_like_openvdb() {
        let mut a: Tree<f32> = Tree::new(1.0);
        let mut b: Tree<f32> = Tree::new(2.0);
        // Root level: b's upper node moves into a missing key: reset 2 -> 1.
        b.set_value(c(5000, 0, 0), 9.0);
        // Below the root: a has an upper node at key 0 with an inactive lower tile where
        // b has a lower node, which moves with reset 1 (a's) -> 2 (b's).
        a.set_value(c(0, 0, 0), 3.0);
        b.set_value(c(200, 0, 0), 4.0);
        b.set_value_off(c(200, 0, 1), 1.0);
        b.set_value_off(c(200, 0, 2), -1.0);
        a.merge(b);
        assert_eq!(a.probe_value(c(5000, 0, 0)), (9.0, true));
        assert_eq!(a.probe_value(c(5000, 0, 1)), (1.0, false));
        assert_eq!(a.probe_value(c(200, 0, 0)), (4.0, true));
        assert_eq!(a.probe_value(c(200, 0, 1)), (2.0, false));
        assert_eq!(a.probe_value(c(200, 0, 2)), (-2.0, false));
        assert_eq!(
            a.probe_value(c(200, 0, 3)),
            (2.0, false),
            "b's own background stays"
        );
        assert_eq!(a.background(), 1.0);
        a.validate().unwrap();
    }
}
