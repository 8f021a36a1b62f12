//! Who each listener hears: the loudest current speakers of a room, put on the listener's
//! fixed receive slots, with every slot's RTP timeline kept continuous as speakers change.
//!
//! Pure state machines with time as input; the relay feeds them audio levels and asks
//! which slot a packet belongs to.
//!
//! Why slots instead of one stream per speaker: adding a stream means renegotiating every
//! listener's session when someone joins, which is where glitches come from, and a
//! 200-person channel would hand each listener 199 streams. People cannot follow more
//! than a few voices at once anyway, so the room ranks speakers by level (RFC 6464, sent
//! by every sender with each packet) and each listener gets the top few on slots that
//! exist from the start.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The relay's handle for a peer.
pub type PeerKey = u64;

/// A speaker stays selected this long after their last voiced packet, so the pauses
/// between words and sentences do not hand their slot to someone else.
const HOLD: Duration = Duration::from_millis(600);
/// A newcomer displaces an incumbent speaker only when this much louder, so two people
/// of similar loudness do not flip a slot back and forth.
const SWITCH_MARGIN_DB: f32 = 6.0;
/// Smoothing of the per-packet levels (weight of the newest packet); ~100 ms at 20 ms
/// packets, quick enough to follow who starts talking.
const LEVEL_SMOOTHING: f32 = 0.2;
/// RFC 6464 levels are in -dBov, 0 (loudest) to 127 (silence).
const SILENCE_DB: f32 = -127.0;

#[derive(Debug, Clone, Copy)]
struct Speaker {
    smoothed_db: f32,
    last_voice: Option<Instant>,
}

/// Ranks a room's speakers. `capacity` is one more than a listener's slot count, so a
/// listener who is among the loudest still has all of their slots filled by others.
#[derive(Debug)]
pub struct SpeakerSelector {
    speakers: HashMap<PeerKey, Speaker>,
    selected: Vec<PeerKey>,
    capacity: usize,
}

impl SpeakerSelector {
    pub fn new(capacity: usize) -> Self {
        Self { speakers: HashMap::new(), selected: Vec::new(), capacity: capacity.max(1) }
    }

    /// One packet's level from `peer`: `level` in dBov (0 loudest, -127 silence) and the
    /// sender's voice-activity flag.
    pub fn handle_level(&mut self, now: Instant, peer: PeerKey, level: f32, voice: bool) {
        let level = level.clamp(SILENCE_DB, 0.0);
        let speaker =
            self.speakers.entry(peer).or_insert(Speaker { smoothed_db: level, last_voice: None });
        speaker.smoothed_db += LEVEL_SMOOTHING * (level - speaker.smoothed_db);
        if voice {
            speaker.last_voice = Some(now);
        }
    }

    pub fn remove(&mut self, peer: PeerKey) {
        self.speakers.remove(&peer);
        self.selected.retain(|p| *p != peer);
    }

    fn is_active(&self, now: Instant, peer: PeerKey) -> bool {
        self.speakers
            .get(&peer)
            .and_then(|s| s.last_voice)
            .is_some_and(|t| now.saturating_duration_since(t) <= HOLD)
    }

    fn level(&self, peer: PeerKey) -> f32 {
        self.speakers.get(&peer).map_or(SILENCE_DB, |s| s.smoothed_db)
    }

    /// Re-ranks and returns the selected speakers, loudest first. Incumbents keep their
    /// place while they talk; free places go to the loudest active newcomers; a full room
    /// lets a newcomer replace the quietest incumbent only by a clear margin.
    pub fn poll_selection(&mut self, now: Instant) -> &[PeerKey] {
        let mut kept: Vec<PeerKey> =
            self.selected.iter().copied().filter(|p| self.is_active(now, *p)).collect();
        let mut newcomers: Vec<PeerKey> = self
            .speakers
            .keys()
            .copied()
            .filter(|p| !kept.contains(p) && self.is_active(now, *p))
            .collect();
        newcomers.sort_by(|a, b| self.level(*b).total_cmp(&self.level(*a)).then(a.cmp(b)));
        for newcomer in newcomers {
            if kept.len() < self.capacity {
                kept.push(newcomer);
                continue;
            }
            let quietest = kept
                .iter()
                .enumerate()
                .min_by(|a, b| self.level(*a.1).total_cmp(&self.level(*b.1)))
                .map(|(i, p)| (i, *p));
            if let Some((i, incumbent)) = quietest
                && self.level(newcomer) > self.level(incumbent) + SWITCH_MARGIN_DB
            {
                kept[i] = newcomer;
            }
        }
        kept.sort_by(|a, b| self.level(*b).total_cmp(&self.level(*a)).then(a.cmp(b)));
        self.selected = kept;
        &self.selected
    }
}

/// One listener's receive slots.
#[derive(Debug, Clone)]
pub struct SlotMap {
    slots: Vec<Option<PeerKey>>,
}

impl SlotMap {
    pub fn new(slots: usize) -> Self {
        Self { slots: vec![None; slots] }
    }

    pub fn slot_of(&self, speaker: PeerKey) -> Option<usize> {
        self.slots.iter().position(|s| *s == Some(speaker))
    }

    pub fn get(&self, slot: usize) -> Option<PeerKey> {
        self.slots.get(slot).copied().flatten()
    }

    /// Follows the room's `selected` speakers (loudest first) except `me`: speakers who
    /// stay keep their slot, so nobody's stream hops between slots. Appends the slots that
    /// changed, with their new occupant, to `changed`.
    pub fn assign(
        &mut self,
        me: PeerKey,
        selected: &[PeerKey],
        changed: &mut Vec<(usize, Option<PeerKey>)>,
    ) {
        let wanted: Vec<PeerKey> =
            selected.iter().copied().filter(|p| *p != me).take(self.slots.len()).collect();
        let before = self.slots.clone();
        for slot in &mut self.slots {
            if slot.is_some_and(|p| !wanted.contains(&p)) {
                *slot = None;
            }
        }
        for speaker in wanted {
            if self.slot_of(speaker).is_none()
                && let Some(free) = self.slots.iter_mut().find(|s| s.is_none())
            {
                *free = Some(speaker);
            }
        }
        for (i, (old, new)) in before.iter().zip(&self.slots).enumerate() {
            if old != new {
                changed.push((i, *new));
            }
        }
    }

    /// Forgets a speaker who left; returns the slot they were on.
    pub fn remove(&mut self, speaker: PeerKey) -> Option<usize> {
        let slot = self.slot_of(speaker)?;
        self.slots[slot] = None;
        Some(slot)
    }
}

/// Keeps one slot's RTP timestamps continuous across the speakers it carries: each speaker
/// has their own timestamp origin, and a receiver's jitter buffer would take a jump to
/// another origin for a huge gap or a step back in time.
#[derive(Debug, Default, Clone)]
pub struct SlotTimeline {
    source: Option<PeerKey>,
    offset: u64,
    last: Option<(u64, Instant)>,
}

/// RTP clock of Opus.
const RTP_RATE: u64 = 48_000;
/// The smallest step put between two speakers: one 20 ms packet.
const MIN_SWITCH_STEP: u64 = 960;

impl SlotTimeline {
    /// The timestamp to send for `source`'s packet stamped `ts` (in its own timeline), and
    /// whether this packet starts a new speaker on the slot (a talk spurt for the receiver).
    pub fn rewrite(&mut self, now: Instant, source: PeerKey, ts: u64) -> (u64, bool) {
        let switched = self.source != Some(source);
        if switched {
            // Continue after the last packet, advanced by the wall-clock time since, so
            // the receiver sees a pause of the right length rather than a jump.
            let base = match self.last {
                Some((last, at)) => {
                    let elapsed = now.saturating_duration_since(at);
                    let step =
                        (elapsed.as_micros() as u64 * RTP_RATE / 1_000_000).max(MIN_SWITCH_STEP);
                    last.wrapping_add(step)
                }
                None => ts,
            };
            self.offset = base.wrapping_sub(ts);
            self.source = Some(source);
        }
        let out = ts.wrapping_add(self.offset);
        self.last = Some((out, now));
        (out, switched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talk(sel: &mut SpeakerSelector, now: Instant, peer: PeerKey, db: f32) {
        for _ in 0..20 {
            sel.handle_level(now, peer, db, true);
        }
    }

    #[test]
    fn loudest_active_speakers_are_selected_and_silence_frees_places() {
        let t0 = Instant::now();
        let mut sel = SpeakerSelector::new(2);
        talk(&mut sel, t0, 1, -30.0);
        talk(&mut sel, t0, 2, -20.0);
        talk(&mut sel, t0, 3, -40.0);
        assert_eq!(sel.poll_selection(t0), &[2, 1]);
        // Peer 4 is barely louder than 1: not enough to take over a full room.
        talk(&mut sel, t0, 4, -27.0);
        assert_eq!(sel.poll_selection(t0), &[2, 1]);
        // Peer 5 is much louder than the quietest incumbent: it takes that place.
        talk(&mut sel, t0, 5, -10.0);
        assert_eq!(sel.poll_selection(t0), &[5, 2]);
        // After the hold, only those still talking stay.
        let later = t0 + HOLD + Duration::from_millis(1);
        talk(&mut sel, later, 3, -40.0);
        assert_eq!(sel.poll_selection(later), &[3]);
        sel.remove(3);
        assert!(sel.poll_selection(later).is_empty());
    }

    #[test]
    fn packets_without_voice_do_not_select() {
        let t0 = Instant::now();
        let mut sel = SpeakerSelector::new(3);
        sel.handle_level(t0, 1, -10.0, false);
        assert!(sel.poll_selection(t0).is_empty());
    }

    #[test]
    fn slots_stay_put_and_exclude_the_listener() {
        let mut map = SlotMap::new(2);
        let mut changed = Vec::new();
        map.assign(9, &[1, 9, 2], &mut changed);
        assert_eq!(changed, vec![(0, Some(1)), (1, Some(2))]);
        changed.clear();
        // 2 becomes the loudest: nothing moves.
        map.assign(9, &[2, 1], &mut changed);
        assert!(changed.is_empty());
        // 1 stops, 3 starts: 3 takes 1's slot, 2 stays on its own.
        map.assign(9, &[2, 3], &mut changed);
        assert_eq!(changed, vec![(0, Some(3))]);
        assert_eq!(map.slot_of(2), Some(1));
        changed.clear();
        map.assign(9, &[], &mut changed);
        assert_eq!(changed, vec![(0, None), (1, None)]);
        assert_eq!(map.remove(2), None);
    }

    #[test]
    fn timeline_continues_across_speakers_with_the_pause_between() {
        let t0 = Instant::now();
        let mut line = SlotTimeline::default();
        assert_eq!(line.rewrite(t0, 1, 1_000), (1_000, true));
        assert_eq!(line.rewrite(t0 + Duration::from_millis(20), 1, 1_960), (1_960, false));
        // Speaker 2 has a wildly different origin; 100 ms later on the wall clock.
        let (ts, switched) = line.rewrite(t0 + Duration::from_millis(120), 2, 9_000_000);
        assert!(switched);
        assert_eq!(ts, 1_960 + 4_800);
        assert_eq!(line.rewrite(t0 + Duration::from_millis(140), 2, 9_000_960).0, 1_960 + 5_760);
        // Back-to-back switch still advances by at least one packet.
        let (ts, _) = line.rewrite(t0 + Duration::from_millis(140), 1, 2_000);
        assert_eq!(ts, 1_960 + 5_760 + MIN_SWITCH_STEP);
    }
}
