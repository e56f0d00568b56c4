//! The attack suite. Every REST route (listed by the router itself, `startup::api_route_list`)
//! and every server function (listed by the server-function registry the router is built from)
//! is tried with credentials that must not work: none, a malformed key, another client's key,
//! another client's ids, a key without the scope, a key bound to another employee, a revoked
//! key, a suspended client's key, a member's session on routes or employees not theirs, and a
//! cross-site request with a signed-in browser's cookie (a key's, a person's session).
//! Each attempt must get the expected status, and the database must be exactly as it was.

use crate::helpers::*;
use http::Method;
use leptos::server_fn::ServerFn;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, Row};
use workforce::accounts::server::policy::required_scope;
use workforce::accounts::server::rest::PUBLIC_ROUTES;
use workforce::accounts::{Scope, CLIENT_COOKIE, SESSION_COOKIE, SUPPORT_SCOPES};

/// A digest of every table's rows (for api_keys, sessions and users, all but the times of last
/// use, which a real key or session updates).
async fn database_digest(db: &mut PgConnection) -> Vec<(String, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut *db)
    .await
    .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let rows = match t.as_str() {
            "api_keys" => "(SELECT client_id, id, key_hash, label, scopes, employee_id, created_at, revoked_at FROM api_keys)".to_owned(),
            "sessions" => "(SELECT id_digest, user_id, client_id, created_at, expires_at, revoked_at FROM sessions)".to_owned(),
            "users" => "(SELECT id, client_id, email, password_hash, role, created_at FROM users)".to_owned(),
            _ => format!("\"{t}\""),
        };
        let sql = format!(
            "SELECT coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM {rows} r"
        );
        // Table names come from pg_tables, not from input.
        let digest: String = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *db)
            .await
            .expect("digest")
            .get(0);
        out.push((t, digest));
    }
    out
}

struct World {
    a: String,
    a_admin: String,
    a_emp: String,
    a_emp2: String,
    a_reader: String,
    a_reader_id: String,
    a_widget: String,
    a_revoked: String,
    /// A member's session, given `a_emp` alone; the member's id.
    a_member: String,
    a_member_id: String,
    a_doc: String,
    b: String,
    b_user_id: String,
    b_admin: String,
    b_emp: String,
    b_key_id: String,
    c: String,
    c_admin: String,
    c_emp: String,
}

async fn key(
    app: &TestApp,
    client: &str,
    admin: &str,
    body: serde_json::Value,
) -> (String, String) {
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/api-keys"),
            Some(admin),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["api_key"].as_str().expect("key").to_owned(),
        r.body["id"].as_str().expect("id").to_owned(),
    )
}

async fn world(app: &TestApp, mcp_url: &str) -> World {
    let (a, a_admin) = app
        .onboard(json!({"name": "Alpha", "tier": "professional"}))
        .await;
    let (b, b_admin) = app
        .onboard(json!({"name": "Beta", "tier": "professional"}))
        .await;
    let (c, c_admin) = app
        .onboard(json!({"name": "Gamma", "tier": "professional"}))
        .await;
    let a_emp = app.hire(&a, &a_admin, requirements("analyst")).await;
    let a_emp2 = app.hire(&a, &a_admin, requirements("writer")).await;
    let b_emp = app.hire(&b, &b_admin, requirements("analyst")).await;
    let c_emp = app.hire(&c, &c_admin, requirements("analyst")).await;
    // A's HTTP tool (with a secret header): B and C must neither see, change nor call it.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{a}/tools"),
            Some(&a_admin),
            Some(crate::tools::order_status_tool(
                "https://tools.alpha.example",
            )),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A's knowledge: a collection with a document.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{a}/knowledge"),
            Some(&a_admin),
            Some(json!({"name": "handbook"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (ct, body) =
        crate::knowledge::multipart(&[("file", Some("rules.txt"), None, b"Alpha's rules.")]);
    let r = app
        .send_raw(
            "POST",
            &format!("/api/v1/employees/clients/{a}/knowledge/handbook/documents"),
            Some(&a_admin),
            &ct,
            body,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let a_doc = r.body["id"].as_str().expect("document id").to_owned();
    // Ingested before the attempts start, so the database stands still while they run.
    let doc_path = format!("/api/v1/employees/clients/{a}/knowledge/handbook/documents/{a_doc}");
    eventually(std::time::Duration::from_secs(30), || async {
        let r = app.get(&doc_path, &a_admin).await;
        if r.body["state"] == "ready" {
            Ok(())
        } else {
            Err(format!("A's document is not ingested: {}", r.body))
        }
    })
    .await;
    // A's MCP server (with a token): likewise.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{a}/mcp-servers"),
            Some(&a_admin),
            Some(json!({"name": "orders", "url": mcp_url, "bearer_token": "alpha-mcp-token"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (a_reader, a_reader_id) = key(
        app,
        &a,
        &a_admin,
        json!({"name": "r", "scopes": ["employees:read"]}),
    )
    .await;
    let (a_widget, _) = key(
        app,
        &a,
        &a_admin,
        json!({"name": "w", "scopes": ["interact", "memory:read"], "employee_id": a_emp}),
    )
    .await;
    let (a_revoked, revoked_id) = key(
        app,
        &a,
        &a_admin,
        json!({"name": "old", "scopes": ["admin"]}),
    )
    .await;
    let r = app
        .send(
            "DELETE",
            &format!("/api/v1/employees/clients/{a}/api-keys/{revoked_id}"),
            Some(&a_admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let (_, b_key_id) = key(app, &b, &b_admin, json!({"name": "b", "scopes": ["admin"]})).await;
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{c}/suspend"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let (a_member, a_member_id) = person(
        app,
        &a,
        &a_admin,
        json!({"role": "member", "employee_ids": [a_emp]}),
        "member@alpha.example",
    )
    .await;
    let (_, b_user_id) = person(
        app,
        &b,
        &b_admin,
        json!({"role": "owner"}),
        "owner@beta.example",
    )
    .await;
    // Beta lets the operator read its employees; Alpha does not.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{b}/support-access"),
            Some(&b_admin),
            Some(json!({"hours": 2, "reason": "attack suite"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    World {
        a_doc,
        a,
        a_admin,
        a_emp,
        a_emp2,
        a_reader,
        a_reader_id,
        a_widget,
        a_revoked,
        a_member,
        a_member_id,
        b,
        b_user_id,
        b_admin,
        b_emp,
        b_key_id,
        c,
        c_admin,
        c_emp,
    }
}

/// Invites a person to `client` as `invite` says and accepts: (their session, their id).
async fn person(
    app: &TestApp,
    client: &str,
    admin: &str,
    invite: serde_json::Value,
    email: &str,
) -> (String, String) {
    let p = app
        .invite_and_accept(client, admin, invite, email, "a long enough password")
        .await;
    (p.session, p.id)
}

/// A route's path with its parameters filled in (`ids`: client, employee, key, person).
/// `document`: A's document (any client's paths name it: on another client's it is not there).
fn fill(template: &str, document: &str, ids: [&str; 4]) -> String {
    let [client, employee, key_id, user_id] = ids;
    template
        .replace("{client_id}", client)
        .replace("{employee_id}", employee)
        .replace("{key_id}", key_id)
        .replace("{user_id}", user_id)
        .replace("{action}", "pause")
        .replace("{tool_name}", "order_status")
        .replace("{server_name}", "orders")
        .replace("{collection}", "handbook")
        .replace("{document_id}", document)
}

enum Credential<'a> {
    None,
    Bearer(&'a str),
    /// A person's session cookie, from the site itself.
    Session(&'a str),
    /// A signed-in browser's cookie (name, value), on a request from another site.
    CrossSiteCookie(&'a str, &'a str),
}

async fn attempt(app: &TestApp, method: &Method, path: &str, cred: Credential<'_>) -> u16 {
    let mut req = app
        .http
        .request(method.clone(), app.url(path))
        .header("content-type", "application/json")
        .body("{}");
    match cred {
        Credential::None => {}
        Credential::Bearer(k) => req = req.bearer_auth(k),
        Credential::Session(s) => req = req.header("cookie", format!("{SESSION_COOKIE}={s}")),
        Credential::CrossSiteCookie(name, value) => {
            req = req
                .header("cookie", format!("{name}={value}"))
                .header("origin", "https://evil.example")
                .header("sec-fetch-site", "cross-site");
        }
    }
    req.send().await.expect("request").status().as_u16()
}

#[sqlx::test]
async fn no_attempt_with_wrong_credentials_succeeds_or_changes_anything(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mcp = stub::mcp::McpStub::start(None).await;
    let allow = mcp
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let app = spawn_app_with(owner.clone(), |s| s.file.outbound.allow = vec![allow]).await;
    let w = world(&app, &mcp.url).await;
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    let before = database_digest(&mut db).await;

    let routes = workforce::platform::startup::api_route_list();
    assert!(
        routes.len() >= 20,
        "the router lists its routes: {routes:?}"
    );
    let client_prefix = "/api/v1/employees/clients/{client_id}";
    let mut attempts = 0usize;
    let mut failures = Vec::new();
    let mut check = |what: String, got: u16, want: &[u16]| {
        attempts += 1;
        if !want.contains(&got) {
            failures.push(format!("{what}: got {got}, want {want:?}"));
        }
    };
    for (method, template) in &routes {
        let own = fill(
            template,
            &w.a_doc,
            [&w.a, &w.a_emp, &w.a_reader_id, &w.a_member_id],
        );
        let label = |who: &str| format!("{method} {template} [{who}]");
        // Signing in and accepting an invite are open to anyone; an empty form is refused.
        let public = PUBLIC_ROUTES
            .iter()
            .any(|r| format!("/api/v1{r}") == **template && *method == Method::POST);
        let denied: &[u16] = if public { &[422] } else { &[401] };
        check(
            label("none"),
            attempt(&app, method, &own, Credential::None).await,
            denied,
        );
        check(
            label("malformed key"),
            attempt(&app, method, &own, Credential::Bearer("wfk_zz_notakey")).await,
            denied,
        );
        check(
            label("malformed session"),
            attempt(&app, method, &own, Credential::Session("not-a-session")).await,
            denied,
        );
        if template.starts_with("/api/v1/auth/") {
            // A person's own session: nothing to attack but its theft from another site.
            if *method != Method::GET {
                check(
                    label("a cross-site request with a person's session"),
                    attempt(
                        &app,
                        method,
                        &own,
                        Credential::CrossSiteCookie(SESSION_COOKIE, &w.a_member),
                    )
                    .await,
                    &[403],
                );
            }
            continue;
        }
        let operator_route = template == "/api/v1/employees/clients"
            || template.ends_with("/suspend")
            || template.ends_with("/reactivate")
            || template.ends_with("/limits");
        if operator_route {
            check(
                label("a client's key on an operator route"),
                attempt(&app, method, &own, Credential::Bearer(&w.a_admin)).await,
                &[401],
            );
            continue;
        }
        assert!(
            template.starts_with(client_prefix),
            "route {method} {template} is not covered by the attack suite: say who may use it"
        );
        // Another client's key on this client's path, and this client's key on the other's ids.
        check(
            label("another client's key"),
            attempt(&app, method, &own, Credential::Bearer(&w.b_admin)).await,
            &[404],
        );
        let foreign = if ["{employee_id}", "{key_id}", "{user_id}"]
            .iter()
            .any(|p| template.contains(p))
        {
            fill(
                template,
                &w.a_doc,
                [&w.a, &w.b_emp, &w.b_key_id, &w.b_user_id],
            )
        } else {
            fill(
                template,
                &w.a_doc,
                [&w.b, &w.b_emp, &w.b_key_id, &w.b_user_id],
            )
        };
        check(
            label("another client's ids"),
            attempt(&app, method, &foreign, Credential::Bearer(&w.a_admin)).await,
            &[404],
        );
        let scope = required_scope(method, template);
        // The operator reads a client's employees only under the client's support grant, and
        // even then changes nothing.
        // (The operator sees every client itself: `GET …/clients/{client_id}`.)
        if template != client_prefix {
            check(
                label("the operator, without the client's support grant"),
                attempt(&app, method, &own, Credential::Bearer(ADMIN_TOKEN)).await,
                &[403],
            );
        }
        if !SUPPORT_SCOPES.contains(&scope) {
            let granted = fill(
                template,
                &w.a_doc,
                [&w.b, &w.b_emp, &w.b_key_id, &w.b_user_id],
            );
            check(
                label("the operator, under a support grant, beyond reading"),
                attempt(&app, method, &granted, Credential::Bearer(ADMIN_TOKEN)).await,
                &[403],
            );
        }
        if scope != Scope::EmployeesRead {
            check(
                label("a key without the scope"),
                attempt(&app, method, &own, Credential::Bearer(&w.a_reader)).await,
                &[403],
            );
        }
        let on_other_employee = fill(
            template,
            &w.a_doc,
            [&w.a, &w.a_emp2, &w.a_reader_id, &w.a_member_id],
        );
        check(
            label("a key bound to another employee"),
            attempt(
                &app,
                method,
                &on_other_employee,
                Credential::Bearer(&w.a_widget),
            )
            .await,
            &[403],
        );
        check(
            label("a revoked key"),
            attempt(&app, method, &own, Credential::Bearer(&w.a_revoked)).await,
            &[401],
        );
        // A member may read, chat with and recall the employees given to them; anything else,
        // or any other employee, is refused (the list of employees shows theirs alone).
        let listing = *method == Method::GET && template.ends_with("/employees");
        if !listing {
            check(
                label("a member's session, on an employee not theirs"),
                attempt(
                    &app,
                    method,
                    &on_other_employee,
                    Credential::Session(&w.a_member),
                )
                .await,
                &[403],
            );
        }
        if ![Scope::EmployeesRead, Scope::Interact, Scope::MemoryRead].contains(&scope) {
            check(
                label("a member's session, without the permission"),
                attempt(&app, method, &own, Credential::Session(&w.a_member)).await,
                &[403],
            );
        }
        let suspended = fill(
            template,
            &w.a_doc,
            [&w.c, &w.c_emp, &w.a_reader_id, &w.a_member_id],
        );
        check(
            label("a suspended client's key"),
            attempt(&app, method, &suspended, Credential::Bearer(&w.c_admin)).await,
            &[403],
        );
        if *method != Method::GET {
            check(
                label("a cross-site request with a signed-in cookie"),
                attempt(
                    &app,
                    method,
                    &own,
                    Credential::CrossSiteCookie(CLIENT_COOKIE, &w.a_admin),
                )
                .await,
                &[403],
            );
            check(
                label("a cross-site request with a person's session"),
                attempt(
                    &app,
                    method,
                    &own,
                    Credential::CrossSiteCookie(SESSION_COOKIE, &w.a_member),
                )
                .await,
                &[403],
            );
        }
    }

    // Server functions: those that need a signed-in client or operator refuse a caller without
    // one; every one that changes state refuses a cross-site form post from a signed-in browser.
    // Open to anyone: the session check, signing in and out, the tier catalogue (the
    // platform's, no client's data; the onboarding form loads it before the operator signs in)
    // and the API reference.
    let public = [
        <workforce::clients::fns::Tiers as ServerFn>::PATH,
        <workforce::accounts::fns::CurrentSession as ServerFn>::PATH,
        <workforce::accounts::fns::SignOut as ServerFn>::PATH,
        <workforce::accounts::fns::OperatorSignIn as ServerFn>::PATH,
        <workforce::accounts::fns::ClientSignIn as ServerFn>::PATH,
        <workforce::accounts::fns::SignIn as ServerFn>::PATH,
        <workforce::accounts::fns::AcceptInvite as ServerFn>::PATH,
        <workforce::accounts::fns::SignOutEverywhere as ServerFn>::PATH,
        // The REST API's reference (what /api/v1/openapi.json serves to anyone).
        <workforce::app::api_docs::LoadApiReference as ServerFn>::PATH,
    ];
    let fns: Vec<(&str, Method)> = leptos::server_fn::axum::server_fn_paths().collect();
    assert!(
        fns.len() >= 8,
        "the registry lists the server functions: {fns:?}"
    );
    for (path, method) in &fns {
        let form = |req: reqwest::RequestBuilder| {
            req.header("content-type", "application/x-www-form-urlencoded")
                .body(format!("client_id={}&employee_id={}", w.a, w.a_emp))
        };
        let res = form(app.http.request(method.clone(), app.url(path)))
            .send()
            .await
            .expect("call");
        let status = res.status().as_u16();
        if !public.contains(path) {
            check(format!("server fn {path} [none]"), status, &[400, 401, 403]);
        }
        if *method == Method::POST {
            let res = form(app.http.post(app.url(path)))
                .header("cookie", format!("{CLIENT_COOKIE}={}", w.a_admin))
                .header("origin", "https://evil.example")
                .send()
                .await
                .expect("call");
            check(
                format!("server fn {path} [cross-site form post]"),
                res.status().as_u16(),
                &[403],
            );
        }
    }

    let after = database_digest(&mut db).await;
    db.close().await.ok();
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.as_str())
        .collect();
    println!(
        "attack suite: {attempts} attempts over {} REST routes and {} server functions",
        routes.len(),
        fns.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {attempts} attempts got the wrong answer:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(changed.is_empty(), "attempts changed tables: {changed:?}");
}
