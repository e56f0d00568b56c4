//! `/employees/clients/{client_id}/employees[/{employee_id}[/pause|resume|archive]]`.

use crate::accounts::server::principal::{ClientPath, EmployeePath};
use crate::core::AppError;
use crate::employees::{
    Employee, EmployeeRequirements, EmployeeStatus, EmployeeUpdate, LifecycleAction,
};
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ApiJson, EMPLOYEE, EMPLOYEES};
use crate::platform::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;

use super::service;

async fn create_employee(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    body: Result<ApiJson<EmployeeRequirements>, AppError>,
) -> Result<(StatusCode, Json<Employee>), AppError> {
    // The path is checked before the body, so another client's path is a 404 whatever it carries.
    let ApiJson(req) = body?;
    let employee = service::create_employee(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(employee)))
}

async fn list_employees(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Employee>>, AppError> {
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(EmployeeStatus::parse(s).ok_or_else(|| {
            AppError::field(
                "status",
                format!("must be one of: {}", EmployeeStatus::expected()),
            )
        })?),
    };
    Ok(Json(service::list_employees(&state, &who, status).await?))
}

async fn get_employee(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<Employee>, AppError> {
    Ok(Json(service::get_employee(&state, &who, &id).await?))
}

async fn update_employee(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    body: Result<ApiJson<EmployeeUpdate>, AppError>,
) -> Result<Json<Employee>, AppError> {
    let ApiJson(update) = body?;
    Ok(Json(
        service::update_employee(&state, &who, &id, &update).await?,
    ))
}

async fn delete_employee(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<StatusCode, AppError> {
    service::delete_employee(&state, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn lifecycle(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Employee>, AppError> {
    let action = params
        .get("action")
        .and_then(|a| LifecycleAction::parse(a))
        .ok_or_else(|| AppError::not_found("action"))?;
    Ok(Json(
        service::change_status(&state, &who, &id, action).await?,
    ))
}

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(EMPLOYEES, create_employee)
        .get(EMPLOYEES, list_employees)
        .get(EMPLOYEE, get_employee)
        .patch(EMPLOYEE, update_employee)
        .delete(EMPLOYEE, delete_employee)
        .post(&format!("{EMPLOYEE}/{{action}}"), lifecycle)
}
