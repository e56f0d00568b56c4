//! Test helpers: a real server on port 0 over its own database (made by `#[sqlx::test]`),
//! connected as `workforce_app`, with the real Redis.

pub use openai_stub as stub;

use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use workforce::platform::config::{parse_with_overrides, resolve_providers, Settings};
use workforce::platform::{db, startup, AppState};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn settings() -> Settings {
    let mut file =
        parse_with_overrides(include_str!("../../Leptos.toml"), []).expect("Leptos.toml");
    file.local.models_dir = workforce::platform::config::default_models_dir();
    // Rate limits and throttles far above what any test sends, except where a test sets its
    // own; each server's buckets apart from every other test's (they share one Redis).
    file.limits.auth_failure_burst = 1_000_000;
    file.limits.sign_in_failure_burst = 1_000_000;
    file.limits.rate_limit_namespace = format!("test-{}:", uuid::Uuid::new_v4());
    for tier in file.tiers.values_mut() {
        tier.requests_per_second = 1e6;
        tier.burst = 1_000_000;
        tier.key_requests_per_second = 1e6;
        tier.key_burst = 1_000_000;
        tier.max_concurrent_turns = 0;
    }
    // Never the developer's real provider: tests that need one point it at the stub.
    let mut providers = resolve_providers(&file);
    for p in &mut providers {
        p.api_key = None;
    }
    Settings {
        providers,
        file,
        database_url: std::env::var("DATABASE_URL").unwrap_or_default().into(),
        app_database_url: None,
        app_database_password: None,
        redis_url: redis_url().into(),
        admin_token: Some(ADMIN_TOKEN.to_owned().into()),
        secret_key: SECRET_KEY.to_owned().into(),
    }
}

/// The server secret of every test server (API-key digests, Redis entry tags).
pub const SECRET_KEY: &str = "test-server-secret-0123456789abcdef0123";

/// The runtime role's password, when the database asks for one (the project-local PostgreSQL
/// does: scripts/services.sh sets it and keeps it in .data/env).
pub fn app_password() -> Option<String> {
    std::env::var("WORKFORCE_APP_DB_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
}

/// A pool on the test database as the runtime role.
pub async fn app_pool(owner: &PgConnectOptions) -> PgPool {
    db::pool_options(8)
        .connect_with(db::app_options(owner, app_password().as_deref()))
        .await
        .expect("connect as workforce_app")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub state: AppState,
    server: tokio::task::JoinHandle<()>,
}

/// Stopping the server releases its pool, so `#[sqlx::test]` can drop the database at once.
impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(state: AppState) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let state_limits = state.settings.file.server.clone();
    let router = startup::build_router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = state_limits.clone();
    let server = tokio::spawn(async move {
        workforce::platform::serve::serve(listener, router, &limits, std::future::pending())
            .await
            .expect("serve");
    });
    (addr, server)
}

pub async fn spawn_app(owner: PgConnectOptions) -> TestApp {
    spawn_app_with(owner, |_| {}).await
}

/// A server with its settings changed by `configure` first.
pub async fn spawn_app_with(
    owner: PgConnectOptions,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    TestApp::serving(fresh_state(&owner, configure).await).await
}

/// Everything every test server logged (workforce at debug, the HTTP layer at debug, the rest
/// at info), from a subscriber installed for the whole test binary on first use.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("logs").clone()).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,workforce=debug,tower_http=debug");
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| LogSink)
            .try_init();
    });
}

/// A new server state over the test database: its own pool, settings changed by `configure`.
async fn fresh_state(owner: &PgConnectOptions, configure: impl FnOnce(&mut Settings)) -> AppState {
    let options = leptos::config::LeptosOptions::builder()
        .output_name("workforce")
        .build();
    state_with_site(owner, options, configure).await
}

/// A new server state over the test database serving the site described by `options`.
async fn state_with_site(
    owner: &PgConnectOptions,
    options: leptos::config::LeptosOptions,
    configure: impl FnOnce(&mut Settings),
) -> AppState {
    capture_logs();
    let mut settings = settings();
    configure(&mut settings);
    startup::build_state(app_pool(owner).await, settings, options).expect("state")
}

impl TestApp {
    /// A new session: a freshly started server (new state, caches and background tasks) over
    /// the same database, with settings changed by `configure`.
    pub async fn restart_fresh(
        &mut self,
        owner: &PgConnectOptions,
        configure: impl FnOnce(&mut Settings),
    ) {
        let state = fresh_state(owner, configure).await;
        self.restart_with(state).await;
    }

    /// Serves `state` in place of the current server (same database, new address).
    /// Serves `state` on a new address.
    async fn serving(state: AppState) -> TestApp {
        let (addr, server) = serve(state.clone()).await;
        TestApp {
            addr,
            http: reqwest::Client::new(),
            state,
            server,
        }
    }

    pub async fn restart_with(&mut self, state: AppState) {
        self.server.abort();
        let (addr, server) = serve(state.clone()).await;
        self.addr = addr;
        self.server = server;
        self.state = state;
    }
}

pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("request")).await
    }

    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::read(req.send().await.expect("request")).await
    }

    async fn read(res: reqwest::Response) -> Response {
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Response { status, body }
    }

    /// Calls the server function `F` as a page does (a form post) with `cookie` (see
    /// [`client_cookie`] and [`operator_cookie`]).
    pub async fn call<F: leptos::server_fn::ServerFn>(
        &self,
        cookie: &str,
        form: &[(&str, String)],
    ) -> Response {
        let req = self
            .http
            .post(self.url(F::PATH))
            .header("cookie", cookie)
            .form(form);
        Self::read(req.send().await.expect("request")).await
    }

    /// Calls the server function `F` that takes JSON, with `cookie`.
    pub async fn call_json<F: leptos::server_fn::ServerFn>(
        &self,
        cookie: &str,
        body: Value,
    ) -> Response {
        let req = self
            .http
            .post(self.url(F::PATH))
            .header("cookie", cookie)
            .json(&body);
        Self::read(req.send().await.expect("request")).await
    }

    /// GET `path` with a client's key.
    pub async fn get(&self, path: &str, key: &str) -> Response {
        self.send("GET", path, Some(key), None).await
    }

    /// Onboards a client; returns (client id, API key).
    pub async fn onboard(&self, body: Value) -> (String, String) {
        let r = self
            .send(
                "POST",
                "/api/v1/employees/clients",
                Some(ADMIN_TOKEN),
                Some(body),
            )
            .await;
        assert_eq!(r.status, 201, "onboard: {}", r.body);
        let id = r.body["client"]["id"]
            .as_str()
            .expect("client id")
            .to_owned();
        let key = r.body["api_key"].as_str().expect("api key").to_owned();
        (id, key)
    }

    pub async fn create_employee(&self, client: &str, key: &str, body: Value) -> Response {
        self.send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/employees"),
            Some(key),
            Some(body),
        )
        .await
    }

    /// Creates an employee that must be created (201); returns its id.
    pub async fn hire(&self, client: &str, key: &str, requirements: Value) -> String {
        let r = self.create_employee(client, key, requirements).await;
        assert_eq!(r.status, 201, "create employee: {}", r.body);
        r.body["id"].as_str().expect("employee id").to_owned()
    }

    /// The client's employees; `query` is the query string, if any (`status=archived`).
    pub async fn list_employees(&self, client: &str, key: &str, query: &str) -> Response {
        let path = format!("/api/v1/employees/clients/{client}/employees");
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        self.get(&path, key).await
    }

    pub async fn get_employee(&self, client: &str, key: &str, emp: &str) -> Response {
        self.get(&emp_path(client, emp), key).await
    }

    pub async fn update_employee(
        &self,
        client: &str,
        key: &str,
        emp: &str,
        changes: Value,
    ) -> Response {
        self.send("PATCH", &emp_path(client, emp), Some(key), Some(changes))
            .await
    }

    pub async fn delete_employee(&self, client: &str, key: &str, emp: &str) -> Response {
        self.send("DELETE", &emp_path(client, emp), Some(key), None)
            .await
    }

    /// A status transition: `action` is `pause`, `resume` or `archive`.
    pub async fn transition(&self, client: &str, key: &str, emp: &str, action: &str) -> Response {
        let path = format!("{}/{action}", emp_path(client, emp));
        self.send("POST", &path, Some(key), None).await
    }

    /// One chat turn, answered as JSON.
    pub async fn interact(&self, client: &str, key: &str, emp: &str, message: &str) -> Response {
        let path = format!("{}/interact", emp_path(client, emp));
        self.send("POST", &path, Some(key), Some(json!({"message": message})))
            .await
    }

    /// One chat turn under an Idempotency-Key, answered as JSON.
    pub async fn interact_keyed(
        &self,
        client: &str,
        key: &str,
        emp: &str,
        message: &str,
        idempotency_key: &str,
    ) -> Response {
        let path = format!("{}/interact", emp_path(client, emp));
        let req = self
            .http
            .post(self.url(&path))
            .bearer_auth(key)
            .header("Idempotency-Key", idempotency_key)
            .json(&json!({"message": message}));
        Self::read(req.send().await.expect("request")).await
    }

    /// One chat turn, streamed: through `interact` with `Accept: text/event-stream`, or through
    /// the `interact/stream` sibling if `sibling`. Returns the status and the (event, data) pairs.
    pub async fn interact_stream(
        &self,
        client: &str,
        key: &str,
        emp: &str,
        message: &str,
        sibling: bool,
    ) -> (u16, Vec<(String, Value)>) {
        let (path, accept) = if sibling {
            ("interact/stream", "*/*")
        } else {
            ("interact", "text/event-stream")
        };
        let r = self
            .http
            .post(self.url(&format!("{}/{path}", emp_path(client, emp))))
            .bearer_auth(key)
            .header("accept", accept)
            .json(&json!({"message": message}))
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        let body = r.text().await.expect("body");
        (status, sse_events(&body))
    }

    /// The employee's memory; `query` is the query string, if any (`limit=5`, `query=…`).
    pub async fn memory(&self, client: &str, key: &str, emp: &str, query: &str) -> Response {
        let path = format!("{}/memory", emp_path(client, emp));
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        self.get(&path, key).await
    }
}

impl TestApp {
    /// The client's audit trail as exported (`GET …/audit/export`): the JSON Lines text, after
    /// checking its status and content type.
    pub async fn audit_export(&self, client: &str, key: &str) -> String {
        let res = self
            .http
            .get(self.url(&format!("/api/v1/employees/clients/{client}/audit/export")))
            .bearer_auth(key)
            .send()
            .await
            .expect("export");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/x-ndjson");
        res.text().await.expect("body")
    }
}

/// The value a response's `Set-Cookie` headers gave the session cookie (empty when one removed
/// it).
pub fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let name = format!("{}=", workforce::accounts::SESSION_COOKIE);
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(name.as_str()))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

/// A person just made from an invite: the invite's token, their session and their id.
pub struct Invited {
    pub token: String,
    pub session: String,
    pub id: String,
}

impl TestApp {
    /// `admin` (a client key) invites a person to `client` as `invite` says (role, employees);
    /// they accept as `email` with `password`.
    pub async fn invite_and_accept(
        &self,
        client: &str,
        admin: &str,
        invite: Value,
        email: &str,
        password: &str,
    ) -> Invited {
        let r = self
            .send(
                "POST",
                &format!("/api/v1/employees/clients/{client}/invites"),
                Some(admin),
                Some(invite),
            )
            .await;
        assert_eq!(r.status, 201, "invite: {}", r.body);
        let token = r.body["token"].as_str().expect("token").to_owned();
        let res = self
            .http
            .post(self.url("/api/v1/auth/invites/accept"))
            .json(&json!({"token": token, "email": email, "password": password}))
            .send()
            .await
            .expect("accept");
        assert_eq!(res.status(), 201, "accept");
        let session = session_cookie(res.headers()).expect("session cookie");
        let person: Value = res.json().await.expect("person");
        let id = person["id"].as_str().expect("id").to_owned();
        Invited { token, session, id }
    }
}

/// The `content` (what was said) of each entry of a memory response, in its order.
pub fn memory_contents(r: &Response) -> Vec<String> {
    r.body["memory"]
        .as_array()
        .expect("memory")
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect()
}

/// What one attempt of [`eventually`] gives back: `Some`, `Ok` or `true` ends the wait; anything
/// else is tried again.
pub trait Attempt {
    type Done;
    /// The value if done, else why not yet.
    fn settle(self) -> Result<Self::Done, String>;
}

impl<T> Attempt for Option<T> {
    type Done = T;
    fn settle(self) -> Result<T, String> {
        self.ok_or_else(|| "still None".to_owned())
    }
}

impl<T, E: std::fmt::Display> Attempt for Result<T, E> {
    type Done = T;
    fn settle(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

impl Attempt for bool {
    type Done = ();
    fn settle(self) -> Result<(), String> {
        self.then_some(())
            .ok_or_else(|| "the condition still does not hold".to_owned())
    }
}

/// Runs `attempt` until it gives `Some`, `Ok` or `true` (at once, then every 10 ms, backing off to
/// every 100 ms) and returns that value; after `timeout`, panics with the last reason it did not
/// (an `Err`'s text: say what was expected and what was seen).
pub async fn eventually<A, F>(timeout: Duration, mut attempt: impl FnMut() -> F) -> A::Done
where
    A: Attempt,
    F: Future<Output = A>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await.settle() {
            Ok(done) => return done,
            Err(why) if started.elapsed() >= timeout => {
                panic!("not within {timeout:?} ({tries} tries): {why}")
            }
            Err(_) => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The REST path of one employee.
pub fn emp_path(client: &str, emp: &str) -> String {
    format!("/api/v1/employees/clients/{client}/employees/{emp}")
}

pub fn requirements(role: &str) -> Value {
    json!({
        "role": role,
        "industry": "retail banking",
        "expertise_areas": ["cards", "mortgages"],
        "communication_style": "friendly",
        "tools_needed": [],
        "knowledge_domains": ["card policy"],
        "personality_traits": {"empathy_level": 0.9}
    })
}

/// Points the `openai` provider at `stub` (with a key) and, unless `local_memory`, uses the
/// stub's embedding model for memory.
pub fn use_stub(settings: &mut Settings, stub: &stub::Stub, local_memory: bool) {
    for p in settings
        .providers
        .iter_mut()
        .filter(|p| p.kind == workforce::ai::ProviderKind::Openai)
    {
        p.base_url = stub.base_url.clone();
        p.api_key = Some("sk-test".to_owned().into());
    }
    if !local_memory {
        settings.file.memory.embedding_model = STUB_EMBEDDING_MODEL.into();
    }
    settings.file.limits.model_timeout_seconds = 5;
    settings.file.memory.sweep_seconds = 1;
}

pub const STUB_EMBEDDING_MODEL: &str = "text-embedding-3-small";

/// A server whose `openai` provider is the in-process stub (with a key), which also embeds its
/// memories; models as in Leptos.toml.
pub async fn spawn_app_with_stub(owner: PgConnectOptions) -> (TestApp, stub::Stub) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| use_stub(s, &stub, false)).await;
    (app, stub)
}

/// A client allowed the three OpenAI models, with one employee on `primary` then `fallbacks`.
pub async fn employee(app: &TestApp, primary: &str, fallbacks: Value) -> (String, String, String) {
    let (client, key) = app
        .onboard(json!({"name": "Chatty", "tier": "professional", "allowed_models": ["gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo"]}))
        .await;
    let mut req = requirements("claims handler");
    req["model_preferences"] = json!({"primary_model": primary, "fallback_models": fallbacks});
    let emp = app.hire(&client, &key, req).await;
    (client, key, emp)
}

pub fn system_prompt_of(req: &Value) -> String {
    req["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// (event, data) pairs of a Server-Sent Events body.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            (!event.is_empty()).then(|| (event, serde_json::from_str(&data).unwrap_or(Value::Null)))
        })
        .collect()
}

#[tokio::test]
async fn eventually_tries_again_until_the_attempt_succeeds() {
    let mut tries = 0;
    let got = eventually(Duration::from_secs(5), || {
        tries += 1;
        let n = tries;
        async move { (n >= 3).then_some(n) }
    })
    .await;
    assert_eq!(got, 3);
}

#[tokio::test]
#[should_panic(expected = "still 41, want 42")]
async fn eventually_panics_with_the_last_reason_after_the_timeout() {
    eventually(Duration::from_millis(50), || async {
        Err::<(), _>("still 41, want 42")
    })
    .await;
}

/// A server whose built site (`/pkg` under `site_root`) is given, with hashed file names or not.
pub async fn spawn_app_with_site(
    owner: PgConnectOptions,
    site_root: &std::path::Path,
    hash_files: bool,
) -> TestApp {
    let options = leptos::config::LeptosOptions::builder()
        .output_name("workforce")
        .site_root(site_root.to_string_lossy().into_owned())
        .hash_files(hash_files)
        .build();
    TestApp::serving(state_with_site(&owner, options, |_| {}).await).await
}

/// The cookie a page signed in with a client's key sends.
pub fn client_cookie(key: &str) -> String {
    format!("{}={key}", workforce::accounts::CLIENT_COOKIE)
}

/// The cookie the operator's console sends once signed in with the admin token.
pub fn operator_cookie() -> String {
    format!("{}={ADMIN_TOKEN}", workforce::accounts::OPERATOR_COOKIE)
}
