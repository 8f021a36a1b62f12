//! A saved session's tokens in the OS keyring (Secret Service on Linux, Credential
//! Manager on Windows, Keychain on macOS), for builds with the `keyring` feature.
//! Without it, or where no keyring answers, the tokens stay in the 0600 session file.

use crate::api::Credentials;
use crate::error::{Error, Result};

/// The keyring item's service name; the item's user is the profile directory, so two
/// profiles (or test runs) never share an item.
#[cfg(feature = "keyring")]
const SERVICE: &str = "auraspeak";

/// One profile's keyring item.
pub(crate) struct TokenEntry {
    account: String,
}

impl TokenEntry {
    pub(crate) fn new(profile_dir: &std::path::Path) -> Self {
        Self { account: format!("session:{}", profile_dir.display()) }
    }

    #[cfg(feature = "keyring")]
    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, &self.account).map_err(|e| Error::Keyring(e.to_string()))
    }

    /// Stores `credentials`; an error means no usable keyring, and the caller falls back
    /// to the file.
    #[cfg(feature = "keyring")]
    pub(crate) fn store(&self, credentials: &Credentials) -> Result<()> {
        let json = serde_json::to_string(credentials)
            .map_err(|e| Error::Keyring(format!("encoding the tokens: {e}")))?;
        self.entry()?.set_password(&json).map_err(|e| Error::Keyring(e.to_string()))
    }

    /// The stored tokens; `None` when the item is gone (removed by the user, or a
    /// keyring reset), which means logged out.
    pub(crate) fn load(&self) -> Result<Option<Credentials>> {
        #[cfg(feature = "keyring")]
        {
            match self.entry()?.get_password() {
                Ok(json) => serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| Error::Keyring(format!("{SERVICE} item is not a session: {e}"))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(Error::Keyring(e.to_string())),
            }
        }
        #[cfg(not(feature = "keyring"))]
        Err(Error::Keyring(format!(
            "the session for {} keeps its tokens in the OS keyring, which this build cannot \
             read; log in again",
            self.account
        )))
    }

    /// Forgets the item; a missing item or keyring is not an error.
    pub(crate) fn remove(&self) {
        #[cfg(feature = "keyring")]
        if let Ok(entry) = self.entry()
            && let Err(e) = entry.delete_credential()
            && !matches!(e, keyring::Error::NoEntry)
        {
            tracing::warn!(error = %e, "could not remove the saved tokens from the OS keyring");
        }
    }
}
