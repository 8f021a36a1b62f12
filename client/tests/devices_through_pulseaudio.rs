//! Speech through real devices: a fixture is played into a virtual microphone (a null
//! sink's monitor) in real time, captured through a real cpal input stream, handed to the
//! engine side as 10 ms frames, played back through a real cpal output stream into a
//! second null sink, and recorded from that sink's monitor. The recording must correlate
//! with the fixture, and the delay our device path adds is measured against a baseline of
//! the same fixture played straight into the speaker.
//!
//! Needs the headless PulseAudio of `scripts/pulse-headless.sh` (see support/pulse.rs).

#![allow(clippy::unwrap_used)]

#[path = "support/pulse.rs"]
mod pulse;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auraspeak_client::voice::compare::{Comparison, correlation, energy_db, find_lag};
use auraspeak_client::voice::device::{
    AudioHost, AudioIo, AudioIoConfig, DeviceChoice, DeviceEvent, Direction,
};
use auraspeak_client::voice::{Frame, Pacing, SAMPLE_RATE, WavSource};
use pulse::{Pulse, Recorder, pactl, play};

const SPEECH: &str = "speech-en-us-male.wav";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn fixture(name: &str) -> Vec<f32> {
    WavSource::open(fixture_path(name), Pacing::AsFastAsPossible).unwrap().read_to_end().unwrap()
}

fn seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

/// Records the speaker while `wav` is played into `sink`, and returns the recording and
/// how long after the recorder's start paplay was started.
fn record_while_playing(pulse: &Pulse, sink: &str, wav: &str) -> (Vec<f32>, Duration) {
    // Recording starts first and runs until well after the file ends, so the alignment
    // search sees the whole signal wherever the devices put it.
    let recorder = Recorder::start(&pulse.out_monitor());
    let deadline = Instant::now() + Duration::from_secs(5);
    while recorder.len() < SAMPLE_RATE as usize / 10 {
        assert!(Instant::now() < deadline, "parec delivered nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    let offset = recorder.started.elapsed();
    let status = play(sink, &fixture_path(wav)).wait().unwrap();
    assert!(status.success(), "paplay failed");
    std::thread::sleep(Duration::from_millis(600));
    (recorder.stop(), offset)
}

/// How well a recording carries the reference, judged piece by piece: under CPU load a
/// device may skip or repeat a few milliseconds (an xrun), which shifts everything after
/// it, so one alignment for the whole clip would call a glitch a failure. Each 400 ms
/// piece with speech in it is aligned on its own within ±100 ms of the overall lag.
#[derive(Debug)]
struct PiecewiseMatch {
    /// Overall delay of the recording, in samples (the median of the pieces' delays).
    lag: usize,
    /// Correlation of each piece with speech, after its own alignment.
    correlations: Vec<f64>,
}

impl PiecewiseMatch {
    const PIECE: usize = 19_200;
    const SLACK: usize = 4_800;

    fn new(reference: &[f32], recording: &[f32]) -> Self {
        let overall = find_lag(reference, recording, recording.len());
        let mut lags = Vec::new();
        let mut correlations = Vec::new();
        for start in (0..reference.len().saturating_sub(Self::PIECE)).step_by(Self::PIECE) {
            let piece = &reference[start..start + Self::PIECE];
            if energy_db(piece) < -40.0 {
                continue;
            }
            let from = (overall + start).saturating_sub(Self::SLACK);
            let to = (overall + start + Self::PIECE + Self::SLACK).min(recording.len());
            let window = recording.get(from..to).unwrap_or(&[]);
            let local = find_lag(piece, window, 2 * Self::SLACK);
            let aligned = window.get(local..).unwrap_or(&[]);
            correlations.push(correlation(piece, aligned));
            lags.push(from + local - start);
        }
        lags.sort_unstable();
        Self { lag: lags.get(lags.len() / 2).copied().unwrap_or(overall), correlations }
    }

    fn median(&self) -> f64 {
        let mut c = self.correlations.clone();
        c.sort_by(f64::total_cmp);
        c.get(c.len() / 2).copied().unwrap_or(0.0)
    }

    fn share_above(&self, threshold: f64) -> f64 {
        let above = self.correlations.iter().filter(|&&c| c >= threshold).count();
        above as f64 / self.correlations.len().max(1) as f64
    }

    /// The speech came through: most pieces nearly identical, some glitches allowed (a
    /// path that lost or garbled the speech scores near 0 throughout).
    fn speech_came_through(&self) -> bool {
        self.correlations.len() >= 5 && self.median() >= 0.9 && self.share_above(0.8) >= 0.6
    }
}

#[test]
fn devices_are_listed_by_id_and_name() {
    let Some(pulse) = Pulse::from_env() else { return };
    let host = AudioHost::new().unwrap();
    assert_eq!(host.name(), "PulseAudio");
    let list = host.list().unwrap();
    let ids = |d: Direction| list.devices(d).iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    for source in [pulse.mic_source(), pulse.out_monitor()] {
        assert!(ids(Direction::Input).contains(&source), "{source} missing: {list:?}");
    }
    for sink in [&pulse.out_sink, &pulse.mic_sink] {
        assert!(ids(Direction::Output).contains(sink), "{sink} missing: {list:?}");
    }
    let speaker = list.outputs.iter().find(|d| d.id == pulse.out_sink).unwrap();
    assert_eq!(speaker.name, "AuraSpeak-Speaker");
    assert_eq!(list.default_input.as_deref(), Some(pulse.mic_source().as_str()));
    assert_eq!(list.default_output.as_deref(), Some(pulse.out_sink.as_str()));
}

#[test]
fn speech_goes_through_capture_and_playback_devices() {
    let Some(pulse) = Pulse::from_env() else { return };
    let reference = fixture(SPEECH);
    // PulseAudio resumes sinks at full volume, but a previous run may have left them lower.
    pactl(&["set-sink-volume", &pulse.out_sink, "100%"]);
    pactl(&["set-sink-volume", &pulse.mic_sink, "100%"]);

    // Baseline: the same file straight into the speaker, to subtract what paplay and parec
    // themselves add.
    let (direct, direct_offset) = record_while_playing(&pulse, &pulse.out_sink, SPEECH);
    let direct_lag = find_lag(&reference, &direct, direct.len());
    let baseline = seconds(direct_lag) - direct_offset.as_secs_f64();

    // The microphone by id, the speaker by its human name: both ways a user chooses.
    let (io, port) = AudioIo::start(AudioIoConfig {
        input: Some(DeviceChoice::Id(pulse.mic_source())),
        output: Some(DeviceChoice::Name("AuraSpeak-Speaker".into())),
        ..AudioIoConfig::default()
    })
    .unwrap();
    let mut opened = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while opened.len() < 2 {
        assert!(Instant::now() < deadline, "streams did not open: {opened:?}");
        if let Some(DeviceEvent::Opened { direction, info }) =
            io.wait_event(Duration::from_millis(100))
        {
            opened.push((direction, info));
        }
    }

    // The engine thread: straight through, keeping what was captured for comparison.
    let stop = Arc::new(AtomicBool::new(false));
    let engine = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut captured: Vec<Frame> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(frame) = port.recv(Duration::from_millis(50)) {
                    port.play(frame);
                    captured.push(frame);
                }
            }
            captured
        })
    };
    // A call's first moments settle the buffers: on a loaded machine the buffer policy
    // moves from 10 ms to larger periods, each move a gap that would otherwise cut into the
    // speech. Settled is a second without a move (at most five seconds of waiting).
    let mut events = Vec::new();
    let settle_deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < settle_deadline {
        match io.wait_event(Duration::from_secs(1)) {
            Some(event) => events.push(event),
            None => break,
        }
    }
    let settled = io.stats();
    let (recording, offset) = record_while_playing(&pulse, &pulse.mic_sink, SPEECH);
    stop.store(true, Ordering::Relaxed);
    let captured: Vec<f32> = engine.join().unwrap().into_iter().flatten().collect();
    let stats = io.stats();

    let through_capture = PiecewiseMatch::new(&reference, &captured);
    let through_both = PiecewiseMatch::new(&reference, &recording);
    let added_ms = (seconds(through_both.lag) - offset.as_secs_f64() - baseline) * 1000.0;
    for (direction, info) in &opened {
        eprintln!(
            "{direction}: {} at {} Hz, {} ch, {}; asked {:?}, granted {:?} frames",
            info.device.id,
            info.sample_rate,
            info.channels,
            info.sample_format,
            info.requested,
            info.buffer_frames
        );
    }
    eprintln!(
        "capture only: median correlation {:.3}, {through_capture:?}",
        through_capture.median()
    );
    eprintln!(
        "capture and playback: median correlation {:.3}, {through_both:?}",
        through_both.median()
    );
    eprintln!(
        "latency: paplay->parec baseline {:.1} ms; the device path adds {added_ms:.1} ms",
        baseline * 1000.0
    );
    eprintln!("stats after settling: {settled:?}");
    eprintln!("stats: {stats:?}");
    events.extend(std::iter::from_fn(|| io.poll_event()));
    for event in &events {
        if !matches!(event, DeviceEvent::Opened { .. }) {
            eprintln!("event: {event:?}");
        }
    }

    assert!(through_capture.speech_came_through(), "capture: {through_capture:?}");
    assert!(through_both.speech_came_through(), "capture and playback: {through_both:?}");
    // And the whole clip, aligned once, sounds like the fixture (loudness and timbre
    // survive; correlation is only asked of the pieces, since a glitch shifts the rest).
    let whole = Comparison::new(&reference, &recording, recording.len());
    assert!(whole.energy_diff_db.abs() < 2.0 && whole.spectral_distance_db < 2.0, "{whole:?}");
    // Periods of 10 to 80 ms and a playback queue trimmed to 40 ms: even at the top of the
    // buffer ladder the path adds well under half a second.
    assert!((0.0..400.0).contains(&added_ms), "added latency {added_ms:.1} ms");
    assert!(stats.captured_frames as usize * 480 >= reference.len(), "{stats:?}");
    assert_eq!(stats.rebuilds, 0, "nothing should have been rebuilt: {stats:?}");
}
