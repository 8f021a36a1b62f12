//! 64-bit time-ordered identifiers ("snowflakes").
//!
//! Layout, most significant bit first: 1 unused bit (so every ID fits a signed 64-bit
//! database column), 41 bits of milliseconds since [`EPOCH_UNIX_MS`] (about 69 years),
//! 10 bits of node id (so several server nodes can mint IDs without talking to each
//! other) and 12 bits of per-millisecond sequence. Sorting IDs sorts by creation time,
//! which lets message history paginate by ID alone.
//!
//! On the wire IDs are JSON *strings*: JavaScript numbers lose precision above 2^53.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 2026-01-01T00:00:00Z; starting late keeps the 41-bit timestamp useful until 2095.
pub const EPOCH_UNIX_MS: u64 = 1_767_225_600_000;
pub const NODE_BITS: u32 = 10;
pub const SEQUENCE_BITS: u32 = 12;
pub const TIMESTAMP_BITS: u32 = 41;
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;
const MAX_SEQUENCE: u64 = (1 << SEQUENCE_BITS) - 1;
const MAX_TIMESTAMP: u64 = (1 << TIMESTAMP_BITS) - 1;

/// A raw time-ordered ID. Typed wrappers such as [`UserId`] keep kinds apart.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Snowflake(#[cfg_attr(feature = "specta", specta(type = String))] u64);

impl Snowflake {
    /// Builds an ID from its parts; returns `None` when a part does not fit its bits.
    pub fn from_parts(ms_since_epoch: u64, node: u16, sequence: u64) -> Option<Self> {
        if ms_since_epoch > MAX_TIMESTAMP || node > MAX_NODE_ID || sequence > MAX_SEQUENCE {
            return None;
        }
        Some(Self(
            (ms_since_epoch << (NODE_BITS + SEQUENCE_BITS))
                | (u64::from(node) << SEQUENCE_BITS)
                | sequence,
        ))
    }

    /// The Unix time in milliseconds at which this ID was minted.
    pub fn unix_ms(self) -> u64 {
        (self.0 >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_UNIX_MS
    }

    pub fn node(self) -> u16 {
        // Masked to NODE_BITS, so the cast cannot truncate.
        ((self.0 >> SEQUENCE_BITS) & u64::from(MAX_NODE_ID)) as u16
    }

    pub fn sequence(self) -> u64 {
        self.0 & MAX_SEQUENCE
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// Databases store IDs as signed BIGINT; the top bit is always clear.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    /// Accepts only values a generator could have produced (non-negative).
    pub fn from_i64(raw: i64) -> Option<Self> {
        u64::try_from(raw).ok().map(Self)
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a string is not an ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId;

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid ID: expected a decimal number below 2^63")
    }
}

impl std::error::Error for InvalidId {}

impl FromStr for Snowflake {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `u64::from_str` accepts a leading '+', which would give one ID two spellings.
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidId);
        }
        let raw: u64 = s.parse().map_err(|_| InvalidId)?;
        if raw > i64::MAX as u64 {
            return Err(InvalidId);
        }
        Ok(Self(raw))
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Snowflake {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]{1,19}$"))
            .description(Some("64-bit time-ordered ID as a decimal string"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Snowflake {}

/// Mints unique, increasing IDs for one node. Pure: the caller passes the current time,
/// so tests can drive it through clock jumps without sleeping.
#[derive(Debug, Clone)]
pub struct SnowflakeGenerator {
    node: u16,
    last_ms: u64,
    sequence: u64,
}

impl SnowflakeGenerator {
    /// `node` is masked to [`NODE_BITS`]; configuration validates the range beforehand.
    pub fn new(node: u16) -> Self {
        Self { node: node & MAX_NODE_ID, last_ms: 0, sequence: 0 }
    }

    /// Returns the next ID for a wall-clock reading of `now_unix_ms`.
    ///
    /// If the clock steps backwards, IDs keep counting from the last timestamp used
    /// rather than repeating; if one millisecond's 4096 sequence numbers run out, the
    /// generator borrows the next millisecond. Either way IDs never repeat or go down.
    pub fn next_id(&mut self, now_unix_ms: u64) -> Snowflake {
        let now = now_unix_ms.saturating_sub(EPOCH_UNIX_MS).min(MAX_TIMESTAMP);
        if now > self.last_ms {
            self.last_ms = now;
            self.sequence = 0;
        } else if self.sequence < MAX_SEQUENCE {
            self.sequence += 1;
        } else {
            self.last_ms = (self.last_ms + 1).min(MAX_TIMESTAMP);
            self.sequence = 0;
        }
        Snowflake(
            (self.last_ms << (NODE_BITS + SEQUENCE_BITS))
                | (u64::from(self.node) << SEQUENCE_BITS)
                | self.sequence,
        )
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "123456789012345678"))]
        pub struct $name(pub Snowflake);

        impl $name {
            pub fn as_i64(self) -> i64 {
                self.0.as_i64()
            }

            pub fn from_i64(raw: i64) -> Option<Self> {
                Snowflake::from_i64(raw).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl From<Snowflake> for $name {
            fn from(id: Snowflake) -> Self {
                Self(id)
            }
        }
    };
}

typed_id!(
    /// An account.
    UserId
);
typed_id!(
    /// One login on one device; its refresh tokens form one rotation family.
    SessionId
);
typed_id!(
    /// A community ("server", a guild in Discord's words).
    ServerId
);
typed_id!(
    /// A text, voice or category channel.
    ChannelId
);
typed_id!(
    /// A role. A server's `@everyone` role has the server's ID.
    RoleId
);
typed_id!(
    /// A chat message; IDs increase with time, so history pages by ID.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let id = Snowflake::from_parts(123_456, 17, 4095).expect("parts fit");
        assert_eq!(id.unix_ms(), EPOCH_UNIX_MS + 123_456);
        assert_eq!(id.node(), 17);
        assert_eq!(id.sequence(), 4095);
        assert_eq!(Snowflake::from_i64(id.as_i64()), Some(id));
        assert!(Snowflake::from_parts(1 << 41, 0, 0).is_none());
        assert!(Snowflake::from_parts(0, 1024, 0).is_none());
        assert!(Snowflake::from_parts(0, 0, 4096).is_none());
        assert_eq!(Snowflake::from_i64(-1), None);
    }

    #[test]
    fn serializes_as_string_and_rejects_numbers() {
        let id = UserId(Snowflake::from_parts(1, 2, 3).expect("parts fit"));
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, format!("\"{}\"", id.0.get()));
        assert_eq!(serde_json::from_str::<UserId>(&json).expect("parses"), id);
        assert!(serde_json::from_str::<UserId>("12345").is_err());
        for bad in ["\"\"", "\"-1\"", "\"+5\"", "\"9223372036854775808\"", "\"1e3\"", "\" 1\""] {
            assert!(serde_json::from_str::<UserId>(bad).is_err(), "{bad} accepted");
        }
        assert!(serde_json::from_str::<UserId>("\"9223372036854775807\"").is_ok());
    }

    #[test]
    fn generator_is_strictly_increasing_through_bursts_and_clock_steps() {
        let mut g = SnowflakeGenerator::new(5);
        let t = EPOCH_UNIX_MS + 1_000;
        let mut last = g.next_id(t);
        // 10 000 IDs in one millisecond overflow the 4096 sequence numbers twice.
        for _ in 0..10_000 {
            let id = g.next_id(t);
            assert!(id > last);
            last = id;
        }
        // The clock stepping back an hour must not produce a smaller ID.
        let id = g.next_id(t - 3_600_000);
        assert!(id > last);
        assert_eq!(id.node(), 5);
        last = id;
        let id = g.next_id(t + 10);
        assert!(id > last);
        assert_eq!(id.unix_ms(), t + 10);
        assert_eq!(id.sequence(), 0);
    }

    #[test]
    fn nodes_never_collide() {
        let mut a = SnowflakeGenerator::new(1);
        let mut b = SnowflakeGenerator::new(2);
        let t = EPOCH_UNIX_MS + 42;
        let ids_a: Vec<_> = (0..100).map(|_| a.next_id(t)).collect();
        let ids_b: Vec<_> = (0..100).map(|_| b.next_id(t)).collect();
        assert!(ids_a.iter().all(|id| !ids_b.contains(id)));
    }
}
