//! Tools: what an employee may call while it answers (function calling). Every client has the
//! built-in tools; a client's admins add HTTP tools to its catalogue. An employee is offered
//! only the tools its `tool_access` names that exist in its client's catalogue. Shared types
//! and the pure checks here; the catalogue's SQL, its service, the calls themselves and the
//! REST routes in `server`.

pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use crate::core::string_enum;
use crate::core::validate::Validator;
use crate::core::AppError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::core::tool_calls::{ToolCallRecord, ToolCallStatus, RESULT_EXCERPT_CHARS};

/// The built-in tools every client has: name and what the model is told it does.
pub const BUILTIN_TOOLS: &[(&str, &str)] = &[
    (
        "current_time",
        "The current date and time (UTC, RFC 3339) and the weekday.",
    ),
    (
        "memory_search",
        "Searches your own memory of earlier conversations for a query; returns the best \
         matching exchanges with their dates.",
    ),
    (
        "knowledge_search",
        "Searches your knowledge sources (the documents you were given) for a query; returns \
         the best passages, each with its document's title. Cite a passage you use.",
    ),
];

pub fn is_builtin(name: &str) -> bool {
    BUILTIN_TOOLS.iter().any(|(n, _)| *n == name)
}

/// The JSON Schema of a built-in tool's arguments.
pub fn builtin_parameters(name: &str) -> Value {
    match name {
        "memory_search" | "knowledge_search" => serde_json::json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 500,
                          "description": "What to look for."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10,
                          "description": "How many exchanges to return (default 5)."}
            },
            "required": ["query"],
            "additionalProperties": false
        }),
        _ => serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false}),
    }
}

string_enum!(
    /// Where a tool comes from.
    ToolKind { Builtin => "builtin", Http => "http", Mcp => "mcp" }
);

/// A header an HTTP tool sends. Its value is stored sealed and never shown again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolHeader {
    pub name: String,
    pub value: String,
}

/// An HTTP tool as an admin defines it (`POST …/tools`, `PUT …/tools/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpToolSpec {
    /// `[a-z][a-z0-9_]*`, at most 64 characters; what `tool_access` names.
    pub name: String,
    /// What the tool does, for the model: it decides from this when to call it.
    pub description: String,
    /// The JSON Schema of the arguments (an object schema); calls are checked against it.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub parameters: Value,
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// `https://api.example.com/orders/{order_id}`: each `{argument}` (a required argument of
    /// the schema, in the path or query only) is replaced by its value, percent-encoded. The
    /// other arguments go in the query string (GET, DELETE) or as a JSON body.
    pub url_template: String,
    /// Sent with every call; values are stored encrypted and never returned. On a change,
    /// absent keeps the stored headers and a list replaces them.
    #[serde(default)]
    pub headers: Option<Vec<ToolHeader>>,
    /// 100–60000; default 10000.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// 1–1048576; default 65536. A longer answer is cut there (and marked so).
    #[serde(default)]
    pub max_response_bytes: Option<u32>,
}

/// A tool of the catalogue as it is shown: never a header's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Tool {
    pub name: String,
    pub kind: ToolKind,
    pub description: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub parameters: Value,
    /// HTTP tools only.
    pub method: Option<String>,
    pub url_template: Option<String>,
    /// The names of the headers it sends (their values are never shown).
    pub header_names: Vec<String>,
    pub timeout_ms: Option<u32>,
    pub max_response_bytes: Option<u32>,
}

/// A trial call (`POST …/tools/{name}/test`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolTest {
    /// The arguments, as the model would send them.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub arguments: Option<Value>,
}

/// What a trial call did: the record a turn would store, and what the model would be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolTestResult {
    pub call: ToolCallRecord,
    /// The result as the model would read it.
    pub result: String,
}

/// An MCP server as an admin registers it (`POST …/mcp-servers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct McpServerSpec {
    /// 1–32 characters of a-z, 0-9 and '-', starting with a letter: its tools are named
    /// `name/tool` in the catalogue and in `tool_access`.
    pub name: String,
    /// Its streamable HTTP endpoint, `https://mcp.example.com/mcp`.
    pub url: String,
    /// Sent as `Authorization: Bearer …`; stored encrypted and never returned.
    #[serde(default)]
    pub bearer_token: Option<String>,
}

/// A tool an MCP server lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct McpTool {
    /// As the server names it.
    pub name: String,
    pub description: String,
    /// The JSON Schema of its arguments.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub parameters: Value,
}

/// A registered MCP server as it is shown: never its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct McpServer {
    pub name: String,
    pub url: String,
    pub has_bearer_token: bool,
    /// What it listed when it was registered or last refreshed.
    pub tools: Vec<McpTool>,
    pub listed_at: chrono::DateTime<chrono::Utc>,
}

/// An MCP tool's name in the catalogue and in `tool_access`.
pub fn mcp_tool_ref(server: &str, tool: &str) -> String {
    format!("{server}/{tool}")
}

pub const MAX_BEARER_TOKEN: usize = 4_096;

/// An MCP server's registration, checked: every bad field at once. (That the URL may be
/// reached, and what the server lists, the server finds out by asking it.)
pub fn validate_mcp_server(spec: &McpServerSpec) -> Result<McpServerSpec, AppError> {
    let mut v = Validator::new();
    let name = spec.name.trim().to_owned();
    if !crate::core::validate::valid_mcp_server_name(&name) {
        v.error(
            "name",
            "must be 1–32 characters of a-z, 0-9 and '-', starting with a letter",
        );
    }
    let url = spec.url.trim().to_owned();
    check_absolute_url(&mut v, "url", &url);
    // The token alone; "Bearer …" pasted whole is understood.
    let token = spec
        .bearer_token
        .as_deref()
        .map(|t| t.trim().strip_prefix("Bearer ").unwrap_or(t.trim()).trim());
    let bearer_token = match token {
        None | Some("") => None,
        Some(t) if t.chars().count() > MAX_BEARER_TOKEN => {
            v.error(
                "bearer_token",
                format!("must be at most {MAX_BEARER_TOKEN} characters"),
            );
            None
        }
        Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => {
            v.error(
                "bearer_token",
                "must be printable ASCII without spaces (as a bearer token is)",
            );
            None
        }
        Some(t) => Some(t.to_owned()),
    };
    v.finish(McpServerSpec {
        name,
        url,
        bearer_token,
    })
}

/// An absolute http(s) URL with a host and no credentials; false (with the field's error)
/// otherwise.
fn check_absolute_url(v: &mut Validator, field: &str, url: &str) -> bool {
    if url.is_empty() {
        v.error(field, "is required");
        return false;
    }
    if url.chars().count() > MAX_URL_CHARS || url.chars().any(char::is_control) {
        v.error(
            field,
            format!("must be at most {MAX_URL_CHARS} characters, without control characters"),
        );
        return false;
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        v.error(field, "must be an absolute http:// or https:// URL");
        return false;
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        v.error(field, "must be an http:// or https:// URL");
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        v.error(field, "must name a host");
        return false;
    }
    if authority.contains('@') {
        v.error(
            field,
            "must not carry credentials (user:password@); use a secret instead",
        );
        return false;
    }
    true
}

pub const MAX_TOOL_NAME: usize = 64;
pub const MAX_DESCRIPTION: usize = 1_024;
pub const MAX_SCHEMA_BYTES: usize = 16 * 1024;
pub const MAX_URL_CHARS: usize = 2_048;
pub const MAX_HEADERS: usize = 20;
pub const MAX_HEADER_VALUE: usize = 4_096;
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const MAX_TIMEOUT_MS: u32 = 60_000;
pub const DEFAULT_MAX_RESPONSE_BYTES: u32 = 64 * 1024;
pub const MAX_RESPONSE_BYTES: u32 = 1024 * 1024;
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Headers the HTTP client sets itself.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
];

/// A tool name: `[a-z][a-z0-9_]*`, 1–64 characters (what OpenAI accepts as a function name,
/// narrowed so names read the same everywhere).
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The `{placeholder}`s of a URL template, in order, or the reason it is malformed.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("has a '}' without its '{'".into());
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "has a '{' without its '}'".to_owned())?;
        let name = &after[..close];
        if !valid_tool_name(name) {
            return Err(format!(
                "'{{{name}}}' is not an argument name ([a-z][a-z0-9_]*)"
            ));
        }
        out.push(name.to_owned());
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// An HTTP tool's definition, checked: every bad field at once, by its path. The schema is
/// checked for shape here (an object schema of bounded size whose properties include every
/// placeholder of the URL, each required); that it is valid JSON Schema is checked by the
/// server, which compiles it.
pub fn validate_http_tool(spec: &HttpToolSpec) -> Result<HttpToolSpec, AppError> {
    let mut v = Validator::new();
    let name = spec.name.trim().to_owned();
    if !valid_tool_name(&name) {
        v.error(
            "name",
            "must be 1–64 characters of a-z, 0-9 and '_', starting with a letter",
        );
    } else if is_builtin(&name) {
        v.error("name", format!("'{name}' is the name of a built-in tool"));
    }
    let description = v.text("description", &spec.description, MAX_DESCRIPTION);
    let method = spec.method.trim().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        v.error("method", format!("must be one of: {}", METHODS.join(", ")));
    }
    let mut properties: Vec<String> = Vec::new();
    let mut required: Vec<String> = Vec::new();
    match &spec.parameters {
        Value::Object(schema) => {
            if serde_json::to_vec(schema).map_or(usize::MAX, |b| b.len()) > MAX_SCHEMA_BYTES {
                v.error(
                    "parameters",
                    format!("must be at most {MAX_SCHEMA_BYTES} bytes of JSON"),
                );
            } else if schema.get("type").and_then(Value::as_str) != Some("object") {
                v.error(
                    "parameters",
                    "must be a JSON Schema with \"type\": \"object\" (the arguments are an object)",
                );
            } else if crate::core::nul_path_in(schema).is_some() {
                v.error("parameters", "must not contain NUL characters (\\u0000)");
            }
            if let Some(Value::Object(p)) = schema.get("properties") {
                properties = p.keys().cloned().collect();
            }
            if let Some(Value::Array(r)) = schema.get("required") {
                required = r
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect();
            }
        }
        _ => v.error("parameters", "must be a JSON Schema object"),
    }
    let url_template = spec.url_template.trim().to_owned();
    check_url_template(&mut v, &url_template, &properties, &required);
    let headers = spec.headers.as_ref().map(|list| {
        if list.len() > MAX_HEADERS {
            v.error(
                "headers",
                format!("must have at most {MAX_HEADERS} headers"),
            );
        }
        let mut out: Vec<ToolHeader> = Vec::new();
        for (i, h) in list.iter().enumerate() {
            let name = h.name.trim().to_owned();
            let token = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !token {
                v.error(
                    format!("headers[{i}].name"),
                    "must be 1–64 characters of letters, digits, '-' and '_'",
                );
            } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                v.error(
                    format!("headers[{i}].name"),
                    format!("{name} is set by the platform itself"),
                );
            } else if out.iter().any(|o| o.name.eq_ignore_ascii_case(&name)) {
                v.error(format!("headers[{i}].name"), "is given twice");
            }
            if h.value.is_empty() || h.value.chars().count() > MAX_HEADER_VALUE {
                v.error(
                    format!("headers[{i}].value"),
                    format!("must be 1–{MAX_HEADER_VALUE} characters"),
                );
            } else if h.value.chars().any(|c| c.is_control()) {
                v.error(
                    format!("headers[{i}].value"),
                    "must not contain control characters (line breaks included)",
                );
            }
            out.push(ToolHeader {
                name,
                value: h.value.clone(),
            });
        }
        out
    });
    let timeout_ms = spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(100..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        v.error(
            "timeout_ms",
            format!("must be between 100 and {MAX_TIMEOUT_MS} milliseconds"),
        );
    }
    let max_response_bytes = spec
        .max_response_bytes
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
    if !(1..=MAX_RESPONSE_BYTES).contains(&max_response_bytes) {
        v.error(
            "max_response_bytes",
            format!("must be between 1 and {MAX_RESPONSE_BYTES}"),
        );
    }
    v.finish(HttpToolSpec {
        name,
        description,
        parameters: spec.parameters.clone(),
        method,
        url_template,
        headers,
        timeout_ms: Some(timeout_ms),
        max_response_bytes: Some(max_response_bytes),
    })
}

fn check_url_template(v: &mut Validator, url: &str, properties: &[String], required: &[String]) {
    const FIELD: &str = "url_template";
    if !check_absolute_url(v, FIELD, url) {
        return;
    }
    let authority = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    if authority.contains(['{', '}']) {
        v.error(
            FIELD,
            "may hold {arguments} in its path and query only, never in its host",
        );
        return;
    }
    match placeholders(url) {
        Err(e) => v.error(FIELD, e),
        Ok(names) => {
            for n in names {
                if !properties.contains(&n) {
                    v.error(
                        FIELD,
                        format!("uses {{{n}}}, which is not a property of parameters"),
                    );
                    return;
                }
                if !required.contains(&n) {
                    v.error(
                        FIELD,
                        format!("uses {{{n}}}, which parameters must list in \"required\""),
                    );
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> HttpToolSpec {
        HttpToolSpec {
            name: "order_status".into(),
            description: "Looks up an order".into(),
            parameters: json!({"type": "object",
                "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
                "required": ["order_id"]}),
            method: "get".into(),
            url_template: "https://shop.example.com/orders/{order_id}".into(),
            headers: Some(vec![ToolHeader {
                name: "Authorization".into(),
                value: "Bearer s3cret".into(),
            }]),
            timeout_ms: None,
            max_response_bytes: None,
        }
    }

    fn fields(r: Result<HttpToolSpec, AppError>) -> Vec<(String, String)> {
        let e = r.expect_err("invalid");
        e.fields()
            .expect("field errors")
            .iter()
            .map(|(f, m)| (f.clone(), m.clone()))
            .collect()
    }

    #[test]
    fn a_good_definition_is_normalised_with_defaults() {
        let s = validate_http_tool(&spec()).expect("valid");
        assert_eq!(s.method, "GET");
        assert_eq!(s.timeout_ms, Some(DEFAULT_TIMEOUT_MS));
        assert_eq!(s.max_response_bytes, Some(DEFAULT_MAX_RESPONSE_BYTES));
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut s = spec();
        s.name = "Order Status".into();
        s.method = "TRACE".into();
        s.parameters = json!({"type": "string"});
        s.timeout_ms = Some(5);
        s.headers = Some(vec![
            ToolHeader {
                name: "Host".into(),
                value: "x".into(),
            },
            ToolHeader {
                name: "X-Key".into(),
                value: "a\r\nInjected: 1".into(),
            },
        ]);
        let f = fields(validate_http_tool(&s));
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "name",
            "method",
            "parameters",
            "timeout_ms",
            "headers[0].name",
            "headers[1].value",
            "url_template",
        ] {
            assert!(names.contains(&expected), "{expected} missing from {f:?}");
        }
    }

    #[test]
    fn url_templates_keep_arguments_out_of_the_host_and_credentials_out_of_urls() {
        let bad = |url: &str| {
            let mut s = spec();
            s.url_template = url.into();
            fields(validate_http_tool(&s))
                .into_iter()
                .find(|(f, _)| f == "url_template")
                .map(|(_, m)| m)
                .unwrap_or_default()
        };
        assert!(bad("ftp://x.example/{order_id}").contains("http"));
        assert!(bad("https://{order_id}.example.com/").contains("never in its host"));
        assert!(bad("https://u:p@x.example/{order_id}").contains("credentials"));
        assert!(bad("https://x.example/{verbose}").contains("required"));
        assert!(bad("https://x.example/{other}").contains("not a property"));
        assert!(bad("https://x.example/{order_id").contains("without its"));
        assert!(bad("https://x.example/{order_id}}").contains("without its"));
        assert!(bad("/orders/{order_id}").contains("absolute"));
        assert_eq!(
            placeholders("https://x/{a}/b?c={d_2}").expect("ok"),
            ["a", "d_2"]
        );
    }

    #[test]
    fn mcp_servers_are_checked_field_by_field() {
        let spec = |name: &str, url: &str, token: Option<&str>| McpServerSpec {
            name: name.into(),
            url: url.into(),
            bearer_token: token.map(str::to_owned),
        };
        let ok = validate_mcp_server(&spec(
            " orders ",
            "https://mcp.example.com/mcp",
            Some("Bearer abc"),
        ))
        .expect("valid");
        assert_eq!(ok.name, "orders");
        assert_eq!(ok.bearer_token.as_deref(), Some("abc"));
        let e =
            validate_mcp_server(&spec("Orders_1", "ftp://x/mcp", Some("a b"))).expect_err("bad");
        let f = e.fields().expect("fields");
        for field in ["name", "url", "bearer_token"] {
            assert!(f.contains_key(field), "{field} missing from {f:?}");
        }
        let e =
            validate_mcp_server(&spec("o", "https://u:p@x.example/mcp", None)).expect_err("bad");
        assert!(e.fields().expect("fields")["url"].contains("credentials"));
    }

    #[test]
    fn tool_access_takes_catalogue_names_and_mcp_tools() {
        let mut v = Validator::new();
        let list = v.tool_list(
            "tool_access",
            &[
                "Current_Time".into(),
                "orders/lookupOrder".into(),
                "Orders/lookupOrder".into(),
                "bad server/x".into(),
                "orders/".into(),
            ],
            10,
        );
        assert_eq!(list[..2], ["current_time", "orders/lookupOrder"]);
        let e = v.finish(()).expect_err("two bad");
        let f = e.fields().expect("fields");
        assert!(f.contains_key("tool_access[3]") && f.contains_key("tool_access[4]"));
        assert!(!f.contains_key("tool_access[2]"));
    }

    #[test]
    fn built_in_names_are_taken() {
        let mut s = spec();
        s.name = "current_time".into();
        let f = fields(validate_http_tool(&s));
        assert!(f[0].1.contains("built-in"));
        assert!(is_builtin("memory_search") && !is_builtin("order_status"));
    }
}
