//! A TCP proxy for fault injection between nodes (routes, and later Raft traffic): listens on
//! 127.0.0.1:0, and forwards every accepted connection to a target, both ways, on std threads.
//! Point a node's `--routes` at [`Proxy::addr`] instead of the peer's cluster port, then break
//! the link at will:
//!
//! - [`Proxy::cut`]: every open connection is closed (both sides see EOF/reset) and new ones are
//!   accepted and closed at once, so dialling through the proxy fails, as with a peer that
//!   refuses connections. Until [`Proxy::heal`].
//! - [`Proxy::blackhole`]: nothing is forwarded any more, in either direction, on open or new
//!   connections, but nothing is closed: bytes wait in the proxy and in the kernel's buffers
//!   (senders eventually block), as across a partition where packets vanish and TCP keeps
//!   retransmitting. On [`Proxy::heal`] the held bytes flow on, in order, none lost, as TCP
//!   would deliver them once the partition ends (if neither side gave up meanwhile).
//! - [`Proxy::delay`]: each chunk read is written to the other side no earlier than `d` after
//!   it was read (latency added per direction, throughput not capped).
//! - [`Proxy::rate`]: each direction of each connection forwards at most that many bytes a
//!   second (a slow link: the sender's data piles up in its own buffers).
//! - [`Proxy::drop_rate`]: TCP cannot lose a chunk without corrupting the byte stream, so a
//!   "dropped" chunk kills its connection instead: each chunk read is, with probability `p`
//!   (decided by the proxy's seeded RNG, so a run can be replayed with the same seed), not
//!   forwarded and its connection closed in both directions, as a link that loses too much
//!   ends in a broken connection. Reconnects go through the proxy again (and may be dropped
//!   again).
//!
//! The proxy stops (and closes everything) on drop.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The seed [`Proxy::start`] uses.
pub const DEFAULT_SEED: u64 = 0x5EED_CAFE;

/// How often a stalled (blackholed) pump or the accept loop looks at the controls.
const POLL: Duration = Duration::from_millis(5);

/// A small seeded generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The controls and the open connections, shared with every thread.
struct Shared {
    target: SocketAddr,
    stop: AtomicBool,
    cut: AtomicBool,
    blackhole: AtomicBool,
    delay_micros: AtomicU64,
    /// Bytes a second each direction may forward; 0: no cap.
    rate: AtomicU64,
    /// Drop probability and the RNG that decides.
    drop: Mutex<(f64, Rng)>,
    /// Open connections by id: (client side, target side), clones for closing them.
    conns: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
    next_id: AtomicU64,
    accepted: AtomicUsize,
    dropped: AtomicUsize,
}

impl Shared {
    fn close(&self, id: u64) {
        if let Some((a, b)) = self.conns.lock().unwrap().remove(&id) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }

    fn close_all(&self) {
        let conns: Vec<_> = self.conns.lock().unwrap().drain().collect();
        for (_, (a, b)) in conns {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }

    /// True (and counted) if the next chunk is to be dropped.
    fn roll_drop(&self) -> bool {
        let mut d = self.drop.lock().unwrap();
        let p = d.0;
        if p <= 0.0 {
            return false;
        }
        let hit = p >= 1.0 || d.1.unit() < p;
        if hit {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }
}

/// A running proxy. See the module docs for what each control does.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `target` on 127.0.0.1:0, seeded with [`DEFAULT_SEED`].
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::start_seeded(target, DEFAULT_SEED)
    }

    /// Starts a proxy to `target` on 127.0.0.1:0 whose drops follow `seed`.
    pub fn start_seeded(target: SocketAddr, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("proxy: nonblocking listener");
        let addr = listener.local_addr().expect("proxy: local addr");
        let shared = Arc::new(Shared {
            target,
            stop: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            blackhole: AtomicBool::new(false),
            delay_micros: AtomicU64::new(0),
            rate: AtomicU64::new(0),
            drop: Mutex::new((0.0, Rng::new(seed))),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            accepted: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || accept_loop(listener, s));
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// Where to connect to reach the target through the proxy.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://127.0.0.1:<port>` of [`Proxy::addr`] (for `--routes`).
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The target.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Closes every open connection and closes new ones as soon as they are accepted, until
    /// [`Proxy::heal`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        self.shared.close_all();
    }

    /// Stops forwarding in both directions without closing anything, until [`Proxy::heal`]
    /// (which lets the held bytes through).
    pub fn blackhole(&self) {
        self.shared.blackhole.store(true, Ordering::SeqCst);
    }

    /// Ends [`Proxy::cut`] and [`Proxy::blackhole`]: new connections are forwarded again, and
    /// blackholed ones resume. (Delay and drop rate stay as set.)
    pub fn heal(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
        self.shared.blackhole.store(false, Ordering::SeqCst);
    }

    /// Adds `d` of latency to every chunk, in both directions (`Duration::ZERO`: none).
    pub fn delay(&self, d: Duration) {
        self.shared
            .delay_micros
            .store(d.as_micros() as u64, Ordering::SeqCst);
    }

    /// Caps each direction of each connection at `bytes_per_sec` (0: no cap).
    pub fn rate(&self, bytes_per_sec: u64) {
        self.shared.rate.store(bytes_per_sec, Ordering::SeqCst);
    }

    /// From now on each chunk read (either direction) kills its connection with probability
    /// `p` (0 to 1), drawn from the seeded RNG.
    pub fn drop_rate(&self, p: f64) {
        assert!((0.0..=1.0).contains(&p), "drop rate {p} not in 0..=1");
        self.shared.drop.lock().unwrap().0 = p;
    }

    /// Connections accepted so far (including ones closed because of a cut).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.conns.lock().unwrap().len()
    }

    /// Chunks dropped (connections killed by [`Proxy::drop_rate`]) so far.
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.close_all();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                continue;
            }
            Err(_) => {
                std::thread::sleep(POLL);
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let _ = client.set_nonblocking(false);
        let Ok(upstream) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2))
        else {
            // The target refuses: so does the proxy.
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        shared.conns.lock().unwrap().insert(id, (c2, u2));
        let (Ok(c_w), Ok(u_w)) = (client.try_clone(), upstream.try_clone()) else {
            shared.close(id);
            continue;
        };
        pump(id, client, u_w, shared.clone());
        pump(id, upstream, c_w, shared.clone());
    }
}

/// Forwards `from` to `to` on two threads: a reader that stamps each chunk with the time it
/// was read, and a writer that honours the delay and the blackhole. The channel between them
/// is bounded, so a stalled writer eventually stalls the reader (and TCP backs up).
fn pump(id: u64, mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let (tx, rx) = sync_channel::<(Instant, Vec<u8>)>(64);
    let s = shared.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if s.roll_drop() {
                        s.close(id);
                        break;
                    }
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping tx ends the writer once it has written what is queued.
    });
    std::thread::spawn(move || writer(id, &mut to, rx, &shared));
}

fn writer(id: u64, to: &mut TcpStream, rx: Receiver<(Instant, Vec<u8>)>, shared: &Shared) {
    loop {
        let (read_at, chunk) = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        loop {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let delay = Duration::from_micros(shared.delay_micros.load(Ordering::SeqCst));
            let due = read_at + delay;
            let now = Instant::now();
            if shared.blackhole.load(Ordering::SeqCst) {
                std::thread::sleep(POLL);
            } else if now < due {
                std::thread::sleep((due - now).min(POLL * 4));
            } else {
                break;
            }
        }
        if to.write_all(&chunk).is_err() {
            break;
        }
        let rate = shared.rate.load(Ordering::SeqCst);
        if rate > 0 {
            std::thread::sleep(Duration::from_secs_f64(chunk.len() as f64 / rate as f64));
        }
    }
    // The source closed (or we could not write): pass the close on and forget the connection.
    shared.close(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on 127.0.0.1:0 (one thread per connection); its address.
    fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { break };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(p: &Proxy) -> TcpStream {
        let s = TcpStream::connect(p.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s
    }

    /// Sends `msg` and reads back as many bytes; `None` on EOF/error/timeout.
    fn echo(s: &mut TcpStream, msg: &[u8]) -> Option<Vec<u8>> {
        s.write_all(msg).ok()?;
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).ok()?;
        Some(got)
    }

    /// True if the connection is closed by the peer within `wait` (EOF or reset on read).
    fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
        s.set_read_timeout(Some(wait)).unwrap();
        let mut b = [0u8; 16];
        match s.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    #[test]
    fn forwards_both_ways() {
        let p = Proxy::start(echo_server());
        let mut s = connect(&p);
        assert_eq!(echo(&mut s, b"hello").as_deref(), Some(&b"hello"[..]));
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut t = connect(&p);
        let writer = {
            let mut t2 = t.try_clone().unwrap();
            let big = big.clone();
            std::thread::spawn(move || t2.write_all(&big).unwrap())
        };
        let mut got = vec![0u8; big.len()];
        t.read_exact(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got, big);
        assert_eq!(p.accepted(), 2);
        assert_eq!(p.open_connections(), 2);
        drop(s);
        let deadline = Instant::now() + Duration::from_secs(3);
        while p.open_connections() != 1 && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert_eq!(p.open_connections(), 1, "a closed connection is forgotten");
    }

    #[test]
    fn cut_closes_and_refuses_until_heal() {
        let p = Proxy::start(echo_server());
        let mut s = connect(&p);
        assert!(echo(&mut s, b"a").is_some());
        p.cut();
        assert!(
            closed_within(&mut s, Duration::from_secs(2)),
            "open conn closed"
        );
        let mut n = connect(&p);
        assert!(
            closed_within(&mut n, Duration::from_secs(2)),
            "new conn closed while cut"
        );
        p.heal();
        let mut h = connect(&p);
        assert_eq!(echo(&mut h, b"back").as_deref(), Some(&b"back"[..]));
    }

    #[test]
    fn blackhole_holds_bytes_until_heal() {
        let p = Proxy::start(echo_server());
        let mut s = connect(&p);
        assert!(echo(&mut s, b"x").is_some());
        p.blackhole();
        s.write_all(b"held").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 4];
        assert!(s.read(&mut b).is_err(), "nothing passes a blackhole");
        assert_eq!(p.open_connections(), 1, "nothing closed");
        p.heal();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"held");
    }

    #[test]
    fn rate_caps_throughput() {
        let p = Proxy::start(echo_server());
        let mut s = connect(&p);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        p.rate(1024 * 1024);
        let msg = vec![7u8; 512 * 1024];
        let t = Instant::now();
        assert_eq!(echo(&mut s, &msg).as_deref(), Some(&msg[..]));
        // Half a MiB each way at 1 MiB/s: about a second (the two ways overlap).
        assert!(
            t.elapsed() >= Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
        p.rate(0);
        let t = Instant::now();
        assert_eq!(echo(&mut s, &msg).as_deref(), Some(&msg[..]));
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn delay_adds_latency() {
        let p = Proxy::start(echo_server());
        let mut s = connect(&p);
        assert!(echo(&mut s, b"warm").is_some());
        p.delay(Duration::from_millis(100));
        let t = Instant::now();
        assert!(echo(&mut s, b"slow").is_some());
        // Both directions are delayed.
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        p.delay(Duration::ZERO);
        let t = Instant::now();
        assert!(echo(&mut s, b"fast").is_some());
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn drop_rate_kills_connections_reproducibly() {
        let target = echo_server();
        let p = Proxy::start(target);
        p.drop_rate(1.0);
        let mut s = connect(&p);
        let _ = s.write_all(b"lost");
        assert!(closed_within(&mut s, Duration::from_secs(2)));
        assert_eq!(p.dropped(), 1);
        p.drop_rate(0.0);
        let mut ok = connect(&p);
        for _ in 0..50 {
            assert!(echo(&mut ok, b"fine").is_some());
        }
        assert_eq!(p.dropped(), 1);

        // The same seed gives the same sequence of drops: count how many round trips each
        // connection survives at 20%.
        let survivals = |seed: u64| -> Vec<usize> {
            let p = Proxy::start_seeded(target, seed);
            p.drop_rate(0.2);
            (0..5)
                .map(|_| {
                    let mut s = connect(&p);
                    (0..100)
                        .take_while(|_| echo(&mut s, b"ping").is_some())
                        .count()
                })
                .collect()
        };
        let a = survivals(7);
        assert_eq!(a, survivals(7));
        assert!(a.iter().all(|&n| n < 100), "{a:?}");
    }
}
