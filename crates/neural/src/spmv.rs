//! Sparse matrix-vector products straight from the grid: `y = W·x` and
//! `y = Wᵀ·x` for any stored tensor, leaf by leaf, without a dense copy.
//!
//! For a tiled tensor each leaf holds one 2-D tile, so a leaf contributes to
//! `tile rows` entries of `y` from `tile cols` entries of `x`. A full leaf
//! (every voxel active) is multiplied as a dense row-major block, a sparse
//! leaf voxel by voxel through its active mask (a packed leaf's active values
//! read in order from their slice, zipped with the mask's on bits: no dense
//! copy), and a constant tile as `value · Σx`. Sums are in f32, in leaf order,
//! so results differ from a row-major dense product by rounding only.

use sparsevdb_tree::{LeafNode, LeafStorage};

use crate::dense::check_len;
use crate::error::Result;
use crate::grid::WeightGrid;
use crate::tiles::{block_at, Block, Tiles};

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
        let Some(geom) = Tiles::of(t) else {
            self.for_each_stored(t, |r, c, w| y[r] += w * x[c]);
            return Ok(y);
        };
        let acc = self.tree.accessor();
        let (lc, tcm) = (geom.lc, geom.tile_cols() - 1);
        let tc = geom.tile_cols();
        for tile in geom.iter() {
            let xs = &x[tile.col0..tile.col0 + tile.cols_in];
            let ys = &mut y[tile.row0..tile.row0 + tile.rows_in];
            match block_at(&acc, tile.leaf) {
                Some(Block::Leaf(leaf)) => match leaf.storage() {
                    LeafStorage::Dense(vals) if tile.full && leaf.value_mask().is_all_on() => {
                        for (yi, row) in ys.iter_mut().zip(vals.chunks_exact(tc)) {
                            *yi += dot(row, xs);
                        }
                    }
                    storage => for_each_on(leaf, storage, |n, w| {
                        let (i, j) = (n >> lc, n & tcm);
                        if i < tile.rows_in && j < tile.cols_in {
                            ys[i] += w * xs[j];
                        }
                    }),
                },
                Some(Block::Tile(v)) => {
                    let s: f32 = xs.iter().sum();
                    ys.iter_mut().for_each(|yi| *yi += v * s);
                }
                None => {}
            }
        }
        Ok(y)
    }

    /// `y = Wᵀ·x` for tensor `name` (`x` has `rows` values, `y` `cols`).
    pub fn matvec_t(&self, name: &str, x: &[f32]) -> Result<Vec<f32>> {
        let t = self.plan.tensor(name)?;
        check_len("x", t.rows(), x.len())?;
        let mut y = vec![0.0f32; t.cols()];
        let Some(geom) = Tiles::of(t) else {
            self.for_each_stored(t, |r, c, w| y[c] += w * x[r]);
            return Ok(y);
        };
        let acc = self.tree.accessor();
        let (lc, tcm) = (geom.lc, geom.tile_cols() - 1);
        let tc = geom.tile_cols();
        for tile in geom.iter() {
            let xs = &x[tile.row0..tile.row0 + tile.rows_in];
            let ys = &mut y[tile.col0..tile.col0 + tile.cols_in];
            match block_at(&acc, tile.leaf) {
                Some(Block::Leaf(leaf)) => match leaf.storage() {
                    LeafStorage::Dense(vals) if tile.full && leaf.value_mask().is_all_on() => {
                        for (&xi, row) in xs.iter().zip(vals.chunks_exact(tc)) {
                            for (yj, w) in ys.iter_mut().zip(row) {
                                *yj += w * xi;
                            }
                        }
                    }
                    storage => for_each_on(leaf, storage, |n, w| {
                        let (i, j) = (n >> lc, n & tcm);
                        if i < tile.rows_in && j < tile.cols_in {
                            ys[j] += w * xs[i];
                        }
                    }),
                },
                Some(Block::Tile(v)) => {
                    let s: f32 = xs.iter().sum();
                    ys.iter_mut().for_each(|yj| *yj += v * s);
                }
                None => {}
            }
        }
        Ok(y)
    }
}

/// Calls `f(offset, value)` for every active voxel of `leaf` in offset order:
/// a dense leaf indexed through its mask, a packed one by zipping the mask's on
/// bits with its active values (no dense copy, no per-voxel rank lookup).
#[inline]
pub(crate) fn for_each_on(
    leaf: &LeafNode<f32>,
    storage: LeafStorage<'_, f32>,
    mut f: impl FnMut(usize, f32),
) {
    let mask = leaf.value_mask();
    match storage {
        LeafStorage::Dense(vals) => mask.iter_on().for_each(|n| f(n, vals[n])),
        LeafStorage::Packed { active, .. } => {
            mask.iter_on().zip(active).for_each(|(n, &w)| f(n, w));
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

#[cfg(test)]
mod tests {
    use crate::planner::PlanOptions;
    use crate::{
        CsrMatrix, LayoutPlan, ModelDesc, SparsityRule, TensorSpec, TileShape, WeightGrid,
    };

    fn values(n: usize, seed: u64) -> Vec<f32> {
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
