//! Tauri commands, one module per feature. Each is a thin call into the client crate.

pub mod chat;
pub mod roles;
pub mod servers;
pub mod session;
pub mod settings;
pub mod voice;

use std::str::FromStr;

use crate::error::{CommandError, CommandResult};

/// IDs arrive from the UI as decimal strings.
fn parse_id<T: FromStr>(raw: &str, what: &str) -> CommandResult<T> {
    raw.parse().map_err(|_| {
        CommandError::new("invalid_input", format!("{raw:?} is not a valid {what} id"))
    })
}
