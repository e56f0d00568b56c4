//! Signing in and out. People sign in with their email and password (a session in an HttpOnly,
//! SameSite=Lax cookie); the operator token and a client's admin API key still sign a browser in
//! for scripts and recovery, held in HttpOnly, SameSite=Strict cookies.

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
        person: principal.person().map(|p| p.person()),
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

/// The request's parts (headers, address) inside a server function.
#[cfg(feature = "ssr")]
fn request_parts() -> Option<http::request::Parts> {
    leptos::prelude::use_context::<http::request::Parts>()
}

/// Sets (or, with `token` empty, removes) the session cookie on the response.
#[cfg(feature = "ssr")]
fn set_session_cookie(token: &str, max_age_secs: i64) {
    use super::server::sessions;
    let secure = request_parts().is_some_and(|p| sessions::over_https(&p.headers, &p.uri));
    if let (Some(res), Ok(v)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&sessions::cookie(token, max_age_secs, secure)),
    ) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}

/// The session cookie the request carries, if any.
#[cfg(feature = "ssr")]
fn session_token() -> Option<String> {
    request_parts().and_then(|p| {
        super::server::principal::cookie(&p.headers, super::SESSION_COOKIE).map(str::to_owned)
    })
}

/// Starts the new session in the browser (ending the one it held, if any).
#[cfg(feature = "ssr")]
async fn start_session(
    state: &crate::platform::AppState,
    signed: super::server::people::SignedIn,
) -> Result<super::Person, AppError> {
    if let Some(old) = session_token() {
        super::server::sessions::close(state, &old, false).await?;
    }
    let max_age = (signed.person.session_expires_at - chrono::Utc::now()).num_seconds();
    set_session_cookie(&signed.token, max_age);
    Ok(signed.person)
}

/// Signs a person in with their email and password; the session lives in an HttpOnly cookie.
#[server(prefix = "/rpc")]
pub async fn sign_in(email: String, password: String) -> Result<super::Person, AppError> {
    use crate::platform::fns::{fail, state};
    let state = state()?;
    let ip = request_parts().map_or_else(
        || "unknown".to_owned(),
        |p| super::server::throttle::client_ip(&p.extensions),
    );
    let req = super::SignIn { email, password };
    match super::server::people::sign_in(&state, &ip, &req).await {
        Ok(signed) => match start_session(&state, signed).await {
            Ok(person) => Ok(person),
            Err(e) => fail(e),
        },
        Err(e) => fail(e),
    }
}

/// Accepts an invite: makes the person's account in the inviting client and signs them in.
#[server(prefix = "/rpc")]
pub async fn accept_invite(
    token: String,
    email: String,
    password: String,
) -> Result<super::Person, AppError> {
    use crate::platform::fns::{fail, state};
    let state = state()?;
    let ip = request_parts().map_or_else(
        || "unknown".to_owned(),
        |p| super::server::throttle::client_ip(&p.extensions),
    );
    let req = super::AcceptInvite {
        token,
        email,
        password,
    };
    match super::server::people::accept_invite(&state, &ip, &req).await {
        Ok(signed) => match start_session(&state, signed).await {
            Ok(person) => Ok(person),
            Err(e) => fail(e),
        },
        Err(e) => fail(e),
    }
}

/// Ends the browser's sign-in (its session, or with `everywhere` every session of its person)
/// and removes the cookies.
#[cfg(feature = "ssr")]
async fn end_session(everywhere: bool) -> Result<(), AppError> {
    use crate::platform::fns::{set_cookie, state};
    let state = state()?;
    if let Some(token) = session_token() {
        let principal = super::server::principal::from_context();
        super::server::people::sign_out(&state, &token, principal.person(), everywhere).await?;
    }
    set_session_cookie("", 0);
    set_cookie(OPERATOR_COOKIE, "", 0);
    set_cookie(CLIENT_COOKIE, "", 0);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/rpc")]
pub async fn sign_out() -> Result<(), AppError> {
    end_session(false).await
}

/// Signs the person out on every device.
#[server(prefix = "/rpc")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    end_session(true).await
}
