//! Recording (always inside the caller's transaction, so a change and its record commit
//! together) and reading the trail.

use super::chain::{ChainedEvent, Verdict, Verifier};
use super::repo::{self, AuditEvent};
use crate::accounts::ClientPrincipal;
use crate::audit::{Actor, AuditAction, EmployeeAudit};
use crate::core::{AppError, EmployeeId};
use crate::employees::EmployeeStatus;
use crate::platform::db::TenantTx;
use crate::platform::error::internal;
use crate::platform::AppState;
use serde::Serialize;
use serde_json::Value;

/// A record as the trail keeps it. A record that cannot be serialised is an error: the change
/// is refused rather than audited with nothing.
pub fn snapshot<T: Serialize>(v: &T) -> Result<Value, AppError> {
    serde_json::to_value(v).map_err(|e| internal("serialising an audit record", &e))
}

/// Writes one event in `tx`.
pub async fn record(
    tx: &mut TenantTx,
    actor: &Actor,
    action: AuditAction,
    entity_id: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), AppError> {
    repo::insert_audit(
        tx,
        AuditEvent {
            actor,
            action,
            entity_id,
            before,
            after,
        },
    )
    .await?;
    Ok(())
}

/// Writes one change of an employee's status in `tx` (`from` is `None` at creation).
pub async fn record_status_change(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    from: Option<EmployeeStatus>,
    to: EmployeeStatus,
    actor: &Actor,
) -> Result<(), AppError> {
    repo::insert_status_change(tx, employee, from, to, actor).await?;
    Ok(())
}

/// An employee's events (also after its deletion) and status history.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn employee_audit(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
) -> Result<EmployeeAudit, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let events = repo::audit_for_entity(&mut tx, id.as_str()).await?;
    let status_history = repo::status_history(&mut tx, id).await?;
    tx.commit().await?;
    if events.is_empty() {
        return Err(AppError::not_found("employee"));
    }
    Ok(EmployeeAudit {
        events,
        status_history,
    })
}

/// Events read per round trip when walking a trail.
const PAGE: i64 = 1_000;

/// Walks the client's whole trail in the order it was written, a page per transaction,
/// handing each event to `each`.
async fn walk(
    state: &AppState,
    who: &ClientPrincipal,
    mut each: impl FnMut(ChainedEvent),
) -> Result<(), AppError> {
    let mut after = 0;
    loop {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        let page = repo::chain_page(&mut tx, after, PAGE).await?;
        tx.commit().await?;
        let done = (page.len() as i64) < PAGE;
        for e in page {
            after = e.id;
            each(e);
        }
        if done {
            return Ok(());
        }
    }
}

/// A page of the client's trail for the audit page, newest first.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn trail(
    state: &AppState,
    who: &ClientPrincipal,
    before: Option<i64>,
    action: Option<&str>,
    actor: Option<&str>,
) -> Result<crate::audit::TrailPage, AppError> {
    let limit = crate::audit::TRAIL_PAGE;
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let entries = super::repo::trail_page(&mut tx, before, action, actor, limit).await?;
    tx.commit().await?;
    let older = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(crate::audit::TrailPage { entries, older })
}

/// Verifies the client's whole chain (`GET …/audit/verify`).
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn verify_chain(state: &AppState, who: &ClientPrincipal) -> Result<Verdict, AppError> {
    let mut v = Verifier::default();
    walk(state, who, |e| v.push(&e)).await?;
    Ok(v.finish())
}

/// The client's whole trail as JSON Lines, one event per line, in the order written
/// (`GET …/audit/export`).
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn export_chain(state: &AppState, who: &ClientPrincipal) -> Result<String, AppError> {
    let mut out = String::new();
    let mut failed = None;
    walk(state, who, |e| match serde_json::to_string(&e) {
        Ok(line) => {
            out.push_str(&line);
            out.push('\n');
        }
        Err(err) => failed = Some(err),
    })
    .await?;
    if let Some(err) = failed {
        return Err(internal("exporting the audit trail", &err));
    }
    Ok(out)
}
