//! The realtime gateway at `/api/v1/gateway` (protocol in `shared::v1::gateway`).
//!
//! Each identified session has a *pump* task that follows the event bus, filters events
//! through the session's [`viewer::Viewer`] and appends them to its [`resume::ResumeBuffer`].
//! A connection, while attached, sends whatever the buffer holds beyond what it already
//! sent. When the connection drops, the pump keeps filling the buffer for the resume
//! window, so a client that resumes gets exactly what it missed, in order, once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::community::Community;
use crate::config::GatewayConfig;
use auraspeak_shared::UserId;
use auraspeak_shared::v1::gateway::{Event, PresenceEntry, PresenceStatus};

use crate::events::{Audience, Envelope, EventBus};
use crate::store::Store;

pub mod connection;
pub mod presence;
pub mod resume;
pub mod viewer;

use resume::ResumeBuffer;
use viewer::Admitted;
pub use viewer::Viewer;

/// One gateway session: survives disconnects for the resume window.
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub auth_session_id: i64,
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
        }
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

    /// Starts a session for `user_id` whose pump follows `rx` through `viewer`.
    pub fn start_session(
        self: &Arc<Self>,
        user_id: i64,
        auth_session_id: i64,
        viewer: Viewer,
        rx: broadcast::Receiver<Arc<crate::events::Envelope>>,
    ) -> Arc<Session> {
        let mut raw = [0u8; 16];
        rand::fill(&mut raw);
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let session = Arc::new(Session {
            id: id.clone(),
            user_id,
            auth_session_id,
            buffer: Mutex::new(ResumeBuffer::new(self.config.resume_buffer_events, Instant::now())),
            changed: Notify::new(),
            invalid: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        });
        self.sessions().insert(id, session.clone());
        let gateway = self.clone();
        let pump_session = session.clone();
        tokio::spawn(async move {
            gateway.pump(pump_session, rx, viewer).await;
        });
        session
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
