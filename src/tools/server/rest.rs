//! `/employees/clients/{client_id}/tools[/{tool_name}[/test]]`: the client's tool catalogue, and
//! `…/mcp-servers[/{server_name}[/refresh]]`: the MCP servers whose tools join it. Reading the
//! catalogue needs `employees:read`; anything else needs `admin` (`accounts::server::policy`).

use super::service;
use crate::accounts::server::principal::ClientPath;
use crate::core::AppError;
use crate::platform::http::{ApiJson, ApiRoutes, ClientParams, ErrorBody, CLIENT};
use crate::platform::AppState;
use crate::tools::{HttpToolSpec, McpServer, McpServerSpec, Tool, ToolTest, ToolTestResult};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;

/// Path parameters of a route under one tool.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct ToolParams {
    /// The client (`client_…`).
    client_id: crate::core::ClientId,
    /// The tool's name.
    tool_name: String,
}

fn tool_name(params: &HashMap<String, String>) -> Result<String, AppError> {
    params
        .get("tool_name")
        .cloned()
        .ok_or_else(|| AppError::not_found("tool"))
}

/// The client's tool catalogue
///
/// The built-in tools every client has, then the client's HTTP tools by name. Header values
/// are never shown, only their names.
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/tools", tag = "tools",
    params(ClientParams),
    responses((status = 200, description = "The catalogue.", body = Vec<Tool>)))]
async fn list_tools(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<Tool>>, AppError> {
    Ok(Json(service::list_tools(&state, &who).await?))
}

/// Add an HTTP tool
///
/// Every bad field is reported at once, by its path; the schema must compile. Header values are
/// stored encrypted and never returned.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/tools", tag = "tools",
    params(ClientParams), request_body = HttpToolSpec,
    responses(
        (status = 201, description = "The tool as stored.", body = Tool),
        (status = 409, description = "The catalogue already has a tool of that name.", body = ErrorBody)))]
async fn create_tool(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    body: Result<ApiJson<HttpToolSpec>, AppError>,
) -> Result<(StatusCode, Json<Tool>), AppError> {
    let ApiJson(spec) = body?;
    let tool = service::create_tool(&state, &who, &spec).await?;
    Ok((StatusCode::CREATED, Json(tool)))
}

/// One tool of the catalogue
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/tools/{tool_name}", tag = "tools",
    params(ToolParams),
    responses((status = 200, description = "The tool.", body = Tool)))]
async fn get_tool(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Tool>, AppError> {
    Ok(Json(
        service::get_tool(&state, &who, &tool_name(&params)?).await?,
    ))
}

/// Replace an HTTP tool's definition
///
/// The name stays; `headers` absent keeps the stored ones, a list replaces them.
#[utoipa::path(put, path = "/api/v1/employees/clients/{client_id}/tools/{tool_name}", tag = "tools",
    params(ToolParams), request_body = HttpToolSpec,
    responses((status = 200, description = "The tool as changed.", body = Tool)))]
async fn replace_tool(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
    body: Result<ApiJson<HttpToolSpec>, AppError>,
) -> Result<Json<Tool>, AppError> {
    let ApiJson(spec) = body?;
    let name = tool_name(&params)?;
    Ok(Json(
        service::replace_tool(&state, &who, &name, &spec).await?,
    ))
}

/// Remove an HTTP tool
///
/// Employees that name it keep working without it.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/tools/{tool_name}", tag = "tools",
    params(ToolParams),
    responses((status = 204, description = "Removed.")))]
async fn delete_tool(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    service::delete_tool(&state, &who, &tool_name(&params)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Try a tool with sample arguments
///
/// Runs it once as a turn would (the arguments checked against its schema, the same outbound
/// rules) and shows what the model would be given. Audited; nothing else is stored.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/tools/{tool_name}/test", tag = "tools",
    params(ToolParams), request_body = ToolTest,
    responses((status = 200, description = "The call and its result.", body = ToolTestResult)))]
async fn test_tool(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
    body: Result<ApiJson<ToolTest>, AppError>,
) -> Result<Json<ToolTestResult>, AppError> {
    let ApiJson(test) = body?;
    let name = tool_name(&params)?;
    Ok(Json(service::test_tool(&state, &who, &name, &test).await?))
}

/// Path parameters of a route under one MCP server.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct McpServerParams {
    /// The client (`client_…`).
    client_id: crate::core::ClientId,
    /// The server's name in the catalogue.
    server_name: String,
}

fn server_name(params: &HashMap<String, String>) -> Result<String, AppError> {
    params
        .get("server_name")
        .cloned()
        .ok_or_else(|| AppError::not_found("MCP server"))
}

/// The client's MCP servers
///
/// Each with the tools it listed (they are in the catalogue as `server/tool`); a token is
/// never shown, only whether there is one.
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/mcp-servers", tag = "tools",
    params(ClientParams),
    responses((status = 200, description = "The servers.", body = Vec<McpServer>)))]
async fn list_mcp_servers(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<McpServer>>, AppError> {
    Ok(Json(service::list_mcp_servers(&state, &who).await?))
}

/// Register an MCP server
///
/// The server is asked for its tools at once (streamable HTTP, through the same outbound rules
/// as HTTP tools: no internal addresses); one that cannot be reached or listed is a 422 on
/// `url` with the reason. The token is stored encrypted and never returned.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/mcp-servers", tag = "tools",
    params(ClientParams), request_body = McpServerSpec,
    responses(
        (status = 201, description = "The server and its tools.", body = McpServer),
        (status = 409, description = "A server of that name is registered.", body = ErrorBody),
        (status = 422, description = "A bad field, or the server could not be listed.", body = ErrorBody)))]
async fn register_mcp_server(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    body: Result<ApiJson<McpServerSpec>, AppError>,
) -> Result<(StatusCode, Json<McpServer>), AppError> {
    let ApiJson(spec) = body?;
    let server = service::register_mcp_server(&state, &who, &spec).await?;
    Ok((StatusCode::CREATED, Json(server)))
}

/// One MCP server
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/mcp-servers/{server_name}", tag = "tools",
    params(McpServerParams),
    responses((status = 200, description = "The server.", body = McpServer)))]
async fn get_mcp_server(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<McpServer>, AppError> {
    let name = server_name(&params)?;
    Ok(Json(service::get_mcp_server(&state, &who, &name).await?))
}

/// List an MCP server's tools again
///
/// Stores what it lists now: tools it no longer lists stop being offered.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/mcp-servers/{server_name}/refresh", tag = "tools",
    params(McpServerParams),
    responses((status = 200, description = "The server and its tools now.", body = McpServer)))]
async fn refresh_mcp_server(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<McpServer>, AppError> {
    let name = server_name(&params)?;
    Ok(Json(
        service::refresh_mcp_server(&state, &who, &name).await?,
    ))
}

/// Remove an MCP server
///
/// Its tools leave the catalogue; employees that name them keep working without them.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/mcp-servers/{server_name}", tag = "tools",
    params(McpServerParams),
    responses((status = 204, description = "Removed.")))]
async fn delete_mcp_server(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    service::delete_mcp_server(&state, &who, &server_name(&params)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_tools,
        create_tool,
        get_tool,
        replace_tool,
        delete_tool,
        test_tool,
        list_mcp_servers,
        register_mcp_server,
        get_mcp_server,
        refresh_mcp_server,
        delete_mcp_server
    ),
    components(schemas(
        Tool,
        HttpToolSpec,
        crate::tools::ToolHeader,
        crate::tools::ToolKind,
        crate::tools::ToolCallRecord,
        crate::tools::ToolCallStatus,
        ToolTest,
        ToolTestResult,
        McpServer,
        McpServerSpec,
        crate::tools::McpTool
    ))
)]
pub struct Api;

pub fn router() -> ApiRoutes {
    let tools = format!("{CLIENT}/tools");
    let tool = format!("{tools}/{{tool_name}}");
    let servers = format!("{CLIENT}/mcp-servers");
    let server = format!("{servers}/{{server_name}}");
    ApiRoutes::new()
        .get(&tools, list_tools)
        .post(&tools, create_tool)
        .get(&tool, get_tool)
        .put(&tool, replace_tool)
        .delete(&tool, delete_tool)
        .post(&format!("{tool}/test"), test_tool)
        .get(&servers, list_mcp_servers)
        .post(&servers, register_mcp_server)
        .get(&server, get_mcp_server)
        .delete(&server, delete_mcp_server)
        .post(&format!("{server}/refresh"), refresh_mcp_server)
}
