//! Level metering: RMS and peak in dBFS per frame, for the UI's input meter, for the gate's
//! level condition and for speaking indicators on the receive side.

use super::{Frame, amplitude_to_dbfs};

/// Levels of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Root-mean-square level in dBFS (a full-scale sine reads -3 dBFS).
    pub rms_dbfs: f32,
    /// Absolute peak sample in dBFS.
    pub peak_dbfs: f32,
}

impl Level {
    /// The level of digital silence.
    pub const SILENT: Level =
        Level { rms_dbfs: super::SILENCE_DBFS, peak_dbfs: super::SILENCE_DBFS };

    /// Measures one block of samples.
    pub fn measure(samples: &[f32]) -> Level {
        if samples.is_empty() {
            return Level::SILENT;
        }
        let mut sum = 0.0f64;
        let mut peak = 0.0f32;
        for &s in samples {
            sum += f64::from(s) * f64::from(s);
            peak = peak.max(s.abs());
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let rms = (sum / samples.len() as f64).sqrt() as f32;
        Level { rms_dbfs: amplitude_to_dbfs(rms), peak_dbfs: amplitude_to_dbfs(peak) }
    }
}

impl Default for Level {
    /// Nothing measured yet reads as silence.
    fn default() -> Self {
        Level::SILENT
    }
}

/// Measures each frame it sees and keeps the last reading. It does not change the audio.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    last: Level,
}

impl LevelMeter {
    /// A meter that reads silence until it sees a frame.
    pub fn new() -> Self {
        Self { last: Level::SILENT }
    }

    /// Measures one frame and returns its level.
    pub fn process(&mut self, frame: &Frame) -> Level {
        self.last = Level::measure(frame);
        self.last
    }

    /// The level of the last frame measured.
    pub fn level(&self) -> Level {
        self.last
    }
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::{FRAME_SAMPLES, SILENT_FRAME};

    #[test]
    fn full_scale_sine_and_square_and_silence() {
        let mut sine = [0.0; FRAME_SAMPLES];
        for (i, s) in sine.iter_mut().enumerate() {
            // 1 kHz: exactly 10 periods per frame, so the RMS is exact.
            *s = (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin();
        }
        let mut meter = LevelMeter::new();
        let level = meter.process(&sine);
        assert!((level.rms_dbfs + 3.01).abs() < 0.05, "{level:?}");
        assert!(level.peak_dbfs.abs() < 0.01, "{level:?}");

        let square = [0.1; FRAME_SAMPLES];
        let level = meter.process(&square);
        assert!((level.rms_dbfs + 20.0).abs() < 0.01);
        assert!((level.peak_dbfs + 20.0).abs() < 0.01);

        assert_eq!(meter.process(&SILENT_FRAME), Level::SILENT);
        assert_eq!(Level::measure(&[]), Level::SILENT);
    }
}
