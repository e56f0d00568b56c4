//! What the model router is asked and what it answers.

use futures::stream::BoxStream;
use secrecy::SecretString;
use serde::Deserialize;

/// How a provider is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any endpoint speaking the OpenAI wire protocol (OpenAI, vLLM, Ollama, LiteLLM…).
    Openai,
    /// The built-in model, in-process.
    Local,
}

/// A provider as resolved at start-up (settings + environment).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    /// `None` when the provider's key variable is unset: its models are then unavailable.
    pub api_key: Option<SecretString>,
    pub api_key_env: Option<String>,
    pub models: Vec<String>,
    pub embedding_models: Vec<String>,
    /// Overrides `limits.model_first_token_seconds` for this provider's models (reasoning
    /// models may think for a while before their first token).
    pub first_token_seconds: Option<u64>,
}

/// A tool the model asked to call (function calling): its call id, name and JSON arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A tool offered to the model (OpenAI's `tools`, type `function`): its name, what it does and
/// the JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// One message of the conversation sent to a model.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    System(String),
    User(String),
    /// An earlier answer of the model, with the tools it asked to call.
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result, answering the model's call `call_id`.
    Tool {
        call_id: String,
        text: String,
    },
}

impl ChatMessage {
    /// An earlier answer that called no tool.
    pub fn assistant(text: impl Into<String>) -> Self {
        ChatMessage::Assistant {
            text: text.into(),
            tool_calls: Vec::new(),
        }
    }

    /// The role and text, as a plain chat template needs them.
    pub fn role_and_text(&self) -> (&'static str, &str) {
        match self {
            ChatMessage::System(t) => ("system", t),
            ChatMessage::User(t) => ("user", t),
            ChatMessage::Assistant { text, .. } => ("assistant", text),
            ChatMessage::Tool { text, .. } => ("tool", text),
        }
    }
}

/// One request to the router: the models to try, in order, and what to send each.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Whose request this is (the client's id): the circuit breakers count failures per tenant.
    pub tenant: String,
    pub models: Vec<String>,
    pub messages: Vec<ChatMessage>,
    pub temperature: f64,
    pub max_tokens: u32,
    /// The tools the model may ask to call (none: it is offered no tools).
    pub tools: Vec<ToolSpec>,
    /// The tools stay described but the model may not call them now (`tool_choice: none`):
    /// the turn's last round, which must answer.
    pub tools_closed: bool,
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// The tools the model asked to call instead of (or after) answering.
    pub tool_calls: Vec<ToolCall>,
}

/// A piece of a streamed answer: text, the token usage when the provider reports it, and
/// whether this is the answer's final event (OpenAI's `finish_reason`, the local model's end).
/// A stream that ends before its final event was cut off: the router treats it as a failure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub usage: Option<(u32, u32)>,
    pub finished: bool,
    /// The tools the model asked to call, whole: on the answer's final event only (a provider
    /// streams them in pieces, which are put together before they are handed on).
    pub tool_calls: Vec<ToolCall>,
}

impl Chunk {
    /// Model output as it may be stored and shown: NUL characters (which Postgres text cannot
    /// hold and no reader wants) removed.
    pub fn sanitized(mut self) -> Self {
        if self.text.contains('\0') {
            self.text.retain(|c| c != '\0');
        }
        self
    }
}

pub type ChunkStream = BoxStream<'static, Result<Chunk, String>>;

/// A streamed answer that has started: its first chunk is in hand, the rest follows.
pub struct OpenStream {
    pub model: String,
    pub first: Chunk,
    pub rest: ChunkStream,
}

/// Why one model gave no answer.
pub enum Failure {
    /// Not called at all (no provider, breaker open, local queue full): says nothing about the
    /// model's health, so the breaker does not count it.
    Skipped(String),
    /// Called and failed on the provider's side (5xx, 408, 429, timeout, connection, a cut-off
    /// answer): counts towards the breaker.
    Failed(String),
    /// Called and refused this request (any other 4xx, e.g. one tenant's context too long):
    /// the next model is tried, but it says nothing about the model's health, so one tenant's
    /// requests cannot switch a model off for everyone.
    Refused(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Failed(reason)
    }
}
