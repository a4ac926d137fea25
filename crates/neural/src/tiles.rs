//! Where a tensor's tiles live in the tree: the leaf of each 2-D tile
//! ([`Tiles`], [`Tile`]) and what a leaf slot holds ([`Block`]).

use sparsevdb_tree::{Coord, LeafRef, LowerNode, RootNode, UpperNode, ValueAccessor};

use crate::fold::{slot_to_leaf, Fold};
use crate::plan::PlannedTensor;

/// The leaf-sized tiles of a tiled tensor: which rows and columns each leaf
/// holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tiles {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// log2 of the tile width.
    pub(crate) lc: u32,
    origin: [i32; 3],
    n_ti: usize,
    n_tj: usize,
    /// The first packed slot (`None`: tiles as a box).
    first_slot: Option<u64>,
}

/// One tile: its leaf's origin and the part of the matrix it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    pub(crate) leaf: Coord,
    pub(crate) row0: usize,
    pub(crate) col0: usize,
    /// Rows of the matrix in this tile (less than the tile height at the
    /// bottom edge).
    pub(crate) rows_in: usize,
    /// Columns of the matrix in this tile.
    pub(crate) cols_in: usize,
    /// Whether the tile has no padding.
    pub(crate) full: bool,
}

impl Tiles {
    pub(crate) fn of(t: &PlannedTensor) -> Option<Self> {
        let (shape, first_slot) = match t.fold() {
            Fold::Tiled(shape) => (shape, None),
            Fold::Packed { tile, first_slot } => (tile, Some(first_slot)),
            Fold::Slices { .. } => return None,
        };
        Some(Self {
            rows: t.rows(),
            cols: t.cols(),
            lc: shape.cols().trailing_zeros(),
            origin: t.origin(),
            n_ti: t.rows().div_ceil(shape.rows() as usize),
            n_tj: t.cols().div_ceil(shape.cols() as usize),
            first_slot,
        })
    }

    /// The origin of the leaf holding tile `(ti, tj)`.
    #[inline(always)]
    fn leaf(&self, ti: usize, tj: usize) -> Coord {
        let l = match self.first_slot {
            None => [ti as u64, tj as u64, 0],
            Some(first) => slot_to_leaf(first + (ti * self.n_tj + tj) as u64),
        };
        Coord::new(
            self.origin[0] + 8 * l[0] as i32,
            self.origin[1] + 8 * l[1] as i32,
            self.origin[2] + 8 * l[2] as i32,
        )
    }

    /// Tiles per tile row.
    pub(crate) fn tiles_per_row(&self) -> usize {
        self.n_tj
    }

    /// Number of tiles.
    pub(crate) fn tile_count(&self) -> usize {
        self.n_ti * self.n_tj
    }

    /// For a packed tensor whose packed lower nodes coincide with the tree's
    /// (the plan origin on a 128-voxel boundary): calls `f(origin, lo, hi,
    /// k_lo)` for every lower node its tiles touch, in slot order, where
    /// `origin` is a voxel inside the node, the tensor's tiles take the node's
    /// slots `lo..hi` and slot `s` holds tile `k_lo + (s - lo)` (row-major
    /// tile index). Returns `false` (calling nothing) for other tensors.
    pub(crate) fn for_each_packed_node(
        &self,
        mut f: impl FnMut(Coord, usize, usize, usize),
    ) -> bool {
        let Some(first) = self.first_slot else {
            return false;
        };
        if self.origin.iter().any(|&o| o & 127 != 0) {
            return false;
        }
        let end = first + self.tile_count() as u64;
        let mut g = first;
        while g < end {
            let node = g >> 12;
            let next = ((node + 1) << 12).min(end);
            let l = slot_to_leaf(node << 12);
            let c = Coord::new(
                self.origin[0] + 8 * l[0] as i32,
                self.origin[1] + 8 * l[1] as i32,
                self.origin[2] + 8 * l[2] as i32,
            );
            let lo = (g - (node << 12)) as usize;
            let hi = (next - (node << 12)) as usize;
            f(c, lo, hi, (g - first) as usize);
            g = next;
        }
        true
    }

    pub(crate) fn tile_rows(&self) -> usize {
        512 >> self.lc
    }

    pub(crate) fn tile_cols(&self) -> usize {
        1 << self.lc
    }

    /// Tile `(ti, tj)`: its leaf, first row and column, and how much of it lies
    /// inside the matrix.
    #[inline(always)]
    fn tile(&self, ti: usize, tj: usize) -> Tile {
        let (tr, tc) = (self.tile_rows(), self.tile_cols());
        let (row0, col0) = (ti * tr, tj * tc);
        let rows_in = tr.min(self.rows - row0);
        let cols_in = tc.min(self.cols - col0);
        Tile {
            leaf: self.leaf(ti, tj),
            row0,
            col0,
            rows_in,
            cols_in,
            full: rows_in == tr && cols_in == tc,
        }
    }

    /// Calls `f` with every tile in row-major tile order (what
    /// [`iter`](Self::iter) yields, as plain nested loops that inline).
    #[inline(always)]
    pub(crate) fn for_each_tile(&self, mut f: impl FnMut(Tile)) {
        for ti in 0..self.n_ti {
            for tj in 0..self.n_tj {
                f(self.tile(ti, tj));
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = Tile> + '_ {
        (0..self.n_ti).flat_map(move |ti| (0..self.n_tj).map(move |tj| self.tile(ti, tj)))
    }
}

/// What a leaf slot of the tree holds.
pub(crate) enum Block<'a> {
    /// A leaf: a leaf object or a tiny leaf inside its lower node.
    Leaf(LeafRef<'a, f32>),
    /// An active tile covering the whole slot, with its value.
    Tile(f32),
}

pub(crate) fn coord(p: [i32; 3]) -> Coord {
    Coord::new(p[0], p[1], p[2])
}

/// The leaf slot at `leaf` (a leaf origin): its leaf, an active tile, or
/// nothing.
#[inline]
pub(crate) fn block_at<'a>(acc: &ValueAccessor<'a, f32>, leaf: Coord) -> Option<Block<'a>> {
    if let Some(l) = acc.probe_leaf(leaf) {
        return Some(Block::Leaf(l));
    }
    match acc.probe_value(leaf) {
        (v, true) => Some(Block::Tile(v)),
        _ => None,
    }
}

/// What covers a lower node's region (128³ voxels, 16³ leaf slots).
#[derive(Clone, Copy)]
pub(crate) enum Lower<'a> {
    Node(&'a LowerNode<f32>),
    /// An active tile above the leaf level (root or upper node) with its value.
    Tile(f32),
    /// Nothing active.
    Empty,
}

/// What covers the lower node region containing `c`: the node, an active
/// tile above the leaf level, or nothing.
pub(crate) fn lower_at(root: &RootNode<UpperNode<f32>>, c: Coord) -> Lower<'_> {
    let Some(upper) = root.child_at(c) else {
        return match root.tile_at(c) {
            Some((v, true)) => Lower::Tile(v),
            _ => Lower::Empty,
        };
    };
    let n = UpperNode::<f32>::coord_to_offset(c);
    match upper.child(n) {
        Some(lower) => Lower::Node(lower),
        None => match upper.tile(n) {
            Some((v, true)) => Lower::Tile(v),
            _ => Lower::Empty,
        },
    }
}

/// Finds the leaf slots of a tensor's tiles one after another, cheaply: the
/// lower node of the previous slot is kept, so consecutive tiles in one lower
/// node (a packed tensor's tiles fill lower nodes slot after slot) cost one
/// child lookup each instead of a root → upper → lower → leaf walk. Borrows
/// the tree, so it can never see a stale structure.
pub(crate) struct BlockWalker<'a> {
    root: &'a RootNode<UpperNode<f32>>,
    /// Origin of the cached lower node's region (`None`: nothing cached).
    key: Option<Coord>,
    lower: Lower<'a>,
}

/// Voxel side of a lower node's region (`2^(4 + 3)`).
const LOWER_MASK: i32 = !127;

impl<'a> BlockWalker<'a> {
    pub(crate) fn new(root: &'a RootNode<UpperNode<f32>>) -> Self {
        Self {
            root,
            key: None,
            lower: Lower::Empty,
        }
    }

    #[cold]
    fn find_lower(&self, c: Coord) -> Lower<'a> {
        lower_at(self.root, c)
    }

    /// The leaf slot at `leaf` (a leaf origin): its leaf, an active tile, or
    /// nothing — what [`block_at`] gives, without the full walk.
    #[inline(always)]
    pub(crate) fn block(&mut self, leaf: Coord) -> Option<Block<'a>> {
        let key = leaf.mask(LOWER_MASK);
        if self.key != Some(key) {
            self.lower = self.find_lower(leaf);
            self.key = Some(key);
        }
        match self.lower {
            Lower::Node(lower) => {
                let n = LowerNode::<f32>::coord_to_offset(leaf);
                match lower.leaf(n) {
                    Some(l) => Some(Block::Leaf(l)),
                    None => match lower.tile(n) {
                        Some((v, true)) => Some(Block::Tile(v)),
                        _ => None,
                    },
                }
            }
            Lower::Tile(v) => Some(Block::Tile(v)),
            Lower::Empty => None,
        }
    }
}

/// Calls `f` with the origin of every leaf slot the box of `t` touches
/// (only meaningful for tensors whose box is their own, i.e. not packed).
pub(crate) fn for_each_leaf_slot(t: &PlannedTensor, mut f: impl FnMut(Coord)) {
    let Some(r) = t.region() else { return };
    let lo = r.min.map(|v| i64::from(v & !7));
    let mut x = lo[0];
    while x <= i64::from(r.max[0]) {
        let mut y = lo[1];
        while y <= i64::from(r.max[1]) {
            let mut z = lo[2];
            while z <= i64::from(r.max[2]) {
                f(Coord::new(x as i32, y as i32, z as i32));
                z += 8;
            }
            y += 8;
        }
        x += 8;
    }
}
