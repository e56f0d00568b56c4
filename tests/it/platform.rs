//! What the platform gives every request: a request id, security headers, metrics for the
//! operator, and SQL that is checked against the real schema (the assembled statements by
//! preparing each one).

use crate::helpers::{employee, spawn_app, spawn_app_with_stub, ADMIN_TOKEN};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, SqlSafeStr};

#[sqlx::test]
async fn every_assembled_memory_statement_prepares_against_the_schema(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    // Migrated by spawning the app; prepared as the runtime role, which runs them.
    let app = spawn_app(owner.clone()).await;
    let mut conn = app.state.pool.acquire().await.expect("conn");
    let statements = workforce::memory::server::repo::assembled_statements();
    assert!(
        statements.len() >= 8,
        "recent, recall ×2, both ×2, insert, missing ×2"
    );
    let statements = statements
        .into_iter()
        .chain(workforce::knowledge::server::repo::assembled_statements());
    for sql in statements {
        let prepared = (&mut *conn).prepare(sql.into_sql_str()).await;
        assert!(prepared.is_ok(), "{sql}\n{:?}", prepared.err());
    }
}

#[sqlx::test]
async fn every_response_carries_a_request_id(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let mine = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("request");
    assert_eq!(
        mine.headers()["x-request-id"],
        "trace-me-42",
        "the caller's id is kept"
    );
    // An error answer carries one too, made by the server.
    let made = app
        .http
        .get(app.url("/api/v1/employees/clients"))
        .send()
        .await
        .expect("request");
    assert_eq!(made.status(), 401);
    let id = made.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 36, "a UUID: {id}");
}

#[sqlx::test]
async fn pages_and_api_answers_carry_the_security_headers(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    for path in ["/", "/api/v1/employees/clients", "/no-such-page"] {
        let r = app.http.get(app.url(path)).send().await.expect("request");
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[sqlx::test]
async fn metrics_count_requests_and_turns_for_the_operator_only(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", serde_json::json!([])).await;
    assert_eq!(app.interact(&client, &key, &emp, "hello").await.status, 200);

    let anonymous = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
    let as_client = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(as_client.status(), 401, "a client key is not the operator");

    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    let has = |needle: &str| {
        text.lines()
            .any(|l| !l.starts_with('#') && l.contains(needle))
    };
    // Routes are named by their template, never by the ids in the path.
    assert!(
        has(r#"route="/api/v1/employees/clients/{client_id}/employees/{employee_id}/interact""#),
        "{text}"
    );
    assert!(!text.contains(&emp), "no employee id in any label");
    assert!(
        has(r#"turns_total{model="gpt-4o-mini",outcome="completed"}"#),
        "{text}"
    );
    assert!(has("model_call_duration_seconds_bucket"), "{text}");
    assert!(has(r#"db_pool_connections{state="idle"}"#), "{text}");
    assert!(has("memory_index_queue_depth"), "{text}");
}

/// The built site's files go out compressed when a compressed copy exists and the browser takes
/// it, and hashed names are cached for a year while unhashed ones are revalidated.
#[sqlx::test]
async fn built_files_are_served_precompressed_and_cached_by_their_hash(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let root = std::env::temp_dir().join(format!("wf-site-{}", uuid::Uuid::new_v4()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).expect("dir");
    std::fs::write(pkg.join("workforce.abc123.wasm"), b"the plain module").expect("write");
    std::fs::write(pkg.join("workforce.abc123.wasm.br"), b"brotli bytes").expect("write");
    std::fs::write(pkg.join("workforce.abc123.wasm.gz"), b"gzip bytes").expect("write");

    let app = crate::helpers::spawn_app_with_site(owner.clone(), &root, true).await;
    let url = app.url("/pkg/workforce.abc123.wasm");
    let get = |encoding: &'static str| {
        let mut req = app.http.get(&url);
        if !encoding.is_empty() {
            req = req.header("accept-encoding", encoding);
        }
        req.send()
    };
    for (accepts, want_encoding, want_body) in [
        ("br, gzip", Some("br"), "brotli bytes"),
        ("gzip", Some("gzip"), "gzip bytes"),
        ("", None, "the plain module"),
    ] {
        let res = get(accepts).await.expect("request");
        assert_eq!(res.status(), 200, "accept-encoding {accepts:?}");
        let encoding = res
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().expect("ascii").to_owned());
        assert_eq!(
            encoding.as_deref(),
            want_encoding,
            "accept-encoding {accepts:?}"
        );
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(res.text().await.expect("body"), want_body);
    }
    let missing = app
        .http
        .get(app.url("/pkg/nothing.wasm"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    assert!(
        missing.headers().get("cache-control").is_none(),
        "a missing file is not cached: {:?}",
        missing.headers().get("cache-control")
    );

    // Without hashed names a browser must ask again each time.
    let app = crate::helpers::spawn_app_with_site(owner, &root, false).await;
    let res = app
        .http
        .get(app.url("/pkg/workforce.abc123.wasm"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    std::fs::remove_dir_all(&root).ok();
}
