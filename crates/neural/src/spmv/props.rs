//! A randomized property of the grid's sparse products ([`WeightGrid::matvec`],
//! [`WeightGrid::matvec_t`]): random plans, stores and tree mutations, every
//! product checked bit for bit against the tests module's `reference` and
//! against the exact product of the loaded matrix.

use std::sync::atomic::{AtomicU64, Ordering};

use quickcheck::{Arbitrary, Gen, QuickCheck};
use sparsevdb_tree::{Coord, CoordBBox};

use super::tests::{reference, values};
use crate::fold::{slot_to_leaf, Fold, LOWER_SLOTS};
use crate::plan::PlannedTensor;
use crate::planner::{PlanLayout, PlanOptions};
use crate::synth::SplitMix64;
use crate::tiles::{lower_at, Lower, Tiles};
use crate::{LayoutPlan, SparsityRule, TensorSpec, TileShape, WeightGrid};

/// The case's own random stream, seeded from quickcheck's `Gen`.
struct Rng(SplitMix64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len())]
    }
}

/// What a tensor is stored from.
#[derive(Clone, Copy, Debug)]
enum Data {
    /// Random values (roughly normal, σ ≈ 0.1) cut by the rule.
    Rule(SparsityRule),
    /// Random values of which a random fraction (0 to 1) is kept per band of
    /// `band` elements, the rest zero, all stored: lower nodes mixing tiny
    /// leaves, leaf objects, full leaves and empty slots.
    Banded { band: usize },
    /// Every element the same: active tiles for full tiles, leaves at the
    /// edges.
    Constant(f32),
}

#[derive(Clone, Debug)]
struct TensorCase {
    shape: Vec<usize>,
    data: Data,
    seed: u64,
}

impl TensorCase {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values to store and the rule to store them with.
    fn values(&self) -> (Vec<f32>, SparsityRule) {
        let n = self.len();
        match self.data {
            Data::Rule(rule) => (values(n, self.seed), rule),
            Data::Constant(v) => (vec![v; n], SparsityRule::KeepAll),
            Data::Banded { band } => {
                const DENSITY: [f32; 8] = [0.0, 0.004, 0.01, 0.02, 0.03, 0.1, 0.5, 1.0];
                let mut r = SplitMix64::new(self.seed ^ 0x5eed);
                let mut density = 0.0;
                let w = values(n, self.seed)
                    .into_iter()
                    .enumerate()
                    .map(|(e, w)| {
                        if e % band.max(1) == 0 {
                            density = DENSITY[(r.next_u64() % 8) as usize];
                        }
                        if r.unit() < density {
                            w
                        } else {
                            0.0
                        }
                    })
                    .collect();
                (w, SparsityRule::KeepAll)
            }
        }
    }
}

/// A leaf slot relative to a tensor's tiles (the tensor taken modulo the
/// plan's tensor count).
#[derive(Clone, Copy, Debug)]
enum At {
    First(u8),
    Last(u8),
    /// The slot right after the last tile (another tensor's or nobody's).
    PastEnd(u8),
    /// Around the first slot of the tensor's second lower node (packed: a
    /// tensor crossing a lower node boundary, if any), or its first tile row
    /// in the next lower node (slabs); `d` is -1, 0 or 1.
    NodeStart(u8, i8),
    Any(u8, u32),
}

/// One step applied to the grid's tree after the stores.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `set_value` of voxel `n` (0..512) of the slot's leaf (padding
    /// voxels included).
    Set(At, u16, f32),
    /// `set_value` of `len` consecutive voxels from `n` (values `v`, `v` +
    /// 1/16, ...): a tiny leaf becomes a leaf object past 16 active voxels,
    /// a leaf fills up.
    Burst(At, u16, u16, f32),
    /// `set_active(false)` of voxel `n`.
    Off(At, u16),
    /// `fill` of the slot's whole 8³ leaf: active with `v` (an active tile) or
    /// inactive with 0 (the leaf removed).
    FillLeaf(At, f32, bool),
    /// `fill` of the slot's whole 128³ lower node: an active tile above the
    /// leaf level, or nothing.
    FillLower(At, f32, bool),
    /// `make_dense` on every `k`-th leaf of `leaves_mut` (which promotes
    /// every tiny leaf to a leaf object).
    Dense(u8),
    /// `promote_tiny_leaves`: every tiny leaf a leaf object.
    PromoteTiny,
    /// `compact`: small leaves back to tiny leaves.
    Compact,
    /// Checks the products now (they are always checked after the stores
    /// and at the end).
    Check,
}

/// One case: a plan (1–4 tensors, one tile shape, a layout, an origin), a
/// store of each tensor, then tree mutations.
#[derive(Clone, Debug)]
struct Case {
    layout: PlanLayout,
    tile: u32,
    origin: [i32; 3],
    tensors: Vec<TensorCase>,
    ops: Vec<Op>,
    x_seed: u64,
}

/// Elements of an ordinary tensor at most (a big one has about 2.2 million).
const SMALL: usize = 120_000;

/// Tiles of a big tensor or a filler: more than a lower node's 4096 slots.
const MANY_TILES: usize = 4200;

/// Tiles of a tensor of shape `shape` under `tr × tc` tiles.
fn tiles(shape: &[usize], tr: usize, tc: usize) -> usize {
    let (rows, cols) = crate::plan::matrix_dims(shape).expect("a small shape");
    rows.div_ceil(tr) * cols.div_ceil(tc)
}

fn dim(r: &mut Rng, tile: usize) -> usize {
    match r.below(4) {
        0 => r.range(1, 80),
        1 => (r.range(1, 4) * tile + r.range(0, 2))
            .saturating_sub(1)
            .max(1),
        2 => r.range(1, 400),
        _ => r.pick(&[1, 2, 3, 7, 8, 9, 63, 64, 65, 511, 512, 513]),
    }
}

fn data(r: &mut Rng) -> Data {
    match r.below(20) {
        0..=2 => Data::Rule(SparsityRule::KeepAll),
        3 | 4 => Data::Rule(SparsityRule::Threshold(r.pick(&[0.0, 0.1, 0.25]))),
        5 | 6 => Data::Rule(SparsityRule::Sparsity(0.5)),
        7..=9 => Data::Rule(SparsityRule::Sparsity(0.9)),
        10..=13 => Data::Rule(SparsityRule::Sparsity(0.99)),
        14 => Data::Rule(SparsityRule::Sparsity(1.0)),
        15..=17 => Data::Banded {
            band: r.pick(&[37, 512, 1000, 4096, 20_000]),
        },
        _ => Data::Constant(r.pick(&[0.25, -1.5, -0.0, 0.0])),
    }
}

impl Case {
    fn generate(r: &mut Rng) -> Self {
        let tile = 1u32 << r.below(10);
        let (tc, tr) = (tile as usize, 512 / tile as usize);
        let layout = if r.chance(60) {
            PlanLayout::Packed
        } else {
            PlanLayout::Slabs
        };
        let origin = if r.chance(70) {
            [0; 3]
        } else {
            let step = match layout {
                PlanLayout::Packed => 4096,
                PlanLayout::Slabs => 8,
            };
            let mut c = || step * (r.range(0, 40) as i32 - 20);
            [c(), c(), c()]
        };
        let mut tensors: Vec<TensorCase> = (0..r.range(1, 4))
            .map(|_| {
                let shape = match r.below(40) {
                    0 => [vec![0, 5], vec![3, 0], vec![0]][r.below(3)].clone(),
                    1..=3 => {
                        let n = dim(r, tc);
                        vec![r.pick(&[1, 7, 512, 513, 1500, n])]
                    }
                    _ => {
                        let cols = dim(r, tc);
                        vec![dim(r, tr).min(SMALL / cols).max(1), cols]
                    }
                };
                TensorCase {
                    shape,
                    data: data(r),
                    seed: r.0.next_u64(),
                }
            })
            .collect();
        // A filler: thousands of thin edge tiles (one row or one column of
        // each, cheap), so that the tensors after it cross into the next
        // lower node. In half the packed plans it comes first and ends a few
        // slots before the end of the first lower node, so that the next
        // tensor (the first matrix, or the first vector) crosses it, and that
        // tensor is sparse more often than not (tiny leaves on both sides).
        let filler = |r: &mut Rng, k: usize| {
            let shape = if tr <= tc {
                vec![k * tr - r.below(tr), 1]
            } else {
                vec![1, k * tc - r.below(tc)]
            };
            TensorCase {
                shape,
                data: data(r),
                seed: r.0.next_u64(),
            }
        };
        if layout == PlanLayout::Packed && r.chance(50) {
            let next = (0..tensors.len())
                .filter(|&i| tensors[i].shape.len() >= 2)
                .chain((0..tensors.len()).filter(|&i| tensors[i].shape.len() < 2))
                .next()
                .unwrap_or(0);
            let c = tiles(&tensors[next].shape, tr, tc).min(4095);
            if r.chance(70) {
                tensors[next].data = r.pick(&[
                    Data::Rule(SparsityRule::Sparsity(0.99)),
                    Data::Rule(SparsityRule::Threshold(0.25)),
                    Data::Banded { band: 512 },
                    Data::Banded { band: 4096 },
                ]);
            }
            let k = LOWER_SLOTS as usize - r.range(1, c.saturating_sub(1).max(1));
            let f = filler(r, k);
            tensors.insert(0, f);
        } else if r.chance(30) {
            let k = r.range(2000, MANY_TILES);
            let at = r.below(tensors.len() + 1);
            let f = filler(r, k);
            tensors.insert(at, f);
        }
        // Rarely a big tensor of more than 4096 full tiles (a full lower node
        // and more), e.g. 4200 × 512 at tile width 512.
        if r.chance(4) {
            let n_tj = r.range(1, 3);
            let cols = n_tj * tc - usize::from(r.chance(25));
            let rows = MANY_TILES.div_ceil(n_tj) * tr;
            let at = r.below(tensors.len() + 1);
            tensors.insert(
                at,
                TensorCase {
                    shape: vec![rows, cols],
                    data: data(r),
                    seed: r.0.next_u64(),
                },
            );
        }
        let at = |r: &mut Rng| {
            let t = r.below(256) as u8;
            match r.below(10) {
                0 => At::First(t),
                1 => At::Last(t),
                2 => At::PastEnd(t),
                3 | 4 => At::NodeStart(t, r.range(0, 2) as i8 - 1),
                _ => At::Any(t, r.0.next_u64() as u32),
            }
        };
        let value = |r: &mut Rng| r.pick(&[1.0, -0.5, 0.125, 3.0, -0.0, 0.0, 0.3, -2.25, 0.01]);
        let ops = (0..r.range(0, 12))
            .map(|_| match r.below(100) {
                0..=19 => Op::Set(at(r), r.below(512) as u16, value(r)),
                20..=39 => {
                    let len = if r.chance(80) {
                        r.range(1, 40)
                    } else {
                        r.range(40, 520)
                    };
                    Op::Burst(at(r), r.below(512) as u16, len as u16, value(r))
                }
                40..=49 => Op::Off(at(r), r.below(512) as u16),
                50..=69 => {
                    let active = r.chance(60);
                    Op::FillLeaf(at(r), value(r), active)
                }
                70..=74 => {
                    let active = r.chance(50);
                    Op::FillLower(at(r), value(r), active)
                }
                75..=80 => Op::Dense(r.pick(&[1, 1, 2, 3])),
                81..=84 => Op::PromoteTiny,
                85..=92 => Op::Compact,
                _ => Op::Check,
            })
            .collect();
        Case {
            layout,
            tile,
            origin,
            tensors,
            ops,
            x_seed: r.0.next_u64(),
        }
    }
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        // Two draws: quickcheck picks a "problem value" (0, 1, max...) one
        // time in ten, which would repeat cases.
        let seed = u64::arbitrary(g).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::arbitrary(g);
        Case::generate(&mut Rng(SplitMix64::new(seed)))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut out = Vec::new();
        if !self.ops.is_empty() {
            out.push(Case {
                ops: Vec::new(),
                ..self.clone()
            });
            for i in 0..self.ops.len() {
                let mut c = self.clone();
                c.ops.remove(i);
                out.push(c);
            }
        }
        if self.tensors.len() > 1 {
            for i in 0..self.tensors.len() {
                let mut c = self.clone();
                c.tensors.remove(i);
                out.push(c);
            }
        }
        for i in 0..self.tensors.len() {
            for d in 0..self.tensors[i].shape.len() {
                let n = self.tensors[i].shape[d];
                for smaller in [n / 2, n - n.min(1)] {
                    if smaller >= 1 && smaller < n {
                        let mut c = self.clone();
                        c.tensors[i].shape[d] = smaller;
                        out.push(c);
                    }
                }
            }
        }
        if self.origin != [0; 3] {
            out.push(Case {
                origin: [0; 3],
                ..self.clone()
            });
        }
        Box::new(out.into_iter())
    }
}

/// The origin of the leaf slot `at` points to.
fn leaf_at(plan: &LayoutPlan, at: At) -> Coord {
    let (At::First(t) | At::Last(t) | At::PastEnd(t) | At::NodeStart(t, _) | At::Any(t, _)) = at;
    let mut candidates: Vec<&PlannedTensor> = plan.tensors().iter().collect();
    if let At::NodeStart(..) = at {
        // a tensor crossing a lower node boundary, if any
        let crossing: Vec<_> = plan
            .tensors()
            .iter()
            .filter(|t| match t.slots() {
                Some(s) => !s.is_empty() && s.start / LOWER_SLOTS != (s.end - 1) / LOWER_SLOTS,
                None => false,
            })
            .collect();
        if !crossing.is_empty() {
            candidates = crossing;
        }
    }
    let t = candidates[usize::from(t) % candidates.len()];
    let geom = Tiles::of(t).expect("a tiled tensor");
    let (count, n_tj) = (geom.tile_count(), geom.tiles_per_row().max(1));
    let o = t.origin();
    let k = match at {
        At::First(_) => 0,
        At::Last(_) => count.saturating_sub(1),
        At::PastEnd(_) => count,
        At::NodeStart(_, d) => {
            let k = match t.fold() {
                Fold::Packed { first_slot, .. } => {
                    (first_slot / LOWER_SLOTS + 1) * LOWER_SLOTS - first_slot
                }
                // the first tile row whose leaves lie in the next lower node
                _ => ((128 - o[0].rem_euclid(128)) / 8 % 16) as u64 * n_tj as u64,
            };
            (k as i64 + i64::from(d)).clamp(0, count as i64) as usize
        }
        At::Any(_, r) => r as usize % (count + 1),
    };
    let l = match t.fold() {
        Fold::Packed { first_slot, .. } => slot_to_leaf(first_slot + k as u64),
        _ => [(k / n_tj) as u64, (k % n_tj) as u64, 0],
    };
    Coord::new(
        o[0] + 8 * l[0] as i32,
        o[1] + 8 * l[1] as i32,
        o[2] + 8 * l[2] as i32,
    )
}

/// Voxel `n` of the leaf at `o` (the fold's voxel order: x slowest).
fn voxel(o: Coord, n: u16) -> Coord {
    let n = i32::from(n % 512);
    Coord::new(o.x + (n >> 6), o.y + ((n >> 3) & 7), o.z + (n & 7))
}

fn apply(g: &mut WeightGrid, op: Op) {
    let plan = g.plan().clone();
    match op {
        Op::Set(at, n, v) => g.tree.set_value(voxel(leaf_at(&plan, at), n), v),
        Op::Burst(at, n, len, v) => {
            let o = leaf_at(&plan, at);
            for d in 0..len {
                g.tree
                    .set_value(voxel(o, n.wrapping_add(d)), v + f32::from(d) / 16.0);
            }
        }
        Op::Off(at, n) => g.tree.set_active(voxel(leaf_at(&plan, at), n), false),
        Op::FillLeaf(at, v, active) | Op::FillLower(at, v, active) => {
            let (o, side) = match op {
                Op::FillLeaf(..) => (leaf_at(&plan, at), 8),
                _ => (leaf_at(&plan, at).mask(!127), 128),
            };
            let max = Coord::new(o.x + side - 1, o.y + side - 1, o.z + side - 1);
            let v = if active { v } else { 0.0 };
            g.tree.fill(&CoordBBox::new(o, max), v, active);
        }
        Op::Dense(k) => g
            .tree
            .leaves_mut()
            .enumerate()
            .filter(|(i, _)| i % usize::from(k.max(1)) == 0)
            .for_each(|(_, l)| {
                l.make_dense();
            }),
        Op::PromoteTiny => g.tree.promote_tiny_leaves(),
        Op::Compact => g.tree.compact(),
        Op::Check => {}
    }
}

/// What the checked grids held, counted over the whole run (a generator
/// that stops producing one of them fails the test): a packed tensor with
/// tiny leaves in two or more lower nodes; a lower node holding tiny leaves
/// and leaf objects in one tensor's slots; an active tile in a leaf slot of a
/// packed tensor; a dense leaf; an active tile above the leaf level over a
/// packed tensor; a slab tensor (the walker's path).
static SEEN: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
const SEEN_NAMES: [&str; 6] = [
    "tiny leaves in 2+ lower nodes of a tensor",
    "tiny leaves and leaf objects in one node",
    "active leaf tile",
    "dense leaf",
    "tile above the leaf level",
    "slab tensor",
];

fn record(g: &WeightGrid) {
    let seen = |i: usize| {
        SEEN[i].fetch_add(1, Ordering::Relaxed);
    };
    if g.tree().leaves().any(|l| l.is_dense()) {
        seen(3);
    }
    for t in g.plan().tensors() {
        let Some(geom) = Tiles::of(t) else { continue };
        let mut tiny_nodes = 0;
        let packed = geom.for_each_packed_node(|c, lo, hi, _| match lower_at(g.tree().root(), c) {
            Lower::Node(lower) => {
                let (mut tiny, mut object) = (false, false);
                for s in lo..hi {
                    match lower.leaf(s) {
                        Some(l) if l.is_tiny() => tiny = true,
                        Some(_) => object = true,
                        None => {
                            if let Some((_, true)) = lower.tile(s) {
                                seen(2);
                            }
                        }
                    }
                }
                tiny_nodes += usize::from(tiny);
                if tiny && object {
                    seen(1);
                }
            }
            Lower::Tile(_) => seen(4),
            Lower::Empty => {}
        });
        if tiny_nodes >= 2 {
            seen(0);
        }
        if !packed {
            seen(5);
        }
    }
}

/// Both products of every tensor: the reference's bits, and near the exact
/// products of the loaded matrix.
fn check(g: &WeightGrid, x_seed: u64, when: &str) -> Result<(), String> {
    record(g);
    let bits = |v: &[f32]| v.iter().map(|w| w.to_bits()).collect::<Vec<_>>();
    for t in g.plan().tensors() {
        let name = t.name();
        let (x, xt) = (values(t.cols(), x_seed), values(t.rows(), x_seed ^ 1));
        let what = |p: &str| format!("{when}: {p} of `{name}` {:?} ({})", t.shape(), t.fold());
        let mv = g
            .matvec(name, &x)
            .map_err(|e| format!("{}: {e}", what("matvec")))?;
        let mvt = g
            .matvec_t(name, &xt)
            .map_err(|e| format!("{}: {e}", what("matvec_t")))?;
        for (p, y, want) in [
            ("matvec", &mv, reference(g, name, &x, false)),
            ("matvec_t", &mvt, reference(g, name, &xt, true)),
        ] {
            if bits(y) != bits(&want) {
                let i = y
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a.to_bits() != b.to_bits())
                    .unwrap_or(0);
                return Err(format!(
                    "{}: y[{i}] = {:?}, the reference gives {:?}",
                    what(p),
                    y.get(i),
                    want.get(i)
                ));
            }
        }
        let d = g.load(name).map_err(|e| format!("{}: {e}", what("load")))?;
        for (p, y, x, transpose) in [("matvec", &mv, &x, false), ("matvec_t", &mvt, &xt, true)] {
            near_exact(y, d.data(), t.cols(), x, transpose)
                .map_err(|e| format!("{}: {e}", what(p)))?;
        }
    }
    Ok(())
}

/// `y` against the product of the loaded matrix `w` (`cols` columns)
/// computed in f64: within 1e-4 of `Σ|w·x|` per entry. The f32 sums of the
/// grid and of a dense product both round, and over an active tile above
/// the leaf level (tens of thousands of equal weights) they drift apart by
/// more than `close`'s 1e-4 of the largest entry; a wrong index or a lost
/// term moves an entry by a whole term.
fn near_exact(y: &[f32], w: &[f32], cols: usize, x: &[f32], transpose: bool) -> Result<(), String> {
    let mut exact = vec![(0.0f64, 0.0f64); y.len()];
    for (k, &w) in w.iter().enumerate() {
        let (r, c) = (k / cols, k % cols);
        let (i, xv) = if transpose { (c, x[r]) } else { (r, x[c]) };
        let p = f64::from(w) * f64::from(xv);
        exact[i].0 += p;
        exact[i].1 += p.abs();
    }
    for (i, (&y, &(e, abs))) in y.iter().zip(&exact).enumerate() {
        if (f64::from(y) - e).abs() > 1e-4 * abs + 1e-6 {
            return Err(format!(
                "y[{i}] = {y}, the exact product gives {e} (Σ|w·x| = {abs})"
            ));
        }
    }
    Ok(())
}

fn run(case: Case) -> Result<(), String> {
    let specs: Vec<TensorSpec> = case
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| TensorSpec::new(format!("t{i}"), t.shape.clone()))
        .collect();
    let opts = PlanOptions {
        layout: case.layout,
        tile: Some(TileShape::new(case.tile).expect("a tile width")),
        origin: case.origin,
        ..Default::default()
    };
    let plan = LayoutPlan::from_tensors(&specs, &opts).map_err(|e| format!("plan: {e}"))?;
    let mut g = WeightGrid::new(plan);
    for (spec, t) in specs.iter().zip(&case.tensors) {
        let (w, rule) = t.values();
        g.store(&spec.name, &spec.shape, &w[..], rule)
            .map_err(|e| format!("store `{}`: {e}", spec.name))?;
    }
    check(&g, case.x_seed, "after the stores")?;
    for (i, &op) in case.ops.iter().enumerate() {
        match op {
            Op::Check => check(&g, case.x_seed, &format!("after op {i}"))?,
            op => apply(&mut g, op),
        }
    }
    check(&g, case.x_seed, "at the end")
}

/// Cases per run: `SPARSEVDB_PROPTEST_SCALE` multiplies them, as in the tree
/// crate's properties.
const CASES: u64 = 400;

fn scale() -> f64 {
    std::env::var("SPARSEVDB_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn qc() -> QuickCheck {
    let n = ((CASES as f64 * scale()).ceil() as u64).max(1);
    let g = match std::env::var("SPARSEVDB_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => Gen::from_size_and_seed(100, seed),
        None => Gen::new(100),
    };
    QuickCheck::new().tests(n).max_tests(n).rng(g)
}

/// Random structure under both products, compared bit for bit with
/// `reference` (a tile-by-tile accessor walk) and closely with the exact
/// product of the loaded matrix, and never a panic: plans of 1–4 tensors (random shapes, edge
/// sizes off the tile grid, vectors, empty tensors, sometimes a filler of
/// thousands of thin tiles so that the next tensors cross lower nodes, and
/// rarely a tensor of more than 4096 full tiles), one random tile shape, both
/// layouts, random origins; stores under every kind of rule (keep all,
/// thresholds, sparsity 0.5 / 0.9 / 0.99 / 1, constant tensors that become
/// active tiles, banded densities that mix tiny leaves, leaf objects and full
/// leaves in one lower node); then random tree mutations at the tensors'
/// first and last tiles, the slot after them, around their lower-node
/// boundaries or anywhere: voxel writes (tiny leaves promoted past 16 active
/// voxels), deactivations, whole-leaf and whole-lower-node fills (active
/// tiles, or removal), dense leaves, promotion of tiny leaves, `compact`.
#[test]
fn products_match_the_reference_under_random_structure() {
    qc().quickcheck(run as fn(Case) -> Result<(), String>);
    if scale() >= 1.0 {
        let seen: Vec<u64> = SEEN.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        assert!(seen.iter().all(|&n| n > 0), "seen {SEEN_NAMES:?}: {seen:?}");
    }
}
