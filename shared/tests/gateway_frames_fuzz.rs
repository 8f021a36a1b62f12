//! Gateway frames from a hostile peer: whatever bytes arrive, decoding returns a value or
//! an error and never panics (the server decodes `ClientFrame`, clients `ServerFrame`), and
//! every frame we can send decodes back to itself.

#[path = "support/props.rs"]
mod props;

use auraspeak_shared::v1::channels::{
    Channel, ChannelKind, ChannelPermissions, OverwriteKind, PermissionOverwrite,
};
use auraspeak_shared::v1::gateway::{ClientFrame, Event, PresenceStatus, ServerFrame};
use auraspeak_shared::v1::messages::{Message, ReactionCount};
use auraspeak_shared::v1::servers::{Member, Role, Server, ServerDetail};
use auraspeak_shared::v1::voice::{IceServer, VoiceState};
use auraspeak_shared::{
    ChannelId, ErrorCode, MessageId, Permissions, RoleId, ServerId, Snowflake, UserId,
};
use props::{config, edits, json_value, mutate, object_of};
use proptest::prelude::*;
use serde_json::{Value, json};

fn snowflake() -> impl Strategy<Value = Snowflake> {
    (0..=i64::MAX).prop_map(|n| Snowflake::from_i64(n).expect("non-negative"))
}
fn user() -> impl Strategy<Value = UserId> {
    snowflake().prop_map(UserId)
}
fn channel_id() -> impl Strategy<Value = ChannelId> {
    snowflake().prop_map(ChannelId)
}
fn server_id() -> impl Strategy<Value = ServerId> {
    snowflake().prop_map(ServerId)
}
fn perms() -> impl Strategy<Value = Permissions> {
    any::<u64>().prop_map(Permissions)
}
fn status() -> impl Strategy<Value = PresenceStatus> {
    prop::sample::select(vec![
        PresenceStatus::Online,
        PresenceStatus::Idle,
        PresenceStatus::DoNotDisturb,
        PresenceStatus::Invisible,
        PresenceStatus::Offline,
    ])
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        any::<String>().prop_map(|token| ClientFrame::Identify { token, presence: None }),
        (any::<String>(), any::<String>(), any::<u64>())
            .prop_map(|(token, session_id, seq)| ClientFrame::Resume { token, session_id, seq }),
        any::<u64>().prop_map(|seq| ClientFrame::Heartbeat { seq }),
        status().prop_map(|status| ClientFrame::SetPresence { status }),
        (channel_id(), any::<bool>(), any::<bool>()).prop_map(
            |(channel_id, self_mute, self_deaf)| {
                ClientFrame::VoiceJoin { channel_id, self_mute, self_deaf }
            }
        ),
        any::<String>().prop_map(|sdp| ClientFrame::VoiceOffer { sdp }),
        (any::<bool>(), any::<bool>())
            .prop_map(|(self_mute, self_deaf)| ClientFrame::VoiceUpdate { self_mute, self_deaf }),
        Just(ClientFrame::VoiceLeave {}),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let reaction = (any::<String>(), any::<i64>(), any::<bool>())
        .prop_map(|(emoji, count, me)| ReactionCount { emoji, count, me });
    (
        (snowflake(), channel_id(), user(), any::<String>(), prop::option::of(snowflake())),
        (any::<Option<String>>(), any::<i64>(), any::<Option<i64>>()),
        (
            prop::collection::vec(user(), 0..3),
            prop::collection::vec(snowflake(), 0..3),
            any::<bool>(),
            prop::collection::vec(reaction, 0..3),
        ),
    )
        .prop_map(
            |(
                (id, channel_id, author_id, content, reply_to),
                (nonce, created_at, edited_at),
                (mentions, roles, mention_everyone, reactions),
            )| Message {
                id: MessageId(id),
                channel_id,
                author_id,
                content,
                reply_to: reply_to.map(MessageId),
                nonce,
                created_at,
                edited_at,
                mentions,
                mention_roles: roles.into_iter().map(RoleId).collect(),
                mention_everyone,
                reactions,
            },
        )
}

fn channel() -> impl Strategy<Value = Channel> {
    let kind =
        prop::sample::select(vec![ChannelKind::Text, ChannelKind::Voice, ChannelKind::Category]);
    let overwrite = (any::<bool>(), snowflake(), perms(), perms()).prop_map(
        |(role, target_id, allow, deny)| PermissionOverwrite {
            kind: if role { OverwriteKind::Role } else { OverwriteKind::Member },
            target_id,
            allow,
            deny,
        },
    );
    (
        (channel_id(), server_id(), kind, any::<String>(), any::<Option<String>>()),
        (any::<i64>(), prop::option::of(channel_id()), any::<Option<i64>>(), any::<Option<i64>>()),
        prop::collection::vec(overwrite, 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(
                (id, server_id, kind, name, topic),
                (position, parent_id, bitrate_kbps, user_limit),
                overwrites,
                permissions_synced,
            )| Channel {
                id,
                server_id,
                kind,
                name,
                topic,
                position,
                parent_id,
                bitrate_kbps,
                user_limit,
                overwrites,
                permissions_synced,
            },
        )
}

fn channel_permissions() -> impl Strategy<Value = Vec<ChannelPermissions>> {
    prop::collection::vec(
        (channel_id(), perms())
            .prop_map(|(channel_id, permissions)| ChannelPermissions { channel_id, permissions }),
        0..3,
    )
}

fn member() -> impl Strategy<Value = Member> {
    (
        user(),
        any::<String>(),
        any::<Option<String>>(),
        any::<Option<String>>(),
        prop::collection::vec(snowflake(), 0..3),
        any::<i64>(),
    )
        .prop_map(|(user_id, username, display_name, nickname, roles, joined_at)| Member {
            user_id,
            username,
            display_name,
            nickname,
            roles: roles.into_iter().map(RoleId).collect(),
            joined_at,
        })
}

fn role() -> impl Strategy<Value = Role> {
    (snowflake(), any::<String>(), perms(), any::<i64>(), any::<i64>()).prop_map(
        |(id, name, permissions, position, color)| Role {
            id: RoleId(id),
            name,
            permissions,
            position,
            color,
        },
    )
}

fn server() -> impl Strategy<Value = Server> {
    (server_id(), any::<String>(), any::<Option<String>>(), user(), any::<i64>(), any::<i64>())
        .prop_map(|(id, name, description, owner_id, member_count, created_at)| Server {
            id,
            name,
            description,
            owner_id,
            member_count,
            created_at,
        })
}

fn voice_state() -> impl Strategy<Value = VoiceState> {
    (user(), server_id(), prop::option::of(channel_id()), any::<[bool; 4]>()).prop_map(
        |(user_id, server_id, channel_id, [self_mute, self_deaf, mute, deaf])| VoiceState {
            user_id,
            server_id,
            channel_id,
            self_mute,
            self_deaf,
            mute,
            deaf,
        },
    )
}

fn event() -> impl Strategy<Value = Event> {
    let ids3 = || (channel_id(), snowflake(), user());
    prop_oneof![
        message().prop_map(|message| Event::MessageCreate { message }),
        message().prop_map(|message| Event::MessageUpdate { message }),
        (channel_id(), snowflake()).prop_map(|(channel_id, m)| Event::MessageDelete {
            channel_id,
            message_id: MessageId(m)
        }),
        channel().prop_map(|channel| Event::ChannelCreate { channel }),
        channel().prop_map(|channel| Event::ChannelUpdate { channel }),
        (server_id(), channel_id())
            .prop_map(|(server_id, channel_id)| Event::ChannelDelete { server_id, channel_id }),
        server().prop_map(|server| Event::ServerUpdate { server }),
        server_id().prop_map(|server_id| Event::ServerDelete { server_id }),
        (
            server(),
            prop::collection::vec(channel(), 0..3),
            prop::collection::vec(role(), 0..3),
            member(),
            perms(),
            channel_permissions(),
        )
            .prop_map(
                |(server, channels, roles, me, my_permissions, channel_permissions)| {
                    Event::ServerJoin {
                        detail: Box::new(ServerDetail {
                            server,
                            channels,
                            roles,
                            me,
                            my_permissions,
                            channel_permissions,
                        }),
                    }
                }
            ),
        (server_id(), member())
            .prop_map(|(server_id, member)| Event::MemberAdd { server_id, member }),
        (server_id(), member())
            .prop_map(|(server_id, member)| Event::MemberUpdate { server_id, member }),
        (server_id(), user())
            .prop_map(|(server_id, user_id)| Event::MemberRemove { server_id, user_id }),
        (server_id(), role()).prop_map(|(server_id, role)| Event::RoleCreate { server_id, role }),
        (server_id(), role()).prop_map(|(server_id, role)| Event::RoleUpdate { server_id, role }),
        (server_id(), snowflake())
            .prop_map(|(server_id, r)| Event::RoleDelete { server_id, role_id: RoleId(r) }),
        (channel_id(), user())
            .prop_map(|(channel_id, user_id)| Event::TypingStart { channel_id, user_id }),
        (user(), status()).prop_map(|(user_id, status)| Event::PresenceUpdate { user_id, status }),
        (ids3(), any::<String>()).prop_map(|((channel_id, m, user_id), emoji)| {
            Event::ReactionAdd { channel_id, message_id: MessageId(m), user_id, emoji }
        }),
        (ids3(), any::<String>()).prop_map(|((channel_id, m, user_id), emoji)| {
            Event::ReactionRemove { channel_id, message_id: MessageId(m), user_id, emoji }
        }),
        (channel_id(), snowflake()).prop_map(|(channel_id, m)| Event::ReadStateUpdate {
            channel_id,
            last_read_id: MessageId(m)
        }),
        voice_state().prop_map(|state| Event::VoiceStateUpdate { state }),
        (channel_id(), user(), any::<bool>()).prop_map(|(channel_id, user_id, speaking)| {
            Event::VoiceSpeaking { channel_id, user_id, speaking }
        }),
        (any::<u8>(), prop::option::of(user()))
            .prop_map(|(slot, user_id)| Event::VoiceSlot { slot, user_id }),
        (server_id(), perms(), channel_permissions()).prop_map(
            |(server_id, my_permissions, channel_permissions)| Event::PermissionsUpdate {
                server_id,
                my_permissions,
                channel_permissions,
            }
        ),
    ]
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    let ice = (
        prop::collection::vec(any::<String>(), 0..3),
        any::<Option<String>>(),
        any::<Option<String>>(),
    )
        .prop_map(|(urls, username, credential)| IceServer { urls, username, credential });
    prop_oneof![
        (any::<u64>(), any::<bool>()).prop_map(|(heartbeat_interval_ms, identify_presence)| {
            ServerFrame::Hello { heartbeat_interval_ms, identify_presence }
        }),
        (any::<String>(), any::<u64>())
            .prop_map(|(session_id, replayed)| ServerFrame::Resumed { session_id, replayed }),
        any::<u64>().prop_map(|seq| ServerFrame::HeartbeatAck { seq }),
        (any::<u64>(), event()).prop_map(|(seq, event)| ServerFrame::Dispatch { seq, event }),
        any::<bool>().prop_map(|resumable| ServerFrame::InvalidSession { resumable }),
        (prop::sample::select(ErrorCode::ALL), any::<String>())
            .prop_map(|(code, message)| ServerFrame::Error { code, message }),
        (channel_id(), any::<u8>(), any::<u32>(), prop::collection::vec(ice, 0..3)).prop_map(
            |(channel_id, receive_slots, bitrate_kbps, ice_servers)| ServerFrame::VoiceReady {
                channel_id,
                receive_slots,
                bitrate_kbps,
                ice_servers,
            }
        ),
        any::<String>().prop_map(|sdp| ServerFrame::VoiceAnswer { sdp }),
    ]
}

const CLIENT_OPS: &[&str] = &[
    "identify",
    "resume",
    "heartbeat",
    "set_presence",
    "voice_join",
    "voice_offer",
    "voice_update",
    "voice_leave",
];
const FRAME_FIELDS: &[&str] =
    &["token", "session_id", "seq", "status", "channel_id", "self_mute", "self_deaf", "sdp"];

/// A frame whose `op` is real and whose `d` is an object of real field names with
/// arbitrary values: the frames that get furthest into the decoder.
fn frame_like() -> impl Strategy<Value = Value> {
    (prop::sample::select(CLIENT_OPS), object_of(FRAME_FIELDS), json_value(), 0u8..4).prop_map(
        |(op, d, junk, shape)| match shape {
            0 => json!({"op": op, "d": d}),
            1 => json!({"op": op, "d": junk}),
            2 => json!({"op": op}),
            _ => json!({"d": d, "op": op, "x": junk}),
        },
    )
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn client_frames_from_arbitrary_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<ClientFrame>(&bytes);
        let _ = serde_json::from_slice::<ServerFrame>(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = serde_json::from_str::<ClientFrame>(text);
        }
    }

    #[test]
    fn frame_shaped_json_decodes_or_fails(value in frame_like()) {
        let text = value.to_string();
        if let Ok(frame) = serde_json::from_str::<ClientFrame>(&text) {
            // What the server accepted, it can also say: decoding is not lossy.
            let again = serde_json::to_string(&frame).expect("encodes");
            prop_assert_eq!(serde_json::from_str::<ClientFrame>(&again).expect("decodes"), frame);
        }
        let _ = serde_json::from_value::<ServerFrame>(value);
    }

    #[test]
    fn arbitrary_json_values_decode_or_fail(value in json_value()) {
        let _ = serde_json::from_value::<ClientFrame>(value.clone());
        let _ = serde_json::from_value::<ServerFrame>(value.clone());
        let _ = serde_json::from_value::<Event>(value);
    }

    #[test]
    fn damaged_client_frames_decode_or_fail(frame in client_frame(), damage in edits()) {
        let bytes = mutate(serde_json::to_vec(&frame).expect("encodes"), &damage);
        let _ = serde_json::from_slice::<ClientFrame>(&bytes);
    }

    #[test]
    fn client_frames_round_trip(frame in client_frame()) {
        let text = serde_json::to_string(&frame).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<ClientFrame>(&text).expect("decodes"), frame);
    }
}

proptest! {
    // Server frames are bigger to generate; fewer cases keep the run short.
    #![proptest_config(config(600))]

    #[test]
    fn server_frames_round_trip(frame in server_frame()) {
        let text = serde_json::to_string(&frame).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<ServerFrame>(&text).expect("decodes"), frame);
    }

    #[test]
    fn damaged_server_frames_decode_or_fail(frame in server_frame(), damage in edits()) {
        let bytes = mutate(serde_json::to_vec(&frame).expect("encodes"), &damage);
        let _ = serde_json::from_slice::<ServerFrame>(&bytes);
    }
}

/// Deep nesting must be refused, not overflow the stack: serde_json's recursion limit
/// (128) is what protects the server's gateway task.
#[test]
fn deeply_nested_frames_are_refused() {
    for open in ["[", "{\"d\":", "{\"op\":\"identify\",\"d\":"] {
        let text = open.repeat(100_000);
        assert!(serde_json::from_str::<ClientFrame>(&text).is_err());
        assert!(serde_json::from_str::<ServerFrame>(&text).is_err());
    }
}
