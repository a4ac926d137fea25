//! Parallel combination equals the tree's serial combination bit for bit, for 1, 2
//! and 3 threads, on random trees with tiles at every level, several backgrounds,
//! NaN and -0.0.

mod support;

use quickcheck::QuickCheck;
use sparsevdb_tree::{Coord, Tree};
use support::{cases, same_bits, with_threads, TreeSpec, THREADS};

type Op = fn(&mut Tree<f32>, &Tree<f32>);

fn check(a: TreeSpec, b: TreeSpec, serial: Op, parallel: Op) -> bool {
    let (ta, tb) = (a.tree(), b.tree());
    let mut want = ta.clone();
    serial(&mut want, &tb);
    THREADS.iter().all(|&n| {
        let mut got = ta.clone();
        let before_b = support::fingerprint(&tb);
        with_threads(n, || parallel(&mut got, &tb));
        got.validate().is_ok() && same_bits(&got, &want) && support::fingerprint(&tb) == before_b
    })
}

fn qc(f: fn(TreeSpec, TreeSpec) -> bool) {
    QuickCheck::new()
        .tests(cases(40))
        .quickcheck(f as fn(TreeSpec, TreeSpec) -> bool);
}

#[test]
fn comp_sum_matches_serial() {
    qc(|a, b| check(a, b, |x, y| x.comp_sum(y), sparsevdb_traverse::comp_sum));
}

#[test]
fn comp_max_matches_serial() {
    qc(|a, b| check(a, b, |x, y| x.comp_max(y), sparsevdb_traverse::comp_max));
}

#[test]
fn comp_min_matches_serial() {
    qc(|a, b| check(a, b, |x, y| x.comp_min(y), sparsevdb_traverse::comp_min));
}

#[test]
fn comp_mul_matches_serial() {
    qc(|a, b| check(a, b, |x, y| x.comp_mul(y), sparsevdb_traverse::comp_mul));
}

#[test]
fn combine_matches_serial() {
    qc(|a, b| {
        check(
            a,
            b,
            |x, y| x.combine(y, |p, q| p * 0.5 - q),
            |x, y| sparsevdb_traverse::combine(x, y, |p, q| p * 0.5 - q),
        )
    });
}

#[test]
fn combine_extended_matches_serial() {
    fn f(a: f32, a_on: bool, b: f32, b_on: bool) -> (f32, bool) {
        if a_on && b_on {
            (a - b, true)
        } else if b_on {
            (b * 2.0, a < b)
        } else {
            (a, false)
        }
    }
    qc(|a, b| {
        check(
            a,
            b,
            |x, y| x.combine_extended(y, f),
            |x, y| sparsevdb_traverse::combine_extended(x, y, f),
        )
    });
}

#[test]
fn axpy_and_gradient_match_serial_combine() {
    qc(|a, b| {
        check(
            a.clone(),
            b.clone(),
            |x, y| x.combine(y, |p, q| p + 0.375 * q),
            |x, y| sparsevdb_traverse::axpy(x, 0.375, y),
        ) && check(
            a,
            b,
            |x, y| x.combine(y, |w, g| w - 0.1 * g),
            |x, y| sparsevdb_traverse::apply_gradient(x, y, 0.1),
        )
    });
}

#[test]
fn lerp_matches_serial_combine() {
    qc(|a, b| {
        let (ta, tb) = (a.tree(), b.tree());
        let mut want = ta.clone();
        want.combine(&tb, |x, y| x + 0.25 * (y - x));
        THREADS.iter().all(|&n| {
            let got = with_threads(n, || sparsevdb_traverse::lerp(&ta, &tb, 0.25));
            same_bits(&got, &want)
        })
    });
}

#[test]
fn combine_with_itself_and_with_empty() {
    let mut t: Tree<f32> = Tree::new(0.5);
    t.set_value(Coord::new(1, 2, 3), 4.0);
    t.set_value(Coord::new(-9000, 2, 3), -4.0);
    let copy = t.clone();
    let mut want = t.clone();
    want.comp_sum(&copy);
    sparsevdb_traverse::comp_sum(&mut t, &copy);
    assert!(same_bits(&t, &want));
    let empty: Tree<f32> = Tree::new(0.0);
    let mut want = t.clone();
    want.comp_max(&empty);
    sparsevdb_traverse::comp_max(&mut t, &empty);
    assert!(same_bits(&t, &want));
}

#[test]
fn other_configuration() {
    // The 4-4-3 tree: upper nodes of 16³ lower nodes.
    let spec_a = TreeSpec {
        background: 0.0,
        ops: vec![
            support::Op::Set(Coord::new(1, 2, 3), 1.0),
            support::Op::Fill(Coord::new(0, 0, 128), 128, 2.0, true),
        ],
    };
    let spec_b = TreeSpec {
        background: 1.0,
        ops: vec![
            support::Op::Set(Coord::new(1, 2, 4), 3.0),
            support::Op::Set(Coord::new(0, 0, 130), 3.0),
            support::Op::Set(Coord::new(3000, 0, 0), 3.0),
        ],
    };
    let a: Tree<f32, 4, 4, 3> = spec_a.build();
    let b: Tree<f32, 4, 4, 3> = spec_b.build();
    let mut want = a.clone();
    want.comp_sum(&b);
    let mut got = a.clone();
    sparsevdb_traverse::comp_sum(&mut got, &b);
    assert!(same_bits(&got, &want));
}

#[test]
fn every_pair_of_leaf_forms_matches_serial() {
    // Dense-dense, packed-packed and mixed leaf pairs, packed leaves against tiles.
    type Pair = (
        fn(&mut Tree<f32>, &Tree<f32>),
        fn(&mut Tree<f32>, &Tree<f32>),
    );
    let ops: [Pair; 6] = [
        (|x, y| x.comp_sum(y), sparsevdb_traverse::comp_sum),
        (|x, y| x.comp_max(y), sparsevdb_traverse::comp_max),
        (
            |x, y| x.combine(y, |p, q| p * 0.5 - q),
            |x, y| sparsevdb_traverse::combine(x, y, |p, q| p * 0.5 - q),
        ),
        (
            |x, y| x.combine(y, |w, g| w - 0.1 * g),
            |x, y| sparsevdb_traverse::apply_gradient(x, y, 0.1),
        ),
        (
            |x, y| x.combine_extended(y, |a, a_on, b, b_on| (a + b, a_on && b_on)),
            |x, y| {
                sparsevdb_traverse::combine_extended(x, y, |a, a_on, b, b_on| (a + b, a_on && b_on))
            },
        ),
        (
            |x, y| x.combine_extended(y, |a, a_on, b, b_on| (a - 0.25 * b, a_on || b_on)),
            |x, y| {
                sparsevdb_traverse::combine_extended(x, y, |a, a_on, b, b_on| {
                    (a - 0.25 * b, a_on || b_on)
                })
            },
        ),
    ];
    for sa in 0..3 {
        for sb in 0..3 {
            for (bg_a, bg_b) in [(0.0, 0.0), (1.0, -0.0), (0.0, 2.0)] {
                let ta = support::forms_tree(sa, bg_a);
                let mut tb = support::forms_tree(sb, bg_b);
                // Leaves of `a` facing tiles of `b`, active and inactive.
                tb.fill(
                    &sparsevdb_tree::CoordBBox::new(Coord::new(0, 0, 0), Coord::new(15, 7, 7)),
                    3.0,
                    sb % 2 == 0,
                );
                for (k, (serial, parallel)) in ops.iter().enumerate() {
                    for (x, y) in [(&ta, &tb), (&tb, &ta)] {
                        let mut want = x.clone();
                        serial(&mut want, y);
                        let mut got = x.clone();
                        parallel(&mut got, y);
                        assert!(got.validate().is_ok(), "op {k} seeds {sa} {sb}");
                        assert!(
                            same_bits(&got, &want),
                            "op {k} seeds {sa} {sb} bg {bg_a} {bg_b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn tiny_leaves_of_either_tree_match_serial() {
    // `b`'s tiny leaves are combined one at a time as leaf objects (its lower nodes
    // are not copied): against `a`'s big leaves, tiny leaves and tiles.
    let mut a: Tree<f32> = Tree::new(0.5);
    let mut b: Tree<f32> = Tree::new(-1.0);
    for i in 0..40 {
        for j in 0..8 {
            for k in 0..8 {
                a.set_value(Coord::new(i, j, k), (i * j + k) as f32);
            }
        }
    }
    a.set_value(Coord::new(300, 1, 1), 7.0);
    for i in (0..400).step_by(5) {
        b.set_value(Coord::new(i, 3, 1), i as f32 * 0.25);
        b.set_value(Coord::new(i, 100, -40), -(i as f32));
    }
    b.set_value(Coord::new(301, 2, 2), 1.5);
    assert!(b.leaves().any(|l| l.is_tiny()), "b has tiny leaves");
    assert!(a.leaves().any(|l| l.is_tiny()), "a has tiny leaves");
    let ops: [(Op, Op); 3] = [
        (|x, y| x.comp_sum(y), sparsevdb_traverse::comp_sum),
        (
            |x, y| x.combine(y, |w, g| w - 0.1 * g),
            |x, y| sparsevdb_traverse::apply_gradient(x, y, 0.1),
        ),
        (
            |x, y| x.combine_extended(y, |p, p_on, q, q_on| (p - q, p_on != q_on)),
            |x, y| {
                sparsevdb_traverse::combine_extended(x, y, |p, p_on, q, q_on| (p - q, p_on != q_on))
            },
        ),
    ];
    for (serial, parallel) in ops {
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut want = x.clone();
            serial(&mut want, y);
            for &n in THREADS.iter() {
                let mut got = x.clone();
                with_threads(n, || parallel(&mut got, y));
                assert!(got.validate().is_ok());
                assert!(same_bits(&got, &want), "{n} threads");
            }
        }
    }
}
