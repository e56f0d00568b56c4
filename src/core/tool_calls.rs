//! A tool call as a turn records it. Its own module under `core` because three features carry
//! it (conversations store and stream it, memory shows it in the chat's history, tools make
//! it) and none of them may import another that imports it back.

use super::string_enum;
use serde::{Deserialize, Serialize};
use serde_json::Value;

string_enum!(
    /// How one tool call ended. `refused`: the tool is not offered to this employee (never
    /// run); `invalid_arguments`: the arguments did not match the tool's schema (never run);
    /// `error`: the tool answered with an error or could not be reached; `timeout`: no answer
    /// within its time.
    ToolCallStatus {
        Ok => "ok",
        Error => "error",
        Timeout => "timeout",
        Refused => "refused",
        InvalidArguments => "invalid_arguments"
    }
);

/// One tool call of a turn, as stored with it and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolCallRecord {
    /// The model's id for the call.
    pub id: String,
    pub tool: String,
    /// The arguments the model sent (as text when they were not JSON).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub arguments: Value,
    pub status: ToolCallStatus,
    /// Which of the turn's model calls asked for it (1 for the first).
    pub round: u32,
    pub duration_ms: u64,
    /// The size of the whole result, in bytes.
    pub result_bytes: u64,
    /// The start of the result (or why there is none), at most `RESULT_EXCERPT_CHARS`.
    pub result_excerpt: String,
}

/// How much of a tool's result is kept with the turn.
pub const RESULT_EXCERPT_CHARS: usize = 500;
