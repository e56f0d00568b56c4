//! Accounts: who is calling. Today an operator (the admin token) or a client through one of its
//! API keys (`wfk_<key id>_<secret>`); the browser holds either in an HttpOnly cookie set by a
//! sign-in form. Shared types here; sign-in server functions and page in `fns` and `pages`; key
//! handling and the principal resolved once per request in `server`.

pub mod fns;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use crate::audit::Actor;
use crate::clients::Client;
use crate::core::{ClientId, EmployeeId, KeyId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const OPERATOR_COOKIE: &str = "wf_operator";
pub const CLIENT_COOKIE: &str = "wf_client_key";

/// What an API key may do. `admin` may do everything a client can (keys included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "employees:read")]
    EmployeesRead,
    #[serde(rename = "employees:write")]
    EmployeesWrite,
    #[serde(rename = "interact")]
    Interact,
    #[serde(rename = "memory:read")]
    MemoryRead,
    #[serde(rename = "memory:write")]
    MemoryWrite,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: &'static [Scope] = &[
        Scope::EmployeesRead,
        Scope::EmployeesWrite,
        Scope::Interact,
        Scope::MemoryRead,
        Scope::MemoryWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EmployeesRead => "employees:read",
            Scope::EmployeesWrite => "employees:write",
            Scope::Interact => "interact",
            Scope::MemoryRead => "memory:read",
            Scope::MemoryWrite => "memory:write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

/// Who is acting for a client: the client, the key it used (its public id), the client's tier
/// (whose limits apply), what the key may do and the one employee it is bound to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPrincipal {
    pub client_id: ClientId,
    pub key_id: KeyId,
    pub tier: String,
    pub scopes: Vec<Scope>,
    pub employee: Option<EmployeeId>,
}

impl ClientPrincipal {
    /// How the audit trail names this actor.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.key_id.clone())
    }

    /// The policy, in one place: whether this key may take an action that needs `scope`, on
    /// `employee` when the action is about one. `admin` holds every scope; a key bound to an
    /// employee may act on that employee only, never on the client as a whole.
    pub fn authorize(&self, scope: Scope, employee: Option<&EmployeeId>) -> Result<(), String> {
        if let Some(bound) = &self.employee {
            if employee != Some(bound) {
                return Err(format!(
                    "this API key is bound to employee {bound} and may act on it alone"
                ));
            }
        }
        if self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin) {
            Ok(())
        } else {
            Err(format!("this API key lacks the `{}` scope", scope.as_str()))
        }
    }
}

/// `POST …/api-keys`: a new key's name, scopes and optional employee binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    #[serde(default)]
    pub employee_id: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: KeyId,
    /// What the key starts with (`wfk_<id>_`), to recognise it.
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub employee_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just made: the whole key, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub api_key: String,
    #[serde(flatten)]
    pub info: ApiKeyInfo,
}

/// What the browser is signed in as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub operator: bool,
    pub client: Option<Client>,
}
