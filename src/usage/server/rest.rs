//! `GET …/employees/{employee_id}/usage` and `GET /clients/{client_id}/usage`.

use crate::accounts::server::principal::{ClientPath, EmployeePath};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{CLIENT, EMPLOYEE};
use crate::platform::AppState;
use crate::usage::UsageReport;
use axum::extract::State;
use axum::Json;

async fn employee_usage(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<UsageReport>, AppError> {
    Ok(Json(
        super::service::employee_usage(&state, &who, &id).await?,
    ))
}

async fn client_usage(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<UsageReport>, AppError> {
    Ok(Json(super::service::client_usage(&state, &who).await?))
}

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get(&format!("{EMPLOYEE}/usage"), employee_usage)
        .get(&format!("{CLIENT}/usage"), client_usage)
}
