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
//!
//! Across a cluster (`--sub-server`): the receiving side of pubsub, fanout, queue and reqrep
//! connects to a second server of the same cluster, and [`probe`] waits until its interest has
//! crossed the route before the clock starts; [`window`] keeps the publisher at most
//! `--in-flight` messages ahead of its receivers, since nothing across a route paces it.

mod conn;
mod core;
mod js;
mod probe;
mod progress;
mod report;
mod window;

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
    /// Acked publishes to a file stream (--replicas, default 1), --window in flight (default 1)
    JsPub,
    /// Fill a file stream (--replicas, default 1), then drain it with a durable pull consumer
    /// (batch 100, explicit ack)
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

    /// A second server of the same cluster for the receiving side: the subscribers (pubsub,
    /// fanout), the responder (reqrep), or half the queue members (queue: members 0, 2, 4...
    /// on it, the others on --server); the publisher or requester stays on --server. Probe
    /// messages are published until the interest is seen across the route; they are not
    /// counted
    #[arg(long, value_name = "URL", value_parser = parse_server)]
    pub sub_server: Option<String>,

    /// Messages to send [default: 1000000; reqrep and js-pub 20000; js-consume 100000]
    #[arg(short = 'n', long, value_name = "N")]
    pub msgs: Option<usize>,

    /// Payload size in bytes [default: 16; js-pub and js-consume 128]
    #[arg(long, value_name = "BYTES")]
    pub size: Option<usize>,

    /// Subscribers (fanout) or queue members (queue) [default: 4]
    #[arg(long, value_name = "K")]
    pub subs: Option<usize>,

    /// At most N messages published and not yet received (pubsub, fanout: by every subscriber;
    /// queue: in all) [default: with --sub-server, as many as fit in 8 MiB counting 48 bytes
    /// of framing each (16 B: 131072; 1 KiB: 7825); without it, no limit]
    #[arg(long, value_name = "N")]
    pub in_flight: Option<usize>,

    /// Publishes in flight, unacknowledged (js-pub) [default: 1]
    #[arg(long, value_name = "W")]
    pub window: Option<usize>,

    /// Replicas of the stream the workload creates (js-pub, js-consume): its num_replicas,
    /// 1 to 5; above 1 the server must be part of a JetStream cluster [default: 1]
    #[arg(long, value_name = "N")]
    pub replicas: Option<usize>,

    /// Print one JSON object per line instead of a table
    #[arg(long)]
    pub json: bool,
}

/// A workload's parameters, defaults applied and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub workload: Workload,
    /// `HOST:PORT`: the publisher's (and everything's, without `sub_server`).
    pub server: String,
    /// `HOST:PORT` of a second server of the cluster, for the receiving side (`--sub-server`).
    pub sub_server: Option<String>,
    pub msgs: usize,
    pub size: usize,
    /// Subscribers or queue members (fanout, queue); 1 otherwise.
    pub subs: usize,
    /// Publishes in flight (js-pub).
    pub window: usize,
    /// The created stream's num_replicas (js-pub, js-consume); 1 otherwise.
    pub replicas: usize,
    /// Messages published and not yet received, at most (pubsub, fanout, queue); `None`: no
    /// limit.
    pub in_flight: Option<usize>,
}

impl Settings {
    /// Whether receiver `i` (subscriber, queue member, responder) is on `sub_server`: all of
    /// them, except in `queue`, where members 0, 2, 4... are (ceil(K/2) of K) and the others
    /// share the publisher's server. Never without `sub_server`.
    pub fn receiver_is_remote(&self, i: usize) -> bool {
        self.sub_server.is_some() && (self.workload != Workload::Queue || i.is_multiple_of(2))
    }

    /// The server receiver `i` connects to.
    pub fn receiver_server(&self, i: usize) -> &str {
        match &self.sub_server {
            Some(sub) if self.receiver_is_remote(i) => sub,
            _ => &self.server,
        }
    }
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
        if self.sub_server.is_some()
            && !matches!(
                w,
                Workload::Pubsub | Workload::Fanout | Workload::Queue | Workload::Reqrep
            )
        {
            return Err(format!(
                "--sub-server applies to pubsub, fanout, queue and reqrep, not {}",
                w.name()
            ));
        }
        if self.in_flight.is_some()
            && !matches!(w, Workload::Pubsub | Workload::Fanout | Workload::Queue)
        {
            return Err(format!(
                "--in-flight applies to pubsub, fanout and queue, not {}",
                w.name()
            ));
        }
        if self.window.is_some() && w != Workload::JsPub {
            return Err(format!("--window applies to js-pub, not {}", w.name()));
        }
        if self.replicas.is_some() && !w.is_js() {
            return Err(format!(
                "--replicas applies to js-pub and js-consume, not {}",
                w.name()
            ));
        }
        let replicas = self.replicas.unwrap_or(1);
        if !(1..=5).contains(&replicas) {
            return Err(format!("--replicas must be 1 to 5, not {replicas}"));
        }
        let msgs = self.msgs.unwrap_or(w.default_msgs());
        let subs = self.subs.unwrap_or(match w {
            Workload::Fanout | Workload::Queue => 4,
            _ => 1,
        });
        let window = self.window.unwrap_or(1);
        let size = self.size.unwrap_or(if w.is_js() { 128 } else { 16 });
        let in_flight = match (self.in_flight, &self.sub_server) {
            (Some(n), _) => Some(n),
            (None, Some(_))
                if matches!(w, Workload::Pubsub | Workload::Fanout | Workload::Queue) =>
            {
                Some(window::default_in_flight(size))
            }
            (None, _) => None,
        };
        for (name, v) in [
            ("--msgs", msgs),
            ("--subs", subs),
            ("--window", window),
            ("--in-flight", in_flight.unwrap_or(1)),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(Settings {
            workload: w,
            server: self.server.clone(),
            sub_server: self.sub_server.clone(),
            msgs,
            size,
            subs,
            window,
            replicas,
            in_flight,
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
            let against = match &settings.sub_server {
                Some(sub) => format!("{} (receivers on {sub})", settings.server),
                None => settings.server.clone(),
            };
            eprintln!(
                "sluice bench: {} against {against} FAILED: {e}",
                settings.workload.name()
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
