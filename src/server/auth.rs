//! Authentication: the operator's admin token and clients' API keys.
//!
//! An API key reads `wfk_<key id>_<secret>`. The key id is public and indexes the key; the
//! secret is stored only as an argon2id hash. Verifying that hash costs tens of milliseconds on
//! purpose, so a verified key is remembered (by its SHA-256) for `api_key_cache_seconds`.

use super::repo;
use super::state::AppState;
use crate::domain::{AppError, ClientId};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

const KEY_PREFIX: &str = "wfk_";
const MAX_CACHED_KEYS: usize = 10_000;

/// Who is acting for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPrincipal {
    pub client_id: ClientId,
    pub key_id: String,
}

impl ClientPrincipal {
    /// How the audit trail names this actor.
    pub fn actor(&self) -> String {
        format!("api_key:{}", self.key_id)
    }
}

pub const OPERATOR_ACTOR: &str = "operator";

/// A new key: (the whole key to show once, its id, its secret).
pub fn new_api_key() -> (String, String, String) {
    let id = hex::encode(rand::random::<[u8; 8]>());
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
    .map_err(|e| super::error::internal("hashing task", &e))?
    .map_err(|e| super::error::internal("hashing an API key", &e))
}

fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex_ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_ok(id, 16) && hex_ok(secret, 48)).then_some((id, secret))
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

/// Resolves a client API key to its principal.
pub async fn authenticate_client(state: &AppState, key: &str) -> Result<ClientPrincipal, AppError> {
    let key = key.trim();
    let (key_id, secret) = parse_key(key).ok_or_else(invalid_key)?;
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let ttl = Duration::from_secs(state.settings.file.limits.api_key_cache_seconds);
    if let Some(p) = state.keys.get(&digest, ttl) {
        return Ok(p);
    }
    let mut conn = state.pool.acquire().await?;
    let record = repo::lookup_api_key(&mut conn, key_id)
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
    .map_err(|e| super::error::internal("verifying an API key", &e))?;
    if !ok {
        return Err(invalid_key());
    }
    if record.client_status != "active" {
        return Err(AppError::Forbidden {
            message: "this client is suspended".into(),
        });
    }
    let client_id = ClientId::parse(&record.client_id).ok_or_else(invalid_key)?;
    let principal = ClientPrincipal {
        client_id,
        key_id: key_id.to_owned(),
    };
    state.keys.put(digest, principal.clone());
    Ok(principal)
}

/// Checks the operator's admin token in constant time.
pub fn authenticate_operator(state: &AppState, token: &str) -> Result<(), AppError> {
    let Some(expected) = &state.settings.admin_token else {
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

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let (key, id, secret) = new_api_key();
        assert_eq!(parse_key(&key), Some((id.as_str(), secret.as_str())));
        assert!(parse_key("wfk_short_key").is_none());
        assert!(parse_key(&key.replace("wfk_", "sk_")).is_none());
    }

    #[test]
    fn bearer_reads_the_token() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Basic abc"),
        );
        assert_eq!(bearer(&h), None);
    }
}
