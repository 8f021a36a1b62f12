//! CPU cost of each voice stage per 10 ms frame, on the committed speech fixture.
//!
//! ```sh
//! cargo run -p auraspeak-client --example voice_bench            # dev profile (DSP deps at opt-level 3)
//! cargo run -p auraspeak-client --example voice_bench --release  # what users run
//! ```
//!
//! Prints microseconds of CPU per frame and the share of one core (a frame is 10 000 µs of
//! audio). CPU time is this process's time on a core, all its threads (Linux `schedstat`), so
//! other load on the machine does not inflate it; elsewhere it falls back to wall-clock time.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use auraspeak_client::voice::{
    Agc, AgcConfig, CaptureConfig, CapturePipeline, EchoCanceller, EncodedPacket, EncoderConfig,
    FRAME_DURATION, FRAME_SAMPLES, Frame, GateMode, HighPass, InputGain, JitterConfig, LevelMeter,
    Mixer, NoiseSuppressor, Pacing, RemoteSpeaker, TransmitGate, VoiceDecoder, VoiceEncoder,
    WavSource,
};

type BoxError = Box<dyn std::error::Error>;

fn load_frames() -> Result<Vec<Frame>, BoxError> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speech-en-us-male.wav");
    let mut source = WavSource::open(path, Pacing::AsFastAsPossible)?;
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame()? {
        frames.push(frame);
    }
    Ok(frames)
}

/// A point in this thread's CPU time, or in wall-clock time where that is unavailable.
#[derive(Clone, Copy)]
enum Stamp {
    Cpu(u64),
    Wall(Instant),
}

impl Stamp {
    fn now() -> Self {
        // schedstat's first field: nanoseconds a thread has spent running on a CPU, summed
        // over this process's threads (the echo canceller runs on one of its own).
        let tasks = std::fs::read_dir("/proc/self/task").ok();
        tasks
            .map(|dir| {
                dir.flatten()
                    .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
                    .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
                    .sum()
            })
            .map_or_else(|| Stamp::Wall(Instant::now()), Stamp::Cpu)
    }

    fn elapsed(self) -> Duration {
        match (self, Stamp::now()) {
            (Stamp::Cpu(a), Stamp::Cpu(b)) => Duration::from_nanos(b.saturating_sub(a)),
            (Stamp::Wall(a), _) => a.elapsed(),
            (Stamp::Cpu(_), Stamp::Wall(_)) => Duration::ZERO,
        }
    }
}

/// Runs `stage` over passes of the fixture until it has used at least `MIN_CPU` (at least
/// `rounds` passes) and prints its cost per frame. Long runs matter: the kernel updates a
/// thread's CPU time only at scheduler ticks (~4 ms), too coarse for a few short passes.
fn measure(name: &str, frames: &[Frame], rounds: usize, mut stage: impl FnMut(usize, &mut Frame)) {
    const MIN_CPU: Duration = Duration::from_millis(400);
    let start = Stamp::now();
    let mut n = 0usize;
    let mut passes = 0;
    while passes < rounds || start.elapsed() < MIN_CPU {
        for (i, f) in frames.iter().enumerate() {
            let mut frame = *f;
            stage(n + i, &mut frame);
            black_box(&frame);
        }
        n += frames.len();
        passes += 1;
    }
    report(name, start.elapsed(), n);
}

fn report(name: &str, elapsed: Duration, frames: usize) {
    let per_frame_us = elapsed.as_secs_f64() * 1e6 / frames as f64;
    let share = per_frame_us / FRAME_DURATION.as_secs_f64() / 1e6 * 100.0;
    println!("{name:<44} {per_frame_us:>9.1} µs/frame {share:>7.2} % of one core");
}

fn main() -> Result<(), BoxError> {
    let frames = load_frames()?;
    let rounds = 5;
    let t0 = Instant::now();
    let profile = if cfg!(debug_assertions) { "dev (deps at opt-level 3)" } else { "release" };
    let clock = match Stamp::now() {
        Stamp::Cpu(_) => "process CPU time",
        Stamp::Wall(_) => "wall-clock time",
    };
    println!(
        "profile: {profile}; {clock}; fixture of {} frames, at least {rounds} passes and 0.4 s per stage\n",
        frames.len()
    );

    println!("capture stages");
    let mut hp = HighPass::default();
    measure("high-pass", &frames, rounds, |_, f| hp.process(f));
    let mut ns = NoiseSuppressor::new(true);
    measure("noise suppression (nnnoiseless)", &frames, rounds, |_, f| {
        black_box(ns.process(f));
    });
    // The default at 20 ms packets: RNNoise and the spectral post-filter.
    let mut ns2 = NoiseSuppressor::new(true);
    ns2.set_post_filter(true);
    measure("noise suppression + post-filter (strong)", &frames, rounds, |_, f| {
        black_box(ns2.process(f));
    });
    // The far end is the fixture itself, played 100 ms earlier: AEC3 adapts to it as to a
    // room's echo, so this measures the canceller at work, not idling on silence.
    let mut echo = EchoCanceller::new(true);
    measure("echo cancellation (AEC3), far end talking", &frames, rounds, |i, f| {
        let far = frames[(i + frames.len() - 10) % frames.len()];
        echo.handle_far_end(&far);
        echo.process(f);
    });
    let mut gain = InputGain::new(3.0);
    let mut agc = Agc::new(AgcConfig::default(), true);
    measure("input gain + AGC", &frames, rounds, |_, f| {
        gain.process(f);
        agc.process(f, 0.9);
    });
    let mut meter = LevelMeter::new();
    let mut gate = TransmitGate::new(GateMode::default());
    measure("level meter + gate", &frames, rounds, |i, f| {
        let level = meter.process(f);
        black_box(gate.handle_frame(t0 + FRAME_DURATION * i as u32, 0.9, level));
    });
    let mut enc = VoiceEncoder::new(EncoderConfig { dtx: false, ..Default::default() })?;
    let mut packets: Vec<EncodedPacket> = Vec::new();
    measure("Opus encode (20 ms, 40 kb/s, default complexity)", &frames, rounds, |_, f| {
        if let Ok(Some(p)) = enc.push_frame(f) {
            packets.push(p);
        }
    });
    // Lower complexity is cheaper but costs quality: clean-link PESQ 4.11 at 10, 4.02 at 7
    // and 6, 3.76 at 5 (`voice_quality` diag).
    for complexity in [7u8, 6] {
        let mut enc =
            VoiceEncoder::new(EncoderConfig { dtx: false, complexity, ..Default::default() })?;
        measure(&format!("Opus encode, complexity {complexity}"), &frames, rounds, |_, f| {
            black_box(enc.push_frame(f).ok());
        });
    }
    let mut pipeline = CapturePipeline::new(CaptureConfig::default())?;
    measure("full capture chain at defaults", &frames, rounds, |i, f| {
        black_box(pipeline.process(t0 + FRAME_DURATION * i as u32, f).ok());
    });
    let mut pipeline = CapturePipeline::new(CaptureConfig::default())?;
    measure("full capture chain at defaults, far end talking", &frames, rounds, |i, f| {
        pipeline.handle_far_end(&frames[(i + frames.len() - 10) % frames.len()]);
        black_box(pipeline.process(t0 + FRAME_DURATION * i as u32, f).ok());
    });
    let mut pipeline =
        CapturePipeline::new(CaptureConfig { echo_cancellation: false, ..Default::default() })?;
    measure("full capture chain, echo cancellation off", &frames, rounds, |i, f| {
        black_box(pipeline.process(t0 + FRAME_DURATION * i as u32, f).ok());
    });
    let mut pipeline =
        CapturePipeline::new(CaptureConfig { gate: GateMode::Continuous, ..Default::default() })?;
    measure("full capture chain, always transmitting", &frames, rounds, |i, f| {
        black_box(pipeline.process(t0 + FRAME_DURATION * i as u32, f).ok());
    });

    println!("\nreceive side");
    let mut dec = VoiceDecoder::new()?;
    let mut pcm = Vec::new();
    let start = Stamp::now();
    for p in &packets {
        pcm.clear();
        dec.decode(&p.payload, &mut pcm)?;
    }
    report("Opus decode", start.elapsed(), packets.len() * 2);

    for speakers in [1u32, 5, 20] {
        let mut mixer: Mixer<u32> = Mixer::new();
        for id in 0..speakers {
            mixer.insert_speaker(id, RemoteSpeaker::new(JitterConfig::default())?);
        }
        // Each speaker gets the same packet stream, arriving on time.
        let ticks = packets.len() * 2;
        let start = Stamp::now();
        let mut out = [0.0; FRAME_SAMPLES];
        for tick in 0..ticks {
            let now = t0 + FRAME_DURATION * tick as u32;
            if tick % 2 == 0
                && let Some(p) = packets.get(tick / 2)
            {
                for id in 0..speakers {
                    if let Some(s) = mixer.speaker_mut(&id) {
                        s.handle_packet(now, p.clone());
                    }
                }
            }
            mixer.poll_frame(now, &mut out);
            black_box(&out);
        }
        report(&format!("receive chain + mix, {speakers} speakers"), start.elapsed(), ticks);
    }
    Ok(())
}
