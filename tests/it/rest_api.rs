//! The REST API through a real server on port 0, its own database and the real Redis.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use workforce::core::{ClientId, EmployeeId};
use workforce::memory::server::recent;
use workforce::platform::db::TenantTx;

/// Acme Bank: a professional client bound by GDPR. Returns (client id, API key).
async fn acme(app: &TestApp) -> (String, String) {
    app.onboard(json!({"name": "Acme Bank", "industry": "banking", "tier": "professional", "compliance_requirements": ["GDPR"]}))
        .await
}

/// Acme Bank with one support agent. Returns (client id, API key, employee id).
async fn acme_support_agent(app: &TestApp) -> (String, String, String) {
    let (client, key) = acme(app).await;
    let emp = app.hire(&client, &key, requirements("support agent")).await;
    (client, key, emp)
}

/// An update of several fields: the name, one personality trait, the models and the tools.
fn ava() -> Value {
    json!({"name": "Ava", "personality": {"response_length": "detailed"},
           "model_preferences": {"primary_model": "gpt-4o", "fallback_models": ["gpt-4o-mini"]},
           "tool_access": ["current_time", "memory_search"]})
}

/// The employee's working life: updated to `ava()`, paused, resumed and archived, with a refused
/// change after each step that allows none (a second pause, resuming and editing once archived).
async fn live_a_working_life(app: &TestApp, client: &str, key: &str, emp: &str) {
    let r = app.update_employee(client, key, emp, ava()).await;
    assert_eq!(r.status, 200, "update: {}", r.body);
    for (action, status) in [
        ("pause", 200),
        ("pause", 409),
        ("resume", 200),
        ("archive", 200),
        ("resume", 409),
    ] {
        let r = app.transition(client, key, emp, action).await;
        assert_eq!(r.status, status, "{action}: {}", r.body);
    }
    let r = app
        .update_employee(client, key, emp, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 409, "archived employees are read-only");
}

#[sqlx::test]
async fn an_onboarded_client_reads_its_configuration(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let (client, key) = acme(&app).await;

    let r = app
        .get(&format!("/api/v1/employees/clients/{client}"), &key)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["configuration"]["max_employees"], 25);
    assert_eq!(
        r.body["configuration"]["compliance_requirements"],
        json!(["gdpr"])
    );
}

#[sqlx::test]
async fn a_new_employee_is_generated_from_its_requirements_cached_and_listed(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key) = acme(&app).await;

    let r = app
        .create_employee(&client, &key, requirements("support agent"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let emp = r.body["id"].as_str().expect("id").to_owned();
    assert!(emp.starts_with(&format!("{client}_emp_")));
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["personality"]["empathy_level"], 0.9);
    assert_eq!(r.body["personality"]["formality_level"], "casual");
    assert_eq!(
        r.body["model_preferences"]["primary_model"],
        "smollm2-135m-instruct"
    );

    let r = app.list_employees(&client, &key, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().expect("list").len(), 1);
}

#[sqlx::test]
async fn an_update_changes_only_the_fields_it_names_and_is_stored(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key, emp) = acme_support_agent(&app).await;

    let r = app.update_employee(&client, &key, &emp, ava()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Ava");
    assert_eq!(r.body["personality"]["response_length"], "detailed");
    assert_eq!(
        r.body["personality"]["empathy_level"], 0.9,
        "untouched fields stay"
    );
    assert_eq!(
        r.body["model_preferences"]["fallback_models"],
        json!(["gpt-4o-mini"])
    );

    let r = app.get_employee(&client, &key, &emp).await;
    assert_eq!(r.body["name"], "Ava", "the update was stored");
}

#[sqlx::test]
async fn pause_resume_and_archive_follow_the_lifecycle_and_archived_employees_are_read_only(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key, emp) = acme_support_agent(&app).await;

    for (action, expect_status, expect) in [
        ("pause", 200, Some("paused")),
        ("pause", 409, None),
        ("resume", 200, Some("active")),
        ("archive", 200, Some("archived")),
        ("resume", 409, None),
    ] {
        let r = app.transition(&client, &key, &emp, action).await;
        assert_eq!(r.status, expect_status, "{action}: {}", r.body);
        match expect {
            Some(s) => assert_eq!(r.body["status"], s),
            None => assert_eq!(r.body["error"]["code"], "conflict"),
        }
    }
    let r = app.get_employee(&client, &key, &emp).await;
    assert!(r.body["archived_at"].is_string());
    let r = app
        .update_employee(&client, &key, &emp, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 409, "archived employees are read-only");
    let r = app.list_employees(&client, &key, "status=archived").await;
    assert_eq!(r.body.as_array().expect("list").len(), 1);
}

#[sqlx::test]
async fn every_change_is_audited_with_before_and_after_and_the_status_history_is_complete(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key, emp) = acme_support_agent(&app).await;
    live_a_working_life(&app, &client, &key, &emp).await;

    // Every change left an audit event with before/after (the refused ones none), and the
    // status history is complete.
    let r = app
        .get(&format!("{}/audit", emp_path(&client, &emp)), &key)
        .await;
    assert_eq!(r.status, 200);
    let actions: Vec<&str> = r.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "employee.create",
            "employee.update",
            "employee.pause",
            "employee.resume",
            "employee.archive"
        ]
    );
    let update = &r.body["events"][1];
    assert_eq!(update["before"]["name"], "Support Agent · Retail Banking");
    assert_eq!(update["after"]["name"], "Ava");
    assert!(update["actor"]
        .as_str()
        .expect("actor")
        .starts_with("api_key:"));
    let history: Vec<&str> = r.body["status_history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["to_status"].as_str())
        .collect();
    assert_eq!(history, ["active", "paused", "active", "archived"]);
}

#[sqlx::test]
async fn deleting_an_employee_removes_its_interactions_vectors_and_cache_entries(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key, emp) = acme_support_agent(&app).await;
    // At the end of its working life: archived, with an audit trail and a status history.
    live_a_working_life(&app, &client, &key, &emp).await;
    let cid = ClientId::parse(&client).expect("cid");
    let eid = EmployeeId::parse(&emp).expect("eid");

    // Give the employee some interactions, then delete it: rows, vectors and cache go with it.
    let item = workforce::memory::MemoryItem {
        id: "i0".to_owned().into(),
        content: "m".into(),
        response: "r".into(),
        timestamp: chrono::Utc::now(),
        relevance_score: 1.0,
        similarity: None,
        keyword_score: None,
        tool_calls: Vec::new(),
        sources: Vec::new(),
    };
    let owner = recent::Owner {
        keys: &app.state.secrets,
        client: &cid,
        employee: &eid,
    };
    assert!(recent::push(&app.state.cache, owner, 1, &item).await);
    let keys = recent::employee_keys(&app.state.cache, &cid, &eid)
        .await
        .expect("redis up");
    assert_eq!(keys.len(), 1, "the recent list is cached: {keys:?}");
    let mut tx = TenantTx::begin(&app.state.pool, &cid).await.expect("tx");
    for i in 0..3 {
        sqlx::query(
            "WITH i AS (INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message, response)
                        VALUES ($1, $2, $3, 'm', 'r') RETURNING client_id, employee_id, interaction_id)
             INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
             SELECT client_id, employee_id, interaction_id, 'test', '[0.1,0.2,0.3]' FROM i",
        )
        .bind(&client)
        .bind(&emp)
        .bind(format!("i{i}"))
        .execute(&mut *tx)
        .await
        .expect("interaction");
    }
    tx.commit().await.expect("commit");

    let r = app.delete_employee(&client, &key, &emp).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app.get_employee(&client, &key, &emp).await;
    assert_eq!(r.status, 404);
    let r = app.delete_employee(&client, &key, &emp).await;
    assert_eq!(r.status, 404);
    let mut tx = TenantTx::begin(&app.state.pool, &cid).await.expect("tx");
    let left: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM employee_interactions), (SELECT count(*) FROM interaction_vectors)",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count");
    assert_eq!(left, (0, 0), "interactions and their vectors are deleted");
    let deleted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'employee.delete' AND entity_id = $1",
    )
    .bind(&emp)
    .fetch_one(&mut *tx)
    .await
    .expect("audit");
    assert_eq!(deleted, 1, "the deletion is audited");
    drop(tx);
    let keys = recent::employee_keys(&app.state.cache, &cid, &eid)
        .await
        .expect("redis up");
    assert!(keys.is_empty(), "cache entries removed: {keys:?}");
}

#[sqlx::test]
async fn the_employee_limit_is_enforced(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let (client, key) = app
        .onboard(json!({"name": "Small Co", "tier": "starter", "max_employees": 2}))
        .await;
    let mut ids = Vec::new();
    for role in ["one", "two"] {
        ids.push(app.hire(&client, &key, requirements(role)).await);
    }
    let r = app
        .create_employee(&client, &key, requirements("three"))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "limit_exceeded");
    assert!(r.body["error"]["message"]
        .as_str()
        .expect("message")
        .contains("limit of 2"));

    // Archived employees do not count.
    let r = app.transition(&client, &key, &ids[0], "archive").await;
    assert_eq!(r.status, 200);
    let r = app
        .create_employee(&client, &key, requirements("three"))
        .await;
    assert_eq!(r.status, 201);

    // Concurrent creations cannot overshoot the limit.
    let (client, key) = app
        .onboard(json!({"name": "Race Co", "tier": "starter", "max_employees": 3}))
        .await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let url = app.url(&format!("/api/v1/employees/clients/{client}/employees"));
            let http = app.http.clone();
            let key = key.clone();
            tokio::spawn(async move {
                http.post(url)
                    .bearer_auth(key)
                    .json(&requirements(&format!("r{i}")))
                    .send()
                    .await
                    .expect("send")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let status = t.await.expect("join");
        assert!(status == 201 || status == 409, "{status}");
        created += usize::from(status == 201);
    }
    assert_eq!(created, 3);

    // A tier's limit cannot be widened at onboarding.
    let r = app
        .send(
            "POST",
            "/api/v1/employees/clients",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "Big", "tier": "starter", "max_employees": 1000})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["fields"]["max_employees"].is_string());
}

#[sqlx::test]
async fn only_the_clients_allowed_models_can_be_chosen(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let (client, key) = app
        .onboard(
            json!({"name": "Frugal", "tier": "professional", "allowed_models": ["gpt-4o-mini"]}),
        )
        .await;

    let r = app
        .create_employee(&client, &key, requirements("analyst"))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body["model_preferences"]["primary_model"], "gpt-4o-mini",
        "default falls back to an allowed model"
    );
    let emp = r.body["id"].as_str().expect("id").to_owned();

    let mut req = requirements("analyst");
    req["model_preferences"] = json!({"primary_model": "gpt-4o"});
    let r = app.create_employee(&client, &key, req).await;
    assert_eq!(r.status, 422);
    let msg = r.body["error"]["fields"]["model_preferences.primary_model"]
        .as_str()
        .expect("field");
    assert!(
        msg.contains("gpt-4o") && msg.contains("not allowed"),
        "{msg}"
    );

    let mut req = requirements("analyst");
    req["model_preferences"] = json!({"fallback_models": ["gpt-4o-mini", "gpt-4"], "specialized_models": {"code": "gpt-4.1"}});
    let r = app.create_employee(&client, &key, req).await;
    assert_eq!(r.status, 422);
    let fields = &r.body["error"]["fields"];
    assert!(fields["model_preferences.fallback_models[1]"]
        .as_str()
        .expect("f")
        .contains("gpt-4"));
    assert!(fields["model_preferences.specialized_models.code"]
        .as_str()
        .expect("f")
        .contains("gpt-4.1"));

    let r = app
        .update_employee(
            &client,
            &key,
            &emp,
            json!({"model_preferences": {"primary_model": "gpt-4"}}),
        )
        .await;
    assert_eq!(r.status, 422);

    // A model the tier does not offer cannot be granted at onboarding.
    let r = app
        .send(
            "POST",
            "/api/v1/employees/clients",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "X", "tier": "starter", "allowed_models": ["gpt-4.1"]})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["fields"]["allowed_models[0]"]
        .as_str()
        .expect("f")
        .contains("gpt-4.1"));
}

#[sqlx::test]
async fn another_clients_resources_look_exactly_like_missing_ones(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (a, a_key) = app.onboard(json!({"name": "A", "tier": "starter"})).await;
    let (b, b_key) = app.onboard(json!({"name": "B", "tier": "starter"})).await;
    let b_emp = app.hire(&b, &b_key, requirements("secret keeper")).await;
    let missing_client = "client_000000000000000000000000";

    let not_found = app.list_employees(missing_client, &a_key, "").await;
    assert_eq!(not_found.status, 404);
    let paths = [
        ("GET", format!("/api/v1/employees/clients/{b}")),
        ("GET", format!("/api/v1/employees/clients/{b}/employees")),
        ("POST", format!("/api/v1/employees/clients/{b}/employees")),
        ("GET", emp_path(&b, &b_emp)),
        ("PATCH", emp_path(&b, &b_emp)),
        ("DELETE", emp_path(&b, &b_emp)),
        ("POST", format!("{}/pause", emp_path(&b, &b_emp))),
        ("GET", format!("{}/audit", emp_path(&b, &b_emp))),
        // A's own path with B's employee id.
        ("GET", emp_path(&a, &b_emp)),
        ("POST", format!("{}/archive", emp_path(&a, &b_emp))),
    ];
    for (method, path) in paths {
        let body = (method == "POST" || method == "PATCH").then(|| requirements("x"));
        let r = app.send(method, &path, Some(&a_key), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "not_found");
    }
    // B's employee is untouched.
    let r = app.get_employee(&b, &b_key, &b_emp).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "active");

    // Without a valid key: 401, whatever the path.
    for token in [
        None,
        Some("wfk_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef"),
        Some("nonsense"),
    ] {
        let r = app
            .send(
                "GET",
                &format!("/api/v1/employees/clients/{a}/employees"),
                token,
                None,
            )
            .await;
        assert_eq!(r.status, 401, "{token:?}");
        assert_eq!(r.body["error"]["code"], "unauthorized");
    }
    // The operator's token is valid, but reads a client's employees only under its support
    // grant (tests/it/support.rs).
    let r = app
        .send(
            "GET",
            &format!("/api/v1/employees/clients/{a}/employees"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["code"], "forbidden");
    // A client key is not an operator token.
    let r = app
        .send("GET", "/api/v1/employees/clients", Some(&a_key), None)
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .send("GET", "/api/v1/employees/clients", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["clients"].as_array().expect("clients").len(), 2);
}
