//! A call survives a server restart and a network change: both participants' clients
//! notice (a new gateway session; a media path gone dark), join the voice channel again
//! on a fresh media link, and the listener hears the speaker again. How long that took is
//! printed (the goal for a restart is 5 s from the server being back).

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/online.rs"]
mod online;
#[path = "support/udp_path.rs"]
mod udp_path;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use auraspeak_client::call::{self, AudioInput, AudioOutput, CallOptions, CallReport, CallStatus};
use auraspeak_client::voice::{Pacing, SAMPLE_RATE, WavSink, WavSource};
use auraspeak_shared::v1::channels::ChannelKind;
use harness::{Backend, TestServer};
use tokio::sync::{mpsc, watch};
use udp_path::UdpPath;

/// What breaks the call halfway.
enum Disruption {
    Restart,
    NetworkChange(UdpPath),
}

backend_tests!(a_call_comes_back_after_a_server_restart);

const BEFORE_DISRUPTION: Duration = Duration::from_secs(4);
const CALL: Duration = Duration::from_secs(16);

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client/tests/fixtures/speech-en-us-male.wav")
}

/// The speech fixture repeated to outlast the call, so there is always something to hear.
fn long_speech(dir: &std::path::Path) -> PathBuf {
    let speech = WavSource::open(fixture(), Pacing::AsFastAsPossible)
        .expect("fixture")
        .read_to_end()
        .expect("read fixture");
    let path = dir.join("long-speech.wav");
    let mut sink = WavSink::create(&path).expect("sink");
    let seconds = speech.len() as f64 / f64::from(SAMPLE_RATE);
    for _ in 0..(CALL.as_secs_f64() / seconds).ceil() as usize + 1 {
        sink.write(&speech).expect("write");
    }
    sink.finalize().expect("finalize");
    path
}

async fn a_call_comes_back_after_a_server_restart(backend: Backend) {
    let server = TestServer::start(&backend).await;
    let (back_after, rejoins) = Box::pin(call_through(server, Disruption::Restart)).await;
    eprintln!(
        "server restart: heard again {back_after:?} after the server was back; rejoins {rejoins:?}"
    );
}

/// The media path goes dark for good (the speaker's and listener's old addresses), while
/// the gateway stays up: ICE notices within seconds, and both join again on new sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_comes_back_after_a_network_change() {
    let path = UdpPath::start().await;
    let front = path.addr;
    let server = TestServer::start_with(&Backend::Sqlite, |config| {
        config.voice.public_addresses = vec![front];
    })
    .await;
    path.set_relay(server.voice_addr());
    let (back_after, rejoins) =
        Box::pin(call_through(server, Disruption::NetworkChange(path))).await;
    eprintln!(
        "network change: heard again {back_after:?} after the path went dark; rejoins {rejoins:?}"
    );
}

/// Runs a call between two clients, disrupts it once the listener hears the speaker, and
/// returns how long after the disruption ended the speaker was heard again, with both
/// clients' rejoin times.
async fn call_through(
    mut server: TestServer,
    disruption: Disruption,
) -> (Duration, (Vec<Duration>, Vec<Duration>)) {
    let c = community::setup(&server.base).await;
    let detail = c.owner.server(c.server).await.expect("detail");
    let channel =
        detail.channels.iter().find(|ch| ch.kind == ChannelKind::Voice).expect("voice").id;
    let (speaker_gw, mut speaker_events, speaker) = online::online(&c.owner).await;
    let (listener_gw, mut listener_events, listener) = online::online(&c.member).await;
    let dir = std::env::temp_dir().join(format!("auraspeak-rejoin-{}", harness::unique()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let input = long_speech(&dir);

    let (status_tx, mut status) = watch::channel(CallStatus::default());
    let mut listen = CallOptions::new(channel);
    listen.me = Some(listener);
    listen.self_mute = true;
    listen.capture.noise_suppression = false;
    listen.duration = Some(CALL);
    listen.status = Some(status_tx);
    let mut speak = CallOptions::new(channel);
    speak.me = Some(speaker);
    speak.duration = Some(CALL - Duration::from_millis(500));
    let (_keep_l, controls_l) = mpsc::channel(1);
    let (_keep_s, controls_s) = mpsc::channel(1);

    // Boxed: two calls and a server start in one debug-build future overflow the stack.
    let listening = Box::pin(call::run(
        &listener_gw,
        &mut listener_events,
        listen,
        AudioInput::Silence,
        AudioOutput::Discard,
        controls_l,
    ));
    let speaking = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let source = WavSource::open(&input, Pacing::AsFastAsPossible).expect("input");
        Box::pin(call::run(
            &speaker_gw,
            &mut speaker_events,
            speak,
            AudioInput::Wav(Box::new(source)),
            AudioOutput::Discard,
            controls_s,
        ))
        .await
    };
    // Hears the speaker, disrupts the call, and times how long until the speaker is
    // heard again.
    let disrupting = async {
        let heard = |status: &CallStatus| status.speaking.contains(&speaker);
        let before = wait_for(&mut status, heard, BEFORE_DISRUPTION + Duration::from_secs(2)).await;
        assert!(before.is_some(), "the listener hears the speaker before the disruption");
        tokio::time::sleep(Duration::from_millis(500)).await;
        match &disruption {
            Disruption::Restart => Box::pin(server.restart()).await,
            Disruption::NetworkChange(path) => path.go_dark(),
        }
        let disrupted = Instant::now();
        // Wait for silence first: what was in flight before does not count.
        wait_for(&mut status, |s| !heard(s), Duration::from_secs(5)).await;
        let again = wait_for(&mut status, heard, Duration::from_secs(10)).await;
        again.map(|at| at - disrupted)
    };
    let (heard, spoke, back_after) = tokio::join!(listening, speaking, disrupting);
    let heard: CallReport = heard.expect("the listener's call runs to its end");
    let spoke: CallReport = spoke.expect("the speaker's call runs to its end");
    assert_eq!(heard.ended, "duration reached", "{heard:?}");
    assert_eq!(spoke.ended, "duration reached", "{spoke:?}");
    assert_eq!(spoke.rejoins.len(), 1, "the speaker rejoined once: {spoke:?}");
    assert_eq!(heard.rejoins.len(), 1, "the listener rejoined once: {heard:?}");
    let back_after = back_after.expect("the listener hears the speaker again");

    speaker_gw.close().await;
    listener_gw.close().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    (back_after, (spoke.rejoins, heard.rejoins))
}

/// Waits until `check` holds for the call's status; when it did, or `None` on timeout.
async fn wait_for(
    status: &mut watch::Receiver<CallStatus>,
    check: impl Fn(&CallStatus) -> bool,
    within: Duration,
) -> Option<Instant> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check(&status.borrow_and_update()) {
            return Some(Instant::now());
        }
        match tokio::time::timeout_at(deadline, status.changed()).await {
            Ok(Ok(())) => {}
            _ => return None,
        }
    }
}
