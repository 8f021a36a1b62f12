//! Writes the WAV files that `scripts/voice-quality.sh` scores with PESQ, and a manifest
//! (`manifest.tsv`) naming each processed file, its clean reference and what the engine
//! counted on the way.
//!
//! Two measurements:
//! - `loss`: the speech fixtures through the whole chain (capture → Opus → seeded network
//!   → jitter buffer → decode → mixer) at the default bitrate, on a clean link (also with
//!   Opus alone, no suppression, AGC or gate), at 5, 10
//!   and 20 % random loss and 10 % bursty loss, with redundancy off (in-band FEC and
//!   concealment only) and on (sized from the receiver's loss reports); several seeds each.
//! - `noise`: the fixtures mixed with pink, babble-like, keyboard-like and fan noise at 5,
//!   15 and 25 dB SNR, processed by plain nnnoiseless alone and by the whole capture chain
//!   (high-pass, suppression, AGC, voice-activity gate: what is sent).
//!
//! Usage: `cargo run --release -p auraspeak-client --example voice_quality -- OUT_DIR [loss|noise]...`

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auraspeak_client::voice::compare::{energy_db, find_lag};
use auraspeak_client::voice::netsim::{NetworkConfig, SplitMix64};
use auraspeak_client::voice::simcall::{CallConfig, run_call};
use auraspeak_client::voice::{
    CaptureConfig, EncoderConfig, FRAME_DURATION, FRAME_SAMPLES, Frame, GateMode, NoiseSuppressor,
    Pacing, RedundancyMode, VadConfig, WavSink, WavSource,
};

const FIXTURES: [&str; 2] = ["speech-en-us-male", "speech-en-gb-female"];
const SEEDS: u64 = 4;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: voice_quality OUT_DIR [loss|noise]...")?);
    let mut what: Vec<String> = args.collect();
    if what.is_empty() {
        what = vec!["loss".into(), "noise".into()];
    }
    std::fs::create_dir_all(&out)?;
    let mut manifest = std::fs::File::create(out.join("manifest.tsv"))?;
    writeln!(
        manifest,
        "kind\tcase\tvariant\treference\tprocessed\tlost\tfec\tcopies\tunrecovered\tkbps\tlag_ms"
    )?;
    let fixtures_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |name: &str| {
        WavSource::open(fixtures_dir.join(format!("{name}.wav")), Pacing::AsFastAsPossible)?
            .read_to_end()
    };
    for (i, name) in FIXTURES.iter().enumerate() {
        let speech = read(name)?;
        if what.iter().any(|w| w == "loss") {
            // The other fixture talks first, so the call is in its steady state (loss
            // reports in, redundancy sized) when the scored speech starts.
            let warm_up = read(FIXTURES[(i + 1) % FIXTURES.len()])?;
            loss(&out, name, &speech, &warm_up, &mut manifest)?;
        }
        if what.iter().any(|w| w == "noise") {
            noise(&out, name, &speech, &mut manifest, what.iter().any(|w| w == "diag"))?;
        }
        if what.iter().any(|w| w == "diag") {
            let warm_up = read(FIXTURES[(i + 1) % FIXTURES.len()])?;
            diag(&out, name, &speech, &warm_up, &mut manifest)?;
        }
    }
    println!("wrote {}", out.join("manifest.tsv").display());
    Ok(())
}

fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    let mut sink = WavSink::create(path)?;
    sink.write(samples)?;
    sink.finalize()?;
    Ok(())
}

fn loss(
    out: &Path,
    name: &str,
    speech: &[f32],
    warm_up: &[f32],
    manifest: &mut impl Write,
) -> Result<()> {
    let reference = out.join(format!("loss-{name}-ref.wav"));
    write_wav(&reference, speech)?;
    let mut input = warm_up.to_vec();
    input.extend_from_slice(speech);
    let random = |loss| NetworkConfig { loss, ..Default::default() };
    // Gilbert–Elliott: 10 % of packets lost, in bursts of two on average.
    let bursty = NetworkConfig { burst_start: 0.0556, burst_end: 0.5, ..Default::default() };
    let cases = [
        ("clean-codec-only", NetworkConfig::default()),
        ("clean", NetworkConfig::default()),
        ("random-5", random(0.05)),
        ("random-10", random(0.10)),
        ("random-20", random(0.20)),
        ("bursty-10", bursty),
    ];
    for (case, network) in cases {
        for (variant, redundancy) in
            [("fec", RedundancyMode::Off), ("fec+copies", RedundancyMode::Auto)]
        {
            for seed in 1..=SEEDS {
                let mut capture = CaptureConfig {
                    encoder: EncoderConfig { redundancy, ..Default::default() },
                    ..Default::default()
                };
                if case == "clean-codec-only" {
                    // Opus and the receive chain alone: what the capture stages cost.
                    capture.noise_suppression = false;
                    capture.agc = false;
                    capture.gate = GateMode::Continuous;
                }
                let config =
                    CallConfig { capture, network: network.clone(), seed, ..Default::default() };
                let run = run_call(&input, &config)?;
                // From where the scored speech went in; the scorer aligns the latency.
                let output = run.output.get(warm_up.len()..).unwrap_or_default();
                let file = out.join(format!("loss-{name}-{case}-{variant}-{seed}.wav"));
                write_wav(&file, output)?;
                let j = &run.jitter;
                let unrecovered = j.lost.saturating_sub(j.recovered_fec + j.recovered_redundant);
                #[allow(clippy::cast_precision_loss)]
                let lag_ms = find_lag(speech, output, 24_000) as f64 / 48.0;
                writeln!(
                    manifest,
                    "loss\t{case}\t{variant}\t{}\t{}\t{}\t{}\t{}\t{unrecovered}\t{:.1}\t{lag_ms:.1}",
                    reference.display(),
                    file.display(),
                    j.lost,
                    j.recovered_fec,
                    j.recovered_redundant,
                    run.kbps(),
                )?;
            }
        }
    }
    Ok(())
}

/// Noise of the given kind, `len` samples, scaled to `rms`.
fn make_noise(kind: &str, len: usize, rms: f32, babble_source: &[f32], seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    let mut v: Vec<f32> = match kind {
        "pink" => {
            // Paul Kellet's economy pink filter over white noise.
            let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
            (0..len)
                .map(|_| {
                    let w = rng.next_signed();
                    b0 = 0.99765 * b0 + w * 0.099_046;
                    b1 = 0.96300 * b1 + w * 0.296_516_4;
                    b2 = 0.57000 * b2 + w * 1.052_691_3;
                    b0 + b1 + b2 + w * 0.1848
                })
                .collect()
        }
        "babble" => {
            // Six time-reversed talkers at staggered offsets: speech's spectrum and rhythm,
            // but nothing intelligible, like a crowd.
            let n = babble_source.len().max(1);
            (0..len)
                .map(|i| {
                    (0..6)
                        .map(|k| {
                            let at = (i + k * n / 6 + k * 7919) % n;
                            babble_source[n - 1 - at] * (1.0 - 0.1 * k as f32)
                        })
                        .sum()
                })
                .collect()
        }
        "keyboard" => {
            // Key presses about 8 times a second, each a sharp decaying click of
            // high-passed noise, with a softer release click 40–80 ms later.
            let mut v = vec![0.0f32; len];
            let mut t = 0usize;
            loop {
                t += 2_000 + (rng.next_u64() % 8_000) as usize;
                if t >= len {
                    break;
                }
                let release = t + 1_920 + (rng.next_u64() % 1_920) as usize;
                for (start, amp) in [(t, 1.0f32), (release, 0.5)] {
                    let mut prev = 0.0;
                    for k in 0..480 {
                        let w = rng.next_signed();
                        if let Some(slot) = v.get_mut(start + k) {
                            *slot += amp * (w - prev) * (-(k as f32) / 100.0).exp();
                        }
                        prev = w;
                    }
                }
            }
            v
        }
        _ => {
            // Fan: low rumble (brown noise), a blade-pass hum at 90 Hz with harmonics that
            // slowly waver, and a little broadband hiss of air.
            let mut brown = 0.0f32;
            (0..len)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    brown = 0.995 * brown + 0.05 * rng.next_signed();
                    let wobble = 1.0 + 0.2 * (2.0 * std::f32::consts::PI * 0.3 * t).sin();
                    let hum: f32 = (1..=4)
                        .map(|h| {
                            (2.0 * std::f32::consts::PI * 90.0 * h as f32 * t).sin() / h as f32
                        })
                        .sum();
                    brown + 0.05 * wobble * hum + 0.02 * rng.next_signed()
                })
                .collect()
        }
    };
    #[allow(clippy::cast_possible_truncation)]
    let current = 10f64.powf(energy_db(&v) / 20.0) as f32;
    for s in &mut v {
        *s *= rms / current.max(1e-9);
    }
    v
}

/// Capture settings to compare, the defaults first.
fn capture_variants() -> Vec<(&'static str, CaptureConfig)> {
    let with = |f: fn(&mut CaptureConfig)| {
        let mut c = CaptureConfig::default();
        f(&mut c);
        c
    };
    let old_agc = |c: &mut CaptureConfig| {
        c.agc_config.level_time_constant = Duration::ZERO;
        c.agc_config.peak_release_db_per_s = f32::INFINITY;
    };
    fn vad(c: &CaptureConfig) -> VadConfig {
        match &c.gate {
            GateMode::VoiceActivity(v) => v.clone(),
            _ => VadConfig::default(),
        }
    }
    vec![
        ("defaults", CaptureConfig::default()),
        (
            "old",
            with(|c| {
                c.gate_pre_roll = Duration::ZERO;
                c.agc_config.level_time_constant = Duration::ZERO;
                c.agc_config.peak_release_db_per_s = f32::INFINITY;
            }),
        ),
        ("pre0", with(|c| c.gate_pre_roll = Duration::ZERO)),
        ("pre10", with(|c| c.gate_pre_roll = Duration::from_millis(10))),
        ("agc-old", with(old_agc)),
        ("agc-tau400ms", with(|c| c.agc_config.level_time_constant = Duration::from_millis(400))),
        ("no-agc", with(|c| c.agc = false)),
        ("standard", with(|c| c.strong_suppression = false)),
        ("no-gate", with(|c| c.gate = GateMode::Continuous)),
        (
            "open05",
            with(|c| {
                let v = VadConfig { open_probability: 0.5, ..vad(c) };
                c.gate = GateMode::VoiceActivity(v);
            }),
        ),
        (
            "hang300",
            with(|c| {
                let v = VadConfig { hangover: Duration::from_millis(300), ..vad(c) };
                c.gate = GateMode::VoiceActivity(v);
            }),
        ),
        (
            "close02",
            with(|c| {
                let v = VadConfig { close_probability: 0.2, ..vad(c) };
                c.gate = GateMode::VoiceActivity(v);
            }),
        ),
    ]
}

/// The clean link with capture stages switched off one at a time: what each costs.
fn diag(
    out: &Path,
    name: &str,
    speech: &[f32],
    warm_up: &[f32],
    manifest: &mut impl Write,
) -> Result<()> {
    let reference = out.join(format!("loss-{name}-ref.wav"));
    write_wav(&reference, speech)?;
    let mut input = warm_up.to_vec();
    input.extend_from_slice(speech);
    let variants = capture_variants();
    for (variant, capture) in variants {
        let config = CallConfig { capture, ..Default::default() };
        let run = run_call(&input, &config)?;
        let output = run.output.get(warm_up.len()..).unwrap_or_default();
        let file = out.join(format!("diag-{name}-{variant}.wav"));
        write_wav(&file, output)?;
        writeln!(
            manifest,
            "loss\tdiag-clean\t{variant}\t{}\t{}\t0\t0\t0\t0\t{:.1}\t0",
            reference.display(),
            file.display(),
            run.kbps()
        )?;
    }
    Ok(())
}

fn noise(
    out: &Path,
    name: &str,
    speech: &[f32],
    manifest: &mut impl Write,
    diag: bool,
) -> Result<()> {
    // Half a second of noise alone first, as when someone starts talking in a room; the
    // reference has silence there.
    let lead = 24_000;
    let mut clean = vec![0.0; lead];
    clean.extend_from_slice(speech);
    let reference = out.join(format!("noise-{name}-ref.wav"));
    write_wav(&reference, &clean)?;
    #[allow(clippy::cast_possible_truncation)]
    let speech_rms = 10f64.powf(energy_db(speech) / 20.0) as f32;
    // The babble talkers are this fixture's own voice, reversed, at staggered offsets.
    let babble_source: Vec<f32> = speech.iter().rev().copied().collect();
    for kind in ["pink", "babble", "keyboard", "fan"] {
        for snr in [5.0f32, 15.0, 25.0] {
            let n = make_noise(
                kind,
                clean.len(),
                speech_rms * 10f32.powf(-snr / 20.0),
                &babble_source,
                17,
            );
            let noisy: Vec<f32> = clean.iter().zip(&n).map(|(s, n)| s + n).collect();
            let case = format!("{kind}-{snr:.0}dB");
            let mut variants = vec![
                ("noisy", noisy.clone()),
                ("rnnoise", plain_rnnoise(&noisy)),
                ("chain", capture_chain(&noisy, CaptureConfig::default())?),
            ];
            if diag {
                for (variant, config) in capture_variants().into_iter().skip(1) {
                    variants.push((variant, capture_chain(&noisy, config)?));
                }
            }
            for (variant, processed) in variants {
                let variant = if ["noisy", "rnnoise", "chain"].contains(&variant) {
                    variant.to_string()
                } else {
                    format!("chain-{variant}")
                };
                let file = out.join(format!("noise-{name}-{case}-{variant}.wav"));
                write_wav(&file, &processed)?;
                writeln!(
                    manifest,
                    "noise\t{case}\t{variant}\t{}\t{}\t\t\t\t\t\t",
                    reference.display(),
                    file.display()
                )?;
            }
        }
    }
    Ok(())
}

fn frames(samples: &[f32]) -> impl Iterator<Item = Frame> + '_ {
    samples.chunks(FRAME_SAMPLES).map(|chunk| {
        let mut frame = [0.0; FRAME_SAMPLES];
        frame[..chunk.len()].copy_from_slice(chunk);
        frame
    })
}

/// nnnoiseless on its own, as most voice apps use it.
fn plain_rnnoise(noisy: &[f32]) -> Vec<f32> {
    let mut suppressor = NoiseSuppressor::new(true);
    frames(noisy)
        .flat_map(|mut frame| {
            suppressor.process(&mut frame);
            frame
        })
        .collect()
}

/// The capture chain before Opus: the processed audio of the frames that went out in a
/// packet (found by the packets' timestamps, so the gate's pre-roll counts); frames not
/// sent are silence to the listener.
fn capture_chain(noisy: &[f32], config: CaptureConfig) -> Result<Vec<f32>> {
    let mut pipeline = auraspeak_client::voice::CapturePipeline::new(config)?;
    let t0 = Instant::now();
    let mut processed = Vec::new();
    let mut sent = Vec::new();
    for (i, mut frame) in frames(noisy).enumerate() {
        let now = t0 + FRAME_DURATION * u32::try_from(i)?;
        let output = pipeline.process(now, &mut frame)?;
        processed.push(frame);
        sent.push(false);
        for packet in output.packets {
            let first = packet.timestamp as usize / FRAME_SAMPLES;
            let count = auraspeak_client::voice::VoiceDecoder::packet_samples(&packet.payload)?
                / FRAME_SAMPLES;
            for slot in sent.iter_mut().skip(first).take(count) {
                *slot = true;
            }
        }
    }
    Ok(processed
        .iter()
        .zip(&sent)
        .flat_map(|(frame, sent)| if *sent { *frame } else { [0.0; FRAME_SAMPLES] })
        .collect())
}
