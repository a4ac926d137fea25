//! safetensors import and export of a whole [`WeightGrid`]: plan the file's
//! tensors (or reuse the plan a previous export stored in its metadata),
//! prune and store each one, and write every stored tensor back in its own
//! dtype with the plan in `__metadata__`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dtype::encode_le;
use crate::error::{NeuralError, Result};
use crate::grid::{StoreReport, WeightGrid};
use crate::plan::LayoutPlan;
use crate::planner::PlanOptions;
use crate::safetensors_io::{read_tensors, write_encoded};
use crate::sparsity::SparsityRule;

/// The `__metadata__` key under which an export stores its layout plan
/// (JSON).
pub const PLAN_KEY: &str = "sparsevdb.plan";

/// How to import a safetensors file.
///
/// ```
/// use sparsevdb_neural::{import::ImportOptions, SparsityRule};
/// let o = ImportOptions { matrix_rule: SparsityRule::Sparsity(0.9), ..Default::default() };
/// assert_eq!(o.vector_rule, SparsityRule::KeepAll);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The rule for tensors of rank ≥ 2 (weight matrices, embeddings).
    pub matrix_rule: SparsityRule,
    /// The rule for scalars and vectors (biases, norms).
    pub vector_rule: SparsityRule,
    /// Planner options (ignored when the file's stored plan is used).
    pub plan: PlanOptions,
    /// Leave out tensors of unsupported dtypes instead of failing.
    pub skip_unsupported: bool,
    /// Use the plan stored under [`PLAN_KEY`] when the file has one.
    pub use_stored_plan: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            matrix_rule: SparsityRule::KeepAll,
            vector_rule: SparsityRule::KeepAll,
            plan: PlanOptions::default(),
            skip_unsupported: false,
            use_stored_plan: true,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// One report per stored tensor, in file order.
    pub tensors: Vec<StoreReport>,
    /// Tensors left out for their dtype.
    pub skipped: Vec<String>,
    /// Whether the plan came from the file's metadata.
    pub plan_from_file: bool,
}

impl WeightGrid {
    /// Imports every tensor of a safetensors file held in `bytes`.
    ///
    /// ```
    /// use sparsevdb_neural::safetensors_io::{write_tensors, TensorRef};
    /// use sparsevdb_neural::{import::ImportOptions, Dtype, WeightGrid};
    /// let w: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
    /// let file = write_tensors(
    ///     [TensorRef { name: "h.0.mlp.c_fc.weight", dtype: Dtype::F16, shape: &[8, 8], values: &w }],
    ///     &Default::default(),
    /// ).unwrap();
    /// let (grid, report) = WeightGrid::from_safetensors(&file, &ImportOptions::default()).unwrap();
    /// assert_eq!(report.tensors[0].stored, 63); // the 0.0 costs nothing
    /// let back = grid.to_safetensors().unwrap();
    /// let (again, r2) = WeightGrid::from_safetensors(&back, &ImportOptions::default()).unwrap();
    /// assert!(r2.plan_from_file);
    /// assert_eq!(again.load("h.0.mlp.c_fc.weight").unwrap().data(), &w[..]);
    /// ```
    pub fn from_safetensors(bytes: &[u8], options: &ImportOptions) -> Result<(Self, ImportReport)> {
        let file = read_tensors(bytes, options.skip_unsupported)?;
        let mut metadata = file.metadata;
        let stored_plan = metadata.remove(PLAN_KEY);
        let (plan, plan_from_file) = match stored_plan {
            Some(json) if options.use_stored_plan => (LayoutPlan::from_json(&json)?, true),
            _ => {
                let specs: Vec<_> = file
                    .tensors
                    .iter()
                    .map(|t| crate::TensorSpec::new(t.name.clone(), t.shape.clone()))
                    .collect();
                (LayoutPlan::from_tensors(&specs, &options.plan)?, false)
            }
        };
        let mut grid = WeightGrid::new(plan);
        grid.metadata = metadata;
        let mut reports = Vec::with_capacity(file.tensors.len());
        for t in file.tensors {
            let i = grid.index(&t.name)?;
            let planned = &grid.plan.tensors()[i];
            if planned.shape() != t.shape.as_slice() {
                return Err(NeuralError::ShapeMismatch {
                    name: t.name,
                    expected: planned.shape().to_vec(),
                    got: t.shape,
                });
            }
            let rule = if t.shape.len() >= 2 {
                options.matrix_rule
            } else {
                options.vector_rule
            };
            let cut = rule.cut(&t.values)?;
            reports.push(grid.store_values(i, &t.values, cut, t.dtype)?);
        }
        Ok((
            grid,
            ImportReport {
                tensors: reports,
                skipped: file.skipped.into_iter().map(|e| e.name).collect(),
                plan_from_file,
            },
        ))
    }

    /// Imports a safetensors file from disk.
    pub fn from_safetensors_file(
        path: impl AsRef<Path>,
        options: &ImportOptions,
    ) -> Result<(Self, ImportReport)> {
        let bytes = std::fs::read(path)?;
        Self::from_safetensors(&bytes, options)
    }

    /// Exports every stored tensor, in the dtype it was stored from (kept
    /// values bit-exact, dropped ones `0`), with the grid's metadata and
    /// its plan under [`PLAN_KEY`].
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let mut encoded = Vec::new();
        for (t, m) in self.plan.tensors().iter().zip(&self.meta) {
            let Some(dtype) = m.dtype else { continue };
            let dense = self.load(t.name())?;
            encoded.push((
                t.name().to_string(),
                dtype,
                t.shape().to_vec(),
                encode_le(dtype, dense.data()),
            ));
        }
        let mut metadata: BTreeMap<String, String> = self.metadata.clone();
        metadata.insert(PLAN_KEY.to_string(), self.plan.to_json()?);
        write_encoded(&encoded, &metadata)
    }

    /// Exports to a file on disk ([`to_safetensors`](Self::to_safetensors)).
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        std::fs::write(path, self.to_safetensors()?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safetensors_io::{read_header, write_tensors, TensorRef};
    use crate::{Dtype, ModelDesc};

    fn small_model(dtype: Dtype) -> Vec<u8> {
        let mut desc = ModelDesc::bert(2, 4, 64, 256);
        desc.vocab = 500;
        desc.max_positions = 32;
        let specs = desc.tensors();
        let values: Vec<Vec<f32>> = specs
            .iter()
            .map(|s| {
                let v = crate::synth::synthetic_values(s, 1);
                // make them representable in the file's dtype
                let bytes = encode_le(dtype, &v);
                crate::dtype::decode_le(dtype, "v", &bytes).unwrap()
            })
            .collect();
        write_tensors(
            specs.iter().zip(&values).map(|(s, v)| TensorRef {
                name: &s.name,
                dtype,
                shape: &s.shape,
                values: v,
            }),
            &BTreeMap::from([("format".to_string(), "pt".to_string())]),
        )
        .unwrap()
    }

    #[test]
    fn prune_store_export_is_bit_exact() {
        for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
            let file = small_model(dtype);
            let original = read_tensors(&file, false).unwrap();
            let opts = ImportOptions {
                matrix_rule: SparsityRule::Sparsity(0.9),
                ..Default::default()
            };
            let (grid, report) = WeightGrid::from_safetensors(&file, &opts).unwrap();
            assert_eq!(report.tensors.len(), original.tensors.len());
            let out = grid.to_safetensors().unwrap();
            let back = read_tensors(&out, false).unwrap();
            assert_eq!(back.metadata["format"], "pt");
            assert!(back.metadata.contains_key(PLAN_KEY));
            for t in &original.tensors {
                let b = back.tensors.iter().find(|x| x.name == t.name).unwrap();
                assert_eq!(b.dtype, dtype);
                assert_eq!(b.shape, t.shape);
                let rule = if t.shape.len() >= 2 {
                    opts.matrix_rule
                } else {
                    opts.vector_rule
                };
                let cut = rule.cut(&t.values).unwrap();
                for (x, y) in t.values.iter().zip(&b.values) {
                    let expect = if cut.keeps(*x) { *x } else { 0.0 };
                    assert_eq!(y.to_bits(), expect.to_bits(), "{}", t.name);
                }
            }
        }
    }

    #[test]
    fn stored_plan_is_reused_and_checked() {
        let file = small_model(Dtype::F16);
        let (grid, r1) = WeightGrid::from_safetensors(&file, &ImportOptions::default()).unwrap();
        assert!(!r1.plan_from_file);
        let out = grid.to_safetensors().unwrap();
        let (again, r2) = WeightGrid::from_safetensors(&out, &ImportOptions::default()).unwrap();
        assert!(r2.plan_from_file);
        assert_eq!(again.plan(), grid.plan());
        // a corrupt stored plan is an error, not a silent re-plan
        let h = read_header(&out).unwrap();
        let tensors = read_tensors(&out, false).unwrap();
        let mut meta = h.metadata.clone();
        meta.insert(PLAN_KEY.into(), "{\"tensors\": 3}".into());
        let bad = write_tensors(
            tensors.tensors.iter().map(|t| TensorRef {
                name: &t.name,
                dtype: t.dtype,
                shape: &t.shape,
                values: &t.values,
            }),
            &meta,
        )
        .unwrap();
        assert!(matches!(
            WeightGrid::from_safetensors(&bad, &ImportOptions::default()),
            Err(NeuralError::Json(_))
        ));
        let ignore = ImportOptions {
            use_stored_plan: false,
            ..Default::default()
        };
        assert!(WeightGrid::from_safetensors(&bad, &ignore).is_ok());
    }

    #[test]
    fn bad_files() {
        let opts = ImportOptions::default();
        assert!(matches!(
            WeightGrid::from_safetensors(b"garbage!", &opts),
            Err(NeuralError::Safetensors(_))
        ));
        let file = small_model(Dtype::F32);
        assert!(matches!(
            WeightGrid::from_safetensors(&file[..file.len() - 3], &opts),
            Err(NeuralError::Safetensors(_))
        ));
        assert!(matches!(
            WeightGrid::from_safetensors_file("/nonexistent.safetensors", &opts),
            Err(NeuralError::Io(_))
        ));
        let strict = ImportOptions {
            plan: PlanOptions {
                require_known_names: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let odd = write_tensors(
            [TensorRef {
                name: "mystery",
                dtype: Dtype::F32,
                shape: &[2],
                values: &[1.0, 2.0],
            }],
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(matches!(
            WeightGrid::from_safetensors(&odd, &strict),
            Err(NeuralError::UnrecognizedName(_))
        ));
        assert!(WeightGrid::from_safetensors(&odd, &opts).is_ok());
    }
}
