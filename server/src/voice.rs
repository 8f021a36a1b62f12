//! Voice channels: who is in which channel (the service here) and the media relay that
//! carries their audio ([`relay`], one UDP port, str0m sessions, receive slots filled with
//! the loudest speakers per [`slots`]).
//!
//! A voice session belongs to a gateway session: joining, offering and leaving are gateway
//! frames, and when the gateway session ends (resume window over, logout, account ban),
//! so does the voice session. A user is in at most one voice channel: joining from another
//! device moves them there. Permission changes (kick, ban, CONNECT or SPEAK taken away,
//! channel deleted) are enforced from the event bus within moments of the change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use auraspeak_shared::v1::gateway::Event;
use auraspeak_shared::v1::voice::{IceServer, VoiceState};
use auraspeak_shared::{ChannelId, ErrorCode, Permissions, ServerId, Snowflake, UserId};
use tokio::sync::mpsc;

use crate::community::Community;
use crate::config::VoiceConfig;
use crate::events::{Audience, Envelope, EventBus};
use crate::gateway::Session;
use crate::metrics::Metrics;

mod consent;
mod dtls_tap;
mod egress;
#[cfg(target_os = "linux")]
pub use egress::send_batch;
mod ingress;
mod moderation;
pub mod peer;
pub mod protection;
pub mod relay;
mod slot_sender;
pub mod slots;
mod srtp;
mod stun;
#[cfg(test)]
#[path = "voice/stun_props.rs"]
mod stun_props;
pub mod turn;

use peer::PeerFlags;
use relay::{Command, RelayEvent, RelayHandle};
use slots::PeerKey;

/// A refusal with the code and message the client sees.
pub type Refusal = (ErrorCode, String);

fn refuse(code: ErrorCode, message: &str) -> Refusal {
    (code, message.to_owned())
}

struct Participant {
    key: PeerKey,
    session: Arc<Session>,
    user_id: i64,
    server_id: i64,
    channel_id: i64,
    self_mute: bool,
    self_deaf: bool,
    /// Server mute by a moderator.
    mute: bool,
    deaf: bool,
    /// The SPEAK permission in the current channel.
    can_speak: bool,
    /// The current channel's Opus bitrate: the relay caps what the peer may send by it.
    bitrate_kbps: u32,
}

impl Participant {
    fn flags(&self) -> PeerFlags {
        PeerFlags {
            forward: !(self.self_mute || self.self_deaf || self.mute || !self.can_speak),
            receive: !(self.self_deaf || self.deaf),
        }
    }

    fn state(&self, left: bool) -> Option<VoiceState> {
        Some(VoiceState {
            user_id: UserId::from_i64(self.user_id)?,
            server_id: ServerId::from_i64(self.server_id)?,
            channel_id: if left { None } else { ChannelId::from_i64(self.channel_id) },
            self_mute: self.self_mute,
            self_deaf: self.self_deaf,
            mute: self.mute || !self.can_speak,
            deaf: self.deaf,
        })
    }
}

/// Where a participant is put by a join or a move.
pub(crate) struct Destination {
    server_id: i64,
    channel_id: i64,
    /// SPEAK in that channel.
    can_speak: bool,
    bitrate_kbps: u32,
}

#[derive(Default)]
struct Registry {
    /// By gateway session id.
    by_session: HashMap<String, Participant>,
    by_key: HashMap<PeerKey, String>,
}

pub struct Voice {
    config: VoiceConfig,
    relay: RelayHandle,
    community: Arc<Community>,
    bus: Arc<dyn EventBus>,
    metrics: Arc<Metrics>,
    registry: Mutex<Registry>,
    /// Held while stored server mute/deafen is read for a join or written by a moderator,
    /// so the two cannot interleave and lose a change (joins are human-paced).
    moderation: tokio::sync::Mutex<()>,
    next_key: AtomicU64,
}

impl Voice {
    /// Binds the media port and starts the relay and the tasks that follow it and the
    /// event bus.
    pub async fn start(
        config: VoiceConfig,
        community: Arc<Community>,
        bus: Arc<dyn EventBus>,
        metrics: Arc<Metrics>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<Arc<Self>> {
        let socket = tokio::net::UdpSocket::bind(config.udp_listen).await?;
        let bound = socket.local_addr()?;
        let announced = announced_addresses(&config, bound);
        let (relay, events) = relay::spawn(
            socket,
            announced.clone(),
            usize::from(config.receive_slots),
            config.egress,
            metrics.clone(),
            shutdown.clone(),
        )?;
        tracing::info!(udp = %bound, announced = ?announced, "voice relay listening");
        let voice = Arc::new(Self {
            config,
            relay,
            community,
            bus: bus.clone(),
            metrics,
            registry: Mutex::new(Registry::default()),
            moderation: tokio::sync::Mutex::new(()),
            next_key: AtomicU64::new(1),
        });
        tokio::spawn(voice.clone().follow_relay(events, shutdown.clone()));
        tokio::spawn(voice.clone().enforce(bus.subscribe(), shutdown));
        Ok(voice)
    }

    /// The media port actually bound (port 0 in the config picks a free one).
    pub fn udp_addr(&self) -> SocketAddr {
        self.relay.local_addr
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // Plain maps; a panic elsewhere cannot leave them half-updated.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish_state(&self, server_id: i64, channel_id: i64, state: Option<VoiceState>) {
        let Some(state) = state else { return };
        let audience = Audience::Channel { server_id, channel_id };
        self.bus.publish(Envelope::new(audience, Event::VoiceStateUpdate { state }, None));
    }

    /// After a move: the old channel's viewers learn that the member left, and nothing of
    /// where to, since the new channel may be hidden from them (security review L7).
    /// Published before the new channel's state, so a viewer of both ends up seeing the
    /// member in the new channel; the member's own sessions are spared the "left" (their
    /// client would take it for being removed from voice) and get the new state.
    fn publish_moved_out(&self, server_id: i64, channel_id: i64, left: Option<VoiceState>) {
        let Some(state) = left else { return };
        let audience = Audience::Channel { server_id, channel_id };
        let user = state.user_id.as_i64();
        let envelope = Envelope::new(audience, Event::VoiceStateUpdate { state }, None);
        self.bus.publish(envelope.except_user(user));
    }

    /// Joins (or moves to) a voice channel: CONNECT and the user limit are checked here.
    pub async fn join(
        &self,
        session: &Arc<Session>,
        channel_id: ChannelId,
        self_mute: bool,
        self_deaf: bool,
    ) -> Result<(ChannelId, u8, u32, Vec<IceServer>), Refusal> {
        let user_id = session.user_id;
        let (channel, _access, perms) = self
            .community
            .channel_access(channel_id.0, user_id)
            .await
            .map_err(|_| refuse(ErrorCode::NotFound, "no such channel"))?;
        if channel.kind != auraspeak_shared::v1::channels::ChannelKind::Voice.as_str() {
            return Err(refuse(ErrorCode::InvalidParameter, "not a voice channel"));
        }
        if !perms.contains(Permissions::CONNECT) {
            return Err(refuse(ErrorCode::Forbidden, "missing the CONNECT permission"));
        }
        let limit = channel.user_limit.unwrap_or(0);
        let bitrate = self.bitrate_of(&channel);
        let full = |registry: &Registry| {
            let others = registry
                .by_session
                .values()
                .filter(|p| p.channel_id == channel.id && p.user_id != user_id)
                .count() as i64;
            limit > 0 && others >= limit && !perms.contains(Permissions::MOVE_MEMBERS)
        };
        if full(&self.registry()) {
            return Err(refuse(ErrorCode::ChannelFull, "the voice channel is full"));
        }
        // One voice channel per user: another device's voice session ends here, told like
        // any call the server ends.
        let other_device = self
            .registry()
            .by_session
            .iter()
            .find(|(id, p)| p.user_id == user_id && **id != session.id)
            .map(|(id, _)| id.clone());
        if let Some(other) = other_device {
            self.remove(&other, true);
        }
        // Server mute and deafen are the member's in this server, stored, and apply on
        // every join from any device. Read and applied under the moderation lock, so a
        // moderator's change made meanwhile is either read here or applied after we are
        // in the registry. Refused rather than guessed when the database cannot answer.
        let _moderation = self.moderation.lock().await;
        let (mute, deaf) = self
            .community
            .voice_moderation(channel.server_id, user_id)
            .await
            .map_err(|_| refuse(ErrorCode::Unavailable, "voice is unavailable, try again"))?;
        let (moved_from, old_state, new_state) = {
            let mut registry = self.registry();
            // Checked again under the lock that admits: someone may have joined meanwhile.
            if full(&registry) {
                return Err(refuse(ErrorCode::ChannelFull, "the voice channel is full"));
            }
            let can_speak = perms.contains(Permissions::SPEAK);
            let mut moved_from = None;
            let participant = match registry.by_session.get_mut(&session.id) {
                Some(p) => {
                    p.self_mute = self_mute;
                    p.self_deaf = self_deaf;
                    p.mute = mute;
                    p.deaf = deaf;
                    let to = Destination {
                        server_id: channel.server_id,
                        channel_id: channel.id,
                        can_speak,
                        bitrate_kbps: bitrate,
                    };
                    moved_from = self.relocate(p, to);
                    p
                }
                None => {
                    let key = self.next_key.fetch_add(1, Ordering::Relaxed);
                    registry.by_key.insert(key, session.id.clone());
                    registry.by_session.entry(session.id.clone()).or_insert(Participant {
                        key,
                        session: session.clone(),
                        user_id,
                        server_id: channel.server_id,
                        channel_id: channel.id,
                        self_mute,
                        self_deaf,
                        mute,
                        deaf,
                        can_speak,
                        bitrate_kbps: bitrate,
                    })
                }
            };
            (moved_from, participant.state(true), participant.state(false))
        };
        if let Some((server_id, channel_id)) = moved_from {
            self.publish_moved_out(server_id, channel_id, old_state);
        }
        self.publish_state(channel.server_id, channel.id, new_state);
        let ice = turn::ice_servers(
            &self.config,
            user_id,
            crate::ids::unix_ms_now().max(0) as u64 / 1000,
        );
        Ok((channel_id, self.config.receive_slots, bitrate, ice))
    }

    /// A channel's Opus bitrate, or the configured default.
    fn bitrate_of(&self, channel: &crate::store::community::ChannelRow) -> u32 {
        channel
            .bitrate
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(self.config.default_bitrate_kbps)
    }

    /// Puts a participant in another channel (same relay peer, new room) with the SPEAK
    /// permission of the new channel; returns the channel they left, if they moved.
    fn relocate(&self, p: &mut Participant, to: Destination) -> Option<(i64, i64)> {
        let from = (p.channel_id != to.channel_id).then_some((p.server_id, p.channel_id));
        if from.is_some() {
            let bitrate_kbps = to.bitrate_kbps;
            self.relay.send(Command::Move { peer: p.key, room: to.channel_id, bitrate_kbps });
        }
        p.server_id = to.server_id;
        p.channel_id = to.channel_id;
        p.can_speak = to.can_speak;
        p.bitrate_kbps = to.bitrate_kbps;
        self.relay.send(Command::SetFlags { peer: p.key, flags: p.flags() });
        from
    }

    /// Connects the joined session's WebRTC peer: the offer in, the answer out. A second
    /// offer replaces the first session (how a client reconnects after a network change).
    pub async fn offer(&self, session: &Session, sdp: String) -> Result<String, Refusal> {
        let answer = {
            let registry = self.registry();
            let p = registry
                .by_session
                .get(&session.id)
                .ok_or_else(|| refuse(ErrorCode::NotInVoice, "join a voice channel first"))?;
            // Queued under the lock: a moderator's mute made just now is either in these
            // flags or queued after this command, never lost in between.
            self.relay.open(p.key, p.channel_id, p.flags(), p.bitrate_kbps, sdp)
        };
        match answer.await {
            Ok(result) => result.map_err(|e| (ErrorCode::InvalidParameter, e)),
            Err(_) => Err(refuse(ErrorCode::Unavailable, "the voice relay stopped")),
        }
    }

    pub fn update(
        &self,
        session: &Session,
        self_mute: bool,
        self_deaf: bool,
    ) -> Result<(), Refusal> {
        let (server_id, channel_id, state) = {
            let mut registry = self.registry();
            let p = registry
                .by_session
                .get_mut(&session.id)
                .ok_or_else(|| refuse(ErrorCode::NotInVoice, "join a voice channel first"))?;
            p.self_mute = self_mute;
            p.self_deaf = self_deaf;
            self.relay.send(Command::SetFlags { peer: p.key, flags: p.flags() });
            (p.server_id, p.channel_id, p.state(false))
        };
        self.publish_state(server_id, channel_id, state);
        Ok(())
    }

    /// Leaves voice; nothing happens if the session was not in voice.
    pub fn leave(&self, session_id: &str) {
        self.remove(session_id, false);
    }

    /// Ends a session's voice. When the server ends it (`by_server`), the session is told
    /// directly too: after a kick or a lost permission it may no longer see the channel,
    /// so the channel's event would not reach it.
    fn remove(&self, session_id: &str, by_server: bool) {
        let removed = {
            let mut registry = self.registry();
            let removed = registry.by_session.remove(session_id);
            if let Some(p) = &removed {
                registry.by_key.remove(&p.key);
            }
            removed
        };
        if let Some(p) = removed {
            self.relay.send(Command::Close { peer: p.key });
            if by_server && let Some(state) = p.state(true) {
                p.session.push_event(&Event::VoiceStateUpdate { state });
            }
            self.publish_state(p.server_id, p.channel_id, p.state(true));
        }
    }

    /// Voice states in the given channels, for READY.
    pub fn states_in(&self, channels: &[i64]) -> Vec<VoiceState> {
        self.registry()
            .by_session
            .values()
            .filter(|p| channels.contains(&p.channel_id))
            .filter_map(|p| p.state(false))
            .collect()
    }

    /// Turns what the relay reports into gateway events and metrics.
    async fn follow_relay(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<RelayEvent>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let event = tokio::select! {
                () = shutdown.cancelled() => return,
                event = events.recv() => match event { Some(e) => e, None => return },
            };
            match event {
                RelayEvent::Slot { listener, slot, speaker } => {
                    let registry = self.registry();
                    let Some(p) =
                        registry.by_key.get(&listener).and_then(|s| registry.by_session.get(s))
                    else {
                        continue;
                    };
                    let user_id = speaker
                        .and_then(|k| registry.by_key.get(&k))
                        .and_then(|s| registry.by_session.get(s))
                        .and_then(|s| UserId::from_i64(s.user_id));
                    let Ok(slot) = u8::try_from(slot) else { continue };
                    // Only this session needs to know: straight into its event stream.
                    p.session.push_event(&Event::VoiceSlot { slot, user_id });
                }
                RelayEvent::Speaking { peer, speaking } => {
                    let found = {
                        let registry = self.registry();
                        registry
                            .by_key
                            .get(&peer)
                            .and_then(|s| registry.by_session.get(s))
                            .map(|p| (p.server_id, p.channel_id, p.user_id))
                    };
                    let Some((server_id, channel_id, user_id)) = found else { continue };
                    let (Some(channel), Some(user)) =
                        (ChannelId::from_i64(channel_id), UserId::from_i64(user_id))
                    else {
                        continue;
                    };
                    let event =
                        Event::VoiceSpeaking { channel_id: channel, user_id: user, speaking };
                    let audience = Audience::Channel { server_id, channel_id };
                    self.bus.publish(Envelope::new(audience, event, None));
                }
                RelayEvent::Stats { loss, jitter_ms, .. } => {
                    if let Some(loss) = loss {
                        self.metrics.voice_loss.observe(f64::from(loss.clamp(0.0, 1.0)));
                    }
                    if let Some(jitter) = jitter_ms {
                        self.metrics.voice_jitter.observe(f64::from(jitter) / 1000.0);
                    }
                }
                RelayEvent::Lost(peer) => {
                    // The relay restarted: end the voice session like any the server ends,
                    // so the client sees it and can join again.
                    let session = self.registry().by_key.get(&peer).cloned();
                    if let Some(session) = session {
                        self.remove(&session, true);
                    }
                }
                RelayEvent::Connected(peer) => tracing::debug!(peer, "voice peer connected"),
                RelayEvent::Disconnected(peer) => tracing::debug!(peer, "voice peer disconnected"),
            }
        }
    }

    /// Follows the event bus and ends or mutes voice sessions whose permissions changed.
    async fn enforce(
        self: Arc<Self>,
        mut rx: tokio::sync::broadcast::Receiver<Arc<Envelope>>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let envelope = tokio::select! {
                () = shutdown.cancelled() => return,
                received = rx.recv() => match received {
                    Ok(e) => e,
                    // Missed events: re-check everyone rather than trust a partial picture.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let servers: Vec<i64> =
                            self.registry().by_session.values().map(|p| p.server_id).collect();
                        for server in servers {
                            self.recheck_server(server).await;
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            };
            match (&envelope.event, &envelope.audience) {
                (Event::MemberRemove { server_id, user_id }, _) => {
                    self.end_where(|p| {
                        p.server_id == server_id.as_i64() && p.user_id == user_id.as_i64()
                    });
                }
                (Event::ServerDelete { server_id }, Audience::User(user)) => {
                    self.end_where(|p| p.server_id == server_id.as_i64() && p.user_id == *user);
                }
                (Event::ServerDelete { server_id }, _) => {
                    self.end_where(|p| p.server_id == server_id.as_i64());
                }
                (Event::ChannelDelete { channel_id, .. }, _) => {
                    self.end_where(|p| p.channel_id == channel_id.as_i64());
                }
                _ => {
                    if let Some(server) = envelope.invalidates {
                        self.recheck_server(server).await;
                    }
                }
            }
        }
    }

    fn end_where(&self, pred: impl Fn(&Participant) -> bool) {
        let sessions: Vec<String> = self
            .registry()
            .by_session
            .iter()
            .filter(|(_, p)| pred(p))
            .map(|(id, _)| id.clone())
            .collect();
        for session in sessions {
            self.remove(&session, true);
        }
    }

    /// Re-reads CONNECT and SPEAK for everyone in voice in one server after its roles,
    /// overwrites or memberships changed.
    async fn recheck_server(&self, server_id: i64) {
        let members: Vec<(String, i64, i64)> = self
            .registry()
            .by_session
            .iter()
            .filter(|(_, p)| p.server_id == server_id)
            .map(|(id, p)| (id.clone(), p.user_id, p.channel_id))
            .collect();
        for (session, user_id, channel_id) in members {
            let Some(channel) = Snowflake::from_i64(channel_id) else { continue };
            let perms = match self.community.channel_access(channel, user_id).await {
                Ok((_, _, perms)) => perms,
                Err(e) if e.code == ErrorCode::NotFound => Permissions::NONE,
                // A database hiccup is not a reason to throw people out of voice.
                Err(_) => continue,
            };
            if !perms.contains(Permissions::CONNECT) {
                self.remove(&session, true);
                continue;
            }
            let can_speak = perms.contains(Permissions::SPEAK);
            let changed = {
                let mut registry = self.registry();
                match registry.by_session.get_mut(&session) {
                    Some(p) if p.can_speak != can_speak => {
                        p.can_speak = can_speak;
                        self.relay.send(Command::SetFlags { peer: p.key, flags: p.flags() });
                        Some((p.server_id, p.channel_id, p.state(false)))
                    }
                    _ => None,
                }
            };
            if let Some((server_id, channel_id, state)) = changed {
                self.publish_state(server_id, channel_id, state);
            }
        }
    }
}

/// What clients are told to send media to.
fn announced_addresses(config: &VoiceConfig, bound: SocketAddr) -> Vec<SocketAddr> {
    if !config.public_addresses.is_empty() {
        return config.public_addresses.clone();
    }
    if bound.ip().is_unspecified() {
        tracing::warn!(
            "voice.udp_listen is a wildcard address and voice.public_addresses is empty: \
             announcing 127.0.0.1 only, so only this machine can connect to voice"
        );
        return vec![SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), bound.port())];
    }
    vec![bound]
}
