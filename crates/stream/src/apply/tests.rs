//! Applying ops without a writer thread: the same ops on two fresh memory streams (and their
//! consumers) give the same outcomes, the same state and the same effects, byte for byte.
//! Apply itself does no I/O (no subscription, no metadata record); the shell (`run_op`) does
//! what the effects say. A consumer set needs a server to subscribe through; a bound, not
//! running, server is enough (nothing is published).

use super::*;
use crate::config::RetentionPolicy;
use crate::consumer::config::{AckPolicy, ConsumerAction, DeliverPolicy};
use crate::effect::Inbox;
use crate::shell::run_op;
use crate::store::memory::MemoryStore;
use crate::store::StoreState;
use crate::writer::WriterTx;
use sluice_server::{Backlog, Server, ServerConfig, ServerHandle};
use std::sync::Arc;

const T0: i64 = 1_765_000_000_000_000_000;

fn stream_config(max_msgs: i64) -> StreamConfig {
    let raw: StreamConfig = serde_json::from_value(serde_json::json!({
        "name": "S",
        "subjects": ["s.>"],
        "storage": "memory",
        "max_msgs": max_msgs,
    }))
    .unwrap();
    raw.check_create("S").unwrap()
}

/// A stream, its consumers and the writer's context, as the writer holds them.
struct Machine {
    stream: Stream,
    consumers: Consumers,
    ctx: ApplyCtx,
    /// The effects of every op applied, in order.
    effects: Vec<Effect>,
    /// Keeps the consumers' writer channel open.
    _rx: WriterTx,
}

/// What a stream's writer holds, as `start_stream` builds it: the stream opened on `store` at
/// `now_ns`, its (empty) consumer set persisting to `meta` if given, the apply context, and the
/// receiving end of the consumers' writer channel (keep it, to keep the channel open).
pub(super) fn writer_parts(
    server: &ServerHandle,
    cfg: StreamConfig,
    store: Box<dyn crate::store::MsgStore>,
    meta: Option<Meta>,
    now_ns: i64,
) -> (Stream, Consumers, ApplyCtx, WriterTx) {
    let stream = Stream::open(policy(&cfg), store, now_ns).unwrap();
    let tx = WriterTx::new(crate::pool::detached(), Arc::new(Backlog::new(1 << 20)));
    let rx = tx.clone();
    let consumers = Consumers::new(&cfg.name, tx, server.fork(), meta.is_some(), cfg.retention);
    let ctx = ApplyCtx {
        config: cfg,
        meta,
        limits: Default::default(),
    };
    (stream, consumers, ctx, rx)
}

impl Machine {
    fn new(server: &ServerHandle, cfg: StreamConfig) -> Self {
        Self::with_meta(server, cfg, None)
    }

    /// A machine whose durable consumers are persisted to `meta`.
    fn with_meta(server: &ServerHandle, cfg: StreamConfig, meta: Option<Meta>) -> Self {
        let (stream, consumers, ctx, rx) =
            writer_parts(server, cfg, Box::new(MemoryStore::new()), meta, T0);
        Machine {
            stream,
            consumers,
            ctx,
            effects: Vec::new(),
            _rx: rx,
        }
    }

    /// A publish, as the owner applies it (an op, through the one entry point).
    fn publish(&mut self, subject: &str, payload: &[u8], now: i64) {
        let op = crate::apply::message_tests::publish_op(subject, None, payload, now);
        let Applied { outcome, effects } =
            apply_op(&mut self.stream, &mut self.consumers, &mut self.ctx, op);
        assert!(effects.is_empty());
        let crate::apply::Outcome::Published { result, .. } = outcome else {
            panic!("{outcome:?}");
        };
        result.unwrap();
    }

    /// What the owner does with an API op, but the effects are only noted, not performed.
    fn apply(&mut self, op: StreamOp) -> OpOutcome {
        let Applied { outcome, effects } =
            apply_op(&mut self.stream, &mut self.consumers, &mut self.ctx, op);
        self.effects.extend(effects);
        outcome.into_op()
    }

    /// What the owner does with an API op: apply, perform the effects.
    fn run(&mut self, op: StreamOp) -> OpOutcome {
        run_op(&mut self.stream, &mut self.consumers, &mut self.ctx, op).into_op()
    }

    /// The effects so far, as a log would carry them.
    fn effect_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.effects).unwrap()
    }

    /// Everything the ops may change, in a comparable form.
    fn state(&self) -> (StoreState, StreamConfig, Vec<ConsumerView>) {
        let consumers = self
            .consumers
            .iter()
            .map(|c| ConsumerView {
                name: c.name.to_string(),
                config: c.config.clone(),
                created: c.created,
                persisted: c.persisted,
                state: c.state.encode(),
                last_active_ns: c.last_active_ns,
            })
            .collect();
        (self.stream.state(), self.ctx.config.clone(), consumers)
    }
}

#[derive(Debug, PartialEq)]
struct ConsumerView {
    name: String,
    config: ConsumerConfig,
    created: Timestamp,
    persisted: bool,
    state: Vec<u8>,
    last_active_ns: i64,
}

pub(super) async fn server() -> (Server, ServerHandle) {
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let handle = server.handle();
    (server, handle)
}

fn create(config: ConsumerConfig, generated: &str, now: i64) -> StreamOp {
    StreamOp::CreateConsumer {
        config: Box::new(config),
        action: ConsumerAction::CreateOrUpdate,
        generated_name: generated.into(),
        created: Timestamp::from_unix_nanos(now),
        now_ns: now,
        advisory_id: format!("adv-{now}"),
    }
}

fn delete(name: &str, now: i64) -> StreamOp {
    StreamOp::DeleteConsumer {
        name: name.into(),
        now_ns: now,
        advisory_id: format!("adv-{now}"),
    }
}

fn durable(name: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: name.into(),
        ack_policy: AckPolicy::Explicit,
        ..ConsumerConfig::default()
    }
}

/// Ops touching every variant, failures included.
fn ops() -> Vec<StreamOp> {
    let mut updated = durable("D");
    updated.description = "now described".into();
    let ephemeral = ConsumerConfig {
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::Last,
        filter_subject: "s.b".into(),
        ..ConsumerConfig::default()
    };
    vec![
        create(durable("D"), "unused01", T0 + 10),
        create(ephemeral.clone(), "Gen00001", T0 + 20),
        // The generated name is taken: the next candidate is derived from it.
        create(ephemeral, "Gen00001", T0 + 30),
        StreamOp::Purge(Purge {
            filter: None,
            up_to_seq: Some(3),
            keep: None,
        }),
        StreamOp::DeleteMsg { seq: 5 },
        StreamOp::DeleteMsg { seq: 5 },
        StreamOp::DeleteMsg { seq: 0 },
        StreamOp::DeleteMsg { seq: 1_000 },
        StreamOp::UpdateConfig {
            config: Box::new(stream_config(4)),
            now_ns: T0 + 40,
        },
        create(updated, "unused02", T0 + 50),
        StreamOp::Purge(Purge {
            filter: Some("s.a".into()),
            up_to_seq: None,
            keep: Some(1),
        }),
        delete("Gen00001", T0 + 55),
        delete("missing", T0 + 56),
        create(
            ConsumerConfig {
                durable_name: "D".into(),
                ..ConsumerConfig::default()
            },
            "unused03",
            T0 + 60,
        ),
    ]
}

fn run(server: &ServerHandle) -> (Vec<OpOutcome>, Machine) {
    let mut m = Machine::new(server, stream_config(-1));
    for i in 0..10u8 {
        let subject = if i % 2 == 0 { "s.a" } else { "s.b" };
        m.publish(subject, &[i], T0 + i64::from(i));
    }
    let outcomes = ops().into_iter().map(|op| m.apply(op)).collect();
    (outcomes, m)
}

#[tokio::test]
async fn same_ops_give_same_outcomes_and_state() {
    let (_server, handle) = server().await;
    let (out_a, a) = run(&handle);
    let (out_b, b) = run(&handle.fork());
    assert_eq!(out_a, out_b);
    assert_eq!(a.state(), b.state());
    // Three creates and a delete that came to something: subscriptions and advisories.
    assert_eq!(a.effects.len(), 8, "{:#?}", a.effects);
    assert_eq!(a.effect_bytes(), b.effect_bytes());
    // And through JSON, as a log would carry them.
    let logged: Vec<StreamOp> =
        serde_json::from_str(&serde_json::to_string(&ops()).unwrap()).unwrap();
    let mut c = Machine::new(&handle, stream_config(-1));
    for i in 0..10u8 {
        let subject = if i % 2 == 0 { "s.a" } else { "s.b" };
        c.publish(subject, &[i], T0 + i64::from(i));
    }
    let out_c: Vec<OpOutcome> = logged.into_iter().map(|op| c.apply(op)).collect();
    assert_eq!(out_a, out_c);
    assert_eq!(a.state(), c.state());
    assert_eq!(a.effect_bytes(), c.effect_bytes());
}

#[tokio::test]
async fn outcomes_are_what_the_api_answers() {
    let (_server, handle) = server().await;
    let (out, m) = run(&handle);
    let info = |o: &OpOutcome| match o {
        OpOutcome::Consumer(info) => (**info).clone(),
        other => panic!("not a consumer: {other:?}"),
    };
    let d = info(&out[0]);
    assert_eq!(
        (d.name.as_str(), d.created),
        ("D", Timestamp::from_unix_nanos(T0 + 10))
    );
    assert_eq!(d.ts, Timestamp::from_unix_nanos(T0 + 10));
    assert_eq!(d.num_pending, 10);
    assert_eq!(info(&out[1]).name, "Gen00001");
    let derived = info(&out[2]).name;
    assert_ne!(derived, "Gen00001");
    assert_eq!(derived.len(), 8);
    assert!(derived.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(out[3], OpOutcome::Purged { purged: 2 });
    assert_eq!(out[4], OpOutcome::MsgDeleted { removed: true });
    assert_eq!(out[5], OpOutcome::MsgDeleted { removed: false });
    // A memory stream answers 10043 for sequence 0 and past the end (see missing_for_delete).
    assert_eq!(out[6], OpOutcome::Failed(ApiError::sequence_not_found(0)));
    assert_eq!(
        out[7],
        OpOutcome::Failed(ApiError::sequence_not_found(1_000))
    );
    assert_eq!(out[8], OpOutcome::ConfigUpdated);
    let updated = info(&out[9]);
    assert_eq!(updated.config.description, "now described");
    // An update keeps the consumer's creation time.
    assert_eq!(updated.created, Timestamp::from_unix_nanos(T0 + 10));
    assert_eq!(out[10], OpOutcome::Purged { purged: 1 });
    assert_eq!(out[11], OpOutcome::ConsumerDeleted);
    assert_eq!(out[12], OpOutcome::Failed(ApiError::consumer_not_found()));
    // Changing the ack policy of a consumer is refused by planning.
    assert!(matches!(out[13], OpOutcome::Failed(_)), "{:?}", out[13]);
    let (state, config, consumers) = m.state();
    assert_eq!(config.max_msgs, 4);
    // 7 left after the purge and the delete, 4 after the update (max_msgs), 3 after the
    // second purge.
    assert_eq!(state.msgs, 3);
    let names: Vec<_> = consumers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, {
        let mut n = vec!["D", derived.as_str()];
        n.sort();
        n
    });
    assert_eq!(m.ctx.config.retention, RetentionPolicy::Limits);
}

#[test]
fn file_streams_refuse_impossible_deletes_their_way() {
    assert_eq!(
        missing_for_delete(StorageType::File, 0, 5),
        Some(ApiError::stream_msg_delete_failed("no message found"))
    );
    assert_eq!(
        missing_for_delete(StorageType::File, 6, 5),
        Some(ApiError::stream_msg_delete_failed("stream store EOF"))
    );
    assert_eq!(missing_for_delete(StorageType::File, 5, 5), None);
    assert_eq!(missing_for_delete(StorageType::Memory, 5, 5), None);
}

#[test]
fn derived_names_start_with_the_drawn_one_and_repeat() {
    let take = |g: &str| {
        let mut f = derived_names(g);
        (0..5).map(|_| f()).collect::<Vec<_>>()
    };
    let a = take("AbCd1234");
    assert_eq!(a[0], "AbCd1234");
    assert_eq!(a, take("AbCd1234"));
    let distinct: std::collections::BTreeSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), 5);
}

/// The advisory effect's subject and its JSON body.
fn advisory(e: &Effect) -> (&str, serde_json::Value) {
    match e {
        Effect::Advisory { subject, payload } => {
            (subject.as_str(), serde_json::from_slice(payload).unwrap())
        }
        other => panic!("not an advisory: {other:?}"),
    }
}

#[tokio::test]
async fn effects_are_what_the_ops_ask_for() {
    let (_server, handle) = server().await;
    let (_, m) = run(&handle);
    let fx = &m.effects;
    // The first create: subscriptions to its acks and pull requests, then its advisory, with
    // the id and time the op carries. A memory stream's consumers have no records.
    assert_eq!(
        fx[0],
        Effect::Subscribe {
            name: "D".into(),
            subjects: vec![
                ("$JS.ACK.S.D.*.*.*.*.*".into(), Inbox::Ack),
                ("$JS.API.CONSUMER.MSG.NEXT.S.D".into(), Inbox::Next),
            ],
        }
    );
    let (subject, body) = advisory(&fx[1]);
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.D");
    assert_eq!(
        body,
        serde_json::json!({
            "type": "io.nats.jetstream.advisory.v1.consumer_action",
            "id": format!("adv-{}", T0 + 10),
            "timestamp": Timestamp::from_unix_nanos(T0 + 10),
            "stream": "S",
            "consumer": "D",
            "action": "create",
        })
    );
    assert!(matches!(&fx[2], Effect::Subscribe { name, .. } if name == "Gen00001"));
    assert!(matches!(&fx[4], Effect::Subscribe { name, .. } if name != "Gen00001"));
    // The update of D (a description) asks for nothing: it has no record, and keeps its
    // subscriptions. The delete: the advisory, then the subscriptions go.
    let (subject, body) = advisory(&fx[6]);
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.Gen00001");
    assert_eq!(body["action"], "delete");
    assert_eq!(body["id"], format!("adv-{}", T0 + 55));
    assert_eq!(
        fx[7],
        Effect::Unsubscribe {
            name: "Gen00001".into()
        }
    );
}

/// A memory stream's consumers, but persisted to a metadata store, to see the records.
async fn persisted(dir: &std::path::Path) -> (Server, ServerHandle, Machine, Meta) {
    let (server, handle) = server().await;
    let meta = Meta::open(dir).unwrap();
    let m = Machine::with_meta(&handle, stream_config(-1), Some(meta.clone()));
    (server, handle, m, meta)
}

#[tokio::test]
async fn apply_asks_and_the_shell_does() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, handle, mut m, meta) = persisted(dir.path()).await;
    let next = "$JS.API.CONSUMER.MSG.NEXT.S.D";
    // Apply alone: the record and the subscriptions are effects, nothing is done.
    assert!(matches!(
        m.apply(create(durable("D"), "x", T0)),
        OpOutcome::Consumer(_)
    ));
    let record = match &m.effects[0] {
        Effect::PutConsumerRecord {
            stream,
            name,
            record,
        } => {
            assert_eq!((stream.as_str(), name.as_str()), ("S", "D"));
            record.clone()
        }
        other => panic!("{other:?}"),
    };
    let back: ConsumerRecord = serde_json::from_slice(&record).unwrap();
    assert_eq!(back.config, m.consumers.get("D").unwrap().config);
    assert_eq!(back.created, Timestamp::from_unix_nanos(T0));
    assert!(meta.consumers_of("S").unwrap().is_empty());
    assert!(!handle.has_interest(next));
    // The shell performs them (here for a second consumer, and for D's effects).
    let effects = std::mem::take(&mut m.effects);
    crate::shell::run_effects(effects, Some(&meta), &mut m.consumers).unwrap();
    assert!(matches!(
        m.run(create(durable("E"), "y", T0 + 1)),
        OpOutcome::Consumer(_)
    ));
    let stored: Vec<_> = meta.consumers_of("S").unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[0].0.as_str(), &stored[0].1), ("D", &record));
    assert!(handle.has_interest(next));
    assert!(handle.has_interest("$JS.ACK.S.E.1.1.1.0.0"));
    // A delete through the shell: records and subscriptions go.
    assert_eq!(m.run(delete("D", T0 + 2)), OpOutcome::ConsumerDeleted);
    let stored: Vec<_> = meta.consumers_of("S").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "E");
    assert!(!handle.has_interest(next));
    assert!(handle.has_interest("$JS.ACK.S.E.1.1.1.0.0"));
}

#[tokio::test]
async fn a_create_whose_subscription_fails_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, handle, mut m, meta) = persisted(dir.path()).await;
    // A stream name no subject can hold (the API refuses it; here it makes the consumer's
    // subscriptions fail). The durable's record is written first, then subscribing fails: the
    // create is refused and leaves nothing behind, neither the consumer nor its record.
    m.ctx.config.name = "S T".into();
    match m.run(create(durable("D"), "x", T0)) {
        OpOutcome::Failed(e) => {
            assert_eq!(
                e,
                ApiError::consumer_create(
                    "subscribing to $JS.ACK.S T.D.*.*.*.*.*: Invalid Subject"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.consumers.iter().count(), 0);
    let count = m.consumers.counter();
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(meta.consumers_of("S T").unwrap().is_empty());
    // With a name that can be subscribed to, the same create goes through.
    m.ctx.config.name = "S".into();
    assert!(matches!(
        m.run(create(durable("D"), "x", T0)),
        OpOutcome::Consumer(_)
    ));
    assert_eq!(meta.consumers_of("S").unwrap().len(), 1);
    assert!(handle.has_interest("$JS.API.CONSUMER.MSG.NEXT.S.D"));
}

#[tokio::test]
async fn records_of_persisted_consumers_are_the_same_bytes_too() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_server, handle) = server().await;
    let machine = |dir: &std::path::Path| {
        let meta = Meta::open(dir).unwrap();
        let mut m = Machine::with_meta(&handle, stream_config(-1), Some(meta));
        for op in ops() {
            m.apply(op);
        }
        m
    };
    let (a, b) = (machine(dir_a.path()), machine(dir_b.path()));
    assert_eq!(a.effect_bytes(), b.effect_bytes());
    // The durable's create and its update write its record; the ephemerals have none.
    let records: Vec<(&str, ConsumerRecord)> = a
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::PutConsumerRecord { name, record, .. } => {
                Some((name.as_str(), serde_json::from_slice(record).unwrap()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|(n, _)| *n == "D"));
    assert_eq!(records[0].1.config.description, "");
    assert_eq!(records[1].1.config.description, "now described");
    assert!(records
        .iter()
        .all(|(_, r)| r.created == Timestamp::from_unix_nanos(T0 + 10)));
}
