//! The operator's server functions: tiers, onboarding, the client list.

use super::{
    Client, ClientInfo, ClientLimits, ClientSummary, LimitOverrides, OnboardedClient, TierInfo,
};
use crate::core::AppError;
use crate::usage::TierLimits;
use leptos::prelude::*;

/// The tiers and what each allows (the platform's public catalogue, no client's data), for the
/// onboarding form: the page loads it before the operator signs in.
#[server(prefix = "/rpc")]
pub async fn tiers() -> Result<Vec<TierInfo>, AppError> {
    Ok(crate::platform::fns::state()?.settings.tiers())
}

/// Onboards a client (the page builds the request from its form).
#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn onboard_client(info: ClientInfo) -> Result<OnboardedClient, AppError> {
    let result = async {
        let state = crate::accounts::server::principal::operator_in_context()?;
        crate::clients::server::service::onboard_client(&state, &info).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Every client, with its live employees and this month's turns and tokens.
#[server(prefix = "/rpc")]
pub async fn list_clients() -> Result<Vec<ClientSummary>, AppError> {
    let state = crate::accounts::server::principal::operator_in_context()
        .or_else(crate::platform::fns::fail)?;
    crate::clients::server::service::client_summaries(&state)
        .await
        .or_else(crate::platform::fns::fail)
}

/// One client's overrides of its tier's limits, and the limits in force.
#[server(prefix = "/rpc")]
pub async fn load_client_limits(id: String) -> Result<ClientLimits, AppError> {
    let state = crate::accounts::server::principal::operator_in_context()
        .or_else(crate::platform::fns::fail)?;
    crate::clients::server::limits::of_client(&state, &id)
        .await
        .or_else(crate::platform::fns::fail)
}

/// Replaces a client's overrides (as `PUT …/clients/{client_id}/limits`); audited.
#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn set_client_limits(
    id: String,
    overrides: LimitOverrides,
) -> Result<TierLimits, AppError> {
    let state = crate::accounts::server::principal::operator_in_context()
        .or_else(crate::platform::fns::fail)?;
    crate::clients::server::limits::set_overrides(&state, &id, &overrides)
        .await
        .or_else(crate::platform::fns::fail)
}

/// Suspends (`active = false`) or reactivates a client: the operator's console.
#[server(prefix = "/rpc")]
pub async fn set_client_active(id: String, active: bool) -> Result<Client, AppError> {
    let state = crate::accounts::server::principal::operator_in_context()
        .or_else(crate::platform::fns::fail)?;
    crate::clients::server::service::set_active(&state, &id, active)
        .await
        .or_else(crate::platform::fns::fail)
}
