//! A raw TCP session: send exact bytes, read what comes back, with time bounds.

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
