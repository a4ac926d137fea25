//! Shared test support: random trees from quickcheck op lists, bitwise tree
//! comparison, thread pools of a given size.
#![allow(dead_code, unreachable_pub)]

use quickcheck::{Arbitrary, Gen};
use sparsevdb_tree::{Coord, CoordBBox, Tree, Value};

/// Number of quickcheck cases: small under Miri.
pub fn cases(n: u64) -> u64 {
    if cfg!(miri) {
        2
    } else {
        n
    }
}

/// One write to a tree.
#[derive(Clone, Debug)]
pub enum Op {
    Set(Coord, f32),
    SetOff(Coord, f32),
    /// Fill of the box at `min` with side `side` (may be aligned: a tile).
    Fill(Coord, i32, f32, bool),
}

fn pick<T: Copy>(g: &mut Gen, xs: &[T]) -> T {
    *g.choose(xs).expect("non-empty")
}

/// A coordinate that often shares leaves and nodes with others.
pub fn coord(g: &mut Gen) -> Coord {
    let small = |g: &mut Gen| i32::arbitrary(g).rem_euclid(48) - 24;
    match u8::arbitrary(g) % 10 {
        0 => Coord::new(
            pick(g, &[-5000, 4100, 200, -130]) + small(g),
            small(g),
            small(g),
        ),
        1 => Coord::new(
            pick(g, &[i32::MIN, i32::MAX, -1, 0]),
            pick(g, &[i32::MIN, i32::MAX, 7]),
            small(g),
        ),
        _ => Coord::new(small(g), small(g), small(g)),
    }
}

/// A value: small numbers mostly, sometimes -0.0, a large value or NaN.
pub fn value(g: &mut Gen) -> f32 {
    match u8::arbitrary(g) % 20 {
        0 => -0.0,
        1 => f32::NAN,
        2 => 1.0e30,
        _ => (i32::arbitrary(g) % 64) as f32 * 0.25,
    }
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 12 {
            0 | 1 => {
                let side = pick(g, &[3, 8, 8, 16, 128, 20]);
                let c = coord(g);
                let align = if side % 8 == 0 { side } else { 1 };
                let min = Coord::new(
                    c.x.saturating_sub(0) & !(align - 1),
                    c.y & !(align - 1),
                    c.z & !(align - 1),
                );
                Op::Fill(min, side, value(g), bool::arbitrary(g))
            }
            2 | 3 => Op::SetOff(coord(g), value(g)),
            _ => Op::Set(coord(g), value(g)),
        }
    }
}

/// Ops for a tree, with a background.
#[derive(Clone, Debug)]
pub struct TreeSpec {
    pub background: f32,
    pub ops: Vec<Op>,
}

impl Arbitrary for TreeSpec {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = usize::arbitrary(g) % 40;
        TreeSpec {
            background: pick(g, &[0.0, 0.0, 1.0, -2.5]),
            ops: (0..n).map(|_| Op::arbitrary(g)).collect(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let bg = self.background;
        Box::new(self.ops.shrink().map(move |ops| TreeSpec {
            background: bg,
            ops,
        }))
    }
}

impl TreeSpec {
    /// The tree of these ops.
    pub fn build<const L2: u32, const L1: u32, const L0: u32>(&self) -> Tree<f32, L2, L1, L0> {
        let mut t = Tree::with_background(self.background);
        for op in &self.ops {
            match *op {
                Op::Set(c, v) => t.set_value(c, v),
                Op::SetOff(c, v) => t.set_value_off(c, v),
                Op::Fill(min, side, v, on) => {
                    let max = Coord::new(
                        min.x.saturating_add(side - 1),
                        min.y.saturating_add(side - 1),
                        min.z.saturating_add(side - 1),
                    );
                    t.fill(&CoordBBox::new(min, max), v, on);
                }
            }
        }
        t
    }

    /// The 5-4-3 tree of these ops.
    pub fn tree(&self) -> Tree<f32> {
        self.build::<5, 4, 3>()
    }
}

/// The bits of a value.
fn bits<T: Value>(v: T) -> u64 {
    let b = bytemuck::bytes_of(&v);
    let mut x = [0u8; 8];
    x[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(x)
}

/// A digest of a tree: background, node counts, and a hash over every stored value
/// (voxels and tiles, active or not) with its place, level and state.
pub fn fingerprint<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    t: &Tree<T, L2, L1, L0>,
) -> (u64, usize, usize, u64, u64) {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut n = 0u64;
    for i in t.iter_all() {
        let c = i.coord();
        for w in [
            c.x as u32 as u64,
            c.y as u32 as u64,
            c.z as u32 as u64,
            u64::from(i.level()),
            bits(i.value()),
            u64::from(i.is_active()),
        ] {
            h = (h ^ w).wrapping_mul(0x0100_0000_01b3);
        }
        n += 1;
    }
    (
        bits(t.background()),
        t.leaf_count(),
        t.non_leaf_count(),
        n,
        h,
    )
}

/// True when the two trees hold the same bits in the same structure.
pub fn same_bits<T: Value, const L2: u32, const L1: u32, const L0: u32>(
    a: &Tree<T, L2, L1, L0>,
    b: &Tree<T, L2, L1, L0>,
) -> bool {
    let mut ia = a.iter_all();
    let mut ib = b.iter_all();
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => break,
            (Some(x), Some(y)) => {
                if x.coord() != y.coord()
                    || x.level() != y.level()
                    || x.is_active() != y.is_active()
                    || bits(x.value()) != bits(y.value())
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
    bits(a.background()) == bits(b.background())
        && a.leaf_count() == b.leaf_count()
        && a.non_leaf_count() == b.non_leaf_count()
}

/// Runs `f` on a rayon pool of `threads` threads.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

/// The thread counts the property tests try.
pub const THREADS: [usize; 3] = [1, 2, 3];

/// A tree whose leaves cover every storage form: packed leaves with 0 to 384 active
/// voxels, dense ones past that or with differing inactive values, and some leaves
/// forced dense (`make_dense`) or compacted. `seed` shifts the masks and values, so
/// two seeds give overlapping leaves with different masks.
pub fn forms_tree(seed: usize, background: f32) -> Tree<f32> {
    let mut t = Tree::new(background);
    let counts = [0usize, 1, 3, 64, 200, 300, 384, 385, 450, 512];
    for (k, &count) in counts.iter().enumerate() {
        let base = Coord::new(8 * k as i32, 0, 0);
        // An inactive voxel with the background: the leaf exists, packed.
        t.set_value_off(base, background);
        for i in 0..count {
            // 37 is prime to 512: distinct offsets.
            let n = (i * 37 + seed * 101) % 512;
            let c = Coord::new(
                base.x + (n >> 6) as i32,
                ((n >> 3) & 7) as i32,
                (n & 7) as i32,
            );
            let v = match (i + seed) % 23 {
                0 => -0.0,
                1 => 2.5,
                _ => (i as f32 * 0.37 + seed as f32).sin() * 4.0,
            };
            t.set_value(c, v);
        }
        if (k + seed) % 4 == 3 {
            // An inactive value other than the background: dense.
            t.set_value_off(Coord::new(base.x + 7, 7, 7), 9.0);
        }
    }
    for (i, leaf) in t.leaves_mut().enumerate() {
        match (i + seed) % 3 {
            0 => leaf.compact(),
            1 => {
                leaf.make_dense();
            }
            _ => {}
        }
    }
    t
}
