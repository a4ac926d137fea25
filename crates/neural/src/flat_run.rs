//! [`FlatRun`]: the inner loop of SpMV over tiny leaves — the entries of
//! consecutive tiny leaves in full tiles multiplied in one loop over their
//! lower node's entry arrays, with unchecked indexing into `x` and `y` (the one
//! `unsafe` block of this crate; the bounds it relies on are checked once per
//! leaf in [`FlatRun::push`] and once per run in [`FlatRun::flush`]).
//!
//! A tiny leaf holds about 5 values at 99 % sparsity, so a loop per leaf
//! mispredicts its exit about once per leaf, which costs more than its
//! products. Each leaf writes its tile's first row and column over the next
//! [`LEAF_SPAN`] places of `bases` (unconditionally, so no branch on its
//! length); the next leaf, starting where this one ends, overwrites the
//! surplus. The bases are `u16`s, so that a leaf's 16 of them are one 64-byte
//! store (8–10 % faster over a MiniLM pass at 99 % than `u32`s): tiles starting
//! past row or column 65,535 are refused and take the per-leaf path.
//!
//! Measured on the MiniLM model pass at 99 % (docs/performance.md): the
//! unchecked indexing is about 5 % faster than indexing with bounds checks,
//! which cost two compares and branches per entry in a loop of about 16
//! instructions.

/// Entries a [`FlatRun`] gathers before it multiplies them (few in tests, so
/// that they cross run boundaries often).
const RUN_ENTRIES: usize = if cfg!(test) { 24 } else { 512 };

/// Places a leaf writes in `bases`: the most entries a tiny leaf has (a
/// longer one is refused and multiplied on its own).
const LEAF_SPAN: usize = 16;

/// The entries of consecutive tiny leaves of one lower node, in tiles
/// `2^LC` columns wide and `512 >> LC` rows tall, waiting to be multiplied.
pub(crate) struct FlatRun<const LC: u32> {
    /// The run's entries: `from..to` of the node's entry arrays.
    from: usize,
    to: usize,
    /// `[row0, col0]` of the tile of entry `from + k`.
    bases: [[u16; 2]; RUN_ENTRIES + LEAF_SPAN],
    /// Every tile pushed ends at or before this row and this column (a tile
    /// past them is refused).
    row_limit: usize,
    col_limit: usize,
}

impl<const LC: u32> FlatRun<LC> {
    /// Rows of a tile.
    const TILE_ROWS: usize = 512 >> LC;
    /// Columns of a tile.
    const TILE_COLS: usize = 1 << LC;

    /// An empty run that takes tiles lying inside rows `..row_limit` and
    /// columns `..col_limit` (a matrix's full tiles).
    pub(crate) fn new(row_limit: usize, col_limit: usize) -> Self {
        Self {
            from: 0,
            to: 0,
            bases: [[0; 2]; RUN_ENTRIES + LEAF_SPAN],
            row_limit,
            col_limit,
        }
    }

    /// Adds the leaf with entries `r` in the tile at `(row0, col0)`; `false`
    /// (adding nothing) when it does not follow the run's last leaf, the run
    /// is full, the leaf has more than [`LEAF_SPAN`] entries or its tile lies
    /// outside the run's limits or past `u16` bases: flush and take it some
    /// other way.
    #[inline(always)]
    pub(crate) fn push(&mut self, r: core::ops::Range<usize>, row0: usize, col0: usize) -> bool {
        if self.from == self.to {
            self.from = r.start;
            self.to = r.start;
        }
        let k = r.start.wrapping_sub(self.from);
        if r.start != self.to
            || r.end - self.from > RUN_ENTRIES
            || r.len() > LEAF_SPAN
            || row0 + Self::TILE_ROWS > self.row_limit
            || col0 + Self::TILE_COLS > self.col_limit
            || row0 > usize::from(u16::MAX)
            || col0 > usize::from(u16::MAX)
        {
            return false;
        }
        self.bases[k..k + LEAF_SPAN].fill([row0 as u16, col0 as u16]);
        self.to = r.end;
        true
    }

    /// The matrix row and column of the entry at voxel offset `o` (its low 9
    /// bits) of the tile at `[row0, col0]`.
    #[inline(always)]
    fn row_col(o: u16, [row0, col0]: [u16; 2]) -> (usize, usize) {
        let o = usize::from(o) & 511;
        (
            usize::from(row0) + (o >> LC),
            usize::from(col0) + (o & (Self::TILE_COLS - 1)),
        )
    }

    /// Multiplies the gathered entries into `y` (`offs`, `vals`: the node's
    /// entry arrays; `y += W·x`, or `Wᵀ·x` with `TRANSPOSE`) and empties the
    /// run. Each product is added to `y` on its own, in entry order.
    #[inline(always)]
    pub(crate) fn flush<const TRANSPOSE: bool>(
        &mut self,
        offs: &[u16],
        vals: &[f32],
        x: &[f32],
        y: &mut [f32],
    ) {
        let (from, to) = (self.from, self.to);
        // Empty, and tied to no node: the next node's arrays may be shorter
        // than `to`.
        self.from = 0;
        self.to = 0;
        let (offs, vals) = (&offs[from..to], &vals[from..to]);
        let bases = &self.bases[..to - from];
        let (rows, cols) = if TRANSPOSE {
            (x.len(), y.len())
        } else {
            (y.len(), x.len())
        };
        if self.row_limit > rows || self.col_limit > cols {
            // Not for these vectors (never so in this crate): checked indexing.
            for ((&o, &w), &base) in offs.iter().zip(vals).zip(bases) {
                let (i, j) = Self::row_col(o, base);
                if TRANSPOSE {
                    y[j] += w * x[i];
                } else {
                    y[i] += w * x[j];
                }
            }
            return;
        }
        for ((&o, &w), &base) in offs.iter().zip(vals).zip(bases) {
            let (i, j) = Self::row_col(o, base);
            // Bounds: `push` took this entry's tile only with
            // `row0 + TILE_ROWS <= row_limit` and `col0 + TILE_COLS <= col_limit`
            // (no overflow: both are at most `u16::MAX` plus 512), and `row_col`
            // keeps the in-tile row below `TILE_ROWS` and column below
            // `TILE_COLS`: `i < row_limit <= rows` and `j < col_limit <= cols`,
            // checked just above. `rows` is the length of `y` (`x` with
            // `TRANSPOSE`) and `cols` that of `x` (`y`).
            // SAFETY: so every index below is in bounds (see "Bounds" above).
            unsafe {
                if TRANSPOSE {
                    *y.get_unchecked_mut(j) += w * *x.get_unchecked(i);
                } else {
                    *y.get_unchecked_mut(i) += w * *x.get_unchecked(j);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds `offs`/`vals` to `y` one by one, with checked indexing: what
    /// `flush` must reproduce bit for bit.
    fn reference<const LC: u32>(
        entries: &[(u16, f32, usize, usize)],
        x: &[f32],
        y: &mut [f32],
        transpose: bool,
    ) {
        for &(o, w, row0, col0) in entries {
            let o = usize::from(o) & 511;
            let (i, j) = (row0 + (o >> LC), col0 + (o & ((1 << LC) - 1)));
            if transpose {
                y[j] += w * x[i];
            } else {
                y[i] += w * x[j];
            }
        }
    }

    /// Leaves of random lengths in random tiles of a 3 × 2-tile matrix, both
    /// products, against the one-by-one reference; every entry index stays in
    /// bounds (run under Miri in CI, where an out-of-bounds unchecked access
    /// is an error).
    fn products_match<const LC: u32>() {
        let (tr, tc) = (512usize >> LC, 1usize << LC);
        let (rows, cols) = (3 * tr, 2 * tc);
        let mut s = 12345u64;
        let mut next = |m: usize| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as usize % m
        };
        // A node's entry arrays: 40 leaves of 0..=16 entries.
        let (mut offs, mut vals, mut leaves) = (vec![], vec![], vec![]);
        for _ in 0..40 {
            let len = next(17);
            let start = offs.len();
            let mut o: Vec<u16> = (0..len).map(|_| next(512) as u16).collect();
            o.sort_unstable();
            offs.extend(o);
            vals.extend((0..len).map(|_| next(1000) as f32 / 100.0 - 5.0));
            leaves.push((start..offs.len(), next(3) * tr, next(2) * tc));
        }
        for transpose in [false, true] {
            let x: Vec<f32> = (0..if transpose { rows } else { cols })
                .map(|k| k as f32 * 0.25 - 3.0)
                .collect();
            let mut y = vec![0.5f32; if transpose { cols } else { rows }];
            let mut want = y.clone();
            let mut run = FlatRun::<LC>::new(rows, cols);
            let mut entries = vec![];
            for (r, row0, col0) in leaves.clone() {
                if !run.push(r.clone(), row0, col0) {
                    if transpose {
                        run.flush::<true>(&offs, &vals, &x, &mut y);
                    } else {
                        run.flush::<false>(&offs, &vals, &x, &mut y);
                    }
                    assert!(run.push(r.clone(), row0, col0));
                }
                for k in r {
                    entries.push((offs[k], vals[k], row0, col0));
                }
            }
            if transpose {
                run.flush::<true>(&offs, &vals, &x, &mut y);
            } else {
                run.flush::<false>(&offs, &vals, &x, &mut y);
            }
            reference::<LC>(&entries, &x, &mut want, transpose);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&want), "LC {LC} transpose {transpose}");
        }
    }

    #[test]
    fn products_match_one_by_one() {
        products_match::<0>();
        products_match::<3>();
        products_match::<6>();
        products_match::<9>();
    }

    /// `push` refuses what `flush` could not index safely or store as `u16`:
    /// a tile past the limits, a base past `u16::MAX`, a leaf longer than
    /// [`LEAF_SPAN`], a leaf not following the run.
    #[test]
    fn push_refuses_what_does_not_fit() {
        let mut run = FlatRun::<6>::new(16, 128);
        assert!(!run.push(0..3, 16, 0), "rows 16..24 past the limit 16");
        assert!(!run.push(0..3, 8, 128), "columns past the limit");
        assert!(!run.push(0..17, 0, 0), "17 entries");
        let mut wide = FlatRun::<6>::new(1 << 20, 1 << 20);
        assert!(!wide.push(0..3, 70_000, 0), "row base past u16");
        assert!(run.push(0..3, 8, 64));
        assert!(!run.push(4..5, 0, 0), "a gap after the last leaf");
        assert!(run.push(3..5, 0, 0));
    }

    /// Vectors shorter than the limits (never so in this crate) take the
    /// checked loop: an out-of-range index panics instead of reading past the
    /// end.
    #[test]
    #[should_panic]
    fn short_vectors_are_indexed_with_checks() {
        let mut run = FlatRun::<6>::new(16, 128);
        assert!(run.push(0..1, 8, 64));
        let (x, mut y) = (vec![1.0f32; 128], vec![0.0f32; 8]);
        // offset 511: row 8 + 7 = 15, past y's 8 values
        run.flush::<false>(&[511], &[1.0], &x, &mut y);
    }

    /// A flush empties the run for good: the next node's entry arrays may be
    /// shorter than where the last run ended (a node of leaf objects only
    /// after a node of many tiny leaves).
    #[test]
    fn a_flushed_run_fits_any_next_node() {
        let offs: Vec<u16> = (0..40).map(|k| (k * 7 % 512) as u16).collect();
        let vals: Vec<f32> = (0..40).map(|k| k as f32).collect();
        let (x, mut y) = (vec![1.0f32; 64], vec![0.0f32; 8]);
        let mut run = FlatRun::<6>::new(8, 64);
        assert!(run.push(30..40, 0, 0));
        run.flush::<false>(&offs, &vals, &x, &mut y);
        assert_eq!(y.iter().sum::<f32>(), (30..40).sum::<i32>() as f32);
        run.flush::<false>(&[], &[], &x, &mut y);
        assert!(run.push(0..3, 0, 0), "a new run starts anywhere");
        run.flush::<false>(&offs[..3], &vals[..3], &x, &mut y);
        assert_eq!(y.iter().sum::<f32>(), (30..40).sum::<i32>() as f32 + 3.0);
    }
}
