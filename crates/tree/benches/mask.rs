//! Micro-benchmark behind `docs/decisions/0002-masks-u64-words.md`: our word masks
//! (`[u64]` + `trailing_zeros`) against bitvec's `BitArray` for the operations the tree
//! uses on every node: iterate on bits, iterate off bits, count, test single bits.
//!
//! `cargo bench -p sparsevdb-tree --bench mask`

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use bitvec::prelude::*;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use sparsevdb_tree::Mask;

/// A deterministic bit pattern with roughly `percent` % of the bits on.
fn pattern(bits: usize, percent: u64) -> Vec<bool> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..bits)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % 100 < percent
        })
        .collect()
}

fn leaf_masks(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask512");
    for percent in [1u64, 50, 99] {
        let bits = pattern(512, percent);
        let mut ours = Mask::<3>::new(false);
        let mut theirs: BitArray<[u64; 8], Lsb0> = BitArray::ZERO;
        for (i, &b) in bits.iter().enumerate() {
            ours.set(i, b);
            theirs.set(i, b);
        }
        g.bench_with_input(BenchmarkId::new("words_iter_on", percent), &ours, |b, m| {
            b.iter(|| black_box(m).iter_on().sum::<usize>())
        });
        g.bench_with_input(
            BenchmarkId::new("bitvec_iter_ones", percent),
            &theirs,
            |b, m| b.iter(|| black_box(m).iter_ones().sum::<usize>()),
        );
        g.bench_with_input(
            BenchmarkId::new("words_iter_off", percent),
            &ours,
            |b, m| b.iter(|| black_box(m).iter_off().sum::<usize>()),
        );
        g.bench_with_input(
            BenchmarkId::new("bitvec_iter_zeros", percent),
            &theirs,
            |b, m| b.iter(|| black_box(m).iter_zeros().sum::<usize>()),
        );
        g.bench_with_input(BenchmarkId::new("words_count", percent), &ours, |b, m| {
            b.iter(|| black_box(m).count_on())
        });
        g.bench_with_input(
            BenchmarkId::new("bitvec_count", percent),
            &theirs,
            |b, m| b.iter(|| black_box(m).count_ones()),
        );
        g.bench_with_input(BenchmarkId::new("words_test", percent), &ours, |b, m| {
            b.iter(|| (0..512).filter(|&i| black_box(m).is_on(i)).count())
        });
        g.bench_with_input(BenchmarkId::new("bitvec_test", percent), &theirs, |b, m| {
            b.iter(|| (0..512).filter(|&i| black_box(m)[i]).count())
        });
    }
    g.finish();
}

fn internal_masks(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask32768");
    let bits = pattern(32768, 1);
    let mut ours = Mask::<5>::new(false);
    let mut theirs: BitVec<u64, Lsb0> = BitVec::repeat(false, 32768);
    for (i, &b) in bits.iter().enumerate() {
        ours.set(i, b);
        theirs.set(i, b);
    }
    g.bench_function("words_iter_on_1pct", |b| {
        b.iter(|| black_box(&ours).iter_on().sum::<usize>())
    });
    g.bench_function("bitvec_iter_ones_1pct", |b| {
        b.iter(|| black_box(&theirs).iter_ones().sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, leaf_masks, internal_masks);
criterion_main!(benches);
