//! The dashboard page, rendered whole on the server (in-order SSR: the session, the employees,
//! their activity, the usage over time and the usage report), for a client with 100 employees
//! that have 90 days of history: `GET /dashboard` with the client's cookie, one at a time.
//!
//! Needs DATABASE_URL (owner) and REDIS_URL, as after `make test`:
//!   source .data/env && cargo bench --bench dashboard --no-default-features --features ssr
//! Optional: BENCH_ITERATIONS (default 200), BENCH_EMPLOYEES (100), BENCH_DAYS (90),
//! BENCH_TURNS_PER_DAY (20 per employee, half with each of two models). Creates (and drops
//! first) `workforce_bench_dashboard`.

mod support;

use sqlx::{ConnectOptions, Connection};
use std::time::{Duration, Instant};
use support::{cpu_seconds, percentile};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations = env("BENCH_ITERATIONS", 200);
    let n_employees = env("BENCH_EMPLOYEES", 100);
    let days = env("BENCH_DAYS", 90);
    let per_day = env("BENCH_TURNS_PER_DAY", 20);
    let server = support::start("workforce_bench_dashboard", |file| {
        for tier in file.tiers.values_mut() {
            tier.requests_per_second = 1e6;
            tier.burst = 1_000_000;
            tier.key_requests_per_second = 1e6;
            tier.key_burst = 1_000_000;
            tier.max_employees = tier.max_employees.max(n_employees as u32);
        }
    })
    .await?;
    let (client, key) = server.onboard("enterprise").await?;
    let employees = server
        .hire(&client, &key, n_employees, "gpt-4o-mini")
        .await?;

    // The history, stored as exchanges are (so whatever the code reads — the exchanges or a
    // roll-up its trigger keeps — is there): `per_day` a day per employee, over `days` days.
    let mut conn = server.owner.connect().await?;
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message,
                                            response, timestamp, model, prompt_tokens,
                                            completion_tokens)
         SELECT $1, e, 'seed-' || d || '-' || k, 'a question', 'an answer',
                now() - make_interval(days => d, mins => k),
                CASE WHEN k % 2 = 0 THEN 'gpt-4o-mini' ELSE 'gpt-4o' END, 120, 80
         FROM unnest($2::text[]) AS e, generate_series(0, $3 - 1) AS d,
              generate_series(1, $4) AS k",
    )
    .bind(&client)
    .bind(&employees)
    .bind(days as i32)
    .bind(per_day as i32)
    .execute(&mut conn)
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
    conn.close().await?;
    println!(
        "{n_employees} employees × {days} days × {per_day} exchanges = {} stored in {:.1} s\n",
        n_employees * days * per_day,
        started.elapsed().as_secs_f64()
    );

    let url = format!("{}/dashboard", server.base);
    let cookie = format!("{}={key}", workforce::accounts::CLIENT_COOKIE);
    let get = || async {
        let r = server
            .http
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "status {}", r.status());
        let html = r.text().await?;
        anyhow::ensure!(
            html.matches("data-testid=\"employee-row\"").count() == n_employees,
            "the page does not list every employee"
        );
        Ok::<_, anyhow::Error>(html.len())
    };
    for _ in 0..20 {
        get().await?;
    }
    let (srv0, _, pg0) = cpu_seconds();
    let mut lat: Vec<Duration> = Vec::with_capacity(iterations);
    let mut bytes = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        bytes = get().await?;
        lat.push(t.elapsed());
    }
    let (srv1, _, pg1) = cpu_seconds();
    lat.sort();
    let per = |s: f64| s * 1000.0 / iterations as f64;
    println!("| renders | page KB | p50 ms | p99 ms | CPU ms/render: server | postgres |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {iterations} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
        bytes as f64 / 1024.0,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        per(srv1 - srv0),
        per(pg1 - pg0)
    );
    server.runtime.shutdown_background();
    Ok(())
}
