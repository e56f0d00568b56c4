//! `GET …/employees/{employee_id}/audit`, and the client's whole chain: `GET …/audit/verify`
//! (the verdict) and `GET …/audit/export` (JSON Lines).

use super::chain::Verdict;
use crate::accounts::server::principal::{ClientPath, EmployeePath};
use crate::audit::EmployeeAudit;
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ClientParams, EmployeeParams};
use crate::platform::http::{CLIENT, EMPLOYEE};
use crate::platform::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

/// An employee's audit events and status history
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/audit", tag = "audit",
    params(EmployeeParams),
    responses((status = 200, description = "The events about this employee, and its status changes.", body = EmployeeAudit)))]
async fn employee_audit(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<EmployeeAudit>, AppError> {
    Ok(Json(
        super::service::employee_audit(&state, &who, &id).await?,
    ))
}

/// Verify the client's audit chain
///
/// Recomputes every event's hash and link; `first_broken` names the first event that does not
/// hold.
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/audit/verify", tag = "audit",
    params(ClientParams),
    responses((status = 200, description = "The verdict.", body = Verdict)))]
async fn verify(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Verdict>, AppError> {
    Ok(Json(super::service::verify_chain(&state, &who).await?))
}

/// Export the client's audit chain
///
/// One event per line (JSON Lines), oldest first, with each event's hash and the previous one's,
/// to verify offline with the algorithm the README documents.
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/audit/export", tag = "audit",
    params(ClientParams),
    responses((status = 200, description = "The chain.", content_type = "application/x-ndjson", body = String)))]
async fn export(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<impl IntoResponse, AppError> {
    let body = super::service::export_chain(&state, &who).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.jsonl\"",
            ),
        ],
        body,
    ))
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(employee_audit, verify, export))]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get(&format!("{EMPLOYEE}/audit"), employee_audit)
        .get(&format!("{CLIENT}/audit/verify"), verify)
        .get(&format!("{CLIENT}/audit/export"), export)
}
