//! Following one text channel: recent history, then live messages from the gateway,
//! without gaps or repeats even when the gateway session had to be started anew.

use auraspeak_shared::v1::gateway::Event;
use auraspeak_shared::v1::messages::{HistoryQuery, MAX_HISTORY_LIMIT, Message};
use auraspeak_shared::{ChannelId, MessageId, Snowflake};

use crate::api::ApiClient;
use crate::error::Result;
use crate::gateway::GatewayEvent;

/// Turns history and gateway events into the channel's new messages, oldest first.
///
/// Message IDs grow with time, so "newer than the last one shown" is the whole rule:
/// live events already covered by history are dropped, and after a re-sync the missed
/// messages are fetched page by page from the last one shown.
#[derive(Debug)]
pub struct ChannelFollower {
    api: ApiClient,
    channel: ChannelId,
    last_shown: Option<MessageId>,
    /// `recent` has looked at the channel: with nothing shown, it was empty then, so a
    /// catch-up starts from the beginning.
    baseline: bool,
}

impl ChannelFollower {
    pub fn new(api: ApiClient, channel: ChannelId) -> Self {
        Self { api, channel, last_shown: None, baseline: false }
    }

    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// Up to `limit` (at most 100) of the latest messages, oldest first. With a limit of
    /// 0 nothing is returned, but the newest message still marks where following starts.
    pub async fn recent(&mut self, limit: u32) -> Result<Vec<Message>> {
        let fetch = limit.clamp(1, MAX_HISTORY_LIMIT);
        let query = HistoryQuery { limit: Some(fetch), ..Default::default() };
        let mut page = self.api.history(self.channel, &query).await?;
        page.reverse();
        self.baseline = true;
        let fresh = self.keep_new(page);
        Ok(if limit == 0 { Vec::new() } else { fresh })
    }

    /// The new messages an event brings: one for a live message in this channel, every
    /// missed one after a re-sync, none otherwise.
    pub async fn handle_event(&mut self, event: &GatewayEvent) -> Result<Vec<Message>> {
        match event {
            GatewayEvent::Dispatch { event: Event::MessageCreate { message }, .. }
                if message.channel_id == self.channel =>
            {
                Ok(self.keep_new(vec![message.clone()]))
            }
            GatewayEvent::Ready { resync: true, .. } => self.catch_up().await,
            _ => Ok(Vec::new()),
        }
    }

    /// Everything after the last message shown, over REST.
    pub async fn catch_up(&mut self) -> Result<Vec<Message>> {
        let mut after = match (self.last_shown, self.baseline) {
            (Some(last), _) => last,
            (None, true) => {
                MessageId(Snowflake::from_parts(0, 0, 0).expect("zero fits every field of an ID"))
            }
            // Following live only, from no known point: there is nothing to catch up on.
            (None, false) => return Ok(Vec::new()),
        };
        let mut missed = Vec::new();
        loop {
            let query = HistoryQuery {
                after: Some(after),
                limit: Some(MAX_HISTORY_LIMIT),
                ..Default::default()
            };
            let mut page = self.api.history(self.channel, &query).await?;
            let full = page.len() == MAX_HISTORY_LIMIT as usize;
            page.reverse();
            let fresh = self.keep_new(page);
            match fresh.last() {
                Some(last) if full => after = last.id,
                _ => {
                    missed.extend(fresh);
                    return Ok(missed);
                }
            }
            missed.extend(fresh);
        }
    }

    fn keep_new(&mut self, oldest_first: Vec<Message>) -> Vec<Message> {
        let mut fresh = Vec::with_capacity(oldest_first.len());
        for message in oldest_first {
            if self.last_shown.is_none_or(|last| message.id > last) {
                self.last_shown = Some(message.id);
                fresh.push(message);
            }
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auraspeak_shared::UserId;

    fn message(n: u64, channel: ChannelId) -> Message {
        let id = |n| Snowflake::from_parts(n, 0, 0).expect("fits");
        Message {
            id: MessageId(id(n)),
            channel_id: channel,
            author_id: UserId(id(1)),
            content: format!("m{n}"),
            reply_to: None,
            nonce: None,
            created_at: 0,
            edited_at: None,
            mentions: vec![],
            mention_roles: vec![],
            mention_everyone: false,
            reactions: vec![],
        }
    }

    fn live(m: &Message) -> GatewayEvent {
        GatewayEvent::Dispatch { seq: 0, event: Event::MessageCreate { message: m.clone() } }
    }

    #[tokio::test]
    async fn live_messages_once_in_order_and_only_for_this_channel() {
        let channel = ChannelId(Snowflake::from_parts(7, 0, 0).expect("fits"));
        let elsewhere = ChannelId(Snowflake::from_parts(8, 0, 0).expect("fits"));
        // Nothing here reaches the network: no re-sync is asked for.
        let api = ApiClient::new("http://127.0.0.1:9").expect("url");
        let mut follower = ChannelFollower::new(api.clone(), channel);
        let shown = |ms: Vec<Message>| ms.into_iter().map(|m| m.content).collect::<Vec<_>>();
        let (m10, m11, m12) = (message(10, channel), message(11, channel), message(12, channel));
        assert_eq!(shown(follower.handle_event(&live(&m11)).await.expect("live")), ["m11"]);
        // A repeat, and an older one arriving late (already covered by history), are dropped.
        assert!(follower.handle_event(&live(&m11)).await.expect("repeat").is_empty());
        assert!(follower.handle_event(&live(&m10)).await.expect("older").is_empty());
        let other = message(13, elsewhere);
        assert!(follower.handle_event(&live(&other)).await.expect("other channel").is_empty());
        assert_eq!(shown(follower.handle_event(&live(&m12)).await.expect("live")), ["m12"]);
        // A follower that has shown nothing and never looked at history has no known
        // point to catch up from.
        let mut fresh = ChannelFollower::new(api, channel);
        assert!(fresh.catch_up().await.expect("nothing to fetch").is_empty());
    }
}
