//! Times bulk build on a sphere shell (radius 256, 3 voxels thick) against
//! `set_value` through an accessor: `cargo run --release -p sparsevdb-traverse --example build_phases`
use sparsevdb_tree::{Coord, Tree};
use std::time::Instant;

fn main() {
    let mut pairs = Vec::new();
    for x in -259i32..=259 {
        for y in -259i32..=259 {
            for z in -259i32..=259 {
                let d = ((x * x + y * y + z * z) as f64).sqrt() - 256.0;
                if d.abs() < 3.0 {
                    pairs.push((Coord::new(x, y, z), d as f32));
                }
            }
        }
    }
    let t = Instant::now();
    let mut serial: Tree<f32> = Tree::new(0.0);
    let mut acc = serial.accessor_mut();
    for &(c, v) in &pairs {
        acc.set_value(c, v);
    }
    let s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut keys: Vec<(u64, u32)> = pairs
        .iter()
        .enumerate()
        .map(|(i, (c, _))| {
            (
                ((c.x as u64) << 42) ^ ((c.y as u64) << 21) ^ (c.z as u64),
                i as u32,
            )
        })
        .collect();
    let k = t.elapsed().as_secs_f64();
    let t = Instant::now();
    keys.sort_unstable();
    let so = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let b: Tree<f32> = sparsevdb_traverse::bulk_build(0.0, &pairs);
    let bb = t.elapsed().as_secs_f64();
    let n = pairs.len() as f64;
    println!(
        "{} pairs: accessor {:.1} ns/pair, bulk_build {:.1}, (keys {:.1}, serial sort of (u64,u32) {:.1}) same={}",
        pairs.len(),
        s * 1e9 / n,
        bb * 1e9 / n,
        k * 1e9 / n,
        so * 1e9 / n,
        b == serial
    );
}
