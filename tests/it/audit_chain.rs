//! The audit trail as a hash chain a client can verify: through the API, from an export, and
//! with a corrupted row pointed at; an action whose audit row cannot be written is not done.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

async fn export(app: &TestApp, client: &str, key: &str) -> Vec<Value> {
    app.audit_export(client, key)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[sqlx::test]
async fn the_trail_is_a_verifiable_chain_and_a_corrupted_row_is_pointed_at(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner.clone()).await;
    let (client, key) = app
        .onboard(json!({"name": "Acme", "tier": "professional"}))
        .await;
    let (other, other_key) = app
        .onboard(json!({"name": "Other", "tier": "professional"}))
        .await;
    let emp = app.hire(&client, &key, requirements("analyst")).await;
    app.hire(&other, &other_key, requirements("analyst")).await;
    // A change made with a request id of the caller's choosing.
    let res = app
        .http
        .patch(app.url(&emp_path(&client, &emp)))
        .bearer_auth(&key)
        .header("x-request-id", "req-audit-1")
        .json(&json!({"role": "senior analyst"}))
        .send()
        .await
        .expect("update");
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.transition(&client, &key, &emp, "pause").await.status,
        200
    );

    let verify_path = format!("/api/v1/employees/clients/{client}/audit/verify");
    let v = app.get(&verify_path, &key).await;
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.body["ok"], true, "{}", v.body);
    // onboard, first key, create, update, pause.
    assert_eq!(v.body["events"], 5, "{}", v.body);

    let lines = export(&app, &client, &key).await;
    assert_eq!(lines.len(), 5);
    assert!(
        lines.iter().all(|l| l["client_id"] == client.as_str()),
        "only this client's events"
    );
    assert_eq!(lines[0]["prev_hash"], "");
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    assert_eq!(v.body["head"], lines[4]["hash"]);
    let update = lines
        .iter()
        .find(|l| l["action"] == "employee.update")
        .expect("the update");
    assert_eq!(update["request_id"], "req-audit-1");
    assert_eq!(update["ip"], "127.0.0.1");

    // The database's owner edits a row: verification names it.
    let target = update["id"].as_i64().expect("id");
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    sqlx::query(
        "UPDATE audit_events SET after = jsonb_set(after, '{role}', '\"intern\"') WHERE id = $1",
    )
    .bind(target)
    .execute(&mut db)
    .await
    .expect("tamper");
    let v = app.get(&verify_path, &key).await;
    assert_eq!(v.body["ok"], false, "{}", v.body);
    assert_eq!(v.body["first_broken"]["id"], target, "{}", v.body);
    assert!(v.body["first_broken"]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("changed"));
    // The other client's chain is untouched.
    let v = app
        .get(
            &format!("/api/v1/employees/clients/{other}/audit/verify"),
            &other_key,
        )
        .await;
    assert_eq!(v.body["ok"], true, "{}", v.body);

    // The export verifies offline with the shipped command, and fails on the tampered row.
    let file = std::env::temp_dir().join(format!("audit-{client}.jsonl"));
    let text: String = export(&app, &client, &key)
        .await
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, text).expect("write export");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_workforce"))
        .args(["audit", "verify"])
        .arg(&file)
        .output()
        .expect("workforce audit verify");
    std::fs::remove_file(&file).ok();
    assert!(!out.status.success());
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("verdict");
    assert_eq!(verdict["first_broken"]["id"], target, "{verdict}");
}

#[sqlx::test]
async fn an_action_whose_audit_row_cannot_be_written_is_not_done(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner.clone()).await;
    let (client, key) = app
        .onboard(json!({"name": "Acme", "tier": "professional"}))
        .await;
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    sqlx::query("REVOKE INSERT ON audit_events FROM workforce_app")
        .execute(&mut db)
        .await
        .expect("revoke");
    let r = app
        .create_employee(&client, &key, requirements("analyst"))
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    let r = app.list_employees(&client, &key, "").await;
    assert_eq!(
        r.body,
        json!([]),
        "the employee was not created: {}",
        r.body
    );
}

#[sqlx::test]
async fn every_turn_is_in_the_trail_by_hashes_never_by_content(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    use sha2::{Digest, Sha256};
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let said = "my card ending 4111 was charged twice";
    let r = app.interact(&client, &key, &emp, said).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let interaction = r.body["interaction_id"].as_str().expect("id");
    let answer = r.body["message"].as_str().expect("answer");

    let lines = export(&app, &client, &key).await;
    let turn = lines
        .iter()
        .find(|l| l["action"] == "interaction.create")
        .expect("the turn's row");
    assert_eq!(turn["entity_type"], "interaction");
    assert_eq!(turn["entity_id"], interaction);
    let after = &turn["after"];
    assert_eq!(after["employee_id"], emp.as_str());
    assert_eq!(after["status"], "completed");
    assert_eq!(after["model"], "gpt-4o-mini");
    let sha = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    assert_eq!(after["message_sha256"], sha(said));
    assert_eq!(after["response_sha256"], sha(answer));
    let text = app.audit_export(&client, &key).await;
    assert!(
        !text.contains(said) && !text.contains(answer),
        "no content in the trail"
    );
    let v = app
        .get(
            &format!("/api/v1/employees/clients/{client}/audit/verify"),
            &key,
        )
        .await;
    assert_eq!(v.body["ok"], true, "{}", v.body);
}
