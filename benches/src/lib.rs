//! Benchmark harness for sparsevdb: the standard workloads of
//! `shared/bench/WORKLOADS.md`, the HashMap baselines, timing and memory counting,
//! and (behind the `tree` feature) the same operations on `sparsevdb-tree`.
//!
//! The `report` binary (`cargo run --release -p sparsevdb-bench --bin report`) runs
//! them side by side, checks every result's checksums against [`reference`](mod@reference) and
//! prints a markdown table.

pub mod alloc;
pub mod baselines;
pub mod record;
pub mod reference;
pub mod timing;
#[cfg(feature = "traverse")]
pub mod traverse_ops;
#[cfg(feature = "tree")]
pub mod tree_ops;
pub mod workloads;
