//! The crate's one error type. Subsystems add variants here rather than defining their own
//! enums, so callers match on a single type.

use std::path::PathBuf;

/// Errors from the client core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting outside the range the engine supports, e.g. an Opus bitrate of 1 Mb/s.
    #[error("invalid voice setting {setting}: {reason}")]
    InvalidVoiceSetting { setting: &'static str, reason: String },

    /// libopus refused a call: a bad packet on decode, or a bad parameter on set-up.
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),

    /// A voice datagram that does not follow the engine's packet format.
    #[error("invalid voice packet: {reason}")]
    InvalidVoicePacket { reason: &'static str },

    /// A WAV file could not be read or written.
    #[error("WAV file {path}: {source}")]
    Wav {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },

    /// A WAV file that is readable but not in a format the engine accepts.
    #[error("WAV file {path}: unsupported format: {reason}")]
    UnsupportedWav { path: PathBuf, reason: String },

    /// No audio host could be used: no sound server and no usable ALSA, or the host
    /// library failed (a panic inside it is caught and reported here).
    #[error("audio host: {reason}")]
    AudioHost { reason: String },

    /// An audio device refused a request or went away.
    #[error("audio device {device}: {source}")]
    Device {
        device: String,
        #[source]
        source: cpal::Error,
    },

    /// An audio device that works but offers nothing the engine can use.
    #[error("audio device {device}: {reason}")]
    UnsupportedDevice { device: String, reason: String },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
