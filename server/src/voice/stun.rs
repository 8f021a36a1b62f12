//! Plain STUN (RFC 8489) Binding on the media port: a request without credentials gets the
//! sender's address back (XOR-MAPPED-ADDRESS), so clients and network checks can learn how
//! the server sees them without a separate STUN server. Requests with credentials belong
//! to a peer's ICE session and never reach this.

use std::net::{IpAddr, SocketAddr};

const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const HEADER: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_SOFTWARE: u16 = 0x8022;
const ATTR_PRIORITY: u16 = 0x0024;
const ATTR_ICE_CONTROLLED: u16 = 0x8029;
const ATTR_FINGERPRINT: u16 = 0x8028;
const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// Peer-reflexive type preference (110) with the highest local preference.
const CONSENT_PRIORITY: u32 = (110 << 24) | (0xFFFF << 8) | 255;
const SOFTWARE: &[u8] = b"AuraSpeak";

/// The answer to `request` from `source`, if it is a well-formed Binding request without
/// credentials. Anything else (responses, indications, requests naming a user, truncated
/// or malformed messages) gets `None`.
pub(super) fn binding_response(request: &[u8], source: SocketAddr) -> Option<Vec<u8>> {
    if request.len() < HEADER || !request.len().is_multiple_of(4) {
        return None;
    }
    let kind = u16::from_be_bytes([request[0], request[1]]);
    let length = usize::from(u16::from_be_bytes([request[2], request[3]]));
    let cookie = u32::from_be_bytes([request[4], request[5], request[6], request[7]]);
    if kind != BINDING_REQUEST || cookie != MAGIC_COOKIE || HEADER + length != request.len() {
        return None;
    }
    // Walk the attributes: each is type, length, value padded to 4 bytes.
    let mut at = HEADER;
    while at + 4 <= request.len() {
        let attr = u16::from_be_bytes([request[at], request[at + 1]]);
        let len = usize::from(u16::from_be_bytes([request[at + 2], request[at + 3]]));
        if attr == ATTR_USERNAME || attr == ATTR_MESSAGE_INTEGRITY {
            return None;
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    if at != request.len() {
        return None;
    }
    let transaction = &request[8..HEADER];
    let mut address = Vec::with_capacity(20);
    let port = source.port() ^ (MAGIC_COOKIE >> 16) as u16;
    match source.ip() {
        IpAddr::V4(ip) => {
            address.extend_from_slice(&[0, 0x01]);
            address.extend_from_slice(&port.to_be_bytes());
            let x = u32::from(ip) ^ MAGIC_COOKIE;
            address.extend_from_slice(&x.to_be_bytes());
        }
        IpAddr::V6(ip) => {
            address.extend_from_slice(&[0, 0x02]);
            address.extend_from_slice(&port.to_be_bytes());
            let mut mask = [0u8; 16];
            mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            mask[4..].copy_from_slice(transaction);
            for (b, m) in ip.octets().iter().zip(mask) {
                address.push(b ^ m);
            }
        }
    }
    let mut body = Vec::with_capacity(48);
    push_attr(&mut body, ATTR_XOR_MAPPED_ADDRESS, &address);
    push_attr(&mut body, ATTR_SOFTWARE, SOFTWARE);
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&u16::try_from(body.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(transaction);
    out.extend_from_slice(&body);
    Some(out)
}

/// Whether a datagram is a STUN Binding success response (the answer to a check).
pub(super) fn is_success_response(data: &[u8]) -> bool {
    data.len() >= HEADER
        && u16::from_be_bytes([data[0], data[1]]) == BINDING_SUCCESS
        && u32::from_be_bytes([data[4], data[5], data[6], data[7]]) == MAGIC_COOKIE
}

/// The relay's own ICE connectivity check (a consent check, RFC 7675) with the given
/// transaction ID: USERNAME `remote:local`, PRIORITY, ICE-CONTROLLED (the relay is the
/// lite, controlled side), MESSAGE-INTEGRITY keyed with the client's password and a
/// FINGERPRINT, as RFC 8445 §7.1.1 and RFC 8489 §14.5-14.7 lay them out.
pub(super) fn consent_request(
    transaction: &[u8; 12],
    remote_ufrag: &str,
    local_ufrag: &str,
    remote_pwd: &[u8],
    sha1_hmac: impl Fn(&[u8], &[&[u8]]) -> [u8; 20],
) -> Option<Vec<u8>> {
    let username = format!("{remote_ufrag}:{local_ufrag}");
    let mut body = Vec::with_capacity(96);
    push_attr(&mut body, ATTR_USERNAME, username.as_bytes());
    // The priority a peer-reflexive candidate of ours would have; the client only uses it
    // if it learns a new candidate from this check, which it will not (it is our host).
    push_attr(&mut body, ATTR_PRIORITY, &CONSENT_PRIORITY.to_be_bytes());
    let mut tie_breaker = [0u8; 8];
    rand::fill(&mut tie_breaker);
    push_attr(&mut body, ATTR_ICE_CONTROLLED, &tie_breaker);
    let mut out = Vec::with_capacity(HEADER + body.len() + 32);
    out.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(transaction);
    out.extend_from_slice(&body);
    // MESSAGE-INTEGRITY covers the message with its length counting the attribute itself.
    set_length(&mut out, 24)?;
    let mac = sha1_hmac(remote_pwd, &[&out]);
    push_attr(&mut out, ATTR_MESSAGE_INTEGRITY, &mac);
    // FINGERPRINT likewise, over everything before it.
    set_length(&mut out, 8)?;
    let crc = crc32(&out) ^ FINGERPRINT_XOR;
    push_attr(&mut out, ATTR_FINGERPRINT, &crc.to_be_bytes());
    Some(out)
}

/// Sets the header's length to the attributes present plus `extra` bytes still to come.
fn set_length(message: &mut [u8], extra: usize) -> Option<()> {
    let length = u16::try_from(message.len() - HEADER + extra).ok()?;
    message[2..4].copy_from_slice(&length.to_be_bytes());
    Some(())
}

/// CRC-32 (ISO-HDLC, the one STUN's FINGERPRINT uses), bit by bit: a few checks a second.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn push_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(attrs: &[u8]) -> Vec<u8> {
        let mut r = vec![0x00, 0x01];
        r.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        r.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        r.extend_from_slice(&[7; 12]);
        r.extend_from_slice(attrs);
        r
    }

    #[test]
    fn answers_a_plain_binding_request_with_the_senders_address() {
        let source: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let resp = binding_response(&request(&[]), source).expect("answered");
        assert_eq!(&resp[0..2], &[0x01, 0x01]);
        assert_eq!(&resp[8..20], &[7; 12], "same transaction");
        // XOR-MAPPED-ADDRESS first: family 1, port and address XORed with the cookie.
        assert_eq!(&resp[20..22], &ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
        let port = u16::from_be_bytes([resp[26], resp[27]]) ^ 0x2112;
        let ip = u32::from_be_bytes([resp[28], resp[29], resp[30], resp[31]]) ^ MAGIC_COOKIE;
        assert_eq!(SocketAddr::from((std::net::Ipv4Addr::from(ip), port)), source);
        assert_eq!(usize::from(u16::from_be_bytes([resp[2], resp[3]])), resp.len() - HEADER);
        let v6: SocketAddr = "[2001:db8::1]:9".parse().unwrap();
        assert!(binding_response(&request(&[]), v6).is_some());
    }

    #[test]
    fn consent_checks_are_valid_ice_checks() {
        let hmac = |key: &[u8], parts: &[&[u8]]| {
            let provider = str0m::crypto::from_feature_flags();
            provider.sha1_hmac_provider.sha1_hmac(key, parts)
        };
        let transaction = [9u8; 12];
        let request =
            consent_request(&transaction, "cli", "rly", b"clientpassword", hmac).expect("built");
        // str0m's own STUN parser (which checks the FINGERPRINT) reads it as an ICE check.
        let message = str0m::ice::StunMessage::parse(&request).expect("parses");
        assert!(message.is_binding_request());
        assert_eq!(message.username(), Some("cli:rly"));
        assert_eq!(message.prio(), Some(CONSENT_PRIORITY));
        assert!(message.ice_controlled().is_some());
        assert!(!message.use_candidate());
        assert!(message.verify(b"clientpassword", hmac));
        assert!(!message.verify(b"wrong", hmac));
        assert_eq!(&request[8..20], &transaction);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the CRC-32 check value");
    }

    #[test]
    fn ignores_ice_checks_and_junk() {
        let source: SocketAddr = "127.0.0.1:9".parse().unwrap();
        // USERNAME attribute: an ICE connectivity check, not ours to answer.
        let with_user = request(&[0x00, 0x06, 0x00, 0x03, b'a', b':', b'b', 0]);
        assert!(binding_response(&with_user, source).is_none());
        let mut wrong_cookie = request(&[]);
        wrong_cookie[4] = 0;
        assert!(binding_response(&wrong_cookie, source).is_none());
        let mut bad_length = request(&[]);
        bad_length[3] = 8;
        assert!(binding_response(&bad_length, source).is_none());
        // An attribute whose length runs past the end.
        assert!(binding_response(&request(&[0x80, 0x22, 0x00, 0x40]), source).is_none());
        assert!(binding_response(&[0u8; 19], source).is_none());
        assert!(binding_response(&[], source).is_none());
        for seed in 0..2000u32 {
            let junk: Vec<u8> = (0..((seed % 64) * 4)).map(|i| (i * 31 + seed) as u8).collect();
            let _ = binding_response(&junk, source);
        }
    }
}
