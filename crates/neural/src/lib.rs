//! Neural-network weights stored in a sparsevdb tree.
//!
//! - [`LayerKind`] and [`ClassicLayout`]: the seed's classic Z slices, with
//!   every collision reported as an error.
//! - [`ModelDesc`], [`names`], [`planner`] and [`LayoutPlan`]: a planner
//!   giving every tensor of a BERT, GPT-2 or LLaMA model (or any safetensors
//!   file) a disjoint region, Q/K/V side by side, each 2-D matrix folded so
//!   that one 8³ leaf holds one 2-D tile of 512 elements ([`Fold`]), the tiles
//!   packed into as few internal nodes as possible.
//! - [`morton`]: Z-order codes over full `i32` coordinates.
//! - [`SparsityRule`] and [`sparsity`]: thresholds and magnitude pruning.
//! - [`dtype`] and [`safetensors_io`]: f32 / f16 / bf16 conversion, bit-exact,
//!   and safetensors reading and writing with typed errors.
//! - [`WeightGrid`]: every tensor of a plan in one tree — store a dense matrix
//!   under a [`SparsityRule`], load it back bit-exact, LoRA pairs ([`lora`]),
//!   gradient steps and Morton-sorted bulk entries ([`update`]), sparse
//!   mat-vec `W·x` / `Wᵀ·x` from the grid ([`spmv`]), safetensors import and
//!   export ([`import`]).
//!
//! `cargo run --release -p sparsevdb-neural --example minilm` measures all of
//! it on the real all-MiniLM-L6-v2 (or a synthetic model of its shapes).
//! - [`CsrMatrix`] and [`DenseMatrix`]: the baselines.
//!
//! ```
//! use sparsevdb_neural::{LayoutPlan, ModelDesc, SparsityRule, WeightGrid};
//! let desc = ModelDesc::bert(2, 4, 64, 256);
//! let plan = LayoutPlan::from_model(&desc, &Default::default()).unwrap();
//! let mut grid = WeightGrid::new(plan);
//! let name = "encoder.layer.1.intermediate.dense.weight";
//! let w: Vec<f32> = (0..256 * 64).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
//! grid.store(name, &[256, 64], &w[..], SparsityRule::Sparsity(0.9)).unwrap();
//! let y = grid.matvec(name, &vec![1.0; 64]).unwrap();
//! assert_eq!(y.len(), 256);
//! ```
//!
//! Every failure is a [`NeuralError`].

pub mod csr;
pub mod dense;
pub mod dtype;
pub mod error;
pub mod fold;
pub mod grid;
pub mod import;
mod keyed_run;
pub mod layer;
pub mod lora;
pub mod model;
pub mod morton;
pub mod names;
pub mod plan;
pub mod planner;
pub mod safetensors_io;
pub mod sparsity;
pub mod spmv;
pub mod synth;
mod tiles;
pub mod update;

pub use csr::CsrMatrix;
pub use dense::DenseMatrix;
pub use dtype::{Dtype, MatrixData};
pub use error::{NeuralError, Result};
pub use fold::{Fold, TileShape};
pub use grid::{StoreReport, TensorMeta, TensorStats, WeightGrid};
pub use import::{ImportOptions, ImportReport};
pub use layer::{ClassicLayout, Collision, LayerKind};
pub use lora::LoraPair;
pub use model::{Family, ModelDesc, TensorSpec};
pub use plan::{LayoutPlan, PlannedTensor, Region};
pub use planner::{PlanLayout, PlanOptions};
pub use sparsity::{Cut, SparsityRule};
