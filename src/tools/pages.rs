//! `/tools`: the client's tool catalogue, for owners, admins and admin keys — the built-in tools,
//! the HTTP tools with their schema and the names of the headers they send (never a value), a
//! trial call with sample arguments, adding an HTTP tool and removing one — and the MCP servers
//! whose tools join the catalogue: registering one (with a token never shown again), listing its
//! tools again, removing it.

use super::{
    HttpToolSpec, McpServer, McpServerSpec, Tool, ToolHeader, ToolKind, ToolTest, ToolTestResult,
};
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[server(prefix = "/rpc")]
pub async fn load_tools() -> Result<Vec<Tool>, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::list_tools(&state, &who).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn add_http_tool(spec: HttpToolSpec) -> Result<Tool, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::create_tool(&state, &who, &spec).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn remove_tool(name: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::delete_tool(&state, &who, &name).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn try_tool(name: String, test: ToolTest) -> Result<ToolTestResult, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::test_tool(&state, &who, &name, &test).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn load_mcp_servers() -> Result<Vec<McpServer>, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::list_mcp_servers(&state, &who).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn add_mcp_server(spec: McpServerSpec) -> Result<McpServer, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::register_mcp_server(&state, &who, &spec).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn refresh_mcp_server(name: String) -> Result<McpServer, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::refresh_mcp_server(&state, &who, &name).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn remove_mcp_server(name: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::tools::server::service::delete_mcp_server(&state, &who, &name).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// `Name: value` lines as headers; a line without a colon is named as the error.
pub fn parse_header_lines(text: &str) -> Result<Vec<ToolHeader>, AppError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(AppError::field(
                "headers",
                format!("line {} must read `Name: value`", i + 1),
            ));
        };
        out.push(ToolHeader {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
        });
    }
    Ok(out)
}

/// The JSON text of a form field, or a field error naming it.
pub fn parse_json_field(field: &str, text: &str) -> Result<serde_json::Value, AppError> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_str(text)
        .map_err(|e| AppError::field(field, format!("is not valid JSON ({e})")))
}

const EXAMPLE_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {"order_id": {"type": "string", "description": "The order's number"}},
  "required": ["order_id"]
}"#;

#[component]
pub fn ToolsPage() -> impl IntoView {
    let add = ServerAction::<AddHttpTool>::new();
    let remove = ServerAction::<RemoveTool>::new();
    let servers = McpActions {
        add: ServerAction::new(),
        refresh: ServerAction::new(),
        remove: ServerAction::new(),
    };
    let mcp_version = move || {
        (
            servers.add.version().get(),
            servers.refresh.version().get(),
            servers.remove.version().get(),
        )
    };
    let tools = Resource::new(
        move || (add.version().get(), remove.version().get(), mcp_version()),
        |_| load_tools(),
    );
    let mcp_list = Resource::new(mcp_version, |_| load_mcp_servers());
    view! {
        <Title text="Tools" />
        <h1 class="mb-2 text-2xl font-semibold">"Tools"</h1>
        <p class="mb-6 max-w-3xl text-sm text-slate-600">
            "What your employees may call while they answer. An employee is offered only the tools "
            "its settings name. Header values are stored encrypted and never shown again."
        </p>
        <div class="space-y-6">
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tools.await {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(list) => view! { <Catalogue list remove /> }.into_any(),
                    }
                })}
            </Transition>
            <AddTool add />
            <section class=CARD aria-labelledby="mcp-heading">
                <h2 id="mcp-heading" class="mb-1 text-lg font-medium">"MCP servers"</h2>
                <p class="mb-3 text-sm text-slate-600">
                    "A Model Context Protocol server (streamable HTTP) adds the tools it lists to the catalogue, "
                    "named server/tool."
                </p>
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match mcp_list.await {
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                            Ok(list) => view! { <McpServers list servers /> }.into_any(),
                        }
                    })}
                </Transition>
                <AddMcpServer add=servers.add />
            </section>
        </div>
    }
}

#[derive(Clone, Copy)]
struct McpActions {
    add: ServerAction<AddMcpServer>,
    refresh: ServerAction<RefreshMcpServer>,
    remove: ServerAction<RemoveMcpServer>,
}

#[component]
fn McpServers(list: Vec<McpServer>, servers: McpActions) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="mb-4 text-sm text-slate-600">"No MCP server registered yet."</p> }
            .into_any();
    }
    view! {
        <ul class="mb-4 divide-y divide-slate-100">
            {list.into_iter().map(|s| {
                let refresh_name = s.name.clone();
                let remove_name = s.name.clone();
                let tools = if s.tools.is_empty() {
                    "lists no tools".to_owned()
                } else {
                    s.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                };
                let listed = format!("listed {}", s.listed_at.format("%Y-%m-%d %H:%M UTC"));
                view! {
                    <li class="flex flex-wrap items-start gap-3 py-3" data-testid="mcp-server" data-server=s.name.clone()>
                        <div class="min-w-0 flex-1">
                            <p class="font-medium"><code>{s.name.clone()}</code>
                                {s.has_bearer_token.then(|| view! { " " <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-700">"token set"</span> })}
                            </p>
                            <p class="break-all text-xs text-slate-500">{s.url.clone()}" · "{listed}</p>
                            <p class="text-sm text-slate-700" data-testid="mcp-tools">{tools}</p>
                        </div>
                        <button type="button" class=BUTTON_SECONDARY disabled=move || servers.refresh.pending().get()
                            on:click=move |_| { servers.refresh.dispatch(RefreshMcpServer { name: refresh_name.clone() }); }>
                            "List its tools again"
                        </button>
                        <button type="button" class=BUTTON_DANGER
                            on:click=move |_| {
                                if confirmed(&format!("Remove the MCP server “{remove_name}”? Its tools leave the catalogue; employees given them keep working without them.")) {
                                    servers.remove.dispatch(RemoveMcpServer { name: remove_name.clone() });
                                }
                            }>
                            "Remove"
                        </button>
                    </li>
                }
            }).collect_view()}
        </ul>
        {action_error(servers.refresh.value())}
        {action_error(servers.remove.value())}
    }
    .into_any()
}

#[component]
fn AddMcpServer(add: ServerAction<AddMcpServer>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            name.set(String::new());
            url.set(String::new());
            token.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = token.get_untracked();
        add.dispatch(AddMcpServer {
            spec: McpServerSpec {
                name: name.get_untracked(),
                url: url.get_untracked(),
                bearer_token: (!token.trim().is_empty()).then_some(token),
            },
        });
    };
    view! {
        <h3 class="mb-2 font-medium">"Register an MCP server"</h3>
        <form class="grid gap-3 sm:grid-cols-2" on:submit=submit>
            <label class="block">
                <span class=LABEL>"Name"</span>
                <input class=INPUT name="mcp_name" placeholder="orders" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label class="block">
                <span class=LABEL>"Bearer token (optional, never shown again)"</span>
                <input class=INPUT type="password" name="mcp_token" autocomplete="off" prop:value=move || token.get() on:input=move |ev| token.set(event_target_value(&ev)) />
            </label>
            <label class="block sm:col-span-2">
                <span class=LABEL>"URL (its streamable HTTP endpoint)"</span>
                <input class=INPUT name="mcp_url" placeholder="https://mcp.example.com/mcp" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) />
            </label>
            <div class="sm:col-span-2">
                <button type="submit" class=BUTTON disabled=move || add.pending().get()>
                    {move || if add.pending().get() { "Asking the server for its tools…" } else { "Register the server" }}
                </button>
            </div>
        </form>
        {action_error(add.value())}
        {move || add.value().get().and_then(Result::ok).map(|s| view! {
            <p role="status" class="mt-3 text-sm text-emerald-800">{format!("Registered {}, with {} tool{}.", s.name, s.tools.len(), if s.tools.len() == 1 { "" } else { "s" })}</p>
        })}
    }
}

#[component]
fn Catalogue(list: Vec<Tool>, remove: ServerAction<RemoveTool>) -> impl IntoView {
    view! {
        <section class=CARD aria-labelledby="catalogue-heading">
            <h2 id="catalogue-heading" class="mb-3 text-lg font-medium">"Catalogue"</h2>
            <ul class="divide-y divide-slate-100">
                {list.into_iter().map(|t| view! { <ToolRow t remove /> }).collect_view()}
            </ul>
            {action_error(remove.value())}
        </section>
    }
}

#[component]
fn ToolRow(t: Tool, remove: ServerAction<RemoveTool>) -> impl IntoView {
    let name = t.name.clone();
    let builtin = t.kind == ToolKind::Builtin;
    // An MCP tool leaves with its server, not on its own.
    let removable = t.kind == ToolKind::Http;
    let schema = serde_json::to_string_pretty(&t.parameters).unwrap_or_default();
    let endpoint = match (&t.method, &t.url_template) {
        (Some(m), Some(u)) => format!("{m} {u}"),
        (None, Some(u)) => format!("MCP {u}"),
        _ => String::new(),
    };
    let kind = match t.kind {
        ToolKind::Builtin => "built-in",
        ToolKind::Http => "HTTP",
        ToolKind::Mcp => "MCP",
    };
    let headers = if t.header_names.is_empty() {
        String::new()
    } else {
        format!(" · sends {}", t.header_names.join(", "))
    };
    let arguments = RwSignal::new(String::new());
    let bad_arguments = RwSignal::new(None::<AppError>);
    let trial = ServerAction::<TryTool>::new();
    let try_name = name.clone();
    let remove_name = name.clone();
    view! {
        <li class="py-3" data-testid="tool-row" data-tool=name.clone()>
            <div class="flex flex-wrap items-start gap-3">
                <div class="min-w-0 flex-1">
                    <p class="font-medium">
                        <code>{name.clone()}</code>
                        " "
                        <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-700">{kind}</span>
                    </p>
                    <p class="text-sm text-slate-700">{t.description.clone()}</p>
                    {(!builtin).then(|| view! { <p class="break-all text-xs text-slate-500">{endpoint}{headers}</p> })}
                </div>
                {removable.then(|| view! {
                    <button
                        type="button"
                        class=BUTTON_DANGER
                        on:click=move |_| {
                            if confirmed(&format!("Remove the tool “{remove_name}”? Employees given it keep working without it.")) {
                                remove.dispatch(RemoveTool { name: remove_name.clone() });
                            }
                        }
                    >
                        "Remove"
                    </button>
                })}
            </div>
            <details class="mt-2 text-sm">
                <summary class="cursor-pointer select-none text-indigo-700">"Arguments and a trial call"</summary>
                <pre class="mt-2 overflow-x-auto rounded bg-slate-50 p-2 text-xs">{schema}</pre>
                <form
                    class="mt-2 space-y-2"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        match parse_json_field("arguments", &arguments.get_untracked()) {
                            Err(e) => bad_arguments.set(Some(e)),
                            Ok(v) => {
                                bad_arguments.set(None);
                                trial.dispatch(TryTool { name: try_name.clone(), test: ToolTest { arguments: Some(v) } });
                            }
                        }
                    }
                >
                    <label class="block">
                        <span class=LABEL>"Sample arguments (JSON)"</span>
                        <textarea
                            class=format!("{INPUT} font-mono")
                            rows="2"
                            placeholder="{\"order_id\": \"A-17\"}"
                            prop:value=move || arguments.get()
                            on:input=move |ev| arguments.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                    <button type="submit" class=BUTTON_SECONDARY disabled=move || trial.pending().get()>
                        {move || if trial.pending().get() { "Calling…" } else { "Try it" }}
                    </button>
                </form>
                {move || bad_arguments.get().map(|error| view! { <ErrorBox error /> })}
                {action_error(trial.value())}
                {move || trial.value().get().and_then(Result::ok).map(|r| view! {
                    <div role="status" class="mt-2 space-y-1" data-testid="tool-trial">
                        <p class="text-xs text-slate-600">
                            <span data-testid="tool-trial-status">{r.call.status.as_str()}</span>
                            {format!(" · {} ms · {} bytes", r.call.duration_ms, r.call.result_bytes)}
                        </p>
                        <pre class="max-h-64 overflow-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-2 text-xs">{r.result}</pre>
                    </div>
                })}
            </details>
        </li>
    }
}

/// The form's fields, kept above the part that reloads.
#[derive(Clone, Copy)]
struct NewTool {
    name: RwSignal<String>,
    description: RwSignal<String>,
    method: RwSignal<String>,
    url: RwSignal<String>,
    schema: RwSignal<String>,
    headers: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    /// A problem found before sending (JSON that does not parse, a header line without ':').
    local_error: RwSignal<Option<AppError>>,
}

#[component]
fn AddTool(add: ServerAction<AddHttpTool>) -> impl IntoView {
    let f = NewTool {
        name: RwSignal::new(String::new()),
        description: RwSignal::new(String::new()),
        method: RwSignal::new("GET".to_owned()),
        url: RwSignal::new(String::new()),
        schema: RwSignal::new(EXAMPLE_SCHEMA.to_owned()),
        headers: RwSignal::new(String::new()),
        timeout_ms: RwSignal::new("10000".to_owned()),
        local_error: RwSignal::new(None),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = parse_json_field("parameters", &f.schema.get_untracked())
            .and_then(|p| Ok((p, parse_header_lines(&f.headers.get_untracked())?)));
        match parsed {
            Err(e) => f.local_error.set(Some(e)),
            Ok((parameters, headers)) => {
                f.local_error.set(None);
                add.dispatch(AddHttpTool {
                    spec: HttpToolSpec {
                        name: f.name.get_untracked(),
                        description: f.description.get_untracked(),
                        parameters,
                        method: f.method.get_untracked(),
                        url_template: f.url.get_untracked(),
                        headers: Some(headers),
                        timeout_ms: f.timeout_ms.get_untracked().trim().parse().ok(),
                        max_response_bytes: None,
                    },
                });
            }
        }
    };
    // A tool added: the form empties (its headers first of all).
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            f.name.set(String::new());
            f.description.set(String::new());
            f.url.set(String::new());
            f.headers.set(String::new());
            f.schema.set(EXAMPLE_SCHEMA.to_owned());
        }
    });
    let text = |label: &'static str,
                name: &'static str,
                placeholder: &'static str,
                value: RwSignal<String>| {
        view! {
            <label class="block">
                <span class=LABEL>{label}</span>
                <input class=INPUT name=name placeholder=placeholder prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            </label>
        }
    };
    view! {
        <section class=CARD aria-labelledby="add-tool-heading">
            <h2 id="add-tool-heading" class="mb-3 text-lg font-medium">"Add an HTTP tool"</h2>
            <form class="grid gap-3 sm:grid-cols-2" on:submit=submit>
                {text("Name", "tool_name", "order_status", f.name)}
                <label class="block">
                    <span class=LABEL>"Method"</span>
                    <select class=INPUT name="method" prop:value=move || f.method.get() on:change=move |ev| f.method.set(event_target_value(&ev))>
                        {["GET", "POST", "PUT", "PATCH", "DELETE"].into_iter().map(|m| view! { <option value=m>{m}</option> }).collect_view()}
                    </select>
                </label>
                <div class="sm:col-span-2">{text("What it does (the model reads this)", "description", "Looks up where an order is.", f.description)}</div>
                <div class="sm:col-span-2">{text("URL, with {arguments} in its path or query", "url_template", "https://shop.example.com/api/orders/{order_id}", f.url)}</div>
                <label class="block sm:col-span-2">
                    <span class=LABEL>"Arguments (JSON Schema)"</span>
                    <textarea class=format!("{INPUT} font-mono") name="parameters" rows="5" prop:value=move || f.schema.get() on:input=move |ev| f.schema.set(event_target_value(&ev))></textarea>
                </label>
                <label class="block">
                    <span class=LABEL>"Headers (one per line, Name: value)"</span>
                    <textarea class=format!("{INPUT} font-mono") name="headers" rows="2" autocomplete="off" placeholder="Authorization: Bearer …" prop:value=move || f.headers.get() on:input=move |ev| f.headers.set(event_target_value(&ev))></textarea>
                </label>
                {text("Time limit (ms)", "timeout_ms", "10000", f.timeout_ms)}
                <div class="sm:col-span-2">
                    <button type="submit" class=BUTTON disabled=move || add.pending().get()>"Add the tool"</button>
                </div>
            </form>
            {move || f.local_error.get().map(|error| view! { <ErrorBox error /> })}
            {action_error(add.value())}
            {move || add.value().get().and_then(Result::ok).map(|t| view! {
                <p role="status" class="mt-3 text-sm text-emerald-800">{format!("Added {}. Give it to an employee in its settings (Tools).", t.name)}</p>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_and_json_fields_are_read_or_named() {
        let h = parse_header_lines("Authorization: Bearer a:b\n\nX-Key: 1").expect("headers");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].value, "Bearer a:b");
        let e = parse_header_lines("no colon here").expect_err("bad");
        assert!(e.fields().expect("fields")["headers"].contains("line 1"));
        assert!(parse_json_field("parameters", "{").is_err());
        assert_eq!(
            parse_json_field("arguments", " ").expect("empty"),
            serde_json::json!({})
        );
    }
}
