//! Folding a 2-D matrix into 3-D voxels and back ([`Fold`], [`TileShape`]).
//!
//! The default fold, [`Fold::Tiled`], cuts the matrix into tiles of
//! `rows × cols = 512` elements (8 × 64, 16 × 32, ..., or 1 × 512 for a
//! vector) and gives each tile one 8³ leaf of the tree. Inside the leaf the
//! tile is stored row-major in the leaf's own voxel order (x slowest, z
//! fastest), so a leaf's 512 voxels are exactly one compact 2-D tile:
//!
//! ```text
//! element (r, c): tile (r / R, c / C), n = (r % R)·C + (c % C)
//! voxel = origin + (8·(r / R) + n / 64,  8·(c / C) + (n / 8) % 8,  n % 8)
//! ```
//!
//! Tiles go along x by tile row and along y by tile column, one leaf deep in z.
//! [`Fold::Slices`] is the seed's flat mapping `(x, y, z) = (col, row, slice)`,
//! used by the classic layout.

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};

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

/// How a `rows × cols` matrix maps to voxels relative to its region's origin.
///
/// ```
/// use sparsevdb_neural::{Fold, TileShape};
/// let f = Fold::Tiled(TileShape::ROWS8_COLS64);
/// let local = f.to_local(9, 70);               // row 9, column 70
/// assert_eq!(local, [8 + 1, 8 + 0, 6]);         // second tile row, second tile column
/// assert_eq!(f.from_local(local, 384, 384), Some((9, 70)));
/// assert_eq!(f.extent(384, 384).unwrap(), [384, 48, 8]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fold {
    /// One 2-D tile per 8³ leaf (the planner's fold).
    Tiled(TileShape),
    /// The seed's flat mapping: `(x, y, z) = (col, row % rows_per_slice,
    /// row / rows_per_slice)`.
    Slices {
        /// Rows per Z slice (at least 1).
        rows_per_slice: u32,
    },
}

impl Fold {
    /// The size in voxels `[x, y, z]` of the region a `rows × cols` matrix
    /// occupies, or [`NeuralError::OutOfRange`] beyond `i32` extents.
    ///
    /// ```
    /// use sparsevdb_neural::Fold;
    /// assert_eq!(Fold::Slices { rows_per_slice: 32 }.extent(384, 384).unwrap(), [384, 32, 12]);
    /// ```
    pub fn extent(&self, rows: usize, cols: usize) -> Result<[u32; 3]> {
        let (rows, cols) = (rows as u64, cols as u64);
        let e = match *self {
            Fold::Tiled(t) => [
                rows.div_ceil(u64::from(t.rows())).saturating_mul(8),
                cols.div_ceil(u64::from(t.cols())).saturating_mul(8),
                if rows == 0 || cols == 0 { 0 } else { 8 },
            ],
            Fold::Slices { rows_per_slice } => {
                if rows_per_slice == 0 {
                    return Err(NeuralError::InvalidPlan("rows_per_slice is 0".into()));
                }
                let rps = u64::from(rows_per_slice).min(rows);
                [cols, rps, rows.div_ceil(u64::from(rows_per_slice))]
            }
        };
        if e.iter().any(|&v| v > i32::MAX as u64) {
            return Err(NeuralError::OutOfRange(format!(
                "a {rows} x {cols} matrix folds to {e:?} voxels, beyond i32"
            )));
        }
        Ok(e.map(|v| v as u32))
    }

    /// The voxel offset of element `(row, col)` from the region's origin.
    /// The element must be inside the matrix.
    ///
    /// ```
    /// use sparsevdb_neural::Fold;
    /// assert_eq!(Fold::Slices { rows_per_slice: 32 }.to_local(33, 5), [5, 1, 1]);
    /// ```
    #[inline]
    pub fn to_local(&self, row: usize, col: usize) -> [u32; 3] {
        match *self {
            Fold::Tiled(t) => {
                let lc = t.log2_cols;
                let lr = 9 - lc;
                let (ti, tj) = (row >> lr, col >> lc);
                let n = (((row & ((1 << lr) - 1)) << lc) | (col & ((1 << lc) - 1))) as u32;
                [
                    ((ti as u32) << 3) | (n >> 6),
                    ((tj as u32) << 3) | ((n >> 3) & 7),
                    n & 7,
                ]
            }
            Fold::Slices { rows_per_slice } => {
                let rps = rows_per_slice.max(1) as usize;
                [col as u32, (row % rps) as u32, (row / rps) as u32]
            }
        }
    }

    /// The element at voxel offset `local`, or `None` for padding and for
    /// offsets outside the region.
    ///
    /// ```
    /// use sparsevdb_neural::{Fold, TileShape};
    /// let f = Fold::Tiled(TileShape::ROWS8_COLS64);
    /// assert_eq!(f.from_local([0, 0, 0], 3, 3), Some((0, 0)));
    /// assert_eq!(f.from_local([0, 0, 5], 3, 3), None); // column 5 is padding
    /// ```
    #[inline]
    pub fn from_local(&self, local: [u32; 3], rows: usize, cols: usize) -> Option<(usize, usize)> {
        let (r, c) = match *self {
            Fold::Tiled(t) => {
                if local[2] >= 8 {
                    return None;
                }
                let lc = u32::from(t.log2_cols);
                let n = ((local[0] & 7) << 6) | ((local[1] & 7) << 3) | local[2];
                let r = (((local[0] >> 3) as usize) << (9 - lc)) | (n >> lc) as usize;
                let c = (((local[1] >> 3) as usize) << lc) | (n & ((1 << lc) - 1)) as usize;
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

    /// The number of 8³ leaves a `rows × cols` matrix can touch when its
    /// region starts on a leaf boundary (for `Tiled`, one per tile).
    ///
    /// ```
    /// use sparsevdb_neural::{Fold, TileShape};
    /// assert_eq!(Fold::Tiled(TileShape::ROWS8_COLS64).leaf_count(384, 384), 288);
    /// ```
    pub fn leaf_count(&self, rows: usize, cols: usize) -> u64 {
        match self.extent(rows, cols) {
            Ok(e) => e.iter().map(|&v| u64::from(v).div_ceil(8)).product(),
            Err(_) => 0,
        }
    }
}

impl std::fmt::Display for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fold::Tiled(t) => write!(f, "tile {t}"),
            Fold::Slices { rows_per_slice } => write!(f, "slices of {rows_per_slice} rows"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(fold: Fold, rows: usize, cols: usize) {
        let e = fold.extent(rows, cols).unwrap();
        let mut seen = std::collections::HashSet::new();
        for r in 0..rows {
            for c in 0..cols {
                let l = fold.to_local(r, c);
                assert!(
                    l[0] < e[0] && l[1] < e[1] && l[2] < e[2],
                    "{fold:?} {r} {c} {l:?} {e:?}"
                );
                assert_eq!(fold.from_local(l, rows, cols), Some((r, c)));
                assert!(seen.insert(l), "two elements on one voxel");
            }
        }
        // every other voxel of the region is padding
        let mut padding = 0u64;
        for x in 0..e[0] {
            for y in 0..e[1] {
                for z in 0..e[2] {
                    if fold.from_local([x, y, z], rows, cols).is_none() {
                        padding += 1;
                    }
                }
            }
        }
        assert_eq!(
            padding + (rows * cols) as u64,
            u64::from(e[0]) * u64::from(e[1]) * u64::from(e[2])
        );
    }

    #[test]
    fn tiled_roundtrips_for_every_shape() {
        for t in TileShape::all() {
            for (r, c) in [(1, 1), (3, 7), (8, 64), (17, 100), (64, 8), (2, 384)] {
                roundtrip(Fold::Tiled(t), r, c);
            }
        }
    }

    #[test]
    fn slices_roundtrip() {
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
    fn a_leaf_holds_one_compact_tile() {
        // 8 x 64: the 512 elements of rows 0..8, columns 0..64 fill leaf (0,0,0).
        let f = Fold::Tiled(TileShape::ROWS8_COLS64);
        let mut offsets: Vec<u32> = (0..8)
            .flat_map(|r| (0..64).map(move |c| (r, c)))
            .map(|(r, c)| {
                let l = f.to_local(r, c);
                assert!(l.iter().all(|&v| v < 8));
                (l[0] << 6) | (l[1] << 3) | l[2]
            })
            .collect();
        // row-major order inside the tile is the leaf's own voxel order
        assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1));
        offsets.dedup();
        assert_eq!(offsets.len(), 512);
        let g = Fold::Tiled(TileShape::new(32).unwrap());
        assert!((0..16).all(|r| (0..32).all(|c| g.to_local(r, c).iter().all(|&v| v < 8))));
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
        assert!(Fold::Slices { rows_per_slice: 0 }.extent(2, 2).is_err());
        assert!(Fold::Tiled(TileShape::new(1).unwrap())
            .extent(usize::MAX / 2, 1)
            .is_err());
    }
}
