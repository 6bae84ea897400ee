//! Black-box tests of `sluice bench --sub-server`: the workloads across a 2-node cluster, of
//! sluice nodes and (when it is installed) of nats-server nodes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// One node, killed on drop; its log lines on a channel.
struct Node {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Node {
    /// Starts `bin` as a cluster node (routed to `route` if given), logging to stderr.
    fn start(bin: &str, route: Option<&str>) -> Node {
        let mut cmd = Command::new(bin);
        cmd.args(["-a", "127.0.0.1", "-p", "-1"]).args([
            "--cluster",
            "nats://127.0.0.1:-1",
            "--cluster_name",
            "t",
        ]);
        if let Some(r) = route {
            cmd.args(["--routes", &format!("nats://{r}")]);
        }
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Node {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first log line (seen before or arriving within 10 s) containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// `HOST:PORT` from "Listening for `what` connections on HOST:PORT".
    fn listening(&mut self, what: &str) -> String {
        let needle = format!("Listening for {what} connections on ");
        let line = self.wait_for(&needle);
        line.split_once(&needle).unwrap().1.trim().to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two nodes of `bin` routed together; their client addresses. Does not wait for the route:
/// the bench's probes wait for the interest, which cannot cross before the route is up.
fn pair(bin: &str) -> (Node, Node, String, String) {
    let mut a = Node::start(bin, None);
    let (a_addr, a_route) = (a.listening("client"), a.listening("route"));
    let mut b = Node::start(bin, Some(&a_route));
    let b_addr = b.listening("client");
    (a, b, a_addr, b_addr)
}

fn bench(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sluice bench")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every cross-server workload against the pair at `a` (publisher) and `b` (receivers).
fn every_workload_across(a: &str, b: &str, who: &str) {
    let cases: &[(&str, &[&str], usize)] = &[
        ("pubsub", &["--msgs", "20000"], 20000),
        (
            "pubsub",
            &["--msgs", "5000", "--size", "1024", "--in-flight", "64"],
            5000,
        ),
        ("fanout", &["--msgs", "5000", "--subs", "3"], 5000),
        ("queue", &["--msgs", "20000", "--subs", "3"], 20000),
        (
            "queue",
            &["--msgs", "2000", "--subs", "1", "--in-flight", "1"],
            2000,
        ),
        ("reqrep", &["--msgs", "300"], 300),
    ];
    for &(workload, extra, msgs) in cases {
        let mut args = vec![workload, "--server", a, "--sub-server", b, "--json"];
        args.extend_from_slice(extra);
        let out = bench(&args);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{who} {args:?}: {:?}\nstdout: {stdout}\nstderr: {}",
            out.status,
            text(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(v["workload"], workload, "{who}: {v}");
        assert_eq!(v["msgs"], msgs, "{who}: the probes are not counted: {v}");
        assert!(v["probes"].as_u64().unwrap() >= 1, "{who}: {v}");
        if workload == "reqrep" {
            assert!(v.get("in_flight").is_none(), "{who}: {v}");
        } else {
            assert!(v["in_flight"].as_u64().unwrap() >= 1, "{who}: {v}");
        }
        if workload == "queue" {
            // Members 0 and 2 (of 3), or the only one, are on B.
            let remote = v["remote_msgs"].as_u64().unwrap() as usize;
            if v["subs"] == 1 {
                assert_eq!(remote, msgs, "{who}: the only member is on B: {v}");
            } else {
                assert!(0 < remote && remote < msgs, "{who}: spread over both: {v}");
            }
        }
    }
}

#[test]
fn workloads_run_across_a_sluice_cluster() {
    let (_a, _b, a, b) = pair(BIN);
    every_workload_across(&a, &b, "sluice");
    // The table form shows the probes.
    let out = bench(&["pubsub", "-s", &a, "--sub-server", &b, "-n", "100"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("probes"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn workloads_run_across_a_nats_server_cluster() {
    let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(nats) = found else {
        eprintln!("nats-server is not installed: skipped (scripts/test.sh installs it)");
        return;
    };
    let (_a, _b, a, b) = pair(nats.to_str().unwrap());
    every_workload_across(&a, &b, "nats-server");
}

#[test]
fn a_receiver_server_that_is_not_there_fails_clearly() {
    let (_a, _b, a, _) = pair(BIN);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("127.0.0.1:{port}");
    let out = bench(&["pubsub", "-s", &a, "--sub-server", &nowhere, "-n", "10"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot connect") && stderr.contains("receivers on"),
        "{stderr}"
    );
    // Usage: --sub-server is for the workloads with receivers.
    assert_eq!(
        bench(&["pub", "-s", &a, "--sub-server", &a]).status.code(),
        Some(2)
    );
}
