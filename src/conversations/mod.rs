//! Conversations: a message to an employee and its answer, whole or streamed. Shared types
//! here; the prompt builder in `prompt`, the chat page in `chat` and its server functions in
//! `fns`, the turn itself (prepare, call the models, store) in `server`.

pub mod chat;
pub mod fns;
pub mod markdown;
pub mod prompt;
#[cfg(feature = "ssr")]
pub mod server;

use crate::core::sources::SourceRecord;
use crate::core::string_enum;
use crate::core::validate::Validator;
use crate::core::{AppError, InteractionId};
use crate::tools::{ToolCallRecord, ToolCallStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

string_enum!(
    /// How a stored turn ended: answered, or no model could answer (the message is kept).
    InteractionStatus { Completed => "completed", Failed => "failed" }
);

/// A message to an employee (`POST …/interact`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InteractionRequest {
    pub message: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub context: Option<Map<String, Value>>,
    /// Selects `specialized_models[task_type]` first when the employee has one.
    #[serde(default)]
    pub task_type: Option<String>,
    /// When the message was written, if not now (RFC 3339): a conversation replayed or brought
    /// from elsewhere keeps its own time, which becomes the exchange's time in memory (its date
    /// in recalled memories, its place in the history). Not in the future.
    #[serde(default)]
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// The model answers of the turn that asked for tools (their tokens are counted above).
    #[serde(default)]
    pub tool_rounds: u32,
}

/// The employee's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InteractionResponse {
    pub interaction_id: InteractionId,
    pub message: String,
    pub model: String,
    pub usage: Usage,
    pub latency_ms: u64,
    /// Earlier interactions given to the model as context.
    pub memories_used: Vec<InteractionId>,
    pub created_at: DateTime<Utc>,
    /// The answer was stopped (`…/interact/stop`) while it was being written: `message` is the
    /// text written until then.
    #[serde(default)]
    pub stopped: bool,
    /// The tools the employee called while answering, in order (none when it called none).
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRecord>,
    /// The passages of the client's knowledge the prompt carried (from the collections the
    /// employee's `knowledge_sources` name), numbered as the answer cites them (`[n]`), each
    /// with its document, chunk, score and whether the answer cites it.
    #[serde(default)]
    pub sources: Vec<SourceRecord>,
}

/// One line of a streamed chat answer as the chat page receives it (newline-delimited JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    Token(String),
    /// The model answering broke off and another takes over: the text sent so far is void.
    Restart(String),
    /// The model asked to call a tool (sent before the call runs).
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// A tool call ended: how, and the start of its result.
    ToolResult {
        id: String,
        name: String,
        status: ToolCallStatus,
        summary: String,
    },
    Done(InteractionResponse),
    Error(AppError),
}

impl ChatEvent {
    /// The event as one line of JSON with every non-ASCII character escaped, so that however the
    /// transport splits the stream, each piece is valid UTF-8.
    pub fn to_line(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned());
        let mut out = String::with_capacity(json.len() + 1);
        for c in json.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
        out.push('\n');
        out
    }

    /// Splits complete lines off the front of `buffer` and parses them; a partial last line
    /// stays in the buffer for the next piece.
    pub fn drain_lines(buffer: &mut String) -> Vec<Result<ChatEvent, String>> {
        let mut events = Vec::new();
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim();
            if !line.is_empty() {
                events.push(serde_json::from_str(line).map_err(|e| e.to_string()));
            }
        }
        events
    }
}

pub const MAX_MESSAGE_CHARS: usize = 16_000;
pub const MAX_CONTEXT_BYTES: usize = 8_192;

/// Checks a message to an employee (at most `max_chars` characters, never more than
/// `MAX_MESSAGE_CHARS`); returns the trimmed message and the task type.
pub fn validate_request(
    req: &InteractionRequest,
    max_chars: usize,
) -> Result<(String, Option<String>), AppError> {
    let max_chars = max_chars.min(MAX_MESSAGE_CHARS);
    let mut v = Validator::new();
    let message = req.message.trim().to_owned();
    if message.is_empty() {
        v.error("message", "is required");
    } else if message.contains('\0') {
        v.error("message", "must not contain NUL characters (\\u0000)");
    } else if message.chars().count() > max_chars {
        v.error("message", format!("must be at most {max_chars} characters"));
    }
    if let Some(ctx) = &req.context {
        if let Some(path) = crate::core::nul_path_in(ctx) {
            v.error(
                format!("context.{path}"),
                "must not contain NUL characters (\\u0000)",
            );
        } else if serde_json::to_vec(ctx)
            .map(|b| b.len())
            .unwrap_or(usize::MAX)
            > MAX_CONTEXT_BYTES
        {
            v.error(
                "context",
                format!("must be at most {MAX_CONTEXT_BYTES} bytes of JSON"),
            );
        }
    }
    let task = req.task_type.as_deref().map(|t| v.slug("task_type", t));
    v.finish((message, task))
}

#[cfg(test)]
mod chat_event_tests {
    use super::*;

    #[test]
    fn lines_are_ascii_and_survive_any_split() {
        let events = [
            ChatEvent::Token("Olá — ça va? 👍".into()),
            ChatEvent::Error(AppError::bad_request("no")),
        ];
        let wire: String = events.iter().map(ChatEvent::to_line).collect();
        assert!(wire.is_ascii());
        // Feed the wire one byte at a time: only whole lines come out, in order.
        let mut buffer = String::new();
        let mut got = Vec::new();
        for b in wire.bytes() {
            buffer.push(b as char);
            got.extend(ChatEvent::drain_lines(&mut buffer));
        }
        let got: Vec<ChatEvent> = got.into_iter().map(|e| e.expect("parses")).collect();
        assert_eq!(got, events);
        assert!(buffer.is_empty());
    }
}
