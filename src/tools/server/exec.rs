//! Tool calls: the tools offered to one employee for one turn (its `Toolbox`), and running the
//! calls its model makes. A call naming a tool that is not offered is refused and never run,
//! whatever the prompt or a tool's result said; arguments are checked against the tool's JSON
//! Schema first; HTTP tools call out only through `platform::outbound` (no internal
//! addresses), within their timeout, the turn's time budget and their response cap. A result
//! goes back to the model as data (a JSON object with the status and the body as text), never
//! as instructions to the platform.

use super::mcp;
use super::repo::{McpServerRow, ToolRow};
use crate::accounts::ClientPrincipal;
use crate::ai::types::{ToolCall, ToolSpec};
use crate::core::{ClientId, EmployeeId};
use crate::memory::SearchMode;
use crate::platform::outbound::OutboundError;
use crate::platform::AppState;
use crate::tools::{
    builtin_parameters, placeholders, ToolCallRecord, ToolCallStatus, BUILTIN_TOOLS,
    RESULT_EXCERPT_CHARS,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// The most calls one model answer may ask for; the rest are refused.
pub const MAX_CALLS_PER_ROUND: usize = 8;
/// How much of a tool's answer the model is given, in characters.
const MAX_RESULT_CHARS_FOR_MODEL: usize = 16_000;
/// What a path or query value keeps unescaped (RFC 3986's unreserved characters).
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

enum Kind {
    Builtin,
    Http(ToolRow),
    Mcp {
        server: String,
        url: String,
        bearer_sealed: Option<String>,
        tool: String,
    },
}

struct Offered {
    /// Its name in the catalogue and in `tool_access` (`server/tool` for an MCP tool).
    name: String,
    /// The name the model calls it by: the same, or `server__tool` for an MCP tool (a function
    /// name may hold only letters, digits, '_' and '-').
    model_name: String,
    description: String,
    parameters: Value,
    validator: jsonschema::Validator,
    kind: Kind,
}

/// The tools one employee is offered for one turn.
#[derive(Default)]
pub struct Toolbox {
    tools: Vec<Offered>,
    /// The collections `knowledge_search` searches: the employee's knowledge sources (None:
    /// all the client's, for a trial call).
    knowledge: Option<Vec<String>>,
}

impl Toolbox {
    /// The tools `access` names that exist: built-ins by name, HTTP tools from `rows` (the
    /// client's tools that `access` names), MCP tools from the listings of `servers`. A stored
    /// schema that no longer compiles leaves its tool out (logged).
    pub fn new(access: &[String], rows: Vec<ToolRow>, servers: Vec<McpServerRow>) -> Toolbox {
        let mut tools = Vec::new();
        for (name, description) in BUILTIN_TOOLS {
            if access.iter().any(|a| a == name) {
                let parameters = builtin_parameters(name);
                if let Ok(validator) = jsonschema::validator_for(&parameters) {
                    tools.push(Offered {
                        name: (*name).to_owned(),
                        model_name: (*name).to_owned(),
                        description: (*description).to_owned(),
                        parameters,
                        validator,
                        kind: Kind::Builtin,
                    });
                }
            }
        }
        for row in rows {
            match jsonschema::validator_for(&row.parameters) {
                Ok(validator) => tools.push(Offered {
                    name: row.name.clone(),
                    model_name: row.name.clone(),
                    description: row.description.clone(),
                    parameters: row.parameters.clone(),
                    validator,
                    kind: Kind::Http(row),
                }),
                Err(e) => {
                    tracing::warn!(tool = %row.name, "a stored tool schema does not compile: {e}")
                }
            }
        }
        for wanted in access {
            let Some((server_name, tool_name)) = wanted.split_once('/') else {
                continue;
            };
            let Some(server) = servers.iter().find(|s| s.name == server_name) else {
                continue;
            };
            let Some(tool) = server.tools.iter().find(|t| t.name == tool_name) else {
                continue;
            };
            let model_name = mcp_model_name(server_name, tool_name);
            if tools.iter().any(|t| t.model_name == model_name) {
                continue; // two names that read the same to the model: the first is kept
            }
            match jsonschema::validator_for(&tool.parameters) {
                Ok(validator) => tools.push(Offered {
                    name: wanted.clone(),
                    model_name,
                    description: tool.description.clone(),
                    parameters: tool.parameters.clone(),
                    validator,
                    kind: Kind::Mcp {
                        server: server.name.clone(),
                        url: server.url.clone(),
                        bearer_sealed: server.bearer_sealed.clone(),
                        tool: tool.name.clone(),
                    },
                }),
                Err(e) => {
                    tracing::warn!(tool = %wanted, "a listed MCP tool schema does not compile: {e}")
                }
            }
        }
        Toolbox {
            tools,
            knowledge: None,
        }
    }

    /// What `knowledge_search` may search: these collections only.
    pub fn with_knowledge(mut self, collections: Vec<String>) -> Toolbox {
        self.knowledge = Some(collections);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The names the model knows the tools by.
    pub fn names(&self) -> Vec<&str> {
        self.tools.iter().map(|t| t.model_name.as_str()).collect()
    }

    /// The catalogue name of the tool the model calls `model_name` (itself when there is no
    /// such tool).
    pub fn shown_name<'n>(&'n self, model_name: &'n str) -> &'n str {
        self.get(model_name).map_or(model_name, |t| t.name.as_str())
    }

    /// The tools as the model is offered them.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .map(|t| ToolSpec {
                name: t.model_name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            })
            .collect()
    }

    fn get(&self, model_name: &str) -> Option<&Offered> {
        self.tools.iter().find(|t| t.model_name == model_name)
    }
}

/// The function name the model is given for an MCP server's tool: `server__tool`, with the
/// characters a function name cannot hold ('.') as '_', at most 64 characters.
pub fn mcp_model_name(server: &str, tool: &str) -> String {
    let mut name: String = format!("{server}__{tool}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(64);
    name
}

/// Whose a sealed MCP bearer token is: the client, the server.
pub fn bearer_owner<'a>(client: &'a ClientId, server: &'a str) -> [&'a [u8]; 3] {
    [client.as_str().as_bytes(), b"mcp-bearer", server.as_bytes()]
}

/// Whose a sealed header value is: the client, the tool, the header.
pub fn header_owner<'a>(client: &'a ClientId, tool: &'a str, header: &'a str) -> [&'a [u8]; 4] {
    [
        client.as_str().as_bytes(),
        b"tool-header",
        tool.as_bytes(),
        header.as_bytes(),
    ]
}

/// Whose turn the calls belong to, and until when they may run.
pub struct CallContext<'a> {
    pub state: &'a AppState,
    pub who: &'a ClientPrincipal,
    pub employee: &'a EmployeeId,
    pub toolbox: &'a Toolbox,
    /// The end of the turn's time budget for tools.
    pub deadline: Instant,
}

/// One call's record (stored with the turn) and what the model is told.
pub struct CallOutcome {
    pub record: ToolCallRecord,
    pub for_model: String,
}

/// Runs the calls of one model answer, at the same time; outcomes in the calls' order.
pub async fn run_calls(ctx: &CallContext<'_>, calls: &[ToolCall], round: u32) -> Vec<CallOutcome> {
    let runs = calls.iter().enumerate().map(|(i, call)| async move {
        if i >= MAX_CALLS_PER_ROUND {
            let why = format!("refused: at most {MAX_CALLS_PER_ROUND} tool calls per answer");
            return finish(call, round, ToolCallStatus::Refused, Duration::ZERO, why);
        }
        run_call(ctx, call, round).await
    });
    futures::future::join_all(runs).await
}

/// The arguments as they are recorded: the JSON the model sent, or its text when it was not
/// JSON.
fn recorded_arguments(call: &ToolCall) -> Value {
    serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::String(call.arguments.clone()))
}

fn finish(
    call: &ToolCall,
    round: u32,
    status: ToolCallStatus,
    took: Duration,
    result: String,
) -> CallOutcome {
    let result_bytes = result.len() as u64;
    let for_model = if status == ToolCallStatus::Ok {
        result.clone()
    } else {
        json!({"error": result, "status": status.as_str()}).to_string()
    };
    CallOutcome {
        record: ToolCallRecord {
            id: call.id.clone(),
            tool: call.name.clone(),
            arguments: recorded_arguments(call),
            status,
            round,
            duration_ms: took.as_millis() as u64,
            result_bytes,
            result_excerpt: result.chars().take(RESULT_EXCERPT_CHARS).collect(),
        },
        for_model: truncate_chars(for_model, MAX_RESULT_CHARS_FOR_MODEL),
    }
}

fn truncate_chars(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
        s.push_str(" …[cut]");
    }
    s
}

/// The model's arguments as an object that the tool's schema accepts, or why not (the first
/// three problems, each at its place).
fn checked_arguments(
    validator: &jsonschema::Validator,
    text: &str,
) -> Result<Map<String, Value>, String> {
    let arguments = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err("they must be a JSON object".to_owned()),
        // Some models send nothing for a tool without parameters.
        Err(_) if text.trim().is_empty() => Map::new(),
        Err(e) => return Err(format!("not JSON ({e})")),
    };
    let instance = Value::Object(arguments);
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .take(3)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    match instance {
        Value::Object(m) if problems.is_empty() => Ok(m),
        _ => Err(problems.join("; ")),
    }
}

async fn run_call(ctx: &CallContext<'_>, call: &ToolCall, round: u32) -> CallOutcome {
    let mut outcome = run_offered(ctx, call, round).await;
    // The record names the tool as the catalogue does (`server/tool`, not `server__tool`).
    outcome.record.tool = ctx.toolbox.shown_name(&call.name).to_owned();
    outcome
}

async fn run_offered(ctx: &CallContext<'_>, call: &ToolCall, round: u32) -> CallOutcome {
    let started = Instant::now();
    let Some(tool) = ctx.toolbox.get(&call.name) else {
        metrics::counter!("tool_calls_total", "status" => "refused").increment(1);
        tracing::warn!(tool = %call.name, "the model asked for a tool it is not offered; refused");
        let why = format!(
            "refused: there is no tool '{}' available to this employee (available: {})",
            call.name.chars().take(64).collect::<String>(),
            ctx.toolbox.names().join(", ")
        );
        return finish(call, round, ToolCallStatus::Refused, Duration::ZERO, why);
    };
    let arguments = match checked_arguments(&tool.validator, &call.arguments) {
        Ok(a) => a,
        Err(why) => {
            let why = format!("invalid arguments: {why}");
            return finish(
                call,
                round,
                ToolCallStatus::InvalidArguments,
                Duration::ZERO,
                why,
            );
        }
    };
    let left = ctx.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        let why = "the turn's time for tools ran out before this call".to_owned();
        return finish(call, round, ToolCallStatus::Timeout, Duration::ZERO, why);
    }
    let (status, result) = match &tool.kind {
        Kind::Builtin => builtin(ctx, &tool.name, &arguments).await,
        Kind::Http(row) => http(ctx, row, &arguments, left).await,
        Kind::Mcp {
            server,
            url,
            bearer_sealed,
            tool,
        } => {
            let bearer = match bearer_sealed {
                None => None,
                Some(sealed) => {
                    let owner = bearer_owner(&ctx.who.client_id, server);
                    match ctx.state.secrets.open(&owner, sealed) {
                        Some(token) => Some(token),
                        None => {
                            let why = format!(
                                "the MCP server {server}'s token cannot be read (the server key changed?); an admin must register it again"
                            );
                            return finish(
                                call,
                                round,
                                ToolCallStatus::Error,
                                started.elapsed(),
                                why,
                            );
                        }
                    }
                }
            };
            use secrecy::ExposeSecret;
            let timeout =
                Duration::from_millis(u64::from(crate::tools::DEFAULT_TIMEOUT_MS)).min(left);
            mcp::call_tool(
                &ctx.state.outbound,
                url,
                bearer.as_ref().map(|b| b.expose_secret()),
                tool,
                arguments,
                timeout,
            )
            .await
        }
    };
    metrics::counter!("tool_calls_total", "status" => status.as_str()).increment(1);
    finish(call, round, status, started.elapsed(), result)
}

async fn builtin(
    ctx: &CallContext<'_>,
    name: &str,
    args: &Map<String, Value>,
) -> (ToolCallStatus, String) {
    match name {
        "current_time" => {
            let now = chrono::Utc::now();
            let v = json!({
                "utc": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "weekday": now.format("%A").to_string(),
            });
            (ToolCallStatus::Ok, v.to_string())
        }
        "knowledge_search" => {
            let query = args
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(5) as u32;
            match crate::knowledge::server::service::search_knowledge(
                ctx.state,
                ctx.who,
                ctx.toolbox.knowledge.as_deref(),
                query,
                limit.clamp(1, 10),
            )
            .await
            {
                Ok(hits) => {
                    let found: Vec<Value> = hits
                        .iter()
                        .map(|h| {
                            json!({
                                "document": h.title,
                                "collection": h.collection,
                                "passage": truncate_chars(h.text.clone(), 1500),
                            })
                        })
                        .collect();
                    (ToolCallStatus::Ok, json!({ "found": found }).to_string())
                }
                Err(e) => (
                    ToolCallStatus::Error,
                    format!("knowledge search failed: {e}"),
                ),
            }
        }
        "memory_search" => {
            let query = args
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(5) as u32;
            match crate::memory::server::service::search_memory(
                ctx.state,
                ctx.who,
                ctx.employee,
                query,
                SearchMode::Hybrid,
                limit.clamp(1, 10),
            )
            .await
            {
                Ok(items) => {
                    let found: Vec<Value> = items
                        .iter()
                        .map(|m| {
                            json!({
                                "date": m.timestamp.format("%Y-%m-%d").to_string(),
                                "user_said": truncate_chars(m.content.clone(), 600),
                                "you_answered": truncate_chars(m.response.clone(), 600),
                            })
                        })
                        .collect();
                    (ToolCallStatus::Ok, json!({ "found": found }).to_string())
                }
                Err(e) => (ToolCallStatus::Error, format!("memory search failed: {e}")),
            }
        }
        other => (
            ToolCallStatus::Error,
            format!("the built-in tool {other} is not available"),
        ),
    }
}

/// A value as it goes into a URL: strings as they are, anything else as JSON.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The request an HTTP tool makes for `args`: the URL template filled in (each placeholder
/// percent-encoded, so a value cannot add path segments or a query), the other arguments in the
/// query string (GET, DELETE) or as a JSON body.
pub fn http_request_parts(
    row: &ToolRow,
    args: &Map<String, Value>,
) -> Result<(reqwest::Method, reqwest::Url, Option<Value>), String> {
    let used = placeholders(&row.url_template)?;
    let mut url = row.url_template.clone();
    for name in &used {
        let value = args
            .get(name)
            .ok_or_else(|| format!("the argument {name} is missing"))?;
        let encoded = utf8_percent_encode(&as_text(value), VALUE).to_string();
        url = url.replacen(&format!("{{{name}}}"), &encoded, 1);
    }
    let mut url =
        reqwest::Url::parse(&url).map_err(|e| format!("the tool's URL is not valid: {e}"))?;
    let method = reqwest::Method::from_bytes(row.method.as_bytes())
        .map_err(|_| format!("the tool's method {} is not valid", row.method))?;
    let rest: Map<String, Value> = args
        .iter()
        .filter(|(k, _)| !used.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let body = if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
        if !rest.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &rest {
                q.append_pair(k, &as_text(v));
            }
        }
        None
    } else {
        Some(Value::Object(rest))
    };
    Ok((method, url, body))
}

async fn http(
    ctx: &CallContext<'_>,
    row: &ToolRow,
    args: &Map<String, Value>,
    left: Duration,
) -> (ToolCallStatus, String) {
    let (method, url, body) = match http_request_parts(row, args) {
        Ok(parts) => parts,
        Err(e) => return (ToolCallStatus::Error, e),
    };
    let mut builder = ctx.state.outbound.request(method, url);
    for h in row.headers.iter() {
        let owner = header_owner(&ctx.who.client_id, &row.name, &h.name);
        let Some(value) = ctx.state.secrets.open(&owner, &h.sealed) else {
            return (
                ToolCallStatus::Error,
                format!(
                    "the tool's header {} cannot be read (the server key changed?); an admin must set it again",
                    h.name
                ),
            );
        };
        use secrecy::ExposeSecret;
        let mut v = match reqwest::header::HeaderValue::from_str(value.expose_secret()) {
            Ok(v) => v,
            Err(_) => {
                return (
                    ToolCallStatus::Error,
                    format!("the tool's header {} has a value HTTP cannot carry", h.name),
                )
            }
        };
        v.set_sensitive(true);
        builder = builder.header(h.name.as_str(), v);
    }
    builder = builder.header(reqwest::header::ACCEPT, "application/json, text/*;q=0.9");
    if let Some(b) = &body {
        builder = builder.json(b);
    }
    let request = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            return (
                ToolCallStatus::Error,
                format!("the request could not be built: {}", e.without_url()),
            )
        }
    };
    let timeout = Duration::from_millis(row.timeout_ms.max(1) as u64).min(left);
    let cap = row.max_response_bytes.max(1) as usize;
    match ctx.state.outbound.send(request, timeout, cap).await {
        Ok(answer) => {
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            let ok = answer.status.is_success();
            let v = json!({
                "http_status": answer.status.as_u16(),
                "content_type": answer.content_type,
                "body": text,
                "truncated": answer.truncated,
            });
            let status = if ok {
                ToolCallStatus::Ok
            } else {
                ToolCallStatus::Error
            };
            if ok {
                (status, v.to_string())
            } else {
                (
                    status,
                    format!(
                        "the tool answered HTTP {}: {}",
                        answer.status.as_u16(),
                        truncate_chars(text, 2_000)
                    ),
                )
            }
        }
        Err(OutboundError::Timeout(t)) => (
            ToolCallStatus::Timeout,
            format!("the tool did not answer within {} ms", t.as_millis()),
        ),
        Err(OutboundError::Refused(r)) => {
            tracing::warn!(tool = %row.name, "an outbound tool call was refused: {r}");
            (ToolCallStatus::Error, format!("refused: {r}"))
        }
        Err(OutboundError::Failed(e)) => (
            ToolCallStatus::Error,
            format!("the tool could not be reached: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::types::Json;

    fn row(method: &str, url: &str) -> ToolRow {
        ToolRow {
            name: "t".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
            method: method.into(),
            url_template: url.into(),
            headers: Json(Vec::new()),
            timeout_ms: 1000,
            max_response_bytes: 1000,
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn placeholder_values_cannot_escape_their_segment() {
        let (m, url, body) = http_request_parts(
            &row("GET", "https://api.example.com/orders/{id}"),
            &args(json!({"id": "../admin?x=1#f", "page": 2, "q": "a b&c"})),
        )
        .expect("parts");
        assert_eq!(m, reqwest::Method::GET);
        assert_eq!(url.host_str(), Some("api.example.com"));
        assert_eq!(url.path(), "/orders/..%2Fadmin%3Fx%3D1%23f");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(q.contains(&("page".into(), "2".into())));
        assert!(q.contains(&("q".into(), "a b&c".into())));
        assert!(body.is_none());
    }

    #[test]
    fn arguments_are_an_object_the_schema_accepts() {
        let v = jsonschema::validator_for(&json!({"type": "object",
            "properties": {"n": {"type": "integer", "maximum": 3}}, "required": ["n"]}))
        .expect("schema");
        assert_eq!(checked_arguments(&v, r#"{"n": 2}"#).expect("ok")["n"], 2);
        assert!(checked_arguments(&v, r#"{"n": 9}"#)
            .expect_err("too big")
            .contains("/n"));
        assert!(checked_arguments(&v, "{}")
            .expect_err("missing")
            .contains("required"));
        assert!(checked_arguments(&v, "[1]")
            .expect_err("array")
            .contains("object"));
        assert!(checked_arguments(&v, "{n:")
            .expect_err("text")
            .contains("not JSON"));
        let none = jsonschema::validator_for(&json!({"type": "object"})).expect("schema");
        assert!(checked_arguments(&none, "  ").expect("empty").is_empty());
    }

    #[test]
    fn other_arguments_of_a_post_are_its_json_body() {
        let (_, url, body) = http_request_parts(
            &row("POST", "https://api.example.com/tickets/{queue}"),
            &args(json!({"queue": "billing", "title": "Refund", "priority": 2})),
        )
        .expect("parts");
        assert_eq!(url.as_str(), "https://api.example.com/tickets/billing");
        assert_eq!(body, Some(json!({"title": "Refund", "priority": 2})));
    }
}
