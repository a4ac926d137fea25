//! HashMap baselines: `std::collections::HashMap<[i32; 3], f32>` (SipHash-1-3) and
//! `ahash::AHashMap<[i32; 3], f32>` (used as the table it wraps,
//! `HashMap<[i32; 3], f32, ahash::RandomState>`), with the operations and the
//! checksum strings of the anchor `shared/anchors/hashmap-bench`, so that this
//! harness's `RESULT` lines merge with the anchors' (`merge_results.py`).
//!
//! How each op maps onto a HashMap:
//! * build: `insert` in generation order into `HashMap::with_hasher(..)` (no reserve).
//! * reads: `get(..).copied().unwrap_or(background)` summed in f64.
//! * iterate: `values()` summed in f64.
//! * memory: live bytes of the counting allocator ([`crate::alloc`]), after build
//!   minus before (0 when the allocator is not installed).
//! * combine: `for (k, v) in &b { *a.entry(*k).or_insert(0.0) += v }`. A is a clone
//!   of a map built once (untimed), B is built once.
//! * prune: the 8³ blocks that are the even-indexed leaves of a 5-4-3 tree get all
//!   their entries set to 0.0 (untimed; on a clone of a map built once); the timed
//!   part is `retain(|_, v| *v != 0.0)`. It also drops voxels whose own value is 0.0
//!   (sphere: 6); the checksum says how many. `retain` frees no memory.
//! * tiles: all 1024³ voxels would have to be stored; the table size is estimated
//!   and the workload reported as not feasible.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::alloc::live_bytes;
use crate::record::{Record, AHASHMAP, STD_HASHMAP};
use crate::timing::Timing;
use crate::workloads::{block_of, Coord, Data, Workload};

/// The map type of both baselines.
pub type Map<S> = HashMap<Coord, f32, S>;

/// The std baseline's hasher (SipHash-1-3, randomly keyed).
pub type StdState = std::collections::hash_map::RandomState;

/// The aHash baseline's hasher: `ahash::RandomState` (what `ahash::AHashMap` uses),
/// made `Default` through `RandomState::new()` (the workspace builds ahash without
/// its `runtime-rng` feature, which is what provides `Default`; the hash function
/// is the same, only the keys differ).
#[derive(Clone, Debug)]
pub struct AhashState(pub ahash::RandomState);

impl Default for AhashState {
    fn default() -> Self {
        Self(ahash::RandomState::new())
    }
}

impl BuildHasher for AhashState {
    type Hasher = ahash::AHasher;

    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }

    #[inline]
    fn hash_one<T: std::hash::Hash>(&self, x: T) -> u64 {
        self.0.hash_one(x)
    }
}

/// A map of `w`'s voxels, inserted in generation order.
pub fn build<S: BuildHasher + Default>(w: &Workload) -> Map<S> {
    let mut map = Map::with_hasher(S::default());
    insert_all(&mut map, w);
    map
}

// The timed loops are kept out of line (as in the anchor), so that their code does not
// depend on how the harness around them gets inlined.

/// Inserts every voxel of `w` in generation order (the timed part of `build`).
#[inline(never)]
pub fn insert_all<S: BuildHasher>(map: &mut Map<S>, w: &Workload) {
    for &(c, v) in &w.voxels {
        map.insert(c, v);
    }
}

/// Sum of the values at `coords` (0.0 where absent), in f64.
#[inline(never)]
pub fn read_sum<S: BuildHasher>(map: &Map<S>, coords: &[Coord]) -> f64 {
    coords
        .iter()
        .map(|c| f64::from(map.get(c).copied().unwrap_or(0.0)))
        .sum()
}

/// Sum of all values, in f64 (the `iterate` op).
#[inline(never)]
pub fn value_sum<S>(map: &Map<S>) -> f64 {
    map.values().map(|&v| f64::from(v)).sum()
}

/// A += B (the `combine` op). Inlined on purpose: out of line, LLVM leaves
/// hashbrown's entry lookup as a call in the loop and it runs 2-5x slower (anchor).
#[inline(always)]
pub fn add_into<S: BuildHasher>(a: &mut Map<S>, b: &Map<S>) {
    for (k, v) in b {
        *a.entry(*k).or_insert(0.0) += *v;
    }
}

/// Drops the entries whose value is 0.0 (the timed part of `prune`).
#[inline(never)]
pub fn remove_zeros<S>(map: &mut Map<S>) {
    map.retain(|_, v| *v != 0.0);
}

/// hashbrown's table size for `n` entries of `entry` bytes: a power-of-two bucket
/// count at most 7/8 full, one control byte per bucket plus one group.
pub fn hashbrown_bytes(n: u64, entry: u64) -> u64 {
    let buckets = (n * 8 / 7).next_power_of_two();
    buckets * (entry + 1) + 16
}

/// Past this, a HashMap holding a workload is reported as not feasible (24 GiB machine).
pub const FEASIBLE_BYTES: u64 = 16 << 30;

/// Estimated table bytes for holding `d`'s workload A (fill included) in a HashMap.
pub fn estimated_bytes(d: &Data) -> u64 {
    let entries = d.a.fill.map_or(0, |f| f.voxel_count()) + d.a.voxels.len() as u64;
    hashbrown_bytes(entries, std::mem::size_of::<(Coord, f32)>() as u64)
}

/// Whether a HashMap can hold `d`'s workload (not `tiles`).
pub fn feasible(d: &Data) -> bool {
    estimated_bytes(d) <= FEASIBLE_BYTES
}

/// The `all` record that reports `d` as not feasible for `structure`.
pub fn infeasible(d: &Data, structure: &str) -> Record {
    let n = d.a.fill.map_or(0, |f| f.voxel_count()) + d.a.voxels.len() as u64;
    let bytes = estimated_bytes(d);
    Record::new(
        d.name,
        "all",
        structure,
        f64::NAN,
        "not feasible",
        format!(
            "{n} entries need an estimated {bytes} B ({:.1} GiB) table",
            bytes as f64 / (1u64 << 30) as f64
        ),
    )
}

/// Which ops to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSet {
    /// Run `combine`.
    pub combine: bool,
    /// Run `prune` (and `prune_memory`).
    pub prune: bool,
    /// Build a fresh tree for every run of `combine` and `prune` (the standard, as
    /// the OpenVDB anchor does); when false, clone the tree `build` made (faster).
    /// The HashMaps always clone: a hashbrown clone copies the table as it is.
    pub fresh_trees: bool,
}

impl Default for OpSet {
    fn default() -> Self {
        Self {
            combine: true,
            prune: true,
            fresh_trees: true,
        }
    }
}

/// Runs every op on a HashMap with hasher `S`, labelled `structure`; `progress`
/// is called with each op's name before it runs.
pub fn bench_map<S: BuildHasher + Default + Clone>(
    structure: &str,
    d: &Data,
    timing: &Timing,
    ops: OpSet,
    progress: &mut dyn FnMut(&str),
) -> Vec<Record> {
    if !feasible(d) {
        return vec![infeasible(d, structure)];
    }
    let name = d.name;
    let n = d.a.voxels.len();
    let mut out = Vec::new();

    progress("build");
    let m = timing.measure(
        || Map::<S>::with_hasher(S::default()),
        |m| insert_all(m, &d.a),
        |m, ()| m.len(),
    );
    out.push(
        Record::new(
            name,
            "build",
            structure,
            m.secs * 1e9 / n as f64,
            "ns/voxel",
            format!("inserted={n} active={}", m.out),
        )
        .with_runs(&m.runs),
    );

    let before = live_bytes();
    let map = build::<S>(&d.a);
    let bytes = live_bytes().saturating_sub(before);
    for (op, coords) in [
        ("read_hit_coherent", &d.hits),
        ("read_hit_random", &d.hits_shuffled),
        ("read_miss", &d.misses),
    ] {
        progress(op);
        let m = timing.measure(|| (), |_| read_sum(&map, coords), |_, s| s);
        out.push(
            Record::new(
                name,
                op,
                structure,
                m.secs * 1e9 / coords.len() as f64,
                "ns/read",
                format!("reads={} sum={:.6}", coords.len(), m.out),
            )
            .with_runs(&m.runs),
        );
    }

    progress("iterate");
    let m = timing.measure(|| (), |_| value_sum(&map), |_, s| s);
    out.push(
        Record::new(
            name,
            "iterate",
            structure,
            m.secs * 1e9 / map.len() as f64,
            "ns/item",
            format!("items={} active={} sum={:.6}", map.len(), map.len(), m.out),
        )
        .with_runs(&m.runs),
    );

    out.push(Record::new(
        name,
        "memory",
        structure,
        bytes as f64 / map.len() as f64,
        "B/voxel",
        format!("bytes={bytes} active={}", map.len()),
    ));

    if ops.combine {
        progress("combine");
        let b = build::<S>(&d.b);
        let m = timing.measure(
            || map.clone(),
            |a| add_into(a, &b),
            |a, ()| (a.len(), value_sum(a)),
        );
        let (len, sum) = m.out;
        out.push(
            Record::new(
                name,
                "combine",
                structure,
                m.secs * 1e9 / len as f64,
                "ns/voxel",
                format!("active={len} sum={sum:.6}"),
            )
            .with_runs(&m.runs),
        );
    }

    if ops.prune {
        progress("prune");
        let mut cleared_map = map.clone();
        let mut cleared = 0usize;
        for (c, v) in cleared_map.iter_mut() {
            if d.is_prune_block(block_of(*c)) {
                *v = 0.0;
                cleared += 1;
            }
        }
        drop(map);
        let unique = d.unique();
        let m = timing.measure(
            || {
                let before = live_bytes();
                (cleared_map.clone(), before)
            },
            |(m, _)| remove_zeros(m),
            |(m, before), ()| (m.len(), value_sum(m), live_bytes().saturating_sub(*before)),
        );
        let (len, sum, bytes) = m.out;
        let own_zeros = unique - cleared - len;
        out.push(
            Record::new(
                name,
                "prune",
                structure,
                m.secs * 1e9 / unique as f64,
                "ns/voxel",
                format!(
                    "cleared={cleared} active_after={len} own_zeros_dropped={own_zeros} sum_after={sum:.6}"
                ),
            )
            .with_runs(&m.runs),
        );
        out.push(Record::new(
            name,
            "prune_memory",
            structure,
            bytes as f64 / 1e6,
            "MB after",
            format!("bytes_after={bytes}"),
        ));
    }
    out
}

/// [`bench_map`] with the std hasher, labelled [`STD_HASHMAP`].
pub fn bench_std(
    d: &Data,
    timing: &Timing,
    ops: OpSet,
    progress: &mut dyn FnMut(&str),
) -> Vec<Record> {
    bench_map::<StdState>(STD_HASHMAP, d, timing, ops, progress)
}

/// [`bench_map`] with aHash, labelled [`AHASHMAP`].
pub fn bench_ahash(
    d: &Data,
    timing: &Timing,
    ops: OpSet,
    progress: &mut dyn FnMut(&str),
) -> Vec<Record> {
    bench_map::<AhashState>(AHASHMAP, d, timing, ops, progress)
}
