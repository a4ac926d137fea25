//! Kernel throughput on cache-resident leaf buffers (no tree): ns per 512-value leaf
//! for each instruction set. `cargo run --release -p sparsevdb-traverse --example kernel_speed`
use sparsevdb_traverse::kernels::{self, Isa};
use std::time::Instant;

fn main() {
    let leaves = 256; // 512 KiB of values: L2-resident
    let mut s = 1u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 11
    };
    let values: Vec<f32> = (0..leaves * 512)
        .map(|_| (next() % 1000) as f32 * 0.01 - 5.0)
        .collect();
    let masks: Vec<u64> = (0..leaves * 8)
        .map(|_| next() & next() | (next() << 32))
        .collect();
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        if isa > kernels::detected() {
            continue;
        }
        let reps = 2000;
        let t = Instant::now();
        let mut acc = 0.0;
        for _ in 0..reps {
            for (v, m) in values.chunks(512).zip(masks.chunks(8)) {
                acc += kernels::masked_sum_f32_with(isa, std::hint::black_box(v), m);
            }
        }
        let ns = t.elapsed().as_secs_f64() * 1e9 / (reps * leaves) as f64;
        let mut y = values.clone();
        let t = Instant::now();
        for _ in 0..reps {
            for (yv, xv) in y.chunks_mut(512).zip(values.chunks(512)) {
                kernels::scaled_add_f32_with(isa, std::hint::black_box(yv), 0.5, xv);
            }
        }
        let ns2 = t.elapsed().as_secs_f64() * 1e9 / (reps * leaves) as f64;
        let t = Instant::now();
        let mut c = 0u32;
        for _ in 0..reps {
            for (v, m) in values.chunks(512).zip(masks.chunks(8)) {
                let mut mm = [0u64; 8];
                mm.copy_from_slice(m);
                kernels::mask_below_f32_with(isa, std::hint::black_box(v), 1.0, &mut mm);
                c += mm[0].count_ones();
            }
        }
        let ns3 = t.elapsed().as_secs_f64() * 1e9 / (reps * leaves) as f64;
        println!(
            "{:9} masked_sum {ns:6.1} ns/leaf  scaled_add {ns2:6.1}  mask_below {ns3:6.1}   ({acc:.1} {c})",
            isa.name()
        );
    }
}
