//! Redundancy against packet loss beyond Opus's in-band FEC, in the manner of RFC 2198: each
//! packet may carry again the encoded frames of the one or two packets before it, so a
//! packet lost on the way is still played exactly from the next one that arrives.
//!
//! In-band FEC only carries a coarse copy of the *previous* packet and Opus sizes it for
//! low loss; at 10–20 % loss, and in bursts of two or three packets, it leaves most gaps to
//! concealment. Carrying the same frames again costs bitrate (one more packet's worth per
//! level of depth) but recovers them bit-exactly, so the decoder's state stays in step.
//! The depth follows the loss the far end reports ([`depth_for_loss`]), so a clean network
//! pays nothing.
//!
//! This module also defines the datagram format the transport carries
//! ([`EncodedPacket::to_bytes`], [`EncodedPacket::from_bytes`]):
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

use std::collections::VecDeque;

use super::codec::EncodedPacket;
use super::jitter::JitterStats;
use crate::error::{Error, Result};

/// The deepest redundancy the encoder sends: with 20 ms packets, a burst of two lost packets
/// is recovered from the third. Deeper only pays off on links too bad for voice anyway.
pub const MAX_REDUNDANCY: usize = 2;

/// The most redundant blocks a datagram may hold; one more than we send, so a later version
/// may go deeper without old receivers rejecting its packets.
const MAX_BLOCKS: usize = 3;
const VERSION: u8 = 1;
const HEADER_BYTES: usize = 7;
const BLOCK_HEADER_BYTES: usize = 5;
/// RFC 6716: no Opus frame is longer than 1275 bytes, so neither is a sane payload.
const MAX_OPUS_BYTES: usize = 1275;
/// A copy older than this is too late to help any jitter buffer; not worth its bytes.
const MAX_COPY_AGE_SAMPLES: u32 = 4800;

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

/// How much redundancy the encoder adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedundancyMode {
    /// Never: in-band FEC and concealment only.
    Off,
    /// From the expected loss (the far end's reports), by [`depth_for_loss`].
    #[default]
    Auto,
    /// Always this many earlier packets (capped at [`MAX_REDUNDANCY`]).
    Fixed(u8),
}

impl RedundancyMode {
    /// How many earlier packets to carry at `expected_loss_percent`.
    pub fn depth(self, expected_loss_percent: u8) -> usize {
        match self {
            RedundancyMode::Off => 0,
            RedundancyMode::Auto => depth_for_loss(expected_loss_percent),
            RedundancyMode::Fixed(n) => usize::from(n).min(MAX_REDUNDANCY),
        }
    }
}

/// The redundancy depth for a loss rate. Up to 5 % in-band FEC alone recovers nearly every
/// loss (it fails only on two in a row, a quarter of a percent of packets), so copies would
/// double the bitrate and add a packet of delay for nothing; a call also starts here (the
/// encoder's default expected loss), so a clean network never pays. From 6 % one copy; from
/// 10 % two, as losses of two in a row become frequent (a tenth of losses at 10 % random
/// loss, most of them on bursty links) and only a copy two packets back recovers those.
pub fn depth_for_loss(percent: u8) -> usize {
    match percent {
        0..=5 => 0,
        6..=9 => 1,
        _ => MAX_REDUNDANCY,
    }
}

/// The encoder's memory of the last packets sent, to carry them again.
#[derive(Debug, Clone, Default)]
pub(crate) struct RedundancyHistory {
    recent: VecDeque<RedundantFrame>,
}

impl RedundancyHistory {
    /// Copies of up to `depth` packets sent just before `packet`, oldest first, then
    /// remembers `packet`.
    pub(crate) fn attach(&mut self, packet: &mut EncodedPacket, depth: usize) {
        packet.redundant = self
            .recent
            .iter()
            .filter(|old| {
                let back = packet.sequence.wrapping_sub(old.sequence);
                let age = packet.timestamp.wrapping_sub(old.timestamp);
                // After a pause (DTX, gate) the old packets are history, not a gap to fill.
                back >= 1 && usize::from(back) <= depth && age > 0 && age <= MAX_COPY_AGE_SAMPLES
            })
            .cloned()
            .collect();
        self.recent.push_back(RedundantFrame {
            sequence: packet.sequence,
            timestamp: packet.timestamp,
            payload: packet.payload.clone(),
        });
        while self.recent.len() > MAX_REDUNDANCY {
            self.recent.pop_front();
        }
    }
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

/// Turns a receiver's jitter statistics into the loss percentage to report to the sender,
/// which feeds it to [`super::VoiceEncoder::set_expected_loss`] (FEC size and redundancy
/// depth). Call [`LossEstimator::handle_stats`] once per report interval (about a second).
///
/// Rises at once and decays slowly: under-protecting during a burst costs audible gaps,
/// over-protecting for a few seconds only costs bytes.
#[derive(Debug, Clone, Default)]
pub struct LossEstimator {
    last_received: u64,
    last_lost: u64,
    smoothed: f64,
}

impl LossEstimator {
    /// A fresh estimator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the receiver's statistics now and returns the loss to report, 0–100 %.
    pub fn handle_stats(&mut self, stats: &JitterStats) -> u8 {
        let received = stats.received.saturating_sub(self.last_received);
        let lost = stats.lost.saturating_sub(self.last_lost);
        self.last_received = stats.received;
        self.last_lost = stats.lost;
        // Silence (no packets) says nothing about the network: keep the estimate.
        if received + lost > 0 {
            #[allow(clippy::cast_precision_loss)]
            let sample = 100.0 * lost as f64 / (received + lost) as f64;
            self.smoothed =
                if sample >= self.smoothed { sample } else { 0.8 * self.smoothed + 0.2 * sample };
        }
        self.loss_percent()
    }

    /// The current estimate, 0–100 %.
    pub fn loss_percent(&self) -> u8 {
        // Clamped to 0–100 first, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let p = self.smoothed.clamp(0.0, 100.0).round() as u8;
        p
    }
}

#[cfg(test)]
#[path = "redundancy_tests.rs"]
mod tests;
