//! [`RootNode`]: the top of the tree, a sparse, unbounded table from the origin of
//! each top-level child region to either a child node or a tile, plus the tree's
//! background value (OpenVDB `tree/RootNode.h`).
//!
//! Representation: the entries live in a `Vec` (so accessors can cache an entry by
//! index) and an ahash map with fixed seeds maps each key to its index. Iteration
//! sorts the keys, giving OpenVDB's order (signed x, then y, then z ascending).

use std::collections::HashMap;

use crate::node::{aligned_chunks, Node, ValidationError};
use crate::{Coord, CoordBBox, Value};

/// What a root entry holds: a child node or a tile `(value, active)`.
#[derive(Clone, Debug)]
pub(crate) enum RootSlot<C: Node> {
    Child(Box<C>),
    Tile(C::Value, bool),
}

/// One root entry: the key (origin of the region) and its slot.
#[derive(Clone, Debug)]
pub(crate) struct RootEntry<C: Node> {
    pub(crate) key: Coord,
    pub(crate) slot: RootSlot<C>,
}

type FixedState = ahash::RandomState;

fn fixed_state() -> FixedState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

/// The root of a tree: background value and a sparse table of top-level children and
/// tiles, keyed by region origin.
///
/// ```
/// use sparsevdb_tree::{Coord, Tree};
/// let mut t: Tree<f32> = Tree::new(0.0);
/// t.set_value(Coord::new(-5000, 0, 0), 1.0);
/// assert_eq!(t.root().entry_count(), 1);
/// assert_eq!(t.root().background(), 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct RootNode<C: Node> {
    pub(crate) background: C::Value,
    pub(crate) index: HashMap<Coord, u32, FixedState>,
    pub(crate) entries: Vec<RootEntry<C>>,
}

impl<C: Node> RootNode<C> {
    /// The root's level: one above its children.
    pub const LEVEL: u32 = C::LEVEL + 1;
    const KEY_MASK: i32 = !((1i64 << C::TOTAL) - 1) as i32;

    /// An empty root with the given background.
    pub fn new(background: C::Value) -> Self {
        RootNode {
            background,
            index: HashMap::with_hasher(fixed_state()),
            entries: Vec::new(),
        }
    }

    /// The background value (the value of every coordinate the table does not cover).
    #[inline]
    pub fn background(&self) -> C::Value {
        self.background
    }

    /// Number of table entries (children and tiles, background tiles included).
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// The key (top-level region origin) of coordinate `c`.
    #[inline(always)]
    pub fn key_of(c: Coord) -> Coord {
        c.mask(Self::KEY_MASK)
    }

    /// Index of the entry covering `c`.
    #[inline]
    pub(crate) fn find(&self, c: Coord) -> Option<usize> {
        self.index.get(&Self::key_of(c)).map(|&i| i as usize)
    }

    /// Entry indices sorted by key (OpenVDB order).
    pub(crate) fn sorted_indices(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.entries.len()).collect();
        v.sort_unstable_by_key(|&i| self.entries[i].key);
        v
    }

    /// The top-level child at `key`, if that entry is a child.
    pub fn child_at(&self, key: Coord) -> Option<&C> {
        match &self.entries[self.find(key)?].slot {
            RootSlot::Child(c) => Some(c),
            RootSlot::Tile(..) => None,
        }
    }

    /// Iterates over the top-level children in OpenVDB order.
    pub fn children(&self) -> impl Iterator<Item = &C> + '_ {
        self.sorted_indices()
            .into_iter()
            .filter_map(move |i| match &self.entries[i].slot {
                RootSlot::Child(c) => Some(&**c),
                RootSlot::Tile(..) => None,
            })
    }

    /// The root's tiles `(key, value, active)` in OpenVDB order.
    pub fn tiles(&self) -> impl Iterator<Item = (Coord, C::Value, bool)> + '_ {
        self.sorted_indices()
            .into_iter()
            .filter_map(move |i| match self.entries[i].slot {
                RootSlot::Child(_) => None,
                RootSlot::Tile(v, on) => Some((self.entries[i].key, v, on)),
            })
    }

    /// Inserts a new entry for `key` (which must be absent) and returns its index.
    fn insert(&mut self, key: Coord, slot: RootSlot<C>) -> usize {
        let i = self.entries.len();
        self.entries.push(RootEntry { key, slot });
        self.index.insert(key, i as u32);
        i
    }

    /// Sets the entry for `key` to `slot`, adding it if absent; returns its index.
    pub(crate) fn put(&mut self, key: Coord, slot: RootSlot<C>) -> usize {
        match self.index.get(&key) {
            Some(&i) => {
                self.entries[i as usize].slot = slot;
                i as usize
            }
            None => self.insert(key, slot),
        }
    }

    /// The child covering `c`, created (from the tile there, or the background) if
    /// needed; returns its entry index.
    pub(crate) fn child_index_or_create(&mut self, c: Coord) -> usize {
        let key = Self::key_of(c);
        match self.index.get(&key) {
            Some(&i) => {
                let e = &mut self.entries[i as usize];
                if let RootSlot::Tile(v, on) = e.slot {
                    e.slot = RootSlot::Child(Box::new(C::new_filled(key, v, on)));
                }
                i as usize
            }
            None => {
                let child = C::new_filled(key, self.background, false);
                self.insert(key, RootSlot::Child(Box::new(child)))
            }
        }
    }

    #[inline]
    pub(crate) fn child_mut_at(&mut self, i: usize) -> &mut C {
        match &mut self.entries[i].slot {
            RootSlot::Child(c) => c,
            RootSlot::Tile(..) => unreachable!("entry {i} was made a child"),
        }
    }

    #[inline]
    pub(crate) fn child_ref_at(&self, i: usize) -> Option<&C> {
        match &self.entries[i].slot {
            RootSlot::Child(c) => Some(c),
            RootSlot::Tile(..) => None,
        }
    }

    /// Keeps only the entries for which `keep` is true, rebuilding the index.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&RootEntry<C>) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|e| keep(e));
        if self.entries.len() != before {
            self.index.clear();
            for (i, e) in self.entries.iter().enumerate() {
                self.index.insert(e.key, i as u32);
            }
        }
    }

    /// Removes all entries.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
    }

    fn is_background_tile(&self, slot: &RootSlot<C>) -> bool {
        matches!(*slot, RootSlot::Tile(v, false) if C::Value::is_approx_equal(v, self.background))
    }

    /// OpenVDB `eraseBackgroundTiles`: drops inactive tiles approx-equal to the
    /// background (the last step of `prune`).
    ///
    /// ```
    /// use sparsevdb_tree::{Coord, Tree};
    /// let mut t: Tree<f32> = Tree::new(0.0);
    /// t.root_mut().set_tile(Coord::new(0, 0, 0), 0.0, false);
    /// assert_eq!(t.root().entry_count(), 1);
    /// t.root_mut().erase_background_tiles();
    /// assert_eq!(t.root().entry_count(), 0);
    /// ```
    pub fn erase_background_tiles(&mut self) {
        let bg = self.background;
        self.retain(
            |e| !matches!(e.slot, RootSlot::Tile(v, false) if C::Value::is_approx_equal(v, bg)),
        );
    }

    /// True when the table holds nothing but background tiles (OpenVDB `empty`).
    pub fn is_empty(&self) -> bool {
        self.entries
            .iter()
            .all(|e| self.is_background_tile(&e.slot))
    }

    // ---- reads -------------------------------------------------------------------

    /// The value at `c`.
    #[inline]
    pub fn get_value(&self, c: Coord) -> C::Value {
        match self.find(c) {
            None => self.background,
            Some(i) => match &self.entries[i].slot {
                RootSlot::Child(ch) => ch.get_value(c),
                RootSlot::Tile(v, _) => *v,
            },
        }
    }

    /// Value and active state at `c`.
    #[inline]
    pub fn probe_value(&self, c: Coord) -> (C::Value, bool) {
        match self.find(c) {
            None => (self.background, false),
            Some(i) => match &self.entries[i].slot {
                RootSlot::Child(ch) => ch.probe_value(c),
                RootSlot::Tile(v, on) => (*v, *on),
            },
        }
    }

    /// OpenVDB `getValueDepth`: -1 background, 0 root tile, then one more per level.
    pub fn value_depth(&self, c: Coord) -> i32 {
        match self.find(c) {
            None => -1,
            Some(i) => match &self.entries[i].slot {
                RootSlot::Tile(..) => 0,
                RootSlot::Child(ch) => Self::LEVEL as i32 - ch.value_level(c) as i32,
            },
        }
    }

    // ---- writes (OpenVDB's rules for when a tile becomes a child) ------------------

    /// `setValueOn`.
    #[inline]
    pub fn set_value_on(&mut self, c: Coord, v: C::Value) {
        if let Some(i) = self.find(c) {
            match &mut self.entries[i].slot {
                RootSlot::Child(ch) => return ch.set_value_on(c, v),
                RootSlot::Tile(tv, on) if *on && *tv == v => return,
                RootSlot::Tile(..) => {}
            }
        }
        let i = self.child_index_or_create(c);
        self.child_mut_at(i).set_value_on(c, v);
    }

    /// `setValueOff(xyz, value)`.
    pub fn set_value_off(&mut self, c: Coord, v: C::Value) {
        match self.find(c) {
            None if self.background == v => return,
            None => {}
            Some(i) => match &mut self.entries[i].slot {
                RootSlot::Child(ch) => return ch.set_value_off(c, v),
                RootSlot::Tile(tv, on) if !*on && *tv == v => return,
                RootSlot::Tile(..) => {}
            },
        }
        let i = self.child_index_or_create(c);
        self.child_mut_at(i).set_value_off(c, v);
    }

    /// `setValueOnly`. As in OpenVDB, a coordinate outside every entry always gets a
    /// new top-level node (filled with the background), even when `v` is the background.
    pub fn set_value_only(&mut self, c: Coord, v: C::Value) {
        match self.find(c) {
            None => {}
            Some(i) => match &mut self.entries[i].slot {
                RootSlot::Child(ch) => return ch.set_value_only(c, v),
                RootSlot::Tile(tv, _) if *tv == v => return,
                RootSlot::Tile(..) => {}
            },
        }
        let i = self.child_index_or_create(c);
        self.child_mut_at(i).set_value_only(c, v);
    }

    /// `setActiveState`.
    pub fn set_active(&mut self, c: Coord, on: bool) {
        match self.find(c) {
            None if !on => return,
            None => {}
            Some(i) => match &mut self.entries[i].slot {
                RootSlot::Child(ch) => return ch.set_active(c, on),
                RootSlot::Tile(_, t_on) if *t_on == on => return,
                RootSlot::Tile(..) => {}
            },
        }
        let i = self.child_index_or_create(c);
        self.child_mut_at(i).set_active(c, on);
    }

    /// `modifyValue`: applies `f` and activates.
    pub fn modify_value<F: FnOnce(&mut C::Value)>(&mut self, c: Coord, f: F) {
        let mut f = Some(f);
        if let Some(i) = self.find(c) {
            match &mut self.entries[i].slot {
                RootSlot::Child(ch) => return ch.modify_value(c, f.take().expect("once")),
                RootSlot::Tile(tv, on) => {
                    let mut modified = *tv;
                    (f.take().expect("once"))(&mut modified);
                    if *on && modified == *tv {
                        return;
                    }
                    let i = self.child_index_or_create(c);
                    return self.child_mut_at(i).set_value_on(c, modified);
                }
            }
        }
        let i = self.child_index_or_create(c);
        self.child_mut_at(i)
            .modify_value(c, f.take().expect("once"));
    }

    /// Shared body of sparse and dense fill.
    pub(crate) fn fill(&mut self, bbox: &CoordBBox, v: C::Value, active: bool, dense: bool) {
        if bbox.is_empty() {
            return;
        }
        let (lo, hi) = (bbox.min(), bbox.max());
        for (x0, x1) in aligned_chunks(lo.x, hi.x, C::TOTAL) {
            for (y0, y1) in aligned_chunks(lo.y, hi.y, C::TOTAL) {
                for (z0, z1) in aligned_chunks(lo.z, hi.z, C::TOTAL) {
                    let chunk = CoordBBox::new(Coord::new(x0, y0, z0), Coord::new(x1, y1, z1));
                    let key = Self::key_of(chunk.min());
                    let whole = chunk.volume() == C::NUM_VOXELS as u128;
                    if whole && !dense {
                        self.put(key, RootSlot::Tile(v, active));
                    } else {
                        let i = self.child_index_or_create(key);
                        let child = self.child_mut_at(i);
                        if dense {
                            child.dense_fill(&chunk, v, active);
                        } else {
                            child.fill(&chunk, v, active);
                        }
                    }
                }
            }
        }
    }

    // ---- structure -----------------------------------------------------------------

    /// `tools::prune(tree, tol)`.
    pub fn prune_tolerance(&mut self, tol: C::Value) {
        for e in &mut self.entries {
            if let RootSlot::Child(ch) = &mut e.slot {
                if let Some((v, on)) = ch.prune_tolerance(tol) {
                    e.slot = RootSlot::Tile(v, on);
                }
            }
        }
        self.erase_background_tiles();
    }

    /// `RootNode::prune(tol)` (first-value rule), as used by clip.
    pub fn prune_first_value(&mut self, tol: C::Value) {
        for e in &mut self.entries {
            if let RootSlot::Child(ch) = &mut e.slot {
                if let Some((v, on)) = ch.prune_first_value(tol) {
                    e.slot = RootSlot::Tile(v, on);
                }
            }
        }
        self.erase_background_tiles();
    }

    /// `tools::pruneInactiveWithValue(tree, value)`.
    pub fn prune_inactive(&mut self, value: C::Value) {
        for e in &mut self.entries {
            if let RootSlot::Child(ch) = &mut e.slot {
                if ch.prune_inactive(value) {
                    e.slot = RootSlot::Tile(value, false);
                }
            }
        }
        self.erase_background_tiles();
    }

    /// `voxelizeActiveTiles`.
    pub fn voxelize_active_tiles(&mut self) {
        for e in &mut self.entries {
            if let RootSlot::Tile(v, true) = e.slot {
                e.slot = RootSlot::Child(Box::new(C::new_filled(e.key, v, true)));
            }
            if let RootSlot::Child(ch) = &mut e.slot {
                ch.voxelize_active_tiles();
            }
        }
    }

    /// `clip`: everything outside `clip` becomes background; then `prune()`.
    pub fn clip(&mut self, clip: &CoordBBox) {
        let bg = self.background;
        let mut refill = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            let key = self.entries[i].key;
            let region = crate::node::node_bbox(key, C::TOTAL);
            if !clip.intersects(&region) {
                self.entries[i].slot = RootSlot::Tile(bg, false);
            } else if !clip.contains_bbox(&region) {
                match &mut self.entries[i].slot {
                    RootSlot::Child(ch) => ch.clip(clip, bg),
                    // An inactive background tile would be refilled with itself and
                    // pruned away again: skip the transient nodes (see InternalNode).
                    RootSlot::Tile(v, false)
                        if bytemuck::bytes_of(v) == bytemuck::bytes_of(&bg) => {}
                    RootSlot::Tile(v, on) => {
                        refill.push((region.intersection(clip), *v, *on));
                        self.entries[i].slot = RootSlot::Tile(bg, false);
                    }
                }
            }
            i += 1;
        }
        // OpenVDB erases the entries outside the box; here they became background tiles,
        // which the prune below erases.
        for (b, v, on) in refill {
            self.fill(&b, v, on, false);
        }
        // RootNode::prune() with its default tolerance, zeroVal.
        self.prune_first_value(C::Value::default());
    }

    /// `setBackground(new, updateChildNodes = true)`.
    pub fn set_background(&mut self, new: C::Value) {
        let old = self.background;
        if old == new {
            return;
        }
        let neg_old = C::Value::negative(old);
        let neg_new = C::Value::negative(new);
        for e in &mut self.entries {
            match &mut e.slot {
                RootSlot::Child(ch) => ch.reset_background(old, new),
                RootSlot::Tile(_, true) => {}
                RootSlot::Tile(v, false) => {
                    if C::Value::is_approx_equal(*v, old) {
                        *v = new;
                    } else if C::Value::is_approx_equal(*v, neg_old) {
                        *v = neg_new;
                    }
                }
            }
        }
        self.background = new;
    }

    // ---- statistics ----------------------------------------------------------------

    fn children_iter(&self) -> impl Iterator<Item = &C> + '_ {
        self.entries.iter().filter_map(|e| match &e.slot {
            RootSlot::Child(c) => Some(&**c),
            RootSlot::Tile(..) => None,
        })
    }

    /// Active voxels, tiles counting their volume (saturating at `u64::MAX`).
    pub fn on_voxel_count(&self) -> u64 {
        self.entries.iter().fold(0u64, |s, e| {
            s.saturating_add(match &e.slot {
                RootSlot::Child(c) => c.on_voxel_count(),
                RootSlot::Tile(_, true) => C::NUM_VOXELS,
                RootSlot::Tile(_, false) => 0,
            })
        })
    }

    /// Inactive voxels, tiles counting their volume; root background tiles excluded.
    pub fn off_voxel_count(&self) -> u64 {
        self.entries.iter().fold(0u64, |s, e| {
            s.saturating_add(match &e.slot {
                RootSlot::Child(c) => c.off_voxel_count(),
                slot if self.is_background_tile(slot) => 0,
                RootSlot::Tile(_, false) => C::NUM_VOXELS,
                RootSlot::Tile(_, true) => 0,
            })
        })
    }

    /// Active voxels stored in leaves.
    pub fn on_leaf_voxel_count(&self) -> u64 {
        self.children_iter().map(|c| c.on_leaf_voxel_count()).sum()
    }

    /// Inactive voxels stored in leaves.
    pub fn off_leaf_voxel_count(&self) -> u64 {
        self.children_iter().map(|c| c.off_leaf_voxel_count()).sum()
    }

    /// Active tiles at every level.
    pub fn on_tile_count(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match &e.slot {
                RootSlot::Child(c) => c.on_tile_count(),
                RootSlot::Tile(_, on) => *on as u64,
            })
            .sum()
    }

    /// Leaves.
    pub fn leaf_count(&self) -> usize {
        self.children_iter().map(|c| c.leaf_count()).sum()
    }

    /// Internal nodes plus the root.
    pub fn non_leaf_count(&self) -> usize {
        1 + self
            .children_iter()
            .map(|c| c.non_leaf_count())
            .sum::<usize>()
    }

    /// See [`Node::eval_active_bbox`].
    pub fn eval_active_bbox(&self, visit_voxels: bool) -> Option<CoordBBox> {
        let mut bbox = CoordBBox::new(Coord::MAX, Coord::MIN);
        for e in &self.entries {
            match &e.slot {
                RootSlot::Child(c) => c.eval_active_bbox(&mut bbox, visit_voxels),
                RootSlot::Tile(_, true) => {
                    bbox = bbox.union(&crate::node::node_bbox(e.key, C::TOTAL))
                }
                RootSlot::Tile(_, false) => {}
            }
        }
        (!bbox.is_empty()).then_some(bbox)
    }

    /// Bytes held: the struct, the table and the index, and every node.
    pub fn mem_usage(&self) -> usize {
        let buckets = if self.index.capacity() == 0 {
            0
        } else {
            (self.index.capacity() * 8 / 7).next_power_of_two()
        };
        // hashbrown's layout: the buckets, then one control byte per bucket plus one
        // probe group (16 bytes with SSE2, 8 otherwise).
        let group = if cfg!(all(
            target_feature = "sse2",
            any(target_arch = "x86", target_arch = "x86_64"),
            not(miri)
        )) {
            16
        } else {
            8
        };
        let control = if buckets == 0 { 0 } else { buckets + group };
        core::mem::size_of::<Self>()
            + buckets * core::mem::size_of::<(Coord, u32)>()
            + control
            + self.entries.capacity() * core::mem::size_of::<RootEntry<C>>()
            + self.children_iter().map(|c| c.mem_usage()).sum::<usize>()
    }

    /// Checks the table, the index and every node below.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let err = |origin: Coord, what: String| ValidationError {
            origin,
            level: Self::LEVEL,
            what,
        };
        if self.index.len() != self.entries.len() {
            return Err(err(Coord::default(), "index and table sizes differ".into()));
        }
        for (i, e) in self.entries.iter().enumerate() {
            if Self::key_of(e.key) != e.key {
                return Err(err(e.key, "root key not aligned".into()));
            }
            if self.index.get(&e.key) != Some(&(i as u32)) {
                return Err(err(e.key, "index does not point at its entry".into()));
            }
            if let RootSlot::Child(c) = &e.slot {
                if c.origin() != e.key {
                    return Err(err(e.key, format!("child origin {} != key", c.origin())));
                }
                c.validate()?;
            }
        }
        Ok(())
    }
}
