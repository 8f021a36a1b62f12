//! Which address a request really comes from. Behind a reverse proxy every request
//! arrives from the proxy, so rate limits would lump all users together; when the direct
//! peer is a configured trusted proxy, the client address is taken from
//! `X-Forwarded-For` instead (the last hop not itself trusted), and never otherwise, so
//! clients cannot forge it.

use std::net::IpAddr;

use crate::error::Error;

/// An address range such as `10.0.0.0/8`, `127.0.0.1` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Config(format!("http.trusted_proxies: {text:?} is not an address or CIDR range"))
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            (IpAddr::V6(_), IpAddr::V4(a)) => self.contains(IpAddr::V6(a.to_ipv6_mapped())),
            (IpAddr::V4(_), IpAddr::V6(a)) => {
                a.to_ipv4_mapped().is_some_and(|v4| self.contains(IpAddr::V4(v4)))
            }
        }
    }
}

/// The client address for a request from `peer` carrying `forwarded_for` headers.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Walk from the nearest hop outwards; the first address no trusted proxy vouches
    // for is the client. Unparsable entries end the walk (fall back to the last good).
    let mut client = peer;
    if let Some(header) = forwarded_for {
        for hop in header.rsplit(',').map(str::trim) {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges() {
        let lan = Cidr::parse("10.0.0.0/8").expect("valid");
        assert!(lan.contains(ip("10.1.2.3")) && !lan.contains(ip("11.0.0.1")));
        assert!(Cidr::parse("127.0.0.1").expect("valid").contains(ip("127.0.0.1")));
        assert!(Cidr::parse("::1").expect("valid").contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").expect("valid").contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/8").expect("valid").contains(ip("::ffff:10.0.0.1")));
        for bad in ["", "10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").expect("valid")];
        // Direct clients cannot claim another address.
        assert_eq!(client_address(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        // Through the proxy: the client the proxy saw.
        assert_eq!(
            client_address(ip("10.0.0.2"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // A spoofed entry left of the real client is ignored.
        assert_eq!(
            client_address(ip("10.0.0.2"), Some("1.1.1.1, 198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // Chains of trusted proxies are skipped.
        assert_eq!(
            client_address(ip("10.0.0.2"), Some("198.51.100.7, 10.0.0.3"), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(ip("10.0.0.2"), Some("garbage"), &trusted), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), Some("198.51.100.7"), &[]), ip("10.0.0.2"));
    }
}
