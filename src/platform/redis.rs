//! The Redis link every feature shares. Redis is a cache, never the source of truth: every call
//! here gives up after a short timeout and the request carries on without it. Once a call has
//! failed for want of Redis (a timeout, a refused or dropped connection), Redis counts as down:
//! calls give up at once, without waiting, and a watcher pings it every `PROBE_EVERY` until it
//! answers again. While Redis is up the watcher pings it every `HEARTBEAT`, so that an instance
//! with nothing to ask it still learns soon that it stopped answering (the employee cache relies
//! on that). Features keep their keys under `employee:{client_id}:{employee_id}:*`
//! (`employee_key`).

use crate::core::{ClientId, EmployeeId};
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::time::timeout;

pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// After a failed connection, no new attempt for this long (the watcher keeps probing).
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How often the watcher pings a Redis that is up.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// How often the watcher pings a Redis that is down, and how long each probe waits.
const PROBE_EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Link {
    conn: Option<ConnectionManager>,
    down_until: Option<Instant>,
}

struct Inner {
    client: redis::Client,
    link: Mutex<Link>,
    up: AtomicBool,
}

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

pub fn employee_key(client: &ClientId, employee: &EmployeeId, suffix: &str) -> String {
    format!(
        "employee:{}:{}:{suffix}",
        client.as_str(),
        employee.as_str()
    )
}

/// Whether a failed call says Redis is unreachable (rather than refusing that one command).
fn unreachable(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

impl Cache {
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Cache {
            inner: Arc::new(Inner {
                client: redis::Client::open(url)?,
                link: Mutex::new(Link::default()),
                up: AtomicBool::new(true),
            }),
        })
    }

    /// Starts the watcher (heartbeat while up, probes while down); it ends with the cache.
    pub fn watch(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let cache = Cache { inner };
                let up = cache.is_up();
                tokio::time::sleep(if up { HEARTBEAT } else { PROBE_EVERY }).await;
                let answered = cache
                    .call(if up { OP_TIMEOUT } else { PROBE_EVERY }, async |c| {
                        redis::cmd("PING").query_async::<String>(c).await
                    })
                    .await
                    .is_some();
                if answered && !cache.inner.up.swap(true, Ordering::SeqCst) {
                    tracing::info!("redis answers again");
                } else if !answered {
                    cache.mark_down();
                }
            }
        });
    }

    /// Whether Redis answered its last call (calls give up at once while it does not).
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::SeqCst)
    }

    fn mark_down(&self) {
        if self.inner.up.swap(false, Ordering::SeqCst) {
            tracing::warn!("redis is not answering; calls give up at once until it does");
        }
    }

    /// A connection, made on first use; after a failed attempt, none for `RETRY_AFTER`.
    async fn conn(&self) -> Option<ConnectionManager> {
        let mut link = self.inner.link.lock().await;
        if let Some(c) = link.conn.as_ref() {
            return Some(c.clone());
        }
        if link.down_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new(self.inner.client.clone()),
        )
        .await
        {
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
                self.mark_down();
                None
            }
        }
    }

    /// Runs `op` on the shared connection within `limit`; `None` when it failed. A failure for
    /// want of Redis marks it down.
    async fn call<T>(
        &self,
        limit: Duration,
        op: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Option<T> {
        let mut conn = self.conn().await?;
        match timeout(limit, op(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                if unreachable(&e) {
                    self.mark_down();
                }
                tracing::warn!("redis command failed: {e}");
                None
            }
            Err(_) => {
                self.mark_down();
                tracing::warn!("redis command timed out");
                None
            }
        }
    }

    /// Runs `op` unless Redis is known to be down (then `None` at once).
    pub async fn exec<T>(
        &self,
        op: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Option<T> {
        if !self.is_up() {
            return None;
        }
        self.call(OP_TIMEOUT, op).await
    }

    pub async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        self.exec(async |c| cmd.query_async::<T>(c).await).await
    }

    pub fn redis_client(&self) -> redis::Client {
        self.inner.client.clone()
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

/// Something kept in step with a Redis pub/sub channel (an in-process cache).
pub trait Follower: Send + Sync + 'static {
    /// Subscribed afresh: whatever was heard before may have been missed.
    fn subscribed(&self);
    /// A message on the channel.
    fn message(&self, payload: &str);
    /// The subscription lapsed (Redis down or paused): nothing is heard until `subscribed`.
    fn lost(&self);
}

/// Keeps `follower` subscribed to `channel` until it is dropped. It counts as subscribed only
/// while the subscription is open *and* Redis answers the shared link's heartbeat (a paused
/// Redis keeps the subscription open but delivers nothing); after either lapses, it subscribes
/// again.
pub fn follow<F: Follower>(redis: Cache, channel: &'static str, follower: Weak<F>) {
    tokio::spawn(async move {
        loop {
            let connected = async {
                let mut pubsub = redis.redis_client().get_async_pubsub().await?;
                pubsub.subscribe(channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            if let Ok(Ok(pubsub)) = timeout(Duration::from_secs(2), connected).await {
                if redis.is_up() {
                    let Some(f) = follower.upgrade() else { return };
                    f.subscribed();
                    drop(f);
                    let mut messages = pubsub.into_on_message();
                    let mut check = tokio::time::interval(HEARTBEAT);
                    loop {
                        let msg = tokio::select! {
                            msg = futures::StreamExt::next(&mut messages) => msg,
                            _ = check.tick() => {
                                if redis.is_up() && follower.strong_count() > 0 {
                                    continue;
                                }
                                None
                            }
                        };
                        let Some(f) = follower.upgrade() else { return };
                        let Some(msg) = msg else {
                            f.lost();
                            break;
                        };
                        f.message(&msg.get_payload::<String>().unwrap_or_default());
                    }
                    tracing::warn!(channel, "listener lost Redis; subscribing again");
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            if follower.strong_count() == 0 {
                return;
            }
        }
    });
}
