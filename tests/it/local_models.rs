//! The built-in models with their real weights (fetched by `scripts/setup.sh`): SmolLM2 answers
//! as the default model with no provider configured, MiniLM embeds the memories, and
//! multilingual-e5-small finds them by meaning.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;

const LOCAL: &str = "smollm2-135m-instruct";

/// A starter client (its tier allows the local model) with one employee on the default model,
/// answers capped at `max_tokens`.
async fn local_employee(app: &TestApp, max_tokens: u32) -> (String, String, String) {
    let (client, key) = app
        .onboard(json!({"name": "Offline Co", "tier": "starter"}))
        .await;
    let mut req = requirements("front desk assistant");
    req["model_preferences"] = json!({"max_tokens": max_tokens});
    let r = app.create_employee(&client, &key, req).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["model_preferences"]["primary_model"], LOCAL);
    (client, key, r.body["id"].as_str().expect("id").to_owned())
}

async fn wait_for_vector(owner: &PgConnectOptions, interaction_id: &str) {
    let pool = sqlx::PgPool::connect_with(owner.clone())
        .await
        .expect("pool");
    let model: String = eventually(Duration::from_secs(60), || async {
        sqlx::query_scalar("SELECT model FROM interaction_vectors WHERE interaction_id = $1")
            .bind(interaction_id)
            .fetch_optional(&pool)
            .await
            .expect("query")
            .ok_or_else(|| format!("interaction {interaction_id} never embedded"))
    })
    .await;
    assert_eq!(
        model,
        workforce::memory::server::repo::vector_key("all-minilm-l6-v2")
    );
    let dims: i32 = sqlx::query_scalar(
        "SELECT vector_dims(embedding) FROM interaction_vectors WHERE interaction_id = $1",
    )
    .bind(interaction_id)
    .fetch_one(&pool)
    .await
    .expect("dims");
    assert_eq!(dims, 384);
}

#[sqlx::test]
async fn offline_chat_answers_with_the_local_model_and_remembers_across_sessions(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mut app = spawn_app(owner.clone()).await;
    let (client, key, emp) = local_employee(&app, 24).await;

    let r = app
        .interact(
            &client,
            &key,
            &emp,
            "My name is Alvaro and I work at the Lisbon branch.",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], LOCAL);
    assert!(!r.body["message"]
        .as_str()
        .expect("message")
        .trim()
        .is_empty());
    let completion = r.body["usage"]["completion_tokens"]
        .as_u64()
        .expect("usage");
    assert!((1..=24).contains(&completion), "{completion}");
    assert!(r.body["usage"]["prompt_tokens"].as_u64().expect("usage") > 50);
    let first = r.body["interaction_id"].as_str().expect("id").to_owned();
    wait_for_vector(&owner, &first).await;

    // A new session: a fresh server over the same database.
    app.restart_fresh(&owner, |_| {}).await;
    for m in [
        "The weather is grey today.",
        "Please file the March invoices.",
    ] {
        assert_eq!(app.interact(&client, &key, &emp, m).await.status, 200);
    }
    let r = app
        .memory(
            &client,
            &key,
            &emp,
            "query=Which%20branch%20do%20I%20work%20at%3F&limit=3",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["memory"][0]["id"], first.as_str(), "{}", r.body);
    let best = r.body["memory"][0]["relevance_score"]
        .as_f64()
        .expect("score");
    let next = r.body["memory"][1]["relevance_score"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(best > next, "{best} vs {next}");
}

#[sqlx::test]
async fn the_local_model_streams_and_stores_exactly_the_streamed_text(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key, emp) = local_employee(&app, 16).await;
    let (status, events) = app
        .interact_stream(&client, &key, &emp, "Say hello to a new colleague.", false)
        .await;
    assert_eq!(status, 200);
    let mut text = String::new();
    let mut done = Value::Null;
    let mut tokens = 0;
    for (event, data) in &events {
        match event.as_str() {
            "token" => {
                tokens += 1;
                text.push_str(data["text"].as_str().expect("text"));
            }
            "done" => done = data.clone(),
            _ => {}
        }
    }
    assert!(tokens > 1, "streamed in pieces: {events:?}");
    assert_eq!(done["message"], text.as_str());
    assert_eq!(done["model"], LOCAL);
    let r = app.memory(&client, &key, &emp, "limit=1").await;
    assert_eq!(r.body["memory"][0]["response"], text.as_str());
}

#[sqlx::test]
async fn a_full_local_queue_answers_503_with_retry_after_and_keeps_the_message(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let app = spawn_app_with(owner, |s| {
        s.file.local.chat_workers = 1;
        s.file.local.chat_queue = 1;
    })
    .await;
    let (client, key, emp) = local_employee(&app, 48).await;
    let url = app.url(&format!("{}/interact", emp_path(&client, &emp)));
    let calls = (0..6).map(|i| {
        let req =
            app.http.post(&url).bearer_auth(&key).json(
                &json!({"message": format!("Write a short poem about the sea, number {i}.")}),
            );
        async move {
            let res = req.send().await.expect("request");
            let status = res.status().as_u16();
            let retry = res.headers().get("retry-after").cloned();
            let body: Value = res.json().await.expect("json");
            (status, retry, body)
        }
    });
    let results = futures::future::join_all(calls).await;
    let busy: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    assert!(ok >= 1, "{results:?}");
    assert!(
        !busy.is_empty(),
        "one worker and a queue of one cannot take six at once"
    );
    assert_eq!(ok + busy.len(), 6, "{results:?}");
    for (_, retry, body) in &busy {
        assert!(retry.is_some(), "Retry-After on 503");
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("busy"));
    }
    // Every message is stored, answered or not.
    let r = app
        .get(&format!("{}/usage", emp_path(&client, &emp)), &key)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        text.contains(&format!("\"failed\":{}", busy.len())),
        "{text}"
    );
}

/// multilingual-e5-small end to end: an imported conversation is embedded by the indexer (as
/// passages), and a question asked in semantic mode (embedded as a query) finds the exchange
/// that answers it, with no word in common but "I".
#[sqlx::test]
async fn the_retrieval_model_finds_the_exchange_that_answers_a_question(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    const E5: &str = "multilingual-e5-small";
    let app = spawn_app_with(owner.clone(), |s| {
        s.file.memory.embedding_model = E5.to_owned();
    })
    .await;
    let (client, key) = app
        .onboard(json!({"name": "Recall Co", "tier": "starter"}))
        .await;
    let r = app
        .create_employee(&client, &key, requirements("front desk assistant"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let emp = r.body["id"].as_str().expect("id").to_owned();
    let said = [
        (
            "user",
            "Please book the team offsite venue in Lisbon for June.",
        ),
        ("assistant", "Done, the venue is reserved."),
        ("user", "I'm seeing the dentist on Tuesday the 14th at 3pm."),
        ("assistant", "Noted, I'll remind you the day before."),
        ("user", "File the quarterly VAT return before April."),
        ("assistant", "I'll prepare the return."),
    ];
    let body = said
        .iter()
        .enumerate()
        .map(|(i, (role, content))| {
            json!({"id": format!("l{i}"), "role": role, "content": content,
                   "occurred_at": format!("2026-03-0{}T10:00:00Z", i + 1)})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let r = app
        .send_raw(
            "POST",
            &format!("{}/memory/import", emp_path(&client, &emp)),
            Some(&key),
            "application/x-ndjson",
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["exchanges"], 3);

    let pool = sqlx::PgPool::connect_with(owner.clone())
        .await
        .expect("pool");
    let key_of_e5 = workforce::memory::server::repo::vector_key(E5);
    let _: i64 = eventually(Duration::from_secs(120), || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM interaction_vectors WHERE model = $1")
                .bind(&key_of_e5)
                .fetch_one(&pool)
                .await
                .expect("count");
        (n == 3).then_some(n).ok_or(format!("{n} of 3 embedded"))
    })
    .await;

    let r = app
        .memory(
            &client,
            &key,
            &emp,
            "query=When%20do%20I%20have%20to%20go%20and%20get%20my%20teeth%20checked%3F&mode=semantic&limit=3",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let best = &r.body["memory"][0];
    assert!(
        best["content"]
            .as_str()
            .expect("content")
            .contains("dentist"),
        "{}",
        r.body
    );
    assert_eq!(best["timestamp"], "2026-03-03T10:00:00Z", "{}", r.body);
}
