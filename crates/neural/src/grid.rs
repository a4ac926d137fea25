//! [`WeightGrid`]: one sparsevdb tree holding every tensor of a [`LayoutPlan`],
//! with per-tensor metadata; storing a dense matrix under a sparsity rule and
//! loading it back to a dense buffer.
//!
//! Storage rules: a value is stored (an active voxel) when the rule keeps it
//! and it is not `+0.0`, the background (see [`Cut::stores`]); stored values
//! are bit-exact, everything else reads back as `0.0`. A tile of a tiled
//! tensor whose 512 elements are all stored and bitwise equal becomes one
//! active tile of the tree instead of a leaf, so a constant matrix costs only
//! tiles and a zero matrix nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sparsevdb_tree::{
    Coord, CoordBBox, LeafNode, LeafStorage, LowerNode, Mask, Node, Tree, UpperNode,
};

use crate::tiles::{block_at, coord, for_each_leaf_slot, Block, Tiles};

use crate::dense::DenseMatrix;
use crate::dtype::{Dtype, MatrixData};
use crate::error::{NeuralError, Result};
use crate::plan::{LayoutPlan, PlannedTensor, Region};
use crate::sparsity::{Cut, SparsityRule};

/// What the grid knows about one tensor besides its place.
///
/// ```
/// use sparsevdb_neural::{LayoutPlan, TensorSpec, WeightGrid, SparsityRule};
/// let plan = LayoutPlan::from_tensors(&[TensorSpec::new("w", [2, 2])], &Default::default()).unwrap();
/// let mut g = WeightGrid::new(plan);
/// assert!(g.meta("w").unwrap().dtype.is_none());
/// g.store("w", &[2, 2], &[1.0f32, 0.0, 0.0, 2.0][..], SparsityRule::KeepAll).unwrap();
/// assert_eq!(g.meta("w").unwrap().stored, 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TensorMeta {
    /// The element type the tensor was stored from (`None`: never stored).
    pub dtype: Option<Dtype>,
    /// The cut its sparsity rule made.
    pub cut: Option<Cut>,
    /// Elements the rule kept (`+0.0` included).
    pub kept: u64,
    /// Elements stored: active voxels, tile voxels included.
    pub stored: u64,
    /// Leaf-sized active tiles used for constant tiles.
    pub tiles: u64,
}

/// What one [`WeightGrid::store`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreReport {
    /// The tensor.
    pub name: String,
    /// Its element count.
    pub len: u64,
    /// The cut applied.
    pub cut: Cut,
    /// Elements the rule kept.
    pub kept: u64,
    /// Elements stored (kept and not `+0.0`).
    pub stored: u64,
    /// Constant tiles stored as tree tiles.
    pub tiles: u64,
}

/// Tree statistics of one tensor's region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorStats {
    /// Leaves in the region.
    pub leaves: u64,
    /// Active tiles (leaf-sized or larger) found at the region's leaf slots.
    pub tiles: u64,
    /// Active voxels in those leaves.
    pub leaf_voxels: u64,
    /// Bytes of those leaves (`LeafNode::mem_usage`); the internal nodes
    /// above them are shared between tensors and counted only in
    /// [`WeightGrid::mem_usage`].
    pub leaf_bytes: u64,
}

/// Every tensor of a plan in one tree, with the plan and per-tensor metadata.
/// Serialisable (serde) as a whole, and validated when read back.
///
/// ```
/// use sparsevdb_neural::{LayoutPlan, ModelDesc, SparsityRule, WeightGrid};
/// let desc = ModelDesc::bert(1, 2, 64, 128);
/// let plan = LayoutPlan::from_model(&desc, &Default::default()).unwrap();
/// let mut grid = WeightGrid::new(plan);
/// let name = "encoder.layer.0.attention.self.query.weight";
/// let w: Vec<f32> = (0..64 * 64).map(|i| (i % 7) as f32 - 3.0).collect();
/// let r = grid.store(name, &[64, 64], &w[..], SparsityRule::Threshold(2.5)).unwrap();
/// assert_eq!(r.stored, w.iter().filter(|v| v.abs() >= 2.5).count() as u64);
/// let back = grid.load(name).unwrap();
/// assert_eq!(back.shape(), [64, 64]);
/// assert!(back.data().iter().zip(&w).all(|(b, w)| *b == if w.abs() >= 2.5 { *w } else { 0.0 }));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "GridRepr", into = "GridRepr")]
pub struct WeightGrid {
    pub(crate) tree: Tree<f32>,
    pub(crate) plan: LayoutPlan,
    pub(crate) meta: Vec<TensorMeta>,
    pub(crate) metadata: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct GridRepr {
    plan: LayoutPlan,
    meta: Vec<TensorMeta>,
    metadata: BTreeMap<String, String>,
    tree: Tree<f32>,
}

impl TryFrom<GridRepr> for WeightGrid {
    type Error = NeuralError;
    fn try_from(r: GridRepr) -> Result<Self> {
        if r.meta.len() != r.plan.len() {
            return Err(NeuralError::InvalidPlan(format!(
                "{} metadata entries for {} planned tensors",
                r.meta.len(),
                r.plan.len()
            )));
        }
        if r.tree.background().to_bits() != 0 {
            return Err(NeuralError::InvalidPlan(
                "the grid's background must be +0.0".into(),
            ));
        }
        Ok(WeightGrid {
            tree: r.tree,
            plan: r.plan,
            meta: r.meta,
            metadata: r.metadata,
        })
    }
}

impl From<WeightGrid> for GridRepr {
    fn from(g: WeightGrid) -> Self {
        GridRepr {
            plan: g.plan,
            meta: g.meta,
            metadata: g.metadata,
            tree: g.tree,
        }
    }
}

/// A tile with at most this many stored values is written voxel by voxel into
/// its node, where it becomes a tiny leaf (the tree keeps leaves of up to 16
/// active voxels inside their node); a larger one is built as a whole leaf.
const FEW_VALUES: usize = 16;

/// The leaf at `origin` whose active voxels are `offsets` (ascending) with
/// `values`, every other voxel inactive 0.0: packed with a buffer of exactly
/// `values.len()`, or dense past [`LeafNode::PACKED_MAX`] active voxels.
fn whole_leaf(origin: Coord, offsets: &[usize], values: &[f32]) -> LeafNode<f32> {
    let mask = Mask::from_on_bits(offsets.iter().copied());
    LeafNode::from_active(origin, mask, 0.0, values.to_vec()).expect("one value per active voxel")
}

fn bbox(r: &Region) -> CoordBBox {
    CoordBBox::new(coord(r.min), coord(r.max))
}

impl WeightGrid {
    /// An empty grid for `plan` (background `+0.0`).
    pub fn new(plan: LayoutPlan) -> Self {
        let meta = vec![TensorMeta::default(); plan.len()];
        Self {
            tree: Tree::new(0.0),
            plan,
            meta,
            metadata: BTreeMap::new(),
        }
    }

    /// The layout plan.
    pub fn plan(&self) -> &LayoutPlan {
        &self.plan
    }

    /// The tree (read-only: writes go through the grid so metadata stay
    /// true).
    pub fn tree(&self) -> &Tree<f32> {
        &self.tree
    }

    /// Free-form metadata (imported from and exported to safetensors'
    /// `__metadata__`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Free-form metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.metadata
    }

    /// The metadata of tensor `name`.
    pub fn meta(&self, name: &str) -> Result<&TensorMeta> {
        let i = self.index(name)?;
        Ok(&self.meta[i])
    }

    /// Whether tensor `name` has been stored.
    pub fn is_stored(&self, name: &str) -> bool {
        self.meta(name).is_ok_and(|m| m.dtype.is_some())
    }

    /// Bytes the tree holds ([`Tree::mem_usage`]).
    pub fn mem_usage(&self) -> usize {
        self.tree.mem_usage()
    }

    pub(crate) fn index(&self, name: &str) -> Result<usize> {
        self.plan
            .index_of(name)
            .ok_or_else(|| NeuralError::UnknownTensor(name.to_string()))
    }

    pub(crate) fn check_shape(t: &PlannedTensor, shape: &[usize], len: usize) -> Result<()> {
        if shape != t.shape() {
            return Err(NeuralError::ShapeMismatch {
                name: t.name().to_string(),
                expected: t.shape().to_vec(),
                got: shape.to_vec(),
            });
        }
        if len != t.len() {
            return Err(NeuralError::LengthMismatch {
                name: t.name().to_string(),
                expected: t.len(),
                got: len,
            });
        }
        Ok(())
    }

    /// Empties the region of tensor `i` if it holds anything.
    pub(crate) fn clear(&mut self, i: usize) {
        if self.meta[i].dtype.is_none() {
            return;
        }
        let t = &self.plan.tensors()[i];
        if let Some(geom) = Tiles::of(t) {
            // packed boxes are shared: clear exactly the tensor's own leaves
            for tile in geom.iter() {
                let l = tile.leaf;
                let max = Coord::new(l.x + 7, l.y + 7, l.z + 7);
                self.tree.fill(&CoordBBox::new(l, max), 0.0, false);
            }
        } else if let Some(r) = t.region() {
            self.tree.fill(&bbox(&r), 0.0, false);
        }
        self.meta[i] = TensorMeta::default();
    }

    /// Removes tensor `name` from the grid (its region reads 0 again).
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let i = self.index(name)?;
        self.clear(i);
        Ok(())
    }

    /// Stores the dense row-major tensor `name` of `shape` under `rule`,
    /// replacing what was stored there. `shape` must be the planned shape
    /// ([`NeuralError::ShapeMismatch`]) and `data` hold its elements
    /// ([`NeuralError::LengthMismatch`]); f16 and bf16 data are widened
    /// exactly and remembered for export.
    pub fn store<'a>(
        &mut self,
        name: &str,
        shape: &[usize],
        data: impl Into<MatrixData<'a>>,
        rule: SparsityRule,
    ) -> Result<StoreReport> {
        let data = data.into();
        let i = self.index(name)?;
        let t = &self.plan.tensors()[i];
        Self::check_shape(t, shape, data.len())?;
        let values = data.to_f32_vec();
        let cut = rule.cut(&values)?;
        self.store_values(i, &values, cut, data.dtype())
    }

    pub(crate) fn store_values(
        &mut self,
        i: usize,
        values: &[f32],
        cut: Cut,
        dtype: Dtype,
    ) -> Result<StoreReport> {
        self.clear(i);
        let t = self.plan.tensors()[i].clone();
        let kept = values.iter().filter(|&&w| cut.keeps(w)).count() as u64;
        let (mut stored, mut tiles) = (0u64, 0u64);
        let cols = t.cols();
        if let Some(geom) = Tiles::of(&t) {
            let lc = geom.lc;
            let mut constant = Vec::new();
            for tile in geom.iter().filter(|tile| tile.full) {
                let first = values[tile.row0 * cols + tile.col0];
                if !cut.stores(first) {
                    continue;
                }
                let uniform = (0..tile.rows_in).all(|i| {
                    let row = &values[(tile.row0 + i) * cols + tile.col0..][..tile.cols_in];
                    row.iter().all(|w| w.to_bits() == first.to_bits())
                });
                if uniform {
                    constant.push((tile.leaf, first));
                }
            }
            for &(leaf, v) in &constant {
                let max = Coord::new(leaf.x + 7, leaf.y + 7, leaf.z + 7);
                self.tree.fill(&CoordBBox::new(leaf, max), v, true);
            }
            tiles = constant.len() as u64;
            stored += 512 * tiles;
            let mut constant = constant.into_iter().map(|(c, _)| c).peekable();
            // Each tile's leaf is built whole (its values in one buffer of the
            // exact size, allocated in tile order) and attached, or, with a few
            // values, written into its node's tiny store; every node touched is
            // compacted at the end (no spare capacity left by the writes).
            let (mut offsets, mut kept_values) = (Vec::new(), Vec::new());
            // The lower nodes the tensor's tiles lie in (cleared, filled or
            // written), each once.
            let lower_of = |c: Coord| c.mask(!(LowerNode::<f32>::DIM as i32 - 1));
            let mut lowers: Vec<Coord> = geom.iter().map(|tile| lower_of(tile.leaf)).collect();
            lowers.sort_unstable();
            lowers.dedup();
            for tile in geom.iter() {
                if constant.peek() == Some(&tile.leaf) {
                    constant.next();
                    continue;
                }
                offsets.clear();
                kept_values.clear();
                for i in 0..tile.rows_in {
                    let row = &values[(tile.row0 + i) * cols + tile.col0..][..tile.cols_in];
                    for (j, &w) in row.iter().enumerate() {
                        if cut.stores(w) {
                            offsets.push((i << lc) | j);
                            kept_values.push(w);
                        }
                    }
                }
                if offsets.is_empty() {
                    continue;
                }
                stored += offsets.len() as u64;
                let upper = self.tree.root_mut().densify(tile.leaf);
                let lower = upper.densify(UpperNode::<f32>::coord_to_offset(tile.leaf));
                if offsets.len() <= FEW_VALUES {
                    // Straight into the node's tiny store, no leaf object.
                    for (&n, &w) in offsets.iter().zip(&kept_values) {
                        let l = LeafNode::<f32>::offset_to_local(n);
                        let c = Coord::new(tile.leaf.x + l.x, tile.leaf.y + l.y, tile.leaf.z + l.z);
                        lower.set_value_on(c, w);
                    }
                } else {
                    let leaf = whole_leaf(tile.leaf, &offsets, &kept_values);
                    let replaced = lower.insert_child(Box::new(leaf));
                    debug_assert!(replaced.is_none(), "the tensor's leaves were cleared");
                }
            }
            for upper in self.tree.root_mut().children_mut() {
                for lower in upper.children_mut() {
                    if lowers.binary_search(&lower.origin()).is_ok() {
                        lower.compact();
                    }
                }
            }
        } else {
            let mut acc = self.tree.accessor_mut();
            for (n, &w) in values.iter().enumerate() {
                if cut.stores(w) {
                    let (r, c) = (n / cols.max(1), n % cols.max(1));
                    acc.set_value(coord(t.coord(r, c)), w);
                    stored += 1;
                }
            }
        }
        self.meta[i] = TensorMeta {
            dtype: Some(dtype),
            cut: Some(cut),
            kept,
            stored,
            tiles,
        };
        Ok(StoreReport {
            name: t.name().to_string(),
            len: t.len() as u64,
            cut,
            kept,
            stored,
            tiles,
        })
    }

    /// Calls `f(row, col, value)` for every stored element of tensor `t`
    /// (tile elements included), leaf by leaf.
    pub(crate) fn for_each_stored(&self, t: &PlannedTensor, mut f: impl FnMut(usize, usize, f32)) {
        let acc = self.tree.accessor();
        if let Some(geom) = Tiles::of(t) {
            let (lc, tcm) = (geom.lc, geom.tile_cols() - 1);
            for tile in geom.iter() {
                match block_at(&acc, tile.leaf) {
                    Some(Block::Leaf(leaf)) => {
                        for (n, w) in leaf.iter_on() {
                            let (i, j) = (n >> lc, n & tcm);
                            if i < tile.rows_in && j < tile.cols_in {
                                f(tile.row0 + i, tile.col0 + j, w);
                            }
                        }
                    }
                    Some(Block::Tile(v)) => {
                        for i in 0..tile.rows_in {
                            for j in 0..tile.cols_in {
                                f(tile.row0 + i, tile.col0 + j, v);
                            }
                        }
                    }
                    None => {}
                }
            }
            return;
        }
        // Slices: visit the leaf slots the region's box touches.
        for_each_leaf_slot(t, |leaf| match block_at(&acc, leaf) {
            Some(Block::Leaf(l)) => {
                for (n, w) in l.iter_on() {
                    let p = l.offset_to_global(n);
                    if let Some((row, col)) = t.element_at(p.to_array()) {
                        f(row, col, w);
                    }
                }
            }
            Some(Block::Tile(v)) => {
                for n in 0..512 {
                    let p = LeafNode::<f32>::offset_to_local(n);
                    let g = [leaf.x + p.x, leaf.y + p.y, leaf.z + p.z];
                    if let Some((row, col)) = t.element_at(g) {
                        f(row, col, v);
                    }
                }
            }
            None => {}
        });
    }

    /// Loads tensor `name` back to a dense row-major matrix of its shape:
    /// stored values bit-exact, everything else `0.0`.
    pub fn load(&self, name: &str) -> Result<DenseMatrix> {
        let t = self.plan.tensor(name)?;
        let cols = t.cols();
        let mut out = vec![0.0f32; t.len()];
        if let Some(geom) = Tiles::of(t) {
            // Fast path for full leaves: copy the tile's rows straight from
            // the leaf buffer, masked by the active bits.
            let acc = self.tree.accessor();
            let lc = geom.lc;
            for tile in geom.iter() {
                match block_at(&acc, tile.leaf) {
                    Some(Block::Leaf(leaf)) => match leaf.storage() {
                        LeafStorage::Dense(vals) => {
                            let mask = leaf.value_mask();
                            let all_on = mask.is_all_on();
                            for i in 0..tile.rows_in {
                                let dst =
                                    &mut out[(tile.row0 + i) * cols + tile.col0..][..tile.cols_in];
                                let base = i << lc;
                                if all_on {
                                    dst.copy_from_slice(&vals[base..base + tile.cols_in]);
                                } else {
                                    for (j, d) in dst.iter_mut().enumerate() {
                                        if mask.is_on(base + j) {
                                            *d = vals[base + j];
                                        }
                                    }
                                }
                            }
                        }
                        // A packed leaf: its active values in order, no dense copy.
                        storage => {
                            let tcm = geom.tile_cols() - 1;
                            crate::spmv::for_each_on(&leaf, storage, |n, w| {
                                let (i, j) = (n >> lc, n & tcm);
                                if i < tile.rows_in && j < tile.cols_in {
                                    out[(tile.row0 + i) * cols + tile.col0 + j] = w;
                                }
                            });
                        }
                    },
                    Some(Block::Tile(v)) => {
                        for i in 0..tile.rows_in {
                            out[(tile.row0 + i) * cols + tile.col0..][..tile.cols_in].fill(v);
                        }
                    }
                    None => {}
                }
            }
        } else {
            self.for_each_stored(t, |r, c, w| out[r * cols + c] = w);
        }
        DenseMatrix::new(t.shape().to_vec(), out)
    }

    /// The value of element `(row, col)` of tensor `name` (`0.0` when not
    /// stored); [`NeuralError::OutOfRange`] outside the matrix.
    pub fn get(&self, name: &str, row: usize, col: usize) -> Result<f32> {
        let t = self.plan.tensor(name)?;
        if row >= t.rows() || col >= t.cols() {
            return Err(NeuralError::OutOfRange(format!(
                "({row}, {col}) outside the {} x {} tensor `{name}`",
                t.rows(),
                t.cols()
            )));
        }
        Ok(match self.tree.probe_value(coord(t.coord(row, col))) {
            (v, true) => v,
            _ => 0.0,
        })
    }

    /// Number of stored elements of tensor `name`, counted in the tree.
    pub fn nnz(&self, name: &str) -> Result<u64> {
        let t = self.plan.tensor(name)?;
        let mut n = 0u64;
        self.for_each_stored(t, |_, _, _| n += 1);
        Ok(n)
    }

    /// Leaves, tiles and leaf bytes of tensor `name`'s region.
    pub fn tensor_stats(&self, name: &str) -> Result<TensorStats> {
        let t = self.plan.tensor(name)?;
        let mut s = TensorStats::default();
        let acc = self.tree.accessor();
        let mut count = |leaf: Coord| match block_at(&acc, leaf) {
            Some(Block::Leaf(l)) => {
                s.leaves += 1;
                s.leaf_voxels += l.active_count() as u64;
                s.leaf_bytes += l.mem_usage() as u64;
            }
            Some(Block::Tile(_)) => s.tiles += 1,
            None => {}
        };
        if let Some(geom) = Tiles::of(t) {
            geom.iter().for_each(|tile| count(tile.leaf));
        } else {
            for_each_leaf_slot(t, count);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::PlanOptions;
    use crate::{Fold, ModelDesc, TensorSpec, TileShape};
    use half::{bf16, f16};

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::synth::SplitMix64::new(seed);
        (0..n).map(|_| r.normalish(0.1)).collect()
    }

    fn one(name: &str, shape: &[usize], tile: Option<TileShape>) -> WeightGrid {
        let opts = PlanOptions {
            tile,
            ..Default::default()
        };
        WeightGrid::new(LayoutPlan::from_tensors(&[TensorSpec::new(name, shape)], &opts).unwrap())
    }

    /// A store leaves no spare capacity behind: the grid takes exactly the
    /// memory of its own clone (which allocates every buffer at its length),
    /// for every leaf form a store makes (tiny, packed, dense, constant tiles),
    /// and after a tensor is stored again over its old values.
    #[test]
    fn a_store_leaves_no_spare_capacity() {
        let specs = [
            TensorSpec::new("a", [300, 200]),
            TensorSpec::new("b", [64, 512]),
            TensorSpec::new("c", [128, 96]),
        ];
        let plan = LayoutPlan::from_tensors(&specs, &PlanOptions::default()).unwrap();
        let mut g = WeightGrid::new(plan);
        // Tensor `name` of `shape` from random values of `seed`.
        let store = |g: &mut WeightGrid, name: &str, shape: [usize; 2], seed, rule| {
            let data = values(shape[0] * shape[1], seed);
            g.store(name, &shape, &data[..], rule).unwrap();
        };
        store(&mut g, "a", [300, 200], 1, SparsityRule::Sparsity(0.99));
        store(&mut g, "b", [64, 512], 2, SparsityRule::Sparsity(0.5));
        let ones = vec![0.5f32; 128 * 96];
        g.store("c", &[128, 96], &ones[..], SparsityRule::KeepAll)
            .unwrap();
        // The lower nodes with their leaves (the root's and upper nodes'
        // tables grow like any `Vec`; a store does not trim them).
        let lowers = |t: &Tree<f32>| -> usize {
            t.root()
                .children()
                .flat_map(|u| u.children())
                .map(|l| l.mem_usage())
                .sum()
        };
        let exact = |g: &WeightGrid| lowers(g.tree()) == lowers(&g.tree().clone());
        assert!(exact(&g));
        let forms = |g: &WeightGrid| {
            let leaves: Vec<_> = g.tree().leaves().collect();
            (
                leaves.iter().any(|l| l.is_tiny()),
                leaves.iter().any(|l| !l.is_tiny() && !l.is_dense()),
                leaves.iter().any(|l| l.is_dense()),
                g.tree().active_tile_count() > 0,
            )
        };
        // KeepAll of `b` makes dense leaves; 50 % packed ones
        store(&mut g, "b", [64, 512], 3, SparsityRule::KeepAll);
        store(&mut g, "a", [300, 200], 4, SparsityRule::Sparsity(0.5));
        let mixed = forms(&g);
        assert!(exact(&g));
        store(&mut g, "a", [300, 200], 5, SparsityRule::Sparsity(0.99));
        assert_eq!(forms(&g), (true, false, true, true));
        assert_eq!(mixed, (false, true, true, true));
        assert!(exact(&g));
    }

    #[test]
    fn roundtrip_every_tile_shape_and_rule() {
        for tile in TileShape::all() {
            for (rows, cols) in [(37, 91), (8, 64), (1, 700), (130, 3)] {
                let w = values(rows * cols, (rows * 1000 + cols) as u64);
                let mut g = one("w", &[rows, cols], Some(tile));
                for rule in [
                    SparsityRule::KeepAll,
                    SparsityRule::Threshold(0.1),
                    SparsityRule::Sparsity(0.9),
                    SparsityRule::Sparsity(1.0),
                ] {
                    let rep = g.store("w", &[rows, cols], &w[..], rule).unwrap();
                    let cut = rule.cut(&w).unwrap();
                    let back = g.load("w").unwrap();
                    for (b, &x) in back.data().iter().zip(&w) {
                        let expect = if cut.keeps(x) { x } else { 0.0 };
                        assert_eq!(b.to_bits(), expect.to_bits());
                    }
                    assert_eq!(rep.stored, g.nnz("w").unwrap());
                    assert_eq!(
                        rep.stored,
                        w.iter().filter(|&&x| cut.stores(x)).count() as u64
                    );
                    assert_eq!(g.tree().active_voxel_count(), rep.stored);
                }
            }
        }
    }

    #[test]
    fn zero_and_constant_matrices() {
        let mut g = one("w", &[64, 64], None);
        let empty = g.mem_usage();
        g.store(
            "w",
            &[64, 64],
            &vec![0.0f32; 4096][..],
            SparsityRule::KeepAll,
        )
        .unwrap();
        assert_eq!(g.tree().leaf_count(), 0);
        assert_eq!(g.mem_usage(), empty);
        g.store(
            "w",
            &[64, 64],
            &vec![0.25f32; 4096][..],
            SparsityRule::KeepAll,
        )
        .unwrap();
        assert_eq!(g.tree().leaf_count(), 0);
        assert_eq!(g.tree().active_tile_count(), 8);
        assert_eq!(g.meta("w").unwrap().tiles, 8);
        assert!(g.load("w").unwrap().data().iter().all(|&v| v == 0.25));
        assert_eq!(g.nnz("w").unwrap(), 4096);
        // a constant matrix with a ragged edge: full tiles are tiles, the edge is voxels
        let mut h = one("w", &[9, 64], None);
        h.store(
            "w",
            &[9, 64],
            &vec![-1.0f32; 9 * 64][..],
            SparsityRule::KeepAll,
        )
        .unwrap();
        assert_eq!(h.load("w").unwrap().data(), vec![-1.0; 9 * 64]);
    }

    #[test]
    fn negative_zero_and_nan_survive() {
        let mut g = one("w", &[2, 2], None);
        let w = [-0.0f32, 0.0, f32::from_bits(0x7f80_0001), 1.0];
        g.store("w", &[2, 2], &w[..], SparsityRule::KeepAll)
            .unwrap();
        let back = g.load("w").unwrap();
        assert_eq!(
            back.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            w.map(f32::to_bits)
        );
        assert_eq!(g.meta("w").unwrap().stored, 3);
    }

    #[test]
    fn half_inputs_are_exact() {
        let w = values(300, 4);
        let h: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
        let b: Vec<bf16> = w.iter().map(|&v| bf16::from_f32(v)).collect();
        let mut g = one("w", &[10, 30], None);
        g.store("w", &[10, 30], &h[..], SparsityRule::KeepAll)
            .unwrap();
        assert_eq!(g.meta("w").unwrap().dtype, Some(Dtype::F16));
        assert!(g
            .load("w")
            .unwrap()
            .data()
            .iter()
            .zip(&h)
            .all(|(a, b)| *a == b.to_f32()));
        g.store("w", &[10, 30], &b[..], SparsityRule::KeepAll)
            .unwrap();
        assert!(g
            .load("w")
            .unwrap()
            .data()
            .iter()
            .zip(&b)
            .all(|(a, b)| *a == b.to_f32()));
    }

    #[test]
    fn restoring_replaces_and_neighbours_are_untouched() {
        let plan =
            LayoutPlan::from_model(&ModelDesc::bert(1, 2, 64, 128), &Default::default()).unwrap();
        let mut g = WeightGrid::new(plan);
        let q = "encoder.layer.0.attention.self.query.weight";
        let k = "encoder.layer.0.attention.self.key.weight";
        let wq = values(64 * 64, 1);
        let wk = values(64 * 64, 2);
        g.store(q, &[64, 64], &wq[..], SparsityRule::KeepAll)
            .unwrap();
        g.store(k, &[64, 64], &wk[..], SparsityRule::KeepAll)
            .unwrap();
        g.store(q, &[64, 64], &wq[..], SparsityRule::Sparsity(0.99))
            .unwrap();
        assert_eq!(g.load(k).unwrap().data(), &wk[..]);
        assert_eq!(g.nnz(q).unwrap(), 41);
        g.remove(q).unwrap();
        assert_eq!(g.nnz(q).unwrap(), 0);
        assert!(!g.is_stored(q));
    }

    #[test]
    fn bad_input_is_typed() {
        let mut g = one("w", &[4, 4], None);
        let w = [0.5f32; 16];
        assert!(matches!(
            g.store("v", &[4, 4], &w[..], SparsityRule::KeepAll),
            Err(NeuralError::UnknownTensor(_))
        ));
        assert!(matches!(
            g.store("w", &[2, 8], &w[..], SparsityRule::KeepAll),
            Err(NeuralError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            g.store("w", &[4, 4], &w[..15], SparsityRule::KeepAll),
            Err(NeuralError::LengthMismatch { .. })
        ));
        assert!(matches!(
            g.store("w", &[4, 4], &w[..], SparsityRule::Sparsity(2.0)),
            Err(NeuralError::InvalidSparsity(_))
        ));
        assert!(matches!(g.load("nope"), Err(NeuralError::UnknownTensor(_))));
        assert!(matches!(g.get("w", 4, 0), Err(NeuralError::OutOfRange(_))));
    }

    #[test]
    fn classic_plan_grids_work_too() {
        let desc = ModelDesc::bert(1, 4, 32, 64);
        let plan = LayoutPlan::classic(&desc).unwrap();
        let mut g = WeightGrid::new(plan.clone());
        for t in plan.tensors() {
            assert!(matches!(t.fold(), Fold::Slices { .. }));
            let w = values(t.len(), t.len() as u64);
            g.store(t.name(), t.shape(), &w[..], SparsityRule::Sparsity(0.5))
                .unwrap();
            let cut = SparsityRule::Sparsity(0.5).cut(&w).unwrap();
            let back = g.load(t.name()).unwrap();
            assert!(back
                .data()
                .iter()
                .zip(&w)
                .all(|(b, &x)| *b == if cut.keeps(x) { x } else { 0.0 }));
        }
    }

    #[test]
    fn serde_roundtrip() {
        let mut g = one("w", &[20, 20], None);
        g.store(
            "w",
            &[20, 20],
            &values(400, 3)[..],
            SparsityRule::Sparsity(0.7),
        )
        .unwrap();
        let json = serde_json::to_string(&g).unwrap();
        let back: WeightGrid = serde_json::from_str(&json).unwrap();
        assert_eq!(back.load("w").unwrap(), g.load("w").unwrap());
        assert_eq!(back.meta("w").unwrap(), g.meta("w").unwrap());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["meta"] = serde_json::json!([]);
        assert!(serde_json::from_value::<WeightGrid>(v).is_err());
    }
}
