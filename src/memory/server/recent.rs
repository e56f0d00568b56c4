//! Each employee's recent list in Redis (`employee:{client_id}:{employee_id}:recent`, newest
//! first, `RECENT_LIST_LEN` entries): a cache of the newest exchanges, never the truth.

use crate::core::{ClientId, EmployeeId};
use crate::memory::MemoryItem;
use crate::platform::redis::{employee_key, Cache, OP_TIMEOUT};
use tokio::time::timeout;

pub const RECENT_LIST_LEN: usize = 100;

/// Puts an exchange at the head of the employee's recent list, keeping `RECENT_LIST_LEN`.
pub async fn push(
    cache: &Cache,
    client: &ClientId,
    employee: &EmployeeId,
    item: &MemoryItem,
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
        .arg(RECENT_LIST_LEN as i64 - 1)
        .ignore();
    let Some(mut conn) = cache.conn().await else {
        return false;
    };
    matches!(
        timeout(OP_TIMEOUT, pipe.query_async::<()>(&mut conn)).await,
        Ok(Ok(()))
    )
}

/// Up to `limit` exchanges from the recent list, newest first; `None` when Redis is down.
pub async fn read(
    cache: &Cache,
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
    let raw: Vec<String> = cache.run(&cmd).await?;
    Some(
        raw.iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect(),
    )
}

/// Removes everything cached for the employee (the `config` hash older versions wrote too).
pub async fn purge(cache: &Cache, client: &ClientId, employee: &EmployeeId) -> bool {
    let mut cmd = redis::cmd("DEL");
    for suffix in ["config", "recent"] {
        cmd.arg(employee_key(client, employee, suffix));
    }
    cache.run::<i64>(&cmd).await.is_some()
}

/// Keys currently held for the employee (for tests and diagnostics).
pub async fn employee_keys(
    cache: &Cache,
    client: &ClientId,
    employee: &EmployeeId,
) -> Option<Vec<String>> {
    let mut cmd = redis::cmd("KEYS");
    cmd.arg(format!(
        "employee:{}:{}:*",
        client.as_str(),
        employee.as_str()
    ));
    cache.run::<Vec<String>>(&cmd).await
}
