//! A turn, streamed: the answer's pieces as they come, then the stored turn. The same events
//! ([`ChatEvent`]) feed both encoders: Server-Sent Events for REST, lines for the chat page.

use super::service::{answer, persist, prepare, Outcome, Persisted, Prepared};
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
/// away.
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
    let started = Instant::now();
    let open = match state.router.open_stream(&turn.request).await {
        Ok(open) => open,
        Err(e) => {
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
    };
    let (state, who, id) = (state.clone(), who.clone(), id.clone());
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut open = open;
        // Each model's answer in turn: one that breaks off hands over to the next, after a
        // `Restart` tells the caller to drop what it was sent.
        let (text, model, (prompt_tokens, completion_tokens), error) = loop {
            let mut text = String::new();
            let mut usage = (0, 0);
            let mut error = None;
            let mut pieces = futures::stream::iter([Ok(open.first)]).chain(open.rest);
            while let Some(piece) = pieces.next().await {
                match piece {
                    Ok(chunk) => {
                        if let Some(u) = chunk.usage {
                            usage = u;
                        }
                        if !chunk.text.is_empty() {
                            text.push_str(&chunk.text);
                            // A caller that went away does not stop the turn from being stored.
                            let _ = tx.send(ChatEvent::Token(chunk.text)).await;
                        }
                    }
                    Err(e) => error = Some(e),
                }
            }
            let Some(reason) = error else {
                break (text, open.model, usage, None);
            };
            match state
                .router
                .open_stream_after(&turn.request, &open.model)
                .await
            {
                Ok(next) => {
                    let restart = format!(
                        "{} broke off ({reason}); {} answers instead",
                        open.model, next.model
                    );
                    let _ = tx.send(ChatEvent::Restart(restart)).await;
                    open = next;
                }
                Err(e) => break (text, open.model, usage, Some(format!("{reason}; {e}"))),
            }
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        let outcome = Outcome {
            response: &text,
            model: Some(&model),
            prompt_tokens,
            completion_tokens,
            error: error.clone(),
        };
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
                    text: text.clone(),
                    model: model.clone(),
                    prompt_tokens,
                    completion_tokens,
                };
                ChatEvent::Done(answer(&turn, c, interaction_id, created_at, latency_ms))
            }
            (Ok(Persisted::AnsweredBefore(r)), None) => ChatEvent::Done(r),
            (Ok(_), Some(e)) => ChatEvent::Error(AppError::Unavailable { message: e }),
            (Err(e), _) => ChatEvent::Error(e),
        };
        let _ = tx.send(event).await;
    });
    Ok(rx)
}
