//! Reconnect delays: exponential with jitter, so a server restart is not met by every
//! client reconnecting in the same instant.

use std::time::Duration;

pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    /// xorshift64 state: reproducible from the seed, and enough randomness for jitter.
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration, seed: u64) -> Self {
        // xorshift has one fixed point, zero.
        Self { base, max, rng: seed.max(1) }
    }

    /// The delay before reconnect attempt `attempt` (0 for the first after a drop):
    /// between half and all of `base * 2^attempt`, capped at `max`.
    pub(crate) fn delay(&mut self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1 << attempt.min(20)).min(self.max);
        let fraction = 0.5 + 0.5 * (self.next() as f64 / u64::MAX as f64);
        ceiling.mul_f64(fraction)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_the_cap() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(30);
        let mut b = Backoff::new(base, max, 42);
        for attempt in 0..12 {
            let ceiling = base.saturating_mul(1 << attempt).min(max);
            let d = b.delay(attempt);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?} vs {ceiling:?}");
        }
        assert!(b.delay(u32::MAX) <= max, "huge attempt counts do not overflow");
    }

    #[test]
    fn same_seed_same_schedule_different_seed_different_schedule() {
        let schedule = |seed| {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), seed);
            (0..5).map(|a| b.delay(a)).collect::<Vec<_>>()
        };
        assert_eq!(schedule(7), schedule(7));
        assert_ne!(schedule(7), schedule(8));
        assert_eq!(schedule(0).len(), 5, "a zero seed still produces delays");
    }
}
