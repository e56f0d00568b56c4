//! Each employee's recent list in Redis (`employee:{client_id}:{employee_id}:recent`, newest
//! first, `RECENT_LIST_LEN` entries): a cache of the newest answered exchanges, never the truth.
//! Each entry is `"{n} {tag} {json}"`, where `n` is the exchange's number among the employee's
//! answered ones (counted in Postgres as it is stored) and `tag` is the server's keyed tag over
//! the client, the employee, `n` and the JSON (`platform::secrets`): an entry that anyone without
//! the server's secret planted or altered, or copied from another employee's list, fails its tag
//! and is not served. A list is only served when its entries' numbers run down from Postgres's
//! count without a gap (`checked`); otherwise (Redis restored from a snapshot, a push lost while
//! Redis was down, an entry that fails its tag) it is rebuilt from Postgres.

use crate::core::{ClientId, EmployeeId};
use crate::memory::MemoryItem;
use crate::platform::redis::{employee_key, Cache};
use crate::platform::secrets::ServerKeys;
use std::sync::LazyLock;

pub const RECENT_LIST_LEN: usize = 100;

/// Puts entry ARGV[1] (number) / ARGV[2] (entry) at the head of list KEYS[1] when it follows
/// the head (or starts an empty list), keeping ARGV[3] entries. An entry already there (or
/// overtaken) is left alone; one that would leave a gap empties the list, for the next read to
/// rebuild it.
static PUSH: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local n = tonumber(ARGV[1])
local head = redis.call('LINDEX', KEYS[1], 0)
local prev = nil
if head then prev = tonumber(string.match(head, '^(%d+) ')) end
if (not head and n == 1) or (prev ~= nil and prev == n - 1) then
  redis.call('LPUSH', KEYS[1], ARGV[2])
  redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
  return 1
end
if prev ~= nil and prev >= n then return 0 end
redis.call('DEL', KEYS[1])
return 0
",
    )
});

/// Whose list an entry belongs to, and the key its tags are made with.
#[derive(Clone, Copy)]
pub struct Owner<'a> {
    pub keys: &'a ServerKeys,
    pub client: &'a ClientId,
    pub employee: &'a EmployeeId,
}

impl Owner<'_> {
    fn key(&self) -> String {
        employee_key(self.client, self.employee, "recent")
    }

    fn tag(&self, n: &str, json: &str) -> String {
        self.keys.cache_tag(&[
            self.client.as_str().as_bytes(),
            self.employee.as_str().as_bytes(),
            n.as_bytes(),
            json.as_bytes(),
        ])
    }

    fn entry(&self, n: i64, item: &MemoryItem) -> Option<String> {
        let json = serde_json::to_string(item).ok()?;
        let n = n.to_string();
        let tag = self.tag(&n, &json);
        Some(format!("{n} {tag} {json}"))
    }

    /// An entry's number and exchange, when its tag is this owner's tag of them.
    fn parse(&self, raw: &str) -> Option<(i64, MemoryItem)> {
        let (n, rest) = raw.split_once(' ')?;
        let (tag, json) = rest.split_once(' ')?;
        let ok = self.keys.cache_tag_matches(
            tag,
            &[
                self.client.as_str().as_bytes(),
                self.employee.as_str().as_bytes(),
                n.as_bytes(),
                json.as_bytes(),
            ],
        );
        if !ok {
            return None;
        }
        Some((n.parse().ok()?, serde_json::from_str(json).ok()?))
    }
}

/// Puts exchange number `n` at the head of the employee's recent list, keeping
/// `RECENT_LIST_LEN`. False when Redis did not take it (the list then gets rebuilt on a read).
pub async fn push(cache: &Cache, owner: Owner<'_>, n: i64, item: &MemoryItem) -> bool {
    let Some(value) = owner.entry(n, item) else {
        return false;
    };
    let key = owner.key();
    let mut call = PUSH.prepare_invoke();
    call.key(&key).arg(n).arg(value).arg(RECENT_LIST_LEN);
    cache
        .exec(async |c| call.invoke_async::<i64>(c).await)
        .await
        .is_some()
}

/// Up to `limit` entries of the recent list with their numbers, newest first; `None` when Redis
/// is down. Entries it cannot read or whose tag fails are left out (and so fail `checked`).
pub async fn read(cache: &Cache, owner: Owner<'_>, limit: usize) -> Option<Vec<(i64, MemoryItem)>> {
    if limit == 0 {
        return Some(Vec::new());
    }
    let mut cmd = redis::cmd("LRANGE");
    cmd.arg(owner.key()).arg(0).arg(limit as i64 - 1);
    let raw: Vec<String> = cache.run(&cmd).await?;
    Some(raw.iter().filter_map(|s| owner.parse(s)).collect())
}

/// The newest `limit` exchanges of `entries` when they are exactly the employee's newest ones:
/// numbered `answered`, `answered - 1`, … with nothing missing.
pub fn checked(
    entries: Vec<(i64, MemoryItem)>,
    answered: i64,
    limit: usize,
) -> Option<Vec<MemoryItem>> {
    let want = usize::try_from(answered.max(0))
        .unwrap_or(usize::MAX)
        .min(limit);
    if entries.len() < want {
        return None;
    }
    let items: Vec<MemoryItem> = entries
        .into_iter()
        .take(want)
        .enumerate()
        .map(|(i, (n, item))| (n == answered - i as i64).then_some(item))
        .collect::<Option<_>>()?;
    Some(items)
}

/// Replaces the list with `items` (newest first, the first numbered `answered`).
pub async fn replace(cache: &Cache, owner: Owner<'_>, answered: i64, items: &[MemoryItem]) -> bool {
    let key = owner.key();
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("DEL").arg(&key).ignore();
    let entries: Vec<String> = items
        .iter()
        .take(RECENT_LIST_LEN)
        .enumerate()
        .filter_map(|(i, item)| owner.entry(answered - i as i64, item))
        .collect();
    if !entries.is_empty() {
        pipe.cmd("RPUSH").arg(&key).arg(entries).ignore();
    }
    cache
        .exec(async |c| pipe.query_async::<()>(c).await)
        .await
        .is_some()
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
