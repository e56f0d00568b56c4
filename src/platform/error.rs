//! Conversions from infrastructure errors into the wire error. They log the whole chain once,
//! here at the boundary, and hand the user an opaque reference (or a 409/503 where that is true).

use crate::core::AppError;

pub fn internal(context: &str, err: &dyn std::fmt::Display) -> AppError {
    let ref_id = hex::encode(rand::random::<[u8; 6]>());
    tracing::error!(ref_id, "{context}: {err}");
    AppError::Internal { ref_id }
}

/// Whether a database error means the database cannot answer now (down, restarting, out of
/// connections, or this transaction lost a race it may win when tried again), rather than that
/// the request was wrong: SQLSTATE classes 08 (connection), 53 (resources), 57P (shutdown,
/// starting up) and 40 (serialization failure, deadlock).
fn transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || c.starts_with("40")
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            e if transient(e) => {
                tracing::warn!("database unavailable: {err}");
                AppError::Unavailable {
                    message: "the database is unavailable; try again shortly".into(),
                }
            }
            // 22021 character_not_in_repertoire, 22P05 untranslatable_character: a NUL in a
            // text or JSON value that validation did not name.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) =>
            {
                AppError::Validation {
                    message: "text must not contain NUL characters (\\u0000)".into(),
                    fields: Default::default(),
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
