//! The OpenAPI document describes the REST API the router serves: every route (a new route
//! without a description fails here), its path parameters, its responses, and schemas that
//! match what the server really sends. `/api/docs` shows it to people.

use crate::helpers::{requirements, spawn_app, spawn_app_with_stub, Response, ADMIN_TOKEN};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::BTreeSet;

async fn document(app: &crate::helpers::TestApp) -> Value {
    let r: Response = app.send("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.insert(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[sqlx::test]
async fn the_document_describes_every_route_the_router_serves(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );

    let routes = workforce::platform::startup::api_route_list();
    assert!(routes.len() >= 35, "{} routes", routes.len());
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let op = &doc["paths"][path.as_str()][method.as_str().to_lowercase()];
        if !op.is_object() {
            missing.push(format!("{method} {path}"));
            continue;
        }
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{method} {path} has no summary");
        // Each `{param}` of the path is declared as a path parameter.
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    declared.contains(name),
                    "{method} {path}: `{name}` is not declared ({declared:?})"
                );
            }
        }
        let statuses: Vec<&String> = op["responses"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert!(
            statuses.iter().any(|s| s.starts_with('2')),
            "{method} {path}: no success response ({statuses:?})"
        );
        for common in ["401", "404", "422", "429"] {
            assert!(
                statuses.iter().any(|s| *s == common),
                "{method} {path}: no {common} ({statuses:?})"
            );
        }
        // A body goes with the methods that take one.
        if matches!(method.as_str(), "POST" | "PATCH")
            && !path.ends_with("/suspend")
            && !path.ends_with("/reactivate")
            && !path.ends_with("/{action}")
            && !path.ends_with("/interact/stop")
            && !path.ends_with("/refresh")
        {
            // An import is JSON Lines, an upload a form; everything else JSON.
            let media = if path.ends_with("/memory/import") {
                "application/x-ndjson"
            } else if path.ends_with("/documents") {
                "multipart/form-data"
            } else {
                "application/json"
            };
            assert!(
                op["requestBody"]["content"][media].is_object(),
                "{method} {path}: no {media} request body"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "routes the OpenAPI document lacks: {missing:#?}"
    );

    // Nothing is documented that the router does not serve.
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.as_str().to_lowercase(), p.clone()))
        .collect();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                assert!(
                    served.contains(&(method.clone(), path.clone())),
                    "{method} {path} is documented but not served"
                );
            }
        }
    }

    // Every reference resolves.
    let mut all = BTreeSet::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20, "{} references", all.len());
    for r in all {
        let pointer = r.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }

    // Sign-in needs no credentials; everything else says how to authenticate.
    assert_eq!(
        doc["paths"]["/api/v1/auth/sessions"]["post"]["security"],
        json!([{}])
    );
    let security = &doc["paths"]["/api/v1/employees/clients"]["get"]["security"];
    assert_eq!(security, &json!([{ "bearer": [] }, { "session": [] }]));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// The names of `schema`'s properties and its required ones, following `$ref`s.
fn properties(doc: &Value, name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    let props = schema["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let required = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    (props, required)
}

/// What the server sent for `name` has the documented fields: each field it sent is
/// documented, and each documented required field was sent.
fn conforms(doc: &Value, name: &str, body: &Value) {
    let (props, required) = properties(doc, name);
    let sent: BTreeSet<String> = body
        .as_object()
        .unwrap_or_else(|| panic!("{name} is not an object: {body}"))
        .keys()
        .cloned()
        .collect();
    let undocumented: Vec<_> = sent.difference(&props).collect();
    assert!(
        undocumented.is_empty(),
        "{name}: undocumented {undocumented:?}"
    );
    let absent: Vec<_> = required.difference(&sent).collect();
    assert!(
        absent.is_empty(),
        "{name}: required but not sent {absent:?}"
    );
}

#[sqlx::test]
async fn the_schemas_match_what_the_server_sends(_p: PgPoolOptions, owner: PgConnectOptions) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let doc = document(&app).await;
    let r = app
        .send(
            "POST",
            "/api/v1/employees/clients",
            Some(ADMIN_TOKEN),
            Some(json!({
                "name": "Schema Co",
                "tier": "professional",
                "allowed_models": ["gpt-4o-mini"]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    conforms(&doc, "OnboardedClient", &r.body);
    conforms(&doc, "Client", &r.body["client"]);
    conforms(
        &doc,
        "ClientConfiguration",
        &r.body["client"]["configuration"],
    );
    let client = r.body["client"]["id"].as_str().expect("id").to_owned();
    let key = r.body["api_key"].as_str().expect("key").to_owned();

    let mut req = requirements("Support Agent");
    req["model_preferences"] = json!({ "primary_model": "gpt-4o-mini" });
    let created = app.create_employee(&client, &key, req).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    conforms(&doc, "Employee", &created.body);
    conforms(&doc, "PersonalityConfig", &created.body["personality"]);
    conforms(&doc, "ModelPreferences", &created.body["model_preferences"]);
    let emp = created.body["id"].as_str().expect("id").to_owned();

    let answer = app.interact(&client, &key, &emp, "Hello there").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    conforms(&doc, "InteractionResponse", &answer.body);
    conforms(&doc, "Usage", &answer.body["usage"]);

    let usage = app
        .get(&format!("/api/v1/employees/clients/{client}/usage"), &key)
        .await;
    assert_eq!(usage.status, 200, "{:?}", usage.body);
    conforms(&doc, "UsageReport", &usage.body);
    conforms(&doc, "TierLimits", &usage.body["limits"]);

    let bad = app
        .create_employee(&client, &key, json!({ "role": "" }))
        .await;
    assert_eq!(bad.status, 422);
    conforms(&doc, "ErrorBody", &bad.body);
    conforms(&doc, "ErrorDetail", &bad.body["error"]);
}

#[sqlx::test]
async fn the_docs_page_lists_every_operation_without_javascript(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let res = app
        .http
        .get(app.url("/api/docs"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("body");
    assert!(html.contains("<title>API reference · workforce</title>"));
    // The whole reference is in the server's HTML, not behind a loading state.
    assert!(!html.contains("Loading…"), "rendered in full on the server");
    for (method, path) in workforce::platform::startup::api_route_list() {
        let anchor = format!(
            "id=\"op-{}-{}\"",
            method.as_str().to_lowercase(),
            path.replace(['/', '{', '}'], "-")
        );
        assert!(html.contains(&anchor), "{method} {path} is not on the page");
    }
    assert!(html.contains("id=\"schema-EmployeeRequirements\""));
}
