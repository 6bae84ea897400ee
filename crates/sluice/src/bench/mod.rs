//! `sluice bench`: the load generator and correctness checker for side-by-side benchmarks.
//!
//! Owns: the `bench` subcommand's arguments (a plain clap parser of its own, never the
//! server's Go-style flag normalizer), choosing per-workload defaults, running one workload
//! against any NATS server, and printing its result as a table or one JSON line.
//!
//! Each workload checks what it measured (every message arrived, once, in order where the
//! protocol promises order; every ack is the right one) and fails with a sentence and exit
//! code 1 otherwise; a usage error exits 2. The workloads are in [`core`] (plain NATS) and
//! [`js`] (JetStream), on the small blocking client in [`conn`].

mod conn;
mod core;
mod js;
mod progress;
mod report;

use clap::{CommandFactory, Parser, ValueEnum};
use progress::Progress;
use report::Report;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// What `sluice bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// 1 publisher, no subscribers; done when a final PING gets its PONG
    Pub,
    /// 1 publisher -> 1 subscriber; every message counted, in order
    Pubsub,
    /// 1 publisher -> K subscribers (--subs, default 4); each gets every message, in order
    Fanout,
    /// 1 publisher -> K queue members (--subs, default 4); every message exactly once
    Queue,
    /// Sequential request/reply with a responder: latency percentiles and round trips/s
    Reqrep,
    /// Acked publishes to a file stream, --window in flight (default 1)
    JsPub,
    /// Fill a file stream, then drain it with a durable pull consumer (batch 100, explicit ack)
    JsConsume,
}

impl Workload {
    /// The name as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Pub => "pub",
            Workload::Pubsub => "pubsub",
            Workload::Fanout => "fanout",
            Workload::Queue => "queue",
            Workload::Reqrep => "reqrep",
            Workload::JsPub => "js-pub",
            Workload::JsConsume => "js-consume",
        }
    }

    fn is_js(self) -> bool {
        matches!(self, Workload::JsPub | Workload::JsConsume)
    }

    fn default_msgs(self) -> usize {
        match self {
            Workload::Pub | Workload::Pubsub | Workload::Fanout | Workload::Queue => 1_000_000,
            Workload::Reqrep | Workload::JsPub => 20_000,
            Workload::JsConsume => 100_000,
        }
    }
}

/// `sluice bench`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "sluice bench",
    about = "Benchmark a NATS server (sluice or nats-server) with one workload, checking \
             correctness as it goes.",
    after_help = "Prints a result table on stdout (or one JSON object per line with --json) \
                  and a progress line on stderr when it is a terminal. Exits 1 if the \
                  workload's correctness check fails, 2 on a usage error."
)]
pub struct BenchCli {
    /// The workload to run
    #[arg(value_enum)]
    pub workload: Workload,

    /// The server: nats://HOST:PORT, HOST:PORT or HOST
    #[arg(
        short = 's',
        long,
        value_name = "URL",
        default_value = "127.0.0.1:4222",
        value_parser = parse_server
    )]
    pub server: String,

    /// Messages to send [default: 1000000; reqrep and js-pub 20000; js-consume 100000]
    #[arg(short = 'n', long, value_name = "N")]
    pub msgs: Option<usize>,

    /// Payload size in bytes [default: 16; js-pub and js-consume 128]
    #[arg(long, value_name = "BYTES")]
    pub size: Option<usize>,

    /// Subscribers (fanout) or queue members (queue) [default: 4]
    #[arg(long, value_name = "K")]
    pub subs: Option<usize>,

    /// Publishes in flight, unacknowledged (js-pub) [default: 1]
    #[arg(long, value_name = "W")]
    pub window: Option<usize>,

    /// Print one JSON object per line instead of a table
    #[arg(long)]
    pub json: bool,
}

/// A workload's parameters, defaults applied and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub workload: Workload,
    /// `HOST:PORT`.
    pub server: String,
    pub msgs: usize,
    pub size: usize,
    /// Subscribers or queue members (fanout, queue); 1 otherwise.
    pub subs: usize,
    /// Publishes in flight (js-pub).
    pub window: usize,
}

/// `nats://HOST:PORT`, `HOST:PORT` or `HOST` (port 4222) as `HOST:PORT`.
pub fn parse_server(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("nats://").unwrap_or(s);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') || rest.contains("://") {
        return Err(format!("{s:?} is not nats://HOST:PORT, HOST:PORT or HOST"));
    }
    let has_port = match rest.rsplit_once(':') {
        // A bare IPv6 address has colons but no brackets.
        Some((host, _)) if host.contains(':') && !host.ends_with(']') => false,
        Some((_, port)) => {
            port.parse::<u16>()
                .map_err(|_| format!("{s:?}: {port:?} is not a port"))?;
            true
        }
        None => false,
    };
    Ok(
        match (has_port, rest.contains(':') && !rest.starts_with('[')) {
            (true, _) => rest.to_owned(),
            (false, true) => format!("[{rest}]:4222"),
            (false, false) => format!("{rest}:4222"),
        },
    )
}

impl BenchCli {
    /// Applies the workload's defaults and rejects options that do not apply to it.
    pub fn settings(&self) -> Result<Settings, String> {
        let w = self.workload;
        if self.subs.is_some() && !matches!(w, Workload::Fanout | Workload::Queue) {
            return Err(format!(
                "--subs applies to fanout and queue, not {}",
                w.name()
            ));
        }
        if self.window.is_some() && w != Workload::JsPub {
            return Err(format!("--window applies to js-pub, not {}", w.name()));
        }
        let msgs = self.msgs.unwrap_or(w.default_msgs());
        let subs = self.subs.unwrap_or(match w {
            Workload::Fanout | Workload::Queue => 4,
            _ => 1,
        });
        let window = self.window.unwrap_or(1);
        for (name, v) in [("--msgs", msgs), ("--subs", subs), ("--window", window)] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(Settings {
            workload: w,
            server: self.server.clone(),
            msgs,
            size: self.size.unwrap_or(if w.is_js() { 128 } else { 16 }),
            subs,
            window,
        })
    }
}

/// Runs one workload with a progress line; its report, or why it failed.
pub fn run(s: &Settings) -> Result<Report, String> {
    let progress = Progress::start(s.workload.name(), s.msgs as u64);
    let counter = progress.counter();
    let result = match s.workload {
        Workload::Pub => core::publish(s, &counter),
        Workload::Pubsub | Workload::Fanout => core::fanout(s, &counter),
        Workload::Queue => core::queue(s, &counter),
        Workload::Reqrep => core::reqrep(s, &counter),
        Workload::JsPub => js::publish(s, &counter),
        Workload::JsConsume => js::consume(s, &counter),
    };
    progress.finish();
    result
}

/// `sluice bench ...`: `args` starts with `bench` (in the program name's place).
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = BenchCli::try_parse_from(args).unwrap_or_else(|e| e.exit());
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(msg) => BenchCli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, msg)
            .exit(),
    };
    match run(&settings) {
        Ok(report) => {
            let text = if cli.json {
                report.json_line()
            } else {
                report.table()
            };
            // Not println!: that panics if stdout is closed.
            let _ = writeln!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "sluice bench: {} against {} FAILED: {e}",
                settings.workload.name(),
                settings.server
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
