//! What an employee remembers: what a turn is given (recent exchanges and recalled ones), what
//! happens to an answered exchange (indexed, pushed on the recent list), and the reads behind
//! the memory browser and `GET …/memory`.

use super::jobs::IndexJob;
use super::{recent, repo};
use crate::accounts::ClientPrincipal;
use crate::conversations::server::repo::InteractionRecord;
use crate::core::{AppError, ClientId, EmployeeId, InteractionId};
use crate::employees::server::lookup::ensure_exists;
use crate::memory::MemoryItem;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use chrono::{DateTime, Utc};
use pgvector::HalfVector;

/// The query vector of a message, with the model that made it; `None` when recall is off or
/// the embedding model failed (the turn then goes on without recall).
pub struct QueryVector {
    model: String,
    vector: HalfVector,
}

/// What a turn is given: the newest exchanges, oldest first, and the recalled ones, best first.
pub struct Remembered {
    pub recent: Vec<InteractionRecord>,
    pub recalled: Vec<MemoryItem>,
}

fn memory_item(r: repo::Recalled) -> MemoryItem {
    MemoryItem {
        relevance_score: r.score,
        ..recent_item(r.record)
    }
}

/// The vector of a new message, for recall. A failed embedding costs the turn its recall, not
/// its answer.
pub async fn query_vector(state: &AppState, id: &EmployeeId, message: &str) -> Option<QueryVector> {
    let m = state.memory.as_ref()?;
    let budget = std::time::Duration::from_millis(state.settings.file.memory.recall_timeout_ms);
    match m.embedder.embed_query_within(message, budget).await {
        Ok(vector) => Some(QueryVector {
            model: m.embedder.model().to_owned(),
            vector,
        }),
        Err(e) => {
            tracing::warn!(employee_id = %id, "no recall for this turn: {e}");
            None
        }
    }
}

/// The recent exchanges and, with a query vector, the most relevant older ones, in one read of
/// the turn's transaction.
pub async fn for_turn(
    state: &AppState,
    tx: &mut TenantTx,
    id: &EmployeeId,
    query: Option<&QueryVector>,
) -> Result<Remembered, AppError> {
    let recent_turns = state.settings.file.limits.recent_turns;
    let memory = &state.settings.file.memory;
    let (mut recent, recalled) = match query {
        // Enough to still have `recall_k` once the recent turns are left out.
        Some(q) => {
            repo::recent_and_recalled(
                tx,
                id,
                recent_turns,
                &q.model,
                &q.vector,
                memory.recall_k + recent_turns,
            )
            .await?
        }
        None => (
            repo::recent_interactions(tx, id, recent_turns).await?,
            Vec::new(),
        ),
    };
    recent.reverse();
    let recalled = recalled
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
    Ok(Remembered { recent, recalled })
}

/// An answered exchange, just stored as number `number`: queued for its vector and put on the
/// recent list.
#[allow(clippy::too_many_arguments)]
pub async fn remember(
    state: &AppState,
    client: &ClientId,
    id: &EmployeeId,
    number: i64,
    interaction_id: &InteractionId,
    message: &str,
    response: &str,
    created_at: DateTime<Utc>,
) {
    if let Some(m) = &state.memory {
        m.indexer.enqueue(IndexJob {
            client: client.clone(),
            employee_id: id.as_str().to_owned(),
            interaction_id: interaction_id.clone(),
            text: repo::embedding_text(message, response),
            timestamp: created_at,
        });
    }
    let item = MemoryItem {
        id: interaction_id.clone(),
        content: message.to_owned(),
        response: response.to_owned(),
        timestamp: created_at,
        relevance_score: 1.0,
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
        })
        .collect();
    Ok(ChatHistory { turns, older })
}

/// The `limit` exchanges most similar to `query`, best first, with their cosine similarity.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
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
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        ensure_exists(&mut tx, id).await?;
    }
    let vector = m
        .embedder
        .embed_query(query)
        .await
        .map_err(|e| AppError::Unavailable {
            message: format!("the embedding model could not answer: {e}"),
        })?;
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let found = repo::recall(&mut tx, id, m.embedder.model(), &vector, limit).await?;
    tx.commit().await?;
    Ok(found.into_iter().map(memory_item).collect())
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
