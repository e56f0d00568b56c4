//! Memory: each employee's exchanges, its recent list (Redis, a cache) and semantic recall
//! (vectors in Postgres, written by a background indexer). Shared types here; the server part
//! holds the SQL, the indexer and sweeper, the recent list and the REST route.

pub mod fns;
#[cfg(feature = "ssr")]
pub mod server;

use crate::core::InteractionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One remembered exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemoryItem {
    pub id: InteractionId,
    pub content: String,
    pub response: String,
    pub timestamp: DateTime<Utc>,
    pub relevance_score: f64,
}

/// `DELETE …/memory/{interaction_id}` or `DELETE …/memory?subject=…|subject_id=…`: what was
/// erased. The audit trail keeps the same receipt, with hashes in place of content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErasureReceipt {
    pub erased: usize,
    pub interaction_ids: Vec<String>,
}

/// `GET …/memory`: remembered exchanges, newest first (or best first for a query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemoryList {
    pub memory: Vec<MemoryItem>,
}
