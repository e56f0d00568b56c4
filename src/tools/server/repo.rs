//! The `tools` table: a client's HTTP tools. Header values are stored sealed (`headers` is a
//! list of `{"name", "sealed"}`); this module never sees them in clear.

use crate::platform::db::TenantTx;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

/// A header as stored: its name and its value sealed by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedHeader {
    pub name: String,
    pub sealed: String,
}

/// A stored HTTP tool.
#[derive(Debug, Clone)]
pub struct ToolRow {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
    pub method: String,
    pub url_template: String,
    pub headers: Json<Vec<SealedHeader>>,
    pub timeout_ms: i32,
    pub max_response_bytes: i32,
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<ToolRow>, sqlx::Error> {
    sqlx::query_as!(
        ToolRow,
        r#"SELECT name, description, parameters, method, url_template,
                  headers AS "headers: Json<Vec<SealedHeader>>", timeout_ms, max_response_bytes
           FROM tools ORDER BY name"#
    )
    .fetch_all(&mut **tx)
    .await
}

/// The tools among `names` (the others do not exist in the client's catalogue).
pub async fn named(tx: &mut TenantTx, names: &[String]) -> Result<Vec<ToolRow>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        ToolRow,
        r#"SELECT name, description, parameters, method, url_template,
                  headers AS "headers: Json<Vec<SealedHeader>>", timeout_ms, max_response_bytes
           FROM tools WHERE client_id = $1 AND name = ANY($2) ORDER BY name"#,
        client.as_str(),
        names,
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn get(
    tx: &mut TenantTx,
    name: &str,
    for_update: bool,
) -> Result<Option<ToolRow>, sqlx::Error> {
    let client = tx.client().clone();
    if for_update {
        sqlx::query_as!(
            ToolRow,
            r#"SELECT name, description, parameters, method, url_template,
                      headers AS "headers: Json<Vec<SealedHeader>>", timeout_ms, max_response_bytes
               FROM tools WHERE client_id = $1 AND name = $2 FOR UPDATE"#,
            client.as_str(),
            name,
        )
        .fetch_optional(&mut **tx)
        .await
    } else {
        sqlx::query_as!(
            ToolRow,
            r#"SELECT name, description, parameters, method, url_template,
                      headers AS "headers: Json<Vec<SealedHeader>>", timeout_ms, max_response_bytes
               FROM tools WHERE client_id = $1 AND name = $2"#,
            client.as_str(),
            name,
        )
        .fetch_optional(&mut **tx)
        .await
    }
}

/// Stores a new tool; a name the client already uses is a unique violation.
pub async fn insert(tx: &mut TenantTx, t: &ToolRow) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "INSERT INTO tools (client_id, name, description, parameters, method, url_template, headers,
                            timeout_ms, max_response_bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        client.as_str(),
        t.name,
        t.description,
        t.parameters,
        t.method,
        t.url_template,
        &t.headers as _,
        t.timeout_ms,
        t.max_response_bytes,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn update(tx: &mut TenantTx, t: &ToolRow) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "UPDATE tools SET description = $3, parameters = $4, method = $5, url_template = $6,
                headers = $7, timeout_ms = $8, max_response_bytes = $9, updated_at = now()
         WHERE client_id = $1 AND name = $2",
        client.as_str(),
        t.name,
        t.description,
        t.parameters,
        t.method,
        t.url_template,
        &t.headers as _,
        t.timeout_ms,
        t.max_response_bytes,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether there was such a tool.
pub async fn delete(tx: &mut TenantTx, name: &str) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "DELETE FROM tools WHERE client_id = $1 AND name = $2",
        client.as_str(),
        name,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
