//! A crash loop, black-box: publishers and a consumer run while the broker is killed with
//! SIGKILL and restarted on the same port and `-sd`, again and again, at seeded pseudo-random
//! moments (set `CRASH_LOOP_SEED` to replay a run). js_consumer_durability.rs proves
//! exactly-once across one planned crash; this runs into crashes at arbitrary points of
//! publishing, storing, delivering and acking.
//!
//! Publishers send each id (`Nats-Msg-Id`) until it is acked, so the duplicate window (rebuilt
//! from the log on every restart) makes retries exactly-once. The consumer (durable pull,
//! explicit ack) double-acks every delivery; an id is confirmed when its double ack is
//! answered. At the end the whole stream is read back and checked against what was acked.
//!
//! Every wait is bounded: each await has its own timeout, and the body a limit.

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream::Config, stream::StorageType};
use bytes::Bytes;
use integration_tests::client::{api, connect_fast_reconnect as connect, pull_batch, within, STEP};
use integration_tests::js::{kill9_and_restart, start_js, StoreDir};
use integration_tests::Kind;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times the broker is killed.
const KILLS: usize = 5;
/// Publishers running at once.
const PUBLISHERS: usize = 2;

/// A small seeded generator (xorshift64*), so a run's kill times can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// What one publisher saw.
#[derive(Debug, Default)]
struct PubReport {
    /// id -> the stream sequence its ack gave.
    acked: BTreeMap<String, u64>,
    /// Attempts that failed or timed out and were sent again.
    retries: usize,
    /// Acks that said "duplicate" (a retry of a publish that had been stored after all).
    duplicates: usize,
}

/// Publishes `p<n>-<i>` for i = 0, 1, ... (5 ms apart) until `stop`, each until it is acked.
async fn publisher(n: usize, js: jetstream::Context, stop: Arc<AtomicBool>) -> PubReport {
    let mut report = PubReport::default();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let id = format!("p{n}-{i}");
        let started = Instant::now();
        let seq = loop {
            let msg = PublishMessage::build()
                .payload(Bytes::from(format!("payload of {id}")))
                .message_id(id.clone());
            let attempt = tokio::time::timeout(Duration::from_secs(1), async {
                js.send_publish(format!("cl.{n}"), msg).await?.await
            })
            .await;
            match attempt {
                Ok(Ok(ack)) => {
                    report.duplicates += usize::from(ack.duplicate);
                    break ack.sequence;
                }
                Ok(Err(_)) | Err(_) => {
                    report.retries += 1;
                    assert!(started.elapsed() < STEP, "publish {id} keeps failing");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        assert!(report.acked.insert(id, seq).is_none());
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    report
}

/// What the consumer saw.
#[derive(Debug, Default)]
struct ConsumeReport {
    /// Ids whose double ack was answered, with the stream sequence delivered.
    confirmed: BTreeMap<String, u64>,
    /// Every delivery.
    deliveries: usize,
    /// Deliveries with `delivered > 1` (an unconfirmed message coming again).
    redeliveries: usize,
    /// Ids delivered again, to a pull request made after their double ack had been answered
    /// (so certainly sent after the broker had applied the ack): must stay empty.
    after_confirm: Vec<String>,
    /// Ids delivered again in the same pull request as the confirmed delivery, after it: a
    /// redelivery the broker may have sent before it saw the ack (at-least-once allows it).
    in_flight: usize,
    /// Double acks that got no answer (the broker was away; or the delivery was made just
    /// before a crash that lost its record), each asked again until answered.
    unanswered: usize,
    /// Which pull request and which broker (0 the first, 1 after the first restart, ...)
    /// each id was confirmed in.
    confirmed_in: BTreeMap<String, (usize, usize)>,
}

/// Restarts so far (for the reports).
static EPOCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Consumes until `done` is set and every id in it is confirmed (`done` carries the ids the
/// publishers got acks for, once they have stopped).
async fn consume(
    consumer: PullConsumer,
    done: Arc<std::sync::Mutex<Option<BTreeSet<String>>>>,
) -> ConsumeReport {
    let mut report = ConsumeReport::default();
    let mut pulls = 0;
    let mut unanswered: BTreeMap<String, (u64, jetstream::Message)> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(all) = done.lock().expect("lock").as_ref() {
            if all.iter().all(|id| report.confirmed.contains_key(id)) {
                return report;
            }
        }
        if Instant::now() > deadline {
            let all = done.lock().expect("lock").clone().unwrap_or_default();
            let missing: Vec<&String> = all
                .iter()
                .filter(|id| !report.confirmed.contains_key(*id))
                .collect();
            panic!(
                "consumer stuck with {} confirmed; never confirmed: {missing:?}; {} deliveries",
                report.confirmed.len(),
                report.deliveries
            );
        }
        // A double ack whose answer was lost (the broker died in between) may have been
        // applied or not: ask again until it is answered, or the message comes again.
        // All at once: a crash can leave a whole batch unanswered (deliveries the restarted
        // broker has no record of), and one at a time they would hold this loop for minutes.
        let retried = futures::future::join_all(unanswered.iter().map(|(id, (seq, m))| async {
            let answered = tokio::time::timeout(Duration::from_secs(1), m.double_ack()).await;
            (id.clone(), *seq, matches!(answered, Ok(Ok(()))))
        }))
        .await;
        for (id, seq, answered) in retried {
            if answered {
                unanswered.remove(&id);
                report.confirm(&id, seq, pulls);
            }
        }
        pulls += 1;
        let batch = pull_batch(&consumer, 50, Duration::from_millis(300)).await;
        let mut delivered_ids = Vec::with_capacity(batch.len());
        for m in &batch {
            let info = m.info().expect("JetStream message");
            let (seq, delivered) = (info.stream_sequence, info.delivered);
            let id = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| panic!("message {seq} without an id"));
            assert_eq!(m.payload, format!("payload of {id}"), "message {seq}");
            report.deliveries += 1;
            report.redeliveries += usize::from(delivered > 1);
            if let Some(&(pull, epoch)) = report.confirmed_in.get(&id) {
                if pull == pulls {
                    report.in_flight += 1;
                } else {
                    report.after_confirm.push(format!(
                        "{id} (seq {seq}, delivery {delivered}, in broker {}; confirmed in \
                         broker {epoch})",
                        EPOCH.load(Ordering::SeqCst)
                    ));
                }
            }
            delivered_ids.push((id, seq));
        }
        // The batch's double acks go out together (in delivery order) and are awaited
        // together, for the same reason as the retries above.
        let answers = futures::future::join_all(batch.iter().map(|m| async {
            matches!(
                tokio::time::timeout(Duration::from_secs(2), m.double_ack()).await,
                Ok(Ok(()))
            )
        }))
        .await;
        for (((id, seq), m), answered) in delivered_ids.into_iter().zip(batch).zip(answers) {
            if answered {
                unanswered.remove(&id);
                report.confirm(&id, seq, pulls);
            } else {
                report.unanswered += 1;
                if !report.confirmed.contains_key(&id) {
                    unanswered.insert(id, (seq, m));
                }
            }
        }
    }
}

impl ConsumeReport {
    /// Records that the double ack of `id` (at `seq`) was answered, during pull `pull`.
    fn confirm(&mut self, id: &str, seq: u64, pull: usize) {
        if let Some(old) = self.confirmed.insert(id.to_owned(), seq) {
            assert_eq!(old, seq, "{id} delivered at two sequences");
            return;
        }
        let epoch = EPOCH.load(Ordering::SeqCst);
        self.confirmed_in.insert(id.to_owned(), (pull, epoch));
    }
}

/// Proves, across repeated kill -9 and restart while publishing and consuming: every
/// acknowledged publish is in the stream exactly once, at the sequence its ack gave; the
/// stream's sequences run 1..=last without gaps or repeats, one per distinct id; every id is
/// consumed and confirmed; and no message is delivered again after its double ack was
/// answered (to a pull request made after the answer: a redelivery already on its way in the
/// same pull is at-least-once, counted but allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_keeps_exactly_once() {
    let limit = Duration::from_secs(90);
    tokio::time::timeout(limit, run())
        .await
        .expect("test exceeded its time limit");
}

async fn run() {
    let seed: u64 = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_C1A5);
    let mut rng = Rng(seed.max(1));
    let store = StoreDir::new("crash-loop");
    let mut broker = start_js(Kind::Sluice, &store);
    let url = broker.url();
    let admin = connect(&url).await;
    let js = jetstream::new(admin.clone());
    let stream = within(
        "create_stream",
        js.create_stream(Config {
            name: "CL".into(),
            subjects: vec!["cl.>".into()],
            storage: StorageType::File,
            ..Default::default()
        }),
    )
    .await
    .expect("create_stream");
    // The duplicate window (2 min) covers the whole test.
    assert_eq!(
        stream.cached_info().config.duplicate_window,
        Duration::from_secs(120)
    );
    // A short ack wait: a delivery whose ack was lost comes again soon.
    within(
        "create_consumer",
        stream.create_consumer(pull::Config {
            durable_name: Some("CLC".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(2),
            ..Default::default()
        }),
    )
    .await
    .expect("create_consumer");

    let stop = Arc::new(AtomicBool::new(false));
    let mut publishers = Vec::new();
    for n in 0..PUBLISHERS {
        let js = jetstream::new(connect(&url).await);
        publishers.push(tokio::spawn(publisher(n, js, stop.clone())));
    }
    let sub_js = jetstream::new(connect(&url).await);
    let sub_stream = within("get_stream", sub_js.get_stream("CL"))
        .await
        .expect("stream");
    let consumer: PullConsumer = within("get_consumer", sub_stream.get_consumer("CLC"))
        .await
        .expect("consumer");
    let done = Arc::new(std::sync::Mutex::new(None));
    let consuming = tokio::spawn(consume(consumer, done.clone()));

    // The crash loop.
    let started = Instant::now();
    for _ in 0..KILLS {
        tokio::time::sleep(rng.millis(200, 900)).await;
        broker = tokio::task::block_in_place(|| kill9_and_restart(broker, &store));
        EPOCH.fetch_add(1, Ordering::SeqCst);
    }
    tokio::time::sleep(rng.millis(200, 500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let (mut retries, mut duplicates) = (0, 0);
    for p in publishers {
        let report = within("publisher", p).await.expect("publisher task");
        retries += report.retries;
        duplicates += report.duplicates;
        acked.extend(report.acked);
    }
    *done.lock().expect("lock") = Some(acked.keys().cloned().collect());
    let cons = match tokio::time::timeout(Duration::from_secs(40), consuming).await {
        Ok(Ok(cons)) => cons,
        Ok(Err(e)) => {
            let ci = api(
                &connect(&broker.url()).await,
                "$JS.API.CONSUMER.INFO.CL.CLC",
                "",
            )
            .await;
            for l in broker.log_lines() {
                eprintln!("  log: {l}");
            }
            panic!("consumer task failed: {e}\nconsumer info: {ci}");
        }
        Err(_) => panic!("consumer did not confirm everything"),
    };
    let crash_time = started.elapsed();

    // Read the whole stream back.
    let check = connect(&broker.url()).await;
    let info = api(&check, "$JS.API.STREAM.INFO.CL", "").await;
    let last = info["state"]["last_seq"].as_u64().expect("last_seq");
    assert_eq!(info["state"]["first_seq"], 1, "{info}");
    assert_eq!(info["state"]["messages"], last, "no gaps: {info}");
    let check_js = jetstream::new(check.clone());
    let stream = within("get_stream", check_js.get_stream("CL"))
        .await
        .expect("stream");
    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    for seq in 1..=last {
        let m = within("get", stream.get_raw_message(seq))
            .await
            .unwrap_or_else(|e| panic!("message {seq}: {e}"));
        assert_eq!(m.sequence, seq);
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_owned())
            .unwrap_or_else(|| panic!("message {seq} without an id"));
        assert_eq!(m.payload, format!("payload of {id}"), "message {seq}");
        if let Some(first) = stored.insert(id.clone(), seq) {
            panic!("{id} stored twice: at {first} and {seq}");
        }
    }
    // Exactly the acked ids, once each, where their acks said.
    assert_eq!(
        stored.len() as u64,
        last,
        "one sequence per distinct id, 1..={last}"
    );
    for (id, seq) in &acked {
        assert_eq!(stored.get(id), Some(seq), "acked {id} at {seq}");
    }
    let unacked: Vec<&String> = stored
        .keys()
        .filter(|id| !acked.contains_key(*id))
        .collect();
    assert!(unacked.is_empty(), "stored but never acked: {unacked:?}");
    // Consumed: everything confirmed, at the right sequences, nothing after its confirmation.
    assert!(
        cons.after_confirm.is_empty(),
        "delivered again after a confirmed double ack: {:?}",
        cons.after_confirm
    );
    for (id, seq) in &cons.confirmed {
        assert_eq!(stored.get(id), Some(seq), "consumed {id} at {seq}");
    }
    assert_eq!(cons.confirmed.len(), acked.len());
    let ci = api(&check, "$JS.API.CONSUMER.INFO.CL.CLC", "").await;
    assert_eq!(ci["ack_floor"]["stream_seq"], last, "{ci}");
    assert_eq!(ci["num_ack_pending"], 0, "{ci}");
    assert_eq!(ci["num_pending"], 0, "{ci}");
    eprintln!(
        "crash loop (seed {seed}): {KILLS} kills in {crash_time:?}; {} publishes acked \
         ({retries} retries, {duplicates} duplicate acks); {last} messages verified; \
         {} deliveries, {} redeliveries ({} of a confirmed message in the same pull), \
         {} unanswered double acks",
        acked.len(),
        cons.deliveries,
        cons.redeliveries,
        cons.in_flight,
        cons.unanswered
    );
}

/// What a double ack of a delivery the broker has no record of gets, on `kind`: `true` if it
/// is answered within 500 ms. The delivery is real but forgotten, as after a crash that came
/// before the consumer's state was saved: message 3 was never delivered by this broker.
async fn unknown_delivery_double_ack_answered(kind: Kind) -> bool {
    let store = StoreDir::new("unknown-ack");
    let broker = start_js(kind, &store);
    let client = connect(&broker.url()).await;
    let js = jetstream::new(client.clone());
    let stream = within(
        "create_stream",
        js.create_stream(Config {
            name: "UA".into(),
            subjects: vec!["ua".into()],
            storage: StorageType::File,
            ..Default::default()
        }),
    )
    .await
    .expect("create_stream");
    for _ in 0..3 {
        within("publish", async {
            js.publish("ua", "x".into()).await?.await
        })
        .await
        .expect("ack");
    }
    let consumer: PullConsumer = within(
        "create_consumer",
        stream.create_consumer(pull::Config {
            durable_name: Some("UAC".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        }),
    )
    .await
    .expect("create_consumer");
    let got = pull_batch(&consumer, 1, Duration::from_secs(2)).await;
    let first = got.first().expect("message 1");
    let reply = first.reply.as_ref().expect("ack subject").to_string();
    // $JS.ACK.UA.UAC.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>: the same for 3.
    let t: Vec<&str> = reply.split('.').collect();
    assert_eq!((t.len(), t[5], t[6]), (9, "1", "1"), "{reply}");
    let forged = format!("$JS.ACK.UA.UAC.1.3.3.{}.0", t[7]);
    let answered = tokio::time::timeout(
        Duration::from_millis(500),
        client.request(forged, Bytes::new()),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    // The real one is answered, and message 3 is still delivered (the ack did not apply).
    within("double ack", first.double_ack())
        .await
        .expect("double ack of a known delivery");
    let rest: Vec<u64> = pull_batch(&consumer, 5, Duration::from_millis(500))
        .await
        .iter()
        .map(|m| m.info().expect("JetStream message").stream_sequence)
        .collect();
    assert_eq!(rest, [2, 3]);
    answered
}

/// Regression, found by the crash loop: a double ack of a delivery the broker has no record
/// of (it was made just before a crash, and the consumer's state from before it was what
/// survived) was answered, although it applied to nothing; the message then came again, after
/// the client had been told its ack was done. Now it gets no answer, so the client knows the
/// message may come again. (nats-server v2.9.10 answers it: see
/// protocol-spec/differences.md.)
#[tokio::test]
async fn double_ack_of_an_unknown_delivery_is_not_confirmed() {
    assert!(!unknown_delivery_double_ack_answered(Kind::Sluice).await);
    if !integration_tests::skip_without_nats_server() {
        let answered = unknown_delivery_double_ack_answered(Kind::NatsServer).await;
        eprintln!("nats-server answers a double ack of an unknown delivery: {answered}");
    }
}
