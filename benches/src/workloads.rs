//! The standard workloads of `shared/bench/WORKLOADS.md`, generated exactly as
//! specified there, so that every implementation (the HashMap baselines, the OpenVDB
//! anchor in C++, this project's tree) works on identical data.
//!
//! The generators are those of the anchor `shared/anchors/hashmap-bench/src/workloads.rs`
//! (project material), with the same choices where the spec leaves points open:
//! * `read_miss` and the `tiles` reads draw coordinates only: three `below` draws per
//!   coordinate (x, then y, then z), no value draw.
//! * `prune` clears the leaves with an even index (0, 2, 4, ...) in the 5-4-3 tree's
//!   leaf iteration order, see [`leaf_order_key`].
//!
//! [`Data`] bundles one workload with everything derived from it (B operand, read
//! sets, prune selection) and prints the `DATA` checksum lines of
//! `shared/bench/ANCHORS.md`. This module has no dependencies.

/// A voxel coordinate `[x, y, z]`.
pub type Coord = [i32; 3];

/// SplitMix64, as in the spec.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64-bit output.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 bits: `(next() >> 40) as f32 / 2^24`.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / 16_777_216.0
    }

    /// `next() % n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A coordinate with each component `below(n) - offset`, drawn x, then y, then z.
    pub fn coord(&mut self, n: u64, offset: i32) -> Coord {
        let x = self.below(n) as i32 - offset;
        let y = self.below(n) as i32 - offset;
        let z = self.below(n) as i32 - offset;
        [x, y, z]
    }
}

/// The five workload names, in the order they are reported.
pub const NAMES: [&str; 5] = ["sphere", "random", "neural99", "neural_block", "tiles"];

/// A constant, active fill of an inclusive box (the `tiles` workload).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fill {
    /// Lowest corner, inclusive.
    pub min: Coord,
    /// Highest corner, inclusive.
    pub max: Coord,
    /// The active value the box is filled with.
    pub value: f32,
}

impl Fill {
    /// Whether `c` lies inside the box.
    pub fn contains(&self, c: Coord) -> bool {
        (0..3).all(|i| self.min[i] <= c[i] && c[i] <= self.max[i])
    }

    /// Number of voxels in the box.
    pub fn voxel_count(&self) -> u64 {
        (0..3)
            .map(|i| (i64::from(self.max[i]) - i64::from(self.min[i]) + 1).max(0) as u64)
            .product()
    }

    /// Number of voxels of the 8³ block `block` (a [`block_of`] value) inside the box.
    pub fn block_overlap(&self, block: Coord) -> u64 {
        (0..3)
            .map(|i| {
                let lo = (block[i] << 3).max(self.min[i]);
                let hi = ((block[i] << 3) + 7).min(self.max[i]);
                (i64::from(hi) - i64::from(lo) + 1).max(0) as u64
            })
            .product()
    }
}

/// One generated data set: an optional fill, then voxels set in generation order.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The active fill applied before the voxels (only `tiles` has one).
    pub fill: Option<Fill>,
    /// `(coord, value)` in generation order; duplicates allowed, the last write wins.
    pub voxels: Vec<(Coord, f32)>,
}

/// The workload `name`; `second` gives the B operand of `combine`
/// (seed + 1000; for `sphere`, radius 257).
///
/// # Panics
/// On an unknown name (see [`NAMES`]).
pub fn generate(name: &str, second: bool) -> Workload {
    let bump = if second { 1000 } else { 0 };
    match name {
        "sphere" => sphere(if second { 257.0 } else { 256.0 }),
        "random" => random(1 + bump),
        "neural99" => neural99(2 + bump),
        "neural_block" => neural_block(3 + bump),
        "tiles" => tiles(4 + bump),
        _ => panic!("unknown workload {name:?}"),
    }
}

/// Every integer point with |sqrt(x²+y²+z²) − radius| < 3 (in f64), for x, y, z in
/// −259..=259, lexicographic. The z range of each (x, y) column is bounded
/// analytically (with a one-voxel margin) and every candidate gets the exact test,
/// so coordinates and order are those of the brute-force triple loop.
pub fn sphere(radius: f64) -> Workload {
    const LIM: i32 = 259;
    let (inner, outer) = (radius - 3.0, radius + 3.0);
    let mut voxels = Vec::new();
    for x in -LIM..=LIM {
        for y in -LIM..=LIM {
            let r2 = (x * x + y * y) as f64;
            let z_hi = ((outer * outer - r2).max(0.0).sqrt().floor() as i32 + 1).min(LIM);
            let z_lo = ((inner * inner - r2).max(0.0).sqrt().ceil() as i32 - 1).max(0);
            let mut z = -z_hi;
            while z <= z_hi {
                if -z_lo < z && z < z_lo {
                    z = z_lo; // skip the hollow inside the band
                    continue;
                }
                let d = ((x * x + y * y + z * z) as f64).sqrt() - radius;
                if d.abs() < 3.0 {
                    voxels.push(([x, y, z], d as f32));
                }
                z += 1;
            }
        }
    }
    Workload { fill: None, voxels }
}

/// 2^20 draws of a coordinate in [−2048, 2048)³ and a `unit()` value.
pub fn random(seed: u64) -> Workload {
    random_sized(seed, 1 << 20, 4096)
}

/// `draws` draws of a coordinate in [−side/2, side/2)³ (x, y, z: `below(side) −
/// side/2`) and a `unit()` value: [`random`] is `random_sized(seed, 2^20, 4096)`.
/// Smaller sizes are for the criterion benches.
pub fn random_sized(seed: u64, draws: usize, side: u32) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let half = (side / 2) as i32;
    let voxels = (0..draws)
        .map(|_| {
            let c = rng.coord(u64::from(side), half);
            (c, rng.unit())
        })
        .collect();
    Workload { fill: None, voxels }
}

/// (rows, cols) of the six matrices of one transformer layer: Q, K, V, O, FFN-up, FFN-down.
const MATRICES: [(usize, usize); 6] = [
    (384, 384),
    (384, 384),
    (384, 384),
    (384, 384),
    (1536, 384),
    (384, 1536),
];
const LAYERS: usize = 6;

/// Calls `f(m, rows, cols)` for every matrix in order; m = layer·6 + k.
fn for_each_matrix(mut f: impl FnMut(i32, usize, usize)) {
    for layer in 0..LAYERS {
        for (k, &(rows, cols)) in MATRICES.iter().enumerate() {
            f((layer * 6 + k) as i32, rows, cols);
        }
    }
}

/// Element-wise 99 % sparse transformer weights, mapped to (col, row, matrix).
pub fn neural99(seed: u64) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let mut voxels = Vec::new();
    for_each_matrix(|m, rows, cols| {
        for row in 0..rows {
            for col in 0..cols {
                if rng.unit() < 0.01 {
                    voxels.push(([col as i32, row as i32, m], rng.unit() - 0.5));
                }
            }
        }
    });
    Workload { fill: None, voxels }
}

/// 8×8-block sparse (5 % of the blocks kept) transformer weights.
pub fn neural_block(seed: u64) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let mut voxels = Vec::new();
    for_each_matrix(|m, rows, cols| {
        for block_row in 0..rows / 8 {
            for block_col in 0..cols / 8 {
                if rng.unit() < 0.05 {
                    for r in 0..8 {
                        for c in 0..8 {
                            let (row, col) = (block_row * 8 + r, block_col * 8 + c);
                            voxels.push(([col as i32, row as i32, m], rng.unit() - 0.5));
                        }
                    }
                }
            }
        }
    });
    Workload { fill: None, voxels }
}

/// The box of the `tiles` workload: [0, 1024)³, active value 1.0.
pub const TILES_BOX: Fill = Fill {
    min: [0, 0, 0],
    max: [1023, 1023, 1023],
    value: 1.0,
};

/// [`TILES_BOX`], then 1000 voxels drawn inside it with a `unit()` value.
pub fn tiles(seed: u64) -> Workload {
    tiles_sized(seed, 1024, 1000)
}

/// The active box [0, side)³ with value 1.0, then `draws` voxels drawn inside it
/// with a `unit()` value: [`tiles`] is `tiles_sized(seed, 1024, 1000)`. Smaller
/// sizes are for the criterion benches.
pub fn tiles_sized(seed: u64, side: u32, draws: usize) -> Workload {
    let mut rng = SplitMix64::new(seed);
    let voxels = (0..draws)
        .map(|_| {
            let c = rng.coord(u64::from(side), 0);
            (c, rng.unit())
        })
        .collect();
    let max = side as i32 - 1;
    Workload {
        fill: Some(Fill {
            min: [0, 0, 0],
            max: [max, max, max],
            value: 1.0,
        }),
        voxels,
    }
}

/// Coordinates read by `read_hit_coherent`: the inserted ones in generation order,
/// or for `tiles` 2^20 coordinates drawn inside the box with seed 5.
pub fn hit_coords(name: &str, w: &Workload) -> Vec<Coord> {
    if name == "tiles" {
        let mut rng = SplitMix64::new(5);
        (0..1 << 20).map(|_| rng.coord(1024, 0)).collect()
    } else {
        w.voxels.iter().map(|&(c, _)| c).collect()
    }
}

/// Fisher–Yates with SplitMix64 seed 42 (the `read_hit_random` order).
pub fn shuffled(coords: &[Coord]) -> Vec<Coord> {
    let mut out = coords.to_vec();
    let mut rng = SplitMix64::new(42);
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// 2^20 coordinates drawn as in `random` with seed 99, less those that are stored.
pub fn miss_coords(is_stored: impl Fn(Coord) -> bool) -> Vec<Coord> {
    let mut rng = SplitMix64::new(99);
    (0..1 << 20)
        .map(|_| rng.coord(4096, 2048))
        .filter(|&c| !is_stored(c))
        .collect()
}

/// The 8³ block (leaf) holding `c`.
pub fn block_of(c: Coord) -> Coord {
    [c[0] >> 3, c[1] >> 3, c[2] >> 3]
}

/// Sort key giving the leaf iteration order of a 5-4-3 tree (OpenVDB's): root
/// children by origin (lexicographic, floor division by 4096), then child index
/// inside the 32³ node, then inside the 16³ node (x-major both). `block` is a
/// [`block_of`] value.
pub fn leaf_order_key(block: Coord) -> [i32; 9] {
    let [x, y, z] = block;
    [
        x >> 9,
        y >> 9,
        z >> 9,
        (x >> 4) & 31,
        (y >> 4) & 31,
        (z >> 4) & 31,
        x & 15,
        y & 15,
        z & 15,
    ]
}

/// A coordinate packed into one integer whose order is the lexicographic order of
/// the coordinates (components must lie within ±2^20, which all workloads do).
pub fn pack(c: Coord) -> u64 {
    let part = |v: i32| {
        debug_assert!((-(1 << 20)..(1 << 20)).contains(&v));
        (v + (1 << 20)) as u64 & 0x1F_FFFF
    };
    (part(c[0]) << 42) | (part(c[1]) << 21) | part(c[2])
}

/// The inverse of [`pack`].
pub fn unpack(key: u64) -> Coord {
    let part = |bits: u64| (bits & 0x1F_FFFF) as i32 - (1 << 20);
    [part(key >> 42), part(key >> 21), part(key)]
}

/// FNV-1a-style order-sensitive fingerprint over 32-bit words.
#[derive(Clone, Debug)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fingerprint {
    /// Mixes in one 32-bit word.
    pub fn word(&mut self, w: u32) {
        self.0 = (self.0 ^ u64::from(w)).wrapping_mul(0x0000_0100_0000_01b3);
    }

    /// Mixes in x, y and z as u32 (two's complement).
    pub fn coord(&mut self, c: Coord) {
        c.iter().for_each(|&v| self.word(v as u32));
    }

    /// The current hash.
    pub fn value(&self) -> u64 {
        self.0
    }

    /// The current hash as 16 lower-case hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// `(x,y,z)`, as the `DATA` lines print a fill's corners.
pub fn fmt_coord(c: Coord) -> String {
    format!("({},{},{})", c[0], c[1], c[2])
}

/// The final state of a [`Workload`] (last write wins): the distinct coordinates
/// set, sorted by [`pack`] key, each with its last value.
pub fn final_values(w: &Workload) -> Vec<(u64, f32)> {
    let mut keyed: Vec<(u64, f32)> = w.voxels.iter().map(|&(c, v)| (pack(c), v)).collect();
    // Stable: among equal keys the generation order is kept, so the last is the last write.
    keyed.sort_by_key(|&(k, _)| k);
    let mut out: Vec<(u64, f32)> = Vec::with_capacity(keyed.len());
    for (k, v) in keyed {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 = v,
            _ => out.push((k, v)),
        }
    }
    out
}

/// Everything generated for one workload (untimed), shared by all structures.
#[derive(Clone, Debug)]
pub struct Data {
    /// The workload's name (one of [`NAMES`]).
    pub name: &'static str,
    /// The workload.
    pub a: Workload,
    /// The `combine` operand B (seed + 1000; sphere radius 257).
    pub b: Workload,
    /// Distinct coordinates set in A, by [`pack`] key, with their final values.
    pub a_final: Vec<(u64, f32)>,
    /// The same for B.
    pub b_final: Vec<(u64, f32)>,
    /// `read_hit_coherent` coordinates.
    pub hits: Vec<Coord>,
    /// `read_hit_random` coordinates (Fisher–Yates of `hits`, seed 42).
    pub hits_shuffled: Vec<Coord>,
    /// `read_miss` coordinates (seed 99, stored ones dropped).
    pub misses: Vec<Coord>,
    /// Distinct 8³ blocks (leaves) of A's set voxels, in 5-4-3 leaf order.
    pub leaf_blocks: Vec<Coord>,
    /// The blocks `prune` clears (even-indexed leaves), sorted lexicographically
    /// for [`Data::is_prune_block`].
    pub prune_blocks: Vec<Coord>,
    /// Distinct coordinates set in A inside `prune_blocks`.
    pub prune_voxels: usize,
}

impl Data {
    /// Generates workload `name` and everything derived from it.
    pub fn new(name: &str) -> Self {
        let name = NAMES
            .iter()
            .copied()
            .find(|&n| n == name)
            .unwrap_or_else(|| panic!("unknown workload {name:?}"));
        let a = generate(name, false);
        let b = generate(name, true);
        let a_final = final_values(&a);
        let b_final = final_values(&b);
        let hits = hit_coords(name, &a);
        let hits_shuffled = shuffled(&hits);
        let misses = miss_coords(|c| {
            a_final.binary_search_by_key(&pack(c), |e| e.0).is_ok()
                || a.fill.is_some_and(|f| f.contains(c))
        });
        // Distinct blocks with their number of distinct set voxels, in leaf order.
        let mut keyed: Vec<([i32; 9], Coord)> = a_final
            .iter()
            .map(|&(k, _)| {
                let b = block_of(unpack(k));
                (leaf_order_key(b), b)
            })
            .collect();
        keyed.sort_unstable();
        let mut leaf_blocks: Vec<Coord> = Vec::new();
        let mut per_block: Vec<usize> = Vec::new();
        for (_, b) in keyed {
            if leaf_blocks.last() == Some(&b) {
                *per_block.last_mut().expect("pushed together") += 1;
            } else {
                leaf_blocks.push(b);
                per_block.push(1);
            }
        }
        let prune_voxels = per_block.iter().step_by(2).sum();
        let mut prune_blocks: Vec<Coord> = leaf_blocks.iter().step_by(2).copied().collect();
        prune_blocks.sort_unstable();
        Self {
            name,
            a,
            b,
            a_final,
            b_final,
            hits,
            hits_shuffled,
            misses,
            leaf_blocks,
            prune_blocks,
            prune_voxels,
        }
    }

    /// Whether the 8³ block `block` (a [`block_of`] value) is cleared by `prune`.
    pub fn is_prune_block(&self, block: Coord) -> bool {
        self.prune_blocks.binary_search(&block).is_ok()
    }

    /// Distinct coordinates set in A.
    pub fn unique(&self) -> usize {
        self.a_final.len()
    }

    /// The `DATA` checksum lines as `(item, checksum)`, exactly as the anchors print
    /// them (`shared/bench/ANCHORS.md`).
    pub fn checksums(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (item, w, fin) in [("A", &self.a, &self.a_final), ("B", &self.b, &self.b_final)] {
            let mut fp = Fingerprint::default();
            let mut sum = 0.0f64;
            for &(c, v) in &w.voxels {
                fp.coord(c);
                fp.word(v.to_bits());
                sum += f64::from(v);
            }
            let fill = w.fill.map_or(String::new(), |f| {
                format!(
                    " fill={}..{} value={:.6}",
                    fmt_coord(f.min),
                    fmt_coord(f.max),
                    f.value
                )
            });
            out.push((
                item,
                format!(
                    "n={} unique={} sum={sum:.6} fp={}{fill}",
                    w.voxels.len(),
                    fin.len(),
                    fp.hex()
                ),
            ));
        }
        for (item, coords) in [
            ("hits", &self.hits),
            ("hits_shuffled", &self.hits_shuffled),
            ("misses", &self.misses),
        ] {
            let mut fp = Fingerprint::default();
            coords.iter().for_each(|&c| fp.coord(c));
            out.push((item, format!("n={} fp={}", coords.len(), fp.hex())));
        }
        out.push((
            "prune_leaves",
            format!(
                "leaves={} cleared_leaves={} cleared_voxels={}",
                self.leaf_blocks.len(),
                self.prune_blocks.len(),
                self.prune_voxels
            ),
        ));
        out
    }
}

/// The `DATA` table of `shared/bench/ANCHORS.md`, line for line
/// (`workload | item | checksum`): what [`Data::checksums`] must give.
pub const ANCHOR_DATA: &str = "\
sphere | A | n=4939794 unique=4939794 sum=101292.569144 fp=99dc76fd25954acd
sphere | B | n=4980734 unique=4980734 sum=93349.608182 fp=07f6de0a3edd1d5f
sphere | hits | n=4939794 fp=003197de75d9a26d
sphere | hits_shuffled | n=4939794 fp=1e9f074425d88b65
sphere | misses | n=1048505 fp=9dcb3e9d31729f1c
sphere | prune_leaves | leaves=26600 cleared_leaves=13300 cleared_voxels=2477157
random | A | n=1048576 unique=1048570 sum=524093.548632 fp=ef70b9b39191fb8b
random | B | n=1048576 unique=1048569 sum=524818.620620 fp=84745f50f3d1675a
random | hits | n=1048576 fp=1052f5344e501667
random | hits_shuffled | n=1048576 fp=f83e1c33c022218f
random | misses | n=1048557 fp=3795917eccb2c60b
random | prune_leaves | leaves=1044530 cleared_leaves=522265 cleared_voxels=524276
neural99 | A | n=106352 unique=106352 sum=-128.840193 fp=a43991a3d7cfb351
neural99 | B | n=105814 unique=105814 sum=-3.611473 fp=cbe61c036d1b64a2
neural99 | hits | n=106352 fp=79157b7fed577f67
neural99 | hits_shuffled | n=106352 fp=9e19c352d84c7709
neural99 | misses | n=1048573 fp=0d4a5596771fe321
neural99 | prune_leaves | leaves=47610 cleared_leaves=23805 cleared_voxels=53173
neural_block | A | n=537024 unique=537024 sum=99.925890 fp=71e766c2badc6be7
neural_block | B | n=532288 unique=532288 sum=20.613694 fp=7d0f3a20aa58f897
neural_block | hits | n=537024 fp=15015bc80477b6b5
neural_block | hits_shuffled | n=537024 fp=d2a63218d6767f35
neural_block | misses | n=1048568 fp=adc8ef19540f8a08
neural_block | prune_leaves | leaves=7696 cleared_leaves=3848 cleared_voxels=266368
tiles | A | n=1000 unique=1000 sum=479.993287 fp=d6fdae433c81d9bd fill=(0,0,0)..(1023,1023,1023) value=1.000000
tiles | B | n=1000 unique=1000 sum=489.959442 fp=e0bbb88f51e15e07 fill=(0,0,0)..(1023,1023,1023) value=1.000000
tiles | hits | n=1048576 fp=4344328eb99a91ce
tiles | hits_shuffled | n=1048576 fp=ba86a7ab3b409858
tiles | misses | n=1032280 fp=36367ab14a980e06
tiles | prune_leaves | leaves=1000 cleared_leaves=500 cleared_voxels=500";

/// The `(item, checksum)` pairs of [`ANCHOR_DATA`] for workload `name`, in order.
pub fn anchor_checksums(name: &str) -> Vec<(&'static str, &'static str)> {
    ANCHOR_DATA
        .lines()
        .filter_map(|l| {
            let mut cols = l.split(" | ");
            let (w, item, sum) = (cols.next()?, cols.next()?, cols.next()?);
            (w == name).then_some((item, sum))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn pack_round_trips_and_orders() {
        let cs = [
            [-2048, 5, 7],
            [-1, -1, -1],
            [0, 0, 0],
            [0, 0, 1],
            [4095, -3, 2],
        ];
        for w in cs.windows(2) {
            assert!(pack(w[0]) < pack(w[1]));
        }
        for c in cs {
            assert_eq!(unpack(pack(c)), c);
        }
    }

    #[test]
    fn leaf_order_key_is_hierarchical() {
        // Inside one 128³ node, x-major over 8³ blocks; root children by origin.
        assert!(leaf_order_key([0, 15, 15]) < leaf_order_key([1, 0, 0]));
        assert!(leaf_order_key([15, 15, 15]) < leaf_order_key([0, 0, 16]));
        assert!(leaf_order_key([-1, 0, 0]) < leaf_order_key([0, -1, 0]));
    }

    #[test]
    fn fill_overlap() {
        let f = TILES_BOX;
        assert_eq!(f.voxel_count(), 1 << 30);
        assert_eq!(f.block_overlap([0, 0, 0]), 512);
        assert_eq!(f.block_overlap([-1, 0, 0]), 0);
        assert_eq!(f.block_overlap([127, 127, 127]), 512);
        assert_eq!(f.block_overlap([128, 0, 0]), 0);
    }

    #[test]
    fn checksums_match_anchors() {
        let mut failures = Vec::new();
        let mut checked = 0;
        for name in NAMES {
            let data = Data::new(name);
            let got = data.checksums();
            let want = anchor_checksums(name);
            assert_eq!(got.len(), want.len(), "{name}: number of DATA items");
            for ((gi, gc), (wi, wc)) in got.iter().zip(&want) {
                assert_eq!(gi, wi, "{name}: item order");
                checked += 1;
                if gc != wc {
                    failures.push(format!("{name} {gi}: got {gc}, want {wc}"));
                }
            }
        }
        assert_eq!(checked, 30);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
