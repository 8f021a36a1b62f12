//! The tokens of one session, and when to refresh them.

use auraspeak_shared::SessionId;
use auraspeak_shared::v1::auth::Tokens;
use serde::{Deserialize, Serialize};

/// Refresh this long before the access token expires, so a request never leaves with a
/// token that dies in flight. Capped at half the token's lifetime for short-lived tokens.
const REFRESH_MARGIN_MS: u64 = 30_000;

/// A session's tokens. Expiry times are by this machine's clock, computed from the
/// server's `expires_in` at the moment the tokens arrived, so a skewed clock does not
/// matter.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub session_id: SessionId,
    pub access_token: String,
    pub access_issued_at_ms: u64,
    pub access_expires_at_ms: u64,
    pub refresh_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens stay out of logs and panic messages.
        f.debug_struct("Credentials")
            .field("session_id", &self.session_id)
            .field("access_expires_at_ms", &self.access_expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn from_tokens(tokens: &Tokens, now_ms: u64) -> Self {
        Self {
            session_id: tokens.session_id,
            access_token: tokens.access_token.clone(),
            access_issued_at_ms: now_ms,
            access_expires_at_ms: now_ms.saturating_add(tokens.expires_in.saturating_mul(1000)),
            refresh_token: tokens.refresh_token.clone(),
        }
    }

    /// True when the access token expires within the refresh margin of `now_ms`.
    pub fn needs_refresh(&self, now_ms: u64) -> bool {
        let lifetime = self.access_expires_at_ms.saturating_sub(self.access_issued_at_ms);
        let margin = REFRESH_MARGIN_MS.min(lifetime / 2);
        now_ms.saturating_add(margin) >= self.access_expires_at_ms
    }
}

/// Milliseconds since the Unix epoch by the system clock (0 if it is set before 1970).
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use auraspeak_shared::Snowflake;

    fn tokens(expires_in: u64) -> Tokens {
        Tokens {
            session_id: SessionId(Snowflake::from_parts(1, 0, 0).expect("fits")),
            token_type: "Bearer".into(),
            access_token: "a".into(),
            expires_in,
            refresh_token: "r".into(),
            refresh_expires_at: 0,
        }
    }

    #[test]
    fn refreshes_thirty_seconds_early_or_at_half_life() {
        let c = Credentials::from_tokens(&tokens(900), 1_000_000);
        assert_eq!(c.access_expires_at_ms, 1_900_000);
        assert!(!c.needs_refresh(1_000_000));
        assert!(!c.needs_refresh(1_869_999));
        assert!(c.needs_refresh(1_870_000));
        assert!(c.needs_refresh(5_000_000));
        // A 10 s token is refreshed after 5 s, not immediately.
        let short = Credentials::from_tokens(&tokens(10), 0);
        assert!(!short.needs_refresh(4_999));
        assert!(short.needs_refresh(5_000));
    }

    #[test]
    fn debug_output_hides_tokens() {
        let c = Credentials::from_tokens(&tokens(900), 0);
        let shown = format!("{c:?}");
        assert!(!shown.contains("access_token"), "{shown}");
        assert!(!shown.contains("refresh_token"), "{shown}");
    }
}
