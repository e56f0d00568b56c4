//! What the REST API answers to bad input, and its health and readiness.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// (method, path, token, body, expected status, the field the error must name)
type Case<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    Value,
    u16,
    Option<&'a str>,
);

#[sqlx::test]
async fn every_bad_input_gets_a_clear_4xx(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let (c, key) = app
        .onboard(json!({"name": "Valid", "tier": "starter"}))
        .await;
    let emp = app.hire(&c, &key, requirements("ok")).await;
    let clients = "/api/v1/employees/clients".to_string();
    let emps = format!("/api/v1/employees/clients/{c}/employees");
    let one = emp_path(&c, &emp);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = requirements("x");
        f(&mut v);
        v
    };
    let admin = Some(ADMIN_TOKEN);
    let k = Some(key.as_str());

    let cases: Vec<Case> = vec![
        (
            "POST",
            clients.clone(),
            None,
            json!({"name": "x", "tier": "starter"}),
            401,
            None,
        ),
        (
            "POST",
            clients.clone(),
            Some("wrong"),
            json!({"name": "x", "tier": "starter"}),
            401,
            None,
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "", "tier": "gold"}),
            422,
            Some("name"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "x", "tier": "gold"}),
            422,
            Some("tier"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "x", "tier": "starter", "max_employees": -1}),
            422,
            Some("max_employees"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "x", "tier": "starter", "max_employees": 0}),
            422,
            Some("max_employees"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "x", "tier": "starter", "security_level": "extreme"}),
            422,
            Some("security_level"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "x", "tier": "starter", "plan": "x"}),
            422,
            Some("plan"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"tier": "starter"}),
            422,
            Some("name"),
        ),
        (
            "POST",
            clients.clone(),
            admin,
            json!({"name": "x".repeat(121), "tier": "starter"}),
            422,
            Some("name"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            json!({"role": 5, "industry": "x", "communication_style": "friendly"}),
            422,
            Some("role"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            json!({"role": "x", "industry": "x"}),
            422,
            Some("communication_style"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["favourite_colour"] = json!("red")),
            422,
            Some("favourite_colour"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["communication_style"] = json!("sarcastic")),
            422,
            Some("communication_style"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["personality_traits"]["empathy_level"] = json!(1.5)),
            422,
            Some("personality_traits.empathy_level"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["personality_traits"]["creativity_level"] = json!(-0.1)),
            422,
            Some("personality_traits.creativity_level"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["personality_traits"]["expertise_level"] = json!("guru")),
            422,
            Some("personality_traits.expertise_level"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| {
                v["tools_needed"] = json!((0..40).map(|i| format!("t{i}")).collect::<Vec<_>>())
            }),
            422,
            Some("tools_needed"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["tools_needed"] = json!(["rm -rf /"])),
            422,
            Some("tools_needed[0]"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["expertise_areas"] = json!(["a", ""])),
            422,
            Some("expertise_areas[1]"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["role"] = json!("r".repeat(101))),
            422,
            Some("role"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["model_preferences"] = json!({"temperature": 2.5})),
            422,
            Some("model_preferences.temperature"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["model_preferences"] = json!({"max_tokens": 0})),
            422,
            Some("model_preferences.max_tokens"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["model_preferences"] = json!({"max_tokens": 1e12})),
            422,
            Some("model_preferences.max_tokens"),
        ),
        (
            "POST",
            emps.clone(),
            k,
            with(&|v| v["model_preferences"] = json!({"top_p": 1})),
            422,
            Some("model_preferences.top_p"),
        ),
        ("POST", emps.clone(), k, json!([1, 2, 3]), 422, Some("body")),
        ("PATCH", one.clone(), k, json!({}), 422, Some("body")),
        (
            "PATCH",
            one.clone(),
            k,
            json!({"personality": {"formality_level": "stiff"}}),
            422,
            Some("personality.formality_level"),
        ),
        (
            "PATCH",
            one.clone(),
            k,
            json!({"personality": {"empathy_level": "very"}}),
            422,
            Some("personality.empathy_level"),
        ),
        (
            "PATCH",
            one.clone(),
            k,
            json!({"status": "active"}),
            422,
            Some("status"),
        ),
        (
            "GET",
            format!("{emps}?status=bogus"),
            k,
            Value::Null,
            422,
            Some("status"),
        ),
        ("POST", format!("{one}/explode"), k, Value::Null, 404, None),
        ("GET", emp_path(&c, "not-an-id"), k, Value::Null, 404, None),
        (
            "GET",
            "/api/v1/nothing/here".into(),
            k,
            Value::Null,
            404,
            None,
        ),
        ("PUT", emps.clone(), k, Value::Null, 405, None),
    ];
    for (method, path, token, body, status, field) in cases {
        let body = (!body.is_null()).then_some(body.clone());
        let r = app.send(method, &path, token, body.clone()).await;
        assert_eq!(r.status, status, "{method} {path} {body:?} → {}", r.body);
        assert!(
            r.body["error"]["code"].is_string(),
            "{method} {path}: error body {}",
            r.body
        );
        assert!(r.body["error"]["message"].is_string());
        if let Some(field) = field {
            assert!(
                r.body["error"]["fields"][field].is_string(),
                "{method} {path} {body:?}: field {field} not named in {}",
                r.body
            );
        }
    }

    // Bodies that are not JSON at all.
    let raw = [
        ("application/json", b"{not json".to_vec(), 400),
        ("application/json", b"".to_vec(), 400),
        ("application/json", b"{\"role\": \"a\"} extra".to_vec(), 400),
        (
            "text/plain",
            serde_json::to_vec(&requirements("x")).expect("json"),
            415,
        ),
        ("application/json", vec![b' '; 70_000], 413),
        ("application/json", vec![0xff, 0xfe, 0x00], 400),
    ];
    for (ct, body, status) in raw {
        let len = body.len();
        let r = app.send_raw("POST", &emps, k, ct, body).await;
        assert_eq!(r.status, status, "{ct} ({len} bytes) → {}", r.body);
        assert!(r.body["error"]["code"].is_string(), "{}", r.body);
    }
    // None of it created anything.
    let r = app.send("GET", &emps, k, None).await;
    assert_eq!(r.body.as_array().expect("list").len(), 1);
}

#[sqlx::test]
async fn health_and_readiness(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let r = app.send("GET", "/healthz", None, None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    let r = app.send("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["postgres"], "up");
    assert_eq!(r.body["redis"], "up");
}

#[sqlx::test]
async fn readiness_reports_a_redis_outage_and_writes_still_succeed(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mut app = spawn_app(owner).await;
    // Point the cache at a port where nothing listens.
    let mut state = app.state.clone();
    state.cache = workforce::platform::redis::Cache::new("redis://127.0.0.1:1").expect("url");
    app.restart_with(state).await;

    // A cache outage degrades the service; it does not make it unready (turns still work).
    let r = app.send("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["postgres"].as_str(),
            r.body["redis"].as_str()
        ),
        (Some("degraded"), Some("up"), Some("down"))
    );
    let (c, key) = app
        .onboard(json!({"name": "Offline cache", "tier": "starter"}))
        .await;
    let emp = app.hire(&c, &key, requirements("resilient")).await;
    let r = app.delete_employee(&c, &key, &emp).await;
    assert_eq!(r.status, 204);
}
