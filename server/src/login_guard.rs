//! Failed logins, counted so that guessing is slow and nobody else can lock an account.
//!
//! Failures count against the pair (account, client address), with the address an IPv4
//! address or an IPv6 /64: a guesser at one address soon waits, while the owner at any
//! other address is unaffected. A guesser spread over many addresses is held by a second,
//! much larger allowance per account over all addresses; once that is spent, only
//! addresses the account already holds an active session from may still try (each within
//! its own pair allowance), so a distributed attack slows its owner's logins from where
//! they usually are but never shuts them out.
//!
//! Only failures are counted; a correct password costs nothing. Time is an input, as in
//! [`crate::rate_limit`].

use std::net::IpAddr;
use std::time::{Duration, Instant};

use auraspeak_shared::UserId;

use crate::config::RateLimitConfig;
use crate::rate_limit::KeyedLimiter;

/// What failed logins are counted against: the account itself, so its username and its
/// email share one allowance; an identifier that names no account counts on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginKey {
    Account(UserId),
    Unknown(String),
}

/// Why a login attempt may not go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This address has used its allowance for this account: wait this long.
    Pair(Duration),
    /// The account's allowance over all addresses is used up: only addresses it holds a
    /// session from may still try. Otherwise wait this long.
    Account(Duration),
}

pub struct LoginGuard {
    per_pair: KeyedLimiter<(LoginKey, IpAddr)>,
    per_account: KeyedLimiter<LoginKey>,
}

impl LoginGuard {
    /// `None` when rate limits are turned off.
    pub fn new(config: &RateLimitConfig) -> Option<Self> {
        let hour = Duration::from_secs(3600);
        config.enabled.then(|| {
            let pair = config.login_failures_per_hour;
            let account = config.login_failures_per_hour_per_account;
            Self {
                per_pair: KeyedLimiter::new(pair, pair, hour),
                per_account: KeyedLimiter::new(account, account, hour),
            }
        })
    }

    /// Whether an attempt for `key` from `ip` may be verified now. Takes nothing.
    pub fn check(&self, key: &LoginKey, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let pair = (key.clone(), crate::proxy::rate_limit_key(ip));
        self.per_pair.check(&pair, now).map_err(Refusal::Pair)?;
        self.per_account.check(key, now).map_err(Refusal::Account)
    }

    /// Counts one failed attempt for `key` from `ip`.
    pub fn failed(&self, key: &LoginKey, ip: IpAddr, now: Instant) {
        self.per_pair.consume(&(key.clone(), crate::proxy::rate_limit_key(ip)), now);
        self.per_account.consume(key, now);
    }
}

/// Whether `ip` lies in the same rate-limit bucket (address or /64) as one of `known`,
/// the addresses recorded with an account's sessions.
pub fn is_known_address<'a>(ip: IpAddr, known: impl IntoIterator<Item = &'a str>) -> bool {
    let key = crate::proxy::rate_limit_key(ip);
    known
        .into_iter()
        .filter_map(|k| k.parse::<IpAddr>().ok())
        .any(|k| crate::proxy::rate_limit_key(k) == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(pair: u32, account: u32) -> LoginGuard {
        let mut config = crate::Config::default().rate_limit;
        config.enabled = true;
        config.login_failures_per_hour = pair;
        config.login_failures_per_hour_per_account = account;
        LoginGuard::new(&config).expect("enabled")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn failures_from_one_address_do_not_lock_the_account_elsewhere() {
        let g = guard(3, 100);
        let key = LoginKey::Unknown("victim".into());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(g.check(&key, ip("203.0.113.9"), t0), Ok(()));
            g.failed(&key, ip("203.0.113.9"), t0);
        }
        assert!(matches!(g.check(&key, ip("203.0.113.9"), t0), Err(Refusal::Pair(_))));
        // The same /64 is the same guesser; another address is someone else.
        g.failed(&key, ip("2001:db8::1"), t0);
        g.failed(&key, ip("2001:db8::1"), t0);
        g.failed(&key, ip("2001:db8::1"), t0);
        assert!(matches!(g.check(&key, ip("2001:db8::ffff"), t0), Err(Refusal::Pair(_))));
        assert_eq!(g.check(&key, ip("198.51.100.7"), t0), Ok(()));
    }

    #[test]
    fn many_addresses_spend_the_account_allowance() {
        let g = guard(3, 10);
        let key = LoginKey::Unknown("victim".into());
        let t0 = Instant::now();
        for n in 0..10 {
            g.failed(&key, ip(&format!("203.0.113.{n}")), t0);
        }
        assert!(matches!(g.check(&key, ip("198.51.100.7"), t0), Err(Refusal::Account(_))));
        assert_eq!(g.check(&key, ip("198.51.100.7"), t0 + Duration::from_secs(400)), Ok(()));
    }

    #[test]
    fn known_addresses_match_by_address_or_slash_64() {
        let known = ["198.51.100.7", "2001:db8:0:1::5", "not an address"];
        assert!(is_known_address(ip("198.51.100.7"), known));
        assert!(is_known_address(ip("2001:db8:0:1:abcd::9"), known));
        assert!(!is_known_address(ip("198.51.100.8"), known));
        assert!(!is_known_address(ip("2001:db8:0:2::5"), known));
    }
}
