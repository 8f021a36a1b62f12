//! Password hashing with argon2id at OWASP's recommended parameters.
//!
//! Hashing costs ~20 ms of CPU and 19 MiB of memory by design, so it never runs on the
//! async runtime's threads, and a semaphore caps how many run at once: a login storm then
//! queues for the hasher while every other request keeps being served.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::hash_memory::{self, Buffer, MemoryPool};
use crate::error::Error;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// The salt and output lengths argon2's own `hash_password` uses.
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

static COMMON: &str = include_str!("common_passwords.txt");

fn params() -> Result<Params, Error> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN))
        .map_err(|e| Error::PasswordHash(e.to_string()))
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
    /// Argon2's working memory: one buffer per permit at most, reused across hashes.
    memory: MemoryPool,
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
        let blocks = params()?.block_count();
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        // A buffer of its own, freed at once: start-up may run outside a runtime.
        let dummy = hash_blocking(&base64_of(&random), &mut hash_memory::new_buffer(blocks))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(n)),
            memory: MemoryPool::new(blocks, hash_memory::IDLE_RELEASE),
            dummy_hash: Arc::new(dummy),
        })
    }

    /// Runs `work` on a blocking thread with a pooled buffer, under a permit.
    async fn with_memory<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Buffer) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let _permit =
            self.permits.acquire().await.map_err(|e| Error::PasswordHash(e.to_string()))?;
        let mut buffer = self.memory.take();
        let (result, buffer) = tokio::task::spawn_blocking(move || {
            let result = work(&mut buffer);
            (result, buffer)
        })
        .await?;
        self.memory.put_back(buffer);
        result
    }

    pub async fn hash(&self, password: &str) -> Result<String, Error> {
        let password = password.to_owned();
        self.with_memory(move |buffer| hash_blocking(&password, buffer)).await
    }

    /// Verifies `password` against a stored PHC string, or against the dummy hash when
    /// there is no account, in which case the answer is always false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, Error> {
        let is_real = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let password = password.to_owned();
        let ok = self.with_memory(move |buffer| verify_blocking(&password, &hash, buffer)).await?;
        Ok(ok && is_real)
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn phc_error(e: impl std::fmt::Display) -> Error {
    Error::PasswordHash(e.to_string())
}

/// Argon2 into `buffer` (grown if the parameters need more blocks), writing `out`.
fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    buffer: &mut Buffer,
) -> Result<(), Error> {
    let blocks = params.block_count();
    if buffer.len() < blocks {
        buffer.resize(blocks, argon2::Block::new());
    }
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut buffer[..blocks])
        .map_err(phc_error)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), as argon2's own
/// `hash_password` writes it, computed in the given memory.
fn hash_blocking(password: &str, buffer: &mut Buffer) -> Result<String, Error> {
    let params = params()?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt);
    let mut out = [0u8; OUTPUT_LEN];
    argon2_into(&argon, &params, password, &salt, &mut out, buffer)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(phc_error)?,
        salt: Some(Salt::new(&salt).map_err(phc_error)?),
        hash: Some(Output::new(&out).map_err(phc_error)?),
    };
    Ok(phc.to_string())
}

/// Recomputes the stored hash's function, with its own parameters, in the given memory,
/// and compares in constant time (`Output`'s equality).
fn verify_blocking(password: &str, stored: &str, buffer: &mut Buffer) -> Result<bool, Error> {
    // A stored hash that does not parse is a data problem, not a wrong password.
    let phc = PasswordHash::new(stored).map_err(phc_error)?;
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return Ok(false) };
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).map_err(phc_error)?;
    let version =
        phc.version.map_or(Ok(Version::default()), Version::try_from).map_err(phc_error)?;
    let params = Params::try_from(&phc).map_err(phc_error)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, &params, password, salt.as_ref(), &mut out, buffer)?;
    Ok(Output::new(&out).map_err(phc_error)? == *expected)
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

    /// Hashes made in pooled memory are ordinary argon2id PHC strings: argon2's own
    /// verifier accepts them, and hashes argon2 made itself (other parameters included)
    /// verify here.
    #[tokio::test]
    async fn pooled_hashes_match_argon2s_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(2).expect("hasher");
        let ours = hasher.hash("s3cret-enough").await.expect("hash");
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().expect("params"));
        assert!(stock.verify_password(b"s3cret-enough", ours.as_str()).is_ok());
        assert!(stock.verify_password(b"s3cret-enoug", ours.as_str()).is_err());
        let small = Params::new(8 * 1024, 1, 1, None).expect("params");
        for argon in [stock, Argon2::new(Algorithm::Argon2i, Version::V0x10, small)] {
            let theirs = argon.hash_password(b"other-secret").expect("hash").to_string();
            assert!(
                hasher.verify("other-secret", Some(&theirs)).await.expect("verify"),
                "{theirs}"
            );
            assert!(!hasher.verify("other-secreT", Some(&theirs)).await.expect("verify"));
        }
        // The buffers went back to the pool: at most one per permit.
        assert!((1..=2).contains(&hasher.memory.pooled()), "{}", hasher.memory.pooled());
    }

    #[tokio::test]
    async fn concurrent_hashes_never_hold_more_buffers_than_permits() {
        let hasher = PasswordHasher::new(2).expect("hasher");
        let hashes: Vec<_> = (0..6)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&format!("password-{i}")).await })
            })
            .collect();
        for hash in hashes {
            hash.await.expect("joined").expect("hashed");
        }
        assert!(hasher.memory.pooled() <= 2, "{}", hasher.memory.pooled());
    }
}
