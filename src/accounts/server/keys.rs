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
use crate::accounts::ClientPrincipal;
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::core::{AppError, ClientId, KeyId};
use crate::platform::db::{OperatorConn, TenantTx};
use crate::platform::error::internal;
use crate::platform::secrets::{ServerKeys, API_KEY_DIGEST_PREFIX};
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
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
pub async fn verify_slow_hash(
    verify: impl FnOnce() -> bool + Send + 'static,
) -> Result<bool, AppError> {
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

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], (ClientPrincipal, Instant)>>,
}

impl KeyCache {
    fn get(&self, digest: &[u8; 32], ttl: Duration) -> Option<ClientPrincipal> {
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
}

fn invalid_key() -> AppError {
    AppError::unauthorized("missing or invalid API key")
}

/// Issues the first API key of a new client inside its onboarding transaction; returns the
/// whole key, to be shown once.
pub async fn issue_key(tx: &mut TenantTx, keys: &ServerKeys) -> Result<String, AppError> {
    let (api_key, key_id, secret) = new_api_key();
    repo::insert_api_key(tx, &key_id, &keys.api_key_digest(&secret)).await?;
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
    let principal = ClientPrincipal {
        client_id,
        key_id,
        tier: record.client_tier,
    };
    cache.put(digest, principal.clone());
    Ok(principal)
}

/// A digest no key has, compared against when a key id is unknown.
static STAND_IN: LazyLock<String> =
    LazyLock::new(|| format!("{API_KEY_DIGEST_PREFIX}{}", "0".repeat(64)));

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
