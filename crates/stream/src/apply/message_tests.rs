//! The owner's apply path without threads or sockets, for the message ops: publishes, acks,
//! pull requests, flow control answers and ticks, among API ops. One copy goes through the
//! local op log as the owner's step does (propose the batch, apply what the log hands back
//! through `run_op`, then the step's tick); the other applies the same ops after a round trip
//! through JSON, as a log on disk or a Raft follower would have them. Both must give the same
//! outcomes, state, effects and outbox (deliveries, statuses, advisories, double-ack replies),
//! byte for byte. A consumer set needs a server to subscribe through (who listens on an inbox
//! reaches apply as an op, never by asking it); a bound, not running, server is enough.

use super::tests::{server, writer_parts};
use super::*;
use crate::consumer::config::{AckPolicy, ConsumerAction};
use crate::op::Message;
use crate::oplog::{LocalLog, OpLog};
use crate::store::memory::MemoryStore;
use crate::store::StoreState;
use crate::writer::WriterTx;
use bytes::Bytes;
use sluice_server::{InternalMsg, InternalSink, ServerHandle};
use std::sync::Arc;

pub(super) const T0: i64 = 1_765_000_000_000_000_000;
pub(super) const MS: i64 = 1_000_000;

/// A publish op as the owner makes it from a message its subscription handed over.
pub(super) fn publish_op(
    subject: &str,
    headers: Option<&[u8]>,
    payload: &[u8],
    now_ns: i64,
) -> StreamOp {
    StreamOp::Publish {
        msg: msg(subject, None, headers, payload),
        now_ns,
    }
}

pub(super) fn msg(
    subject: &str,
    reply: Option<&str>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> Message {
    Message(InternalMsg {
        subject: subject.into(),
        reply: reply.map(Into::into),
        headers: headers.map(Bytes::copy_from_slice),
        payload: Bytes::copy_from_slice(payload),
    })
}

/// A subscriber that drops what it gets.
pub(super) struct Nobody;
impl InternalSink for Nobody {
    fn deliver(&self, _msg: InternalMsg) {}
}

fn stream_config() -> StreamConfig {
    let raw: StreamConfig = serde_json::from_value(serde_json::json!({
        "name": "S",
        "subjects": ["s.>"],
        "storage": "memory",
        "max_age": 30_000_000_000i64,
        "duplicate_window": 1_000_000_000i64,
    }))
    .unwrap();
    raw.check_create("S").unwrap()
}

/// (route, subject, reply, headers, payload) of a message the consumers would send.
type Sent = (
    String,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Vec<u8>,
);

/// Everything observable that one step produced, comparable byte for byte.
#[derive(Debug, PartialEq)]
pub(super) struct StepOut {
    pub outcomes: Vec<String>,
    pub effects: Vec<u8>,
    /// Everything the consumers would send.
    pub outbox: Vec<Sent>,
    pub double_acks: Vec<String>,
    pub state: StoreState,
    pub consumers: Vec<(String, Vec<u8>, i64, usize)>,
}

pub(super) struct Copy {
    pub stream: Stream,
    pub consumers: Consumers,
    ctx: ApplyCtx,
    log: LocalLog,
    _tx: WriterTx,
}

impl Copy {
    pub(super) fn new(server: &ServerHandle) -> Self {
        let (stream, consumers, ctx, tx) = writer_parts(
            server,
            stream_config(),
            Box::new(MemoryStore::new()),
            None,
            T0,
        );
        Copy {
            stream,
            consumers,
            ctx,
            log: LocalLog::new(),
            _tx: tx,
        }
    }

    /// One owner step: `ops` through the log, then the tick at `tick`.
    pub(super) fn step(&mut self, mut ops: Vec<StreamOp>, tick: i64, logged: bool) -> StepOut {
        let mut outcomes = Vec::new();
        let mut effects = Vec::new();
        ops.push(StreamOp::Tick { now_ns: tick });
        let ops: Vec<StreamOp> = if logged {
            let json = serde_json::to_string(&ops).unwrap();
            serde_json::from_str(&json).unwrap()
        } else {
            ops
        };
        let mut entries = Vec::new();
        if logged {
            entries = ops;
        } else {
            let mut ops = ops;
            let range = self.log.append(&mut ops);
            assert_eq!(self.log.ready(&mut entries), *range.start());
            assert_eq!(entries.len() as u64, range.count() as u64);
        }
        for op in entries {
            // As `run_op` does: apply, then the shell performs the effects (noted here too).
            let Applied {
                outcome,
                effects: fx,
            } = apply_op(&mut self.stream, &mut self.consumers, &mut self.ctx, op);
            outcomes.push(format!("{outcome:?}"));
            crate::shell::run_effects(fx.clone(), None, &mut self.consumers).unwrap();
            effects.extend(fx);
        }
        if !logged {
            self.log.persisted(self.log.last_index());
            assert_eq!(self.log.committed(), self.log.last_index());
        }
        let outbox = self
            .consumers
            .take_outbox()
            .into_iter()
            .map(|m| {
                (
                    m.route.to_string(),
                    m.subject.map(|s| s.to_string()),
                    m.reply,
                    m.headers.map(|h| h.to_vec()),
                    m.payload.to_vec(),
                )
            })
            .collect();
        StepOut {
            outcomes,
            effects: serde_json::to_vec(&effects).unwrap(),
            outbox,
            double_acks: self.consumers.take_double_acks(),
            state: self.stream.state(),
            consumers: self
                .consumers
                .iter()
                .map(|c| {
                    let waiting = c.waiting.len();
                    (
                        c.name.to_string(),
                        c.state.encode(),
                        c.last_active_ns,
                        waiting,
                    )
                })
                .collect(),
        }
    }
}

pub(super) fn pull_consumer(now: i64) -> StreamOp {
    StreamOp::CreateConsumer {
        config: Box::new(ConsumerConfig {
            durable_name: "P".into(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: 1_000 * MS,
            max_deliver: 2,
            ..ConsumerConfig::default()
        }),
        action: ConsumerAction::CreateOrUpdate,
        generated_name: "unused".into(),
        created: Timestamp::from_unix_nanos(now),
        now_ns: now,
        advisory_id: format!("adv-{now}"),
    }
}

pub(super) fn next(reply: &str, body: &str, now_ns: i64) -> StreamOp {
    StreamOp::Next {
        msg: msg(
            "$JS.API.CONSUMER.MSG.NEXT.S.P",
            Some(reply),
            None,
            body.as_bytes(),
        ),
        now_ns,
    }
}

pub(super) fn ack(subject: &str, reply: Option<&str>, body: &str, now_ns: i64) -> StreamOp {
    StreamOp::Ack {
        msg: msg(subject, reply, None, body.as_bytes()),
        now_ns,
    }
}

/// The ack subjects of the deliveries in a step's outbox.
pub(super) fn acks_of(out: &StepOut) -> Vec<String> {
    out.outbox
        .iter()
        .filter_map(|(_, _, reply, _, _)| reply.clone())
        .filter(|r| r.starts_with("$JS.ACK."))
        .collect()
}

#[tokio::test]
async fn message_ops_give_the_same_state_outcomes_and_outbox() {
    let (_server, handle) = server().await;
    let _inbox = handle
        .subscribe("_INBOX.>", None, Arc::new(Nobody))
        .unwrap();
    let mut a = Copy::new(&handle);
    let mut b = Copy::new(&handle.fork());
    let mut t = T0;
    let mut both = |ops: Vec<StreamOp>, tick: i64| {
        let oa = a.step(ops.clone(), tick, false);
        let ob = b.step(ops, tick, true);
        assert_eq!(oa, ob);
        oa
    };
    let h: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";
    let first = both(
        vec![
            pull_consumer(t),
            publish_op("s.a", Some(h), b"one", t),
            publish_op("s.b", None, b"two", t),
            // A duplicate, and a publish with a reply (the PubAck's subject).
            publish_op("s.c", Some(h), b"dup", t),
            StreamOp::Publish {
                msg: msg("s.d", Some("_INBOX.puback"), None, b"three"),
                now_ns: t,
            },
        ],
        t,
    );
    assert_eq!(first.state.msgs, 3);
    assert!(
        first.outcomes[3].contains("Duplicate(1)"),
        "{:?}",
        first.outcomes
    );
    assert!(first.outcomes[4].contains("_INBOX.puback") && first.outcomes[4].contains("New(3)"));
    t += MS;
    // A pull for two, delivered by the tick after it.
    let pulled = both(vec![next("_INBOX.pull1", r#"{"batch":2}"#, t)], t);
    let delivered = acks_of(&pulled);
    assert_eq!(delivered.len(), 2, "{:?}", pulled.outbox);
    t += MS;
    // Ack the first (a double ack: its reply waits for the flush), term the second; a flow
    // control answer for no push consumer changes nothing.
    let acked = both(
        vec![
            ack(&delivered[0], Some("_INBOX.dack"), "+ACK", t),
            ack(&delivered[1], None, "+TERM gone", t),
            StreamOp::FlowControl {
                msg: msg("$JS.FC.S.P.1", None, None, b""),
            },
            next("_INBOX.pull2", r#"{"batch":5,"expires":500000000}"#, t),
        ],
        t,
    );
    assert_eq!(acked.double_acks, ["_INBOX.dack"]);
    let routes: Vec<&str> = acked.outbox.iter().map(|m| m.0.as_str()).collect();
    assert!(
        routes.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.P"),
        "{routes:?}"
    );
    let third = acks_of(&acked);
    assert_eq!(third.len(), 1, "the third message, to the second request");
    // Its ack wait passes unacked: redelivered once (max_deliver 2) to a new request, then
    // MAX_DELIVERIES; the second request expires (408).
    t += 1_100 * MS;
    let expired = both(vec![next("_INBOX.pull3", r#"{"batch":1}"#, t)], t);
    assert_eq!(acks_of(&expired).len(), 1, "{:?}", expired.outbox);
    t += 1_100 * MS;
    let maxed = both(
        vec![next("_INBOX.pull4", r#"{"batch":1,"no_wait":true}"#, t)],
        t,
    );
    let routes: Vec<&str> = maxed.outbox.iter().map(|m| m.0.as_str()).collect();
    assert!(
        routes.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.P"),
        "{routes:?}"
    );
    // Time passes past max_age: the tick expires every message.
    t += 31_000 * MS;
    let aged = both(Vec::new(), t);
    assert_eq!(aged.state.msgs, 0);
}

/// Who listens on a pull request's inbox reaches apply only as an [`StreamOp::Interest`]
/// the owner makes (`Consumers::observe_interest`), never by apply asking the server: the
/// same ops give the same deliveries whoever subscribes meanwhile.
#[tokio::test]
async fn who_listens_is_an_op_not_a_question_apply_asks() {
    // Nobody listens on any inbox here: a request is served until an op says so.
    let (_server, handle) = server().await;
    let mut a = Copy::new(&handle);
    let mut b = Copy::new(&handle.fork());
    let mut t = T0;
    let mut both = |ops: Vec<StreamOp>, tick: i64| {
        let oa = a.step(ops.clone(), tick, false);
        let ob = b.step(ops, tick, true);
        assert_eq!(oa, ob);
        oa
    };
    let first = both(
        vec![
            pull_consumer(t),
            publish_op("s.a", None, b"one", t),
            publish_op("s.b", None, b"two", t),
        ],
        t,
    );
    assert_eq!(first.state.msgs, 2);
    t += MS;
    let served = both(vec![next("_INBOX.p1", r#"{"batch":2}"#, t)], t);
    assert_eq!(acks_of(&served).len(), 2, "served though nobody listens");
    t += MS;
    // A request waits for more; the owner finds its inbox unheard.
    let waits = both(
        vec![next("_INBOX.p2", r#"{"batch":1,"expires":60000000000}"#, t)],
        t,
    );
    assert_eq!(waits.consumers[0].3, 1);
    let seen = a.consumers.observe_interest(t);
    let expected = StreamOp::Interest {
        now_ns: t,
        replies: vec![("_INBOX.p2".into(), false)],
        push: Vec::new(),
    };
    assert_eq!(seen.as_ref(), Some(&expected));
    let mut both = |ops: Vec<StreamOp>, tick: i64| {
        let oa = a.step(ops.clone(), tick, false);
        let ob = b.step(ops, tick, true);
        assert_eq!(oa, ob);
        oa
    };
    t += MS;
    // Looked at when a message would go to it: dropped, silently, as nats-server does.
    let dropped = both(vec![expected, publish_op("s.c", None, b"three", t)], t);
    assert!(acks_of(&dropped).is_empty(), "{:?}", dropped.outbox);
    assert_eq!(dropped.consumers[0].3, 0);
    t += MS;
    // An inbox unheard and then heard again (its client re-subscribed) is served.
    let back = both(
        vec![
            next("_INBOX.p3", r#"{"batch":1,"expires":60000000000}"#, t),
            StreamOp::Interest {
                now_ns: t,
                replies: vec![("_INBOX.p3".into(), false)],
                push: Vec::new(),
            },
            StreamOp::Interest {
                now_ns: t,
                replies: vec![("_INBOX.p3".into(), true)],
                push: Vec::new(),
            },
        ],
        t,
    );
    assert_eq!(acks_of(&back).len(), 1, "{:?}", back.outbox);
    // What the owner sees changes only with the server's subscriptions.
    assert_eq!(a.consumers.observe_interest(t), None);
    let waiting = a.step(
        vec![next("_INBOX.p4", r#"{"batch":1,"expires":60000000000}"#, t)],
        t,
        false,
    );
    assert_eq!(waiting.consumers[0].3, 1);
    let _sub = handle
        .subscribe("_INBOX.p4", None, Arc::new(Nobody))
        .unwrap();
    assert_eq!(a.consumers.observe_interest(t), None, "heard, as presumed");
    drop(_sub);
    assert!(a.consumers.observe_interest(t).is_some(), "no longer heard");
}
