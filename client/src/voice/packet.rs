//! Voice packets as the engine hands them around: an Opus packet with its place in the
//! sender's stream and the copies of earlier packets it carries again (see `redundancy`),
//! and the two forms they take on a network.
//!
//! - On WebRTC (what calls use): RTP with the Opus payload type, or, when the packet
//!   carries copies and the far end negotiated it, RFC 2198 `audio/red` over Opus
//!   (`auraspeak_shared::red`, the format the relay reads and writes too). Sequence number
//!   and timestamp ride in the RTP header ([`EncodedPacket::to_rtp_payload`],
//!   [`EncodedPacket::from_rtp`]).
//!
//! The engine's own datagram format ([`EncodedPacket::to_bytes`],
//! [`EncodedPacket::from_bytes`]), which the in-memory network of the tests and the
//! quality measurements carries:
//!
//! ```text
//! byte 0      version (high 4 bits, = 1) | number of redundant blocks N (low 4 bits, ≤ 3)
//! bytes 1–2   sequence number, big endian
//! bytes 3–6   timestamp (48 kHz samples), big endian
//! N × 5 bytes per redundant block, oldest first:
//!             sequence offset back (u8, ≥ 1), timestamp offset back (u16), length (u16)
//! then        the N redundant Opus payloads in the same order, then the primary payload
//! ```
//!
//! Offsets rather than absolute values keep the header small (7 + 5 N bytes) and make a copy
//! that claims to come from the future unrepresentable.

use auraspeak_shared::red;

use crate::error::{Error, Result};

/// An Opus packet with its position in the sender's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    /// Increments by one (wrapping) for every packet sent.
    pub sequence: u16,
    /// Capture time of the first sample, in 48 kHz samples (wrapping). Jumps forward over
    /// periods in which nothing was sent (gate closed, DTX).
    pub timestamp: u32,
    /// The Opus packet.
    pub payload: Vec<u8>,
    /// Earlier packets carried again, oldest first, so the receiver can play them if they
    /// were lost (see `redundancy`). Empty unless the encoder's redundancy is on.
    pub redundant: Vec<RedundantFrame>,
}

/// The most redundant blocks a datagram may hold; one more than we send, so a later version
/// may go deeper without old receivers rejecting its packets.
const MAX_BLOCKS: usize = 3;
const VERSION: u8 = 1;
const HEADER_BYTES: usize = 7;
const BLOCK_HEADER_BYTES: usize = 5;
/// RFC 6716: no Opus frame is longer than 1275 bytes, so neither is a sane payload.
const MAX_OPUS_BYTES: usize = 1275;
/// A copy older than this is too late to help any jitter buffer; not worth its bytes.
pub(crate) const MAX_COPY_AGE_SAMPLES: u32 = 4800;

/// An earlier packet carried again inside a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedundantFrame {
    /// The earlier packet's sequence number.
    pub sequence: u16,
    /// The earlier packet's timestamp.
    pub timestamp: u32,
    /// The earlier packet's Opus payload, unchanged.
    pub payload: Vec<u8>,
}

impl EncodedPacket {
    /// A packet without redundant copies.
    pub fn new(sequence: u16, timestamp: u32, payload: Vec<u8>) -> Self {
        Self { sequence, timestamp, payload, redundant: Vec::new() }
    }

    /// The datagram for this packet (format in the module docs). Copies that cannot be
    /// expressed (too many, too far back, oversized) are left out rather than failing:
    /// they are an optional extra.
    pub fn to_bytes(&self) -> Vec<u8> {
        let blocks: Vec<(u8, u16, &RedundantFrame)> = self
            .redundant
            .iter()
            .filter_map(|r| {
                let back = u8::try_from(self.sequence.wrapping_sub(r.sequence)).ok()?;
                let age = u16::try_from(self.timestamp.wrapping_sub(r.timestamp)).ok()?;
                let fits = back >= 1 && !r.payload.is_empty() && r.payload.len() <= MAX_OPUS_BYTES;
                fits.then_some((back, age, r))
            })
            .take(MAX_BLOCKS)
            .collect();
        let body: usize = blocks.iter().map(|(_, _, r)| r.payload.len()).sum();
        let mut out = Vec::with_capacity(
            HEADER_BYTES + BLOCK_HEADER_BYTES * blocks.len() + body + self.payload.len(),
        );
        // `blocks.len()` ≤ MAX_BLOCKS = 3, so it fits the low nibble.
        #[allow(clippy::cast_possible_truncation)]
        out.push(VERSION << 4 | blocks.len() as u8);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        for (back, age, r) in &blocks {
            out.push(*back);
            out.extend_from_slice(&age.to_be_bytes());
            // Checked above: ≤ 1275 bytes.
            #[allow(clippy::cast_possible_truncation)]
            out.extend_from_slice(&(r.payload.len() as u16).to_be_bytes());
        }
        for (_, _, r) in &blocks {
            out.extend_from_slice(&r.payload);
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// Parses a datagram. Anything malformed is an error, never a panic; whether the
    /// payloads are valid Opus is for the decoder to say.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |reason: &'static str| Error::InvalidVoicePacket { reason };
        let header = bytes.get(..HEADER_BYTES).ok_or(bad("shorter than its header"))?;
        if header[0] >> 4 != VERSION {
            return Err(bad("unknown version"));
        }
        let count = usize::from(header[0] & 0x0f);
        if count > MAX_BLOCKS {
            return Err(bad("too many redundant blocks"));
        }
        let sequence = u16::from_be_bytes([header[1], header[2]]);
        let timestamp = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        let blocks_end = HEADER_BYTES + BLOCK_HEADER_BYTES * count;
        let block_headers =
            bytes.get(HEADER_BYTES..blocks_end).ok_or(bad("truncated block headers"))?;
        let mut at = blocks_end;
        let mut redundant = Vec::with_capacity(count);
        for h in block_headers.chunks_exact(BLOCK_HEADER_BYTES) {
            let back = h[0];
            let age = u16::from_be_bytes([h[1], h[2]]);
            let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
            if back == 0 || len == 0 || len > MAX_OPUS_BYTES {
                return Err(bad("invalid redundant block header"));
            }
            let payload = bytes.get(at..at + len).ok_or(bad("truncated redundant block"))?;
            at += len;
            redundant.push(RedundantFrame {
                sequence: sequence.wrapping_sub(u16::from(back)),
                timestamp: timestamp.wrapping_sub(u32::from(age)),
                payload: payload.to_vec(),
            });
        }
        let payload = bytes.get(at..).unwrap_or_default();
        if payload.is_empty() || payload.len() > MAX_OPUS_BYTES {
            return Err(bad("primary payload empty or oversized"));
        }
        Ok(Self { sequence, timestamp, payload: payload.to_vec(), redundant })
    }
}

/// The payload types of a WebRTC session's Opus and (if negotiated) its RED wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPayloadTypes {
    pub opus: u8,
    pub red: Option<u8>,
}

impl EncodedPacket {
    /// The RTP payload type and payload for this packet: RED when it carries copies and
    /// the session negotiated RED, else the Opus packet alone, so a loss-free link (no
    /// copies) costs not a byte more than plain Opus.
    pub fn to_rtp_payload(&self, types: RtpPayloadTypes, out: &mut Vec<u8>) -> u8 {
        match types.red {
            Some(red_pt) if !self.redundant.is_empty() => {
                let blocks: Vec<red::Block<'_>> = self
                    .redundant
                    .iter()
                    .map(|r| red::Block {
                        pt: types.opus,
                        timestamp_offset: self.timestamp.wrapping_sub(r.timestamp),
                        data: &r.payload,
                    })
                    .collect();
                red::write(types.opus, &self.payload, &blocks, out);
                red_pt
            }
            _ => {
                out.clear();
                out.extend_from_slice(&self.payload);
                types.opus
            }
        }
    }

    /// The packet an RTP packet carries: Opus as it is, or a RED payload unwrapped with
    /// each copy placed at the sequence number its timestamp offset says (copies that
    /// cannot be placed, or of another codec, are dropped). `None` for another payload
    /// type or a malformed RED payload.
    pub fn from_rtp(
        types: RtpPayloadTypes,
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
    ) -> Option<Self> {
        if payload_type == types.opus {
            return (!payload.is_empty()).then(|| Self::new(sequence, timestamp, payload.to_vec()));
        }
        if Some(payload_type) != types.red {
            return None;
        }
        let parsed = red::parse(payload)?;
        if parsed.primary_pt != types.opus {
            return None;
        }
        let redundant = parsed
            .redundant
            .iter()
            .filter(|b| b.pt == types.opus && b.timestamp_offset <= MAX_COPY_AGE_SAMPLES)
            .filter_map(|b| {
                let back = red::sequence_back(b)?;
                Some(RedundantFrame {
                    sequence: sequence.wrapping_sub(back),
                    timestamp: timestamp.wrapping_sub(b.timestamp_offset),
                    payload: b.data.to_vec(),
                })
            })
            .collect();
        Some(Self { sequence, timestamp, payload: parsed.primary.to_vec(), redundant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: RtpPayloadTypes = RtpPayloadTypes { opus: 111, red: Some(63) };

    fn opus_20ms(fill: u8) -> Vec<u8> {
        let mut p = vec![fill; 30];
        p[0] = 31 << 3;
        p
    }

    fn with_copies() -> EncodedPacket {
        let mut p = EncodedPacket::new(10, 96_000, opus_20ms(3));
        p.redundant = vec![
            RedundantFrame { sequence: 8, timestamp: 96_000 - 1920, payload: opus_20ms(1) },
            RedundantFrame { sequence: 9, timestamp: 96_000 - 960, payload: opus_20ms(2) },
        ];
        p
    }

    #[test]
    fn copies_cross_rtp_as_red_and_come_back_in_place() {
        let p = with_copies();
        let mut out = Vec::new();
        assert_eq!(p.to_rtp_payload(TYPES, &mut out), 63);
        let back = EncodedPacket::from_rtp(TYPES, 63, 10, 96_000, &out).expect("parses");
        assert_eq!(back, p);
    }

    #[test]
    fn without_copies_or_without_red_the_opus_packet_goes_alone() {
        let mut out = Vec::new();
        let plain = EncodedPacket::new(10, 0, opus_20ms(3));
        assert_eq!(plain.to_rtp_payload(TYPES, &mut out), 111);
        assert_eq!(out, plain.payload);
        let no_red = RtpPayloadTypes { opus: 111, red: None };
        assert_eq!(with_copies().to_rtp_payload(no_red, &mut out), 111);
        assert_eq!(out, plain.payload);
        assert_eq!(EncodedPacket::from_rtp(TYPES, 111, 10, 0, &out), Some(plain));
    }

    #[test]
    fn foreign_payloads_and_misplaced_copies_are_refused_or_dropped() {
        assert_eq!(EncodedPacket::from_rtp(TYPES, 0, 1, 0, &[1, 2]), None);
        assert_eq!(EncodedPacket::from_rtp(TYPES, 111, 1, 0, &[]), None);
        assert_eq!(EncodedPacket::from_rtp(TYPES, 63, 1, 0, &[0x80 | 111]), None);
        // A copy of another codec (PT 0) and one from before a pause are not placed.
        let (a, b) = (opus_20ms(1), opus_20ms(2));
        let blocks = [
            red::Block { pt: 0, timestamp_offset: 960, data: &a },
            red::Block { pt: 111, timestamp_offset: 960 * 3 + 7, data: &b },
        ];
        let mut out = Vec::new();
        red::write(111, &opus_20ms(3), &blocks, &mut out);
        let p = EncodedPacket::from_rtp(TYPES, 63, 5, 10_000, &out).expect("primary kept");
        assert!(p.redundant.is_empty());
        assert_eq!(p.payload, opus_20ms(3));
    }
}
