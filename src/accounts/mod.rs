//! Accounts: who is calling. Today an operator (the admin token) or a client through one of its
//! API keys (`wfk_<key id>_<secret>`); the browser holds either in an HttpOnly cookie set by a
//! sign-in form. Shared types here; sign-in server functions and page in `fns` and `pages`; key
//! handling and the principal resolved once per request in `server`.

pub mod fns;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod team;

use crate::audit::Actor;
use crate::clients::Client;
use crate::core::{ClientId, EmployeeId, KeyId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const OPERATOR_COOKIE: &str = "wf_operator";
pub const CLIENT_COOKIE: &str = "wf_client_key";
pub const SESSION_COOKIE: &str = "wf_session";

/// What an API key may do. `admin` may do everything a client can (keys included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

/// A person's role. The operator runs the platform; owners, admins and members belong to one
/// client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Operator, Role::Owner, Role::Admin, Role::Member]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// What a person in this client role may do: owners and admins everything a client can,
    /// members read, chat with and read the memory of the employees given to them.
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Role::Operator => Vec::new(),
            Role::Owner | Role::Admin => vec![Scope::Admin],
            Role::Member => vec![Scope::EmployeesRead, Scope::Interact, Scope::MemoryRead],
        }
    }
}

/// How a client's caller proved who it is: one of the client's API keys, or a person's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Key(KeyId),
    Person {
        id: UserId,
        role: Role,
    },
    /// The platform's operator, reading under the client's support grant (until `expires_at`).
    Support {
        expires_at: DateTime<Utc>,
    },
}

/// Who is acting for a client: the client, the credential it used, the client's tier (whose
/// limits apply), what it may do and, when it is limited to some employees (a key bound to one,
/// a member given some), those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPrincipal {
    pub client_id: ClientId,
    pub credential: Credential,
    pub tier: String,
    pub scopes: Vec<Scope>,
    pub employees: Option<Vec<EmployeeId>>,
}

impl ClientPrincipal {
    /// How the audit trail names this actor.
    pub fn actor(&self) -> Actor {
        match &self.credential {
            Credential::Key(id) => Actor::ApiKey(id.clone()),
            Credential::Person { id, .. } => Actor::Person(id.clone()),
            Credential::Support { .. } => Actor::Operator,
        }
    }

    /// The credential's own rate-limit bucket.
    pub fn credential_bucket(&self) -> String {
        match &self.credential {
            Credential::Key(id) => format!("key:{id}"),
            Credential::Person { id, .. } => format!("person:{id}"),
            Credential::Support { .. } => "support".to_owned(),
        }
    }

    /// Whether this caller may hand out the client's highest powers (invite owners and admins,
    /// change roles): an owner, or an `admin` API key (the client's own automation, issued by
    /// the operator at onboarding). An admin person may not.
    pub fn may_grant_roles(&self) -> bool {
        match &self.credential {
            Credential::Key(_) => self.scopes.contains(&Scope::Admin) && self.employees.is_none(),
            Credential::Person { role, .. } => *role == Role::Owner,
            Credential::Support { .. } => false,
        }
    }

    /// The policy, in one place: whether this caller may take an action that needs `scope`, on
    /// `employee` when the action is about one. `admin` holds every scope; a caller limited to
    /// some employees may act on those alone, never on the client as a whole.
    pub fn authorize(&self, scope: Scope, employee: Option<&EmployeeId>) -> Result<(), String> {
        if let Some(allowed) = &self.employees {
            if !employee.is_some_and(|e| allowed.contains(e)) {
                return Err(match &self.credential {
                    Credential::Key(_) => format!(
                        "this API key is bound to employee {} and may act on it alone",
                        allowed.first().map_or("", EmployeeId::as_str)
                    ),
                    Credential::Person { .. } => {
                        "members may act only on the employees given to them".to_owned()
                    }
                    Credential::Support { .. } => "support access reads employees only".to_owned(),
                });
            }
        }
        self.authorize_scope(scope)
    }

    /// Whether the credential carries `scope`, whatever employees it is limited to (for
    /// listings, which a limited caller sees filtered to its employees).
    pub fn authorize_scope(&self, scope: Scope) -> Result<(), String> {
        if self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin) {
            Ok(())
        } else {
            Err(match &self.credential {
                Credential::Key(_) => format!("this API key lacks the `{}` scope", scope.as_str()),
                Credential::Person { role, .. } => format!(
                    "a client {} may not do this (it needs the `{}` permission)",
                    role.as_str(),
                    scope.as_str()
                ),
                Credential::Support { .. } => format!(
                    "support access lets the operator read this client's employees, memory and usage, nothing more (this needs `{}`)",
                    scope.as_str()
                ),
            })
        }
    }
}

/// `POST /api/v1/auth/sessions`: signing in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

/// `POST /api/v1/auth/invites/accept`: a new person's account, from an invite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub token: String,
    pub email: String,
    pub password: String,
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
    /// For a member: the employees they may chat with.
    pub employee_ids: Vec<EmployeeId>,
    pub session_expires_at: DateTime<Utc>,
}

/// `POST …/invites`: who to invite (their role; for a member, their employees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub role: Role,
    #[serde(default)]
    pub employee_ids: Vec<String>,
}

/// An invite just made: the one-time link, shown to the inviter this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedInvite {
    pub id: String,
    pub role: Role,
    pub employee_ids: Vec<String>,
    /// The path to open (on this site) to accept it.
    pub url: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A client's person as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Member {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub employee_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// `PATCH …/members/{user_id}`: a new role, or a member's employees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub employee_ids: Option<Vec<String>>,
}

/// `POST …/api-keys`: a new key's name, scopes and optional employee binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    #[serde(default)]
    pub employee_id: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    /// The person signed in, when it is one (not a token or a key).
    pub person: Option<Person>,
}

/// Support access reads these, nothing else.
pub const SUPPORT_SCOPES: &[Scope] = &[Scope::EmployeesRead, Scope::MemoryRead];

/// The longest support grant, in hours (a week).
pub const MAX_SUPPORT_HOURS: u32 = 168;

/// `POST …/support-access`: let the operator read the client's employees, their memory and usage
/// for `hours` (1 to 168). A new grant replaces the one in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSupportGrant {
    pub hours: u32,
    /// Why (e.g. a ticket number), kept with the grant and in the audit trail.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A grant of support access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SupportGrant {
    pub id: String,
    /// Who granted it, as the audit trail names actors.
    pub granted_by: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `GET …/support-access`: the grant in force, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SupportAccess {
    pub grant: Option<SupportGrant>,
}
