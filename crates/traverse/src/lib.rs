//! # sparsevdb-traverse
//!
//! Leaf-parallel traversal of [`sparsevdb_tree::Tree`]s with rayon, and SIMD kernels
//! over leaf buffers:
//!
//! - **node managers** ([`LeafManager`], [`LeafManagerMut`], [`lower_nodes_mut`], …):
//!   the nodes in tree order as vectors of disjoint borrows, for `par_iter`;
//! - **reductions** ([`active_count`], [`sum`], [`min_max`], [`l1_norm`],
//!   [`l2_norm`], [`histogram`]), the same bits for any number of threads;
//! - **in-place transforms** of the active values ([`map`], [`scale`], [`clamp`],
//!   [`deactivate_below`]);
//! - **combination** with the tree's `comp_*` semantics ([`comp_sum`], [`comp_max`],
//!   [`comp_min`], [`comp_mul`], [`combine`], [`combine_extended`]) and the
//!   arithmetic built on it ([`axpy`], [`apply_gradient`], [`lerp`]) — bit for bit
//!   the serial result;
//! - **bulk build** from unsorted pairs ([`bulk_build`]);
//! - **structure**: [`prune`], [`prune_inactive`], [`voxelize_active_tiles`];
//! - **kernels** ([`kernels`]): masked sums, scaled add and threshold masks with
//!   AVX-512 / AVX2 paths chosen at run time and a portable fallback that returns
//!   the same bits.
//!
//! Everything runs on the current rayon thread pool; run it inside
//! `ThreadPool::install` to choose the number of threads.
//!
//! ```
//! use sparsevdb_tree::{Coord, Tree};
//! let pairs: Vec<(Coord, f32)> = (0..10_000)
//!     .map(|i| (Coord::new(i % 100, i / 100, 0), 1.0))
//!     .collect();
//! let mut w: Tree<f32> = sparsevdb_traverse::bulk_build(0.0, &pairs);
//! assert_eq!(sparsevdb_traverse::sum(&w), 10_000.0);
//! let g = w.clone();
//! sparsevdb_traverse::apply_gradient(&mut w, &g, 0.5);
//! assert_eq!(sparsevdb_traverse::sum(&w), 5_000.0);
//! ```
//!
//! `unsafe` lives only in `kernels/x86.rs` (the intrinsics) and in the dispatch
//! calls of `kernels/mod.rs`; see
//! `docs/decisions/0201-traverse-simd-and-determinism.md`.

mod build;
mod combine;
pub mod kernels;
mod nodes;
mod prune;
mod reduce;
mod transform;
mod value;

pub use build::{bulk_build, bulk_build_with, SortOrder};
pub use combine::{
    apply_gradient, axpy, combine, combine_extended, comp_max, comp_min, comp_mul, comp_sum, lerp,
};
pub use nodes::{
    lower_nodes, lower_nodes_mut, upper_nodes, upper_nodes_mut, LeafManager, LeafManagerMut,
};
pub use prune::{prune, prune_inactive, voxelize_active_tiles};
pub use reduce::{active_count, histogram, l1_norm, l2_norm, min_max, sum, Histogram, OrdF64};
pub use transform::{clamp, deactivate_below, map, scale};
pub use value::{Real, ToF64};
