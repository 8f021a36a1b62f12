//! Channels: text, voice and categories, with per-channel permission overwrites.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, ServerId, Snowflake};
use crate::permissions::Permissions;

/// Default voice bitrate: transparent for speech with Opus, light on upstream.
pub const DEFAULT_BITRATE_KBPS: i64 = 64;
pub const MIN_BITRATE_KBPS: i64 = 8;
pub const MAX_BITRATE_KBPS: i64 = 510;
pub const MAX_USER_LIMIT: i64 = 99;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChannelKind {
    Text,
    Voice,
    Category,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Voice => "voice",
            Self::Category => "category",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "text" => Some(Self::Text),
            "voice" => Some(Self::Voice),
            "category" => Some(Self::Category),
            _ => None,
        }
    }

    pub fn for_permissions(self) -> crate::permissions::ChannelKind {
        match self {
            Self::Text => crate::permissions::ChannelKind::Text,
            Self::Voice => crate::permissions::ChannelKind::Voice,
            Self::Category => crate::permissions::ChannelKind::Category,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OverwriteKind {
    Role,
    Member,
}

impl OverwriteKind {
    /// The wire name, as in `/channels/{id}/overwrites/{kind}/{target}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Member => "member",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PermissionOverwrite {
    pub kind: OverwriteKind,
    /// A role ID or a user ID, by `kind`.
    pub target_id: Snowflake,
    pub allow: Permissions,
    pub deny: Permissions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
// `Channel` is the name of Tauri's IPC channel type in the generated bindings.
#[cfg_attr(feature = "specta", serde(rename = "ServerChannel"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: ChannelId,
    pub server_id: ServerId,
    pub kind: ChannelKind,
    pub name: String,
    pub topic: Option<String>,
    pub position: i64,
    /// The category this channel sits in.
    pub parent_id: Option<ChannelId>,
    /// Voice channels only: Opus bitrate in kbps (8–510).
    pub bitrate_kbps: Option<i64>,
    /// Voice channels only: most members at once; 0 for no limit.
    pub user_limit: Option<i64>,
    /// The channel's own overwrites (empty while it is synced).
    pub overwrites: Vec<PermissionOverwrite>,
    /// True when the channel sits in a category and has no overwrites of its own: the
    /// category's overwrites then decide its permissions. Setting an overwrite on a synced
    /// channel starts from a copy of the category's; `sync_permissions` syncs it again.
    #[serde(default)]
    pub permissions_synced: bool,
}

/// What the receiving user may do in one channel, after roles, overwrites and category
/// inheritance. Clients use these instead of computing permissions themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelPermissions {
    pub channel_id: ChannelId,
    pub permissions: Permissions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateChannelRequest {
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub parent_id: Option<ChannelId>,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub bitrate_kbps: Option<i64>,
    #[serde(default)]
    pub user_limit: Option<i64>,
}

/// Fields left out stay unchanged. An empty topic clears it; `parent_id: "0"` moves the
/// channel out of its category.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateChannelRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub parent_id: Option<Snowflake>,
    #[serde(default)]
    pub bitrate_kbps: Option<i64>,
    #[serde(default)]
    pub user_limit: Option<i64>,
    /// `true` drops the channel's own overwrites so its category's apply again. Moving a
    /// synced channel to another category without it keeps the overwrites that applied
    /// (a copy of the old category's), so a move never widens access by itself.
    #[serde(default)]
    pub sync_permissions: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetOverwriteRequest {
    #[serde(default)]
    pub allow: Permissions,
    #[serde(default)]
    pub deny: Permissions,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_wire_names() {
        for kind in [OverwriteKind::Role, OverwriteKind::Member] {
            assert_eq!(serde_json::to_value(kind).expect("serialize"), kind.as_str());
        }
        for kind in [ChannelKind::Text, ChannelKind::Voice, ChannelKind::Category] {
            assert_eq!(serde_json::to_value(kind).expect("serialize"), kind.as_str());
        }
    }
}
