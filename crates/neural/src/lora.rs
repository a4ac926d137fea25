//! LoRA adapters in the grid: pairs of factors `A` (`r × in`) and `B`
//! (`out × r`) named as PEFT names them (`<module>.lora_A.weight`,
//! `<module>.lora_B.weight`), stored and loaded together, with
//! `ΔW = scale · B·A` and `ΔW·x = scale · B·(A·x)` on demand.

use serde::{Deserialize, Serialize};

use crate::dense::DenseMatrix;
use crate::dtype::MatrixData;
use crate::error::{NeuralError, Result};
use crate::grid::{StoreReport, WeightGrid};
use crate::model::TensorSpec;
use crate::plan::LayoutPlan;
use crate::sparsity::SparsityRule;

/// A LoRA pair of a plan.
///
/// ```
/// use sparsevdb_neural::{lora::{lora_specs, LoraPair}, LayoutPlan};
/// let specs = lora_specs("encoder.layer.0.attention.self.query", 8, 384, 384);
/// let plan = LayoutPlan::from_tensors(&specs, &Default::default()).unwrap();
/// let pairs = LoraPair::find(&plan).unwrap();
/// assert_eq!(pairs[0].rank, 8);
/// assert_eq!(pairs[0].module, "encoder.layer.0.attention.self.query");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoraPair {
    /// The adapted module (the names' common prefix).
    pub module: String,
    /// The name of `A`.
    pub a: String,
    /// The name of `B`.
    pub b: String,
    /// The rank `r`.
    pub rank: usize,
    /// Input features (columns of `A`).
    pub in_features: usize,
    /// Output features (rows of `B`).
    pub out_features: usize,
}

/// The tensor names of the LoRA pair of `module`.
pub fn lora_names(module: &str) -> (String, String) {
    (
        format!("{module}.lora_A.weight"),
        format!("{module}.lora_B.weight"),
    )
}

/// The two tensor specs of a rank-`rank` LoRA pair adapting a `out × in`
/// weight of `module`: `A` is `[rank, in]`, `B` is `[out, rank]`.
pub fn lora_specs(
    module: &str,
    rank: usize,
    out_features: usize,
    in_features: usize,
) -> [TensorSpec; 2] {
    let (a, b) = lora_names(module);
    [
        TensorSpec::new(a, [rank, in_features]),
        TensorSpec::new(b, [out_features, rank]),
    ]
}

impl LoraPair {
    /// The pair of `module` in `plan`: [`NeuralError::UnknownTensor`] when a
    /// factor is missing, [`NeuralError::LoraShape`] when the factors are not
    /// 2-D or their ranks differ.
    pub fn of(plan: &LayoutPlan, module: &str) -> Result<Self> {
        let (a, b) = lora_names(module);
        let ta = plan.tensor(&a)?;
        let tb = plan.tensor(&b)?;
        let bad = |reason: String| NeuralError::LoraShape {
            name: module.to_string(),
            reason,
        };
        if ta.shape().len() != 2 || tb.shape().len() != 2 {
            return Err(bad(format!(
                "factors must be 2-D, A is {:?} and B is {:?}",
                ta.shape(),
                tb.shape()
            )));
        }
        if ta.rows() != tb.cols() {
            return Err(bad(format!(
                "A is {:?} (r × in) but B is {:?} (out × r): ranks {} and {} differ",
                ta.shape(),
                tb.shape(),
                ta.rows(),
                tb.cols()
            )));
        }
        Ok(Self {
            module: module.to_string(),
            a,
            b,
            rank: ta.rows(),
            in_features: ta.cols(),
            out_features: tb.rows(),
        })
    }

    /// Every LoRA pair of `plan`, in plan order of their `A` factors; a
    /// factor without its partner or a rank mismatch is an error.
    pub fn find(plan: &LayoutPlan) -> Result<Vec<Self>> {
        let mut pairs = Vec::new();
        for t in plan.tensors() {
            if let Some(module) = t.name().strip_suffix(".lora_A.weight") {
                pairs.push(Self::of(plan, module)?);
            } else if let Some(module) = t.name().strip_suffix(".lora_B.weight") {
                let (a, _) = lora_names(module);
                if plan.get(&a).is_none() {
                    return Err(NeuralError::UnknownTensor(a));
                }
            }
        }
        Ok(pairs)
    }
}

impl WeightGrid {
    /// Stores the LoRA pair of `module` (`A`: `r × in`, `B`: `out × r`, both
    /// row-major) under `rule`. Shapes are checked against the plan and
    /// against each other before anything is written.
    ///
    /// ```
    /// use sparsevdb_neural::{lora::lora_specs, LayoutPlan, SparsityRule, WeightGrid};
    /// let plan = LayoutPlan::from_tensors(&lora_specs("m", 2, 3, 4), &Default::default()).unwrap();
    /// let mut g = WeightGrid::new(plan);
    /// let a = [1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]; // 2 x 4
    /// let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];           // 3 x 2
    /// g.store_lora("m", &a[..], &b[..], SparsityRule::KeepAll).unwrap();
    /// let dw = g.lora_delta("m", 1.0).unwrap();             // 3 x 4
    /// assert_eq!(dw.data(), [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// assert_eq!(g.lora_matvec("m", 1.0, &[1.0, 2.0, 3.0, 4.0]).unwrap(), [1.0, 2.0, 3.0]);
    /// ```
    pub fn store_lora<'a>(
        &mut self,
        module: &str,
        a: impl Into<MatrixData<'a>>,
        b: impl Into<MatrixData<'a>>,
        rule: SparsityRule,
    ) -> Result<(StoreReport, StoreReport)> {
        let pair = LoraPair::of(&self.plan, module)?;
        let (a, b) = (a.into(), b.into());
        let a_shape = [pair.rank, pair.in_features];
        let b_shape = [pair.out_features, pair.rank];
        for (name, shape, got) in [(&pair.a, a_shape, a.len()), (&pair.b, b_shape, b.len())] {
            if got != shape[0] * shape[1] {
                return Err(NeuralError::LengthMismatch {
                    name: name.clone(),
                    expected: shape[0] * shape[1],
                    got,
                });
            }
        }
        let ra = self.store(&pair.a, &a_shape, a, rule)?;
        let rb = self.store(&pair.b, &b_shape, b, rule)?;
        Ok((ra, rb))
    }

    /// The factors `(A, B)` of `module`, dense.
    pub fn load_lora(&self, module: &str) -> Result<(DenseMatrix, DenseMatrix)> {
        let pair = LoraPair::of(&self.plan, module)?;
        Ok((self.load(&pair.a)?, self.load(&pair.b)?))
    }

    /// `ΔW = scale · B·A` (`out × in`, dense), computed from the stored
    /// factors; PEFT's scale is `lora_alpha / r`.
    pub fn lora_delta(&self, module: &str, scale: f32) -> Result<DenseMatrix> {
        let (a, b) = self.load_lora(module)?;
        let mut d = b.matmul(&a)?;
        if scale != 1.0 {
            d.data_mut().iter_mut().for_each(|v| *v *= scale);
        }
        Ok(d)
    }

    /// `ΔW·x = scale · B·(A·x)` straight from the grid, never forming `ΔW`.
    pub fn lora_matvec(&self, module: &str, scale: f32, x: &[f32]) -> Result<Vec<f32>> {
        let pair = LoraPair::of(&self.plan, module)?;
        let ax = self.matvec(&pair.a, x)?;
        let mut y = self.matvec(&pair.b, &ax)?;
        if scale != 1.0 {
            y.iter_mut().for_each(|v| *v *= scale);
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::synth::SplitMix64::new(seed);
        (0..n).map(|_| r.normalish(0.1)).collect()
    }

    #[test]
    fn delta_matches_dense_product() {
        let specs = lora_specs("layer.q", 8, 48, 40);
        let plan = LayoutPlan::from_tensors(&specs, &Default::default()).unwrap();
        let mut g = WeightGrid::new(plan);
        let a = values(8 * 40, 1);
        let b = values(48 * 8, 2);
        g.store_lora("layer.q", &a[..], &b[..], SparsityRule::KeepAll)
            .unwrap();
        let (la, lb) = g.load_lora("layer.q").unwrap();
        assert_eq!(la.data(), &a[..]);
        assert_eq!(lb.data(), &b[..]);
        let da = DenseMatrix::new(vec![8, 40], a).unwrap();
        let db = DenseMatrix::new(vec![48, 8], b).unwrap();
        let expect = db.matmul(&da).unwrap();
        let got = g.lora_delta("layer.q", 2.0).unwrap();
        assert_eq!(got.shape(), [48, 40]);
        for (x, y) in got.data().iter().zip(expect.data()) {
            assert!((x - 2.0 * y).abs() < 1e-6);
        }
        let x = values(40, 3);
        let y = g.lora_matvec("layer.q", 2.0, &x).unwrap();
        let y_ref = got.matvec(&x).unwrap();
        for (p, q) in y.iter().zip(&y_ref) {
            assert!((p - q).abs() < 1e-5);
        }
    }

    #[test]
    fn zero_b_costs_nothing() {
        // a freshly initialised adapter: B = 0
        let plan =
            LayoutPlan::from_tensors(&lora_specs("m", 8, 384, 384), &Default::default()).unwrap();
        let mut g = WeightGrid::new(plan);
        let a = values(8 * 384, 4);
        let (_, rb) = g
            .store_lora(
                "m",
                &a[..],
                &vec![0.0f32; 384 * 8][..],
                SparsityRule::KeepAll,
            )
            .unwrap();
        assert_eq!(rb.stored, 0);
        assert_eq!(
            g.tree().leaf_count(),
            6,
            "A only: 8 x 384 in six 8 x 64 leaves"
        );
        assert!(g
            .lora_delta("m", 1.0)
            .unwrap()
            .data()
            .iter()
            .all(|&v| v == 0.0));
    }

    #[test]
    fn bad_pairs() {
        let mut specs = lora_specs("m", 8, 16, 16).to_vec();
        specs[1] = TensorSpec::new("m.lora_B.weight", [16, 4]);
        specs.push(TensorSpec::new("orphan.lora_B.weight", [16, 8]));
        let plan = LayoutPlan::from_tensors(&specs, &Default::default()).unwrap();
        assert!(matches!(
            LoraPair::of(&plan, "m"),
            Err(NeuralError::LoraShape { .. })
        ));
        assert!(matches!(
            LoraPair::of(&plan, "x"),
            Err(NeuralError::UnknownTensor(_))
        ));
        let plan2 = LayoutPlan::from_tensors(&specs[2..], &Default::default()).unwrap();
        assert!(matches!(
            LoraPair::find(&plan2),
            Err(NeuralError::UnknownTensor(_))
        ));
        let plan3 =
            LayoutPlan::from_tensors(&lora_specs("m", 2, 3, 4), &Default::default()).unwrap();
        let mut g = WeightGrid::new(plan3);
        let e = g.store_lora(
            "m",
            &[0.0f32; 8][..],
            &[0.0f32; 5][..],
            SparsityRule::KeepAll,
        );
        assert!(matches!(e, Err(NeuralError::LengthMismatch { .. })));
    }
}
