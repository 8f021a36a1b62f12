//! The jitter buffer: turns packets arriving at irregular times, out of order, duplicated or
//! not at all into a steady sequence of things to play.
//!
//! It is a state machine without IO or clock reads. The driver (one per remote speaker):
//!
//! 1. calls [`JitterBuffer::handle_packet`] for every packet as it arrives, with the
//!    arrival time and the packet's length in samples (from the Opus header, so garbage is
//!    rejected before it gets here), then [`JitterBuffer::handle_redundant`] for each
//!    earlier packet it carries again (see `redundancy`);
//! 2. calls [`JitterBuffer::poll_playout`] whenever playback has used up the audio of the
//!    previous answer, and decodes what it is told: a packet, the FEC copy of a lost packet
//!    held in the next one, a concealment, or silence.
//!
//! # How it schedules
//! Each packet's transit is `arrival - send time` (sender timestamps, receiver clock; the
//! unknown clock offset cancels out). Over a sliding window the smallest transit is the
//! fastest path and the spread above it (a high percentile) is the jitter. A packet's ideal
//! playout time is `send time + fastest transit + target delay`, where the target is the
//! jitter spread plus a margin, never less than one packet and never more than the maximum.
//!
//! A packet missing when its turn comes is replaced, in order of preference, by a redundant
//! copy carried in a later packet (bit-exact), by the coarser in-band FEC copy in the next
//! packet, and last by concealment. Both copies arrive after the lost packet was due, so
//! for a while after a loss the target grows by as many packets as the copies lag behind.
//!
//! Playback is driven by the output device's clock, so at each poll the buffer compares
//! the time with the head packet's ideal time: well behind schedule (buffer deeper than
//! needed) it skips a packet; well ahead (buffer shallower than needed) it plays one
//! concealment frame without consuming anything. One mechanism thus adapts the delay to the
//! jitter and absorbs clock drift between sender and receiver, which would otherwise grow
//! or drain the buffer by the drift rate (0.1 % = 1 ms per second) without bound.
//!
//! # When the delay changes
//! A frame inserted or skipped moves everything after it. Between talk spurts that is free
//! (silence simply lasts a little longer or shorter), but inside one it is a stretch in
//! mid-word: 20 ms inserted into a clean call's recording cost it 0.1–0.3 PESQ-WB inside an
//! utterance, even in a quiet frame, and nothing in a pause between two. So a
//! longer delay waits for a quiet moment (a frame the driver calls quiet: a pause, a stop
//! consonant), at most `max_grow_wait`; a shorter one waits for the next pause, or for a
//! quiet moment after [`SHRINK_WAIT`]. A copy that arrives for a packet whose turn was
//! already concealed is dropped unless the delay may grow then: playing it would be the
//! same stretch.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::packet::{EncodedPacket, RedundantFrame};
use super::{FRAME_DURATION, SAMPLE_RATE, samples_to_duration};

/// Jitter buffer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JitterConfig {
    /// The target delay never exceeds this; a network worse than that is better served by
    /// loss concealment than by half-second-late replies.
    pub max_delay: Duration,
    /// How far back the jitter is measured.
    pub window: Duration,
    /// Which share of packets must arrive in time, 0–1; the rest are concealed.
    pub percentile: f64,
    /// Added to the measured spread, for the error of estimating it from a window.
    pub margin: Duration,
    /// After this much concealment with nothing buffered the speaker is taken to be silent
    /// (talk spurt over), and silence is played instead.
    pub max_conceal: Duration,
    /// For this long after a loss the target grows by one packet (or by the redundancy
    /// depth the sender uses, if deeper and losses in a row were seen), so that the packet
    /// carrying a copy of a lost one is already buffered when the lost one is due. On a
    /// clean network the buffer stays shallower.
    pub fec_hold: Duration,
    /// Packets further than this many sequence numbers ahead of or behind playback are
    /// implausible: dropped, unless several in a row agree (the sender restarted).
    pub max_sequence_jump: u64,
    /// How long a longer delay (a concealment frame inserted) may wait for a quiet moment
    /// of the speaker's audio (see [`JitterBuffer::set_quiet`]) before it is made mid-word.
    pub max_grow_wait: Duration,
    /// Whether a new stream is taken to carry a copy of each packet from the start, as our
    /// own senders' streams do until they hear how their link does (see `call`), so the
    /// first words are not stretched once the copies show (the first packet has nothing to
    /// copy). It costs the first talk spurt of a clean call 30 ms more delay (40 ms
    /// mouth-to-ear measured, until the first pause), the same for a sender that sends none.
    pub copies_at_start: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            max_delay: Duration::from_millis(400),
            window: Duration::from_secs(3),
            percentile: 0.98,
            margin: Duration::from_millis(5),
            max_conceal: Duration::from_millis(100),
            fec_hold: Duration::from_secs(10),
            max_sequence_jump: 150,
            max_grow_wait: Duration::from_secs(1),
            copies_at_start: true,
        }
    }
}

/// What to play next. Each answer covers `samples` samples (silence covers one 10 ms frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this packet.
    Packet { sequence: u16, payload: Vec<u8>, samples: usize },
    /// Packet `sequence` was lost: decode its FEC copy from `payload`, which is the packet
    /// after it (Opus conceals by itself if that packet has no FEC data).
    Fec { sequence: u16, payload: Vec<u8>, samples: usize },
    /// Nothing to decode in time: let the decoder conceal `samples` samples.
    Conceal { samples: usize },
    /// The speaker is silent (not started, or between talk spurts): play one frame of
    /// silence.
    Silence,
}

/// Counters since creation, and the current delays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JitterStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Packets seen before (dropped).
    pub duplicates: u64,
    /// Packets that arrived after their turn had passed (dropped).
    pub late: u64,
    /// Packets missing when their turn came, including those recovered by FEC and those
    /// arriving late afterwards.
    pub lost: u64,
    /// Lost packets replaced by their FEC copy.
    pub recovered_fec: u64,
    /// Lost packets played from a redundant copy carried in a later packet.
    pub recovered_redundant: u64,
    /// Concealment answers given (each covers one packet's duration).
    pub concealed: u64,
    /// Packets skipped to shrink the delay (jitter dropped, or the sender's clock is fast).
    pub skipped: u64,
    /// Concealments played while a packet was waiting, to grow the delay.
    pub inserted: u64,
    /// Packets rejected as implausible (absurd sequence numbers or lengths).
    pub invalid: u64,
    /// Times the buffer restarted on a new stream or re-anchored on absurd timestamps.
    pub resyncs: u64,
    /// How long the last played packet waited beyond the fastest path.
    pub current_delay: Duration,
    /// The delay the buffer currently aims for.
    pub target_delay: Duration,
}

#[derive(Debug, Clone)]
struct Entry {
    payload: Vec<u8>,
    samples: usize,
    /// Send time in seconds since the stream's first timestamp.
    send: f64,
    /// A copy carried in a later packet: the original was lost or is late.
    redundant: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing played recently: wait for a packet's time and play silence meanwhile.
    Idle,
    /// Playing; counts how many concealments were given in a row with nothing buffered.
    Playing { concealed_in_row: u32 },
}

// Sequence numbers and timestamps are unwrapped into u64 around a high base, so arithmetic
// never underflows whatever the first values are.
const SEQ_BASE: u64 = 1 << 32;
const TS_BASE: u64 = 1 << 48;
// How many played or lost sequence numbers are remembered to tell duplicates from late.
const HISTORY: usize = 512;
const DEFAULT_PACKET_SAMPLES: usize = 960;
/// How long copies keep the buffer waiting for them (seconds) after the last one, where
/// nothing was lost: the sender's copies before its first loss report.
const UNCONFIRMED_COPIES_HOLD: f64 = 2.0;
/// A shorter delay waits this long (seconds) for a quiet moment before a packet is skipped,
/// and twice as long for any moment. Talk spurts rarely last that long, and between them
/// the delay shrinks for free; a packet skipped mid-word costs the talk as much as a lost
/// one and moves everything after it.
const SHRINK_WAIT: f64 = 2.0;
/// The deepest copy the packet format can carry; deeper claims are garbage.
const MAX_COPY_DEPTH: u64 = 3;

/// The jitter buffer of one remote speaker. See the module docs for the call order.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    packets: BTreeMap<u64, Entry>,
    head: Option<u64>,
    state: State,
    /// Highest unwrapped sequence number seen (unwrapping reference).
    last_seq: Option<u64>,
    /// Highest unwrapped timestamp seen and the first one (stream origin).
    last_ts: Option<u64>,
    first_ts: u64,
    epoch: Option<Instant>,
    /// (arrival seconds since epoch, transit seconds) of recent packets.
    transits: VecDeque<(f64, f64)>,
    min_transit: f64,
    /// Measured jitter: the chosen percentile of transits above the fastest.
    spread: f64,
    target: f64,
    last_samples: usize,
    /// When the last loss was seen, seconds since epoch.
    last_loss: Option<f64>,
    /// When the last loss right after another loss was seen: only such bursts need copies
    /// from further back than the packet after.
    last_burst: Option<f64>,
    /// The furthest back, in packets, that redundant copies reached within the last
    /// `fec_hold`, and when (seconds since epoch).
    redundancy_seen: Option<(f64, u64)>,
    /// Sequence numbers already played (`true`) or given up as lost (`false`).
    history: HashMap<u64, bool>,
    history_order: VecDeque<u64>,
    implausible: Vec<u64>,
    /// Whether the audio played last was quiet, as the driver last said.
    quiet: bool,
    /// Since when (seconds since epoch) a change of delay waits for a quiet moment.
    stretch_waiting: Option<f64>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        let target = samples_to_duration(DEFAULT_PACKET_SAMPLES as u64).as_secs_f64();
        Self {
            config,
            packets: BTreeMap::new(),
            head: None,
            state: State::Idle,
            last_seq: None,
            last_ts: None,
            first_ts: 0,
            epoch: None,
            transits: VecDeque::new(),
            min_transit: 0.0,
            spread: 0.0,
            target,
            last_samples: DEFAULT_PACKET_SAMPLES,
            last_loss: None,
            last_burst: None,
            redundancy_seen: None,
            history: HashMap::new(),
            history_order: VecDeque::new(),
            implausible: Vec::new(),
            quiet: true,
            stretch_waiting: None,
            stats: JitterStats { target_delay: seconds(target), ..Default::default() },
        }
    }

    /// Counters and current delays.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// Tells the buffer whether the audio it handed out last was quiet (a pause, a stop
    /// consonant), where a frame inserted or skipped to change the delay goes unheard. A
    /// driver that never says so gets every change at once.
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// Packets waiting in the buffer.
    pub fn buffered_packets(&self) -> usize {
        self.packets.len()
    }

    /// Takes a packet that arrived at `now`. `samples` is its audio length.
    pub fn handle_packet(&mut self, now: Instant, packet: EncodedPacket, samples: usize) {
        if samples == 0 || samples > super::codec::MAX_PACKET_SAMPLES || packet.payload.is_empty() {
            self.stats.invalid += 1;
            return;
        }
        let seq = unwrap(self.last_seq, SEQ_BASE, u64::from(packet.sequence), 16);
        if let Some(head) = self.head {
            let jump = self.config.max_sequence_jump;
            if seq > head + jump || seq + jump < head {
                self.handle_implausible(now, packet, samples, seq);
                return;
            }
        }
        self.implausible.clear();
        if let Some(head) = self.head
            && seq < head
        {
            match self.history.get_mut(&seq) {
                Some(true) => self.stats.duplicates += 1,
                Some(arrived @ false) => {
                    // Given up as lost: it is late, and a second copy is a duplicate.
                    *arrived = true;
                    self.stats.late += 1;
                }
                None => self.stats.late += 1,
            }
            return;
        }
        if self.packets.get(&seq).is_some_and(|e| !e.redundant) {
            self.stats.duplicates += 1;
            return;
        }
        self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        let ts = unwrap(self.last_ts, TS_BASE, u64::from(packet.timestamp), 32);
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.saturating_duration_since(epoch).as_secs_f64();
        if self.last_ts.is_none() {
            self.first_ts = ts;
            if self.config.copies_at_start {
                self.redundancy_seen = Some((arrival, 1));
            }
        }
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        #[allow(clippy::cast_precision_loss)]
        let send = (ts as f64 - self.first_ts as f64) / f64::from(SAMPLE_RATE);
        self.record_transit(arrival, arrival - send);
        // Replaces a redundant copy of itself, if one came first: the same bytes, but now
        // it counts as received rather than lost.
        self.packets
            .insert(seq, Entry { payload: packet.payload, samples, send, redundant: false });
        self.stats.received += 1;
        self.enforce_bound();
    }

    /// Takes a copy of an earlier packet carried in packet `carrier` (a sequence number),
    /// which was just given to [`JitterBuffer::handle_packet`] at `now`. `samples` is the
    /// copy's audio length. Copies of packets buffered, played or given up already are the
    /// normal case and ignored without counting; a copy is kept only where the original is
    /// missing.
    pub fn handle_redundant(
        &mut self,
        now: Instant,
        carrier: u16,
        copy: RedundantFrame,
        samples: usize,
    ) {
        if samples == 0 || samples > super::codec::MAX_PACKET_SAMPLES || copy.payload.is_empty() {
            self.stats.invalid += 1;
            return;
        }
        // Copies never start or move a stream: they are only meaningful next to the
        // primary packets already seen.
        let Some(last_seq) = self.last_seq else { return };
        let carrier = unwrap(Some(last_seq), SEQ_BASE, u64::from(carrier), 16);
        let seq = unwrap(Some(carrier), SEQ_BASE, u64::from(copy.sequence), 16);
        // Depth is measured from the carrier, not from the newest packet, so a carrier
        // that was itself reordered does not pass for deep redundancy.
        let back = carrier.saturating_sub(seq);
        if back == 0 || back > MAX_COPY_DEPTH || carrier > last_seq {
            return;
        }
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.saturating_duration_since(epoch).as_secs_f64();
        // Held as long as a loss holds the FEC allowance: a sender whose loss estimate
        // wavers changes its depth often, and following each change would stretch or cut
        // the audio every time.
        let hold = self.config.fec_hold.as_secs_f64();
        let deeper = self.redundancy_seen.is_none_or(|(_, deepest)| back > deepest);
        // The deepest copies seen within the hold; shallower ones take over once the deep
        // ones have not been seen for that long (the sender lowered its depth).
        self.redundancy_seen = match self.redundancy_seen {
            Some((at, deepest)) if back < deepest && arrival - at < hold => Some((at, deepest)),
            _ => Some((arrival, back)),
        };
        if deeper {
            // Before the next packet's transit: the current head may be waiting for it.
            self.update_target(arrival);
        }
        let known = self.head.is_some_and(|h| seq < h)
            || self.packets.contains_key(&seq)
            || self.history.contains_key(&seq);
        if known {
            return;
        }
        let ts = unwrap(self.last_ts, TS_BASE, u64::from(copy.timestamp), 32);
        // Its transit is not recorded: it left with a later packet, so its lateness says
        // nothing about the network's jitter.
        #[allow(clippy::cast_precision_loss)]
        let send = (ts as f64 - self.first_ts as f64) / f64::from(SAMPLE_RATE);
        self.packets.insert(seq, Entry { payload: copy.payload, samples, send, redundant: true });
        self.enforce_bound();
    }

    /// A driver that stops polling (or a sender flooding us) must not grow memory without
    /// bound: beyond a full sequence window, the oldest packets go.
    fn enforce_bound(&mut self) {
        while self.packets.len() > 2 * self.config.max_sequence_jump as usize {
            if let Some((old, _)) = self.packets.pop_first() {
                self.remember(old, true);
                self.stats.skipped += 1;
                if self.head.is_some_and(|h| h <= old) {
                    self.head = Some(old + 1);
                }
            }
        }
    }

    /// What to play next, at `now`. Call whenever playback needs more audio.
    pub fn poll_playout(&mut self, now: Instant) -> Playout {
        let now_s = self.epoch.map_or(0.0, |e| now.saturating_duration_since(e).as_secs_f64());
        // Each loop either returns or advances the head, so it ends within the bounded
        // number of buffered packets plus the bounded sequence jump.
        loop {
            let head = match self.head {
                Some(h) => h,
                None => match self.packets.keys().next() {
                    Some(&first) => {
                        self.head = Some(first);
                        first
                    }
                    None => return Playout::Silence,
                },
            };
            if let Some(entry) = self.packets.get(&head) {
                let samples = entry.samples;
                let mut lateness = now_s - self.ideal(entry.send);
                if lateness.abs() > self.config.max_delay.as_secs_f64() + self.target {
                    // A timestamp jump the sequence numbers do not explain (sender restart,
                    // clock step, garbage): re-anchor on this packet and play it now.
                    let send = entry.send;
                    self.reanchor(now_s, send);
                    lateness = 0.0;
                }
                let frame = samples_to_duration(samples as u64).as_secs_f64();
                let state = self.state;
                match state {
                    State::Idle if lateness < -FRAME_DURATION.as_secs_f64() / 2.0 => {
                        return Playout::Silence;
                    }
                    State::Playing { .. } if lateness < -frame / 2.0 && self.may_grow(now_s) => {
                        self.stats.inserted += 1;
                        self.stats.concealed += 1;
                        return Playout::Conceal { samples: self.last_samples };
                    }
                    // Its slot was filled by a concealment while nothing was buffered (a copy
                    // or a late packet came after): playing it now would move everything
                    // after it a packet later in mid-word, which is worse than the one
                    // concealed packet it would replace.
                    State::Playing { concealed_in_row }
                        if concealed_in_row > 0 && !self.may_grow(now_s) =>
                    {
                        self.packets.remove(&head);
                        self.head = Some(head + 1);
                        self.state = State::Playing { concealed_in_row: concealed_in_row - 1 };
                        self.stats.lost += 1;
                        self.stats.late += 1;
                        self.note_loss(now_s, head);
                        continue;
                    }
                    _ => {}
                }
                if lateness > 1.5 * frame
                    && self.packets.contains_key(&(head + 1))
                    && self.may_shrink(now_s)
                {
                    self.stats.skipped += 1;
                    self.packets.remove(&head);
                    self.remember(head, true);
                    self.head = Some(head + 1);
                    continue;
                }
                let Some(entry) = self.packets.remove(&head) else {
                    return Playout::Silence;
                };
                self.head = Some(head + 1);
                if entry.redundant {
                    // The original is lost (or late, which for playback is the same).
                    self.stats.lost += 1;
                    self.stats.recovered_redundant += 1;
                    self.note_loss(now_s, head);
                } else {
                    self.remember(head, true);
                }
                if (-frame / 2.0..=1.5 * frame).contains(&lateness) {
                    // On schedule: no change of delay is waiting.
                    self.stretch_waiting = None;
                }
                self.state = State::Playing { concealed_in_row: 0 };
                self.last_samples = samples;
                self.stats.current_delay =
                    seconds((now_s - entry.send - self.min_transit).max(0.0));
                return Playout::Packet { sequence: seq16(head), payload: entry.payload, samples };
            }

            // The head packet is missing.
            let later = self.packets.range(head + 1..).next().map(|(&s, e)| (s, e.send, e.samples));
            let Some((next_seq, next_send, next_samples)) = later else {
                // Nothing buffered: a loss, a late packet, or the end of a talk spurt.
                return match self.state {
                    State::Playing { concealed_in_row }
                        if samples_to_duration(
                            self.last_samples as u64 * u64::from(concealed_in_row + 1),
                        ) <= self.config.max_conceal =>
                    {
                        self.state = State::Playing { concealed_in_row: concealed_in_row + 1 };
                        self.stats.concealed += 1;
                        Playout::Conceal { samples: self.last_samples }
                    }
                    _ => {
                        self.state = State::Idle;
                        Playout::Silence
                    }
                };
            };
            #[allow(clippy::cast_precision_loss)]
            let head_send = next_send
                - (next_seq - head) as f64 * samples_to_duration(next_samples as u64).as_secs_f64();
            let lateness = now_s - self.ideal(head_send);
            let frame = samples_to_duration(self.last_samples as u64).as_secs_f64();
            if lateness < -frame / 2.0
                && lateness.abs() <= self.config.max_delay.as_secs_f64()
                && (self.state == State::Idle || self.may_grow(now_s))
            {
                // Its turn has not come: it may still arrive.
                return match self.state {
                    State::Idle => Playout::Silence,
                    State::Playing { .. } => {
                        self.stats.inserted += 1;
                        self.stats.concealed += 1;
                        Playout::Conceal { samples: self.last_samples }
                    }
                };
            }
            self.stats.lost += 1;
            self.note_loss(now_s, head);
            self.head = Some(head + 1);
            if let State::Playing { concealed_in_row } = self.state
                && concealed_in_row > 0
            {
                // Its time slot was already filled by a concealment given while nothing was
                // buffered; filling it again would add a packet of delay.
                self.state = State::Playing { concealed_in_row: concealed_in_row - 1 };
                continue;
            }
            match self.state {
                // After silence there is nothing to conceal: move on to what we have.
                State::Idle => continue,
                State::Playing { .. } if next_seq == head + 1 => {
                    let Some(next) = self.packets.get(&next_seq) else { continue };
                    self.stats.recovered_fec += 1;
                    return Playout::Fec {
                        sequence: seq16(head),
                        payload: next.payload.clone(),
                        samples: next_samples,
                    };
                }
                State::Playing { .. } => {
                    self.stats.concealed += 1;
                    return Playout::Conceal { samples: self.last_samples };
                }
            }
        }
    }

    /// Whether the delay may grow now: in a quiet moment, or once the change has waited
    /// `max_grow_wait` for one (a talker who never pauses still gets it).
    fn may_grow(&mut self, now_s: f64) -> bool {
        if self.quiet {
            self.stretch_waiting = None;
            return true;
        }
        let since = *self.stretch_waiting.get_or_insert(now_s);
        if now_s - since >= self.config.max_grow_wait.as_secs_f64() {
            self.stretch_waiting = None;
            return true;
        }
        false
    }

    /// Whether the delay may shrink now (see [`SHRINK_WAIT`]).
    fn may_shrink(&mut self, now_s: f64) -> bool {
        let waited = now_s - *self.stretch_waiting.get_or_insert(now_s);
        if (self.quiet && waited >= SHRINK_WAIT) || waited >= 2.0 * SHRINK_WAIT {
            self.stretch_waiting = None;
            return true;
        }
        false
    }

    fn ideal(&self, send: f64) -> f64 {
        send + self.min_transit + self.target
    }

    fn record_transit(&mut self, arrival: f64, transit: f64) {
        self.transits.push_back((arrival, transit));
        let horizon = arrival - self.config.window.as_secs_f64();
        while self.transits.len() > 1
            && (self.transits.front().is_some_and(|(a, _)| *a < horizon)
                || self.transits.len() > 1000)
        {
            self.transits.pop_front();
        }
        let mut sorted: Vec<f64> = self.transits.iter().map(|(_, t)| *t).collect();
        sorted.sort_by(f64::total_cmp);
        self.min_transit = sorted.first().copied().unwrap_or(transit);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let idx =
            ((sorted.len() - 1) as f64 * self.config.percentile.clamp(0.0, 1.0)).round() as usize;
        self.spread = sorted.get(idx).copied().unwrap_or(transit) - self.min_transit;
        self.update_target(arrival);
    }

    fn update_target(&mut self, now_s: f64) {
        let one_packet = samples_to_duration(self.last_samples as u64).as_secs_f64();
        let hold = self.config.fec_hold.as_secs_f64();
        // A sender carrying copies expects loss: wait for them from the start of a talk
        // spurt, rather than stretching one mid-word after the first loss. Copies from two
        // packets back are waited for only once losses in a row have been seen: at 10 %
        // random loss a sender's (or the relay's) noisy loss reports often
        // ask for two copies, and waiting for the second cost 20 ms of delay, stretched in
        // mid-word, to bridge one loss in a hundred packets (measured on the real path).
        let burst = self.last_burst.is_some_and(|at| now_s - at < hold);
        // A sender starts every call with a copy until it hears how its link does: waited
        // for from the first packet, so a lossy link is covered from the first word without
        // stretching one. Where nothing is lost that wait ends soon after the copies do.
        let lossy = self.last_loss.is_some_and(|at| now_s - at < hold);
        let copies_hold = if lossy { hold } else { UNCONFIRMED_COPIES_HOLD };
        let copies_lag = match self.redundancy_seen {
            Some((at, deepest)) if now_s - at < copies_hold => {
                if burst {
                    deepest
                } else {
                    deepest.min(1)
                }
            }
            _ => 0,
        };
        let fec_lag = match self.last_loss {
            Some(at) if now_s - at < hold => 1,
            _ => 0,
        };
        // Half a packet at least: playout runs on 10 ms ticks that wobble against the
        // packets' arrival, and a packet may start playing up to half its length early, so
        // less would conceal on a clean network; a whole packet (as before) cost 10 ms of
        // mouth-to-ear at 20 ms packets for nothing.
        let wobble = one_packet / 2.0;
        // The allowance goes on top of that floor (below it, it would vanish whenever the
        // jitter is small), with another half packet: the lost packet's turn may come half
        // a packet early, and the copy travels exactly `lag` packets behind it, so without
        // it copies from two back arrived just too late in bursts.
        let lag = copies_lag.max(fec_lag);
        #[allow(clippy::cast_precision_loss)]
        let allowance = if lag > 0 { one_packet * lag as f64 + wobble } else { 0.0 };
        self.target = ((self.spread + self.config.margin.as_secs_f64()).max(wobble) + allowance)
            .min(self.config.max_delay.as_secs_f64().max(one_packet));
        self.stats.target_delay = seconds(self.target);
    }

    fn reanchor(&mut self, now_s: f64, send: f64) {
        self.stats.resyncs += 1;
        self.transits.clear();
        // Recorded as if this packet had waited the whole target on the fastest path, so its
        // ideal time is now and the packets after it line up behind it.
        self.record_transit(now_s, now_s - send - self.target);
    }

    fn handle_implausible(
        &mut self,
        now: Instant,
        packet: EncodedPacket,
        samples: usize,
        seq: u64,
    ) {
        self.stats.invalid += 1;
        // Three consecutive packets agreeing on a new position mean the sender restarted.
        let follows = self.implausible.last().is_none_or(|&last| seq == last + 1);
        if !follows {
            self.implausible.clear();
        }
        self.implausible.push(seq);
        if self.implausible.len() >= 3 {
            self.stats.invalid = self.stats.invalid.saturating_sub(3);
            self.stats.resyncs += 1;
            self.packets.clear();
            self.head = None;
            self.state = State::Idle;
            self.last_seq = None;
            self.last_ts = None;
            self.epoch = None;
            self.transits.clear();
            self.history.clear();
            self.history_order.clear();
            self.implausible.clear();
            // The two earlier packets of the new stream are gone; start from this one.
            self.handle_packet(now, packet, samples);
        }
    }

    /// Records that `seq` was lost (whether a copy stood in or not).
    fn note_loss(&mut self, now_s: f64, seq: u64) {
        self.last_loss = Some(now_s);
        if seq.checked_sub(1).is_some_and(|before| self.history.get(&before) == Some(&false)) {
            self.last_burst = Some(now_s);
        }
        self.remember(seq, false);
    }

    fn remember(&mut self, seq: u64, played: bool) {
        if self.history.insert(seq, played).is_none() {
            self.history_order.push_back(seq);
            if self.history_order.len() > HISTORY
                && let Some(old) = self.history_order.pop_front()
            {
                self.history.remove(&old);
            }
        }
    }
}

/// Unwraps a `bits`-wide counter into u64, choosing the value closest to `reference`.
fn unwrap(reference: Option<u64>, base: u64, value: u64, bits: u32) -> u64 {
    let Some(r) = reference else { return base + value };
    let span = 1u64 << bits;
    let candidate = (r & !(span - 1)) | value;
    let mut best = candidate;
    for c in [candidate.wrapping_sub(span), candidate + span] {
        if c.abs_diff(r) < best.abs_diff(r) {
            best = c;
        }
    }
    best
}

/// Seconds to a duration; absurd values (from absurd timestamps) saturate, never panic.
fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(if s > 0.0 { Duration::MAX } else { Duration::ZERO })
}

#[allow(clippy::cast_possible_truncation)]
fn seq16(seq: u64) -> u16 {
    seq as u16
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
