//! What can go wrong in storage, by meaning.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer got there first (a unique key, a serialization failure, a deadlock):
    /// the transaction may be tried again.
    #[error("concurrent write conflict: {0}")]
    Conflict(String),
    /// The database is locked or the pool has no free connection in time.
    #[error("database busy: {0}")]
    Busy(String),
    #[error("database error: {0}")]
    Internal(String),
}

/// Whether an error came from a race that a new attempt can win.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}

impl Retryable for StoreError {
    fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure => {
                    StoreError::Conflict(info.message().to_string())
                }
                _ if info.message().contains("deadlock") => {
                    StoreError::Conflict(info.message().to_string())
                }
                _ if is_busy(info.message()) => StoreError::Busy(info.message().to_string()),
                _ => StoreError::Internal(e.to_string()),
            },
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Busy(e.to_string())
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}
