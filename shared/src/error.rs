//! Error codes that clients branch on. The HTTP status travels with the response; the code
//! says *which* failure it was, stably, whatever the human-readable message says.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A stable, machine-readable failure reason, serialized in snake_case.
        ///
        /// Append new codes at the end. A client that meets a code it does not know reads
        /// it as [`ErrorCode::Unknown`] instead of failing to parse the whole error.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            /// A code this build does not know yet (never sent by a server).
            Unknown,
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every known code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    Self::Unknown => "unknown",
                    $(Self::$variant => $name,)*
                }
            }

            /// Unknown names map to [`ErrorCode::Unknown`].
            pub fn from_name(name: &str) -> Self {
                match name {
                    $($name => Self::$variant,)*
                    _ => Self::Unknown,
                }
            }
        }
    };
}

error_codes! {
    /// Something failed on the server; details are in its log under the request id.
    Internal = "internal",
    /// The server cannot serve right now (database down, shutting down).
    Unavailable = "unavailable",
    /// The request body is not valid JSON (or not UTF-8).
    InvalidJson = "invalid_json",
    /// The JSON is well-formed but has the wrong shape: missing, unknown or mistyped fields.
    InvalidBody = "invalid_body",
    /// The body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// The body is larger than the server accepts.
    PayloadTooLarge = "payload_too_large",
    /// A field broke a rule (length, characters, format); see `fields`.
    ValidationFailed = "validation_failed",
    /// A path or query parameter is malformed (for example an ID that is not a number).
    InvalidParameter = "invalid_parameter",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    /// No bearer token was sent to a route that needs one.
    MissingToken = "missing_token",
    /// The access token is malformed, forged, of the wrong kind or for another audience.
    InvalidToken = "invalid_token",
    /// The access token has expired: refresh it.
    TokenExpired = "token_expired",
    /// The session behind the token was logged out, revoked or has expired.
    SessionRevoked = "session_revoked",
    /// Login failed. Deliberately the same for an unknown account and a wrong password.
    InvalidCredentials = "invalid_credentials",
    /// The refresh token is unknown or expired.
    InvalidRefreshToken = "invalid_refresh_token",
    /// An already-used refresh token came back: the session was revoked as a precaution.
    RefreshTokenReused = "refresh_token_reused",
    UsernameTaken = "username_taken",
    EmailTaken = "email_taken",
    /// The password is too common to be safe.
    WeakPassword = "weak_password",
    /// Too many requests; wait for `Retry-After` seconds.
    RateLimited = "rate_limited",
    /// The action needs a permission the caller lacks.
    Forbidden = "forbidden",
    /// The request timed out on the server.
    Timeout = "timeout",
    /// The caller is banned from the server they tried to join.
    Banned = "banned",
    /// The instance administrator disabled this account.
    AccountDisabled = "account_disabled",
    /// The voice channel has reached its user limit.
    ChannelFull = "channel_full",
    /// A voice request (offer, update) without having joined a voice channel first.
    NotInVoice = "not_in_voice",
    /// This instance does not take new accounts.
    RegistrationClosed = "registration_closed",
    /// This instance takes new accounts by invitation only, and the request carried no
    /// valid invite code.
    InviteRequired = "invite_required",
    /// The message already carries the most distinct emoji it may (20); existing ones
    /// can still be added to.
    TooManyReactions = "too_many_reactions",
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::from_name(&name))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Self::ALL.iter().map(|c| c.as_str())))
            .description(Some("Stable machine-readable error code"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

impl ErrorCode {
    /// The HTTP status a server answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unknown | Self::Internal => 500,
            Self::Unavailable => 503,
            Self::InvalidJson | Self::InvalidBody | Self::InvalidParameter => 400,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge => 413,
            Self::ValidationFailed | Self::WeakPassword => 422,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::MissingToken
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::SessionRevoked
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken
            | Self::RefreshTokenReused => 401,
            Self::UsernameTaken | Self::EmailTaken => 409,
            Self::RateLimited => 429,
            Self::Forbidden | Self::Banned | Self::AccountDisabled => 403,
            Self::Timeout => 408,
            Self::ChannelFull => 403,
            Self::NotInVoice => 409,
            Self::RegistrationClosed | Self::InviteRequired => 403,
            Self::TooManyReactions => 403,
        }
    }
}

/// The body of every error response: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For humans and logs; may change between versions, unlike `code`.
    pub message: String,
    /// The id of the request, also in the `x-request-id` header and the server log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Per-field problems for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_unknown_codes_parse() {
        assert_eq!(
            serde_json::to_string(&ErrorCode::RefreshTokenReused).expect("serializes"),
            "\"refresh_token_reused\""
        );
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"code_from_the_future\"").expect("parses"),
            ErrorCode::Unknown
        );
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serializes");
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).expect("parses"), *code);
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn golden_error_body() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::InvalidCredentials,
                message: "invalid username or password".into(),
                request_id: None,
                fields: vec![],
            },
        };
        assert_eq!(
            serde_json::to_string(&body).expect("serializes"),
            r#"{"error":{"code":"invalid_credentials","message":"invalid username or password"}}"#
        );
    }
}
