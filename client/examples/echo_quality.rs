//! Writes the echo canceller's simulated calls as WAV files for `scripts/echo-quality.py`,
//! which scores them (ERLE, ducking, PESQ-WB of the near talker) and runs the same
//! microphone and far-end signals through a reference AEC3 (WebRTC's C++ one, as LiveKit's
//! Python package ships it) where that is installed.
//!
//! ```sh
//! cargo run --release -p auraspeak-client --example echo_quality -- OUT_DIR [FAR.wav,... NEAR.wav,...]
//! ```
//!
//! The far end and the near talker speak the given files in turn (comma-separated lists);
//! without them both use the committed fixtures, the near talker starting with the other
//! one. Different voices and sentences on the two sides are the fairer test: the same
//! recording on both lets the canceller's delay estimator find false echoes. For each case it writes
//! `CASE.far.wav` (what the speakers played), `CASE.near.wav` (the near talker alone),
//! `CASE.echo.wav` (the echo alone), `CASE.mic.wav` (what the microphone heard) and
//! `CASE.out.wav` (the canceller's output, moved earlier by its latency), 48 kHz mono, plus
//! `cases.txt` with one line per case: name, the sample where scoring starts, and the
//! delay-jump sample (0 if none).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use auraspeak_client::voice::echosim::{self, EchoPath};
use auraspeak_client::voice::{EchoCanceller, Pacing, SAMPLE_RATE, WavSink, WavSource};

type BoxError = Box<dyn std::error::Error>;

const RATE: usize = SAMPLE_RATE as usize;

fn read(path: &Path) -> Result<Vec<f32>, BoxError> {
    Ok(WavSource::open(path, Pacing::AsFastAsPossible)?.read_to_end()?)
}

fn write(path: &Path, samples: &[f32]) -> Result<(), BoxError> {
    let mut sink = WavSink::create(path)?;
    sink.write(samples)?;
    sink.finalize()?;
    Ok(())
}

/// The talks in turn with short pauses, `seconds` long, starting at talk `first`.
fn talk(talks: &[Vec<f32>], seconds: usize, first: usize) -> Vec<f32> {
    let mut out = Vec::new();
    let mut i = first;
    while out.len() < seconds * RATE {
        out.extend(&talks[i % talks.len()]);
        out.extend(std::iter::repeat_n(0.0, RATE / 5));
        i += 1;
    }
    out.truncate(seconds * RATE);
    out
}

/// One simulated call.
#[derive(Clone)]
struct Case {
    rt60_ms: u32,
    delay_ms: u32,
    /// The round trip after a device switch 6 s in.
    jump_to: Option<u32>,
    /// Echo level relative to the near talker.
    echo_db: f64,
    /// Whether the canceller is restarted at the jump, as the app does on a device switch.
    announced: bool,
    /// When the near talker starts, in seconds (none: single talk).
    near_from: Option<usize>,
    seconds: usize,
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: echo_quality OUT_DIR [FAR,... NEAR,...]")?);
    let list = |arg: Option<String>| -> Result<Option<Vec<Vec<f32>>>, BoxError> {
        arg.map(|a| a.split(',').map(|f| read(Path::new(f))).collect()).transpose()
    };
    let (far_talks, near_talks, near_first) = match (list(args.next())?, list(args.next())?) {
        (Some(far), Some(near)) => (far, near, 0),
        _ => {
            let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            let both = vec![
                read(&fixtures.join("speech-en-gb-female.wav"))?,
                read(&fixtures.join("speech-en-us-male.wav"))?,
            ];
            (both.clone(), both, 1)
        }
    };
    std::fs::create_dir_all(&out)?;
    let mut index = std::fs::File::create(out.join("cases.txt"))?;

    let mut cases = Vec::new();
    for rt60_ms in [150, 250, 400] {
        for (delay_ms, echo_db) in [(30, 6.0), (90, 0.0), (200, -6.0)] {
            let single = Case {
                rt60_ms,
                delay_ms,
                jump_to: None,
                announced: false,
                echo_db,
                near_from: None,
                seconds: 10,
            };
            let double = Case { near_from: Some(3), seconds: 12, ..single.clone() };
            cases.push((format!("single-rt{rt60_ms}-d{delay_ms}-e{echo_db:+}"), single));
            cases.push((format!("double-rt{rt60_ms}-d{delay_ms}-e{echo_db:+}"), double));
        }
    }
    for (from, to, announced) in
        [(40, 150, false), (200, 60, false), (40, 150, true), (200, 60, true)]
    {
        let jump = Case {
            rt60_ms: 200,
            delay_ms: from,
            jump_to: Some(to),
            announced,
            echo_db: 0.0,
            near_from: None,
            seconds: 14,
        };
        let restart = if announced { "-restarted" } else { "" };
        cases.push((format!("jump-{from}-{to}{restart}"), jump));
    }
    let headset = Case {
        rt60_ms: 250,
        delay_ms: 90,
        jump_to: None,
        announced: false,
        echo_db: -200.0,
        near_from: Some(0),
        seconds: 40,
    };
    cases.push(("headset".to_owned(), headset));

    for (seed, (name, case)) in cases.into_iter().enumerate() {
        let Case { rt60_ms, delay_ms, jump_to, announced, echo_db, near_from, seconds } = case;
        let far = talk(&far_talks, seconds, 0);
        let near = match near_from {
            Some(from) => {
                let mut near = vec![0.0; from * RATE];
                near.extend(talk(&near_talks, seconds - from, near_first));
                near
            }
            None => Vec::new(),
        };
        let jump_frame = 6 * RATE / auraspeak_client::voice::FRAME_SAMPLES;
        let path = EchoPath {
            rt60_ms,
            delay_ms,
            jump: jump_to.map(|to| (jump_frame, to)),
            announced,
            seed: 1000 + seed as u64,
        };
        let run = echosim::run(&mut EchoCanceller::new(true), &far, &near, &path, echo_db, -70.0);
        for (kind, samples) in [
            ("far", &run.far),
            ("near", &run.near),
            ("echo", &run.echo),
            ("mic", &run.mic),
            ("out", &run.out),
        ] {
            write(&out.join(format!("{name}.{kind}.wav")), samples)?;
        }
        let score_from = near_from.map_or(2 * RATE, |from| from * RATE);
        let jump_at =
            if jump_to.is_some() { jump_frame * auraspeak_client::voice::FRAME_SAMPLES } else { 0 };
        writeln!(index, "{name} {score_from} {jump_at}")?;
        println!("{name}: written");
    }
    Ok(())
}
