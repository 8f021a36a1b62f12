//! The PostgreSQL backend, for larger installations and several server nodes sharing one
//! database. Queries are checked against the schema at compile time (`sqlx::query!`);
//! the checked query data lives in `server/.sqlx` so builds need no running database.
//! After changing a query or a migration, regenerate it with `scripts/sqlx-prepare.sh`.

use std::time::Duration;

use async_trait::async_trait;
use auraspeak_shared::{SessionId, UserId};
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::community::{
    AdminUserRow, AuditRow, BanRow, ChannelRow, ChannelUpdate, HistoryPage, InviteRow, JoinOutcome,
    MemberRoleRow, MemberRow, MentionRow, MentionSet, MessageRow, NewAudit, NewChannel, NewMessage,
    NewServer, OverwriteRow, OwnOverwrites, ReactionAdded, ReactionCountRow, RoleRow, ServerRow,
    channel_columns, impl_community_store, invite_columns, member_select, message_columns,
    role_columns, server_select,
};
use super::{
    Backend, NewRefreshToken, NewSession, NewUser, RevokeReason, RotateOutcome, SessionRecord,
    Store, UserRecord, classify_unique, session_id, user_id,
};
use crate::error::Error;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // Migrations take an advisory lock, so nodes starting together apply them once.
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }
}

impl_community_store!(PgStore, sqlx::Postgres);

struct UserRow {
    id: i64,
    username: String,
    email: String,
    display_name: Option<String>,
    password_hash: String,
    created_at: i64,
    updated_at: i64,
    disabled_at: Option<i64>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = Error;

    fn try_from(r: UserRow) -> Result<Self, Error> {
        Ok(UserRecord {
            id: user_id(r.id)?,
            username: r.username,
            email: r.email,
            display_name: r.display_name,
            password_hash: r.password_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
            disabled_at: r.disabled_at,
        })
    }
}

struct SessionRow {
    id: i64,
    user_id: i64,
    device_name: String,
    ip: Option<String>,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = Error;

    fn try_from(r: SessionRow) -> Result<Self, Error> {
        Ok(SessionRecord {
            id: session_id(r.id)?,
            user_id: user_id(r.user_id)?,
            device_name: r.device_name,
            ip: r.ip,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), Error> {
        sqlx::query!("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
    }

    async fn backup_to(&self, _path: &std::path::Path) -> Result<(), Error> {
        Err(Error::Config(
            "backups of a PostgreSQL database are made with pg_dump (see the README)".into(),
        ))
    }

    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        vec![crate::metrics::PoolStat {
            name: "postgres",
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }]
    }

    async fn create_user(&self, user: &NewUser) -> Result<UserRecord, Error> {
        let row = sqlx::query_as!(
            UserRow,
            "INSERT INTO users (id, username, username_key, email, email_key, display_name, \
             password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             RETURNING id, username, email, display_name, password_hash, created_at, updated_at, disabled_at",
            user.id.as_i64(),
            user.username,
            auraspeak_shared::limits::username_key(&user.username),
            user.email,
            auraspeak_shared::limits::email_key(&user.email),
            user.display_name,
            user.password_hash,
            user.now,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(classify_unique)?;
        row.try_into()
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, Error> {
        sqlx::query_as!(
            UserRow,
            "SELECT id, username, email, display_name, password_hash, created_at, updated_at, disabled_at \
             FROM users WHERE id = $1",
            id.as_i64(),
        )
        .fetch_optional(&self.pool)
        .await?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn user_by_login(&self, login_key: &str) -> Result<Option<UserRecord>, Error> {
        sqlx::query_as!(
            UserRow,
            "SELECT id, username, email, display_name, password_hash, created_at, updated_at, disabled_at \
             FROM users WHERE username_key = $1 OR email_key = $1",
            login_key,
        )
        .fetch_optional(&self.pool)
        .await?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn set_display_name(
        &self,
        id: UserId,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<Option<UserRecord>, Error> {
        sqlx::query_as!(
            UserRow,
            "UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3 \
             RETURNING id, username, email, display_name, password_hash, created_at, updated_at, disabled_at",
            display_name,
            now,
            id.as_i64(),
        )
        .fetch_optional(&self.pool)
        .await?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep: SessionId,
        now: i64,
    ) -> Result<u64, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
            password_hash,
            now,
            id.as_i64(),
        )
        .execute(&mut *tx)
        .await?;
        let revoked = sqlx::query!(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
            now,
            RevokeReason::PasswordChanged.as_str(),
            id.as_i64(),
            keep.as_i64(),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(revoked)
    }

    async fn create_session(
        &self,
        session: &NewSession,
        token: &NewRefreshToken,
    ) -> Result<SessionRecord, Error> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query_as!(
            SessionRow,
            "INSERT INTO sessions (id, user_id, device_name, ip, created_at, last_used_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id, user_id, \
             device_name, ip, created_at, last_used_at, expires_at, revoked_at",
            session.id.as_i64(),
            session.user_id.as_i64(),
            session.device_name,
            session.ip,
            session.now,
            token.expires_at,
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            token.hash,
            session.id.as_i64(),
            session.now,
            token.expires_at,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, Error> {
        sqlx::query_as!(
            SessionRow,
            "SELECT id, user_id, device_name, ip, created_at, last_used_at, expires_at, \
             revoked_at FROM sessions WHERE id = $1",
            id.as_i64(),
        )
        .fetch_optional(&self.pool)
        .await?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionRecord>, Error> {
        sqlx::query_as!(
            SessionRow,
            "SELECT id, user_id, device_name, ip, created_at, last_used_at, expires_at, \
             revoked_at FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 ORDER BY id DESC",
            user.as_i64(),
            now,
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        new: &NewRefreshToken,
        ip: Option<&str>,
        now: i64,
    ) -> Result<RotateOutcome, Error> {
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query!(
            "SELECT t.session_id, t.expires_at, t.used_at, s.revoked_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.token_hash = $1",
            presented_hash,
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(found) = found else { return Ok(RotateOutcome::Invalid) };

        // Two refreshes racing with one token both read `used_at IS NULL`; the row lock
        // makes the second UPDATE wait and then match nothing, so it counts as reuse.
        let claimed = found.used_at.is_none()
            && sqlx::query!(
                "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
                now,
                presented_hash,
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        if !claimed {
            sqlx::query!(
                "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                 WHERE id = $3 AND revoked_at IS NULL",
                now,
                RevokeReason::RefreshTokenReused.as_str(),
                found.session_id,
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused(session_id(found.session_id)?));
        }
        if found.revoked_at.is_some() || found.expires_at <= now {
            // Dropping the transaction rolls back the claim: the token stays as it was.
            return Ok(RotateOutcome::Invalid);
        }
        sqlx::query!(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            new.hash,
            found.session_id,
            now,
            new.expires_at,
        )
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as!(
            SessionRow,
            "UPDATE sessions SET last_used_at = $1, expires_at = $2, ip = COALESCE($3, ip) \
             WHERE id = $4 RETURNING id, user_id, device_name, ip, created_at, last_used_at, \
             expires_at, revoked_at",
            now,
            new.expires_at,
            ip,
            found.session_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(row.try_into()?))
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool, Error> {
        let done = sqlx::query!(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
            now,
            reason.as_str(),
            id.as_i64(),
            user.as_i64(),
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}
