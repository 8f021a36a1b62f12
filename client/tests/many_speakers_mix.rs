//! The mixer with many simultaneous speakers: loud sums are limited, never wrapped or
//! clipped; deafen silences everything; speaking indicators follow who is talking.

// Helpers outside #[test] functions are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use auraspeak_client::voice::{
    EncoderConfig, FRAME_DURATION, FRAME_SAMPLES, JitterConfig, Mixer, RemoteSpeaker, VoiceEncoder,
};

fn tone(freq: f32, amplitude: f32, index: usize) -> [f32; FRAME_SAMPLES] {
    let mut f = [0.0; FRAME_SAMPLES];
    for (i, s) in f.iter_mut().enumerate() {
        let t = (index * FRAME_SAMPLES + i) as f32 / 48_000.0;
        *s = amplitude * (2.0 * std::f32::consts::PI * freq * t).sin();
    }
    f
}

#[test]
fn twenty_loud_speakers_are_limited_and_indicated() {
    const SPEAKERS: u32 = 20;
    let t0 = Instant::now();
    let mut mixer: Mixer<u32> = Mixer::new();
    let mut encoders: Vec<VoiceEncoder> = (0..SPEAKERS)
        .map(|id| {
            mixer.insert_speaker(id, RemoteSpeaker::new(JitterConfig::default()).unwrap());
            VoiceEncoder::new(EncoderConfig::default()).unwrap()
        })
        .collect();
    let mut peak = 0.0f32;
    let mut outputs = Vec::new();
    for i in 0..200 {
        let now = t0 + FRAME_DURATION * i as u32;
        for (id, enc) in encoders.iter_mut().enumerate() {
            // Speakers 0..15 talk loudly (0.7 each: a sum of 10+ times full scale);
            // 15..20 stay silent.
            let amplitude = if id < 15 { 0.7 } else { 0.0 };
            let frame = tone(150.0 + 37.0 * id as f32, amplitude, i);
            if let Some(p) = enc.push_frame(&frame).unwrap() {
                mixer.speaker_mut(&(id as u32)).unwrap().handle_packet(now, p);
            }
        }
        if i == 150 {
            mixer.set_deafened(true);
        }
        let mut out = [0.0; FRAME_SAMPLES];
        mixer.poll_frame(now, &mut out);
        assert!(out.iter().all(|s| s.is_finite()));
        peak = out.iter().fold(peak, |m, s| m.max(s.abs()));
        outputs.push(out);
        if i == 149 {
            let mut speaking: Vec<u32> = mixer.speaking().copied().collect();
            speaking.sort_unstable();
            assert_eq!(speaking, (0..15).collect::<Vec<_>>());
        }
    }
    assert!(peak <= 10f32.powf(-1.0 / 20.0) + 1e-4, "peak {peak}");
    // Loud but present: the limiter turns the level down, not off.
    let rms = |frames: &[[f32; FRAME_SAMPLES]]| {
        (frames.iter().flatten().map(|s| s * s).sum::<f32>()
            / (frames.len() * FRAME_SAMPLES) as f32)
            .sqrt()
    };
    assert!(rms(&outputs[50..150]) > 0.1);
    // Deafened from frame 150: silence, while the speakers keep decoding.
    assert_eq!(rms(&outputs[150..]), 0.0);
    assert!(mixer.is_deafened());
    assert!(
        mixer.speakers().filter(|(id, _)| **id < 15).all(|(_, s)| s.jitter_stats().received >= 95)
    );
}
