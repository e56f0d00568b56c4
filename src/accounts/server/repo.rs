//! The api_keys table.

use crate::accounts::{ApiKeyInfo, Scope};
use crate::core::{ClientId, KeyId};
use crate::platform::db::{decode_err, OperatorConn, TenantTx};

/// Stores a key's id, digest (never the key), name, scopes and binding for the transaction's
/// client.
pub async fn insert_api_key(
    tx: &mut TenantTx,
    key_id: &KeyId,
    digest: &str,
    name: &str,
    scopes: &[Scope],
    employee_id: Option<&str>,
) -> Result<ApiKeyInfo, sqlx::Error> {
    let client: ClientId = tx.client().clone();
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    let row = sqlx::query!(
        "INSERT INTO api_keys (client_id, id, key_hash, label, scopes, employee_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
        client.as_str(),
        key_id.as_str(),
        digest,
        name,
        &scopes,
        employee_id,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(ApiKeyInfo {
        prefix: format!("wfk_{key_id}_"),
        id: key_id.clone(),
        name: name.to_owned(),
        scopes: parse_scopes(&scopes)?,
        employee_id: employee_id.map(str::to_owned),
        created_at: row.created_at,
        last_used_at: None,
        revoked_at: None,
    })
}

fn parse_scopes(raw: &[String]) -> Result<Vec<Scope>, sqlx::Error> {
    raw.iter()
        .map(|s| Scope::parse(s).ok_or_else(|| decode_err("scope", s)))
        .collect()
}

/// The client's keys, newest first, revoked ones included.
pub async fn list_api_keys(tx: &mut TenantTx) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
    let client = tx.client().clone();
    let rows = sqlx::query!(
        "SELECT id, label, scopes, employee_id, created_at, last_used_at, revoked_at
         FROM api_keys WHERE client_id = $1 ORDER BY created_at DESC, id",
        client.as_str(),
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|r| {
            let id = KeyId::parse(&r.id).ok_or_else(|| decode_err("key id", &r.id))?;
            Ok(ApiKeyInfo {
                prefix: format!("wfk_{id}_"),
                id,
                name: r.label,
                scopes: parse_scopes(&r.scopes)?,
                employee_id: r.employee_id,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                revoked_at: r.revoked_at,
            })
        })
        .collect()
}

/// Revokes a key; false when the client has no such key or it is already revoked.
pub async fn revoke_api_key(tx: &mut TenantTx, key_id: &KeyId) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now()
         WHERE client_id = $1 AND id = $2 AND revoked_at IS NULL",
        client.as_str(),
        key_id.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Notes that a key was used now.
pub async fn touch_api_key(tx: &mut TenantTx, key_id: &KeyId) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "UPDATE api_keys SET last_used_at = now() WHERE client_id = $1 AND id = $2",
        client.as_str(),
        key_id.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct KeyRecord {
    pub client_id: String,
    pub key_hash: String,
    pub client_status: String,
    pub client_tier: String,
    pub scopes: Vec<String>,
    pub employee_id: Option<String>,
}

/// Resolves a key id to its client through the operator path (`wf_lookup_api_key`). A
/// function's columns carry no NOT NULL; all but the binding come from NOT NULL columns.
pub async fn lookup_api_key(
    conn: &mut OperatorConn,
    key_id: &KeyId,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    sqlx::query_as!(
        KeyRecord,
        r#"SELECT client_id AS "client_id!", key_hash AS "key_hash!",
                  client_status AS "client_status!", client_tier AS "client_tier!",
                  scopes AS "scopes!", employee_id
           FROM wf_lookup_api_key($1)"#,
        key_id.as_str(),
    )
    .fetch_optional(&mut **conn)
    .await
}
