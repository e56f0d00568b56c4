//! The audit trail's SQL: `audit_events` and `employee_status_history`, both append-only.

use super::chain;
use crate::audit::*;
use crate::core::EmployeeId;
use crate::employees::EmployeeStatus;
use crate::platform::db::{decode_err, TenantTx};
use chrono::{Timelike, Utc};
use serde_json::Value;

/// One event to write.
pub struct AuditEvent<'a> {
    pub actor: &'a Actor,
    pub action: AuditAction,
    pub entity_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Appends one event to the client's chain: takes the client's chain lock (held to the end of
/// the transaction, so writers of one client follow each other), then inserts the event with the
/// previous event's hash and its own, computed in the same statement from the canonical JSON.
/// Two statements, because the second must see a snapshot taken after the lock is held.
pub async fn insert_audit(tx: &mut TenantTx, ev: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    let meta = crate::platform::telemetry::current_request();
    // Postgres keeps microseconds: hash exactly what is stored.
    let now = Utc::now();
    let created_at = now
        .with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now);
    let actor = ev.actor.to_string();
    let content = chain::Content {
        client_id: client.as_str(),
        actor: &actor,
        action: ev.action.as_str(),
        entity_type: ev.action.entity_type(),
        entity_id: ev.entity_id,
        before: ev.before.as_ref(),
        after: ev.after.as_ref(),
        request_id: meta.request_id.as_deref(),
        ip: meta.ip.as_deref(),
        created_at,
    };
    let canonical = content.canonical();
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('audit:' || $1, 0))",
        client.as_str()
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO audit_events (client_id, actor, action, entity_type, entity_id, before, after,
                                   request_id, ip, created_at, prev_hash, hash)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, p.h,
                  encode(sha256(convert_to(p.h || E'\n' || $11, 'UTF8')), 'hex')
           FROM (SELECT COALESCE((SELECT hash FROM audit_events
                                  WHERE client_id = $1 AND hash IS NOT NULL
                                  ORDER BY id DESC LIMIT 1), '') AS h) p"#,
        client.as_str(),
        actor,
        ev.action.as_str(),
        ev.action.entity_type(),
        ev.entity_id,
        ev.before,
        ev.after,
        meta.request_id,
        meta.ip,
        created_at,
        canonical,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The client's trail in the order it was written, from event id `after` on, `limit` at a time.
pub async fn chain_page(
    tx: &mut TenantTx,
    after: i64,
    limit: i64,
) -> Result<Vec<chain::ChainedEvent>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        chain::ChainedEvent,
        r#"SELECT id, client_id, actor, action, entity_type, entity_id, before, after, request_id,
                  ip, created_at, prev_hash, hash
           FROM audit_events WHERE client_id = $1 AND id > $2 ORDER BY id LIMIT $3"#,
        client.as_str(),
        after,
        limit,
    )
    .fetch_all(&mut **tx)
    .await
}

/// An event as read back: its action must be one the trail knows.
fn record_of(
    actor: String,
    action: &str,
    (entity_type, entity_id): (String, String),
    (before, after): (Option<serde_json::Value>, Option<serde_json::Value>),
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        action: AuditAction::parse(action).ok_or_else(|| decode_err("audit action", action))?,
        actor,
        entity_type,
        entity_id,
        before,
        after,
        created_at,
    })
}

/// The client's trail newest first: the `limit` events before event `before` (the newest when
/// `None`), only those of `action` and of `actor` when given.
pub async fn trail_page(
    tx: &mut TenantTx,
    before: Option<i64>,
    action: Option<&str>,
    actor: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::audit::TrailEntry>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query!(
        "SELECT id, actor, action, entity_type, entity_id, before, after, created_at FROM audit_events
         WHERE client_id = $1 AND ($2::int8 IS NULL OR id < $2)
           AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR actor = $4)
         ORDER BY id DESC LIMIT $5",
        client.as_str(),
        before,
        action,
        actor,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(crate::audit::TrailEntry {
                id: r.id,
                record: record_of(
                    r.actor,
                    &r.action,
                    (r.entity_type, r.entity_id),
                    (r.before, r.after),
                    r.created_at,
                )?,
            })
        })
        .collect()
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
            record_of(
                r.actor,
                &r.action,
                (r.entity_type, r.entity_id),
                (r.before, r.after),
                r.created_at,
            )
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
