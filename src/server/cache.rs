//! Redis: the per-employee namespace (`employee:{client_id}:{employee_id}:*`). Redis is a cache,
//! never the source of truth: when it is down, every call here gives up after a short timeout
//! and the request carries on.

use crate::domain::{ClientId, EmployeeId, MemoryItem};
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::time::timeout;

const OP_TIMEOUT: Duration = Duration::from_millis(500);
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
    async fn conn(&self) -> Option<ConnectionManager> {
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

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
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

    /// Tells every instance (this one included) that an employee changed.
    pub async fn publish_employee_change(&self, client: &ClientId, employee: &EmployeeId) -> bool {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(crate::server::employee_cache::CHANNEL)
            .arg(crate::server::employee_cache::message(client, employee));
        self.run::<i64>(&cmd).await.is_some()
    }

    pub async fn ping(&self) -> bool {
        self.run::<String>(&redis::cmd("PING")).await.as_deref() == Some("PONG")
    }

    /// Creates the employee's namespace (the seed's `employee:{namespace}:config` hash).
    pub async fn init_employee(
        &self,
        client: &ClientId,
        employee: &EmployeeId,
        created_at: &str,
    ) -> bool {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(employee_key(client, employee, "config"))
            .arg("created_at")
            .arg(created_at)
            .arg("client_id")
            .arg(client.as_str())
            .arg("employee_id")
            .arg(employee.as_str());
        self.run::<i64>(&cmd).await.is_some()
    }

    /// Removes everything cached for the employee.
    pub async fn purge_employee(&self, client: &ClientId, employee: &EmployeeId) -> bool {
        let mut cmd = redis::cmd("DEL");
        for suffix in ["config", "recent"] {
            cmd.arg(employee_key(client, employee, suffix));
        }
        self.run::<i64>(&cmd).await.is_some()
    }

    /// Puts an exchange at the head of the employee's recent list, keeping `keep` of them.
    pub async fn push_recent(
        &self,
        client: &ClientId,
        employee: &EmployeeId,
        item: &MemoryItem,
        keep: usize,
    ) -> bool {
        let Ok(json) = serde_json::to_string(item) else {
            return false;
        };
        let key = employee_key(client, employee, "recent");
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("LPUSH")
            .arg(&key)
            .arg(json)
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(keep as i64 - 1)
            .ignore();
        let Some(mut conn) = self.conn().await else {
            return false;
        };
        matches!(
            timeout(OP_TIMEOUT, pipe.query_async::<()>(&mut conn)).await,
            Ok(Ok(()))
        )
    }

    /// Up to `limit` exchanges from the recent list, newest first; `None` when Redis is down.
    pub async fn recent(
        &self,
        client: &ClientId,
        employee: &EmployeeId,
        limit: usize,
    ) -> Option<Vec<MemoryItem>> {
        if limit == 0 {
            return Some(Vec::new());
        }
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(employee_key(client, employee, "recent"))
            .arg(0)
            .arg(limit as i64 - 1);
        let raw: Vec<String> = self.run(&cmd).await?;
        Some(
            raw.iter()
                .filter_map(|s| serde_json::from_str(s).ok())
                .collect(),
        )
    }

    /// Keys currently held for the employee (for tests and diagnostics).
    pub async fn employee_keys(
        &self,
        client: &ClientId,
        employee: &EmployeeId,
    ) -> Option<Vec<String>> {
        let mut cmd = redis::cmd("KEYS");
        cmd.arg(format!(
            "employee:{}:{}:*",
            client.as_str(),
            employee.as_str()
        ));
        self.run::<Vec<String>>(&cmd).await
    }
}
