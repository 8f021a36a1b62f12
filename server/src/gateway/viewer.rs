//! Decides, per event, whether one session's user may see it, and tells the session when
//! what its user may do changed. Membership comes from the session's own view (loaded
//! with READY, updated by join/leave events), channel permissions from the calculator,
//! recomputed as soon as an event says the server's roles, overwrites or membership
//! changed.

use std::collections::{HashMap, HashSet};

use auraspeak_shared::Permissions;
use auraspeak_shared::v1::channels::ChannelPermissions;
use auraspeak_shared::v1::gateway::Event;
use auraspeak_shared::v1::servers::ServerDetail;

use crate::community::Community;
use crate::events::{Audience, Envelope};

/// What a session receives for an envelope it may see.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// The event as published (its shared encoding can be used).
    AsPublished,
    /// A different event for this user (a removed member gets `server_delete`).
    Instead(Event),
}

/// The outcome of one envelope for one session.
#[derive(Debug, Default, PartialEq)]
pub struct Admission {
    pub event: Option<Admitted>,
    /// Sent after `event`: the user's permissions in a server changed with it.
    pub permissions: Option<Event>,
}

/// One server's permissions as the session's client last heard them.
type Snapshot = (Permissions, Vec<ChannelPermissions>);

pub struct Viewer {
    user_id: i64,
    servers: HashSet<i64>,
    /// channel id -> (server id, may view)
    channels: HashMap<i64, (i64, bool)>,
    /// Servers whose every channel is in `channels`: a channel missing from the map there
    /// is one this user cannot see.
    complete: HashSet<i64>,
    /// Each server's permissions as last loaded.
    current: HashMap<i64, Snapshot>,
    /// What the client was last told, so it hears only of real changes.
    told: HashMap<i64, Snapshot>,
}

impl Viewer {
    pub fn new(user_id: i64, servers: impl IntoIterator<Item = i64>) -> Self {
        Self {
            user_id,
            servers: servers.into_iter().collect(),
            channels: HashMap::new(),
            complete: HashSet::new(),
            current: HashMap::new(),
            told: HashMap::new(),
        }
    }

    /// Seeds the view from a server's detail as sent to the client (READY, a join).
    pub fn prefill(&mut self, detail: &ServerDetail) {
        let server_id = detail.server.id.as_i64();
        let snapshot = (detail.my_permissions, detail.channel_permissions.clone());
        self.told.insert(server_id, snapshot.clone());
        self.record(server_id, snapshot);
    }

    fn record(&mut self, server_id: i64, snapshot: Snapshot) {
        self.forget_server(server_id);
        for entry in &snapshot.1 {
            self.channels.insert(entry.channel_id.as_i64(), (server_id, true));
        }
        self.complete.insert(server_id);
        self.current.insert(server_id, snapshot);
    }

    fn forget_server(&mut self, server_id: i64) {
        self.channels.retain(|_, (s, _)| *s != server_id);
        self.complete.remove(&server_id);
    }

    /// Drops a deleted channel from the view without a reload. A reload here would read
    /// the database as it is by the time this session handles the event, which may be
    /// after later deletions: those channels would vanish from the view before their own
    /// events, and their deletion would never reach a member who saw them. Nothing else
    /// changes with a deletion (a deleted category's channels keep the overwrites that
    /// applied to them).
    fn forget_channel(&mut self, server_id: i64, channel_id: i64) {
        self.channels.remove(&channel_id);
        if let Some((_, list)) = self.current.get_mut(&server_id) {
            list.retain(|p| p.channel_id.as_i64() != channel_id);
        }
    }

    /// The user is no longer in the server.
    fn leave_server(&mut self, server_id: i64) -> bool {
        self.forget_server(server_id);
        self.current.remove(&server_id);
        self.told.remove(&server_id);
        self.servers.remove(&server_id)
    }

    /// What this session should receive for `envelope`. A member removed from a server
    /// (left, kicked, banned) gets one `server_delete` and nothing more.
    pub async fn admit(&mut self, envelope: &Envelope, community: &Community) -> Admission {
        // A deleted channel can no longer be judged: whoever could see it until now is told.
        if let (Event::ChannelDelete { channel_id, .. }, Audience::Channel { server_id, .. }) =
            (&envelope.event, &envelope.audience)
        {
            let saw = self.servers.contains(server_id)
                && self.channels.get(&channel_id.as_i64()).is_some_and(|(_, view)| *view);
            self.forget_channel(*server_id, channel_id.as_i64());
            let permissions = self.refresh_after(envelope, community).await;
            return Admission { event: saw.then_some(Admitted::AsPublished), permissions };
        }
        if let Some(server_id) = envelope.invalidates {
            self.forget_server(server_id);
        }
        if envelope.except_user == Some(self.user_id) {
            let permissions = self.refresh_after(envelope, community).await;
            return Admission { event: None, permissions };
        }
        match &envelope.event {
            Event::MemberRemove { server_id, user_id } if user_id.as_i64() == self.user_id => {
                let event = self
                    .leave_server(server_id.as_i64())
                    .then_some(Admitted::Instead(Event::ServerDelete { server_id: *server_id }));
                return Admission { event, permissions: None };
            }
            Event::ServerDelete { server_id } => {
                let event = self.leave_server(server_id.as_i64()).then_some(Admitted::AsPublished);
                return Admission { event, permissions: None };
            }
            Event::ServerJoin { detail } if envelope.audience == Audience::User(self.user_id) => {
                self.servers.insert(detail.server.id.as_i64());
                self.prefill(detail);
                return Admission { event: Some(Admitted::AsPublished), permissions: None };
            }
            _ => {}
        }
        let visible = match &envelope.audience {
            Audience::User(user) => *user == self.user_id,
            Audience::Server(server) => self.servers.contains(server),
            Audience::AnyOf(servers) => servers.iter().any(|s| self.servers.contains(s)),
            Audience::Channel { server_id, channel_id } => {
                self.servers.contains(server_id)
                    && self.can_view(*server_id, *channel_id, community).await
            }
        };
        let permissions = self.refresh_after(envelope, community).await;
        Admission { event: visible.then_some(Admitted::AsPublished), permissions }
    }

    /// After a change to a server's permissions, recomputes them at once (not at the next
    /// event that needs them), so the client learns what it may do now.
    async fn refresh_after(&mut self, envelope: &Envelope, community: &Community) -> Option<Event> {
        let server_id = envelope.invalidates?;
        if !self.servers.contains(&server_id) {
            return None;
        }
        if !self.complete.contains(&server_id) {
            self.load(server_id, community).await;
        }
        let current = self.current.get(&server_id)?;
        if self.told.get(&server_id) == Some(current) {
            return None;
        }
        let (my_permissions, channel_permissions) = current.clone();
        self.told.insert(server_id, current.clone());
        let server_id = auraspeak_shared::Snowflake::from_i64(server_id)?.into();
        Some(Event::PermissionsUpdate { server_id, my_permissions, channel_permissions })
    }

    /// Loads a server's permissions; on failure the server stays unknown (and is tried
    /// again at the next event) rather than read as "sees nothing".
    async fn load(&mut self, server_id: i64, community: &Community) {
        if let Some(snapshot) = community.permissions_snapshot(server_id, self.user_id).await {
            self.record(server_id, snapshot);
        }
    }

    async fn can_view(&mut self, server_id: i64, channel_id: i64, community: &Community) -> bool {
        if !self.complete.contains(&server_id) {
            // One permission load answers for every channel of the server, so a role
            // change costs one lookup per session rather than one per channel.
            self.load(server_id, community).await;
        }
        self.channels.get(&channel_id).is_some_and(|(_, view)| *view)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use auraspeak_shared::UserId;
    use auraspeak_shared::v1::channels::{ChannelKind, CreateChannelRequest};
    use auraspeak_shared::v1::servers::CreateServerRequest;

    use super::*;
    use crate::events::{EventBus, LocalBus};
    use crate::ids::IdGenerator;
    use crate::store::NewUser;
    use crate::store::sqlite::SqliteStore;

    fn text_channel(name: &str) -> CreateChannelRequest {
        CreateChannelRequest {
            name: name.into(),
            kind: ChannelKind::Text,
            topic: None,
            parent_id: None,
            position: None,
            bitrate_kbps: None,
            user_limit: None,
        }
    }

    /// The session handles the first deletion only after the second is committed (a busy
    /// gateway, or PostgreSQL answering before the session task runs): the member must
    /// still hear of both.
    #[tokio::test]
    async fn deletions_handled_late_still_reach_who_saw_the_channels() {
        let path = std::env::temp_dir()
            .join(format!("auraspeak-viewer-test-{}.sqlite", rand::random::<u64>()));
        let store = Arc::new(SqliteStore::open(&path, 1).await.expect("store opens"));
        let ids = Arc::new(IdGenerator::new(1));
        let bus = Arc::new(LocalBus::new(64));
        let community = Community::new(store.clone(), ids.clone(), bus.clone());
        let owner = ids.next();
        crate::store::Store::create_user(
            store.as_ref(),
            &NewUser {
                id: UserId::from(owner),
                username: "owner".into(),
                email: "owner@example.test".into(),
                display_name: None,
                password_hash: "not used".into(),
                now: 0,
            },
        )
        .await
        .expect("user");
        let owner = owner.as_i64();
        let request = CreateServerRequest { name: "guild".into(), description: None };
        let server = community.create_server(owner, request).await.expect("server").server.id;
        let mut deleted = Vec::new();
        for name in ["first", "second"] {
            let channel = community.create_channel(server.0, owner, text_channel(name));
            deleted.push(channel.await.expect("channel").id);
        }
        let detail = community.server_detail(server.0, owner).await.expect("detail");
        let mut viewer = Viewer::new(owner, [server.as_i64()]);
        viewer.prefill(&detail);

        let mut events = bus.subscribe();
        for &channel in &deleted {
            community.delete_channel(channel.0, owner).await.expect("deleted");
        }
        for channel in deleted {
            let envelope = events.recv().await.expect("an event");
            assert!(
                matches!(envelope.event, Event::ChannelDelete { channel_id, .. } if channel_id == channel)
            );
            let admission = viewer.admit(&envelope, &community).await;
            assert_eq!(admission.event, Some(Admitted::AsPublished), "{channel:?}");
        }
        let _ = std::fs::remove_file(&path);
    }
}
