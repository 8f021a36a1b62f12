//! The media relay's driver: one UDP socket for every peer, one task that owns all peer
//! sessions and rooms. It reads datagrams and commands, feeds them with the current time
//! into the sans-IO peers, forwards audio between peers of a room, and writes what the
//! peers want sent.
//!
//! One task keeps forwarding free of locks; a room's peers live in the same task, so a
//! frame reaches all its listeners in one pass. Past one core's worth of rooms the relay
//! would be sharded by room across several such tasks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use str0m::Input;
use str0m::ice::StunMessage;
use str0m::net::{Protocol, Receive};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::egress::{self, Egress};
use super::ingress::StunLimiter;
use super::peer::{Forwarded, Incoming, Peer, PeerFlags, PeerOutput};
use super::slots::{PeerKey, SpeakerSelector};
use crate::config::VoiceEgress;
use crate::metrics::Metrics;

/// Re-rank speakers this often: fast enough that a new speaker's first syllable is heard
/// (their packets are forwarded as soon as they hold a slot), rare enough to cost nothing.
const SELECT_EVERY: Duration = Duration::from_millis(40);
/// Largest datagram we accept; WebRTC keeps packets under the path MTU.
const MAX_DATAGRAM: usize = 2048;
/// Bound on datagrams handled before the loop looks at commands and timers again, so a
/// flood cannot starve joins and leaves.
const BURST: usize = 256;
/// Frames one drive may forward in all: a guard, since forwarding yields none.
const MAX_CASCADE: usize = 16;

pub enum Command {
    Open {
        peer: PeerKey,
        room: i64,
        flags: PeerFlags,
        /// The channel's Opus bitrate: the peer's ingress budget follows it.
        bitrate_kbps: u32,
        offer: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    SetFlags {
        peer: PeerKey,
        flags: PeerFlags,
    },
    Move {
        peer: PeerKey,
        room: i64,
        bitrate_kbps: u32,
    },
    Close {
        peer: PeerKey,
    },
    /// Makes the relay task panic, to test that it is restarted.
    #[cfg(test)]
    Panic,
}

/// What the relay tells the voice service.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayEvent {
    Connected(PeerKey),
    Disconnected(PeerKey),
    /// The relay restarted after a failure and the peer's session is gone: the voice
    /// service ends that voice session so the client can join again.
    Lost(PeerKey),
    Speaking {
        peer: PeerKey,
        speaking: bool,
    },
    Slot {
        listener: PeerKey,
        slot: usize,
        speaker: Option<PeerKey>,
    },
    Stats {
        peer: PeerKey,
        loss: Option<f32>,
        jitter_ms: Option<f32>,
        rtt_ms: Option<f32>,
    },
}

#[derive(Clone)]
pub struct RelayHandle {
    tx: mpsc::UnboundedSender<Command>,
    pub local_addr: SocketAddr,
}

impl RelayHandle {
    /// Sends a command; the relay only stops at shutdown, when nothing matters any more.
    pub fn send(&self, command: Command) {
        let _ = self.tx.send(command);
    }

    /// Queues a session for `peer`; the answer (or why the offer was refused) arrives on
    /// the returned channel. Not async, so callers can queue it under their own lock and
    /// keep it ordered with the flag changes they make.
    pub fn open(
        &self,
        peer: PeerKey,
        room: i64,
        flags: PeerFlags,
        bitrate_kbps: u32,
        offer: String,
    ) -> oneshot::Receiver<Result<String, String>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Open { peer, room, flags, bitrate_kbps, offer, reply });
        answer
    }
}

struct Relay {
    socket: Arc<UdpSocket>,
    /// The addresses announced as ICE candidates.
    announced: Vec<SocketAddr>,
    max_slots: usize,
    /// Who protects and sends forwarded audio (`voice.egress`).
    egress: VoiceEgress,
    peers: HashMap<PeerKey, Peer>,
    /// Known remote address → peer, learned from the first datagram a peer accepted.
    by_addr: HashMap<SocketAddr, PeerKey>,
    /// The relay's ICE ufrag of each session → peer: a check from a new address names it,
    /// so finding its peer is one lookup, not a try of every session (review L5.2).
    by_ufrag: HashMap<String, PeerKey>,
    rooms: HashMap<i64, SpeakerSelector>,
    /// Each room's peers, so a frame and a re-ranking visit one room, not every peer.
    members: HashMap<i64, Vec<PeerKey>>,
    /// The sessions' deadlines, soonest first, so a loop iteration does not scan every
    /// peer for the next wake-up. An entry is stale once `scheduled` holds another time
    /// for its peer (the deadline moved); stale entries are dropped when they surface.
    timers: BinaryHeap<Reverse<(Instant, PeerKey)>>,
    scheduled: HashMap<PeerKey, Instant>,
    /// Sessions seen ending, to be removed.
    dead: Vec<PeerKey>,
    metrics: Arc<Metrics>,
    outputs: Vec<PeerOutput>,
    /// Where the sessions' outputs go; a field of its own so it can take them while the
    /// sessions are borrowed.
    out: Outbox,
    forwards: VecDeque<Incoming>,
    due: Vec<PeerKey>,
    slot_changes: Vec<(usize, Option<PeerKey>)>,
    /// Plain STUN answers to unknown addresses, per source network.
    stun_limiter: StunLimiter,
}

/// Pause before a failed relay starts again, so a failure that repeats at once does not
/// spin a core.
const RESTART_PAUSE: Duration = Duration::from_millis(200);

/// Starts the relay on `socket`; announced addresses are what clients are told to send to.
/// The relay runs supervised: if its task panics (a bug), the sessions it held are
/// reported lost, the failure is logged and counted, and a fresh relay takes over the
/// same socket and command channel (security review L5.4).
pub fn spawn(
    socket: UdpSocket,
    announced: Vec<SocketAddr>,
    max_slots: usize,
    egress: VoiceEgress,
    metrics: Arc<Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<(RelayHandle, mpsc::UnboundedReceiver<RelayEvent>)> {
    let local_addr = socket.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let (events, events_rx) = mpsc::unbounded_channel();
    let socket = Arc::new(socket);
    tokio::spawn(supervise(socket, announced, max_slots, egress, metrics, events, rx, shutdown));
    Ok((RelayHandle { tx, local_addr }, events_rx))
}

#[allow(clippy::too_many_arguments)]
async fn supervise(
    socket: Arc<UdpSocket>,
    announced: Vec<SocketAddr>,
    max_slots: usize,
    egress: VoiceEgress,
    metrics: Arc<Metrics>,
    events: mpsc::UnboundedSender<RelayEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let out = Outbox {
            events: events.clone(),
            egress: Egress::default(),
            socket: socket.clone(),
            metrics: metrics.clone(),
        };
        let mut relay = Relay {
            socket: socket.clone(),
            announced: announced.clone(),
            max_slots,
            egress,
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            rooms: HashMap::new(),
            members: HashMap::new(),
            timers: BinaryHeap::new(),
            scheduled: HashMap::new(),
            dead: Vec::new(),
            metrics: metrics.clone(),
            outputs: Vec::new(),
            out,
            forwards: VecDeque::new(),
            due: Vec::new(),
            slot_changes: Vec::new(),
            stun_limiter: StunLimiter::new(Instant::now()),
        };
        // The relay's state is only read again to learn which sessions it held.
        let run = std::panic::AssertUnwindSafe(relay.run(&mut commands, &shutdown));
        if run.catch_unwind().await.is_ok() {
            return;
        }
        metrics.voice_relay_restarts.inc();
        let lost: Vec<PeerKey> = relay.peers.keys().copied().collect();
        tracing::error!(sessions = lost.len(), "voice relay failed; restarting it, its calls end");
        for key in lost {
            let _ = events.send(RelayEvent::Lost(key));
        }
        relay.peers.clear();
        relay.rooms.clear();
        relay.members.clear();
        relay.update_gauges();
        drop(relay);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RESTART_PAUSE) => {}
        }
    }
}

/// Where the sessions' outputs go: datagrams to the send batch (a frame's copies leave in
/// batches of up to `egress::BATCH`), news to the voice service.
struct Outbox {
    events: mpsc::UnboundedSender<RelayEvent>,
    egress: Egress,
    socket: Arc<UdpSocket>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// Acts on one output of `key`'s session; media comes back for forwarding.
    fn handle(&mut self, key: PeerKey, output: PeerOutput) -> Option<Incoming> {
        let event = match output {
            PeerOutput::Transmit(t) => {
                self.egress.push(t);
                // A big room's first listeners need not wait for its last.
                if self.egress.len() >= egress::BATCH {
                    self.flush();
                }
                return None;
            }
            PeerOutput::Media(frame) => return Some(frame),
            PeerOutput::Withheld => {
                self.metrics.voice_drop("unconsented");
                return None;
            }
            PeerOutput::Dropped(reason) => {
                self.metrics.voice_drop(reason);
                return None;
            }
            PeerOutput::Connected => RelayEvent::Connected(key),
            PeerOutput::Disconnected => RelayEvent::Disconnected(key),
            PeerOutput::Stats { loss, jitter_ms, rtt_ms } => {
                RelayEvent::Stats { peer: key, loss, jitter_ms, rtt_ms }
            }
        };
        let _ = self.events.send(event);
        None
    }

    fn flush(&mut self) {
        if self.egress.is_empty() {
            return;
        }
        let flushed = self.egress.flush(&self.socket);
        self.metrics.voice_packets_out.inc_by(flushed.sent);
        self.metrics.voice_bytes_out.inc_by(flushed.bytes);
        self.metrics.voice_send_failures.inc_by(flushed.failed);
    }
}

impl Relay {
    async fn run(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        shutdown: &tokio_util::sync::CancellationToken,
    ) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut next_select = Instant::now();
        loop {
            let now = Instant::now();
            let wake = self
                .timers
                .peek()
                .map_or(now + Duration::from_millis(100), |Reverse((t, _))| *t)
                .min(next_select);
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(wake.max(now)));
            tokio::select! {
                () = shutdown.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, source)) = received {
                        self.handle_datagram(source, &buf[..n]);
                        // Drain what else is queued without going back through select.
                        for _ in 0..BURST {
                            match self.socket.try_recv_from(&mut buf) {
                                Ok((n, source)) => self.handle_datagram(source, &buf[..n]),
                                Err(_) => break,
                            }
                        }
                    }
                }
                () = sleep => {}
            }
            let now = Instant::now();
            if now >= next_select {
                self.select_speakers(now);
                // Sessions end inside their own polling, where `schedule` sees it; a full
                // look this often (not every iteration) is only a safety net.
                self.reap_all();
                next_select = now + SELECT_EVERY;
            }
            let mut due = std::mem::take(&mut self.due);
            while let Some(Reverse((t, key))) = self.timers.peek().copied()
                && t <= now
            {
                self.timers.pop();
                if self.scheduled.get(&key) == Some(&t) {
                    self.scheduled.remove(&key);
                    due.push(key);
                }
            }
            for key in due.drain(..) {
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.handle_timeout(now);
                }
                self.drive(key, now);
            }
            self.due = due;
            self.reap();
        }
        for peer in self.peers.values_mut() {
            peer.disconnect();
        }
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Open { peer, room, flags, bitrate_kbps, offer, reply } => {
                if let Some(mut old) = self.peers.remove(&peer) {
                    old.disconnect();
                    self.forget(peer, old.room);
                }
                let (announced, slots) = (&self.announced, self.max_slots);
                let result = Peer::accept(
                    now,
                    peer,
                    room,
                    flags,
                    &offer,
                    announced,
                    slots,
                    bitrate_kbps,
                    self.egress,
                );
                let answer = result.map(|(session, answer)| {
                    self.by_ufrag.insert(session.local_ufrag().to_owned(), peer);
                    self.peers.insert(peer, session);
                    self.members.entry(room).or_default().push(peer);
                    self.rooms
                        .entry(room)
                        .or_insert_with(|| SpeakerSelector::new(self.max_slots + 1));
                    self.update_gauges();
                    answer
                });
                let _ = reply.send(answer);
                self.drive(peer, now);
            }
            Command::SetFlags { peer, flags } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.flags = flags;
                    if !flags.forward
                        && let Some(room) = self.rooms.get_mut(&p.room)
                    {
                        // A muted speaker gives up their slots at once.
                        room.remove(peer);
                    }
                }
            }
            Command::Move { peer, room, bitrate_kbps } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.ingress.set_bitrate(now, bitrate_kbps);
                }
                let Some(old_room) = self.peers.get(&peer).map(|p| p.room) else { return };
                if old_room == room {
                    return;
                }
                self.forget(peer, old_room);
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.room = room;
                    self.members.entry(room).or_default().push(peer);
                }
                self.rooms.entry(room).or_insert_with(|| SpeakerSelector::new(self.max_slots + 1));
                self.select_speakers(now);
            }
            Command::Close { peer } => {
                if let Some(mut p) = self.peers.remove(&peer) {
                    p.disconnect();
                    self.forget(peer, p.room);
                }
            }
            #[cfg(test)]
            Command::Panic => panic!("relay failure requested by a test"),
        }
    }

    /// Removes a peer from a room's ranking and from every listener's slots.
    fn forget(&mut self, key: PeerKey, room: i64) {
        self.by_addr.retain(|_, k| *k != key);
        self.by_ufrag.retain(|_, k| *k != key);
        if let Some(selector) = self.rooms.get_mut(&room) {
            selector.remove(key);
        }
        let members = self.members.entry(room).or_default();
        members.retain(|k| *k != key);
        let empty = members.is_empty();
        // Only the room's listeners can have had them on a slot: slots follow the room's
        // own ranking.
        for k in members {
            let Some(listener) = self.peers.get_mut(k) else { continue };
            if let Some(slot) = listener.slots.remove(key) {
                let _ = self.out.events.send(RelayEvent::Slot {
                    listener: listener.key,
                    slot,
                    speaker: None,
                });
            }
            // Their own slots die with them; nothing to tell.
        }
        if empty {
            self.members.remove(&room);
            self.rooms.remove(&room);
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        self.metrics.voice_peers.set(self.peers.len() as i64);
        self.metrics.voice_rooms.set(self.rooms.len() as i64);
    }

    fn handle_datagram(&mut self, source: SocketAddr, data: &[u8]) {
        let now = Instant::now();
        self.metrics.voice_packets_in.inc();
        self.metrics.voice_bytes_in.inc_by(data.len() as u64);
        let known = self.by_addr.get(&source).copied();
        // Plain STUN (no credentials: not a peer's ICE check) for address discovery,
        // bounded per source network so the port cannot be used to reflect a flood at a
        // forged address, and one sender cannot use up everyone's answers.
        if known.is_none()
            && let Some(response) = super::stun::binding_response(data, source)
        {
            if self.stun_limiter.admit(now, source) {
                let _ = self.socket.try_send_to(&response, source);
            } else {
                self.metrics.voice_drop("stun_limit");
            }
            return;
        }
        let Ok(contents) = data.try_into() else {
            self.metrics.voice_packets_dropped.inc();
            return;
        };
        let destination = self.destination_for(source);
        let input =
            Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        let key = match known {
            Some(key) => key,
            // A new address: only an ICE check naming a session's ufrag can introduce it
            // (accepts() then checks its integrity), so junk costs one parse.
            None => match self.peer_named_by(data) {
                Some(key) => key,
                None => {
                    self.metrics.voice_packets_dropped.inc();
                    self.metrics.voice_drop("unknown_source");
                    return;
                }
            },
        };
        let Some(peer) = self.peers.get_mut(&key) else { return };
        if known.is_none() {
            if !peer.accepts(&input) {
                self.metrics.voice_packets_dropped.inc();
                self.metrics.voice_drop("unknown_source");
                return;
            }
            match peer.admit_address(source) {
                Ok(evicted) => {
                    if let Some(old) = evicted {
                        self.by_addr.remove(&old);
                    }
                    self.by_addr.insert(source, key);
                }
                Err(_) => {
                    self.metrics.voice_drop("address_limit");
                    return;
                }
            }
        } else if !peer.ingress.admit(now, data.len()) {
            // Over the peer's packet or byte budget: dropped before any decryption.
            self.metrics.voice_drop("rate");
            return;
        }
        // An answer to one of the relay's own consent checks is the relay's, not str0m's.
        if super::stun::is_success_response(data) && peer.handle_consent_response(source, data) {
            self.drive(key, now);
            return;
        }
        if peer.handle_input(input).is_err() {
            self.metrics.voice_drop("bad_input");
        }
        self.drive(key, now);
    }

    /// The peer whose session an ICE check names (USERNAME `relay-ufrag:client-ufrag`).
    fn peer_named_by(&self, data: &[u8]) -> Option<PeerKey> {
        // RFC 7983: STUN starts with 0-3; anything else from a new address is not a check.
        if data.first().is_none_or(|b| *b > 3) {
            return None;
        }
        let message = StunMessage::parse(data).ok()?;
        if !message.is_binding_request() {
            return None;
        }
        let (ours, _) = message.split_username()?;
        self.by_ufrag.get(ours).copied()
    }

    /// The local address a datagram arrived at, as str0m wants it: the announced address
    /// of the sender's family (a wildcard socket cannot tell which local address it was).
    fn destination_for(&self, source: SocketAddr) -> SocketAddr {
        self.announced
            .iter()
            .find(|a| a.is_ipv4() == source.is_ipv4())
            .copied()
            .unwrap_or_else(|| self.socket.local_addr().unwrap_or(source))
    }

    /// Polls one peer until it sleeps, sends its datagrams, and forwards its media to the
    /// other peers of its room. Runs for every datagram: its buffers are the relay's,
    /// reused, so the packet path allocates per kernel call at most, not per packet.
    fn drive(&mut self, key: PeerKey, now: Instant) {
        let mut outputs = std::mem::take(&mut self.outputs);
        let mut frames = std::mem::take(&mut self.forwards);
        if let Some(peer) = self.peers.get_mut(&key) {
            peer.poll(now, &mut outputs);
            schedule(&mut self.timers, &mut self.scheduled, &mut self.dead, peer);
        }
        for output in outputs.drain(..) {
            frames.extend(self.out.handle(key, output));
        }
        // A listener's poll yields datagrams and stats; media only comes from a session
        // that was given a datagram. Bounded all the same, in case that ever changes.
        let mut handled = 0;
        while let Some(frame) = frames.pop_front() {
            handled += 1;
            if let Some(selector) = self.rooms.get_mut(&frame.room) {
                selector.handle_level(now, frame.source, frame.level, frame.voice);
                // Someone starting to talk is ranked now, not at the next round: their first
                // words would otherwise be dropped for up to a round (onsets carry the
                // consonants that make speech intelligible).
                if frame.voice && !selector.is_selected(frame.source) {
                    let selected = selector.poll_selection(now).to_vec();
                    let members = self.members.get(&frame.room).map_or(&[][..], Vec::as_slice);
                    assign_slots(
                        &mut self.peers,
                        &mut self.slot_changes,
                        &self.out.events,
                        members,
                        &selected,
                    );
                }
            }
            let mut heard = false;
            let members = self.members.get(&frame.room).map_or(&[][..], Vec::as_slice);
            for k in members {
                let Some(listener) = self.peers.get_mut(k) else { continue };
                if listener.key == frame.source {
                    continue;
                }
                if self.egress == VoiceEgress::Own {
                    match listener.forward_own(now, &frame, &mut self.out.egress) {
                        Forwarded::Sent => {
                            heard = true;
                            if self.out.egress.len() >= egress::BATCH {
                                self.out.flush();
                            }
                        }
                        Forwarded::No => {}
                        Forwarded::Dropped(reason) => self.metrics.voice_drop(reason),
                    }
                    continue;
                }
                // Sent right away, listener by listener: str0m releases a written packet
                // at its next timeout handling, which `send_now` runs.
                if !listener.handle_forward(now, &frame) {
                    continue;
                }
                heard = true;
                listener.send_now(now, &mut outputs);
                schedule(&mut self.timers, &mut self.scheduled, &mut self.dead, listener);
                for output in outputs.drain(..) {
                    let Some(media) = self.out.handle(listener.key, output) else { continue };
                    if handled + frames.len() < MAX_CASCADE {
                        frames.push_back(media);
                    } else {
                        self.metrics.voice_packets_dropped.inc();
                    }
                }
            }
            // Measured after the last copy is handed to the kernel, and only for frames
            // someone receives: a speaker nobody hears would pull the figure towards zero.
            self.out.flush();
            if heard {
                let delay = Instant::now().duration_since(frame.network_time);
                self.metrics.voice_forward_delay.observe(delay.as_secs_f64());
            }
        }
        self.out.flush();
        self.outputs = outputs;
        self.forwards = frames;
    }

    /// Re-ranks every room's speakers and moves listeners' slots to follow; also turns
    /// voice activity into speaking indicators.
    fn select_speakers(&mut self, now: Instant) {
        for (room, selector) in &mut self.rooms {
            let selected = selector.poll_selection(now).to_vec();
            let members = self.members.get(room).map_or(&[][..], Vec::as_slice);
            assign_slots(
                &mut self.peers,
                &mut self.slot_changes,
                &self.out.events,
                members,
                &selected,
            );
        }
        for peer in self.peers.values_mut() {
            if let Some(speaking) = peer.poll_speaking(now) {
                let _ = self.out.events.send(RelayEvent::Speaking { peer: peer.key, speaking });
            }
        }
    }

    /// Drops peers whose sessions ended (ICE timeout, DTLS failure, bad input).
    fn reap(&mut self) {
        let mut dead = std::mem::take(&mut self.dead);
        // The peer's own poll already reported the disconnect when its session died.
        for key in dead.drain(..) {
            if let Some(room) = self.peers.get(&key).filter(|p| !p.is_alive()).map(|p| p.room) {
                self.peers.remove(&key);
                self.forget(key, room);
            }
        }
        self.dead = dead;
    }

    /// Reaps every ended session, not only those seen ending: a safety net, run rarely.
    fn reap_all(&mut self) {
        self.dead.extend(self.peers.values().filter(|p| !p.is_alive()).map(|p| p.key));
        self.reap();
    }
}

/// Queues `peer`'s deadline if it moved since it was last queued; an ended session is
/// queued for reaping instead (its deadline no longer moves).
fn schedule(
    timers: &mut BinaryHeap<Reverse<(Instant, PeerKey)>>,
    scheduled: &mut HashMap<PeerKey, Instant>,
    dead: &mut Vec<PeerKey>,
    peer: &Peer,
) {
    if !peer.is_alive() {
        dead.push(peer.key);
        return;
    }
    let t = peer.next_timeout();
    if scheduled.insert(peer.key, t) != Some(t) {
        timers.push(Reverse((t, peer.key)));
    }
}

/// Puts a room's selected speakers on its listeners' (`members`) slots and tells each
/// listener what changed.
fn assign_slots(
    peers: &mut HashMap<PeerKey, Peer>,
    changes: &mut Vec<(usize, Option<PeerKey>)>,
    events: &mpsc::UnboundedSender<RelayEvent>,
    members: &[PeerKey],
    selected: &[PeerKey],
) {
    for key in members {
        let Some(listener) = peers.get_mut(key) else { continue };
        changes.clear();
        listener.slots.assign(listener.key, selected, changes);
        for (slot, speaker) in changes.drain(..) {
            let _ = events.send(RelayEvent::Slot { listener: listener.key, slot, speaker });
        }
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
