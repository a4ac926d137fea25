//! Bad input of every kind gets a typed error, never a panic: one test per
//! kind, through the public API only.

use std::collections::BTreeMap;

use sparsevdb_neural::safetensors_io::{write_tensors, TensorRef};
use sparsevdb_neural::{
    ClassicLayout, Dtype, Fold, ImportOptions, LayerKind, LayoutPlan, ModelDesc, NeuralError,
    PlanOptions, PlannedTensor, SparsityRule, TensorSpec, TileShape, WeightGrid,
};

fn grid() -> WeightGrid {
    let plan =
        LayoutPlan::from_model(&ModelDesc::bert(1, 2, 64, 128), &PlanOptions::default()).unwrap();
    WeightGrid::new(plan)
}

const Q: &str = "encoder.layer.0.attention.self.query.weight";

#[test]
fn wrong_shapes() {
    let mut g = grid();
    let w = vec![0.5f32; 64 * 64];
    let e = g
        .store(Q, &[32, 128], &w[..], SparsityRule::KeepAll)
        .unwrap_err();
    assert!(
        matches!(e, NeuralError::ShapeMismatch { ref expected, .. } if expected == &[64, 64]),
        "{e}"
    );
    let e = g
        .store(Q, &[64, 64], &w[..100], SparsityRule::KeepAll)
        .unwrap_err();
    assert!(
        matches!(
            e,
            NeuralError::LengthMismatch {
                expected: 4096,
                got: 100,
                ..
            }
        ),
        "{e}"
    );
    g.store(Q, &[64, 64], &w[..], SparsityRule::KeepAll)
        .unwrap();
    assert!(matches!(
        g.matvec(Q, &[1.0; 63]),
        Err(NeuralError::LengthMismatch { .. })
    ));
    assert!(matches!(
        g.matvec_t(Q, &[1.0; 65]),
        Err(NeuralError::LengthMismatch { .. })
    ));
    assert!(matches!(g.get(Q, 64, 0), Err(NeuralError::OutOfRange(_))));
    // a file whose tensor has another shape than the plan stored with it
    let out = g.to_safetensors().unwrap();
    let meta = sparsevdb_neural::safetensors_io::read_header(&out)
        .unwrap()
        .metadata;
    let other = write_tensors(
        [TensorRef {
            name: Q,
            dtype: Dtype::F32,
            shape: &[4096],
            values: &w,
        }],
        &meta,
    )
    .unwrap();
    assert!(matches!(
        WeightGrid::from_safetensors(&other, &ImportOptions::default()),
        Err(NeuralError::ShapeMismatch { .. })
    ));
}

#[test]
fn unknown_tensor_names() {
    let mut g = grid();
    assert!(matches!(g.load("nope"), Err(NeuralError::UnknownTensor(_))));
    assert!(matches!(
        g.store("nope", &[1], &[1.0f32][..], SparsityRule::KeepAll),
        Err(NeuralError::UnknownTensor(_))
    ));
    assert!(matches!(
        g.matvec("nope", &[]),
        Err(NeuralError::UnknownTensor(_))
    ));
    assert!(matches!(
        g.lora_delta("nope", 1.0),
        Err(NeuralError::UnknownTensor(_))
    ));
    let strict = PlanOptions {
        require_known_names: true,
        ..Default::default()
    };
    let e = LayoutPlan::from_tensors(&[TensorSpec::new("cls.predictions.bias", [10])], &strict)
        .unwrap_err();
    assert!(matches!(e, NeuralError::UnrecognizedName(_)), "{e}");
    let e = LayoutPlan::from_tensors(
        &[TensorSpec::new("a", [1]), TensorSpec::new("a", [1])],
        &PlanOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, NeuralError::DuplicateTensor(_)), "{e}");
}

#[test]
fn unsupported_dtypes() {
    // an int64 buffer, as BERT checkpoints carry `embeddings.position_ids`
    let json = r#"{"embeddings.position_ids":{"dtype":"I64","shape":[1,4],"data_offsets":[0,32]}}"#;
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(json.as_bytes());
    file.extend_from_slice(&[0u8; 32]);
    let e = WeightGrid::from_safetensors(&file, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(e, NeuralError::UnsupportedDtype { ref dtype, .. } if dtype == "I64"),
        "{e}"
    );
    let skip = ImportOptions {
        skip_unsupported: true,
        ..Default::default()
    };
    let (_, report) = WeightGrid::from_safetensors(&file, &skip).unwrap();
    assert_eq!(report.skipped, ["embeddings.position_ids"]);
}

#[test]
fn colliding_layouts() {
    let e = LayoutPlan::classic(&ModelDesc::minilm_l6()).unwrap_err();
    match e {
        NeuralError::ClassicCollision { first, all } => {
            assert_eq!(all.len(), 20);
            assert_eq!(first.existing, LayerKind::Attention { layer: 0, head: 8 });
            assert_eq!(first.incoming, LayerKind::Attention { layer: 1, head: 0 });
        }
        e => panic!("{e}"),
    }
    let mut l = ClassicLayout::new();
    l.insert(LayerKind::Output).unwrap();
    assert!(matches!(
        l.insert(LayerKind::Ffn {
            layer: 16,
            intermediate: false
        }),
        Err(NeuralError::ClassicCollision { .. })
    ));
    let f = Fold::Tiled(TileShape::ROWS8_COLS64);
    let a = PlannedTensor::new("a", vec![16, 64], f, [0, 0, 0]).unwrap();
    let b = PlannedTensor::new("b", vec![8, 64], f, [8, 0, 0]).unwrap();
    assert!(matches!(
        LayoutPlan::from_entries(vec![a, b]),
        Err(NeuralError::RegionOverlap { .. })
    ));
    let json = r#"{"tensors":[
        {"name":"a","shape":[8,64],"fold":{"Packed":{"tile":64,"first_slot":0}},"origin":[0,0,0]},
        {"name":"b","shape":[8,64],"fold":{"Packed":{"tile":64,"first_slot":0}},"origin":[0,0,0]}]}"#;
    assert!(LayoutPlan::from_json(json).is_err());
}

#[test]
fn out_of_range_layouts() {
    let f = Fold::Tiled(TileShape::ROWS8_COLS64);
    assert!(matches!(
        PlannedTensor::new("w", vec![16, 64], f, [i32::MAX - 7, 0, 0]),
        Err(NeuralError::OutOfRange(_))
    ));
    assert!(matches!(
        LayerKind::Attention {
            layer: usize::MAX,
            head: 0
        }
        .classic_z_range(),
        Err(NeuralError::OutOfRange(_))
    ));
    assert!(matches!(
        sparsevdb_neural::morton::decode(u128::MAX),
        Err(NeuralError::OutOfRange(_))
    ));
    assert!(matches!(
        sparsevdb_neural::morton::encode_u64([0, 1 << 21, 0]),
        Err(NeuralError::OutOfRange(_))
    ));
    let mut desc = ModelDesc::gpt2(1, 1, usize::MAX / 2, 8);
    desc.vocab = 2;
    assert!(matches!(
        LayoutPlan::from_model(&desc, &PlanOptions::default()),
        Err(NeuralError::OutOfRange(_))
    ));
    let e = LayoutPlan::from_tensors(
        &[TensorSpec::new("w", [1usize << 60, 1])],
        &PlanOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, NeuralError::OutOfRange(_)), "{e}");
}

#[test]
fn corrupt_safetensors() {
    let good = write_tensors(
        [TensorRef {
            name: Q,
            dtype: Dtype::F16,
            shape: &[2, 2],
            values: &[1.0, 2.0, 3.0, 4.0],
        }],
        &BTreeMap::new(),
    )
    .unwrap();
    let mut flipped = good.clone();
    flipped[10] ^= 0xff; // inside the JSON header
    for bad in [
        &good[..4],
        &good[..good.len() - 1],
        &flipped[..],
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
    ] {
        let e = WeightGrid::from_safetensors(bad, &ImportOptions::default()).unwrap_err();
        assert!(matches!(e, NeuralError::Safetensors(_)), "{e}");
    }
}

#[test]
fn bad_sparsity_rules() {
    let mut g = grid();
    let w = vec![0.5f32; 64 * 64];
    for rule in [
        SparsityRule::Sparsity(-0.1),
        SparsityRule::Sparsity(f64::NAN),
        SparsityRule::Threshold(-1.0),
        SparsityRule::Threshold(f32::NAN),
    ] {
        assert!(matches!(
            g.store(Q, &[64, 64], &w[..], rule),
            Err(NeuralError::InvalidSparsity(_))
        ));
    }
}
