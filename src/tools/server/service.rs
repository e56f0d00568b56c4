//! The client's tool catalogue: the built-ins every client has and its HTTP tools. Changes run
//! in one tenant transaction with their audit event; header values are sealed before they are
//! stored and never returned.

use super::exec::{bearer_owner, header_owner, run_calls, CallContext, Toolbox};
use super::mcp;
use super::repo::{self, McpServerRow, SealedHeader, ToolRow};
use crate::accounts::ClientPrincipal;
use crate::ai::types::ToolCall;
use crate::audit::server::service as audit;
use crate::audit::AuditAction;
use crate::core::{AppError, ClientId, EmployeeId};
use crate::platform::db::TenantTx;
use crate::platform::error::internal;
use crate::platform::AppState;
use crate::tools::*;
use serde_json::Value;
use sqlx::types::Json;
use std::time::{Duration, Instant};

fn view(row: &ToolRow) -> Tool {
    Tool {
        name: row.name.clone(),
        kind: ToolKind::Http,
        description: row.description.clone(),
        parameters: row.parameters.clone(),
        method: Some(row.method.clone()),
        url_template: Some(row.url_template.clone()),
        header_names: row.headers.iter().map(|h| h.name.clone()).collect(),
        timeout_ms: Some(row.timeout_ms.max(0) as u32),
        max_response_bytes: Some(row.max_response_bytes.max(0) as u32),
    }
}

fn builtins() -> impl Iterator<Item = Tool> {
    BUILTIN_TOOLS.iter().map(|(name, description)| Tool {
        name: (*name).to_owned(),
        kind: ToolKind::Builtin,
        description: (*description).to_owned(),
        parameters: builtin_parameters(name),
        method: None,
        url_template: None,
        header_names: Vec::new(),
        timeout_ms: None,
        max_response_bytes: None,
    })
}

/// An MCP server's tools as catalogue entries (`server/tool`).
fn mcp_views(server: &McpServerRow) -> impl Iterator<Item = Tool> + '_ {
    server.tools.iter().map(|t| Tool {
        name: mcp_tool_ref(&server.name, &t.name),
        kind: ToolKind::Mcp,
        description: t.description.clone(),
        parameters: t.parameters.clone(),
        method: None,
        url_template: Some(server.url.clone()),
        header_names: Vec::new(),
        timeout_ms: Some(DEFAULT_TIMEOUT_MS),
        max_response_bytes: None,
    })
}

/// The catalogue: the built-ins, the client's HTTP tools by name, then its MCP servers' tools.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn list_tools(state: &AppState, who: &ClientPrincipal) -> Result<Vec<Tool>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let rows = repo::list(&mut tx).await?;
    let servers = repo::list_mcp(&mut tx).await?;
    tx.commit().await?;
    Ok(builtins()
        .chain(rows.iter().map(view))
        .chain(servers.iter().flat_map(mcp_views))
        .collect())
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn get_tool(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<Tool, AppError> {
    if let Some(b) = builtins().find(|b| b.name == name) {
        return Ok(b);
    }
    if let Some((server, _)) = name.split_once('/') {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        let found = repo::mcp_named(&mut tx, &[server.to_owned()]).await?;
        tx.commit().await?;
        return found
            .iter()
            .flat_map(mcp_views)
            .find(|t| t.name == name)
            .ok_or_else(|| AppError::not_found("tool"));
    }
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let row = repo::get(&mut tx, name, false).await?;
    tx.commit().await?;
    row.map(|r| view(&r))
        .ok_or_else(|| AppError::not_found("tool"))
}

/// The definition checked whole: its fields, then its schema compiled.
fn checked(spec: &HttpToolSpec) -> Result<HttpToolSpec, AppError> {
    let spec = validate_http_tool(spec)?;
    if let Err(e) = jsonschema::validator_for(&spec.parameters) {
        return Err(AppError::field(
            "parameters",
            format!("is not a valid JSON Schema: {e}"),
        ));
    }
    Ok(spec)
}

fn sealed_headers(
    state: &AppState,
    client: &ClientId,
    tool: &str,
    headers: &[ToolHeader],
) -> Vec<SealedHeader> {
    headers
        .iter()
        .map(|h| SealedHeader {
            name: h.name.clone(),
            sealed: state
                .secrets
                .seal(&header_owner(client, tool, &h.name), &h.value),
        })
        .collect()
}

fn row_of(spec: HttpToolSpec, headers: Vec<SealedHeader>) -> ToolRow {
    ToolRow {
        name: spec.name,
        description: spec.description,
        parameters: spec.parameters,
        method: spec.method,
        url_template: spec.url_template,
        headers: Json(headers),
        timeout_ms: spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS) as i32,
        max_response_bytes: spec
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES) as i32,
    }
}

fn audit_snapshot(tool: &Tool) -> Result<Value, AppError> {
    serde_json::to_value(tool).map_err(|e| internal("tool snapshot", &e))
}

/// Adds an HTTP tool; a name already in the catalogue is a 409.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn create_tool(
    state: &AppState,
    who: &ClientPrincipal,
    spec: &HttpToolSpec,
) -> Result<Tool, AppError> {
    let spec = checked(spec)?;
    let headers = sealed_headers(
        state,
        &who.client_id,
        &spec.name,
        spec.headers.as_deref().unwrap_or_default(),
    );
    let row = row_of(spec, headers);
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    repo::insert(&mut tx, &row).await.map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppError::conflict(format!(
            "the catalogue already has a tool named {}",
            row.name
        )),
        other => other.into(),
    })?;
    let tool = view(&row);
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::ToolCreate,
        &tool.name,
        None,
        Some(audit_snapshot(&tool)?),
    )
    .await?;
    tx.commit().await?;
    Ok(tool)
}

/// Replaces an HTTP tool's definition (its name stays); `headers` absent keeps the stored
/// ones.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn replace_tool(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
    spec: &HttpToolSpec,
) -> Result<Tool, AppError> {
    if is_builtin(name) {
        return Err(AppError::conflict(format!(
            "{name} is a built-in tool; it cannot be changed"
        )));
    }
    let spec = checked(spec)?;
    if spec.name != name {
        return Err(AppError::field(
            "name",
            format!("must be the tool's name ({name}); a tool cannot be renamed, add a new one"),
        ));
    }
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::get(&mut tx, name, true)
        .await?
        .ok_or_else(|| AppError::not_found("tool"))?;
    let headers = match &spec.headers {
        Some(list) => sealed_headers(state, &who.client_id, name, list),
        None => current.headers.0.clone(),
    };
    let row = row_of(spec, headers);
    repo::update(&mut tx, &row).await?;
    let tool = view(&row);
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::ToolUpdate,
        name,
        Some(audit_snapshot(&view(&current))?),
        Some(audit_snapshot(&tool)?),
    )
    .await?;
    tx.commit().await?;
    Ok(tool)
}

/// Removes an HTTP tool. Employees that named it keep working without it.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn delete_tool(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<(), AppError> {
    if is_builtin(name) {
        return Err(AppError::conflict(format!(
            "{name} is a built-in tool; it cannot be removed (leave it out of an employee's tool_access instead)"
        )));
    }
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::get(&mut tx, name, true)
        .await?
        .ok_or_else(|| AppError::not_found("tool"))?;
    repo::delete(&mut tx, name).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::ToolDelete,
        name,
        Some(audit_snapshot(&view(&current))?),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The client's HTTP tools among `names`, and the MCP servers that `server/tool` names point
/// to (built-in names need no lookup; nothing to look up, no query).
async fn client_tools_named(
    tx: &mut TenantTx,
    names: &[String],
) -> Result<(Vec<ToolRow>, Vec<McpServerRow>), AppError> {
    let http: Vec<String> = names
        .iter()
        .filter(|n| !is_builtin(n) && !n.contains('/'))
        .cloned()
        .collect();
    let mut servers: Vec<String> = names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(s, _)| s.to_owned()))
        .collect();
    servers.dedup();
    let rows = if http.is_empty() {
        Vec::new()
    } else {
        repo::named(tx, &http).await?
    };
    let servers = if servers.is_empty() {
        Vec::new()
    } else {
        repo::mcp_named(tx, &servers).await?
    };
    Ok((rows, servers))
}

/// Whether the catalogue of `rows` and `servers` has `name`.
fn known(name: &str, rows: &[ToolRow], servers: &[McpServerRow]) -> bool {
    if is_builtin(name) {
        return true;
    }
    match name.split_once('/') {
        Some((server, tool)) => servers
            .iter()
            .any(|s| s.name == server && s.tools.iter().any(|t| t.name == tool)),
        None => rows.iter().any(|r| r.name == name),
    }
}

/// The names of `names` that are not in the client's catalogue (in their order).
pub async fn unknown_tools(tx: &mut TenantTx, names: &[String]) -> Result<Vec<String>, AppError> {
    let (rows, servers) = client_tools_named(tx, names).await?;
    Ok(names
        .iter()
        .filter(|n| !known(n, &rows, &servers))
        .cloned()
        .collect())
}

/// The tools an employee with `tool_access` is offered this turn (those that exist);
/// `knowledge_search` searches `collections` (those its `knowledge_sources` name).
pub async fn toolbox_for_turn(
    tx: &mut TenantTx,
    tool_access: &[String],
    collections: Vec<String>,
) -> Result<Toolbox, AppError> {
    let (rows, servers) = client_tools_named(tx, tool_access).await?;
    Ok(Toolbox::new(tool_access, rows, servers).with_knowledge(collections))
}

/// Calls a tool of the catalogue once with sample arguments, as a turn would (same checks,
/// same outbound rules), and stores nothing but its audit event.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn test_tool(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
    test: &ToolTest,
) -> Result<ToolTestResult, AppError> {
    if name == "memory_search" {
        return Err(AppError::field(
            "name",
            "memory_search searches one employee's memory; try it in a chat with that employee",
        ));
    }
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let access = vec![name.to_owned()];
    let (rows, servers) = client_tools_named(&mut tx, &access).await?;
    // A trial call of knowledge_search searches all the client's collections.
    let toolbox = Toolbox::new(&access, rows, servers);
    // The name the model would call it by (`server__tool` for an MCP tool).
    let Some(model_name) = toolbox.names().first().map(|n| (*n).to_owned()) else {
        return Err(AppError::not_found("tool"));
    };
    tx.commit().await?;
    let arguments = test
        .arguments
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let call = ToolCall {
        id: "test".into(),
        name: model_name,
        arguments: arguments.to_string(),
    };
    // No employee is involved: HTTP and MCP tools and the clock never look it up.
    let nobody = EmployeeId::generate(&who.client_id);
    let ctx = CallContext {
        state,
        who,
        employee: &nobody,
        toolbox: &toolbox,
        deadline: Instant::now() + Duration::from_millis(u64::from(MAX_TIMEOUT_MS)),
    };
    let outcome = run_calls(&ctx, std::slice::from_ref(&call), 1)
        .await
        .pop()
        .ok_or_else(|| internal("tool test", &"no outcome"))?;
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::ToolCall,
        name,
        None,
        Some(serde_json::json!({
            "test": true,
            "status": outcome.record.status,
            "duration_ms": outcome.record.duration_ms,
            "result_bytes": outcome.record.result_bytes,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(ToolTestResult {
        call: outcome.record,
        result: outcome.for_model,
    })
}

/// How long registering or refreshing waits for a server's list of tools.
const LISTING_TIMEOUT: Duration = Duration::from_secs(15);

fn mcp_view(row: &McpServerRow) -> McpServer {
    McpServer {
        name: row.name.clone(),
        url: row.url.clone(),
        has_bearer_token: row.bearer_sealed.is_some(),
        tools: row.tools.0.clone(),
        listed_at: row.listed_at,
    }
}

fn mcp_snapshot(server: &McpServer) -> Value {
    serde_json::json!({
        "url": server.url,
        "has_bearer_token": server.has_bearer_token,
        "tools": server.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
    })
}

/// The tools a server lists now; a server that cannot be reached or listed is the admin's
/// field `url` to fix (422), with the reason.
async fn listing(
    state: &AppState,
    url: &str,
    bearer: Option<&str>,
) -> Result<Vec<McpTool>, AppError> {
    let (tools, left_out) = mcp::list_tools(&state.outbound, url, bearer, LISTING_TIMEOUT)
        .await
        .map_err(|e| AppError::field("url", format!("could not list the server's tools: {e}")))?;
    if left_out > 0 {
        tracing::info!(
            left_out,
            "an MCP server listed tools that cannot be offered"
        );
    }
    Ok(tools)
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn list_mcp_servers(
    state: &AppState,
    who: &ClientPrincipal,
) -> Result<Vec<McpServer>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let rows = repo::list_mcp(&mut tx).await?;
    tx.commit().await?;
    Ok(rows.iter().map(mcp_view).collect())
}

#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn get_mcp_server(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<McpServer, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let rows = repo::mcp_named(&mut tx, &[name.to_owned()]).await?;
    tx.commit().await?;
    rows.first()
        .map(mcp_view)
        .ok_or_else(|| AppError::not_found("MCP server"))
}

/// Registers an MCP server: it must answer and list its tools now (through the outbound
/// rules); its token is sealed; a name already registered is a 409.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn register_mcp_server(
    state: &AppState,
    who: &ClientPrincipal,
    spec: &McpServerSpec,
) -> Result<McpServer, AppError> {
    let spec = validate_mcp_server(spec)?;
    let tools = listing(state, &spec.url, spec.bearer_token.as_deref()).await?;
    let row = McpServerRow {
        bearer_sealed: spec.bearer_token.as_deref().map(|t| {
            state
                .secrets
                .seal(&bearer_owner(&who.client_id, &spec.name), t)
        }),
        name: spec.name,
        url: spec.url,
        tools: Json(tools),
        listed_at: chrono::Utc::now(),
    };
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    repo::insert_mcp(&mut tx, &row).await.map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppError::conflict(format!(
            "an MCP server named {} is already registered",
            row.name
        )),
        other => other.into(),
    })?;
    let server = mcp_view(&row);
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::McpServerCreate,
        &server.name,
        None,
        Some(mcp_snapshot(&server)),
    )
    .await?;
    tx.commit().await?;
    Ok(server)
}

/// Asks a registered server for its tools again and stores what it lists now.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn refresh_mcp_server(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<McpServer, AppError> {
    let current = {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        let rows = repo::mcp_named(&mut tx, &[name.to_owned()]).await?;
        tx.commit().await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("MCP server"))?
    };
    let bearer = match &current.bearer_sealed {
        None => None,
        Some(sealed) => Some(
            state
                .secrets
                .open(&bearer_owner(&who.client_id, name), sealed)
                .ok_or_else(|| {
                    AppError::conflict(
                        "the server's token cannot be read (the server key changed?); remove the server and register it again",
                    )
                })?,
        ),
    };
    use secrecy::ExposeSecret;
    let tools = listing(
        state,
        &current.url,
        bearer.as_ref().map(|b| b.expose_secret()),
    )
    .await?;
    let listed_at = chrono::Utc::now();
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let tools = Json(tools);
    if !repo::update_mcp_tools(&mut tx, name, &tools, listed_at).await? {
        return Err(AppError::not_found("MCP server"));
    }
    let before = mcp_view(&current);
    let server = McpServer {
        tools: tools.0,
        listed_at,
        ..before.clone()
    };
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::McpServerRefresh,
        name,
        Some(mcp_snapshot(&before)),
        Some(mcp_snapshot(&server)),
    )
    .await?;
    tx.commit().await?;
    Ok(server)
}

/// Removes an MCP server; employees that named its tools keep working without them.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn delete_mcp_server(
    state: &AppState,
    who: &ClientPrincipal,
    name: &str,
) -> Result<(), AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let current = repo::mcp_named(&mut tx, &[name.to_owned()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("MCP server"))?;
    repo::delete_mcp(&mut tx, name).await?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::McpServerDelete,
        name,
        Some(mcp_snapshot(&mcp_view(&current))),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
