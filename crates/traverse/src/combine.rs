//! Parallel value combination of two trees with the `comp_*` semantics of
//! `sparsevdb-tree` (OpenVDB `tools::compSum` & co., `Tree::combineExtended` with
//! `prune = false`): every root key of either tree is visited, a missing entry is an
//! inactive tile of that tree's background, tiles stay tiles where both sides are
//! tiles, a tile facing a node is combined with every value of the node, the
//! backgrounds are combined last (with the active flags of the last root tile/tile
//! pair, as OpenVDB), nothing is pruned, and `other` is borrowed and left intact.
//!
//! How it runs: the root level is done serially (it decides the structure), then the
//! upper nodes are combined in parallel, and inside each, its lower nodes in parallel;
//! a lower node's leaves are combined on one thread with the leaf kernels (values
//! element-wise, masks word-wise). Where `self` has a tile and `other` a node, the
//! tile is first densified into a node of that tile's value and state and the two
//! nodes are then combined — which gives the same values, states and structure as
//! the tree's serial code (which combines a copy of `other`'s node with the tile).
//!
//! Leaves in either storage form: two dense leaves go through the element-wise
//! kernels; two packed ones through a merge walk of their active values (the result
//! packed, its shared inactive value `f(a.inactive, b.inactive)`); a packed leaf
//! against an inactive tile stays packed; anything else goes voxel by voxel through
//! stack buffers. The storage form of a result may differ from the serial code's;
//! its values and states never do.
//! The operators are pure functions of their operands, so the result is bit for bit
//! the serial one whatever the number of threads (`tests/combine.rs` checks this).

use std::cell::RefCell;

use rayon::prelude::*;
use sparsevdb_tree::{
    Coord, LeafNode, LeafStorage, LeafStorageMut, LowerNode, Mask, Node, Tree, UpperNode, Value,
};

use crate::kernels;
use crate::Real;

/// The operand `other` offers at a slot: a tile or a node.
#[derive(Clone, Copy)]
enum Other<'a, N, T> {
    Tile(T, bool),
    Node(&'a N),
}

/// A combine operator at every level: tile pairs, and leaf buffers against a leaf or a
/// constant.
pub(crate) trait PairOp<T: Value>: Sync {
    /// `(a, a_on) op (b, b_on)` for one tile (or voxel) pair.
    fn tile(&self, a: T, a_on: bool, b: T, b_on: bool) -> (T, bool);
    /// Every voxel of `a` with the corresponding voxel of `b`; `spare` recycles
    /// packed value buffers across the leaves of a lower node (see [`Spare`]).
    fn leaf_leaf<const L0: u32>(
        &self,
        a: &mut LeafNode<T, L0>,
        b: &LeafNode<T, L0>,
        spare: &mut Spare<T>,
    );
    /// Every voxel of `a` with the constant `(b, b_on)`.
    fn leaf_tile<const L0: u32>(&self, a: &mut LeafNode<T, L0>, b: T, b_on: bool);
}

/// Spare packed value buffers, by capacity, shared by the leaves of one lower node:
/// a packed/packed merge whose result no longer fits its leaf's buffer takes one
/// here and leaves its old one, so that most results need no allocation and their
/// old buffers no free (frees of buffers that another thread allocated — e.g. a
/// tree cloned on another thread — are the costly ones). A slab: `bufs[i]` with
/// `next[i]` chains the buffers of one capacity from `head[capacity]`; the slots of
/// taken buffers are reused. Nothing is allocated until the first buffer comes;
/// what is left is dropped with it.
pub(crate) struct Spare<T> {
    bufs: Vec<Vec<T>>,
    next: Vec<u32>,
    head: Vec<u32>,
    free: Vec<u32>,
}

impl<T> Spare<T> {
    const NONE: u32 = u32::MAX;

    fn new() -> Self {
        Spare {
            bufs: Vec::new(),
            next: Vec::new(),
            head: Vec::new(),
            free: Vec::new(),
        }
    }

    /// A spare buffer with a capacity in `lo..=hi` (the smallest first), if any.
    fn take(&mut self, lo: usize, hi: usize) -> Option<Vec<T>> {
        let hi = hi.min(self.head.len().checked_sub(1)?);
        for c in lo..=hi {
            let i = self.head[c];
            if i != Self::NONE {
                self.head[c] = self.next[i as usize];
                self.free.push(i);
                return Some(core::mem::take(&mut self.bufs[i as usize]));
            }
        }
        None
    }

    /// Keeps `v` for a later [`take`](Self::take) (drops it past `voxels` values).
    fn give(&mut self, v: Vec<T>, voxels: usize) {
        let c = v.capacity();
        if c > voxels {
            return;
        }
        if self.head.is_empty() {
            self.head = vec![Self::NONE; voxels + 1];
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.bufs[i as usize] = v;
                i
            }
            None => {
                self.bufs.push(v);
                self.next.push(Self::NONE);
                (self.bufs.len() - 1) as u32
            }
        };
        self.next[i as usize] = self.head[c];
        self.head[c] = i;
    }
}

/// Number of voxels of a leaf.
const fn voxels<T: Value, const L0: u32>() -> usize {
    <LeafNode<T, L0> as Node>::NUM_VALUES
}

/// A packed leaf at `origin` whose inactive voxels hold `inactive` and whose active
/// voxels are `on` (offsets ascending), built in one step; dense past
/// [`LeafNode::PACKED_MAX`] active voxels.
fn packed_leaf<T: Value, const L0: u32>(
    origin: Coord,
    inactive: T,
    on: impl Iterator<Item = (usize, T)>,
) -> LeafNode<T, L0> {
    let mut mask = Mask::<L0>::new(false);
    let values: Vec<T> = on
        .map(|(n, v)| {
            mask.set_on(n);
            v
        })
        .collect();
    LeafNode::from_active(origin, mask, inactive, values).expect("one value per active voxel")
}

/// Replaces the contents of `a` by every voxel's value `vals` and the mask `words`;
/// the tree chooses the form with its hysteresis ([`LeafNode::rewrite`]).
fn store_leaf<T: Value, const L0: u32>(a: &mut LeafNode<T, L0>, vals: &[T], words: &[u64]) {
    let mask = Mask::<L0>::from_words(words).expect("leaf mask words");
    a.rewrite(|values, m| {
        values.copy_from_slice(&vals[..values.len()]);
        *m = mask;
    });
}

/// A leaf's mask words, copied (up to 8).
#[inline]
fn mask_words<T: Value, const L0: u32>(l: &LeafNode<T, L0>) -> [u64; 8] {
    let mut words = [0u64; 8];
    let w = l.value_mask().words();
    words[..w.len()].copy_from_slice(w);
    words
}

/// An extended operator `f(a, a_on, b, b_on) -> (value, active)`, voxel by voxel.
struct Extended<F>(F);

impl<T: Value, F: Fn(T, bool, T, bool) -> (T, bool) + Sync> PairOp<T> for Extended<F> {
    #[inline]
    fn tile(&self, a: T, a_on: bool, b: T, b_on: bool) -> (T, bool) {
        (self.0)(a, a_on, b, b_on)
    }

    fn leaf_leaf<const L0: u32>(
        &self,
        a: &mut LeafNode<T, L0>,
        b: &LeafNode<T, L0>,
        _spare: &mut Spare<T>,
    ) {
        let mut bv = [T::default(); 512];
        b.copy_values_to(&mut bv);
        let bm = mask_words(b);
        self.each(a, |i, v, on| {
            (self.0)(v, on, bv[i], (bm[i >> 6] >> (i & 63)) & 1 != 0)
        });
    }

    fn leaf_tile<const L0: u32>(&self, a: &mut LeafNode<T, L0>, b: T, b_on: bool) {
        self.each(a, |_, v, on| (self.0)(v, on, b, b_on));
    }
}

impl<F> Extended<F> {
    /// Replaces every voxel `(v, on)` of `a` by `g(i, v, on)` (through stack buffers
    /// of every voxel's value, whatever the leaf's form).
    #[inline]
    fn each<T: Value, const L0: u32>(
        &self,
        a: &mut LeafNode<T, L0>,
        mut g: impl FnMut(usize, T, bool) -> (T, bool),
    ) {
        let n = voxels::<T, L0>();
        let mut vals = [T::default(); 512];
        a.copy_values_to(&mut vals);
        let am = mask_words(a);
        let mut words = [0u64; 8];
        for (i, v) in vals[..n].iter_mut().enumerate() {
            let (r, on) = g(i, *v, (am[i >> 6] >> (i & 63)) & 1 != 0);
            *v = r;
            words[i >> 6] |= u64::from(on) << (i & 63);
        }
        let w = a.value_mask().words().len();
        store_leaf(a, &vals[..n], &words[..w]);
    }
}

/// A value operator `f(a, b)` whose result is active where either operand is (the
/// simple `comp_*` operators and the scaled add), with its kernels.
trait UnionOp<T: Value>: Sync {
    /// `f(a, b)` for one pair.
    fn value(&self, a: T, b: T) -> T;
    /// `a[i] = f(a[i], b[i])`, every `i` (the same bits as [`value`](Self::value)).
    fn zip(&self, a: &mut [T], b: &[T]);
    /// `a[i] = f(a[i], b)`, every `i`.
    fn with_const(&self, a: &mut [T], b: T);
}

/// A union operator as a [`PairOp`]: every union operator combines tiles and leaves
/// the same way — `value`, active where either operand is, leaves through
/// [`union_leaf_leaf`] / [`union_leaf_tile`].
struct Union<U>(U);

impl<T: Value, U: UnionOp<T>> PairOp<T> for Union<U> {
    #[inline]
    fn tile(&self, a: T, a_on: bool, b: T, b_on: bool) -> (T, bool) {
        (self.0.value(a, b), a_on || b_on)
    }

    fn leaf_leaf<const L0: u32>(
        &self,
        a: &mut LeafNode<T, L0>,
        b: &LeafNode<T, L0>,
        spare: &mut Spare<T>,
    ) {
        union_leaf_leaf(&self.0, a, b, spare);
    }

    fn leaf_tile<const L0: u32>(&self, a: &mut LeafNode<T, L0>, b: T, b_on: bool) {
        union_leaf_tile(&self.0, a, b, b_on);
    }
}

/// Every voxel of `a` combined with the corresponding voxel of `b` by `op`, active
/// where either is:
/// - both dense: the element-wise kernel over the buffers, masks OR-ed;
/// - both packed: a merge walk over the union of the masks, into a packed leaf
///   whose inactive voxels hold `f(a.inactive, b.inactive)` (what every voxel
///   inactive in both becomes), its values in `a`'s buffer when it fits, else in
///   one from `spare` (where `a`'s old one goes);
/// - mixed: every voxel through stack buffers, then [`store_leaf`].
fn union_leaf_leaf<T: Value, Op: UnionOp<T>, const L0: u32>(
    op: &Op,
    a: &mut LeafNode<T, L0>,
    b: &LeafNode<T, L0>,
    spare: &mut Spare<T>,
) {
    match (a.storage(), b.storage()) {
        (LeafStorage::Dense(_), LeafStorage::Dense(bv)) => {
            if let LeafStorageMut::Dense { values, .. } = a.storage_mut() {
                op.zip(values, bv);
            }
            // `a` is dense: `value_mask_mut` converts nothing.
            a.value_mask_mut().union_with(b.value_mask());
        }
        (
            LeafStorage::Packed { inactive: ai, .. },
            LeafStorage::Packed {
                active: bv,
                inactive: bi,
            },
        ) if a.value_mask() == b.value_mask() && T::same_bits(op.value(ai, bi), ai) => {
            // The same active voxels and an unchanged shared inactive value: the
            // element-wise kernel over the two active slices, in place.
            if let LeafStorageMut::Packed { active, .. } = a.storage_mut() {
                op.zip(active, bv);
            }
        }
        (LeafStorage::Packed { .. }, LeafStorage::Packed { .. }) => {
            // The tree's merge over the union of the masks (`op` once for the voxels
            // inactive in both, which is the new shared inactive value).
            // Its value buffer recycled through `spare`.
            let spare = RefCell::new(spare);
            a.combine_extended_with_buffers(
                b,
                |x, xo, y, yo| (op.value(x, y), xo || yo),
                |lo, hi| spare.borrow_mut().take(lo, hi),
                |v| spare.borrow_mut().give(v, voxels::<T, L0>()),
            );
        }
        _ => {
            let n = voxels::<T, L0>();
            let (mut x, mut y) = ([T::default(); 512], [T::default(); 512]);
            a.copy_values_to(&mut x);
            b.copy_values_to(&mut y);
            op.zip(&mut x[..n], &y[..n]);
            let mut words = mask_words(a);
            for (w, &bw) in words.iter_mut().zip(b.value_mask().words()) {
                *w |= bw;
            }
            let w = b.value_mask().words().len();
            store_leaf(a, &x[..n], &words[..w]);
        }
    }
}

/// Every voxel of `a` combined with the constant `b` by `op`, active where `a` is or
/// everywhere when `b_on`. A packed `a` with an inactive `b` stays packed (its shared
/// inactive value becomes `f(inactive, b)`); with an active `b` every voxel becomes
/// active, so the leaf turns dense.
fn union_leaf_tile<T: Value, Op: UnionOp<T>, const L0: u32>(
    op: &Op,
    a: &mut LeafNode<T, L0>,
    b: T,
    b_on: bool,
) {
    if let (LeafStorage::Packed { active, inactive }, false) = (a.storage(), b_on) {
        let new_inactive = op.value(inactive, b);
        if !T::same_bits(new_inactive, inactive) {
            let on = a
                .value_mask()
                .iter_on()
                .zip(active)
                .map(|(n, &v)| (n, op.value(v, b)));
            let leaf = packed_leaf(a.origin(), new_inactive, on);
            *a = leaf;
            return;
        }
        if let LeafStorageMut::Packed { active, .. } = a.storage_mut() {
            op.with_const(active, b);
        }
        return;
    }
    op.with_const(a.make_dense(), b);
    if b_on {
        *a.value_mask_mut() = Mask::new(true);
    }
}

/// A value operator `f(a, b)`, the result active where either operand is (what
/// `comp_sum`, `comp_max`, `comp_min`, `comp_mul` and `combine` use): values
/// element-wise through [`kernels::zip_apply`] / [`kernels::map`], masks OR-ed.
struct Simple<F>(F);

impl<T: Value, F: Fn(T, T) -> T + Sync> UnionOp<T> for Simple<F> {
    #[inline]
    fn value(&self, a: T, b: T) -> T {
        (self.0)(a, b)
    }

    fn zip(&self, a: &mut [T], b: &[T]) {
        kernels::zip_apply(a, b, &self.0);
    }

    fn with_const(&self, a: &mut [T], b: T) {
        let f = &self.0;
        kernels::map(a, &|v| f(v, b));
    }
}

/// `a + s·b` (multiply then add), the result active where either operand is: the
/// dense leaf kernel is [`Real::scaled_add`].
struct ScaledAdd<T>(T);

impl<T: Real> UnionOp<T> for ScaledAdd<T> {
    #[inline]
    fn value(&self, a: T, b: T) -> T {
        a + self.0 * b
    }

    fn zip(&self, a: &mut [T], b: &[T]) {
        T::scaled_add(a, self.0, b);
    }

    fn with_const(&self, a: &mut [T], b: T) {
        let sb = self.0 * b;
        kernels::map(a, &|v| v + sb);
    }
}

/// The engine: root level serially, then upper nodes and their lower nodes in parallel.
fn combine_par<T, Op, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
    op: &Op,
) where
    T: Value,
    Op: PairOp<T>,
{
    let (bg_a, bg_b) = (a.background(), b.background());
    let keys_of = |t: &Tree<T, L2, L1, L0>| -> Vec<Coord> {
        let root = t.root();
        root.children()
            .map(|c| c.origin())
            .chain(root.tiles().map(|(k, _, _)| k))
            .collect()
    };
    let mut keys = keys_of(a);
    keys.extend(keys_of(b));
    keys.sort_unstable();
    keys.dedup();

    type UpperOther<'b, T, const L2: u32, const L1: u32, const L0: u32> =
        Other<'b, UpperNode<T, L2, L1, L0>, T>;
    let mut operands: Vec<(Coord, UpperOther<'_, T, L2, L1, L0>)> = Vec::new();
    let mut last = (false, false);
    for key in keys {
        let a_tile = match a.root().child_at(key) {
            Some(_) => None,
            None => Some(a.root().tile_at(key).unwrap_or((bg_a, false))),
        };
        let theirs = match b.root().child_at(key) {
            Some(c) => Other::Node(c),
            None => {
                let (v, on) = b.root().tile_at(key).unwrap_or((bg_b, false));
                Other::Tile(v, on)
            }
        };
        match (a_tile, theirs) {
            (Some((av, aon)), Other::Tile(bv, bon)) => {
                let (r, on) = op.tile(av, aon, bv, bon);
                last = (aon, bon);
                a.root_mut().set_tile(key, r, on);
            }
            (Some(_), node @ Other::Node(_)) => {
                a.root_mut().densify(key);
                operands.push((key, node));
            }
            (None, other) => operands.push((key, other)),
        }
    }
    let (bg, _) = op.tile(bg_a, last.0, bg_b, last.1);

    let uppers: Vec<&mut UpperNode<T, L2, L1, L0>> = a.root_mut().children_mut().collect();
    assert_eq!(uppers.len(), operands.len(), "one operand per upper node");
    uppers
        .into_par_iter()
        .zip(operands)
        .for_each(|(upper, (key, other))| {
            debug_assert_eq!(upper.origin(), key);
            combine_upper(upper, other, op);
        });
    a.root_mut().set_background_only(bg);
}

fn combine_upper<T: Value, Op: PairOp<T>, const L2: u32, const L1: u32, const L0: u32>(
    upper: &mut UpperNode<T, L2, L1, L0>,
    other: Other<'_, UpperNode<T, L2, L1, L0>, T>,
    op: &Op,
) {
    type Upper<T, const L2: u32, const L1: u32, const L0: u32> = UpperNode<T, L2, L1, L0>;
    match other {
        Other::Tile(bv, bon) => {
            for n in 0..Upper::<T, L2, L1, L0>::NUM_VALUES {
                if let Some((v, on)) = upper.tile(n) {
                    let (r, ron) = op.tile(v, on, bv, bon);
                    upper.set_tile(n, r, ron);
                }
            }
            let lowers: Vec<_> = upper.children_mut().collect();
            lowers
                .into_par_iter()
                .for_each(|lower| combine_lower(lower, Other::Tile(bv, bon), op));
        }
        Other::Node(theirs) => {
            for n in 0..Upper::<T, L2, L1, L0>::NUM_VALUES {
                match (upper.tile(n), theirs.child(n)) {
                    (Some((v, on)), None) => {
                        let (bv, bon) = theirs.tile(n).expect("a tile where there is no child");
                        let (r, ron) = op.tile(v, on, bv, bon);
                        upper.set_tile(n, r, ron);
                    }
                    (Some(_), Some(_)) => {
                        upper.densify(n);
                    }
                    (None, _) => {}
                }
            }
            let work: Vec<_> = upper
                .children_mut()
                .map(|lower| {
                    let n = Upper::<T, L2, L1, L0>::coord_to_offset(lower.origin());
                    let o = match theirs.child(n) {
                        Some(c) => Other::Node(c),
                        None => {
                            let (v, on) = theirs.tile(n).expect("a tile where there is no child");
                            Other::Tile(v, on)
                        }
                    };
                    (lower, o)
                })
                .collect();
            work.into_par_iter()
                .for_each(|(lower, o)| combine_lower(lower, o, op));
        }
    }
}

fn combine_lower<T: Value, Op: PairOp<T>, const L1: u32, const L0: u32>(
    lower: &mut LowerNode<T, L1, L0>,
    other: Other<'_, LowerNode<T, L1, L0>, T>,
    op: &Op,
) {
    // Tiny leaves (decision 0011) against tiny leaves and tiles are combined in the
    // node (`combine_tiny`); elsewhere they take part as leaf objects. Small leaves go
    // back to tiny at the end, as in the tree's serial combination.
    match other {
        Other::Tile(bv, bon) => {
            lower.promote_tiny_leaves();
            for leaf in lower.children_mut() {
                op.leaf_tile(leaf, bv, bon);
            }
            lower.map_tiles(None, |_, v, on| op.tile(v, on, bv, bon));
        }
        Other::Node(theirs) => {
            let done = lower.combine_tiny(theirs, &mut |a, ao, b, bo| op.tile(a, ao, b, bo));
            let mut spare = Spare::new();
            // `theirs`'s tiny leaves one at a time as leaf objects (a copy of the whole
            // node with its tiny leaves promoted would copy every leaf).
            let b_tiny = (theirs.tiny_leaf_count() > 0)
                .then(|| Mask::<L1>::from_on_bits(theirs.tiny_leaves().map(|(n, _, _)| n)));
            // The slots with a leaf on either side (ours are objects now: our tiny
            // leaves left are in `done`), in slot order; the tiles facing tiles after.
            let mut leaf_slots = lower.child_mask().clone();
            leaf_slots.union_with(theirs.child_mask());
            if let Some(m) = &b_tiny {
                leaf_slots.union_with(m);
            }
            for n in leaf_slots.iter_on() {
                if done.is_on(n) {
                    continue;
                }
                let tiny;
                let b_child = match theirs.child(n) {
                    Some(c) => Some(c),
                    None if b_tiny.as_ref().is_some_and(|m| m.is_on(n)) => {
                        tiny = theirs.leaf(n).expect("a tiny leaf").to_node();
                        Some(&tiny)
                    }
                    None => None,
                };
                match (lower.child_mask().is_on(n), b_child) {
                    (false, Some(b_leaf)) => op.leaf_leaf(lower.densify(n), b_leaf, &mut spare),
                    (true, Some(b_leaf)) => {
                        op.leaf_leaf(lower.child_mut(n).expect("a child"), b_leaf, &mut spare)
                    }
                    (true, None) => {
                        let (bv, bon) = theirs.tile_where_no_leaf(n);
                        op.leaf_tile(lower.child_mut(n).expect("a child"), bv, bon);
                    }
                    (false, None) => unreachable!("a slot with a leaf on one side"),
                }
            }
            lower.map_tiles(Some(&done), |n, v, on| {
                let (bv, bon) = theirs.tile_where_no_leaf(n);
                op.tile(v, on, bv, bon)
            });
        }
    }
    lower.pack_small_leaves();
}

/// Parallel [`Tree::comp_sum`]: `a = a + b` over the union of both trees, active
/// where either is active, backgrounds added; same result, bit for bit.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<f32> = Tree::new(1.0);
/// let mut b: Tree<f32> = Tree::new(2.0);
/// a.set_value(Coord::new(0, 0, 0), 10.0);
/// b.set_value(Coord::new(0, 0, 1), 20.0);
/// b.set_value(Coord::new(5000, 0, 0), 30.0);
/// let mut serial = a.clone();
/// serial.comp_sum(&b);
/// sparsevdb_traverse::comp_sum(&mut a, &b);
/// assert_eq!(a, serial);
/// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (21.0, true));
/// assert_eq!(a.background(), 3.0);
/// ```
pub fn comp_sum<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
) {
    combine_par(a, b, &Union(Simple(T::add)));
}

/// Parallel [`Tree::comp_mul`]: `a = a · b` (comp semantics; see [`comp_sum`]).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<f32> = Tree::new(1.0);
/// let mut b: Tree<f32> = Tree::new(3.0);
/// a.set_value(Coord::new(0, 0, 0), 2.0);
/// b.set_value(Coord::new(0, 0, 0), 4.0);
/// sparsevdb_traverse::comp_mul(&mut a, &b);
/// assert_eq!(a.get_value(Coord::new(0, 0, 0)), 8.0);
/// assert_eq!(a.background(), 3.0);
/// ```
pub fn comp_mul<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
) {
    combine_par(a, b, &Union(Simple(T::mul)));
}

/// Parallel [`Tree::comp_max`]: `a = max(a, b)` with `std::max`'s rule (comp
/// semantics; see [`comp_sum`]).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<f32> = Tree::new(0.0);
/// let mut b: Tree<f32> = Tree::new(-1.0);
/// b.set_value(Coord::new(0, 0, 0), 4.0);
/// sparsevdb_traverse::comp_max(&mut a, &b);
/// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (4.0, true));
/// assert_eq!(a.background(), 0.0);
/// ```
pub fn comp_max<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
) {
    combine_par(a, b, &Union(Simple(T::max_value)));
}

/// Parallel [`Tree::comp_min`]: `a = min(a, b)` with `std::min`'s rule (comp
/// semantics; see [`comp_sum`]).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<i32> = Tree::new(0);
/// let mut b: Tree<i32> = Tree::new(5);
/// a.set_value(Coord::new(0, 0, 0), 7);
/// b.set_value(Coord::new(0, 0, 0), 6);
/// sparsevdb_traverse::comp_min(&mut a, &b);
/// assert_eq!(a.get_value(Coord::new(0, 0, 0)), 6);
/// ```
pub fn comp_min<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
) {
    combine_par(a, b, &Union(Simple(T::min_value)));
}

/// Parallel [`Tree::combine`]: `a = f(a, b)` for every pair of corresponding values,
/// active where either is active, backgrounds combined (comp semantics; see
/// [`comp_sum`]). `f` must be a pure function: it runs on many threads, in no fixed
/// order, possibly on more or on fewer values than the serial version (e.g. once for
/// all the voxels that are inactive in two packed leaves, which share one value).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<f32> = Tree::new(0.0);
/// let mut b: Tree<f32> = Tree::new(10.0);
/// a.set_value(Coord::new(0, 0, 0), 1.0);
/// b.set_value_off(Coord::new(0, 0, 0), 3.0);
/// sparsevdb_traverse::combine(&mut a, &b, |x, y| x - y);
/// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (-2.0, true));
/// assert_eq!(a.background(), -10.0);
/// ```
pub fn combine<T, F, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
    f: F,
) where
    T: Value,
    F: Fn(T, T) -> T + Sync,
{
    combine_par(a, b, &Union(Simple(f)));
}

/// Parallel [`Tree::combine_extended`]: `(a, a_on) = f(a, a_on, b, b_on)` for every
/// pair of corresponding values (comp semantics; see [`comp_sum`]; the backgrounds
/// get the flags of the last root tile pair, as in the tree). `f` must be pure.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<f32> = Tree::new(0.0);
/// let mut b: Tree<f32> = Tree::new(0.0);
/// a.set_value(Coord::new(0, 0, 0), 1.0);
/// b.set_value(Coord::new(0, 0, 0), 5.0);
/// b.set_value(Coord::new(0, 0, 1), 7.0);
/// sparsevdb_traverse::combine_extended(&mut a, &b, |a, a_on, b, b_on| {
///     if a_on && b_on { (b, true) } else { (a, false) }
/// });
/// assert_eq!(a.probe_value(Coord::new(0, 0, 0)), (5.0, true));
/// assert_eq!(a.probe_value(Coord::new(0, 0, 1)), (0.0, false));
/// ```
pub fn combine_extended<T, F, const L2: u32, const L1: u32, const L0: u32>(
    a: &mut Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
    f: F,
) where
    T: Value,
    F: Fn(T, bool, T, bool) -> (T, bool) + Sync,
{
    combine_par(a, b, &Extended(f));
}

/// `y = y + a·x` over the union of both trees (comp semantics: every value of `y`
/// is combined with the corresponding value of `x`, the result is active where
/// either is, the backgrounds become `y.bg + a·x.bg`). The dense leaf kernel is
/// [`Real::scaled_add`] (SIMD for `f32`); multiply then add, never fused, so the
/// result equals `y.combine(x, |y, x| y + a * x)` bit for bit.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut y: Tree<f32> = Tree::new(0.0);
/// let mut x: Tree<f32> = Tree::new(0.0);
/// y.set_value(Coord::new(0, 0, 0), 1.0);
/// x.set_value(Coord::new(0, 0, 0), 2.0);
/// x.set_value(Coord::new(9000, 0, 0), 4.0);
/// sparsevdb_traverse::axpy(&mut y, 0.5, &x);
/// assert_eq!(y.get_value(Coord::new(0, 0, 0)), 2.0);
/// assert_eq!(y.probe_value(Coord::new(9000, 0, 0)), (2.0, true));
/// ```
pub fn axpy<T: Real, const L2: u32, const L1: u32, const L0: u32>(
    y: &mut Tree<T, L2, L1, L0>,
    a: T,
    x: &Tree<T, L2, L1, L0>,
) {
    combine_par(y, x, &Union(ScaledAdd(a)));
}

/// A gradient step `w = w − lr·g` over the union of both trees: where only `g` has
/// a node, `w` gets one (its values from `w`'s tile or background, minus `lr·g`);
/// the result is active where either is; `g` is borrowed and left intact, so no
/// value is lost. The backgrounds become `w.bg − lr·g.bg` (unchanged when `g`'s
/// background is 0). Computed as `w + (−lr)·g` by [`axpy`], which gives the same
/// bits as `w − lr·g`.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut w: Tree<f32> = Tree::new(0.0);
/// let mut g: Tree<f32> = Tree::new(0.0);
/// w.set_value(Coord::new(0, 0, 0), 1.0);
/// g.set_value(Coord::new(0, 0, 0), 2.0);
/// g.set_value(Coord::new(100, 0, 0), 1.0);
/// sparsevdb_traverse::apply_gradient(&mut w, &g, 0.25);
/// assert_eq!(w.get_value(Coord::new(0, 0, 0)), 0.5);
/// assert_eq!(w.probe_value(Coord::new(100, 0, 0)), (-0.25, true));
/// assert_eq!(g.get_value(Coord::new(100, 0, 0)), 1.0, "g is intact");
/// ```
pub fn apply_gradient<T: Real, const L2: u32, const L1: u32, const L0: u32>(
    w: &mut Tree<T, L2, L1, L0>,
    g: &Tree<T, L2, L1, L0>,
    lr: T,
) {
    combine_par(w, g, &Union(ScaledAdd(-lr)));
}

/// Linear interpolation `a + t·(b − a)` of two trees into a new tree, over the
/// union of both (comp semantics: active where either is active, the backgrounds
/// interpolated too).
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut a: Tree<f32> = Tree::new(0.0);
/// let mut b: Tree<f32> = Tree::new(2.0);
/// a.set_value(Coord::new(0, 0, 0), 1.0);
/// b.set_value(Coord::new(0, 0, 0), 3.0);
/// let m = sparsevdb_traverse::lerp(&a, &b, 0.5);
/// assert_eq!(m.get_value(Coord::new(0, 0, 0)), 2.0);
/// assert_eq!(m.background(), 1.0);
/// ```
pub fn lerp<T: Real, const L2: u32, const L1: u32, const L0: u32>(
    a: &Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
    t: T,
) -> Tree<T, L2, L1, L0> {
    let mut out = a.clone();
    combine_par(
        &mut out,
        b,
        &Union(Simple(move |x: T, y: T| x + t * (y - x))),
    );
    out
}
