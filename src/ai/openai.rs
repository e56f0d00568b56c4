//! Providers that speak the OpenAI wire protocol, through `async-openai`. Opening a call is
//! retried by async-openai's own retry layer (on 429 other than insufficient_quota, on 5xx and
//! on connection errors, honouring `Retry-After`, else backing off 100 ms · 2ⁿ); the router
//! bounds it.

use super::types::{ChatMessage, ChatRequest, Chunk, ChunkStream, Failure, ToolCall};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, ChatCompletionTool, ChatCompletionToolChoiceOption,
    ChatCompletionTools, CreateChatCompletionRequest, CreateChatCompletionStreamResponse,
    FunctionObject, ToolChoiceOptions,
};
use async_openai::Client;
use futures::StreamExt;

pub type OpenAiClient = Client<OpenAIConfig>;

pub fn client(base_url: &str, api_key: &str) -> OpenAiClient {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(api_key),
    )
}

fn to_messages(messages: &[ChatMessage]) -> Vec<ChatCompletionRequestMessage> {
    messages
        .iter()
        .map(|m| match m {
            ChatMessage::System(s) => ChatCompletionRequestSystemMessage::from(s.as_str()).into(),
            ChatMessage::User(s) => ChatCompletionRequestUserMessage::from(s.as_str()).into(),
            ChatMessage::Assistant { text, tool_calls } => {
                let mut a = ChatCompletionRequestAssistantMessage::from(text.as_str());
                if !tool_calls.is_empty() {
                    a.tool_calls = Some(
                        tool_calls
                            .iter()
                            .map(|c| {
                                ChatCompletionMessageToolCalls::Function(
                                    async_openai::types::chat::ChatCompletionMessageToolCall {
                                        id: c.id.clone(),
                                        function: async_openai::types::chat::FunctionCall {
                                            name: c.name.clone(),
                                            arguments: c.arguments.clone(),
                                        },
                                    },
                                )
                            })
                            .collect(),
                    );
                }
                a.into()
            }
            ChatMessage::Tool { call_id, text } => ChatCompletionRequestToolMessage {
                content: text.as_str().into(),
                tool_call_id: call_id.clone(),
            }
            .into(),
        })
        .collect()
}

fn request(model: &str, req: &ChatRequest) -> CreateChatCompletionRequest {
    let tools = (!req.tools.is_empty()).then(|| {
        req.tools
            .iter()
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name.clone(),
                        description: Some(t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                        strict: None,
                    },
                })
            })
            .collect()
    });
    let tool_choice = (!req.tools.is_empty()).then_some(ChatCompletionToolChoiceOption::Mode(
        if req.tools_closed {
            ToolChoiceOptions::None
        } else {
            ToolChoiceOptions::Auto
        },
    ));
    CreateChatCompletionRequest {
        model: model.to_owned(),
        messages: to_messages(&req.messages),
        temperature: Some(req.temperature as f32),
        max_completion_tokens: Some(req.max_tokens),
        tools,
        tool_choice,
        ..Default::default()
    }
}

/// The tool calls of an answer as they stream in: each arrives in pieces under its index (the
/// first piece with its id and name, then fragments of its arguments).
#[derive(Default)]
struct ToolCallParts {
    calls: Vec<ToolCall>,
}

impl ToolCallParts {
    fn add(&mut self, c: &CreateChatCompletionStreamResponse) {
        let Some(parts) = c.choices.first().and_then(|c| c.delta.tool_calls.as_ref()) else {
            return;
        };
        for p in parts {
            let i = p.index as usize;
            if i >= 128 {
                continue;
            }
            while self.calls.len() <= i {
                self.calls.push(ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
            }
            let call = &mut self.calls[i];
            if let Some(id) = &p.id {
                call.id.push_str(id);
            }
            if let Some(f) = &p.function {
                if let Some(n) = &f.name {
                    call.name.push_str(n);
                }
                if let Some(a) = &f.arguments {
                    call.arguments.push_str(a);
                }
            }
        }
    }
}

fn chunk_of(c: CreateChatCompletionStreamResponse, parts: &mut ToolCallParts) -> Chunk {
    parts.add(&c);
    let choice = c.choices.into_iter().next();
    // The answer's end: its finish reason, or the usage that only comes after it (some
    // OpenAI-compatible servers omit the former).
    let finished = c.usage.is_some() || choice.as_ref().is_some_and(|c| c.finish_reason.is_some());
    Chunk {
        finished,
        usage: c.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        text: choice.and_then(|c| c.delta.content).unwrap_or_default(),
        // Handed on once, whole, with the first final event.
        tool_calls: if finished {
            std::mem::take(&mut parts.calls)
        } else {
            Vec::new()
        },
    }
}

/// Opens a streamed answer from `model`, with usage in its last chunk. The router bounds the
/// time to the first token, the silences between pieces and the whole call; a whole answer is
/// this stream collected, so both kinds of call are bounded the same way.
pub async fn stream(
    client: &OpenAiClient,
    model: &str,
    req: &ChatRequest,
) -> Result<ChunkStream, Failure> {
    let mut req = request(model, req);
    req.stream_options = Some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    // What the provider said is logged here, whole; callers (and so tenants) get a summary that
    // names no address or internal detail of the provider.
    let model = model.to_owned();
    let mut parts = ToolCallParts::default();
    match client.chat().create_stream(req).await {
        Ok(s) => Ok(s
            .map(move |c| {
                c.map(|c| chunk_of(c, &mut parts)).map_err(|e| {
                    tracing::warn!(model, "the provider's stream failed: {e}");
                    "the provider's stream failed".to_owned()
                })
            })
            .boxed()),
        Err(OpenAIError::ApiError(e)) => {
            let status = e.status_code.as_u16();
            tracing::warn!(model, status, "the provider answered with an error: {e}");
            let summary = format!("the provider answered {status}");
            if e.status_code.is_client_error() && !matches!(status, 408 | 429) {
                Err(Failure::Refused(summary))
            } else {
                Err(Failure::Failed(summary))
            }
        }
        Err(e) => {
            tracing::warn!(model, "the provider could not be reached: {e}");
            Err(Failure::Failed("the provider could not be reached".into()))
        }
    }
}
