//! An OpenAI-compatible server, in-process, for workforce's tests and benches. It answers
//! `POST /v1/chat/completions` with a deterministic reply (streamed on request) and
//! `POST /v1/embeddings` with bag-of-words vectors (texts sharing words are close), records every
//! request, and misbehaves on demand per model (`Behaviour`).
//!
//! Function calling: when a request offers tools (and `tool_choice` is not `none`), each
//! `<<name {json arguments}>>` in the last user message becomes a tool call, streamed in pieces
//! as OpenAI does (the id and name first, then the arguments in two halves, then
//! `finish_reason: tool_calls`). After tool results the reply is
//! `[model] tool results: <each result> | <…>`. When the system prompt carries numbered passages
//! of knowledge, the reply cites the first (` [1]` at its end).

pub mod mcp;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// How a model misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Answers with this HTTP status every time.
    Fail(u16),
    /// Never answers (the connection stays open).
    Hang,
    /// Streams this many words of its reply, then closes the stream without its final event
    /// (no `finish_reason`, usage or `[DONE]`). (The server asks for every answer streamed.)
    CutAfter(usize),
    /// Answers with this text.
    Reply(String),
    /// Whenever it may call tools, calls this one (with no arguments), whatever it was asked.
    AlwaysCall(String),
}

#[derive(Default)]
pub struct StubState {
    pub requests: Mutex<Vec<Value>>,
    pub embedding_requests: Mutex<Vec<Value>>,
    /// Models that misbehave.
    pub behaviours: Mutex<HashMap<String, Behaviour>>,
    /// Pause between streamed chunks.
    pub chunk_delay_ms: Mutex<u64>,
    /// Streamed chunks written so far, all answers together (a closed request stops its count).
    pub chunks_streamed: std::sync::atomic::AtomicUsize,
}

#[derive(Clone)]
pub struct Stub {
    pub base_url: String,
    pub state: Arc<StubState>,
}

impl Stub {
    pub async fn start() -> Stub {
        let state = Arc::new(StubState::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("stub") });
        Stub {
            base_url: format!("http://{addr}/v1"),
            state,
        }
    }

    pub fn fail(&self, model: &str, status: u16) {
        self.behave(model, Behaviour::Fail(status));
    }

    pub fn behave(&self, model: &str, behaviour: Behaviour) {
        self.state
            .behaviours
            .lock()
            .expect("lock")
            .insert(model.to_owned(), behaviour);
    }

    /// Back to answering normally.
    pub fn heal(&self, model: &str) {
        self.state.behaviours.lock().expect("lock").remove(model);
    }

    pub fn set_chunk_delay_ms(&self, ms: u64) {
        *self.state.chunk_delay_ms.lock().expect("lock") = ms;
    }

    /// Streamed chunks written so far, all answers together.
    pub fn chunks_streamed(&self) -> usize {
        self.state
            .chunks_streamed
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().expect("lock").clone()
    }

    pub fn models_called(&self) -> HashSet<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["model"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn calls_to(&self, model: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r["model"] == model)
            .count()
    }
}

/// Each lower-cased word (letters and digits) adds 1 to one of `dims` buckets; then unit length.
pub fn bag_of_words(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0f32; dims];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = word
            .to_lowercase()
            .bytes()
            .fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
            });
        v[(h % dims as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}

async fn embeddings(State(state): State<Arc<StubState>>, Json(body): Json<Value>) -> Response {
    state
        .embedding_requests
        .lock()
        .expect("lock")
        .push(body.clone());
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let behaviour = state.behaviours.lock().expect("lock").get(&model).cloned();
    if let Some(early) = misbehave(behaviour.as_ref()).await {
        return early;
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    // Like OpenAI's: the "large" model's vectors are 3072-d.
    let dims = if model.contains("large") { 3072 } else { 256 };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(
            |(i, t)| json!({"object": "embedding", "index": i, "embedding": bag_of_words(t, dims)}),
        )
        .collect();
    Json(json!({"object": "list", "model": model, "data": data,
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}))
    .into_response()
}

async fn chat(State(state): State<Arc<StubState>>, Json(body): Json<Value>) -> Response {
    state.requests.lock().expect("lock").push(body.clone());
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let behaviour = state.behaviours.lock().expect("lock").get(&model).cloned();
    if let Some(early) = misbehave(behaviour.as_ref()).await {
        return early;
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages
        .last()
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let offered =
        body["tools"].as_array().is_some_and(|t| !t.is_empty()) && body["tool_choice"] != "none";
    let calls = match &behaviour {
        Some(Behaviour::AlwaysCall(tool)) if offered => vec![(tool.clone(), "{}".to_owned())],
        _ if offered && messages.last().is_some_and(|m| m["role"] == "user") => tool_triggers(last),
        _ => Vec::new(),
    };
    let results: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| m["role"] == "tool")
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    let reply = match &behaviour {
        Some(Behaviour::Reply(text)) => text.clone(),
        _ if !results.is_empty() => {
            let mut results = results;
            results.reverse();
            format!("[{model}] tool results: {}", results.join(" | "))
        }
        // Given numbered passages of knowledge, it cites the first, as a model told to would.
        _ if cites_first(&messages) => format!("[{model}] you said: {last} [1]"),
        _ => format!("[{model}] you said: {last}"),
    };
    let cut_after = match behaviour {
        Some(Behaviour::CutAfter(n)) => Some(n),
        _ => None,
    };
    let prompt_chars: usize = messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .map(str::len)
        .sum();
    let usage = json!({"prompt_tokens": prompt_chars / 4 + 1, "completion_tokens": reply.len() / 4 + 1,
                       "total_tokens": prompt_chars / 4 + reply.len() / 4 + 2});
    if body["stream"] == true {
        let delay = *state.chunk_delay_ms.lock().expect("lock");
        if !calls.is_empty() && cut_after.is_none() {
            return stream_tool_calls(model, &calls, usage, delay, state.clone());
        }
        return stream_reply(model, reply, usage, delay, cut_after, state.clone());
    }
    Json(json!({
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_chars / 4 + 1, "completion_tokens": reply.len() / 4 + 1,
                  "total_tokens": prompt_chars / 4 + reply.len() / 4 + 2}
    }))
    .into_response()
}

/// Whether the system prompt carries numbered passages of knowledge (`[1] Title …`).
fn cites_first(messages: &[Value]) -> bool {
    messages
        .first()
        .filter(|m| m["role"] == "system")
        .and_then(|m| m["content"].as_str())
        .is_some_and(|s| s.contains("\n\n[1] "))
}

/// The `<<name {json}>>` triggers of a message: each tool name and its arguments' text.
pub fn tool_triggers(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<<") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(">>") else { break };
        let inner = after[..end].trim();
        let (name, args) = inner.split_once(' ').unwrap_or((inner, "{}"));
        out.push((name.to_owned(), args.trim().to_owned()));
        rest = &after[end + 2..];
    }
    out
}

fn sse_body(events: Vec<String>, delay_ms: u64, state: Arc<StubState>) -> Response {
    // Without a delay, no timer at all: even a zero sleep waits for the timer's next tick
    // (~1 ms), which would cost an instant answer a millisecond a word.
    let body = futures::stream::iter(events).then(move |e| {
        let state = state.clone();
        async move {
            if delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            }
            state
                .chunks_streamed
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(format!("data: {e}\n\n"))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(body))
        .expect("response")
}

/// Tool calls as OpenAI streams them: per call its id and name, then its arguments in two
/// pieces; then `finish_reason: tool_calls`, the usage and `[DONE]`.
fn stream_tool_calls(
    model: String,
    calls: &[(String, String)],
    usage: Value,
    delay_ms: u64,
    state: Arc<StubState>,
) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
        .to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": null}),
        Value::Null,
    )];
    for (i, (name, args)) in calls.iter().enumerate() {
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function",
                                    "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        ));
        let half = args
            .char_indices()
            .map(|(at, _)| at)
            .nth(args.chars().count() / 2)
            .unwrap_or(args.len());
        for piece in [&args[..half], &args[half..]] {
            events.push(chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
    }
    events.push(chunk(json!({}), json!("tool_calls")));
    events.push(
        json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [], "usage": usage})
        .to_string(),
    );
    events.push("[DONE]".to_owned());
    sse_body(events, delay_ms, state)
}

/// An error answer or a hang, for the behaviours that give no answer at all.
async fn misbehave(behaviour: Option<&Behaviour>) -> Option<Response> {
    match behaviour? {
        Behaviour::Fail(status) => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let err = json!({"error": {"message": "stub failure", "type": "server_error", "param": null, "code": null}});
            Some((code, Json(err)).into_response())
        }
        Behaviour::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            None
        }
        Behaviour::CutAfter(_) | Behaviour::Reply(_) | Behaviour::AlwaysCall(_) => None,
    }
}

/// The reply as OpenAI streaming chunks, one word each, then usage and `[DONE]` — or, with
/// `cut_after`, that many words and the end of the stream.
fn stream_reply(
    model: String,
    reply: String,
    usage: Value,
    delay_ms: u64,
    cut_after: Option<usize>,
    state: Arc<StubState>,
) -> Response {
    let chunk = |delta: Value, finish: Value, usage: Value| {
        let choices = if usage.is_null() {
            json!([{"index": 0, "delta": delta, "finish_reason": finish}])
        } else {
            json!([])
        };
        json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": choices, "usage": usage})
        .to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
        Value::Null,
    )];
    for (i, word) in reply.split(' ').enumerate() {
        let piece = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        events.push(chunk(json!({"content": piece}), Value::Null, Value::Null));
    }
    if let Some(n) = cut_after {
        events.truncate(n + 1);
    } else {
        events.push(chunk(json!({}), json!("stop"), Value::Null));
        events.push(chunk(Value::Null, Value::Null, usage));
        events.push("[DONE]".to_owned());
    }
    sse_body(events, delay_ms, state)
}
