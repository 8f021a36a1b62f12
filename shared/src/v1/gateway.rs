//! The realtime gateway: one WebSocket per client at `/api/v1/gateway`, JSON text frames.
//!
//! Flow: the server sends `hello`; the client answers `identify` (a new session) or
//! `resume` (continue a session after a disconnect); the server answers `ready` or
//! `resumed`, then pushes `dispatch` frames, each with a sequence number that increases
//! by one per session. The client sends `heartbeat` every `heartbeat_interval_ms` with the
//! last sequence it processed, and the server acknowledges. After a disconnect, `resume`
//! with that sequence replays exactly what was missed; if the session is gone, the server
//! sends `invalid_session` and the client identifies again and re-syncs over REST.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::ids::{ChannelId, MessageId, RoleId, ServerId, UserId};
use crate::permissions::Permissions;
use crate::v1::channels::{Channel, ChannelPermissions};
use crate::v1::messages::{Message, ReadState};
use crate::v1::servers::{Member, Role, Server, ServerDetail};
use crate::v1::users::CurrentUser;
use crate::v1::voice::{IceServer, VoiceState};

/// Close codes (4000–4999 are the application's own, RFC 6455 §7.4.2).
pub mod close {
    /// A frame that is not a valid client message.
    pub const DECODE_ERROR: u16 = 4002;
    /// Anything but identify/resume before being identified.
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    /// Too many frames too fast.
    pub const RATE_LIMITED: u16 = 4008;
    /// No heartbeat within the interval plus grace.
    pub const SESSION_TIMEOUT: u16 = 4009;
    /// The client did not read its events fast enough; resume to catch up.
    pub const SLOW_CONSUMER: u16 = 4010;
    /// The session was revoked (logout, password change, ban of the account).
    pub const SESSION_REVOKED: u16 = 4011;
    /// The account already holds as many gateway sessions as the server allows; close
    /// another device (or wait for a disconnected one to expire) and identify again.
    pub const TOO_MANY_SESSIONS: u16 = 4012;
    /// Standard "going away": the server is shutting down; reconnect and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// Standard "message too big".
    pub const TOO_BIG: u16 = 1009;
}

/// Frames the client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "d", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Identify {
        token: String,
        /// The status the user chose, so a new session (after a restart of the server, or
        /// on another device) starts in it rather than online: an invisible user never
        /// flashes online. Absent means online. Applies when the user has no other
        /// connection; otherwise the status already shown holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        presence: Option<PresenceStatus>,
    },
    Resume {
        token: String,
        session_id: String,
        seq: u64,
    },
    Heartbeat {
        seq: u64,
    },
    /// Presence the user wants others to see.
    SetPresence {
        status: PresenceStatus,
    },
    /// Join (or move to) a voice channel; answered with `voice_ready` or an `error`.
    VoiceJoin {
        channel_id: ChannelId,
        #[serde(default)]
        self_mute: bool,
        #[serde(default)]
        self_deaf: bool,
    },
    /// The SDP offer of the client's peer connection, after `voice_ready`. Sent again with
    /// new ICE credentials for an ICE restart.
    VoiceOffer {
        sdp: String,
    },
    /// Change one's own mute and deafen state while in voice.
    VoiceUpdate {
        self_mute: bool,
        self_deaf: bool,
    },
    /// Leave voice.
    VoiceLeave {},
}

/// Frames the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "d", rename_all = "snake_case")]
pub enum ServerFrame {
    Hello {
        heartbeat_interval_ms: u64,
        /// The server reads `presence` in `identify`. Servers from before it refuse the
        /// field, so clients send it only when this says so.
        #[serde(default)]
        identify_presence: bool,
    },
    Ready(Box<Ready>),
    Resumed {
        session_id: String,
        replayed: u64,
    },
    HeartbeatAck {
        seq: u64,
    },
    Dispatch {
        seq: u64,
        event: Event,
    },
    /// The session cannot be resumed: identify again and re-sync over REST.
    InvalidSession {
        resumable: bool,
    },
    /// A recoverable problem with one frame; the connection stays open.
    Error {
        code: ErrorCode,
        message: String,
    },
    /// The voice join was accepted: offer a peer connection with up to `receive_slots`
    /// audio m-lines (see [`crate::v1::voice`]).
    VoiceReady {
        channel_id: ChannelId,
        receive_slots: u8,
        /// Opus bitrate of the channel, in kbps.
        bitrate_kbps: u32,
        ice_servers: Vec<IceServer>,
    },
    VoiceAnswer {
        sdp: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Ready {
    pub session_id: String,
    /// The sequence number of the last event before this snapshot (resume from here).
    pub seq: u64,
    pub user: CurrentUser,
    pub servers: Vec<ServerDetail>,
    pub heartbeat_interval_ms: u64,
    /// Unread and mention counts for every text channel the user can see.
    #[serde(default)]
    pub read_states: Vec<ReadState>,
    /// Who is online (or idle, or busy) among the members of the user's servers.
    #[serde(default)]
    pub presences: Vec<PresenceEntry>,
    /// Everyone currently in a voice channel the user can view.
    #[serde(default)]
    pub voice_states: Vec<VoiceState>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PresenceEntry {
    pub user_id: UserId,
    pub status: PresenceStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Online,
    Idle,
    DoNotDisturb,
    Invisible,
    Offline,
}

/// Something that happened. Internally tagged by `type`; append only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    MessageCreate {
        message: Message,
    },
    MessageUpdate {
        message: Message,
    },
    MessageDelete {
        channel_id: ChannelId,
        message_id: MessageId,
    },
    ChannelCreate {
        channel: Channel,
    },
    ChannelUpdate {
        channel: Channel,
    },
    ChannelDelete {
        server_id: ServerId,
        channel_id: ChannelId,
    },
    ServerUpdate {
        server: Server,
    },
    /// Also what a kicked or banned member receives, and nothing after it.
    ServerDelete {
        server_id: ServerId,
    },
    /// The receiving user joined a server: everything needed to show it.
    ServerJoin {
        detail: Box<ServerDetail>,
    },
    MemberAdd {
        server_id: ServerId,
        member: Member,
    },
    MemberUpdate {
        server_id: ServerId,
        member: Member,
    },
    MemberRemove {
        server_id: ServerId,
        user_id: UserId,
    },
    RoleCreate {
        server_id: ServerId,
        role: Role,
    },
    RoleUpdate {
        server_id: ServerId,
        role: Role,
    },
    RoleDelete {
        server_id: ServerId,
        role_id: RoleId,
    },
    TypingStart {
        channel_id: ChannelId,
        user_id: UserId,
    },
    PresenceUpdate {
        user_id: UserId,
        status: PresenceStatus,
    },
    ReactionAdd {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    ReactionRemove {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    /// The user read up to a message on another device.
    ReadStateUpdate {
        channel_id: ChannelId,
        last_read_id: MessageId,
    },
    /// Someone joined, left, moved or changed mute/deafen in a voice channel one can view.
    VoiceStateUpdate {
        state: VoiceState,
    },
    /// Someone in a voice channel one can view started or stopped talking.
    VoiceSpeaking {
        channel_id: ChannelId,
        user_id: UserId,
        speaking: bool,
    },
    /// Only to the listening session itself: who is heard on one of its receive slots from
    /// now on (`None`: nobody). Slot 0 is the first audio m-line of the offer.
    VoiceSlot {
        slot: u8,
        user_id: Option<UserId>,
    },
    /// Only to the user's own sessions: what they may do in a server changed (roles,
    /// overwrites, categories). Replaces the server's `my_permissions` and every entry of
    /// `channel_permissions`; channels missing from the list are no longer visible.
    PermissionsUpdate {
        server_id: ServerId,
        my_permissions: Permissions,
        channel_permissions: Vec<ChannelPermissions>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snowflake;

    fn id(n: u64) -> Snowflake {
        Snowflake::from_parts(n, 0, 0).expect("fits")
    }

    #[test]
    fn golden_frames() {
        let hb: ClientFrame =
            serde_json::from_str(r#"{"op":"heartbeat","d":{"seq":7}}"#).expect("parses");
        assert_eq!(hb, ClientFrame::Heartbeat { seq: 7 });
        let frame = ServerFrame::Dispatch {
            seq: 3,
            event: Event::MessageDelete {
                channel_id: ChannelId(id(1)),
                message_id: MessageId(id(2)),
            },
        };
        assert_eq!(
            serde_json::to_string(&frame).expect("json"),
            r#"{"op":"dispatch","d":{"seq":3,"event":{"type":"message_delete","channel_id":"4194304","message_id":"8388608"}}}"#
        );
        assert!(
            serde_json::from_str::<ClientFrame>(r#"{"op":"identify","d":{"token":"t","x":1}}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"op":"launch_missiles"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<ClientFrame>(r#"{"op":"voice_leave","d":{}}"#).expect("parses"),
            ClientFrame::VoiceLeave {}
        );
        assert_eq!(
            serde_json::from_str::<ClientFrame>(
                r#"{"op":"voice_join","d":{"channel_id":"4194304"}}"#
            )
            .expect("defaults"),
            ClientFrame::VoiceJoin {
                channel_id: ChannelId(id(1)),
                self_mute: false,
                self_deaf: false
            }
        );
    }

    #[test]
    fn round_trips() {
        let frames = vec![
            ServerFrame::Hello { heartbeat_interval_ms: 30_000, identify_presence: true },
            ServerFrame::HeartbeatAck { seq: 1 },
            ServerFrame::VoiceReady {
                channel_id: ChannelId(id(3)),
                receive_slots: 4,
                bitrate_kbps: 64,
                ice_servers: vec![IceServer {
                    urls: vec!["turn:127.0.0.1:3478".into()],
                    username: Some("1:2".into()),
                    credential: Some("c".into()),
                }],
            },
            ServerFrame::VoiceAnswer { sdp: "v=0".into() },
            ServerFrame::Dispatch { seq: 10, event: Event::VoiceSlot { slot: 1, user_id: None } },
            ServerFrame::InvalidSession { resumable: false },
            ServerFrame::Resumed { session_id: "s".into(), replayed: 4 },
            ServerFrame::Error { code: ErrorCode::RateLimited, message: "slow".into() },
            ServerFrame::Dispatch {
                seq: 9,
                event: Event::PresenceUpdate {
                    user_id: UserId(id(5)),
                    status: PresenceStatus::DoNotDisturb,
                },
            },
        ];
        for frame in frames {
            let json = serde_json::to_string(&frame).expect("json");
            assert_eq!(serde_json::from_str::<ServerFrame>(&json).expect("parse"), frame);
        }
        for frame in [
            ClientFrame::Identify { token: "a".into(), presence: None },
            ClientFrame::Resume { token: "a".into(), session_id: "b".into(), seq: 3 },
            ClientFrame::SetPresence { status: PresenceStatus::Idle },
            ClientFrame::VoiceJoin {
                channel_id: ChannelId(id(4)),
                self_mute: false,
                self_deaf: true,
            },
            ClientFrame::VoiceOffer { sdp: "v=0".into() },
            ClientFrame::VoiceUpdate { self_mute: true, self_deaf: false },
            ClientFrame::VoiceLeave {},
        ] {
            let json = serde_json::to_string(&frame).expect("json");
            assert_eq!(serde_json::from_str::<ClientFrame>(&json).expect("parse"), frame);
        }
    }
}
