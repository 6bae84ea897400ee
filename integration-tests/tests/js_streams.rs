//! JetStream stream layer, black-box: the `$JS.API.STREAM.*` API, publish acks, dedup,
//! expected-* headers, limits and rollups, through async-nats's `jetstream` module and raw
//! `$JS.API` requests (for exact error JSON and malformed requests).
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's (v2.9.10) behaviour.
//! Each broker gets a fresh `-sd` directory. Tests of v2.10+/v2.11 features that nats-server
//! 2.9 lacks (per-message TTL) are in [`sluice_only`].
//!
//! Every wait is bounded: each await goes through [`within`], and each body through
//! [`TEST_LIMIT`].
//!
//! Where nats-server's exact byte accounting would decide an outcome, the sizes are chosen so
//! the outcome holds for any per-message overhead from 16 to 40 bytes (the suite asserts the
//! limit semantics, not nats-server's on-disk record layout); `bytes` itself is only checked to
//! be positive.

use async_nats::jetstream::context::PublishError;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, State, StorageType};
use async_nats::{HeaderMap, StatusCode};
use bytes::Bytes;
use futures::TryStreamExt;
use integration_tests::client::{self, JsNode};
use integration_tests::js::{assert_json_includes, error_json};
use integration_tests::{both_async, Kind};
use serde_json::{json, Value};
use std::future::{Future, IntoFuture};
use std::ops::Deref;
use std::time::{Duration, Instant};

/// The longest any single wait may take.
const STEP: Duration = Duration::from_secs(10);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(60);

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

/// Starts a broker of `kind` with `-js -sd <fresh dir>` and connects.
async fn setup(kind: Kind) -> Js {
    Js(JsNode::start(kind, "streams", STEP, false).await)
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
    /// Sends `payload` as a request to `subject` and returns the JSON reply.
    async fn api(&self, subject: &str, payload: &str) -> Value {
        let reply = within(
            subject,
            self.client
                .request(subject.to_string(), Bytes::from(payload.to_string())),
        )
        .await
        .unwrap_or_else(|e| panic!("request {subject} {payload}: {e}"));
        parse(&format!("{subject} {payload}"), &reply.payload)
    }

    /// As [`Js::api`] with a JSON body.
    async fn api_json(&self, subject: &str, body: &Value) -> Value {
        self.api(subject, &body.to_string()).await
    }

    /// Creates a stream from raw JSON config; panics if the server answers with an error.
    async fn create(&self, config: Value) -> Value {
        let name = config["name"]
            .as_str()
            .expect("config has a name")
            .to_string();
        let r = self
            .api_json(&format!("$JS.API.STREAM.CREATE.{name}"), &config)
            .await;
        assert!(r.get("error").is_none(), "create {config}: {r}");
        r
    }

    /// The raw `STREAM.INFO` reply for `stream`.
    async fn info(&self, stream: &str) -> Value {
        self.api(&format!("$JS.API.STREAM.INFO.{stream}"), "").await
    }

    /// The typed stream state (via async-nats).
    async fn state(&self, stream: &str) -> State {
        let s = within("get_stream", self.js.get_stream(stream))
            .await
            .unwrap_or_else(|e| panic!("get_stream {stream}: {e}"));
        s.cached_info().state.clone()
    }

    /// Publishes `payload` to `subject` with `headers` as a request and returns the raw JSON ack.
    async fn publish(&self, subject: &str, headers: &[(&str, &str)], payload: &str) -> Value {
        let payload = Bytes::from(payload.to_string());
        let what = format!("publish {subject} {headers:?}");
        let reply = if headers.is_empty() {
            within(&what, self.client.request(subject.to_string(), payload)).await
        } else {
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(*k, *v);
            }
            within(
                &what,
                self.client
                    .request_with_headers(subject.to_string(), map, payload),
            )
            .await
        }
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        parse(&what, &reply.payload)
    }

    /// Publishes and expects a plain (not duplicate) ack with sequence `seq`.
    async fn publish_ok(&self, stream: &str, subject: &str, headers: &[(&str, &str)], seq: u64) {
        let ack = self.publish(subject, headers, "x").await;
        assert_eq!(ack, json!({"stream": stream, "seq": seq}), "{subject}");
    }

    /// Publishes through async-nats's JetStream publish and awaits the ack.
    async fn ack(&self, subject: &str, msg: PublishMessage) -> Result<PublishAck, PublishError> {
        within(&format!("ack for {subject}"), async {
            self.js.send_publish(subject.to_string(), msg).await?.await
        })
        .await
    }

    /// The raw `STREAM.MSG.GET` reply for `request`.
    async fn msg_get(&self, stream: &str, request: Value) -> Value {
        self.api_json(&format!("$JS.API.STREAM.MSG.GET.{stream}"), &request)
            .await
    }
}

/// A payload of `n` bytes.
fn payload(n: usize) -> String {
    "x".repeat(n)
}

/// The error object nats-server answers `STREAM.MSG.GET` with when there is no such message.
fn no_message() -> Value {
    error_json(404, 10037, "no message found")
}

/// The config defaults nats-server fills into a stream created with just a name and subjects.
fn default_config(name: &str, subjects: &[&str]) -> Value {
    json!({
        "name": name,
        "subjects": subjects,
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "discard": "old",
        "storage": "file",
        "num_replicas": 1,
        "duplicate_window": 120_000_000_000u64,
        "allow_direct": false,
        "mirror_direct": false,
        "sealed": false,
        "deny_delete": false,
        "deny_purge": false,
        "allow_rollup_hdrs": false,
    })
}

both_async!(
    async fn create_fills_in_defaults(kind) {
        bounded(async {
            let s = setup(kind).await;
            let r = s
                .api(
                    "$JS.API.STREAM.CREATE.ORDERS",
                    r#"{"name":"ORDERS","subjects":["orders.>"]}"#,
                )
                .await;
            assert!(r.get("error").is_none(), "{r}");
            assert_json_includes(
                &r,
                &json!({
                    "type": "io.nats.jetstream.api.v1.stream_create_response",
                    "config": default_config("ORDERS", &["orders.>"]),
                    "state": {"messages": 0, "bytes": 0, "first_seq": 0, "last_seq": 0,
                              "consumer_count": 0},
                    "did_create": true,
                }),
            );
            assert!(r["created"].is_string(), "{r}");

            // Without subjects, the stream listens on its own name.
            let r = s.api("$JS.API.STREAM.CREATE.PLAIN", r#"{"name":"PLAIN"}"#).await;
            assert_json_includes(&r, &json!({"config": default_config("PLAIN", &["PLAIN"])}));
            s.publish_ok("PLAIN", "PLAIN", &[], 1).await;

            // The same through async-nats: zeros in the request mean "unlimited"/"default".
            let stream = within(
                "create_stream",
                s.js.create_stream(Config {
                    name: "EVENTS".into(),
                    subjects: vec!["events.*".into()],
                    ..Default::default()
                }),
            )
            .await
            .expect("create_stream");
            let c = &stream.cached_info().config;
            assert_eq!(c.name, "EVENTS");
            assert_eq!(c.subjects, vec!["events.*".to_string()]);
            assert_eq!(c.retention, RetentionPolicy::Limits);
            assert_eq!(c.discard, DiscardPolicy::Old);
            assert_eq!(c.storage, StorageType::File);
            assert_eq!(c.max_consumers, -1);
            assert_eq!(c.max_messages, -1);
            assert_eq!(c.max_bytes, -1);
            assert_eq!(c.max_messages_per_subject, -1);
            assert_eq!(c.max_message_size, -1);
            assert_eq!(c.max_age, Duration::ZERO);
            assert_eq!(c.num_replicas, 1);
            assert_eq!(c.duplicate_window, Duration::from_secs(120));
            assert!(!c.allow_rollup && !c.deny_delete && !c.deny_purge && !c.sealed);

            // Info reports the same config and an empty state.
            let mut got = within("get_stream", s.js.get_stream("EVENTS"))
                .await
                .expect("get_stream");
            let info = within("info", got.info()).await.expect("info").clone();
            assert_eq!(info.config, stream.cached_info().config);
            assert_eq!(info.created, stream.cached_info().created);
            assert_eq!(info.state.messages, 0);
            assert_eq!(info.state.first_sequence, 0);
            assert_eq!(info.state.last_sequence, 0);
            let raw = s.info("EVENTS").await;
            assert_json_includes(
                &raw,
                &json!({
                    "type": "io.nats.jetstream.api.v1.stream_info_response",
                    "config": default_config("EVENTS", &["events.*"]),
                }),
            );
        })
        .await
    }
);

both_async!(
    async fn create_conflicts_are_rejected(kind) {
        bounded(async {
            let s = setup(kind).await;
            let cfg = json!({"name": "S1", "subjects": ["a.>"]});
            s.create(cfg.clone()).await;
            // The same config again is fine (idempotent).
            let again = s.api_json("$JS.API.STREAM.CREATE.S1", &cfg).await;
            assert!(again.get("error").is_none(), "{again}");
            assert_json_includes(&again, &json!({"config": default_config("S1", &["a.>"])}));

            // The same name with a different config.
            let r = s
                .api("$JS.API.STREAM.CREATE.S1", r#"{"name":"S1","subjects":["a.>","b"]}"#)
                .await;
            assert_eq!(
                r,
                json!({
                    "type": "io.nats.jetstream.api.v1.stream_create_response",
                    "error": error_json(400, 10058,
                        "stream name already in use with a different configuration"),
                })
            );
            // Overlapping subjects with another stream. (Not with a leading wildcard such as
            // `*.x`: nats-server 2.10+ refuses those for colliding with `$JS.>`, 2.9 takes them.)
            let r = s
                .api("$JS.API.STREAM.CREATE.S2", r#"{"name":"S2","subjects":["a.b"]}"#)
                .await;
            assert_eq!(
                r["error"],
                error_json(400, 10065, "subjects overlap with an existing stream")
            );
            let r = s
                .api("$JS.API.STREAM.CREATE.S3", r#"{"name":"S3","subjects":["a.*.z"]}"#)
                .await;
            assert_eq!(r["error"]["err_code"], 10065, "{r}");
            // The name in the subject must match the body.
            let r = s
                .api("$JS.API.STREAM.CREATE.X", r#"{"name":"Y","subjects":["y"]}"#)
                .await;
            assert_eq!(
                r["error"],
                error_json(400, 10056, "stream name in subject does not match request")
            );
            // async-nats surfaces the same error.
            let err = within(
                "create_stream",
                s.js.create_stream(Config {
                    name: "S2".into(),
                    subjects: vec!["a.b.c".into()],
                    ..Default::default()
                }),
            )
            .await
            .expect_err("overlap must fail");
            match err.kind() {
                async_nats::jetstream::context::CreateStreamErrorKind::JetStream(e) => {
                    assert_eq!(e.error_code().0, 10065, "{e}");
                    assert_eq!(e.code(), 400, "{e}");
                }
                other => panic!("unexpected error kind {other:?}"),
            }
            // None of the rejected streams exist.
            let names: Vec<String> = within("stream_names", s.js.stream_names().try_collect())
                .await
                .expect("stream_names");
            assert_eq!(names, vec!["S1".to_string()]);
        })
        .await
    }
);

both_async!(
    async fn update_stream(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "U", "subjects": ["u.a"], "max_msgs": 10}))
                .await;
            s.create(json!({"name": "OTHER", "subjects": ["o.*"]})).await;
            s.publish_ok("U", "u.a", &[], 1).await;
            s.publish_ok("U", "u.a", &[], 2).await;

            let info = within(
                "update_stream",
                s.js.update_stream(Config {
                    name: "U".into(),
                    subjects: vec!["u.a".into(), "u.b".into()],
                    max_messages: 20,
                    description: Some("updated".into()),
                    ..Default::default()
                }),
            )
            .await
            .expect("update_stream");
            assert_eq!(info.config.subjects, vec!["u.a".to_string(), "u.b".to_string()]);
            assert_eq!(info.config.max_messages, 20);
            assert_eq!(info.config.description.as_deref(), Some("updated"));
            assert_eq!(info.config.max_bytes, -1);
            assert_eq!(info.state.messages, 2, "messages survive an update");
            s.publish_ok("U", "u.b", &[], 3).await;
            let raw = s.info("U").await;
            assert_json_includes(
                &raw,
                &json!({"config": {"subjects": ["u.a", "u.b"], "max_msgs": 20,
                                   "description": "updated"},
                        "state": {"messages": 3, "last_seq": 3}}),
            );

            // What can't change, or doesn't exist.
            let r = s
                .api(
                    "$JS.API.STREAM.UPDATE.U",
                    r#"{"name":"U","subjects":["u.a"],"storage":"memory"}"#,
                )
                .await;
            assert_eq!(
                r,
                json!({
                    "type": "io.nats.jetstream.api.v1.stream_update_response",
                    "error": error_json(500, 10052,
                        "stream configuration update can not change storage type"),
                })
            );
            let r = s
                .api("$JS.API.STREAM.UPDATE.U", r#"{"name":"U","subjects":["u.a","o.x"]}"#)
                .await;
            assert_eq!(
                r["error"],
                error_json(400, 10065, "subjects overlap with an existing stream")
            );
            let r = s
                .api("$JS.API.STREAM.UPDATE.NOPE", r#"{"name":"NOPE","subjects":["n"]}"#)
                .await;
            assert_eq!(r["error"], error_json(404, 10059, "stream not found"));
            let r = s
                .api("$JS.API.STREAM.UPDATE.U", r#"{"name":"V","subjects":["u.a"]}"#)
                .await;
            assert_eq!(
                r["error"],
                error_json(400, 10056, "stream name in subject does not match request")
            );
            // The failed updates changed nothing.
            assert_json_includes(
                &s.info("U").await,
                &json!({"config": {"subjects": ["u.a", "u.b"], "storage": "file"}}),
            );
        })
        .await
    }
);

both_async!(
    async fn delete_stream(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "D", "subjects": ["d"]})).await;
            for seq in 1..=3 {
                s.publish_ok("D", "d", &[], seq).await;
            }
            let status = within("delete_stream", s.js.delete_stream("D"))
                .await
                .expect("delete_stream");
            assert!(status.success);
            let r = s.info("D").await;
            assert_eq!(r["error"], error_json(404, 10059, "stream not found"));
            let r = s.api("$JS.API.STREAM.DELETE.D", "").await;
            assert_eq!(
                r,
                json!({
                    "type": "io.nats.jetstream.api.v1.stream_delete_response",
                    "error": error_json(404, 10059, "stream not found"),
                })
            );
            // Nothing listens on the subject any more.
            let err = s
                .ack("d", PublishMessage::build().payload("x".into()))
                .await
                .expect_err("no stream");
            assert_eq!(err.kind(), PublishErrorKind::StreamNotFound);
            // A new stream with the same name starts from scratch.
            s.create(json!({"name": "D", "subjects": ["d"]})).await;
            s.publish_ok("D", "d", &[], 1).await;
            let st = s.state("D").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (1, 1, 1));
            let r = s.api("$JS.API.STREAM.DELETE.D", "").await;
            assert_eq!(
                r,
                json!({"type": "io.nats.jetstream.api.v1.stream_delete_response", "success": true})
            );
        })
        .await
    }
);

both_async!(
    async fn list_and_names(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "A", "subjects": ["a.*"]})).await;
            s.create(json!({"name": "B", "subjects": ["b.*"]})).await;
            s.create(json!({"name": "C", "subjects": ["c.>"], "storage": "memory"}))
                .await;

            let mut names: Vec<String> =
                within("stream_names", s.js.stream_names().try_collect())
                    .await
                    .expect("stream_names");
            names.sort();
            assert_eq!(names, ["A", "B", "C"]);
            let mut infos: Vec<(String, StorageType)> =
                within("streams", s.js.streams().try_collect::<Vec<_>>())
                    .await
                    .expect("streams")
                    .into_iter()
                    .map(|i| (i.config.name, i.config.storage))
                    .collect();
            infos.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(
                infos,
                [
                    ("A".to_string(), StorageType::File),
                    ("B".to_string(), StorageType::File),
                    ("C".to_string(), StorageType::Memory)
                ]
            );

            let r = s.api("$JS.API.STREAM.NAMES", "").await;
            assert_json_includes(
                &r,
                &json!({"type": "io.nats.jetstream.api.v1.stream_names_response",
                        "total": 3, "offset": 0}),
            );
            let r = s.api("$JS.API.STREAM.LIST", "").await;
            assert_json_includes(
                &r,
                &json!({"type": "io.nats.jetstream.api.v1.stream_list_response",
                        "total": 3, "offset": 0}),
            );
            assert_eq!(r["streams"].as_array().map(Vec::len), Some(3), "{r}");

            // With a subject filter: the streams whose subjects overlap it.
            for (filter, want) in [
                ("a.x", vec!["A"]),
                ("a.*", vec!["A"]),
                ("b.>", vec!["B"]),
                ("c.x.y", vec!["C"]),
                ("*.x", vec!["A", "B", "C"]),
                (">", vec!["A", "B", "C"]),
            ] {
                let r = s
                    .api_json("$JS.API.STREAM.NAMES", &json!({"subject": filter}))
                    .await;
                let mut got: Vec<String> = serde_json::from_value(r["streams"].clone())
                    .unwrap_or_else(|e| panic!("{filter}: {e}: {r}"));
                got.sort();
                assert_eq!(got, want, "filter {filter}: {r}");
                assert_eq!(r["total"], want.len(), "filter {filter}: {r}");
            }
            let r = s
                .api_json("$JS.API.STREAM.NAMES", &json!({"subject": "zz"}))
                .await;
            assert_eq!(r["total"], 0, "{r}");
            // nats-server 2.9 sends `null` here; an empty list means the same to clients.
            assert!(
                r["streams"].is_null() || r["streams"] == json!([]),
                "no streams expected: {r}"
            );
        })
        .await
    }
);

both_async!(
    async fn publish_acks_and_state(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "EV", "subjects": ["ev.*"]})).await;
            for (i, subject) in ["ev.1", "ev.2", "ev.1", "ev.3", "ev.2"].iter().enumerate() {
                let ack = s
                    .ack(subject, PublishMessage::build().payload(format!("m{i}").into()))
                    .await
                    .expect("ack");
                assert_eq!(ack.stream, "EV");
                assert_eq!(ack.sequence, i as u64 + 1);
                assert!(!ack.duplicate);
            }
            s.publish_ok("EV", "ev.4", &[], 6).await;
            let st = s.state("EV").await;
            assert_eq!(st.messages, 6);
            assert!(st.bytes > 0, "{st:?}");
            assert_eq!(st.first_sequence, 1);
            assert_eq!(st.last_sequence, 6);
            assert_eq!(st.subjects_count, 4);
            assert_json_includes(
                &s.info("EV").await,
                &json!({"state": {"messages": 6, "first_seq": 1, "last_seq": 6,
                                  "num_subjects": 4}}),
            );
            // A subject no stream listens on: no responders.
            let err = s
                .ack("nostream", PublishMessage::build().payload("x".into()))
                .await
                .expect_err("no stream");
            assert_eq!(err.kind(), PublishErrorKind::StreamNotFound);
        })
        .await
    }
);

both_async!(
    async fn core_publish_without_reply_is_stored(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "CORE", "subjects": ["core.*"]})).await;
            for i in 0..3 {
                within("publish", s.client.publish("core.x", format!("p{i}").into()))
                    .await
                    .expect("publish");
            }
            within("flush", s.client.flush()).await.expect("flush");
            // No ack to wait for: poll until the stream has them.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let st = s.state("CORE").await;
                if st.messages == 3 {
                    assert_eq!((st.first_sequence, st.last_sequence), (1, 3));
                    break;
                }
                assert!(Instant::now() < deadline, "not stored: {st:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let stream = within("get_stream", s.js.get_stream("CORE"))
                .await
                .unwrap();
            for seq in 1..=3u64 {
                let m = within("get", stream.get_raw_message(seq)).await.expect("get");
                assert_eq!(m.subject.as_str(), "core.x");
                assert_eq!(m.payload, format!("p{}", seq - 1));
            }
        })
        .await
    }
);

both_async!(
    async fn purge_variants(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "P", "subjects": ["p.*"]})).await;
            // seq:  1 2 3 4 5 6 7 8 9 10
            // subj: a b c a b a b c a b
            for (i, t) in "abcababcab".chars().enumerate() {
                s.publish_ok("P", &format!("p.{t}"), &[], i as u64 + 1).await;
            }
            let stream = within("get_stream", s.js.get_stream("P")).await.unwrap();

            let r = within("purge a", stream.purge().filter("p.a")).await.unwrap();
            assert!(r.success);
            assert_eq!(r.purged, 4); // 1 4 6 9
            let r = within("purge b keep 1", stream.purge().filter("p.b").keep(1))
                .await
                .unwrap();
            assert_eq!(r.purged, 3); // 2 5 7; 10 stays
            let st = s.state("P").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (3, 3, 10));
            assert_eq!(st.subjects_count, 2);
            // Up to (not including) sequence 8.
            let r = within("purge to 8", stream.purge().sequence(8)).await.unwrap();
            assert_eq!(r.purged, 1); // 3
            let st = s.state("P").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (2, 8, 10));
            let r = within("purge keep 1", stream.purge().keep(1)).await.unwrap();
            assert_eq!(r.purged, 1); // 8
            let st = s.state("P").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (1, 10, 10));
            // Everything, raw.
            let r = s.api("$JS.API.STREAM.PURGE.P", "").await;
            assert_eq!(
                r,
                json!({"type": "io.nats.jetstream.api.v1.stream_purge_response",
                       "success": true, "purged": 1})
            );
            let st = s.state("P").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (0, 11, 10));
            assert_eq!(st.bytes, 0);
            // Sequences continue after a purge.
            s.publish_ok("P", "p.a", &[], 11).await;
            // keep and seq together is a bad request.
            let r = s
                .api("$JS.API.STREAM.PURGE.P", r#"{"seq":5,"keep":1}"#)
                .await;
            assert_eq!(r["error"], error_json(400, 10003, "bad request"));
            let r = s.api("$JS.API.STREAM.PURGE.NOPE", "").await;
            assert_eq!(r["error"], error_json(404, 10059, "stream not found"));
        })
        .await
    }
);

both_async!(
    async fn get_message_by_seq_and_last_by_subject(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "G", "subjects": ["g.*"]})).await;
            let mut h = HeaderMap::new();
            h.insert("X-Test", "1");
            let ack = s
                .ack("g.a", PublishMessage::build().payload("one".into()).headers(h))
                .await
                .unwrap();
            assert_eq!(ack.sequence, 1);
            s.ack("g.b", PublishMessage::build().payload("two".into()))
                .await
                .unwrap();
            s.ack("g.a", PublishMessage::build().payload("three".into()))
                .await
                .unwrap();

            let stream = within("get_stream", s.js.get_stream("G")).await.unwrap();
            let m = within("get 1", stream.get_raw_message(1)).await.expect("get 1");
            assert_eq!(m.sequence, 1);
            assert_eq!(m.subject.as_str(), "g.a");
            assert_eq!(m.payload, "one");
            assert_eq!(m.headers.get("X-Test").map(|v| v.as_str()), Some("1"));
            let m = within("last g.a", stream.get_last_raw_message_by_subject("g.a"))
                .await
                .expect("last g.a");
            assert_eq!((m.sequence, m.payload.as_ref()), (3, b"three".as_ref()));
            let m = within("last g.b", stream.get_last_raw_message_by_subject("g.b"))
                .await
                .expect("last g.b");
            assert_eq!((m.sequence, m.payload.as_ref()), (2, b"two".as_ref()));

            // Raw replies.
            let r = s.msg_get("G", json!({"seq": 2})).await;
            assert_json_includes(
                &r,
                &json!({"type": "io.nats.jetstream.api.v1.stream_msg_get_response",
                        "message": {"subject": "g.b", "seq": 2, "data": "dHdv"}}),
            );
            assert!(r["message"]["time"].is_string(), "{r}");
            assert!(r["message"].get("hdrs").is_none(), "{r}");
            let r = s.msg_get("G", json!({"seq": 1})).await;
            assert_eq!(
                r["message"]["hdrs"], "TkFUUy8xLjANClgtVGVzdDogMQ0KDQo=",
                "NATS/1.0\\r\\nX-Test: 1\\r\\n\\r\\n: {r}"
            );
            let r = s.msg_get("G", json!({"last_by_subj": "g.a"})).await;
            assert_json_includes(&r, &json!({"message": {"subject": "g.a", "seq": 3}}));

            // Misses and bad requests.
            let r = s.msg_get("G", json!({"seq": 99})).await;
            assert_eq!(
                r,
                json!({"type": "io.nats.jetstream.api.v1.stream_msg_get_response",
                       "error": no_message()})
            );
            let r = s.msg_get("G", json!({"last_by_subj": "g.zz"})).await;
            assert_eq!(r["error"], no_message());
            let r = s.msg_get("G", json!({"seq": 0})).await;
            assert_eq!(r["error"], error_json(400, 10003, "bad request"));
            let r = s.msg_get("G", json!({"seq": 1, "last_by_subj": "g.a"})).await;
            assert_eq!(r["error"], error_json(400, 10003, "bad request"));
            let r = s.msg_get("NOPE", json!({"seq": 1})).await;
            assert_eq!(r["error"], error_json(404, 10059, "stream not found"));
            assert!(within("get 99", stream.get_raw_message(99)).await.is_err());
        })
        .await
    }
);

both_async!(
    async fn direct_get(kind) {
        bounded(async {
            let s = setup(kind).await;
            let r = s
                .create(json!({"name": "DG", "subjects": ["dg.*"], "allow_direct": true}))
                .await;
            assert_eq!(r["config"]["allow_direct"], true, "{r}");
            s.publish_ok("DG", "dg.a", &[("Nats-Msg-Id", "id1")], 1).await;
            s.publish_ok("DG", "dg.b", &[], 2).await;
            let stream = within("get_stream", s.js.get_stream("DG")).await.unwrap();
            let m = within("direct get 1", stream.direct_get(1))
                .await
                .expect("direct get 1");
            assert_eq!(m.sequence, 1);
            assert_eq!(m.subject.as_str(), "dg.a");
            assert_eq!(m.payload, "x");
            assert_eq!(m.headers.get("Nats-Msg-Id").map(|v| v.as_str()), Some("id1"));
            let m = within("direct last", stream.direct_get_last_for_subject("dg.b"))
                .await
                .expect("direct last dg.b");
            assert_eq!(m.sequence, 2);
            // The raw reply carries the message's coordinates as headers.
            let reply = within(
                "raw direct get",
                s.client.request("$JS.API.DIRECT.GET.DG", r#"{"seq":2}"#.into()),
            )
            .await
            .expect("raw direct get");
            let h = reply.headers.expect("direct get reply has headers");
            assert_eq!(h.get("Nats-Stream").map(|v| v.as_str()), Some("DG"));
            assert_eq!(h.get("Nats-Subject").map(|v| v.as_str()), Some("dg.b"));
            assert_eq!(h.get("Nats-Sequence").map(|v| v.as_str()), Some("2"));
            assert!(h.get("Nats-Time-Stamp").is_some());
            assert_eq!(reply.payload, "x");
            // A miss is a 404 status message, not JSON.
            let reply = within(
                "raw direct miss",
                s.client.request("$JS.API.DIRECT.GET.DG", r#"{"seq":20}"#.into()),
            )
            .await
            .expect("raw direct miss");
            assert_eq!(reply.status, Some(StatusCode::NOT_FOUND));
            assert!(reply.payload.is_empty());
        })
        .await
    }
);

both_async!(
    async fn delete_message(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "DM", "subjects": ["dm"]})).await;
            for seq in 1..=4 {
                s.publish_ok("DM", "dm", &[], seq).await;
            }
            let stream = within("get_stream", s.js.get_stream("DM")).await.unwrap();
            assert!(within("delete 2", stream.delete_message(2)).await.expect("delete 2"));
            let st = s.state("DM").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (3, 1, 4));
            assert_eq!(s.msg_get("DM", json!({"seq": 2})).await["error"], no_message());
            // Deleting it again.
            let r = s
                .api("$JS.API.STREAM.MSG.DELETE.DM", r#"{"seq":2}"#)
                .await;
            assert_eq!(
                r,
                json!({"type": "io.nats.jetstream.api.v1.stream_msg_delete_response",
                       "error": error_json(400, 10043, "sequence 2 not found")})
            );
            assert!(within("delete 2 again", stream.delete_message(2)).await.is_err());
            // The first and the last: first_seq moves, last_seq does not.
            let r = s
                .api("$JS.API.STREAM.MSG.DELETE.DM", r#"{"seq":1}"#)
                .await;
            assert_eq!(
                r,
                json!({"type": "io.nats.jetstream.api.v1.stream_msg_delete_response",
                       "success": true})
            );
            assert!(within("delete 4", stream.delete_message(4)).await.expect("delete 4"));
            let st = s.state("DM").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (1, 3, 4));
            s.publish_ok("DM", "dm", &[], 5).await;
            // Past the end, and no such stream.
            let r = s
                .api("$JS.API.STREAM.MSG.DELETE.DM", r#"{"seq":60}"#)
                .await;
            // (nats-server 2.9's answer here depends on the storage type: file says
            // 500/10057 "stream store EOF", memory 400/10043 "sequence 60 not found".)
            let e = (&r["error"]["code"], &r["error"]["err_code"]);
            assert!(
                e == (&json!(500), &json!(10057)) || e == (&json!(400), &json!(10043)),
                "{r}"
            );
            assert!(r.get("success").is_none(), "{r}");
            let r = s
                .api("$JS.API.STREAM.MSG.DELETE.NOPE", r#"{"seq":1}"#)
                .await;
            assert_eq!(r["error"], error_json(404, 10059, "stream not found"));
        })
        .await
    }
);

both_async!(
    async fn dedup_by_msg_id(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "DD", "subjects": ["dd"]})).await;
            let a1 = s
                .ack("dd", PublishMessage::build().payload("1".into()).message_id("m1"))
                .await
                .unwrap();
            assert_eq!((a1.sequence, a1.duplicate), (1, false));
            let a2 = s
                .ack("dd", PublishMessage::build().payload("1".into()).message_id("m1"))
                .await
                .unwrap();
            assert_eq!((a2.sequence, a2.duplicate), (1, true), "{a2:?}");
            assert_eq!(a2.stream, "DD");
            let st = s.state("DD").await;
            assert_eq!((st.messages, st.last_sequence), (1, 1));

            s.publish_ok("DD", "dd", &[("Nats-Msg-Id", "m2")], 2).await;
            s.publish_ok("DD", "dd", &[], 3).await;
            // The raw duplicate ack.
            let r = s.publish("dd", &[("Nats-Msg-Id", "m1")], "again").await;
            assert_eq!(r, json!({"stream": "DD", "seq": 1, "duplicate": true}));
            let r = s.publish("dd", &[("Nats-Msg-Id", "m2")], "again").await;
            assert_eq!(r, json!({"stream": "DD", "seq": 2, "duplicate": true}));
            let st = s.state("DD").await;
            assert_eq!((st.messages, st.last_sequence), (3, 3));
            // The stored message is the first one.
            let r = s.msg_get("DD", json!({"seq": 1})).await;
            assert_eq!(r["message"]["data"], "MQ==", "{r}");
        })
        .await
    }
);

both_async!(
    async fn expected_headers_accept(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "E", "subjects": ["e.*"]})).await;
            s.create(json!({"name": "E2", "subjects": ["f.*"]})).await;
            let b = || PublishMessage::build().payload("x".into());
            let seq = |r: Result<PublishAck, PublishError>| r.expect("accepted").sequence;

            assert_eq!(seq(s.ack("e.a", b().message_id("m1")).await), 1);
            assert_eq!(seq(s.ack("e.a", b().expected_last_message_id("m1")).await), 2);
            assert_eq!(seq(s.ack("e.a", b().expected_stream("E")).await), 3);
            assert_eq!(seq(s.ack("e.b", b().expected_last_sequence(3)).await), 4);
            assert_eq!(seq(s.ack("e.a", b().expected_last_subject_sequence(3)).await), 5);
            // A subject with no messages yet has last subject sequence 0.
            assert_eq!(seq(s.ack("e.c", b().expected_last_subject_sequence(0)).await), 6);
            // Raw, several at once.
            s.publish_ok(
                "E",
                "e.b",
                &[
                    ("Nats-Expected-Stream", "E"),
                    ("Nats-Expected-Last-Sequence", "6"),
                    ("Nats-Expected-Last-Subject-Sequence", "4"),
                    ("Nats-Msg-Id", "m2"),
                ],
                7,
            )
            .await;
            s.publish_ok("E", "e.b", &[("Nats-Expected-Last-Msg-Id", "m2")], 8).await;
            s.publish_ok("E2", "f.a", &[("Nats-Expected-Last-Sequence", "0")], 1)
                .await;
            let st = s.state("E").await;
            assert_eq!((st.messages, st.last_sequence), (8, 8));
        })
        .await
    }
);

both_async!(
    async fn expected_headers_reject(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "E", "subjects": ["e.*"]})).await;
            s.publish_ok("E", "e.a", &[], 1).await;
            s.publish_ok("E", "e.b", &[("Nats-Msg-Id", "m1")], 2).await;

            for (headers, err) in [
                (
                    ("Nats-Expected-Stream", "OTHER"),
                    error_json(400, 10060, "expected stream does not match"),
                ),
                (
                    ("Nats-Expected-Last-Sequence", "1"),
                    error_json(400, 10071, "wrong last sequence: 2"),
                ),
                (
                    ("Nats-Expected-Last-Subject-Sequence", "2"),
                    error_json(400, 10071, "wrong last sequence: 1"),
                ),
                (
                    ("Nats-Expected-Last-Msg-Id", "zz"),
                    error_json(400, 10070, "wrong last msg ID: m1"),
                ),
            ] {
                let r = s.publish("e.a", &[headers], "x").await;
                assert_eq!(r["error"], err, "{headers:?}: {r}");
                assert_eq!(r["stream"], "E", "{headers:?}: {r}");
            }
            // A subject without messages: expected 1 is wrong, its last is 0.
            let r = s
                .publish("e.new", &[("Nats-Expected-Last-Subject-Sequence", "1")], "x")
                .await;
            assert_eq!(r["error"], error_json(400, 10071, "wrong last sequence: 0"), "{r}");
            // Nothing was stored.
            let st = s.state("E").await;
            assert_eq!((st.messages, st.last_sequence), (2, 2));

            // async-nats maps these to its error kinds.
            let b = || PublishMessage::build().payload("x".into());
            let err = s.ack("e.a", b().expected_last_sequence(7)).await.unwrap_err();
            assert_eq!(err.kind(), PublishErrorKind::WrongLastSequence);
            let err = s
                .ack("e.a", b().expected_last_subject_sequence(7))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), PublishErrorKind::WrongLastSequence);
            let err = s.ack("e.a", b().expected_last_message_id("nope")).await.unwrap_err();
            assert_eq!(err.kind(), PublishErrorKind::WrongLastMessageId);
            let err = s.ack("e.a", b().expected_stream("X")).await.unwrap_err();
            assert_eq!(err.kind(), PublishErrorKind::Other);
            let st = s.state("E").await;
            assert_eq!((st.messages, st.last_sequence), (2, 2));
        })
        .await
    }
);

/// The two storage types, for tests that run the same checks on each.
const STORAGES: [&str; 2] = ["file", "memory"];

both_async!(
    async fn max_msgs_discard_old(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("MO_{storage}");
                let subj = format!("mo.{storage}");
                s.create(json!({"name": name, "subjects": [subj], "max_msgs": 3,
                                "storage": storage}))
                    .await;
                for seq in 1..=5 {
                    s.publish_ok(&name, &subj, &[], seq).await;
                }
                let st = s.state(&name).await;
                assert_eq!(
                    (st.messages, st.first_sequence, st.last_sequence),
                    (3, 3, 5),
                    "{storage}"
                );
                for seq in [1, 2] {
                    let r = s.msg_get(&name, json!({"seq": seq})).await;
                    assert_eq!(r["error"], no_message(), "{storage} seq {seq}");
                }
            }
        })
        .await
    }
);

both_async!(
    async fn max_msgs_discard_new(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("MN_{storage}");
                let subj = format!("mn.{storage}");
                let r = s
                    .create(json!({"name": name, "subjects": [subj], "max_msgs": 2,
                                   "discard": "new", "storage": storage}))
                    .await;
                assert_eq!(r["config"]["discard"], "new");
                s.publish_ok(&name, &subj, &[], 1).await;
                s.publish_ok(&name, &subj, &[], 2).await;
                let r = s.publish(&subj, &[], "x").await;
                assert_eq!(
                    r["error"],
                    error_json(503, 10077, "maximum messages exceeded"),
                    "{storage}: {r}"
                );
                let err = s
                    .ack(&subj, PublishMessage::build().payload("x".into()))
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), PublishErrorKind::Other, "{storage}");
                let st = s.state(&name).await;
                assert_eq!(
                    (st.messages, st.first_sequence, st.last_sequence),
                    (2, 1, 2),
                    "{storage}"
                );
                // Room again after a delete.
                s.api(&format!("$JS.API.STREAM.MSG.DELETE.{name}"), r#"{"seq":1}"#)
                    .await;
                s.publish_ok(&name, &subj, &[], 3).await;
            }
        })
        .await
    }
);

both_async!(
    async fn max_bytes_discard_old(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("BO_{storage}");
                let subj = format!("bo.{storage}");
                // 100-byte payloads: two fit in 300 bytes, three do not.
                s.create(json!({"name": name, "subjects": [subj], "max_bytes": 300,
                                "storage": storage}))
                    .await;
                for seq in 1..=5 {
                    let ack = s.publish(&subj, &[], &payload(100)).await;
                    assert_eq!(ack, json!({"stream": name, "seq": seq}), "{storage}");
                }
                let st = s.state(&name).await;
                assert_eq!(
                    (st.messages, st.first_sequence, st.last_sequence),
                    (2, 4, 5),
                    "{storage}"
                );
                assert!(st.bytes > 200 && st.bytes <= 300, "{storage}: {st:?}");
            }
        })
        .await
    }
);

both_async!(
    async fn max_bytes_discard_new(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("BN_{storage}");
                let subj = format!("bn.{storage}");
                s.create(json!({"name": name, "subjects": [subj], "max_bytes": 300,
                                "discard": "new", "storage": storage}))
                    .await;
                for seq in 1..=2 {
                    let ack = s.publish(&subj, &[], &payload(100)).await;
                    assert_eq!(ack, json!({"stream": name, "seq": seq}), "{storage}");
                }
                let r = s.publish(&subj, &[], &payload(100)).await;
                assert_eq!(
                    r["error"],
                    error_json(503, 10077, "maximum bytes exceeded"),
                    "{storage}: {r}"
                );
                let st = s.state(&name).await;
                assert_eq!(
                    (st.messages, st.first_sequence, st.last_sequence),
                    (2, 1, 2),
                    "{storage}"
                );
            }
        })
        .await
    }
);

both_async!(
    async fn max_msgs_per_subject(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("PS_{storage}");
                s.create(json!({"name": name, "subjects": [format!("ps.{storage}.*")],
                                "max_msgs_per_subject": 2, "storage": storage}))
                    .await;
                let a = format!("ps.{storage}.a");
                let b = format!("ps.{storage}.b");
                for (seq, subj) in [(1, &a), (2, &a), (3, &b), (4, &a), (5, &a)] {
                    s.publish_ok(&name, subj, &[], seq).await;
                }
                let st = s.state(&name).await;
                assert_eq!(
                    (st.messages, st.first_sequence, st.last_sequence, st.subjects_count),
                    (3, 3, 5, 2),
                    "{storage}"
                );
                for seq in [1, 2] {
                    let r = s.msg_get(&name, json!({"seq": seq})).await;
                    assert_eq!(r["error"], no_message(), "{storage} seq {seq}");
                }
            }
        })
        .await
    }
);

both_async!(
    async fn max_msg_size(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("SZ_{storage}");
                let subj = format!("sz.{storage}");
                let r = s
                    .create(json!({"name": name, "subjects": [subj], "max_msg_size": 10,
                                   "storage": storage}))
                    .await;
                assert_eq!(r["config"]["max_msg_size"], 10);
                let ack = s.publish(&subj, &[], &payload(10)).await;
                assert_eq!(ack, json!({"stream": name, "seq": 1}), "{storage}");
                let too_big = error_json(400, 10054, "message size exceeds maximum allowed");
                let r = s.publish(&subj, &[], &payload(11)).await;
                assert_eq!(r["error"], too_big, "{storage}: {r}");
                // Headers count towards the size.
                let r = s.publish(&subj, &[("A", "bbbbbbb")], &payload(5)).await;
                assert_eq!(r["error"], too_big, "{storage}: {r}");
                let st = s.state(&name).await;
                assert_eq!((st.messages, st.last_sequence), (1, 1), "{storage}");
            }
        })
        .await
    }
);

both_async!(
    async fn max_age_expiry(kind) {
        bounded(async {
            let s = setup(kind).await;
            for storage in STORAGES {
                let name = format!("AGE_{storage}");
                let subj = format!("age.{storage}");
                let r = s
                    .create(json!({"name": name, "subjects": [subj],
                                   "max_age": 1_000_000_000u64, "storage": storage}))
                    .await;
                // The duplicate window can't exceed max_age: it is lowered to it.
                assert_json_includes(
                    &r,
                    &json!({"config": {"max_age": 1_000_000_000u64,
                                       "duplicate_window": 1_000_000_000u64}}),
                );
                let start = Instant::now();
                for seq in 1..=3 {
                    s.publish_ok(&name, &subj, &[], seq).await;
                }
                assert_eq!(s.state(&name).await.messages, 3, "{storage}");
                // Gone after about a second; not before.
                loop {
                    let st = s.state(&name).await;
                    let age = start.elapsed();
                    if st.messages == 0 {
                        assert!(age >= Duration::from_millis(900), "{storage}: gone at {age:?}");
                        assert_eq!((st.first_sequence, st.last_sequence), (4, 3), "{storage}");
                        break;
                    }
                    assert!(
                        age < Duration::from_millis(2500),
                        "{storage}: still {st:?} after {age:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                // New messages are kept and numbered on.
                s.publish_ok(&name, &subj, &[], 4).await;
                assert_eq!(s.state(&name).await.messages, 1, "{storage}");
            }
        })
        .await
    }
);

both_async!(
    async fn memory_and_file_storage(kind) {
        bounded(async {
            let s = setup(kind).await;
            for (name, storage, want) in [
                ("MEM", "memory", StorageType::Memory),
                ("FILE", "file", StorageType::File),
            ] {
                let subj = format!("st.{storage}");
                let r = s
                    .create(json!({"name": name, "subjects": [subj], "storage": storage}))
                    .await;
                assert_eq!(r["config"]["storage"], storage);
                for seq in 1..=3 {
                    s.publish_ok(name, &subj, &[("Nats-Msg-Id", &format!("{seq}"))], seq)
                        .await;
                }
                let r = s.publish(&subj, &[("Nats-Msg-Id", "2")], "x").await;
                assert_eq!(r, json!({"stream": name, "seq": 2, "duplicate": true}));
                let stream = within("get_stream", s.js.get_stream(name)).await.unwrap();
                assert_eq!(stream.cached_info().config.storage, want);
                let st = &stream.cached_info().state;
                assert_eq!((st.messages, st.first_sequence, st.last_sequence), (3, 1, 3));
                assert!(st.bytes > 0);
                let m = within("get", stream.get_raw_message(2)).await.expect("get 2");
                assert_eq!((m.subject.as_str(), m.payload.as_ref()), (subj.as_str(), b"x".as_ref()));
                let r = within("purge", stream.purge()).await.unwrap();
                assert_eq!(r.purged, 3);
            }
        })
        .await
    }
);

both_async!(
    async fn stream_not_found(kind) {
        bounded(async {
            let s = setup(kind).await;
            let nf = error_json(404, 10059, "stream not found");
            for (subject, body, kind_name) in [
                ("$JS.API.STREAM.INFO.NOPE", "", "stream_info_response"),
                ("$JS.API.STREAM.DELETE.NOPE", "", "stream_delete_response"),
                ("$JS.API.STREAM.PURGE.NOPE", "", "stream_purge_response"),
                ("$JS.API.STREAM.UPDATE.NOPE", r#"{"name":"NOPE"}"#, "stream_update_response"),
                ("$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#, "stream_msg_get_response"),
                ("$JS.API.STREAM.MSG.DELETE.NOPE", r#"{"seq":1}"#, "stream_msg_delete_response"),
            ] {
                let r = s.api(subject, body).await;
                assert_eq!(r["error"], nf, "{subject}: {r}");
                assert_eq!(
                    r["type"],
                    format!("io.nats.jetstream.api.v1.{kind_name}"),
                    "{subject}: {r}"
                );
            }
            let err = within("get_stream", s.js.get_stream("NOPE"))
                .await
                .expect_err("no such stream");
            assert!(err.to_string().contains("stream not found"), "{err}");
        })
        .await
    }
);

both_async!(
    async fn malformed_json_is_answered(kind) {
        bounded(async {
            let s = setup(kind).await;
            s.create(json!({"name": "OK", "subjects": ["ok"]})).await;
            let bad = error_json(400, 10025, "invalid JSON");
            for (subject, body, kind_name) in [
                ("$JS.API.STREAM.CREATE.X", "{not json", "stream_create_response"),
                ("$JS.API.STREAM.CREATE.X", "", "stream_create_response"),
                ("$JS.API.STREAM.CREATE.X", "[1,2]", "stream_create_response"),
                (
                    "$JS.API.STREAM.CREATE.X",
                    r#"{"name":"X","storage":"disk"}"#,
                    "stream_create_response",
                ),
                (
                    "$JS.API.STREAM.CREATE.X",
                    r#"{"name":"X","max_msgs":"many"}"#,
                    "stream_create_response",
                ),
                ("$JS.API.STREAM.UPDATE.OK", "{not json", "stream_update_response"),
                ("$JS.API.STREAM.INFO.OK", "{not json", "stream_info_response"),
                ("$JS.API.STREAM.PURGE.OK", "{not json", "stream_purge_response"),
                ("$JS.API.STREAM.MSG.GET.OK", "{not json", "stream_msg_get_response"),
                ("$JS.API.STREAM.MSG.DELETE.OK", "{not json", "stream_msg_delete_response"),
                ("$JS.API.STREAM.NAMES", "{not json", "stream_names_response"),
                ("$JS.API.STREAM.LIST", "{not json", "stream_list_response"),
            ] {
                let r = s.api(subject, body).await;
                assert_eq!(r["error"], bad, "{subject} {body:?}: {r}");
                assert_eq!(
                    r["type"],
                    format!("io.nats.jetstream.api.v1.{kind_name}"),
                    "{subject}: {r}"
                );
            }
            // STREAM.DELETE takes no body at all.
            let r = s.api("$JS.API.STREAM.DELETE.OK", "{not json").await;
            assert_eq!(
                r["error"],
                error_json(400, 10038, "expected an empty request payload"),
                "{r}"
            );
            // (`{}` counts as empty.)
            let r = s.api("$JS.API.STREAM.CREATE.TMP", r#"{"name":"TMP"}"#).await;
            assert!(r.get("error").is_none(), "{r}");
            let r = s.api("$JS.API.STREAM.DELETE.TMP", "{}").await;
            assert_eq!(r["success"], true, "{r}");
            // Nothing was created, and the server still works.
            let r = s.info("X").await;
            assert_eq!(r["error"]["err_code"], 10059, "{r}");
            s.publish_ok("OK", "ok", &[], 1).await;
        })
        .await
    }
);

both_async!(
    async fn replicas_need_a_cluster(kind) {
        bounded(async {
            let s = setup(kind).await;
            let r = s
                .api(
                    "$JS.API.STREAM.CREATE.R3",
                    r#"{"name":"R3","subjects":["r3"],"num_replicas":3}"#,
                )
                .await;
            assert_eq!(
                r,
                json!({
                    "type": "io.nats.jetstream.api.v1.stream_create_response",
                    "error": error_json(500, 10074,
                        "replicas > 1 not supported in non-clustered mode"),
                })
            );
            let err = within(
                "create_stream R3",
                s.js.create_stream(Config {
                    name: "R3".into(),
                    num_replicas: 3,
                    ..Default::default()
                }),
            )
            .await
            .expect_err("R3 must fail");
            assert!(err.to_string().contains("10074"), "{err}");
            assert_eq!(s.info("R3").await["error"]["err_code"], 10059);
            // One replica is fine.
            s.create(json!({"name": "R1", "subjects": ["r1"], "num_replicas": 1}))
                .await;
        })
        .await
    }
);

both_async!(
    async fn rollup(kind) {
        bounded(async {
            let s = setup(kind).await;
            let r = s
                .create(json!({"name": "RU", "subjects": ["ru.*"], "allow_rollup_hdrs": true}))
                .await;
            assert_eq!(r["config"]["allow_rollup_hdrs"], true);
            for (seq, subj) in [(1, "ru.a"), (2, "ru.a"), (3, "ru.b"), (4, "ru.a")] {
                s.publish_ok("RU", subj, &[], seq).await;
            }
            // Roll up one subject: only the newest ru.a is left; ru.b is untouched.
            s.publish_ok("RU", "ru.a", &[("Nats-Rollup", "sub")], 5).await;
            let st = s.state("RU").await;
            assert_eq!(
                (st.messages, st.first_sequence, st.last_sequence, st.subjects_count),
                (2, 3, 5, 2)
            );
            for seq in [1, 2, 4] {
                assert_eq!(s.msg_get("RU", json!({"seq": seq})).await["error"], no_message());
            }
            let r = s.msg_get("RU", json!({"last_by_subj": "ru.a"})).await;
            assert_eq!(r["message"]["seq"], 5, "{r}");
            let r = s.msg_get("RU", json!({"last_by_subj": "ru.b"})).await;
            assert_eq!(r["message"]["seq"], 3, "{r}");
            // Roll up everything.
            s.publish_ok("RU", "ru.c", &[("Nats-Rollup", "all")], 6).await;
            let st = s.state("RU").await;
            assert_eq!((st.messages, st.first_sequence, st.last_sequence), (1, 6, 6));

            // Not allowed without allow_rollup_hdrs.
            s.create(json!({"name": "NR", "subjects": ["nr"]})).await;
            s.publish_ok("NR", "nr", &[], 1).await;
            let r = s.publish("nr", &[("Nats-Rollup", "sub")], "x").await;
            assert_eq!(r["error"], error_json(500, 10111, "rollup not permitted"), "{r}");
            let st = s.state("NR").await;
            assert_eq!((st.messages, st.last_sequence), (1, 1));
        })
        .await
    }
);

/// Tests of features nats-server 2.9 does not have (2.11's per-message TTL), so there is no
/// reference half: these run against sluice only. Expected codes are nats-server 2.11's.
mod sluice_only {
    use super::*;

    /// Starts sluice with JetStream.
    async fn sluice() -> Js {
        setup(Kind::Sluice).await
    }

    #[tokio::test]
    async fn msg_ttl_expires_only_that_message() {
        bounded(async {
            let s = sluice().await;
            // async-nats's Config has the field, but go raw to be explicit about the JSON.
            let r = s
                .create(json!({"name": "TTL", "subjects": ["ttl.*"], "allow_msg_ttl": true}))
                .await;
            assert_eq!(r["config"]["allow_msg_ttl"], true, "{r}");
            let start = Instant::now();
            s.publish_ok("TTL", "ttl.short", &[("Nats-TTL", "1s")], 1)
                .await;
            s.publish_ok("TTL", "ttl.keep", &[], 2).await;
            assert_eq!(s.state("TTL").await.messages, 2);
            loop {
                let r = s.msg_get("TTL", json!({"seq": 1})).await;
                let age = start.elapsed();
                if r.get("error").is_some() {
                    assert_eq!(r["error"], no_message());
                    assert!(age >= Duration::from_millis(900), "expired at {age:?}");
                    break;
                }
                assert!(
                    age < Duration::from_millis(2500),
                    "still there after {age:?}: {r}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let st = s.state("TTL").await;
            assert_eq!(
                (st.messages, st.first_sequence, st.last_sequence),
                (1, 2, 2)
            );
            let r = s.msg_get("TTL", json!({"last_by_subj": "ttl.keep"})).await;
            assert_eq!(r["message"]["seq"], 2, "{r}");
        })
        .await
    }

    #[tokio::test]
    async fn first_seq_starts_the_stream_there() {
        bounded(async {
            let s = sluice().await;
            let r = s
                .create(json!({"name": "FS", "subjects": ["fs"], "first_seq": 100}))
                .await;
            assert_eq!(r["config"]["first_seq"], 100, "{r}");
            s.publish_ok("FS", "fs", &[], 100).await;
            s.publish_ok("FS", "fs", &[], 101).await;
            let st = s.state("FS").await;
            assert_eq!(
                (st.messages, st.first_sequence, st.last_sequence),
                (2, 100, 101)
            );
            assert_eq!(
                s.msg_get("FS", json!({"seq": 100})).await["message"]["seq"],
                100
            );
        })
        .await
    }

    #[tokio::test]
    async fn metadata_is_kept_and_updated() {
        bounded(async {
            let s = sluice().await;
            let r = s
                .create(json!({"name": "MD", "subjects": ["md"],
                               "metadata": {"owner": "team-a", "tier": "gold"}}))
                .await;
            assert_json_includes(
                &r,
                &json!({"config": {"metadata": {"owner": "team-a", "tier": "gold"}}}),
            );
            let r = s
                .api_json(
                    "$JS.API.STREAM.UPDATE.MD",
                    &json!({"name": "MD", "subjects": ["md"], "metadata": {"owner": "team-b"}}),
                )
                .await;
            assert!(r.get("error").is_none(), "{r}");
            assert_eq!(r["config"]["metadata"]["owner"], "team-b", "{r}");
            assert!(r["config"]["metadata"].get("tier").is_none(), "{r}");
            assert_json_includes(
                &s.info("MD").await,
                &json!({"config": {"metadata": {"owner": "team-b"}}}),
            );
        })
        .await
    }

    #[tokio::test]
    async fn msg_ttl_rejected_unless_allowed() {
        bounded(async {
            let s = sluice().await;
            s.create(json!({"name": "NOTTL", "subjects": ["nt"]})).await;
            let r = s.publish("nt", &[("Nats-TTL", "1s")], "x").await;
            assert_eq!(
                r["error"],
                error_json(400, 10166, "per-message TTL is disabled"),
                "{r}"
            );
            let st = s.state("NOTTL").await;
            assert_eq!(st.messages, 0);
            s.publish_ok("NOTTL", "nt", &[], 1).await;
        })
        .await
    }
}
