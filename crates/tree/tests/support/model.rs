//! A plain, voxel-wise model of `sparsevdb_tree::Tree`: the oracle of the model-based
//! property tests (`tests/model_props.rs`, `tests/boundaries.rs`) and of the fuzz
//! targets (which include this file with `#[path = ...]`).
//!
//! The model knows nothing of nodes, tiles or masks. It is a map from coordinate to
//! `(value, active)`; an absent coordinate has the background value and is inactive.
//! Each operation implements, voxel by voxel, what OpenVDB 10.0.1 makes observable
//! through `probeValue`:
//!
//! | operation | OpenVDB | voxel-wise rule |
//! |---|---|---|
//! | `set_value` | `setValueOn` | value + active |
//! | `set_value_off` | `setValueOff(xyz, v)` | value + inactive |
//! | `set_value_only` | `setValueOnly` | value, state kept |
//! | `set_active` | `setActiveState` | state, value kept |
//! | `modify_value` | `modifyValue` | `f(value)`, active |
//! | `fill` / `dense_fill` | `sparseFill` / `denseFill` | every voxel of the box |
//! | `voxelize_active_tiles` | `voxelizeActiveTiles` | nothing observable |
//! | `prune(tol)` | `tools::prune` | see [`Model::prune`] |
//! | `prune_inactive[_with_value]` | `tools::pruneInactive[WithValue]` | see [`Model::prune_inactive_with_value`] |
//! | `clip(b)` | `Tree::clip` | outside `b`: background, inactive |
//! | `set_background(v)` | `RootNode::setBackground` | inactive ≈old → new, ≈−old → −new |
//! | `comp_*`, `combine`, `combine_extended` | `tools::comp*`, `Tree::combine[Extended]` | see [`Model::combine_with`] |
//! | `comp_replace` | `tools::compReplace` | B's active voxels overwrite A |
//! | `merge` | `merge<MERGE_ACTIVE_STATES>` | see [`Model::merge`] (needs node sets) |
//! | topology ops | `topologyUnion` / `Intersection` / `Difference` | see [`Model::topology_union`] (the last two need node sets) |
//! | writes through `leaves_mut` | `LeafManager` | see [`Model::map_active_in_leaves`] (needs the leaf set) |
//!
//! Besides the voxel map the model keeps a short list of *regions*: whole boxes that
//! a prune collapsed into one inactive value (a lower or upper node turned tile), so
//! that e.g. `prune_inactive_with_value(v)` on a 4096³ node costs one entry, not 2³⁶.
//! Regions are inactive, lie under the voxel map (an explicit voxel wins) and a later
//! region wins over an earlier one.
//!
//! What is structure-dependent in OpenVDB is taken as an *input*: `pruneInactive`
//! only touches regions covered by a node, so [`Model::prune_inactive_with_value`]
//! takes the tree's node set ([`NodeSet::of_tree`], read before the operation); so
//! do topology intersection / difference and merge (both trees' node sets).
//!
//! Values are compared with [`ModelValue::same`] (`==` for floats, so `-0.0` equals
//! `0.0`: OpenVDB's `nth_element` median and its `isExactlyEqual` short cuts do not
//! preserve the sign of zero, and the model does not try to predict it). The rules
//! that use `isApproxEqual` (background change, erasing root background tiles) are
//! implemented, except the erasure of a *pre-existing* root tile approx-equal but
//! not `==` to the background, which needs values closer than 1e-8 and the tree's
//! root-tile set; the property tests draw values from sets without such pairs.
//!
//! This file depends only on `sparsevdb_tree`'s public types (`Coord`, `CoordBBox`,
//! `Tree::nodes` for [`NodeSet`]) and std; it reimplements its own box arithmetic.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap as StdHashMap, HashSet as StdHashSet};
use std::fmt::Debug;
use std::hash::{BuildHasherDefault, Hasher};

use sparsevdb_tree::{Coord, CoordBBox, Tree, Value};

/// The arithmetic the model needs, written independently of `sparsevdb_tree::Value`.
pub trait ModelValue: Copy + PartialEq + Debug + Send + Sync + 'static {
    /// OpenVDB `math::isApproxEqual(a, b)` with its default tolerance (1e-8 for
    /// `f32`, 1e-15 for `f64`, exact for integers).
    fn approx_eq(a: Self, b: Self) -> bool;
    /// OpenVDB `math::negative` (wrapping for integers).
    fn neg(a: Self) -> Self;
    /// `a < b`.
    fn lt(a: Self, b: Self) -> bool;
    /// `(hi − lo) > tol`, exact for integers.
    fn spread_exceeds(hi: Self, lo: Self, tol: Self) -> bool;
    /// `a + b` (wrapping for integers).
    fn plus(a: Self, b: Self) -> Self;
    /// `a * b` (wrapping for integers).
    fn times(a: Self, b: Self) -> Self;
    /// How the tests compare a tree value with a model value: `==` (so ±0 agree),
    /// and NaN agrees with NaN.
    fn same(a: Self, b: Self) -> bool;
}

macro_rules! model_float {
    ($t:ty, $tol:expr) => {
        impl ModelValue for $t {
            fn approx_eq(a: Self, b: Self) -> bool {
                // `!(|a − b| > tol)`: a NaN difference counts as equal, as in OpenVDB.
                (a - b).abs().partial_cmp(&$tol) != Some(std::cmp::Ordering::Greater)
            }
            fn neg(a: Self) -> Self {
                -a
            }
            fn lt(a: Self, b: Self) -> bool {
                a < b
            }
            fn spread_exceeds(hi: Self, lo: Self, tol: Self) -> bool {
                (hi - lo) > tol
            }
            fn plus(a: Self, b: Self) -> Self {
                a + b
            }
            fn times(a: Self, b: Self) -> Self {
                a * b
            }
            fn same(a: Self, b: Self) -> bool {
                a == b || (a.is_nan() && b.is_nan())
            }
        }
    };
}
model_float!(f32, 1e-8f32);
model_float!(f64, 1e-15f64);

macro_rules! model_int {
    ($($t:ty),*) => {$(
        impl ModelValue for $t {
            fn approx_eq(a: Self, b: Self) -> bool {
                a == b
            }
            fn neg(a: Self) -> Self {
                a.wrapping_neg()
            }
            fn lt(a: Self, b: Self) -> bool {
                a < b
            }
            fn spread_exceeds(hi: Self, lo: Self, tol: Self) -> bool {
                (hi as i128 - lo as i128) > tol as i128
            }
            fn plus(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            fn times(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            fn same(a: Self, b: Self) -> bool {
                a == b
            }
        }
    )*};
}
model_int!(i32, i64, u8);

// ---- a fast hasher (std's SipHash dominates the model's cost) -------------------------

/// FxHash (rustc's hasher): a multiply-rotate hash, plenty for coordinates.
#[derive(Clone, Copy, Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_i32(&mut self, v: i32) {
        self.write_u64(v as u32 as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// `HashMap` with [`FxHasher`].
pub type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;
/// `HashSet` with [`FxHasher`].
pub type HashSet<K> = StdHashSet<K, BuildHasherDefault<FxHasher>>;

// ---- box arithmetic (the model's own, on i64) -----------------------------------------

fn lo(b: &CoordBBox) -> [i64; 3] {
    let m = b.min();
    [m.x as i64, m.y as i64, m.z as i64]
}

fn hi(b: &CoordBBox) -> [i64; 3] {
    let m = b.max();
    [m.x as i64, m.y as i64, m.z as i64]
}

fn c64(c: Coord) -> [i64; 3] {
    [c.x as i64, c.y as i64, c.z as i64]
}

fn coord(a: [i64; 3]) -> Coord {
    Coord::new(a[0] as i32, a[1] as i32, a[2] as i32)
}

/// True when `b` contains no coordinate.
pub fn box_empty(b: &CoordBBox) -> bool {
    let (l, h) = (lo(b), hi(b));
    (0..3).any(|i| l[i] > h[i])
}

/// True when `c` lies in `b` (inclusive).
pub fn box_contains(b: &CoordBBox, c: Coord) -> bool {
    let (l, h, p) = (lo(b), hi(b), c64(c));
    (0..3).all(|i| l[i] <= p[i] && p[i] <= h[i])
}

/// `a ∩ b`, `None` when empty.
pub fn box_intersection(a: &CoordBBox, b: &CoordBBox) -> Option<CoordBBox> {
    let (al, ah, bl, bh) = (lo(a), hi(a), lo(b), hi(b));
    let l = [al[0].max(bl[0]), al[1].max(bl[1]), al[2].max(bl[2])];
    let h = [ah[0].min(bh[0]), ah[1].min(bh[1]), ah[2].min(bh[2])];
    if (0..3).any(|i| l[i] > h[i]) {
        None
    } else {
        Some(CoordBBox::new(coord(l), coord(h)))
    }
}

/// True when `inner` is non-empty and inside `outer`.
pub fn box_inside(inner: &CoordBBox, outer: &CoordBBox) -> bool {
    !box_empty(inner) && box_contains(outer, inner.min()) && box_contains(outer, inner.max())
}

/// Number of coordinates in `b`.
pub fn box_volume(b: &CoordBBox) -> u128 {
    if box_empty(b) {
        return 0;
    }
    let (l, h) = (lo(b), hi(b));
    (0..3).map(|i| (h[i] - l[i] + 1) as u128).product()
}

/// Every coordinate of `b`, x slowest, z fastest.
pub fn box_coords(b: &CoordBBox) -> impl Iterator<Item = Coord> {
    let (l, h) = (lo(b), hi(b));
    let empty = box_empty(b);
    (l[0]..=h[0]).filter(move |_| !empty).flat_map(move |x| {
        (l[1]..=h[1]).flat_map(move |y| (l[2]..=h[2]).map(move |z| coord([x, y, z])))
    })
}

/// The origin of the aligned block of side `2^log2` holding `c` (floor division).
pub fn block_origin(c: Coord, log2: u32) -> Coord {
    let f = |v: i32| ((v as i64) >> log2 << log2) as i32;
    Coord::new(f(c.x), f(c.y), f(c.z))
}

/// The aligned block of side `2^log2` with origin `o`.
pub fn block_box(o: Coord, log2: u32) -> CoordBBox {
    let side = 1i64 << log2;
    let p = c64(o);
    CoordBBox::new(
        o,
        coord([p[0] + side - 1, p[1] + side - 1, p[2] + side - 1]),
    )
}

/// True when every face of `b` lies on the grid of blocks of side `2^log2`.
fn box_aligned(b: &CoordBBox, log2: u32) -> bool {
    let side = 1i64 << log2;
    let (l, h) = (lo(b), hi(b));
    (0..3).all(|i| l[i].rem_euclid(side) == 0 && (h[i] + 1).rem_euclid(side) == 0)
}

/// The origins of the blocks of side `2^log2` that intersect `b`; panics beyond `limit`.
fn blocks_touching(b: &CoordBBox, log2: u32, limit: u128) -> Vec<Coord> {
    let first = block_origin(b.min(), log2);
    let last = block_origin(b.max(), log2);
    let side = 1i64 << log2;
    let n = |i: usize| ((c64(last)[i] - c64(first)[i]) / side + 1) as u128;
    let count = n(0) * n(1) * n(2);
    assert!(
        count <= limit,
        "model: {count} blocks of side 2^{log2} touch {b:?}; the generator must keep such boxes small"
    );
    let (f, l) = (c64(first), c64(last));
    let mut out = Vec::with_capacity(count as usize);
    let mut x = f[0];
    while x <= l[0] {
        let mut y = f[1];
        while y <= l[1] {
            let mut z = f[2];
            while z <= l[2] {
                out.push(coord([x, y, z]));
                z += side;
            }
            y += side;
        }
        x += side;
    }
    out
}

/// The slots of a node at `level` (0 leaf) as boxes: voxels for a leaf, child blocks above.
fn child_log2(log2: &[u32; 3], level: usize) -> u32 {
    if level == 0 {
        0
    } else {
        log2[level - 1]
    }
}

// ---- node set -------------------------------------------------------------------------

/// The origins of a tree's nodes below the root, per level (input to the structure-
/// dependent `pruneInactive`).
#[derive(Clone, Debug, Default)]
pub struct NodeSet {
    /// Leaf origins.
    pub leaves: Vec<Coord>,
    /// Lower internal node origins.
    pub lowers: Vec<Coord>,
    /// Upper internal node origins.
    pub uppers: Vec<Coord>,
}

impl NodeSet {
    /// The origins of one level (0 leaves, 1 lower, 2 upper).
    pub fn level(&self, level: usize) -> &[Coord] {
        match level {
            0 => &self.leaves,
            1 => &self.lowers,
            _ => &self.uppers,
        }
    }

    /// The three levels as sets.
    pub fn sets(&self) -> [HashSet<Coord>; 3] {
        [0, 1, 2].map(|l| self.level(l).iter().copied().collect())
    }

    /// Reads the node set of `tree` through its public node iterator.
    pub fn of_tree<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>(
        tree: &Tree<T, L2, L1, L0, D>,
    ) -> Self {
        let mut s = NodeSet::default();
        for n in tree.nodes() {
            match n.level() {
                0 => s.leaves.push(n.origin()),
                1 => s.lowers.push(n.origin()),
                _ => s.uppers.push(n.origin()),
            }
        }
        s
    }
}

// ---- the model ------------------------------------------------------------------------

/// Which tree-combination rule [`Model::combine_with`] applies (OpenVDB
/// `tools/Composite.h` and `Tree::combine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompKind {
    /// `compSum`: `a + b`.
    Sum,
    /// `compMul`: `a * b`.
    Mul,
    /// `compMax`: `std::max(a, b)`.
    Max,
    /// `compMin`: `std::min(a, b)`.
    Min,
}

impl CompKind {
    /// The value rule.
    pub fn apply<T: ModelValue>(self, a: T, b: T) -> T {
        match self {
            CompKind::Sum => T::plus(a, b),
            CompKind::Mul => T::times(a, b),
            // std::max(a, b) = (a < b) ? b : a; std::min(a, b) = (b < a) ? b : a.
            CompKind::Max => {
                if T::lt(a, b) {
                    b
                } else {
                    a
                }
            }
            CompKind::Min => {
                if T::lt(b, a) {
                    b
                } else {
                    a
                }
            }
        }
    }
}

/// A voxel-wise model of a tree: see the module documentation.
#[derive(Clone, Debug)]
pub struct Model<T> {
    /// The background value.
    pub background: T,
    /// Explicit voxels: `(value, active)`.
    pub voxels: HashMap<Coord, (T, bool)>,
    /// Inactive uniform boxes under the voxel map, later ones on top.
    pub regions: Vec<(CoordBBox, T)>,
    /// log2 of the side of a leaf, a lower node and an upper node (3, 7, 12 for 5-4-3).
    pub log2: [u32; 3],
}

impl<T: ModelValue> Model<T> {
    /// An empty model with `log2` = sides of leaf, lower and upper blocks.
    pub fn new(background: T, log2: [u32; 3]) -> Self {
        Model {
            background,
            voxels: HashMap::default(),
            regions: Vec::new(),
            log2,
        }
    }

    /// An empty model for the tree configuration `L2-L1-L0`.
    pub fn for_config(background: T, l2: u32, l1: u32, l0: u32) -> Self {
        Self::new(background, [l0, l0 + l1, l0 + l1 + l2])
    }

    // ---- reads ------------------------------------------------------------------------

    fn region_value(&self, c: Coord) -> T {
        self.regions
            .iter()
            .rev()
            .find(|(b, _)| box_contains(b, c))
            .map_or(self.background, |&(_, v)| v)
    }

    /// Value and active state at `c`.
    pub fn probe(&self, c: Coord) -> (T, bool) {
        match self.voxels.get(&c) {
            Some(&e) => e,
            None => (self.region_value(c), false),
        }
    }

    /// The value at `c`.
    pub fn get(&self, c: Coord) -> T {
        self.probe(c).0
    }

    /// The active state at `c`.
    pub fn is_on(&self, c: Coord) -> bool {
        self.probe(c).1
    }

    /// Active voxels and their values.
    pub fn active_voxels(&self) -> HashMap<Coord, T> {
        self.voxels
            .iter()
            .filter(|(_, &(_, on))| on)
            .map(|(&c, &(v, _))| (c, v))
            .collect()
    }

    /// Number of active voxels (no region is ever active).
    pub fn active_voxel_count(&self) -> u64 {
        self.voxels.values().filter(|&&(_, on)| on).count() as u64
    }

    /// The bounding box of the active voxels.
    pub fn eval_active_bbox(&self) -> Option<CoordBBox> {
        let mut it = self
            .voxels
            .iter()
            .filter(|(_, &(_, on))| on)
            .map(|(&c, _)| c);
        let first = it.next()?;
        let (mut l, mut h) = (first, first);
        for c in it {
            l = Coord::new(l.x.min(c.x), l.y.min(c.y), l.z.min(c.z));
            h = Coord::new(h.x.max(c.x), h.y.max(c.y), h.z.max(c.z));
        }
        Some(CoordBBox::new(l, h))
    }

    /// True when every voxel is background and inactive (modulo [`ModelValue::same`]).
    pub fn is_background_only(&self) -> bool {
        self.voxels
            .values()
            .all(|&(v, on)| !on && T::same(v, self.background))
            && self.regions.iter().enumerate().all(|(i, (r, v))| {
                // A region is hidden where later regions (which win) or explicit voxels
                // cover it: inside one later region, or (small regions, voxel by
                // voxel) reading the background everywhere.
                T::same(*v, self.background)
                    || self.regions[i + 1..]
                        .iter()
                        .any(|(later, _)| box_inside(r, later))
                    || (box_volume(r) <= 1 << 15
                        && box_coords(r).all(|c| T::same(self.probe(c).0, self.background)))
            })
    }

    // ---- point writes -----------------------------------------------------------------

    /// `setValueOn`.
    pub fn set_value(&mut self, c: Coord, v: T) {
        self.voxels.insert(c, (v, true));
    }

    /// `setValueOff(xyz, value)`.
    pub fn set_value_off(&mut self, c: Coord, v: T) {
        self.voxels.insert(c, (v, false));
    }

    /// `setValueOnly`.
    pub fn set_value_only(&mut self, c: Coord, v: T) {
        let on = self.is_on(c);
        self.voxels.insert(c, (v, on));
    }

    /// `setActiveState`.
    pub fn set_active(&mut self, c: Coord, on: bool) {
        let v = self.get(c);
        self.voxels.insert(c, (v, on));
    }

    /// `modifyValue`: `f` on the value, then active.
    pub fn modify_value(&mut self, c: Coord, f: impl FnOnce(&mut T)) {
        let mut v = self.get(c);
        f(&mut v);
        self.voxels.insert(c, (v, true));
    }

    // ---- box writes -------------------------------------------------------------------

    /// `fill(bbox, v, active)`: every voxel of the box (an empty box does nothing).
    pub fn fill(&mut self, b: &CoordBBox, v: T, active: bool) {
        for c in box_coords(b) {
            self.voxels.insert(c, (v, active));
        }
    }

    /// `denseFill`: the same values as `fill`; only the structure differs.
    pub fn dense_fill(&mut self, b: &CoordBBox, v: T, active: bool) {
        self.fill(b, v, active);
    }

    /// `voxelizeActiveTiles`: nothing observable.
    pub fn voxelize_active_tiles(&mut self) {}

    /// `clip(b)`: outside `b`, background and inactive. (OpenVDB then prunes with
    /// tolerance zero, which keeps every value up to `==`, and erases root tiles
    /// approx-equal to the background, which with `==`-distinct values is invisible.)
    pub fn clip(&mut self, b: &CoordBBox) {
        self.voxels.retain(|&c, _| box_contains(b, c));
        self.regions = self
            .regions
            .iter()
            .filter_map(|(r, v)| box_intersection(r, b).map(|i| (i, *v)))
            .collect();
    }

    /// `setBackground(new)`: nothing if `new == old`; else every inactive value
    /// approx-equal to the old background becomes `new`, every one approx-equal to
    /// `−old` becomes `−new`; active values stay.
    pub fn set_background(&mut self, new: T) {
        let old = self.background;
        if new == old {
            return;
        }
        let swap = |v: T| -> T {
            if T::approx_eq(v, old) {
                new
            } else if T::approx_eq(v, T::neg(old)) {
                T::neg(new)
            } else {
                v
            }
        };
        for (v, on) in self.voxels.values_mut() {
            if !*on {
                *v = swap(*v);
            }
        }
        for (_, v) in &mut self.regions {
            *v = swap(*v);
        }
        self.background = new;
    }

    /// Empties the model (the background stays).
    pub fn clear(&mut self) {
        self.voxels.clear();
        self.regions.clear();
    }

    /// `fill(block, v, false)` where `block` is the whole aligned block of `level` (1
    /// lower node, 2 upper node) holding `c`: voxel-wise the same as [`Model::fill`],
    /// but kept as one region, so it is cheap at any size (what the tree stores as
    /// one inactive tile). Used by the fuzz targets to reach internal-level tiles.
    pub fn fill_inactive_block(&mut self, level: usize, c: Coord, v: T) {
        assert!(
            level == 1 || level == 2,
            "model: block level must be 1 or 2"
        );
        let o = block_origin(c, self.log2[level]);
        let blocks = [(o, (v, false))].into_iter().collect();
        self.set_blocks(level, &blocks);
    }

    // ---- block collapses --------------------------------------------------------------

    /// Gives every voxel of each (disjoint, same-level) block the block's value and
    /// state: what a node turned tile shows.
    fn set_blocks(&mut self, level: usize, blocks: &HashMap<Coord, (T, bool)>) {
        if blocks.is_empty() {
            return;
        }
        let log2 = self.log2[level];
        self.voxels
            .retain(|&c, _| !blocks.contains_key(&block_origin(c, log2)));
        self.regions.retain(|(r, _)| {
            let o = block_origin(r.min(), log2);
            !(o == block_origin(r.max(), log2) && blocks.contains_key(&o))
        });
        let mut keys: Vec<_> = blocks.keys().copied().collect();
        keys.sort();
        for o in keys {
            let (v, on) = blocks[&o];
            let b = block_box(o, log2);
            if on || level == 0 {
                let covered = self
                    .regions
                    .iter()
                    .any(|(r, _)| box_intersection(r, &b).is_some());
                if !on && T::same(v, self.background) && !covered {
                    continue;
                }
                assert!(
                    box_volume(&b) <= 4096,
                    "model: an active region larger than a leaf cannot be represented"
                );
                for c in box_coords(&b) {
                    self.voxels.insert(c, (v, on));
                }
            } else {
                let covered = self
                    .regions
                    .iter()
                    .any(|(r, _)| box_intersection(r, &b).is_some());
                if T::same(v, self.background) && !covered {
                    continue;
                }
                self.regions.push((b, v));
            }
        }
    }

    /// OpenVDB's `isConstant(min, max, state, tol)` over a node's slots (value,
    /// state, multiplicity), then the tile value of `TolerancePruneOp`: the lower
    /// median (`nth_element` at `(n − 1) / 2`) of the slot values.
    fn collapse(slots: &[(T, bool, u64)], tol: T) -> Option<(T, bool)> {
        let state = slots.first()?.1;
        if slots.iter().any(|s| s.1 != state) {
            return None;
        }
        let mut min = slots[0].0;
        let mut max = slots[0].0;
        for &(v, _, _) in slots {
            if T::lt(v, min) {
                min = v;
            }
            if T::lt(max, v) {
                max = v;
            }
        }
        // OpenVDB's scan fails at the first new extreme whose spread exceeds `tol`,
        // which happens iff the final spread does (and never when all are equal).
        if T::lt(min, max) && T::spread_exceeds(max, min, tol) {
            return None;
        }
        let mut sorted: Vec<(T, u64)> = slots.iter().map(|&(v, _, n)| (v, n)).collect();
        sorted.sort_by(|a, b| {
            if T::lt(a.0, b.0) {
                std::cmp::Ordering::Less
            } else if T::lt(b.0, a.0) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        let total: u64 = sorted.iter().map(|s| s.1).sum();
        let mid = (total - 1) / 2;
        let mut seen = 0u64;
        for (v, n) in sorted {
            seen += n;
            if seen > mid {
                return Some((v, state));
            }
        }
        unreachable!("the median lies in the slots")
    }

    /// Blocks of one level whose content is not uniform-by-construction: those with an
    /// explicit voxel, those whose children are such, and those cut by a region's face.
    fn interesting_blocks(&self, level: usize, below: Option<&HashSet<Coord>>) -> HashSet<Coord> {
        let log2 = self.log2[level];
        let mut set: HashSet<Coord> = match below {
            None => self.voxels.keys().map(|&c| block_origin(c, log2)).collect(),
            Some(children) => children.iter().map(|&c| block_origin(c, log2)).collect(),
        };
        for (r, _) in &self.regions {
            if level == 2 || !box_aligned(r, log2) {
                set.extend(blocks_touching(r, log2, 1 << 16));
            }
        }
        set
    }

    /// OpenVDB `tools::prune(tree, tol)` voxel-wise: bottom-up over the aligned blocks
    /// of each level (8³ leaves, then lower nodes, then upper nodes), a block whose
    /// slots (voxels for a leaf; the children's collapsed values or tiles above) all
    /// share one active state and span at most `tol` takes their lower median
    /// everywhere; an upper block that becomes an inactive value approx-equal to the
    /// background reads the background (root `eraseBackgroundTiles`).
    pub fn prune(&mut self, tol: T) {
        let bg = self.background;
        // Level 0: group the explicit voxels by leaf block.
        let l0 = self.log2[0];
        let mut groups: HashMap<Coord, Vec<(Coord, T, bool)>> = HashMap::default();
        for (&c, &(v, on)) in &self.voxels {
            groups
                .entry(block_origin(c, l0))
                .or_default()
                .push((c, v, on));
        }
        let mut interesting = [
            self.interesting_blocks(0, None),
            HashSet::default(),
            HashSet::default(),
        ];
        let mut results: [HashMap<Coord, Option<(T, bool)>>; 3] =
            [HashMap::default(), HashMap::default(), HashMap::default()];
        for &o in &interesting[0] {
            let b = block_box(o, l0);
            let cut = self
                .regions
                .iter()
                .any(|(r, _)| box_intersection(r, &b).is_some() && !box_inside(&b, r));
            let slots: Vec<(T, bool, u64)> = if cut {
                box_coords(&b)
                    .map(|c| {
                        let (v, on) = self.probe(c);
                        (v, on, 1)
                    })
                    .collect()
            } else {
                let explicit = groups.get(&o).map_or(&[][..], |g| &g[..]);
                let mut s: Vec<(T, bool, u64)> =
                    explicit.iter().map(|&(_, v, on)| (v, on, 1)).collect();
                let rest = box_volume(&b) as u64 - explicit.len() as u64;
                if rest > 0 {
                    s.push((self.region_value(o), false, rest));
                }
                s
            };
            results[0].insert(o, Self::collapse(&slots, tol));
        }
        for level in 1..3 {
            interesting[level] = self.interesting_blocks(level, Some(&interesting[level - 1]));
            let log2 = self.log2[level];
            let clog2 = child_log2(&self.log2, level);
            let mut by_parent: HashMap<Coord, Vec<Coord>> = HashMap::default();
            for &c in &interesting[level - 1] {
                by_parent.entry(block_origin(c, log2)).or_default().push(c);
            }
            let slots_per_node = 1u64 << (3 * (log2 - clog2));
            let mut res = HashMap::default();
            for &o in &interesting[level] {
                let b = block_box(o, log2);
                let kids = by_parent.get(&o).map_or(&[][..], |k| &k[..]);
                let mut slots = Vec::with_capacity(kids.len() + 1);
                let mut ok = true;
                for k in kids {
                    match results[level - 1][k] {
                        Some((v, on)) => slots.push((v, on, 1)),
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    res.insert(o, None);
                    continue;
                }
                let rest = slots_per_node - kids.len() as u64;
                let covered = self
                    .regions
                    .iter()
                    .any(|(r, _)| box_intersection(r, &b).is_some());
                if !covered {
                    if rest > 0 {
                        slots.push((bg, false, rest));
                    }
                } else {
                    let kid_set: HashSet<Coord> = kids.iter().copied().collect();
                    for c in blocks_touching(&b, clog2, 1 << 16) {
                        if !kid_set.contains(&c) {
                            slots.push((self.region_value(c), false, 1));
                        }
                    }
                }
                res.insert(o, Self::collapse(&slots, tol));
            }
            results[level] = res;
        }
        // Root: an upper block collapsed into an inactive tile approx-equal to the
        // background is erased, i.e. reads the background.
        for r in results[2].values_mut() {
            if let Some((v, false)) = r {
                if T::approx_eq(*v, bg) {
                    *v = bg;
                }
            }
        }
        for (level, res) in results.iter().enumerate() {
            let blocks: HashMap<Coord, (T, bool)> =
                res.iter().filter_map(|(&o, r)| r.map(|r| (o, r))).collect();
            self.set_blocks(level, &blocks);
        }
    }

    /// OpenVDB `tools::pruneInactive` (`v` = background).
    pub fn prune_inactive(&mut self, nodes: &NodeSet) {
        let bg = self.background;
        self.prune_inactive_with_value(bg, nodes);
    }

    /// OpenVDB `tools::pruneInactiveWithValue(tree, v)`: each *node* of `nodes` (the
    /// tree's node set before the call) whose block holds no active voxel becomes an
    /// inactive tile of `v` (bottom-up, so the highest such node wins); an upper node
    /// turned into a root tile approx-equal to the background is erased. Inactive
    /// tiles that are not inside such a node keep their value: that is why the model
    /// needs the node set.
    pub fn prune_inactive_with_value(&mut self, v: T, nodes: &NodeSet) {
        let mut active: [HashSet<Coord>; 3] = Default::default();
        for (&c, &(_, on)) in &self.voxels {
            if on {
                for (level, set) in active.iter_mut().enumerate() {
                    set.insert(block_origin(c, self.log2[level]));
                }
            }
        }
        let bg = self.background;
        let top = if T::approx_eq(v, bg) { bg } else { v };
        for (level, origins) in [&nodes.leaves, &nodes.lowers, &nodes.uppers]
            .into_iter()
            .enumerate()
        {
            let value = if level == 2 { top } else { v };
            let blocks: HashMap<Coord, (T, bool)> = origins
                .iter()
                .filter(|o| !active[level].contains(o))
                .map(|&o| (o, (value, false)))
                .collect();
            self.set_blocks(level, &blocks);
        }
    }

    // ---- combination ------------------------------------------------------------------

    /// `tools::comp{Sum,Mul,Max,Min}(a, b)` voxel-wise.
    pub fn comp(&mut self, kind: CompKind, other: &Model<T>) {
        self.combine_with(other, |a, b| kind.apply(a, b));
    }

    /// `a.combine(b, f)` / `combineExtended` voxel-wise (`other` must hold no
    /// regions). OpenVDB (`RootNode::combine`) visits the union of both root tables,
    /// adding a background tile where one side has no entry, and combines tile with
    /// tile, node with tile and node with node, so every voxel becomes
    /// `f(a(c), b(c))` with state `a_on || b_on` — where neither tree has an entry
    /// too, through the combined background `f(bg_a, bg_b)`.
    pub fn combine_with(&mut self, other: &Model<T>, f: impl Fn(T, T) -> T) {
        assert!(other.regions.is_empty(), "model: B must not hold regions");
        let coords: HashSet<Coord> = self
            .voxels
            .keys()
            .chain(other.voxels.keys())
            .copied()
            .collect();
        let mut out = HashMap::with_capacity_and_hasher(coords.len(), Default::default());
        for c in coords {
            let (a, a_on) = self.probe(c);
            let (b, b_on) = other.probe(c);
            out.insert(c, (f(a, b), a_on || b_on));
        }
        let ob = other.background;
        for (_, v) in &mut self.regions {
            *v = f(*v, ob);
        }
        self.voxels = out;
        self.background = f(self.background, other.background);
    }

    /// `a.combineExtended(b, f)` voxel-wise, `f(a, a_on, b, b_on) -> (value, on)`
    /// (`other` must hold no regions). As [`combine_with`](Self::combine_with), with
    /// the state from `f`. The new background is `f(bg_a, ?, bg_b, ?)` where OpenVDB
    /// passes stale activity flags (those of the last root tile pair it visited), so
    /// the model requires an `f` whose value ignores the flags and that leaves two
    /// inactive operands inactive.
    pub fn combine_extended(
        &mut self,
        other: &Model<T>,
        f: impl Fn(T, bool, T, bool) -> (T, bool),
    ) {
        assert!(other.regions.is_empty(), "model: B must not hold regions");
        let coords: HashSet<Coord> = self
            .voxels
            .keys()
            .chain(other.voxels.keys())
            .copied()
            .collect();
        let mut out = HashMap::with_capacity_and_hasher(coords.len(), Default::default());
        for c in coords {
            let (a, a_on) = self.probe(c);
            let (b, b_on) = other.probe(c);
            out.insert(c, f(a, a_on, b, b_on));
        }
        let ob = other.background;
        for (_, v) in &mut self.regions {
            let (r, on) = f(*v, false, ob, false);
            assert!(!on, "model: f must keep two inactive operands inactive");
            *v = r;
        }
        self.voxels = out;
        let (bg, on) = f(self.background, false, other.background, false);
        assert!(!on, "model: f must keep two inactive operands inactive");
        self.background = bg;
    }

    /// Applies `f` to the active voxels that live in leaf nodes (`nodes.leaves`), as
    /// a loop over `Tree::leaves_mut()` and each leaf's active mask does; active tiles
    /// are not leaves and keep their value.
    pub fn map_active_in_leaves(&mut self, nodes: &NodeSet, f: impl Fn(T) -> T) {
        let leaves: HashSet<Coord> = nodes.leaves.iter().copied().collect();
        let l0 = self.log2[0];
        for (c, (v, on)) in self.voxels.iter_mut() {
            if *on && leaves.contains(&block_origin(*c, l0)) {
                *v = f(*v);
            }
        }
    }

    /// `tools::compReplace(a, b)`: `topologyUnion`, then every active tile and voxel
    /// of B is written into A: active voxels of B take B's value, active.
    pub fn comp_replace(&mut self, other: &Model<T>) {
        for (&c, &(v, on)) in &other.voxels {
            if on {
                self.voxels.insert(c, (v, true));
            }
        }
    }

    /// `topologyUnion(b)`: values kept, state `a_on || b_on` (a new branch copies B's
    /// topology with A's tile value or background).
    pub fn topology_union(&mut self, other: &Model<T>) {
        for (&c, &(_, on)) in &other.voxels {
            if on {
                let v = self.get(c);
                self.voxels.insert(c, (v, true));
            }
        }
    }

    /// The blocks where A has a node, B has none, B's (uniform) state there is
    /// `b_state`, and both trees have the parent node (or it is an upper node): the
    /// branches that topology intersection (`b_state = false`) and difference
    /// (`b_state = true`) delete, turning them into the background, inactive.
    fn branches_facing_tiles(
        &self,
        other: &Model<T>,
        a: &NodeSet,
        b: &NodeSet,
        b_state: bool,
    ) -> [HashMap<Coord, (T, bool)>; 3] {
        let (al, bl) = (a.sets(), b.sets());
        let mut out: [HashMap<Coord, (T, bool)>; 3] = Default::default();
        for level in 0..3 {
            for &o in a.level(level) {
                let shared_parent = level == 2 || {
                    let p = block_origin(o, self.log2[level + 1]);
                    al[level + 1].contains(&p) && bl[level + 1].contains(&p)
                };
                if shared_parent && !bl[level].contains(&o) && other.is_on(o) == b_state {
                    out[level].insert(o, (self.background, false));
                }
            }
        }
        out
    }

    /// `topologyIntersection(b)`: state `a_on && b_on`, values kept — except that a
    /// node of A facing an inactive tile (or nothing) of B, one level below a node
    /// both trees share, is deleted: its voxels read A's background (OpenVDB
    /// `RootNode` / `InternalNode::topologyIntersection`). Needs both node sets.
    pub fn topology_intersection(&mut self, other: &Model<T>, a: &NodeSet, b: &NodeSet) {
        let wiped = self.branches_facing_tiles(other, a, b, false);
        for (level, blocks) in wiped.iter().enumerate() {
            self.set_blocks(level, blocks);
        }
        for (c, e) in self.voxels.iter_mut() {
            if e.1 && !other.is_on(*c) {
                e.1 = false;
            }
        }
    }

    /// `topologyDifference(b)`: state `a_on && !b_on`, values kept — except that a
    /// node of A facing an *active* tile of B, one level below a node both trees
    /// share, is deleted (background, inactive). Needs both node sets.
    pub fn topology_difference(&mut self, other: &Model<T>, a: &NodeSet, b: &NodeSet) {
        let wiped = self.branches_facing_tiles(other, a, b, true);
        for (level, blocks) in wiped.iter().enumerate() {
            self.set_blocks(level, blocks);
        }
        for (c, e) in self.voxels.iter_mut() {
            if e.1 && other.is_on(*c) {
                e.1 = false;
            }
        }
    }

    /// `merge<MERGE_ACTIVE_STATES>(b)` (B must hold no regions): top-down over the
    /// blocks below nodes both trees share (every upper block at the root):
    /// - both have a node: descend; for two leaves, B's active voxels fill A's
    ///   inactive ones;
    /// - only B has a node: unless A is an active tile there, B's node replaces A's
    ///   tile with B's values, its inactive values approx-equal to B's background
    ///   (or its negative) switched to A's (`resetBackground`) — at the root; below
    ///   it, OpenVDB swaps the two backgrounds (A's → B's), and so does the model;
    /// - B is an active tile: unless A is an active tile there too, the block becomes
    ///   B's value, active (A's node, active voxels included, is dropped);
    /// - B is an inactive tile or absent: nothing.
    pub fn merge(&mut self, other: &Model<T>, a: &NodeSet, b: &NodeSet) {
        assert!(other.regions.is_empty(), "model: B must not hold regions");
        let (al, bl) = (a.sets(), b.sets());
        let (bg, obg) = (self.background, other.background);
        // `resetBackground(old, new)` of a moved node. At the root it goes from B's
        // background to A's; below the root OpenVDB 10 (RootNode.h passes
        // `(other.mBackground, mBackground)` as InternalNode::merge's `(background,
        // otherBackground)`) resets from A's background to B's.
        let reset = |v: T, level: usize| -> T {
            let (old, new) = if level == 2 { (obg, bg) } else { (bg, obg) };
            if T::approx_eq(v, old) {
                new
            } else if T::approx_eq(v, T::neg(old)) {
                T::neg(new)
            } else {
                v
            }
        };
        for level in (0..3).rev() {
            let log2 = self.log2[level];
            let mut candidates: HashSet<Coord> = bl[level].clone();
            for (&c, &(_, on)) in &other.voxels {
                if on {
                    candidates.insert(block_origin(c, log2));
                }
            }
            let mut candidates: Vec<Coord> = candidates.into_iter().collect();
            candidates.sort();
            for o in candidates {
                let shared_parent = level == 2 || {
                    let p = block_origin(o, self.log2[level + 1]);
                    al[level + 1].contains(&p) && bl[level + 1].contains(&p)
                };
                if !shared_parent {
                    continue;
                }
                let a_node = al[level].contains(&o);
                let a_active_tile = !a_node && self.is_on(o);
                let bx = block_box(o, log2);
                if bl[level].contains(&o) {
                    if a_node {
                        if level == 0 {
                            for (&c, &(v, on)) in &other.voxels {
                                if on && box_contains(&bx, c) && !self.is_on(c) {
                                    self.voxels.insert(c, (v, true));
                                }
                            }
                        }
                    } else if !a_active_tile {
                        // B's implicit voxels there read B's background, reset too.
                        let filler = reset(obg, level);
                        let blocks: HashMap<_, _> = [(o, (filler, false))].into_iter().collect();
                        self.set_blocks(level, &blocks);
                        for (&c, &(v, on)) in &other.voxels {
                            if box_contains(&bx, c) {
                                let v = if on { v } else { reset(v, level) };
                                self.voxels.insert(c, (v, on));
                            }
                        }
                    }
                } else if other.is_on(o) && !a_active_tile {
                    let blocks: HashMap<_, _> = [(o, (other.get(o), true))].into_iter().collect();
                    self.set_blocks(level, &blocks);
                }
            }
        }
    }
}
