//! Token usage, per employee and per client.

use crate::helpers::*;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Sends `n` turns to the employee at once; returns (the answered turns' usage, the first
/// refusal's body). Every turn must be answered or refused for a budget, and some of each.
async fn turns_against_a_budget(
    app: &TestApp,
    client: &str,
    key: &str,
    emp: &str,
    n: usize,
) -> (Vec<serde_json::Value>, serde_json::Value) {
    let questions: Vec<String> = (0..n).map(|i| format!("question number {i}")).collect();
    let turns =
        futures::future::join_all(questions.iter().map(|q| app.interact(client, key, emp, q)))
            .await;
    let answered: Vec<_> = turns.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<_> = turns.iter().filter(|r| r.status == 402).collect();
    assert_eq!(answered.len() + refused.len(), n, "only answers and 402s");
    assert!(
        !answered.is_empty() && !refused.is_empty(),
        "{} answered",
        answered.len()
    );
    assert_eq!(refused[0].body["error"]["code"], "budget_exhausted");
    let usage = answered.iter().map(|r| r.body["usage"].clone()).collect();
    (usage, refused[0].body.clone())
}

fn total_tokens(usage: &[serde_json::Value]) -> u64 {
    usage
        .iter()
        .map(|u| u["total_tokens"].as_u64().expect("tokens"))
        .sum()
}

#[sqlx::test]
async fn usage_is_summed_per_employee_and_per_client(_p: PgPoolOptions, owner: PgConnectOptions) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o", json!(["gpt-4o-mini"])).await;
    let mut req = requirements("second");
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let other = app.hire(&client, &key, req).await;

    let mut expected = (0u64, 0u64);
    for (e, msg) in [(&emp, "a"), (&emp, "bb"), (&other, "ccc")] {
        let r = app.interact(&client, &key, e, msg).await;
        expected.0 += r.body["usage"]["prompt_tokens"].as_u64().expect("p");
        expected.1 += r.body["usage"]["completion_tokens"].as_u64().expect("c");
    }
    stub.fail("gpt-4o", 400);
    stub.fail("gpt-4o-mini", 400);
    assert_eq!(app.interact(&client, &key, &emp, "lost").await.status, 503);

    let r = app
        .get(&format!("{}/usage", emp_path(&client, &emp)), &key)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["interactions"].as_i64(), r.body["failed"].as_i64()),
        (Some(2), Some(1))
    );
    let r = app
        .get(&format!("/api/v1/employees/clients/{client}/usage"), &key)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["interactions"], 3);
    assert_eq!(r.body["prompt_tokens"].as_u64(), Some(expected.0));
    assert_eq!(r.body["completion_tokens"].as_u64(), Some(expected.1));
    assert_eq!(
        r.body["total_tokens"].as_u64(),
        Some(expected.0 + expected.1)
    );
    let models: Vec<&str> = r.body["by_model"]
        .as_array()
        .expect("by model")
        .iter()
        .filter_map(|m| m["model"].as_str())
        .collect();
    assert_eq!(
        models,
        ["", "gpt-4o", "gpt-4o-mini"],
        "one row per model that answered; the failed turn has none"
    );
}

#[sqlx::test]
async fn sixty_four_parallel_turns_never_spend_more_than_the_monthly_budget(
    _p: sqlx::postgres::PgPoolOptions,
    owner: sqlx::postgres::PgConnectOptions,
) {
    const BUDGET: u64 = 40_000;
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| {
        use_stub(s, &stub, false);
        s.file
            .tiers
            .get_mut("professional")
            .expect("tier")
            .monthly_tokens = BUDGET;
    })
    .await;
    // Answers take a while, so the turns overlap and hold their reservations together.
    stub.set_chunk_delay_ms(20);
    let (client, key, emp) = employee(&app, "gpt-4o-mini", serde_json::json!([])).await;
    let (usage, refusal) = turns_against_a_budget(&app, &client, &key, &emp, 64).await;
    let spent_by_answers = total_tokens(&usage);
    let msg = refusal["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("40000") && msg.contains("resets on"), "{msg}");

    let usage = app
        .get(&format!("/api/v1/employees/clients/{client}/usage"), &key)
        .await;
    let budget = &usage.body["budget"];
    assert_eq!(budget["monthly_tokens"], BUDGET);
    // The tier's limits are shown beside the usage.
    let limits = &usage.body["limits"];
    assert_eq!(limits["tier"], "professional");
    assert_eq!(limits["monthly_tokens"], BUDGET);
    assert_eq!(
        limits["max_concurrent_turns"], 0,
        "as the test server sets it"
    );
    assert!(limits["requests_per_second"]
        .as_f64()
        .is_some_and(|r| r > 0.0));
    assert_eq!(budget["spent"], spent_by_answers, "{}", usage.body);
    assert_eq!(budget["reserved"], 0, "every reservation was settled");
    assert!(spent_by_answers <= BUDGET);
}

#[sqlx::test]
async fn a_client_at_its_cap_of_turns_in_flight_gets_429_and_others_are_not_held_up(
    _p: sqlx::postgres::PgPoolOptions,
    owner: sqlx::postgres::PgConnectOptions,
) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| {
        use_stub(s, &stub, false);
        s.file
            .tiers
            .get_mut("professional")
            .expect("tier")
            .max_concurrent_turns = 2;
    })
    .await;
    // Each answer takes a while, so the turns overlap.
    stub.set_chunk_delay_ms(150);
    let (noisy, noisy_key, noisy_emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let (quiet, quiet_key, quiet_emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let noise: Vec<String> = (0..5).map(|i| format!("noise {i}")).collect();
    let noisy_turns = futures::future::join_all(
        noise
            .iter()
            .map(|q| app.interact(&noisy, &noisy_key, &noisy_emp, q)),
    );
    let quiet_turn = async {
        // Once the noisy client's turns are under way.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        app.interact(&quiet, &quiet_key, &quiet_emp, "a quiet question")
            .await
    };
    let (noisy_turns, quiet_turn) = tokio::join!(noisy_turns, quiet_turn);
    let statuses: Vec<u16> = noisy_turns.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "two turns in flight at most: {statuses:?}"
    );
    for r in noisy_turns.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 429, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "rate_limited");
    }
    assert_eq!(
        quiet_turn.status, 200,
        "another client is not held up: {}",
        quiet_turn.body
    );
    // The slots come back when the turns are stored.
    assert_eq!(
        app.interact(&noisy, &noisy_key, &noisy_emp, "later")
            .await
            .status,
        200
    );
}

#[sqlx::test]
async fn the_operator_overrides_a_clients_limits_and_every_request_after_obeys_them(
    _p: sqlx::postgres::PgPoolOptions,
    owner: sqlx::postgres::PgConnectOptions,
) {
    let app = spawn_app(owner).await;
    let (client, key) = app
        .onboard(serde_json::json!({"name": "Limited", "tier": "starter"}))
        .await;
    let usage_path = format!("/api/v1/employees/clients/{client}/usage");
    let limits_path = format!("/api/v1/employees/clients/{client}/limits");
    let tier = app.get(&usage_path, &key).await.body["limits"].clone();
    assert!(tier["burst"].as_u64().is_some_and(|b| b > 3), "{tier}");
    assert_eq!(tier["overridden"], serde_json::json!([]));

    // Only the operator sets them; out-of-range values and unknown names are refused by name.
    let by_client = app
        .send(
            "PUT",
            &limits_path,
            Some(&key),
            Some(serde_json::json!({"burst": 1000})),
        )
        .await;
    assert_eq!(by_client.status, 401);
    let bad = app
        .send(
            "PUT",
            &limits_path,
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({"burst": 0, "requests_per_second": -1})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body["error"]["fields"]["burst"].is_string());
    assert!(bad.body["error"]["fields"]["requests_per_second"].is_string());
    let unknown = app
        .send(
            "PUT",
            &limits_path,
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({"brust": 2})),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);

    let set = app
        .send(
            "PUT",
            &limits_path,
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({
                "requests_per_second": 1.0, "burst": 3,
                "key_requests_per_second": 1.0, "key_burst": 3,
                "monthly_tokens": 0
            })),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["burst"], 3);
    assert_eq!(set.body["monthly_tokens"], 0);
    assert_eq!(set.body["tier"], "starter");
    // The very next requests obey them: a burst of three at most, then 429.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get(&usage_path, &key).await.status);
    }
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 3,
        "{statuses:?}"
    );
    assert_eq!(statuses[4], 429, "{statuses:?}");

    // `{}` gives the tier's back, and the report says nothing is overridden.
    let reset = app
        .send(
            "PUT",
            &limits_path,
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(reset.status, 200);
    assert_eq!(reset.body, tier, "the tier's limits again");
    // The requests taken at 1 a second are owed at that rate: the bucket is free again once
    // they are paid off (3 s at most).
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert_eq!(reset.body["overridden"], serde_json::json!([]));
    let trail = app.audit_export(&client, &key).await;
    assert_eq!(trail.matches("client.limits_update").count(), 2, "{trail}");

    // A shorter longest message, applied to the client's next turn, named on the field.
    let emp = app.hire(&client, &key, requirements("clerk")).await;
    let short = app
        .send(
            "PUT",
            &limits_path,
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({"max_message_chars": 10})),
        )
        .await;
    assert_eq!(short.body["max_message_chars"], 10, "{}", short.body);
    let long = app
        .interact(&client, &key, &emp, "a message longer than ten characters")
        .await;
    assert_eq!(long.status, 422, "{}", long.body);
    assert_eq!(
        long.body["error"]["fields"]["message"],
        "must be at most 10 characters"
    );
    let too_long = app
        .send(
            "PUT",
            &limits_path,
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({"max_message_chars": 16001})),
        )
        .await;
    assert_eq!(too_long.status, 422);
}

#[sqlx::test]
async fn an_employee_spends_within_its_own_budget_and_the_clients(
    _p: sqlx::postgres::PgPoolOptions,
    owner: sqlx::postgres::PgConnectOptions,
) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| use_stub(s, &stub, false)).await;
    stub.set_chunk_delay_ms(20);
    let (client, key, emp) = employee(&app, "gpt-4o-mini", serde_json::json!([])).await;
    let mut req = requirements("second");
    req["model_preferences"] = serde_json::json!({"primary_model": "gpt-4o-mini"});
    let other = app.hire(&client, &key, req).await;
    let budget_path = format!("{}/budget", emp_path(&client, &emp));

    for bad in [
        serde_json::json!({"monthly_tokens": 0}),
        serde_json::json!({"monthly_tokens": -5}),
        serde_json::json!({"monthly_tokens": "lots"}),
    ] {
        let r = app.send("PUT", &budget_path, Some(&key), Some(bad)).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.body["error"]["fields"]["monthly_tokens"].is_string(),
            "{}",
            r.body
        );
    }
    const BUDGET: u64 = 6_000;
    let set = app
        .send(
            "PUT",
            &budget_path,
            Some(&key),
            Some(serde_json::json!({"monthly_tokens": BUDGET})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        app.get(&budget_path, &key).await.body["monthly_tokens"],
        BUDGET
    );

    // Thirty-two turns at once: some fit, the rest get 402, and together they never spend more
    // than the employee's budget.
    let (usage, refusal) = turns_against_a_budget(&app, &client, &key, &emp, 32).await;
    let spent = total_tokens(&usage);
    let msg = refusal["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("this employee's") && msg.contains("6000"),
        "{msg}"
    );
    assert!(spent <= BUDGET, "{spent}");
    let own = app
        .get(&format!("{}/usage", emp_path(&client, &emp)), &key)
        .await;
    assert_eq!(own.body["budget"]["monthly_tokens"], BUDGET, "{}", own.body);
    assert_eq!(own.body["budget"]["spent"], spent);
    assert_eq!(
        own.body["budget"]["reserved"], 0,
        "every reservation was settled"
    );
    // The client's budget counted the same turns, and a refused turn holds nothing there.
    let whole = app
        .get(&format!("/api/v1/employees/clients/{client}/usage"), &key)
        .await;
    assert_eq!(whole.body["budget"]["spent"], spent, "{}", whole.body);
    assert_eq!(whole.body["budget"]["reserved"], 0);

    // Another employee of the client is not held back by this one's budget.
    let theirs = app.interact(&client, &key, &other, "hello").await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    // Removing the budget lets the employee answer again, at once.
    let cleared = app
        .send(
            "PUT",
            &budget_path,
            Some(&key),
            Some(serde_json::json!({"monthly_tokens": null})),
        )
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    let again = app.interact(&client, &key, &emp, "one more").await;
    assert_eq!(again.status, 200, "{}", again.body);
    let trail = app.audit_export(&client, &key).await;
    assert_eq!(trail.matches("employee.budget_update").count(), 2);
}

#[sqlx::test]
async fn a_cost_budget_bounds_what_turns_cost_at_the_providers_prices(
    _p: sqlx::postgres::PgPoolOptions,
    owner: sqlx::postgres::PgConnectOptions,
) {
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner, |s| use_stub(s, &stub, false)).await;
    stub.set_chunk_delay_ms(20);
    let (client, key, emp) = employee(&app, "gpt-4o-mini", serde_json::json!([])).await;
    // The operator gives the client half a cent a month.
    let set = app
        .send(
            "PUT",
            &format!("/api/v1/employees/clients/{client}/limits"),
            Some(ADMIN_TOKEN),
            Some(serde_json::json!({"monthly_cost_usd": 0.005})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["monthly_cost_usd"], 0.005);
    assert_eq!(
        set.body["overridden"],
        serde_json::json!(["monthly_cost_usd"])
    );

    let (usage, refusal) = turns_against_a_budget(&app, &client, &key, &emp, 16).await;
    let msg = refusal["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("the client's monthly budget of 0.005 USD"),
        "{msg}"
    );
    // What the answers cost at gpt-4o-mini's price (0.15 and 0.60 dollars a million tokens),
    // rounded up per turn to millionths of a dollar, is what the budget counted, within it.
    let cost_micro: u64 = usage
        .iter()
        .map(|u| {
            let p = u["prompt_tokens"].as_u64().expect("prompt") as f64;
            let c = u["completion_tokens"].as_u64().expect("completion") as f64;
            (p * 0.15 + c * 0.60).ceil() as u64
        })
        .sum();
    let report = app
        .get(&format!("/api/v1/employees/clients/{client}/usage"), &key)
        .await;
    let budget = &report.body["budget"];
    assert_eq!(budget["monthly_cost_usd"], 0.005, "{}", report.body);
    let spent = budget["spent_cost_usd"].as_f64().expect("spent");
    assert!(
        (spent * 1e6 - cost_micro as f64).abs() < 0.5,
        "{spent} against {cost_micro}"
    );
    assert!(spent > 0.0 && spent <= 0.005, "{spent}");
    assert_eq!(
        budget["reserved_cost_usd"], 0.0,
        "every reservation was settled"
    );

    // An employee's own cost budget is checked the same way, and a bad one is refused by name.
    let budget_path = format!("{}/budget", emp_path(&client, &emp));
    let bad = app
        .send(
            "PUT",
            &budget_path,
            Some(&key),
            Some(serde_json::json!({"monthly_cost_usd": -1})),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body["error"]["fields"]["monthly_cost_usd"].is_string(),
        "{}",
        bad.body
    );
    let tiny = app
        .send(
            "PUT",
            &budget_path,
            Some(&key),
            Some(serde_json::json!({"monthly_cost_usd": 0.000001})),
        )
        .await;
    assert_eq!(tiny.status, 200, "{}", tiny.body);
    let refused = app.interact(&client, &key, &emp, "one more").await;
    assert_eq!(refused.status, 402, "{}", refused.body);
    let msg = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("this employee's whole monthly budget"),
        "{msg}"
    );
}

#[sqlx::test]
async fn the_dashboard_counts_usage_per_day_and_employee_and_keeps_it_after_memory_is_erased(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    use workforce::usage::pages::ClientUsageHistory;
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let quiet = app.hire(&client, &key, requirements("quiet")).await;
    let mut tokens = 0;
    for msg in ["one", "two", "three"] {
        let r = app.interact(&client, &key, &emp, msg).await;
        assert_eq!(r.status, 200, "{}", r.body);
        tokens += r.body["usage"]["total_tokens"].as_i64().expect("tokens");
    }
    let (other_client, other_key, other_emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    assert_eq!(
        app.interact(&other_client, &other_key, &other_emp, "elsewhere")
            .await
            .status,
        200
    );

    let history = |key: String| {
        let app = &app;
        async move {
            app.call::<ClientUsageHistory>(&client_cookie(&key), &[("days", "30".into())])
                .await
        }
    };
    let r = history(key.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(r.body["to"], today);
    // The four charts (turns or tokens, by model or by employee) over the 30 days, today last.
    let chart = |metric: &str, by: &str| {
        r.body["charts"]
            .as_array()
            .expect("charts")
            .iter()
            .find(|c| c["metric"] == metric && c["by"] == by)
            .cloned()
            .expect("the chart")
    };
    let turns = chart("Turns", "Model");
    assert_eq!(turns["days"].as_array().expect("days").len(), 30);
    assert_eq!(turns["days"][29], today);
    assert_eq!(turns["series"][0]["label"], "gpt-4o-mini");
    assert_eq!(turns["series"][0]["values"][29], 3);
    assert_eq!(turns["total"], 3);
    let by_employee = chart("Tokens", "Employee");
    assert_eq!(by_employee["series"].as_array().expect("series").len(), 1);
    assert_eq!(by_employee["series"][0]["label"], emp.as_str());
    assert_eq!(by_employee["total"], tokens);
    let activity = r.body["activity"].as_array().expect("activity");
    assert_eq!(activity.len(), 1, "the quiet employee has none: {}", r.body);
    assert_eq!(activity[0]["turns_this_month"], 3);
    assert!(activity[0]["last_at"].is_string());
    // This month's figures, per model, with the budget and the limits in force.
    let month = &r.body["month"];
    assert_eq!(month["interactions"], 3, "{}", r.body);
    assert_eq!(month["total_tokens"], tokens);
    assert_eq!(month["by_model"][0]["model"], "gpt-4o-mini");
    assert_eq!(month["by_model"][0]["completed"], 3);
    assert_eq!(month["limits"]["tier"], "professional");
    assert!(
        !r.body.to_string().contains(&other_emp),
        "another client's usage"
    );
    assert!(!r.body.to_string().contains(&quiet));

    // Usage is what was used: erasing the employee's memory leaves it.
    let r = app
        .send(
            "DELETE",
            &format!("{}/memory?subject=two", emp_path(&client, &emp)),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.body["erased"], 1, "{}", r.body);
    let r = history(key.clone()).await;
    assert_eq!(r.body["charts"][0]["total"], 3, "{}", r.body);
    let r = app
        .get(&format!("/api/v1/employees/clients/{client}/usage"), &key)
        .await;
    assert_eq!(r.body["interactions"], 3, "{}", r.body);

    let r = app
        .call::<ClientUsageHistory>(&client_cookie(&key), &[("days", "0".into())])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.to_string().contains("days"), "{}", r.body);
}

#[sqlx::test]
async fn the_operator_console_counts_each_clients_employees_and_month_and_sets_its_limits(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    use workforce::clients::fns::{ListClients, LoadClientLimits, SetClientLimits};
    let (app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    app.hire(&client, &key, requirements("second")).await;
    let mut tokens = 0;
    for msg in ["one", "two"] {
        let r = app.interact(&client, &key, &emp, msg).await;
        tokens += r.body["usage"]["total_tokens"].as_i64().expect("tokens");
    }
    let (quiet, quiet_key) = app
        .onboard(json!({"name": "Quiet Co", "tier": "starter"}))
        .await;

    let r = app.call::<ListClients>(&operator_cookie(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let row = |id: &str| {
        r.body
            .as_array()
            .expect("clients")
            .iter()
            .find(|c| c["client"]["id"] == id)
            .cloned()
            .expect("listed")
    };
    assert_eq!(row(&client)["employees"], 2);
    assert_eq!(row(&client)["turns_this_month"], 2);
    assert_eq!(row(&client)["tokens_this_month"], tokens);
    assert_eq!(row(&quiet)["employees"], 0);
    assert_eq!(row(&quiet)["turns_this_month"], 0);
    // Only the operator sees the console's figures.
    let r = app
        .call::<ListClients>(&client_cookie(&quiet_key), &[])
        .await;
    assert!(
        r.status == 401 || r.status == 403,
        "{} {}",
        r.status,
        r.body
    );

    // Limits: a bad value is named; a good one is in force at once and shown as set here.
    let r = app
        .call_json::<SetClientLimits>(
            &operator_cookie(),
            json!({"id": quiet, "overrides": {"max_message_chars": 0}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.to_string().contains("max_message_chars"),
        "{}",
        r.body
    );
    let r = app
        .call_json::<SetClientLimits>(
            &operator_cookie(),
            json!({"id": quiet, "overrides": {"monthly_tokens": 1234, "burst": 7}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call::<LoadClientLimits>(&operator_cookie(), &[("id", quiet.clone())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["overrides"],
        json!({"monthly_tokens": 1234, "burst": 7})
    );
    assert_eq!(r.body["in_force"]["monthly_tokens"], 1234);
    assert_eq!(
        r.body["in_force"]["overridden"],
        json!(["burst", "monthly_tokens"])
    );
    let r = app
        .get(
            &format!("/api/v1/employees/clients/{quiet}/usage"),
            &quiet_key,
        )
        .await;
    assert_eq!(r.body["limits"]["monthly_tokens"], 1234, "{}", r.body);
}
