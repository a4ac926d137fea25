//! [`KeyedRun`]: the inner loop of SpMV over tiny leaves — the entries of
//! consecutive tiny leaves in full tiles, each tagged with its tile's first
//! row and column by [`TinyLeafIter::expand_keys`](sparsevdb_tree::TinyLeafIter::expand_keys),
//! multiplied in one loop over their lower node's entry arrays with
//! unchecked indexing into `x` and `y` (the one `unsafe` block of this crate;
//! the bounds it relies on are checked once per run, in
//! [`KeyedRun::flush`], from the keys themselves).
//!
//! A tiny leaf holds about 5 values at 99 % sparsity, so a loop per leaf
//! mispredicts its exit about once per leaf, which costs more than its
//! products; and a leaf read with all the checks a general walk needs costs
//! more than its products too. `expand_keys` reads the leaves of a range of
//! full tiles in one loop of its own and writes each leaf's key — its tile's
//! first row, relative to the node's first, in the high 16 bits, and its
//! first column in the low 16 — over [`TINY_LEAF_MAX`] places from its
//! first entry's (unconditionally, so no branch on its length; the next
//! leaf overwrites the surplus). A flush then works in two loops: the first
//! adds each entry's in-tile row and column to its key and notes whether any
//! row or column lies outside the vectors (no dependencies: the compiler
//! vectorises it), the second multiplies, unchecked when none does.
//!
//! Rows in keys are counted from the node's first tile row, so a key needs
//! only 16 bits each for a row and a column: tiles ending more than 65,536
//! rows below the node's first, or past column 65,536, are not keyed and take
//! the per-leaf path (see `stream_product`).
//!
//! Measured on the MiniLM model pass at 99 % (docs/performance.md, "SpMV
//! keyed runs"): the unchecked indexing is 13–18 % faster than indexing with
//! bounds checks, which cost two compares and branches per entry. The `FlatRun` this
//! replaced also interleaved the two halves of a `W·x` run that added to
//! different rows (two chains of adds through `y`); that was worth about 1 %
//! then and costs 5–13 % here (two or four segments), so it is not kept: the
//! product loop is bound by its instruction count, not by the chains.

use sparsevdb_tree::TINY_LEAF_MAX;

/// Entries a [`KeyedRun`] gathers before it multiplies them (few in tests, so
/// that they cross run boundaries often).
pub(crate) const RUN_ENTRIES: usize = if cfg!(test) { 24 } else { 512 };

/// The key of a tile whose first row is `row` places below its node's first
/// row and whose first column is `col` (both below 65,536).
#[inline(always)]
pub(crate) fn tile_key(row: usize, col: usize) -> u32 {
    ((row as u32) << 16) | (col as u32 & 0xffff)
}

/// The entries of consecutive tiny leaves of one lower node, each with the
/// key of its tile, waiting to be multiplied.
pub(crate) struct KeyedRun {
    /// Where the run's entries start in the node's entry arrays.
    from: usize,
    /// How many entries the run holds.
    len: usize,
    /// The key of entry `from + k` at `k`; then, during a flush, the entry's
    /// own row (relative) and column.
    keys: [u32; RUN_ENTRIES + TINY_LEAF_MAX],
}

impl KeyedRun {
    pub(crate) fn new() -> Self {
        Self {
            from: 0,
            len: 0,
            keys: [0; RUN_ENTRIES + TINY_LEAF_MAX],
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when another leaf may not fit.
    #[inline(always)]
    pub(crate) fn is_full(&self) -> bool {
        self.len > RUN_ENTRIES
    }

    /// Where the next entries' keys go, for `expand_keys` (the run starting at
    /// entry `next` when it is empty); then [`grow`](Self::grow) by what it
    /// wrote.
    #[inline(always)]
    pub(crate) fn space(&mut self, next: usize) -> &mut [u32] {
        if self.len == 0 {
            self.from = next;
        }
        &mut self.keys[self.len..]
    }

    /// Takes `n` more entries, whose keys were written to [`space`](Self::space).
    #[inline(always)]
    pub(crate) fn grow(&mut self, n: usize) {
        self.len = (self.len + n).min(RUN_ENTRIES + TINY_LEAF_MAX);
    }

    /// Adds the leaf with entries `r` (which must follow the run's last
    /// entries, or start an empty run) in the tile with key `key`; `false`
    /// (adding nothing) when it does not follow, or does not fit.
    #[inline(always)]
    pub(crate) fn push(&mut self, r: core::ops::Range<usize>, key: u32) -> bool {
        if self.len == 0 {
            self.from = r.start;
        }
        if r.start != self.from + self.len || self.len + r.len() > RUN_ENTRIES + TINY_LEAF_MAX {
            return false;
        }
        self.keys[self.len..self.len + r.len()].fill(key);
        self.len += r.len();
        true
    }

    /// Multiplies the gathered entries into `y` (`offs`, `vals`: the node's
    /// entry arrays; tiles `2^LC` columns wide; rows counted from
    /// `row_base`; `y += W·x`, or `Wᵀ·x` with `TRANSPOSE`) and empties the
    /// run. Each product is added to `y` on its own, in entry order.
    #[inline(always)]
    pub(crate) fn flush<const LC: u32, const TRANSPOSE: bool>(
        &mut self,
        row_base: usize,
        offs: &[u16],
        vals: &[f32],
        x: &[f32],
        y: &mut [f32],
    ) {
        let (from, len) = (self.from, self.len);
        self.len = 0;
        if len == 0 {
            return;
        }
        let (offs, vals) = (&offs[from..from + len], &vals[from..from + len]);
        let keys = &mut self.keys[..len];
        // Each entry's row and column, in place of its tile's, and whether
        // any lies outside the vectors (one loop without dependencies, which
        // the compiler vectorises).
        let tcm = (1u32 << LC) - 1;
        let (rows, cols) = if TRANSPOSE {
            (x.len(), y.len())
        } else {
            (y.len(), x.len())
        };
        // Rows below `rows - row_base` and columns below `cols` (and both
        // below 2^31): `last - index` has its top bit clear for every entry.
        let last_row = rows.saturating_sub(row_base + 1).min(i32::MAX as usize) as u32;
        let last_col = cols.saturating_sub(1).min(i32::MAX as usize) as u32;
        let mut out_of_range = u32::from(row_base >= rows || cols == 0) << 31;
        for (key, &o) in keys.iter_mut().zip(offs) {
            let o = u32::from(o) & 511;
            *key = key.wrapping_add(((o >> LC) << 16) | (o & tcm));
            out_of_range |=
                last_row.wrapping_sub(*key >> 16) | last_col.wrapping_sub(*key & 0xffff);
        }
        let keys = &self.keys[..len];
        if out_of_range >> 31 != 0 {
            // Not for these vectors (never so in this crate): checked indexing.
            for (&w, &key) in vals.iter().zip(keys) {
                let (i, j) = (row_base + (key >> 16) as usize, (key & 0xffff) as usize);
                if TRANSPOSE {
                    y[j] += w * x[i];
                } else {
                    y[i] += w * x[j];
                }
            }
            return;
        }
        for (&w, &key) in vals.iter().zip(keys) {
            let (i, j) = (row_base + (key >> 16) as usize, (key & 0xffff) as usize);
            // Bounds: `row_base < rows`, `key >> 16 <= rows - row_base - 1`
            // and `key & 0xffff <= cols - 1` for every key, checked just
            // above from the same keys (each difference below 2^31 has its
            // top bit clear); `rows` is the length of `y` (`x` with
            // `TRANSPOSE`) and `cols` that of `x` (`y`).
            // SAFETY: so `i < rows` and `j < cols` (see "Bounds" above).
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

    /// Adds the entries `(offset, value, row0, col0)` to `y` one by one, with
    /// checked indexing: what `flush` must reproduce bit for bit.
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

    fn flush<const LC: u32>(
        run: &mut KeyedRun,
        transpose: bool,
        row_base: usize,
        (offs, vals): (&[u16], &[f32]),
        x: &[f32],
        y: &mut [f32],
    ) {
        if transpose {
            run.flush::<LC, true>(row_base, offs, vals, x, y);
        } else {
            run.flush::<LC, false>(row_base, offs, vals, x, y);
        }
    }

    /// Leaves of random lengths in random tiles of a 12 × 2-tile matrix whose
    /// rows are counted from its third tile row (the node's first), pushed one
    /// by one and written as `expand_keys` writes them (a key over
    /// `TINY_LEAF_MAX` places), both products, against the one-by-one
    /// reference; every index stays in bounds (run under Miri in CI, where
    /// an out-of-bounds unchecked access is an error).
    fn products_match<const LC: u32>() {
        let (tr, tc) = (512usize >> LC, 1usize << LC);
        const BANDS: usize = 12;
        const LEAVES: usize = 80;
        let (rows, cols) = (BANDS * tr, 2 * tc);
        let row_base = 2 * tr;
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
            let len = next(TINY_LEAF_MAX + 1);
            let start = offs.len();
            let mut o: Vec<u16> = (0..len).map(|_| next(512) as u16).collect();
            o.sort_unstable();
            offs.extend(o);
            // Values and `x` of many significant bits, so that a sum in
            // another order rounds differently.
            vals.extend((0..len).map(|_| (next(1 << 20) as f32 / 7.3e3 - 50.0) * 1.37));
            let (row0, col0) = (row_base + next(BANDS - 2) * tr, next(2) * tc);
            leaves.push((start..offs.len(), row0, col0, next(2) == 0));
        }
        for transpose in [false, true] {
            let x: Vec<f32> = (0..if transpose { rows } else { cols })
                .map(|k| (k as f32 * 0.731 - 3.3).sin() * 9.7)
                .collect();
            let mut y = vec![0.1f32; if transpose { cols } else { rows }];
            let mut want = y.clone();
            let mut run = KeyedRun::new();
            let mut entries = vec![];
            for (r, row0, col0, by_push) in leaves.clone() {
                let key = tile_key(row0 - row_base, col0);
                if by_push {
                    if !run.push(r.clone(), key) {
                        flush::<LC>(&mut run, transpose, row_base, (&offs, &vals), &x, &mut y);
                        assert!(run.push(r.clone(), key));
                    }
                } else {
                    if run.is_full() {
                        flush::<LC>(&mut run, transpose, row_base, (&offs, &vals), &x, &mut y);
                    }
                    let space = run.space(r.start);
                    assert!(space.len() >= TINY_LEAF_MAX);
                    space[..TINY_LEAF_MAX].fill(key);
                    run.grow(r.len());
                }
                entries.extend(r.map(|k| (offs[k], vals[k], row0, col0)));
            }
            flush::<LC>(&mut run, transpose, row_base, (&offs, &vals), &x, &mut y);
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

    /// `push` refuses a leaf that does not follow the run or does not fit.
    #[test]
    fn push_refuses_what_does_not_follow_or_fit() {
        let mut run = KeyedRun::new();
        assert!(
            run.push(5..8, tile_key(0, 0)),
            "an empty run starts anywhere"
        );
        assert!(
            !run.push(9..10, tile_key(0, 0)),
            "a gap after the last leaf"
        );
        assert!(run.push(8..8, tile_key(0, 0)), "an empty leaf");
        let room = RUN_ENTRIES + TINY_LEAF_MAX - run.len();
        assert!(!run.push(8..9 + room, tile_key(0, 0)), "past the room");
        assert!(run.push(8..8 + room, tile_key(0, 0)));
        assert!(run.is_full());
    }

    /// Keys past the vectors (never so in this crate) take the checked loop:
    /// an out-of-range index panics instead of reading past the end.
    #[test]
    #[should_panic]
    fn keys_past_the_vectors_are_indexed_with_checks() {
        let mut run = KeyedRun::new();
        assert!(run.push(0..1, tile_key(8, 64)));
        let (x, mut y) = (vec![1.0f32; 128], vec![0.0f32; 8]);
        // offset 511: row 8 + 7 = 15, past y's 8 values
        run.flush::<6, false>(0, &[511], &[1.0], &x, &mut y);
    }

    /// So do rows that start past `y` (a row base past the vectors) and a
    /// column past `x`.
    #[test]
    fn every_key_is_checked_before_unchecked_indexing() {
        for (row_base, key, x_len) in [(8, tile_key(0, 0), 64), (0, tile_key(0, 64), 64)] {
            let result = std::panic::catch_unwind(move || {
                let mut run = KeyedRun::new();
                assert!(run.push(0..1, key));
                let (x, mut y) = (vec![1.0f32; x_len], vec![0.0f32; 8]);
                run.flush::<6, false>(row_base, &[0], &[1.0], &x, &mut y);
            });
            assert!(result.is_err(), "row base {row_base}, key {key:#x}");
        }
    }

    /// A flush empties the run for good: the next node's entry arrays may be
    /// shorter than where the last run ended (a node of leaf objects only
    /// after a node of many tiny leaves).
    #[test]
    fn a_flushed_run_fits_any_next_node() {
        let offs: Vec<u16> = (0..40).map(|k| (k * 7 % 512) as u16).collect();
        let vals: Vec<f32> = (0..40).map(|k| k as f32).collect();
        let (x, mut y) = (vec![1.0f32; 64], vec![0.0f32; 8]);
        let mut run = KeyedRun::new();
        assert!(run.push(30..40, tile_key(0, 0)));
        run.flush::<6, false>(0, &offs, &vals, &x, &mut y);
        assert_eq!(y.iter().sum::<f32>(), (30..40).sum::<i32>() as f32);
        run.flush::<6, false>(0, &[], &[], &x, &mut y);
        assert!(run.push(0..3, tile_key(0, 0)), "a new run starts anywhere");
        run.flush::<6, false>(0, &offs[..3], &vals[..3], &x, &mut y);
        assert_eq!(y.iter().sum::<f32>(), (30..40).sum::<i32>() as f32 + 3.0);
    }
}
