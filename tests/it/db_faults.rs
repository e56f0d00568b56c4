//! Requests while PostgreSQL restarts or is down: 503 with Retry-After, never 500, and the
//! service recovers by itself. The server reaches the database through a TCP proxy the test
//! controls, so cutting it disturbs no other test.

use crate::helpers::*;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Forwards connections to Postgres until cut.
struct PgProxy {
    port: u16,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// The local ports of the proxy's connections to Postgres (`pg_stat_activity.client_port`).
    upstream_ports: Arc<Mutex<Vec<u16>>>,
}

impl PgProxy {
    async fn start(upstream: (String, u16)) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let upstream_ports: Arc<Mutex<Vec<u16>>> = Arc::default();
        let (o, l, u) = (open.clone(), links.clone(), upstream_ports.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    drop(down); // refused: the server is down
                    continue;
                }
                let Ok(mut up) = TcpStream::connect(upstream.clone()).await else {
                    continue;
                };
                if let Ok(a) = up.local_addr() {
                    u.lock().expect("lock").push(a.port());
                }
                l.lock().expect("lock").push(tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                }));
            }
        });
        PgProxy {
            port,
            open,
            links,
            upstream_ports,
        }
    }

    /// Drops every connection and refuses new ones, as a stopped server does.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// A POST …/interact, with the response's Retry-After.
async fn turn(app: &TestApp, client: &str, key: &str, emp: &str) -> (u16, Option<String>) {
    let r = app
        .http
        .post(app.url(&format!("{}/interact", emp_path(client, emp))))
        .bearer_auth(key)
        .json(&json!({"message": "are you there?"}))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("an answer, not a hang");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), retry)
}

#[sqlx::test]
async fn a_postgres_restart_answers_503_with_retry_after_and_recovers(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let proxy = PgProxy::start((owner.get_host().to_owned(), owner.get_port())).await;
    let through_proxy = owner.clone().host("127.0.0.1").port(proxy.port);
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(through_proxy, |s| use_stub(s, &stub, false)).await;
    let (client, key, emp) = employee(&app, "gpt-4o-mini", json!([])).await;
    assert_eq!(turn(&app, &client, &key, &emp).await.0, 200);

    // The server's sessions are ended as a restart ends them (57P01 admin_shutdown).
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(owner.clone())
        .await
        .expect("owner");
    let ports: Vec<i32> = proxy
        .upstream_ports
        .lock()
        .expect("lock")
        .iter()
        .map(|p| i32::from(*p))
        .collect();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY($1)",
    )
    .bind(&ports)
    .fetch_all(&admin)
    .await
    .expect("terminate");
    assert!(!ended.is_empty());
    for _ in 0..3 {
        let (status, retry) = turn(&app, &client, &key, &emp).await;
        assert!(status == 200 || status == 503, "got {status}");
        if status == 503 {
            assert!(retry.is_some(), "a 503 says when to try again");
        }
    }

    // Down: every connection dropped and new ones refused.
    proxy.cut();
    for _ in 0..2 {
        let (status, retry) = turn(&app, &client, &key, &emp).await;
        assert_eq!(status, 503);
        assert_eq!(retry.as_deref(), Some("1"));
    }
    let r = app
        .get(
            &format!("/api/v1/employees/clients/{client}/employees"),
            &key,
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unavailable");
    let ready = app.send("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["postgres"], "down");

    // Back: the service recovers without a restart.
    proxy.restore();
    eventually(Duration::from_secs(10), || async {
        match turn(&app, &client, &key, &emp).await.0 {
            200 => Ok(()),
            s => Err(format!("still {s}")),
        }
    })
    .await;
}
