//! The realtime gateway at `/api/v1/gateway` (protocol in `shared::v1::gateway`).
//!
//! Each identified session has a *pump* task that follows the event bus, filters events
//! through the session's [`viewer::Viewer`] and appends them to its [`resume::ResumeBuffer`].
//! A connection, while attached, sends whatever the buffer holds beyond what it already
//! sent. When the connection drops, the pump keeps filling the buffer for the resume
//! window, so a client that resumes gets exactly what it missed, in order, once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::community::Community;
use crate::config::GatewayConfig;
use auraspeak_shared::UserId;
use auraspeak_shared::v1::gateway::{Event, PresenceEntry, PresenceStatus};

use crate::events::{Audience, Envelope, EventBus, Revocation};
use crate::store::Store;

pub mod connection;
pub mod presence;
pub mod resume;
pub mod viewer;

use resume::ResumeBuffer;
use viewer::Admitted;
pub use viewer::Viewer;

/// How far back the store poll looks beyond its last run, for revocations stamped before
/// their transaction committed or by a process whose clock is slightly off.
const REVOCATION_SLACK_MS: i64 = 5_000;
/// How far back to look again after the bus lost revocations.
const REVOCATION_LAG_MS: i64 = 60_000;

/// One gateway session: survives disconnects for the resume window.
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub auth_session_id: i64,
    /// The client's address as rate limits key it (IPv4 address or IPv6 /64), when it
    /// identified.
    ip: IpAddr,
    /// Events as encoded JSON, ready to be framed.
    buffer: Mutex<ResumeBuffer<Arc<str>>>,
    /// Woken when the buffer grows or the session becomes invalid.
    changed: Notify,
    invalid: AtomicBool,
    /// Incremented by every attach, so an older connection notices it was replaced.
    generation: AtomicU64,
}

impl Session {
    fn lock(&self) -> std::sync::MutexGuard<'_, ResumeBuffer<Arc<str>>> {
        // The buffer is plain data; a panic elsewhere cannot leave it half-updated.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_invalid(&self) -> bool {
        self.invalid.load(Ordering::Acquire)
    }

    /// Appends an event for this session alone (not through the bus): what only it
    /// should see, such as which speaker its voice receive slots carry.
    pub fn push_event(&self, event: &Event) {
        self.lock().handle_event(crate::events::encode(event));
        self.changed.notify_waiters();
    }

    fn invalidate(&self) {
        self.invalid.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }
}

pub struct Gateway {
    pub config: GatewayConfig,
    pub allowed_origins: Vec<String>,
    bus: Arc<dyn EventBus>,
    community: Arc<Community>,
    store: Arc<dyn Store>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    shutdown: CancellationToken,
    pub presence: presence::Presence,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The voice service, once started (absent when voice is disabled).
    pub voice: std::sync::OnceLock<Arc<crate::voice::Voice>>,
    /// Sessions one client address may hold; `None` when rate limits are off.
    max_sessions_per_ip: Option<usize>,
}

impl Gateway {
    pub fn new(
        config: GatewayConfig,
        allowed_origins: Vec<String>,
        bus: Arc<dyn EventBus>,
        community: Arc<Community>,
        store: Arc<dyn Store>,
        shutdown: CancellationToken,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            config,
            allowed_origins,
            bus,
            community,
            store,
            sessions: Mutex::new(HashMap::new()),
            shutdown,
            presence: presence::Presence::default(),
            metrics,
            voice: std::sync::OnceLock::new(),
            max_sessions_per_ip: None,
        }
    }

    /// Caps the sessions one client address may hold (rate limits on); uncapped otherwise.
    pub fn with_max_sessions_per_ip(mut self, cap: Option<usize>) -> Self {
        self.max_sessions_per_ip = cap;
        self
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn find(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions().get(id).cloned()
    }

    /// A subscription to the bus. Take it *before* building a READY snapshot, then hand
    /// it to [`Self::start_session`]: events in between are queued, never lost.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<crate::events::Envelope>> {
        self.bus.subscribe()
    }

    /// Starts a session for `user_id` at `ip` whose pump follows `rx` through `viewer`, or
    /// `None` when the account holds `max_sessions_per_user` sessions, or the address
    /// `max_sessions_per_ip`, that are all connected. A session waiting for a resume makes
    /// room: the oldest such is ended (the client that left it has evidently identified
    /// afresh instead).
    pub fn start_session(
        self: &Arc<Self>,
        user_id: i64,
        auth_session_id: i64,
        ip: IpAddr,
        viewer: Viewer,
        rx: broadcast::Receiver<Arc<crate::events::Envelope>>,
    ) -> Option<Arc<Session>> {
        let ip = crate::proxy::rate_limit_key(ip);
        let mut raw = [0u8; 16];
        rand::fill(&mut raw);
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let session = Arc::new(Session {
            id: id.clone(),
            user_id,
            auth_session_id,
            ip,
            buffer: Mutex::new(ResumeBuffer::new(self.config.resume_buffer_events, Instant::now())),
            changed: Notify::new(),
            invalid: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        });
        let evicted = {
            // Counted and inserted under one lock, so concurrent identifies cannot both
            // take the last place.
            let mut sessions = self.sessions();
            let cap = self.config.max_sessions_per_user;
            let for_user = make_room(&sessions, |s| s.user_id == user_id, cap)?;
            let for_ip = match self.max_sessions_per_ip {
                // A session ended to make room for the account frees one here too.
                Some(cap) => {
                    make_room(&sessions, |s| s.ip == ip && Some(&s.id) != for_user.as_ref(), cap)?
                }
                None => None,
            };
            let evicted: Vec<Arc<Session>> = [for_user, for_ip]
                .into_iter()
                .flatten()
                .filter_map(|id| sessions.remove(&id))
                .collect();
            sessions.insert(id, session.clone());
            evicted
        };
        for old in evicted {
            old.invalidate();
            if let Some(voice) = self.voice.get() {
                voice.leave(&old.id);
            }
        }
        let gateway = self.clone();
        let pump_session = session.clone();
        tokio::spawn(async move {
            gateway.pump(pump_session, rx, viewer).await;
        });
        Some(session)
    }

    async fn pump(
        self: Arc<Self>,
        session: Arc<Session>,
        mut rx: broadcast::Receiver<Arc<crate::events::Envelope>>,
        mut viewer: Viewer,
    ) {
        let window = Duration::from_secs(self.config.resume_window_secs);
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                received = rx.recv() => match received {
                    Ok(envelope) => {
                        let admission = viewer.admit(&envelope, &self.community).await;
                        let json = match admission.event {
                            Some(Admitted::AsPublished) => Some(envelope.encoded()),
                            Some(Admitted::Instead(event)) => Some(crate::events::encode(&event)),
                            None => None,
                        };
                        let update = admission.permissions.as_ref().map(crate::events::encode);
                        if json.is_none() && update.is_none() {
                            continue;
                        }
                        {
                            let mut buffer = session.lock();
                            for json in json.into_iter().chain(update) {
                                buffer.handle_event(json);
                            }
                        }
                        session.changed.notify_waiters();
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        // Events were lost for this session: it can no longer promise a
                        // gap-free stream, so the client must re-sync.
                        tracing::warn!(session = session.id, missed, "gateway session lagged");
                        session.invalidate();
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = sweep.tick() => {
                    if session.is_invalid() || session.lock().is_expired(Instant::now(), window) {
                        break;
                    }
                }
                () = self.shutdown.cancelled() => {
                    // The connection closes with "going away" on its own; invalidating here
                    // would race it with a misleading "session ended".
                    self.sessions().remove(&session.id);
                    return;
                }
            }
        }
        session.invalidate();
        self.sessions().remove(&session.id);
        // Voice belongs to the gateway session: it ends with it.
        if let Some(voice) = self.voice.get() {
            voice.leave(&session.id);
        }
    }

    /// Starts the task that ends gateway sessions whose login session was revoked.
    pub fn spawn_revocation_follower(self: &Arc<Self>) {
        // Subscribed here, before returning, so no revocation after start-up is missed.
        let rx = self.bus.revocations();
        tokio::spawn(self.clone().follow_revocations(rx));
    }

    /// Ends every gateway session a revocation names, at once and whatever its client
    /// does: its connection gets `invalid_session` and closes with "session revoked", it
    /// can no longer be resumed (even in the resume window), and its voice ends.
    pub fn handle_revocation(&self, revocation: Revocation) {
        let ended: Vec<Arc<Session>> = {
            let mut sessions = self.sessions();
            let ids: Vec<String> = sessions
                .values()
                .filter(|s| revocation.ends(s.user_id, s.auth_session_id))
                .map(|s| s.id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for session in ended {
            tracing::info!(
                session = session.id,
                user_id = session.user_id,
                "gateway session revoked"
            );
            session.invalidate();
            if let Some(voice) = self.voice.get() {
                voice.leave(&session.id);
            }
        }
    }

    /// Follows revocations from the bus (this process) and, once per poll interval, from
    /// the store: the `admin` command runs in a process of its own and cannot reach this
    /// bus, and a multi-node bus may lose messages.
    async fn follow_revocations(self: Arc<Self>, mut rx: broadcast::Receiver<Revocation>) {
        let mut poll =
            tokio::time::interval(Duration::from_millis(self.config.revocation_poll_ms.max(100)));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = crate::ids::unix_ms_now();
        loop {
            tokio::select! {
                received = rx.recv() => match received {
                    Ok(revocation) => self.handle_revocation(revocation),
                    // Missed some: the next poll of the store finds them.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        since = since.saturating_sub(REVOCATION_LAG_MS);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = poll.tick() => {
                    let now = crate::ids::unix_ms_now();
                    if self.sessions().is_empty() {
                        since = now;
                        continue;
                    }
                    // Look back a little: a revocation is stamped before its transaction
                    // commits, and another process's clock may differ slightly.
                    match self.store.revoked_sessions_since(since.saturating_sub(REVOCATION_SLACK_MS)).await {
                        Ok(ids) => {
                            for id in ids {
                                self.handle_revocation(Revocation::Session(id));
                            }
                            since = now;
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot poll revoked sessions"),
                    }
                }
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Whether [`Self::start_session`] would admit another session of `user_id` at `ip`
    /// now: a cheap check before building a READY snapshot that would be thrown away.
    pub fn has_room_for(&self, user_id: i64, ip: IpAddr) -> bool {
        let ip = crate::proxy::rate_limit_key(ip);
        let sessions = self.sessions();
        make_room(&sessions, |s| s.user_id == user_id, self.config.max_sessions_per_user).is_some()
            && self
                .max_sessions_per_ip
                .is_none_or(|cap| make_room(&sessions, |s| s.ip == ip, cap).is_some())
    }

    /// Whether the login session behind a gateway session is still valid.
    pub async fn auth_still_valid(&self, session: &Session) -> bool {
        let Some(id) = auraspeak_shared::SessionId::from_i64(session.auth_session_id) else {
            return false;
        };
        match self.store.session(id).await {
            Ok(Some(s)) => s.is_active(crate::ids::unix_ms_now()),
            Ok(None) => false,
            // A database hiccup is not a reason to drop every connection.
            Err(_) => true,
        }
    }

    /// Tells everyone who shares a server with `user_id` about their new status.
    pub async fn announce_presence(&self, user_id: i64, status: PresenceStatus) {
        let Ok(servers) = self.store.servers_of_user(user_id).await else { return };
        let Some(user) = UserId::from_i64(user_id) else { return };
        let ids: Arc<[i64]> = servers.iter().map(|s| s.id).collect();
        let event = Event::PresenceUpdate { user_id: user, status };
        self.bus.publish(Envelope::new(Audience::AnyOf(ids), event, None));
    }

    /// Online members of the given servers, for READY (at most 1000 per server).
    pub async fn presences(&self, servers: &[i64]) -> Vec<PresenceEntry> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for server in servers {
            let Ok(members) = self.store.members(*server, 0, 1000).await else { continue };
            for m in members {
                let status = self.presence.status_of(m.user_id);
                if status != PresenceStatus::Offline
                    && seen.insert(m.user_id)
                    && let Some(user_id) = UserId::from_i64(m.user_id)
                {
                    out.push(PresenceEntry { user_id, status });
                }
            }
        }
        out
    }

    pub fn community(&self) -> &Community {
        &self.community
    }
}

/// How a group of sessions (`in_group`) makes room for one more under `cap`: `Some(None)`
/// when there is room, `Some(Some(id))` when the oldest session waiting for a resume must
/// end first, `None` when all `cap` are connected.
fn make_room(
    sessions: &HashMap<String, Arc<Session>>,
    in_group: impl Fn(&Session) -> bool,
    cap: usize,
) -> Option<Option<String>> {
    let group: Vec<&Arc<Session>> =
        sessions.values().filter(|s| !s.is_invalid() && in_group(s)).collect();
    if group.len() < cap {
        return Some(None);
    }
    let oldest_detached = group
        .iter()
        .filter_map(|s| s.lock().detached_since().map(|since| (since, s.id.clone())))
        .min();
    oldest_detached.map(|(_, id)| Some(id))
}
