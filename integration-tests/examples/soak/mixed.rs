//! `soak mixed`: a mixed load at a moderate fixed rate for a while, with async-nats, to find
//! leaks and losses rather than limits.
//!
//! Each kind has its own connections:
//! - core pub/sub: [`CORE_RATE`] msgs/s to `soak.core`, two subscribers; each must get every
//!   message, in order;
//! - queue group: [`QUEUE_RATE`] msgs/s to `soak.queue`, three members of one group; every
//!   message must reach exactly one;
//! - request-reply: [`REQ_RATE`] requests/s to `soak.req`, two responders in a queue group;
//!   every request must be answered with its own payload;
//! - JetStream: [`JS_RATE`] publishes/s to stream SOAK (file storage), each with a
//!   Nats-Msg-Id and its PubAck awaited (every [`DEDUPE_EVERY`]th is sent twice: the second must be
//!   acked as a duplicate of the first); a durable pull consumer acks everything. Every
//!   acked sequence must be consumed, and the stream's last_seq must equal the acked count.
//!   The stream is bounded ([`JS_MAX_MSGS`], [`JS_DUPLICATE_WINDOW`]) so that its state
//!   reaches a steady size during the warm-up.
//!
//! The server's RSS is sampled every [`rss::SAMPLE`] and written to the CSV file (`secs,rss_kib`).
//! Failures (errors, losses, RSS growth over [`MAX_GROWTH`] after warm-up) make `run` fail.

use crate::rss::{self, Sample};
use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::{jetstream, Client};
use bytes::Bytes;
use futures::StreamExt;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const CORE_RATE: f64 = 1000.0;
const QUEUE_RATE: f64 = 1000.0;
const REQ_RATE: f64 = 200.0;
const JS_RATE: f64 = 300.0;
/// Core subscribers, queue members, responders.
const CORE_SUBS: usize = 2;
const QUEUE_MEMBERS: usize = 3;
const RESPONDERS: usize = 2;
/// The RSS after warm-up may grow by at most this fraction by the end.
const MAX_GROWTH: f64 = 0.20;
/// How long receivers get to catch up after the publishers stop.
const SETTLE: Duration = Duration::from_secs(30);
const STREAM: &str = "SOAK";
/// The stream keeps this many messages (the oldest go): with an unbounded stream, its
/// per-message state would grow for the whole run and hide a leak.
const JS_MAX_MSGS: u64 = 10_000;
/// The stream's duplicate window (default 2 min): short, so that the server's Nats-Msg-Id
/// table reaches its steady size within the warm-up.
const JS_DUPLICATE_WINDOW: Duration = Duration::from_secs(30);
/// Every this many JetStream publishes, the last one is sent again (a dedupe check).
const DEDUPE_EVERY: u64 = 100;
const CONSUMER: &str = "soak-worker";

/// Everything counted during the run.
#[derive(Default)]
struct Stats {
    core_sent: AtomicU64,
    /// Summed over the subscribers.
    core_received: AtomicU64,
    queue_sent: AtomicU64,
    queue_received: AtomicU64,
    requests: AtomicU64,
    answered: AtomicU64,
    js_acked: AtomicU64,
    js_dedupe_checks: AtomicU64,
    js_redelivered: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
    queue_seen: Seen,
    js_seen: Seen,
}

impl Stats {
    /// Counts an error and keeps (and prints) the first few.
    fn fail(&self, what: &str, e: impl Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap();
        if first.len() < 10 {
            let line = format!("{what}: {e}");
            eprintln!("soak: error: {line}");
            first.push(line);
        }
    }

    fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }
}

/// Which numbers arrived, for exactly-once and at-least-once checks.
#[derive(Default)]
struct Seen(Mutex<Vec<bool>>);

impl Seen {
    /// Records `i`; true the first time.
    fn mark(&self, i: u64) -> bool {
        let mut v = self.0.lock().unwrap();
        let i = i as usize;
        if v.len() <= i {
            v.resize(i + 1, false);
        }
        !std::mem::replace(&mut v[i], true)
    }

    /// How many of `from..to` have not arrived.
    fn missing(&self, from: u64, to: u64) -> u64 {
        let v = self.0.lock().unwrap();
        (from..to)
            .filter(|&i| !v.get(i as usize).copied().unwrap_or(false))
            .count() as u64
    }
}

/// Says how many messages are due, at a fixed rate, every 10 ms.
struct Pacer {
    start: Instant,
    rate: f64,
    due: u64,
    tick: tokio::time::Interval,
}

impl Pacer {
    fn new(rate: f64) -> Pacer {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Pacer {
            start: Instant::now(),
            rate,
            due: 0,
            tick,
        }
    }

    /// Waits for the next tick; how many messages to send now, or `None` once `stop` is set.
    /// A backlog (the publisher fell behind) is dropped, not sent in a burst.
    async fn next(&mut self, stop: &AtomicBool) -> Option<u64> {
        self.tick.tick().await;
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let due = (self.start.elapsed().as_secs_f64() * self.rate) as u64;
        let n = due
            .saturating_sub(self.due)
            .min((self.rate / 10.0) as u64 + 1);
        self.due = due;
        Some(n)
    }
}

async fn connect(url: &str) -> Result<Client, String> {
    async_nats::connect(url)
        .await
        .map_err(|e| format!("connect to {url}: {e}"))
}

/// Subscribes `client` to `subject` (in `queue`) and confirms with a flush.
async fn subscribe(
    client: &Client,
    subject: &'static str,
    queue: Option<&'static str>,
) -> Result<async_nats::Subscriber, String> {
    let sub = match queue {
        Some(q) => client.queue_subscribe(subject, q.into()).await,
        None => client.subscribe(subject).await,
    }
    .map_err(|e| format!("subscribe {subject}: {e}"))?;
    client.flush().await.map_err(|e| format!("flush: {e}"))?;
    Ok(sub)
}

/// Publishes sequence numbers to `subject` at `rate` until `stop`, counting in `sent`.
async fn core_publisher(
    client: Client,
    subject: &'static str,
    rate: f64,
    sent: &AtomicU64,
    stats: &Stats,
    stop: &AtomicBool,
) {
    let mut pacer = Pacer::new(rate);
    while let Some(n) = pacer.next(stop).await {
        for _ in 0..n {
            let seq = sent.load(Ordering::Relaxed);
            match client.publish(subject, seq.to_string().into()).await {
                Ok(()) => sent.store(seq + 1, Ordering::Relaxed),
                Err(e) => stats.fail(subject, e),
            }
        }
    }
    if let Err(e) = client.flush().await {
        stats.fail("flush", e);
    }
}

/// The sequence number in a payload.
fn seq_of(payload: &[u8]) -> Option<u64> {
    std::str::from_utf8(payload).ok()?.parse().ok()
}

/// A core subscriber: every message in order, from 0.
async fn core_subscriber(mut sub: async_nats::Subscriber, stats: Arc<Stats>) {
    let mut next = 0;
    while let Some(m) = sub.next().await {
        match seq_of(&m.payload) {
            Some(seq) if seq == next => next += 1,
            got => stats.fail("soak.core", format!("got {got:?}, expected {next}")),
        }
        stats.core_received.fetch_add(1, Ordering::Relaxed);
    }
}

/// A queue member: each message must be new to the whole group.
async fn queue_member(mut sub: async_nats::Subscriber, stats: Arc<Stats>) {
    while let Some(m) = sub.next().await {
        match seq_of(&m.payload) {
            Some(seq) if stats.queue_seen.mark(seq) => {}
            got => stats.fail("soak.queue", format!("{got:?} delivered twice or garbled")),
        }
        stats.queue_received.fetch_add(1, Ordering::Relaxed);
    }
}

/// A responder: answers each request with its payload.
async fn responder(client: Client, mut sub: async_nats::Subscriber, stats: Arc<Stats>) {
    while let Some(m) = sub.next().await {
        match m.reply {
            Some(reply) => {
                if let Err(e) = client.publish(reply, m.payload).await {
                    stats.fail("reply", e);
                }
            }
            None => stats.fail("soak.req", "a request without a reply subject"),
        }
    }
}

/// Sends requests at [`REQ_RATE`] until `stop`; each must come back with its payload.
async fn requester(client: Client, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    let mut pacer = Pacer::new(REQ_RATE);
    while let Some(n) = pacer.next(&stop).await {
        for _ in 0..n {
            let seq = stats.requests.fetch_add(1, Ordering::Relaxed);
            let body = Bytes::from(seq.to_string());
            match client.request("soak.req", body.clone()).await {
                Ok(reply) if reply.payload == body => {
                    stats.answered.fetch_add(1, Ordering::Relaxed);
                }
                Ok(reply) => stats.fail("soak.req", format!("wrong reply {:?}", reply.payload)),
                Err(e) => stats.fail("soak.req", e),
            }
        }
    }
}

/// Creates the stream and the durable pull consumer.
async fn js_setup(js: &jetstream::Context) -> Result<pull::Stream, String> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["soak.js.>".into()],
            storage: StorageType::File,
            max_messages: JS_MAX_MSGS as i64,
            duplicate_window: JS_DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("create stream: {e}"))?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("create consumer: {e}"))?;
    consumer
        .messages()
        .await
        .map_err(|e| format!("consume: {e}"))
}

/// Publishes `Nats-Msg-Id: m-<seq>`; the PubAck's (sequence, duplicate).
async fn js_publish(js: &jetstream::Context, seq: u64) -> Result<(u64, bool), String> {
    let msg = PublishMessage::build()
        .message_id(format!("m-{seq}"))
        .payload(seq.to_string().into());
    let ack = js
        .send_publish("soak.js.m", msg)
        .await
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok((ack.sequence, ack.duplicate))
}

/// Publishes to the stream at [`JS_RATE`] until `stop`; message `n` (from 1) must get stream
/// sequence `n`, and a repeat of every [`DEDUPE_EVERY`]th must be acked as its duplicate.
async fn js_publisher(js: jetstream::Context, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    let mut pacer = Pacer::new(JS_RATE);
    while let Some(n) = pacer.next(&stop).await {
        for _ in 0..n {
            let seq = Stats::get(&stats.js_acked) + 1;
            match js_publish(&js, seq).await {
                Ok((got, false)) if got == seq => {
                    stats.js_acked.store(seq, Ordering::Relaxed);
                }
                Ok(got) => stats.fail("js publish", format!("acked {got:?}, expected {seq}")),
                Err(e) => stats.fail("js publish", e),
            }
            if seq.checked_rem(DEDUPE_EVERY) == Some(0) {
                js_dedupe_check(&js, &stats, seq).await;
            }
        }
    }
}

/// Sends message `seq` again: it must be acked as a duplicate, with its first sequence.
async fn js_dedupe_check(js: &jetstream::Context, stats: &Stats, seq: u64) {
    match js_publish(js, seq).await {
        Ok((got, true)) if got == seq => {
            stats.js_dedupe_checks.fetch_add(1, Ordering::Relaxed);
        }
        Ok(got) => stats.fail("js dedupe", format!("repeat of {seq} acked {got:?}")),
        Err(e) => stats.fail("js dedupe", e),
    }
}

/// Consumes and acks everything; records each stream sequence.
async fn js_consumer(mut messages: pull::Stream, stats: Arc<Stats>) {
    while let Some(m) = messages.next().await {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                stats.fail("js consume", e);
                continue;
            }
        };
        match m.info() {
            Ok(info) if stats.js_seen.mark(info.stream_sequence) => {}
            Ok(_) => {
                stats.js_redelivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => stats.fail("js message info", e),
        }
        if let Err(e) = m.ack().await {
            stats.fail("js ack", e);
        }
    }
}

/// The tasks of a run.
struct Running {
    publishers: Vec<JoinHandle<()>>,
    receivers: Vec<JoinHandle<()>>,
}

/// Starts every workload's connections and tasks.
async fn start(url: &str, stats: &Arc<Stats>, stop: &Arc<AtomicBool>) -> Result<Running, String> {
    let mut receivers = Vec::new();
    for _ in 0..CORE_SUBS {
        let sub = subscribe(&connect(url).await?, "soak.core", None).await?;
        receivers.push(tokio::spawn(core_subscriber(sub, stats.clone())));
    }
    for _ in 0..QUEUE_MEMBERS {
        let sub = subscribe(&connect(url).await?, "soak.queue", Some("soak-workers")).await?;
        receivers.push(tokio::spawn(queue_member(sub, stats.clone())));
    }
    for _ in 0..RESPONDERS {
        let c = connect(url).await?;
        let sub = subscribe(&c, "soak.req", Some("soak-responders")).await?;
        receivers.push(tokio::spawn(responder(c, sub, stats.clone())));
    }
    let js = jetstream::new(connect(url).await?);
    let messages = js_setup(&js).await?;
    receivers.push(tokio::spawn(js_consumer(messages, stats.clone())));

    let mut publishers = Vec::new();
    for (subject, rate) in [("soak.core", CORE_RATE), ("soak.queue", QUEUE_RATE)] {
        let (c, stats, stop) = (connect(url).await?, stats.clone(), stop.clone());
        publishers.push(tokio::spawn(async move {
            let sent = match subject {
                "soak.core" => &stats.core_sent,
                _ => &stats.queue_sent,
            };
            core_publisher(c, subject, rate, sent, &stats, &stop).await
        }));
    }
    let c = connect(url).await?;
    publishers.push(tokio::spawn(requester(c, stats.clone(), stop.clone())));
    publishers.push(tokio::spawn(js_publisher(js, stats.clone(), stop.clone())));
    Ok(Running {
        publishers,
        receivers,
    })
}

/// True once every receiver has everything that was sent.
fn caught_up(s: &Stats) -> bool {
    let acked = Stats::get(&s.js_acked);
    Stats::get(&s.core_received) >= CORE_SUBS as u64 * Stats::get(&s.core_sent)
        && Stats::get(&s.queue_received) >= Stats::get(&s.queue_sent)
        && s.js_seen.missing(1, acked + 1) == 0
}

/// Waits (up to [`SETTLE`]) for the receivers to catch up, and for the consumer to have no
/// messages pending or unacknowledged.
async fn settle(url: &str, stats: &Stats) -> Result<(u64, u64), String> {
    let deadline = Instant::now() + SETTLE;
    while !caught_up(stats) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let js = jetstream::new(connect(url).await?);
    let mut stream = js
        .get_stream(STREAM)
        .await
        .map_err(|e| format!("stream: {e}"))?;
    loop {
        let mut consumer: PullConsumer = stream
            .get_consumer(CONSUMER)
            .await
            .map_err(|e| format!("consumer: {e}"))?;
        let info = consumer
            .info()
            .await
            .map_err(|e| format!("consumer info: {e}"))?;
        if (info.num_ack_pending == 0 && info.num_pending == 0) || Instant::now() >= deadline {
            let state = stream
                .info()
                .await
                .map_err(|e| format!("stream info: {e}"))?
                .state
                .clone();
            return Ok((state.last_sequence, state.messages));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The losses found at the end, as sentences (empty: none).
fn losses(s: &Stats, last_seq: u64, stored: u64) -> Vec<String> {
    let mut lost = Vec::new();
    let mut check = |what: &str, missing: u64| {
        if missing > 0 {
            lost.push(format!("{what}: {missing} lost"));
        }
    };
    let core_want = CORE_SUBS as u64 * Stats::get(&s.core_sent);
    check(
        "core pub/sub",
        core_want.saturating_sub(Stats::get(&s.core_received)),
    );
    let queue_sent = Stats::get(&s.queue_sent);
    check("queue group", s.queue_seen.missing(0, queue_sent));
    check(
        "request-reply",
        Stats::get(&s.requests) - Stats::get(&s.answered),
    );
    let acked = Stats::get(&s.js_acked);
    check("jetstream consumed", s.js_seen.missing(1, acked + 1));
    if last_seq != acked || stored != acked.min(JS_MAX_MSGS) {
        lost.push(format!(
            "jetstream: stream last_seq {last_seq}, messages {stored}, acked {acked} \
             (keeping at most {JS_MAX_MSGS})"
        ));
    }
    lost
}

/// The counts so far, for the RSS sample lines.
fn progress(s: &Stats) -> String {
    format!(
        "core={} queue={} req={} js={} errors={}",
        Stats::get(&s.core_received),
        Stats::get(&s.queue_received),
        Stats::get(&s.answered),
        Stats::get(&s.js_acked),
        Stats::get(&s.errors)
    )
}

fn print_summary(s: &Stats, secs: f64, last_seq: u64, samples: &[Sample], warmup: f64) {
    println!("soak summary: {secs:.0} s");
    println!(
        "  core pub/sub   sent {} received {} ({CORE_SUBS} subscribers)",
        Stats::get(&s.core_sent),
        Stats::get(&s.core_received)
    );
    println!(
        "  queue group    sent {} received {} ({QUEUE_MEMBERS} members)",
        Stats::get(&s.queue_sent),
        Stats::get(&s.queue_received)
    );
    println!(
        "  request-reply  requests {} answered {}",
        Stats::get(&s.requests),
        Stats::get(&s.answered)
    );
    println!(
        "  jetstream      acked {} (dedupe checks {}) stream last_seq {last_seq} redelivered {}",
        Stats::get(&s.js_acked),
        Stats::get(&s.js_dedupe_checks),
        Stats::get(&s.js_redelivered)
    );
    println!("  errors         {}", Stats::get(&s.errors));
    if let Some(t) = rss::trend(samples, warmup) {
        println!(
            "  rss            {:.1} MiB after warm-up (at {:.0} s), {:.1} MiB at the end \
             ({:.0} s): {:+.1}%, slope {:+.0} KiB/min",
            t.warm.kib as f64 / 1024.0,
            t.warm.secs,
            t.end.kib as f64 / 1024.0,
            t.end.secs,
            t.growth * 100.0,
            t.slope
        );
    }
}

/// `soak mixed`: see the module doc.
pub async fn run(addr: &str, pid: u32, minutes: f64, csv: &str) -> Result<(), String> {
    let url = format!("nats://{addr}");
    let duration = Duration::from_secs_f64(minutes * 60.0);
    let warmup = (duration.as_secs_f64() / 2.0).min(60.0);
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let running = start(&url, &stats, &stop).await?;
    let started = Instant::now();
    let progress = {
        let stats = stats.clone();
        move || progress(&stats)
    };
    let sampling = tokio::spawn(rss::sampler(pid, csv.into(), duration, progress));

    let samples = sampling.await.map_err(|e| e.to_string())?;
    stop.store(true, Ordering::Relaxed);
    for p in running.publishers {
        p.await.map_err(|e| e.to_string())?;
    }
    let secs = started.elapsed().as_secs_f64();
    let (last_seq, stored) = settle(&url, &stats).await?;
    running.receivers.iter().for_each(JoinHandle::abort);

    print_summary(&stats, secs, last_seq, &samples, warmup);
    let mut failures = losses(&stats, last_seq, stored);
    let errors = Stats::get(&stats.errors);
    if errors > 0 {
        let first = stats.first_errors.lock().unwrap().join("; ");
        failures.push(format!("{errors} errors, the first: {first}"));
    }
    match rss::trend(&samples, warmup) {
        Some(t) if t.growth > MAX_GROWTH => failures.push(format!(
            "RSS grew {:.1}% after warm-up (at most {:.0}%)",
            t.growth * 100.0,
            MAX_GROWTH * 100.0
        )),
        Some(_) => {}
        None => failures.push("no RSS samples after warm-up".into()),
    }
    if failures.is_empty() {
        println!("soak: OK");
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
