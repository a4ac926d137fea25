//! [`FlatRun`]: the inner loop of SpMV over tiny leaves — the entries of
//! consecutive tiny leaves in full tiles multiplied in one loop over their
//! lower node's entry arrays, with unchecked indexing into `x` and `y` (the one
//! `unsafe` block of this crate; the bounds it relies on are checked once per
//! leaf in [`FlatRun::push`] and once per run in [`FlatRun::flush`]).
//!
//! A tiny leaf holds about 5 values at 99 % sparsity, so a loop per leaf
//! mispredicts its exit about once per leaf, which costs more than its
//! products. Each leaf writes its tile's first row and column over the next
//! [`LEAF_SPAN`] places of [`Bases`] (unconditionally, so no branch on its
//! length); the next leaf, starting where this one ends, overwrites the
//! surplus. A flush then works in two loops: the first adds each entry's
//! in-tile row and column to its tile's (no dependencies: the compiler
//! vectorises it, 8 entries per instruction), the second multiplies, with
//! about 9 instructions per entry where computing the row and column in it
//! took 16. The rows and columns are `u16`s (one leaf's 16 are 32 bytes):
//! tiles ending past row or column 65,536 are refused and take the per-leaf
//! path.
//!
//! Consecutive entries of `W·x` often add to the same row of `y` (a leaf's
//! entries are in row-major order in its tile, and the next leaf's tile lies
//! in the same band of tile rows), each add waiting for the one before. A
//! flush splits the run where a band of tile rows starts near its middle and
//! takes the entries of the two halves in turn: two chains of adds instead of
//! one, and every row still sums its products in entry order, so the result
//! has the same bits as adding them to `y` one by one.
//!
//! Measured on the MiniLM model pass at 99 % (docs/performance.md): the
//! unchecked indexing is about 5 % faster than indexing with bounds checks,
//! which cost two compares and branches per entry.

/// Entries a [`FlatRun`] gathers before it multiplies them (few in tests, so
/// that they cross run boundaries often).
const RUN_ENTRIES: usize = if cfg!(test) { 24 } else { 512 };

/// Rows and columns below this are `u16`s.
const U16_END: usize = 1 << 16;

/// Places a leaf writes in `bases`: the most entries a tiny leaf has (a
/// longer one is refused and multiplied on its own).
const LEAF_SPAN: usize = 16;

/// The entries of consecutive tiny leaves of one lower node, in tiles
/// `2^LC` columns wide and `512 >> LC` rows tall, waiting to be multiplied:
/// which entries, and the limits every tile pushed keeps to. The tile of each
/// entry is in a separate [`Bases`], so that a loop pushing leaves keeps this
/// small state in registers (a store into the bases could otherwise alias it).
#[derive(Clone, Copy)]
pub(crate) struct FlatRun<const LC: u32> {
    /// The run's entries: `from..to` of the node's entry arrays.
    from: usize,
    to: usize,
    /// Every tile pushed ends at or before this row and this column (a tile
    /// past them is refused).
    row_limit: usize,
    col_limit: usize,
    /// Where the last band of tile rows that started in the run's first half
    /// starts (0: none). When the bands only go down the matrix
    /// (`!band_went_up`), entries before it and from it on add to different
    /// rows of `W·x`, so [`flush`](Self::flush) interleaves the two halves.
    mid: usize,
    /// `row0` of the last leaf pushed (0 in an empty run).
    band_row0: usize,
    /// A leaf was pushed above the one before it.
    band_went_up: bool,
}

/// The first row and column of the tile of entry `from + k` of a
/// [`FlatRun`], at `k`; then, during a flush, the entry's own row and column.
pub(crate) struct Bases {
    rows: [u16; RUN_ENTRIES + LEAF_SPAN],
    cols: [u16; RUN_ENTRIES + LEAF_SPAN],
}

impl Bases {
    pub(crate) fn new() -> Self {
        Bases {
            rows: [0; RUN_ENTRIES + LEAF_SPAN],
            cols: [0; RUN_ENTRIES + LEAF_SPAN],
        }
    }
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
            row_limit,
            col_limit,
            mid: 0,
            band_row0: 0,
            band_went_up: false,
        }
    }

    /// Adds the leaf with entries `r` in the tile at `(row0, col0)`; `false`
    /// (adding nothing) when it does not follow the run's last leaf, the run
    /// is full, the leaf has more than [`LEAF_SPAN`] entries or its tile lies
    /// outside the run's limits or past `u16` bases: flush and take it some
    /// other way.
    #[inline(always)]
    pub(crate) fn push(
        &mut self,
        bases: &mut Bases,
        r: core::ops::Range<usize>,
        row0: usize,
        col0: usize,
    ) -> bool {
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
            || row0 + Self::TILE_ROWS > U16_END
            || col0 + Self::TILE_COLS > U16_END
        {
            return false;
        }
        bases.rows[k..k + LEAF_SPAN].fill(row0 as u16);
        bases.cols[k..k + LEAF_SPAN].fill(col0 as u16);
        self.to = r.end;
        if row0 > self.band_row0 && k <= RUN_ENTRIES / 2 {
            self.mid = k;
        }
        self.band_went_up |= row0 < self.band_row0;
        self.band_row0 = row0;
        true
    }

    /// Multiplies the gathered entries into `y` (`offs`, `vals`: the node's
    /// entry arrays; `y += W·x`, or `Wᵀ·x` with `TRANSPOSE`) and empties the
    /// run. Each product is added to `y` on its own, in entry order.
    #[inline(always)]
    pub(crate) fn flush<const TRANSPOSE: bool>(
        &mut self,
        bases: &mut Bases,
        offs: &[u16],
        vals: &[f32],
        x: &[f32],
        y: &mut [f32],
    ) {
        let (from, to) = (self.from, self.to);
        let mid = if self.band_went_up { 0 } else { self.mid };
        // Empty, and tied to no node: the next node's arrays may be shorter
        // than `to`.
        self.from = 0;
        self.to = 0;
        self.mid = 0;
        self.band_row0 = 0;
        self.band_went_up = false;
        let len = to - from;
        let (offs, vals) = (&offs[from..to], &vals[from..to]);
        // Each entry's row and column, in place of its tile's (one loop
        // without dependencies, which the compiler vectorises; `u16` sums
        // cannot overflow: `push` took tiles ending at or before row and
        // column 65,536).
        let tcm = Self::TILE_COLS as u16 - 1;
        for ((r, c), &o) in bases.rows[..len]
            .iter_mut()
            .zip(&mut bases.cols[..len])
            .zip(offs)
        {
            *r += (o & 511) >> LC;
            *c += o & tcm;
        }
        let (rows_of, cols_of) = (&bases.rows[..len], &bases.cols[..len]);
        let (rows, cols) = if TRANSPOSE {
            (x.len(), y.len())
        } else {
            (y.len(), x.len())
        };
        if self.row_limit > rows || self.col_limit > cols {
            // Not for these vectors (never so in this crate): checked indexing.
            for ((&w, &i), &j) in vals.iter().zip(rows_of).zip(cols_of) {
                let (i, j) = (usize::from(i), usize::from(j));
                if TRANSPOSE {
                    y[j] += w * x[i];
                } else {
                    y[i] += w * x[j];
                }
            }
            return;
        }
        let add = |y: &mut [f32], k: usize| {
            // Bounds: `k < len`, the length of all three arrays. `push` took
            // entry `k`'s tile only with `row0 + TILE_ROWS <= row_limit` and
            // `col0 + TILE_COLS <= col_limit`, and the in-tile row added above
            // is below `TILE_ROWS` and the column below `TILE_COLS`:
            // `i < row_limit <= rows` and `j < col_limit <= cols`, checked just
            // above. `rows` is the length of `y` (`x` with `TRANSPOSE`) and
            // `cols` that of `x` (`y`).
            // SAFETY: so every index below is in bounds (see "Bounds" above).
            unsafe {
                let w = *vals.get_unchecked(k);
                let i = usize::from(*rows_of.get_unchecked(k));
                let j = usize::from(*cols_of.get_unchecked(k));
                if TRANSPOSE {
                    *y.get_unchecked_mut(j) += w * *x.get_unchecked(i);
                } else {
                    *y.get_unchecked_mut(i) += w * *x.get_unchecked(j);
                }
            }
        };
        if TRANSPOSE || mid == 0 || mid >= len {
            for k in 0..len {
                add(y, k);
            }
            return;
        }
        // `W·x`: entries `..mid` and `mid..` add to different rows (their
        // tiles lie in different bands of tile rows), so taking one from each
        // in turn keeps every row's sum in entry order while two chains of
        // adds through `y` run side by side instead of one.
        let pairs = mid.min(len - mid);
        for k in 0..pairs {
            add(y, k);
            add(y, mid + k);
        }
        for k in pairs..mid {
            add(y, k);
        }
        for k in mid + pairs..len {
            add(y, k);
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

    /// Leaves of random lengths in tiles of a 12 × 2-tile matrix (in
    /// row-major order, and at random), both products, against the
    /// one-by-one reference; every entry index stays in
    /// bounds (run under Miri in CI, where an out-of-bounds unchecked access
    /// is an error).
    fn products_match<const LC: u32>() {
        let (tr, tc) = (512usize >> LC, 1usize << LC);
        const BANDS: usize = 12;
        const LEAVES: usize = 80;
        let (rows, cols) = (BANDS * tr, 2 * tc);
        let mut s = 12345u64;
        let mut next = |m: usize| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as usize % m
        };
        // A node's entry arrays: leaves of 0..=16 entries.
        let (mut offs, mut vals, mut leaves) = (vec![], vec![], vec![]);
        for _ in 0..LEAVES {
            let len = next(17);
            let start = offs.len();
            let mut o: Vec<u16> = (0..len).map(|_| next(512) as u16).collect();
            o.sort_unstable();
            offs.extend(o);
            // Values and `x` of many significant bits, so that a sum in
            // another order rounds differently.
            vals.extend((0..len).map(|_| (next(1 << 20) as f32 / 7.3e3 - 50.0) * 1.37));
            leaves.push((start..offs.len(), next(BANDS) * tr, next(2) * tc));
        }
        // As in SpMV, the tiles in row-major order, a band of tile rows every
        // few leaves (so that `W·x` interleaves the halves of most runs); and
        // in random order.
        let ordered: Vec<_> = leaves
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let t = k * 2 * BANDS / LEAVES;
                (l.0.clone(), t / 2 * tr, t % 2 * tc)
            })
            .collect();
        for (transpose, leaves) in [
            (false, &leaves),
            (true, &leaves),
            (false, &ordered),
            (true, &ordered),
        ] {
            let x: Vec<f32> = (0..if transpose { rows } else { cols })
                .map(|k| (k as f32 * 0.731 - 3.3).sin() * 9.7)
                .collect();
            let mut y = vec![0.1f32; if transpose { cols } else { rows }];
            let mut want = y.clone();
            let mut run = FlatRun::<LC>::new(rows, cols);
            let mut bases = Bases::new();
            let mut entries = vec![];
            for (r, row0, col0) in leaves.clone() {
                if !run.push(&mut bases, r.clone(), row0, col0) {
                    if transpose {
                        run.flush::<true>(&mut bases, &offs, &vals, &x, &mut y);
                    } else {
                        run.flush::<false>(&mut bases, &offs, &vals, &x, &mut y);
                    }
                    assert!(run.push(&mut bases, r.clone(), row0, col0));
                }
                for k in r {
                    entries.push((offs[k], vals[k], row0, col0));
                }
            }
            if transpose {
                run.flush::<true>(&mut bases, &offs, &vals, &x, &mut y);
            } else {
                run.flush::<false>(&mut bases, &offs, &vals, &x, &mut y);
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

    /// `W·x` interleaves a run's two halves only when they add to different
    /// rows: a band of tile rows that comes back after a later one (never so
    /// in this crate, whose runs follow the tiles in row-major order) keeps
    /// every row's sum in entry order, bit for bit.
    #[test]
    fn bands_out_of_order_keep_entry_order() {
        // 8 x 64 tiles; leaves A and C in band 0 (all in row 0), B in band 1.
        let a: Vec<u16> = (0..10).collect();
        let b: Vec<u16> = vec![0, 1];
        let offs: Vec<u16> = [a.clone(), b, a].concat();
        let vals: Vec<f32> = (0..offs.len())
            .map(|k| (k as f32 * 1.37 + 0.11).powi(3) * if k % 2 == 0 { 1e3 } else { -1e-3 })
            .collect();
        let x: Vec<f32> = (0..64).map(|k| 1.0 + k as f32 * 0.013).collect();
        let (mut y, mut want) = (vec![0.1f32; 16], vec![0.1f32; 16]);
        let mut run = FlatRun::<6>::new(16, 64);
        let mut bases = Bases::new();
        let mut entries = vec![];
        for (r, row0) in [(0..10, 0), (10..12, 8), (12..22, 0)] {
            assert!(run.push(&mut bases, r.clone(), row0, 0));
            entries.extend(r.map(|k| (offs[k], vals[k], row0, 0)));
        }
        run.flush::<false>(&mut bases, &offs, &vals, &x, &mut y);
        reference::<6>(&entries, &x, &mut want, false);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&want));
    }

    /// `push` refuses what `flush` could not index safely or store as `u16`:
    /// a tile past the limits, a base past `u16::MAX`, a leaf longer than
    /// [`LEAF_SPAN`], a leaf not following the run.
    #[test]
    fn push_refuses_what_does_not_fit() {
        let mut run = FlatRun::<6>::new(16, 128);
        let mut bases = Bases::new();
        assert!(
            !run.push(&mut bases, 0..3, 16, 0),
            "rows 16..24 past the limit 16"
        );
        assert!(
            !run.push(&mut bases, 0..3, 8, 128),
            "columns past the limit"
        );
        assert!(!run.push(&mut bases, 0..17, 0, 0), "17 entries");
        let mut wide = FlatRun::<6>::new(1 << 20, 1 << 20);
        assert!(!wide.push(&mut bases, 0..3, 70_000, 0), "row base past u16");
        assert!(run.push(&mut bases, 0..3, 8, 64));
        assert!(
            !run.push(&mut bases, 4..5, 0, 0),
            "a gap after the last leaf"
        );
        assert!(run.push(&mut bases, 3..5, 0, 0));
    }

    /// Vectors shorter than the limits (never so in this crate) take the
    /// checked loop: an out-of-range index panics instead of reading past the
    /// end.
    #[test]
    #[should_panic]
    fn short_vectors_are_indexed_with_checks() {
        let mut run = FlatRun::<6>::new(16, 128);
        let mut bases = Bases::new();
        assert!(run.push(&mut bases, 0..1, 8, 64));
        let (x, mut y) = (vec![1.0f32; 128], vec![0.0f32; 8]);
        // offset 511: row 8 + 7 = 15, past y's 8 values
        run.flush::<false>(&mut bases, &[511], &[1.0], &x, &mut y);
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
        let mut bases = Bases::new();
        assert!(run.push(&mut bases, 30..40, 0, 0));
        run.flush::<false>(&mut bases, &offs, &vals, &x, &mut y);
        assert_eq!(y.iter().sum::<f32>(), (30..40).sum::<i32>() as f32);
        run.flush::<false>(&mut bases, &[], &[], &x, &mut y);
        assert!(
            run.push(&mut bases, 0..3, 0, 0),
            "a new run starts anywhere"
        );
        run.flush::<false>(&mut bases, &offs[..3], &vals[..3], &x, &mut y);
        assert_eq!(y.iter().sum::<f32>(), (30..40).sum::<i32>() as f32 + 3.0);
    }
}
