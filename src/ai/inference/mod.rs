//! In-process models on the CPU (candle): all-MiniLM-L6-v2 for embeddings and
//! SmolLM2-135M-Instruct for chat. Each runs on its own worker threads behind a bounded queue, so
//! inference never blocks the async runtime and a burst is refused instead of piling up. Nothing
//! here knows the layer above it.

pub mod embed;
pub mod llm;
pub mod queue;

/// The models directory of this checkout (for tests and benches run from any working directory).
pub fn default_models_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".data/models")
}
