//! JetStream consume throughput over raw TCP, for side-by-side measurements against sluice -js
//! and nats-server -js (the full `sluice bench` comes with the benchmark issue).
//!
//! usage: jsconsume HOST:PORT MODE MSGS SIZE      (MODE: pull or push)
//!
//! Creates (or reuses) a file stream BENCHC on `benchc.>`, purges it, and fills it with MSGS
//! messages of SIZE bytes (acked publishes, up to 256 in flight). Then it measures consuming them
//! all through a durable consumer with explicit acks, acking each message with a plain publish
//! of `+ACK` to its reply subject (no reply asked):
//!
//! - `pull`: consumer BENCHC_PULL; one `CONSUMER.MSG.NEXT` request for a batch of 100 at a time,
//!   the next one sent once the previous batch has fully arrived;
//! - `push`: consumer BENCHC_PUSH delivering to `jsc.push` (created before anyone listens there;
//!   the clock starts with the subscription).
//!
//! The consume phase ends when the last message has arrived and its ack is written. Checked:
//! every stream sequence arrives exactly once, and the consumer's `num_ack_pending` reaches 0.
//! Prints one line with `rate=<messages consumed per second>`.

use bytes::BytesMut;
use sluice_protocol::parse::RawServerOp;
use sluice_protocol::{encode_pub, scan_server, Limits, Parsed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const STREAM: &str = "BENCHC";
/// Replies to setup requests (stream and consumer API).
const SETUP_INBOX: &str = "_INBOX.jsc.setup";
/// Replies to the fill phase's publishes.
const ACK_INBOX: &str = "_INBOX.jsc.ack";
/// Where pulled messages arrive.
const PULL_INBOX: &str = "_INBOX.jsc.pull";
/// The push consumer's deliver subject.
const PUSH_SUBJECT: &str = "jsc.push";
/// Publishes in flight while filling.
const FILL_WINDOW: usize = 256;
/// Messages per pull request.
const PULL_BATCH: usize = 100;
/// The subscription to `_INBOX.jsc.>`.
const SID_INBOX: &str = "1";
/// The subscription to [`PUSH_SUBJECT`].
const SID_PUSH: &str = "2";

/// One message as received: spans resolved against the read buffer.
struct Msg<'a> {
    /// The message's subject: for messages from a stream, the subject they were published to.
    subject: &'a str,
    /// The subscription: [`SID_INBOX`] or [`SID_PUSH`].
    sid: &'a str,
    reply: Option<&'a str>,
    headers: Option<&'a [u8]>,
    payload: &'a [u8],
}

/// A client connection: a blocking socket, a read buffer, and an output buffer.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
    out: BytesMut,
    limits: Limits,
}

impl Conn {
    fn connect(addr: &str) -> Conn {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut info = String::new();
        BufReader::new(s.try_clone().unwrap())
            .read_line(&mut info)
            .unwrap();
        assert!(info.starts_with("INFO "), "expected INFO, got {info:?}");
        s.write_all(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n\
              SUB _INBOX.jsc.> 1\r\n", // SID_INBOX
        )
        .unwrap();
        Conn {
            s,
            buf: vec![0; 1 << 20],
            have: 0,
            out: BytesMut::with_capacity(1 << 16),
            limits: Limits {
                max_control_line: 4096,
                max_payload: 64 << 20,
            },
        }
    }

    /// Writes out what is queued in `out`.
    fn flush(&mut self) {
        if !self.out.is_empty() {
            self.s.write_all(&self.out).expect("write");
            self.out.clear();
        }
    }

    /// Reads once from the socket and calls `f` for every whole MSG/HMSG received (with the
    /// output buffer, to queue answers); answers PINGs, fails on -ERR.
    fn read_some(&mut self, mut f: impl FnMut(Msg<'_>, &mut BytesMut)) {
        if self.have == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = match self.s.read(&mut self.buf[self.have..]) {
            Ok(0) => panic!("connection closed by the server"),
            Ok(n) => n,
            Err(e) => panic!("read: {e}"),
        };
        self.have += n;
        let mut off = 0;
        loop {
            let frame = &self.buf[off..self.have];
            match scan_server(frame, &self.limits).expect("valid server stream") {
                Parsed::Incomplete => break,
                Parsed::Blank { len } => off += len,
                Parsed::Op { op, len } => {
                    match op {
                        RawServerOp::Msg {
                            subject,
                            sid,
                            reply,
                            headers,
                            payload,
                        } => f(
                            Msg {
                                subject: subject.text_in(frame),
                                sid: sid.text_in(frame),
                                reply: reply.map(|r| r.text_in(frame)),
                                headers: headers.map(|h| h.get(frame)),
                                payload: payload.get(frame),
                            },
                            &mut self.out,
                        ),
                        RawServerOp::Ping => self.out.extend_from_slice(b"PONG\r\n"),
                        RawServerOp::Err(e) => panic!("-ERR {e}"),
                        RawServerOp::Info(_) | RawServerOp::Ok | RawServerOp::Pong => {}
                    }
                    off += len;
                }
            }
        }
        self.buf.copy_within(off..self.have, 0);
        self.have -= off;
    }

    /// Sends `body` to `subject` as a request; the JSON reply. Only for setup, when nothing else
    /// arrives.
    fn request(&mut self, subject: &str, body: &[u8]) -> serde_json::Value {
        encode_pub(&mut self.out, subject, Some(SETUP_INBOX), None, body);
        self.flush();
        let mut reply = None;
        while reply.is_none() {
            self.read_some(|m, _| {
                if m.subject == SETUP_INBOX {
                    assert!(
                        m.headers.is_none(),
                        "{subject}: status reply {:?}",
                        String::from_utf8_lossy(m.headers.unwrap_or_default())
                    );
                    reply = Some(serde_json::from_slice(m.payload).unwrap_or_else(|e| {
                        panic!(
                            "{subject}: reply is not JSON ({e}): {:?}",
                            String::from_utf8_lossy(m.payload)
                        )
                    }));
                }
            });
            self.flush();
        }
        reply.expect("reply")
    }
}

/// Panics unless `r` is a success, or an error with one of the `allowed` err_codes.
fn check(what: &str, r: &serde_json::Value, allowed: &[u64]) {
    if let Some(code) = r["error"]["err_code"].as_u64() {
        assert!(allowed.contains(&code), "{what}: {r}");
    }
}

/// Tracks which stream sequences arrived: each exactly once.
struct Seen {
    first_seq: u64,
    seen: Vec<bool>,
    count: usize,
}

impl Seen {
    /// Records the message with ack subject `reply`
    /// (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`).
    fn record(&mut self, reply: &str) {
        let mut tokens = reply.split('.');
        let sseq = tokens
            .nth(5)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("not an ack subject: {reply}"));
        let i = sseq
            .checked_sub(self.first_seq)
            .filter(|&i| (i as usize) < self.seen.len())
            .unwrap_or_else(|| panic!("stream sequence {sseq} out of range ({reply})"))
            as usize;
        assert!(
            !self.seen[i],
            "stream sequence {sseq} delivered twice ({reply})"
        );
        self.seen[i] = true;
        self.count += 1;
    }
}

/// Fills the stream with `msgs` messages of `size` bytes, up to [`FILL_WINDOW`] in flight.
fn fill(c: &mut Conn, msgs: usize, size: usize) {
    let payload = vec![b'x'; size];
    let (mut sent, mut acked) = (0usize, 0usize);
    while acked < msgs {
        while sent < msgs && sent - acked < FILL_WINDOW {
            encode_pub(&mut c.out, "benchc.x", Some(ACK_INBOX), None, &payload);
            sent += 1;
        }
        c.flush();
        c.read_some(|m, _| {
            assert_eq!(m.subject, ACK_INBOX, "unexpected message");
            assert!(
                m.headers.is_none() && !m.payload.windows(7).any(|w| w == b"\"error\""),
                "publish failed: {:?}",
                String::from_utf8_lossy(m.payload)
            );
            acked += 1;
        });
    }
}

/// Pull mode: batches of [`PULL_BATCH`], each requested when the previous one has arrived.
fn consume_pull(c: &mut Conn, seen: &mut Seen, msgs: usize) {
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.BENCHC_PULL");
    while seen.count < msgs {
        let want = PULL_BATCH.min(msgs - seen.count);
        let body = format!("{{\"batch\":{want}}}");
        encode_pub(&mut c.out, &next, Some(PULL_INBOX), None, body.as_bytes());
        c.flush();
        let (mut got, mut ended) = (0usize, false);
        while got < want && !ended {
            c.read_some(|m, out| {
                assert_eq!(m.sid, SID_INBOX, "unexpected message on {}", m.subject);
                match m.reply {
                    Some(reply) if reply.starts_with("$JS.ACK.") => {
                        seen.record(reply);
                        encode_pub(out, reply, None, None, b"+ACK");
                        got += 1;
                    }
                    _ => {
                        assert_eq!(m.subject, PULL_INBOX, "unexpected message");
                        // A status (404, 408, 409...): this request is over; ask again.
                        let status = String::from_utf8_lossy(m.headers.unwrap_or_default());
                        assert!(!status.contains(" 409"), "pull request refused: {status:?}");
                        eprintln!("jsconsume: pull request ended: {:?}", status.trim());
                        ended = true;
                    }
                }
            });
            c.flush();
        }
    }
}

/// Push mode: subscribe to the deliver subject and ack everything that comes.
fn consume_push(c: &mut Conn, seen: &mut Seen, msgs: usize) {
    c.out
        .extend_from_slice(format!("SUB {PUSH_SUBJECT} {SID_PUSH}\r\n").as_bytes());
    c.flush();
    while seen.count < msgs {
        c.read_some(|m, out| {
            assert_eq!(m.sid, SID_PUSH, "unexpected message on {}", m.subject);
            let reply = m.reply.unwrap_or_else(|| {
                panic!(
                    "push message without an ack subject: {:?}",
                    String::from_utf8_lossy(m.headers.unwrap_or_default())
                )
            });
            seen.record(reply);
            encode_pub(out, reply, None, None, b"+ACK");
        });
        c.flush();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 || !matches!(args[2].as_str(), "pull" | "push") {
        eprintln!("usage: jsconsume HOST:PORT pull|push MSGS SIZE");
        std::process::exit(2);
    }
    let addr = &args[1];
    let mode = args[2].as_str();
    let msgs: usize = args[3].parse().expect("MSGS");
    let size: usize = args[4].parse().expect("SIZE");
    assert!(msgs > 0, "MSGS must be positive");

    let mut c = Conn::connect(addr);
    let created = c.request(
        &format!("$JS.API.STREAM.CREATE.{STREAM}"),
        br#"{"name":"BENCHC","subjects":["benchc.>"],"storage":"file"}"#,
    );
    check("create stream", &created, &[10058]); // 10058: exists (reused)
    for consumer in ["BENCHC_PULL", "BENCHC_PUSH"] {
        let r = c.request(&format!("$JS.API.CONSUMER.DELETE.{STREAM}.{consumer}"), b"");
        check("delete consumer", &r, &[10014]); // 10014: not found
    }
    let purged = c.request(&format!("$JS.API.STREAM.PURGE.{STREAM}"), b"");
    assert_eq!(purged["success"], true, "purge: {purged}");
    let info = c.request(&format!("$JS.API.STREAM.INFO.{STREAM}"), b"");
    let first_seq = info["state"]["last_seq"].as_u64().expect("last_seq") + 1;

    let fill_start = Instant::now();
    fill(&mut c, msgs, size);
    let fill_time = fill_start.elapsed();
    let info = c.request(&format!("$JS.API.STREAM.INFO.{STREAM}"), b"");
    assert_eq!(info["state"]["messages"], msgs, "stream after fill: {info}");

    let (name, config) = match mode {
        "pull" => (
            "BENCHC_PULL",
            r#"{"durable_name":"BENCHC_PULL","ack_policy":"explicit"}"#.to_string(),
        ),
        _ => (
            "BENCHC_PUSH",
            format!(
                r#"{{"durable_name":"BENCHC_PUSH","deliver_subject":"{PUSH_SUBJECT}","ack_policy":"explicit"}}"#
            ),
        ),
    };
    let body = format!(r#"{{"stream_name":"{STREAM}","config":{config}}}"#);
    let r = c.request(
        &format!("$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.{name}"),
        body.as_bytes(),
    );
    check("create consumer", &r, &[]);

    let mut seen = Seen {
        first_seq,
        seen: vec![false; msgs],
        count: 0,
    };
    let start = Instant::now();
    match mode {
        "pull" => consume_pull(&mut c, &mut seen, msgs),
        _ => consume_push(&mut c, &mut seen, msgs),
    }
    let elapsed = start.elapsed();
    assert_eq!(seen.count, msgs, "every message consumed");

    // The acks are plain publishes: wait (bounded) until the broker has applied them all.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pending = loop {
        let info = c.request(&format!("$JS.API.CONSUMER.INFO.{STREAM}.{name}"), b"");
        check("consumer info", &info, &[]);
        let pending = info["num_ack_pending"].as_u64().expect("num_ack_pending");
        if pending == 0 {
            assert_eq!(info["num_pending"], 0, "consumer info: {info}");
            break 0;
        }
        if Instant::now() >= deadline {
            break pending;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(pending, 0, "num_ack_pending never reached 0");
    let settled = start.elapsed();

    println!(
        "jsconsume mode={mode} msgs={msgs} size={size} fill={:.3}s ({:.0} msgs/s) \
         consume={:.3}s acks_applied_after={:.3}s rate={:.0} msgs/s",
        fill_time.as_secs_f64(),
        msgs as f64 / fill_time.as_secs_f64(),
        elapsed.as_secs_f64(),
        settled.as_secs_f64(),
        msgs as f64 / elapsed.as_secs_f64()
    );
}
