//! Budgets for what the relay takes in (security review M5, L5.1): per-peer packet and
//! byte rates derived from the channel's bitrate, and plain STUN answers per source
//! network. Token buckets with time as input, owned by the relay task (no locks).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Packets a second one peer may send: Opus at 10 ms frames is 100, plus RTCP and ICE
/// checks (a few a second). Above that, nothing a voice client sends needs to get through.
pub(super) const PEER_PACKETS_PER_SECOND: f64 = 110.0;
/// Burst allowance: a client whose network held its packets back for half a second
/// delivers them at once.
const PEER_BURST_SECONDS: f64 = 0.5;
/// Headroom over the channel's Opus bitrate: Opus's VBR peaks (1.5×), times the RFC 2198
/// copies a sender on a lossy link adds (up to two earlier frames per packet: 3×).
const BITRATE_HEADROOM: f64 = 4.5;
/// Per-packet overhead on top of the Opus payload, in bytes: RTP header and extensions
/// (about 24), SRTP tag (10-16), plus RTCP and STUN spread over the packets.
const PACKET_OVERHEAD_BYTES: f64 = 60.0;
/// The smallest byte budget, whatever the channel says: enough for 64 kbps Opus.
const MIN_BYTES_PER_SECOND: f64 = 8_000.0;

/// Plain STUN answers per source network a second (burst: twice that): address
/// discovery needs one or two.
const STUN_PER_SOURCE: f64 = 5.0;
/// And for every source together: a backstop against floods from forged addresses,
/// which no per-source budget can stop.
const STUN_TOTAL: f64 = 1_000.0;
/// Source networks tracked at most; when full, idle ones are forgotten first and new ones
/// are refused until some are, so a flood of forged sources cannot grow the map.
const STUN_MAX_SOURCES: usize = 4_096;

#[derive(Debug, Clone, Copy)]
pub(super) struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    updated: Instant,
}

impl TokenBucket {
    pub(super) fn new(now: Instant, per_second: f64, capacity: f64) -> Self {
        Self { tokens: capacity, capacity, per_second, updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// Takes `amount` if there is that much; otherwise takes nothing.
    pub(super) fn take(&mut self, now: Instant, amount: f64) -> bool {
        self.refill(now);
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }

    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }
}

/// One peer's ingress budget.
#[derive(Debug, Clone)]
pub(super) struct PeerIngress {
    packets: TokenBucket,
    bytes: TokenBucket,
}

impl PeerIngress {
    pub(super) fn new(now: Instant, bitrate_kbps: u32) -> Self {
        let packets = TokenBucket::new(
            now,
            PEER_PACKETS_PER_SECOND,
            PEER_PACKETS_PER_SECOND * PEER_BURST_SECONDS,
        );
        let bytes = Self::byte_bucket(now, bitrate_kbps);
        Self { packets, bytes }
    }

    /// The channel's bitrate ×1.5 plus per-packet overhead at the packet cap.
    pub(super) fn bytes_per_second(bitrate_kbps: u32) -> f64 {
        let opus = f64::from(bitrate_kbps) * 1000.0 / 8.0 * BITRATE_HEADROOM;
        (opus + PEER_PACKETS_PER_SECOND * PACKET_OVERHEAD_BYTES).max(MIN_BYTES_PER_SECOND)
    }

    fn byte_bucket(now: Instant, bitrate_kbps: u32) -> TokenBucket {
        let rate = Self::bytes_per_second(bitrate_kbps);
        TokenBucket::new(now, rate, rate * PEER_BURST_SECONDS)
    }

    /// After a move to a channel with another bitrate.
    pub(super) fn set_bitrate(&mut self, now: Instant, bitrate_kbps: u32) {
        self.bytes = Self::byte_bucket(now, bitrate_kbps);
    }

    /// Whether a datagram of `len` bytes fits the budget (and takes it if so).
    pub(super) fn admit(&mut self, now: Instant, len: usize) -> bool {
        // Bytes first: a refused packet must not spend the packet budget either.
        let len = len as f64;
        if !self.bytes.take(now, len) {
            return false;
        }
        if !self.packets.take(now, 1.0) {
            // Give the bytes back: this packet was not taken.
            self.bytes.tokens = (self.bytes.tokens + len).min(self.bytes.capacity);
            return false;
        }
        true
    }
}

/// The network a source counts as: its IPv4 address, or its IPv6 /64 (one subscriber's
/// prefix: addresses inside it cost an attacker nothing).
pub(super) fn source_network(addr: SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V4(ip) => IpAddr::V4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = ip.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Plain STUN answers per source network, with a total backstop.
#[derive(Debug)]
pub(super) struct StunLimiter {
    per_source: HashMap<IpAddr, TokenBucket>,
    total: TokenBucket,
}

impl StunLimiter {
    pub(super) fn new(now: Instant) -> Self {
        Self { per_source: HashMap::new(), total: TokenBucket::new(now, STUN_TOTAL, STUN_TOTAL) }
    }

    pub(super) fn admit(&mut self, now: Instant, source: SocketAddr) -> bool {
        let network = source_network(source);
        if !self.per_source.contains_key(&network) && self.per_source.len() >= STUN_MAX_SOURCES {
            self.per_source.retain(|_, b| !b.is_full(now));
            if self.per_source.len() >= STUN_MAX_SOURCES {
                return false;
            }
        }
        let bucket = self
            .per_source
            .entry(network)
            .or_insert_with(|| TokenBucket::new(now, STUN_PER_SOURCE, 2.0 * STUN_PER_SOURCE));
        if !bucket.take(now, 1.0) {
            return false;
        }
        self.total.take(now, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_peer_gets_its_channels_bitrate_and_no_more() {
        let t0 = Instant::now();
        let mut ingress = PeerIngress::new(t0, 64);
        // A well-behaved 64 kbps sender, 50 packets of 160 bytes a second, for 10 s.
        let mut refused = 0;
        for i in 0..500u64 {
            if !ingress.admit(t0 + Duration::from_millis(20 * i), 160) {
                refused += 1;
            }
        }
        assert_eq!(refused, 0);
        // A flood: 1000 packets of 1200 bytes a second for 2 s after that.
        let start = t0 + Duration::from_secs(10);
        let mut admitted_bytes = 0.0;
        for i in 0..2000u64 {
            if ingress.admit(start + Duration::from_millis(i), 1200) {
                admitted_bytes += 1200.0;
            }
        }
        let budget = PeerIngress::bytes_per_second(64);
        // What got through: two seconds of budget plus the burst allowance.
        assert!(admitted_bytes <= budget * (2.0 + PEER_BURST_SECONDS) + 1200.0, "{admitted_bytes}");
        // Many small packets hit the packet cap instead.
        let start = start + Duration::from_secs(10);
        let admitted = (0..1000u64)
            .filter(|i| ingress.admit(start + Duration::from_millis(*i), 20))
            .count() as f64;
        assert!(
            admitted <= PEER_PACKETS_PER_SECOND * (1.0 + PEER_BURST_SECONDS) + 1.0,
            "{admitted}"
        );
    }

    #[test]
    fn plain_stun_is_limited_per_source_network_not_globally() {
        let t0 = Instant::now();
        let mut limiter = StunLimiter::new(t0);
        let flooder: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let answered = (0..1000).filter(|_| limiter.admit(t0, flooder)).count();
        assert_eq!(answered, 10, "the burst, then nothing");
        // Someone else still gets answers.
        assert!(limiter.admit(t0, "198.51.100.2:5000".parse().unwrap()));
        // Every address of one IPv6 /64 is one source.
        let v6 = |i: u16| {
            SocketAddr::new(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, i, i, i, i).into(), 4000)
        };
        let answered = (0..1000).filter(|i| limiter.admit(t0, v6(*i))).count();
        assert_eq!(answered, 10);
        // Forged sources cannot grow the map without bound.
        for i in 0..10_000u32 {
            let addr = SocketAddr::new(std::net::Ipv4Addr::from(0x0A00_0000 + i).into(), 1);
            let _ = limiter.admit(t0, addr);
        }
        assert!(limiter.per_source.len() <= STUN_MAX_SOURCES);
    }
}
