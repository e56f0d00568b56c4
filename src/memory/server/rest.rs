//! `GET …/employees/{employee_id}/memory?limit=1..100[&query=…&mode=…]`; import:
//! `POST …/memory/import`; erasure: `DELETE …/memory/{interaction_id}` and
//! `DELETE …/memory?subject=…` or `?subject_id=…`.

use super::import::{ImportReport, MAX_IMPORT_BYTES};
use super::service::{recent_memory, search_memory};
use crate::accounts::server::principal::EmployeePath;
use crate::core::{AppError, InteractionId};
use crate::memory::{ErasureReceipt, MemoryList, SearchMode};
use crate::platform::http::ApiRoutes;
use crate::platform::http::EmployeeParams;
use crate::platform::http::EMPLOYEE;
use crate::platform::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use std::collections::HashMap;

/// What an employee remembers
///
/// The newest exchanges, or with `query` the best matches (best first): by meaning and by
/// keywords, fused by reciprocal rank (`mode=hybrid`, the default), or by one signal
/// (`semantic`, `keyword`). Each match says which signals found it (`similarity`,
/// `keyword_score`).
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/memory", tag = "memory",
    params(EmployeeParams,
        ("limit" = Option<u32>, Query, description = "1 to 100; 10 when omitted.", minimum = 1, maximum = 100),
        ("query" = Option<String>, Query, description = "Search (at most 4000 characters)."),
        ("mode" = Option<SearchMode>, Query, description = "With `query`: `hybrid` (default), `semantic` or `keyword`.")),
    responses((status = 200, description = "The exchanges.", body = MemoryList)))]
async fn memory(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<MemoryList>, AppError> {
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => 10,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| AppError::field("limit", "must be a whole number from 1 to 100"))?,
    };
    let mode = match query.get("mode").map(|m| m.trim()) {
        None | Some("") => SearchMode::Hybrid,
        Some(m) => SearchMode::parse(m)
            .ok_or_else(|| AppError::field("mode", "must be hybrid, semantic or keyword"))?,
    };
    let memory = match query.get("query").map(|q| q.trim()) {
        Some(q) if q.chars().count() > 4000 => {
            return Err(AppError::field("query", "must be at most 4000 characters"))
        }
        Some(q) if q.contains('\0') => {
            return Err(AppError::field("query", "must not contain NUL characters"))
        }
        Some(q) if !q.is_empty() => search_memory(&state, &who, &id, q, mode, limit).await?,
        _ => recent_memory(&state, &who, &id, limit).await?,
    };
    Ok(Json(MemoryList { memory }))
}

/// Erase one exchange
///
/// The row, its vector and every cached copy go; the audit trail keeps a receipt with hashes,
/// not the content.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/memory/{interaction_id}", tag = "memory",
    params(EmployeeParams, ("interaction_id" = InteractionId, Path, description = "The exchange.")),
    responses((status = 200, description = "What was erased.", body = ErasureReceipt)))]
async fn erase_one(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<ErasureReceipt>, AppError> {
    let interaction = params.get("interaction_id").map_or("", String::as_str);
    Ok(Json(
        super::service::erase(&state, &who, &id, super::repo::Erase::One(interaction)).await?,
    ))
}

/// Erase everything about a subject
///
/// Either every exchange that mentions `subject`, or every exchange given `subject_id` in its
/// `context`.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/memory", tag = "memory",
    params(EmployeeParams,
        ("subject" = Option<String>, Query, description = "A term (2 characters or more) the exchanges mention."),
        ("subject_id" = Option<String>, Query, description = "The `context.subject_id` given at interact time.")),
    responses((status = 200, description = "What was erased.", body = ErasureReceipt)))]
async fn erase_subject(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ErasureReceipt>, AppError> {
    let given = |k: &str| query.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let what = match (given("subject"), given("subject_id")) {
        (Some(t), None) if t.chars().count() >= 2 => super::repo::Erase::Mentioning(t),
        (Some(_), None) => {
            return Err(AppError::field("subject", "must be at least 2 characters"))
        }
        (None, Some(s)) => super::repo::Erase::Subject(s),
        _ => {
            return Err(AppError::field(
                "subject",
                "give either `subject` (a term the exchanges mention) or `subject_id` (given in `context` at interact time)",
            ))
        }
    };
    if query.values().any(|v| v.contains('\0')) {
        return Err(AppError::field(
            "subject",
            "must not contain NUL characters",
        ));
    }
    Ok(Json(super::service::erase(&state, &who, &id, what).await?))
}

/// Import a past conversation
///
/// JSON Lines, one message a line: `{"id": "…", "role": "user"|"assistant", "content": "…",
/// "occurred_at": "2024-05-01T09:30:00Z"}` (`id` optional: without it, a line is known by what
/// it says). Stored as memory without calling any model: a `user` line and the `assistant`
/// lines after it make an exchange, dated by the first. Every line is checked before anything is
/// stored. Sending lines again stores nothing twice, so an interrupted import is finished by
/// sending it again. Keyword search finds the exchanges at once; search by meaning once the
/// background indexer has embedded them. At most 50,000 lines and 64 MiB a request.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/memory/import", tag = "memory",
    params(EmployeeParams),
    request_body(content = String, content_type = "application/x-ndjson", description = "JSON Lines."),
    responses((status = 200, description = "What was stored.", body = ImportReport),
        (status = 413, description = "The body is over 64 MiB.")))]
async fn import(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<ImportReport>, AppError> {
    use axum::extract::rejection::BytesRejection;
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(ref inner)
            if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            AppError::PayloadTooLarge {
                message: "an import body is at most 64 MiB; send the history in parts".into(),
            }
        }
        other => AppError::bad_request(other.body_text()),
    })?;
    let body = std::str::from_utf8(&body)
        .map_err(|_| AppError::field("body", "must be UTF-8 text (JSON Lines)"))?;
    Ok(Json(super::import::import(&state, &who, &id, body).await?))
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(memory, import, erase_one, erase_subject),
    components(schemas(SearchMode))
)]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get(&format!("{EMPLOYEE}/memory"), memory)
        .post_large(
            &format!("{EMPLOYEE}/memory/import"),
            import,
            MAX_IMPORT_BYTES,
        )
        .delete(&format!("{EMPLOYEE}/memory"), erase_subject)
        .delete(&format!("{EMPLOYEE}/memory/{{interaction_id}}"), erase_one)
}
