//! Storage behind one trait. Services only see [`Store`]; the embedded SQLite backend
//! (default) and the PostgreSQL backend implement it and pass the same contract tests
//! (`tests/store_contract.rs`).
//!
//! Methods that must be atomic (rotating a refresh token, changing a password together
//! with revoking sessions) are single trait methods, so each backend runs them in one
//! transaction instead of leaving the service to stitch several calls together.

use std::sync::Arc;

use async_trait::async_trait;
use auraspeak_shared::{SessionId, UserId};

use crate::config::{Config, DatabaseTarget};
use crate::error::{Error, UniqueField};

pub mod community;
pub mod postgres;
pub mod sqlite;
pub mod timed;

pub use community::CommunityStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while an instance administrator has disabled the account.
    pub disabled_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_name: String,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl SessionRecord {
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_name: String,
    pub ip: Option<String>,
    pub now: i64,
}

/// A refresh token to store: only its SHA-256 hash, never the token.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub hash: Vec<u8>,
    pub expires_at: i64,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current; it is now used and `new` replaced it.
    Rotated(SessionRecord),
    /// The token had been used before: the whole session (its token family) is now
    /// revoked, because a second use means it was copied.
    Reused(SessionId),
    /// No such token, or it expired, or its session is revoked.
    Invalid,
}

/// Why a session ended; stored for the audit trail of a user's own sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    RevokedByUser,
    PasswordChanged,
    RefreshTokenReused,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RevokedByUser => "revoked_by_user",
            Self::PasswordChanged => "password_changed",
            Self::RefreshTokenReused => "refresh_token_reused",
        }
    }
}

#[async_trait]
pub trait Store: CommunityStore + Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> Result<(), Error>;

    /// Writes a consistent copy of the whole database to `path` while it is in use.
    /// Only the embedded database can; PostgreSQL has pg_dump for that.
    async fn backup_to(&self, path: &std::path::Path) -> Result<(), Error>;

    /// Connection pool sizes, for metrics.
    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat>;

    /// Fails with [`Error::Conflict`] when the username or email is taken (ignoring case).
    async fn create_user(&self, user: &NewUser) -> Result<UserRecord, Error>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, Error>;
    /// Looks a user up by lower-cased username or email.
    async fn user_by_login(&self, login_key: &str) -> Result<Option<UserRecord>, Error>;
    async fn set_display_name(
        &self,
        id: UserId,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<Option<UserRecord>, Error>;
    /// Replaces the password hash and revokes every session but `keep`, atomically.
    /// Returns how many sessions were revoked.
    async fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep: SessionId,
        now: i64,
    ) -> Result<u64, Error>;

    /// Creates a session with its first refresh token.
    async fn create_session(
        &self,
        session: &NewSession,
        token: &NewRefreshToken,
    ) -> Result<SessionRecord, Error>;
    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, Error>;
    /// Active (not revoked, not expired) sessions of a user, newest first.
    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionRecord>, Error>;
    /// Exchanges a current refresh token for `new`; see [`RotateOutcome`].
    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        new: &NewRefreshToken,
        ip: Option<&str>,
        now: i64,
    ) -> Result<RotateOutcome, Error>;
    /// Revokes one of `user`'s sessions. False if it does not exist, is someone else's
    /// or was already revoked.
    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool, Error>;
}

/// Opens the backend the configuration selects and applies its migrations.
pub async fn open(config: &Config) -> Result<Arc<dyn Store>, Error> {
    match config.database_target()? {
        DatabaseTarget::Sqlite(path) => {
            Ok(Arc::new(sqlite::SqliteStore::open(&path, config.database.sqlite_readers).await?))
        }
        DatabaseTarget::Postgres(url) => {
            Ok(Arc::new(postgres::PgStore::open(&url, config.database.max_connections).await?))
        }
    }
}

/// Maps a unique-constraint violation to the field it protects; SQLite names the column
/// ("users.username_key"), PostgreSQL the constraint ("users_username_key_key").
pub(crate) fn classify_unique(err: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        let field = if text.contains("username") {
            UniqueField::Username
        } else if text.contains("email") {
            UniqueField::Email
        } else {
            UniqueField::Other
        };
        return Error::Conflict(field);
    }
    Error::Database(err)
}

pub(crate) fn user_id(raw: i64) -> Result<UserId, Error> {
    UserId::from_i64(raw).ok_or_else(|| Error::Corrupt(format!("negative user id {raw}")))
}

pub(crate) fn session_id(raw: i64) -> Result<SessionId, Error> {
    SessionId::from_i64(raw).ok_or_else(|| Error::Corrupt(format!("negative session id {raw}")))
}
