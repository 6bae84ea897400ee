//! The client subcommands: `sluice pub|sub|req|reply|stream|consumer|kv ...`.
//!
//! Owns: their clap parser (global connection options, accepted before or after the
//! subcommand), dispatch, and the exit code: 0 ok, 1 a runtime error (one line on stderr,
//! `sluice: error: ...`), 2 a usage error (clap's). The commands live in [`core`] (plain
//! NATS), [`stream`], [`consumer`] and [`kv`] (JetStream, through `$JS.API`), all on the
//! blocking client in [`client`] (server URLs: [`url`]), which speaks the protocol through sluice-protocol.
//! Output is for people (aligned tables, human sizes and durations; [`format`]) or, with
//! `--json`, for programs. The interface is specified in the README's "Try it" section and
//! `sluice <command> --help`.

mod client;
mod consumer;
mod core;
mod format;
mod kv;
mod stream;
mod url;

use clap::{Args, Parser, Subcommand};
use client::Client;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use url::Auth;

/// A runtime failure: one sentence for `sluice: error: ...`.
pub type Result<T> = std::result::Result<T, String>;

/// The subcommands this module serves (the first argument after `sluice`).
pub const COMMANDS: [&str; 7] = ["pub", "sub", "req", "reply", "stream", "consumer", "kv"];

#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    about = "A NATS client: publish, subscribe, request and reply, and manage JetStream \
             streams, consumers and key-value buckets.",
    after_help = "Exit status: 0 ok, 1 runtime error (one line on stderr), 2 usage error."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Connection and output options, accepted anywhere on the command line.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Server URL(s), comma-separated: nats://host:port, host:port, nats://user:pass@host:port
    /// or nats://token@host:port [default: $NATS_URL, else nats://127.0.0.1:4222]
    #[arg(short = 's', long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// User name (with --password)
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,
    /// Password (with --user)
    #[arg(long, global = true, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Authentication token
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Machine-readable output (JSON)
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for connects, replies and API answers (500ms, 2s, 1m)
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s",
          value_parser = format::parse_duration)]
    pub timeout: Duration,
}

impl Global {
    /// Connects to the server the options name.
    pub fn connect(&self) -> Result<Client> {
        let spec = match &self.server {
            Some(s) => s.clone(),
            None => std::env::var("NATS_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned()),
        };
        let urls = url::parse_urls(&spec)?;
        let auth = Auth {
            user: self.user.clone(),
            pass: self.password.clone(),
            token: self.token.clone(),
        };
        Client::connect(&urls, &auth, self.timeout)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish a message (or --count of them)
    Pub(core::PubArgs),
    /// Subscribe and print the messages that arrive
    Sub(core::SubArgs),
    /// Send a request and print the reply
    Req(core::ReqArgs),
    /// Answer requests with a fixed response
    Reply(core::ReplyArgs),
    /// Manage JetStream streams
    #[command(subcommand)]
    Stream(stream::StreamCmd),
    /// Manage JetStream consumers and pull messages from them
    #[command(subcommand)]
    Consumer(consumer::ConsumerCmd),
    /// Key-value buckets
    #[command(subcommand)]
    Kv(kv::KvCmd),
}

/// Runs `sluice <command> ...` (`args` starts with the program name).
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => e.exit(), // usage errors exit 2, --help 0
    };
    let g = &cli.global;
    let result = match &cli.command {
        Command::Pub(a) => core::publish(g, a),
        Command::Sub(a) => core::subscribe(g, a),
        Command::Req(a) => core::request(g, a),
        Command::Reply(a) => core::reply(g, a),
        Command::Stream(c) => stream::run(g, c),
        Command::Consumer(c) => consumer::run(g, c),
        Command::Kv(c) => kv::run(g, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "sluice: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `text` to stdout as is.
pub fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

/// Writes one JSON value on a line of its own (pretty unless `line`).
pub fn out_json(v: &serde_json::Value, line: bool) -> Result<()> {
    let text = if line {
        v.to_string()
    } else {
        serde_json::to_string_pretty(v).unwrap_or_default()
    };
    out(&format!("{text}\n"))
}

/// A line on stderr (notes for the person, never data).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after() {
        let a = Cli::try_parse_from(["sluice", "--json", "-s", "h:1", "pub", "x"]).unwrap();
        let b = Cli::try_parse_from(["sluice", "pub", "x", "--json", "--server", "h:1"]).unwrap();
        assert!(a.global.json && b.global.json);
        assert_eq!(a.global.server, b.global.server);
        let c = Cli::try_parse_from(["sluice", "req", "x", "y", "--timeout", "500ms"]).unwrap();
        assert_eq!(c.global.timeout, Duration::from_millis(500));
        assert!(Cli::try_parse_from(["sluice", "req", "x", "y", "--timeout", "soon"]).is_err());
    }
}
