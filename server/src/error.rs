//! The server crate's one error type. Lower layers (config, storage, keys) return it;
//! the HTTP layer turns it into an [`crate::api::error::ApiError`] with a stable code.

use std::fmt;

/// Which unique constraint a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Username,
    Email,
    /// A constraint the mapping does not know; treated as an internal error.
    Other,
}

impl fmt::Display for UniqueField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Username => "username",
            Self::Email => "email",
            Self::Other => "unknown",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0} already exists")]
    Conflict(UniqueField),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row read back from the database breaks an invariant (for example a negative ID).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Obtaining or renewing a certificate from the ACME CA failed.
    #[error("ACME certificate: {0}")]
    Acme(String),
    #[error("io on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("password hashing: {0}")]
    PasswordHash(String),
    #[error("token signing: {0}")]
    Token(#[from] jsonwebtoken::errors::Error),
    /// A blocking task was cancelled or panicked.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io { path: path.as_ref().display().to_string(), source }
    }
}
