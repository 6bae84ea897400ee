//! openraft end to end on the log: three nodes in one process, each with one write-ahead log
//! shared by two groups, connected by direct calls. Entries written through the leaders are
//! applied everywhere, and after every node restarts its log holds them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode, Config, EntryPayload, Raft};
use parking_lot::Mutex;

use super::rt;
use super::suite::MemSm;
use crate::types::{NodeId, TypeConfig};
use crate::wal::{Wal, WalOptions};

type Routes = Arc<Mutex<HashMap<(String, NodeId), Raft<TypeConfig>>>>;

#[derive(Clone)]
struct Net {
    group: String,
    routes: Routes,
}

struct Conn {
    target: NodeId,
    net: Net,
}

impl Conn {
    fn raft(&self) -> Option<Raft<TypeConfig>> {
        self.net
            .routes
            .lock()
            .get(&(self.net.group.clone(), self.target))
            .cloned()
    }
}

fn unreachable<E: std::error::Error>() -> RPCError<NodeId, BasicNode, E> {
    RPCError::Unreachable(Unreachable::new(&AnyError::error("no such node")))
}

impl RaftNetworkFactory<TypeConfig> for Net {
    type Network = Conn;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Conn {
        Conn {
            target,
            net: self.clone(),
        }
    }
}

impl RaftNetwork<TypeConfig> for Conn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let raft = self.raft().ok_or_else(unreachable)?;
        raft.append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let raft = self.raft().ok_or_else(unreachable)?;
        raft.install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let raft = self.raft().ok_or_else(unreachable)?;
        raft.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

const GROUPS: [&str; 2] = ["_meta_", "stream-a"];
const NODES: [NodeId; 3] = [1, 2, 3];

type Sms = HashMap<(String, NodeId), MemSm>;

/// Starts every group on every node, on the nodes' logs; returns the state machines.
async fn start(wals: &[Wal], routes: &Routes) -> Sms {
    let config = Arc::new(
        Config {
            heartbeat_interval: 50,
            election_timeout_min: 200,
            election_timeout_max: 400,
            ..Config::default()
        }
        .validate()
        .unwrap(),
    );
    let mut sms = HashMap::new();
    for g in GROUPS {
        for (i, n) in NODES.iter().enumerate() {
            let net = Net {
                group: g.to_string(),
                routes: routes.clone(),
            };
            let sm = MemSm::default();
            let raft = Raft::new(*n, config.clone(), net, wals[i].group(g), sm.clone())
                .await
                .unwrap();
            routes.lock().insert((g.to_string(), *n), raft);
            sms.insert((g.to_string(), *n), sm);
        }
    }
    sms
}

fn raft(routes: &Routes, g: &str, n: NodeId) -> Raft<TypeConfig> {
    routes.lock()[&(g.to_string(), n)].clone()
}

/// Writes `range` to every group through its leader and waits until every node applied it.
async fn write_all(routes: &Routes, range: std::ops::Range<u32>) {
    for (gi, g) in GROUPS.iter().enumerate() {
        let m = raft(routes, g, NODES[0])
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.current_leader.is_some(), "a leader")
            .await
            .unwrap();
        let leader = raft(routes, g, m.current_leader.unwrap());
        let mut last = 0;
        for i in range.clone() {
            let data = bytes::Bytes::from(format!("{gi}:{i}"));
            last = leader.client_write(data).await.unwrap().log_id.index;
        }
        for n in NODES {
            raft(routes, g, n)
                .wait(Some(Duration::from_secs(10)))
                .applied_index_at_least(Some(last), "applied")
                .await
                .unwrap();
        }
    }
}

async fn stop(routes: &Routes, wals: Vec<Wal>) {
    let rafts: Vec<_> = routes.lock().drain().map(|(_, r)| r).collect();
    for raft in rafts {
        raft.shutdown().await.unwrap();
    }
    for w in &wals {
        w.shutdown().await.unwrap();
    }
}

fn normal_entries(wal: &Wal, g: &str) -> Vec<String> {
    wal.group(g)
        .entries_in(..)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.payload {
            EntryPayload::Normal(d) => Some(String::from_utf8(d.to_vec()).unwrap()),
            _ => None,
        })
        .collect()
}

fn three_nodes_two_groups_replicate_and_recover(opts: WalOptions) {
    rt().block_on(async {
        let dirs: Vec<_> = NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let open = || -> Vec<Wal> {
            dirs.iter()
                .map(|d| Wal::open(d.path(), opts).unwrap())
                .collect()
        };
        let wals = open();
        let routes: Routes = Arc::default();
        start(&wals, &routes).await;
        let members: BTreeMap<NodeId, BasicNode> = NODES
            .iter()
            .map(|n| (*n, BasicNode::new(format!("n{n}"))))
            .collect();
        // Group 0 starts on node 1, group 1 on node 2.
        for (gi, g) in GROUPS.iter().enumerate() {
            let first = raft(&routes, g, NODES[gi]);
            first.initialize(members.clone()).await.unwrap();
        }
        write_all(&routes, 0..50).await;
        println!("node 1 log: {:?}", wals[0].stats());
        stop(&routes, wals).await;

        let wals = open();
        for (w, d) in wals.iter().zip(&dirs) {
            assert_eq!(w.groups(), vec!["_meta_", "stream-a"]);
            for (gi, g) in GROUPS.iter().enumerate() {
                assert!(w.group(g).vote().is_some());
                let want: Vec<String> = (0..50).map(|i| format!("{gi}:{i}")).collect();
                assert_eq!(
                    normal_entries(w, g),
                    want,
                    "group {g} in {}",
                    d.path().display()
                );
            }
        }
        // The groups start again on what the logs recovered, elect and go on.
        let sms = start(&wals, &routes).await;
        write_all(&routes, 50..60).await;
        for (gi, g) in GROUPS.iter().enumerate() {
            let want: Vec<bytes::Bytes> = (0..60)
                .map(|i| bytes::Bytes::from(format!("{gi}:{i}")))
                .collect();
            for n in NODES {
                assert_eq!(sms[&(g.to_string(), n)].applied_data(), want, "{g} on {n}");
            }
        }
        stop(&routes, wals).await;
    });
}
both_budgets!(three_nodes_two_groups_replicate_and_recover);
