//! Moderators acting on people in voice: server mute and deafen, and moves between voice
//! channels. Permissions are those of the channel the member is in (and, for a move, of
//! the target channel too), like Discord's.

use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use super::{Command, Voice};
use crate::api::error::ApiError;
use crate::community::forbidden;

impl Voice {
    pub async fn moderate(
        &self,
        server_id: Snowflake,
        actor: i64,
        target: Snowflake,
        req: ModerateVoiceRequest,
    ) -> Result<(), ApiError> {
        let access = self.community.access(server_id, actor).await?;
        let mut needed = Permissions::NONE;
        if req.mute.is_some() {
            needed |= Permissions::MUTE_MEMBERS;
        }
        if req.deaf.is_some() {
            needed |= Permissions::DEAFEN_MEMBERS;
        }
        if req.channel_id.is_some() {
            needed |= Permissions::MOVE_MEMBERS;
        }
        if needed.is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidBody, "nothing to change"));
        }
        let sid = server_id.as_i64();
        let found = {
            let registry = self.registry();
            registry
                .by_session
                .iter()
                .find(|(_, p)| p.server_id == sid && p.user_id == target.as_i64())
                .map(|(id, p)| (id.clone(), p.channel_id))
        };
        let Some((session, current)) = found else {
            // Someone who could not act anyway learns nothing about who is in voice.
            return Err(if access.permissions.contains(needed) {
                ApiError::new(ErrorCode::NotInVoice, "the member is not in a voice channel")
            } else {
                forbidden()
            });
        };
        let current = Snowflake::from_i64(current).ok_or_else(ApiError::internal)?;
        let (_, _, here) =
            self.community.channel_access(current, actor).await.map_err(|_| forbidden())?;
        if !here.contains(needed) {
            return Err(forbidden());
        }
        let mut destination = None;
        if let Some(to) = req.channel_id {
            let (channel, _, there) = self.community.channel_access(to.0, actor).await?;
            if channel.server_id != sid || channel.kind != ChannelKind::Voice.as_str() {
                return Err(ApiError::new(
                    ErrorCode::InvalidParameter,
                    "not a voice channel of this server",
                ));
            }
            if !there.contains(Permissions::MOVE_MEMBERS | Permissions::CONNECT) {
                return Err(forbidden());
            }
            // The member must be allowed in where they are put.
            let (_, _, theirs) = self
                .community
                .channel_access(to.0, target.as_i64())
                .await
                .map_err(|_| forbidden())?;
            if !theirs.contains(Permissions::CONNECT) {
                return Err(forbidden());
            }
            destination = Some((channel.id, theirs.contains(Permissions::SPEAK)));
        }
        let published = {
            let mut registry = self.registry();
            let Some(p) = registry.by_session.get_mut(&session) else {
                return Err(ApiError::new(ErrorCode::NotInVoice, "the member left voice"));
            };
            if let Some(mute) = req.mute {
                p.mute = mute;
            }
            if let Some(deaf) = req.deaf {
                p.deaf = deaf;
            }
            let moved_from = match destination {
                Some((channel_id, can_speak)) => self.relocate(p, sid, channel_id, can_speak),
                None => {
                    self.relay.send(Command::SetFlags { peer: p.key, flags: p.flags() });
                    None
                }
            };
            (moved_from, p.server_id, p.channel_id, p.state(false))
        };
        let (moved_from, server, channel, state) = published;
        if let Some((old_server, old_channel)) = moved_from {
            self.publish_state(old_server, old_channel, state.clone());
        }
        self.publish_state(server, channel, state);
        Ok(())
    }
}
