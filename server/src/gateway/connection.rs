//! One WebSocket connection: handshake (hello → identify/resume → ready/resumed), then
//! heartbeats in, dispatches out, until the client leaves, misbehaves or the server stops.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use auraspeak_shared::v1::gateway::{ClientFrame, PresenceStatus, Ready, ServerFrame, close};
use auraspeak_shared::{ErrorCode, Snowflake};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt as _;

use super::resume::ResumeError;
use super::{Session, Viewer};
use crate::api::error::ApiError;
use crate::api::extract::{Auth, ClientIp};
use crate::rate_limit::KeyedLimiter;
use crate::state::AppState;

/// Time a client has to identify after the hello.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read and write buffer per connection, in bytes.
const SOCKET_BUFFER: usize = 4096;
/// Time a client may take to accept what we write before it counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Open the realtime gateway (WebSocket; authentication happens in-band with `identify`).
#[utoipa::path(get, path = "/api/v1/gateway", tag = "gateway",
    responses((status = 101, description = "Switching to the WebSocket gateway protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = auraspeak_shared::ErrorBody),
        (status = 403, description = "Origin not allowed", body = auraspeak_shared::ErrorBody)))]
pub async fn gateway(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // Browsers always send Origin; native clients usually do not. Only listed origins
    // may open a gateway from a web page, so a hostile page cannot ride a user's login.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let allowed = &state.gateway.allowed_origins;
        if !allowed.iter().any(|a| a == "*" || a == origin) {
            return ApiError::new(ErrorCode::Forbidden, "origin not allowed").into_response();
        }
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ApiError::new(ErrorCode::InvalidParameter, e.body_text()).into_response(),
    };
    let limit = state.gateway.config.max_frame_bytes;
    // tungstenite refuses frames far above the limit before we see them; below that we
    // check ourselves, so oversize frames get a clean 1009 either way.
    // Small socket buffers: tungstenite's defaults (128 KiB each way) would dominate the
    // memory of an idle connection, and gateway frames are small.
    ws.max_message_size(limit * 2)
        .max_frame_size(limit * 2)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .on_upgrade(move |socket| async move { Connection::new(state, socket, ip).run().await })
}

enum Exit {
    Close(u16, &'static str),
    Gone,
}

struct Connection {
    state: AppState,
    socket: WebSocket,
    limiter: KeyedLimiter<()>,
    /// The client's address, for the per-address identify limit.
    ip: std::net::IpAddr,
}

impl Connection {
    fn new(state: AppState, socket: WebSocket, ip: std::net::IpAddr) -> Self {
        let c = &state.gateway.config;
        let limiter =
            KeyedLimiter::new(c.frame_burst, c.frames_per_minute, Duration::from_secs(60));
        Self { state, socket, limiter, ip }
    }

    async fn send(&mut self, frame: &ServerFrame) -> Result<(), Exit> {
        let text = serde_json::to_string(frame).map_err(|_| Exit::Close(1011, "encode"))?;
        self.socket.send(Message::Text(Utf8Bytes::from(text))).await.map_err(|_| Exit::Gone)
    }

    async fn run(mut self) {
        let metrics = self.state.metrics.clone();
        metrics.gateway_connections.inc();
        let outcome = self.serve().await;
        metrics.gateway_connections.dec();
        let code = match &outcome {
            Err(Exit::Close(code, _)) => *code,
            _ => 0,
        };
        metrics.gateway_closes.get_or_create(&crate::metrics::CloseLabels { code }).inc();
        if let Err(Exit::Close(code, reason)) = outcome {
            let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
            if self.socket.send(Message::Close(Some(frame))).await.is_ok() {
                // Finish the closing handshake: dropping the socket while the client is
                // still sending would reset the connection and could destroy the close
                // frame (and its code) before the client reads it.
                let drain = async {
                    while let Some(Ok(message)) = self.socket.recv().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
            }
        }
    }

    /// Reads one client frame. Errors that the client can recover from are reported with
    /// an error frame and reading continues.
    async fn next_frame(&mut self) -> Result<ClientFrame, Exit> {
        loop {
            let Some(message) = self.socket.recv().await else { return Err(Exit::Gone) };
            // Every data and control frame counts: pings and binary frames cost the server
            // work too (a pong, an error frame), so they must not slip past the limit.
            if matches!(message, Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_)))
                && self.limiter.try_acquire(&(), Instant::now()).is_err()
            {
                return Err(Exit::Close(close::RATE_LIMITED, "too many frames"));
            }
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) => return Err(Exit::Gone),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Binary(_)) => {
                    self.error(ErrorCode::InvalidJson, "frames are JSON text").await?;
                    continue;
                }
                Err(e) => {
                    let big = e.to_string().to_lowercase().contains("too long")
                        || e.to_string().to_lowercase().contains("limit");
                    return Err(if big {
                        Exit::Close(close::TOO_BIG, "frame too big")
                    } else {
                        Exit::Gone
                    });
                }
            };
            if text.len() > self.state.gateway.config.max_frame_bytes {
                return Err(Exit::Close(close::TOO_BIG, "frame too big"));
            }
            if self.limiter.try_acquire(&(), Instant::now()).is_err() {
                return Err(Exit::Close(close::RATE_LIMITED, "too many frames"));
            }
            match serde_json::from_str::<ClientFrame>(&text) {
                Ok(frame) => return Ok(frame),
                Err(e) => {
                    self.error(ErrorCode::InvalidBody, &format!("unknown frame: {e}")).await?
                }
            }
        }
    }

    async fn error(&mut self, code: ErrorCode, message: &str) -> Result<(), Exit> {
        self.send(&ServerFrame::Error { code, message: message.to_owned() }).await
    }

    async fn serve(&mut self) -> Result<(), Exit> {
        let interval = self.state.gateway.config.heartbeat_interval_ms;
        self.send(&ServerFrame::Hello { heartbeat_interval_ms: interval, identify_presence: true })
            .await?;
        let first = match tokio::time::timeout(IDENTIFY_TIMEOUT, self.next_frame()).await {
            Ok(frame) => frame?,
            Err(_) => return Err(Exit::Close(close::SESSION_TIMEOUT, "identify in time")),
        };
        let (session, sent, presence) = match first {
            ClientFrame::Identify { token, presence } => {
                let (session, sent) = self.identify(&token).await?;
                (session, sent, presence)
            }
            ClientFrame::Resume { token, session_id, seq } => {
                let (session, sent) = self.resume(&token, &session_id, seq).await?;
                (session, sent, None)
            }
            _ => return Err(Exit::Close(close::NOT_AUTHENTICATED, "identify first")),
        };
        self.stream(session, sent, presence).await
    }

    /// A free function of the state, not `&self`: the socket is not `Sync`, so no `&self`
    /// may be held across an await.
    async fn authenticate(
        state: &AppState,
        token: &str,
        ip: std::net::IpAddr,
    ) -> Result<Auth, Exit> {
        state
            .accounts
            .authenticate(token, ip)
            .await
            .map_err(|_| Exit::Close(close::AUTHENTICATION_FAILED, "invalid token"))
    }

    async fn identify(&mut self, token: &str) -> Result<(Arc<Session>, u64), Exit> {
        // Every identify builds a full snapshot (every server, read states, presences)
        // and a session that lives for the resume window: limited per address before
        // the token is even checked, and per account after.
        const TOO_MANY_LOGINS: Exit = Exit::Close(close::RATE_LIMITED, "too many identifies");
        if let Some(limits) = &self.state.limits {
            limits.identify_from(self.ip).map_err(|_| TOO_MANY_LOGINS)?;
        }
        let auth = Self::authenticate(&self.state, token, self.ip).await?;
        let user_id = auth.user_id.as_i64();
        if let Some(limits) = &self.state.limits {
            limits.identify_as(user_id).map_err(|_| TOO_MANY_LOGINS)?;
        }
        let gateway = self.state.gateway.clone();
        const TOO_MANY_SESSIONS: Exit =
            Exit::Close(close::TOO_MANY_SESSIONS, "too many sessions for this account or address");
        if !gateway.has_room_for(user_id, self.ip) {
            return Err(TOO_MANY_SESSIONS);
        }
        let servers = self
            .state
            .store
            .servers_of_user(user_id)
            .await
            .map_err(|_| Exit::Close(1011, "database"))?;
        // Subscribe first, snapshot second: events in between are delivered (possibly
        // duplicating the snapshot), never lost.
        let rx = gateway.subscribe();
        let mut details = Vec::with_capacity(servers.len());
        for server in &servers {
            let Some(sid) = Snowflake::from_i64(server.id) else { continue };
            if let Ok(detail) = gateway.community().server_detail(sid, user_id).await {
                details.push(detail);
            }
        }
        // The snapshot already says which channels this user sees: seed the viewer with it
        // so the first message after a mass reconnect costs no permission queries.
        let mut viewer = Viewer::new(user_id, servers.iter().map(|s| s.id));
        for detail in &details {
            viewer.prefill(detail);
        }
        let session = gateway
            .start_session(user_id, auth.session_id.as_i64(), self.ip, viewer, rx)
            .ok_or(TOO_MANY_SESSIONS)?;
        let seq = session.lock().last_seq();
        let user = self.state.accounts.me(auth).await.map_err(|_| Exit::Close(1011, "database"))?;
        let read_states = gateway
            .community()
            .read_states(user_id, &details)
            .await
            .map_err(|_| Exit::Close(1011, "database"))?;
        let server_ids: Vec<i64> = servers.iter().map(|s| s.id).collect();
        let presences = gateway.presences(&server_ids).await;
        let visible: Vec<i64> =
            details.iter().flat_map(|d| d.channels.iter().map(|c| c.id.as_i64())).collect();
        let voice_states = gateway.voice.get().map_or_else(Vec::new, |v| v.states_in(&visible));
        session.lock().handle_attach();
        let ready = Ready {
            session_id: session.id.clone(),
            seq,
            user,
            servers: details,
            heartbeat_interval_ms: gateway.config.heartbeat_interval_ms,
            read_states,
            presences,
            voice_states,
        };
        self.send(&ServerFrame::Ready(Box::new(ready))).await?;
        Ok((session, seq))
    }

    async fn resume(
        &mut self,
        token: &str,
        session_id: &str,
        seq: u64,
    ) -> Result<(Arc<Session>, u64), Exit> {
        let auth = Self::authenticate(&self.state, token, self.ip).await?;
        let found = self.state.gateway.find(session_id).filter(|s| {
            !s.is_invalid()
                && s.user_id == auth.user_id.as_i64()
                && s.auth_session_id == auth.session_id.as_i64()
        });
        let Some(session) = found else {
            self.send(&ServerFrame::InvalidSession { resumable: false }).await?;
            return Err(Exit::Close(close::NOT_AUTHENTICATED, "session not resumable"));
        };
        let missed = session.lock().poll_after(seq);
        match missed {
            Ok(events) => {
                session.generation.fetch_add(1, Ordering::AcqRel);
                session.lock().handle_attach();
                // Replay first, then RESUMED: when the client sees RESUMED it has every
                // event it missed, in order.
                let replayed = events.len() as u64;
                let sent = events.last().map_or(seq, |(last, _)| *last);
                for (event_seq, json) in events {
                    let frame = Message::Text(Utf8Bytes::from(dispatch_frame(event_seq, &json)));
                    self.socket.feed(frame).await.map_err(|_| Exit::Gone)?;
                }
                self.send(&ServerFrame::Resumed { session_id: session.id.clone(), replayed })
                    .await?;
                Ok((session, sent))
            }
            Err(ResumeError::TooFarBehind | ResumeError::FromTheFuture) => {
                self.send(&ServerFrame::InvalidSession { resumable: false }).await?;
                Err(Exit::Close(close::NOT_AUTHENTICATED, "session not resumable"))
            }
        }
    }

    /// The main loop: sends what the session's buffer holds beyond `sent`, answers
    /// heartbeats, and enforces the heartbeat deadline.
    async fn stream(
        &mut self,
        session: Arc<Session>,
        sent: u64,
        presence: Option<PresenceStatus>,
    ) -> Result<(), Exit> {
        let gateway = self.state.gateway.clone();
        if let Some(status) = gateway.presence.handle_connect(session.user_id, presence) {
            gateway.announce_presence(session.user_id, status).await;
        }
        let result = self.stream_events(&session, sent).await;
        if let Some(status) = gateway.presence.handle_disconnect(session.user_id) {
            gateway.announce_presence(session.user_id, status).await;
        }
        result
    }

    async fn stream_events(&mut self, session: &Arc<Session>, mut sent: u64) -> Result<(), Exit> {
        let generation = session.generation.load(Ordering::Acquire);
        let config = self.state.gateway.config.clone();
        // One and a half intervals, so one late heartbeat is not fatal.
        let deadline = Duration::from_millis(config.heartbeat_interval_ms * 3 / 2);
        let mut last_heartbeat = Instant::now();
        let shutdown = self.state.shutdown.clone();
        let result = loop {
            // Register interest before draining, so a wake-up between drain and wait is
            // not lost.
            let changed = session.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if shutdown.is_cancelled() {
                break Err(Exit::Close(close::GOING_AWAY, "server shutting down"));
            }
            if session.is_invalid() {
                let _ = self.send(&ServerFrame::InvalidSession { resumable: false }).await;
                break Err(Exit::Close(close::SESSION_REVOKED, "session ended"));
            }
            if session.generation.load(Ordering::Acquire) != generation {
                break Err(Exit::Close(close::SESSION_REVOKED, "resumed elsewhere"));
            }
            let pending = session.lock().poll_after(sent);
            match pending {
                Ok(events) if events.is_empty() => {}
                Ok(events) => {
                    // Queue the whole backlog, then flush once: one write for many
                    // events when a burst arrives.
                    let mut failed = false;
                    for (seq, json) in events {
                        let frame = dispatch_frame(seq, &json);
                        if self.socket.feed(Message::Text(Utf8Bytes::from(frame))).await.is_err() {
                            failed = true;
                            break;
                        }
                        sent = seq;
                        self.state.metrics.gateway_dispatched.inc();
                    }
                    // A client that stops reading would block this write, and with it the
                    // heartbeat check; give up on it after a while instead.
                    let flushed = tokio::time::timeout(WRITE_TIMEOUT, self.socket.flush()).await;
                    if failed || !matches!(flushed, Ok(Ok(()))) {
                        break Err(Exit::Gone);
                    }
                }
                Err(_) => break Err(Exit::Close(close::SLOW_CONSUMER, "too far behind")),
            }
            let wait = deadline.saturating_sub(last_heartbeat.elapsed());
            tokio::select! {
                () = &mut changed => {}
                frame = self.next_frame() => match frame {
                    Ok(ClientFrame::Heartbeat { seq }) => {
                        last_heartbeat = Instant::now();
                        if !self.state.gateway.auth_still_valid(session).await {
                            session.invalidate();
                            continue;
                        }
                        if let Err(e) = self.send(&ServerFrame::HeartbeatAck { seq }).await {
                            break Err(e);
                        }
                    }
                    Ok(ClientFrame::SetPresence { status }) => {
                        let gateway = &self.state.gateway;
                        if let Some(shown) = gateway.presence.handle_set(session.user_id, status) {
                            gateway.announce_presence(session.user_id, shown).await;
                        }
                    }
                    Ok(ClientFrame::VoiceJoin { channel_id, self_mute, self_deaf }) => {
                        let Some(voice) = self.state.gateway.voice.get().cloned() else {
                            self.error(ErrorCode::Unavailable, "voice is disabled on this server").await?;
                            continue;
                        };
                        let frame = match voice.join(session, channel_id, self_mute, self_deaf).await {
                            Ok((channel_id, receive_slots, bitrate_kbps, ice_servers)) => {
                                ServerFrame::VoiceReady { channel_id, receive_slots, bitrate_kbps, ice_servers }
                            }
                            Err((code, message)) => ServerFrame::Error { code, message },
                        };
                        self.send(&frame).await?;
                    }
                    Ok(ClientFrame::VoiceOffer { sdp }) => {
                        let Some(voice) = self.state.gateway.voice.get().cloned() else {
                            self.error(ErrorCode::Unavailable, "voice is disabled on this server").await?;
                            continue;
                        };
                        let frame = match voice.offer(session, sdp).await {
                            Ok(sdp) => ServerFrame::VoiceAnswer { sdp },
                            Err((code, message)) => ServerFrame::Error { code, message },
                        };
                        self.send(&frame).await?;
                    }
                    Ok(ClientFrame::VoiceUpdate { self_mute, self_deaf }) => {
                        let result = match self.state.gateway.voice.get() {
                            Some(voice) => voice.update(session, self_mute, self_deaf),
                            None => Err((ErrorCode::Unavailable, "voice is disabled on this server".into())),
                        };
                        if let Err((code, message)) = result {
                            self.error(code, &message).await?;
                        }
                    }
                    Ok(ClientFrame::VoiceLeave {}) => {
                        if let Some(voice) = self.state.gateway.voice.get() {
                            voice.leave(&session.id);
                        }
                    }
                    Ok(ClientFrame::Identify { .. } | ClientFrame::Resume { .. }) => {
                        break Err(Exit::Close(close::ALREADY_AUTHENTICATED, "already identified"));
                    }
                    Err(e) => break Err(e),
                },
                () = tokio::time::sleep(wait) => {
                    break Err(Exit::Close(close::SESSION_TIMEOUT, "no heartbeat"));
                }
                () = shutdown.cancelled() => {
                    break Err(Exit::Close(close::GOING_AWAY, "server shutting down"));
                }
            }
        };
        if session.generation.load(Ordering::Acquire) == generation {
            session.lock().handle_detach(Instant::now());
        }
        result
    }
}

/// A `dispatch` frame around an event that is already JSON: the same text serde would
/// produce for [`ServerFrame::Dispatch`], without encoding the event again per session.
fn dispatch_frame(seq: u64, event_json: &str) -> String {
    format!(r#"{{"op":"dispatch","d":{{"seq":{seq},"event":{event_json}}}}}"#)
}

#[cfg(test)]
mod tests {
    use auraspeak_shared::v1::gateway::{Event, PresenceStatus, ServerFrame};
    use auraspeak_shared::{Snowflake, UserId};

    #[test]
    fn spliced_dispatch_equals_serde_output() {
        let event = Event::PresenceUpdate {
            user_id: UserId(Snowflake::from_parts(9, 1, 2).expect("fits")),
            status: PresenceStatus::Idle,
        };
        let spliced = super::dispatch_frame(42, &crate::events::encode(&event));
        let serde = serde_json::to_string(&ServerFrame::Dispatch { seq: 42, event }).expect("json");
        assert_eq!(spliced, serde);
    }
}
