//! Memory of internal nodes on sparse data (decision 0010): exact `mem_usage` figures
//! for the `random` and `tiles` shapes, printed with `--nocapture`, and bounds that
//! fail if a node goes back to per-slot tables.

use sparsevdb_tree::{Coord, CoordBBox, LeafNode, Node, Tree};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> i32 {
        (self.next() % n as u64) as i32
    }
}

fn random_tree(draws: usize, side: u32) -> Tree<f32> {
    let mut rng = Rng(1);
    let mut t: Tree<f32> = Tree::new(0.0);
    let h = (side / 2) as i32;
    for i in 0..draws {
        let c = Coord::new(
            rng.below(side) - h,
            rng.below(side) - h,
            rng.below(side) - h,
        );
        t.set_value(c, i as f32 + 1.0);
    }
    t
}

fn tiles_tree(side: i32, draws: usize) -> Tree<f32> {
    let mut rng = Rng(4);
    let mut t: Tree<f32> = Tree::new(0.0);
    t.fill(
        &CoordBBox::new(
            Coord::new(0, 0, 0),
            Coord::new(side - 1, side - 1, side - 1),
        ),
        1.0,
        true,
    );
    for i in 0..draws {
        let c = Coord::new(
            rng.below(side as u32),
            rng.below(side as u32),
            rng.below(side as u32),
        );
        t.set_value(c, 2.0 + i as f32);
    }
    t
}

fn report(name: &str, t: &Tree<f32>, stored: usize) -> usize {
    let mem = t.mem_usage();
    let (mut uppers, mut lowers) = (0usize, 0usize);
    for u in t.root().children() {
        uppers += 1;
        lowers += u.children().count();
    }
    println!(
        "{name}: mem_usage = {mem} B ({} B per stored value), {uppers} upper, {lowers} lower, {} leaves",
        mem / stored.max(1),
        t.leaf_count()
    );
    t.validate().unwrap();
    mem
}

#[test]
fn memory_of_sparse_shapes() {
    let small = random_tree(1000, 4096);
    let mem = report("random 1000 in 4096^3", &small, 1000);
    // One lower node per voxel here; a per-slot tile or position table alone would be
    // 16 KiB + 8 KiB a lower node.
    let small_ok = mem < 1000 * 8 * 1024;
    let t = tiles_tree(1024, 1000);
    report("tiles 1024^3 + 1000", &t, 1000);
    if !cfg!(debug_assertions) {
        let big = random_tree(1 << 20, 4096);
        report("random 2^20 in 4096^3", &big, 1 << 20);
    }
    assert!(small_ok, "{mem}");
}

#[test]
fn one_leaf_lower_node_is_small() {
    type Lower = sparsevdb_tree::InternalNode<LeafNode<f32, 3>, 4>;
    let mut n = Lower::new_filled(Coord::new(0, 0, 0), 0.0, false);
    n.set_value_on(Coord::new(1, 2, 3), 1.0);
    let with_tiny_leaf = n.mem_usage();
    // The child table with one leaf object (tiny leaves live elsewhere).
    n.promote_tiny_leaves();
    let leaf = n.children().next().unwrap().mem_usage();
    let own = n.mem_usage() - leaf;
    println!("lower node with one leaf: {own} B besides the leaf; {with_tiny_leaf} B in all with a tiny leaf");
    assert!(own < 2048, "{own}");
    assert!(
        with_tiny_leaf < n.mem_usage(),
        "the tiny leaf is the smaller form"
    );
}

/// Bytes of a lower node itself (its children's `mem_usage` taken off).
fn own_bytes<C: Node, const L: u32>(n: &sparsevdb_tree::InternalNode<C, L>) -> usize {
    n.mem_usage() - n.children().map(|c| c.mem_usage()).sum::<usize>()
}

#[test]
fn forms_switch_at_their_thresholds() {
    let mut t: Tree<f32> = Tree::new(0.0);
    // 600 leaves in the lower node at the origin: past 4096 / 8 children.
    for i in 0..600 {
        let (x, y, z) = (i % 16, (i / 16) % 16, i / 256);
        t.set_value(Coord::new(x * 8, y * 8, z * 8), i as f32);
    }
    // 300 distinct leaf-sized tiles at (128, 0, 0) (past 4096 / 16), 20 at (256, 0, 0).
    for (base, count) in [(128, 300), (256, 20)] {
        for i in 0..count {
            let o = Coord::new(base + (i % 16) * 8, ((i / 16) % 16) * 8, (i / 256) * 8);
            t.fill(
                &CoordBBox::new(o, Coord::new(o.x + 7, o.y + 7, o.z + 7)),
                1.0 + i as f32,
                true,
            );
        }
    }
    // The child-table forms (tiny leaves are not in the child table).
    t.promote_tiny_leaves();
    t.validate().unwrap();
    let upper = t.root().children().next().unwrap();
    let own: Vec<(i32, usize)> = upper
        .children()
        .map(|l| (l.origin().x, own_bytes(l)))
        .collect();
    println!("lower nodes (origin x, own bytes): {own:?}");
    assert_eq!(own.len(), 3);
    assert!(own[0].1 > 4096 * 8, "dense child table: {}", own[0].1);
    assert!(
        (4096 * 4..4096 * 8).contains(&own[1].1),
        "dense tile table: {}",
        own[1].1
    );
    assert!(
        own[2].1 < 2048,
        "uniform tiles, sparse children: {}",
        own[2].1
    );
    // The 20 distinct tiles read back, and a whole-node fill returns to one value.
    for i in 0..20 {
        let o = Coord::new(256 + (i % 16) * 8, ((i / 16) % 16) * 8, 0);
        assert_eq!(t.probe_value(o), (1.0 + i as f32, true));
    }
    t.fill(
        &CoordBBox::new(Coord::new(128, 0, 0), Coord::new(255, 127, 127)),
        5.0,
        false,
    );
    assert_eq!(t.probe_value(Coord::new(130, 3, 3)), (5.0, false));
    t.validate().unwrap();
}
