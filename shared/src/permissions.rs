//! Permission bits and the one pure function that decides what a member may do in a
//! channel. Every REST route and every gateway event goes through [`channel_permissions`]
//! (or [`server_permissions`] for server-wide actions), so there is exactly one place
//! where the rules live, and it is tested without a database.
//!
//! The rules, in order (the same as Discord's, which users already understand):
//! 1. The owner has every permission. So does anyone whose roles grant ADMINISTRATOR.
//! 2. Base permissions are the `@everyone` role's, plus every role the member holds.
//! 3. In a channel: the `@everyone` overwrite applies first (deny, then allow); then all
//!    of the member's role overwrites together (deny the union, then allow the union);
//!    then the member's own overwrite (deny, then allow).
//! 4. Without VIEW_CHANNEL in a channel, no other permission in it counts. Without
//!    SEND_MESSAGES, the permissions that only make sense while sending are dropped too.
//! 5. A channel inside a category that has no overwrites of its own is *synced*: its
//!    category's overwrites decide for it ([`ChannelOverwrites::applicable`]). The first
//!    overwrite set on a synced channel starts from a copy of the category's, so making a
//!    channel in a private category different never makes it public by accident.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of permission bits. Serialized as a decimal string so that bits above 2^53
/// survive JavaScript.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Permissions(#[cfg_attr(feature = "specta", specta(type = String))] pub u64);

macro_rules! permission_bits {
    ($($(#[$doc:meta])* $name:ident = $bit:literal,)*) => {
        impl Permissions {
            $($(#[$doc])* pub const $name: Self = Self(1 << $bit);)*

            /// Every defined bit, with its name.
            pub const NAMED: &'static [(&'static str, Permissions)] = &[$((stringify!($name), Self::$name),)*];

            /// The union of every defined bit.
            pub const ALL: Self = Self(0 $(| (1 << $bit))*);
        }
    };
}

// Append only: bit positions are stored in databases and sent to clients.
permission_bits! {
    /// See the channel and its messages list; for voice channels, see who is in it.
    VIEW_CHANNEL = 0,
    SEND_MESSAGES = 1,
    /// Read messages sent before one joined or opened the channel.
    READ_HISTORY = 2,
    /// Delete and pin other people's messages.
    MANAGE_MESSAGES = 3,
    /// Notify everyone with `@everyone`.
    MENTION_EVERYONE = 4,
    ADD_REACTIONS = 5,
    /// Create, edit and delete channels and their permission overwrites.
    MANAGE_CHANNELS = 6,
    /// Create and edit roles below one's own highest role, and assign them.
    MANAGE_ROLES = 7,
    /// Rename the server, change its description.
    MANAGE_SERVER = 8,
    CREATE_INVITE = 9,
    KICK_MEMBERS = 10,
    BAN_MEMBERS = 11,
    /// Join a voice channel.
    CONNECT = 12,
    /// Be heard in a voice channel.
    SPEAK = 13,
    MUTE_MEMBERS = 14,
    DEAFEN_MEMBERS = 15,
    /// Move members between voice channels.
    MOVE_MEMBERS = 16,
    PRIORITY_SPEAKER = 17,
    VIEW_AUDIT_LOG = 18,
    /// Every permission, everywhere, regardless of overwrites.
    ADMINISTRATOR = 19,
    CHANGE_NICKNAME = 20,
    MANAGE_NICKNAMES = 21,
}

impl Permissions {
    pub const NONE: Self = Self(0);

    /// What `@everyone` gets in a new server: talk, listen, read, react, invite.
    pub const DEFAULT_EVERYONE: Self = Self(
        Self::VIEW_CHANNEL.0
            | Self::SEND_MESSAGES.0
            | Self::READ_HISTORY.0
            | Self::ADD_REACTIONS.0
            | Self::CREATE_INVITE.0
            | Self::CONNECT.0
            | Self::SPEAK.0
            | Self::CHANGE_NICKNAME.0,
    );

    /// Permissions that only mean something inside a text channel one can post in.
    const SENDING: Self = Self(Self::MENTION_EVERYONE.0 | Self::ADD_REACTIONS.0);
    /// Permissions that only mean something inside a voice channel one can join.
    const VOICE: Self = Self(
        Self::SPEAK.0
            | Self::MUTE_MEMBERS.0
            | Self::DEAFEN_MEMBERS.0
            | Self::MOVE_MEMBERS.0
            | Self::PRIORITY_SPEAKER.0,
    );

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Drops bits no version of the protocol defines (from a newer client, say).
    pub fn known(self) -> Self {
        Self(self.0 & Self::ALL.0)
    }
}

impl BitOr for Permissions {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Permissions {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl BitAndAssign for Permissions {
    fn bitand_assign(&mut self, rhs: Self) {
        self.0 &= rhs.0;
    }
}

impl Not for Permissions {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0)
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            Self::NAMED.iter().filter(|(_, p)| self.contains(*p)).map(|(n, _)| *n).collect();
        write!(f, "Permissions({})", names.join(" | "))
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom("permissions must be a decimal string"));
        }
        s.parse().map(Self).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Permissions {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]{1,20}$"))
            .description(Some("Permission bit set as a decimal string"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Permissions {}

/// Whom a channel overwrite targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverwriteTarget {
    Role(u64),
    Member(u64),
}

/// Per-channel adjustment for a role or a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overwrite {
    pub target: OverwriteTarget,
    pub allow: Permissions,
    pub deny: Permissions,
}

/// What the calculator needs to know about a member. IDs are raw so this module works
/// for any typed ID wrapper.
#[derive(Clone, Debug)]
pub struct MemberContext<'a> {
    pub user_id: u64,
    pub is_owner: bool,
    /// The `@everyone` role's ID (in AuraSpeak, equal to the server's ID).
    pub everyone_role_id: u64,
    pub everyone: Permissions,
    /// The member's roles other than `@everyone`, with their permissions.
    pub roles: &'a [(u64, Permissions)],
}

/// Server-wide permissions (no channel involved).
pub fn server_permissions(member: &MemberContext<'_>) -> Permissions {
    if member.is_owner {
        return Permissions::ALL;
    }
    let mut perms = member.everyone;
    for (_, role) in member.roles {
        perms |= *role;
    }
    if perms.contains(Permissions::ADMINISTRATOR) { Permissions::ALL } else { perms.known() }
}

/// The kind of channel matters: text permissions mean nothing in a voice channel and the
/// other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Text,
    Voice,
    Category,
}

/// A channel's own overwrites and, for a channel inside a category, the category's.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChannelOverwrites<'a> {
    pub own: &'a [Overwrite],
    /// `Some` when the channel sits in a category (even one without overwrites).
    pub category: Option<&'a [Overwrite]>,
}

impl<'a> ChannelOverwrites<'a> {
    /// Whether the category's overwrites apply instead of the channel's own (there are
    /// none of those).
    pub fn synced(&self) -> bool {
        self.category.is_some() && self.own.is_empty()
    }

    /// The overwrites that decide the channel's permissions.
    pub fn applicable(&self) -> &'a [Overwrite] {
        match self.category {
            Some(category) if self.own.is_empty() => category,
            _ => self.own,
        }
    }
}

/// Effective permissions of a member in one channel, with category inheritance.
pub fn permissions_in(
    member: &MemberContext<'_>,
    kind: ChannelKind,
    overwrites: ChannelOverwrites<'_>,
) -> Permissions {
    channel_permissions(member, kind, overwrites.applicable())
}

/// Effective permissions of a member in one channel, given the overwrites that apply
/// (see [`permissions_in`] for channels in a category).
pub fn channel_permissions(
    member: &MemberContext<'_>,
    kind: ChannelKind,
    overwrites: &[Overwrite],
) -> Permissions {
    let base = server_permissions(member);
    if base.contains(Permissions::ADMINISTRATOR) {
        return Permissions::ALL;
    }
    let mut perms = base;
    if let Some(ow) =
        overwrites.iter().find(|o| o.target == OverwriteTarget::Role(member.everyone_role_id))
    {
        perms &= !ow.deny;
        perms |= ow.allow;
    }
    let (mut role_allow, mut role_deny) = (Permissions::NONE, Permissions::NONE);
    for ow in overwrites {
        if let OverwriteTarget::Role(id) = ow.target
            && id != member.everyone_role_id
            && member.roles.iter().any(|(r, _)| *r == id)
        {
            role_allow |= ow.allow;
            role_deny |= ow.deny;
        }
    }
    perms &= !role_deny;
    perms |= role_allow;
    if let Some(ow) =
        overwrites.iter().find(|o| o.target == OverwriteTarget::Member(member.user_id))
    {
        perms &= !ow.deny;
        perms |= ow.allow;
    }
    // Overwrites may "allow" ADMINISTRATOR, but it is a server-wide grant only.
    perms &= !Permissions::ADMINISTRATOR;
    if !perms.contains(Permissions::VIEW_CHANNEL) {
        return Permissions::NONE;
    }
    match kind {
        ChannelKind::Text => {
            if !perms.contains(Permissions::SEND_MESSAGES) {
                perms &= !Permissions::SENDING;
            }
            perms &= !(Permissions::VOICE | Permissions::CONNECT);
        }
        ChannelKind::Voice => {
            if !perms.contains(Permissions::CONNECT) {
                perms &= !Permissions::VOICE;
            }
        }
        ChannelKind::Category => {}
    }
    perms.known()
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
