//! The layout planner: gives every tensor of a model (a [`ModelDesc`] or the
//! names and shapes of a safetensors file) a disjoint place in the grid,
//! as a [`LayoutPlan`].
//!
//! The planner's layout, for tensors named as BERT, GPT-2 or LLaMA name them:
//!
//! - groups in model order: the embeddings, then each layer, then the final
//!   norm / pooler / LM head, then any tensor whose name it does not know;
//! - inside a group, matrices first in model order (Q, K, V, O, gate, up,
//!   down: Q, K and V are neighbours, a LoRA pair follows the weight it
//!   adapts), then vectors (biases, norms);
//! - each tensor cut into 2-D tiles of 512 elements, one per leaf, the tile
//!   shape chosen to waste the least padding ([`TileShape::auto`]);
//! - by default ([`PlanLayout::Packed`]) the tiles of all tensors take
//!   consecutive leaf slots in the packed order of [`crate::fold`], which
//!   fills one 128³ lower internal node after another, so the model uses
//!   about as few internal nodes as it can; a group that fits in one lower
//!   node never straddles two, a larger one starts on a fresh node. With
//!   [`PlanLayout::Slabs`] each group is instead a Z slab of 8 slices (the
//!   embeddings in slab 0, layer `L` in slab `1 + L`) with its tensors side by
//!   side along y, each a box of leaves.
//!
//! [`LayoutPlan::classic`] builds the seed's Z-slice layout instead, and fails
//! with every collision when the model does not fit it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};
use crate::fold::{Fold, TileShape};
use crate::layer::{ClassicLayout, LayerKind};
use crate::model::{ModelDesc, TensorSpec};
use crate::names::{parse_tensor_name, Role};
use crate::plan::{matrix_dims, LayoutPlan, PlannedTensor};

/// Where the planner puts the tiles (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanLayout {
    /// Consecutive packed leaf slots ([`Fold::Packed`]): fewest internal nodes.
    #[default]
    Packed,
    /// One Z slab of 8 slices per group, tensors as boxes side by side along
    /// y ([`Fold::Tiled`]): easiest to read.
    Slabs,
}

/// Options of the planner.
///
/// ```
/// use sparsevdb_neural::{PlanLayout, PlanOptions, TileShape};
/// let o = PlanOptions { tile: Some(TileShape::new(32).unwrap()), ..Default::default() };
/// assert_eq!((o.origin, o.layout), ([0, 0, 0], PlanLayout::Packed));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Packed slots or slabs.
    pub layout: PlanLayout,
    /// One tile shape for every tensor; `None` picks the shape wasting the
    /// least padding per tensor ([`TileShape::auto`]).
    pub tile: Option<TileShape>,
    /// Where the plan starts: each coordinate a multiple of 4096 for the
    /// packed layout, of 8 for slabs.
    pub origin: [i32; 3],
    /// Fail with [`NeuralError::UnrecognizedName`] on a name no known scheme
    /// uses, instead of placing it after the known ones.
    pub require_known_names: bool,
}

/// The group (Z slab) a tensor goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Embeddings,
    Layer(usize),
    Head,
    Other,
}

impl LayoutPlan {
    /// Plans a model from its description (the tensors
    /// [`ModelDesc::tensors`] lists).
    ///
    /// ```
    /// use sparsevdb_neural::{LayoutPlan, ModelDesc};
    /// let plan = LayoutPlan::from_model(&ModelDesc::gpt2(2, 4, 64, 256), &Default::default()).unwrap();
    /// assert_eq!(plan.len(), 2 + 2 * 12 + 2 + 1);
    /// ```
    pub fn from_model(desc: &ModelDesc, options: &PlanOptions) -> Result<Self> {
        desc.validate()?;
        Self::from_tensors(&desc.tensors(), options)
    }

    /// Plans tensors from their names and shapes (a safetensors header's
    /// list). See the module documentation for the layout.
    ///
    /// ```
    /// use sparsevdb_neural::{LayoutPlan, PlanOptions, TensorSpec, NeuralError};
    /// let specs = [TensorSpec::new("h.0.attn.c_attn.weight", [64, 192]), TensorSpec::new("mystery", [3])];
    /// assert!(LayoutPlan::from_tensors(&specs, &PlanOptions::default()).is_ok());
    /// let strict = PlanOptions { require_known_names: true, ..Default::default() };
    /// assert!(matches!(LayoutPlan::from_tensors(&specs, &strict), Err(NeuralError::UnrecognizedName(_))));
    /// ```
    pub fn from_tensors(specs: &[TensorSpec], options: &PlanOptions) -> Result<Self> {
        let align = match options.layout {
            PlanLayout::Packed => 4096,
            PlanLayout::Slabs => 8,
        };
        if options.origin.iter().any(|&o| o.rem_euclid(align) != 0) {
            return Err(NeuralError::InvalidPlan(format!(
                "plan origin {:?} is not a multiple of {align}",
                options.origin
            )));
        }
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            if !seen.insert(s.name.as_str()) {
                return Err(NeuralError::DuplicateTensor(s.name.clone()));
            }
            let parsed = parse_tensor_name(&s.name);
            if parsed.is_none() && options.require_known_names {
                return Err(NeuralError::UnrecognizedName(s.name.clone()));
            }
            let group = match parsed.map(|p| p.role) {
                None => Group::Other,
                Some(Role::Embedding(_)) => Group::Embeddings,
                Some(Role::Norm {
                    site: crate::names::NormSite::Embedding,
                    ..
                }) => Group::Embeddings,
                Some(role) => role.layer().map_or(Group::Head, Group::Layer),
            };
            let is_vector = s.shape.len() < 2;
            let key = (
                group,
                is_vector,
                parsed.map_or(u32::MAX, |p| p.role.rank()),
                parsed.and_then(|p| p.lora),
                parsed.map(|p| p.param),
                i,
            );
            items.push((key, s));
        }
        items.sort_by_key(|a| a.0);

        let mut tensors = Vec::with_capacity(items.len());
        match options.layout {
            PlanLayout::Packed => place_packed(&items, options, &mut tensors)?,
            PlanLayout::Slabs => place_slabs(&items, options, &mut tensors)?,
        }
        Self::from_entries(tensors)
    }

    /// The seed's classic layout for a model: embeddings on slices 0–31 (one
    /// slice per table), each attention matrix cut into one slice per head at
    /// `32 + 8·layer + head` with Q, K, V and O side by side along x, FFN
    /// matrices at `96 + 4·layer (+2 intermediate)`, the pooler / LM head at 160;
    /// flat mapping `(x, y) = (col, row)`. Vectors (biases, norms) have no place
    /// in it and are left out.
    ///
    /// Fails with [`NeuralError::ClassicCollision`], listing every collision,
    /// when the model does not fit the classic ranges (more than 8 heads, more
    /// than 8 attention layers or more than 16 FFN layers).
    ///
    /// ```
    /// use sparsevdb_neural::{LayoutPlan, ModelDesc, NeuralError};
    /// assert!(LayoutPlan::classic(&ModelDesc::bert(4, 8, 256, 1024)).is_ok());
    /// assert!(matches!(LayoutPlan::classic(&ModelDesc::minilm_l6()), Err(NeuralError::ClassicCollision { .. })));
    /// ```
    pub fn classic(desc: &ModelDesc) -> Result<Self> {
        desc.validate()?;
        ClassicLayout::for_model(desc)?;
        let d_head = desc.d_head();
        let mut tensors = Vec::new();
        let mut embedding_slice = 0i32;
        // next free x per classic base slice
        let mut next_x: HashMap<i32, i64> = HashMap::new();
        for spec in desc.tensors() {
            if spec.shape.len() != 2 {
                continue;
            }
            let Some(parsed) = parse_tensor_name(&spec.name) else {
                continue;
            };
            let (rows, cols) = (spec.shape[0], spec.shape[1]);
            let (z, rows_per_slice) = match parsed.role {
                Role::Embedding(_) => {
                    let z = embedding_slice;
                    embedding_slice += 1;
                    if z > 31 {
                        return Err(NeuralError::OutOfRange(
                            "more than 32 embedding tables for the classic layout".into(),
                        ));
                    }
                    (z, rows)
                }
                Role::Attention { layer, .. } => (
                    LayerKind::Attention { layer, head: 0 }.classic_base_z()?,
                    d_head,
                ),
                role => match role.layer_kind() {
                    Some(kind) => (kind.classic_base_z()?, rows),
                    None => continue,
                },
            };
            let x = next_x.entry(z).or_insert(0);
            let origin = [
                i32::try_from(*x)
                    .map_err(|_| NeuralError::OutOfRange("classic x offset".into()))?,
                0,
                z,
            ];
            *x += cols as i64;
            let rows_per_slice = u32::try_from(rows_per_slice.max(1))
                .map_err(|_| NeuralError::OutOfRange("rows per slice".into()))?;
            tensors.push(PlannedTensor::new(
                spec.name,
                spec.shape,
                Fold::Slices { rows_per_slice },
                origin,
            )?);
        }
        Self::from_entries(tensors)
    }
}

/// A sorted planner item: its sort key (group first) and its spec.
type Item<'a> = (
    (
        Group,
        bool,
        u32,
        Option<crate::names::LoraPart>,
        Option<crate::names::Param>,
        usize,
    ),
    &'a TensorSpec,
);

fn tile_for(options: &PlanOptions, rows: usize, cols: usize) -> TileShape {
    options.tile.unwrap_or_else(|| TileShape::auto(rows, cols))
}

/// Packed layout: consecutive slots; a group that fits one lower node does
/// not straddle two, a bigger group starts on a fresh node.
fn place_packed(
    items: &[Item<'_>],
    options: &PlanOptions,
    out: &mut Vec<PlannedTensor>,
) -> Result<()> {
    use crate::fold::LOWER_SLOTS;
    let mut next = 0u64;
    let mut i = 0;
    while i < items.len() {
        let group = items[i].0 .0;
        let end = items[i..]
            .iter()
            .position(|it| it.0 .0 != group)
            .map_or(items.len(), |p| i + p);
        let mut need = 0u64;
        for (_, spec) in &items[i..end] {
            let (rows, cols) = matrix_dims(&spec.shape)?;
            need = need
                .saturating_add(Fold::Tiled(tile_for(options, rows, cols)).tile_count(rows, cols));
        }
        let used = next % LOWER_SLOTS;
        if used != 0 && (need > LOWER_SLOTS || used + need > LOWER_SLOTS) {
            next = next.next_multiple_of(LOWER_SLOTS);
        }
        for (_, spec) in &items[i..end] {
            let (rows, cols) = matrix_dims(&spec.shape)?;
            let fold = Fold::Packed {
                tile: tile_for(options, rows, cols),
                first_slot: next,
            };
            out.push(PlannedTensor::new(
                spec.name.clone(),
                spec.shape.clone(),
                fold,
                options.origin,
            )?);
            next = next.saturating_add(fold.tile_count(rows, cols));
        }
        i = end;
    }
    Ok(())
}

/// Slab layout: one Z slab of 8 slices per group, boxes side by side along y.
fn place_slabs(
    items: &[Item<'_>],
    options: &PlanOptions,
    out: &mut Vec<PlannedTensor>,
) -> Result<()> {
    let last_layer = items
        .iter()
        .filter_map(|(k, _)| match k.0 {
            Group::Layer(l) => Some(l as u64),
            _ => None,
        })
        .max();
    let head_slab = last_layer.map_or(1, |l| l + 2);
    let slab_of = |g: Group| -> u64 {
        match g {
            Group::Embeddings => 0,
            Group::Layer(l) => 1 + l as u64,
            Group::Head => head_slab,
            Group::Other => head_slab + 1,
        }
    };
    let mut current: Option<Group> = None;
    let mut y = i64::from(options.origin[1]);
    for (key, spec) in items {
        let group = key.0;
        if current != Some(group) {
            current = Some(group);
            y = i64::from(options.origin[1]);
        }
        let z = i64::from(options.origin[2]) + 8 * slab_of(group).min(u64::MAX / 16) as i64;
        let (rows, cols) = matrix_dims(&spec.shape)?;
        let fold = Fold::Tiled(tile_for(options, rows, cols));
        let out_of_range = || {
            NeuralError::OutOfRange(format!(
                "tensor `{}` would start at y = {y}, z = {z}, beyond i32",
                spec.name
            ))
        };
        let origin = [
            options.origin[0],
            i32::try_from(y).map_err(|_| out_of_range())?,
            i32::try_from(z).map_err(|_| out_of_range())?,
        ];
        out.push(PlannedTensor::new(
            spec.name.clone(),
            spec.shape.clone(),
            fold,
            origin,
        )?);
        if let Some(b) = fold.local_bbox(rows, cols)? {
            y += b[1][1] as i64 + 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{AttnProj, LoraPart};
    use crate::plan::Region;

    fn slabs() -> PlanOptions {
        PlanOptions {
            layout: PlanLayout::Slabs,
            ..Default::default()
        }
    }

    #[test]
    fn minilm_slab_plan_is_disjoint_and_grouped() {
        let plan = LayoutPlan::from_model(&ModelDesc::minilm_l6(), &slabs()).unwrap();
        assert_eq!(plan.len(), 103);
        // layer L lives in slab 1 + L
        for t in plan.tensors() {
            let z = t.origin()[2];
            match t.role().and_then(|r| r.layer()) {
                Some(l) => assert_eq!(z, 8 * (1 + l as i32), "{}", t.name()),
                None => assert!(z == 0 || z == 8 * 7, "{}", t.name()),
            }
        }
        // Q, K, V adjacent along y
        for l in 0..6 {
            let r = |m: &str| {
                plan.tensor(&format!("encoder.layer.{l}.attention.self.{m}.weight"))
                    .unwrap()
                    .region()
                    .unwrap()
            };
            let (q, k, v) = (r("query"), r("key"), r("value"));
            assert_eq!(q.max[1] + 1, k.min[1]);
            assert_eq!(k.max[1] + 1, v.min[1]);
        }
        // 384 x 384 in 8 x 64 tiles: 288 leaves, no padding
        let q = plan
            .tensor("encoder.layer.0.attention.self.query.weight")
            .unwrap();
        assert_eq!(q.leaf_count(), 288);
        assert_eq!(q.region().unwrap().volume(), 384 * 384);
        let table = plan.to_string();
        assert!(table.lines().count() == 103 + 3, "{table}");
        assert!(table.contains("| encoder.layer.0.attention.self.query.weight | 384×384 | tile 8×64 | x 0..=383, y 0..=47, z 8..=15 | 288 |"), "{table}");
    }

    #[test]
    fn minilm_packed_plan() {
        let plan =
            LayoutPlan::from_model(&ModelDesc::minilm_l6(), &PlanOptions::default()).unwrap();
        assert_eq!(plan.len(), 103);
        // Q, K, V on consecutive slots, each layer inside one lower node
        for l in 0..6 {
            let s = |m: &str| {
                plan.tensor(&format!("encoder.layer.{l}.attention.self.{m}.weight"))
                    .unwrap()
                    .slots()
                    .unwrap()
            };
            let (q, k, v) = (s("query"), s("key"), s("value"));
            assert_eq!((q.end, k.end), (k.start, v.start));
            let layer: Vec<_> = plan
                .tensors()
                .iter()
                .filter(|t| t.role().and_then(|r| r.layer()) == Some(l))
                .map(|t| t.slots().unwrap())
                .collect();
            let node = layer[0].start / 4096;
            assert!(layer
                .iter()
                .all(|r| r.start / 4096 == node && (r.end - 1) / 4096 == node));
        }
        // every slot used once, no gap inside a group
        let mut all: Vec<_> = plan.tensors().iter().map(|t| t.slots().unwrap()).collect();
        all.sort_by_key(|r| r.start);
        assert!(all.windows(2).all(|w| w[0].end <= w[1].start));
        let used: u64 = all.iter().map(|r| r.end - r.start).sum();
        assert_eq!(used, plan.leaf_count());
        // 8 groups in 13 lower nodes: 6 layers, embeddings (6), head
        let nodes: std::collections::BTreeSet<u64> = all
            .iter()
            .flat_map(|r| (r.start / 4096)..=((r.end - 1) / 4096))
            .collect();
        assert!(nodes.len() <= 13, "{nodes:?}");
        let table = plan.to_string();
        assert!(table.contains("| encoder.layer.0.attention.self.query.weight | 384×384 | tile 8×64, packed | slots 24576..24864 in x 0..=15, y 0..=127, z 768..=895 | 288 |"), "{table}");
    }

    #[test]
    fn every_element_maps_to_its_own_voxel() {
        let mut desc = ModelDesc::bert(2, 4, 64, 256);
        desc.vocab = 1000;
        desc.max_positions = 64;
        for opts in [PlanOptions::default(), slabs()] {
            let plan = LayoutPlan::from_model(&desc, &opts).unwrap();
            let mut owners: HashMap<[i32; 3], &str> = HashMap::new();
            for t in plan.tensors() {
                for r in 0..t.rows() {
                    for c in 0..t.cols() {
                        let p = t.coord(r, c);
                        assert_eq!(t.element_at(p), Some((r, c)));
                        assert!(owners.insert(p, t.name()).is_none());
                    }
                }
            }
            // no tensor claims another one's voxel, even where boxes overlap
            for t in plan.tensors() {
                for (p, owner) in &owners {
                    if *owner != t.name() {
                        assert_eq!(t.element_at(*p), None);
                    }
                }
            }
        }
    }

    #[test]
    fn gpt2_and_llama_plans() {
        for desc in [
            ModelDesc::gpt2(12, 12, 768, 3072),
            ModelDesc::llama(4, 8, 256, 688),
        ] {
            let plan = LayoutPlan::from_model(&desc, &PlanOptions::default()).unwrap();
            assert_eq!(plan.len(), desc.tensors().len());
            let json = plan.to_json().unwrap();
            assert_eq!(LayoutPlan::from_json(&json).unwrap(), plan);
        }
        let plan =
            LayoutPlan::from_model(&ModelDesc::llama(2, 4, 64, 172), &PlanOptions::default())
                .unwrap();
        let names: Vec<&str> = plan
            .tensors()
            .iter()
            .filter(|t| t.role().and_then(|r| r.layer()) == Some(1))
            .map(PlannedTensor::name)
            .collect();
        assert_eq!(
            &names[..4],
            [
                "model.layers.1.self_attn.q_proj.weight",
                "model.layers.1.self_attn.k_proj.weight",
                "model.layers.1.self_attn.v_proj.weight",
                "model.layers.1.self_attn.o_proj.weight"
            ]
        );
    }

    #[test]
    fn lora_pairs_sit_together() {
        let specs: Vec<TensorSpec> = (0..2)
            .flat_map(|l| {
                ["query", "value"].into_iter().flat_map(move |m| {
                    [
                        TensorSpec::new(format!("base_model.model.encoder.layer.{l}.attention.self.{m}.lora_A.weight"), [8, 384]),
                        TensorSpec::new(format!("base_model.model.encoder.layer.{l}.attention.self.{m}.lora_B.weight"), [384, 8]),
                    ]
                })
            })
            .collect();
        let plan = LayoutPlan::from_tensors(&specs, &PlanOptions::default()).unwrap();
        let order: Vec<_> = plan
            .tensors()
            .iter()
            .map(|t| {
                let p = t.parsed().unwrap();
                (p.role, p.lora)
            })
            .collect();
        assert_eq!(
            order[0],
            (
                Role::Attention {
                    layer: 0,
                    proj: AttnProj::Query
                },
                Some(LoraPart::A)
            )
        );
        assert_eq!(
            order[1],
            (
                Role::Attention {
                    layer: 0,
                    proj: AttnProj::Query
                },
                Some(LoraPart::B)
            )
        );
        // 8 x 384 A: 6 leaves of 8 x 64; 384 x 8 B: 6 leaves of 64 x 8
        assert_eq!(plan.tensors()[0].leaf_count(), 6);
        assert_eq!(
            plan.tensors()[1].fold().tile(),
            Some(TileShape::new(8).unwrap())
        );
        assert_eq!(plan.tensors()[1].leaf_count(), 6);
    }

    #[test]
    fn fixed_tile_and_origin() {
        let opts = PlanOptions {
            tile: Some(TileShape::new(32).unwrap()),
            origin: [-64, 8, -8],
            ..slabs()
        };
        let plan = LayoutPlan::from_model(&ModelDesc::bert(1, 2, 64, 128), &opts).unwrap();
        assert!(plan
            .tensors()
            .iter()
            .all(|t| t.fold() == Fold::Tiled(TileShape::new(32).unwrap())));
        assert_eq!(plan.bbox().unwrap().min, [-64, 8, -8]);
        let packed = PlanOptions {
            origin: [-4096, 0, 8192],
            ..Default::default()
        };
        let plan = LayoutPlan::from_model(&ModelDesc::bert(1, 2, 64, 128), &packed).unwrap();
        assert_eq!(plan.bbox().unwrap().min, [-4096, 0, 8192]);
        for bad in [
            PlanOptions {
                origin: [1, 0, 0],
                ..slabs()
            },
            PlanOptions {
                origin: [8, 0, 0],
                ..Default::default()
            },
        ] {
            assert!(matches!(
                LayoutPlan::from_model(&ModelDesc::bert(1, 2, 64, 128), &bad),
                Err(NeuralError::InvalidPlan(_))
            ));
        }
    }

    #[test]
    fn out_of_range_layouts() {
        let opts = PlanOptions {
            origin: [0, 0, i32::MAX - 15],
            ..slabs()
        };
        let err = LayoutPlan::from_model(&ModelDesc::bert(2, 2, 64, 128), &opts).unwrap_err();
        assert!(matches!(err, NeuralError::OutOfRange(_)), "{err}");
        let next_upper = Fold::Packed {
            tile: TileShape::ROWS8_COLS64,
            first_slot: 4096 * 32768,
        };
        let err =
            PlannedTensor::new("w", vec![8, 64], next_upper, [i32::MAX - 4095, 0, 0]).unwrap_err();
        assert!(matches!(err, NeuralError::OutOfRange(_)), "{err}");
        let huge = [TensorSpec::new("w", [1usize << 40, 1])];
        assert!(matches!(
            LayoutPlan::from_tensors(&huge, &slabs()),
            Err(NeuralError::OutOfRange(_))
        ));
        // packed, 2^40 elements fit (16 upper nodes along x); 2^60 do not
        assert!(LayoutPlan::from_tensors(&huge, &PlanOptions::default()).is_ok());
        let huger = [TensorSpec::new("w", [1usize << 60, 1])];
        assert!(matches!(
            LayoutPlan::from_tensors(&huger, &PlanOptions::default()),
            Err(NeuralError::OutOfRange(_))
        ));
    }

    #[test]
    fn duplicates_and_bad_json() {
        let specs = [TensorSpec::new("a", [2]), TensorSpec::new("a", [3])];
        assert!(matches!(
            LayoutPlan::from_tensors(&specs, &PlanOptions::default()),
            Err(NeuralError::DuplicateTensor(_))
        ));
        assert!(LayoutPlan::from_json("{").is_err());
        let misaligned =
            r#"{"tensors":[{"name":"a","shape":[8,64],"fold":{"Tiled":64},"origin":[3,0,0]}]}"#;
        assert!(LayoutPlan::from_json(misaligned).is_err());
        let bad_tile =
            r#"{"tensors":[{"name":"a","shape":[8,64],"fold":{"Tiled":65},"origin":[0,0,0]}]}"#;
        assert!(LayoutPlan::from_json(bad_tile).is_err());
    }

    #[test]
    fn classic_plans() {
        let desc = ModelDesc::bert(2, 8, 256, 1024);
        let plan = LayoutPlan::classic(&desc).unwrap();
        let q = plan
            .tensor("encoder.layer.1.attention.self.query.weight")
            .unwrap();
        assert_eq!(
            q.region().unwrap(),
            Region {
                min: [0, 0, 40],
                max: [255, 31, 47]
            }
        );
        let k = plan
            .tensor("encoder.layer.1.attention.self.key.weight")
            .unwrap();
        assert_eq!(k.origin(), [256, 0, 40]);
        // head h of Q lands on slice 32 + 8 * layer + h
        assert_eq!(q.coord(3 * 32 + 5, 7), [7, 5, 40 + 3]);
        let up = plan
            .tensor("encoder.layer.1.intermediate.dense.weight")
            .unwrap();
        assert_eq!(up.origin()[2], 96 + 4 + 2);
        assert_eq!(plan.tensor("pooler.dense.weight").unwrap().origin()[2], 160);
        assert!(plan
            .get("encoder.layer.0.attention.self.query.bias")
            .is_none());
        match LayoutPlan::classic(&ModelDesc::gpt2(12, 12, 768, 3072)) {
            Err(NeuralError::ClassicCollision { all, .. }) => assert!(all.len() > 20),
            other => panic!("{other:?}"),
        }
    }
}
