//! A seeded network emulator for tests: loss (random and bursty), delay with jitter,
//! reordering and duplication, in simulated time. Available to this crate's tests and, with
//! the `test-support` feature, to other crates' tests.
//!
//! Seeded so a failing run reproduces exactly; our own small PRNG so results do not change
//! when a dependency's generator does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// SplitMix64: tiny, fast, good enough statistics for test noise and network models.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let v = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        v
    }

    /// Uniform in [-1, 1), as audio noise.
    pub fn next_signed(&mut self) -> f32 {
        #[allow(clippy::cast_possible_truncation)]
        let v = (self.next_f64() * 2.0 - 1.0) as f32;
        v
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

/// Impairments applied to every packet.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Probability of losing a packet while the link is in its good state.
    pub loss: f64,
    /// Probability per packet of entering a loss burst (Gilbert–Elliott bad state).
    pub burst_start: f64,
    /// Probability per packet of leaving a burst; bursts last 1/`burst_end` packets on average.
    pub burst_end: f64,
    /// Delay every packet has.
    pub base_delay: Duration,
    /// Extra delay, uniform in [0, `jitter`], per packet; packets overtake each other when it
    /// exceeds the packet interval.
    pub jitter: Duration,
    /// Probability that a packet is held back an extra `reorder_delay`.
    pub reorder: f64,
    /// Extra delay of reordered packets.
    pub reorder_delay: Duration,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            loss: 0.0,
            burst_start: 0.0,
            burst_end: 0.5,
            base_delay: Duration::from_millis(30),
            jitter: Duration::ZERO,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(30),
            duplicate: 0.0,
        }
    }
}

/// What the emulator did, to check receivers' statistics against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Packets handed to [`NetworkEmulator::send`].
    pub sent: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Packets given the reorder delay.
    pub reordered: u64,
}

/// One direction of a link. Call [`NetworkEmulator::send`] as the sender emits and drain
/// [`NetworkEmulator::poll_delivery`] at each step of simulated time.
#[derive(Debug)]
pub struct NetworkEmulator<T> {
    config: NetworkConfig,
    rng: SplitMix64,
    in_burst: bool,
    // Ordered by delivery time, then by send order so equal times keep FIFO order.
    queue: BinaryHeap<Reverse<(Instant, u64, Slot<T>)>>,
    counter: u64,
    stats: NetworkStats,
}

// A wrapper that makes the heap ignore the payload when ordering.
#[derive(Debug)]
struct Slot<T>(T);
impl<T> PartialEq for Slot<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T> Eq for Slot<T> {}
impl<T> PartialOrd for Slot<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Slot<T> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<T: Clone> NetworkEmulator<T> {
    /// An emulator with the given impairments and seed.
    pub fn new(config: NetworkConfig, seed: u64) -> Self {
        Self {
            config,
            rng: SplitMix64::new(seed),
            in_burst: false,
            queue: BinaryHeap::new(),
            counter: 0,
            stats: NetworkStats::default(),
        }
    }

    /// Sends a packet at `now`.
    pub fn send(&mut self, now: Instant, packet: T) {
        self.stats.sent += 1;
        let c = &self.config;
        if self.in_burst {
            if self.rng.chance(c.burst_end) {
                self.in_burst = false;
            }
        } else if self.rng.chance(c.burst_start) {
            self.in_burst = true;
        }
        let lost = self.in_burst || self.rng.chance(c.loss);
        if lost {
            self.stats.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(c.duplicate) { 2 } else { 1 };
        for copy in 0..copies {
            let c = &self.config;
            let mut delay = c.base_delay + c.jitter.mul_f64(self.rng.next_f64());
            if copy == 0 && self.rng.chance(c.reorder) {
                delay += c.reorder_delay;
                self.stats.reordered += 1;
            }
            if copy == 1 {
                self.stats.duplicated += 1;
            }
            self.counter += 1;
            self.queue.push(Reverse((now + delay, self.counter, Slot(packet.clone()))));
        }
    }

    /// The next packet due at or before `now`, with its delivery time.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<(Instant, T)> {
        let due = self.queue.peek().is_some_and(|Reverse((at, _, _))| *at <= now);
        if !due {
            return None;
        }
        self.queue.pop().map(|Reverse((at, _, Slot(p)))| (at, p))
    }

    /// What the emulator has done so far.
    pub fn stats(&self) -> &NetworkStats {
        &self.stats
    }
}
