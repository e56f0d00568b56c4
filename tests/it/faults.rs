//! Conversations and memory when Redis fails, and the employee cache across instances.

use crate::helpers::*;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;
use workforce::core::{ClientId, EmployeeId};

#[sqlx::test]
async fn memory_is_read_from_postgres_when_redis_is_down(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (mut app, _stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    assert_eq!(
        app.interact(&client, &key, &emp, "remember the blue car")
            .await
            .status,
        200
    );

    let mut state = app.state.clone();
    state.cache = workforce::platform::redis::Cache::new("redis://127.0.0.1:1").expect("url");
    app.restart_with(state).await;

    // Writes still succeed, and reads come from Postgres.
    assert_eq!(
        app.interact(&client, &key, &emp, "and the red one")
            .await
            .status,
        200
    );
    let r = app.memory(&client, &key, &emp, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        memory_contents(&r),
        ["and the red one", "remember the blue car"]
    );
}

/// A private Redis on its own port, so a test can stop it without disturbing the others.
struct OwnRedis {
    port: u16,
    child: std::process::Child,
}

impl OwnRedis {
    async fn start(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/setup.sh)");
        let r = OwnRedis { port, child };
        eventually(Duration::from_secs(5), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| format!("redis-server did not start on port {port}: {e}"))
        })
        .await;
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

#[sqlx::test]
async fn redis_stopped_mid_conversation_loses_nothing(_p: PgPoolOptions, owner: PgConnectOptions) {
    let mut redis = OwnRedis::start(free_port()).await;
    let stub = stub::Stub::start().await;
    let url = redis.url();
    let app = spawn_app_with(owner, |s| {
        use_stub(s, &stub, false);
        s.redis_url = url.into();
    })
    .await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    for m in ["one", "two"] {
        assert_eq!(app.interact(&client, &key, &emp, m).await.status, 200);
    }
    assert!(app.state.cache.ping().await, "Redis is up at first");

    redis.stop();
    for m in ["three", "four"] {
        let r = app.interact(&client, &key, &emp, m).await;
        assert_eq!(r.status, 200, "a turn succeeds with Redis gone: {}", r.body);
    }
    // Every turn is in memory, in order: read from Postgres while Redis is down.
    let memory = |limit: u32| {
        let (app, client, key, emp) = (&app, &client, &key, &emp);
        async move {
            let r = app
                .memory(client, key, emp, &format!("limit={limit}"))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            memory_contents(&r)
        }
    };
    assert_eq!(memory(10).await, ["four", "three", "two", "one"]);
    // The turns remember each other too: the prompt of "four" carried one, two and three.
    let last = stub.requests().pop().expect("request");
    let said: Vec<&str> = last["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(said, ["one", "two", "three", "four"]);

    // Redis comes back (empty): the recent list is shorter than asked, so Postgres answers.
    let _redis = OwnRedis::start(redis.port).await;
    tokio::time::sleep(Duration::from_millis(2100)).await; // the client's back-off
    assert_eq!(app.interact(&client, &key, &emp, "five").await.status, 200);
    assert_eq!(memory(10).await, ["five", "four", "three", "two", "one"]);
}

#[sqlx::test]
async fn a_change_on_one_instance_reaches_the_employee_cache_of_another(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let other = spawn_app_with(owner, |s| use_stub(s, &stub, false)).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let id = EmployeeId::parse(&emp).expect("id");
    let client_id = ClientId::parse(&client).expect("id");

    // A turn on the first instance caches the employee there.
    assert_eq!(app.interact(&client, &key, &emp, "hello").await.status, 200);
    assert!(app.state.employees.get(&client_id, &id).is_some());

    // Paused through the second instance: the first one drops its copy and refuses the turn.
    let r = other.transition(&client, &key, &emp, "pause").await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(Duration::from_secs(5), || async {
        match app.state.employees.get(&client_id, &id) {
            None => Ok(()),
            Some(_) => Err("the change never arrived: the first instance still has its copy"),
        }
    })
    .await;
    let r = app.interact(&client, &key, &emp, "still there?").await;
    assert_eq!(r.status, 409, "{}", r.body);

    // A change of model is seen at once as well.
    other.transition(&client, &key, &emp, "resume").await;
    let r = other
        .update_employee(
            &client,
            &key,
            &emp,
            json!({"model_preferences": {"primary_model": "gpt-4o"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(Duration::from_secs(5), || async {
        let r = app.interact(&client, &key, &emp, "which model?").await;
        if r.status == 200 && r.body["model"] == "gpt-4o" {
            Ok(())
        } else {
            Err(format!(
                "the change of model never arrived: {} {}",
                r.status, r.body
            ))
        }
    })
    .await;
}
