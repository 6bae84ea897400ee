//! Running Python clients (nats-py) from tests: whether they can run at all, and a child
//! process run to its end within a time bound with everything it printed.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// True if `python3 -c "import nats"` succeeds.
pub fn nats_py_available() -> bool {
    Command::new("python3")
        .args(["-c", "import nats"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True (after printing a note naming `what` is skipped) if nats-py is missing and not
/// required, so the test should pass without running. Panics if it is missing but
/// `SLUICE_REQUIRE_NATS_PY` is set (scripts/test.sh installs nats-py and sets it).
pub fn skip_without_nats_py(what: &str) -> bool {
    if nats_py_available() {
        return false;
    }
    if std::env::var_os("SLUICE_REQUIRE_NATS_PY").is_some() {
        panic!(
            "SLUICE_REQUIRE_NATS_PY is set but `python3 -c \"import nats\"` fails: \
             install it with `pip install nats-py==2.9.0`"
        );
    }
    eprintln!("note: python3 with nats-py is not available; skipping {what}");
    true
}

/// Runs `cmd` (its stdout and stderr captured), killing it after `limit`. Its exit status
/// (`None` if it had to be killed) and everything it printed (stdout, then stderr).
pub fn run_bounded(mut cmd: Command, limit: Duration) -> (Option<ExitStatus>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    // Drain both pipes in the background so a chatty child cannot block on a full pipe.
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
    let deadline = Instant::now() + limit;
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
