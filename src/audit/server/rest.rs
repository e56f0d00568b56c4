//! `GET …/employees/{employee_id}/audit`, and the client's whole chain: `GET …/audit/verify`
//! (the verdict) and `GET …/audit/export` (JSON Lines).

use super::chain::Verdict;
use crate::accounts::server::principal::{ClientPath, EmployeePath};
use crate::audit::EmployeeAudit;
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{CLIENT, EMPLOYEE};
use crate::platform::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

async fn employee_audit(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<EmployeeAudit>, AppError> {
    Ok(Json(
        super::service::employee_audit(&state, &who, &id).await?,
    ))
}

async fn verify(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Verdict>, AppError> {
    Ok(Json(super::service::verify_chain(&state, &who).await?))
}

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

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get(&format!("{EMPLOYEE}/audit"), employee_audit)
        .get(&format!("{CLIENT}/audit/verify"), verify)
        .get(&format!("{CLIENT}/audit/export"), export)
}
