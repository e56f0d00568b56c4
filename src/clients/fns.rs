//! The operator's server functions: tiers, onboarding, the client list.

use super::{Client, OnboardedClient, TierInfo};
#[cfg(feature = "ssr")]
use super::{ClientInfo, SecurityLevel};
#[cfg(feature = "ssr")]
use crate::core::forms::{opt, split_list};
use crate::core::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc")]
pub async fn tiers() -> Result<Vec<TierInfo>, AppError> {
    Ok(crate::platform::fns::state()?.settings.tiers())
}

#[server(prefix = "/rpc")]
pub async fn onboard_client(
    name: String,
    industry: String,
    tier: String,
    max_employees: String,
    allowed_models: String,
    security_level: String,
    compliance_requirements: String,
) -> Result<OnboardedClient, AppError> {
    let result = async {
        let state = crate::accounts::server::principal::operator_in_context()?;
        let max_employees = match max_employees.trim() {
            "" => None,
            v => Some(
                v.parse::<u32>()
                    .map_err(|_| AppError::field("max_employees", "must be a whole number"))?,
            ),
        };
        let security_level = match security_level.trim() {
            "" => None,
            v => Some(SecurityLevel::parse(v).ok_or_else(|| {
                AppError::field(
                    "security_level",
                    format!("must be one of: {}", SecurityLevel::expected()),
                )
            })?),
        };
        let models = split_list(&allowed_models);
        let info = ClientInfo {
            name,
            industry: opt(&industry),
            tier,
            max_employees,
            allowed_models: (!models.is_empty()).then_some(models),
            security_level,
            compliance_requirements: Some(split_list(&compliance_requirements)),
        };
        crate::clients::server::service::onboard_client(&state, &info).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn list_clients() -> Result<Vec<Client>, AppError> {
    let state = crate::accounts::server::principal::operator_in_context()
        .or_else(crate::platform::fns::fail)?;
    crate::clients::server::service::list_clients(&state)
        .await
        .or_else(crate::platform::fns::fail)
}
