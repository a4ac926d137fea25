//! `Tree::mem_usage()` against a counting global allocator: for trees whose leaves
//! are tiny, packed, dense, pinned dense, or mixed with tiles, the bytes the tree reports
//! must be the bytes it holds on the heap (plus its own inline size).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sparsevdb_tree::{Coord, CoordBBox, DenseTree, Node, Tree};

/// Live bytes requested through the allocator by the current thread (requested
/// sizes, not the allocator's rounding; per thread so that the test harness's own
/// allocations on other threads do not count).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(n: usize, sign: isize) {
    // `try_with`: the slot may be gone while the thread exits.
    let _ = LIVE.try_with(|l| l.set(l.get() + sign * n as isize));
}

// SAFETY: every method forwards to `System` with the caller's layout and only adds
// bookkeeping.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size(), 1);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size(), 1);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(l.size(), -1);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        add(new, 1);
        add(l.size(), -1);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes `make` leaves behind in the tree it returns, and the tree.
fn measured<T>(make: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.with(Cell::get);
    let t = make();
    ((LIVE.with(Cell::get) - before) as usize, t)
}

fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *s >> 33
}

fn sparse<const D: bool>() -> Tree<f32, 5, 4, 3, D> {
    let mut t = Tree::with_background(0.0);
    let mut s = 7u64;
    for _ in 0..3000 {
        let c = Coord::new(
            (lcg(&mut s) % 700) as i32 - 350,
            (lcg(&mut s) % 700) as i32,
            (lcg(&mut s) % 90) as i32,
        );
        t.set_value(c, (lcg(&mut s) % 100) as f32);
    }
    t
}

fn mixed<const D: bool>() -> Tree<f32, 5, 4, 3, D> {
    let mut t = sparse::<D>();
    t.fill(
        &CoordBBox::new(Coord::new(0, 0, 0), Coord::new(300, 200, 40)),
        2.0,
        true,
    );
    t.set_value_off(Coord::new(1, 1, 1), 5.0);
    for i in 0..400 {
        t.set_value(Coord::new(i, 3, 500), i as f32);
    }
    t.prune(0.0);
    t
}

fn check<const D: bool>(what: &str, make: impl FnOnce() -> Tree<f32, 5, 4, 3, D>) {
    let (heap, t) = measured(make);
    let inline = core::mem::size_of::<Tree<f32, 5, 4, 3, D>>();
    assert_eq!(
        t.mem_usage(),
        heap + inline,
        "{what}: mem_usage vs allocator ({} leaves, {} dense)",
        t.leaf_count(),
        t.leaves().filter(|l| l.is_dense()).count()
    );
}

#[test]
fn packed_leaves() {
    check("sparse adaptive", sparse::<false>);
}

#[test]
fn dense_only_leaves() {
    check("sparse dense-only", sparse::<true>);
}

#[test]
fn mixed_forms_and_tiles() {
    check("mixed adaptive", mixed::<false>);
    check("mixed dense-only", mixed::<true>);
}

#[test]
fn after_compaction() {
    check("compacted", || {
        let mut t = mixed::<false>();
        t.leaves_mut().for_each(|l| l.compact());
        t
    });
    let _ = DenseTree::<f32>::default();
}

/// Internal tables in every form (decision 0010): a lower node past 512 children
/// (dense child table), one with more than 256 distinct leaf-sized tiles (dense tile
/// table), uniform tables with exceptions, and tables rebuilt whole by
/// `set_background` (which re-picks the uniform default).
fn internal_forms() -> Tree<f32, 5, 4, 3, false> {
    let mut t = Tree::with_background(0.0);
    // 600 leaves in the lower node at the origin.
    for i in 0..600 {
        let (x, y, z) = (i % 16, (i / 16) % 16, i / 256);
        t.set_value(Coord::new(x * 8, y * 8, z * 8), i as f32);
    }
    // 300 distinct tiles in the lower node at (128, 0, 0), 20 in the one at (256, 0, 0).
    for (base, count) in [(128, 300), (256, 20)] {
        for i in 0..count {
            let o = Coord::new(base + (i % 16) * 8, ((i / 16) % 16) * 8, (i / 256) * 8);
            t.fill(
                &CoordBBox::new(o, Coord::new(o.x + 7, o.y + 7, o.z + 7)),
                1.0 + i as f32,
                i % 2 == 0,
            );
        }
    }
    t.set_background(-1.0);
    t
}

#[test]
fn internal_table_forms() {
    check("internal forms", internal_forms);
}

/// `compact` drops every lower node's spare capacity: each one then takes exactly
/// the memory of its clone (which allocates every buffer at its length) — its leaf
/// buffers, tiny store, child table and tile table (the exceptions `fill` adds).
#[test]
fn compact_leaves_no_spare_capacity_in_lower_nodes() {
    let lowers = |t: &Tree<f32, 5, 4, 3, false>| -> Vec<usize> {
        t.root()
            .children()
            .flat_map(|u| u.children())
            .map(|l| l.mem_usage())
            .collect()
    };
    for build in [internal_forms, mixed::<false>, tiny_forms] {
        let mut t = build();
        for i in 0..40 {
            let o = Coord::new(2048 + 8 * i, 0, 0);
            t.fill(
                &CoordBBox::new(o, Coord::new(o.x + 7, o.y + 7, o.z + 7)),
                0.5 + i as f32,
                true,
            );
        }
        t.compact();
        assert_eq!(lowers(&t), lowers(&t.clone()));
    }
}

/// Tiny leaves (decision 0011) in both slot forms — a sorted list (a few leaves in a
/// lower node) and a mask (past 128) — next to leaf objects, after promotions, after
/// bulk operations that pack small leaves back, and with internal masks that were
/// never allocated or were given back.
fn tiny_forms() -> Tree<f32, 5, 4, 3, false> {
    let mut t = Tree::with_background(0.0);
    // A lower node with 20 tiny leaves (slot list) and one with 600 (slot mask).
    for i in 0..20 {
        t.set_value(Coord::new(1000 + 8 * i, 0, 0), i as f32);
    }
    for i in 0..600 {
        let (x, y, z) = (i % 16, (i / 16) % 16, i / 256);
        t.set_value(Coord::new(x * 8, y * 8, z * 8 + 1), i as f32);
    }
    // Leaves that outgrow the tiny form (promoted) next to them.
    for i in 0..40 {
        t.set_value(Coord::new(8 + i % 8, (i / 8) % 8, 0), 1.0);
    }
    t
}

#[test]
fn tiny_leaf_forms() {
    let count_tiny = |t: &Tree<f32>| t.leaves().filter(|l| l.is_tiny()).count();
    check("tiny leaves", || {
        let t = tiny_forms();
        assert!(count_tiny(&t) >= 619 && t.leaves().any(|l| !l.is_tiny()));
        t
    });
    check("tiny leaves promoted by leaves_mut", || {
        let mut t = tiny_forms();
        t.leaves_mut().for_each(|_| {});
        assert_eq!(count_tiny(&t), 0);
        t
    });
    check("promoted, then compacted", || {
        let mut t = tiny_forms();
        t.leaves_mut().for_each(|_| {});
        t.compact();
        assert!(count_tiny(&t) >= 619);
        t
    });
    check("pruned after clearing", || {
        let mut t = tiny_forms();
        for i in 0..300 {
            let (x, y, z) = (i % 16, (i / 16) % 16, i / 256);
            t.set_value_off(Coord::new(x * 8, y * 8, z * 8 + 1), 0.0);
        }
        t.prune(0.0);
        assert!(count_tiny(&t) > 0);
        t
    });
    check("combined", || {
        let mut t = tiny_forms();
        t.comp_sum(&sparse::<false>());
        assert!(count_tiny(&t) > 0);
        t
    });
}

/// A tiny leaf's `mem_usage` is its share of its store: the leaves of a tree of
/// one-voxel tiny leaves (4000 in one lower node: the store's mask form; 20 in
/// another: its slot list) add up to no more than the whole tree, and to all of it
/// but the internal nodes' own few KiB and the rounding.
#[test]
fn tiny_leaves_add_up_to_their_store() {
    let mut t: Tree<f32, 5, 4, 3, false> = Tree::with_background(0.0);
    for i in 0..4000 {
        let (x, y, z) = (i % 16, (i / 16) % 16, i / 256);
        t.set_value(Coord::new(x * 8, y * 8, z * 8 + 1), i as f32);
    }
    for i in 0..20 {
        t.set_value(Coord::new(1000 + 8 * i, 0, 0), i as f32);
    }
    t.compact();
    assert_eq!(t.leaves().filter(|l| l.is_tiny()).count(), 4020);
    let leaves: usize = t.leaves().map(|l| l.mem_usage()).sum();
    let tree = t.mem_usage();
    assert!(leaves <= tree, "leaves {leaves} > tree {tree}");
    // The rest of the tree (root, the upper node's 4 KiB child mask, two lower
    // nodes' masks and tables) is under 8 KiB, and the shares are rounded down (less
    // than a byte per leaf); the old estimate (8 bytes of index per leaf, about 2.3
    // here) overshot the whole tree by 15 KiB.
    assert!(tree - leaves < 8192 + 4020, "leaves {leaves}, tree {tree}");
}
