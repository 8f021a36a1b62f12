//! Per-account limits on what a signed-in user may do: token buckets keyed by account
//! (and by channel for messages, by address for gateway logins), so one account sending
//! in a loop cannot queue every other user's writes behind its own (SQLite has one
//! writer) or flood everyone's event streams.
//!
//! The limits are Discord-like and generous: a person typing, reacting and moderating by
//! hand never meets them; only scripts do. A refusal is `429 rate_limited` with
//! `Retry-After`, like the account routes' per-address limit.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use auraspeak_shared::UserId;

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
}

pub struct AccountLimits {
    /// Messages per (account, channel).
    messages: KeyedLimiter<(i64, i64)>,
    writes: KeyedLimiter<i64>,
    moderation: KeyedLimiter<i64>,
    reactions: KeyedLimiter<i64>,
    identify_per_user: KeyedLimiter<i64>,
    identify_per_ip: KeyedLimiter<IpAddr>,
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
        })
    }

    /// One message from `user` in `channel`.
    pub fn message(&self, user: UserId, channel: i64) -> Result<(), ApiError> {
        self.messages
            .try_acquire(&(user.as_i64(), channel), Instant::now())
            .map_err(ApiError::rate_limited)
    }

    pub fn action(&self, action: Action, user: UserId) -> Result<(), ApiError> {
        let limiter = match action {
            Action::Write => &self.writes,
            Action::Moderate => &self.moderation,
            Action::React => &self.reactions,
        };
        limiter.try_acquire(&user.as_i64(), Instant::now()).map_err(ApiError::rate_limited)
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

/// Checks a request's action against its account's limits, if limits are on.
pub fn limited(state: &AppState, action: Action, auth: &Auth) -> Result<(), ApiError> {
    state.limits.as_ref().map_or(Ok(()), |l| l.action(action, auth.user_id))
}
