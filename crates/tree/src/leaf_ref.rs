//! [`LeafRef`]: a read-only view of one leaf of a tree, whichever way the tree stores
//! it — a [`LeafNode`] object, or a *tiny leaf* kept inside its lower node (decision
//! 0011), which has no object to borrow. Tree-wide leaf iteration
//! ([`Tree::leaves`](crate::Tree::leaves), [`InternalNode::leaves`]) yields these.

use crate::internal::InternalNode;
use crate::leaf::{LeafNode, LeafStorage};
use crate::mask::Mask;
use crate::node::Node;
use crate::tiny::TinyLeafIter;
use crate::{Coord, CoordBBox, Value};

use std::sync::OnceLock;

/// What a view shows: a leaf object, or a tiny leaf's offsets (and the mask built
/// from them the first time it is asked for).
#[derive(Clone, Debug)]
enum Kind<'a, T, const LOG2: u32, const D: bool> {
    Node(&'a LeafNode<T, LOG2, D>),
    Tiny {
        offsets: &'a [u16],
        mask: OnceLock<Mask<LOG2>>,
        /// The leaf's share of its store's index (slots and starts), in bytes.
        index_bytes: usize,
    },
}

/// A read-only view of a leaf: its origin, active mask and values (see
/// [`LeafStorage`]). A tiny leaf shows as a packed leaf (its active values in offset
/// order, one shared inactive value).
///
/// ```
/// use sparsevdb_tree::{Coord, LeafStorage, Node, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(1, 2, 3), 5.0);
/// let leaf = t.leaves().next().unwrap();
/// assert_eq!(leaf.origin(), Coord::new(0, 0, 0));
/// assert_eq!(leaf.active_count(), 1);
/// assert_eq!(leaf.probe_value(Coord::new(1, 2, 3)), (5.0, true));
/// assert!(leaf.is_tiny(), "one active voxel: kept inside its lower node");
/// assert!(matches!(leaf.storage(), LeafStorage::Packed { active: [5.0], inactive: 0.0 }));
/// assert_eq!(leaf.to_node().probe_value(Coord::new(1, 2, 3)), (5.0, true));
/// ```
#[derive(Clone, Debug)]
pub struct LeafRef<'a, T, const LOG2: u32 = 3, const D: bool = false> {
    origin: Coord,
    storage: LeafStorage<'a, T>,
    kind: Kind<'a, T, LOG2, D>,
}

impl<'a, T: Value, const LOG2: u32, const D: bool> LeafRef<'a, T, LOG2, D> {
    /// The view of a leaf object.
    pub fn from_node(leaf: &'a LeafNode<T, LOG2, D>) -> Self {
        LeafRef {
            origin: leaf.origin(),
            storage: leaf.storage(),
            kind: Kind::Node(leaf),
        }
    }

    /// The view of a tiny leaf: active voxels at `offsets` (ascending) with `values`,
    /// `index_bytes` its share of the store's index.
    pub(crate) fn from_tiny(
        origin: Coord,
        offsets: &'a [u16],
        values: &'a [T],
        inactive: T,
        index_bytes: usize,
    ) -> Self {
        LeafRef {
            origin,
            storage: LeafStorage::Packed {
                active: values,
                inactive,
            },
            kind: Kind::Tiny {
                offsets,
                mask: OnceLock::new(),
                index_bytes,
            },
        }
    }

    /// The leaf's origin (its minimum corner).
    #[inline]
    pub fn origin(&self) -> Coord {
        self.origin
    }

    /// The leaf's box.
    pub fn node_bbox(&self) -> CoordBBox {
        crate::node::node_bbox(self.origin, LOG2)
    }

    /// The active mask, bit `n` for voxel offset `n`.
    #[inline]
    pub fn value_mask(&self) -> &Mask<LOG2> {
        match &self.kind {
            Kind::Node(n) => n.value_mask(),
            Kind::Tiny { offsets, mask, .. } => {
                mask.get_or_init(|| Mask::from_on_bits(offsets.iter().map(|&o| usize::from(o))))
            }
        }
    }

    /// A tiny leaf's active voxel offsets (ascending; the values are
    /// [`storage`](Self::storage)'s active values in the same order), or `None` for a
    /// leaf object.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.set_value(Coord::new(0, 0, 5), 1.0);
    /// t.set_value(Coord::new(0, 1, 0), 2.0);
    /// assert_eq!(t.leaves().next().unwrap().tiny_offsets(), Some(&[5u16, 8][..]));
    /// ```
    #[inline]
    pub fn tiny_offsets(&self) -> Option<&'a [u16]> {
        match &self.kind {
            Kind::Node(_) => None,
            Kind::Tiny { offsets, .. } => Some(offsets),
        }
    }

    /// The values as stored (see [`LeafNode::storage`]); a tiny leaf is packed.
    #[inline]
    pub fn storage(&self) -> LeafStorage<'a, T> {
        self.storage
    }

    /// True when the leaf holds every voxel's value (the dense form; never for a tiny
    /// leaf).
    #[inline]
    pub fn is_dense(&self) -> bool {
        matches!(self.storage, LeafStorage::Dense(_))
    }

    /// True for a tiny leaf (no leaf object: [`as_node`](Self::as_node) is `None`).
    #[inline]
    pub fn is_tiny(&self) -> bool {
        matches!(self.kind, Kind::Tiny { .. })
    }

    /// The leaf object, unless the leaf is tiny.
    #[inline]
    pub fn as_node(&self) -> Option<&'a LeafNode<T, LOG2, D>> {
        match self.kind {
            Kind::Node(n) => Some(n),
            Kind::Tiny { .. } => None,
        }
    }

    /// A leaf object equal to this leaf (a copy).
    pub fn to_node(&self) -> LeafNode<T, LOG2, D> {
        match (&self.kind, self.storage) {
            (Kind::Node(n), _) => (*n).clone(),
            (Kind::Tiny { offsets, .. }, LeafStorage::Packed { active, inactive }) => {
                LeafNode::from_tiny(self.origin, offsets, active, inactive)
            }
            (Kind::Tiny { .. }, LeafStorage::Dense(_)) => unreachable!("tiny leaves are packed"),
        }
    }

    /// Bytes held by the leaf: a leaf object's [`mem_usage`](Node::mem_usage); for a
    /// tiny leaf its share of the lower node's tiny-leaf store — its offsets and
    /// values, plus the store's index (slot list or mask, and leaf starts) divided
    /// evenly among its leaves (rounded down), so that the tiny leaves of a node add
    /// up to its store's bytes (without spare capacity) less at most a byte per leaf.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// for i in 0..300 {
    ///     t.set_value(Coord::new(8 * (i % 16), 8 * (i / 16 % 16), 8 * (i / 256)), 1.0);
    /// }
    /// t.compact();
    /// let leaves: usize = t.leaves().map(|l| l.mem_usage()).sum();
    /// assert!(leaves <= t.mem_usage());
    /// ```
    pub fn mem_usage(&self) -> usize {
        match &self.kind {
            Kind::Node(n) => n.mem_usage(),
            Kind::Tiny { index_bytes, .. } => {
                self.active_count() * (2 + core::mem::size_of::<T>()) + index_bytes
            }
        }
    }

    /// Number of active voxels.
    #[inline]
    pub fn active_count(&self) -> usize {
        match self.storage {
            LeafStorage::Packed { active, .. } => active.len(),
            LeafStorage::Dense(_) => self.value_mask().count_on(),
        }
    }

    /// True when voxel offset `n` is active.
    #[inline]
    pub fn is_on_at(&self, n: usize) -> bool {
        match &self.kind {
            Kind::Tiny { offsets, .. } => offsets.contains(&(n as u16)),
            Kind::Node(l) => l.value_mask().is_on(n),
        }
    }

    /// Value and state of voxel offset `n`.
    pub fn probe_at(&self, n: usize) -> (T, bool) {
        if let (Kind::Tiny { offsets, .. }, LeafStorage::Packed { active, inactive }) =
            (&self.kind, self.storage)
        {
            return match offsets.iter().position(|&o| o as usize == n) {
                Some(k) => (active[k], true),
                None => (inactive, false),
            };
        }
        let on = self.value_mask().is_on(n);
        match self.storage {
            LeafStorage::Dense(all) => (all[n], on),
            LeafStorage::Packed { inactive, .. } if !on => (inactive, false),
            LeafStorage::Packed { active, .. } => {
                let words = self.value_mask().words();
                let w = n >> 6;
                let below: usize = words[..w].iter().map(|x| x.count_ones() as usize).sum();
                let rank = below + (words[w] & ((1u64 << (n & 63)) - 1)).count_ones() as usize;
                (active[rank], true)
            }
        }
    }

    /// Value of voxel offset `n`.
    #[inline]
    pub fn value_at(&self, n: usize) -> T {
        self.probe_at(n).0
    }

    /// Value and state at `c` (which must lie in the leaf).
    #[inline]
    pub fn probe_value(&self, c: Coord) -> (T, bool) {
        self.probe_at(LeafNode::<T, LOG2, D>::coord_to_offset(c))
    }

    /// Value at `c` (which must lie in the leaf).
    #[inline]
    pub fn get_value(&self, c: Coord) -> T {
        self.probe_value(c).0
    }

    /// Active state at `c` (which must lie in the leaf).
    #[inline]
    pub fn is_value_on(&self, c: Coord) -> bool {
        self.is_on_at(LeafNode::<T, LOG2, D>::coord_to_offset(c))
    }

    /// Global coordinate of voxel offset `n`.
    #[inline]
    pub fn offset_to_global(&self, n: usize) -> Coord {
        let l = LeafNode::<T, LOG2, D>::offset_to_local(n);
        Coord::new(
            self.origin.x + l.x,
            self.origin.y + l.y,
            self.origin.z + l.z,
        )
    }

    /// The active voxels as `(offset, value)`, in offset order.
    pub fn iter_on(&self) -> impl Iterator<Item = (usize, T)> + '_ {
        let storage = self.storage;
        let mut seen = 0;
        self.value_mask().iter_on().map(move |n| match storage {
            LeafStorage::Dense(all) => (n, all[n]),
            LeafStorage::Packed { active, .. } => {
                seen += 1;
                (n, active[seen - 1])
            }
        })
    }

    /// Writes every voxel's value into `out` (`NUM_VALUES` of them), in offset order.
    pub fn copy_values_to(&self, out: &mut [T]) {
        match self.storage {
            LeafStorage::Dense(all) => out[..all.len()].copy_from_slice(all),
            LeafStorage::Packed { active, inactive } => {
                let size = LeafNode::<T, LOG2, D>::NUM_VALUES;
                out[..size].fill(inactive);
                crate::leaf::scatter_active(self.value_mask().words(), active, &mut out[..size]);
            }
        }
    }
}

impl<T: Value, const L0: u32, const D: bool, const L1: u32> InternalNode<LeafNode<T, L0, D>, L1> {
    /// The leaf in slot `n` — a leaf object or a tiny leaf — if any.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(9, 0, 0), 1.0);
    /// let slot = Lower::coord_to_offset(Coord::new(9, 0, 0));
    /// assert!(n.child(slot).is_none(), "a tiny leaf is no child object");
    /// assert_eq!(n.leaf(slot).unwrap().origin(), Coord::new(8, 0, 0));
    /// ```
    pub fn leaf(&self, n: usize) -> Option<LeafRef<'_, T, L0, D>> {
        if let Some(c) = self.child(n) {
            return Some(LeafRef::from_node(c));
        }
        if self.is_tiny(n) {
            let (offsets, values) = self.tiny.leaf(n);
            return Some(LeafRef::from_tiny(
                self.offset_to_global(n),
                offsets,
                values,
                self.tiny.inactive(),
                self.tiny.index_bytes_per_leaf(),
            ));
        }
        None
    }

    /// The tiny leaves of this node alone, in slot order, as `(slot, offsets, values)`
    /// slices of the node's tiny-leaf store (no view to build: the cheapest way to
    /// stream them). Every other voxel of a tiny leaf is inactive with
    /// [`tiny_inactive_value`](Self::tiny_inactive_value).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(9, 0, 1), 2.0);
    /// let (slot, offsets, values) = n.tiny_leaves().next().unwrap();
    /// assert_eq!((slot, offsets, values), (Lower::coord_to_offset(Coord::new(9, 0, 1)), &[65u16][..], &[2.0f32][..]));
    /// ```
    pub fn tiny_leaves(&self) -> TinyLeafIter<'_, T> {
        self.tiny.iter()
    }

    /// [`tiny_leaves`](Self::tiny_leaves) whose slots lie in `slots` (the first one
    /// found by rank, without a walk over the leaves before it).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// for z in [0, 8, 16, 24] {
    ///     n.set_value_on(Coord::new(0, 0, z), z as f32);
    /// }
    /// let slots: Vec<usize> = n.tiny_leaves_in(1..3).map(|(s, _, _)| s).collect();
    /// assert_eq!(slots, [1, 2]);
    /// ```
    pub fn tiny_leaves_in(&self, slots: core::ops::Range<usize>) -> TinyLeafIter<'_, T> {
        self.tiny.iter_in(slots)
    }

    /// The value every inactive voxel of this node's tiny leaves holds.
    pub fn tiny_inactive_value(&self) -> T {
        self.tiny.inactive()
    }

    /// Every leaf of this node — leaf objects and tiny leaves — in slot order.
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, InternalNode, LeafNode, Node};
    /// type Lower = InternalNode<LeafNode<f32, 3>, 4>;
    /// let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    /// n.set_value_on(Coord::new(9, 0, 0), 1.0);
    /// for z in 0..100 {
    ///     n.set_value_on(Coord::new(0, 0, z), 2.0); // 13 leaves of 8 or 4 voxels
    /// }
    /// let origins: Vec<Coord> = n.leaves().map(|l| l.origin()).collect();
    /// assert_eq!(origins.len(), 14);
    /// assert_eq!(origins[13], Coord::new(8, 0, 0));
    /// ```
    pub fn leaves(&self) -> impl Iterator<Item = LeafRef<'_, T, L0, D>> + '_ {
        (0..Mask::<L1>::WORD_COUNT).flat_map(move |w| {
            let mut bits = self.branch_word(w);
            core::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let n = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                self.leaf(n)
            })
        })
    }
}
