//! MCP servers: registering one (its tools join the catalogue as `server/tool`), a turn calling
//! an MCP tool of an in-process server (the official SDK as our client, the real streamable HTTP
//! protocol), its bearer token sealed and never returned, the outbound rules on its URL, and
//! another client neither seeing nor calling it.

use crate::helpers::*;
use crate::tools::calls;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, Row};

const TOKEN: &str = "mcp-token-4242";

fn servers_path(client: &str) -> String {
    format!("/api/v1/employees/clients/{client}/mcp-servers")
}

async fn hire_with_tools(app: &TestApp, client: &str, key: &str, tools: Value) -> Response {
    let mut req = requirements("order desk");
    req["tools_needed"] = tools;
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    app.create_employee(client, key, req).await
}

#[sqlx::test]
async fn an_mcp_servers_tools_join_the_catalogue_and_an_employee_calls_them(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mcp = stub::mcp::McpStub::start(Some(TOKEN)).await;
    let model = stub::Stub::start().await;
    let allow = mcp
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let app = spawn_app_with(owner.clone(), |s| {
        use_stub(s, &model, false);
        s.file.outbound.allow = vec![allow];
    })
    .await;
    let onboard =
        json!({"name": "Parcel Co", "tier": "professional", "allowed_models": ["gpt-4o-mini"]});
    let (client, key) = app.onboard(onboard).await;
    let path = servers_path(&client);

    // Without its token the server does not list its tools: the registration says why.
    let r = app
        .send(
            "POST",
            &path,
            Some(&key),
            Some(json!({"name": "orders", "url": mcp.url})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["url"]
            .as_str()
            .expect("url")
            .contains("could not list"),
        "{}",
        r.body
    );

    // With it, the tools the server lists join the catalogue (a name no client could offer is
    // left out); the token never comes back.
    let spec = json!({"name": "orders", "url": mcp.url, "bearer_token": TOKEN});
    let r = app
        .send("POST", &path, Some(&key), Some(spec.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["has_bearer_token"], true);
    let listed: Vec<&str> = r.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(listed, ["lookup.order", "failing"]);
    assert!(!r.body.to_string().contains(TOKEN));
    let again = app.send("POST", &path, Some(&key), Some(spec)).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let r = app
        .get(&format!("/api/v1/employees/clients/{client}/tools"), &key)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mcp_tools: Vec<&str> = r
        .body
        .as_array()
        .expect("catalogue")
        .iter()
        .filter(|t| t["kind"] == "mcp")
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(mcp_tools, ["orders/lookup.order", "orders/failing"]);
    assert!(!r.body.to_string().contains(TOKEN));
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    let stored: String = sqlx::query("SELECT bearer_sealed FROM mcp_servers")
        .fetch_one(&mut db)
        .await
        .expect("row")
        .get(0);
    assert!(!stored.contains(TOKEN));

    // tool_access names MCP tools as server/tool; one the server does not list is a 422.
    let r = hire_with_tools(
        &app,
        &client,
        &key,
        json!(["orders/lookup.order", "orders/nope"]),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["tools_needed[1]"].is_string(),
        "{}",
        r.body
    );
    let r = hire_with_tools(
        &app,
        &client,
        &key,
        json!(["orders/lookup.order", "orders/failing"]),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let emp = r.body["id"].as_str().expect("id").to_owned();

    // A turn: the model calls both (by the names it was offered), the server answers, and the
    // answer is written from the results; the calls are recorded by their catalogue names.
    let r = app
        .interact(
            &client,
            &key,
            &emp,
            r#"Where is A-9? <<orders__lookup_order {"order_id": "A-9"}>> <<orders__failing>>"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        calls(&r.body),
        [
            ("orders/lookup.order".into(), "ok".into()),
            ("orders/failing".into(), "error".into())
        ]
    );
    let answer = r.body["message"].as_str().expect("message");
    assert!(
        answer.contains("left the warehouse on 2026-11-30"),
        "{answer}"
    );
    assert!(answer.contains("offline"), "{answer}");
    let offered: Vec<String> = model.requests()[0]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(offered, ["orders__lookup_order", "orders__failing"]);
    let seen = mcp.calls();
    assert_eq!(
        seen[0],
        ("lookup.order".to_owned(), json!({"order_id": "A-9"}))
    );
    assert_eq!(seen.len(), 2);
    assert!(mcp
        .authorizations()
        .iter()
        .all(|a| a.as_deref() == Some(&format!("Bearer {TOKEN}")[..]) || a.is_none()));
    assert!(mcp.authorizations().iter().filter(|a| a.is_some()).count() >= 4);

    // Streamed, the page's events name the tool as the catalogue does.
    let (status, events) = app
        .interact_stream(
            &client,
            &key,
            &emp,
            r#"Again <<orders__lookup_order {"order_id": "B-1"}>>"#,
            false,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(events[0].0, "tool_call");
    assert_eq!(events[0].1["name"], "orders/lookup.order");
    assert_eq!(events[1].1["status"], "ok");

    // A trial call from the catalogue, as a turn would make it.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/tools/orders%2Flookup.order/test"),
            Some(&key),
            Some(json!({"arguments": {"order_id": "C-3"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["result"]
            .as_str()
            .expect("result")
            .contains("order C-3"),
        "{}",
        r.body
    );

    // Another client sees nothing of it and cannot be given or call its tools.
    let (other, other_key) = app
        .onboard(
            json!({"name": "Other Co", "tier": "professional", "allowed_models": ["gpt-4o-mini"]}),
        )
        .await;
    let r = app.get(&servers_path(&other), &other_key).await;
    assert_eq!(r.body, json!([]), "{}", r.body);
    let r = app
        .get(&format!("{}/orders", servers_path(&other)), &other_key)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = hire_with_tools(&app, &other, &other_key, json!(["orders/lookup.order"])).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = hire_with_tools(&app, &other, &other_key, json!(["current_time"])).await;
    let other_emp = r.body["id"].as_str().expect("id").to_owned();
    let before = mcp.calls().len();
    let r = app
        .interact(
            &other,
            &other_key,
            &other_emp,
            r#"<<orders__lookup_order {"order_id": "A-9"}>>"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        calls(&r.body),
        [("orders__lookup_order".into(), "refused".into())]
    );
    assert_eq!(mcp.calls().len(), before);

    // Refresh, then remove: its tools leave the catalogue and the employee answers without them.
    let r = app
        .send("POST", &format!("{path}/orders/refresh"), Some(&key), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .send("DELETE", &format!("{path}/orders"), Some(&key), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app
        .interact(
            &client,
            &key,
            &emp,
            r#"<<orders__lookup_order {"order_id": "A-9"}>> still there?"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tool_calls"], json!([]), "{}", r.body);
    let audit = app.audit_export(&client, &key).await;
    for action in [
        "mcp_server.create",
        "mcp_server.refresh",
        "mcp_server.delete",
    ] {
        assert!(audit.contains(action), "{action} missing");
    }
    assert!(!audit.contains(TOKEN));
}

#[sqlx::test]
async fn mcp_servers_at_internal_addresses_are_refused(_p: PgPoolOptions, owner: PgConnectOptions) {
    let mcp = stub::mcp::McpStub::start(None).await;
    // The outbound rules open nothing: the stub's own address is internal.
    let app = spawn_app(owner).await;
    let (client, key) = app
        .onboard(json!({"name": "Curious", "tier": "professional"}))
        .await;
    let port = mcp
        .url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches("/mcp")
        .to_owned();
    for url in [
        mcp.url.clone(),
        format!("http://localhost:{port}/mcp"),
        "http://169.254.169.254/mcp".to_owned(),
        "http://[::1]:80/mcp".to_owned(),
        "http://10.0.0.1/mcp".to_owned(),
    ] {
        let r = app
            .send(
                "POST",
                &servers_path(&client),
                Some(&key),
                Some(json!({"name": "x", "url": url})),
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.body);
        let why = r.body["error"]["fields"]["url"].as_str().expect("url");
        assert!(why.contains("private or reserved"), "{url}: {why}");
    }
    assert!(mcp.calls().is_empty() && mcp.authorizations().is_empty());
    let r = app
        .send(
            "POST",
            &servers_path(&client),
            Some(&key),
            Some(json!({"name": "Bad_Name", "url": "https://u:p@mcp.example.com/mcp"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["name"].is_string()
            && r.body["error"]["fields"]["url"].is_string()
    );
}
