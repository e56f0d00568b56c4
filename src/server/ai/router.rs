//! The model router. Every provider speaks the OpenAI wire protocol (through `async-openai`),
//! so OpenAI, vLLM, Ollama, llama.cpp's server or LiteLLM work by configuration alone.
//!
//! For one request the router tries, in order: the model for the request's task type (when the
//! employee names one), the primary model, then the fallbacks — keeping only the client's
//! allowed models. Each call is retried by async-openai's own retry layer (up to 3 retries on 429
//! other than insufficient_quota, on 5xx and on connection errors, honouring `Retry-After`, else
//! backing off 100 ms · 2ⁿ); the whole call is bounded by the configured timeout. Any other error
//! moves straight to the next model. A model that keeps failing is skipped for a while by its
//! circuit breaker.
//!
//! The `local` provider (kind `local`) is SmolLM2 running in-process (see `local.rs`); it goes
//! through the same candidate loop, breaker and timeout as the remote ones.

use super::local::{LocalChat, LocalEvent};
use crate::domain::{AppError, ModelPreferences};
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionStreamResponse,
};
use async_openai::Client;
use futures::stream::BoxStream;
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BREAKER_THRESHOLD: u32 = 5;
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(30);

/// A provider as resolved at start-up (settings + environment).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    /// `None` when the provider's key variable is unset: its models are then unavailable.
    pub api_key: Option<SecretString>,
    pub api_key_env: Option<String>,
    pub models: Vec<String>,
    pub embedding_models: Vec<String>,
}

/// One turn of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    System(String),
    User(String),
    Assistant(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// A piece of a streamed answer: text, and the token usage when the provider reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub usage: Option<(u32, u32)>,
}

pub type ChunkStream = BoxStream<'static, Result<Chunk, String>>;

/// A streamed answer that has started: its first chunk is in hand, the rest follows.
pub struct OpenStream {
    pub model: String,
    pub first: Chunk,
    pub rest: ChunkStream,
}

fn chunk_of(c: CreateChatCompletionStreamResponse) -> Chunk {
    Chunk {
        usage: c.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        text: c
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.delta.content)
            .unwrap_or_default(),
    }
}

/// The local model's events as chunks; usage comes with the last one.
fn local_chunks(rx: tokio::sync::mpsc::Receiver<LocalEvent>) -> ChunkStream {
    futures::stream::unfold(rx, |mut rx| async move {
        let item = match rx.recv().await? {
            LocalEvent::Text(text) => Ok(Chunk { text, usage: None }),
            LocalEvent::Done(g) => Ok(Chunk {
                text: String::new(),
                usage: Some((g.prompt_tokens, g.completion_tokens)),
            }),
            LocalEvent::Failed(e) => Err(e),
        };
        Some((item, rx))
    })
    .boxed()
}

/// Why one model gave no answer.
enum Failure {
    /// Not called at all (no provider, breaker open, local queue full): says nothing about the
    /// model's health, so the breaker does not count it.
    Skipped(String),
    /// Called and failed (error, timeout): counts towards the breaker.
    Failed(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Failed(reason)
    }
}

/// How a model is reached.
enum Endpoint<'a> {
    Remote(&'a Client<OpenAIConfig>),
    Local(&'a LocalChat),
}

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

pub struct ModelRouter {
    providers: Vec<(ProviderConfig, Option<Client<OpenAIConfig>>)>,
    local: Option<LocalChat>,
    breakers: Mutex<HashMap<String, Breaker>>,
    timeout: Duration,
}

/// The models to try, in order, for a request (see the module documentation).
pub fn candidates(
    prefs: &ModelPreferences,
    task_type: Option<&str>,
    allowed: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let specialised = task_type.and_then(|t| prefs.specialized_models.get(t));
    for m in specialised
        .into_iter()
        .chain([&prefs.primary_model])
        .chain(&prefs.fallback_models)
    {
        if allowed.contains(m) && !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

fn to_messages(turns: &[Turn]) -> Vec<ChatCompletionRequestMessage> {
    turns
        .iter()
        .map(|t| match t {
            Turn::System(s) => ChatCompletionRequestSystemMessage::from(s.as_str()).into(),
            Turn::User(s) => ChatCompletionRequestUserMessage::from(s.as_str()).into(),
            Turn::Assistant(s) => ChatCompletionRequestAssistantMessage::from(s.as_str()).into(),
        })
        .collect()
}

fn all_failed(reasons: &[String]) -> AppError {
    AppError::Unavailable {
        message: format!("no model could answer ({})", reasons.join("; ")),
    }
}

impl ModelRouter {
    /// `local` runs the models of `local` providers; without it they are unavailable.
    pub fn new(
        providers: Vec<ProviderConfig>,
        timeout: Duration,
        local: Option<LocalChat>,
    ) -> Self {
        let providers = providers
            .into_iter()
            .map(|p| {
                let client = match (p.kind.as_str(), &p.api_key) {
                    ("openai", Some(key)) => Some(Client::with_config(
                        OpenAIConfig::new()
                            .with_api_base(p.base_url.clone())
                            .with_api_key(key.expose_secret()),
                    )),
                    _ => None,
                };
                (p, client)
            })
            .collect();
        ModelRouter {
            providers,
            local,
            breakers: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn provider_of(&self, model: &str) -> Option<&(ProviderConfig, Option<Client<OpenAIConfig>>)> {
        self.providers
            .iter()
            .find(|(p, _)| p.models.iter().any(|m| m == model))
    }

    fn breaker_open(&self, model: &str) -> bool {
        let Ok(map) = self.breakers.lock() else {
            return false;
        };
        map.get(model)
            .and_then(|b| b.open_until)
            .is_some_and(|t| Instant::now() < t)
    }

    fn record(&self, model: &str, ok: bool) {
        let Ok(mut map) = self.breakers.lock() else {
            return;
        };
        let b = map.entry(model.to_owned()).or_default();
        if ok {
            *b = Breaker::default();
        } else {
            b.consecutive_failures += 1;
            if b.consecutive_failures >= BREAKER_THRESHOLD {
                b.open_until = Some(Instant::now() + BREAKER_OPEN_FOR);
                b.consecutive_failures = 0;
                tracing::warn!(model, "circuit breaker open for {:?}", BREAKER_OPEN_FOR);
            }
        }
    }

    /// Tries each candidate in turn; the first answer wins. When every model fails the error
    /// says why for each.
    pub async fn complete(
        &self,
        models: &[String],
        turns: &[Turn],
        temperature: f64,
        max_tokens: u32,
    ) -> Result<Completion, AppError> {
        let messages = to_messages(turns);
        self.first_answer(models, |model| {
            let messages = &messages;
            async move {
                self.try_model(&model, turns, messages, temperature, max_tokens)
                    .await
            }
        })
        .await
    }

    /// Like `complete`, streamed. A model counts as answering once its first chunk arrives;
    /// until then a failure moves on to the next model, as in `complete`.
    pub async fn open_stream(
        &self,
        models: &[String],
        turns: &[Turn],
        temperature: f64,
        max_tokens: u32,
    ) -> Result<OpenStream, AppError> {
        let messages = to_messages(turns);
        self.first_answer(models, |model| {
            let messages = &messages;
            async move {
                self.try_stream(&model, turns, messages, temperature, max_tokens)
                    .await
            }
        })
        .await
    }

    /// Tries `attempt` on each candidate model in turn; the first success wins. Every outcome
    /// of a model that was actually called feeds its circuit breaker; every failure is logged
    /// and named in the error when all fail.
    async fn first_answer<T, F, Fut>(
        &self,
        models: &[String],
        mut attempt: F,
    ) -> Result<T, AppError>
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        if models.is_empty() {
            return Err(AppError::Unavailable {
                message: "this employee has no model the client may use".into(),
            });
        }
        let mut reasons = Vec::new();
        for model in models {
            let reason = match attempt(model.clone()).await {
                Ok(answer) => {
                    self.record(model, true);
                    return Ok(answer);
                }
                Err(Failure::Failed(reason)) => {
                    self.record(model, false);
                    reason
                }
                Err(Failure::Skipped(reason)) => reason,
            };
            tracing::warn!(model, "model failed: {reason}");
            reasons.push(format!("{model}: {reason}"));
        }
        Err(all_failed(&reasons))
    }

    /// Opens a stream from one model: it counts as answering once its first chunk arrives.
    async fn try_stream(
        &self,
        model: &str,
        turns: &[Turn],
        messages: &[ChatCompletionRequestMessage],
        temperature: f64,
        max_tokens: u32,
    ) -> Result<OpenStream, Failure> {
        let mut rest: ChunkStream = match self.endpoint_for(model)? {
            Endpoint::Remote(client) => {
                let request = CreateChatCompletionRequest {
                    model: model.to_owned(),
                    messages: messages.to_vec(),
                    temperature: Some(temperature as f32),
                    max_completion_tokens: Some(max_tokens),
                    stream_options: Some(ChatCompletionStreamOptions {
                        include_usage: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                match tokio::time::timeout(self.timeout, client.chat().create_stream(request)).await
                {
                    Ok(Ok(s)) => s
                        .map(|c| c.map(chunk_of).map_err(|e| e.to_string()))
                        .boxed(),
                    Ok(Err(e)) => return Err(e.to_string().into()),
                    Err(_) => return Err(format!("timed out after {:?}", self.timeout).into()),
                }
            }
            Endpoint::Local(local) => self.local_stream(local, turns, temperature, max_tokens)?,
        };
        let first = tokio::time::timeout(self.timeout, rest.next())
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))?;
        match first {
            Some(Ok(first)) => Ok(OpenStream {
                model: model.to_owned(),
                first,
                rest,
            }),
            Some(Err(e)) => Err(e.into()),
            None => Err("the stream ended before any answer".to_owned().into()),
        }
    }

    /// Queues a generation on the local model; a full queue skips the model.
    fn local_stream(
        &self,
        local: &LocalChat,
        turns: &[Turn],
        temperature: f64,
        max_tokens: u32,
    ) -> Result<ChunkStream, Failure> {
        local
            .submit(turns, max_tokens, temperature)
            .map(local_chunks)
            .map_err(Failure::Skipped)
    }

    /// How to reach a model, or why it cannot be called now.
    fn endpoint_for(&self, model: &str) -> Result<Endpoint<'_>, Failure> {
        let Some((provider, client)) = self.provider_of(model) else {
            return Err(Failure::Skipped("no provider offers this model".into()));
        };
        if self.breaker_open(model) {
            return Err(Failure::Skipped(
                "skipped: circuit breaker open after repeated failures".into(),
            ));
        }
        if provider.kind == "local" {
            return self.local.as_ref().map(Endpoint::Local).ok_or_else(|| {
                Failure::Skipped("the local model runtime is not running".to_owned())
            });
        }
        let Some(client) = client else {
            return Err(Failure::Skipped(
                match (provider.kind.as_str(), &provider.api_key_env) {
                    (_, Some(var)) => {
                        format!("provider {} is not configured (set {var})", provider.name)
                    }
                    _ => format!("provider {} is not configured", provider.name),
                },
            ));
        };
        Ok(Endpoint::Remote(client))
    }

    /// A whole answer from the local model: its stream, collected.
    async fn local_answer(
        &self,
        local: &LocalChat,
        model: &str,
        turns: &[Turn],
        temperature: f64,
        max_tokens: u32,
    ) -> Result<Completion, Failure> {
        let mut chunks = self.local_stream(local, turns, temperature, max_tokens)?;
        let collect = async {
            let mut answer = Completion {
                text: String::new(),
                model: model.to_owned(),
                prompt_tokens: 0,
                completion_tokens: 0,
            };
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                answer.text.push_str(&chunk.text);
                if let Some((p, c)) = chunk.usage {
                    (answer.prompt_tokens, answer.completion_tokens) = (p, c);
                    return Ok(answer);
                }
            }
            Err("the local model stopped without an answer".to_owned())
        };
        Ok(tokio::time::timeout(self.timeout, collect)
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))??)
    }

    async fn try_model(
        &self,
        model: &str,
        turns: &[Turn],
        messages: &[ChatCompletionRequestMessage],
        temperature: f64,
        max_tokens: u32,
    ) -> Result<Completion, Failure> {
        let client = match self.endpoint_for(model)? {
            Endpoint::Remote(client) => client,
            Endpoint::Local(local) => {
                return self
                    .local_answer(local, model, turns, temperature, max_tokens)
                    .await
            }
        };
        let request = CreateChatCompletionRequest {
            model: model.to_owned(),
            messages: messages.to_vec(),
            temperature: Some(temperature as f32),
            max_completion_tokens: Some(max_tokens),
            ..Default::default()
        };
        let call = tokio::time::timeout(self.timeout, client.chat().create(request)).await;
        match call {
            Ok(Ok(resp)) => {
                let text = resp
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.message.content)
                    .unwrap_or_default();
                let (prompt_tokens, completion_tokens) = resp
                    .usage
                    .map(|u| (u.prompt_tokens, u.completion_tokens))
                    .unwrap_or((0, 0));
                Ok(Completion {
                    text,
                    model: model.to_owned(),
                    prompt_tokens,
                    completion_tokens,
                })
            }
            Ok(Err(e)) => Err(e.to_string().into()),
            Err(_) => Err(format!("timed out after {:?}", self.timeout).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs() -> ModelPreferences {
        ModelPreferences {
            primary_model: "a".into(),
            fallback_models: vec!["b".into(), "c".into()],
            temperature: 0.5,
            max_tokens: 100,
            specialized_models: [("code".to_string(), "d".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn candidates_follow_task_primary_fallbacks_and_only_allowed_models() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(candidates(&prefs(), None, &all), ["a", "b", "c"]);
        assert_eq!(
            candidates(&prefs(), Some("code"), &all),
            ["d", "a", "b", "c"]
        );
        assert_eq!(candidates(&prefs(), Some("other"), &all), ["a", "b", "c"]);
        let some: Vec<String> = vec!["c".into(), "d".into()];
        assert_eq!(candidates(&prefs(), Some("code"), &some), ["d", "c"]);
        assert!(candidates(&prefs(), None, &[]).is_empty());
    }
}
