//! The operations of the employee lifecycle. REST handlers and server functions both call these
//! after the principal is resolved; each runs in one tenant transaction and writes its audit
//! events there.

use super::cache::announce_change;
use super::repo;
use crate::accounts::ClientPrincipal;
use crate::audit::server::service::{self as audit, snapshot};
use crate::audit::AuditAction;
use crate::clients::server::service::current as current_client;
use crate::clients::ClientStatus;
use crate::core::{AppError, ClientId, EmployeeId};
use crate::employees::generator::{apply_update, generate_employee};
use crate::employees::*;
use crate::memory::server::service::forget;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use chrono::Utc;
use serde_json::json;

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn create_employee(
    state: &AppState,
    who: &ClientPrincipal,
    req: &EmployeeRequirements,
) -> Result<Employee, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let client = current_client(&mut tx).await?;
    if client.status != ClientStatus::Active {
        return Err(AppError::Forbidden {
            message: "this client is suspended".into(),
        });
    }
    let config = generate_employee(
        req,
        &client.configuration.allowed_models,
        state.settings.default_model(),
    )?;
    check_tools(
        &mut tx,
        "tools_needed",
        &req.tools_needed,
        &config.tool_access,
    )
    .await?;
    repo::lock_client_for_creation(&mut tx).await?;
    let live = repo::count_live_employees(&mut tx).await?;
    if live >= i64::from(client.configuration.max_employees) {
        return Err(AppError::LimitExceeded {
            message: format!(
                "client has reached its limit of {} employees (archive or delete one first)",
                client.configuration.max_employees
            ),
        });
    }
    let now = Utc::now();
    let employee = config.into_employee(EmployeeId::generate(&client.id), client.id.clone(), now);
    let actor = who.actor();
    repo::insert_employee(&mut tx, &employee).await?;
    audit::record_status_change(&mut tx, &employee.id, None, employee.status, &actor).await?;
    audit::record(
        &mut tx,
        &actor,
        AuditAction::EmployeeCreate,
        employee.id.as_str(),
        None,
        Some(snapshot(&employee)?),
    )
    .await?;
    tx.commit().await?;
    Ok(employee)
}

/// Every tool an employee is given must be in its client's catalogue: each one that is not is
/// named by its place in the request (`field[i]`).
async fn check_tools(
    tx: &mut TenantTx,
    field: &str,
    given: &[String],
    names: &[String],
) -> Result<(), AppError> {
    let unknown = crate::tools::server::service::unknown_tools(tx, names).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let mut v = crate::core::validate::Validator::new();
    for name in unknown {
        let at = given
            .iter()
            .position(|g| g.trim().eq_ignore_ascii_case(&name))
            .map_or_else(|| field.to_owned(), |i| format!("{field}[{i}]"));
        v.error(
            at,
            format!(
                "there is no tool named '{name}' in this client's catalogue (built-in: {}; add an HTTP tool first)",
                crate::tools::BUILTIN_TOOLS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    v.finish(())
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn list_employees(
    state: &AppState,
    who: &ClientPrincipal,
    status: Option<EmployeeStatus>,
) -> Result<Vec<Employee>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let mut list = repo::list_employees(&mut tx, status).await?;
    tx.commit().await?;
    // A caller limited to some employees (a member, a bound key) sees those alone.
    if let Some(allowed) = &who.employees {
        list.retain(|e| allowed.contains(&e.id));
    }
    Ok(list)
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn get_employee(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<Employee, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let e = repo::get_employee(&mut tx, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    tx.commit().await?;
    Ok(e)
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn update_employee(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    update: &EmployeeUpdate,
) -> Result<Employee, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::get_employee(&mut tx, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    if current.status == EmployeeStatus::Archived {
        return Err(AppError::conflict("an archived employee cannot be changed"));
    }
    let client = current_client(&mut tx).await?;
    let next = apply_update(&current, update, &client.configuration.allowed_models)?;
    if let Some(given) = &update.tool_access {
        check_tools(&mut tx, "tool_access", given, &next.tool_access).await?;
    }
    let stored = repo::update_employee(&mut tx, &next).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::EmployeeUpdate,
        id.as_str(),
        Some(snapshot(&current)?),
        Some(snapshot(&stored)?),
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    Ok(stored)
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn change_status(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    action: LifecycleAction,
) -> Result<Employee, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::get_employee(&mut tx, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    let to = action.apply(current.status).map_err(AppError::conflict)?;
    let mut next = current.clone();
    next.status = to;
    if to == EmployeeStatus::Archived {
        next.archived_at = Some(Utc::now());
    }
    let stored = repo::update_employee(&mut tx, &next).await?;
    let actor = who.actor();
    audit::record_status_change(&mut tx, id, Some(current.status), stored.status, &actor).await?;
    audit::record(
        &mut tx,
        &actor,
        match action {
            LifecycleAction::Pause => AuditAction::EmployeePause,
            LifecycleAction::Resume => AuditAction::EmployeeResume,
            LifecycleAction::Archive => AuditAction::EmployeeArchive,
        },
        id.as_str(),
        Some(json!({ "status": current.status })),
        Some(json!({ "status": stored.status, "archived_at": stored.archived_at })),
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    Ok(stored)
}

/// Drops the employee from this instance's cache at once and tells the other instances.
async fn employee_changed(state: &AppState, client: &ClientId, id: &EmployeeId) {
    announce_change(&state.employees, &state.cache, client, id).await;
}

/// Deletes the employee with its interactions, vectors and cache entries. The audit trail keeps
/// a record of what was deleted.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn delete_employee(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::get_employee(&mut tx, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    repo::delete_employee(&mut tx, id).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::EmployeeDelete,
        id.as_str(),
        Some(snapshot(&current)?),
        None,
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    forget(state, &who.client_id, id).await;
    Ok(())
}

/// `GET …/employees/{employee_id}/budget`.
pub async fn budget(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<EmployeeBudget, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    repo::get_employee(&mut tx, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    let own = super::lookup::own_budget(&mut tx, id).await?;
    tx.commit().await?;
    Ok(own.unwrap_or(EmployeeBudget {
        monthly_tokens: None,
        monthly_cost_usd: None,
    }))
}

/// `PUT …/employees/{employee_id}/budget`: the employee's own monthly budget, from its next
/// turn on (on every instance).
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn set_budget(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    budget: &EmployeeBudget,
) -> Result<EmployeeBudget, AppError> {
    let mut fields = crate::core::FieldErrors::new();
    if budget
        .monthly_tokens
        .is_some_and(|n| !(1..=MAX_EMPLOYEE_MONTHLY_TOKENS).contains(&n))
    {
        fields.insert(
            "monthly_tokens".into(),
            format!(
                "must be a whole number of tokens from 1 to {MAX_EMPLOYEE_MONTHLY_TOKENS}, or null for no token budget of its own"
            ),
        );
    }
    if budget.monthly_cost_usd.is_some_and(|c| {
        !(c.is_finite() && (0.000_001..=MAX_EMPLOYEE_MONTHLY_COST_USD).contains(&c))
    }) {
        fields.insert(
            "monthly_cost_usd".into(),
            format!(
                "must be from 0.000001 to {MAX_EMPLOYEE_MONTHLY_COST_USD} US dollars, or null for no cost budget of its own"
            ),
        );
    }
    if !fields.is_empty() {
        return Err(AppError::Validation {
            message: format!(
                "the budget is out of range: {}",
                fields.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            fields,
        });
    }
    let tokens = budget.monthly_tokens.and_then(|n| i64::try_from(n).ok());
    // Kept in millionths of a dollar, rounded up.
    let cost = budget.monthly_cost_usd.map(|c| (c * 1e6).ceil() as i64);
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    repo::get_employee(&mut tx, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    let before = super::lookup::own_budget(&mut tx, id).await?;
    repo::set_own_budget(&mut tx, id, tokens, cost).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::EmployeeBudgetUpdate,
        id.as_str(),
        Some(json!(before)),
        Some(json!(budget)),
    )
    .await?;
    tx.commit().await?;
    employee_changed(state, &who.client_id, id).await;
    Ok(budget.clone())
}
