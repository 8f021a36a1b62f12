//! The embedded default backend: one SQLite file in the data directory, in WAL mode so
//! readers never wait for the writer.
//!
//! SQLite allows one writer at a time. Instead of letting several connections race for
//! the write lock and retry on `SQLITE_BUSY`, all writes go through a pool of exactly one
//! connection, so they queue in-process in arrival order; reads use a separate pool.
//! sqlx runs each SQLite connection on its own worker thread, so no query ever blocks the
//! async runtime.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use auraspeak_shared::{SessionId, UserId};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

// Macros rather than consts: sqlx only takes SQL that is visibly static (`concat!`),
// which rules out building statements from runtime strings by construction.
macro_rules! user_columns {
    () => {
        "id, username, email, display_name, password_hash, created_at, updated_at, disabled_at"
    };
}
macro_rules! session_columns {
    () => {
        "id, user_id, device_name, ip, created_at, last_used_at, expires_at, revoked_at"
    };
}

pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path, readers: u32) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::create_dir(dir)?;
        }
        // SQLite would create the file 0644 (less the umask), and its -wal and -shm files
        // take the database file's mode; an empty file is a valid new database, so create
        // it ourselves, owner-only. A file left readable by an older version is narrowed.
        crate::private_files::file_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        if crate::private_files::restrict(path)? {
            tracing::warn!(path = %path.display(), "database file was readable by others; now 0600");
        }
        let base = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode loses at most the last transactions on power loss, never
            // consistency; FULL would fsync on every chat message.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Another process (an online backup) may hold the lock briefly.
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(base.clone().create_if_missing(true))
            .await?;
        MIGRATOR.run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(readers)
            .connect_with(base.read_only(true))
            .await?;
        Ok(Self { writer, readers })
    }
}

impl SqliteStore {
    fn reader(&self) -> &SqlitePool {
        &self.readers
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

impl_community_store!(SqliteStore, sqlx::Sqlite);

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, Error> {
    Ok(UserRecord {
        id: user_id(row.try_get("id")?)?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<SessionRecord, Error> {
    Ok(SessionRecord {
        id: session_id(row.try_get("id")?)?,
        user_id: user_id(row.try_get("user_id")?)?,
        device_name: row.try_get("device_name")?,
        ip: row.try_get("ip")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn backup_to(&self, path: &Path) -> Result<(), Error> {
        let target =
            path.to_str().ok_or_else(|| Error::Config("backup path is not UTF-8".into()))?;
        // VACUUM INTO writes a compact, consistent snapshot while readers and the writer
        // carry on. It writes into an empty file but refuses any other existing one, so
        // the file is created first, owner-only (a backup holds every password hash) and
        // failing if something is there already.
        crate::private_files::create_new(path)?;
        if let Err(e) = sqlx::query("VACUUM INTO $1").bind(target).execute(&self.writer).await {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
        Ok(())
    }

    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        let stat = |name, pool: &SqlitePool| crate::metrics::PoolStat {
            name,
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        };
        vec![stat("sqlite_writer", &self.writer), stat("sqlite_readers", &self.readers)]
    }

    async fn create_user(&self, user: &NewUser) -> Result<UserRecord, Error> {
        let sql = concat!(
            "INSERT INTO users (id, username, username_key, email, email_key, display_name, \
             password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             RETURNING ",
            user_columns!()
        );
        let row = sqlx::query(sql)
            .bind(user.id.as_i64())
            .bind(&user.username)
            .bind(auraspeak_shared::limits::username_key(&user.username))
            .bind(&user.email)
            .bind(auraspeak_shared::limits::email_key(&user.email))
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(user.now)
            .bind(user.now)
            .fetch_one(&self.writer)
            .await
            .map_err(classify_unique)?;
        user_from_row(&row)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, Error> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?");
        let row = sqlx::query(sql).bind(id.as_i64()).fetch_optional(&self.readers).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_login(&self, login_key: &str) -> Result<Option<UserRecord>, Error> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username_key = ? OR email_key = ?"
        );
        let row =
            sqlx::query(sql).bind(login_key).bind(login_key).fetch_optional(&self.readers).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_display_name(
        &self,
        id: UserId,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<Option<UserRecord>, Error> {
        let sql = concat!(
            "UPDATE users SET display_name = ?, updated_at = ? WHERE id = ? RETURNING ",
            user_columns!()
        );
        let row = sqlx::query(sql)
            .bind(display_name)
            .bind(now)
            .bind(id.as_i64())
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep: SessionId,
        now: i64,
    ) -> Result<u64, Error> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(now)
            .bind(id.as_i64())
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE user_id = ? AND id <> ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(RevokeReason::PasswordChanged.as_str())
        .bind(id.as_i64())
        .bind(keep.as_i64())
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
        let mut tx = self.writer.begin().await?;
        let sql = concat!(
            "INSERT INTO sessions (id, user_id, device_name, ip, created_at, last_used_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ",
            session_columns!()
        );
        let row = sqlx::query(sql)
            .bind(session.id.as_i64())
            .bind(session.user_id.as_i64())
            .bind(&session.device_name)
            .bind(&session.ip)
            .bind(session.now)
            .bind(session.now)
            .bind(token.expires_at)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&token.hash)
        .bind(session.id.as_i64())
        .bind(session.now)
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        session_from_row(&row)
    }

    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, Error> {
        let sql = concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = ?");
        let row = sqlx::query(sql).bind(id.as_i64()).fetch_optional(&self.readers).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionRecord>, Error> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = ? AND revoked_at IS NULL \
             AND expires_at > ? ORDER BY id DESC"
        );
        let rows = sqlx::query(sql).bind(user.as_i64()).bind(now).fetch_all(&self.readers).await?;
        rows.iter().map(session_from_row).collect()
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        new: &NewRefreshToken,
        ip: Option<&str>,
        now: i64,
    ) -> Result<RotateOutcome, Error> {
        let mut tx = self.writer.begin().await?;
        let found = sqlx::query(
            "SELECT t.session_id, t.expires_at, t.used_at, s.revoked_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.token_hash = ?",
        )
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(found) = found else { return Ok(RotateOutcome::Invalid) };
        let sid: i64 = found.try_get("session_id")?;
        let token_expires: i64 = found.try_get("expires_at")?;
        let used_at: Option<i64> = found.try_get("used_at")?;
        let revoked_at: Option<i64> = found.try_get("revoked_at")?;

        // Only one writer connection exists, so the read above cannot be overtaken; the
        // `used_at IS NULL` guard still keeps the update correct on its own.
        let claimed = used_at.is_none()
            && sqlx::query(
                "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
            )
            .bind(now)
            .bind(presented_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        if !claimed {
            sqlx::query(
                "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
                 WHERE id = ? AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(RevokeReason::RefreshTokenReused.as_str())
            .bind(sid)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused(session_id(sid)?));
        }
        if revoked_at.is_some() || token_expires <= now {
            // Dropping the transaction rolls back the claim: the token stays as it was.
            return Ok(RotateOutcome::Invalid);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&new.hash)
        .bind(sid)
        .bind(now)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        let sql = concat!(
            "UPDATE sessions SET last_used_at = ?, expires_at = ?, ip = COALESCE(?, ip) \
             WHERE id = ? RETURNING ",
            session_columns!()
        );
        let row = sqlx::query(sql)
            .bind(now)
            .bind(new.expires_at)
            .bind(ip)
            .bind(sid)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(session_from_row(&row)?))
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason.as_str())
        .bind(id.as_i64())
        .bind(user.as_i64())
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}
