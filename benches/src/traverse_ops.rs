//! The `traverse` section of the report: `sparsevdb-traverse` (rayon + SIMD) on
//! the standard workloads, on 1 and 2 threads, against AHashMap and a STREAM-style
//! triad measured in the same run.
//!
//! Rows (each the median of the report's timed runs, one rayon pool per thread
//! count):
//! * `sum`: `traverse::sum` over the active values (ns per active value), against
//!   AHashMap `values().sum()` (1 thread). A single sum of `sphere` takes only
//!   ~1.5 ms, so that the median is not at the mercy of one scheduler hiccup, every
//!   timed run of the three sum rows (`sum`, `sum (portable kernel)`, AHashMap) does
//!   [`SUM_REPEAT`] sums back to back and the figure is its time divided by
//!   `SUM_REPEAT` (the warm-up and the median of the runs as for every row);
//! * `sum (portable kernel)`: the same with the kernels capped at the portable code
//!   (the SIMD / scalar ratio);
//! * `apply_gradient`: `w −= 0.01·g` with w = A and g = B (A cloned, untimed, per
//!   run), ns per active value of the result;
//! * `comp_sum`: A += B (A cloned per run), parallel, and the tree's serial
//!   `comp_sum` for reference;
//! * `bulk_build`: from A's pairs in generation order, tree order and Morton order,
//!   and the serial accessor build for reference (ns per pair);
//! * kernels over every leaf of A (`masked_sum`, `scaled_add` y += a·x leaf by leaf
//!   against a copy, `mask_below`): GB/s counting the leaf bytes read and written,
//!   AVX (the detected instruction set) and portable, against the triad
//!   `a[i] = b[i] + s·c[i]` on three 64 MiB `f32` arrays (larger than the 32 MiB last
//!   level cache; 12 bytes per element).

use std::fmt::Write as _;

use rayon::prelude::*;
use sparsevdb_traverse as traverse;
use sparsevdb_traverse::kernels::{self, Isa};
use sparsevdb_tree::{Coord as TreeCoord, Tree};

use crate::baselines::{self, AhashState};
use crate::timing::{black_box, Timing};
use crate::tree_ops;
use crate::workloads::Data;

type FloatTree = Tree<f32>;

/// One measured figure: seconds per run on 1 and 2 threads.
struct Row {
    op: String,
    unit: &'static str,
    /// Figure with 1 and 2 threads (same unit).
    one: f64,
    two: Option<f64>,
    note: String,
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon thread pool")
}

/// Sums done back to back in each timed run of the sum rows (see the module docs).
pub const SUM_REPEAT: usize = 16;

/// Median seconds of one `traverse::sum(a)` on `threads` threads: each timed run
/// does [`SUM_REPEAT`] sums, its time divided by `SUM_REPEAT`.
fn repeated_sum_secs(timing: &Timing, threads: usize, a: &FloatTree) -> f64 {
    secs(
        timing,
        threads,
        || (),
        |_| {
            (0..SUM_REPEAT)
                .map(|_| traverse::sum(black_box(a)))
                .fold(0.0, |acc, s| acc + black_box(s))
        },
    ) / SUM_REPEAT as f64
}

/// Median seconds of `timed` on `threads` threads, with `setup` untimed per run.
fn secs<S: Send, T: Send>(
    timing: &Timing,
    threads: usize,
    setup: impl FnMut() -> S + Send,
    timed: impl FnMut(&mut S) -> T + Send,
) -> f64 {
    pool(threads).install(|| timing.measure(setup, timed, |_, _| ()).secs)
}

/// Runs the traverse section on one workload; returns markdown rows (and problems).
pub fn bench_traverse(
    d: &Data,
    timing: &Timing,
    progress: &mut dyn FnMut(&str),
) -> (String, Vec<String>) {
    let mut rows: Vec<Row> = Vec::new();
    let mut problems = Vec::new();
    let name = d.name;
    progress("traverse: building A and B");
    let a = tree_ops::build::<false>(&d.a);
    let b = tree_ops::build::<false>(&d.b);
    let active = a.active_voxel_count() as f64;
    let want_sum: f64 = d.a_final.iter().map(|&(_, v)| f64::from(v)).sum::<f64>()
        + d.a.fill.map_or(0.0, |f| {
            // Fill voxels not overwritten by a draw.
            let over: u64 = d
                .a_final
                .iter()
                .filter(|&&(k, _)| f.contains(crate::workloads::unpack(k)))
                .count() as u64;
            f64::from(f.value) * (f.voxel_count() - over) as f64
        });

    // ---- sum ------------------------------------------------------------------
    progress("traverse: sum");
    let per = |s: f64| s * 1e9 / active;
    let mut got_sum = 0.0;
    let s1 = secs(
        timing,
        1,
        || (),
        |_| {
            for _ in 0..SUM_REPEAT {
                got_sum = traverse::sum(black_box(&a));
            }
        },
    ) / SUM_REPEAT as f64;
    let s2 = repeated_sum_secs(timing, 2, &a);
    if !crate::record::sums_agree(got_sum, want_sum) {
        problems.push(format!(
            "TRAVERSE {name} sum: {got_sum:.6}, reference {want_sum:.6}"
        ));
    }
    rows.push(Row {
        op: "sum".into(),
        unit: "ns/value",
        one: per(s1),
        two: Some(per(s2)),
        note: format!("sum={got_sum:.6} active={active}"),
    });
    kernels::set_max_isa(Some(Isa::Portable));
    let p1 = repeated_sum_secs(timing, 1, &a);
    let p2 = repeated_sum_secs(timing, 2, &a);
    kernels::set_max_isa(None);
    rows.push(Row {
        op: "sum (portable kernel)".into(),
        unit: "ns/value",
        one: per(p1),
        two: Some(per(p2)),
        note: format!("SIMD/portable {:.2} (1 thread)", s1 / p1),
    });
    if d.a.fill.is_none() {
        progress("traverse: AHashMap values().sum()");
        let map = baselines::build::<AhashState>(&d.a);
        let h = timing
            .measure(
                || (),
                |_| {
                    (0..SUM_REPEAT)
                        .map(|_| baselines::value_sum(black_box(&map)))
                        .fold(0.0, |a, s| a + black_box(s))
                },
                |_, _| (),
            )
            .secs
            / SUM_REPEAT as f64;
        let n = map.len() as f64;
        rows.push(Row {
            op: "AHashMap values().sum()".into(),
            unit: "ns/value",
            one: h * 1e9 / n,
            two: None,
            note: format!(
                "sum / AHashMap: {:.3} (1 thread), {:.3} (2 threads)",
                (s1 / active) / (h / n),
                (s2 / active) / (h / n)
            ),
        });
    }

    // ---- apply_gradient, comp_sum -----------------------------------------------
    progress("traverse: apply_gradient");
    let result_active = {
        let mut w = a.clone();
        traverse::apply_gradient(&mut w, &b, 0.01);
        w.active_voxel_count() as f64
    };
    let perr = |s: f64| s * 1e9 / result_active;
    let g1 = secs(
        timing,
        1,
        || a.clone(),
        |w| traverse::apply_gradient(w, &b, 0.01),
    );
    let g2 = secs(
        timing,
        2,
        || a.clone(),
        |w| traverse::apply_gradient(w, &b, 0.01),
    );
    rows.push(Row {
        op: "apply_gradient (w −= 0.01·g)".into(),
        unit: "ns/value",
        one: perr(g1),
        two: Some(perr(g2)),
        note: format!("result active={result_active}"),
    });
    progress("traverse: comp_sum");
    let c1 = secs(timing, 1, || a.clone(), |x| traverse::comp_sum(x, &b));
    let c2 = secs(timing, 2, || a.clone(), |x| traverse::comp_sum(x, &b));
    let cs = secs(timing, 1, || a.clone(), |x| x.comp_sum(&b));
    rows.push(Row {
        op: "comp_sum (A += B)".into(),
        unit: "ns/value",
        one: perr(c1),
        two: Some(perr(c2)),
        note: format!("serial Tree::comp_sum {:.3} ns/value", perr(cs)),
    });

    // ---- bulk build ---------------------------------------------------------------
    if d.a.fill.is_none() {
        progress("traverse: bulk_build");
        let pairs: Vec<(TreeCoord, f32)> =
            d.a.voxels
                .iter()
                .map(|&(c, v)| (TreeCoord::new(c[0], c[1], c[2]), v))
                .collect();
        let n = pairs.len() as f64;
        let serial = timing
            .measure(
                tree_ops::empty::<false>,
                |t| tree_ops::insert_all(t, &d.a),
                |_, _| (),
            )
            .secs;
        for (label, order) in [
            ("tree order", traverse::SortOrder::TreeOrder),
            ("Morton", traverse::SortOrder::Morton),
        ] {
            let run = |threads| {
                secs(
                    timing,
                    threads,
                    || (),
                    |_| {
                        let t: FloatTree = traverse::bulk_build_with(0.0, &pairs, order);
                        t
                    },
                )
            };
            let (b1, b2) = (run(1), run(2));
            rows.push(Row {
                op: format!("bulk_build ({label})"),
                unit: "ns/pair",
                one: b1 * 1e9 / n,
                two: Some(b2 * 1e9 / n),
                note: format!("serial accessor build {:.3} ns/pair", serial * 1e9 / n),
            });
        }
        let check: FloatTree = traverse::bulk_build(0.0, &pairs);
        if check.active_voxel_count() != a.active_voxel_count()
            || !crate::record::sums_agree(traverse::sum(&check), want_sum)
        {
            problems.push(format!(
                "TRAVERSE {name} bulk_build: differs from the build"
            ));
        }
    }

    // ---- kernels over every leaf, and the triad -----------------------------------
    progress("traverse: leaf kernels and triad");
    // The dense-leaf kernels run over dense copies of the leaves (one 2 KiB buffer
    // and a mask per leaf, each its own allocation like a dense leaf): with adaptive
    // leaves most of `a`'s leaves are packed and summed without these kernels.
    let leaves: Vec<(Box<[f32]>, [u64; 8])> = a
        .leaves()
        .map(|l| {
            let mut v = vec![0.0f32; 512].into_boxed_slice();
            l.copy_values_to(&mut v);
            let mut m = [0u64; 8];
            m.copy_from_slice(l.value_mask().words());
            (v, m)
        })
        .collect();
    let nleaves = leaves.len() as f64;
    let leaf_bytes = (512 * 4 + 64) as f64;
    let detected = kernels::detected();
    let kernel_rows = |rows: &mut Vec<Row>, isa: Isa| {
        let ms = |threads| {
            secs(
                timing,
                threads,
                || (),
                |_| {
                    leaves
                        .par_iter()
                        .map(|(v, m)| kernels::masked_sum_f32_with(isa, v, m))
                        .sum::<f64>()
                },
            )
        };
        let (m1, m2) = (ms(1), ms(2));
        let gbs = |bytes: f64, s: f64| bytes / s / 1e9;
        rows.push(Row {
            op: format!("kernel masked_sum [{}]", isa.name()),
            unit: "GB/s",
            one: gbs(nleaves * leaf_bytes, m1),
            two: Some(gbs(nleaves * leaf_bytes, m2)),
            note: String::new(),
        });
        let sa = |threads| {
            secs(
                timing,
                threads,
                || leaves.clone(),
                |y: &mut Vec<(Box<[f32]>, [u64; 8])>| {
                    y.par_iter_mut()
                        .zip(leaves.par_iter())
                        .for_each(|(yl, xl)| {
                            kernels::scaled_add_f32_with(isa, &mut yl.0, 0.5, &xl.0)
                        });
                },
            )
        };
        let (a1, a2) = (sa(1), sa(2));
        rows.push(Row {
            op: format!("kernel scaled_add y += a·x [{}]", isa.name()),
            unit: "GB/s",
            one: gbs(nleaves * 3.0 * 2048.0, a1),
            two: Some(gbs(nleaves * 3.0 * 2048.0, a2)),
            note: "3 × 2 KiB per leaf (x, y read, y written)".into(),
        });
        let mb = |threads| {
            secs(
                timing,
                threads,
                || (),
                |_| {
                    leaves
                        .par_iter()
                        .map(|(v, mask)| {
                            let mut m = *mask;
                            kernels::mask_below_f32_with(isa, v, 0.5, &mut m);
                            m[0].count_ones()
                        })
                        .sum::<u32>()
                },
            )
        };
        let (t1, t2) = (mb(1), mb(2));
        rows.push(Row {
            op: format!("kernel mask_below [{}]", isa.name()),
            unit: "GB/s",
            one: gbs(nleaves * leaf_bytes, t1),
            two: Some(gbs(nleaves * leaf_bytes, t2)),
            note: String::new(),
        });
    };
    {
        // The same kernel over contiguous copies of the leaves (values and masks in
        // two flat arrays, in tree order): what the kernel does without the tree's
        // scattered leaf allocations.
        let mut flat_v: Vec<f32> = Vec::with_capacity(leaves.len() * 512);
        let mut flat_m: Vec<u64> = Vec::with_capacity(leaves.len() * 8);
        for (v, m) in &leaves {
            flat_v.extend_from_slice(v);
            flat_m.extend_from_slice(m);
        }
        for isa in [detected, Isa::Portable] {
            let f = |threads| {
                secs(
                    timing,
                    threads,
                    || (),
                    |_| {
                        flat_v
                            .par_chunks(512)
                            .zip(flat_m.par_chunks(8))
                            .map(|(v, m)| kernels::masked_sum_f32_with(isa, v, m))
                            .sum::<f64>()
                    },
                )
            };
            let (f1, f2) = (f(1), f(2));
            rows.push(Row {
                op: format!("kernel masked_sum, contiguous copy [{}]", isa.name()),
                unit: "GB/s",
                one: nleaves * leaf_bytes / f1 / 1e9,
                two: Some(nleaves * leaf_bytes / f2 / 1e9),
                note: "leaves copied into one flat array".into(),
            });
        }
    }
    kernel_rows(&mut rows, detected);
    if detected != Isa::Portable {
        kernel_rows(&mut rows, Isa::Portable);
    }
    let (t1, t2) = triad(timing);
    rows.push(Row {
        op: "STREAM triad a = b + s·c (3 × 64 MiB)".into(),
        unit: "GB/s",
        one: t1,
        two: Some(t2),
        note: "12 bytes per element".into(),
    });

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### traverse: {name} ({} leaves, {} active values; kernels: {})\n",
        leaves.len(),
        active,
        detected.name()
    );
    let _ = writeln!(
        out,
        "| op | unit | 1 thread | 2 threads | speedup | notes |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in &rows {
        let (two, speed) = match r.two {
            Some(t) if r.unit == "GB/s" => (crate::record::fmt_fig(t), format!("{:.2}", t / r.one)),
            Some(t) => (crate::record::fmt_fig(t), format!("{:.2}", r.one / t)),
            None => ("—".into(), "—".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.op,
            r.unit,
            crate::record::fmt_fig(r.one),
            two,
            speed,
            r.note
        );
    }
    let find = |prefix: &str| {
        rows.iter()
            .find(|r| r.op.starts_with(prefix))
            .map(|r| r.one)
    };
    if let (Some(k), Some(t)) = (find("kernel scaled_add"), find("STREAM")) {
        let _ = writeln!(
            out,
            "\nscaled_add / triad bandwidth (1 thread): {:.0} %",
            100.0 * k / t
        );
    }
    (out, problems)
}

/// STREAM-style triad on three 64 MiB `f32` arrays; GB/s on 1 and 2 threads.
fn triad(timing: &Timing) -> (f64, f64) {
    const N: usize = 16 << 20;
    let b = vec![1.0f32; N];
    let c = vec![2.0f32; N];
    let mut a = vec![0.0f32; N];
    let mut run = |threads: usize| {
        let s = pool(threads).install(|| {
            timing
                .measure(
                    || (),
                    |_| {
                        a.par_chunks_mut(1 << 16)
                            .zip(b.par_chunks(1 << 16))
                            .zip(c.par_chunks(1 << 16))
                            .for_each(|((a, b), c)| {
                                for ((a, &b), &c) in a.iter_mut().zip(b).zip(c) {
                                    *a = b + 3.0 * c;
                                }
                            });
                    },
                    |_, _| (),
                )
                .secs
        });
        (N * 12) as f64 / s / 1e9
    };
    let one = run(1);
    let two = run(2);
    black_box(&a);
    (one, two)
}
