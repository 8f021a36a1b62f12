//! Limits on what a signed-in user may do: token buckets keyed by account (and by channel
//! for messages), so one account sending in a loop cannot queue every other user's writes
//! behind its own (SQLite has one writer) or flood everyone's event streams; and the same
//! kinds of bucket keyed by client address (an IPv4 address or an IPv6 /64, as
//! [`crate::proxy`] finds it behind trusted proxies), so one machine holding many accounts
//! cannot multiply its budget by registering more of them.
//!
//! The limits are Discord-like and generous: a person typing, reacting and moderating by
//! hand never meets them; only scripts do. The per-address ones are larger still, since a
//! household or a LAN party shares one address. A refusal is `429 rate_limited` with
//! `Retry-After`, like the account routes' per-address limit. An action is counted
//! against its account and its address only when both allow it, so a refusal by one
//! never spends the other's budget.

use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::api::error::ApiError;
use crate::api::extract::Auth;
use crate::config::RateLimitConfig;
use crate::rate_limit::KeyedLimiter;
use crate::state::AppState;

/// The kinds of limited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Creating, editing or deleting servers, channels, roles, invites, overwrites,
    /// memberships and one's own messages, and read markers.
    Write,
    /// Kicks, bans and unbans.
    Moderate,
    /// Adding a reaction.
    React,
    /// A "… is typing" notice (also limited per account and channel by the community).
    Typing,
}

pub struct AccountLimits {
    /// Messages per (account, channel).
    messages: KeyedLimiter<(i64, i64)>,
    writes: KeyedLimiter<i64>,
    moderation: KeyedLimiter<i64>,
    reactions: KeyedLimiter<i64>,
    identify_per_user: KeyedLimiter<i64>,
    identify_per_ip: KeyedLimiter<IpAddr>,
    /// Per client address, over all accounts.
    messages_per_ip: KeyedLimiter<IpAddr>,
    writes_per_ip: KeyedLimiter<IpAddr>,
    moderation_per_ip: KeyedLimiter<IpAddr>,
    reactions_per_ip: KeyedLimiter<IpAddr>,
    typing_per_ip: KeyedLimiter<IpAddr>,
}

impl AccountLimits {
    /// `None` when rate limits are turned off.
    pub fn new(config: &RateLimitConfig) -> Option<Self> {
        let minute = Duration::from_secs(60);
        config.enabled.then(|| Self {
            messages: KeyedLimiter::new(
                config.messages_per_channel_5s,
                config.messages_per_channel_5s,
                Duration::from_secs(5),
            ),
            writes: KeyedLimiter::new(config.write_burst, config.writes_per_minute, minute),
            moderation: KeyedLimiter::new(
                config.moderation_burst,
                config.moderations_per_minute,
                minute,
            ),
            reactions: KeyedLimiter::new(
                config.reaction_burst,
                config.reactions_per_minute,
                minute,
            ),
            identify_per_user: KeyedLimiter::new(
                config.identify_burst,
                config.identifies_per_minute,
                minute,
            ),
            identify_per_ip: KeyedLimiter::new(
                config.identify_ip_burst,
                config.identifies_per_minute_per_ip,
                minute,
            ),
            messages_per_ip: KeyedLimiter::new(
                config.message_ip_burst,
                config.messages_per_minute_per_ip,
                minute,
            ),
            writes_per_ip: KeyedLimiter::new(
                config.write_ip_burst,
                config.writes_per_minute_per_ip,
                minute,
            ),
            moderation_per_ip: KeyedLimiter::new(
                config.moderation_ip_burst,
                config.moderations_per_minute_per_ip,
                minute,
            ),
            reactions_per_ip: KeyedLimiter::new(
                config.reaction_ip_burst,
                config.reactions_per_minute_per_ip,
                minute,
            ),
            typing_per_ip: KeyedLimiter::new(
                config.typing_ip_burst,
                config.typings_per_minute_per_ip,
                minute,
            ),
        })
    }

    /// One message from the caller in `channel`.
    pub fn message(&self, auth: &Auth, channel: i64) -> Result<(), ApiError> {
        both(
            (&self.messages, &(auth.user_id.as_i64(), channel)),
            (&self.messages_per_ip, &crate::proxy::rate_limit_key(auth.ip)),
        )
    }

    pub fn action(&self, action: Action, auth: &Auth) -> Result<(), ApiError> {
        let ip = crate::proxy::rate_limit_key(auth.ip);
        let user = auth.user_id.as_i64();
        match action {
            Action::Write => both((&self.writes, &user), (&self.writes_per_ip, &ip)),
            Action::Moderate => both((&self.moderation, &user), (&self.moderation_per_ip, &ip)),
            Action::React => both((&self.reactions, &user), (&self.reactions_per_ip, &ip)),
            // Per account, typing is limited per channel by the community itself.
            Action::Typing => self
                .typing_per_ip
                .try_acquire(&ip, Instant::now())
                .map_err(ApiError::rate_limited_address),
        }
    }

    /// A gateway login from `ip`, before the token is checked (counted per address), and
    /// for `user` once it is known. Returns how long to wait when refused.
    pub fn identify_from(&self, ip: IpAddr) -> Result<(), Duration> {
        // By /64 for IPv6, like the account routes: one host owns a whole /64.
        self.identify_per_ip.try_acquire(&crate::proxy::rate_limit_key(ip), Instant::now())
    }

    pub fn identify_as(&self, user: i64) -> Result<(), Duration> {
        self.identify_per_user.try_acquire(&user, Instant::now())
    }
}

/// Takes one token from the account's bucket and one from the address's, or none when
/// either is empty.
fn both<A: Hash + Eq + Clone, B: Hash + Eq + Clone>(
    account: (&KeyedLimiter<A>, &A),
    address: (&KeyedLimiter<B>, &B),
) -> Result<(), ApiError> {
    let now = Instant::now();
    account.0.check(account.1, now).map_err(ApiError::rate_limited)?;
    address.0.check(address.1, now).map_err(ApiError::rate_limited_address)?;
    account.0.consume(account.1, now);
    address.0.consume(address.1, now);
    Ok(())
}

/// Checks a request's action against its account's and its address's limits, if limits
/// are on.
pub fn limited(state: &AppState, action: Action, auth: &Auth) -> Result<(), ApiError> {
    state.limits.as_ref().map_or(Ok(()), |l| l.action(action, auth))
}
