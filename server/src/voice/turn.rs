//! ICE servers handed to clients on join: STUN on our own media port, and TURN with
//! short-lived credentials in the TURN REST API scheme (draft-uberti-behave-turn-rest,
//! what coturn's `use-auth-secret` checks): username `<expiry>:<user id>`, password
//! base64(HMAC-SHA1(secret, username)). The secret never leaves the server, and a leaked
//! credential stops working at its expiry.

use auraspeak_shared::v1::voice::IceServer;
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};

use crate::config::VoiceConfig;

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// TURN credentials for `user_id`, valid until `now_secs + ttl`.
pub fn credentials(secret: &str, user_id: i64, now_secs: u64, ttl: u64) -> (String, String) {
    let username = format!("{}:{user_id}", now_secs.saturating_add(ttl));
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = HmacSha1::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

pub fn ice_servers(config: &VoiceConfig, user_id: i64, now_secs: u64) -> Vec<IceServer> {
    if config.turn_urls.is_empty() {
        return Vec::new();
    }
    let (username, credential) =
        credentials(&config.turn_secret, user_id, now_secs, config.turn_ttl_secs);
    vec![IceServer {
        urls: config.turn_urls.clone(),
        username: Some(username),
        credential: Some(credential),
    }]
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_match_coturns_scheme() {
        // Reference value: printf '%s' '1700003600:42' | openssl dgst -sha1 -hmac s3cret -binary | base64
        let (user, pass) = super::credentials("s3cret", 42, 1_700_000_000, 3600);
        assert_eq!(user, "1700003600:42");
        assert_eq!(pass, "DfmaKoWkE6K1Hjz2w5FmaV3sBxs=");
        assert_ne!(super::credentials("other", 42, 1_700_000_000, 3600).1, pass);
    }
}
