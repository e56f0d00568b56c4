//! The ingester: turns uploaded documents into chunks off the request path. An upload is stored
//! (with its bytes) and acknowledged at once; the ingester, woken by it or by its timer, takes
//! each waiting document under a lease, extracts and splits its text, embeds the chunks in
//! batches (reporting progress, which renews the lease) and stores them in one transaction.
//! Nothing accepted is lost: a document whose instance stopped mid-way keeps its bytes until it
//! is ready, and once its lease runs out any instance takes it up again.

use super::extract::{self, Sizer};
use super::repo;
use crate::ai::embeddings::{stored_form, EmbedRole, Embedder};
use crate::core::ClientId;
use crate::knowledge::DocumentFormat;
use crate::platform::db::{OperatorConn, TenantTx};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a document is held by the instance ingesting it without a sign of progress.
pub const LEASE_SECONDS: i32 = 60;
/// Chunks embedded per call to the model (and per progress report).
const EMBED_BATCH: usize = 16;
/// Documents listed per look for work.
const PENDING_PAGE: i32 = 32;

/// Wakes the ingester.
#[derive(Clone)]
pub struct Ingester {
    wake: Arc<Notify>,
}

impl Ingester {
    /// Starts the ingester on the current runtime; `every` is how often it looks for work when
    /// nothing wakes it (for documents left by a stopped instance).
    pub fn start(
        pool: PgPool,
        embedder: Option<Arc<Embedder>>,
        models_dir: std::path::PathBuf,
        every: Duration,
    ) -> Ingester {
        let wake = Arc::new(Notify::new());
        let sizer = Arc::new(Sizer::load(&models_dir));
        tokio::spawn(run(pool, embedder, sizer, wake.clone(), every));
        Ingester { wake }
    }

    /// A document was uploaded.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn run(
    pool: PgPool,
    embedder: Option<Arc<Embedder>>,
    sizer: Arc<Sizer>,
    wake: Arc<Notify>,
    every: Duration,
) {
    // Once at start, after a switch of embedding model: the chunks without a vector of the
    // current model are embedded again, beside the old model's vectors (kept for a switch back).
    if let Some(embedder) = &embedder {
        if let Err(e) = embed_missing(&pool, embedder).await {
            tracing::warn!("embedding chunks again with the current model failed: {e}");
        }
    }
    loop {
        loop {
            let waiting = match pending(&pool).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!("listing documents to ingest failed: {e}");
                    break;
                }
            };
            if waiting.is_empty() {
                break;
            }
            let mut took_any = false;
            for (client, id) in waiting {
                match ingest(&pool, embedder.as_deref(), &sizer, &client, &id).await {
                    Ok(took) => took_any |= took,
                    Err(e) => {
                        tracing::warn!(document = %id, "ingesting a document failed: {e} (retried when its lease runs out)")
                    }
                }
            }
            if !took_any {
                break; // what waits is another instance's, under its lease
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Chunks embedded again per page.
const MISSING_PAGE: i64 = 256;

/// Embeds every client's chunks that have no vector of `embedder`'s model.
async fn embed_missing(pool: &PgPool, embedder: &Embedder) -> Result<(), String> {
    let key = vector_key(embedder.model());
    let clients = crate::clients::server::service::all_client_ids(pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut total = 0usize;
    for client in clients {
        loop {
            let page = {
                let mut tx = TenantTx::begin(pool, &client)
                    .await
                    .map_err(|e| e.to_string())?;
                let p = repo::unembedded(&mut tx, &key, MISSING_PAGE)
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
                p
            };
            if page.is_empty() {
                break;
            }
            let mut vectors = Vec::with_capacity(page.len());
            for batch in page.chunks(EMBED_BATCH) {
                let texts = batch.iter().map(|c| c.text.clone()).collect();
                let embedded = embedder.embed(texts, EmbedRole::Passage, false).await?;
                vectors.extend(embedded.iter().map(|v| stored_form(v)));
            }
            let mut tx = TenantTx::begin(pool, &client)
                .await
                .map_err(|e| e.to_string())?;
            repo::insert_missing_vectors(&mut tx, &key, &page, &vectors)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            total += page.len();
            if page.len() < MISSING_PAGE as usize {
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(chunks = total, model = %key, "knowledge chunks embedded with the current model");
    }
    Ok(())
}

async fn pending(pool: &PgPool) -> Result<Vec<(ClientId, String)>, sqlx::Error> {
    let mut conn = OperatorConn::acquire(pool).await?;
    repo::pending(&mut conn, PENDING_PAGE).await
}

/// Ingests one document if it can be taken; whether it was.
async fn ingest(
    pool: &PgPool,
    embedder: Option<&Embedder>,
    sizer: &Arc<Sizer>,
    client: &ClientId,
    id: &str,
) -> Result<bool, String> {
    let claimed = {
        let mut tx = TenantTx::begin(pool, client)
            .await
            .map_err(|e| e.to_string())?;
        let c = repo::claim(&mut tx, id, LEASE_SECONDS)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        c
    };
    let Some(doc) = claimed else { return Ok(false) };
    let started = std::time::Instant::now();
    let Some(format) = DocumentFormat::of_media_type(&doc.media_type) else {
        fail(pool, client, id, "its format is not supported").await?;
        return Ok(true);
    };
    // Extraction and splitting are CPU work (a PDF, a tokenizer): off the async threads.
    let sizer = sizer.clone();
    let bytes = doc.content;
    let split = tokio::task::spawn_blocking(move || {
        extract::text_of(format, &bytes).map(|text| extract::chunks(format, &text, &sizer))
    })
    .await
    .map_err(|_| "the text could not be read".to_owned())
    .and_then(|r| r);
    let texts = match split {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => {
            fail(pool, client, id, "the document has no text").await?;
            return Ok(true);
        }
        Err(why) => {
            fail(pool, client, id, &why).await?;
            return Ok(true);
        }
    };
    let mut vectors = Vec::with_capacity(texts.len());
    if let Some(embedder) = embedder {
        for (i, batch) in texts.chunks(EMBED_BATCH).enumerate() {
            let embedded = embedder
                .embed(batch.to_vec(), EmbedRole::Passage, false)
                .await
                .map_err(|e| format!("embedding failed: {e}"))?;
            vectors.extend(embedded.iter().map(|v| stored_form(v)));
            let done = ((i + 1) * EMBED_BATCH).min(texts.len());
            let mut tx = TenantTx::begin(pool, client)
                .await
                .map_err(|e| e.to_string())?;
            repo::set_progress(&mut tx, id, done as f32 / texts.len() as f32, LEASE_SECONDS)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
        }
    }
    let model = embedder.map_or_else(String::new, |e| vector_key(e.model()));
    let mut tx = TenantTx::begin(pool, client)
        .await
        .map_err(|e| e.to_string())?;
    let stored = repo::store_chunks(&mut tx, id, &doc.collection, &texts, &model, &vectors)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    metrics::counter!("knowledge_chunks_ingested_total").increment(texts.len() as u64);
    metrics::histogram!("knowledge_ingest_seconds").record(started.elapsed().as_secs_f64());
    if stored {
        tracing::info!(document = %id, chunks = texts.len(), "document ingested");
    }
    Ok(true)
}

/// The key a chunk's vectors are stored under: the model and how its chunks are made, so a
/// change of either embeds them again (as memory's `vector_key` does).
pub fn vector_key(model: &str) -> String {
    format!("{model}#chunk1")
}

async fn fail(pool: &PgPool, client: &ClientId, id: &str, why: &str) -> Result<(), String> {
    tracing::info!(document = %id, "document failed: {why}");
    let mut tx = TenantTx::begin(pool, client)
        .await
        .map_err(|e| e.to_string())?;
    repo::fail(&mut tx, id, why)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}
