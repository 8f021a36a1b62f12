//! Staying in a call when the path to the relay breaks, without the user doing anything:
//! after a new gateway session (the server restarted, or refused to resume) the server no
//! longer knows our voice session, and after a network change the media link's ICE
//! checks fail while the gateway (TCP, reconnecting on its own) comes back. Either way
//! the call joins again, keeping its audio devices, mute state and per-user settings.
//!
//! [`Watchdog`] decides when, with time as an input; [`Call::rejoin`] does it.

use std::time::{Duration, Instant};

use auraspeak_shared::v1::gateway::ClientFrame;
use tokio::sync::watch;

use super::{Call, CallOptions, CallStatus, connect};
use crate::error::{Error, Result};
use crate::gateway::{GatewayEvent, GatewayEvents, GatewayHandle};
use crate::voice::RemoteSpeaker;

/// How long the media link may stay down while the gateway is up before we rejoin. ICE
/// only reports the link down after its consent checks failed for seconds (see
/// `media`), so little is added here.
pub(super) const LINK_LOST_GRACE: Duration = Duration::from_millis(500);
/// Pause between failed attempts.
pub(super) const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Attempts in a row before the call gives up (the server may have closed voice).
pub(super) const MAX_FAILURES: u32 = 10;
/// A rejoin gets this long for signaling, ICE and DTLS (the first join may take longer).
const REJOIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// A new gateway session: the server has no voice session for us any more.
    NewSession,
    /// The media link is down but the server still holds our voice session.
    LinkLost,
    /// Our route to the relay now leaves from another local address (a network change):
    /// the link is dead even before ICE notices.
    NetworkChanged,
}

/// When to rejoin, from gateway events and the link's state over time.
#[derive(Debug)]
pub(super) struct Watchdog {
    gateway_up: bool,
    link_down_since: Option<Instant>,
    pending: Option<Reason>,
    retry_at: Option<Instant>,
    failures: u32,
}

impl Watchdog {
    pub(super) fn new() -> Self {
        Self { gateway_up: true, link_down_since: None, pending: None, retry_at: None, failures: 0 }
    }

    pub(super) fn on_gateway(&mut self, event: &GatewayEvent) {
        match event {
            GatewayEvent::Ready { .. } => {
                self.gateway_up = true;
                self.pending = Some(Reason::NewSession);
                // A new session is a new chance: earlier failures were against the old one.
                self.retry_at = None;
            }
            GatewayEvent::Resumed { .. } => self.gateway_up = true,
            GatewayEvent::Disconnected { .. } | GatewayEvent::InvalidSession => {
                self.gateway_up = false;
            }
            _ => {}
        }
    }

    /// Called every frame: whether to rejoin now, and why. `route_changed` is checked by
    /// the caller now and then (see `MediaLink::route_changed`).
    pub(super) fn poll(
        &mut self,
        now: Instant,
        link_connected: bool,
        route_changed: bool,
    ) -> Option<Reason> {
        if link_connected {
            self.link_down_since = None;
        } else {
            self.link_down_since.get_or_insert(now);
        }
        // Signaling needs the gateway; until it is back, the link may well be down too.
        if !self.gateway_up || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        if let Some(reason) = self.pending.take() {
            return Some(reason);
        }
        if route_changed {
            return Some(Reason::NetworkChanged);
        }
        let lost = self.link_down_since.is_some_and(|t| now.duration_since(t) >= LINK_LOST_GRACE);
        lost.then_some(Reason::LinkLost)
    }

    pub(super) fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
        self.link_down_since = None;
    }

    /// Notes a failed attempt of `reason`; false once the call should give up.
    pub(super) fn failed(&mut self, now: Instant, reason: Reason) -> bool {
        self.failures += 1;
        self.retry_at = Some(now + RETRY_AFTER);
        // A failed join after a new session still owes a join, whatever the link says.
        if reason == Reason::NewSession {
            self.pending = Some(Reason::NewSession);
        }
        self.failures < MAX_FAILURES
    }
}

/// Whether a failed rejoin is the server saying no (permission taken, channel gone),
/// which retrying will not change.
pub(super) fn is_refusal(error: &Error) -> bool {
    matches!(error, Error::Api { .. })
}

impl Call {
    /// Joins `options.channel_id` again on a fresh media link, with the call's current
    /// mute and deafen; the old link is dropped without a word to the relay (it is gone,
    /// or about to be replaced).
    pub(super) async fn rejoin(
        &mut self,
        gateway: &GatewayHandle,
        events: &mut GatewayEvents,
        options: &CallOptions,
        reason: Reason,
        status: Option<&watch::Sender<CallStatus>>,
    ) -> Result<()> {
        let started = Instant::now();
        self.status.connected = false;
        if let Some(sender) = status {
            sender.send_replace(self.status.clone());
        }
        if reason != Reason::NewSession {
            // The server still has our voice session on the dead link.
            let _ = gateway.send(ClientFrame::VoiceLeave {}).await;
        }
        let mut join = options.clone();
        join.self_mute = self.self_mute;
        join.self_deaf = self.mixer.is_deafened();
        join.connect_timeout = REJOIN_TIMEOUT.min(options.connect_timeout);
        let connection = connect(gateway, events, &join).await?;
        let mut old = std::mem::replace(&mut self.connection, connection);
        old.link.close();
        // New link, new sequence numbers and slot assignments: fresh jitter buffers, and
        // the relay names each slot's speaker again (their volume follows them).
        let slots = usize::from(self.connection.slots);
        for slot in 0..self.slot_users.len().max(slots) {
            self.mixer.remove_speaker(&slot);
            if slot < slots {
                self.mixer.insert_speaker(slot, RemoteSpeaker::new(options.jitter.clone())?);
            }
        }
        self.slot_users = vec![None; slots];
        self.report.rejoins.push(started.elapsed());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> GatewayEvent {
        GatewayEvent::Ready { ready: Box::new(sample_ready()), resync: true }
    }

    fn sample_ready() -> auraspeak_shared::v1::gateway::Ready {
        serde_json::from_value(serde_json::json!({
            "session_id": "s",
            "seq": 0,
            "heartbeat_interval_ms": 1000,
            "user": { "id": "1", "username": "ann", "display_name": null, "email": "a@b.c", "created_at": 0 },
            "servers": [],
        }))
        .expect("a minimal Ready")
    }

    const FRAME: Duration = Duration::from_millis(10);

    #[test]
    fn a_new_session_rejoins_at_once() {
        let t0 = Instant::now();
        let mut w = Watchdog::new();
        assert_eq!(w.poll(t0, true, false), None);
        w.on_gateway(&GatewayEvent::Disconnected { code: None, reconnect_in: FRAME });
        assert_eq!(w.poll(t0 + FRAME, false, false), None, "not while the gateway is down");
        w.on_gateway(&ready());
        assert_eq!(w.poll(t0 + 2 * FRAME, false, false), Some(Reason::NewSession));
        assert_eq!(w.poll(t0 + 3 * FRAME, false, false), None, "once");
    }

    #[test]
    fn a_lost_link_rejoins_after_the_grace_period_while_the_gateway_is_up() {
        let t0 = Instant::now();
        let mut w = Watchdog::new();
        assert_eq!(w.poll(t0, false, false), None);
        assert_eq!(w.poll(t0 + LINK_LOST_GRACE - FRAME, false, false), None);
        // Back in time: nothing to do.
        assert_eq!(w.poll(t0 + LINK_LOST_GRACE - FRAME / 2, true, false), None);
        assert_eq!(w.poll(t0 + LINK_LOST_GRACE * 2, false, false), None, "the clock restarted");
        assert_eq!(w.poll(t0 + LINK_LOST_GRACE * 3, false, false), Some(Reason::LinkLost));
        // A resumed gateway does not by itself mean the link is gone.
        w.succeeded();
        w.on_gateway(&GatewayEvent::Resumed { replayed: 0 });
        assert_eq!(w.poll(t0 + LINK_LOST_GRACE * 3 + FRAME, true, false), None);
    }

    #[test]
    fn a_network_change_rejoins_without_waiting_for_ice() {
        let t0 = Instant::now();
        let mut w = Watchdog::new();
        assert_eq!(w.poll(t0, true, true), Some(Reason::NetworkChanged));
        w.on_gateway(&GatewayEvent::Disconnected { code: None, reconnect_in: FRAME });
        assert_eq!(w.poll(t0 + FRAME, true, true), None, "signaling needs the gateway");
    }

    #[test]
    fn failures_wait_between_attempts_and_give_up_eventually() {
        let t0 = Instant::now();
        let mut w = Watchdog::new();
        w.on_gateway(&ready());
        let mut now = t0;
        let mut attempts = 0;
        loop {
            if let Some(reason) = w.poll(now, false, false) {
                assert_eq!(reason, Reason::NewSession, "a session still owes its join");
                attempts += 1;
                if !w.failed(now, reason) {
                    break;
                }
                assert_eq!(w.poll(now + RETRY_AFTER - FRAME, false, false), None, "waits");
            }
            now += FRAME;
            assert!(now < t0 + RETRY_AFTER * (MAX_FAILURES + 2), "gives up in bounded time");
        }
        assert_eq!(attempts, MAX_FAILURES);
    }
}
