//! Regression tests for what the cargo-fuzz targets (`fuzz/`, see
//! `docs/reliability.md`) found: each test replays a minimised crashing input as
//! plain API calls, against the tree and, where the finding was in the oracle, the
//! model of `support/model.rs`.

#[path = "support/model.rs"]
mod model;

use model::Model;
use sparsevdb_tree::{Coord, CoordBBox, Tree};

fn c(x: i32, y: i32, z: i32) -> Coord {
    Coord::new(x, y, z)
}

/// `ops_config2`, crash-ffb04a8d (minimised to 4 operations), a model bug: after a
/// clip, a region hidden by a later region (the lower-node fill on top of the
/// upper-node fill, both cut down to one voxel) made `Model::is_background_only`
/// report a value the model itself never reads, while the tree — correctly — was
/// empty. Fixed in the model: a region inside a later one is hidden.
#[test]
fn clip_leaves_nested_block_fills_hidden_config2() {
    let mut t = Tree::<f32, 4, 4, 3>::with_background(0.0);
    let mut m = Model::for_config(0.0f32, 4, 4, 3);
    t.set_value(c(6, -1, 6), 2.0);
    m.set_value(c(6, -1, 6), 2.0);
    // The whole upper-node block holding (11, 4, 11): a root tile of 3.0, inactive.
    t.fill(&CoordBBox::new(c(0, 0, 0), c(2047, 2047, 2047)), 3.0, false);
    m.fill_inactive_block(2, c(11, 4, 11), 3.0);
    // The whole lower-node block holding (9, 2, 8), background value: densifies the
    // root tile into an upper node with one lower tile of 0.0.
    t.fill(&CoordBBox::new(c(0, 0, 0), c(127, 127, 127)), 0.0, false);
    m.fill_inactive_block(1, c(9, 2, 8), 0.0);
    assert_eq!(t.probe_value(c(4, 4, 0)), (0.0, false));
    assert_eq!(t.probe_value(c(500, 4, 0)), (3.0, false));
    let clip = CoordBBox::new(c(4, 4, 0), c(4, 4, 0));
    t.clip(&clip);
    m.clip(&clip);
    t.validate().unwrap();
    for p in [c(4, 4, 0), c(6, -1, 6), c(500, 4, 0), c(5, 4, 0)] {
        assert_eq!(t.probe_value(p), m.probe(p), "at {p}");
    }
    assert!(t.is_empty(), "everything left is the background");
    assert!(m.is_background_only(), "the model agrees");
    assert_eq!(t.active_voxel_count(), 0);
}

/// `ops_config2`, crash-0e2d1b24 (minimised to 3 operations), a model bug of the same
/// kind: a region cut down by a clip to one voxel that an explicit voxel (`-0.0`,
/// which reads as the background `0.0`) hides. Fixed in the model: a region whose
/// every voxel is explicit is hidden.
#[test]
fn clip_leaves_block_fill_hidden_by_a_voxel_config2() {
    let mut t = Tree::<f32, 4, 4, 3>::with_background(0.0);
    let mut m = Model::for_config(0.0f32, 4, 4, 3);
    t.fill(
        &CoordBBox::new(c(-2048, -2048, -2048), c(-1, -1, -1)),
        -1.0,
        false,
    );
    m.fill_inactive_block(2, c(-1, -1, -1), -1.0);
    t.set_value_off(c(-1, -1, -1), -0.0);
    m.set_value_off(c(-1, -1, -1), -0.0);
    let clip = CoordBBox::new(c(-1, -1, -1), c(-1, -1, -1));
    t.clip(&clip);
    m.clip(&clip);
    t.validate().unwrap();
    for p in [c(-1, -1, -1), c(-2, -1, -1), c(-2048, -2048, -2048)] {
        let (got, want) = (t.probe_value(p), m.probe(p));
        assert!(
            got.0 == want.0 && got.1 == want.1,
            "at {p}: {got:?} vs {want:?}"
        );
    }
    assert!(
        t.is_empty(),
        "-0.0 inactive is the background 0.0 under clip's prune"
    );
    assert!(m.is_background_only(), "the model agrees");
}

/// `ops_config2`, crash-16ebf392 (minimised to 8 operations), the same model bug once
/// more: clipped pieces of block fills hidden by a mix of later regions and voxels.
/// Fixed in the model: a small region counts as hidden when it reads the background
/// everywhere.
#[test]
fn clipped_block_fills_hidden_by_regions_and_voxels_config2() {
    let mut t = Tree::<f32, 4, 4, 3>::with_background(-3.0);
    let mut m = Model::for_config(-3.0f32, 4, 4, 3);
    let x = 16_775_936;
    t.set_value(c(-1, -1, -1), 1.0);
    m.set_value(c(-1, -1, -1), 1.0);
    t.set_value(c(x, -256, -1), -1.0);
    m.set_value(c(x, -256, -1), -1.0);
    // The whole upper-node block (2048³ in 4-4-3) holding (x - 1, -257, -2).
    let o = model::block_origin(c(x - 1, -257, -2), 11);
    t.fill(&model::block_box(o, 11), -1.0, false);
    m.fill_inactive_block(2, c(x - 1, -257, -2), -1.0);
    let clip = CoordBBox::new(c(x + 8, -261, -6), c(x + 9, -256, -1));
    t.clip(&clip);
    m.clip(&clip);
    t.set_value(c(x + 7, -257, -1), 0.0);
    m.set_value(c(x + 7, -257, -1), 0.0);
    let nodes = model::NodeSet::of_tree(&t);
    t.prune_inactive();
    m.prune_inactive(&nodes);
    t.fill(&CoordBBox::new(c(0, 0, -128), c(127, 127, -1)), -3.0, false);
    m.fill_inactive_block(1, c(6, 0, -1), -3.0);
    let clip = CoordBBox::new(c(x + 8, -257, -2), c(x + 8, -256, -1));
    t.clip(&clip);
    m.clip(&clip);
    t.validate().unwrap();
    for p in [c(x + 8, -257, -2), c(x + 8, -256, -1), c(x + 7, -257, -1)] {
        assert_eq!(t.probe_value(p), m.probe(p), "at {p}");
    }
    assert!(t.is_empty());
    assert!(m.is_background_only(), "the model agrees");
}
