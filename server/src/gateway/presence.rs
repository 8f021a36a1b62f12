//! Who is online. A user is online while at least one gateway connection is attached;
//! the status they pick (online, idle, do-not-disturb, invisible) applies to all of them.
//! Invisible users look offline to everyone else.
//!
//! The chosen status outlives the connections: an invisible user who logs in again, on
//! any device, or whose connection resumes after a network blip, stays invisible from
//! the first moment, instead of flashing Online until the client repeats its choice.
//! Only non-default choices are kept (one small entry per such user).
//!
//! This map is per process: with several nodes, presence needs the shared bus (a later
//! issue) so that each node can merge the others' connection counts.

use std::collections::HashMap;
use std::sync::Mutex;

use auraspeak_shared::v1::gateway::PresenceStatus;

#[derive(Debug, Default)]
pub struct Presence {
    users: Mutex<Users>,
}

#[derive(Debug, Default)]
struct Users {
    /// Attached connections per user; users without any are absent.
    connections: HashMap<i64, u32>,
    /// Each user's chosen status when it is not the default (Online), connected or not.
    chosen: HashMap<i64, PresenceStatus>,
}

impl Users {
    fn chosen(&self, user: i64) -> PresenceStatus {
        self.chosen.get(&user).copied().unwrap_or(PresenceStatus::Online)
    }

    /// Records a choice; asking to look offline means invisible. Returns what was kept.
    fn choose(&mut self, user: i64, status: PresenceStatus) -> PresenceStatus {
        let chosen =
            if status == PresenceStatus::Offline { PresenceStatus::Invisible } else { status };
        if chosen == PresenceStatus::Online {
            self.chosen.remove(&user);
        } else {
            self.chosen.insert(user, chosen);
        }
        chosen
    }
}

/// What others see for a chosen status.
fn shown(status: PresenceStatus) -> PresenceStatus {
    match status {
        PresenceStatus::Invisible | PresenceStatus::Offline => PresenceStatus::Offline,
        other => other,
    }
}

impl Presence {
    fn users(&self) -> std::sync::MutexGuard<'_, Users> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection attached, identifying with the status the user chose (`None`: online
    /// or a resume). The choice counts only for the user's first connection: with others
    /// attached, the status they show holds. Returns the status to announce if others'
    /// view changed.
    pub fn handle_connect(
        &self,
        user: i64,
        chosen: Option<PresenceStatus>,
    ) -> Option<PresenceStatus> {
        let mut users = self.users();
        if let Some(status) = chosen.filter(|_| !users.connections.contains_key(&user)) {
            users.choose(user, status);
        }
        let shown_now = shown(users.chosen(user));
        let count = users.connections.entry(user).or_insert(0);
        *count += 1;
        (*count == 1 && shown_now != PresenceStatus::Offline).then_some(shown_now)
    }

    /// A connection went away. Returns `Offline` to announce when it was the last.
    pub fn handle_disconnect(&self, user: i64) -> Option<PresenceStatus> {
        let mut users = self.users();
        let count = users.connections.get_mut(&user)?;
        *count = count.saturating_sub(1);
        if *count > 0 {
            return None;
        }
        users.connections.remove(&user);
        let was = shown(users.chosen(user));
        (was != PresenceStatus::Offline).then_some(PresenceStatus::Offline)
    }

    /// The user picked a status. Returns the status to announce if others' view changed.
    pub fn handle_set(&self, user: i64, status: PresenceStatus) -> Option<PresenceStatus> {
        let mut users = self.users();
        if !users.connections.contains_key(&user) {
            return None;
        }
        let before = shown(users.chosen(user));
        let after = shown(users.choose(user, status));
        (before != after).then_some(after)
    }

    /// What others currently see for `user`.
    pub fn status_of(&self, user: i64) -> PresenceStatus {
        let users = self.users();
        if users.connections.contains_key(&user) {
            shown(users.chosen(user))
        } else {
            PresenceStatus::Offline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_while_any_connection_and_invisible_looks_offline() {
        let p = Presence::default();
        assert_eq!(p.handle_connect(1, None), Some(PresenceStatus::Online));
        assert_eq!(p.handle_connect(1, None), None, "second device changes nothing");
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

    #[test]
    fn invisible_outlives_connections() {
        let p = Presence::default();
        assert_eq!(p.handle_connect(1, None), Some(PresenceStatus::Online));
        assert_eq!(p.handle_set(1, PresenceStatus::Invisible), Some(PresenceStatus::Offline));
        assert_eq!(p.handle_disconnect(1), None, "looked offline already");
        assert_eq!(p.handle_connect(1, None), None, "a new connection does not announce Online");
        assert_eq!(p.status_of(1), PresenceStatus::Offline);
        assert_eq!(p.handle_set(1, PresenceStatus::Online), Some(PresenceStatus::Online));
        assert_eq!(p.handle_disconnect(1), Some(PresenceStatus::Offline));
        assert_eq!(p.handle_connect(1, None), Some(PresenceStatus::Online), "back to the default");
    }

    #[test]
    fn the_status_said_in_identify_holds_from_the_first_moment() {
        // A server that restarted knows no choice: the identify carries it.
        let p = Presence::default();
        assert_eq!(p.handle_connect(1, Some(PresenceStatus::Invisible)), None);
        assert_eq!(p.status_of(1), PresenceStatus::Offline);
        assert_eq!(p.handle_connect(2, Some(PresenceStatus::Idle)), Some(PresenceStatus::Idle));
        // With a connection attached, a second device's identify does not override it.
        assert_eq!(p.handle_connect(2, Some(PresenceStatus::Invisible)), None);
        assert_eq!(p.status_of(2), PresenceStatus::Idle);
        // Asking to look offline is being invisible.
        assert_eq!(p.handle_connect(3, Some(PresenceStatus::Offline)), None);
        assert_eq!(p.status_of(3), PresenceStatus::Offline);
    }
}
