//! What an employee remembers: what a turn is given (recent exchanges and recalled ones), what
//! happens to an answered exchange (indexed, pushed on the recent list), and the reads behind
//! the memory browser and `GET …/memory`.

use super::jobs::IndexJob;
use super::{recent, repo};
use crate::accounts::ClientPrincipal;
use crate::conversations::server::repo::InteractionRecord;
use crate::core::{AppError, ClientId, EmployeeId, InteractionId};
use crate::employees::server::lookup::ensure_exists;
use crate::memory::{MemoryItem, SearchMode};
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use chrono::{DateTime, Utc};
use pgvector::HalfVector;

/// The vector of a turn's memory unit, with the model that made it. The same vector recalls
/// for the turn and is stored as the new exchange's, so a turn costs one embedding.
pub struct QueryVector {
    model: String,
    vector: HalfVector,
}

/// A turn's memory unit: the start of the reply before the new message (stored with the
/// exchange) and the unit's vector; `vector` is `None` when recall by meaning is off or the
/// embedding model failed (the turn then recalls by keywords alone).
pub struct TurnUnit {
    pub prior_reply: String,
    pub vector: Option<QueryVector>,
}

/// The newest answered exchanges, oldest first: the conversation a turn continues.
pub async fn recent_for_turn(
    state: &AppState,
    tx: &mut TenantTx,
    id: &EmployeeId,
) -> Result<Vec<InteractionRecord>, AppError> {
    let mut recent =
        repo::recent_interactions(tx, id, state.settings.file.limits.recent_turns).await?;
    recent.reverse();
    Ok(recent)
}

/// The memory unit of a new message (with the reply before it, the newest of `recent`) and its
/// vector, ahead of background indexing. A failed or late embedding costs the turn its recall
/// by meaning, not its answer.
pub async fn unit_for_turn(
    state: &AppState,
    id: &EmployeeId,
    message: &str,
    recent: &[InteractionRecord],
) -> TurnUnit {
    let prior_reply = recent
        .last()
        .map(|r| repo::prior_reply(&r.response).to_owned())
        .unwrap_or_default();
    let Some(m) = state.memory.as_ref() else {
        return TurnUnit {
            prior_reply,
            vector: None,
        };
    };
    let text = repo::memory_unit(message, &prior_reply);
    let budget = std::time::Duration::from_millis(state.settings.file.memory.recall_timeout_ms);
    let vector = match m.embedder.embed_unit_within(&text, budget).await {
        Ok(vector) => Some(QueryVector {
            model: repo::vector_key(m.embedder.model()),
            vector,
        }),
        Err(e) => {
            tracing::warn!(employee_id = %id, "no recall by meaning for this turn: {e}");
            None
        }
    };
    TurnUnit {
        prior_reply,
        vector,
    }
}

/// A recalled exchange; `best_possible` is the fused score of an exchange first by every
/// signal, which scales `relevance_score` to 0..1.
fn memory_item(r: repo::Recalled, best_possible: f64) -> MemoryItem {
    MemoryItem {
        relevance_score: if best_possible > 0.0 {
            (r.score / best_possible).min(1.0)
        } else {
            0.0
        },
        similarity: r.similarity,
        keyword_score: r.keyword,
        ..recent_item(r.record)
    }
}

/// How recall ranks, from the settings.
fn fusion(state: &AppState) -> repo::Fusion {
    repo::Fusion::from_settings(&state.settings.file.memory)
}

/// What a memory costs the prompt, in tokens (four characters a token, and its date line).
fn prompt_tokens(r: &InteractionRecord) -> usize {
    (r.message.chars().count() + r.response.chars().count()).div_ceil(4) + 12
}

/// The memories a turn is given: the exchanges recall ranks best (by meaning and keywords,
/// fused), down to `relative_cutoff` of the best score, leaving out those already among the
/// recent turns, as many as fit `budget_tokens` (best first; one too long for what is left is
/// skipped for a shorter one), then ordered by time.
pub fn within_budget(
    found: Vec<repo::Recalled>,
    recent: &[InteractionRecord],
    relative_cutoff: f64,
    budget_tokens: usize,
) -> Vec<MemoryItem> {
    let best = found.first().map_or(0.0, |r| r.score);
    let mut used = 0;
    let mut picked: Vec<MemoryItem> = Vec::new();
    for r in found {
        if r.score < best * relative_cutoff {
            break;
        }
        if recent
            .iter()
            .any(|t| t.interaction_id == r.record.interaction_id)
        {
            continue;
        }
        let cost = prompt_tokens(&r.record);
        if used + cost > budget_tokens {
            continue;
        }
        used += cost;
        picked.push(memory_item(r, 1.0));
    }
    picked.sort_by_key(|m| m.timestamp);
    picked
}

/// What a turn recalls beyond its recent exchanges: by meaning (the unit's vector) and by the
/// message's words, within the client's tier's `recall_tokens`.
pub async fn recall_for_turn(
    state: &AppState,
    client: &ClientId,
    id: &EmployeeId,
    message: &str,
    unit: &TurnUnit,
    recent: &[InteractionRecord],
    budget_tokens: u32,
) -> Result<Vec<MemoryItem>, AppError> {
    let fusion = fusion(state);
    let mut tx = TenantTx::begin_generic_plans(&state.pool, client).await?;
    let found = repo::recall(
        &mut tx,
        id,
        repo::RecallQuery {
            dense: unit.vector.as_ref().map(|q| (q.model.as_str(), &q.vector)),
            words: message,
        },
        fusion,
        fusion.per_signal,
    )
    .await?;
    tx.commit().await?;
    Ok(within_budget(
        found,
        recent,
        state.settings.file.memory.relative_cutoff,
        budget_tokens as usize,
    ))
}

/// An answered exchange, just stored as number `number`: queued for its vector and put on the
/// recent list.
/// The unit's vector, made for the turn's recall, is stored as is; without one the indexer
/// embeds the unit. An exchange given its own time (`occurred_at`) may not be the newest:
/// the recent list is dropped instead of pushed, and rebuilt from Postgres on its next read.
#[allow(clippy::too_many_arguments)]
pub async fn remember(
    state: &AppState,
    client: &ClientId,
    id: &EmployeeId,
    number: i64,
    interaction_id: &InteractionId,
    message: &str,
    response: &str,
    unit: &TurnUnit,
    created_at: DateTime<Utc>,
    backdated: bool,
    tool_calls: &[crate::core::tool_calls::ToolCallRecord],
    sources: &[crate::core::sources::SourceRecord],
) {
    if let Some(m) = &state.memory {
        let vector = unit
            .vector
            .as_ref()
            .filter(|q| q.model == repo::vector_key(m.embedder.model()))
            .map(|q| q.vector.clone());
        m.indexer.enqueue(IndexJob {
            client: client.clone(),
            employee_id: id.as_str().to_owned(),
            interaction_id: interaction_id.clone(),
            text: repo::memory_unit(message, &unit.prior_reply),
            vector,
            timestamp: created_at,
        });
    }
    if backdated {
        if !recent::purge(&state.cache, client, id).await {
            tracing::warn!(employee_id = %id, "interaction stored; the recent list in Redis could not be dropped now");
        }
        return;
    }
    let item = MemoryItem {
        id: interaction_id.clone(),
        content: message.to_owned(),
        response: response.to_owned(),
        timestamp: created_at,
        relevance_score: 1.0,
        similarity: None,
        keyword_score: None,
        tool_calls: tool_calls.to_vec(),
        sources: sources.to_vec(),
    };
    let owner = recent::Owner {
        keys: &state.secrets,
        client,
        employee: id,
    };
    if !recent::push(&state.cache, owner, number, &item).await {
        tracing::warn!(employee_id = %id, "interaction stored; the recent list in Redis was not updated");
    }
}

/// Drops what Redis holds for a deleted employee.
pub async fn forget(state: &AppState, client: &ClientId, id: &EmployeeId) {
    if !recent::purge(&state.cache, client, id).await {
        tracing::warn!(employee_id = %id, "employee deleted; its cache entries could not be removed now");
    }
}

fn recent_item(r: InteractionRecord) -> MemoryItem {
    MemoryItem {
        id: r.interaction_id,
        content: r.message,
        response: r.response,
        timestamp: r.timestamp,
        relevance_score: 1.0,
        similarity: None,
        keyword_score: None,
        tool_calls: r.tool_calls.0,
        sources: r.sources.0,
    }
}

/// The most recent exchanges, newest first: from Redis when its list agrees with Postgres's
/// count of answered exchanges (one keyed read), else from Postgres, which then rebuilds the
/// list. With Redis down, from Postgres alone.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn recent_memory(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    limit: u32,
) -> Result<Vec<MemoryItem>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    ensure_exists(&mut tx, id).await?;
    let wanted = limit as usize;
    if wanted > recent::RECENT_LIST_LEN || !state.cache.is_up() {
        let rows = repo::recent_interactions(&mut tx, id, limit).await?;
        tx.commit().await?;
        return Ok(rows.into_iter().map(recent_item).collect());
    }
    let answered = repo::answered_turns(&mut tx, id).await?;
    let owner = recent::Owner {
        keys: &state.secrets,
        client: &who.client_id,
        employee: id,
    };
    if let Some(entries) = recent::read(&state.cache, owner, wanted).await {
        if let Some(items) = recent::checked(entries, answered, wanted) {
            return Ok(items);
        }
        metrics::counter!("recent_list_rebuilds_total").increment(1);
        tracing::info!(employee_id = %id, "the recent list in Redis disagrees with Postgres; rebuilding it");
    }
    let (answered, rows) =
        repo::recent_counted(&mut tx, id, recent::RECENT_LIST_LEN as u32).await?;
    tx.commit().await?;
    let items: Vec<MemoryItem> = rows.into_iter().map(recent_item).collect();
    if answered >= items.len() as i64 {
        recent::replace(&state.cache, owner, answered, &items).await;
    }
    Ok(items.into_iter().take(wanted).collect())
}

/// A page of the conversation for the chat, oldest first: the newest page when `before` is
/// `None` (through the recent list, as `recent_memory`), else the page before that exchange.
/// Each turn names the memories it used.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn chat_history(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    before: Option<&InteractionId>,
    limit: u32,
) -> Result<crate::memory::ChatHistory, AppError> {
    use crate::memory::{ChatHistory, ChatTurn, RecalledNote, EXCERPT_CHARS};
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    ensure_exists(&mut tx, id).await?;
    let rows = match before {
        None => repo::recent_interactions(&mut tx, id, limit).await?,
        Some(before) => repo::history_before(&mut tx, id, before, limit).await?,
    };
    let mut wanted: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.memories_used.iter().map(InteractionId::as_str))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let excerpts: std::collections::HashMap<InteractionId, String> = if wanted.is_empty() {
        Default::default()
    } else {
        repo::excerpts(&mut tx, id, &wanted, EXCERPT_CHARS as i32)
            .await?
            .into_iter()
            .collect()
    };
    tx.commit().await?;
    let older = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.interaction_id.clone()))
        .flatten();
    let turns = rows
        .into_iter()
        .rev()
        .map(|r| ChatTurn {
            memories: r
                .memories_used
                .iter()
                .filter_map(|m| {
                    excerpts.get(m).map(|e| RecalledNote {
                        id: m.clone(),
                        excerpt: e.clone(),
                    })
                })
                .collect(),
            id: r.interaction_id,
            message: r.message,
            answer: r.response,
            model: r.model,
            prompt_tokens: r.prompt_tokens.max(0) as u32,
            completion_tokens: r.completion_tokens.max(0) as u32,
            latency_ms: r.latency_ms.max(0) as u32,
            at: r.timestamp,
            stopped: r.stopped,
            tool_calls: r.tool_calls.0,
            sources: r.sources.0,
        })
        .collect();
    Ok(ChatHistory { turns, older })
}

/// The `limit` exchanges that best match `query`, best first: by meaning and keywords fused
/// (`Hybrid`), or by one of them. Without an embedding model (turned off, or not answering) a
/// hybrid search ranks by keywords alone; a semantic one is refused (503).
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn search_memory(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    query: &str,
    mode: SearchMode,
    limit: u32,
) -> Result<Vec<MemoryItem>, AppError> {
    {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        ensure_exists(&mut tx, id).await?;
    }
    let vector = match (mode, &state.memory) {
        (SearchMode::Keyword, _) => None,
        (SearchMode::Semantic, None) => {
            return Err(AppError::Unavailable {
                message: "search by meaning is turned off on this server (memory.embedding_model)"
                    .into(),
            })
        }
        (SearchMode::Hybrid, None) => None,
        (_, Some(m)) => match m.embedder.embed_query(query).await {
            Ok(v) => Some((repo::vector_key(m.embedder.model()), v)),
            Err(e) if mode == SearchMode::Semantic => {
                return Err(AppError::Unavailable {
                    message: format!("the embedding model could not answer: {e}"),
                })
            }
            Err(e) => {
                tracing::warn!(employee_id = %id, "memory search by keywords only: {e}");
                None
            }
        },
    };
    let mut fusion = fusion(state);
    fusion.per_signal = fusion.per_signal.max(limit);
    match mode {
        SearchMode::Semantic => fusion.keyword_weight = 0.0,
        SearchMode::Keyword => fusion.dense_weight = 0.0,
        SearchMode::Hybrid => {}
    }
    let best_possible = (fusion.dense_weight * f64::from(u8::from(vector.is_some()))
        + fusion.keyword_weight)
        / (fusion.k + 1.0);
    let words = if mode == SearchMode::Semantic {
        ""
    } else {
        query
    };
    // One plan for every search (planning the statement anew would cost more than running it).
    let mut tx = TenantTx::begin_generic_plans(&state.pool, &who.client_id).await?;
    let found = repo::recall(
        &mut tx,
        id,
        repo::RecallQuery {
            dense: vector.as_ref().map(|(m, v)| (m.as_str(), v)),
            words,
        },
        fusion,
        limit,
    )
    .await?;
    tx.commit().await?;
    Ok(found
        .into_iter()
        .map(|r| memory_item(r, best_possible))
        .collect())
}

/// Erases exchanges from the employee's memory — their rows, vectors and the Redis list — and
/// writes a receipt to the audit trail in the same transaction: how they were chosen (the
/// criterion's SHA-256, never the term itself), how many, and each one's id and content hash.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn erase(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    what: repo::Erase<'_>,
) -> Result<crate::memory::ErasureReceipt, AppError> {
    use crate::audit::server::service as audit;
    use sha2::{Digest, Sha256};
    let (by, criterion, single) = match &what {
        repo::Erase::One(i) => ("interaction", *i, true),
        repo::Erase::Mentioning(t) => ("mentioning", *t, false),
        repo::Erase::Subject(s) => ("subject_id", *s, false),
    };
    let criterion_sha256 = hex::encode(Sha256::digest(criterion.as_bytes()));
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    ensure_exists(&mut tx, id).await?;
    let erased = repo::erase(&mut tx, id, what).await?;
    if single && erased.is_empty() {
        return Err(AppError::not_found("exchange"));
    }
    audit::record(
        &mut tx,
        &who.actor(),
        crate::audit::AuditAction::MemoryErase,
        id.as_str(),
        None,
        Some(serde_json::json!({
            "by": by,
            "criterion_sha256": criterion_sha256,
            "count": erased.len(),
            "exchanges": erased
                .iter()
                .map(|(i, h)| serde_json::json!({"interaction_id": i, "content_sha256": h}))
                .collect::<Vec<_>>(),
        })),
    )
    .await?;
    tx.commit().await?;
    // The recent list may hold erased exchanges: drop it; the next read rebuilds it from
    // Postgres (and until Redis answers, reads come from Postgres anyway).
    if !recent::purge(&state.cache, &who.client_id, id).await {
        tracing::warn!("exchanges erased; the recent list in Redis could not be dropped now");
    }
    Ok(crate::memory::ErasureReceipt {
        erased: erased.len(),
        interaction_ids: erased.into_iter().map(|(i, _)| i).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(id: &str, day: u32, chars: usize) -> InteractionRecord {
        InteractionRecord {
            interaction_id: InteractionId::from(id.to_owned()),
            message: "m".repeat(chars),
            response: String::new(),
            model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0,
            memories_used: vec![],
            timestamp: Utc
                .with_ymd_and_hms(2024, 1, day, 0, 0, 0)
                .single()
                .expect("date"),
            stopped: false,
            tool_calls: sqlx::types::Json(Vec::new()),
            tool_rounds: 0,
            sources: sqlx::types::Json(Vec::new()),
        }
    }

    fn found(id: &str, day: u32, chars: usize, score: f64) -> repo::Recalled {
        repo::Recalled {
            record: record(id, day, chars),
            score,
            similarity: None,
            keyword: Some(1.0),
        }
    }

    #[test]
    fn recall_fills_the_token_budget_best_first_then_orders_by_time() {
        let ranked = vec![
            found("best", 9, 400, 0.030),     // 112 tokens
            found("recent", 8, 40, 0.029),    // among the recent turns
            found("too-long", 7, 800, 0.028), // 212 tokens: does not fit what is left
            found("short", 2, 40, 0.020),     // 22 tokens
            found("weak", 1, 40, 0.010),      // below 0.4 × the best
        ];
        let recent = [record("recent", 8, 40)];
        let picked = within_budget(ranked, &recent, 0.4, 200);
        let ids: Vec<&str> = picked.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["short", "best"], "oldest first");
        assert!(within_budget(vec![found("x", 1, 4000, 1.0)], &[], 0.4, 200).is_empty());
    }
}
