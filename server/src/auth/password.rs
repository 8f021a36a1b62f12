//! Password hashing with argon2id at OWASP's recommended parameters.
//!
//! Hashing costs ~20 ms of CPU and 19 MiB of memory by design, so it never runs on the
//! async runtime's threads, and a semaphore caps how many run at once: a login storm then
//! queues for the hasher while every other request keeps being served.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::Error;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

static COMMON: &str = include_str!("common_passwords.txt");

fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// True for passwords on the list of the most commonly leaked ones (ignoring case).
pub fn is_common(password: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let set = SET
        .get_or_init(|| COMMON.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect());
    set.contains(password.to_lowercase().as_str())
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password: verifying against it when the account does not
    /// exist makes "no such user" cost the same time as "wrong password".
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// `max_concurrent` 0 means one per CPU core.
    pub fn new(max_concurrent: usize) -> Result<Self, Error> {
        let n = if max_concurrent == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            max_concurrent
        };
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let dummy = hash_blocking(&base64_of(&random))?;
        Ok(Self { permits: Arc::new(Semaphore::new(n)), dummy_hash: Arc::new(dummy) })
    }

    pub async fn hash(&self, password: &str) -> Result<String, Error> {
        let _permit =
            self.permits.acquire().await.map_err(|e| Error::PasswordHash(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Verifies `password` against a stored PHC string, or against the dummy hash when
    /// there is no account, in which case the answer is always false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, Error> {
        let _permit =
            self.permits.acquire().await.map_err(|e| Error::PasswordHash(e.to_string()))?;
        let is_real = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash)).await??;
        Ok(ok && is_real)
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_blocking(password: &str) -> Result<String, Error> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

fn verify_blocking(password: &str, stored: &str) -> Result<bool, Error> {
    match argon2()?.verify_password(password.as_bytes(), stored) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        // A stored hash that does not parse is a data problem, not a wrong password.
        Err(e) => Err(Error::PasswordHash(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_list_is_loaded_and_case_insensitive() {
        assert!(is_common("password1"));
        assert!(is_common("PassWord1"));
        assert!(is_common("12345678"));
        assert!(!is_common("correct horse battery staple 42"));
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = PasswordHasher::new(1).expect("hasher");
        let hash = hasher.hash("s3cret-enough").await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("s3cret-enough", Some(&hash)).await.expect("verify"));
        assert!(!hasher.verify("wrong-password", Some(&hash)).await.expect("verify"));
        assert!(!hasher.verify("s3cret-enough", None).await.expect("verify"));
        assert!(hasher.verify("x", Some("not a phc string")).await.is_err());
    }
}
