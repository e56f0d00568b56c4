//! The embedding model: all-MiniLM-L6-v2 or multilingual-e5-small in-process, or a provider's
//! model over the OpenAI wire protocol. Vectors come back checked (one per text, finite) and,
//! for storage and search, in `stored_form`: unit length, half precision.

use super::inference::e5::{E5Small, MODEL_NAME as E5};
use super::inference::embed::{MiniLm, MODEL_NAME as MINILM};
use super::inference::queue::{BackgroundPriority, Full, Threads, UrgentHold, WorkQueue};
pub use super::inference::EmbedRole;
use super::inference::Precision;
use super::openai;
use crate::platform::config::{EmbedPrecision, IndexPriority, Settings};
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use async_openai::Client;
use pgvector::HalfVector;
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;

struct EmbedJob {
    texts: Vec<String>,
    role: EmbedRole,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>, String>>,
}

/// Urgent embeddings (turns waiting) a local worker runs in one pass.
const URGENT_BATCH: usize = 16;

/// An in-process embedding model.
enum LocalModel {
    MiniLm(Box<MiniLm>),
    E5(Box<E5Small>),
}

impl LocalModel {
    fn load(name: &str, dir: &std::path::Path, precision: Precision) -> anyhow::Result<Self> {
        Ok(if name == E5 {
            LocalModel::E5(Box::new(E5Small::load(dir, precision)?))
        } else {
            LocalModel::MiniLm(Box::new(MiniLm::load(dir, precision)?))
        })
    }

    fn embed(&self, texts: &[String], role: EmbedRole) -> anyhow::Result<Vec<Vec<f32>>> {
        match self {
            LocalModel::MiniLm(m) => m.embed(texts),
            LocalModel::E5(m) => m.embed(texts, role),
        }
    }

    /// Whether a text's role changes its vector (a prefix); if not, texts of both roles share a
    /// forward pass.
    fn reads_roles(&self) -> bool {
        matches!(self, LocalModel::E5(_))
    }
}

/// Runs several jobs' texts through the model, one call per role the model tells apart, and
/// answers each job with its own vectors (or the error, to each).
fn embed_jobs(model: &mut Result<Arc<LocalModel>, String>, jobs: Vec<EmbedJob>) {
    let m = match model {
        Ok(m) => m,
        Err(e) => {
            for job in jobs {
                let _ = job
                    .reply
                    .send(Err(format!("the local embedding model did not load: {e}")));
            }
            return;
        }
    };
    if !m.reads_roles() {
        embed_together(m, EmbedRole::Passage, jobs);
        return;
    }
    let (queries, passages): (Vec<EmbedJob>, Vec<EmbedJob>) =
        jobs.into_iter().partition(|j| j.role == EmbedRole::Query);
    for (role, jobs) in [(EmbedRole::Query, queries), (EmbedRole::Passage, passages)] {
        if !jobs.is_empty() {
            embed_together(m, role, jobs);
        }
    }
}

fn embed_together(m: &LocalModel, role: EmbedRole, jobs: Vec<EmbedJob>) {
    let texts: Vec<String> = jobs.iter().flat_map(|j| j.texts.iter().cloned()).collect();
    match m.embed(&texts, role).map_err(|e| format!("{e:#}")) {
        Ok(mut vectors) if vectors.len() == texts.len() => {
            // Hand each job its share, in order.
            for job in jobs.into_iter().rev() {
                let rest = vectors.split_off(vectors.len() - job.texts.len());
                let _ = job.reply.send(Ok(rest));
            }
        }
        Ok(vectors) => {
            let e = format!(
                "the model returned {} vectors for {} texts",
                vectors.len(),
                texts.len()
            );
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
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
    /// Whether the last call answered (for `/readyz`).
    answering: AtomicBool,
}

impl Embedder {
    /// With an in-process model, a hold under which background embedding (indexing) pauses:
    /// a chat turn keeps it from start to end. `None` for a provider's model.
    pub fn hold_for_turn(&self) -> Option<UrgentHold> {
        match &self.backend {
            Backend::Local(queue) => Some(queue.hold_urgent()),
            Backend::Remote(_) => None,
        }
    }

    /// `None` when recall is turned off (`memory.embedding_model = ""`). A provider model whose
    /// key is not set is an error: the operator asked for something that cannot work.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        let model = settings.file.memory.embedding_model.trim().to_owned();
        let timeout = Duration::from_secs(settings.file.limits.model_timeout_seconds);
        if model.is_empty() {
            return Ok(None);
        }
        if model == MINILM || model == E5 {
            let local = &settings.file.local;
            let dir = local.models_dir.clone();
            let name = model.clone();
            let precision = match local.embed_precision {
                EmbedPrecision::Int8 => Precision::Int8,
                EmbedPrecision::F32 => Precision::F32,
            };
            // Turns waiting on their vector at the same time are embedded in one pass.
            // One copy of the model, loaded by the first thread with a job, shared by all: a
            // forward pass only reads it.
            let shared: Arc<OnceLock<Result<Arc<LocalModel>, String>>> = Arc::default();
            let load = move || {
                shared
                    .get_or_init(|| {
                        LocalModel::load(&name, &dir, precision)
                            .map(Arc::new)
                            .map_err(|e| format!("{e:#}"))
                    })
                    .clone()
            };
            let threads = Threads {
                urgent: local.embed_workers,
                background: local.index_workers.max(1),
                background_priority: match local.index_priority {
                    IndexPriority::Idle => BackgroundPriority::Idle,
                    IndexPriority::Low => BackgroundPriority::Low,
                },
            };
            let queue = WorkQueue::start_batched(
                "embed",
                threads,
                local.embed_queue,
                URGENT_BATCH,
                load,
                |m: &mut Result<Arc<LocalModel>, String>, jobs: Vec<EmbedJob>| embed_jobs(m, jobs),
            );
            return Ok(Some(Embedder {
                model,
                backend: Backend::Local(queue),
                timeout,
                answering: AtomicBool::new(true),
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
        let client = openai::client(&provider.base_url, key.expose_secret());
        Ok(Some(Embedder {
            model,
            backend: Backend::Remote(client),
            timeout,
            answering: AtomicBool::new(true),
        }))
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether the model answered its last call.
    pub fn is_answering(&self) -> bool {
        self.answering.load(Ordering::Relaxed)
    }

    /// The vector of a memory unit a user is waiting on (a turn's: it recalls, then is stored
    /// as the new exchange's), within `budget`; past it the caller goes on without, and the
    /// model counts as not answering until its next answer. Embedded as the indexer embeds
    /// units (as a passage: the same vector is what later questions are compared with), ahead
    /// of it.
    pub async fn embed_unit_within(
        &self,
        text: &str,
        budget: Duration,
    ) -> Result<HalfVector, String> {
        let unit = self.embed_one(text, EmbedRole::Passage);
        match tokio::time::timeout(budget, unit).await {
            Ok(result) => result,
            Err(_) => {
                self.answering.store(false, Ordering::Relaxed);
                Err(format!("no vector within {budget:?}"))
            }
        }
    }

    /// The vector of a search query a user is waiting on (ahead of background indexing), read
    /// as a question (multilingual-e5-small's "query: "; the other models read every text alike).
    pub async fn embed_query(&self, text: &str) -> Result<HalfVector, String> {
        self.embed_one(text, EmbedRole::Query).await
    }

    /// One urgent text's vector, in its stored form.
    async fn embed_one(&self, text: &str, role: EmbedRole) -> Result<HalfVector, String> {
        let mut v = self.embed(vec![text.to_owned()], role, true).await?;
        v.pop()
            .map(|v| stored_form(&v))
            .ok_or_else(|| "the embedding model returned nothing".to_owned())
    }

    /// One vector per text, each read as `role`. `urgent` puts the job ahead of background
    /// indexing.
    pub async fn embed(
        &self,
        texts: Vec<String>,
        role: EmbedRole,
        urgent: bool,
    ) -> Result<Vec<Vec<f32>>, String> {
        let result = self.embed_unrecorded(texts, role, urgent).await;
        self.answering.store(result.is_ok(), Ordering::Relaxed);
        result
    }

    async fn embed_unrecorded(
        &self,
        texts: Vec<String>,
        role: EmbedRole,
        urgent: bool,
    ) -> Result<Vec<Vec<f32>>, String> {
        let n = texts.len();
        let call = async {
            match &self.backend {
                Backend::Local(queue) => {
                    let (reply, answer) = oneshot::channel();
                    queue
                        .try_push(EmbedJob { texts, role, reply }, urgent)
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
