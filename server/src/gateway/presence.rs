//! Who is online. A user is online while at least one gateway connection is attached;
//! the status they pick (online, idle, do-not-disturb, invisible) applies to all of them.
//! Invisible users look offline to everyone else.
//!
//! This map is per process: with several nodes, presence needs the shared bus (a later
//! issue) so that each node can merge the others' connection counts.

use std::collections::HashMap;
use std::sync::Mutex;

use auraspeak_shared::v1::gateway::PresenceStatus;

#[derive(Debug, Default)]
pub struct Presence {
    users: Mutex<HashMap<i64, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    connections: u32,
    chosen: PresenceStatus,
}

/// What others see for a chosen status.
fn shown(status: PresenceStatus) -> PresenceStatus {
    match status {
        PresenceStatus::Invisible | PresenceStatus::Offline => PresenceStatus::Offline,
        other => other,
    }
}

impl Presence {
    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection attached. Returns the status to announce if others' view changed.
    pub fn handle_connect(&self, user: i64) -> Option<PresenceStatus> {
        let mut users = self.users();
        let entry =
            users.entry(user).or_insert(Entry { connections: 0, chosen: PresenceStatus::Online });
        entry.connections += 1;
        (entry.connections == 1 && shown(entry.chosen) != PresenceStatus::Offline)
            .then_some(shown(entry.chosen))
    }

    /// A connection went away. Returns `Offline` to announce when it was the last.
    pub fn handle_disconnect(&self, user: i64) -> Option<PresenceStatus> {
        let mut users = self.users();
        let entry = users.get_mut(&user)?;
        entry.connections = entry.connections.saturating_sub(1);
        if entry.connections > 0 {
            return None;
        }
        let was = shown(entry.chosen);
        users.remove(&user);
        (was != PresenceStatus::Offline).then_some(PresenceStatus::Offline)
    }

    /// The user picked a status. Returns the status to announce if others' view changed.
    pub fn handle_set(&self, user: i64, status: PresenceStatus) -> Option<PresenceStatus> {
        let mut users = self.users();
        let entry = users.get_mut(&user)?;
        let before = shown(entry.chosen);
        entry.chosen =
            if status == PresenceStatus::Offline { PresenceStatus::Invisible } else { status };
        let after = shown(entry.chosen);
        (before != after).then_some(after)
    }

    /// What others currently see for `user`.
    pub fn status_of(&self, user: i64) -> PresenceStatus {
        self.users().get(&user).map_or(PresenceStatus::Offline, |e| shown(e.chosen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_while_any_connection_and_invisible_looks_offline() {
        let p = Presence::default();
        assert_eq!(p.handle_connect(1), Some(PresenceStatus::Online));
        assert_eq!(p.handle_connect(1), None, "second device changes nothing");
        assert_eq!(p.handle_set(1, PresenceStatus::Idle), Some(PresenceStatus::Idle));
        assert_eq!(p.handle_disconnect(1), None);
        assert_eq!(p.status_of(1), PresenceStatus::Idle);
        assert_eq!(p.handle_set(1, PresenceStatus::Invisible), Some(PresenceStatus::Offline));
        assert_eq!(
            p.handle_set(1, PresenceStatus::DoNotDisturb),
            Some(PresenceStatus::DoNotDisturb)
        );
        assert_eq!(p.handle_disconnect(1), Some(PresenceStatus::Offline));
        assert_eq!(p.status_of(1), PresenceStatus::Offline);
        assert_eq!(p.handle_disconnect(1), None, "unknown users are a no-op");
        assert_eq!(p.handle_set(2, PresenceStatus::Idle), None, "no status without a connection");
    }
}
