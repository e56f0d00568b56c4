//! People: invites, sign-in with a password, sessions in a cookie, and the roles owner, admin
//! and member, each enforced on every request as soon as it changes.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const PASSWORD: &str = "correct horse battery staple";

/// A response with the session cookie it set, if any.
struct Reply {
    status: u16,
    body: Value,
    /// The `wf_session` value a `Set-Cookie` gave (empty when it removed the cookie).
    session: Option<String>,
    set_cookie: Vec<String>,
}

/// Sends a request carrying `session` (a `wf_session` cookie) when given.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.http.request(method, app.url(path));
    if let Some(s) = session {
        req = req.header("cookie", format!("wf_session={s}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let set_cookie: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let session = session_cookie(res.headers());
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        session,
        set_cookie,
    }
}

/// `field` of each object in the array `list`.
fn field_of_each<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e[field].as_str())
        .collect()
}

fn client_path(client: &str, tail: &str) -> String {
    format!("/api/v1/employees/clients/{client}{tail}")
}

/// Invites someone with `body` using `by` (an API key, or a person's session).
async fn invite(app: &TestApp, client: &str, by: By<'_>, body: Value) -> Reply {
    let path = client_path(client, "/invites");
    match by {
        By::Key(key) => {
            let r = app.send("POST", &path, Some(key), Some(body)).await;
            Reply {
                status: r.status,
                body: r.body,
                session: None,
                set_cookie: vec![],
            }
        }
        By::Session(s) => call(app, "POST", &path, Some(s), Some(body)).await,
    }
}

#[derive(Clone, Copy)]
enum By<'a> {
    Key(&'a str),
    Session(&'a str),
}

/// Accepts the invite in `created` as `email`; returns the new session.
async fn accept(app: &TestApp, created: &Reply, email: &str) -> String {
    assert_eq!(created.status, 201, "invite: {}", created.body);
    let token = created.body["token"].as_str().expect("token");
    assert_eq!(
        created.body["url"].as_str().expect("url"),
        format!("/invite#{token}")
    );
    let r = call(
        app,
        "POST",
        "/api/v1/auth/invites/accept",
        None,
        Some(json!({"token": token, "email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 201, "accept: {}", r.body);
    assert_eq!(r.body["email"], email);
    let cookie = r.set_cookie.join("\n");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    r.session.filter(|s| !s.is_empty()).expect("session cookie")
}

async fn get_as(app: &TestApp, path: &str, session: &str) -> Reply {
    call(app, "GET", path, Some(session), None).await
}

async fn status(app: &TestApp, path: &str, session: &str) -> u16 {
    get_as(app, path, session).await.status
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Reply {
    call(
        app,
        "POST",
        "/api/v1/auth/sessions",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

#[sqlx::test]
async fn invited_people_sign_in_and_do_what_their_role_allows_and_no_more(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, admin_key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let mut req = requirements("second");
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let other_emp = app.hire(&client, &admin_key, req).await;

    // The admin key invites an admin; the link works once.
    let created = invite(&app, &client, By::Key(&admin_key), json!({"role": "admin"})).await;
    let ada = accept(&app, &created, "ada@example.com").await;
    let again = call(
        &app,
        "POST",
        "/api/v1/auth/invites/accept",
        None,
        Some(json!({"token": created.body["token"], "email": "eve@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(again.status, 404, "an invite is used once: {}", again.body);

    let me = get_as(&app, "/api/v1/auth/sessions/current", &ada).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["client_id"], client.as_str());

    // An admin manages the client, but grants no role as high as their own.
    let r = get_as(&app, &client_path(&client, "/members"), &ada).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = invite(&app, &client, By::Session(&ada), json!({"role": "admin"})).await;
    assert_eq!(r.status, 403, "an admin may not make admins: {}", r.body);
    let created = invite(
        &app,
        &client,
        By::Session(&ada),
        json!({"role": "member", "employee_ids": [emp]}),
    )
    .await;
    let bob = accept(&app, &created, "bob@example.com").await;
    let bob_id = get_as(&app, "/api/v1/auth/sessions/current", &bob)
        .await
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // A member chats with the employees given to them, and nothing else.
    let r = get_as(&app, &emp_path(&client, &emp), &bob).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &app,
        "POST",
        &format!("{}/interact", emp_path(&client, &emp)),
        Some(&bob),
        Some(json!({"message": "hello"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get_as(&app, &emp_path(&client, &other_emp), &bob).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = get_as(&app, &client_path(&client, "/employees"), &bob).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = field_of_each(&r.body, "id");
    assert_eq!(
        listed,
        [emp.as_str()],
        "a member lists their employees alone"
    );
    for (method, tail) in [
        ("GET", "/members"),
        ("GET", "/api-keys"),
        ("GET", "/audit/export"),
    ] {
        let r = call(&app, method, &client_path(&client, tail), Some(&bob), None).await;
        assert_eq!(r.status, 403, "{method} {tail}: {}", r.body);
    }
    let r = call(
        &app,
        "PATCH",
        &emp_path(&client, &emp),
        Some(&bob),
        Some(json!({"role": "boss"})),
    )
    .await;
    assert_eq!(r.status, 403, "a member does not change employees");

    // A change of a member's employees or role applies to their next request.
    let r = call(
        &app,
        "PATCH",
        &client_path(&client, &format!("/members/{bob_id}")),
        Some(&ada),
        Some(json!({"employee_ids": [emp, other_emp]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get_as(&app, &emp_path(&client, &other_emp), &bob).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &app,
        "PATCH",
        &client_path(&client, &format!("/members/{bob_id}")),
        Some(&ada),
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(r.status, 403, "an admin makes no owners: {}", r.body);
    let r = app
        .send(
            "PATCH",
            &client_path(&client, &format!("/members/{bob_id}")),
            Some(&admin_key),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get_as(&app, &client_path(&client, "/members"), &bob).await;
    assert_eq!(r.status, 200, "now an admin: {}", r.body);
    let emails = field_of_each(&r.body, "email");
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"ada@example.com") && emails.contains(&"bob@example.com"));

    // Removing a person ends their sessions at once; only an owner (or an admin key) removes
    // an admin.
    let bob_path = client_path(&client, &format!("/members/{bob_id}"));
    let r = call(&app, "DELETE", &bob_path, Some(&ada), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.send("DELETE", &bob_path, Some(&admin_key), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = get_as(&app, &emp_path(&client, &emp), &bob).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = sign_in(&app, "bob@example.com", PASSWORD).await;
    assert_eq!(r.status, 401, "a removed person cannot sign in: {}", r.body);

    // The trail names who did what.
    let trail = app.audit_export(&client, &admin_key).await;
    for action in [
        "invite.create",
        "invite.accept",
        "member.update",
        "member.remove",
    ] {
        assert!(trail.contains(action), "{action} in {trail}");
    }
    assert!(trail.contains(&format!("person:{bob_id}")) || trail.contains(&bob_id));
}

#[sqlx::test]
async fn a_password_sign_in_is_checked_throttled_and_audited(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| s.file.limits.sign_in_failure_burst = 5).await;
    let (client, key) = app
        .onboard(json!({"name": "Signers", "tier": "starter", "allowed_models": ["gpt-4o-mini"]}))
        .await;
    let created = invite(&app, &client, By::Key(&key), json!({"role": "owner"})).await;
    let first = accept(&app, &created, "Owner@Example.com").await;

    // Bad input is named field by field; a wrong password and an unknown email read the same.
    let r = call(
        &app,
        "POST",
        "/api/v1/auth/sessions",
        None,
        Some(json!({"email": "owner@example.com"})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = sign_in(&app, "owner@example.com", "not the password at all").await;
    assert_eq!(r.status, 401, "{}", r.body);
    let wrong = r.body["error"]["message"].clone();
    let r = sign_in(&app, "nobody@example.com", "not the password at all").await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["error"]["message"], wrong);
    let short = call(
        &app,
        "POST",
        "/api/v1/auth/invites/accept",
        None,
        Some(json!({"token": "00", "email": "x@example.com", "password": "short"})),
    )
    .await;
    assert_eq!(short.status, 422, "{}", short.body);
    assert!(
        short.body["error"]["fields"]["password"].is_string(),
        "{}",
        short.body
    );

    // Emails compare without case; each sign-in is a new session.
    let r = sign_in(&app, "OWNER@example.COM", PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let second = r.session.expect("session");
    assert_ne!(second, first);
    assert_eq!(
        get_as(&app, "/api/v1/auth/sessions/current", &first)
            .await
            .status,
        200
    );

    let trail = app.audit_export(&client, &key).await;
    assert!(trail.contains("session.sign_in_failed"), "{trail}");
    assert!(trail.contains("session.sign_in\""), "{trail}");
    assert!(
        !trail.contains("not the password at all"),
        "no password in the trail"
    );

    // Too many failures for one account lock it for a while (429), even with the password.
    let mut last = 0;
    for _ in 0..12 {
        last = sign_in(&app, "owner@example.com", "still not the password")
            .await
            .status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "repeated failures are throttled");
    assert_eq!(
        sign_in(&app, "owner@example.com", PASSWORD).await.status,
        429
    );
}

#[sqlx::test]
async fn sessions_survive_a_lost_cache_and_end_on_sign_out_suspension_and_idleness(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mut app = spawn_app(owner.clone()).await;
    let (client, key) = app
        .onboard(json!({"name": "Sessions", "tier": "starter", "allowed_models": ["gpt-4o-mini"]}))
        .await;
    let created = invite(&app, &client, By::Key(&key), json!({"role": "owner"})).await;
    let laptop = accept(&app, &created, "grace@example.com").await;
    let phone = sign_in(&app, "grace@example.com", PASSWORD)
        .await
        .session
        .expect("session");
    let members = client_path(&client, "/members");
    assert_eq!(status(&app, &members, &laptop).await, 200);

    // Redis loses the cached session, and a new instance starts: the session still holds.
    let digest = app.state.secrets.token_digest("session", &laptop);
    app.state
        .cache
        .run::<i64>(redis::cmd("DEL").arg(format!("session:{digest}")))
        .await
        .expect("redis");
    app.restart_fresh(&owner, |_| {}).await;
    assert_eq!(status(&app, &members, &laptop).await, 200);

    // A cache entry written by anyone without the server's key is never trusted: one that
    // makes this owner the operator changes nothing.
    let me = get_as(&app, "/api/v1/auth/sessions/current", &laptop).await;
    let forged = json!({
        "user_id": me.body["id"], "email": "grace@example.com", "role": "operator",
        "client_id": null, "client_active": true, "tier": "", "employee_ids": [],
        "expires_at": "2099-01-01T00:00:00Z",
    });
    app.state
        .cache
        .run::<()>(
            redis::cmd("SET")
                .arg(format!("session:{digest}"))
                .arg(format!("{} {forged}", "0".repeat(64))),
        )
        .await
        .expect("redis");
    let r = get_as(&app, "/api/v1/employees/clients", &laptop).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(status(&app, &members, &laptop).await, 200);

    // Suspension stops every session at once; reactivation lets them in again.
    let r = app
        .send(
            "POST",
            &client_path(&client, "/suspend"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status(&app, &members, &laptop).await, 403);
    let r = app
        .send(
            "POST",
            &client_path(&client, "/reactivate"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status(&app, &members, &laptop).await, 200);

    // Signing out ends this session, and removes the cookie; the other device stays in.
    let r = call(
        &app,
        "DELETE",
        "/api/v1/auth/sessions/current",
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.session.as_deref(), Some(""), "the cookie is removed");
    assert_eq!(status(&app, &members, &phone).await, 401);
    assert_eq!(status(&app, &members, &laptop).await, 200);

    // A session unused for longer than the idle limit has ended.
    let idle_minutes = app.state.settings.file.accounts.session_idle_minutes;
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect_with(&owner)
        .await
        .expect("db");
    let aged = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE sessions SET last_seen_at = now() - interval '{} minutes' \
         WHERE id_digest = $1",
        idle_minutes + 1
    )))
    .bind(&digest)
    .execute(&mut db)
    .await
    .expect("age the session");
    assert_eq!(aged.rows_affected(), 1);
    sqlx::Connection::close(db).await.ok();
    app.state
        .cache
        .run::<i64>(redis::cmd("DEL").arg(format!("session:{digest}")))
        .await
        .expect("redis");
    assert_eq!(status(&app, &members, &laptop).await, 401);

    // Signing out everywhere ends every session of the person.
    let a = sign_in(&app, "grace@example.com", PASSWORD)
        .await
        .session
        .expect("a");
    let b = sign_in(&app, "grace@example.com", PASSWORD)
        .await
        .session
        .expect("b");
    let r = call(&app, "DELETE", "/api/v1/auth/sessions", Some(&a), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(status(&app, &members, &a).await, 401);
    assert_eq!(status(&app, &members, &b).await, 401);
    let r = call(&app, "DELETE", "/api/v1/auth/sessions", None, None).await;
    assert_eq!(r.status, 401, "signing out takes a session: {}", r.body);
}

#[sqlx::test]
async fn the_operator_account_signs_in_and_one_clients_people_are_invisible_to_another(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner.clone()).await;
    let ensure = workforce::accounts::server::people::ensure_operator;
    ensure(
        &app.state,
        Some("root@example.com"),
        Some("operator password 1"),
    )
    .await
    .expect("operator");
    // Made once: a second start with another password changes nothing.
    ensure(
        &app.state,
        Some("root@example.com"),
        Some("another password 2"),
    )
    .await
    .expect("operator again");
    assert_eq!(
        sign_in(&app, "root@example.com", "another password 2")
            .await
            .status,
        401
    );
    let root = sign_in(&app, "root@example.com", "operator password 1")
        .await
        .session
        .expect("operator session");
    let r = get_as(&app, "/api/v1/employees/clients", &root).await;
    assert_eq!(r.status, 200, "the operator lists clients: {}", r.body);

    let mut people = vec![];
    for name in ["Alpha", "Beta"] {
        let (client, key) = app
            .onboard(json!({"name": name, "tier": "starter", "allowed_models": ["gpt-4o-mini"]}))
            .await;
        let created = invite(&app, &client, By::Key(&key), json!({"role": "owner"})).await;
        let session = accept(&app, &created, &format!("owner@{name}.example")).await;
        people.push((client, key, session));
    }
    let (a, _, a_session) = &people[0];
    let (b, b_key, _) = &people[1];
    // Another client's paths answer as if they did not exist, for a person as for a key.
    let r = call(
        &app,
        "GET",
        &client_path(b, "/members"),
        Some(a_session),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(
        &app,
        "GET",
        "/api/v1/employees/clients",
        Some(a_session),
        None,
    )
    .await;
    assert_eq!(
        r.status, 401,
        "a client's owner is not the operator: {}",
        r.body
    );
    let r = app.get(&client_path(b, "/members"), b_key).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.body);

    // In the database, the runtime role in client A's transaction sees A's person and session.
    let pool = app_pool(&owner).await;
    let a_id = workforce::core::ClientId::parse(a).expect("id");
    let mut tx = workforce::platform::db::TenantTx::begin(&pool, &a_id)
        .await
        .expect("tx");
    for table in ["users", "sessions", "invites", "member_employees"] {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT client_id FROM {table}"
        )))
        .fetch_all(&mut *tx)
        .await
        .expect(table);
        assert!(rows.iter().all(|c| c == a), "{table}: {rows:?}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .expect("users");
    assert_eq!(n, 1, "A's owner alone (not B's, not the operator)");
    let r = sqlx::query("UPDATE users SET role = 'owner' WHERE client_id <> $1")
        .bind(a)
        .execute(&mut *tx)
        .await
        .expect("update");
    assert_eq!(r.rows_affected(), 0);
    assert!(
        sqlx::query("UPDATE users SET password_hash = 'x'")
            .execute(&mut *tx)
            .await
            .is_err(),
        "the runtime role never writes a password hash"
    );
    drop(tx);
    pool.close().await;
}
