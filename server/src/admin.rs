//! `auraspeak-server admin …`: instance administration from the command line, against
//! the same configuration (and so the same database) as the server.
//!
//! Exit codes: 0 done, 1 something failed (database, files), 2 the request itself was
//! refused (bad input, no such user or server, server still running during a restore).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use auraspeak_shared::limits;
use auraspeak_shared::v1::servers::{CreateInviteRequest, CreateServerRequest};
use auraspeak_shared::{Snowflake, UserId};
use clap::Subcommand;

use crate::auth::password::{self, PasswordHasher};
use crate::config::{Config, DatabaseTarget};
use crate::error::Error;
use crate::ids::unix_ms_now;
use crate::state::AppState;
use crate::store::{NewUser, UserRecord};

#[derive(Subcommand, Debug, Clone)]
pub enum AdminCommand {
    /// Create an account, optionally with a community it owns (the first admin).
    CreateOwner {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Also create a community with this name, owned by the new account.
        #[arg(long)]
        server_name: Option<String>,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for an account and end all of its sessions.
    ResetPassword {
        /// Username or email address.
        #[arg(long)]
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an invite to a community, in the name of its owner.
    CreateInvite {
        /// Community ID or exact name.
        #[arg(long)]
        server: String,
        #[arg(long, default_value_t = 0)]
        max_uses: i64,
        #[arg(long, default_value_t = 0)]
        max_age_secs: i64,
    },
    /// List accounts.
    ListUsers {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Disable an account on this instance: it can no longer log in, its sessions end.
    BanUser {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "banned by the administrator")]
        reason: String,
    },
    /// Enable a disabled account again.
    UnbanUser {
        #[arg(long)]
        user: String,
    },
    /// Write a consistent copy of the embedded database (safe while the server runs).
    Backup {
        /// Where to write it; must not exist yet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the embedded database with a backup. Stop the server first.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
}

#[derive(Debug)]
pub struct AdminError {
    pub exit_code: i32,
    pub message: String,
}

fn refused(message: impl Into<String>) -> AdminError {
    AdminError { exit_code: 2, message: message.into() }
}

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        let exit_code = if matches!(e, Error::Config(_) | Error::Conflict(_)) { 2 } else { 1 };
        Self { exit_code, message: e.to_string() }
    }
}

impl From<crate::api::error::ApiError> for AdminError {
    fn from(e: crate::api::error::ApiError) -> Self {
        let exit_code = if e.status().is_client_error() { 2 } else { 1 };
        Self { exit_code, message: e.message }
    }
}

/// Runs one command; returns what to print on standard output.
pub async fn run(
    config: Config,
    command: AdminCommand,
    stdin: &mut dyn BufRead,
) -> Result<String, AdminError> {
    if let AdminCommand::Restore { from } = &command {
        return restore(&config, from);
    }
    crate::private_files::create_dir(&config.data_dir)?;
    let secret = crate::auth::keys::load_or_create(&config.auth.jwt_secret, &config.data_dir)?;
    let store = crate::store::open(&config).await?;
    let hasher = PasswordHasher::new(0)?;
    let state = AppState::new(config, store.clone(), &secret)?;
    match command {
        AdminCommand::CreateOwner { username, email, server_name, password_stdin } => {
            let (password, generated) = password_input(password_stdin, stdin)?;
            let mut problems = Vec::new();
            for (field, check) in [
                ("username", limits::validate_username(&username)),
                ("email", limits::validate_email(&email)),
                ("password", limits::validate_password(&password)),
            ] {
                if let Err(message) = check {
                    problems.push(format!("{field} {message}"));
                }
            }
            if !problems.is_empty() {
                return Err(refused(problems.join("; ")));
            }
            if password::is_common(&password) {
                return Err(refused("that password is among the most common ones"));
            }
            let user = store
                .create_user(&NewUser {
                    id: state.ids.next().into(),
                    username,
                    email,
                    display_name: None,
                    password_hash: hasher.hash(&password).await?,
                    now: unix_ms_now(),
                })
                .await?;
            let mut out = format!("created account {} ({})\n", user.username, user.id);
            if generated {
                out.push_str(&format!("password: {password}\n"));
            }
            if let Some(name) = server_name {
                let detail = state
                    .community
                    .create_server(
                        user.id.as_i64(),
                        CreateServerRequest { name, description: None },
                    )
                    .await?;
                out.push_str(&format!(
                    "created community {} ({})\n",
                    detail.server.name, detail.server.id
                ));
            }
            Ok(out)
        }
        AdminCommand::ResetPassword { user, password_stdin } => {
            let user = find_user(&state, &user).await?;
            let (password, generated) = password_input(password_stdin, stdin)?;
            limits::validate_password(&password).map_err(|m| refused(format!("password {m}")))?;
            if password::is_common(&password) {
                return Err(refused("that password is among the most common ones"));
            }
            let hash = hasher.hash(&password).await?;
            store.reset_password(user.id.as_i64(), &hash, unix_ms_now()).await?;
            let mut out = format!("password of {} reset; all sessions ended\n", user.username);
            if generated {
                out.push_str(&format!("password: {password}\n"));
            }
            Ok(out)
        }
        AdminCommand::CreateInvite { server, max_uses, max_age_secs } => {
            let row = match server.parse::<Snowflake>() {
                Ok(id) => store.server(id.as_i64()).await?.into_iter().collect(),
                Err(_) => store.servers_named(&server).await?,
            };
            let row = match row.as_slice() {
                [one] => one.clone(),
                [] => return Err(refused(format!("no community {server:?}"))),
                _ => {
                    return Err(refused(format!(
                        "several communities are named {server:?}; use the ID"
                    )));
                }
            };
            let id = Snowflake::from_i64(row.id).ok_or_else(|| refused("corrupt community id"))?;
            let request =
                CreateInviteRequest { max_uses: Some(max_uses), max_age_secs: Some(max_age_secs) };
            let invite = state.community.create_invite(id, row.owner_id, request).await?;
            Ok(format!("{}\n", invite.code))
        }
        AdminCommand::ListUsers { limit } => {
            let rows = store.list_users(0, limit.clamp(1, 100_000)).await?;
            let mut out = String::from("id\tusername\temail\tcreated_at\tdisabled\n");
            for r in rows {
                let disabled = r.disabled_reason.as_deref().unwrap_or("");
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{disabled}\n",
                    r.id, r.username, r.email, r.created_at
                ));
            }
            Ok(out)
        }
        AdminCommand::BanUser { user, reason } => {
            let user = find_user(&state, &user).await?;
            store.set_user_disabled(user.id.as_i64(), Some((&reason, unix_ms_now()))).await?;
            Ok(format!("disabled {}; all sessions ended\n", user.username))
        }
        AdminCommand::UnbanUser { user } => {
            let user = find_user(&state, &user).await?;
            store.set_user_disabled(user.id.as_i64(), None).await?;
            Ok(format!("enabled {}\n", user.username))
        }
        AdminCommand::Backup { out } => {
            if out.exists() {
                return Err(refused(format!("{} exists already", out.display())));
            }
            store.backup_to(&out).await?;
            Ok(format!("backup written to {}\n", out.display()))
        }
        AdminCommand::Restore { .. } => Err(refused("restore is handled before opening the store")),
    }
}

async fn find_user(state: &AppState, login: &str) -> Result<UserRecord, AdminError> {
    let by_login = state.store.user_by_login(&limits::email_key(login.trim())).await?;
    if let Some(user) = by_login {
        return Ok(user);
    }
    if let Ok(id) = login.parse::<Snowflake>()
        && let Some(user) = state.store.user_by_id(UserId(id)).await?
    {
        return Ok(user);
    }
    Err(refused(format!("no account {login:?}")))
}

/// A password from stdin, or a generated one (then printed once).
fn password_input(from_stdin: bool, stdin: &mut dyn BufRead) -> Result<(String, bool), AdminError> {
    if from_stdin {
        let mut line = String::new();
        stdin
            .read_line(&mut line)
            .map_err(|e| AdminError { exit_code: 1, message: e.to_string() })?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut raw = [0u8; 20];
    rand::fill(&mut raw);
    let password = raw.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    Ok((password, true))
}

/// Replaces the embedded database file with a checked backup. Refuses while a server
/// holds the data directory, because swapping the file under it would lose writes.
fn restore(config: &Config, from: &Path) -> Result<String, AdminError> {
    let DatabaseTarget::Sqlite(db) = config.database_target()? else {
        return Err(refused(
            "restore applies to the embedded database; for PostgreSQL use pg_restore",
        ));
    };
    let _lock = crate::serve::DataDirLock::acquire(&config.data_dir)
        .map_err(|_| refused("a server is running on this data directory; stop it first"))?;
    let header = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    if !header.starts_with(b"SQLite format 3\0") {
        return Err(refused(format!("{} is not an SQLite database", from.display())));
    }
    let staging = db.with_extension("db.restoring");
    // Not `fs::copy`: it would give the database the backup file's mode (and an
    // administrator's root-owned copy would stay root's). A fresh owner-only file instead.
    let _ = std::fs::remove_file(&staging);
    let mut source = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    let mut target = crate::private_files::create_new(&staging)?;
    std::io::copy(&mut source, &mut target)
        .and_then(|_| target.sync_all())
        .map_err(|e| Error::io(&staging, e))?;
    drop(target);
    #[cfg(unix)]
    if let Some(dir) = db.parent().and_then(|d| std::fs::metadata(d).ok()) {
        use std::os::unix::fs::MetadataExt as _;
        // Best effort: the server's user must own its database; only root may hand the
        // file over, and for anyone else it is theirs already.
        let _ = std::os::unix::fs::chown(&staging, Some(dir.uid()), Some(dir.gid()));
    }
    // The old write-ahead log belongs to the old file: it must not be replayed into the
    // restored one.
    for suffix in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(db.with_extension(suffix));
    }
    std::fs::rename(&staging, &db).map_err(|e| Error::io(&db, e))?;
    Ok(format!("restored {} from {}\n", db.display(), from.display()))
}
