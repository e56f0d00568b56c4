//! The audit trail: every change to a client's data, with who made it and the record before
//! and after, plus each employee's status history. Written inside the changing transaction (so
//! a change and its record commit together), read through `GET …/audit`.

pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use crate::core::{KeyId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AuditAction {
    #[serde(rename = "client.onboard")]
    ClientOnboard,
    #[serde(rename = "api_key.create")]
    ApiKeyCreate,
    #[serde(rename = "api_key.revoke")]
    ApiKeyRevoke,
    #[serde(rename = "client.suspend")]
    ClientSuspend,
    #[serde(rename = "client.reactivate")]
    ClientReactivate,
    #[serde(rename = "employee.create")]
    EmployeeCreate,
    #[serde(rename = "employee.update")]
    EmployeeUpdate,
    #[serde(rename = "employee.pause")]
    EmployeePause,
    #[serde(rename = "employee.resume")]
    EmployeeResume,
    #[serde(rename = "employee.archive")]
    EmployeeArchive,
    #[serde(rename = "employee.delete")]
    EmployeeDelete,
    #[serde(rename = "memory.erase")]
    MemoryErase,
    #[serde(rename = "memory.retention_purge")]
    MemoryRetentionPurge,
    #[serde(rename = "memory.import")]
    MemoryImport,
    #[serde(rename = "session.sign_in")]
    SessionSignIn,
    #[serde(rename = "session.sign_in_failed")]
    SessionSignInFailed,
    #[serde(rename = "session.sign_out")]
    SessionSignOut,
    #[serde(rename = "invite.create")]
    InviteCreate,
    #[serde(rename = "invite.accept")]
    InviteAccept,
    #[serde(rename = "member.update")]
    MemberUpdate,
    #[serde(rename = "member.remove")]
    MemberRemove,
    #[serde(rename = "interaction.create")]
    InteractionCreate,
    /// The operator changed a client's limits.
    #[serde(rename = "client.limits_update")]
    ClientLimitsUpdate,
    /// A client's admin set or removed an employee's own budget.
    #[serde(rename = "employee.budget_update")]
    EmployeeBudgetUpdate,
    #[serde(rename = "support_access.grant")]
    SupportAccessGrant,
    #[serde(rename = "support_access.revoke")]
    SupportAccessRevoke,
    /// The operator read the client's data under a support grant (one event per request).
    #[serde(rename = "support_access.use")]
    SupportAccessUse,
    #[serde(rename = "tool.create")]
    ToolCreate,
    #[serde(rename = "tool.update")]
    ToolUpdate,
    #[serde(rename = "tool.delete")]
    ToolDelete,
    /// A tool was called, in a turn or as a trial.
    #[serde(rename = "tool.call")]
    ToolCall,
    #[serde(rename = "mcp_server.create")]
    McpServerCreate,
    /// Its tools were listed again.
    #[serde(rename = "mcp_server.refresh")]
    McpServerRefresh,
    #[serde(rename = "mcp_server.delete")]
    McpServerDelete,
    #[serde(rename = "knowledge.collection_create")]
    KnowledgeCollectionCreate,
    /// With its documents, chunks and vectors.
    #[serde(rename = "knowledge.collection_delete")]
    KnowledgeCollectionDelete,
    #[serde(rename = "knowledge.document_upload")]
    KnowledgeDocumentUpload,
    /// With its chunks and vectors.
    #[serde(rename = "knowledge.document_delete")]
    KnowledgeDocumentDelete,
}

impl AuditAction {
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::ClientOnboard,
        AuditAction::ApiKeyCreate,
        AuditAction::ApiKeyRevoke,
        AuditAction::ClientSuspend,
        AuditAction::ClientReactivate,
        AuditAction::EmployeeCreate,
        AuditAction::EmployeeUpdate,
        AuditAction::EmployeePause,
        AuditAction::EmployeeResume,
        AuditAction::EmployeeArchive,
        AuditAction::EmployeeDelete,
        AuditAction::MemoryErase,
        AuditAction::MemoryRetentionPurge,
        AuditAction::MemoryImport,
        AuditAction::SessionSignIn,
        AuditAction::SessionSignInFailed,
        AuditAction::SessionSignOut,
        AuditAction::InviteCreate,
        AuditAction::InviteAccept,
        AuditAction::MemberUpdate,
        AuditAction::MemberRemove,
        AuditAction::InteractionCreate,
        AuditAction::SupportAccessGrant,
        AuditAction::SupportAccessRevoke,
        AuditAction::SupportAccessUse,
        AuditAction::ClientLimitsUpdate,
        AuditAction::EmployeeBudgetUpdate,
        AuditAction::ToolCreate,
        AuditAction::ToolUpdate,
        AuditAction::ToolDelete,
        AuditAction::ToolCall,
        AuditAction::McpServerCreate,
        AuditAction::McpServerRefresh,
        AuditAction::McpServerDelete,
        AuditAction::KnowledgeCollectionCreate,
        AuditAction::KnowledgeCollectionDelete,
        AuditAction::KnowledgeDocumentUpload,
        AuditAction::KnowledgeDocumentDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ClientOnboard => "client.onboard",
            AuditAction::ApiKeyCreate => "api_key.create",
            AuditAction::ApiKeyRevoke => "api_key.revoke",
            AuditAction::ClientSuspend => "client.suspend",
            AuditAction::ClientReactivate => "client.reactivate",
            AuditAction::EmployeeCreate => "employee.create",
            AuditAction::EmployeeUpdate => "employee.update",
            AuditAction::EmployeePause => "employee.pause",
            AuditAction::EmployeeResume => "employee.resume",
            AuditAction::EmployeeArchive => "employee.archive",
            AuditAction::EmployeeDelete => "employee.delete",
            AuditAction::MemoryErase => "memory.erase",
            AuditAction::MemoryRetentionPurge => "memory.retention_purge",
            AuditAction::MemoryImport => "memory.import",
            AuditAction::SessionSignIn => "session.sign_in",
            AuditAction::SessionSignInFailed => "session.sign_in_failed",
            AuditAction::SessionSignOut => "session.sign_out",
            AuditAction::InviteCreate => "invite.create",
            AuditAction::InviteAccept => "invite.accept",
            AuditAction::MemberUpdate => "member.update",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::InteractionCreate => "interaction.create",
            AuditAction::SupportAccessGrant => "support_access.grant",
            AuditAction::SupportAccessRevoke => "support_access.revoke",
            AuditAction::SupportAccessUse => "support_access.use",
            AuditAction::ClientLimitsUpdate => "client.limits_update",
            AuditAction::EmployeeBudgetUpdate => "employee.budget_update",
            AuditAction::ToolCreate => "tool.create",
            AuditAction::ToolUpdate => "tool.update",
            AuditAction::ToolDelete => "tool.delete",
            AuditAction::ToolCall => "tool.call",
            AuditAction::McpServerCreate => "mcp_server.create",
            AuditAction::McpServerRefresh => "mcp_server.refresh",
            AuditAction::McpServerDelete => "mcp_server.delete",
            AuditAction::KnowledgeCollectionCreate => "knowledge.collection_create",
            AuditAction::KnowledgeCollectionDelete => "knowledge.collection_delete",
            AuditAction::KnowledgeDocumentUpload => "knowledge.document_upload",
            AuditAction::KnowledgeDocumentDelete => "knowledge.document_delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }

    /// The kind of record the action is about.
    pub fn entity_type(self) -> &'static str {
        match self {
            AuditAction::ClientOnboard
            | AuditAction::ClientSuspend
            | AuditAction::ClientReactivate
            | AuditAction::MemoryRetentionPurge
            | AuditAction::SupportAccessGrant
            | AuditAction::SupportAccessRevoke
            | AuditAction::SupportAccessUse
            | AuditAction::ClientLimitsUpdate => "client",
            AuditAction::ApiKeyCreate | AuditAction::ApiKeyRevoke => "api_key",
            AuditAction::SessionSignIn
            | AuditAction::SessionSignInFailed
            | AuditAction::SessionSignOut
            | AuditAction::InviteAccept
            | AuditAction::MemberUpdate
            | AuditAction::MemberRemove => "person",
            AuditAction::InviteCreate => "invite",
            AuditAction::InteractionCreate => "interaction",
            _ => "employee",
        }
    }
}

/// Who acted: the operator, or a client through one of its API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator,
    ApiKey(KeyId),
    /// A person, by their account id.
    Person(UserId),
    /// The platform itself, on a schedule (retention).
    System,
}

impl fmt::Display for Actor {
    /// As the trail stores it: `operator` or `api_key:<key id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::Person(id) => write!(f, "person:{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// One event of the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    pub actor: String,
    pub action: AuditAction,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// One event of the trail as the audit page lists it: its place in the chain and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailEntry {
    pub id: i64,
    pub record: AuditRecord,
}

/// A page of the client's trail, newest first, and the cursor to the older page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailPage {
    pub entries: Vec<TrailEntry>,
    pub older: Option<i64>,
}

/// How many events a page of the audit page holds.
pub const TRAIL_PAGE: i64 = 50;

/// What checking the whole chain found, as the audit page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub ok: bool,
    pub events: u64,
    pub unchained: u64,
    pub head: Option<String>,
    /// The first event that does not link, and why.
    pub broken: Option<(i64, String)>,
}

/// One change of an employee's status (`from_status` is empty at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub changed_at: DateTime<Utc>,
}

/// `GET …/employees/{id}/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EmployeeAudit {
    pub events: Vec<AuditRecord>,
    pub status_history: Vec<StatusChange>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_travel_as_their_dotted_names() {
        for a in AuditAction::ALL {
            let json = serde_json::to_value(a).expect("serialise");
            assert_eq!(json, serde_json::json!(a.as_str()));
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        let key = KeyId::parse("0123456789abcdef").expect("key id");
        assert_eq!(Actor::ApiKey(key).to_string(), "api_key:0123456789abcdef");
        assert_eq!(Actor::Operator.to_string(), "operator");
    }
}
