//! `POST …/interact` (JSON, or Server-Sent Events when the client accepts `text/event-stream`),
//! `POST …/interact/stream`, and `POST …/interact/stop`.

use super::service::{check_idempotency_key, interact as interact_whole};
use super::stream::interact_stream;
use crate::accounts::server::principal::EmployeePath;
use crate::conversations::{ChatEvent, InteractionRequest, InteractionResponse};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{error_body, ApiJson, EMPLOYEE};
use crate::platform::http::{EmployeeParams, ErrorBody};
use crate::platform::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| AppError::field("Idempotency-Key", "must be visible ASCII"))?,
        ),
    };
    check_idempotency_key(key)
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|m| m.trim().starts_with("text/event-stream"))
        })
}

/// A chat event as Server-Sent Events: `token` (`{"text"}`), `restart` (`{"reason"}`: the model
/// broke off and another answers; drop the text received so far), `done` (the stored turn, as
/// `…/interact` returns it), or `error` (the same body as an error response).
fn sse_event(event: ChatEvent) -> Event {
    match event {
        ChatEvent::Token(text) => Event::default()
            .event("token")
            .data(json!({ "text": text }).to_string()),
        ChatEvent::Restart(reason) => Event::default()
            .event("restart")
            .data(json!({ "reason": reason }).to_string()),
        ChatEvent::ToolCall {
            id,
            name,
            arguments,
        } => Event::default()
            .event("tool_call")
            .data(json!({ "id": id, "name": name, "arguments": arguments }).to_string()),
        ChatEvent::ToolResult {
            id,
            name,
            status,
            summary,
        } => Event::default().event("tool_result").data(
            json!({ "id": id, "name": name, "status": status, "summary": summary }).to_string(),
        ),
        ChatEvent::Done(r) => Event::default().event("done").data(json!(r).to_string()),
        ChatEvent::Error(e) => Event::default()
            .event("error")
            .data(error_body(&e).to_string()),
    }
}

/// Talk to an employee
///
/// Answers the stored turn as JSON, or streams it as Server-Sent Events when `Accept` includes
/// `text/event-stream` (as `…/interact/stream` does). With an `Idempotency-Key`, a retry of
/// the same turn answers the stored result instead of calling a model again.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/interact", tag = "conversations",
    params(EmployeeParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Up to 128 visible ASCII characters; the same key answers the same turn.")),
    request_body = InteractionRequest,
    responses(
        (status = 200, description = "The answer, stored with its memory.", body = InteractionResponse),
        (status = 402, description = "The client's (or employee's) budget is used up; the message says when it resets.", body = ErrorBody),
        (status = 409, description = "A turn with this Idempotency-Key is still running, or the employee is paused or archived.", body = ErrorBody)))]
async fn interact(
    state: State<AppState>,
    path: EmployeePath,
    headers: HeaderMap,
    body: Result<ApiJson<InteractionRequest>, AppError>,
) -> Result<Response, AppError> {
    if wants_stream(&headers) {
        return stream(state, path, headers, body).await;
    }
    let (State(state), EmployeePath(who, id)) = (state, path);
    let ApiJson(req) = body?;
    let key = idempotency_key(&headers)?;
    Ok(Json(interact_whole(&state, &who, &id, &req, key).await?).into_response())
}

/// Talk to an employee, streamed
///
/// Server-Sent Events: `token` (`{"text"}`), `restart` (`{"reason"}`: the model broke off and
/// another answers; drop the text received so far), then `done` (the stored turn, as
/// `…/interact` answers it) or `error` (an error body).
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/interact/stream", tag = "conversations",
    params(EmployeeParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Up to 128 visible ASCII characters; the same key answers the same turn.")),
    request_body = InteractionRequest,
    responses(
        (status = 200, description = "The answer as it is written.", content_type = "text/event-stream", body = String),
        (status = 402, description = "The budget is used up.", body = ErrorBody),
        (status = 409, description = "A turn with this Idempotency-Key is still running, or the employee is paused or archived.", body = ErrorBody)))]
async fn stream(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    headers: HeaderMap,
    body: Result<ApiJson<InteractionRequest>, AppError>,
) -> Result<Response, AppError> {
    let ApiJson(req) = body?;
    let key = idempotency_key(&headers)?;
    let rx = interact_stream(&state, &who, &id, &req, key).await?;
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let event = sse_event(rx.recv().await?);
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Stop an answer being written
///
/// Stops the turn sent with this `Idempotency-Key` (to any instance): the model's request is
/// closed and the turn is stored with the text written until then, marked `stopped`, which the
/// turn's own stream (or JSON answer) then returns. A retry with the key returns that turn.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/interact/stop", tag = "conversations",
    params(EmployeeParams,
        ("Idempotency-Key" = String, Header, description = "The key the turn was sent with.")),
    responses(
        (status = 202, description = "The turn was asked to stop."),
        (status = 422, description = "No Idempotency-Key, or not a valid one.", body = ErrorBody),
        (status = 404, description = "No answer is being written under this key.", body = ErrorBody),
        (status = 409, description = "The answer under this key is already finished.", body = ErrorBody)))]
async fn stop(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?.ok_or_else(|| {
        AppError::field(
            "Idempotency-Key",
            "is required: send the key the turn to stop was sent with",
        )
    })?;
    super::stop::request_stop(&state, &who, &id, &key).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({"status": "stopping"})),
    )
        .into_response())
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(interact, stream, stop))]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(&format!("{EMPLOYEE}/interact"), interact)
        .post(&format!("{EMPLOYEE}/interact/stream"), stream)
        .post(&format!("{EMPLOYEE}/interact/stop"), stop)
}
