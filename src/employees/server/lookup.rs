//! Reads of one employee that other features make inside their own transaction: does it
//! exist, and the employee as a chat turn needs it.

use super::cache::TurnEmployee;
use super::repo;
use crate::clients::server::service::current as current_client;
use crate::core::{AppError, EmployeeId};
use crate::employees::EmployeeBudget;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use std::sync::Arc;

/// Fails with a 404 unless the employee exists (inside a caller's transaction).
pub async fn ensure_exists(tx: &mut TenantTx, id: &EmployeeId) -> Result<(), AppError> {
    repo::get_employee(tx, id, false)
        .await?
        .map(|_| ())
        .ok_or_else(|| AppError::not_found("employee"))
}

/// The employee as a chat turn needs it, with what its client may use: from this instance's
/// cache, else read in the turn's transaction and cached.
pub async fn employee_for_turn(
    state: &AppState,
    tx: &mut TenantTx,
    id: &EmployeeId,
) -> Result<TurnEmployee, AppError> {
    if let Some(hit) = state.employees.get(tx.client(), id) {
        return Ok(hit);
    }
    let epoch = state.employees.epoch();
    let employee = repo::get_employee(tx, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    let client = current_client(tx).await?;
    let budget = own_budget(tx, id).await?;
    let loaded = TurnEmployee {
        employee: Arc::new(employee),
        allowed_models: Arc::new(client.configuration.allowed_models),
        budget,
    };
    state
        .employees
        .insert(tx.client(), id, loaded.clone(), epoch);
    Ok(loaded)
}

/// The employee's own monthly budget, if it has one (inside a caller's transaction).
pub async fn own_budget(
    tx: &mut TenantTx,
    id: &EmployeeId,
) -> Result<Option<EmployeeBudget>, AppError> {
    Ok(repo::own_budget(tx, id)
        .await?
        .map(|(tokens, cost)| EmployeeBudget {
            monthly_tokens: tokens.and_then(|n| u64::try_from(n).ok()),
            monthly_cost_usd: cost.map(|c| c as f64 / 1e6),
        }))
}
