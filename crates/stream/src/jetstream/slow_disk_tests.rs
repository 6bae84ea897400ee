//! One stream's slow disk delays only that stream: with the fsync of stream SLOW held, the
//! whole layer still answers INFO (of SLOW too), LIST, account info, the monitor, and
//! publishes and API requests of other streams; SLOW's own publishes and the requests its
//! owner answers wait for the disk, and are answered once it is back.
//!
//! The store of every stream named `SLOW*` is wrapped (through [`STORE_WRAP`], a test-only
//! hook in `Inner::open_store`) in one whose `sync` waits while [`HOLD`] is set.

use super::*;
use crate::store::{Purge, StoredMsg};
use sluice_server::{Server, ServerConfig};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// Wraps a new stream's store (test hook, read by `Inner::open_store`).
pub(crate) type StoreWrap = fn(&str, Box<dyn MsgStore>) -> Box<dyn MsgStore>;
pub(crate) static STORE_WRAP: Mutex<Option<StoreWrap>> = Mutex::new(None);

/// While true, a wrapped store's sync waits.
static HOLD: Mutex<bool> = Mutex::new(false);
static HOLD_CV: parking_lot::Condvar = parking_lot::Condvar::new();
/// Syncs that found the hold set (and so waited).
static HELD_SYNCS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Taken by each test here: the hold and the wrap are global.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn hold(on: bool) {
    *HOLD.lock() = on;
    HOLD_CV.notify_all();
}

/// Lets the disk go again when dropped (also when an assertion fails, so that the layer can
/// shut down and the failure be reported).
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        hold(false);
    }
}

/// What a wrapped store's sync does wrong.
#[derive(Clone, Copy)]
enum Fault {
    /// Waits while [`HOLD`] is set: a disk that has stopped answering.
    Hold,
    /// Fails while [`FAIL_SYNC`] is set: a disk that reports an error.
    Fail,
}

/// A store whose sync goes wrong as its [`Fault`] says.
struct SlowSync(Box<dyn MsgStore>, Fault);

impl MsgStore for SlowSync {
    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<u64, StoreError> {
        self.0.append(subject, headers, payload, time_ns)
    }
    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<(), StoreError> {
        self.0.append_at(seq, subject, headers, payload, time_ns)
    }
    fn skip_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError> {
        self.0.skip_to(next, last_ts)
    }
    fn clear_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError> {
        self.0.clear_to(next, last_ts)
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        if let Fault::Fail = self.1 {
            if FAIL_SYNC.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Io {
                    path: "failsync".into(),
                    source: std::io::Error::other("injected fsync failure"),
                });
            }
            return self.0.sync();
        }
        let mut held = HOLD.lock();
        if *held {
            HELD_SYNCS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        while *held {
            HOLD_CV.wait(&mut held);
        }
        drop(held);
        self.0.sync()
    }
    fn msg_size(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        self.0.msg_size(subject, headers, payload)
    }
    fn write_out(&mut self) -> Result<(), StoreError> {
        self.0.write_out()
    }
    fn reload(&mut self) -> Result<u64, StoreError> {
        self.0.reload()
    }
    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        self.0.get(seq)
    }
    fn next_matching(
        &self,
        from_seq: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMsg>, StoreError> {
        self.0.next_matching(from_seq, filter)
    }
    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        self.0.last_matching(filter)
    }
    fn subject_count(&self, subject: &str) -> u64 {
        self.0.subject_count(subject)
    }
    fn first_seq_of_subject(&self, subject: &str) -> Option<u64> {
        self.0.first_seq_of_subject(subject)
    }
    fn delete(&mut self, seq: u64) -> Result<bool, StoreError> {
        self.0.delete(seq)
    }
    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError> {
        self.0.purge(purge)
    }
    fn expire_before(&mut self, cutoff_ns: i64) -> Result<u64, StoreError> {
        self.0.expire_before(cutoff_ns)
    }
    fn state(&self) -> crate::store::StoreState {
        self.0.state()
    }
    fn set_next_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.0.set_next_seq(seq)
    }
    fn subjects(&self) -> Vec<(Arc<str>, u64)> {
        self.0.subjects()
    }
    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        self.0.destroy()
    }
}

fn wrap_slow(name: &str, store: Box<dyn MsgStore>) -> Box<dyn MsgStore> {
    if name.starts_with("SLOW") {
        Box::new(SlowSync(store, Fault::Hold))
    } else if name.starts_with("FAILSYNC") {
        Box::new(SlowSync(store, Fault::Fail))
    } else {
        store
    }
}

/// While set, a `FAILSYNC*` stream's sync fails (a disk that reports an error).
pub(super) static FAIL_SYNC: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Hands every message on `inbox.>` to a channel.
struct Inbox(Mutex<std::sync::mpsc::Sender<InternalMsg>>);

impl InternalSink for Inbox {
    fn deliver(&self, msg: InternalMsg) {
        let _ = self.0.lock().send(msg);
    }
}

pub(super) struct Client {
    server: ServerHandle,
    rx: Receiver<InternalMsg>,
    _sub: InternalSubscription,
    n: u64,
}

impl Client {
    pub(super) fn new(server: &ServerHandle) -> Client {
        let (tx, rx) = channel();
        let server = server.fork();
        let sub = server
            .subscribe("inbox.>", None, Arc::new(Inbox(Mutex::new(tx))))
            .unwrap();
        Client {
            server,
            rx,
            _sub: sub,
            n: 0,
        }
    }

    /// Sends a request; returns its reply subject.
    pub(super) fn send(&mut self, subject: &str, body: &[u8]) -> String {
        self.n += 1;
        let reply = format!("inbox.{}", self.n);
        self.server.publish(subject, Some(&reply), None, body);
        reply
    }

    /// The next answer, if one comes within `wait`.
    pub(super) fn answer(&self, wait: Duration) -> Option<InternalMsg> {
        self.rx.recv_timeout(wait).ok()
    }

    /// A request and its answer's JSON, which must come within 2 s.
    pub(super) fn request(&mut self, subject: &str, body: &[u8]) -> serde_json::Value {
        let reply = self.send(subject, body);
        let m = self
            .answer(Duration::from_secs(2))
            .unwrap_or_else(|| panic!("no answer to {subject} within 2 s"));
        assert_eq!(&*m.subject, reply);
        serde_json::from_slice(&m.payload).unwrap()
    }
}

pub(super) fn create(c: &mut Client, name: &str, subject: &str, direct: bool) {
    let cfg = serde_json::json!({
        "name": name, "subjects": [subject], "storage": "file", "allow_direct": direct,
    });
    let r = c.request(
        &format!("$JS.API.STREAM.CREATE.{name}"),
        cfg.to_string().as_bytes(),
    );
    assert!(r.get("error").is_none(), "{r}");
}

/// A server and a stream layer whose `SLOW*` streams have the slow disk.
pub(super) async fn start() -> (tempfile::TempDir, Server, ServerHandle, JetStream) {
    *STORE_WRAP.lock() = Some(wrap_slow);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let handle = server.handle();
    let js = JetStream::start(handle.clone(), config_in(dir.path())).unwrap();
    (dir, server, handle, js)
}

fn config_in(dir: &std::path::Path) -> JetStreamConfig {
    JetStreamConfig {
        domain: None,
        store_dir: dir.to_owned(),
        sync: SyncPolicy::Always,
        server_name: "test".into(),
        queue_bytes: crate::DEFAULT_QUEUE_BYTES,
        limits: Default::default(),
        reservations: Default::default(),
    }
}

/// Waits until a sync has found the disk held.
fn wait_for_held_sync() {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while HELD_SYNCS.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_disk_stalls_holds_up_nothing_else() {
    let _serial = SERIAL.lock().await;
    let (_dir, _server, handle, js) = start().await;
    let monitor = js.monitor();
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&handle);
        create(&mut c, "SLOW", "slow.>", true);
        create(&mut c, "FAST", "fast.>", false);
        let r = c.request("slow.a", b"before");
        assert_eq!(r["seq"], 1, "{r}");

        // The disk under SLOW stops answering; a publish to it is stored and waits for its
        // sync.
        hold(true);
        let _release = Release;
        HELD_SYNCS.store(0, std::sync::atomic::Ordering::SeqCst);
        let slow_ack = c.send("slow.b", b"held");
        wait_for_held_sync();
        // A request SLOW's owner must answer waits with it.
        let get = c.send("$JS.API.DIRECT.GET.SLOW", br#"{"last_by_subj":"slow.a"}"#);

        // Everything else is answered meanwhile.
        let info = c.request("$JS.API.STREAM.INFO.SLOW", b"");
        assert_eq!(info["config"]["name"], "SLOW", "{info}");
        assert!(info["state"]["messages"].as_u64().unwrap() >= 1, "{info}");
        let info = c.request("$JS.API.STREAM.INFO.FAST", b"");
        assert_eq!(info["state"]["messages"], 0, "{info}");
        for i in 1..=20u64 {
            let ack = c.request("fast.x", b"not held");
            assert_eq!(ack["stream"], "FAST", "{ack}");
            assert_eq!(ack["seq"], i, "{ack}");
        }
        let list = c.request("$JS.API.STREAM.LIST", b"");
        assert_eq!(list["total"], 2, "{list}");
        let account = c.request("$JS.API.INFO", b"");
        assert_eq!(account["streams"], 2, "{account}");
        let cons = c.request(
            "$JS.API.CONSUMER.DURABLE.CREATE.FAST.D",
            br#"{"stream_name":"FAST","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
        );
        assert_eq!(cons["name"], "D", "{cons}");
        let names = c.request("$JS.API.CONSUMER.NAMES.SLOW", b"");
        assert_eq!(names["total"], 0, "{names}");
        let stats = monitor.stats(true);
        assert_eq!(stats.streams, 2);
        assert_eq!(stats.consumers, 1);
        // Neither SLOW's ack nor its direct get came out while its disk was stalled.
        let early = c.answer(Duration::from_millis(200));
        assert!(early.is_none(), "answered before the sync: {early:?}");

        // The disk is back: SLOW's ack and answer go out, in order.
        hold(false);
        let m = c.answer(Duration::from_secs(5)).expect("SLOW's ack");
        assert_eq!(&*m.subject, slow_ack);
        let ack: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(ack["seq"], 2, "{ack}");
        let m = c.answer(Duration::from_secs(5)).expect("SLOW's direct get");
        assert_eq!(&*m.subject, get);
        assert_eq!(&m.payload[..], b"before");
    })
    .await
    .unwrap();
    js.shutdown();
}

/// Regression: STREAM.DELETE waited on the API thread for the stream's owner to finish (its
/// final sync), so one stalled disk stalled every API request of every stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_stream_whose_disk_stalls_holds_up_nothing_else() {
    let _serial = SERIAL.lock().await;
    let (dir, _server, handle, js) = start().await;
    let handle2 = handle.clone();
    let streams_dir = dir.path().join("streams");
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&handle);
        create(&mut c, "SLOWDEL", "slow.>", false);
        create(&mut c, "FAST", "fast.>", false);
        let r = c.request("slow.a", b"before");
        assert_eq!(r["seq"], 1, "{r}");
        let cons = c.request(
            "$JS.API.CONSUMER.DURABLE.CREATE.SLOWDEL.D",
            br#"{"stream_name":"SLOWDEL","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
        );
        assert_eq!(cons["name"], "D", "{cons}");

        hold(true);
        let _release = Release;
        HELD_SYNCS.store(0, std::sync::atomic::Ordering::SeqCst);
        let slow_ack = c.send("slow.b", b"held");
        wait_for_held_sync();
        let delete = c.send("$JS.API.STREAM.DELETE.SLOWDEL", b"");

        // The API goes on: the deleted stream is gone for it at once, the others answer.
        let info = c.request("$JS.API.STREAM.INFO.FAST", b"");
        assert_eq!(info["config"]["name"], "FAST", "{info}");
        let info = c.request("$JS.API.STREAM.INFO.SLOWDEL", b"");
        assert_eq!(info["error"]["err_code"], 10059, "{info}");
        let list = c.request("$JS.API.STREAM.NAMES", b"");
        assert_eq!(list["streams"], serde_json::json!(["FAST"]), "{list}");
        // Its name is not free until its files are gone.
        let cfg = serde_json::json!({"name": "SLOWDEL", "subjects": ["slow.>"], "storage": "file"});
        let again = c.request("$JS.API.STREAM.CREATE.SLOWDEL", cfg.to_string().as_bytes());
        assert_eq!(again["error"]["err_code"], 10049, "{again}");
        let ack = c.request("fast.x", b"not held");
        assert_eq!(ack["seq"], 1, "{ack}");
        let early = c.answer(Duration::from_millis(200));
        assert!(early.is_none(), "answered before the sync: {early:?}");

        // The disk is back: the held publish is acked, then the deletion answered, and the
        // stream's files, records and consumers are gone.
        hold(false);
        let m = c.answer(Duration::from_secs(5)).expect("SLOWDEL's ack");
        assert_eq!(&*m.subject, slow_ack);
        let m = c
            .answer(Duration::from_secs(5))
            .expect("the deletion's answer");
        assert_eq!(&*m.subject, delete);
        let r: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(r["success"], true, "{r}");
        assert!(!streams_dir.join("SLOWDEL").exists());
        // A new stream of that name starts empty, without the old consumer.
        create(&mut c, "SLOWDEL", "slow.>", false);
        let info = c.request("$JS.API.STREAM.INFO.SLOWDEL", b"");
        assert_eq!(info["state"]["messages"], 0, "{info}");
        let names = c.request("$JS.API.CONSUMER.NAMES.SLOWDEL", b"");
        assert_eq!(names["total"], 0, "{names}");
    })
    .await
    .unwrap();
    js.shutdown();
    // Nor do the old stream's records come back on a restart.
    let js = JetStream::start(handle2.clone(), config_in(dir.path())).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&handle2);
        let info = c.request("$JS.API.STREAM.INFO.SLOWDEL", b"");
        assert_eq!(info["state"]["messages"], 0, "{info}");
        let names = c.request("$JS.API.CONSUMER.NAMES.SLOWDEL", b"");
        assert_eq!(names["total"], 0, "{names}");
    })
    .await
    .unwrap();
    js.shutdown();
}
