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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

/// A client as the operator console lists it: with its live employees and this calendar
/// month's (UTC) answered turns and tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSummary {
    pub client: Client,
    pub employees: i64,
    pub turns_this_month: i64,
    pub tokens_this_month: i64,
}

/// One client's limits for the operator's form: its overrides, and what is in force with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientLimits {
    pub client: Client,
    pub overrides: LimitOverrides,
    pub in_force: crate::usage::TierLimits,
}

/// What an operator sends to onboard a client. Omitted settings come from the tier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientList {
    pub clients: Vec<Client>,
}

/// The operator's overrides of one client's tier limits (`PUT …/clients/{client_id}/limits`).
/// Each limit left out is the tier's; `{}` restores them all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Requests a second (all the client's keys and people together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Requests a second one API key may make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_requests_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_burst: Option<u32>,
    /// Turns in flight at once on one instance (0: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_turns: Option<u32>,
    /// Tokens a calendar month (0: no budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_tokens: Option<u64>,
    /// US dollars a calendar month at the providers' prices (0: no budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cost_usd: Option<f64>,
    /// The longest message a turn accepts (1 to 16000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_chars: Option<u32>,
}

impl LimitOverrides {
    /// The names of the limits overridden.
    pub fn names(&self) -> Vec<String> {
        [
            ("requests_per_second", self.requests_per_second.is_some()),
            ("burst", self.burst.is_some()),
            (
                "key_requests_per_second",
                self.key_requests_per_second.is_some(),
            ),
            ("key_burst", self.key_burst.is_some()),
            ("max_concurrent_turns", self.max_concurrent_turns.is_some()),
            ("monthly_tokens", self.monthly_tokens.is_some()),
            ("monthly_cost_usd", self.monthly_cost_usd.is_some()),
            ("max_message_chars", self.max_message_chars.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| n.to_owned())
        .collect()
    }

    /// Every limit out of range, by name.
    pub fn problems(&self) -> crate::core::FieldErrors {
        let mut fields = crate::core::FieldErrors::new();
        let rate =
            |v: Option<f64>| v.is_some_and(|r| !(r.is_finite() && (0.01..=10_000.0).contains(&r)));
        if rate(self.requests_per_second) {
            fields.insert(
                "requests_per_second".into(),
                "must be from 0.01 to 10000".into(),
            );
        }
        if rate(self.key_requests_per_second) {
            fields.insert(
                "key_requests_per_second".into(),
                "must be from 0.01 to 10000".into(),
            );
        }
        for (name, v) in [("burst", self.burst), ("key_burst", self.key_burst)] {
            if v.is_some_and(|b| !(1..=100_000).contains(&b)) {
                fields.insert(
                    name.into(),
                    "must be a whole number from 1 to 100000".into(),
                );
            }
        }
        if self.max_concurrent_turns.is_some_and(|n| n > 10_000) {
            fields.insert(
                "max_concurrent_turns".into(),
                "must be a whole number from 0 (no cap) to 10000".into(),
            );
        }
        if self.monthly_tokens.is_some_and(|n| n > 1_000_000_000_000) {
            fields.insert(
                "monthly_tokens".into(),
                "must be a whole number from 0 (no budget) to 1000000000000".into(),
            );
        }
        if self
            .monthly_cost_usd
            .is_some_and(|c| !(c.is_finite() && (0.0..=10_000_000.0).contains(&c)))
        {
            fields.insert(
                "monthly_cost_usd".into(),
                "must be from 0 (no budget) to 10000000 US dollars".into(),
            );
        }
        let most = crate::conversations::MAX_MESSAGE_CHARS as u32;
        if self
            .max_message_chars
            .is_some_and(|n| !(1..=most).contains(&n))
        {
            fields.insert(
                "max_message_chars".into(),
                format!("must be a whole number of characters from 1 to {most}"),
            );
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_name_what_they_set_and_refuse_what_is_out_of_range() {
        let none = LimitOverrides::default();
        assert!(none.names().is_empty() && none.problems().is_empty());
        let some = LimitOverrides {
            burst: Some(5),
            monthly_tokens: Some(0),
            ..Default::default()
        };
        assert_eq!(some.names(), ["burst", "monthly_tokens"]);
        assert!(some.problems().is_empty());
        let bad = LimitOverrides {
            requests_per_second: Some(f64::NAN),
            key_burst: Some(0),
            max_concurrent_turns: Some(10_001),
            ..Default::default()
        };
        let problems: Vec<_> = bad.problems().into_keys().collect();
        assert_eq!(
            problems,
            ["key_burst", "max_concurrent_turns", "requests_per_second"]
        );
    }
}
