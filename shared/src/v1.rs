//! Version 1 of the REST API, served under `/api/v1`.
//!
//! Request bodies reject unknown fields: a typo in a field name is reported instead of
//! silently ignored. Timestamps are Unix milliseconds (exact in JavaScript until 2255).

pub mod auth;
pub mod channels;
pub mod gateway;
pub mod messages;
pub mod servers;
pub mod users;
pub mod voice;
