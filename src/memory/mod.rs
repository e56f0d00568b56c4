//! Memory: each employee's exchanges, its recent list (Redis, a cache) and semantic recall
//! (vectors in Postgres, written by a background indexer). Shared types here; the server part
//! holds the SQL, the indexer and sweeper, the recent list and the REST route.

pub mod fns;
pub mod pages;
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
    /// For a search, how well it matched, from 0 to 1 (1: first by meaning and by keywords;
    /// the reciprocal-rank fusion of the two rankings, scaled); 1 for a recent exchange.
    pub relevance_score: f64,
    /// For a search: its cosine similarity to the query, when it was among the closest in
    /// meaning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// For a search: its keyword score (BM25 over this employee's memory), when it shares words
    /// with the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_score: Option<f64>,
    /// The tools called while answering (none: left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<crate::core::tool_calls::ToolCallRecord>,
    /// The passages of the client's knowledge its prompt carried (none: left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::core::sources::SourceRecord>,
}

/// What an import of a past conversation did (`POST …/memory/import`, or the memory browser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Lines read.
    pub lines: usize,
    /// Lines stored now.
    pub stored: usize,
    /// Lines stored before (by an earlier import, or earlier in this file), left as they were.
    pub already_stored: usize,
    /// Exchanges stored now.
    pub exchanges: usize,
}

/// The most the memory browser imports at once (a file's text); larger histories go through the
/// REST API (64 MiB), or in parts.
pub const BROWSER_IMPORT_BYTES: usize = 8 * 1024 * 1024;

/// `DELETE …/memory/{interaction_id}` or `DELETE …/memory?subject=…|subject_id=…`: what was
/// erased. The audit trail keeps the same receipt, with hashes in place of content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErasureReceipt {
    pub erased: usize,
    pub interaction_ids: Vec<String>,
}

/// One answered exchange as the chat shows it: what was said and answered, by which model, at
/// what cost, and what the employee remembered to answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatTurn {
    pub id: InteractionId,
    pub message: String,
    pub answer: String,
    pub model: Option<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u32,
    pub at: DateTime<Utc>,
    /// The earlier exchanges the model was given as recalled memory, each by the start of its
    /// message (an exchange erased since is left out).
    pub memories: Vec<RecalledNote>,
    /// The person stopped the answer while it was being written.
    #[serde(default)]
    pub stopped: bool,
    /// The tools called while answering.
    #[serde(default)]
    pub tool_calls: Vec<crate::core::tool_calls::ToolCallRecord>,
    /// The passages of the client's knowledge its prompt carried, with those the answer cites.
    #[serde(default)]
    pub sources: Vec<crate::core::sources::SourceRecord>,
}

/// A memory a turn used, as the chat names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecalledNote {
    pub id: InteractionId,
    pub excerpt: String,
}

/// A page of a conversation, oldest first, and the cursor to the page before it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatHistory {
    pub turns: Vec<ChatTurn>,
    /// Pass as `before` for the older page; `None` at the beginning of the conversation.
    pub older: Option<InteractionId>,
}

/// The longest memory search the browser sends.
pub const MAX_QUERY_CHARS: usize = 500;

/// How many exchanges a page of the chat holds.
pub const CHAT_PAGE: u32 = 30;
/// The longest excerpt of a recalled memory the chat shows.
pub const EXCERPT_CHARS: usize = 160;

/// Which signals a memory search ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Meaning and keywords, fused by reciprocal rank.
    #[default]
    Hybrid,
    /// Meaning only (the embedding model's vectors).
    Semantic,
    /// Keywords only (full text, BM25).
    Keyword,
}

impl SearchMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hybrid" => Some(SearchMode::Hybrid),
            "semantic" => Some(SearchMode::Semantic),
            "keyword" => Some(SearchMode::Keyword),
            _ => None,
        }
    }
}

/// `GET …/memory`: remembered exchanges, newest first (or best first for a query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemoryList {
    pub memory: Vec<MemoryItem>,
}
