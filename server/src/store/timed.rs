//! A [`Store`] decorator that times every call into the database by operation name
//! (`auraspeak_db_query_duration_seconds{op="create_message"}`), for both backends at once.
//!
//! Wrapping the trait instead of each query keeps the backends free of metrics code, and
//! the label set stays bounded: it is the list of trait methods below, nothing a client
//! can choose. The methods are plain forwards; a new trait method that is not added here
//! fails to compile, so none goes unmeasured.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use auraspeak_shared::{SessionId, UserId};

use super::community::{
    AdminUserRow, AuditRow, BanRow, ChannelRow, ChannelUpdate, HistoryPage, InviteRow, JoinOutcome,
    MemberRoleRow, MemberRow, MentionRow, MentionSet, MessageRow, NewAudit, NewChannel, NewMessage,
    NewServer, OverwriteRow, ReactionAdded, ReactionCountRow, RoleRow, ServerRow,
};
use super::{
    Backend, CommunityStore, NewRefreshToken, NewSession, NewUser, RevokeReason, RotateOutcome,
    SessionRecord, Store, UserRecord,
};
use crate::error::Error;
use crate::metrics::DbLatency;

pub struct TimedStore {
    inner: Arc<dyn Store>,
    latency: DbLatency,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn Store>, latency: DbLatency) -> Self {
        Self { inner, latency }
    }

    /// Failed calls are timed too: a query that times out is exactly what the
    /// histogram should show.
    async fn time<T>(&self, op: &'static str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.latency.observe(op, started.elapsed());
        out
    }
}

#[async_trait]
impl Store for TimedStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        self.inner.pool_stats()
    }

    async fn ping(&self) -> Result<(), Error> {
        self.time("ping", self.inner.ping()).await
    }
    async fn backup_to(&self, path: &std::path::Path) -> Result<(), Error> {
        self.time("backup_to", self.inner.backup_to(path)).await
    }
    async fn create_user(&self, user: &NewUser) -> Result<UserRecord, Error> {
        self.time("create_user", self.inner.create_user(user)).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, Error> {
        self.time("user_by_id", self.inner.user_by_id(id)).await
    }
    async fn user_by_login(&self, login_key: &str) -> Result<Option<UserRecord>, Error> {
        self.time("user_by_login", self.inner.user_by_login(login_key)).await
    }
    async fn set_display_name(
        &self,
        id: UserId,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<Option<UserRecord>, Error> {
        self.time("set_display_name", self.inner.set_display_name(id, display_name, now)).await
    }
    async fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep: SessionId,
        now: i64,
    ) -> Result<u64, Error> {
        self.time("change_password", self.inner.change_password(id, password_hash, keep, now)).await
    }
    async fn create_session(
        &self,
        session: &NewSession,
        token: &NewRefreshToken,
    ) -> Result<SessionRecord, Error> {
        self.time("create_session", self.inner.create_session(session, token)).await
    }
    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, Error> {
        self.time("session", self.inner.session(id)).await
    }
    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionRecord>, Error> {
        self.time("active_sessions", self.inner.active_sessions(user, now)).await
    }
    async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        new: &NewRefreshToken,
        ip: Option<&str>,
        now: i64,
    ) -> Result<RotateOutcome, Error> {
        self.time(
            "rotate_refresh_token",
            self.inner.rotate_refresh_token(presented_hash, new, ip, now),
        )
        .await
    }
    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool, Error> {
        self.time("revoke_session", self.inner.revoke_session(user, id, reason, now)).await
    }
}

#[async_trait]
impl CommunityStore for TimedStore {
    async fn list_users(&self, after: i64, limit: i64) -> Result<Vec<AdminUserRow>, Error> {
        self.time("list_users", self.inner.list_users(after, limit)).await
    }
    async fn set_user_disabled(
        &self,
        user_id: i64,
        disabled: Option<(&str, i64)>,
    ) -> Result<bool, Error> {
        self.time("set_user_disabled", self.inner.set_user_disabled(user_id, disabled)).await
    }
    async fn reset_password(
        &self,
        user_id: i64,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, Error> {
        self.time("reset_password", self.inner.reset_password(user_id, password_hash, now)).await
    }
    async fn servers_named(&self, name: &str) -> Result<Vec<ServerRow>, Error> {
        self.time("servers_named", self.inner.servers_named(name)).await
    }
    async fn create_server(&self, new: &NewServer) -> Result<ServerRow, Error> {
        self.time("create_server", self.inner.create_server(new)).await
    }
    async fn server(&self, id: i64) -> Result<Option<ServerRow>, Error> {
        self.time("server", self.inner.server(id)).await
    }
    async fn servers_of_user(&self, user_id: i64) -> Result<Vec<ServerRow>, Error> {
        self.time("servers_of_user", self.inner.servers_of_user(user_id)).await
    }
    async fn update_server(
        &self,
        id: i64,
        name: &str,
        description: Option<&str>,
        audit: &NewAudit,
    ) -> Result<Option<ServerRow>, Error> {
        self.time("update_server", self.inner.update_server(id, name, description, audit)).await
    }
    async fn delete_server(&self, id: i64) -> Result<bool, Error> {
        self.time("delete_server", self.inner.delete_server(id)).await
    }
    async fn transfer_ownership(
        &self,
        id: i64,
        new_owner: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error> {
        self.time("transfer_ownership", self.inner.transfer_ownership(id, new_owner, audit)).await
    }
    async fn roles(&self, server_id: i64) -> Result<Vec<RoleRow>, Error> {
        self.time("roles", self.inner.roles(server_id)).await
    }
    async fn role(&self, server_id: i64, role_id: i64) -> Result<Option<RoleRow>, Error> {
        self.time("role", self.inner.role(server_id, role_id)).await
    }
    async fn create_role(&self, role: &RoleRow, audit: &NewAudit) -> Result<RoleRow, Error> {
        self.time("create_role", self.inner.create_role(role, audit)).await
    }
    async fn update_role(
        &self,
        role: &RoleRow,
        audit: &NewAudit,
    ) -> Result<Option<RoleRow>, Error> {
        self.time("update_role", self.inner.update_role(role, audit)).await
    }
    async fn delete_role(
        &self,
        server_id: i64,
        role_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error> {
        self.time("delete_role", self.inner.delete_role(server_id, role_id, audit)).await
    }
    async fn set_role_positions(
        &self,
        server_id: i64,
        positions: &[(i64, i64)],
        audit: &NewAudit,
    ) -> Result<(), Error> {
        self.time("set_role_positions", self.inner.set_role_positions(server_id, positions, audit))
            .await
    }
    async fn add_audit(&self, audit: &NewAudit) -> Result<(), Error> {
        self.time("add_audit", self.inner.add_audit(audit)).await
    }
    async fn voice_moderation(&self, server_id: i64, user_id: i64) -> Result<(bool, bool), Error> {
        self.time("voice_moderation", self.inner.voice_moderation(server_id, user_id)).await
    }
    async fn set_voice_moderation(
        &self,
        server_id: i64,
        user_id: i64,
        mute: Option<bool>,
        deaf: Option<bool>,
    ) -> Result<(), Error> {
        let call = self.inner.set_voice_moderation(server_id, user_id, mute, deaf);
        self.time("set_voice_moderation", call).await
    }
    async fn member(&self, server_id: i64, user_id: i64) -> Result<Option<MemberRow>, Error> {
        self.time("member", self.inner.member(server_id, user_id)).await
    }
    async fn member_roles(
        &self,
        server_id: i64,
        user_ids: &[i64],
    ) -> Result<Vec<MemberRoleRow>, Error> {
        self.time("member_roles", self.inner.member_roles(server_id, user_ids)).await
    }
    async fn members(
        &self,
        server_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<MemberRow>, Error> {
        self.time("members", self.inner.members(server_id, after, limit)).await
    }
    async fn set_nickname(
        &self,
        server_id: i64,
        user_id: i64,
        nickname: Option<&str>,
    ) -> Result<bool, Error> {
        self.time("set_nickname", self.inner.set_nickname(server_id, user_id, nickname)).await
    }
    async fn add_member_role(
        &self,
        server_id: i64,
        user_id: i64,
        role_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error> {
        self.time("add_member_role", self.inner.add_member_role(server_id, user_id, role_id, audit))
            .await
    }
    async fn remove_member_role(
        &self,
        server_id: i64,
        user_id: i64,
        role_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error> {
        self.time(
            "remove_member_role",
            self.inner.remove_member_role(server_id, user_id, role_id, audit),
        )
        .await
    }
    async fn remove_member(
        &self,
        server_id: i64,
        user_id: i64,
        audit: Option<&NewAudit>,
    ) -> Result<bool, Error> {
        self.time("remove_member", self.inner.remove_member(server_id, user_id, audit)).await
    }
    async fn ban(
        &self,
        server_id: i64,
        user_id: i64,
        reason: Option<&str>,
        audit: &NewAudit,
    ) -> Result<(), Error> {
        self.time("ban", self.inner.ban(server_id, user_id, reason, audit)).await
    }
    async fn unban(&self, server_id: i64, user_id: i64, audit: &NewAudit) -> Result<bool, Error> {
        self.time("unban", self.inner.unban(server_id, user_id, audit)).await
    }
    async fn bans(&self, server_id: i64) -> Result<Vec<BanRow>, Error> {
        self.time("bans", self.inner.bans(server_id)).await
    }
    async fn channel(&self, id: i64) -> Result<Option<ChannelRow>, Error> {
        self.time("channel", self.inner.channel(id)).await
    }
    async fn channels(&self, server_id: i64) -> Result<Vec<ChannelRow>, Error> {
        self.time("channels", self.inner.channels(server_id)).await
    }
    async fn create_channel(
        &self,
        new: &NewChannel,
        audit: &NewAudit,
    ) -> Result<ChannelRow, Error> {
        self.time("create_channel", self.inner.create_channel(new, audit)).await
    }
    async fn update_channel(
        &self,
        id: i64,
        update: &ChannelUpdate,
        audit: &NewAudit,
    ) -> Result<Option<ChannelRow>, Error> {
        self.time("update_channel", self.inner.update_channel(id, update, audit)).await
    }
    async fn delete_channel(&self, id: i64, audit: &NewAudit) -> Result<bool, Error> {
        self.time("delete_channel", self.inner.delete_channel(id, audit)).await
    }
    async fn overwrites(&self, server_id: i64) -> Result<Vec<OverwriteRow>, Error> {
        self.time("overwrites", self.inner.overwrites(server_id)).await
    }
    async fn set_overwrite(
        &self,
        row: &OverwriteRow,
        copy_from: Option<i64>,
        audit: &NewAudit,
    ) -> Result<(), Error> {
        self.time("set_overwrite", self.inner.set_overwrite(row, copy_from, audit)).await
    }
    async fn delete_overwrite(
        &self,
        channel_id: i64,
        kind: &str,
        target_id: i64,
        audit: &NewAudit,
    ) -> Result<bool, Error> {
        self.time(
            "delete_overwrite",
            self.inner.delete_overwrite(channel_id, kind, target_id, audit),
        )
        .await
    }
    async fn create_invite(
        &self,
        invite: &InviteRow,
        audit: &NewAudit,
    ) -> Result<InviteRow, Error> {
        self.time("create_invite", self.inner.create_invite(invite, audit)).await
    }
    async fn invite(&self, code: &str) -> Result<Option<InviteRow>, Error> {
        self.time("invite", self.inner.invite(code)).await
    }
    async fn invites(&self, server_id: i64) -> Result<Vec<InviteRow>, Error> {
        self.time("invites", self.inner.invites(server_id)).await
    }
    async fn delete_invite(&self, code: &str, audit: &NewAudit) -> Result<bool, Error> {
        self.time("delete_invite", self.inner.delete_invite(code, audit)).await
    }
    async fn accept_invite(
        &self,
        code: &str,
        user_id: i64,
        now: i64,
    ) -> Result<JoinOutcome, Error> {
        self.time("accept_invite", self.inner.accept_invite(code, user_id, now)).await
    }
    async fn audit_log(
        &self,
        server_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, Error> {
        self.time("audit_log", self.inner.audit_log(server_id, before, limit)).await
    }
    async fn create_message(&self, new: &NewMessage) -> Result<(MessageRow, bool), Error> {
        self.time("create_message", self.inner.create_message(new)).await
    }
    async fn message(&self, channel_id: i64, id: i64) -> Result<Option<MessageRow>, Error> {
        self.time("message", self.inner.message(channel_id, id)).await
    }
    async fn history(
        &self,
        channel_id: i64,
        page: HistoryPage,
        limit: i64,
    ) -> Result<Vec<MessageRow>, Error> {
        self.time("history", self.inner.history(channel_id, page, limit)).await
    }
    async fn edit_message(
        &self,
        channel_id: i64,
        id: i64,
        content: &str,
        mentions: &MentionSet,
        now: i64,
    ) -> Result<Option<MessageRow>, Error> {
        self.time("edit_message", self.inner.edit_message(channel_id, id, content, mentions, now))
            .await
    }
    async fn mentions_between(
        &self,
        channel_id: i64,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<MentionRow>, Error> {
        self.time("mentions_between", self.inner.mentions_between(channel_id, lo, hi)).await
    }
    async fn reactions_between(
        &self,
        channel_id: i64,
        lo: i64,
        hi: i64,
        user_id: i64,
    ) -> Result<Vec<ReactionCountRow>, Error> {
        self.time("reactions_between", self.inner.reactions_between(channel_id, lo, hi, user_id))
            .await
    }
    async fn add_reaction(
        &self,
        message_id: i64,
        user_id: i64,
        emoji: &str,
        max_distinct: i64,
        now: i64,
    ) -> Result<ReactionAdded, Error> {
        self.time(
            "add_reaction",
            self.inner.add_reaction(message_id, user_id, emoji, max_distinct, now),
        )
        .await
    }
    async fn revoked_sessions_since(&self, since: i64) -> Result<Vec<i64>, Error> {
        self.time("revoked_sessions_since", self.inner.revoked_sessions_since(since)).await
    }
    async fn remove_reaction(
        &self,
        message_id: i64,
        user_id: i64,
        emoji: &str,
    ) -> Result<bool, Error> {
        self.time("remove_reaction", self.inner.remove_reaction(message_id, user_id, emoji)).await
    }
    async fn reaction_users(
        &self,
        message_id: i64,
        emoji: &str,
        limit: i64,
    ) -> Result<Vec<i64>, Error> {
        self.time("reaction_users", self.inner.reaction_users(message_id, emoji, limit)).await
    }
    async fn ack(&self, user_id: i64, channel_id: i64, message_id: i64) -> Result<i64, Error> {
        self.time("ack", self.inner.ack(user_id, channel_id, message_id)).await
    }
    async fn read_marker(&self, user_id: i64, channel_id: i64) -> Result<Option<i64>, Error> {
        self.time("read_marker", self.inner.read_marker(user_id, channel_id)).await
    }
    async fn unread_counts(
        &self,
        user_id: i64,
        server_id: i64,
        channel_id: i64,
        after: i64,
    ) -> Result<(i64, i64), Error> {
        self.time("unread_counts", self.inner.unread_counts(user_id, server_id, channel_id, after))
            .await
    }
    async fn delete_message(
        &self,
        channel_id: i64,
        id: i64,
        audit: Option<&NewAudit>,
    ) -> Result<bool, Error> {
        self.time("delete_message", self.inner.delete_message(channel_id, id, audit)).await
    }
}
