//! Torn and damaged writes, black-box: the broker is killed with SIGKILL, a file of its store is
//! damaged the way a crash mid-write (or a bad disk) leaves it, and the broker is started again
//! on the same `-sd`.
//!
//! Message segments (Sluice's own layout, crates/stream/src/store/segment.rs): damage at the
//! tail of the newest segment is cut off on restart; every message before it is intact, the
//! ones after it are gone (their ids too: the duplicate window is rebuilt from the log), the
//! sequence goes on from the last intact message, and the log names the segment, the bytes
//! dropped and the first lost sequence. (js_durability.rs covers the plain 5-byte cut.)
//!
//! Metadata (sled 0.34, `<sd>/meta`): sled recovers a damaged log by going back to the last
//! intact state before the damage, silently. The broker starts, with everything written before
//! the damage, and says in its log that the newest metadata changes are gone (it keeps a count
//! of flushed changes beside sled's, `<sd>/meta-changes`), and which stream directories have no
//! record left.
//!
//! Every wait is bounded: each await goes through [`within`], each body through a limit.

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::{self, stream::Config};
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures::StreamExt;
use integration_tests::client::{api, bounded, connect, within};
use integration_tests::js::{start_js, StoreDir};
use integration_tests::{Broker, Kind};
use serde_json::{json, Value};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A broker on a store and a client connected to it.
struct Node {
    client: Client,
    broker: Broker,
}

async fn start(store: &StoreDir) -> Node {
    let broker = start_js(Kind::Sluice, store);
    let client = connect(&broker.url()).await;
    Node { client, broker }
}

impl Node {
    /// Kills the broker with SIGKILL and waits for it to go.
    fn kill9(self) {
        let Node { client, broker } = self;
        broker.kill9();
        drop(client);
    }

    /// Sends `payload` to `subject` as a request and returns the JSON reply.
    async fn api(&self, subject: &str, payload: &str) -> Value {
        api(&self.client, subject, payload).await
    }

    /// Publishes message `i` (`Nats-Msg-Id: id-<i>`) and returns the PubAck JSON.
    async fn publish(&self, i: u64) -> Value {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("id-{i}").as_str());
        let reply = within(
            "publish",
            self.client
                .request_with_headers("torn.x".to_string(), headers, payload(i)),
        )
        .await
        .expect("publish");
        serde_json::from_slice(&reply.payload).expect("PubAck JSON")
    }

    /// Everything the broker logged since the last call (startup included the first time).
    fn log(&self) -> String {
        let mut lines = self.broker.startup_lines().to_vec();
        lines.extend(self.broker.log_lines());
        lines.join("\n")
    }
}

/// The payload of message `i`: different for every message, 100 to 150 bytes.
fn payload(i: u64) -> Bytes {
    let mut p = format!("payload-{i}-").into_bytes();
    p.resize(100 + (i as usize * 7) % 50, b'a' + (i % 26) as u8);
    Bytes::from(p)
}

/// Messages in each segment test.
const N: u64 = 50;

/// Creates stream TORN on `torn.>` and publishes messages 1..=N, checking each ack.
async fn fill(node: &Node) {
    let r = node
        .api(
            "$JS.API.STREAM.CREATE.TORN",
            &json!({"name": "TORN", "subjects": ["torn.>"]}).to_string(),
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    for i in 1..=N {
        let ack = node.publish(i).await;
        assert_eq!(ack["seq"], i, "{ack}");
    }
}

/// The stream's newest segment file and the (offset, length) of each record in it, in order
/// (the format of crates/stream/src/store/segment.rs: a 40-byte header, then records that
/// start with their length after an 8-byte prefix).
fn records(store: &StoreDir) -> (PathBuf, Vec<(u64, u64)>) {
    let dir = store.path().join("streams").join("TORN");
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("stream dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    let newest = segments.pop().expect("a segment file");
    let bytes = std::fs::read(&newest).expect("read segment");
    let mut recs = Vec::new();
    let mut off = 40usize;
    while off < bytes.len() {
        let body = u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes")) as usize;
        recs.push((off as u64, body as u64 + 8));
        off += body + 8;
    }
    assert_eq!(off, bytes.len(), "records fill the segment exactly");
    (newest, recs)
}

/// A fresh store with TORN filled ([`fill`]) by a broker that was then killed with SIGKILL: the
/// store, and its newest segment with its records (as [`records`] gives them).
async fn filled_and_killed(tag: &str) -> (StoreDir, PathBuf, Vec<(u64, u64)>) {
    let store = StoreDir::new(tag);
    let node = start(&store).await;
    fill(&node).await;
    node.kill9();
    let (segment, recs) = records(&store);
    (store, segment, recs)
}

/// Opens the store file `path` for reading and writing, to damage it.
fn open_rw(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// After damage to the tail of TORN's newest segment that should cost messages
/// `kept + 1 ..= N` (`dropped` bytes): restarts and checks all of it.
async fn check_after_damage(store: &StoreDir, segment: &Path, kept: u64, dropped: u64) {
    let node = start(store).await;
    let info = node.api("$JS.API.STREAM.INFO.TORN", "").await;
    assert_eq!(info["state"]["messages"], kept, "{info}");
    assert_eq!(info["state"]["first_seq"], 1, "{info}");
    assert_eq!(info["state"]["last_seq"], kept, "{info}");
    // Everything before the damage is intact, content and sequence; nothing after it is left.
    for seq in 1..=N {
        let r = node
            .api(
                "$JS.API.STREAM.MSG.GET.TORN",
                &json!({ "seq": seq }).to_string(),
            )
            .await;
        if seq <= kept {
            assert_eq!(r["message"]["seq"], seq, "{r}");
            let data = r["message"]["data"].as_str().expect("data");
            assert_eq!(data, b64(&payload(seq)), "message {seq} intact");
        } else {
            assert_eq!(r["error"]["err_code"], 10037, "message {seq} is gone: {r}");
        }
    }
    // The log says what was dropped: the segment, the bytes, the first lost sequence.
    let log = node.log();
    let line = log
        .lines()
        .find(|l| l.contains("truncating torn record"))
        .unwrap_or_else(|| panic!("no repair logged:\n{log}"));
    for want in [
        format!("path={}", segment.display()),
        format!("dropped={dropped}"),
        format!("last_intact_seq={kept}"),
        format!("first_lost_seq={}", kept + 1),
    ] {
        assert!(line.contains(&want), "{want} in {line}");
    }
    assert!(line.contains("[WRN]"), "a warning: {line}");
    // A lost message's id is free again (the window is rebuilt from what is stored), a kept
    // one is still a duplicate, and the sequence goes on from the last intact message.
    let ack = node.publish(kept + 1).await;
    assert_eq!(ack["seq"], kept + 1, "{ack}");
    assert!(ack.get("duplicate").is_none(), "{ack}");
    let ack = node.publish(kept).await;
    assert_eq!(
        (&ack["seq"], &ack["duplicate"]),
        (&json!(kept), &json!(true))
    );
    let ack = node.publish(N + 1).await;
    assert_eq!(ack["seq"], kept + 2, "{ack}");
    // And the repaired segment stays repaired.
    node.kill9();
    let node = start(store).await;
    let info = node.api("$JS.API.STREAM.INFO.TORN", "").await;
    assert_eq!(info["state"]["last_seq"], kept + 2, "{info}");
    assert!(
        !node.log().contains("truncating torn record"),
        "nothing to repair the second time"
    );
}

/// Standard base64 with padding (STREAM.MSG.GET's `data`).
fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Proves: a segment cut in the middle of a record (here the 46th of 50: a crash mid-write,
/// with what came after never written) loses exactly messages 46..=50; 1..=45 are intact, the
/// next publish is 46, and the log reports the cut half record's bytes and the first lost
/// sequence.
#[tokio::test]
async fn segment_cut_mid_record_keeps_everything_before_it() {
    bounded(Duration::from_secs(60), async {
        let (store, segment, recs) = filled_and_killed("torn-cut").await;
        assert_eq!(recs.len() as u64, N);
        let (off, len) = recs[45];
        let cut = off + len / 2;
        let f = open_rw(&segment);
        f.set_len(cut).expect("cut");
        drop(f);
        check_after_damage(&store, &segment, 45, len / 2).await;
        eprintln!("cut mid-record: 5 messages lost, {} bytes dropped", len / 2);
    })
    .await
}

/// Proves: garbage over the last three records (a torn multi-record write whose blocks hold
/// stale or random bytes) loses exactly those three messages, reported as dropped bytes from
/// the first garbage byte to the end.
#[tokio::test]
async fn segment_tail_overwritten_with_garbage_is_cut_off() {
    bounded(Duration::from_secs(60), async {
        let (store, segment, recs) = filled_and_killed("torn-garbage").await;
        let (from, _) = recs[47];
        let end = recs.last().map(|(o, l)| o + l).expect("records");
        // Deterministic garbage (xorshift).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let garbage: Vec<u8> = (from..end)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let f = open_rw(&segment);
        f.write_all_at(&garbage, from).expect("write garbage");
        drop(f);
        check_after_damage(&store, &segment, 47, end - from).await;
        eprintln!(
            "garbage tail: 3 messages lost, {} bytes dropped",
            end - from
        );
    })
    .await
}

/// Proves: one flipped bit in the last record's payload (covered by its CRC) loses exactly
/// that message; the rest is intact.
#[tokio::test]
async fn segment_last_record_with_a_flipped_bit_is_dropped() {
    bounded(Duration::from_secs(60), async {
        let (store, segment, recs) = filled_and_killed("torn-flip").await;
        let (off, len) = *recs.last().expect("records");
        let at = off + len - 10; // in the payload
        let f = open_rw(&segment);
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).expect("read");
        f.write_all_at(&[b[0] ^ 0x04], at).expect("flip");
        drop(f);
        check_after_damage(&store, &segment, N - 1, len).await;
    })
    .await
}

/// The metadata state for the sled tests: stream META with 10 messages; consumer C1 that has
/// double-acked 1..=5; then, as the newest metadata change, consumer LAST. Then kill -9.
async fn metadata_scene(store: &StoreDir) {
    let node = start(store).await;
    let js = jetstream::new(node.client.clone());
    let stream = within(
        "create_stream",
        js.create_stream(Config {
            name: "META".into(),
            subjects: vec!["meta.>".into()],
            ..Default::default()
        }),
    )
    .await
    .expect("create_stream");
    for i in 1..=10u64 {
        let ack = within("publish", async {
            js.publish("meta.x", format!("m{i}").into()).await?.await
        })
        .await
        .expect("ack");
        assert_eq!(ack.sequence, i);
    }
    let durable = |name: &str| pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    };
    let c1: PullConsumer = within("create C1", stream.create_consumer(durable("C1")))
        .await
        .expect("C1");
    let mut batch = within("fetch", c1.fetch().max_messages(5).messages())
        .await
        .expect("fetch");
    for _ in 0..5 {
        let m = within("delivery", batch.next())
            .await
            .expect("a message")
            .expect("delivery");
        within("double ack", m.double_ack())
            .await
            .expect("double ack");
    }
    drop(batch);
    within("create LAST", stream.create_consumer(durable("LAST")))
        .await
        .expect("LAST");
    node.kill9();
}

/// [`metadata_scene`] on a fresh store: the store, sled's log file and that file's length.
async fn sled_scene(tag: &str) -> (StoreDir, PathBuf, u64) {
    let store = StoreDir::new(tag);
    metadata_scene(&store).await;
    let db = store.path().join("meta").join("db");
    let len = std::fs::metadata(&db).expect("meta/db").len();
    (store, db, len)
}

/// Starts on a store whose metadata was damaged after [`metadata_scene`] and checks what is
/// left: the stream and its messages, and C1's acks. Returns the node and its startup log.
async fn check_metadata_survivors(store: &StoreDir) -> (Node, String) {
    let node = start(store).await;
    let log = node.log();
    let info = node.api("$JS.API.STREAM.INFO.META", "").await;
    assert_eq!(info["state"]["messages"], 10, "the stream is there: {info}");
    let c1 = node.api("$JS.API.CONSUMER.INFO.META.C1", "").await;
    assert_eq!(c1["ack_floor"]["stream_seq"], 5, "C1's acks survived: {c1}");
    (node, log)
}

/// Starts on a store whose newest metadata change (consumer LAST's record) was torn and checks
/// that only it is lost: what came before is there ([`check_metadata_survivors`]), LAST is not,
/// and the log says that the newest changes are gone. Returns the node.
async fn check_only_newest_change_lost(store: &StoreDir) -> Node {
    let (node, log) = check_metadata_survivors(store).await;
    let last = node.api("$JS.API.CONSUMER.INFO.META.LAST", "").await;
    assert_eq!(
        last["error"]["err_code"], 10014,
        "LAST was the torn write: {last}"
    );
    assert_reports_lost_changes(&log);
    node
}

/// Checks that `log` warns that the metadata lost its newest changes.
fn assert_reports_lost_changes(log: &str) {
    let line = log
        .lines()
        .find(|l| l.contains("metadata database came back without its newest changes"))
        .unwrap_or_else(|| panic!("the lost metadata changes are not reported:\n{log}"));
    assert!(line.contains("[WRN]") && line.contains("lost="), "{line}");
}

/// After a recovery the broker works on: a new consumer, a publish; and the next restart finds
/// nothing wrong (no false alarm).
async fn works_on_and_restarts_clean(node: Node, store: &StoreDir) {
    let r = node
        .api(
            "$JS.API.CONSUMER.DURABLE.CREATE.META.NEW",
            &json!({"stream_name": "META",
                    "config": {"durable_name": "NEW", "ack_policy": "explicit"}})
            .to_string(),
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    let ack = within(
        "publish",
        node.client.request("meta.x", Bytes::from_static(b"more")),
    )
    .await
    .expect("publish");
    let ack: Value = serde_json::from_slice(&ack.payload).expect("JSON");
    assert_eq!(ack["seq"], 11, "{ack}");
    node.kill9();
    let node = start(store).await;
    let log = node.log();
    assert!(
        !log.contains("without its newest changes"),
        "a false alarm after recovery:\n{log}"
    );
    let names = node.api("$JS.API.CONSUMER.NAMES.META", "").await;
    let mut got: Vec<String> = serde_json::from_value(names["consumers"].clone()).expect("names");
    got.sort();
    assert!(got.contains(&"NEW".to_string()), "{names}");
}

/// Proves: when the tail of sled's log is cut (a crash in the middle of its newest write), the
/// broker starts with sled's earlier state: the stream, its messages and C1's acks are there,
/// the consumer created last is not, and the log says that the newest metadata changes are
/// gone. The broker then works on, and the next restart is clean.
#[tokio::test]
async fn sled_log_tail_cut_loses_only_the_newest_change_and_says_so() {
    bounded(Duration::from_secs(60), async {
        let (store, db, len) = sled_scene("sled-cut").await;
        // The newest write is LAST's record (a few hundred bytes of JSON) and the change
        // count after it: cutting 200 bytes tears it.
        let f = open_rw(&db);
        f.set_len(len - 200).expect("cut");
        drop(f);
        let node = check_only_newest_change_lost(&store).await;
        eprintln!(
            "sled tail cut ({len} -> {} bytes): LAST lost, C1 kept",
            len - 200
        );
        works_on_and_restarts_clean(node, &store).await;
    })
    .await
}

/// Proves: garbage over the end of sled's log (a torn write whose block holds other bytes)
/// is the same as a cut: sled goes back to the state before it, and the broker says so.
#[tokio::test]
async fn sled_log_tail_garbage_loses_only_the_newest_change_and_says_so() {
    bounded(Duration::from_secs(60), async {
        let (store, db, len) = sled_scene("sled-garbage").await;
        let f = open_rw(&db);
        f.write_all_at(&[0x5A; 200], len - 200).expect("garbage");
        drop(f);
        let node = check_only_newest_change_lost(&store).await;
        works_on_and_restarts_clean(node, &store).await;
    })
    .await
}

/// Proves: with sled's log gone entirely (emptied), the broker still starts, serves nothing
/// of the lost metadata, and says so: the lost changes, and the stream directory that has no
/// record any more (left untouched, its messages not served).
#[tokio::test]
async fn sled_log_emptied_reports_every_orphaned_stream() {
    bounded(Duration::from_secs(60), async {
        let (store, db, _) = sled_scene("sled-empty").await;
        let f = open_rw(&db);
        f.set_len(0).expect("empty");
        drop(f);
        let node = start(&store).await;
        let log = node.log();
        assert_reports_lost_changes(&log);
        let orphan = store.path().join("streams").join("META");
        assert!(
            log.lines()
                .any(|l| l.contains("stream directory without a stream record")
                    && l.contains(&format!("path={}", orphan.display()))),
            "the orphaned stream directory is reported:\n{log}"
        );
        let info = node.api("$JS.API.STREAM.INFO.META", "").await;
        assert_eq!(info["error"]["err_code"], 10059, "{info}");
        assert!(
            orphan.join("00000000000000000001.seg").exists(),
            "data left alone"
        );
    })
    .await
}
