//! The built-in `local` provider: SmolLM2 on in-process worker threads. A request waits in a
//! bounded queue; when the queue is full it is refused at once (the API answers 503 with
//! `Retry-After`) rather than joining an unbounded backlog.

use super::router::Turn;
use crate::server::ml::llm::{Generated, SmolLm};
use crate::server::ml::queue::{Full, WorkQueue};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// What a generation sends back, in order: pieces of text, then `Done` or `Failed`.
#[derive(Debug)]
pub enum LocalEvent {
    Text(String),
    Done(Generated),
    Failed(String),
}

struct ChatJob {
    turns: Vec<Turn>,
    max_tokens: u32,
    temperature: f64,
    events: mpsc::Sender<LocalEvent>,
}

pub struct LocalChat {
    queue: WorkQueue<ChatJob>,
}

const BUSY: &str = "busy: every local model worker is taken and the queue is full";

impl LocalChat {
    /// Starts `workers` threads; each loads its own copy of the model on first start.
    pub fn start(models_dir: PathBuf, workers: usize, queue: usize) -> Self {
        let seeds = std::sync::atomic::AtomicU64::new(0x5eed);
        let queue = WorkQueue::start(
            "local-llm",
            workers,
            queue,
            move || {
                let seed = seeds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                SmolLm::load(&models_dir, seed).map_err(|e| format!("{e:#}"))
            },
            run,
        );
        LocalChat { queue }
    }

    /// Queues a generation; its events arrive on the returned channel.
    pub fn submit(
        &self,
        turns: &[Turn],
        max_tokens: u32,
        temperature: f64,
    ) -> Result<mpsc::Receiver<LocalEvent>, String> {
        let (events, rx) = mpsc::channel(256);
        let job = ChatJob {
            turns: turns.to_vec(),
            max_tokens,
            temperature,
            events,
        };
        self.queue
            .try_push(job, true)
            .map_err(|Full(_)| BUSY.to_owned())?;
        Ok(rx)
    }
}

fn run(model: &mut Result<SmolLm, String>, job: ChatJob) {
    let model = match model {
        Ok(m) => m,
        Err(e) => {
            let _ = job.events.blocking_send(LocalEvent::Failed(format!(
                "the local model did not load: {e}"
            )));
            return;
        }
    };
    if job.events.is_closed() {
        return; // the caller gave up while the job waited
    }
    let events = &job.events;
    let result = model.generate(&job.turns, job.max_tokens, job.temperature, |text| {
        // Stop generating as soon as nobody is listening.
        events
            .blocking_send(LocalEvent::Text(text.to_owned()))
            .is_ok()
    });
    let _ = events.blocking_send(match result {
        Ok(g) => LocalEvent::Done(g),
        Err(e) => LocalEvent::Failed(format!("{e:#}")),
    });
}
