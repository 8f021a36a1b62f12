//! A UDP path between voice clients and the relay that can break, standing in for a
//! network change: the relay advertises the path's address, the path forwards each
//! client address through an upstream socket of its own (as a NAT does), and
//! [`UdpPath::go_dark`] drops every flow seen so far for good, as when a laptop leaves
//! one Wi-Fi for another. A client's new socket is a new flow and passes.
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::task::JoinSet;

/// Flows the path carries at most (a test has a handful of clients).
const MAX_FLOWS: usize = 64;

#[derive(Default)]
struct State {
    relay: Option<SocketAddr>,
    flows: HashMap<SocketAddr, Arc<UdpSocket>>,
    dark: HashSet<SocketAddr>,
}

pub struct UdpPath {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: JoinSet<()>,
}

impl UdpPath {
    pub async fn start() -> Self {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind path"));
        let addr = front.local_addr().expect("path address");
        let state = Arc::new(Mutex::new(State::default()));
        let mut tasks = JoinSet::new();
        let (loop_state, loop_front) = (state.clone(), front.clone());
        let (flows_tx, mut flows_rx) = tokio::sync::mpsc::unbounded_channel();
        tasks.spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, client)) = loop_front.recv_from(&mut buf).await {
                let (relay, upstream) = {
                    let state = loop_state.lock().expect("path state");
                    let known = state.flows.contains_key(&client);
                    // Dark flows stay dark; new flows beyond the bound are refused, known
                    // ones keep passing.
                    if state.dark.contains(&client) || (!known && state.flows.len() >= MAX_FLOWS) {
                        continue;
                    }
                    (state.relay, state.flows.get(&client).cloned())
                };
                let Some(relay) = relay else { continue };
                let upstream = match upstream {
                    Some(socket) => socket,
                    None => {
                        let socket =
                            Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind upstream"));
                        loop_state.lock().expect("path state").flows.insert(client, socket.clone());
                        let _ = flows_tx.send((client, socket.clone()));
                        socket
                    }
                };
                let _ = upstream.send_to(&buf[..n], relay).await;
            }
        });
        // Relay → client, one reader per flow.
        let (back_state, back_front) = (state.clone(), front);
        tasks.spawn(async move {
            let mut readers = JoinSet::new();
            while let Some((client, upstream)) = flows_rx.recv().await {
                let (state, front) = (back_state.clone(), back_front.clone());
                readers.spawn(async move {
                    let upstream: Arc<UdpSocket> = upstream;
                    let mut buf = vec![0u8; 2048];
                    while let Ok(n) = upstream.recv(&mut buf).await {
                        if state.lock().expect("path state").dark.contains(&client) {
                            continue;
                        }
                        let _ = front.send_to(&buf[..n], client).await;
                    }
                });
            }
        });
        Self { addr, state, tasks }
    }

    /// Where the relay listens (known once the server runs).
    pub fn set_relay(&self, relay: SocketAddr) {
        self.state.lock().expect("path state").relay = Some(relay);
    }

    /// Every flow seen so far stops passing, both ways, for good.
    pub fn go_dark(&self) {
        let mut state = self.state.lock().expect("path state");
        let flows: Vec<SocketAddr> = state.flows.keys().copied().collect();
        state.dark.extend(flows);
    }
}
