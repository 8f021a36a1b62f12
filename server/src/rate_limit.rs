//! Keyed token buckets for rate limits: per client IP on the account routes, and per
//! account for failed logins. Time is an input (`now`), so tests drive it without sleeps.
//!
//! A bucket holds up to `capacity` tokens and refills continuously at `per_second`. A
//! request takes one token or is refused with the time until one is available, which
//! becomes the `Retry-After` header.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked keys, full (idle) buckets are dropped: a full bucket carries no
/// information, so forgetting it changes no decision and bounds memory under IP floods.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
pub struct KeyedLimiter<K> {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// `capacity` requests at once, refilled at `per_period` per `period`.
    pub fn new(capacity: u32, per_period: u32, period: Duration) -> Self {
        let capacity = f64::from(capacity.max(1));
        let per_second = f64::from(per_period.max(1)) / period.as_secs_f64().max(1e-3);
        Self { capacity, per_second, buckets: Mutex::new(HashMap::new()) }
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.capacity);
        bucket.updated = now;
    }

    fn wait_for_one(&self, bucket: &Bucket) -> Duration {
        Duration::from_secs_f64(((1.0 - bucket.tokens) / self.per_second).max(0.0))
    }

    fn with_bucket<T>(&self, key: &K, now: Instant, f: impl FnOnce(&mut Bucket) -> T) -> T {
        // The map holds plain numbers; a panic elsewhere cannot leave it inconsistent.
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            let (capacity, per_second) = (self.capacity, self.per_second);
            map.retain(|_, b| {
                let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
                b.tokens + elapsed * per_second < capacity
            });
        }
        let bucket =
            map.entry(key.clone()).or_insert(Bucket { tokens: self.capacity, updated: now });
        self.refill(bucket, now);
        f(bucket)
    }

    /// Takes a token, or says how long until one is available.
    pub fn try_acquire(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.with_bucket(key, now, |bucket| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(self.wait_for_one(bucket))
            }
        })
    }

    /// Like [`Self::try_acquire`] but takes nothing: for limits that only count failures.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.with_bucket(key, now, |bucket| {
            if bucket.tokens >= 1.0 { Ok(()) } else { Err(self.wait_for_one(bucket)) }
        })
    }

    /// Records one event against the key (a failed login), even if the bucket is empty.
    pub fn consume(&self, key: &K, now: Instant) {
        self.with_bucket(key, now, |bucket| bucket.tokens = (bucket.tokens - 1.0).max(0.0));
    }

    pub fn tracked_keys(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = KeyedLimiter::new(3, 60, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.try_acquire(&"ip", t0).is_ok());
        }
        let wait = limiter.try_acquire(&"ip", t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900), "{wait:?}");
        // Other keys are unaffected.
        assert!(limiter.try_acquire(&"other", t0).is_ok());
        // One token per second comes back.
        assert!(limiter.try_acquire(&"ip", t0 + Duration::from_millis(1001)).is_ok());
        assert!(limiter.try_acquire(&"ip", t0 + Duration::from_millis(1002)).is_err());
        assert!(limiter.try_acquire(&"ip", t0 + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn failure_counting_checks_without_taking() {
        let limiter = KeyedLimiter::new(2, 2, Duration::from_secs(3600));
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check(&"acct", t0).is_ok(), "checking alone never exhausts");
        }
        limiter.consume(&"acct", t0);
        limiter.consume(&"acct", t0);
        let wait = limiter.check(&"acct", t0).unwrap_err();
        assert!(wait > Duration::from_secs(1700), "{wait:?}");
        assert!(limiter.check(&"acct", t0 + Duration::from_secs(1801)).is_ok());
    }

    #[test]
    fn idle_keys_are_pruned() {
        let limiter = KeyedLimiter::new(1, 1, Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            let _ = limiter.try_acquire(&i, t0);
        }
        let _ = limiter.try_acquire(&usize::MAX, t0 + Duration::from_secs(5));
        assert!(limiter.tracked_keys() < 10, "{}", limiter.tracked_keys());
    }
}
