//! Voice channels: who is in which channel, and the signaling that connects a client's
//! WebRTC stack to the server's media relay. Signaling rides the gateway (see
//! [`crate::v1::gateway`]):
//!
//! ```text
//! client                                   server
//!   voice_join {channel, self_mute, …} ──▶  CONNECT and user limit checked
//!                                     ◀──  voice_ready {receive_slots, ice_servers}
//!   voice_offer {sdp}                 ──▶  (one sendrecv audio m-line for the microphone
//!                                           and the first receive slot, then one recvonly
//!                                           m-line per further slot)
//!                                     ◀──  voice_answer {sdp}
//!   … ICE, DTLS-SRTP, Opus …
//!                                     ◀──  dispatch voice_state_update (everyone who can
//!                                           view the channel, including the joiner)
//!                                     ◀──  voice_slot {slot, user_id}  (who is heard on
//!                                           which receive slot, as the relay switches)
//! ```
//!
//! The relay does not open one stream per speaker: each listener has a fixed number of
//! *receive slots*, and the relay puts the loudest current speakers on them (chosen from
//! the RFC 6464 audio level each sender attaches). Joins and leaves therefore never
//! renegotiate anyone's session, and a 200-listener channel costs each listener at most
//! `receive_slots` streams.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, ServerId, UserId};

/// Where a member is in voice, and how they are muted. `channel_id: None` means they left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoiceState {
    pub user_id: UserId,
    pub server_id: ServerId,
    pub channel_id: Option<ChannelId>,
    /// Muted by the member themselves.
    pub self_mute: bool,
    /// Deafened by the member themselves (implies not sending either).
    pub self_deaf: bool,
    /// Muted by a moderator, or lacking the SPEAK permission: the relay drops their audio.
    pub mute: bool,
    /// Deafened by a moderator: the relay sends them nothing.
    pub deaf: bool,
}

/// A STUN or TURN server for the client's ICE agent, in the shape of WebRTC's
/// `RTCIceServer`. TURN credentials are short-lived (TURN REST API shared-secret scheme:
/// the username is `<expiry unix seconds>:<user id>`, the credential an HMAC of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A moderator's change to someone in voice: server mute (MUTE_MEMBERS), server deafen
/// (DEAFEN_MEMBERS), or a move to another voice channel (MOVE_MEMBERS in both channels).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerateVoiceRequest {
    #[serde(default)]
    pub mute: Option<bool>,
    #[serde(default)]
    pub deaf: Option<bool>,
    #[serde(default)]
    pub channel_id: Option<ChannelId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snowflake;

    #[test]
    fn voice_state_round_trips_and_left_is_null() {
        let id = |n| Snowflake::from_parts(n, 0, 0).expect("fits");
        let state = VoiceState {
            user_id: UserId(id(1)),
            server_id: ServerId(id(2)),
            channel_id: None,
            self_mute: true,
            self_deaf: false,
            mute: false,
            deaf: false,
        };
        let json = serde_json::to_string(&state).expect("json");
        assert!(json.contains(r#""channel_id":null"#));
        assert_eq!(serde_json::from_str::<VoiceState>(&json).expect("parse"), state);
        let ice: IceServer =
            serde_json::from_str(r#"{"urls":["stun:127.0.0.1:7881"]}"#).expect("parse");
        assert_eq!(ice.username, None);
    }
}
