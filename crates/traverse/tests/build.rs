//! Parallel bulk build equals `set_value` of every pair in order (duplicates: last
//! write wins), in both sort orders and for 1-3 threads.

mod support;

use quickcheck::{Arbitrary, Gen, QuickCheck};
use sparsevdb_traverse::{bulk_build_with, SortOrder};
use sparsevdb_tree::{Coord, Tree};
use support::{cases, same_bits, with_threads, THREADS};

#[derive(Clone, Debug)]
struct Pairs(f32, Vec<(Coord, f32)>);

impl Arbitrary for Pairs {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = usize::arbitrary(g) % 300;
        let mut pairs: Vec<(Coord, f32)> = (0..n)
            .map(|_| (support::coord(g), support::value(g)))
            .collect();
        // Duplicated coordinates with other values.
        for i in 0..n / 5 {
            let c = pairs[i * 3 % n].0;
            pairs.push((c, support::value(g)));
        }
        let bg = *g.choose(&[0.0f32, 1.0, -2.5]).expect("non-empty");
        Pairs(bg, pairs)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let (bg, p) = (self.0, self.1.clone());
        let n = p.len();
        Box::new(
            [n / 2, n.saturating_sub(1)]
                .into_iter()
                .filter(move |&k| k < n)
                .map(move |k| Pairs(bg, p[..k].to_vec())),
        )
    }
}

fn serial<const L2: u32, const L1: u32, const L0: u32>(
    bg: f32,
    pairs: &[(Coord, f32)],
) -> Tree<f32, L2, L1, L0> {
    let mut t = Tree::with_background(bg);
    for &(c, v) in pairs {
        t.set_value(c, v);
    }
    t
}

#[test]
fn bulk_build_matches_set_value() {
    fn prop(p: Pairs) -> bool {
        let want: Tree<f32> = serial(p.0, &p.1);
        THREADS.iter().all(|&n| {
            [SortOrder::TreeOrder, SortOrder::Morton]
                .iter()
                .all(|&order| {
                    let got: Tree<f32> = with_threads(n, || bulk_build_with(p.0, &p.1, order));
                    got.validate().is_ok() && same_bits(&got, &want)
                })
        })
    }
    QuickCheck::new()
        .tests(cases(200))
        .quickcheck(prop as fn(Pairs) -> bool);
}

#[test]
fn bulk_build_other_configuration() {
    fn prop(p: Pairs) -> bool {
        let want: Tree<f32, 4, 4, 3> = serial(p.0, &p.1);
        let got: Tree<f32, 4, 4, 3> = bulk_build_with(p.0, &p.1, SortOrder::Morton);
        same_bits(&got, &want)
    }
    QuickCheck::new()
        .tests(cases(100))
        .quickcheck(prop as fn(Pairs) -> bool);
}

#[test]
fn narrow_and_wide_keys() {
    // Narrow keys (a small span) and wide keys (the whole i32 range) give the tree.
    let narrow: Vec<(Coord, f32)> = (0..5000)
        .map(|i| (Coord::new(i % 97, (i * 7) % 61, -(i % 13)), i as f32))
        .collect();
    let mut wide = narrow.clone();
    wide.push((Coord::new(i32::MIN, i32::MAX, 0), 1.0));
    wide.push((Coord::new(i32::MAX, i32::MIN, i32::MAX), 2.0));
    for pairs in [narrow, wide] {
        let want: Tree<f32> = serial(0.0, &pairs);
        for order in [SortOrder::TreeOrder, SortOrder::Morton] {
            let got: Tree<f32> = bulk_build_with(0.0, &pairs, order);
            assert!(same_bits(&got, &want), "{order:?}");
        }
    }
}

#[test]
fn empty_input_gives_an_empty_tree() {
    let t: Tree<f32> = sparsevdb_traverse::bulk_build(3.0, &[]);
    assert!(t.is_empty());
    assert_eq!(t.background(), 3.0);
}
