//! Criterion benches of `sparsevdb-tree` on reduced versions of the standard
//! workloads (`shared/bench/WORKLOADS.md`), one module per topic: build, reads,
//! iterate, combine, prune, fill. `build`, `reads` and `iterate` also run the
//! AHashMap baseline on the same data, for a ratio within one run.
//!
//! Sizes (reduced so that a full `cargo bench -p sparsevdb-bench --bench tree`
//! takes a few minutes on 2 cores): `sphere` of radius 64 (about 309 k voxels),
//! `random` with 2^16 draws in [−512, 512)³, `neural99` and `neural_block` as
//! specified (106 k and 537 k values), `tiles` as a 256³ box with 100 voxels set.
//! The full sizes are the `report` binary's job.
//!
//! Run one topic with a filter, e.g. `cargo bench -p sparsevdb-bench --bench tree -- reads/`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sparsevdb_bench::workloads::{self, Workload};

/// A named input workload.
struct Input {
    name: &'static str,
    w: Workload,
}

/// The reduced workloads (A operands).
fn inputs() -> Vec<Input> {
    vec![
        Input {
            name: "sphere64",
            w: workloads::sphere(64.0),
        },
        Input {
            name: "random64k",
            w: workloads::random_sized(1, 1 << 16, 1024),
        },
        Input {
            name: "neural99",
            w: workloads::neural99(2),
        },
        Input {
            name: "neural_block",
            w: workloads::neural_block(3),
        },
        Input {
            name: "tiles256",
            w: workloads::tiles_sized(4, 256, 100),
        },
    ]
}

/// The B operand of `combine` for [`inputs`] (seed + 1000; sphere radius 65).
fn second(name: &str) -> Workload {
    match name {
        "sphere64" => workloads::sphere(65.0),
        "random64k" => workloads::random_sized(1001, 1 << 16, 1024),
        "neural99" => workloads::neural99(1002),
        "neural_block" => workloads::neural_block(1003),
        "tiles256" => workloads::tiles_sized(1004, 256, 100),
        _ => unreachable!("unknown input {name}"),
    }
}

/// Few samples, short measurements: the inputs are large.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// `build`: every voxel through the write accessor (after the fill for tiles).
mod build {
    use super::*;
    use criterion::{BatchSize, Throughput};
    use sparsevdb_bench::baselines::{self, AhashState, Map};
    use sparsevdb_bench::tree_ops;

    /// Registers the group.
    pub(crate) fn benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("build");
        for input in inputs() {
            g.throughput(Throughput::Elements(input.w.voxels.len() as u64));
            g.bench_function(format!("sparsevdb/{}", input.name), |b| {
                b.iter_batched(
                    tree_ops::empty::<false>,
                    |mut t| {
                        tree_ops::insert_all(&mut t, &input.w);
                        t
                    },
                    BatchSize::LargeInput,
                )
            });
            if input.w.fill.is_none() {
                g.bench_function(format!("ahashmap/{}", input.name), |b| {
                    b.iter_batched(
                        Map::<AhashState>::default,
                        |mut m| {
                            baselines::insert_all(&mut m, &input.w);
                            m
                        },
                        BatchSize::LargeInput,
                    )
                });
            }
        }
        g.finish();
    }
}

/// Reads through the shared accessor: coherent hits, shuffled hits, misses.
mod reads {
    use super::*;
    use criterion::{black_box, Throughput};
    use sparsevdb_bench::baselines::{self, AhashState};
    use sparsevdb_bench::tree_ops;
    use sparsevdb_bench::workloads::{Coord, SplitMix64};

    /// Registers the group.
    pub(crate) fn benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("reads");
        for input in inputs() {
            let tree = tree_ops::build::<false>(&input.w);
            let map = (input.w.fill.is_none()).then(|| baselines::build::<AhashState>(&input.w));
            let hits: Vec<Coord> = if input.w.fill.is_some() {
                let mut rng = SplitMix64::new(5);
                (0..1 << 16).map(|_| rng.coord(256, 0)).collect()
            } else {
                input.w.voxels.iter().map(|v| v.0).collect()
            };
            let shuffled = workloads::shuffled(&hits);
            let stored: std::collections::HashSet<Coord> =
                input.w.voxels.iter().map(|v| v.0).collect();
            let misses: Vec<Coord> = workloads::miss_coords(|c| {
                stored.contains(&c) || input.w.fill.is_some_and(|f| f.contains(c))
            });
            for (kind, coords) in [
                ("hit_coherent", &hits),
                ("hit_random", &shuffled),
                ("miss", &misses),
            ] {
                g.throughput(Throughput::Elements(coords.len() as u64));
                g.bench_function(format!("sparsevdb/{kind}/{}", input.name), |b| {
                    b.iter(|| tree_ops::read_sum(black_box(&tree), coords))
                });
                if let Some(map) = &map {
                    g.bench_function(format!("ahashmap/{kind}/{}", input.name), |b| {
                        b.iter(|| baselines::read_sum(black_box(map), coords))
                    });
                }
            }
        }
        g.finish();
    }
}

/// The active-value iterator, summing value × voxel count.
mod iterate {
    use super::*;
    use criterion::{black_box, Throughput};
    use sparsevdb_bench::baselines::{self, AhashState};
    use sparsevdb_bench::tree_ops;

    /// Registers the group.
    pub(crate) fn benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("iterate");
        for input in inputs() {
            let tree = tree_ops::build::<false>(&input.w);
            let items = tree.iter_on().count() as u64;
            g.throughput(Throughput::Elements(items));
            g.bench_function(format!("sparsevdb/{}", input.name), |b| {
                b.iter(|| tree_ops::iter_sum(black_box(&tree)))
            });
            if input.w.fill.is_none() {
                let map = baselines::build::<AhashState>(&input.w);
                g.throughput(Throughput::Elements(map.len() as u64));
                g.bench_function(format!("ahashmap/{}", input.name), |b| {
                    b.iter(|| baselines::value_sum(black_box(&map)))
                });
            }
        }
        g.finish();
    }
}

/// `comp_sum` of A and B (A cloned per iteration, untimed).
mod combine {
    use super::*;

    /// Registers the group.
    pub(crate) fn benches(c: &mut Criterion) {
        use criterion::{BatchSize, Throughput};
        use sparsevdb_bench::tree_ops;

        let mut g = c.benchmark_group("combine");
        for input in inputs() {
            let a = tree_ops::build::<false>(&input.w);
            let b_tree = tree_ops::build::<false>(&second(input.name));
            g.throughput(Throughput::Elements(a.active_voxel_count()));
            g.bench_function(format!("sparsevdb/{}", input.name), |b| {
                b.iter_batched(
                    || a.clone(),
                    |mut a| {
                        tree_ops::comp_sum(&mut a, &b_tree);
                        a
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

/// `prune(0)` after clearing every second leaf (untimed).
mod prune {
    use super::*;
    use criterion::{BatchSize, Throughput};
    use sparsevdb_bench::tree_ops;

    /// Registers the group.
    pub(crate) fn benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("prune");
        for input in inputs() {
            let mut cleared = tree_ops::build::<false>(&input.w);
            g.throughput(Throughput::Elements(cleared.active_voxel_count()));
            tree_ops::clear_even_leaves(&mut cleared);
            g.bench_function(format!("sparsevdb/{}", input.name), |b| {
                b.iter_batched(
                    || cleared.clone(),
                    |mut t| {
                        tree_ops::prune(&mut t);
                        t
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

/// `fill` (tiles where whole slots are covered) and `dense_fill` (voxels).
mod fill {
    use super::*;
    use criterion::{BatchSize, Throughput};
    use sparsevdb_bench::tree_ops;
    use sparsevdb_tree::{Coord, CoordBBox};

    /// Registers the group.
    pub(crate) fn benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("fill");
        let boxes = [
            (
                "aligned_256",
                Coord::new(0, 0, 0),
                Coord::new(255, 255, 255),
            ),
            (
                "unaligned_3_300",
                Coord::new(3, 3, 3),
                Coord::new(300, 300, 300),
            ),
            (
                "negative_-100_27",
                Coord::new(-100, -100, -100),
                Coord::new(27, 27, 27),
            ),
        ];
        for (name, min, max) in boxes {
            let bbox = CoordBBox::new(min, max);
            let voxels = bbox.volume() as u64;
            g.throughput(Throughput::Elements(voxels));
            g.bench_function(format!("fill/{name}"), |b| {
                b.iter_batched(
                    tree_ops::empty::<false>,
                    |mut t| {
                        t.fill(&bbox, 1.0, true);
                        t
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        let dense = CoordBBox::new(Coord::new(0, 0, 0), Coord::new(63, 63, 63));
        g.throughput(Throughput::Elements(64 * 64 * 64));
        g.bench_function("dense_fill/aligned_64", |b| {
            b.iter_batched(
                tree_ops::empty::<false>,
                |mut t| {
                    t.dense_fill(&dense, 1.0, true);
                    t
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

/// The criterion group of all topics (a module keeps the macro's `pub fn` private).
mod group {
    use super::*;

    criterion_group! {
        name = tree;
        config = config();
        targets = build::benches, reads::benches, iterate::benches, combine::benches,
            prune::benches, fill::benches
    }
}

criterion_main!(group::tree);
