//! Black-box tests of `sluice bench`: every workload against the real binary as a server.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_sluice");
const LISTENING: &str = "Listening for client connections on ";

/// A sluice server on a random port, killed on drop.
struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Server {
    fn start(name: &str, extra: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("sluice-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(BIN)
            .args(["-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(&dir)
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sluice");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once(LISTENING) {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("sluice did not log its listening address");
        Server { child, addr, dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

#[test]
fn every_workload_runs_and_reports_json() {
    let server = Server::start("all", &["-js"]);
    let url = format!("nats://{}", server.addr);
    let cases: &[(&str, &[&str], usize, usize)] = &[
        ("pub", &["--msgs", "20000"], 20000, 16),
        (
            "pubsub",
            &["--msgs", "20000", "--size", "1024"],
            20000,
            1024,
        ),
        ("fanout", &["--msgs", "5000", "--subs", "3"], 5000, 16),
        ("queue", &["--msgs", "20000"], 20000, 16),
        ("reqrep", &["--msgs", "300", "--size", "4"], 300, 4),
        ("js-pub", &["--msgs", "100"], 100, 128),
        ("js-pub", &["--msgs", "2000", "--window", "256"], 2000, 128),
        ("js-consume", &["--msgs", "1000", "--size", "64"], 1000, 64),
    ];
    for &(workload, extra, msgs, size) in cases {
        let mut args = vec![workload, "--server", &url, "--json"];
        args.extend_from_slice(extra);
        let out = bench(&args);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {:?}\nstdout: {stdout}\nstderr: {}",
            out.status,
            text(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one JSON line: {stdout}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["workload"], workload, "{v}");
        assert_eq!(v["msgs"], msgs, "{v}");
        assert_eq!(v["size"], size, "{v}");
        let secs = v["secs"].as_f64().unwrap();
        let rate = v["msgs_per_sec"].as_f64().unwrap();
        assert!(secs > 0.0 && rate > 0.0, "{v}");
        assert!(
            (rate * secs - msgs as f64).abs() / (msgs as f64) < 0.01,
            "rate and time disagree: {v}"
        );
        assert!(v["mb_per_sec"].as_f64().unwrap() > 0.0, "{v}");
        if workload == "reqrep" {
            let p: Vec<f64> = ["p50_us", "p90_us", "p99_us", "max_us"]
                .iter()
                .map(|k| v[k].as_f64().unwrap_or_else(|| panic!("no {k}: {v}")))
                .collect();
            assert!(p[0] > 0.0 && p.windows(2).all(|w| w[0] <= w[1]), "{v}");
        } else {
            assert!(v.get("p50_us").is_none(), "{v}");
        }
    }
}

#[test]
fn table_output_and_failures() {
    let server = Server::start("core", &[]);
    let out = bench(&["pubsub", "-s", &server.addr, "-n", "1000"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().next().unwrap().starts_with("workload"),
        "{stdout}"
    );
    assert!(stdout.contains("pubsub"), "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "no progress line when not a terminal"
    );

    // JetStream workloads against a server without -js fail clearly.
    let out = bench(&["js-pub", "-s", &server.addr, "-n", "10"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("FAILED") && stderr.contains("-js"),
        "{stderr}"
    );

    // Nothing listening: exit 1 with the reason.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bench(&["pub", "-s", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot connect"));

    // Usage errors exit 2; --help exits 0.
    for args in [&["pub", "--window", "3"][..], &["nope"], &["pub", "-js"]] {
        assert_eq!(bench(args).status.code(), Some(2), "{args:?}");
    }
    let help = bench(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("js-consume"));
}
