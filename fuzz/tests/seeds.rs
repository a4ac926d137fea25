//! The seed corpora of `fuzz/corpus/<target>/`: handmade scripts (written through
//! `sparsevdb_fuzz::Encoder`), postcard encodings of real trees and small safetensors
//! files.
//!
//! `cargo test --test seeds` checks that every committed seed is what this file makes,
//! that each decodes back to its script, and that each passes its target's checks;
//! `SPARSEVDB_WRITE_SEEDS=1 cargo test --test seeds` (re)writes them.

use std::path::PathBuf;

use arbitrary::{Arbitrary, Unstructured};
use sparsevdb_fuzz::model::CompKind;
use sparsevdb_fuzz::{
    decode_bytes, import_bytes, run_combo_script, run_script, Combo, ComboScript, Encoder, Op,
    Script, Step,
};
use sparsevdb_tree::{Coord, CoordBBox, Tree};

fn c(x: i32, y: i32, z: i32) -> Coord {
    Coord::new(x, y, z)
}

fn bx(lo: Coord, hi: Coord) -> CoordBBox {
    CoordBBox::new(lo, hi)
}

fn cube(o: Coord, side: i32) -> CoordBBox {
    bx(o, c(o.x + side - 1, o.y + side - 1, o.z + side - 1))
}

const MAX: i32 = i32::MAX;
const MIN: i32 = i32::MIN;

fn ops_seeds() -> Vec<(&'static str, Script)> {
    use sparsevdb_fuzz::Point::*;
    use Op::*;
    let boundary_points = [
        c(0, 0, 0),
        c(7, 7, 7),
        c(8, 8, 8),
        c(-1, -1, -1),
        c(-8, -9, -7),
        c(127, 128, -129),
        c(4095, -4096, 4096),
        c(-4097, 2048, 2047),
        c(1 << 20, -(1 << 20) - 1, 1 << 30),
        c(MAX, MIN, 0),
        c(MIN, MIN, MIN),
        c(MAX, MAX, MAX),
    ];
    let mut points = Vec::new();
    for (i, &p) in boundary_points.iter().enumerate() {
        points.push(Point(match i % 5 {
            0 => Set(p, 1.0),
            1 => Off(p, 2.0),
            2 => Only(p, -3.0),
            3 => Active(p, true),
            _ => Add(p, 0.5),
        }));
        points.push(Point(Set(p, 100.0)));
    }
    points.push(PromoteTiny);
    points.push(Prune(0.0));
    points.push(Compact);
    points.push(Voxelize);
    vec![
        (
            "points_at_boundaries",
            Script {
                background: 0.0,
                ops: points,
            },
        ),
        (
            "fill_aligned_then_prune",
            Script {
                background: 0.0,
                ops: vec![
                    Fill(cube(c(0, 0, 0), 8), 1.0, true),
                    Fill(cube(c(8, 0, 0), 16), 1.0, true),
                    Fill(bx(c(-5, -5, -5), c(5, 5, 5)), 2.0, false),
                    Prune(0.0),
                    DenseFill(bx(c(120, 120, 120), c(136, 130, 129)), 3.0, true),
                    Point(Set(c(128, 128, 128), 2.0)),
                    Prune(0.5),
                    Prune(1000.0),
                    Voxelize,
                    Fill(bx(c(3, 3, 3), c(2, 3, 3)), 1.0, true),
                ],
            },
        ),
        (
            "extremes",
            Script {
                background: 0.5,
                ops: vec![
                    Fill(
                        bx(c(MAX - 9, MAX - 9, MAX - 9), c(MAX, MAX, MAX)),
                        2.0,
                        true,
                    ),
                    Fill(
                        bx(c(MIN, MIN, MIN), c(MIN + 20, MIN + 7, MIN + 8)),
                        -1.0,
                        true,
                    ),
                    Point(Set(c(MIN, MAX, MIN), 3.0)),
                    Point(Off(c(MAX, MIN, MAX), 0.5)),
                    Prune(0.0),
                    Clip(bx(c(MAX - 20, MAX - 5, MAX - 20), c(MAX, MAX, MAX))),
                    SetBackground(-1.0),
                    Voxelize,
                ],
            },
        ),
        (
            "prune_inactive",
            Script {
                background: 1.0,
                ops: vec![
                    Point(Off(c(0, 0, 0), 3.0)),
                    Point(Off(c(200, 0, 0), 2.0)),
                    Fill(cube(c(4096, 0, 0), 8), 2.0, false),
                    Point(Set(c(4100, 10, 10), 1.0)),
                    Fill(bx(c(-10, -10, -10), c(-1, -1, -1)), -1.0, false),
                    PruneInactive,
                    PruneInactiveWith(2.0),
                    SetBackground(-1.0),
                    SetBackground(0.0),
                    PruneInactiveWith(0.0),
                ],
            },
        ),
        (
            "accessor_batch",
            Script {
                background: 0.0,
                ops: vec![
                    Accessor(vec![
                        Set(c(7, 0, 0), 1.0),
                        Set(c(8, 0, 0), 2.0),
                        Probe(c(7, 0, 0)),
                        Off(c(127, 0, 0), 3.0),
                        Only(c(128, 0, 0), -1.0),
                        Probe(c(128, 0, 0)),
                        Active(c(-1, 0, 0), true),
                        Add(c(8, 0, 0), 0.5),
                        Probe(c(8, 0, 0)),
                    ]),
                    Fill(cube(c(0, 0, 0), 8), 2.0, true),
                    Accessor(vec![
                        Set(c(1, 1, 1), 2.0),
                        Off(c(2, 2, 2), 2.0),
                        Probe(c(2, 2, 2)),
                        Add(c(3, 3, 3), 0.0),
                    ]),
                ],
            },
        ),
        (
            "block_tiles",
            Script {
                background: 0.0,
                ops: vec![
                    BlockFill(1, c(0, 0, 0), 2.0),
                    Point(Set(c(5, 5, 5), 1.0)),
                    BlockFill(2, c(4096, 0, 0), 1.0),
                    Point(Off(c(4096 + 130, 5, 5), 3.0)),
                    BlockFill(1, c(-1, -1, -1), -1.0),
                    Fill(bx(c(-3, -3, -3), c(3, 3, 3)), 2.0, true),
                    Prune(0.0),
                    PruneInactive,
                    BlockFill(2, c(MAX, MIN, 0), 3.0),
                    SetBackground(2.0),
                    Clip(bx(c(-20, -20, -20), c(4, 4, 4))),
                    BlockFill(1, c(130, 0, 0), 0.0),
                    PruneInactiveWith(-1.0),
                ],
            },
        ),
        (
            "clip_and_clear",
            Script {
                background: 0.0,
                ops: vec![
                    Fill(bx(c(0, 0, 0), c(20, 20, 20)), 1.0, true),
                    Fill(bx(c(120, 0, 0), c(140, 3, 3)), 2.0, false),
                    Clip(bx(c(4, 4, 4), c(10, 10, 10))),
                    Clip(CoordBBox::new(Coord::MIN, Coord::MAX)),
                    Fill(cube(c(-8, -8, -8), 16), 3.0, true),
                    Clip(bx(c(1, 1, 1), c(0, 0, 0))),
                    Point(Set(c(5, 5, 5), 1.0)),
                    Clear,
                    Point(Set(c(5, 5, 5), 1.0)),
                ],
            },
        ),
    ]
}

fn combo_seeds() -> Vec<(&'static str, ComboScript)> {
    use sparsevdb_fuzz::Point::*;
    use Op::*;
    let every = [
        Combo::Comp(CompKind::Sum),
        Combo::Comp(CompKind::Max),
        Combo::Comp(CompKind::Min),
        Combo::Comp(CompKind::Mul),
        Combo::Replace,
        Combo::Combine,
        Combo::Union,
        Combo::Intersection,
        Combo::Difference,
        Combo::Merge,
    ];
    let setup = vec![
        Step::A(Fill(bx(c(0, 0, 0), c(12, 12, 12)), 1.0, true)),
        Step::A(Point(Off(c(20, 0, 0), 2.0))),
        Step::B(Fill(bx(c(6, 6, 6), c(18, 18, 18)), 2.0, true)),
        Step::B(Point(Set(c(-1, -1, -1), 3.0))),
        Step::B(Point(Off(c(4096, 0, 0), -1.0))),
    ];
    let mut each = setup.clone();
    each.extend(every.iter().map(|&k| Step::Combo(k, false)));
    let mut tiles = vec![
        Step::A(Fill(cube(c(0, 0, 0), 16), 1.0, true)),
        Step::A(Fill(cube(c(128, 0, 0), 8), 2.0, false)),
        Step::B(Point(Set(c(3, 3, 3), 2.0))),
        Step::B(Fill(cube(c(8, 0, 0), 8), 3.0, true)),
        Step::B(Point(Set(c(130, 1, 1), -1.0))),
        Step::B(Prune(0.0)),
    ];
    for k in [
        Combo::Union,
        Combo::Intersection,
        Combo::Difference,
        Combo::Merge,
        Combo::Replace,
    ] {
        tiles.push(Step::Combo(k, false));
        tiles.push(Step::A(Fill(cube(c(0, 0, 0), 16), 1.0, true)));
    }
    vec![
        (
            "every_combo",
            ComboScript {
                background_a: 0.0,
                background_b: 0.5,
                steps: each,
            },
        ),
        (
            "tiles_vs_voxels",
            ComboScript {
                background_a: 0.0,
                background_b: 0.0,
                steps: tiles,
            },
        ),
        (
            "self_operand",
            ComboScript {
                background_a: 1.0,
                background_b: -1.0,
                steps: vec![
                    Step::A(Fill(bx(c(-3, -3, -3), c(3, 3, 3)), 2.0, true)),
                    Step::Combo(Combo::Comp(CompKind::Sum), true),
                    Step::Combo(Combo::Combine, true),
                    Step::Combo(Combo::Merge, true),
                    Step::Combo(Combo::Difference, true),
                    Step::Combo(Combo::Comp(CompKind::Mul), false),
                ],
            },
        ),
    ]
}

fn tree_of<const L2: u32, const L1: u32, const L0: u32>(s: &Script) -> Tree<f32, L2, L1, L0> {
    let mut t = Tree::<f32, L2, L1, L0>::with_background(s.background);
    let mut m = sparsevdb_fuzz::model::Model::for_config(s.background, L2, L1, L0);
    let mut rng = sparsevdb_fuzz::Rng::new(0);
    for op in &s.ops {
        sparsevdb_fuzz::apply(&mut t, &mut m, op, &mut rng, &mut Vec::new());
    }
    t
}

fn serde_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "empty".to_string(),
        postcard::to_allocvec(&Tree::<f32>::new(0.0)).unwrap(),
    )];
    for (name, s) in ops_seeds() {
        out.push((
            format!("{name}_543"),
            postcard::to_allocvec(&tree_of::<5, 4, 3>(&s)).unwrap(),
        ));
    }
    let s = &ops_seeds()[1].1;
    out.push((
        "fill_aligned_then_prune_443".into(),
        postcard::to_allocvec(&tree_of::<4, 4, 3>(s)).unwrap(),
    ));
    // An upper-level tile, a root tile and an i32 tree.
    let mut t = Tree::<f32>::new(0.5);
    t.fill(&cube(c(8192, 0, 0), 4096), 1.0, false);
    t.fill(&cube(c(128, 0, 0), 128), 3.0, true);
    t.set_value(c(1, 2, 3), 4.0);
    out.push(("upper_tiles".into(), postcard::to_allocvec(&t).unwrap()));
    let mut t = Tree::<f32>::new(0.0);
    t.fill(&cube(c(-4096, -4096, -4096), 4096), 2.0, true);
    t.prune(0.0);
    out.push(("root_tile".into(), postcard::to_allocvec(&t).unwrap()));
    let mut t = Tree::<i32>::new(7);
    t.set_value(c(-1, 0, 1), -7);
    t.fill(&cube(c(0, 0, 0), 8), 1, true);
    out.push(("i32".into(), postcard::to_allocvec(&t).unwrap()));
    out
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn write_or_check(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    let path = dir.join(name);
    if std::env::var_os("SPARSEVDB_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, bytes).unwrap();
    } else {
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (SPARSEVDB_WRITE_SEEDS=1 makes it)", path.display())
        });
        assert!(
            on_disk == bytes,
            "{} is stale (SPARSEVDB_WRITE_SEEDS=1 rewrites it)",
            path.display()
        );
    }
}

#[test]
fn ops_seeds_round_trip_and_pass() {
    for (name, s) in ops_seeds() {
        let bytes = Encoder::script(&s);
        let back = Script::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
        assert_eq!(back, s, "{name}: the encoding does not decode back");
        run_script::<5, 4, 3, false>(&s);
        run_script::<5, 4, 3, true>(&s);
        run_script::<4, 4, 3, false>(&s);
        write_or_check("ops", name, &bytes);
        write_or_check("ops_config2", name, &bytes);
    }
}

#[test]
fn combine_seeds_round_trip_and_pass() {
    for (name, s) in combo_seeds() {
        let bytes = Encoder::combo_script(&s);
        let back = ComboScript::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
        assert_eq!(back, s, "{name}: the encoding does not decode back");
        run_combo_script(&s);
        write_or_check("combine", name, &bytes);
    }
}

#[test]
fn serde_seeds_decode() {
    for (name, bytes) in serde_seeds() {
        decode_bytes(&bytes);
        write_or_check("serde_decode", &name, &bytes);
    }
}

/// Small safetensors files, each behind an options byte: every dtype the crate reads,
/// matrices, vectors, a tensor with an unsupported dtype, and a grid's own export
/// (with its plan in the metadata).
fn neural_seeds() -> Vec<(String, Vec<u8>)> {
    use sparsevdb_neural::import::ImportOptions;
    use sparsevdb_neural::safetensors_io::{write_tensors, TensorRef};
    use sparsevdb_neural::{Dtype, WeightGrid};

    let w: Vec<f32> = (0..96).map(|i| (i as f32 - 40.0) / 16.0).collect();
    let mut out = Vec::new();
    for (name, dtype, shape) in [
        ("f32_matrix", Dtype::F32, &[8usize, 12][..]),
        ("f16_matrix", Dtype::F16, &[12, 8][..]),
        ("bf16_matrix", Dtype::Bf16, &[3, 32][..]),
        ("f32_vector", Dtype::F32, &[96][..]),
    ] {
        let file = write_tensors(
            [TensorRef {
                name: "layer.0.weight",
                dtype,
                shape,
                values: &w,
            }],
            &Default::default(),
        )
        .unwrap();
        for options in [0u8, 0b0101, 0b1110] {
            let mut bytes = vec![options];
            bytes.extend_from_slice(&file);
            out.push((format!("{name}_{options}"), bytes));
        }
    }
    let two = write_tensors(
        [
            TensorRef {
                name: "a.weight",
                dtype: Dtype::F16,
                shape: &[4, 16],
                values: &w[..64],
            },
            TensorRef {
                name: "a.bias",
                dtype: Dtype::F32,
                shape: &[4],
                values: &w[..4],
            },
        ],
        &Default::default(),
    )
    .unwrap();
    let (grid, _) = WeightGrid::from_safetensors(&two, &ImportOptions::default()).unwrap();
    let exported = grid.to_safetensors().unwrap();
    for (name, file) in [("two_tensors", two), ("grid_export_with_plan", exported)] {
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&file);
        out.push((name.to_string(), bytes));
    }
    out
}

#[test]
fn neural_seeds_import() {
    for (name, bytes) in neural_seeds() {
        assert!(import_bytes(&bytes), "{name}: the seed does not import");
        write_or_check("neural_import", &name, &bytes);
    }
}
