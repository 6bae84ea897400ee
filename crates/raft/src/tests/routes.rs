//! Groups whose members live in three real servers joined by routes: Raft frames travel as
//! peer messages over the routes (real sockets, real time).

use crate::machine::MachineStore;
use crate::testing::ListMachine;
use crate::{RaftNode, RouteTransport, Timing, Transport, TypeConfig};
use bytes::Bytes;
use openraft::{BasicNode, Raft};
use sluice_server::{CancellationToken, ClusterConfig, Server, ServerConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Member {
    stop: CancellationToken,
    client: std::net::SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    node: Arc<RaftNode>,
    transport: Arc<RouteTransport>,
    raft: Raft<TypeConfig>,
    store: MachineStore<ListMachine>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(n: usize) -> Vec<Member> {
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let mut members = Vec::new();
    for i in 0..n {
        let mut cluster = ClusterConfig::new("127.0.0.1", ports[i]);
        cluster.name = Some("rt".into());
        cluster.routes = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                format!("nats-route://127.0.0.1:{}", ports[j])
                    .parse()
                    .unwrap()
            })
            .collect();
        let config = ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            server_name: Some(format!("n{}", i + 1)),
            cluster: Some(cluster),
            ..ServerConfig::default()
        };
        let server = Server::bind(config).await.unwrap();
        let handle = server.handle();
        let client = server.local_addr();
        let stop = CancellationToken::new();
        let task = tokio::spawn(server.run(stop.clone()));
        let transport = RouteTransport::new(handle);
        let t: Arc<dyn Transport> = Arc::new(transport.clone());
        let node = RaftNode::new(&format!("n{}", i + 1), Timing::default(), t);
        transport.install(&node);
        let dir = tempfile::tempdir().unwrap();
        let (raft, store) = node
            .start_group(
                "g",
                crate::testing::MemLog::default(),
                ListMachine::default(),
                dir.path(),
            )
            .await
            .unwrap();
        members.push(Member {
            stop,
            client,
            task,
            node,
            transport,
            raft,
            store,
            _dir: dir,
        });
    }
    members
}

async fn leader(members: &[Member], among: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for &i in among {
            let m = members[i].raft.metrics().borrow().clone();
            if m.state == openraft::ServerState::Leader {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn converged(members: &[Member], among: &[usize], n: usize) -> Vec<Bytes> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = Vec::new();
        for &i in among {
            all.push(members[i].store.with(|m| m.applied.clone()).await);
        }
        if all[0].len() == n && all.iter().all(|a| *a == all[0]) {
            return all[0].iter().map(|(_, d)| d.clone()).collect();
        }
        assert!(
            Instant::now() < deadline,
            "no convergence: {:?}",
            all.iter().map(Vec::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn read_until(s: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, end: &[u8]) {
    let mut chunk = [0u8; 4096];
    while !buf.windows(end.len()).any(|w| w == end) {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("no answer from the server")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn stop(m: &Member) {
    m.transport.detach();
    m.node.shutdown().await;
    m.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_replicates_over_routes_and_fails_over_when_a_server_stops() {
    let members = start(3).await;
    // The routes come up by themselves; until they do, the initial election retries.
    let all: BTreeMap<u64, BasicNode> = (1..=3)
        .map(|i| {
            (
                crate::node_id(&format!("n{i}")),
                BasicNode::new(format!("n{i}")),
            )
        })
        .collect();
    members[0].raft.initialize(all).await.unwrap();
    let l = leader(&members, &[0, 1, 2]).await;
    // A client listening to everything on a follower's server sees none of the Raft traffic.
    let f = (l + 1) % 3;
    let mut spy = tokio::net::TcpStream::connect(members[f].client)
        .await
        .unwrap();
    spy.write_all(b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\nPING\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    read_until(&mut spy, &mut seen, b"PONG\r\n").await;
    for k in 0..30 {
        members[l]
            .raft
            .client_write(Bytes::from(format!("e{k}")))
            .await
            .unwrap();
    }
    let got = converged(&members, &[0, 1, 2], 30).await;
    assert_eq!(got[29], Bytes::from("e29"));
    spy.write_all(b"PING\r\n").await.unwrap();
    seen.clear();
    read_until(&mut spy, &mut seen, b"PONG\r\n").await;
    assert!(
        !String::from_utf8_lossy(&seen).contains("MSG"),
        "a client saw raft traffic: {}",
        String::from_utf8_lossy(&seen)
    );

    stop(&members[l]).await;
    let rest: Vec<usize> = (0..3).filter(|&i| i != l).collect();
    let since = Instant::now();
    loop {
        let nl = leader(&members, &rest).await;
        let w = tokio::time::timeout(
            Duration::from_secs(2),
            members[nl].raft.client_write(Bytes::from("after")),
        )
        .await;
        if matches!(w, Ok(Ok(_))) {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "no write after failover"
        );
    }
    eprintln!("failover over routes: {:?}", since.elapsed());
    let got = converged(&members, &rest, 31).await;
    assert_eq!(got[30], Bytes::from("after"));
    for m in &members {
        stop(m).await;
    }
    for m in members {
        let _ = m.task.await;
    }
}
