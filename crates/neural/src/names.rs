//! Tensor-name parsing for BERT, GPT-2, LLaMA and PEFT LoRA checkpoints: what a
//! tensor is ([`Role`]), whether it is a weight or a bias ([`Param`]) and
//! whether it is a LoRA factor ([`LoraPart`]).

use serde::{Deserialize, Serialize};

use crate::layer::LayerKind;
use crate::model::Family;

/// Which embedding table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EmbeddingKind {
    /// Token (word) embeddings.
    Token,
    /// Learned position embeddings.
    Position,
    /// BERT token-type (segment) embeddings.
    TokenType,
}

/// Which attention projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttnProj {
    /// Query.
    Query,
    /// Key.
    Key,
    /// Value.
    Value,
    /// Query, key and value fused in one matrix (GPT-2 `c_attn`).
    QueryKeyValue,
    /// Output projection.
    Output,
}

/// Which feed-forward projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FfnProj {
    /// Gate projection into the intermediate size (LLaMA `gate_proj`).
    Gate,
    /// Up projection into the intermediate size.
    Up,
    /// Down projection back to the hidden size.
    Down,
}

/// Where a normalisation layer sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NormSite {
    /// After the embeddings (BERT).
    Embedding,
    /// Around the attention block (BERT post-attention, GPT-2 `ln_1`, LLaMA
    /// `input_layernorm`).
    Attention,
    /// Around the feed-forward block (BERT output, GPT-2 `ln_2`, LLaMA
    /// `post_attention_layernorm`).
    Ffn,
    /// After the last layer (GPT-2 `ln_f`, LLaMA `model.norm`).
    Final,
}

/// What a tensor is, whatever the naming scheme.
///
/// ```
/// use sparsevdb_neural::names::{parse_tensor_name, AttnProj, Role};
/// let p = parse_tensor_name("model.layers.3.self_attn.v_proj.weight").unwrap();
/// assert_eq!(p.role, Role::Attention { layer: 3, proj: AttnProj::Value });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// An embedding table.
    Embedding(EmbeddingKind),
    /// An attention projection of a layer.
    Attention {
        /// The layer.
        layer: usize,
        /// The projection.
        proj: AttnProj,
    },
    /// A feed-forward projection of a layer.
    Ffn {
        /// The layer.
        layer: usize,
        /// The projection.
        proj: FfnProj,
    },
    /// A LayerNorm or RMSNorm.
    Norm {
        /// The layer, `None` outside the layers.
        layer: Option<usize>,
        /// Where it sits.
        site: NormSite,
    },
    /// BERT's pooler.
    Pooler,
    /// The LM head (`lm_head`).
    LmHead,
}

impl Role {
    /// The transformer layer, for roles inside one.
    ///
    /// ```
    /// use sparsevdb_neural::names::Role;
    /// assert_eq!(Role::Pooler.layer(), None);
    /// ```
    pub fn layer(&self) -> Option<usize> {
        match *self {
            Role::Attention { layer, .. } | Role::Ffn { layer, .. } => Some(layer),
            Role::Norm { layer, .. } => layer,
            _ => None,
        }
    }

    /// The classic [`LayerKind`] of a whole matrix with this role. Attention
    /// matrices span every head, so they have none here (the classic layout
    /// gives each head its own kind).
    ///
    /// ```
    /// use sparsevdb_neural::{LayerKind, names::{FfnProj, Role}};
    /// let up = Role::Ffn { layer: 2, proj: FfnProj::Up };
    /// assert_eq!(up.layer_kind(), Some(LayerKind::Ffn { layer: 2, intermediate: true }));
    /// ```
    pub fn layer_kind(&self) -> Option<LayerKind> {
        match *self {
            Role::Embedding(_) => Some(LayerKind::Embedding),
            Role::Ffn { layer, proj } => Some(LayerKind::Ffn {
                layer,
                intermediate: proj != FfnProj::Down,
            }),
            Role::Pooler | Role::LmHead => Some(LayerKind::Output),
            Role::Attention { .. } | Role::Norm { .. } => None,
        }
    }

    /// Rank of the role inside its layer group: embeddings, Q, K, V (fused
    /// QKV), O, gate, up, down, norms, pooler, LM head. The planner keeps this
    /// order so Q, K and V stay next to each other.
    pub(crate) fn rank(&self) -> u32 {
        match *self {
            Role::Embedding(EmbeddingKind::Token) => 0,
            Role::Embedding(EmbeddingKind::Position) => 1,
            Role::Embedding(EmbeddingKind::TokenType) => 2,
            Role::Attention { proj, .. } => match proj {
                AttnProj::Query => 10,
                AttnProj::Key => 11,
                AttnProj::Value => 12,
                AttnProj::QueryKeyValue => 13,
                AttnProj::Output => 14,
            },
            Role::Ffn { proj, .. } => match proj {
                FfnProj::Gate => 20,
                FfnProj::Up => 21,
                FfnProj::Down => 22,
            },
            Role::Norm { site, .. } => match site {
                NormSite::Embedding => 30,
                NormSite::Attention => 31,
                NormSite::Ffn => 32,
                NormSite::Final => 33,
            },
            Role::Pooler => 40,
            Role::LmHead => 41,
        }
    }
}

/// Weight or bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Param {
    /// `.weight` (also the old `.gamma`).
    Weight,
    /// `.bias` (also the old `.beta`).
    Bias,
}

/// The factor of a PEFT LoRA pair (`ΔW = B·A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LoraPart {
    /// `lora_A`: `r × in`.
    A,
    /// `lora_B`: `out × r`.
    B,
}

/// A parsed tensor name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParsedName {
    /// The naming scheme the name follows (`None` for names every scheme
    /// shares, such as `lm_head.weight`).
    pub family: Option<Family>,
    /// What the tensor is (for a LoRA factor: the module it adapts).
    pub role: Role,
    /// Weight or bias.
    pub param: Param,
    /// The LoRA factor, for PEFT adapter tensors.
    pub lora: Option<LoraPart>,
}

/// Parses a checkpoint tensor name in BERT, GPT-2 or LLaMA naming, with or
/// without the usual `bert.` / `transformer.` prefixes, and PEFT LoRA names
/// (`base_model.model.<module>.lora_A.weight`). Returns `None` for any other
/// name.
///
/// ```
/// use sparsevdb_neural::names::{parse_tensor_name, AttnProj, LoraPart, Param, Role};
/// use sparsevdb_neural::Family;
/// let p = parse_tensor_name("encoder.layer.0.attention.self.query.bias").unwrap();
/// assert_eq!(p.role, Role::Attention { layer: 0, proj: AttnProj::Query });
/// assert_eq!((p.param, p.family), (Param::Bias, Some(Family::Bert)));
/// let l = parse_tensor_name("base_model.model.encoder.layer.2.attention.self.value.lora_B.weight").unwrap();
/// assert_eq!(l.lora, Some(LoraPart::B));
/// assert!(parse_tensor_name("cls.predictions.decoder.weight").is_none());
/// ```
pub fn parse_tensor_name(name: &str) -> Option<ParsedName> {
    let mut rest = name.strip_prefix("base_model.model.").unwrap_or(name);
    let (stem, param, lora) = split_suffix(rest)?;
    rest = stem;
    for prefix in ["bert.", "transformer."] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r;
            break;
        }
    }
    let segs: Vec<&str> = rest.split('.').collect();
    let (family, role) = parse_stem(&segs)?;
    Some(ParsedName {
        family,
        role,
        param,
        lora,
    })
}

fn split_suffix(name: &str) -> Option<(&str, Param, Option<LoraPart>)> {
    let (stem, last) = name.rsplit_once('.')?;
    let param = match last {
        "weight" | "gamma" => Param::Weight,
        "bias" | "beta" => Param::Bias,
        _ => return None,
    };
    let (stem, lora) = if let Some(s) = stem.strip_suffix(".lora_A") {
        (s, Some(LoraPart::A))
    } else if let Some(s) = stem.strip_suffix(".lora_B") {
        (s, Some(LoraPart::B))
    } else {
        (stem, None)
    };
    Some((stem, param, lora))
}

fn parse_stem(s: &[&str]) -> Option<(Option<Family>, Role)> {
    use AttnProj as A;
    use Family::{Bert, Gpt2, Llama};
    use FfnProj as F;
    let layer = |seg: &str| seg.parse::<usize>().ok();
    let attn = |l, proj| Role::Attention { layer: l, proj };
    let ffn = |l, proj| Role::Ffn { layer: l, proj };
    let norm = |l, site| Role::Norm { layer: l, site };
    let found = match s {
        // BERT
        ["embeddings", "word_embeddings"] => (Some(Bert), Role::Embedding(EmbeddingKind::Token)),
        ["embeddings", "position_embeddings"] => {
            (Some(Bert), Role::Embedding(EmbeddingKind::Position))
        }
        ["embeddings", "token_type_embeddings"] => {
            (Some(Bert), Role::Embedding(EmbeddingKind::TokenType))
        }
        ["embeddings", "LayerNorm"] => (Some(Bert), norm(None, NormSite::Embedding)),
        ["pooler", "dense"] => (Some(Bert), Role::Pooler),
        ["encoder", "layer", l, rest @ ..] => {
            let l = layer(l)?;
            let role = match rest {
                ["attention", "self", "query"] => attn(l, A::Query),
                ["attention", "self", "key"] => attn(l, A::Key),
                ["attention", "self", "value"] => attn(l, A::Value),
                ["attention", "output", "dense"] => attn(l, A::Output),
                ["attention", "output", "LayerNorm"] => norm(Some(l), NormSite::Attention),
                ["intermediate", "dense"] => ffn(l, F::Up),
                ["output", "dense"] => ffn(l, F::Down),
                ["output", "LayerNorm"] => norm(Some(l), NormSite::Ffn),
                _ => return None,
            };
            (Some(Bert), role)
        }
        // GPT-2
        ["wte"] => (Some(Gpt2), Role::Embedding(EmbeddingKind::Token)),
        ["wpe"] => (Some(Gpt2), Role::Embedding(EmbeddingKind::Position)),
        ["ln_f"] => (Some(Gpt2), norm(None, NormSite::Final)),
        ["h", l, rest @ ..] => {
            let l = layer(l)?;
            let role = match rest {
                ["ln_1"] => norm(Some(l), NormSite::Attention),
                ["ln_2"] => norm(Some(l), NormSite::Ffn),
                ["attn", "c_attn"] => attn(l, A::QueryKeyValue),
                ["attn", "c_proj"] => attn(l, A::Output),
                ["mlp", "c_fc"] => ffn(l, F::Up),
                ["mlp", "c_proj"] => ffn(l, F::Down),
                _ => return None,
            };
            (Some(Gpt2), role)
        }
        // LLaMA
        ["model", "embed_tokens"] => (Some(Llama), Role::Embedding(EmbeddingKind::Token)),
        ["model", "norm"] => (Some(Llama), norm(None, NormSite::Final)),
        ["model", "layers", l, rest @ ..] => {
            let l = layer(l)?;
            let role = match rest {
                ["self_attn", "q_proj"] => attn(l, A::Query),
                ["self_attn", "k_proj"] => attn(l, A::Key),
                ["self_attn", "v_proj"] => attn(l, A::Value),
                ["self_attn", "o_proj"] => attn(l, A::Output),
                ["mlp", "gate_proj"] => ffn(l, F::Gate),
                ["mlp", "up_proj"] => ffn(l, F::Up),
                ["mlp", "down_proj"] => ffn(l, F::Down),
                ["input_layernorm"] => norm(Some(l), NormSite::Attention),
                ["post_attention_layernorm"] => norm(Some(l), NormSite::Ffn),
                _ => return None,
            };
            (Some(Llama), role)
        }
        ["lm_head"] => (None, Role::LmHead),
        _ => return None,
    };
    Some(found)
}

/// The naming family most of `names` follow, if any follows one.
///
/// ```
/// use sparsevdb_neural::{names::detect_family, Family};
/// assert_eq!(detect_family(["wte.weight", "h.0.ln_1.weight"]), Some(Family::Gpt2));
/// assert_eq!(detect_family(["foo"]), None);
/// ```
pub fn detect_family<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Family> {
    let mut counts = [0usize; 3];
    for n in names {
        match parse_tensor_name(n).and_then(|p| p.family) {
            Some(Family::Bert) => counts[0] += 1,
            Some(Family::Gpt2) => counts[1] += 1,
            Some(Family::Llama) => counts[2] += 1,
            None => {}
        }
    }
    let (i, &best) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(i, c)| (c, usize::MAX - i))?;
    (best > 0).then_some([Family::Bert, Family::Gpt2, Family::Llama][i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelDesc;

    #[test]
    fn every_generated_name_parses() {
        for desc in [
            ModelDesc::minilm_l6(),
            ModelDesc::gpt2(2, 4, 64, 256),
            ModelDesc::llama(2, 4, 64, 172),
        ] {
            let specs = desc.tensors();
            for s in &specs {
                let p = parse_tensor_name(&s.name).unwrap_or_else(|| panic!("{}", s.name));
                assert!(
                    p.family.is_none() || p.family == Some(desc.family),
                    "{}",
                    s.name
                );
                assert_eq!(p.lora, None);
            }
            assert_eq!(
                detect_family(specs.iter().map(|s| s.name.as_str())),
                Some(desc.family)
            );
        }
    }

    #[test]
    fn roles() {
        let r = |n: &str| parse_tensor_name(n).unwrap().role;
        assert_eq!(
            r("bert.encoder.layer.11.output.dense.weight"),
            Role::Ffn {
                layer: 11,
                proj: FfnProj::Down
            }
        );
        assert_eq!(
            r("transformer.h.3.attn.c_attn.weight"),
            Role::Attention {
                layer: 3,
                proj: AttnProj::QueryKeyValue
            }
        );
        assert_eq!(
            r("h.0.mlp.c_fc.bias"),
            Role::Ffn {
                layer: 0,
                proj: FfnProj::Up
            }
        );
        assert_eq!(
            r("model.layers.7.mlp.gate_proj.weight"),
            Role::Ffn {
                layer: 7,
                proj: FfnProj::Gate
            }
        );
        assert_eq!(
            r("model.layers.7.post_attention_layernorm.weight"),
            Role::Norm {
                layer: Some(7),
                site: NormSite::Ffn
            }
        );
        assert_eq!(
            r("embeddings.LayerNorm.gamma"),
            Role::Norm {
                layer: None,
                site: NormSite::Embedding
            }
        );
        assert_eq!(r("lm_head.weight"), Role::LmHead);
        assert_eq!(
            r("pooler.dense.weight").layer_kind(),
            Some(LayerKind::Output)
        );
    }

    #[test]
    fn peft_names() {
        let p = parse_tensor_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
            .unwrap();
        assert_eq!(
            p.role,
            Role::Attention {
                layer: 0,
                proj: AttnProj::Query
            }
        );
        assert_eq!(p.lora, Some(LoraPart::A));
        assert_eq!(p.family, Some(Family::Llama));
    }

    #[test]
    fn unknown_names() {
        for n in [
            "",
            "weight",
            "encoder.layer.x.attention.self.query.weight",
            "encoder.layer.0.attention.self.query.scale",
            "h.0.attn.bias",
            "embeddings.position_ids",
            "model.layers.0.self_attn.rotary_emb.inv_freq",
            "encoder.layer.0.attention.self.query",
        ] {
            assert!(parse_tensor_name(n).is_none(), "{n}");
        }
    }
}
