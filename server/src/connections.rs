//! Serving HTTP connections, with the timers `axum::serve` lacks.
//!
//! `axum::serve` runs hyper without a timer, so a client that opens a connection and sends
//! its request head one byte at a time (slowloris) holds a task and a socket for as long as
//! it likes. Here each connection is served by hyper-util with a tokio timer:
//!
//! - the first request head must be complete within `header_read_timeout` of the accept
//!   (this also covers the bytes hyper-util reads to tell HTTP/1 from HTTP/2, which no hyper
//!   timer watches);
//! - every later HTTP/1 request head on a kept-alive connection has the same limit, from
//!   hyper's own `header_read_timeout`; an idle kept-alive connection counts as a slow head
//!   and is closed after the same time.
//!
//! Shutdown is graceful as with `axum::serve`: stop accepting, let each connection finish
//! its in-flight request, then return.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::tls::PeerAddr;

/// Serves `app` on `listener` until `stop` is cancelled, then waits for the connections
/// to finish their in-flight requests.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    header_read_timeout: Duration,
    stop: CancellationToken,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    // HTTP/2 WebSockets (RFC 8441) need the CONNECT protocol, as in `axum::serve`.
    builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
    let builder = Arc::new(builder);
    let connections = TaskTracker::new();
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let builder = builder.clone();
        let app = app.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            serve_connection(&builder, io, peer, app, header_read_timeout, stop).await;
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection<I>(
    builder: &Builder<TokioExecutor>,
    io: I,
    peer: SocketAddr,
    app: Router,
    header_read_timeout: Duration,
    stop: CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // Set when hyper hands over the first request, i.e. its head was read in time.
    let first_request = Arc::new(AtomicBool::new(false));
    let seen = first_request.clone();
    let service = app.map_request(move |mut req: axum::http::Request<Incoming>| {
        seen.store(true, Ordering::Relaxed);
        // What `into_make_service_with_connect_info` would add: rate limits and session
        // lists read the peer from here.
        req.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
        req
    });
    let mut conn = pin!(
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
    );
    let mut first_head_deadline = pin!(tokio::time::sleep(header_read_timeout));
    let (mut head_seen, mut draining) = (false, false);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut first_head_deadline, if !head_seen => {
                // The request may have arrived after this branch was armed.
                if first_request.load(Ordering::Relaxed) {
                    head_seen = true;
                    continue;
                }
                tracing::debug!(%peer, "no complete request head in time; closing");
                return;
            }
            () = stop.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
