//! What the server runs with: nats-server's defaults, then the configuration file (`-c`),
//! then the flags actually given on the command line.

use crate::args::{Cli, ClusterFlag};
use crate::conf::cluster::ClusterOptions;
use crate::conf::options::TlsOptions;
use crate::conf::{self, FileOptions};
use crate::logging::LogOptions;
use sluice_server::{Auth, ClusterConfig, RouteAuth, RoutePool, ServerConfig, TlsConfig};
use sluice_stream::SyncPolicy;
use std::path::{Path, PathBuf};

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerConfig,
    pub log: LogOptions,
    /// `Some` when JetStream is on.
    pub jetstream: Option<JetStreamSettings>,
    /// `Some` when HTTP monitoring is on (`-m`, `http`, `http_port`).
    pub monitor: Option<MonitorSettings>,
}

/// Where HTTP monitoring listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    pub host: String,
    /// 0: any free port.
    pub port: u16,
}

/// JetStream's part.
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamSettings {
    pub store_dir: PathBuf,
    pub sync: SyncPolicy,
    /// `max_memory_store` / `max_file_store` from the file (unset: not limited): streams'
    /// `max_bytes` reservations across every account must fit them (`sluice_stream::limits`).
    pub max_memory_store: Option<i64>,
    pub max_file_store: Option<i64>,
    /// `max_queued` from the file, or [`sluice_stream::DEFAULT_QUEUE_BYTES`].
    pub queue_bytes: usize,
    /// `server_tags` (placement in a cluster).
    pub server_tags: Vec<String>,
    /// `jetstream.unique_tag` (empty: none).
    pub unique_tag: String,
    /// Which accounts have JetStream, with their limits (nats-server's rule: `$G` when no
    /// account is configured, else each account whose `jetstream` key enables it; a
    /// clustered server keeps it in `$G` only).
    pub accounts: sluice_stream::accounts::Enabled,
    /// `jetstream { domain }`.
    pub domain: Option<String>,
}

/// The configuration file `-c` names, if any.
pub fn config_path(cli: &Cli) -> Option<&Path> {
    cli.config
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(Path::new)
}

/// The refusal while routes are not served (see [`load`]).
pub const CLUSTER_RELOAD_UNAVAILABLE: &str =
    "reloading these is not served yet (only the cluster's routes reload; restart to change them)";

/// Refuses what is configured but not served (the project's rule: nothing accepted
/// silently), naming it.
fn refuse_unserved(settings: &Settings, file: Option<&FileOptions>) -> Result<(), String> {
    if settings.server.cluster.is_none() {
        return Ok(());
    }
    if let Some(js) = &settings.jetstream {
        if let Some((name, _)) = js.accounts.accounts.first() {
            return Err(format!(
                "accounts.{name}.jetstream: account jetstream is not served in clustered mode \
                 yet (clustered JetStream runs in the global account only)"
            ));
        }
    }
    if settings.server.jetstream {
        // nats-server's checks (`validateJetStreamOptions`), with its words.
        if settings.server.server_name.is_none() {
            return Err("jetstream cluster requires `server_name` to be set".into());
        }
        if settings
            .server
            .cluster
            .as_ref()
            .is_some_and(|c| c.name.is_none())
        {
            return Err("jetstream cluster requires `cluster.name` to be set".into());
        }
    }
    let pool = file
        .and_then(|f| f.cluster.as_ref())
        .and_then(|c| c.pool_size);
    if let Some(RoutePool::Size(n)) = pool.filter(|p| *p != RoutePool::Size(1)) {
        return Err(format!(
            "cluster.pool_size: {n}: route pooling is not served (Sluice keeps one connection \
             per route, as nats-server 2.9 does); use 1 or -1"
        ));
    }
    Ok(())
}

/// Loads the file `-c` names (if any) and layers the flags over it. Startup and every
/// reload come through here.
pub fn load(cli: &Cli) -> Result<Settings, String> {
    let file = match config_path(cli) {
        Some(path) => Some(conf::load(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let settings = resolve(cli, file.as_ref())?;
    refuse_unserved(&settings, file.as_ref())?;
    Ok(settings)
}

/// Defaults, then `file`, then the flags given in `cli`.
pub fn resolve(cli: &Cli, file: Option<&FileOptions>) -> Result<Settings, String> {
    let default = FileOptions::default();
    let f = file.unwrap_or(&default);
    let d = ServerConfig::default();
    let flag_auth = cli.given("user") || cli.given("pass") || cli.given("auth");
    let mut accounts = f.accounts.clone().unwrap_or_default();
    let mut system_account = f.system_account.clone();
    let operator = f
        .operator
        .as_ref()
        .map(conf::operator::server_accounts)
        .transpose()?;
    let mut jetstream_accounts = f.jetstream_accounts.clone();
    let auth = if let Some((trust, op_accounts, system)) = operator {
        if flag_auth {
            return Err(
                "--user, --pass and --auth cannot be used with an operator (operator mode)".into(),
            );
        }
        jetstream_accounts = conf::operator::jetstream_accounts(&trust)?;
        accounts = op_accounts;
        system_account = system;
        Auth::Jwt(trust)
    } else if flag_auth {
        // In place of the file's authorization block; the file's accounts keep their users.
        conf::accounts::under_flags(cli.server_config().auth, f)?
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

    let cluster_config = cluster(cli, f.cluster.as_ref())?;
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
        queue_bytes: js_file
            .max_queued
            .unwrap_or(sluice_stream::DEFAULT_QUEUE_BYTES),
        server_tags: f.server_tags.clone().unwrap_or_default(),
        unique_tag: js_file.unique_tag.clone().unwrap_or_default(),
        domain: js_file.domain.clone(),
        accounts: if cluster_config.is_some() {
            // Clustered JetStream stays in `$G` (account JetStream is refused above).
            sluice_stream::accounts::Enabled {
                global: Some(Default::default()),
                accounts: jetstream_accounts,
            }
        } else {
            sluice_stream::accounts::Enabled::from_config(
                &accounts.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
                jetstream_accounts,
            )
        },
    });

    let lame_duck_duration = f.lame_duck_duration.unwrap_or(d.lame_duck_duration);
    let lame_duck_grace_period = f.lame_duck_grace_period.unwrap_or(d.lame_duck_grace_period);
    if lame_duck_grace_period >= lame_duck_duration {
        // nats-server's check, in its words.
        return Err(format!(
            "lame duck grace period ({lame_duck_grace_period:?}) should be strictly lower than \
             lame duck duration ({lame_duck_duration:?})"
        ));
    }
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
        tls: tls(cli, f.tls.as_ref(), f.allow_non_tls.unwrap_or(false))?,
        lame_duck_duration,
        lame_duck_grace_period,
        cluster: cluster_config,
        accounts,
        no_auth_user: f.no_auth_user.clone(),
        system_account,
    };
    let monitor = monitor(cli, f, &server.host)?;
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
        monitor,
    })
}

/// HTTP monitoring: `-m PORT` over the file's `http`/`http_port` (as nats-server: 0 is off,
/// -1 any free port); the host is the file's `http` host, else the client listener's.
fn monitor(
    cli: &Cli,
    f: &FileOptions,
    client_host: &str,
) -> Result<Option<MonitorSettings>, String> {
    let file_host = f.monitoring.as_ref().and_then(|m| m.host.clone());
    let port = match cli.http_port.filter(|_| cli.given("http_port")) {
        Some(0) => None,
        Some(-1) => Some(0),
        Some(p) => Some(u16::try_from(p).map_err(|_| {
            format!(
                "-m/--http_port: {p} is not a port (use 1-65535, -1 for a random port, 0 for off)"
            )
        })?),
        None => f.monitoring.as_ref().map(|m| m.port),
    };
    Ok(port.map(|port| MonitorSettings {
        host: file_host.unwrap_or_else(|| client_host.to_owned()),
        port,
    }))
}

/// TLS: the file's `tls {}` block with the TLS flags given over it. `--tls` or
/// `--tlsverify` turn it on (and `--tls=false` off); a certificate and a key are required.
fn tls(
    cli: &Cli,
    file: Option<&TlsOptions>,
    allow_non_tls: bool,
) -> Result<Option<TlsConfig>, String> {
    let on = if cli.given("tls") || cli.given("tlsverify") {
        cli.tls || cli.tlsverify
    } else {
        file.is_some()
    };
    if !on {
        if cli.tlscert.is_some() || cli.tlskey.is_some() || cli.tlscacert.is_some() {
            return Err("--tlscert, --tlskey and --tlscacert need --tls or --tlsverify".into());
        }
        return Ok(None);
    }
    let where_ = |key: &str| match file {
        Some(t) => format!(
            "--{key}, or {} in the tls block at {}",
            file_key(key),
            t.pos
        ),
        None => format!("--{key}"),
    };
    let pick = |flag: &Option<PathBuf>, from_file: Option<&PathBuf>| {
        flag.clone().or_else(|| from_file.cloned())
    };
    let cert_file = pick(&cli.tlscert, file.and_then(|t| t.cert_file.as_ref()))
        .ok_or_else(|| format!("TLS needs a server certificate ({})", where_("tlscert")))?;
    let key_file = pick(&cli.tlskey, file.and_then(|t| t.key_file.as_ref())).ok_or_else(|| {
        format!(
            "TLS needs the certificate's private key ({})",
            where_("tlskey")
        )
    })?;
    let ca_file = pick(&cli.tlscacert, file.and_then(|t| t.ca_file.as_ref()));
    let map = file.and_then(|t| t.verify_and_map).unwrap_or(false);
    // verify_and_map verifies, whatever --tlsverify or verify say.
    let verify = map
        || if cli.given("tlsverify") {
            cli.tlsverify
        } else {
            file.and_then(|t| t.verify).unwrap_or(false)
        };
    if verify && ca_file.is_none() {
        return Err(format!(
            "verifying client certificates needs a CA ({})",
            where_("tlscacert")
        ));
    }
    Ok(Some(TlsConfig {
        cert_file,
        key_file,
        ca_file,
        verify,
        timeout: file
            .and_then(|t| t.timeout)
            .unwrap_or(TlsConfig::DEFAULT_TIMEOUT),
        map,
        allow_non_tls,
        handshake_first: file.and_then(|t| t.handshake_first).unwrap_or_default(),
    }))
}

/// Clustering: the file's `cluster {}` block with the cluster flags given over it, as
/// nats-server merges them (`MergeOptions`, `overrideCluster`). A cluster is on when it has a
/// port; `--cluster ""` turns a file's cluster off.
fn cluster(cli: &Cli, file: Option<&ClusterOptions>) -> Result<Option<ClusterConfig>, String> {
    let listen_flag = cli.cluster.as_ref().filter(|_| cli.given("cluster"));
    let flag_routes = cli.routes.as_ref().filter(|_| cli.given("routes"));
    let on = match listen_flag {
        Some(ClusterFlag::Off) => false,
        Some(ClusterFlag::Listen(_)) => true,
        None => file.is_some(),
    };
    if !on {
        if flag_routes.is_some_and(|r| !r.0.is_empty()) {
            // nats-server's words.
            return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
        }
        for (id, flag) in [
            ("cluster_name", "--cluster_name"),
            ("no_advertise", "--no_advertise"),
            ("cluster_advertise", "--cluster_advertise"),
            ("connect_retries", "--connect_retries"),
        ] {
            if cli.given(id) {
                return Err(format!(
                    "{flag} needs a cluster (--cluster URL, or a cluster block with a port)"
                ));
            }
        }
        return Ok(None);
    }
    let empty;
    let f = match file {
        Some(f) => f,
        None => {
            empty = ClusterOptions::empty();
            &empty
        }
    };
    let block = || match file {
        Some(f) => format!("the cluster block at {}", f.pos),
        None => "--cluster".to_owned(),
    };
    let (host, port) = match listen_flag {
        Some(ClusterFlag::Listen(url)) => (url.host.clone(), url.port),
        _ => {
            let port = match f.port {
                None => {
                    return Err(format!(
                        "cluster: {} has no port (give listen or port; nats-server has no \
                         default cluster port)",
                        block()
                    ))
                }
                Some(0) => {
                    return Err(format!(
                        "cluster: port 0 in {} turns clustering off in nats-server; remove the \
                         block, or use -1 for any free port",
                        block()
                    ))
                }
                Some(-1) => 0,
                Some(p) => u16::try_from(p).map_err(|_| format!("cluster: bad port {p}"))?,
            };
            (f.host.clone().unwrap_or_else(|| "0.0.0.0".to_owned()), port)
        }
    };
    let tls = match &f.tls {
        Some(t) => Some(cluster_tls(t)?),
        None => None,
    };
    let timeout = f
        .authorization
        .as_ref()
        .and_then(|a| a.timeout)
        .unwrap_or_else(|| ClusterConfig::default_auth_timeout(tls.as_ref()));
    let authorization = match listen_flag {
        // nats-server: the user in --cluster's URL replaces the file's, and a URL without
        // one clears it.
        Some(ClusterFlag::Listen(url)) => url.user.clone().map(|(user, password)| RouteAuth {
            user,
            password,
            timeout,
        }),
        _ => f.authorization.as_ref().map(|a| RouteAuth {
            user: a.user.clone(),
            password: a.password.clone(),
            timeout,
        }),
    };
    Ok(Some(ClusterConfig {
        name: if cli.given("cluster_name") {
            cli.cluster_name.clone()
        } else {
            f.name.clone()
        },
        host,
        port,
        routes: match flag_routes {
            Some(r) => r.0.clone(),
            None => f.routes.clone().unwrap_or_default(),
        },
        authorization,
        permissions: f.permissions.clone(),
        no_advertise: if cli.given("no_advertise") {
            cli.no_advertise
        } else {
            f.no_advertise.unwrap_or(false)
        },
        connect_retries: match cli.connect_retries.filter(|_| cli.given("connect_retries")) {
            Some(n) => n,
            None => f.connect_retries.unwrap_or(0),
        },
        pool_size: f.pool_size.unwrap_or(RoutePool::default()),
        advertise: if cli.given("cluster_advertise") {
            cli.cluster_advertise.clone()
        } else {
            f.advertise.clone()
        },
        tls,
    }))
}

/// The cluster's `tls {}`: a certificate, its key, and the CA that routes' certificates must
/// chain to (routes always verify each other, as in nats-server).
fn cluster_tls(t: &TlsOptions) -> Result<TlsConfig, String> {
    let need = |what: &str, key: &str| {
        format!(
            "cluster tls: needs {what} ({key} in the cluster's tls block at {})",
            t.pos
        )
    };
    Ok(TlsConfig {
        cert_file: t
            .cert_file
            .clone()
            .ok_or_else(|| need("a certificate", "cert_file"))?,
        key_file: t
            .key_file
            .clone()
            .ok_or_else(|| need("the certificate's private key", "key_file"))?,
        ca_file: Some(t.ca_file.clone().ok_or_else(|| {
            need(
                "a CA to verify other routes' certificates (they are always verified)",
                "ca_file",
            )
        })?),
        verify: true,
        timeout: t.timeout.unwrap_or(TlsConfig::DEFAULT_TIMEOUT),
        map: false,
        allow_non_tls: false,
        handshake_first: sluice_server::HandshakeFirst::Off,
    })
}

/// The `tls {}` key a TLS flag stands for.
fn file_key(flag: &str) -> &'static str {
    match flag {
        "tlscert" => "cert_file",
        "tlskey" => "key_file",
        _ => "ca_file",
    }
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
    /// Cluster keys nats-server reloads (its `reload.go`: `routes` by adding and removing
    /// routes, the rest of the block by `clusterOption`); for the route layer.
    pub cluster: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty()
            && self.logging.is_empty()
            && self.server.is_empty()
            && self.cluster.is_empty()
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
    fixed(o.tls != n.tls, "tls");
    fixed(old.jetstream != new.jetstream, "jetstream");
    fixed(old.monitor != new.monitor, "http");
    fixed(old.log.file != new.log.file, "logfile");
    // The accounts, and which account each user is in, are set up at startup.
    fixed(
        o.accounts != n.accounts || account_users(&o.auth) != account_users(&n.auth),
        "accounts",
    );
    fixed(o.no_auth_user != n.no_auth_user, "no_auth_user");
    fixed(o.system_account != n.system_account, "system_account");
    // nats-server's validateClusterOpts: the cluster host and port cannot change (turning
    // clustering on or off is a change of port there, 0 meaning off).
    match (&o.cluster, &n.cluster) {
        (None, None) => {}
        (Some(oc), Some(nc)) => {
            fixed(oc.host != nc.host, "cluster host");
            fixed(oc.port != nc.port, "cluster port");
            let (add, remove) = sluice_server::cluster_config::diff_routes(&oc.routes, &nc.routes);
            let mut cluster = |changed: bool, key| {
                if changed {
                    c.cluster.push(key);
                }
            };
            cluster(oc.name != nc.name, "cluster name");
            cluster(!add.is_empty() || !remove.is_empty(), "cluster routes");
            cluster(
                oc.authorization != nc.authorization,
                "cluster authorization",
            );
            cluster(oc.permissions != nc.permissions, "cluster permissions");
            cluster(oc.tls != nc.tls, "cluster tls");
            cluster(oc.no_advertise != nc.no_advertise, "cluster no_advertise");
            cluster(oc.advertise != nc.advertise, "cluster advertise");
            cluster(
                oc.connect_retries != nc.connect_retries,
                "cluster connect_retries",
            );
            cluster(oc.pool_size != nc.pool_size, "cluster pool_size");
        }
        _ => c.fixed.push("cluster"),
    }
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
    server(
        o.lame_duck_duration != n.lame_duck_duration,
        "lame_duck_duration",
    );
    server(
        o.lame_duck_grace_period != n.lame_duck_grace_period,
        "lame_duck_grace_period",
    );
    c
}

/// The users in an account other than `$G`, with their account, by name.
fn account_users(auth: &Auth) -> Vec<(&str, &str)> {
    let mut users: Vec<(&str, &str)> = match auth {
        Auth::Users(users) => users
            .iter()
            .filter_map(|u| Some((u.user.as_str(), u.account.as_deref()?)))
            .collect(),
        _ => Vec::new(),
    };
    users.sort_unstable();
    users
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
    fn jetstream_queue_bytes_from_file_or_default() {
        let s = resolve(&cli(&["-js"]), None).unwrap();
        let default = sluice_stream::DEFAULT_QUEUE_BYTES;
        assert_eq!(s.jetstream.unwrap().queue_bytes, default);
        let f = file("jetstream { max_queued: 1MB }");
        let s = resolve(&cli(&[]), Some(&f)).unwrap();
        assert_eq!(s.jetstream.unwrap().queue_bytes, 1 << 20);
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
    fn monitoring_from_file_and_flag() {
        let m = |host: &str, port| {
            Some(MonitorSettings {
                host: host.to_owned(),
                port,
            })
        };
        let f = file("\nhttp_port: 8222");
        assert_eq!(
            resolve(&cli(&[]), Some(&f)).unwrap().monitor,
            m("0.0.0.0", 8222)
        );
        assert_eq!(resolve(&cli(&["-m", "0"]), Some(&f)).unwrap().monitor, None);
        assert_eq!(
            resolve(&cli(&["-m", "-1", "-a", "127.0.0.1"]), Some(&f))
                .unwrap()
                .monitor,
            m("127.0.0.1", 0)
        );
        assert_eq!(
            resolve(&cli(&[]), Some(&file("http_port: 0")))
                .unwrap()
                .monitor,
            None
        );
        let s = resolve(&cli(&["-m", "9000"]), Some(&file("http: 127.0.0.2:8222"))).unwrap();
        assert_eq!(s.monitor, m("127.0.0.2", 9000));
        assert_eq!(resolve(&cli(&[]), None).unwrap().monitor, None);
        assert!(resolve(&cli(&["-m", "-5"]), None).is_err());
    }

    #[test]
    fn tls_from_file_and_flags() {
        let s = resolve(&cli(&[]), None).unwrap();
        assert_eq!(s.server.tls, None);
        let s = resolve(&cli(&["--tls", "--tlscert", "c", "--tlskey", "k"]), None).unwrap();
        let tls = s.server.tls.unwrap();
        assert_eq!((tls.cert_file, tls.key_file), ("c".into(), "k".into()));
        assert!(!tls.verify && tls.ca_file.is_none());
        assert_eq!(tls.timeout, TlsConfig::DEFAULT_TIMEOUT);

        let f = file("tls { cert_file: c, key_file: k, ca_file: ca, timeout: 5 }");
        let tls = resolve(&cli(&[]), Some(&f)).unwrap().server.tls.unwrap();
        assert_eq!(tls.ca_file, Some("ca".into()));
        assert_eq!(tls.timeout, Duration::from_secs(5));
        assert!(!tls.verify);
        // Flags override the block, field by field.
        let s = resolve(&cli(&["--tlsverify", "--tlscert", "c2"]), Some(&f)).unwrap();
        let tls = s.server.tls.unwrap();
        assert!(tls.verify);
        assert_eq!(tls.cert_file, PathBuf::from("c2"));
        assert_eq!(tls.key_file, PathBuf::from("k"));
        assert!(resolve(&cli(&["--tls=false"]), Some(&f))
            .unwrap()
            .server
            .tls
            .is_none());

        let err = resolve(&cli(&["--tls", "--tlscert", "c"]), None).unwrap_err();
        assert!(err.contains("private key (--tlskey)"), "{err}");
        let err = resolve(
            &cli(&["--tlsverify", "--tlscert", "c", "--tlskey", "k"]),
            None,
        )
        .unwrap_err();
        assert!(err.contains("CA (--tlscacert)"), "{err}");
        let err = resolve(&cli(&["--tlscert", "c"]), None).unwrap_err();
        assert!(err.contains("need --tls"), "{err}");
        let err = resolve(&cli(&[]), Some(&file("\ntls { key_file: k }"))).unwrap_err();
        assert!(
            err.contains("cert_file in the tls block at t.conf:2"),
            "{err}"
        );
    }

    #[test]
    fn lame_duck_durations() {
        let s = resolve(&cli(&[]), None).unwrap();
        assert_eq!(s.server.lame_duck_duration, Duration::from_secs(120));
        assert_eq!(s.server.lame_duck_grace_period, Duration::from_secs(10));
        let f = file("lame_duck_duration: 2s\nlame_duck_grace_period: 500ms");
        let s = resolve(&cli(&[]), Some(&f)).unwrap();
        assert_eq!(s.server.lame_duck_duration, Duration::from_secs(2));
        assert_eq!(s.server.lame_duck_grace_period, Duration::from_millis(500));
        let err = resolve(&cli(&[]), Some(&file("lame_duck_duration: 5s"))).unwrap_err();
        assert!(err.contains("strictly lower"), "{err}");
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

#[cfg(test)]
#[path = "settings_cluster_tests.rs"]
mod cluster_tests;

#[cfg(test)]
#[path = "settings_accounts_tests.rs"]
mod accounts_tests;

#[cfg(test)]
#[path = "settings_js_accounts_tests.rs"]
mod js_accounts_tests;

#[cfg(test)]
#[path = "settings_tls_tests.rs"]
mod tls_tests;
