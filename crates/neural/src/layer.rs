//! Layer kinds and the seed's classic Z-slice layout, with collision detection.
//!
//! The seed plan put every layer kind in a fixed range of Z slices:
//!
//! | kind | Z slices |
//! |---|---|
//! | `Embedding` | 0–31 |
//! | `Attention { layer, head }` | 32 + 8·layer + head (one slice) |
//! | `Ffn { layer, intermediate }` | 96 + 4·layer (+2 when intermediate), two slices |
//! | `Output` | 160–191 |
//!
//! The seed wrapped the head with `head % 8`, which silently overwrote weights
//! for any model with more than 8 heads. Here a head ≥ 8, an attention layer ≥ 8
//! or an FFN layer ≥ 16 simply lands on a slice another kind owns, and
//! [`ClassicLayout`] reports every such [`Collision`] as a typed error.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};

/// What part of a network a weight matrix belongs to (the seed's `LayerType`).
///
/// ```
/// use sparsevdb_neural::LayerKind;
/// let k = LayerKind::Attention { layer: 1, head: 3 };
/// assert_eq!(k.classic_z_range().unwrap(), 43..=43);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LayerKind {
    /// Token, position and token-type embeddings.
    Embedding,
    /// One attention head of one layer.
    Attention {
        /// The transformer layer (0-based).
        layer: usize,
        /// The head within the layer (0-based).
        head: usize,
    },
    /// One feed-forward matrix of one layer.
    Ffn {
        /// The transformer layer (0-based).
        layer: usize,
        /// `true` for the up (and gate) projection into the intermediate
        /// size, `false` for the down projection.
        intermediate: bool,
    },
    /// The output projection (LM head, pooler).
    Output,
}

impl LayerKind {
    /// The Z slices the seed's classic layout gives this kind, or
    /// [`NeuralError::OutOfRange`] when they do not fit an `i32`.
    ///
    /// ```
    /// use sparsevdb_neural::LayerKind;
    /// assert_eq!(LayerKind::Embedding.classic_z_range().unwrap(), 0..=31);
    /// let up = LayerKind::Ffn { layer: 2, intermediate: true };
    /// assert_eq!(up.classic_z_range().unwrap(), 106..=107);
    /// assert_eq!(LayerKind::Output.classic_z_range().unwrap(), 160..=191);
    /// assert!(LayerKind::Attention { layer: usize::MAX, head: 0 }.classic_z_range().is_err());
    /// ```
    pub fn classic_z_range(&self) -> Result<RangeInclusive<i32>> {
        let (lo, len): (Option<u64>, u64) = match *self {
            LayerKind::Embedding => (Some(0), 32),
            LayerKind::Attention { layer, head } => (
                (layer as u64)
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(32))
                    .and_then(|v| v.checked_add(head as u64)),
                1,
            ),
            LayerKind::Ffn {
                layer,
                intermediate,
            } => (
                (layer as u64)
                    .checked_mul(4)
                    .and_then(|v| v.checked_add(96 + 2 * u64::from(intermediate))),
                2,
            ),
            LayerKind::Output => (Some(160), 32),
        };
        let hi = lo.and_then(|lo| lo.checked_add(len - 1));
        match (lo, hi) {
            (Some(lo), Some(hi)) if hi <= i32::MAX as u64 => Ok(lo as i32..=hi as i32),
            _ => Err(NeuralError::OutOfRange(format!(
                "classic Z slices of {self} do not fit an i32"
            ))),
        }
    }

    /// The first classic Z slice of this kind (see [`classic_z_range`](Self::classic_z_range)).
    ///
    /// ```
    /// use sparsevdb_neural::LayerKind;
    /// assert_eq!(LayerKind::Ffn { layer: 0, intermediate: false }.classic_base_z().unwrap(), 96);
    /// ```
    pub fn classic_base_z(&self) -> Result<i32> {
        Ok(*self.classic_z_range()?.start())
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerKind::Embedding => f.write_str("Embedding"),
            LayerKind::Attention { layer, head } => {
                write!(f, "Attention(layer {layer}, head {head})")
            }
            LayerKind::Ffn {
                layer,
                intermediate: true,
            } => write!(f, "Ffn(layer {layer}, intermediate)"),
            LayerKind::Ffn {
                layer,
                intermediate: false,
            } => write!(f, "Ffn(layer {layer}, output)"),
            LayerKind::Output => f.write_str("Output"),
        }
    }
}

/// Two layer kinds that the classic layout puts on the same Z slice.
///
/// ```
/// use sparsevdb_neural::{ClassicLayout, LayerKind};
/// let mut layout = ClassicLayout::new();
/// layout.insert(LayerKind::Attention { layer: 0, head: 8 }).unwrap();
/// let err = layout.insert(LayerKind::Attention { layer: 1, head: 0 }).unwrap_err();
/// assert!(err.to_string().contains("z = 40"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collision {
    /// The contested slice.
    pub z: i32,
    /// The kind that owns the slice.
    pub existing: LayerKind,
    /// The kind that was refused.
    pub incoming: LayerKind,
}

impl fmt::Display for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} wants z = {}, owned by {}",
            self.incoming, self.z, self.existing
        )
    }
}

/// A registry of the classic Z slices in use: each slice belongs to at most
/// one [`LayerKind`]. Inserting a kind whose slices another kind owns fails
/// with [`NeuralError::ClassicCollision`] and changes nothing.
///
/// ```
/// use sparsevdb_neural::{ClassicLayout, LayerKind, ModelDesc, NeuralError};
/// // 6 layers of 8 heads fit the classic ranges ...
/// let small = ModelDesc::bert(6, 8, 256, 1024);
/// assert!(ClassicLayout::for_model(&small).is_ok());
/// // ... 12 heads do not: heads 8-11 of layer L land on heads 0-3 of layer L+1.
/// let minilm = ModelDesc::minilm_l6();
/// match ClassicLayout::for_model(&minilm) {
///     Err(NeuralError::ClassicCollision { all, .. }) => assert_eq!(all.len(), 20),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassicLayout {
    owners: BTreeMap<i32, LayerKind>,
}

impl ClassicLayout {
    /// An empty layout.
    ///
    /// ```
    /// assert!(sparsevdb_neural::ClassicLayout::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no slice is in use.
    ///
    /// ```
    /// assert!(sparsevdb_neural::ClassicLayout::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The collisions `kind` would cause (empty when it fits). Inserting the
    /// same kind again is no collision.
    ///
    /// ```
    /// use sparsevdb_neural::{ClassicLayout, LayerKind};
    /// let mut l = ClassicLayout::new();
    /// l.insert(LayerKind::Output).unwrap();
    /// assert_eq!(l.collisions_of(LayerKind::Ffn { layer: 16, intermediate: false }).unwrap().len(), 2);
    /// ```
    pub fn collisions_of(&self, kind: LayerKind) -> Result<Vec<Collision>> {
        let range = kind.classic_z_range()?;
        Ok(self
            .owners
            .range(range)
            .filter(|(_, &owner)| owner != kind)
            .map(|(&z, &existing)| Collision {
                z,
                existing,
                incoming: kind,
            })
            .collect())
    }

    /// Reserves the slices of `kind` and returns them; fails with
    /// [`NeuralError::ClassicCollision`] (changing nothing) when another kind
    /// owns one of them, or [`NeuralError::OutOfRange`] when they do not fit.
    ///
    /// ```
    /// use sparsevdb_neural::{ClassicLayout, LayerKind};
    /// let mut l = ClassicLayout::new();
    /// assert_eq!(l.insert(LayerKind::Ffn { layer: 0, intermediate: true }).unwrap(), 98..=99);
    /// assert!(l.insert(LayerKind::Attention { layer: 8, head: 2 }).is_err());
    /// assert_eq!(l.owner(98), Some(LayerKind::Ffn { layer: 0, intermediate: true }));
    /// ```
    pub fn insert(&mut self, kind: LayerKind) -> Result<RangeInclusive<i32>> {
        let collisions = self.collisions_of(kind)?;
        if let Some(&first) = collisions.first() {
            return Err(NeuralError::ClassicCollision {
                first,
                all: collisions,
            });
        }
        let range = kind.classic_z_range()?;
        for z in range.clone() {
            self.owners.insert(z, kind);
        }
        Ok(range)
    }

    /// Inserts every kind in order and reports *all* collisions at once
    /// (a kind that collides is left out, so later kinds are checked against
    /// the ones that fitted).
    ///
    /// ```
    /// use sparsevdb_neural::{ClassicLayout, LayerKind};
    /// let kinds = [LayerKind::Embedding, LayerKind::Output, LayerKind::Embedding];
    /// assert!(ClassicLayout::from_kinds(kinds).is_ok());
    /// ```
    pub fn from_kinds(kinds: impl IntoIterator<Item = LayerKind>) -> Result<Self> {
        let mut layout = Self::new();
        let mut all = Vec::new();
        for kind in kinds {
            match layout.insert(kind) {
                Ok(_) => {}
                Err(NeuralError::ClassicCollision { all: mut c, .. }) => all.append(&mut c),
                Err(e) => return Err(e),
            }
        }
        match all.first() {
            Some(&first) => Err(NeuralError::ClassicCollision { first, all }),
            None => Ok(layout),
        }
    }

    /// The classic layout of a whole model: its embedding, every head of every
    /// attention layer, both FFN matrices of every layer and, when the model
    /// has one, its output projection.
    ///
    /// ```
    /// use sparsevdb_neural::{ClassicLayout, ModelDesc};
    /// assert!(ClassicLayout::for_model(&ModelDesc::bert(8, 8, 512, 2048)).is_ok());
    /// assert!(ClassicLayout::for_model(&ModelDesc::bert(9, 8, 512, 2048)).is_err());
    /// ```
    pub fn for_model(desc: &crate::ModelDesc) -> Result<Self> {
        Self::from_kinds(desc.layer_kinds())
    }

    /// The kind owning slice `z`, if any.
    ///
    /// ```
    /// use sparsevdb_neural::{ClassicLayout, LayerKind};
    /// let mut l = ClassicLayout::new();
    /// l.insert(LayerKind::Embedding).unwrap();
    /// assert_eq!(l.owner(31), Some(LayerKind::Embedding));
    /// assert_eq!(l.owner(32), None);
    /// ```
    pub fn owner(&self, z: i32) -> Option<LayerKind> {
        self.owners.get(&z).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelDesc;

    #[test]
    fn classic_ranges_follow_the_seed() {
        assert_eq!(
            LayerKind::Attention { layer: 0, head: 0 }
                .classic_z_range()
                .unwrap(),
            32..=32
        );
        assert_eq!(
            LayerKind::Attention { layer: 7, head: 7 }
                .classic_z_range()
                .unwrap(),
            95..=95
        );
        assert_eq!(
            LayerKind::Ffn {
                layer: 0,
                intermediate: false
            }
            .classic_z_range()
            .unwrap(),
            96..=97
        );
        assert_eq!(
            LayerKind::Ffn {
                layer: 15,
                intermediate: true
            }
            .classic_z_range()
            .unwrap(),
            158..=159
        );
    }

    #[test]
    fn head_8_collides_with_next_layer() {
        let mut l = ClassicLayout::new();
        l.insert(LayerKind::Attention { layer: 0, head: 8 })
            .unwrap();
        let err = l
            .insert(LayerKind::Attention { layer: 1, head: 0 })
            .unwrap_err();
        match err {
            NeuralError::ClassicCollision { first, all } => {
                assert_eq!(all.len(), 1);
                assert_eq!(first.z, 40);
                assert_eq!(first.existing, LayerKind::Attention { layer: 0, head: 8 });
            }
            e => panic!("{e}"),
        }
        // nothing was overwritten
        assert_eq!(
            l.owner(40),
            Some(LayerKind::Attention { layer: 0, head: 8 })
        );
    }

    #[test]
    fn attention_layer_8_collides_with_ffn() {
        let mut l = ClassicLayout::new();
        l.insert(LayerKind::Ffn {
            layer: 0,
            intermediate: false,
        })
        .unwrap();
        assert!(l
            .insert(LayerKind::Attention { layer: 8, head: 0 })
            .is_err());
        assert!(l.insert(LayerKind::Attention { layer: 8, head: 2 }).is_ok());
    }

    #[test]
    fn ffn_layer_16_collides_with_output() {
        let mut l = ClassicLayout::new();
        l.insert(LayerKind::Output).unwrap();
        let err = l
            .insert(LayerKind::Ffn {
                layer: 16,
                intermediate: true,
            })
            .unwrap_err();
        assert!(matches!(err, NeuralError::ClassicCollision { ref all, .. } if all.len() == 2));
    }

    #[test]
    fn same_kind_twice_is_fine() {
        let mut l = ClassicLayout::new();
        l.insert(LayerKind::Embedding).unwrap();
        l.insert(LayerKind::Embedding).unwrap();
    }

    #[test]
    fn whole_models() {
        // 8 layers, 8 heads, 8 FFN layers: fits exactly.
        assert!(ClassicLayout::for_model(&ModelDesc::bert(8, 8, 64, 256)).is_ok());
        // 12 heads: 4 collisions per layer boundary.
        match ClassicLayout::for_model(&ModelDesc::minilm_l6()) {
            Err(NeuralError::ClassicCollision { all, .. }) => {
                assert_eq!(all.len(), 20);
                assert!(all.iter().all(|c| matches!(
                    (c.existing, c.incoming),
                    (LayerKind::Attention { layer: a, head: h }, LayerKind::Attention { layer: b, head: g })
                        if b == a + 1 && h == g + 8
                )));
            }
            other => panic!("{other:?}"),
        }
        // GPT-2 small: 12 layers x 12 heads, with an LM head.
        let gpt2 = ModelDesc::gpt2(12, 12, 768, 3072);
        assert!(matches!(
            ClassicLayout::for_model(&gpt2),
            Err(NeuralError::ClassicCollision { .. })
        ));
        // 20 FFN layers of an 8-head model reach the output slices.
        let deep = ModelDesc::llama(20, 8, 64, 128);
        match ClassicLayout::for_model(&deep) {
            Err(NeuralError::ClassicCollision { all, .. }) => {
                assert!(all
                    .iter()
                    .any(|c| c.existing == LayerKind::Output || c.incoming == LayerKind::Output));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn out_of_range_layer() {
        let k = LayerKind::Ffn {
            layer: usize::MAX / 2,
            intermediate: true,
        };
        assert!(matches!(
            k.classic_z_range(),
            Err(NeuralError::OutOfRange(_))
        ));
        let k = LayerKind::Attention {
            layer: (i32::MAX as usize) / 8,
            head: 0,
        };
        assert!(matches!(
            k.classic_z_range(),
            Err(NeuralError::OutOfRange(_))
        ));
    }
}
