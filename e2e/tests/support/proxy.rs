//! A TCP proxy in front of the server that can cut every connection through it and
//! refuse new ones for a while: a network failure, without any hook in client or server.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

struct Shared {
    open: AtomicBool,
    links: Mutex<Vec<AbortHandle>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared { open: AtomicBool::new(true), links: Mutex::new(vec![]) });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_shared.open.load(Ordering::SeqCst) {
                    // Accept-then-close: the client sees its connection fail at once.
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_shared.links.lock().expect("links").push(link.abort_handle());
            }
        })
        .abort_handle();
        Self { addr, shared, accept }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every connection and refuses new ones until [`Proxy::reopen`].
    pub fn cut_and_block(&self) {
        self.shared.open.store(false, Ordering::SeqCst);
        for link in self.shared.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    pub fn reopen(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_and_block();
    }
}
