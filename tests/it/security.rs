//! What the attacks on the running app found, each closed: API keys stored as keyed digests,
//! Redis entries the server did not write never served, slow and flooding connections cut off,
//! wrong credentials and busy clients throttled.

use crate::helpers::*;
use leptos::server_fn::ServerFn;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A second loopback address: requests from it count as another client's.
const OTHER_IP: &str = "127.0.0.2";

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

/// The key with its secret changed (same key id).
fn wrong_secret(key: &str) -> String {
    let (head, secret) = key.rsplit_once('_').expect("key shape");
    let flipped: String = secret
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    format!("{head}_{flipped}")
}

#[sqlx::test]
async fn api_keys_are_kept_as_keyed_digests_and_a_wrong_secret_answers_like_an_unknown_key(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner.clone()).await;
    let (client, key) = app
        .onboard(json!({"name": "Acme", "tier": "starter"}))
        .await;
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    let stored: String = sqlx::query_scalar("SELECT key_hash FROM api_keys WHERE client_id = $1")
        .bind(&client)
        .fetch_one(&mut db)
        .await
        .expect("key row");
    let secret = key.rsplit_once('_').expect("shape").1;
    assert!(stored.starts_with("hmac-sha256:"), "{stored}");
    assert!(!stored.contains(secret), "the secret itself is not stored");

    let path = format!("/api/v1/employees/clients/{client}/employees");
    assert_eq!(app.get(&path, &key).await.status, 200);
    let wrong = app.get(&path, &wrong_secret(&key)).await;
    let unknown = app
        .get(&path, &format!("wfk_0123456789abcdef_{}", "a".repeat(48)))
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.body, unknown.body,
        "a known key id with a wrong secret answers exactly like an unknown id"
    );
}

#[sqlx::test]
async fn a_recent_list_entry_the_server_did_not_write_is_never_served(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let (_, _, other_emp) = {
        let req = requirements("another employee");
        let other = app.hire(&client, &key, req).await;
        (client.clone(), key.clone(), other)
    };
    for (e, m) in [(&emp, "first"), (&emp, "second"), (&other_emp, "elsewhere")] {
        let r = app.interact(&client, &key, e, m).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let list = format!("employee:{client}:{emp}:recent");
    let other_list = format!("employee:{client}:{other_emp}:recent");
    let mut redis = redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let head: String = redis::cmd("LINDEX")
        .arg(&list)
        .arg(0)
        .query_async(&mut redis)
        .await
        .expect("head");
    assert!(head.starts_with("2 "), "{head}");

    // Someone with access to Redis rewrites the newest entry, keeping its number and tag.
    let mut parts = head.splitn(3, ' ');
    let (n, tag) = (parts.next().expect("n"), parts.next().expect("tag"));
    let json = parts.next().expect("json").replace("second", "planted");
    let planted = format!("{n} {tag} {json}");
    let entries = [
        planted,
        // … or puts there an entry with no tag, or one copied from another employee's list.
        format!("2 {json}"),
        redis::cmd("LINDEX")
            .arg(&other_list)
            .arg(0)
            .query_async::<String>(&mut redis)
            .await
            .expect("other head")
            .replacen("1 ", "2 ", 1),
    ];
    for entry in entries {
        let _: () = redis::cmd("LSET")
            .arg(&list)
            .arg(0)
            .arg(&entry)
            .query_async(&mut redis)
            .await
            .expect("lset");
        let r = app.memory(&client, &key, &emp, "limit=10").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            memory_contents(&r),
            ["second", "first"],
            "only what Postgres holds is served (entry tried: {entry})"
        );
    }
}

/// Opens a connection from `ip` and sends half of a request's head.
async fn half_request(ip: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(ip.parse().expect("ip"), 0))
        .expect("bind");
    let mut s = socket.connect(to).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    s
}

/// Whether the server closes `s` within `within` (reads until end of stream).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[sqlx::test]
async fn half_sent_requests_are_cut_off_and_cannot_crowd_out_other_clients(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| {
        s.file.server.header_read_seconds = 1;
        s.file.server.max_connections_per_ip = 40;
        s.file.server.max_connections = 200;
    })
    .await;
    // One client opens 120 connections and never finishes a request.
    let mut held = Vec::new();
    for _ in 0..120 {
        held.push(half_request("127.0.0.1", app.addr).await);
    }
    // Past its 40, its connections are closed as they arrive.
    let mut closed_at_once = 0;
    for s in &mut held {
        if closed_within(s, Duration::from_millis(200)).await {
            closed_at_once += 1;
        }
    }
    assert!(
        closed_at_once >= 80,
        "only {closed_at_once} of the 80 over the cap were closed"
    );
    // Meanwhile another client is served.
    let r = client_from(OTHER_IP)
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
    // And the 40 it kept are cut off once the header read timeout passes.
    for s in &mut held {
        assert!(
            closed_within(s, Duration::from_secs(5)).await,
            "a half-sent request is closed after the header timeout"
        );
    }
    let r = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200, "the first client is served again");
}

#[sqlx::test]
async fn a_body_sent_too_slowly_gets_an_answer_and_a_request_that_runs_too_long_a_503(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| {
        use_stub(s, &stub, false);
        s.file.server.body_read_seconds = 1;
        s.file.server.request_seconds = 2;
        s.file.limits.model_timeout_seconds = 30;
        s.file.limits.model_first_token_seconds = 30;
    })
    .await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!([])).await;

    // A body announced as 100 bytes, of which 10 arrive.
    let mut s = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/employees/clients/{client}/employees/{emp}/interact HTTP/1.1\r\n\
         Host: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"message\""
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the server gave up on the body"
    );
    let status: u16 = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((400..500).contains(&status), "{answer}");

    // A model that never answers: the whole request is answered 503 after request_seconds.
    stub.behave("gpt-4o", stub::Behaviour::Hang);
    let started = Instant::now();
    let r = app.interact(&client, &key, &emp, "hello?").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("took longer"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[sqlx::test]
async fn a_client_past_its_tiers_rate_gets_429_with_retry_after_and_others_are_unaffected(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| {
        let starter = s.file.tiers.get_mut("starter").expect("starter tier");
        starter.requests_per_second = 0.5;
        starter.burst = 3;
    })
    .await;
    let (busy, busy_key) = app
        .onboard(json!({"name": "Busy", "tier": "starter"}))
        .await;
    let (calm, calm_key) = app
        .onboard(json!({"name": "Calm", "tier": "starter"}))
        .await;
    let list = |c: &str| format!("/api/v1/employees/clients/{c}/employees");
    for _ in 0..3 {
        assert_eq!(app.get(&list(&busy), &busy_key).await.status, 200);
    }
    let res = app
        .http
        .get(app.url(&list(&busy)))
        .bearer_auth(&busy_key)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "retry after {retry}");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(app.get(&list(&calm), &calm_key).await.status, 200);
}

#[sqlx::test]
async fn wrong_credentials_are_throttled_per_address_before_anything_is_checked(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| {
        s.file.limits.auth_failure_burst = 20;
        s.file.limits.auth_failures_per_minute = 12.0;
    })
    .await;
    let (client, key) = app
        .onboard(json!({"name": "Acme", "tier": "starter"}))
        .await;
    let path = format!("/api/v1/employees/clients/{client}/employees");
    let bad = wrong_secret(&key);
    let mut statuses = Vec::new();
    for _ in 0..22 {
        statuses.push(app.get(&path, &bad).await.status);
    }
    assert_eq!(&statuses[..20], &[401; 20]);
    assert_eq!(&statuses[20..], &[429, 429], "past 20 failures, 429");
    // The address is throttled even with the right key; another address is not.
    assert_eq!(app.get(&path, &key).await.status, 429);
    let r = client_from(OTHER_IP)
        .get(app.url(&path))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn sign_in_is_throttled_per_account_whatever_the_address(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| {
        s.file.limits.sign_in_failure_burst = 5;
        s.file.limits.sign_in_failures_per_minute = 5.0;
    })
    .await;
    let (_client, key) = app
        .onboard(json!({"name": "Acme", "tier": "starter"}))
        .await;
    let sign_in = |http: reqwest::Client, api_key: String| {
        let url = app.url(<workforce::accounts::fns::ClientSignIn as ServerFn>::PATH);
        async move {
            let res = http
                .post(url)
                .form(&[("api_key", api_key)])
                .send()
                .await
                .expect("sign in");
            let status = res.status().as_u16();
            (status, res.text().await.unwrap_or_default())
        }
    };
    for _ in 0..5 {
        let (s, body) = sign_in(app.http.clone(), wrong_secret(&key)).await;
        assert_eq!(s, 401, "{body}");
    }
    // The account has used up its failures: even the right key, from another address, waits.
    let (s, body) = sign_in(client_from(OTHER_IP), key.clone()).await;
    assert_eq!(s, 429, "{body}");
    // The operator's account is another account.
    let r = app
        .http
        .post(app.url(<workforce::accounts::fns::OperatorSignIn as ServerFn>::PATH))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .expect("operator sign in");
    assert!(r.status().is_success() || r.status().is_redirection());
}

#[sqlx::test]
async fn a_malformed_server_function_call_is_a_4xx_that_says_what_is_wrong(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let sign_in = app.url(<workforce::accounts::fns::ClientSignIn as ServerFn>::PATH);
    let form = "application/x-www-form-urlencoded";
    let calls: Vec<(&str, String, &str, Vec<u8>)> = vec![
        ("POST", sign_in.clone(), form, Vec::new()),
        ("POST", sign_in.clone(), form, b"api_key".to_vec()),
        ("POST", sign_in.clone(), form, b"nope=1&%%%".to_vec()),
        ("POST", sign_in.clone(), form, vec![0xff, 0xfe, 0x00]),
        (
            "POST",
            sign_in.clone(),
            "application/json",
            b"{\"api_key\": 3}".to_vec(),
        ),
        ("GET", sign_in.clone(), form, Vec::new()),
        ("POST", app.url("/rpc/no_such_function"), form, Vec::new()),
    ];
    for (method, url, content_type, body) in calls {
        let res = app
            .http
            .request(method.parse().expect("method"), &url)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("call");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        assert!(
            (400..500).contains(&status),
            "{method} {url} {body:?}: {status} {text}"
        );
        assert!(
            !text.is_empty(),
            "{method} {url}: the answer says what is wrong"
        );
    }
}

/// A server function reads its whole body: one far larger than any page sends is refused before
/// it is read (413, saying so), also when it does not declare its length.
#[sqlx::test]
async fn an_oversized_server_function_body_is_a_413(_p: PgPoolOptions, owner: PgConnectOptions) {
    let app = spawn_app(owner).await;
    let sign_in = app.url(<workforce::accounts::fns::ClientSignIn as ServerFn>::PATH);
    let huge = format!("api_key={}", "a".repeat(2 * 1024 * 1024));
    let res = app
        .http
        .post(&sign_in)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge.clone())
        .send()
        .await
        .expect("call");
    assert_eq!(res.status().as_u16(), 413);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    // Streamed, with no length given: cut off as it is read, never a 2xx.
    let stream = futures::stream::iter(
        huge.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let res = app
        .http
        .post(&sign_in)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("call");
    let status = res.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
}

#[sqlx::test]
async fn no_secret_reaches_the_logs(_p: PgPoolOptions, owner: PgConnectOptions) {
    let (app, _stub) = spawn_app_with_stub(owner).await;
    // Use every kind of secret the server sees: keys on requests (right and wrong), sign-in
    // forms with a key and the operator token, a chat turn.
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    assert_eq!(app.interact(&client, &key, &emp, "hello").await.status, 200);
    let wrong = wrong_secret(&key);
    assert_eq!(app.get(&emp_path(&client, &emp), &wrong).await.status, 401);
    for (path, field, value) in [
        (
            <workforce::accounts::fns::ClientSignIn as ServerFn>::PATH,
            "api_key",
            key.clone(),
        ),
        (
            <workforce::accounts::fns::ClientSignIn as ServerFn>::PATH,
            "api_key",
            wrong.clone(),
        ),
        (
            <workforce::accounts::fns::OperatorSignIn as ServerFn>::PATH,
            "token",
            ADMIN_TOKEN.to_owned(),
        ),
        (
            <workforce::accounts::fns::OperatorSignIn as ServerFn>::PATH,
            "token",
            "not-the-operator-token-123456".to_owned(),
        ),
    ] {
        app.http
            .post(app.url(path))
            .form(&[(field, value)])
            .send()
            .await
            .expect("sign in");
    }
    // A person: an invite accepted with a password, then sign-ins (right and wrong) through
    // the sign-in form; the session cookie is used once.
    let password = "a password nobody logs 4711";
    let invite_token = app
        .invite_and_accept(
            &client,
            &key,
            json!({"role": "owner"}),
            "logs@example.com",
            password,
        )
        .await
        .token;
    let sign_in = <workforce::accounts::fns::SignIn as ServerFn>::PATH;
    let mut session = String::new();
    for attempt in ["a wrong password 0815", password] {
        let res = app
            .http
            .post(app.url(sign_in))
            .form(&[("email", "logs@example.com"), ("password", attempt)])
            .send()
            .await
            .expect("sign in");
        if let Some(c) = session_cookie(res.headers()) {
            session = c;
        }
    }
    assert_eq!(session.len(), 64, "the right password signs in");
    let r = app
        .http
        .get(app.url("/api/v1/auth/sessions/current"))
        .header("cookie", format!("wf_session={session}"))
        .send()
        .await
        .expect("current");
    assert_eq!(r.status(), 200);
    let logs = captured_logs();
    assert!(
        logs.contains("failed credentials"),
        "the logs were captured"
    );
    let secret_of = |k: &str| k.rsplit_once('_').expect("shape").1.to_owned();
    let mut secrets = vec![
        key.clone(),
        secret_of(&key),
        secret_of(&wrong),
        ADMIN_TOKEN.to_owned(),
        "not-the-operator-token-123456".to_owned(),
        SECRET_KEY.to_owned(),
        invite_token,
        password.to_owned(),
        "a wrong password 0815".to_owned(),
        session,
    ];
    secrets.extend(app_password());
    // The passwords inside the database and Redis addresses, when they have one.
    for url in [
        std::env::var("DATABASE_URL").unwrap_or_default(),
        redis_url(),
    ] {
        if let Some(pw) = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .and_then(|(creds, _)| creds.split_once(':'))
            .map(|(_, pw)| pw.to_owned())
            .filter(|pw| !pw.is_empty())
        {
            secrets.push(pw);
        }
    }
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret reached the logs ({} chars)",
            s.len()
        );
    }
}

#[sqlx::test]
async fn behind_a_trusted_proxy_each_client_is_throttled_as_itself_and_nobody_else_picks_an_address(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| {
        s.file.limits.auth_failure_burst = 3;
        s.file.limits.auth_failures_per_minute = 1.0;
        s.file.server.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    let (client, key) = app
        .onboard(json!({"name": "Proxied", "tier": "starter"}))
        .await;
    let url = app.url(&format!("/api/v1/employees/clients/{client}/employees"));
    let bad = wrong_secret(&key);
    let get = |from: reqwest::Client, forwarded_for: String, k: String| {
        let url = url.clone();
        async move {
            from.get(url)
                .bearer_auth(k)
                .header("x-forwarded-for", forwarded_for)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    // Through the proxy (127.0.0.1): one client uses up its failures…
    for _ in 0..3 {
        let s = get(app.http.clone(), "203.0.113.7".into(), bad.clone()).await;
        assert_eq!(s, 401);
    }
    let s = get(app.http.clone(), "203.0.113.7".into(), key.clone()).await;
    assert_eq!(s, 429, "that client is throttled, even with the right key");
    // …and another client behind the same proxy is not.
    let s = get(app.http.clone(), "203.0.113.8".into(), key.clone()).await;
    assert_eq!(s, 200);

    // From an address that is no proxy the header is ignored: naming a new address each time
    // does not escape the throttle.
    for i in 0..3 {
        let s = get(
            client_from(OTHER_IP),
            format!("198.51.100.{i}"),
            bad.clone(),
        )
        .await;
        assert_eq!(s, 401);
    }
    let s = get(client_from(OTHER_IP), "198.51.100.99".into(), bad.clone()).await;
    assert_eq!(s, 429);
}
