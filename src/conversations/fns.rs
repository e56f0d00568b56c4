//! The chat page's server functions: a turn streamed, a turn sent by the plain form (before the
//! page's script runs, or without it), and stopping an answer.

#[cfg(feature = "ssr")]
use super::InteractionRequest;
use crate::core::AppError;
use leptos::prelude::*;

/// A turn the page asks for: the employee (which the caller may talk to), the message and the
/// turn's idempotency key.
#[cfg(feature = "ssr")]
struct Turn(
    crate::platform::AppState,
    crate::accounts::ClientPrincipal,
    crate::core::EmployeeId,
    InteractionRequest,
    Option<String>,
);

#[cfg(feature = "ssr")]
impl Turn {
    fn of(id: &str, message: String, key: &str) -> Result<Self, AppError> {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::Interact,
            id,
        )?;
        let key = super::server::service::check_idempotency_key(Some(key))?;
        let req = InteractionRequest {
            message,
            context: None,
            task_type: None,
            occurred_at: None,
        };
        Ok(Turn(state, who, id, req, key))
    }
}

/// One chat turn, streamed to the page as newline-delimited [`ChatEvent`]s: tokens as they are
/// generated, then `done` with the stored interaction (or `error`). The turn is stored even if
/// the page goes away mid-answer. `key` is the turn's idempotency key: sending again with the
/// same key (Retry) never makes a second turn.
#[server(prefix = "/rpc", output = leptos::server_fn::codec::StreamingText)]
pub async fn stream_message(
    id: String,
    message: String,
    key: String,
) -> Result<leptos::server_fn::codec::TextStream<AppError>, AppError> {
    let result = async {
        let Turn(state, who, id, req, key) = Turn::of(&id, message, &key)?;
        let rx = super::server::stream::interact_stream(&state, &who, &id, &req, key).await?;
        let lines = futures::stream::unfold(rx, |mut rx| async move {
            let event = rx.recv().await?;
            Some((Ok(event.to_line()), rx))
        });
        Ok(leptos::server_fn::codec::TextStream::new(lines))
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Stops the answer being written under `key` (Stop): the turn is stored with the text written
/// until then, and its stream ends with it.
#[server(prefix = "/rpc")]
pub async fn stop_message(id: String, key: String) -> Result<(), AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::Interact,
            &id,
        )?;
        let key = super::server::service::check_idempotency_key(Some(&key))?
            .ok_or_else(|| AppError::field("key", "is required"))?;
        super::server::stop::request_stop(&state, &who, &id, &key).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// The chat's plain form, before the page's script has loaded (or without it): one turn,
/// answered whole; the browser then goes back to the chat, which shows it. The form carries an
/// idempotency key made when the page was rendered, so sending it twice makes one turn.
#[server(prefix = "/rpc")]
pub async fn send_message(id: String, message: String, key: String) -> Result<(), AppError> {
    let result = async {
        let Turn(state, who, id, req, key) = Turn::of(&id, message, &key)?;
        super::server::service::interact(&state, &who, &id, &req, key).await?;
        Ok(())
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}
