//! Conversations through the REST API, against the real database and Redis, with an in-process
//! OpenAI-compatible stub as the model provider.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;
use workforce::core::ClientId;
use workforce::platform::db::TenantTx;

#[sqlx::test]
async fn an_answer_in_the_employees_voice_is_stored_and_remembered(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;

    let r = app
        .interact(&client, &key, &emp, "My car was hit while parked.")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "gpt-4o-mini");
    assert_eq!(
        r.body["message"],
        "[gpt-4o-mini] you said: My car was hit while parked."
    );
    assert!(r.body["usage"]["prompt_tokens"].as_u64().expect("usage") > 0);
    let first_id = r.body["interaction_id"].as_str().expect("id").to_owned();

    // The system prompt carries the role, the industry and the personality (empathy 0.9).
    let reqs = stub.requests();
    let system = system_prompt_of(&reqs[0]);
    assert_eq!(reqs[0]["messages"][0]["role"], "system");
    assert!(
        system.contains("a claims handler in the retail banking industry"),
        "{system}"
    );
    assert!(
        system.contains("Acknowledge the person's feelings"),
        "{system}"
    );
    assert!(system.contains("warm, friendly"), "{system}");
    // Temperature follows creativity (friendly → 0.6 → 0.68).
    assert!((reqs[0]["temperature"].as_f64().expect("temperature") - 0.68).abs() < 1e-6);

    // A later turn is given the earlier exchange as context.
    let r = app
        .interact(&client, &key, &emp, "What happens next?")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["memories_used"], json!([first_id]));
    let second = &stub.requests()[1]["messages"];
    let contents: Vec<&str> = second
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(
        contents[1..],
        [
            "My car was hit while parked.",
            "[gpt-4o-mini] you said: My car was hit while parked.",
            "What happens next?"
        ]
    );

    // Memory, newest first.
    let r = app.memory(&client, &key, &emp, "limit=5").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let memory = r.body["memory"].as_array().expect("memory");
    assert_eq!(memory.len(), 2);
    assert_eq!(memory[0]["content"], "What happens next?");
    assert_eq!(memory[1]["id"], first_id);
}

#[sqlx::test]
async fn a_failing_primary_is_retried_then_the_fallback_answers(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    stub.fail("gpt-4o", 500);

    let r = app.interact(&client, &key, &emp, "hello").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "gpt-4o-mini");
    assert_eq!(
        stub.calls_to("gpt-4o"),
        4,
        "the primary is tried once and retried three times"
    );
    assert_eq!(stub.calls_to("gpt-4o-mini"), 1);
    // Only the employee's own (allowed) models were ever called.
    let allowed: std::collections::HashSet<String> =
        ["gpt-4o".to_string(), "gpt-4o-mini".to_string()].into();
    assert!(
        stub.models_called().is_subset(&allowed),
        "{:?}",
        stub.models_called()
    );

    // A 400 from the provider is not retried.
    stub.fail("gpt-4o", 400);
    let before = stub.calls_to("gpt-4o");
    let r = app.interact(&client, &key, &emp, "again").await;
    assert_eq!(r.status, 200);
    assert_eq!(stub.calls_to("gpt-4o") - before, 1);
}

#[sqlx::test]
async fn when_every_model_fails_the_message_is_still_stored(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    stub.fail("gpt-4o", 503);
    stub.fail("gpt-4o-mini", 429);

    let r = app.interact(&client, &key, &emp, "is anyone there?").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unavailable");
    let msg = r.body["error"]["message"].as_str().expect("message");
    assert!(
        msg.contains("gpt-4o") && msg.contains("gpt-4o-mini"),
        "{msg}"
    );

    let cid = ClientId::parse(&client).expect("cid");
    let mut tx = TenantTx::begin(&app.state.pool, &cid).await.expect("tx");
    let (message, status): (String, String) =
        sqlx::query_as("SELECT message, status FROM employee_interactions WHERE employee_id = $1")
            .bind(&emp)
            .fetch_one(&mut *tx)
            .await
            .expect("stored");
    assert_eq!(
        (message.as_str(), status.as_str()),
        ("is anyone there?", "failed")
    );
}

#[sqlx::test]
async fn a_retried_request_with_the_same_idempotency_key_gets_the_first_answer(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let url = app.url(&format!("{}/interact", emp_path(&client, &emp)));
    let send = |k: &'static str, msg: &'static str| {
        let http = app.http.clone();
        let (url, key) = (url.clone(), key.clone());
        async move {
            let r = http
                .post(url)
                .bearer_auth(key)
                .header("Idempotency-Key", k)
                .json(&json!({"message": msg}))
                .send()
                .await
                .expect("send");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let (s1, first) = send("order-42", "book me a slot").await;
    let (s2, again) = send("order-42", "book me a slot").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["interaction_id"], again["interaction_id"]);
    assert_eq!(first["message"], again["message"]);
    assert_eq!(stub.requests().len(), 1, "the model was called once");
    let (_, other) = send("order-43", "book me a slot").await;
    assert_ne!(other["interaction_id"], first["interaction_id"]);
}

#[sqlx::test]
async fn conversations_refuse_bad_input_and_paused_employees(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let path = format!("{}/interact", emp_path(&client, &emp));
    for (body, field) in [
        (json!({"message": "   "}), "message"),
        (json!({"message": "x".repeat(16_001)}), "message"),
        (
            json!({"message": "hi", "task_type": "no spaces"}),
            "task_type",
        ),
        (json!({"message": "hi", "mood": "happy"}), "mood"),
        (
            json!({"message": "hi", "context": "not an object"}),
            "context",
        ),
        // NUL, which no text column can hold: named, never a 500.
        (json!({"message": "a\u{0}b"}), "message"),
        (
            json!({"message": "hi", "context": {"note": ["ok", "x\u{0}"]}}),
            "context.note[1]",
        ),
    ] {
        let r = app.send("POST", &path, Some(&key), Some(body)).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.body["error"]["fields"][field].is_string(),
            "{field}: {}",
            r.body
        );
    }
    for q in ["limit=0", "limit=101", "limit=ten"] {
        let r = app.memory(&client, &key, &emp, q).await;
        assert_eq!(r.status, 422, "{q}");
    }
    app.transition(&client, &key, &emp, "pause").await;
    let r = app.interact(&client, &key, &emp, "hello?").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        stub.requests().is_empty(),
        "no model is called for bad input or a paused employee"
    );
}

#[sqlx::test]
async fn a_model_failing_on_the_provider_side_is_skipped_by_its_breaker_a_refused_request_is_not(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let turn = |i: usize| {
        let (app, client, key, emp) = (&app, &client, &key, &emp);
        async move {
            let r = app.interact(client, key, emp, &format!("turn {i}")).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["model"], "gpt-4o-mini");
        }
    };
    // A request the provider refuses (400: say, this client's context is too long) says nothing
    // about the model's health: however often, the primary is still tried.
    stub.fail("gpt-4o", 400);
    for i in 0..7 {
        turn(i).await;
    }
    assert_eq!(stub.calls_to("gpt-4o"), 7);
    // Failures on the provider's side do count (a cut-off answer is one, and is not retried):
    // five in a row open the breaker, and the next turns go straight to the fallback.
    stub.behave("gpt-4o", stub::Behaviour::CutAfter(1));
    for i in 7..12 {
        turn(i).await;
    }
    assert_eq!(stub.calls_to("gpt-4o"), 12);
    for i in 12..15 {
        turn(i).await;
    }
    assert_eq!(
        stub.calls_to("gpt-4o"),
        12,
        "the open breaker skipped the primary"
    );
    assert_eq!(stub.calls_to("gpt-4o-mini"), 15);

    // Those failures were all one client's: another client's turn still tries the primary.
    let (client_b, key_b, emp_b) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let r = app.interact(&client_b, &key_b, &emp_b, "hello").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        stub.calls_to("gpt-4o"),
        13,
        "one client's failures do not switch the model off for the others"
    );
    // Now failures in a row come from two clients: the model is skipped for everyone, also for
    // a client that never saw it fail.
    let (client_c, key_c, emp_c) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let r = app.interact(&client_c, &key_c, &emp_c, "hello").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "gpt-4o-mini");
    assert_eq!(stub.calls_to("gpt-4o"), 13, "the shared breaker is open");
}

#[sqlx::test]
async fn the_streamed_text_is_exactly_the_stored_answer(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    stub.fail("gpt-4o", 500);

    for sibling in [false, true] {
        let (status, events) = app
            .interact_stream(
                &client,
                &key,
                &emp,
                "tell me about my claim please",
                sibling,
            )
            .await;
        assert_eq!(status, 200);
        let tokens: Vec<&str> = events
            .iter()
            .filter(|(e, _)| e == "token")
            .filter_map(|(_, d)| d["text"].as_str())
            .collect();
        assert!(tokens.len() > 3, "streamed in pieces: {tokens:?}");
        let streamed = tokens.concat();
        let (last, done) = events.last().expect("events");
        assert_eq!(last, "done", "{events:?}");
        assert_eq!(done["message"], streamed.as_str());
        assert_eq!(
            done["model"], "gpt-4o-mini",
            "fell back before the first token"
        );
        assert!(done["usage"]["completion_tokens"].as_u64().expect("usage") > 0);

        let r = app.memory(&client, &key, &emp, "limit=1").await;
        assert_eq!(r.body["memory"][0]["response"], streamed.as_str());
        assert_eq!(r.body["memory"][0]["id"], done["interaction_id"]);
    }
    // Every model failing before the first token is an ordinary 503, and the turn is stored.
    stub.fail("gpt-4o-mini", 500);
    let (status, _) = app
        .interact_stream(&client, &key, &emp, "anyone?", false)
        .await;
    assert_eq!(status, 503);
}

#[sqlx::test]
async fn a_caller_that_disconnects_mid_stream_loses_nothing(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    stub.set_chunk_delay_ms(30);
    let mut r = app
        .http
        .post(app.url(&format!("{}/interact", emp_path(&client, &emp))))
        .bearer_auth(&key)
        .header("accept", "text/event-stream")
        .json(&json!({"message": "one two three four five six"}))
        .send()
        .await
        .expect("send");
    let first = r.chunk().await.expect("chunk");
    assert!(first.is_some());
    drop(r);

    let expected = "[gpt-4o-mini] you said: one two three four five six";
    eventually(Duration::from_secs(10), || async {
        let m = app.memory(&client, &key, &emp, "").await;
        let stored = &m.body["memory"][0]["response"];
        if *stored == expected {
            Ok(())
        } else {
            Err(format!(
                "the whole answer was stored after the caller left: want {expected:?}, memory has {stored}"
            ))
        }
    })
    .await;
}

#[sqlx::test]
async fn stop_sent_to_another_instance_ends_the_answer_and_keeps_what_was_written(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let other = spawn_app_with(owner, |s| use_stub(s, &stub, false)).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let words: Vec<String> = (1..=200).map(|i| format!("w{i}")).collect();
    stub.behave("gpt-4o-mini", stub::Behaviour::Reply(words.join(" ")));
    stub.set_chunk_delay_ms(40);
    let stop_path = format!("{}/interact/stop", emp_path(&client, &emp));
    let stop = |turn_key: Option<&'static str>| {
        let mut req = other.http.post(other.url(&stop_path)).bearer_auth(&key);
        if let Some(k) = turn_key {
            req = req.header("idempotency-key", k);
        }
        async move {
            let r = req.send().await.expect("stop");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Nothing runs under this key yet: nothing to stop.
    let (status, body) = stop(Some("stop-me")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = stop(None).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["Idempotency-Key"].is_string(),
        "{body}"
    );

    // The answer streams on the first instance; the stop goes to the second.
    let mut r = app
        .http
        .post(app.url(&format!("{}/interact/stream", emp_path(&client, &emp))))
        .bearer_auth(&key)
        .header("idempotency-key", "stop-me")
        .json(&json!({"message": "tell me everything"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let mut body = String::new();
    while sse_events(&body)
        .iter()
        .filter(|(e, _)| e == "token")
        .count()
        < 3
    {
        let chunk = r.chunk().await.expect("chunk").expect("more of the stream");
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    let (status, reply) = stop(Some("stop-me")).await;
    assert_eq!(status, 202, "{reply}");
    while let Some(chunk) = r.chunk().await.expect("chunk") {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events = sse_events(&body);
    let streamed: String = events
        .iter()
        .filter(|(e, _)| e == "token")
        .map(|(_, d)| d["text"].as_str().expect("text"))
        .collect();
    let (last, done) = events.last().expect("events");
    assert_eq!(last, "done", "{body}");
    assert_eq!(done["stopped"], true, "{done}");
    assert_eq!(
        done["message"],
        streamed.as_str(),
        "the stored answer is what was shown"
    );
    let shown = streamed.split(' ').count();
    assert!(
        (3..200).contains(&shown),
        "stopped part-way: {shown} of 200 words"
    );
    assert!(done["usage"]["completion_tokens"].as_u64().expect("usage") > 0);

    // The model's request was closed: it writes nothing more.
    let written = stub.chunks_streamed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stub.chunks_streamed(), written, "the model kept writing");
    assert!(written < 150, "{written} chunks written");

    // The same key returns the stopped turn; there is nothing left to stop.
    let again = app
        .http
        .post(app.url(&format!("{}/interact", emp_path(&client, &emp))))
        .bearer_auth(&key)
        .header("idempotency-key", "stop-me")
        .json(&json!({"message": "tell me everything"}))
        .send()
        .await
        .expect("send")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(again["interaction_id"], done["interaction_id"]);
    assert_eq!(again["stopped"], true);
    assert_eq!(again["message"], streamed.as_str());
    let (status, body) = stop(Some("stop-me")).await;
    assert_eq!(status, 409, "{body}");

    // It is remembered as it was shown.
    let m = app.memory(&client, &key, &emp, "").await;
    assert_eq!(m.body["memory"][0]["response"], streamed.as_str());
}
