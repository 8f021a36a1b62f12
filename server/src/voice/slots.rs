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
/// The loudest level believed: the sender claims its own level, and speech averaged
/// over a packet stays below about -10 dBov (louder is clipping). A sender claiming
/// 0 dBov on every packet ranks like a loud talker, not above everyone (review M5).
const PLAUSIBLE_MAX_DB: f32 = -10.0;
/// Speech pauses: a gap this long between voiced packets ends a talk spurt.
const SPURT_GAP: Duration = Duration::from_millis(250);
/// People breathe. A sender whose voiced packets have had no pause for this long is
/// noise, music or a sender holding its slot on purpose; it then ranks as if this much
/// quieter, so anyone really talking takes its slot (it keeps one nobody else wants).
const MAX_UNBROKEN: Duration = Duration::from_secs(30);
const UNBROKEN_PENALTY_DB: f32 = 40.0;

#[derive(Debug, Clone, Copy)]
struct Speaker {
    smoothed_db: f32,
    last_voice: Option<Instant>,
    /// When the current run of voiced packets without a pause began.
    spurt_start: Option<Instant>,
}

impl Speaker {
    /// The level the ranking uses: the smoothed claim, lowered for a sender that has not
    /// paused for [`MAX_UNBROKEN`].
    fn ranking_db(&self) -> f32 {
        match (self.spurt_start, self.last_voice) {
            (Some(start), Some(last)) if last.saturating_duration_since(start) > MAX_UNBROKEN => {
                self.smoothed_db - UNBROKEN_PENALTY_DB
            }
            _ => self.smoothed_db,
        }
    }
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
        let level = level.clamp(SILENCE_DB, PLAUSIBLE_MAX_DB);
        let speaker = self.speakers.entry(peer).or_insert(Speaker {
            smoothed_db: level,
            last_voice: None,
            spurt_start: None,
        });
        speaker.smoothed_db += LEVEL_SMOOTHING * (level - speaker.smoothed_db);
        if voice {
            let paused =
                speaker.last_voice.is_none_or(|t| now.saturating_duration_since(t) >= SPURT_GAP);
            if paused {
                speaker.spurt_start = Some(now);
            }
            speaker.last_voice = Some(now);
        }
    }

    /// Whether `peer` is among the speakers chosen at the last ranking.
    pub fn is_selected(&self, peer: PeerKey) -> bool {
        self.selected.contains(&peer)
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
        self.speakers.get(&peer).map_or(SILENCE_DB, Speaker::ranking_db)
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

/// Keeps one slot's RTP sequence numbers and timestamps continuous across the speakers it
/// carries: each speaker has their own origins, and a receiver's jitter buffer would take
/// a jump to another origin for a huge gap or a step back in time. Within one speaker the
/// offsets stay fixed, so gaps (lost packets) and reordering pass through unchanged.
#[derive(Debug, Default, Clone)]
pub struct SlotTimeline {
    source: Option<PeerKey>,
    /// The current source's sequence number (its own timeline) when it took the slot.
    since_seq: u64,
    seq_offset: u64,
    time_offset: u64,
    last: Option<Rewritten>,
    last_at: Option<Instant>,
}

/// A packet's place in the slot's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub seq: u64,
    pub time: u64,
    /// The first packet of a new speaker on this slot (a talk spurt for the receiver).
    pub switched: bool,
}

/// RTP clock of Opus.
const RTP_RATE: u64 = 48_000;
/// The smallest step put between two speakers: one 20 ms packet.
const MIN_SWITCH_STEP: u64 = 960;

impl SlotTimeline {
    /// Where (in its own sequence numbers) the current source took the slot: nothing of
    /// theirs from before belongs on it.
    pub fn since_seq(&self) -> u64 {
        self.since_seq
    }

    /// Where `source`'s packet numbered `seq` and stamped `time` (in its own timeline)
    /// goes in the slot's timeline.
    pub fn rewrite(&mut self, now: Instant, source: PeerKey, seq: u64, time: u64) -> Rewritten {
        let switched = self.source != Some(source);
        if switched {
            // Continue right after the last packet, advanced by the wall-clock time since,
            // so the receiver sees a pause of the right length rather than a jump.
            let (next_seq, next_time) = match (self.last, self.last_at) {
                (Some(last), Some(at)) => {
                    let elapsed = now.saturating_duration_since(at);
                    let step =
                        (elapsed.as_micros() as u64 * RTP_RATE / 1_000_000).max(MIN_SWITCH_STEP);
                    (last.seq.wrapping_add(1), last.time.wrapping_add(step))
                }
                // A random-looking but fixed start is not needed: the SRTP context is per
                // slot stream and starts with this packet.
                _ => (seq & 0xFFFF, time),
            };
            self.seq_offset = next_seq.wrapping_sub(seq);
            self.time_offset = next_time.wrapping_sub(time);
            self.source = Some(source);
            self.since_seq = seq;
        }
        let out = Rewritten {
            seq: seq.wrapping_add(self.seq_offset),
            time: time.wrapping_add(self.time_offset),
            switched,
        };
        // Only a newer packet moves the end of the timeline; a late one slots in behind.
        if self.last.is_none_or(|l| out.seq > l.seq || switched) {
            self.last = Some(out);
            self.last_at = Some(now);
        }
        out
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
    fn a_sender_claiming_full_scale_without_pause_loses_its_slot_to_real_talk() {
        let t0 = Instant::now();
        let mut sel = SpeakerSelector::new(1);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // The liar: 0 dBov claimed on every 20 ms packet, never a pause.
        // The talker: -25 dBov, a 400 ms breath every 3 s.
        let mut selected_liar_after_40s = None;
        for step in 0..2500u64 {
            let now = ms(step * 20);
            sel.handle_level(now, 1, 0.0, true);
            if (step * 20) % 3000 >= 400 {
                sel.handle_level(now, 2, -25.0, true);
            }
            if step % 2 == 0 {
                let selected = sel.poll_selection(now).to_vec();
                if step * 20 == 10_000 {
                    assert_eq!(selected, vec![1], "a loud claim wins a fair contest at first");
                }
                if step * 20 >= 40_000 && selected_liar_after_40s.is_none() {
                    selected_liar_after_40s = Some(selected.contains(&1));
                }
            }
        }
        assert_eq!(selected_liar_after_40s, Some(false), "no slot held for 40 s without a pause");
        // Claims above the plausible maximum count as the maximum.
        let mut sel = SpeakerSelector::new(1);
        talk(&mut sel, t0, 3, 0.0);
        assert_eq!(sel.level(3), PLAUSIBLE_MAX_DB);
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
    fn timeline_continues_across_speakers_and_keeps_gaps() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut line = SlotTimeline::default();
        let first = line.rewrite(t0, 1, 70_000, 1_000);
        assert_eq!((first.seq, first.time, first.switched), (70_000 & 0xFFFF, 1_000, true));
        let s0 = first.seq;
        assert_eq!(line.rewrite(ms(20), 1, 70_001, 1_960).seq, s0 + 1);
        // 70_002 was lost on the way in: the gap stays.
        let after_gap = line.rewrite(ms(60), 1, 70_003, 3_880);
        assert_eq!((after_gap.seq, after_gap.time), (s0 + 3, 3_880));
        // Speaker 2 has wildly different origins; 100 ms later on the wall clock.
        let other = line.rewrite(ms(160), 2, 5, 9_000_000);
        assert!(other.switched);
        assert_eq!((other.seq, other.time), (s0 + 4, 3_880 + 4_800));
        let next = line.rewrite(ms(180), 2, 6, 9_000_960);
        assert_eq!((next.seq, next.time), (s0 + 5, 3_880 + 5_760));
        // A reordered older packet of the same speaker lands before it, not after.
        assert_eq!(line.rewrite(ms(181), 2, 4, 8_999_040).seq, s0 + 3);
        // Back-to-back switch still advances by at least one packet.
        let back = line.rewrite(ms(181), 1, 70_010, 20_000);
        assert_eq!((back.seq, back.time), (s0 + 6, 3_880 + 5_760 + MIN_SWITCH_STEP));
    }
}
