//! Benchmark harness for sparsevdb: the standard workloads of
//! `shared/bench/WORKLOADS.md`, the HashMap baselines, timing and memory counting,
//! and (behind the `tree` feature) the same operations on `sparsevdb-tree`.
//!
//! The `report` binary (`cargo run --release -p sparsevdb-bench --bin report`) runs
//! them side by side and prints a markdown table.

pub mod workloads;
