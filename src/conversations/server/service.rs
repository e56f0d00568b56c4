//! A turn of conversation: load the employee, gather what it remembers, build the prompt, call
//! the router, store. Postgres is the source of truth: the exchange is committed before the
//! answer is returned, and a turn that no model could answer is stored too (status `failed`).

use super::repo::{self, InteractionRecord, NewInteraction};
use super::stop::StopSignal;
use super::tool_loop::{complete_with_tools, ToolLog, ToolLoop};
use crate::accounts::ClientPrincipal;
use crate::ai::router::candidates;
use crate::ai::{ChatMessage, ChatRequest, Completion};
use crate::audit::server::service as audit;
use crate::audit::AuditAction;
use crate::conversations::prompt::{
    generation_settings, system_prompt, with_knowledge, with_memories, with_tool_rules,
};
use crate::conversations::*;
use crate::core::sources::{mark_cited, SourceRecord, EXCERPT_CHARS};
use crate::core::{AppError, EmployeeId, InteractionId};
use crate::employees::server::lookup::employee_for_turn;
use crate::employees::EmployeeStatus;
use crate::knowledge::collection_names;
use crate::knowledge::server::repo as knowledge_repo;
use crate::knowledge::server::service as knowledge;
use crate::memory::server::service as memory;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use crate::tools::server::exec::Toolbox;
use crate::tools::server::service as tools;
use crate::usage::server::budget::{self, Budgets, Limit, Reservation};
use std::time::{Duration, Instant};

/// How often a request waiting for another one with its Idempotency-Key looks again.
const CLAIM_POLL: Duration = Duration::from_millis(50);

pub(super) fn response_of(r: InteractionRecord) -> InteractionResponse {
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
            tool_rounds: r.tool_rounds.max(0) as u32,
        },
        latency_ms: r.latency_ms.max(0) as u64,
        memories_used: r.memories_used,
        created_at: r.timestamp,
        stopped: r.stopped,
        tool_calls: r.tool_calls.0,
        sources: r.sources.0,
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
    pub(super) message: String,
    task_type: Option<String>,
    context: serde_json::Value,
    pub(super) request: ChatRequest,
    memories_used: Vec<InteractionId>,
    /// The exchange's memory unit (the reply before it) and its vector, made for recall.
    unit: memory::TurnUnit,
    /// The conversation's own time for the exchange, when the request gave one.
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    idempotency_key: Option<String>,
    /// The tokens held against the client's monthly budget until the turn is stored.
    reservation: Option<Reservation>,
    /// The client's slot for a turn in flight, held until the turn is stored.
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Background embedding pauses while the turn runs (an in-process embedding model).
    _quiet: Option<crate::ai::inference::queue::UrgentHold>,
    /// The tools the employee is offered this turn.
    pub(super) toolbox: Toolbox,
    /// The passages of its knowledge the prompt carries, numbered as there (none cited yet).
    sources: Vec<SourceRecord>,
}

pub enum Prepared {
    /// The Idempotency-Key names a turn already answered: this is its answer.
    Answered(InteractionResponse),
    Turn(Box<PendingTurn>),
}

/// How a call to the models ended.
pub(super) struct Outcome<'a> {
    pub response: &'a str,
    pub model: Option<&'a str>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub error: Option<String>,
    /// The person stopped the answer: `response` is what was written until then.
    pub stopped: bool,
    /// The tools called until the turn ended.
    pub tool_calls: &'a [ToolCallRecord],
    pub tool_rounds: u32,
}

impl Outcome<'_> {
    /// No model answered.
    pub fn failed(error: &AppError) -> Outcome<'static> {
        Outcome {
            response: "",
            model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            error: Some(error.to_string()),
            stopped: false,
            tool_calls: &[],
            tool_rounds: 0,
        }
    }
}

impl<'a> Outcome<'a> {
    /// The person stopped the answer: `text` is what was written until then, by `model` (none
    /// when it was stopped before the first word). A model tells its usage only at the end of
    /// an answer, so a stopped one is counted roughly, at four characters a token, against the
    /// budget (stopping is never a way around it).
    pub fn stopped(turn: &PendingTurn, text: &'a str, model: Option<&'a str>) -> Outcome<'a> {
        let chars = |t: &str| t.chars().count() as u32;
        let prompt: u32 = turn
            .request
            .messages
            .iter()
            .map(|m| chars(m.role_and_text().1))
            .sum();
        Outcome {
            response: text,
            model,
            prompt_tokens: if model.is_some() {
                prompt.div_ceil(4)
            } else {
                0
            },
            completion_tokens: chars(text).div_ceil(4),
            error: None,
            stopped: true,
            tool_calls: &[],
            tool_rounds: 0,
        }
    }
}

impl PendingTurn {
    /// The turn's passages, with those `answer` cites marked.
    pub(super) fn sources_cited_by(&self, answer: &str) -> Vec<SourceRecord> {
        let mut sources = self.sources.clone();
        mark_cited(&mut sources, answer);
        sources
    }

    /// What stops this turn once someone asks (`stop::request_stop`); a turn without an
    /// idempotency key cannot be named, so it cannot be stopped.
    pub(super) fn stop_signal(
        &self,
        state: &AppState,
        who: &ClientPrincipal,
        id: &EmployeeId,
    ) -> StopSignal {
        match &self.idempotency_key {
            Some(key) => state.stops.register(who, id, key),
            None => StopSignal::never(),
        }
    }
}

pub(super) enum Persisted {
    Stored {
        interaction_id: InteractionId,
        created_at: chrono::DateTime<chrono::Utc>,
    },
    AnsweredBefore(InteractionResponse),
}

/// Validates the request, loads the employee, what the client may use and what the employee
/// remembers (one short read), and builds the prompt.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn prepare(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    req: &InteractionRequest,
    idempotency_key: Option<String>,
) -> Result<Prepared, AppError> {
    // The client's limits in force (its tier's, or the operator's overrides): from memory.
    let client_limits = crate::clients::server::limits::effective(state, who).await?;
    let (message, task_type) =
        validate_request(req, client_limits.tier.max_message_chars as usize)?;
    let occurred_at = check_occurred_at(req.occurred_at)?;
    let slot = take_turn_slot(state, who, client_limits.tier.max_concurrent_turns)?;
    let quiet = state
        .memory
        .as_ref()
        .and_then(|m| m.embedder.hold_for_turn());
    let limits = &state.settings.file.limits;
    // How long a request waits for another one answering under the same Idempotency-Key.
    let patience = Duration::from_secs(limits.model_timeout_seconds);
    let waiting_since = Instant::now();
    let (turn_employee, recent, toolbox, searchable) = loop {
        // The reads below are keyed lookups with one good plan whatever the employee.
        let mut tx = TenantTx::begin_generic_plans(&state.pool, &who.client_id).await?;
        let turn_employee = employee_for_turn(state, &mut tx, id).await?;
        let employee = &turn_employee.employee;
        if let Some(key) = &idempotency_key {
            if let Some(first) = repo::interaction_by_idempotency_key(&mut tx, id, key).await? {
                return Ok(Prepared::Answered(response_of(first)));
            }
        }
        if employee.status != EmployeeStatus::Active {
            return Err(AppError::conflict(format!(
                "this employee is {}; resume it to talk to it",
                employee.status
            )));
        }
        if let Some(key) = &idempotency_key {
            // Held until the turn is stored; lapses should this instance die meanwhile.
            let models = employee.model_preferences.fallback_models.len() as f64 + 2.0;
            let ttl = limits.model_timeout_seconds as f64 * models;
            if !repo::claim_key(&mut tx, id, key, ttl).await? {
                tx.rollback().await?;
                if waiting_since.elapsed() >= patience {
                    return Err(AppError::InProgress {
                        message: "a request with this Idempotency-Key is still being answered"
                            .into(),
                        retry_after_secs: 2,
                    });
                }
                tokio::time::sleep(CLAIM_POLL).await;
                continue;
            }
            // The claim may be free because the turn holding it was stored between the look
            // above and the claim: look again, now that the claim is ours.
            if let Some(first) = repo::interaction_by_idempotency_key(&mut tx, id, key).await? {
                tx.rollback().await?;
                return Ok(Prepared::Answered(response_of(first)));
            }
        }
        let recent = memory::recent_for_turn(state, &mut tx, id).await?;
        let collections = collection_names(&employee.knowledge_sources);
        // Free-text sources that name no collection with chunks cost this one look, no search.
        let searchable = if collections.is_empty() {
            Vec::new()
        } else {
            knowledge_repo::searchable_collections(&mut tx, &collections).await?
        };
        let toolbox = tools::toolbox_for_turn(&mut tx, &employee.tool_access, collections).await?;
        tx.commit().await?;
        break (turn_employee, recent, toolbox, searchable);
    };
    let employee = &turn_employee.employee;
    // The new message with the reply before it is the exchange's memory unit: its one vector
    // recalls now and is stored with the exchange. A failed or late embedding costs the turn
    // its recall by meaning, not its answer.
    // The passages of its knowledge are searched for meanwhile (none when nothing is searchable).
    let (unit, passages) = tokio::join!(
        memory::unit_for_turn(state, id, &message, &recent),
        knowledge::passages_for_turn(state, who, &searchable, &message),
    );
    let recall_tokens = client_limits.tier.recall_tokens;
    let recalled = memory::recall_for_turn(
        state,
        &who.client_id,
        id,
        &message,
        &unit,
        &recent,
        recall_tokens,
    )
    .await?;

    let mut messages = vec![ChatMessage::System(with_tool_rules(
        with_knowledge(with_memories(system_prompt(employee), &recalled), &passages),
        &toolbox.names(),
    ))];
    for r in &recent {
        messages.push(ChatMessage::User(r.message.clone()));
        messages.push(ChatMessage::assistant(r.response.clone()));
    }
    messages.push(ChatMessage::User(message.clone()));
    let (temperature, max_tokens) = generation_settings(employee);
    let prefs = &employee.model_preferences;
    let request = ChatRequest {
        tenant: who.client_id.as_str().to_owned(),
        models: candidates(
            &prefs.primary_model,
            &prefs.fallback_models,
            &prefs.specialized_models,
            task_type.as_deref(),
            &turn_employee.allowed_models,
        ),
        messages,
        temperature,
        max_tokens,
        tools: toolbox.specs(),
        tools_closed: false,
    };
    let budgets = Budgets {
        client: Limit::of_tier(&client_limits.tier),
        employee: turn_employee.budget.as_ref().map(Limit::of_employee),
    };
    let reservation = reserve_budget(
        state,
        who,
        id,
        budgets,
        &request,
        idempotency_key.as_deref(),
    )
    .await?;
    Ok(Prepared::Turn(Box::new(PendingTurn {
        request,
        reservation,
        _slot: slot,
        _quiet: quiet,
        memories_used: recalled
            .iter()
            .map(|m| m.id.clone())
            .chain(recent.iter().map(|r| r.interaction_id.clone()))
            .collect(),
        unit,
        occurred_at,
        context: serde_json::Value::Object(req.context.clone().unwrap_or_default()),
        message,
        task_type,
        idempotency_key,
        toolbox,
        sources: passages
            .into_iter()
            .zip(1..)
            .map(|(p, n)| SourceRecord {
                n,
                excerpt: p.text.trim().chars().take(EXCERPT_CHARS).collect(),
                document_id: p.document_id,
                title: p.title,
                collection: p.collection,
                chunk: p.chunk,
                score: p.score,
                cited: false,
            })
            .collect(),
    })))
}

/// How far ahead of the server's clock an `occurred_at` may be (clocks differ a little).
const OCCURRED_AT_LEEWAY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A turn's `occurred_at`, when given: its time in the conversation, which becomes the
/// exchange's time; not in the future, nor before 1970.
pub fn check_occurred_at(
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    match at {
        Some(t) if t > chrono::Utc::now() + OCCURRED_AT_LEEWAY => Err(AppError::field(
            "occurred_at",
            "is in the future; give the time the message was written",
        )),
        Some(t) if t.timestamp() < 0 => Err(AppError::field(
            "occurred_at",
            "is before 1970; give the time the message was written",
        )),
        other => Ok(other),
    }
}

/// One of the client's slots for a turn in flight on this instance (`cap`, its
/// `max_concurrent_turns`; 0 for none), or 429 when it has none left.
fn take_turn_slot(
    state: &AppState,
    who: &ClientPrincipal,
    cap: u32,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, AppError> {
    state
        .limiter
        .turns
        .try_take(who.client_id.as_str(), cap)
        .map_err(|cap| AppError::RateLimited {
            message: format!(
                "this client already has {cap} turns in progress (its limit); \
                 try again when one has finished"
            ),
            retry_after_secs: 1,
        })
}

/// Holds what the turn can spend against the client's monthly budget and the employee's (when
/// they have one). A turn refused for a budget holds nothing (its transaction is rolled back)
/// and gives back the Idempotency-Key it claimed, so a later retry is free to run.
async fn reserve_budget(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    budgets: Budgets,
    request: &ChatRequest,
    idempotency_key: Option<&str>,
) -> Result<Option<Reservation>, AppError> {
    let cost = budget::cost_bound(request, |m| state.settings.price(m));
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    match budget::reserve(&mut tx, id, budgets, request, cost).await {
        Ok(r) => {
            tx.commit().await?;
            Ok(r)
        }
        Err(e) => {
            tx.rollback().await?;
            if let Some(key) = idempotency_key {
                let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
                repo::release_key(&mut tx, id, key).await?;
                tx.commit().await?;
            }
            Err(e)
        }
    }
}

/// What a turn spent: its tokens, and their cost at the price of the model that answered.
fn spent_by(state: &AppState, outcome: &Outcome<'_>) -> (u64, i64) {
    let (prompt, completion) = (
        u64::from(outcome.prompt_tokens),
        u64::from(outcome.completion_tokens),
    );
    let price = outcome.model.and_then(|m| state.settings.price(m));
    (prompt + completion, budget::cost(price, prompt, completion))
}

/// Stores the turn, whatever the outcome (a failed one keeps the user's message), and settles
/// its budget reservation in the same transaction.
pub(super) async fn persist(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    turn: &PendingTurn,
    outcome: Outcome<'_>,
    latency_ms: u64,
) -> Result<Persisted, AppError> {
    let interaction_id = InteractionId::generate();
    let ok = outcome.error.is_none();
    let sources = turn.sources_cited_by(outcome.response);
    metrics::counter!(
        "turns_total",
        "model" => outcome.model.unwrap_or("").to_owned(),
        "outcome" => if ok { "completed" } else { "failed" }
    )
    .increment(1);
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    if let Some(key) = &turn.idempotency_key {
        repo::release_key(&mut tx, id, key).await?;
    }
    if let Some(r) = turn.reservation {
        let (spent, cost) = spent_by(state, &outcome);
        budget::settle(&mut tx, id, r, spent, cost).await?;
    }
    let inserted = repo::insert_interaction(
        &mut tx,
        NewInteraction {
            employee: id,
            interaction_id: &interaction_id,
            message: &turn.message,
            response: outcome.response,
            context: turn.context.clone(),
            status: if ok {
                InteractionStatus::Completed
            } else {
                InteractionStatus::Failed
            },
            model: outcome.model,
            task_type: turn.task_type.as_deref(),
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            latency_ms,
            error: outcome.error.as_deref(),
            // Only an answered turn claims the key, so a retry after a failure tries again.
            idempotency_key: turn.idempotency_key.as_deref().filter(|_| ok),
            memories_used: &turn.memories_used,
            stopped: outcome.stopped,
            prior_reply: &turn.unit.prior_reply,
            occurred_at: turn.occurred_at,
            tool_calls: outcome.tool_calls,
            tool_rounds: outcome.tool_rounds,
            sources: &sources,
        },
    )
    .await;
    match inserted {
        Ok((created_at, number)) => {
            // The turn's audit row, in the storing transaction (no row, no turn): what was said
            // is referenced by its id and hashes, never copied.
            audit::record(
                &mut tx,
                &who.actor(),
                AuditAction::InteractionCreate,
                interaction_id.as_str(),
                None,
                Some(serde_json::json!({
                    "employee_id": id,
                    "status": if ok { "completed" } else { "failed" },
                    "model": outcome.model,
                    "message_sha256": sha256_hex(&turn.message),
                    "response_sha256": ok.then(|| sha256_hex(outcome.response)),
                    "prompt_tokens": outcome.prompt_tokens,
                    "completion_tokens": outcome.completion_tokens,
                    "stopped": outcome.stopped,
                    "tool_rounds": outcome.tool_rounds,
                    "sources": sources.iter().map(|s| serde_json::json!({
                        "n": s.n, "document_id": s.document_id, "chunk": s.chunk,
                        "cited": s.cited,
                    })).collect::<Vec<_>>(),
                })),
            )
            .await?;
            // Each tool call, beside its turn: what was called and how it ended; the arguments
            // by their hash (they may hold what the person said).
            for call in outcome.tool_calls {
                audit::record(
                    &mut tx,
                    &who.actor(),
                    AuditAction::ToolCall,
                    interaction_id.as_str(),
                    None,
                    Some(serde_json::json!({
                        "employee_id": id,
                        "tool": call.tool,
                        "call_id": call.id,
                        "round": call.round,
                        "status": call.status,
                        "duration_ms": call.duration_ms,
                        "result_bytes": call.result_bytes,
                        "arguments_sha256": sha256_hex(&call.arguments.to_string()),
                    })),
                )
                .await?;
            }
            tx.commit().await?;
            if let Some(number) = number {
                memory::remember(
                    state,
                    &who.client_id,
                    id,
                    number,
                    &interaction_id,
                    &turn.message,
                    outcome.response,
                    &turn.unit,
                    created_at,
                    turn.occurred_at.is_some(),
                    outcome.tool_calls,
                    &sources,
                )
                .await;
            }
            Ok(Persisted::Stored {
                interaction_id,
                created_at,
            })
        }
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            // A concurrent request with the same key answered first: return its answer.
            drop(tx);
            let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
            let key = turn.idempotency_key.as_deref().unwrap_or_default();
            let first = repo::interaction_by_idempotency_key(&mut tx, id, key).await?;
            repo::release_key(&mut tx, id, key).await?;
            if let Some(r) = turn.reservation {
                // The first transaction, rolled back, did not settle it.
                let (spent, cost) = spent_by(state, &outcome);
                budget::settle(&mut tx, id, r, spent, cost).await?;
            }
            tx.commit().await?;
            first
                .map(|r| Persisted::AnsweredBefore(response_of(r)))
                .ok_or_else(|| {
                    AppError::conflict("a request with this Idempotency-Key is in progress")
                })
        }
        Err(e) => Err(e.into()),
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub(super) fn answer(
    turn: &PendingTurn,
    c: Completion,
    interaction_id: InteractionId,
    created_at: chrono::DateTime<chrono::Utc>,
    latency_ms: u64,
    tools: &ToolLog,
) -> InteractionResponse {
    let (p, k) = (c.prompt_tokens, c.completion_tokens);
    let sources = turn.sources_cited_by(&c.text);
    InteractionResponse {
        interaction_id,
        message: c.text,
        model: c.model,
        usage: Usage {
            prompt_tokens: p,
            completion_tokens: k,
            total_tokens: p + k,
            tool_rounds: tools.rounds,
        },
        latency_ms,
        memories_used: turn.memories_used.clone(),
        created_at,
        stopped: false,
        sources,
        tool_calls: tools.calls.clone(),
    }
}

/// One turn, answered whole. Stopped before the answer came, it is stored with no answer.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
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
    let mut stop = turn.stop_signal(state, who, id);
    let started = Instant::now();
    let mut tools = ToolLoop::new(state, &turn.request, &turn.toolbox);
    let result = tokio::select! {
        biased;
        _ = stop.stopped() => None,
        r = complete_with_tools(state, who, id, &mut tools) => Some(r),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let log = tools.log;
    let mut outcome = match &result {
        None => Outcome::stopped(&turn, "", None),
        Some(Ok(c)) => Outcome {
            response: &c.text,
            model: Some(&c.model),
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            error: None,
            stopped: false,
            tool_calls: &[],
            tool_rounds: 0,
        },
        Some(Err(e)) => Outcome {
            // The rounds that asked for tools were spent all the same.
            prompt_tokens: log.spent.0,
            completion_tokens: log.spent.1,
            ..Outcome::failed(e)
        },
    };
    if outcome.stopped {
        // The rounds that asked for tools were answered whole: their usage is known.
        outcome.prompt_tokens += log.spent.0;
        outcome.completion_tokens += log.spent.1;
    }
    outcome.tool_calls = &log.calls;
    outcome.tool_rounds = log.rounds;
    let usage = (outcome.prompt_tokens, outcome.completion_tokens);
    match persist(state, who, id, &turn, outcome, latency_ms).await? {
        Persisted::AnsweredBefore(r) => Ok(r),
        Persisted::Stored {
            interaction_id,
            created_at,
        } => {
            let (c, stopped) = match result {
                None => (stopped_completion("", None, usage), true),
                Some(r) => (r?, false),
            };
            let mut r = answer(&turn, c, interaction_id, created_at, latency_ms, &log);
            r.stopped = stopped;
            Ok(r)
        }
    }
}

/// A stopped answer as the caller is told it: the text until then and its rough usage.
pub(super) fn stopped_completion(text: &str, model: Option<&str>, usage: (u32, u32)) -> Completion {
    Completion {
        text: text.to_owned(),
        model: model.unwrap_or_default().to_owned(),
        prompt_tokens: usage.0,
        completion_tokens: usage.1,
        tool_calls: Vec::new(),
    }
}
