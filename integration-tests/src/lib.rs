//! Test harness for the black-box suite in `tests/`: start a real broker process (the `sluice`
//! binary, or nats-server as the reference oracle) on an ephemeral port, talk to it, and kill
//! it by PID when done. Nothing here is used by the broker itself.

pub mod chaos;
pub mod client;
pub mod cluster;
pub mod js;
pub mod proxy;
pub mod py;
pub mod raw;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Which server a [`Broker`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// This repository's `sluice` binary.
    Sluice,
    /// The reference nats-server (from apt), for differential tests.
    NatsServer,
}

/// The path of the `sluice` binary: `$SLUICE_BIN`, or target/<profile>/sluice, built on demand.
pub fn sluice_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_BIN") {
        return PathBuf::from(p);
    }
    static BUILD: std::sync::Once = std::sync::Once::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "sluice"])
            .current_dir(&root)
            .status()
            .expect("run cargo build -p sluice");
        assert!(status.success(), "cargo build -p sluice failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug").join("sluice")
}

/// True if nats-server is on PATH (the test command installs it).
pub fn nats_server_available() -> bool {
    Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The program a broker of `kind` runs: [`sluice_bin`], or nats-server from PATH.
fn program(kind: Kind) -> PathBuf {
    match kind {
        Kind::Sluice => sluice_bin(),
        Kind::NatsServer => PathBuf::from("nats-server"),
    }
}

/// The command that starts a broker of `kind` with `args` (after `-a 127.0.0.1 -p -1`, so a
/// later `-p PORT` in `args` wins): stdin and stdout null, stderr piped. For tests that run the
/// process themselves (one expected to exit, say); [`Broker::start`] spawns it and waits for it
/// to listen.
pub fn command(kind: Kind, args: &[&str]) -> Command {
    let mut cmd = Command::new(program(kind));
    cmd.args(["-a", "127.0.0.1", "-p", "-1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// A running broker process. Killed by PID on drop.
pub struct Broker {
    child: Child,
    /// Which server this is.
    pub kind: Kind,
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Log lines the broker printed after its listening line (collected in the background).
    /// Lines logged up to and including the listening line.
    startup: Vec<String>,
    log: mpsc::Receiver<String>,
}

impl Broker {
    /// Starts `sluice` with `args` (plus `-a 127.0.0.1 -p -1`).
    pub fn sluice(args: &[&str]) -> Broker {
        Broker::start(Kind::Sluice, args)
    }

    /// Starts nats-server with `args` (plus `-a 127.0.0.1 -p -1`).
    pub fn nats_server(args: &[&str]) -> Broker {
        Broker::start(Kind::NatsServer, args)
    }

    /// Starts a broker of `kind` on 127.0.0.1 and a random port; waits until it listens.
    pub fn start(kind: Kind, args: &[&str]) -> Broker {
        let program = program(kind);
        let mut child = command(kind, args)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut startup = Vec::new();
        let addr = wait_for_listen(&rx, &mut startup).unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "{} did not report a listening address; it logged:\n{}",
                program.display(),
                startup.join("\n")
            )
        });
        Broker {
            child,
            kind,
            addr,
            startup,
            log: rx,
        }
    }

    /// Kills the broker with SIGKILL (no chance to flush or shut down; `Drop` does it and reaps
    /// the process) and checks that it is gone.
    pub fn kill9(self) {
        let pid = self.pid();
        drop(self);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "broker {pid} still running after SIGKILL"
        );
    }

    /// The broker's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines printed after startup, since the last call.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// The lines logged up to and including the listening line.
    pub fn startup_lines(&self) -> &[String] {
        &self.startup
    }

    /// Sends SIGTERM and waits for the exit status (up to `wait`).
    pub fn terminate(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        self.signal("TERM", wait)
    }

    /// Sends the signal named `sig` (as `kill -SIG` spells it: "TERM", "INT") and waits up
    /// to `wait` for the process to exit; its exit status, or `None` if it is still running.
    pub fn signal(&mut self, sig: &str, wait: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status();
        self.wait_exit(wait)
    }

    /// Waits up to `wait` for the process to exit on its own.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `nats://` URL of this broker.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads log lines (keeping them in `seen`) until "Listening for client connections on
/// HOST:PORT" (10 s at most).
fn wait_for_listen(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>) -> Option<SocketAddr> {
    const MARK: &str = "Listening for client connections on ";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        seen.push(line);
        let line = seen.last()?;
        if let Some(pos) = line.find(MARK) {
            let hostport = line[pos + MARK.len()..].trim();
            let port: u16 = hostport.rsplit(':').next()?.parse().ok()?;
            return Some(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
}

/// True (after printing a note) if nats-server is missing, so an oracle test should pass
/// without running. The test command installs nats-server, so in CI this is false.
pub fn skip_without_nats_server() -> bool {
    static CHECK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let missing = *CHECK.get_or_init(|| !nats_server_available());
    if missing {
        eprintln!("note: nats-server is not installed; skipping the reference half of this test");
    }
    missing
}

/// Defines one test body run against both brokers, as `NAME::sluice` and `NAME::nats_server`.
/// The nats-server half proves that the expectation written in the body is the reference
/// server's behaviour; the sluice half is the real test. The body sees the broker kind as
/// the named variable.
///
/// ```ignore
/// both!(fn ping_pong(kind) { let b = Broker::start(kind, &[]); ... });
/// ```
#[macro_export]
macro_rules! both {
    ($(#[$meta:meta])* fn $name:ident($kind:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($kind: $crate::Kind) $body

            #[test]
            fn sluice() {
                run($crate::Kind::Sluice)
            }

            #[test]
            fn nats_server() {
                if $crate::skip_without_nats_server() {
                    return;
                }
                run($crate::Kind::NatsServer)
            }
        }
    };
}

/// What a broker sends before closing where nats-server closes without a word:
/// nothing for nats-server, `-ERR 'Unknown Protocol Operation'` for Sluice
/// (protocol-spec/differences.md #7: bad input gets a clear -ERR).
pub fn silent_close(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::NatsServer => b"",
        Kind::Sluice => b"-ERR 'Unknown Protocol Operation'\r\n",
    }
}

/// [`both!`] for async bodies: each half is a `#[tokio::test]` (the test crate needs tokio).
#[macro_export]
macro_rules! both_async {
    ($(#[$meta:meta])* async fn $name:ident($kind:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($kind: $crate::Kind) $body

            #[tokio::test]
            async fn sluice() {
                run($crate::Kind::Sluice).await
            }

            #[tokio::test]
            async fn nats_server() {
                if $crate::skip_without_nats_server() {
                    return;
                }
                run($crate::Kind::NatsServer).await
            }
        }
    };
}
