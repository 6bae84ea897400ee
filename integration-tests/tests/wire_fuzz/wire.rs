//! A client connection to the server under test, at the byte level: [`Wire`] sends raw bytes
//! and frames what comes back into [`ServerOp`]s with [`frame`], strictly (anything that is
//! not a well-framed server op is an error, so a server that sends garbage fails the test).
//! The fuzz connections and the healthy clients both talk through it.

use integration_tests::raw::escape_short;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A write blocked this long means the server stopped reading the connection.
const WRITE_STALL: Duration = Duration::from_secs(5);

/// One op the server sent, as far as these tests care.
#[derive(Debug)]
pub enum ServerOp {
    Info,
    Msg { subject: Vec<u8>, payload: Vec<u8> },
    Ping,
    Pong,
    Ok,
    Err(String),
}

/// The op at the front of `buf` and its length, `None` if incomplete, `Err` if it is not a
/// server op. MSG and HMSG arguments are split on blanks only: a subject or reply published
/// with a CR inside is relayed with it, by nats-server 2.9.10 as by Sluice (their PUB splits
/// on blanks only), so a parser that also splits on CR (as the project's and nats.go's do)
/// would misframe what a fuzzer's mutated PUB made the server send to a wildcard subscriber.
fn frame(buf: &[u8]) -> Result<Option<(ServerOp, usize)>, String> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > 1 << 20 {
            Err("a line over 1 MiB".into())
        } else {
            Ok(None)
        };
    };
    let line = buf[..lf].strip_suffix(b"\r").unwrap_or(&buf[..lf]);
    let op = match line {
        b"PING" => ServerOp::Ping,
        b"PONG" => ServerOp::Pong,
        b"+OK" => ServerOp::Ok,
        _ if line.starts_with(b"INFO ") => ServerOp::Info,
        _ if line.starts_with(b"-ERR ") => {
            let text = String::from_utf8_lossy(&line[5..]);
            ServerOp::Err(text.trim_matches('\'').to_owned())
        }
        _ if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") => {
            let hmsg = line[0] == b'H';
            let args: Vec<&[u8]> = line[if hmsg { 5 } else { 4 }..]
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|t| !t.is_empty())
                .collect();
            let number = |t: &[u8]| std::str::from_utf8(t).ok()?.parse::<usize>().ok();
            let counts = if hmsg { 4..=5 } else { 3..=4 };
            let sizes = if hmsg {
                args.len()
                    .checked_sub(2)
                    .and_then(|i| Some((number(args[i])?, number(args[i + 1])?)))
            } else {
                args.last().and_then(|t| Some((0, number(t)?)))
            };
            let (Some((hdr, total)), true) = (sizes, counts.contains(&args.len())) else {
                return Err(format!("a bad MSG line \"{}\"", escape_short(line)));
            };
            let start = lf + 1;
            if buf.len() < start + total + 2 {
                return Ok(None);
            }
            if &buf[start + total..start + total + 2] != b"\r\n" || hdr > total {
                return Err(format!(
                    "a payload not framed by \"{}\"",
                    escape_short(line)
                ));
            }
            let payload = buf[start + hdr..start + total].to_vec();
            let subject = args[0].to_vec();
            return Ok(Some((
                ServerOp::Msg { subject, payload },
                start + total + 2,
            )));
        }
        _ => return Err(format!("an unknown line \"{}\"", escape_short(line))),
    };
    Ok(Some((op, lf + 1)))
}

/// A TCP connection whose incoming bytes are framed as server ops (see [`frame`]).
pub struct Wire {
    stream: TcpStream,
    inbox: Vec<u8>,
    /// The server closed the connection (or the owner gave up on it after a failed send).
    pub closed: bool,
}

impl Wire {
    /// Connects and waits for INFO.
    pub fn connect(addr: SocketAddr) -> Result<Wire, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).ok();
        stream.set_write_timeout(Some(WRITE_STALL)).ok();
        let mut wire = Wire {
            stream,
            inbox: Vec::new(),
            closed: false,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ops = wire.poll(deadline.saturating_duration_since(Instant::now()))?;
            if ops.iter().any(|op| matches!(op, ServerOp::Info)) {
                return Ok(wire);
            }
            if wire.closed || Instant::now() >= deadline {
                return Err("no INFO within 5 s".into());
            }
        }
    }

    /// Sends all of `bytes`; an error means the server closed the connection or stopped
    /// reading it for [`WRITE_STALL`].
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads once (waiting at most `wait`, at least 100 µs) unless the connection is closed,
    /// then returns every complete op received so far. `Err` if the server sent bytes that are
    /// not server ops.
    pub fn poll(&mut self, wait: Duration) -> Result<Vec<ServerOp>, String> {
        if !self.closed {
            let wait = wait.max(Duration::from_micros(100));
            self.stream.set_read_timeout(Some(wait)).ok();
            let mut buf = [0u8; 65536];
            match self.stream.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => self.closed = true,
            }
        }
        let mut ops = Vec::new();
        let mut at = 0;
        let result = loop {
            match frame(&self.inbox[at..]) {
                Ok(Some((op, len))) => {
                    ops.push(op);
                    at += len;
                }
                Ok(None) => break Ok(ops),
                Err(e) => {
                    break Err(format!(
                        "the server sent {e}: \"{}\"",
                        escape_short(&self.inbox[at..])
                    ))
                }
            }
        };
        self.inbox.drain(..at);
        result
    }
}
