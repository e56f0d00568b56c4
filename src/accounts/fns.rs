//! Signing in and out. Until logins exist, the browser holds the operator token or a client API
//! key in an HttpOnly, SameSite=Strict cookie set here.

use super::Session;
#[cfg(feature = "ssr")]
use super::{CLIENT_COOKIE, OPERATOR_COOKIE};
use crate::clients::Client;
use crate::core::AppError;
use leptos::prelude::*;

/// How long a sign-in lasts.
#[cfg(feature = "ssr")]
const SESSION_SECS: u64 = 12 * 3600;

#[server(prefix = "/rpc")]
pub async fn current_session() -> Result<Session, AppError> {
    use crate::platform::fns::state;
    let state = state()?;
    let principal = super::server::principal::from_context();
    let client = match principal.client() {
        Ok(who) => crate::clients::server::service::get_client(&state, &who)
            .await
            .ok(),
        Err(_) => None,
    };
    Ok(Session {
        operator: principal.is_operator(),
        client,
    })
}

/// The caller's address and the account a sign-in names, once neither has used up its failed
/// attempts (429 otherwise).
#[cfg(feature = "ssr")]
async fn before_sign_in(
    state: &crate::platform::AppState,
    account: &str,
) -> Result<String, AppError> {
    let ip = leptos::prelude::use_context::<http::request::Parts>().map_or_else(
        || "unknown".to_owned(),
        |p| super::server::throttle::client_ip(&p.extensions),
    );
    super::server::throttle::before_attempt(state, &ip, Some(account)).await?;
    Ok(ip)
}

/// The account a client key names (its public id), for throttling.
#[cfg(feature = "ssr")]
fn key_account(api_key: &str) -> String {
    let id = api_key
        .trim()
        .strip_prefix("wfk_")
        .and_then(|r| r.split('_').next())
        .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or("malformed");
    format!("key:{id}")
}

#[server(prefix = "/rpc")]
pub async fn operator_sign_in(token: String) -> Result<(), AppError> {
    use crate::platform::fns::{fail, set_cookie, state};
    let state = state()?;
    let ip = match before_sign_in(&state, "operator").await {
        Ok(ip) => ip,
        Err(e) => return fail(e),
    };
    if let Err(e) = super::server::principal::check_operator(&state, &token) {
        super::server::throttle::failed_attempt(&state, &ip, Some("operator")).await;
        return fail(e);
    }
    set_cookie(OPERATOR_COOKIE, token.trim(), SESSION_SECS);
    Ok(())
}

#[server(prefix = "/rpc")]
pub async fn client_sign_in(api_key: String) -> Result<Client, AppError> {
    use crate::platform::fns::{fail, set_cookie, state};
    let state = state()?;
    let account = key_account(&api_key);
    let ip = match before_sign_in(&state, &account).await {
        Ok(ip) => ip,
        Err(e) => return fail(e),
    };
    let result = async {
        let who = super::server::principal::check_client(&state, &api_key).await?;
        who.authorize(super::Scope::Admin, None)
            .map_err(|message| AppError::Forbidden { message })?;
        crate::clients::server::service::get_client(&state, &who).await
    }
    .await;
    if let Err(AppError::Unauthorized { .. }) = &result {
        super::server::throttle::failed_attempt(&state, &ip, Some(&account)).await;
    }
    match result {
        Ok(client) => {
            set_cookie(CLIENT_COOKIE, api_key.trim(), SESSION_SECS);
            leptos_axum::redirect("/dashboard");
            Ok(client)
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/rpc")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::platform::fns::set_cookie;
    set_cookie(OPERATOR_COOKIE, "", 0);
    set_cookie(CLIENT_COOKIE, "", 0);
    leptos_axum::redirect("/");
    Ok(())
}
