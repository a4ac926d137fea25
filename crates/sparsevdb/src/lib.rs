//! # sparsevdb
//!
//! Sparse VDB-style volumes — and sparse neural-network weights — in pure Rust.
//! This facade re-exports the workspace's crates:
//!
//! - the tree ([`sparsevdb_tree`], always): [`Tree`], [`Coord`], [`CoordBBox`], accessors,
//!   iterators, pruning and combination with OpenVDB 10 semantics;
//! - serde support for trees with the `serde` feature, `half::f16` / `bf16` values with
//!   `half`;
//! - leaf-parallel (rayon) traversal and SIMD leaf kernels with the `rayon` feature:
//!   `sparsevdb::traverse` (`sparsevdb-traverse`: reductions, transforms, parallel combine and
//!   gradient steps, bulk build, parallel prune);
//! - neural-network weights with the `neural` feature: `sparsevdb::neural`
//!   (`sparsevdb-neural`: layer layout planner, `WeightGrid`, safetensors import and
//!   export, LoRA pairs, sparse mat-vec).
//!
//! ```
//! use sparsevdb::{Coord, Tree};
//! let mut t: Tree<f32> = Tree::new(0.0);
//! t.set_value(Coord::new(0, 0, 0), 1.0);
//! assert_eq!(t.active_voxel_count(), 1);
//! ```

/// Neural-network weights in a tree (`sparsevdb-neural`; feature `neural`).
#[cfg(feature = "neural")]
pub use sparsevdb_neural as neural;
/// Leaf-parallel traversal and SIMD kernels (`sparsevdb-traverse`; feature `rayon`).
///
/// ```
/// use sparsevdb::{traverse, Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(0, 0, 0), 2.0);
/// assert_eq!(traverse::sum(&t), 2.0);
/// ```
#[cfg(feature = "rayon")]
pub use sparsevdb_traverse as traverse;
pub use sparsevdb_tree as tree;
pub use sparsevdb_tree::*;
