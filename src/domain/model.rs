//! Plain types shared by the server and the browser: clients, employees and their settings.

use super::ids::{ClientId, EmployeeId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                [$($s),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(ClientStatus { Active => "active", Suspended => "suspended" });
string_enum!(SecurityLevel { Standard => "standard", High => "high", Strict => "strict" });
string_enum!(
    /// Lifecycle: active ⇄ paused, either → archived (final); delete removes the row.
    EmployeeStatus { Active => "active", Paused => "paused", Archived => "archived" }
);
string_enum!(CommunicationStyle { Professional => "professional", Friendly => "friendly", Technical => "technical" });
string_enum!(FormalityLevel { Formal => "formal", Casual => "casual", Adaptive => "adaptive" });
string_enum!(ExpertiseLevel { Expert => "expert", Intermediate => "intermediate", Beginner => "beginner" });
string_enum!(ResponseLength { Concise => "concise", Detailed => "detailed", Adaptive => "adaptive" });

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfiguration {
    pub max_employees: u32,
    pub allowed_models: Vec<String>,
    pub security_level: SecurityLevel,
    pub compliance_requirements: Vec<String>,
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
}

/// The answer to onboarding: the client and its first API key, shown only this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardedClient {
    pub client: Client,
    pub api_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonalityConfig {
    pub communication_style: CommunicationStyle,
    pub formality_level: FormalityLevel,
    pub expertise_level: ExpertiseLevel,
    pub response_length: ResponseLength,
    pub creativity_level: f64,
    pub empathy_level: f64,
    #[serde(default)]
    pub custom_traits: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct Employee {
    pub id: EmployeeId,
    pub client_id: ClientId,
    pub name: String,
    pub role: String,
    pub industry: String,
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

/// Model settings a client may ask for; every field is optional and defaults sensibly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[serde(deny_unknown_fields)]
pub struct EmployeeRequirements {
    #[serde(default)]
    pub name: Option<String>,
    pub role: String,
    pub industry: String,
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
    pub personality_traits: Map<String, Value>,
    #[serde(default)]
    pub model_preferences: Option<ModelPreferencesInput>,
}

/// Partial personality for updates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    pub custom_traits: Option<Map<String, Value>>,
}

/// A PATCH: every present field replaces the stored one (lists are replaced whole).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
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

/// Lifecycle actions other than delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Tier defaults and model catalogue, as the forms need them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierInfo {
    pub name: String,
    pub max_employees: u32,
    pub allowed_models: Vec<String>,
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

/// A message to an employee (`POST …/interact`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionRequest {
    pub message: String,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    /// Selects `specialized_models[task_type]` first when the employee has one.
    #[serde(default)]
    pub task_type: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// The employee's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionResponse {
    pub interaction_id: String,
    pub message: String,
    pub model: String,
    pub usage: Usage,
    pub latency_ms: u64,
    /// Earlier interactions given to the model as context.
    pub memories_used: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// One remembered exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryItem {
    pub id: String,
    pub content: String,
    pub response: String,
    pub timestamp: DateTime<Utc>,
    pub relevance_score: f64,
}

/// One line of a streamed chat answer as the chat page receives it (newline-delimited JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    Token(String),
    Done(InteractionResponse),
    Error(super::AppError),
}

impl ChatEvent {
    /// The event as one line of JSON with every non-ASCII character escaped, so that however the
    /// transport splits the stream, each piece is valid UTF-8.
    pub fn to_line(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned());
        let mut out = String::with_capacity(json.len() + 1);
        for c in json.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
        out.push('\n');
        out
    }

    /// Splits complete lines off the front of `buffer` and parses them; a partial last line
    /// stays in the buffer for the next piece.
    pub fn drain_lines(buffer: &mut String) -> Vec<Result<ChatEvent, String>> {
        let mut events = Vec::new();
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim();
            if !line.is_empty() {
                events.push(serde_json::from_str(line).map_err(|e| e.to_string()));
            }
        }
        events
    }
}

#[cfg(test)]
mod chat_event_tests {
    use super::*;

    #[test]
    fn lines_are_ascii_and_survive_any_split() {
        let events = [
            ChatEvent::Token("Olá — ça va? 👍".into()),
            ChatEvent::Error(crate::domain::AppError::bad_request("no")),
        ];
        let wire: String = events.iter().map(ChatEvent::to_line).collect();
        assert!(wire.is_ascii());
        // Feed the wire one byte at a time: only whole lines come out, in order.
        let mut buffer = String::new();
        let mut got = Vec::new();
        for b in wire.bytes() {
            buffer.push(b as char);
            got.extend(ChatEvent::drain_lines(&mut buffer));
        }
        let got: Vec<ChatEvent> = got.into_iter().map(|e| e.expect("parses")).collect();
        assert_eq!(got, events);
        assert!(buffer.is_empty());
    }
}
