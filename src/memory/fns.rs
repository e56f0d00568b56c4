//! The memory the chat page shows.

use super::MemoryItem;
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
