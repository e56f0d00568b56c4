//! What every server function needs on the server: the state, a failed call's status, cookies.

use crate::core::AppError;
use crate::platform::AppState;
use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| super::error::internal("server function", &"AppState missing from context"))
}

/// Sets the response status of a failed server function to the error's status.
pub fn fail<T>(e: AppError) -> Result<T, AppError> {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
    Err(e)
}

/// An HttpOnly, SameSite=Strict cookie for the whole site (`max_age_secs` 0 removes it).
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64) {
    if let Some(res) = use_context::<ResponseOptions>() {
        let c =
            format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}");
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.append_header(SET_COOKIE, v);
        }
    }
}
