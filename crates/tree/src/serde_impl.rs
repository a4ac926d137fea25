//! serde support (feature `serde`): [`Tree`] as a compact, self-describing form — the
//! configuration, the background, the root tiles, every internal node (origin, its
//! most common tile and the tiles that differ) and every leaf (origin, active-mask
//! words, values). Deserialising checks everything (configuration, alignment, slot
//! ranges, overlaps, mask and buffer sizes) and returns an error rather than build an
//! invalid tree or silently drop data.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use sparsevdb_tree::{Coord, Tree};
//! let mut t: Tree<f32> = Tree::new(0.0);
//! t.set_value(Coord::new(1, 2, 3), 4.0);
//! let json = serde_json::to_string(&t).unwrap();
//! let back: Tree<f32> = serde_json::from_str(&json).unwrap();
//! assert!(back == t);
//! # }
//! ```

use std::collections::HashSet;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mask::Mask;
use crate::node::Node;
use crate::root::{RootNode, RootSlot};
use crate::tree::{LowerNode, UpperNode};
use crate::{Coord, LeafNode, LeafStorage, Tree, Value};

#[derive(Serialize, Deserialize)]
struct TreeRepr<T> {
    /// log2 side of the upper, lower and leaf nodes.
    config: [u32; 3],
    background: T,
    root_tiles: Vec<(Coord, T, bool)>,
    /// Internal nodes, level 2 (upper) and 1 (lower).
    nodes: Vec<NodeRepr<T>>,
    leaves: Vec<LeafRepr<T>>,
}

#[derive(Serialize, Deserialize)]
struct NodeRepr<T> {
    level: u32,
    origin: Coord,
    /// Value and state of every tile slot not listed in `tiles`.
    default: (T, bool),
    /// `(slot, value, active)` for tiles that differ from `default`.
    tiles: Vec<(u32, T, bool)>,
}

#[derive(Serialize, Deserialize)]
struct LeafRepr<T> {
    origin: Coord,
    mask: Vec<u64>,
    /// `Some(v)`: a packed leaf — `values` are the active values and every inactive
    /// voxel holds `v`. `None`: a dense leaf — `values` are all `NUM_VALUES` values.
    inactive: Option<T>,
    values: Vec<T>,
}

fn node_repr<C: Node, const LOG2: u32>(
    node: &crate::InternalNode<C, LOG2>,
    level: u32,
    background: C::Value,
) -> NodeRepr<C::Value> {
    let first_tile = (0..crate::InternalNode::<C, LOG2>::NUM_VALUES).find_map(|n| node.tile(n));
    let default = first_tile.unwrap_or((background, false));
    let tiles = (0..crate::InternalNode::<C, LOG2>::NUM_VALUES)
        .filter_map(|n| {
            let (v, on) = node.tile(n)?;
            (!(v.eq(&default.0) && C::Value::same_bits(v, default.0)) || on != default.1)
                .then_some((n as u32, v, on))
        })
        .collect();
    NodeRepr {
        level,
        origin: node.origin,
        default,
        tiles,
    }
}

impl<T, const L2: u32, const L1: u32, const L0: u32, const D: bool> Serialize
    for Tree<T, L2, L1, L0, D>
where
    T: Value + Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bg = self.background();
        let mut nodes = Vec::new();
        let mut leaves = Vec::new();
        for upper in self.root.children() {
            nodes.push(node_repr(upper, 2, bg));
            for lower in upper.children() {
                nodes.push(node_repr(lower, 1, bg));
                for leaf in lower.leaves() {
                    let (inactive, values) = match leaf.storage() {
                        LeafStorage::Dense(all) => (None, all.to_vec()),
                        LeafStorage::Packed { active, inactive } => {
                            (Some(inactive), active.to_vec())
                        }
                    };
                    leaves.push(LeafRepr {
                        origin: leaf.origin(),
                        mask: leaf.value_mask().words().to_vec(),
                        inactive,
                        values,
                    });
                }
            }
        }
        TreeRepr {
            config: [L2, L1, L0],
            background: bg,
            root_tiles: self.root.tiles().collect(),
            nodes,
            leaves,
        }
        .serialize(s)
    }
}

/// Everything that can be wrong with a serialised tree.
fn build<T: Value, const L2: u32, const L1: u32, const L0: u32, const D: bool>(
    repr: TreeRepr<T>,
) -> Result<Tree<T, L2, L1, L0, D>, String> {
    type Up<T, const L2: u32, const L1: u32, const L0: u32, const D: bool> =
        UpperNode<T, L2, L1, L0, D>;
    if repr.config != [L2, L1, L0] {
        return Err(format!(
            "tree configuration {:?} does not match {:?}",
            repr.config,
            [L2, L1, L0]
        ));
    }
    let mut tree = Tree::<T, L2, L1, L0, D>::with_background(repr.background);
    let root: &mut RootNode<Up<T, L2, L1, L0, D>> = &mut tree.root;
    for (key, v, on) in repr.root_tiles {
        if RootNode::<Up<T, L2, L1, L0, D>>::key_of(key) != key {
            return Err(format!("root tile {key} is not aligned"));
        }
        if root.find(key).is_some() {
            return Err(format!("root tile {key} given twice"));
        }
        root.put(key, RootSlot::Tile(v, on));
    }
    let check_tiles = |tiles: &[(u32, T, bool)], n: usize| -> Result<HashSet<u32>, String> {
        let mut seen = HashSet::new();
        for &(slot, _, _) in tiles {
            if slot as usize >= n || !seen.insert(slot) {
                return Err(format!("tile slot {slot} out of range or repeated"));
            }
        }
        Ok(seen)
    };
    let mut explicit_upper = std::collections::HashMap::new();
    let mut explicit_lower = std::collections::HashMap::new();
    let (mut uppers, mut lowers): (Vec<_>, Vec<_>) =
        repr.nodes.into_iter().partition(|n| n.level == 2);
    if let Some(bad) = lowers.iter().find(|n| n.level != 1) {
        return Err(format!("node level {} is not 1 or 2", bad.level));
    }
    for n in uppers.drain(..) {
        let key = RootNode::<Up<T, L2, L1, L0, D>>::key_of(n.origin);
        if key != n.origin {
            return Err(format!("upper node {} is not aligned", n.origin));
        }
        if root.find(key).is_some() {
            return Err(format!("upper node {} overlaps another entry", n.origin));
        }
        let listed = check_tiles(&n.tiles, Up::<T, L2, L1, L0, D>::NUM_VALUES)?;
        let mut node = Up::<T, L2, L1, L0, D>::new_filled(key, n.default.0, n.default.1);
        for (slot, v, on) in n.tiles {
            node.set_tile(slot as usize, v, on);
        }
        explicit_upper.insert(key, listed);
        root.put(key, RootSlot::Child(Box::new(node)));
    }
    for n in lowers.drain(..) {
        let origin = n.origin;
        if origin.mask(!((1i32 << (L1 + L0)) - 1)) != origin {
            return Err(format!("lower node {origin} is not aligned"));
        }
        let key = RootNode::<Up<T, L2, L1, L0, D>>::key_of(origin);
        let upper = root
            .find(key)
            .and_then(|i| match &mut root.entries[i].slot {
                RootSlot::Child(u) => Some(u),
                RootSlot::Tile(..) => None,
            })
            .ok_or_else(|| format!("lower node {origin} has no upper node"))?;
        let slot = Up::<T, L2, L1, L0, D>::coord_to_offset(origin);
        if upper.child(slot).is_some() || explicit_upper[&key].contains(&(slot as u32)) {
            return Err(format!("lower node {origin} overlaps another node or tile"));
        }
        let listed = check_tiles(&n.tiles, LowerNode::<T, L1, L0, D>::NUM_VALUES)?;
        let mut node = LowerNode::<T, L1, L0, D>::new_filled(origin, n.default.0, n.default.1);
        for (s, v, on) in n.tiles {
            node.set_tile(s as usize, v, on);
        }
        explicit_lower.insert(origin, listed);
        upper.set_child(slot, Box::new(node));
    }
    for leaf in repr.leaves {
        let origin = leaf.origin;
        if origin.mask(!((1i32 << L0) - 1)) != origin {
            return Err(format!("leaf {origin} is not aligned"));
        }
        let mask = Mask::<L0>::from_words(&leaf.mask)
            .ok_or_else(|| format!("leaf {origin} has a malformed mask"))?;
        let node = LeafNode::<T, L0, D>::from_parts(origin, mask, leaf.inactive, leaf.values)
            .map_err(|e| format!("leaf {origin}: {e}"))?;
        let key = RootNode::<Up<T, L2, L1, L0, D>>::key_of(origin);
        let lower_origin = origin.mask(!((1i32 << (L1 + L0)) - 1));
        let lower = root
            .find(key)
            .and_then(|i| match &mut root.entries[i].slot {
                RootSlot::Child(u) => u.child_mut(Up::<T, L2, L1, L0, D>::coord_to_offset(origin)),
                RootSlot::Tile(..) => None,
            })
            .ok_or_else(|| format!("leaf {origin} has no lower node"))?;
        let slot = LowerNode::<T, L1, L0, D>::coord_to_offset(origin);
        if lower.has_branch(slot) || explicit_lower[&lower_origin].contains(&(slot as u32)) {
            return Err(format!("leaf {origin} overlaps another leaf or tile"));
        }
        lower.set_child(slot, Box::new(node));
    }
    tree.validate().map_err(|e| e.to_string())?;
    // Small packed leaves go back inside their lower nodes (a tiny leaf is encoded as
    // a packed leaf); dense and larger packed leaves keep the form they were saved in.
    tree.lower_nodes_mut()
        .for_each(|lower| lower.pack_small_leaves());
    Ok(tree)
}

impl<'de, T, const L2: u32, const L1: u32, const L0: u32, const D: bool> Deserialize<'de>
    for Tree<T, L2, L1, L0, D>
where
    T: Value + Deserialize<'de>,
{
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        let repr = TreeRepr::<T>::deserialize(d)?;
        build(repr).map_err(De::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoordBBox;

    fn sample() -> Tree<f32> {
        let mut t: Tree<f32> = Tree::new(0.5);
        t.set_value(Coord::new(1, 2, 3), 4.0);
        t.set_value_off(Coord::new(-100, 7, 9000), -2.0);
        t.fill(
            &CoordBBox::new(Coord::new(128, 0, 0), Coord::new(300, 127, 127)),
            3.0,
            true,
        );
        t.fill(
            &CoordBBox::new(Coord::new(8192, 0, 0), Coord::new(12287, 4095, 4095)),
            1.0,
            false,
        );
        t
    }

    #[test]
    fn round_trip_is_exact() {
        let t = sample();
        let bytes = postcard::to_allocvec(&t).unwrap();
        let back: Tree<f32> = postcard::from_bytes(&bytes).unwrap();
        assert!(back == t);
        assert_eq!(back.leaf_count(), t.leaf_count());
        assert_eq!(back.non_leaf_count(), t.non_leaf_count());
        assert_eq!(back.inactive_voxel_count(), t.inactive_voxel_count());
    }

    #[test]
    fn wrong_config_is_an_error() {
        let bytes = postcard::to_allocvec(&sample()).unwrap();
        assert!(postcard::from_bytes::<Tree<f32, 4, 4, 3>>(&bytes).is_err());
    }

    #[test]
    fn overlaps_and_misalignment_are_errors() {
        let t = sample();
        let json = serde_json::to_value(&t).unwrap();
        // A leaf given twice.
        let mut dup = json.clone();
        let leaf = dup["leaves"][0].clone();
        dup["leaves"].as_array_mut().unwrap().push(leaf);
        assert!(serde_json::from_value::<Tree<f32>>(dup).is_err());
        // A misaligned leaf.
        let mut bad = json.clone();
        bad["leaves"][0]["origin"] = serde_json::json!([1, 0, 0]);
        assert!(serde_json::from_value::<Tree<f32>>(bad).is_err());
        // A short value buffer.
        let mut short = json.clone();
        short["leaves"][0]["values"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<Tree<f32>>(short).is_err());
        // A root tile on top of an upper node.
        let mut over = json;
        let key = over["nodes"][0]["origin"].clone();
        over["root_tiles"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!([key, 1.0, true]));
        assert!(serde_json::from_value::<Tree<f32>>(over).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        for bytes in [&b""[..], &[0xff; 40], &[1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            assert!(postcard::from_bytes::<Tree<f32>>(bytes).is_err());
        }
    }
}
