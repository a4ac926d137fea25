//! Neural-network weights stored in a sparsevdb tree.
//!
//! - [`LayerKind`] and [`ClassicLayout`]: the seed's classic Z slices, with
//!   every collision reported as an error.
//! - [`ModelDesc`], [`names`] and [`LayoutPlan`]: a planner giving every tensor
//!   of a BERT, GPT-2 or LLaMA model (or any safetensors file) a disjoint
//!   region, Q/K/V side by side, each 2-D matrix folded so that one 8³ leaf
//!   holds one 2-D tile of 512 elements ([`Fold`]).
//! - [`morton`]: Z-order codes over full `i32` coordinates.
//! - [`SparsityRule`] and [`sparsity`]: thresholds and magnitude pruning.
//! - [`dtype`] and [`safetensors_io`]: f32 / f16 / bf16 conversion, bit-exact,
//!   and safetensors reading and writing with typed errors.
//! - [`CsrMatrix`] and [`DenseMatrix`]: the baselines.
//!
//! Every failure is a [`NeuralError`].

pub mod csr;
pub mod dense;
pub mod dtype;
pub mod error;
pub mod fold;
pub mod layer;
pub mod model;
pub mod morton;
pub mod names;
pub mod plan;
pub mod safetensors_io;
pub mod sparsity;
pub mod synth;

pub use csr::CsrMatrix;
pub use dense::DenseMatrix;
pub use dtype::{Dtype, MatrixData};
pub use error::{NeuralError, Result};
pub use fold::{Fold, TileShape};
pub use layer::{ClassicLayout, Collision, LayerKind};
pub use model::{Family, ModelDesc, TensorSpec};
pub use plan::{LayoutPlan, PlanOptions, PlannedTensor, Region};
pub use sparsity::{Cut, SparsityRule};
