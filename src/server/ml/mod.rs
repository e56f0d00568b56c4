//! In-process models on the CPU (candle): all-MiniLM-L6-v2 for embeddings and
//! SmolLM2-135M-Instruct for chat. Each runs on its own worker threads behind a bounded queue, so
//! inference never blocks the async runtime and a burst is refused instead of piling up.

pub mod embed;
pub mod llm;
pub mod queue;
