//! The fuzz connection driver: [`fuzz_conn`] connects, sends its [`script`] cut at random byte
//! boundaries into pieces (some after a short wait, reading all the while) and sums up in a
//! [`FuzzReport`] what it sent and what went wrong. A valid-only ([`Profile::Clean`])
//! connection must stay open, get no `-ERR` but the [`SOFT_ERRORS`], and answer every PING plus
//! one more at the end; any other connection may be closed by the server.

use crate::gen::{script, Profile};
use crate::wire::{ServerOp, Wire};
use integration_tests::raw::escape_short;
use rand::Rng;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Longest a valid-only fuzz connection may take to answer its final PING.
const CLEAN_BOUND: Duration = Duration::from_secs(5);
/// `-ERR` texts a valid-only connection may get: non-fatal complaints about a SUB or a
/// pedantic PUB subject, which the generator produces on purpose.
const SOFT_ERRORS: [&str; 2] = ["Invalid Subject", "Invalid Publish Subject"];

/// What one fuzz connection did.
#[derive(Default)]
pub struct FuzzReport {
    pub ops: usize,
    pub bytes: usize,
    pub writes: usize,
    pub clean: bool,
    /// The server closed it (only a connection sent something invalid may see this).
    pub closed_by_server: bool,
    pub failure: Option<String>,
}

/// Runs fuzz connection `index` of `round`: sends its script in random pieces, some after a
/// short wait (reading meanwhile), and for a clean connection checks it is still open, got no
/// fatal `-ERR`, and answers every PING plus one more at the end.
pub fn fuzz_conn(addr: SocketAddr, seed: u64, round: u64, index: usize) -> FuzzReport {
    let (profile, script, ops, pings, mut rng) = script(seed, round, index);
    let clean = profile == Profile::Clean;
    let mut report = FuzzReport {
        ops,
        clean,
        ..FuzzReport::default()
    };
    let label = format!("round {round} connection {index} ({profile:?})");
    let mut wire = match Wire::connect(addr) {
        Ok(w) => w,
        Err(e) => {
            report.failure = Some(format!("{label}: {e}"));
            return report;
        }
    };
    // Cut points: a few, many, or byte by byte for a stretch.
    let mut cuts: Vec<usize> = match rng.gen_range(0..4) {
        0 => Vec::new(),
        1 => {
            let start = rng.gen_range(0..script.len().max(1));
            (start..script.len().min(start + 48)).collect()
        }
        _ => {
            let k = rng.gen_range(1..=48);
            (0..k).map(|_| rng.gen_range(0..=script.len())).collect()
        }
    };
    cuts.push(script.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut pongs = 0;
    let mut errors: Vec<String> = Vec::new();
    let mut from = 0;
    let mut consume = |ops: Vec<ServerOp>, pongs: &mut usize| {
        for op in ops {
            match op {
                ServerOp::Pong => *pongs += 1,
                ServerOp::Err(e) => errors.push(e),
                _ => {}
            }
        }
    };
    for &to in &cuts {
        if to > from {
            report.writes += 1;
            report.bytes += to - from;
            if let Err(e) = wire.send(&script[from..to]) {
                if clean || e.kind() == std::io::ErrorKind::WouldBlock {
                    report.failure = Some(format!("{label}: send failed: {e}"));
                }
                wire.closed = true;
                break;
            }
            from = to;
        }
        let wait = if rng.gen_bool(0.3) {
            Duration::from_micros(rng.gen_range(100..3000))
        } else {
            Duration::ZERO
        };
        match wire.poll(wait) {
            Ok(ops) => consume(ops, &mut pongs),
            Err(e) => {
                report.failure = Some(format!("{label}: {e}"));
                return report;
            }
        }
        if wire.closed {
            break;
        }
    }
    if clean {
        let deadline = Instant::now() + CLEAN_BOUND;
        if wire.send(b"PING\r\n").is_err() {
            wire.closed = true;
        }
        while pongs < pings + 1 && !wire.closed && Instant::now() < deadline {
            match wire.poll(Duration::from_millis(50)) {
                Ok(ops) => consume(ops, &mut pongs),
                Err(e) => {
                    report.failure = Some(format!("{label}: {e}"));
                    return report;
                }
            }
        }
        let unexpected: Vec<&String> = errors
            .iter()
            .filter(|e| !SOFT_ERRORS.contains(&e.as_str()))
            .collect();
        if wire.closed || pongs != pings + 1 || !unexpected.is_empty() {
            report.failure = Some(format!(
                "{label}: sent only valid ops, yet: closed {}, PONGs {pongs} of {}, -ERRs \
                 {unexpected:?}; script \"{}\"",
                wire.closed,
                pings + 1,
                escape_short(&script)
            ));
        }
    } else {
        // Whatever is already on its way: a close, or an -ERR before it.
        if let Ok(ops) = wire.poll(Duration::from_millis(5)) {
            consume(ops, &mut pongs);
        }
        report.closed_by_server = wire.closed;
    }
    report
}
