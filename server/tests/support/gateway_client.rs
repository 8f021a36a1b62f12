//! A minimal gateway client for tests, speaking the protocol from `shared` over a real
//! WebSocket.
#![allow(dead_code, unreachable_pub, clippy::large_enum_variant)]

use std::time::Duration;

use auraspeak_shared::v1::gateway::{ClientFrame, Event, PresenceStatus, Ready, ServerFrame};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct Gw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub heartbeat_interval_ms: u64,
    /// The last dispatch sequence seen (set it after a resume to keep checking for gaps).
    pub last_seq: Option<u64>,
}

/// What ended a read.
#[derive(Debug, PartialEq)]
pub enum Next {
    Frame(ServerFrame),
    Closed(Option<u16>),
    Timeout,
}

impl Gw {
    pub async fn connect(base: &str) -> Self {
        Self::connect_from(base, None).await
    }

    /// Connects through a proxy that reports `forwarded_for` as the client, if given.
    pub async fn connect_from(base: &str, forwarded_for: Option<&str>) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = format!("{}/api/v1/gateway", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("gateway URL");
        if let Some(from) = forwarded_for {
            request.headers_mut().insert("x-forwarded-for", from.parse().expect("header value"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("gateway connects");
        let mut gw = Self { ws, heartbeat_interval_ms: 0, last_seq: None };
        match gw.next(Duration::from_secs(5)).await {
            Next::Frame(ServerFrame::Hello { heartbeat_interval_ms, .. }) => {
                gw.heartbeat_interval_ms = heartbeat_interval_ms;
            }
            other => panic!("expected hello, got {other:?}"),
        }
        gw
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).expect("encode");
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) -> bool {
        self.ws.send(message).await.is_ok()
    }

    pub async fn next(&mut self, wait: Duration) -> Next {
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return Next::Timeout,
                Ok(None) | Ok(Some(Err(_))) => return Next::Closed(None),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Next::Closed(frame.map(|f| u16::from(f.code)));
                }
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("server sent an unparsable frame {text}: {e}"));
                    return Next::Frame(frame);
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn identify(&mut self, token: &str) -> Ready {
        self.identify_as(token, None).await
    }

    /// Identifies saying the status the user chose, as the desktop app does.
    pub async fn identify_as(&mut self, token: &str, presence: Option<PresenceStatus>) -> Ready {
        self.send(&ClientFrame::Identify { token: token.to_owned(), presence }).await;
        match self.next(Duration::from_secs(10)).await {
            Next::Frame(ServerFrame::Ready(ready)) => {
                self.last_seq = Some(ready.seq);
                *ready
            }
            other => panic!("expected ready, got {other:?}"),
        }
    }

    /// The next dispatched event, skipping acknowledgements, presence updates (which
    /// arrive whenever anyone connects) and permission updates (which follow any change
    /// to roles or channels). Panics on a gap in the sequence numbers.
    pub async fn event(&mut self, wait: Duration) -> Option<(u64, Event)> {
        loop {
            let (seq, event) = self.any_event(wait).await?;
            if !matches!(event, Event::PresenceUpdate { .. } | Event::PermissionsUpdate { .. }) {
                return Some((seq, event));
            }
        }
    }

    /// The next dispatched event of any kind.
    pub async fn any_event(&mut self, wait: Duration) -> Option<(u64, Event)> {
        loop {
            match self.next(wait).await {
                Next::Frame(ServerFrame::Dispatch { seq, event }) => {
                    if let Some(last) = self.last_seq {
                        assert_eq!(seq, last + 1, "gap or repeat in the event sequence");
                    }
                    self.last_seq = Some(seq);
                    return Some((seq, event));
                }
                Next::Frame(ServerFrame::HeartbeatAck { .. }) => continue,
                Next::Timeout => return None,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// The next frame that is not a dispatch (errors, acks, session control, close).
    pub async fn next_control(&mut self, wait: Duration) -> Next {
        loop {
            match self.next(wait).await {
                Next::Frame(ServerFrame::Dispatch { .. }) => continue,
                other => return other,
            }
        }
    }

    /// Drops the TCP connection without a closing handshake, like a network failure.
    pub fn cut(self) {
        drop(self.ws);
    }
}
