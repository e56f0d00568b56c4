//! The background indexer: embeds each stored exchange off the answer path and writes its
//! vector. An answer never waits for its own embedding: the turn hands the exchange over here,
//! and it is batched, embedded and written within a second or so. Nothing accepted is lost:
//! whatever the indexer could not take (full queue, embedding error, restart) is picked up by
//! the sweeper (`sweeper.rs`), which looks for answered exchanges still without a vector.

use super::jobs::{IndexJob, Missed};
use super::repo;
use super::sweeper::run_sweeper;
use crate::ai::embeddings::{stored_form, EmbedRole, Embedder};
use crate::platform::db::TenantTx;
use chrono::Utc;
use pgvector::HalfVector;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Exchanges written per statement.
const BATCH: usize = 32;
/// Exchanges embedded per call to the model: a turn's query jumps the queue of the local model
/// at the next call, so this bounds how long it waits behind indexing (at ~35 units a second a
/// core, ~0.25 s).
const EMBED_CHUNK: usize = 8;
/// Exchanges waiting for the indexer; beyond this the sweeper catches up later.
const INDEX_QUEUE: usize = 10_000;
/// How long the indexer waits to fill a batch; an exchange is searchable well within a second.
const LINGER: Duration = Duration::from_millis(50);

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
        let model = repo::vector_key(embedder.model());
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

    /// Exchanges waiting to be embedded.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
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
    let key = repo::vector_key(embedder.model());
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
        let failed = match vectors_of(&embedder, &mut batch).await {
            Ok(vectors) => store(&pool, &key, &batch, vectors)
                .await
                .map_err(|e| format!("storing embeddings failed: {e}")),
            Err(e) => Err(format!("embedding failed: {e}")),
        };
        match &failed {
            Ok(()) => {
                let now = Utc::now();
                for job in &batch {
                    let lag = (now - job.timestamp).to_std().unwrap_or_default();
                    metrics::histogram!("memory_index_lag_seconds").record(lag.as_secs_f64());
                }
            }
            Err(_) => metrics::counter!("memory_index_failures_total").increment(1),
        }
        if let Err(e) = failed {
            tracing::warn!("{e} (the sweeper will retry)");
            if let Some(oldest) = batch.iter().map(|j| j.timestamp).min() {
                missed.note(oldest);
            }
        }
        batch.clear();
    }
}

/// The vectors of a batch, in its order: those its turns made already, and the others embedded
/// (in chunks of `EMBED_CHUNK`, so a query waits behind one chunk at most, never a whole batch).
async fn vectors_of(
    embedder: &Embedder,
    batch: &mut [IndexJob],
) -> Result<Vec<HalfVector>, String> {
    let missing: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].vector.is_none())
        .collect();
    for chunk in missing.chunks(EMBED_CHUNK) {
        let texts = chunk.iter().map(|&i| batch[i].text.clone()).collect();
        let vectors = embedder.embed(texts, EmbedRole::Passage, false).await?;
        for (&i, v) in chunk.iter().zip(vectors) {
            batch[i].vector = Some(stored_form(&v));
        }
    }
    batch
        .iter_mut()
        .map(|j| {
            j.vector
                .take()
                .ok_or_else(|| "an exchange was left without a vector".to_owned())
        })
        .collect()
}

/// Writes a batch's vectors, one tenant transaction per client.
async fn store(
    pool: &PgPool,
    model: &str,
    batch: &[IndexJob],
    vectors: Vec<HalfVector>,
) -> Result<(), sqlx::Error> {
    let mut by_client: BTreeMap<&str, Vec<(&IndexJob, HalfVector)>> = BTreeMap::new();
    for (job, v) in batch.iter().zip(vectors) {
        by_client
            .entry(job.client.as_str())
            .or_default()
            .push((job, v));
    }
    for rows in by_client.values() {
        let client = &rows[0].0.client;
        // A vector lost in a crash before the WAL is flushed is redone by the sweeper's pass at
        // start-up, so this commit need not wait for the disk.
        let mut tx = TenantTx::begin_async_commit(pool, client).await?;
        let employees: Vec<&str> = rows.iter().map(|(j, _)| j.employee_id.as_str()).collect();
        let ids: Vec<&str> = rows
            .iter()
            .map(|(j, _)| j.interaction_id.as_str())
            .collect();
        let vectors: Vec<&HalfVector> = rows.iter().map(|(_, v)| v).collect();
        repo::insert_vectors(&mut tx, &employees, &ids, model, &vectors).await?;
        tx.commit().await?;
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use crate::ai::embeddings::stored_form;

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
