//! Property tests of the relay's own STUN parser ([`super::stun::binding_response`]): every
//! datagram that reaches the media port from anyone goes through it, so no input may panic,
//! and whatever it answers must be a well-formed Binding success naming the sender.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use super::stun::binding_response;

const COOKIE: u32 = 0x2112_A442;

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

fn source() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<u128>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

/// One attribute (type, value): anything but USERNAME and MESSAGE-INTEGRITY, which mark
/// an ICE check that is not ours to answer.
fn attribute() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        any::<u16>().prop_filter("credentials", |t| *t != 0x0006 && *t != 0x0008),
        prop::collection::vec(any::<u8>(), 0..40),
    )
}

fn encode(
    kind: u16,
    cookie: u32,
    transaction: &[u8; 12],
    attributes: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, value) in attributes {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(value.len() as u16).to_be_bytes());
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let mut out = Vec::with_capacity(20 + body.len());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&cookie.to_be_bytes());
    out.extend_from_slice(transaction);
    out.extend_from_slice(&body);
    out
}

/// Reads a Binding success response the way a client does and returns its transaction
/// and the XOR-MAPPED-ADDRESS; fails the test on anything malformed.
fn decode(response: &[u8]) -> ([u8; 12], SocketAddr) {
    assert!(response.len() >= 20 && response.len().is_multiple_of(4), "{response:?}");
    assert_eq!(&response[0..2], &[0x01, 0x01], "Binding success");
    assert_eq!(usize::from(u16::from_be_bytes([response[2], response[3]])), response.len() - 20);
    assert_eq!(u32::from_be_bytes([response[4], response[5], response[6], response[7]]), COOKIE);
    let transaction: [u8; 12] = response[8..20].try_into().expect("12 bytes");
    let mut at = 20;
    let mut mapped = None;
    while at + 4 <= response.len() {
        let kind = u16::from_be_bytes([response[at], response[at + 1]]);
        let len = usize::from(u16::from_be_bytes([response[at + 2], response[at + 3]]));
        let value = &response[at + 4..at + 4 + len];
        if kind == 0x0020 {
            let port = u16::from_be_bytes([value[2], value[3]]) ^ (COOKIE >> 16) as u16;
            let ip = match value[1] {
                1 => {
                    let x = u32::from_be_bytes([value[4], value[5], value[6], value[7]]);
                    IpAddr::V4(Ipv4Addr::from(x ^ COOKIE))
                }
                2 => {
                    let mut mask = [0u8; 16];
                    mask[..4].copy_from_slice(&COOKIE.to_be_bytes());
                    mask[4..].copy_from_slice(&transaction);
                    let octets: [u8; 16] = std::array::from_fn(|i| value[4 + i] ^ mask[i]);
                    IpAddr::V6(Ipv6Addr::from(octets))
                }
                family => panic!("family {family}"),
            };
            mapped = Some(SocketAddr::new(ip, port));
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    assert_eq!(at, response.len(), "attributes fill the message");
    (transaction, mapped.expect("XOR-MAPPED-ADDRESS"))
}

fn transaction_of(request: &[u8]) -> [u8; 12] {
    request[8..20].try_into().expect("an answered request has a header")
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn any_datagram_is_answered_well_formed_or_not_at_all(
        data in prop::collection::vec(any::<u8>(), 0..128),
        from in source(),
    ) {
        if let Some(response) = binding_response(&data, from) {
            prop_assert_eq!(decode(&response), (transaction_of(&data), from));
        }
    }

    #[test]
    fn stun_shaped_datagrams_are_answered_well_formed_or_not_at_all(
        kind in prop_oneof![Just(0x0001u16), any::<u16>()],
        cookie in prop_oneof![Just(COOKIE), any::<u32>()],
        transaction in any::<[u8; 12]>(),
        attributes in prop::collection::vec((any::<u16>(), prop::collection::vec(any::<u8>(), 0..40)), 0..5),
        damage in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        cut in any::<Option<usize>>(),
        from in source(),
    ) {
        let mut data = encode(kind, cookie, &transaction, &attributes);
        for (at, byte) in damage {
            let at = at % data.len();
            data[at] = byte;
        }
        if let Some(cut) = cut {
            data.truncate(cut % (data.len() + 1));
        }
        if let Some(response) = binding_response(&data, from) {
            prop_assert_eq!(decode(&response), (transaction_of(&data), from));
        }
    }

    #[test]
    fn plain_binding_requests_get_the_senders_address_back(
        transaction in any::<[u8; 12]>(),
        attributes in prop::collection::vec(attribute(), 0..6),
        from in source(),
    ) {
        let request = encode(0x0001, COOKIE, &transaction, &attributes);
        let response = binding_response(&request, from).expect("a plain Binding request is answered");
        prop_assert_eq!(decode(&response), (transaction, from));
    }

    #[test]
    fn requests_with_credentials_are_left_to_ice(
        transaction in any::<[u8; 12]>(),
        mut attributes in prop::collection::vec(attribute(), 0..4),
        credential in prop_oneof![Just(0x0006u16), Just(0x0008u16)],
        value in prop::collection::vec(any::<u8>(), 0..32),
        at in any::<prop::sample::Index>(),
        from in source(),
    ) {
        attributes.insert(at.index(attributes.len() + 1), (credential, value));
        prop_assert!(binding_response(&encode(0x0001, COOKIE, &transaction, &attributes), from).is_none());
    }
}
