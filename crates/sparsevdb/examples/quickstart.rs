//! Builds a narrow-band sphere and a pruned sparse matrix in a tree and prints their
//! counts and memory: `cargo run --release -p sparsevdb --example quickstart`.

use sparsevdb::{Coord, CoordBBox, Tree};

fn main() {
    // A narrow-band level set: every voxel within 3 of a sphere of radius 64.
    let mut sphere: Tree<f32> = Tree::new(3.0);
    {
        let mut acc = sphere.accessor_mut();
        for x in -67..=67 {
            for y in -67..=67 {
                for z in -67..=67 {
                    let d = ((x * x + y * y + z * z) as f64).sqrt() - 64.0;
                    if d.abs() < 3.0 {
                        acc.set_value(Coord::new(x, y, z), d as f32);
                    }
                }
            }
        }
    }
    report("sphere r=64, band 3", &sphere);

    // A dense block made of tiles, then pruned back after a write.
    let mut block: Tree<f32> = Tree::new(0.0);
    block.fill(
        &CoordBBox::new(Coord::new(0, 0, 0), Coord::new(1023, 1023, 1023)),
        1.0,
        true,
    );
    block.set_value(Coord::new(5, 5, 5), 2.0);
    report("1024^3 box of tiles, one voxel changed", &block);
    block.set_value(Coord::new(5, 5, 5), 1.0);
    block.prune(0.0);
    report("... after prune(0)", &block);
}

fn report(name: &str, t: &Tree<f32>) {
    println!(
        "{name}: active voxels {}, leaves {}, internal nodes {}, active tiles {}, memory {:.2} MiB",
        t.active_voxel_count(),
        t.leaf_count(),
        t.non_leaf_count(),
        t.active_tile_count(),
        t.mem_usage() as f64 / (1024.0 * 1024.0)
    );
}
