//! In-process models on the CPU (candle): all-MiniLM-L6-v2 and multilingual-e5-small for
//! embeddings, SmolLM2-135M-Instruct for chat. Each runs on its own worker threads behind a
//! bounded queue, so inference never blocks the async runtime and a burst is refused instead of
//! piling up. Nothing here knows the layer above it.

mod bert;
pub mod e5;
pub mod embed;
mod int8;
pub mod llm;
pub mod queue;

/// What a text to embed is: what someone asks (a search, a turn's recall), or what is stored to
/// be found. Retrieval-trained models read the two differently; MiniLM reads them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedRole {
    Query,
    Passage,
}

/// The arithmetic of the embedding models' linear layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// 8-bit integer matmuls where the CPU has AVX-512 VNNI (MiniLM embeds 2.5× as many
    /// texts a second there; vectors within a cosine of ~0.996 of f32's), f32 elsewhere.
    #[default]
    Int8,
    /// f32 everywhere: the checkpoint's own arithmetic.
    F32,
}

/// The models directory of this checkout (for tests and benches run from any working directory).
pub fn default_models_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".data/models")
}
