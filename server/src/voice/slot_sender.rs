//! The relay's own sending of forwarded audio on a listener's slot streams: it writes the
//! RTP header and protects the packet with the session's SRTP keys ([`super::srtp`]),
//! straight into the relay's send buffer. str0m keeps the session (ICE, DTLS, RTCP,
//! everything received) but never sends on these streams: the relay numbers their packets,
//! so str0m sending one would reuse an SRTP nonce. [`SlotSender::is_slot_packet`] lets the
//! peer check every datagram str0m produces against that.

use std::sync::Arc;

use super::dtls_tap::{KeyTap, default_provider};
use super::srtp::{Profile, SrtpTx};

/// RFC 8285 one-byte header extensions.
const ONE_BYTE_PROFILE: [u8; 2] = [0xBE, 0xDE];
/// RTP version 2 in the first byte.
const RTP_V2: u8 = 0x80;
const RTP_X: u8 = 0x10;
const RTP_HEADER_LEN: usize = 12;

/// One slot's send stream as the session announced it.
#[derive(Debug, Clone, Copy)]
struct SlotStream {
    ssrc: u32,
    mid: [u8; 16],
    mid_len: u8,
}

/// A packet to send on a slot, in the slot's own timeline.
#[derive(Debug, Clone, Copy)]
pub(super) struct SlotPacket<'a> {
    pub(super) slot: usize,
    pub(super) pt: u8,
    pub(super) marker: bool,
    /// Extended sequence number: its bits above 16 are the SRTP rollover counter.
    pub(super) seq: u64,
    pub(super) time: u32,
    /// RFC 6464: level in -dBov (0 loudest, 127 silence) and the voice bit.
    pub(super) level: u8,
    pub(super) voice: bool,
    pub(super) payload: &'a [u8],
}

/// Why a packet was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotSent {
    /// The handshake has not handed over keys (or handed over unusable ones).
    NoKeys,
    /// The slot's stream is unknown, or the packet does not fit the buffer.
    Unwritable,
}

pub(super) struct SlotSender {
    tap: Arc<KeyTap>,
    /// The tap generation `srtp` was derived from.
    generation: u64,
    srtp: Option<SrtpTx>,
    slots: Vec<Option<SlotStream>>,
    level_id: Option<u8>,
    mid_id: Option<u8>,
    /// Packets and payload bytes sent, per slot (what a sender report would count).
    pub(super) sent: Vec<(u64, u64)>,
}

impl SlotSender {
    pub(super) fn new(tap: Arc<KeyTap>, slots: usize) -> Self {
        Self {
            tap,
            generation: 0,
            srtp: None,
            slots: vec![None; slots],
            level_id: None,
            mid_id: None,
            sent: vec![(0, 0); slots],
        }
    }

    /// The header extension ids the listener's answer agreed on (RFC 8285 one-byte ids,
    /// 1-14); others are left out.
    pub(super) fn set_extensions(&mut self, level_id: Option<u8>, mid_id: Option<u8>) {
        let valid = |id: Option<u8>| id.filter(|i| (1..=14).contains(i));
        self.level_id = valid(level_id);
        self.mid_id = valid(mid_id);
    }

    /// Records the SSRC and MID of a slot's send stream.
    pub(super) fn set_slot(&mut self, slot: usize, ssrc: u32, mid: &str) {
        let Some(entry) = self.slots.get_mut(slot) else { return };
        let mut bytes = [0u8; 16];
        let len = mid.len().min(16);
        bytes[..len].copy_from_slice(&mid.as_bytes()[..len]);
        *entry = Some(SlotStream { ssrc, mid: bytes, mid_len: len as u8 });
    }

    pub(super) fn has_slot(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(Option::is_some)
    }

    /// Whether `ssrc` is one of our slot streams.
    pub(super) fn carries(&self, ssrc: u32) -> bool {
        self.slots.iter().flatten().any(|s| s.ssrc == ssrc)
    }

    /// Whether `datagram` is an RTP packet (not RTCP, RFC 5761 4) on one of our slot
    /// streams.
    pub(super) fn is_slot_packet(&self, datagram: &[u8]) -> bool {
        if datagram.len() < RTP_HEADER_LEN || !(128..=191).contains(&datagram[0]) {
            return false;
        }
        if (64..=95).contains(&(datagram[1] & 0x7F)) {
            return false;
        }
        self.carries(u32::from_be_bytes([datagram[8], datagram[9], datagram[10], datagram[11]]))
    }

    /// Derives the session keys again when the handshake handed over new ones.
    fn refresh_keys(&mut self) {
        if self.tap.generation() == self.generation {
            return;
        }
        let Some((generation, keys)) = self.tap.keys() else { return };
        self.generation = generation;
        tracing::debug!(profile = %keys.profile, "SRTP keys for the relay's own egress");
        self.srtp = Profile::from_dtls(keys.profile).and_then(|profile| {
            SrtpTx::from_dtls(default_provider(), profile, &keys.material, keys.active)
                .inspect_err(|e| tracing::warn!(error = %e, "unusable SRTP keys"))
                .ok()
        });
    }

    /// Writes `packet` as SRTP into `out`; returns its length.
    pub(super) fn write(
        &mut self,
        packet: &SlotPacket<'_>,
        out: &mut [u8],
    ) -> Result<usize, NotSent> {
        self.refresh_keys();
        let srtp = self.srtp.as_mut().ok_or(NotSent::NoKeys)?;
        let stream = self.slots.get(packet.slot).copied().flatten().ok_or(NotSent::Unwritable)?;
        let header_len = write_header(out, packet, &stream, self.level_id, self.mid_id)
            .ok_or(NotSent::Unwritable)?;
        let len = srtp
            .protect(out, header_len, packet.payload, stream.ssrc, packet.seq)
            .map_err(|_| NotSent::Unwritable)?;
        if let Some(sent) = self.sent.get_mut(packet.slot) {
            sent.0 += 1;
            sent.1 += packet.payload.len() as u64;
        }
        Ok(len)
    }
}

/// Writes the RTP header (RFC 3550 5.1) with the audio level (RFC 6464) and MID
/// (RFC 8843) extensions in the one-byte form (RFC 8285); returns its length, or `None`
/// if `out` is too small.
fn write_header(
    out: &mut [u8],
    packet: &SlotPacket<'_>,
    stream: &SlotStream,
    level_id: Option<u8>,
    mid_id: Option<u8>,
) -> Option<usize> {
    let mid_len = usize::from(stream.mid_len);
    let level_bytes = if level_id.is_some() { 2 } else { 0 };
    let mid_bytes = if mid_id.is_some() && mid_len > 0 { 1 + mid_len } else { 0 };
    let ext_body = (level_bytes + mid_bytes).div_ceil(4) * 4;
    let header_len = RTP_HEADER_LEN + if ext_body > 0 { 4 + ext_body } else { 0 };
    if out.len() < header_len {
        return None;
    }
    out[0] = RTP_V2 | if ext_body > 0 { RTP_X } else { 0 };
    out[1] = (u8::from(packet.marker) << 7) | (packet.pt & 0x7F);
    out[2..4].copy_from_slice(&(packet.seq as u16).to_be_bytes());
    out[4..8].copy_from_slice(&packet.time.to_be_bytes());
    out[8..12].copy_from_slice(&stream.ssrc.to_be_bytes());
    if ext_body == 0 {
        return Some(header_len);
    }
    out[12..14].copy_from_slice(&ONE_BYTE_PROFILE);
    out[14..16].copy_from_slice(&((ext_body / 4) as u16).to_be_bytes());
    let mut at = 16;
    if let Some(id) = level_id {
        out[at] = id << 4;
        out[at + 1] = (u8::from(packet.voice) << 7) | packet.level.min(127);
        at += 2;
    }
    if let Some(id) = mid_id
        && mid_len > 0
    {
        out[at] = (id << 4) | (mid_len as u8 - 1);
        out[at + 1..at + 1 + mid_len].copy_from_slice(&stream.mid[..mid_len]);
        at += 1 + mid_len;
    }
    // Padding bytes are zero (RFC 8285 4.2).
    out[at..header_len].fill(0);
    Some(header_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_carries_level_voice_and_mid_in_one_byte_extensions() {
        let stream =
            SlotStream { ssrc: 0x0102_0304, mid: *b"1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", mid_len: 1 };
        let packet = SlotPacket {
            slot: 0,
            pt: 111,
            marker: true,
            seq: (3 << 16) | 0xABCD,
            time: 0xDEAD_BEEF,
            level: 30,
            voice: true,
            payload: &[],
        };
        let mut out = [0xFFu8; 64];
        let len = write_header(&mut out, &packet, &stream, Some(1), Some(4)).unwrap();
        assert_eq!(
            out[..len],
            [
                0x90,
                0x80 | 111,
                0xAB,
                0xCD,
                0xDE,
                0xAD,
                0xBE,
                0xEF,
                1,
                2,
                3,
                4, // fixed header
                0xBE,
                0xDE,
                0,
                1, // one word of extensions
                0x10,
                0x80 | 30,
                0x40,
                b'1', // level with V, then the MID
            ]
        );
        let bare = write_header(&mut out, &packet, &stream, None, None).unwrap();
        assert_eq!((bare, out[0]), (12, 0x80));
    }

    #[test]
    fn only_rtp_on_a_slot_stream_counts_as_a_slot_packet() {
        let mut sender = SlotSender::new(Arc::new(KeyTap::default()), 2);
        sender.set_slot(1, 42, "2");
        let mut rtp = [0u8; 20];
        rtp[0] = 0x80;
        rtp[1] = 111;
        rtp[8..12].copy_from_slice(&42u32.to_be_bytes());
        assert!(sender.is_slot_packet(&rtp));
        // A sender report (PT 200) naming the same SSRC is RTCP, str0m's to send.
        let mut sr = rtp;
        sr[1] = 200;
        assert!(!sender.is_slot_packet(&sr));
        rtp[8..12].copy_from_slice(&43u32.to_be_bytes());
        assert!(!sender.is_slot_packet(&rtp));
    }
}
