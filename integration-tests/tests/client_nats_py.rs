//! A second real client, nats-py (Python), against the broker: its JetStream API, unchanged.
//!
//! The checks live in `py/js_nats_py.py` (streams, publish with dedup, pull consumers with fetch,
//! ack/nak/ack_sync/term, push and queue-group push consumers, infos and deletes, key-value
//! buckets: put, get, create, update, keys, history, delete, purge, watchall); this test
//! starts each broker with JetStream and runs that script against it. The nats-server half
//! proves the script's expectations are the reference behaviour.
//!
//! Needs `python3` with `nats-py`. Without it the test prints a note and passes, unless
//! `SLUICE_REQUIRE_NATS_PY` is set (scripts/test.sh installs nats-py and sets it, so CI runs it).

use integration_tests::js::{start_js, StoreDir};
use integration_tests::{both, Broker, Kind};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The longest the script may run before it is killed.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// The script, relative to this crate.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/js_nats_py.py")
}

/// True if `python3 -c "import nats"` succeeds.
fn nats_py_available() -> bool {
    Command::new("python3")
        .args(["-c", "import nats"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True (after printing a note) if nats-py is missing and not required, so the test should pass
/// without running. Panics if it is missing but `SLUICE_REQUIRE_NATS_PY` is set.
fn skip_without_nats_py() -> bool {
    if nats_py_available() {
        return false;
    }
    if std::env::var_os("SLUICE_REQUIRE_NATS_PY").is_some() {
        panic!(
            "SLUICE_REQUIRE_NATS_PY is set but `python3 -c \"import nats\"` fails: \
             install it with `pip install nats-py==2.9.0`"
        );
    }
    eprintln!("note: python3 with nats-py is not available; skipping the nats-py client test");
    true
}

/// Runs the script against `url`, killing it after [`SCRIPT_LIMIT`]. Its exit status (`None`
/// if it had to be killed) and everything it printed (stdout, then stderr).
fn run_script(url: &str) -> (Option<ExitStatus>, String) {
    let mut child = Command::new("python3")
        .arg(script())
        .arg(url)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start python3 {}: {e}", script().display()));
    // Drain both pipes in the background so a chatty script cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + SCRIPT_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    (status, format!("{stdout}{stderr}"))
}

/// Starts a JetStream broker of `kind`, runs the script against it and asserts it passed.
fn run_against(kind: Kind) {
    if skip_without_nats_py() {
        return;
    }
    let store = StoreDir::new("nats-py");
    let broker: Broker = start_js(kind, &store);
    let (status, output) = run_script(&broker.url());
    let Some(status) = status else {
        panic!(
            "{kind:?}: js_nats_py.py did not finish within {SCRIPT_LIMIT:?} (killed); \
             it printed:\n{output}"
        );
    };
    assert!(
        status.success(),
        "{kind:?}: js_nats_py.py failed ({status}); it printed:\n{output}\n\
         broker log:\n{}",
        broker.log_lines().join("\n")
    );
    // Shown with --nocapture: the per-check lines of a passing run.
    println!("{kind:?}: js_nats_py.py passed:\n{output}");
}

both!(
    /// Every check in `py/js_nats_py.py` passes against the broker.
    fn nats_py_jetstream(kind) {
        run_against(kind)
    }
);
