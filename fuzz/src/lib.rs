//! The harness shared by sparsevdb's fuzz targets (see `fuzz/README.md`).
//!
//! Fuzz inputs are decoded (through [`arbitrary::Unstructured`], one byte per choice,
//! little-endian integers, zero-padded when the input runs out) into scripts of tree
//! operations. Each script is applied to a `sparsevdb_tree::Tree<f32, L2, L1, L0, D>` and
//! to the voxel-wise oracle of `crates/tree/tests/support/model.rs` (the same model the
//! property tests use, included here as [`model`]); after every operation [`check`]
//! compares the two (probes, counts, bounding boxes, iteration) and runs the tree's own
//! consistency checks and `validate()`. Any disagreement panics, which libFuzzer
//! reports as a crash.
//!
//! Coordinates are biased toward node boundaries (multiples of 8, 128, 4096, 2^20 and
//! 2^30 plus −1, 0 or +1, negative as often as positive), the `i32` extremes, and
//! toward earlier coordinates of the same script (so that operations interact). Values
//! come from small sets (so that equal values, prune collapses and background matches
//! happen); fill boxes are at most 25 voxels per axis, so that the model stays cheap
//! and no active tile larger than a leaf can appear (the model cannot represent one).
//!
//! [`Encoder`] writes the bytes that decode to a given script: the seed corpora
//! (`fuzz/corpus/*`) are made with it by `tests/seeds.rs`.

#![forbid(unsafe_code)]

#[path = "../../crates/tree/tests/support/model.rs"]
pub mod model;

use std::collections::{HashMap, HashSet};
use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use model::{box_coords, box_empty, box_volume, CompKind, Model, ModelValue, NodeSet};
use sparsevdb_tree::{Coord, CoordBBox, Tree};

/// Values written, used as backgrounds and as `prune_inactive_with_value` values.
pub const VALUES: [f32; 9] = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -3.0, 100.0];
/// Prune tolerances (zero twice as likely).
pub const TOLERANCES: [f32; 7] = [0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 1000.0];
/// Increments applied by `modify_value`.
pub const DELTAS: [f32; 6] = [1.0, -1.0, 0.5, 0.0, -0.0, 2.0];
/// Longest script decoded from one input (keeps executions fast and the model small).
pub const MAX_OPS: usize = 48;
/// Longest accessor batch.
pub const MAX_BATCH: usize = 16;
/// Largest extent of a fill box, per axis, minus one.
pub const MAX_EXTENT: i64 = 24;

const SCALES: [i64; 6] = [1, 8, 128, 4096, 1 << 20, 1 << 30];

fn clamp32(v: i64) -> i32 {
    v.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// `c + d`, clamped to the `i32` range per axis.
pub fn offset(c: Coord, d: [i64; 3]) -> Coord {
    Coord::new(
        clamp32(c.x as i64 + d[0]),
        clamp32(c.y as i64 + d[1]),
        clamp32(c.z as i64 + d[2]),
    )
}

// ---- scripts ----------------------------------------------------------------------------

/// A point operation, through the tree or through a mutable accessor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Point {
    /// `set_value`.
    Set(Coord, f32),
    /// `set_value_off`.
    Off(Coord, f32),
    /// `set_value_only`.
    Only(Coord, f32),
    /// `set_active`.
    Active(Coord, bool),
    /// `modify_value(|v| *v += d)`.
    Add(Coord, f32),
    /// A read (in an accessor batch: compared on the spot).
    Probe(Coord),
}

impl Point {
    /// The coordinate the operation touches.
    pub fn coord(&self) -> Coord {
        match *self {
            Point::Set(c, _)
            | Point::Off(c, _)
            | Point::Only(c, _)
            | Point::Active(c, _)
            | Point::Add(c, _)
            | Point::Probe(c) => c,
        }
    }
}

/// One operation on a tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A point write (or read) through the tree.
    Point(Point),
    /// `fill(box, v, active)`.
    Fill(CoordBBox, f32, bool),
    /// `dense_fill(box, v, active)`.
    DenseFill(CoordBBox, f32, bool),
    /// `prune(tol)`.
    Prune(f32),
    /// `prune_inactive()`.
    PruneInactive,
    /// `prune_inactive_with_value(v)`.
    PruneInactiveWith(f32),
    /// `voxelize_active_tiles()`.
    Voxelize,
    /// `clip(box)`.
    Clip(CoordBBox),
    /// `set_background(v)`.
    SetBackground(f32),
    /// `clear()`.
    Clear,
    /// `compact()`: small leaves become tiny leaves (decision 0011); no value or
    /// state changes.
    Compact,
    /// `leaves_mut()` run through: every tiny leaf becomes a leaf object; no value or
    /// state changes.
    PromoteTiny,
    /// `fill(block, v, false)` of the whole aligned block of level 1 (a lower node's
    /// region) or 2 (an upper node's) holding the coordinate: an internal or root
    /// tile, kept by the model as one region.
    BlockFill(u8, Coord, f32),
    /// Point operations through one `accessor_mut()`.
    Accessor(Vec<Point>),
}

/// A combination of the A tree with an operand tree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Combo {
    /// `comp_sum` / `comp_mul` / `comp_max` / `comp_min`.
    Comp(CompKind),
    /// `comp_replace`.
    Replace,
    /// `combine` with [`custom`].
    Combine,
    /// `topology_union`.
    Union,
    /// `topology_intersection`.
    Intersection,
    /// `topology_difference`.
    Difference,
    /// `merge` (of a clone: the operand is kept for later steps).
    Merge,
}

/// One step of a combination script.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// An operation on A (any [`Op`]).
    A(Op),
    /// An operation on B (point writes, fills, prunes).
    B(Op),
    /// A ∘= B, or A ∘= a copy of A when `self_operand`.
    Combo(Combo, bool),
}

/// Input of the `ops` / `ops_config2` targets: a background and operations.
#[derive(Clone, PartialEq)]
pub struct Script {
    /// The tree's initial background.
    pub background: f32,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// Input of the `combine` target: two backgrounds and steps.
#[derive(Clone, PartialEq)]
pub struct ComboScript {
    /// A's initial background.
    pub background_a: f32,
    /// B's initial background.
    pub background_b: f32,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Script {{ background: {:?}, ops: [", self.background)?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  {i:3}: {op:?}")?;
        }
        write!(f, "] }}")
    }
}

impl fmt::Debug for ComboScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ComboScript {{ background_a: {:?}, background_b: {:?}, steps: [",
            self.background_a, self.background_b
        )?;
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "  {i:3}: {s:?}")?;
        }
        write!(f, "] }}")
    }
}

// ---- decoding ---------------------------------------------------------------------------

/// Reads choices from the input; remembers the last coordinate and every fresh one
/// (anchors) so that later coordinates can be relative to them.
struct Decoder<'a, 'b> {
    u: &'b mut Unstructured<'a>,
    last: Coord,
    anchors: Vec<Coord>,
}

const COMBOS: [Combo; 10] = [
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

impl<'a, 'b> Decoder<'a, 'b> {
    fn new(u: &'b mut Unstructured<'a>) -> Self {
        Decoder {
            u,
            last: Coord::new(0, 0, 0),
            anchors: Vec::new(),
        }
    }

    fn done(&self) -> bool {
        self.u.is_empty()
    }

    fn byte(&mut self) -> u8 {
        u8::arbitrary(self.u).unwrap_or(0)
    }

    fn i32(&mut self) -> i32 {
        i32::arbitrary(self.u).unwrap_or(0)
    }

    fn value(&mut self) -> f32 {
        VALUES[self.byte() as usize % VALUES.len()]
    }

    fn small(&mut self) -> i64 {
        (self.byte() as i8 as i64) % 10
    }

    fn component(&mut self) -> i32 {
        let a = self.byte();
        match a % 8 {
            6 => {
                let b = self.byte();
                if b & 0x80 != 0 {
                    i32::MIN + (b & 31) as i32
                } else {
                    i32::MAX - (b & 31) as i32
                }
            }
            7 => self.i32(),
            s => {
                let delta = ((a >> 3) % 3) as i64 - 1;
                let mult = self.byte() as i8 as i64;
                clamp32(mult * SCALES[s as usize] + delta)
            }
        }
    }

    fn coord(&mut self) -> Coord {
        let k = self.byte();
        let c = match k % 4 {
            1 => {
                let d = [self.small(), self.small(), self.small()];
                offset(self.last, d)
            }
            2 => {
                let d = [0; 3].map(|_: i64| self.byte() as i8 as i64);
                offset(self.last, d)
            }
            3 if !self.anchors.is_empty() => {
                let a = self.anchors[(k >> 2) as usize % self.anchors.len()];
                let d = [self.small(), self.small(), self.small()];
                offset(a, d)
            }
            _ => {
                let c = Coord::new(self.component(), self.component(), self.component());
                self.anchors.push(c);
                c
            }
        };
        self.last = c;
        c
    }

    /// A box extent minus one: mostly 0..=5, sometimes up to [`MAX_EXTENT`] (bytes
    /// 200..=255), so that most fills are cheap for the model and the checks.
    fn extent(&mut self) -> i64 {
        let b = self.byte();
        if b >= 200 {
            (b - 200) as i64 % (MAX_EXTENT + 1)
        } else {
            b as i64 % 6
        }
    }

    fn fill_box(&mut self) -> CoordBBox {
        let k = self.byte();
        let c = self.coord();
        match k % 8 {
            0 => {
                // Whole aligned leaf blocks: leaf-level tiles appear.
                let o = model::block_origin(c, 3);
                let d = [0; 3].map(|_: i64| [8i64, 8, 8, 16, 24][self.byte() as usize % 5] - 1);
                CoordBBox::new(o, offset(o, d))
            }
            1 => {
                // Inverted on one axis: empty.
                let mut d = [0i64; 3];
                d[self.byte() as usize % 3] = -1;
                CoordBBox::new(c, offset(c, d))
            }
            _ => {
                let d = [self.extent(), self.extent(), self.extent()];
                CoordBBox::new(c, offset(c, d))
            }
        }
    }

    fn clip_box(&mut self) -> CoordBBox {
        let k = self.byte();
        match k % 8 {
            0..=2 => {
                let c = self.coord();
                let lo = [0; 3].map(|_: i64| -self.extent());
                let hi = [0; 3].map(|_: i64| self.extent());
                CoordBBox::new(offset(c, lo), offset(c, hi))
            }
            3..=5 => {
                // Faces on the 128-grid (cheap for the tree at any extent), some axes open.
                let a = self.coord().to_array();
                let mut lo = [0i32; 3];
                let mut hi = [0i32; 3];
                for i in 0..3 {
                    let f = self.byte();
                    if f % 4 == 0 {
                        lo[i] = i32::MIN;
                        hi[i] = i32::MAX;
                    } else {
                        let base = (a[i] as i64) >> 7 << 7;
                        lo[i] = clamp32(base - 128 * ((f >> 2) % 8) as i64);
                        hi[i] = clamp32(base + 128 * ((f >> 5) as i64) + 127);
                    }
                }
                CoordBBox::new(Coord::from(lo), Coord::from(hi))
            }
            6 => CoordBBox::new(Coord::MIN, Coord::MAX),
            _ => CoordBBox::new(Coord::splat(1), Coord::splat(0)),
        }
    }

    fn point(&mut self, kind: u8) -> Point {
        let c = self.coord();
        match kind % 5 {
            0 => Point::Set(c, self.value()),
            1 => Point::Off(c, self.value()),
            2 => Point::Only(c, self.value()),
            3 => Point::Active(c, self.byte() & 1 == 1),
            _ => Point::Add(c, DELTAS[self.byte() as usize % DELTAS.len()]),
        }
    }

    /// Any operation (`restricted`: only those a combination operand may get: point
    /// writes, fills and prunes, which keep the model free of regions).
    fn op(&mut self, restricted: bool) -> Op {
        let tag = self.byte();
        if restricted {
            return match tag % 8 {
                0..=4 => Op::Point(self.point(tag % 5)),
                5 => Op::Fill(self.fill_box(), self.value(), self.byte() & 1 == 1),
                6 => Op::DenseFill(self.fill_box(), self.value(), self.byte() & 1 == 1),
                _ => Op::Prune(TOLERANCES[self.byte() as usize % TOLERANCES.len()]),
            };
        }
        match tag % 16 {
            0..=4 => Op::Point(self.point(tag % 5)),
            5 => Op::Fill(self.fill_box(), self.value(), self.byte() & 1 == 1),
            6 => Op::DenseFill(self.fill_box(), self.value(), self.byte() & 1 == 1),
            7 => Op::Prune(TOLERANCES[self.byte() as usize % TOLERANCES.len()]),
            8 => Op::PruneInactive,
            9 => Op::PruneInactiveWith(self.value()),
            10 => Op::Voxelize,
            11 => Op::Clip(self.clip_box()),
            12 => Op::SetBackground(self.value()),
            13 => match self.byte() % 3 {
                0 => Op::Clear,
                1 => Op::Compact,
                _ => Op::PromoteTiny,
            },
            15 => {
                let level = 1 + (self.byte() & 1);
                Op::BlockFill(level, self.coord(), self.value())
            }
            _ => {
                let n = self.byte() as usize % MAX_BATCH + 1;
                let batch = (0..n)
                    .map(|_| {
                        let k = self.byte();
                        if k % 4 == 0 {
                            Point::Probe(self.coord())
                        } else {
                            self.point(k >> 2)
                        }
                    })
                    .collect();
                Op::Accessor(batch)
            }
        }
    }
}

impl<'a> Arbitrary<'a> for Script {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut d = Decoder::new(u);
        let background = d.value();
        let mut ops = Vec::new();
        while !d.done() && ops.len() < MAX_OPS {
            ops.push(d.op(false));
        }
        Ok(Script { background, ops })
    }
}

impl<'a> Arbitrary<'a> for ComboScript {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut d = Decoder::new(u);
        let background_a = d.value();
        let background_b = d.value();
        let mut steps = Vec::new();
        while !d.done() && steps.len() < MAX_OPS {
            let tag = d.byte();
            steps.push(match tag % 8 {
                0..=2 => Step::A(d.op(false)),
                3..=5 => Step::B(d.op(true)),
                _ => {
                    let k = d.byte();
                    Step::Combo(COMBOS[(k & 15) as usize % COMBOS.len()], k >> 5 == 7)
                }
            });
        }
        Ok(ComboScript {
            background_a,
            background_b,
            steps,
        })
    }
}

// ---- encoding (for seeds) -------------------------------------------------------------

/// Writes the bytes that [`Script`] / [`ComboScript`] decode back to the given
/// operations. Coordinates are written exactly (as raw `i32`s), boxes as a corner and
/// extents (so a fill or clip box must be at most 25 voxels per axis; a clip box may
/// also be the whole space, and any box may be empty); values must be members of [`VALUES`] (tolerances of
/// [`TOLERANCES`], increments of [`DELTAS`]).
#[derive(Default)]
pub struct Encoder {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
}

fn index_of(set: &[f32], v: f32) -> u8 {
    set.iter()
        .position(|s| s.to_bits() == v.to_bits())
        .unwrap_or_else(|| panic!("{v} is not in {set:?}")) as u8
}

impl Encoder {
    fn byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    fn value(&mut self, v: f32) {
        self.byte(index_of(&VALUES, v));
    }

    fn coord(&mut self, c: Coord) {
        self.byte(0);
        for v in c.to_array() {
            self.byte(7);
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn extents(&mut self, b: &CoordBBox) {
        let (lo, hi) = (b.min().to_array(), b.max().to_array());
        for i in 0..3 {
            let d = hi[i] as i64 - lo[i] as i64;
            assert!(
                (0..=MAX_EXTENT).contains(&d),
                "box {b:?} too large to encode"
            );
            self.byte(if d <= 5 { d as u8 } else { 200 + d as u8 });
        }
    }

    fn fill_box(&mut self, b: &CoordBBox) {
        if box_empty(b) {
            // Inverted on the x axis (the decoder's box is [c, c - 1] on x).
            let c = b.min();
            self.byte(1);
            self.coord(c);
            self.byte(0);
            return;
        }
        self.byte(2);
        self.coord(b.min());
        self.extents(b);
    }

    fn clip_box(&mut self, b: &CoordBBox) {
        if *b == CoordBBox::new(Coord::MIN, Coord::MAX) {
            self.byte(6);
        } else if box_empty(b) {
            self.byte(7);
        } else {
            self.byte(0);
            self.coord(b.min());
            self.bytes.extend_from_slice(&[0, 0, 0]);
            self.extents(b);
        }
    }

    fn point(&mut self, p: &Point, tag_base: u8) {
        // The point kind is `tag % 5` (op tags 0..=4; batch entries `k >> 2`).
        let (kind, c) = match *p {
            Point::Set(c, _) => (0, c),
            Point::Off(c, _) => (1, c),
            Point::Only(c, _) => (2, c),
            Point::Active(c, _) => (3, c),
            Point::Add(c, _) => (4, c),
            Point::Probe(_) => unreachable!("a probe is written by the batch"),
        };
        self.byte(tag_base + kind);
        self.coord(c);
        match *p {
            Point::Set(_, v) | Point::Off(_, v) | Point::Only(_, v) => self.value(v),
            Point::Active(_, on) => self.byte(on as u8),
            Point::Add(_, d) => self.byte(index_of(&DELTAS, d)),
            Point::Probe(_) => {}
        }
    }

    /// Writes one operation (as an A operation when `restricted` is false).
    pub fn op(&mut self, op: &Op, restricted: bool) {
        let tag = |full: u8, small: u8| if restricted { small } else { full };
        match op {
            Op::Point(p) => self.point(p, 0),
            Op::Fill(b, v, on) | Op::DenseFill(b, v, on) => {
                self.byte(if matches!(op, Op::Fill(..)) {
                    tag(5, 5)
                } else {
                    tag(6, 6)
                });
                self.fill_box(b);
                self.value(*v);
                self.byte(*on as u8);
            }
            Op::Prune(t) => {
                self.byte(7);
                self.byte(index_of(&TOLERANCES, *t));
            }
            _ if restricted => panic!("{op:?} is not an operand operation"),
            Op::PruneInactive => self.byte(8),
            Op::PruneInactiveWith(v) => {
                self.byte(9);
                self.value(*v);
            }
            Op::Voxelize => self.byte(10),
            Op::Clip(b) => {
                self.byte(11);
                self.clip_box(b);
            }
            Op::SetBackground(v) => {
                self.byte(12);
                self.value(*v);
            }
            Op::Clear => {
                self.byte(13);
                self.byte(0);
            }
            Op::Compact => {
                self.byte(13);
                self.byte(1);
            }
            Op::PromoteTiny => {
                self.byte(13);
                self.byte(2);
            }
            Op::BlockFill(level, c, v) => {
                assert!(*level == 1 || *level == 2);
                self.byte(15);
                self.byte(level - 1);
                self.coord(*c);
                self.value(*v);
            }
            Op::Accessor(batch) => {
                assert!((1..=MAX_BATCH).contains(&batch.len()));
                self.byte(14);
                self.byte(batch.len() as u8 - 1);
                for p in batch {
                    match p {
                        Point::Probe(c) => {
                            self.byte(0);
                            self.coord(*c);
                        }
                        // The batch byte is `k` with `k % 4 != 0`; the kind is `k >> 2`.
                        p => {
                            let start = self.bytes.len();
                            self.point(p, 0);
                            let kind = self.bytes[start];
                            self.bytes[start] = (kind << 2) | 1;
                        }
                    }
                }
            }
        }
    }

    /// The bytes of a whole [`Script`].
    pub fn script(s: &Script) -> Vec<u8> {
        let mut e = Encoder::default();
        e.value(s.background);
        for op in &s.ops {
            e.op(op, false);
        }
        e.bytes
    }

    /// The bytes of a whole [`ComboScript`].
    pub fn combo_script(s: &ComboScript) -> Vec<u8> {
        let mut e = Encoder::default();
        e.value(s.background_a);
        e.value(s.background_b);
        for step in &s.steps {
            match step {
                Step::A(op) => {
                    e.byte(0);
                    e.op(op, false);
                }
                Step::B(op) => {
                    e.byte(3);
                    e.op(op, true);
                }
                Step::Combo(c, self_operand) => {
                    e.byte(6);
                    let i = COMBOS.iter().position(|x| x == c).unwrap() as u8;
                    e.byte(i | if *self_operand { 7 << 5 } else { 0 });
                }
            }
        }
        e.bytes
    }
}

// ---- applying and checking ----------------------------------------------------------------

/// SplitMix64, for the checker's sampling.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

/// The function `combine` is fuzzed with: asymmetric, so that swapped operands show.
pub fn custom(a: f32, b: f32) -> f32 {
    if a < b {
        b + b
    } else {
        a + -b
    }
}

fn same(a: (f32, bool), b: (f32, bool)) -> bool {
    f32::same(a.0, b.0) && a.1 == b.1
}

fn apply_point_model(m: &mut Model<f32>, p: &Point) {
    match *p {
        Point::Set(c, v) => m.set_value(c, v),
        Point::Off(c, v) => m.set_value_off(c, v),
        Point::Only(c, v) => m.set_value_only(c, v),
        Point::Active(c, on) => m.set_active(c, on),
        Point::Add(c, d) => m.modify_value(c, |v| *v += d),
        Point::Probe(_) => {}
    }
}

fn apply_point_tree<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &mut Tree<f32, L2, L1, L0, D>,
    p: &Point,
) {
    match *p {
        Point::Set(c, v) => t.set_value(c, v),
        Point::Off(c, v) => t.set_value_off(c, v),
        Point::Only(c, v) => t.set_value_only(c, v),
        Point::Active(c, on) => t.set_active(c, on),
        Point::Add(c, d) => t.modify_value(c, |v| *v += d),
        Point::Probe(_) => {}
    }
}

/// Corners of `b`, the voxels just outside them, and a few inside.
fn box_probes(b: &CoordBBox, rng: &mut Rng, out: &mut Vec<Coord>) {
    if box_empty(b) {
        out.push(b.min());
        out.push(b.max());
        return;
    }
    let (lo, hi) = (b.min(), b.max());
    for i in 0..8 {
        let pick = |bit: i32, l: i32, h: i32| if i & bit == 0 { l } else { h };
        let c = Coord::new(
            pick(1, lo.x, hi.x),
            pick(2, lo.y, hi.y),
            pick(4, lo.z, hi.z),
        );
        out.push(c);
        let s = |bit: i32| if i & bit == 0 { -1 } else { 1 };
        out.push(offset(c, [s(1), s(2), s(4)]));
        out.push(offset(c, [s(1), 0, 0]));
    }
    for _ in 0..6 {
        let r = |l: i32, h: i32, rng: &mut Rng| rng.range(l as i64, h as i64) as i32;
        out.push(Coord::new(
            r(lo.x, hi.x, rng),
            r(lo.y, hi.y, rng),
            r(lo.z, hi.z, rng),
        ));
    }
}

/// Applies `op` to the tree and to the model; pushes the coordinates worth probing.
pub fn apply<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &mut Tree<f32, L2, L1, L0, D>,
    m: &mut Model<f32>,
    op: &Op,
    rng: &mut Rng,
    probes: &mut Vec<Coord>,
) {
    match op {
        Op::Point(p) => {
            apply_point_tree(t, p);
            apply_point_model(m, p);
            let c = p.coord();
            probes.push(c);
            for d in [
                [1, 0, 0],
                [-1, 0, 0],
                [0, 1, 0],
                [0, -1, 0],
                [0, 0, 1],
                [0, 0, -1],
            ] {
                probes.push(offset(c, d));
            }
        }
        Op::Fill(b, v, on) => {
            t.fill(b, *v, *on);
            m.fill(b, *v, *on);
            box_probes(b, rng, probes);
        }
        Op::DenseFill(b, v, on) => {
            t.dense_fill(b, *v, *on);
            m.dense_fill(b, *v, *on);
            box_probes(b, rng, probes);
        }
        Op::Prune(tol) => {
            t.prune(*tol);
            m.prune(*tol);
        }
        Op::PruneInactive => {
            let nodes = NodeSet::of_tree(t);
            t.prune_inactive();
            m.prune_inactive(&nodes);
        }
        Op::PruneInactiveWith(v) => {
            let nodes = NodeSet::of_tree(t);
            t.prune_inactive_with_value(*v);
            m.prune_inactive_with_value(*v, &nodes);
        }
        Op::Voxelize => {
            t.voxelize_active_tiles();
            m.voxelize_active_tiles();
        }
        Op::Clip(b) => {
            t.clip(b);
            m.clip(b);
            box_probes(b, rng, probes);
        }
        Op::SetBackground(v) => {
            t.set_background(*v);
            m.set_background(*v);
        }
        Op::Clear => {
            t.clear();
            m.clear();
        }
        Op::Compact => t.compact(),
        Op::PromoteTiny => t.leaves_mut().for_each(|_| {}),
        Op::BlockFill(level, c, v) => {
            let log2 = m.log2[*level as usize];
            let b = model::block_box(model::block_origin(*c, log2), log2);
            t.fill(&b, *v, false);
            m.fill_inactive_block(*level as usize, *c, *v);
            box_probes(&b, rng, probes);
        }
        Op::Accessor(batch) => {
            let mut acc = t.accessor_mut();
            for p in batch {
                match *p {
                    Point::Set(c, v) => acc.set_value(c, v),
                    Point::Off(c, v) => acc.set_value_off(c, v),
                    Point::Only(c, v) => acc.set_value_only(c, v),
                    Point::Active(c, on) => acc.set_active(c, on),
                    Point::Add(c, d) => acc.modify_value(c, |v| *v += d),
                    Point::Probe(c) => {
                        let got = acc.probe_value(c);
                        let want = m.probe(c);
                        assert!(
                            same(got, want),
                            "accessor_mut probe at {c}: tree {got:?}, model {want:?}"
                        );
                        let (v, on) = (acc.get_value(c), acc.is_value_on(c));
                        assert!(
                            same((v, on), got),
                            "accessor_mut at {c}: get_value/is_value_on ({v:?}, {on}) vs probe {got:?}"
                        );
                    }
                }
                apply_point_model(m, p);
                probes.push(p.coord());
            }
        }
    }
    assert!(
        f32::same(t.background(), m.background),
        "background: tree {:?}, model {:?}",
        t.background(),
        m.background
    );
}

/// The position of `c` in OpenVDB's iteration order for the `L2-L1-L0` tree.
fn order_key(c: Coord, l: [u32; 3]) -> ([i32; 3], [i32; 3]) {
    let (t0, t1, t2) = (l[0], l[0] + l[1], l[0] + l[1] + l[2]);
    let a = c.to_array();
    let root = [a[0] >> t2, a[1] >> t2, a[2] >> t2];
    let local = |v: i32, lo: u32, bits: u32| (v >> lo) & ((1 << bits) - 1);
    let slot = |lo: u32, bits: u32| {
        (local(a[0], lo, bits) << (2 * bits))
            | (local(a[1], lo, bits) << bits)
            | local(a[2], lo, bits)
    };
    (root, [slot(t1, l[2]), slot(t0, l[1]), slot(0, l[0])])
}

/// Compares the tree's reads with the model's at `coords` (through the tree and
/// through one read accessor, whose cache the order exercises).
pub fn compare_probes<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &Tree<f32, L2, L1, L0, D>,
    m: &Model<f32>,
    coords: &[Coord],
    what: &str,
) {
    let acc = t.accessor();
    for &c in coords {
        let got = t.probe_value(c);
        let want = m.probe(c);
        assert!(
            same(got, want),
            "{what}: probe_value{c}: tree {got:?}, model {want:?} (value depth {})",
            t.value_depth(c)
        );
        let (v, on) = (t.get_value(c), t.is_value_on(c));
        assert!(
            same((v, on), got),
            "{what}: at {c} get_value/is_value_on ({v:?}, {on}) disagree with probe_value {got:?}"
        );
        let a = acc.probe_value(c);
        assert!(
            same(a, got) && same((acc.get_value(c), acc.is_value_on(c)), got),
            "{what}: accessor at {c}: {a:?}, tree {got:?}"
        );
        let depth = t.value_depth(c);
        assert!((-1..=3).contains(&depth), "value_depth{c} = {depth}");
        if depth == -1 {
            assert!(
                f32::same(got.0, t.background()) && !got.1,
                "{what}: {c} has depth -1 but reads {got:?}"
            );
        }
    }
}

/// Compares the tree with the model after an operation: `validate()`, probes, the
/// active voxel count and bounding box; when `full`, also the node counts and the
/// tree's self-consistency; and iteration (every active voxel, in order) when `full`
/// or when few voxels are active (it costs a hash-map entry per active voxel). Each
/// tree-wide walk costs a visit of every slot of every internal node (32768 per
/// upper node), which is what bounds the executions per second.
pub fn check<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &Tree<f32, L2, L1, L0, D>,
    m: &Model<f32>,
    probes: &[Coord],
    full: bool,
) {
    if let Err(e) = t.validate() {
        panic!("validate: {e}");
    }
    compare_probes(t, m, probes, "after op");
    let count = t.active_voxel_count();
    assert_eq!(count, m.active_voxel_count(), "active_voxel_count");
    assert_eq!(
        t.eval_active_bbox(),
        m.eval_active_bbox(),
        "eval_active_bbox"
    );
    if t.is_empty() {
        assert!(
            m.is_background_only(),
            "tree is_empty() but the model holds values"
        );
    }
    if full {
        check_structure(t);
    }
    if full || count <= 2048 {
        check_iteration(t, m, count);
    }
}

/// `iter_on` against the model: order, states, sizes, and exactly the model's active
/// voxels; `active_leaf_voxel_count` and `active_tile_count` against the items.
fn check_iteration<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &Tree<f32, L2, L1, L0, D>,
    m: &Model<f32>,
    count: u64,
) {
    // iter_on: order, states, sizes, and exactly the model's active voxels. (Internal
    // iteration, `for_each`, is the fast path of the tree's iterators.)
    let mut sum = 0u64;
    let mut leaf_sum = 0u64;
    let mut tiles = 0u64;
    let mut seen: HashMap<Coord, f32> = HashMap::with_capacity(count as usize);
    let mut last: Option<(([i32; 3], [i32; 3]), Coord)> = None;
    t.iter_on().for_each(|item| {
        let c = item.coord();
        assert!(item.is_active(), "iter_on yielded an inactive item at {c}");
        sum += item.voxel_count();
        if item.is_tile() {
            tiles += 1;
            assert!(item.level() >= 1, "a tile at level 0 at {c}");
        } else {
            assert_eq!(
                item.level(),
                0,
                "a voxel item at level {} at {c}",
                item.level()
            );
            assert_eq!(
                item.voxel_count(),
                1,
                "a voxel item of several voxels at {c}"
            );
            leaf_sum += 1;
        }
        let key = order_key(c, [L0, L1, L2]);
        if let Some((k, prev)) = last {
            assert!(key > k, "iter_on order: {c} after {prev}");
        }
        last = Some((key, c));
        assert!(
            item.voxel_count() <= 4096,
            "iter_on: an active tile of {} voxels at {c} (the scripts never make one)",
            item.voxel_count()
        );
        let b = item.bbox();
        assert_eq!(
            b.min(),
            c,
            "iter_on: bbox {b:?} does not start at the item's coord"
        );
        assert_eq!(
            box_volume(&b),
            item.voxel_count() as u128,
            "iter_on: bbox {b:?} vs voxel_count"
        );
        for v in box_coords(&b) {
            assert!(
                seen.insert(v, item.value()).is_none(),
                "iter_on visited {v} twice"
            );
        }
    });
    assert_eq!(
        sum, count,
        "sum of iter_on voxel_count vs active_voxel_count"
    );
    assert_eq!(
        leaf_sum,
        t.active_leaf_voxel_count(),
        "active_leaf_voxel_count"
    );
    assert_eq!(tiles, t.active_tile_count(), "active_tile_count");
    let active = m.active_voxels();
    assert_eq!(seen.len(), active.len(), "iter_on: active voxels vs model");
    for (c, v) in &active {
        match seen.get(c) {
            Some(tv) if f32::same(*tv, *v) => {}
            other => panic!("iter_on at {c}: tree {other:?}, model {v:?}"),
        }
    }
}

/// The tree against itself: node counts against the node iterators, the leaf bounding
/// box against the active one.
fn check_structure<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &Tree<f32, L2, L1, L0, D>,
) {
    let mut per_level = [0usize; 3];
    for n in t.nodes() {
        per_level[n.level() as usize] += 1;
    }
    assert_eq!(per_level[0], t.leaf_count(), "leaf_count vs nodes()");
    assert_eq!(t.leaves().count(), t.leaf_count(), "leaf_count vs leaves()");
    assert_eq!(
        per_level[1] + per_level[2] + 1,
        t.non_leaf_count(),
        "non_leaf_count vs nodes()"
    );
    match (t.eval_active_bbox(), t.eval_leaf_bbox()) {
        (None, None) => {}
        (Some(a), Some(l)) => assert!(
            l.contains_bbox(&a),
            "eval_leaf_bbox {l:?} does not contain eval_active_bbox {a:?}"
        ),
        (a, l) => panic!("eval_active_bbox {a:?} but eval_leaf_bbox {l:?}"),
    }
}

/// Remembers every probed coordinate and adds a sample of them to each op's probes.
#[derive(Default)]
pub struct Touched {
    list: Vec<Coord>,
    set: HashSet<Coord>,
}

impl Touched {
    /// Records `probes` and adds a sample of earlier coordinates (and their
    /// neighbourhoods) to them.
    pub fn add_and_sample(&mut self, probes: &mut Vec<Coord>, rng: &mut Rng) {
        for &c in probes.iter() {
            if self.set.insert(c) {
                self.list.push(c);
            }
        }
        if self.list.is_empty() {
            return;
        }
        for _ in 0..12 {
            let c = self.list[rng.below(self.list.len() as u64) as usize];
            probes.push(c);
            probes.push(offset(
                c,
                [rng.range(-9, 9), rng.range(-9, 9), rng.range(-9, 9)],
            ));
        }
    }

    /// Every coordinate recorded.
    pub fn all(&self) -> &[Coord] {
        &self.list
    }
}

/// The end of a script: every coordinate touched, every model voxel, the corners of
/// every model region.
pub fn final_sweep<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &Tree<f32, L2, L1, L0, D>,
    m: &Model<f32>,
    touched: &Touched,
) {
    let mut all: Vec<Coord> = touched.all().to_vec();
    all.extend(m.voxels.keys().copied());
    for (r, _) in &m.regions {
        all.push(r.min());
        all.push(r.max());
    }
    compare_probes(t, m, &all, "final sweep");

    // iter_off (every inactive tile and voxel, so only here): inactive items only, leaf
    // voxels agree with the count; and `next()` agrees with internal iteration.
    let mut off_leaf = 0u64;
    t.iter_off().for_each(|item| {
        assert!(
            !item.is_active(),
            "iter_off yielded an active item at {}",
            item.coord()
        );
        if !item.is_tile() {
            off_leaf += 1;
        }
    });
    assert_eq!(
        off_leaf,
        t.inactive_leaf_voxel_count(),
        "inactive_leaf_voxel_count"
    );
    let mut by_next = Vec::new();
    let mut it = t.iter_on();
    while let Some(i) = it.next() {
        by_next.push((i.coord(), i.level(), i.value().to_bits()));
    }
    let mut by_fold = Vec::new();
    t.iter_on()
        .for_each(|i| by_fold.push((i.coord(), i.level(), i.value().to_bits())));
    assert!(by_next == by_fold, "iter_on: next() and for_each disagree");
}

fn seed_of(bytes: usize, ops: usize) -> u64 {
    (bytes as u64) << 32 | ops as u64
}

/// Runs a [`Script`] on the `L2-L1-L0` tree against the model (the `ops` and
/// `ops_config2` targets).
pub fn run_script<const L2: u32, const L1: u32, const L0: u32, const D: bool>(s: &Script) {
    let mut t = Tree::<f32, L2, L1, L0, D>::with_background(s.background);
    let mut m = Model::for_config(s.background, L2, L1, L0);
    let mut rng = Rng::new(seed_of(s.ops.len(), 0x5eed));
    let mut touched = Touched::default();
    for (i, op) in s.ops.iter().enumerate() {
        let mut probes = Vec::new();
        apply(&mut t, &mut m, op, &mut rng, &mut probes);
        touched.add_and_sample(&mut probes, &mut rng);
        check(&t, &m, &probes, i % 4 == 3 || i + 1 == s.ops.len());
    }
    final_sweep(&t, &m, &touched);
}

/// The identity of a tree: background and every item of `iter_all` (values by bits).
pub fn fingerprint<const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    t: &Tree<f32, L2, L1, L0, D>,
) -> (u32, Vec<(Coord, u32, bool, u32, u64)>) {
    let mut items = Vec::new();
    t.iter_all().for_each(|i| {
        items.push((
            i.coord(),
            i.level(),
            i.is_active(),
            i.value().to_bits(),
            i.voxel_count(),
        ))
    });
    (t.background().to_bits(), items)
}

/// Runs a [`ComboScript`] on 5-4-3 trees (the `combine` target).
pub fn run_combo_script(s: &ComboScript) {
    let mut a = Tree::<f32>::new(s.background_a);
    let mut ma = Model::for_config(s.background_a, 5, 4, 3);
    let mut b = Tree::<f32>::new(s.background_b);
    let mut mb = Model::for_config(s.background_b, 5, 4, 3);
    let mut rng = Rng::new(seed_of(s.steps.len(), 0xc0b0));
    let mut touched = Touched::default();
    for (i, step) in s.steps.iter().enumerate() {
        let full = i % 4 == 3 || i + 1 == s.steps.len();
        let mut probes = Vec::new();
        match step {
            Step::A(op) => {
                apply(&mut a, &mut ma, op, &mut rng, &mut probes);
                touched.add_and_sample(&mut probes, &mut rng);
                check(&a, &ma, &probes, full);
            }
            Step::B(op) => {
                let mut bp = Vec::new();
                apply(&mut b, &mut mb, op, &mut rng, &mut bp);
                check(&b, &mb, &bp, full);
                // B's coordinates are worth probing in A after a combination.
                touched.add_and_sample(&mut bp, &mut rng);
            }
            Step::Combo(c, self_operand) => {
                let (ot, om) = if *self_operand {
                    (a.clone(), ma.clone())
                } else {
                    (b.clone(), mb.clone())
                };
                if !om.regions.is_empty() {
                    // The model needs an operand without collapsed regions.
                    continue;
                }
                let before = fingerprint(&ot);
                combine(&mut a, &mut ma, &ot, &om, *c);
                assert!(
                    fingerprint(&ot) == before,
                    "{c:?} changed the borrowed operand"
                );
                if let Err(e) = ot.validate() {
                    panic!("{c:?}: operand fails validate afterwards: {e}");
                }
                let mut oc: Vec<Coord> = om.voxels.keys().copied().collect();
                oc.sort();
                probes.extend(oc.into_iter().step_by(5).take(96));
                touched.add_and_sample(&mut probes, &mut rng);
                check(&a, &ma, &probes, full);
            }
        }
    }
    final_sweep(&a, &ma, &touched);
    final_sweep(&b, &mb, &Touched::default());
}

/// Applies one combination to A and its model.
pub fn combine(a: &mut Tree<f32>, ma: &mut Model<f32>, b: &Tree<f32>, mb: &Model<f32>, c: Combo) {
    let a_nodes = NodeSet::of_tree(a);
    let b_nodes = NodeSet::of_tree(b);
    match c {
        Combo::Comp(kind) => {
            match kind {
                CompKind::Sum => a.comp_sum(b),
                CompKind::Mul => a.comp_mul(b),
                CompKind::Max => a.comp_max(b),
                CompKind::Min => a.comp_min(b),
            }
            ma.comp(kind, mb);
        }
        Combo::Replace => {
            a.comp_replace(b);
            ma.comp_replace(mb);
        }
        Combo::Combine => {
            a.combine(b, custom);
            ma.combine_with(mb, custom);
        }
        Combo::Union => {
            a.topology_union(b);
            ma.topology_union(mb);
        }
        Combo::Intersection => {
            a.topology_intersection(b);
            ma.topology_intersection(mb, &a_nodes, &b_nodes);
        }
        Combo::Difference => {
            a.topology_difference(b);
            ma.topology_difference(mb, &a_nodes, &b_nodes);
        }
        Combo::Merge => {
            a.merge(b.clone());
            ma.merge(mb, &a_nodes, &b_nodes);
        }
    }
    assert!(
        f32::same(a.background(), ma.background),
        "{c:?}: background: tree {:?}, model {:?}",
        a.background(),
        ma.background
    );
}

/// The `serde_decode` target: arbitrary bytes into the postcard decoder of every
/// configuration tried here. `Ok` must be a valid tree that re-encodes canonically.
pub fn decode_bytes(data: &[u8]) {
    decode_as::<5, 4, 3, false>(data);
    decode_as::<5, 4, 3, true>(data);
    decode_as::<4, 4, 3, false>(data);
    if let Ok(t) = postcard::from_bytes::<Tree<i32>>(data) {
        if let Err(e) = t.validate() {
            panic!("decoded i32 tree fails validate: {e}");
        }
        let bytes = postcard::to_allocvec(&t).expect("re-encoding");
        let back: Tree<i32> = postcard::from_bytes(&bytes).expect("re-decoding");
        assert!(back == t, "i32 tree changed through re-encoding");
    }
}

fn decode_as<const L2: u32, const L1: u32, const L0: u32, const D: bool>(data: &[u8]) {
    let Ok(t) = postcard::from_bytes::<Tree<f32, L2, L1, L0, D>>(data) else {
        return;
    };
    if let Err(e) = t.validate() {
        panic!("decoded tree fails validate: {e}");
    }
    let bytes = postcard::to_allocvec(&t).expect("re-encoding a decoded tree");
    let back: Tree<f32, L2, L1, L0, D> = match postcard::from_bytes(&bytes) {
        Ok(b) => b,
        Err(e) => panic!("re-encoded tree does not decode: {e}"),
    };
    assert!(
        fingerprint(&back) == fingerprint(&t),
        "tree changed through re-encoding"
    );
    let again = postcard::to_allocvec(&back).expect("re-encoding");
    assert!(again == bytes, "the encoding is not canonical");
    // The counts a reader would trust.
    assert_eq!(back.leaf_count(), t.leaf_count());
    assert_eq!(back.non_leaf_count(), t.non_leaf_count());
    assert_eq!(back.active_voxel_count(), t.active_voxel_count());
    assert_eq!(back.inactive_voxel_count(), t.inactive_voxel_count());
    let sum: u64 = t.iter_on().map(|i| i.voxel_count()).sum();
    assert_eq!(
        sum,
        t.active_voxel_count(),
        "decoded: iter_on vs active_voxel_count"
    );
}

/// The `neural_import` target: `data`'s first byte picks the import options (the
/// file's stored plan or a new one, skipping unsupported dtypes or not, the sparsity
/// rule of matrices), the rest is a safetensors file for
/// `sparsevdb_neural::WeightGrid::from_safetensors`. Anything but a well-formed file
/// must be an `Err`, never a panic, a hang or a huge allocation. An `Ok` grid must
/// validate, load every stored tensor back with its planned shape, multiply it
/// (`W·x`, `Wᵀ·x`) into vectors of the right lengths, and export a file that
/// imports again to the same values, bit for bit. Returns whether the import
/// succeeded.
pub fn import_bytes(data: &[u8]) -> bool {
    use sparsevdb_neural::import::ImportOptions;
    use sparsevdb_neural::{SparsityRule, WeightGrid};

    let Some((&first, file)) = data.split_first() else {
        return false;
    };
    let options = ImportOptions {
        use_stored_plan: first & 1 == 0,
        skip_unsupported: first & 2 != 0,
        matrix_rule: match (first >> 2) & 3 {
            0 => SparsityRule::KeepAll,
            1 => SparsityRule::Sparsity(0.9),
            2 => SparsityRule::Threshold(0.5),
            _ => SparsityRule::Sparsity(0.99),
        },
        ..Default::default()
    };
    let Ok((grid, report)) = WeightGrid::from_safetensors(file, &options) else {
        return false;
    };
    grid.tree()
        .validate()
        .expect("an imported grid is a valid tree");
    let bits = |v: &[f32]| v.iter().map(|w| w.to_bits()).collect::<Vec<_>>();
    let mut loaded = Vec::new();
    for stored in &report.tensors {
        let name = stored.name.as_str();
        let planned = grid
            .plan()
            .tensor(name)
            .expect("a stored tensor is planned");
        let dense = grid.load(name).expect("a stored tensor loads");
        assert_eq!(dense.shape(), planned.shape(), "{name}: shape");
        if planned.shape().len() == 2 {
            let (rows, cols) = (planned.rows(), planned.cols());
            let y = grid.matvec(name, &vec![1.0; cols]).expect("W·x");
            let yt = grid.matvec_t(name, &vec![1.0; rows]).expect("Wᵀ·x");
            assert_eq!((y.len(), yt.len()), (rows, cols), "{name}: product lengths");
        }
        loaded.push((name.to_string(), bits(dense.data())));
    }
    let exported = grid.to_safetensors().expect("an imported grid exports");
    let (again, _) = WeightGrid::from_safetensors(&exported, &ImportOptions::default())
        .expect("an exported grid imports");
    for (name, want) in loaded {
        let back = again
            .load(&name)
            .expect("the tensor is in the exported file");
        assert_eq!(
            bits(back.data()),
            want,
            "{name}: values after export and import"
        );
    }
    true
}
