//! Command-line flags: nats-server's spellings, parsed by clap.
//!
//! nats-server parses its flags with Go's `flag` package, where `-js`, `--js`, `-js=true`,
//! `-sd DIR`, `-sd=DIR` and `--store_dir=DIR` are all the same thing and a flag that takes a
//! value takes the next argument whatever it looks like (`-p -1`). clap has no single-dash
//! long flags, so [`normalize`] first rewrites every Go spelling of a known flag into one
//! canonical clap spelling (`--long` or `--long=value`), and [`Cli`] parses the result.
//! Unknown flags pass through (single-dash long ones as `--name`) so that clap rejects them
//! with its usual message.

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use sluice_server::cluster_config::{
    check_advertise, check_cluster_name, ClusterListenUrl, UrlError,
};
use sluice_server::{Auth, RouteUrl, ServerConfig};
use std::ffi::OsString;

/// What a Go-style flag name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Takes a value: `-f v`, `-f=v`, `--f v`, `--f=v`.
    Value,
    /// A boolean: `-f`, `-f=true`, `-f=false` (never takes the next argument).
    Bool,
    /// clap's help flag: `-h`, `-help`, `--help`.
    Help,
}

/// One nats-server flag name and what it becomes for clap.
struct Spec {
    /// Every spelling nats-server accepts for it, without dashes.
    names: &'static [&'static str],
    /// The canonical clap long names it expands to (more than one for `-DV`).
    longs: &'static [&'static str],
    kind: Kind,
}

const fn spec(names: &'static [&'static str], longs: &'static [&'static str], kind: Kind) -> Spec {
    Spec { names, longs, kind }
}

/// Every flag sluice knows, spelled as nats-server spells it.
const FLAGS: &[Spec] = &[
    spec(&["a", "addr", "net"], &["addr"], Kind::Value),
    spec(&["p", "port"], &["port"], Kind::Value),
    spec(&["n", "name", "server_name"], &["name"], Kind::Value),
    spec(&["user"], &["user"], Kind::Value),
    spec(&["pass"], &["pass"], Kind::Value),
    spec(&["auth"], &["auth"], Kind::Value),
    spec(&["js", "jetstream"], &["jetstream"], Kind::Bool),
    spec(&["sd", "store_dir"], &["store_dir"], Kind::Value),
    // Sluice's own (nats-server sets this in the jetstream config block): when a stream
    // publish is acknowledged.
    spec(&["sync"], &["sync"], Kind::Value),
    spec(&["m", "http_port"], &["http_port"], Kind::Value),
    spec(&["c", "config"], &["config"], Kind::Value),
    spec(&["tls"], &["tls"], Kind::Bool),
    spec(&["tlscert"], &["tlscert"], Kind::Value),
    spec(&["tlskey"], &["tlskey"], Kind::Value),
    spec(&["tlsverify"], &["tlsverify"], Kind::Bool),
    spec(&["tlscacert"], &["tlscacert"], Kind::Value),
    spec(&["cluster", "cluster_listen"], &["cluster"], Kind::Value),
    spec(&["cluster_name"], &["cluster_name"], Kind::Value),
    spec(&["routes"], &["routes"], Kind::Value),
    spec(&["no_advertise"], &["no_advertise"], Kind::Bool),
    spec(&["cluster_advertise"], &["cluster_advertise"], Kind::Value),
    spec(&["connect_retries"], &["connect_retries"], Kind::Value),
    spec(&["l", "log"], &["log"], Kind::Value),
    spec(&["D", "debug"], &["debug"], Kind::Bool),
    spec(&["V", "trace"], &["trace"], Kind::Bool),
    // nats-server's -VV/-DVV also trace the system account; sluice has none, so they are
    // plain -V/-DV here.
    spec(&["VV"], &["trace"], Kind::Bool),
    spec(&["DV", "DVV"], &["debug", "trace"], Kind::Bool),
    spec(&["v", "version"], &["version"], Kind::Bool),
    spec(&["h", "help"], &["help"], Kind::Help),
];

fn lookup(name: &str) -> Option<&'static Spec> {
    FLAGS.iter().find(|s| s.names.contains(&name))
}

/// Rewrites Go-style flag spellings into clap's. `args` includes the program name.
///
/// - a value flag becomes `--long=value`, taking its value from `=value` or else from the
///   next argument, whatever that looks like (`-p -1` is port -1, as in Go);
/// - a bool flag becomes `--long` or `--long=value` (`-D=false`), and `-DV` both flags;
/// - an unknown single-dash long flag `-bogus` becomes `--bogus`, so clap names it whole;
/// - `--`, and the first argument that is not a flag, end flag parsing as in Go: they and
///   everything after pass through unchanged (and clap rejects them: sluice takes no
///   positional arguments).
pub fn normalize<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut args = args.into_iter().map(Into::into);
    let mut out: Vec<OsString> = args.next().into_iter().collect();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            // Not UTF-8, so not a flag name of ours; clap will say what it makes of it.
            out.push(arg);
            continue;
        };
        if text == "--" || text == "-" || !text.starts_with('-') {
            out.push(arg);
            out.extend(args);
            break;
        }
        let body = text.strip_prefix("--").unwrap_or(&text[1..]);
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(spec) = lookup(name) else {
            // Unknown: let clap reject it, naming it the way Go would have read it.
            let single_dash_long = !text.starts_with("--") && name.chars().count() > 1;
            out.push(if single_dash_long {
                format!("-{text}").into()
            } else {
                arg
            });
            continue;
        };
        match spec.kind {
            Kind::Value => {
                let long = spec.longs[0];
                match value.map(OsString::from).or_else(|| args.next()) {
                    Some(value) => {
                        let mut joined = OsString::from(format!("--{long}="));
                        joined.push(&value);
                        out.push(joined);
                    }
                    // No value left: clap reports the missing value.
                    None => out.push(format!("--{long}").into()),
                }
            }
            Kind::Bool => {
                for long in spec.longs {
                    out.push(match value {
                        Some(value) => format!("--{long}={value}").into(),
                        None => format!("--{long}").into(),
                    });
                }
            }
            Kind::Help => {
                if value.map(parse_go_bool) != Some(Ok(false)) {
                    out.push("--help".into());
                }
            }
        }
    }
    out
}

/// Go's `strconv.ParseBool`: the spellings a Go bool flag accepts after `=`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?} (use true or false)")),
    }
}

/// `--sync`: `always`, or a Go-style duration (`2m`, `1s`, `500ms`, `1h`).
pub fn parse_sync(s: &str) -> Result<sluice_stream::SyncPolicy, String> {
    if s.eq_ignore_ascii_case("always") {
        return Ok(sluice_stream::SyncPolicy::Always);
    }
    match sluice_stream::headers::parse_ttl(s) {
        Some(sluice_stream::headers::Ttl::After(ns)) => Ok(sluice_stream::SyncPolicy::Every(
            std::time::Duration::from_nanos(ns as u64),
        )),
        _ => Err(format!(
            "{s:?} is not \"always\" or a duration like 2m, 1s, 500ms"
        )),
    }
}

/// nats-server's default client port (defined beside the configuration file reader, in the
/// library half of this crate).
pub use sluice::DEFAULT_PORT;

/// nats-server's client port: `-1` asks for a random free port (its RANDOM_PORT) and becomes
/// 0, which the server binds as "any free port"; `0` means the default port, as in nats-server.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.trim() {
        // As nats-server: -1 is RANDOM_PORT, 0 means "the default port".
        "-1" => Ok(0),
        "0" => Ok(DEFAULT_PORT),
        t => t
            .parse::<u16>()
            .map_err(|_| format!("{s:?} is not a port (use 0-65535, or -1 for a random port)")),
    }
}

/// `--cluster URL` (`--cluster_listen`): where routes are accepted, or `""` for no cluster
/// (nats-server's `overrideCluster`: an empty value turns a file's cluster off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterFlag {
    Off,
    Listen(ClusterListenUrl),
}

pub fn parse_cluster_flag(s: &str) -> Result<ClusterFlag, String> {
    if s.trim().is_empty() {
        return Ok(ClusterFlag::Off);
    }
    s.parse().map(ClusterFlag::Listen).map_err(|e: UrlError| {
        format!(
            "cluster URL {:?}: {} (expected nats://HOST:PORT)",
            e.url, e.reason
        )
    })
}

/// `--routes a,b,...`: the routes to solicit, replacing the file's; `""` for none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteList(pub Vec<RouteUrl>);

pub fn parse_routes(s: &str) -> Result<RouteList, String> {
    if s.trim().is_empty() {
        return Ok(RouteList(Vec::new()));
    }
    let mut routes: Vec<RouteUrl> = Vec::new();
    for part in s.split(',') {
        let url: RouteUrl = part.parse().map_err(|e: UrlError| e.to_string())?;
        if routes.contains(&url) {
            return Err(format!("route {url} is listed twice"));
        }
        routes.push(url);
    }
    Ok(RouteList(routes))
}

fn parse_cluster_name(s: &str) -> Result<String, String> {
    check_cluster_name(s)?;
    Ok(s.to_owned())
}

fn parse_advertise(s: &str) -> Result<String, String> {
    check_advertise(s)?;
    Ok(s.to_owned())
}

/// sluice's flags, spelled as nats-server spells them. Parse with [`Cli::parse_from_os`],
/// which runs [`normalize`] first.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sluice",
    about = "Sluice: a NATS-protocol message broker, a drop-in replacement for nats-server.",
    disable_version_flag = true,
    disable_help_flag = true,
    args_override_self = true,
    after_help = "Flags may be written as nats-server (Go) writes them: -f v, -f=v, --f v, \
                  --f=v, and -js, -sd, -DV as single-dash long flags."
)]
pub struct Cli {
    /// Bind to host address (also --net)
    #[arg(
        short = 'a',
        long = "addr",
        value_name = "HOST",
        default_value = "0.0.0.0",
        help_heading = "Server Options"
    )]
    pub addr: String,

    /// Use port for clients; -1 picks a random free port (0 means the default, 4222)
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        default_value = "4222",
        value_parser = parse_port,
        allow_negative_numbers = true,
        help_heading = "Server Options",
    )]
    pub port: u16,

    /// Server name (also --server_name) [default: the server id]
    #[arg(
        short = 'n',
        long = "name",
        value_name = "NAME",
        help_heading = "Server Options"
    )]
    pub name: Option<String>,

    /// Use port for http monitoring (-1: any free port, 0: off)
    #[arg(
        short = 'm',
        long = "http_port",
        value_name = "PORT",
        allow_negative_numbers = true,
        help_heading = "Server Options"
    )]
    pub http_port: Option<i32>,

    /// Configuration file (nats-server's format); flags given override it
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        help_heading = "Server Options"
    )]
    pub config: Option<String>,

    /// Cluster URL from which members can solicit routes, nats://HOST:PORT (also
    /// --cluster_listen; port -1: any free port; "" turns a file's cluster off)
    #[arg(
        long = "cluster",
        value_name = "URL",
        value_parser = parse_cluster_flag,
        help_heading = "Cluster Options"
    )]
    pub cluster: Option<ClusterFlag>,

    /// Cluster name (if not set, one is generated)
    #[arg(
        long = "cluster_name",
        value_name = "NAME",
        value_parser = parse_cluster_name,
        help_heading = "Cluster Options"
    )]
    pub cluster_name: Option<String>,

    /// Routes to solicit and connect, comma-separated (replace the file's; "" for none)
    #[arg(
        long = "routes",
        value_name = "URL,...",
        value_parser = parse_routes,
        help_heading = "Cluster Options"
    )]
    pub routes: Option<RouteList>,

    /// Do not advertise known cluster information to clients
    #[arg(
        long = "no_advertise",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "Cluster Options",
    )]
    pub no_advertise: bool,

    /// Cluster HOST[:PORT] to advertise to other servers
    #[arg(
        long = "cluster_advertise",
        value_name = "HOST:PORT",
        value_parser = parse_advertise,
        help_heading = "Cluster Options"
    )]
    pub cluster_advertise: Option<String>,

    /// For implicit routes, number of connect retries
    #[arg(
        long = "connect_retries",
        value_name = "N",
        help_heading = "Cluster Options"
    )]
    pub connect_retries: Option<u32>,

    /// File to redirect log output to (appended)
    #[arg(
        short = 'l',
        long = "log",
        value_name = "FILE",
        help_heading = "Logging Options"
    )]
    pub log: Option<std::path::PathBuf>,

    /// Enable debugging output
    #[arg(
        short = 'D',
        long = "debug",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "Logging Options",
    )]
    pub debug: bool,

    /// Trace the raw protocol (-DV: debug and trace)
    #[arg(
        short = 'V',
        long = "trace",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "Logging Options",
    )]
    pub trace: bool,

    /// Enable JetStream functionality (also -js)
    #[arg(
        long = "jetstream",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "JetStream Options",
    )]
    pub jetstream: bool,

    /// Set the storage directory (also -sd; default: <temp dir>/sluice/jetstream)
    #[arg(
        long = "store_dir",
        value_name = "DIR",
        help_heading = "JetStream Options"
    )]
    pub store_dir: Option<String>,

    /// When a stream publish is acked: "always" (after fdatasync, the default) or an
    /// interval like 2m (after the write reaches the OS; fsync on that interval)
    #[arg(
        long = "sync",
        value_name = "always|DURATION",
        default_value = "always",
        value_parser = parse_sync,
        help_heading = "JetStream Options"
    )]
    pub sync: sluice_stream::SyncPolicy,

    /// User required for connections (needs --pass)
    #[arg(
        long = "user",
        value_name = "USER",
        requires = "pass",
        help_heading = "Authorization Options"
    )]
    pub user: Option<String>,

    /// Password required for connections (needs --user)
    #[arg(
        long = "pass",
        value_name = "PASSWORD",
        requires = "user",
        help_heading = "Authorization Options"
    )]
    pub pass: Option<String>,

    /// Authorization token required for connections (not with --user/--pass)
    #[arg(
        long = "auth",
        value_name = "TOKEN",
        conflicts_with_all = ["user", "pass"],
        help_heading = "Authorization Options",
    )]
    pub auth: Option<String>,

    /// Enable TLS, do not verify clients
    #[arg(
        long = "tls",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "TLS Options",
    )]
    pub tls: bool,

    /// Server certificate file (PEM)
    #[arg(long = "tlscert", value_name = "FILE", help_heading = "TLS Options")]
    pub tlscert: Option<std::path::PathBuf>,

    /// Private key for server certificate (PEM)
    #[arg(long = "tlskey", value_name = "FILE", help_heading = "TLS Options")]
    pub tlskey: Option<std::path::PathBuf>,

    /// Enable TLS, verify client certificates (against --tlscacert)
    #[arg(
        long = "tlsverify",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "TLS Options",
    )]
    pub tlsverify: bool,

    /// Client certificate CA for verification (PEM)
    #[arg(long = "tlscacert", value_name = "FILE", help_heading = "TLS Options")]
    pub tlscacert: Option<std::path::PathBuf>,

    /// Show this message
    #[arg(short = 'h', long = "help", action = ArgAction::Help, help_heading = "Common Options")]
    help: Option<bool>,

    /// Show version
    #[arg(
        short = 'v',
        long = "version",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        hide_default_value = true,
        help_heading = "Common Options",
    )]
    pub version: bool,

    /// The ids of the arguments given on the command line (not defaulted): the flags that
    /// override the configuration file.
    #[arg(skip)]
    given: Vec<String>,
}

/// A flag sluice recognises but cannot honour in this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// The flag as nats-server spells it, e.g. `-js/--jetstream`.
    pub flag: &'static str,
    /// Why it cannot be honoured.
    pub reason: &'static str,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.flag, self.reason)
    }
}

impl Cli {
    /// Normalizes `args` (program name first) and parses them; on a usage error, or for
    /// `--help`, clap prints its message and exits (2, or 0 for help).
    pub fn parse_from_os<I, T>(args: I) -> Cli
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        match Cli::try_parse_from_os(args) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        }
    }

    /// Like [`Cli::parse_from_os`] but returns clap's error instead of exiting.
    pub fn try_parse_from_os<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args = normalize(args);
        let mut matches = Cli::command().try_get_matches_from(args)?;
        let given = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_owned())
            .collect();
        let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
        cli.given = given;
        Ok(cli)
    }

    /// Was the argument with this id (the field's name: `port`, `addr`, `debug`, ...)
    /// given on the command line, rather than left at its default?
    pub fn given(&self, id: &str) -> bool {
        self.given.iter().any(|g| g == id)
    }

    /// The first flag given that this build cannot honour, if any. Checked before binding.
    pub fn unavailable(&self) -> Option<Unavailable> {
        // Every flag sluice recognises is built now; kept for the next one that is not.
        None
    }

    /// The server configuration these flags describe; everything not set by a flag keeps
    /// nats-server's default.
    pub fn server_config(&self) -> ServerConfig {
        let auth = match (&self.user, &self.pass, &self.auth) {
            (Some(user), Some(pass), _) => Auth::UserPass {
                user: user.clone(),
                pass: pass.clone(),
            },
            (_, _, Some(token)) => Auth::Token(token.clone()),
            _ => Auth::None,
        };
        ServerConfig {
            host: self.addr.clone(),
            port: self.port,
            server_name: self.name.clone().filter(|n| !n.is_empty()),
            auth,
            jetstream: self.jetstream,
            ..ServerConfig::default()
        }
    }

    /// The store directory and sync policy when JetStream is on (flags alone; `main` layers
    /// them over the configuration file with `settings::resolve`).
    #[cfg(test)]
    pub fn jetstream_config(&self) -> Option<(std::path::PathBuf, sluice_stream::SyncPolicy)> {
        self.jetstream.then(|| {
            let dir = self
                .store_dir
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(std::path::PathBuf::from)
                .unwrap_or_else(sluice_stream::default_store_dir);
            (dir, self.sync)
        })
    }

    /// The line `--version` prints.
    pub fn version_line() -> String {
        format!(
            "sluice v{} (nats-server compatible v{})",
            sluice_server::SLUICE_VERSION,
            sluice_server::NATS_COMPAT_VERSION
        )
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "args_cluster_tests.rs"]
mod cluster_tests;
