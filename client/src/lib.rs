//! AuraSpeak client core: everything a client does that is not user interface, shared by the
//! desktop app (Tauri) and the headless CLI. It knows nothing of Tauri.
//!
//! [`api`] is the REST client (transparent token refresh, stable error codes) and
//! [`gateway`] the realtime connection (heartbeats, resume, re-sync), driven by a pure
//! session state machine. [`profile`] keeps a logged-in session on disk for the CLI and
//! [`follow`] turns history plus live events into one gap-free message stream;
//! [`resolve`] finds servers and channels by name for people typing commands;
//! [`store`] is the desktop app's local SQLite store (known servers, settings, message cache).
//!
//! It also holds the voice engine ([`voice`]): the capture chain from microphone frames to
//! Opus packets and the receive chain from packets to the mixed playback signal. The engine
//! takes and gives encoded packets with timestamps; which transport carries them is the
//! caller's business. Its protocol-like parts (jitter buffer, transmit gate) are state
//! machines with time as an input, so they are tested in simulated time.

pub mod api;
pub mod call;
pub mod error;
pub mod follow;
pub mod gateway;
pub mod media;
pub mod profile;
pub mod resolve;
mod secrets;
pub mod store;
pub mod tls;
pub mod voice;

pub use error::{ConnectFailure, Error, Result};
