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

#[server(prefix = "/rpc")]
pub async fn operator_sign_in(token: String) -> Result<(), AppError> {
    use crate::platform::fns::{fail, set_cookie, state};
    let state = state()?;
    if let Err(e) = super::server::principal::check_operator(&state, &token) {
        return fail(e);
    }
    set_cookie(OPERATOR_COOKIE, token.trim(), SESSION_SECS);
    Ok(())
}

#[server(prefix = "/rpc")]
pub async fn client_sign_in(api_key: String) -> Result<Client, AppError> {
    use crate::platform::fns::{fail, set_cookie, state};
    let state = state()?;
    let result = async {
        let who = super::server::principal::check_client(&state, &api_key).await?;
        crate::clients::server::service::get_client(&state, &who).await
    }
    .await;
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
