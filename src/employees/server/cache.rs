//! A bounded in-process cache of employees (with what their client may use), so a chat turn
//! does not read them from Postgres every time. Every change to an employee removes it here at
//! once and is published on Redis (`PUBLISH workforce:employee-changed`), which every instance
//! listens to, so the others drop their copy too. An entry lives `ttl` while this instance is
//! subscribed and Redis answers its heartbeat; while either is not so (changes from other
//! instances could be missed), an entry is trusted for `UNSYNCED_TTL` at most, so a pause or an
//! archive made on another instance takes effect here within that bound. On subscribing again
//! an instance drops everything it holds.

use crate::core::{ClientId, EmployeeId};
use crate::employees::Employee;
use crate::platform::redis::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub const CHANNEL: &str = "workforce:employee-changed";

/// How long an entry is trusted while changes from other instances may be missed.
pub const UNSYNCED_TTL: Duration = Duration::from_secs(2);

/// An employee as a turn needs it.
#[derive(Clone)]
pub struct TurnEmployee {
    pub employee: Arc<Employee>,
    pub allowed_models: Arc<Vec<String>>,
    /// The employee's own monthly budget, when it has one.
    pub budget: Option<crate::employees::EmployeeBudget>,
}

struct Entry {
    value: TurnEmployee,
    at: Instant,
}

pub struct EmployeeCache {
    entries: Mutex<HashMap<(String, String), Entry>>,
    capacity: usize,
    ttl: Duration,
    /// Bumped by every invalidation: a value read before a change is not cached after it.
    epoch: AtomicU64,
    /// Whether this instance hears every change now (subscribed, and Redis answering).
    synced: AtomicBool,
}

fn key(client: &ClientId, id: &EmployeeId) -> (String, String) {
    (client.as_str().to_owned(), id.as_str().to_owned())
}

impl EmployeeCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        EmployeeCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
            epoch: AtomicU64::new(0),
            synced: AtomicBool::new(false),
        }
    }

    /// How long an entry is trusted now.
    fn trusted_for(&self) -> Duration {
        if self.synced.load(Ordering::SeqCst) {
            self.ttl
        } else {
            self.ttl.min(UNSYNCED_TTL)
        }
    }

    pub fn get(&self, client: &ClientId, id: &EmployeeId) -> Option<TurnEmployee> {
        let trusted_for = self.trusted_for();
        let entries = self.entries.lock().ok()?;
        entries
            .get(&key(client, id))
            .filter(|e| e.at.elapsed() < trusted_for)
            .map(|e| e.value.clone())
    }

    fn set_synced(&self, synced: bool) {
        if self.synced.swap(synced, Ordering::SeqCst) && !synced {
            tracing::warn!(
                "employee changes from other instances may be missed; cached employees are trusted for {:?}",
                UNSYNCED_TTL
            );
        }
    }

    /// Read this before loading from Postgres and pass it to `insert`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Caches a value loaded when the epoch was `epoch`, unless something changed since.
    pub fn insert(&self, client: &ClientId, id: &EmployeeId, value: TurnEmployee, epoch: u64) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, e| e.at.elapsed() < ttl);
        }
        if entries.len() >= self.capacity {
            // Still full of live entries: drop the oldest.
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        let at = Instant::now();
        entries.insert(key(client, id), Entry { value, at });
    }

    pub fn remove(&self, client: &str, id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(client.to_owned(), id.to_owned()));
        }
    }

    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops an employee from this instance's cache at once and tells every instance (this one
/// included) that it changed.
pub async fn announce_change(
    cache: &EmployeeCache,
    redis: &Cache,
    client: &ClientId,
    id: &EmployeeId,
) {
    cache.remove(client.as_str(), id.as_str());
    if !redis.publish(CHANNEL, &message(client, id)).await {
        tracing::warn!(employee_id = %id, "could not announce the change; other instances see it when their copy expires");
    }
}

/// The message announcing a change to one employee.
pub fn message(client: &ClientId, id: &EmployeeId) -> String {
    format!("{} {}", client.as_str(), id.as_str())
}

/// Listens for changes published by any instance (this one included) until the cache is
/// dropped; see `redis::follow` for when it counts as synced.
pub fn listen(redis: Cache, cache: Weak<EmployeeCache>) {
    crate::platform::redis::follow(redis, CHANNEL, cache);
}

impl crate::platform::redis::Follower for EmployeeCache {
    fn subscribed(&self) {
        self.clear();
        self.set_synced(true);
    }

    fn message(&self, payload: &str) {
        match payload.split_once(' ') {
            Some((client, id)) => self.remove(client, id),
            None => self.clear(),
        }
    }

    fn lost(&self) {
        self.set_synced(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_during_a_load_keeps_the_stale_value_out() {
        let cache = EmployeeCache::new(2, Duration::from_secs(60));
        let client = ClientId::parse("client_0123456789abcdef01234567").expect("id");
        let ids: Vec<EmployeeId> = (0..3)
            .map(|i| EmployeeId::parse(&format!("{}_emp_{:024x}", client.as_str(), i)).expect("id"))
            .collect();
        let req: crate::employees::EmployeeRequirements =
            serde_json::from_value(serde_json::json!({"role": "clerk", "industry": "retail", "communication_style": "friendly"}))
                .expect("requirements");
        let employee = crate::employees::generator::generate_employee(&req, &["m".into()], "m")
            .expect("valid")
            .into_employee(ids[0].clone(), client.clone(), chrono::DateTime::UNIX_EPOCH);
        let value = || TurnEmployee {
            employee: Arc::new(employee.clone()),
            allowed_models: Arc::new(vec![]),
            budget: None,
        };
        let before = cache.epoch();
        cache.remove(client.as_str(), ids[0].as_str()); // a change arrives mid-load
        cache.insert(&client, &ids[0], value(), before);
        assert!(cache.get(&client, &ids[0]).is_none());
        // Bounded: a third entry evicts the oldest.
        for id in &ids {
            cache.insert(&client, id, value(), cache.epoch());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&client, &ids[0]).is_none());
        assert!(cache.get(&client, &ids[2]).is_some());
    }
}
