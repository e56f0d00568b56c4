//! The memory the chat page shows.

use super::{ChatHistory, MemoryItem};
use crate::core::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc")]
pub async fn recent_memory(id: String) -> Result<Vec<MemoryItem>, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::MemoryRead,
            &id,
        )?;
        crate::memory::server::service::recent_memory(&state, &who, &id, 50).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

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
