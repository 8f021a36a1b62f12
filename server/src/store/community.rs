//! Storage for communities: servers, roles, members, channels, overwrites, invites, bans,
//! the audit log and messages.
//!
//! Unlike the account queries, these are written once and shared by both backends: the
//! SQL uses only what SQLite and PostgreSQL both understand (`$N` parameters, `RETURNING`,
//! `ON CONFLICT`), and [`impl_community_store!`] expands the same method bodies for the
//! SQLite and the PostgreSQL pool types. One text per query keeps the two backends from
//! drifting apart; the contract suite (`tests/store_contract.rs`, `tests/communities.rs`)
//! runs every query against both.

use async_trait::async_trait;
use auraspeak_shared::v1::servers::AuditAction;

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: i64,
    pub created_at: i64,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRow {
    pub id: i64,
    pub server_id: i64,
    pub name: String,
    pub permissions: i64,
    pub position: i64,
    pub color: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    pub server_id: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub joined_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRoleRow {
    pub user_id: i64,
    pub role_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub server_id: i64,
    pub kind: String,
    pub name: String,
    pub topic: Option<String>,
    pub position: i64,
    pub parent_id: Option<i64>,
    pub bitrate: Option<i64>,
    pub user_limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OverwriteRow {
    pub channel_id: i64,
    pub target_kind: String,
    pub target_id: i64,
    pub allow_bits: i64,
    pub deny_bits: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InviteRow {
    pub code: String,
    pub server_id: i64,
    pub creator_id: i64,
    pub uses: i64,
    pub max_uses: Option<i64>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BanRow {
    pub server_id: i64,
    pub user_id: i64,
    pub username: String,
    pub reason: Option<String>,
    pub moderator_id: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub server_id: i64,
    pub actor_id: i64,
    pub action: String,
    pub target_id: Option<i64>,
    pub reason: Option<String>,
    pub created_at: i64,
    /// Usernames as they are now, for the log's reader: members who left or were banned
    /// are no longer in the member list to look them up.
    pub actor_name: Option<String>,
    pub target_user_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub channel_id: i64,
    pub author_id: i64,
    pub content: String,
    pub reply_to: Option<i64>,
    pub nonce: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub mention_everyone: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MentionRow {
    pub message_id: i64,
    pub target_kind: String,
    pub target_id: i64,
}

/// What adding a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionAdded {
    Added,
    /// This user had already reacted with this emoji.
    AlreadyThere,
    /// The emoji is new to the message and the message has its maximum of distinct emoji.
    TooManyEmoji,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReactionCountRow {
    pub message_id: i64,
    pub emoji: String,
    pub count: i64,
    /// 1 if the asking user reacted.
    pub me: i64,
}

/// Parsed mentions of a message, as stored.
#[derive(Debug, Clone, Default)]
pub struct MentionSet {
    pub users: Vec<i64>,
    pub roles: Vec<i64>,
    pub everyone: bool,
}

/// An audit entry written in the same transaction as the action it records.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub id: i64,
    pub server_id: i64,
    pub actor_id: i64,
    pub action: AuditAction,
    pub target_id: Option<i64>,
    pub reason: Option<String>,
    pub now: i64,
}

/// A new server with its @everyone role, owner membership and default channels.
#[derive(Debug, Clone)]
pub struct NewServer {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: i64,
    pub everyone_permissions: i64,
    /// (id, kind, name) of the channels every new server starts with.
    pub channels: Vec<(i64, &'static str, String)>,
    pub default_bitrate: i64,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct NewChannel {
    pub id: i64,
    pub server_id: i64,
    pub kind: &'static str,
    pub name: String,
    pub topic: Option<String>,
    pub position: Option<i64>,
    pub parent_id: Option<i64>,
    pub bitrate: Option<i64>,
    pub user_limit: Option<i64>,
}

/// Full replacement values for a channel's editable fields.
#[derive(Debug, Clone)]
pub struct ChannelUpdate {
    pub name: String,
    pub topic: Option<String>,
    pub position: i64,
    pub parent_id: Option<i64>,
    pub bitrate: Option<i64>,
    pub user_limit: Option<i64>,
    pub overwrites: OwnOverwrites,
}

/// What an update does to a channel's own permission overwrites, in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnOverwrites {
    Keep,
    /// Take a copy of another channel's (the category a synced channel leaves).
    CopyFrom(i64),
    /// Drop them all, so the channel follows its category again.
    Clear,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: i64,
    pub channel_id: i64,
    pub author_id: i64,
    pub content: String,
    pub reply_to: Option<i64>,
    pub nonce: Option<String>,
    pub mentions: MentionSet,
    pub now: i64,
}

/// Which page of history to read.
#[derive(Debug, Clone, Copy)]
pub enum HistoryPage {
    Latest,
    Before(i64),
    After(i64),
    Around(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined(ServerRow),
    AlreadyMember(ServerRow),
    Banned,
    /// Unknown, expired or used up.
    InvalidInvite,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminUserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
}

#[async_trait]
pub trait CommunityStore: Send + Sync {
    // Instance administration (the `admin` subcommands) shares these portable queries.
    async fn list_users(&self, after: i64, limit: i64) -> Result<Vec<AdminUserRow>, Error>;
    /// Disables (with a reason) or re-enables an account; disabling ends all its sessions.
    async fn set_user_disabled(
        &self,
        user_id: i64,
        disabled: Option<(&str, i64)>,
    ) -> Result<bool, Error>;
    /// Sets a new password hash and ends every session of the account.
    async fn reset_password(
        &self,
        user_id: i64,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, Error>;
    /// Login sessions revoked at or after `since` (ms): how a running gateway learns of
    /// revocations made by another process (the `admin` command) within a second.
    async fn revoked_sessions_since(&self, since: i64) -> Result<Vec<i64>, Error>;
    async fn servers_named(&self, name: &str) -> Result<Vec<ServerRow>, Error>;

    async fn create_server(&self, new: &NewServer) -> Result<ServerRow, Error>;
    async fn server(&self, id: i64) -> Result<Option<ServerRow>, Error>;
    async fn servers_of_user(&self, user_id: i64) -> Result<Vec<ServerRow>, Error>;
    async fn update_server(
        &self,
        id: i64,
        name: &str,
        description: Option<&str>,
        audit: &NewAudit,
    ) -> Result<Option<ServerRow>, Error>;
    async fn delete_server(&self, id: i64) -> Result<bool, Error>;
    /// Fails (returns false) unless `new_owner` is a member.
    async fn transfer_ownership(
        &self,
        id: i64,
        new_owner: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error>;

    async fn roles(&self, server_id: i64) -> Result<Vec<RoleRow>, Error>;
    async fn role(&self, server_id: i64, role_id: i64) -> Result<Option<RoleRow>, Error>;
    async fn create_role(&self, role: &RoleRow, audit: &NewAudit) -> Result<RoleRow, Error>;
    async fn update_role(&self, role: &RoleRow, audit: &NewAudit)
    -> Result<Option<RoleRow>, Error>;
    async fn delete_role(
        &self,
        server_id: i64,
        role_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error>;
    async fn set_role_positions(
        &self,
        server_id: i64,
        positions: &[(i64, i64)],
        audit: &NewAudit,
    ) -> Result<(), Error>;

    async fn member(&self, server_id: i64, user_id: i64) -> Result<Option<MemberRow>, Error>;
    /// The role IDs (besides @everyone) of the given members.
    async fn member_roles(
        &self,
        server_id: i64,
        user_ids: &[i64],
    ) -> Result<Vec<MemberRoleRow>, Error>;
    /// Members ordered by user ID, after `after`, at most `limit`.
    async fn members(
        &self,
        server_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<MemberRow>, Error>;
    async fn set_nickname(
        &self,
        server_id: i64,
        user_id: i64,
        nickname: Option<&str>,
    ) -> Result<bool, Error>;
    async fn add_member_role(
        &self,
        server_id: i64,
        user_id: i64,
        role_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error>;
    async fn remove_member_role(
        &self,
        server_id: i64,
        user_id: i64,
        role_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error>;
    /// Leave or kick: removes the membership (and its roles). Audit only for kicks.
    async fn remove_member(
        &self,
        server_id: i64,
        user_id: i64,
        audit: Option<&NewAudit>,
    ) -> Result<bool, Error>;
    async fn ban(
        &self,
        server_id: i64,
        user_id: i64,
        reason: Option<&str>,
        audit: &NewAudit,
    ) -> Result<(), Error>;
    async fn unban(&self, server_id: i64, user_id: i64, audit: &NewAudit) -> Result<bool, Error>;
    async fn bans(&self, server_id: i64) -> Result<Vec<BanRow>, Error>;
    /// Records an audit entry on its own, for actions whose change is stored elsewhere
    /// (voice moderation lives in the voice service).
    async fn add_audit(&self, audit: &NewAudit) -> Result<(), Error>;
    /// Server mute and deafen of a user in a server, (mute, deaf); both false when unset.
    async fn voice_moderation(&self, server_id: i64, user_id: i64) -> Result<(bool, bool), Error>;
    /// Sets server mute and/or deafen (`None` leaves that one as it is).
    async fn set_voice_moderation(
        &self,
        server_id: i64,
        user_id: i64,
        mute: Option<bool>,
        deaf: Option<bool>,
    ) -> Result<(), Error>;

    async fn channel(&self, id: i64) -> Result<Option<ChannelRow>, Error>;
    async fn channels(&self, server_id: i64) -> Result<Vec<ChannelRow>, Error>;
    async fn create_channel(&self, new: &NewChannel, audit: &NewAudit)
    -> Result<ChannelRow, Error>;
    async fn update_channel(
        &self,
        id: i64,
        update: &ChannelUpdate,
        audit: &NewAudit,
    ) -> Result<Option<ChannelRow>, Error>;
    async fn delete_channel(&self, id: i64, audit: &NewAudit) -> Result<bool, Error>;
    /// Every overwrite of every channel of a server.
    async fn overwrites(&self, server_id: i64) -> Result<Vec<OverwriteRow>, Error>;
    /// Sets one overwrite. With `copy_from`, the channel first takes a copy of that
    /// channel's overwrites (a synced channel's category), in the same transaction.
    async fn set_overwrite(
        &self,
        row: &OverwriteRow,
        copy_from: Option<i64>,
        audit: &NewAudit,
    ) -> Result<(), Error>;
    async fn delete_overwrite(
        &self,
        channel_id: i64,
        kind: &str,
        target_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error>;

    async fn create_invite(&self, invite: &InviteRow, audit: &NewAudit)
    -> Result<InviteRow, Error>;
    async fn invite(&self, code: &str) -> Result<Option<InviteRow>, Error>;
    async fn invites(&self, server_id: i64) -> Result<Vec<InviteRow>, Error>;
    async fn delete_invite(&self, code: &str, audit: &NewAudit) -> Result<bool, Error>;
    /// Joins `user_id` to the invite's server, counting the use, atomically.
    async fn accept_invite(&self, code: &str, user_id: i64, now: i64)
    -> Result<JoinOutcome, Error>;

    async fn audit_log(
        &self,
        server_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, Error>;

    /// Returns the message and whether this call created it (false: the nonce matched an
    /// earlier send, whose message is returned).
    async fn create_message(&self, new: &NewMessage) -> Result<(MessageRow, bool), Error>;
    async fn message(&self, channel_id: i64, id: i64) -> Result<Option<MessageRow>, Error>;
    async fn history(
        &self,
        channel_id: i64,
        page: HistoryPage,
        limit: i64,
    ) -> Result<Vec<MessageRow>, Error>;
    async fn edit_message(
        &self,
        channel_id: i64,
        id: i64,
        content: &str,
        mentions: &MentionSet,
        now: i64,
    ) -> Result<Option<MessageRow>, Error>;
    /// Mentions of the channel's messages with IDs in `lo..=hi` (one history page).
    async fn mentions_between(
        &self,
        channel_id: i64,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<MentionRow>, Error>;
    /// Reaction counts of the channel's messages with IDs in `lo..=hi`.
    async fn reactions_between(
        &self,
        channel_id: i64,
        lo: i64,
        hi: i64,
        user_id: i64,
    ) -> Result<Vec<ReactionCountRow>, Error>;
    /// Adds a reaction unless the message already carries `max_distinct` other emoji.
    async fn add_reaction(
        &self,
        message_id: i64,
        user_id: i64,
        emoji: &str,
        max_distinct: i64,
        now: i64,
    ) -> Result<ReactionAdded, Error>;
    async fn remove_reaction(
        &self,
        message_id: i64,
        user_id: i64,
        emoji: &str,
    ) -> Result<bool, Error>;
    async fn reaction_users(
        &self,
        message_id: i64,
        emoji: &str,
        limit: i64,
    ) -> Result<Vec<i64>, Error>;
    /// Moves the read marker forward (never back). Returns the marker now stored.
    async fn ack(&self, user_id: i64, channel_id: i64, message_id: i64) -> Result<i64, Error>;
    async fn read_marker(&self, user_id: i64, channel_id: i64) -> Result<Option<i64>, Error>;
    /// (unread, mentioning me) among messages after `after` by others.
    async fn unread_counts(
        &self,
        user_id: i64,
        server_id: i64,
        channel_id: i64,
        after: i64,
    ) -> Result<(i64, i64), Error>;
    async fn delete_message(
        &self,
        channel_id: i64,
        id: i64,
        audit: Option<&NewAudit>,
    ) -> Result<bool, Error>;
}

/// Copies channel `$2`'s overwrites onto channel `$1`, keeping any `$1` already has.
pub(crate) fn overwrite_copy_sql() -> &'static str {
    "INSERT INTO channel_overwrites (channel_id, target_kind, target_id, allow_bits, deny_bits) \
     SELECT $1, target_kind, target_id, allow_bits, deny_bits FROM channel_overwrites WHERE channel_id = $2 \
     ON CONFLICT DO NOTHING"
}

pub(crate) fn mention_insert_sql() -> &'static str {
    "INSERT INTO message_mentions (message_id, target_kind, target_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
}

pub(crate) fn audit_insert_sql() -> &'static str {
    "INSERT INTO audit_log (id, server_id, actor_id, action, target_id, reason, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)"
}

macro_rules! server_select {
    () => {
        "SELECT s.id, s.name, s.description, s.owner_id, s.created_at, \
         (SELECT COUNT(*) FROM members m WHERE m.server_id = s.id) AS member_count \
         FROM servers s"
    };
}
macro_rules! role_columns {
    () => {
        "id, server_id, name, permissions, position, color"
    };
}
macro_rules! member_select {
    () => {
        "SELECT m.server_id, m.user_id, u.username, u.display_name, m.nickname, m.joined_at \
         FROM members m JOIN users u ON u.id = m.user_id"
    };
}
macro_rules! channel_columns {
    () => {
        "id, server_id, kind, name, topic, position, parent_id, bitrate, user_limit"
    };
}
macro_rules! invite_columns {
    () => {
        "code, server_id, creator_id, uses, max_uses, expires_at, created_at"
    };
}
macro_rules! message_columns {
    () => {
        "id, channel_id, author_id, content, reply_to, nonce, created_at, edited_at, mention_everyone"
    };
}

pub(crate) use {
    channel_columns, invite_columns, member_select, message_columns, role_columns, server_select,
};

/// Expands the one implementation of [`CommunityStore`] for a backend type that has
/// inherent `reader()` and `writer()` methods returning its pools, with the helpers its
/// transactions share, for the backend's connection type.
macro_rules! impl_community_store {
    ($ty:ty, $db:ty) => {
        /// Writes the audit entry and commits when the action changed something; otherwise
        /// the transaction is dropped, which rolls it back.
        async fn commit_audited(
            mut tx: sqlx::Transaction<'_, $db>,
            changed: bool,
            audit: Option<&NewAudit>,
        ) -> Result<bool, Error> {
            if changed {
                if let Some(audit) = audit {
                    insert_audit(&mut tx, audit).await?;
                }
                tx.commit().await?;
            }
            Ok(changed)
        }

        async fn insert_audit(conn: &mut <$db as sqlx::Database>::Connection, a: &NewAudit) -> Result<(), Error> {
            sqlx::query($crate::store::community::audit_insert_sql())
                .bind(a.id)
                .bind(a.server_id)
                .bind(a.actor_id)
                .bind(a.action.as_str())
                .bind(a.target_id)
                .bind(&a.reason)
                .bind(a.now)
                .execute(conn)
                .await?;
            Ok(())
        }

        async fn insert_mentions(conn: &mut <$db as sqlx::Database>::Connection, message_id: i64, m: &MentionSet) -> Result<(), Error> {
            let users = m.users.iter().map(|id| ("user", *id));
            let roles = m.roles.iter().map(|id| ("role", *id));
            for (kind, id) in users.chain(roles) {
                sqlx::query($crate::store::community::mention_insert_sql())
                    .bind(message_id)
                    .bind(kind)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::store::community::CommunityStore for $ty {
            async fn list_users(&self, after: i64, limit: i64) -> Result<Vec<AdminUserRow>, Error> {
                Ok(sqlx::query_as::<_, AdminUserRow>(
                    "SELECT id, username, email, created_at, disabled_at, disabled_reason FROM users WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after).bind(limit).fetch_all(self.reader()).await?)
            }

            async fn set_user_disabled(&self, user_id: i64, disabled: Option<(&str, i64)>) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let (reason, at) = disabled.map_or((None, None), |(r, t)| (Some(r), Some(t)));
                let done = sqlx::query("UPDATE users SET disabled_at = $1, disabled_reason = $2 WHERE id = $3")
                    .bind(at).bind(reason).bind(user_id).execute(&mut *tx).await?.rows_affected();
                if let Some(now) = at {
                    sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = 'account_disabled' WHERE user_id = $2 AND revoked_at IS NULL")
                        .bind(now).bind(user_id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(done == 1)
            }

            async fn reset_password(&self, user_id: i64, password_hash: &str, now: i64) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(password_hash).bind(now).bind(user_id).execute(&mut *tx).await?.rows_affected();
                sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = 'password_reset' WHERE user_id = $2 AND revoked_at IS NULL")
                    .bind(now).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done == 1)
            }

            async fn revoked_sessions_since(&self, since: i64) -> Result<Vec<i64>, Error> {
                let rows: Vec<(i64,)> = sqlx::query_as("SELECT id FROM sessions WHERE revoked_at >= $1")
                    .bind(since).fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn servers_named(&self, name: &str) -> Result<Vec<ServerRow>, Error> {
                Ok(sqlx::query_as::<_, ServerRow>(concat!(server_select!(), " WHERE s.name = $1 ORDER BY s.id"))
                    .bind(name).fetch_all(self.reader()).await?)
            }

            async fn create_server(&self, new: &NewServer) -> Result<ServerRow, Error> {
                let mut tx = self.writer().begin().await?;
                sqlx::query("INSERT INTO servers (id, name, description, owner_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(new.id).bind(&new.name).bind(&new.description).bind(new.owner_id).bind(new.now)
                    .execute(&mut *tx).await?;
                sqlx::query("INSERT INTO roles (id, server_id, name, permissions, position, color, created_at) VALUES ($1, $1, '@everyone', $2, 0, 0, $3)")
                    .bind(new.id).bind(new.everyone_permissions).bind(new.now)
                    .execute(&mut *tx).await?;
                sqlx::query("INSERT INTO members (server_id, user_id, joined_at) VALUES ($1, $2, $3)")
                    .bind(new.id).bind(new.owner_id).bind(new.now)
                    .execute(&mut *tx).await?;
                for (position, (id, kind, name)) in new.channels.iter().enumerate() {
                    let bitrate = (*kind == "voice").then_some(new.default_bitrate);
                    let limit = (*kind == "voice").then_some(0i64);
                    sqlx::query("INSERT INTO channels (id, server_id, kind, name, position, bitrate, user_limit, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(*id).bind(new.id).bind(*kind).bind(name).bind(position as i64).bind(bitrate).bind(limit).bind(new.now)
                        .execute(&mut *tx).await?;
                }
                let row = sqlx::query_as::<_, ServerRow>(concat!(server_select!(), " WHERE s.id = $1"))
                    .bind(new.id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn server(&self, id: i64) -> Result<Option<ServerRow>, Error> {
                Ok(sqlx::query_as::<_, ServerRow>(concat!(server_select!(), " WHERE s.id = $1"))
                    .bind(id).fetch_optional(self.reader()).await?)
            }

            async fn servers_of_user(&self, user_id: i64) -> Result<Vec<ServerRow>, Error> {
                Ok(sqlx::query_as::<_, ServerRow>(concat!(server_select!(),
                    " WHERE s.id IN (SELECT server_id FROM members WHERE user_id = $1) ORDER BY s.id"))
                    .bind(user_id).fetch_all(self.reader()).await?)
            }

            async fn update_server(&self, id: i64, name: &str, description: Option<&str>, audit: &NewAudit) -> Result<Option<ServerRow>, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("UPDATE servers SET name = $1, description = $2 WHERE id = $3")
                    .bind(name).bind(description).bind(id).execute(&mut *tx).await?.rows_affected();
                if done == 0 {
                    return Ok(None);
                }
                insert_audit(&mut *tx, audit).await?;
                let row = sqlx::query_as::<_, ServerRow>(concat!(server_select!(), " WHERE s.id = $1"))
                    .bind(id).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn delete_server(&self, id: i64) -> Result<bool, Error> {
                let done = sqlx::query("DELETE FROM servers WHERE id = $1").bind(id).execute(self.writer()).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn transfer_ownership(&self, id: i64, new_owner: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("UPDATE servers SET owner_id = $1 WHERE id = $2 AND EXISTS (SELECT 1 FROM members WHERE server_id = $2 AND user_id = $1)")
                    .bind(new_owner).bind(id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done > 0, Some(audit)).await
            }

            async fn roles(&self, server_id: i64) -> Result<Vec<RoleRow>, Error> {
                Ok(sqlx::query_as::<_, RoleRow>(concat!("SELECT ", role_columns!(), " FROM roles WHERE server_id = $1 ORDER BY position, id"))
                    .bind(server_id).fetch_all(self.reader()).await?)
            }

            async fn role(&self, server_id: i64, role_id: i64) -> Result<Option<RoleRow>, Error> {
                Ok(sqlx::query_as::<_, RoleRow>(concat!("SELECT ", role_columns!(), " FROM roles WHERE server_id = $1 AND id = $2"))
                    .bind(server_id).bind(role_id).fetch_optional(self.reader()).await?)
            }

            async fn create_role(&self, role: &RoleRow, audit: &NewAudit) -> Result<RoleRow, Error> {
                let mut tx = self.writer().begin().await?;
                // A new role goes just above @everyone, as in Discord: below the role of
                // whoever created it, so they can still edit, move and delete it.
                sqlx::query("UPDATE roles SET position = position + 1 WHERE server_id = $1 AND position >= 1")
                    .bind(role.server_id)
                    .execute(&mut *tx).await?;
                let row = sqlx::query_as::<_, RoleRow>(concat!(
                    "INSERT INTO roles (id, server_id, name, permissions, position, color, created_at) \
                     VALUES ($1, $2, $3, $4, 1, $5, $6) \
                     RETURNING ", role_columns!()))
                    .bind(role.id).bind(role.server_id).bind(&role.name).bind(role.permissions).bind(role.color).bind(audit.now)
                    .fetch_one(&mut *tx).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn update_role(&self, role: &RoleRow, audit: &NewAudit) -> Result<Option<RoleRow>, Error> {
                let mut tx = self.writer().begin().await?;
                let row = sqlx::query_as::<_, RoleRow>(concat!(
                    "UPDATE roles SET name = $1, permissions = $2, color = $3 WHERE server_id = $4 AND id = $5 RETURNING ", role_columns!()))
                    .bind(&role.name).bind(role.permissions).bind(role.color).bind(role.server_id).bind(role.id)
                    .fetch_optional(&mut *tx).await?;
                commit_audited(tx, row.is_some(), Some(audit)).await?;
                Ok(row)
            }

            async fn delete_role(&self, server_id: i64, role_id: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                // Overwrites name roles without a foreign key; remove them with the role.
                sqlx::query("DELETE FROM channel_overwrites WHERE target_kind = 'role' AND target_id = $1")
                    .bind(role_id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM roles WHERE server_id = $1 AND id = $2 AND id <> server_id")
                    .bind(server_id).bind(role_id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done > 0, Some(audit)).await
            }

            async fn set_role_positions(&self, server_id: i64, positions: &[(i64, i64)], audit: &NewAudit) -> Result<(), Error> {
                let mut tx = self.writer().begin().await?;
                for (role_id, position) in positions {
                    sqlx::query("UPDATE roles SET position = $1 WHERE server_id = $2 AND id = $3 AND id <> server_id")
                        .bind(*position).bind(server_id).bind(*role_id).execute(&mut *tx).await?;
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn member(&self, server_id: i64, user_id: i64) -> Result<Option<MemberRow>, Error> {
                Ok(sqlx::query_as::<_, MemberRow>(concat!(member_select!(), " WHERE m.server_id = $1 AND m.user_id = $2"))
                    .bind(server_id).bind(user_id).fetch_optional(self.reader()).await?)
            }

            async fn member_roles(&self, server_id: i64, user_ids: &[i64]) -> Result<Vec<MemberRoleRow>, Error> {
                // One query for any number of members: callers pass one member or one page
                // of members in user-ID order, so the ID range [min, max] holds exactly their
                // rows (SQLite has no array binds; a range is portable). Rows of members in
                // the range but not asked for are dropped here.
                let (Some(lo), Some(hi)) = (user_ids.iter().min(), user_ids.iter().max()) else {
                    return Ok(Vec::new());
                };
                let rows = sqlx::query_as::<_, MemberRoleRow>(
                    "SELECT user_id, role_id FROM member_roles WHERE server_id = $1 AND user_id >= $2 AND user_id <= $3 ORDER BY user_id, role_id")
                    .bind(server_id).bind(*lo).bind(*hi).fetch_all(self.reader()).await?;
                if user_ids.len() == 1 {
                    return Ok(rows);
                }
                let wanted: std::collections::HashSet<i64> = user_ids.iter().copied().collect();
                Ok(rows.into_iter().filter(|r| wanted.contains(&r.user_id)).collect())
            }

            async fn members(&self, server_id: i64, after: i64, limit: i64) -> Result<Vec<MemberRow>, Error> {
                Ok(sqlx::query_as::<_, MemberRow>(concat!(member_select!(), " WHERE m.server_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"))
                    .bind(server_id).bind(after).bind(limit).fetch_all(self.reader()).await?)
            }

            async fn set_nickname(&self, server_id: i64, user_id: i64, nickname: Option<&str>) -> Result<bool, Error> {
                let done = sqlx::query("UPDATE members SET nickname = $1 WHERE server_id = $2 AND user_id = $3")
                    .bind(nickname).bind(server_id).bind(user_id).execute(self.writer()).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn add_member_role(&self, server_id: i64, user_id: i64, role_id: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(
                    "INSERT INTO member_roles (server_id, user_id, role_id) \
                     SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM members WHERE server_id = $1 AND user_id = $2) \
                     AND EXISTS (SELECT 1 FROM roles WHERE server_id = $1 AND id = $3 AND id <> server_id) \
                     ON CONFLICT DO NOTHING")
                    .bind(server_id).bind(user_id).bind(role_id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, Some(audit)).await
            }

            async fn remove_member_role(&self, server_id: i64, user_id: i64, role_id: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("DELETE FROM member_roles WHERE server_id = $1 AND user_id = $2 AND role_id = $3")
                    .bind(server_id).bind(user_id).bind(role_id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, Some(audit)).await
            }

            async fn remove_member(&self, server_id: i64, user_id: i64, audit: Option<&NewAudit>) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("DELETE FROM members WHERE server_id = $1 AND user_id = $2")
                    .bind(server_id).bind(user_id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, audit).await
            }

            async fn ban(&self, server_id: i64, user_id: i64, reason: Option<&str>, audit: &NewAudit) -> Result<(), Error> {
                let mut tx = self.writer().begin().await?;
                sqlx::query("INSERT INTO bans (server_id, user_id, reason, moderator_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (server_id, user_id) DO UPDATE SET reason = $3, moderator_id = $4")
                    .bind(server_id).bind(user_id).bind(reason).bind(audit.actor_id).bind(audit.now)
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM members WHERE server_id = $1 AND user_id = $2")
                    .bind(server_id).bind(user_id).execute(&mut *tx).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn unban(&self, server_id: i64, user_id: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("DELETE FROM bans WHERE server_id = $1 AND user_id = $2")
                    .bind(server_id).bind(user_id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, Some(audit)).await
            }

            async fn add_audit(&self, audit: &NewAudit) -> Result<(), Error> {
                let mut conn = self.writer().acquire().await?;
                insert_audit(&mut *conn, audit).await
            }

            async fn voice_moderation(&self, server_id: i64, user_id: i64) -> Result<(bool, bool), Error> {
                let row: Option<(bool, bool)> = sqlx::query_as(
                    "SELECT mute, deaf FROM voice_moderation WHERE server_id = $1 AND user_id = $2")
                    .bind(server_id).bind(user_id).fetch_optional(self.reader()).await?;
                Ok(row.unwrap_or((false, false)))
            }

            async fn set_voice_moderation(&self, server_id: i64, user_id: i64, mute: Option<bool>, deaf: Option<bool>) -> Result<(), Error> {
                let mut tx = self.writer().begin().await?;
                sqlx::query(
                    "INSERT INTO voice_moderation (server_id, user_id, mute, deaf) VALUES ($1, $2, COALESCE($3, FALSE), COALESCE($4, FALSE)) \
                     ON CONFLICT (server_id, user_id) DO UPDATE SET \
                     mute = COALESCE($3, voice_moderation.mute), deaf = COALESCE($4, voice_moderation.deaf)")
                    .bind(server_id).bind(user_id).bind(mute).bind(deaf).execute(&mut *tx).await?;
                // Lifting both leaves nothing to remember.
                sqlx::query("DELETE FROM voice_moderation WHERE server_id = $1 AND user_id = $2 AND NOT mute AND NOT deaf")
                    .bind(server_id).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn bans(&self, server_id: i64) -> Result<Vec<BanRow>, Error> {
                Ok(sqlx::query_as::<_, BanRow>(
                    "SELECT b.server_id, b.user_id, u.username, b.reason, b.moderator_id, b.created_at \
                     FROM bans b JOIN users u ON u.id = b.user_id WHERE b.server_id = $1 ORDER BY b.created_at, b.user_id")
                    .bind(server_id).fetch_all(self.reader()).await?)
            }

            async fn channel(&self, id: i64) -> Result<Option<ChannelRow>, Error> {
                Ok(sqlx::query_as::<_, ChannelRow>(concat!("SELECT ", channel_columns!(), " FROM channels WHERE id = $1"))
                    .bind(id).fetch_optional(self.reader()).await?)
            }

            async fn channels(&self, server_id: i64) -> Result<Vec<ChannelRow>, Error> {
                Ok(sqlx::query_as::<_, ChannelRow>(concat!("SELECT ", channel_columns!(), " FROM channels WHERE server_id = $1 ORDER BY position, id"))
                    .bind(server_id).fetch_all(self.reader()).await?)
            }

            async fn create_channel(&self, new: &NewChannel, audit: &NewAudit) -> Result<ChannelRow, Error> {
                let mut tx = self.writer().begin().await?;
                let row = sqlx::query_as::<_, ChannelRow>(concat!(
                    "INSERT INTO channels (id, server_id, kind, name, topic, position, parent_id, bitrate, user_limit, created_at) \
                     VALUES ($1, $2, $3, $4, $5, COALESCE($6, (SELECT COALESCE(MAX(position), -1) + 1 FROM channels WHERE server_id = $2)), $7, $8, $9, $10) \
                     RETURNING ", channel_columns!()))
                    .bind(new.id).bind(new.server_id).bind(new.kind).bind(&new.name).bind(&new.topic).bind(new.position)
                    .bind(new.parent_id).bind(new.bitrate).bind(new.user_limit).bind(audit.now)
                    .fetch_one(&mut *tx).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn update_channel(&self, id: i64, u: &ChannelUpdate, audit: &NewAudit) -> Result<Option<ChannelRow>, Error> {
                let mut tx = self.writer().begin().await?;
                match u.overwrites {
                    OwnOverwrites::Keep => {}
                    OwnOverwrites::CopyFrom(from) => {
                        sqlx::query($crate::store::community::overwrite_copy_sql())
                            .bind(id).bind(from).execute(&mut *tx).await?;
                    }
                    OwnOverwrites::Clear => {
                        sqlx::query("DELETE FROM channel_overwrites WHERE channel_id = $1")
                            .bind(id).execute(&mut *tx).await?;
                    }
                }
                let row = sqlx::query_as::<_, ChannelRow>(concat!(
                    "UPDATE channels SET name = $1, topic = $2, position = $3, parent_id = $4, bitrate = $5, user_limit = $6 \
                     WHERE id = $7 RETURNING ", channel_columns!()))
                    .bind(&u.name).bind(&u.topic).bind(u.position).bind(u.parent_id).bind(u.bitrate).bind(u.user_limit).bind(id)
                    .fetch_optional(&mut *tx).await?;
                commit_audited(tx, row.is_some(), Some(audit)).await?;
                Ok(row)
            }

            async fn delete_channel(&self, id: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                // The channels a deleted category leaves behind keep the overwrites that
                // applied to them (synced ones: the category's), so none turns public.
                sqlx::query(
                    "INSERT INTO channel_overwrites (channel_id, target_kind, target_id, allow_bits, deny_bits) \
                     SELECT c.id, o.target_kind, o.target_id, o.allow_bits, o.deny_bits \
                     FROM channels c JOIN channel_overwrites o ON o.channel_id = c.parent_id \
                     WHERE c.parent_id = $1 AND NOT EXISTS (SELECT 1 FROM channel_overwrites x WHERE x.channel_id = c.id)")
                    .bind(id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM channels WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, Some(audit)).await
            }

            async fn overwrites(&self, server_id: i64) -> Result<Vec<OverwriteRow>, Error> {
                Ok(sqlx::query_as::<_, OverwriteRow>(
                    "SELECT o.channel_id, o.target_kind, o.target_id, o.allow_bits, o.deny_bits FROM channel_overwrites o \
                     JOIN channels c ON c.id = o.channel_id WHERE c.server_id = $1 ORDER BY o.channel_id, o.target_kind, o.target_id")
                    .bind(server_id).fetch_all(self.reader()).await?)
            }

            async fn set_overwrite(&self, row: &OverwriteRow, copy_from: Option<i64>, audit: &NewAudit) -> Result<(), Error> {
                let mut tx = self.writer().begin().await?;
                if let Some(from) = copy_from {
                    sqlx::query($crate::store::community::overwrite_copy_sql())
                        .bind(row.channel_id).bind(from).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO channel_overwrites (channel_id, target_kind, target_id, allow_bits, deny_bits) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (channel_id, target_kind, target_id) DO UPDATE SET allow_bits = $4, deny_bits = $5")
                    .bind(row.channel_id).bind(&row.target_kind).bind(row.target_id).bind(row.allow_bits).bind(row.deny_bits)
                    .execute(&mut *tx).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_overwrite(&self, channel_id: i64, kind: &str, target_id: i64, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("DELETE FROM channel_overwrites WHERE channel_id = $1 AND target_kind = $2 AND target_id = $3")
                    .bind(channel_id).bind(kind).bind(target_id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, Some(audit)).await
            }

            async fn create_invite(&self, invite: &InviteRow, audit: &NewAudit) -> Result<InviteRow, Error> {
                let mut tx = self.writer().begin().await?;
                let row = sqlx::query_as::<_, InviteRow>(concat!(
                    "INSERT INTO invites (code, server_id, creator_id, uses, max_uses, expires_at, created_at) \
                     VALUES ($1, $2, $3, 0, $4, $5, $6) RETURNING ", invite_columns!()))
                    .bind(&invite.code).bind(invite.server_id).bind(invite.creator_id).bind(invite.max_uses)
                    .bind(invite.expires_at).bind(invite.created_at)
                    .fetch_one(&mut *tx).await?;
                commit_audited(tx, true, Some(audit)).await?;
                Ok(row)
            }

            async fn invite(&self, code: &str) -> Result<Option<InviteRow>, Error> {
                Ok(sqlx::query_as::<_, InviteRow>(concat!("SELECT ", invite_columns!(), " FROM invites WHERE code = $1"))
                    .bind(code).fetch_optional(self.reader()).await?)
            }

            async fn invites(&self, server_id: i64) -> Result<Vec<InviteRow>, Error> {
                Ok(sqlx::query_as::<_, InviteRow>(concat!("SELECT ", invite_columns!(), " FROM invites WHERE server_id = $1 ORDER BY created_at, code"))
                    .bind(server_id).fetch_all(self.reader()).await?)
            }

            async fn delete_invite(&self, code: &str, audit: &NewAudit) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("DELETE FROM invites WHERE code = $1").bind(code).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, Some(audit)).await
            }

            async fn accept_invite(&self, code: &str, user_id: i64, now: i64) -> Result<JoinOutcome, Error> {
                let mut tx = self.writer().begin().await?;
                let invite = sqlx::query_as::<_, InviteRow>(concat!("SELECT ", invite_columns!(), " FROM invites WHERE code = $1"))
                    .bind(code).fetch_optional(&mut *tx).await?;
                let Some(invite) = invite else { return Ok(JoinOutcome::InvalidInvite) };
                let server = sqlx::query_as::<_, ServerRow>(concat!(server_select!(), " WHERE s.id = $1"))
                    .bind(invite.server_id).fetch_one(&mut *tx).await?;
                let member = sqlx::query("SELECT 1 FROM members WHERE server_id = $1 AND user_id = $2")
                    .bind(invite.server_id).bind(user_id).fetch_optional(&mut *tx).await?;
                if member.is_some() {
                    return Ok(JoinOutcome::AlreadyMember(server));
                }
                let banned = sqlx::query("SELECT 1 FROM bans WHERE server_id = $1 AND user_id = $2")
                    .bind(invite.server_id).bind(user_id).fetch_optional(&mut *tx).await?;
                if banned.is_some() {
                    return Ok(JoinOutcome::Banned);
                }
                // The use is counted only if the invite is still valid at this moment; the
                // guard in the UPDATE holds under concurrent joins too.
                let counted = sqlx::query(
                    "UPDATE invites SET uses = uses + 1 WHERE code = $1 \
                     AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > $2)")
                    .bind(code).bind(now).execute(&mut *tx).await?.rows_affected();
                if counted == 0 {
                    return Ok(JoinOutcome::InvalidInvite);
                }
                sqlx::query("INSERT INTO members (server_id, user_id, joined_at) VALUES ($1, $2, $3)")
                    .bind(invite.server_id).bind(user_id).bind(now).execute(&mut *tx).await?;
                let server = sqlx::query_as::<_, ServerRow>(concat!(server_select!(), " WHERE s.id = $1"))
                    .bind(invite.server_id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(JoinOutcome::Joined(server))
            }

            async fn audit_log(&self, server_id: i64, before: i64, limit: i64) -> Result<Vec<AuditRow>, Error> {
                Ok(sqlx::query_as::<_, AuditRow>(
                    // IDs are unique across kinds, so the target joins a user only where it is one.
                    "SELECT a.id, a.server_id, a.actor_id, a.action, a.target_id, a.reason, a.created_at, \
                     actor.username AS actor_name, target.username AS target_user_name FROM audit_log a \
                     LEFT JOIN users actor ON actor.id = a.actor_id LEFT JOIN users target ON target.id = a.target_id \
                     WHERE a.server_id = $1 AND a.id < $2 ORDER BY a.id DESC LIMIT $3")
                    .bind(server_id).bind(before).bind(limit).fetch_all(self.reader()).await?)
            }

            async fn create_message(&self, new: &NewMessage) -> Result<(MessageRow, bool), Error> {
                let mut tx = self.writer().begin().await?;
                let inserted = sqlx::query_as::<_, MessageRow>(concat!(
                    "INSERT INTO messages (id, channel_id, author_id, content, reply_to, nonce, created_at, mention_everyone) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (channel_id, author_id, nonce) DO NOTHING \
                     RETURNING ", message_columns!()))
                    .bind(new.id).bind(new.channel_id).bind(new.author_id).bind(&new.content)
                    .bind(new.reply_to).bind(&new.nonce).bind(new.now).bind(i64::from(new.mentions.everyone))
                    .fetch_optional(&mut *tx).await?;
                if let Some(row) = inserted {
                    insert_mentions(&mut *tx, row.id, &new.mentions).await?;
                    tx.commit().await?;
                    return Ok((row, true));
                }
                drop(tx);
                // The nonce was used before: return that message. It is read through the
                // writer so the row just committed by a racing send is certainly visible.
                let existing = sqlx::query_as::<_, MessageRow>(concat!(
                    "SELECT ", message_columns!(), " FROM messages WHERE channel_id = $1 AND author_id = $2 AND nonce = $3"))
                    .bind(new.channel_id).bind(new.author_id).bind(&new.nonce)
                    .fetch_one(self.writer()).await?;
                Ok((existing, false))
            }

            async fn message(&self, channel_id: i64, id: i64) -> Result<Option<MessageRow>, Error> {
                Ok(sqlx::query_as::<_, MessageRow>(concat!("SELECT ", message_columns!(), " FROM messages WHERE channel_id = $1 AND id = $2"))
                    .bind(channel_id).bind(id).fetch_optional(self.reader()).await?)
            }

            async fn history(&self, channel_id: i64, page: HistoryPage, limit: i64) -> Result<Vec<MessageRow>, Error> {
                const NEWER: &str = concat!("SELECT ", message_columns!(), " FROM messages WHERE channel_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3");
                const OLDER: &str = concat!("SELECT ", message_columns!(), " FROM messages WHERE channel_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
                let fetch = |sql: &'static str, id: i64, n: i64| {
                    sqlx::query_as::<_, MessageRow>(sql).bind(channel_id).bind(id).bind(n).fetch_all(self.reader())
                };
                let rows = match page {
                    HistoryPage::Latest => fetch(OLDER, i64::MAX, limit).await?,
                    HistoryPage::Before(id) => fetch(OLDER, id, limit).await?,
                    HistoryPage::After(id) => {
                        let mut rows = fetch(NEWER, id, limit).await?;
                        rows.reverse();
                        rows
                    }
                    HistoryPage::Around(id) => {
                        // The anchor and older messages fill the lower half, newer the rest.
                        let newer_n = limit / 2;
                        let mut rows = fetch(NEWER, id, newer_n).await?;
                        rows.reverse();
                        rows.extend(fetch(OLDER, id.saturating_add(1), limit - newer_n).await?);
                        rows
                    }
                };
                Ok(rows)
            }

            async fn edit_message(&self, channel_id: i64, id: i64, content: &str, mentions: &MentionSet, now: i64) -> Result<Option<MessageRow>, Error> {
                let mut tx = self.writer().begin().await?;
                let row = sqlx::query_as::<_, MessageRow>(concat!(
                    "UPDATE messages SET content = $1, edited_at = $2, mention_everyone = $3 WHERE channel_id = $4 AND id = $5 RETURNING ", message_columns!()))
                    .bind(content).bind(now).bind(i64::from(mentions.everyone)).bind(channel_id).bind(id).fetch_optional(&mut *tx).await?;
                if row.is_some() {
                    sqlx::query("DELETE FROM message_mentions WHERE message_id = $1").bind(id).execute(&mut *tx).await?;
                    insert_mentions(&mut *tx, id, mentions).await?;
                    tx.commit().await?;
                }
                Ok(row)
            }

            async fn mentions_between(&self, channel_id: i64, lo: i64, hi: i64) -> Result<Vec<MentionRow>, Error> {
                Ok(sqlx::query_as::<_, MentionRow>(
                    "SELECT message_id, target_kind, target_id FROM message_mentions WHERE message_id IN \
                     (SELECT id FROM messages WHERE channel_id = $1 AND id >= $2 AND id <= $3) ORDER BY message_id, target_kind, target_id")
                    .bind(channel_id).bind(lo).bind(hi).fetch_all(self.reader()).await?)
            }

            async fn reactions_between(&self, channel_id: i64, lo: i64, hi: i64, user_id: i64) -> Result<Vec<ReactionCountRow>, Error> {
                Ok(sqlx::query_as::<_, ReactionCountRow>(
                    "SELECT message_id, emoji, COUNT(*) AS count, CAST(MAX(CASE WHEN user_id = $4 THEN 1 ELSE 0 END) AS BIGINT) AS me \
                     FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE channel_id = $1 AND id >= $2 AND id <= $3) \
                     GROUP BY message_id, emoji ORDER BY message_id, MIN(created_at), emoji")
                    .bind(channel_id).bind(lo).bind(hi).bind(user_id).fetch_all(self.reader()).await?)
            }

            async fn add_reaction(&self, message_id: i64, user_id: i64, emoji: &str, max_distinct: i64, now: i64) -> Result<ReactionAdded, Error> {
                let mut tx = self.writer().begin().await?;
                // A no-op update locks the message row (PostgreSQL; SQLite has one writer
                // anyway), so two new emoji racing on one message cannot both pass the cap.
                sqlx::query("UPDATE messages SET edited_at = edited_at WHERE id = $1").bind(message_id).execute(&mut *tx).await?;
                let done = sqlx::query(
                    "INSERT INTO reactions (message_id, user_id, emoji, created_at) SELECT $1, $2, $3, $4 \
                     WHERE EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $3) \
                        OR (SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = $1) < $5 \
                     ON CONFLICT DO NOTHING")
                    .bind(message_id).bind(user_id).bind(emoji).bind(now).bind(max_distinct)
                    .execute(&mut *tx).await?.rows_affected();
                let outcome = if done == 1 {
                    ReactionAdded::Added
                } else {
                    let mine: Option<(i64,)> = sqlx::query_as("SELECT user_id FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
                        .bind(message_id).bind(user_id).bind(emoji).fetch_optional(&mut *tx).await?;
                    if mine.is_some() { ReactionAdded::AlreadyThere } else { ReactionAdded::TooManyEmoji }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn remove_reaction(&self, message_id: i64, user_id: i64, emoji: &str) -> Result<bool, Error> {
                let done = sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
                    .bind(message_id).bind(user_id).bind(emoji).execute(self.writer()).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn reaction_users(&self, message_id: i64, emoji: &str, limit: i64) -> Result<Vec<i64>, Error> {
                let rows: Vec<(i64,)> = sqlx::query_as("SELECT user_id FROM reactions WHERE message_id = $1 AND emoji = $2 ORDER BY created_at, user_id LIMIT $3")
                    .bind(message_id).bind(emoji).bind(limit).fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn ack(&self, user_id: i64, channel_id: i64, message_id: i64) -> Result<i64, Error> {
                let (marker,): (i64,) = sqlx::query_as(
                    "INSERT INTO read_states (user_id, channel_id, last_read_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, channel_id) DO UPDATE SET last_read_id = \
                     CASE WHEN excluded.last_read_id > read_states.last_read_id THEN excluded.last_read_id ELSE read_states.last_read_id END \
                     RETURNING last_read_id")
                    .bind(user_id).bind(channel_id).bind(message_id).fetch_one(self.writer()).await?;
                Ok(marker)
            }

            async fn read_marker(&self, user_id: i64, channel_id: i64) -> Result<Option<i64>, Error> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT last_read_id FROM read_states WHERE user_id = $1 AND channel_id = $2")
                    .bind(user_id).bind(channel_id).fetch_optional(self.reader()).await?;
                Ok(row.map(|(id,)| id))
            }

            async fn unread_counts(&self, user_id: i64, server_id: i64, channel_id: i64, after: i64) -> Result<(i64, i64), Error> {
                let (unread, mentions): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN m.mention_everyone = 1 OR EXISTS (SELECT 1 FROM message_mentions mm \
                       WHERE mm.message_id = m.id AND ((mm.target_kind = 'user' AND mm.target_id = $1) OR (mm.target_kind = 'role' \
                       AND mm.target_id IN (SELECT role_id FROM member_roles WHERE server_id = $2 AND user_id = $1)))) THEN 1 ELSE 0 END), 0) \
                     FROM messages m WHERE m.channel_id = $3 AND m.id > $4 AND m.author_id <> $1")
                    .bind(user_id).bind(server_id).bind(channel_id).bind(after).fetch_one(self.reader()).await?;
                Ok((unread, mentions))
            }


            async fn delete_message(&self, channel_id: i64, id: i64, audit: Option<&NewAudit>) -> Result<bool, Error> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query("DELETE FROM messages WHERE channel_id = $1 AND id = $2")
                    .bind(channel_id).bind(id).execute(&mut *tx).await?.rows_affected();
                commit_audited(tx, done == 1, audit).await
            }
        }
    };
}

pub(crate) use impl_community_store;
