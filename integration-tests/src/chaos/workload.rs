//! The workload the chaos scenarios run while faults happen, and the history it records.
//!
//! - Publishers: publisher `k` is pinned to node `k % nodes` (its client knows only that URL and
//!   ignores discovered ones, so a publisher of a partitioned node keeps publishing there). It
//!   publishes `chaos.<k>` with a unique `Nats-Msg-Id` (also the payload), waits for the answer
//!   and records it: acked (with the stream sequence), refused (an error reply, or no
//!   responders: the server said no) or unknown (no answer in time, connection lost). An
//!   unknown publish is retried once with the same id, so a lost dedup shows as a duplicate.
//! - One consumer: a durable pull consumer with explicit acks, fetched by NEXT requests each on
//!   a fresh inbox. Every delivery is recorded (stream sequence from the ack subject, delivery
//!   count, msg id, which request it answered) and acked with AckAck: the `+ACK` is published
//!   with a reply subject and counts as confirmed when the server answers on it.
//!
//! Timing is seeded ([`rand::rngs::SmallRng`]) and bounded: everything stops at a flag.

use async_nats::header::HeaderMap;
use async_nats::{Client, ConnectOptions};
use futures::StreamExt;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The stream every scenario uses.
pub const STREAM: &str = "CHAOS";
/// Its durable pull consumer.
pub const CONSUMER: &str = "CHAOS_C";

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// How many publishers (publisher `k` on node `k % nodes`).
    pub publishers: usize,
    /// Pause between two publishes of one publisher: uniform in this range (ms).
    pub interval_ms: (u64, u64),
    /// How long a publish waits for its answer before it counts as unknown.
    pub publish_timeout: Duration,
    /// How long an AckAck waits for the server's confirmation.
    pub ack_timeout: Duration,
    /// Messages a NEXT request asks for.
    pub batch: usize,
    /// The NEXT request's `expires`.
    pub fetch_expires: Duration,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            publishers: 3,
            interval_ms: (5, 25),
            publish_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(2),
            batch: 20,
            fetch_expires: Duration::from_millis(500),
        }
    }
}

/// What one publish attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubResult {
    /// A JetStream ack: stored at `seq` (`duplicate`: the server says it had the id already).
    Acked { seq: u64, duplicate: bool },
    /// The server said no (an error reply, or no responders).
    Refused(String),
    /// No answer in time, or the connection failed: it may or may not be stored.
    Unknown(String),
}

/// One publish attempt.
#[derive(Debug, Clone)]
pub struct PubAttempt {
    /// The `Nats-Msg-Id` (and payload).
    pub id: String,
    /// Which publisher (and so which node: `publisher % nodes`).
    pub publisher: usize,
    /// When it was sent, since the workload started.
    pub sent: Duration,
    /// When the answer (or the timeout) came.
    pub answered: Duration,
    /// The answer.
    pub result: PubResult,
}

/// One message the consumer received.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Stream sequence (from the ack subject).
    pub seq: u64,
    /// Delivery count (from the ack subject).
    pub delivered: u64,
    /// Its msg id (the payload).
    pub id: String,
    /// The NEXT request it answered (numbered from 0).
    pub request: u64,
    /// When it arrived.
    pub at: Duration,
}

/// An ack the server confirmed.
#[derive(Debug, Clone)]
pub struct AckConfirm {
    /// Stream sequence acked.
    pub seq: u64,
    /// The delivery acked (index into [`History::deliveries`]).
    pub delivery: usize,
    /// The NEXT request that delivered it.
    pub request: u64,
    /// When the confirmation arrived.
    pub at: Duration,
}

/// Everything the workload saw.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// Every publish attempt, in no particular order.
    pub attempts: Vec<PubAttempt>,
    /// Every delivery, in arrival order.
    pub deliveries: Vec<Delivery>,
    /// Every confirmed ack, in order.
    pub acks: Vec<AckConfirm>,
    /// Acks sent without a confirmation in time.
    pub unconfirmed_acks: usize,
    /// For each NEXT request (by number), when it was sent.
    pub requests: Vec<Duration>,
}

/// A running workload: stop it with [`Workload::stop_publishers`] and [`Workload::finish`].
pub struct Workload {
    start: Instant,
    stop_pub: Arc<AtomicBool>,
    stop_con: Arc<AtomicBool>,
    publishers: Vec<tokio::task::JoinHandle<Vec<PubAttempt>>>,
    consumer: tokio::task::JoinHandle<ConsumerLog>,
}

/// What the consumer task returns.
#[derive(Default)]
struct ConsumerLog {
    deliveries: Vec<Delivery>,
    acks: Vec<AckConfirm>,
    unconfirmed: usize,
    requests: Vec<Duration>,
}

/// A client pinned to `url` (discovered servers ignored), reconnecting every 100 ms forever,
/// requests timing out after `timeout`.
async fn pinned_client(url: &str, timeout: Duration) -> Result<Client, String> {
    ConnectOptions::new()
        .ignore_discovered_servers()
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .max_reconnects(None)
        .request_timeout(Some(timeout))
        .connect(url)
        .await
        .map_err(|e| format!("connect {url}: {e}"))
}

/// A client that knows every URL in `urls` and fails over between them.
async fn roaming_client(urls: &[String], timeout: Duration) -> Result<Client, String> {
    ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .max_reconnects(None)
        .request_timeout(Some(timeout))
        .connect(urls.to_vec())
        .await
        .map_err(|e| format!("connect {urls:?}: {e}"))
}

impl Workload {
    /// Starts the publishers and the consumer against the nodes at `urls` (index = node).
    pub async fn start(urls: &[String], cfg: &WorkloadConfig, seed: u64) -> Result<Self, String> {
        let start = Instant::now();
        let stop_pub = Arc::new(AtomicBool::new(false));
        let stop_con = Arc::new(AtomicBool::new(false));
        let mut publishers = Vec::new();
        for k in 0..cfg.publishers {
            let client = pinned_client(&urls[k % urls.len()], cfg.publish_timeout).await?;
            let stop = stop_pub.clone();
            let cfg = cfg.clone();
            let rng = SmallRng::seed_from_u64(seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9));
            publishers.push(tokio::spawn(publisher(client, k, cfg, rng, start, stop)));
        }
        let client = roaming_client(urls, cfg.ack_timeout).await?;
        let consumer = tokio::spawn(consumer(client, cfg.clone(), start, stop_con.clone()));
        Ok(Workload {
            start,
            stop_pub,
            stop_con,
            publishers,
            consumer,
        })
    }

    /// Time since the workload started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Tells the publishers to stop after their current publish.
    pub fn stop_publishers(&self) {
        self.stop_pub.store(true, Ordering::SeqCst);
    }

    /// Stops everything and returns the history (the publishers are told to stop too).
    pub async fn finish(self) -> History {
        self.stop_pub.store(true, Ordering::SeqCst);
        let mut h = History::default();
        for p in self.publishers {
            h.attempts.extend(p.await.unwrap_or_default());
        }
        self.stop_con.store(true, Ordering::SeqCst);
        let c = self.consumer.await.unwrap_or_default();
        h.deliveries = c.deliveries;
        h.acks = c.acks;
        h.unconfirmed_acks = c.unconfirmed;
        h.requests = c.requests;
        h
    }
}

/// One publisher's loop: publish, record, retry an unknown once with the same id, pause.
async fn publisher(
    client: Client,
    k: usize,
    cfg: WorkloadConfig,
    mut rng: SmallRng,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<PubAttempt> {
    let mut out = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let id = format!("p{k}-{n}");
        n += 1;
        for attempt in 0..2 {
            let sent = start.elapsed();
            let result = publish_once(&client, k, &id, cfg.publish_timeout).await;
            let unknown = matches!(result, PubResult::Unknown(_));
            out.push(PubAttempt {
                id: id.clone(),
                publisher: k,
                sent,
                answered: start.elapsed(),
                result,
            });
            if !unknown || attempt == 1 || stop.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pause = rng.gen_range(cfg.interval_ms.0..=cfg.interval_ms.1);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    out
}

/// Publishes `id` once and classifies the answer.
async fn publish_once(client: &Client, k: usize, id: &str, timeout: Duration) -> PubResult {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    let req = client.request_with_headers(
        format!("chaos.{k}"),
        headers,
        bytes::Bytes::from(id.to_owned()),
    );
    let reply = match tokio::time::timeout(timeout + Duration::from_millis(500), req).await {
        Err(_) => return PubResult::Unknown("timeout".into()),
        Ok(Err(e)) => {
            return match e.kind() {
                async_nats::RequestErrorKind::NoResponders => {
                    PubResult::Refused("no responders".into())
                }
                async_nats::RequestErrorKind::TimedOut => PubResult::Unknown("timeout".into()),
                _ => PubResult::Unknown(e.to_string()),
            }
        }
        Ok(Ok(m)) => m,
    };
    let v: serde_json::Value = match serde_json::from_slice(&reply.payload) {
        Ok(v) => v,
        Err(_) => {
            return PubResult::Unknown(format!(
                "not JSON: {:?}",
                String::from_utf8_lossy(&reply.payload)
            ))
        }
    };
    if let Some(e) = v.get("error") {
        return PubResult::Refused(format!("{} {}", e["err_code"], e["description"]));
    }
    match v["seq"].as_u64() {
        Some(seq) => PubResult::Acked {
            seq,
            duplicate: v["duplicate"].as_bool().unwrap_or(false),
        },
        None => PubResult::Unknown(format!("ack without seq: {v}")),
    }
}

/// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (and the
/// 12-token form with domain and account hash): (delivered, stream sequence).
pub fn parse_ack_subject(reply: &str) -> Option<(u64, u64)> {
    let t: Vec<&str> = reply.split('.').collect();
    if t.len() < 2 || t[0] != "$JS" || t[1] != "ACK" {
        return None;
    }
    let (d, s) = match t.len() {
        9 => (4, 5),
        n if n >= 11 => (6, 7),
        _ => return None,
    };
    Some((t[d].parse().ok()?, t[s].parse().ok()?))
}

/// The consumer loop: a NEXT request on a fresh inbox, every delivery recorded and AckAcked,
/// until the request ends (status, or `expires` plus a second of silence); again until stopped.
async fn consumer(
    client: Client,
    cfg: WorkloadConfig,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> ConsumerLog {
    let mut log = ConsumerLog::default();
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{CONSUMER}");
    let body = serde_json::json!({
        "batch": cfg.batch,
        "expires": cfg.fetch_expires.as_nanos() as u64,
    })
    .to_string();
    while !stop.load(Ordering::SeqCst) {
        let inbox = client.new_inbox();
        let Ok(mut sub) = client.subscribe(inbox.clone()).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let request = log.requests.len() as u64;
        log.requests.push(start.elapsed());
        if client
            .publish_with_reply(next.clone(), inbox, body.clone().into())
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let _ = client.flush().await;
        let mut got = 0;
        loop {
            let wait = cfg.fetch_expires + Duration::from_secs(1);
            let Ok(Some(m)) = tokio::time::timeout(wait, sub.next()).await else {
                break;
            };
            if m.status.is_some() {
                // 408 expired, 404 nothing pending, 409 leadership change, 503 no responders.
                if m.status != Some(async_nats::StatusCode::IDLE_HEARTBEAT) {
                    break;
                }
                continue;
            }
            let Some(reply) = m.reply.as_ref().map(|r| r.to_string()) else {
                continue;
            };
            let Some((delivered, seq)) = parse_ack_subject(&reply) else {
                continue;
            };
            log.deliveries.push(Delivery {
                seq,
                delivered,
                id: String::from_utf8_lossy(&m.payload).into_owned(),
                request,
                at: start.elapsed(),
            });
            match client.request(reply, bytes::Bytes::new()).await {
                Ok(_) => log.acks.push(AckConfirm {
                    seq,
                    delivery: log.deliveries.len() - 1,
                    request,
                    at: start.elapsed(),
                }),
                Err(_) => log.unconfirmed += 1,
            }
            got += 1;
            if got >= cfg.batch {
                break;
            }
        }
        let _ = sub.unsubscribe().await;
        if got == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    log
}

/// Counts per result kind over the final outcome of each msg id: (ids, acked, refused,
/// unknown). An id is acked if any attempt was; else refused if any was; else unknown.
pub fn id_outcomes(h: &History) -> (usize, usize, usize, usize) {
    use std::collections::HashMap;
    let mut by_id: HashMap<&str, u8> = HashMap::new();
    for a in &h.attempts {
        let rank = match a.result {
            PubResult::Acked { .. } => 3,
            PubResult::Refused(_) => 2,
            PubResult::Unknown(_) => 1,
        };
        let e = by_id.entry(a.id.as_str()).or_insert(0);
        *e = (*e).max(rank);
    }
    let count = |r: u8| by_id.values().filter(|&&v| v == r).count();
    (by_id.len(), count(3), count(2), count(1))
}
