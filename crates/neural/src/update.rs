//! Changing stored weights: bulk insertion of sparse entries in Morton order
//! ([`WeightGrid::store_entries`]) and gradient steps
//! ([`WeightGrid::apply_gradient`]).

use sparsevdb_tree::{CoordBBox, LeafStorageMut};

use crate::dtype::Dtype;
use crate::error::{NeuralError, Result};
use crate::grid::{StoreReport, TensorMeta, WeightGrid};
use crate::morton;
use crate::sparsity::Cut;
use crate::tiles::{block_at, coord, Block};

impl WeightGrid {
    /// Stores tensor `name` from `(row, col, value)` entries (a sparse
    /// matrix, e.g. a CSR or COO export), every entry kept; entries are
    /// inserted in Morton order of their voxels (a bulk build that touches
    /// each leaf once), and a later duplicate overwrites an earlier one.
    /// An entry outside the matrix is [`NeuralError::OutOfRange`].
    ///
    /// ```
    /// use sparsevdb_neural::{LayoutPlan, TensorSpec, WeightGrid};
    /// let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [100, 100])], &Default::default()).unwrap();
    /// let mut g = WeightGrid::new(plan);
    /// g.store_entries("w", &[100, 100], vec![(3, 4, 1.5), (99, 0, -2.0), (3, 4, 2.5)]).unwrap();
    /// assert_eq!(g.get("w", 3, 4).unwrap(), 2.5);
    /// assert_eq!(g.meta("w").unwrap().stored, 2);
    /// assert!(g.store_entries("w", &[100, 100], vec![(100, 0, 1.0)]).is_err());
    /// ```
    pub fn store_entries(
        &mut self,
        name: &str,
        shape: &[usize],
        mut entries: Vec<(usize, usize, f32)>,
    ) -> Result<StoreReport> {
        let i = self.index(name)?;
        let t = self.plan.tensors()[i].clone();
        Self::check_shape(&t, shape, t.len())?;
        if let Some(&(r, c, _)) = entries
            .iter()
            .find(|&&(r, c, _)| r >= t.rows() || c >= t.cols())
        {
            return Err(NeuralError::OutOfRange(format!(
                "entry ({r}, {c}) outside the {} x {} tensor `{name}`",
                t.rows(),
                t.cols()
            )));
        }
        self.clear(i);
        morton::sort_by_morton(&mut entries, |&(r, c, _)| t.coord(r, c));
        let mut acc = self.tree.accessor_mut();
        for &(r, c, w) in &entries {
            acc.set_value(coord(t.coord(r, c)), w);
        }
        entries.dedup_by_key(|e| (e.0, e.1));
        let stored = entries.len() as u64;
        self.meta[i] = TensorMeta {
            dtype: Some(Dtype::F32),
            cut: Some(Cut::All),
            kept: stored,
            stored,
            tiles: 0,
        };
        Ok(StoreReport {
            name: name.to_string(),
            len: t.len() as u64,
            cut: Cut::All,
            kept: stored,
            stored,
            tiles: 0,
        })
    }

    /// Subtracts `lr · g` from every stored weight, `g` being the gradient
    /// stored at the same voxel of `grad` (a grid over the same plan; an
    /// unstored gradient counts as 0). Pruned weights stay pruned: the
    /// sparsity pattern is kept. Leaves are updated in place; a constant tile
    /// hit by a non-zero gradient is split into voxels.
    ///
    /// ```
    /// use sparsevdb_neural::{LayoutPlan, TensorSpec, WeightGrid, SparsityRule};
    /// let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [1, 3])], &Default::default()).unwrap();
    /// let mut w = WeightGrid::new(plan.clone());
    /// w.store("w", &[1, 3], &[1.0f32, 0.0, 3.0][..], SparsityRule::KeepAll).unwrap();
    /// let mut g = WeightGrid::new(plan);
    /// g.store("w", &[1, 3], &[0.5f32, 0.5, 0.5][..], SparsityRule::KeepAll).unwrap();
    /// w.apply_gradient(&g, 2.0).unwrap();
    /// assert_eq!(w.load("w").unwrap().data(), [0.0, 0.0, 2.0]);
    /// ```
    pub fn apply_gradient(&mut self, grad: &WeightGrid, lr: f32) -> Result<()> {
        if grad.plan != self.plan {
            return Err(NeuralError::InvalidPlan(
                "the gradient grid has another layout plan".into(),
            ));
        }
        let gacc = grad.tree.accessor();
        // Active tiles of the weights are collected before the leaves are
        // updated, and split afterwards (splitting makes new leaves, which
        // must not be updated twice).
        let tiles: Vec<(CoordBBox, f32)> = self
            .tree
            .iter_on()
            .filter(|item| item.is_tile())
            .map(|item| (item.bbox(), item.value()))
            .collect();
        for leaf in self.tree.leaves_mut() {
            if leaf.is_inactive() {
                continue;
            }
            let step: &dyn Fn(usize, &mut f32) = match block_at(&gacc, leaf.origin()) {
                Some(Block::Leaf(g)) => &move |n, w| {
                    if let (gv, true) = g.probe_at(n) {
                        *w -= lr * gv;
                    }
                },
                Some(Block::Tile(gt)) => &move |_, w| *w -= lr * gt,
                None => continue,
            };
            // Only the active values change (no state does), in either leaf form.
            match leaf.storage_mut() {
                LeafStorageMut::Dense { values, mask } => {
                    mask.iter_on().for_each(|n| step(n, &mut values[n]));
                }
                LeafStorageMut::Packed { active, mask } => {
                    mask.iter_on().zip(active).for_each(|(n, w)| step(n, w));
                }
            }
        }
        if !tiles.is_empty() {
            let mut acc = self.tree.accessor_mut();
            for (b, v) in tiles {
                for c in b.iter() {
                    if let (g, true) = gacc.probe_value(c) {
                        if g != 0.0 {
                            acc.set_value_only(c, v - lr * g);
                        }
                    }
                }
            }
        }
        // `leaves_mut` made every tiny leaf a leaf object (decision 0011): pack the
        // small ones back, so that an update leaves the grid as compact as it was.
        self.tree.compact();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{LayoutPlan, NeuralError, SparsityRule, TensorSpec, WeightGrid};

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::synth::SplitMix64::new(seed);
        (0..n).map(|_| r.normalish(0.1)).collect()
    }

    #[test]
    fn a_gradient_step_keeps_tiny_leaves_tiny() {
        // 1 % kept: leaves of a few weights, stored inside their lower node; the
        // update promotes them to change them and must pack them back.
        let plan =
            LayoutPlan::from_tensors(&[TensorSpec::new("w", [64, 512])], &Default::default())
                .unwrap();
        let mut wg = WeightGrid::new(plan.clone());
        wg.store(
            "w",
            &[64, 512],
            &values(64 * 512, 3)[..],
            SparsityRule::Sparsity(0.99),
        )
        .unwrap();
        let mut gg = WeightGrid::new(plan);
        gg.store(
            "w",
            &[64, 512],
            &values(64 * 512, 4)[..],
            SparsityRule::KeepAll,
        )
        .unwrap();
        assert!(wg.tree().leaves().all(|l| l.is_tiny()));
        let before = wg.mem_usage();
        wg.apply_gradient(&gg, 0.1).unwrap();
        assert!(wg.tree().leaves().all(|l| l.is_tiny()));
        assert!(wg.mem_usage() <= before, "{} > {before}", wg.mem_usage());
    }

    #[test]
    fn gradient_steps() {
        let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [16, 64])], &Default::default())
            .unwrap();
        let w = values(1024, 9);
        let gr = values(1024, 10);
        let mut wg = WeightGrid::new(plan.clone());
        wg.store("w", &[16, 64], &w[..], SparsityRule::Sparsity(0.5))
            .unwrap();
        let mut gg = WeightGrid::new(plan.clone());
        gg.store("w", &[16, 64], &gr[..], SparsityRule::KeepAll)
            .unwrap();
        let before = wg.load("w").unwrap();
        wg.apply_gradient(&gg, 0.1).unwrap();
        let after = wg.load("w").unwrap();
        for ((&b, &a), &g) in before.data().iter().zip(after.data()).zip(&gr) {
            let expect = if b == 0.0 { 0.0 } else { b - 0.1 * g };
            assert_eq!(a, expect);
        }
        // constant tiles are split when touched
        let mut cg = WeightGrid::new(plan.clone());
        cg.store(
            "w",
            &[16, 64],
            &vec![1.0f32; 1024][..],
            SparsityRule::KeepAll,
        )
        .unwrap();
        assert_eq!(cg.tree().leaf_count(), 0);
        cg.apply_gradient(&gg, 1.0).unwrap();
        assert!(cg
            .load("w")
            .unwrap()
            .data()
            .iter()
            .zip(&gr)
            .all(|(a, g)| *a == 1.0 - g));
        // another plan is refused
        let other = WeightGrid::new(
            LayoutPlan::from_tensors(&[TensorSpec::new("x", [1])], &Default::default()).unwrap(),
        );
        assert!(matches!(
            wg.apply_gradient(&other, 1.0),
            Err(NeuralError::InvalidPlan(_))
        ));
    }
}
