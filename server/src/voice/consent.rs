//! Consent before media follows a peer to a new address (RFC 7675, done by the relay
//! itself). Security review M3.
//!
//! The relay is ICE-lite: str0m answers the client's checks and sends media to the best
//! pair the client nominated. A participant knows every credential of its own session, so
//! it can forge a nominating check from any source address (a victim's, spoofed) and str0m
//! would stream the room's audio there. Authenticated SRTP from the new address proves
//! nothing either: the participant holds its own SRTP keys too. What a spoofing sender
//! cannot do is read what is sent to the address it names. So the relay decides where
//! media goes: only to an address that answered the relay's own STUN Binding request,
//! whose 96-bit random transaction ID only a reader of that address can echo. str0m's
//! choice merely proposes an address; until the proposal answers, media keeps going to the
//! address that did (the real client keeps hearing), or, before any did, nowhere. The
//! DTLS handshake may go to a not-yet-confirmed address within a small budget, since it
//! cannot complete unless the peer reads it, and it runs in parallel with the check.
//!
//! The confirmed address is checked again every [`FRESH_EVERY`]; without an answer for
//! [`CONSENT_LIFETIME`] media stops, as RFC 7675 asks (a peer that went away must not
//! leave its stream pointed at whoever gets its address next).
//!
//! Sans-IO like the sessions: the peer asks [`Consent::route`] where each datagram goes,
//! sends what [`Consent::poll_probe`] yields, and hands STUN responses to
//! [`Consent::handle_response`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::ice::StunMessage;

use super::stun;

/// Resend an unanswered check this often (a lost datagram costs half a second)…
const PROBE_RESEND: Duration = Duration::from_millis(500);
/// …this many times in all before the address counts as refusing.
const PROBE_SENDS: u32 = 6;
/// An address that did not answer is not checked again for this long, so a forged
/// nomination repeated every few seconds costs the address it names a handful of small
/// checks a minute, not a stream.
const REFUSED_HOLD: Duration = Duration::from_secs(30);
/// How often the confirmed address is checked again.
pub(super) const FRESH_EVERY: Duration = Duration::from_secs(5);
/// Media stops when the confirmed address has not answered for this long (RFC 7675).
pub(super) const CONSENT_LIFETIME: Duration = Duration::from_secs(30);
/// Bytes the session may send to an address nobody confirmed yet, before it is connected:
/// a DTLS handshake with retransmissions is a few kilobytes.
const HANDSHAKE_BUDGET: usize = 32 * 1024;
/// Addresses remembered as refusing, per peer.
const MAX_REFUSED: usize = 4;

/// The session's ICE credentials, as the offer and answer carry them.
#[derive(Debug, Clone)]
pub(super) struct Credentials {
    /// The client's ufrag and password: our checks are addressed and signed with them.
    pub remote_ufrag: String,
    pub remote_pwd: String,
    /// The relay's ufrag for this session.
    pub local_ufrag: String,
}

impl Credentials {
    /// Reads `a=ice-ufrag` / `a=ice-pwd` from the client's offer and our answer.
    pub(super) fn from_sdp(offer: &str, answer: &str) -> Option<Self> {
        let attr = |sdp: &str, name: &str| {
            sdp.lines()
                .find_map(|l| l.trim_end().strip_prefix(name).map(str::to_owned))
                .filter(|v| !v.is_empty())
        };
        Some(Self {
            remote_ufrag: attr(offer, "a=ice-ufrag:")?,
            remote_pwd: attr(offer, "a=ice-pwd:")?,
            local_ufrag: attr(answer, "a=ice-ufrag:")?,
        })
    }
}

#[derive(Debug, Clone)]
struct Probe {
    to: SocketAddr,
    transaction: [u8; 12],
    sends: u32,
    next_send: Instant,
}

/// Where one peer's media may go. See the module docs.
#[derive(Debug)]
pub(super) struct Consent {
    creds: Credentials,
    confirmed: Option<SocketAddr>,
    /// When the confirmed address last answered.
    answered_at: Option<Instant>,
    /// At most two checks at a time: the confirmed address's freshness and the newest
    /// address str0m proposed.
    probes: Vec<Probe>,
    refused: Vec<(SocketAddr, Instant)>,
    handshake_bytes: usize,
    /// Datagrams held back from an unconfirmed address, for the drop counter.
    pub(super) withheld: u64,
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    To(SocketAddr),
    Drop,
}

impl Consent {
    pub(super) fn new(creds: Credentials) -> Self {
        Self {
            creds,
            confirmed: None,
            answered_at: None,
            probes: Vec::new(),
            refused: Vec::new(),
            handshake_bytes: 0,
            withheld: 0,
        }
    }

    pub(super) fn local_ufrag(&self) -> &str {
        &self.creds.local_ufrag
    }

    /// The address media goes to now, if any.
    pub(super) fn confirmed(&self) -> Option<SocketAddr> {
        self.confirmed
    }

    /// Where a non-STUN datagram of `len` bytes that str0m addressed to `wanted` goes.
    /// `connected`: the session's DTLS is up (media may flow).
    pub(super) fn route(
        &mut self,
        now: Instant,
        wanted: SocketAddr,
        connected: bool,
        len: usize,
    ) -> Route {
        self.expire(now);
        if self.confirmed == Some(wanted) {
            return Route::To(wanted);
        }
        self.propose(now, wanted);
        if let Some(confirmed) = self.confirmed {
            return Route::To(confirmed);
        }
        if !connected && self.handshake_bytes + len <= HANDSHAKE_BUDGET {
            self.handshake_bytes += len;
            return Route::To(wanted);
        }
        self.withheld += 1;
        Route::Drop
    }

    /// Starts checking `addr` unless it is being checked or refused lately.
    fn propose(&mut self, now: Instant, addr: SocketAddr) {
        if self.probes.iter().any(|p| p.to == addr)
            || self.refused.iter().any(|(a, until)| *a == addr && now < *until)
        {
            return;
        }
        // Only the newest proposal is worth checking; the freshness check stays.
        self.probes.retain(|p| Some(p.to) == self.confirmed);
        self.probes.push(Probe::new(now, addr));
    }

    fn expire(&mut self, now: Instant) {
        if let Some(at) = self.answered_at
            && now.saturating_duration_since(at) > CONSENT_LIFETIME
        {
            tracing::debug!(addr = ?self.confirmed, "voice consent expired");
            self.confirmed = None;
            self.answered_at = None;
        }
        self.refused.retain(|(_, until)| now < *until);
    }

    /// The next check to send, `(destination, datagram)`; call until `None`.
    pub(super) fn poll_probe(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.expire(now);
        // Freshness: a new check of the confirmed address every FRESH_EVERY.
        if let (Some(confirmed), Some(at)) = (self.confirmed, self.answered_at)
            && now.saturating_duration_since(at) >= FRESH_EVERY
            && !self.probes.iter().any(|p| p.to == confirmed)
        {
            self.probes.push(Probe::new(now, confirmed));
        }
        let mut gave_up = None;
        let mut out = None;
        for (i, probe) in self.probes.iter_mut().enumerate() {
            if now < probe.next_send {
                continue;
            }
            if probe.sends >= PROBE_SENDS {
                gave_up = Some(i);
                break;
            }
            probe.sends += 1;
            probe.next_send = now + PROBE_RESEND;
            out = stun::consent_request(
                &probe.transaction,
                &self.creds.remote_ufrag,
                &self.creds.local_ufrag,
                self.creds.remote_pwd.as_bytes(),
                sha1_hmac,
            )
            .map(|bytes| (probe.to, bytes));
            break;
        }
        if let Some(i) = gave_up {
            let probe = self.probes.remove(i);
            if Some(probe.to) != self.confirmed {
                if self.refused.len() >= MAX_REFUSED {
                    self.refused.remove(0);
                }
                self.refused.push((probe.to, now + REFUSED_HOLD));
            }
            // The confirmed address just stays until its consent expires.
            return self.poll_probe(now);
        }
        out
    }

    /// When [`Self::poll_probe`] has something to send next.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        let resend = self.probes.iter().map(|p| p.next_send).min();
        // Not while the freshness check is out: its resends are in `resend`.
        let fresh = match (self.confirmed, self.answered_at) {
            (Some(c), Some(at)) if !self.probes.iter().any(|p| p.to == c) => Some(at + FRESH_EVERY),
            _ => None,
        };
        match (resend, fresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A STUN message from `source`; true when it answered one of our checks (then it is
    /// ours and not the session's). An answer confirms the address: media goes there.
    pub(super) fn handle_response(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Some(transaction) = data.get(8..20) else { return false };
        let Some(i) =
            self.probes.iter().position(|p| p.to == source && p.transaction == transaction)
        else {
            return false;
        };
        let Ok(message) = StunMessage::parse(data) else { return false };
        if !message.is_successful_binding_response()
            || !message.verify(self.creds.remote_pwd.as_bytes(), sha1_hmac)
        {
            return false;
        }
        self.probes.remove(i);
        if self.confirmed != Some(source) {
            tracing::debug!(from = ?self.confirmed, to = %source, "voice media follows the peer");
        }
        self.confirmed = Some(source);
        self.answered_at = Some(now);
        self.refused.retain(|(a, _)| *a != source);
        // A proposal older than this answer is moot.
        self.probes.retain(|p| p.to == source);
        true
    }
}

impl Probe {
    fn new(now: Instant, to: SocketAddr) -> Self {
        let mut transaction = [0u8; 12];
        // Unpredictable: the transaction ID is the proof that the answer came from a
        // reader of the address.
        rand::fill(&mut transaction);
        Self { to, transaction, sends: 0, next_send: now }
    }
}

fn sha1_hmac(key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
    hmac_provider().sha1_hmac(key, payloads)
}

fn hmac_provider() -> &'static dyn str0m::crypto::Sha1HmacProvider {
    static PROVIDER: std::sync::OnceLock<str0m::crypto::CryptoProvider> =
        std::sync::OnceLock::new();
    PROVIDER.get_or_init(str0m::crypto::from_feature_flags).sha1_hmac_provider
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            remote_ufrag: "client".into(),
            remote_pwd: "clientpasswordclientpass".into(),
            local_ufrag: "relay".into(),
        }
    }

    /// What a client's ICE agent answers to a check: a success response with the same
    /// transaction, signed with its own password.
    fn answer(request: &[u8], pwd: &str) -> Vec<u8> {
        let message = StunMessage::parse(request).expect("our check parses");
        assert!(message.is_binding_request());
        assert_eq!(message.username(), Some("client:relay"));
        assert!(message.verify(pwd.as_bytes(), sha1_hmac), "signed with the client's pwd");
        let reply = StunMessage::binding_reply(message.trans_id(), "127.0.0.1:1".parse().unwrap());
        let mut buf = vec![0u8; 256];
        let n = reply.to_bytes(Some(pwd.as_bytes()), &mut buf, sha1_hmac).expect("fits");
        buf.truncate(n);
        buf
    }

    #[test]
    fn media_follows_only_an_address_that_answered() {
        let t0 = Instant::now();
        let real: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let victim: SocketAddr = "198.51.100.7:80".parse().unwrap();
        let mut c = Consent::new(creds());
        // Handshake to the first proposal, in parallel with its check.
        assert_eq!(c.route(t0, real, false, 1200), Route::To(real));
        let (to, check) = c.poll_probe(t0).expect("a check");
        assert_eq!(to, real);
        assert!(c.poll_probe(t0).is_none(), "one check at a time per address");
        // Connected, not confirmed: no media anywhere.
        assert_eq!(c.route(t0, real, true, 100), Route::Drop);
        assert!(c.handle_response(t0, real, &answer(&check, "clientpasswordclientpass")));
        assert_eq!(c.route(t0, real, true, 100), Route::To(real));

        // A forged nomination from the victim's address: media stays with the real client.
        assert_eq!(c.route(t0, victim, true, 100), Route::To(real));
        let (to, check) = c.poll_probe(t0).expect("the proposal is checked");
        assert_eq!(to, victim);
        // A forged answer from the wrong source, or signed wrongly, confirms nothing.
        let forged = answer(&check, "clientpasswordclientpass");
        assert!(!c.handle_response(t0, real, &forged));
        let mut tampered = forged.clone();
        tampered[8] ^= 1;
        assert!(!c.handle_response(t0, victim, &tampered));
        // The victim never answers: a few checks, then nothing for REFUSED_HOLD.
        let mut now = t0;
        let mut to_victim = 1;
        for _ in 0..40 {
            now += PROBE_RESEND;
            while let Some((to, _)) = c.poll_probe(now) {
                if to == victim {
                    to_victim += 1;
                }
            }
            let _ = c.route(now, victim, true, 100);
            if now.duration_since(t0) > Duration::from_secs(15) {
                break;
            }
        }
        assert_eq!(to_victim, PROBE_SENDS, "checks of a silent address are bounded");
    }

    #[test]
    fn consent_expires_without_answers_and_a_new_address_takes_over() {
        let t0 = Instant::now();
        let old: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let new: SocketAddr = "192.0.2.1:6000".parse().unwrap();
        let mut c = Consent::new(creds());
        let _ = c.route(t0, old, false, 100);
        let (_, check) = c.poll_probe(t0).unwrap();
        assert!(c.handle_response(t0, old, &answer(&check, "clientpasswordclientpass")));
        // NAT rebinding: the client's checks now come from a new port and it answers ours.
        assert_eq!(c.route(t0, new, true, 100), Route::To(old));
        let (to, check) = c.poll_probe(t0).unwrap();
        assert_eq!(to, new);
        assert!(c.handle_response(t0, new, &answer(&check, "clientpasswordclientpass")));
        assert_eq!(c.route(t0, new, true, 100), Route::To(new));
        // Then silence: freshness checks go unanswered and consent ends.
        let later = t0 + CONSENT_LIFETIME + Duration::from_secs(1);
        let mut now = t0;
        while now < later {
            now += PROBE_RESEND;
            while c.poll_probe(now).is_some() {}
        }
        assert_eq!(c.route(later, new, true, 100), Route::Drop);
    }

    #[test]
    fn credentials_come_from_offer_and_answer() {
        let offer = "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:secretsecretsecretsecret\r\n";
        let answer = "v=0\r\na=ice-ufrag:wxyz\r\na=ice-pwd:relaypwd\r\n";
        let c = Credentials::from_sdp(offer, answer).expect("found");
        assert_eq!((c.remote_ufrag.as_str(), c.local_ufrag.as_str()), ("abcd", "wxyz"));
        assert_eq!(c.remote_pwd, "secretsecretsecretsecret");
        assert!(Credentials::from_sdp("v=0\r\n", answer).is_none());
    }
}
