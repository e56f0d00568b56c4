//! What the server benches share: a fresh database, the server on a runtime of its own (so its
//! CPU time can be read apart), CPU accounting and percentiles.
#![allow(dead_code)]

use openai_stub as stub;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::time::Duration;
use workforce::platform::{config, db, startup};

/// CPU seconds used so far by the server's threads (named `wf-server…`, its own runtime), by
/// the rest of this process (load generator, stub) and by every PostgreSQL process.
pub fn cpu_seconds() -> (f64, f64, f64) {
    let tick = 100.0; // USER_HZ on Linux
    let stat = |pid: &str| -> Option<(String, f64)> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let name = s.split('(').nth(1)?.split(')').next()?.to_owned();
        let f: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
        let (u, k): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
        Some((name, (u + k) / tick))
    };
    let own = stat("self").map(|(_, c)| c).unwrap_or(0.0);
    let server: f64 = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| stat(&format!("self/task/{}", e.file_name().to_string_lossy())))
        .filter(|(name, _)| name.starts_with("wf-server"))
        .map(|(_, c)| c)
        .sum();
    let pg = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| stat(&e.file_name().to_string_lossy()))
        .filter(|(name, _)| name.starts_with("postgres"))
        .map(|(_, c)| c)
        .sum();
    (server, own - server, pg)
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The server under test, with the stub its providers point at.
pub struct Server {
    pub base: String,
    /// The bench database, as its owner.
    pub owner: PgConnectOptions,
    pub runtime: tokio::runtime::Runtime,
    pub stub: stub::Stub,
    pub http: reqwest::Client,
}

pub const ADMIN: &str = "bench-admin";

/// Creates (dropping it first) the database `name` on DATABASE_URL's server and migrates it;
/// returns DATABASE_URL and the new database as its owner.
pub async fn fresh_database(name: &str) -> anyhow::Result<(String, PgConnectOptions)> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (source .data/env)"))?;
    let owner = PgConnectOptions::from_str(&url)?;
    let mut admin = owner.clone().database("postgres").connect().await?;
    // `name` is one of the benches' own constants, never input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let owner = owner.database(name);
    let mut conn = owner.connect().await?;
    db::MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok((url, owner))
}

/// The benches' settings: `file` with `providers`, the owner's `url`, REDIS_URL and a fixed
/// admin token and secret.
pub fn settings(
    file: config::FileSettings,
    providers: Vec<workforce::ai::ProviderConfig>,
    url: &str,
) -> config::Settings {
    config::Settings {
        file,
        providers,
        database_url: url.to_owned().into(),
        app_database_url: None,
        app_database_password: None,
        redis_url: std::env::var("REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
            .into(),
        admin_token: Some(ADMIN.to_owned().into()),
        secret_key: "bench-server-secret-0123456789abcdef".to_owned().into(),
    }
}

/// Creates the database `name` afresh (see [`fresh_database`]) and starts the server on it;
/// `tune` adjusts the configuration first.
pub async fn start(
    name: &str,
    tune: impl FnOnce(&mut config::FileSettings),
) -> anyhow::Result<Server> {
    let (url, owner) = fresh_database(name).await?;
    let stub = stub::Stub::start().await;
    // `WORKFORCE__SECTION__KEY` variables override Leptos.toml, as for the server.
    let mut file =
        config::parse_with_overrides(&std::fs::read_to_string("Leptos.toml")?, std::env::vars())?;
    tune(&mut file);
    let mut providers = config::resolve_providers(&file);
    for p in providers
        .iter_mut()
        .filter(|p| p.kind == workforce::ai::ProviderKind::Openai)
    {
        p.base_url = stub.base_url.clone();
        p.api_key = Some("sk-bench".to_owned().into());
    }
    let settings = settings(file, providers, &url);
    // The server gets a runtime (and threads) of its own, so its CPU time can be told apart
    // from the load generator's and the stub's, which run on the caller's.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wf-server")
        .enable_all()
        .build()?;
    let app_options = db::app_options(
        &owner,
        std::env::var("WORKFORCE_APP_DB_PASSWORD").ok().as_deref(),
    );
    let base = runtime
        .spawn(async move {
            let pool = db::pool_options(settings.file.limits.db_max_connections)
                .connect_with(app_options)
                .await?;
            let options = leptos::config::LeptosOptions::builder()
                .output_name("workforce")
                .build();
            let state = startup::build_state(pool, settings, options)?;
            let limits = state.settings.file.server.clone();
            let router = startup::build_router(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            tokio::spawn(async move {
                workforce::platform::serve::serve(listener, router, &limits, std::future::pending())
                    .await
            });
            Ok::<_, anyhow::Error>(base)
        })
        .await??;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    Ok(Server {
        base,
        owner,
        runtime,
        stub,
        http,
    })
}

impl Server {
    /// Onboards a client on `tier`; returns (client id, API key).
    pub async fn onboard(&self, tier: &str) -> anyhow::Result<(String, String)> {
        let r: serde_json::Value = self
            .http
            .post(format!("{}/api/v1/employees/clients", self.base))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"name": "Bench", "tier": tier}))
            .send()
            .await?
            .json()
            .await?;
        Ok((
            r["client"]["id"].as_str().unwrap_or_default().to_owned(),
            r["api_key"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Creates `n` employees answering with `model`; returns their ids.
    pub async fn hire(
        &self,
        client: &str,
        key: &str,
        n: usize,
        model: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut employees = Vec::new();
        for i in 0..n {
            let e: serde_json::Value = self
                .http
                .post(format!("{}/api/v1/employees/clients/{client}/employees", self.base))
                .bearer_auth(key)
                .json(&serde_json::json!({"role": format!("agent {i}"), "industry": "retail", "communication_style": "friendly",
                              "model_preferences": {"primary_model": model}}))
                .send()
                .await?
                .json()
                .await?;
            employees.push(e["id"].as_str().unwrap_or_default().to_owned());
        }
        Ok(employees)
    }
}

/// The lines of a JSON Lines file.
pub fn read_jsonl(path: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{path}: {e} (run scripts/eval-data.sh first)"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

/// Recall at each k, and the reciprocal rank, of rankings against their evidence.
#[derive(Default, Clone)]
pub struct Score {
    pub n: usize,
    hits: Vec<usize>,
    rr: f64,
}

impl Score {
    /// One question: the rank of its first evidence hit (none: not found), counted at each of
    /// `ks`.
    pub fn add(&mut self, first_rank: Option<usize>, ks: &[usize]) {
        self.n += 1;
        self.hits.resize(ks.len(), 0);
        if let Some(r) = first_rank {
            for (i, k) in ks.iter().enumerate() {
                if r <= *k {
                    self.hits[i] += 1;
                }
            }
            self.rr += 1.0 / r as f64;
        }
    }

    /// Recall at each k, then the mean reciprocal rank, as table cells.
    pub fn row(&self) -> String {
        let n = self.n.max(1) as f64;
        let mut s: Vec<String> = self
            .hits
            .iter()
            .map(|h| format!("{:.2}", *h as f64 / n))
            .collect();
        s.push(format!("{:.3}", self.rr / n));
        s.join(" | ")
    }
}

/// A deterministic pseudo-random 384-d unit vector (xorshift).
pub fn unit_vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut v: Vec<f32> = (0..384)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

/// Three query words drawn from the skewed 20,000-word vocabulary the benches store (word n
/// drawn as 20000·u³).
pub fn query_words(q: u64) -> String {
    let mut x = (q + 1).wrapping_mul(0x2545F4914F6CDD1D) | 1;
    (0..3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            format!("w{}", (20000.0 * u.powi(3)).floor() as u64)
        })
        .collect::<Vec<_>>()
        .join(" ")
}
