//! The audit trail's SQL: `audit_events` and `employee_status_history`, both append-only.

use crate::audit::*;
use crate::core::EmployeeId;
use crate::employees::EmployeeStatus;
use crate::platform::db::{decode_err, TenantTx};
use serde_json::Value;

/// One event to write.
pub struct AuditEvent<'a> {
    pub actor: &'a Actor,
    pub action: AuditAction,
    pub entity_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn insert_audit(tx: &mut TenantTx, ev: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "INSERT INTO audit_events (client_id, actor, action, entity_type, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        client.as_str(),
        ev.actor.to_string(),
        ev.action.as_str(),
        ev.action.entity_type(),
        ev.entity_id,
        ev.before,
        ev.after,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn audit_for_entity(
    tx: &mut TenantTx,
    entity_id: &str,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query!(
        "SELECT actor, action, entity_type, entity_id, before, after, created_at FROM audit_events
         WHERE client_id = $1 AND entity_id = $2 ORDER BY id",
        client.as_str(),
        entity_id,
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(AuditRecord {
                action: AuditAction::parse(&r.action)
                    .ok_or_else(|| decode_err("audit action", &r.action))?,
                actor: r.actor,
                entity_type: r.entity_type,
                entity_id: r.entity_id,
                before: r.before,
                after: r.after,
                created_at: r.created_at,
            })
        })
        .collect()
}

pub async fn insert_status_change(
    tx: &mut TenantTx,
    employee: &EmployeeId,
    from: Option<EmployeeStatus>,
    to: EmployeeStatus,
    actor: &Actor,
) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "INSERT INTO employee_status_history (client_id, employee_id, from_status, to_status, actor)
         VALUES ($1, $2, $3, $4, $5)",
        client.as_str(),
        employee.as_str(),
        from.map(EmployeeStatus::as_str),
        to.as_str(),
        actor.to_string(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn status_history(
    tx: &mut TenantTx,
    id: &EmployeeId,
) -> Result<Vec<StatusChange>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        StatusChange,
        "SELECT from_status, to_status, actor, changed_at FROM employee_status_history
         WHERE client_id = $1 AND employee_id = $2 ORDER BY changed_at, id",
        client.as_str(),
        id.as_str(),
    )
    .fetch_all(&mut **tx)
    .await
}
