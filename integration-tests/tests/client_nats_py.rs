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
use integration_tests::py::{run_bounded, skip_without_nats_py};
use integration_tests::{both, Broker, Kind};
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// The longest the script may run before it is killed.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// The script, relative to this crate.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/js_nats_py.py")
}

/// Runs the script against `url`, killing it after [`SCRIPT_LIMIT`]. Its exit status (`None`
/// if it had to be killed) and everything it printed (stdout, then stderr).
fn run_script(url: &str) -> (Option<ExitStatus>, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(script()).arg(url).env("PYTHONUNBUFFERED", "1");
    run_bounded(cmd, SCRIPT_LIMIT)
}

/// Starts a JetStream broker of `kind`, runs the script against it and asserts it passed.
fn run_against(kind: Kind) {
    if skip_without_nats_py("the nats-py client test") {
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
