//! Support access: the operator sees clients, never their conversations, until the client's
//! owner or admin grants support access; under a grant the operator reads (employees, memory,
//! usage) and nothing more, every read lands in the client's audit trail, and revoking the
//! grant shuts the door on the very next request.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn events(export: &str) -> Vec<Value> {
    export
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[sqlx::test]
async fn the_operator_reads_a_clients_employees_only_while_the_client_grants_it(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let said = app
        .interact(&client, &key, &emp, "My order number is 4471")
        .await;
    assert_eq!(said.status, 200, "{}", said.body);
    let employee_path = emp_path(&client, &emp);
    let support = format!("/api/v1/employees/clients/{client}/support-access");
    let op = Some(ADMIN_TOKEN);

    // The operator sees the client itself, but not what its employees remember.
    let seen = app
        .send(
            "GET",
            &format!("/api/v1/employees/clients/{client}"),
            op,
            None,
        )
        .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let before = app
        .send("GET", &format!("{employee_path}/memory"), op, None)
        .await;
    assert_eq!(before.status, 403, "{}", before.body);
    let why = before.body["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("support access"), "{why}");
    assert_eq!(
        app.send("GET", &support, op, None).await.status,
        403,
        "nor whether support access is granted"
    );

    // The client grants it, bounded in time and with a reason.
    let bad = app
        .send("POST", &support, Some(&key), Some(json!({"hours": 0})))
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body["error"]["fields"]["hours"].is_string(),
        "{}",
        bad.body
    );
    let too_long = app
        .send("POST", &support, Some(&key), Some(json!({"hours": 169})))
        .await;
    assert_eq!(too_long.status, 422);
    let granted = app
        .send(
            "POST",
            &support,
            Some(&key),
            Some(json!({"hours": 2, "reason": "ticket 7: wrong answers"})),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let expires = chrono::DateTime::parse_from_rfc3339(
        granted.body["expires_at"].as_str().expect("expires_at"),
    )
    .expect("a time");
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((115..=120).contains(&hours), "{hours} minutes");
    let shown = app.send("GET", &support, Some(&key), None).await;
    assert_eq!(shown.body["grant"]["reason"], "ticket 7: wrong answers");

    // Now the operator reads the employee, its memory and its usage...
    let memory = app
        .send("GET", &format!("{employee_path}/memory"), op, None)
        .await;
    assert_eq!(memory.status, 200, "{}", memory.body);
    assert!(
        memory_contents(&memory).iter().any(|m| m.contains("4471")),
        "{}",
        memory.body
    );
    assert_eq!(app.send("GET", &employee_path, op, None).await.status, 200);
    assert_eq!(
        app.send("GET", &format!("{employee_path}/usage"), op, None)
            .await
            .status,
        200
    );
    // ...and changes nothing, talks to nobody, and sees no keys, people or audit chain.
    for (method, path, body) in [
        (
            "PATCH",
            employee_path.clone(),
            Some(json!({"name": "Hijacked"})),
        ),
        (
            "POST",
            format!("{employee_path}/interact"),
            Some(json!({"message": "hello"})),
        ),
        (
            "DELETE",
            format!("{employee_path}/memory?subject=order"),
            None,
        ),
        ("POST", format!("{employee_path}/pause"), None),
        (
            "GET",
            format!("/api/v1/employees/clients/{client}/api-keys"),
            None,
        ),
        (
            "GET",
            format!("/api/v1/employees/clients/{client}/members"),
            None,
        ),
        (
            "GET",
            format!("/api/v1/employees/clients/{client}/audit/export"),
            None,
        ),
        ("DELETE", support.clone(), None),
    ] {
        let r = app.send(method, &path, op, body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
    }
    let still = app.get(&employee_path, &key).await;
    assert_ne!(still.body["name"], "Hijacked");

    // The client's audit trail shows the grant and each read, with what was read.
    let trail = events(&app.audit_export(&client, &key).await);
    let grant = trail
        .iter()
        .find(|e| e["action"] == "support_access.grant")
        .expect("the grant is audited");
    assert_eq!(grant["after"]["reason"], "ticket 7: wrong answers");
    let uses: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "support_access.use")
        .collect();
    assert_eq!(uses.len(), 3, "the memory, the employee and its usage");
    assert!(uses.iter().all(|e| e["actor"] == "operator"));
    assert!(
        uses.iter()
            .any(|e| e["after"]["path"] == format!("{employee_path}/memory")),
        "{uses:#?}"
    );
    let verdict = app
        .get(
            &format!("/api/v1/employees/clients/{client}/audit/verify"),
            &key,
        )
        .await;
    assert_eq!(verdict.body["ok"], true, "{}", verdict.body);

    // Ended by the client: the operator's very next request is refused.
    assert_eq!(
        app.send("DELETE", &support, Some(&key), None).await.status,
        204
    );
    let after = app.send("GET", &employee_path, op, None).await;
    assert_eq!(after.status, 403, "{}", after.body);
    assert_eq!(
        app.send("GET", &support, Some(&key), None).await.body["grant"],
        Value::Null
    );
    let again = app.send("DELETE", &support, Some(&key), None).await;
    assert_eq!(again.status, 404, "nothing left to end");
    let trail = events(&app.audit_export(&client, &key).await);
    assert!(trail.iter().any(|e| e["action"] == "support_access.revoke"));
}

#[sqlx::test]
async fn a_grant_opens_its_own_client_alone_and_members_cannot_grant(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (a, a_key) = app
        .onboard(json!({"name": "Alpha", "tier": "professional"}))
        .await;
    let (b, b_key) = app
        .onboard(json!({"name": "Beta", "tier": "professional"}))
        .await;
    let a_emp = app.hire(&a, &a_key, requirements("analyst")).await;
    let b_emp = app.hire(&b, &b_key, requirements("analyst")).await;
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{b}/support-access"),
            Some(&b_key),
            Some(json!({"hours": 1})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        app.send("GET", &emp_path(&b, &b_emp), Some(ADMIN_TOKEN), None)
            .await
            .status,
        200
    );
    // Beta's grant says nothing about Alpha, even with Beta's ids in Alpha's path.
    assert_eq!(
        app.send("GET", &emp_path(&a, &a_emp), Some(ADMIN_TOKEN), None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.send("GET", &emp_path(&a, &b_emp), Some(ADMIN_TOKEN), None)
            .await
            .status,
        403
    );
    // A member may not hand out access to the client's data.
    let member = app
        .invite_and_accept(
            &a,
            &a_key,
            json!({"role": "member", "employee_ids": [a_emp]}),
            "member@alpha.example",
            "a long enough password",
        )
        .await;
    let r = app
        .http
        .post(app.url(&format!("/api/v1/employees/clients/{a}/support-access")))
        .header(
            "cookie",
            format!("{}={}", workforce::accounts::SESSION_COOKIE, member.session),
        )
        .json(&json!({"hours": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
}
