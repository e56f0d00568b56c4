//! A turn of conversation: load the employee, gather recent context, build the prompt, call the
//! router, persist. Postgres is the source of truth: the exchange is committed before the answer
//! is returned, and a turn that no model could answer is stored too (status `failed`). Redis
//! keeps each employee's recent list (`LPUSH` + `LTRIM` to 100) and is only a cache.

use super::ai::router::{candidates, Turn};
use super::auth::ClientPrincipal;
use super::db::tenant_tx;
use super::repo::{self, InteractionRecord, NewInteraction};
use super::state::AppState;
use crate::domain::prompt::{generation_settings, system_prompt};
use crate::domain::validate;
use crate::domain::*;
use std::time::Instant;

pub const RECENT_LIST_LEN: usize = 100;

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

pub async fn interact(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    req: &InteractionRequest,
    idempotency_key: Option<String>,
) -> Result<InteractionResponse, AppError> {
    let (message, task_type) = validate::interaction(req)?;

    // 1. The employee, what the client may use, and the recent turns: one short read.
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let employee = repo::get_employee(&mut tx, &who.client_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    if let Some(key) = &idempotency_key {
        if let Some(first) =
            repo::interaction_by_idempotency_key(&mut tx, &who.client_id, id, key).await?
        {
            return Ok(response_of(first));
        }
    }
    if employee.status != EmployeeStatus::Active {
        return Err(AppError::conflict(format!(
            "this employee is {}; resume it to talk to it",
            employee.status
        )));
    }
    let client = repo::get_client(&mut tx, &who.client_id)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    let mut recent = repo::recent_interactions(
        &mut tx,
        &who.client_id,
        id,
        state.settings.file.limits.recent_turns,
    )
    .await?;
    tx.commit().await?;
    recent.reverse();

    // 2. The prompt.
    let mut turns = vec![Turn::System(system_prompt(&employee))];
    for r in &recent {
        turns.push(Turn::User(r.message.clone()));
        turns.push(Turn::Assistant(r.response.clone()));
    }
    turns.push(Turn::User(message.clone()));
    let memories_used: Vec<String> = recent.iter().map(|r| r.interaction_id.clone()).collect();
    let (temperature, max_tokens) = generation_settings(&employee);
    let models = candidates(
        &employee.model_preferences,
        task_type.as_deref(),
        &client.configuration.allowed_models,
    );

    // 3. The model.
    let started = Instant::now();
    let result = state
        .router
        .complete(&models, &turns, temperature, max_tokens)
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;

    // 4. Persist, whatever the outcome.
    let interaction_id = uuid::Uuid::new_v4().to_string();
    let context = serde_json::Value::Object(req.context.clone().unwrap_or_default());
    let (status, response, model, usage, error) = match &result {
        Ok(c) => (
            "completed",
            c.text.as_str(),
            Some(c.model.as_str()),
            (c.prompt_tokens, c.completion_tokens),
            None,
        ),
        Err(e) => ("failed", "", None, (0, 0), Some(e.to_string())),
    };
    let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
    let inserted = repo::insert_interaction(
        &mut tx,
        NewInteraction {
            client: &who.client_id,
            employee: id,
            interaction_id: &interaction_id,
            message: &message,
            response,
            context,
            status,
            model,
            task_type: task_type.as_deref(),
            prompt_tokens: usage.0,
            completion_tokens: usage.1,
            latency_ms,
            error: error.as_deref(),
            // Only an answered turn claims the key, so a retry after a failure tries again.
            idempotency_key: idempotency_key.as_deref().filter(|_| result.is_ok()),
            memories_used: &memories_used,
        },
    )
    .await;
    let created_at = match inserted {
        Ok(at) => {
            tx.commit().await?;
            at
        }
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            // A concurrent request with the same key answered first: return its answer.
            drop(tx);
            let mut tx = tenant_tx(&state.pool, &who.client_id).await?;
            let key = idempotency_key.as_deref().unwrap_or_default();
            let first =
                repo::interaction_by_idempotency_key(&mut tx, &who.client_id, id, key).await?;
            return first.map(response_of).ok_or_else(|| {
                AppError::conflict("a request with this Idempotency-Key is in progress")
            });
        }
        Err(e) => return Err(e.into()),
    };
    let completion = result?;

    let item = MemoryItem {
        id: interaction_id.clone(),
        content: message,
        response: completion.text.clone(),
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
    let (p, c) = (completion.prompt_tokens, completion.completion_tokens);
    Ok(InteractionResponse {
        interaction_id,
        message: completion.text,
        model: completion.model,
        usage: Usage {
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
        },
        latency_ms,
        memories_used,
        created_at,
    })
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
