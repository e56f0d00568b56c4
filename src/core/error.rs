//! The one error type that crosses the wire: server functions return it, the REST layer turns it
//! into a status code and `{"error": {"code", "message", "fields"?}}`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Field path (e.g. `personality.empathy_level`) → what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AppError {
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    Unauthorized { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    NotFound { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("{message}")]
    Validation {
        message: String,
        fields: FieldErrors,
    },
    #[error("{message}")]
    LimitExceeded { message: String },
    /// A budget is used up (402).
    #[error("{message}")]
    BudgetExhausted { message: String },
    #[error("{message}")]
    PayloadTooLarge { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{message}")]
    Unavailable { message: String },
    /// Another request is doing this now (409, with `Retry-After`).
    #[error("{message}")]
    InProgress {
        message: String,
        retry_after_secs: u64,
    },
    /// Details are logged on the server under `ref_id`; the user only sees the reference.
    #[error("internal error (reference {ref_id})")]
    Internal { ref_id: String },
    /// The request could not reach the server function, or its answer could not be read.
    #[error("{message}")]
    Transport { message: String },
}

impl AppError {
    pub fn not_found(what: &str) -> Self {
        AppError::NotFound {
            message: format!("{what} not found"),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        AppError::Unauthorized {
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest {
            message: message.into(),
        }
    }

    /// A validation error on a single field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        let message = message.into();
        let field = field.into();
        fields.insert(field.clone(), message.clone());
        AppError::Validation {
            message: format!("{field}: {message}"),
            fields,
        }
    }

    /// Stable machine-readable code, as in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "bad_request",
            AppError::Unauthorized { .. } => "unauthorized",
            AppError::Forbidden { .. } => "forbidden",
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict { .. } => "conflict",
            AppError::Validation { .. } => "validation",
            AppError::LimitExceeded { .. } => "limit_exceeded",
            AppError::BudgetExhausted { .. } => "budget_exhausted",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable { .. } => "unavailable",
            AppError::InProgress { .. } => "in_progress",
            AppError::Internal { .. } => "internal",
            AppError::Transport { .. } => "transport",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest { .. } => 400,
            AppError::Unauthorized { .. } => 401,
            AppError::Forbidden { .. } => 403,
            AppError::NotFound { .. } => 404,
            AppError::Conflict { .. }
            | AppError::LimitExceeded { .. }
            | AppError::InProgress { .. } => 409,
            AppError::BudgetExhausted { .. } => 402,
            AppError::PayloadTooLarge { .. } => 413,
            AppError::UnsupportedMediaType { .. } => 415,
            AppError::Validation { .. } => 422,
            AppError::RateLimited { .. } => 429,
            AppError::Internal { .. } | AppError::Transport { .. } => 500,
            AppError::Unavailable { .. } => 503,
        }
    }

    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            AppError::Validation { fields, .. } => Some(fields),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                AppError::BadRequest { message }
            }
            // On the server these describe the caller's request: a body that does not decode,
            // a method the function does not take, a request that cannot be read, a function
            // that does not exist. In the browser they describe the server's answer or the
            // network, and stay transport errors.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(message)
            | ServerFnErrorErr::UnsupportedRequestMethod(message)
            | ServerFnErrorErr::Request(message) => AppError::BadRequest {
                message: format!("malformed call: {message}"),
            },
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Registration(message) => AppError::NotFound { message },
            other => AppError::Transport {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_round_trips_through_json_with_its_fields() {
        let err = AppError::field("personality.empathy_level", "must be between 0.0 and 1.0");
        let json = serde_json::to_string(&err).expect("serialize");
        assert!(json.contains("\"code\":\"validation\""), "{json}");
        let back: AppError = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, err);
        assert_eq!(back.status(), 422);
        assert_eq!(
            back.fields()
                .and_then(|f| f.get("personality.empathy_level"))
                .map(String::as_str),
            Some("must be between 0.0 and 1.0")
        );
    }
}
