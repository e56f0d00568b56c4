//! Clients: the businesses an operator onboards, with their tier, limits and allowed models.
//! Shared types here; onboarding rules in `onboarding`, server functions in `fns`, the operator
//! page in `pages`, SQL, service and REST routes in `server`.

pub mod fns;
pub mod forms;
pub mod onboarding;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use crate::core::string_enum;
use crate::core::ClientId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(ClientStatus { Active => "active", Suspended => "suspended" });
string_enum!(SecurityLevel { Standard => "standard", High => "high", Strict => "strict" });

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfiguration {
    pub max_employees: u32,
    pub allowed_models: Vec<String>,
    pub security_level: SecurityLevel,
    pub compliance_requirements: Vec<String>,
    /// Exchanges older than this many days are purged (on a schedule, audited); `None` keeps
    /// them.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub industry: Option<String>,
    pub tier: String,
    pub configuration: ClientConfiguration,
    pub status: ClientStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an operator sends to onboard a client. Omitted settings come from the tier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientInfo {
    pub name: String,
    #[serde(default)]
    pub industry: Option<String>,
    pub tier: String,
    #[serde(default)]
    pub max_employees: Option<u32>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub security_level: Option<SecurityLevel>,
    #[serde(default)]
    pub compliance_requirements: Option<Vec<String>>,
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// The answer to onboarding: the client and its first API key, shown only this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardedClient {
    pub client: Client,
    pub api_key: String,
}

/// Tier defaults and model catalogue, as the forms need them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierInfo {
    pub name: String,
    pub max_employees: u32,
    pub allowed_models: Vec<String>,
}

/// Every client, as the operator lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientList {
    pub clients: Vec<Client>,
}
