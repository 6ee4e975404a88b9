use std::fmt;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A named unique constraint was violated.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The transaction lost a race (deadlock or serialization failure) and may be retried whole.
    #[error("transaction must be retried: {0}")]
    Retry(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(String),
}

impl StoreError {
    pub fn corrupt(what: impl fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

/// Why an entry could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("insufficient funds in {key}")]
    Insufficient { key: String },
    #[error("invalid entry: {0}")]
    Invalid(#[from] outlay_core::ledger::DraftError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
