//! The event bus: services publish what happened *after* the database commit; gateway
//! sessions subscribe and decide per event whether their user may see it.
//!
//! [`EventBus`] is a trait so that a multi-node deployment can put a message broker
//! (NATS) behind it; nothing in the gateway assumes that publisher and subscriber share
//! a process: envelopes carry plain data only, and the gateway re-checks permissions
//! itself rather than trusting the publisher's view.

use std::sync::{Arc, OnceLock};

use auraspeak_shared::v1::gateway::Event;
use tokio::sync::broadcast;

/// Who may receive an event, before per-user permission checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every member of the server.
    Server(i64),
    /// Members of the server who can view the channel.
    Channel { server_id: i64, channel_id: i64 },
    /// One user's sessions only.
    User(i64),
    /// Members of any of these servers (presence), delivered once per session.
    AnyOf(Arc<[i64]>),
}

#[derive(Debug)]
pub struct Envelope {
    pub audience: Audience,
    pub event: Event,
    /// The server whose roles, overwrites or membership this event changes: sessions
    /// drop their cached permissions for it before deciding.
    pub invalidates: Option<i64>,
    /// A user whose sessions do not get this event although they are in the audience:
    /// a member moved out of a voice channel is told where they went, not that they left.
    pub except_user: Option<i64>,
    /// The event as JSON, encoded by the first session that needs it and shared by all
    /// others: with a thousand listeners, encoding per session would dominate the cost.
    encoded: OnceLock<Arc<str>>,
}

impl Envelope {
    pub fn new(audience: Audience, event: Event, invalidates: Option<i64>) -> Self {
        Self { audience, event, invalidates, except_user: None, encoded: OnceLock::new() }
    }

    /// The same envelope, not delivered to `user`'s sessions.
    pub fn except_user(mut self, user: i64) -> Self {
        self.except_user = Some(user);
        self
    }

    pub fn encoded(&self) -> Arc<str> {
        self.encoded.get_or_init(|| encode(&self.event)).clone()
    }
}

/// JSON of one event. Encoding plain data cannot fail; should it ever, an empty object
/// keeps the stream well-formed and the log says why.
pub fn encode(event: &Event) -> Arc<str> {
    serde_json::to_string(event).map(Arc::from).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot encode event");
        Arc::from("{}")
    })
}

/// Login sessions that just ended. Not a client event: the gateway acts on it (ends the
/// matching gateway sessions and their voice at once) instead of waiting for the client's
/// next heartbeat, which a hostile client never sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// One login session (logout, remote revoke, refresh-token reuse).
    Session(i64),
    /// Every login session of a user but `keep` (password change keeps the caller's;
    /// an account disabled by the administrator keeps none).
    User { user_id: i64, keep: Option<i64> },
}

impl Revocation {
    /// Whether a gateway session of `user_id` on login session `auth_session_id` ends.
    pub fn ends(&self, user_id: i64, auth_session_id: i64) -> bool {
        match *self {
            Self::Session(id) => id == auth_session_id,
            Self::User { user_id: user, keep } => user == user_id && keep != Some(auth_session_id),
        }
    }
}

pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, envelope: Envelope);
    fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>>;
    /// Announces ended login sessions to every gateway (on every node).
    fn revoke(&self, revocation: Revocation);
    fn revocations(&self) -> broadcast::Receiver<Revocation>;
}

/// Revocations are rare; a gateway that still falls this far behind re-checks every
/// session against the store instead.
const REVOCATION_CAPACITY: usize = 1024;

/// In-process bus. A subscriber that falls more than `capacity` events behind loses its
/// place (and its gateway session is invalidated) rather than holding memory forever.
pub struct LocalBus {
    tx: broadcast::Sender<Arc<Envelope>>,
    revoked: broadcast::Sender<Revocation>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        let (revoked, _) = broadcast::channel(REVOCATION_CAPACITY);
        Self { tx, revoked }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, envelope: Envelope) {
        // No subscribers is normal (nobody connected); nothing to do then.
        let _ = self.tx.send(Arc::new(envelope));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.tx.subscribe()
    }

    fn revoke(&self, revocation: Revocation) {
        // No gateway listening (the admin command's own process) is normal.
        let _ = self.revoked.send(revocation);
    }

    fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revoked.subscribe()
    }
}
