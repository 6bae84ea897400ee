//! The healthy clients: well-behaved connections that run alongside the fuzz connections for
//! the whole test, each doing timed PUB->MSG and PING->PONG round trips on its own subjects
//! (`healthy.<index>.>`), to prove that nothing the fuzzers send disturbs other clients: every
//! message and every PONG arrives, each round trip within [`HEALTHY_BOUND`].

use crate::wire::{ServerOp, Wire};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a healthy client's PUB->MSG + PING->PONG round trip may take.
pub const HEALTHY_BOUND: Duration = Duration::from_secs(2);

/// What one healthy client saw.
#[derive(Default)]
pub struct HealthyReport {
    /// Each round trip's duration.
    pub latencies: Vec<Duration>,
    /// Anything that went wrong (the client stops at the first).
    pub failures: Vec<String>,
}

/// Runs healthy client `index` until `stop`: subscribes to `healthy.<index>.>`, then loops
/// PUB `healthy.<index>.<seq>` + PING, expecting exactly that MSG and then PONG within
/// [`HEALTHY_BOUND`]; answers the server's PINGs.
pub fn healthy_client(addr: SocketAddr, index: usize, stop: Arc<AtomicBool>) -> HealthyReport {
    let mut report = HealthyReport::default();
    let fail = |report: &mut HealthyReport, what: String| {
        report
            .failures
            .push(format!("healthy client {index}: {what}"));
    };
    let mut wire = match Wire::connect(addr) {
        Ok(w) => w,
        Err(e) => {
            fail(&mut report, e);
            return report;
        }
    };
    let hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":true,\"name\":\"healthy{index}\"}}\r\n\
         SUB healthy.{index}.> 1\r\n"
    );
    if let Err(e) = wire.send(hello.as_bytes()) {
        fail(&mut report, format!("send CONNECT: {e}"));
        return report;
    }
    let mut rng = SmallRng::seed_from_u64(index as u64);
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let subject = format!("healthy.{index}.{seq}");
        let len = rng.gen_range(0..=64);
        let payload: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..=b'z')).collect();
        let mut out = format!("PUB {subject} {len}\r\n").into_bytes();
        out.extend_from_slice(&payload);
        out.extend_from_slice(b"\r\nPING\r\n");
        let start = Instant::now();
        if let Err(e) = wire.send(&out) {
            fail(&mut report, format!("round trip {seq}: send: {e}"));
            return report;
        }
        let (mut got_msg, mut got_pong) = (false, false);
        while !got_pong {
            let left = HEALTHY_BOUND.saturating_sub(start.elapsed());
            if left.is_zero() || wire.closed {
                let why = if wire.closed { "closed" } else { "timed out" };
                fail(
                    &mut report,
                    format!("round trip {seq} {why} (MSG: {got_msg}, PONG: {got_pong})"),
                );
                return report;
            }
            let ops = match wire.poll(left) {
                Ok(ops) => ops,
                Err(e) => {
                    fail(&mut report, e);
                    return report;
                }
            };
            for op in ops {
                match op {
                    ServerOp::Msg {
                        subject: s,
                        payload: p,
                        ..
                    } if !got_msg && s == subject.as_bytes() && p == payload => {
                        got_msg = true;
                    }
                    ServerOp::Pong if got_msg && !got_pong => got_pong = true,
                    ServerOp::Ping => {
                        if let Err(e) = wire.send(b"PONG\r\n") {
                            fail(&mut report, format!("send PONG: {e}"));
                            return report;
                        }
                    }
                    other => {
                        fail(
                            &mut report,
                            format!("round trip {seq}: unexpected {other:?} (MSG: {got_msg})"),
                        );
                        return report;
                    }
                }
            }
        }
        report.latencies.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(2));
    }
    report
}
