//! `/employees/clients/{client_id}/employees[/{employee_id}[/pause|resume|archive|budget]]`.

use crate::accounts::server::principal::{ClientPath, EmployeePath};
use crate::core::AppError;
use crate::employees::{
    Employee, EmployeeBudget, EmployeeRequirements, EmployeeStatus, EmployeeUpdate, LifecycleAction,
};
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ApiJson, EMPLOYEE, EMPLOYEES};
use crate::platform::http::{ClientParams, EmployeeParams, ErrorBody};
use crate::platform::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;

use super::service;

/// Create an employee from requirements
///
/// The generator derives the name (unless given), personality and model settings; every bad
/// field is reported at once, by its path.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/employees", tag = "employees",
    params(ClientParams), request_body = EmployeeRequirements,
    responses(
        (status = 201, description = "The new employee.", body = Employee),
        (status = 409, description = "The client has as many employees as its tier allows.", body = ErrorBody)))]
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

/// List the client's employees
///
/// A member sees only the employees given to them.
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees", tag = "employees",
    params(ClientParams,
        ("status" = Option<EmployeeStatus>, Query, description = "Only employees with this status.")),
    responses((status = 200, description = "The employees, oldest first.", body = Vec<Employee>)))]
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

/// One employee
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}", tag = "employees",
    params(EmployeeParams),
    responses((status = 200, description = "The employee.", body = Employee)))]
async fn get_employee(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<Employee>, AppError> {
    Ok(Json(service::get_employee(&state, &who, &id).await?))
}

/// Change an employee
///
/// Every field present replaces the stored one (lists whole). A change of embedding model
/// re-indexes its memory in the background.
#[utoipa::path(patch, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}", tag = "employees",
    params(EmployeeParams), request_body = EmployeeUpdate,
    responses((status = 200, description = "The employee as changed.", body = Employee)))]
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

/// Delete an employee and everything it remembers
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}", tag = "employees",
    params(EmployeeParams),
    responses((status = 204, description = "Deleted.")))]
async fn delete_employee(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<StatusCode, AppError> {
    service::delete_employee(&state, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause, resume or archive an employee
///
/// Active ⇄ paused; either → archived, which is final. A paused or archived employee does not
/// answer.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/{action}", tag = "employees",
    params(EmployeeParams, ("action" = LifecycleAction, Path, description = "What to do.")),
    responses(
        (status = 200, description = "The employee in its new status.", body = Employee),
        (status = 409, description = "Not allowed from the current status.", body = ErrorBody)))]
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

/// An employee's own budget
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/budget", tag = "employees",
    params(EmployeeParams),
    responses((status = 200, description = "Its monthly token budget, or null when only the client's applies.", body = EmployeeBudget)))]
async fn get_budget(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
) -> Result<Json<EmployeeBudget>, AppError> {
    Ok(Json(service::budget(&state, &who, &id).await?))
}

/// Set an employee's own budget
///
/// A monthly token budget inside the client's: each turn reserves against both, and past
/// either the employee answers 402 until the month ends. `null` removes it.
#[utoipa::path(put, path = "/api/v1/employees/clients/{client_id}/employees/{employee_id}/budget", tag = "employees",
    params(EmployeeParams), request_body = EmployeeBudget,
    responses((status = 200, description = "The budget now in force.", body = EmployeeBudget)))]
async fn set_budget(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    body: Result<ApiJson<EmployeeBudget>, AppError>,
) -> Result<Json<EmployeeBudget>, AppError> {
    let ApiJson(budget) = body?;
    Ok(Json(service::set_budget(&state, &who, &id, &budget).await?))
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_employee,
        list_employees,
        get_employee,
        update_employee,
        delete_employee,
        lifecycle,
        get_budget,
        set_budget
    ),
    components(schemas(LifecycleAction, EmployeeStatus))
)]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(EMPLOYEES, create_employee)
        .get(EMPLOYEES, list_employees)
        .get(EMPLOYEE, get_employee)
        .patch(EMPLOYEE, update_employee)
        .delete(EMPLOYEE, delete_employee)
        .post(&format!("{EMPLOYEE}/{{action}}"), lifecycle)
        .get(&format!("{EMPLOYEE}/budget"), get_budget)
        .put(&format!("{EMPLOYEE}/budget"), set_budget)
}
