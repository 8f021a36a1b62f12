//! The per-session replay buffer that makes RESUME lossless: a bounded ring of the last
//! dispatched events with their sequence numbers. Sans-IO: no clock, no sockets; the
//! caller passes time in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Why a resume cannot be honoured; the client must identify again and re-sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeError {
    /// Events after the client's sequence were already dropped from the buffer.
    TooFarBehind,
    /// The client claims a sequence the server never sent.
    FromTheFuture,
}

/// Generic over the stored item so the gateway can keep each event already encoded
/// (encoded once per event, not once per session) while tests use anything cheap.
#[derive(Debug)]
pub struct ResumeBuffer<T> {
    capacity: usize,
    /// (seq, event), oldest first, consecutive sequence numbers.
    events: VecDeque<(u64, T)>,
    last_seq: u64,
    /// When the connection went away; `None` while one is attached.
    detached_since: Option<Instant>,
}

impl<T: Clone> ResumeBuffer<T> {
    pub fn new(capacity: usize, now: Instant) -> Self {
        Self {
            capacity: capacity.max(1),
            events: VecDeque::new(),
            last_seq: 0,
            detached_since: Some(now),
        }
    }

    /// Appends an event and returns its sequence number.
    pub fn handle_event(&mut self, event: T) -> u64 {
        self.last_seq += 1;
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back((self.last_seq, event));
        self.last_seq
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Events after `seq`, in order, or why they cannot all be given.
    pub fn poll_after(&self, seq: u64) -> Result<Vec<(u64, T)>, ResumeError> {
        if seq > self.last_seq {
            return Err(ResumeError::FromTheFuture);
        }
        if seq == self.last_seq {
            return Ok(Vec::new());
        }
        match self.events.front() {
            Some((first, _)) if *first <= seq + 1 => {
                let skip = usize::try_from(seq + 1 - first).unwrap_or(usize::MAX);
                Ok(self.events.iter().skip(skip).cloned().collect())
            }
            _ => Err(ResumeError::TooFarBehind),
        }
    }

    pub fn handle_attach(&mut self) {
        self.detached_since = None;
    }

    pub fn handle_detach(&mut self, now: Instant) {
        self.detached_since = Some(now);
    }

    /// When the connection went away; `None` while one is attached.
    pub fn detached_since(&self) -> Option<Instant> {
        self.detached_since
    }

    /// True once a detached session has waited longer than `window` for a resume.
    pub fn is_expired(&self, now: Instant, window: Duration) -> bool {
        self.detached_since.is_some_and(|since| now.saturating_duration_since(since) > window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: u64) -> String {
        format!("event {n}")
    }

    #[test]
    fn replays_exactly_what_was_missed() {
        let t0 = Instant::now();
        let mut buf = ResumeBuffer::new(4, t0);
        for n in 1..=3 {
            assert_eq!(buf.handle_event(ev(n)), n);
        }
        let seqs = |r: Vec<(u64, String)>| r.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
        assert_eq!(seqs(buf.poll_after(0).expect("all")), vec![1, 2, 3]);
        assert_eq!(seqs(buf.poll_after(2).expect("tail")), vec![3]);
        assert!(buf.poll_after(3).expect("none").is_empty());
        assert_eq!(buf.poll_after(4).unwrap_err(), ResumeError::FromTheFuture);
        for n in 4..=7 {
            buf.handle_event(ev(n));
        }
        // Capacity 4 keeps 4..=7: from 3 is fine, from 2 lost event 3.
        assert_eq!(seqs(buf.poll_after(3).expect("kept")), vec![4, 5, 6, 7]);
        assert_eq!(buf.poll_after(2).unwrap_err(), ResumeError::TooFarBehind);
    }

    #[test]
    fn expiry_counts_only_detached_time() {
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        let mut buf = ResumeBuffer::<String>::new(8, t0);
        buf.handle_attach();
        assert!(!buf.is_expired(t0 + Duration::from_secs(3600), window), "attached never expires");
        buf.handle_detach(t0 + Duration::from_secs(10));
        assert!(!buf.is_expired(t0 + Duration::from_secs(69), window));
        assert!(buf.is_expired(t0 + Duration::from_secs(71), window));
    }
}
