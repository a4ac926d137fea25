//! # sparsevdb-tree
//!
//! A pure-Rust reimplementation of OpenVDB's sparse volume tree: a hash-map root over
//! two levels of internal nodes and 8³ leaves (the 5-4-3 configuration by default),
//! with tiles at every level, active masks, pruning, cached accessors, OpenVDB-ordered
//! iterators and tree combination — following OpenVDB 10.0.1's semantics, except where
//! `docs/decisions/` says we deliberately differ. Unlike OpenVDB, nodes adapt their
//! storage to what they hold: a leaf keeps only its active values while it is sparse
//! (decision 0009), an internal node keeps only the tiles and child slots it uses
//! (decision 0010); [`DenseTree`] pins OpenVDB's dense leaves for comparison.
//!
//! ```
//! use sparsevdb_tree::{Coord, CoordBBox, Tree};
//!
//! let mut t: Tree<f32> = Tree::new(0.0);
//! t.set_value(Coord::new(1, 2, 3), 1.0);
//! t.fill(&CoordBBox::new(Coord::new(0, 0, 0), Coord::new(15, 15, 15)), 2.0, true);
//! assert_eq!(t.get_value(Coord::new(1, 2, 3)), 2.0);
//! assert_eq!(t.active_voxel_count(), 16 * 16 * 16);
//! t.prune(0.0);
//! assert_eq!(t.leaf_count(), 0, "uniform leaves collapsed into tiles");
//! ```
//!
//! Module map: [`coord`](crate::Coord) coordinates and boxes, `mask` bit masks,
//! `value` the value trait, `node` the node trait, `leaf` / `internal` / `root` one
//! file per node type (`child_table` and `tile_table` the two tables of an internal
//! node), `tree` the public tree, `accessor` cached accessors, `iter`
//! iterators, `combine` value and topology combination, `serde_impl` (feature
//! `serde`) serialisation.

// `unsafe` is denied everywhere but the mutable accessor's node cache (decision 0008).
#![deny(unsafe_code)]

mod accessor;
#[allow(unsafe_code)]
mod accessor_mut;
mod child_table;
mod combine;
mod coord;
mod internal;
mod iter;
mod leaf;
mod leaf_ref;
mod mask;
mod node;
mod node_access;
mod root;
#[cfg(feature = "serde")]
mod serde_impl;
mod tile_table;
mod tiny;
mod tree;
mod value;

pub use accessor::ValueAccessor;
pub use accessor_mut::ValueAccessorMut;
pub use coord::{Coord, CoordBBox, CoordBBoxIter};
pub use internal::InternalNode;
pub use iter::{NodeRef, ValueItem, ValueIter};
pub use leaf::{LeafNode, LeafPartsError, LeafStorage, LeafStorageMut};
pub use leaf_ref::LeafRef;
pub use mask::{BitIter, Mask};
pub use node::{Node, ValidationError};
pub use root::RootNode;
pub use tiny::{TinyLeafIter, TINY_LEAF_MAX};
pub use tree::{DenseTree, LowerNode, Tree, UpperNode};
pub use value::Value;
