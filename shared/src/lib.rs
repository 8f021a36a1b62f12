//! The AuraSpeak wire contract, shared by the server, the client core and the desktop shell.
//!
//! Everything here is plain data and pure functions: request and response bodies of the
//! REST API (`v1`), the stable error codes clients branch on, 64-bit time-ordered IDs and
//! the validation limits both sides enforce. Nothing in this crate performs IO or reads
//! the clock, so the same rules run in the server, in tests and in the UI's Rust side.
//!
//! Compatibility rule: enums and structs that cross the wire are only appended to, never
//! reordered or renamed, so older clients keep understanding newer servers.

pub mod error;
pub mod ids;
pub mod limits;
pub mod mentions;
pub mod permissions;
pub mod red;
pub mod v1;

pub use error::{ErrorBody, ErrorCode, ErrorDetail, FieldError};
pub use ids::{
    ChannelId, MessageId, RoleId, ServerId, SessionId, Snowflake, SnowflakeGenerator, UserId,
};
pub use permissions::Permissions;
