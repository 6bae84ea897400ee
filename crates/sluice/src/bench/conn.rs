//! A small blocking NATS client on sluice-protocol: just what the load generator needs.
//!
//! One [`Conn`] is one TCP connection, owned by one thread: a read buffer parsed in place with
//! [`scan_server`] (no copies, no allocation per message) and an output buffer written out in
//! large chunks. Every connection subscribes to its own inbox (`<inbox>.>`, sid `0`) at
//! connect, so requests and acks need no further setup.

use bytes::BytesMut;
use sluice_protocol::parse::RawServerOp;
use sluice_protocol::{encode_pub, scan_server, Limits, Parsed};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A workload's result: failures are a sentence saying what went wrong.
pub type Result<T> = std::result::Result<T, String>;

/// Buffered publishes are written out once this many bytes are queued.
pub const FLUSH_AT: usize = 128 * 1024;

/// How long a read may wait before the workload calls it a stall.
pub const STALL: Duration = Duration::from_secs(10);

/// The sid of the inbox subscription every connection makes.
pub const INBOX_SID: &str = "0";

/// One MSG/HMSG as received, its fields borrowed from the read buffer.
pub struct Msg<'a> {
    pub subject: &'a str,
    pub sid: &'a str,
    pub reply: Option<&'a str>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// A blocking client connection.
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
    /// Bytes queued for the server; [`Conn::flush`] writes them.
    pub out: BytesMut,
    limits: Limits,
    pongs: u64,
    info_seen: bool,
    /// This connection's inbox prefix; `<inbox>.anything` arrives on sid [`INBOX_SID`].
    pub inbox: String,
}

static NEXT_INBOX: AtomicUsize = AtomicUsize::new(0);

impl Conn {
    /// Connects, reads INFO, sends CONNECT and the inbox SUB, and confirms with PING/PONG.
    pub fn connect(addr: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let setup = |e: std::io::Error| format!("cannot set up the socket to {addr}: {e}");
        s.set_nodelay(true).map_err(setup)?;
        s.set_read_timeout(Some(STALL)).map_err(setup)?;
        s.set_write_timeout(Some(Duration::from_secs(30)))
            .map_err(setup)?;
        let n = NEXT_INBOX.fetch_add(1, Ordering::Relaxed);
        let mut c = Conn {
            s,
            buf: vec![0; 1 << 20],
            have: 0,
            out: BytesMut::with_capacity(2 * FLUSH_AT),
            limits: Limits {
                max_control_line: 4096,
                max_payload: 64 << 20,
            },
            pongs: 0,
            info_seen: false,
            inbox: format!("_INBOX.bench{}n{n}", std::process::id()),
        };
        while !c.info_seen {
            if !c.read_some(|_, _| {})? {
                return Err(format!("{addr} sent no INFO within {STALL:?}"));
            }
        }
        let connect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
                       \"no_responders\":true,\"name\":\"sluice-bench\"}\r\n";
        c.out.extend_from_slice(connect.as_bytes());
        let inbox = format!("{}.>", c.inbox);
        c.sub(&inbox, None, INBOX_SID);
        c.ping(|_, _| {})?;
        Ok(c)
    }

    /// Sets how long one read may wait (a timed-out read returns `Ok(false)`).
    pub fn set_read_timeout(&self, d: Duration) -> Result<()> {
        self.s
            .set_read_timeout(Some(d))
            .map_err(|e| format!("set_read_timeout: {e}"))
    }

    /// Queues a SUB.
    pub fn sub(&mut self, subject: &str, queue: Option<&str>, sid: &str) {
        self.out.extend_from_slice(b"SUB ");
        self.out.extend_from_slice(subject.as_bytes());
        if let Some(q) = queue {
            self.out.extend_from_slice(b" ");
            self.out.extend_from_slice(q.as_bytes());
        }
        self.out.extend_from_slice(b" ");
        self.out.extend_from_slice(sid.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues a PUB, writing the buffer out once [`FLUSH_AT`] bytes are queued.
    #[inline]
    pub fn publish(&mut self, subject: &str, reply: Option<&str>, payload: &[u8]) -> Result<()> {
        encode_pub(&mut self.out, subject, reply, None, payload);
        if self.out.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out everything queued.
    pub fn flush(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.s
                .write_all(&self.out)
                .map_err(|e| format!("write to the server: {e}"))?;
            self.out.clear();
        }
        Ok(())
    }

    /// Reads once and calls `f` for every whole MSG/HMSG received, with the output buffer to
    /// queue answers in. Answers PINGs, counts PONGs; an -ERR is an error. `Ok(false)`: the
    /// read timed out with nothing received.
    pub fn read_some(&mut self, mut f: impl FnMut(Msg<'_>, &mut BytesMut)) -> Result<bool> {
        if self.have == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = match self.s.read(&mut self.buf[self.have..]) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(false)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(format!("read from the server: {e}")),
        };
        self.have += n;
        let mut off = 0;
        let mut err = None;
        while err.is_none() {
            let frame = &self.buf[off..self.have];
            let parsed = scan_server(frame, &self.limits).map_err(|e| {
                let shown = &frame[..frame.len().min(64)];
                format!(
                    "the server sent something unparseable ({e}): \"{}\"",
                    shown.escape_ascii()
                )
            })?;
            match parsed {
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
                        RawServerOp::Pong => self.pongs += 1,
                        RawServerOp::Info(_) => self.info_seen = true,
                        RawServerOp::Ok => {}
                        RawServerOp::Err(e) => err = Some(e),
                    }
                    off += len;
                }
            }
        }
        self.buf.copy_within(off..self.have, 0);
        self.have -= off;
        match err {
            Some(e) => Err(format!("the server sent -ERR '{e}'")),
            None => Ok(true),
        }
    }

    /// Sends PING and reads until its PONG, passing any messages that arrive meanwhile to `f`.
    pub fn ping(&mut self, mut f: impl FnMut(Msg<'_>, &mut BytesMut)) -> Result<()> {
        let want = self.pongs + 1;
        self.out.extend_from_slice(b"PING\r\n");
        self.flush()?;
        while self.pongs < want {
            if !self.read_some(&mut f)? {
                return Err(format!("no PONG within {STALL:?}"));
            }
            self.flush()?;
        }
        Ok(())
    }

    /// Sends `body` to `subject` as a request and returns its JSON reply; for setup (JetStream
    /// API calls). Messages for other subjects arriving meanwhile are ignored.
    pub fn request(&mut self, subject: &str, body: &[u8]) -> Result<serde_json::Value> {
        let reply_to = format!("{}.setup", self.inbox);
        encode_pub(&mut self.out, subject, Some(&reply_to), None, body);
        self.flush()?;
        let mut reply = None;
        while reply.is_none() {
            let got = self.read_some(|m, _| {
                if m.subject == reply_to {
                    reply = Some(json_reply(subject, m.headers, m.payload));
                }
            })?;
            if !got {
                return Err(format!("{subject}: no reply within {STALL:?}"));
            }
            self.flush()?;
        }
        reply.expect("loop ends with a reply")
    }
}

/// A JSON API reply, or what went wrong (a status instead of JSON: no responders, ...).
fn json_reply(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> Result<serde_json::Value> {
    if let Some(h) = headers {
        let status = String::from_utf8_lossy(h);
        let status = status.lines().next().unwrap_or_default().trim();
        return Err(if status.contains(" 503") {
            format!("{subject}: no responders (is JetStream enabled? start the server with -js)")
        } else {
            format!("{subject}: status reply {status:?}")
        });
    }
    serde_json::from_slice(payload).map_err(|e| {
        format!(
            "{subject}: reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(payload)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::json_reply;

    #[test]
    fn json_reply_reads_json_and_explains_statuses() {
        let v = json_reply("x", None, br#"{"a":1}"#).unwrap();
        assert_eq!(v["a"], 1);
        let e = json_reply("$JS.API.INFO", Some(b"NATS/1.0 503\r\n\r\n"), b"").unwrap_err();
        assert!(e.contains("no responders") && e.contains("-js"), "{e}");
        let e = json_reply("x", Some(b"NATS/1.0 408 Timeout\r\n\r\n"), b"").unwrap_err();
        assert!(e.contains("408"), "{e}");
        assert!(json_reply("x", None, b"nope").is_err());
    }
}
