//! `soak conns`: many concurrent client connections on raw tokio TCP (the sluice-protocol
//! parser, no client library), each subscribed to `soak.conn.<i>` and to `soak.all`.
//!
//! Measures how long it takes for all of them to be connected and subscribed (PONG to a PING
//! after the SUBs), the server's RSS before and with all of them idle; then sends one message
//! to each connection's subject and one to `soak.all`, and checks that every connection got
//! both (its own carrying its number).

use crate::rss::rss_kib;
use bytes::BytesMut;
use sluice_protocol::parse::RawServerOp;
use sluice_protocol::{encode_pub, scan_server, Limits, Parsed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};

/// The subject every connection subscribes to besides its own.
const SHARED: &str = "soak.all";
/// Connections in the middle of their handshake at once (the listen backlog is finite).
const HANDSHAKING: usize = 256;
/// How long any one step may wait.
const WAIT: Duration = Duration::from_secs(60);
/// How long the idle connections sit before the RSS is read.
const SETTLE: Duration = Duration::from_secs(2);

/// What a connection received, owned.
enum Event {
    Msg { subject: String, payload: Vec<u8> },
    Pong,
    Other,
}

/// One client connection: a socket and what was read from it but not parsed yet.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects, sends CONNECT and `SUB subject 1` for each of `subjects`, and waits for the
    /// PONG to a PING sent after them: the subscriptions are in place.
    async fn connect(addr: &str, subjects: &[&str]) -> Result<Client, String> {
        let s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true).ok();
        let mut c = Client {
            s,
            buf: Vec::with_capacity(4096),
        };
        let mut hello = String::from("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
        for (i, subject) in subjects.iter().enumerate() {
            hello.push_str(&format!("SUB {subject} {}\r\n", i + 1));
        }
        hello.push_str("PING\r\n");
        c.send(hello.as_bytes()).await?;
        while !matches!(c.next().await?, Event::Pong) {}
        Ok(c)
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.s
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// The next op from the server, within [`WAIT`]; PINGs are answered on the way.
    async fn next(&mut self) -> Result<Event, String> {
        loop {
            if let Some(event) = self.parse()? {
                return Ok(event);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.s.read(&mut chunk))
                .await
                .map_err(|_| format!("nothing received for {WAIT:?}"))?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("closed by the server".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Takes one whole op off the front of the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<Event>, String> {
        let limits = Limits::default();
        let (event, len) = match scan_server(&self.buf, &limits).map_err(|e| e.to_string())? {
            Parsed::Incomplete => return Ok(None),
            Parsed::Blank { len } => (Event::Other, len),
            Parsed::Op { op, len } => (self.event(op)?, len),
        };
        self.buf.drain(..len);
        Ok(Some(event))
    }

    fn event(&mut self, op: RawServerOp) -> Result<Event, String> {
        Ok(match op {
            RawServerOp::Msg {
                subject, payload, ..
            } => Event::Msg {
                subject: subject.text_in(&self.buf).to_owned(),
                payload: payload.get(&self.buf).to_vec(),
            },
            RawServerOp::Pong => Event::Pong,
            RawServerOp::Ping => {
                // A keepalive PING: answer it (a blocking write of 6 bytes is fine here).
                let s = &self.s;
                s.try_write(b"PONG\r\n").map_err(|e| format!("PONG: {e}"))?;
                Event::Other
            }
            RawServerOp::Err(e) => return Err(format!("-ERR '{e}'")),
            RawServerOp::Info(_) | RawServerOp::Ok => Event::Other,
        })
    }
}

/// Connection `i`: connects (at most [`HANDSHAKING`] at once), reports on `ready`, then
/// waits for its own message (payload `i`) and the broadcast.
async fn serve(
    addr: Arc<str>,
    i: usize,
    gate: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
) -> Result<(), String> {
    let own = format!("soak.conn.{i}");
    let permit = gate.acquire().await.expect("semaphore open");
    let connected = Client::connect(&addr, &[&own, SHARED]).await;
    drop(permit);
    let mut c = match connected {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(format!("connection {i}: {e}")));
            return Err(e);
        }
    };
    let (mut got_own, mut got_shared) = (false, false);
    while !(got_own && got_shared) {
        if let Event::Msg { subject, payload } = c.next().await? {
            if subject == own && payload == i.to_string().as_bytes() {
                got_own = true;
            } else if subject == SHARED {
                got_shared = true;
            } else {
                return Err(format!("connection {i} got {subject}: {payload:?}"));
            }
        }
    }
    Ok(())
}

/// Publishes one message to each of the `n` connection subjects and one to [`SHARED`], then
/// waits for the PONG to a final PING.
async fn publish_all(addr: &str, n: usize) -> Result<(), String> {
    let mut p = Client::connect(addr, &[]).await?;
    let mut out = BytesMut::new();
    for i in 0..n {
        encode_pub(
            &mut out,
            &format!("soak.conn.{i}"),
            None,
            None,
            i.to_string().as_bytes(),
        );
        if out.len() > 64 * 1024 {
            p.send(&out).await?;
            out.clear();
        }
    }
    encode_pub(&mut out, SHARED, None, None, b"all");
    out.extend_from_slice(b"PING\r\n");
    p.send(&out).await?;
    while !matches!(p.next().await?, Event::Pong) {}
    Ok(())
}

/// Opens `n` connections and waits until all are connected and subscribed; the tasks, and
/// how long it took.
async fn connect_all(
    addr: &str,
    n: usize,
) -> Result<(Vec<tokio::task::JoinHandle<Result<(), String>>>, Duration), String> {
    let addr: Arc<str> = addr.into();
    let gate = Arc::new(Semaphore::new(HANDSHAKING));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let tasks = (0..n)
        .map(|i| tokio::spawn(serve(addr.clone(), i, gate.clone(), tx.clone())))
        .collect();
    let mut failed = Vec::new();
    for _ in 0..n {
        if let Some(Err(e)) = rx.recv().await {
            failed.push(e);
        }
    }
    if let Some(first) = failed.first() {
        return Err(format!(
            "{} of {n} connections failed; the first: {first}",
            failed.len()
        ));
    }
    Ok((tasks, start.elapsed()))
}

/// `soak conns`: see the module doc. Prints one `key=value` line.
pub async fn run(addr: &str, pid: u32, n: usize) -> Result<(), String> {
    let rss_before = rss_kib(pid);
    let (tasks, connect_time) = connect_all(addr, n).await?;
    tokio::time::sleep(SETTLE).await;
    let rss_idle = rss_kib(pid);

    let start = Instant::now();
    publish_all(addr, n).await?;
    let mut served = 0;
    let mut first_failure = None;
    for t in tasks {
        match t.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(()) => served += 1,
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    let traffic_time = start.elapsed();
    let per_conn = (rss_idle.saturating_sub(rss_before) * 1024) / n as u64;
    println!(
        "conns={n} connect_s={:.3} rss_before_kib={rss_before} rss_idle_kib={rss_idle} \
         per_conn_bytes={per_conn} traffic_s={:.3} rss_after_traffic_kib={} served={served}",
        connect_time.as_secs_f64(),
        traffic_time.as_secs_f64(),
        rss_kib(pid)
    );
    match first_failure {
        None => Ok(()),
        Some(e) => Err(format!(
            "{} of {n} connections not served; the first: {e}",
            n - served
        )),
    }
}
