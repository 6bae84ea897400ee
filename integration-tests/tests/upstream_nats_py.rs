//! The upstream nats.py client's own cluster discovery and no_auth_user tests (nats.py v2.9.0,
//! `tests/test_client.py::ClusterDiscoveryTest`, `::ClusterDiscoveryReconnectTest` and
//! `::NoAuthUserClientTest`), unchanged, against Sluice: upstream's launcher starts three servers
//! with `--cluster_listen`, `--routes` and `--cluster_name` (and `--user`/`--pass`, `-m`), and the
//! client must learn the other two from `connect_urls`, on its first connect and after, and
//! reconnect to one when its server dies; one server with upstream's
//! `tests/conf/no_auth_user.conf` (two accounts, permissions, `no_auth_user`); and
//! `tests/test_js.py::AccountLimitsTest` with `tests/conf/js-limits.conf` (a JetStream domain,
//! account JetStream limits, a user without a password).
//!
//! `scripts/upstream_nats_py.sh` does the work (fetches the pinned upstream files, puts a
//! `nats-server` wrapper that execs sluice first on PATH, runs pytest on the selected classes);
//! this test runs it with the sluice binary. `scripts/upstream_nats_py.sh /usr/sbin/nats-server`
//! runs the same tests against the reference server.
//!
//! Needs `python3` with `nats-py` (the script installs pytest). Without nats-py the test prints a
//! note and passes, unless `SLUICE_REQUIRE_NATS_PY` is set. If the upstream sources cannot be had
//! (no network, nothing cached, no `$NATS_PY_GIT`) the script exits 77 and the test prints a
//! note and passes, unless `SLUICE_REQUIRE_UPSTREAM_NATS_PY` is set.
//!
//! The upstream tests use fixed ports (clients 4222-4225 and 4555, routes 6223-6225, monitoring
//! 8222-8225); the other tests in this suite use ephemeral ports, so they do not collide.

use integration_tests::py::{run_bounded, skip_without_nats_py};
use integration_tests::sluice_bin;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// The longest the script may run before it is killed (it takes about 10-20 s).
const SCRIPT_LIMIT: Duration = Duration::from_secs(150);

/// What the script exits with when it could not run (sources or Python pieces missing).
const EXIT_CANNOT_RUN: i32 = 77;

/// The script, relative to this crate.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/upstream_nats_py.sh")
}

/// Runs the script with `server`, killing it after [`SCRIPT_LIMIT`]. Its exit status (`None` if
/// it had to be killed) and everything it printed (stdout, then stderr).
fn run_script(server: &str) -> (Option<ExitStatus>, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg(server)
        // The script has its own time bound; leave it room to report before ours.
        .env("UPSTREAM_NATS_PY_TIMEOUT", "120");
    run_bounded(cmd, SCRIPT_LIMIT)
}

/// nats.py v2.9.0's ClusterDiscoveryTest and ClusterDiscoveryReconnectTest pass against Sluice.
#[test]
fn upstream_nats_py_cluster_discovery() {
    if skip_without_nats_py("the upstream nats.py tests") {
        return;
    }
    let bin = sluice_bin();
    let (status, output) = run_script(&bin.to_string_lossy());
    let Some(status) = status else {
        panic!(
            "scripts/upstream_nats_py.sh did not finish within {SCRIPT_LIMIT:?} (killed); \
             it printed:\n{output}"
        );
    };
    if status.code() == Some(EXIT_CANNOT_RUN) {
        if std::env::var_os("SLUICE_REQUIRE_UPSTREAM_NATS_PY").is_some() {
            panic!(
                "SLUICE_REQUIRE_UPSTREAM_NATS_PY is set but the upstream nats.py tests could \
                 not run:\n{output}"
            );
        }
        eprintln!("note: skipping the upstream nats.py cluster discovery tests:\n{output}");
        return;
    }
    assert!(
        status.success(),
        "upstream nats.py cluster discovery tests failed against sluice ({status}):\n{output}"
    );
    // Shown with --nocapture: pytest's per-test lines.
    println!("{output}");
}
