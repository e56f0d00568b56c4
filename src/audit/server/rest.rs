//! `GET …/employees/{employee_id}/audit`.

use crate::accounts::server::principal::EmployeePath;
use crate::audit::EmployeeAudit;
use crate::core::AppError;
use crate::platform::http::EMPLOYEE;
use crate::platform::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

async fn employee_audit(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<EmployeeAudit>, AppError> {
    Ok(Json(
        super::service::employee_audit(&state, &who, &id).await?,
    ))
}

pub fn router() -> Router<AppState> {
    Router::new().route(&format!("{EMPLOYEE}/audit"), get(employee_audit))
}
