//! Clients that hold connections open cheaply are cut off: a request head trickled in byte
//! by byte (slowloris) is closed after the header-read timeout, and WebSocket control
//! frames count against the gateway's frame limit like any other frame.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use gateway_client::{Gw, Next};
use harness::{Backend, TestServer, access};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Bytes, Message};

const HEADER_TIMEOUT: Duration = Duration::from_millis(600);

/// Opens a TCP connection and writes `bytes` one every 100 ms until the server closes
/// the connection or `give_up` passes; returns how long the server kept it open.
async fn trickle(addr: std::net::SocketAddr, bytes: &[u8], give_up: Duration) -> Option<Duration> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    let mut next = 0;
    let mut buf = [0u8; 256];
    while started.elapsed() < give_up {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                // End of stream or a reset: the server hung up.
                Ok(0) | Err(_) => return Some(started.elapsed()),
                // A response (such as 408) may precede the close; keep reading.
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                let byte = bytes[next % bytes.len()];
                next += 1;
                if stream.write_all(&[byte]).await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads_sent_byte_by_byte_are_cut_off() {
    let s = TestServer::start_with(&Backend::Sqlite, |c| {
        c.http.header_read_timeout_ms = HEADER_TIMEOUT.as_millis() as u64;
    })
    .await;
    let addr = s.running().addr();
    // A request line that never ends, one byte at a time.
    let line =
        b"GET /healthz?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let kept = trickle(addr, line, Duration::from_secs(8)).await.expect("the server hangs up");
    assert!(kept >= HEADER_TIMEOUT - Duration::from_millis(50), "cut too early: {kept:?}");
    assert!(kept < HEADER_TIMEOUT * 4, "kept open for {kept:?}");
    // The same after a complete first request on a kept-alive connection.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let started = Instant::now();
    for byte in b"GET /heal" {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the second head was allowed to trickle");
    assert!(started.elapsed() < HEADER_TIMEOUT * 4, "{:?}", started.elapsed());
    // A connection that never says anything is closed as well.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let eof = tokio::time::timeout(Duration::from_secs(8), silent.read(&mut buf)).await;
    assert!(matches!(eof, Ok(Ok(0) | Err(_))), "silent connection kept: {eof:?}");
    // Ordinary clients are not affected.
    assert_eq!(s.get("/healthz", None).await.0, StatusCode::OK);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pings_count_against_the_frame_limit() {
    let s = TestServer::start_with(&Backend::Sqlite, |c| c.gateway.frame_burst = 10).await;
    let token = access(&s.register("pinger").await);
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&token).await;
    for _ in 0..100 {
        if !gw.send_raw(Message::Ping(Bytes::from_static(b"p"))).await {
            break;
        }
    }
    let closed = loop {
        match gw.next(Duration::from_secs(5)).await {
            Next::Frame(_) => continue,
            other => break other,
        }
    };
    assert_eq!(closed, Next::Closed(Some(auraspeak_shared::v1::gateway::close::RATE_LIMITED)));
    s.stop().await;
}
