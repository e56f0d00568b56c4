//! `GET …/employees/{employee_id}/usage` (with the employee's own budget) and
//! `GET …/clients/{client_id}/usage` (with the client's budget and limits).

use crate::accounts::server::principal::{ClientPath, EmployeePath};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ClientParams, EmployeeParams};
use crate::platform::http::{CLIENT, EMPLOYEE};
use crate::platform::AppState;
use crate::usage::UsageReport;
use axum::extract::State;
use axum::Json;

/// An employee's usage
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/usage", tag = "usage",
    params(EmployeeParams),
    responses((status = 200, description = "Turns and tokens, in all and per model.", body = UsageReport)))]
async fn employee_usage(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<UsageReport>, AppError> {
    Ok(Json(
        super::service::employee_usage(&state, &who, &id).await?,
    ))
}

/// A client's usage, budget and limits
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/usage", tag = "usage",
    params(ClientParams),
    responses((status = 200, description = "Turns and tokens per model, the month's budget and the tier's limits.", body = UsageReport)))]
async fn client_usage(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<UsageReport>, AppError> {
    Ok(Json(super::service::client_usage(&state, &who).await?))
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(employee_usage, client_usage))]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get(&format!("{EMPLOYEE}/usage"), employee_usage)
        .get(&format!("{CLIENT}/usage"), client_usage)
}
