//! Backpressure from a stream to its publishers (issue 16): a fire-and-forget publisher (PUB
//! without a reply) writing 1 KiB messages to a file stream as fast as its socket takes them.
//! The broker must pace it by no longer reading its socket (TCP pushes back), not buffer what
//! it cannot store yet:
//!
//! - the server's peak RSS (VmHWM) grows by at most [`RSS_GROWTH_LIMIT_KIB`] over its RSS
//!   once the stream exists and before the load starts, however many messages the stream
//!   holds: nothing grows with the backlog (before the writer queue was bounded, 10 s of this
//!   load took Sluice to 922 MiB), nor with the stream (a file stream keeps only its recent
//!   index chunks in memory; before they were paged out, 2.7 M stored messages held 115 MiB in
//!   a debug build). Growth, not the total: the binary's own size (a debug build; it grew by
//!   3.5 MiB of idle RSS when the Raft engine came in) is not what this test is about. Seen:
//!   19 to 24 MiB of growth, peaks of 64 to 68 MiB;
//! - another connection's request-reply round trips stay under [`RTT_LIMIT`] meanwhile (the
//!   99th percentile; a single one may take up to [`RTT_MAX`]: on this shared 2-core machine
//!   a debug build sees rare outliers, 63-89 ms seen, while nats-server's worst was 16 ms);
//! - the stream ends up holding exactly the number of messages sent: nothing read from the
//!   socket is dropped.
//!
//! Sluice runs with `--sync always` (every ack means fsynced; here nothing is acked, but the
//! store still syncs every batch). nats-server 2.9.10 runs the same load in the same test for
//! comparison (its file store syncs every 2 minutes; it is not held to the limits, nor to
//! storing everything it read: when the publisher outruns it, it drops messages).
//! The load lasts [`DEFAULT_SECS`] seconds, or `SLUICE_BACKPRESSURE_SECS`.

use integration_tests::client::{api, bounded, connect, within_for};
use integration_tests::js::StoreDir;
use integration_tests::{skip_without_nats_server, Broker, Kind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_SECS: u64 = 30;
const RSS_GROWTH_LIMIT_KIB: u64 = 36 * 1024;
const RTT_LIMIT: Duration = Duration::from_millis(50);
/// The longest any one round trip may take: the other connections are never stalled.
const RTT_MAX: Duration = Duration::from_millis(500);
const PAYLOAD: usize = 1024;
/// Messages per write: 64 frames, about 67 KiB.
const FRAMES_PER_WRITE: u64 = 64;

fn load_secs() -> u64 {
    std::env::var("SLUICE_BACKPRESSURE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS)
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
fn mem_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Publishes 1 KiB messages without a reply to `bp.load` until `stop`, as fast as the socket
/// takes them; then sends PING and waits for the PONG (everything sent was read). Returns
/// how many messages it sent.
fn publisher(addr: SocketAddr, stop: Arc<AtomicBool>) -> u64 {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut info = [0u8; 4096];
    let _ = s.read(&mut info).expect("INFO");
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .expect("CONNECT");
    let mut chunk = Vec::new();
    for _ in 0..FRAMES_PER_WRITE {
        chunk.extend_from_slice(format!("PUB bp.load {PAYLOAD}\r\n").as_bytes());
        chunk.extend(std::iter::repeat_n(b'x', PAYLOAD));
        chunk.extend_from_slice(b"\r\n");
    }
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        s.write_all(&chunk).expect("publish");
        sent += FRAMES_PER_WRITE;
    }
    s.write_all(b"PING\r\n").expect("PING");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(6).any(|w| w == b"PONG\r\n") {
        let n = s.read(&mut buf).expect("read PONG");
        assert!(n > 0, "closed before PONG");
        got.extend_from_slice(&buf[..n]);
    }
    sent
}

/// What one run measured.
#[derive(Debug)]
struct Run {
    kind: Kind,
    sent: u64,
    stored: u64,
    secs: f64,
    start_rss_kib: u64,
    peak_rss_kib: u64,
    rtts: Vec<Duration>,
}

impl Run {
    fn rtt_max(&self) -> Duration {
        self.rtts.iter().copied().max().unwrap_or_default()
    }

    fn rtt_p99(&self) -> Duration {
        let mut v = self.rtts.clone();
        v.sort();
        v.get(v.len().saturating_sub(1) * 99 / 100)
            .copied()
            .unwrap_or_default()
    }

    fn report(&self) -> String {
        format!(
            "{:?}: {} msgs sent in {:.1} s ({:.0}/s), {} stored, RSS {} KiB before the load, \
             peak {} KiB, request-reply over {} round trips: p99 {:?}, max {:?}",
            self.kind,
            self.sent,
            self.secs,
            self.sent as f64 / self.secs,
            self.stored,
            self.start_rss_kib,
            self.peak_rss_kib,
            self.rtts.len(),
            self.rtt_p99(),
            self.rtt_max()
        )
    }
}

async fn run(kind: Kind, secs: u64) -> Run {
    let dir = StoreDir::new("backpressure");
    let broker = match kind {
        Kind::Sluice => Broker::start(kind, &["-js", "-sd", dir.as_str(), "--sync", "always"]),
        Kind::NatsServer => Broker::start(kind, &["-js", "-sd", dir.as_str()]),
    };
    let url = broker.url();
    let admin = connect(&url).await;
    let created = api(
        &admin,
        "$JS.API.STREAM.CREATE.BP",
        r#"{"name":"BP","subjects":["bp.>"],"storage":"file"}"#,
    )
    .await;
    assert!(created.get("error").is_none(), "{created}");
    let start_rss_kib = mem_kib(broker.pid(), "VmRSS");

    // A responder and a prober on connections of their own.
    let responder = connect(&url).await;
    let mut echo = responder.subscribe("rtt.echo").await.expect("subscribe");
    let r = responder.clone();
    let echo_task = tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(m) = echo.next().await {
            if let Some(reply) = m.reply {
                let _ = r.publish(reply, m.payload).await;
            }
        }
    });
    responder.flush().await.expect("flush");
    let prober = connect(&url).await;

    let stop = Arc::new(AtomicBool::new(false));
    let addr = broker.addr;
    let pub_stop = stop.clone();
    let started = Instant::now();
    let publishing = std::thread::spawn(move || publisher(addr, pub_stop));

    let mut rtts = Vec::new();
    let mut peak_seen = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        within_for(
            Duration::from_secs(10),
            "a request-reply round trip during the load",
            prober.request("rtt.echo", "ping".into()),
        )
        .await
        .expect("request");
        rtts.push(t.elapsed());
        peak_seen = peak_seen.max(mem_kib(broker.pid(), "VmRSS"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let sent = tokio::task::spawn_blocking(move || publishing.join().expect("publisher"))
        .await
        .expect("join");
    let secs_taken = started.elapsed().as_secs_f64();

    // Everything read must end up stored (the writer may still be catching up).
    let deadline = Instant::now() + Duration::from_secs(120);
    let stored = loop {
        let info = api(&admin, "$JS.API.STREAM.INFO.BP", "").await;
        let stored = info["state"]["messages"].as_u64().unwrap_or(0);
        if stored >= sent || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let peak_rss_kib = mem_kib(broker.pid(), "VmHWM").max(peak_seen);
    echo_task.abort();
    Run {
        kind,
        sent,
        stored,
        secs: secs_taken,
        start_rss_kib,
        peak_rss_kib,
        rtts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_publisher_is_paced_not_buffered() {
    let secs = load_secs();
    bounded(Duration::from_secs(2 * secs + 600), async {
        let sluice = run(Kind::Sluice, secs).await;
        eprintln!("{}", sluice.report());
        if !skip_without_nats_server() {
            let nats = run(Kind::NatsServer, secs).await;
            eprintln!("{}", nats.report());
            // For comparison only: when the publisher outruns its ingest queue, nats-server
            // 2.9.10 drops what it read and cannot store (seen: 3,145,225 stored of 23,338,432
            // read in 30 s), where Sluice stops reading instead.
            if nats.stored != nats.sent {
                eprintln!(
                    "note: nats-server stored {} of the {} messages it read",
                    nats.stored, nats.sent
                );
            }
        }
        assert_eq!(sluice.stored, sluice.sent, "{}", sluice.report());
        let limit = RSS_GROWTH_LIMIT_KIB;
        assert!(
            sluice.peak_rss_kib.saturating_sub(sluice.start_rss_kib) <= limit,
            "peak RSS grew by more than {limit} KiB: {}",
            sluice.report()
        );
        assert!(
            sluice.rtt_p99() < RTT_LIMIT,
            "round trips p99 {:?}: {}",
            sluice.rtt_p99(),
            sluice.report()
        );
        assert!(
            sluice.rtt_max() < RTT_MAX,
            "a round trip took {:?}: {}",
            sluice.rtt_max(),
            sluice.report()
        );
    })
    .await;
}
