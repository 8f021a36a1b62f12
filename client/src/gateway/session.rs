//! The gateway session as a state machine without IO: which frame to send next, when to
//! heartbeat, whether a lost connection is resumed or identified anew, and how long to
//! wait before reconnecting. Time comes in as `now`; the driver owns socket and timer.
//!
//! A driver calls, in this order, for as long as the session lives:
//! 1. [`GatewaySession::poll_output`] until it returns `None`, carrying out each
//!    [`Output`] (and feeding back what happened: `handle_connected` after a successful
//!    connect, `handle_closed` after a failed one or after `Disconnect`);
//! 2. waits for a server frame, a socket close, or [`GatewaySession::poll_timeout`];
//! 3. reports that with `handle_frame`, `handle_closed` or `handle_timeout`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use auraspeak_shared::v1::gateway::{ClientFrame, PresenceStatus, ServerFrame, close};

use super::GatewayEvent;
use super::backoff::Backoff;

/// Timing of a gateway session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Delay before the first reconnect attempt; doubles per failed attempt.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long connect, hello and ready/resumed may take together.
    pub handshake_timeout: Duration,
    /// Seeds the backoff jitter, so a test can reproduce a schedule exactly.
    pub jitter_seed: u64,
    /// The status the user chose, said in every identify so a new session starts in it
    /// (an invisible user never flashes online). The driver follows later choices sent as
    /// `set_presence`.
    pub presence: PresenceStatus,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            jitter_seed: 0x5eed,
            presence: PresenceStatus::Online,
        }
    }
}

/// How to authenticate on a fresh connection. The driver adds a current access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authenticate {
    Identify,
    Resume { session_id: String, seq: u64 },
}

/// Work for the driver.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// Open a new WebSocket to the gateway.
    Connect,
    /// Send identify or resume with a fresh access token.
    Authenticate(Authenticate),
    /// Send this frame on the current socket.
    Send(ClientFrame),
    /// Close the current socket, then report it with `handle_closed(None, now)`.
    Disconnect,
    /// Hand this to the caller.
    Event(GatewayEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between connections, until the backoff delay has passed.
    Waiting {
        until: Instant,
    },
    /// Connect, hello and identify/resume, all before `deadline`.
    Handshake {
        deadline: Instant,
        hello: bool,
    },
    Live {
        next_heartbeat: Instant,
        awaiting_ack: bool,
    },
    /// `Disconnect` was emitted; waiting for the driver to report the close.
    Closing,
    Ended,
}

pub struct GatewaySession {
    config: SessionConfig,
    state: State,
    outputs: VecDeque<Output>,
    session_id: Option<String>,
    /// The last dispatch sequence handed to the caller: what a resume asks to continue from.
    seq: u64,
    heartbeat_interval: Duration,
    backoff: Backoff,
    /// Reconnect attempts since the last successful ready/resumed.
    attempt: u32,
    /// The session was invalidated: the next `Ready` tells the caller to re-sync.
    resync: bool,
    /// The server said `invalid_session`, so the close that follows is expected.
    invalidated: bool,
    /// This connection's server reads `presence` in `identify` (said in its hello).
    identify_presence: bool,
}

impl GatewaySession {
    /// A session that connects at the first poll.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let backoff = Backoff::new(config.backoff_base, config.backoff_max, config.jitter_seed);
        Self {
            config,
            state: State::Waiting { until: now },
            outputs: VecDeque::new(),
            session_id: None,
            seq: 0,
            heartbeat_interval: Duration::from_secs(30),
            backoff,
            attempt: 0,
            resync: false,
            identify_presence: false,
            invalidated: false,
        }
    }

    /// The last sequence number handed out as a dispatch (or announced by `ready`).
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Identified or resumed, with the socket up: frames may be sent.
    pub fn is_live(&self) -> bool {
        matches!(self.state, State::Live { .. })
    }

    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// When `handle_timeout` must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { until } => Some(until),
            State::Handshake { deadline, .. } => Some(deadline),
            State::Live { next_heartbeat, .. } => Some(next_heartbeat),
            State::Closing | State::Ended => None,
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Waiting { until } if now >= until => {
                self.state = State::Handshake {
                    deadline: now + self.config.handshake_timeout,
                    hello: false,
                };
                self.outputs.push_back(Output::Connect);
            }
            State::Handshake { deadline, .. } if now >= deadline => self.disconnect(),
            State::Live { next_heartbeat, awaiting_ack } if now >= next_heartbeat => {
                if awaiting_ack {
                    // No ack for a whole interval: the connection is dead even if the
                    // socket has not noticed yet.
                    self.disconnect();
                } else {
                    self.state = State::Live {
                        next_heartbeat: now + self.heartbeat_interval,
                        awaiting_ack: true,
                    };
                    self.outputs.push_back(Output::Send(ClientFrame::Heartbeat { seq: self.seq }));
                }
            }
            _ => {}
        }
    }

    /// The socket is open (after `Connect`).
    pub fn handle_connected(&mut self, now: Instant) {
        if let State::Handshake { .. } = self.state {
            // The handshake budget restarts: the connect alone may have used most of it.
            self.state =
                State::Handshake { deadline: now + self.config.handshake_timeout, hello: false };
        }
    }

    /// Whether the identify may carry the chosen presence: the server's hello said it
    /// reads it (older servers refuse the field).
    pub fn identify_presence(&self) -> bool {
        self.identify_presence
    }

    pub fn handle_frame(&mut self, frame: ServerFrame, now: Instant) {
        match frame {
            ServerFrame::Hello { heartbeat_interval_ms, identify_presence } => {
                let State::Handshake { deadline, hello: false } = self.state else { return };
                self.identify_presence = identify_presence;
                self.heartbeat_interval = Duration::from_millis(heartbeat_interval_ms.max(1));
                self.state = State::Handshake { deadline, hello: true };
                let auth = match &self.session_id {
                    Some(id) => Authenticate::Resume { session_id: id.clone(), seq: self.seq },
                    None => Authenticate::Identify,
                };
                self.outputs.push_back(Output::Authenticate(auth));
            }
            ServerFrame::Ready(ready) => {
                self.session_id = Some(ready.session_id.clone());
                self.seq = ready.seq;
                self.heartbeat_interval = Duration::from_millis(ready.heartbeat_interval_ms.max(1));
                self.go_live(now);
                let resync = std::mem::take(&mut self.resync);
                self.outputs.push_back(Output::Event(GatewayEvent::Ready { ready, resync }));
            }
            ServerFrame::Resumed { replayed, .. } => {
                self.go_live(now);
                self.outputs.push_back(Output::Event(GatewayEvent::Resumed { replayed }));
            }
            ServerFrame::Dispatch { seq, event } => {
                // Replays start right after the resume point, so anything at or below
                // it was already handed out.
                if self.session_id.is_some() && seq <= self.seq {
                    return;
                }
                self.seq = seq;
                self.outputs.push_back(Output::Event(GatewayEvent::Dispatch { seq, event }));
            }
            ServerFrame::HeartbeatAck { .. } => {
                if let State::Live { next_heartbeat, .. } = self.state {
                    self.state = State::Live { next_heartbeat, awaiting_ack: false };
                }
            }
            ServerFrame::InvalidSession { resumable } => {
                if !resumable {
                    self.session_id = None;
                    self.seq = 0;
                    self.resync = true;
                }
                self.invalidated = true;
                self.outputs.push_back(Output::Event(GatewayEvent::InvalidSession));
                self.disconnect();
            }
            ServerFrame::Error { code, message } => {
                self.outputs.push_back(Output::Event(GatewayEvent::ServerError { code, message }));
            }
            ServerFrame::VoiceReady { channel_id, receive_slots, bitrate_kbps, ice_servers } => {
                self.outputs.push_back(Output::Event(GatewayEvent::VoiceReady {
                    channel_id,
                    receive_slots,
                    bitrate_kbps,
                    ice_servers,
                }));
            }
            ServerFrame::VoiceAnswer { sdp } => {
                self.outputs.push_back(Output::Event(GatewayEvent::VoiceAnswer { sdp }));
            }
        }
    }

    /// The socket closed, failed, or could not be opened; `code` is the close code the
    /// server sent, if any.
    pub fn handle_closed(&mut self, code: Option<u16>, now: Instant) {
        if self.state == State::Ended {
            return;
        }
        let invalidated = std::mem::take(&mut self.invalidated);
        if !invalidated && let Some(code) = code.filter(|c| is_fatal(*c)) {
            self.state = State::Ended;
            self.outputs.push_back(Output::Event(GatewayEvent::Closed {
                code,
                reason: fatal_reason(code).to_owned(),
            }));
            return;
        }
        if !invalidated && code == Some(close::NOT_AUTHENTICATED) {
            // The server forgot who we are: start a new session and catch up over REST.
            self.session_id = None;
            self.seq = 0;
            self.resync = true;
        }
        let delay = self.backoff.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        self.state = State::Waiting { until: now + delay };
        self.outputs
            .push_back(Output::Event(GatewayEvent::Disconnected { code, reconnect_in: delay }));
    }

    fn go_live(&mut self, now: Instant) {
        self.attempt = 0;
        self.state =
            State::Live { next_heartbeat: now + self.heartbeat_interval, awaiting_ack: false };
    }

    fn disconnect(&mut self) {
        self.state = State::Closing;
        self.outputs.push_back(Output::Disconnect);
    }
}

/// Closes that reconnecting cannot fix: the same connection attempt would fail again.
fn is_fatal(code: u16) -> bool {
    matches!(
        code,
        close::DECODE_ERROR
            | close::AUTHENTICATION_FAILED
            | close::ALREADY_AUTHENTICATED
            | close::SESSION_REVOKED
    )
}

fn fatal_reason(code: u16) -> &'static str {
    match code {
        close::DECODE_ERROR => "the server could not decode a frame (client bug)",
        close::AUTHENTICATION_FAILED => "authentication failed: log in again",
        close::ALREADY_AUTHENTICATED => "identified twice (client bug)",
        close::SESSION_REVOKED => "the session was revoked or taken over by another connection",
        _ => "closed by the server",
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
