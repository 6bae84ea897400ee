//! Helpers for the in-process cluster tests: servers joined by routes, each with the stream
//! layer and a meta group on the in-memory test log.
#![allow(dead_code)]

use async_nats::jetstream;
use sluice_raft::Timing;
use sluice_server::{CancellationToken, ClusterConfig, Server, ServerConfig};
use sluice_stream::cluster::logs::Logs;
use sluice_stream::cluster::service::ClusterSettings;
use sluice_stream::{JetStream, JetStreamConfig, SyncPolicy};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Node {
    pub addr: SocketAddr,
    pub js: Option<JetStream>,
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
    /// Every server's route port, and this one's index.
    pub ports: Vec<u16>,
    pub index: usize,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn start(n: usize) -> Vec<Node> {
    start_tagged(&vec![Vec::new(); n], "").await
}

/// `tags[i]` are server i's `server_tags`; `unique_tag` every server's.
pub async fn start_tagged(tags: &[Vec<&str>], unique_tag: &str) -> Vec<Node> {
    start_with(tags, unique_tag, Timing::default()).await
}

/// `n` servers with `timing` for their Raft groups.
pub async fn start_timed(n: usize, timing: Timing) -> Vec<Node> {
    start_with(&vec![Vec::new(); n], "", timing).await
}

async fn start_with(tags: &[Vec<&str>], unique_tag: &str, timing: Timing) -> Vec<Node> {
    let n = tags.len();
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for i in 0..n {
        let tags: Vec<String> = tags[i].iter().map(|t| t.to_string()).collect();
        nodes.push(start_node_timed(i, &ports, tags, unique_tag, timing.clone()).await);
    }
    nodes
}

/// Starts server `i` of the cluster whose route ports are `ports` (each server's own), named
/// `n<i+1>`, with a fresh store and a fresh (memory) Raft log: a restart with it is a
/// restart on an emptied disk.
pub async fn start_node(i: usize, ports: &[u16], tags: Vec<String>, unique_tag: &str) -> Node {
    start_node_timed(i, ports, tags, unique_tag, Timing::default()).await
}

pub async fn start_node_timed(
    i: usize,
    ports: &[u16],
    tags: Vec<String>,
    unique_tag: &str,
    timing: Timing,
) -> Node {
    let n = ports.len();
    let mut cluster = ClusterConfig::new("127.0.0.1", ports[i]);
    cluster.name = Some("c1".into());
    cluster.routes = (0..n)
        .filter(|&j| j != i)
        .map(|j| {
            format!("nats-route://127.0.0.1:{}", ports[j])
                .parse()
                .unwrap()
        })
        .collect();
    let name = format!("n{}", i + 1);
    let server = Server::bind(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        server_name: Some(name.clone()),
        jetstream: true,
        cluster: Some(cluster),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let dir = tempfile::tempdir().unwrap();
    let js = JetStream::start(
        server.handle(),
        JetStreamConfig {
            domain: None,
            store_dir: dir.path().to_path_buf(),
            sync: SyncPolicy::Always,
            server_name: name.clone(),
            queue_bytes: sluice_stream::DEFAULT_QUEUE_BYTES,
            limits: Default::default(),
            reservations: Default::default(),
        },
    )
    .unwrap();
    let settings = ClusterSettings {
        name: "c1".into(),
        expected: n,
        tags,
        unique_tag: unique_tag.to_string(),
        timing,
        // Small, so that the tests' streams take snapshots and purge their logs.
        snapshot_log_bytes: 64 * 1024,
    };
    js.start_cluster(settings, Logs::Memory).await.unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(server.run(stop.clone()));
    Node {
        addr,
        js: Some(js),
        stop,
        task,
        _dir: dir,
        ports: ports.to_vec(),
        index: i,
    }
}

pub async fn wait_meta_leader(nodes: &[Node]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for (i, n) in nodes.iter().enumerate() {
            if n.js
                .as_ref()
                .and_then(|j| j.cluster())
                .is_some_and(|c| c.is_meta_leader())
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no meta leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn stop(nodes: Vec<Node>) {
    for mut n in nodes {
        if let Some(js) = n.js.take() {
            js.stop_cluster().await;
            tokio::task::spawn_blocking(move || js.shutdown())
                .await
                .unwrap();
        }
        n.stop.cancel();
        let _ = n.task.await;
    }
}

pub async fn client(n: &Node) -> jetstream::Context {
    let c = async_nats::connect(format!("nats://{}", n.addr))
        .await
        .unwrap();
    // Three servers per test, several tests at once, on a shared 2-core machine: an API
    // answer (a create waits for its group's first election) may take longer than
    // async-nats's default 5 s.
    let mut js = jetstream::new(c);
    js.set_timeout(Duration::from_secs(15));
    js
}
