//! Idle streams cost no CPU (issue 16: 10,000 streams took 59% of a core while idle, every
//! stream's writer thread waking 4 times a second to look for work it could not have).
//!
//! Under `--sync always` everything a stream's writer does reaches it through its channel or is
//! due at a time it knows (max_age, TTLs, consumer deadlines), so an idle writer sleeps until
//! then. Measured by the context switches of the writer threads (`stream-<name>` in
//! /proc/PID/task/*/comm): each wake-up is one. Sluice only (nats-server has no such threads).

use integration_tests::client::{api, bounded, connect};
use integration_tests::js::StoreDir;
use integration_tests::{Broker, Kind};
use std::time::Duration;

const STREAMS: usize = 100;
const IDLE: Duration = Duration::from_secs(2);

/// Voluntary plus involuntary context switches of the process's `stream-*` threads so far.
fn writer_switches(pid: u32) -> u64 {
    let mut total = 0;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("stream-") {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

#[tokio::test]
async fn idle_streams_do_not_wake_up() {
    bounded(Duration::from_secs(120), async {
        let dir = StoreDir::new("idle");
        let broker = Broker::start(Kind::Sluice, &["-js", "-sd", dir.as_str()]);
        let client = connect(&broker.url()).await;
        for i in 0..STREAMS {
            let body = format!(r#"{{"name":"I{i}","subjects":["idle.{i}"]}}"#);
            let r = api(&client, &format!("$JS.API.STREAM.CREATE.I{i}"), &body).await;
            assert!(r.get("error").is_none(), "{r}");
        }
        // One message each, so every store has something (and a max_age-free stream).
        for i in 0..STREAMS {
            let ack = api(&client, &format!("idle.{i}"), "x").await;
            assert!(ack.get("error").is_none(), "{ack}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = writer_switches(broker.pid());
        tokio::time::sleep(IDLE).await;
        let woke = writer_switches(broker.pid()) - before;
        // Waking every 250 ms, 100 writers switch about 800 times in 2 s.
        assert!(
            woke < 50,
            "{STREAMS} idle stream writers were switched in {woke} times in {IDLE:?}"
        );
    })
    .await;
}
