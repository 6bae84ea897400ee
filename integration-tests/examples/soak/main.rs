//! Load and soak driver for `scripts/soak.sh` (not run in CI).
//!
//! usage:
//!   soak conns HOST:PORT PID [CONNS]          (default 10,000 connections)
//!   soak mixed HOST:PORT PID MINUTES CSV      (RSS samples written to CSV)
//!
//! `conns` ([`conns`]): opens CONNS client connections at once, each subscribed to its own
//! subject and a shared one; sends one message to each and one broadcast, and checks that
//! every connection got both. Prints one `key=value` line: connect time, the server's RSS
//! (PID's VmRSS) before and with the idle connections, and per connection.
//!
//! `mixed` ([`mixed`]): core pub/sub, a queue group, request-reply and JetStream (acked
//! publishes with Nats-Msg-Id, a durable pull consumer acking) at a moderate fixed rate for
//! MINUTES, sampling the server's RSS every 10 s; then checks that nothing was lost and
//! prints a summary. Exits 1 if anything failed, was lost, or RSS grew more than 20% after
//! the first minute.

mod conns;
mod mixed;
mod rss;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: soak conns HOST:PORT PID [CONNS]\n       soak mixed HOST:PORT PID MINUTES CSV"
    );
    ExitCode::from(2)
}

/// Parses argument `i` of `args`, or says which one is wrong.
fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("{what}: {:?} is not valid", args[i]))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let run = match args.get(1).map(String::as_str) {
        Some("conns") if (4..=5).contains(&args.len()) => {
            let conns = if args.len() == 5 {
                arg(&args, 4, "CONNS")
            } else {
                Ok(10_000)
            };
            match (arg(&args, 3, "PID"), conns) {
                (Ok(pid), Ok(n)) => conns::run(&args[2], pid, n).await,
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        Some("mixed") if args.len() == 6 => {
            match (arg(&args, 3, "PID"), arg(&args, 4, "MINUTES")) {
                (Ok(pid), Ok(minutes)) => mixed::run(&args[2], pid, minutes, &args[5]).await,
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        _ => return usage(),
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
