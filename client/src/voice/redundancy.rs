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
//! The packets themselves, on the wire and in the engine's own datagrams, are in
//! [`super::packet`].

use std::collections::VecDeque;

use super::jitter::JitterStats;
use super::packet::{EncodedPacket, MAX_COPY_AGE_SAMPLES, RedundantFrame};

/// The deepest redundancy the encoder sends: with 20 ms packets, a burst of two lost packets
/// is recovered from the third. Deeper only pays off on links too bad for voice anyway.
pub const MAX_REDUNDANCY: usize = 2;

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

/// The redundancy depth for a loss rate: the rule every RED sender here follows
/// ([`auraspeak_shared::red::copies_for_loss`]), capped at [`MAX_REDUNDANCY`].
pub fn depth_for_loss(percent: u8) -> usize {
    auraspeak_shared::red::copies_for_loss(percent).min(MAX_REDUNDANCY)
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
