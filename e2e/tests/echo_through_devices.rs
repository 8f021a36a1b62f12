//! Echo through real devices: two `auraspeak voice join` processes through the real server.
//! The listener plays through a PulseAudio sink whose sound is looped back into its own
//! microphone (module-loopback, 60 ms, at full level: laptop speakers beside the
//! microphone); the speaker talks from a file and records what comes back. Without echo
//! cancellation the speaker hears itself a round trip later; with it (the default), after
//! the canceller has heard a few seconds of the far end, it must not.
//!
//! Media, not storage, is under test: SQLite only.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;
#[path = "../../client/tests/support/pulse.rs"]
mod pulse;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use auraspeak_client::voice::compare::energy_db;
use auraspeak_client::voice::{Pacing, SAMPLE_RATE, WavSink, WavSource};
use cli::{Cli, finish};
use harness::{Backend, TestServer};
use pulse::{Pulse, pactl};
use tokio::io::AsyncWriteExt as _;

const RATE: usize = SAMPLE_RATE as usize;

/// The room: a speaker sink, a microphone sink fed from the speaker's monitor by a
/// loopback, and the microphone as a source. Unloaded when dropped.
struct Room {
    modules: Vec<String>,
    keepers: Vec<Child>,
    out_sink: String,
    mouth: String,
}

impl Room {
    fn new() -> Self {
        let id = format!("{}_{}", std::process::id(), harness::unique());
        let out_sink = format!("aec_out_{id}");
        let mic_sink = format!("aec_mic_{id}");
        let mouth = format!("aec_mouth_{id}");
        let mut room = Self { modules: Vec::new(), keepers: Vec::new(), out_sink, mouth };
        for sink in [&room.out_sink, &mic_sink] {
            let module = pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={sink}"),
                "channels=1",
                "rate=48000",
            ]);
            room.modules.push(module);
            // A null sink renders in blocks as long as the lowest latency its streams ask
            // for (2 s with none): a 10 ms reader keeps it rendering in 10 ms steps.
            room.keepers.push(
                Command::new("parec")
                    .args([&format!("--device={sink}.monitor"), "--latency-msec=10"])
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("parec"),
            );
        }
        room.modules.push(pactl(&[
            "load-module",
            "module-remap-source",
            &format!("source_name={}", room.mouth),
            &format!("master={mic_sink}.monitor"),
            "channels=1",
            "channel_map=mono",
        ]));
        room.modules.push(pactl(&[
            "load-module",
            "module-loopback",
            &format!("source={}.monitor", room.out_sink),
            &format!("sink={mic_sink}"),
            "latency_msec=60",
        ]));
        room
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        for keeper in &mut self.keepers {
            keeper.kill().ok();
            keeper.wait().ok();
        }
        for module in self.modules.iter().rev() {
            Command::new("pactl").args(["unload-module", module]).output().ok();
        }
    }
}

/// Both fixtures twice with pauses: about 12 s of talk.
fn talk(path: &Path) -> Vec<f32> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client/tests/fixtures");
    let mut samples = Vec::new();
    for name in ["speech-en-us-male.wav", "speech-en-gb-female.wav"].repeat(2) {
        let part = WavSource::open(fixtures.join(name), Pacing::AsFastAsPossible)
            .expect("fixture")
            .read_to_end()
            .expect("read");
        samples.extend(part);
        samples.extend(std::iter::repeat_n(0.0, RATE * 2 / 5));
    }
    let mut sink = WavSink::create(path).expect("wav");
    sink.write(&samples).expect("write");
    sink.finalize().expect("finalize");
    samples
}

/// Level of each second of `samples`, in dBFS.
fn per_second_db(samples: &[f32]) -> Vec<f64> {
    samples.chunks(RATE).map(energy_db).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_end_does_not_hear_itself_through_laptop_speakers() {
    if Pulse::from_env().is_none() {
        return;
    }
    let s = TestServer::start(&Backend::Sqlite).await;
    let _c = community::setup(&s.base).await;
    let speaker = Cli::login(&s.base, "member").await;
    let listener = Cli::login(&s.base, "owner").await;
    let room = Room::new();
    let dir = std::env::temp_dir().join(format!("auraspeak-echo-{}", harness::unique()));
    std::fs::create_dir_all(&dir).expect("dir");
    let speech_path = dir.join("talk.wav");
    let speech = talk(&speech_path);
    let speech_db = energy_db(&speech);

    let mut late = Vec::new();
    for mode in ["off", "on"] {
        let listening = listener.join(&[
            "--input",
            &room.mouth,
            "--output",
            &room.out_sink,
            "--echo-cancellation",
            mode,
        ]);
        // Signaling, ICE and DTLS first: the talk must not start into a half-made call.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let recording = dir.join(format!("heard-{mode}.wav"));
        let speaking = speaker.join(&[
            "--input",
            &speech_path.to_string_lossy(),
            "--output",
            &recording.to_string_lossy(),
        ]);
        let mut listening = listening;
        let mut controls = listening.stdin.take().expect("stdin");
        finish(speaking, "speaker").await;
        controls.write_all(b"leave\n").await.expect("leave");
        let report = finish(listening, "listener").await;
        // The report says what the canceller saw where it ran, and nothing where it did not.
        eprintln!("echo cancellation {mode}: the listener reported {}", report["echo"]);
        assert_eq!(report["echo"]["delay_ms"].is_i64(), mode == "on", "{report}");
        let heard = WavSource::open(&recording, Pacing::AsFastAsPossible)
            .expect("recording")
            .read_to_end()
            .expect("read");
        let seconds = per_second_db(&heard);
        eprintln!(
            "echo cancellation {mode}: the speaker heard, per second (dBFS, it talked at {speech_db:.1}): {}",
            seconds.iter().map(|d| format!("{d:.0}")).collect::<Vec<_>>().join(" ")
        );
        // From 3 s on, the median second: the canceller has had a few seconds of the far end
        // to converge; a second where it lost the echo path for a moment (the device layer
        // moved to larger buffers on a loaded machine, say) does not decide.
        let mut from_3s: Vec<f64> = seconds.iter().skip(3).copied().collect();
        from_3s.sort_by(f64::total_cmp);
        late.push(from_3s.get(from_3s.len() / 2).copied().unwrap_or(f64::NEG_INFINITY));
    }
    std::fs::remove_dir_all(&dir).ok();
    let (off, on) = (late[0], late[1]);
    eprintln!(
        "echo heard in the median second from 3 s on: {off:.1} dBFS without cancellation, {on:.1} dBFS with"
    );
    // The loop is real: without cancellation the speaker hears itself about as loud as it
    // talked (the gate opens on the echo).
    assert!(off > speech_db - 12.0, "no echo came back without cancellation: {off:.1} dBFS");
    assert!(on < off - 25.0, "echo {on:.1} dBFS with cancellation, {off:.1} dBFS without");
    drop(room);
    s.stop().await;
}
