//! Retention: every `memory.retention_sweep_seconds`, each client with `retention_days` set has
//! its older exchanges purged (rows, vectors, Redis lists), with one audit receipt per client
//! and sweep (counts, ids and content hashes per employee — no content), written in the purging
//! transaction.

use super::{recent, repo};
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::core::{AppError, ClientId, EmployeeId};
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use std::collections::BTreeMap;
use std::time::Duration;

/// Purges what every client's retention says is too old; returns the exchanges purged.
pub async fn sweep(state: &AppState) -> Result<usize, AppError> {
    let clients = crate::clients::server::service::list_clients(state).await?;
    let mut purged = 0;
    for c in clients {
        let Some(days) = c.configuration.retention_days else {
            continue;
        };
        purged += purge_client(state, &c.id, days).await?;
    }
    Ok(purged)
}

async fn purge_client(state: &AppState, client: &ClientId, days: u32) -> Result<usize, AppError> {
    let mut tx = TenantTx::begin(&state.pool, client).await?;
    let rows = repo::purge_older_than(&mut tx, i32::try_from(days).unwrap_or(i32::MAX)).await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let mut by_employee: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for (emp, id, digest) in &rows {
        by_employee
            .entry(emp)
            .or_default()
            .push(serde_json::json!({"interaction_id": id, "content_sha256": digest}));
    }
    audit::record(
        &mut tx,
        &Actor::System,
        AuditAction::MemoryRetentionPurge,
        client.as_str(),
        None,
        Some(serde_json::json!({
            "retention_days": days,
            "count": rows.len(),
            "employees": by_employee,
        })),
    )
    .await?;
    tx.commit().await?;
    for emp in by_employee.keys().filter_map(|e| EmployeeId::parse(e)) {
        recent::purge(&state.cache, client, &emp).await;
    }
    tracing::info!(client_id = %client, purged = rows.len(), "retention purge");
    Ok(rows.len())
}

/// Runs `sweep` every `every` for as long as the runtime runs.
pub fn start(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "retention sweep failed; trying again next time");
            }
        }
    });
}
