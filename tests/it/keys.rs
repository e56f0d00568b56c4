//! Scoped API keys, keys bound to one employee, revocation and client suspension that take
//! effect on every instance at once.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

async fn new_key(app: &TestApp, client: &str, admin_key: &str, body: Value) -> Response {
    app.send(
        "POST",
        &format!("/api/v1/employees/clients/{client}/api-keys"),
        Some(admin_key),
        Some(body),
    )
    .await
}

#[sqlx::test]
async fn a_key_does_what_its_scopes_allow_and_a_bound_key_talks_to_its_employee_alone(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, admin, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let mut req = requirements("second");
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let other_emp = app.hire(&client, &admin, req).await;

    let r = new_key(
        &app,
        &client,
        &admin,
        json!({"name": "reporting", "scopes": ["employees:read"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let reader = r.body["api_key"].as_str().expect("key").to_owned();
    assert!(reader.starts_with(r.body["prefix"].as_str().expect("prefix")));
    assert_eq!(r.body["scopes"], json!(["employees:read"]));

    assert_eq!(app.list_employees(&client, &reader, "").await.status, 200);
    assert_eq!(app.get_employee(&client, &reader, &emp).await.status, 200);
    let r = app
        .create_employee(&client, &reader, requirements("x"))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("employees:write"));
    assert_eq!(app.interact(&client, &reader, &emp, "hi").await.status, 403);
    let r = app
        .get(
            &format!("/api/v1/employees/clients/{client}/api-keys"),
            &reader,
        )
        .await;
    assert_eq!(r.status, 403, "managing keys takes admin");

    // A website widget's key: it may talk to one employee, and do nothing else.
    let r = new_key(
        &app,
        &client,
        &admin,
        json!({"name": "widget", "scopes": ["interact"], "employee_id": emp}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let widget = r.body["api_key"].as_str().expect("key").to_owned();
    assert_eq!(
        app.interact(&client, &widget, &emp, "hello").await.status,
        200
    );
    let r = app.interact(&client, &widget, &other_emp, "hello").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        app.get_employee(&client, &widget, &emp).await.status,
        403,
        "no scope to read"
    );
    assert_eq!(app.list_employees(&client, &widget, "").await.status, 403);

    // The list names every key, never a secret; the used ones say when.
    let r = app
        .get(
            &format!("/api/v1/employees/clients/{client}/api-keys"),
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.body.as_array().expect("list");
    assert_eq!(keys.len(), 3);
    let text = r.body.to_string();
    for k in [&admin, &reader, &widget] {
        assert!(
            !text.contains(k.rsplit_once('_').expect("shape").1),
            "no secret is listed"
        );
    }
    let widget_row = keys.iter().find(|k| k["name"] == "widget").expect("widget");
    assert_eq!(widget_row["employee_id"], emp.as_str());
    eventually(std::time::Duration::from_secs(5), || async {
        let r = app
            .get(
                &format!("/api/v1/employees/clients/{client}/api-keys"),
                &admin,
            )
            .await;
        r.body
            .as_array()
            .and_then(|ks| ks.iter().find(|k| k["name"] == "widget"))
            .is_some_and(|k| k["last_used_at"].is_string())
    })
    .await;
}

#[sqlx::test]
async fn keys_are_refused_with_a_reason_for_each_wrong_field(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, admin) = app
        .onboard(json!({"name": "Acme", "tier": "starter"}))
        .await;
    let (other, other_key) = app
        .onboard(json!({"name": "Other", "tier": "starter"}))
        .await;
    let foreign = app.hire(&other, &other_key, requirements("x")).await;
    let r = new_key(
        &app,
        &client,
        &admin,
        json!({"name": "x", "scopes": ["root"]}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["scopes[0]"].is_string(),
        "{}",
        r.body
    );
    let r = new_key(&app, &client, &admin, json!({"name": " ", "scopes": []})).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["fields"]["name"].is_string(), "{}", r.body);
    assert!(
        r.body["error"]["fields"]["scopes"].is_string(),
        "{}",
        r.body
    );
    let r = new_key(
        &app,
        &client,
        &admin,
        json!({"name": "x", "scopes": ["interact"], "employee_id": foreign}),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["error"]["fields"]["employee_id"].is_string(),
        "{}",
        r.body
    );
    let r = app
        .send(
            "DELETE",
            &format!("/api/v1/employees/clients/{client}/api-keys/0123456789abcdef"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[sqlx::test]
async fn a_revoked_key_and_a_suspended_client_fail_on_every_instance_at_once(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let one = spawn_app(owner.clone()).await;
    let two = spawn_app(owner).await;
    let (client, admin) = one
        .onboard(json!({"name": "Acme", "tier": "starter"}))
        .await;
    let r = new_key(
        &one,
        &client,
        &admin,
        json!({"name": "ci", "scopes": ["employees:read"]}),
    )
    .await;
    let key = r.body["api_key"].as_str().expect("key").to_owned();
    let key_id = r.body["id"].as_str().expect("id").to_owned();
    // Both instances have verified (and cached) both keys.
    for app in [&one, &two] {
        assert_eq!(app.list_employees(&client, &key, "").await.status, 200);
        assert_eq!(app.list_employees(&client, &admin, "").await.status, 200);
    }
    let r = one
        .send(
            "DELETE",
            &format!("/api/v1/employees/clients/{client}/api-keys/{key_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    eventually(std::time::Duration::from_millis(500), || async {
        two.list_employees(&client, &key, "").await.status == 401
    })
    .await;
    assert_eq!(one.list_employees(&client, &key, "").await.status, 401);

    // The operator suspends the client: its keys stop on both instances; nothing is deleted.
    let emp = one.hire(&client, &admin, requirements("analyst")).await;
    let r = one
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/suspend"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "suspended");
    for app in [&one, &two] {
        eventually(std::time::Duration::from_millis(500), || async {
            app.get_employee(&client, &admin, &emp).await.status == 403
        })
        .await;
    }
    let r = one
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/reactivate"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        two.get_employee(&client, &admin, &emp).await.status,
        200,
        "all is still there"
    );
    let r = one
        .send(
            "POST",
            "/api/v1/employees/clients/wfc_0000000000000000000000/suspend",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        one.send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/suspend"),
            Some(&admin),
            None
        )
        .await
        .status,
        401,
        "a client cannot suspend itself"
    );
}
