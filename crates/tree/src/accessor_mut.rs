//! [`ValueAccessorMut`]: the read-write cached accessor (OpenVDB `ValueAccessor` on a
//! mutable tree). It holds the tree's unique borrow and caches a pointer to the last
//! lower node and leaf it visited, keyed by `xyz & !(DIM − 1)`, so that a coherent run
//! of writes costs one key compare and one store per voxel; and the lower node it
//! visited before that, so that a scan going back and forth across a lower-node
//! boundary (each z column of `sphere` crosses z = 0) swaps the two instead of
//! walking from the root.
//!
//! This is the crate's only `unsafe` (decision 0008): a cached node is reached
//! through a raw pointer instead of being looked up again from the root. It is sound
//! because
//! - the accessor owns the tree's `&mut` borrow for its whole life, so nothing else
//!   reads or writes the tree meanwhile;
//! - every node is a `Box` allocation whose address never changes, and the accessor's
//!   operations (point writes and reads) never free a node — they only replace tiles
//!   by new children;
//! - a pointer is only used until the next walk from the root or from the cached lower
//!   node, which re-derives every cached pointer from the fresh `&mut` borrows of that
//!   walk (so no stale pointer is used under Stacked or Tree Borrows; Miri runs the
//!   tests of this module and the model-based property tests) — except the other
//!   lower node's: a walk to a *different* lower node re-borrows only the root, the
//!   upper node and that lower node, never the other one's allocation, so its pointer
//!   stays valid; it is forgotten before any walk that reaches it and before any write
//!   through the root (which may rebuild an upper node's child table, moving the
//!   boxes).
//!
//! A benchmark shows it pays: the `sphere` build (coherent writes) ran at 2.6× OpenVDB
//! 10's time with the safe index-path cache this replaced (`docs/performance.md`).

use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::leaf::LeafNode;
use crate::node::Node;
use crate::root::RootSlot;
use crate::tree::{LowerNode, UpperNode};
use crate::{Coord, Tree, Value};

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
pub struct ValueAccessorMut<
    'a,
    T: Value,
    const L2: u32 = 5,
    const L1: u32 = 4,
    const L0: u32 = 3,
    const D: bool = false,
> {
    tree: &'a mut Tree<T, L2, L1, L0, D>,
    leaf_key: Option<Coord>,
    leaf: Option<NonNull<LeafNode<T, L0, D>>>,
    lower_key: Option<Coord>,
    lower: Option<NonNull<LowerNode<T, L1, L0, D>>>,
    /// The lower node cached before `lower` (a run of writes that goes back and
    /// forth between two lower nodes, as a scan crossing a node boundary does, then
    /// needs no walk from the root). Forgotten whenever a write goes through the
    /// root, which may change the tables above the lower nodes.
    other_lower_key: Option<Coord>,
    other_lower: Option<NonNull<LowerNode<T, L1, L0, D>>>,
    _borrow: PhantomData<&'a mut LeafNode<T, L0, D>>,
}

// SAFETY: the accessor is a unique borrow of the tree plus pointers into it; it can
// move to another thread exactly when `&mut Tree` can (`T: Send + Sync` via `Value`).
unsafe impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Send
    for ValueAccessorMut<'_, T, L2, L1, L0, D>
{
}
// SAFETY: see `Send` above; `&ValueAccessorMut` offers no method at all.
unsafe impl<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool> Sync
    for ValueAccessorMut<'_, T, L2, L1, L0, D>
{
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

impl<'a, T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>
    ValueAccessorMut<'a, T, L2, L1, L0, D>
{
    const LEAF_MASK: i32 = !((1i32 << L0) - 1);
    const LOWER_MASK: i32 = !((1i32 << (L1 + L0)) - 1);

    pub(crate) fn new(tree: &'a mut Tree<T, L2, L1, L0, D>) -> Self {
        ValueAccessorMut {
            tree,
            leaf_key: None,
            leaf: None,
            lower_key: None,
            lower: None,
            other_lower_key: None,
            other_lower: None,
            _borrow: PhantomData,
        }
    }

    /// The cached leaf, if it holds `c`.
    #[inline(always)]
    fn cached_leaf(&mut self, c: Coord) -> Option<&mut LeafNode<T, L0, D>> {
        if self.leaf_key != Some(c.mask(Self::LEAF_MASK)) {
            return None;
        }
        let mut leaf = self.leaf?;
        // The pointer was derived from a `&mut` to a live leaf of `*self.tree` by the last
        // walk (`cache_leaf_of`), and no other path to that leaf has been used since.
        // SAFETY: the leaf is alive (the accessor never frees nodes and owns the tree's
        // only borrow); the result borrows `self` mutably, so it is the only reference.
        Some(unsafe { leaf.as_mut() })
    }

    /// The cached lower node, if it holds `c`.
    #[inline(always)]
    fn cached_lower(&mut self, c: Coord) -> Option<&mut LowerNode<T, L1, L0, D>> {
        if self.lower_key != Some(c.mask(Self::LOWER_MASK)) {
            return None;
        }
        let mut lower = self.lower?;
        // SAFETY: as in `cached_leaf`: derived by the last walk from a `&mut` borrow of a
        // live node of `*self.tree`, used only through `&mut self`.
        Some(unsafe { lower.as_mut() })
    }

    /// Caches the leaf holding `c` below `lower` (or forgets the leaf cache).
    #[inline]
    fn cache_leaf_of(&mut self, mut lower: NonNull<LowerNode<T, L1, L0, D>>, c: Coord) {
        // SAFETY: `lower` comes from `cached_lower` or `recache` in this same call, derived
        // from the tree's unique borrow; no other reference to it is alive here.
        let lower = unsafe { lower.as_mut() };
        let slot = LowerNode::<T, L1, L0, D>::coord_to_offset(c);
        match lower.child_mut(slot) {
            Some(leaf) => {
                self.leaf_key = Some(c.mask(Self::LEAF_MASK));
                self.leaf = Some(NonNull::from(leaf));
            }
            None => {
                self.leaf_key = None;
                self.leaf = None;
            }
        }
    }

    /// Walks from the root to `c` and caches the lower node and leaf that exist.
    fn recache(&mut self, c: Coord) {
        self.leaf_key = None;
        self.leaf = None;
        self.lower_key = None;
        self.lower = None;
        if self.other_lower_key == Some(c.mask(Self::LOWER_MASK)) {
            // The walk re-borrows that node: the older pointer to it must go.
            self.forget_other_lower();
        }
        let root = &mut self.tree.root;
        let Some(ri) = root.find(c) else { return };
        let RootSlot::Child(upper) = &mut root.entries[ri].slot else {
            return;
        };
        let slot = UpperNode::<T, L2, L1, L0, D>::coord_to_offset(c);
        let Some(lower) = upper.child_mut(slot) else {
            return;
        };
        let lower = NonNull::from(lower);
        self.lower_key = Some(c.mask(Self::LOWER_MASK));
        self.lower = Some(lower);
        self.cache_leaf_of(lower, c);
    }

    /// Caches the lower node holding `c` and its leaf, where they exist: the other
    /// cached lower node when it holds `c` (the two swap), else a walk from the root
    /// (the lower node cached so far becomes the other one). `c` comes by
    /// reference: passed by value, its `i32` halves were stored apart and reloaded
    /// as one 8-byte word at every switch, a store-forwarding stall.
    #[inline(never)]
    fn switch_lower(&mut self, c: &Coord) {
        let c = *c;
        let key = c.mask(Self::LOWER_MASK);
        if let (true, Some(other)) = (self.other_lower_key == Some(key), self.other_lower) {
            self.other_lower_key = self.lower_key;
            self.other_lower = self.lower;
            self.lower_key = Some(key);
            self.lower = Some(other);
            return self.cache_leaf_of(other, c);
        }
        let (previous_key, previous) = (self.lower_key, self.lower);
        self.recache(c);
        if previous.is_some() {
            self.other_lower_key = previous_key;
            self.other_lower = previous;
        }
    }

    /// Forgets the other cached lower node (before a write through the root).
    #[inline]
    fn forget_other_lower(&mut self) {
        self.other_lower_key = None;
        self.other_lower = None;
    }

    /// Applies a write through the deepest cached node, then refreshes the cache.
    #[inline]
    fn write(&mut self, c: Coord, w: Write<T>) {
        if let Some(leaf) = self.cached_leaf(c) {
            return w.apply(leaf, c);
        }
        if self.lower_key != Some(c.mask(Self::LOWER_MASK)) {
            // Another lower node: find it and its leaf where they exist (then the
            // write needs no walk of its own).
            self.switch_lower(&c);
            if let Some(leaf) = self.cached_leaf(c) {
                return w.apply(leaf, c);
            }
        }
        if let Some(lower) = self.cached_lower(c) {
            w.apply(lower, c);
            let lower = NonNull::from(lower);
            return self.cache_leaf_of(lower, c);
        }
        self.forget_other_lower();
        let root = &mut self.tree.root;
        match w {
            Write::On(v) => root.set_value_on(c, v),
            Write::Off(v) => root.set_value_off(c, v),
            Write::Only(v) => root.set_value_only(c, v),
            Write::Active(on) => root.set_active(c, on),
        }
        self.recache(c);
    }

    /// Value and active state at `c`.
    #[inline]
    pub fn probe_value(&mut self, c: Coord) -> (T, bool) {
        if let Some(leaf) = self.cached_leaf(c) {
            return leaf.probe_value(c);
        }
        if self.lower_key != Some(c.mask(Self::LOWER_MASK)) {
            self.switch_lower(&c);
            if let Some(leaf) = self.cached_leaf(c) {
                return leaf.probe_value(c);
            }
        }
        if let Some(lower) = self.cached_lower(c) {
            let r = lower.probe_value(c);
            let lower = NonNull::from(lower);
            self.cache_leaf_of(lower, c);
            return r;
        }
        // No lower node holds `c`: a read from the root (no node below it is
        // borrowed mutably, so both cached lower nodes stay valid).
        self.tree.root.probe_value(c)
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
        if let Some(lower) = self.cached_lower(c) {
            lower.modify_value(c, f);
            let lower = NonNull::from(lower);
            return self.cache_leaf_of(lower, c);
        }
        self.forget_other_lower();
        self.tree.root.modify_value(c, f);
        self.recache(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small nodes under Miri (same code paths, far fewer slots to interpret).
    #[cfg(miri)]
    type T = Tree<f32, 2, 2, 1>;
    #[cfg(not(miri))]
    type T = Tree<f32>;
    /// The side of a lower node of `T`.
    const LOWER_SIDE: i32 = if cfg!(miri) {
        1 << (2 + 1)
    } else {
        1 << (4 + 3)
    };

    /// Interleaves cached and uncached writes so that the pointers are re-derived in
    /// every way (leaf hit, lower hit with a new leaf, root walk, tiles densified) —
    /// the test Miri runs to check the pointer discipline.
    #[test]
    fn cached_writes_agree_with_plain_writes() {
        let mut a = T::with_background(0.0);
        let mut b = T::with_background(0.0);
        a.fill(
            &crate::CoordBBox::new(Coord::new(0, 0, 0), Coord::new(15, 15, 15)),
            1.0,
            true,
        );
        b.fill(
            &crate::CoordBBox::new(Coord::new(0, 0, 0), Coord::new(15, 15, 15)),
            1.0,
            true,
        );
        let coords = [
            (1, 1, 1),
            (2, 1, 1),
            (9, 1, 1),
            (130, 0, 0),
            (1, 1, 2),
            (-1, -1, -1),
            (5000, 3, 3),
            (9, 1, 2),
            (1, 1, 1),
            (200, 0, 0),
        ];
        {
            let mut acc = a.accessor_mut();
            for (i, &(x, y, z)) in coords.iter().cycle().take(60).enumerate() {
                let c = Coord::new(x, y, z);
                let v = i as f32;
                match i % 5 {
                    0 => acc.set_value(c, v),
                    1 => acc.set_value_off(c, v),
                    2 => acc.set_value_only(c, v),
                    3 => acc.set_active(c, i % 2 == 0),
                    _ => acc.modify_value(c, |x| *x += 1.0),
                }
                match i % 5 {
                    0 => b.set_value(c, v),
                    1 => b.set_value_off(c, v),
                    2 => b.set_value_only(c, v),
                    3 => b.set_active(c, i % 2 == 0),
                    _ => b.modify_value(c, |x| *x += 1.0),
                }
                assert_eq!(acc.probe_value(c), b.probe_value(c));
            }
        }
        a.validate().unwrap();
        assert!(a == b);
    }

    /// Runs of writes and reads going back and forth between two lower nodes (the
    /// two cached ones swap), now and then a third one or a new one (a walk from the
    /// root, a write through the root), and reads where no lower node exists — the
    /// paths that keep or forget the other cached lower node, under Miri too.
    #[test]
    fn alternating_lower_nodes_agree_with_plain_writes() {
        let span = LOWER_SIDE;
        let mut a = T::with_background(0.0);
        let mut b = T::with_background(0.0);
        {
            let mut acc = a.accessor_mut();
            for i in 0..if cfg!(miri) { 40 } else { 400 } {
                let z = (i % 3) - 1; // -1, 0, 1: two lower nodes along z
                let far = if i % 7 == 6 { 3 * span * (i / 7) } else { 0 };
                let c = Coord::new(far + i % span, 1, z);
                let v = i as f32;
                if i % 4 == 3 {
                    acc.set_value_off(c, v);
                    b.set_value_off(c, v);
                } else if i % 5 == 4 {
                    // Through the root when the lower node is not the cached one.
                    acc.modify_value(c, |x| *x += 0.5);
                    b.modify_value(c, |x| *x += 0.5);
                } else {
                    acc.set_value(c, v);
                    b.set_value(c, v);
                }
                let elsewhere = Coord::new(i % span, 2, -z);
                assert_eq!(acc.probe_value(elsewhere), b.probe_value(elsewhere));
                let nowhere = Coord::new(-5 * span, 0, z);
                assert_eq!(acc.probe_value(nowhere), (0.0, false));
                assert_eq!(acc.probe_value(c), b.probe_value(c));
            }
        }
        a.validate().unwrap();
        assert!(a == b);
    }
}
