//! Semantic memory through the REST API: exchanges are embedded in the background, recalled into
//! later prompts and searchable with `memory?query=`, never across employees or clients. Uses
//! the real database and Redis, and the stub's embedding model (bag of words) unless a test says
//! it runs the real local models.

use crate::helpers::*;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Connection;
use std::time::{Duration, Instant};

async fn memory_search(app: &TestApp, client: &str, key: &str, emp: &str, query: &str) -> Response {
    let query = query.replace(' ', "%20").replace('?', "%3F");
    app.memory(client, key, emp, &format!("query={query}&limit=3"))
        .await
}

/// Waits until every answered exchange of the database has its vector of the stub's embedding
/// model (the indexer runs in the background); returns how long that took.
async fn wait_until_embedded(owner: &PgConnectOptions) -> Duration {
    wait_until_embedded_by(owner, STUB_EMBEDDING_MODEL).await
}

/// Waits until every answered exchange of the database has its vector of `model`.
async fn wait_until_embedded_by(owner: &PgConnectOptions, model: &str) -> Duration {
    let started = Instant::now();
    let pool = sqlx::PgPool::connect_with(owner.clone())
        .await
        .expect("owner pool");
    eventually(Duration::from_secs(30), || async {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM employee_interactions i WHERE status = 'completed'
               AND NOT EXISTS (SELECT 1 FROM interaction_vectors v
                               WHERE v.interaction_id = i.interaction_id AND v.model = $1)",
        )
        .bind(workforce::memory::server::repo::vector_key(model))
        .fetch_one(&pool)
        .await
        .expect("count");
        match pending {
            0 => Ok(()),
            _ => Err(format!(
                "{pending} exchanges never got their embedding by {model}"
            )),
        }
    })
    .await;
    started.elapsed()
}

#[sqlx::test]
async fn a_fact_told_in_turn_1_is_recalled_into_the_prompt_of_turn_20(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;

    let fact = "My daughter Ines is allergic to peanuts";
    let r = app.interact(&client, &key, &emp, fact).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fact_id = r.body["interaction_id"].as_str().expect("id").to_owned();
    for i in 2..20 {
        let r = app
            .interact(
                &client,
                &key,
                &emp,
                &format!("Filler request number {i} about invoices"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let waited = wait_until_embedded(&owner).await;
    let r = app
        .interact(&client, &key, &emp, "Which food is Ines allergic to?")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Turn 1 is far outside the 10 recent turns, yet the 20th prompt carries it.
    let requests = stub.requests();
    assert_eq!(requests.len(), 20);
    let turn_20 = &requests[19];
    let system = system_prompt_of(turn_20);
    assert!(system.contains("Relevant memories"), "{system}");
    assert!(system.contains(&format!("They said: {fact}")), "{system}");
    let messages = turn_20["messages"].as_array().expect("messages");
    assert_eq!(
        messages.len(),
        1 + 2 * 10 + 1,
        "system + 10 recent exchanges + the question"
    );
    assert!(!messages[1..].iter().any(|m| m["content"] == fact));
    let used = r.body["memories_used"].as_array().expect("memories_used");
    assert_eq!(used[0], fact_id.as_str(), "recalled memories come first");
    assert!(
        (11..=19).contains(&used.len()),
        "10 recent + the recalled ones, within the tier's recall budget"
    );
    // The question was embedded with the configured model, and every exchange got a vector.
    let embedded = stub.state.embedding_requests.lock().expect("lock").len();
    assert!(embedded >= 2, "{embedded} embedding calls");
    println!("all 20 exchanges embedded {waited:?} after the last answer");
}

#[sqlx::test]
async fn memory_search_ranks_by_relevance_and_validates_its_parameters(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    for m in [
        "Our office moves to Porto in March",
        "The printer on floor two is broken",
        "Please book the Porto office movers",
    ] {
        assert_eq!(app.interact(&client, &key, &emp, m).await.status, 200);
    }
    wait_until_embedded(&owner).await;

    let r = memory_search(&app, &client, &key, &emp, "printer broken").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found = r.body["memory"].as_array().expect("memory");
    assert_eq!(found.len(), 3);
    assert_eq!(found[0]["content"], "The printer on floor two is broken");
    let scores: Vec<f64> = found
        .iter()
        .map(|m| m["relevance_score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        scores[0] > scores[1] && scores[0] <= 1.0 + 1e-9,
        "{scores:?}"
    );

    for (query, field) in [
        ("limit=0&query=x", "limit"),
        ("limit=101&query=x", "limit"),
        ("limit=ten", "limit"),
    ] {
        let r = app.memory(&client, &key, &emp, query).await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(r.body["error"]["fields"][field].is_string(), "{}", r.body);
    }
    let long = "a".repeat(4001);
    let r = app
        .memory(&client, &key, &emp, &format!("query={long}"))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["fields"]["query"].is_string());
}

#[sqlx::test]
async fn recall_never_crosses_employees_or_clients(_p: PgPoolOptions, owner: PgConnectOptions) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    // Client A with two employees, client B with one; each is told a different code word in
    // the same words, so only the vector path's filters keep them apart.
    let (a, a_key, a1) = employee(&app, "gpt-4o-mini", json!([])).await;
    let a2 = app.hire(&a, &a_key, requirements("second handler")).await;
    let (b, b_key, b1) = employee(&app, "gpt-4o-mini", json!([])).await;
    let told = [
        (&a, &a_key, &a1, "The secret code word is aardvark"),
        (&a, &a_key, &a2, "The secret code word is bluebell"),
        (&b, &b_key, &b1, "The secret code word is cormorant"),
    ];
    for (c, k, e, m) in told {
        assert_eq!(app.interact(c, k, e, m).await.status, 200);
    }
    wait_until_embedded(&owner).await;

    for (c, k, e, m) in told {
        let word = m.rsplit(' ').next().expect("word");
        let r = memory_search(&app, c, k, e, "what is the secret code word").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            memory_contents(&r),
            [m],
            "only its own memory, never the others'"
        );
        // The prompt of a new turn recalls its own word and no other.
        let before = stub.requests().len();
        let r = app
            .interact(c, k, e, "Remind me: what is the secret code word?")
            .await;
        assert_eq!(r.status, 200);
        let prompt = stub.requests()[before]["messages"].to_string();
        for (_, _, _, other) in told {
            let w = other.rsplit(' ').next().expect("word");
            assert_eq!(prompt.contains(w), w == word, "{w} in the prompt of {e}");
        }
    }
    // Another client's employee cannot be searched at all.
    let r = memory_search(&app, &b, &b_key, &a1, "secret code word").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = memory_search(&app, &a, &b_key, &a1, "secret code word").await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[sqlx::test]
async fn a_failing_embedding_model_costs_recall_not_the_answer_and_is_caught_up_later(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    stub.fail(STUB_EMBEDDING_MODEL, 500);
    let r = app
        .interact(&client, &key, &emp, "Note that the boiler was serviced")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Search by meaning needs the model; a hybrid search goes on by keywords alone.
    let r = app
        .memory(&client, &key, &emp, "query=boiler&mode=semantic")
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    let r = memory_search(&app, &client, &key, &emp, "boiler").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["memory"][0]["content"],
        "Note that the boiler was serviced"
    );
    assert!(r.body["memory"][0]["similarity"].is_null(), "{}", r.body);
    // The exchange is stored, waiting for its vector; recent memory still has it.
    let r = app.memory(&client, &key, &emp, "").await;
    assert_eq!(
        r.body["memory"][0]["content"],
        "Note that the boiler was serviced"
    );

    // Once the model is back, the sweeper (every `memory.sweep_seconds`, 1 s here) embeds what
    // the indexer failed on, without a restart.
    stub.heal(STUB_EMBEDDING_MODEL);
    wait_until_embedded(&owner).await;
    let r = memory_search(&app, &client, &key, &emp, "boiler").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["memory"][0]["content"],
        "Note that the boiler was serviced"
    );
    assert!(
        r.body["memory"][0]["similarity"].as_f64().is_some(),
        "{}",
        r.body
    );
}

#[sqlx::test]
async fn a_new_embedding_model_embeds_the_history_again_and_models_never_mix(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    // First a 256-d model, then the 3072-d one: after the switch the server embeds the earlier
    // exchange again with the new model, and each search only compares its own model's vectors.
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    assert_eq!(
        app.interact(&client, &key, &emp, "The alarm code is 4417")
            .await
            .status,
        200
    );
    wait_until_embedded(&owner).await;

    let mut app = app;
    app.restart_fresh(&owner, |s| {
        use_stub(s, &stub, false);
        s.file.memory.embedding_model = "text-embedding-3-large".into();
    })
    .await;
    assert_eq!(
        app.interact(&client, &key, &emp, "The gate code is 9921")
            .await
            .status,
        200
    );
    wait_until_embedded_by(&owner, "text-embedding-3-large").await;

    let pool = sqlx::PgPool::connect_with(owner.clone())
        .await
        .expect("pool");
    let dims: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT i.message, v.model, vector_dims(v.embedding)
         FROM interaction_vectors v JOIN employee_interactions i USING (interaction_id)
         ORDER BY i.timestamp, v.model",
    )
    .fetch_all(&pool)
    .await
    .expect("dims");
    let large = || workforce::memory::server::repo::vector_key("text-embedding-3-large");
    assert_eq!(
        dims,
        [
            ("The alarm code is 4417".to_owned(), large(), 3072),
            (
                "The alarm code is 4417".to_owned(),
                workforce::memory::server::repo::vector_key(STUB_EMBEDDING_MODEL),
                256
            ),
            ("The gate code is 9921".to_owned(), large(), 3072),
        ]
    );
    let found = |r: &Response| -> Vec<String> {
        let mut found = memory_contents(r);
        found.sort();
        found
    };
    let r = memory_search(&app, &client, &key, &emp, "what is the code").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        found(&r),
        ["The alarm code is 4417", "The gate code is 9921"],
        "each exchange once, through the new model's vectors"
    );

    // Back to the first model: its vectors are still there, and the exchange told under the
    // other model gets one of this model too.
    app.restart_fresh(&owner, |s| use_stub(s, &stub, false))
        .await;
    wait_until_embedded(&owner).await;
    let r = memory_search(&app, &client, &key, &emp, "what is the code").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        found(&r),
        ["The alarm code is 4417", "The gate code is 9921"]
    );
}

#[sqlx::test]
async fn erased_exchanges_leave_rows_vectors_and_redis_and_the_audit_keeps_only_a_receipt(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let path = emp_path(&client, &emp);
    let mut ids = Vec::new();
    for (message, context) in [
        (
            "my card number ends in 4242",
            json!({"subject_id": "cust-1"}),
        ),
        ("hello there", json!({})),
        ("Gandalf asked about his loan", json!({})),
        ("the weather is nice", json!({})),
    ] {
        let r = app
            .send(
                "POST",
                &format!("{path}/interact"),
                Some(&key),
                Some(json!({"message": message, "context": context})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(r.body["interaction_id"].as_str().expect("id").to_owned());
    }
    // Everything is remembered and indexed first.
    let mut db = sqlx::PgConnection::connect_with(&owner)
        .await
        .expect("owner");
    async fn vectors_of(db: &mut sqlx::PgConnection, emp: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM interaction_vectors WHERE employee_id = $1")
            .bind(emp)
            .fetch_one(db)
            .await
            .expect("count")
    }
    for _ in 0..100 {
        if vectors_of(&mut db, &emp).await == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        memory_contents(&app.memory(&client, &key, &emp, "limit=10").await).len(),
        4
    );

    let r = app
        .send(
            "DELETE",
            &format!("{path}/memory/{}", ids[1]),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["erased"], 1);
    let r = app
        .send(
            "DELETE",
            &format!("{path}/memory/{}", ids[1]),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "already erased");
    let r = app
        .send(
            "DELETE",
            &format!("{path}/memory?subject=gandalf"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.body["erased"], 1, "{}", r.body);
    let r = app
        .send(
            "DELETE",
            &format!("{path}/memory?subject_id=cust-1"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.body["interaction_ids"], json!([ids[0]]), "{}", r.body);
    let r = app
        .send("DELETE", &format!("{path}/memory"), Some(&key), None)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["fields"]["subject"].is_string());

    assert_eq!(
        memory_contents(&app.memory(&client, &key, &emp, "limit=10").await),
        ["the weather is nice"],
        "the recent list no longer has them"
    );
    let r = app
        .memory(&client, &key, &emp, "query=card%20number&limit=10")
        .await;
    assert_eq!(
        memory_contents(&r),
        ["the weather is nice"],
        "nor does recall"
    );
    assert_eq!(vectors_of(&mut db, &emp).await, 1, "their vectors are gone");

    // The trail has a receipt for each erasure, and none of what was said.
    let export = app.audit_export(&client, &key).await;
    let receipts: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .filter(|e: &serde_json::Value| e["action"] == "memory.erase")
        .collect();
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[0]["after"]["count"], 1);
    assert!(receipts[0]["after"]["exchanges"][0]["content_sha256"].is_string());
    // (Not "4242" alone: hex digests in the trail may contain it by chance.)
    for secret in [
        "ends in 4242",
        "Gandalf",
        "gandalf",
        "hello there",
        "cust-1",
    ] {
        assert!(!export.contains(secret), "{secret} is in the audit export");
    }
    db.close().await.ok();
}

#[sqlx::test]
async fn exchanges_past_the_clients_retention_are_purged_on_schedule_with_a_receipt(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key) = app
        .onboard(
            json!({"name": "Brief", "tier": "professional", "retention_days": 30,
                        "allowed_models": ["gpt-4o-mini"]}),
        )
        .await;
    let (keeper, keeper_key, keeper_emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let mut req = requirements("clerk");
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let emp = app.hire(&client, &key, req).await;
    for m in ["an old question", "a new question"] {
        assert_eq!(app.interact(&client, &key, &emp, m).await.status, 200);
    }
    assert_eq!(
        app.interact(&keeper, &keeper_key, &keeper_emp, "an old question")
            .await
            .status,
        200
    );
    // Both clients' first exchanges are 40 days old.
    let mut db = sqlx::PgConnection::connect_with(&owner)
        .await
        .expect("owner");
    sqlx::query("UPDATE employee_interactions SET timestamp = now() - interval '40 days' WHERE message = 'an old question'")
        .execute(&mut db)
        .await
        .expect("backdate");
    db.close().await.ok();
    // The schedule (every second here) purges what is past 30 days, for the client that asked.
    workforce::memory::server::retention::start(app.state.clone(), Duration::from_secs(1));
    eventually(Duration::from_secs(10), || async {
        memory_contents(&app.memory(&client, &key, &emp, "limit=10").await) == ["a new question"]
    })
    .await;
    assert_eq!(
        memory_contents(
            &app.memory(&keeper, &keeper_key, &keeper_emp, "limit=10")
                .await
        ),
        ["an old question"],
        "a client without retention keeps everything"
    );
    let export = app.audit_export(&client, &key).await;
    let receipt: serde_json::Value = export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("line"))
        .find(|e| e["action"] == "memory.retention_purge")
        .expect("a receipt");
    assert_eq!(receipt["actor"], "system");
    assert_eq!(receipt["after"]["count"], 1);
    assert!(!export.contains("an old question"));
    let r = app
        .send(
            "POST",
            "/api/v1/employees/clients",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "Zero", "tier": "starter", "retention_days": 0})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["fields"]["retention_days"].is_string());
}

/// The chat page's history (`load_conversation`): pages of 30, oldest first within a page, a
/// cursor to the page before until the first exchange, each turn naming the model, its tokens
/// and the memories it used; another client's key finds nothing.
#[sqlx::test]
async fn the_chat_pages_through_the_whole_conversation_with_a_cursor(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    use workforce::memory::ChatHistory;
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    for i in 1..=35 {
        let r = app
            .interact(
                &client,
                &key,
                &emp,
                &format!("note number {i} about the ledger"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let page = |cookie_key: String, before: Option<String>| {
        let mut form = vec![("id", emp.clone())];
        if let Some(b) = before {
            form.push(("before", b));
        }
        let app = &app;
        async move {
            app.call::<workforce::memory::fns::LoadConversation>(&client_cookie(&cookie_key), &form)
                .await
        }
    };
    let r = page(key.clone(), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let newest: ChatHistory = serde_json::from_value(r.body).expect("json");
    let messages = |h: &ChatHistory| {
        h.turns
            .iter()
            .map(|t| t.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(newest.turns.len(), 30);
    assert_eq!(newest.turns[0].message, "note number 6 about the ledger");
    assert_eq!(newest.turns[29].message, "note number 35 about the ledger");
    assert!(newest
        .turns
        .iter()
        .all(|t| t.model.as_deref() == Some("gpt-4o-mini")));
    assert!(newest.turns.iter().all(|t| t.completion_tokens > 0));
    let older = newest.older.clone().expect("a cursor to the older page");

    let r = page(key.clone(), Some(older.to_string())).await;
    let first: ChatHistory = serde_json::from_value(r.body).expect("json");
    assert_eq!(
        messages(&first),
        (1..=5)
            .map(|i| format!("note number {i} about the ledger"))
            .collect::<Vec<_>>()
    );
    assert_eq!(first.older, None, "the first page has nothing before it");

    // A cursor that is not one is a 4xx naming it; another client's key sees nothing.
    let r = page(key.clone(), Some("x' OR '1'='1".into())).await;
    assert!([400, 422].contains(&r.status), "a bad cursor: {}", r.status);
    assert!(r.body.to_string().contains("before"));
    let (_other_client, other_key) = app
        .onboard(json!({"name": "Other Co", "industry": "retail", "tier": "starter"}))
        .await;
    let r = page(other_key, None).await;
    assert!(
        [403, 404].contains(&r.status),
        "another client's key: {}",
        r.status
    );
}

/// An import body: `pairs` exchanges of one user line and one assistant line, each line with
/// its own id, a minute apart from 2023-01-01 on.
fn import_lines(pairs: usize) -> Vec<String> {
    let start = chrono::DateTime::parse_from_rfc3339("2023-01-01T09:00:00Z").expect("time");
    (0..pairs * 2)
        .map(|i| {
            let at = start + chrono::TimeDelta::minutes(i as i64);
            let (role, content) = if i % 2 == 0 {
                (
                    "user",
                    format!("question {} about parcel P-{}", i / 2, 1000 + i / 2),
                )
            } else {
                (
                    "assistant",
                    format!("answer {} for parcel P-{}", i / 2, 1000 + i / 2),
                )
            };
            json!({"id": format!("line-{i}"), "role": role, "content": content,
                   "occurred_at": at.to_rfc3339()})
            .to_string()
        })
        .collect()
}

async fn import(app: &TestApp, client: &str, key: &str, emp: &str, lines: &[String]) -> Response {
    let path = format!("{}/memory/import", emp_path(client, emp));
    let body = lines.join("\n").into_bytes();
    app.send_raw("POST", &path, Some(key), "application/x-ndjson", body)
        .await
}

#[sqlx::test]
async fn an_import_restarted_halfway_stores_each_line_once(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let lines = import_lines(600);

    // The first attempt stops halfway, right after a user line: its answer is in the rest.
    let r = import(&app, &client, &key, &emp, &lines[..601]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["stored"], 601);
    // The client sends the whole file again.
    let r = import(&app, &client, &key, &emp, &lines).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lines"], 1200);
    assert_eq!(r.body["stored"], 599);
    assert_eq!(r.body["already_stored"], 601);
    // And once more, for good measure: nothing new.
    let r = import(&app, &client, &key, &emp, &lines).await;
    assert_eq!(r.body["stored"], 0, "{}", r.body);

    // Every line's text is in exactly one stored exchange (message or answer).
    let pool = sqlx::PgPool::connect_with(owner.clone())
        .await
        .expect("pool");
    let texts: Vec<(String, String)> = sqlx::query_as(
        "SELECT message, response FROM employee_interactions WHERE employee_id = $1",
    )
    .bind(&emp)
    .fetch_all(&pool)
    .await
    .expect("rows");
    for (i, line) in lines.iter().enumerate() {
        let content = serde_json::from_str::<serde_json::Value>(line).expect("line")["content"]
            .as_str()
            .expect("content")
            .to_owned();
        let holders = texts
            .iter()
            .filter(|(m, r)| m == &content || r.split("\n\n").any(|p| p == content))
            .count();
        assert_eq!(holders, 1, "line {i} ({content}) is stored {holders} times");
    }
    // 599 whole exchanges, the one cut in two as two: 601, all counted as answered, dated by
    // the conversation, and none of it counted as model usage.
    assert_eq!(texts.len(), 601);
    let (answered, oldest): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT (SELECT answered FROM employee_turn_counts WHERE employee_id = $1),
                (SELECT min(timestamp) FROM employee_interactions WHERE employee_id = $1)",
    )
    .bind(&emp)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(answered, 601);
    assert_eq!(oldest.to_rfc3339(), "2023-01-01T09:00:00+00:00");
    let usage: i64 = sqlx::query_scalar("SELECT count(*) FROM usage_daily WHERE employee_id = $1")
        .bind(&emp)
        .fetch_one(&pool)
        .await
        .expect("usage");
    assert_eq!(usage, 0, "an import calls no model");

    // Imported memory is searchable at once by keyword, and by meaning once indexed.
    let r = app
        .memory(&client, &key, &emp, "query=P-1234&mode=keyword&limit=3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["memory"][0]["content"],
        "question 234 about parcel P-1234"
    );
    wait_until_embedded(&owner).await;
    // The recent list is the conversation's newest, by its own time.
    let r = app.memory(&client, &key, &emp, "limit=1").await;
    assert_eq!(
        r.body["memory"][0]["content"],
        "question 599 about parcel P-1599"
    );
}

#[sqlx::test]
async fn an_import_with_a_bad_line_stores_nothing_and_names_the_line(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, _stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let mut lines = import_lines(3);
    lines[4] = r#"{"role":"user","content":"when?","occurred_at":"last Tuesday"}"#.into();
    let r = import(&app, &client, &key, &emp, &lines).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["line 5.occurred_at"].is_string(),
        "{}",
        r.body
    );
    let r = app.memory(&client, &key, &emp, "limit=10").await;
    assert_eq!(r.body["memory"].as_array().map(Vec::len), Some(0));
    // Another client's key cannot import into this employee.
    let (other, other_key) = app
        .onboard(json!({"name": "Other", "tier": "starter", "allowed_models": ["gpt-4o-mini"]}))
        .await;
    let path = format!("{}/memory/import", emp_path(&other, &emp));
    let r = app
        .send_raw(
            "POST",
            &path,
            Some(&other_key),
            "application/x-ndjson",
            import_lines(1).join("\n").into_bytes(),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[sqlx::test]
async fn keyword_recall_never_matches_another_clients_words(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client_a, key_a, emp_a) = employee(&app, "gpt-4o-mini", json!([])).await;
    let (client_b, key_b, emp_b) = employee(&app, "gpt-4o-mini", json!([])).await;
    let secret = "Shipment code QX7731 goes to Mrs Okonkwo in Tromsø";
    assert_eq!(
        app.interact(&client_a, &key_a, &emp_a, secret).await.status,
        200
    );
    assert_eq!(
        app.interact(&client_b, &key_b, &emp_b, "Our printer is out of toner")
            .await
            .status,
        200
    );

    // A's own search finds it by its rare words.
    let r = app
        .memory(
            &client_a,
            &key_a,
            &emp_a,
            "query=QX7731%20Okonkwo&mode=keyword",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["memory"][0]["content"], secret);
    assert!(r.body["memory"][0]["keyword_score"].as_f64().unwrap_or(0.0) > 0.0);
    // B searching for A's words, by keyword or hybrid, finds none of A's memory.
    for mode in ["keyword", "hybrid"] {
        let r = app
            .memory(
                &client_b,
                &key_b,
                &emp_b,
                &format!("query=QX7731%20Okonkwo%20shipment&mode={mode}"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body.to_string().contains("QX7731"), "{mode}: {}", r.body);
    }
    // B's turn with A's words recalls none of A's memory into its prompt.
    let r = app
        .interact(
            &client_b,
            &key_b,
            &emp_b,
            "Where does shipment QX7731 for Okonkwo go?",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let last = stub.requests().last().cloned().expect("request");
    assert!(!last.to_string().contains("Tromsø"), "{last}");

    // Below the API, in B's tenant transaction, even naming A's employee finds nothing: the
    // keyword path is under row-level security like the rest.
    let pool = app_pool(&owner).await;
    let a_emp = workforce::core::EmployeeId::parse(&emp_a).expect("employee");
    let by_keywords_as = |client: String| {
        let (pool, a_emp) = (pool.clone(), a_emp.clone());
        async move {
            use workforce::memory::server::repo;
            let client = workforce::core::ClientId::parse(&client).expect("client");
            let mut tx = workforce::platform::db::TenantTx::begin(&pool, &client)
                .await
                .expect("tx");
            let query = repo::RecallQuery {
                dense: None,
                words: "QX7731 Okonkwo",
            };
            let fusion = repo::Fusion {
                per_signal: 10,
                k: 60.0,
                dense_weight: 1.0,
                keyword_weight: 1.0,
            };
            repo::recall(&mut tx, &a_emp, query, fusion, 10)
                .await
                .expect("recall")
        }
    };
    let found = by_keywords_as(client_b.clone()).await;
    assert!(found.is_empty(), "{found:?}");
    // The same call in A's transaction does find it: the query is right, RLS is what stops B.
    let found = by_keywords_as(client_a.clone()).await;
    assert_eq!(found.len(), 1);
    assert!(found[0].keyword.is_some() && found[0].similarity.is_none());
}

#[sqlx::test]
async fn a_turn_given_its_own_time_is_remembered_at_that_time(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let path = format!("{}/interact", emp_path(&client, &emp));
    let r = app
        .send(
            "POST",
            &path,
            Some(&key),
            Some(json!({"message": "We signed the Halvorsen lease today", "occurred_at": "2022-03-14T10:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["created_at"], "2022-03-14T10:00:00Z");
    let r = app
        .send(
            "POST",
            &path,
            Some(&key),
            Some(json!({"message": "x", "occurred_at": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["occurred_at"].is_string(),
        "{}",
        r.body
    );

    // Later turns push it out of the recent turns; recalled, it carries its own date.
    for i in 0..11 {
        let r = app
            .interact(&client, &key, &emp, &format!("filler {i} about printers"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    wait_until_embedded(&owner).await;
    let r = app
        .interact(&client, &key, &emp, "When did we sign the Halvorsen lease?")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let system = system_prompt_of(stub.requests().last().expect("request"));
    assert!(
        system.contains("[2022-03-14] They said: We signed the Halvorsen lease today"),
        "{system}"
    );
}

/// An employee working in French has its memory's words read as French (stemmed, French stop
/// words dropped), is told to reply in French, and a change of language re-reads its history.
#[sqlx::test]
async fn keyword_memory_reads_the_employees_language(_p: PgPoolOptions, owner: PgConnectOptions) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key) = app
        .onboard(json!({"name": "Lyon", "tier": "professional", "allowed_models": ["gpt-4o-mini"]}))
        .await;
    let mut req = requirements("conseiller");
    req["language"] = json!("FR");
    let emp = app.hire(&client, &key, req.clone()).await;
    let r = app.get_employee(&client, &key, &emp).await;
    assert_eq!(r.body["language"], "fr", "{}", r.body);
    let said = "Les enfants mangeaient des pommes dans le jardin";
    assert_eq!(app.interact(&client, &key, &emp, said).await.status, 200);
    let system = system_prompt_of(&stub.requests()[0]);
    assert!(system.contains("Reply in French"), "{system}");

    // "manger" and "mangeaient" share their French stem; "des" and "le" are stop words.
    let search = |query: &'static str| {
        let (app, client, key, emp) = (&app, &client, &key, &emp);
        async move {
            let r = app
                .memory(client, key, emp, &format!("query={query}&mode=keyword"))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["memory"].as_array().cloned().unwrap_or_default()
        }
    };
    let found = search("manger").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["content"], said);
    assert!(search("des%20le").await.is_empty());

    // Read as English, the same words share no stem: switching the employee to English
    // re-reads its history, and back to French finds it again.
    let r = app
        .update_employee(&client, &key, &emp, json!({"language": "en"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(search("manger").await.is_empty());
    let r = app
        .update_employee(&client, &key, &emp, json!({"language": "fr"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(search("manger").await.len(), 1);

    // A language we do not know is a 422 naming the field and the choices.
    req["language"] = json!("klingon");
    let r = app.create_employee(&client, &key, req).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let why = r.body["error"]["fields"]["language"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("fr") && why.contains("other"), "{}", r.body);
}

/// Every language an employee can be given has Postgres's stemmer and stop words of that
/// language (its configuration bears the language's name), not the `simple` fallback, which
/// only `other` and unknown codes get.
#[sqlx::test]
async fn every_offered_language_has_its_own_text_search_configuration(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mut db = sqlx::PgConnection::connect_with(&owner)
        .await
        .expect("owner");
    for lang in workforce::employees::language::LANGUAGES {
        let config: String = sqlx::query_scalar("SELECT workforce_search_config($1)::text")
            .bind(lang.code)
            .fetch_one(&mut db)
            .await
            .expect("config");
        let expected = if lang.code == "other" {
            "simple".to_owned()
        } else {
            lang.name.to_lowercase()
        };
        assert_eq!(config, expected, "language {}", lang.code);
    }
    let unknown: String = sqlx::query_scalar("SELECT workforce_search_config('xx')::text")
        .fetch_one(&mut db)
        .await
        .expect("config");
    assert_eq!(unknown, "simple");
}
