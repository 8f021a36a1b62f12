//! Moderators acting on people in voice: server mute and deafen, and moves between voice
//! channels. Permissions are those of the channel the member is in (and, for a move, of
//! the target channel too), like Discord's, under the role hierarchy of kicks and bans.
//! Server mute and deafen are stored per member and server: they last across leaving,
//! rejoining and other devices until lifted, and can be set before the member joins.

use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use super::{Command, Destination, Voice};
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
        // Serialised with joins' reads of the stored state (see `Voice::join`).
        let _moderation = self.moderation.lock().await;
        let found = {
            let registry = self.registry();
            registry
                .by_session
                .iter()
                .find(|(_, p)| p.server_id == sid && p.user_id == target.as_i64())
                .map(|(id, p)| (id.clone(), p.channel_id))
        };
        let Some((session, current)) = found else {
            // Not in voice: a server mute or deafen is stored for their next join (needs
            // the permission server-wide: there is no channel to take it from). A move
            // needs someone to move. Someone who could not act anyway learns nothing
            // about who is in voice.
            if !access.permissions.contains(needed) {
                return Err(forbidden());
            }
            if req.channel_id.is_some() {
                return Err(ApiError::new(
                    ErrorCode::NotInVoice,
                    "the member is not in a voice channel",
                ));
            }
            self.community.check_outranks(&access, target.as_i64()).await?;
            self.community.set_voice_moderation(sid, target.as_i64(), req.mute, req.deaf).await?;
            return Ok(());
        };
        let current = Snowflake::from_i64(current).ok_or_else(ApiError::internal)?;
        let (_, _, here) =
            self.community.channel_access(current, actor).await.map_err(|_| forbidden())?;
        if !here.contains(needed) {
            return Err(forbidden());
        }
        // The role hierarchy, as for kicks and nicknames: nobody mutes, deafens or moves the
        // owner or a member ranked at or above them (security review L6).
        self.community.check_outranks(&access, target.as_i64()).await?;
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
            destination = Some(Destination {
                server_id: sid,
                channel_id: channel.id,
                can_speak: theirs.contains(Permissions::SPEAK),
                bitrate_kbps: self.bitrate_of(&channel),
            });
        }
        if req.mute.is_some() || req.deaf.is_some() {
            self.community.set_voice_moderation(sid, target.as_i64(), req.mute, req.deaf).await?;
        }
        let published = {
            let mut registry = self.registry();
            let Some(p) = registry.by_session.get_mut(&session) else {
                // They left meanwhile: a mute or deafen is stored for their next join.
                if destination.is_none() {
                    return Ok(());
                }
                return Err(ApiError::new(ErrorCode::NotInVoice, "the member left voice"));
            };
            if let Some(mute) = req.mute {
                p.mute = mute;
            }
            if let Some(deaf) = req.deaf {
                p.deaf = deaf;
            }
            let moved_from = match destination {
                Some(to) => self.relocate(p, to),
                None => {
                    self.relay.send(Command::SetFlags { peer: p.key, flags: p.flags() });
                    None
                }
            };
            (moved_from, p.server_id, p.channel_id, p.state(true), p.state(false))
        };
        let (moved_from, server, channel, left, state) = published;
        if let Some((old_server, old_channel)) = moved_from {
            self.publish_moved_out(old_server, old_channel, left);
        }
        self.publish_state(server, channel, state);
        Ok(())
    }
}
