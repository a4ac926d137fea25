//! Reductions: the same bits for 1-3 threads and for every kernel path, and the
//! values of a serial model over `iter_on`.

mod support;

use quickcheck::QuickCheck;
use sparsevdb_traverse::kernels::{self, Isa};
use support::{cases, with_threads, TreeSpec, THREADS};

/// (active count, sum, l1, l2, min/max, histogram) with the current settings.
type All = (
    u64,
    u64,
    u64,
    u64,
    Option<(u32, u32)>,
    sparsevdb_traverse::Histogram,
);

fn all(t: &sparsevdb_tree::Tree<f32>) -> All {
    (
        sparsevdb_traverse::active_count(t),
        sparsevdb_traverse::sum(t).to_bits(),
        sparsevdb_traverse::l1_norm(t).to_bits(),
        sparsevdb_traverse::l2_norm(t).to_bits(),
        sparsevdb_traverse::min_max(t).map(|(a, b)| (a.to_bits(), b.to_bits())),
        sparsevdb_traverse::histogram(t, -4.0, 4.0, 16),
    )
}

#[test]
fn reductions_do_not_depend_on_threads() {
    fn prop(spec: TreeSpec) -> bool {
        let t = spec.tree();
        let want = with_threads(1, || all(&t));
        THREADS.iter().all(|&n| with_threads(n, || all(&t)) == want)
    }
    QuickCheck::new()
        .tests(cases(100))
        .quickcheck(prop as fn(TreeSpec) -> bool);
}

#[test]
fn reductions_match_a_serial_model() {
    fn prop(spec: TreeSpec) -> bool {
        let t = spec.tree();
        let mut count = 0u64;
        let (mut s, mut l1, mut l2) = (0.0f64, 0.0f64, 0.0f64);
        let mut mm: Option<(f32, f32)> = None;
        let mut nan = 0u64;
        for item in t.iter_on() {
            let n = item.voxel_count();
            let v = item.value();
            count = count.saturating_add(n);
            s += f64::from(v) * n as f64;
            l1 += f64::from(v).abs() * n as f64;
            l2 += f64::from(v) * f64::from(v) * n as f64;
            if v.is_nan() {
                nan += n;
            } else {
                mm = Some(match mm {
                    None => (v, v),
                    Some((a, b)) => (a.min(v), b.max(v)),
                });
            }
        }
        let close = |a: f64, b: f64| {
            (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
        };
        let h = sparsevdb_traverse::histogram(&t, -4.0, 4.0, 16);
        count == t.active_voxel_count()
            && sparsevdb_traverse::active_count(&t) == count
            && close(sparsevdb_traverse::sum(&t), s)
            && close(sparsevdb_traverse::l1_norm(&t), l1)
            && close(sparsevdb_traverse::l2_norm(&t), l2.sqrt())
            && sparsevdb_traverse::min_max(&t) == mm
            && h.nan == nan
            && (count == u64::MAX || h.total() == count)
    }
    QuickCheck::new()
        .tests(cases(150))
        .quickcheck(prop as fn(TreeSpec) -> bool);
}

#[test]
fn sum_with_each_kernel_path_is_identical() {
    // The whole-tree sum with the kernels capped at each instruction set.
    let spec = TreeSpec {
        background: 0.0,
        ops: (0..2000)
            .map(|i| {
                support::Op::Set(
                    sparsevdb_tree::Coord::new(i % 37, (i * 5) % 29, (i * 11) % 41),
                    (i as f32).sin() * 1000.0,
                )
            })
            .collect(),
    };
    let t = spec.tree();
    let mut sums = Vec::new();
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        kernels::set_max_isa(Some(isa));
        sums.push(sparsevdb_traverse::sum(&t).to_bits());
    }
    kernels::set_max_isa(None);
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

#[test]
fn leaf_managers_visit_every_leaf_in_order() {
    use rayon::prelude::*;
    let spec = TreeSpec {
        background: 0.0,
        ops: (0..500)
            .map(|i| support::Op::Set(sparsevdb_tree::Coord::new(i * 9, -i * 17, i % 5), 1.0))
            .collect(),
    };
    let mut t = spec.tree();
    let origins: Vec<_> = t.leaves().map(|l| l.origin()).collect();
    let m = sparsevdb_traverse::LeafManager::new(&t);
    assert_eq!(
        m.leaves().iter().map(|l| l.origin()).collect::<Vec<_>>(),
        origins
    );
    assert_eq!(m.par_iter().map(|l| l.active_count()).sum::<usize>(), 500);
    let mut mm = sparsevdb_traverse::LeafManagerMut::new(&mut t);
    assert_eq!(mm.len(), origins.len());
    mm.par_iter_mut().for_each(|l| l.set_value_only_at(0, 7.0));
    drop(mm);
    assert!(t.leaves().all(|l| l.value_at(0) == 7.0));
}

#[test]
fn reductions_on_every_leaf_form() {
    for seed in 0..3 {
        let t = support::forms_tree(seed, 0.5);
        let want = with_threads(1, || all(&t));
        for n in THREADS {
            assert_eq!(with_threads(n, || all(&t)), want);
        }
        let mut sums = Vec::new();
        for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            kernels::set_max_isa(Some(isa));
            sums.push(all(&t));
        }
        kernels::set_max_isa(None);
        assert!(sums.windows(2).all(|w| w[0] == w[1]));
        // The model: per leaf, the values in storage order, lane j % 16.
        let mut s = 0.0f64;
        for leaf in t.leaves() {
            let vals: Vec<f32> = leaf.iter_on().map(|(_, v)| v).collect();
            s += match leaf.storage() {
                sparsevdb_tree::LeafStorage::Packed { .. } => {
                    kernels::portable::reduce(&vals, f64::from)
                }
                sparsevdb_tree::LeafStorage::Dense(v) => {
                    kernels::portable::masked_reduce(v, leaf.value_mask().words(), f64::from)
                }
            };
        }
        assert_eq!(sparsevdb_traverse::sum(&t).to_bits(), s.to_bits());
        // Min/max and the histogram do not depend on the form.
        let mut dense = t.clone();
        dense.leaves_mut().for_each(|l| {
            l.make_dense();
        });
        let (a, b) = (all(&t), all(&dense));
        assert_eq!((a.0, a.4, &a.5), (b.0, b.4, &b.5));
    }
}

#[test]
fn sum_is_per_lower_node_in_slot_order_for_any_leaf_count() {
    // Lower nodes with 0 to 40 leaves (fewer than, as many as, and more than the
    // leaves the reductions look ahead), tiny, packed and dense: the sum is each lower
    // node's leaf objects in slot order, then its tiny leaves' active values as one
    // run, the nodes combined left to right in tree order.
    let mut t = sparsevdb_tree::Tree::<f32>::new(0.0);
    for node in 0..41i32 {
        let base = sparsevdb_tree::Coord::new(128 * node, 0, 0);
        for leaf in 0..node {
            for i in 0..(1 + (leaf * 37 + node) % 450) {
                let c = sparsevdb_tree::Coord::new(
                    base.x + 8 * (leaf % 16) + i % 8,
                    8 * (leaf / 16) + (i / 8) % 8,
                    i / 64,
                );
                t.set_value(c, ((i * 7 + leaf) as f32 * 0.31).sin() * 3.0);
            }
        }
    }
    let leaf_sum = |leaf: &sparsevdb_tree::LeafNode<f32>| match leaf.storage() {
        sparsevdb_tree::LeafStorage::Packed { active, .. } => {
            kernels::portable::reduce(active, f64::from)
        }
        sparsevdb_tree::LeafStorage::Dense(v) => {
            kernels::portable::masked_reduce(v, leaf.value_mask().words(), f64::from)
        }
    };
    let lowers = sparsevdb_traverse::lower_nodes(&t);
    assert_eq!(lowers.len(), 40);
    assert!(t.leaves().any(|l| l.is_dense()) && t.leaves().any(|l| !l.is_dense()));
    assert!(t.leaves().any(|l| l.is_tiny()));
    let want = lowers
        .iter()
        .map(|lower| {
            let objects = lower.children().fold(0.0f64, |a, l| a + leaf_sum(l));
            match lower.tiny_active_values() {
                [] => objects,
                tiny => objects + kernels::portable::reduce(tiny, f64::from),
            }
        })
        .fold(0.0f64, |a, p| a + p);
    for n in THREADS {
        assert_eq!(
            with_threads(n, || sparsevdb_traverse::sum(&t)).to_bits(),
            want.to_bits(),
            "{n} threads"
        );
    }
}
