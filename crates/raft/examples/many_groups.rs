//! Many groups on three servers in one process, joined by real routes: how long creating
//! them takes, and what they cost idle (CPU per node, RSS). Run:
//! `cargo run --release -p sluice-raft --example many_groups -- [groups] [idle seconds]`.
//!
//! Each group is started on every node and initialised by one of them (round-robin), with
//! the in-memory test log (this measures Raft and transport, not disk).

use openraft::BasicNode;
use sluice_raft::testing::{ListMachine, MemLog};
use sluice_raft::{node_id, RaftNode, RouteTransport, Timing, Transport};
use sluice_server::{CancellationToken, ClusterConfig, Server, ServerConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let groups: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let idle: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let mut nodes = Vec::new();
    let mut stops = Vec::new();
    for i in 0..3 {
        let mut cluster = ClusterConfig::new("127.0.0.1", ports[i]);
        cluster.name = Some("many".into());
        cluster.routes = (0..3)
            .filter(|&j| j != i)
            .map(|j| {
                format!("nats-route://127.0.0.1:{}", ports[j])
                    .parse()
                    .unwrap()
            })
            .collect();
        let server = Server::bind(ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            server_name: Some(format!("n{i}")),
            cluster: Some(cluster),
            ..ServerConfig::default()
        })
        .await
        .unwrap();
        let transport = RouteTransport::new(server.handle());
        let t: Arc<dyn Transport> = Arc::new(transport.clone());
        let node = RaftNode::new(&format!("n{i}"), Timing::default(), t);
        transport.install(&node);
        let stop = CancellationToken::new();
        tokio::spawn(server.run(stop.clone()));
        stops.push(stop);
        nodes.push(node);
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // routes up
    let dir = tempfile::tempdir().unwrap();
    let members: BTreeMap<u64, BasicNode> = (0..3)
        .map(|i| (node_id(&format!("n{i}")), BasicNode::new(format!("n{i}"))))
        .collect();
    let started = Instant::now();
    let mut rafts = Vec::new();
    for g in 0..groups {
        let name = format!("g{g}");
        let mut these = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let (raft, _) = node
                .start_group(
                    &name,
                    MemLog::default(),
                    ListMachine::default(),
                    &dir.path().join(format!("{i}-{g}")),
                )
                .await
                .unwrap();
            these.push(raft);
        }
        these[g % 3].initialize(members.clone()).await.unwrap();
        rafts.push(these);
    }
    // Created = every group has a leader.
    for these in &rafts {
        while !these
            .iter()
            .any(|r| r.metrics().borrow().state == openraft::ServerState::Leader)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let created = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let cpu = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64();
    println!(
        "groups={groups} create={:.2}s idle_cpu_per_node={:.1}% rss_total={:.0}MiB",
        created.as_secs_f64(),
        cpu * 100.0 / 3.0,
        rss_mib()
    );
    for n in &nodes {
        n.shutdown().await;
    }
    for s in stops {
        s.cancel();
    }
}
