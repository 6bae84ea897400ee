//! JetStream durability, black-box: what a file-backed stream keeps when its broker is killed
//! with SIGKILL (dropping a [`Broker`] kills it by PID) and started again on the same `-sd`.
//! The restarted broker listens on a new port; a new client connects to it. Stream infos from
//! before and after are compared whole, except for [`RESTART_KEYS`] (timestamps, and the
//! server's own ID in `cluster.leader`).
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's (v2.9.10) behaviour.
//! Every wait is bounded: each await goes through [`within`], and each body through
//! [`TEST_LIMIT`].

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream::Config, stream::StorageType};
use async_nats::Client;
use futures::TryStreamExt;
use integration_tests::client::{self, within};
use integration_tests::js::{start_js, without_keys, StoreDir, RESTART_KEYS};
use integration_tests::{both_async, Broker, Kind};
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// Runs a test body under [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = ()>) {
    client::bounded(TEST_LIMIT, body).await
}

/// A running JetStream broker on `store` and a client connected to it.
struct Node {
    client: Client,
    js: jetstream::Context,
    broker: Broker,
}

/// Starts a broker of `kind` on `store` (`-js -sd DIR`) and connects.
async fn start(kind: Kind, store: &StoreDir) -> Node {
    connected(start_js(kind, store)).await
}

/// A node for a broker started some other way (with extra flags, say).
async fn connected(broker: Broker) -> Node {
    let client = client::connect(&broker.url()).await;
    let js = jetstream::new(client.clone());
    Node { client, js, broker }
}

impl Node {
    /// Kills the broker with SIGKILL (no chance to flush or shut down) and waits for it to go.
    fn kill9(self) {
        let Node { client, broker, .. } = self;
        broker.kill9();
        drop(client);
    }

    /// Sends `payload` to `subject` as a request and returns the JSON reply.
    async fn api(&self, subject: &str, payload: &str) -> Value {
        client::api(&self.client, subject, payload).await
    }

    /// Creates a stream from raw JSON config; panics on an error reply.
    async fn create(&self, config: Value) -> Value {
        let name = config["name"].as_str().expect("name").to_string();
        let r = self
            .api(
                &format!("$JS.API.STREAM.CREATE.{name}"),
                &config.to_string(),
            )
            .await;
        assert!(r.get("error").is_none(), "create {config}: {r}");
        r
    }

    /// The raw `STREAM.INFO` reply for `stream`.
    async fn info(&self, stream: &str) -> Value {
        self.api(&format!("$JS.API.STREAM.INFO.{stream}"), "").await
    }

    /// All stream names, sorted.
    async fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = within("stream_names", self.js.stream_names().try_collect())
            .await
            .expect("stream_names");
        names.sort();
        names
    }
}

const COUNT: u64 = 1000;

both_async!(
    async fn kill9_keeps_every_acked_message(kind) {
        bounded(async {
            let store = StoreDir::new("durable");
            let node = start(kind, &store).await;
            let stream = within(
                "create_stream",
                node.js.create_stream(Config {
                    name: "DUR".into(),
                    subjects: vec!["dur.*".into()],
                    storage: StorageType::File,
                    ..Default::default()
                }),
            )
            .await
            .expect("create_stream");
            assert_eq!(stream.cached_info().config.duplicate_window, Duration::from_secs(120));

            // Publish with up to 100 acks in flight, then wait for them all.
            let mut acks = Vec::new();
            for i in 1..=COUNT {
                let msg = PublishMessage::build()
                    .payload(format!("payload-{i}").into())
                    .message_id(format!("id-{i}"));
                let fut = within("publish", node.js.send_publish(format!("dur.{}", i % 7), msg))
                    .await
                    .expect("publish");
                acks.push((i, fut));
                if acks.len() == 100 || i == COUNT {
                    for (i, fut) in acks.drain(..) {
                        let ack = within("ack", fut).await.expect("ack");
                        assert_eq!(ack.sequence, i, "ack for message {i}");
                        assert!(!ack.duplicate);
                    }
                }
            }
            let before = node.info("DUR").await;
            assert_eq!(before["state"]["messages"], COUNT, "{before}");
            node.kill9();

            let node = start(kind, &store).await;
            let after = node.info("DUR").await;
            assert_eq!(
                without_keys(&after["state"], RESTART_KEYS),
                without_keys(&before["state"], RESTART_KEYS)
            );
            assert_eq!(after["state"]["first_seq"], 1, "{after}");
            assert_eq!(after["state"]["last_seq"], COUNT, "{after}");
            assert_eq!(after["state"]["num_subjects"], 7, "{after}");
            let stream = within("get_stream", node.js.get_stream("DUR")).await.unwrap();
            for seq in 1..=COUNT {
                let m = within("get", stream.get_raw_message(seq))
                    .await
                    .unwrap_or_else(|e| panic!("message {seq} lost: {e}"));
                assert_eq!(m.sequence, seq);
                assert_eq!(m.subject.as_str(), format!("dur.{}", seq % 7));
                assert_eq!(m.payload, format!("payload-{seq}"));
                let id = format!("id-{seq}");
                assert_eq!(m.headers.get("Nats-Msg-Id").map(|v| v.as_str()), Some(id.as_str()));
            }

            // The duplicate window survived too.
            for id in [1, 500, COUNT] {
                let ack = within("republish", async {
                    node.js
                        .send_publish(
                            format!("dur.{}", id % 7),
                            PublishMessage::build()
                                .payload("again".into())
                                .message_id(format!("id-{id}")),
                        )
                        .await?
                        .await
                })
                .await
                .expect("republish ack");
                assert!(ack.duplicate, "id-{id} after restart: {ack:?}");
                assert_eq!(ack.sequence, id);
            }
            // And new messages continue the sequence.
            let ack = within("new publish", async {
                node.js.publish("dur.new", "new".into()).await?.await
            })
            .await
            .expect("new ack");
            assert_eq!((ack.sequence, ack.duplicate), (COUNT + 1, false));
            assert_eq!(node.info("DUR").await["state"]["messages"], COUNT + 1);
        })
        .await
    }
);

both_async!(
    async fn stream_configs_survive_restart(kind) {
        bounded(async {
            let store = StoreDir::new("configs");
            let node = start(kind, &store).await;
            let configs = [
                json!({"name": "PLAIN", "subjects": ["plain.>"]}),
                json!({"name": "LIMITS", "subjects": ["lim.*", "other"], "max_msgs": 100,
                       "max_bytes": 1_000_000, "max_msgs_per_subject": 5, "max_msg_size": 512,
                       "discard": "new", "max_age": 3_600_000_000_000u64,
                       "duplicate_window": 60_000_000_000u64, "description": "limited"}),
                json!({"name": "ROLL", "subjects": ["roll.*"], "allow_rollup_hdrs": true,
                       "deny_delete": true, "allow_direct": true}),
                json!({"name": "NOSUBJ"}),
            ];
            for c in &configs {
                node.create(c.clone()).await;
            }
            // Some content, a deleted message, a purge and an update.
            for i in 0..10 {
                let ack = within("publish", async {
                    node.js.publish(format!("lim.{}", i % 3), "x".into()).await?.await
                })
                .await
                .expect("ack");
                assert_eq!(ack.stream, "LIMITS");
            }
            within("publish", async {
                node.js.publish("plain.a", "x".into()).await?.await
            })
            .await
            .expect("ack");
            let r = node
                .api("$JS.API.STREAM.MSG.DELETE.LIMITS", r#"{"seq":2}"#)
                .await;
            assert_eq!(r["success"], true, "{r}");
            let r = node.api("$JS.API.STREAM.PURGE.PLAIN", "").await;
            assert_eq!(r["purged"], 1, "{r}");
            let r = node
                .api(
                    "$JS.API.STREAM.UPDATE.ROLL",
                    &json!({"name": "ROLL", "subjects": ["roll.*", "roll2.>"],
                            "allow_rollup_hdrs": true, "deny_delete": true,
                            "allow_direct": true, "max_msgs": 50})
                    .to_string(),
                )
                .await;
            assert!(r.get("error").is_none(), "{r}");
            // A deleted stream stays deleted.
            node.create(json!({"name": "GONE", "subjects": ["gone"]})).await;
            let r = node.api("$JS.API.STREAM.DELETE.GONE", "").await;
            assert_eq!(r["success"], true, "{r}");

            let names = ["LIMITS", "NOSUBJ", "PLAIN", "ROLL"];
            let mut before = Vec::new();
            for name in names {
                before.push(node.info(name).await);
            }
            assert_eq!(node.names().await, names);
            node.kill9();

            let node = start(kind, &store).await;
            assert_eq!(node.names().await, names);
            for (name, before) in names.iter().zip(&before) {
                let after = node.info(name).await;
                assert_eq!(
                    without_keys(&after, RESTART_KEYS),
                    without_keys(before, RESTART_KEYS),
                    "{name}"
                );
            }
            // Spot checks of what that means.
            let limits = node.info("LIMITS").await;
            assert_eq!(limits["config"]["description"], "limited");
            assert_eq!(limits["config"]["discard"], "new");
            assert_eq!(limits["config"]["duplicate_window"], 60_000_000_000u64);
            assert_eq!(limits["state"]["messages"], 9);
            let plain = node.info("PLAIN").await;
            assert_eq!(
                (&plain["state"]["messages"], &plain["state"]["first_seq"], &plain["state"]["last_seq"]),
                (&json!(0), &json!(2), &json!(1)),
                "{plain}"
            );
            let roll = node.info("ROLL").await;
            assert_eq!(roll["config"]["subjects"], json!(["roll.*", "roll2.>"]));
            assert_eq!(roll["config"]["max_msgs"], 50);
            assert_eq!(node.info("GONE").await["error"]["err_code"], 10059);
            // The restarted streams still take messages, numbered on.
            let ack = within("publish", async {
                node.js.publish("plain.b", "y".into()).await?.await
            })
            .await
            .expect("ack");
            assert_eq!((ack.stream.as_str(), ack.sequence), ("PLAIN", 2));
            let r = node.api("$JS.API.STREAM.MSG.GET.LIMITS", r#"{"seq":2}"#).await;
            assert_eq!(r["error"]["err_code"], 10037, "deleted message came back: {r}");
        })
        .await
    }
);

both_async!(
    async fn memory_streams_do_not_survive_restart(kind) {
        bounded(async {
            let store = StoreDir::new("memory");
            let node = start(kind, &store).await;
            node.create(json!({"name": "MEM", "subjects": ["mem"], "storage": "memory"}))
                .await;
            node.create(json!({"name": "FILE", "subjects": ["file"]})).await;
            for subject in ["mem", "file"] {
                within("publish", async {
                    node.js.publish(subject, "x".into()).await?.await
                })
                .await
                .expect("ack");
            }
            node.kill9();

            let node = start(kind, &store).await;
            assert_eq!(node.names().await, ["FILE"]);
            assert_eq!(node.info("MEM").await["error"]["err_code"], 10059);
            assert_eq!(node.info("FILE").await["state"]["messages"], 1);
            // The subject is free again.
            node.create(json!({"name": "MEM2", "subjects": ["mem"], "storage": "memory"}))
                .await;
        })
        .await
    }
);

both_async!(
    async fn graceful_restart_keeps_messages(kind) {
        bounded(async {
            let store = StoreDir::new("graceful");
            let node = start(kind, &store).await;
            node.create(json!({"name": "G", "subjects": ["g"]})).await;
            for i in 1..=20u64 {
                let ack = within("publish", async {
                    node.js.publish("g", format!("{i}").into()).await?.await
                })
                .await
                .expect("ack");
                assert_eq!(ack.sequence, i);
            }
            let before = node.info("G").await;
            let Node { client, mut broker, .. } = node;
            drop(client);
            assert!(
                broker.terminate(Duration::from_secs(10)).is_some(),
                "broker did not exit on SIGTERM"
            );
            drop(broker);

            let node = start(kind, &store).await;
            let after = node.info("G").await;
            assert_eq!(
                without_keys(&after, RESTART_KEYS),
                without_keys(&before, RESTART_KEYS)
            );
            let r = node.api("$JS.API.STREAM.MSG.GET.G", r#"{"seq":20}"#).await;
            assert_eq!(r["message"]["data"], "MjA=", "{r}");
        })
        .await
    }
);

/// Sluice's own layout (nats-server's block files differ): a record cut in half at the tail of
/// the newest segment, as a crash mid-write leaves it, is truncated on restart; every complete
/// record before it is intact and the sequence goes on from there.
#[tokio::test]
async fn torn_segment_tail_is_repaired_on_restart() {
    bounded(async {
        let store = StoreDir::new("torn");
        let node = start(Kind::Sluice, &store).await;
        node.create(serde_json::json!({"name": "TORN", "subjects": ["torn.>"]}))
            .await;
        for i in 1..=100u64 {
            let ack = within("publish", node.js.publish("torn.x", format!("m{i}").into()))
                .await
                .expect("publish")
                .await
                .expect("ack");
            assert_eq!(ack.sequence, i);
        }
        node.kill9();

        let dir = store.path().join("streams").join("TORN");
        let mut segments: Vec<_> = std::fs::read_dir(&dir)
            .expect("stream dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        segments.sort();
        let newest = segments.last().expect("a segment file");
        let len = std::fs::metadata(newest).expect("segment").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(newest)
            .expect("open segment");
        file.set_len(len - 5).expect("cut the tail mid-record");
        drop(file);

        let node = start(Kind::Sluice, &store).await;
        let info = node.info("TORN").await;
        assert_eq!(info["state"]["messages"], 99, "{info}");
        assert_eq!(info["state"]["last_seq"], 99, "{info}");
        let last = node
            .api("$JS.API.STREAM.MSG.GET.TORN", r#"{"seq":99}"#)
            .await;
        assert_eq!(last["message"]["data"], "bTk5", "m99 intact: {last}");
        let ack = within("publish", node.js.publish("torn.x", "again".into()))
            .await
            .expect("publish")
            .await
            .expect("ack");
        assert_eq!(
            ack.sequence, 100,
            "the sequence goes on after the repaired tail"
        );
        let logged = node.broker.startup_lines().join("\n");
        assert!(
            logged.contains("truncating torn record")
                && logged.contains("TORN")
                && logged.contains("dropped="),
            "the repair is logged, naming the stream: {logged}"
        );
    })
    .await;
}

/// `--sync <interval>` promises that an acked publish survives kill -9 of the server (it is
/// in the OS before the ack), though not power loss. Regression: acks went out while records
/// were still in the store's user-space buffer.
#[tokio::test]
async fn interval_sync_acks_survive_kill9() {
    bounded(async {
        let store = StoreDir::new("interval");
        let broker = Broker::start(
            Kind::Sluice,
            &["-js", "-sd", store.as_str(), "--sync", "1h"],
        );
        let node = connected(broker).await;
        node.create(serde_json::json!({"name": "IV", "subjects": ["iv"]}))
            .await;
        for i in 1..=10u64 {
            let ack = within("publish", node.js.publish("iv", "x".into()))
                .await
                .expect("publish")
                .await
                .expect("ack");
            assert_eq!(ack.sequence, i);
        }
        node.kill9();
        let node = start(Kind::Sluice, &store).await;
        let info = node.info("IV").await;
        assert_eq!(info["state"]["messages"], 10, "{info}");
    })
    .await;
}

/// Under interval sync a publish may be stored on the publishing connection's task or by the
/// stream's writer (crates/stream/src/inline.rs). Three connections publish pipelined while a
/// fourth keeps the writer busy with API requests and a consumer comes and goes (forcing the
/// writer path): every publish is acked once, each connection's acks come in the order it
/// published, no sequence is given twice, and all of it survives kill -9.
#[tokio::test]
async fn interval_sync_mixed_paths_keep_order_and_survive_kill9() {
    bounded(async {
        let store = StoreDir::new("mixed");
        let broker = Broker::start(
            Kind::Sluice,
            &["-js", "-sd", store.as_str(), "--sync", "1h"],
        );
        let node = connected(broker).await;
        node.create(serde_json::json!({"name": "MX", "subjects": ["mx.*"]}))
            .await;
        const PER: usize = 600;
        let mut publishers = Vec::new();
        for p in 0..3 {
            let c = within("connect", async_nats::connect(node.broker.url()))
                .await
                .expect("connect");
            publishers.push(tokio::spawn(async move {
                let js = jetstream::new(c);
                let mut acks = Vec::new();
                for i in 0..PER {
                    acks.push(
                        js.publish(format!("mx.{p}"), format!("{p}-{i}").into())
                            .await
                            .expect("publish"),
                    );
                }
                let mut seqs = Vec::new();
                for a in acks {
                    seqs.push(a.await.expect("ack").sequence);
                }
                seqs
            }));
        }
        // Meanwhile: API requests and a consumer created and deleted, through the writer.
        for round in 0..20 {
            let _ = node.info("MX").await;
            let name = format!("C{round}");
            let created = within(
                "consumer create",
                node.client.request(
                    format!("$JS.API.CONSUMER.DURABLE.CREATE.MX.{name}"),
                    serde_json::json!({"stream_name": "MX",
                        "config": {"durable_name": name, "ack_policy": "explicit"}})
                    .to_string()
                    .into(),
                ),
            )
            .await
            .expect("create");
            assert!(!String::from_utf8_lossy(&created.payload).contains("\"error\""));
            within(
                "consumer delete",
                node.client.request(
                    format!("$JS.API.CONSUMER.DELETE.MX.{name}"),
                    bytes::Bytes::new(),
                ),
            )
            .await
            .expect("delete");
        }
        let mut all = Vec::new();
        for p in publishers {
            let seqs = within("publisher", p).await.expect("publisher task");
            assert_eq!(seqs.len(), PER);
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "one connection's acks out of order: {seqs:?}"
            );
            all.extend(seqs);
        }
        all.sort_unstable();
        assert_eq!(all, (1..=(3 * PER) as u64).collect::<Vec<_>>());
        node.kill9();
        let node = start(Kind::Sluice, &store).await;
        let info = node.info("MX").await;
        assert_eq!(info["state"]["messages"], 3 * PER, "{info}");
        assert_eq!(info["state"]["last_seq"], 3 * PER, "{info}");
    })
    .await;
}
