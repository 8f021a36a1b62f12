//! The realtime gateway client: one WebSocket that survives disconnects.
//!
//! [`session::GatewaySession`] decides everything (identify or resume, heartbeats, missing
//! acks, backoff) without IO; [`connect`] spawns a tokio task that owns the socket and the
//! timer, carries out what the session asks and hands events to the caller through
//! [`GatewayEvents`]. Through [`GatewayHandle::send`] other layers (voice signaling) send
//! their own client frames over the same connection.
//!
//! After a drop the driver resumes, and the server replays what was missed. If the
//! session cannot be resumed the caller gets [`GatewayEvent::InvalidSession`], then a
//! [`GatewayEvent::Ready`] with `resync: true`: events were lost in between, and state
//! must be fetched again over REST.

mod backoff;
pub mod session;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraspeak_shared::ErrorCode;
use auraspeak_shared::v1::gateway::{
    ClientFrame, Event, PresenceStatus, Ready, ServerFrame, close,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub use session::{Authenticate, GatewaySession, Output, SessionConfig};

use crate::api::ApiClient;
use crate::error::{Error, Result};
use crate::tls::ServerTrust;

/// What the gateway tells its caller.
#[derive(Clone, Debug, PartialEq)]
pub enum GatewayEvent {
    /// A new session. With `resync`, events were lost since the previous session: fetch
    /// what the UI shows again over REST.
    Ready {
        ready: Box<Ready>,
        resync: bool,
    },
    /// The connection came back and every missed event has been delivered before this.
    Resumed {
        replayed: u64,
    },
    Dispatch {
        seq: u64,
        event: Event,
    },
    /// The server refused to resume; a new session follows.
    InvalidSession,
    /// The connection dropped; the next attempt starts after `reconnect_in`.
    Disconnected {
        code: Option<u16>,
        reconnect_in: Duration,
    },
    /// The server accepted a voice join: offer a peer connection with this many slots.
    VoiceReady {
        channel_id: auraspeak_shared::ChannelId,
        receive_slots: u8,
        bitrate_kbps: u32,
        ice_servers: Vec<auraspeak_shared::v1::voice::IceServer>,
    },
    /// The relay's answer to our voice offer.
    VoiceAnswer {
        sdp: String,
    },
    /// The server rejected one frame; the connection stays up.
    ServerError {
        code: ErrorCode,
        message: String,
    },
    /// The gateway stopped for good; no events follow.
    Closed {
        code: u16,
        reason: String,
    },
}

/// Where the driver gets an access token for each identify or resume.
pub trait TokenSource: Send + Sync + 'static {
    fn access_token(&self) -> impl Future<Output = Result<String>> + Send;
}

impl TokenSource for ApiClient {
    fn access_token(&self) -> impl Future<Output = Result<String>> + Send {
        ApiClient::access_token(self)
    }
}

enum Command {
    Send(ClientFrame, oneshot::Sender<Result<()>>),
    Close,
}

/// Sends frames over the gateway and closes it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct GatewayHandle {
    commands: mpsc::Sender<Command>,
}

impl GatewayHandle {
    /// Sends a frame on the live connection. Fails with [`Error::GatewayNotConnected`]
    /// between connections: session state (voice, presence) is the caller's to re-send
    /// after the next `Ready` or `Resumed`.
    pub async fn send(&self, frame: ClientFrame) -> Result<()> {
        let (reply, result) = oneshot::channel();
        self.commands.send(Command::Send(frame, reply)).await.map_err(|_| Error::GatewayEnded)?;
        result.await.map_err(|_| Error::GatewayEnded)?
    }

    /// Closes the connection cleanly and stops the driver; the event stream then ends.
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }
}

/// The events of one gateway, in order. Ends after [`GatewayEvent::Closed`] or `close`.
#[derive(Debug)]
pub struct GatewayEvents {
    events: mpsc::Receiver<GatewayEvent>,
}

impl GatewayEvents {
    pub async fn next(&mut self) -> Option<GatewayEvent> {
        self.events.recv().await
    }

    /// A stream fed by the caller instead of a connection: for a program that reads the
    /// gateway's events itself and hands some of them on (the desktop app gives its voice
    /// call the voice events while the UI gets all of them).
    pub fn forwarded(capacity: usize) -> (mpsc::Sender<GatewayEvent>, Self) {
        let (tx, events) = mpsc::channel(capacity);
        (tx, Self { events })
    }
}

/// Starts a gateway connection to `url` (see [`ApiClient::gateway_url`]) in a tokio task,
/// trusting the certificates the system trusts.
pub fn connect(
    url: String,
    tokens: impl TokenSource,
    config: SessionConfig,
) -> (GatewayHandle, GatewayEvents) {
    connect_with_trust(url, tokens, config, &ServerTrust::System)
}

/// Starts the gateway of `api`'s server, with its tokens and its certificate trust.
pub fn connect_api(api: &ApiClient, config: SessionConfig) -> (GatewayHandle, GatewayEvents) {
    connect_with_trust(api.gateway_url(), api.clone(), config, api.trust())
}

/// Like [`connect`], accepting the server certificates `trust` allows.
pub fn connect_with_trust(
    url: String,
    tokens: impl TokenSource,
    config: SessionConfig,
    trust: &ServerTrust,
) -> (GatewayHandle, GatewayEvents) {
    // Bounded: a caller that stops reading stalls the driver rather than memory growing;
    // the server then sees a slow consumer and the session resumes once reading restarts.
    let (event_tx, events) = mpsc::channel(256);
    let (commands, command_rx) = mpsc::channel(32);
    let connector = match trust {
        ServerTrust::System => None,
        ServerTrust::Pinned(fingerprint) => {
            Some(Connector::Rustls(Arc::new(crate::tls::pinned_config(*fingerprint))))
        }
    };
    let driver = Driver {
        presence: config.presence,
        url,
        connector,
        connect_timeout: config.handshake_timeout,
        tokens,
        session: GatewaySession::new(config, Instant::now()),
        socket: None,
        events: event_tx,
        commands: command_rx,
    };
    tokio::spawn(driver.run());
    (GatewayHandle { commands }, GatewayEvents { events })
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Driver<T> {
    /// The last status the caller chose, for the next identify.
    presence: PresenceStatus,
    url: String,
    /// `None`: the system's trusted roots.
    connector: Option<Connector>,
    /// A connect to a black-holed address would otherwise hang the driver, and with it
    /// `close`, for as long as the OS keeps retrying.
    connect_timeout: Duration,
    tokens: T,
    session: GatewaySession,
    socket: Option<Socket>,
    events: mpsc::Sender<GatewayEvent>,
    commands: mpsc::Receiver<Command>,
}

/// What woke the driver.
enum Wake {
    Read(Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Command(Option<Command>),
    Timer,
}

impl<T: TokenSource> Driver<T> {
    async fn run(mut self) {
        loop {
            if !self.drain_outputs().await {
                break;
            }
            let deadline = self.session.poll_timeout();
            let wake = tokio::select! {
                message = next_message(&mut self.socket) => Wake::Read(message),
                command = self.commands.recv() => Wake::Command(command),
                () = sleep_until(deadline) => Wake::Timer,
            };
            let now = Instant::now();
            match wake {
                Wake::Timer => self.session.handle_timeout(now),
                Wake::Read(Some(Ok(Message::Text(text)))) => {
                    // Frames this build does not know (a newer server) are skipped, as
                    // the protocol's append-only rule intends.
                    if let Ok(frame) = serde_json::from_str::<ServerFrame>(text.as_str()) {
                        self.session.handle_frame(frame, now);
                    }
                }
                Wake::Read(Some(Ok(Message::Close(frame)))) => {
                    self.socket = None;
                    self.session.handle_closed(frame.map(|f| u16::from(f.code)), now);
                }
                Wake::Read(Some(Ok(_))) => {}
                Wake::Read(Some(Err(_)) | None) => {
                    self.socket = None;
                    self.session.handle_closed(None, now);
                }
                Wake::Command(Some(Command::Send(frame, reply))) => {
                    // Kept even when the send fails: the next identify says it.
                    if let ClientFrame::SetPresence { status } = frame {
                        self.presence = status;
                    }
                    let result = if self.session.is_live() {
                        self.write(&frame).await
                    } else {
                        Err(Error::GatewayNotConnected)
                    };
                    let _ = reply.send(result);
                }
                // Every handle dropped counts as a close: nobody can stop the driver later.
                Wake::Command(Some(Command::Close) | None) => {
                    if let Some(mut socket) = self.socket.take() {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
                    }
                    break;
                }
            }
        }
    }

    /// Carries out the session's outputs; false once the driver should stop.
    async fn drain_outputs(&mut self) -> bool {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Connect => {
                    let connect = tokio_tungstenite::connect_async_tls_with_config(
                        self.url.as_str(),
                        None,
                        false,
                        self.connector.clone(),
                    );
                    match tokio::time::timeout(self.connect_timeout, connect).await {
                        Ok(Ok((socket, _))) => {
                            self.socket = Some(socket);
                            self.session.handle_connected(Instant::now());
                        }
                        Ok(Err(_)) | Err(_) => self.session.handle_closed(None, Instant::now()),
                    }
                }
                Output::Authenticate(auth) => match self.tokens.access_token().await {
                    Ok(token) => {
                        let frame = match auth {
                            Authenticate::Identify => ClientFrame::Identify {
                                token,
                                presence: (self.session.identify_presence()
                                    && self.presence != PresenceStatus::Online)
                                    .then_some(self.presence),
                            },
                            Authenticate::Resume { session_id, seq } => {
                                ClientFrame::Resume { token, session_id, seq }
                            }
                        };
                        if self.write(&frame).await.is_err() {
                            self.session.handle_closed(None, Instant::now());
                        }
                    }
                    // No token to be had: the session is over (logged out, revoked).
                    Err(e) if session_is_over(&e) => {
                        let closed = GatewayEvent::Closed {
                            code: close::AUTHENTICATION_FAILED,
                            reason: e.to_string(),
                        };
                        let _ = self.events.send(closed).await;
                        return false;
                    }
                    // Unreachable, overloaded or failing for now: try again after backoff.
                    Err(_) => {
                        self.socket = None;
                        self.session.handle_closed(None, Instant::now());
                    }
                },
                Output::Send(frame) => {
                    if self.write(&frame).await.is_err() {
                        self.session.handle_closed(None, Instant::now());
                    }
                }
                Output::Disconnect => {
                    if let Some(mut socket) = self.socket.take() {
                        // A dead peer never answers the close; do not wait long for it.
                        let _ =
                            tokio::time::timeout(Duration::from_millis(500), socket.close(None))
                                .await;
                    }
                    self.session.handle_closed(None, Instant::now());
                }
                Output::Event(event) => {
                    let last = matches!(event, GatewayEvent::Closed { .. });
                    if self.events.send(event).await.is_err() || last {
                        return false;
                    }
                }
            }
        }
        true
    }

    async fn write(&mut self, frame: &ClientFrame) -> Result<()> {
        let socket = self.socket.as_mut().ok_or(Error::GatewayNotConnected)?;
        let text = serde_json::to_string(frame)
            .map_err(|e| Error::Protocol(format!("cannot encode a client frame: {e}")))?;
        if socket.send(Message::text(text)).await.is_err() {
            self.socket = None;
            return Err(Error::GatewayNotConnected);
        }
        Ok(())
    }
}

/// Whether a failure to get a token means the login itself is gone, so reconnecting
/// cannot help.
fn session_is_over(error: &Error) -> bool {
    match error {
        Error::NotLoggedIn => true,
        Error::Api { status, .. } => *status == 401,
        _ => false,
    }
}

async fn next_message(
    socket: &mut Option<Socket>,
) -> Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match socket {
        Some(socket) => socket.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: ErrorCode) -> Error {
        Error::Api { status, code, message: String::new(), request_id: None, fields: Vec::new() }
    }

    #[test]
    fn only_a_lost_login_stops_reconnecting() {
        assert!(session_is_over(&Error::NotLoggedIn));
        assert!(session_is_over(&api(401, ErrorCode::RefreshTokenReused)));
        assert!(session_is_over(&api(401, ErrorCode::SessionRevoked)));
        // A server that is down, overloaded or briefly failing may recover.
        assert!(!session_is_over(&api(503, ErrorCode::Unavailable)));
        assert!(!session_is_over(&api(429, ErrorCode::RateLimited)));
        assert!(!session_is_over(&api(500, ErrorCode::Internal)));
        assert!(!session_is_over(&Error::Protocol("HTTP 502 from a proxy".into())));
    }
}
