//! JetStream consumer durability, black-box: what a durable pull consumer on a file stream keeps
//! when its broker is killed with SIGKILL and started again on the same `-sd` (and, here, the
//! same port, so clients that stay connected reconnect on their own), and end-to-end
//! exactly-once processing across such a crash: publishes deduplicated by `Nats-Msg-Id`,
//! consumption committed by double acks.
//!
//! A double ack's reply promises that the broker has applied the ack, not that it is on disk:
//! nats-server (v2.9.10) writes a consumer's state at most 100 ms after a change
//! (`consumerFileStore.flushLoop`). So before each kill the consumer side is left quiet for
//! [`settle`]; what is acked and settled must survive. Publishes, on the other hand, are in
//! flight while the broker dies, and are retried with the same message ID.
//!
//! Every test runs against both brokers ([`both_async!`]): `NAME::sluice` is the test, and
//! `NAME::nats_server` proves the expectation is the reference server's behaviour. Every wait is
//! bounded: each await goes through [`within`] (or its own timeout), and each body through a
//! time limit.

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream::Config, stream::StorageType};
use integration_tests::both_async;
use integration_tests::client::{
    api, bounded, connect_fast_reconnect as connect, pull_batch, within, STEP,
};
use integration_tests::js::{kill9_and_restart, start_js, StoreDir};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long the consumer side is left quiet before a kill, so that the broker's consumer state
/// (acks, deliveries) reaches its files: nats-server writes it within 100 ms. Sluice answers a
/// double ack only after the ack is fsynced, so for it there is no wait: the kill follows the
/// last double ack's answer at once.
fn settle(kind: integration_tests::Kind) -> Duration {
    match kind {
        integration_tests::Kind::NatsServer => Duration::from_millis(400),
        integration_tests::Kind::Sluice => Duration::ZERO,
    }
}

/// Creates the file stream `name` on `subjects`.
async fn create_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: &str,
) -> jetstream::stream::Stream {
    within(
        "create_stream",
        js.create_stream(Config {
            name: name.into(),
            subjects: vec![subjects.into()],
            storage: StorageType::File,
            ..Default::default()
        }),
    )
    .await
    .expect("create_stream")
}

/// Creates the durable pull consumer `name` with explicit acks and `ack_wait`.
async fn create_durable(
    stream: &jetstream::stream::Stream,
    name: &str,
    ack_wait: Duration,
) -> PullConsumer {
    within(
        "create_consumer",
        stream.create_consumer(pull::Config {
            durable_name: Some(name.into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait,
            ..Default::default()
        }),
    )
    .await
    .expect("create_consumer")
}

both_async!(
    async fn ack_floor_survives_kill9(kind) {
        bounded(Duration::from_secs(60), async {
            let store = StoreDir::new("ackfloor");
            let broker = start_js(kind, &store);
            let client = connect(&broker.url()).await;
            let js = jetstream::new(client.clone());
            let stream = create_stream(&js, "CD", "cd.>").await;
            for i in 1..=20u64 {
                let ack = within("publish", async {
                    js.publish("cd.x", format!("m{i}").into()).await?.await
                })
                .await
                .expect("ack");
                assert_eq!(ack.sequence, i);
            }
            // A short ack wait, so the unacked messages come again soon after the restart.
            let consumer = create_durable(&stream, "DUR", Duration::from_secs(2)).await;
            let msgs = pull_batch(&consumer, 20, Duration::from_secs(5)).await;
            let seqs: Vec<u64> = msgs
                .iter()
                .map(|m| m.info().expect("JetStream message").stream_sequence)
                .collect();
            assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
            for m in &msgs[..12] {
                within("double_ack", m.double_ack()).await.expect("double ack");
            }
            let info = api(&client, "$JS.API.CONSUMER.INFO.CD.DUR", "").await;
            assert_eq!(info["ack_floor"]["stream_seq"], 12, "{info}");
            assert_eq!(info["num_ack_pending"], 8, "{info}");
            drop(msgs);
            tokio::time::sleep(settle(kind)).await;
            drop(client);
            let broker = kill9_and_restart(broker, &store);

            let client = connect(&broker.url()).await;
            let info = api(&client, "$JS.API.CONSUMER.INFO.CD.DUR", "").await;
            assert!(info.get("error").is_none(), "the consumer is gone: {info}");
            assert_eq!(info["name"], "DUR", "{info}");
            assert_eq!(info["config"]["durable_name"], "DUR", "{info}");
            assert_eq!(info["ack_floor"]["stream_seq"], 12, "{info}");
            assert_eq!(info["ack_floor"]["consumer_seq"], 12, "{info}");
            assert_eq!(info["delivered"]["stream_seq"], 20, "{info}");
            assert_eq!(info["num_ack_pending"], 8, "{info}");
            let names = api(&client, "$JS.API.CONSUMER.NAMES.CD", "").await;
            assert_eq!(names["consumers"], serde_json::json!(["DUR"]), "{names}");

            // 13..20 come again (once their ack wait has passed); 1..12 never do.
            let js = jetstream::new(client.clone());
            let stream = within("get_stream", js.get_stream("CD")).await.expect("stream");
            let consumer: PullConsumer = within("get_consumer", stream.get_consumer("DUR"))
                .await
                .expect("consumer");
            let mut seen = BTreeSet::new();
            let deadline = Instant::now() + STEP;
            while seen.len() < 8 {
                assert!(Instant::now() < deadline, "redelivered so far: {seen:?}");
                for m in pull_batch(&consumer, 8, Duration::from_secs(1)).await {
                    let info = m.info().expect("JetStream message");
                    let seq = info.stream_sequence;
                    assert!((13..=20).contains(&seq), "message {seq} delivered again");
                    assert!(info.delivered >= 1, "{seq}: delivered {}", info.delivered);
                    assert_eq!(m.payload, format!("m{seq}"));
                    within("double_ack", m.double_ack()).await.expect("double ack");
                    seen.insert(seq);
                }
            }
            // Nothing more: everything is acked now.
            let rest = pull_batch(&consumer, 20, Duration::from_millis(500)).await;
            let rest: Vec<u64> = rest
                .iter()
                .map(|m| m.info().expect("JetStream message").stream_sequence)
                .collect();
            assert!(rest.is_empty(), "delivered after all were acked: {rest:?}");
            let info = api(&client, "$JS.API.CONSUMER.INFO.CD.DUR", "").await;
            assert_eq!(info["ack_floor"]["stream_seq"], 20, "{info}");
            assert_eq!(info["num_ack_pending"], 0, "{info}");
        })
        .await
    }
);

/// Messages in the exactly-once test.
const N: usize = 200;
/// Published before the crash.
const PUBLISHED_BEFORE: usize = 80;
/// Consumed (committed) before the crash.
const CONSUMED_BEFORE: usize = 40;

/// What the publisher saw.
#[derive(Debug, Default)]
struct PubReport {
    /// Publish attempts that failed or timed out and were retried.
    retries: usize,
    /// Acks saying "duplicate": a retried publish that had been stored after all, or one sent
    /// again on purpose after the crash.
    duplicates: usize,
    /// The stream sequence of each id's (last) ack.
    seqs: BTreeMap<usize, u64>,
}

/// Publishes ids 0..N to `eo.*`, each with `Nats-Msg-Id: eo-<id>`, one at a time, retrying a
/// publish that errors or times out with the same ID until it is acked. After
/// [`PUBLISHED_BEFORE`] it reports on `reached` and waits for `go`, then publishes the rest
/// paced 5 ms apart, so the crash comes while it publishes. Once `restarted` is set it also
/// sends the last [`REPLAYED`] acked ids again.
async fn publisher(
    js: jetstream::Context,
    reached: oneshot::Sender<()>,
    go: oneshot::Receiver<()>,
    restarted: Arc<AtomicBool>,
) -> PubReport {
    let mut report = PubReport::default();
    let (mut reached, mut go) = (Some(reached), Some(go));
    let mut replayed = false;
    for id in 0..N {
        if id == PUBLISHED_BEFORE {
            let _ = reached.take().expect("once").send(());
            go.take().expect("once").await.expect("go");
        }
        if id > PUBLISHED_BEFORE {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !replayed && restarted.load(Ordering::SeqCst) {
            // After the crash, as a publisher that cannot tell which of its recent publishes
            // were stored, send the last REPLAYED again. Each is a duplicate of the stored
            // one, with the sequence it had.
            replayed = true;
            for old in id.saturating_sub(REPLAYED)..id {
                let dups = report.duplicates;
                let again = publish_until_acked(&js, old, &mut report).await;
                assert_eq!(report.duplicates, dups + 1, "eo-{old} stored twice");
                assert_eq!(
                    again, report.seqs[&old],
                    "eo-{old}: sequence of the duplicate"
                );
            }
        }
        let seq = publish_until_acked(&js, id, &mut report).await;
        report.seqs.insert(id, seq);
    }
    assert!(replayed, "the publisher finished before the restart");
    report
}

/// How many already acked publishes the publisher sends again after the crash.
const REPLAYED: usize = 5;

/// Publishes `eo-<id>` until it is acked (each attempt bounded by 1 s); its stream sequence.
async fn publish_until_acked(js: &jetstream::Context, id: usize, report: &mut PubReport) -> u64 {
    loop {
        let msg = PublishMessage::build()
            .payload(format!("payload-{id}").into())
            .message_id(format!("eo-{id}"));
        let attempt = tokio::time::timeout(Duration::from_secs(1), async {
            js.send_publish(format!("eo.{}", id % 4), msg).await?.await
        })
        .await;
        match attempt {
            Ok(Ok(ack)) => {
                report.duplicates += usize::from(ack.duplicate);
                return ack.sequence;
            }
            Ok(Err(_)) | Err(_) => {
                report.retries += 1;
                assert!(report.retries < 200, "publish eo-{id} keeps failing");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What the consumer saw.
#[derive(Debug, Default)]
struct ConsumeReport {
    /// The committed ids: those whose double ack succeeded.
    committed: BTreeSet<usize>,
    /// Commits made (an id is committed only when it is not committed yet).
    commits: usize,
    /// Ids delivered again after they had been committed.
    after_commit: Vec<usize>,
    /// Double acks that failed (the message must come again).
    failed_acks: usize,
}

/// Processes messages from `consumer` until all N ids are committed: an id counts as committed
/// once its double ack succeeds, and an id already committed is acked and not counted again.
/// After [`CONSUMED_BEFORE`] commits (at a batch boundary, nothing unacked) it reports on
/// `paused` and waits for `resume`.
async fn consume(
    consumer: PullConsumer,
    paused: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
) -> ConsumeReport {
    let mut report = ConsumeReport::default();
    let (mut paused, mut resume) = (Some(paused), Some(resume));
    let deadline = Instant::now() + Duration::from_secs(25);
    while report.committed.len() < N {
        assert!(
            Instant::now() < deadline,
            "consumer stuck at {} of {N} committed: {report:?}",
            report.committed.len()
        );
        if report.committed.len() >= CONSUMED_BEFORE {
            if let Some(paused) = paused.take() {
                let _ = paused.send(());
                resume.take().expect("once").await.expect("resume");
            }
        }
        let max = if paused.is_some() {
            (CONSUMED_BEFORE - report.committed.len()).min(10)
        } else {
            10
        };
        let got = pull_batch(&consumer, max, Duration::from_millis(500)).await;
        for m in got {
            let id: usize = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .and_then(|v| v.as_str().strip_prefix("eo-"))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("message without an eo- id: {m:?}"));
            assert_eq!(m.payload, format!("payload-{id}"));
            if report.committed.contains(&id) {
                report.after_commit.push(id);
            }
            match tokio::time::timeout(Duration::from_secs(2), m.double_ack()).await {
                // Commit, the first time only.
                Ok(Ok(())) if report.committed.insert(id) => report.commits += 1,
                Ok(Ok(())) => {}
                // Not committed: the message comes again.
                Ok(Err(_)) | Err(_) => report.failed_acks += 1,
            }
        }
    }
    report
}

both_async!(
    async fn exactly_once_across_kill9(kind) {
        bounded(Duration::from_secs(30), async {
            let store = StoreDir::new("exactly-once");
            let broker = start_js(kind, &store);
            let url = broker.url();
            let pub_client = connect(&url).await;
            let sub_client = connect(&url).await;
            let js = jetstream::new(pub_client.clone());
            create_stream(&js, "EO", "eo.>").await;
            // The consumer side has its own connection. A 3 s ack wait: quick double acks never
            // see a redelivery, and a message whose ack failed comes again soon.
            let sub_js = jetstream::new(sub_client.clone());
            let sub_stream = within("get_stream", sub_js.get_stream("EO")).await.expect("stream");
            let consumer = create_durable(&sub_stream, "EOC", Duration::from_secs(3)).await;

            let (reached_tx, reached_rx) = oneshot::channel();
            let (go_tx, go_rx) = oneshot::channel();
            let (paused_tx, paused_rx) = oneshot::channel();
            let (resume_tx, resume_rx) = oneshot::channel();
            let restarted = Arc::new(AtomicBool::new(false));
            let publishing = tokio::spawn(publisher(js, reached_tx, go_rx, restarted.clone()));
            let consuming = tokio::spawn(consume(consumer, paused_tx, resume_rx));

            within("publisher reaches the crash point", reached_rx)
                .await
                .expect("publisher");
            within("consumer reaches the crash point", paused_rx)
                .await
                .expect("consumer");
            // The consumer is quiet with 40 committed; let its state reach the disk, then crash
            // while the publisher is publishing.
            tokio::time::sleep(settle(kind)).await;
            go_tx.send(()).expect("publisher waits");
            tokio::time::sleep(Duration::from_millis(50)).await;
            let broker = kill9_and_restart(broker, &store);
            restarted.store(true, Ordering::SeqCst);
            resume_tx.send(()).expect("consumer waits");

            let pubs = within("publisher", publishing).await.expect("publisher task");
            let cons = within("consumer", consuming).await.expect("consumer task");
            eprintln!(
                "publisher: {} retries, {} duplicate acks; consumer: {} failed double acks, \
                 {} deliveries after commit",
                pubs.retries,
                pubs.duplicates,
                cons.failed_acks,
                cons.after_commit.len()
            );

            // Every id published once: N acks for N distinct sequences 1..=N.
            assert!(pubs.duplicates >= REPLAYED, "{pubs:?}");
            assert_eq!(pubs.seqs.len(), N);
            let seqs: BTreeSet<u64> = pubs.seqs.values().copied().collect();
            assert_eq!(seqs, (1..=N as u64).collect(), "{pubs:?}");
            // Every id committed exactly once, and none delivered again after its commit.
            assert_eq!(cons.committed, (0..N).collect(), "{cons:?}");
            assert_eq!(cons.commits, N, "{cons:?}");
            assert!(
                cons.after_commit.is_empty(),
                "delivered again after a successful double ack: {:?}",
                cons.after_commit
            );

            // The stream holds exactly N (deduplication held across the crash), and the
            // consumer has nothing outstanding.
            let check = connect(&broker.url()).await;
            let info = api(&check, "$JS.API.STREAM.INFO.EO", "").await;
            assert_eq!(info["state"]["messages"], N, "{info}");
            assert_eq!(info["state"]["last_seq"], N, "{info}");
            let info = api(&check, "$JS.API.CONSUMER.INFO.EO.EOC", "").await;
            assert_eq!(info["ack_floor"]["stream_seq"], N, "{info}");
            assert_eq!(info["num_ack_pending"], 0, "{info}");
            assert_eq!(info["num_pending"], 0, "{info}");
        })
        .await
    }
);
