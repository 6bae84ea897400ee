//! The chaos scenarios: each starts a fresh cluster of the [`ChaosTarget`], creates stream
//! [`STREAM`] (replicas = nodes, file storage, a 2-minute duplicate window) and its durable
//! pull consumer, runs the [`Workload`], injects one kind of fault for `duration` (seeded
//! choices and timings), heals everything, lets the cluster settle, and checks
//! ([`checker`](super::checker)). [`run`] returns the [`Outcome`]; `Err` only when the harness
//! could not get that far (a cluster that never formed, a stream that could not be created).
//!
//! | scenario | fault |
//! | --- | --- |
//! | `leader-kill` | kill -9 the stream leader, restart it, again |
//! | `minority-partition` | cut a minority of followers off, heal, again |
//! | `majority-partition` | a ring of majorities: every node sees a majority, not the same one |
//! | `old-leader-partitioned` | isolate the leader alone while its pinned publisher goes on |
//! | `rolling-restart` | kill -9 and restart every node in turn, waiting for it to rejoin |
//! | `wipe-node` | kill -9 a node, empty its store, restart it (a follower, then the leader) |
//! | `clock-pause` | SIGSTOP the leader past the election timeout, SIGCONT |
//! | `flaky-links` | 20-60 ms latency and 1% chunk drops (connection resets) on every link |

use super::checker::{self, api};
use super::report::{DigestCheck, Outcome};
use super::workload::{Workload, WorkloadConfig, CONSUMER, STREAM};
use super::ChaosTarget;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio::task::block_in_place;

/// One kind of fault schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    LeaderKill,
    MinorityPartition,
    MajorityPartition,
    OldLeaderPartitioned,
    RollingRestart,
    WipeNode,
    ClockPause,
    FlakyLinks,
}

impl Scenario {
    /// Every scenario, in table order.
    pub const ALL: [Scenario; 8] = [
        Scenario::LeaderKill,
        Scenario::MinorityPartition,
        Scenario::MajorityPartition,
        Scenario::OldLeaderPartitioned,
        Scenario::RollingRestart,
        Scenario::WipeNode,
        Scenario::ClockPause,
        Scenario::FlakyLinks,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::LeaderKill => "leader-kill",
            Scenario::MinorityPartition => "minority-partition",
            Scenario::MajorityPartition => "majority-partition",
            Scenario::OldLeaderPartitioned => "old-leader-partitioned",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::WipeNode => "wipe-node",
            Scenario::ClockPause => "clock-pause",
            Scenario::FlakyLinks => "flaky-links",
        }
    }

    /// The scenario named `name`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How a scenario runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Nodes (3 or 5); the stream has as many replicas.
    pub nodes: usize,
    /// Seeds the fault choices and timings and the workload.
    pub seed: u64,
    /// How long faults are injected (after a 1 s warm-up with none).
    pub duration: Duration,
    /// The workload (its `publishers` is raised to at least one per node).
    pub workload: WorkloadConfig,
    /// How long replicas may take to agree after the read-back before they count as
    /// different (`CHAOS_DIGEST_WAIT` seconds in the environment overrides the default 10).
    pub digest_wait: Duration,
}

impl RunConfig {
    /// `nodes` nodes, `seed`, faults for `secs` seconds, the default workload.
    pub fn new(nodes: usize, seed: u64, secs: u64) -> RunConfig {
        RunConfig {
            nodes,
            seed,
            duration: Duration::from_secs(secs),
            workload: WorkloadConfig::default(),
            digest_wait: Duration::from_secs(
                std::env::var("CHAOS_DIGEST_WAIT")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10),
            ),
        }
    }
}

/// The fault log and clock of one run.
struct Nemesis {
    rng: SmallRng,
    start: Instant,
    log: Vec<String>,
}

impl Nemesis {
    fn note(&mut self, what: String) {
        self.log
            .push(format!("{:.1}s {what}", self.start.elapsed().as_secs_f64()));
    }

    /// Sleeps a uniform time in `lo..=hi` milliseconds.
    async fn pause_ms(&mut self, lo: u64, hi: u64) {
        let ms = self.rng.gen_range(lo..=hi);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The stream leader, or (none known) a node picked at random.
fn leader_or_any<T: ChaosTarget>(t: &T, rng: &mut SmallRng) -> (usize, bool) {
    match block_in_place(|| t.stream_leader(STREAM)) {
        Some(l) => (l, true),
        None => (rng.gen_range(0..t.len()), false),
    }
}

fn who(i: usize, leader: bool) -> String {
    format!("n{i}{}", if leader { " (leader)" } else { "" })
}

/// Creates the stream and the consumer, retrying for up to 30 s (a JetStream meta leader just
/// elected may refuse at first).
async fn create_stream(client: &async_nats::Client, replicas: usize) -> Result<(), String> {
    let stream = serde_json::json!({
        "name": STREAM,
        "subjects": ["chaos.>"],
        "storage": "file",
        "num_replicas": replicas,
        "duplicate_window": 120_000_000_000u64,
    });
    let consumer = serde_json::json!({
        "stream_name": STREAM,
        "config": {
            "durable_name": CONSUMER,
            "ack_policy": "explicit",
            "ack_wait": 5_000_000_000u64,
            "deliver_policy": "all",
            "max_ack_pending": 1000,
        }
    });
    let steps = [
        (
            format!("$JS.API.STREAM.CREATE.{STREAM}"),
            stream.to_string(),
        ),
        (
            format!("$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.{CONSUMER}"),
            consumer.to_string(),
        ),
    ];
    let start = Instant::now();
    for (subject, body) in steps {
        loop {
            let r = api(client, subject.clone(), body.clone()).await;
            match &r {
                Ok(v) if v.get("error").is_none() => break,
                _ if start.elapsed() > Duration::from_secs(30) => {
                    return Err(format!("{subject}: {r:?}"));
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    checker::settle(client, Duration::from_secs(20))
        .await
        .map(|_| ())
}

/// Runs `scenario` against a fresh `T` cluster as `cfg` says.
pub async fn run<T: ChaosTarget>(scenario: Scenario, cfg: &RunConfig) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut target = block_in_place(|| T::start(cfg.nodes, cfg.seed));
    let r = run_on(&mut target, scenario, cfg, t0).await;
    if r.is_err() {
        for i in 0..target.len() {
            let log = target.log_lines(i);
            let tail = &log[log.len().saturating_sub(15)..];
            eprintln!("--- n{i} log tail:\n{}", tail.join("\n"));
        }
    }
    block_in_place(move || drop(target));
    r
}

async fn run_on<T: ChaosTarget>(
    target: &mut T,
    scenario: Scenario,
    cfg: &RunConfig,
    t0: Instant,
) -> Result<Outcome, String> {
    let n = target.len();
    block_in_place(|| target.wait_ready(Duration::from_secs(30)))?;
    let urls: Vec<String> = (0..n).map(|i| target.client_url(i)).collect();
    let admin = async_nats::ConnectOptions::new()
        .max_reconnects(None)
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(urls.to_vec())
        .await
        .map_err(|e| format!("admin connect: {e}"))?;
    create_stream(&admin, n).await?;

    let mut wcfg = cfg.workload.clone();
    wcfg.publishers = wcfg.publishers.max(n);
    let workload = Workload::start(&urls, &wcfg, cfg.seed).await?;
    let mut nem = Nemesis {
        rng: SmallRng::seed_from_u64(cfg.seed),
        start: t0,
        log: Vec::new(),
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let until = Instant::now() + cfg.duration;
    inject(target, scenario, &mut nem, until).await;

    // Undo every fault, wait for the cluster, publish a little longer on a healthy cluster.
    block_in_place(|| {
        target.heal();
        target.degrade_links(Duration::ZERO, 0.0);
        for i in 0..n {
            if target.is_paused(i) {
                target.resume(i);
            }
            if !target.is_running(i) {
                target.restart(i);
            }
        }
        target.wait_ready(Duration::from_secs(30))
    })
    .map_err(|e| format!("after healing: {e}; faults: {}", nem.log.join(", ")))?;
    nem.note("healed".into());
    tokio::time::sleep(Duration::from_secs(2)).await;
    workload.stop_publishers();
    let _ = checker::settle(&admin, Duration::from_secs(20)).await;
    // Let the consumer catch up (nothing pending, nothing awaiting an ack), 10 s at most.
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(10) {
        let ci = api(
            &admin,
            format!("$JS.API.CONSUMER.INFO.{STREAM}.{CONSUMER}"),
            String::new(),
        )
        .await;
        if let Ok(v) = ci {
            if v["num_pending"] == 0 && v["num_ack_pending"] == 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let history = workload.finish().await;
    let rb = checker::read_back(&admin).await;
    let digests = block_in_place(|| checker::compare_digests(target, cfg.digest_wait));
    let mut out = Outcome {
        scenario: scenario.name().into(),
        target: target.name(),
        nodes: n,
        seed: cfg.seed,
        took: Duration::ZERO,
        published: 0,
        acked: 0,
        refused: 0,
        unknown: 0,
        stored: 0,
        lost: 0,
        ack_seq_mismatch: 0,
        duplicates: 0,
        redelivered_after_ack: 0,
        ghost_deliveries: 0,
        acks_confirmed: 0,
        deliveries: 0,
        digests,
        stream_ok: false,
        faults: nem.log,
        notes: Vec::new(),
    };
    checker::check(&history, &rb, &mut out);
    match &out.digests {
        DigestCheck::NotAvailable => out.notes.push("no replica digests from this target".into()),
        DigestCheck::Differ(_) => {
            let info = api(
                &admin,
                format!("$JS.API.STREAM.INFO.{STREAM}"),
                String::new(),
            )
            .await;
            let cluster = info.map(|v| v["cluster"].to_string()).unwrap_or_else(|e| e);
            out.notes.push(format!(
                "after {:?}, STREAM.INFO cluster: {cluster}",
                cfg.digest_wait
            ));
            // Tell a replica that has yet to apply what it holds (it learns the commit index
            // from the next append) from one that misses entries: one more publish, look again.
            let probe = admin
                .request("chaos.probe".to_string(), "probe".into())
                .await
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned());
            let again = block_in_place(|| checker::compare_digests(target, Duration::from_secs(5)));
            out.notes.push(format!(
                "after one more publish ({probe:?}), 5 s later: {again:?}"
            ));
            // Where the replicas part: the first sequence whose message differs.
            let logs: Vec<Option<Vec<(u64, String)>>> = (0..n)
                .map(|i| block_in_place(|| target.replica_messages(i, STREAM)))
                .collect();
            if let Some(d) = first_difference(&logs) {
                out.notes.push(d);
            }
            if let Some(secs) = std::env::var("CHAOS_HOLD_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                eprintln!("CHAOS_HOLD_SECS: keeping the cluster up {secs}s for inspection");
                tokio::time::sleep(Duration::from_secs(secs)).await;
            }
        }
        DigestCheck::Equal { .. } => {}
    }
    out.took = t0.elapsed();
    Ok(out)
}

/// The first sequence at which the replicas' logs (`None`: not available) hold different
/// messages, with what each holds there and how long each log is.
fn first_difference(logs: &[Option<Vec<(u64, String)>>]) -> Option<String> {
    let maps: Vec<(usize, std::collections::BTreeMap<u64, &str>)> = logs
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.as_ref()?;
            Some((i, l.iter().map(|(s, id)| (*s, id.as_str())).collect()))
        })
        .collect();
    let seqs: std::collections::BTreeSet<u64> =
        maps.iter().flat_map(|(_, m)| m.keys().copied()).collect();
    let seq = seqs.into_iter().find(|s| {
        let first = maps.first().and_then(|(_, m)| m.get(s));
        maps.iter().any(|(_, m)| m.get(s) != first)
    })?;
    let each: Vec<String> = maps
        .iter()
        .map(|(i, m)| format!("n{i}: {:?} ({} msgs)", m.get(&seq), m.len()))
        .collect();
    Some(format!(
        "replica logs part at seq {seq}: {}",
        each.join(", ")
    ))
}

/// Injects `scenario`'s faults until `until` (the last one is undone by the caller if it is
/// still in force).
async fn inject<T: ChaosTarget>(t: &mut T, s: Scenario, nem: &mut Nemesis, until: Instant) {
    let n = t.len();
    let mut round = 0usize;
    while Instant::now() < until {
        match s {
            Scenario::LeaderKill => {
                let (l, known) = leader_or_any(t, &mut nem.rng);
                nem.note(format!("kill -9 {}", who(l, known)));
                block_in_place(|| t.kill9(l));
                nem.pause_ms(1000, 3000).await;
                nem.note(format!("restart n{l}"));
                block_in_place(|| t.restart(l));
                nem.pause_ms(3000, 5000).await;
            }
            Scenario::MinorityPartition => {
                let (l, known) = leader_or_any(t, &mut nem.rng);
                let mut followers: Vec<usize> = (0..n).filter(|&i| i != l || !known).collect();
                followers.shuffle(&mut nem.rng);
                let minority: Vec<usize> = followers[..(n - 1) / 2].to_vec();
                let majority: Vec<usize> = (0..n).filter(|i| !minority.contains(i)).collect();
                nem.note(format!("partition {majority:?} | {minority:?}"));
                block_in_place(|| t.partition(&[majority, minority]));
                nem.pause_ms(3000, 5000).await;
                nem.note("heal".into());
                block_in_place(|| t.heal());
                nem.pause_ms(2000, 3000).await;
            }
            Scenario::MajorityPartition => {
                let mut ring: Vec<usize> = (0..n).collect();
                ring.shuffle(&mut nem.rng);
                // Five nodes: each keeps the links to its two ring neighbours (itself and
                // them: a majority of 3) and loses the other two. Three nodes: a bridge, the
                // middle node linked to both ends, the ends cut from each other.
                let cut: Vec<(usize, usize)> = if n == 3 {
                    vec![(ring[0], ring[2])]
                } else {
                    (0..n)
                        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                        .filter(|&(a, b)| (b - a).min(n - (b - a)) > 1)
                        .map(|(a, b)| (ring[a], ring[b]))
                        .collect()
                };
                nem.note(format!("majorities ring {ring:?}, cut {cut:?}"));
                block_in_place(|| {
                    for &(a, b) in &cut {
                        t.cut_link(a, b);
                    }
                });
                nem.pause_ms(4000, 6000).await;
                nem.note("heal".into());
                block_in_place(|| t.heal());
                nem.pause_ms(2000, 3000).await;
            }
            Scenario::OldLeaderPartitioned => {
                let (l, known) = leader_or_any(t, &mut nem.rng);
                let rest: Vec<usize> = (0..n).filter(|&i| i != l).collect();
                nem.note(format!("isolate {}", who(l, known)));
                block_in_place(|| t.partition(&[rest, vec![l]]));
                nem.pause_ms(5000, 8000).await;
                nem.note("heal".into());
                block_in_place(|| t.heal());
                nem.pause_ms(3000, 4000).await;
            }
            Scenario::RollingRestart => {
                let i = round % n;
                let leader = block_in_place(|| t.stream_leader(STREAM)) == Some(i);
                nem.note(format!("kill -9 {} and restart", who(i, leader)));
                block_in_place(|| t.kill9(i));
                nem.pause_ms(300, 1000).await;
                block_in_place(|| {
                    t.restart(i);
                    let _ = t.wait_ready(Duration::from_secs(20));
                });
                nem.pause_ms(1500, 2500).await;
            }
            Scenario::WipeNode => {
                let (l, known) = leader_or_any(t, &mut nem.rng);
                let victim = if round.is_multiple_of(2) {
                    let f: Vec<usize> = (0..n).filter(|&i| i != l).collect();
                    *f.choose(&mut nem.rng).expect("a follower")
                } else {
                    l
                };
                nem.note(format!(
                    "kill -9, wipe, restart {}",
                    who(victim, known && victim == l)
                ));
                block_in_place(|| {
                    t.wipe_and_restart(victim);
                    let _ = t.wait_ready(Duration::from_secs(20));
                });
                nem.pause_ms(4000, 6000).await;
            }
            Scenario::ClockPause => {
                let (l, known) = leader_or_any(t, &mut nem.rng);
                nem.note(format!("SIGSTOP {}", who(l, known)));
                block_in_place(|| t.pause(l));
                nem.pause_ms(5000, 9000).await;
                nem.note(format!("SIGCONT n{l}"));
                block_in_place(|| t.resume(l));
                nem.pause_ms(3000, 4000).await;
            }
            Scenario::FlakyLinks => {
                let delay = Duration::from_millis(nem.rng.gen_range(20..=60));
                nem.note(format!("links: {delay:?} latency, 1% drops"));
                block_in_place(|| t.degrade_links(delay, 0.01));
                let left = until.saturating_duration_since(Instant::now());
                tokio::time::sleep(left).await;
                nem.note("links restored".into());
                block_in_place(|| t.degrade_links(Duration::ZERO, 0.0));
            }
        }
        round += 1;
    }
}
