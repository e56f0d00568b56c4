//! `/api/docs`: the REST API's reference, read from the same OpenAPI document that
//! `/api/v1/openapi.json` serves, rendered on the server in full (it needs no JavaScript and
//! loads nothing from elsewhere).

use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// The reference as the page shows it: operations grouped by tag, then the schemas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiReference {
    pub version: String,
    pub description: String,
    pub sections: Vec<ApiSection>,
    pub schemas: Vec<ApiSchema>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiSection {
    pub tag: String,
    pub description: String,
    pub operations: Vec<ApiOperation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiOperation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    /// How to authenticate: "none", or the schemes that are accepted.
    pub auth: String,
    pub params: Vec<ApiField>,
    /// The request body's type, if it has one.
    pub request: Option<String>,
    pub responses: Vec<ApiResponse>,
}

/// A parameter or a schema's property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiField {
    pub name: String,
    /// For a parameter: path, query or header; empty for a property.
    pub location: String,
    pub type_name: String,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiResponse {
    pub status: String,
    pub description: String,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiSchema {
    pub name: String,
    pub description: String,
    /// A string enum's values.
    pub values: Vec<String>,
    pub fields: Vec<ApiField>,
}

#[server(prefix = "/rpc")]
pub async fn load_api_reference() -> Result<ApiReference, AppError> {
    let doc = serde_json::from_str(crate::platform::openapi::json())
        .map_err(|e| crate::platform::error::internal("the OpenAPI document", &e))?;
    Ok(reference(&doc))
}

/// A type name, linked to its schema when it names one.
fn type_link(name: String) -> impl IntoView {
    let base = name
        .trim_start_matches("array of ")
        .trim_end_matches(" or null")
        .to_owned();
    let is_schema = base.chars().next().is_some_and(char::is_uppercase);
    if is_schema {
        view! { <a class="text-indigo-700 underline" href=format!("#schema-{base}")>{name}</a> }
            .into_any()
    } else {
        view! { <span>{name}</span> }.into_any()
    }
}

fn fields_table(fields: Vec<ApiField>, with_location: bool) -> impl IntoView {
    view! {
        <div class="overflow-x-auto">
            <table class="mt-2 w-full text-left text-sm">
                <thead class="text-slate-500">
                    <tr>
                        <th class="py-1 pr-4 font-medium">"Name"</th>
                        {with_location.then(|| view! { <th class="py-1 pr-4 font-medium">"In"</th> })}
                        <th class="py-1 pr-4 font-medium">"Type"</th>
                        <th class="py-1 font-medium">"Description"</th>
                    </tr>
                </thead>
                <tbody>
                    {fields
                        .into_iter()
                        .map(|f| {
                            view! {
                                <tr class="border-t border-slate-100 align-top">
                                    <td class="py-1 pr-4">
                                        <code>{f.name}</code>
                                        {f.required.then(|| view! { <span class="ml-1 text-xs text-red-700">"required"</span> })}
                                    </td>
                                    {with_location.then(|| view! { <td class="py-1 pr-4 text-slate-600">{f.location.clone()}</td> })}
                                    <td class="py-1 pr-4 text-slate-600">{type_link(f.type_name)}</td>
                                    <td class="py-1 text-slate-700">{f.description}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn operation_view(op: ApiOperation) -> impl IntoView {
    let anchor = format!(
        "op-{}-{}",
        op.method.to_lowercase(),
        op.path.replace(['/', '{', '}'], "-")
    );
    let method_class = match op.method.as_str() {
        "GET" => "bg-sky-100 text-sky-800",
        "POST" => "bg-emerald-100 text-emerald-800",
        "PATCH" => "bg-amber-100 text-amber-800",
        _ => "bg-red-100 text-red-800",
    };
    view! {
        <article id=anchor class="rounded-lg border border-slate-200 bg-surface p-4 shadow-sm">
            <h3 class="flex flex-wrap items-baseline gap-2">
                <span class=format!("rounded px-2 py-0.5 text-xs font-semibold {method_class}")>{op.method}</span>
                <code class="break-all text-sm">{op.path}</code>
            </h3>
            <p class="mt-2 font-medium">{op.summary}</p>
            {(!op.description.is_empty()).then(|| view! { <p class="mt-1 whitespace-pre-line text-sm text-slate-700">{op.description}</p> })}
            <p class="mt-2 text-xs text-slate-500">"Authentication: "{op.auth}</p>
            {(!op.params.is_empty()).then(|| view! {
                <h4 class="mt-3 text-sm font-semibold">"Parameters"</h4>
                {fields_table(op.params, true)}
            })}
            {op.request.map(|r| view! {
                <p class="mt-3 text-sm"><span class="font-semibold">"Body: "</span>{type_link(r)}</p>
            })}
            <h4 class="mt-3 text-sm font-semibold">"Responses"</h4>
            <ul class="mt-1 space-y-0.5 text-sm">
                {op.responses
                    .into_iter()
                    .map(|r| view! {
                        <li>
                            <code class="mr-2">{r.status}</code>
                            <span class="text-slate-700">{r.description}</span>
                            {r.body.map(|b| view! { " — " {type_link(b)} })}
                        </li>
                    })
                    .collect_view()}
            </ul>
        </article>
    }
}

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let reference = Resource::new_blocking(|| (), |_| load_api_reference());
    view! {
        <Title text="API reference" />
        <Suspense fallback=|| view! { <p class="text-slate-600">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match reference.await {
                    Err(e) => view! { <crate::app::components::ErrorBox error=e /> }.into_any(),
                    Ok(r) => view! {
                        <section class="space-y-6">
                            <header class="space-y-2">
                                <h1 class="text-3xl font-semibold tracking-tight">"REST API"</h1>
                                <p class="max-w-3xl whitespace-pre-line text-slate-700">{r.description}</p>
                                <p class="text-sm text-slate-600">
                                    "Version "{r.version}". The machine-readable document (OpenAPI 3.1): "
                                    <a class="text-indigo-700 underline" href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>
                                </p>
                                <nav aria-label="Sections" class="flex flex-wrap gap-3 text-sm">
                                    {r.sections.iter().map(|s| view! {
                                        <a class="text-indigo-700 underline" href=format!("#tag-{}", s.tag)>{s.tag.clone()}</a>
                                    }).collect_view()}
                                    <a class="text-indigo-700 underline" href="#schemas">"schemas"</a>
                                </nav>
                            </header>
                            {r.sections.into_iter().map(|s| {
                                let id = format!("tag-{}", s.tag);
                                view! {
                                    <section id=id class="space-y-3">
                                        <h2 class="text-xl font-semibold capitalize">{s.tag}</h2>
                                        <p class="text-sm text-slate-600">{s.description}</p>
                                        {s.operations.into_iter().map(operation_view).collect_view()}
                                    </section>
                                }
                            }).collect_view()}
                            <section id="schemas" class="space-y-3">
                                <h2 class="text-xl font-semibold">"Schemas"</h2>
                                {r.schemas.into_iter().map(|s| {
                                    let id = format!("schema-{}", s.name);
                                    view! {
                                    <article id=id class="rounded-lg border border-slate-200 bg-surface p-4 shadow-sm">
                                        <h3 class="font-mono text-sm font-semibold">{s.name}</h3>
                                        {(!s.description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-700">{s.description}</p> })}
                                        {(!s.values.is_empty()).then(|| view! {
                                            <p class="mt-1 text-sm">"One of: "<code>{s.values.join(", ")}</code></p>
                                        })}
                                        {(!s.fields.is_empty()).then(|| fields_table(s.fields, false))}
                                    </article>
                                    }
                                }).collect_view()}
                            </section>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

// ---- the document, arranged for the page ------------------------------------------------------

use serde_json::Value;

/// A schema's type in words: a schema's name, `array of X`, `X or null`, or a JSON type.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let non_null: Vec<&Value> = options
                .iter()
                .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            let nullable = non_null.len() < options.len();
            let names: Vec<String> = non_null.iter().map(|o| type_name(o)).collect();
            let joined = names.join(" | ");
            return if nullable {
                format!("{joined} or null")
            } else {
                joined
            };
        }
    }
    let (ty, nullable) = match schema.get("type") {
        Some(Value::String(t)) => (t.clone(), false),
        Some(Value::Array(ts)) => {
            let kinds: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            let non_null: Vec<&str> = kinds.iter().copied().filter(|t| *t != "null").collect();
            (non_null.join(" | "), non_null.len() < kinds.len())
        }
        _ => ("any".to_owned(), false),
    };
    let ty = match ty.as_str() {
        "array" => format!(
            "array of {}",
            schema.get("items").map_or("any".to_owned(), type_name)
        ),
        "object" => match schema.get("additionalProperties") {
            Some(v @ Value::Object(_)) => format!("map of {}", type_name(v)),
            _ => "object".to_owned(),
        },
        _ => match schema.get("format").and_then(Value::as_str) {
            Some(f) => format!("{ty} ({f})"),
            None => ty,
        },
    };
    if nullable {
        format!("{ty} or null")
    } else {
        ty
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn body_type(content: Option<&Value>) -> Option<String> {
    let content = content?.as_object()?;
    let (media, c) = content.iter().next()?;
    let ty = c.get("schema").map(type_name).unwrap_or_default();
    Some(if media == "application/json" {
        ty
    } else {
        format!("{media} ({ty})")
    })
}

/// An OpenAPI 3.1 document, arranged for the page.
pub fn reference(doc: &Value) -> ApiReference {
    let components = &doc["components"];
    let tags = doc["tags"].as_array().cloned().unwrap_or_default();
    let mut sections: Vec<ApiSection> = tags
        .iter()
        .map(|t| ApiSection {
            tag: text(t, "name"),
            description: text(t, "description"),
            operations: Vec::new(),
        })
        .collect();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let auth = match op["security"].as_array() {
                Some(reqs)
                    if reqs
                        .iter()
                        .all(|r| r.as_object().is_some_and(|o| o.is_empty())) =>
                {
                    "none".to_owned()
                }
                Some(reqs) => reqs
                    .iter()
                    .filter_map(|r| r.as_object()?.keys().next().cloned())
                    .map(|k| match k.as_str() {
                        "bearer" => "Authorization: Bearer (API key or operator token)".to_owned(),
                        "session" => "the session cookie".to_owned(),
                        other => other.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(", or "),
                None => "none".to_owned(),
            };
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ApiField {
                    name: text(p, "name"),
                    location: text(p, "in"),
                    type_name: p.get("schema").map(type_name).unwrap_or_default(),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: text(p, "description"),
                })
                .collect();
            let mut responses: Vec<ApiResponse> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| {
                    let r = match r.get("$ref").and_then(Value::as_str) {
                        Some(name) => {
                            &components["responses"][name.rsplit('/').next().unwrap_or(name)]
                        }
                        None => r,
                    };
                    ApiResponse {
                        status: status.clone(),
                        description: text(r, "description"),
                        body: body_type(r.get("content")),
                    }
                })
                .collect();
            responses.sort_by(|a, b| a.status.cmp(&b.status));
            let description = text(op, "description");
            let operation = ApiOperation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(op, "summary"),
                description,
                auth,
                params,
                request: body_type(op["requestBody"].get("content")),
                responses,
            };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            match sections.iter_mut().find(|s| s.tag == tag) {
                Some(s) => s.operations.push(operation),
                None => sections.push(ApiSection {
                    tag,
                    description: String::new(),
                    operations: vec![operation],
                }),
            }
        }
    }
    let schemas = components["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            let required: Vec<&str> = s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            ApiSchema {
                name: name.clone(),
                description: text(s, "description"),
                values: s["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                fields: s["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(field, p)| ApiField {
                        name: field.clone(),
                        location: String::new(),
                        type_name: type_name(p),
                        required: required.contains(&field.as_str()),
                        description: text(p, "description"),
                    })
                    .collect(),
            }
        })
        .collect();
    ApiReference {
        version: text(&doc["info"], "version"),
        description: text(&doc["info"], "description"),
        sections,
        schemas,
    }
}
