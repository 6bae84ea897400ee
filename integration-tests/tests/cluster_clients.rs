//! Real clients in a cluster: async-nats and nats-py connect to node 0 only, learn the other
//! nodes from INFO (`connect_urls`), and when node 0 is killed with -9 they reconnect to a
//! survivor, where their subscription is restored and gets messages published on the other
//! survivor.
//!
//! With nats-server 2.9.10, INFO's `connect_urls` lists every node's client address (its own
//! included); async-nats (50 ms reconnect delay) was back on a survivor about 100 ms after the
//! kill, nats-py (`reconnect_time_wait` 50 ms) within a few ms; the resubscription reaches the
//! other survivor asynchronously, so the first publish there is retried until it arrives.
//!
//! Same wrappers as cluster_core.rs: `nats_server_3`, `sluice_3` and `mixed`
//! (`[Sluice, Sluice, NatsServer]`). The nats-py half needs
//! `python3` with `nats-py`; without it the test prints a note and passes, unless
//! `SLUICE_REQUIRE_NATS_PY` is set.

use async_nats::connection::State;
use futures::StreamExt;
use integration_tests::client::{self, within};
use integration_tests::cluster::{publish_until_received, Cluster, ClusterOpts};
use integration_tests::Kind;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(60);
/// How long a cluster may take to form.
const FORM: Duration = Duration::from_secs(15);
/// How long a client may take to reconnect, and interest to cross routes.
const STEP: Duration = Duration::from_secs(10);

integration_tests::cluster_cases!(
    limit: super::TEST_LIMIT;
async_nats_fails_over, nats_py_fails_over);

/// `127.0.0.1:<client port>` of each node, as INFO's `connect_urls` lists them.
fn client_hostports(cluster: &Cluster) -> Vec<String> {
    (0..cluster.len())
        .map(|i| cluster.addr(i).to_string())
        .collect()
}

/// async-nats, given node 0 only: learns all three nodes, and after kill -9 of node 0 its
/// subscription lives on on a survivor.
async fn async_nats_fails_over(kinds: &[Kind]) {
    let mut cluster = Cluster::start(kinds, ClusterOpts::default());
    cluster.wait_formed(FORM);
    let all = client_hostports(&cluster);
    let sub_client = client::connect_fast_reconnect(&cluster.url(0)).await;
    let mut urls = sub_client.server_info().connect_urls;
    urls.sort();
    let mut want = all.clone();
    want.sort();
    assert_eq!(urls, want, "INFO connect_urls from n0");

    let mut sub = sub_client.subscribe("failover.rs").await.unwrap();
    let c1 = client::connect(&cluster.url(1)).await;
    let c2 = client::connect(&cluster.url(2)).await;
    publish_until_received(&c1, "failover.rs", &mut [&mut sub], STEP).await;
    publish_until_received(&c2, "failover.rs", &mut [&mut sub], STEP).await;

    cluster.kill9(0);
    let t = Instant::now();
    let now_on = loop {
        assert!(
            t.elapsed() < STEP,
            "async-nats did not reconnect to a survivor within {STEP:?}"
        );
        if sub_client.connection_state() == State::Connected {
            let port = sub_client.server_info().port;
            if let Some(i) = (1..3).find(|&i| cluster.node(i).ports.client == port) {
                break i;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("async-nats reconnected to n{now_on} in {:?}", t.elapsed());
    let other = if now_on == 1 { &c2 } else { &c1 };
    // The resubscription reaches the other survivor asynchronously.
    let tries = publish_until_received(other, "failover.rs", &mut [&mut sub], STEP).await;
    eprintln!("interest from the resubscription crossed after {tries} publishes");
    for k in 0..10 {
        other
            .publish("failover.rs", format!("m{k}").into())
            .await
            .unwrap();
    }
    other.flush().await.unwrap();
    for k in 0..10 {
        let m = within("message after failover", sub.next()).await.unwrap();
        assert_eq!(m.payload, format!("m{k}").as_bytes());
    }
}

/// The script, relative to this crate.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/cluster_failover.py")
}

/// nats-py, given node 0 only (py/cluster_failover.py): the same failover, driven over the
/// script's stdin/stdout.
async fn nats_py_fails_over(kinds: &[Kind]) {
    if integration_tests::py::skip_without_nats_py("the nats-py cluster test") {
        return;
    }
    let mut cluster = Cluster::start(kinds, ClusterOpts::default());
    cluster.wait_formed(FORM);
    let mut child = Command::new("python3")
        .arg(script())
        .args((0..3).map(|i| cluster.url(i)))
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        s
    });
    // Everything the script printed, for a failure message.
    let mut out = Vec::new();
    // Reads the script's lines into `out` until one starts with `want` (20 s at most).
    let wait_line = |out: &mut Vec<String>, want: &str| -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.starts_with(want);
                    out.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    };
    let ready = tokio::task::block_in_place(|| wait_line(&mut out, "READY"));
    if ready {
        cluster.kill9(0);
        let _ = stdin.write_all(b"KILLED\n");
        let _ = stdin.flush();
    }
    let ok = ready && tokio::task::block_in_place(|| wait_line(&mut out, "OK"));
    let _ = child.kill();
    let status = child.wait().ok();
    let err = err_reader.join().unwrap_or_default();
    for line in &out {
        eprintln!("py: {line}");
    }
    assert!(
        ok,
        "nats-py failover script failed (status {status:?}); stdout:\n{}\nstderr:\n{err}",
        out.join("\n")
    );
}
