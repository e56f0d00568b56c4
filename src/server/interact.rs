//! A turn of conversation: load the employee, gather recent context, build the prompt, call the
//! router, persist. Postgres is the source of truth: the exchange is committed before the answer
//! is returned, and a turn that no model could answer is stored too (status `failed`). Redis
//! keeps each employee's recent list (`LPUSH` + `LTRIM` to 100) and is only a cache.

use super::ai::router::{candidates, Completion, Turn};
use super::auth::ClientPrincipal;
use super::db::{tenant_tx, tenant_tx_generic_plans};
use super::employee_cache::CachedEmployee;
use super::memory::IndexJob;
use super::repo::{self, InteractionRecord, NewInteraction};
use super::state::AppState;
use crate::domain::prompt::{generation_settings, system_prompt, with_memories};
use crate::domain::validate;
use crate::domain::*;
use std::sync::Arc;
use std::time::Instant;

pub const RECENT_LIST_LEN: usize = 100;

fn memory_item(r: repo::Recalled) -> MemoryItem {
    MemoryItem {
        id: r.record.interaction_id,
        content: r.record.message,
        response: r.record.response,
        timestamp: r.record.timestamp,
        relevance_score: r.score,
    }
}

fn response_of(r: InteractionRecord) -> InteractionResponse {
    let (p, c) = (
        r.prompt_tokens.max(0) as u32,
        r.completion_tokens.max(0) as u32,
    );
    InteractionResponse {
        interaction_id: r.interaction_id,
        message: r.response,
        model: r.model.unwrap_or_default(),
        usage: Usage {
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
        },
        latency_ms: r.latency_ms.max(0) as u64,
        memories_used: r.memories_used,
        created_at: r.timestamp,
    }
}

pub fn check_idempotency_key(key: Option<&str>) -> Result<Option<String>, AppError> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        Some(_) => Err(AppError::field(
            "Idempotency-Key",
            "must be 1–255 visible ASCII characters",
        )),
    }
}

/// Everything a turn needs once the employee and its context are loaded.
pub struct PendingTurn {
    message: String,
    task_type: Option<String>,
    context: serde_json::Value,
    turns: Vec<Turn>,
    memories_used: Vec<String>,
    temperature: f64,
    max_tokens: u32,
    models: Vec<String>,
    idempotency_key: Option<String>,
}

pub enum Prepared {
    /// The Idempotency-Key names a turn already answered: this is its answer.
    Answered(InteractionResponse),
    Turn(Box<PendingTurn>),
}

/// How a call to the models ended.
struct Outcome<'a> {
    response: &'a str,
    model: Option<&'a str>,
    prompt_tokens: u32,
    completion_tokens: u32,
    error: Option<String>,
}

enum Persisted {
    Stored {
        interaction_id: String,
        created_at: chrono::DateTime<chrono::Utc>,
    },
    AnsweredBefore(InteractionResponse),
}

/// Validates the request, loads the employee, what the client may use and the recent turns (one
/// short read), and builds the prompt.
pub async fn prepare(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    req: &InteractionRequest,
    idempotency_key: Option<String>,
) -> Result<Prepared, AppError> {
    let (message, task_type) = validate::interaction(req)?;
    // The new message's vector, for recall. A failed embedding costs the turn its recall, not
    // its answer.
    let query = match &state.memory {
        Some(m) => match m.embedder.embed_query(&message).await {
            Ok(v) => Some((m.embedder.model(), v)),
            Err(e) => {
                tracing::warn!(employee_id = %id, "no recall for this turn: {e}");
                None
            }
        },
        None => None,
    };
    // The reads below are keyed lookups with one good plan whatever the employee.
    let mut tx = tenant_tx_generic_plans(&state.pool, &who.client_id).await?;
    let CachedEmployee {
        employee,
        allowed_models,
    } = match state.employees.get(&who.client_id, id) {
        Some(hit) => hit,
        None => {
            let epoch = state.employees.epoch();
            let employee = repo::get_employee(&mut tx, &who.client_id, id, false)
                .await?
                .ok_or_else(|| AppError::not_found("employee"))?;
            let client = repo::get_client(&mut tx, &who.client_id)
                .await?
                .ok_or_else(|| AppError::not_found("client"))?;
            let loaded = CachedEmployee {
                employee: Arc::new(employee),
                allowed_models: Arc::new(client.configuration.allowed_models),
            };
            state
                .employees
                .insert(&who.client_id, id, loaded.clone(), epoch);
            loaded
        }
    };
    if let Some(key) = &idempotency_key {
        if let Some(first) =
            repo::interaction_by_idempotency_key(&mut tx, &who.client_id, id, key).await?
        {
            return Ok(Prepared::Answered(response_of(first)));
        }
    }
    if employee.status != EmployeeStatus::Active {
        return Err(AppError::conflict(format!(
            "this employee is {}; resume it to talk to it",
            employee.status
        )));
    }
    let recent_turns = state.settings.file.limits.recent_turns;
    let memory = &state.settings.file.memory;
    let (mut recent, recalled) = match &query {
        // Enough to still have `recall_k` once the recent turns are left out.
        Some((model, vector)) => {
            repo::recent_and_recalled(
                &mut tx,
                &who.client_id,
                id,
                recent_turns,
                model,
                vector,
                memory.recall_k + recent_turns,
            )
            .await?
        }
        None => (
            repo::recent_interactions(&mut tx, &who.client_id, id, recent_turns).await?,
            Vec::new(),
        ),
    };
    tx.commit().await?;
    recent.reverse();
    let recalled: Vec<MemoryItem> = recalled
        .into_iter()
        .filter(|r| r.score >= memory.min_relevance)
        .filter(|r| {
            !recent
                .iter()
                .any(|t| t.interaction_id == r.record.interaction_id)
        })
        .take(memory.recall_k as usize)
        .map(memory_item)
        .collect();

    let mut turns = vec![Turn::System(with_memories(
        system_prompt(&employee),
        &recalled,
    ))];
    for r in &recent {
        turns.push(Turn::User(r.message.clone()));
        turns.push(Turn::Assistant(r.response.clone()));
    }
    turns.push(Turn::User(message.clone()));
    let (temperature, max_tokens) = generation_settings(&employee);
    Ok(Prepared::Turn(Box::new(PendingTurn {
        models: candidates(
            &employee.model_preferences,
            task_type.as_deref(),
            &allowed_models,
        ),
        memories_used: recalled
            .iter()
            .map(|m| m.id.clone())
            .chain(recent.iter().map(|r| r.interaction_id.clone()))
            .collect(),
        context: serde_json::Value::Object(req.context.clone().unwrap_or_default()),
        message,
        task_type,
        turns,
        temperature,
        max_tokens,
        idempotency_key,
    })))
}

/// Stores the turn, whatever the outcome (a failed one keeps the user's message).
async fn persist(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    turn: &PendingTurn,
    outcome: Outcome<'_>,
    latency_ms: u64,
) -> Result<Persisted, AppError> {
    let interaction_id = uuid::Uuid::new_v4().to_string();
    let ok = outcome.error.is_none();
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let inserted = repo::insert_interaction(
        &mut tx,
        NewInteraction {
            client: &who.client_id,
            employee: id,
            interaction_id: &interaction_id,
            message: &turn.message,
            response: outcome.response,
            context: turn.context.clone(),
            status: if ok { "completed" } else { "failed" },
            model: outcome.model,
            task_type: turn.task_type.as_deref(),
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            latency_ms,
            error: outcome.error.as_deref(),
            // Only an answered turn claims the key, so a retry after a failure tries again.
            idempotency_key: turn.idempotency_key.as_deref().filter(|_| ok),
            memories_used: &turn.memories_used,
        },
    )
    .await;
    match inserted {
        Ok(created_at) => {
            tx.commit().await?;
            if ok {
                if let Some(m) = &state.memory {
                    m.indexer.enqueue(IndexJob {
                        client: who.client_id.clone(),
                        employee_id: id.as_str().to_owned(),
                        interaction_id: interaction_id.clone(),
                        text: repo::embedding_text(&turn.message, outcome.response),
                        timestamp: created_at,
                    });
                }
                let item = MemoryItem {
                    id: interaction_id.clone(),
                    content: turn.message.clone(),
                    response: outcome.response.to_owned(),
                    timestamp: created_at,
                    relevance_score: 1.0,
                };
                if !state
                    .cache
                    .push_recent(&who.client_id, id, &item, RECENT_LIST_LEN)
                    .await
                {
                    tracing::warn!(employee_id = %id, "interaction stored; the recent list in Redis was not updated");
                }
            }
            Ok(Persisted::Stored {
                interaction_id,
                created_at,
            })
        }
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            // A concurrent request with the same key answered first: return its answer.
            drop(tx);
            let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
            let key = turn.idempotency_key.as_deref().unwrap_or_default();
            let first =
                repo::interaction_by_idempotency_key(&mut tx, &who.client_id, id, key).await?;
            first
                .map(|r| Persisted::AnsweredBefore(response_of(r)))
                .ok_or_else(|| {
                    AppError::conflict("a request with this Idempotency-Key is in progress")
                })
        }
        Err(e) => Err(e.into()),
    }
}

fn answer(
    turn: &PendingTurn,
    c: Completion,
    interaction_id: String,
    created_at: chrono::DateTime<chrono::Utc>,
    latency_ms: u64,
) -> InteractionResponse {
    let (p, k) = (c.prompt_tokens, c.completion_tokens);
    InteractionResponse {
        interaction_id,
        message: c.text,
        model: c.model,
        usage: Usage {
            prompt_tokens: p,
            completion_tokens: k,
            total_tokens: p + k,
        },
        latency_ms,
        memories_used: turn.memories_used.clone(),
        created_at,
    }
}

/// One turn, answered whole.
pub async fn interact(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    req: &InteractionRequest,
    idempotency_key: Option<String>,
) -> Result<InteractionResponse, AppError> {
    let turn = match prepare(state, who, id, req, idempotency_key).await? {
        Prepared::Answered(r) => return Ok(r),
        Prepared::Turn(t) => t,
    };
    let started = Instant::now();
    let result = state
        .router
        .complete(&turn.models, &turn.turns, turn.temperature, turn.max_tokens)
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let outcome = match &result {
        Ok(c) => Outcome {
            response: &c.text,
            model: Some(&c.model),
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            error: None,
        },
        Err(e) => Outcome {
            response: "",
            model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            error: Some(e.to_string()),
        },
    };
    match persist(state, who, id, &turn, outcome, latency_ms).await? {
        Persisted::AnsweredBefore(r) => Ok(r),
        Persisted::Stored {
            interaction_id,
            created_at,
        } => Ok(answer(
            &turn,
            result?,
            interaction_id,
            created_at,
            latency_ms,
        )),
    }
}

/// What a streamed turn sends, in order: tokens, then `Done` or `Failed`.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    Token(String),
    Done(Box<InteractionResponse>),
    Failed(AppError),
}

/// One turn, streamed. Errors before the first token are returned as usual; afterwards they
/// arrive as `StreamEvent::Failed`. The generation runs in its own task, so the turn is stored
/// (with exactly the text that was streamed) even when the caller goes away.
pub async fn interact_stream(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    req: &InteractionRequest,
    idempotency_key: Option<String>,
) -> Result<tokio::sync::mpsc::Receiver<StreamEvent>, AppError> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let turn = match prepare(state, who, id, req, idempotency_key).await? {
        Prepared::Answered(r) => {
            let _ = tx.send(StreamEvent::Token(r.message.clone())).await;
            let _ = tx.send(StreamEvent::Done(Box::new(r))).await;
            return Ok(rx);
        }
        Prepared::Turn(t) => t,
    };
    let started = Instant::now();
    let open = match state
        .router
        .open_stream(&turn.models, &turn.turns, turn.temperature, turn.max_tokens)
        .await
    {
        Ok(open) => open,
        Err(e) => {
            let failed = Outcome {
                response: "",
                model: None,
                prompt_tokens: 0,
                completion_tokens: 0,
                error: Some(e.to_string()),
            };
            persist(
                state,
                who,
                id,
                &turn,
                failed,
                started.elapsed().as_millis() as u64,
            )
            .await?;
            return Err(e);
        }
    };
    let (state, who, id) = (state.clone(), who.clone(), id.clone());
    let idle = std::time::Duration::from_secs(state.settings.file.limits.model_timeout_seconds);
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut text = String::new();
        let (mut prompt_tokens, mut completion_tokens) = (0, 0);
        let mut error = None;
        let mut rest = open.rest;
        let mut next = Some(open.first);
        while let Some(chunk) = next.take() {
            if let Some(u) = chunk.usage {
                (prompt_tokens, completion_tokens) = u;
            }
            if !chunk.text.is_empty() {
                text.push_str(&chunk.text);
                // A caller that went away does not stop the turn from being stored.
                let _ = tx.send(StreamEvent::Token(chunk.text)).await;
            }
            match tokio::time::timeout(idle, rest.next()).await {
                Ok(Some(Ok(c))) => next = Some(c),
                Ok(None) => break,
                Ok(Some(Err(e))) => error = Some(format!("the answer was cut off: {e}")),
                Err(_) => error = Some(format!("the answer stalled for {idle:?}")),
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        let outcome = Outcome {
            response: &text,
            model: Some(&open.model),
            prompt_tokens,
            completion_tokens,
            error: error.clone(),
        };
        let event = match (
            persist(&state, &who, &id, &turn, outcome, latency_ms).await,
            error,
        ) {
            (
                Ok(Persisted::Stored {
                    interaction_id,
                    created_at,
                }),
                None,
            ) => {
                let c = Completion {
                    text: text.clone(),
                    model: open.model.clone(),
                    prompt_tokens,
                    completion_tokens,
                };
                StreamEvent::Done(Box::new(answer(
                    &turn,
                    c,
                    interaction_id,
                    created_at,
                    latency_ms,
                )))
            }
            (Ok(Persisted::AnsweredBefore(r)), None) => StreamEvent::Done(Box::new(r)),
            (Ok(_), Some(e)) => StreamEvent::Failed(AppError::Unavailable { message: e }),
            (Err(e), _) => StreamEvent::Failed(e),
        };
        let _ = tx.send(event).await;
    });
    Ok(rx)
}

/// The most recent exchanges, newest first: from Redis when it holds enough of them, else from
/// Postgres (the source of truth).
pub async fn recent_memory(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    limit: u32,
) -> Result<Vec<MemoryItem>, AppError> {
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    repo::get_employee(&mut tx, &who.client_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    if let Some(items) = state.cache.recent(&who.client_id, id, limit as usize).await {
        if items.len() >= limit as usize {
            return Ok(items);
        }
    }
    let rows = repo::recent_interactions(&mut tx, &who.client_id, id, limit).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| MemoryItem {
            id: r.interaction_id,
            content: r.message,
            response: r.response,
            timestamp: r.timestamp,
            relevance_score: 1.0,
        })
        .collect())
}

/// The `limit` exchanges most similar to `query`, best first, with their cosine similarity.
pub async fn semantic_memory(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    query: &str,
    limit: u32,
) -> Result<Vec<MemoryItem>, AppError> {
    let Some(m) = &state.memory else {
        return Err(AppError::Unavailable {
            message: "semantic recall is turned off on this server (memory.embedding_model)".into(),
        });
    };
    {
        let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
        repo::get_employee(&mut tx, &who.client_id, id, false)
            .await?
            .ok_or_else(|| AppError::not_found("employee"))?;
    }
    let vector = m
        .embedder
        .embed_query(query)
        .await
        .map_err(|e| AppError::Unavailable {
            message: format!("the embedding model could not answer: {e}"),
        })?;
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let found = repo::recall(
        &mut tx,
        &who.client_id,
        id,
        m.embedder.model(),
        &vector,
        limit,
    )
    .await?;
    tx.commit().await?;
    Ok(found.into_iter().map(memory_item).collect())
}
