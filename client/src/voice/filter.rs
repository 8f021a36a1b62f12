//! DC removal and high-pass filtering, the first capture stage.
//!
//! Cheap microphones and USB codecs add a DC offset and low rumble (desk knocks, fans,
//! handling noise). Both waste encoder bits and fool level-based decisions downstream, and
//! nothing a voice needs lives below ~80 Hz, so the chain starts by removing it.

use super::{Frame, SAMPLE_RATE};

/// Default cut-off: below the fundamental of low male voices (~85 Hz), above mains hum.
pub const DEFAULT_CUTOFF_HZ: f32 = 80.0;

/// Second-order Butterworth high-pass (a biquad, RBJ cookbook coefficients).
///
/// The state is kept in `f64`: at an 80 Hz cut-off the poles sit so close to the unit circle
/// that `f32` rounding lets a DC offset leak through.
#[derive(Debug, Clone)]
pub struct HighPass {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
    x1: f64,
    x2: f64,
    y1: f64,
    y2: f64,
}

impl HighPass {
    /// A high-pass with the given cut-off in Hz, clamped to 10 Hz – 1 kHz.
    pub fn new(cutoff_hz: f32) -> Self {
        let cutoff = f64::from(cutoff_hz.clamp(10.0, 1000.0));
        let w0 = 2.0 * std::f64::consts::PI * cutoff / f64::from(SAMPLE_RATE);
        let (sin, cos) = w0.sin_cos();
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let alpha = sin / (2.0 * q);
        let a0 = 1.0 + alpha;
        Self {
            b0: (1.0 + cos) / 2.0 / a0,
            b1: -(1.0 + cos) / a0,
            b2: (1.0 + cos) / 2.0 / a0,
            a1: -2.0 * cos / a0,
            a2: (1.0 - alpha) / a0,
            x1: 0.0,
            x2: 0.0,
            y1: 0.0,
            y2: 0.0,
        }
    }

    /// Filters one frame in place.
    pub fn process(&mut self, frame: &mut Frame) {
        for sample in frame.iter_mut() {
            let x = f64::from(*sample);
            let y = self.b0 * x + self.b1 * self.x1 + self.b2 * self.x2
                - self.a1 * self.y1
                - self.a2 * self.y2;
            self.x2 = self.x1;
            self.x1 = x;
            self.y2 = self.y1;
            // Flush denormals: after long silence they would make every sample slow.
            self.y1 = if y.abs() < 1e-25 { 0.0 } else { y };
            #[allow(clippy::cast_possible_truncation)]
            {
                *sample = y as f32;
            }
        }
    }
}

impl Default for HighPass {
    fn default() -> Self {
        Self::new(DEFAULT_CUTOFF_HZ)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::FRAME_SAMPLES;

    fn sine_rms_after(freq: f32, offset: f32) -> f32 {
        let mut hp = HighPass::default();
        let mut sum = 0.0;
        let mut n = 0;
        for f in 0..100 {
            let mut frame = [0.0; FRAME_SAMPLES];
            for (i, s) in frame.iter_mut().enumerate() {
                let t = (f * FRAME_SAMPLES + i) as f32 / SAMPLE_RATE as f32;
                *s = offset + 0.5 * (2.0 * std::f32::consts::PI * freq * t).sin();
            }
            hp.process(&mut frame);
            // Skip the first half second: the filter's settling is not what we test.
            if f >= 50 {
                sum += frame.iter().map(|s| s * s).sum::<f32>();
                n += FRAME_SAMPLES;
            }
        }
        (sum / n as f32).sqrt()
    }

    #[test]
    fn removes_dc_and_rumble_keeps_voice_band() {
        let sine_rms = 0.5 / 2f32.sqrt();
        // DC alone is removed entirely.
        assert!(sine_rms_after(0.0, 0.3) < 1e-3);
        // 20 Hz rumble is cut by more than 20 dB.
        assert!(sine_rms_after(20.0, 0.0) < sine_rms * 0.1);
        // 1 kHz passes unchanged (within 0.1 dB), even on top of a DC offset.
        let passed = sine_rms_after(1000.0, 0.2);
        assert!((passed / sine_rms - 1.0).abs() < 0.012, "{passed}");
    }
}
