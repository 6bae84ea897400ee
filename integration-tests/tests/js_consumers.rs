//! JetStream consumers, black-box, pull side: fetching in batches, ack kinds (ack, nak, nak with
//! delay, term, in-progress, double ack), redelivery after ack_wait, max_deliver and backoff,
//! the ack and deliver policies, subject filters, the consumer info/list/names/delete API,
//! ephemeral consumers' inactive threshold, and the status replies of raw pull requests
//! (`$JS.API.CONSUMER.MSG.NEXT`). Push consumers, heartbeats and retention policies are in
//! `js_consumers_push.rs`.
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's (v2.9.10) behaviour.
//! Each broker gets a fresh `-sd` directory. Tests of v2.10+ features that nats-server 2.9 lacks
//! (several filter subjects) are in [`sluice_only`].
//!
//! Every wait is bounded: each await goes through [`within`] (or a deadline of its own), and
//! each body through [`TEST_LIMIT`]. Timing assertions have generous tolerances: a lower bound
//! 100 ms under the configured delay, and upper bounds of seconds, not milliseconds.

use async_nats::jetstream::consumer::{self, pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::{self, Stream};
use async_nats::jetstream::{self, AckKind};
use async_nats::{StatusCode, Subscriber};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use integration_tests::client::{self, JsNode};
use integration_tests::js::error_json;
use integration_tests::{both_async, Kind};
use serde_json::{json, Value};
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

/// A duration in milliseconds, for short configs.
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A duration in nanoseconds as the JSON API spells it.
fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
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
    Js(JsNode::start(kind, "consumers", STEP, false).await)
}

/// Parses a reply payload as JSON, or panics showing it.
fn parse(what: &str, payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap_or_else(|e| {
        panic!(
            "{what}: reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(payload)
        )
    })
}

impl Js {
    /// Sends `body` as a request to `subject` and returns the JSON reply.
    async fn api(&self, subject: &str, body: &Value) -> Value {
        let reply = within(
            subject,
            self.client
                .request(subject.to_string(), Bytes::from(body.to_string())),
        )
        .await
        .unwrap_or_else(|e| panic!("request {subject} {body}: {e}"));
        parse(&format!("{subject} {body}"), &reply.payload)
    }

    /// Creates a stream with `config` (through async-nats).
    async fn stream_with(&self, config: stream::Config) -> Stream {
        let name = config.name.clone();
        within("create_stream", self.js.create_stream(config))
            .await
            .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
    }

    /// Creates a limits-retention stream `name` on `subjects`.
    async fn stream(&self, name: &str, subjects: &[&str]) -> Stream {
        self.stream_with(stream::Config {
            name: name.into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
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

    /// Publishes `n` messages `subject` with payloads "0", "1", ...
    async fn publish_n(&self, subject: &str, n: usize) {
        for i in 0..n {
            self.publish(subject, &i.to_string()).await;
        }
    }

    /// Creates a pull consumer on `stream` with `config`.
    async fn pull(&self, stream: &Stream, config: pull::Config) -> PullConsumer {
        within("create pull consumer", stream.create_consumer(config))
            .await
            .unwrap_or_else(|e| panic!("create pull consumer: {e}"))
    }

    /// Creates a durable pull consumer `name` on `stream` with `config` (its name filled in).
    async fn durable(&self, stream: &Stream, name: &str, config: pull::Config) -> PullConsumer {
        self.pull(
            stream,
            pull::Config {
                durable_name: Some(name.into()),
                ..config
            },
        )
        .await
    }

    /// The consumer's info, fresh from the server.
    async fn info(&self, stream: &Stream, name: &str) -> consumer::Info {
        within("consumer_info", stream.consumer_info(name))
            .await
            .unwrap_or_else(|e| panic!("consumer info {name}: {e}"))
    }

    /// Polls the consumer's info until `done` holds of it (acks are fire-and-forget, so the
    /// server may count them a moment after they are sent); panics with the last info after
    /// two seconds.
    async fn info_until(
        &self,
        stream: &Stream,
        name: &str,
        done: impl Fn(&consumer::Info) -> bool,
    ) -> consumer::Info {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let info = self.info(stream, name).await;
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

    /// The raw `CONSUMER.INFO` reply.
    async fn raw_info(&self, stream: &str, name: &str) -> Value {
        self.api(
            &format!("$JS.API.CONSUMER.INFO.{stream}.{name}"),
            &json!({}),
        )
        .await
    }

    /// Sends a raw pull request `body` for `stream`/`consumer` and returns the inbox its replies
    /// arrive on.
    async fn pull_request(&self, stream: &str, consumer: &str, body: Value) -> Pull {
        let inbox = self.client.new_inbox();
        let sub = within("subscribe inbox", self.client.subscribe(inbox.clone()))
            .await
            .expect("subscribe inbox");
        let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}");
        within(
            "pull request",
            self.client
                .publish_with_reply(subject, inbox, Bytes::from(body.to_string())),
        )
        .await
        .expect("publish pull request");
        within("flush", self.client.flush()).await.expect("flush");
        Pull {
            sub,
            js: self.js.clone(),
            sent: Instant::now(),
        }
    }
}

/// Fetches up to `n` messages with a no-wait request (async-nats `fetch`): what is there now.
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

/// The stream sequences of `msgs`.
fn seqs(msgs: &[jetstream::Message]) -> Vec<u64> {
    msgs.iter().map(|m| info(m).stream_sequence).collect()
}

/// The metadata of `m`, from its reply subject.
fn info(m: &jetstream::Message) -> jetstream::message::Info<'_> {
    m.info()
        .unwrap_or_else(|e| panic!("no metadata in reply {:?}: {e}", m.reply))
}

/// Acks `m` and waits for the server to confirm it.
async fn double_ack(m: &jetstream::Message) {
    within("double ack", m.double_ack())
        .await
        .unwrap_or_else(|e| panic!("double ack: {e}"));
}

/// Sends `kind` for `m` (fire-and-forget).
async fn ack_with(m: &jetstream::Message, kind: AckKind) {
    within(&format!("ack {kind:?}"), m.ack_with(kind))
        .await
        .unwrap_or_else(|e| panic!("ack {kind:?}: {e}"));
}

/// A raw pull request: the subscription on its reply inbox, and when it was sent.
struct Pull {
    sub: Subscriber,
    js: jetstream::Context,
    sent: Instant,
}

impl Pull {
    /// The next reply of any kind (message or status) within `wait`, or `None`.
    async fn next_raw(&mut self, wait: Duration) -> Option<async_nats::Message> {
        match tokio::time::timeout(wait, self.sub.next()).await {
            Ok(Some(m)) => Some(m),
            Ok(None) => panic!("inbox subscription closed"),
            Err(_) => None,
        }
    }

    /// The next status reply within `wait` (skipping nothing: a stream message here panics).
    async fn status(&mut self, wait: Duration) -> (StatusCode, String) {
        let m = self
            .next_raw(wait)
            .await
            .unwrap_or_else(|| panic!("no status reply within {wait:?}"));
        let status = m
            .status
            .unwrap_or_else(|| panic!("expected a status reply, got a message on {}", m.subject));
        (status, m.description.clone().unwrap_or_default())
    }

    /// The next stream message within `wait`, skipping idle heartbeats; `None` if nothing comes
    /// or the request ends with 408 Request Timeout. Any other status panics.
    async fn next_msg(&mut self, wait: Duration) -> Option<jetstream::Message> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.next_raw(left).await?;
            match m.status {
                None | Some(StatusCode::OK) => {
                    return Some(jetstream::Message {
                        message: m,
                        context: self.js.clone(),
                    })
                }
                Some(StatusCode::IDLE_HEARTBEAT) => continue,
                Some(StatusCode::TIMEOUT) => return None,
                Some(s) => panic!("unexpected status {s} {:?}", m.description),
            }
        }
    }

    /// The next stream message, which must arrive within `wait`.
    async fn expect_msg(&mut self, wait: Duration) -> jetstream::Message {
        self.next_msg(wait)
            .await
            .unwrap_or_else(|| panic!("no message within {wait:?}"))
    }

    /// Panics if a stream message arrives within `wait`.
    async fn expect_none(&mut self, wait: Duration) {
        if let Some(m) = self.next_msg(wait).await {
            panic!(
                "unexpected delivery within {wait:?}: {:?} ({:?})",
                m.reply,
                self.sent.elapsed()
            );
        }
    }
}

/// A pull request body: `batch` messages, waiting up to `expires`.
fn waiting(batch: usize, expires: Duration) -> Value {
    json!({"batch": batch, "expires": nanos(expires)})
}

// ---------------------------------------------------------------------------------------------
// Fetching and metadata
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn fetch_in_batches_with_explicit_ack(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("BATCH", &["batch.>"]).await;
            s.publish_n("batch.x", 25).await;
            let c = s.durable(&stream, "C", pull::Config::default()).await;
            assert_eq!(c.cached_info().num_pending, 25);

            let mut all = Vec::new();
            for want in [10, 10, 5] {
                let msgs = fetch(&c, 10).await;
                assert_eq!(msgs.len(), want, "batch of {want}");
                for m in &msgs {
                    assert_eq!(m.subject.as_str(), "batch.x");
                    within("ack", m.ack()).await.expect("ack");
                }
                all.extend(seqs(&msgs));
            }
            assert_eq!(all, (1..=25).collect::<Vec<_>>());
            // Nothing left.
            assert!(fetch(&c, 10).await.is_empty());

            let info = s
                .info_until(&stream, "C", |i| i.num_ack_pending == 0)
                .await;
            assert_eq!(info.ack_floor.stream_sequence, 25);
            assert_eq!(info.ack_floor.consumer_sequence, 25);
            assert_eq!(info.delivered.stream_sequence, 25);
            assert_eq!(info.delivered.consumer_sequence, 25);
            assert_eq!(info.num_pending, 0);
            assert_eq!(info.num_redelivered, 0);
        })
        .await
    }
);

both_async!(
    async fn fetch_no_wait_and_batch_expiry_on_empty_stream(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("EMPTY", &["empty"]).await;
            let c = s.durable(&stream, "C", pull::Config::default()).await;

            // No-wait: the server answers at once that there is nothing.
            let start = Instant::now();
            let msgs = fetch(&c, 5).await;
            assert!(msgs.is_empty());
            assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());

            // A waiting batch ends when its expiry passes.
            let start = Instant::now();
            let msgs: Vec<_> = within("batch", async {
                c.batch()
                    .max_messages(5)
                    .expires(Duration::from_secs(1))
                    .messages()
                    .await
                    .expect("batch")
                    .try_collect::<Vec<_>>()
                    .await
                    .expect("batch messages")
            })
            .await;
            let took = start.elapsed();
            assert!(msgs.is_empty());
            assert!(took >= ms(900), "batch ended early: {took:?}");
            assert!(took < Duration::from_secs(3), "batch ended late: {took:?}");

            // A waiting batch gets a message published while it waits.
            let (msgs, _) = tokio::join!(
                within("batch", async {
                    c.batch()
                        .max_messages(1)
                        .expires(Duration::from_secs(5))
                        .messages()
                        .await
                        .expect("batch")
                        .try_collect::<Vec<_>>()
                        .await
                        .expect("batch messages")
                }),
                async {
                    tokio::time::sleep(ms(300)).await;
                    s.publish("empty", "late").await
                }
            );
            assert_eq!(msgs.len(), 1);
            assert_eq!(msgs[0].payload.as_ref(), b"late");
        })
        .await
    }
);

both_async!(
    async fn message_metadata_from_reply_subject(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("META", &["meta.*"]).await;
            for i in 1..=3 {
                s.publish(&format!("meta.{i}"), &format!("p{i}")).await;
            }
            let c = s.durable(&stream, "READER", pull::Config::default()).await;

            let first = fetch(&c, 1).await;
            assert_eq!(first.len(), 1);
            let m = &first[0];
            assert_eq!(m.subject.as_str(), "meta.1");
            assert_eq!(m.payload.as_ref(), b"p1");
            let reply = m.reply.as_ref().expect("reply subject").to_string();
            assert!(reply.starts_with("$JS.ACK.META.READER."), "{reply}");
            let i = info(m);
            assert_eq!(i.stream, "META");
            assert_eq!(i.consumer, "READER");
            assert_eq!(i.stream_sequence, 1);
            assert_eq!(i.consumer_sequence, 1);
            assert_eq!(i.delivered, 1);
            assert_eq!(i.pending, 2);

            let rest = fetch(&c, 5).await;
            assert_eq!(rest.len(), 2);
            let pending: Vec<_> = rest.iter().map(|m| info(m).pending).collect();
            assert_eq!(pending, vec![1, 0]);
            let cseq: Vec<_> = rest.iter().map(|m| info(m).consumer_sequence).collect();
            assert_eq!(cseq, vec![2, 3]);
            assert_eq!(seqs(&rest), vec![2, 3]);

            // A redelivery (nak) keeps the stream sequence, takes a new consumer sequence and
            // counts the delivery.
            ack_with(&rest[1], AckKind::Nak(None)).await;
            let again = within("redelivery", async {
                loop {
                    let got = fetch(&c, 1).await;
                    if let Some(m) = got.into_iter().next() {
                        return m;
                    }
                    tokio::time::sleep(ms(20)).await;
                }
            })
            .await;
            let i = info(&again);
            assert_eq!(
                (i.stream_sequence, i.consumer_sequence, i.delivered),
                (3, 4, 2)
            );
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Acks and redelivery
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn unacked_message_redelivered_after_ack_wait(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("RD", &["rd"]).await;
            s.publish("rd", "x").await;
            let cfg = pull::Config {
                ack_wait: Duration::from_secs(1),
                ..Default::default()
            };
            s.durable(&stream, "C", cfg).await;

            let mut pull = s.pull_request("RD", "C", waiting(5, Duration::from_secs(6))).await;
            let first = pull.expect_msg(Duration::from_secs(2)).await;
            let t0 = Instant::now();
            assert_eq!(info(&first).delivered, 1);
            // Not acked: comes back once ack_wait has passed.
            pull.expect_none(ms(900)).await;
            let second = pull.expect_msg(Duration::from_secs(3)).await;
            let gap = t0.elapsed();
            assert!(gap >= ms(900), "redelivered after {gap:?}");
            let i = info(&second);
            assert_eq!((i.stream_sequence, i.consumer_sequence), (1, 2));
            assert_eq!(i.delivered, 2);
            assert_eq!(second.payload.as_ref(), b"x");

            double_ack(&second).await;
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.num_redelivered, 0);
            assert_eq!(ci.ack_floor.stream_sequence, 1);
            assert_eq!(ci.delivered.consumer_sequence, 2);
            // Acked: no more deliveries.
            pull.expect_none(Duration::from_millis(1500)).await;
        })
        .await
    }
);

both_async!(
    async fn nak_redelivers_now_and_nak_with_delay_later(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("NAK", &["nak"]).await;
            s.publish("nak", "x").await;
            s.durable(&stream, "C", pull::Config::default()).await;

            let mut pull = s.pull_request("NAK", "C", waiting(10, Duration::from_secs(8))).await;
            let m = pull.expect_msg(Duration::from_secs(2)).await;
            assert_eq!(info(&m).delivered, 1);

            // Plain nak: redelivered right away (ack_wait is the 30 s default).
            let t = Instant::now();
            ack_with(&m, AckKind::Nak(None)).await;
            let m = pull.expect_msg(Duration::from_secs(1)).await;
            assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
            assert_eq!(info(&m).delivered, 2);
            assert_eq!(info(&m).stream_sequence, 1);

            // Nak with a delay: not before the delay, then redelivered.
            let t = Instant::now();
            ack_with(&m, AckKind::Nak(Some(Duration::from_secs(1)))).await;
            pull.expect_none(ms(900)).await;
            let m = pull.expect_msg(Duration::from_secs(3)).await;
            let gap = t.elapsed();
            assert!(gap >= ms(900), "redelivered after {gap:?}");
            assert_eq!(info(&m).delivered, 3);
            assert_eq!(info(&m).stream_sequence, 1);

            double_ack(&m).await;
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.ack_floor.stream_sequence, 1);
        })
        .await
    }
);

both_async!(
    async fn term_stops_redelivery(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("TERM", &["term"]).await;
            s.publish("term", "a").await;
            s.publish("term", "b").await;
            let cfg = pull::Config {
                ack_wait: Duration::from_secs(1),
                ..Default::default()
            };
            s.durable(&stream, "C", cfg).await;

            let mut pull = s.pull_request("TERM", "C", waiting(5, Duration::from_secs(5))).await;
            let a = pull.expect_msg(Duration::from_secs(2)).await;
            let b = pull.expect_msg(Duration::from_secs(2)).await;
            assert_eq!((info(&a).stream_sequence, info(&b).stream_sequence), (1, 2));
            ack_with(&a, AckKind::Term).await;
            double_ack(&b).await;
            // Well past ack_wait: the terminated message never comes back.
            pull.expect_none(Duration::from_millis(2500)).await;

            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.num_redelivered, 0);
            assert_eq!(ci.ack_floor.stream_sequence, 2);
            assert_eq!(ci.delivered.consumer_sequence, 2);
        })
        .await
    }
);

both_async!(
    async fn in_progress_extends_the_ack_deadline(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("WPI", &["wpi"]).await;
            s.publish("wpi", "x").await;
            let cfg = pull::Config {
                ack_wait: Duration::from_secs(2),
                ..Default::default()
            };
            s.durable(&stream, "C", cfg).await;

            let mut pull = s.pull_request("WPI", "C", waiting(5, Duration::from_secs(8))).await;
            let m = pull.expect_msg(Duration::from_secs(2)).await;
            let t0 = Instant::now();
            pull.expect_none(ms(1200)).await;
            ack_with(&m, AckKind::Progress).await;
            // The deadline is now ~3.2 s after delivery, not 2 s.
            pull.expect_none(Duration::from_millis(2500).saturating_sub(t0.elapsed()))
                .await;
            let again = pull.expect_msg(Duration::from_secs(4)).await;
            let gap = t0.elapsed();
            assert!(gap >= ms(2500), "redelivered after {gap:?}");
            assert_eq!(info(&again).delivered, 2);
            assert_eq!(info(&again).stream_sequence, 1);
        })
        .await
    }
);

both_async!(
    async fn max_deliver_stops_redelivery(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("MAXD", &["maxd"]).await;
            s.publish("maxd", "x").await;
            let cfg = pull::Config {
                ack_wait: Duration::from_secs(1),
                max_deliver: 2,
                ..Default::default()
            };
            let c = s.durable(&stream, "C", cfg).await;
            assert_eq!(c.cached_info().config.max_deliver, 2);

            let mut pull = s.pull_request("MAXD", "C", waiting(10, Duration::from_secs(6))).await;
            let first = pull.expect_msg(Duration::from_secs(2)).await;
            let second = pull.expect_msg(Duration::from_secs(3)).await;
            assert_eq!(info(&first).delivered, 1);
            assert_eq!(info(&second).delivered, 2);
            // No third delivery, well past two more ack_waits.
            pull.expect_none(Duration::from_millis(2500)).await;
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.delivered.consumer_sequence, 2);
            assert_eq!(ci.delivered.stream_sequence, 1);
            // Given up on: no longer pending, though never acked (the floor stays at 0).
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.num_redelivered, 1);
            // v2.9 leaves the floor below the given-up message; Sluice moves past it
            // (protocol-spec/differences.md #11).
            let floor = match kind {
                Kind::NatsServer => 0,
                Kind::Sluice => 1,
            };
            assert_eq!(ci.ack_floor.stream_sequence, floor);
        })
        .await
    }
);

both_async!(
    async fn backoff_spaces_redeliveries(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("BACK", &["back"]).await;
            s.publish("back", "x").await;
            let cfg = pull::Config {
                backoff: vec![ms(500), ms(1500)],
                max_deliver: 3,
                ..Default::default()
            };
            let c = s.durable(&stream, "C", cfg).await;
            assert_eq!(c.cached_info().config.backoff, vec![ms(500), ms(1500)]);

            let mut pull = s.pull_request("BACK", "C", waiting(10, Duration::from_secs(7))).await;
            let mut times = Vec::new();
            for n in 1..=3 {
                let m = pull.expect_msg(Duration::from_secs(4)).await;
                times.push(Instant::now());
                assert_eq!(info(&m).delivered, n);
                assert_eq!(info(&m).stream_sequence, 1);
            }
            let gap1 = times[1] - times[0];
            let gap2 = times[2] - times[1];
            assert!(gap1 >= ms(400), "second delivery after {gap1:?}");
            assert!(gap2 >= ms(1400), "third delivery after {gap2:?}");
            assert!(gap1 < Duration::from_secs(3), "{gap1:?}");
            assert!(gap2 < Duration::from_secs(4), "{gap2:?}");
            // max_deliver reached.
            pull.expect_none(Duration::from_secs(2)).await;
        })
        .await
    }
);

both_async!(
    async fn double_ack_is_confirmed(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("DA", &["da"]).await;
            s.publish_n("da", 3).await;
            let c = s.durable(&stream, "C", pull::Config::default()).await;
            let msgs = fetch(&c, 3).await;
            assert_eq!(msgs.len(), 3);
            double_ack(&msgs[1]).await;
            // The confirmation means the ack is already counted.
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 2);
            assert_eq!(ci.ack_floor.stream_sequence, 0);
            double_ack(&msgs[0]).await;
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 1);
            assert_eq!(ci.ack_floor.stream_sequence, 2);
            double_ack(&msgs[2]).await;
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.ack_floor.stream_sequence, 3);
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Ack policies
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn ack_policy_all_acks_everything_before(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("ALL", &["all"]).await;
            s.publish_n("all", 5).await;
            let cfg = pull::Config {
                ack_policy: AckPolicy::All,
                ..Default::default()
            };
            let c = s.durable(&stream, "C", cfg).await;
            assert_eq!(c.cached_info().config.ack_policy, AckPolicy::All);
            let msgs = fetch(&c, 5).await;
            assert_eq!(seqs(&msgs), vec![1, 2, 3, 4, 5]);
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 5);

            double_ack(&msgs[4]).await;
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.ack_floor.stream_sequence, 5);
            assert_eq!(ci.ack_floor.consumer_sequence, 5);
            assert!(fetch(&c, 5).await.is_empty());
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Deliver policies and filters
// ---------------------------------------------------------------------------------------------

/// Creates stream DP on `dp.*` holding dp.a(1) dp.b(2) dp.a(3) dp.c(4) dp.b(5).
async fn deliver_policy_stream(s: &Js) -> Stream {
    let stream = s.stream("DP", &["dp.*"]).await;
    for (i, subject) in ["dp.a", "dp.b", "dp.a", "dp.c", "dp.b"].iter().enumerate() {
        assert_eq!(s.publish(subject, "x").await, i as u64 + 1);
    }
    stream
}

/// The stream sequences an ephemeral pull consumer with `policy` gets from `stream` right away.
async fn delivered_with(s: &Js, stream: &Stream, policy: DeliverPolicy) -> Vec<u64> {
    let c = s
        .pull(
            stream,
            pull::Config {
                deliver_policy: policy,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(c.cached_info().config.deliver_policy, policy);
    seqs(&fetch(&c, 10).await)
}

both_async!(
    async fn deliver_policies_choose_the_start(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = deliver_policy_stream(&s).await;
            assert_eq!(
                delivered_with(&s, &stream, DeliverPolicy::All).await,
                vec![1, 2, 3, 4, 5]
            );
            assert_eq!(
                delivered_with(&s, &stream, DeliverPolicy::Last).await,
                vec![5]
            );
            assert_eq!(
                delivered_with(&s, &stream, DeliverPolicy::ByStartSequence { start_sequence: 3 })
                    .await,
                vec![3, 4, 5]
            );
            // From the stored time of message 4.
            let start_time = within("get message 4", stream.get_raw_message(4))
                .await
                .expect("get message 4")
                .time;
            assert_eq!(
                delivered_with(&s, &stream, DeliverPolicy::ByStartTime { start_time }).await,
                vec![4, 5]
            );
            // The last message of each subject (a: 3, c: 4, b: 5), in stream order. nats-server
            // 2.9 wants a filter subject with this policy.
            let c = s
                .pull(
                    &stream,
                    pull::Config {
                        deliver_policy: DeliverPolicy::LastPerSubject,
                        filter_subject: "dp.*".into(),
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(c.cached_info().num_pending, 3);
            assert_eq!(seqs(&fetch(&c, 10).await), vec![3, 4, 5]);
            let r = s
                .api(
                    "$JS.API.CONSUMER.CREATE.DP",
                    &json!({"stream_name": "DP",
                            "config": {"deliver_policy": "last_per_subject",
                                       "ack_policy": "explicit"}}),
                )
                .await;
            assert_eq!(
                r["error"],
                error_json(
                    400,
                    10094,
                    "consumer delivery policy is deliver last per subject, \
                     but optional filter subject is not set"
                ),
                "{r}"
            );

            // New: nothing now, then what is published after the consumer was created.
            let c = s
                .durable(
                    &stream,
                    "NEW",
                    pull::Config {
                        deliver_policy: DeliverPolicy::New,
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(c.cached_info().num_pending, 0);
            assert!(fetch(&c, 10).await.is_empty());
            assert_eq!(s.publish("dp.a", "new").await, 6);
            let msgs = fetch(&c, 10).await;
            assert_eq!(seqs(&msgs), vec![6]);
            assert_eq!(info(&msgs[0]).consumer_sequence, 1);

            // A start sequence past the end is clamped to last_seq + 1 (nats-server's
            // selectStartingSeqNo): with the stream at 6, start 8 begins at 7.
            let c = s
                .durable(
                    &stream,
                    "LATER",
                    pull::Config {
                        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 8 },
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(c.cached_info().num_pending, 0);
            assert!(fetch(&c, 10).await.is_empty());
            s.publish("dp.b", "7").await;
            assert_eq!(seqs(&fetch(&c, 10).await), vec![7]);
            s.publish("dp.b", "8").await;
            assert_eq!(seqs(&fetch(&c, 10).await), vec![8]);
        })
        .await
    }
);

both_async!(
    async fn filter_subject_selects_messages(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("FILT", &["f.>"]).await;
            for subject in ["f.a", "f.b", "f.a", "f.c.1", "f.c.2", "f.b"] {
                s.publish(subject, "x").await;
            }
            let cfg = |filter: &str| pull::Config {
                filter_subject: filter.into(),
                ..Default::default()
            };
            let c = s.durable(&stream, "A", cfg("f.a")).await;
            assert_eq!(c.cached_info().config.filter_subject, "f.a");
            assert_eq!(c.cached_info().num_pending, 2);
            let msgs = fetch(&c, 10).await;
            assert_eq!(seqs(&msgs), vec![1, 3]);
            assert!(msgs.iter().all(|m| m.subject.as_str() == "f.a"));
            // Pending counts only matching messages.
            assert_eq!(
                msgs.iter().map(|m| info(m).pending).collect::<Vec<_>>(),
                vec![1, 0]
            );

            let c = s.durable(&stream, "C", cfg("f.c.*")).await;
            assert_eq!(c.cached_info().num_pending, 2);
            assert_eq!(seqs(&fetch(&c, 10).await), vec![4, 5]);

            // Later messages are filtered too.
            s.publish("f.b", "x").await;
            s.publish("f.a", "x").await;
            let c = s.durable(&stream, "A", cfg("f.a")).await;
            assert_eq!(seqs(&fetch(&c, 10).await), vec![8]);

            // A filter that matches nothing in the stream's subjects is refused.
            let r = s
                .api(
                    "$JS.API.CONSUMER.DURABLE.CREATE.FILT.BAD",
                    &json!({"stream_name": "FILT",
                            "config": {"durable_name": "BAD", "ack_policy": "explicit",
                                       "filter_subject": "g.>"}}),
                )
                .await;
            match kind {
                Kind::NatsServer => assert_eq!(
                    r["error"],
                    error_json(
                        400,
                        10093,
                        "consumer filter subject is not a valid subset of the interest subjects"
                    ),
                    "{r}"
                ),
                // v2.10 dropped the check (protocol-spec/differences.md #10): created, and it
                // delivers nothing.
                Kind::Sluice => {
                    assert!(r.get("error").is_none(), "{r}");
                    assert_eq!(r["num_pending"], 0, "{r}");
                }
            }
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Consumer management
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn consumer_info_list_names_delete(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("MGMT", &["mgmt"]).await;
            s.publish_n("mgmt", 3).await;
            let cfg = pull::Config {
                description: Some("first".into()),
                ack_wait: Duration::from_secs(7),
                max_deliver: 4,
                ..Default::default()
            };
            let d1 = s.durable(&stream, "D1", cfg).await;
            s.durable(&stream, "D2", pull::Config::default()).await;

            let ci = s.info(&stream, "D1").await;
            assert_eq!(ci.stream_name, "MGMT");
            assert_eq!(ci.name, "D1");
            assert_eq!(ci.config.durable_name.as_deref(), Some("D1"));
            assert_eq!(ci.config.description.as_deref(), Some("first"));
            assert_eq!(ci.config.ack_wait, Duration::from_secs(7));
            assert_eq!(ci.config.max_deliver, 4);
            assert_eq!(ci.config.ack_policy, AckPolicy::Explicit);
            assert_eq!(ci.config.deliver_policy, DeliverPolicy::All);
            assert_eq!(ci.config.deliver_subject, None);
            assert_eq!(ci.num_pending, 3);
            assert_eq!(ci.num_ack_pending, 0);
            assert_eq!(ci.delivered.stream_sequence, 0);
            assert_eq!(ci.created, d1.cached_info().created);

            // Defaults the server fills in for a pull consumer.
            let raw = s.raw_info("MGMT", "D2").await;
            assert_eq!(raw["type"], "io.nats.jetstream.api.v1.consumer_info_response");
            assert_eq!(raw["config"]["ack_policy"], "explicit", "{raw}");
            assert_eq!(raw["config"]["deliver_policy"], "all", "{raw}");
            assert_eq!(raw["config"]["replay_policy"], "instant", "{raw}");
            assert_eq!(raw["config"]["ack_wait"], 30_000_000_000u64, "{raw}");
            assert_eq!(raw["config"]["max_deliver"], -1, "{raw}");
            assert_eq!(raw["config"]["max_waiting"], 512, "{raw}");
            assert_eq!(raw["config"]["max_ack_pending"], 1000, "{raw}");

            let names: BTreeSet<String> =
                within("consumer_names", stream.consumer_names().try_collect())
                    .await
                    .expect("consumer names");
            assert_eq!(names, BTreeSet::from(["D1".to_string(), "D2".to_string()]));
            let infos: Vec<consumer::Info> =
                within("consumers", stream.consumers().try_collect())
                    .await
                    .expect("consumers");
            let mut listed: Vec<_> = infos.iter().map(|i| i.name.as_str()).collect();
            listed.sort();
            assert_eq!(listed, vec!["D1", "D2"]);
            assert!(infos.iter().all(|i| i.stream_name == "MGMT" && i.num_pending == 3));
            let st = within("stream info", s.js.get_stream("MGMT"))
                .await
                .expect("get stream");
            assert_eq!(st.cached_info().state.consumer_count, 2);

            let deleted = within("delete", stream.delete_consumer("D1"))
                .await
                .expect("delete consumer");
            assert!(deleted.success);
            assert!(within("info", stream.consumer_info("D1")).await.is_err());
            let raw = s.raw_info("MGMT", "D1").await;
            assert_eq!(raw["error"], error_json(404, 10014, "consumer not found"), "{raw}");
            let r = s
                .api("$JS.API.CONSUMER.DELETE.MGMT.D1", &json!({}))
                .await;
            assert_eq!(r["error"], error_json(404, 10014, "consumer not found"), "{r}");
            let names: Vec<String> = within("consumer_names", stream.consumer_names().try_collect())
                .await
                .expect("consumer names");
            assert_eq!(names, vec!["D2".to_string()]);
        })
        .await
    }
);

both_async!(
    async fn ephemeral_removed_after_inactive_threshold(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("EPH", &["eph"]).await;
            s.publish("eph", "x").await;
            let c = s
                .pull(
                    &stream,
                    pull::Config {
                        inactive_threshold: Duration::from_secs(1),
                        ..Default::default()
                    },
                )
                .await;
            let created = Instant::now();
            let name = c.cached_info().name.clone();
            assert!(c.cached_info().config.durable_name.is_none());
            assert_eq!(c.cached_info().config.inactive_threshold, Duration::from_secs(1));
            // Still there right after creation (info requests are not activity, but they do
            // not make it go away either).
            let raw = s.raw_info("EPH", &name).await;
            assert!(raw.get("error").is_none(), "{raw}");

            let gone = loop {
                let raw = s.raw_info("EPH", &name).await;
                if raw.get("error").is_some() {
                    assert_eq!(raw["error"], error_json(404, 10014, "consumer not found"));
                    break created.elapsed();
                }
                assert!(
                    created.elapsed() < Duration::from_secs(5),
                    "ephemeral consumer still there: {raw}"
                );
                tokio::time::sleep(ms(100)).await;
            };
            assert!(gone >= ms(900), "removed after {gone:?}");
            let names: Vec<String> = within("consumer_names", stream.consumer_names().try_collect())
                .await
                .expect("consumer names");
            assert!(names.is_empty(), "{names:?}");
        })
        .await
    }
);

// ---------------------------------------------------------------------------------------------
// Raw pull requests: statuses
// ---------------------------------------------------------------------------------------------

both_async!(
    async fn pull_request_statuses(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("ST", &["st"]).await;
            let cfg = pull::Config {
                max_waiting: 1,
                max_batch: 5,
                ..Default::default()
            };
            s.durable(&stream, "C", cfg).await;

            // no_wait with nothing to deliver.
            let mut p = s
                .pull_request("ST", "C", json!({"batch": 1, "no_wait": true}))
                .await;
            assert_eq!(
                p.status(Duration::from_secs(2)).await,
                (StatusCode::NOT_FOUND, "No Messages".to_string())
            );

            // A batch larger than max_batch.
            let mut p = s.pull_request("ST", "C", json!({"batch": 10})).await;
            assert_eq!(
                p.status(Duration::from_secs(2)).await,
                (
                    StatusCode::REQUEST_TERMINATED,
                    "Exceeded MaxRequestBatch of 5".to_string()
                )
            );

            // Expiry: 408 once it passes.
            let mut p = s
                .pull_request("ST", "C", waiting(1, ms(500)))
                .await;
            let (status, description) = p.status(Duration::from_secs(3)).await;
            let took = p.sent.elapsed();
            assert_eq!(
                (status, description.as_str()),
                (StatusCode::TIMEOUT, "Request Timeout")
            );
            assert!(took >= ms(400), "expired after {took:?}");

            // max_waiting 1: a second waiting request is refused while the first waits.
            let mut first = s
                .pull_request("ST", "C", waiting(1, Duration::from_secs(5)))
                .await;
            let mut second = s
                .pull_request("ST", "C", waiting(1, Duration::from_secs(5)))
                .await;
            assert_eq!(
                second.status(Duration::from_secs(2)).await,
                (
                    StatusCode::REQUEST_TERMINATED,
                    "Exceeded MaxWaiting".to_string()
                )
            );
            let ci = s.info(&stream, "C").await;
            assert_eq!(ci.num_waiting, 1);
            // The first still gets a message.
            s.publish("st", "x").await;
            let m = first.expect_msg(Duration::from_secs(2)).await;
            assert_eq!(info(&m).stream_sequence, 1);
            assert!(second.next_raw(QUIET).await.is_none());
        })
        .await
    }
);

both_async!(
    async fn no_wait_ends_after_what_is_there(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("NW", &["nw"]).await;
            s.publish_n("nw", 2).await;
            s.durable(&stream, "C", pull::Config::default()).await;
            let mut p = s
                .pull_request("NW", "C", json!({"batch": 5, "no_wait": true}))
                .await;
            let a = p.next_raw(Duration::from_secs(2)).await.expect("message 1");
            let b = p.next_raw(Duration::from_secs(2)).await.expect("message 2");
            assert!(a.status.is_none() && b.status.is_none());
            let (status, description) = p.status(Duration::from_secs(2)).await;
            assert_eq!(
                (status, description.as_str()),
                (StatusCode::TIMEOUT, "Request Timeout")
            );
            assert!(p.next_raw(QUIET).await.is_none());
        })
        .await
    }
);

/// Tests of features nats-server 2.9 does not have (2.10's multiple filter subjects), so there
/// is no reference half: these run against sluice only.
mod sluice_only {
    use super::*;

    #[tokio::test]
    async fn filter_subjects_selects_several() {
        bounded(async {
            let s = setup(Kind::Sluice).await;
            let stream = s.stream("MF", &["mf.>"]).await;
            for subject in ["mf.a", "mf.b", "mf.c", "mf.a", "mf.d", "mf.c"] {
                s.publish(subject, "x").await;
            }
            let c = s
                .durable(
                    &stream,
                    "AC",
                    pull::Config {
                        filter_subjects: vec!["mf.a".into(), "mf.c".into()],
                        ..Default::default()
                    },
                )
                .await;
            assert_eq!(
                c.cached_info().config.filter_subjects,
                vec!["mf.a".to_string(), "mf.c".to_string()]
            );
            assert_eq!(c.cached_info().num_pending, 4);
            let msgs = fetch(&c, 10).await;
            assert_eq!(seqs(&msgs), vec![1, 3, 4, 6]);
            s.publish("mf.b", "x").await;
            s.publish("mf.c", "x").await;
            assert_eq!(seqs(&fetch(&c, 10).await), vec![8]);
        })
        .await
    }
}
