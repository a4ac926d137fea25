//! Transforms and parallel structure operations against serial references.

mod support;

use quickcheck::QuickCheck;
use sparsevdb_tree::{Coord, Tree};
use support::{cases, same_bits, with_threads, TreeSpec, THREADS};

/// The tree with `f` applied to every active value through the serial API.
fn serial_map(t: &Tree<f32>, f: impl Fn(f32) -> (f32, bool)) -> Tree<f32> {
    let mut out = t.clone();
    // Active tiles: a fill of the tile's box with the new value keeps it a tile.
    let items: Vec<_> = t.iter_on().collect();
    for item in items {
        let (v, on) = f(item.value());
        if item.is_tile() {
            out.fill(&item.bbox(), v, on);
        } else if on {
            out.set_value(item.coord(), v);
        } else {
            out.set_value_off(item.coord(), v);
        }
    }
    out
}

fn check_map(spec: TreeSpec, par: fn(&mut Tree<f32>), f: fn(f32) -> (f32, bool)) -> bool {
    let t = spec.tree();
    let want = serial_map(&t, f);
    THREADS.iter().all(|&n| {
        let mut got = t.clone();
        with_threads(n, || par(&mut got));
        got.validate().is_ok() && same_bits(&got, &want)
    })
}

#[test]
fn map_scale_clamp_match_serial() {
    fn prop(spec: TreeSpec) -> bool {
        check_map(
            spec.clone(),
            |t| sparsevdb_traverse::map(t, |v| v * v - 1.0),
            |v| (v * v - 1.0, true),
        ) && check_map(
            spec.clone(),
            |t| sparsevdb_traverse::scale(t, -0.5),
            |v| (-0.5 * v, true),
        ) && check_map(
            spec,
            |t| sparsevdb_traverse::clamp(t, -1.0, 2.0),
            |v| (v.clamp(-1.0, 2.0), true),
        )
    }
    QuickCheck::new()
        .tests(cases(100))
        .quickcheck(prop as fn(TreeSpec) -> bool);
}

#[test]
fn deactivate_below_matches_serial() {
    fn prop(spec: TreeSpec) -> bool {
        let keep = |v: f32| {
            let below = v.abs() < 2.0;
            (v, !below)
        };
        let ok = check_map(
            spec.clone(),
            |t| sparsevdb_traverse::deactivate_below(t, 2.0, false),
            keep,
        );
        let t = spec.tree();
        let mut want = serial_map(&t, keep);
        want.prune_inactive();
        ok && THREADS.iter().all(|&n| {
            let mut got = t.clone();
            with_threads(n, || {
                sparsevdb_traverse::deactivate_below(&mut got, 2.0, true)
            });
            got.validate().is_ok() && same_bits(&got, &want)
        })
    }
    QuickCheck::new()
        .tests(cases(100))
        .quickcheck(prop as fn(TreeSpec) -> bool);
}

#[test]
fn prune_and_prune_inactive_match_serial() {
    fn prop(spec: TreeSpec) -> bool {
        let t = spec.tree();
        THREADS.iter().all(|&n| {
            [0.0f32, 0.5, 100.0].iter().all(|&tol| {
                let mut want = t.clone();
                want.prune(tol);
                let mut got = t.clone();
                with_threads(n, || sparsevdb_traverse::prune(&mut got, tol));
                got.validate().is_ok() && same_bits(&got, &want)
            }) && {
                let mut want = t.clone();
                want.prune_inactive();
                let mut got = t.clone();
                with_threads(n, || sparsevdb_traverse::prune_inactive(&mut got));
                got.validate().is_ok() && same_bits(&got, &want)
            }
        })
    }
    QuickCheck::new()
        .tests(cases(100))
        .quickcheck(prop as fn(TreeSpec) -> bool);
}

#[test]
fn prune_collapses_whole_upper_nodes() {
    let mut t: Tree<f32> = Tree::new(0.0);
    t.dense_fill(
        &sparsevdb_tree::CoordBBox::new(Coord::new(0, 0, 0), Coord::new(255, 127, 127)),
        1.0,
        true,
    );
    t.fill(
        &sparsevdb_tree::CoordBBox::new(Coord::new(0, 0, 0), Coord::new(4095, 4095, 4095)),
        1.0,
        true,
    );
    t.dense_fill(
        &sparsevdb_tree::CoordBBox::new(Coord::new(0, 0, 0), Coord::new(15, 15, 15)),
        1.0,
        true,
    );
    let mut want = t.clone();
    want.prune(0.0);
    sparsevdb_traverse::prune(&mut t, 0.0);
    assert!(same_bits(&t, &want));
    assert_eq!(t.root().tile_at(Coord::new(0, 0, 0)), Some((1.0, true)));
}

#[test]
fn voxelize_matches_serial() {
    // Fills of at most 128³: no root or upper tiles of 2^36 voxels.
    let spec = TreeSpec {
        background: 0.5,
        ops: vec![
            support::Op::Fill(Coord::new(0, 0, 0), 16, 2.0, true),
            support::Op::Fill(Coord::new(128, 0, 0), 128, 3.0, true),
            support::Op::Fill(Coord::new(-8, 0, 0), 8, 4.0, false),
            support::Op::Set(Coord::new(130, 1, 1), 5.0),
            support::Op::Set(Coord::new(-9000, 1, 1), 6.0),
        ],
    };
    let t = spec.tree();
    let mut want = t.clone();
    want.voxelize_active_tiles();
    for n in THREADS {
        let mut got = t.clone();
        with_threads(n, || sparsevdb_traverse::voxelize_active_tiles(&mut got));
        assert!(got.validate().is_ok() && same_bits(&got, &want));
    }
}

#[test]
fn transforms_on_every_leaf_form_match_serial() {
    for seed in 0..3 {
        for bg in [0.0f32, 1.5] {
            let t = support::forms_tree(seed, bg);
            let forms: Vec<bool> = t.leaves().map(|l| l.is_dense()).collect();
            assert!(forms.contains(&true) && forms.contains(&false));
            let mut got = t.clone();
            sparsevdb_traverse::scale(&mut got, -0.5);
            assert!(same_bits(&got, &serial_map(&t, |v| (-0.5 * v, true))));
            assert_eq!(
                got.leaves().map(|l| l.is_dense()).collect::<Vec<_>>(),
                forms,
                "scale keeps the forms"
            );
            let mut got = t.clone();
            sparsevdb_traverse::map(&mut got, |v| v + 1.0);
            assert!(same_bits(&got, &serial_map(&t, |v| (v + 1.0, true))));
            for thr in [0.0f32, 1.0, 2.5, 10.0] {
                let mut got = t.clone();
                sparsevdb_traverse::deactivate_below(&mut got, thr, false);
                assert!(got.validate().is_ok());
                let want = serial_map(&t, |v| (v, v.is_nan() || v.abs() >= thr));
                assert!(same_bits(&got, &want), "seed {seed} bg {bg} t {thr}");
            }
        }
    }
}

#[test]
fn deactivating_the_shared_value_keeps_a_leaf_packed() {
    let mut t: Tree<f32> = Tree::new(0.0);
    t.set_value(Coord::new(0, 0, 0), 0.0);
    t.set_value(Coord::new(0, 0, 1), 5.0);
    sparsevdb_traverse::deactivate_below(&mut t, 1.0, false);
    let leaf = t.leaves().next().unwrap();
    assert!(!leaf.is_dense(), "the deactivated value is the shared one");
    assert_eq!(t.probe_value(Coord::new(0, 0, 0)), (0.0, false));
    t.set_value(Coord::new(0, 0, 2), 0.5);
    sparsevdb_traverse::deactivate_below(&mut t, 1.0, false);
    assert_eq!(
        t.probe_value(Coord::new(0, 0, 2)),
        (0.5, false),
        "value kept"
    );
    assert_eq!(t.probe_value(Coord::new(0, 0, 1)), (5.0, true));
}
