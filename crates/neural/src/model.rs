//! Model descriptions: the few numbers that fix a transformer's weight shapes
//! ([`ModelDesc`]), and the tensor list they imply in BERT, GPT-2 or LLaMA
//! naming ([`TensorSpec`]).

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};
use crate::layer::LayerKind;

/// A tensor's name and shape, as a safetensors header lists it.
///
/// ```
/// use sparsevdb_neural::TensorSpec;
/// let t = TensorSpec::new("encoder.layer.0.attention.self.query.weight", [384, 384]);
/// assert_eq!(t.len(), 384 * 384);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorSpec {
    /// The tensor's name.
    pub name: String,
    /// The tensor's shape, outermost first (row-major).
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// A spec from a name and a shape.
    ///
    /// ```
    /// let t = sparsevdb_neural::TensorSpec::new("bias", [3]);
    /// assert_eq!(t.shape, vec![3]);
    /// ```
    pub fn new(name: impl Into<String>, shape: impl Into<Vec<usize>>) -> Self {
        Self {
            name: name.into(),
            shape: shape.into(),
        }
    }

    /// The number of elements (saturating at `usize::MAX`).
    ///
    /// ```
    /// assert_eq!(sparsevdb_neural::TensorSpec::new("s", []).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// Whether the tensor has no element (a zero in its shape).
    ///
    /// ```
    /// assert!(sparsevdb_neural::TensorSpec::new("e", [0, 4]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }
}

/// The naming scheme (and architecture family) of a model's tensors.
///
/// ```
/// use sparsevdb_neural::Family;
/// assert_eq!(Family::Bert.to_string(), "BERT");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// Hugging Face BERT (`encoder.layer.{L}.attention.self.query.weight`, ...);
    /// `nn.Linear` weights are `[out, in]`.
    Bert,
    /// Hugging Face GPT-2 (`h.{L}.attn.c_attn.weight`, ...); its `Conv1D`
    /// weights are `[in, out]` and Q, K, V are fused in `c_attn`.
    Gpt2,
    /// Hugging Face LLaMA (`model.layers.{L}.self_attn.q_proj.weight`, ...);
    /// weights are `[out, in]`, with grouped K/V heads.
    Llama,
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Bert => "BERT",
            Family::Gpt2 => "GPT-2",
            Family::Llama => "LLaMA",
        })
    }
}

/// The shape-defining numbers of a transformer.
///
/// ```
/// use sparsevdb_neural::ModelDesc;
/// let m = ModelDesc::minilm_l6();
/// assert_eq!((m.layers, m.heads, m.d_model, m.d_ffn), (6, 12, 384, 1536));
/// assert_eq!(m.tensors().len(), 103);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDesc {
    /// Naming scheme and architecture.
    pub family: Family,
    /// Number of transformer layers.
    pub layers: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Key/value heads per layer (LLaMA grouped-query attention; equal to
    /// `heads` otherwise).
    pub kv_heads: usize,
    /// Hidden size.
    pub d_model: usize,
    /// Feed-forward (intermediate) size.
    pub d_ffn: usize,
    /// Vocabulary size (rows of the token embedding).
    pub vocab: usize,
    /// Learned positions (rows of the position embedding; 0 for none).
    pub max_positions: usize,
    /// Token types (rows of the token-type embedding; 0 for none).
    pub type_vocab: usize,
    /// Whether the model has an output projection: BERT's pooler, an
    /// untied LM head for GPT-2 and LLaMA.
    pub output_head: bool,
}

impl ModelDesc {
    /// A BERT encoder with vocabulary 30 522, 512 positions, 2 token types
    /// and a pooler.
    ///
    /// ```
    /// let m = sparsevdb_neural::ModelDesc::bert(2, 4, 64, 256);
    /// assert_eq!(m.d_head(), 16);
    /// ```
    pub fn bert(layers: usize, heads: usize, d_model: usize, d_ffn: usize) -> Self {
        Self {
            family: Family::Bert,
            layers,
            heads,
            kv_heads: heads,
            d_model,
            d_ffn,
            vocab: 30522,
            max_positions: 512,
            type_vocab: 2,
            output_head: true,
        }
    }

    /// A GPT-2 decoder with vocabulary 50 257, 1 024 positions and an untied
    /// LM head.
    ///
    /// ```
    /// let m = sparsevdb_neural::ModelDesc::gpt2(12, 12, 768, 3072);
    /// assert!(m.tensors().iter().any(|t| t.name == "h.11.attn.c_attn.weight" && t.shape == [768, 2304]));
    /// ```
    pub fn gpt2(layers: usize, heads: usize, d_model: usize, d_ffn: usize) -> Self {
        Self {
            family: Family::Gpt2,
            vocab: 50257,
            max_positions: 1024,
            type_vocab: 0,
            ..Self::bert(layers, heads, d_model, d_ffn)
        }
    }

    /// A LLaMA decoder with vocabulary 32 000, no learned positions, and an
    /// LM head; `kv_heads` equals `heads` (change the field for GQA).
    ///
    /// ```
    /// let mut m = sparsevdb_neural::ModelDesc::llama(2, 8, 128, 344);
    /// m.kv_heads = 2;
    /// assert!(m.tensors().iter().any(|t| t.name == "model.layers.1.self_attn.k_proj.weight" && t.shape == [32, 128]));
    /// ```
    pub fn llama(layers: usize, heads: usize, d_model: usize, d_ffn: usize) -> Self {
        Self {
            family: Family::Llama,
            vocab: 32000,
            max_positions: 0,
            type_vocab: 0,
            ..Self::bert(layers, heads, d_model, d_ffn)
        }
    }

    /// `sentence-transformers/all-MiniLM-L6-v2`: BERT, 6 layers, 12 heads,
    /// hidden 384, FFN 1536 (the model in `shared/data`).
    ///
    /// ```
    /// assert_eq!(sparsevdb_neural::ModelDesc::minilm_l6().param_count(), 22_713_216);
    /// ```
    pub fn minilm_l6() -> Self {
        Self::bert(6, 12, 384, 1536)
    }

    /// The size of one attention head, `d_model / heads`.
    ///
    /// ```
    /// assert_eq!(sparsevdb_neural::ModelDesc::minilm_l6().d_head(), 32);
    /// ```
    pub fn d_head(&self) -> usize {
        self.d_model.checked_div(self.heads).unwrap_or(0)
    }

    /// Checks that the numbers make a model: nonzero sizes, `heads` dividing
    /// `d_model`, `kv_heads` dividing `heads`.
    ///
    /// ```
    /// assert!(sparsevdb_neural::ModelDesc::bert(2, 5, 64, 128).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| {
            Err(NeuralError::InvalidPlan(format!(
                "model description: {why}"
            )))
        };
        if self.layers == 0 || self.heads == 0 || self.d_model == 0 || self.d_ffn == 0 {
            return bad("layers, heads, d_model and d_ffn must be nonzero");
        }
        if self.vocab == 0 {
            return bad("vocab must be nonzero");
        }
        if !self.d_model.is_multiple_of(self.heads) {
            return bad("heads must divide d_model");
        }
        if self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            return bad("kv_heads must divide heads");
        }
        let fits = [
            self.d_model.checked_mul(4),
            self.vocab.checked_mul(self.d_model),
            self.max_positions.checked_mul(self.d_model),
            self.type_vocab.checked_mul(self.d_model),
            self.d_ffn.checked_mul(self.d_model),
        ];
        if fits.iter().any(Option::is_none) {
            return Err(NeuralError::OutOfRange(
                "model description: a weight's size overflows usize".into(),
            ));
        }
        Ok(())
    }

    /// Every layer kind of the classic layout this model uses, in model
    /// order: the embedding, then per layer every head and both FFN kinds,
    /// then the output projection when there is one.
    ///
    /// ```
    /// let kinds = sparsevdb_neural::ModelDesc::bert(1, 2, 8, 16).layer_kinds();
    /// assert_eq!(kinds.len(), 1 + 2 + 2 + 1);
    /// ```
    pub fn layer_kinds(&self) -> Vec<LayerKind> {
        let mut kinds = vec![LayerKind::Embedding];
        for layer in 0..self.layers {
            kinds.extend((0..self.heads).map(|head| LayerKind::Attention { layer, head }));
            kinds.push(LayerKind::Ffn {
                layer,
                intermediate: false,
            });
            kinds.push(LayerKind::Ffn {
                layer,
                intermediate: true,
            });
        }
        if self.output_head {
            kinds.push(LayerKind::Output);
        }
        kinds
    }

    /// Total number of parameters over [`tensors`](Self::tensors)
    /// (saturating; call on a [validated](Self::validate) description).
    ///
    /// ```
    /// assert!(sparsevdb_neural::ModelDesc::gpt2(12, 12, 768, 3072).param_count() > 100_000_000);
    /// ```
    pub fn param_count(&self) -> usize {
        self.tensors()
            .iter()
            .fold(0usize, |a, t| a.saturating_add(t.len()))
    }

    /// The tensors of this model, named and shaped as the family's Hugging
    /// Face checkpoints name and shape them, in checkpoint order.
    ///
    /// ```
    /// let t = sparsevdb_neural::ModelDesc::minilm_l6().tensors();
    /// assert_eq!(t[0].name, "embeddings.word_embeddings.weight");
    /// assert_eq!(t[0].shape, [30522, 384]);
    /// ```
    pub fn tensors(&self) -> Vec<TensorSpec> {
        match self.family {
            Family::Bert => self.bert_tensors(),
            Family::Gpt2 => self.gpt2_tensors(),
            Family::Llama => self.llama_tensors(),
        }
    }

    fn bert_tensors(&self) -> Vec<TensorSpec> {
        let (d, f) = (self.d_model, self.d_ffn);
        let mut t = vec![TensorSpec::new(
            "embeddings.word_embeddings.weight",
            [self.vocab, d],
        )];
        if self.max_positions > 0 {
            t.push(TensorSpec::new(
                "embeddings.position_embeddings.weight",
                [self.max_positions, d],
            ));
        }
        if self.type_vocab > 0 {
            t.push(TensorSpec::new(
                "embeddings.token_type_embeddings.weight",
                [self.type_vocab, d],
            ));
        }
        t.push(TensorSpec::new("embeddings.LayerNorm.weight", [d]));
        t.push(TensorSpec::new("embeddings.LayerNorm.bias", [d]));
        for l in 0..self.layers {
            let p = format!("encoder.layer.{l}");
            for (m, out, inp) in [
                ("attention.self.query", d, d),
                ("attention.self.key", d, d),
                ("attention.self.value", d, d),
                ("attention.output.dense", d, d),
            ] {
                t.push(TensorSpec::new(format!("{p}.{m}.weight"), [out, inp]));
                t.push(TensorSpec::new(format!("{p}.{m}.bias"), [out]));
            }
            t.push(TensorSpec::new(
                format!("{p}.attention.output.LayerNorm.weight"),
                [d],
            ));
            t.push(TensorSpec::new(
                format!("{p}.attention.output.LayerNorm.bias"),
                [d],
            ));
            t.push(TensorSpec::new(
                format!("{p}.intermediate.dense.weight"),
                [f, d],
            ));
            t.push(TensorSpec::new(format!("{p}.intermediate.dense.bias"), [f]));
            t.push(TensorSpec::new(format!("{p}.output.dense.weight"), [d, f]));
            t.push(TensorSpec::new(format!("{p}.output.dense.bias"), [d]));
            t.push(TensorSpec::new(format!("{p}.output.LayerNorm.weight"), [d]));
            t.push(TensorSpec::new(format!("{p}.output.LayerNorm.bias"), [d]));
        }
        if self.output_head {
            t.push(TensorSpec::new("pooler.dense.weight", [d, d]));
            t.push(TensorSpec::new("pooler.dense.bias", [d]));
        }
        t
    }

    fn gpt2_tensors(&self) -> Vec<TensorSpec> {
        let (d, f) = (self.d_model, self.d_ffn);
        let mut t = vec![TensorSpec::new("wte.weight", [self.vocab, d])];
        if self.max_positions > 0 {
            t.push(TensorSpec::new("wpe.weight", [self.max_positions, d]));
        }
        for l in 0..self.layers {
            let p = format!("h.{l}");
            t.push(TensorSpec::new(format!("{p}.ln_1.weight"), [d]));
            t.push(TensorSpec::new(format!("{p}.ln_1.bias"), [d]));
            t.push(TensorSpec::new(
                format!("{p}.attn.c_attn.weight"),
                [d, d.saturating_mul(3)],
            ));
            t.push(TensorSpec::new(
                format!("{p}.attn.c_attn.bias"),
                [d.saturating_mul(3)],
            ));
            t.push(TensorSpec::new(format!("{p}.attn.c_proj.weight"), [d, d]));
            t.push(TensorSpec::new(format!("{p}.attn.c_proj.bias"), [d]));
            t.push(TensorSpec::new(format!("{p}.ln_2.weight"), [d]));
            t.push(TensorSpec::new(format!("{p}.ln_2.bias"), [d]));
            t.push(TensorSpec::new(format!("{p}.mlp.c_fc.weight"), [d, f]));
            t.push(TensorSpec::new(format!("{p}.mlp.c_fc.bias"), [f]));
            t.push(TensorSpec::new(format!("{p}.mlp.c_proj.weight"), [f, d]));
            t.push(TensorSpec::new(format!("{p}.mlp.c_proj.bias"), [d]));
        }
        t.push(TensorSpec::new("ln_f.weight", [d]));
        t.push(TensorSpec::new("ln_f.bias", [d]));
        if self.output_head {
            t.push(TensorSpec::new("lm_head.weight", [self.vocab, d]));
        }
        t
    }

    fn llama_tensors(&self) -> Vec<TensorSpec> {
        let (d, f) = (self.d_model, self.d_ffn);
        let kv = self.kv_heads.saturating_mul(self.d_head());
        let mut t = vec![TensorSpec::new(
            "model.embed_tokens.weight",
            [self.vocab, d],
        )];
        for l in 0..self.layers {
            let p = format!("model.layers.{l}");
            t.push(TensorSpec::new(
                format!("{p}.self_attn.q_proj.weight"),
                [d, d],
            ));
            t.push(TensorSpec::new(
                format!("{p}.self_attn.k_proj.weight"),
                [kv, d],
            ));
            t.push(TensorSpec::new(
                format!("{p}.self_attn.v_proj.weight"),
                [kv, d],
            ));
            t.push(TensorSpec::new(
                format!("{p}.self_attn.o_proj.weight"),
                [d, d],
            ));
            t.push(TensorSpec::new(format!("{p}.mlp.gate_proj.weight"), [f, d]));
            t.push(TensorSpec::new(format!("{p}.mlp.up_proj.weight"), [f, d]));
            t.push(TensorSpec::new(format!("{p}.mlp.down_proj.weight"), [d, f]));
            t.push(TensorSpec::new(format!("{p}.input_layernorm.weight"), [d]));
            t.push(TensorSpec::new(
                format!("{p}.post_attention_layernorm.weight"),
                [d],
            ));
        }
        t.push(TensorSpec::new("model.norm.weight", [d]));
        if self.output_head {
            t.push(TensorSpec::new("lm_head.weight", [self.vocab, d]));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minilm_matches_the_data_readme() {
        let m = ModelDesc::minilm_l6();
        let t = m.tensors();
        assert_eq!(t.len(), 103);
        assert_eq!(m.param_count(), 22_713_216);
        let find = |n: &str| t.iter().find(|s| s.name == n).unwrap().shape.clone();
        assert_eq!(
            find("encoder.layer.5.intermediate.dense.weight"),
            [1536, 384]
        );
        assert_eq!(find("encoder.layer.5.output.dense.weight"), [384, 1536]);
        assert_eq!(find("embeddings.token_type_embeddings.weight"), [2, 384]);
        assert_eq!(find("pooler.dense.bias"), [384]);
    }

    #[test]
    fn validation() {
        assert!(ModelDesc::minilm_l6().validate().is_ok());
        assert!(ModelDesc::bert(0, 1, 8, 8).validate().is_err());
        let mut m = ModelDesc::llama(1, 8, 64, 128);
        m.kv_heads = 3;
        assert!(m.validate().is_err());
    }

    #[test]
    fn gpt2_and_llama_counts() {
        // GPT-2 small (tied head): 124,439,808 parameters.
        let mut g = ModelDesc::gpt2(12, 12, 768, 3072);
        g.output_head = false;
        assert_eq!(g.param_count(), 124_439_808);
        assert_eq!(
            ModelDesc::llama(2, 4, 64, 128).tensors().len(),
            1 + 2 * 9 + 2
        );
    }
}
