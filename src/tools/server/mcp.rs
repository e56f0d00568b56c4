//! MCP servers over streamable HTTP, with the official Rust SDK (`rmcp`) as the client, on the
//! guarded HTTP client of `platform::outbound`: the server's URL is checked before connecting,
//! every name it resolves to and every redirect by the client itself. A session lives for one
//! listing or one call (initialize, the request, close), within a time limit; answers are capped.

use crate::core::validate::valid_mcp_tool_name;
use crate::platform::outbound::{Outbound, Refused};
use crate::tools::{McpTool, ToolCallStatus, MAX_DESCRIPTION, MAX_SCHEMA_BYTES};
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{Map, Value};
use std::time::Duration;

/// The most tools one server may add to a catalogue; the rest are left out.
pub const MAX_LISTED_TOOLS: usize = 100;
/// The largest JSON answer or stream event read from a server.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a server could not be used, in words for the admin or the model: a refusal of the
/// outbound rules as it is, anything else by its first cause (the SDK's own wrapping names its
/// internal types).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut root = e;
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        root = s;
        source = s.source();
    }
    let text = root.to_string();
    // "… [rmcp::transport::…<…>] error: Client error: <the cause>" → the cause.
    match text.rsplit_once("Client error: ") {
        Some((_, cause)) => cause.to_owned(),
        None => text,
    }
}

async fn connect(
    outbound: &Outbound,
    url: &str,
    bearer: Option<&str>,
) -> Result<RunningService<RoleClient, ()>, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("the URL is not valid: {e}"))?;
    outbound
        .check_reachable(&parsed)
        .await
        .map_err(|e| e.to_string())?;
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
        .max_json_response_size(MAX_ANSWER_BYTES)
        .max_sse_event_size(MAX_ANSWER_BYTES)
        .reinit_on_expired_session(false);
    if let Some(token) = bearer {
        config = config.auth_header(token.to_owned());
    }
    let transport = StreamableHttpClientTransport::with_client(outbound.client().clone(), config);
    ().serve(transport).await.map_err(|e| describe(&e))
}

/// What a server lists: the tools we can offer (a valid name, a schema that compiles and fits),
/// and how many were left out.
pub async fn list_tools(
    outbound: &Outbound,
    url: &str,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<(Vec<McpTool>, usize), String> {
    let run = async {
        let session = connect(outbound, url, bearer).await?;
        let listed = session.list_all_tools().await.map_err(|e| describe(&e));
        let _ = session.cancel().await;
        let listed = listed?;
        let total = listed.len();
        let mut tools = Vec::new();
        for t in listed {
            let parameters = Value::Object((*t.input_schema).clone());
            let fits = serde_json::to_vec(&parameters).is_ok_and(|b| b.len() <= MAX_SCHEMA_BYTES);
            if tools.len() >= MAX_LISTED_TOOLS
                || !valid_mcp_tool_name(&t.name)
                || !fits
                || jsonschema::validator_for(&parameters).is_err()
            {
                continue;
            }
            let description = t
                .description
                .as_deref()
                .or(t.title.as_deref())
                .unwrap_or_default()
                .chars()
                .take(MAX_DESCRIPTION)
                .collect();
            tools.push(McpTool {
                name: t.name.into_owned(),
                description,
                parameters,
            });
        }
        let left_out = total - tools.len();
        Ok((tools, left_out))
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("the server did not answer within {} s", timeout.as_secs()))?
}

/// Calls `tool` once: the status, and its answer as text (text parts joined; other parts
/// named; the structured result when there is no text).
pub async fn call_tool(
    outbound: &Outbound,
    url: &str,
    bearer: Option<&str>,
    tool: &str,
    arguments: Map<String, Value>,
    timeout: Duration,
) -> (ToolCallStatus, String) {
    let run = async {
        let session = connect(outbound, url, bearer).await?;
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let answer = session.call_tool(params).await.map_err(|e| describe(&e));
        let _ = session.cancel().await;
        answer
    };
    let answer = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            return (
                ToolCallStatus::Timeout,
                format!(
                    "the MCP server did not answer within {} ms",
                    timeout.as_millis()
                ),
            )
        }
        Ok(Err(e)) => return (ToolCallStatus::Error, format!("the MCP server failed: {e}")),
        Ok(Ok(answer)) => answer,
    };
    let mut parts: Vec<String> = answer
        .content
        .iter()
        .map(|c| match c {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Image(_) => "[an image]".to_owned(),
            ContentBlock::Audio(_) => "[an audio clip]".to_owned(),
            ContentBlock::Resource(_) => "[an embedded resource]".to_owned(),
            ContentBlock::ResourceLink(r) => format!("[a link to {}]", r.uri),
            _ => "[content of a kind not shown here]".to_owned(),
        })
        .collect();
    if parts.iter().all(|p| p.starts_with('[')) {
        if let Some(structured) = &answer.structured_content {
            parts.push(structured.to_string());
        }
    }
    let status = if answer.is_error == Some(true) {
        ToolCallStatus::Error
    } else {
        ToolCallStatus::Ok
    };
    (status, parts.join("\n"))
}
