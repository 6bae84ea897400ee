//! Slow consumers: a subscriber that never reads, while a publisher floods its subject and
//! other subscribers read normally.
//!
//! The broker runs with a small `max_pending` (1 MiB) and `write_deadline` (5 s), from a
//! config file, so the cutoff comes quickly. Asserted, for sluice and for nats-server 2.9.10:
//!
//! - the stuck subscriber is cut off: its connection is closed and /varz counts one slow
//!   consumer; its outbound buffer, as /connz shows it, never grows past `max_pending`; what
//!   it can still read (its socket buffers) is whole messages in order, then at most
//!   `-ERR 'Slow Consumer'` (best effort: its socket is full);
//! - every other subscriber gets every message, in order (sequence numbers in the payloads),
//!   once the publisher's final PING has its PONG;
//! - a stuck member of a queue group is cut off the same way; the healthy member then gets
//!   every message, and no message goes to both.
//!
//! Sluice alone (nats-server 2.9.10 holds the publisher until its write deadline cuts the
//! stuck subscriber, slowing everyone to a trickle: protocol-spec/differences.md #8a): the cut
//! comes at `max_pending`, well before the write deadline; the healthy subscribers' throughput
//! with the stuck one present is at least a third of a control run without it (same broker,
//! same test), and the publisher is held less than a second longer (a reader that takes
//! nothing for 50 ms is no longer waited for).
//!
//! The tests in this file run one at a time (they measure throughput).

use integration_tests::{both, Broker, Kind};
use sluice_protocol::parse::RawServerOp;
use sluice_protocol::{encode_pub, scan_server, Limits, Parsed};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The broker's `max_pending`.
const MAX_PENDING: usize = 1 << 20;
/// The broker's `write_deadline` (default 10 s): nats-server holds the publisher until it
/// cuts the stuck subscriber by this deadline, so it bounds how long its half takes.
const WRITE_DEADLINE_S: u64 = 5;
/// Messages per run: several times what the stuck subscriber's socket buffers and
/// `max_pending` hold together.
const MSGS: usize = 30_000;
/// Payload size.
const SIZE: usize = 1024;
/// Subscribers that read normally.
const HEALTHY: usize = 3;
/// Messages per publisher write.
const BATCH: usize = 100;
/// The stuck subscriber's socket receive buffer (the kernel doubles it).
const STUCK_RCVBUF: u32 = 16 * 1024;
/// How long any one read may wait.
const READ_WAIT: Duration = Duration::from_secs(20);

/// The tests here measure throughput: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A running broker with its monitoring port.
struct Setup {
    broker: Broker,
    http: SocketAddr,
    _conf: TempConf,
}

/// A config file, removed on drop.
struct TempConf(PathBuf);

impl Drop for TempConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Starts `kind` with `max_pending` = [`MAX_PENDING`] and monitoring on a free port.
fn start(kind: Kind) -> Setup {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "slow-consumer-{}-{}.conf",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let conf = format!("max_pending: {MAX_PENDING}\nwrite_deadline: \"{WRITE_DEADLINE_S}s\"\n");
    std::fs::write(&path, conf).expect("write config");
    let conf = TempConf(path);
    let broker = Broker::start(kind, &["-c", conf.0.to_str().unwrap(), "-m", "-1"]);
    let http = monitor_addr(broker.startup_lines()).expect("monitor log line");
    Setup {
        broker,
        http,
        _conf: conf,
    }
}

/// The address in the "Starting http monitor on HOST:PORT" log line.
fn monitor_addr(lines: &[String]) -> Option<SocketAddr> {
    const MARK: &str = "Starting http monitor on ";
    lines.iter().find_map(|l| {
        let at = l.find(MARK)? + MARK.len();
        let port: u16 = l[at..].trim().rsplit(':').next()?.parse().ok()?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    })
}

/// GET `path` from the monitor; the JSON body.
fn monitor(http: SocketAddr, path: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(http).expect("connect to the monitor");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("monitor reply");
    let (_, body) = text.split_once("\r\n\r\n").expect("HTTP reply");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body:.200}"))
}

/// /varz `slow_consumers`, polled until it is at least `want` (5 s at most).
fn slow_consumers(http: SocketAddr, want: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = monitor(http, "/varz")["slow_consumers"]
            .as_u64()
            .unwrap_or(0);
        if n >= want || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A payload of [`SIZE`] bytes starting with `seq` in decimal.
fn payload(seq: usize) -> Vec<u8> {
    let mut p = format!("{seq:010} ").into_bytes();
    p.resize(SIZE, b'x');
    p
}

/// The sequence number a [`payload`] starts with.
fn seq_of(payload: &[u8]) -> usize {
    std::str::from_utf8(&payload[..10])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "not a test payload: {:?}",
                &payload[..payload.len().min(20)]
            )
        })
}

/// Reads the INFO line and sends CONNECT (named `name`), `SUB subject [queue] 1` and PING,
/// then reads until the PONG. Nothing else arrives before that.
fn handshake(s: &mut TcpStream, name: &str, subject: &str, queue: Option<&str>) {
    let queue = queue.map_or(String::new(), |q| format!(" {q}"));
    let hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"{name}\"}}\r\n\
         SUB {subject}{queue} 1\r\nPING\r\n"
    );
    s.write_all(hello.as_bytes()).expect("send CONNECT");
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"PONG\r\n") {
        s.read_exact(&mut byte).expect("INFO and PONG");
        got.push(byte[0]);
    }
    assert!(got.starts_with(b"INFO "), "{}", got.escape_ascii());
}

/// A subscriber that reads normally, parsing frames as they come.
struct Reader {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
    /// The texts of the -ERRs received.
    errs: Vec<String>,
}

impl Reader {
    fn connect(addr: SocketAddr, name: &str, subject: &str, queue: Option<&str>) -> Reader {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        handshake(&mut s, name, subject, queue);
        Reader::new(s, READ_WAIT)
    }

    fn new(s: TcpStream, wait: Duration) -> Reader {
        s.set_read_timeout(Some(wait)).unwrap();
        Reader {
            s,
            buf: vec![0; 1 << 20],
            have: 0,
            errs: Vec::new(),
        }
    }

    /// Reads once and calls `f` with each whole message's payload; answers PINGs, keeps
    /// -ERRs. An error says why the read failed.
    fn read_some(&mut self, mut f: impl FnMut(&[u8])) -> Result<(), String> {
        let n = match self.s.read(&mut self.buf[self.have..]) {
            Ok(0) => return Err(CLOSED.into()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => 0,
            Err(e) => return Err(format!("read: {e}")),
        };
        self.have += n;
        let limits = Limits::default();
        let mut off = 0;
        loop {
            let frame = &self.buf[off..self.have];
            match scan_server(frame, &limits).map_err(|e| format!("unparseable: {e}"))? {
                Parsed::Incomplete => break,
                Parsed::Blank { len } => off += len,
                Parsed::Op { op, len } => {
                    match op {
                        RawServerOp::Msg { payload, .. } => f(payload.get(frame)),
                        RawServerOp::Ping => {
                            self.s.write_all(b"PONG\r\n").map_err(|e| e.to_string())?
                        }
                        RawServerOp::Err(e) => self.errs.push(e),
                        _ => {}
                    }
                    off += len;
                }
            }
        }
        self.buf.copy_within(off..self.have, 0);
        self.have -= off;
        Ok(())
    }

    /// Reads until the message with sequence `last` arrived, checking that sequences only
    /// grow (and, if `gapless`, that none is missing from `first`).
    fn receive(mut self, first: usize, last: usize, gapless: bool) -> Result<Received, String> {
        let mut next = first;
        let mut seqs = Vec::new();
        let mut fault = None;
        while next <= last && fault.is_none() && self.errs.is_empty() {
            self.read_some(|p| {
                let seq = seq_of(p);
                let ok = if gapless { seq == next } else { seq >= next };
                if !ok && fault.is_none() {
                    fault = Some(format!("got message {seq}, expected {next}"));
                }
                next = seq + 1;
                seqs.push(seq);
            })
            .map_err(|e| format!("{e} after {} messages", seqs.len()))?;
        }
        if let Some(e) = self.errs.first() {
            return Err(format!("-ERR '{e}' after {} messages", seqs.len()));
        }
        match fault {
            Some(f) => Err(f),
            None => Ok(Received {
                seqs,
                at: Instant::now(),
            }),
        }
    }
}

/// How [`Reader::read_some`] reports the server's close.
const CLOSED: &str = "closed by the server";

/// What one healthy subscriber received.
struct Received {
    /// The sequence numbers received, in order.
    seqs: Vec<usize>,
    /// When the last message arrived.
    at: Instant,
}

/// Connects a subscriber that will never read, with a small socket receive buffer, and
/// subscribes it to `subject` (in `queue`).
fn stuck_subscriber(addr: SocketAddr, subject: &str, queue: Option<&str>) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let mut s = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(STUCK_RCVBUF)?;
            socket.connect(addr).await?.into_std()
        })
        .expect("connect the stuck subscriber");
    s.set_nonblocking(false).unwrap();
    handshake(&mut s, "stuck", subject, queue);
    s
}

/// What the stuck subscriber can still read after the cutoff (what was in its socket
/// buffers), and whether the server closed the connection.
struct Leftover {
    /// The sequence numbers of the messages in its buffers, in order.
    seqs: Vec<usize>,
    /// The -ERRs at the end.
    errs: Vec<String>,
    closed: bool,
}

/// Reads what is left for the stuck subscriber, until the server's close (10 s at most).
fn leftover(s: TcpStream) -> Leftover {
    let mut r = Reader::new(s, Duration::from_secs(10));
    let mut seqs = Vec::new();
    let closed = loop {
        if let Err(e) = r.read_some(|p| seqs.push(seq_of(p))) {
            break e == CLOSED || e.contains("reset");
        }
    };
    Leftover {
        seqs,
        errs: r.errs,
        closed,
    }
}

/// How the publisher fared.
struct Published {
    /// From the first write to the final PONG.
    took: Duration,
    /// The longest one batch write took: how long the server held the publisher at once.
    worst_write: Duration,
}

/// Publishes `seqs` to `subject` in batches of [`BATCH`], then sends PING
/// and waits for the PONG: every message has been routed.
fn publish(addr: SocketAddr, subject: &str, seqs: std::ops::Range<usize>) -> Published {
    let mut s = TcpStream::connect(addr).expect("connect the publisher");
    s.set_nodelay(true).unwrap();
    handshake(&mut s, "publisher", "_INBOX.publisher", None);
    let start = Instant::now();
    let mut worst_write = Duration::ZERO;
    let mut out = bytes::BytesMut::new();
    let last = seqs.end;
    for seq in seqs {
        encode_pub(&mut out, subject, None, None, &payload(seq));
        if (seq + 1) % BATCH == 0 || seq + 1 == last {
            let t = Instant::now();
            s.write_all(&out).expect("publish");
            worst_write = worst_write.max(t.elapsed());
            out.clear();
        }
    }
    s.write_all(b"PING\r\n").unwrap();
    wait_pong(&mut s);
    Published {
        took: start.elapsed(),
        worst_write,
    }
}

/// Reads until a PONG arrives (the publisher's only subscription gets no messages).
fn wait_pong(s: &mut TcpStream) {
    s.set_read_timeout(Some(READ_WAIT)).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"PONG\r\n") {
        s.read_exact(&mut byte).expect("PONG to the final PING");
        got.push(byte[0]);
        if got.ends_with(b"PING\r\n") {
            s.write_all(b"PONG\r\n").unwrap();
        }
    }
}

/// Watches /connz while a run goes on, for the largest `pending_bytes` of the connection
/// named "stuck".
struct Watch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<usize>,
}

impl Watch {
    fn start(http: SocketAddr) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut max_pending = 0;
            while !flag.load(Ordering::Relaxed) {
                let connz = monitor(http, "/connz");
                let stuck = connz["connections"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["name"] == "stuck");
                if let Some(c) = stuck {
                    let p = c["pending_bytes"].as_u64().unwrap_or(0) as usize;
                    max_pending = max_pending.max(p);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            max_pending
        });
        Watch { stop, thread }
    }

    /// The largest pending bytes seen.
    fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("watcher")
    }
}

/// One flood of [`MSGS`] to `subject` with [`HEALTHY`] subscribers reading it.
struct Run {
    /// Each healthy subscriber's messages per second, from the first publish to its last
    /// message.
    rates: Vec<f64>,
    publisher: Published,
}

impl Run {
    fn slowest(&self) -> f64 {
        self.rates.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// Floods `subject` with [`MSGS`] messages while [`HEALTHY`] subscribers read it; each must
/// get every message, in order.
fn flood(addr: SocketAddr, subject: &str) -> Run {
    let readers: Vec<Reader> = (0..HEALTHY)
        .map(|i| Reader::connect(addr, &format!("healthy{i}"), subject, None))
        .collect();
    let start = Instant::now();
    let threads: Vec<JoinHandle<Result<Received, String>>> = readers
        .into_iter()
        .map(|r| std::thread::spawn(move || r.receive(0, MSGS - 1, true)))
        .collect();
    let publisher = publish(addr, subject, 0..MSGS);
    let rates = threads
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let got = t
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("healthy subscriber {i} on {subject}: {e}"));
            assert_eq!(
                got.seqs.len(),
                MSGS,
                "healthy subscriber {i} got every message"
            );
            MSGS as f64 / (got.at - start).as_secs_f64()
        })
        .collect();
    Run { rates, publisher }
}

fn show(label: &str, kind: Kind, run: &Run) {
    let rates: Vec<String> = run.rates.iter().map(|r| format!("{r:.0}")).collect();
    eprintln!(
        "{kind:?} {label}: healthy subscribers {} msgs/s; publisher {:.3} s, longest write {:.3} s",
        rates.join(", "),
        run.publisher.took.as_secs_f64(),
        run.publisher.worst_write.as_secs_f64()
    );
}

both!(
    /// The stuck subscriber is cut off at `max_pending`; three healthy ones get everything at
    /// full speed.
    fn stuck_subscriber_is_cut_off_and_others_keep_full_speed(kind) {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let setup = start(kind);
        let addr = setup.broker.addr;

        let control = flood(addr, "flood.control");
        show("control, no stuck subscriber", kind, &control);

        let stuck = stuck_subscriber(addr, "flood.stuck", None);
        let watch = Watch::start(setup.http);
        let started = Instant::now();
        let with_stuck = flood(addr, "flood.stuck");
        show("with a stuck subscriber", kind, &with_stuck);
        let cut = slow_consumers(setup.http, 1);
        let cut_within = started.elapsed();
        let max_pending = watch.finish();
        let left = leftover(stuck);
        eprintln!(
            "{kind:?}: stuck subscriber cut off within {:.3} s; largest pending seen {max_pending} \
             bytes; messages 0..{} were in its socket buffers, then {:?}",
            cut_within.as_secs_f64(),
            left.seqs.len(),
            left.errs
        );

        assert_eq!(cut, 1, "/varz slow_consumers counts the stuck subscriber");
        assert!(left.closed, "the stuck subscriber's connection is closed");
        assert!(left.seqs.len() < MSGS, "the stuck subscriber was cut off before the end");
        assert!(
            left.seqs.iter().enumerate().all(|(i, &s)| i == s),
            "the stuck subscriber got whole messages in order until the cutoff"
        );
        assert!(
            left.errs.iter().all(|e| e == "Slow Consumer"),
            "{:?}",
            left.errs
        );
        assert!(
            max_pending <= MAX_PENDING + SIZE + 64,
            "pending bytes {max_pending} went past max_pending {MAX_PENDING}"
        );
        if kind == Kind::NatsServer {
            // nats-server 2.9.10 holds the publisher (fast-producer stall) until the write
            // deadline cuts the stuck subscriber, so everyone else waits for it: measured
            // 990 msgs/s against 90,000 without it (differences.md #8a).
            return;
        }
        assert!(
            cut_within < Duration::from_secs(WRITE_DEADLINE_S),
            "cut off at max_pending, before the write deadline"
        );
        assert!(
            with_stuck.slowest() >= control.slowest() / 3.0,
            "healthy subscribers slowed down by the stuck one: {:.0} msgs/s vs {:.0} without it",
            with_stuck.slowest(),
            control.slowest()
        );
        let extra = with_stuck.publisher.took.saturating_sub(control.publisher.took);
        assert!(
            extra < Duration::from_secs(1),
            "the publisher was held {extra:?} longer with the stuck subscriber"
        );
    }
);

both!(
    /// A stuck queue member is cut off; the healthy member of the group gets every message
    /// from then on, and the group never delivers anything twice or out of order.
    fn stuck_queue_member_is_cut_off_and_the_group_goes_on(kind) {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let setup = start(kind);
        let addr = setup.broker.addr;
        let stuck = stuck_subscriber(addr, "qflood", Some("workers"));
        let healthy = Reader::connect(addr, "healthy", "qflood", Some("workers"));
        const TAIL: usize = 1000;
        let reader = std::thread::spawn(move || healthy.receive(0, MSGS + TAIL - 1, false));

        // Half the flood goes to the stuck member until it is cut off.
        publish(addr, "qflood", 0..MSGS);
        assert_eq!(slow_consumers(setup.http, 1), 1, "the stuck member is cut off");
        // Sent after the cutoff: all of it goes to the healthy member.
        publish(addr, "qflood", MSGS..MSGS + TAIL);
        let got = reader
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("healthy queue member: {e}"));
        let left = leftover(stuck);
        let tail = got.seqs.iter().filter(|&&s| s >= MSGS).count();
        eprintln!(
            "{kind:?}: healthy queue member got {} of {} (of the {TAIL} sent after the cutoff: \
             {tail}); the stuck one had {} in its socket buffers",
            got.seqs.len(),
            MSGS + TAIL,
            left.seqs.len()
        );
        assert!(left.closed, "the stuck member's connection is closed");
        assert_eq!(tail, TAIL, "every message sent after the cutoff reached the healthy member");
        let mut all: Vec<usize> = got.seqs.iter().chain(&left.seqs).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            got.seqs.len() + left.seqs.len(),
            "no message went to both members"
        );
    }
);
