//! Disk full and an unwritable store directory, black-box: the store directory is a small tmpfs
//! (mounted by the test, so it must run as root, as CI does; it fails loudly otherwise), filled
//! by publishing until the broker refuses; then the tmpfs is enlarged and the same broker must
//! take publishes again, without a restart and without having lost or renumbered anything.
//!
//! A publish the store could not make durable is answered with nats-server's storage failure,
//! JSStreamStoreFailedF (503, err_code 10077, the I/O error as description), never with an
//! ack, and it is not stored: the next publish that succeeds takes the next sequence after the
//! last acknowledged one.
//!
//! Every wait is bounded: each await goes through [`within`], each body through a limit.

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures::StreamExt;
use integration_tests::client::{api, bounded, connect, json_reply, within, STEP};
use integration_tests::{Broker, Kind};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs of a fixed size mounted on a fresh directory under the temp dir; unmounted and
/// removed on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it: "4m"). Panics, saying why, if
    /// that is not possible (the test needs root; CI runs as root).
    fn mount(tag: &str, size: &str) -> Tmpfs {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("sluice-tmpfs-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("run mount");
        if !out.status.success() {
            let _ = std::fs::remove_dir(&path);
            panic!(
                "this test mounts a {size} tmpfs as its store directory and must run as root \
                 (CI does): `mount -t tmpfs` on {} failed: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Tmpfs { path }
    }

    /// Changes the size of the mounted tmpfs (contents stay).
    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount {} with size={size}: {}",
            self.path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so a broker still holding files open (a failed test) does not block it.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Publishes `payload` to `subject` with `Nats-Msg-Id: id` and returns the raw PubAck JSON (an
/// ack, or an error object).
async fn publish(client: &Client, subject: &str, id: &str, payload: Bytes) -> Value {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    let reply = within(
        "publish",
        client.request_with_headers(subject.to_string(), headers, payload),
    )
    .await
    .unwrap_or_else(|e| panic!("publish {id}: {e}"));
    json_reply("publish", &reply.payload)
}

/// The payload of message `i`: 4 KiB, different for every message.
fn payload(i: u64) -> Bytes {
    let mut p = format!("message-{i}-").into_bytes();
    while p.len() < 4096 {
        p.push(b'a' + (i % 26) as u8);
    }
    Bytes::from(p)
}

/// Checks that the stream `FULL` holds exactly messages 1..=n, each with its payload.
async fn check_contents(client: &Client, n: u64) {
    let info = api(client, "$JS.API.STREAM.INFO.FULL", "").await;
    assert_eq!(info["state"]["messages"], n, "{info}");
    assert_eq!(info["state"]["first_seq"], 1, "{info}");
    assert_eq!(info["state"]["last_seq"], n, "{info}");
    for seq in 1..=n {
        let r = api(
            client,
            "$JS.API.STREAM.MSG.GET.FULL",
            &json!({ "seq": seq }).to_string(),
        )
        .await;
        let data = r["message"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("message {seq}: {r}"));
        assert_eq!(
            decode_b64(data),
            payload(seq),
            "message {seq}: wrong content"
        );
    }
}

/// Standard base64 decoding (STREAM.MSG.GET's `data`).
fn decode_b64(s: &str) -> Bytes {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .unwrap_or_else(|| panic!("not base64: {c}")) as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Bytes::from(out)
}

/// Core NATS keeps working while the store is full: a message goes round on a connection of
/// its own, and PING is answered.
async fn core_still_works(url: &str) {
    let client = connect(url).await;
    let mut sub = within("subscribe", client.subscribe("core.check"))
        .await
        .expect("subscribe");
    within("flush", client.flush())
        .await
        .expect("PING answered");
    within(
        "publish",
        client.publish("core.check", Bytes::from_static(b"ping")),
    )
    .await
    .expect("core publish");
    let m = within("core message", sub.next())
        .await
        .expect("subscription open");
    assert_eq!(m.payload, "ping");
    within("flush", client.flush())
        .await
        .expect("PING answered");
}

/// Proves: when the store's filesystem fills up, publishes get JSStreamStoreFailedF (503 10077)
/// and never an ack, while core NATS and read-only API calls go on working; once space comes
/// back, the same broker (no restart) acks publishes again, numbered on from the last acked
/// message, with every acked message intact (and still so after kill -9 and a restart), and
/// the metadata store (consumers) works again too.
#[tokio::test]
async fn disk_full_refuses_publishes_and_recovers_when_space_returns() {
    bounded(Duration::from_secs(90), async {
        let fs = Tmpfs::mount("full", "4m");
        let store = fs.path().join("store");
        let sd = store.to_str().expect("UTF-8 path");
        let broker = Broker::sluice(&["-js", "-sd", sd]);
        let client = connect(&broker.url()).await;
        let r = api(
            &client,
            "$JS.API.STREAM.CREATE.FULL",
            &json!({"name": "FULL", "subjects": ["full.>"], "storage": "file"}).to_string(),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");
        let r = api(
            &client,
            "$JS.API.CONSUMER.DURABLE.CREATE.FULL.EARLY",
            &json!({"stream_name": "FULL",
                    "config": {"durable_name": "EARLY", "ack_policy": "explicit"}})
            .to_string(),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");

        // Fill the disk: publish until the broker refuses.
        let mut acked = 0u64;
        let first_error = loop {
            let i = acked + 1;
            assert!(
                i < 2000,
                "4 MiB took {acked} messages of 4 KiB without filling up"
            );
            let r = publish(&client, "full.x", &format!("m-{i}"), payload(i)).await;
            if r.get("error").is_some() {
                break r;
            }
            assert_eq!(r["seq"], i, "{r}");
            assert!(r.get("duplicate").is_none(), "{r}");
            acked = i;
        };
        let stored_bytes = api(&client, "$JS.API.STREAM.INFO.FULL", "").await["state"]["bytes"]
            .as_u64()
            .expect("bytes");
        assert_eq!(first_error["error"]["code"], 503, "{first_error}");
        assert_eq!(first_error["error"]["err_code"], 10077, "{first_error}");
        let why = first_error["error"]["description"].as_str().unwrap_or("");
        assert!(
            why.contains("No space left on device"),
            "the error says what went wrong: {first_error}"
        );

        // While full: every further publish is refused (new ids and the failed one again),
        // and the rest of the broker is fine.
        let mut errors = 1;
        for k in 0..20 {
            let i = if k % 2 == 0 {
                acked + 1
            } else {
                acked + 100 + k
            };
            let r = publish(&client, "full.x", &format!("m-{i}"), payload(i)).await;
            assert_eq!(r["error"]["err_code"], 10077, "publish while full: {r}");
            errors += 1;
        }
        core_still_works(&broker.url()).await;
        // The consumer side while full: double acks are answered until the metadata store
        // (sled) cannot write either; from then on they get no answer (the client retries).
        let js = async_nats::jetstream::new(client.clone());
        let stream = within("get_stream", js.get_stream("FULL"))
            .await
            .expect("stream");
        let early: PullConsumer = within("get_consumer", stream.get_consumer("EARLY"))
            .await
            .expect("consumer");
        let (mut confirmed, mut delivered) = (0u64, 0u64);
        loop {
            let mut batch = within("fetch", early.fetch().max_messages(1).messages())
                .await
                .expect("fetch");
            let m = within("delivery", batch.next())
                .await
                .unwrap_or_else(|| panic!("no delivery after {delivered}"))
                .expect("delivery");
            delivered = m.info().expect("JetStream message").stream_sequence;
            assert!(
                delivered < acked,
                "all {confirmed} double acks answered while full"
            );
            match tokio::time::timeout(Duration::from_secs(1), m.double_ack()).await {
                Ok(Ok(())) => confirmed = delivered,
                _ => break,
            }
        }
        assert_eq!(delivered, confirmed + 1, "delivered in order");
        let info = api(&client, "$JS.API.STREAM.INFO.FULL", "").await;
        assert_eq!(info["state"]["messages"], acked, "{info}");
        assert_eq!(
            info["state"]["last_seq"], acked,
            "nothing refused was stored: {info}"
        );

        // Space comes back: the same broker takes the refused message, next in sequence.
        fs.resize("64m");
        let freed = Instant::now();
        let next = acked + 1;
        let recovery = loop {
            let r = publish(&client, "full.x", &format!("m-{next}"), payload(next)).await;
            if r.get("error").is_none() {
                assert_eq!(r["seq"], next, "numbered on from the last ack: {r}");
                assert!(r.get("duplicate").is_none(), "{r}");
                break freed.elapsed();
            }
            assert!(
                freed.elapsed() < STEP,
                "still refused after space returned: {r}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let total = next + 50;
        for i in next + 1..=total {
            let r = publish(&client, "full.x", &format!("m-{i}"), payload(i)).await;
            assert_eq!(r["seq"], i, "{r}");
        }
        // The metadata store works again: double acks are answered, and a new consumer can be
        // created (and sees everything).
        let mut batch = within("fetch", early.fetch().max_messages(1).messages())
            .await
            .expect("fetch");
        let m = within("delivery", batch.next())
            .await
            .expect("a delivery")
            .expect("delivery");
        let after_seq = m.info().expect("JetStream message").stream_sequence;
        assert_eq!(
            after_seq,
            delivered + 1,
            "acked (if unanswered) messages are not delivered again"
        );
        within("double ack after space returned", m.double_ack())
            .await
            .expect("double ack answered");
        drop(batch);
        let r = api(
            &client,
            "$JS.API.CONSUMER.DURABLE.CREATE.FULL.AFTER",
            &json!({"stream_name": "FULL",
                    "config": {"durable_name": "AFTER", "ack_policy": "explicit"}})
            .to_string(),
        )
        .await;
        assert!(
            r.get("error").is_none(),
            "consumer create after the disk was full: {r}"
        );
        assert_eq!(r["num_pending"], total, "{r}");
        check_contents(&client, total).await;
        let log = broker.log_lines();
        assert!(
            log.iter().any(|l| l.contains("metadata database reopened")),
            "the metadata store was reopened: {log:#?}"
        );
        eprintln!(
            "disk full: {acked} messages ({stored_bytes} bytes) acked before the 4 MiB tmpfs \
             was full; {errors} publish error replies while full; {confirmed} double acks \
             answered before sled failed too; first ack {recovery:?} after space returned"
        );

        // And all of it survives kill -9, consumer state included.
        drop(client);
        drop(broker);
        let broker = Broker::sluice(&["-js", "-sd", sd]);
        let client = connect(&broker.url()).await;
        check_contents(&client, total).await;
        let r = api(&client, "$JS.API.CONSUMER.INFO.FULL.AFTER", "").await;
        assert_eq!(r["num_pending"], total, "{r}");
        let r = api(&client, "$JS.API.CONSUMER.INFO.FULL.EARLY", "").await;
        assert_eq!(
            r["ack_floor"]["stream_seq"], after_seq,
            "every ack survived, the unanswered one too (saved once the disk had room): {r}"
        );
        let r = publish(&client, "full.x", "after-restart", payload(total + 1)).await;
        assert_eq!(r["seq"], total + 1, "{r}");
    })
    .await
}

/// Runs sluice with `args` (plus `-a 127.0.0.1 -p -1`) and waits for it to exit (5 s at most):
/// its exit code and stderr.
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = integration_tests::command(Kind::Sluice, args)
        .spawn()
        .expect("start sluice");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sluice {args:?} kept running with an unusable store directory");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read;
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    (status.code(), err)
}

/// Proves: a store directory that cannot be created (its parent is a regular file, or it is
/// under /proc) stops the broker at startup with a clear error naming the path and a non-zero
/// exit code, not a panic.
#[test]
fn uncreatable_store_dir_is_a_clear_startup_error() {
    let dir = integration_tests::js::StoreDir::new("uncreatable");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write file");
    let under_file = file.join("store");
    for sd in [under_file.to_str().expect("UTF-8"), "/proc/sluice-store"] {
        let (code, err) = run_to_exit(&["-js", "-sd", sd]);
        assert!(
            !err.contains("panicked"),
            "-sd {sd}: a panic instead of an error:\n{err}"
        );
        assert!(
            code.is_some_and(|c| c != 0),
            "-sd {sd}: exit code {code:?}:\n{err}"
        );
        assert!(
            err.contains(sd),
            "-sd {sd}: the error names the path:\n{err}"
        );
    }
}

/// Proves: when a stream's own directory cannot be created (here a regular file is in its
/// place), the stream create gets an error reply (JSStreamCreateErrF, 500 10049, naming the
/// path), nothing of the stream is left behind, and the broker goes on serving other streams.
#[tokio::test]
async fn stream_dir_that_cannot_be_created_is_an_error_reply() {
    bounded(Duration::from_secs(60), async {
        let store = integration_tests::js::StoreDir::new("stream-dir");
        let streams = store.path().join("streams");
        std::fs::create_dir_all(&streams).expect("streams dir");
        std::fs::write(streams.join("BAD"), b"in the way").expect("file in the way");
        let broker = integration_tests::js::start_js(Kind::Sluice, &store);
        let client = connect(&broker.url()).await;
        let r = api(
            &client,
            "$JS.API.STREAM.CREATE.BAD",
            &json!({"name": "BAD", "subjects": ["bad"]}).to_string(),
        )
        .await;
        assert_eq!(r["error"]["code"], 500, "{r}");
        assert_eq!(r["error"]["err_code"], 10049, "{r}");
        let why = r["error"]["description"].as_str().unwrap_or("");
        assert!(why.contains("streams/BAD"), "the error names the path: {r}");
        let info = api(&client, "$JS.API.STREAM.INFO.BAD", "").await;
        assert_eq!(
            info["error"]["err_code"], 10059,
            "no half-created stream: {info}"
        );
        let r = api(
            &client,
            "$JS.API.STREAM.CREATE.GOOD",
            &json!({"name": "GOOD", "subjects": ["good"]}).to_string(),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");
        let ack = json_reply(
            "publish",
            &within("publish", client.request("good", Bytes::from_static(b"x")))
                .await
                .expect("publish")
                .payload,
        );
        assert_eq!(ack["seq"], 1, "{ack}");
        // After a restart too: the failed create left no record behind.
        drop(client);
        drop(broker);
        let broker = integration_tests::js::start_js(Kind::Sluice, &store);
        let client = connect(&broker.url()).await;
        let names = api(&client, "$JS.API.STREAM.NAMES", "").await;
        assert_eq!(names["streams"], json!(["GOOD"]), "{names}");
    })
    .await
}
