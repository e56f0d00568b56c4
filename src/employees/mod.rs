//! Employees: created from requirements by a pure generator, then changed, paused, resumed,
//! archived or deleted. Shared types here; `generator` and `validate` are the pure rules, `fns`
//! and `pages` the UI, `server` the SQL, service, in-process cache and REST routes.

pub mod fns;
pub mod generator;
pub mod language;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod validate;
pub mod wizard;
pub mod wizard_page;

use crate::core::string_enum;
use crate::core::{ClientId, EmployeeId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum!(
    /// Lifecycle: active ⇄ paused, either → archived (final); delete removes the row.
    EmployeeStatus { Active => "active", Paused => "paused", Archived => "archived" }
);
string_enum!(CommunicationStyle { Professional => "professional", Friendly => "friendly", Technical => "technical" });
string_enum!(FormalityLevel { Formal => "formal", Casual => "casual", Adaptive => "adaptive" });
string_enum!(ExpertiseLevel { Expert => "expert", Intermediate => "intermediate", Beginner => "beginner" });
string_enum!(ResponseLength { Concise => "concise", Detailed => "detailed", Adaptive => "adaptive" });

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PersonalityConfig {
    pub communication_style: CommunicationStyle,
    pub formality_level: FormalityLevel,
    pub expertise_level: ExpertiseLevel,
    pub response_length: ResponseLength,
    pub creativity_level: f64,
    pub empathy_level: f64,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub custom_traits: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelPreferences {
    pub primary_model: String,
    pub fallback_models: Vec<String>,
    pub temperature: f64,
    pub max_tokens: u32,
    /// task type → model
    #[serde(default)]
    pub specialized_models: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Employee {
    pub id: EmployeeId,
    pub client_id: ClientId,
    pub name: String,
    pub role: String,
    pub industry: String,
    /// The language it works in (`language::LANGUAGES`): its replies, and how its memory's
    /// words are matched.
    #[serde(default = "default_language")]
    pub language: String,
    pub expertise_areas: Vec<String>,
    pub personality: PersonalityConfig,
    pub model_preferences: ModelPreferences,
    pub tool_access: Vec<String>,
    pub knowledge_sources: Vec<String>,
    pub status: EmployeeStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

fn default_language() -> String {
    language::DEFAULT_LANGUAGE.to_owned()
}

/// Model settings a client may ask for; every field is optional and defaults sensibly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelPreferencesInput {
    #[serde(default)]
    pub primary_model: Option<String>,
    #[serde(default)]
    pub fallback_models: Option<Vec<String>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub specialized_models: Option<BTreeMap<String, String>>,
}

/// What a client asks for when it creates an employee (the seed's `EmployeeRequirements`,
/// plus an optional display name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmployeeRequirements {
    #[serde(default)]
    pub name: Option<String>,
    pub role: String,
    pub industry: String,
    /// An ISO 639-1 code from `language::LANGUAGES` (or `other`); English when left out.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub expertise_areas: Vec<String>,
    pub communication_style: String,
    #[serde(default)]
    pub tools_needed: Vec<String>,
    #[serde(default)]
    pub knowledge_domains: Vec<String>,
    /// Recognised keys: formality_level, expertise_level, response_length, creativity_level,
    /// empathy_level. Any other key becomes a custom trait.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub personality_traits: Map<String, Value>,
    #[serde(default)]
    pub model_preferences: Option<ModelPreferencesInput>,
}

/// Partial personality for updates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PersonalityPatch {
    #[serde(default)]
    pub communication_style: Option<CommunicationStyle>,
    #[serde(default)]
    pub formality_level: Option<FormalityLevel>,
    #[serde(default)]
    pub expertise_level: Option<ExpertiseLevel>,
    #[serde(default)]
    pub response_length: Option<ResponseLength>,
    #[serde(default)]
    pub creativity_level: Option<f64>,
    #[serde(default)]
    pub empathy_level: Option<f64>,
    /// Replaces the custom traits when present.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub custom_traits: Option<Map<String, Value>>,
}

/// A PATCH: every present field replaces the stored one (lists are replaced whole).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmployeeUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub expertise_areas: Option<Vec<String>>,
    #[serde(default)]
    pub personality: Option<PersonalityPatch>,
    #[serde(default)]
    pub model_preferences: Option<ModelPreferencesInput>,
    #[serde(default)]
    pub tool_access: Option<Vec<String>>,
    #[serde(default)]
    pub knowledge_sources: Option<Vec<String>>,
}

impl EmployeeUpdate {
    pub fn is_empty(&self) -> bool {
        self == &EmployeeUpdate::default()
    }
}

/// `PUT …/employees/{employee_id}/budget`: the employee's own monthly budget, in tokens, in US
/// dollars at the providers' prices, or both, inside the client's (`null` or left out: none of
/// its own; then only the client's applies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmployeeBudget {
    #[serde(default)]
    pub monthly_tokens: Option<u64>,
    #[serde(default)]
    pub monthly_cost_usd: Option<f64>,
}

/// The largest budget an employee may be given.
pub const MAX_EMPLOYEE_MONTHLY_TOKENS: u64 = 1_000_000_000_000;
/// The largest cost budget an employee may be given, in US dollars.
pub const MAX_EMPLOYEE_MONTHLY_COST_USD: f64 = 10_000_000.0;

/// Lifecycle actions other than delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    Pause,
    Resume,
    Archive,
}

impl LifecycleAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            "archive" => Some(Self::Archive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Archive => "archive",
        }
    }

    /// The status an employee in `from` moves to, or why it cannot.
    pub fn apply(self, from: EmployeeStatus) -> Result<EmployeeStatus, String> {
        use EmployeeStatus::*;
        match (self, from) {
            (Self::Pause, Active) => Ok(Paused),
            (Self::Resume, Paused) => Ok(Active),
            (Self::Archive, Active | Paused) => Ok(Archived),
            (action, from) => Err(format!(
                "cannot {} an employee that is {from}",
                action.as_str()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_allows_only_meaningful_transitions() {
        use EmployeeStatus::*;
        assert_eq!(LifecycleAction::Pause.apply(Active), Ok(Paused));
        assert_eq!(LifecycleAction::Resume.apply(Paused), Ok(Active));
        assert_eq!(LifecycleAction::Archive.apply(Paused), Ok(Archived));
        assert_eq!(LifecycleAction::Archive.apply(Active), Ok(Archived));
        assert!(LifecycleAction::Pause.apply(Paused).is_err());
        assert!(LifecycleAction::Resume.apply(Active).is_err());
        assert!(LifecycleAction::Resume.apply(Archived).is_err());
        assert!(LifecycleAction::Archive.apply(Archived).is_err());
    }

    #[test]
    fn requirements_reject_unknown_fields() {
        let err = serde_json::from_str::<EmployeeRequirements>(
            r#"{"role":"a","industry":"b","communication_style":"friendly","colour":"red"}"#,
        )
        .expect_err("unknown field must be refused");
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
