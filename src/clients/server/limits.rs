//! The limits a client works under: its tier's (`[tiers.*]` in Leptos.toml) with whatever the
//! operator set in their place (`PUT …/clients/{client_id}/limits`). Rate limits read them on
//! every request, so each instance keeps them in memory: an entry is dropped on every instance
//! when the operator changes the client's limits or status (the accounts invalidation channel),
//! lives `TTL` at most, and only `UNSYNCED_TTL` while this instance cannot hear that channel.

use super::repo;
use crate::accounts::ClientPrincipal;
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::clients::{ClientLimits, LimitOverrides};
use crate::core::{AppError, ClientId};
use crate::platform::config::Tier;
use crate::platform::db::TenantTx;
use crate::platform::redis::Cache;
use crate::platform::AppState;
use crate::usage::TierLimits;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(60);
const UNSYNCED_TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

/// A client's limits in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub tier_name: String,
    pub tier: Tier,
    pub overrides: LimitOverrides,
}

impl Limits {
    /// The tier's limits with the overrides in their place.
    pub fn merge(tier_name: &str, tier: &Tier, overrides: LimitOverrides) -> Self {
        let mut t = tier.clone();
        if let Some(v) = overrides.requests_per_second {
            t.requests_per_second = v;
        }
        if let Some(v) = overrides.burst {
            t.burst = v;
        }
        if let Some(v) = overrides.key_requests_per_second {
            t.key_requests_per_second = v;
        }
        if let Some(v) = overrides.key_burst {
            t.key_burst = v;
        }
        if let Some(v) = overrides.max_concurrent_turns {
            t.max_concurrent_turns = v;
        }
        if let Some(v) = overrides.monthly_tokens {
            t.monthly_tokens = v;
        }
        if let Some(v) = overrides.monthly_cost_usd {
            t.monthly_cost_usd = v;
        }
        if let Some(v) = overrides.max_message_chars {
            t.max_message_chars = v;
        }
        Limits {
            tier_name: tier_name.to_owned(),
            tier: t,
            overrides,
        }
    }

    /// As the usage report shows them.
    pub fn report(&self) -> TierLimits {
        let t = &self.tier;
        TierLimits {
            tier: self.tier_name.clone(),
            requests_per_second: t.requests_per_second,
            burst: t.burst,
            key_requests_per_second: t.key_requests_per_second,
            key_burst: t.key_burst,
            max_concurrent_turns: t.max_concurrent_turns,
            monthly_tokens: t.monthly_tokens,
            monthly_cost_usd: t.monthly_cost_usd,
            max_message_chars: t.max_message_chars,
            overridden: self.overrides.names(),
        }
    }
}

/// Clients' limits in force, on this instance.
#[derive(Default)]
pub struct LimitsCache {
    entries: Mutex<HashMap<ClientId, (Arc<Limits>, Instant)>>,
    synced: AtomicBool,
}

impl LimitsCache {
    fn get(&self, client: &ClientId) -> Option<Arc<Limits>> {
        let ttl = if self.synced.load(Ordering::SeqCst) {
            TTL
        } else {
            UNSYNCED_TTL
        };
        let map = self.entries.lock().ok()?;
        map.get(client)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(l, _)| l.clone())
    }

    fn put(&self, client: &ClientId, limits: Arc<Limits>) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(client.clone(), (limits, Instant::now()));
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

impl crate::platform::redis::Follower for LimitsCache {
    fn subscribed(&self) {
        self.clear();
        self.synced.store(true, Ordering::SeqCst);
    }

    /// `client <id>` drops that client; a key's invalidation concerns no limits; anything else
    /// clears everything.
    fn message(&self, payload: &str) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        match payload.split_once(' ') {
            Some(("client", id)) => map.retain(|c, _| c.as_str() != id),
            Some(("key", _)) => {}
            _ => map.clear(),
        }
    }

    fn lost(&self) {
        self.synced.store(false, Ordering::SeqCst);
    }
}

/// Keeps `cache` following the accounts invalidation channel for as long as it lives.
pub fn listen(redis: Cache, cache: Weak<LimitsCache>) {
    crate::platform::redis::follow(redis, crate::accounts::server::keys::CHANNEL, cache);
}

fn tier_of<'a>(state: &'a AppState, name: &str) -> Result<&'a Tier, AppError> {
    state.settings.file.tiers.get(name).ok_or_else(|| {
        crate::platform::error::internal("a client's tier", &format!("no tier {name}"))
    })
}

async fn load(state: &AppState, client: &ClientId) -> Result<Arc<Limits>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, client).await?;
    let row = repo::tier_and_overrides(&mut tx)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    tx.commit().await?;
    let (name, overrides) = row;
    Ok(Arc::new(Limits::merge(
        &name,
        tier_of(state, &name)?,
        overrides,
    )))
}

/// The limits `who`'s client works under now.
pub async fn effective(state: &AppState, who: &ClientPrincipal) -> Result<Arc<Limits>, AppError> {
    if let Some(hit) = state.client_limits.get(&who.client_id) {
        return Ok(hit);
    }
    let limits = load(state, &who.client_id).await?;
    state.client_limits.put(&who.client_id, limits.clone());
    Ok(limits)
}

/// One client's overrides and the limits in force with them (the operator's form).
pub async fn of_client(state: &AppState, raw_id: &str) -> Result<ClientLimits, AppError> {
    let id = ClientId::parse(raw_id).ok_or_else(|| AppError::not_found("client"))?;
    let mut tx = TenantTx::begin(&state.pool, &id).await?;
    let client = repo::get_client(&mut tx)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    let (name, overrides) = repo::tier_and_overrides(&mut tx)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    tx.commit().await?;
    let in_force = Limits::merge(&name, tier_of(state, &name)?, overrides.clone()).report();
    Ok(ClientLimits {
        client,
        overrides,
        in_force,
    })
}

/// `PUT …/clients/{client_id}/limits` (the operator): replaces the client's overrides; the
/// answer is the limits now in force. Every instance applies them from the next request.
#[tracing::instrument(skip_all, fields(client_id = %raw_id))]
pub async fn set_overrides(
    state: &AppState,
    raw_id: &str,
    overrides: &LimitOverrides,
) -> Result<TierLimits, AppError> {
    let id = ClientId::parse(raw_id).ok_or_else(|| AppError::not_found("client"))?;
    let problems = overrides.problems();
    if !problems.is_empty() {
        return Err(AppError::Validation {
            message: format!(
                "some limits are out of range: {}",
                problems.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            fields: problems,
        });
    }
    let mut tx = TenantTx::begin(&state.pool, &id).await?;
    let (name, before) = repo::tier_and_overrides(&mut tx)
        .await?
        .ok_or_else(|| AppError::not_found("client"))?;
    repo::set_overrides(&mut tx, overrides).await?;
    audit::record(
        &mut tx,
        &Actor::Operator,
        AuditAction::ClientLimitsUpdate,
        id.as_str(),
        Some(json!(before)),
        Some(json!(overrides)),
    )
    .await?;
    tx.commit().await?;
    crate::accounts::server::keys::broadcast_invalidation(state, &format!("client {id}")).await;
    // This instance forgets at once, whether or not Redis carried the message.
    crate::platform::redis::Follower::message(&*state.client_limits, &format!("client {id}"));
    let limits = Limits::merge(&name, tier_of(state, &name)?, overrides.clone());
    Ok(limits.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier() -> Tier {
        Tier {
            max_employees: 5,
            allowed_models: vec![],
            requests_per_second: 10.0,
            burst: 20,
            key_requests_per_second: 5.0,
            key_burst: 10,
            monthly_tokens: 1000,
            max_concurrent_turns: 8,
            monthly_cost_usd: 0.0,
            max_message_chars: 16_000,
            recall_tokens: 1000,
            max_documents: 10,
            max_document_bytes: 1024,
        }
    }

    #[test]
    fn an_override_replaces_the_tiers_limit_and_nothing_else() {
        let limits = Limits::merge(
            "starter",
            &tier(),
            LimitOverrides {
                monthly_tokens: Some(0),
                burst: Some(3),
                ..Default::default()
            },
        );
        let r = limits.report();
        assert_eq!((r.monthly_tokens, r.burst), (0, 3));
        assert_eq!((r.requests_per_second, r.max_concurrent_turns), (10.0, 8));
        assert_eq!(r.overridden, ["burst", "monthly_tokens"]);
        let plain = Limits::merge("starter", &tier(), LimitOverrides::default()).report();
        assert_eq!((plain.monthly_tokens, plain.burst), (1000, 20));
        assert!(plain.overridden.is_empty());
    }

    #[test]
    fn a_clients_invalidation_drops_its_entry_alone() {
        let cache = LimitsCache::default();
        crate::platform::redis::Follower::subscribed(&cache);
        let a = ClientId::parse("client_0123456789abcdef01234567").expect("id");
        let b = ClientId::parse("client_89abcdef0123456789abcdef").expect("id");
        let l = Arc::new(Limits::merge("starter", &tier(), LimitOverrides::default()));
        cache.put(&a, l.clone());
        cache.put(&b, l);
        crate::platform::redis::Follower::message(&cache, &format!("client {a}"));
        assert!(cache.get(&a).is_none());
        assert!(cache.get(&b).is_some());
        crate::platform::redis::Follower::message(&cache, "key 0123456789abcdef");
        assert!(cache.get(&b).is_some());
    }
}
