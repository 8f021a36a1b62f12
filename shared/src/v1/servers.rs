//! Communities ("servers"): the server itself, roles, members, invites, bans, audit log.

use serde::{Deserialize, Serialize};

use crate::ids::{RoleId, ServerId, UserId};
use crate::permissions::Permissions;
use crate::v1::channels::{Channel, ChannelPermissions};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Server {
    pub id: ServerId,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: UserId,
    pub member_count: i64,
    /// Unix ms.
    pub created_at: i64,
}

/// Everything a member needs to show a server: the channels they can see, the roles,
/// and their own membership with the server-wide permissions it grants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerDetail {
    pub server: Server,
    pub channels: Vec<Channel>,
    pub roles: Vec<Role>,
    pub me: Member,
    pub my_permissions: Permissions,
    /// The member's effective permissions in each channel listed in `channels`.
    #[serde(default)]
    pub channel_permissions: Vec<ChannelPermissions>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateServerRequest {
    /// 2–100 characters.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Fields left out stay unchanged; an empty description clears it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateServerRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferOwnershipRequest {
    pub user_id: UserId,
}

/// A role. The `@everyone` role has the server's ID and position 0; higher positions
/// outrank lower ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub permissions: Permissions,
    pub position: i64,
    /// 0xRRGGBB, or 0 for none.
    pub color: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRoleRequest {
    pub name: String,
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default)]
    pub color: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateRoleRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
    #[serde(default)]
    pub color: Option<i64>,
}

/// New order of (some of) the roles: each listed role gets the given position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolePosition {
    pub id: RoleId,
    pub position: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    /// Roles besides `@everyone`.
    pub roles: Vec<RoleId>,
    /// Unix ms.
    pub joined_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberList {
    pub members: Vec<Member>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<UserId>,
}

/// Fields left out stay unchanged; an empty nickname clears it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateMemberRequest {
    #[serde(default)]
    pub nickname: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerationRequest {
    /// Shown in the audit log. At most 512 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ban {
    pub user_id: UserId,
    pub username: String,
    pub reason: Option<String>,
    pub moderator_id: UserId,
    pub created_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateInviteRequest {
    /// Seconds until the invite expires; 0 or absent for never. At most 30 days.
    #[serde(default)]
    pub max_age_secs: Option<i64>,
    /// Uses before the invite stops working; 0 or absent for unlimited.
    #[serde(default)]
    pub max_uses: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invite {
    pub code: String,
    pub server_id: ServerId,
    pub creator_id: UserId,
    pub uses: i64,
    pub max_uses: Option<i64>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// What anyone holding an invite code may see before joining.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitePreview {
    pub code: String,
    pub server_id: ServerId,
    pub server_name: String,
    pub member_count: i64,
    pub expires_at: Option<i64>,
}

/// One moderation or configuration action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: crate::ids::Snowflake,
    pub action: AuditAction,
    pub actor_id: UserId,
    /// The user, role, channel or message acted upon.
    pub target_id: Option<crate::ids::Snowflake>,
    pub reason: Option<String>,
    pub created_at: i64,
    /// The actor's username (also after they left the server).
    #[serde(default)]
    pub actor_name: Option<String>,
    /// The target's username where the target is a user.
    #[serde(default)]
    pub target_user_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}

/// Append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditAction {
    ServerUpdate,
    MemberKick,
    MemberBan,
    MemberUnban,
    MemberRoleAdd,
    MemberRoleRemove,
    RoleCreate,
    RoleUpdate,
    RoleDelete,
    ChannelCreate,
    ChannelUpdate,
    ChannelDelete,
    OverwriteUpdate,
    OverwriteDelete,
    MessageDelete,
    OwnershipTransfer,
    InviteDelete,
    /// Server mute and deafen (stored per member) and moves between voice channels; the
    /// target is the member, and for a move the reason names the channel moved to.
    MemberVoiceMute,
    MemberVoiceUnmute,
    MemberVoiceDeafen,
    MemberVoiceUndeafen,
    MemberVoiceMove,
    /// An invite made; the reason holds its code (as for `InviteDelete`).
    InviteCreate,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerUpdate => "server_update",
            Self::MemberKick => "member_kick",
            Self::MemberBan => "member_ban",
            Self::MemberUnban => "member_unban",
            Self::MemberRoleAdd => "member_role_add",
            Self::MemberRoleRemove => "member_role_remove",
            Self::RoleCreate => "role_create",
            Self::RoleUpdate => "role_update",
            Self::RoleDelete => "role_delete",
            Self::ChannelCreate => "channel_create",
            Self::ChannelUpdate => "channel_update",
            Self::ChannelDelete => "channel_delete",
            Self::OverwriteUpdate => "overwrite_update",
            Self::OverwriteDelete => "overwrite_delete",
            Self::MessageDelete => "message_delete",
            Self::OwnershipTransfer => "ownership_transfer",
            Self::InviteDelete => "invite_delete",
            Self::MemberVoiceMute => "member_voice_mute",
            Self::MemberVoiceUnmute => "member_voice_unmute",
            Self::MemberVoiceDeafen => "member_voice_deafen",
            Self::MemberVoiceUndeafen => "member_voice_undeafen",
            Self::MemberVoiceMove => "member_voice_move",
            Self::InviteCreate => "invite_create",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }
}
