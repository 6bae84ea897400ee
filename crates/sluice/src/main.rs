//! The `sluice` binary: a NATS-protocol broker that starts like nats-server.
//!
//! Owns: reading nats-server's command-line flags (in its spellings) and configuration
//! file (`-c`, the [`conf`] module) into a [`sluice_server::ServerConfig`] (the
//! [`settings`] module layers them), refusing flags and keys for features this build lacks
//! before binding, setting up logging, printing the startup lines test harnesses read
//! (`Listening for client connections on HOST:PORT`, `Server is ready`), turning
//! SIGINT/SIGTERM into a graceful shutdown, SIGHUP into a configuration reload and SIGUSR2
//! into lame-duck mode, and the
//! exit code: 0 ok, 1 runtime error (including a bad configuration file), 2 usage error.
//!
//! `sluice bench` (the [`bench`] module) is the load generator for side-by-side benchmarks.
//! `sluice pub|sub|req|reply|stream|consumer|kv` (the [`cli`] module) are the client
//! subcommands for people at a terminal: publish, subscribe, request/reply, and manage
//! JetStream streams, consumers and key-value buckets, against any NATS server.
//!
//! Must never: hold protocol, routing, connection, auth or stream logic. All of that lives
//! in the library crates (sluice-protocol, sluice-server, sluice-stream); this crate only
//! wires them together.

mod args;
mod bench;
mod cli;
mod js_cluster;
mod logging;
mod settings;
mod signals;

use args::Cli;
use settings::Settings;
use signals::Signals;
// The configuration file reader is in the library half of this crate (src/lib.rs), so that
// the config_file fuzz target can reach it.
use sluice::conf;
use sluice_server::{
    CancellationToken, JetStreamLimits, Monitor, Server, ServerHandle, NATS_COMPAT_VERSION,
    SLUICE_VERSION,
};
use sluice_stream::limits::{ServerLimits, ServerReservations};
use sluice_stream::{JetStreamAccounts, JetStreamConfig, SyncPolicy};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

fn main() -> ExitCode {
    // `sluice bench ...` is the load generator, with a parser of its own: the server's
    // Go-style flag normalizer never sees its arguments.
    if std::env::args_os().nth(1).is_some_and(|a| a == "bench") {
        return bench::main(std::env::args_os().skip(1));
    }
    // So are the client subcommands (`sluice pub ...`, `sluice stream ls`, ...).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| cli::COMMANDS.iter().any(|c| a == *c))
    {
        return cli::main(std::env::args_os());
    }
    let cli = Cli::parse_from_os(std::env::args_os());
    if cli.version {
        // Not println!: that panics if stdout is closed (`sluice -v | true`).
        let _ = writeln!(std::io::stdout(), "{}", Cli::version_line());
        return ExitCode::SUCCESS;
    }
    if let Some(unavailable) = cli.unavailable() {
        eprintln!("sluice: error: {unavailable}");
        return ExitCode::FAILURE;
    }
    // The configuration file (if any) with the flags given layered over it; any error in
    // it stops the server before it binds.
    let settings = match settings::load(&cli) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("sluice: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log = settings.log.clone();
    if let Err(e) = logging::init(&log) {
        eprintln!("sluice: error: {e}");
        return ExitCode::FAILURE;
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
        .and_then(|runtime| {
            let result = runtime.block_on(serve(settings, cli));
            // Don't let a stuck task hold the exit up: `run` has already had its grace period.
            runtime.shutdown_timeout(Duration::from_secs(1));
            result
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            if log.file.is_some() {
                // The log line went to the file; say it where the operator is looking too.
                eprintln!("sluice: error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Binds, announces, and serves until a signal asks for shutdown.
async fn serve(settings: Settings, cli: Cli) -> Result<(), String> {
    let signals = Signals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    info!("Starting sluice");
    info!("  Version:  {SLUICE_VERSION} (nats-server compatible {NATS_COMPAT_VERSION})");
    if let Some(path) = settings::config_path(&cli) {
        info!("Using configuration file: {}", path.display());
    }
    let config = settings.server.clone();
    let name = config.server_name.clone();
    let wanted = host_port(&config.host, config.port);
    if let Some(tls) = &config.tls {
        // Unreadable or mismatched certificate files stop the server before it binds.
        tls.check()?;
    }
    let server = Server::bind(config)
        .await
        .map_err(|e| format!("Error listening on port: {wanted}, \"{e}\""))?;
    info!(
        "  Name:     {}",
        name.as_deref().unwrap_or(server.server_id())
    );
    info!("  ID:       {}", server.server_id());
    // As nats-server, monitoring comes up before JetStream: /healthz answers 503 until
    // JetStream has started.
    let monitor_stop = CancellationToken::new();
    if let Some(m) = &settings.monitor {
        let monitor = Monitor::bind(&server.handle(), &m.host, m.port)
            .await
            .map_err(|e| {
                format!(
                    "Error listening on monitoring port: {}, \"{e}\"",
                    host_port(&m.host, m.port)
                )
            })?;
        info!("Starting http monitor on {}", monitor.local_addr());
        let stop = monitor_stop.clone();
        tokio::spawn(async move {
            if let Err(e) = monitor.run(stop).await {
                error!("http monitor stopped: {e}");
            }
        });
    }
    let js = match &settings.jetstream {
        Some(jetstream) => {
            info!("Starting JetStream");
            info!("  Store Directory: \"{}\"", jetstream.store_dir.display());
            info!(
                "  Sync:            {}",
                match jetstream.sync {
                    SyncPolicy::Always => "always (acks after fdatasync)".to_owned(),
                    SyncPolicy::Every(d) =>
                        format!("every {d:?} (acks after the write reaches the OS)"),
                }
            );
            for (what, limit) in [
                ("Max Memory:     ", jetstream.max_memory_store),
                ("Max Storage:    ", jetstream.max_file_store),
            ] {
                if let Some(bytes) = limit {
                    info!("  {what} {bytes} bytes");
                }
            }
            let reservations = Arc::new(ServerReservations::new(ServerLimits {
                max_memory: jetstream.max_memory_store.unwrap_or(-1),
                max_store: jetstream.max_file_store.unwrap_or(-1),
            }));
            let config = JetStreamConfig {
                store_dir: jetstream.store_dir.clone(),
                sync: jetstream.sync,
                server_name: name
                    .clone()
                    .unwrap_or_else(|| server.server_id().to_owned()),
                queue_bytes: jetstream.queue_bytes,
                limits: Default::default(),
                reservations,
                domain: jetstream.domain.clone(),
            };
            let js = JetStreamAccounts::start(&server.handle(), &config, &jetstream.accounts)
                .map_err(|e| format!("cannot start JetStream: {e}"))?;
            let names: Vec<&str> = js.names().collect();
            info!("  Accounts:        {}", names.join(", "));
            info!("  Streams:         {}", js.stream_count());
            let limits = JetStreamLimits {
                max_memory: jetstream.max_memory_store.unwrap_or(-1),
                max_storage: jetstream.max_file_store.unwrap_or(-1),
                store_dir: jetstream.store_dir.display().to_string(),
            };
            server
                .handle()
                .set_jetstream_monitor(Some((limits, js.monitor())));
            let wal = match &settings.server.cluster {
                Some(cluster) => {
                    info!(
                        "  Cluster:         {} (meta group over the routes)",
                        cluster.name.as_deref().unwrap_or("")
                    );
                    let global = js.global().ok_or(
                        "clustered JetStream runs in the global account, which has no JetStream",
                    )?;
                    Some(js_cluster::start(global, cluster, jetstream).await?)
                }
                None => None,
            };
            Some((js, wal))
        }
        None => None,
    };
    info!(
        "Listening for client connections on {}",
        server.local_addr()
    );
    info!("Server is ready");

    let shutdown = CancellationToken::new();
    let mut reloader = Reloader {
        cli,
        running: settings,
        server: server.handle(),
    };
    let lame_duck = server.handle();
    tokio::spawn(signals.watch(
        shutdown.clone(),
        move || reloader.reload(),
        move || lame_duck.enter_lame_duck(),
    ));
    server
        .run(shutdown)
        .await
        .map_err(|e| format!("server stopped with an error: {e}"))?;
    monitor_stop.cancel();
    if let Some((js, wal)) = js {
        if let Some(global) = js.global() {
            global.stop_cluster().await;
        }
        if let Some(wal) = wal {
            if let Err(e) = wal.shutdown().await {
                error!("closing the cluster log: {e}");
            }
        }
        js.shutdown();
    }
    info!("Server Exiting..");
    Ok(())
}

/// `kill -HUP`: re-reads the configuration file and applies what can change while running.
struct Reloader {
    cli: Cli,
    /// What the server runs with now.
    running: Settings,
    /// For handing it new authorization and limits.
    server: ServerHandle,
}

impl Reloader {
    fn reload(&mut self) {
        let Some(path) = settings::config_path(&self.cli) else {
            warn!(
                "Reload: sluice was started without a configuration file (-c); nothing to reload"
            );
            return;
        };
        let new = match settings::load(&self.cli) {
            Ok(new) => new,
            Err(e) => {
                error!("Failed to reload server configuration: {e}");
                error!("Keeping the configuration in use");
                return;
            }
        };
        let changes = settings::diff(&self.running, &new);
        if !changes.fixed.is_empty() {
            error!(
                "Failed to reload server configuration: {}: config reload not supported for {} \
                 (restart sluice to change it); keeping the configuration in use",
                path.display(),
                changes.fixed.join(", ")
            );
            return;
        }
        // Of the cluster, the routes reload (as nats-server's); the rest is refused by name.
        let unserved: Vec<&str> = changes
            .cluster
            .iter()
            .copied()
            .filter(|k| *k != "cluster routes")
            .collect();
        if !unserved.is_empty() {
            error!(
                "Failed to reload server configuration: {}: {}: {}; keeping the configuration \
                 in use",
                path.display(),
                unserved.join(", "),
                settings::CLUSTER_RELOAD_UNAVAILABLE
            );
            return;
        }
        if changes.is_empty() {
            info!("Reloaded: {} (no changes)", path.display());
            return;
        }
        let mut applied = Vec::new();
        if !changes.logging.is_empty() {
            if logging::set_levels(new.log.debug, new.log.trace) {
                applied.extend(changes.logging.iter().copied());
            } else {
                warn!(
                    "Reload: RUST_LOG is set and decides the log levels; debug/trace not changed"
                );
            }
            self.running.log = new.log.clone();
        }
        let mut limits_changed = false;
        for key in changes.server {
            if key == "authorization" {
                // New CONNECTs use it at once; open connections re-check their credentials
                // and permissions against it (and stay connected if they still pass).
                self.server.reload_auth(new.server.auth.clone());
                self.running.server.auth = new.server.auth.clone();
                applied.push(key);
            } else if matches!(key, "lame_duck_duration" | "lame_duck_grace_period") {
                // Read when lame-duck mode starts, from the configuration the server was
                // started with.
                warn!(
                    "Reload: {key} changed in {}, but it takes effect when sluice restarts",
                    path.display()
                );
            } else {
                limits_changed = true;
                applied.push(key);
            }
        }
        if limits_changed {
            // No connection is dropped: new connections get the new limits (INFO advertises
            // the new max_payload), open ones from their next read, push, write or ping.
            for change in self.server.reload_limits(&new.server) {
                info!("Reload: {change}");
            }
            let s = &mut self.running.server;
            let n = &new.server;
            s.max_payload = n.max_payload;
            s.max_control_line = n.max_control_line;
            s.max_pending = n.max_pending;
            s.max_connections = n.max_connections;
            s.ping_interval = n.ping_interval;
            s.max_pings_out = n.max_pings_out;
            s.auth_timeout = n.auth_timeout;
            s.write_deadline = n.write_deadline;
        }
        if !changes.cluster.is_empty() {
            let routes = new
                .server
                .cluster
                .as_ref()
                .map_or(&[][..], |c| &c.routes[..]);
            for change in self.server.reload_routes(routes) {
                info!("Reload: {change}");
            }
            self.running.server.cluster = new.server.cluster.clone();
            applied.push("cluster routes");
        }
        if applied.is_empty() {
            info!("Reloaded: {} (nothing applied)", path.display());
        } else {
            info!("Reloaded: {}", applied.join(", "));
        }
    }
}

/// `host:port`, with an IPv6 host in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_port_brackets_ipv6() {
        assert_eq!(host_port("0.0.0.0", 4222), "0.0.0.0:4222");
        assert_eq!(host_port("::", 4222), "[::]:4222");
        assert_eq!(host_port("localhost", 1), "localhost:1");
    }
}
