//! A wire-level fuzzer against the real `sluice` binary.
//!
//! Several rounds; in each, many connections at once send op sequences built from valid ops
//! (CONNECT, PUB, HPUB, SUB and UNSUB with and without queues, PING, PONG, in various spellings,
//! payloads up to max_payload, long but legal lines), invalid ones (wrong and huge sizes,
//! payloads over max_payload, bad UTF-8, CR without LF, binary garbage, over-long lines, bad
//! CONNECT JSON, server ops sent by a client) and mutations of valid ones (byte flips,
//! truncation, duplication, splicing, deletion). Every script is cut at random byte boundaries
//! and sent in pieces, some with small delays. Alongside, healthy clients do PUB->MSG and
//! PING->PONG round trips on their own subjects the whole time.
//!
//! What it proves: the server never exits or panics; the healthy clients get every message and
//! every PONG, each round trip within [`HEALTHY_BOUND`](healthy::HEALTHY_BOUND); a connection
//! that was sent only valid ops (some of which earn a non-fatal `-ERR`) is never closed, gets
//! no other `-ERR`, and answers every PING; after each round, the closed connections and their
//! subscriptions are gone (/varz `connections` and `subscriptions` are back at the healthy
//! clients' baseline) and a new connection answers PING.
//!
//! Seeded: the seed is printed, and `SLUICE_WIRE_FUZZ_SEED=N` replays a run's inputs (each
//! connection's script depends only on the seed, the round and the connection's index; timing
//! does not). `SLUICE_WIRE_FUZZ_ROUNDS` and `SLUICE_WIRE_FUZZ_CONNS` change the size.
//!
//! The pieces: [`wire`] (a connection that frames what the server sends), [`gen`] (the op and
//! script generator and its mutators), [`fuzz_conn`] (one fuzz connection: send a script in
//! pieces, check the answers), [`healthy`] (the healthy clients) and [`monitor`] (the /varz
//! counts).

mod fuzz_conn;
mod gen;
mod healthy;
mod monitor;
mod wire;

use fuzz_conn::{fuzz_conn, FuzzReport};
use healthy::healthy_client;
use integration_tests::raw::{escape_short, Raw};
use integration_tests::Broker;
use monitor::{counts, monitor_addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server's `max_payload` in these tests (small, so payloads over it are cheap to send).
const MAX_PAYLOAD: usize = 4096;
/// The server's `max_control_line` in these tests.
const MAX_CONTROL_LINE: usize = 1024;
/// Healthy clients running alongside the fuzzers.
const HEALTHY: usize = 4;
/// Longest the connection and subscription counts may take to return to the baseline.
const SETTLE_BOUND: Duration = Duration::from_secs(5);
/// Rounds, and fuzz connections at once per round, unless the environment says otherwise.
const DEFAULT_ROUNDS: u64 = 8;
const DEFAULT_CONNS: usize = 32;

/// The configuration the fuzzed server runs with: small limits.
fn config() -> String {
    format!("max_payload: {MAX_PAYLOAD}\nmax_control_line: {MAX_CONTROL_LINE}\n")
}

/// An environment variable parsed as a number, or `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The `q`-quantile of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Rounds of concurrent fuzz connections against one server with small limits, with healthy
/// clients alongside. Proves: no panic and no exit; healthy clients lose nothing and each round
/// trip takes under [`HEALTHY_BOUND`](healthy::HEALTHY_BOUND); valid-only connections stay
/// open, get no fatal -ERR and answer PING; after each round, connection and subscription
/// counts return to the healthy baseline and a new connection answers PING.
#[test]
fn wire_fuzz_keeps_server_and_healthy_clients_up() {
    let seed: u64 = env_or(
        "SLUICE_WIRE_FUZZ_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    let rounds: u64 = env_or("SLUICE_WIRE_FUZZ_ROUNDS", DEFAULT_ROUNDS);
    let conns: usize = env_or("SLUICE_WIRE_FUZZ_CONNS", DEFAULT_CONNS);
    eprintln!(
        "wire_fuzz: seed {seed} (replay with SLUICE_WIRE_FUZZ_SEED={seed}), {rounds} rounds of \
         {conns} connections"
    );
    let conf = std::env::temp_dir().join(format!("sluice-wire-fuzz-{}.conf", std::process::id()));
    std::fs::write(&conf, config()).expect("write the config file");
    let mut broker = Broker::sluice(&["-c", conf.to_str().expect("utf-8 path"), "-m", "-1"]);
    let _ = std::fs::remove_file(&conf);
    let addr = broker.addr;
    let monitor = monitor_addr(&broker);
    let started = Instant::now();

    // The server's own subscriptions (the system account's requests) before any client.
    let (_, own_subs) = counts(monitor);
    let stop = Arc::new(AtomicBool::new(false));
    let healthy: Vec<_> = (0..HEALTHY)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || healthy_client(addr, i, stop))
        })
        .collect();
    // The baseline: the healthy clients, connected and subscribed.
    let deadline = Instant::now() + SETTLE_BOUND;
    let baseline = (HEALTHY as u64, HEALTHY as u64 + own_subs);
    while counts(monitor) != baseline {
        assert!(Instant::now() < deadline, "healthy clients did not connect");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut failures = Vec::new();
    let mut log = Vec::new();
    let (mut ops, mut bytes, mut writes, mut total_conns, mut clean, mut closed) =
        (0, 0, 0, 0, 0, 0);
    for round in 0..rounds {
        let reports: Vec<FuzzReport> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..conns)
                .map(|i| s.spawn(move || fuzz_conn(addr, seed, round, i)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("fuzz thread"))
                .collect()
        });
        for r in &reports {
            ops += r.ops;
            bytes += r.bytes;
            writes += r.writes;
            total_conns += 1;
            clean += usize::from(r.clean);
            closed += usize::from(r.closed_by_server);
            failures.extend(r.failure.clone());
        }
        // The server is alive, answers a new connection, and has let go of every fuzz
        // connection and subscription.
        assert!(
            broker.wait_exit(Duration::ZERO).is_none(),
            "round {round}: the server exited (seed {seed})"
        );
        let (mut fresh, _) = Raw::connect(addr);
        let answer = fresh.sync();
        assert!(
            answer.ends_with(b"PONG\r\n"),
            "round {round}: a new connection got \"{}\" for PING (seed {seed})",
            escape_short(&answer)
        );
        drop(fresh);
        let deadline = Instant::now() + SETTLE_BOUND;
        loop {
            let now = counts(monitor);
            if now == baseline {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: (connections, subscriptions) stayed at {now:?}, not the \
                 baseline {baseline:?}, {SETTLE_BOUND:?} after the fuzz connections closed \
                 (seed {seed})"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        log.extend(broker.log_lines());
        assert!(
            !log.iter().any(|l| l.contains("panicked")),
            "round {round}: the server panicked (seed {seed}):\n{}",
            log.join("\n")
        );
        assert!(
            failures.is_empty(),
            "round {round} (seed {seed}):\n{}",
            failures.join("\n")
        );
    }

    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut healthy_failures = Vec::new();
    for h in healthy {
        let r = h.join().expect("healthy thread");
        latencies.extend(r.latencies);
        healthy_failures.extend(r.failures);
    }
    assert!(
        healthy_failures.is_empty(),
        "healthy clients were disturbed (seed {seed}):\n{}",
        healthy_failures.join("\n")
    );
    assert!(
        broker.wait_exit(Duration::ZERO).is_none(),
        "the server exited (seed {seed})"
    );
    log.extend(broker.log_lines());
    assert!(
        !log.iter().any(|l| l.contains("panicked")),
        "the server panicked (seed {seed}):\n{}",
        log.join("\n")
    );
    latencies.sort_unstable();
    eprintln!(
        "wire_fuzz: seed {seed}: {rounds} rounds, {total_conns} fuzz connections ({clean} \
         valid-only, {closed} closed by the server), {ops} ops, {bytes} bytes in {writes} \
         writes, in {:.1?}; healthy: {} round trips, p50 {:?}, p99 {:?}, max {:?}",
        started.elapsed(),
        latencies.len(),
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}
