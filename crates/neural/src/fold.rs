//! Folding a 2-D matrix into 3-D voxels and back ([`Fold`], [`TileShape`]).
//!
//! The planner's folds cut the matrix into tiles of `rows × cols = 512`
//! elements (8 × 64, 16 × 32, ..., or 1 × 512 for a vector) and give each
//! tile one 8³ leaf of the tree. Inside the leaf the tile is stored row-major
//! in the leaf's own voxel order (x slowest, z fastest), so a leaf's 512
//! voxels are exactly one compact 2-D tile:
//!
//! ```text
//! element (r, c): tile (r / R, c / C), n = (r % R)·C + (c % C)
//! voxel = leaf origin of the tile + (n / 64, (n / 8) % 8, n % 8)
//! ```
//!
//! Where the tiles go:
//!
//! - [`Fold::Packed`] (the planner's default) numbers the grid's leaf slots
//!   so that consecutive slots fill one lower internal node (16³ leaves,
//!   128³ voxels) after another, and those fill upper nodes (32³ lower nodes)
//!   along x ([`slot_to_leaf`]); a tensor's tiles take consecutive slots in
//!   row-major tile order. Tensors share internal nodes instead of each
//!   touching many half-empty ones.
//! - [`Fold::Tiled`] lays tiles out as a box: along x by tile row, along y by
//!   tile column, one leaf deep in z.
//! - [`Fold::Slices`] is the seed's flat mapping `(x, y, z) = (col, row,
//!   slice)`, used by the classic layout.

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};

/// Leaf slots per lower internal node (16³).
pub const LOWER_SLOTS: u64 = 4096;
/// Lower nodes per upper internal node (32³).
pub const UPPER_NODES: u64 = 32768;
/// Leaf side of an upper node's extent along one axis (512 leaves, 4096 voxels).
const UPPER_LEAVES: u64 = 512;

/// The leaf (in leaf units, relative to the plan origin) of leaf slot `g` in
/// the packed order: slot bits `[upper | lower node in upper (x, y, z) |
/// leaf in lower node (x, y, z)]`, the tree's own child order, upper nodes
/// side by side along x.
///
/// ```
/// use sparsevdb_neural::fold::{leaf_to_slot, slot_to_leaf};
/// assert_eq!(slot_to_leaf(0), [0, 0, 0]);
/// assert_eq!(slot_to_leaf(1), [0, 0, 1]);      // z fastest
/// assert_eq!(slot_to_leaf(4096), [0, 0, 16]);  // the next lower node
/// assert_eq!(leaf_to_slot(slot_to_leaf(123_456_789)), Some(123_456_789));
/// ```
pub fn slot_to_leaf(g: u64) -> [u64; 3] {
    let (node, o) = (g >> 12, g & 4095);
    let (upper, n) = (node >> 15, node & 32767);
    [
        upper * UPPER_LEAVES + ((n >> 10) & 31) * 16 + (o >> 8),
        ((n >> 5) & 31) * 16 + ((o >> 4) & 15),
        (n & 31) * 16 + (o & 15),
    ]
}

/// The packed slot of a leaf (leaf units, relative to the plan origin), or
/// `None` outside the packed space (y or z beyond one upper node).
pub fn leaf_to_slot(l: [u64; 3]) -> Option<u64> {
    if l[1] >= UPPER_LEAVES || l[2] >= UPPER_LEAVES {
        return None;
    }
    let upper = l[0] / UPPER_LEAVES;
    let x = l[0] % UPPER_LEAVES;
    let node = (upper << 15) | ((x / 16) << 10) | ((l[1] / 16) << 5) | (l[2] / 16);
    Some((node << 12) | ((x % 16) << 8) | ((l[1] % 16) << 4) | (l[2] % 16))
}

/// The side of a leaf (8).
pub const LEAF_DIM: u32 = 8;
/// Voxels per leaf (512).
pub const LEAF_VOXELS: u32 = 512;

/// The 2-D shape of the tile one leaf holds: `rows × cols = 512`, both powers
/// of two.
///
/// ```
/// use sparsevdb_neural::TileShape;
/// let t = TileShape::new(64).unwrap();
/// assert_eq!((t.rows(), t.cols()), (8, 64));
/// assert!(TileShape::new(48).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct TileShape {
    log2_cols: u8,
}

impl TileShape {
    /// A tile `512 / cols` rows high and `cols` wide; `cols` must be a power
    /// of two from 1 to 512.
    ///
    /// ```
    /// assert_eq!(sparsevdb_neural::TileShape::new(512).unwrap().rows(), 1);
    /// ```
    pub fn new(cols: u32) -> Result<Self> {
        if cols.is_power_of_two() && cols <= LEAF_VOXELS {
            Ok(Self {
                log2_cols: cols.trailing_zeros() as u8,
            })
        } else {
            Err(NeuralError::InvalidPlan(format!(
                "tile width {cols} is not a power of two from 1 to 512"
            )))
        }
    }

    /// The default for square-ish matrices: 8 rows × 64 columns.
    pub const ROWS8_COLS64: Self = Self { log2_cols: 6 };

    /// Tile height (rows).
    pub fn rows(self) -> u32 {
        LEAF_VOXELS >> self.log2_cols
    }

    /// Tile width (columns).
    pub fn cols(self) -> u32 {
        1 << self.log2_cols
    }

    /// Every tile shape, from 512 × 1 to 1 × 512.
    ///
    /// ```
    /// assert_eq!(sparsevdb_neural::TileShape::all().count(), 10);
    /// ```
    pub fn all() -> impl Iterator<Item = Self> {
        (0..=9u8).map(|log2_cols| Self { log2_cols })
    }

    /// The shape that wastes the fewest padding voxels on a `rows × cols`
    /// matrix; among equals, the one closest to 8 × 64.
    ///
    /// ```
    /// use sparsevdb_neural::TileShape;
    /// assert_eq!(TileShape::auto(384, 384).cols(), 64);   // 8 x 64, no padding
    /// assert_eq!(TileShape::auto(1, 384).cols(), 512);    // a bias vector: one leaf
    /// assert_eq!(TileShape::auto(384, 8).cols(), 8);      // LoRA B (out x r)
    /// ```
    pub fn auto(rows: usize, cols: usize) -> Self {
        Self::all()
            .min_by_key(|t| {
                let padded = (rows as u128).div_ceil(u128::from(t.rows()))
                    * u128::from(t.rows())
                    * (cols as u128).div_ceil(u128::from(t.cols()))
                    * u128::from(t.cols());
                (padded, (i32::from(t.log2_cols) - 6).unsigned_abs())
            })
            .unwrap_or(Self::ROWS8_COLS64)
    }
}

impl TryFrom<u32> for TileShape {
    type Error = NeuralError;
    fn try_from(cols: u32) -> Result<Self> {
        Self::new(cols)
    }
}

impl From<TileShape> for u32 {
    fn from(t: TileShape) -> u32 {
        t.cols()
    }
}

impl std::fmt::Display for TileShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}", self.rows(), self.cols())
    }
}

/// How a `rows × cols` matrix maps to voxels relative to its plan origin.
///
/// ```
/// use sparsevdb_neural::{Fold, TileShape};
/// let f = Fold::Tiled(TileShape::ROWS8_COLS64);
/// let local = f.to_local(9, 70, 384);           // row 9, column 70
/// assert_eq!(local, [8 + 1, 8 + 0, 6]);         // second tile row, second tile column
/// assert_eq!(f.from_local(local, 384, 384), Some((9, 70)));
/// assert_eq!(f.local_bbox(384, 384).unwrap(), Some([[0, 0, 0], [383, 47, 7]]));
/// let p = Fold::Packed { tile: TileShape::ROWS8_COLS64, first_slot: 4096 };
/// assert_eq!(p.to_local(0, 0, 384), [0, 0, 128]);  // slot 4096: second lower node
/// assert_eq!(p.tile_count(384, 384), 288);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fold {
    /// One 2-D tile per leaf, tiles on consecutive packed leaf slots.
    Packed {
        /// The tile shape.
        tile: TileShape,
        /// The packed slot of the first tile ([`slot_to_leaf`]).
        first_slot: u64,
    },
    /// One 2-D tile per leaf, tiles as a box one leaf deep.
    Tiled(TileShape),
    /// The seed's flat mapping: `(x, y, z) = (col, row % rows_per_slice,
    /// row / rows_per_slice)`.
    Slices {
        /// Rows per Z slice (at least 1).
        rows_per_slice: u32,
    },
}

impl Fold {
    /// The tile shape of a tiled or packed fold.
    pub fn tile(&self) -> Option<TileShape> {
        match *self {
            Fold::Packed { tile, .. } | Fold::Tiled(tile) => Some(tile),
            Fold::Slices { .. } => None,
        }
    }

    /// Tiles (rows, columns of tiles) of a `rows × cols` matrix.
    fn tile_grid(t: TileShape, rows: usize, cols: usize) -> (u64, u64) {
        (
            (rows as u64).div_ceil(u64::from(t.rows())),
            (cols as u64).div_ceil(u64::from(t.cols())),
        )
    }

    /// Number of tiles (leaves) of a tiled or packed `rows × cols` matrix,
    /// 0 for other folds.
    pub fn tile_count(&self, rows: usize, cols: usize) -> u64 {
        match self.tile() {
            Some(t) => {
                let (a, b) = Self::tile_grid(t, rows, cols);
                a.saturating_mul(b)
            }
            None => 0,
        }
    }

    /// The lowest and highest voxel offsets (inclusive) of the region a
    /// `rows × cols` matrix occupies, `None` when it has no element, and
    /// [`NeuralError::OutOfRange`] beyond `i32` offsets.
    pub fn local_bbox(&self, rows: usize, cols: usize) -> Result<Option<[[u64; 3]; 2]>> {
        if rows == 0 || cols == 0 {
            return Ok(None);
        }
        let (r, c) = (rows as u64, cols as u64);
        let bbox = match *self {
            Fold::Tiled(t) => {
                let (a, b) = Self::tile_grid(t, rows, cols);
                [
                    [0; 3],
                    [a.saturating_mul(8) - 1, b.saturating_mul(8) - 1, 7],
                ]
            }
            Fold::Slices { rows_per_slice } => {
                if rows_per_slice == 0 {
                    return Err(NeuralError::InvalidPlan("rows_per_slice is 0".into()));
                }
                let rps = u64::from(rows_per_slice);
                [[0; 3], [c - 1, rps.min(r) - 1, r.div_ceil(rps) - 1]]
            }
            Fold::Packed { tile, first_slot } => {
                let n = self.tile_count(rows, cols);
                let end = first_slot
                    .checked_add(n)
                    .filter(|&e| e <= 1 << 46)
                    .ok_or_else(|| {
                        NeuralError::OutOfRange(format!(
                            "{n} tiles from slot {first_slot} leave the packed space"
                        ))
                    })?;
                let _ = tile;
                packed_bbox(first_slot, end)
            }
        };
        if bbox[1].iter().any(|&v| v > i32::MAX as u64) {
            return Err(NeuralError::OutOfRange(format!(
                "a {rows} x {cols} matrix folds beyond i32 offsets ({:?})",
                bbox[1]
            )));
        }
        Ok(Some(bbox))
    }

    /// The voxel offset of element `(row, col)` of a matrix with `cols`
    /// columns. The element must be inside the matrix.
    ///
    /// ```
    /// use sparsevdb_neural::Fold;
    /// assert_eq!(Fold::Slices { rows_per_slice: 32 }.to_local(33, 5, 384), [5, 1, 1]);
    /// ```
    #[inline]
    pub fn to_local(&self, row: usize, col: usize, cols: usize) -> [u32; 3] {
        match *self {
            Fold::Tiled(t) => {
                let (lc, lr) = (t.log2_cols, 9 - t.log2_cols);
                let n = in_tile(t, row, col);
                [
                    (((row >> lr) as u32) << 3) | (n >> 6),
                    (((col >> lc) as u32) << 3) | ((n >> 3) & 7),
                    n & 7,
                ]
            }
            Fold::Packed { tile, first_slot } => {
                let (lc, lr) = (tile.log2_cols, 9 - tile.log2_cols);
                let tiles_per_row = (cols as u64).div_ceil(1 << lc);
                let k = (row >> lr) as u64 * tiles_per_row + (col >> lc) as u64;
                let l = slot_to_leaf(first_slot.wrapping_add(k));
                let n = in_tile(tile, row, col);
                [
                    ((l[0] as u32) << 3) | (n >> 6),
                    ((l[1] as u32) << 3) | ((n >> 3) & 7),
                    ((l[2] as u32) << 3) | (n & 7),
                ]
            }
            Fold::Slices { rows_per_slice } => {
                let rps = rows_per_slice.max(1) as usize;
                [col as u32, (row % rps) as u32, (row / rps) as u32]
            }
        }
    }

    /// The element at voxel offset `local`, or `None` for padding and for
    /// offsets outside the matrix's region.
    ///
    /// ```
    /// use sparsevdb_neural::{Fold, TileShape};
    /// let f = Fold::Tiled(TileShape::ROWS8_COLS64);
    /// assert_eq!(f.from_local([0, 0, 0], 3, 3), Some((0, 0)));
    /// assert_eq!(f.from_local([0, 0, 5], 3, 3), None); // column 5 is padding
    /// ```
    #[inline]
    pub fn from_local(&self, local: [u32; 3], rows: usize, cols: usize) -> Option<(usize, usize)> {
        let n = ((local[0] & 7) << 6) | ((local[1] & 7) << 3) | (local[2] & 7);
        let (r, c) = match *self {
            Fold::Tiled(t) => {
                if local[2] >= 8 {
                    return None;
                }
                let lc = u32::from(t.log2_cols);
                let r = (((local[0] >> 3) as usize) << (9 - lc)) | (n >> lc) as usize;
                let c = (((local[1] >> 3) as usize) << lc) | (n & ((1 << lc) - 1)) as usize;
                (r, c)
            }
            Fold::Packed { tile, first_slot } => {
                let g = leaf_to_slot(local.map(|v| u64::from(v >> 3)))?;
                let k = g.checked_sub(first_slot)?;
                let (n_ti, n_tj) = Self::tile_grid(tile, rows, cols);
                if k >= n_ti * n_tj {
                    return None;
                }
                let lc = u32::from(tile.log2_cols);
                let (ti, tj) = ((k / n_tj) as usize, (k % n_tj) as usize);
                let r = (ti << (9 - lc)) | (n >> lc) as usize;
                let c = (tj << lc) | (n & ((1 << lc) - 1)) as usize;
                (r, c)
            }
            Fold::Slices { rows_per_slice } => {
                if local[1] >= rows_per_slice {
                    return None;
                }
                let r = local[2] as usize * rows_per_slice as usize + local[1] as usize;
                (r, local[0] as usize)
            }
        };
        (r < rows && c < cols).then_some((r, c))
    }

    /// The number of 8³ leaves a `rows × cols` matrix can touch (for tiled
    /// and packed folds one per tile; for slices, those of its box when it
    /// starts on a leaf boundary).
    ///
    /// ```
    /// use sparsevdb_neural::{Fold, TileShape};
    /// assert_eq!(Fold::Tiled(TileShape::ROWS8_COLS64).leaf_count(384, 384), 288);
    /// ```
    pub fn leaf_count(&self, rows: usize, cols: usize) -> u64 {
        match self {
            Fold::Packed { .. } | Fold::Tiled(_) => self.tile_count(rows, cols),
            Fold::Slices { .. } => match self.local_bbox(rows, cols) {
                Ok(Some(b)) => (0..3).map(|i| (b[1][i] + 1).div_ceil(8)).product(),
                _ => 0,
            },
        }
    }
}

/// Offset of element `(row, col)` inside its tile (row-major in the tile).
#[inline]
fn in_tile(t: TileShape, row: usize, col: usize) -> u32 {
    let lc = t.log2_cols;
    let lr = 9 - lc;
    (((row & ((1 << lr) - 1)) << lc) | (col & ((1 << lc) - 1))) as u32
}

/// The voxel bbox of packed slots `first..end` (non-empty).
fn packed_bbox(first: u64, end: u64) -> [[u64; 3]; 2] {
    let mut lo = [u64::MAX; 3];
    let mut hi = [0u64; 3];
    let mut g = first;
    while g < end {
        let seg_end = end.min((g | (LOWER_SLOTS - 1)) + 1);
        let (a, b) = (g & (LOWER_SLOTS - 1), (seg_end - 1) & (LOWER_SLOTS - 1));
        let base = slot_to_leaf(g & !(LOWER_SLOTS - 1));
        let (l, h) = if a >> 8 != b >> 8 {
            ([a >> 8, 0, 0], [b >> 8, 15, 15])
        } else if a >> 4 != b >> 4 {
            ([a >> 8, (a >> 4) & 15, 0], [a >> 8, (b >> 4) & 15, 15])
        } else {
            (
                [a >> 8, (a >> 4) & 15, a & 15],
                [a >> 8, (a >> 4) & 15, b & 15],
            )
        };
        for i in 0..3 {
            lo[i] = lo[i].min(base[i] + l[i]);
            hi[i] = hi[i].max(base[i] + h[i]);
        }
        g = seg_end;
    }
    [lo.map(|v| v * 8), hi.map(|v| v * 8 + 7)]
}

impl std::fmt::Display for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fold::Packed { tile, .. } => write!(f, "tile {tile}, packed"),
            Fold::Tiled(t) => write!(f, "tile {t}"),
            Fold::Slices { rows_per_slice } => write!(f, "slices of {rows_per_slice} rows"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(fold: Fold, rows: usize, cols: usize) {
        let b = fold.local_bbox(rows, cols).unwrap().unwrap();
        let mut seen = std::collections::HashSet::new();
        for r in 0..rows {
            for c in 0..cols {
                let l = fold.to_local(r, c, cols);
                assert!(
                    (0..3).all(|i| b[0][i] <= u64::from(l[i]) && u64::from(l[i]) <= b[1][i]),
                    "{fold:?} {r} {c} {l:?} {b:?}"
                );
                assert_eq!(fold.from_local(l, rows, cols), Some((r, c)));
                assert!(seen.insert(l), "two elements on one voxel");
            }
        }
        if !matches!(fold, Fold::Packed { .. }) {
            // every other voxel of the box is padding
            let mut padding = 0u64;
            for x in b[0][0]..=b[1][0] {
                for y in b[0][1]..=b[1][1] {
                    for z in b[0][2]..=b[1][2] {
                        if fold
                            .from_local([x as u32, y as u32, z as u32], rows, cols)
                            .is_none()
                        {
                            padding += 1;
                        }
                    }
                }
            }
            let vol: u64 = (0..3).map(|i| b[1][i] - b[0][i] + 1).product();
            assert_eq!(padding + (rows * cols) as u64, vol);
        }
    }

    #[test]
    fn every_fold_roundtrips() {
        for t in TileShape::all() {
            for (r, c) in [(1, 1), (3, 7), (8, 64), (17, 100), (64, 8), (2, 384)] {
                roundtrip(Fold::Tiled(t), r, c);
                for first_slot in [0, 4090, 3 * 4096 * 32768 - 5] {
                    roundtrip(
                        Fold::Packed {
                            tile: t,
                            first_slot,
                        },
                        r,
                        c,
                    );
                }
            }
        }
        roundtrip(Fold::Slices { rows_per_slice: 4 }, 10, 3);
        roundtrip(
            Fold::Slices {
                rows_per_slice: 100,
            },
            10,
            3,
        );
    }

    #[test]
    fn slots_and_leaves() {
        for g in [
            0u64,
            1,
            15,
            16,
            255,
            256,
            4095,
            4096,
            4096 * 32768 - 1,
            4096 * 32768,
            1 << 40,
        ] {
            assert_eq!(leaf_to_slot(slot_to_leaf(g)), Some(g));
        }
        // a lower node's 4096 slots are one 16^3 block of leaves
        let mut seen = std::collections::HashSet::new();
        for g in 4096..8192 {
            let l = slot_to_leaf(g);
            assert_eq!(l.map(|v| v / 16), [0, 0, 1]);
            assert!(seen.insert(l));
        }
        assert_eq!(slot_to_leaf(4096 * 32768), [512, 0, 0]);
        assert_eq!(leaf_to_slot([0, 512, 0]), None);
        // packed bboxes
        assert_eq!(packed_bbox(0, 1), [[0, 0, 0], [7, 7, 7]]);
        assert_eq!(packed_bbox(0, 16), [[0, 0, 0], [7, 7, 127]]);
        assert_eq!(packed_bbox(0, 4096), [[0, 0, 0], [127, 127, 127]]);
        assert_eq!(packed_bbox(4095, 4097), [[0, 0, 120], [127, 127, 135]]);
    }

    #[test]
    fn a_leaf_holds_one_compact_tile() {
        // 8 x 64: the 512 elements of rows 0..8, columns 0..64 fill one leaf.
        for f in [
            Fold::Tiled(TileShape::ROWS8_COLS64),
            Fold::Packed {
                tile: TileShape::ROWS8_COLS64,
                first_slot: 77,
            },
        ] {
            let leaf = f.to_local(0, 0, 384).map(|v| v & !7);
            let mut offsets: Vec<u32> = (0..8)
                .flat_map(|r| (0..64).map(move |c| (r, c)))
                .map(|(r, c)| {
                    let l = f.to_local(r, c, 384);
                    assert_eq!(l.map(|v| v & !7), leaf);
                    ((l[0] & 7) << 6) | ((l[1] & 7) << 3) | (l[2] & 7)
                })
                .collect();
            // row-major order inside the tile is the leaf's own voxel order
            assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1));
            offsets.dedup();
            assert_eq!(offsets.len(), 512);
        }
        let g = Fold::Tiled(TileShape::new(32).unwrap());
        assert!((0..16).all(|r| (0..32).all(|c| g.to_local(r, c, 32).iter().all(|&v| v < 8))));
    }

    #[test]
    fn auto_shapes() {
        assert_eq!(TileShape::auto(384, 384), TileShape::ROWS8_COLS64);
        assert_eq!(TileShape::auto(1536, 384), TileShape::ROWS8_COLS64);
        // 30522 rows: 4 x 128 pads 2 rows, 8 x 64 would pad 6
        assert_eq!(TileShape::auto(30522, 384).cols(), 128);
        assert_eq!(TileShape::auto(8, 384).cols(), 64);
        assert_eq!(TileShape::auto(1, 1536).cols(), 512);
        assert_eq!(TileShape::auto(2, 384).cols(), 256);
        assert_eq!(Fold::Tiled(TileShape::auto(1, 384)).leaf_count(1, 384), 1);
    }

    #[test]
    fn serde_and_bad_shapes() {
        let t: TileShape = serde_json::from_str("32").unwrap();
        assert_eq!(t.rows(), 16);
        assert!(serde_json::from_str::<TileShape>("3").is_err());
        assert!(serde_json::from_str::<TileShape>("1024").is_err());
        assert!(Fold::Slices { rows_per_slice: 0 }.local_bbox(2, 2).is_err());
        assert!(Fold::Tiled(TileShape::new(1).unwrap())
            .local_bbox(usize::MAX / 2, 1)
            .is_err());
        let p = Fold::Packed {
            tile: TileShape::new(512).unwrap(),
            first_slot: u64::MAX - 2,
        };
        assert!(p.local_bbox(1, 4096).is_err());
        assert_eq!(
            Fold::Tiled(TileShape::ROWS8_COLS64)
                .local_bbox(0, 5)
                .unwrap(),
            None
        );
    }
}
