//! A logged-in session kept on disk, so that one CLI invocation logs in and later ones
//! reuse the session and the desktop app starts logged in. The tokens go to the OS
//! keyring where the build and the desktop offer one; otherwise the file holds them, so
//! it is written atomically with mode 0600 in a 0700 directory. Either is rewritten at
//! every token rotation.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use auraspeak_shared::UserId;
use serde::{Deserialize, Serialize};

use crate::api::{ApiClient, Credentials};
use crate::error::{Error, Result};
use crate::secrets::TokenEntry;
use crate::tls::ServerTrust;

const SESSION_FILE: &str = "session.json";

/// What is saved about a login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    pub server_url: String,
    pub user_id: UserId,
    pub username: String,
    pub credentials: Credentials,
    /// The pinned server certificate (`AB:CD:…`), for a server with a self-signed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
}

/// The session file: a [`SavedSession`] whose credentials may live in the keyring.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    server_url: String,
    user_id: UserId,
    username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credentials: Option<Credentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    tokens_in_keyring: bool,
}

/// A directory holding one saved session.
#[derive(Clone, Debug)]
pub struct Profile {
    dir: PathBuf,
    use_keyring: bool,
}

impl Profile {
    /// A profile that keeps tokens in its file (it still reads a session whose tokens an
    /// app with the keyring saved, where this build can).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), use_keyring: false }
    }

    /// A profile that saves tokens in the OS keyring, falling back to the file where no
    /// keyring answers.
    #[cfg(feature = "keyring")]
    pub fn with_keyring(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), use_keyring: true }
    }

    /// `$XDG_CONFIG_HOME/auraspeak`, else `$HOME/.config/auraspeak`.
    pub fn default_dir() -> Option<PathBuf> {
        let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        non_empty("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))
            .map(|base| base.join("auraspeak"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn session_path(&self) -> PathBuf {
        self.dir.join(SESSION_FILE)
    }

    /// The saved session, or `None` if nobody is logged in.
    pub fn load(&self) -> Result<Option<SavedSession>> {
        let path = self.session_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::File { path, source }),
        };
        let file: SessionFile = serde_json::from_slice(&bytes)
            .map_err(|source| Error::SessionFile { path: path.clone(), source })?;
        let credentials = match (file.credentials, file.tokens_in_keyring) {
            (_, true) => match TokenEntry::new(&self.dir).load()? {
                Some(credentials) => credentials,
                None => return Ok(None),
            },
            (Some(credentials), false) => credentials,
            (None, false) => {
                return Err(Error::InvalidInput(format!(
                    "{}: the session has no tokens; log in again",
                    path.display()
                )));
            }
        };
        Ok(Some(SavedSession {
            server_url: file.server_url,
            user_id: file.user_id,
            username: file.username,
            credentials,
            certificate_sha256: file.certificate_sha256,
        }))
    }

    /// Replaces the saved session. A crash mid-write leaves the old file, never half a
    /// new one: the new content goes to a temporary file first and is renamed over.
    pub fn save(&self, session: &SavedSession) -> Result<()> {
        create_private_dir(&self.dir)?;
        let in_keyring = self.use_keyring && self.store_in_keyring(&session.credentials);
        let file = SessionFile {
            server_url: session.server_url.clone(),
            user_id: session.user_id,
            username: session.username.clone(),
            credentials: (!in_keyring).then(|| session.credentials.clone()),
            certificate_sha256: session.certificate_sha256.clone(),
            tokens_in_keyring: in_keyring,
        };
        let path = self.session_path();
        let tmp = self.dir.join(format!("{SESSION_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|source| Error::SessionFile { path: path.clone(), source })?;
        let io = |source| Error::File { path: tmp.clone(), source };
        let mut file = private_file(&tmp).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(|source| Error::File { path, source })
    }

    /// Whether the keyring took the tokens. A keyring that fails once (none installed,
    /// locked and the unlock refused) sends this save to the file; the next save tries
    /// again, so a keyring that appears later is used.
    fn store_in_keyring(&self, credentials: &Credentials) -> bool {
        #[cfg(feature = "keyring")]
        match TokenEntry::new(&self.dir).store(credentials) {
            Ok(()) => return true,
            Err(e) => {
                tracing::info!(error = %e, "no OS keyring; tokens stay in the 0600 session file")
            }
        }
        let _ = credentials;
        false
    }

    /// Saves the session `api` is logged in to, as `user`, pinning the certificate it
    /// trusts if it pins one; returns what was saved.
    pub fn save_login(
        &self,
        api: &ApiClient,
        user_id: UserId,
        username: &str,
    ) -> Result<SavedSession> {
        let saved = SavedSession {
            server_url: api.base_url().to_owned(),
            user_id,
            username: username.to_owned(),
            credentials: api.credentials().ok_or(Error::NotLoggedIn)?,
            certificate_sha256: match api.trust() {
                ServerTrust::Pinned(fingerprint) => Some(fingerprint.to_string()),
                ServerTrust::System => None,
            },
        };
        self.save(&saved)?;
        Ok(saved)
    }

    /// A client for the saved session, trusting what the login trusted, whose token
    /// rotations are written back at once (see [`Profile::follow_rotations`]); `None` when
    /// nobody is logged in.
    pub fn restore_client(
        &self,
        on_error: impl Fn(&Error) + Send + Sync + 'static,
    ) -> Result<Option<ApiClient>> {
        let Some(saved) = self.load()? else { return Ok(None) };
        let trust = match &saved.certificate_sha256 {
            Some(pin) => ServerTrust::Pinned(pin.parse().map_err(|e| {
                Error::InvalidInput(format!("{}: {e}", self.session_path().display()))
            })?),
            None => ServerTrust::System,
        };
        let api = ApiClient::with_trust(&saved.server_url, trust)?;
        api.set_credentials(Some(saved.credentials.clone()));
        self.follow_rotations(&api, saved, on_error);
        Ok(Some(api))
    }

    /// Keeps `saved` up to date with `api`'s token rotations (a rotated refresh token is
    /// spent the moment the server answers, so the file must follow at once) and removes
    /// it when the session ends. `on_error` hears about writes that failed.
    pub fn follow_rotations(
        &self,
        api: &ApiClient,
        saved: SavedSession,
        on_error: impl Fn(&Error) + Send + Sync + 'static,
    ) {
        let profile = self.clone();
        api.on_credentials_change(move |credentials| {
            let result = match credentials {
                Some(credentials) => profile
                    .save(&SavedSession { credentials: credentials.clone(), ..saved.clone() }),
                None => profile.remove(),
            };
            if let Err(e) = result {
                on_error(&e);
            }
        });
    }

    /// Forgets the saved session; nothing saved is not an error.
    pub fn remove(&self) -> Result<()> {
        TokenEntry::new(&self.dir).remove();
        let path = self.session_path();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::File { path, source: e })
            }
            _ => Ok(()),
        }
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| Error::File { path: dir.to_owned(), source })
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    // `mode` only applies to a file that did not exist; a leftover temporary file from
    // an older version might be readable by others.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use auraspeak_shared::{SessionId, Snowflake};

    fn session() -> SavedSession {
        let id = Snowflake::from_parts(1, 0, 0).expect("fits");
        SavedSession {
            server_url: "http://127.0.0.1:1".into(),
            user_id: UserId(id),
            username: "ann".into(),
            credentials: Credentials {
                session_id: SessionId(id),
                access_token: "a".into(),
                access_issued_at_ms: 1,
                access_expires_at_ms: 2,
                refresh_token: "r".into(),
            },
            certificate_sha256: None,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("auraspeak-profile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn saves_privately_loads_back_and_removes() {
        let dir = temp_dir("roundtrip");
        let profile = Profile::new(dir.join("nested"));
        assert_eq!(profile.load().expect("no file is fine"), None);
        profile.save(&session()).expect("save");
        assert_eq!(profile.load().expect("load"), Some(session()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode(&profile.session_path()), 0o600);
            assert_eq!(mode(profile.dir()), 0o700);
        }
        profile.remove().expect("remove");
        profile.remove().expect("removing twice is fine");
        assert_eq!(profile.load().expect("gone"), None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(SESSION_FILE), b"{not json").expect("write");
        let err = Profile::new(&dir).load().expect_err("corrupt");
        assert!(matches!(err, Error::SessionFile { .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_session_whose_tokens_are_in_the_keyring_needs_a_build_that_reads_it() {
        let dir = temp_dir("keyring-flag");
        std::fs::create_dir_all(&dir).expect("dir");
        let json = serde_json::json!({
            "server_url": "http://127.0.0.1:1",
            "user_id": "1",
            "username": "ann",
            "tokens_in_keyring": true,
        });
        std::fs::write(dir.join(SESSION_FILE), json.to_string()).expect("write");
        let result = Profile::new(&dir).load();
        #[cfg(not(feature = "keyring"))]
        assert!(matches!(result, Err(Error::Keyring(_))), "{result:?}");
        // With the feature and no item in the keyring (or none running), the user logs in
        // again rather than seeing a session without tokens.
        #[cfg(feature = "keyring")]
        assert!(matches!(result, Ok(None) | Err(Error::Keyring(_))), "{result:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_file_without_tokens_or_keyring_is_a_clear_error() {
        let dir = temp_dir("no-tokens");
        std::fs::create_dir_all(&dir).expect("dir");
        let json = serde_json::json!({
            "server_url": "http://127.0.0.1:1", "user_id": "1", "username": "ann",
        });
        std::fs::write(dir.join(SESSION_FILE), json.to_string()).expect("write");
        let err = Profile::new(&dir).load().expect_err("no tokens");
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
