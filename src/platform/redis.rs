//! The Redis link every feature shares. Redis is a cache, never the source of truth: when it is
//! down, every call here gives up after a short timeout and the request carries on. Features
//! keep their keys under `employee:{client_id}:{employee_id}:*` (`employee_key`).

use crate::core::{ClientId, EmployeeId};
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::time::timeout;

pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// After a failed connection, calls give up at once for this long instead of each waiting.
const RETRY_AFTER: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Link {
    conn: Option<ConnectionManager>,
    down_until: Option<Instant>,
}

#[derive(Clone)]
pub struct Cache {
    client: redis::Client,
    link: Arc<Mutex<Link>>,
}

pub fn employee_key(client: &ClientId, employee: &EmployeeId, suffix: &str) -> String {
    format!(
        "employee:{}:{}:{suffix}",
        client.as_str(),
        employee.as_str()
    )
}

impl Cache {
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Cache {
            client: redis::Client::open(url)?,
            link: Arc::new(Mutex::new(Link::default())),
        })
    }

    /// A connection, made on first use; after a failed attempt, none for `RETRY_AFTER`.
    pub async fn conn(&self) -> Option<ConnectionManager> {
        let mut link = self.link.lock().await;
        if let Some(c) = link.conn.as_ref() {
            return Some(c.clone());
        }
        if link.down_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match timeout(CONNECT_TIMEOUT, ConnectionManager::new(self.client.clone())).await {
            Ok(Ok(c)) => {
                link.conn = Some(c.clone());
                link.down_until = None;
                Some(c)
            }
            failed => {
                match failed {
                    Ok(Err(e)) => tracing::warn!("redis unavailable: {e}"),
                    _ => tracing::warn!("redis connect timed out"),
                }
                link.down_until = Some(Instant::now() + RETRY_AFTER);
                None
            }
        }
    }

    pub async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        let mut conn = self.conn().await?;
        match timeout(OP_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::warn!("redis command failed: {e}");
                None
            }
            Err(_) => {
                tracing::warn!("redis command timed out");
                None
            }
        }
    }

    pub fn redis_client(&self) -> redis::Client {
        self.client.clone()
    }

    /// Publishes `message` on `channel`; false when Redis did not take it.
    pub async fn publish(&self, channel: &str, message: &str) -> bool {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(message);
        self.run::<i64>(&cmd).await.is_some()
    }

    pub async fn ping(&self) -> bool {
        self.run::<String>(&redis::cmd("PING")).await.as_deref() == Some("PONG")
    }
}
