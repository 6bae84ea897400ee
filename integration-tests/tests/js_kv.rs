//! JetStream key-value buckets, black-box, through async-nats's `jetstream::kv` API: a bucket is
//! a stream `KV_<bucket>` on `$KV.<bucket>.>`, a key's revisions are its stream sequences, and
//! deletes and purges are marker messages (`KV-Operation: DEL` / `PURGE`, the latter a subject
//! rollup). Reads go through direct get, `history`/`keys` through ordered push consumers
//! (`keys` with `headers_only` and deliver policy `last_per_subject`), watches through ordered
//! push consumers too (`watch`/`watch_all` deliver only new entries; `watch_with_history` starts
//! with the current value of each key).
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's (v2.9.10) behaviour.
//! Every wait is bounded: each await goes through [`within`], and each body through [`bounded`].

use async_nats::jetstream::kv::{
    self, CreateErrorKind, EntryErrorKind, Operation, PutErrorKind, UpdateErrorKind,
};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{
    self,
    context::{CreateKeyValueErrorKind, KeyValueErrorKind},
};
use async_nats::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use integration_tests::client::{self, JsNode};
use integration_tests::js::kill9_and_restart;
use integration_tests::{both_async, Kind};
use std::future::{Future, IntoFuture};
use std::ops::Deref;
use std::time::{Duration, Instant};

/// The longest any single wait may take.
const STEP: Duration = Duration::from_secs(5);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(30);

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

async fn connect(url: &str) -> (Client, jetstream::Context) {
    let client = client::connect_fast_reconnect_for(STEP, url).await;
    let js = jetstream::new(client.clone());
    (client, js)
}

/// Starts a broker of `kind` with `-js -sd <fresh dir>` and connects.
async fn setup(kind: Kind) -> Js {
    Js(JsNode::start(kind, "kv", STEP, true).await)
}

impl Js {
    /// Creates the file bucket `bucket` keeping `history` revisions per key.
    async fn bucket(&self, bucket: &str, history: i64) -> kv::Store {
        self.bucket_with(kv::Config {
            bucket: bucket.into(),
            history,
            storage: StorageType::File,
            ..Default::default()
        })
        .await
    }

    /// Creates a bucket: with `create_key_value` on Sluice; on nats-server v2.9.10, whose account
    /// info async-nats 0.51 cannot read (see [`bucket_is_a_stream`]), by creating the stream
    /// `create_key_value` would create and opening it with `get_key_value`.
    async fn bucket_with(&self, config: kv::Config) -> kv::Store {
        let name = config.bucket.clone();
        match self.broker.kind {
            Kind::Sluice => within("create_key_value", self.js.create_key_value(config))
                .await
                .unwrap_or_else(|e| panic!("create bucket {name}: {e}")),
            Kind::NatsServer => {
                within(
                    "create_stream",
                    self.js.create_stream(kv_stream_config(&config)),
                )
                .await
                .unwrap_or_else(|e| panic!("create stream for bucket {name}: {e}"));
                within("get_key_value", self.js.get_key_value(name.clone()))
                    .await
                    .unwrap_or_else(|e| panic!("open bucket {name}: {e}"))
            }
        }
    }
}

/// The stream config async-nats 0.51's `create_key_value` sends for `config` (its
/// `kv_to_stream_config`, for a bucket without mirror or sources).
fn kv_stream_config(config: &kv::Config) -> stream::Config {
    stream::Config {
        name: format!("KV_{}", config.bucket),
        description: Some(config.description.clone()),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: config.history.max(1),
        max_bytes: config.max_bytes,
        max_age: config.max_age,
        max_message_size: config.max_value_size,
        storage: config.storage,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        num_replicas: config.num_replicas.max(1),
        discard: DiscardPolicy::New,
        ..Default::default()
    }
}

/// Puts `value` under `key`; its revision.
async fn put(kv: &kv::Store, key: &str, value: &str) -> u64 {
    within("put", kv.put(key, Bytes::from(value.to_string())))
        .await
        .unwrap_or_else(|e| panic!("put {key}={value}: {e}"))
}

/// The current value of `key`, as a string.
async fn get(kv: &kv::Store, key: &str) -> Option<String> {
    within("get", kv.get(key))
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .map(|b| String::from_utf8(b.to_vec()).expect("UTF-8 value"))
}

/// The latest entry of `key`.
async fn entry(kv: &kv::Store, key: &str) -> Option<kv::Entry> {
    within("entry", kv.entry(key))
        .await
        .unwrap_or_else(|e| panic!("entry {key}: {e}"))
}

/// An entry as (key, value, revision, operation), for comparing lists.
type Brief = (String, String, u64, Operation);

fn brief(e: &kv::Entry) -> Brief {
    (
        e.key.clone(),
        String::from_utf8(e.value.to_vec()).expect("UTF-8 value"),
        e.revision,
        e.operation,
    )
}

fn b(key: &str, value: &str, revision: u64, op: Operation) -> Brief {
    (key.into(), value.into(), revision, op)
}

/// The whole history of `key`, oldest first.
async fn history(kv: &kv::Store, key: &str) -> Vec<Brief> {
    let entries: Vec<kv::Entry> = within("history", async {
        kv.history(key)
            .await
            .unwrap_or_else(|e| panic!("history {key}: {e}"))
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("history {key} entries: {e}"))
    })
    .await;
    entries.iter().map(brief).collect()
}

/// The live keys of the bucket, sorted.
async fn keys(kv: &kv::Store) -> Vec<String> {
    let mut keys: Vec<String> = within("keys", async {
        kv.keys()
            .await
            .unwrap_or_else(|e| panic!("keys: {e}"))
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("keys entries: {e}"))
    })
    .await;
    keys.sort();
    keys
}

/// The next `n` entries from a watch.
async fn next_entries(watch: &mut kv::Watch, n: usize) -> Vec<Brief> {
    let mut out = Vec::new();
    for i in 0..n {
        let e = within(&format!("watch entry {} of {n}", i + 1), watch.next())
            .await
            .unwrap_or_else(|| panic!("watch ended after {i} entries"))
            .unwrap_or_else(|e| panic!("watch entry {}: {e}", i + 1));
        out.push(brief(&e));
    }
    out
}

/// Asserts that the watch yields nothing more for a short while.
async fn assert_quiet(watch: &mut kv::Watch) {
    if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), watch.next()).await {
        panic!("unexpected watch entry: {e:?}");
    }
}

both_async!(
    async fn bucket_is_a_stream(kind) {
        bounded(async {
            let s = setup(kind).await;
            // `create_key_value` first asks for the account info (`$JS.API.INFO`). async-nats
            // 0.51 requires `reserved_memory` and `reserved_storage` in it, which nats-server
            // v2.9.10 does not send, so there the client gives up before creating the stream
            // (`bucket_with` then creates it directly). Sluice sends them.
            if kind == Kind::NatsServer {
                let err = within(
                    "create_key_value",
                    s.js.create_key_value(kv::Config {
                        bucket: "cfg".into(),
                        history: 5,
                        ..Default::default()
                    }),
                )
                .await
                .expect_err("async-nats 0.51 cannot read v2.9.10's account info");
                assert_eq!(err.kind(), CreateKeyValueErrorKind::JetStream, "{err}");
            }
            let created = s.bucket("cfg", 5).await;
            assert_eq!(created.name, "cfg");
            assert_eq!(created.stream_name, "KV_cfg");
            let status = within("status", created.status()).await.expect("status");
            assert_eq!(status.bucket(), "cfg");
            assert_eq!(status.history(), 5);
            assert_eq!(status.values(), 0);
            assert_eq!(status.max_age(), Duration::ZERO);

            put(&created, "a", "1").await;
            put(&created, "b", "2").await;
            put(&created, "a", "3").await;

            // A fresh handle reads the stream info again.
            let found = within("get_key_value", s.js.get_key_value("cfg"))
                .await
                .expect("get_key_value finds the bucket");
            let status = within("status", found.status()).await.expect("status");
            assert_eq!(status.bucket(), "cfg");
            assert_eq!(status.history(), 5);
            assert_eq!(status.values(), 3);
            assert_eq!(status.max_age(), Duration::ZERO);
            assert_eq!(get(&found, "a").await.as_deref(), Some("3"));

            let mut stream = within("get_stream", s.js.get_stream("KV_cfg"))
                .await
                .expect("backing stream KV_cfg");
            let info = within("stream info", stream.info()).await.expect("info");
            let c = &info.config;
            assert_eq!(c.name, "KV_cfg");
            assert_eq!(c.subjects, vec!["$KV.cfg.>".to_string()]);
            assert_eq!(c.max_messages_per_subject, 5);
            assert!(c.allow_direct, "allow_direct");
            assert!(c.allow_rollup, "allow_rollup");
            assert!(c.deny_delete, "deny_delete");
            assert!(!c.deny_purge, "deny_purge");
            assert_eq!(c.discard, DiscardPolicy::New);
            assert_eq!(c.storage, StorageType::File);
            assert_eq!(info.state.messages, 3);
            assert_eq!(info.state.last_sequence, 3);
        })
        .await
    }
);

both_async!(
    async fn put_get_entry_and_revisions(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("pg", 5).await;
            assert_eq!(get(&kv, "missing").await, None);
            assert!(entry(&kv, "missing").await.is_none());

            assert_eq!(put(&kv, "a", "one").await, 1);
            assert_eq!(put(&kv, "b", "bee").await, 2);
            assert_eq!(put(&kv, "a", "two").await, 3);
            assert_eq!(put(&kv, "x.y.z", "dotted").await, 4);

            assert_eq!(get(&kv, "a").await.as_deref(), Some("two"));
            assert_eq!(get(&kv, "b").await.as_deref(), Some("bee"));
            assert_eq!(get(&kv, "x.y.z").await.as_deref(), Some("dotted"));
            assert_eq!(get(&kv, "x").await, None);

            let e = entry(&kv, "a").await.expect("entry a");
            assert_eq!(e.bucket, "pg");
            assert_eq!(e.key, "a");
            assert_eq!(e.value, Bytes::from_static(b"two"));
            assert_eq!(e.revision, 3);
            assert_eq!(e.operation, Operation::Put);

            // By revision: an older revision of the key, another key's revision (none), and a
            // revision past the end (none).
            let old = within("entry_for_revision", kv.entry_for_revision("a", 1))
                .await
                .expect("entry_for_revision a@1")
                .expect("a has revision 1");
            assert_eq!(brief(&old), b("a", "one", 1, Operation::Put));
            let other = within("entry_for_revision", kv.entry_for_revision("a", 2))
                .await
                .expect("entry_for_revision a@2");
            assert!(other.is_none(), "revision 2 is b's: {other:?}");
            let past = within("entry_for_revision", kv.entry_for_revision("a", 99))
                .await
                .expect("entry_for_revision a@99");
            assert!(past.is_none(), "no revision 99: {past:?}");
        })
        .await
    }
);

both_async!(
    async fn create_only_if_absent(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("cr", 5).await;
            let rev = within("create", kv.create("k", "first".into()))
                .await
                .expect("create a new key");
            assert_eq!(rev, 1);
            let err = within("create", kv.create("k", "second".into()))
                .await
                .expect_err("create on an existing key fails");
            assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
            assert_eq!(get(&kv, "k").await.as_deref(), Some("first"));

            // After a delete (and after a purge) the key may be created again: the first
            // attempt (expected last subject sequence 0) fails, and the client retries against
            // the marker's revision.
            within("delete", kv.delete("k")).await.expect("delete");
            let rev = within("create", kv.create("k", "again".into()))
                .await
                .expect("create after delete");
            assert_eq!(rev, 3);
            assert_eq!(get(&kv, "k").await.as_deref(), Some("again"));
            within("purge", kv.purge("k")).await.expect("purge");
            let rev = within("create", kv.create("k", "third".into()))
                .await
                .expect("create after purge");
            assert_eq!(rev, 5);
            assert_eq!(get(&kv, "k").await.as_deref(), Some("third"));
            let err = within("create", kv.create("k", "fourth".into()))
                .await
                .expect_err("create on an existing key fails");
            assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
        })
        .await
    }
);

both_async!(
    async fn update_checks_revision(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("up", 5).await;
            let r1 = put(&kv, "k", "v1").await;
            let r2 = put(&kv, "k", "v2").await;
            put(&kv, "other", "o").await;
            let err = within("update", kv.update("k", "stale".into(), r1))
                .await
                .expect_err("update with a stale revision fails");
            assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
            let err = within("update", kv.update("k", "future".into(), 99))
                .await
                .expect_err("update with a wrong revision fails");
            assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
            assert_eq!(get(&kv, "k").await.as_deref(), Some("v2"));

            let r4 = within("update", kv.update("k", "v3".into(), r2))
                .await
                .expect("update with the latest revision");
            assert_eq!(r4, 4);
            assert_eq!(get(&kv, "k").await.as_deref(), Some("v3"));
            let r5 = within("update", kv.update("k", "v4".into(), r4))
                .await
                .expect("update with the latest revision");
            assert_eq!(r5, 5);
            let err = within("update", kv.update("k", "v5".into(), r4))
                .await
                .expect_err("the same revision a second time fails");
            assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
            // A key that does not exist yet: only revision 0 fits.
            let err = within("update", kv.update("new", "n".into(), 1))
                .await
                .expect_err("update of a missing key with revision 1 fails");
            assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
            let r6 = within("update", kv.update("new", "n".into(), 0))
                .await
                .expect("update of a missing key with revision 0");
            assert_eq!(r6, 6);
            assert_eq!(
                history(&kv, "k").await,
                vec![
                    b("k", "v1", 1, Operation::Put),
                    b("k", "v2", 2, Operation::Put),
                    b("k", "v3", 4, Operation::Put),
                    b("k", "v4", 5, Operation::Put),
                ]
            );
        })
        .await
    }
);

both_async!(
    async fn delete_and_purge_markers(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("dp", 5).await;
            put(&kv, "d", "d1").await; // 1
            put(&kv, "d", "d2").await; // 2
            put(&kv, "p", "p1").await; // 3
            put(&kv, "p", "p2").await; // 4
            put(&kv, "keep", "k").await; // 5

            within("delete", kv.delete("d")).await.expect("delete");
            assert_eq!(get(&kv, "d").await, None);
            let e = entry(&kv, "d").await.expect("delete marker entry");
            assert_eq!(e.operation, Operation::Delete);
            assert_eq!(e.revision, 6);
            assert!(e.value.is_empty(), "{e:?}");
            // A delete keeps the history, with the marker last.
            assert_eq!(
                history(&kv, "d").await,
                vec![
                    b("d", "d1", 1, Operation::Put),
                    b("d", "d2", 2, Operation::Put),
                    b("d", "", 6, Operation::Delete),
                ]
            );

            // A purge rolls the key's history up into the marker.
            within("purge", kv.purge("p")).await.expect("purge");
            assert_eq!(get(&kv, "p").await, None);
            let e = entry(&kv, "p").await.expect("purge marker entry");
            assert_eq!(e.operation, Operation::Purge);
            assert_eq!(e.revision, 7);
            assert_eq!(history(&kv, "p").await, vec![b("p", "", 7, Operation::Purge)]);
            let old = within("entry_for_revision", kv.entry_for_revision("p", 3))
                .await
                .expect("entry_for_revision p@3");
            assert!(old.is_none(), "purged revision still there: {old:?}");

            // Other keys are untouched; the stream holds d1 d2 keep del(d) purge(p).
            assert_eq!(get(&kv, "keep").await.as_deref(), Some("k"));
            let mut stream = within("get_stream", s.js.get_stream("KV_dp"))
                .await
                .expect("get_stream");
            let info = within("stream info", stream.info()).await.expect("info");
            assert_eq!(info.state.messages, 5);
            assert_eq!(info.state.last_sequence, 7);

            // Putting after a delete brings the key back.
            assert_eq!(put(&kv, "d", "d3").await, 8);
            assert_eq!(get(&kv, "d").await.as_deref(), Some("d3"));
        })
        .await
    }
);

both_async!(
    async fn history_keeps_last_revisions(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("hist", 5).await;
            assert!(history(&kv, "h").await.is_empty(), "no history yet");
            for i in 1..=7u64 {
                assert_eq!(put(&kv, "h", &format!("v{i}")).await, i);
            }
            put(&kv, "other", "o").await; // 8
            let want: Vec<Brief> = (3..=7u64)
                .map(|i| b("h", &format!("v{i}"), i, Operation::Put))
                .collect();
            assert_eq!(history(&kv, "h").await, want);
            assert_eq!(get(&kv, "h").await.as_deref(), Some("v7"));
            let gone = within("entry_for_revision", kv.entry_for_revision("h", 2))
                .await
                .expect("entry_for_revision h@2");
            assert!(gone.is_none(), "revision 2 is past the history: {gone:?}");
            let kept = within("entry_for_revision", kv.entry_for_revision("h", 3))
                .await
                .expect("entry_for_revision h@3")
                .expect("revision 3 kept");
            assert_eq!(brief(&kept), b("h", "v3", 3, Operation::Put));

            // A bucket with history 1 keeps only the latest.
            let one = s.bucket("hist1", 1).await;
            for i in 1..=3 {
                put(&one, "h", &format!("w{i}")).await;
            }
            assert_eq!(history(&one, "h").await, vec![b("h", "w3", 3, Operation::Put)]);
        })
        .await
    }
);

both_async!(
    async fn keys_lists_live_keys(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("keys", 5).await;
            assert!(keys(&kv).await.is_empty(), "empty bucket has no keys");
            for (k, v) in [
                ("a", "1"),
                ("b", "2"),
                ("c.d", "3"),
                ("a", "4"),
                ("e", "5"),
                ("f", "6"),
            ] {
                put(&kv, k, v).await;
            }
            assert_eq!(keys(&kv).await, vec!["a", "b", "c.d", "e", "f"]);
            within("delete", kv.delete("b")).await.expect("delete");
            within("purge", kv.purge("e")).await.expect("purge");
            assert_eq!(keys(&kv).await, vec!["a", "c.d", "f"]);
            put(&kv, "b", "back").await;
            assert_eq!(keys(&kv).await, vec!["a", "b", "c.d", "f"]);
            for k in ["a", "b", "c.d", "f"] {
                within("delete", kv.delete(k)).await.expect("delete");
            }
            assert!(keys(&kv).await.is_empty(), "all keys deleted");
        })
        .await
    }
);

both_async!(
    async fn watch_sees_new_entries(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("w", 5).await;
            put(&kv, "a", "old-a").await; // 1
            put(&kv, "b", "old-b").await; // 2

            // `watch` and `watch_all` deliver only what comes after they start.
            let mut one = within("watch", kv.watch("a")).await.expect("watch a");
            let mut all = within("watch_all", kv.watch_all()).await.expect("watch_all");
            assert_quiet(&mut one).await;
            assert_quiet(&mut all).await;

            put(&kv, "a", "a2").await; // 3
            put(&kv, "b", "b2").await; // 4
            within("delete", kv.delete("a")).await.expect("delete"); // 5
            put(&kv, "c.x", "c1").await; // 6
            within("purge", kv.purge("b")).await.expect("purge"); // 7

            assert_eq!(
                next_entries(&mut one, 2).await,
                vec![
                    b("a", "a2", 3, Operation::Put),
                    b("a", "", 5, Operation::Delete),
                ]
            );
            assert_quiet(&mut one).await;
            assert_eq!(
                next_entries(&mut all, 5).await,
                vec![
                    b("a", "a2", 3, Operation::Put),
                    b("b", "b2", 4, Operation::Put),
                    b("a", "", 5, Operation::Delete),
                    b("c.x", "c1", 6, Operation::Put),
                    b("b", "", 7, Operation::Purge),
                ]
            );
            assert_quiet(&mut all).await;

            // A wildcard key watches a subtree.
            let mut tree = within("watch", kv.watch("c.>")).await.expect("watch c.>");
            put(&kv, "a", "a3").await; // 8
            put(&kv, "c.y", "c2").await; // 9
            assert_eq!(
                next_entries(&mut tree, 1).await,
                vec![b("c.y", "c2", 9, Operation::Put)]
            );
            assert_quiet(&mut tree).await;
        })
        .await
    }
);

both_async!(
    async fn watch_with_history_starts_with_current(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("wh", 5).await;
            put(&kv, "a", "a1").await; // 1
            put(&kv, "b", "b1").await; // 2
            put(&kv, "a", "a2").await; // 3
            put(&kv, "c", "c1").await; // 4
            within("delete", kv.delete("c")).await.expect("delete"); // 5

            // One key: its latest entry, then live updates.
            let mut one = within("watch_with_history", kv.watch_with_history("a"))
                .await
                .expect("watch_with_history a");
            assert_eq!(
                next_entries(&mut one, 1).await,
                vec![b("a", "a2", 3, Operation::Put)]
            );
            assert_quiet(&mut one).await;

            // All keys: the latest entry of each (a delete marker included), in stream order.
            let mut all = within("watch_with_history", kv.watch_with_history(">"))
                .await
                .expect("watch_with_history >");
            assert_eq!(
                next_entries(&mut all, 3).await,
                vec![
                    b("b", "b1", 2, Operation::Put),
                    b("a", "a2", 3, Operation::Put),
                    b("c", "", 5, Operation::Delete),
                ]
            );
            assert_quiet(&mut all).await;

            put(&kv, "a", "a3").await; // 6
            within("delete", kv.delete("a")).await.expect("delete"); // 7
            put(&kv, "b", "b2").await; // 8
            assert_eq!(
                next_entries(&mut one, 2).await,
                vec![
                    b("a", "a3", 6, Operation::Put),
                    b("a", "", 7, Operation::Delete),
                ]
            );
            assert_eq!(
                next_entries(&mut all, 3).await,
                vec![
                    b("a", "a3", 6, Operation::Put),
                    b("a", "", 7, Operation::Delete),
                    b("b", "b2", 8, Operation::Put),
                ]
            );
            assert_quiet(&mut one).await;
            assert_quiet(&mut all).await;

            // On a key with no entries: nothing until the first put.
            let mut fresh = within("watch_with_history", kv.watch_with_history("z"))
                .await
                .expect("watch_with_history z");
            assert_quiet(&mut fresh).await;
            put(&kv, "z", "z1").await; // 9
            assert_eq!(
                next_entries(&mut fresh, 1).await,
                vec![b("z", "z1", 9, Operation::Put)]
            );
        })
        .await
    }
);

both_async!(
    async fn ttl_expires_values(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s
                .bucket_with(kv::Config {
                    bucket: "ttl".into(),
                    history: 3,
                    max_age: Duration::from_secs(1),
                    storage: StorageType::File,
                    ..Default::default()
                })
                .await;
            let status = within("status", kv.status()).await.expect("status");
            assert_eq!(status.max_age(), Duration::from_secs(1));
            put(&kv, "k", "v1").await;
            put(&kv, "k", "v2").await;
            put(&kv, "j", "j").await;
            assert_eq!(get(&kv, "k").await.as_deref(), Some("v2"));
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(get(&kv, "k").await, None, "k expired");
            assert_eq!(get(&kv, "j").await, None, "j expired");
            assert!(entry(&kv, "k").await.is_none(), "no entry left for k");
            assert!(history(&kv, "k").await.is_empty(), "no history left for k");
            assert!(keys(&kv).await.is_empty(), "no keys left");
            let status = within("get_key_value", s.js.get_key_value("ttl"))
                .await
                .expect("get_key_value")
                .status()
                .await
                .expect("status");
            assert_eq!(status.values(), 0);
            // The bucket still works, and revisions go on.
            assert_eq!(put(&kv, "k", "v3").await, 4);
            assert_eq!(get(&kv, "k").await.as_deref(), Some("v3"));
        })
        .await
    }
);

both_async!(
    async fn bad_keys_and_missing_bucket(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("bad", 5).await;
            for key in ["a b", ".a", "a.", "", "a*", "a>", "a\tb"] {
                let err = within("put", kv.put(key, "x".into()))
                    .await
                    .expect_err("put with a bad key");
                assert_eq!(err.kind(), PutErrorKind::InvalidKey, "put {key:?}: {err}");
                let err = within("get", kv.get(key))
                    .await
                    .expect_err("get with a bad key");
                assert_eq!(err.kind(), EntryErrorKind::InvalidKey, "get {key:?}: {err}");
                let err = within("entry", kv.entry(key))
                    .await
                    .expect_err("entry with a bad key");
                assert_eq!(err.kind(), EntryErrorKind::InvalidKey, "entry {key:?}");
                let err = within("create", kv.create(key, "x".into()))
                    .await
                    .expect_err("create with a bad key");
                assert_eq!(err.kind(), CreateErrorKind::InvalidKey, "create {key:?}");
                let err = within("update", kv.update(key, "x".into(), 0))
                    .await
                    .expect_err("update with a bad key");
                assert_eq!(err.kind(), UpdateErrorKind::InvalidKey, "update {key:?}");
                let err = within("delete", kv.delete(key))
                    .await
                    .expect_err("delete with a bad key");
                assert_eq!(err.kind(), UpdateErrorKind::InvalidKey, "delete {key:?}");
                let err = within("purge", kv.purge(key))
                    .await
                    .expect_err("purge with a bad key");
                assert_eq!(err.kind(), UpdateErrorKind::InvalidKey, "purge {key:?}");
                assert!(kv.history(key).await.is_err(), "history {key:?}");
            }
            // Nothing reached the bucket.
            assert!(keys(&kv).await.is_empty());
            assert_eq!(put(&kv, "fine", "ok").await, 1);

            // A bucket that does not exist: an error, promptly (not a request timeout).
            let started = Instant::now();
            let err = within("get_key_value", s.js.get_key_value("nope"))
                .await
                .expect_err("get_key_value of a missing bucket fails");
            assert_eq!(err.kind(), KeyValueErrorKind::GetBucket, "{err}");
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "took {took:?}: {err}");
            // A bad bucket name never reaches the server.
            let err = within("get_key_value", s.js.get_key_value("a.b"))
                .await
                .expect_err("bad bucket name");
            assert_eq!(err.kind(), KeyValueErrorKind::InvalidStoreName, "{err}");
        })
        .await
    }
);

both_async!(
    async fn survives_kill9(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s
                .bucket_with(kv::Config {
                    bucket: "dur".into(),
                    history: 3,
                    storage: StorageType::File,
                    ..Default::default()
                })
                .await;
            for (k, v) in [
                ("a", "a1"),    // 1
                ("a", "a2"),    // 2
                ("b", "b1"),    // 3
                ("a", "a3"),    // 4
                ("c.x", "c1"),  // 5
                ("a", "a4"),    // 6 (a1 falls out of the history)
                ("gone", "g1"), // 7
            ] {
                put(&kv, k, v).await;
            }
            within("delete", kv.delete("c.x")).await.expect("delete"); // 8
            within("purge", kv.purge("gone")).await.expect("purge"); // 9
            assert_eq!(put(&kv, "b", "b2").await, 10);

            let Js(JsNode {
                client: old_client,
                broker,
                store,
                ..
            }) = s;
            drop(old_client);
            let broker = kill9_and_restart(broker, &store);
            let (_client, js) = connect(&broker.url()).await;

            let kv = within("get_key_value", js.get_key_value("dur"))
                .await
                .expect("bucket after restart");
            let status = within("status", kv.status()).await.expect("status");
            assert_eq!(status.history(), 3);
            // a2 a3 a4, b1 b2, c1 del(c.x), purge(gone).
            assert_eq!(status.values(), 8);
            assert_eq!(get(&kv, "a").await.as_deref(), Some("a4"));
            assert_eq!(get(&kv, "b").await.as_deref(), Some("b2"));
            assert_eq!(get(&kv, "c.x").await, None);
            assert_eq!(get(&kv, "gone").await, None);
            assert_eq!(
                entry(&kv, "c.x").await.map(|e| brief(&e)),
                Some(b("c.x", "", 8, Operation::Delete))
            );
            assert_eq!(
                history(&kv, "a").await,
                vec![
                    b("a", "a2", 2, Operation::Put),
                    b("a", "a3", 4, Operation::Put),
                    b("a", "a4", 6, Operation::Put),
                ]
            );
            assert_eq!(
                history(&kv, "c.x").await,
                vec![
                    b("c.x", "c1", 5, Operation::Put),
                    b("c.x", "", 8, Operation::Delete),
                ]
            );
            assert_eq!(
                history(&kv, "gone").await,
                vec![b("gone", "", 9, Operation::Purge)]
            );
            assert_eq!(keys(&kv).await, vec!["a", "b"]);

            // Writes continue with the next revision, and revision checks still hold.
            assert_eq!(put(&kv, "a", "a5").await, 11);
            let err = within("update", kv.update("b", "stale".into(), 3))
                .await
                .expect_err("stale revision");
            assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
            let rev = within("update", kv.update("b", "b3".into(), 10))
                .await
                .expect("update at the restored revision");
            assert_eq!(rev, 12);
            let err = within("create", kv.create("a", "x".into()))
                .await
                .expect_err("a exists");
            assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
            let rev = within("create", kv.create("c.x", "c2".into()))
                .await
                .expect("create after a restored delete");
            assert_eq!(rev, 13);
            assert_eq!(
                history(&kv, "a").await,
                vec![
                    b("a", "a3", 4, Operation::Put),
                    b("a", "a4", 6, Operation::Put),
                    b("a", "a5", 11, Operation::Put),
                ]
            );
            drop(broker);
        })
        .await
    }
);

both_async!(
    /// The direct get a client does for a key (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`,
    /// empty body): the value with the headers clients read, and `404` when the key is absent.
    async fn direct_get_by_key_subject(kind) {
        bounded(async {
            let s = setup(kind).await;
            let kv = s.bucket("dg", 3).await;
            put(&kv, "k", "v1").await;
            let rev = put(&kv, "k", "v2").await;
            let subject = "$JS.API.DIRECT.GET.KV_dg.$KV.dg.k";
            let m = within("direct get", s.client.request(subject, Bytes::new()))
                .await
                .expect("direct get");
            assert_eq!(m.payload.as_ref(), b"v2");
            let h = m.headers.expect("headers");
            let get = |name: &str| h.get(name).map(|v| v.as_str().to_owned());
            assert_eq!(get("Nats-Stream").as_deref(), Some("KV_dg"));
            assert_eq!(get("Nats-Subject").as_deref(), Some("$KV.dg.k"));
            assert_eq!(get("Nats-Sequence"), Some(rev.to_string()));
            assert!(get("Nats-Time-Stamp").is_some_and(|t| t.contains('T')));
            let absent = within(
                "direct get absent",
                s.client.request("$JS.API.DIRECT.GET.KV_dg.$KV.dg.nope", Bytes::new()),
            )
            .await
            .expect("direct get absent");
            assert_eq!(absent.status.map(|s| s.as_u16()), Some(404));
            assert!(absent.payload.is_empty());
        })
        .await
    }
);
