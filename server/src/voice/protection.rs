//! Loss protection per listener: RFC 2198 redundancy (`audio/red` over Opus) sized for each
//! listener's own link.
//!
//! A forwarded packet crosses two legs, the speaker's way up and each listener's way down,
//! and their losses differ: one listener on bad Wi-Fi must not make everyone else download
//! copies, and a speaker cannot know what its listeners lose. So each side protects what it
//! sees:
//! - The **speaker** sends copies of its last one or two frames as RED when the relay's
//!   receiver reports show loss on its way up (the client's `media` module). Opus's in-band
//!   FEC rides in every packet whatever happens.
//! - The **relay** keeps each speaker's last frames ([`History`]): the ones it received and
//!   the ones it recovered from later packets' copies, so a frame lost on the way up is not
//!   lost for good. For each listener it then writes the packet afresh: plain Opus when
//!   that listener's path (its loss down, reported by its receiver reports, and the
//!   speaker's loss up, which left gaps the copies can fill) needs nothing or it did not
//!   negotiate RED; else RED with one or two earlier frames ([`depth_for_loss`]).
//!
//! Only frames of the speaker the listener's slot carries since its last switch are
//! copied: an older one would land in the slot timeline where someone else spoke.
//! Writing the few payload variants a frame can need is done once per frame, not per
//! listener ([`Variants`]).

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use auraspeak_shared::red;

/// Earlier frames carried at most: a burst of two lost packets is recovered from the third.
pub const MAX_COPIES: usize = 2;
/// A listener's or speaker's loss estimate moves up at once with a worse report and decays
/// by this weight per report (about one a second): under-protecting during a burst costs
/// audible gaps, over-protecting for a few seconds only costs bytes. A report covers only
/// 25-50 packets, so at 10 % loss one in ten says 0 %; the copies must outlast such
/// reports (measured on the real path: with 0.8 per report, protection came and went and
/// the first six seconds of a 10 %-loss call scored 3.0 instead of 4.0).
const DECAY: f32 = 0.95;

/// Copies for a loss fraction: [`red::copies_for_loss`], the client's rule too.
pub fn depth_for_loss(loss: f32) -> usize {
    let percent = (loss * 100.0).round().clamp(0.0, 100.0);
    // Clamped to 0–100 above, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    red::copies_for_loss(percent as u8).min(MAX_COPIES)
}

/// The loss of both legs together: a packet arrives only if neither loses it.
pub fn combined_loss(up: f32, down: f32) -> f32 {
    1.0 - (1.0 - up.clamp(0.0, 1.0)) * (1.0 - down.clamp(0.0, 1.0))
}

/// A smoothed loss fraction: rises at once, decays slowly.
#[derive(Debug, Clone, Copy, Default)]
pub struct LossEstimate(f32);

impl LossEstimate {
    pub fn handle_report(&mut self, loss: f32) {
        let loss = if loss.is_finite() { loss.clamp(0.0, 1.0) } else { 0.0 };
        self.0 = if loss >= self.0 { loss } else { DECAY * self.0 + (1.0 - DECAY) * loss };
    }

    pub fn get(self) -> f32 {
        self.0
    }
}

/// A frame held for copying: its place in the speaker's timeline and its Opus packet.
#[derive(Debug, Clone)]
pub struct Held {
    pub seq: u64,
    pub time: u64,
    pub data: Arc<[u8]>,
}

/// The frames 1 and 2 packets before one, where the relay has them (received, or recovered
/// from a copy) and they directly precede it (not across a pause).
pub type Copies = [Option<Held>; MAX_COPIES];

/// What a packet's copies recovered of frames lost on the way up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Frames the relay did not have.
    pub frames: usize,
    /// How many packets back the oldest of them was (0: none). No listener has had these
    /// frames, so a listener that negotiated RED gets copies at least this deep with this
    /// packet, whatever its loss estimate says (estimates lag: reports come once a second,
    /// and a listener's says nothing about the speaker's way up). The repair costs bytes
    /// only where a loss happened. (Assuming loss for every listener until its first
    /// report was tried: the copies made its jitter buffer wait a packet longer for ten
    /// seconds, 25 ms more mouth-to-ear, for no measurable gain.)
    pub deepest: usize,
}

/// One speaker's last frames.
#[derive(Debug, Default)]
pub struct History {
    /// Ascending by sequence number, at most `MAX_COPIES + 1`.
    recent: VecDeque<Held>,
}

impl History {
    /// Takes a packet from the speaker (its Opus frame and the RED copies it carried, if
    /// any, of payload type `opus_pt`): copies of frames missing here are kept as
    /// recovered. Returns the copies to offer listeners with this packet and what the
    /// packet's copies recovered.
    pub fn handle(
        &mut self,
        seq: u64,
        time: u64,
        primary: &Arc<[u8]>,
        blocks: &[red::Block<'_>],
        opus_pt: u8,
    ) -> (Copies, Recovered) {
        let mut recovered = Recovered::default();
        for block in blocks.iter().filter(|b| b.pt == opus_pt) {
            let Some(back) = red::sequence_back(block) else { continue };
            let (Some(s), Some(t)) = (
                seq.checked_sub(u64::from(back)),
                time.checked_sub(u64::from(block.timestamp_offset)),
            ) else {
                continue;
            };
            if self.insert(Held { seq: s, time: t, data: Arc::from(block.data) }) {
                recovered.frames += 1;
                recovered.deepest = recovered.deepest.max(usize::from(back));
            }
        }
        let mut copies: Copies = Default::default();
        for (k, copy) in copies.iter_mut().enumerate() {
            let back = k as u64 + 1;
            *copy = self
                .recent
                .iter()
                .find(|h| h.seq.checked_add(back) == Some(seq))
                .filter(|h| {
                    // Directly before this packet: `back` packets of its length earlier.
                    red::opus_samples(&h.data)
                        .is_some_and(|n| h.time.checked_add(back * u64::from(n)) == Some(time))
                })
                .cloned();
        }
        self.insert(Held { seq, time, data: primary.clone() });
        (copies, recovered)
    }

    /// Adds a frame unless it is held already or older than everything kept; says whether
    /// it was added.
    fn insert(&mut self, held: Held) -> bool {
        if self.recent.iter().any(|h| h.seq == held.seq) {
            return false;
        }
        let at = self.recent.iter().position(|h| h.seq > held.seq).unwrap_or(self.recent.len());
        if at == 0 && self.recent.len() > MAX_COPIES {
            return false;
        }
        self.recent.insert(at, held);
        while self.recent.len() > MAX_COPIES + 1 {
            self.recent.pop_front();
        }
        true
    }
}

/// The RED payloads one frame may go out as, written on first use and shared by every
/// listener that wants the same copies (indexed by which copies are in: bit k for the
/// frame k+1 back).
#[derive(Debug, Clone, Default)]
pub struct Variants {
    red: [OnceLock<Arc<[u8]>>; 3],
}

impl Variants {
    /// The payload for a listener: `None` for plain Opus (no copies wanted or available),
    /// else the RED payload with the copies that are wanted (`depth` of them at most),
    /// held, and not older than `oldest_seq` (where the listener's slot switched to this
    /// speaker).
    pub fn payload(
        &self,
        primary: &[u8],
        time: u64,
        copies: &Copies,
        depth: usize,
        oldest_seq: u64,
        opus_pt: u8,
    ) -> Option<Arc<[u8]>> {
        let mut mask = 0usize;
        for (k, copy) in copies.iter().enumerate().take(depth.min(MAX_COPIES)) {
            if copy.as_ref().is_some_and(|c| c.seq >= oldest_seq && c.time < time) {
                mask |= 1 << k;
            }
        }
        let slot = self.red.get(mask.checked_sub(1)?)?;
        Some(
            slot.get_or_init(|| {
                // Oldest first, as RFC 2198 orders them.
                let blocks: Vec<red::Block<'_>> = (0..MAX_COPIES)
                    .rev()
                    .filter(|k| mask & (1 << k) != 0)
                    .filter_map(|k| copies[k].as_ref())
                    .map(|c| red::Block {
                        pt: opus_pt,
                        // Within 14 bits: the copies directly precede the frame (checked
                        // in `History::handle`), at most 2 × 120 ms back.
                        timestamp_offset: u32::try_from(time - c.time).unwrap_or(u32::MAX),
                        data: &c.data,
                    })
                    .collect();
                let mut out = Vec::with_capacity(primary.len() * 3 + 9);
                red::write(opus_pt, primary, &blocks, &mut out);
                Arc::from(out)
            })
            .clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fill: u8) -> Arc<[u8]> {
        let mut p = vec![fill; 20];
        p[0] = 31 << 3; // 20 ms CELT
        Arc::from(p)
    }

    #[test]
    fn depth_follows_the_combined_loss_of_both_legs() {
        assert_eq!(depth_for_loss(0.0), 0);
        assert_eq!(depth_for_loss(0.05), 0);
        assert_eq!(depth_for_loss(0.10), 1);
        assert_eq!(depth_for_loss(0.20), 2);
        // 5 % up and 5 % down is 9.75 % end to end: one copy.
        assert_eq!(depth_for_loss(combined_loss(0.05, 0.05)), 1);
        assert!((combined_loss(0.1, 0.0) - 0.1).abs() < 1e-6);
    }

    #[test]
    fn loss_estimates_rise_at_once_and_decay_slowly() {
        let mut e = LossEstimate::default();
        e.handle_report(0.2);
        assert!((e.get() - 0.2).abs() < 1e-6);
        e.handle_report(0.0);
        assert!((e.get() - 0.19).abs() < 1e-6);
        // A few lucky reports do not end the protection of a 10 % link.
        let mut ten = LossEstimate::default();
        ten.handle_report(0.10);
        for _ in 0..8 {
            ten.handle_report(0.0);
        }
        assert_eq!(depth_for_loss(ten.get()), 1);
        e.handle_report(f32::NAN);
        assert!(e.get() < 0.19);
    }

    #[test]
    fn copies_are_the_directly_preceding_frames() {
        let mut h = History::default();
        let (c, _) = h.handle(10, 9600, &frame(10), &[], 111);
        assert!(c.iter().all(Option::is_none));
        h.handle(11, 10_560, &frame(11), &[], 111);
        let (c, _) = h.handle(12, 11_520, &frame(12), &[], 111);
        assert_eq!(c[0].as_ref().map(|h| h.seq), Some(11));
        assert_eq!(c[1].as_ref().map(|h| h.seq), Some(10));
        // After a pause (DTX): the held frames are history, not neighbours.
        let (c, _) = h.handle(13, 50_000, &frame(13), &[], 111);
        assert!(c.iter().all(Option::is_none));
    }

    #[test]
    fn a_frame_lost_on_the_way_up_is_recovered_from_the_speakers_copy() {
        let mut h = History::default();
        h.handle(10, 9600, &frame(10), &[], 111);
        // 11 never arrives; 12 carries it as a RED copy.
        let eleven = frame(11);
        let blocks = [red::Block { pt: 111, timestamp_offset: 960, data: &eleven }];
        let (c, recovered) = h.handle(12, 11_520, &frame(12), &blocks, 111);
        assert_eq!(recovered, Recovered { frames: 1, deepest: 1 });
        assert_eq!(c[0].as_ref().map(|h| (h.seq, h.data[1])), Some((11, 11)));
        assert_eq!(c[1].as_ref().map(|h| h.seq), Some(10));
        // A copy of something held already recovers nothing; another codec's is ignored.
        let blocks = [
            red::Block { pt: 111, timestamp_offset: 960, data: &frame(12) },
            red::Block { pt: 0, timestamp_offset: 1920, data: &eleven },
        ];
        let (_, recovered) = h.handle(13, 12_480, &frame(13), &blocks, 111);
        assert_eq!(recovered, Recovered::default());
    }

    #[test]
    fn each_listener_gets_the_copies_its_link_and_slot_allow() {
        let mut h = History::default();
        h.handle(10, 9600, &frame(10), &[], 111);
        h.handle(11, 10_560, &frame(11), &[], 111);
        let primary = frame(12);
        let (copies, _) = h.handle(12, 11_520, &primary, &[], 111);
        let v = Variants::default();
        assert_eq!(v.payload(&primary, 11_520, &copies, 0, 0, 111), None);
        let two = v.payload(&primary, 11_520, &copies, 2, 0, 111).expect("red");
        let parsed = red::parse(&two).expect("parses");
        assert_eq!(parsed.primary, &primary[..]);
        let offsets: Vec<u32> = parsed.redundant.iter().map(|b| b.timestamp_offset).collect();
        assert_eq!(offsets, [1920, 960]);
        // The slot switched to this speaker at 11: frame 10 belongs to someone else there.
        let one = v.payload(&primary, 11_520, &copies, 2, 11, 111).expect("red");
        assert_eq!(red::parse(&one).expect("parses").redundant.len(), 1);
        // Written once per variant, shared after.
        let again = v.payload(&primary, 11_520, &copies, 2, 0, 111).expect("red");
        assert!(Arc::ptr_eq(&two, &again));
        // The slot switched at this very frame: nothing to copy.
        assert_eq!(v.payload(&primary, 11_520, &copies, 2, 12, 111), None);
    }
}
