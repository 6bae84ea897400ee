//! Test harness for the black-box suite in `tests/`: start a real broker process (the `sluice`
//! binary, or nats-server as the reference oracle) on an ephemeral port, talk to it, and kill
//! it by PID when done. Nothing here is used by the broker itself.

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

/// A running broker process. Killed by PID on drop.
pub struct Broker {
    child: Child,
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Log lines the broker printed after its listening line (collected in the background).
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
        let program = match kind {
            Kind::Sluice => sluice_bin(),
            Kind::NatsServer => PathBuf::from("nats-server"),
        };
        let mut child = Command::new(&program)
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
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
        let addr = wait_for_listen(&rx).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("{} did not report a listening address", program.display())
        });
        Broker {
            child,
            addr,
            log: rx,
        }
    }

    /// The broker's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines printed so far (after startup).
    pub fn log_lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the exit status (up to `wait`).
    pub fn terminate(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

/// Reads log lines until "Listening for client connections on HOST:PORT" (10 s at most).
fn wait_for_listen(rx: &mpsc::Receiver<String>) -> Option<SocketAddr> {
    const MARK: &str = "Listening for client connections on ";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if let Some(pos) = line.find(MARK) {
            let hostport = line[pos + MARK.len()..].trim();
            let port: u16 = hostport.rsplit(':').next()?.parse().ok()?;
            return Some(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
}
