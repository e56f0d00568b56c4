//! Turns when the provider misbehaves (a stream cut off before its end, a hang, NUL in its
//! output) and when two requests carry one Idempotency-Key. (NUL in a request: interact.rs.)

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::{Duration, Instant};
use stub::Behaviour;

/// A streamed turn with an optional Idempotency-Key: the status and the (event, data) pairs.
async fn stream_turn(
    app: &TestApp,
    (client, key, emp): (&str, &str, &str),
    message: &str,
    idempotency_key: Option<&str>,
) -> (u16, Vec<(String, Value)>) {
    let mut req = app
        .http
        .post(app.url(&format!("{}/interact", emp_path(client, emp))))
        .bearer_auth(key)
        .header("accept", "text/event-stream")
        .json(&json!({ "message": message }));
    if let Some(k) = idempotency_key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    (status, sse_events(&r.text().await.expect("body")))
}

/// The text a stream's caller is left with: the tokens after the last `restart`.
fn streamed_text(events: &[(String, Value)]) -> String {
    let from = events
        .iter()
        .rposition(|(e, _)| e == "restart")
        .map_or(0, |i| i + 1);
    events[from..]
        .iter()
        .filter(|(e, _)| e == "token")
        .filter_map(|(_, d)| d["text"].as_str())
        .collect()
}

fn event<'a>(events: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    events.iter().find(|(e, _)| e == name).map(|(_, d)| d)
}

/// Every stored exchange of the test database: (status, response, idempotency key).
async fn stored(owner: &PgConnectOptions) -> Vec<(String, String, Option<String>)> {
    let pool = PgPoolOptions::new()
        .connect_with(owner.clone())
        .await
        .expect("owner pool");
    sqlx::query_as(
        "SELECT status, response, idempotency_key FROM employee_interactions ORDER BY timestamp",
    )
    .fetch_all(&pool)
    .await
    .expect("interactions")
}

#[sqlx::test]
async fn concurrent_streams_with_one_idempotency_key_get_the_stored_answer(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let who = (client.as_str(), key.as_str(), emp.as_str());
    // Slow enough for the two requests of a pair to overlap.
    stub.set_chunk_delay_ms(15);
    let pairs = 5;
    for pair in 0..pairs {
        let idem = format!("pair-{pair}");
        let message = format!("tell me about pair {pair}");
        let (a, b) = tokio::join!(
            stream_turn(&app, who, &message, Some(&idem)),
            stream_turn(&app, who, &message, Some(&idem))
        );
        let mut ids = Vec::new();
        for (status, events) in [&a, &b] {
            assert_eq!(*status, 200, "{events:?}");
            let done = event(events, "done").unwrap_or_else(|| panic!("no done event: {events:?}"));
            assert_eq!(
                streamed_text(events),
                done["message"].as_str().expect("message"),
                "each caller is streamed exactly the answer that is stored"
            );
            ids.push(done["interaction_id"].clone());
        }
        assert_eq!(ids[0], ids[1], "both callers get the one stored turn");
    }
    assert_eq!(
        stub.calls_to("gpt-4o-mini"),
        pairs,
        "one generation per key: the second request never streams an answer of its own"
    );
    let rows = stored(&owner).await;
    assert_eq!(rows.len(), pairs, "{rows:?}");
}

#[sqlx::test]
async fn a_stream_cut_off_before_its_end_is_a_failure_and_the_fallback_answers(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let who = (client.as_str(), key.as_str(), emp.as_str());
    stub.behave("gpt-4o", Behaviour::CutAfter(2));

    // Streamed: gpt-4o's two words, a restart, then gpt-4o-mini's whole answer.
    let (status, events) = stream_turn(&app, who, "first question", None).await;
    assert_eq!(status, 200, "{events:?}");
    assert!(event(&events, "restart").is_some(), "{events:?}");
    let done = event(&events, "done").expect("done");
    assert_eq!(done["model"], "gpt-4o-mini");
    let expected = "[gpt-4o-mini] you said: first question";
    assert_eq!(done["message"], expected);
    assert_eq!(streamed_text(&events), expected);

    // Whole: the cut answer is never returned.
    let r = app.interact(&client, &key, &emp, "second question").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "gpt-4o-mini");
    assert_eq!(r.body["message"], "[gpt-4o-mini] you said: second question");

    // With no model left, the turn fails and is stored as failed, never as completed.
    stub.behave("gpt-4o-mini", Behaviour::CutAfter(1));
    let (status, events) = stream_turn(&app, who, "third question", None).await;
    assert_eq!(status, 200, "the stream had started: {events:?}");
    let error = event(&events, "error").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(error["error"]["code"], "unavailable");
    assert!(event(&events, "done").is_none());
    let r = app.interact(&client, &key, &emp, "fourth question").await;
    assert_eq!(r.status, 503, "{}", r.body);

    let rows = stored(&owner).await;
    let statuses: Vec<&str> = rows.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(statuses, ["completed", "completed", "failed", "failed"]);
    let memory = app.memory(&client, &key, &emp, "").await;
    assert_eq!(
        memory_contents(&memory),
        ["second question", "first question"],
        "only whole answers are remembered"
    );
}

#[sqlx::test]
async fn nul_characters_are_removed_from_model_output(_p: PgPoolOptions, owner: PgConnectOptions) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    stub.behave("gpt-4o-mini", Behaviour::Reply("zero\u{0}width".into()));
    let r = app.interact(&client, &key, &emp, "say it").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "zerowidth");
    let who = (client.as_str(), key.as_str(), emp.as_str());
    let (status, events) = stream_turn(&app, who, "say it again", None).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&events), "zerowidth");
    assert_eq!(
        event(&events, "done").expect("done")["message"],
        "zerowidth"
    );
    let memory = app.memory(&client, &key, &emp, "").await;
    assert_eq!(memory_contents(&memory), ["say it again", "say it"]);
}

#[sqlx::test]
async fn a_hung_model_is_left_within_the_first_token_bound_and_readyz_says_so(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| {
        use_stub(s, &stub, false);
        s.file.limits.model_first_token_seconds = 1;
        s.file.limits.model_timeout_seconds = 30;
        s.file.memory.recall_timeout_ms = 300;
    })
    .await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let (client_b, key_b, emp_b) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    stub.behave("gpt-4o", Behaviour::Hang);

    // Five turns at once, of two clients: each leaves the hung model after 1 s (not the 30 s
    // whole bound).
    let started = Instant::now();
    let questions: Vec<String> = (0..5).map(|i| format!("question {i}")).collect();
    let turns = futures::future::join_all(questions.iter().enumerate().map(|(i, q)| {
        if i % 2 == 0 {
            app.interact(&client, &key, &emp, q)
        } else {
            app.interact(&client_b, &key_b, &emp_b, q)
        }
    }))
    .await;
    let took = started.elapsed();
    for r in &turns {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["model"], "gpt-4o-mini");
    }
    assert!(took < Duration::from_secs(5), "failed over in {took:?}");

    // Five failures in a row, from two clients, open the breaker for everyone: the next turn
    // skips gpt-4o at once.
    let started = Instant::now();
    let r = app.interact(&client, &key, &emp, "and now?").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let ready = app.send("GET", "/readyz", None, None).await;
    assert_eq!(
        ready.status, 200,
        "a model down is not the service down: {}",
        ready.body
    );
    assert_eq!(ready.body["status"], "degraded");
    assert_eq!(ready.body["models"]["gpt-4o"], "down");
    assert_eq!(ready.body["models"]["gpt-4o-mini"], "up");

    // A hung embedding model costs a turn its recall for 300 ms, not its answer.
    stub.behave(STUB_EMBEDDING_MODEL, Behaviour::Hang);
    let started = Instant::now();
    let r = app.interact(&client, &key, &emp, "remember me?").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let ready = app.send("GET", "/readyz", None, None).await;
    assert_eq!(ready.body["embeddings"], "down", "{}", ready.body);
}

#[sqlx::test]
async fn provider_errors_reach_the_client_without_the_providers_details(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| {
        use_stub(s, &stub, false);
        s.file.limits.model_first_token_seconds = 1;
        for p in &mut s.providers {
            if p.kind == workforce::ai::ProviderKind::Openai {
                p.base_url = "http://127.0.0.1:9/internal-gateway/v1".into();
            }
        }
    })
    .await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let r = app.interact(&client, &key, &emp, "hello?").await;
    assert_eq!(r.status, 503, "{}", r.body);
    let said = r.body.to_string();
    assert!(
        !said.contains("127.0.0.1") && !said.contains("internal-gateway"),
        "the provider's address is logged, not returned: {said}"
    );
    assert!(
        said.contains("gpt-4o-mini"),
        "each model is still named: {said}"
    );
}
