//! REST request bodies from a hostile client: every request type decodes arbitrary JSON to
//! a value or an error without panicking, what decodes encodes back to the same value, and
//! the shared validation rules (the ones the server and the forms both run) never panic and
//! mean what their documentation says.

#[path = "support/props.rs"]
mod props;

use std::fmt::Debug;

use auraspeak_shared::limits::{
    EMOJI_MAX_CHARS, USERNAME_MAX_CHARS, email_key, username_key, validate_device_name,
    validate_display_name, validate_email, validate_emoji, validate_password, validate_username,
};
use auraspeak_shared::mentions::{MAX_MENTIONS, parse_mentions};
use auraspeak_shared::v1::auth::{
    ChangePasswordRequest, LoginRequest, RefreshRequest, RegisterRequest,
};
use auraspeak_shared::v1::channels::{
    CreateChannelRequest, SetOverwriteRequest, UpdateChannelRequest,
};
use auraspeak_shared::v1::messages::{
    AckRequest, EditMessageRequest, HistoryQuery, SendMessageRequest,
};
use auraspeak_shared::v1::servers::{
    CreateInviteRequest, CreateRoleRequest, CreateServerRequest, ModerationRequest, RolePosition,
    TransferOwnershipRequest, UpdateMemberRequest, UpdateRoleRequest, UpdateServerRequest,
};
use auraspeak_shared::v1::users::UpdateProfileRequest;
use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use auraspeak_shared::{Permissions, Snowflake};
use props::{config, edits, json_value, mutate, object_of};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes `value` as the server would (from its text) and, when it decodes, checks that
/// encoding and decoding again gives the same request.
fn decode<T: DeserializeOwned + Serialize + PartialEq + Debug>(value: &Value) -> Option<T> {
    let text = value.to_string();
    let decoded = serde_json::from_str::<T>(&text).ok()?;
    let again = serde_json::to_string(&decoded).expect("a decoded request encodes");
    assert_eq!(serde_json::from_str::<T>(&again).expect("its encoding decodes"), decoded, "{text}");
    Some(decoded)
}

/// Every body type with its fields, and what the shared rules check once it decodes.
fn decode_and_validate(body: &str, value: &Value) {
    match body {
        "register" => {
            if let Some(r) = decode::<RegisterRequest>(value) {
                let _ = validate_username(&r.username);
                let _ = validate_email(&r.email);
                let _ = validate_password(&r.password);
                let _ = (username_key(&r.username), email_key(&r.email));
                let _ = r.display_name.as_deref().map(validate_display_name);
                let _ = r.device_name.as_deref().map(validate_device_name);
            }
        }
        "login" => {
            if let Some(r) = decode::<LoginRequest>(value) {
                let _ = validate_password(&r.password);
                let _ = r.device_name.as_deref().map(validate_device_name);
            }
        }
        "refresh" => drop(decode::<RefreshRequest>(value)),
        "change_password" => {
            if let Some(r) = decode::<ChangePasswordRequest>(value) {
                let _ = validate_password(&r.new_password);
            }
        }
        "create_channel" => drop(decode::<CreateChannelRequest>(value)),
        "update_channel" => drop(decode::<UpdateChannelRequest>(value)),
        "set_overwrite" => {
            if let Some(r) = decode::<SetOverwriteRequest>(value) {
                let _ = (r.allow.known(), r.deny.known());
            }
        }
        "ack" => drop(decode::<AckRequest>(value)),
        "send_message" => {
            if let Some(r) = decode::<SendMessageRequest>(value) {
                let _ = parse_mentions(&r.content);
            }
        }
        "edit_message" => {
            if let Some(r) = decode::<EditMessageRequest>(value) {
                let _ = parse_mentions(&r.content);
            }
        }
        "history" => drop(decode::<HistoryQuery>(value)),
        "create_server" => drop(decode::<CreateServerRequest>(value)),
        "update_server" => drop(decode::<UpdateServerRequest>(value)),
        "transfer" => drop(decode::<TransferOwnershipRequest>(value)),
        "create_role" => drop(decode::<CreateRoleRequest>(value)),
        "update_role" => drop(decode::<UpdateRoleRequest>(value)),
        "role_positions" => drop(decode::<Vec<RolePosition>>(value)),
        "update_member" => drop(decode::<UpdateMemberRequest>(value)),
        "moderation" => drop(decode::<ModerationRequest>(value)),
        "create_invite" => drop(decode::<CreateInviteRequest>(value)),
        "update_profile" => {
            if let Some(r) = decode::<UpdateProfileRequest>(value) {
                let _ = r.display_name.as_deref().map(validate_display_name);
            }
        }
        "moderate_voice" => drop(decode::<ModerateVoiceRequest>(value)),
        other => panic!("no body type {other}"),
    }
}

/// (body, its fields): what a client that knows the API but sends nonsense would build.
const BODIES: &[(&str, &[&str])] = &[
    ("register", &["username", "email", "password", "display_name", "device_name"]),
    ("login", &["login", "password", "device_name"]),
    ("refresh", &["refresh_token"]),
    ("change_password", &["current_password", "new_password"]),
    (
        "create_channel",
        &["name", "kind", "topic", "parent_id", "position", "bitrate_kbps", "user_limit"],
    ),
    ("update_channel", &["name", "topic", "position", "parent_id", "bitrate_kbps", "user_limit"]),
    ("set_overwrite", &["allow", "deny"]),
    ("ack", &["message_id"]),
    ("send_message", &["content", "reply_to", "nonce"]),
    ("edit_message", &["content"]),
    ("history", &["before", "after", "around", "limit"]),
    ("create_server", &["name", "description"]),
    ("update_server", &["name", "description"]),
    ("transfer", &["user_id"]),
    ("create_role", &["name", "permissions", "color"]),
    ("update_role", &["name", "permissions", "color"]),
    ("role_positions", &["id", "position"]),
    ("update_member", &["nickname"]),
    ("moderation", &["reason"]),
    ("create_invite", &["max_age_secs", "max_uses"]),
    ("update_profile", &["display_name"]),
    ("moderate_voice", &["mute", "deaf", "channel_id"]),
];

fn body_like() -> impl Strategy<Value = (&'static str, Value)> {
    prop::sample::select(BODIES).prop_flat_map(|(name, fields)| {
        let value = object_of(fields);
        // Role positions are a list of objects.
        let value: BoxedStrategy<Value> = if name == "role_positions" {
            prop::collection::vec(value, 0..4).prop_map(Value::Array).boxed()
        } else {
            value.boxed()
        };
        value.prop_map(move |v| (name, v))
    })
}

/// Text that exercises the mention parser's edges: prefixes, digits, closers, multi-byte
/// characters right after `<@`.
fn mention_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<@".to_owned()),
        Just("<@&".to_owned()),
        Just(">".to_owned()),
        Just("@everyone".to_owned()),
        Just("é".to_owned()),
        Just("👍".to_owned()),
        (0u64..=u64::MAX).prop_map(|n| n.to_string()),
        "[0-9]{1,25}",
        any::<String>(),
    ];
    prop::collection::vec(token, 0..40).prop_map(|parts| parts.concat())
}

/// Whether `text` holds `prefix`, then `id` in decimal (leading zeros allowed), then `>`.
fn written(text: &str, prefix: &str, id: u64) -> bool {
    text.match_indices(prefix).any(|(at, _)| {
        let digits = &text[at + prefix.len()..];
        let trimmed = digits.trim_start_matches('0');
        trimmed.starts_with(&format!("{id}>"))
            || (id == 0 && trimmed.len() < digits.len() && trimmed.starts_with('>'))
    })
}

fn from_alphabet(
    alphabet: &'static str,
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    prop::collection::vec(prop::sample::select(chars), len).prop_map(|c| c.into_iter().collect())
}

proptest! {
    // Each case tries all 22 body types.
    #![proptest_config(config(500))]

    #[test]
    fn arbitrary_json_decodes_or_fails_as_every_body(value in json_value()) {
        for (body, _) in BODIES {
            decode_and_validate(body, &value);
        }
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn body_shaped_json_decodes_or_fails((body, value) in body_like()) {
        decode_and_validate(body, &value);
    }


    #[test]
    fn damaged_bodies_decode_or_fail((body, value) in body_like(), damage in edits()) {
        let bytes = mutate(value.to_string().into_bytes(), &damage);
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            decode_and_validate(body, &value);
        }
    }

    #[test]
    fn ids_and_permissions_parse_any_text_without_panicking(text in any::<String>()) {
        if let Ok(id) = text.parse::<Snowflake>() {
            prop_assert!(id.get() <= i64::MAX as u64);
            prop_assert!(!text.starts_with('+') && !text.starts_with('-'));
        }
        let _ = serde_json::from_value::<Permissions>(Value::String(text));
    }

    #[test]
    fn ids_round_trip(n in 0..=i64::MAX) {
        let id = Snowflake::from_i64(n).expect("non-negative");
        prop_assert_eq!(id.to_string().parse::<Snowflake>(), Ok(id));
        let json = serde_json::to_string(&id).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<Snowflake>(&json).expect("decodes"), id);
        let above = (n as u64) + (i64::MAX as u64) + 1;
        prop_assert!(above.to_string().parse::<Snowflake>().is_err(), "{} is above 2^63", above);
    }

    #[test]
    fn permissions_round_trip(bits in any::<u64>()) {
        let json = serde_json::to_string(&Permissions(bits)).expect("encodes");
        prop_assert_eq!(serde_json::from_str::<Permissions>(&json).expect("decodes"), Permissions(bits));
    }

    #[test]
    fn validators_never_panic_and_keep_their_promises(text in any::<String>()) {
        let chars = text.chars().count();
        if validate_username(&text).is_ok() {
            prop_assert!((2..=USERNAME_MAX_CHARS).contains(&chars));
            prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
            prop_assert!(validate_username(&username_key(&text)).is_ok());
        }
        if validate_password(&text).is_ok() {
            prop_assert!((8..=128).contains(&chars));
        }
        if validate_email(&text).is_ok() {
            prop_assert_eq!(text.matches('@').count(), 1);
            prop_assert!(!text.starts_with('@') && !text.chars().any(char::is_whitespace));
            prop_assert!(validate_email(&email_key(&text)).is_ok() || email_key(&text).chars().count() > 254);
        }
        if validate_display_name(&text).is_ok() {
            prop_assert!((1..=32).contains(&chars) && text.trim() == text);
            prop_assert!(!text.chars().any(char::is_control));
        }
        if validate_device_name(&text).is_ok() {
            prop_assert!(chars <= 64 && !text.chars().any(char::is_control));
        }
        if validate_emoji(&text).is_ok() {
            prop_assert!((1..=EMOJI_MAX_CHARS).contains(&chars));
            prop_assert!(!text.chars().any(|c| c.is_ascii_alphabetic() || c.is_whitespace() || "<>&:\"'".contains(c)));
        }
    }

    #[test]
    fn valid_names_and_addresses_are_accepted(
        name in from_alphabet("abcXYZ019_.-", 2..=32),
        local in from_alphabet("abz09.+_-", 1..=30),
        labels in prop::collection::vec(from_alphabet("abz09-", 1..=12), 2..4),
        password in prop::collection::vec(any::<char>(), 8..=128),
    ) {
        prop_assert!(validate_username(&name).is_ok(), "{}", name);
        let email = format!("{local}@{}", labels.join("."));
        prop_assert!(validate_email(&email).is_ok(), "{}", email);
        let password: String = password.into_iter().collect();
        prop_assert!(validate_password(&password).is_ok());
    }

    #[test]
    fn mentions_parse_any_text_within_their_cap(text in mention_text()) {
        let m = parse_mentions(&text);
        prop_assert!(m.users.len() + m.roles.len() <= MAX_MENTIONS);
        let mut users = m.users.clone();
        users.sort_unstable();
        users.dedup();
        prop_assert_eq!(users.len(), m.users.len(), "no user twice");
        for id in &m.users {
            prop_assert!(written(&text, "<@", *id), "{} not in the text", id);
        }
        for id in &m.roles {
            prop_assert!(written(&text, "<@&", *id), "{} not in the text", id);
        }
        prop_assert_eq!(m.everyone, text.contains("@everyone"));
    }

    #[test]
    fn written_mentions_are_found_again(
        ids in prop::collection::vec((any::<bool>(), 0u64..=9_999_999_999_999_999_999), 0..80),
        filler in "[a-z é👍]{0,3}",
    ) {
        let text: String = ids
            .iter()
            .map(|(role, id)| format!("{}{}{id}>{filler}", "<@", if *role { "&" } else { "" }))
            .collect();
        let m = parse_mentions(&text);
        let (mut users, mut roles) = (Vec::new(), Vec::new());
        for (role, id) in ids {
            let seen = if role { roles.contains(&id) } else { users.contains(&id) };
            if !seen && users.len() + roles.len() < MAX_MENTIONS {
                if role { roles.push(id) } else { users.push(id) }
            }
        }
        prop_assert_eq!(m.users, users);
        prop_assert_eq!(m.roles, roles);
    }
}
