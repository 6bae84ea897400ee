//! A raw TCP session: send exact bytes, read what comes back, with time bounds.

use bytes::Bytes;
use sluice_protocol::{parse_server, ClientCodec, Parsed, ServerOp};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A plain TCP connection to a broker.
pub struct Raw {
    stream: TcpStream,
    /// Everything received and not yet taken.
    pending: Vec<u8>,
    closed: bool,
}

impl Raw {
    /// Connects and reads the INFO line; returns the session and the INFO JSON.
    pub fn connect(addr: SocketAddr) -> (Raw, serde_json::Value) {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        let mut raw = Raw {
            stream,
            pending: Vec::new(),
            closed: false,
        };
        let line = raw.read_line(Duration::from_secs(5)).expect("INFO line");
        let json = line
            .strip_prefix("INFO ")
            .unwrap_or_else(|| panic!("expected INFO, got {line:?}"));
        let info = serde_json::from_str(json.trim_end()).expect("INFO JSON");
        (raw, info)
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    fn fill(&mut self, until: Instant) -> bool {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || self.closed {
            return false;
        }
        self.stream.set_read_timeout(Some(left)).ok();
        let mut buf = [0u8; 65536];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => {
                self.closed = true;
                false
            }
            Err(_) => false,
        }
    }

    /// One line (without CRLF) within `wait`.
    pub fn read_line(&mut self, wait: Duration) -> Option<String> {
        let until = Instant::now() + wait;
        loop {
            if let Some(p) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=p).collect();
                let s = String::from_utf8_lossy(&line);
                return Some(s.trim_end_matches(['\r', '\n']).to_owned());
            }
            if !self.fill(until) && (self.closed || Instant::now() >= until) {
                return None;
            }
        }
    }

    /// Reads until `pred` holds for what arrived, or `wait` passes, or the peer closes; returns
    /// everything read (and consumes it).
    pub fn read_until(&mut self, wait: Duration, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let until = Instant::now() + wait;
        while !pred(&self.pending) {
            if !self.fill(until) && (self.closed || Instant::now() >= until) {
                break;
            }
        }
        std::mem::take(&mut self.pending)
    }

    /// Reads everything that arrives within `wait` (a quiet period), and consumes it.
    pub fn read_for(&mut self, wait: Duration) -> Vec<u8> {
        self.read_until(wait, |_| false)
    }

    /// Sends PING and returns everything that arrived up to and including the PONG.
    pub fn sync(&mut self) -> Vec<u8> {
        self.send(b"PING\r\n");
        self.read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"))
    }

    /// True once the peer closed the connection (as seen by a read).
    pub fn is_closed(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        while !self.closed && Instant::now() < until {
            self.fill(until);
        }
        self.closed
    }
}

/// How long [`Raw::exchange`] waits for an answer that ends in PONG (or for the close).
pub const EXCHANGE_WAIT: Duration = Duration::from_secs(3);
/// How long [`Raw::exchange`] keeps listening after the answer looked complete, to catch
/// anything sent after it (and a close).
pub const SETTLE: Duration = Duration::from_millis(150);

/// What a broker answered to a script, and whether it then closed the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Every byte received after INFO.
    pub bytes: Vec<u8>,
    /// The broker closed the connection.
    pub closed: bool,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\"{}\" ({})",
            escape_short(&self.bytes),
            if self.closed { "closed" } else { "open" }
        )
    }
}

/// Bytes as a Rust-like string literal body: printable ASCII as is, `\r`, `\n`, `\t`, and
/// `\xNN` for the rest, so CR/LF differences are visible in assertion messages.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// [`escape`], shortened in the middle when long (for assertion messages).
pub fn escape_short(bytes: &[u8]) -> String {
    const HEAD: usize = 120;
    const TAIL: usize = 60;
    if bytes.len() <= HEAD + TAIL + 40 {
        return escape(bytes);
    }
    format!(
        "{}⟨…{} bytes…⟩{}",
        escape(&bytes[..HEAD]),
        bytes.len() - HEAD - TAIL,
        escape(&bytes[bytes.len() - TAIL..])
    )
}

impl Raw {
    /// Sends bytes, ignoring a failure (the peer may already have closed); true if sent.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Sends `script` and collects the answer: reads until the broker closes the connection
    /// or the answer ends with `PONG\r\n` (end scripts with PING), then listens [`SETTLE`]
    /// longer for anything else. Bounded by [`EXCHANGE_WAIT`].
    pub fn exchange(&mut self, script: &[u8]) -> Outcome {
        self.try_send(script);
        let mut bytes = self.read_until(EXCHANGE_WAIT, |b| b.ends_with(b"PONG\r\n"));
        bytes.extend(self.read_for(SETTLE));
        Outcome {
            bytes,
            closed: self.closed,
        }
    }

    /// [`Raw::exchange`], then asserts the exact answer and whether the connection closed.
    #[track_caller]
    pub fn expect(&mut self, script: &[u8], answer: &[u8], closed: bool) {
        if let Err(e) = self.check(script, answer, closed) {
            panic!("{e}");
        }
    }

    /// [`Raw::exchange`], then compares the answer and the close with what is expected;
    /// `Err` describes the difference.
    pub fn check(&mut self, script: &[u8], answer: &[u8], closed: bool) -> Result<(), String> {
        let got = self.exchange(script);
        let want = Outcome {
            bytes: answer.to_vec(),
            closed,
        };
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "script \"{}\"\n  expected {want}\n       got {got}",
                escape_short(script)
            ))
        }
    }

    /// Waits for exactly `n` bytes (or fewer if `wait` passes or the peer closes).
    pub fn read_n(&mut self, n: usize, wait: Duration) -> Vec<u8> {
        let until = Instant::now() + wait;
        while self.pending.len() < n {
            if !self.fill(until) && (self.closed || Instant::now() >= until) {
                break;
            }
        }
        let take = n.min(self.pending.len());
        self.pending.drain(..take).collect()
    }
}

/// Connects to `addr`, runs `script` (see [`Raw::exchange`]) and returns the outcome.
pub fn run_script(addr: SocketAddr, script: &[u8]) -> Outcome {
    let (mut raw, _info) = Raw::connect(addr);
    raw.exchange(script)
}

impl Raw {
    /// Connects, sends `CONNECT <connect_json>` and a PING, and checks the answer is exactly
    /// `PONG` (so `connect_json` should say `"verbose":false`). Ready for a test's script.
    #[track_caller]
    pub fn connected(addr: SocketAddr, connect_json: &str) -> Raw {
        let (mut raw, _info) = Raw::connect(addr);
        raw.expect(
            format!("CONNECT {connect_json}\r\nPING\r\n").as_bytes(),
            b"PONG\r\n",
            false,
        );
        raw
    }
}

/// Runs each `(script, answer, closed)` on a fresh connection to `addr` (after
/// `CONNECT <connect_json>` if given) and panics listing every script whose answer differed.
#[track_caller]
pub fn expect_each(addr: SocketAddr, connect_json: Option<&str>, cases: &[(&[u8], &[u8], bool)]) {
    let mut failures = Vec::new();
    for (script, answer, closed) in cases {
        let mut raw = match connect_json {
            Some(json) => Raw::connected(addr, json),
            None => Raw::connect(addr).0,
        };
        if let Err(e) = raw.check(script, answer, *closed) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

impl Raw {
    /// The next op the broker sends within `wait` (PINGs from the broker are answered and
    /// skipped; blank lines skipped), parsed by `sluice_protocol::parse_server`. `None` if
    /// nothing complete arrives in time or the peer closes. Panics on bytes that do not parse.
    pub fn next_op(&mut self, wait: Duration) -> Option<ServerOp> {
        let limits = ClientCodec::default().limits;
        let until = Instant::now() + wait;
        loop {
            let buf = Bytes::copy_from_slice(&self.pending);
            match parse_server(&buf, &limits) {
                Ok(Parsed::Op { op, len }) => {
                    self.pending.drain(..len);
                    if op == ServerOp::Ping {
                        self.send(b"PONG\r\n");
                        continue;
                    }
                    return Some(op);
                }
                Ok(Parsed::Blank { len }) => {
                    self.pending.drain(..len);
                }
                Ok(Parsed::Incomplete) => {
                    if !self.fill(until) && (self.closed || Instant::now() >= until) {
                        return None;
                    }
                }
                Err(e) => panic!(
                    "broker sent bytes that do not parse ({e}): {}",
                    escape_short(&buf)
                ),
            }
        }
    }
}
