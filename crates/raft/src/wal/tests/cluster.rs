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

#[test]
fn three_nodes_two_groups_replicate_and_recover() {
    rt().block_on(async {
        let dirs: Vec<_> = NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let wals: Vec<Wal> = dirs
            .iter()
            .map(|d| Wal::open(d.path(), WalOptions::default()).unwrap())
            .collect();
        let routes: Routes = Arc::default();
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
        for g in GROUPS {
            for (i, n) in NODES.iter().enumerate() {
                let net = Net {
                    group: g.to_string(),
                    routes: routes.clone(),
                };
                let raft = Raft::new(*n, config.clone(), net, wals[i].group(g), MemSm::default())
                    .await
                    .unwrap();
                routes.lock().insert((g.to_string(), *n), raft);
            }
        }
        let members: BTreeMap<NodeId, BasicNode> = NODES
            .iter()
            .map(|n| (*n, BasicNode::new(format!("n{n}"))))
            .collect();
        // Group 0 starts on node 1, group 1 on node 2.
        let mut leaders = Vec::new();
        for (gi, g) in GROUPS.iter().enumerate() {
            let first = routes.lock()[&(g.to_string(), NODES[gi])].clone();
            first.initialize(members.clone()).await.unwrap();
            first
                .wait(Some(Duration::from_secs(10)))
                .state(openraft::ServerState::Leader, "leader")
                .await
                .unwrap();
            leaders.push(first);
        }
        let mut last = 0;
        for i in 0..50u32 {
            for (gi, leader) in leaders.iter().enumerate() {
                let data = bytes::Bytes::from(format!("{gi}:{i}"));
                last = leader.client_write(data).await.unwrap().log_id.index;
            }
        }
        for g in GROUPS {
            for n in NODES {
                let raft = routes.lock()[&(g.to_string(), n)].clone();
                raft.wait(Some(Duration::from_secs(10)))
                    .applied_index_at_least(Some(last), "applied")
                    .await
                    .unwrap();
            }
        }
        let stats = wals[0].stats();
        println!("node 1 log: {stats:?}");
        let rafts: Vec<_> = routes.lock().drain().map(|(_, r)| r).collect();
        for raft in rafts {
            raft.shutdown().await.unwrap();
        }
        for w in &wals {
            w.shutdown().await.unwrap();
        }
        drop(wals);
        for d in &dirs {
            let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
            assert_eq!(wal.groups(), vec!["_meta_", "stream-a"]);
            for (gi, g) in GROUPS.iter().enumerate() {
                let log = wal.group(g);
                assert!(log.vote().is_some());
                let normal: Vec<String> = log
                    .entries_in(..)
                    .into_iter()
                    .filter_map(|e| match e.payload {
                        EntryPayload::Normal(d) => Some(String::from_utf8(d.to_vec()).unwrap()),
                        _ => None,
                    })
                    .collect();
                let want: Vec<String> = (0..50).map(|i| format!("{gi}:{i}")).collect();
                assert_eq!(normal, want, "group {g} in {}", d.path().display());
            }
        }
    });
}
