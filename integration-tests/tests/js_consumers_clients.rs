//! JetStream consumers through async-nats's higher-level APIs (continuous pull `messages()`,
//! ordered push and pull consumers) and how consumers live with their stream (purge, memory
//! storage, stream delete, restart). The wire-level behaviour is in `js_consumers.rs` and
//! `js_consumers_push.rs`.
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's (v2.9.10) behaviour.
//! Every wait is bounded.

use async_nats::jetstream::consumer::{pull, push, AckPolicy, PullConsumer};
use async_nats::jetstream::stream::{self, StorageType, Stream};
use async_nats::jetstream::{self};
use async_nats::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use integration_tests::client::{self, JsNode};
use integration_tests::{both_async, Broker, Kind};
use std::future::{Future, IntoFuture};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// The longest any single wait may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(40);

/// Awaits `f` for at most [`STEP`]; panics naming `what` if it takes longer.
async fn within<T>(what: &str, f: impl IntoFuture<Output = T>) -> T {
    client::within_for(STEP, what, f).await
}

/// Runs a test body under [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = ()>) {
    client::bounded(TEST_LIMIT, body).await
}

/// A [`JsNode`]: a JetStream-enabled broker with a connected client.
struct Js(JsNode);

impl Deref for Js {
    type Target = JsNode;
    fn deref(&self) -> &JsNode {
        &self.0
    }
}

impl DerefMut for Js {
    fn deref_mut(&mut self) -> &mut JsNode {
        &mut self.0
    }
}

async fn connect(broker: &Broker) -> (Client, jetstream::Context) {
    let client = client::connect_for(STEP, &broker.url()).await;
    let js = jetstream::new(client.clone());
    (client, js)
}

/// Starts a broker of `kind` with `-js -sd <fresh dir>` and connects.
async fn setup(kind: Kind) -> Js {
    Js(JsNode::start(kind, "consumers-clients", STEP, false).await)
}

impl Js {
    async fn stream(&self, name: &str, subject: &str, storage: StorageType) -> Stream {
        let config = stream::Config {
            name: name.into(),
            subjects: vec![subject.into()],
            storage,
            ..Default::default()
        };
        within("create_stream", self.js.create_stream(config))
            .await
            .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
    }

    async fn publish_n(&self, subject: &str, from: usize, n: usize) {
        for i in from..from + n {
            within("publish", async {
                self.js
                    .publish(subject.to_string(), Bytes::from(i.to_string()))
                    .await
                    .expect("publish")
                    .await
                    .expect("publish ack")
            })
            .await;
        }
    }

    async fn durable(&self, stream: &Stream, name: &str) -> PullConsumer {
        let config = pull::Config {
            durable_name: Some(name.into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        };
        within("create consumer", stream.create_consumer(config))
            .await
            .unwrap_or_else(|e| panic!("create consumer {name}: {e}"))
    }
}

/// The payloads (as numbers) of what a fetch of up to `n` returns now.
async fn fetch_payloads(c: &PullConsumer, n: usize, ack: bool) -> Vec<usize> {
    let msgs: Vec<jetstream::Message> = within("fetch", async {
        c.fetch()
            .max_messages(n)
            .messages()
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetch messages")
    })
    .await;
    let mut out = Vec::new();
    for m in msgs {
        out.push(
            std::str::from_utf8(&m.payload)
                .expect("utf8")
                .parse()
                .expect("number"),
        );
        if ack {
            within("ack", m.double_ack()).await.expect("double ack");
        }
    }
    out
}

both_async!(
    /// `PullConsumer::messages()`: a continuous stream of pull requests (batches with expiry and
    /// heartbeats) reads a backlog and then messages published while it runs, in order.
    async fn continuous_pull_reads_backlog_and_live(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("CONT", "cont.in", StorageType::File).await;
            s.publish_n("cont.in", 0, 300).await;
            let c = s.durable(&stream, "C").await;
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            let publisher = {
                let js = s.js.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    for i in 300..400 {
                        js.publish("cont.in", Bytes::from(i.to_string()))
                            .await
                            .expect("publish")
                            .await
                            .expect("ack");
                    }
                })
            };
            for want in 0..400usize {
                let m = within("next message", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("message");
                assert_eq!(m.payload.as_ref(), want.to_string().as_bytes());
                m.ack().await.expect("ack");
            }
            within("publisher", publisher).await.expect("publisher");
        })
        .await
    }
);

both_async!(
    /// async-nats's ordered push consumer (ephemeral, flow control, heartbeats, no acks).
    async fn ordered_push_consumer_reads_in_order(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("ORDP", "ordp.in", StorageType::File).await;
            s.publish_n("ordp.in", 0, 200).await;
            let c = within(
                "ordered push consumer",
                stream.create_consumer(push::OrderedConfig {
                    deliver_subject: "ordp.deliver".into(),
                    ..Default::default()
                }),
            )
            .await
            .expect("create ordered push consumer");
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            for want in 0..200usize {
                let m = within("next ordered", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("message");
                assert_eq!(m.payload.as_ref(), want.to_string().as_bytes());
            }
        })
        .await
    }
);

both_async!(
    /// async-nats's ordered pull consumer.
    async fn ordered_pull_consumer_reads_in_order(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("ORDL", "ordl.in", StorageType::File).await;
            s.publish_n("ordl.in", 0, 150).await;
            let c = within(
                "ordered pull consumer",
                stream.create_consumer(pull::OrderedConfig::default()),
            )
            .await
            .expect("create ordered pull consumer");
            let mut msgs = within("messages", c.messages()).await.expect("messages");
            for want in 0..150usize {
                let m = within("next ordered", msgs.next())
                    .await
                    .expect("stream ended")
                    .expect("message");
                assert_eq!(m.payload.as_ref(), want.to_string().as_bytes());
            }
        })
        .await
    }
);

both_async!(
    /// A purge drops what a consumer had pending and still had to deliver; it goes on with
    /// what is stored after.
    async fn purge_resets_what_consumers_wait_for(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("PRG", "prg.in", StorageType::File).await;
            s.publish_n("prg.in", 0, 10).await;
            let c = s.durable(&stream, "C").await;
            let got = fetch_payloads(&c, 3, false).await;
            assert_eq!(got, vec![0, 1, 2]);
            within("purge", stream.purge()).await.expect("purge");
            let info = within("info", stream.consumer_info("C"))
                .await
                .expect("info")
                .clone();
            assert_eq!(info.num_pending, 0, "{info:?}");
            assert_eq!(info.num_ack_pending, 0, "{info:?}");
            s.publish_n("prg.in", 100, 2).await;
            assert_eq!(fetch_payloads(&c, 10, true).await, vec![100, 101]);
        })
        .await
    }
);

both_async!(
    /// Consumers of a memory stream work the same way.
    async fn memory_stream_consumer(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("MEM", "mem.in", StorageType::Memory).await;
            s.publish_n("mem.in", 0, 20).await;
            let c = s.durable(&stream, "C").await;
            assert_eq!(
                fetch_payloads(&c, 50, true).await,
                (0..20).collect::<Vec<_>>()
            );
            let mut c = c;
            let info = within("info", c.info()).await.expect("info");
            assert_eq!(info.ack_floor.stream_sequence, 20);
        })
        .await
    }
);

both_async!(
    /// Deleting a stream deletes its consumers: a stream of the same name starts with none.
    async fn stream_delete_takes_its_consumers(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("DEL", "del.in", StorageType::File).await;
            s.durable(&stream, "C").await;
            within("delete", s.js.delete_stream("DEL"))
                .await
                .expect("delete stream");
            let mut stream = s.stream("DEL", "del.in", StorageType::File).await;
            let info = within("info", stream.info()).await.expect("info");
            assert_eq!(info.state.consumer_count, 0);
            assert!(within("consumer info", stream.consumer_info("C"))
                .await
                .is_err());
        })
        .await
    }
);

both_async!(
    /// A durable consumer keeps its place over a clean restart (SIGTERM): acked messages are
    /// not delivered again, unacked ones are.
    async fn durable_consumer_survives_restart(kind) {
        bounded(async {
            let mut s = setup(kind).await;
            let stream = s.stream("RST", "rst.in", StorageType::File).await;
            s.publish_n("rst.in", 0, 10).await;
            let config = pull::Config {
                durable_name: Some("C".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(1),
                ..Default::default()
            };
            let c = within("create", stream.create_consumer(config))
                .await
                .expect("create consumer");
            assert_eq!(fetch_payloads(&c, 4, true).await, vec![0, 1, 2, 3]);
            // Delivered but not acked: 4 and 5.
            assert_eq!(fetch_payloads(&c, 2, false).await, vec![4, 5]);
            s.broker.terminate(Duration::from_secs(10));
            let broker = Broker::start(kind, &["-js", "-sd", s.store.as_str()]);
            let (client, js) = connect(&broker).await;
            s.broker = broker;
            s.client = client;
            s.js = js;
            let stream = within("get stream", s.js.get_stream("RST"))
                .await
                .expect("stream back");
            let c: PullConsumer = within("get consumer", stream.get_consumer("C"))
                .await
                .expect("consumer back");
            // 4 and 5 come back once their ack wait passes, then the rest.
            let mut got = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
            while got.len() < 6 && tokio::time::Instant::now() < deadline {
                got.extend(fetch_payloads(&c, 10, true).await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            got.sort_unstable();
            assert_eq!(got, vec![4, 5, 6, 7, 8, 9]);
        })
        .await
    }
);

/// Sends a raw pull request `body` for `consumer` of `stream` and collects what arrives on its
/// inbox within `wait`: (status code or 0 for a message, payload length).
async fn raw_pull(
    client: &Client,
    stream: &str,
    consumer: &str,
    body: &str,
    wait: Duration,
) -> Vec<(u16, usize)> {
    let inbox = client.new_inbox();
    let mut sub = within("subscribe", client.subscribe(inbox.clone()))
        .await
        .expect("subscribe");
    within(
        "pull",
        client.publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            inbox,
            Bytes::from(body.to_string()),
        ),
    )
    .await
    .expect("publish pull");
    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(wait, sub.next()).await {
        let code = m.status.map_or(0, |s| s.as_u16());
        got.push((code, m.payload.len()));
    }
    got
}

both_async!(
    /// A pull request's `max_bytes` counts subject, ack reply, headers and payload: a request
    /// with room for two 100-byte messages gets two, and one with room for none gets `409
    /// Message Size Exceeds MaxBytes`.
    async fn pull_max_bytes_limits_the_batch(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("MB", "mb.in", StorageType::File).await;
            for _ in 0..5 {
                within("publish", async {
                    s.js.publish("mb.in", Bytes::from(vec![b'x'; 100]))
                        .await
                        .expect("publish")
                        .await
                        .expect("ack")
                })
                .await;
            }
            s.durable(&stream, "C").await;
            let client = s.client.clone();
            let wait = Duration::from_millis(500);
            let got = raw_pull(&client, "MB", "C", r#"{"batch":10,"max_bytes":400}"#, wait).await;
            let msgs: Vec<_> = got.iter().filter(|(c, _)| *c == 0).collect();
            assert_eq!(msgs.len(), 2, "{got:?}");
            assert!(msgs.iter().all(|(_, len)| *len == 100), "{got:?}");
            let got = raw_pull(&client, "MB", "C", r#"{"batch":10,"max_bytes":50}"#, wait).await;
            assert_eq!(got, vec![(409, 0)]);
        })
        .await
    }
);

/// CPU time (user + system, in clock ticks) the process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

both_async!(
    /// Regression: a delivered message whose ack wait passed while nobody pulls must not make
    /// the broker spin (its redelivery deadline kept waking the stream's writer at once).
    async fn an_expired_ack_wait_with_nobody_pulling_leaves_the_broker_idle(kind) {
        bounded(async {
            let s = setup(kind).await;
            let stream = s.stream("IDLE", "idle.in", StorageType::File).await;
            s.publish_n("idle.in", 0, 1).await;
            let config = pull::Config {
                durable_name: Some("C".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(200),
                ..Default::default()
            };
            let c = within("create", stream.create_consumer(config))
                .await
                .expect("create consumer");
            assert_eq!(fetch_payloads(&c, 1, false).await, vec![0]);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = cpu_ticks(s.broker.pid());
            tokio::time::sleep(Duration::from_secs(2)).await;
            let used = cpu_ticks(s.broker.pid()) - before;
            // A spinning thread uses ~200 ticks in 2 s (100 per second); idle is ~0.
            assert!(used < 60, "the broker used {used} CPU ticks in 2 s while idle");
        })
        .await
    }
);

both_async!(
    /// Advisories: a consumer created, a terminated message, and one that ran out of
    /// deliveries are announced on
    /// `$JS.EVENT.ADVISORY.CONSUMER.{CREATED,MSG_TERMINATED,MAX_DELIVERIES}.<stream>.<consumer>`.
    async fn term_and_max_deliveries_advisories(kind) {
        bounded(async {
            let s = setup(kind).await;
            let mut adv = within(
                "subscribe advisories",
                s.client.subscribe("$JS.EVENT.ADVISORY.CONSUMER.>"),
            )
            .await
            .expect("subscribe");
            within("flush", s.client.flush()).await.expect("flush");
            let stream = s.stream("ADV", "adv.in", StorageType::File).await;
            s.publish_n("adv.in", 0, 2).await;
            let config = pull::Config {
                durable_name: Some("C".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(300),
                max_deliver: 1,
                ..Default::default()
            };
            let c = within("create", stream.create_consumer(config))
                .await
                .expect("create consumer");
            let msgs: Vec<jetstream::Message> = within("fetch", async {
                c.fetch()
                    .max_messages(2)
                    .messages()
                    .await
                    .expect("fetch")
                    .try_collect()
                    .await
                    .expect("messages")
            })
            .await;
            assert_eq!(msgs.len(), 2);
            within("term", msgs[0].ack_with(jetstream::AckKind::Term))
                .await
                .expect("term");
            // The second is never acked: after its ack wait it has had its one delivery. The
            // server notices when it looks for work, so ask.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let client = s.client.clone();
            let pull = r#"{"batch":1,"expires":500000000}"#;
            let _ = raw_pull(&client, "ADV", "C", pull, Duration::from_millis(700)).await;
            let mut seen = std::collections::BTreeMap::new();
            let wanted = [
                "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.C",
                "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.C",
                "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.C",
            ];
            while !wanted.iter().all(|w| seen.contains_key(*w)) {
                let m = within("advisory", adv.next())
                    .await
                    .expect("advisory subscription open");
                let v: serde_json::Value =
                    serde_json::from_slice(&m.payload).expect("advisory is JSON");
                assert_eq!(v["stream"], "ADV", "{v}");
                assert_eq!(v["consumer"], "C", "{v}");
                seen.insert(m.subject.to_string(), v);
            }
            let created = &seen["$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.C"];
            assert_eq!(created["type"], "io.nats.jetstream.advisory.v1.consumer_action");
            assert_eq!(created["action"], "create", "{created}");
            let term = &seen["$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.C"];
            assert_eq!(term["type"], "io.nats.jetstream.advisory.v1.terminated");
            assert_eq!(term["stream_seq"], 1, "{term}");
            assert_eq!(term["consumer_seq"], 1, "{term}");
            let max = &seen["$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.C"];
            assert_eq!(max["type"], "io.nats.jetstream.advisory.v1.max_deliver");
            assert_eq!(max["stream_seq"], 2, "{max}");
            assert_eq!(max["deliveries"], 1, "{max}");
        })
        .await
    }
);
