//! What the voice relay reads from the network, fuzzed: SDP offers from the gateway, and
//! datagrams arriving from a connected peer's address (STUN, DTLS, SRTP and SRTCP, whole
//! or damaged, or junk of each class). The relay must not panic on any of them, and valid
//! audio from the peer must arrive as sent: payload, sequence and RFC 6464 level.
//!
//! A real client session (str0m, as the desktop app uses it) is connected to a relay
//! [`Peer`] in simulated time, no sockets: ICE, DTLS and SRTP run for real, so damaged
//! packets get as far into the parsers as a network attacker's would.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use auraspeak_server::config::VoiceEgress;
use auraspeak_server::voice::peer::{Incoming, Peer, PeerFlags, PeerOutput};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{Extension, ExtensionValues, RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// Cases per property unless `PROPTEST_CASES` asks for more; failures are kept next to
/// this file (`relay_input_fuzz.proptest-regressions`) and replayed first.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

fn client_addr() -> SocketAddr {
    "192.0.2.10:40000".parse().expect("address")
}
fn relay_addr() -> SocketAddr {
    "192.0.2.1:7881".parse().expect("address")
}

/// A client `Rtc` configured as the desktop app's (client/src/media.rs).
fn client_rtc(now: Instant) -> Rtc {
    Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .set_rtp_mode(true)
        .clear_extension_map()
        .set_extension(1, Extension::AudioLevel)
        .set_extension(4, Extension::RtpMid)
        .build(now)
}

/// An offer as the desktop app makes it: one sendrecv audio m-line, then recvonly ones.
fn offer(now: Instant, slots: usize) -> (Rtc, Mid, String, str0m::change::SdpPendingOffer) {
    let mut client = client_rtc(now);
    client.add_local_candidate(Candidate::host(client_addr(), "udp").expect("candidate"));
    let mut api = client.sdp_api();
    let mut mids = Vec::new();
    for slot in 0..slots.max(1) {
        let dir = if slot == 0 { Direction::SendRecv } else { Direction::RecvOnly };
        mids.push(api.add_media(MediaKind::Audio, dir, None, None, None));
    }
    let (offer, pending) = api.apply().expect("an offer");
    (client, mids[0], offer.to_sdp_string(), pending)
}

struct Pair {
    now: Instant,
    client: Rtc,
    mid: Mid,
    peer: Peer,
    client_connected: bool,
    peer_connected: bool,
    /// Audio the relay took from the client.
    media: Vec<Incoming>,
    /// Every datagram the client sent: real STUN, DTLS, SRTP and SRTCP to damage.
    sent: Vec<Vec<u8>>,
    seq: u64,
}

impl Pair {
    fn connect() -> Self {
        let now = Instant::now();
        let (mut client, mid, sdp, pending) = offer(now, 2);
        let flags = PeerFlags { forward: true, receive: true };
        let (peer, answer) =
            Peer::accept(now, 1, 7, flags, &sdp, &[relay_addr()], 4, 64, VoiceEgress::Str0m)
                .expect("offer accepted");
        let answer = SdpAnswer::from_sdp_string(&answer).expect("answer parses");
        client.sdp_api().accept_answer(pending, answer).expect("answer accepted");
        let mut pair = Self {
            now,
            client,
            mid,
            peer,
            client_connected: false,
            peer_connected: false,
            media: Vec::new(),
            sent: Vec::new(),
            seq: 1,
        };
        for _ in 0..500 {
            pair.step();
            if pair.client_connected && pair.peer_connected {
                // A few packets each way, so SRTP, SRTCP and their damaged copies are in hand.
                for _ in 0..5 {
                    pair.send_audio(&[1, 2, 3, 4, 5], 30, true);
                    pair.step();
                }
                pair.now += Duration::from_secs(3);
                pair.step();
                return pair;
            }
        }
        panic!("client and relay did not connect in 500 steps");
    }

    fn deliver_to_peer(&mut self, data: &[u8]) {
        // What the relay does with a datagram from a known peer address.
        let Ok(contents) = DatagramRecv::try_from(data) else { return };
        let input = Input::Receive(
            self.now,
            Receive {
                proto: Protocol::Udp,
                source: client_addr(),
                destination: relay_addr(),
                contents,
            },
        );
        // A refused datagram is dropped and the session goes on, as in the relay.
        let _ = self.peer.handle_input(input);
    }

    /// Everything each side has to say goes to the other; then time moves to the next
    /// timeout of either.
    fn step(&mut self) {
        let mut to_peer = Vec::new();
        let client_wake = loop {
            match self.client.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => to_peer.push(Vec::from(t.contents)),
                Ok(Output::Event(Event::Connected)) => self.client_connected = true,
                Ok(Output::Event(_)) => {}
                Err(e) => panic!("client failed: {e}"),
            }
        };
        for data in to_peer {
            self.deliver_to_peer(&data);
            self.sent.push(data);
        }
        let mut outputs = Vec::new();
        self.peer.poll(self.now, &mut outputs);
        for output in outputs {
            match output {
                PeerOutput::Transmit(t) => {
                    let data = Vec::from(t.contents);
                    if let Ok(contents) = DatagramRecv::try_from(&data[..]) {
                        let input = Input::Receive(
                            self.now,
                            Receive {
                                proto: Protocol::Udp,
                                source: relay_addr(),
                                destination: client_addr(),
                                contents,
                            },
                        );
                        // The client's view is not under test; only the relay's is.
                        let _ = self.client.handle_input(input);
                    }
                }
                PeerOutput::Connected => self.peer_connected = true,
                PeerOutput::Media(m) => self.media.push(m),
                PeerOutput::Disconnected
                | PeerOutput::Withheld
                | PeerOutput::Dropped(_)
                | PeerOutput::Stats { .. } => {}
            }
        }
        let wake = client_wake.min(self.peer.next_timeout());
        self.now = wake.max(self.now + Duration::from_millis(1));
        self.client.handle_input(Input::Timeout(self.now)).expect("client timeout");
        self.peer.handle_timeout(self.now);
    }

    /// One Opus-like packet from the client with an RFC 6464 level (-dBov, 0 loudest).
    fn send_audio(&mut self, payload: &[u8], level: u8, voice: bool) {
        let pt = self
            .client
            .codec_config()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
            .expect("opus negotiated");
        let ext = ExtensionValues {
            audio_level: Some(-(level.min(127) as i8)),
            voice_activity: Some(voice),
            ..ExtensionValues::default()
        };
        self.seq += 1;
        let time = (self.seq * 960) as u32;
        let now = self.now;
        let mut api = self.client.direct_api();
        let stream = api.stream_tx_by_mid(self.mid, None).expect("send stream");
        stream.write_rtp(
            RtpWrite::new(pt, SeqNo::from(self.seq), time, now, payload.to_vec()).ext_vals(ext),
        );
    }
}

/// A datagram an attacker could send from (or spoof as) a peer's address: junk of each
/// RFC 7983 class, or one of the peer's own packets damaged.
#[derive(Debug, Clone)]
enum Hostile {
    Junk(Vec<u8>),
    Classed(u8, Vec<u8>),
    Damaged {
        index: prop::sample::Index,
        edits: Vec<(prop::sample::Index, u8)>,
        cut: Option<prop::sample::Index>,
    },
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Hostile::Junk),
        1 => (prop_oneof![0u8..=3, 20u8..=63, 128u8..=191], prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(first, rest)| Hostile::Classed(first, rest)),
        3 => (any::<prop::sample::Index>(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), any::<Option<prop::sample::Index>>())
            .prop_map(|(index, edits, cut)| Hostile::Damaged { index, edits, cut }),
    ]
}

impl Hostile {
    fn bytes(&self, sent: &[Vec<u8>]) -> Vec<u8> {
        match self {
            Self::Junk(data) => data.clone(),
            Self::Classed(first, rest) => [&[*first][..], rest].concat(),
            Self::Damaged { index, edits, cut } => {
                let mut data = index.get(sent).clone();
                for (at, byte) in edits {
                    let at = at.index(data.len().max(1));
                    if let Some(b) = data.get_mut(at) {
                        *b ^= byte | 1;
                    }
                }
                if let Some(cut) = cut {
                    data.truncate(cut.index(data.len() + 1));
                }
                data
            }
        }
    }
}

#[test]
fn hostile_datagrams_from_a_peers_address_never_panic_the_relay() {
    // The runner takes an `Fn`; one session serves many cases.
    let pair = RefCell::new(Pair::connect());
    let mut runner = TestRunner::new(config(3_000));
    runner
        .run(&hostile(), |datagram| {
            let mut pair = pair.borrow_mut();
            let data = datagram.bytes(&pair.sent);
            pair.deliver_to_peer(&data);
            pair.step();
            if !pair.peer.is_alive() {
                if std::env::var_os("FUZZ_DEBUG").is_some() {
                    eprintln!(
                        "session ended by {datagram:?} -> {:02x?}",
                        &data[..data.len().min(16)]
                    );
                }
                // A damaged DTLS record can end a session (str0m reports it as fatal); the
                // next case starts with a fresh one.
                *pair = Pair::connect();
            }
            Ok(())
        })
        .expect("no datagram breaks the relay");
}

#[test]
fn audio_from_a_peer_reaches_the_relay_as_sent() {
    let pair = RefCell::new(Pair::connect());
    let mut runner = TestRunner::new(config(1_000));
    runner
        .run(
            &(prop::collection::vec(any::<u8>(), 1..400), 0u8..=127, any::<bool>()),
            |(payload, level, voice)| {
                let mut pair = pair.borrow_mut();
                pair.media.clear();
                pair.send_audio(&payload, level, voice);
                for _ in 0..3 {
                    pair.step();
                }
                let got =
                    pair.media.pop().ok_or_else(|| TestCaseError::fail("no packet arrived"))?;
                prop_assert_eq!(&got.data[..], &payload[..]);
                prop_assert_eq!(got.seq, pair.seq);
                prop_assert_eq!(got.time, pair.seq * 960);
                prop_assert!(
                    got.level.is_finite() && (-128.0..=0.0).contains(&got.level),
                    "level {}",
                    got.level
                );
                prop_assert!(!got.voice || voice, "voice only when the sender says so");
                Ok(())
            },
        )
        .expect("audio round-trips");
}

/// Offer lines, damaged one at a time: what a buggy or hostile client sends as its SDP.
#[derive(Debug, Clone)]
enum LineEdit {
    Drop(prop::sample::Index),
    Repeat(prop::sample::Index, u8),
    Replace(prop::sample::Index, String),
    Number(prop::sample::Index, String),
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    let number = prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("4294967296".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("99999999999999999999999".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        any::<prop::sample::Index>().prop_map(LineEdit::Drop),
        (any::<prop::sample::Index>(), 1u8..40).prop_map(|(i, n)| LineEdit::Repeat(i, n)),
        (any::<prop::sample::Index>(), any::<String>()).prop_map(|(i, s)| LineEdit::Replace(i, s)),
        (any::<prop::sample::Index>(), number).prop_map(|(i, n)| LineEdit::Number(i, n)),
    ]
}

fn damage_offer(sdp: &str, edits: &[LineEdit]) -> String {
    let mut lines: Vec<String> = sdp.lines().map(str::to_owned).collect();
    for edit in edits {
        if lines.is_empty() {
            break;
        }
        match edit {
            LineEdit::Drop(i) => {
                lines.remove(i.index(lines.len()));
            }
            LineEdit::Repeat(i, n) => {
                let at = i.index(lines.len());
                let line = lines[at].clone();
                for _ in 0..*n {
                    lines.insert(at, line.clone());
                }
            }
            LineEdit::Replace(i, s) => {
                let at = i.index(lines.len());
                let keep: String = lines[at].chars().take(2).collect();
                lines[at] = format!("{keep}{s}");
            }
            LineEdit::Number(i, n) => {
                let at = i.index(lines.len());
                // Every run of digits in the line becomes the hostile number.
                let mut out = String::new();
                let mut in_digits = false;
                for c in lines[at].chars() {
                    if c.is_ascii_digit() {
                        if !in_digits {
                            out.push_str(n);
                        }
                        in_digits = true;
                    } else {
                        in_digits = false;
                        out.push(c);
                    }
                }
                lines[at] = out;
            }
        }
    }
    lines.join("\r\n") + "\r\n"
}

#[test]
fn damaged_and_arbitrary_offers_are_answered_or_refused() {
    let now = Instant::now();
    let (_, _, valid, _) = offer(now, 4);
    let flags = PeerFlags { forward: true, receive: true };
    let mut runner = TestRunner::new(config(600));
    runner
        .run(
            &(
                prop_oneof![
                    3 => prop::collection::vec(line_edit(), 1..5).prop_map(Some),
                    1 => Just(None),
                ],
                any::<String>(),
            ),
            |(edits, junk)| {
                let sdp = match &edits {
                    Some(edits) => damage_offer(&valid, edits),
                    None => junk,
                };
                if let Ok((_, answer)) =
                    Peer::accept(now, 1, 1, flags, &sdp, &[relay_addr()], 4, 64, VoiceEgress::Str0m)
                {
                    // Whatever the relay answers, a client can read.
                    prop_assert!(SdpAnswer::from_sdp_string(&answer).is_ok(), "{}", answer);
                }
                Ok(())
            },
        )
        .expect("offers never break the relay");
}
