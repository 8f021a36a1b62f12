//! A call survives a server restart: both participants' clients notice the new gateway
//! session, join the voice channel again on a fresh media link, and the listener hears
//! the speaker again. The time from the server being back until the listener hears the
//! speaker again is printed (the goal is 5 s; `voice_rejoin` in the closing notes).

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/online.rs"]
mod online;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use auraspeak_client::call::{self, AudioInput, AudioOutput, CallOptions, CallReport, CallStatus};
use auraspeak_client::voice::{Pacing, WavSink, WavSource};
use auraspeak_shared::v1::channels::ChannelKind;
use harness::{Backend, TestServer};
use tokio::sync::{mpsc, watch};

backend_tests!(a_call_comes_back_after_a_server_restart);

const BEFORE_RESTART: Duration = Duration::from_secs(4);
const CALL: Duration = Duration::from_secs(14);

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
    let seconds = speech.len() as f64 / 48_000.0;
    for _ in 0..(CALL.as_secs_f64() / seconds).ceil() as usize + 1 {
        sink.write(&speech).expect("write");
    }
    sink.finalize().expect("finalize");
    path
}

async fn a_call_comes_back_after_a_server_restart(backend: Backend) {
    let mut server = TestServer::start(&backend).await;
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

    let listening = call::run(
        &listener_gw,
        &mut listener_events,
        listen,
        AudioInput::Silence,
        AudioOutput::Discard,
        controls_l,
    );
    let speaking = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let source = WavSource::open(&input, Pacing::AsFastAsPossible).expect("input");
        call::run(
            &speaker_gw,
            &mut speaker_events,
            speak,
            AudioInput::Wav(Box::new(source)),
            AudioOutput::Discard,
            controls_s,
        )
        .await
    };
    // Hears the speaker, has the server restarted, and times how long until the speaker
    // is heard again.
    let restarting = async {
        let heard = |status: &CallStatus| status.speaking.contains(&speaker);
        let before = wait_for(&mut status, heard, BEFORE_RESTART + Duration::from_secs(2)).await;
        assert!(before.is_some(), "the listener hears the speaker before the restart");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let down = Instant::now();
        server.restart().await;
        let up = Instant::now();
        // Wait for silence first: what was in flight before the restart does not count.
        wait_for(&mut status, |s| !heard(s), Duration::from_secs(5)).await;
        let again = wait_for(&mut status, heard, Duration::from_secs(8)).await;
        (up - down, again.map(|at| at - up))
    };
    let (heard, spoke, (restart_took, back_after)) = tokio::join!(listening, speaking, restarting);
    let heard: CallReport = heard.expect("the listener's call runs to its end");
    let spoke: CallReport = spoke.expect("the speaker's call runs to its end");
    eprintln!(
        "server restart took {restart_took:?}; the listener heard the speaker again {back_after:?} \
         after the server was back; rejoins: speaker {:?}, listener {:?}",
        spoke.rejoins, heard.rejoins
    );
    assert_eq!(heard.ended, "duration reached", "{heard:?}");
    assert_eq!(spoke.ended, "duration reached", "{spoke:?}");
    assert_eq!(spoke.rejoins.len(), 1, "the speaker rejoined once: {spoke:?}");
    assert_eq!(heard.rejoins.len(), 1, "the listener rejoined once: {heard:?}");
    assert!(back_after.is_some(), "the listener hears the speaker again after the restart");

    speaker_gw.close().await;
    listener_gw.close().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
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
