//! What the server runs with: nats-server's defaults, then the configuration file (`-c`),
//! then the flags actually given on the command line.

use crate::args::Cli;
use crate::conf::{self, FileOptions};
use crate::logging::LogOptions;
use sluice_server::{Auth, ServerConfig};
use sluice_stream::SyncPolicy;
use std::path::{Path, PathBuf};

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerConfig,
    pub log: LogOptions,
    /// `Some` when JetStream is on.
    pub jetstream: Option<JetStreamSettings>,
}

/// JetStream's part.
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamSettings {
    pub store_dir: PathBuf,
    pub sync: SyncPolicy,
    /// `max_memory_store` / `max_file_store` from the file: reported at startup, not yet
    /// enforced by the stream layer.
    pub max_memory_store: Option<i64>,
    pub max_file_store: Option<i64>,
}

/// The configuration file `-c` names, if any.
pub fn config_path(cli: &Cli) -> Option<&Path> {
    cli.config
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(Path::new)
}

/// Loads the file `-c` names (if any) and layers the flags over it.
pub fn load(cli: &Cli) -> Result<Settings, String> {
    let file = match config_path(cli) {
        Some(path) => Some(conf::load(path).map_err(|e| e.to_string())?),
        None => None,
    };
    resolve(cli, file.as_ref())
}

/// Defaults, then `file`, then the flags given in `cli`.
pub fn resolve(cli: &Cli, file: Option<&FileOptions>) -> Result<Settings, String> {
    let default = FileOptions::default();
    let f = file.unwrap_or(&default);
    if let Some(pos) = &f.monitoring {
        if !cli.given("http_port") {
            return Err(format!(
                "{pos}: http/http_port: HTTP monitoring is not available yet in this build of \
                 sluice (the monitoring endpoints are not built)"
            ));
        }
    }
    let d = ServerConfig::default();
    let flag_auth = cli.given("user") || cli.given("pass") || cli.given("auth");
    let auth = if flag_auth {
        cli.server_config().auth
    } else {
        f.auth.clone().unwrap_or(Auth::None)
    };
    let host = if cli.given("addr") {
        cli.addr.clone()
    } else {
        f.host.clone().unwrap_or_else(|| cli.addr.clone())
    };
    let port = if cli.given("port") {
        cli.port
    } else {
        f.port.unwrap_or(cli.port)
    };
    let server_name = if cli.given("name") {
        cli.name.clone()
    } else {
        f.server_name.clone()
    }
    .filter(|n| !n.is_empty());

    let js_file = f.jetstream.clone().unwrap_or_default();
    let jetstream_on = if cli.given("jetstream") {
        cli.jetstream
    } else {
        js_file.enabled
    };
    let jetstream = jetstream_on.then(|| JetStreamSettings {
        store_dir: match cli.store_dir.as_deref().filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => js_file
                .store_dir
                .clone()
                .unwrap_or_else(sluice_stream::default_store_dir),
        },
        sync: if cli.given("sync") {
            cli.sync
        } else {
            js_file.sync.unwrap_or(cli.sync)
        },
        max_memory_store: js_file.max_memory_store,
        max_file_store: js_file.max_file_store,
    });

    let server = ServerConfig {
        host,
        port,
        server_name,
        max_payload: f.max_payload.unwrap_or(d.max_payload),
        max_control_line: f.max_control_line.unwrap_or(d.max_control_line),
        max_pending: f.max_pending.unwrap_or(d.max_pending),
        max_connections: f.max_connections.unwrap_or(d.max_connections),
        ping_interval: f.ping_interval.unwrap_or(d.ping_interval),
        max_pings_out: f.ping_max.unwrap_or(d.max_pings_out),
        auth_timeout: f.auth_timeout.unwrap_or(d.auth_timeout),
        write_deadline: f.write_deadline.unwrap_or(d.write_deadline),
        auth,
        jetstream: jetstream.is_some(),
    };
    let log = LogOptions {
        debug: if cli.given("debug") {
            cli.debug
        } else {
            f.debug.unwrap_or(false)
        },
        trace: if cli.given("trace") {
            cli.trace
        } else {
            f.trace.unwrap_or(false)
        },
        file: if cli.given("log") {
            cli.log.clone()
        } else {
            f.logfile.clone()
        },
    };
    Ok(Settings {
        server,
        log,
        jetstream,
    })
}

/// What a reload may change while the server runs, and what it found changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Keys that cannot change without a restart (the reload is refused).
    pub fixed: Vec<&'static str>,
    /// Logging keys (applied at once).
    pub logging: Vec<&'static str>,
    /// Authorization and limits (applied by the server, when it can).
    pub server: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.logging.is_empty() && self.server.is_empty()
    }
}

/// The keys whose values differ between `old` and `new`.
pub fn diff(old: &Settings, new: &Settings) -> Changes {
    let mut c = Changes::default();
    let (o, n) = (&old.server, &new.server);
    let mut fixed = |changed: bool, key| {
        if changed {
            c.fixed.push(key);
        }
    };
    fixed(o.host != n.host, "host");
    fixed(o.port != n.port, "port");
    fixed(o.server_name != n.server_name, "server_name");
    fixed(old.jetstream != new.jetstream, "jetstream");
    fixed(old.log.file != new.log.file, "logfile");
    if old.log.debug != new.log.debug {
        c.logging.push("debug");
    }
    if old.log.trace != new.log.trace {
        c.logging.push("trace");
    }
    let mut server = |changed: bool, key| {
        if changed {
            c.server.push(key);
        }
    };
    server(o.auth != n.auth, "authorization");
    server(o.auth_timeout != n.auth_timeout, "authorization timeout");
    server(o.max_payload != n.max_payload, "max_payload");
    server(o.max_pending != n.max_pending, "max_pending");
    server(o.max_connections != n.max_connections, "max_connections");
    server(o.max_control_line != n.max_control_line, "max_control_line");
    server(o.ping_interval != n.ping_interval, "ping_interval");
    server(o.max_pings_out != n.max_pings_out, "ping_max");
    server(o.write_deadline != n.write_deadline, "write_deadline");
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{options, parser};
    use std::time::Duration;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from_os(std::iter::once("sluice").chain(args.iter().copied())).unwrap()
    }

    fn file(text: &str) -> FileOptions {
        options::from_map(&parser::parse_str(text, Path::new("t.conf")).unwrap()).unwrap()
    }

    #[test]
    fn file_values_apply_and_given_flags_override_them() {
        let f = file(
            "listen: 127.0.0.1:4333\nserver_name: filed\nmax_payload: 1KB\ndebug: true\n\
             authorization { user: a, password: b }\njetstream { store_dir: /js }",
        );
        let s = resolve(&cli(&[]), Some(&f)).unwrap();
        assert_eq!((s.server.host.as_str(), s.server.port), ("127.0.0.1", 4333));
        assert_eq!(s.server.server_name.as_deref(), Some("filed"));
        assert_eq!(s.server.max_payload, 1024);
        assert!(s.log.debug && !s.log.trace);
        assert!(matches!(s.server.auth, Auth::UserPass { .. }));
        let js = s.jetstream.unwrap();
        assert_eq!(js.store_dir, PathBuf::from("/js"));
        assert!(s.server.jetstream);

        let s = resolve(
            &cli(&[
                "-p",
                "5000",
                "-a",
                "0.0.0.0",
                "-n",
                "flagged",
                "-D=false",
                "--auth",
                "t",
                "-js=false",
            ]),
            Some(&f),
        )
        .unwrap();
        assert_eq!((s.server.host.as_str(), s.server.port), ("0.0.0.0", 5000));
        assert_eq!(s.server.server_name.as_deref(), Some("flagged"));
        assert!(!s.log.debug);
        assert_eq!(s.server.auth, Auth::Token("t".into()));
        assert!(s.jetstream.is_none() && !s.server.jetstream);
        assert_eq!(s.server.max_payload, 1024, "not overridden by any flag");
    }

    #[test]
    fn defaulted_flags_do_not_override_the_file() {
        // -p and -a have defaults; only given flags count.
        let f = file("port: 4999\nhost: 10.0.0.1\ntrace: true");
        let s = resolve(&cli(&["-n", "x"]), Some(&f)).unwrap();
        assert_eq!(s.server.port, 4999);
        assert_eq!(s.server.host, "10.0.0.1");
        assert!(s.log.trace);
    }

    #[test]
    fn no_file_is_the_flags_alone() {
        let c = cli(&["-js", "-sd", "/x", "--sync", "2m", "-p", "-1"]);
        let s = resolve(&c, None).unwrap();
        assert_eq!(s.server.port, c.server_config().port);
        let js = s.jetstream.unwrap();
        assert_eq!((js.store_dir, js.sync), c.jetstream_config().unwrap());
    }

    #[test]
    fn jetstream_sync_from_file_and_flag() {
        let f = file("jetstream { sync_interval: 30s }");
        let s = resolve(&cli(&[]), Some(&f)).unwrap();
        let every = SyncPolicy::Every(Duration::from_secs(30));
        assert_eq!(s.jetstream.unwrap().sync, every);
        let s = resolve(&cli(&["--sync", "always"]), Some(&f)).unwrap();
        assert_eq!(s.jetstream.unwrap().sync, SyncPolicy::Always);
    }

    #[test]
    fn monitoring_in_the_file_is_refused_unless_a_flag_turns_it_off() {
        let f = file("\nhttp_port: 8222");
        let err = resolve(&cli(&[]), Some(&f)).unwrap_err();
        assert!(
            err.starts_with("t.conf:2: http/http_port: HTTP monitoring is not available yet"),
            "{err}"
        );
        assert!(resolve(&cli(&["-m", "0"]), Some(&f)).is_ok());
        assert!(resolve(&cli(&[]), Some(&file("http_port: 0"))).is_ok());
        let err = resolve(&cli(&[]), Some(&file("http: 127.0.0.1:8222"))).unwrap_err();
        assert!(err.starts_with("t.conf:1: "), "{err}");
    }

    #[test]
    fn diff_sorts_changes() {
        let a = resolve(&cli(&[]), Some(&file("port: 1"))).unwrap();
        let b = resolve(
            &cli(&[]),
            Some(&file(
                "port: 2\ndebug: true\nmax_payload: 1KB\nauthorization { token: x }",
            )),
        )
        .unwrap();
        let c = diff(&a, &b);
        assert_eq!(c.fixed, ["port"]);
        assert_eq!(c.logging, ["debug"]);
        assert_eq!(c.server, ["authorization", "max_payload"]);
        assert!(diff(&a, &a).is_empty());
    }
}
