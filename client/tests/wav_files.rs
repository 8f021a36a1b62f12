//! The WAV source and sink as the CLI uses them: round trip, real-time pacing, and clear
//! errors for files the engine cannot take.

// Helpers outside #[test] functions are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use auraspeak_client::Error;
use auraspeak_client::voice::{FRAME_SAMPLES, Pacing, WavSink, WavSource};

/// A fresh scratch directory per test (no tempfile dependency for this).
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auraspeak-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speech-en-us-male.wav")
}

#[test]
fn sink_then_source_round_trips() {
    let dir = scratch_dir("roundtrip");
    let mut source = WavSource::open(fixture_path(), Pacing::AsFastAsPossible).unwrap();
    let frames = source.len_frames();
    assert!(frames > 250, "{frames}");
    let out = dir.join("copy.wav");
    let mut sink = WavSink::create(&out).unwrap();
    let mut original = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        sink.write_frame(&frame).unwrap();
        original.extend_from_slice(&frame);
    }
    assert_eq!(original.len(), frames * FRAME_SAMPLES);
    assert_eq!(sink.duration(), Duration::from_millis(10) * frames as u32);
    sink.finalize().unwrap();

    let copy = WavSource::open(&out, Pacing::AsFastAsPossible).unwrap().read_to_end().unwrap();
    assert_eq!(copy.len(), original.len());
    let worst = original.iter().zip(&copy).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst <= 1.0 / 32_000.0, "{worst}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stereo_is_downmixed_and_out_of_range_is_clamped() {
    let dir = scratch_dir("stereo");
    let path = dir.join("stereo.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for _ in 0..1000 {
        w.write_sample(0.5f32).unwrap();
        w.write_sample(-0.1f32).unwrap();
    }
    w.finalize().unwrap();
    let samples = WavSource::open(&path, Pacing::AsFastAsPossible).unwrap().read_to_end().unwrap();
    // 1000 samples padded to whole frames with silence.
    assert_eq!(samples.len(), 3 * FRAME_SAMPLES);
    assert!((samples[0] - 0.2).abs() < 1e-6);
    assert_eq!(samples[1000], 0.0);

    let loud = dir.join("loud.wav");
    let mut sink = WavSink::create(&loud).unwrap();
    sink.write(&[2.0, -2.0, f32::NAN]).unwrap();
    sink.finalize().unwrap();
    let back = WavSource::open(&loud, Pacing::AsFastAsPossible).unwrap().read_to_end().unwrap();
    assert!(back[0] > 0.99 && back[1] < -0.99 && back[2].is_finite());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn other_rates_are_resampled_in_time_and_pitch() {
    let dir = scratch_dir("rates");
    for rate in [16_000u32, 44_100] {
        let path = dir.join(format!("{rate}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        // Half a second of silence, then one second of a 500 Hz tone.
        for i in 0..(rate * 3 / 2) {
            let t = i as f32 / rate as f32;
            let s =
                if t < 0.5 { 0.0 } else { 0.5 * (2.0 * std::f32::consts::PI * 500.0 * t).sin() };
            w.write_sample((s * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        let source = WavSource::open(&path, Pacing::AsFastAsPossible).unwrap();
        assert_eq!(source.len_frames(), 150);
        let samples = source.read_to_end().unwrap();
        assert_eq!(samples.len(), 150 * FRAME_SAMPLES, "{rate} Hz");
        // The tone starts at 0.5 s, not shifted by the resampler's delay (within 1 ms).
        let onset = samples.iter().position(|s| s.abs() > 0.05).unwrap();
        assert!((onset as i64 - 24_000).abs() < 48, "{rate} Hz: onset at {onset}");
        // Pitch and level are kept.
        let tone = &samples[30_000..66_000];
        let crossings = tone.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((crossings as i64 - 375).abs() <= 2, "{rate} Hz: {crossings} crossings");
        let peak = tone.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "{rate} Hz: peak {peak}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn real_time_pacing_delivers_one_frame_per_10_ms() {
    let mut source = WavSource::open(fixture_path(), Pacing::RealTime).unwrap();
    let start = Instant::now();
    for _ in 0..11 {
        source.next_frame().unwrap().unwrap();
    }
    // The first frame is immediate, the eleventh is due 100 ms later.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
}

#[test]
fn unsupported_and_broken_files_are_errors_not_panics() {
    let dir = scratch_dir("bad");
    let wrong_rate = dir.join("1k.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 1_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wrong_rate, spec).unwrap();
    w.write_sample(0i16).unwrap();
    w.finalize().unwrap();
    assert!(matches!(
        WavSource::open(&wrong_rate, Pacing::AsFastAsPossible),
        Err(Error::UnsupportedWav { .. })
    ));

    let garbage = dir.join("garbage.wav");
    std::fs::write(&garbage, b"RIFF\x10\x00\x00\x00WAVEfmt nonsense").unwrap();
    assert!(matches!(WavSource::open(&garbage, Pacing::AsFastAsPossible), Err(Error::Wav { .. })));
    assert!(matches!(
        WavSource::open(dir.join("missing.wav"), Pacing::AsFastAsPossible),
        Err(Error::Wav { .. })
    ));

    // A file cut short in the middle of its data: frames up to the cut, then an error or
    // the end, never a panic.
    let bytes = std::fs::read(fixture_path()).unwrap();
    let truncated = dir.join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2 + 1]).unwrap();
    let mut source = WavSource::open(&truncated, Pacing::AsFastAsPossible).unwrap();
    let mut frames = 0;
    while let Ok(Some(_)) = source.next_frame() {
        frames += 1;
        assert!(frames < 10_000);
    }
    assert!(frames > 100);
    std::fs::remove_dir_all(dir).unwrap();
}
