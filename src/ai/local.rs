//! The built-in `local` provider: SmolLM2 on in-process worker threads. A request waits in a
//! bounded queue; when the queue is full it is refused at once (the API answers 503 with
//! `Retry-After`) rather than joining an unbounded backlog.

use super::inference::llm::{Generated, SmolLm, Turn};
use super::inference::queue::{Full, WorkQueue};
use super::types::{ChatMessage, ChatRequest, Chunk, ChunkStream, Failure};
use futures::StreamExt;
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
    /// Starts `workers` threads; each loads its own copy of the model on its first job.
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
        messages: &[ChatMessage],
        max_tokens: u32,
        temperature: f64,
    ) -> Result<mpsc::Receiver<LocalEvent>, String> {
        let (events, rx) = mpsc::channel(256);
        let job = ChatJob {
            turns: messages.iter().map(chatml_turn).collect(),
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

/// A message as the ChatML template takes it. The small model knows no tool role: a tool's
/// result reaches it as a user turn that says so.
fn chatml_turn(m: &ChatMessage) -> Turn {
    match m {
        ChatMessage::System(t) => Turn::System(t.clone()),
        ChatMessage::User(t) => Turn::User(t.clone()),
        ChatMessage::Assistant { text, .. } => Turn::Assistant(text.clone()),
        ChatMessage::Tool { text, .. } => Turn::User(format!("Tool result:\n{text}")),
    }
}

impl LocalChat {
    /// The generation as a stream of chunks (usage comes with the last one); a full queue
    /// skips the model. The request's tools are not offered: SmolLM2-135M cannot call functions
    /// reliably, so it answers from the prompt alone.
    pub fn stream(&self, req: &ChatRequest) -> Result<ChunkStream, Failure> {
        let rx = self
            .submit(&req.messages, req.max_tokens, req.temperature)
            .map_err(Failure::Skipped)?;
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            let item = match rx.recv().await? {
                LocalEvent::Text(text) => Ok(Chunk {
                    text,
                    ..Chunk::default()
                }),
                LocalEvent::Done(g) => Ok(Chunk {
                    text: String::new(),
                    usage: Some((g.prompt_tokens, g.completion_tokens)),
                    finished: true,
                    // The built-in model is offered no tools (it cannot call them reliably).
                    tool_calls: Vec::new(),
                }),
                LocalEvent::Failed(e) => Err(e),
            };
            Some((item, rx))
        })
        .boxed())
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
