//! The server's ID minting: the pure generator from `shared` behind a lock, fed with the
//! wall clock.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use auraspeak_shared::{Snowflake, SnowflakeGenerator};

/// Current Unix time in milliseconds. A clock before 1970 reads as 0 rather than failing.
pub fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug)]
pub struct IdGenerator {
    inner: Mutex<SnowflakeGenerator>,
}

impl IdGenerator {
    pub fn new(node_id: u16) -> Self {
        Self { inner: Mutex::new(SnowflakeGenerator::new(node_id)) }
    }

    pub fn next(&self) -> Snowflake {
        let now = u64::try_from(unix_ms_now()).unwrap_or(0);
        // A poisoned lock only means another thread panicked mid-`next_id`, which leaves
        // the generator's two integers consistent; keep minting.
        let mut generator = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        generator.next_id(now)
    }
}
