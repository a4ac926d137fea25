//! # sparsevdb
//!
//! Sparse VDB-style volumes — and sparse neural-network weights — in pure Rust.
//! This facade re-exports the workspace's crates:
//!
//! - the tree ([`sparsevdb_tree`], always): [`Tree`], [`Coord`], [`CoordBBox`], accessors,
//!   iterators, pruning and combination with OpenVDB 10 semantics;
//! - serde support for trees with the `serde` feature, `half::f16` / `bf16` values with
//!   `half`.
//!
//! ```
//! use sparsevdb::{Coord, Tree};
//! let mut t: Tree<f32> = Tree::new(0.0);
//! t.set_value(Coord::new(0, 0, 0), 1.0);
//! assert_eq!(t.active_voxel_count(), 1);
//! ```

pub use sparsevdb_tree as tree;
pub use sparsevdb_tree::*;
