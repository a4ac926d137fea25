//! The operations of `shared/bench/WORKLOADS.md` on `sparsevdb-tree`'s
//! `Tree<f32>` (the 5-4-3 tree), written against the public API of `DESIGN.md`.
//!
//! How each op maps onto the tree:
//! * build: `tiles` first `fill`s its box (active tiles), then every voxel goes
//!   through `accessor_mut().set_value` in generation order.
//! * memory: live bytes of the counting allocator around the last timed `build`
//!   run; the tree's own `mem_usage()` is printed beside it. That tree then serves
//!   the reads and iterate.
//! * reads: `accessor().get_value` summed in f64.
//! * iterate: `iter_on().fold(..)`, each item weighted by `voxel_count()` (one item
//!   per tile).
//! * combine: `comp_sum(&b)` (B is borrowed and left intact, unlike OpenVDB). A is
//!   rebuilt for every run (untimed), as in the OpenVDB anchor; with
//!   `OpSet::fresh_trees` false (`--quick`) it is a clone of the tree `build` made.
//! * prune: the leaves with an even index in `leaves_mut()` order (OpenVDB's, which
//!   is checked against [`leaf_order_key`]) get `LeafNode::fill_all(background,
//!   false)` (OpenVDB `LeafNode::fill(0, false)`; untimed), then `prune(0.0)` is
//!   timed. The tree is built afresh for every run; with `OpSet::fresh_trees` false
//!   the first run takes the tree `build` made (prune is the last op).

use sparsevdb_tree::{Coord as TreeCoord, CoordBBox, Tree};

use crate::alloc::live_bytes;
use crate::baselines::OpSet;
use crate::record::{Record, TREE, TREE_DENSE};
use crate::timing::Timing;
use crate::workloads::{leaf_order_key, Coord, Data, Workload};

/// The tree type measured: `f32` values, background 0.0; `D = true` pins every leaf
/// dense (`DenseTree`, OpenVDB's layout) for the adaptive-vs-dense comparison.
pub type FloatTree<const D: bool = false> = Tree<f32, 5, 4, 3, D>;

/// The report's structure name of the tree with `D`.
pub const fn structure<const D: bool>() -> &'static str {
    if D {
        TREE_DENSE
    } else {
        TREE
    }
}

fn coord(c: Coord) -> TreeCoord {
    TreeCoord::new(c[0], c[1], c[2])
}

/// An empty tree with background 0.0.
pub fn empty<const D: bool>() -> FloatTree<D> {
    Tree::with_background(0.0)
}

/// Applies `w` (its fill, then its voxels in generation order) to `t` (the timed
/// part of `build`).
#[inline(never)]
pub fn insert_all<const D: bool>(t: &mut FloatTree<D>, w: &Workload) {
    if let Some(f) = w.fill {
        t.fill(&CoordBBox::new(coord(f.min), coord(f.max)), f.value, true);
    }
    let mut acc = t.accessor_mut();
    for &(c, v) in &w.voxels {
        acc.set_value(coord(c), v);
    }
}

/// A tree of `w`.
pub fn build<const D: bool>(w: &Workload) -> FloatTree<D> {
    let mut t = empty();
    insert_all(&mut t, w);
    t
}

/// Sum of the values at `coords`, in f64.
#[inline(never)]
pub fn read_sum<const D: bool>(t: &FloatTree<D>, coords: &[Coord]) -> f64 {
    let acc = t.accessor();
    coords
        .iter()
        .map(|&c| f64::from(acc.get_value(coord(c))))
        .sum()
}

/// What `iterate` reads off the active-value iterator.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IterSum {
    /// Iterator positions (a tile is one).
    pub items: u64,
    /// Active voxels covered.
    pub voxels: u64,
    /// Sum of value × voxels covered, in f64.
    pub sum: f64,
}

/// Visits every active value once (the `iterate` op).
#[inline(never)]
pub fn iter_sum<const D: bool>(t: &FloatTree<D>) -> IterSum {
    // `fold` (what `for_each`, `sum`, … use) lets the iterator walk each node with a
    // tight loop instead of resuming its per-item state machine.
    t.iter_on().fold(IterSum::default(), |mut s, item| {
        let n = item.voxel_count();
        s.sum += f64::from(item.value()) * n as f64;
        s.voxels += n;
        s.items += 1;
        s
    })
}

/// Sets every voxel of the leaves with an even index in leaf order to the
/// background, inactive (untimed setup of `prune`); returns how many leaves.
///
/// # Panics
/// When `leaves_mut()` does not follow [`leaf_order_key`] order (OpenVDB's).
pub fn clear_even_leaves<const D: bool>(t: &mut FloatTree<D>) -> usize {
    let background = t.background();
    let mut previous: Option<[i32; 9]> = None;
    let mut cleared = 0;
    for (i, leaf) in t.leaves_mut().enumerate() {
        let o = leaf.origin();
        let key = leaf_order_key([o.x >> 3, o.y >> 3, o.z >> 3]);
        assert!(
            previous.is_none_or(|p| p < key),
            "leaf order differs from OpenVDB's at leaf {i} (origin {o:?})"
        );
        previous = Some(key);
        if i % 2 == 0 {
            leaf.fill_all(background, false);
            cleared += 1;
        }
    }
    cleared
}

/// Prunes with tolerance 0 (the timed part of `prune`).
#[inline(never)]
pub fn prune<const D: bool>(t: &mut FloatTree<D>) {
    t.prune(0.0);
}

/// A += B (the `combine` op).
#[inline(never)]
pub fn comp_sum<const D: bool>(a: &mut FloatTree<D>, b: &FloatTree<D>) {
    a.comp_sum(b);
}

/// Runs every op on the tree; `progress` is called with each op's name before it runs.
pub fn bench_tree<const D: bool>(
    d: &Data,
    timing: &Timing,
    ops: OpSet,
    progress: &mut dyn FnMut(&str),
) -> Vec<Record> {
    let name = d.name;
    let n = d.a.voxels.len();
    let mut out = Vec::new();

    progress("build");
    // The last run's tree is kept for the reads, iterate and memory.
    let m = timing.measure(
        || {
            let before = live_bytes();
            (empty(), before)
        },
        |(t, _)| insert_all(t, &d.a),
        |(t, before), ()| {
            let bytes = live_bytes().saturating_sub(*before);
            (t.active_voxel_count(), bytes, std::mem::take(t))
        },
    );
    let (active, bytes, tree) = m.out;
    let (per, unit) = if d.a.fill.is_some() {
        (m.secs * 1e9 / active as f64, "ns/active voxel")
    } else {
        (m.secs * 1e9 / n as f64, "ns/voxel")
    };
    out.push(
        Record::new(
            name,
            "build",
            structure::<D>(),
            per,
            unit,
            format!("inserted={n} active={active} total_ms={:.3}", m.secs * 1e3),
        )
        .with_runs(&m.runs),
    );

    for (op, coords) in [
        ("read_hit_coherent", &d.hits),
        ("read_hit_random", &d.hits_shuffled),
        ("read_miss", &d.misses),
    ] {
        progress(op);
        let m = timing.measure(|| (), |_| read_sum(&tree, coords), |_, s| s);
        out.push(
            Record::new(
                name,
                op,
                structure::<D>(),
                m.secs * 1e9 / coords.len() as f64,
                "ns/read",
                format!("reads={} sum={:.6}", coords.len(), m.out),
            )
            .with_runs(&m.runs),
        );
    }

    progress("iterate");
    let m = timing.measure(|| (), |_| iter_sum(&tree), |_, s| s);
    let it = m.out;
    out.push(
        Record::new(
            name,
            "iterate",
            structure::<D>(),
            m.secs * 1e9 / it.items as f64,
            "ns/item",
            format!("items={} active={} sum={:.6}", it.items, it.voxels, it.sum),
        )
        .with_runs(&m.runs),
    );

    let active = tree.active_voxel_count();
    out.push(Record::new(
        name,
        "memory",
        structure::<D>(),
        bytes as f64 / active as f64,
        "B/voxel",
        format!(
            "bytes={bytes} active={active} mem_usage={} leaves={}{}",
            tree.mem_usage(),
            tree.leaf_count(),
            if d.a.fill.is_some() {
                " (bytes = per 1024^3 box)"
            } else {
                ""
            }
        ),
    ));

    // A fresh tree per run of combine and prune (as the OpenVDB anchor does), or
    // (`fresh_trees` false) a clone of the one built above for combine and that tree
    // itself for the first run of prune, the last op (faster; a clone's nodes may lie
    // closer in memory than a build's).
    let mem_before = tree.mem_usage();
    let mut keep = if ops.fresh_trees {
        drop(tree); // the sparse workloads' trees take gigabytes
        None
    } else {
        Some(tree)
    };

    if ops.combine {
        progress("combine");
        let fresh = || {
            keep.as_ref()
                .map_or_else(|| build(&d.a), FloatTree::<D>::clone)
        };
        out.push(bench_combine(d, timing, &fresh));
    }

    if ops.prune {
        progress("prune");
        let m = timing.measure(
            || {
                // `before`: the live bytes without this tree (the kept tree's own
                // bytes are those measured around its build).
                let (before, mut t) = match keep.take() {
                    Some(t) => (live_bytes().saturating_sub(bytes), t),
                    None => (live_bytes(), build(&d.a)),
                };
                let active_before = t.active_voxel_count();
                let leaves = clear_even_leaves(&mut t);
                let cleared = active_before - t.active_voxel_count();
                (t, before, active_before, leaves, cleared)
            },
            |(t, ..)| prune(t),
            |(t, before, active_before, leaves, cleared), ()| {
                (
                    *active_before,
                    *leaves,
                    *cleared,
                    iter_sum(t),
                    live_bytes().saturating_sub(*before),
                    t.mem_usage(),
                )
            },
        );
        let (active_before, leaves, cleared, after, bytes, mem_after) = m.out;
        out.push(
            Record::new(
                name,
                "prune",
                structure::<D>(),
                m.secs * 1e9 / active_before as f64,
                "ns/voxel",
                format!(
                    "cleared_leaves={leaves} cleared={cleared} active_after={} sum_after={:.6}",
                    after.voxels, after.sum
                ),
            )
            .with_runs(&m.runs),
        );
        out.push(Record::new(
            name,
            "prune_memory",
            structure::<D>(),
            bytes as f64 / 1e6,
            "MB after",
            format!(
                "bytes_after={bytes} mem_usage_after={mem_after} mem_usage_before={mem_before}"
            ),
        ));
    }
    out
}

/// The `combine` record: A += B, with A from `make_a` (untimed) for every run.
fn bench_combine<const D: bool>(
    d: &Data,
    timing: &Timing,
    make_a: &dyn Fn() -> FloatTree<D>,
) -> Record {
    let b = build(&d.b);
    let m = timing.measure(make_a, |a| comp_sum(a, &b), |a, ()| iter_sum(a));
    let s = m.out;
    Record::new(
        d.name,
        "combine",
        structure::<D>(),
        m.secs * 1e9 / s.voxels as f64,
        "ns/voxel",
        format!("active={} sum={:.6}", s.voxels, s.sum),
    )
    .with_runs(&m.runs)
}
