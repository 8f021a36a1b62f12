//! The mixer: sums any number of remote speakers, applies deafen, and keeps the sum inside
//! full scale with a limiter, so several loud speakers never wrap around or hard-clip.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

use super::receive::RemoteSpeaker;
use super::{FRAME_SAMPLES, Frame, SAMPLE_RATE, db_to_gain};

/// A peak limiter without look-ahead: the gain drops at once to whatever keeps the current
/// sample under the ceiling and recovers smoothly. Without look-ahead it adds no latency;
/// the instant attack distorts only the few samples of a transient, far less than clipping.
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling: f32,
    release: f32,
    gain: f32,
}

impl Limiter {
    /// A limiter keeping peaks under `ceiling_dbfs`, releasing with time constant
    /// `release_ms`.
    pub fn new(ceiling_dbfs: f32, release_ms: f32) -> Self {
        let samples = (release_ms.max(1.0) / 1000.0) * SAMPLE_RATE as f32;
        Self {
            ceiling: db_to_gain(ceiling_dbfs.min(0.0)),
            release: 1.0 - (-1.0 / samples).exp(),
            gain: 1.0,
        }
    }

    /// Limits one frame in place.
    pub fn process(&mut self, frame: &mut Frame) {
        for s in frame.iter_mut() {
            // A NaN from a misbehaving stage must not poison the gain for good.
            if !s.is_finite() {
                *s = 0.0;
            }
            let needed = if s.abs() > self.ceiling { self.ceiling / s.abs() } else { 1.0 };
            self.gain = (self.gain + (1.0 - self.gain) * self.release).min(needed);
            *s *= self.gain;
        }
    }

    /// Current gain, 1.0 when not limiting.
    pub fn gain(&self) -> f32 {
        self.gain
    }
}

impl Default for Limiter {
    fn default() -> Self {
        // -1 dBFS leaves room for inter-sample peaks in the device's converter.
        Self::new(-1.0, 80.0)
    }
}

/// Mixes remote speakers, keyed by whatever identifies them (a user id).
#[derive(Debug)]
pub struct Mixer<K> {
    speakers: HashMap<K, RemoteSpeaker>,
    deafened: bool,
    limiter: Limiter,
    scratch: Frame,
    mix: [f32; FRAME_SAMPLES],
}

impl<K: Eq + Hash + Clone> Mixer<K> {
    /// A mixer with no speakers.
    pub fn new() -> Self {
        Self {
            speakers: HashMap::new(),
            deafened: false,
            limiter: Limiter::default(),
            scratch: [0.0; FRAME_SAMPLES],
            mix: [0.0; FRAME_SAMPLES],
        }
    }

    /// Adds (or replaces) a speaker.
    pub fn insert_speaker(&mut self, key: K, speaker: RemoteSpeaker) {
        self.speakers.insert(key, speaker);
    }

    /// Removes a speaker (they left the channel).
    pub fn remove_speaker(&mut self, key: &K) -> Option<RemoteSpeaker> {
        self.speakers.remove(key)
    }

    /// A speaker, to route packets to it or change its volume and mute.
    pub fn speaker_mut(&mut self, key: &K) -> Option<&mut RemoteSpeaker> {
        self.speakers.get_mut(key)
    }

    /// All speakers.
    pub fn speakers(&self) -> impl Iterator<Item = (&K, &RemoteSpeaker)> {
        self.speakers.iter()
    }

    /// Keys of the speakers currently speaking, for the UI.
    pub fn speaking(&self) -> impl Iterator<Item = &K> {
        self.speakers.iter().filter(|(_, s)| s.is_speaking()).map(|(k, _)| k)
    }

    /// Deafens (no playback at all) or undeafens. Speakers keep decoding while deafened,
    /// so their jitter buffers stay current and undeafening is instant.
    pub fn set_deafened(&mut self, deafened: bool) {
        self.deafened = deafened;
    }

    /// Whether playback is deafened.
    pub fn is_deafened(&self) -> bool {
        self.deafened
    }

    /// Produces the next 10 ms of mixed playback at `now` into `out`.
    pub fn poll_frame(&mut self, now: Instant, out: &mut Frame) {
        self.mix.fill(0.0);
        for speaker in self.speakers.values_mut() {
            speaker.poll_frame(now, &mut self.scratch);
            for (m, s) in self.mix.iter_mut().zip(self.scratch.iter()) {
                *m += s;
            }
        }
        if self.deafened {
            self.mix.fill(0.0);
        }
        self.limiter.process(&mut self.mix);
        out.copy_from_slice(&self.mix);
    }
}

impl<K: Eq + Hash + Clone> Default for Mixer<K> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_keeps_peaks_under_ceiling_and_leaves_quiet_audio_alone() {
        let mut limiter = Limiter::default();
        let ceiling = db_to_gain(-1.0);
        // Five speakers at 0.8 each summing to 4.0: must not exceed the ceiling, nor flip sign.
        let mut frame = [0.0; FRAME_SAMPLES];
        for (i, s) in frame.iter_mut().enumerate() {
            *s = 4.0 * (2.0 * std::f32::consts::PI * 200.0 * i as f32 / 48_000.0).sin();
        }
        let input = frame;
        limiter.process(&mut frame);
        for (o, i) in frame.iter().zip(input.iter()) {
            assert!(o.abs() <= ceiling + 1e-6, "{o}");
            assert!(o * i >= 0.0, "sign flipped: {i} -> {o}");
        }
        // After the loud part, gain recovers and quiet audio passes unchanged.
        for _ in 0..100 {
            let mut quiet = [0.1; FRAME_SAMPLES];
            limiter.process(&mut quiet);
        }
        let mut quiet = [0.1; FRAME_SAMPLES];
        limiter.process(&mut quiet);
        assert!((quiet[FRAME_SAMPLES - 1] - 0.1).abs() < 1e-4);
        let mut bad = [f32::NAN; FRAME_SAMPLES];
        limiter.process(&mut bad);
        assert!(bad.iter().all(|s| *s == 0.0));
        assert!(limiter.gain().is_finite());
    }
}
