//! An MCP server over streamable HTTP, in-process, for workforce's tests: `POST /mcp` answers
//! JSON-RPC with `application/json` (the transport's simplest form; no session), `GET` and
//! `DELETE` are 405 (no server-sent stream, nothing to close). It lists two tools —
//! `lookup.order` (answers where an order is) and `failing` (answers with `isError`) — and one
//! whose name no client may offer, and records each call and the `Authorization` header of
//! every request.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct McpState {
    /// The token the server requires, if any.
    pub bearer: Option<String>,
    /// Each `tools/call`: the tool and its arguments.
    pub calls: Mutex<Vec<(String, Value)>>,
    /// The `Authorization` header of each request (None when absent).
    pub authorizations: Mutex<Vec<Option<String>>>,
}

#[derive(Clone)]
pub struct McpStub {
    /// `http://127.0.0.1:port/mcp`.
    pub url: String,
    pub state: Arc<McpState>,
}

impl McpStub {
    /// Serves on a free loopback port; with `bearer`, a request without it is a 401.
    pub async fn start(bearer: Option<&str>) -> McpStub {
        let state = Arc::new(McpState {
            bearer: bearer.map(str::to_owned),
            ..McpState::default()
        });
        let app = Router::new()
            .route("/mcp", post(rpc).get(no_stream).delete(no_stream))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind MCP stub");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("MCP stub") });
        McpStub {
            url: format!("http://{addr}/mcp"),
            state,
        }
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.state.calls.lock().expect("lock").clone()
    }

    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.state.authorizations.lock().expect("lock").clone()
    }
}

async fn no_stream() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

fn tools() -> Value {
    json!([
        {"name": "lookup.order", "description": "Where an order is, by its id.",
         "inputSchema": {"type": "object", "properties": {"order_id": {"type": "string"}},
                         "required": ["order_id"]}},
        {"name": "failing", "description": "Always fails.",
         "inputSchema": {"type": "object", "properties": {}}},
        {"name": "not a valid name", "description": "Cannot be offered.",
         "inputSchema": {"type": "object"}}
    ])
}

fn text_result(text: &str, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": is_error})
}

async fn rpc(
    State(state): State<Arc<McpState>>,
    headers: HeaderMap,
    Json(msg): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state
        .authorizations
        .lock()
        .expect("lock")
        .push(auth.clone());
    if let Some(token) = &state.bearer {
        if auth.as_deref() != Some(&format!("Bearer {token}")) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    let Some(id) = msg.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response(); // a notification or a response
    };
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => json!({
            "protocolVersion": params.get("protocolVersion").cloned().unwrap_or(json!("2025-06-18")),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "workforce-test-mcp", "version": "0.0.0"}
        }),
        "ping" => json!({}),
        "tools/list" => json!({"tools": tools()}),
        "tools/call" => {
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            state
                .calls
                .lock()
                .expect("lock")
                .push((name.clone(), args.clone()));
            match name.as_str() {
                "lookup.order" => {
                    let id = args.get("order_id").and_then(Value::as_str).unwrap_or("?");
                    text_result(
                        &format!("order {id} left the warehouse on 2026-11-30"),
                        false,
                    )
                }
                "failing" => text_result("the warehouse system is offline", true),
                other => {
                    return Json(json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32602, "message": format!("no tool {other}")}}))
                    .into_response()
                }
            }
        }
        other => {
            return Json(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": format!("no method {other}")}}))
            .into_response()
        }
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}
