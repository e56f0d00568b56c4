//! In-process models on the CPU (candle): all-MiniLM-L6-v2 and multilingual-e5-small for
//! embeddings, SmolLM2-135M-Instruct for chat. Each runs on its own worker threads behind a
//! bounded queue, so inference never blocks the async runtime and a burst is refused instead of
//! piling up. Nothing here knows the layer above it.

pub mod e5;
pub mod embed;
pub mod llm;
pub mod queue;

/// What a text to embed is: what someone asks (a search, a turn's recall), or what is stored to
/// be found. Retrieval-trained models read the two differently; MiniLM reads them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedRole {
    Query,
    Passage,
}

/// Sentence vectors from token states `(batch, tokens, dims)`: the mean over the real tokens
/// (`mask`, f32 `(batch, tokens)`, 1 for a token and 0 for padding), scaled to unit length.
pub(crate) fn mean_pooled_unit(
    hidden: &candle_core::Tensor,
    mask: &candle_core::Tensor,
) -> candle_core::Result<Vec<Vec<f32>>> {
    let mask = mask.unsqueeze(2)?; // (batch, tokens, 1)
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (batch, dims)
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (batch, 1)
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norms)?.to_vec2::<f32>()
}

/// The models directory of this checkout (for tests and benches run from any working directory).
pub fn default_models_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".data/models")
}
