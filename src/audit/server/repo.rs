//! The audit trail's SQL: `audit_events` and `employee_status_history`, both append-only.

use crate::audit::*;
use crate::core::EmployeeId;
use crate::employees::EmployeeStatus;
use crate::platform::db::{decode_err, TenantTx};
use serde_json::Value;
use sqlx::Row;

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
    sqlx::query(
        "INSERT INTO audit_events (client_id, actor, action, entity_type, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(client.as_str())
    .bind(ev.actor.to_string())
    .bind(ev.action.as_str())
    .bind(ev.action.entity_type())
    .bind(ev.entity_id)
    .bind(ev.before)
    .bind(ev.after)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn audit_for_entity(
    tx: &mut TenantTx,
    entity_id: &str,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(
        "SELECT actor, action, entity_type, entity_id, before, after, created_at FROM audit_events
         WHERE client_id = $1 AND entity_id = $2 ORDER BY id",
    )
    .bind(client.as_str())
    .bind(entity_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            let action: String = r.try_get("action")?;
            Ok(AuditRecord {
                actor: r.try_get("actor")?,
                action: AuditAction::parse(&action)
                    .ok_or_else(|| decode_err("audit action", &action))?,
                entity_type: r.try_get("entity_type")?,
                entity_id: r.try_get("entity_id")?,
                before: r.try_get("before")?,
                after: r.try_get("after")?,
                created_at: r.try_get("created_at")?,
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
    sqlx::query(
        "INSERT INTO employee_status_history (client_id, employee_id, from_status, to_status, actor)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(client.as_str())
    .bind(employee.as_str())
    .bind(from.map(EmployeeStatus::as_str))
    .bind(to.as_str())
    .bind(actor.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn status_history(
    tx: &mut TenantTx,
    id: &EmployeeId,
) -> Result<Vec<StatusChange>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query(
        "SELECT from_status, to_status, actor, changed_at FROM employee_status_history
         WHERE client_id = $1 AND employee_id = $2 ORDER BY changed_at, id",
    )
    .bind(client.as_str())
    .bind(id.as_str())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StatusChange {
                from_status: r.try_get("from_status")?,
                to_status: r.try_get("to_status")?,
                actor: r.try_get("actor")?,
                changed_at: r.try_get("changed_at")?,
            })
        })
        .collect()
}
