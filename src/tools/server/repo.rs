//! The `tools` table (a client's HTTP tools) and `mcp_servers`. Header values and bearer tokens
//! are stored sealed (`headers` is a list of `{"name", "sealed"}`); this module never sees them
//! in clear.

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

/// A stored MCP server: its token sealed, its tools as last listed.
#[derive(Debug, Clone)]
pub struct McpServerRow {
    pub name: String,
    pub url: String,
    pub bearer_sealed: Option<String>,
    pub tools: Json<Vec<crate::tools::McpTool>>,
    pub listed_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list_mcp(tx: &mut TenantTx) -> Result<Vec<McpServerRow>, sqlx::Error> {
    sqlx::query_as!(
        McpServerRow,
        r#"SELECT name, url, bearer_sealed, tools AS "tools: Json<Vec<crate::tools::McpTool>>",
                  listed_at
           FROM mcp_servers ORDER BY name"#
    )
    .fetch_all(&mut **tx)
    .await
}

/// The servers among `names`.
pub async fn mcp_named(
    tx: &mut TenantTx,
    names: &[String],
) -> Result<Vec<McpServerRow>, sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query_as!(
        McpServerRow,
        r#"SELECT name, url, bearer_sealed, tools AS "tools: Json<Vec<crate::tools::McpTool>>",
                  listed_at
           FROM mcp_servers WHERE client_id = $1 AND name = ANY($2) ORDER BY name"#,
        client.as_str(),
        names,
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn insert_mcp(tx: &mut TenantTx, s: &McpServerRow) -> Result<(), sqlx::Error> {
    let client = tx.client().clone();
    sqlx::query!(
        "INSERT INTO mcp_servers (client_id, name, url, bearer_sealed, tools, listed_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        client.as_str(),
        s.name,
        s.url,
        s.bearer_sealed,
        &s.tools as _,
        s.listed_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores what the server listed now; whether there was such a server.
pub async fn update_mcp_tools(
    tx: &mut TenantTx,
    name: &str,
    tools: &Json<Vec<crate::tools::McpTool>>,
    listed_at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "UPDATE mcp_servers SET tools = $3, listed_at = $4 WHERE client_id = $1 AND name = $2",
        client.as_str(),
        name,
        tools as _,
        listed_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether there was such a server.
pub async fn delete_mcp(tx: &mut TenantTx, name: &str) -> Result<bool, sqlx::Error> {
    let client = tx.client().clone();
    let done = sqlx::query!(
        "DELETE FROM mcp_servers WHERE client_id = $1 AND name = $2",
        client.as_str(),
        name,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
