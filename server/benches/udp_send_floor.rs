//! The floor under the relay's forwarding cost: what the kernel alone charges to hand
//! audio-sized datagrams to loopback listeners with `sendmmsg`, the call the relay's own
//! egress uses (issue #18). No SRTP, no RTP, no room logic: pre-built 120-byte datagrams,
//! sent in the relay's pattern (one frame to every listener of a room, in batches of 64,
//! every 20 ms per speaker), with the listeners drained by another thread as the loadgen
//! drains them. Whatever CPU the relay spends per copy beyond this figure is ours.
//!
//! Run pinned like the relay bench (sender on core 0, receivers on core 1):
//!
//!   cargo bench -p auraspeak-server --bench udp_send_floor -- [LISTENERS] [SPEAKERS] [SECONDS]
//!
//! Prints the sending thread's CPU per datagram and the streams per core that cost allows
//! at 50 % load, over 3 windows; the median is the figure to quote.

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("udp_send_floor measures Linux's sendmmsg; nothing to do here");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::{SocketAddr, UdpSocket};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    const BATCH: usize = 64;
    const DATAGRAM: usize = 120;
    const FRAME: Duration = Duration::from_millis(20);

    /// CPU time (user + system) of the calling thread, from /proc, in seconds.
    fn thread_cpu() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        (field(11) + field(12)) / 100.0
    }

    fn arg(i: usize, default: u64) -> u64 {
        // `cargo bench` passes `--bench` first; only plain numbers are ours.
        std::env::args()
            .skip(1)
            .filter(|a| a.parse::<u64>().is_ok())
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    }

    pub(super) fn main() {
        let listeners = arg(0, 200) as usize;
        let speakers = arg(1, 3) as usize;
        let seconds = arg(2, 5);
        let receivers: Vec<UdpSocket> = (0..listeners)
            .map(|_| {
                let s = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback listener");
                s.set_nonblocking(true).expect("non-blocking");
                s
            })
            .collect();
        let addrs: Vec<SocketAddr> =
            receivers.iter().map(|s| s.local_addr().expect("bound address")).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let drain = {
            let (stop, received) = (stop.clone(), received.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let mut any = false;
                    for s in &receivers {
                        while s.recv(&mut buf).is_ok() {
                            received.fetch_add(1, Ordering::Relaxed);
                            any = true;
                        }
                    }
                    if !any {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        };
        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind the sender");
        let payload = [0x80u8; DATAGRAM];
        let streams = listeners * speakers;
        println!(
            "udp send floor: {listeners} listeners × {speakers} speakers = {streams} streams, \
             {DATAGRAM}-byte datagrams, sendmmsg batches of {BATCH}"
        );
        let mut per_datagram = Vec::new();
        for window in 1..=3 {
            let (mut sent, mut refused) = (0u64, 0u64);
            let cpu_start = thread_cpu();
            let started = Instant::now();
            let mut next = started;
            while started.elapsed() < Duration::from_secs(seconds) {
                for _ in 0..speakers {
                    for chunk in addrs.chunks(BATCH) {
                        let n = send_batch(&sender, chunk, &payload);
                        sent += n as u64;
                        refused += (chunk.len() - n) as u64;
                    }
                }
                next += FRAME;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            let cpu = thread_cpu() - cpu_start;
            let wall = started.elapsed().as_secs_f64();
            let us = cpu / sent.max(1) as f64 * 1e6;
            per_datagram.push(us);
            // A stream is 50 datagrams a second; half a core is 0.5 s of CPU a second.
            let per_core = 0.5 / (us * 1e-6 * 50.0);
            println!(
                "  window {window}: {sent} sent ({refused} refused) in {wall:.1} s, sender CPU \
                 {:.1} % → {us:.2} µs per datagram → ≤ {per_core:.0} streams per core at 50 % load",
                cpu / wall * 100.0
            );
        }
        stop.store(true, Ordering::Relaxed);
        let _ = drain.join();
        per_datagram.sort_by(f64::total_cmp);
        let median = per_datagram[per_datagram.len() / 2];
        println!(
            "  median {median:.2} µs per datagram → ≤ {:.0} streams per core at 50 % load \
             (received {} datagrams)",
            0.5 / (median * 1e-6 * 50.0),
            received.load(Ordering::Relaxed)
        );
    }

    fn send_batch(socket: &UdpSocket, to: &[SocketAddr], payload: &[u8]) -> usize {
        let batch: Vec<(SocketAddr, &[u8])> = to.iter().map(|a| (*a, payload)).collect();
        auraspeak_server::voice::send_batch(socket, &batch).unwrap_or(0)
    }
}
