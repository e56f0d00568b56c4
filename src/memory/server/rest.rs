//! `GET …/employees/{employee_id}/memory?limit=1..100[&query=…]`; erasure:
//! `DELETE …/memory/{interaction_id}` and `DELETE …/memory?subject=…` or `?subject_id=…`.

use super::service::{recent_memory, semantic_memory};
use crate::accounts::server::principal::EmployeePath;
use crate::core::{AppError, InteractionId};
use crate::memory::{ErasureReceipt, MemoryList};
use crate::platform::http::ApiRoutes;
use crate::platform::http::EmployeeParams;
use crate::platform::http::EMPLOYEE;
use crate::platform::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use std::collections::HashMap;

/// What an employee remembers
///
/// The newest exchanges, or with `query` the ones closest in meaning to it (best first).
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/memory", tag = "memory",
    params(EmployeeParams,
        ("limit" = Option<u32>, Query, description = "1 to 100; 10 when omitted.", minimum = 1, maximum = 100),
        ("query" = Option<String>, Query, description = "Search by meaning (at most 4000 characters).")),
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
    let memory = match query.get("query").map(|q| q.trim()) {
        Some(q) if q.chars().count() > 4000 => {
            return Err(AppError::field("query", "must be at most 4000 characters"))
        }
        Some(q) if !q.is_empty() => semantic_memory(&state, &who, &id, q, limit).await?,
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

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(memory, erase_one, erase_subject))]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get(&format!("{EMPLOYEE}/memory"), memory)
        .delete(&format!("{EMPLOYEE}/memory"), erase_subject)
        .delete(&format!("{EMPLOYEE}/memory/{{interaction_id}}"), erase_one)
}
