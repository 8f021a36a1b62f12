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
//! cannot complete unless the peer reads it.
//!
//! The first address needs no check of its own: a DTLS handshake whose every flight went
//! to one address, and which the peer then completed, proves the peer reads that address
//! (its Finished message depends on what we sent there). Only a later proposal is
//! checked. Checks are not repeated while an address keeps working: str0m's ICE agent
//! (our desktop client) counts a received check as a sign of life for 15 s, so periodic
//! checks from the relay would keep a dead path looking alive on the client and delay its
//! rejoin after a network change (e2e/tests/voice_rejoin.rs). A peer that goes away ends
//! by ICE timing out, as before.
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
/// DTLS bytes the session may send to an address nobody confirmed yet: a handshake with
/// retransmissions is a few kilobytes.
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
    /// Where the handshake's records went, while it is one address; `split` once they
    /// went to more than one (then the first address is checked like any other).
    handshake_to: Option<SocketAddr>,
    split: bool,
    /// The check of the newest address str0m proposed, if any.
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
            handshake_to: None,
            split: false,
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
    /// `handshake`: it is a DTLS record, which may go to an address not yet confirmed
    /// within a budget (media, SRTP and SRTCP, never does).
    pub(super) fn route(
        &mut self,
        now: Instant,
        wanted: SocketAddr,
        handshake: bool,
        len: usize,
    ) -> Route {
        self.expire(now);
        if self.confirmed == Some(wanted) {
            return Route::To(wanted);
        }
        if self.confirmed.is_none() && handshake {
            match self.handshake_to {
                None => self.handshake_to = Some(wanted),
                Some(to) if to != wanted => self.split = true,
                Some(_) => {}
            }
        }
        // The handshake's own address is confirmed by its completion, not by a check.
        if self.confirmed.is_some() || self.split || self.handshake_to != Some(wanted) {
            self.propose(now, wanted);
        }
        if let Some(confirmed) = self.confirmed {
            return Route::To(confirmed);
        }
        // The handshake's last flight leaves after str0m counts the session connected; it
        // must not wait for the check (the client would retransmit a second later).
        if handshake && self.handshake_bytes + len <= HANDSHAKE_BUDGET {
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
        self.refused.retain(|(_, until)| now < *until);
    }

    /// The session's DTLS handshake completed: if all of it went to one address, the
    /// peer reads that address, and media may go there.
    pub(super) fn handle_connected(&mut self) {
        if self.confirmed.is_none() && !self.split {
            self.confirmed = self.handshake_to;
        }
    }

    /// The next check to send, `(destination, datagram)`; call until `None`.
    pub(super) fn poll_probe(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.expire(now);
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
            return self.poll_probe(now);
        }
        out
    }

    /// When [`Self::poll_probe`] has something to send next.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.probes.iter().map(|p| p.next_send).min()
    }

    /// A STUN message from `source`; true when it answered one of our checks (then it is
    /// ours and not the session's). An answer confirms the address: media goes there.
    pub(super) fn handle_response(&mut self, source: SocketAddr, data: &[u8]) -> bool {
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

    const HANDSHAKE: bool = true;
    const MEDIA: bool = false;

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
        // The handshake goes to the first address, without a check of its own.
        assert_eq!(c.route(t0, real, HANDSHAKE, 1200), Route::To(real));
        assert!(c.poll_probe(t0).is_none(), "the handshake is the proof");
        // Not yet complete: no media anywhere.
        assert_eq!(c.route(t0, real, MEDIA, 100), Route::Drop);
        c.handle_connected();
        assert_eq!(c.route(t0, real, MEDIA, 100), Route::To(real));
        assert_eq!(c.confirmed(), Some(real));

        // A forged nomination from the victim's address: media stays with the real client.
        assert_eq!(c.route(t0, victim, MEDIA, 100), Route::To(real));
        let (to, check) = c.poll_probe(t0).expect("the proposal is checked");
        assert_eq!(to, victim);
        // A forged answer from the wrong source, or tampered with, confirms nothing.
        let forged = answer(&check, "clientpasswordclientpass");
        assert!(!c.handle_response(real, &forged));
        let mut tampered = forged.clone();
        tampered[8] ^= 1;
        assert!(!c.handle_response(victim, &tampered));
        // The victim never answers: a few checks, then nothing for REFUSED_HOLD.
        let mut now = t0;
        let mut to_victim = 1;
        while now.duration_since(t0) < Duration::from_secs(15) {
            now += PROBE_RESEND;
            while let Some((to, _)) = c.poll_probe(now) {
                assert_eq!(to, victim, "the working address is not checked again");
                to_victim += 1;
            }
            assert_eq!(c.route(now, victim, MEDIA, 100), Route::To(real));
        }
        assert_eq!(to_victim, PROBE_SENDS, "checks of a silent address are bounded");
    }

    #[test]
    fn a_handshake_split_between_addresses_proves_nothing() {
        let t0 = Instant::now();
        let real: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let victim: SocketAddr = "198.51.100.7:80".parse().unwrap();
        let mut c = Consent::new(creds());
        assert_eq!(c.route(t0, real, HANDSHAKE, 1200), Route::To(real));
        // Nomination moved before the last flight: that flight may go, media may not.
        assert_eq!(c.route(t0, victim, HANDSHAKE, 100), Route::To(victim));
        c.handle_connected();
        assert_eq!(c.route(t0, victim, MEDIA, 100), Route::Drop);
        assert_eq!(c.poll_probe(t0).map(|(to, _)| to), Some(victim));
    }

    #[test]
    fn a_new_address_that_answers_takes_over() {
        let t0 = Instant::now();
        let old: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let new: SocketAddr = "192.0.2.1:6000".parse().unwrap();
        let mut c = Consent::new(creds());
        let _ = c.route(t0, old, HANDSHAKE, 100);
        c.handle_connected();
        // NAT rebinding: the client's checks now come from a new port and it answers ours.
        assert_eq!(c.route(t0, new, MEDIA, 100), Route::To(old));
        let (to, check) = c.poll_probe(t0).unwrap();
        assert_eq!(to, new);
        assert!(c.handle_response(new, &answer(&check, "clientpasswordclientpass")));
        assert_eq!(c.route(t0, new, MEDIA, 100), Route::To(new));
        assert!(c.poll_probe(t0 + Duration::from_secs(60)).is_none(), "no periodic checks");
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
