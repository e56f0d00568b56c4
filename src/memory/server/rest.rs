//! `GET …/employees/{employee_id}/memory?limit=1..100[&query=…]`.

use super::service::{recent_memory, semantic_memory};
use crate::accounts::server::principal::EmployeePath;
use crate::core::AppError;
use crate::memory::MemoryList;
use crate::platform::http::ApiRoutes;
use crate::platform::http::EMPLOYEE;
use crate::platform::AppState;
use axum::extract::{Query, State};
use axum::Json;
use std::collections::HashMap;

async fn memory(
    State(state): State<AppState>,
    EmployeePath(who, id): EmployeePath,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<MemoryList>, AppError> {
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => 10,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| AppError::field("limit", "must be a whole number from 1 to 100"))?,
    };
    let memory = match query.get("query").map(|q| q.trim()) {
        Some(q) if q.chars().count() > 4000 => {
            return Err(AppError::field("query", "must be at most 4000 characters"))
        }
        Some(q) if !q.is_empty() => semantic_memory(&state, &who, &id, q, limit).await?,
        _ => recent_memory(&state, &who, &id, limit).await?,
    };
    Ok(Json(MemoryList { memory }))
}

pub fn router() -> ApiRoutes {
    ApiRoutes::new().get(&format!("{EMPLOYEE}/memory"), memory)
}
