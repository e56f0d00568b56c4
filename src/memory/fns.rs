//! The memory the chat page and the memory browser read and erase.

use super::{ChatHistory, MemoryItem};
use crate::core::AppError;
use leptos::prelude::*;

/// A page of the conversation with employee `id`, oldest first: the newest page, or the one
/// before exchange `before` (the `older` cursor of the page after it).
#[server(prefix = "/rpc")]
pub async fn load_conversation(
    id: String,
    before: Option<String>,
) -> Result<ChatHistory, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::MemoryRead,
            &id,
        )?;
        let before = before
            .filter(|b| !b.is_empty())
            .map(|b| {
                if b.len() > 64 || !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    Err(AppError::field(
                        "before",
                        "is not a position in this conversation",
                    ))
                } else {
                    Ok(crate::core::InteractionId::from(b))
                }
            })
            .transpose()?;
        crate::memory::server::service::chat_history(
            &state,
            &who,
            &id,
            before.as_ref(),
            super::CHAT_PAGE,
        )
        .await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// The memory browser's search: the employee's exchanges that best match `query` by meaning and
/// keywords (hybrid, as the REST search), best first, with the signals that found each.
#[server(prefix = "/rpc")]
pub async fn search_memory(id: String, query: String) -> Result<Vec<MemoryItem>, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::MemoryRead,
            &id,
        )?;
        let query = query.trim();
        if query.is_empty() {
            return Err(AppError::field("query", "write what to look for"));
        }
        if query.chars().count() > super::MAX_QUERY_CHARS || query.contains('\0') {
            return Err(AppError::field(
                "query",
                format!(
                    "must be at most {} characters of text",
                    super::MAX_QUERY_CHARS
                ),
            ));
        }
        crate::memory::server::service::search_memory(
            &state,
            &who,
            &id,
            query,
            crate::memory::SearchMode::Hybrid,
            10,
        )
        .await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Imports a past conversation (JSON Lines of `{id, role, content, occurred_at}`, as
/// `POST …/memory/import` takes it) into the employee's memory, for a caller who may write it.
/// Sent as JSON (not form-encoded) so a file's text travels as it is; its route takes bodies up
/// to twice `BROWSER_IMPORT_BYTES`.
#[server(prefix = "/rpc", endpoint = "import_memory", input = leptos::server_fn::codec::Json)]
pub async fn import_memory(id: String, lines: String) -> Result<super::ImportReport, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::MemoryWrite,
            &id,
        )?;
        if lines.len() > super::BROWSER_IMPORT_BYTES {
            return Err(AppError::field(
                "lines",
                format!(
                    "is more than {} MB; import it in parts, or through the REST API",
                    super::BROWSER_IMPORT_BYTES / (1024 * 1024)
                ),
            ));
        }
        crate::memory::server::import::import(&state, &who, &id, &lines).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Erases one exchange from the employee's memory (its row, vector and cached copies); the
/// audit trail keeps a receipt.
#[server(prefix = "/rpc")]
pub async fn forget_exchange(
    id: String,
    interaction_id: String,
) -> Result<super::ErasureReceipt, AppError> {
    erase_in_context(
        &id,
        crate::memory::server::repo::Erase::One(&interaction_id),
    )
    .await
}

/// Erases every exchange of the employee whose message or answer mentions `subject` (at least
/// two characters, any case); the audit trail keeps a receipt with hashes only.
#[server(prefix = "/rpc")]
pub async fn forget_subject(
    id: String,
    subject: String,
) -> Result<super::ErasureReceipt, AppError> {
    let subject = subject.trim();
    if subject.chars().count() < 2 || subject.contains('\0') {
        return crate::platform::fns::fail(AppError::field(
            "subject",
            "must be at least 2 characters of text",
        ));
    }
    erase_in_context(&id, crate::memory::server::repo::Erase::Mentioning(subject)).await
}

/// Erases `what` from employee `id`'s memory, for a caller who may write it.
#[cfg(feature = "ssr")]
async fn erase_in_context(
    id: &str,
    what: crate::memory::server::repo::Erase<'_>,
) -> Result<super::ErasureReceipt, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::MemoryWrite,
            id,
        )?;
        crate::memory::server::service::erase(&state, &who, &id, what).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}
