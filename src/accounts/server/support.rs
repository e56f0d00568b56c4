//! Support access: a client's owner or admin lets the platform's operator read the client's
//! employees, their memory and usage for a bounded time (`POST …/support-access`), sees the
//! grant in force (`GET`) and ends it early (`DELETE`). Without a live grant the operator gets
//! 403 on every client route; with one, the operator holds `SUPPORT_SCOPES` alone, so anything
//! else (changing an employee, talking to it, keys, people, the audit chain) is still 403.
//!
//! The grant is read from Postgres on each of the operator's requests (no cache: revoking it
//! takes effect at once on every instance), and each request it allows appends a
//! `support_access.use` event to the client's audit trail, in the same transaction that found
//! the grant — so no read under a grant goes unrecorded.

use crate::accounts::{
    ClientPrincipal, Credential, NewSupportGrant, SupportAccess, SupportGrant, MAX_SUPPORT_HOURS,
    SUPPORT_SCOPES,
};
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::core::{AppError, ClientId};
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use chrono::{DateTime, Utc};
use serde_json::json;

const MAX_REASON_CHARS: usize = 500;

fn validate(req: &NewSupportGrant) -> Result<String, AppError> {
    if !(1..=MAX_SUPPORT_HOURS).contains(&req.hours) {
        return Err(AppError::field(
            "hours",
            format!("must be a whole number of hours from 1 to {MAX_SUPPORT_HOURS} (a week)"),
        ));
    }
    let reason = req.reason.as_deref().unwrap_or("").trim().to_owned();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::field(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err(AppError::field(
            "reason",
            "must not contain control characters",
        ));
    }
    Ok(reason)
}

async fn live_grant(tx: &mut TenantTx) -> Result<Option<SupportGrant>, AppError> {
    let row = sqlx::query!(
        "SELECT id, granted_by, reason, created_at, expires_at FROM support_grants
         WHERE revoked_at IS NULL AND expires_at > now()
         ORDER BY expires_at DESC LIMIT 1"
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| SupportGrant {
        id: r.id,
        granted_by: r.granted_by,
        reason: r.reason,
        created_at: r.created_at,
        expires_at: r.expires_at,
    }))
}

/// Ends the grants in force; whether there was one.
async fn end_live(tx: &mut TenantTx, by: &Actor) -> Result<bool, AppError> {
    let ended = sqlx::query!(
        "UPDATE support_grants SET revoked_at = now(), revoked_by = $1
         WHERE revoked_at IS NULL AND expires_at > now()",
        by.to_string(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(ended.rows_affected() > 0)
}

/// `POST …/support-access`: a new grant, replacing the one in force.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn grant(
    state: &AppState,
    who: &ClientPrincipal,
    req: &NewSupportGrant,
) -> Result<SupportGrant, AppError> {
    let reason = validate(req)?;
    let actor = who.actor();
    let id = hex::encode(rand::random::<[u8; 8]>());
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    end_live(&mut tx, &actor).await?;
    let client = tx.client().clone();
    let row = sqlx::query!(
        "INSERT INTO support_grants (client_id, id, granted_by, reason, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5))
         RETURNING created_at, expires_at",
        client.as_str(),
        id,
        actor.to_string(),
        reason,
        i32::try_from(req.hours).unwrap_or(1),
    )
    .fetch_one(&mut *tx)
    .await?;
    let granted = SupportGrant {
        id,
        granted_by: actor.to_string(),
        reason,
        created_at: row.created_at,
        expires_at: row.expires_at,
    };
    audit::record(
        &mut tx,
        &actor,
        AuditAction::SupportAccessGrant,
        client.as_str(),
        None,
        Some(json!({
            "grant_id": granted.id,
            "expires_at": granted.expires_at,
            "reason": granted.reason,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(granted)
}

/// `GET …/support-access`.
pub async fn current(state: &AppState, who: &ClientPrincipal) -> Result<SupportAccess, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let grant = live_grant(&mut tx).await?;
    tx.commit().await?;
    Ok(SupportAccess { grant })
}

/// `DELETE …/support-access`: ends the grant in force at once; 404 when there is none.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn revoke(state: &AppState, who: &ClientPrincipal) -> Result<(), AppError> {
    let actor = who.actor();
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let before = live_grant(&mut tx).await?;
    if !end_live(&mut tx, &actor).await? {
        return Err(AppError::NotFound {
            message: "no support access is in force".into(),
        });
    }
    let client = tx.client().clone();
    audit::record(
        &mut tx,
        &actor,
        AuditAction::SupportAccessRevoke,
        client.as_str(),
        before.map(|g| json!({ "grant_id": g.id, "expires_at": g.expires_at })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The client whose data `path` (under `/api/v1`) is about, when it is a client's own route
/// (not the operator's list, one client, or its suspension).
pub fn client_of_path(path: &str) -> Option<ClientId> {
    let rest = path.strip_prefix("/api/v1/employees/clients/")?;
    let (client, tail) = rest.split_once('/')?;
    if tail.is_empty() || ["suspend", "reactivate", "limits"].contains(&tail) {
        return None;
    }
    ClientId::parse(client)
}

/// The operator acting for `client` under its live grant, or 403 saying that a grant is needed.
pub async fn operator_principal(
    state: &AppState,
    client: &ClientId,
) -> Result<ClientPrincipal, AppError> {
    let denied = || {
        AppError::Forbidden {
        message: "the operator reads a client's employees only while the client grants support access (POST …/support-access, by its owner or an admin)".into(),
    }
    };
    let mut tx = TenantTx::begin(&state.pool, client).await?;
    let row = sqlx::query!(
        "SELECT g.expires_at, c.tier FROM support_grants g JOIN clients c ON c.id = g.client_id
         WHERE g.revoked_at IS NULL AND g.expires_at > now()
         ORDER BY g.expires_at DESC LIMIT 1"
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let row = row.ok_or_else(denied)?;
    Ok(ClientPrincipal {
        client_id: client.clone(),
        credential: Credential::Support {
            expires_at: row.expires_at,
        },
        tier: row.tier,
        scopes: SUPPORT_SCOPES.to_vec(),
        employees: None,
    })
}

/// Records one request the grant allowed (fail closed: if the event cannot be written, the read
/// is refused). The grant is checked again in the same transaction, so a grant revoked since
/// the request began allows nothing.
pub async fn record_use(
    state: &AppState,
    who: &ClientPrincipal,
    expires_at: DateTime<Utc>,
    method: &str,
    path: &str,
) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let Some(grant) = live_grant(&mut tx).await? else {
        return Err(AppError::Forbidden {
            message: "support access has ended".into(),
        });
    };
    let client = tx.client().clone();
    audit::record(
        &mut tx,
        &Actor::Operator,
        AuditAction::SupportAccessUse,
        client.as_str(),
        None,
        Some(json!({
            "grant_id": grant.id,
            "method": method,
            "path": path,
            "grant_expires_at": expires_at,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clients_own_routes_are_open_to_support() {
        let c = "client_0123456789abcdef01234567";
        let under = |tail: &str| format!("/api/v1/employees/clients/{c}{tail}");
        assert_eq!(
            client_of_path(&under("/employees")).map(|c| c.to_string()),
            Some(c.to_owned())
        );
        assert!(client_of_path(&under("/employees/x/memory")).is_some());
        assert!(client_of_path(&under("")).is_none());
        assert!(client_of_path(&under("/")).is_none());
        assert!(client_of_path(&under("/suspend")).is_none());
        assert!(client_of_path("/api/v1/employees/clients/not-a-client/employees").is_none());
        assert!(client_of_path("/api/v1/auth/sessions").is_none());
    }

    #[test]
    fn a_grant_is_bounded_and_its_reason_is_checked() {
        let ok = |hours, reason: Option<&str>| {
            validate(&NewSupportGrant {
                hours,
                reason: reason.map(str::to_owned),
            })
        };
        assert!(ok(1, None).is_ok());
        assert!(ok(168, Some("ticket 42")).is_ok());
        let field = |r: Result<String, AppError>| {
            r.err()
                .and_then(|e| e.fields().cloned())
                .and_then(|f| f.keys().next().cloned())
        };
        assert_eq!(field(ok(0, None)).as_deref(), Some("hours"));
        assert_eq!(field(ok(169, None)).as_deref(), Some("hours"));
        assert_eq!(field(ok(2, Some("a\u{0}b"))).as_deref(), Some("reason"));
        assert_eq!(
            field(ok(2, Some(&"x".repeat(501)))).as_deref(),
            Some("reason")
        );
    }
}
