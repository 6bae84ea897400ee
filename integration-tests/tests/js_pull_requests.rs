//! Pull requests and double acks where a client library's own test suite found Sluice answering
//! differently from nats-server 2.9.10 (issue 15), as raw-protocol scripts run against both
//! brokers ([`both!`]): the nats-server half proves the expectation is the reference server's
//! behaviour, the Sluice half is the test.
//!
//! - A waiting pull request outlives a short disconnect of its requester: the client
//!   re-subscribes its inbox (wildcard or plain) and gets the messages. A request nobody listens
//!   for is dropped only when it is looked at: when a message would go to it, at its expiry or
//!   heartbeat, or by CONSUMER.INFO (which counts waiting requests).
//! - A request whose `max_bytes` cannot take the next message ends with
//!   `409 Message Size Exceeds MaxBytes`, also after it got some; one whose bytes run out
//!   exactly is done with its last message.
//! - A `no_wait` request blocked by `max_ack_pending` keeps waiting while acks free room; it
//!   ends (`408`) only when the stream has nothing more for it.
//! - A double ack whose answer was lost with its connection is answered again when re-sent.

use integration_tests::js::StoreDir;
use integration_tests::raw::{escape, Raw};
use integration_tests::{both, Broker, Kind};
use serde_json::{json, Value};
use sluice_protocol::ServerOp;
use std::net::SocketAddr;
use std::time::Duration;

/// How long one expected answer may take.
const STEP: Duration = Duration::from_secs(3);
/// How long to listen for an answer that must not come.
const QUIET: Duration = Duration::from_millis(700);
/// A requester's disconnect: longer than any periodic pass over the waiting requests.
const AWAY: Duration = Duration::from_millis(700);
/// Time for a broker to finish with a request before its requester goes away.
const SETTLE: Duration = Duration::from_millis(300);

/// One thing a pull request's inbox received.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    /// A stored message: its subject, ack reply subject and payload.
    Msg {
        subject: String,
        reply: String,
        payload: Vec<u8>,
    },
    /// A status: the whole header block, as sent.
    Status(String),
}

impl Got {
    fn reply(&self) -> &str {
        match self {
            Got::Msg { reply, .. } => reply,
            Got::Status(s) => panic!("expected a message, got status {s:?}"),
        }
    }
}

/// A raw connection that speaks to the `$JS.API`.
struct Conn {
    raw: Raw,
    next_sid: u64,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let raw = Raw::connected(
            addr,
            r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#,
        );
        Conn { raw, next_sid: 100 }
    }

    fn sub(&mut self, subject: &str) -> u64 {
        self.next_sid += 1;
        let sid = self.next_sid;
        self.raw.send(format!("SUB {subject} {sid}\r\n").as_bytes());
        sid
    }

    /// Sends PING and waits for the PONG: everything sent before is processed.
    fn sync(&mut self) {
        self.raw.send(b"PING\r\n");
        match self.raw.next_op(STEP) {
            Some(ServerOp::Pong) => {}
            other => panic!("expected PONG, got {other:?}"),
        }
    }

    fn publish(&mut self, subject: &str, reply: Option<&str>, payload: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut bytes = format!("PUB {subject}{reply} {}\r\n", payload.len()).into_bytes();
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(b"\r\n");
        self.raw.send(&bytes);
    }

    /// The next message or status on this connection, within `wait`.
    fn got(&mut self, wait: Duration) -> Option<Got> {
        let op = self.raw.next_op(wait)?;
        Some(match op {
            ServerOp::Msg {
                subject,
                reply: Some(reply),
                payload,
                ..
            } => Got::Msg {
                subject: subject.to_string(),
                reply: reply.to_string(),
                payload: payload.to_vec(),
            },
            ServerOp::Hmsg {
                reply: None,
                headers,
                payload,
                ..
            } if payload.is_empty() => Got::Status(String::from_utf8_lossy(&headers).into()),
            other => panic!("unexpected {other:?}"),
        })
    }

    fn expect_msg(&mut self, what: &str) -> Got {
        match self.got(STEP) {
            Some(g @ Got::Msg { .. }) => g,
            other => panic!("{what}: expected a message, got {other:?}"),
        }
    }

    fn expect_status(&mut self, what: &str, wait: Duration) -> String {
        match self.got(wait) {
            Some(Got::Status(s)) => s,
            other => panic!("{what}: expected a status, got {other:?}"),
        }
    }

    fn expect_nothing(&mut self, what: &str) {
        if let Some(g) = self.got(QUIET) {
            panic!("{what}: expected nothing more, got {g:?}");
        }
    }

    /// A `$JS.API` request; its JSON answer.
    fn api(&mut self, subject: &str, body: &Value) -> Value {
        let inbox = format!("_INBOX.api.{}", self.next_sid + 1);
        let sid = self.sub(&inbox);
        self.publish(subject, Some(&inbox), body.to_string().as_bytes());
        let answer = match self.raw.next_op(STEP) {
            Some(ServerOp::Msg { payload, .. }) => serde_json::from_slice(&payload)
                .unwrap_or_else(|e| panic!("{subject}: bad JSON ({e}): {}", escape(&payload))),
            other => panic!("{subject}: expected an answer, got {other:?}"),
        };
        self.raw.send(format!("UNSUB {sid}\r\n").as_bytes());
        answer
    }

    /// A request that must succeed.
    fn api_ok(&mut self, subject: &str, body: &Value) -> Value {
        let v = self.api(subject, body);
        assert!(v.get("error").is_none(), "{subject} {body}: {v}");
        v
    }

    /// A pull request for consumer `C` of stream `S`, answered to `inbox`.
    fn pull(&mut self, inbox: &str, body: &Value) {
        self.publish(
            "$JS.API.CONSUMER.MSG.NEXT.S.C",
            Some(inbox),
            body.to_string().as_bytes(),
        );
    }
}

/// A broker with JetStream in a fresh store.
fn start(kind: Kind) -> (Broker, StoreDir) {
    let dir = StoreDir::new("pull-requests");
    let broker = Broker::start(kind, &["-js", "-sd", dir.as_str()]);
    (broker, dir)
}

/// Stream `S` (subjects `s.>`) in `storage`, and durable pull consumer `C` with explicit acks
/// and `consumer` config on top.
fn stream_and_consumer(c: &mut Conn, storage: &str, consumer: Value) {
    c.api_ok(
        "$JS.API.STREAM.CREATE.S",
        &json!({"name": "S", "subjects": ["s.>"], "storage": storage}),
    );
    let mut config = json!({"durable_name": "C", "ack_policy": "explicit"});
    for (k, v) in consumer.as_object().expect("object") {
        config[k] = v.clone();
    }
    c.api_ok(
        "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
        &json!({"stream_name": "S", "config": config}),
    );
}

fn publish_n(c: &mut Conn, n: usize, payload: &[u8]) {
    for _ in 0..n {
        c.publish("s.a", None, payload);
    }
    c.sync();
}

fn secs(n: u64) -> u64 {
    n * 1_000_000_000
}

both!(
    fn pull_request_outlives_a_reconnect_of_its_requester(kind) {
        for storage in ["memory", "file"] {
            for pattern in ["_INBOX.X.*", "_INBOX.X.1"] {
                let what = format!("{storage} stream, inbox subscription {pattern}");
                let (broker, _dir) = start(kind);
                let mut admin = Conn::open(broker.addr);
                stream_and_consumer(&mut admin, storage, json!({}));

                let mut before = Conn::open(broker.addr);
                before.sub(pattern);
                before.pull("_INBOX.X.1", &json!({"batch": 2, "expires": secs(10)}));
                before.sync();
                // nats-server takes the request inline but looks at it again when its
                // consumer's goroutine next runs, dropping it if its inbox has no interest
                // by then: give that goroutine time to run while the requester is here.
                std::thread::sleep(SETTLE);
                drop(before);
                std::thread::sleep(AWAY);

                let mut after = Conn::open(broker.addr);
                after.sub(pattern);
                after.sync();
                admin.publish("s.a", None, b"one");
                let m = after.expect_msg(&what);
                assert!(
                    matches!(&m, Got::Msg { subject, payload, .. } if subject == "s.a" && payload == b"one"),
                    "{what}: {m:?}"
                );
                assert!(m.reply().starts_with("$JS.ACK.S.C.1.1.1."), "{what}: {m:?}");
                // The same request takes its second message too.
                admin.publish("s.a", None, b"two");
                let m = after.expect_msg(&what);
                assert!(m.reply().starts_with("$JS.ACK.S.C.1.2.2."), "{what}: {m:?}");
                admin.publish("s.a", None, b"three");
                after.expect_nothing(&what);
            }
        }
    }
);

both!(
    fn request_nobody_listens_for_is_dropped_when_looked_at(kind) {
        let (broker, _dir) = start(kind);
        let mut admin = Conn::open(broker.addr);
        stream_and_consumer(&mut admin, "file", json!({}));

        // Looked at by CONSUMER.INFO: it is not counted as waiting.
        let mut gone = Conn::open(broker.addr);
        gone.sub("_INBOX.G.*");
        gone.pull("_INBOX.G.1", &json!({"batch": 1, "expires": secs(10)}));
        gone.sync();
        let info = admin.api_ok("$JS.API.CONSUMER.INFO.S.C", &json!({}));
        assert_eq!(info["num_waiting"], 1, "{info}");
        drop(gone);
        std::thread::sleep(AWAY);
        let info = admin.api_ok("$JS.API.CONSUMER.INFO.S.C", &json!({}));
        assert_eq!(info["num_waiting"], 0, "{info}");

        // Looked at when a message would go to it: the message is not lost to it.
        let mut gone = Conn::open(broker.addr);
        gone.sub("_INBOX.G.*");
        gone.pull("_INBOX.G.2", &json!({"batch": 1, "expires": secs(10)}));
        gone.sync();
        drop(gone);
        std::thread::sleep(AWAY);
        admin.publish("s.a", None, b"kept");
        admin.sync();
        let mut next = Conn::open(broker.addr);
        next.sub("_INBOX.N.*");
        next.pull("_INBOX.N.1", &json!({"batch": 1, "expires": secs(5)}));
        let m = next.expect_msg("the message the gone request did not take");
        assert!(
            matches!(&m, Got::Msg { payload, reply, .. } if payload == b"kept" && reply.starts_with("$JS.ACK.S.C.1.1.1.")),
            "{m:?}"
        );
    }
);

both!(
    fn max_bytes_ends_the_request_with_409(kind) {
        let (broker, _dir) = start(kind);
        let mut admin = Conn::open(broker.addr);
        stream_and_consumer(&mut admin, "file", json!({}));
        publish_n(&mut admin, 5, &[b'x'; 100]);
        // Each delivery counts subject + ack reply subject + payload: 3 + 39 + 100 bytes.
        let mut c = Conn::open(broker.addr);
        c.sub("_INBOX.B.*");

        // The third message does not fit in what is left (400 - 2 * 142 = 116).
        c.pull(
            "_INBOX.B.1",
            &json!({"batch": 10, "max_bytes": 400, "expires": secs(5)}),
        );
        c.expect_msg("first");
        c.expect_msg("second");
        let s = c.expect_status("after two", STEP);
        assert_eq!(
            s,
            "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 8\r\nNats-Pending-Bytes: 116\r\n\r\n"
        );
        c.expect_nothing("after the 409");

        // Bytes that run out exactly: done with the message that used them up, no status.
        c.pull(
            "_INBOX.B.2",
            &json!({"batch": 10, "max_bytes": 284, "expires": secs(1)}),
        );
        c.expect_msg("third");
        c.expect_msg("fourth");
        if let Some(g) = c.got(Duration::from_millis(1500)) {
            panic!("a request whose bytes ran out exactly got {g:?}");
        }

        // Too small for even one message.
        c.pull(
            "_INBOX.B.3",
            &json!({"batch": 10, "max_bytes": 50, "expires": secs(5)}),
        );
        let s = c.expect_status("nothing fits", STEP);
        assert_eq!(
            s,
            "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 10\r\nNats-Pending-Bytes: 50\r\n\r\n"
        );
    }
);

/// Pulls with `no_wait` for `batch` messages, acking each as it comes when `ack`; returns how
/// many came and the status that ended the request, if any came within [`QUIET`].
fn no_wait_fetch(c: &mut Conn, inbox: &str, batch: u64, ack: bool) -> (usize, Option<String>) {
    c.pull(inbox, &json!({"batch": batch, "no_wait": true}));
    let mut n = 0;
    loop {
        match c.got(if n == 0 { STEP } else { QUIET }) {
            Some(Got::Msg { reply, .. }) => {
                n += 1;
                if ack {
                    c.publish(&reply, None, b"+ACK");
                }
            }
            Some(Got::Status(s)) => return (n, Some(s)),
            None => return (n, None),
        }
    }
}

both!(
    fn no_wait_goes_on_while_acks_free_max_ack_pending(kind) {
        let (broker, _dir) = start(kind);
        let mut admin = Conn::open(broker.addr);
        stream_and_consumer(&mut admin, "file", json!({"max_ack_pending": 10}));
        publish_n(&mut admin, 50, b"x");
        let mut c = Conn::open(broker.addr);
        c.sub("_INBOX.W.*");

        // Acked as they come: the whole batch, which ends the request without a status.
        assert_eq!(no_wait_fetch(&mut c, "_INBOX.W.1", 30, true), (30, None));

        // 20 left, 30 asked for: all 20, then the stream has nothing more: 408.
        let (n, status) = no_wait_fetch(&mut c, "_INBOX.W.2", 30, true);
        assert_eq!(n, 20);
        assert_eq!(
            status.as_deref(),
            Some("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 10\r\nNats-Pending-Bytes: 0\r\n\r\n")
        );
    }
);

both!(
    fn no_wait_blocked_by_max_ack_pending_waits_for_acks(kind) {
        let (broker, _dir) = start(kind);
        let mut admin = Conn::open(broker.addr);
        stream_and_consumer(&mut admin, "file", json!({"max_ack_pending": 10}));
        publish_n(&mut admin, 25, b"x");
        let mut c = Conn::open(broker.addr);
        c.sub("_INBOX.W.*");

        // Not acked: 10, then the request waits (no 408 while messages remain).
        c.pull("_INBOX.W.1", &json!({"batch": 30, "no_wait": true}));
        let first: Vec<Got> = (0..10).map(|i| c.expect_msg(&format!("#{i}"))).collect();
        c.expect_nothing("at max_ack_pending");
        // Acks free room: the same request goes on.
        for m in &first {
            c.publish(m.reply(), None, b"+ACK");
        }
        let second: Vec<Got> = (0..10).map(|i| c.expect_msg(&format!("#{}", 10 + i))).collect();
        c.expect_nothing("at max_ack_pending again");
        for m in &second {
            c.publish(m.reply(), None, b"+ACK");
        }
        for i in 0..5 {
            let m = c.expect_msg(&format!("#{}", 20 + i));
            c.publish(m.reply(), None, b"+ACK");
        }
        let s = c.expect_status("stream exhausted", STEP);
        assert!(s.starts_with("NATS/1.0 408 Request Timeout\r\n"), "{s:?}");
    }
);

both!(
    fn double_ack_is_answered_again_after_a_reconnect(kind) {
        let (broker, _dir) = start(kind);
        let mut admin = Conn::open(broker.addr);
        stream_and_consumer(&mut admin, "file", json!({}));
        publish_n(&mut admin, 2, b"x");
        let mut c = Conn::open(broker.addr);
        c.sub("_INBOX.D.*");
        c.pull("_INBOX.D.1", &json!({"batch": 1, "expires": secs(5)}));
        let m = c.expect_msg("the message");
        let ack = m.reply().to_owned();

        // The double ack is sent and the connection drops before its answer is read.
        c.sub("_INBOX.ack.1");
        c.publish(&ack, Some("_INBOX.ack.1"), b"+ACK");
        drop(c);
        std::thread::sleep(Duration::from_millis(200));

        // Re-sent after reconnecting: answered (an empty message), as the first time.
        let mut c = Conn::open(broker.addr);
        c.sub("_INBOX.ack.2");
        c.publish(&ack, Some("_INBOX.ack.2"), b"+ACK");
        match c.raw.next_op(STEP) {
            Some(ServerOp::Msg {
                subject, payload, ..
            }) => {
                assert_eq!(&*subject, "_INBOX.ack.2");
                assert!(payload.is_empty(), "{}", escape(&payload));
            }
            other => panic!("the re-sent double ack got {other:?}"),
        }
        let info = admin.api_ok("$JS.API.CONSUMER.INFO.S.C", &json!({}));
        assert_eq!(info["ack_floor"]["stream_seq"], 1, "{info}");
        assert_eq!(info["num_ack_pending"], 0, "{info}");
        // Acked once for all: the next pull gets message 2, and 1 never comes again.
        c.sub("_INBOX.D.*");
        c.pull("_INBOX.D.2", &json!({"batch": 2, "expires": secs(3)}));
        let m = c.expect_msg("the next message");
        assert!(m.reply().starts_with("$JS.ACK.S.C.1.2.2."), "{m:?}");
        let s = c.expect_status("nothing else", Duration::from_secs(4));
        assert!(s.starts_with("NATS/1.0 408 Request Timeout\r\n"), "{s:?}");
    }
);
