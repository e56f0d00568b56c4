//! Throttling of credentials and rate limits of clients, on the shared token buckets
//! (`platform::limits`).
//!
//! - Wrong credentials (an API key, the operator token, a sign-in form) are throttled per IP
//!   address, and sign-in forms also per account: once the failures are used up, attempts get
//!   429 with `Retry-After` *before* anything is checked, so guessing is slowed for everyone
//!   behind that address or at that account. API keys sent on requests are random 192-bit
//!   secrets that no throttle needs to protect; they are not throttled per key, so nobody can
//!   lock a client's key out by sending wrong secrets for its id.
//! - Each client's API and server-function requests draw on its tier's buckets: one per client
//!   (all its keys) and one per key.
//!
//! The client's address is the connection's peer (`ConnectInfo`), or behind a reverse proxy
//! listed in `server.trusted_proxies` the address its `X-Forwarded-For` names
//! (`platform::serve`).

use crate::accounts::ClientPrincipal;
use crate::core::AppError;
use crate::platform::limits::Rate;
use crate::platform::AppState;
use axum::extract::ConnectInfo;
use std::net::SocketAddr;
use std::time::Duration;

/// Wrong credentials one address may send (`limits.auth_failure_*`).
fn auth_failures(state: &AppState) -> Rate {
    let l = &state.settings.file.limits;
    Rate {
        per_second: l.auth_failures_per_minute / 60.0,
        burst: l.auth_failure_burst,
    }
}

/// Failed sign-ins one account (the operator, or one API key id) may take
/// (`limits.sign_in_failure_*`).
fn account_failures(state: &AppState) -> Rate {
    let l = &state.settings.file.limits;
    Rate {
        per_second: l.sign_in_failures_per_minute / 60.0,
        burst: l.sign_in_failure_burst,
    }
}

/// The peer address of the request, as text (`unknown` when the server was not told it).
pub fn client_ip(ext: &http::Extensions) -> String {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

fn retry_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn buckets<'a>(
    state: &AppState,
    ip_key: &'a str,
    account_key: Option<&'a str>,
) -> Vec<(&'a str, Rate)> {
    let mut b = vec![(ip_key, auth_failures(state))];
    if let Some(a) = account_key {
        b.push((a, account_failures(state)));
    }
    b
}

/// 429 when `ip` (or `account`) has used up its failures.
pub async fn before_attempt(
    state: &AppState,
    ip: &str,
    account: Option<&str>,
) -> Result<(), AppError> {
    let ip_key = format!("authfail:ip:{ip}");
    let account_key = account.map(|a| format!("authfail:account:{a}"));
    state
        .limiter
        .check(
            &state.cache,
            &buckets(state, &ip_key, account_key.as_deref()),
        )
        .await
        .map_err(|wait| AppError::RateLimited {
            message: format!(
                "too many failed sign-in attempts; try again in {} s",
                retry_secs(wait)
            ),
            retry_after_secs: retry_secs(wait),
        })
}

/// Counts a failed attempt against `ip` (and `account`).
pub async fn failed_attempt(state: &AppState, ip: &str, account: Option<&str>) {
    let ip_key = format!("authfail:ip:{ip}");
    let account_key = account.map(|a| format!("authfail:account:{a}"));
    for bucket in buckets(state, &ip_key, account_key.as_deref()) {
        // Each bucket on its own: one already empty must not keep the other from counting.
        let _ = state.limiter.take(&state.cache, &[bucket]).await;
    }
    tracing::warn!(ip, account, "failed credentials");
}

/// Takes one request from the client's and the key's buckets (its tier's rates, or the
/// operator's overrides of them).
pub async fn rate_limit(state: &AppState, who: &ClientPrincipal) -> Result<(), AppError> {
    use crate::clients::server::limits::{effective, Limits};
    let limits = match effective(state, who).await {
        Ok(l) => l,
        // Limits that cannot be read now: the tier's, so a database blip throttles as usual.
        Err(_) => match state.settings.file.tiers.get(&who.tier) {
            Some(t) => std::sync::Arc::new(Limits::merge(&who.tier, t, Default::default())),
            None => return Ok(()),
        },
    };
    let tier = &limits.tier;
    let client_key = format!("client:{}", who.client_id.as_str());
    let key_key = who.credential_bucket();
    let buckets = [
        (
            client_key.as_str(),
            Rate {
                per_second: tier.requests_per_second,
                burst: tier.burst,
            },
        ),
        (
            key_key.as_str(),
            Rate {
                per_second: tier.key_requests_per_second,
                burst: tier.key_burst,
            },
        ),
    ];
    state
        .limiter
        .take(&state.cache, &buckets)
        .await
        .map_err(|wait| AppError::RateLimited {
            message: format!(
                "this client's rate limit is reached ({} requests a second, {} at once); try again in {} s",
                tier.requests_per_second.min(tier.key_requests_per_second),
                tier.burst.min(tier.key_burst),
                retry_secs(wait)
            ),
            retry_after_secs: retry_secs(wait),
        })
}
