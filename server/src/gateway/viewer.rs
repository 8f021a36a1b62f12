//! Decides, per event, whether one session's user may see it. Membership comes from the
//! session's own view (loaded with READY, updated by join/leave events), channel
//! visibility from the permission calculator, cached per channel until an event says
//! the server's roles, overwrites or membership changed.

use std::collections::{HashMap, HashSet};

use auraspeak_shared::v1::gateway::Event;

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

pub struct Viewer {
    user_id: i64,
    servers: HashSet<i64>,
    /// channel id -> (server id, may view)
    channels: HashMap<i64, (i64, bool)>,
    /// Servers whose every channel is in `channels`: a channel missing from the map there
    /// is one this user cannot see.
    complete: HashSet<i64>,
}

impl Viewer {
    pub fn new(user_id: i64, servers: impl IntoIterator<Item = i64>) -> Self {
        Self {
            user_id,
            servers: servers.into_iter().collect(),
            channels: HashMap::new(),
            complete: HashSet::new(),
        }
    }

    /// Records the channels of a server this user can see (all others: cannot).
    pub fn prefill(&mut self, server_id: i64, visible: impl IntoIterator<Item = i64>) {
        self.forget_server(server_id);
        for channel in visible {
            self.channels.insert(channel, (server_id, true));
        }
        self.complete.insert(server_id);
    }

    fn forget_server(&mut self, server_id: i64) {
        self.channels.retain(|_, (s, _)| *s != server_id);
        self.complete.remove(&server_id);
    }

    /// The event this session should receive for `envelope`, if any. A member removed
    /// from a server (left, kicked, banned) gets one `server_delete` and nothing more.
    pub async fn admit(&mut self, envelope: &Envelope, community: &Community) -> Option<Admitted> {
        if let Some(server_id) = envelope.invalidates {
            self.forget_server(server_id);
        }
        if envelope.except_user == Some(self.user_id) {
            return None;
        }
        match &envelope.event {
            Event::MemberRemove { server_id, user_id } if user_id.as_i64() == self.user_id => {
                let sid = server_id.as_i64();
                self.forget_server(sid);
                return self
                    .servers
                    .remove(&sid)
                    .then_some(Admitted::Instead(Event::ServerDelete { server_id: *server_id }));
            }
            Event::ServerDelete { server_id } => {
                let sid = server_id.as_i64();
                self.forget_server(sid);
                return self.servers.remove(&sid).then_some(Admitted::AsPublished);
            }
            Event::ServerJoin { detail } if envelope.audience == Audience::User(self.user_id) => {
                self.servers.insert(detail.server.id.as_i64());
                return Some(Admitted::AsPublished);
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
        visible.then_some(Admitted::AsPublished)
    }

    async fn can_view(&mut self, server_id: i64, channel_id: i64, community: &Community) -> bool {
        if let Some((_, view)) = self.channels.get(&channel_id) {
            return *view;
        }
        if !self.complete.contains(&server_id) {
            // One permission load answers for every channel of the server, so a role
            // change costs one lookup per session rather than one per channel.
            let visible = community.visible_channels(server_id, self.user_id).await;
            self.prefill(server_id, visible);
        }
        self.channels.get(&channel_id).is_some_and(|(_, view)| *view)
    }
}
