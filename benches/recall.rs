//! Recall at scale: 1,000,000 stored exchanges with 384-d vectors and 12-word messages spread
//! over 1,000 employees of one client; top-10 for one employee through the real path
//! (`repo::recall` as `workforce_app` inside the client's RLS transaction). Reports p50/p99
//! latency and recall@10 of recall by meaning against an exact brute-force ranking of that
//! employee's vectors computed here in Rust, then p50/p99 of keyword and hybrid recall.
//!
//!   source .data/env && cargo bench --bench recall --no-default-features --features ssr
//! Optional: BENCH_ROWS (default 1000000), BENCH_EMPLOYEES (1000), BENCH_QUERIES (500).
//! Creates the database `workforce_bench_recall` (dropped again at the end; ~5 GB meanwhile);
//! loading takes a minute or two.

#[path = "support/mod.rs"]
mod support;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use std::str::FromStr;
use std::time::Instant;
use workforce::ai::embeddings::stored_form;
use workforce::core::{ClientId, EmployeeId};
use workforce::memory::server::repo;
use workforce::platform::db::{self, TenantTx};

const MODEL: &str = "all-minilm-l6-v2";
/// Recall by meaning alone, the ten closest.
const DENSE_ONLY: repo::Fusion = repo::Fusion {
    per_signal: 10,
    k: 60.0,
    dense_weight: 1.0,
    keyword_weight: 0.0,
};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// A vector as the exact ranking sees it.
type Form = fn(&[f32]) -> Vec<f64>;

fn as_stored(v: &[f32]) -> Vec<f64> {
    stored_form(v)
        .as_slice()
        .iter()
        .map(|x| f64::from(x.to_f32()))
        .collect()
}

fn as_f32(v: &[f32]) -> Vec<f64> {
    v.iter().map(|x| f64::from(*x)).collect()
}

/// The ids of the 10 rows most similar to `query`, every row compared.
fn exact_top10(rows: impl Iterator<Item = usize>, query: &[f32], form: Form) -> Vec<String> {
    let q = form(query);
    let mut ranked: Vec<(f64, usize)> = rows
        .map(|r| (-cosine(&form(&support::unit_vector(r as u64)), &q), r))
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    ranked.iter().take(10).map(|(_, r)| r.to_string()).collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (source .data/env)"))?;
    let rows = env_or("BENCH_ROWS", 1_000_000);
    let employees = env_or("BENCH_EMPLOYEES", 1_000);
    let queries = env_or("BENCH_QUERIES", 500);

    let owner = PgConnectOptions::from_str(&url)?;
    let mut admin = owner.clone().database("postgres").connect().await?;
    sqlx::query("DROP DATABASE IF EXISTS workforce_bench_recall WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::query("CREATE DATABASE workforce_bench_recall")
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let owner = owner.database("workforce_bench_recall");
    let mut conn = owner.connect().await?;
    db::MIGRATOR.run(&mut conn).await?;

    // One client, `employees` employees, `rows` exchanges dealt round-robin, so each
    // employee's rows are spread over the whole table (the worst case for locality).
    let client = "client_000000000000000000000001";
    let emp = |i: usize| format!("{client}_emp_{i:024x}");
    sqlx::query("INSERT INTO clients (id, name, tier, configuration) VALUES ($1, 'Bench', 'enterprise', '{}')")
        .bind(client)
        .execute(&mut conn)
        .await?;
    sqlx::query(
        "INSERT INTO employees (id, client_id, name, role, industry, expertise_areas, personality,
                                model_preferences, tool_access, knowledge_sources, status)
         SELECT $1 || '_emp_' || lpad(to_hex(i), 24, '0'), $1, 'E', 'r', 'i', '{}', '{}', '{}', '{}', '{}', 'active'
         FROM generate_series(0, $2 - 1) AS i",
    )
    .bind(client)
    .bind(employees as i64)
    .execute(&mut conn)
    .await?;
    // Words for the keyword path: each message has 12, drawn from 20,000 with a skew (cubed
    // uniform), so a few words are in most messages of an employee and most are rare — as in
    // real text; the queries draw theirs the same way (`bench_word`).
    sqlx::query(
        "CREATE FUNCTION wf_bench_word(seed bigint) RETURNS text IMMUTABLE LANGUAGE sql AS
         $$ SELECT 'w' || floor(20000 * power((abs(hashint8(seed)::bigint) % 1000000) / 1000000.0, 3))::int $$",
    )
    .execute(&mut conn)
    .await?;
    let load = Instant::now();
    let batch = 20_000usize;
    for start in (0..rows).step_by(batch) {
        let end = (start + batch).min(rows);
        // The vectors are generated here (the same ones the exact ranking uses) and sent as
        // one array per batch.
        let mut ids = Vec::with_capacity(end - start);
        let mut vecs = Vec::with_capacity(end - start);
        for r in start..end {
            ids.push(r as i64);
            vecs.push(stored_form(&support::unit_vector(r as u64)));
        }
        sqlx::query(
            "WITH t AS (SELECT $1 AS client_id, $1 || '_emp_' || lpad(to_hex((r % $3)::int), 24, '0') AS employee_id,
                               r::text AS interaction_id, r, v
                        FROM unnest($2::bigint[], $6::halfvec[]) AS t(r, v)),
                  i AS (INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message,
                                                           response, timestamp)
                        SELECT client_id, employee_id, interaction_id,
                               'message ' || r || ' ' || (SELECT string_agg(wf_bench_word(r * 32 + k), ' ')
                                                          FROM generate_series(1, 12) k),
                               'answer ' || r,
                               now() - make_interval(secs => $5::float8 - r)
                        FROM t)
             INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
             SELECT client_id, employee_id, interaction_id, $4, v FROM t",
        )
        .bind(client)
        .bind(&ids)
        .bind(employees as i64)
        .bind(MODEL)
        .bind(rows as f64)
        .bind(&vecs)
        .execute(&mut conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO employee_turn_counts (client_id, employee_id, answered)
         SELECT client_id, employee_id, count(*) FROM employee_interactions
         GROUP BY client_id, employee_id",
    )
    .execute(&mut conn)
    .await?;
    for table in ["employee_interactions", "interaction_vectors"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&mut conn)
            .await?;
    }
    // Write the load out now, so no checkpoint runs during the measurement.
    sqlx::query("CHECKPOINT").execute(&mut conn).await?;
    let size: String = sqlx::query_scalar(
        "SELECT pg_size_pretty(pg_total_relation_size('employee_interactions')
                               + pg_total_relation_size('interaction_vectors'))",
    )
    .fetch_one(&mut conn)
    .await?;
    println!(
        "loaded {rows} rows over {employees} employees in {:.0} s ({size} with indexes)",
        load.elapsed().as_secs_f64()
    );
    conn.close().await?;

    let pool = db::pool_options(4)
        .connect_with(db::app_options(
            &owner,
            std::env::var("WORKFORCE_APP_DB_PASSWORD").ok().as_deref(),
        ))
        .await?;
    let client_id = ClientId::parse(client).ok_or_else(|| anyhow::anyhow!("client id"))?;
    println!("| pass | rows | employees | queries | recall@10 | recall@10 vs f32 | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    // Pass 1 finds each employee's index pages outside PostgreSQL's buffers (in the kernel's
    // page cache at best); pass 2 asks the same queries again, with them in shared_buffers.
    for pass in 1..=2 {
        let mut latencies = Vec::with_capacity(queries);
        let (mut hits, mut hits_f32) = (0usize, 0usize);
        for q in 0..queries {
            let e = (q * 7919) % employees;
            let employee =
                EmployeeId::parse(&emp(e)).ok_or_else(|| anyhow::anyhow!("employee id"))?;
            let query = support::unit_vector(10_000_000 + q as u64);
            let qv = stored_form(&query);
            let t = Instant::now();
            let mut tx = TenantTx::begin(&pool, &client_id).await?;
            let found = repo::recall(
                &mut tx,
                &employee,
                repo::RecallQuery {
                    dense: Some((MODEL, &qv)),
                    words: "",
                },
                DENSE_ONLY,
                10,
            )
            .await?;
            tx.commit().await?;
            latencies.push(t.elapsed());

            // Exact top-10 for this employee (every row r with r % employees == e), over the
            // vectors as stored (half precision), and over the f32 vectors they came from.
            let rows_of_e = (e..rows).step_by(employees);
            for (form, count) in [(as_stored as Form, &mut hits), (as_f32, &mut hits_f32)] {
                let truth = exact_top10(rows_of_e.clone(), &query, form);
                *count += found
                    .iter()
                    .filter(|f| truth.iter().any(|t| t == f.record.interaction_id.as_str()))
                    .count();
            }
        }
        latencies.sort();
        println!(
            "| {pass} | {rows} | {employees} | {queries} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} |",
            hits as f64 / (queries * 10) as f64,
            hits_f32 as f64 / (queries * 10) as f64,
            support::percentile(&latencies, 0.5),
            support::percentile(&latencies, 0.99),
            support::percentile(&latencies, 1.0)
        );
    }
    // Keyword and hybrid recall, as a turn runs it: three words of the skewed vocabulary (most
    // queries share a common word with hundreds of the employee's exchanges), fused with the
    // vector ranking, 50 candidates a signal, the top 10.
    println!("\n| search | rows | employees | queries | p50 ms | p99 ms | max ms | mean results |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, dense, keyword_weight) in [
        ("keyword", false, 1.0),
        ("hybrid", true, 1.0),
        ("hybrid (2nd pass)", true, 1.0),
    ] {
        let fusion = repo::Fusion {
            per_signal: 50,
            k: 60.0,
            dense_weight: 1.0,
            keyword_weight,
        };
        let mut latencies = Vec::with_capacity(queries);
        let mut results = 0usize;
        for q in 0..queries {
            let e = (q * 7919) % employees;
            let employee =
                EmployeeId::parse(&emp(e)).ok_or_else(|| anyhow::anyhow!("employee id"))?;
            let qv = stored_form(&support::unit_vector(10_000_000 + q as u64));
            let words = support::query_words(q as u64);
            let t = Instant::now();
            let mut tx = TenantTx::begin(&pool, &client_id).await?;
            let found = repo::recall(
                &mut tx,
                &employee,
                repo::RecallQuery {
                    dense: dense.then_some((MODEL, &qv)),
                    words: &words,
                },
                fusion,
                10,
            )
            .await?;
            tx.commit().await?;
            latencies.push(t.elapsed());
            results += found.len();
        }
        latencies.sort();
        println!(
            "| {name} | {rows} | {employees} | {queries} | {:.2} | {:.2} | {:.2} | {:.1} |",
            support::percentile(&latencies, 0.5),
            support::percentile(&latencies, 0.99),
            support::percentile(&latencies, 1.0),
            results as f64 / queries as f64
        );
    }
    // The plan of one query, as the server runs it (workforce_app, RLS on).
    let mut tx = TenantTx::begin(&pool, &client_id).await?;
    let plan: Vec<String> = sqlx::query(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
         SELECT interaction_id, embedding <=> $4 AS distance FROM interaction_vectors
         WHERE client_id = $1 AND employee_id = $2 AND model = $3 AND vector_dims(embedding) <= 1024
         ORDER BY embedding <=> $4 LIMIT 10",
    )
    .bind(client)
    .bind(emp(1))
    .bind(MODEL)
    .bind(stored_form(&support::unit_vector(42)))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .filter_map(|r| r.try_get::<String, _>(0).ok())
    .map(|l| l.chars().take(150).collect())
    .collect();
    tx.commit().await?;
    println!(
        "\nplan of the ranking step for one employee:\n{}",
        plan.join("\n")
    );
    pool.close().await;
    // 5 GB is too much to leave behind.
    let mut admin = PgConnectOptions::from_str(&url)?
        .database("postgres")
        .connect()
        .await?;
    sqlx::query("DROP DATABASE workforce_bench_recall WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    Ok(())
}
