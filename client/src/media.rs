//! The voice transport: one WebRTC peer connection to the server's media relay, carrying
//! our Opus packets up on the first audio m-line and the relay's receive slots down on all
//! of them (see `shared::v1::voice`). Built on str0m like the relay, so both ends share
//! one stack; [`MediaLink`] is sans-IO (time and datagrams in, datagrams and packets out),
//! and the call driver (`crate::call`) moves it over a UDP socket.
//!
//! Loss protection over WebRTC: Opus in-band FEC in every packet, and, from 6 % loss on our
//! way up (the relay's receiver reports say how much), copies of the last one or two packets
//! as RFC 2198 `audio/red` (offered as Chromium offers it). The relay unwraps or rebuilds
//! the redundancy for each listener by that listener's own loss (see the server's
//! `voice::protection`), so the copies we send protect only our own leg.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, ExtensionValues, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use crate::error::{Error, Result};
use crate::voice::{EncodedPacket, RtpPayloadTypes};

/// Longest the link sleeps without looking at its timers.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// How often str0m reports statistics.
const STATS_INTERVAL: Duration = Duration::from_millis(500);
/// How often we send RTCP sender and receiver reports.
const RTCP_INTERVAL: Duration = Duration::from_millis(500);
/// ICE consent checks: one STUN round trip a second on the nominated pair, and about
/// 4.5 s of unanswered retries before the link counts as lost (str0m's defaults, 3 s and
/// 9 retries, take over 20 s: far too long to sit in a silent call).
const STUN_MAX_RTO: Duration = Duration::from_secs(1);
const STUN_MAX_RETRANSMITS: usize = 5;

/// What the link produced.
#[derive(Debug)]
pub enum LinkOutput {
    /// A datagram to send.
    Transmit {
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    /// ICE and DTLS are up: media flows from now on.
    Connected,
    /// The connection is gone (ICE timed out, DTLS failed, closed).
    Disconnected,
    /// A packet received on a receive slot, in the slot's continuous RTP timeline.
    Packet {
        slot: usize,
        packet: EncodedPacket,
    },
    Stats(LinkStats),
}

/// Connection quality, refreshed about once a second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkStats {
    pub rtt_ms: Option<f32>,
    /// Fraction of our packets the relay reports lost (0–1): what our FEC should plan for.
    pub upstream_loss: Option<f32>,
    /// Fraction of the relay's packets we lost.
    pub downstream_loss: Option<f32>,
    pub jitter_ms: Option<f32>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Our packets sent and, of them, lost on the way to the relay (its reports' running
    /// count): the call's upstream loss as a whole.
    pub packets_sent: u64,
    pub upstream_lost: u64,
}

/// What the last report of one receive slot said.
#[derive(Debug, Clone, Copy, Default)]
struct SlotIngress {
    packets: u64,
}

/// One peer connection. Call order: [`Self::create_offer`], send it over the gateway,
/// [`Self::handle_answer`] with the reply; then feed datagrams ([`Self::handle_receive`])
/// and timeouts ([`Self::handle_timeout`]) and drain [`Self::poll_output`] after each.
pub struct MediaLink {
    rtc: Rtc,
    /// Our bound UDP port; the address comes from the route to the relay.
    local_port: u16,
    local: Option<SocketAddr>,
    /// The relay address our host candidate was chosen for.
    relay: Option<SocketAddr>,
    mids: Vec<Mid>,
    pending: Option<SdpPendingOffer>,
    connected: bool,
    ingress: Vec<SlotIngress>,
    /// Last sent (wire value, extended value) of the sequence number and timestamp: str0m
    /// takes 64-bit sequence numbers, the engine counts in 16 bits.
    sent_seq: Option<(u16, u64)>,
    stats: LinkStats,
}

impl MediaLink {
    pub fn new(now: Instant, local_port: u16) -> Self {
        let mut config = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, true)
            // RTP mode: every packet reaches the engine's jitter buffer as it arrives, late
            // and reordered ones included (frame mode would drop a packet that arrives
            // after its successor), and our packets go out with the encoder's own
            // sequence numbers, so the relay and the far end see our losses as gaps.
            .set_rtp_mode(true)
            // Only what voice uses (the relay offers the same): audio level with the voice
            // bit, and MID. No transport-wide congestion control feedback to send.
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid)
            .set_stats_interval(Some(STATS_INTERVAL))
            // Receiver reports steer the relay's copies for us, and its reports our own:
            // str0m's 5 s default for audio would leave the first seconds of a lossy call
            // unprotected. Two small RTCP packets a second per stream.
            .set_rtcp_report_interval_audio(RTCP_INTERVAL);
        config.set_max_stun_rto(STUN_MAX_RTO);
        config.set_max_stun_retransmits(STUN_MAX_RETRANSMITS);
        let rtc = config.build(now);
        Self {
            rtc,
            local_port,
            local: None,
            relay: None,
            mids: Vec::new(),
            pending: None,
            connected: false,
            ingress: Vec::new(),
            sent_seq: None,
            stats: LinkStats::default(),
        }
    }

    /// The SDP offer for `receive_slots` slots (as the server's `voice_ready` said): the
    /// first m-line sends our voice and receives slot 0, the others only receive.
    pub fn create_offer(&mut self, receive_slots: u8) -> Result<String> {
        let mut api = self.rtc.sdp_api();
        let mut mids = Vec::new();
        for slot in 0..receive_slots.max(1) {
            let dir = if slot == 0 { Direction::SendRecv } else { Direction::RecvOnly };
            mids.push(api.add_media(MediaKind::Audio, dir, None, None, None));
        }
        let (offer, pending) =
            api.apply().ok_or_else(|| Error::VoiceLink("nothing to offer".into()))?;
        self.ingress = vec![SlotIngress::default(); mids.len()];
        self.mids = mids;
        self.pending = Some(pending);
        Ok(offer.to_sdp_string())
    }

    /// Takes the relay's answer and learns where to send from its host candidates.
    pub fn handle_answer(&mut self, sdp: &str) -> Result<()> {
        let pending = self
            .pending
            .take()
            .ok_or_else(|| Error::VoiceLink("answer without an offer".into()))?;
        let answer = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| Error::VoiceLink(format!("bad SDP answer: {e}")))?;
        let remote = relay_addresses(sdp);
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| Error::VoiceLink(format!("answer not acceptable: {e}")))?;
        // Our host candidate: the local address the OS routes to the relay from, with our
        // socket's port. The relay is ICE-lite and learns our address from our checks.
        for relay in remote {
            let Some(ip) = local_ip_towards(relay) else { continue };
            let local = SocketAddr::new(ip, self.local_port);
            if self.local.is_none() {
                self.local = Some(local);
                self.relay = Some(relay);
            }
            if let Ok(candidate) = Candidate::host(local, "udp") {
                self.rtc.add_local_candidate(candidate);
            }
        }
        if self.local.is_none() {
            return Err(Error::VoiceLink("the relay offered no reachable address".into()));
        }
        Ok(())
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether the OS now routes to the relay from another local address than the link
    /// was set up with (Wi-Fi to Ethernet, a VPN coming up): the old path is dead even if
    /// ICE has not noticed yet. A routing lookup, no packet.
    pub fn route_changed(&self) -> bool {
        match (self.relay, self.local) {
            (Some(relay), Some(local)) => {
                local_ip_towards(relay).is_some_and(|ip| ip != local.ip())
            }
            _ => false,
        }
    }

    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Some(destination) = self.local else { return };
        let Ok(contents) = data.try_into() else { return };
        let input =
            Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        if self.rtc.accepts(&input) {
            self.handle_input(input);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_input(Input::Timeout(now));
    }

    fn handle_input(&mut self, input: Input<'_>) {
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "voice link input failed");
            self.rtc.disconnect();
        }
    }

    /// Sends one encoded packet with its level (dBov, 0 loudest) for the relay's speaker
    /// ranking. Dropped silently before the connection is up, like any early audio.
    pub fn send_packet(
        &mut self,
        now: Instant,
        packet: &EncodedPacket,
        level_dbov: f32,
        voice: bool,
    ) {
        let Some(mid) = self.mids.first().copied() else { return };
        if !self.connected {
            return;
        }
        let seq = match self.sent_seq {
            Some((last, ext)) => {
                // Forward steps only (a wrapping difference below half the range): the
                // encoder never goes back.
                let step = packet.sequence.wrapping_sub(last);
                ext.wrapping_add(u64::from(step))
            }
            None => u64::from(packet.sequence),
        };
        self.sent_seq = Some((packet.sequence, seq));
        let Some(types) = self.payload_types() else { return };
        let mut payload = Vec::with_capacity(packet.payload.len() * 3 + 12);
        let pt = packet.to_rtp_payload(types, &mut payload);
        let ext = ExtensionValues {
            audio_level: Some(-((-level_dbov).clamp(0.0, 127.0) as i8)),
            voice_activity: Some(voice),
            ..ExtensionValues::default()
        };
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else { return };
        let write = RtpWrite::new(
            pt.into(),
            SeqNo::from(seq),
            packet.timestamp,
            now,
            Arc::<[u8]>::from(payload),
        )
        .ext_vals(ext);
        stream.write_rtp(write);
        // str0m stamps a written packet for sending only in its timeout handling; left to
        // the next timer, every packet would wait up to a tick (10 ms) before leaving.
        self.handle_timeout(now);
    }

    /// Opus's payload type in this session and RED's, if the relay accepted it.
    fn payload_types(&self) -> Option<RtpPayloadTypes> {
        let opus = self.rtc.codec_config().find(|p| p.spec().codec == Codec::Opus)?;
        Some(RtpPayloadTypes { opus: *opus.pt(), red: opus.red().map(|pt| *pt) })
    }

    /// The next output; [`LinkOutput`] until the link sleeps, then `Err(wake_at)`.
    pub fn poll_output(&mut self, now: Instant) -> std::result::Result<LinkOutput, Instant> {
        loop {
            if !self.rtc.is_alive() {
                if self.connected {
                    self.connected = false;
                    return Ok(LinkOutput::Disconnected);
                }
                return Err(now + MAX_SLEEP);
            }
            let output = match self.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(error = %e, "voice link failed");
                    self.rtc.disconnect();
                    continue;
                }
            };
            match output {
                Output::Timeout(t) => return Err(t.min(now + MAX_SLEEP)),
                Output::Transmit(t) => {
                    return Ok(LinkOutput::Transmit {
                        destination: t.destination,
                        contents: t.contents.into(),
                    });
                }
                Output::Event(event) => {
                    if let Some(out) = self.handle_event(event) {
                        return Ok(out);
                    }
                }
            }
        }
    }

    fn handle_event(&mut self, event: Event) -> Option<LinkOutput> {
        match event {
            Event::Connected => {
                self.connected = true;
                Some(LinkOutput::Connected)
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.rtc.disconnect();
                None
            }
            Event::RtpPacket(packet) => {
                let mid = self.rtc.direct_api().stream_rx(&packet.header.ssrc).map(|s| s.mid())?;
                let slot = self.mids.iter().position(|m| *m == mid)?;
                let types = self.payload_types()?;
                // The relay keeps each slot's timeline continuous in 32-bit RTP time.
                let packet = EncodedPacket::from_rtp(
                    types,
                    *packet.header.payload_type,
                    packet.header.sequence_number,
                    packet.header.timestamp,
                    &packet.payload,
                )?;
                Some(LinkOutput::Packet { slot, packet })
            }
            // Transport-wide figures only: loss and round trip would need TWCC, which voice
            // does not negotiate; they come from the RTCP reports below instead.
            Event::PeerStats(s) => {
                self.stats.bytes_sent = s.peer_bytes_tx;
                self.stats.bytes_received = s.peer_bytes_rx;
                Some(LinkOutput::Stats(self.stats))
            }
            // Our one send stream: the relay's receiver reports give our upstream loss and,
            // with our sender reports, the round trip.
            Event::MediaEgressStats(s) => {
                if let Some(rtt) = s.rtt {
                    self.stats.rtt_ms = Some(rtt.as_secs_f32() * 1000.0);
                }
                if let Some(loss) = s.loss {
                    self.stats.upstream_loss = Some(loss);
                }
                if let Some(remote) = &s.remote {
                    self.stats.upstream_lost = remote.packets_lost;
                }
                self.stats.packets_sent = s.packets;
                None
            }
            // One event per receive slot: the slots that carried audio since the last
            // report say what we lose on the way down.
            Event::MediaIngressStats(s) => {
                let slot = self.mids.iter().position(|m| *m == s.mid)?;
                let entry = self.ingress.get_mut(slot)?;
                let fresh = s.packets.saturating_sub(entry.packets);
                entry.packets = s.packets;
                if fresh > 0 {
                    if let Some(loss) = s.loss {
                        self.stats.downstream_loss = Some(loss);
                    }
                    self.stats.jitter_ms = Some(s.jitter as f32 / 48.0);
                }
                None
            }
            _ => None,
        }
    }

    pub fn close(&mut self) {
        self.rtc.disconnect();
    }
}

/// Host candidates in an SDP (`a=candidate:… udp <prio> <ip> <port> typ host`).
fn relay_addresses(sdp: &str) -> Vec<SocketAddr> {
    sdp.lines()
        .filter_map(|line| line.strip_prefix("a=candidate:"))
        .filter_map(|c| {
            let parts: Vec<&str> = c.split_whitespace().collect();
            let ip: std::net::IpAddr = parts.get(4)?.parse().ok()?;
            let port: u16 = parts.get(5)?.parse().ok()?;
            parts.get(1..3)?; // component and transport present
            Some(SocketAddr::new(ip, port))
        })
        .collect()
}

/// The local address the OS would send from to reach `remote` (no packet is sent:
/// connecting a UDP socket only picks the route).
fn local_ip_towards(remote: SocketAddr) -> Option<std::net::IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(remote).ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    #[test]
    fn candidates_are_read_from_the_answer() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 7881 typ host\r\n\
                   a=candidate:garbage\r\na=candidate:2 1 udp 1 ::1 9 typ host\r\n";
        let found = super::relay_addresses(sdp);
        assert_eq!(found, vec!["127.0.0.1:7881".parse().unwrap(), "[::1]:9".parse().unwrap()]);
        assert_eq!(
            super::local_ip_towards("127.0.0.1:9".parse().unwrap()),
            Some("127.0.0.1".parse().unwrap())
        );
    }
}
