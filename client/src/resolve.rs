//! Finding a server or channel from what a person types: an ID, a name, or for channels
//! `server/channel`. Names match case-insensitively, and a leading `#` on a channel name
//! is ignored.

use auraspeak_shared::v1::channels::{Channel, ChannelKind};
use auraspeak_shared::v1::servers::{Server, ServerDetail};
use auraspeak_shared::{ChannelId, ServerId};

use crate::api::ApiClient;
use crate::error::{Error, Result};

/// The server `spec` names among the user's servers.
pub async fn find_server(api: &ApiClient, spec: &str) -> Result<Server> {
    let servers = api.servers().await?;
    pick_server(servers, spec)
}

/// The channel `spec` names (`ID`, `name`, `#name` or `server/name`) among the
/// channels the user can see, with its server. Names only match channels of `kind`:
/// a new server has both a text and a voice channel called "general".
pub async fn find_channel(
    api: &ApiClient,
    spec: &str,
    kind: ChannelKind,
) -> Result<(ServerDetail, Channel)> {
    let (server_spec, channel_spec) = match spec.split_once('/') {
        Some((server, channel)) => (Some(server), channel),
        None => (None, spec),
    };
    let servers = match server_spec {
        Some(server) => vec![find_server(api, server).await?],
        None => api.servers().await?,
    };
    let mut details = Vec::with_capacity(servers.len());
    for server in servers {
        details.push(api.server(server.id).await?);
    }
    pick_channel(details, channel_spec, kind)
}

fn pick_server(servers: Vec<Server>, spec: &str) -> Result<Server> {
    if let Ok(id) = spec.parse::<ServerId>()
        && let Some(server) = servers.iter().find(|s| s.id == id)
    {
        return Ok(server.clone());
    }
    let mut found: Vec<Server> =
        servers.into_iter().filter(|s| s.name.eq_ignore_ascii_case(spec.trim())).collect();
    match found.len() {
        0 => Err(Error::NotFound { kind: "server", name: spec.to_owned() }),
        1 => Ok(found.remove(0)),
        _ => Err(Error::Ambiguous {
            kind: "server",
            name: spec.to_owned(),
            candidates: found.iter().map(|s| s.id.to_string()).collect(),
        }),
    }
}

fn pick_channel(
    details: Vec<ServerDetail>,
    spec: &str,
    kind: ChannelKind,
) -> Result<(ServerDetail, Channel)> {
    let id = spec.parse::<ChannelId>().ok();
    let name = spec.trim().trim_start_matches('#');
    let mut found = Vec::new();
    for detail in &details {
        for channel in &detail.channels {
            let by_id = id == Some(channel.id);
            let by_name = channel.kind == kind && channel.name.eq_ignore_ascii_case(name);
            if by_id {
                return Ok((detail.clone(), channel.clone()));
            }
            if by_name {
                found.push((detail.clone(), channel.clone()));
            }
        }
    }
    match found.len() {
        0 => Err(Error::NotFound { kind: "channel", name: spec.to_owned() }),
        1 => Ok(found.remove(0)),
        _ => Err(Error::Ambiguous {
            kind: "channel",
            name: spec.to_owned(),
            candidates: found
                .iter()
                .map(|(d, c)| format!("{}/{} ({})", d.server.name, c.name, c.id))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auraspeak_shared::v1::servers::Member;
    use auraspeak_shared::{Permissions, Snowflake, UserId};

    fn sf(n: u64) -> Snowflake {
        Snowflake::from_parts(n, 0, 0).expect("fits")
    }

    fn server(id: u64, name: &str) -> Server {
        Server {
            id: ServerId(sf(id)),
            name: name.into(),
            description: None,
            owner_id: UserId(sf(1)),
            member_count: 1,
            created_at: 0,
        }
    }

    fn channel(id: u64, server: u64, name: &str, kind: ChannelKind) -> Channel {
        Channel {
            id: ChannelId(sf(id)),
            server_id: ServerId(sf(server)),
            kind,
            name: name.into(),
            topic: None,
            position: 0,
            parent_id: None,
            bitrate_kbps: None,
            user_limit: None,
            overwrites: vec![],
            permissions_synced: false,
        }
    }

    fn detail(s: Server, channels: Vec<Channel>) -> ServerDetail {
        ServerDetail {
            server: s,
            channels,
            roles: vec![],
            me: Member {
                user_id: UserId(sf(1)),
                username: "ann".into(),
                display_name: None,
                nickname: None,
                roles: vec![],
                joined_at: 0,
            },
            my_permissions: Permissions::default(),
            channel_permissions: vec![],
        }
    }

    #[test]
    fn servers_by_id_or_case_insensitive_name() {
        let servers = vec![server(10, "Raid Night"), server(11, "raid night"), server(12, "Lan")];
        assert_eq!(pick_server(servers.clone(), "lan").expect("by name").id, ServerId(sf(12)));
        let id = sf(11).to_string();
        assert_eq!(pick_server(servers.clone(), &id).expect("by id").name, "raid night");
        assert!(matches!(pick_server(servers.clone(), "RAID NIGHT"), Err(Error::Ambiguous { .. })));
        assert!(matches!(
            pick_server(servers, "nope"),
            Err(Error::NotFound { kind: "server", .. })
        ));
    }

    #[test]
    fn channels_by_id_name_or_hash_name_of_the_wanted_kind() {
        let a = detail(
            server(10, "A"),
            vec![
                channel(20, 10, "general", ChannelKind::Text),
                channel(21, 10, "games", ChannelKind::Category),
                channel(22, 10, "General", ChannelKind::Voice),
            ],
        );
        let b = detail(server(11, "B"), vec![channel(30, 11, "General", ChannelKind::Text)]);
        let both = vec![a.clone(), b.clone()];
        let text = ChannelKind::Text;
        let ambiguous = pick_channel(both.clone(), "#general", text);
        assert!(matches!(ambiguous, Err(Error::Ambiguous { .. })), "{ambiguous:?}");
        let (d, c) = pick_channel(both.clone(), &sf(30).to_string(), text).expect("by id");
        assert_eq!((d.server.name.as_str(), c.name.as_str()), ("B", "General"));
        // Within one server the voice channel of the same name does not get in the way.
        let (_, c) = pick_channel(vec![a.clone()], "#GENERAL", text).expect("text");
        assert_eq!(c.id, ChannelId(sf(20)));
        let (_, c) = pick_channel(vec![a], "general", ChannelKind::Voice).expect("voice");
        assert_eq!(c.id, ChannelId(sf(22)));
        let category = pick_channel(both, "games", text);
        assert!(matches!(category, Err(Error::NotFound { kind: "channel", .. })), "{category:?}");
    }
}
