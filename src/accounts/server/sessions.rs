//! People's sessions. Postgres holds each session (by a keyed digest of its cookie, never the
//! cookie) with its absolute expiry and last use; Redis caches a resolved session for
//! `accounts.session_cache_seconds`, tagged with the server's key so an entry written by anyone
//! else is never trusted. A Redis restart therefore signs nobody out, and a sign-out, a removal
//! or a suspension deletes the cached entries at once.

use crate::accounts::{Person, Role};
use crate::core::{AppError, ClientId, EmployeeId, UserId};
use crate::platform::db::{decode_err, OperatorConn, TenantTx};
use crate::platform::AppState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row};

/// A session as resolved: the person, their client's status and tier, a member's employees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionPerson {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
    pub client_active: bool,
    pub tier: String,
    pub employee_ids: Vec<EmployeeId>,
    pub expires_at: DateTime<Utc>,
}

impl SessionPerson {
    pub fn person(&self) -> Person {
        Person {
            id: self.user_id.clone(),
            email: self.email.clone(),
            role: self.role,
            client_id: self.client_id.clone(),
            employee_ids: self.employee_ids.clone(),
            session_expires_at: self.expires_at,
        }
    }
}

/// A fresh session cookie value: 256 random bits, hex.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn cache_key(digest: &str) -> String {
    format!("session:{digest}")
}

/// Opens a session for `user` on `conn` (inside the caller's transaction when it has one, so a
/// sign-in and its audit record commit together). Returns when it ends at the latest.
pub async fn open(
    conn: &mut PgConnection,
    state: &AppState,
    token: &str,
    user: &UserId,
) -> Result<DateTime<Utc>, AppError> {
    let hours = state.settings.file.accounts.session_absolute_hours.max(1);
    let secs = i32::try_from(hours.saturating_mul(3600)).unwrap_or(i32::MAX);
    let expires: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT wf_session_open($1, $2, $3)")
        .bind(state.secrets.token_digest("session", token))
        .bind(user.as_str())
        .bind(secs)
        .fetch_one(conn)
        .await?;
    expires.ok_or_else(|| AppError::unauthorized("this account no longer exists"))
}

/// The person behind a session cookie, or `None` (unknown, revoked, expired or idle too long).
pub async fn resolve(state: &AppState, token: &str) -> Result<Option<SessionPerson>, AppError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let digest = state.secrets.token_digest("session", token);
    let key = cache_key(&digest);
    if let Some(entry) = state
        .cache
        .run::<Option<String>>(redis::cmd("GET").arg(&key))
        .await
        .flatten()
    {
        if let Some(p) = read_entry(state, &digest, &entry) {
            if p.expires_at > Utc::now() {
                return Ok(Some(p));
            }
        }
    }
    let accounts = &state.settings.file.accounts;
    let idle =
        i32::try_from(accounts.session_idle_minutes.max(1).saturating_mul(60)).unwrap_or(i32::MAX);
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    let row = sqlx::query(
        "SELECT user_id, email, client_id, role, client_status, client_tier, employee_ids, \
         expires_at FROM wf_session_resolve($1, $2)",
    )
    .bind(&digest)
    .bind(idle)
    .fetch_optional(&mut *conn)
    .await?;
    drop(conn);
    let Some(row) = row else {
        return Ok(None);
    };
    let raw_user: String = row.try_get("user_id")?;
    let raw_role: String = row.try_get("role")?;
    let raw_client: Option<String> = row.try_get("client_id")?;
    let ids: Vec<String> = row.try_get("employee_ids")?;
    let person = SessionPerson {
        user_id: UserId::parse(&raw_user).ok_or_else(|| decode_err("user id", &raw_user))?,
        email: row.try_get("email")?,
        role: Role::parse(&raw_role).ok_or_else(|| decode_err("role", &raw_role))?,
        client_id: match raw_client {
            Some(c) => Some(ClientId::parse(&c).ok_or_else(|| decode_err("client id", &c))?),
            None => None,
        },
        client_active: row
            .try_get::<Option<String>, _>("client_status")?
            .is_none_or(|s| s == "active"),
        tier: row
            .try_get::<Option<String>, _>("client_tier")?
            .unwrap_or_default(),
        employee_ids: ids.iter().filter_map(|e| EmployeeId::parse(e)).collect(),
        expires_at: row.try_get("expires_at")?,
    };
    let remaining = (person.expires_at - Utc::now()).num_seconds().max(1);
    let ttl = accounts
        .session_cache_seconds
        .min(u64::try_from(remaining).unwrap_or(1));
    if ttl > 0 {
        if let Ok(json) = serde_json::to_string(&person) {
            let tag = state
                .secrets
                .cache_tag(&[b"session", digest.as_bytes(), json.as_bytes()]);
            let _ = state
                .cache
                .run::<()>(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(format!("{tag} {json}"))
                        .arg("EX")
                        .arg(ttl),
                )
                .await;
        }
    }
    Ok(Some(person))
}

fn read_entry(state: &AppState, digest: &str, entry: &str) -> Option<SessionPerson> {
    let (tag, json) = entry.split_once(' ')?;
    state
        .secrets
        .cache_tag_matches(tag, &[b"session", digest.as_bytes(), json.as_bytes()])
        .then(|| serde_json::from_str(json).ok())
        .flatten()
}

/// Ends the session of `token` (and, with `everywhere`, every session of its person).
pub async fn close(state: &AppState, token: &str, everywhere: bool) -> Result<(), AppError> {
    if !well_formed(token) {
        return Ok(());
    }
    let digest = state.secrets.token_digest("session", token);
    let mut conn = OperatorConn::acquire(&state.pool).await?;
    let mut ended: Vec<String> = sqlx::query_scalar("SELECT wf_session_close($1, $2)")
        .bind(&digest)
        .bind(everywhere)
        .fetch_all(&mut *conn)
        .await?;
    drop(conn);
    ended.push(digest);
    forget(state, &ended).await;
    Ok(())
}

/// The live sessions of a client (all its people, or one of them), by digest.
pub async fn of_client(
    tx: &mut TenantTx,
    user: Option<&UserId>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id_digest FROM sessions WHERE revoked_at IS NULL \
         AND ($1::text IS NULL OR user_id = $1)",
    )
    .bind(user.map(UserId::as_str))
    .fetch_all(&mut **tx)
    .await
}

/// Drops cached sessions, so the next request of each reads Postgres afresh. Should Redis not
/// answer, the entries lapse within `accounts.session_cache_seconds`.
pub async fn forget(state: &AppState, digests: &[String]) {
    if digests.is_empty() {
        return;
    }
    let mut cmd = redis::cmd("DEL");
    for d in digests {
        cmd.arg(cache_key(d));
    }
    if state.cache.run::<i64>(&cmd).await.is_none() {
        tracing::warn!(
            count = digests.len(),
            "could not drop cached sessions; they lapse within session_cache_seconds"
        );
    }
}

/// Forgets every cached session of a client (after its suspension or reactivation).
pub async fn forget_client(state: &AppState, client: &ClientId) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, client).await?;
    let digests = of_client(&mut tx, None).await?;
    tx.commit().await?;
    forget(state, &digests).await;
    Ok(())
}

/// The `Set-Cookie` value of a session cookie (`token` empty and `max_age` 0 remove it).
/// HttpOnly and SameSite=Lax always; Secure when the request came over HTTPS.
pub fn cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        crate::accounts::SESSION_COOKIE,
        max_age_secs.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a request came over HTTPS (directly, or through a proxy that says so).
pub fn over_https(headers: &http::HeaderMap, uri: &http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}
