//! The layout planner: gives every tensor of a model a disjoint region of the
//! grid ([`LayoutPlan`], [`PlannedTensor`], [`Region`]), prints the plan as a
//! table and (de)serialises it with serde, validating on the way in.
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
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};
use crate::fold::{Fold, TileShape};
use crate::layer::{ClassicLayout, LayerKind};
use crate::model::{ModelDesc, TensorSpec};
use crate::names::{parse_tensor_name, ParsedName, Role};

/// An inclusive box of voxels.
///
/// ```
/// use sparsevdb_neural::Region;
/// let a = Region { min: [0, 0, 0], max: [7, 7, 7] };
/// let b = Region { min: [7, 0, 0], max: [9, 9, 9] };
/// assert!(a.overlaps(&b));
/// assert_eq!(a.volume(), 512);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Region {
    /// The lowest corner.
    pub min: [i32; 3],
    /// The highest corner (inclusive).
    pub max: [i32; 3],
}

impl Region {
    /// Whether the two boxes share a voxel.
    ///
    /// ```
    /// use sparsevdb_neural::Region;
    /// let a = Region { min: [0; 3], max: [1; 3] };
    /// assert!(!a.overlaps(&Region { min: [2, 0, 0], max: [3, 1, 1] }));
    /// ```
    pub fn overlaps(&self, other: &Region) -> bool {
        (0..3).all(|i| self.min[i] <= other.max[i] && other.min[i] <= self.max[i])
    }

    /// Whether the box holds `p`.
    ///
    /// ```
    /// use sparsevdb_neural::Region;
    /// assert!(Region { min: [0; 3], max: [1; 3] }.contains([1, 0, 1]));
    /// ```
    pub fn contains(&self, p: [i32; 3]) -> bool {
        (0..3).all(|i| self.min[i] <= p[i] && p[i] <= self.max[i])
    }

    /// The number of voxels.
    ///
    /// ```
    /// use sparsevdb_neural::Region;
    /// assert_eq!(Region { min: [-1; 3], max: [0; 3] }.volume(), 8);
    /// ```
    pub fn volume(&self) -> u64 {
        (0..3)
            .map(|i| (i64::from(self.max[i]) - i64::from(self.min[i]) + 1).max(0) as u64)
            .product()
    }

    /// The smallest box holding both.
    ///
    /// ```
    /// use sparsevdb_neural::Region;
    /// let u = Region { min: [0; 3], max: [1; 3] }.union(&Region { min: [5; 3], max: [6; 3] });
    /// assert_eq!(u, Region { min: [0; 3], max: [6; 3] });
    /// ```
    pub fn union(&self, other: &Region) -> Region {
        Region {
            min: [0, 1, 2].map(|i| self.min[i].min(other.min[i])),
            max: [0, 1, 2].map(|i| self.max[i].max(other.max[i])),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "x {}..={}, y {}..={}, z {}..={}",
            self.min[0], self.max[0], self.min[1], self.max[1], self.min[2], self.max[2]
        )
    }
}

/// `rows × cols` of the 2-D matrix a tensor of `shape` is stored as: a
/// scalar is 1 × 1, a vector 1 × n, and a tensor of rank ≥ 3 has its leading
/// dimensions merged into rows.
///
/// ```
/// use sparsevdb_neural::plan::matrix_dims;
/// assert_eq!(matrix_dims(&[384]).unwrap(), (1, 384));
/// assert_eq!(matrix_dims(&[2, 3, 4]).unwrap(), (6, 4));
/// assert!(matrix_dims(&[usize::MAX, 2]).is_err());
/// ```
pub fn matrix_dims(shape: &[usize]) -> Result<(usize, usize)> {
    let Some((&cols, lead)) = shape.split_last() else {
        return Ok((1, 1));
    };
    let rows = lead
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&r| r.checked_mul(cols).is_some())
        .ok_or_else(|| {
            NeuralError::OutOfRange(format!("tensor shape {shape:?} overflows usize"))
        })?;
    Ok((rows, cols))
}

/// One tensor's place in the grid: its shape, its fold and its region.
/// Built only through [`PlannedTensor::new`] (or deserialisation, which
/// calls it), so a `PlannedTensor` is always self-consistent.
///
/// ```
/// use sparsevdb_neural::{Fold, PlannedTensor, TileShape};
/// let t = PlannedTensor::new("w", vec![16, 64], Fold::Tiled(TileShape::ROWS8_COLS64), [0, 8, 16]).unwrap();
/// assert_eq!(t.leaf_count(), 2);
/// assert_eq!(t.coord(9, 1), [8 + 1, 8, 16 + 1]);
/// assert_eq!(t.element_at([9, 8, 17]), Some((9, 1)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TensorRepr", into = "TensorRepr")]
pub struct PlannedTensor {
    name: String,
    shape: Vec<usize>,
    rows: usize,
    cols: usize,
    parsed: Option<ParsedName>,
    fold: Fold,
    origin: [i32; 3],
    region: Option<Region>,
}

#[derive(Serialize, Deserialize)]
struct TensorRepr {
    name: String,
    shape: Vec<usize>,
    fold: Fold,
    origin: [i32; 3],
}

impl TryFrom<TensorRepr> for PlannedTensor {
    type Error = NeuralError;
    fn try_from(r: TensorRepr) -> Result<Self> {
        PlannedTensor::new(r.name, r.shape, r.fold, r.origin)
    }
}

impl From<PlannedTensor> for TensorRepr {
    fn from(t: PlannedTensor) -> Self {
        TensorRepr {
            name: t.name,
            shape: t.shape,
            fold: t.fold,
            origin: t.origin,
        }
    }
}

impl PlannedTensor {
    /// Places a tensor of `shape` with `fold` at `origin`. Fails with
    /// [`NeuralError::OutOfRange`] when its region leaves the `i32` range and
    /// [`NeuralError::InvalidPlan`] when a tiled tensor does not start on a
    /// leaf boundary (a multiple of 8 on every axis) or a packed one on an
    /// upper-node boundary (a multiple of 4096).
    ///
    /// ```
    /// use sparsevdb_neural::{Fold, NeuralError, PlannedTensor, TileShape};
    /// let tiled = Fold::Tiled(TileShape::ROWS8_COLS64);
    /// assert!(matches!(PlannedTensor::new("w", vec![8, 64], tiled, [4, 0, 0]), Err(NeuralError::InvalidPlan(_))));
    /// assert!(matches!(PlannedTensor::new("w", vec![16, 64], tiled, [i32::MAX - 7, 0, 0]), Err(NeuralError::OutOfRange(_))));
    /// let packed = Fold::Packed { tile: TileShape::ROWS8_COLS64, first_slot: 0 };
    /// assert!(matches!(PlannedTensor::new("w", vec![8, 64], packed, [8, 0, 0]), Err(NeuralError::InvalidPlan(_))));
    /// ```
    pub fn new(
        name: impl Into<String>,
        shape: Vec<usize>,
        fold: Fold,
        origin: [i32; 3],
    ) -> Result<Self> {
        let name = name.into();
        let (rows, cols) = matrix_dims(&shape)?;
        let align = match fold {
            Fold::Tiled(_) => 8,
            Fold::Packed { .. } => 4096,
            Fold::Slices { .. } => 1,
        };
        if origin.iter().any(|&o| o.rem_euclid(align) != 0) {
            return Err(NeuralError::InvalidPlan(format!(
                "tensor `{name}` ({fold}) starts at {origin:?}, not on a multiple of {align}"
            )));
        }
        let region = match fold.local_bbox(rows, cols)? {
            None => None,
            Some(b) => {
                let mut r = Region {
                    min: origin,
                    max: origin,
                };
                for i in 0..3 {
                    for (k, out) in [(0, &mut r.min[i]), (1, &mut r.max[i])] {
                        let m = i64::from(origin[i]) + b[k][i] as i64;
                        *out = i32::try_from(m).map_err(|_| {
                            NeuralError::OutOfRange(format!(
                                "tensor `{name}` at {origin:?} reaches {m} on axis {i}, beyond i32"
                            ))
                        })?;
                    }
                }
                Some(r)
            }
        };
        let parsed = parse_tensor_name(&name);
        Ok(Self {
            name,
            shape,
            rows,
            cols,
            parsed,
            fold,
            origin,
            region,
        })
    }

    /// The tensor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tensor's original shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Rows of the stored 2-D matrix (see [`matrix_dims`]).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the stored 2-D matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the name says the tensor is (`None` for unknown names).
    pub fn parsed(&self) -> Option<&ParsedName> {
        self.parsed.as_ref()
    }

    /// The role of the tensor, when its name is known.
    pub fn role(&self) -> Option<Role> {
        self.parsed.map(|p| p.role)
    }

    /// The fold.
    pub fn fold(&self) -> Fold {
        self.fold
    }

    /// The origin the fold is relative to (for boxes, the region's lowest
    /// corner; for packed tensors, the plan's origin).
    pub fn origin(&self) -> [i32; 3] {
        self.origin
    }

    /// The box the tensor's voxels lie in (`None` when it has no element).
    /// For a packed tensor other tensors may share the box: its own leaves
    /// are [`slots`](Self::slots).
    pub fn region(&self) -> Option<Region> {
        self.region
    }

    /// The packed leaf slots of a packed tensor.
    pub fn slots(&self) -> Option<std::ops::Range<u64>> {
        match self.fold {
            Fold::Packed { first_slot, .. } => {
                Some(first_slot..first_slot + self.fold.tile_count(self.rows, self.cols))
            }
            _ => None,
        }
    }

    /// Leaves the region covers.
    pub fn leaf_count(&self) -> u64 {
        self.fold.leaf_count(self.rows, self.cols)
    }

    /// The voxel of element `(row, col)` (inside the matrix).
    #[inline]
    pub fn coord(&self, row: usize, col: usize) -> [i32; 3] {
        let l = self.fold.to_local(row, col, self.cols);
        [0, 1, 2].map(|i| self.origin[i].wrapping_add(l[i] as i32))
    }

    /// The element stored at voxel `p`, if `p` is one of this tensor's voxels.
    #[inline]
    pub fn element_at(&self, p: [i32; 3]) -> Option<(usize, usize)> {
        if !self.region?.contains(p) {
            return None;
        }
        let local = [0, 1, 2].map(|i| (i64::from(p[i]) - i64::from(self.origin[i])) as u32);
        self.fold.from_local(local, self.rows, self.cols)
    }
}

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

/// Every tensor of a model with its disjoint region; the index from name to
/// tensor. Deserialising a plan validates it exactly as building one does.
///
/// ```
/// use sparsevdb_neural::{LayoutPlan, ModelDesc, PlanOptions};
/// let plan = LayoutPlan::from_model(&ModelDesc::minilm_l6(), &PlanOptions::default()).unwrap();
/// let q = plan.tensor("encoder.layer.0.attention.self.query.weight").unwrap();
/// let k = plan.tensor("encoder.layer.0.attention.self.key.weight").unwrap();
/// // Q and K are neighbours: K's leaves follow Q's
/// assert_eq!(q.slots().unwrap().end, k.slots().unwrap().start);
/// let json = plan.to_json().unwrap();
/// assert_eq!(LayoutPlan::from_json(&json).unwrap(), plan);
/// println!("{plan}"); // the table
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "PlanRepr", into = "PlanRepr")]
pub struct LayoutPlan {
    tensors: Vec<PlannedTensor>,
    index: HashMap<String, usize>,
}

impl PartialEq for LayoutPlan {
    fn eq(&self, other: &Self) -> bool {
        self.tensors == other.tensors
    }
}

#[derive(Serialize, Deserialize)]
struct PlanRepr {
    tensors: Vec<PlannedTensor>,
}

impl TryFrom<PlanRepr> for LayoutPlan {
    type Error = NeuralError;
    fn try_from(r: PlanRepr) -> Result<Self> {
        LayoutPlan::from_entries(r.tensors)
    }
}

impl From<LayoutPlan> for PlanRepr {
    fn from(p: LayoutPlan) -> Self {
        PlanRepr { tensors: p.tensors }
    }
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
    /// A plan from placed tensors: checks that names are unique and regions
    /// disjoint ([`NeuralError::DuplicateTensor`],
    /// [`NeuralError::RegionOverlap`]).
    ///
    /// ```
    /// use sparsevdb_neural::{Fold, LayoutPlan, NeuralError, PlannedTensor, TileShape};
    /// let f = Fold::Tiled(TileShape::ROWS8_COLS64);
    /// let a = PlannedTensor::new("a", vec![8, 64], f, [0, 0, 0]).unwrap();
    /// let b = PlannedTensor::new("b", vec![8, 64], f, [0, 0, 0]).unwrap();
    /// assert!(matches!(LayoutPlan::from_entries(vec![a, b]), Err(NeuralError::RegionOverlap { .. })));
    /// ```
    pub fn from_entries(tensors: Vec<PlannedTensor>) -> Result<Self> {
        let mut index = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if index.insert(t.name.clone(), i).is_some() {
                return Err(NeuralError::DuplicateTensor(t.name.clone()));
            }
        }
        let mut placed: Vec<(Region, &PlannedTensor)> = tensors
            .iter()
            .filter_map(|t| Some((t.region?, t)))
            .collect();
        placed.sort_by_key(|(r, _)| r.min[2]);
        for (i, (a, at)) in placed.iter().enumerate() {
            for (b, bt) in placed[i + 1..]
                .iter()
                .take_while(|(b, _)| b.min[2] <= a.max[2])
            {
                if a.overlaps(b) && !disjoint_packed(at, bt) {
                    return Err(NeuralError::RegionOverlap {
                        a: at.name.clone(),
                        b: bt.name.clone(),
                    });
                }
            }
        }
        Ok(Self { tensors, index })
    }

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

    /// The plan's tensors in placement order.
    pub fn tensors(&self) -> &[PlannedTensor] {
        &self.tensors
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the plan has no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor called `name`, if planned.
    pub fn get(&self, name: &str) -> Option<&PlannedTensor> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor called `name`, or [`NeuralError::UnknownTensor`].
    pub fn tensor(&self, name: &str) -> Result<&PlannedTensor> {
        self.get(name)
            .ok_or_else(|| NeuralError::UnknownTensor(name.to_string()))
    }

    /// The position of `name` in [`tensors`](Self::tensors).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The box around every region.
    pub fn bbox(&self) -> Option<Region> {
        self.tensors
            .iter()
            .filter_map(|t| t.region)
            .reduce(|a, b| a.union(&b))
    }

    /// Leaves over all regions.
    pub fn leaf_count(&self) -> u64 {
        self.tensors.iter().map(PlannedTensor::leaf_count).sum()
    }

    /// The plan as JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// A plan from JSON, validated (overlaps, ranges, folds).
    ///
    /// ```
    /// use sparsevdb_neural::LayoutPlan;
    /// let overlapping = r#"{"tensors":[
    ///     {"name":"a","shape":[8,64],"fold":{"Tiled":64},"origin":[0,0,0]},
    ///     {"name":"b","shape":[8,64],"fold":{"Tiled":64},"origin":[0,0,0]}]}"#;
    /// assert!(LayoutPlan::from_json(overlapping).is_err());
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        Ok(serde_json::from_str(json)?)
    }
}

/// Whether two packed tensors with overlapping boxes use different leaves.
fn disjoint_packed(a: &PlannedTensor, b: &PlannedTensor) -> bool {
    match (a.slots(), b.slots()) {
        (Some(x), Some(y)) if a.origin == b.origin => x.end <= y.start || y.end <= x.start,
        _ => false,
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

impl fmt::Display for LayoutPlan {
    /// The plan as a Markdown table: tensor, shape, fold, region, leaves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| tensor | shape | fold (tile rows×cols) | region | leaves |"
        )?;
        writeln!(f, "|---|---|---|---|---:|")?;
        for t in &self.tensors {
            let shape: Vec<String> = t.shape.iter().map(usize::to_string).collect();
            let region = match (t.slots(), t.region) {
                (_, None) => "(empty)".to_string(),
                (Some(slots), Some(r)) => {
                    format!("slots {}..{} in {r}", slots.start, slots.end)
                }
                (None, Some(r)) => r.to_string(),
            };
            writeln!(
                f,
                "| {} | {} | {} | {} | {} |",
                t.name,
                shape.join("×"),
                t.fold,
                region,
                t.leaf_count()
            )?;
        }
        let values: usize = self.tensors.iter().map(PlannedTensor::len).sum();
        let bbox = self
            .bbox()
            .map_or_else(|| "(empty)".to_string(), |r| r.to_string());
        writeln!(
            f,
            "| **total: {} tensors** | {} values | | {} | {} |",
            self.tensors.len(),
            values,
            bbox,
            self.leaf_count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{AttnProj, LoraPart};

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
    fn packed_overlapping_boxes_are_fine_but_shared_slots_are_not() {
        let f = |first_slot| Fold::Packed {
            tile: TileShape::ROWS8_COLS64,
            first_slot,
        };
        let a = PlannedTensor::new("a", vec![8, 640], f(0), [0; 3]).unwrap();
        let b = PlannedTensor::new("b", vec![8, 640], f(10), [0; 3]).unwrap();
        let c = PlannedTensor::new("c", vec![8, 640], f(9), [0; 3]).unwrap();
        assert!(a.region().unwrap().overlaps(&b.region().unwrap()));
        assert!(LayoutPlan::from_entries(vec![a.clone(), b]).is_ok());
        assert!(matches!(
            LayoutPlan::from_entries(vec![a, c]),
            Err(NeuralError::RegionOverlap { .. })
        ));
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
