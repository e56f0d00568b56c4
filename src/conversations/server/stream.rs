//! A turn, streamed: the answer's pieces as they come, then the stored turn. The same events
//! ([`ChatEvent`]) feed both encoders: Server-Sent Events for REST, lines for the chat page.

use super::service::{answer, persist, prepare, stopped_completion, Outcome, Persisted, Prepared};
use super::tool_loop::{ToolLog, ToolLoop};
use crate::accounts::ClientPrincipal;
use crate::ai::Completion;
use crate::conversations::{ChatEvent, InteractionRequest};
use crate::core::{AppError, EmployeeId};
use crate::platform::AppState;
use std::time::Instant;
use tokio::sync::mpsc;

/// One turn, streamed: `Token`s, then `Done` or `Error`. Errors before the first token are
/// returned as usual; afterwards they arrive as `ChatEvent::Error`. An answer that breaks off
/// is not an answer: the next model takes over after a `Restart` (the caller drops the text so
/// far), or, with none left, the turn is stored as failed. The generation runs in its own task,
/// so the turn is stored (with exactly the text that was streamed) even when the caller goes
/// away. Asked to stop (`stop::request_stop`), it stops reading the model, which closes the
/// model's request, and stores the text streamed until then, marked as stopped.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn interact_stream(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    req: &InteractionRequest,
    idempotency_key: Option<String>,
) -> Result<mpsc::Receiver<ChatEvent>, AppError> {
    let (tx, rx) = mpsc::channel(64);
    let turn = match prepare(state, who, id, req, idempotency_key).await? {
        Prepared::Answered(r) => {
            let _ = tx.send(ChatEvent::Token(r.message.clone())).await;
            let _ = tx.send(ChatEvent::Done(r)).await;
            return Ok(rx);
        }
        Prepared::Turn(t) => t,
    };
    let mut stop = turn.stop_signal(state, who, id);
    let started = Instant::now();
    let opened = tokio::select! {
        biased;
        _ = stop.stopped() => None,
        open = state.router.open_stream(&turn.request) => Some(open),
    };
    let open = match opened {
        Some(Ok(open)) => open,
        Some(Err(e)) => {
            let failed = Outcome::failed(&e);
            persist(
                state,
                who,
                id,
                &turn,
                failed,
                started.elapsed().as_millis() as u64,
            )
            .await?;
            return Err(e);
        }
        // Stopped before the first word: the message is stored, with no answer.
        None => {
            let latency_ms = started.elapsed().as_millis() as u64;
            let outcome = Outcome::stopped(&turn, "", None);
            let usage = (outcome.prompt_tokens, outcome.completion_tokens);
            let event = match persist(state, who, id, &turn, outcome, latency_ms).await? {
                Persisted::Stored {
                    interaction_id,
                    created_at,
                } => {
                    let c = stopped_completion("", None, usage);
                    let mut r = answer(
                        &turn,
                        c,
                        interaction_id,
                        created_at,
                        latency_ms,
                        &ToolLog::default(),
                    );
                    r.stopped = true;
                    r
                }
                Persisted::AnsweredBefore(r) => r,
            };
            let _ = tx.send(ChatEvent::Done(event)).await;
            return Ok(rx);
        }
    };
    let (state, who, id) = (state.clone(), who.clone(), id.clone());
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut open = open;
        let mut tools = ToolLoop::new(&state, &turn.request, &turn.toolbox);
        // The answer's text over every round (what a round writes before it calls tools is
        // part of the answer), and its final usage.
        let mut written = String::new();
        let mut stopped = false;
        let (model, (prompt_tokens, completion_tokens), error) = 'rounds: loop {
            // Each model's answer in turn: one that breaks off hands over to the next, after a
            // `Restart` tells the caller to drop what it was sent (then it is sent the text of
            // the earlier rounds again).
            let (text, model, usage, error, calls) = loop {
                let mut text = String::new();
                let mut usage = (0, 0);
                let mut error = None;
                let mut calls = Vec::new();
                let mut pieces = futures::stream::iter([Ok(open.first)]).chain(open.rest);
                loop {
                    let piece = tokio::select! {
                        biased;
                        _ = stop.stopped() => {
                            stopped = true;
                            break;
                        }
                        piece = pieces.next() => piece,
                    };
                    let Some(piece) = piece else { break };
                    match piece {
                        Ok(chunk) => {
                            if let Some(u) = chunk.usage {
                                usage = u;
                            }
                            calls.extend(chunk.tool_calls);
                            if !chunk.text.is_empty() {
                                text.push_str(&chunk.text);
                                // A caller that went away does not stop the turn being stored.
                                let _ = tx.send(ChatEvent::Token(chunk.text)).await;
                            }
                        }
                        Err(e) => error = Some(e),
                    }
                }
                // Dropping the pieces closes the model's request: nothing more is generated.
                drop(pieces);
                if stopped {
                    break (text, open.model, usage, None, Vec::new());
                }
                let Some(reason) = error else {
                    break (text, open.model, usage, None, calls);
                };
                match state
                    .router
                    .open_stream_after(&tools.request, &open.model)
                    .await
                {
                    Ok(next) => {
                        let restart = format!(
                            "{} broke off ({reason}); {} answers instead",
                            open.model, next.model
                        );
                        let _ = tx.send(ChatEvent::Restart(restart)).await;
                        if !written.is_empty() {
                            let _ = tx.send(ChatEvent::Token(written.clone())).await;
                        }
                        open = next;
                    }
                    Err(e) => {
                        break (
                            text,
                            open.model,
                            usage,
                            Some(format!("{reason}; {e}")),
                            Vec::new(),
                        )
                    }
                }
            };
            written.push_str(&text);
            if stopped || error.is_some() || !tools.wants_tools(&calls) {
                let (p, c) = tools.log.spent;
                break 'rounds (model, (usage.0 + p, usage.1 + c), error);
            }
            tools.log.spent.0 += usage.0;
            tools.log.spent.1 += usage.1;
            for call in &calls {
                let _ = tx
                    .send(ChatEvent::ToolCall {
                        id: call.id.clone(),
                        name: tools.shown_name(&call.name).to_owned(),
                        arguments: call.arguments.clone(),
                    })
                    .await;
            }
            let done = tokio::select! {
                biased;
                _ = stop.stopped() => None,
                done = tools.run(&state, &who, &id, text, calls) => Some(done.to_vec()),
            };
            let Some(done) = done else {
                stopped = true;
                break 'rounds (model, tools.log.spent, None);
            };
            for r in done {
                let _ = tx
                    .send(ChatEvent::ToolResult {
                        id: r.id,
                        name: r.tool,
                        status: r.status,
                        summary: r.result_excerpt.chars().take(200).collect(),
                    })
                    .await;
            }
            let next = tokio::select! {
                biased;
                _ = stop.stopped() => None,
                next = state.router.open_stream(&tools.request) => Some(next),
            };
            match next {
                Some(Ok(next)) => open = next,
                Some(Err(e)) => break 'rounds (model, tools.log.spent, Some(e.to_string())),
                None => {
                    stopped = true;
                    break 'rounds (model, tools.log.spent, None);
                }
            }
        };
        drop(stop);
        let latency_ms = started.elapsed().as_millis() as u64;
        let log = std::mem::take(&mut tools.log);
        let mut outcome = if stopped {
            // The rough count of the answer being written, plus the rounds before it, which
            // were answered whole (their usage is known).
            let mut o = Outcome::stopped(&turn, &written, Some(&model));
            o.prompt_tokens += log.spent.0;
            o.completion_tokens += log.spent.1;
            o
        } else {
            Outcome {
                response: &written,
                model: Some(&model),
                prompt_tokens,
                completion_tokens,
                error: error.clone(),
                stopped: false,
                tool_calls: &[],
                tool_rounds: 0,
            }
        };
        outcome.tool_calls = &log.calls;
        outcome.tool_rounds = log.rounds;
        let (prompt_tokens, completion_tokens) = (outcome.prompt_tokens, outcome.completion_tokens);
        let event = match (
            persist(&state, &who, &id, &turn, outcome, latency_ms).await,
            error,
        ) {
            (
                Ok(Persisted::Stored {
                    interaction_id,
                    created_at,
                }),
                None,
            ) => {
                let c = Completion {
                    text: written.clone(),
                    model: model.clone(),
                    prompt_tokens,
                    completion_tokens,
                    tool_calls: Vec::new(),
                };
                let mut r = answer(&turn, c, interaction_id, created_at, latency_ms, &log);
                r.stopped = stopped;
                ChatEvent::Done(r)
            }
            (Ok(Persisted::AnsweredBefore(r)), None) => ChatEvent::Done(r),
            (Ok(_), Some(e)) => ChatEvent::Error(AppError::Unavailable { message: e }),
            (Err(e), _) => ChatEvent::Error(e),
        };
        let _ = tx.send(event).await;
    });
    Ok(rx)
}
