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
//!
//! The router knows models and messages, never employees: `candidates` takes the preferences
//! as plain lists.

use super::breaker::Breakers;
use super::local::LocalChat;
use super::openai::{self, OpenAiClient};
use super::types::{ChatRequest, Completion, Failure, OpenStream, ProviderConfig, ProviderKind};
use crate::core::AppError;
use futures::StreamExt;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::time::Duration;

/// How a model is reached.
enum Endpoint<'a> {
    Remote(&'a OpenAiClient),
    Local(&'a LocalChat),
}

pub struct ModelRouter {
    providers: Vec<(ProviderConfig, Option<OpenAiClient>)>,
    local: Option<LocalChat>,
    breakers: Breakers,
    timeout: Duration,
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
        timeout: Duration,
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
            breakers: Breakers::default(),
            timeout,
        }
    }

    fn provider_of(&self, model: &str) -> Option<&(ProviderConfig, Option<OpenAiClient>)> {
        self.providers
            .iter()
            .find(|(p, _)| p.models.iter().any(|m| m == model))
    }

    /// Tries each candidate in turn; the first answer wins. When every model fails the error
    /// says why for each.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Completion, AppError> {
        self.first_answer(&req.models, |model| async move {
            match self.endpoint_for(&model)? {
                Endpoint::Remote(client) => {
                    openai::complete(client, &model, req, self.timeout).await
                }
                Endpoint::Local(local) => local.complete(&model, req, self.timeout).await,
            }
        })
        .await
    }

    /// Like `complete`, streamed. A model counts as answering once its first chunk arrives;
    /// until then a failure moves on to the next model, as in `complete`.
    pub async fn open_stream(&self, req: &ChatRequest) -> Result<OpenStream, AppError> {
        self.first_answer(&req.models, |model| async move {
            let timeout = self.timeout;
            let mut rest = match self.endpoint_for(&model)? {
                Endpoint::Remote(client) => openai::stream(client, &model, req, timeout).await?,
                Endpoint::Local(local) => local.stream(req)?,
            };
            let first = tokio::time::timeout(timeout, rest.next())
                .await
                .map_err(|_| format!("timed out after {timeout:?}"))?;
            match first {
                Some(Ok(first)) => Ok(OpenStream { model, first, rest }),
                Some(Err(e)) => Err(e.into()),
                None => Err("the stream ended before any answer".to_owned().into()),
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
            let started = std::time::Instant::now();
            let outcome = attempt(model.clone()).await;
            let outcome_label = match &outcome {
                Ok(_) => "ok",
                Err(Failure::Failed(_)) => "failed",
                Err(Failure::Skipped(_)) => "skipped",
            };
            metrics::histogram!("model_call_duration_seconds", "model" => model.clone(), "outcome" => outcome_label)
                .record(started.elapsed().as_secs_f64());
            let reason = match outcome {
                Ok(answer) => {
                    self.breakers.record(model, true);
                    return Ok(answer);
                }
                Err(Failure::Failed(reason)) => {
                    self.breakers.record(model, false);
                    reason
                }
                Err(Failure::Skipped(reason)) => reason,
            };
            tracing::warn!(model, "model failed: {reason}");
            reasons.push(format!("{model}: {reason}"));
        }
        Err(all_failed(&reasons))
    }

    /// How to reach a model, or why it cannot be called now.
    fn endpoint_for(&self, model: &str) -> Result<Endpoint<'_>, Failure> {
        let Some((provider, client)) = self.provider_of(model) else {
            return Err(Failure::Skipped("no provider offers this model".into()));
        };
        if self.breakers.is_open(model) {
            return Err(Failure::Skipped(
                "skipped: circuit breaker open after repeated failures".into(),
            ));
        }
        if provider.kind == ProviderKind::Local {
            return self.local.as_ref().map(Endpoint::Local).ok_or_else(|| {
                Failure::Skipped("the local model runtime is not running".to_owned())
            });
        }
        let Some(client) = client else {
            return Err(Failure::Skipped(match &provider.api_key_env {
                Some(var) => format!("provider {} is not configured (set {var})", provider.name),
                None => format!("provider {} is not configured", provider.name),
            }));
        };
        Ok(Endpoint::Remote(client))
    }
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
