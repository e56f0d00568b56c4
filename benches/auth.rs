//! What authentication, rate limiting and budgets cost a request, piece by piece, against the
//! real PostgreSQL and Redis:
//! - checking an API key's secret against its keyed digest (CPU only);
//! - resolving a key: from the cache of verified keys, and afresh (one lookup through the
//!   operator path) for a right key, a wrong secret of a known key id and an unknown key id —
//!   the last two must cost the same;
//! - drawing on the client's and the key's rate-limit buckets (one Redis script);
//! - reserving and settling a turn's token budget (two tenant transactions).
//!
//! Needs DATABASE_URL (owner) and REDIS_URL, as after `make test`:
//!   source .data/env && cargo bench --bench auth --no-default-features --features ssr
//! Optional: BENCH_ITERATIONS (default 2000). Creates (and drops first) `workforce_bench_auth`.

mod support;

use std::time::{Duration, Instant};
use workforce::accounts::server::keys::{authenticate_client, KeyCache};
use workforce::ai::{ChatMessage, ChatRequest};
use workforce::clients::ClientInfo;
use workforce::platform::db::TenantTx;
use workforce::platform::limits::Rate;
use workforce::platform::{config, db, startup};
use workforce::usage::server::budget;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len() as f64;
    let p = |q: f64| us(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    println!(
        "{name:<52} mean {mean:>8.1} µs   p50 {:>8.1} µs   p99 {:>8.1} µs",
        p(0.5),
        p(0.99)
    );
}

async fn time<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..n / 10 {
        f().await;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let (url, owner) = support::fresh_database("workforce_bench_auth").await?;
    let file = config::parse_with_overrides(&std::fs::read_to_string("Leptos.toml")?, [])?;
    let settings = support::settings(file.clone(), config::resolve_providers(&file), &url);
    let pool = db::pool_options(8)
        .connect_with(db::app_options(
            &owner,
            std::env::var("WORKFORCE_APP_DB_PASSWORD").ok().as_deref(),
        ))
        .await?;
    let options = leptos::config::LeptosOptions::builder()
        .output_name("workforce")
        .build();
    let state = startup::build_state(pool.clone(), settings, options)?;
    let onboarded = workforce::clients::server::service::onboard_client(
        &state,
        &ClientInfo {
            name: "Bench".into(),
            tier: "starter".into(),
            ..Default::default()
        },
    )
    .await?;
    let key = onboarded.api_key.clone();
    let (head, secret) = key.rsplit_once('_').expect("key shape");
    let wrong = format!("{head}_{}", "0".repeat(secret.len()));
    let unknown = format!("wfk_0123456789abcdef_{}", "0".repeat(secret.len()));
    let digest = state.secrets.api_key_digest(secret);
    println!("{n} iterations each, sequential, one client\n");

    report(
        "secret checked against its keyed digest (CPU)",
        time(n, || async {
            assert!(state.secrets.api_key_matches(secret, &digest));
        })
        .await,
    );
    let cache = KeyCache::default();
    let long = Duration::from_secs(3600);
    report(
        "key resolved from the cache of verified keys",
        time(n, || async {
            authenticate_client(&pool, &cache, &state.secrets, long, &key)
                .await
                .expect("valid");
        })
        .await,
    );
    for (name, k, ok) in [
        (
            "key resolved afresh: right key (lookup + check)",
            &key,
            true,
        ),
        (
            "key resolved afresh: wrong secret of a known id",
            &wrong,
            false,
        ),
        ("key resolved afresh: unknown key id", &unknown, false),
    ] {
        let cache = KeyCache::default();
        report(
            name,
            time(n, || async {
                let r = authenticate_client(&pool, &cache, &state.secrets, Duration::ZERO, k).await;
                assert_eq!(r.is_ok(), ok);
            })
            .await,
        );
    }
    let rate = Rate {
        per_second: 1e9,
        burst: 1_000_000_000,
    };
    report(
        "rate limit: client and key buckets (one Redis script)",
        time(n, || async {
            state
                .limiter
                .take(&state.cache, &[("bench:client", rate), ("bench:key", rate)])
                .await
                .expect("under the limit");
        })
        .await,
    );
    let who = authenticate_client(&pool, &cache, &state.secrets, long, &key).await?;
    let req = ChatRequest {
        tenant: who.client_id.as_str().to_owned(),
        models: vec!["gpt-4o-mini".into()],
        messages: vec![ChatMessage::User("hello".into())],
        temperature: 0.7,
        max_tokens: 10,
        tools: Vec::new(),
        tools_closed: false,
    };
    report(
        "limits in force: the client's tier and overrides (in-process cache)",
        time(n, || async {
            workforce::clients::server::limits::effective(&state, &who)
                .await
                .expect("limits");
        })
        .await,
    );
    let limits = workforce::clients::server::limits::effective(&state, &who).await?;
    let budgets = budget::Budgets {
        client: budget::Limit::of_tier(&limits.tier),
        employee: None,
    };
    let employee = workforce::core::EmployeeId::generate(&who.client_id);
    report(
        "budget: reserve, then settle (two tenant transactions)",
        time(n, || async {
            let mut tx = TenantTx::begin(&pool, &who.client_id).await.expect("tx");
            let r = budget::reserve(&mut tx, &employee, budgets, &req, 0)
                .await
                .expect("reserve")
                .expect("the starter tier has a budget");
            tx.commit().await.expect("commit");
            let mut tx = TenantTx::begin(&pool, &who.client_id).await.expect("tx");
            budget::settle(&mut tx, &employee, r, 0, 0)
                .await
                .expect("settle");
            tx.commit().await.expect("commit");
        })
        .await,
    );
    Ok(())
}
