//! The model router. Every provider speaks the OpenAI wire protocol (through `async-openai`),
//! so OpenAI, vLLM, Ollama, llama.cpp's server or LiteLLM work by configuration alone.
//!
//! For one request the router tries, in order: the model for the request's task type (when the
//! employee names one), the primary model, then the fallbacks — keeping only the client's
//! allowed models. Every call is a stream (a whole answer is the stream collected), bounded three
//! ways: the time to the first token (`Timeouts::first_token`, so a hung provider is left within
//! seconds), the silence between two pieces, and the whole call. Opening a call is retried by
//! async-openai's own retry layer (up to 3 retries on 429 other than insufficient_quota, on 5xx
//! and on connection errors, honouring `Retry-After`, else backing off 100 ms · 2ⁿ). Any other
//! error moves on to the next model. A stream that ends before its final event (a
//! `finish_reason`) was cut off and counts as a failure like any other: never as an answer. A
//! model that keeps failing on the provider's side (5xx, 408, 429, timeouts, connections, cut-off
//! answers) is skipped for a while by its circuit breaker; a request the provider refuses (any
//! other 4xx) moves on to the next model without counting, and only a finished answer counts as
//! a success. Model output reaches callers sanitised (`Chunk::sanitized`).
//!
//! The `local` provider (kind `local`) is SmolLM2 running in-process (see `local.rs`); it goes
//! through the same candidate loop, breaker and timeout as the remote ones.
//!
//! The router knows models and messages, never employees: `candidates` takes the preferences
//! as plain lists.

use super::breaker::Breakers;
use super::local::LocalChat;
use super::openai::{self, OpenAiClient};
use super::types::{
    ChatRequest, Chunk, ChunkStream, Completion, Failure, OpenStream, ProviderConfig, ProviderKind,
};
use crate::core::AppError;
use futures::StreamExt;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a call to a model may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The whole call, first token to last.
    pub whole: Duration,
    /// Until the first token of a remote model (a provider may set its own).
    pub first_token: Duration,
    /// The longest silence between two pieces of an answer.
    pub idle: Duration,
}

/// How a model is reached.
enum Endpoint<'a> {
    Remote(&'a OpenAiClient),
    Local(&'a LocalChat),
}

pub struct ModelRouter {
    providers: Vec<(ProviderConfig, Option<OpenAiClient>)>,
    local: Option<LocalChat>,
    breakers: Arc<Breakers>,
    timeouts: Timeouts,
}

/// The models to try, in order, for a request (see the module documentation): the one for the
/// task type, the primary, then the fallbacks, keeping only allowed models, each once.
pub fn candidates(
    primary: &str,
    fallbacks: &[String],
    specialized: &BTreeMap<String, String>,
    task_type: Option<&str>,
    allowed: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let specialised = task_type.and_then(|t| specialized.get(t));
    for m in specialised
        .into_iter()
        .map(String::as_str)
        .chain([primary])
        .chain(fallbacks.iter().map(String::as_str))
    {
        if allowed.iter().any(|a| a == m) && !out.iter().any(|o| o == m) {
            out.push(m.to_owned());
        }
    }
    out
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
        timeouts: Timeouts,
        local: Option<LocalChat>,
    ) -> Self {
        let providers = providers
            .into_iter()
            .map(|p| {
                let client = match (p.kind, &p.api_key) {
                    (ProviderKind::Openai, Some(key)) => {
                        Some(openai::client(&p.base_url, key.expose_secret()))
                    }
                    _ => None,
                };
                (p, client)
            })
            .collect();
        ModelRouter {
            providers,
            local,
            breakers: Arc::default(),
            timeouts,
        }
    }

    fn provider_of(&self, model: &str) -> Option<&(ProviderConfig, Option<OpenAiClient>)> {
        self.providers
            .iter()
            .find(|(p, _)| p.models.iter().any(|m| m == model))
    }

    /// Tries each candidate in turn; the first whole answer wins (a model whose answer breaks
    /// off hands over to the next). When every model fails the error says why for each.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Completion, AppError> {
        let mut models: &[String] = &req.models;
        let mut reasons = Vec::new();
        loop {
            let open = self.open_among(models, req, &mut reasons).await?;
            let model = open.model.clone();
            match collect(open).await {
                Ok(answer) => return Ok(answer),
                Err(reason) => reasons.push(format!("{model}: {reason}")),
            }
            models = after(models, &model);
            if models.is_empty() {
                return Err(all_failed(&reasons));
            }
        }
    }

    /// Like `complete`, streamed. The stream opens once a model's first token arrives; until
    /// then a failure moves on to the next model, as in `complete`. Should the stream break off
    /// later, `open_stream_after` opens the next models' one.
    pub async fn open_stream(&self, req: &ChatRequest) -> Result<OpenStream, AppError> {
        self.open_among(&req.models, req, &mut Vec::new()).await
    }

    /// The stream of the first model after `failed` in the request's order that answers.
    pub async fn open_stream_after(
        &self,
        req: &ChatRequest,
        failed: &str,
    ) -> Result<OpenStream, AppError> {
        let models = after(&req.models, failed);
        if models.is_empty() {
            return Err(AppError::Unavailable {
                message: "no other model could take over".into(),
            });
        }
        self.open_among(models, req, &mut Vec::new()).await
    }

    /// Each configured model and whether it is being called (`up`) or skipped after repeated
    /// failures (`down`), for `/readyz`.
    pub fn model_states(&self) -> BTreeMap<String, &'static str> {
        self.providers
            .iter()
            .filter(|(p, client)| client.is_some() || p.kind == ProviderKind::Local)
            .flat_map(|(p, _)| p.models.iter())
            .map(|m| {
                let up = !self.breakers.is_open(m);
                (m.clone(), if up { "up" } else { "down" })
            })
            .collect()
    }

    /// The stream of the first of `models` whose first token arrives in time.
    async fn open_among(
        &self,
        models: &[String],
        req: &ChatRequest,
        reasons: &mut Vec<String>,
    ) -> Result<OpenStream, AppError> {
        self.first_answer(models, &req.tenant, reasons, |model| async move {
            let (endpoint, first_token) = self.endpoint_for(&model, &req.tenant)?;
            let started = Instant::now();
            let opening = self.first_piece(endpoint, &model, req);
            let (first, rest) = tokio::time::timeout(first_token, opening)
                .await
                .map_err(|_| format!("no first token within {first_token:?}"))??;
            if first.finished {
                self.breakers.record(&model, &req.tenant, true);
            }
            let guard = Guard {
                model: model.clone(),
                tenant: req.tenant.clone(),
                breakers: self.breakers.clone(),
                idle: self.timeouts.idle,
                deadline: started + self.timeouts.whole,
                finished: first.finished,
                over: false,
                rest,
            };
            Ok(OpenStream {
                model,
                first,
                rest: guard.into_stream(),
            })
        })
        .await
    }

    /// Opens a call and reads it up to its first piece of answer (text, or the end of an empty
    /// answer): the role-only piece some providers send at once is not an answer yet.
    async fn first_piece(
        &self,
        endpoint: Endpoint<'_>,
        model: &str,
        req: &ChatRequest,
    ) -> Result<(Chunk, ChunkStream), Failure> {
        let mut rest = match endpoint {
            Endpoint::Remote(client) => openai::stream(client, model, req).await?,
            Endpoint::Local(local) => local.stream(req)?,
        };
        let mut usage = None;
        loop {
            match rest.next().await {
                Some(Ok(c)) => {
                    let c = c.sanitized();
                    usage = c.usage.or(usage);
                    if !c.text.is_empty() || c.finished {
                        return Ok((Chunk { usage, ..c }, rest));
                    }
                }
                Some(Err(e)) => return Err(Failure::Failed(e)),
                None => return Err(Failure::Failed("the stream ended before any answer".into())),
            }
        }
    }

    /// Tries `attempt` on each candidate model in turn; the first success wins. Every failure
    /// of a model that was actually called feeds its circuit breaker (its success is counted
    /// when its answer finishes); every failure is logged and named in the error when all fail.
    async fn first_answer<T, F, Fut>(
        &self,
        models: &[String],
        tenant: &str,
        reasons: &mut Vec<String>,
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
        for model in models {
            let started = std::time::Instant::now();
            let outcome = attempt(model.clone()).await;
            let outcome_label = match &outcome {
                Ok(_) => "ok",
                Err(Failure::Failed(_)) => "failed",
                Err(Failure::Refused(_)) => "refused",
                Err(Failure::Skipped(_)) => "skipped",
            };
            metrics::histogram!("model_call_duration_seconds", "model" => model.clone(), "outcome" => outcome_label)
                .record(started.elapsed().as_secs_f64());
            let reason = match outcome {
                Ok(answer) => return Ok(answer),
                Err(Failure::Failed(reason)) => {
                    self.breakers.record(model, tenant, false);
                    reason
                }
                Err(Failure::Skipped(reason)) | Err(Failure::Refused(reason)) => reason,
            };
            tracing::warn!(model, "model failed: {reason}");
            reasons.push(format!("{model}: {reason}"));
        }
        Err(all_failed(reasons))
    }

    /// How to reach a model and how long its first token may take, or why it cannot be called
    /// now.
    fn endpoint_for(&self, model: &str, tenant: &str) -> Result<(Endpoint<'_>, Duration), Failure> {
        let Some((provider, client)) = self.provider_of(model) else {
            return Err(Failure::Skipped("no provider offers this model".into()));
        };
        if self.breakers.is_open_for(model, tenant) {
            return Err(Failure::Skipped(
                "skipped: circuit breaker open after repeated failures".into(),
            ));
        }
        if provider.kind == ProviderKind::Local {
            // Its first token waits for the prompt to be read, which grows with the prompt.
            let local = self.local.as_ref().ok_or_else(|| {
                Failure::Skipped("the local model runtime is not running".to_owned())
            })?;
            return Ok((Endpoint::Local(local), self.timeouts.whole));
        }
        let Some(client) = client else {
            return Err(Failure::Skipped(match &provider.api_key_env {
                Some(var) => format!("provider {} is not configured (set {var})", provider.name),
                None => format!("provider {} is not configured", provider.name),
            }));
        };
        let first_token = provider
            .first_token_seconds
            .map_or(self.timeouts.first_token, Duration::from_secs);
        Ok((
            Endpoint::Remote(client),
            first_token.min(self.timeouts.whole),
        ))
    }
}

/// The models after `failed` in `models` (none when it is not there).
fn after<'m>(models: &'m [String], failed: &str) -> &'m [String] {
    models
        .iter()
        .position(|m| m == failed)
        .map_or(&[], |i| &models[i + 1..])
}

/// The rest of an answer after its first token: each piece sanitised, each wait bounded by the
/// idle limit and the call's deadline, and an end before the final event turned into an error.
/// Its outcome feeds the model's breaker.
struct Guard {
    model: String,
    tenant: String,
    breakers: Arc<Breakers>,
    idle: Duration,
    deadline: Instant,
    finished: bool,
    over: bool,
    rest: ChunkStream,
}

impl Guard {
    fn into_stream(self) -> ChunkStream {
        futures::stream::unfold(self, |mut g| async move {
            if g.over {
                return None;
            }
            let wait = g
                .idle
                .min(g.deadline.saturating_duration_since(Instant::now()));
            let failure = match tokio::time::timeout(wait, g.rest.next()).await {
                Ok(Some(Ok(c))) => {
                    let c = c.sanitized();
                    if c.finished && !g.finished {
                        g.finished = true;
                        g.breakers.record(&g.model, &g.tenant, true);
                    }
                    return Some((Ok(c), g));
                }
                Ok(None) => "the answer ended before its final event".to_owned(),
                Ok(Some(Err(e))) => format!("the answer was cut off: {e}"),
                Err(_) if Instant::now() >= g.deadline => "the answer took too long".to_owned(),
                Err(_) => format!("the answer stalled for {:?}", g.idle),
            };
            g.over = true;
            if g.finished {
                // The answer is whole; only its usage or the end marker went missing.
                return None;
            }
            g.breakers.record(&g.model, &g.tenant, false);
            tracing::warn!(model = %g.model, "{failure}");
            Some((Err(failure), g))
        })
        .boxed()
    }
}

/// A whole answer: an opened stream, read to its end.
async fn collect(open: OpenStream) -> Result<Completion, String> {
    let OpenStream {
        model,
        first,
        mut rest,
    } = open;
    let mut answer = Completion {
        text: first.text,
        model,
        prompt_tokens: 0,
        completion_tokens: 0,
        tool_calls: first.tool_calls,
    };
    let mut usage = first.usage;
    while let Some(chunk) = rest.next().await {
        let chunk = chunk?;
        answer.text.push_str(&chunk.text);
        answer.tool_calls.extend(chunk.tool_calls);
        usage = chunk.usage.or(usage);
    }
    if let Some((p, c)) = usage {
        (answer.prompt_tokens, answer.completion_tokens) = (p, c);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(task: Option<&str>, allowed: &[String]) -> Vec<String> {
        let fallbacks = vec!["b".to_string(), "c".to_string()];
        let specialized = [("code".to_string(), "d".to_string())]
            .into_iter()
            .collect();
        candidates("a", &fallbacks, &specialized, task, allowed)
    }

    #[test]
    fn candidates_follow_task_primary_fallbacks_and_only_allowed_models() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(pick(None, &all), ["a", "b", "c"]);
        assert_eq!(pick(Some("code"), &all), ["d", "a", "b", "c"]);
        assert_eq!(pick(Some("other"), &all), ["a", "b", "c"]);
        let some: Vec<String> = vec!["c".into(), "d".into()];
        assert_eq!(pick(Some("code"), &some), ["d", "c"]);
        assert!(pick(None, &[]).is_empty());
    }
}
