//! Conversions from infrastructure errors into the wire error. They log the whole chain once,
//! here at the boundary, and hand the user an opaque reference (or a 409/503 where that is true).

use crate::core::AppError;

pub fn internal(context: &str, err: &dyn std::fmt::Display) -> AppError {
    let ref_id = hex::encode(rand::random::<[u8; 6]>());
    tracing::error!(ref_id, "{context}: {err}");
    AppError::Internal { ref_id }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!("database unavailable: {err}");
                AppError::Unavailable {
                    message: "the database is unavailable; try again shortly".into(),
                }
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::conflict("a record with the same identity already exists")
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                AppError::not_found("referenced record")
            }
            _ => internal("database error", &err),
        }
    }
}

impl From<redis::RedisError> for AppError {
    fn from(err: redis::RedisError) -> Self {
        internal("redis error", &err)
    }
}
