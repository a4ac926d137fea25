//! The real all-MiniLM-L6-v2 weights and their LoRA adapter (`../shared/data`
//! next to the workspace): import, prune, store, export, multiply. Each test
//! prints a message and passes when the files are absent.

use std::path::PathBuf;

use sparsevdb_neural::safetensors_io::read_file;
use sparsevdb_neural::{CsrMatrix, DenseMatrix, ImportOptions, LoraPair, SparsityRule, WeightGrid};

fn data_file(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        println!("skipping: {} not found", p.display());
        None
    }
}

const MODEL: &str = "minilm-l6-v2.f16.safetensors";
const LORA: &str = "lora-r8-minilm.safetensors";

fn encoder_matrix(name: &str) -> bool {
    name.starts_with("encoder.layer.") && name.ends_with(".weight") && !name.contains("LayerNorm")
}

#[test]
fn minilm_prune_store_export_bit_exact() {
    let Some(path) = data_file(MODEL) else { return };
    let original = read_file(&path, false).unwrap();
    assert_eq!(original.tensors.len(), 103);
    // (sparsity, active voxels and checksum of the 36 encoder matrices, from stats.md)
    for (sparsity, voxels, checksum) in [
        (0.90, 1_062_838u64, -714.232544f64),
        (0.99, 106_367, -209.820068),
    ] {
        let opts = ImportOptions {
            matrix_rule: SparsityRule::Sparsity(sparsity),
            ..Default::default()
        };
        let (grid, report) = WeightGrid::from_safetensors_file(&path, &opts).unwrap();
        assert_eq!(report.tensors.len(), 103);
        let mut n = 0u64;
        let mut sum = 0f64;
        for r in report.tensors.iter().filter(|r| encoder_matrix(&r.name)) {
            n += r.stored;
            let d = grid.load(&r.name).unwrap();
            sum += d.data().iter().map(|&v| f64::from(v)).sum::<f64>();
        }
        assert_eq!(n, voxels, "active voxels at {sparsity}");
        assert!(
            (sum - checksum).abs() < 1e-3,
            "checksum {sum} at {sparsity}"
        );
        if sparsity == 0.99 {
            let q0 = report
                .tensors
                .iter()
                .find(|r| r.name == "encoder.layer.0.attention.self.query.weight")
                .unwrap();
            assert_eq!(q0.kept, 1476, "kept99 of L0 query in stats.md");
        }
        // export, read back, compare every element of every tensor
        let out = grid.to_safetensors().unwrap();
        let back = sparsevdb_neural::safetensors_io::read_tensors(&out, false).unwrap();
        assert_eq!(back.tensors.len(), 103);
        for t in &original.tensors {
            let b = back.tensors.iter().find(|x| x.name == t.name).unwrap();
            assert_eq!((b.dtype, &b.shape), (t.dtype, &t.shape));
            let rule = if t.shape.len() >= 2 {
                opts.matrix_rule
            } else {
                opts.vector_rule
            };
            let cut = rule.cut(&t.values).unwrap();
            for (x, y) in t.values.iter().zip(&b.values) {
                let expect = if cut.keeps(*x) { *x } else { 0.0 };
                assert_eq!(y.to_bits(), expect.to_bits(), "{}", t.name);
            }
        }
    }
}

#[test]
fn minilm_spmv_matches_dense_and_csr() {
    let Some(path) = data_file(MODEL) else { return };
    let opts = ImportOptions {
        matrix_rule: SparsityRule::Sparsity(0.99),
        ..Default::default()
    };
    let (grid, report) = WeightGrid::from_safetensors_file(&path, &opts).unwrap();
    let mut rng = sparsevdb_neural::synth::SplitMix64::new(11);
    for r in report.tensors.iter().filter(|r| encoder_matrix(&r.name)) {
        let d: DenseMatrix = grid.load(&r.name).unwrap();
        let csr = CsrMatrix::from_dense(&d, r.cut).unwrap();
        assert_eq!(csr.nnz() as u64, r.stored);
        let x: Vec<f32> = (0..d.cols()).map(|_| rng.unit() - 0.5).collect();
        let xt: Vec<f32> = (0..d.rows()).map(|_| rng.unit() - 0.5).collect();
        let (y, yd, yc) = (
            grid.matvec(&r.name, &x).unwrap(),
            d.matvec(&x).unwrap(),
            csr.matvec(&x).unwrap(),
        );
        let (t, td) = (
            grid.matvec_t(&r.name, &xt).unwrap(),
            d.matvec_t(&xt).unwrap(),
        );
        for (a, b) in y
            .iter()
            .zip(&yd)
            .chain(yc.iter().zip(&yd))
            .chain(t.iter().zip(&td))
        {
            assert!((a - b).abs() < 1e-4, "{}: {a} vs {b}", r.name);
        }
    }
}

#[test]
fn lora_adapter_roundtrip_and_delta() {
    let Some(path) = data_file(LORA) else { return };
    let original = read_file(&path, false).unwrap();
    assert_eq!(original.tensors.len(), 24);
    let (grid, _) = WeightGrid::from_safetensors_file(&path, &ImportOptions::default()).unwrap();
    let pairs = LoraPair::find(grid.plan()).unwrap();
    assert_eq!(pairs.len(), 12);
    for p in &pairs {
        assert_eq!((p.rank, p.in_features, p.out_features), (8, 384, 384));
        let (a, b) = grid.load_lora(&p.module).unwrap();
        let ta = original.tensors.iter().find(|t| t.name == p.a).unwrap();
        let tb = original.tensors.iter().find(|t| t.name == p.b).unwrap();
        assert_eq!(a.data(), &ta.values[..]);
        assert_eq!(b.data(), &tb.values[..]);
        let expect = b.matmul(&a).unwrap();
        let delta = grid.lora_delta(&p.module, 1.0).unwrap();
        assert_eq!(delta.shape(), [384, 384]);
        assert_eq!(delta, expect);
        let x = vec![0.25f32; 384];
        let y = grid.lora_matvec(&p.module, 1.0, &x).unwrap();
        for (u, v) in y.iter().zip(expect.matvec(&x).unwrap()) {
            assert!((u - v).abs() < 1e-4);
        }
    }
    let out = grid.to_safetensors().unwrap();
    let back = sparsevdb_neural::safetensors_io::read_tensors(&out, false).unwrap();
    for t in &original.tensors {
        let b = back.tensors.iter().find(|x| x.name == t.name).unwrap();
        assert_eq!(
            b.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            t.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn lora_with_the_model_in_one_grid() {
    // Base model and adapter share one plan: the adapter's tensors sit in the
    // slabs of their layers, next to the weights they adapt.
    let (Some(model), Some(lora)) = (data_file(MODEL), data_file(LORA)) else {
        return;
    };
    let m = read_file(&model, false).unwrap();
    let l = read_file(&lora, false).unwrap();
    let specs: Vec<_> = m
        .tensors
        .iter()
        .chain(&l.tensors)
        .map(|t| sparsevdb_neural::TensorSpec::new(t.name.clone(), t.shape.clone()))
        .collect();
    let plan = sparsevdb_neural::LayoutPlan::from_tensors(&specs, &Default::default()).unwrap();
    let q = plan
        .tensor("encoder.layer.3.attention.self.query.weight")
        .unwrap();
    let a = plan
        .tensor("base_model.model.encoder.layer.3.attention.self.query.lora_A.weight")
        .unwrap();
    let b = plan
        .tensor("base_model.model.encoder.layer.3.attention.self.query.lora_B.weight")
        .unwrap();
    // the pair follows the weight it adapts
    assert_eq!(q.slots().unwrap().end, a.slots().unwrap().start);
    assert_eq!(a.slots().unwrap().end, b.slots().unwrap().start);
    let mut grid = WeightGrid::new(plan);
    for t in m.tensors.iter().chain(&l.tensors) {
        grid.store(&t.name, &t.shape, &t.values[..], SparsityRule::KeepAll)
            .unwrap();
    }
    let module = "base_model.model.encoder.layer.3.attention.self.query";
    assert_eq!(grid.lora_delta(module, 1.0).unwrap().shape(), [384, 384]);
}
