//! A voice call: joins a voice channel over the gateway, connects the media link to the
//! relay, and runs the voice engine between an audio input, the link and an audio output
//! in 10 ms steps. Used by the CLI (`auraspeak voice join`) and the desktop app alike.
//!
//! Signaling: `voice_join` → `voice_ready` → `voice_offer` → `voice_answer`, then media.
//! The relay tells us over the gateway which user each receive slot carries
//! (`voice_slot`), which is how packets on a slot get a name. A call that loses the
//! relay (server restart, network change) joins again by itself (see `rejoin`).

mod rejoin;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraspeak_shared::v1::gateway::{ClientFrame, Event};
use auraspeak_shared::{ChannelId, UserId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, Result};
use crate::gateway::{GatewayEvent, GatewayEvents, GatewayHandle};
use crate::media::{LinkOutput, LinkStats, MediaLink};
use crate::voice::device::FramePort;
use crate::voice::{
    CaptureConfig, CapturePipeline, EchoMetrics, EncodedPacket, FRAME_DURATION, FRAME_SAMPLES,
    Frame, GateMode, JitterConfig, JitterStats, Level, Mixer, RemoteSpeaker, WavSink, WavSource,
};

/// Where the microphone signal comes from.
pub enum AudioInput {
    /// A WAV file, read in real time (the call's 10 ms clock paces it).
    Wav(Box<WavSource>),
    /// A capture device through the device layer ([`crate::voice::device::AudioIo`]):
    /// the device's clock paces capture; the call takes whatever frames have arrived.
    Device(Arc<FramePort>),
    /// Nothing: a listen-only participant.
    Silence,
}

/// Where the mixed signal of everyone else goes.
pub enum AudioOutput {
    Wav(WavSink),
    /// A playback device; may share its [`FramePort`] with [`AudioInput::Device`].
    Device(Arc<FramePort>),
    Discard,
}

/// Things the user does during a call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallControl {
    PushToTalk(bool),
    Mute(bool),
    Deafen(bool),
    Leave,
    /// One participant's playback volume here, 0–200 %; it follows them across receive
    /// slots.
    UserVolume(UserId, u16),
    /// Muted for us only (the others still hear them).
    UserMuted(UserId, bool),
    NoiseSuppression(bool),
    /// Voice activity, push-to-talk or continuous, switched without leaving the call.
    Gate(GateMode),
    InputGainDb(f32),
    /// The second suppression stage (other voices in the room, residual noise) on or off.
    StrongSuppression(bool),
    /// Plays our own processed voice back to us (the mic test during a call): what the
    /// others hear, while we transmit.
    HearMyself(bool),
    /// Push-to-mute: nothing is sent while held. Unlike `Mute`, the others are not told
    /// (it is a moment's cough, not a state).
    HoldMute(bool),
    /// Echo cancellation on or off (on speakers on, on a headset it may go off).
    EchoCancellation(bool),
    /// A device was switched or its buffer grew: the echo path changed, so the canceller
    /// starts afresh rather than leak echo while it finds the new delay.
    EchoPathChanged,
}

/// What the UI shows about a running call, published about ten times a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStatus {
    /// The media link is up (false while ICE/DTLS reconnect).
    pub connected: bool,
    /// Our audio is going out (gate open, not muted or deafened).
    pub transmitting: bool,
    /// Microphone level after processing, for the input meter.
    pub level: Level,
    pub voice_probability: f32,
    pub link: LinkStats,
    /// Remote participants whose decoded audio is audible right now.
    pub speaking: Vec<UserId>,
    /// The microphone's last frame was digital silence (see `CaptureOutput`).
    pub digital_silence: bool,
}

#[derive(Debug, Clone)]
pub struct CallOptions {
    pub channel_id: ChannelId,
    /// Our own user id (from READY): a voice state of ours without a channel means the
    /// server ended our voice session (kick, ban, permission taken away).
    pub me: Option<UserId>,
    pub capture: CaptureConfig,
    pub jitter: JitterConfig,
    pub self_mute: bool,
    pub self_deaf: bool,
    /// End the call after this long; `None`: when the input ends (plus a second so the
    /// last words arrive), or on [`CallControl::Leave`] for silent input.
    pub duration: Option<Duration>,
    /// Give up if signaling plus ICE and DTLS take longer than this.
    pub connect_timeout: Duration,
    /// Where [`CallStatus`] goes while the call runs (the desktop app's meters).
    pub status: Option<watch::Sender<CallStatus>>,
    /// Loss, delay and jitter applied to every datagram this client sends, seeded: how
    /// the tests put a bad network in the socket path (the kernel here has no netem).
    #[cfg(any(test, feature = "test-support"))]
    pub impairment: Option<(crate::voice::netsim::NetworkConfig, u64)>,
}

impl CallOptions {
    pub fn new(channel_id: ChannelId) -> Self {
        Self {
            channel_id,
            me: None,
            capture: CaptureConfig::default(),
            jitter: JitterConfig::default(),
            self_mute: false,
            self_deaf: false,
            duration: None,
            connect_timeout: Duration::from_secs(10),
            status: None,
            #[cfg(any(test, feature = "test-support"))]
            impairment: None,
        }
    }
}

/// What happened during a call.
#[derive(Debug, Clone, Default)]
pub struct CallReport {
    /// From sending `voice_join` until media could flow.
    pub connect_time: Duration,
    pub packets_sent: u64,
    pub packets_received: u64,
    /// The last statistics of the link (round trip, loss, jitter, bytes).
    pub link: LinkStats,
    /// Each receive slot's jitter buffer at the end: loss, late, recovered, concealed.
    pub jitter: Vec<JitterStats>,
    /// Users heard on a receive slot at some point.
    pub heard: Vec<UserId>,
    /// When the first 10 ms of audio went in and out: the common clock for measuring
    /// latency between two participants' recordings.
    pub audio_started: Option<Instant>,
    /// Why the call ended, for people: "duration reached", "left", "removed by the server".
    pub ended: String,
    /// Each automatic rejoin (after a server restart or a lost link): how long from
    /// starting it until media could flow again.
    pub rejoins: Vec<Duration>,
    /// The echo canceller's last view of the echo path, when it ran.
    pub echo: Option<EchoMetrics>,
}

/// Resolves when a capture device may have delivered a frame; never for other inputs,
/// which the call's own 10 ms clock paces.
async fn frame_ready(input: &AudioInput) {
    match input {
        AudioInput::Device(port) => port.frame_ready().await,
        AudioInput::Wav(_) | AudioInput::Silence => std::future::pending().await,
    }
}

/// Frames between checks of the route to the relay (one second).
const ROUTE_CHECK_FRAMES: u64 = 100;
/// Tail after a WAV input ends, so what is still in flight and in jitter buffers plays.
const INPUT_TAIL: Duration = Duration::from_secs(1);
/// Receive slots the client accepts at most, whatever the server offers.
const MAX_SLOTS: u8 = 16;

/// A joined voice channel with its media link up (ICE and DTLS done), before audio.
pub struct Connection {
    link: MediaLink,
    socket: UdpSocket,
    #[cfg(any(test, feature = "test-support"))]
    impairment: Option<crate::voice::netsim::NetworkEmulator<(SocketAddr, Vec<u8>)>>,
    /// Receive slots the link was set up with.
    pub slots: u8,
    /// From sending `voice_join` until media could flow.
    pub connect_time: Duration,
    /// When the link's timers next need running.
    wake_at: Instant,
    /// SRTP media datagrams that arrived (RTP, not RTCP), whether or not they decrypted.
    srtp_received: u64,
}

impl Connection {
    /// SRTP media datagrams received so far: compared with the packets the link delivered,
    /// what the receiver could not authenticate (the load generator's interop check).
    pub fn srtp_received(&self) -> u64 {
        self.srtp_received
    }

    /// Whether ICE and DTLS are (still) up.
    pub fn is_connected(&self) -> bool {
        self.link.is_connected()
    }

    /// The link's statistics so far.
    pub fn stats(&self) -> LinkStats {
        self.link.stats()
    }

    /// Keeps the link alive (answering keep-alives, sending reports) for `time`, without
    /// sending audio; for callers that only need to be present.
    pub async fn idle(&mut self, time: Duration) {
        let until = Instant::now() + time;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < until {
            let step = until.min(Instant::now() + Duration::from_millis(20));
            self.step(&mut buf, step).await;
        }
    }

    /// Sends one encoded packet (see [`MediaLink::send_packet`]).
    pub fn send_packet(
        &mut self,
        now: Instant,
        packet: &EncodedPacket,
        level_dbov: f32,
        voice: bool,
    ) {
        self.link.send_packet(now, packet, level_dbov, voice);
    }

    /// Waits for a datagram or `until`, then lets the link act; returns what it produced
    /// besides datagrams, which are sent here.
    pub async fn step(&mut self, buf: &mut [u8], until: Instant) -> Vec<LinkOutput> {
        let wait = until.saturating_duration_since(Instant::now());
        if let Ok(Ok((n, source))) = tokio::time::timeout(wait, self.socket.recv_from(buf)).await {
            // RFC 7983: 128-191 is RTP or RTCP; RFC 5761: payload types 64-95 are RTCP.
            if n >= 12 && (128..=191).contains(&buf[0]) && !(64..=95).contains(&(buf[1] & 0x7F)) {
                self.srtp_received += 1;
            }
            self.link.handle_receive(Instant::now(), source, &buf[..n]);
        }
        let mut produced = Vec::new();
        self.drain(Instant::now(), &mut produced);
        produced
    }

    fn drain(&mut self, now: Instant, produced: &mut Vec<LinkOutput>) {
        // Timers only when one is due: running them for every datagram (at 50 packets per
        // second per stream) costs more than the packets themselves.
        if now >= self.wake_at {
            self.link.handle_timeout(now);
        }
        loop {
            match self.link.poll_output(now) {
                Ok(LinkOutput::Transmit { destination, contents }) => {
                    self.transmit(now, destination, contents);
                }
                Ok(other) => produced.push(other),
                Err(wake_at) => {
                    self.wake_at = wake_at;
                    break;
                }
            }
        }
        #[cfg(any(test, feature = "test-support"))]
        if let Some(net) = &mut self.impairment {
            while let Some((_, (destination, contents))) = net.poll_delivery(now) {
                let _ = self.socket.try_send_to(&contents, destination);
            }
        }
    }

    fn transmit(&mut self, now: Instant, destination: SocketAddr, contents: Vec<u8>) {
        #[cfg(any(test, feature = "test-support"))]
        if let Some(net) = &mut self.impairment {
            net.send(now, (destination, contents));
            return;
        }
        let _ = now;
        // UDP sends do not block; a full socket buffer drops like the network.
        let _ = self.socket.try_send_to(&contents, destination);
    }

    /// Leaves the channel and closes the link.
    pub async fn leave(mut self, gateway: &GatewayHandle) {
        let _ = gateway.send(ClientFrame::VoiceLeave {}).await;
        self.link.close();
        self.drain(Instant::now(), &mut Vec::new());
    }
}

fn refused(code: auraspeak_shared::ErrorCode, message: String) -> Error {
    Error::Api { status: code.http_status(), code, message, request_id: None, fields: Vec::new() }
}

/// Joins `options.channel_id` and brings the media link up. `events` must be the
/// gateway's event stream; other events seen meanwhile are dropped.
pub async fn connect(
    gateway: &GatewayHandle,
    events: &mut GatewayEvents,
    options: &CallOptions,
) -> Result<Connection> {
    let started = Instant::now();
    let deadline = started + options.connect_timeout;
    gateway
        .send(ClientFrame::VoiceJoin {
            channel_id: options.channel_id,
            self_mute: options.self_mute,
            self_deaf: options.self_deaf,
        })
        .await?;
    let slots = loop {
        match next_event(events, deadline).await? {
            GatewayEvent::VoiceReady { receive_slots, .. } => break receive_slots.min(MAX_SLOTS),
            GatewayEvent::ServerError { code, message } => return Err(refused(code, message)),
            _ => {}
        }
    };
    let socket = UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0))
        .await
        .map_err(|e| Error::VoiceLink(format!("cannot open a UDP socket: {e}")))?;
    let port = socket.local_addr().map_err(|e| Error::VoiceLink(e.to_string()))?.port();
    let mut link = MediaLink::new(Instant::now(), port);
    let offer = link.create_offer(slots)?;
    gateway.send(ClientFrame::VoiceOffer { sdp: offer }).await?;
    loop {
        match next_event(events, deadline).await? {
            GatewayEvent::VoiceAnswer { sdp } => break link.handle_answer(&sdp)?,
            GatewayEvent::ServerError { code, message } => return Err(refused(code, message)),
            _ => {}
        }
    }
    let mut connection = Connection {
        link,
        socket,
        #[cfg(any(test, feature = "test-support"))]
        impairment: options
            .impairment
            .clone()
            .map(|(config, seed)| crate::voice::netsim::NetworkEmulator::new(config, seed)),
        slots,
        connect_time: Duration::ZERO,
        wake_at: Instant::now(),
        srtp_received: 0,
    };
    // Media flows once ICE and DTLS are up; wait for that within the connect timeout.
    let mut buf = vec![0u8; 2048];
    connection.drain(Instant::now(), &mut Vec::new());
    while !connection.link.is_connected() {
        let now = Instant::now();
        if now >= deadline {
            connection.leave(gateway).await;
            return Err(Error::VoiceLink("the voice connection did not come up in time".into()));
        }
        connection.step(&mut buf, deadline.min(now + Duration::from_millis(20))).await;
    }
    connection.connect_time = started.elapsed();
    Ok(connection)
}

/// Runs a call until it ends. `events` must be the gateway's event stream; events that
/// are not about voice are dropped while the call runs.
pub async fn run(
    gateway: &GatewayHandle,
    events: &mut GatewayEvents,
    options: CallOptions,
    mut input: AudioInput,
    mut output: AudioOutput,
    mut controls: mpsc::Receiver<CallControl>,
) -> Result<CallReport> {
    // Boxed, like the rejoin below: signaling and ICE futures are large, and a call's
    // future lives on its caller's stack (2 MiB on a test thread).
    let connection = Box::pin(connect(gateway, events, &options)).await?;
    let slots = connection.slots;
    // Echo needs a loudspeaker and a microphone in one room. A file or no input, or a file
    // or no output, has no acoustic path, and the canceller would only cost 9 ms and duck
    // the talker whenever someone else talks (see `voice::echo`).
    let acoustic_path =
        matches!(input, AudioInput::Device(_)) && matches!(output, AudioOutput::Device(_));
    let capture = CaptureConfig {
        echo_cancellation: options.capture.echo_cancellation && acoustic_path,
        ..options.capture.clone()
    };
    let mut call = Call {
        connection,
        pipeline: CapturePipeline::new(capture)?,
        acoustic_path,
        mixer: Mixer::new(),
        scratch: Vec::new(),
        report: CallReport::default(),
        self_mute: options.self_mute,
        slot_users: vec![None; usize::from(slots)],
        preferences: HashMap::new(),
        status: CallStatus::default(),
        frames: 0,
        upstream_loss: UpstreamLoss::default(),
        held_mute: false,
        hear_myself: false,
        myself: VecDeque::new(),
    };
    for slot in 0..usize::from(slots) {
        call.mixer.insert_speaker(slot, RemoteSpeaker::new(options.jitter.clone())?);
    }
    call.mixer.set_deafened(options.self_deaf);
    call.pipeline.encoder_mut().set_expected_loss(UNKNOWN_LINK_LOSS_PERCENT)?;
    call.report.connect_time = call.connection.connect_time;
    let mut buf = vec![0u8; 2048];

    // With no microphone and nothing to play (a presence bot, `--input none --output none`)
    // nobody hears the 10 ms rhythm: the call wakes a tenth as often and plays out what
    // arrived in one go, frame by frame with the frames' own times, so the jitter buffers
    // and their counts are as they would be. Waking 100 times a second was most of such a
    // call's CPU.
    let frames_per_tick: u32 =
        if matches!(input, AudioInput::Silence) && matches!(output, AudioOutput::Discard) {
            10
        } else {
            1
        };
    let mut ticker = tokio::time::interval(FRAME_DURATION * frames_per_tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let call_start = Instant::now();
    call.report.audio_started = Some(call_start);
    let mut input_ended: Option<Instant> = None;
    let mut watchdog = rejoin::Watchdog::new();
    // Once every sender is gone (a script's standard input closed) the channel answers
    // `None` at once on every poll: polled on, it would spin a core for the whole call.
    let mut controls_open = true;
    let ended = loop {
        let now = Instant::now();
        if options.duration.is_some_and(|d| now.duration_since(call_start) >= d) {
            break "duration reached".to_owned();
        }
        if options.duration.is_none() && input_ended.is_some_and(|t| now >= t + INPUT_TAIL) {
            break "input ended".to_owned();
        }
        tokio::select! {
            _ = ticker.tick() => {
                let now = Instant::now();
                let mut more = true;
                for back in (0..frames_per_tick).rev() {
                    let at = now.checked_sub(FRAME_DURATION * back).unwrap_or(now);
                    more &= call.step_audio(at, &mut input, &mut output)?;
                    if back > 0 {
                        call.publish_status(options.status.as_ref());
                    }
                }
                if !more && input_ended.is_none() {
                    input_ended = Some(now);
                }
                call.flush(now);
                call.publish_status(options.status.as_ref());
                // A routing lookup once a second: cheap, and a network change is then
                // noticed within a second instead of after ICE's timeouts.
                let route_changed = call.frames.is_multiple_of(ROUTE_CHECK_FRAMES)
                    && call.connection.link.route_changed();
                if let Some(reason) = watchdog.poll(now, call.connection.is_connected(), route_changed) {
                    match Box::pin(call.rejoin(gateway, events, &options, reason, options.status.as_ref())).await {
                        Ok(()) => watchdog.succeeded(),
                        Err(e) if rejoin::is_refusal(&e) => break format!("could not rejoin: {e}"),
                        Err(e) => {
                            tracing::warn!(error = %e, ?reason, "voice rejoin failed");
                            if !watchdog.failed(Instant::now(), reason) {
                                break format!("could not reconnect: {e}");
                            }
                        }
                    }
                }
            }
            () = frame_ready(&input) => {
                let now = Instant::now();
                call.capture_arrived(now, &input)?;
                call.flush(now);
            }
            received = call.connection.socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    call.handle_datagram(Instant::now(), source, &buf[..n]);
                }
            }
            event = events.next() => match event {
                Some(GatewayEvent::Dispatch { event: Event::VoiceSlot { slot, user_id }, .. }) => {
                    call.handle_slot(slot, user_id);
                }
                Some(GatewayEvent::Dispatch { event: Event::VoiceStateUpdate { state }, .. })
                    if state.channel_id.is_none() && Some(state.user_id) == options.me => {
                    break "removed by the server".to_owned();
                }
                Some(GatewayEvent::Closed { reason, .. }) => break format!("gateway closed: {reason}"),
                Some(
                    event @ (GatewayEvent::Ready { .. }
                    | GatewayEvent::Resumed { .. }
                    | GatewayEvent::Disconnected { .. }
                    | GatewayEvent::InvalidSession),
                ) => watchdog.on_gateway(&event),
                None => break "gateway ended".to_owned(),
                Some(_) => {}
            },
            control = controls.recv(), if controls_open => match control {
                Some(CallControl::PushToTalk(pressed)) => call.pipeline.handle_push_to_talk(Instant::now(), pressed),
                Some(CallControl::Mute(muted)) => {
                    call.self_mute = muted;
                    let _ = gateway.send(ClientFrame::VoiceUpdate { self_mute: muted, self_deaf: call.mixer.is_deafened() }).await;
                }
                Some(CallControl::Deafen(deaf)) => {
                    // Deafened also means not sending (see `capture`); undeafening restores
                    // whatever the user's own mute was.
                    call.mixer.set_deafened(deaf);
                    let _ = gateway.send(ClientFrame::VoiceUpdate { self_mute: call.self_mute, self_deaf: deaf }).await;
                }
                Some(CallControl::Leave) => break "left".to_owned(),
                Some(CallControl::UserVolume(user, percent)) => {
                    call.preferences.entry(user).or_default().volume = Some(percent);
                    call.apply_preferences(user);
                }
                Some(CallControl::UserMuted(user, muted)) => {
                    call.preferences.entry(user).or_default().muted = muted;
                    call.apply_preferences(user);
                }
                Some(CallControl::NoiseSuppression(on)) => call.pipeline.set_noise_suppression(on),
                Some(CallControl::Gate(mode)) => call.pipeline.set_gate_mode(mode),
                Some(CallControl::InputGainDb(db)) => call.pipeline.set_input_gain_db(db),
                Some(CallControl::StrongSuppression(on)) => call.pipeline.set_strong_suppression(on),
                Some(CallControl::HoldMute(held)) => call.held_mute = held,
                Some(CallControl::EchoCancellation(on)) => {
                    call.pipeline.set_echo_cancellation(on && call.acoustic_path);
                }
                Some(CallControl::EchoPathChanged) => call.pipeline.restart_echo_cancellation(),
                Some(CallControl::HearMyself(on)) => {
                    call.hear_myself = on;
                    call.myself.clear();
                }
                // No one can send controls any more: only the duration or input ends the call.
                None => controls_open = false,
            },
        }
    };
    call.report.link = call.connection.stats();
    call.report.echo = call.pipeline.echo_canceller().metrics();
    call.report.jitter = (0..call.slot_users.len())
        .filter_map(|slot| call.mixer.speaker_mut(&slot).map(|s| s.jitter_stats().clone()))
        .collect();
    call.connection.leave(gateway).await;
    if let AudioOutput::Wav(sink) = output {
        sink.finalize()?;
    }
    call.report.ended = ended;
    Ok(call.report)
}

async fn next_event(events: &mut GatewayEvents, deadline: Instant) -> Result<GatewayEvent> {
    let wait = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(wait, events.next()).await {
        Ok(Some(GatewayEvent::Closed { reason, .. })) => {
            Err(Error::VoiceLink(format!("gateway closed: {reason}")))
        }
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(Error::GatewayEnded),
        Err(_) => Err(Error::VoiceLink("the server did not answer the voice join in time".into())),
    }
}

struct Call {
    connection: Connection,
    pipeline: CapturePipeline,
    /// Both ends are devices, so there can be echo to cancel.
    acoustic_path: bool,
    mixer: Mixer<usize>,
    /// What the link produced, reused for every datagram.
    scratch: Vec<LinkOutput>,
    report: CallReport,
    self_mute: bool,
    /// Who each receive slot carries now (from `voice_slot` dispatches).
    slot_users: Vec<Option<UserId>>,
    /// Per-participant volume and local mute, applied to whichever slot carries them.
    preferences: HashMap<UserId, Preference>,
    status: CallStatus,
    frames: u64,
    /// Our loss on the way to the relay, from its reports, smoothed (see [`UpstreamLoss`]).
    upstream_loss: UpstreamLoss,
    /// Push-to-mute held (see [`CallControl::HoldMute`]).
    held_mute: bool,
    /// The mic test during a call: our processed frames, played back to us.
    hear_myself: bool,
    myself: VecDeque<Frame>,
}

/// Frames of our own voice held for playback while hearing ourselves (30 ms).
const MYSELF_QUEUE_FRAMES: usize = 3;

/// The loss the relay reports for our stream, as our encoder should plan for it: up at once
/// with a worse report, down slowly (by 5 % a report, two reports a second). One report
/// covers 25 packets, so at 10 % loss some say 0 %; following each would switch our
/// copies on and off and leave gaps unprotected.
///
/// Until the first report the link is unknown, and the encoder plans for
/// [`UNKNOWN_LINK_LOSS_PERCENT`]; the first report replaces that outright.
#[derive(Debug, Clone, Copy, Default)]
struct UpstreamLoss(Option<f32>);

/// What our encoder plans for before the relay's first report (about a second into the
/// call): one copy of each packet and Opus FEC. A lossy way up otherwise loses the first
/// words unprotected, and those cost a call's PESQ more than the rest of the talk (10 %
/// loss up: 3.2–3.3 through the relay); on a clean link it costs a few kilobytes once.
const UNKNOWN_LINK_LOSS_PERCENT: u8 = 10;

impl UpstreamLoss {
    /// Takes a report (a fraction) and returns the loss to plan for, in percent.
    fn handle_report(&mut self, loss: f32) -> u8 {
        let loss = if loss.is_finite() { loss.clamp(0.0, 1.0) } else { 0.0 };
        let planned = match self.0 {
            Some(planned) if loss < planned => 0.95 * planned + 0.05 * loss,
            _ => loss,
        };
        self.0 = Some(planned);
        // Clamped to 0–100, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let percent = (planned * 100.0).round().clamp(0.0, 100.0) as u8;
        percent
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Preference {
    volume: Option<u16>,
    muted: bool,
}

/// Status goes out every this many 10 ms frames: 10 Hz is smooth for a meter and cheap.
const STATUS_EVERY_FRAMES: u64 = 10;

impl Call {
    fn handle_slot(&mut self, slot: u8, user: Option<UserId>) {
        if let Some(user) = user
            && !self.report.heard.contains(&user)
        {
            self.report.heard.push(user);
        }
        let index = usize::from(slot);
        if let Some(entry) = self.slot_users.get_mut(index) {
            *entry = user;
        }
        // A slot that changes hands starts at the new speaker's volume, not the last one's.
        let preference = user.and_then(|u| self.preferences.get(&u).copied()).unwrap_or_default();
        if let Some(speaker) = self.mixer.speaker_mut(&index) {
            speaker.set_volume_percent(preference.volume.unwrap_or(100));
            speaker.set_muted(preference.muted);
        }
    }

    fn apply_preferences(&mut self, user: UserId) {
        let preference = self.preferences.get(&user).copied().unwrap_or_default();
        for index in 0..self.slot_users.len() {
            if self.slot_users[index] == Some(user)
                && let Some(speaker) = self.mixer.speaker_mut(&index)
            {
                speaker.set_volume_percent(preference.volume.unwrap_or(100));
                speaker.set_muted(preference.muted);
            }
        }
    }

    fn publish_status(&mut self, sender: Option<&watch::Sender<CallStatus>>) {
        self.frames += 1;
        let Some(sender) = sender else { return };
        if !self.frames.is_multiple_of(STATUS_EVERY_FRAMES) {
            return;
        }
        self.status.connected = self.connection.is_connected();
        self.status.link = self.connection.stats();
        self.status.speaking.clear();
        for slot in self.mixer.speaking() {
            if let Some(Some(user)) = self.slot_users.get(*slot) {
                self.status.speaking.push(*user);
            }
        }
        sender.send_replace(self.status.clone());
    }

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.connection.link.handle_receive(now, source, data);
        self.flush(now);
    }

    /// Sends what the link wants sent; packets go to their slot's jitter buffer and
    /// statistics steer our encoder's FEC.
    fn flush(&mut self, now: Instant) {
        let mut produced = std::mem::take(&mut self.scratch);
        self.connection.drain(now, &mut produced);
        for output in produced.drain(..) {
            match output {
                LinkOutput::Packet { slot, packet } => {
                    self.report.packets_received += 1;
                    if let Some(speaker) = self.mixer.speaker_mut(&slot) {
                        speaker.handle_packet(now, packet);
                    }
                }
                LinkOutput::Stats(stats) => {
                    if let Some(loss) = stats.upstream_loss {
                        let percent = self.upstream_loss.handle_report(loss);
                        let _ = self.pipeline.encoder_mut().set_expected_loss(percent);
                    }
                }
                LinkOutput::Transmit { .. } | LinkOutput::Connected | LinkOutput::Disconnected => {}
            }
        }
        self.scratch = produced;
    }

    /// Encodes and sends what the capture device has delivered: the device's clock, not
    /// ours, decides how many frames there are (usually one, two after a late wake-up).
    fn capture_arrived(&mut self, now: Instant, input: &AudioInput) -> Result<()> {
        if let AudioInput::Device(port) = input {
            while let Some(mut frame) = port.recv(Duration::ZERO) {
                self.capture(now, &mut frame)?;
            }
        }
        Ok(())
    }

    /// One 10 ms step: capture and send, then mix and play. Returns false once the input
    /// has ended (it then sends silence).
    fn step_audio(
        &mut self,
        now: Instant,
        input: &mut AudioInput,
        output: &mut AudioOutput,
    ) -> Result<bool> {
        let more = match input {
            AudioInput::Wav(source) => match source.next_frame()? {
                Some(mut frame) => {
                    self.capture(now, &mut frame)?;
                    true
                }
                None => {
                    self.capture(now, &mut [0.0; FRAME_SAMPLES])?;
                    false
                }
            },
            AudioInput::Device(_) => {
                // Frames are taken as they arrive (`capture_arrived`); this catches any a
                // wake-up missed.
                self.capture_arrived(now, input)?;
                true
            }
            // No microphone at all (a listening bot, `--input none`): nothing to clean up or
            // send, so the capture chain does not run. Running it on zeros cost an idle
            // scripted call about 2 % of a core for nothing.
            AudioInput::Silence => {
                self.status.transmitting = false;
                self.status.digital_silence = true;
                true
            }
        };
        let mut played: Frame = [0.0; FRAME_SAMPLES];
        self.mixer.poll_frame(now, &mut played);
        if let Some(mine) = self.myself.pop_front() {
            for (out, own) in played.iter_mut().zip(mine) {
                *out = (*out + own).clamp(-1.0, 1.0);
            }
        }
        self.pipeline.handle_far_end(&played);
        match output {
            AudioOutput::Wav(sink) => sink.write_frame(&played)?,
            AudioOutput::Device(port) => {
                port.play(played);
            }
            AudioOutput::Discard => {}
        }
        Ok(more)
    }

    fn capture(&mut self, now: Instant, frame: &mut Frame) -> Result<()> {
        let captured = self.pipeline.process(now, frame)?;
        let sending = !self.self_mute && !self.held_mute && !self.mixer.is_deafened();
        self.status.transmitting = sending && captured.transmitting;
        self.status.level = captured.level;
        self.status.voice_probability = captured.voice_probability;
        self.status.digital_silence = captured.digital_silence;
        if self.hear_myself {
            // Capture and playback run on their own clocks: a few frames of slack, and the
            // oldest goes when playback falls behind.
            if self.myself.len() >= MYSELF_QUEUE_FRAMES {
                self.myself.pop_front();
            }
            self.myself.push_back(if self.status.transmitting {
                *frame
            } else {
                [0.0; FRAME_SAMPLES]
            });
        }
        for packet in captured.packets.iter().filter(|_| sending) {
            self.connection.link.send_packet(
                now,
                packet,
                captured.level.rms_dbfs,
                captured.transmitting,
            );
            self.report.packets_sent += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_loss_report_replaces_the_plan_for_an_unknown_link() {
        // A clean first report ends the copies at once, not after twenty slow steps down.
        let mut loss = UpstreamLoss::default();
        assert_eq!(loss.handle_report(0.0), 0);
        assert_eq!(crate::voice::depth_for_loss(0), 0);
        assert!(crate::voice::depth_for_loss(UNKNOWN_LINK_LOSS_PERCENT) >= 1);
        // After that: up at once with a worse report, down by 5 % of the gap a report.
        assert_eq!(loss.handle_report(0.2), 20);
        assert_eq!(loss.handle_report(0.0), 19);
        assert_eq!(loss.handle_report(f32::NAN), 18);
    }
}
