//! Stores all-MiniLM-L6-v2 in a sparsevdb grid at 90 % and 99 % sparsity and
//! compares it with dense f32, CSR (u32 indices) and an `AHashMap`: bytes per
//! matrix and in total, time to store, time to load each layer back to dense,
//! and mat-vec time from the grid against CSR and dense.
//!
//! ```sh
//! cargo run --release -p sparsevdb-neural --example minilm -- [PATH] [--plan] [--slabs] [--synthetic]
//! ```
//!
//! PATH is the model file or the folder holding `minilm-l6-v2.f16.safetensors`
//! (and `lora-r8-minilm.safetensors`). Without it the example looks in
//! `../shared/data` next to the workspace; when that is absent it makes a
//! synthetic model of the same shapes and says so. `--plan` prints the layout
//! plan as a table; `--slabs` uses the slab layout instead of the packed one;
//! `--synthetic` uses the synthetic model even when the data is there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ahash::AHashMap;
use sparsevdb_neural::safetensors_io::{read_file, Tensor};
use sparsevdb_neural::synth::synthetic_values;
use sparsevdb_neural::{
    CsrMatrix, Dtype, ImportOptions, LayoutPlan, LoraPair, ModelDesc, PlanLayout, PlanOptions,
    SparsityRule, TensorSpec, WeightGrid,
};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The model's tensors, where they came from, and the LoRA file next to them.
struct Loaded {
    tensors: Vec<Tensor>,
    source: String,
    lora: Option<PathBuf>,
}

const MODEL: &str = "minilm-l6-v2.f16.safetensors";
const LORA: &str = "lora-r8-minilm.safetensors";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_plan = args.iter().any(|a| a == "--plan");
    let layout = if args.iter().any(|a| a == "--slabs") {
        PlanLayout::Slabs
    } else {
        PlanLayout::Packed
    };
    let path_arg = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from);

    let synthetic = args.iter().any(|a| a == "--synthetic");
    let Loaded {
        tensors,
        source,
        lora: lora_path,
    } = load_model(path_arg, synthetic)?;
    println!("source: {source}");
    println!(
        "{} tensors, {} values",
        tensors.len(),
        tensors.iter().map(|t| t.values.len()).sum::<usize>()
    );

    let specs: Vec<TensorSpec> = tensors
        .iter()
        .map(|t| TensorSpec::new(t.name.clone(), t.shape.clone()))
        .collect();
    let options = PlanOptions {
        layout,
        ..Default::default()
    };
    let plan = LayoutPlan::from_tensors(&specs, &options)?;
    println!(
        "plan ({layout:?}): {} tensors in {} leaf slots, bbox {}",
        plan.len(),
        plan.leaf_count(),
        plan.bbox().map(|b| b.to_string()).unwrap_or_default()
    );
    if show_plan {
        println!("\n{plan}");
    }

    for sparsity in [0.90, 0.99] {
        report(&tensors, &plan, sparsity)?;
    }
    if let Some(p) = lora_path {
        lora_report(&p)?;
    }
    Ok(())
}

/// The model's tensors, a line saying where they came from, and the LoRA
/// file next to them if there is one.
fn load_model(arg: Option<PathBuf>, synthetic: bool) -> BoxResult<Loaded> {
    let file_in = |dir: &Path| -> Option<PathBuf> {
        let f = dir.join(MODEL);
        f.exists().then_some(f)
    };
    let model = match &arg {
        Some(p) if p.is_dir() => {
            Some(file_in(p).ok_or(format!("{MODEL} not found in {}", p.display()))?)
        }
        Some(p) => Some(p.clone()),
        None if synthetic => None,
        None => [
            PathBuf::from("../shared/data"),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        ]
        .iter()
        .find_map(|d| file_in(d)),
    };
    match model {
        Some(path) => {
            let file = read_file(&path, true)?;
            let lora = path.parent().map(|d| d.join(LORA)).filter(|p| p.exists());
            let source = format!("real model {}", path.display());
            Ok(Loaded {
                tensors: file.tensors,
                source,
                lora,
            })
        }
        None => {
            let tensors = ModelDesc::minilm_l6()
                .tensors()
                .into_iter()
                .map(|spec| Tensor {
                    values: synthetic_values(&spec, 1),
                    name: spec.name,
                    dtype: Dtype::F32,
                    shape: spec.shape,
                })
                .collect();
            let why = if synthetic {
                "--synthetic"
            } else {
                "no data file found; pass PATH"
            };
            let source = format!("SYNTHETIC model with the shapes of all-MiniLM-L6-v2 ({why})");
            Ok(Loaded {
                tensors,
                source,
                lora: None,
            })
        }
    }
}

/// Median wall time of `reps` runs of `f`, in microseconds.
fn time_us(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Bytes of a hashbrown table (what `AHashMap` is) with this capacity:
/// buckets × (entry + 1 control byte) + one SIMD group of control bytes.
fn hashmap_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 4 {
        4
    } else if capacity < 8 {
        8
    } else {
        (capacity * 8 / 7 + 1).next_power_of_two()
    };
    buckets * (entry + 1) + 16
}

#[derive(Default)]
struct Totals {
    dense: usize,
    csr: usize,
    map: usize,
    leaf_bytes: u64,
    store_ms: f64,
    load_ms: f64,
    grid_us: f64,
    csr_us: f64,
    dense_us: f64,
}

fn kib(b: impl Into<f64>) -> String {
    format!("{:.1}", b.into() / 1024.0)
}

fn report(tensors: &[Tensor], plan: &LayoutPlan, sparsity: f64) -> BoxResult<()> {
    println!(
        "\n## sparsity {:.0} % (2-D tensors pruned by magnitude per matrix; vectors kept)\n",
        sparsity * 100.0
    );
    let mut grid = WeightGrid::new(plan.clone());
    let rule = SparsityRule::Sparsity(sparsity);
    let mut store_ms = BTreeMap::new();
    let start = Instant::now();
    for t in tensors {
        let r = if t.shape.len() >= 2 {
            rule
        } else {
            SparsityRule::KeepAll
        };
        let s = Instant::now();
        grid.store(&t.name, &t.shape, &t.values[..], r)?;
        store_ms.insert(t.name.as_str(), s.elapsed().as_secs_f64() * 1e3);
    }
    let total_store = start.elapsed().as_secs_f64() * 1e3;

    println!("| matrix | shape | stored | grid KiB (leaves) | dense f32 KiB | CSR KiB | AHashMap KiB | store ms | load ms | SpMV grid µs | CSR µs | dense µs |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut tot = Totals::default();
    let mut layer_load: BTreeMap<String, f64> = BTreeMap::new();
    let mut rng = sparsevdb_neural::synth::SplitMix64::new(7);
    let mut model_pass = Vec::new();
    for t in tensors {
        let name = t.name.as_str();
        let load_ms = time_us(3, || {
            std::hint::black_box(grid.load(name).unwrap());
        }) / 1e3;
        let layer = plan
            .get(name)
            .and_then(|p| p.role())
            .and_then(|r| r.layer())
            .map_or_else(|| "embeddings / head".to_string(), |l| format!("layer {l}"));
        *layer_load.entry(layer).or_default() += load_ms;
        tot.load_ms += load_ms;
        tot.store_ms += store_ms[name];
        let stats = grid.tensor_stats(name)?;
        tot.leaf_bytes += stats.leaf_bytes;
        let dense = grid.load(name)?;
        let cut = grid.meta(name)?.cut.expect("stored");
        let csr = CsrMatrix::from_dense(&dense, cut)?;
        let mut map: AHashMap<(u32, u32), f32> = AHashMap::new();
        for r in 0..dense.rows() {
            for c in 0..dense.cols() {
                let v = dense.data()[r * dense.cols() + c];
                if cut.stores(v) {
                    map.insert((r as u32, c as u32), v);
                }
            }
        }
        let map_bytes = hashmap_bytes(map.capacity(), std::mem::size_of::<((u32, u32), f32)>());
        let dense_bytes = 4 * t.values.len();
        tot.dense += dense_bytes;
        tot.csr += csr.mem_bytes();
        tot.map += map_bytes;
        if t.shape.len() < 2 {
            continue;
        }
        let x: Vec<f32> = (0..dense.cols()).map(|_| rng.unit() - 0.5).collect();
        let reps = (20_000_000 / t.values.len().max(1)).clamp(5, 200);
        let g_us = time_us(reps, || {
            std::hint::black_box(grid.matvec(name, &x).unwrap());
        });
        let c_us = time_us(reps, || {
            std::hint::black_box(csr.matvec(&x).unwrap());
        });
        let d_us = time_us(reps, || {
            std::hint::black_box(dense.matvec(&x).unwrap());
        });
        tot.grid_us += g_us;
        tot.csr_us += c_us;
        tot.dense_us += d_us;
        let shape: Vec<String> = t.shape.iter().map(usize::to_string).collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
            name,
            shape.join("×"),
            csr.nnz(),
            kib(stats.leaf_bytes as f64),
            kib(dense_bytes as f64),
            kib(csr.mem_bytes() as f64),
            kib(map_bytes as f64),
            store_ms[name],
            load_ms,
            g_us,
            c_us,
            d_us
        );
        model_pass.push((name, csr, x));
    }
    // A model pass multiplies every 2-D tensor once, in file order, as inference
    // does; the per-tensor figures above repeat one tensor back to back, which
    // lets the branch predictor learn a small tensor's row lengths (CSR) or leaf
    // sizes (grid) and keeps it in cache.
    let pass_grid_us = time_us(30, || {
        for (name, _, x) in &model_pass {
            std::hint::black_box(grid.matvec(name, x).unwrap());
        }
    });
    let pass_csr_us = time_us(30, || {
        for (_, csr, x) in &model_pass {
            std::hint::black_box(csr.matvec(x).unwrap());
        }
    });
    let stored: u64 = tensors
        .iter()
        .map(|t| grid.meta(&t.name).map_or(0, |m| m.stored))
        .sum();
    let mem = grid.mem_usage();
    println!(
        "| **total ({} tensors)** | | {} | {} (whole tree; leaves {}) | {} | {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} |",
        tensors.len(),
        stored,
        kib(mem as f64),
        kib(tot.leaf_bytes as f64),
        kib(tot.dense as f64),
        kib(tot.csr as f64),
        kib(tot.map as f64),
        tot.store_ms,
        tot.load_ms,
        tot.grid_us,
        tot.csr_us,
        tot.dense_us
    );
    println!(
        "\nbytes per stored value: grid {:.2} (leaves alone {:.2}), CSR {:.2}, AHashMap {:.2}, dense f32 {:.2}",
        mem as f64 / stored as f64,
        tot.leaf_bytes as f64 / stored as f64,
        tot.csr as f64 / stored as f64,
        tot.map as f64 / stored as f64,
        tot.dense as f64 / stored as f64
    );
    println!(
        "grid / dense {:.3}, grid / CSR {:.2}, grid / AHashMap {:.2}; {} leaves, {} voxels per leaf",
        mem as f64 / tot.dense as f64,
        mem as f64 / tot.csr as f64,
        mem as f64 / tot.map as f64,
        grid.tree().leaf_count(),
        format_args!("{:.1}", grid.tree().active_leaf_voxel_count() as f64 / grid.tree().leaf_count().max(1) as f64)
    );
    println!(
        "store all: {total_store:.0} ms; SpMV over the 2-D tensors: grid {:.2} ms, CSR {:.2} ms ({:.2}× CSR), dense {:.2} ms ({:.2}× dense)",
        tot.grid_us / 1e3,
        tot.csr_us / 1e3,
        tot.grid_us / tot.csr_us,
        tot.dense_us / 1e3,
        tot.grid_us / tot.dense_us
    );
    println!(
        "SpMV model pass (every 2-D tensor once per pass, median of 30 passes): grid {:.2} ms, CSR {:.2} ms ({:.2}× CSR)",
        pass_grid_us / 1e3,
        pass_csr_us / 1e3,
        pass_grid_us / pass_csr_us
    );
    println!("\nload back to dense, per layer:");
    for (layer, ms) in &layer_load {
        println!("  {layer}: {ms:.2} ms");
    }
    Ok(())
}

fn lora_report(path: &Path) -> BoxResult<()> {
    println!("\n## LoRA adapter {}\n", path.display());
    let s = Instant::now();
    let (grid, report) = WeightGrid::from_safetensors_file(path, &ImportOptions::default())?;
    let import_ms = s.elapsed().as_secs_f64() * 1e3;
    let pairs = LoraPair::find(grid.plan())?;
    let stored: u64 = report.tensors.iter().map(|r| r.stored).sum();
    println!(
        "{} tensors, {} pairs of rank {}, {stored} values stored in {} KiB (dense f32 {} KiB), import {import_ms:.1} ms",
        report.tensors.len(),
        pairs.len(),
        pairs.first().map_or(0, |p| p.rank),
        kib(grid.mem_usage() as f64),
        kib((4 * stored) as f64)
    );
    if let Some(p) = pairs.first() {
        let delta_us = time_us(20, || {
            std::hint::black_box(grid.lora_delta(&p.module, 1.0).unwrap());
        });
        let x = vec![0.5f32; p.in_features];
        let mv_us = time_us(200, || {
            std::hint::black_box(grid.lora_matvec(&p.module, 1.0, &x).unwrap());
        });
        println!(
            "{}: ΔW = B·A ({}×{}) in {delta_us:.0} µs; ΔW·x = B·(A·x) from the grid in {mv_us:.1} µs",
            p.module, p.out_features, p.in_features
        );
    }
    Ok(())
}
