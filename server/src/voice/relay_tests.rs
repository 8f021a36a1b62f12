//! The relay driven over real UDP sockets on loopback by str0m clients (the stack the
//! desktop client uses), with an attacker socket beside them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::ice::{StunMessage, TransId};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::rtp::{Extension, ExtensionValues, RtpWrite, SeqNo};
use str0m::{Candidate, Event, Output, Rtc};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::metrics::DbLatency;

async fn metrics() -> Arc<Metrics> {
    let name = format!("auraspeak-relay-test-{}.sqlite", rand::random::<u64>());
    let path = std::env::temp_dir().join(name);
    let store = crate::store::sqlite::SqliteStore::open(&path, 1).await.expect("store opens");
    Arc::new(Metrics::new(Arc::new(store), DbLatency::new()))
}

struct TestRelay {
    handle: RelayHandle,
    events: mpsc::UnboundedReceiver<RelayEvent>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
}

async fn start_relay_with(egress: VoiceEgress) -> TestRelay {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let metrics = metrics().await;
    let stop = CancellationToken::new();
    let (handle, events) =
        spawn(socket, vec![addr], 3, egress, metrics.clone(), stop.clone()).expect("relay starts");
    TestRelay { handle, events, metrics, stop }
}

async fn start_relay() -> TestRelay {
    start_relay_with(VoiceEgress::Own).await
}

/// A client's session before the relay answered.
struct Offer {
    rtc: Rtc,
    pending: SdpPendingOffer,
    sdp: String,
    mid: Mid,
    socket: Arc<UdpSocket>,
}

async fn offer() -> Offer {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = socket.local_addr().expect("addr");
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .set_rtp_mode(true)
        .clear_extension_map()
        .set_extension(1, Extension::AudioLevel)
        .set_extension(4, Extension::RtpMid)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    for _ in 0..2 {
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    }
    let (offer, pending) = api.apply().expect("an offer");
    Offer { rtc, pending, sdp: offer.to_sdp_string(), mid, socket: Arc::new(socket) }
}

/// What a running client saw.
#[derive(Default)]
struct Seen {
    connected: AtomicBool,
    packets: AtomicU64,
    /// Send the RFC 6464 V bit cleared on every packet, as aiortc does.
    no_voice_bit: AtomicBool,
    /// SRTP datagrams that arrived (RTP, not RTCP): each one str0m cannot authenticate
    /// and decrypt is one more here than in `packets`.
    srtp_in: AtomicU64,
    /// A speaker stops sending while this is set.
    quiet: AtomicBool,
}

impl Seen {
    /// SRTP packets that arrived but were not delivered: authentication failures.
    fn undecrypted(&self) -> u64 {
        self.srtp_in.load(Ordering::SeqCst).saturating_sub(self.packets.load(Ordering::SeqCst))
    }
}

/// The speakers' first sequence number: close to the 16-bit wrap, so forwarded streams
/// cross it (and the SRTP rollover counter moves) within a test.
const FIRST_SEQ: u64 = 65_470;

/// Opens `key` in room 1 and runs the client until `stop`; a speaker sends a loud voiced
/// packet every 20 ms. Returns the client's socket, its offer and the relay's answer.
async fn join(
    relay: &TestRelay,
    key: PeerKey,
    speak: bool,
    seen: Arc<Seen>,
) -> (Arc<UdpSocket>, String, String) {
    let Offer { mut rtc, pending, sdp, mid, socket } = offer().await;
    let flags = PeerFlags { forward: true, receive: true };
    let answer = relay
        .handle
        .open(key, 1, flags, 64, sdp.clone())
        .await
        .expect("relay replies")
        .expect("offer accepted");
    let parsed = SdpAnswer::from_sdp_string(&answer).expect("answer parses");
    rtc.sdp_api().accept_answer(pending, parsed).expect("answer accepted");
    tokio::spawn(run_client(rtc, socket.clone(), mid, speak, seen, relay.stop.clone()));
    (socket, sdp, answer)
}

async fn run_client(
    mut rtc: Rtc,
    socket: Arc<UdpSocket>,
    mid: Mid,
    speak: bool,
    seen: Arc<Seen>,
    stop: CancellationToken,
) {
    let local = socket.local_addr().expect("addr");
    let mut buf = vec![0u8; 2048];
    let mut next_send = Instant::now();
    let mut seq = FIRST_SEQ;
    loop {
        let wake = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(Event::Connected)) => seen.connected.store(true, Ordering::SeqCst),
                Ok(Output::Event(Event::RtpPacket(_))) => {
                    seen.packets.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        };
        let wake = if speak { wake.min(next_send) } else { wake };
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(wake));
        tokio::select! {
            () = stop.cancelled() => return,
            received = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { return };
                if n >= 12 && (128..=191).contains(&buf[0]) && !(64..=95).contains(&(buf[1] & 0x7F)) {
                    seen.srtp_in.fetch_add(1, Ordering::SeqCst);
                }
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(
                    Instant::now(),
                    Receive { proto: Protocol::Udp, source, destination: local, contents },
                );
                let _ = rtc.handle_input(input);
            }
            () = sleep => {
                let now = Instant::now();
                if speak && now >= next_send {
                    next_send = now + Duration::from_millis(20);
                    if seen.connected.load(Ordering::SeqCst) && !seen.quiet.load(Ordering::SeqCst) {
                        send_voice(&mut rtc, mid, seq, now, !seen.no_voice_bit.load(Ordering::SeqCst));
                        seq += 1;
                    }
                }
                let _ = rtc.handle_input(Input::Timeout(now));
            }
        }
    }
}

fn send_voice(rtc: &mut Rtc, mid: Mid, seq: u64, now: Instant, voice_bit: bool) {
    let Some(pt) = rtc.codec_config().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt())
    else {
        return;
    };
    let ext = ExtensionValues {
        audio_level: Some(-20),
        voice_activity: Some(voice_bit),
        ..ExtensionValues::default()
    };
    let mut api = rtc.direct_api();
    let Some(stream) = api.stream_tx_by_mid(mid, None) else { return };
    let payload: Vec<u8> = (0..80u8).collect();
    let write = RtpWrite::new(pt, SeqNo::from(seq), (seq * 960) as u32, now, payload).ext_vals(ext);
    stream.write_rtp(write);
}

fn sdp_attr(sdp: &str, name: &str) -> String {
    sdp.lines().find_map(|l| l.trim_end().strip_prefix(name)).expect("attribute").to_owned()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sha1_hmac(key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
    str0m::crypto::from_feature_flags().sha1_hmac_provider.sha1_hmac(key, payloads)
}

/// Security review M3: a participant forges a nominating ICE check for its own session
/// from another address (a victim's, spoofed; here a second socket). The relay's media
/// must not go there, and the participant's real address keeps hearing.
#[tokio::test]
async fn a_forged_check_from_another_address_does_not_redirect_media() {
    forged_check_does_not_redirect_media(VoiceEgress::Own).await;
}

#[tokio::test]
async fn a_forged_check_does_not_redirect_media_sent_through_str0m() {
    forged_check_does_not_redirect_media(VoiceEgress::Str0m).await;
}

/// Every forwarded packet reaches str0m listeners decryptable (zero SRTP authentication
/// failures), across the 16-bit sequence wrap (the rollover counter), in both egress
/// modes.
async fn every_forwarded_packet_decrypts(egress: VoiceEgress) {
    let relay = start_relay_with(egress).await;
    let speaker = Arc::new(Seen::default());
    let listeners: Vec<Arc<Seen>> = (0..2).map(|_| Arc::new(Seen::default())).collect();
    join(&relay, 1, true, speaker.clone()).await;
    for (i, seen) in listeners.iter().enumerate() {
        join(&relay, 10 + i as u64, false, seen.clone()).await;
    }
    // 120 packets: past the wrap, which comes after 66.
    for seen in &listeners {
        wait_for("the listeners to hear 120 packets", || {
            seen.packets.load(Ordering::SeqCst) >= 120
        })
        .await;
    }
    speaker.quiet.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seen in &listeners {
        let (arrived, delivered) =
            (seen.srtp_in.load(Ordering::SeqCst), seen.packets.load(Ordering::SeqCst));
        assert_eq!(seen.undecrypted(), 0, "{egress:?}: {arrived} arrived, {delivered} delivered");
    }
    relay.stop.cancel();
}

#[tokio::test]
async fn every_packet_the_relay_protects_itself_decrypts_at_str0m_listeners() {
    every_forwarded_packet_decrypts(VoiceEgress::Own).await;
}

#[tokio::test]
async fn every_packet_str0m_protects_decrypts_at_str0m_listeners() {
    every_forwarded_packet_decrypts(VoiceEgress::Str0m).await;
}

async fn forged_check_does_not_redirect_media(egress: VoiceEgress) {
    let relay = start_relay_with(egress).await;
    let relay_addr = relay.handle.local_addr;
    let (speaker, listener) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    join(&relay, 1, true, speaker.clone()).await;
    let (listener_socket, listener_offer, listener_answer) =
        join(&relay, 2, false, listener.clone()).await;
    wait_for("the listener to hear the speaker", || listener.packets.load(Ordering::SeqCst) >= 25)
        .await;

    // The attacker knows everything of its own session: the relay's ufrag and password
    // from the answer, its own ufrag from the offer.
    let victim = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let username = format!(
        "{}:{}",
        sdp_attr(&listener_answer, "a=ice-ufrag:"),
        sdp_attr(&listener_offer, "a=ice-ufrag:")
    );
    let relay_pwd = sdp_attr(&listener_answer, "a=ice-pwd:");
    let heard_before = listener.packets.load(Ordering::SeqCst);
    let attack_until = Instant::now() + Duration::from_secs(3);
    let mut media_at_victim = 0;
    let mut buf = [0u8; 2048];
    while Instant::now() < attack_until {
        let check =
            StunMessage::binding_request(&username, TransId::new(), true, 7, u32::MAX, true);
        let mut out = vec![0u8; 512];
        let n = check.to_bytes(Some(relay_pwd.as_bytes()), &mut out, sha1_hmac).expect("fits");
        victim.send_to(&out[..n], relay_addr).await.expect("send");
        let window = tokio::time::sleep(Duration::from_millis(200));
        tokio::pin!(window);
        loop {
            tokio::select! {
                () = &mut window => break,
                received = victim.recv_from(&mut buf) => {
                    let (n, _) = received.expect("recv");
                    // RTP and RTCP start with 128-191 (RFC 7983); STUN (0-3) is the
                    // relay's answer to the check or its own small consent checks.
                    if n > 0 && (128..=191).contains(&buf[0]) {
                        media_at_victim += 1;
                    }
                }
            }
        }
    }
    assert_eq!(media_at_victim, 0, "the relay's media followed a forged check");
    let heard = listener.packets.load(Ordering::SeqCst) - heard_before;
    assert!(heard >= 100, "the real listener kept hearing: {heard} packets in 3 s");

    // Security review L5.3: junk DTLS records from the participant's own address (which
    // anyone who knows it can forge) do not end its session.
    let heard_before = listener.packets.load(Ordering::SeqCst);
    for _ in 0..5 {
        let junk = [22u8, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3];
        listener_socket.send_to(&junk, relay_addr).await.expect("send");
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let heard = listener.packets.load(Ordering::SeqCst) - heard_before;
    assert!(heard >= 30, "the listener's session survived junk: {heard} packets in 1 s");
    relay.stop.cancel();
}

/// Security review L5.4: a failure inside the relay task does not end voice for the
/// whole instance; the sessions it held are reported lost and a new relay serves.
#[tokio::test]
async fn the_relay_restarts_after_a_failure_and_reports_lost_sessions() {
    let mut relay = start_relay().await;
    let first = offer().await;
    let flags = PeerFlags { forward: true, receive: true };
    let answer = relay.handle.open(7, 1, flags, 64, first.sdp).await.expect("reply");
    assert!(answer.is_ok());
    relay.handle.send(Command::Panic);
    let lost = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match relay.events.recv().await {
                Some(RelayEvent::Lost(key)) => return key,
                Some(_) => continue,
                None => panic!("the relay's events ended"),
            }
        }
    })
    .await
    .expect("the lost session is reported");
    assert_eq!(lost, 7);
    assert_eq!(relay.metrics.voice_relay_restarts.get(), 1);
    let second = offer().await;
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        relay.handle.open(8, 1, flags, 64, second.sdp),
    )
    .await
    .expect("the restarted relay answers")
    .expect("reply");
    assert!(answer.is_ok(), "{answer:?}");
    relay.stop.cancel();
}

/// Security review L4: checks from ever new source addresses do not grow a peer's
/// address map (nor str0m's candidates) without bound.
#[tokio::test]
async fn a_peer_maps_a_bounded_number_of_source_addresses() {
    let Offer { sdp, .. } = offer().await;
    let local: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let flags = PeerFlags { forward: true, receive: true };
    let (mut peer, _) =
        Peer::accept(Instant::now(), 1, 1, flags, &sdp, &[local], 3, 64, VoiceEgress::Str0m)
            .expect("accepted");
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let mut live = Vec::new();
    let mut refused = 0;
    for port in 1000..1100u16 {
        match peer.admit_address(addr(port)) {
            Ok(evicted) => {
                live.retain(|a| Some(*a) != evicted);
                live.push(addr(port));
            }
            Err(_) => refused += 1,
        }
        assert!(live.len() <= 4, "live addresses stay bounded");
    }
    assert_eq!(refused, 100 - 16, "a session takes at most 16 addresses in its life");
    // A known address is no new address.
    assert_eq!(peer.admit_address(*live.last().expect("one")), Ok(None));
}

/// Interop (../shared/reviews/webrtc-interop.md): aiortc sends its level with V=0 on every
/// packet. A sender whose V bit never varies is judged by its packets' size and level, so
/// it is heard; and the answer names the relay's candidate in every m-section, with
/// `a=end-of-candidates`, for offerers that read another section than the first.
#[tokio::test]
async fn a_sender_that_never_sets_the_voice_bit_is_heard() {
    let relay = start_relay().await;
    let speaker = Arc::new(Seen::default());
    speaker.no_voice_bit.store(true, Ordering::SeqCst);
    let listener = Arc::new(Seen::default());
    let (_, _, answer) = join(&relay, 1, true, speaker).await;
    join(&relay, 2, false, listener.clone()).await;
    wait_for("the listener to hear the speaker", || listener.packets.load(Ordering::SeqCst) >= 25)
        .await;
    let sections = answer.split("\r\nm=").count() - 1;
    assert_eq!(sections, 3, "{answer}");
    assert_eq!(answer.matches("a=end-of-candidates").count(), sections, "{answer}");
    assert_eq!(answer.matches(" typ host").count(), sections, "{answer}");
    relay.stop.cancel();
}
