//! Semantic memory: the embedding model (in-process MiniLM or an OpenAI-compatible provider),
//! the background indexer that embeds each stored exchange off the answer path, and recall.
//!
//! An answer never waits for its own embedding: `persist` hands the exchange to the indexer,
//! which batches, embeds and writes the vector within a second or so. Nothing accepted is lost:
//! whatever the indexer could not take (full queue, embedding error, restart) is picked up by the
//! sweeper, which looks for answered exchanges still without a vector.

use super::config::Settings;
use super::db::{tenant_tx, tenant_tx_async_commit};
use super::ml::embed::{MiniLm, MODEL_NAME as MINILM};
use super::ml::queue::{Full, WorkQueue};
use super::repo::{self, MissingAfter};
use crate::domain::ClientId;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use async_openai::Client;
use chrono::{DateTime, Utc};
use pgvector::HalfVector;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Exchanges embedded per call.
const BATCH: usize = 32;
/// Exchanges waiting for the indexer; beyond this the sweeper catches up later.
const INDEX_QUEUE: usize = 10_000;
/// How long the indexer waits to fill a batch; an exchange is searchable well within a second.
const LINGER: Duration = Duration::from_millis(50);
/// Exchanges the sweeper reads at a time.
const SWEEP_PAGE: u32 = 1000;
/// How far before a dropped exchange's timestamp the sweeper starts looking.
const SWEEP_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

struct EmbedJob {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>, String>>,
}

enum Backend {
    Local(WorkQueue<EmbedJob>),
    Remote(Client<OpenAIConfig>),
}

/// The configured embedding model.
pub struct Embedder {
    model: String,
    backend: Backend,
    timeout: Duration,
}

impl Embedder {
    /// `None` when recall is turned off (`memory.embedding_model = ""`). A provider model whose
    /// key is not set is an error: the operator asked for something that cannot work.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        let model = settings.file.memory.embedding_model.trim().to_owned();
        let timeout = Duration::from_secs(settings.file.limits.model_timeout_seconds);
        if model.is_empty() {
            return Ok(None);
        }
        if model == MINILM {
            let local = &settings.file.local;
            let dir = local.models_dir.clone();
            let queue = WorkQueue::start(
                "embed",
                local.embed_workers,
                local.embed_queue,
                move || MiniLm::load(&dir).map_err(|e| format!("{e:#}")),
                |m: &mut Result<MiniLm, String>, job: EmbedJob| {
                    let out = match m {
                        Ok(m) => m.embed(&job.texts).map_err(|e| format!("{e:#}")),
                        Err(e) => Err(format!("the local embedding model did not load: {e}")),
                    };
                    let _ = job.reply.send(out);
                },
            );
            return Ok(Some(Embedder {
                model,
                backend: Backend::Local(queue),
                timeout,
            }));
        }
        let provider = settings
            .provider_configs()
            .into_iter()
            .find(|p| p.embedding_models.contains(&model))
            .ok_or_else(|| anyhow::anyhow!("no provider offers embedding model {model}"))?;
        let key = provider.api_key.ok_or_else(|| {
            anyhow::anyhow!(
                "embedding model {model} needs {} to be set",
                provider
                    .api_key_env
                    .as_deref()
                    .unwrap_or("the provider's key")
            )
        })?;
        let client = Client::with_config(
            OpenAIConfig::new()
                .with_api_base(provider.base_url)
                .with_api_key(key.expose_secret()),
        );
        Ok(Some(Embedder {
            model,
            backend: Backend::Remote(client),
            timeout,
        }))
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The vector of a text a user is waiting on (ahead of background indexing).
    pub async fn embed_query(&self, text: &str) -> Result<HalfVector, String> {
        let mut v = self.embed(vec![text.to_owned()], true).await?;
        v.pop()
            .map(|v| stored_form(&v))
            .ok_or_else(|| "the embedding model returned nothing".to_owned())
    }

    /// One vector per text. `urgent` puts the job ahead of background indexing.
    pub async fn embed(&self, texts: Vec<String>, urgent: bool) -> Result<Vec<Vec<f32>>, String> {
        let n = texts.len();
        let call = async {
            match &self.backend {
                Backend::Local(queue) => {
                    let (reply, answer) = oneshot::channel();
                    queue
                        .try_push(EmbedJob { texts, reply }, urgent)
                        .map_err(|Full(_)| "the local embedding queue is full".to_owned())?;
                    answer
                        .await
                        .map_err(|_| "the embedding worker stopped".to_owned())?
                }
                Backend::Remote(client) => {
                    let request = CreateEmbeddingRequest {
                        model: self.model.clone(),
                        input: EmbeddingInput::StringArray(texts),
                        ..Default::default()
                    };
                    let mut resp = client
                        .embeddings()
                        .create(request)
                        .await
                        .map_err(|e| e.to_string())?;
                    resp.data.sort_by_key(|d| d.index);
                    Ok(resp.data.into_iter().map(|d| d.embedding).collect())
                }
            }
        };
        let vectors = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| format!("embedding timed out after {:?}", self.timeout))??;
        if vectors.len() != n || vectors.iter().any(|v| v.is_empty()) {
            return Err(format!(
                "the embedding model returned {} vectors for {n} texts",
                vectors.len()
            ));
        }
        if vectors.iter().flatten().any(|x| !x.is_finite()) {
            return Err("the embedding model returned a vector with NaN or infinity".to_owned());
        }
        Ok(vectors)
    }
}

/// How a vector is stored and searched: scaled to unit length (cosine similarity does not
/// change, and every component fits half precision) and kept as `halfvec`, which halves what
/// recall reads.
pub fn stored_form(v: &[f32]) -> HalfVector {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 && norm.is_finite() {
        let unit: Vec<f32> = v.iter().map(|x| (f64::from(*x) / norm) as f32).collect();
        HalfVector::from_f32_slice(&unit)
    } else {
        HalfVector::from_f32_slice(v)
    }
}

/// One exchange to embed.
pub struct IndexJob {
    pub client: ClientId,
    pub employee_id: String,
    pub interaction_id: String,
    pub text: String,
    /// The exchange's timestamp, as stored.
    pub timestamp: DateTime<Utc>,
}

/// The oldest exchange the indexer dropped or failed on since the sweeper last looked: the
/// sweeper then goes over every exchange from there on.
#[derive(Clone, Default)]
struct Missed(Arc<Mutex<Option<DateTime<Utc>>>>);

impl Missed {
    fn note(&self, timestamp: DateTime<Utc>) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m = Some(m.map_or(timestamp, |t| t.min(timestamp)));
    }

    fn take(&self) -> Option<DateTime<Utc>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Hands stored exchanges to the background indexer.
#[derive(Clone)]
pub struct Indexer {
    tx: mpsc::Sender<IndexJob>,
    missed: Missed,
}

impl Indexer {
    /// Starts the indexer and its sweeper on the current runtime.
    pub fn start(pool: PgPool, embedder: Arc<Embedder>, sweep_every: Duration) -> Self {
        let (tx, rx) = mpsc::channel(INDEX_QUEUE);
        let missed = Missed::default();
        let model = embedder.model().to_owned();
        tokio::spawn(run_indexer(pool.clone(), embedder, rx, missed.clone()));
        tokio::spawn(run_sweeper(
            pool,
            model,
            sweep_every,
            tx.downgrade(),
            missed.clone(),
        ));
        Indexer { tx, missed }
    }

    /// Never waits: when the queue is full the sweeper embeds the exchange later.
    pub fn enqueue(&self, job: IndexJob) {
        let timestamp = job.timestamp;
        if self.tx.try_send(job).is_err() {
            tracing::warn!("indexer queue full; the sweeper will embed this exchange");
            self.missed.note(timestamp);
        }
    }
}

async fn run_indexer(
    pool: PgPool,
    embedder: Arc<Embedder>,
    mut rx: mpsc::Receiver<IndexJob>,
    missed: Missed,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // A steady trickle of exchanges (one conversation) is written in batches too: wait a
        // moment for more before embedding and writing.
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            tokio::select! {
                _ = &mut linger => break,
                n = rx.recv_many(&mut batch, room) => if n == 0 { break },
            }
        }
        let texts = batch.iter().map(|j| j.text.clone()).collect();
        let failed = match embedder.embed(texts, false).await {
            Ok(vectors) => store(&pool, embedder.model(), &batch, vectors)
                .await
                .map_err(|e| format!("storing embeddings failed: {e}")),
            Err(e) => Err(format!("embedding failed: {e}")),
        };
        if let Err(e) = failed {
            tracing::warn!("{e} (the sweeper will retry)");
            if let Some(oldest) = batch.iter().map(|j| j.timestamp).min() {
                missed.note(oldest);
            }
        }
        batch.clear();
    }
}

/// Writes a batch's vectors, one tenant transaction per client.
async fn store(
    pool: &PgPool,
    model: &str,
    batch: &[IndexJob],
    vectors: Vec<Vec<f32>>,
) -> Result<(), sqlx::Error> {
    let mut by_client: BTreeMap<&str, Vec<(&IndexJob, HalfVector)>> = BTreeMap::new();
    for (job, v) in batch.iter().zip(vectors) {
        by_client
            .entry(job.client.as_str())
            .or_default()
            .push((job, stored_form(&v)));
    }
    for rows in by_client.values() {
        let client = &rows[0].0.client;
        // A vector lost in a crash before the WAL is flushed is redone by the sweeper's pass at
        // start-up, so this commit need not wait for the disk.
        let mut tx = tenant_tx_async_commit(pool, client).await?;
        let employees: Vec<&str> = rows.iter().map(|(j, _)| j.employee_id.as_str()).collect();
        let ids: Vec<&str> = rows
            .iter()
            .map(|(j, _)| j.interaction_id.as_str())
            .collect();
        let vectors: Vec<&HalfVector> = rows.iter().map(|(_, v)| v).collect();
        repo::insert_vectors(&mut tx, client, &employees, &ids, model, &vectors).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Finds answered exchanges without a vector of the current model and queues them (waiting for
/// room, so nothing is dropped):
/// * once at start-up, every exchange: what a crash or restart left undone, and after a switch
///   of embedding model the whole history, which is then embedded again with the new model;
/// * then, every `every` (`memory.sweep_seconds`), the exchanges from the oldest one the
///   indexer dropped or failed on, when it did; otherwise the sweeper has nothing to do.
async fn run_sweeper(
    pool: PgPool,
    model: String,
    every: Duration,
    tx: mpsc::WeakSender<IndexJob>,
    missed: Missed,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut whole_pass_done = false;
    loop {
        tick.tick().await;
        let Some(sender) = tx.upgrade() else { return };
        if !whole_pass_done {
            match sweep(&pool, &model, &sender, None).await {
                Ok(()) => whole_pass_done = true,
                Err(e) => tracing::warn!("memory sweep over all exchanges failed: {e}"),
            }
            continue;
        }
        let Some(since) = missed.take() else { continue };
        // A row becomes visible at its commit, a moment after its timestamp was taken.
        let from = since.checked_sub_signed(SWEEP_MARGIN).unwrap_or(since);
        if let Err(e) = sweep(&pool, &model, &sender, Some(from)).await {
            tracing::warn!("memory sweep failed: {e}");
            missed.note(since);
        }
    }
}

/// Queues every answered exchange without a vector of `model`: all of them (`from` None), or
/// those stored from `from` on.
async fn sweep(
    pool: &PgPool,
    model: &str,
    tx: &mpsc::Sender<IndexJob>,
    from: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let clients = {
        let mut conn = pool.acquire().await?;
        repo::list_all_clients(&mut conn).await?
    };
    for c in clients {
        // The last exchange queued: (employee, exchange, timestamp).
        let mut last: Option<(String, String, DateTime<Utc>)> = None;
        loop {
            let after = match (&last, from) {
                (None, None) => MissingAfter::Employee(""),
                (None, Some(from)) => MissingAfter::Time(from),
                (Some((employee, _, _)), None) => MissingAfter::Employee(employee),
                (Some((_, _, timestamp)), Some(_)) => MissingAfter::Time(*timestamp),
            };
            let after_interaction = last.as_ref().map_or("", |(_, id, _)| id.as_str());
            let page = {
                let mut t = tenant_tx(pool, &c.id).await?;
                let p = repo::missing_vectors(
                    &mut t,
                    &c.id,
                    model,
                    after,
                    after_interaction,
                    SWEEP_PAGE,
                )
                .await?;
                t.commit().await?;
                p
            };
            let full = page.len() == SWEEP_PAGE as usize;
            let cursor = page
                .last()
                .map(|p| (p.employee_id.clone(), p.interaction_id.clone(), p.timestamp));
            for p in page {
                let job = IndexJob {
                    client: c.id.clone(),
                    employee_id: p.employee_id,
                    interaction_id: p.interaction_id,
                    text: p.text,
                    timestamp: p.timestamp,
                };
                if tx.send(job).await.is_err() {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
            last = cursor;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::stored_form;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    fn floats(v: &pgvector::HalfVector) -> Vec<f32> {
        v.as_slice().iter().map(|x| x.to_f32()).collect()
    }

    #[test]
    fn stored_vectors_are_unit_length_and_keep_their_direction() {
        // A provider may return vectors of any length, with components far outside half
        // precision's range; stored, they are unit vectors pointing the same way.
        let a = [300_000.0, -400_000.0, 0.0, 1.0];
        let b = [1.0, 2.0, 3.0, 4.0];
        let (sa, sb) = (floats(&stored_form(&a)), floats(&stored_form(&b)));
        assert!(sa.iter().all(|x| x.is_finite()));
        let len = sa.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((len - 1.0).abs() < 1e-3, "length {len}");
        assert!((sa[0] - 0.6).abs() < 1e-3 && (sa[1] + 0.8).abs() < 1e-3);
        assert!((cosine(&sa, &sb) - cosine(&a, &b)).abs() < 1e-3);
        // A zero vector has no direction and stays as it is.
        assert_eq!(floats(&stored_form(&[0.0, 0.0])), vec![0.0, 0.0]);
    }
}
