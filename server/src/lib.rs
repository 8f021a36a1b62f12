//! The AuraSpeak server: accounts and sessions today; communities, chat, the realtime
//! gateway and the voice relay as they arrive, all in one binary.
//!
//! Layers, outside in: `api` (axum handlers, extractors, middleware; `app()` builds the
//! router) → services (`accounts`) → `store` (one trait, SQLite and PostgreSQL
//! backends). `serve` wires them to a socket; `config` is the one typed configuration,
//! passed in rather than read from globals.

pub mod account_limits;
pub mod accounts;
pub mod acme;
pub mod admin;
pub mod api;
pub mod auth;
pub mod community;
pub mod config;
pub mod connections;
pub mod error;
pub mod events;
pub mod gateway;
pub mod ids;
pub mod logging;
pub mod login_guard;
pub mod metrics;
pub mod private_files;
pub mod proxy;
pub mod rate_limit;
pub mod serve;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod voice;

pub use config::Config;
pub use error::Error;
pub use serve::{RunningServer, start};
