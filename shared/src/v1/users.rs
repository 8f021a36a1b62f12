//! The signed-in user's own account.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// The caller's own account, including private fields such as the email address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrentUser {
    pub id: UserId,
    pub username: String,
    pub display_name: Option<String>,
    pub email: String,
    /// Unix ms.
    pub created_at: i64,
}

/// Fields left out stay unchanged. An empty `display_name` clears it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateProfileRequest {
    #[serde(default)]
    pub display_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_current_user() {
        let user = CurrentUser {
            id: UserId(crate::Snowflake::from_parts(1000, 1, 0).expect("fits")),
            username: "ann".into(),
            display_name: None,
            email: "ann@example.com".into(),
            created_at: 1_767_225_601_000,
        };
        assert_eq!(
            serde_json::to_string(&user).expect("serializes"),
            r#"{"id":"4194308096","username":"ann","display_name":null,"email":"ann@example.com","created_at":1767225601000}"#
        );
    }
}
