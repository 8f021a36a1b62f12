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
