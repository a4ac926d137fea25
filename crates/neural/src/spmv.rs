//! Sparse matrix-vector products straight from the grid: `y = W·x` and
//! `y = Wᵀ·x` for any stored tensor, leaf by leaf, without a dense copy.
//!
//! For a tiled tensor each leaf holds one 2-D tile, so a leaf contributes to
//! `tile rows` entries of `y` from `tile cols` entries of `x`. A packed
//! tensor (its tiles on consecutive slots of the tree's lower nodes) is
//! streamed node by node: the node's tiny leaves (at most 16 active voxels,
//! kept inside the node) in the tensor's slot range are read in slot order
//! straight from the node's arrays (the first one found by rank, so a tensor
//! starting mid-node does not step over the tiny leaves of the tensors
//! before it), each slot mapped to its tile arithmetically, and the node's leaf
//! objects and active tiles in the tensor's slot range merged in at their
//! slots. Consecutive tiny leaves in full tiles are multiplied as one run
//! over the node's entry arrays (`KeyedRun`): a loop per leaf of ~5 values
//! mispredicts its exit about once per leaf. Over a whole MiniLM pass at
//! 99 % sparsity (every matrix once) that made the grid's SpMV ≈ 15 %
//! faster. The leaves of a range of full tiles are read into the run by the
//! tree's `TinyLeafIter::expand_keys`, one out-of-line loop that tags each
//! entry with its tile's key (first row and column) from a table of the
//! node's tiles, with no check per leaf beyond the range's end and the
//! run's room: ≈ 8 % faster than pushing each leaf through the general
//! checks (docs/performance.md, "SpMV keyed runs").
//! Other tensors' tiles are visited in row-major tile order and their
//! leaves found by a `BlockWalker` that keeps the current lower internal
//! node, so a leaf costs one child lookup, not a root → upper → lower walk.
//! Either way the tiles are visited in row-major tile order. The kernels are
//! specialised per tile width, so in-tile rows and columns are shifts and
//! masks and a tile without padding needs no bounds checks per value:
//!
//! - a full leaf (every voxel active, dense) is multiplied as a dense
//!   row-major block;
//! - a sparse packed leaf (a few active voxels) has its offsets extracted
//!   from the mask words without a branch per word (`sparse_offsets`) and
//!   its values multiplied in one loop;
//! - other leaves go through their mask word by word (`trailing_zeros`), the
//!   packed ones zipped with their active values (no dense copy); for `W·x`
//!   each tile row is summed in a register;
//! - a constant tile is `value · Σx`; edge tiles skip their padding.
//!
//! Sums are in f32, in leaf order and, inside a leaf, in offset order, so
//! results differ from a row-major dense product by rounding only (and every
//! kernel gives the same bits as adding the products to `y` one by one).

use sparsevdb_tree::{Coord, LeafRef, LeafStorage, LowerNode, RootNode, UpperNode};

use crate::dense::check_len;
use crate::error::Result;
use crate::grid::WeightGrid;
use crate::keyed_run::{tile_key, KeyedRun};
use crate::tiles::{lower_at, Block, BlockWalker, Lower, Tile, Tiles};

impl WeightGrid {
    /// `y = W·x` for tensor `name` (`x` has `cols` values, `y` `rows`).
    ///
    /// ```
    /// use sparsevdb_neural::{LayoutPlan, TensorSpec, WeightGrid, SparsityRule};
    /// let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [2, 3])], &Default::default()).unwrap();
    /// let mut g = WeightGrid::new(plan);
    /// g.store("w", &[2, 3], &[1.0f32, 0.0, 2.0, 0.0, -1.0, 0.0][..], SparsityRule::KeepAll).unwrap();
    /// assert_eq!(g.matvec("w", &[1.0, 2.0, 3.0]).unwrap(), [7.0, -2.0]);
    /// assert_eq!(g.matvec_t("w", &[1.0, 1.0]).unwrap(), [1.0, -1.0, 2.0]);
    /// assert!(g.matvec("w", &[1.0]).is_err());
    /// ```
    pub fn matvec(&self, name: &str, x: &[f32]) -> Result<Vec<f32>> {
        let t = self.plan.tensor(name)?;
        check_len("x", t.cols(), x.len())?;
        let mut y = vec![0.0f32; t.rows()];
        match Tiles::of(t) {
            Some(geom) => by_tile_width::<false>(self.tree.root(), &geom, x, &mut y),
            None => self.for_each_stored(t, |r, c, w| y[r] += w * x[c]),
        }
        Ok(y)
    }

    /// `y = Wᵀ·x` for tensor `name` (`x` has `rows` values, `y` `cols`).
    pub fn matvec_t(&self, name: &str, x: &[f32]) -> Result<Vec<f32>> {
        let t = self.plan.tensor(name)?;
        check_len("x", t.rows(), x.len())?;
        let mut y = vec![0.0f32; t.cols()];
        match Tiles::of(t) {
            Some(geom) => by_tile_width::<true>(self.tree.root(), &geom, x, &mut y),
            None => self.for_each_stored(t, |r, c, w| y[c] += w * x[r]),
        }
        Ok(y)
    }
}

/// [`tiled_product`] specialised for the tile width `2^geom.lc`, so that the
/// in-tile row and column of an offset are a shift and a mask by constants.
fn by_tile_width<const TRANSPOSE: bool>(
    root: &RootNode<UpperNode<f32>>,
    geom: &Tiles,
    x: &[f32],
    y: &mut [f32],
) {
    match geom.lc {
        0 => tiled_product::<0, TRANSPOSE>(root, geom, x, y),
        1 => tiled_product::<1, TRANSPOSE>(root, geom, x, y),
        2 => tiled_product::<2, TRANSPOSE>(root, geom, x, y),
        3 => tiled_product::<3, TRANSPOSE>(root, geom, x, y),
        4 => tiled_product::<4, TRANSPOSE>(root, geom, x, y),
        5 => tiled_product::<5, TRANSPOSE>(root, geom, x, y),
        6 => tiled_product::<6, TRANSPOSE>(root, geom, x, y),
        7 => tiled_product::<7, TRANSPOSE>(root, geom, x, y),
        8 => tiled_product::<8, TRANSPOSE>(root, geom, x, y),
        _ => tiled_product::<9, TRANSPOSE>(root, geom, x, y),
    }
}

/// `y += W·x` (or `Wᵀ·x`) over the tiles of a tiled or packed tensor whose
/// tiles are `2^LC` columns wide. A packed tensor is streamed lower node by
/// lower node ([`stream_product`]); otherwise the leaves are walked in tile
/// order with a `BlockWalker` (one child lookup per tile while the tiles
/// stay in one lower node).
fn tiled_product<const LC: u32, const TRANSPOSE: bool>(
    root: &RootNode<UpperNode<f32>>,
    geom: &Tiles,
    x: &[f32],
    y: &mut [f32],
) {
    if stream_product::<LC, TRANSPOSE>(root, geom, x, y) {
        return;
    }
    let mut walker = BlockWalker::new(root);
    let mut offsets = [0u16; OFFSETS];
    geom.for_each_tile(|tile| {
        if let Some(block) = walker.block(tile.leaf) {
            block_product::<LC, TRANSPOSE>(&tile, block, x, y, &mut offsets);
        }
    });
}

/// The slots of a lower node in `lo..hi` holding a leaf object or an active
/// tile, ascending (`usize::MAX` past the last one).
struct OtherSlots<'a> {
    children: &'a [u64],
    tiles: &'a [u64],
    word: usize,
    bits: u64,
    hi: usize,
}

impl<'a> OtherSlots<'a> {
    fn new(lower: &'a LowerNode<f32>, lo: usize, hi: usize) -> Self {
        let (children, tiles) = (lower.child_mask().words(), lower.value_mask().words());
        let word = lo >> 6;
        let bits = match (children.get(word), tiles.get(word)) {
            (Some(c), Some(t)) => (c | t) & (u64::MAX << (lo & 63)),
            _ => 0,
        };
        Self {
            children,
            tiles,
            word,
            bits,
            hi,
        }
    }

    #[inline]
    fn next_slot(&mut self) -> usize {
        while self.bits == 0 {
            self.word += 1;
            if self.word << 6 >= self.hi {
                return usize::MAX;
            }
            match (self.children.get(self.word), self.tiles.get(self.word)) {
                (Some(c), Some(t)) => self.bits = c | t,
                _ => return usize::MAX,
            }
        }
        let n = (self.word << 6) | self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        if n < self.hi {
            n
        } else {
            usize::MAX
        }
    }
}

/// `y += W·x` (or `Wᵀ·x`) for a packed tensor, streamed: for every lower
/// node its tiles touch, the node's tiny leaves in the tensor's slot range
/// `lo..hi` are read in slot order straight from the node's arrays
/// (`tiny_leaves_in`: the first found by rank, none before `lo` visited; no
/// per-leaf view, no per-tile lookup),
/// each slot mapped to its tile arithmetically (slot `s` of the node holds
/// tile `k_lo + s - lo`); the few leaf objects and active tiles of the range
/// are merged in at their slots, so the tiles are still visited in
/// row-major tile order and the sums are the same as the walker's. The
/// tiny leaves of full tiles whose keys fit go into a [`KeyedRun`] (read by
/// `expand_keys` while no leaf object or active tile comes first); the
/// others (edge tiles) are added on their own, skipping padding. Returns
/// `false` (doing nothing) when the tensor is not packed on the tree's lower
/// nodes.
fn stream_product<const LC: u32, const TRANSPOSE: bool>(
    root: &RootNode<UpperNode<f32>>,
    geom: &Tiles,
    x: &[f32],
    y: &mut [f32],
) -> bool {
    let tr = 512usize >> LC;
    let tc = 1usize << LC;
    let tcm = tc - 1;
    let n_tj = geom.tiles_per_row();
    let (rows, cols) = (geom.rows, geom.cols);
    // Tiles with `ti < full_ti` and `tj < full_tj` have no padding; keys hold
    // columns below 65,536.
    let (full_ti, full_tj) = (rows / tr, (cols / tc).min(KEY_END / tc));
    let mut offsets = [0u16; OFFSETS];
    let mut run = KeyedRun::new();
    // A lower node has 4,096 slots.
    let mut keys = vec![0u32; geom.tile_count().min(4096)];
    let tile_at = |ti: usize, tj: usize, leaf: Coord| {
        let (row0, col0) = (ti * tr, tj * tc);
        let (rows_in, cols_in) = (tr.min(rows - row0), tc.min(cols - col0));
        Tile {
            leaf,
            row0,
            col0,
            rows_in,
            cols_in,
            full: rows_in == tr && cols_in == tc,
        }
    };
    geom.for_each_packed_node(|c, lo, hi, k_lo| {
        let lower = match lower_at(root, c) {
            Lower::Empty => return,
            Lower::Tile(v) => {
                for k in k_lo..k_lo + (hi - lo) {
                    let tile = tile_at(k / n_tj, k % n_tj, c);
                    block_product::<LC, TRANSPOSE>(&tile, Block::Tile(v), x, y, &mut offsets);
                }
                return;
            }
            Lower::Node(lower) => lower,
        };
        let mut others = OtherSlots::new(lower, lo, hi);
        let mut next_other = others.next_slot();
        let other = |s: usize, y: &mut [f32], offsets: &mut [u16; OFFSETS]| {
            let block = match lower.leaf(s) {
                Some(l) => Block::Leaf(l),
                None => match lower.tile(s) {
                    Some((v, true)) => Block::Tile(v),
                    _ => return,
                },
            };
            let k = k_lo + (s - lo);
            let tile = tile_at(k / n_tj, k % n_tj, lower.offset_to_global(s));
            block_product::<LC, TRANSPOSE>(&tile, block, x, y, offsets);
        };
        // The key of every slot's tile: its first row counted from the node's
        // first tile row `ti_lo`, and its first column.
        let ti_lo = k_lo / n_tj;
        let row_base = ti_lo * tr;
        {
            // Band by band: the first may start mid-band.
            let (mut rel, mut tj0, mut at) = (0usize, k_lo % n_tj, 0usize);
            while at < hi - lo {
                let n = (n_tj - tj0).min(hi - lo - at);
                for (j, key) in keys[at..at + n].iter_mut().enumerate() {
                    *key = tile_key(rel, (tj0 + j) << LC);
                }
                (rel, tj0, at) = (rel + tr, 0, at + n);
            }
        }
        // Full tiles whose keys fit (rows below 65,536 from the node's first)
        // from slot `s` on: `s..fast_end(s)`, empty when `s`'s is not one.
        let ti_end = full_ti.min(ti_lo + KEY_END / tr);
        let fast_end = |s: usize| {
            let k = k_lo + (s - lo);
            let (ti, tj) = (k / n_tj, k % n_tj);
            if ti >= ti_end || tj >= full_tj {
                return s;
            }
            let k_end = if full_tj == n_tj {
                ti_end * n_tj
            } else {
                k - tj + full_tj
            };
            (lo + (k_end - k_lo)).min(hi)
        };
        let mut leaves = lower.tiny_leaves_in(lo..hi);
        let (offs, vals) = leaves.entries();
        let mut fast = fast_end(lo);
        loop {
            let until = fast.min(next_other).max(lo);
            let n = leaves.expand_keys(lo, &keys[..until - lo], run.space(leaves.next_start()));
            run.grow(n);
            if run.is_full() {
                run.flush::<LC, TRANSPOSE>(row_base, offs, vals, x, y);
                continue;
            }
            let Some((s, r)) = leaves.next_range() else {
                break;
            };
            // The leaves before `s` are in the run; leaf objects and active
            // tiles before `s` come after them.
            if next_other < s {
                run.flush::<LC, TRANSPOSE>(row_base, offs, vals, x, y);
                while next_other < s {
                    other(next_other, y, &mut offsets);
                    next_other = others.next_slot();
                }
            }
            if s >= fast {
                fast = fast_end(s);
            }
            if s < fast && run.push(r.clone(), keys[s - lo]) {
                continue;
            }
            // An edge tile (skip padding voxels), or a tile whose key does not
            // fit: added on its own, after the run.
            run.flush::<LC, TRANSPOSE>(row_base, offs, vals, x, y);
            let k = k_lo + (s - lo);
            let (row0, col0) = (k / n_tj * tr, k % n_tj * tc);
            let (rows_in, cols_in) = (tr.min(rows - row0), tc.min(cols - col0));
            for (&n, &w) in offs[r.clone()].iter().zip(&vals[r]) {
                let n = usize::from(n) & 511;
                let (i, j) = (n >> LC, n & tcm);
                if i < rows_in && j < cols_in {
                    if TRANSPOSE {
                        y[col0 + j] += w * x[row0 + i];
                    } else {
                        y[row0 + i] += w * x[col0 + j];
                    }
                }
            }
            fast = fast_end((s + 1).min(hi));
        }
        run.flush::<LC, TRANSPOSE>(row_base, offs, vals, x, y);
        while next_other < hi {
            other(next_other, y, &mut offsets);
            next_other = others.next_slot();
        }
    })
}

/// Tile rows and columns in keys are below this.
const KEY_END: usize = 1 << 16;

/// `y += W·x` (or `Wᵀ·x`) for one tile held by `block`. Inside a tile
/// without padding, in-tile indices need no bounds checks: the `x` and `y`
/// windows have exactly the tile's extent.
#[inline(always)]
fn block_product<const LC: u32, const TRANSPOSE: bool>(
    tile: &Tile,
    block: Block<'_>,
    x: &[f32],
    y: &mut [f32],
    offsets: &mut [u16; OFFSETS],
) {
    let tc = 1usize << LC;
    let tr = 512usize >> LC;
    let tcm = tc - 1;
    let rows = tile.row0..tile.row0 + tile.rows_in;
    let cols = tile.col0..tile.col0 + tile.cols_in;
    let (xs, ys) = if TRANSPOSE {
        (&x[rows], &mut y[cols])
    } else {
        (&x[cols], &mut y[rows])
    };
    let leaf = match block {
        Block::Tile(v) => {
            let s: f32 = xs.iter().sum();
            ys.iter_mut().for_each(|yi| *yi += v * s);
            return;
        }
        Block::Leaf(leaf) => leaf,
    };
    let storage = leaf.storage();
    if !tile.full {
        // An edge tile: skip padding voxels.
        for_each_on(&leaf, storage, |n, w| {
            let (i, j) = (n >> LC, n & tcm);
            if i < tile.rows_in && j < tile.cols_in {
                if TRANSPOSE {
                    ys[j] += w * xs[i];
                } else {
                    ys[i] += w * xs[j];
                }
            }
        });
        return;
    }
    let (xs, ys) = if TRANSPOSE {
        (&xs[..tr], &mut ys[..tc])
    } else {
        (&xs[..tc], &mut ys[..tr])
    };
    // n < 512, so n >> LC < tr and n & tcm < tc: no bounds checks.
    let mut add = |n: usize, w: f32| {
        if TRANSPOSE {
            ys[n & tcm] += w * xs[n >> LC];
        } else {
            ys[n >> LC] += w * xs[n & tcm];
        }
    };
    match storage {
        LeafStorage::Dense(vals) if leaf.value_mask().is_all_on() => {
            if TRANSPOSE {
                for (&xi, row) in xs.iter().zip(vals.chunks_exact(tc)) {
                    for (yj, w) in ys.iter_mut().zip(row) {
                        *yj += w * xi;
                    }
                }
            } else {
                for (yi, row) in ys.iter_mut().zip(vals.chunks_exact(tc)) {
                    *yi += dot(row, xs);
                }
            }
        }
        LeafStorage::Dense(vals) => {
            let vals = &vals[..512];
            if TRANSPOSE {
                for_each_on(&leaf, storage, add);
            } else {
                rows_mv::<LC>(leaf.value_mask().words(), |n| vals[n], xs, ys);
            }
        }
        LeafStorage::Packed { active, .. } if leaf.is_tiny() => {
            // A tiny leaf lists its offsets: no mask to decode.
            let tiny = leaf.tiny_offsets().unwrap_or(&[]);
            for (&n, &w) in tiny.iter().zip(active) {
                add(usize::from(n) & 511, w);
            }
        }
        LeafStorage::Packed { active, .. } if active.len() <= SPARSE_LEAF => {
            let count = sparse_offsets(leaf.value_mask().words(), offsets);
            for (&n, &w) in offsets[..count].iter().zip(active) {
                add(usize::from(n) & 511, w);
            }
        }
        LeafStorage::Packed { active, .. } => {
            if TRANSPOSE {
                for_each_on(&leaf, storage, add);
            } else {
                let mut vals = active.iter();
                rows_mv::<LC>(
                    leaf.value_mask().words(),
                    |_| vals.next().copied().unwrap_or(0.0),
                    xs,
                    ys,
                );
            }
        }
    }
}

/// Active voxels up to which a packed leaf counts as sparse: its offsets are
/// extracted by [`sparse_offsets`] and its values multiplied in one loop.
const SPARSE_LEAF: usize = 24;

/// Room for a leaf's offsets (512 voxels).
const OFFSETS: usize = 512;

/// Writes the offsets of the on bits of a leaf's mask `words` (at most 8
/// words) in increasing order to `out`, and returns how many there are.
///
/// Made for sparse leaves (about one on bit per word): each word writes its
/// first `trailing_zeros` result unconditionally, the write position moving
/// on only past a real bit, and only a word with more on bits loops over
/// the rest. A `while bits != 0` loop per word instead mispredicts about
/// every other word when the bits are spread at random (99 % sparsity),
/// which costs more than the whole product of a leaf's few values.
#[inline(always)]
fn sparse_offsets(words: &[u64], out: &mut [u16; OFFSETS]) -> usize {
    let mut pos = 0usize;
    for (wi, &word) in words.iter().enumerate().take(8) {
        let base = (wi << 6) as u16;
        let mut bits = word;
        // An unconditional write lands at pos ≤ 64·wi ≤ 448 and a looped one
        // at pos < 512 (a real bit), so `& (OFFSETS - 1)` never changes the
        // index; it lets the compiler drop the bounds checks.
        out[pos & (OFFSETS - 1)] = base + bits.trailing_zeros() as u16;
        pos += usize::from(bits != 0);
        bits &= bits.wrapping_sub(1);
        while bits != 0 {
            out[pos & (OFFSETS - 1)] = base + bits.trailing_zeros() as u16;
            pos += 1;
            bits &= bits - 1;
        }
    }
    pos
}

/// `ys += W·xs` for one full tile `2^LC` columns wide whose active mask is
/// `words`, `value(n)` giving the values of the active voxels in offset order.
/// Each tile row is summed in a register (starting from `ys[i]` and adding
/// the products in offset order, so the result has the same bits as adding
/// them to `ys[i]` one by one), instead of a load-add-store chain through
/// `ys[i]` per value.
#[inline(always)]
fn rows_mv<const LC: u32>(
    words: &[u64],
    mut value: impl FnMut(usize) -> f32,
    xs: &[f32],
    ys: &mut [f32],
) {
    let tcm = (1usize << LC) - 1;
    if LC >= 6 {
        // A row is 2^(LC - 6) whole mask words.
        let wpr = 1usize << LC.saturating_sub(6);
        for (i, yi) in ys.iter_mut().enumerate() {
            let mut acc = *yi;
            for wi in i * wpr..(i + 1) * wpr {
                let mut bits = words[wi & 7];
                while bits != 0 {
                    let n = (((wi & 7) << 6) | bits.trailing_zeros() as usize) & 511;
                    bits &= bits - 1;
                    acc += value(n) * xs[n & tcm];
                }
            }
            *yi = acc;
        }
    } else {
        // A word holds 2^(6 - LC) rows: take the on bits row by row.
        let row_mask = u64::MAX >> (64 - (1u32 << LC).min(64));
        for (wi, &word) in words.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                let shift = rest.trailing_zeros() & !((1u32 << LC) - 1);
                let mut bits = rest & (row_mask << shift);
                rest &= !(row_mask << shift);
                let i = ((((wi & 7) << 6) | shift as usize) & 511) >> LC;
                let mut acc = ys[i];
                while bits != 0 {
                    let n = (((wi & 7) << 6) | bits.trailing_zeros() as usize) & 511;
                    bits &= bits - 1;
                    acc += value(n) * xs[n & tcm];
                }
                ys[i] = acc;
            }
        }
    }
}

/// Calls `f(offset, value)` for every active voxel of `leaf` in offset order
/// (`offset < 512`): a dense leaf indexed through its mask, a packed one by
/// zipping the mask's on bits (a `trailing_zeros` loop over each mask word)
/// with its active values (no dense copy, no per-voxel rank lookup), a tiny
/// leaf by zipping its offsets with its values.
#[inline(always)]
pub(crate) fn for_each_on(
    leaf: &LeafRef<'_, f32>,
    storage: LeafStorage<'_, f32>,
    mut f: impl FnMut(usize, f32),
) {
    if let (Some(offsets), LeafStorage::Packed { active, .. }) = (leaf.tiny_offsets(), storage) {
        for (&o, &w) in offsets.iter().zip(active) {
            f(usize::from(o) & 511, w);
        }
        return;
    }
    let words = leaf.value_mask().words();
    match storage {
        LeafStorage::Dense(vals) => {
            let vals = &vals[..512];
            for (wi, &word) in words.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let n = ((wi << 6) | bits.trailing_zeros() as usize) & 511;
                    bits &= bits - 1;
                    f(n, vals[n]);
                }
            }
        }
        LeafStorage::Packed { active, .. } => {
            let mut vals = active.iter();
            for (wi, &word) in words.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let n = ((wi << 6) | bits.trailing_zeros() as usize) & 511;
                    bits &= bits - 1;
                    let Some(&w) = vals.next() else { return };
                    f(n, w);
                }
            }
        }
    }
}

/// A dot product in 8 independent lanes (lets the compiler vectorise).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, ra) = a.split_at(a.len() / 8 * 8);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(8).zip(cb.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// A quickcheck property of both products over random plans, stores and tree
/// mutations (it reuses `tests::reference`).
#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use crate::planner::PlanOptions;
    use crate::{
        CsrMatrix, LayoutPlan, ModelDesc, SparsityRule, TensorSpec, TileShape, WeightGrid,
    };

    pub(super) fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::synth::SplitMix64::new(seed);
        (0..n).map(|_| r.normalish(0.1)).collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * scale, "{x} vs {y}");
        }
    }

    #[test]
    fn matches_dense_and_csr() {
        for tile in TileShape::all() {
            for (rows, cols) in [(37, 91), (64, 64), (1, 700), (130, 3)] {
                let opts = PlanOptions {
                    tile: Some(tile),
                    ..Default::default()
                };
                let plan =
                    LayoutPlan::from_tensors(&[TensorSpec::new("w", [rows, cols])], &opts).unwrap();
                let mut g = WeightGrid::new(plan);
                let w = values(rows * cols, 3);
                let x = values(cols, 4);
                let xt = values(rows, 5);
                for rule in [
                    SparsityRule::KeepAll,
                    SparsityRule::Sparsity(0.9),
                    SparsityRule::Sparsity(0.99),
                ] {
                    g.store("w", &[rows, cols], &w[..], rule).unwrap();
                    let dense = g.load("w").unwrap();
                    let csr = CsrMatrix::from_dense(&dense, rule.cut(&w).unwrap()).unwrap();
                    close(&g.matvec("w", &x).unwrap(), &dense.matvec(&x).unwrap());
                    close(
                        &g.matvec_t("w", &xt).unwrap(),
                        &dense.matvec_t(&xt).unwrap(),
                    );
                    close(&csr.matvec(&x).unwrap(), &dense.matvec(&x).unwrap());
                }
                // constant tiles
                g.store(
                    "w",
                    &[rows, cols],
                    &vec![0.5f32; rows * cols][..],
                    SparsityRule::KeepAll,
                )
                .unwrap();
                let dense = g.load("w").unwrap();
                close(&g.matvec("w", &x).unwrap(), &dense.matvec(&x).unwrap());
                close(
                    &g.matvec_t("w", &xt).unwrap(),
                    &dense.matvec_t(&xt).unwrap(),
                );
            }
        }
    }

    #[test]
    fn packed_and_dense_leaves_give_the_same_bits() {
        for tile in TileShape::all() {
            let opts = PlanOptions {
                tile: Some(tile),
                ..Default::default()
            };
            let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [70, 90])], &opts).unwrap();
            let mut g = WeightGrid::new(plan.clone());
            let w = values(70 * 90, 11);
            g.store("w", &[70, 90], &w[..], SparsityRule::Sparsity(0.8))
                .unwrap();
            assert!(g.tree().leaves().any(|l| !l.is_dense()), "{tile:?}");
            let mut d = g.clone();
            d.tree.leaves_mut().for_each(|l| {
                l.make_dense();
            });
            assert!(d.tree().leaves().all(|l| l.is_dense()));
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            let (x, xt) = (values(90, 12), values(70, 13));
            assert_eq!(
                bits(g.matvec("w", &x).unwrap()),
                bits(d.matvec("w", &x).unwrap())
            );
            assert_eq!(
                bits(g.matvec_t("w", &xt).unwrap()),
                bits(d.matvec_t("w", &xt).unwrap())
            );
            let loaded = g.load("w").unwrap();
            assert_eq!(
                bits(loaded.data().to_vec()),
                bits(d.load("w").unwrap().data().to_vec())
            );
            // Stored values come back bit-exact, the pruned ones as 0.
            let cut = SparsityRule::Sparsity(0.8).cut(&w).unwrap();
            let kept = loaded.data().iter().filter(|v| **v != 0.0).count();
            assert!(kept > 0 && kept < w.len(), "{cut:?}");
            for (a, b) in loaded.data().iter().zip(&w) {
                assert!(*a == 0.0 || a.to_bits() == b.to_bits());
            }
            // A gradient step gives the same bits in either form.
            let mut grad = WeightGrid::new(plan);
            grad.store(
                "w",
                &[70, 90],
                &values(70 * 90, 14)[..],
                SparsityRule::Sparsity(0.5),
            )
            .unwrap();
            g.apply_gradient(&grad, 0.25).unwrap();
            d.apply_gradient(&grad, 0.25).unwrap();
            assert_eq!(
                bits(g.load("w").unwrap().data().to_vec()),
                bits(d.load("w").unwrap().data().to_vec())
            );
            assert!(g.tree().leaves().any(|l| !l.is_dense()), "still packed");
        }
    }

    /// The product the straightforward way: every tile's leaf looked up
    /// through an accessor, every active voxel added to `y` in offset order
    /// with a bounds check — what the specialised kernels must reproduce bit
    /// for bit.
    pub(super) fn reference(g: &WeightGrid, name: &str, x: &[f32], transpose: bool) -> Vec<f32> {
        use crate::tiles::{block_at, Block, Tiles};
        let t = g.plan().tensor(name).unwrap();
        let geom = Tiles::of(t).unwrap();
        let acc = g.tree().accessor();
        let tcm = geom.tile_cols() - 1;
        let mut y = vec![0.0f32; if transpose { t.cols() } else { t.rows() }];
        for tile in geom.iter() {
            let (xs, ys) = if transpose {
                (
                    &x[tile.row0..tile.row0 + tile.rows_in],
                    &mut y[tile.col0..tile.col0 + tile.cols_in],
                )
            } else {
                (
                    &x[tile.col0..tile.col0 + tile.cols_in],
                    &mut y[tile.row0..tile.row0 + tile.rows_in],
                )
            };
            match block_at(&acc, tile.leaf) {
                Some(Block::Leaf(leaf))
                    if !transpose
                        && tile.full
                        && leaf.is_dense()
                        && leaf.value_mask().is_all_on() =>
                {
                    // a full leaf: row-major block, 8-lane dot products
                    let vals: Vec<f32> = (0..512).map(|n| leaf.value_at(n)).collect();
                    for (yi, row) in ys.iter_mut().zip(vals.chunks_exact(tcm + 1)) {
                        *yi += super::dot(row, xs);
                    }
                }
                Some(Block::Leaf(leaf)) => {
                    for (n, w) in leaf.iter_on() {
                        let (i, j) = (n >> geom.lc, n & tcm);
                        if i < tile.rows_in && j < tile.cols_in {
                            if transpose {
                                ys[j] += w * xs[i];
                            } else {
                                ys[i] += w * xs[j];
                            }
                        }
                    }
                }
                Some(Block::Tile(v)) => {
                    let s: f32 = xs.iter().sum();
                    ys.iter_mut().for_each(|yi| *yi += v * s);
                }
                None => {}
            }
        }
        y
    }

    #[test]
    fn kernels_give_the_reference_bits() {
        use crate::planner::PlanLayout;
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        for layout in [PlanLayout::Packed, PlanLayout::Slabs] {
            for tile in TileShape::all() {
                // sizes off the tile grid, a tall one spanning several lower
                // nodes, a one-row one
                for (rows, cols) in [(37, 91), (64, 64), (300, 200), (2100, 40), (1, 700)] {
                    let opts = PlanOptions {
                        tile: Some(tile),
                        layout,
                        ..Default::default()
                    };
                    let plan =
                        LayoutPlan::from_tensors(&[TensorSpec::new("w", [rows, cols])], &opts)
                            .unwrap();
                    let mut g = WeightGrid::new(plan);
                    let w = values(rows * cols, 21);
                    let constant = vec![0.25f32; rows * cols];
                    let (x, xt) = (values(cols, 22), values(rows, 23));
                    for (data, rule) in [
                        (&w, SparsityRule::KeepAll),
                        (&w, SparsityRule::Sparsity(0.5)),
                        (&w, SparsityRule::Sparsity(0.9)),
                        (&w, SparsityRule::Sparsity(0.99)),
                        (&constant, SparsityRule::KeepAll), // tiles, not leaves
                    ] {
                        g.store("w", &[rows, cols], &data[..], rule).unwrap();
                        for dense_leaves in [false, true] {
                            let mut h = g.clone();
                            if dense_leaves {
                                h.tree.leaves_mut().for_each(|l| {
                                    l.make_dense();
                                });
                            }
                            let d = h.load("w").unwrap();
                            let (mv, mvt) =
                                (h.matvec("w", &x).unwrap(), h.matvec_t("w", &xt).unwrap());
                            let what =
                                format!("{layout:?} {tile} {rows}x{cols} {rule:?} {dense_leaves}");
                            assert_eq!(
                                bits(mv.clone()),
                                bits(reference(&h, "w", &x, false)),
                                "{what}"
                            );
                            assert_eq!(
                                bits(mvt.clone()),
                                bits(reference(&h, "w", &xt, true)),
                                "{what}"
                            );
                            close(&mv, &d.matvec(&x).unwrap());
                            close(&mvt, &d.matvec_t(&xt).unwrap());
                        }
                    }
                }
            }
        }
    }

    /// The streamed path of packed tensors: nodes of tiny leaves only, tiny
    /// leaves mixed with leaf objects and active tiles in one lower node, two
    /// tensors sharing a node (the second starting mid-node, its slots
    /// interleaved with nothing of the first), edge tiles, both products.
    #[test]
    fn streamed_packed_products_give_the_reference_bits() {
        use sparsevdb_tree::{Coord, CoordBBox};
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        for tile in [
            TileShape::new(64).unwrap(),
            TileShape::new(8).unwrap(),
            TileShape::new(512).unwrap(),
        ] {
            let opts = PlanOptions {
                tile: Some(tile),
                ..Default::default()
            };
            let specs = [
                TensorSpec::new("a", [37, 91]),
                TensorSpec::new("b", [1000, 200]),
                TensorSpec::new("c", [64, 64]),
            ];
            let plan = LayoutPlan::from_tensors(&specs, &opts).unwrap();
            let mut g = WeightGrid::new(plan);
            for (k, spec) in specs.iter().enumerate() {
                let (r, c) = (spec.shape[0], spec.shape[1]);
                g.store(
                    spec.name.as_str(),
                    &[r, c],
                    &values(r * c, 30 + k as u64)[..],
                    SparsityRule::Sparsity(0.99),
                )
                .unwrap();
            }
            let tiny: usize = g
                .tree()
                .root()
                .children()
                .flat_map(|u| u.children())
                .map(|l| l.tiny_leaf_count())
                .sum();
            assert!(tiny > 0, "{tile}: no tiny leaves");
            let check = |g: &WeightGrid, what: &str| {
                for spec in &specs {
                    let (r, c) = (spec.shape[0], spec.shape[1]);
                    let (x, xt) = (values(c, 40), values(r, 41));
                    let (mv, mvt) = (
                        g.matvec(spec.name.as_str(), &x).unwrap(),
                        g.matvec_t(spec.name.as_str(), &xt).unwrap(),
                    );
                    let what = format!("{tile} {} {what}", spec.name.as_str());
                    assert_eq!(
                        bits(mv.clone()),
                        bits(reference(g, spec.name.as_str(), &x, false)),
                        "{what}"
                    );
                    assert_eq!(
                        bits(mvt.clone()),
                        bits(reference(g, spec.name.as_str(), &xt, true)),
                        "{what}"
                    );
                    let d = g.load(spec.name.as_str()).unwrap();
                    close(&mv, &d.matvec(&x).unwrap());
                    close(&mvt, &d.matvec_t(&xt).unwrap());
                }
            };
            // Some tensor starts mid-node after another tensor's tiny leaves
            // (what `tiny_leaves_in` skips by rank rather than by walking).
            let mut mid_node = false;
            for spec in &specs {
                let geom =
                    crate::tiles::Tiles::of(g.plan().tensor(spec.name.as_str()).unwrap()).unwrap();
                geom.for_each_packed_node(|c, lo, _, _| {
                    if let crate::tiles::Lower::Node(lower) =
                        crate::tiles::lower_at(g.tree().root(), c)
                    {
                        mid_node |= lo > 0 && lower.tiny_leaves_in(0..lo).next().is_some();
                    }
                });
            }
            assert!(
                mid_node,
                "{tile}: no tensor starts mid-node after tiny leaves"
            );
            check(&g, "tiny");
            // Mix in leaf objects (a leaf written past the tiny limit) and
            // active tiles (a leaf filled with one value) among tiny leaves,
            // in the middle and at the edge of each tensor.
            for spec in &specs {
                let geom =
                    crate::tiles::Tiles::of(g.plan().tensor(spec.name.as_str()).unwrap()).unwrap();
                let tiles: Vec<_> = geom.iter().collect();
                let n = tiles.len();
                for (i, t) in [(1usize, 0), (n / 2, 1), (n - 1, 2), (n / 3, 0)] {
                    let o = tiles[i.min(n - 1)].leaf;
                    match t {
                        0 => {
                            for d in 0..40 {
                                g.tree.set_value(
                                    Coord::new(o.x + d / 8 % 8, o.y + d % 8, o.z + d % 5),
                                    0.01 * d as f32,
                                );
                            }
                        }
                        1 => g.tree.fill(
                            &CoordBBox::new(o, Coord::new(o.x + 7, o.y + 7, o.z + 7)),
                            0.125,
                            true,
                        ),
                        _ => g.tree.set_value(o, 3.0),
                    }
                }
            }
            let objects: usize = g
                .tree()
                .root()
                .children()
                .flat_map(|u| u.children())
                .map(|l| l.children().count())
                .sum();
            assert!(
                objects > 0 && g.tree().active_tile_count() > 0,
                "{tile}: not mixed"
            );
            for spec in &specs {
                let t = g.plan().tensor(spec.name.as_str()).unwrap();
                let streamed = crate::tiles::Tiles::of(t)
                    .unwrap()
                    .for_each_packed_node(|_, _, _, _| {});
                assert!(streamed, "{tile}: {} not streamed", spec.name);
            }
            // A value in a padding voxel of edge tiles (past the last column,
            // past the last row), in a leaf otherwise tiny: it must be skipped.
            let mut padded = 0;
            for spec in &specs {
                let geom =
                    crate::tiles::Tiles::of(g.plan().tensor(spec.name.as_str()).unwrap()).unwrap();
                let (tr, tc) = (geom.tile_rows(), geom.tile_cols());
                let edge_col = geom.iter().find(|t| t.cols_in < tc);
                let edge_row = geom.iter().find(|t| t.rows_in < tr && t.cols_in == tc);
                for (tile, n) in [(edge_col, tc - 1), (edge_row, (tr - 1) * tc)] {
                    if let Some(tile) = tile {
                        let o = tile.leaf;
                        let (dx, dy, dz) = (n >> 6, (n >> 3) & 7, n & 7);
                        g.tree.set_value(
                            Coord::new(o.x + dx as i32, o.y + dy as i32, o.z + dz as i32),
                            1e6,
                        );
                        padded += 1;
                    }
                }
            }
            assert!(padded > 0, "{tile}: no padding written");
            check(&g, "mixed");
        }
    }

    /// Keyed runs keep a tile's first row (counted from its lower node's
    /// first) and first column as `u16`s: tiles past that take the per-leaf
    /// path, with the same bits. Also tensors over many lower nodes, each with
    /// its own first row.
    #[test]
    fn tensors_past_u16_keys_give_the_reference_bits() {
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        for (rows, cols, tile) in [
            (70_001usize, 3usize, 64u32),
            (2, 70_003, 64),
            (2, 140_000, 512),
            (200_000, 2, 1),
            (70_001, 128, 64),
        ] {
            let specs = [TensorSpec::new("w", [rows, cols])];
            let opts = PlanOptions {
                tile: Some(TileShape::new(tile).unwrap()),
                ..Default::default()
            };
            let plan = LayoutPlan::from_tensors(&specs, &opts).unwrap();
            let mut g = WeightGrid::new(plan);
            let w = values(rows * cols, 50);
            g.store("w", &[rows, cols], &w[..], SparsityRule::Sparsity(0.99))
                .unwrap();
            let (x, xt) = (values(cols, 51), values(rows, 52));
            let (mv, mvt) = (g.matvec("w", &x).unwrap(), g.matvec_t("w", &xt).unwrap());
            assert_eq!(bits(mv.clone()), bits(reference(&g, "w", &x, false)));
            assert_eq!(bits(mvt.clone()), bits(reference(&g, "w", &xt, true)));
            let d = g.load("w").unwrap();
            close(&mv, &d.matvec(&x).unwrap());
            close(&mvt, &d.matvec_t(&xt).unwrap());
        }
    }

    /// One tensor over two lower nodes: the first all tiny leaves (a long
    /// run), the second leaf objects only (no tiny leaf: its entry arrays are
    /// empty when the run is flushed at its end).
    #[test]
    fn tiny_node_then_object_node() {
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        // 512-wide tiles of one row: 4096 tiles fill the first lower node.
        let (rows, cols) = (4096 + 8, 512);
        let opts = PlanOptions {
            tile: Some(TileShape::new(512).unwrap()),
            ..Default::default()
        };
        let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [rows, cols])], &opts).unwrap();
        let mut g = WeightGrid::new(plan);
        let mut w = values(rows * cols, 60);
        for (k, v) in w.iter_mut().enumerate() {
            // 1 % above the threshold in the first node, all of the last rows
            *v = if k >= 4096 * cols || k % 101 == 0 {
                1.0 + v.abs()
            } else {
                0.0
            };
        }
        g.store("w", &[rows, cols], &w[..], SparsityRule::Threshold(0.5))
            .unwrap();
        let (x, xt) = (values(cols, 61), values(rows, 62));
        let (mv, mvt) = (g.matvec("w", &x).unwrap(), g.matvec_t("w", &xt).unwrap());
        assert_eq!(bits(mv), bits(reference(&g, "w", &x, false)));
        assert_eq!(bits(mvt), bits(reference(&g, "w", &xt, true)));
    }

    #[test]
    fn classic_layout_products() {
        let plan = LayoutPlan::classic(&ModelDesc::bert(1, 4, 32, 64)).unwrap();
        let mut g = WeightGrid::new(plan.clone());
        for t in plan.tensors() {
            let w = values(t.len(), 7);
            g.store(t.name(), t.shape(), &w[..], SparsityRule::Sparsity(0.8))
                .unwrap();
            let d = g.load(t.name()).unwrap();
            let x = values(t.cols(), 8);
            let xt = values(t.rows(), 9);
            close(&g.matvec(t.name(), &x).unwrap(), &d.matvec(&x).unwrap());
            close(
                &g.matvec_t(t.name(), &xt).unwrap(),
                &d.matvec_t(&xt).unwrap(),
            );
        }
    }
}
