//! Noise suppression with nnnoiseless (a Rust port of RNNoise), which also yields the voice
//! probability the transmit gate uses.
//!
//! Two properties of RNNoise shape this stage: it expects samples scaled to the 16-bit range
//! ([-32768, 32767]) although they are `f32`, and its overlap-add synthesis delays the audio
//! by one frame (10 ms). The delay is inherent; the scaling is done here so the rest of the
//! engine stays in [-1, 1].
//!
//! An optional second stage ([`NoisePostFilter`]) takes out what RNNoise keeps because it
//! sounds like speech: other voices in the room, above all. It costs another 10 ms of delay,
//! so the capture chain uses it only where the latency budget allows.

use nnnoiseless::DenoiseState;

use super::postfilter::NoisePostFilter;
use super::{FRAME_SAMPLES, Frame};

const I16_SCALE: f32 = 32768.0;

/// RNNoise noise suppressor with an on/off switch.
///
/// When switched off it still runs the model on the side, leaving the frame untouched, so the
/// voice-activity gate keeps its probability; callers that need neither skip the stage.
pub struct NoiseSuppressor {
    state: Box<DenoiseState<'static>>,
    /// The second stage, when there is one.
    post_filter: Option<Box<NoisePostFilter>>,
    /// The previous input frame and RNNoise's verdict on it: RNNoise's output is one frame
    /// late, and the post-filter needs the microphone's audio of the same instant.
    previous_input: Frame,
    previous_probability: f32,
    enabled: bool,
    scaled_in: Frame,
    scaled_out: Frame,
    voice_probability: f32,
}

impl NoiseSuppressor {
    /// A suppressor, switched on or off.
    pub fn new(enabled: bool) -> Self {
        Self {
            state: DenoiseState::new(),
            post_filter: None,
            previous_input: [0.0; FRAME_SAMPLES],
            previous_probability: 0.0,
            enabled,
            scaled_in: [0.0; FRAME_SAMPLES],
            scaled_out: [0.0; FRAME_SAMPLES],
            voice_probability: 0.0,
        }
    }

    /// Whether the second stage runs (it adds one frame of delay).
    pub fn has_post_filter(&self) -> bool {
        self.post_filter.is_some()
    }

    /// Adds or removes the second stage (see the module documentation), also while
    /// running. The audio shifts by one frame: a new stage starts from silence (10 ms of it
    /// once) and learns the noise afresh, a removed one drops 10 ms; a settings change is
    /// heard either way, and RNNoise keeps its state.
    pub fn set_post_filter(&mut self, on: bool) {
        match (on, self.post_filter.is_some()) {
            (true, false) => self.post_filter = Some(Box::new(NoisePostFilter::new())),
            (false, true) => self.post_filter = None,
            _ => {}
        }
    }

    /// Switches suppression on or off. RNNoise keeps running, so it needs no time to settle;
    /// the audio shifts by its delay (and the second stage's). The second stage hears nothing
    /// while suppression is off, so it starts afresh when switched back on rather than play
    /// out audio from before.
    pub fn set_enabled(&mut self, enabled: bool) {
        if enabled && !self.enabled && self.post_filter.is_some() {
            self.post_filter = Some(Box::new(NoisePostFilter::new()));
        }
        self.enabled = enabled;
    }

    /// Whether suppression is applied to the audio.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Denoises one frame in place (if enabled) and returns the probability, 0 to 1, that
    /// the frame holds voice.
    pub fn process(&mut self, frame: &mut Frame) -> f32 {
        for (scaled, &s) in self.scaled_in.iter_mut().zip(frame.iter()) {
            // Clamp so a hot input cannot push the model outside the range it was trained on.
            *scaled = (s * I16_SCALE).clamp(-I16_SCALE, I16_SCALE - 1.0);
        }
        let probability = self.state.process_frame(&mut self.scaled_out, &self.scaled_in);
        // RNNoise judged the microphone's own signal, before any second stage.
        self.voice_probability =
            if probability.is_finite() { probability.clamp(0.0, 1.0) } else { 0.0 };
        if self.enabled {
            for (s, &out) in frame.iter_mut().zip(self.scaled_out.iter()) {
                *s = out / I16_SCALE;
            }
            if let Some(post_filter) = self.post_filter.as_mut() {
                post_filter.process(&self.previous_input, self.previous_probability, frame);
            }
        }
        self.previous_input = self.scaled_in.map(|s| s / I16_SCALE);
        self.previous_probability = self.voice_probability;
        self.voice_probability
    }

    /// The voice probability of the last frame processed.
    pub fn voice_probability(&self) -> f32 {
        self.voice_probability
    }
}

impl std::fmt::Debug for NoiseSuppressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSuppressor")
            .field("enabled", &self.enabled)
            .field("post_filter", &self.post_filter.is_some())
            .field("voice_probability", &self.voice_probability)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::meter::Level;
    use crate::voice::netsim::SplitMix64;

    /// Reduction in dB of white noise after the model settled, and the last probability.
    fn white_noise_reduction(mut ns: NoiseSuppressor) -> (f32, f32) {
        let mut rng = SplitMix64::new(7);
        let mut in_energy = 0.0;
        let mut out_energy = 0.0;
        let mut last_probability = 1.0;
        for i in 0..200 {
            let mut frame = [0.0; FRAME_SAMPLES];
            for s in frame.iter_mut() {
                *s = 0.05 * rng.next_signed();
            }
            let in_level = Level::measure(&frame);
            last_probability = ns.process(&mut frame);
            // Let the model converge for a second before measuring.
            if i >= 100 {
                in_energy += 10f32.powf(in_level.rms_dbfs / 10.0);
                out_energy += 10f32.powf(Level::measure(&frame).rms_dbfs / 10.0);
            }
        }
        (10.0 * (in_energy / out_energy).log10(), last_probability)
    }

    #[test]
    fn white_noise_is_attenuated_and_not_voice() {
        let (reduction_db, probability) = white_noise_reduction(NoiseSuppressor::new(true));
        assert!(reduction_db > 15.0, "reduction {reduction_db} dB");
        assert!(probability < 0.5, "{probability}");
    }

    #[test]
    fn a_post_filter_takes_out_more_and_judges_voice_like_rnnoise_alone() {
        let (one, p_one) = white_noise_reduction(NoiseSuppressor::new(true));
        let mut strong = NoiseSuppressor::new(true);
        strong.set_post_filter(true);
        assert!(strong.has_post_filter());
        let (two, p_two) = white_noise_reduction(strong);
        assert!(two > one + 3.0, "RNNoise alone {one} dB, with the post-filter {two} dB");
        // The probability is RNNoise's, on the microphone's own signal.
        assert_eq!(p_one, p_two);
    }

    #[test]
    fn the_post_filter_switches_while_running() {
        /// 100 ms of the same noise through `ns` first, so a switch comes mid-stream.
        /// (The same noise: RNNoise's reduction of white noise over one second varies by
        /// 20 dB with the random sequence, which would swamp what is measured here.)
        fn running(mut ns: NoiseSuppressor) -> NoiseSuppressor {
            let mut rng = SplitMix64::new(7);
            for _ in 0..10 {
                let mut frame = [0.0; FRAME_SAMPLES];
                frame.iter_mut().for_each(|s| *s = 0.05 * rng.next_signed());
                ns.process(&mut frame);
            }
            ns
        }
        let (one, _) = white_noise_reduction(running(NoiseSuppressor::new(true)));
        let mut ns = running(NoiseSuppressor::new(true));
        ns.set_post_filter(true);
        assert!(ns.has_post_filter());
        let (two, _) = white_noise_reduction(ns);
        assert!(two > one + 3.0, "RNNoise alone {one} dB, switched to strong {two} dB");
        let mut ns = NoiseSuppressor::new(true);
        ns.set_post_filter(true);
        let mut ns = running(ns);
        ns.set_post_filter(false);
        assert!(!ns.has_post_filter());
        let (back, _) = white_noise_reduction(ns);
        // RNNoise kept its state, so it is as if there had never been a second stage.
        assert!((back - one).abs() < 0.5, "RNNoise alone {one} dB, switched back {back} dB");
    }

    #[test]
    fn switching_back_on_does_not_play_audio_from_before() {
        let mut ns = NoiseSuppressor::new(true);
        ns.set_post_filter(true);
        let mut rng = SplitMix64::new(3);
        for _ in 0..20 {
            let mut frame = [0.0; FRAME_SAMPLES];
            frame.iter_mut().for_each(|s| *s = 0.3 * rng.next_signed());
            ns.process(&mut frame);
        }
        ns.set_enabled(false);
        for _ in 0..10 {
            ns.process(&mut [0.0; FRAME_SAMPLES]);
        }
        ns.set_enabled(true);
        assert!(ns.has_post_filter());
        // Only silence went in since the noise, so only silence may come out.
        let mut frame = [0.0; FRAME_SAMPLES];
        ns.process(&mut frame);
        let level = Level::measure(&frame);
        assert!(level.peak_dbfs < -60.0, "{level:?}");
    }

    #[test]
    fn disabled_passes_audio_but_still_estimates() {
        let mut ns = NoiseSuppressor::new(false);
        let mut frame = [0.01; FRAME_SAMPLES];
        ns.process(&mut frame);
        assert_eq!(frame, [0.01; FRAME_SAMPLES]);
        assert!(!ns.is_enabled());
        // Out-of-range input must not produce NaN or panic.
        let mut hot = [4.0; FRAME_SAMPLES];
        let p = ns.process(&mut hot);
        assert!((0.0..=1.0).contains(&p));
    }
}
