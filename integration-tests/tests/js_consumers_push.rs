//! JetStream consumers, black-box, push side and retention: push consumers (plain and with a
//! deliver group), ack policy none, idle heartbeats (push consumers and pull requests), and how
//! workqueue and interest retention remove acked messages. The pull side is in
//! `js_consumers.rs`.
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's (v2.9.10) behaviour.
//! Each broker gets a fresh `-sd` directory. Every wait is bounded: each await goes through
//! [`within`] (or a deadline of its own), and each body through [`TEST_LIMIT`].

use async_nats::jetstream::consumer::{self, pull, push, AckPolicy, PullConsumer};
use async_nats::jetstream::stream::{self, RetentionPolicy, Stream};
use async_nats::jetstream::{self};
use async_nats::{StatusCode, Subscriber};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use integration_tests::client::{self, JsNode};
use integration_tests::js::error_json;
use integration_tests::{both_async, Kind};
use serde_json::json;
use std::collections::BTreeSet;
use std::future::{Future, IntoFuture};
use std::ops::Deref;
use std::time::{Duration, Instant};

/// The longest any single wait may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(30);
/// How long to listen for something that must not arrive when no timing is involved.
const QUIET: Duration = Duration::from_millis(300);

/// Awaits `f` for at most [`STEP`]; panics naming `what` if it takes longer.
async fn within<T>(what: &str, f: impl IntoFuture<Output = T>) -> T {
    client::within_for(STEP, what, f).await
}

/// Runs a test body under [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = ()>) {
    client::bounded(TEST_LIMIT, body).await
}

/// A duration in milliseconds.
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A [`JsNode`]: a JetStream-enabled broker with a connected client.
struct Js(JsNode);

impl Deref for Js {
    type Target = JsNode;
    fn deref(&self) -> &JsNode {
        &self.0
    }
}

/// Starts a broker of `kind` with `-js -sd <fresh dir>` and connects.
async fn setup(kind: Kind) -> Js {
    Js(JsNode::start(kind, "consumers-push", STEP, false).await)
}

impl Js {
    /// Creates a stream `name` on `subjects` with `retention`.
    async fn stream(&self, name: &str, subjects: &[&str], retention: RetentionPolicy) -> Stream {
        let config = stream::Config {
            name: name.into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            retention,
            ..Default::default()
        };
        within("create_stream", self.js.create_stream(config))
            .await
            .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
    }

    /// Publishes `payload` to `subject` and waits for the ack; returns the stream sequence.
    async fn publish(&self, subject: &str, payload: &str) -> u64 {
        within(&format!("publish {subject}"), async {
            self.js
                .publish(subject.to_string(), Bytes::from(payload.to_string()))
                .await
                .unwrap_or_else(|e| panic!("publish {subject}: {e}"))
                .await
                .unwrap_or_else(|e| panic!("ack for {subject}: {e}"))
                .sequence
        })
        .await
    }

    /// Publishes `n` messages to `subject`.
    async fn publish_n(&self, subject: &str, n: usize) {
        for i in 0..n {
            self.publish(subject, &i.to_string()).await;
        }
    }

    /// Creates a push consumer on `stream` with `config`.
    async fn push(&self, stream: &Stream, config: push::Config) -> consumer::PushConsumer {
        within("create push consumer", stream.create_consumer(config))
            .await
            .unwrap_or_else(|e| panic!("create push consumer: {e}"))
    }

    /// Creates a durable pull consumer `name` on `stream`.
    async fn durable(&self, stream: &Stream, name: &str) -> PullConsumer {
        let config = pull::Config {
            durable_name: Some(name.into()),
            ..Default::default()
        };
        within("create pull consumer", stream.create_consumer(config))
            .await
            .unwrap_or_else(|e| panic!("create pull consumer {name}: {e}"))
    }

    /// Polls the consumer's info until `done` holds of it; panics with the last info after two
    /// seconds.
    async fn info_until(
        &self,
        stream: &Stream,
        name: &str,
        done: impl Fn(&consumer::Info) -> bool,
    ) -> consumer::Info {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let info = within("consumer_info", stream.consumer_info(name))
                .await
                .unwrap_or_else(|e| panic!("consumer info {name}: {e}"));
            if done(&info) {
                return info;
            }
            assert!(
                Instant::now() < deadline,
                "consumer info never matched: {info:#?}"
            );
            tokio::time::sleep(ms(25)).await;
        }
    }

    /// The stream's message count once it has settled at `want` (removal after an ack may lag
    /// the ack by a moment); panics showing the count if it is not `want` within two seconds.
    /// Also checks that it stays there for a moment.
    async fn expect_messages(&self, name: &str, want: u64) -> stream::State {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let st = self.state(name).await;
            if st.messages == want {
                tokio::time::sleep(QUIET).await;
                let again = self.state(name).await;
                assert_eq!(again.messages, want, "{again:?}");
                return again;
            }
            assert!(
                Instant::now() < deadline,
                "stream {name} holds {} messages, expected {want}: {st:?}",
                st.messages
            );
            tokio::time::sleep(ms(25)).await;
        }
    }

    /// The stream's state.
    async fn state(&self, name: &str) -> stream::State {
        let mut s = within("get_stream", self.js.get_stream(name))
            .await
            .unwrap_or_else(|e| panic!("get stream {name}: {e}"));
        within("stream info", s.info())
            .await
            .unwrap_or_else(|e| panic!("stream info {name}: {e}"))
            .state
            .clone()
    }

    /// Subscribes to `subject` with a plain subscription.
    async fn subscribe(&self, subject: &str) -> Subscriber {
        let sub = within("subscribe", self.client.subscribe(subject.to_string()))
            .await
            .unwrap_or_else(|e| panic!("subscribe {subject}: {e}"));
        within("flush", self.client.flush()).await.expect("flush");
        sub
    }

    /// Wraps a raw delivery so it can be acked and its metadata read.
    fn js_message(&self, message: async_nats::Message) -> jetstream::Message {
        jetstream::Message {
            message,
            context: self.js.clone(),
        }
    }
}

/// The next message on `sub` within `wait`, or `None`.
async fn next_within(sub: &mut Subscriber, wait: Duration) -> Option<async_nats::Message> {
    match tokio::time::timeout(wait, sub.next()).await {
        Ok(Some(m)) => Some(m),
        Ok(None) => panic!("subscription closed"),
        Err(_) => None,
    }
}

/// Fetches up to `n` messages with a no-wait request: what is there now.
async fn fetch(consumer: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    within(&format!("fetch {n}"), async {
        consumer
            .fetch()
            .max_messages(n)
            .messages()
            .await
            .expect("fetch")
            .try_collect::<Vec<_>>()
            .await
            .expect("fetch messages")
    })
    .await
}

/// The stream sequence of `m`, from its reply subject.
fn seq(m: &jetstream::Message) -> u64 {
    m.info()
        .unwrap_or_else(|e| panic!("no metadata in reply {:?}: {e}", m.reply))
        .stream_sequence
}

/// Acks `m` and waits for the server to confirm it.
async fn double_ack(m: &jetstream::Message) {
    within("double ack", m.double_ack())
        .await
        .unwrap_or_else(|e| panic!("double ack: {e}"));
}

/// The value of header `name` on `m`, if any.
fn header<'a>(m: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    m.headers.as_ref()?.get(name).map(|v| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// Push consumers
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn push_consumer_delivers_everything(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("PUSH", &["push.in"], RetentionPolicy::Limits).await;
            s.publish_n("push.in", 10).await;
            let c = s
                .push(
                    &stream,
                    push::Config {
                        durable_name: Some("P".into()),
                        deliver_subject: "push.out".into(),
                        ack_policy: AckPolicy::Explicit,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(
                c.cached_info().config.deliver_subject.as_deref(),
                Some("push.out")
            );
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            let mut got = Vec::new();
            while got.len() < 10 {
                let m = within("push delivery", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("push message");
                assert_eq!(m.subject.as_str(), "push.in");
                let i = m.info().expect("metadata");
                assert_eq!((i.stream, i.consumer), ("PUSH", "P"));
                assert_eq!(i.consumer_sequence, got.len() as u64 + 1);
                assert_eq!(m.payload.as_ref(), got.len().to_string().as_bytes());
                got.push(i.stream_sequence);
                within("ack", m.ack()).await.expect("ack");
            }
            assert_eq!(got, (1..=10).collect::<Vec<_>>());

            // New messages are pushed as they arrive.
            s.publish_n("push.in", 5).await;
            for want in 11..=15 {
                let m = within("push delivery", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("push message");
                assert_eq!(seq(&m), want);
                within("ack", m.ack()).await.expect("ack");
            }
            let info = s
                .info_until(&stream, "P", |i| i.num_ack_pending == 0)
                .await;
            assert!(info.push_bound, "{info:?}");
            assert_eq!(info.delivered.stream_sequence, 15);
            assert_eq!(info.ack_floor.stream_sequence, 15);
            assert_eq!(info.num_pending, 0);
            // Nothing more.
            assert!(tokio::time::timeout(QUIET, msgs.next()).await.is_err());
        })
        .await
    }
);

both_async!(
    async fn push_deliver_group_splits_messages(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("GRP", &["grp.in"], RetentionPolicy::Limits).await;
            // Two members of the queue group, on separate connections.
            let other = within("connect", async_nats::connect(s.broker.url()))
                .await
                .expect("connect");
            let mut subs = Vec::new();
            for client in [&s.client, &other] {
                let sub = within(
                    "queue subscribe",
                    client.queue_subscribe("grp.out", "workers".into()),
                )
                .await
                .expect("queue subscribe");
                within("flush", client.flush()).await.expect("flush");
                subs.push(sub);
            }
            let c = s
                .push(
                    &stream,
                    push::Config {
                        durable_name: Some("G".into()),
                        deliver_subject: "grp.out".into(),
                        deliver_group: Some("workers".into()),
                        ack_policy: AckPolicy::Explicit,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(
                c.cached_info().config.deliver_group.as_deref(),
                Some("workers")
            );
            const N: u64 = 40;
            s.publish_n("grp.in", N as usize).await;

            let mut per_member = [Vec::new(), Vec::new()];
            let deadline = Instant::now() + Duration::from_secs(5);
            while per_member.iter().map(Vec::len).sum::<usize>() < N as usize {
                assert!(Instant::now() < deadline, "only got {per_member:?}");
                let (a, b) = subs.split_at_mut(1);
                let (which, m) = tokio::select! {
                    m = a[0].next() => (0, m),
                    m = b[0].next() => (1, m),
                    _ = tokio::time::sleep(ms(200)) => continue,
                };
                let m = s.js_message(m.expect("subscription open"));
                per_member[which].push(seq(&m));
                within("ack", m.ack()).await.expect("ack");
            }
            assert!(
                per_member.iter().all(|v| !v.is_empty()),
                "one member got everything: {per_member:?}"
            );
            let all: Vec<u64> = per_member.iter().flatten().copied().collect();
            let unique: BTreeSet<u64> = all.iter().copied().collect();
            assert_eq!(all.len(), unique.len(), "duplicates: {per_member:?}");
            assert_eq!(unique, (1..=N).collect::<BTreeSet<_>>());
            // Each member sees its share in order.
            for v in &per_member {
                assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
            }
            for sub in &mut subs {
                assert!(next_within(sub, QUIET).await.is_none());
            }
            let info = s
                .info_until(&stream, "G", |i| i.num_ack_pending == 0)
                .await;
            assert_eq!(info.ack_floor.stream_sequence, N);
        })
        .await
    }
);

both_async!(
    async fn ack_policy_none_needs_no_acks(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("NONE", &["none"], RetentionPolicy::Limits).await;
            s.publish_n("none", 3).await;
            let c = s
                .push(
                    &stream,
                    push::Config {
                        durable_name: Some("N".into()),
                        deliver_subject: "none.out".into(),
                        ack_policy: AckPolicy::None,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(c.cached_info().config.ack_policy, AckPolicy::None);
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            for want in 1..=3 {
                let m = within("push delivery", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("push message");
                // Still has metadata in its reply subject.
                let i = m.info().expect("metadata");
                assert_eq!((i.stream_sequence, i.consumer_sequence), (want, want));
                assert_eq!(i.delivered, 1);
            }
            let info = s
                .info_until(&stream, "N", |i| i.delivered.stream_sequence == 3)
                .await;
            assert_eq!(info.num_ack_pending, 0);
            assert_eq!(info.ack_floor.stream_sequence, info.delivered.stream_sequence);
            assert_eq!(
                info.ack_floor.consumer_sequence,
                info.delivered.consumer_sequence
            );
            assert_eq!(info.ack_floor.stream_sequence, 3);
            assert_eq!(info.num_redelivered, 0);
            assert!(tokio::time::timeout(QUIET, msgs.next()).await.is_err());
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Idle heartbeats
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn push_idle_heartbeats(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("HB", &["hb.in"], RetentionPolicy::Limits).await;
            s.publish("hb.in", "x").await;
            let mut sub = s.subscribe("hb.out").await;
            s.push(
                &stream,
                push::Config {
                    durable_name: Some("H".into()),
                    deliver_subject: "hb.out".into(),
                    ack_policy: AckPolicy::Explicit,
                    idle_heartbeat: Duration::from_secs(1),
                    ..Default::default()
                },
            )
            .await;

            let m = next_within(&mut sub, Duration::from_secs(2))
                .await
                .expect("the stored message");
            assert_eq!(m.status, None);
            let m = s.js_message(m);
            assert_eq!(seq(&m), 1);
            double_ack(&m).await;

            // Then heartbeats, about once a second, naming the last delivered sequences.
            let mut beats = Vec::new();
            while beats.len() < 2 {
                let hb = next_within(&mut sub, Duration::from_secs(3))
                    .await
                    .expect("an idle heartbeat");
                beats.push(Instant::now());
                assert_eq!(hb.status, Some(StatusCode::IDLE_HEARTBEAT), "{hb:?}");
                assert_eq!(hb.description.as_deref(), Some("Idle Heartbeat"), "{hb:?}");
                assert!(hb.payload.is_empty(), "{hb:?}");
                assert_eq!(header(&hb, "Nats-Last-Consumer"), Some("1"), "{hb:?}");
                assert_eq!(header(&hb, "Nats-Last-Stream"), Some("1"), "{hb:?}");
            }
            let gap = beats[1] - beats[0];
            assert!(gap >= ms(900), "heartbeats {gap:?} apart");
            assert!(gap < Duration::from_secs(3), "heartbeats {gap:?} apart");
        })
        .await
    }
);

both_async!(
    async fn pull_request_idle_heartbeats(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("PHB", &["phb"], RetentionPolicy::Limits).await;
            s.durable(&stream, "C").await;
            let inbox = s.client.new_inbox();
            let mut sub = s.subscribe(&inbox).await;
            let body = json!({"batch": 1, "expires": 3_000_000_000u64,
                              "idle_heartbeat": 500_000_000u64});
            let sent = Instant::now();
            within(
                "pull request",
                s.client.publish_with_reply(
                    "$JS.API.CONSUMER.MSG.NEXT.PHB.C",
                    inbox,
                    Bytes::from(body.to_string()),
                ),
            )
            .await
            .expect("publish pull request");

            // Heartbeats while the request waits, then 408 when it expires.
            let mut beats = Vec::new();
            let end = loop {
                let m = next_within(&mut sub, Duration::from_secs(5))
                    .await
                    .expect("a heartbeat or the expiry");
                match m.status {
                    Some(StatusCode::IDLE_HEARTBEAT) => {
                        assert_eq!(m.description.as_deref(), Some("Idle Heartbeat"), "{m:?}");
                        assert!(m.payload.is_empty(), "{m:?}");
                        // Nothing delivered yet.
                        assert_eq!(header(&m, "Nats-Last-Consumer"), Some("0"), "{m:?}");
                        assert_eq!(header(&m, "Nats-Last-Stream"), Some("0"), "{m:?}");
                        beats.push(sent.elapsed());
                    }
                    Some(StatusCode::TIMEOUT) => break sent.elapsed(),
                    _ => panic!("unexpected reply {m:?}"),
                }
            };
            // Every 500 ms for 3 s: about five.
            assert!((3..=6).contains(&beats.len()), "heartbeats at {beats:?}");
            assert!(beats[0] >= ms(400), "first heartbeat at {:?}", beats[0]);
            assert!(end >= ms(2900), "expired at {end:?}");
            assert!(next_within(&mut sub, QUIET).await.is_none());
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn workqueue_removes_acked_messages(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("WQ", &["wq"], RetentionPolicy::WorkQueue).await;
            s.publish_n("wq", 5).await;
            let c = s.durable(&stream, "W").await;
            let msgs = fetch(&c, 5).await;
            assert_eq!(msgs.iter().map(seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
            // Delivered but not acked: still stored.
            assert_eq!(s.state("WQ").await.messages, 5);
            for m in &msgs[..3] {
                double_ack(m).await;
            }
            let st = s.expect_messages("WQ", 2).await;
            assert_eq!((st.first_sequence, st.last_sequence), (4, 5));
            for m in &msgs[3..] {
                double_ack(m).await;
            }
            let st = s.expect_messages("WQ", 0).await;
            assert_eq!(st.last_sequence, 5);

            // Only one consumer without a filter on a workqueue stream.
            let r = within(
                "second consumer",
                s.client.request(
                    "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W2",
                    Bytes::from(
                        json!({"stream_name": "WQ",
                               "config": {"durable_name": "W2", "ack_policy": "explicit"}})
                        .to_string(),
                    ),
                ),
            )
            .await
            .expect("request");
            let r: serde_json::Value = serde_json::from_slice(&r.payload).expect("JSON reply");
            assert_eq!(
                r["error"],
                error_json(
                    400,
                    10099,
                    "multiple non-filtered consumers not allowed on workqueue stream"
                ),
                "{r}"
            );
        })
        .await
    }
);

both_async!(
    async fn interest_retention_waits_for_every_consumer(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("INT", &["int"], RetentionPolicy::Interest).await;
            let c1 = s.durable(&stream, "C1").await;
            let c2 = s.durable(&stream, "C2").await;
            s.publish_n("int", 3).await;

            let first = fetch(&c1, 3).await;
            assert_eq!(first.len(), 3);
            for m in &first {
                double_ack(m).await;
            }
            // C2 has not acked anything: all three stay.
            s.expect_messages("INT", 3).await;

            let second = fetch(&c2, 3).await;
            assert_eq!(second.iter().map(seq).collect::<Vec<_>>(), vec![1, 2, 3]);
            double_ack(&second[0]).await;
            let st = s.expect_messages("INT", 2).await;
            assert_eq!(st.first_sequence, 2);
            for m in &second[1..] {
                double_ack(m).await;
            }
            s.expect_messages("INT", 0).await;
        })
        .await
    }
);

both_async!(
    /// 3 MiB through a flow-controlled push consumer: more than the flow control window, so
    /// delivery only completes if the client's answers to `100 FlowControl Request` resume it.
    async fn flow_control_lets_a_large_backlog_through(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("FC", &["fc.in"], RetentionPolicy::Limits).await;
            let body = Bytes::from(vec![b'x'; 100 * 1024]);
            for _ in 0..30 {
                within("publish", async {
                    s.js.publish("fc.in", body.clone())
                        .await
                        .expect("publish")
                        .await
                        .expect("ack")
                })
                .await;
            }
            let c = s
                .push(
                    &stream,
                    push::Config {
                        durable_name: Some("F".into()),
                        deliver_subject: "fc.out".into(),
                        ack_policy: AckPolicy::None,
                        flow_control: true,
                        idle_heartbeat: ms(1000),
                        ..Default::default()
                    },
                )
                .await;
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            let mut seqs = Vec::new();
            while seqs.len() < 30 {
                let m = within("flow-controlled delivery", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("push message");
                assert_eq!(m.payload.len(), 100 * 1024);
                seqs.push(seq(&m));
            }
            assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
        })
        .await
    }
);

both_async!(
    /// `replay_policy: original` paces messages by the gaps between their stored times.
    async fn replay_original_keeps_the_gaps(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("REPLAY", &["rp.in"], RetentionPolicy::Limits).await;
            s.publish("rp.in", "a").await;
            tokio::time::sleep(ms(600)).await;
            s.publish("rp.in", "b").await;
            tokio::time::sleep(ms(600)).await;
            s.publish("rp.in", "c").await;
            let c = s
                .push(
                    &stream,
                    push::Config {
                        durable_name: Some("R".into()),
                        deliver_subject: "rp.out".into(),
                        ack_policy: AckPolicy::None,
                        replay_policy: consumer::ReplayPolicy::Original,
                        ..Default::default()
                    },
                )
                .await;
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            let mut at = Vec::new();
            for _ in 0..3 {
                within("replayed delivery", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("push message");
                at.push(Instant::now());
            }
            for gap in [at[1] - at[0], at[2] - at[1]] {
                assert!(gap >= ms(500), "gap {gap:?} shorter than the original 600 ms");
                assert!(gap < ms(2000), "gap {gap:?}");
            }
        })
        .await
    }
);

both_async!(
    /// A push consumer with a deliver group is bound only by queue subscribers of that group,
    /// and one without a group only by plain subscribers: a mismatch delivers nothing.
    async fn deliver_group_binding_needs_the_matching_kind_of_subscriber(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("BIND", &["bind.in"], RetentionPolicy::Limits).await;
            s.publish_n("bind.in", 3).await;
            let group = |name: &str, deliver: &str, group: Option<&str>| push::Config {
                durable_name: Some(name.into()),
                deliver_subject: deliver.into(),
                deliver_group: group.map(Into::into),
                ack_policy: AckPolicy::None,
                ..Default::default()
            };
            // A group consumer and a plain subscriber: nothing.
            s.push(&stream, group("G", "bind.g", Some("workers"))).await;
            let mut plain = s.subscribe("bind.g").await;
            assert!(next_within(&mut plain, ms(500)).await.is_none());
            let info = s.info_until(&stream, "G", |_| true).await;
            assert!(!info.push_bound, "{info:?}");
            // Its queue group: everything.
            let mut q = within("queue subscribe", s.client.queue_subscribe("bind.g", "workers".into()))
                .await
                .expect("queue subscribe");
            for _ in 0..3 {
                assert!(next_within(&mut q, ms(2000)).await.is_some());
            }
            // A plain consumer and a queue subscriber: nothing.
            s.push(&stream, group("P", "bind.p", None)).await;
            let mut q2 = within("queue subscribe", s.client.queue_subscribe("bind.p", "other".into()))
                .await
                .expect("queue subscribe");
            assert!(next_within(&mut q2, ms(500)).await.is_none());
            let mut plain = s.subscribe("bind.p").await;
            for _ in 0..3 {
                assert!(next_within(&mut plain, ms(2000)).await.is_some());
            }
        })
        .await
    }
);
