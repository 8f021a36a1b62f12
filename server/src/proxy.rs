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

/// The client address for a request from `peer` carrying `forwarded_for` header lines.
///
/// Every line counts: a proxy may append its own line rather than extend the client's, and
/// reading only the first would then believe the client's own claim. The lines are read as
/// one list, in order, and walked from the nearest hop outwards.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> =
        forwarded_for.into_iter().flat_map(|line| line.split(',')).map(str::trim).collect();
    // The first address no trusted proxy vouches for is the client. An unparsable entry
    // ends the walk (the last good hop is the client): anything left of it is unverifiable.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as some proxies
/// write it (`198.51.100.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// The key of a per-address rate-limit bucket. One IPv6 subscriber usually holds a whole
/// /64 and can pick any address in it, so IPv6 is counted per /64; IPv4 (and IPv4 mapped
/// into IPv6) per address.
pub fn rate_limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
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
        assert_eq!(client_address(ip("203.0.113.9"), ["1.2.3.4"], &trusted), ip("203.0.113.9"));
        // Through the proxy: the client the proxy saw.
        assert_eq!(client_address(ip("10.0.0.2"), ["198.51.100.7"], &trusted), ip("198.51.100.7"));
        // A spoofed entry left of the real client is ignored.
        assert_eq!(
            client_address(ip("10.0.0.2"), ["1.1.1.1, 198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Chains of trusted proxies are skipped.
        assert_eq!(
            client_address(ip("10.0.0.2"), ["198.51.100.7, 10.0.0.3"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(ip("10.0.0.2"), ["garbage"], &trusted), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), [], &trusted), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), ["198.51.100.7"], &[]), ip("10.0.0.2"));
    }

    #[test]
    fn every_forwarded_line_counts_and_the_right_most_untrusted_hop_wins() {
        let trusted = [Cidr::parse("10.0.0.0/8").expect("valid")];
        // The client's own line comes first; the proxy appended its own line after it.
        assert_eq!(
            client_address(ip("10.0.0.2"), ["1.2.3.4", "198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(
                ip("10.0.0.2"),
                ["1.2.3.4, 5.6.7.8", "198.51.100.7, 10.0.0.9"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Ports, as some proxies write them, and IPv4 mapped into IPv6.
        assert_eq!(
            client_address(ip("10.0.0.2"), ["198.51.100.7:4711"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), ["[2001:db8::7]:4711"], &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), ["::ffff:198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Trust is exact: 11.0.0.1 is outside the range, so it is the client.
        assert_eq!(
            client_address(ip("10.0.0.2"), ["198.51.100.7, 11.0.0.1"], &trusted),
            ip("11.0.0.1")
        );
    }

    #[test]
    fn ipv6_buckets_are_per_64() {
        assert_eq!(rate_limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(rate_limit_key(ip("2001:db8:1:2:ffff::9")), ip("2001:db8:1:2::"));
        assert_ne!(rate_limit_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(rate_limit_key(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(rate_limit_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
    }
}
