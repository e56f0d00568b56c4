//! API keys and the operator token: issuing, hashing and checking them.
//!
//! An API key reads `wfk_<key id>_<secret>`. The key id is public and indexes the key; the
//! secret is stored only as an argon2id hash. Verifying that hash costs tens of milliseconds on
//! purpose, so a verified key is remembered (by its SHA-256) for `api_key_cache_seconds`.

use super::repo;
use crate::accounts::ClientPrincipal;
use crate::audit::server::service as audit;
use crate::audit::{Actor, AuditAction};
use crate::core::{AppError, ClientId, KeyId};
use crate::platform::db::{OperatorConn, TenantTx};
use crate::platform::error::internal;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

const KEY_PREFIX: &str = "wfk_";
const MAX_CACHED_KEYS: usize = 10_000;

/// A new key: (the whole key to show once, its id, its secret).
pub fn new_api_key() -> (String, KeyId, String) {
    let id = KeyId::generate();
    let secret = hex::encode(rand::random::<[u8; 24]>());
    (format!("{KEY_PREFIX}{id}_{secret}"), id, secret)
}

pub async fn hash_secret(secret: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt =
            SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| internal("hashing task", &e))?
    .map_err(|e| internal("hashing an API key", &e))
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
pub async fn issue_key(tx: &mut TenantTx) -> Result<String, AppError> {
    let (api_key, key_id, secret) = new_api_key();
    let hash = hash_secret(secret).await?;
    repo::insert_api_key(tx, &key_id, &hash).await?;
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
    keys: &KeyCache,
    ttl: Duration,
    key: &str,
) -> Result<ClientPrincipal, AppError> {
    let key = key.trim();
    let (key_id, secret) = parse_key(key).ok_or_else(invalid_key)?;
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    if let Some(p) = keys.get(&digest, ttl) {
        return Ok(p);
    }
    let mut conn = OperatorConn::acquire(pool).await?;
    let record = repo::lookup_api_key(&mut conn, &key_id)
        .await?
        .ok_or_else(invalid_key)?;
    drop(conn);
    let secret = secret.to_owned();
    let hash = record.key_hash.clone();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| internal("verifying an API key", &e))?;
    if !ok {
        return Err(invalid_key());
    }
    if record.client_status != "active" {
        return Err(AppError::Forbidden {
            message: "this client is suspended".into(),
        });
    }
    let client_id = ClientId::parse(&record.client_id).ok_or_else(invalid_key)?;
    let principal = ClientPrincipal { client_id, key_id };
    keys.put(digest, principal.clone());
    Ok(principal)
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
