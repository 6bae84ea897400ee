//! Applying ops without a writer thread: the same ops on two fresh memory streams (and their
//! consumers) give the same outcomes and the same state. A consumer set needs a server to
//! subscribe through; a bound, not running, server is enough (nothing is published).

use super::*;
use crate::config::RetentionPolicy;
use crate::consumer::config::{AckPolicy, ConsumerAction, DeliverPolicy};
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
    /// Keeps the consumers' writer channel open.
    _rx: WriterTx,
}

/// What a stream's writer holds, as `start_stream` builds it: the stream opened on `store` at
/// `now_ns`, its (empty) consumer set, the apply context, and the receiving end of the
/// consumers' writer channel (keep it, to keep the channel open).
pub(super) fn writer_parts(
    server: &ServerHandle,
    cfg: StreamConfig,
    store: Box<dyn crate::store::MsgStore>,
    now_ns: i64,
) -> (Stream, Consumers, ApplyCtx, WriterTx) {
    let stream = Stream::open(policy(&cfg), store, now_ns).unwrap();
    let tx = WriterTx::new(crate::pool::detached(), Arc::new(Backlog::new(1 << 20)));
    let rx = tx.clone();
    let consumers = Consumers::new(&cfg.name, tx, server.fork(), None, cfg.retention);
    let ctx = ApplyCtx {
        config: cfg,
        meta: None,
    };
    (stream, consumers, ctx, rx)
}

impl Machine {
    fn new(server: &ServerHandle, cfg: StreamConfig) -> Self {
        let (stream, consumers, ctx, rx) =
            writer_parts(server, cfg, Box::new(MemoryStore::new()), T0);
        Machine {
            stream,
            consumers,
            ctx,
            _rx: rx,
        }
    }

    fn publish(&mut self, subject: &str, payload: &[u8], now: i64) {
        let r = self.stream.publish(subject, None, payload, now).unwrap();
        if let crate::stream::Stored::New(seq) = r {
            self.consumers.on_stored(seq, subject, &mut self.stream);
        }
    }

    /// What the writer does with a `Cmd::Op`: apply, then reconcile the consumers.
    fn apply(&mut self, op: StreamOp) -> OpOutcome {
        let out = apply_op(&mut self.stream, &mut self.consumers, &mut self.ctx, op);
        self.consumers.reconcile(&self.stream);
        out
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

async fn server() -> (Server, ServerHandle) {
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
        config,
        action: ConsumerAction::CreateOrUpdate,
        generated_name: generated.into(),
        created: Timestamp::from_unix_nanos(now),
        now_ns: now,
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
            config: stream_config(4),
            now_ns: T0 + 40,
        },
        create(updated, "unused02", T0 + 50),
        StreamOp::Purge(Purge {
            filter: Some("s.a".into()),
            up_to_seq: None,
            keep: Some(1),
        }),
        StreamOp::DeleteConsumer {
            name: "Gen00001".into(),
        },
        StreamOp::DeleteConsumer {
            name: "missing".into(),
        },
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
