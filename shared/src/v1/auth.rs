//! Accounts and sessions: register, login, token refresh, session management.

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::v1::users::CurrentUser;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// 2–32 characters of letters, digits, `_`, `.` and `-`; unique ignoring case.
    pub username: String,
    pub email: String,
    /// 8–128 characters; the most common passwords are refused.
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Shown in the session list, e.g. "Desktop (Linux)". At most 64 characters.
    #[serde(default)]
    pub device_name: Option<String>,
    /// An invite code of a server on this instance. Required where registration is by
    /// invitation; the new account then joins that server. Elsewhere it is optional and
    /// joins the server all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// A username (any case) or an email address.
    pub login: String,
    pub password: String,
    #[serde(default)]
    pub device_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// A fresh pair of tokens for one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tokens {
    pub session_id: SessionId,
    /// Always "Bearer".
    pub token_type: String,
    /// A JWT for the `Authorization: Bearer` header.
    pub access_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// Opaque, single use: every refresh returns a new one. Presenting a used one again
    /// ends the session, because only a thief or a bug would do that.
    pub refresh_token: String,
    /// Unix ms after which `refresh_token` is no longer accepted.
    pub refresh_expires_at: i64,
}

/// Answer to register and login.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthResponse {
    pub user: CurrentUser,
    pub tokens: Tokens,
}

/// One logged-in device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: SessionId,
    pub device_name: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last login or token refresh.
    pub last_used_at: i64,
    /// The address the session was last used from, if known.
    pub ip: Option<String>,
    /// True for the session making this request.
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_rejects_unknown_fields() {
        let ok = r#"{"username":"ann","email":"a@b.co","password":"pw"}"#;
        let req: RegisterRequest = serde_json::from_str(ok).expect("parses");
        assert_eq!(req.display_name, None);
        assert_eq!(req.invite, None);
        assert!(!serde_json::to_string(&req).expect("json").contains("invite"));
        let typo = r#"{"username":"ann","email":"a@b.co","pasword":"pw"}"#;
        assert!(serde_json::from_str::<RegisterRequest>(typo).is_err());
        let extra = r#"{"username":"ann","email":"a@b.co","password":"pw","admin":true}"#;
        assert!(serde_json::from_str::<RegisterRequest>(extra).is_err());
    }

    #[test]
    fn tokens_round_trip() {
        let t = Tokens {
            session_id: SessionId(crate::Snowflake::from_parts(7, 1, 2).expect("fits")),
            token_type: "Bearer".into(),
            access_token: "a.b.c".into(),
            expires_in: 900,
            refresh_token: "r".into(),
            refresh_expires_at: 1,
        };
        let json = serde_json::to_value(&t).expect("serializes");
        assert!(json["session_id"].is_string());
        assert_eq!(serde_json::from_value::<Tokens>(json).expect("parses"), t);
    }
}
