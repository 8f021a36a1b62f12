//! One participant's WebRTC session inside the relay: str0m's sans-IO `Rtc` plus what the
//! relay knows about it (room, mute flags, receive slots). No sockets here: the relay
//! feeds datagrams and time in and takes datagrams and media out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::format::PayloadParams;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Transmit};
use str0m::rtp::rtcp::Rtcp;
use str0m::rtp::{Extension, ExtensionValues, RawPacket, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use super::consent::{Consent, Credentials, Route};
use super::dtls_tap::{self, KeyTap};
use super::egress::Egress;
use super::ingress::PeerIngress;
use super::protection::{self, Copies, History, LossEstimate, Variants};
use super::slot_sender::{NotSent, SlotPacket, SlotSender};
use super::slots::{PeerKey, SlotMap, SlotTimeline};
use crate::config::VoiceEgress;

/// Longest an `Rtc` may ask to sleep; bounds how late a peer notices anything.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// A speaker counts as speaking until this long after their last voiced packet.
const SPEAKING_HANGOVER: Duration = Duration::from_millis(300);
/// Level assumed for packets without the RFC 6464 extension: quiet but audible speech
/// when the packet is larger than Opus's DTX comfort frames, silence otherwise.
const ASSUMED_SPEECH_DB: f32 = -45.0;
const DTX_FRAME_MAX_BYTES: usize = 3;
/// A packet counts as voice only when louder than this, whatever its RFC 6464 V bit says:
/// libwebrtc (every browser) sets V on each packet that is not comfort noise, so without
/// DTX a silent browser microphone says "voice" at -127 dBov on every packet
/// (e2e/tests/browser_voice.rs), which lit its speaking indicator and held a receive slot
/// for silence. Speech sits around -20 to -45 dBov; a quiet room without noise
/// suppression can reach -60, so that is where the floor goes.
const VOICE_FLOOR_DB: f32 = -60.0;
/// The level a packet must reach to count as voice when its sender's V bit cannot be read
/// (it never set it): speech sits around -20 to -45 dBov, a silent microphone's hiss below.
const UNTRUSTED_VOICE_FLOOR_DB: f32 = -45.0;

/// What the relay does with a peer's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerFlags {
    /// Forward their audio to others (false: muted by themselves, a moderator or a
    /// missing SPEAK permission).
    pub forward: bool,
    /// Send them others' audio (false: deafened).
    pub receive: bool,
}

/// A packet of audio received from one peer, to be forwarded to others.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub source: PeerKey,
    pub room: i64,
    pub params: PayloadParams,
    /// Extended (64-bit) RTP sequence number and timestamp in the sender's timeline.
    pub seq: u64,
    pub time: u64,
    pub network_time: Instant,
    pub level: f32,
    pub voice: bool,
    /// The Opus frame (unwrapped, if it came as RED).
    pub data: Arc<[u8]>,
    /// The speaker's frames just before this one, for listeners that need copies.
    pub copies: Copies,
    /// Copies every RED listener gets with this frame: the frames its copies recovered,
    /// which no listener has had (see [`protection::Recovered`]).
    pub repair_depth: usize,
    /// The speaker's recent loss on its way up to us (0–1).
    pub upstream_loss: f32,
    /// The RED payloads written for listeners so far.
    pub variants: Variants,
}

/// Something a peer's session produced for the relay.
#[derive(Debug)]
pub enum PeerOutput {
    Transmit(Transmit),
    /// A datagram held back: its address has not answered a consent check (see
    /// [`super::consent`]).
    Withheld,
    /// A datagram dropped for the reason given (a drop counter label).
    Dropped(&'static str),
    Media(Incoming),
    Connected,
    Disconnected,
    /// Loss and jitter the peer's receiver reports for our stream to it, and ours of theirs.
    Stats {
        loss: Option<f32>,
        jitter_ms: Option<f32>,
        rtt_ms: Option<f32>,
    },
}

pub struct Peer {
    pub key: PeerKey,
    pub room: i64,
    pub flags: PeerFlags,
    rtc: Rtc,
    /// Audio m-lines we may send on, in offer order: receive slot i is `slot_mids[i]`.
    slot_mids: Vec<Mid>,
    pub slots: SlotMap,
    timelines: Vec<SlotTimeline>,
    /// Slots whose send stream is set up for forwarding (see `handle_forward`).
    slot_ready: Vec<bool>,
    connected: bool,
    next_timeout: Instant,
    pub speaking: bool,
    last_voice: Option<Instant>,
    /// Where this session's datagrams may go; str0m's choice is only a proposal.
    consent: Consent,
    /// Our address as the session knows it, for the consent checks' `Transmit`.
    local: SocketAddr,
    /// What this peer may send us a second (see [`super::ingress`]).
    pub(super) ingress: PeerIngress,
    /// Source addresses the relay maps to this peer now, oldest first.
    addresses: Vec<SocketAddr>,
    /// This peer's last frames as a speaker, for copies (see [`super::protection`]).
    history: History,
    /// Its loss on the way up to us, and on the way down from us.
    upstream_loss: LossEstimate,
    downstream_loss: LossEstimate,
    /// Whether this sender's RFC 6464 V bit means anything: some senders (aiortc) send
    /// V=0 on every packet, and a sender never ranked as voice is never heard.
    voice_bit_varies: bool,
    /// Frames its copies recovered on the way up, and copies sent to it.
    pub recovered_up: u64,
    pub copies_sent: u64,
    /// Distinct source addresses this session ever used.
    addresses_seen: usize,
    /// The relay's own sending on the slot streams (`voice.egress = "own"`), else str0m's.
    own: Option<SlotSender>,
    /// Where str0m last addressed the session's datagrams: its nominated pair, which the
    /// relay's own packets follow (through consent) as ICE moves it.
    proposed: Option<SocketAddr>,
}

/// What [`Peer::forward_own`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// The listener does not hear this speaker now.
    No,
    Sent,
    /// Dropped for the reason given (a drop counter label).
    Dropped(&'static str),
}

/// Source addresses mapped to one peer at a time: a host, a server-reflexive and a relay
/// address and one spare. Each one is a candidate (and pairs) inside str0m too, so a peer
/// sending checks from ever new ports must not grow them (security review L4).
const MAX_LIVE_ADDRESSES: usize = 4;
/// Distinct source addresses one session may ever use. A client that changes networks
/// more often than this makes a new offer (a new session) anyway.
const MAX_SESSION_ADDRESSES: usize = 16;

/// Why a new source address was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRefused {
    TooMany,
}

impl Peer {
    /// Answers the client's offer. `local` is the relay's address as announced to ICE;
    /// `max_slots` caps the receive slots whatever the offer asks for; `bitrate_kbps`
    /// (the channel's) sets the peer's ingress budget.
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        now: Instant,
        key: PeerKey,
        room: i64,
        flags: PeerFlags,
        offer: &str,
        local: &[SocketAddr],
        max_slots: usize,
        bitrate_kbps: u32,
        egress: VoiceEgress,
    ) -> Result<(Self, String), String> {
        let config = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            // With RFC 2198 RED as Chromium offers it: see `super::protection`.
            .enable_opus(true, true)
            // RTP mode: packets are forwarded one by one as they arrive (every receiver has
            // its own jitter buffer; reordering here would add delay for everyone), and we
            // choose the outgoing sequence numbers, so a packet lost on the way in leaves a
            // gap on the way out. Receivers then know it is lost and recover it from the
            // next packet's in-band FEC instead of concealing it.
            .set_rtp_mode(true)
            // Audio level (with the voice bit) ranks speakers; MID routes packets. Nothing
            // else: transport-wide congestion control (TWCC) would make every listener send
            // feedback that the relay parses and never uses (voice needs no bandwidth
            // estimate), about 40 % of the datagrams it received under load, and
            // absolute send time and stream ids are for video.
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid)
            .set_stats_interval(Some(Duration::from_secs(1)))
            // Our receiver reports tell a speaker its loss on the way up, which sizes its
            // copies; str0m's 5 s default for audio leaves the start of a call unprotected.
            .set_rtcp_report_interval_audio(Duration::from_secs(1));
        // With the relay's own egress, the session's SRTP keys are tapped on their way
        // from DTLS to str0m (see `dtls_tap`).
        let tap = (egress == VoiceEgress::Own).then(|| Arc::new(KeyTap::default()));
        // str0m reports a send stream's loss (MediaEgressStats) only for streams it sent
        // on, and with our own egress it sends on none: the listener's receiver reports are
        // read from str0m's decrypted RTCP instead. That also copies each received RTP
        // packet once (a speaker's 50 a second), small beside the copies we forward.
        let config = config.enable_raw_packets(tap.is_some());
        let mut rtc = match &tap {
            Some(tap) => dtls_tap::build_tapped(config, now, tap),
            None => config.build(now),
        };
        for addr in local {
            let candidate =
                Candidate::host(*addr, "udp").map_err(|e| format!("bad local address: {e}"))?;
            rtc.add_local_candidate(candidate);
        }
        let offer_text = offer;
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| format!("bad SDP offer: {e}"))?;
        let answer =
            rtc.sdp_api().accept_offer(offer).map_err(|e| format!("offer not acceptable: {e}"))?;
        let answer_text = repeat_candidates(&answer.to_sdp_string());
        let creds = Credentials::from_sdp(offer_text, &answer_text)
            .ok_or_else(|| "the offer has no ICE credentials".to_owned())?;
        let local_addr = *local.first().ok_or_else(|| "no local address".to_owned())?;
        let mut peer = Self {
            key,
            room,
            flags,
            rtc,
            slot_mids: Vec::new(),
            slots: SlotMap::new(0),
            timelines: Vec::new(),
            slot_ready: Vec::new(),
            connected: false,
            next_timeout: now,
            speaking: false,
            last_voice: None,
            consent: Consent::new(creds),
            local: local_addr,
            ingress: PeerIngress::new(now, bitrate_kbps),
            addresses: Vec::new(),
            addresses_seen: 0,
            history: History::default(),
            upstream_loss: LossEstimate::default(),
            downstream_loss: LossEstimate::default(),
            voice_bit_varies: false,
            recovered_up: 0,
            copies_sent: 0,
            own: None,
            proposed: None,
        };
        // Media lines in offer order, which is what makes a slot number meaningful.
        let mids: Vec<Mid> = answer.media_lines.iter().map(|line| line.mid()).collect();
        peer.collect_slots(&mids, max_slots);
        if let Some(tap) = tap {
            let mut own = SlotSender::new(tap, peer.slot_mids.len());
            // The ids the listener's offer chose, which is how it reads our packets.
            if let Some(media) = peer.slot_mids.first().and_then(|mid| peer.rtc.media(*mid)) {
                let map = media.remote_extmap();
                own.set_extensions(map.id_of(Extension::AudioLevel), map.id_of(Extension::RtpMid));
            }
            peer.own = Some(own);
        }
        Ok((peer, answer_text))
    }

    /// The audio m-lines we can send on become the receive slots, in offer order.
    fn collect_slots(&mut self, all: &[Mid], max_slots: usize) {
        let mut mids: Vec<Mid> = Vec::new();
        for &mid in all {
            if let Some(media) = self.rtc.media(mid)
                && media.kind() == MediaKind::Audio
                && matches!(media.direction(), Direction::SendRecv | Direction::SendOnly)
                && mids.len() < max_slots
            {
                mids.push(mid);
            }
        }
        self.slots = SlotMap::new(mids.len());
        self.timelines = vec![SlotTimeline::default(); mids.len()];
        self.slot_ready = vec![false; mids.len()];
        self.slot_mids = mids;
    }

    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    pub fn accepts(&self, input: &Input<'_>) -> bool {
        self.rtc.accepts(input)
    }

    pub fn next_timeout(&self) -> Instant {
        self.next_timeout
    }

    /// Feeds a datagram or the time to the session. A datagram str0m refuses (a malformed
    /// DTLS record, say) is dropped and reported, and the session goes on: anyone who
    /// knows a participant's address can send one, so it must not end their call
    /// (security review L5.3). A session that really failed ends by str0m's own account
    /// (`is_alive`), or by ICE timing out.
    pub fn handle_input(&mut self, input: Input<'_>) -> Result<(), str0m::RtcError> {
        self.rtc.handle_input(input).inspect_err(|e| {
            tracing::debug!(peer = self.key, error = %e, "voice peer input refused");
        })
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_timeout {
            let _ = self.handle_input(Input::Timeout(now));
        }
    }

    /// The relay's ICE ufrag of this session, which the client's checks name.
    pub fn local_ufrag(&self) -> &str {
        self.consent.local_ufrag()
    }

    /// Maps a new source address to this peer, within the bounds above; returns the
    /// address that made room for it, if one had to. The address media goes to is never
    /// the one to go.
    pub fn admit_address(
        &mut self,
        source: SocketAddr,
    ) -> Result<Option<SocketAddr>, AddressRefused> {
        if self.addresses.contains(&source) {
            return Ok(None);
        }
        if self.addresses_seen >= MAX_SESSION_ADDRESSES {
            return Err(AddressRefused::TooMany);
        }
        let mut evicted = None;
        if self.addresses.len() >= MAX_LIVE_ADDRESSES {
            let keep = self.consent.confirmed();
            let Some(i) = self.addresses.iter().position(|a| Some(*a) != keep) else {
                return Err(AddressRefused::TooMany);
            };
            evicted = Some(self.addresses.remove(i));
        }
        self.addresses.push(source);
        self.addresses_seen += 1;
        Ok(evicted)
    }

    /// Drains everything the session has to say until it asks to sleep.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<PeerOutput>) {
        loop {
            if !self.rtc.is_alive() {
                if self.connected {
                    self.connected = false;
                    out.push(PeerOutput::Disconnected);
                }
                return;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    while let Some((destination, contents)) = self.consent.poll_probe(now) {
                        out.push(PeerOutput::Transmit(Transmit {
                            proto: Protocol::Udp,
                            source: self.local,
                            destination,
                            contents: contents.into(),
                        }));
                    }
                    let consent = self.consent.next_timeout().unwrap_or(t);
                    self.next_timeout = t.min(consent).min(now + MAX_SLEEP);
                    return;
                }
                Ok(Output::Transmit(t)) => self.route(now, t, out),
                Ok(Output::Event(event)) => self.handle_event(event, out),
                Err(e) => {
                    tracing::debug!(peer = self.key, error = %e, "voice peer failed");
                    self.rtc.disconnect();
                }
            }
        }
    }

    /// Sends a datagram of the session where consent allows: STUN answers go back to
    /// whoever asked (as small as the question), everything else only to a confirmed
    /// address (see [`super::consent`]).
    fn route(&mut self, now: Instant, mut t: Transmit, out: &mut Vec<PeerOutput>) {
        // RFC 7983: a first byte of 0-3 is STUN.
        if t.contents.first().is_some_and(|b| *b < 4) {
            out.push(PeerOutput::Transmit(t));
            return;
        }
        // Before the session is connected nothing it sends can be media (it has no SRTP
        // keys yet); after, DTLS (RFC 7983: 20-63) is still handshake (its last flight).
        let handshake =
            !self.connected || t.contents.first().is_some_and(|b| (20..=63).contains(b));
        if let Some(own) = &self.own
            && own.is_slot_packet(&t.contents)
        {
            // The relay numbers the slot streams' packets itself: one from str0m would
            // reuse an SRTP nonce (the same key, SSRC and index), which breaks the
            // cipher. Never sent; a bug if it happens.
            debug_assert!(false, "str0m sent RTP on a slot stream");
            tracing::error!(peer = self.key, "str0m sent RTP on a relay slot stream; dropped");
            out.push(PeerOutput::Dropped("slot_stream_collision"));
            return;
        }
        self.proposed = Some(t.destination);
        match self.consent.route(now, t.destination, handshake, t.contents.len()) {
            Route::To(destination) => {
                t.destination = destination;
                out.push(PeerOutput::Transmit(t));
            }
            Route::Drop => out.push(PeerOutput::Withheld),
        }
    }

    /// A STUN response from `source`: true when it answered one of our consent checks
    /// (and so was ours, not the session's).
    pub fn handle_consent_response(&mut self, source: SocketAddr, data: &[u8]) -> bool {
        self.consent.handle_response(source, data)
    }

    /// The address the peer's media goes to, once one answered a consent check.
    pub fn media_address(&self) -> Option<SocketAddr> {
        self.consent.confirmed()
    }

    fn handle_event(&mut self, event: Event, out: &mut Vec<PeerOutput>) {
        match event {
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.rtc.disconnect();
            }
            Event::Connected => {
                self.connected = true;
                self.consent.handle_connected();
                self.register_slot_streams();
                out.push(PeerOutput::Connected);
            }
            Event::RtpPacket(packet) => {
                if !self.flags.forward {
                    return;
                }
                let pt = packet.header.payload_type;
                let Some(params) =
                    self.rtc.codec_config().find(|p| p.pt() == pt || p.red() == Some(pt)).copied()
                else {
                    return;
                };
                let opus_pt = *params.pt();
                let (data, red) = if params.red() == Some(pt) {
                    // A malformed RED payload is dropped like a corrupt packet.
                    let Some(red) = auraspeak_shared::red::parse(&packet.payload) else { return };
                    if red.primary_pt != opus_pt {
                        return;
                    }
                    (Arc::from(red.primary), red.redundant)
                } else {
                    (packet.payload.clone(), Vec::new())
                };
                let seq = *packet.seq_no;
                let time = packet.time.numer();
                let (copies, recovered) = self.history.handle(seq, time, &data, &red, opus_pt);
                self.recovered_up += recovered.frames as u64;
                let ext = &packet.header.ext_vals;
                if ext.voice_activity == Some(true) {
                    self.voice_bit_varies = true;
                }
                let (level, voice) = if self.voice_bit_varies {
                    packet_level(ext.audio_level, ext.voice_activity, data.len())
                } else {
                    // No V bit worth reading yet: the packet's size and a level that only
                    // speech reaches (a browser's silent microphone with V=0 stays below).
                    let (level, voice) = packet_level(ext.audio_level, None, data.len());
                    let quiet = ext.audio_level.is_some() && level <= UNTRUSTED_VOICE_FLOOR_DB;
                    (level, voice && !quiet)
                };
                if voice {
                    self.last_voice = Some(packet.timestamp);
                }
                out.push(PeerOutput::Media(Incoming {
                    source: self.key,
                    room: self.room,
                    params,
                    seq,
                    time,
                    network_time: packet.timestamp,
                    level,
                    voice,
                    data,
                    copies,
                    repair_depth: recovered.deepest,
                    upstream_loss: self.upstream_loss.get(),
                    variants: Variants::default(),
                }));
            }
            Event::PeerStats(stats) => {
                // Between the session's own datagrams this is how a move of the nominated
                // pair reaches the relay's own packets.
                if let Some(pair) = &stats.selected_candidate_pair {
                    self.proposed = Some(pair.remote.addr);
                }
                out.push(PeerOutput::Stats {
                    loss: stats.egress_loss_fraction,
                    jitter_ms: None,
                    rtt_ms: stats.rtt.map(|r| r.as_secs_f32() * 1000.0),
                });
            }
            // The listener's receiver reports on our own slot streams (see `new`): the worst
            // slot in a report is what protection must cover.
            Event::RawPacket(raw) => {
                let Some(own) = &self.own else { return };
                let RawPacket::RtcpRx(rtcp) = *raw else { return };
                let reports = match &rtcp {
                    Rtcp::ReceiverReport(rr) => &rr.reports,
                    Rtcp::SenderReport(sr) => &sr.reports,
                    _ => return,
                };
                let worst = reports
                    .iter()
                    .filter(|r| own.carries(*r.ssrc))
                    .map(|r| f32::from(r.fraction_lost) / 255.0)
                    .reduce(f32::max);
                if let Some(loss) = worst {
                    self.downstream_loss.handle_report(loss);
                    out.push(PeerOutput::Stats { loss: Some(loss), jitter_ms: None, rtt_ms: None });
                }
            }
            // Our slot streams to this listener: its receiver reports say what it loses.
            Event::MediaEgressStats(stats) => {
                if let Some(loss) = stats.loss {
                    self.downstream_loss.handle_report(loss);
                    out.push(PeerOutput::Stats {
                        loss: Some(loss),
                        jitter_ms: None,
                        rtt_ms: stats.rtt.map(|r| r.as_secs_f32() * 1000.0),
                    });
                }
            }
            // Its stream to us: what it loses on the way up, which its copies (if it sends
            // any) and ours to listeners make up for.
            Event::MediaIngressStats(stats) => {
                if let Some(loss) = stats.loss {
                    self.upstream_loss.handle_report(loss);
                }
                out.push(PeerOutput::Stats {
                    loss: stats.loss,
                    // RTP timestamp units at Opus's 48 kHz clock.
                    jitter_ms: Some(stats.jitter as f32 / 48.0),
                    rtt_ms: stats.rtt.map(|r| r.as_secs_f32() * 1000.0),
                });
            }
            _ => {}
        }
    }

    /// Whether the speaking indicator changed; `None` when it did not.
    pub fn poll_speaking(&mut self, now: Instant) -> Option<bool> {
        let speaking =
            self.last_voice.is_some_and(|t| now.saturating_duration_since(t) <= SPEAKING_HANGOVER)
                && self.flags.forward;
        (speaking != self.speaking).then(|| {
            self.speaking = speaking;
            speaking
        })
    }

    /// Queues a packet from another peer on the slot that carries that peer, if any, with
    /// the slot's own continuous sequence numbers and timestamps; says whether it did.
    pub fn handle_forward(&mut self, now: Instant, frame: &Incoming) -> bool {
        if !self.connected || !self.flags.receive {
            return false;
        }
        let Some(slot) = self.slots.slot_of(frame.source) else { return false };
        let Some(mid) = self.slot_mids.get(slot).copied() else { return false };
        let Some(params) = self.rtc.codec_config().match_params(frame.params).copied() else {
            return false;
        };
        let rewritten = self.timelines[slot].rewrite(now, frame.source, frame.seq, frame.time);
        let (pt, payload) = self.payload_for(&params, frame, self.timelines[slot].since_seq());
        // The level is passed on so browsers' getStats and our clients can show it.
        let ext = ExtensionValues {
            audio_level: Some(-((-frame.level).clamp(0.0, 127.0) as i8)),
            voice_activity: Some(frame.voice),
            ..ExtensionValues::default()
        };
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else { return false };
        if let Some(ready) = self.slot_ready.get_mut(slot)
            && !*ready
        {
            // No resend cache: nobody NACKs forwarded voice (receivers conceal or use FEC,
            // and a resend would come too late to play), and keeping one costs a copy of
            // every packet per listener.
            stream.set_rtx_cache(0, Duration::ZERO, None);
            *ready = true;
        }
        // Only the low 32 bits of the timestamp go on the wire.
        let write = RtpWrite::new(
            pt,
            SeqNo::from(rewritten.seq),
            rewritten.time as u32,
            frame.network_time,
            payload,
        )
        .marker(rewritten.switched)
        .ext_vals(ext);
        stream.write_rtp(write);
        true
    }

    /// The payload type and payload `frame` goes to this listener with: RED with as many
    /// copies as its path needs (see [`super::protection`]) if it negotiated RED, else the
    /// Opus frame alone. `since_seq` is where its slot switched to this speaker.
    fn payload_for(
        &mut self,
        params: &PayloadParams,
        frame: &Incoming,
        since_seq: u64,
    ) -> (Pt, Arc<[u8]>) {
        let loss = protection::combined_loss(frame.upstream_loss, self.downstream_loss.get());
        let depth = protection::depth_for_loss(loss).max(frame.repair_depth);
        if let Some(red_pt) = params.red()
            && depth > 0
            && let Some(red) = frame.variants.payload(
                &frame.data,
                frame.time,
                &frame.copies,
                depth,
                since_seq,
                *params.pt(),
            )
        {
            self.copies_sent += 1;
            return (red_pt, red);
        }
        (params.pt(), frame.data.clone())
    }

    /// Tells the own egress the SSRC and MID of each slot's send stream.
    fn register_slot_streams(&mut self) {
        let Some(own) = self.own.as_mut() else { return };
        let mut api = self.rtc.direct_api();
        for (slot, mid) in self.slot_mids.iter().enumerate() {
            if let Some(stream) = api.stream_tx_by_mid(*mid, None) {
                own.set_slot(slot, *stream.ssrc(), &mid.to_string());
            }
        }
    }

    /// Writes a packet from another peer on the slot that carries that peer, in the slot's
    /// continuous timeline (as [`Peer::handle_forward`] does), protected with the
    /// session's SRTP keys, into `egress` for the listener's confirmed address. str0m is
    /// not involved: see [`super::slot_sender`].
    pub(super) fn forward_own(
        &mut self,
        now: Instant,
        frame: &Incoming,
        egress: &mut Egress,
    ) -> Forwarded {
        if !self.connected || !self.flags.receive {
            return Forwarded::No;
        }
        let Some(slot) = self.slots.slot_of(frame.source) else { return Forwarded::No };
        if self.own.as_ref().is_some_and(|own| !own.has_slot(slot)) {
            self.register_slot_streams();
        }
        if self.own.is_none() {
            return Forwarded::No;
        }
        let Some(params) = self.rtc.codec_config().match_params(frame.params).copied() else {
            return Forwarded::No;
        };
        let rewritten = self.timelines[slot].rewrite(now, frame.source, frame.seq, frame.time);
        let since_seq = self.timelines[slot].since_seq();
        let (pt, payload) = self.payload_for(&params, frame, since_seq);
        let Some(wanted) = self.proposed.or(self.consent.confirmed()) else {
            return Forwarded::Dropped("unconsented");
        };
        let Route::To(destination) = self.consent.route(now, wanted, false, 0) else {
            return Forwarded::Dropped("unconsented");
        };
        let Some(space) = egress.own_space() else { return Forwarded::Dropped("send_buffer") };
        let Some(own) = self.own.as_mut() else { return Forwarded::No };
        let packet = SlotPacket {
            slot,
            pt: *pt,
            marker: rewritten.switched,
            seq: rewritten.seq,
            // Only the low 32 bits of the timestamp go on the wire.
            time: rewritten.time as u32,
            level: (-frame.level).clamp(0.0, 127.0) as u8,
            voice: frame.voice,
            payload: &payload,
        };
        match own.write(&packet, space) {
            Ok(len) => {
                egress.commit_own(destination, len);
                Forwarded::Sent
            }
            Err(NotSent::NoKeys) => Forwarded::Dropped("srtp_keys"),
            Err(NotSent::Unwritable) => Forwarded::Dropped("srtp_write"),
        }
    }

    /// Runs the session's timeout handling now, whenever it was due, and drains its output:
    /// str0m stamps written packets for sending only there.
    pub fn send_now(&mut self, now: Instant, out: &mut Vec<PeerOutput>) {
        let _ = self.handle_input(Input::Timeout(now));
        self.poll(now, out);
    }

    pub fn disconnect(&mut self) {
        self.rtc.disconnect();
    }
}

/// A packet's level in dBov and whether it carries voice, from its RFC 6464 extension
/// (level and V bit) if the sender attached one, else from its size.
fn packet_level(audio_level: Option<i8>, voice_activity: Option<bool>, len: usize) -> (f32, bool) {
    let level = match audio_level {
        // RFC 6464 carries -dBov; str0m hands it over as a negative dB value.
        Some(l) => -f32::from(l.unsigned_abs()),
        None if len > DTX_FRAME_MAX_BYTES => ASSUMED_SPEECH_DB,
        None => -127.0,
    };
    let voice = voice_activity.unwrap_or(len > DTX_FRAME_MAX_BYTES) && level > VOICE_FLOOR_DB;
    (level, voice)
}

/// The answer with the relay's candidates (and `a=end-of-candidates`) in every m-section,
/// not only the first. RFC 8843 §7.1.3 puts them in the BUNDLE-tagged section alone, but
/// BUNDLE-naive offerers read another (aiortc 1.16 keeps the last section's, finds none,
/// and never sends a check: ../shared/reviews/webrtc-interop.md), and an ICE-lite agent
/// that knows all its candidates should say so (RFC 8838 §13). Bundle-aware stacks
/// (Chromium, str0m) merge the duplicates.
fn repeat_candidates(sdp: &str) -> String {
    let sections: Vec<&str> = sdp.split_inclusive("\r\n").collect();
    let candidates: Vec<&str> = sections
        .iter()
        .copied()
        .skip_while(|l| !l.starts_with("m="))
        .take_while({
            let mut seen_m = false;
            move |l| {
                let first = !seen_m;
                seen_m = true;
                first || !l.starts_with("m=")
            }
        })
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    let mut out = String::with_capacity(sdp.len() * 2);
    let mut in_media = false;
    let mut media_has_candidates = false;
    let finish = |out: &mut String, in_media: bool, has: bool| {
        if in_media {
            if !has {
                candidates.iter().for_each(|c| out.push_str(c));
            }
            out.push_str("a=end-of-candidates\r\n");
        }
    };
    for line in sections {
        if line.starts_with("m=") {
            finish(&mut out, in_media, media_has_candidates);
            in_media = true;
            media_has_candidates = false;
        } else if line.starts_with("a=end-of-candidates") {
            continue;
        } else if line.starts_with("a=candidate:") {
            media_has_candidates = true;
        }
        out.push_str(line);
    }
    finish(&mut out, in_media, media_has_candidates);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_media_section_names_the_candidates_and_says_they_are_all() {
        let sdp = "v=0\r\na=ice-lite\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                   a=candidate:1 1 udp 2130706431 127.0.0.1 7881 typ host\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\n";
        let out = repeat_candidates(sdp);
        let sections: Vec<&str> = out.split("m=").skip(1).collect();
        assert_eq!(sections.len(), 3);
        for section in sections {
            assert_eq!(section.matches("a=candidate:1 1 udp").count(), 1, "{section}");
            assert!(section.ends_with("a=end-of-candidates\r\n"), "{section}");
        }
        assert!(out.starts_with("v=0\r\na=ice-lite\r\n"));
        // Already complete: unchanged.
        assert_eq!(repeat_candidates(&out), out);
    }

    #[test]
    fn voice_needs_the_v_bit_and_a_level_above_silence() {
        // What Chromium sends from a silent microphone: V set, -127 dBov, 35 bytes.
        assert_eq!(packet_level(Some(-127), Some(true), 35), (-127.0, false));
        assert_eq!(packet_level(Some(-24), Some(true), 90), (-24.0, true));
        // Our client clears V when its gate closes, however loud the room.
        assert_eq!(packet_level(Some(-40), Some(false), 60), (-40.0, false));
        // No extension: the size tells an Opus DTX frame from speech.
        assert_eq!(packet_level(None, None, 80), (ASSUMED_SPEECH_DB, true));
        assert_eq!(packet_level(None, None, 3), (-127.0, false));
    }
}
