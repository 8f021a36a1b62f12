//! The one error every command returns: a stable code the UI translates, and a message
//! for logs and for codes the UI does not know yet.

use auraspeak_client::{ConnectFailure, Error};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CommandError {
    /// The server's `ErrorCode` (snake_case) when the server refused; otherwise one of
    /// `unreachable` (with `unknown_host`, `connection_refused`, `connect_timeout`,
    /// `not_https`, `tls` where the reason is known), `not_auraspeak`, `not_logged_in`,
    /// `invalid_input`, `audio`, `store`, `internal`.
    pub code: String,
    pub message: String,
    /// For `validation_failed`: the field (as the server names it) and what is wrong with
    /// it, shown next to that field.
    pub fields: Vec<FieldProblem>,
}

/// One field's problem in a refused request.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into(), fields: Vec::new() }
    }

    pub fn not_logged_in() -> Self {
        Self::new("not_logged_in", "log in first")
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new("internal", message.to_string())
    }
}

impl From<Error> for CommandError {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::Api { code, .. } => code.as_str(),
            Error::Unreachable { failure, .. } => match failure {
                ConnectFailure::UnknownHost => "unknown_host",
                ConnectFailure::Refused => "connection_refused",
                ConnectFailure::Timeout => "connect_timeout",
                ConnectFailure::NotHttps => "not_https",
                ConnectFailure::Certificate => "tls",
                _ => "unreachable",
            },
            // Something answered, but not as an AuraSpeak server does.
            Error::Protocol(_) => "not_auraspeak",
            Error::NotLoggedIn => "not_logged_in",
            Error::InvalidUrl { .. } | Error::InvalidInput(_) => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::AudioHost { .. } | Error::Device { .. } | Error::UnsupportedDevice { .. } => {
                "audio"
            }
            Error::Store(_) | Error::File { .. } | Error::SessionFile { .. } => "store",
            Error::GatewayClosed { .. } | Error::GatewayEnded | Error::GatewayNotConnected => {
                "gateway"
            }
            Error::VoiceLink(_) => "voice_link",
            _ => "internal",
        };
        // The human message of an API error is the server's; others carry their context.
        let message = match &error {
            Error::Api { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let fields = match &error {
            Error::Api { fields, .. } => fields
                .iter()
                .map(|f| FieldProblem { field: f.field.clone(), message: f.message.clone() })
                .collect(),
            _ => Vec::new(),
        };
        Self { code: code.to_owned(), message, fields }
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
