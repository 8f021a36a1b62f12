//! Invites: create with an expiry and a use limit, preview without an account, accept.

use auraspeak_shared::v1::servers::{
    AuditAction, CreateInviteRequest, Invite, InvitePreview, Server,
};
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use super::{Community, Fields, forbidden, invite_api, not_found, server_api};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::error::Error;
use crate::events::Audience;
use crate::ids::unix_ms_now;
use crate::store::community::{InviteRow, JoinOutcome};

const CODE_LEN: usize = 10;
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const MAX_AGE_SECS: i64 = 30 * 86_400;
const MAX_USES: i64 = 10_000;

/// Codes avoid look-alike characters (0/O, 1/l/I) because people read them out in voice.
fn new_code() -> String {
    let mut bytes = [0u8; CODE_LEN];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char).collect()
}

fn valid_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

fn invalid_invite() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "unknown or expired invite")
}

impl Community {
    pub async fn create_invite(
        &self,
        server_id: Snowflake,
        user_id: i64,
        req: CreateInviteRequest,
    ) -> Result<Invite, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::CREATE_INVITE)?;
        let mut fields = Fields::default();
        let max_age = req.max_age_secs.unwrap_or(0);
        let max_uses = req.max_uses.unwrap_or(0);
        fields.range("max_age_secs", max_age, 0, MAX_AGE_SECS);
        fields.range("max_uses", max_uses, 0, MAX_USES);
        fields.finish()?;
        let now = unix_ms_now();
        let mut row = InviteRow {
            code: new_code(),
            server_id: access.server.id,
            creator_id: user_id,
            uses: 0,
            max_uses: (max_uses > 0).then_some(max_uses),
            expires_at: (max_age > 0).then(|| now + max_age * 1000),
            created_at: now,
        };
        // 57^10 codes make a collision improbable; a second draw makes it negligible.
        let audit = |code: &str| {
            self.audit(&access, AuditAction::InviteCreate, None, Some(code.to_owned()))
        };
        match self.store.create_invite(&row, &audit(&row.code)).await {
            Err(Error::Conflict(_)) => {
                row.code = new_code();
                invite_api(&self.store.create_invite(&row, &audit(&row.code)).await?)
            }
            other => invite_api(&other?),
        }
    }

    pub async fn invites(
        &self,
        server_id: Snowflake,
        user_id: i64,
    ) -> Result<Vec<Invite>, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::MANAGE_SERVER)?;
        self.store.invites(access.server.id).await?.iter().map(invite_api).collect()
    }

    /// Public: what the invite leads to. Expired and used-up invites look unknown.
    pub async fn preview_invite(&self, code: &str) -> Result<InvitePreview, ApiError> {
        if !valid_code(code) {
            return Err(invalid_invite());
        }
        let invite = self.store.invite(code).await?.ok_or_else(invalid_invite)?;
        let now = unix_ms_now();
        let exhausted = invite.max_uses.is_some_and(|m| invite.uses >= m);
        if exhausted || invite.expires_at.is_some_and(|e| e <= now) {
            return Err(invalid_invite());
        }
        let server = self.store.server(invite.server_id).await?.ok_or_else(invalid_invite)?;
        Ok(InvitePreview {
            code: invite.code,
            server_id: super::sf(server.id)?.into(),
            server_name: server.name,
            member_count: server.member_count,
            expires_at: invite.expires_at,
        })
    }

    pub async fn accept_invite(&self, code: &str, user_id: i64) -> Result<Server, ApiError> {
        if !valid_code(code) {
            return Err(invalid_invite());
        }
        match self.store.accept_invite(code, user_id, unix_ms_now()).await? {
            JoinOutcome::Joined(server) => {
                self.member_joined(server.id, user_id).await?;
                server_api(&server)
            }
            JoinOutcome::AlreadyMember(server) => server_api(&server),
            JoinOutcome::Banned => {
                Err(ApiError::new(ErrorCode::Banned, "you are banned from this server"))
            }
            JoinOutcome::InvalidInvite => Err(invalid_invite()),
        }
    }

    /// Tells the members about the newcomer, and the newcomer's sessions about the server.
    async fn member_joined(&self, server_id: i64, user_id: i64) -> Result<(), ApiError> {
        let sid = super::sf(server_id)?;
        let detail = self.server_detail(sid, user_id).await?;
        let event = Event::MemberAdd { server_id: sid.into(), member: detail.me.clone() };
        self.publish(Audience::Server(server_id), event, Some(server_id));
        self.publish(Audience::User(user_id), Event::ServerJoin { detail: Box::new(detail) }, None);
        Ok(())
    }

    /// The creator, or anyone with MANAGE_SERVER, may revoke an invite.
    pub async fn delete_invite(&self, code: &str, user_id: i64) -> Result<(), ApiError> {
        if !valid_code(code) {
            return Err(invalid_invite());
        }
        let invite = self.store.invite(code).await?.ok_or_else(invalid_invite)?;
        let server_id = super::sf(invite.server_id)?;
        let access = self.access(server_id, user_id).await.map_err(|_| invalid_invite())?;
        if invite.creator_id != user_id && !access.permissions.contains(Permissions::MANAGE_SERVER)
        {
            return Err(forbidden());
        }
        let audit = self.audit(&access, AuditAction::InviteDelete, None, Some(invite.code.clone()));
        if !self.store.delete_invite(code, &audit).await? {
            return Err(not_found("invite"));
        }
        Ok(())
    }
}
