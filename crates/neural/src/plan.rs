//! Layout plans: every tensor's place in the grid ([`LayoutPlan`],
//! [`PlannedTensor`], [`Region`]), validated (unique names, disjoint
//! leaves, coordinates inside `i32`) however it was made, printed as a table,
//! (de)serialised with serde. [`crate::planner`] makes them.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};
use crate::fold::Fold;
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
    use crate::TileShape;

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
}
