//! Access tokens are short-lived HS256 JWTs naming the user and the session; refresh
//! tokens are 256 random bits, handed out once and stored only as a SHA-256 hash.
//!
//! Validation accepts exactly one algorithm (so `alg: none` and algorithm confusion are
//! refused), requires `exp`, `iat`, `sub` and `aud`, and checks the token type, so a
//! token minted for another purpose can never pass as an access token.

use auraspeak_shared::{SessionId, UserId};
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::Error;

const ACCESS_TYPE: &str = "access";
const ALGORITHM: Algorithm = Algorithm::HS256;
/// Tolerated clock difference between server nodes, in seconds.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: UserId,
    pub sid: SessionId,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    /// Token type; only "access" is accepted by the API.
    pub typ: String,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Expired,
    Invalid,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    audience: String,
    ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], audience: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    pub fn access_ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Mints an access token valid from `now_secs` (Unix seconds).
    pub fn issue(&self, user: UserId, session: SessionId, now_secs: u64) -> Result<String, Error> {
        let claims = AccessClaims {
            sub: user,
            sid: session,
            aud: self.audience.clone(),
            iat: now_secs,
            exp: now_secs + self.ttl_secs,
            typ: ACCESS_TYPE.to_owned(),
        };
        Ok(jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.encoding)?)
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            })?;
        if data.claims.typ != ACCESS_TYPE || data.claims.iat > data.claims.exp {
            return Err(TokenRejection::Invalid);
        }
        Ok(data.claims)
    }
}

/// A new opaque refresh token and the hash under which it is stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// Refresh tokens carry 256 bits of entropy, so a fast hash suffices: nobody can brute
/// force the preimage, and a stolen database yields no usable token.
pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use auraspeak_shared::Snowflake;

    fn ids() -> (UserId, SessionId) {
        (
            UserId(Snowflake::from_parts(1, 0, 0).expect("fits")),
            SessionId(Snowflake::from_parts(2, 0, 0).expect("fits")),
        )
    }

    fn now() -> u64 {
        u64::try_from(crate::ids::unix_ms_now() / 1000).expect("after 1970")
    }

    #[test]
    fn round_trip_and_expiry() {
        let keys = TokenKeys::new(&[1u8; 32], "auraspeak", 900);
        let (user, session) = ids();
        let token = keys.issue(user, session, now()).expect("issues");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!((claims.sub, claims.sid), (user, session));
        let old = keys.issue(user, session, now() - 2000).expect("issues");
        assert_eq!(keys.verify(&old).unwrap_err(), TokenRejection::Expired);
    }

    #[test]
    fn other_key_or_audience_is_invalid() {
        let (user, session) = ids();
        let token = TokenKeys::new(&[1u8; 32], "auraspeak", 900)
            .issue(user, session, now())
            .expect("issues");
        assert_eq!(
            TokenKeys::new(&[2u8; 32], "auraspeak", 900).verify(&token).unwrap_err(),
            TokenRejection::Invalid
        );
        assert_eq!(
            TokenKeys::new(&[1u8; 32], "other", 900).verify(&token).unwrap_err(),
            TokenRejection::Invalid
        );
    }

    #[test]
    fn refresh_tokens_are_unique_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, hb) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(ha.len(), 32);
        assert_ne!(ha, hb);
        assert_eq!(hash_refresh_token(&a), ha);
    }
}
