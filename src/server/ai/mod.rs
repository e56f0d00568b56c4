//! The AI layer: the model router and its providers.

pub mod local;
pub mod router;

pub use router::{Completion, ModelRouter, ProviderConfig};
