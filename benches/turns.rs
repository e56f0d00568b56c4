//! Platform overhead per chat turn: the whole `POST …/interact` path (auth, tenant transactions,
//! prompt, router, persistence, Redis) against an OpenAI-compatible stub that answers at once.
//!
//! Needs DATABASE_URL (owner) and REDIS_URL, as after `make test`:
//!   source .data/env && cargo bench --bench turns --features ssr
//! Optional: BENCH_SECONDS (default 10 per level), BENCH_LEVELS (default "1,16,64"),
//! BENCH_HISTORY (earlier exchanges each employee remembers before a level starts, default 0),
//! BENCH_EMBEDDING (the embedding model; default the stub's text-embedding-3-small, or
//! all-minilm-l6-v2 in-process, with BENCH_HISTORY 0), BENCH_BACKLOG (lines imported right
//! before each level, indexed while it runs; default 0), BENCH_PRECISION=f32 (the local model's
//! matmuls in f32 where they would run in int8), BENCH_TOOLS (`offered`: each employee is given
//! the built-in tools, which the model is offered on every turn but does not call; `called`: each
//! turn also asks for `current_time`, so it takes one tool round — two model calls and a tool
//! call; default none).
//! It creates (and drops first) the database `workforce_bench` on the DATABASE_URL server.

mod support;

use openai_stub as stub;
use serde_json::json;
use sqlx::{ConnectOptions, Connection};
use std::time::{Duration, Instant};
use support::{cpu_seconds, percentile};
use workforce::ai::embeddings::stored_form;
use workforce::memory::server::repo::memory_unit;
use workforce::platform::config::EmbedPrecision;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let levels: Vec<usize> = std::env::var("BENCH_LEVELS")
        .unwrap_or_else(|_| "1,16,64".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let history: usize = std::env::var("BENCH_HISTORY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);

    // Memory recall on, through the stub's (instant) embedding model. The rate limit buckets
    // are drawn on for every request (their cost is measured), but set far above the load so
    // none is refused.
    // BENCH_EMBEDDING=all-minilm-l6-v2 measures with the local embedding model instead.
    let embedding =
        std::env::var("BENCH_EMBEDDING").unwrap_or_else(|_| "text-embedding-3-small".into());
    // BENCH_PRECISION=f32 runs the local model's matmuls in f32 even where int8 is available.
    let f32_only = std::env::var("BENCH_PRECISION").is_ok_and(|p| p == "f32");
    let server = support::start("workforce_bench", |file| {
        file.memory.embedding_model = embedding.clone();
        if f32_only {
            file.local.embed_precision = EmbedPrecision::F32;
        }
        for tier in file.tiers.values_mut() {
            tier.requests_per_second = 1e6;
            tier.burst = 1_000_000;
            tier.key_requests_per_second = 1e6;
            tier.key_burst = 1_000_000;
        }
    })
    .await?;
    let (base, owner, http) = (
        server.base.clone(),
        server.owner.clone(),
        server.http.clone(),
    );
    let (client, key) = server.onboard("enterprise").await?;
    // Each level talks to employees of its own, so every level starts from the same state.
    let total: usize = levels.iter().sum();
    let employees = server.hire(&client, &key, total, "gpt-4o-mini").await?;
    let tools = std::env::var("BENCH_TOOLS").unwrap_or_default();
    anyhow::ensure!(
        matches!(tools.as_str(), "" | "offered" | "called"),
        "BENCH_TOOLS must be offered or called"
    );
    if !tools.is_empty() {
        for e in &employees {
            let r = http
                .patch(format!(
                    "{base}/api/v1/employees/clients/{client}/employees/{e}"
                ))
                .bearer_auth(&key)
                .json(&json!({"tool_access": ["current_time", "memory_search"]}))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "tool_access: {}", r.status());
        }
        println!("tools: {tools}\n");
    }
    // The stub answers `<<current_time>>` with a call to that tool when tools are offered.
    let ask = if tools == "called" {
        " <<current_time>>"
    } else {
        ""
    };

    // Each employee starts with `history` earlier exchanges, embedded by the stub's model, as
    // an employee in service for a while would; recall ranks all of them on every turn.
    let mut conn = owner.connect().await?;
    for e in &employees {
        let (mut ids, mut messages, mut responses, mut vectors) = (vec![], vec![], vec![], vec![]);
        for k in 0..history {
            let (m, r) = (
                format!("earlier question {k} about topic {}", k % 50),
                format!("earlier answer {k}"),
            );
            vectors.push(stored_form(&stub::bag_of_words(&memory_unit(&m, ""), 256)));
            ids.push(format!("history-{k}"));
            messages.push(m);
            responses.push(r);
        }
        sqlx::query(
            "WITH t AS (SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $8::halfvec[])
                                      WITH ORDINALITY AS t(id, m, r, v, k)),
                  i AS (INSERT INTO employee_interactions (client_id, employee_id, interaction_id,
                                                           message, response, timestamp)
                        SELECT $1, $2, t.id, t.m, t.r, now() - make_interval(mins => ($6 - t.k)::int)
                        FROM t)
             INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
             SELECT $1, $2, t.id, $7, t.v FROM t",
        )
        .bind(&client)
        .bind(e)
        .bind(&ids)
        .bind(&messages)
        .bind(&responses)
        .bind(history as i64)
        .bind(workforce::memory::server::repo::vector_key(&embedding))
        .bind(&vectors)
        .execute(&mut conn)
        .await?;
    }
    conn.close().await?;

    // Warm-up: 20 turns per employee. Each level then starts from a vacuumed and analysed table,
    // as autovacuum keeps it in service (see migrations/…_halfvec_recall.sql); what a level
    // writes stays unvacuumed while it runs unless autovacuum comes by.
    let warm: Vec<_> = employees
        .iter()
        .map(|e| {
            let (http, key) = (http.clone(), key.clone());
            let url = format!("{base}/api/v1/employees/clients/{client}/employees/{e}/interact");
            tokio::spawn(async move {
                for i in 0..20 {
                    let _ = http
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&json!({"message": format!("warm-up {i}")}))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for w in warm {
        w.await?;
    }
    let vacuum = || async {
        tokio::time::sleep(Duration::from_millis(500)).await; // let the indexer finish
        let mut conn = owner.connect().await?;
        sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
        conn.close().await
    };

    println!("each employee remembers {history} earlier exchanges when its level starts\n");
    println!("| concurrent | turns | turns/s | p50 ms | p99 ms | CPU ms/turn: server | postgres | server + postgres | load generator + stub |");
    println!("|---|---|---|---|---|---|---|---|---|");
    // BENCH_BACKLOG=N: right before each level, N lines are imported into an employee of their
    // own, so the background indexer is busy embedding them while the level runs.
    let backlog: usize = std::env::var("BENCH_BACKLOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let backlog_employee = if backlog > 0 {
        server.hire(&client, &key, 1, "gpt-4o-mini").await?.pop()
    } else {
        None
    };
    if backlog > 0 {
        println!("a backlog of {backlog} imported lines is being indexed as each level runs\n");
    }
    let mut first = 0;
    for &n in &levels {
        let employees = &employees[first..first + n];
        first += n;
        vacuum().await?;
        if let Some(e) = &backlog_employee {
            let lines: Vec<String> = (0..backlog)
                .map(|i| {
                    json!({"id": format!("level-{n}-{i}"),
                           "role": if i % 2 == 0 { "user" } else { "assistant" },
                           "content": format!("backlog line {i} of level {n} about topic {}", i % 97),
                           "occurred_at": "2024-01-01T00:00:00Z"})
                    .to_string()
                })
                .collect();
            let r = http
                .post(format!(
                    "{base}/api/v1/employees/clients/{client}/employees/{e}/memory/import"
                ))
                .bearer_auth(&key)
                .body(lines.join("\n"))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "backlog import: {}", r.status());
        }
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let (srv0, load0, pg0) = cpu_seconds();
        let started = Instant::now();
        let workers: Vec<_> = (0..n)
            .map(|w| {
                let (http, key) = (http.clone(), key.clone());
                let url = format!(
                    "{base}/api/v1/employees/clients/{client}/employees/{}/interact",
                    employees[w]
                );
                let ask = ask.to_owned();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let ok = http
                            .post(&url)
                            .bearer_auth(&key)
                            .json(&json!({"message": format!("question {i} from worker {w}{ask}")}))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success());
                        if ok {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                        i += 1;
                    }
                    (lat, errors)
                })
            })
            .collect();
        let mut lat = Vec::new();
        let mut errors = 0;
        for w in workers {
            let (l, e) = w.await?;
            lat.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (srv1, load1, pg1) = cpu_seconds();
        lat.sort();
        let turns = lat.len() as f64;
        let per_turn = |secs: f64| secs * 1000.0 / turns.max(1.0);
        println!(
            "| {n} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |{}",
            lat.len(),
            turns / elapsed,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            per_turn(srv1 - srv0),
            per_turn(pg1 - pg0),
            per_turn(srv1 - srv0 + pg1 - pg0),
            per_turn(load1 - load0),
            if errors > 0 {
                format!(" {errors} errors")
            } else {
                String::new()
            }
        );
    }
    // Dropping a runtime inside another one is not allowed; let it go in the background.
    server.runtime.shutdown_background();
    Ok(())
}
