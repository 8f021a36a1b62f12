//! The crate's one error type. Subsystems add variants here rather than defining their own
//! enums, so callers match on a single type.

use std::path::PathBuf;

use auraspeak_shared::ErrorCode;

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

    /// The voice connection to the relay could not be set up or broke.
    #[error("voice connection: {0}")]
    VoiceLink(String),

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

    /// The server answered with an error body. `code` is the stable reason to branch on;
    /// `message` is for humans.
    /// `fields` says what is wrong with which field of a `validation_failed` request.
    #[error("{message} ({code}, HTTP {status})", code = code.as_str())]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        request_id: Option<String>,
        fields: Vec<auraspeak_shared::FieldError>,
    },

    /// No connection to the server at all: refused, DNS failure, TLS failure or timeout.
    /// `failure` says which, so a user can be told what to fix.
    #[error("cannot reach the server at {url} ({failure}): {source}")]
    Unreachable {
        url: String,
        failure: ConnectFailure,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The server answered, but not with what the protocol says it sends.
    #[error("unexpected response from the server: {0}")]
    Protocol(String),

    /// The server URL is not an absolute http(s) URL.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },

    /// An argument that cannot be sent as given, e.g. an invite code with a slash.
    #[error("{0}")]
    InvalidInput(String),

    /// No server or channel of that name or ID among those the user can see.
    #[error("no {kind} {name:?} found")]
    NotFound { kind: &'static str, name: String },

    /// A name that fits more than one server or channel.
    #[error("{kind} name {name:?} is ambiguous; use one of: {}", candidates.join(", "))]
    Ambiguous { kind: &'static str, name: String, candidates: Vec<String> },

    /// An authenticated call without a session: log in first.
    #[error("not logged in")]
    NotLoggedIn,

    /// The gateway closed for a reason that reconnecting cannot fix (failed
    /// authentication, revoked session, a second connection took the session over).
    #[error("gateway closed ({code}): {reason}")]
    GatewayClosed { code: u16, reason: String },

    /// A frame was offered while the gateway is between connections; send it again after
    /// the next `Ready` or `Resumed`.
    #[error("the gateway is not connected right now")]
    GatewayNotConnected,

    /// The gateway driver has stopped; its handle can no longer send.
    #[error("the gateway connection has ended")]
    GatewayEnded,

    /// A local file (the saved session) could not be read or written.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A saved session file that is not valid JSON of the expected shape.
    #[error("{path}: not a valid session file: {source}")]
    SessionFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

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

    /// The local store (settings, known servers, message cache) failed or is from a
    /// newer version of the app.
    #[error("local store: {0}")]
    Store(String),

    /// The OS keyring holding a saved session's tokens refused or could not be reached.
    #[error("OS keyring: {0}")]
    Keyring(String),
}

impl Error {
    /// The server's stable error code, if the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why no connection to the server came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The host name does not resolve (a typo, or no network).
    UnknownHost,
    /// The host answered that nothing listens on that port.
    Refused,
    /// No answer in time (a firewall dropping packets, or the host is down).
    Timeout,
    /// `https://` to a server that speaks plain HTTP on that port.
    NotHttps,
    /// The TLS handshake failed: an untrusted or mismatched certificate, most often.
    Certificate,
    /// Anything else on the way (reset connections, proxies).
    Other,
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::UnknownHost => "unknown host",
            Self::Refused => "connection refused",
            Self::Timeout => "timed out",
            Self::NotHttps => "the server does not speak HTTPS on that port",
            Self::Certificate => "TLS handshake failed",
            Self::Other => "connection failed",
        })
    }
}
