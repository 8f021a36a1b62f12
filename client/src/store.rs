//! The desktop app's local store (SQLite through rusqlite): the servers this machine has
//! used, settings, and a cache of the latest messages per channel so the last view paints
//! instantly at start, before the network answers. Nothing here is authoritative: the
//! server is, and the cache is overwritten by what it says. Tokens are not kept here (see
//! [`crate::profile`], a 0600 file).

use std::path::Path;

use auraspeak_shared::v1::messages::Message;
use auraspeak_shared::{ChannelId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Messages kept per channel: about two screens, enough to paint the last view.
pub const CACHED_MESSAGES_PER_CHANNEL: usize = 100;

/// Versions of the schema, applied in order; a new version is appended, never edited.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE known_servers (
         url TEXT PRIMARY KEY NOT NULL,
         username TEXT,
         last_used_ms INTEGER NOT NULL
     );
     CREATE TABLE settings (
         key TEXT PRIMARY KEY NOT NULL,
         value TEXT NOT NULL
     );
     CREATE TABLE cached_messages (
         channel_id INTEGER NOT NULL,
         message_id INTEGER NOT NULL,
         body TEXT NOT NULL,
         PRIMARY KEY (channel_id, message_id)
     ) WITHOUT ROWID;",
    // Volume and mute of other people, as Discord remembers them: per account (a user ID
    // means someone else on another server).
    "CREATE TABLE user_preferences (
         account TEXT NOT NULL,
         user_id INTEGER NOT NULL,
         volume_percent INTEGER NOT NULL,
         muted INTEGER NOT NULL,
         PRIMARY KEY (account, user_id)
     ) WITHOUT ROWID;",
];

/// How loud another user is played, and whether they are muted for us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPreference {
    pub volume_percent: u16,
    pub muted: bool,
}

/// A server this machine has logged in to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownServer {
    pub url: String,
    pub username: Option<String>,
    pub last_used_ms: i64,
}

/// One open store. Not `Sync`: the desktop shell keeps it behind a mutex.
pub struct LocalStore {
    conn: Connection,
}

impl LocalStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// It holds the user's messages, so on Unix the file is theirs alone (0600) in a
    /// directory that is theirs alone (0700), whatever the umask; a file or directory an
    /// older version created with looser modes is tightened. SQLite gives its `-wal` and
    /// `-shm` files the mode of the database file.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir)?;
        }
        private_file(path)?;
        Self::init(Connection::open(path)?)
    }

    /// A store that lives in memory only (tests, and a fallback when the disk is unusable).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        // WAL: the cache is written while the UI reads; a crash loses at most the last
        // write, never the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let applied = usize::try_from(version).unwrap_or(0);
        if applied > MIGRATIONS.len() {
            return Err(Error::Store(format!(
                "the local store is from a newer AuraSpeak (schema {applied}); update the app"
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Self { conn })
    }

    /// Records a login (or a visit) to a server; the most recent comes first in
    /// [`LocalStore::known_servers`].
    pub fn remember_server(&self, url: &str, username: Option<&str>, now_ms: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO known_servers (url, username, last_used_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (url) DO UPDATE SET
                 username = COALESCE(excluded.username, known_servers.username),
                 last_used_ms = excluded.last_used_ms",
            params![url, username, now_ms],
        )?;
        Ok(())
    }

    pub fn forget_server(&self, url: &str) -> Result<()> {
        self.conn.execute("DELETE FROM known_servers WHERE url = ?1", params![url])?;
        Ok(())
    }

    pub fn known_servers(&self) -> Result<Vec<KnownServer>> {
        let mut stmt = self.conn.prepare(
            "SELECT url, username, last_used_ms FROM known_servers ORDER BY last_used_ms DESC",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(KnownServer { url: row.get(0)?, username: row.get(1)?, last_used_ms: row.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A setting stored as JSON; `None` when never set. A value that no longer parses
    /// (an older app wrote another shape) also reads as `None`, so defaults apply.
    pub fn setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", params![key], |row| row.get(0))
            .optional()?;
        Ok(value.and_then(|json| serde_json::from_str(&json).ok()))
    }

    pub fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value)
            .map_err(|e| Error::Store(format!("setting {key}: {e}")))?;
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, json],
        )?;
        Ok(())
    }

    /// Stores or replaces messages (new, edited or fetched), keeping only the newest
    /// [`CACHED_MESSAGES_PER_CHANNEL`] of each channel touched.
    pub fn cache_messages(&mut self, messages: &[Message]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let mut channels = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO cached_messages (channel_id, message_id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (channel_id, message_id) DO UPDATE SET body = excluded.body",
            )?;
            for message in messages {
                let body = serde_json::to_string(message)
                    .map_err(|e| Error::Store(format!("message {}: {e}", message.id)))?;
                insert.execute(params![message.channel_id.as_i64(), message.id.as_i64(), body])?;
                if !channels.contains(&message.channel_id) {
                    channels.push(message.channel_id);
                }
            }
        }
        for channel in channels {
            tx.execute(
                "DELETE FROM cached_messages WHERE channel_id = ?1 AND message_id NOT IN (
                     SELECT message_id FROM cached_messages WHERE channel_id = ?1
                     ORDER BY message_id DESC LIMIT ?2)",
                params![channel.as_i64(), CACHED_MESSAGES_PER_CHANNEL as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn uncache_message(&self, channel: ChannelId, message: i64) -> Result<()> {
        self.conn.execute(
            "DELETE FROM cached_messages WHERE channel_id = ?1 AND message_id = ?2",
            params![channel.as_i64(), message],
        )?;
        Ok(())
    }

    /// Drops a channel's cache (it was deleted, or we lost access).
    pub fn uncache_channel(&self, channel: ChannelId) -> Result<()> {
        self.conn.execute(
            "DELETE FROM cached_messages WHERE channel_id = ?1",
            params![channel.as_i64()],
        )?;
        Ok(())
    }

    /// The cached messages of a channel, oldest first. Rows that no longer parse are
    /// skipped: the cache is a hint, the server fills the gap.
    pub fn cached_messages(&self, channel: ChannelId) -> Result<Vec<Message>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM cached_messages WHERE channel_id = ?1 ORDER BY message_id ASC",
        )?;
        let rows = stmt.query_map(params![channel.as_i64()], |row| row.get::<_, String>(0))?;
        let mut messages = Vec::new();
        for body in rows {
            if let Ok(message) = serde_json::from_str(&body?) {
                messages.push(message);
            }
        }
        Ok(messages)
    }

    /// Forgets every cached message (at logout: the next account must not see them).
    /// Remembers another user's volume and mute for `account` (server URL and our user).
    pub fn set_user_preference(
        &self,
        account: &str,
        user: UserId,
        preference: UserPreference,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO user_preferences (account, user_id, volume_percent, muted) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (account, user_id) DO UPDATE SET volume_percent = ?3, muted = ?4",
            params![account, user.as_i64(), preference.volume_percent, preference.muted],
        )?;
        Ok(())
    }

    /// Every remembered volume and mute of `account`.
    pub fn user_preferences(&self, account: &str) -> Result<Vec<(UserId, UserPreference)>> {
        let mut statement = self.conn.prepare(
            "SELECT user_id, volume_percent, muted FROM user_preferences WHERE account = ?1",
        )?;
        let rows = statement.query_map(params![account], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, bool>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (user, volume, muted) = row?;
            // A row another version wrote wrong is skipped, not fatal.
            let (Some(user), Ok(volume_percent)) =
                (UserId::from_i64(user), u16::try_from(volume.clamp(0, 200)))
            else {
                continue;
            };
            out.push((user, UserPreference { volume_percent, muted }));
        }
        Ok(out)
    }

    pub fn clear_cache(&self) -> Result<()> {
        self.conn.execute("DELETE FROM cached_messages", [])?;
        Ok(())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::Store(error.to_string())
    }
}

/// Creates `dir` (and missing parents) as 0700 and tightens it if it exists with more.
/// A shared directory with the sticky bit (`/tmp`) is left alone: it is not ours to
/// close, and the file inside is private anyway.
fn private_dir(dir: &Path) -> Result<()> {
    let error = |source| Error::File { path: dir.to_owned(), source };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // `mode` above is filtered by the umask; this is not.
        let mode = std::fs::metadata(dir).map_err(error)?.permissions().mode();
        if mode & 0o1000 == 0 && mode & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(error)?;
        }
    }
    Ok(())
}

/// Creates the database file as 0600 before SQLite does (SQLite would use 0644 less the
/// umask), and tightens an existing one and its `-wal`/`-shm` files.
fn private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::File { path, source }
        };
        // An empty file is a valid empty database to SQLite.
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(error(path))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(error(path))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            match std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(error(&side)(e)),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
