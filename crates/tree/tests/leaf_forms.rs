//! Property tests for the adaptive leaf storage (decisions 0009 and 0011: tiny,
//! packed and dense leaves): random operation
//! sequences confined to two adjacent leaves, with bursts that push the active count
//! across both thresholds, compared voxel for voxel with the `HashMap` model of
//! `support/model.rs` — on the adaptive tree and on the dense-only tree. Every
//! sequence is also checked to keep each leaf valid; the run as a whole must have seen
//! every form and every transition between them.

#[path = "support/model.rs"]
mod model;

use std::sync::atomic::{AtomicU64, Ordering};

use model::Model;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use sparsevdb_tree::{Coord, CoordBBox, DenseTree, Node, Tree};

/// Voxel `i` of the region: two leaves side by side along x.
fn at(i: u16) -> Coord {
    let i = i32::from(i % 1024);
    Coord::new(i >> 6, (i >> 3) & 7, i & 7)
}

const VALUES: [f32; 5] = [0.0, -0.0, 1.0, 2.0, 0.5];

fn value(v: u8) -> f32 {
    VALUES[usize::from(v) % VALUES.len()]
}

#[derive(Clone, Debug)]
enum Step {
    Set(u16, u8),
    Off(u16, u8),
    Only(u16, u8),
    Active(u16, bool),
    Add(u16, u8),
    /// `len` consecutive voxels from `start` set active (`on`) or to the background
    /// and inactive: crosses the thresholds.
    Burst {
        on: bool,
        start: u16,
        len: u16,
        v: u8,
    },
    Fill(u16, u16, u8, bool),
    Clip(u16, u16),
    /// Several sets and offs through one mutable accessor.
    Accessor(Vec<(u16, u8, bool)>),
    Prune,
    Compact,
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        let i = u16::arbitrary(g);
        let v = u8::arbitrary(g);
        match u8::arbitrary(g) % 24 {
            0..=4 => Step::Set(i, v),
            5..=6 => Step::Off(i, v),
            7 => Step::Only(i, v),
            8..=9 => Step::Active(i, bool::arbitrary(g)),
            10 => Step::Add(i, v),
            11..=15 => Step::Burst {
                on: bool::arbitrary(g),
                start: i,
                len: u16::arbitrary(g) % 520,
                v,
            },
            16 => Step::Fill(i, u16::arbitrary(g), v, bool::arbitrary(g)),
            17 => Step::Clip(i, u16::arbitrary(g)),
            18..=20 => Step::Accessor(
                (0..u8::arbitrary(g) % 40)
                    .map(|_| (u16::arbitrary(g), u8::arbitrary(g), bool::arbitrary(g)))
                    .collect(),
            ),
            21 => Step::Prune,
            _ => Step::Compact,
        }
    }
}

/// Counters over the whole run, named by `SEEN_NAMES`.
static SEEN: [AtomicU64; 7] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];
const SEEN_NAMES: [&str; 7] = [
    "tiny",
    "packed",
    "dense",
    "tiny→packed",
    "packed→tiny",
    "packed→dense",
    "dense→packed",
];

fn bbox(a: u16, b: u16) -> CoordBBox {
    let (a, b) = (at(a), at(b));
    CoordBBox::new(a.min_component(b), a.max_component(b))
}

fn apply<const D: bool>(t: &mut Tree<f32, 5, 4, 3, D>, step: &Step) {
    match *step {
        Step::Set(i, v) => t.set_value(at(i), value(v)),
        Step::Off(i, v) => t.set_value_off(at(i), value(v)),
        Step::Only(i, v) => t.set_value_only(at(i), value(v)),
        Step::Active(i, on) => t.set_active(at(i), on),
        Step::Add(i, v) => t.modify_value(at(i), |x| *x += value(v)),
        Step::Burst { on, start, len, v } => {
            for j in 0..len {
                let c = at(start.wrapping_add(j));
                if on {
                    t.set_value(c, value(v));
                } else {
                    t.set_value_off(c, 0.0);
                }
            }
        }
        Step::Fill(a, b, v, on) => t.fill(&bbox(a, b), value(v), on),
        Step::Clip(a, b) => t.clip(&clip_box(a, b)),
        Step::Accessor(ref batch) => {
            let mut acc = t.accessor_mut();
            for &(i, v, on) in batch {
                if on {
                    acc.set_value(at(i), value(v));
                } else {
                    acc.set_value_off(at(i), value(v));
                }
            }
        }
        Step::Prune => t.prune(0.0),
        Step::Compact => {
            // Every leaf as an object (tiny ones promoted), then the whole tree packed
            // (small leaves back to tiny).
            t.leaves_mut().for_each(|l| l.compact());
            t.compact();
        }
    }
}

fn apply_model(m: &mut Model<f32>, step: &Step) {
    match *step {
        Step::Set(i, v) => m.set_value(at(i), value(v)),
        Step::Off(i, v) => m.set_value_off(at(i), value(v)),
        Step::Only(i, v) => m.set_value_only(at(i), value(v)),
        Step::Active(i, on) => m.set_active(at(i), on),
        Step::Add(i, v) => m.modify_value(at(i), |x| *x += value(v)),
        Step::Burst { on, start, len, v } => {
            for j in 0..len {
                let c = at(start.wrapping_add(j));
                if on {
                    m.set_value(c, value(v));
                } else {
                    m.set_value_off(c, 0.0);
                }
            }
        }
        Step::Fill(a, b, v, on) => m.fill(&bbox(a, b), value(v), on),
        Step::Clip(a, b) => m.clip(&clip_box(a, b)),
        Step::Accessor(ref batch) => {
            for &(i, v, on) in batch {
                if on {
                    m.set_value(at(i), value(v));
                } else {
                    m.set_value_off(at(i), value(v));
                }
            }
        }
        Step::Prune => m.prune(0.0),
        Step::Compact => {}
    }
}

/// A clip box that always keeps `x < 5` of the region.
fn clip_box(a: u16, b: u16) -> CoordBBox {
    let b = bbox(a, b);
    CoordBBox::new(
        Coord::new(0, 0, 0),
        b.max().max_component(Coord::new(4, 7, 7)),
    )
}

/// Runs `steps` on the adaptive tree, the dense-only tree and the model: the trees
/// must agree bit for bit, and with the model (`==`, as OpenVDB compares values).
fn run(steps: Vec<Step>) -> Result<(), String> {
    let mut a = Tree::<f32>::new(0.0);
    let mut d = DenseTree::<f32>::with_background(0.0);
    let mut m = Model::for_config(0.0f32, 5, 4, 3);
    for (k, step) in steps.iter().enumerate() {
        let before = leaf_forms_of(&a);
        apply(&mut a, step);
        apply(&mut d, step);
        apply_model(&mut m, step);
        a.validate()
            .map_err(|e| format!("step {k} {step:?}: adaptive: {e}"))?;
        d.validate()
            .map_err(|e| format!("step {k} {step:?}: dense: {e}"))?;
        record(&before, &leaf_forms_of(&a));
        if d.leaves().any(|l| !l.is_dense() || l.is_tiny()) {
            return Err(format!("step {k}: a packed leaf in the dense-only tree"));
        }
        for i in 0..1024u16 {
            let c = at(i);
            let (got, dense, want) = (a.probe_value(c), d.probe_value(c), m.probe(c));
            if got.0.to_bits() != dense.0.to_bits() || got.1 != dense.1 {
                return Err(format!(
                    "step {k} {step:?}: voxel {c:?}: adaptive {got:?}, dense {dense:?}"
                ));
            }
            if got.0 != want.0 || got.1 != want.1 {
                return Err(format!(
                    "step {k} {step:?}: voxel {c:?}: tree {got:?}, model {want:?}"
                ));
            }
        }
        if a.active_voxel_count() != m.active_voxel_count()
            || a.leaf_count() != d.leaf_count()
            || a.inactive_voxel_count() != d.inactive_voxel_count()
        {
            return Err(format!("step {k} {step:?}: counts differ"));
        }
    }
    Ok(())
}

const TINY: u8 = 0;
const PACKED: u8 = 1;
const DENSE: u8 = 2;

/// `(origin, form)` of every leaf: `TINY`, `PACKED` or `DENSE`.
fn leaf_forms_of<const D: bool>(t: &Tree<f32, 5, 4, 3, D>) -> Vec<(Coord, u8)> {
    t.leaves()
        .map(|l| {
            let form = match (l.is_tiny(), l.is_dense()) {
                (true, _) => TINY,
                (false, false) => PACKED,
                (false, true) => DENSE,
            };
            (l.origin(), form)
        })
        .collect()
}

/// Counts the forms and the transitions, indexed as in `SEEN_NAMES`.
fn record(before: &[(Coord, u8)], after: &[(Coord, u8)]) {
    for &(o, form) in after {
        SEEN[usize::from(form)].fetch_add(1, Ordering::Relaxed);
        if let Some(&(_, was)) = before.iter().find(|(p, _)| *p == o) {
            let transition = match (was, form) {
                (TINY, PACKED) => Some(3),
                (PACKED, TINY) => Some(4),
                (PACKED, DENSE) => Some(5),
                (DENSE, PACKED) => Some(6),
                _ => None,
            };
            if let Some(t) = transition {
                SEEN[t].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn qc(n: u64) -> QuickCheck {
    let n = if cfg!(miri) { 1 } else { n };
    QuickCheck::new().tests(n).max_tests(n).rng(Gen::new(60))
}

#[test]
fn adaptive_and_dense_leaves_match_the_model_through_every_transition() {
    qc(400).quickcheck(run as fn(Vec<Step>) -> Result<(), String>);
    if !cfg!(miri) {
        let seen: Vec<u64> = SEEN.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        assert!(
            seen.iter().all(|&n| n > 0),
            "forms and transitions seen {SEEN_NAMES:?}: {seen:?}"
        );
    }
}

#[test]
fn leaf_memory_is_the_form_size() {
    let mut t = Tree::<f32>::new(0.0);
    for i in 0..8 {
        t.set_value(Coord::new(0, 0, i), 1.0);
    }
    t.promote_tiny_leaves();
    let leaf = t
        .leaves()
        .next()
        .expect("one leaf")
        .as_node()
        .expect("a leaf object");
    assert!(!leaf.is_dense());
    assert!(leaf.mem_usage() < core::mem::size_of_val(leaf) + 64);
}

/// Bytes of the leaf object at `origin`.
fn leaf_bytes(t: &Tree<f32>, origin: Coord) -> usize {
    t.leaves()
        .find(|l| l.origin() == origin)
        .and_then(|l| l.as_node())
        .expect("a leaf object there")
        .mem_usage()
}

#[test]
fn the_next_leaf_along_x_trims_the_previous_one() {
    let mut t = Tree::<f32>::new(0.0);
    let header = core::mem::size_of::<sparsevdb_tree::LeafNode<f32>>();
    let (a, b) = (Coord::new(0, 0, 0), Coord::new(8, 0, 0));
    // 20 voxels in offset order: a tiny leaf promoted at the 17th, whose buffer then
    // grows for a leaf expected to fill up.
    {
        let mut acc = t.accessor_mut();
        for i in 0..20 {
            acc.set_value(Coord::new(0, i / 8, i % 8), i as f32);
        }
    }
    let grown = leaf_bytes(&t, a);
    assert!(grown > header + 20 * 4, "{grown} bytes");
    // The leaf after it along x becomes an object: the first one is complete in
    // x-major order and drops its spare capacity.
    {
        let mut acc = t.accessor_mut();
        for i in 0..17 {
            acc.set_value(Coord::new(8, i / 8, i % 8), 1.0);
        }
    }
    assert_eq!(leaf_bytes(&t, a), header + 20 * 4);
    assert!(
        leaf_bytes(&t, b) > header + 17 * 4,
        "the new leaf keeps its room"
    );
    t.validate().expect("valid tree");
    for i in 0..20 {
        assert_eq!(t.probe_value(Coord::new(0, i / 8, i % 8)), (i as f32, true));
    }
    // A write to the trimmed leaf grows it again.
    t.set_value(Coord::new(7, 7, 7), 5.0);
    assert_eq!(t.probe_value(Coord::new(7, 7, 7)), (5.0, true));
    t.validate().expect("valid tree");
}

#[test]
fn a_lower_node_next_to_a_dense_region_starts_leaves_as_objects() {
    let mut t = Tree::<f32>::new(0.0);
    // 20 leaves of 17 voxels in the lower node at the origin: each starts tiny and is
    // promoted, so the node starts later leaves as objects.
    for leaf in 0..20 {
        for i in 0..17 {
            t.set_value(Coord::new(0, 8 * leaf + i / 8, i % 8), 1.0);
        }
    }
    let is_tiny = |t: &Tree<f32>, origin: Coord| {
        t.leaves()
            .find(|l| l.origin() == origin)
            .expect("a leaf there")
            .is_tiny()
    };
    t.set_value(Coord::new(0, 0, 64), 1.0);
    assert!(!is_tiny(&t, Coord::new(0, 0, 64)), "same node: an object");
    // The next lower node along z inherits that; one with no neighbour does not.
    t.set_value(Coord::new(0, 0, 128), 1.0);
    assert!(!is_tiny(&t, Coord::new(0, 0, 128)), "neighbour: an object");
    t.set_value(Coord::new(128, 0, 0), 1.0);
    assert!(
        !is_tiny(&t, Coord::new(128, 0, 0)),
        "neighbour along x: an object"
    );
    t.set_value(Coord::new(0, 0, 1024), 1.0);
    assert!(is_tiny(&t, Coord::new(0, 0, 1024)), "no neighbour: tiny");
    t.validate().expect("valid tree");
    t.compact();
    assert!(is_tiny(&t, Coord::new(0, 0, 128)), "compact packs it");
}

/// `Tree::compact` packs leaf objects too (their `compact_node`): a dense leaf with
/// 100 active voxels, left dense by a `leaves_mut` edit, becomes packed and smaller,
/// its values and states unchanged.
#[test]
fn compact_packs_a_dense_leaf_object() {
    let mut t: Tree<f32> = Tree::new(0.0);
    for i in 0..100 {
        t.set_value(Coord::new(i / 64, (i / 8) % 8, i % 8), i as f32);
    }
    for leaf in t.leaves_mut() {
        leaf.make_dense();
    }
    let before: Vec<_> = t.iter_all().collect();
    let dense_bytes = t.mem_usage();
    assert!(t.leaves().next().is_some_and(|l| l.is_dense()));
    t.compact();
    assert!(t
        .leaves()
        .next()
        .is_some_and(|l| !l.is_dense() && !l.is_tiny()));
    assert!(
        t.mem_usage() + 1024 < dense_bytes,
        "{} vs {dense_bytes}",
        t.mem_usage()
    );
    assert_eq!(t.iter_all().collect::<Vec<_>>(), before);
    t.validate().expect("valid tree");
}
