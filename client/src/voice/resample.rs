//! Sample-rate and channel conversion at the edge (files now, devices next), so the engine
//! inside runs at 48 kHz mono only. Only sources that cannot deliver 48 kHz themselves pay
//! for it: PulseAudio and PipeWire always can, a 44.1 kHz WAV file or raw ALSA hardware
//! cannot.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::error::{Error, Result};

/// Streaming mono resampler between two fixed rates (rubato's FFT resampler: the rates of
/// a device and the engine are locked for the life of a stream). Passes samples through
/// unchanged when the rates are equal.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    out: Vec<f32>,
}

impl StreamResampler {
    /// A resampler from `from_hz` to `to_hz`, taking 10 ms chunks of input.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self> {
        if from_hz == 0 || to_hz == 0 {
            return Err(Error::InvalidVoiceSetting {
                setting: "sample rate",
                reason: format!("cannot resample {from_hz} Hz to {to_hz} Hz"),
            });
        }
        if from_hz == to_hz {
            return Ok(Self { inner: None, pending: Vec::new(), out: Vec::new() });
        }
        let chunk = (from_hz / 100).max(1) as usize;
        let inner = Fft::<f32>::new(from_hz as usize, to_hz as usize, chunk, 1, FixedSync::Input)
            .map_err(|e| Error::InvalidVoiceSetting {
            setting: "sample rate",
            reason: format!("resampler {from_hz} Hz -> {to_hz} Hz: {e}"),
        })?;
        let out = vec![0.0; inner.output_frames_max()];
        Ok(Self { pending: Vec::with_capacity(4 * chunk), out, inner: Some(inner) })
    }

    /// Resamples `input`, appending whatever output is ready to `output`. Input is buffered
    /// until a whole chunk is there, so output lags by up to one chunk plus the filter delay.
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) {
        let Some(inner) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        loop {
            let need = inner.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            let out_len = self.out.len();
            let (Ok(src), Ok(mut dst)) = (
                InterleavedSlice::new(&self.pending[..need], 1, need),
                InterleavedSlice::new_mut(&mut self.out[..], 1, out_len),
            ) else {
                break;
            };
            match inner.process_into_buffer(&src, &mut dst, None) {
                Ok((consumed, produced)) => {
                    output.extend_from_slice(&self.out[..produced.min(out_len)]);
                    self.pending.drain(..consumed.clamp(1, need));
                }
                // Sizes are computed from the resampler itself, so this cannot happen;
                // dropping the chunk keeps a device callback alive if it somehow does.
                Err(_) => {
                    self.pending.drain(..need);
                }
            }
        }
    }
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("passthrough", &self.inner.is_none())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl StreamResampler {
    /// How many leading output samples are the filter's start-up delay rather than input.
    pub fn output_delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Pushes out the input still buffered (and the filter's tail) by feeding silence. The
    /// output may run past the input's true end; the caller trims it to the length it
    /// expects.
    pub fn flush(&mut self, output: &mut Vec<f32>) {
        let Some(inner) = self.inner.as_ref() else { return };
        // Two chunks beyond what is pending cover the buffered part and the filter delay.
        let zeros = inner.input_frames_next() * 2 + inner.output_delay();
        let silence = vec![0.0; zeros];
        self.process(&silence, output);
    }
}

/// Averages interleaved channels into mono, appending to `out`.
pub fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    let channels = channels.max(1);
    #[allow(clippy::cast_precision_loss)]
    let scale = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale));
}

/// Copies mono samples to every channel of an interleaved buffer.
pub fn upmix(mono: &[f32], channels: usize, interleaved: &mut [f32]) {
    let channels = channels.max(1);
    for (frame, &s) in interleaved.chunks_exact_mut(channels).zip(mono) {
        frame.fill(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero_crossings(s: &[f32]) -> usize {
        s.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count()
    }

    #[test]
    fn resamples_44k1_to_48k_keeping_pitch_and_level() {
        let input: Vec<f32> = (0..44_100)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 44_100.0).sin())
            .collect();
        let mut r = StreamResampler::new(44_100, 48_000).unwrap();
        let mut out = Vec::new();
        // Fed in odd-sized pieces, as device callbacks do.
        for piece in input.chunks(333) {
            r.process(piece, &mut out);
        }
        // One second in, one second (less the buffered chunk and filter delay) out.
        assert!(out.len() > 46_000 && out.len() <= 48_000, "{}", out.len());
        let steady = &out[4800..out.len() - 4800];
        let seconds = steady.len() as f32 / 48_000.0;
        let freq = zero_crossings(steady) as f32 / seconds;
        assert!((freq - 1000.0).abs() < 5.0, "{freq}");
        let peak = steady.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "{peak}");
    }

    #[test]
    fn same_rate_passes_through_and_channels_convert() {
        let mut r = StreamResampler::new(48_000, 48_000).unwrap();
        let mut out = Vec::new();
        r.process(&[0.1, 0.2], &mut out);
        assert_eq!(out, [0.1, 0.2]);
        assert!(StreamResampler::new(0, 48_000).is_err());

        let mut mono = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5, 0.25], 2, &mut mono);
        assert_eq!(mono, [0.5, 0.5]);
        let mut stereo = [0.0; 4];
        upmix(&[0.3, -0.3], 2, &mut stereo);
        assert_eq!(stereo, [0.3, 0.3, -0.3, -0.3]);
    }
}
