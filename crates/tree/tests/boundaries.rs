//! Boundary tests and laws of `sparsevdb_tree::Tree`, on both configurations
//! (5-4-3 and 4-4-3):
//!
//! - the `i32` extremes: set / get / fill / clip / iterate / bounding box at all eight
//!   corners of the coordinate cube; fills touching `i32::MAX` (and `i32::MIN`)
//!   terminate and are exact, up to whole root tiles at the corners;
//! - every node boundary: multiples of 8, 128, 2048 and 4096 and their negatives,
//!   ±1, on each axis — point writes, straddling fills, clips and prunes, with the
//!   exact node structure (leaf origins, node counts) they must create;
//! - OpenVDB's approximate-equality rules (`isApproxEqual`, 1e-8 for `f32`) where the
//!   model-based suite cannot reach them: the background change and the erasure of
//!   root tiles approx-equal to the background;
//! - laws, as quickcheck properties over random trees: `prune(0)` preserves every
//!   probe; fill then probe round-trips; the topology union and intersection commute
//!   on the active set (and the difference is the set difference); `merge` activates
//!   the union; `comp_sum` commutes.

// Not under Miri: these suites' thousands of tree-wide walks (every slot of every
// internal node) take far longer interpreted than even a long Miri run allows. Under
// Miri the unit tests (among them those of the mutable accessor's cache, the crate's
// only `unsafe`), `fuzz_regressions.rs` and `model_props.rs` (one short sequence per
// property) exercise the same code.
#![cfg(not(miri))]

#[path = "support/model.rs"]
mod model;

use model::{box_coords, HashMap, HashSet, Model, ModelValue};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use sparsevdb_tree::{Coord, CoordBBox, Tree};

const MIN: i32 = i32::MIN;
const MAX: i32 = i32::MAX;

fn c(x: i32, y: i32, z: i32) -> Coord {
    Coord::new(x, y, z)
}

fn bx(lo: Coord, hi: Coord) -> CoordBBox {
    CoordBBox::new(lo, hi)
}

/// The eight corners of the `i32` cube.
fn corners() -> Vec<Coord> {
    let mut v = Vec::new();
    for x in [MIN, MAX] {
        for y in [MIN, MAX] {
            for z in [MIN, MAX] {
                v.push(c(x, y, z));
            }
        }
    }
    v
}

/// One step from `p` toward the origin on every axis.
fn inward(p: Coord) -> Coord {
    let s = |v: i32| if v < 0 { v + 1 } else { v - 1 };
    c(s(p.x), s(p.y), s(p.z))
}

fn floor_to(v: i32, log2: u32) -> i32 {
    ((v as i64) >> log2 << log2) as i32
}

fn origin_of(p: Coord, log2: u32) -> Coord {
    c(
        floor_to(p.x, log2),
        floor_to(p.y, log2),
        floor_to(p.z, log2),
    )
}

/// Active voxels of a tree, tiles expanded (they must be small).
fn active_set<const L2: u32, const L1: u32, const L0: u32>(
    t: &Tree<f32, L2, L1, L0>,
) -> HashMap<Coord, f32> {
    let mut out = HashMap::default();
    for item in t.iter_on() {
        assert!(
            item.voxel_count() <= 1 << 15,
            "unexpectedly large active tile"
        );
        for p in box_coords(&item.bbox()) {
            assert!(out.insert(p, item.value()).is_none(), "{p} visited twice");
        }
    }
    out
}

// ---- the i32 extremes ----------------------------------------------------------------

fn corners_set_get_iterate<const L2: u32, const L1: u32, const L0: u32>() {
    let total = L0 + L1 + L2;
    let mut t = Tree::<f32, L2, L1, L0>::with_background(-1.0);
    for (i, &p) in corners().iter().enumerate() {
        t.set_value(p, i as f32);
    }
    t.validate().unwrap();
    for (i, &p) in corners().iter().enumerate() {
        assert_eq!(t.probe_value(p), (i as f32, true), "{p}");
        assert_eq!(t.value_depth(p), 3);
        assert_eq!(t.probe_value(inward(p)), (-1.0, false), "next to {p}");
        assert_eq!(t.accessor().probe_value(p), (i as f32, true));
    }
    assert_eq!(t.active_voxel_count(), 8);
    assert_eq!(t.leaf_count(), 8);
    assert_eq!(t.non_leaf_count(), 1 + 8 + 8);
    assert_eq!(t.eval_active_bbox(), Some(bx(Coord::MIN, Coord::MAX)));
    let leaf_bbox = t.eval_leaf_bbox().unwrap();
    assert_eq!(
        leaf_bbox,
        bx(Coord::MIN, Coord::MAX),
        "leaves at the corners span all"
    );
    // OpenVDB order: root keys ascending signed (x, y, z): the corner order above.
    let items: Vec<_> = t.iter_on().map(|i| (i.coord(), i.value())).collect();
    let want: Vec<_> = corners()
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i as f32))
        .collect();
    assert_eq!(items, want);
    let leaves: Vec<Coord> = t.leaves().map(|l| l.origin()).collect();
    let want: Vec<Coord> = corners().into_iter().map(|p| origin_of(p, L0)).collect();
    assert_eq!(leaves, want);
    // Upper nodes sit at the corners too.
    for p in corners() {
        let o = origin_of(p, total);
        assert!(t.nodes().any(|n| n.level() == 2 && n.origin() == o), "{o}");
    }
    // Writes through the mutable accessor at the extremes.
    {
        let mut acc = t.accessor_mut();
        for p in corners() {
            acc.set_value_off(p, 7.0);
            acc.set_value(inward(p), 8.0);
        }
    }
    for p in corners() {
        assert_eq!(t.probe_value(p), (7.0, false));
        assert_eq!(t.probe_value(inward(p)), (8.0, true));
    }
    assert_eq!(t.active_voxel_count(), 8);
    t.validate().unwrap();
    // Prune: leaves do not collapse (mixed), then clear to background and prune.
    for p in corners() {
        t.set_value_off(p, -1.0);
        t.set_value_off(inward(p), -1.0);
    }
    t.prune(0.0);
    assert!(t.is_empty(), "all background: prune empties the tree");
    t.validate().unwrap();
}

#[test]
fn corners_set_get_iterate_543() {
    corners_set_get_iterate::<5, 4, 3>();
}

#[test]
fn corners_set_get_iterate_443() {
    corners_set_get_iterate::<4, 4, 3>();
}

fn fills_touching_extremes<const L2: u32, const L1: u32, const L0: u32>() {
    let total = L0 + L1 + L2;
    for s in [1i32, 2, 7, 8, 9, 17, 64, 100] {
        for dense in [false, true] {
            for hi_corner in [true, false] {
                let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
                let b = if hi_corner {
                    bx(Coord::splat(MAX - (s - 1)), Coord::MAX)
                } else {
                    bx(Coord::MIN, Coord::splat(MIN + (s - 1)))
                };
                if dense {
                    t.dense_fill(&b, 2.0, true);
                } else {
                    t.fill(&b, 2.0, true);
                }
                t.validate().unwrap();
                let n = (s as u64).pow(3);
                assert_eq!(t.active_voxel_count(), n, "s {s} dense {dense}");
                assert_eq!(t.eval_active_bbox(), Some(b));
                assert_eq!(t.iter_on().map(|i| i.voxel_count()).sum::<u64>(), n);
                let set = active_set(&t);
                assert_eq!(set.len() as u64, n);
                assert!(box_coords(&b).all(|p| set.get(&p) == Some(&2.0)));
                // Just outside, on each axis.
                let edge = if hi_corner { MAX - s } else { MIN + s };
                let inner = if hi_corner { MAX } else { MIN };
                assert_eq!(t.probe_value(c(edge, inner, inner)), (0.0, false));
                assert_eq!(t.probe_value(c(inner, edge, inner)), (0.0, false));
                assert_eq!(t.probe_value(c(inner, inner, edge)), (0.0, false));
                if dense {
                    assert_eq!(t.active_tile_count(), 0);
                }
                t.prune(0.0);
                assert_eq!(t.active_voxel_count(), n);
                assert_eq!(t.eval_active_bbox(), Some(b));
                t.validate().unwrap();
            }
        }
    }
    // A whole upper block at each extreme corner is a root tile.
    let side = 1i64 << total;
    for hi_corner in [true, false] {
        let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
        let b = if hi_corner {
            bx(Coord::splat((MAX as i64 - side + 1) as i32), Coord::MAX)
        } else {
            bx(Coord::MIN, Coord::splat((MIN as i64 + side - 1) as i32))
        };
        t.fill(&b, 3.0, true);
        t.validate().unwrap();
        assert_eq!(t.leaf_count(), 0);
        assert_eq!(t.non_leaf_count(), 1, "only the root");
        assert_eq!(t.active_voxel_count(), 1u64 << (3 * total));
        assert_eq!(t.eval_active_bbox(), Some(b));
        let items: Vec<_> = t.iter_on().collect();
        assert_eq!(items.len(), 1);
        assert_eq!((items[0].level(), items[0].bbox()), (3, b));
        assert_eq!(t.value_depth(b.max()), 0);
        // A voxel write inside densifies exactly one path.
        t.set_value(b.max(), 4.0);
        assert_eq!(t.leaf_count(), 1);
        assert_eq!(t.active_voxel_count(), 1u64 << (3 * total));
        assert_eq!(t.probe_value(b.max()), (4.0, true));
        assert_eq!(t.probe_value(b.min()), (3.0, true));
        t.set_value(b.max(), 3.0);
        t.prune(0.0);
        assert_eq!(t.non_leaf_count(), 1, "collapsed back into a root tile");
        t.validate().unwrap();
    }
    // Boxes touching MAX on one axis and spanning a root boundary on another.
    let side32 = side as i32;
    for axis in 0..3 {
        let mut lo = [-5, side32 - 3, 0];
        let mut hi = [5, side32 + 2, 9];
        lo[axis] = MAX - 4;
        hi[axis] = MAX;
        let b = bx(Coord::from(lo), Coord::from(hi));
        let mut t = Tree::<f32, L2, L1, L0>::with_background(1.0);
        t.fill(&b, -2.0, false);
        t.fill(&b, 5.0, true);
        assert_eq!(t.active_voxel_count() as u128, b.volume());
        assert_eq!(t.eval_active_bbox(), Some(b));
        let mut m = Model::for_config(1.0f32, L2, L1, L0);
        m.fill(&b, 5.0, true);
        for p in box_coords(&bx(
            Coord::from(lo.map(|v| v.saturating_sub(1))),
            Coord::from(hi.map(|v| v.saturating_add(1))),
        )) {
            assert_eq!(t.probe_value(p), m.probe(p), "{p}");
        }
        t.validate().unwrap();
    }
}

#[test]
fn fills_touching_extremes_543() {
    fills_touching_extremes::<5, 4, 3>();
}

#[test]
fn fills_touching_extremes_443() {
    fills_touching_extremes::<4, 4, 3>();
}

fn clip_at_extremes<const L2: u32, const L1: u32, const L0: u32>() {
    let build = || {
        let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
        for p in corners() {
            let q = inward(inward(p));
            t.fill(&bx(p.min_component(q), p.max_component(q)), 1.0, true);
        }
        t.set_value(c(0, 0, 0), 2.0);
        t
    };
    // Keep only the MIN corner's 3³ block, then only its corner voxel.
    let mut t = build();
    t.clip(&bx(Coord::MIN, Coord::splat(MIN + 10)));
    assert_eq!(t.active_voxel_count(), 27);
    assert_eq!(
        t.eval_active_bbox(),
        Some(bx(Coord::MIN, Coord::splat(MIN + 2)))
    );
    t.clip(&bx(Coord::MIN, Coord::MIN));
    assert_eq!(t.active_voxel_count(), 1);
    assert_eq!(t.probe_value(Coord::MIN), (1.0, true));
    assert_eq!(t.probe_value(c(MIN + 1, MIN, MIN)), (0.0, false));
    t.validate().unwrap();
    // Keep only the MAX corner's voxel.
    let mut t = build();
    t.clip(&bx(Coord::MAX, Coord::MAX));
    assert_eq!(t.active_voxel_count(), 1);
    assert_eq!(t.eval_active_bbox(), Some(bx(Coord::MAX, Coord::MAX)));
    assert_eq!(t.leaf_count(), 1);
    t.validate().unwrap();
    // The whole space keeps everything; an inverted box keeps nothing.
    let mut t = build();
    t.clip(&bx(Coord::MIN, Coord::MAX));
    assert_eq!(t.active_voxel_count(), 8 * 27 + 1);
    t.clip(&bx(Coord::splat(1), Coord::splat(0)));
    assert!(t.is_empty());
    assert_eq!(t.active_voxel_count(), 0);
    assert_eq!(t.eval_active_bbox(), None);
    // A half-space at x >= 0 keeps the four positive-x corners and the origin.
    let mut t = build();
    t.clip(&bx(c(0, MIN, MIN), Coord::MAX));
    assert_eq!(t.active_voxel_count(), 4 * 27 + 1);
    assert_eq!(t.eval_active_bbox(), Some(bx(c(0, MIN, MIN), Coord::MAX)));
    t.validate().unwrap();
}

#[test]
fn clip_at_extremes_543() {
    clip_at_extremes::<5, 4, 3>();
}

#[test]
fn clip_at_extremes_443() {
    clip_at_extremes::<4, 4, 3>();
}

#[test]
fn extreme_values_at_extreme_coordinates() {
    let mut t: Tree<i32> = Tree::new(i32::MIN);
    t.set_value(Coord::MAX, i32::MAX);
    t.modify_value(Coord::MAX, |v| *v = v.wrapping_add(1));
    assert_eq!(t.probe_value(Coord::MAX), (i32::MIN, true));
    t.set_value_off(Coord::MIN, i32::MAX);
    t.set_background(i32::MAX);
    // MAX is neither the old background (MIN) nor its wrapping negative (MIN): the
    // voxel keeps its value; the empty space reads the new background.
    assert_eq!(t.probe_value(Coord::MIN), (i32::MAX, false));
    assert_eq!(t.get_value(c(0, 0, 0)), i32::MAX);
    t.prune(i32::MAX);
    t.validate().unwrap();
    assert_eq!(t.probe_value(Coord::MAX), (i32::MIN, true));
}

// ---- node boundaries -----------------------------------------------------------------

/// Boundary coordinates: multiples of 8, 128, 2048, 4096 (and 2^15), negatives, ±1.
fn boundary_values() -> Vec<i32> {
    let mut v = Vec::new();
    for m in [8i64, 128, 2048, 4096, 1 << 15] {
        for k in [-2i64, -1, 0, 1, 2] {
            for d in [-1i64, 0, 1] {
                v.push((k * m + d) as i32);
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

fn point_writes_at_boundaries<const L2: u32, const L1: u32, const L0: u32>() {
    let logs = [L0, L0 + L1, L0 + L1 + L2];
    for axis in 0..3 {
        let mut t = Tree::<f32, L2, L1, L0>::with_background(0.5);
        let mut m = Model::for_config(0.5f32, L2, L1, L0);
        let mut written = Vec::new();
        for (i, b) in boundary_values().into_iter().enumerate() {
            let mut a = [3, -5, 6];
            a[axis] = b;
            let p = Coord::from(a);
            let v = i as f32;
            if i % 3 == 0 {
                t.set_value_off(p, v);
                m.set_value_off(p, v);
            } else {
                t.set_value(p, v);
                m.set_value(p, v);
            }
            written.push(p);
        }
        t.validate().unwrap();
        for &p in &written {
            for d in [-1i64, 0, 1] {
                let mut a = [p.x as i64, p.y as i64, p.z as i64];
                a[axis] += d;
                let q = c(a[0] as i32, a[1] as i32, a[2] as i32);
                assert_eq!(t.probe_value(q), m.probe(q), "{q}");
                if d == 0 {
                    assert_eq!(t.value_depth(q), 3, "{q}");
                }
            }
        }
        // Exactly the nodes the written voxels need.
        let want = |level: usize| -> Vec<Coord> {
            let mut s: Vec<Coord> = written.iter().map(|&p| origin_of(p, logs[level])).collect();
            s.sort();
            s.dedup();
            s
        };
        let mut leaves: Vec<Coord> = t.leaves().map(|l| l.origin()).collect();
        leaves.sort();
        assert_eq!(leaves, want(0), "axis {axis}");
        for (level, lv) in [(1u32, 1usize), (2, 2)] {
            let mut got: Vec<Coord> = t
                .nodes()
                .filter(|n| n.level() == level)
                .map(|n| n.origin())
                .collect();
            got.sort();
            assert_eq!(got, want(lv), "axis {axis} level {level}");
        }
        assert_eq!(
            t.active_voxel_count(),
            m.active_voxel_count(),
            "axis {axis}"
        );
        assert_eq!(t.eval_active_bbox(), m.eval_active_bbox());
        // Leaf bbox: whole leaves around the active voxels.
        let mut lb: Option<CoordBBox> = None;
        for (p, &(_, on)) in &m.voxels {
            if on {
                let o = origin_of(*p, L0);
                let leaf = bx(
                    o,
                    c(
                        o.x + (1 << L0) - 1,
                        o.y + (1 << L0) - 1,
                        o.z + (1 << L0) - 1,
                    ),
                );
                lb = Some(lb.map_or(leaf, |b| b.union(&leaf)));
            }
        }
        assert_eq!(t.eval_leaf_bbox(), lb);
    }
}

#[test]
fn point_writes_at_boundaries_543() {
    point_writes_at_boundaries::<5, 4, 3>();
}

#[test]
fn point_writes_at_boundaries_443() {
    point_writes_at_boundaries::<4, 4, 3>();
}

fn fills_clips_prunes_across_boundaries<const L2: u32, const L1: u32, const L0: u32>() {
    for axis in 0..3 {
        for b in boundary_values() {
            // A thin slab across the boundary (2 voxels on each side) and one more
            // exactly covering the leaf block on the high side.
            let mut lo = [0i64, -1, 2];
            let mut hi = [1i64, 0, 3];
            lo[axis] = b as i64 - 2;
            hi[axis] = b as i64 + 1;
            let to = |a: [i64; 3]| c(a[0] as i32, a[1] as i32, a[2] as i32);
            let slab = bx(to(lo), to(hi));
            let leaf = {
                let mut o = [0i64, 0, 0];
                o[axis] = floor_to(b, L0) as i64;
                let o = to(o);
                bx(
                    o,
                    to([0, 1, 2].map(|i| o.to_array()[i] as i64 + (1 << L0) - 1)),
                )
            };
            let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
            let mut m = Model::for_config(0.0f32, L2, L1, L0);
            t.fill(&leaf, 1.0, true);
            m.fill(&leaf, 1.0, true);
            assert_eq!(t.leaf_count(), 0, "an aligned leaf block is a tile");
            t.fill(&slab, 2.0, true);
            m.fill(&slab, 2.0, true);
            t.validate().unwrap();
            let probe_all = |t: &Tree<f32, L2, L1, L0>, m: &Model<f32>, what: &str| {
                let mut around = lo;
                let mut beyond = hi;
                around[axis] -= 2;
                beyond[axis] += 2;
                let region = bx(to(around), to(beyond)).union(&leaf);
                for p in box_coords(&region) {
                    assert_eq!(
                        t.probe_value(p),
                        m.probe(p),
                        "{what}: axis {axis} b {b} at {p}"
                    );
                }
                assert_eq!(t.active_voxel_count(), m.active_voxel_count(), "{what}");
                assert_eq!(t.eval_active_bbox(), m.eval_active_bbox(), "{what}");
            };
            probe_all(&t, &m, "fill");
            t.prune(0.0);
            probe_all(&t, &m, "prune(0)");
            t.prune(1.0);
            m.prune(1.0);
            probe_all(&t, &m, "prune(1)");
            // Clip to the high side of the boundary. (The box stays small: like
            // OpenVDB's, the tree's clip densifies every background tile its faces
            // cut, so a half-space through a 4096³ node builds ~10⁵ leaves.)
            let mut clo = [-30, -30, -30];
            let mut chi = [30, 30, 30];
            clo[axis] = b;
            chi[axis] = b.saturating_add(40);
            let clip = bx(Coord::from(clo), Coord::from(chi));
            t.clip(&clip);
            m.clip(&clip);
            probe_all(&t, &m, "clip");
            t.voxelize_active_tiles();
            probe_all(&t, &m, "voxelize");
            assert_eq!(t.active_tile_count(), 0);
            t.validate().unwrap();
        }
    }
}

#[test]
fn fills_clips_prunes_across_boundaries_543() {
    fills_clips_prunes_across_boundaries::<5, 4, 3>();
}

#[test]
fn fills_clips_prunes_across_boundaries_443() {
    fills_clips_prunes_across_boundaries::<4, 4, 3>();
}

// ---- OpenVDB's approximate equality (1e-8 for f32) -----------------------------------

#[test]
fn background_change_uses_approx_equality() {
    let mut t: Tree<f32> = Tree::new(0.001);
    let near = 0.001 + 4e-9;
    let near_neg = -0.001 - 4e-9;
    let far = 0.001 + 1e-6;
    t.set_value_off(c(0, 0, 0), near);
    t.set_value_off(c(0, 0, 1), near_neg);
    t.set_value_off(c(0, 0, 2), far);
    t.set_value(c(0, 0, 3), near);
    // An inactive tile approx-equal to the background, and an upper-level one.
    t.fill(&bx(c(8, 0, 0), c(15, 7, 7)), near, false);
    t.fill(&bx(c(128, 0, 0), c(255, 127, 127)), near_neg, false);
    t.set_background(2.0);
    assert_eq!(t.probe_value(c(0, 0, 0)), (2.0, false));
    assert_eq!(t.probe_value(c(0, 0, 1)), (-2.0, false));
    assert_eq!(t.probe_value(c(0, 0, 2)), (far, false));
    assert_eq!(
        t.probe_value(c(0, 0, 3)),
        (near, true),
        "active values stay"
    );
    assert_eq!(t.probe_value(c(9, 1, 1)), (2.0, false));
    assert_eq!(t.probe_value(c(200, 1, 1)), (-2.0, false));
    assert_eq!(t.get_value(c(9000, 0, 0)), 2.0);
}

#[test]
fn background_change_to_an_equal_value_changes_nothing() {
    // OpenVDB returns early when the new background is exactly equal (`==`) to the
    // old one: values approx-equal to it are not rewritten, and -0.0 == 0.0.
    let mut t: Tree<f32> = Tree::new(0.0);
    t.set_value_off(c(0, 0, 0), 5e-9);
    t.set_background(0.0);
    t.set_background(-0.0);
    assert_eq!(t.get_value(c(0, 0, 0)), 5e-9);
    assert_eq!(t.background().to_bits(), 0.0f32.to_bits());
    t.set_background(1.0);
    assert_eq!(
        t.get_value(c(0, 0, 0)),
        1.0,
        "approx-equal to the old background"
    );
}

fn approx_background_root_tiles_are_erased<const L2: u32, const L1: u32, const L0: u32>() {
    let side = 1i32 << (L0 + L1 + L2);
    let upper = bx(c(0, 0, 0), Coord::splat(side - 1));
    let tiny = 5e-9f32;
    // prune: the collapsed upper node is approx-equal to the background: erased.
    let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
    t.fill(&upper, tiny, false);
    t.set_value(c(1, 2, 3), tiny);
    t.set_active(c(1, 2, 3), false);
    assert_eq!(
        t.leaf_count(),
        1,
        "a branch down to a leaf, all tiny and inactive"
    );
    assert!(!t.is_empty());
    t.prune(0.0);
    assert!(t.is_empty());
    assert_eq!(t.root().entry_count(), 0);
    assert_eq!(t.get_value(c(1, 2, 3)).to_bits(), 0.0f32.to_bits());
    // A root tile approx-equal to the background is erased by prune, prune_inactive
    // and clip — not by fill.
    for op in 0..3 {
        let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
        t.fill(&upper, tiny, false);
        assert_eq!(t.root().entry_count(), 1);
        assert_eq!(t.get_value(c(5, 5, 5)), tiny, "fill never prunes");
        match op {
            0 => t.prune(0.0),
            1 => t.prune_inactive(),
            _ => t.clip(&bx(Coord::MIN, Coord::MAX)),
        }
        assert!(t.is_empty(), "op {op}");
        assert_eq!(t.root().entry_count(), 0, "op {op}");
        assert_eq!(t.get_value(c(5, 5, 5)).to_bits(), 0.0f32.to_bits());
    }
    // Not approx-equal: kept.
    let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
    t.fill(&upper, 2e-8, false);
    t.prune(0.0);
    assert_eq!(t.get_value(c(5, 5, 5)), 2e-8);
    // An active one is kept too.
    let mut t = Tree::<f32, L2, L1, L0>::with_background(0.0);
    t.fill(&upper, tiny, true);
    t.prune(0.0);
    assert_eq!(t.probe_value(c(5, 5, 5)), (tiny, true));
}

#[test]
fn approx_background_root_tiles_are_erased_543() {
    approx_background_root_tiles_are_erased::<5, 4, 3>();
}

#[test]
fn approx_background_root_tiles_are_erased_443() {
    approx_background_root_tiles_are_erased::<4, 4, 3>();
}

// ---- laws ----------------------------------------------------------------------------

/// A random tree recipe: writes and small fills around a few boundary anchors.
#[derive(Clone, Debug)]
struct Recipe {
    background: f32,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Step {
    Set(Coord, f32, bool),
    Fill(CoordBBox, f32, bool),
}

const VALUES: [f32; 6] = [0.0, 1.0, -1.0, 2.0, 0.5, -0.0];

fn pick<T: Copy>(g: &mut Gen, s: &[T]) -> T {
    *g.choose(s).unwrap()
}

fn anchor_component(g: &mut Gen) -> i64 {
    let m = pick(g, &[8i64, 128, 2048, 4096, 1 << 20]);
    let k = pick(g, &[-2i64, -1, 0, 1, 2]);
    match pick(g, &[0u8, 0, 0, 1, 2]) {
        0 => k * m,
        1 => MIN as i64,
        _ => MAX as i64 - 9,
    }
}

fn near(g: &mut Gen, a: [i64; 3]) -> Coord {
    let d = |g: &mut Gen| pick(g, &[-9i64, -3, -2, -1, 0, 1, 2, 3, 8]);
    let f = |v: i64, g: &mut Gen| (v + d(g)).clamp(MIN as i64, MAX as i64) as i32;
    c(f(a[0], g), f(a[1], g), f(a[2], g))
}

impl Arbitrary for Recipe {
    fn arbitrary(g: &mut Gen) -> Self {
        let anchors: Vec<[i64; 3]> = (0..2)
            .map(|_| {
                [
                    anchor_component(g),
                    anchor_component(g),
                    anchor_component(g),
                ]
            })
            .collect();
        let n = usize::arbitrary(g) % 40;
        let steps = (0..n)
            .map(|_| {
                let a = pick(g, &anchors);
                let p = near(g, a);
                let v = pick(g, &VALUES);
                let on = bool::arbitrary(g);
                if u8::arbitrary(g) % 4 == 0 {
                    let e = |g: &mut Gen, v: i32| v.saturating_add(pick(g, &[0, 1, 3, 7, 9]));
                    let q = c(e(g, p.x), e(g, p.y), e(g, p.z));
                    Step::Fill(bx(p, q), v, on)
                } else {
                    Step::Set(p, v, on)
                }
            })
            .collect();
        Recipe {
            background: pick(g, &VALUES),
            steps,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let bg = self.background;
        Box::new(self.steps.shrink().map(move |steps| Recipe {
            background: bg,
            steps,
        }))
    }
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        Step::Set(near(g, [0, 0, 0]), pick(g, &VALUES), bool::arbitrary(g))
    }
}

impl Recipe {
    fn build<const L2: u32, const L1: u32, const L0: u32>(&self) -> Tree<f32, L2, L1, L0> {
        let mut t = Tree::with_background(self.background);
        for s in &self.steps {
            match *s {
                Step::Set(p, v, true) => t.set_value(p, v),
                Step::Set(p, v, false) => t.set_value_off(p, v),
                Step::Fill(b, v, on) => t.fill(&b, v, on),
            }
        }
        t
    }

    /// Every coordinate the recipe touched, and their neighbours.
    fn coords(&self) -> Vec<Coord> {
        let mut out = Vec::new();
        for s in &self.steps {
            let b = match *s {
                Step::Set(p, ..) => bx(p, p),
                Step::Fill(b, ..) => b,
            };
            let lo = b.min().to_array().map(|v| v.saturating_sub(1));
            let hi = b.max().to_array().map(|v| v.saturating_add(1));
            out.extend(box_coords(&bx(Coord::from(lo), Coord::from(hi))));
        }
        out
    }
}

fn same_probe(a: (f32, bool), b: (f32, bool)) -> bool {
    f32::same(a.0, b.0) && a.1 == b.1
}

fn prune_zero_preserves_probes<const L2: u32, const L1: u32, const L0: u32>(
    r: Recipe,
) -> Result<(), String> {
    let mut t = r.build::<L2, L1, L0>();
    let coords = r.coords();
    let before: Vec<_> = coords.iter().map(|&p| t.probe_value(p)).collect();
    let (count, bbox, active) = (t.active_voxel_count(), t.eval_active_bbox(), active_set(&t));
    t.prune(0.0);
    t.validate().map_err(|e| e.to_string())?;
    for (&p, &b) in coords.iter().zip(&before) {
        let a = t.probe_value(p);
        if !same_probe(a, b) {
            return Err(format!("at {p}: before {b:?}, after {a:?}"));
        }
    }
    if t.active_voxel_count() != count || t.eval_active_bbox() != bbox {
        return Err("counts or bbox changed".into());
    }
    if active_set(&t) != active {
        return Err("active set changed".into());
    }
    // A second prune(0) changes nothing at all (the tree is already pruned).
    let leaves = t.leaf_count();
    t.prune(0.0);
    if t.leaf_count() != leaves {
        return Err("prune(0) is not idempotent".into());
    }
    Ok(())
}

fn fill_then_probe_round_trips<const L2: u32, const L1: u32, const L0: u32>(
    r: Recipe,
    fill: Step,
    dense: bool,
) -> Result<(), String> {
    let Step::Fill(b, v, on) = fill else {
        return Ok(());
    };
    let mut t = r.build::<L2, L1, L0>();
    let lo = b.min().to_array().map(|v| v.saturating_sub(1));
    let hi = b.max().to_array().map(|v| v.saturating_add(1));
    let ring = bx(Coord::from(lo), Coord::from(hi));
    let outside: Vec<_> = box_coords(&ring)
        .filter(|&p| !b.contains(p))
        .map(|p| (p, t.probe_value(p)))
        .collect();
    if dense {
        t.dense_fill(&b, v, on);
    } else {
        t.fill(&b, v, on);
    }
    t.validate().map_err(|e| e.to_string())?;
    for p in box_coords(&b) {
        if !same_probe(t.probe_value(p), (v, on)) {
            return Err(format!("inside at {p}: {:?}", t.probe_value(p)));
        }
    }
    for (p, want) in outside {
        if !same_probe(t.probe_value(p), want) {
            return Err(format!(
                "outside at {p}: {:?} != {want:?}",
                t.probe_value(p)
            ));
        }
    }
    Ok(())
}

/// Fill steps for [`fill_then_probe_round_trips`]: boxes near boundaries, some of them
/// aligned leaf blocks.
#[derive(Clone, Debug)]
struct FillStep(Step, bool);

impl Arbitrary for FillStep {
    fn arbitrary(g: &mut Gen) -> Self {
        let a = [
            anchor_component(g),
            anchor_component(g),
            anchor_component(g),
        ];
        let p = near(g, a);
        let p = if bool::arbitrary(g) {
            origin_of(p, 3)
        } else {
            p
        };
        let e = |g: &mut Gen, v: i32| v.saturating_add(pick(g, &[0, 1, 6, 7, 8, 15, 20]));
        let q = c(e(g, p.x), e(g, p.y), e(g, p.z));
        FillStep(
            Step::Fill(bx(p, q), pick(g, &VALUES), bool::arbitrary(g)),
            bool::arbitrary(g),
        )
    }
}

fn active_coords<const L2: u32, const L1: u32, const L0: u32>(
    t: &Tree<f32, L2, L1, L0>,
) -> HashSet<Coord> {
    active_set(t).into_keys().collect()
}

fn topology_laws<const L2: u32, const L1: u32, const L0: u32>(
    a: Recipe,
    b: Recipe,
) -> Result<(), String> {
    let (ta, tb) = (a.build::<L2, L1, L0>(), b.build::<L2, L1, L0>());
    let (sa, sb) = (active_coords(&ta), active_coords(&tb));
    let run = |x: &Tree<f32, L2, L1, L0>, y: &Tree<f32, L2, L1, L0>, op: u8| {
        let mut x = x.clone();
        match op {
            0 => x.topology_union(y),
            1 => x.topology_intersection(y),
            2 => x.topology_difference(y),
            _ => x.merge(y.clone()),
        }
        x.validate().map_err(|e| e.to_string())?;
        Ok::<_, String>(active_coords(&x))
    };
    let union: HashSet<Coord> = sa.union(&sb).copied().collect();
    let inter: HashSet<Coord> = sa.intersection(&sb).copied().collect();
    let diff: HashSet<Coord> = sa.difference(&sb).copied().collect();
    if run(&ta, &tb, 0)? != union || run(&tb, &ta, 0)? != union {
        return Err("topology_union is not the union of the active sets".into());
    }
    if run(&ta, &tb, 1)? != inter || run(&tb, &ta, 1)? != inter {
        return Err("topology_intersection is not the intersection".into());
    }
    if run(&ta, &tb, 2)? != diff {
        return Err("topology_difference is not the set difference".into());
    }
    if run(&ta, &tb, 3)? != union {
        return Err("merge does not activate the union".into());
    }
    // The union keeps the values of the tree it is applied to.
    let mut u = ta.clone();
    u.topology_union(&tb);
    for p in a.coords().into_iter().chain(b.coords()) {
        if !f32::same(u.get_value(p), ta.get_value(p)) {
            return Err(format!("topology_union changed the value at {p}"));
        }
    }
    Ok(())
}

fn comp_sum_commutes<const L2: u32, const L1: u32, const L0: u32>(
    a: Recipe,
    b: Recipe,
) -> Result<(), String> {
    let (ta, tb) = (a.build::<L2, L1, L0>(), b.build::<L2, L1, L0>());
    let mut ab = ta.clone();
    ab.comp_sum(&tb);
    let mut ba = tb.clone();
    ba.comp_sum(&ta);
    if !f32::same(ab.background(), ba.background()) {
        return Err("backgrounds differ".into());
    }
    for p in a.coords().into_iter().chain(b.coords()) {
        if !same_probe(ab.probe_value(p), ba.probe_value(p)) {
            return Err(format!(
                "at {p}: a+b {:?}, b+a {:?}",
                ab.probe_value(p),
                ba.probe_value(p)
            ));
        }
    }
    Ok(())
}

fn laws(n: u64) -> QuickCheck {
    QuickCheck::new().tests(n).max_tests(n).rng(Gen::new(40))
}

type R1 = fn(Recipe) -> Result<(), String>;
type R2 = fn(Recipe, Recipe) -> Result<(), String>;
type RF = fn(Recipe, FillStep) -> Result<(), String>;

#[test]
fn law_prune_zero_preserves_probes() {
    laws(200).quickcheck(prune_zero_preserves_probes::<5, 4, 3> as R1);
    laws(200).quickcheck(prune_zero_preserves_probes::<4, 4, 3> as R1);
}

#[test]
fn law_fill_then_probe_round_trips() {
    fn p543(r: Recipe, f: FillStep) -> Result<(), String> {
        fill_then_probe_round_trips::<5, 4, 3>(r, f.0, f.1)
    }
    fn p443(r: Recipe, f: FillStep) -> Result<(), String> {
        fill_then_probe_round_trips::<4, 4, 3>(r, f.0, f.1)
    }
    laws(200).quickcheck(p543 as RF);
    laws(200).quickcheck(p443 as RF);
}

#[test]
fn law_topology_ops_on_active_sets() {
    laws(150).quickcheck(topology_laws::<5, 4, 3> as R2);
    laws(150).quickcheck(topology_laws::<4, 4, 3> as R2);
}

#[test]
fn law_comp_sum_commutes() {
    laws(150).quickcheck(comp_sum_commutes::<5, 4, 3> as R2);
    laws(150).quickcheck(comp_sum_commutes::<4, 4, 3> as R2);
}
