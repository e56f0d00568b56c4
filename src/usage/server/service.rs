//! Usage reports.

use super::repo;
use crate::accounts::ClientPrincipal;
use crate::core::{AppError, EmployeeId};
use crate::employees::server::lookup::ensure_exists;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use crate::usage::UsageReport;

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
    tx.commit().await?;
    Ok(UsageReport::from_models(by_model))
}

/// The turns and tokens of all the client's employees, per model.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn client_usage(
    state: &AppState,
    who: &ClientPrincipal,
) -> Result<UsageReport, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let by_model = repo::usage_by_model(&mut tx, None).await?;
    let budget = super::budget::status(state, who, &mut tx).await?;
    tx.commit().await?;
    let limits = state
        .settings
        .file
        .tiers
        .get(&who.tier)
        .map(|t| crate::usage::TierLimits {
            tier: who.tier.clone(),
            requests_per_second: t.requests_per_second,
            burst: t.burst,
            key_requests_per_second: t.key_requests_per_second,
            key_burst: t.key_burst,
            max_concurrent_turns: t.max_concurrent_turns,
            monthly_tokens: t.monthly_tokens,
        });
    Ok(UsageReport {
        budget,
        limits,
        ..UsageReport::from_models(by_model)
    })
}
