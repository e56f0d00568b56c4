//! Talking to models: the request and message types, the router (candidates, fallbacks, circuit
//! breakers, time limits), the providers (any OpenAI-compatible endpoint, and the built-in local
//! model) and the embedding model. The local inference runtime (`inference`) sits below it and
//! knows nothing of this layer. No feature is known here.

pub mod breaker;
pub mod embeddings;
pub mod inference;
pub mod local;
pub mod openai;
pub mod router;
pub mod types;

pub use router::ModelRouter;
pub use types::{ChatMessage, ChatRequest, Completion, ProviderConfig, ProviderKind};
