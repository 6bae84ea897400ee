//! The blocking client the subcommands share: server URL and credential parsing, connecting
//! (first of several URLs that answers), publishing with headers, subscriptions, requests
//! on a private inbox with a timeout and no-responders detection, and `$JS.API` calls.
//!
//! One [`Client`] is one TCP connection parsed with sluice-protocol's [`scan_server`].
//! Messages are copied out of the read buffer ([`Msg`] owns its parts): a person at a
//! terminal does not need zero-copy, and requests must set aside messages that arrive
//! while they wait.

use bytes::BytesMut;
use serde_json::Value;
use sluice_protocol::headers::status;
use sluice_protocol::parse::RawServerOp;
use sluice_protocol::{encode_pub, scan_server, HeaderMap, Limits, Parsed};
use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};

use super::format;
use super::url::{Auth, ServerUrl};
use super::Result;

/// One message as received.
#[derive(Debug, Clone)]
pub struct Msg {
    pub subject: String,
    pub sid: String,
    pub reply: Option<String>,
    pub headers: Option<HeaderMap>,
    pub payload: Vec<u8>,
    pub received: SystemTime,
}

impl Msg {
    /// The status code on the header line (503 no responders, 404, 408, 100 ...).
    pub fn status(&self) -> Option<u16> {
        self.headers.as_ref().and_then(HeaderMap::status)
    }
}

/// A blocking client connection.
pub struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    have: usize,
    out: BytesMut,
    limits: Limits,
    pongs: u64,
    queue: VecDeque<Msg>,
    inbox: String,
    next_id: u64,
    /// How long requests, flushes and the connect wait.
    pub timeout: Duration,
    /// The server connected to, for messages.
    pub url: String,
}

/// The sid of the inbox subscription ([`Client::inbox`]`.>`).
const INBOX_SID: &str = "1";

impl Client {
    /// Connects to the first URL that answers, logs in, and checks with PING/PONG.
    pub fn connect(urls: &[ServerUrl], auth: &Auth, timeout: Duration) -> Result<Client> {
        let mut errors = Vec::new();
        for url in urls {
            match Client::connect_one(url, auth, timeout) {
                Ok(c) => return Ok(c),
                Err(e) => errors.push(e),
            }
        }
        Err(errors.join("; "))
    }

    fn connect_one(url: &ServerUrl, auth: &Auth, timeout: Duration) -> Result<Client> {
        let shown = url.display();
        let fail = |e: std::io::Error| format!("cannot connect to {shown}: {e}");
        let addrs: Vec<_> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(fail)?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let s = match stream {
            Some(s) => s,
            None => return Err(fail(last.unwrap_or_else(|| ErrorKind::NotFound.into()))),
        };
        let _ = s.set_nodelay(true);
        s.set_write_timeout(Some(timeout.max(Duration::from_secs(5))))
            .map_err(fail)?;
        let mut c = Client {
            s,
            buf: vec![0; 64 * 1024],
            have: 0,
            out: BytesMut::with_capacity(64 * 1024),
            limits: Limits {
                max_control_line: 64 * 1024,
                max_payload: 64 << 20,
            },
            pongs: 0,
            queue: VecDeque::new(),
            inbox: new_inbox(),
            next_id: 0,
            timeout,
            url: shown.clone(),
        };
        // The INFO comes first; read_some notes it by returning.
        let deadline = Instant::now() + timeout;
        if !c.read_some(Some(deadline))? {
            return Err(format!(
                "{shown} sent no INFO within {}",
                format::duration(timeout)
            ));
        }
        let user = auth.user.clone().or_else(|| url.user.clone());
        let pass = auth.pass.clone().or_else(|| url.pass.clone());
        let token = auth.token.clone().or_else(|| url.token.clone());
        let mut connect = serde_json::json!({
            "verbose": false, "pedantic": false, "headers": true, "no_responders": true,
            "lang": "rust", "version": env!("CARGO_PKG_VERSION"), "name": "sluice-cli",
            "protocol": 1,
        });
        if let Some(u) = user {
            connect["user"] = u.into();
            connect["pass"] = pass.unwrap_or_default().into();
        }
        if let Some(t) = token {
            connect["auth_token"] = t.into();
        }
        c.out
            .extend_from_slice(format!("CONNECT {connect}\r\n").as_bytes());
        let inbox = format!("{}.>", c.inbox);
        c.sub(&inbox, None, INBOX_SID);
        c.flush()?;
        Ok(c)
    }

    /// Queues a SUB.
    pub fn sub(&mut self, subject: &str, queue: Option<&str>, sid: &str) {
        let q = queue.map(|q| format!(" {q}")).unwrap_or_default();
        self.out
            .extend_from_slice(format!("SUB {subject}{q} {sid}\r\n").as_bytes());
    }

    /// Queues a PUB/HPUB, writing out once 64 KiB are queued.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<()> {
        let h = headers.map(HeaderMap::to_bytes);
        encode_pub(&mut self.out, subject, reply, h.as_deref(), payload);
        if self.out.len() >= 64 * 1024 {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.s
                .write_all(&self.out)
                .map_err(|e| format!("write to {}: {e}", self.url))?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes everything queued and waits for the server to answer a PING: everything sent
    /// before has been processed (and any -ERR it caused is reported).
    pub fn flush(&mut self) -> Result<()> {
        let want = self.pongs + 1;
        self.out.extend_from_slice(b"PING\r\n");
        self.write_out()?;
        let deadline = Instant::now() + self.timeout;
        while self.pongs < want {
            if !self.read_some(Some(deadline))? {
                return Err(format!(
                    "{} did not answer PING within {}",
                    self.url,
                    format::duration(self.timeout)
                ));
            }
        }
        Ok(())
    }

    /// A fresh reply subject on this connection's inbox.
    pub fn new_reply(&mut self) -> String {
        self.next_id += 1;
        format!("{}.{}", self.inbox, self.next_id)
    }

    /// Subscribes to a fresh inbox subject of its own (outside [`Client::new_reply`]'s) with
    /// `sid`, for deliveries that keep their original subject (pulls, push consumers): they
    /// are told apart by that sid.
    pub fn sub_new_inbox(&mut self, sid: &str) -> String {
        let subject = new_inbox();
        self.sub(&subject, None, sid);
        subject
    }

    /// The next message `want` accepts, setting others aside for later calls.
    /// Waits until `deadline` (`None`: forever); `Ok(None)`: timed out.
    pub fn next_where(
        &mut self,
        deadline: Option<Instant>,
        want: impl Fn(&Msg) -> bool,
    ) -> Result<Option<Msg>> {
        let mut checked = 0;
        loop {
            if let Some(i) = self.queue.iter().skip(checked).position(&want) {
                return Ok(self.queue.remove(checked + i));
            }
            checked = self.queue.len();
            if !self.read_some(deadline)? {
                return Ok(None);
            }
        }
    }

    /// Sends a request and waits `self.timeout` for its reply (which may be a status, such as
    /// 503 no responders: see [`Msg::status`]).
    pub fn request_raw(
        &mut self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Msg> {
        let reply = self.new_reply();
        self.publish(subject, Some(&reply), headers, payload)?;
        self.write_out()?;
        let deadline = Instant::now() + self.timeout;
        self.next_where(Some(deadline), |m| m.subject == reply)?
            .ok_or_else(|| {
                format!(
                    "timed out after {} waiting for a reply on \"{subject}\"",
                    format::duration(self.timeout)
                )
            })
    }

    /// [`Client::request_raw`], with no responders as an error.
    pub fn request(
        &mut self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Msg> {
        let m = self.request_raw(subject, headers, payload)?;
        if m.status() == Some(status::NO_RESPONDERS) {
            return Err(format!("no responders on \"{subject}\""));
        }
        Ok(m)
    }

    /// A `$JS.API` call: the JSON answer, or the API's error as a sentence (`not_found`
    /// names the missing thing for a 404 error code it recognises).
    pub fn api(
        &mut self,
        subject: &str,
        body: &Value,
        not_found: &dyn Fn(u64) -> Option<String>,
    ) -> Result<Value> {
        let payload = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let m = self.request_raw(subject, None, &payload)?;
        if m.status() == Some(status::NO_RESPONDERS) {
            return Err(format!(
                "JetStream is not enabled on {} (no responders on \"{subject}\"; start the \
                 server with -js)",
                self.url
            ));
        }
        let v: Value = serde_json::from_slice(&m.payload).map_err(|e| {
            format!(
                "{subject}: the reply is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&m.payload)
            )
        })?;
        if let Some(err) = v.get("error") {
            let code = err["err_code"].as_u64().unwrap_or(0);
            if let Some(named) = not_found(code) {
                return Err(named);
            }
            let desc = err["description"].as_str().unwrap_or("unknown error");
            return Err(format!("{desc} ({code})"));
        }
        Ok(v)
    }

    /// Reads once (waiting until `deadline`), queueing messages, answering PINGs and counting
    /// PONGs; `-ERR` is an error. `Ok(false)`: timed out.
    fn read_some(&mut self, deadline: Option<Instant>) -> Result<bool> {
        if self.have == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(false),
            },
            None => None,
        };
        self.s
            .set_read_timeout(wait)
            .map_err(|e| format!("set_read_timeout: {e}"))?;
        let n = match self.s.read(&mut self.buf[self.have..]) {
            Ok(0) => return Err(format!("{} closed the connection", self.url)),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(false)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(format!("read from {}: {e}", self.url)),
        };
        self.have += n;
        let mut off = 0;
        let mut err = None;
        while err.is_none() {
            let frame = &self.buf[off..self.have];
            let parsed = scan_server(frame, &self.limits)
                .map_err(|e| format!("{} sent something unparseable: {e}", self.url))?;
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
                        } => self.queue.push_back(Msg {
                            subject: subject.text_in(frame).to_owned(),
                            sid: sid.text_in(frame).to_owned(),
                            reply: reply.map(|r| r.text_in(frame).to_owned()),
                            headers: headers.and_then(|h| HeaderMap::parse(h.get(frame)).ok()),
                            payload: payload.get(frame).to_vec(),
                            received: SystemTime::now(),
                        }),
                        RawServerOp::Ping => self.out.extend_from_slice(b"PONG\r\n"),
                        RawServerOp::Pong => self.pongs += 1,
                        RawServerOp::Info(_) | RawServerOp::Ok => {}
                        RawServerOp::Err(e) => err = Some(e),
                    }
                    off += len;
                }
            }
        }
        self.buf.copy_within(off..self.have, 0);
        self.have -= off;
        if let Some(e) = err {
            return Err(e.trim().to_lowercase());
        }
        self.write_out()?; // PONGs
        Ok(true)
    }
}

/// `_INBOX.<random>`: unique per process and connection.
fn new_inbox() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("_INBOX.{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inboxes_differ() {
        assert_ne!(new_inbox(), new_inbox());
        assert!(new_inbox().starts_with("_INBOX."));
    }
}
