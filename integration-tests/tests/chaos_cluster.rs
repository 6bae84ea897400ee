//! The chaos harness (`integration_tests::chaos`) against nats-server 2.9.10, the reference,
//! and against Sluice: R3 JetStream on 3 nodes with a proxy on every route, each scenario a
//! short seeded run.
//!
//! - `nats_server_3`: the CI run, every scenario nats-server passes, sequentially, in well
//!   under 3 minutes (the ones it fails are listed, with why, at [`CI_SCENARIOS`]).
//! - `sluice_3`: the same for Sluice (real `sluice` binaries), every scenario, held to every
//!   property ([`SLUICE_CI_SCENARIOS`]).
//! - `partition_isolates_a_node`: a partition made through the proxies holds. Skipped
//!   (passing, with a note) without nats-server unless `SLUICE_REQUIRE_NATS_SERVER` is set.
//!
//! The two CI runs take turns ([`ONE_CLUSTER_AT_A_TIME`]): each starts clusters whose timing
//! (elections, timeouts) is what is under test, and two at once on a small CI machine would
//! test the machine.
//! - `chaos_long` (`#[ignore]`): what `scripts/chaos.sh` runs; target, nodes, seconds, seed and
//!   scenarios from `CHAOS_TARGET`, `CHAOS_NODES`, `CHAOS_SECONDS`, `CHAOS_SEED`,
//!   `CHAOS_SCENARIOS` (comma-separated names; default all). Prints the table; fails if any
//!   scenario violated a property. `CHAOS_DIGEST_WAIT` (seconds, default 10): how long
//!   replicas may take to agree; `CHAOS_HOLD_SECS`: when they do not, keep the cluster up
//!   that long for inspection.

use integration_tests::chaos::faults::NatsServerTarget;
use integration_tests::chaos::report::{self, Outcome};
use integration_tests::chaos::scenarios::{self, RunConfig, Scenario};
use integration_tests::chaos::sluice_target::SluiceTarget;
use integration_tests::chaos::{skip_without_nats_server, ChaosTarget};
use std::time::{Duration, Instant};

/// The scenarios the CI run covers, with the seconds of faults each gets.
///
/// Left out, because nats-server 2.9.10 genuinely fails them (the checker is not weakened;
/// `scripts/chaos.sh` still runs them and shows the failure):
/// - `OldLeaderPartitioned`: the isolated old leader keeps the writes its own clients sent it
///   while cut off (never committed), and after the heal its replica stays different from the
///   others for good: another message count and other messages at the same sequences (seen in
///   its message blocks), while STREAM.INFO calls it `current`; the consumer also received
///   those uncommitted messages (ghost deliveries, one sequence delivered as two different
///   messages, acked messages delivered again). On 5 nodes (seed 2003, `--seconds 30`) an old
///   leader came back as leader after the heal and its log won: 4 publishes the new leader
///   had acked during the partition were lost and 1057 later acks named the wrong sequence.
/// - `ClockPause`: the same divergence after SIGSTOP/SIGCONT of the leader: the paused old
///   leader's replica ends up with one message more than the others, for good.
/// - `WipeNode`: when the node wiped is the stream (and consumer) leader, a message whose ack
///   the server had confirmed (AckAck) seconds before is delivered again afterwards (with this
///   file's seed, and in some runs of others): the consumer's ack state did not survive a
///   member coming back empty under the same name (nats-server derives a Raft peer id from
///   the server name, so the wiped node rejoins as the same peer with an empty log).
/// - `MajorityPartition` (on 3 nodes a bridge: the two ends cut from each other, both linked
///   to the middle): with some seeds (102 with `--seconds 15`), when an end led, one end's
///   replica keeps a message the others do not have at the same sequence (and applies no
///   later one there), for good, while STREAM.INFO calls it `current`; the same divergence as
///   `OldLeaderPartitioned`. It passed with this file's seed, but a CI run must not depend on
///   a timing the seed does not fix.
/// - `RollingRestart`: now and then (3 nodes, seed 341 with `--seconds 10`; 5 nodes, seed
///   204 with `--seconds 15`) a message whose ack the server confirmed (AckAck) before any
///   fault is delivered again after the nodes were killed and restarted in turn: an ack
///   state that did not survive kill -9 and restart. (nats-server sends the AckAck reply as
///   soon as the consumer leader has processed the ack, before its Raft group commits it.)
const CI_SCENARIOS: &[(Scenario, u64)] = &[
    (Scenario::LeaderKill, 14),
    (Scenario::MinorityPartition, 10),
    (Scenario::FlakyLinks, 8),
];

/// The CI seed (fixed, so a failure can be replayed with `scripts/chaos.sh --seed`).
const CI_SEED: u64 = 20_261_207;

/// Held by a CI run for its whole length, so `nats_server_3` and `sluice_3` do not run at once.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run_all<T: ChaosTarget>(cfgs: &[(Scenario, RunConfig)]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (s, cfg) in cfgs {
        let o = scenarios::run::<T>(*s, cfg)
            .await
            .unwrap_or_else(|e| panic!("{} (seed {}): harness failed: {e}", s.name(), cfg.seed));
        eprintln!("{}", o.describe());
        out.push(o);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_server_3() {
    if skip_without_nats_server() {
        return;
    }
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let start = Instant::now();
    let cfgs: Vec<(Scenario, RunConfig)> = CI_SCENARIOS
        .iter()
        .map(|&(s, secs)| (s, RunConfig::new(3, CI_SEED, secs)))
        .collect();
    let outcomes =
        tokio::time::timeout(Duration::from_secs(240), run_all::<NatsServerTarget>(&cfgs))
            .await
            .expect("the chaos run took over 4 minutes");
    let table = report::table(&outcomes);
    eprintln!("{table}\ntotal {:.0}s", start.elapsed().as_secs_f64());
    // The harness ran for real: faults went in, publishes were answered and checked.
    for o in &outcomes {
        assert!(!o.faults.is_empty(), "no fault injected:\n{table}");
        assert!(o.acked > 0 && o.deliveries > 0, "no traffic:\n{table}");
    }
    // nats-server is held to what it kept in every run here: no acked publish lost or moved,
    // no id stored twice, the stream and consumer kept. A delivery after a confirmed ack is
    // reported, not held against it: its consumer leader confirms an ack before its Raft
    // group commits it (seen in this very scenario set under load: minority-partition, 20
    // redeliveries once in ~16 runs). A Sluice target is held to every property.
    let held =
        |o: &Outcome| o.lost == 0 && o.ack_seq_mismatch == 0 && o.duplicates == 0 && o.stream_ok;
    assert!(
        outcomes.iter().all(held),
        "a property nats-server keeps was violated:\n{table}"
    );
}

/// The scenarios the Sluice CI run covers (3 nodes, R3): every one, with the seconds of
/// faults each gets; [`sluice_3`] holds Sluice to every property, a delivery after a
/// confirmed ack included.
///
/// `WipeNode` failed until openraft's `loosen-follower-log-revert` feature was enabled: a
/// node back on an emptied store keeps its Raft node id (a hash of its server name) and
/// rejoins every group with an empty log, and openraft's leaders panicked on the follower
/// log going backwards (their groups dead for good: the meta group, or the stream's). It now
/// passes (3 nodes seeds 6, 12, 305; 5 nodes seed 13, `--seconds 10`). It then failed now and
/// then (this file's seed, in CI): one acked publish lost, when the node wiped second was the
/// leader and the node wiped first voted, empty, for the member lacking the entry. A group
/// started empty on a wiped server now refuses to vote until it has caught up (sluice-raft's
/// `amnesia.rs`; protocol-spec/differences.md 30): seeds 6-11 and this file's pass with
/// `--seconds 10`.
const SLUICE_CI_SCENARIOS: &[(Scenario, u64)] = &[
    (Scenario::LeaderKill, 10),
    (Scenario::MinorityPartition, 8),
    (Scenario::MajorityPartition, 8),
    (Scenario::OldLeaderPartitioned, 8),
    (Scenario::RollingRestart, 8),
    (Scenario::ClockPause, 8),
    (Scenario::FlakyLinks, 6),
    (Scenario::WipeNode, 6),
];

/// The Sluice CI run: [`SLUICE_CI_SCENARIOS`] with [`CI_SEED`] (`SLUICE_CHAOS_SEED` in the
/// environment replays it with another seed), in under 3 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sluice_3() {
    let seed = env_or("SLUICE_CHAOS_SEED", CI_SEED);
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let start = Instant::now();
    let cfgs: Vec<(Scenario, RunConfig)> = SLUICE_CI_SCENARIOS
        .iter()
        .map(|&(s, secs)| (s, RunConfig::new(3, seed, secs)))
        .collect();
    let outcomes = tokio::time::timeout(Duration::from_secs(240), run_all::<SluiceTarget>(&cfgs))
        .await
        .expect("the chaos run took over 4 minutes");
    let table = report::table(&outcomes);
    eprintln!("{table}\ntotal {:.0}s", start.elapsed().as_secs_f64());
    for o in &outcomes {
        assert!(!o.faults.is_empty(), "no fault injected:\n{table}");
        assert!(o.acked > 0 && o.deliveries > 0, "no traffic:\n{table}");
    }
    assert!(
        outcomes.iter().all(Outcome::passed),
        "Sluice violated a property:\n{table}"
    );
}

/// The partitions the scenarios rely on: with a proxy on every route and a dead advertised
/// route address, cutting node 0 from the others leaves it with no route (and them with one to
/// each other) for good, not just until gossip lets it dial them directly; healing restores
/// the full mesh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_isolates_a_node() {
    if skip_without_nats_server() {
        return;
    }
    tokio::task::block_in_place(|| {
        let mut t = NatsServerTarget::start(3, 1);
        t.wait_ready(Duration::from_secs(30))
            .expect("cluster ready");
        t.partition(&[vec![0], vec![1, 2]]);
        let c = t.cluster();
        c.wait_routes(&[0], 0, Duration::from_secs(10))
            .expect("n0 loses its routes");
        c.wait_routes(&[1, 2], 1, Duration::from_secs(10))
            .expect("n1 and n2 keep theirs");
        // Longer than a route reconnect attempt (1 s) and gossip: still cut off.
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            c.num_routes(0),
            Ok(0),
            "n0 reached a peer around the proxies"
        );
        assert_eq!(c.num_routes(1), Ok(1));
        assert_eq!(c.num_routes(2), Ok(1));
        t.heal();
        t.wait_ready(Duration::from_secs(30)).expect("healed");
    });
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long chaos run: scripts/chaos.sh"]
async fn chaos_long() {
    let target = std::env::var("CHAOS_TARGET").unwrap_or_else(|_| "nats-server".into());
    let nodes: usize = env_or("CHAOS_NODES", 3);
    let secs: u64 = env_or("CHAOS_SECONDS", 30);
    let seed: u64 = env_or("CHAOS_SEED", 1);
    let chosen: Vec<Scenario> = match std::env::var("CHAOS_SCENARIOS") {
        Ok(list) if !list.is_empty() => list
            .split(',')
            .map(|n| Scenario::from_name(n.trim()).unwrap_or_else(|| panic!("no scenario {n}")))
            .collect(),
        _ => Scenario::ALL.to_vec(),
    };
    let cfgs: Vec<(Scenario, RunConfig)> = chosen
        .iter()
        .enumerate()
        .map(|(k, &s)| (s, RunConfig::new(nodes, seed.wrapping_add(k as u64), secs)))
        .collect();
    let (outcomes, harness) = match target.as_str() {
        "nats-server" => {
            if skip_without_nats_server() {
                return;
            }
            run_each::<NatsServerTarget>(&cfgs).await
        }
        "sluice" => run_each::<SluiceTarget>(&cfgs).await,
        other => panic!("unknown CHAOS_TARGET {other:?} (nats-server or sluice)"),
    };
    let mut table = report::table(&outcomes);
    for e in &harness {
        table.push_str(&format!("\nHARNESS FAILURE (no verdict): {e}\n"));
    }
    println!("CHAOS-TABLE-BEGIN\n{table}CHAOS-TABLE-END");
    assert!(
        outcomes.iter().all(Outcome::passed) && harness.is_empty(),
        "a property was violated, or a scenario could not run"
    );
}

/// Runs every scenario of `cfgs` in turn, going on after one the harness could not finish (a
/// cluster that never formed, say): the outcomes, and what stopped the others.
async fn run_each<T: ChaosTarget>(cfgs: &[(Scenario, RunConfig)]) -> (Vec<Outcome>, Vec<String>) {
    let (mut out, mut failed) = (Vec::new(), Vec::new());
    for (s, cfg) in cfgs {
        match scenarios::run::<T>(*s, cfg).await {
            Ok(o) => {
                eprintln!("{}", o.describe());
                out.push(o);
            }
            Err(e) => {
                let e = format!("{} (seed {}): {e}", s.name(), cfg.seed);
                eprintln!("harness failed: {e}");
                failed.push(e);
            }
        }
    }
    (out, failed)
}
