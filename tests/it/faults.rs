//! Conversations and memory when Redis fails, is frozen or comes back from an older snapshot,
//! and the employee cache across instances.

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
        self.thaw();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Pauses the process (SIGSTOP): connections stay open and nothing answers.
    fn freeze(&self) {
        self.signal("-STOP");
    }

    fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let _ = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server whose Redis is `redis` and whose provider (and embedding model) is `stub`.
async fn spawn_on(owner: PgConnectOptions, redis: &OwnRedis, stub: &stub::Stub) -> TestApp {
    let url = redis.url();
    spawn_app_with(owner, |s| {
        use_stub(s, stub, false);
        s.redis_url = url.into();
    })
    .await
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
    let app = spawn_on(owner, &redis, &stub).await;
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

/// The user messages of a request the stub received, in order.
fn user_messages(req: &serde_json::Value) -> Vec<String> {
    req["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect()
}

#[sqlx::test]
async fn a_recent_list_restored_from_an_older_snapshot_is_rebuilt_from_postgres(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let list = format!("employee:{client}:{emp}:recent");
    let mut redis = redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let say = |m: String| {
        let (app, client, key, emp) = (&app, &client, &key, &emp);
        async move {
            let r = app.interact(client, key, emp, &m).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    };
    for i in 1..=3 {
        say(format!("turn {i}")).await;
    }
    // The snapshot: the list as it is after three turns.
    let snapshot: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(&list)
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .expect("lrange");
    assert_eq!(snapshot.len(), 3);
    for i in 4..=8 {
        say(format!("turn {i}")).await;
    }
    // Redis comes back from it, having lost the five newer turns.
    let restorer = redis.clone();
    let restore = || {
        let (mut redis, list, snapshot) = (restorer.clone(), &list, &snapshot);
        async move {
            let _: () = redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(list)
                .cmd("RPUSH")
                .arg(list)
                .arg(snapshot)
                .query_async(&mut redis)
                .await
                .expect("restore");
        }
    };
    restore().await;

    let newest_first: Vec<String> = (1..=8).rev().map(|i| format!("turn {i}")).collect();
    let r = app.memory(&client, &key, &emp, "limit=10").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        memory_contents(&r),
        newest_first,
        "the memory API matches Postgres"
    );
    let len: usize = redis::cmd("LLEN")
        .arg(&list)
        .query_async(&mut redis)
        .await
        .expect("llen");
    assert_eq!(len, 8, "and the list was rebuilt");

    // A turn on top of the restored list: its prompt carries the turns Postgres has, and the
    // memory API still agrees.
    restore().await;
    say("turn 9".into()).await;
    let prompt = user_messages(&stub.requests().pop().expect("request"));
    let expected: Vec<String> = (1..=9).map(|i| format!("turn {i}")).collect();
    assert_eq!(prompt, expected);
    let r = app.memory(&client, &key, &emp, "limit=4").await;
    assert_eq!(
        memory_contents(&r),
        ["turn 9", "turn 8", "turn 7", "turn 6"]
    );
}

#[sqlx::test]
async fn a_frozen_redis_costs_a_turn_no_more_than_a_few_milliseconds(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let redis = OwnRedis::start(free_port()).await;
    let stub = stub::Stub::start().await;
    let app = spawn_on(owner, &redis, &stub).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    let turns = |label: &'static str| {
        let (app, client, key, emp) = (&app, &client, &key, &emp);
        async move {
            let started = std::time::Instant::now();
            for i in 0..20 {
                let r = app
                    .interact(client, key, emp, &format!("{label} {i}"))
                    .await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
            started.elapsed() / 20
        }
    };
    // What a turn costs here with Redis answering (the machine may be busy with other tests).
    let answering = turns("warm").await;

    redis.freeze();
    // The heartbeat notices within a second, without any request paying for it.
    eventually(Duration::from_secs(3), || async {
        !app.state.cache.is_up()
    })
    .await;
    let frozen = turns("frozen").await;
    // Waiting out the 500 ms timeout would cost every turn > 500 ms.
    assert!(
        frozen < answering * 2 + Duration::from_millis(50),
        "a turn takes {frozen:?} with Redis frozen, {answering:?} with it answering"
    );
    let r = app.memory(&client, &key, &emp, "limit=2").await;
    assert_eq!(memory_contents(&r), ["frozen 19", "frozen 18"]);
    let ready = app.send("GET", "/readyz", None, None).await;
    assert_eq!(
        ready.status, 200,
        "a cache outage is not unreadiness: {}",
        ready.body
    );
    assert_eq!(ready.body["redis"], "down");
    assert_eq!(ready.body["status"], "degraded");

    redis.thaw();
    eventually(Duration::from_secs(3), || async { app.state.cache.is_up() }).await;
    let r = app.memory(&client, &key, &emp, "limit=3").await;
    assert_eq!(
        memory_contents(&r),
        ["frozen 19", "frozen 18", "frozen 17"],
        "the list missed the outage's turns and is rebuilt"
    );
}

#[sqlx::test]
async fn with_the_invalidation_channel_down_a_paused_employee_is_refused_within_the_bound(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    use workforce::employees::server::cache::UNSYNCED_TTL;
    let redis = OwnRedis::start(free_port()).await;
    let stub = stub::Stub::start().await;
    let a = spawn_on(owner.clone(), &redis, &stub).await;
    let b = spawn_on(owner, &redis, &stub).await;
    let (client, key, emp) = employee(&a, "gpt-4o-mini", json!([])).await;
    // B caches the employee.
    assert_eq!(b.interact(&client, &key, &emp, "hello").await.status, 200);

    // Redis stops answering (frozen, so B's subscription stays open and silent), and A pauses
    // the employee: its announcement is lost.
    redis.freeze();
    let r = a.transition(&client, &key, &emp, "pause").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let paused = std::time::Instant::now();
    let answered_after = eventually(Duration::from_secs(10), || async {
        let r = b.interact(&client, &key, &emp, "still there?").await;
        match r.status {
            409 => Ok(paused.elapsed()),
            s => Err(format!("B still answers ({s})")),
        }
    })
    .await;
    assert!(
        answered_after <= UNSYNCED_TTL + Duration::from_millis(1000),
        "B answered a paused employee for {answered_after:?}"
    );
    assert_eq!(
        b.interact(&client, &key, &emp, "and now?").await.status,
        409
    );
    redis.thaw();
}
