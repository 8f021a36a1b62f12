//! The second stage of strong noise suppression: a spectral Wiener post-filter on RNNoise's
//! output, steered by a statistical estimate of the microphone's noise.
//!
//! RNNoise judges each of its 22 bands by what it learned speech and noise sound like. Noise
//! that sounds like speech (other people in the room, a stream in the background) it mostly
//! keeps: its gains stay near one and PESQ on babble rises only about +0.2. What it cannot
//! know is which voice belongs to the user. This stage adds the one cue that tells them
//! apart in a headset microphone: the user is louder than the room. It keeps a per-bin
//! power spectrum of whatever is not clearly louder than the noise it has seen so far and
//! applies half (the square root) of the resulting Wiener gain to what RNNoise let through.
//! Half, because the two estimates are partly redundant on stationary noise, where the full
//! gain on top of RNNoise's over-suppresses speech.
//!
//! `scripts/voice-quality.sh noise` (PESQ over pink, babble, keyboard and fan noise at 5,
//! 15 and 25 dB SNR) chose this over a second RNNoise pass, which it replaces at the same
//! 10 ms of extra delay: see the README's voice quality table for the figures.
//!
//! The filter runs on 20 ms windows every 10 ms (sqrt-Hann analysis and synthesis, which
//! overlap-add to exactly the input), so its output is one frame late.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{FRAME_SAMPLES, Frame};

const WINDOW: usize = 2 * FRAME_SAMPLES;
const BINS: usize = WINDOW / 2 + 1;

/// Smoothing of the decision-directed a-priori SNR (Ephraim–Malah): near one keeps the
/// residual noise from turning into "musical" tones.
const PRIOR_SMOOTHING: f32 = 0.98;
/// Lowest Wiener gain (−26 dB), halved in dB when applied: deeper cuts make speech sound
/// hollow without lowering what is heard between words (the gate does that).
const GAIN_FLOOR: f32 = 0.05;
/// The first frames (0.4 s) are taken as noise unless far louder than what came before:
/// someone who just opened the microphone is rarely talking yet. When they were, the first
/// pause tells: a frame RNNoise finds free of voice, far quieter than a start-up RNNoise
/// found full of voice, starts it again (within the first 1.2 s). A room full of voices is
/// judged voice throughout and seldom that much quieter, and sparse noise (key presses,
/// with silence between) is not judged voice, so both are averaged whole.
const STARTUP_FRAMES: u32 = 40;
const STARTUP_GUARD_DB: f32 = 12.0;
const RESTART_DB: f32 = 10.0;
const SETTLED_FRAMES: u32 = 120;
const QUIET_VOICE: f32 = 0.5;
/// A frame quieter than the estimate pulls it down quickly: the noise got quieter.
const FALL: f32 = 0.8;
/// A frame up to this much louder than the estimate is still noise, which fluctuates (a
/// room full of voices by 15 dB from one frame to the next); it pulls the estimate up
/// slowly. The user's speech is louder and leaves the estimate alone.
const RISE_DB: f32 = 6.0;
const RISE: f32 = 0.95;
/// Nothing within `RISE_DB` for this long (3 s) means the noise itself got louder (a fan
/// turned on): nobody talks that long without a pause. The estimate then follows slowly.
const STUCK_FRAMES: u32 = 300;
const CREEP: f32 = 0.98;
/// Keeps ratios finite on digital silence, far below anything a microphone delivers.
const TINY: f32 = 1e-12;
/// A frame with less power than this (about −150 dBFS) is digital silence.
const EMPTY: f32 = 1e-10;

/// Per-bin power of the microphone's noise, tracked by level.
#[derive(Debug, Clone)]
struct NoiseEstimate {
    power: Vec<f32>,
    /// Frames since the start-up began.
    frames: u32,
    since_heard: u32,
    /// RNNoise's mean voice probability over the start-up frames taken in.
    startup_voice: f32,
    startup_taken: u32,
}

impl NoiseEstimate {
    fn new() -> Self {
        Self {
            power: vec![0.0; BINS],
            frames: 0,
            since_heard: 0,
            startup_voice: 0.0,
            startup_taken: 0,
        }
    }

    fn update(&mut self, frame_power: &[f32], voice_probability: f32) {
        let total = |p: &[f32]| p.iter().sum::<f32>();
        let level = |p: &[f32]| 10.0 * (total(p) + TINY).log10();
        if self.frames == 0 && total(frame_power) < EMPTY {
            // A device's first frames are often digital silence: the start-up waits for the
            // first sound. Later silence (a muted device) counts as the quietest noise: the
            // estimate falls, and whatever comes after the mute is judged by level, never
            // taken for noise wholesale.
            return;
        }
        let voice =
            if voice_probability.is_finite() { voice_probability.clamp(0.0, 1.0) } else { 1.0 };
        let (now, estimate) = (level(frame_power), level(&self.power));
        if self.frames > 0
            && self.frames < SETTLED_FRAMES
            && now < estimate - RESTART_DB
            && voice < QUIET_VOICE
            && self.startup_voice > QUIET_VOICE
        {
            // The start-up took in someone talking straight away, and this is their first
            // pause: begin again from it.
            self.frames = 0;
        }
        // How much of the estimate to keep, and whether this frame counts as noise heard.
        let (weight, heard) = if self.frames == 0 {
            (Some(0.0), true)
        } else if self.frames < STARTUP_FRAMES {
            // A running mean of the start-up frames, the first counting fully.
            let taken = now < estimate + STARTUP_GUARD_DB;
            (taken.then(|| 1.0 - 1.0 / (self.frames as f32 + 1.0)), taken)
        } else if now < estimate {
            (Some(FALL), true)
        } else if now < estimate + RISE_DB {
            (Some(RISE), true)
        } else if self.since_heard >= STUCK_FRAMES {
            // Creeping up goes on until frames count as noise again.
            (Some(CREEP), false)
        } else {
            (None, false)
        };
        if self.frames == 0 {
            self.startup_taken = 0;
            self.startup_voice = 0.0;
        }
        if self.frames < STARTUP_FRAMES && heard {
            self.startup_taken += 1;
            self.startup_voice += (voice - self.startup_voice) / self.startup_taken as f32;
        }
        if let Some(keep) = weight {
            blend(&mut self.power, frame_power, keep);
        }
        self.frames = self.frames.saturating_add(1);
        self.since_heard = if heard { 0 } else { self.since_heard.saturating_add(1) };
    }
}

/// Moves `estimate` towards `frame`, keeping `keep` of it.
fn blend(estimate: &mut [f32], frame: &[f32], keep: f32) {
    for (n, &p) in estimate.iter_mut().zip(frame) {
        *n = keep * *n + (1.0 - keep) * p;
    }
}

/// The post-filter. Feed it, frame by frame, the microphone's frame and RNNoise's output for
/// that same stretch of audio.
pub struct NoisePostFilter {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Hann, for estimating power (low leakage keeps quiet bins from borrowing loud ones).
    analysis: Vec<f32>,
    /// sqrt-Hann, applied before and after filtering: the squares of overlapping halves sum
    /// to one, so unfiltered audio comes out unchanged.
    synthesis: Vec<f32>,
    /// The last two microphone frames and the last two RNNoise frames, oldest first.
    raw: Vec<f32>,
    denoised: Vec<f32>,
    /// The second half of the previous window, waiting for the next one to overlap.
    overlap: Vec<f32>,
    noise: NoiseEstimate,
    /// Estimated clean power per bin of the previous frame, for the a-priori SNR.
    previous_clean: Vec<f32>,
    time: Vec<f32>,
    power: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl NoisePostFilter {
    /// A filter that has heard nothing yet.
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(WINDOW);
        let inverse = planner.plan_fft_inverse(WINDOW);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let phase = |n: usize| std::f32::consts::PI * n as f32 / WINDOW as f32;
        Self {
            forward,
            inverse,
            analysis: (0..WINDOW).map(|n| phase(n).sin().powi(2)).collect(),
            synthesis: (0..WINDOW).map(|n| phase(n).sin()).collect(),
            raw: vec![0.0; WINDOW],
            denoised: vec![0.0; WINDOW],
            overlap: vec![0.0; FRAME_SAMPLES],
            noise: NoiseEstimate::new(),
            previous_clean: vec![0.0; BINS],
            time: vec![0.0; WINDOW],
            power: vec![0.0; BINS],
            spectrum: vec![Complex::default(); BINS],
            scratch: vec![Complex::default(); scratch_len],
        }
    }

    /// Filters `denoised` (RNNoise's output for the audio that was `raw` at the microphone,
    /// which RNNoise judged voice with `voice_probability`) in place. What comes out is the
    /// filtered audio of the previous call's frame.
    pub fn process(&mut self, raw: &Frame, voice_probability: f32, denoised: &mut Frame) {
        shift_in(&mut self.raw, raw);
        shift_in(&mut self.denoised, denoised);

        // The noise estimate and the gains come from the microphone's own spectrum.
        for ((t, &x), &w) in self.time.iter_mut().zip(&self.raw).zip(&self.analysis) {
            *t = sane(x) * w;
        }
        if self.forward_fft().is_err() {
            return self.pass_through(denoised);
        }
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr();
        }
        self.noise.update(&self.power, voice_probability);

        for ((t, &x), &w) in self.time.iter_mut().zip(&self.denoised).zip(&self.synthesis) {
            *t = sane(x) * w;
        }
        if self.forward_fft().is_err() {
            return self.pass_through(denoised);
        }
        for (((c, &p), &n), clean) in self
            .spectrum
            .iter_mut()
            .zip(&self.power)
            .zip(&self.noise.power)
            .zip(self.previous_clean.iter_mut())
        {
            let n = n + TINY;
            let posterior = p / n;
            let prior =
                PRIOR_SMOOTHING * *clean / n + (1.0 - PRIOR_SMOOTHING) * (posterior - 1.0).max(0.0);
            let gain = (prior / (1.0 + prior)).max(GAIN_FLOOR);
            *clean = gain * gain * p;
            *c *= gain.sqrt();
        }
        // A real signal's spectrum has no imaginary part at 0 Hz and at Nyquist; rounding
        // can leave one, which the inverse transform refuses.
        for edge in [0, BINS - 1] {
            self.spectrum[edge].im = 0.0;
        }
        if self
            .inverse
            .process_with_scratch(&mut self.spectrum, &mut self.time, &mut self.scratch)
            .is_err()
        {
            return self.pass_through(denoised);
        }
        let scale = 1.0 / WINDOW as f32;
        for (t, &w) in self.time.iter_mut().zip(&self.synthesis) {
            *t *= w * scale;
        }
        for ((out, &head), (tail, &next)) in denoised
            .iter_mut()
            .zip(&self.time[..FRAME_SAMPLES])
            .zip(self.overlap.iter_mut().zip(&self.time[FRAME_SAMPLES..]))
        {
            *out = *tail + head;
            *tail = next;
        }
    }

    fn forward_fft(&mut self) -> Result<(), realfft::FftError> {
        self.forward.process_with_scratch(&mut self.time, &mut self.spectrum, &mut self.scratch)
    }

    /// The transforms only fail on buffer sizes, which are fixed here; should one ever fail,
    /// the audio still goes out one frame late, unfiltered.
    fn pass_through(&mut self, denoised: &mut Frame) {
        denoised.copy_from_slice(&self.denoised[..FRAME_SAMPLES]);
        self.overlap.fill(0.0);
    }
}

impl Default for NoisePostFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for NoisePostFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoisePostFilter").field("noise", &self.noise).finish_non_exhaustive()
    }
}

/// Non-finite samples as silence and absurd ones clipped, so no power overflows.
fn sane(x: f32) -> f32 {
    if x.is_finite() { x.clamp(-16.0, 16.0) } else { 0.0 }
}

/// Drops the older frame of a two-frame window and appends `frame`.
fn shift_in(window: &mut [f32], frame: &Frame) {
    window.copy_within(FRAME_SAMPLES.., 0);
    window[FRAME_SAMPLES..].copy_from_slice(frame);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::compare::energy_db;
    use crate::voice::netsim::SplitMix64;

    /// Runs `frames` through a filter as both the microphone and RNNoise's output (the
    /// filter alone), returning what came out.
    fn filtered(filter: &mut NoisePostFilter, frames: &[Frame]) -> Vec<Frame> {
        // As RNNoise judges speech, and the crowd noise these tests stand for.
        judged(filter, frames, 1.0)
    }

    /// As [`filtered`], with RNNoise's voice probability for every frame.
    fn judged(filter: &mut NoisePostFilter, frames: &[Frame], voice: f32) -> Vec<Frame> {
        frames
            .iter()
            .map(|f| {
                let mut out = *f;
                filter.process(f, voice, &mut out);
                out
            })
            .collect()
    }

    fn noise(count: usize, amplitude: f32, seed: u64) -> Vec<Frame> {
        let mut rng = SplitMix64::new(seed);
        (0..count)
            .map(|_| {
                let mut f = [0.0; FRAME_SAMPLES];
                f.iter_mut().for_each(|s| *s = amplitude * rng.next_signed());
                f
            })
            .collect()
    }

    /// A 440 Hz tone continuing from frame `start`.
    fn tone(count: usize, start: usize, amplitude: f32) -> Vec<Frame> {
        tone_at(440.0, count, start, amplitude)
    }

    fn tone_at(hz: f32, count: usize, start: usize, amplitude: f32) -> Vec<Frame> {
        (start..start + count)
            .map(|i| {
                let mut f = [0.0; FRAME_SAMPLES];
                for (n, s) in f.iter_mut().enumerate() {
                    let t = (i * FRAME_SAMPLES + n) as f32 / 48_000.0;
                    *s = amplitude * (2.0 * std::f32::consts::PI * hz * t).sin();
                }
                f
            })
            .collect()
    }

    fn mix(a: &[Frame], b: &[Frame]) -> Vec<Frame> {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let mut f = *x;
                f.iter_mut().zip(y).for_each(|(s, t)| *s += t);
                f
            })
            .collect()
    }

    /// Mean power in dB of a run of frames.
    fn level_db(frames: &[Frame]) -> f64 {
        energy_db(frames.as_flattened())
    }

    /// How much quieter the output is than the input over `input[range]` (the output is one
    /// frame late).
    fn lowered_db(input: &[Frame], out: &[Frame], range: std::ops::Range<usize>) -> f64 {
        level_db(&input[range.clone()]) - level_db(&out[range.start + 1..range.end + 1])
    }

    #[test]
    fn a_voice_far_above_the_noise_comes_through_unchanged_one_frame_late() {
        let mut filter = NoisePostFilter::new();
        // One second of a quiet room (−50 dBFS), then a tone 40 dB above it.
        let room = noise(300, 0.005, 1);
        filtered(&mut filter, &room[..100]);
        let input = mix(&tone(200, 100, 0.5), &room[100..]);
        let out = filtered(&mut filter, &input);
        // Frame i of the output is frame i − 1 of the input.
        let (mut error, mut signal) = (0.0f32, 0.0f32);
        for (o, i) in out[1..].iter().zip(&input) {
            for (a, b) in o.iter().zip(i) {
                error += (a - b).powi(2);
                signal += b * b;
            }
        }
        let snr = 10.0 * (signal / error).log10();
        assert!(snr > 30.0, "output differs from the delayed input: {snr:.1} dB apart");
    }

    #[test]
    fn steady_noise_is_lowered_once_learned() {
        let mut filter = NoisePostFilter::new();
        let input = noise(200, 0.05, 2);
        let out = filtered(&mut filter, &input);
        let reduction = lowered_db(&input, &out, 100..199);
        // Half the Wiener gain at its floor is −13 dB.
        assert!(reduction > 8.0, "reduced by {reduction:.1} dB");
    }

    #[test]
    fn quieter_voices_in_the_room_are_lowered_and_the_louder_one_kept() {
        // A tone stands for the user, a second tone 15 dB quieter and wavering in level
        // (as a crowd does, by ±8 dB) for the room, which was there first.
        // Another pitch, so user and room fall in different bins.
        let room: Vec<Frame> = tone_at(1_250.0, 400, 0, 0.09)
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                let sway = 10f32.powf(8.0 * (i as f32 * 0.7).sin() / 20.0);
                f.iter_mut().for_each(|s| *s *= sway);
                f
            })
            .collect();
        let user = tone(300, 100, 0.5);
        let mut filter = NoisePostFilter::new();
        let lead = filtered(&mut filter, &room[..100]);
        let talking = filtered(&mut filter, &mix(&user, &room[100..]));
        let room_alone = lowered_db(&room, &lead, 50..99);
        assert!(room_alone > 4.0, "the room alone is lowered by only {room_alone:.1} dB");
        let kept = level_db(&talking[150..]) - level_db(&mix(&user, &room[100..])[149..299]);
        assert!(kept.abs() < 1.0, "the user's level changed by {kept:.1} dB");
    }

    #[test]
    fn an_estimate_that_took_in_speech_is_dropped_at_the_first_pause() {
        let mut filter = NoisePostFilter::new();
        // Talking from the first frame: the start-up takes the tone for noise.
        filtered(&mut filter, &tone(30, 0, 0.3));
        judged(&mut filter, &noise(20, 0.003, 3), 0.0);
        let input = mix(&tone(100, 50, 0.3), &noise(100, 0.003, 4));
        let out = filtered(&mut filter, &input);
        let change = level_db(&out[21..]) - level_db(&input[20..99]);
        assert!(change.abs() < 1.0, "the voice changed by {change:.1} dB");
    }

    #[test]
    fn louder_noise_is_followed_after_a_few_seconds() {
        let mut filter = NoisePostFilter::new();
        filtered(&mut filter, &noise(100, 0.002, 5));
        // 26 dB louder: above what counts as noise, so at first it is taken for a voice.
        let input = noise(600, 0.04, 6);
        let out = filtered(&mut filter, &input);
        let early = lowered_db(&input, &out, 10..50);
        let late = lowered_db(&input, &out, 500..599);
        assert!(late > early + 6.0, "reduction {early:.1} dB at first, {late:.1} dB later");
        assert!(late > 8.0, "reduction {late:.1} dB");
    }

    #[test]
    fn silence_first_does_not_blind_it() {
        let mut filter = NoisePostFilter::new();
        filtered(&mut filter, &[[0.0; FRAME_SAMPLES]; 100]);
        let input = noise(200, 0.05, 7);
        let out = filtered(&mut filter, &input);
        let reduction = lowered_db(&input, &out, 100..199);
        assert!(reduction > 8.0, "reduced by {reduction:.1} dB");
    }

    #[test]
    fn a_voice_after_a_muted_stretch_is_not_taken_for_noise() {
        let mut filter = NoisePostFilter::new();
        filtered(&mut filter, &noise(100, 0.005, 9));
        filtered(&mut filter, &[[0.0; FRAME_SAMPLES]; 200]);
        // Unmuted mid-word.
        let input = mix(&tone(100, 0, 0.3), &noise(100, 0.005, 10));
        let out = filtered(&mut filter, &input);
        let change = level_db(&out[2..]) - level_db(&input[1..99]);
        assert!(change.abs() < 1.0, "the voice changed by {change:.1} dB");
    }

    #[test]
    fn garbage_in_never_yields_garbage_out() {
        let mut filter = NoisePostFilter::new();
        let mut bad = [f32::NAN; FRAME_SAMPLES];
        bad[..10].fill(f32::INFINITY);
        bad[10..20].fill(1e30);
        for f in [bad, [0.0; FRAME_SAMPLES], bad, [4.0; FRAME_SAMPLES]] {
            let mut out = f;
            filter.process(&f, f32::NAN, &mut out);
            assert!(out.iter().all(|s| s.is_finite()), "{:?}", &out[..4]);
        }
        let out = filtered(&mut filter, &noise(50, 0.05, 8));
        assert!(out.iter().flatten().all(|s| s.is_finite()));
    }
}
