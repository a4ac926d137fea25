//! Value and topology combination (`comp_*`, `combine`, `combine_extended`,
//! `comp_replace`, `topology_*`, `merge`): hand-checked cases against OpenVDB 10.0.1's
//! rules (tiles vs children at every level, regions only one tree covers, active and
//! inactive mixes, different backgrounds), then pointwise properties on random trees of
//! a second configuration.
//!
//! Every case checks that the tree stays valid and that the borrowed `other` tree is
//! left unchanged.

// Not under Miri: these suites' thousands of tree-wide walks (every slot of every
// internal node) take far longer interpreted than even a long Miri run allows. Under
// Miri the unit tests (among them those of the mutable accessor's cache, the crate's
// only `unsafe`), `fuzz_regressions.rs` and `model_props.rs` (one short sequence per
// property) exercise the same code.
#![cfg(not(miri))]

use sparsevdb_tree::{Coord, CoordBBox, DenseTree, Tree, Value};

fn c(x: i32, y: i32, z: i32) -> Coord {
    Coord::new(x, y, z)
}

/// The cube of side `dim` at `min`.
fn cube(min: Coord, dim: u32) -> CoordBBox {
    CoordBBox::create_cube(min, dim)
}

/// A whole root region (4096³) of the 5-4-3 tree.
fn root_region(x: i32) -> CoordBBox {
    cube(c(x, 0, 0), 4096)
}

/// An upper-internal tile region (128³).
fn upper_tile(x: i32) -> CoordBBox {
    cube(c(x, 0, 0), 128)
}

/// A lower-internal tile region (8³).
fn lower_tile(x: i32) -> CoordBBox {
    cube(c(x, 0, 0), 8)
}

/// Every value of `t` (tiles and voxels, in order) and its background, NaN-safe.
fn snapshot<T: Value>(t: &Tree<T>) -> String {
    format!(
        "{:?} {:?}",
        t.background(),
        t.iter_all().collect::<Vec<_>>()
    )
}

/// Runs `op(a, b)` and checks that `b` is unchanged and `a` valid; returns `a`.
fn apply<T: Value>(a: &Tree<T>, b: &Tree<T>, op: impl FnOnce(&mut Tree<T>, &Tree<T>)) -> Tree<T> {
    let b_before = snapshot(b);
    let mut a = a.clone();
    op(&mut a, b);
    a.validate().expect("result is a valid tree");
    assert_eq!(snapshot(b), b_before, "the other tree is left intact");
    b.validate().expect("other stays valid");
    a
}

/// `(value, active, value_depth)` at `p`.
fn at<T: Value>(t: &Tree<T>, p: Coord) -> (T, bool, i32) {
    let (v, on) = t.probe_value(p);
    (v, on, t.value_depth(p))
}

// ---- comp_sum / comp_mul / comp_max / comp_min ---------------------------------------

#[test]
fn comp_sum_voxels_with_active_mix_and_backgrounds() {
    let mut a: Tree<f32> = Tree::new(1.0);
    let mut b: Tree<f32> = Tree::new(2.0);
    a.set_value(c(0, 0, 0), 10.0);
    a.set_value_off(c(0, 0, 1), 11.0);
    b.set_value(c(0, 0, 0), 20.0);
    b.set_value_off(c(0, 0, 1), 21.0);
    b.set_value(c(0, 0, 2), 22.0);
    let r = apply(&a, &b, |a, b| a.comp_sum(b));
    assert_eq!(at(&r, c(0, 0, 0)), (30.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 1)), (32.0, false, 3));
    assert_eq!(at(&r, c(0, 0, 2)), (23.0, true, 3), "a's background + b");
    assert_eq!(at(&r, c(0, 0, 3)), (3.0, false, 3), "both backgrounds");
    // Inside the upper node, outside the leaf: an internal tile/tile pair.
    assert_eq!(at(&r, c(0, 0, 100)), (3.0, false, 2));
    assert_eq!(at(&r, c(0, 0, 1000)), (3.0, false, 1));
    // The backgrounds are combined as well.
    assert_eq!(r.background(), 3.0);
    assert_eq!(at(&r, c(90_000, 0, 0)), (3.0, false, -1));
}

#[test]
fn comp_sum_tile_pairs_stay_tiles_at_every_level() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    // Root tiles.
    a.fill(&root_region(4096), 1.0, true);
    b.fill(&root_region(4096), 2.0, false);
    // Upper-internal tiles (inside the upper node at key 0).
    a.fill(&upper_tile(128), 1.0, false);
    b.fill(&upper_tile(128), 2.0, true);
    // Lower-internal tiles.
    a.fill(&lower_tile(8), 1.0, false);
    b.fill(&lower_tile(8), 2.0, false);
    let r = apply(&a, &b, |a, b| a.comp_sum(b));
    assert_eq!(at(&r, c(5000, 0, 0)), (3.0, true, 0));
    assert_eq!(at(&r, c(130, 1, 1)), (3.0, true, 1));
    assert_eq!(at(&r, c(9, 1, 1)), (3.0, false, 2));
    assert_eq!(r.leaf_count(), 0);
}

#[test]
fn comp_tile_against_child_uses_tile_as_a_operand_at_the_root() {
    // Non-commutative operator to see the operand order.
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    // Our root tile against their child: their child is copied and combined.
    a.fill(&root_region(4096), 5.0, true);
    b.set_value(c(5000, 1, 1), 1.0);
    // Our child against their (inactive) root tile.
    a.set_value(c(-4000, 0, 0), 3.0);
    b.fill(&root_region(-4096), 7.0, false);
    let r = apply(&a, &b, |a, b| a.combine(b, |x, y| x - y));
    assert_eq!(at(&r, c(5000, 1, 1)), (4.0, true, 3));
    assert_eq!(at(&r, c(5000, 1, 2)), (5.0, true, 3), "our tile was active");
    assert_eq!(
        at(&r, c(6100, 0, 0)),
        (5.0, true, 1),
        "their upper tile, our value"
    );
    assert_eq!(at(&r, c(-4000, 0, 0)), (-4.0, true, 3));
    assert_eq!(at(&r, c(-4000, 0, 1)), (-7.0, false, 3));
    assert_eq!(at(&r, c(-100, 0, 0)), (-7.0, false, 1));
    assert_eq!(r.background(), 0.0);
}

#[test]
fn comp_tile_against_child_inside_internal_nodes() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(10.0);
    // Our active lower tile over their leaf.
    a.fill(&lower_tile(8), 4.0, true);
    b.set_value(c(9, 0, 0), 1.0);
    // Our leaf over their inactive lower tile.
    a.set_value(c(17, 0, 0), 6.0);
    b.fill(&lower_tile(16), 2.0, false);
    // Our inactive upper tile (the background) over their lower node.
    b.set_value_off(c(200, 0, 0), 3.0);
    let r = apply(&a, &b, |a, b| a.combine(b, |x, y| x - y));
    assert_eq!(at(&r, c(9, 0, 0)), (3.0, true, 3));
    assert_eq!(at(&r, c(9, 0, 1)), (-6.0, true, 3));
    assert_eq!(at(&r, c(17, 0, 0)), (4.0, true, 3));
    assert_eq!(at(&r, c(17, 0, 1)), (-2.0, false, 3));
    assert_eq!(at(&r, c(200, 0, 0)), (-3.0, false, 3));
    assert_eq!(at(&r, c(200, 0, 1)), (-10.0, false, 3));
    assert_eq!(at(&r, c(200, 0, 100)), (-10.0, false, 2));
    assert_eq!(r.background(), -10.0);
}

#[test]
fn comp_sum_visits_regions_only_one_tree_covers() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(1.0);
    // Only b: an inactive root tile and a child.
    b.fill(&root_region(0), 4.0, false);
    b.set_value(c(-5000, 0, 0), 2.0);
    // Only a: a child.
    a.set_value(c(8192, 0, 0), 2.0);
    let r = apply(&a, &b, |a, b| a.comp_sum(b));
    assert_eq!(at(&r, c(100, 0, 0)), (4.0, false, 0));
    assert_eq!(at(&r, c(-5000, 0, 0)), (2.0, true, 3));
    assert_eq!(at(&r, c(-5000, 0, 1)), (1.0, false, 3));
    assert_eq!(at(&r, c(8192, 0, 0)), (3.0, true, 3));
    assert_eq!(at(&r, c(8192, 0, 1)), (1.0, false, 3));
    assert_eq!(r.background(), 1.0);
    assert_eq!(r.root().entry_count(), 3);
}

#[test]
fn comp_sum_never_prunes_and_keeps_background_tiles() {
    let a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    b.fill(&root_region(0), 0.0, false);
    let r = apply(&a, &b, |a, b| a.comp_sum(b));
    assert_eq!(
        r.root().entry_count(),
        1,
        "the inactive background tile stays"
    );
    assert!(r.is_empty());
    assert_eq!(r.value_depth(c(1, 1, 1)), 0);

    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    a.set_value(c(0, 0, 0), 1.0);
    b.set_value(c(0, 0, 0), -1.0);
    let r = apply(&a, &b, |a, b| a.comp_sum(b));
    assert_eq!(r.leaf_count(), 1, "a leaf of equal values stays a leaf");
    assert_eq!(at(&r, c(0, 0, 0)), (0.0, true, 3));
}

#[test]
fn comp_max_min_mul_follow_std_rules() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(-1.0);
    a.set_value(c(0, 0, 0), 2.0);
    b.set_value(c(0, 0, 0), 4.0);
    b.set_value(c(0, 0, 1), -3.0);
    a.set_value(c(0, 0, 2), f32::NAN);
    b.set_value(c(0, 0, 2), 1.0);
    a.set_value(c(0, 0, 3), 1.0);
    b.set_value(c(0, 0, 3), f32::NAN);

    let r = apply(&a, &b, |a, b| a.comp_max(b));
    assert_eq!(at(&r, c(0, 0, 0)), (4.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 1)), (0.0, true, 3));
    assert!(r.get_value(c(0, 0, 2)).is_nan(), "std::max(NaN, 1) is NaN");
    assert_eq!(r.get_value(c(0, 0, 3)), 1.0, "std::max(1, NaN) is 1");
    assert_eq!(r.background(), 0.0);

    let r = apply(&a, &b, |a, b| a.comp_min(b));
    assert_eq!(at(&r, c(0, 0, 0)), (2.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 1)), (-3.0, true, 3));
    assert!(r.get_value(c(0, 0, 2)).is_nan(), "std::min(NaN, 1) is NaN");
    assert_eq!(r.get_value(c(0, 0, 3)), 1.0, "std::min(1, NaN) is 1");
    assert_eq!(at(&r, c(0, 0, 4)), (-1.0, false, 3));
    assert_eq!(r.background(), -1.0);

    let r = apply(&a, &b, |a, b| a.comp_mul(b));
    assert_eq!(at(&r, c(0, 0, 0)), (8.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 1)), (-0.0, true, 3));
    assert_eq!(r.background(), -0.0);

    // Integers wrap.
    let mut a: Tree<i32> = Tree::new(i32::MAX);
    let b: Tree<i32> = Tree::new(1);
    a.set_value(c(0, 0, 0), 3);
    let r = apply(&a, &b, |a, b| a.comp_sum(b));
    assert_eq!(r.background(), i32::MIN);
    assert_eq!(r.get_value(c(0, 0, 0)), 4);
}

// ---- combine / combine_extended --------------------------------------------------------

#[test]
fn combine_calls_f_once_per_tile_pair_voxel_and_background() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    a.set_value(c(0, 0, 0), 1.0);
    b.set_value(c(0, 0, 0), 2.0);
    let mut calls = Vec::new();
    let r = apply(&a, &b, |a, b| {
        a.combine(b, |x, y| {
            calls.push((x, y));
            x * 10.0 + y
        })
    });
    // One leaf pair — both packed: once for the 511 voxels inactive in both, once for
    // the active one — the other 4095 lower slots, the other 32767 upper slots, and
    // the backgrounds; depth first in slot order.
    assert_eq!(calls.len(), 2 + 4095 + 32767 + 1);
    assert_eq!(calls[0], (0.0, 0.0));
    assert_eq!(calls[1], (1.0, 2.0));
    assert_eq!(calls[2], (0.0, 0.0));
    assert_eq!(at(&r, c(0, 0, 0)), (12.0, true, 3));
    assert_eq!(r.background(), 0.0);

    // Dense leaves: OpenVDB's count, `f` once per voxel of the leaf pair.
    let mut a = DenseTree::<f32>::with_background(0.0);
    let mut b = DenseTree::<f32>::with_background(0.0);
    a.set_value(c(0, 0, 0), 1.0);
    b.set_value(c(0, 0, 0), 2.0);
    let mut calls = Vec::new();
    a.combine(&b, |x, y| {
        calls.push((x, y));
        x * 10.0 + y
    });
    assert_eq!(calls.len(), 512 + 4095 + 32767 + 1);
    assert_eq!(calls[0], (1.0, 2.0));
    assert_eq!(calls[1], (0.0, 0.0));
    assert_eq!(a.probe_value(c(0, 0, 0)), (12.0, true));
}

#[test]
fn combine_extended_controls_states_and_sees_openvdb_background_flags() {
    let mut a: Tree<f32> = Tree::new(1.0);
    let mut b: Tree<f32> = Tree::new(2.0);
    a.set_value(c(0, 0, 0), 3.0);
    b.set_value(c(0, 0, 0), 4.0);
    b.set_value(c(0, 0, 1), 5.0);
    let op = |x: f32, x_on: bool, y: f32, y_on: bool| {
        let v = x * 100.0 + y * 10.0 + (x_on as u8 * 2 + y_on as u8) as f32;
        (v, x_on && y_on)
    };
    // No root tile pair: the background op sees both flags false.
    let r = apply(&a, &b, |a, b| a.combine_extended(b, op));
    assert_eq!(at(&r, c(0, 0, 0)), (343.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 1)), (151.0, false, 3));
    assert_eq!(r.background(), 120.0);

    // With root tile pairs, the background op sees the flags of the last pair in key
    // order (OpenVDB reuses its CombineArgs): here key (4096, 0, 0), a active, b missing.
    a.fill(&root_region(-4096), 0.0, false);
    a.fill(&root_region(4096), 0.0, true);
    let r = apply(&a, &b, |a, b| a.combine_extended(b, op));
    assert_eq!(at(&r, c(5000, 0, 0)), (22.0, false, 0));
    assert_eq!(r.background(), 122.0);
}

// ---- comp_replace ----------------------------------------------------------------------

#[test]
fn comp_replace_copies_active_tiles_and_voxels() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(9.0);
    a.set_value(c(0, 0, 0), 1.0);
    a.set_value(c(0, 0, 1), 2.0);
    a.fill(&lower_tile(16), 5.0, true);
    a.set_value(c(130, 0, 0), 3.0);
    b.set_value(c(0, 0, 0), 10.0);
    b.set_value_off(c(0, 0, 1), 20.0);
    b.set_value(c(16, 0, 0), 30.0);
    b.fill(&upper_tile(128), 40.0, true);
    b.set_value(c(5000, 0, 0), 50.0);
    b.fill(&lower_tile(24), 60.0, false);
    b.fill(&root_region(-4096), 70.0, true);
    let r = apply(&a, &b, |a, b| a.comp_replace(b));
    assert_eq!(at(&r, c(0, 0, 0)), (10.0, true, 3));
    assert_eq!(
        at(&r, c(0, 0, 1)),
        (2.0, true, 3),
        "b's inactive voxel is ignored"
    );
    assert_eq!(at(&r, c(0, 0, 2)), (0.0, false, 3));
    // Our active tile over their leaf: densified by the union, their voxel copied.
    assert_eq!(at(&r, c(16, 0, 0)), (30.0, true, 3));
    assert_eq!(at(&r, c(16, 0, 1)), (5.0, true, 3));
    // Their active upper tile replaces our lower node.
    assert_eq!(at(&r, c(130, 0, 0)), (40.0, true, 1));
    // A region only they cover: our background, their active voxels.
    assert_eq!(at(&r, c(5000, 0, 0)), (50.0, true, 3));
    assert_eq!(at(&r, c(5000, 0, 1)), (0.0, false, 3));
    // Their inactive tile changes nothing; their active root tile is copied.
    assert_eq!(at(&r, c(24, 0, 0)), (0.0, false, 2));
    assert_eq!(at(&r, c(-1, 0, 0)), (70.0, true, 0));
    assert_eq!(r.background(), 0.0, "backgrounds are not combined");
}

// ---- topology ----------------------------------------------------------------------------

#[test]
fn topology_union_rules() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(5.0);
    // Our inactive lower tile over their leaf.
    a.fill(&lower_tile(0), 3.0, false);
    b.set_value(c(1, 1, 1), 9.0);
    // Our active lower tile over their leaf.
    a.fill(&lower_tile(8), 4.0, true);
    b.set_value_off(c(9, 0, 0), 9.0);
    // Only they have a child there.
    b.set_value(c(5000, 0, 0), 9.0);
    // Their active root tile where we have nothing, and where we have a child.
    b.fill(&root_region(8192), 7.0, true);
    b.fill(&root_region(-4096), 7.0, true);
    a.set_value_off(c(-4000, 0, 0), 2.0);
    // Their active upper tile over our inactive upper tile.
    b.fill(&upper_tile(128), 7.0, true);
    // Their inactive upper tile.
    b.fill(&upper_tile(256), 7.0, false);
    // Active over active: our value stays.
    a.fill(&upper_tile(384), 6.0, true);
    b.fill(&upper_tile(384), 7.0, true);

    let r = apply(&a, &b, |a, b| a.topology_union(b));
    assert_eq!(at(&r, c(1, 1, 1)), (3.0, true, 3));
    assert_eq!(at(&r, c(1, 1, 2)), (3.0, false, 3));
    assert_eq!(at(&r, c(9, 0, 0)), (4.0, true, 3));
    assert_eq!(at(&r, c(9, 0, 1)), (4.0, true, 3));
    assert_eq!(at(&r, c(5000, 0, 0)), (0.0, true, 3));
    assert_eq!(at(&r, c(5000, 0, 1)), (0.0, false, 3));
    assert_eq!(at(&r, c(9000, 0, 0)), (0.0, true, 0));
    assert_eq!(at(&r, c(-4000, 0, 0)), (2.0, true, 3));
    assert_eq!(at(&r, c(-4000, 0, 1)), (0.0, true, 3));
    assert_eq!(at(&r, c(-100, 0, 0)), (0.0, true, 1));
    assert_eq!(at(&r, c(130, 0, 0)), (0.0, true, 1));
    assert_eq!(at(&r, c(260, 0, 0)), (0.0, false, 1));
    assert_eq!(at(&r, c(390, 0, 0)), (6.0, true, 1));
    assert_eq!(r.background(), 0.0);
}

#[test]
fn topology_intersection_rules() {
    let mut a: Tree<f32> = Tree::new(1.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    // Root: our child where they have nothing is deleted.
    a.set_value(c(5000, 0, 0), 2.0);
    // Our lower node over their inactive upper-node tile: an inactive background tile.
    a.set_value(c(0, 0, 0), 3.0);
    b.set_value(c(200, 0, 0), 4.0);
    // Our lower node over their active tile: kept.
    a.set_value(c(300, 0, 0), 5.0);
    b.fill(&upper_tile(256), 9.0, true);
    // Our active tile over their lower node: their topology, our value.
    a.fill(&upper_tile(384), 6.0, true);
    b.set_value(c(400, 0, 0), 7.0);
    // Our active tile over their inactive tile, over their active tile.
    a.fill(&upper_tile(512), 6.0, true);
    a.fill(&upper_tile(640), 6.0, true);
    b.fill(&upper_tile(640), 0.0, true);
    // Our inactive tile: untouched.
    a.fill(&upper_tile(768), 8.0, false);
    // Leaves intersect their masks.
    a.set_value(c(1000, 0, 0), 2.0);
    a.set_value(c(1000, 0, 1), 3.0);
    b.set_value(c(1000, 0, 0), 0.0);
    // Root tiles: active over nothing, inactive over nothing, active over a child.
    a.fill(&root_region(8192), 2.0, true);
    a.fill(&root_region(12288), 2.0, false);
    a.fill(&root_region(-4096), 3.0, true);
    b.set_value(c(-4000, 0, 0), 1.0);
    // Our child over their active root tile: kept.
    a.set_value(c(-8000, 0, 0), 4.0);
    b.fill(&root_region(-8192), 1.0, true);

    let r = apply(&a, &b, |a, b| a.topology_intersection(b));
    assert_eq!(at(&r, c(5000, 0, 0)), (1.0, false, -1));
    assert_eq!(at(&r, c(0, 0, 0)), (1.0, false, 1));
    assert_eq!(at(&r, c(200, 0, 0)), (1.0, false, 1));
    assert_eq!(at(&r, c(300, 0, 0)), (5.0, true, 3));
    assert_eq!(at(&r, c(300, 0, 1)), (1.0, false, 3));
    assert_eq!(at(&r, c(400, 0, 0)), (6.0, true, 3));
    assert_eq!(at(&r, c(400, 0, 1)), (6.0, false, 3));
    assert_eq!(at(&r, c(500, 0, 0)), (6.0, false, 2));
    assert_eq!(at(&r, c(520, 0, 0)), (6.0, false, 1));
    assert_eq!(at(&r, c(650, 0, 0)), (6.0, true, 1));
    assert_eq!(at(&r, c(770, 0, 0)), (8.0, false, 1));
    assert_eq!(at(&r, c(1000, 0, 0)), (2.0, true, 3));
    assert_eq!(at(&r, c(1000, 0, 1)), (3.0, false, 3));
    assert_eq!(at(&r, c(9000, 0, 0)), (2.0, false, 0));
    assert_eq!(at(&r, c(13000, 0, 0)), (2.0, false, 0));
    assert_eq!(at(&r, c(-4000, 0, 0)), (3.0, true, 3));
    assert_eq!(at(&r, c(-4000, 0, 1)), (3.0, false, 3));
    assert_eq!(at(&r, c(-100, 0, 0)), (3.0, false, 1));
    assert_eq!(at(&r, c(-8000, 0, 0)), (4.0, true, 3));
    assert_eq!(r.background(), 1.0);
}

#[test]
fn topology_difference_rules() {
    let mut a: Tree<f32> = Tree::new(1.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    // Root: our child under their active root tile is deleted.
    a.set_value(c(5000, 0, 0), 2.0);
    b.fill(&root_region(4096), 1.0, true);
    // Root: active tile over active tile becomes inactive.
    a.fill(&root_region(8192), 3.0, true);
    b.fill(&root_region(8192), 0.0, true);
    // Root: our active tile over their child is densified.
    a.fill(&root_region(-4096), 3.0, true);
    b.set_value(c(-4000, 0, 0), 9.0);
    // Root: our inactive tile over their child: nothing.
    a.fill(&root_region(-8192), 3.0, false);
    b.set_value(c(-8000, 0, 0), 1.0);
    // Root: our child where they have nothing: nothing.
    a.set_value(c(-13000, 0, 0), 2.0);
    // Internal: our lower node under their active tile: an inactive background tile.
    a.set_value(c(0, 0, 0), 5.0);
    b.fill(&upper_tile(0), 1.0, true);
    // Internal: our lower node over their inactive tile: kept.
    a.set_value(c(200, 0, 0), 5.0);
    // Internal: our active tile over their lower node.
    a.fill(&upper_tile(256), 6.0, true);
    b.set_value(c(300, 0, 0), 1.0);
    // Internal: active over active.
    a.fill(&upper_tile(384), 6.0, true);
    b.fill(&upper_tile(384), 0.0, true);
    // Leaves subtract their mask.
    a.set_value(c(1000, 0, 0), 2.0);
    a.set_value(c(1000, 0, 1), 3.0);
    b.set_value(c(1000, 0, 0), 0.0);
    b.set_value_off(c(1000, 0, 1), 0.0);

    let r = apply(&a, &b, |a, b| a.topology_difference(b));
    assert_eq!(at(&r, c(5000, 0, 0)), (1.0, false, -1));
    assert_eq!(at(&r, c(9000, 0, 0)), (3.0, false, 0));
    assert_eq!(at(&r, c(-4000, 0, 0)), (3.0, false, 3));
    assert_eq!(at(&r, c(-4000, 0, 1)), (3.0, true, 3));
    assert_eq!(at(&r, c(-100, 0, 0)), (3.0, true, 1));
    assert_eq!(at(&r, c(-8000, 0, 0)), (3.0, false, 0));
    assert_eq!(at(&r, c(-13000, 0, 0)), (2.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 0)), (1.0, false, 1));
    assert_eq!(at(&r, c(200, 0, 0)), (5.0, true, 3));
    assert_eq!(at(&r, c(300, 0, 0)), (6.0, false, 3));
    assert_eq!(at(&r, c(300, 0, 1)), (6.0, true, 3));
    assert_eq!(at(&r, c(360, 0, 0)), (6.0, true, 2));
    assert_eq!(at(&r, c(390, 0, 0)), (6.0, false, 1));
    assert_eq!(at(&r, c(1000, 0, 0)), (2.0, false, 3));
    assert_eq!(at(&r, c(1000, 0, 1)), (3.0, true, 3));
    assert_eq!(r.background(), 1.0);
}

// ---- merge -------------------------------------------------------------------------------

#[test]
fn merge_active_states_rules() {
    let mut a: Tree<f32> = Tree::new(0.0);
    let mut b: Tree<f32> = Tree::new(0.0);
    // Root: their child where we have nothing, over our inactive tile, over our active
    // tile.
    b.set_value(c(5000, 0, 0), 1.0);
    a.fill(&root_region(8192), 2.0, false);
    b.set_value(c(9000, 0, 0), 3.0);
    a.fill(&root_region(-4096), 2.0, true);
    b.set_value(c(-4000, 0, 0), 3.0);
    // Root: their active tile over our child, where we have nothing; an inactive one.
    a.set_value(c(-8000, 0, 0), 4.0);
    b.fill(&root_region(-8192), 5.0, true);
    b.fill(&root_region(12288), 6.0, true);
    b.fill(&root_region(16384), 6.0, false);
    // Leaves: their active voxels where ours are inactive.
    a.set_value(c(0, 0, 0), 1.0);
    b.set_value(c(0, 0, 1), 2.0);
    a.set_value(c(0, 0, 2), 7.0);
    b.set_value(c(0, 0, 2), 8.0);
    // Internal: their lower node into our inactive tile.
    b.set_value(c(200, 0, 0), 3.0);
    // Internal: their active tile over our lower node (which has active voxels).
    a.set_value(c(300, 0, 0), 4.0);
    b.fill(&upper_tile(256), 5.0, true);
    // Internal: their lower node over our active tile.
    a.fill(&upper_tile(384), 6.0, true);
    b.set_value(c(400, 0, 0), 7.0);

    let mut r = a.clone();
    r.merge(b);
    r.validate().unwrap();
    assert_eq!(at(&r, c(5000, 0, 0)), (1.0, true, 3));
    assert_eq!(at(&r, c(9000, 0, 0)), (3.0, true, 3));
    assert_eq!(at(&r, c(9000, 0, 1)), (0.0, false, 3));
    assert_eq!(at(&r, c(-4000, 0, 0)), (2.0, true, 0));
    assert_eq!(at(&r, c(-8000, 0, 0)), (5.0, true, 0));
    assert_eq!(at(&r, c(13000, 0, 0)), (6.0, true, 0));
    assert_eq!(at(&r, c(17000, 0, 0)), (0.0, false, -1));
    assert_eq!(at(&r, c(0, 0, 0)), (1.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 1)), (2.0, true, 3));
    assert_eq!(at(&r, c(0, 0, 2)), (7.0, true, 3));
    assert_eq!(at(&r, c(200, 0, 0)), (3.0, true, 3));
    assert_eq!(at(&r, c(300, 0, 0)), (5.0, true, 1));
    assert_eq!(at(&r, c(400, 0, 0)), (6.0, true, 1));
    assert_eq!(r.background(), 0.0);
}

#[test]
fn merge_with_different_backgrounds_resets_like_openvdb() {
    // Checked against OpenVDB 10.0.1: a node moved at the root is reset from their
    // background to ours; a node moved below the root from ours to theirs.
    let mut a: Tree<f32> = Tree::new(1.0);
    let mut b: Tree<f32> = Tree::new(2.0);
    a.set_value(c(0, 0, 0), 3.0);
    b.set_value(c(200, 0, 0), 4.0);
    b.set_value_off(c(200, 0, 1), 1.0);
    b.set_value_off(c(200, 0, 2), -1.0);
    b.set_value(c(5000, 0, 0), 9.0);
    b.set_value_off(c(5000, 0, 1), -2.0);
    a.merge(b);
    a.validate().unwrap();
    assert_eq!(at(&a, c(200, 0, 0)), (4.0, true, 3));
    assert_eq!(at(&a, c(200, 0, 1)), (2.0, false, 3));
    assert_eq!(at(&a, c(200, 0, 2)), (-2.0, false, 3));
    assert_eq!(at(&a, c(200, 0, 3)), (2.0, false, 3));
    assert_eq!(at(&a, c(5000, 0, 0)), (9.0, true, 3));
    assert_eq!(at(&a, c(5000, 0, 1)), (-1.0, false, 3));
    assert_eq!(at(&a, c(5000, 0, 2)), (1.0, false, 3));
    assert_eq!(at(&a, c(5000, 0, 100)), (1.0, false, 2));
    assert_eq!(at(&a, c(5000, 0, 1000)), (1.0, false, 1));
    assert_eq!(a.background(), 1.0);
}

// ---- pointwise properties on a second configuration ----------------------------------

/// A small configuration: leaves 2³, lower nodes 8³, upper nodes 32³.
type Small = Tree<i32, 2, 2, 1>;

/// A value operator and the tree operation that should apply it pointwise.
type ValueOp = fn(i32, i32) -> i32;
type TreeOp = fn(&mut Small, &Small);

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u64) as i32
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

const SPAN: i32 = 36;

fn random_tree(rng: &mut Rng) -> Small {
    let mut t = Small::with_background(rng.range(-2, 2));
    for _ in 0..rng.range(4, 14) {
        let v = rng.range(-3, 3);
        let active = rng.coin();
        match rng.range(0, 4) {
            // Whole tiles at each level (root 32, upper 8, lower 2) and a ragged box.
            k @ 0..=2 => {
                let side = [32, 8, 2][k as usize];
                let o = |r: &mut Rng| r.range(-SPAN / side - 1, SPAN / side) * side;
                let min = Coord::new(o(rng), o(rng), o(rng));
                t.fill(&CoordBBox::create_cube(min, side as u32), v, active);
            }
            3 => {
                let min = Coord::new(
                    rng.range(-SPAN, SPAN),
                    rng.range(-SPAN, SPAN),
                    rng.range(-SPAN, SPAN),
                );
                let max = Coord::new(
                    min.x + rng.range(0, 9),
                    min.y + rng.range(0, 9),
                    min.z + rng.range(0, 9),
                );
                t.fill(&CoordBBox::new(min, max), v, active);
            }
            _ => {
                for _ in 0..rng.range(1, 30) {
                    let p = Coord::new(
                        rng.range(-SPAN, SPAN),
                        rng.range(-SPAN, SPAN),
                        rng.range(-SPAN, SPAN),
                    );
                    if rng.coin() {
                        t.set_value(p, v);
                    } else {
                        t.set_value_off(p, v);
                    }
                }
            }
        }
    }
    t
}

/// Checks `check(p, a(p), b(p), r(p))` at every coordinate of the sampled region.
fn for_each_point(
    a: &Small,
    b: &Small,
    r: &Small,
    mut check: impl FnMut(Coord, (i32, bool), (i32, bool), (i32, bool)),
) {
    let (aa, ba, ra) = (a.accessor(), b.accessor(), r.accessor());
    for x in -SPAN - 4..SPAN + 4 {
        for y in -SPAN - 4..SPAN + 4 {
            for z in -SPAN - 4..SPAN + 4 {
                let p = Coord::new(x, y, z);
                check(p, aa.probe_value(p), ba.probe_value(p), ra.probe_value(p));
            }
        }
    }
}

fn small_apply(a: &Small, b: &Small, op: impl FnOnce(&mut Small, &Small)) -> Small {
    let b_before = b.clone();
    let mut r = a.clone();
    op(&mut r, b);
    r.validate().expect("valid");
    assert!(*b == b_before, "other unchanged");
    r
}

#[test]
fn pointwise_properties_on_random_trees() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..6 {
        let a = random_tree(&mut rng);
        let b = random_tree(&mut rng);
        let (bga, bgb) = (a.background(), b.background());

        let ops: [(&str, ValueOp, TreeOp); 4] = [
            ("sum", |x, y| x.wrapping_add(y), |a, b| a.comp_sum(b)),
            ("mul", |x, y| x.wrapping_mul(y), |a, b| a.comp_mul(b)),
            ("max", |x, y| x.max(y), |a, b| a.comp_max(b)),
            ("min", |x, y| x.min(y), |a, b| a.comp_min(b)),
        ];
        for (name, f, op) in ops {
            let r = small_apply(&a, &b, op);
            assert_eq!(r.background(), f(bga, bgb), "{name} background");
            for_each_point(&a, &b, &r, |p, (av, ao), (bv, bo), got| {
                assert_eq!(got, (f(av, bv), ao || bo), "{name} at {p}");
            });
        }

        let r = small_apply(&a, &b, |a, b| a.combine(b, |x, y| 3 * x - y));
        assert_eq!(r.background(), 3 * bga - bgb);
        for_each_point(&a, &b, &r, |p, (av, ao), (bv, bo), got| {
            assert_eq!(got, (3 * av - bv, ao || bo), "combine at {p}");
        });

        let r = small_apply(&a, &b, |a, b| a.comp_replace(b));
        assert_eq!(r.background(), bga);
        for_each_point(&a, &b, &r, |p, (av, ao), (bv, bo), got| {
            let want = if bo { (bv, true) } else { (av, ao) };
            assert_eq!(got, want, "replace at {p}");
        });

        let r = small_apply(&a, &b, |a, b| a.topology_union(b));
        for_each_point(&a, &b, &r, |p, (av, ao), (_, bo), got| {
            assert_eq!(got, (av, ao || bo), "union at {p}");
        });

        let r = small_apply(&a, &b, |a, b| a.topology_intersection(b));
        for_each_point(&a, &b, &r, |p, (av, ao), (_, bo), (rv, ro)| {
            assert_eq!(ro, ao && bo, "intersection state at {p}");
            assert!(rv == av || (!ro && rv == bga), "intersection value at {p}");
        });

        let r = small_apply(&a, &b, |a, b| a.topology_difference(b));
        for_each_point(&a, &b, &r, |p, (av, ao), (_, bo), (rv, ro)| {
            assert_eq!(ro, ao && !bo, "difference state at {p}");
            assert!(rv == av || (!ro && rv == bga), "difference value at {p}");
        });

        let mut r = a.clone();
        r.merge(b.clone());
        r.validate().unwrap();
        assert_eq!(r.background(), bga);
        for_each_point(&a, &b, &r, |p, (av, ao), (bv, bo), (rv, ro)| {
            assert_eq!(ro, ao || bo, "merge state at {p}");
            match (ao, bo) {
                (true, false) => assert_eq!(rv, av, "merge keeps ours at {p}"),
                (false, true) => assert_eq!(rv, bv, "merge takes theirs at {p}"),
                // Their active tile replaces our node, active voxels included.
                (true, true) => assert!(rv == av || rv == bv, "merge at {p}"),
                (false, false) => {}
            }
        });
    }
}
