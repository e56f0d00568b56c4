//! Knowledge operations: collections and documents, each change in one tenant transaction with
//! its audit event. An upload is checked (format, size, the tier's count), stored with its bytes
//! and handed to the ingester; the answer does not wait for it.

use super::repo::{self, NewDocument};
use crate::accounts::ClientPrincipal;
use crate::audit::server::service as audit;
use crate::audit::AuditAction;
use crate::core::AppError;
use crate::knowledge::*;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use serde_json::json;

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn list_collections(
    state: &AppState,
    who: &ClientPrincipal,
) -> Result<Vec<Collection>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let list = repo::collections(&mut tx, None).await?;
    tx.commit().await?;
    Ok(list)
}

async fn collection_in(tx: &mut TenantTx, name: &str) -> Result<Collection, AppError> {
    repo::collections(tx, Some(name))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("collection"))
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn get_collection(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<Collection, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let c = collection_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(c)
}

/// Creates a collection; a name already taken is a 409.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn create_collection(
    state: &AppState,
    who: &ClientPrincipal,
    spec: &CollectionSpec,
) -> Result<Collection, AppError> {
    let spec = validate_collection(spec)?;
    let description = spec.description.clone().unwrap_or_default();
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    repo::insert_collection(&mut tx, &spec.name, &description)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::conflict(format!("there is already a collection named {}", spec.name))
            }
            other => other.into(),
        })?;
    let created = collection_in(&mut tx, &spec.name).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::KnowledgeCollectionCreate,
        &spec.name,
        None,
        Some(json!({"description": description})),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Deletes a collection with its documents, chunks and vectors. Employees that name it keep
/// working without it.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn delete_collection(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = collection_in(&mut tx, name).await?;
    repo::delete_collection(&mut tx, name).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::KnowledgeCollectionDelete,
        name,
        Some(json!({"documents": current.documents, "chunks": current.chunks})),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn list_documents(
    state: &AppState,
    who: &ClientPrincipal,
    collection: &str,
) -> Result<Vec<Document>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    collection_in(&mut tx, collection).await?;
    let docs = repo::documents(&mut tx, collection, None).await?;
    tx.commit().await?;
    Ok(docs)
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn get_document(
    state: &AppState,
    who: &ClientPrincipal,
    collection: &str,
    id: &str,
) -> Result<Document, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let doc = repo::documents(&mut tx, collection, Some(id)).await?;
    tx.commit().await?;
    doc.into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("document"))
}

/// An uploaded file as the REST route or the page received it.
pub struct Upload {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub title: Option<String>,
    pub bytes: Vec<u8>,
}

/// The largest upload the client's tier allows.
pub fn max_document_bytes(state: &AppState, who: &ClientPrincipal) -> usize {
    state
        .settings
        .file
        .tiers
        .get(&who.tier)
        .map_or(5 * 1024 * 1024, |t| t.max_document_bytes as usize)
}

/// Stores a document for ingestion: a format we read (415 otherwise), within the tier's size
/// (413) and count (409), not empty (422). Answers at once, with the document queued.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn upload_document(
    state: &AppState,
    who: &ClientPrincipal,
    collection: &str,
    upload: Upload,
) -> Result<Document, AppError> {
    let format =
        DocumentFormat::detect(upload.content_type.as_deref(), upload.file_name.as_deref())
            .ok_or_else(|| AppError::UnsupportedMediaType {
                message: format!(
                    "{} is not a format documents can be read from; upload {ACCEPTED_FORMATS}",
                    upload
                        .file_name
                        .as_deref()
                        .or(upload.content_type.as_deref())
                        .unwrap_or("the file")
                ),
            })?;
    let max = max_document_bytes(state, who);
    if upload.bytes.len() > max {
        return Err(AppError::PayloadTooLarge {
            message: format!(
                "the document is {} bytes; your plan takes documents up to {max} bytes",
                upload.bytes.len()
            ),
        });
    }
    if upload.bytes.is_empty() {
        return Err(AppError::field("file", "is empty"));
    }
    let title = document_title(upload.title.as_deref(), upload.file_name.as_deref());
    let id = format!("doc_{}", hex::encode(rand::random::<[u8; 12]>()));
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    collection_in(&mut tx, collection).await?;
    repo::lock_for_upload(&mut tx).await?;
    let limit = state
        .settings
        .file
        .tiers
        .get(&who.tier)
        .map_or(100, |t| t.max_documents);
    if repo::count_documents(&mut tx).await? >= i64::from(limit) {
        return Err(AppError::LimitExceeded {
            message: format!(
                "client has reached its limit of {limit} documents (delete one first)"
            ),
        });
    }
    repo::insert_document(
        &mut tx,
        &NewDocument {
            id: &id,
            collection,
            title: &title,
            media_type: format.media_type(),
            content: &upload.bytes,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::KnowledgeDocumentUpload,
        &id,
        None,
        Some(
            json!({"collection": collection, "title": title, "media_type": format.media_type(),
                    "bytes": upload.bytes.len()}),
        ),
    )
    .await?;
    let doc = repo::documents(&mut tx, collection, Some(&id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("document"))?;
    tx.commit().await?;
    state.ingester.wake();
    Ok(doc)
}

/// Deletes a document with its chunks and vectors.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn delete_document(
    state: &AppState,
    who: &ClientPrincipal,
    collection: &str,
    id: &str,
) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::documents(&mut tx, collection, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("document"))?;
    repo::delete_document(&mut tx, collection, id).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::KnowledgeDocumentDelete,
        id,
        Some(json!({"collection": collection, "title": current.title,
                    "chunks": current.chunk_count})),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The query's vector by the configured embedding model, and the key its vectors are stored
/// under; none (a search by words alone) without a model, when it fails, or past `budget`.
async fn query_vector(
    state: &AppState,
    query: &str,
    budget: Option<std::time::Duration>,
) -> (Option<pgvector::HalfVector>, String) {
    let Some(m) = &state.memory else {
        return (None, String::new());
    };
    let embedding = m.embedder.embed_query(query);
    let result = match budget {
        Some(b) => tokio::time::timeout(b, embedding)
            .await
            .unwrap_or_else(|_| Err(format!("no vector within {b:?}"))),
        None => embedding.await,
    };
    match result {
        Ok(v) => (Some(v), super::ingest::vector_key(m.embedder.model())),
        Err(e) => {
            tracing::warn!("knowledge search by words only: the query could not be embedded: {e}");
            (None, String::new())
        }
    }
}

/// The `limit` passages of the collections `names` that best answer `query`, ranked as memory
/// recall ranks, best first, each at least `relative_cutoff` × the best's score.
async fn search_in(
    state: &AppState,
    tx: &mut TenantTx,
    names: &[String],
    query: &str,
    vector: (Option<pgvector::HalfVector>, String),
    limit: u32,
    time_limit_ms: Option<u64>,
) -> Result<Vec<KnowledgeHit>, AppError> {
    let mut fusion = repo::Fusion::from_settings(&state.settings.file.memory);
    fusion.per_signal = fusion.per_signal.max(limit);
    let (vector, model) = vector;
    let found = repo::search(
        tx,
        &model,
        names,
        vector.as_ref(),
        query,
        fusion,
        limit,
        time_limit_ms,
    )
    .await?;
    let floor = found.first().map_or(0.0, |f| f.score) * state.settings.file.memory.relative_cutoff;
    Ok(found
        .into_iter()
        .filter(|f| f.score >= floor)
        .map(|f| KnowledgeHit {
            document_id: f.document_id,
            title: f.title,
            collection: f.collection,
            chunk: f.ord,
            text: f.text,
            score: f.score,
        })
        .collect())
}

/// The `limit` passages of the client's knowledge that best answer `query`: within
/// `collections` (all the client's when None), ranked as memory recall ranks (vectors of the
/// configured embedding model and words, fused). Without an embedding model, or when it fails,
/// by words alone.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn search_knowledge(
    state: &AppState,
    who: &ClientPrincipal,
    collections: Option<&[String]>,
    query: &str,
    limit: u32,
) -> Result<Vec<KnowledgeHit>, AppError> {
    let vector = query_vector(state, query, None).await;
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let names: Vec<String> = match collections {
        Some(list) => list.to_vec(),
        None => repo::collections(&mut tx, None)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect(),
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let found = search_in(state, &mut tx, &names, query, vector, limit, None).await?;
    tx.commit().await?;
    Ok(found)
}

/// The passages a turn's prompt carries: the best of `collections` (those of the employee's
/// knowledge sources that hold chunks) for the message, at most the configured
/// `passages_per_turn`. The message's vector is waited for as long as recall waits for its
/// own, the search for `search_timeout_ms`; a failure costs the turn its passages (logged),
/// never its answer.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn passages_for_turn(
    state: &AppState,
    who: &ClientPrincipal,
    collections: &[String],
    message: &str,
) -> Vec<KnowledgeHit> {
    let limit = state.settings.file.knowledge.passages_per_turn;
    if collections.is_empty() || limit == 0 {
        return Vec::new();
    }
    let budget = std::time::Duration::from_millis(state.settings.file.memory.recall_timeout_ms);
    let vector = query_vector(state, message, Some(budget)).await;
    let found = async {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        // A search that runs long costs the turn its passages, not its answer's time.
        let timeout = Some(state.settings.file.knowledge.search_timeout_ms);
        let found = search_in(state, &mut tx, collections, message, vector, limit, timeout).await?;
        tx.commit().await?;
        Ok::<_, AppError>(found)
    };
    found.await.unwrap_or_else(|e| {
        tracing::warn!("the turn goes on without its knowledge passages: {e}");
        Vec::new()
    })
}
