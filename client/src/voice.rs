//! The voice engine: capture chain, Opus codec, jitter buffer, receive chain and mixer.
//!
//! Everything inside the engine runs in one fixed format: 48 kHz, mono, `f32` samples in
//! [-1, 1], in 10 ms frames of 480 samples ([`Frame`]). Devices and files at other rates or
//! channel counts are converted once at the edge. Stages are small types with a
//! `process(&mut self, frame)` method; [`CapturePipeline`] composes the sending side top to
//! bottom, [`RemoteSpeaker`] and [`Mixer`] the receiving side.
//!
//! ```text
//! mic frame ─▶ HighPass ─▶ EchoCanceller ─▶ NoiseSuppressor ─▶ InputGain/Agc ─▶ LevelMeter
//!                               ▲ far end                          │ voice probability
//!                               │                                  ▼
//!                               │                     TransmitGate ─▶ VoiceEncoder ─▶ packet
//! speaker ◀─ Mixer(limiter) ◀─ RemoteSpeaker(volume, mute) ◀─ VoiceDecoder ◀─ JitterBuffer ◀─ packet
//! ```
//!
//! Time never comes from a clock read inside the engine: the functions that need it take a
//! `now: Instant`, so tests drive seconds of audio in milliseconds.
//!
//! Frames come from and go to a driver: [`WavSource`] and [`WavSink`] for files (the CLI and
//! the tests), and the cpal device layer ([`device`]) for microphones and speakers. The
//! device layer converts at the edge (downmix, resample) and hands 480-sample frames to the
//! engine thread through a [`device::FramePort`]; it chooses devices by id, name or system
//! default, falls back to larger buffers when a device underruns, and rebuilds its streams
//! when devices come and go, reporting [`device::DeviceEvent`]s. The seeded network emulator
//! (`netsim`), a simulated one-way call over it (`simcall`) and the perceptual comparison
//! (`compare`) are test support, compiled for this crate's tests and behind the
//! `test-support` feature.
//!
//! Against loss, packets carry earlier packets again (`redundancy`, RFC 2198 style) as
//! deep as the far end's reported loss calls for; the jitter buffer plays such a copy when
//! the original is missing, else the in-band FEC copy, else Opus concealment.

mod capture;
mod codec;
#[cfg(any(test, feature = "test-support"))]
pub mod compare;
mod denoise;
pub mod device;
mod echo;
#[cfg(any(test, feature = "test-support"))]
pub mod echosim;
mod filter;
mod gain;
mod gate;
mod jitter;
mod meter;
mod mixer;
#[cfg(any(test, feature = "test-support"))]
pub mod netsim;
mod packet;
mod postfilter;
mod receive;
mod redundancy;
mod resample;
#[cfg(any(test, feature = "test-support"))]
pub mod simcall;
mod wav;

pub use capture::{CaptureConfig, CaptureOutput, CapturePipeline, DEFAULT_PRE_ROLL};
pub use codec::{
    BITRATE_RANGE_BPS, EncoderConfig, MAX_PACKET_SAMPLES, OpusFrameDuration, VoiceDecoder,
    VoiceEncoder,
};
pub use denoise::NoiseSuppressor;
pub use echo::{EchoCanceller, EchoMetrics};
pub use filter::{DEFAULT_CUTOFF_HZ, HighPass};
pub use gain::{Agc, AgcConfig, InputGain};
pub use gate::{GateEvent, GateMode, TransmitGate, VadConfig};
pub use jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
pub use meter::{Level, LevelMeter};
pub use mixer::{Limiter, Mixer};
pub use packet::{EncodedPacket, RedundantFrame, RtpPayloadTypes};
pub use postfilter::NoisePostFilter;
pub use receive::{MAX_VOLUME_PERCENT, RemoteSpeaker, SpeakingDetector};
pub use redundancy::{LossEstimator, MAX_REDUNDANCY, RedundancyMode, depth_for_loss};
pub use resample::{StreamResampler, downmix, upmix};
pub use wav::{Pacing, WavSink, WavSource};

use std::time::Duration;

/// Internal sample rate. 48 kHz is Opus's native rate (no resampling inside the codec) and
/// the rate RNNoise's model was trained at, and what most devices run at natively.
pub const SAMPLE_RATE: u32 = 48_000;

/// Internal channel count. Voice chat is mono: stereo microphones are downmixed at the edge,
/// which halves every stage's work and keeps Opus in its speech-optimised mode.
pub const CHANNELS: u16 = 1;

/// Samples in one internal frame: 10 ms at 48 kHz. RNNoise works on exactly 480-sample
/// frames, Opus packs 10 or 20 ms, and 10 ms keeps the engine's own latency low.
pub const FRAME_SAMPLES: usize = 480;

/// Duration of one internal frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(10);

/// One 10 ms frame of internal audio.
pub type Frame = [f32; FRAME_SAMPLES];

/// A frame of silence.
pub const SILENT_FRAME: Frame = [0.0; FRAME_SAMPLES];

/// The level reported for digital silence, instead of minus infinity.
pub const SILENCE_DBFS: f32 = -100.0;

/// Converts a linear amplitude (1.0 = full scale) to dBFS, floored at [`SILENCE_DBFS`].
pub fn amplitude_to_dbfs(amplitude: f32) -> f32 {
    if amplitude <= 0.0 { SILENCE_DBFS } else { (20.0 * amplitude.log10()).max(SILENCE_DBFS) }
}

/// Converts decibels to a linear amplitude factor.
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Converts a count of 48 kHz samples to a duration.
pub(crate) fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_nanos(
        u64::try_from(u128::from(samples) * 1_000_000_000 / u128::from(SAMPLE_RATE))
            .unwrap_or(u64::MAX),
    )
}
