//! Following one text channel: recent history, then live messages from the gateway,
//! without gaps or repeats even when the gateway session had to be started anew.

use auraspeak_shared::v1::gateway::Event;
use auraspeak_shared::v1::messages::{HistoryQuery, MAX_HISTORY_LIMIT, Message};
use auraspeak_shared::{ChannelId, MessageId};

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
}

impl ChannelFollower {
    pub fn new(api: ApiClient, channel: ChannelId) -> Self {
        Self { api, channel, last_shown: None }
    }

    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// Up to `limit` (at most 100) of the latest messages, oldest first.
    pub async fn recent(&mut self, limit: u32) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query =
            HistoryQuery { limit: Some(limit.min(MAX_HISTORY_LIMIT)), ..Default::default() };
        let mut page = self.api.history(self.channel, &query).await?;
        page.reverse();
        Ok(self.keep_new(page))
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
        let Some(mut after) = self.last_shown else {
            // Nothing was shown yet, so nothing can have been missed in between.
            return Ok(Vec::new());
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
