//! Input gain (a manual trim) and automatic gain control.
//!
//! Gain changes are ramped across a frame: a step between frames would be an audible click.

use super::{FRAME_SAMPLES, Frame, db_to_gain, meter::Level};

/// Applies `from` at the first sample moving linearly to `to` at the last.
fn apply_ramp(frame: &mut Frame, from: f32, to: f32) {
    if (from - to).abs() < 1e-6 {
        for s in frame.iter_mut() {
            *s *= to;
        }
        return;
    }
    #[allow(clippy::cast_precision_loss)]
    let step = (to - from) / FRAME_SAMPLES as f32;
    let mut g = from;
    for s in frame.iter_mut() {
        g += step;
        *s *= g;
    }
}

/// A fixed gain set by the user (the "input volume" slider).
#[derive(Debug, Clone)]
pub struct InputGain {
    target: f32,
    current: f32,
}

impl InputGain {
    /// Lowest and highest gain accepted, in dB; values outside are clamped.
    pub const RANGE_DB: (f32, f32) = (-60.0, 30.0);

    /// A gain of `db` decibels.
    pub fn new(db: f32) -> Self {
        let g = db_to_gain(Self::clamp_db(db));
        Self { target: g, current: g }
    }

    fn clamp_db(db: f32) -> f32 {
        if db.is_finite() { db.clamp(Self::RANGE_DB.0, Self::RANGE_DB.1) } else { 0.0 }
    }

    /// Changes the gain; the change is ramped over the next frame.
    pub fn set_db(&mut self, db: f32) {
        self.target = db_to_gain(Self::clamp_db(db));
    }

    /// Applies the gain to one frame.
    pub fn process(&mut self, frame: &mut Frame) {
        apply_ramp(frame, self.current, self.target);
        self.current = self.target;
    }
}

impl Default for InputGain {
    fn default() -> Self {
        Self::new(0.0)
    }
}

/// Automatic gain control settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AgcConfig {
    /// Speech RMS level the AGC steers towards. -20 dBFS leaves headroom for peaks.
    pub target_rms_dbfs: f32,
    /// Most boost the AGC applies; beyond it, noise would be amplified more than voice.
    pub max_gain_db: f32,
    /// Most cut the AGC applies.
    pub min_gain_db: f32,
    /// How fast gain rises, in dB per second. Slow, so pauses do not pump the noise floor.
    pub rise_db_per_s: f32,
    /// How fast gain falls, in dB per second. Fast, so a shout is tamed within ~100 ms.
    pub fall_db_per_s: f32,
    /// Frames with a lower voice probability do not move the gain.
    pub min_voice_probability: f32,
    /// Frames quieter than this do not move the gain (room noise, not a distant talker).
    pub min_level_dbfs: f32,
    /// Peaks after gain are kept below this level.
    pub peak_ceiling_dbfs: f32,
    /// How the speech level is measured: an average of the energy of speech frames over
    /// about this long. One frame's RMS swings by 20 dB between a vowel and a consonant;
    /// steering by it would pump the gain within every word.
    pub level_time_constant: std::time::Duration,
    /// The gain never rises above what the loudest recent peak allows under the ceiling;
    /// that peak's memory fades at this rate, in dB per second. Without the memory the gain
    /// creeps up between peaks and is cut at each one: pumping.
    pub peak_release_db_per_s: f32,
}

impl Default for AgcConfig {
    fn default() -> Self {
        Self {
            target_rms_dbfs: -20.0,
            max_gain_db: 24.0,
            min_gain_db: -12.0,
            rise_db_per_s: 6.0,
            fall_db_per_s: 40.0,
            min_voice_probability: 0.6,
            min_level_dbfs: -65.0,
            peak_ceiling_dbfs: -1.0,
            level_time_constant: std::time::Duration::from_secs(1),
            peak_release_db_per_s: 2.0,
        }
    }
}

/// A simple automatic gain control: it measures speech frames, moves a gain towards the one
/// that would bring them to the target level at a bounded rate, and cuts at once when a peak
/// would exceed the ceiling.
#[derive(Debug, Clone)]
pub struct Agc {
    config: AgcConfig,
    enabled: bool,
    gain_db: f32,
    applied: f32,
    /// Smoothed energy of speech frames (linear, mean square), `None` before the first.
    speech_energy: Option<f32>,
    /// Remembered input peak in dBFS, fading at `peak_release_db_per_s`.
    peak_memory_dbfs: f32,
}

impl Agc {
    /// An AGC starting at 0 dB.
    pub fn new(config: AgcConfig, enabled: bool) -> Self {
        Self {
            config,
            enabled,
            gain_db: 0.0,
            applied: 1.0,
            speech_energy: None,
            peak_memory_dbfs: super::SILENCE_DBFS,
        }
    }

    /// Switches the AGC on or off. Switched off, it ramps back to unity gain.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.gain_db = 0.0;
        }
    }

    /// Whether the AGC is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The gain currently applied, in dB.
    pub fn gain_db(&self) -> f32 {
        self.gain_db
    }

    /// Updates the gain from this frame and applies it. `voice_probability` comes from the
    /// noise suppressor.
    pub fn process(&mut self, frame: &mut Frame, voice_probability: f32) {
        if self.enabled {
            let c = &self.config;
            let level = Level::measure(frame);
            let frame_s = super::FRAME_DURATION.as_secs_f32();
            self.peak_memory_dbfs =
                (self.peak_memory_dbfs - c.peak_release_db_per_s * frame_s).max(level.peak_dbfs);
            if voice_probability >= c.min_voice_probability && level.rms_dbfs >= c.min_level_dbfs {
                let energy = 10f32.powf(level.rms_dbfs / 10.0);
                let tau = c.level_time_constant.as_secs_f32();
                let alpha = if tau > frame_s { frame_s / tau } else { 1.0 };
                let smoothed = self.speech_energy.map_or(energy, |e| e + alpha * (energy - e));
                self.speech_energy = Some(smoothed);
                let speech_dbfs = 10.0 * smoothed.max(1e-12).log10();
                let headroom = c.peak_ceiling_dbfs - self.peak_memory_dbfs;
                let wanted = (c.target_rms_dbfs - speech_dbfs)
                    .min(headroom)
                    .clamp(c.min_gain_db, c.max_gain_db);
                let delta = wanted - self.gain_db;
                let step = if delta > 0.0 {
                    delta.min(c.rise_db_per_s * frame_s)
                } else {
                    delta.max(-c.fall_db_per_s * frame_s)
                };
                self.gain_db += step;
            }
            // Peak protection applies to every frame, voice or not.
            let peak_after = level.peak_dbfs + self.gain_db;
            if peak_after > c.peak_ceiling_dbfs {
                self.gain_db -= peak_after - c.peak_ceiling_dbfs;
                // Cut at once rather than ramping: a ramp would let the frame's first
                // samples clip, and a sudden cut under a loud peak is inaudible.
                self.applied = self.applied.min(db_to_gain(self.gain_db));
            }
        }
        let target = db_to_gain(self.gain_db);
        apply_ramp(frame, self.applied, target);
        self.applied = target;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::amplitude_to_dbfs;

    fn tone(amplitude: f32, frame_index: usize) -> Frame {
        let mut f = [0.0; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            let n = (frame_index * FRAME_SAMPLES + i) as f32;
            *s = amplitude * (2.0 * std::f32::consts::PI * 300.0 * n / 48_000.0).sin();
        }
        f
    }

    #[test]
    fn input_gain_scales_and_clamps() {
        let mut g = InputGain::new(-6.0206);
        let mut f = [0.5; FRAME_SAMPLES];
        g.process(&mut f);
        assert!((f[100] - 0.25).abs() < 1e-3);
        g.set_db(f32::NAN);
        let mut f = [0.5; FRAME_SAMPLES];
        g.process(&mut f);
        g.process(&mut f);
        assert!(f.iter().all(|s| s.is_finite()));
    }

    #[test]
    fn agc_brings_quiet_speech_up_gradually_and_never_clips() {
        let mut agc = Agc::new(AgcConfig::default(), true);
        // A quiet talker at about -40 dBFS RMS.
        for i in 0..100 {
            let mut f = tone(0.014, i);
            agc.process(&mut f, 0.9);
        }
        // One second at 6 dB/s: about +6 dB, not the full +20 dB at once.
        assert!((agc.gain_db() - 6.0).abs() < 0.5, "{}", agc.gain_db());
        for i in 100..600 {
            let mut f = tone(0.014, i);
            agc.process(&mut f, 0.9);
        }
        assert!((agc.gain_db() - 20.0).abs() < 1.0, "{}", agc.gain_db());

        // A sudden shout near full scale is cut within the same frame.
        let mut f = tone(0.9, 600);
        agc.process(&mut f, 0.9);
        let peak = f.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak <= 1.0, "{peak}");
        let mut f = tone(0.9, 601);
        agc.process(&mut f, 0.9);
        let peak = f.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak <= db_to_gain(-1.0) + 1e-3, "{peak}");
    }

    #[test]
    fn agc_holds_steady_through_syllables_instead_of_pumping() {
        let mut agc = Agc::new(AgcConfig::default(), true);
        // Speech-like: a loud vowel every 200 ms among quieter consonants, 20 dB apart.
        let amplitude = |i: usize| if i % 20 < 5 { 0.5 } else { 0.05 };
        for i in 0..600 {
            agc.process(&mut tone(amplitude(i), i), 0.9);
        }
        let mut gains = Vec::new();
        for i in 600..800 {
            agc.process(&mut tone(amplitude(i), i), 0.9);
            gains.push(agc.gain_db());
        }
        let (lo, hi) = gains.iter().fold((f32::MAX, f32::MIN), |(l, h), g| (l.min(*g), h.max(*g)));
        // Per-frame steering moved several dB within every syllable; now it barely moves.
        assert!(hi - lo < 1.0, "gain swings {lo:.1}..{hi:.1} dB");
        // And the loud vowels' peaks never need the emergency cut.
        assert!(hi + amplitude_to_dbfs(0.5) <= -1.0 + 0.1, "{hi}");
    }

    #[test]
    fn agc_ignores_noise_and_can_be_disabled() {
        let mut agc = Agc::new(AgcConfig::default(), true);
        for i in 0..300 {
            let mut f = tone(0.014, i);
            agc.process(&mut f, 0.1);
        }
        assert_eq!(agc.gain_db(), 0.0);
        agc.set_enabled(false);
        let mut f = tone(0.1, 0);
        let before = f;
        agc.process(&mut f, 0.9);
        assert_eq!(f, before);
    }
}
