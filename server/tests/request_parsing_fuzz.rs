//! The server's request parsing, fuzzed without a database: the JSON body extractor every
//! route uses, the query-string extractor, and the field checks of the community routes.
//! Whatever arrives gets a value or a coded 4xx error: never a panic, never a 5xx.
//! (`bad_input.rs` sends hostile bodies through the whole server; this reaches many more
//! inputs per second by calling the same extractors directly.)

use std::fmt::Debug;

use auraspeak_server::api::error::ApiError;
use auraspeak_server::api::extract::{ApiJson, ApiQuery};
use auraspeak_server::api::members::MemberQuery;
use auraspeak_server::api::servers::AuditQuery;
use auraspeak_server::community::Fields;
use auraspeak_shared::ErrorCode;
use auraspeak_shared::v1::auth::{LoginRequest, RegisterRequest};
use auraspeak_shared::v1::channels::{CreateChannelRequest, SetOverwriteRequest};
use auraspeak_shared::v1::messages::{HistoryQuery, SendMessageRequest};
use auraspeak_shared::v1::servers::{CreateInviteRequest, RolePosition, UpdateRoleRequest};
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use futures_util::FutureExt as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde::de::DeserializeOwned;

/// Cases per property unless `PROPTEST_CASES` asks for more; failures are kept next to
/// this file and replayed first.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// A refusal must be the client's fault, with one of the codes for bad input.
fn assert_coded_4xx(error: &ApiError, allowed: &[ErrorCode]) -> Result<(), TestCaseError> {
    prop_assert!(error.status().is_client_error(), "{:?} is not a 4xx", error.code);
    prop_assert!(allowed.contains(&error.code), "{:?}: {}", error.code, error.message);
    Ok(())
}

fn body<T: DeserializeOwned>(content_type: Option<&str>, bytes: &[u8]) -> Result<(), ApiError> {
    let mut request = Request::builder().method("POST").uri("/");
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let request = request.body(Body::from(bytes.to_vec())).expect("request");
    // An in-memory body is complete at once: the extractor never waits.
    let extracted = ApiJson::<T>::from_request(request, &()).now_or_never().expect("ready");
    extracted.map(|_| ())
}

fn query<T: DeserializeOwned + Send + Debug>(query: &str) -> Option<Result<(), ApiError>> {
    let request = Request::builder().uri(format!("/x?{query}")).body(Body::empty()).ok()?;
    let (mut parts, _) = request.into_parts();
    let extracted =
        ApiQuery::<T>::from_request_parts(&mut parts, &()).now_or_never().expect("ready");
    Some(extracted.map(|_| ()))
}

const JSON_CODES: &[ErrorCode] = &[
    ErrorCode::InvalidJson,
    ErrorCode::InvalidBody,
    ErrorCode::UnsupportedMediaType,
    ErrorCode::PayloadTooLarge,
];

/// Valid bodies of several routes, to be damaged.
const SEEDS: &[&str] = &[
    r#"{"username":"ann","email":"a@b.co","password":"correct horse","display_name":"Ann"}"#,
    r#"{"login":"ann","password":"correct horse","device_name":"Desktop"}"#,
    r#"{"name":"voice","kind":"voice","topic":"t","parent_id":"4194304","position":1,"bitrate_kbps":64,"user_limit":5}"#,
    r#"{"allow":"1","deny":"8192"}"#,
    r#"{"content":"hi <@4194304>","reply_to":"4194305","nonce":"n1"}"#,
    r#"{"max_age_secs":60,"max_uses":2}"#,
    r#"[{"id":"4194304","position":1},{"id":"4194305","position":2}]"#,
    r#"{"name":"mods","permissions":"9223372036854775807","color":16711680}"#,
];

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/json".to_owned())),
        1 => Just(Some("application/json; charset=utf-8".to_owned())),
        1 => Just(Some("application/vnd.api+json".to_owned())),
        1 => Just(Some("text/plain".to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

fn damaged_seed() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = seed.as_bytes().to_vec();
            for (at, byte, op) in edits {
                let at = at.index(bytes.len().max(1));
                match op {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => {
                        let punctuation = b"\"{}[]:,\\0-e.\xff";
                        bytes.insert(
                            at.min(bytes.len()),
                            punctuation[usize::from(byte) % punctuation.len()],
                        );
                    }
                    2 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at),
                }
            }
            bytes
        })
}

/// Every body type above, through the extractor.
fn all_bodies(ct: Option<&str>, bytes: &[u8]) -> Result<(), TestCaseError> {
    let results = [
        body::<RegisterRequest>(ct, bytes),
        body::<LoginRequest>(ct, bytes),
        body::<CreateChannelRequest>(ct, bytes),
        body::<SetOverwriteRequest>(ct, bytes),
        body::<SendMessageRequest>(ct, bytes),
        body::<CreateInviteRequest>(ct, bytes),
        body::<Vec<RolePosition>>(ct, bytes),
        body::<UpdateRoleRequest>(ct, bytes),
    ];
    for result in results {
        if let Err(e) = result {
            assert_coded_4xx(&e, JSON_CODES)?;
        }
    }
    Ok(())
}

/// Query strings: our parameter names with hostile values, percent-encoded or not.
fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("before"),
        Just("after"),
        Just("around"),
        Just("limit"),
        Just("x"),
        Just(""),
    ];
    let value = prop_oneof![
        (0u64..=u64::MAX).prop_map(|n| n.to_string()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("%".to_owned()),
        Just("1%00".to_owned()),
        "[ -~]{0,20}",
        any::<String>().prop_map(|s| s.bytes().map(|b| format!("%{b:02X}")).collect()),
    ];
    prop::collection::vec((key, value, any::<bool>()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v, with_value)| if with_value { format!("{k}={v}") } else { k.to_owned() })
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn arbitrary_bodies_get_a_value_or_a_coded_4xx(
        ct in content_type(),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        all_bodies(ct.as_deref(), &bytes)?;
    }

    #[test]
    fn damaged_bodies_get_a_value_or_a_coded_4xx(ct in content_type(), bytes in damaged_seed()) {
        all_bodies(ct.as_deref(), &bytes)?;
    }

    #[test]
    fn query_strings_get_a_value_or_a_coded_4xx(q in query_string()) {
        for result in [query::<HistoryQuery>(&q), query::<MemberQuery>(&q), query::<AuditQuery>(&q)]
            .into_iter()
            .flatten()
        {
            if let Err(e) = result {
                assert_coded_4xx(&e, &[ErrorCode::InvalidParameter])?;
            }
        }
    }

    #[test]
    fn field_checks_accept_exactly_what_they_promise(
        value in prop_oneof![any::<String>(), "[ \t\n\u{0}\u{7f}\u{85}\u{a0}a-zé]{0,40}"],
        min in 0usize..4,
        max in 0usize..40,
    ) {
        let mut fields = Fields::default();
        let kept = fields.text("name", &value, min, max);
        prop_assert_eq!(kept.as_str(), value.trim());
        let len = kept.chars().count();
        let clean = !kept.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        let refused = fields.finish().err();
        prop_assert_eq!(refused.is_none(), (min..=max).contains(&len) && clean, "{:?}", kept);
        if let Some(e) = refused {
            assert_coded_4xx(&e, &[ErrorCode::ValidationFailed])?;
        }

        let mut fields = Fields::default();
        let optional = fields.optional_text("name", Some(&value), max);
        prop_assert_eq!(optional.is_none(), value.trim().is_empty());
        let refused = fields.finish().err();
        prop_assert_eq!(refused.is_none(), optional.is_none() || ((1..=max).contains(&len) && clean));
    }
}
