//! API keys and the operator token: issuing and checking them.
//!
//! An API key reads `wfk_<key id>_<secret>`. The key id is public and indexes the key; the
//! secret (192 random bits) is stored only as a keyed digest (`platform::secrets`), checked in
//! constant time. A key id that does not exist costs exactly what a wrong secret costs: the same
//! lookup, then a comparison against a stand-in digest. Keys issued before digests were stored
//! keep their argon2id hash and are verified at most `SLOW_HASH_SLOTS` at a time, so wrong
//! secrets cannot pile up memory-hard work. A verified key is remembered (by its SHA-256) for
//! `api_key_cache_seconds`.

use super::repo;
use crate::accounts::{ApiKeyInfo, ClientPrincipal, CreatedApiKey, Credential, NewApiKey, Scope};
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::core::{AppError, ClientId, EmployeeId, KeyId};
use crate::platform::db::{OperatorConn, TenantTx};
use crate::platform::error::internal;
use crate::platform::redis::Cache;
use crate::platform::secrets::{ServerKeys, API_KEY_DIGEST_PREFIX};
use crate::platform::AppState;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Weak;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Slow (argon2id) verifications running at once, process-wide; each holds ~19 MiB.
pub const SLOW_HASH_SLOTS: usize = 2;
/// How long a request waits for a slot before it is answered 503.
const SLOW_HASH_WAIT: Duration = Duration::from_secs(5);
static SLOW_HASHES: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(SLOW_HASH_SLOTS));

/// Runs `verify` (an argon2id verification) on a blocking thread once one of the process's
/// `SLOW_HASH_SLOTS` is free; 503 when none frees up within `SLOW_HASH_WAIT`.
pub async fn verify_slow_hash<T: Send + 'static>(
    verify: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permit = tokio::time::timeout(SLOW_HASH_WAIT, SLOW_HASHES.acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| AppError::Unavailable {
            message: "too many sign-in checks at once; try again in a moment".into(),
        })?;
    let ok = tokio::task::spawn_blocking(verify)
        .await
        .map_err(|e| internal("verifying a password hash", &e))?;
    drop(permit);
    Ok(ok)
}

const KEY_PREFIX: &str = "wfk_";
const MAX_CACHED_KEYS: usize = 10_000;

/// A new key: (the whole key to show once, its id, its secret).
pub fn new_api_key() -> (String, KeyId, String) {
    let id = KeyId::generate();
    let secret = hex::encode(rand::random::<[u8; 24]>());
    (format!("{KEY_PREFIX}{id}_{secret}"), id, secret)
}

fn parse_key(key: &str) -> Option<(KeyId, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let secret_ok = secret.len() == 48 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    secret_ok.then_some((KeyId::parse(id)?, secret))
}

/// Verified keys, by the SHA-256 of the whole key. An entry is trusted for
/// `api_key_cache_seconds` while this instance hears the invalidation channel (a revoked key, a
/// suspended client is dropped from every instance at once), and for `UNSYNCED_TTL` at most
/// while it does not (Redis down or not subscribed yet).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], (ClientPrincipal, Instant)>>,
    synced: AtomicBool,
}

/// How long a verified key is trusted while invalidations cannot be heard.
pub const UNSYNCED_TTL: Duration = Duration::from_secs(2);
/// The Redis channel of key and client invalidations: `key <key id>` or `client <client id>`.
pub const CHANNEL: &str = "accounts:invalidate";

impl KeyCache {
    fn get(&self, digest: &[u8; 32], ttl: Duration) -> Option<ClientPrincipal> {
        let ttl = if self.synced.load(Ordering::SeqCst) {
            ttl
        } else {
            ttl.min(UNSYNCED_TTL)
        };
        let map = self.entries.lock().ok()?;
        map.get(digest)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, digest: [u8; 32], p: ClientPrincipal) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_CACHED_KEYS {
                map.clear();
            }
            map.insert(digest, (p, Instant::now()));
        }
    }

    /// Applies one invalidation message (anything unreadable clears everything).
    pub fn invalidate(&self, message: &str) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        match message.split_once(' ') {
            Some(("key", id)) => map.retain(
                |_, (p, _)| !matches!(&p.credential, Credential::Key(k) if k.as_str() == id),
            ),
            Some(("client", id)) => map.retain(|_, (p, _)| p.client_id.as_str() != id),
            _ => map.clear(),
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }

    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }
}

/// Keeps `cache` subscribed to the invalidation channel for as long as it lives: on (re)subscribing
/// it starts empty, and while not subscribed its entries are trusted for `UNSYNCED_TTL` at most.
pub fn listen(redis: Cache, cache: Weak<KeyCache>) {
    crate::platform::redis::follow(redis, CHANNEL, cache);
}

impl crate::platform::redis::Follower for KeyCache {
    fn subscribed(&self) {
        self.clear();
        self.set_synced(true);
    }

    fn message(&self, payload: &str) {
        self.invalidate(payload);
    }

    fn lost(&self) {
        self.set_synced(false);
    }
}

/// Tells every instance (this one included) to forget what it verified for a key or a client;
/// this instance forgets at once even when Redis does not take the message.
pub async fn broadcast_invalidation(state: &AppState, message: &str) {
    state.keys.invalidate(message);
    if !state.cache.publish(CHANNEL, message).await {
        tracing::warn!("could not publish an API key invalidation; other instances forget it within {UNSYNCED_TTL:?} of losing Redis");
    }
}

fn invalid_key() -> AppError {
    AppError::unauthorized("missing or invalid API key")
}

/// Issues the first API key of a new client inside its onboarding transaction; returns the
/// whole key, to be shown once.
pub async fn issue_key(tx: &mut TenantTx, keys: &ServerKeys) -> Result<String, AppError> {
    let (api_key, key_id, secret) = new_api_key();
    repo::insert_api_key(
        tx,
        &key_id,
        &keys.api_key_digest(&secret),
        "default",
        &[Scope::Admin],
        None,
    )
    .await?;
    audit::record(
        tx,
        &Actor::Operator,
        AuditAction::ApiKeyCreate,
        key_id.as_str(),
        None,
        Some(serde_json::json!({ "key_id": key_id })),
    )
    .await?;
    Ok(api_key)
}

/// Resolves a client API key to its principal; a verified key is trusted for `ttl`.
pub async fn authenticate_client(
    pool: &PgPool,
    cache: &KeyCache,
    keys: &ServerKeys,
    ttl: Duration,
    key: &str,
) -> Result<ClientPrincipal, AppError> {
    let key = key.trim();
    let (key_id, secret) = parse_key(key).ok_or_else(invalid_key)?;
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    if let Some(p) = cache.get(&digest, ttl) {
        return Ok(p);
    }
    let mut conn = OperatorConn::acquire(pool).await?;
    let record = repo::lookup_api_key(&mut conn, &key_id).await?;
    drop(conn);
    let ok = match &record {
        Some(r) if r.key_hash.starts_with(API_KEY_DIGEST_PREFIX) => {
            keys.api_key_matches(secret, &r.key_hash)
        }
        Some(r) => {
            let (secret, hash) = (secret.to_owned(), r.key_hash.clone());
            verify_slow_hash(move || {
                PasswordHash::new(&hash).is_ok_and(|h| {
                    Argon2::default()
                        .verify_password(secret.as_bytes(), &h)
                        .is_ok()
                })
            })
            .await?
        }
        // No such key: the same comparison against a stand-in, so both cost the same.
        None => {
            keys.api_key_matches(secret, &STAND_IN);
            false
        }
    };
    let Some(record) = record.filter(|_| ok) else {
        return Err(invalid_key());
    };
    if record.client_status != "active" {
        return Err(AppError::Forbidden {
            message: "this client is suspended".into(),
        });
    }
    let client_id = ClientId::parse(&record.client_id).ok_or_else(invalid_key)?;
    let scopes = record
        .scopes
        .iter()
        .filter_map(|s| Scope::parse(s))
        .collect();
    let employee = record.employee_id.as_deref().and_then(EmployeeId::parse);
    let principal = ClientPrincipal {
        client_id,
        credential: Credential::Key(key_id.clone()),
        tier: record.client_tier,
        scopes,
        employees: employee.map(|e| vec![e]),
    };
    cache.put(digest, principal.clone());
    // Its last use, noted when it is verified afresh (so at most once per cache lifetime).
    let (pool, client) = (pool.clone(), principal.client_id.clone());
    tokio::spawn(async move {
        let touched = async {
            let mut tx = TenantTx::begin(&pool, &client).await?;
            repo::touch_api_key(&mut tx, &key_id).await?;
            tx.commit().await
        };
        if let Err(e) = touched.await {
            tracing::debug!(error = %e, "could not note an API key's last use");
        }
    });
    Ok(principal)
}

/// A digest no key has, compared against when a key id is unknown.
static STAND_IN: LazyLock<String> =
    LazyLock::new(|| format!("{API_KEY_DIGEST_PREFIX}{}", "0".repeat(64)));

/// `POST …/api-keys`: a new key with the given name, scopes and binding; the whole key is in the
/// answer, this once.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn create_key(
    state: &AppState,
    who: &ClientPrincipal,
    req: &NewApiKey,
) -> Result<CreatedApiKey, AppError> {
    let mut fields = crate::core::FieldErrors::new();
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        fields.insert("name".into(), "must be 1 to 100 characters".into());
    }
    if req.scopes.is_empty() {
        fields.insert(
            "scopes".into(),
            format!(
                "name at least one of: {}",
                Scope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let employee = match req.employee_id.as_deref() {
        None => None,
        Some(raw) => match EmployeeId::parse(raw).filter(|id| id.client_id() == who.client_id) {
            Some(id) => Some(id),
            None => {
                fields.insert("employee_id".into(), "is not one of your employees".into());
                None
            }
        },
    };
    if !fields.is_empty() {
        return Err(AppError::Validation {
            message: "the key cannot be made as asked".into(),
            fields,
        });
    }
    let mut scopes = req.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let (api_key, key_id, secret) = new_api_key();
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let info = repo::insert_api_key(
        &mut tx,
        &key_id,
        &state.secrets.api_key_digest(&secret),
        name,
        &scopes,
        employee.as_ref().map(EmployeeId::as_str),
    )
    .await
    .map_err(|e| match &e {
        // The binding's foreign key: no such employee.
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            AppError::field("employee_id", "is not one of your employees")
        }
        _ => AppError::from(e),
    })?;
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::ApiKeyCreate,
        key_id.as_str(),
        None,
        Some(audit::snapshot(&info)?),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedApiKey { api_key, info })
}

/// `GET …/api-keys`: the client's keys, never their secrets.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn list_keys(
    state: &AppState,
    who: &ClientPrincipal,
) -> Result<Vec<ApiKeyInfo>, AppError> {
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    let keys = repo::list_api_keys(&mut tx).await?;
    tx.commit().await?;
    Ok(keys)
}

/// `DELETE …/api-keys/{key_id}`: revokes a key; it fails on every instance at once.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id))]
pub async fn revoke_key(
    state: &AppState,
    who: &ClientPrincipal,
    raw_id: &str,
) -> Result<(), AppError> {
    let key_id = KeyId::parse(raw_id).ok_or_else(|| AppError::not_found("API key"))?;
    let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
    if !repo::revoke_api_key(&mut tx, &key_id).await? {
        return Err(AppError::not_found("API key"));
    }
    audit::record(
        &mut tx,
        &who.actor(),
        AuditAction::ApiKeyRevoke,
        key_id.as_str(),
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    broadcast_invalidation(state, &format!("key {key_id}")).await;
    Ok(())
}

/// Checks the operator's admin token in constant time.
pub fn authenticate_operator(
    admin_token: Option<&SecretString>,
    token: &str,
) -> Result<(), AppError> {
    let Some(expected) = admin_token else {
        return Err(AppError::Forbidden {
            message: "operator access is disabled (WORKFORCE_ADMIN_TOKEN is not set)".into(),
        });
    };
    let a = Sha256::digest(token.trim().as_bytes());
    let b = Sha256::digest(expected.expose_secret().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(AppError::unauthorized("missing or invalid operator token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let (key, id, secret) = new_api_key();
        assert_eq!(parse_key(&key), Some((id, secret.as_str())));
        assert!(parse_key("wfk_short_key").is_none());
        assert!(parse_key(&key.replace("wfk_", "sk_")).is_none());
    }
}
