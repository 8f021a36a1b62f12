//! What the property tests of this crate share: a bounded case count and JSON values that
//! look enough like our messages to get past the first field.
#![allow(dead_code, unreachable_pub)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Map, Number, Value};

/// `cases` per property unless `PROPTEST_CASES` asks for more (a long local or nightly
/// run); the defaults keep the whole suite to seconds in CI. Failures are saved next to
/// the test file (`*.proptest-regressions`, committed) and replayed first on every run.
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Names that appear in our wire format, so objects built from them reach the deserialisers
/// of nested fields instead of failing at the first unknown key.
pub const WORDS: &[&str] = &[
    "op",
    "d",
    "type",
    "token",
    "session_id",
    "seq",
    "status",
    "channel_id",
    "self_mute",
    "self_deaf",
    "sdp",
    "identify",
    "resume",
    "heartbeat",
    "set_presence",
    "voice_join",
    "voice_offer",
    "voice_update",
    "voice_leave",
    "online",
    "idle",
    "do_not_disturb",
    "invisible",
    "offline",
    "dispatch",
    "hello",
    "ready",
    "event",
    "message",
    "content",
    "reply_to",
    "nonce",
    "id",
    "author_id",
    "created_at",
    "edited_at",
    "mentions",
    "reactions",
    "emoji",
    "count",
    "me",
    "username",
    "email",
    "password",
    "display_name",
    "device_name",
    "login",
    "refresh_token",
    "current_password",
    "new_password",
    "name",
    "description",
    "kind",
    "text",
    "voice",
    "category",
    "topic",
    "parent_id",
    "position",
    "bitrate_kbps",
    "user_limit",
    "allow",
    "deny",
    "permissions",
    "color",
    "nickname",
    "reason",
    "max_age_secs",
    "max_uses",
    "user_id",
    "message_id",
    "before",
    "after",
    "around",
    "limit",
    "mute",
    "deaf",
    "role",
    "member",
    "server_id",
    "urls",
    "credential",
    "code",
    "heartbeat_interval_ms",
    "receive_slots",
    "ice_servers",
    "slot",
    "speaking",
    "resumable",
    "replayed",
    "0",
    "1",
    "9223372036854775807",
    "9223372036854775808",
    "",
    "-1",
    "+1",
    " 1",
    "1e3",
    "@everyone",
    "<@1>",
    "<@&1>",
    "👍",
    "\u{0}",
    "\u{202e}",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(WORDS).prop_map(str::to_owned), 1 => any::<String>()]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..300).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
    ]
}

/// Any JSON value, biased towards our field names, ID-like strings and edge numbers.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        word().prop_map(Value::String),
        (0u64..=u64::MAX).prop_map(|n| Value::String(n.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object with some of `fields`, each set to a plausible or hostile value, and now and
/// then one key too many: the shapes a REST body or a frame's `d` takes.
pub fn object_of(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let one = (prop::sample::select(fields), any::<bool>(), json_value());
    (
        prop::collection::vec(one, 0..=fields.len() + 1),
        prop::option::weighted(0.1, (word(), json_value())),
    )
        .prop_map(|(present, extra)| {
            let mut map = Map::new();
            for (field, keep, value) in present {
                // Half the time a well-typed scalar, so more bodies get past the parser.
                let value = if keep { plausible(field, &value) } else { value };
                map.insert(field.to_owned(), value);
            }
            if let Some((k, v)) = extra {
                map.insert(k, v);
            }
            Value::Object(map)
        })
}

/// A value of the right JSON type for a field name, derived from arbitrary data.
fn plausible(field: &str, seed: &Value) -> Value {
    let n = match seed {
        Value::Number(n) => n.as_i64().unwrap_or(1),
        Value::String(s) => s.len() as i64,
        _ => 0,
    };
    let text = match seed {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match field {
        "self_mute" | "self_deaf" | "mute" | "deaf" | "me" | "speaking" | "resumable" => {
            Value::Bool(n % 2 == 0)
        }
        "seq"
        | "position"
        | "bitrate_kbps"
        | "user_limit"
        | "color"
        | "max_age_secs"
        | "max_uses"
        | "limit"
        | "count"
        | "created_at"
        | "heartbeat_interval_ms"
        | "slot" => Value::from(n),
        "channel_id" | "user_id" | "message_id" | "reply_to" | "parent_id" | "before" | "after"
        | "around" | "id" | "server_id" | "allow" | "deny" | "permissions" => {
            Value::String(n.unsigned_abs().to_string())
        }
        "kind" => Value::String(
            ["text", "voice", "category", "role", "member"][(n.unsigned_abs() % 5) as usize].into(),
        ),
        "status" => Value::String(
            ["online", "idle", "do_not_disturb", "invisible", "offline"]
                [(n.unsigned_abs() % 5) as usize]
                .into(),
        ),
        _ => Value::String(text),
    }
}

/// Byte-level damage to a valid encoding: flips, inserted JSON punctuation, deletions and
/// truncation, as a broken or hostile client would send.
pub fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, op, byte) in edits {
        let at = if bytes.is_empty() { 0 } else { at % bytes.len() };
        match op % 5 {
            0 if !bytes.is_empty() => bytes[at] = byte,
            1 => {
                let punctuation = b"\"{}[]:,\\0-e.\xff";
                bytes.insert(at, punctuation[usize::from(byte) % punctuation.len()]);
            }
            2 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            3 => bytes.truncate(at),
            _ => bytes.insert(at, byte),
        }
    }
    bytes
}

pub fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6)
}
