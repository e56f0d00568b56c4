//! Usage reports.

use super::repo;
use crate::accounts::ClientPrincipal;
use crate::core::{AppError, EmployeeId};
use crate::employees::server::lookup::ensure_exists;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use crate::usage::{UsageHistory, UsageReport};
use chrono::{Datelike, Utc};

/// One employee's turns and tokens, per model.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn employee_usage(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<UsageReport, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    ensure_exists(&mut tx, id).await?;
    let by_model = repo::usage_by_model(&mut tx, Some(id)).await?;
    let own = crate::employees::server::lookup::own_budget(&mut tx, id)
        .await?
        .map(|b| super::budget::Limit::of_employee(&b));
    let budget = super::budget::employee_status(&mut tx, id, own).await?;
    tx.commit().await?;
    Ok(UsageReport {
        budget,
        ..UsageReport::from_models(by_model)
    })
}

/// The turns and tokens of all the client's employees, per model.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn client_usage(
    state: &AppState,
    who: &ClientPrincipal,
) -> Result<UsageReport, AppError> {
    let limits = crate::clients::server::limits::effective(state, who).await?;
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let by_model = repo::usage_by_model(&mut tx, None).await?;
    let budget =
        super::budget::status(&mut tx, super::budget::Limit::of_tier(&limits.tier)).await?;
    tx.commit().await?;
    Ok(UsageReport {
        budget,
        limits: Some(limits.report()),
        ..UsageReport::from_models(by_model)
    })
}

/// The client's usage per day over the last `days` days (today included) and each employee's
/// activity; a member sees only the employees given to them.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn client_history(
    state: &AppState,
    who: &ClientPrincipal,
    days: u32,
) -> Result<UsageHistory, AppError> {
    if days == 0 || days > crate::usage::MAX_HISTORY_DAYS {
        return Err(AppError::field(
            "days",
            format!("must be between 1 and {}", crate::usage::MAX_HISTORY_DAYS),
        ));
    }
    let to = Utc::now().date_naive();
    let from = to - chrono::Days::new(u64::from(days) - 1);
    let month_start = to.with_day(1).unwrap_or(to);
    // The whole client's month comes from the same rows as the charts (read from the earlier
    // of the two days), with its budget and the limits in force.
    let whole = who.employees.is_none();
    let limits = match whole {
        true => Some(crate::clients::server::limits::effective(state, who).await?),
        false => None,
    };
    let only: Option<Vec<String>> = who
        .employees
        .as_ref()
        .map(|ids| ids.iter().map(|id| id.as_str().to_owned()).collect());
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let rows = repo::daily(&mut tx, from.min(month_start), only.as_deref()).await?;
    let activity = repo::activity(&mut tx, month_start, only.as_deref()).await?;
    let month = match limits {
        Some(limits) => {
            let limit = super::budget::Limit::of_tier(&limits.tier);
            Some(UsageReport {
                budget: super::budget::status(&mut tx, limit).await?,
                limits: Some(limits.report()),
                ..UsageReport::from_models(crate::usage::month_by_model(&rows, month_start))
            })
        }
        None => None,
    };
    tx.commit().await?;
    use crate::usage::charts::{layout, By, Metric};
    let charts = [Metric::Turns, Metric::Tokens]
        .into_iter()
        .flat_map(|m| [By::Model, By::Employee].map(|b| (m, b)))
        .map(|(m, b)| layout(&rows, from, to, m, b))
        .collect();
    Ok(UsageHistory {
        from,
        to,
        charts,
        activity,
        month,
    })
}
