//! A node's groups: [`RaftNode`] starts, finds and stops the groups this node is a member of,
//! and answers the Raft messages other nodes send them (`handle`: one frame in, one out).

use crate::config::Timing;
use crate::liveness::Heard;
use crate::machine::{Machine, MachineStore};
use crate::rpc::{Reply, Request, Rpc};
use crate::transport::{Network, Transport};
use crate::types::{NodeId, TypeConfig};
use openraft::storage::RaftLogStorage;
use openraft::Raft;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why a group could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("raft group {0} is already running")]
    Running(String),
    #[error("raft group {group}: bad timing: {error}")]
    Config {
        group: String,
        error: Box<openraft::ConfigError>,
    },
    #[error("raft group {group}: {error}")]
    Storage {
        group: String,
        error: crate::types::StorageError,
    },
    #[error("raft group {group}: {error}")]
    Fatal { group: String, error: String },
}

/// The groups running on one node.
pub struct RaftNode {
    id: NodeId,
    name: String,
    timing: Timing,
    transport: Arc<dyn Transport>,
    groups: RwLock<HashMap<String, Raft<TypeConfig>>>,
    /// Who was heard from when (`liveness.rs`).
    pub(crate) heard: Heard,
    stopping: AtomicBool,
}

impl RaftNode {
    /// A node named `name` (its id is [`crate::node_id`] of it), with no groups yet.
    /// With `timing.quiesce`, the liveness loop (`liveness.rs`) runs on the current tokio
    /// runtime until [`RaftNode::shutdown`] or the node is dropped.
    pub fn new(name: &str, timing: Timing, transport: Arc<dyn Transport>) -> Arc<RaftNode> {
        let quiesce = timing.quiesce;
        let node = Arc::new(RaftNode {
            id: crate::node_id(name),
            name: name.to_string(),
            timing: timing.clone(),
            transport,
            groups: RwLock::new(HashMap::new()),
            heard: Heard::default(),
            stopping: AtomicBool::new(false),
        });
        if quiesce {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(crate::liveness::run(Arc::downgrade(&node), timing));
            }
        }
        node
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    pub(crate) fn transport(&self) -> Arc<dyn Transport> {
        self.transport.clone()
    }

    /// The running groups, by name.
    pub(crate) fn groups_snapshot(&self) -> Vec<(String, Raft<TypeConfig>)> {
        self.groups
            .read()
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect()
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts group `group` with its log and its machine (restored from the snapshot in
    /// `dir`, if any). The group has no members until [`Raft::initialize`] is called on one
    /// member or a leader adds this node.
    pub async fn start_group<LS, M>(
        &self,
        group: &str,
        log: LS,
        machine: M,
        dir: &Path,
    ) -> Result<(Raft<TypeConfig>, MachineStore<M>), NodeError>
    where
        LS: RaftLogStorage<TypeConfig>,
        M: Machine,
    {
        if self.groups.read().contains_key(group) {
            return Err(NodeError::Running(group.to_string()));
        }
        let config = self
            .timing
            .openraft(group)
            .map_err(|error| NodeError::Config {
                group: group.to_string(),
                error,
            })?;
        let store = MachineStore::open(dir, machine)
            .await
            .map_err(|error| NodeError::Storage {
                group: group.to_string(),
                error,
            })?;
        let network = Network::new(group, self.transport.clone());
        let raft = Raft::new(self.id, config, network, log, store.clone())
            .await
            .map_err(|e| NodeError::Fatal {
                group: group.to_string(),
                error: e.to_string(),
            })?;
        let raced = {
            let mut groups = self.groups.write();
            let raced = groups.contains_key(group);
            if !raced {
                groups.insert(group.to_string(), raft.clone());
            }
            raced
        };
        if raced {
            let _ = raft.shutdown().await;
            return Err(NodeError::Running(group.to_string()));
        }
        Ok((raft, store))
    }

    /// The running group named `group`.
    pub fn group(&self, group: &str) -> Option<Raft<TypeConfig>> {
        self.groups.read().get(group).cloned()
    }

    /// The names of the running groups.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.read().keys().cloned().collect()
    }

    /// Stops group `group` (its log and snapshot stay on disk). Returns whether it ran.
    pub async fn stop_group(&self, group: &str) -> bool {
        let raft = self.groups.write().remove(group);
        self.heard.forget_group(group);
        match raft {
            Some(raft) => {
                let _ = raft.shutdown().await;
                true
            }
            None => false,
        }
    }

    /// Stops every group.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let all: Vec<_> = self.groups.write().drain().map(|(_, r)| r).collect();
        for raft in all {
            let _ = raft.shutdown().await;
        }
    }

    /// Answers a request frame from another node.
    pub async fn handle(&self, frame: &[u8]) -> Vec<u8> {
        let req = match Request::decode(frame) {
            Ok(r) => r,
            Err(e) => return Reply::Malformed(e.0).encode(),
        };
        // Any message is news that its sender is alive.
        let from = match &req.rpc {
            Rpc::Beat { from } => Some(*from),
            Rpc::AppendEntries(r) => r.vote.leader_id().voted_for(),
            Rpc::Vote(r) => r.vote.leader_id().voted_for(),
            Rpc::InstallSnapshot(r) => r.vote.leader_id().voted_for(),
        };
        if let Some(from) = from {
            self.heard.server(from);
        }
        if let Rpc::Beat { .. } = req.rpc {
            return Reply::Beat.encode();
        }
        let Some(raft) = self.group(&req.group) else {
            return Reply::NoGroup.encode();
        };
        let reply = match req.rpc {
            Rpc::AppendEntries(r) => {
                self.heard.group(&req.group);
                Reply::AppendEntries(raft.append_entries(r).await)
            }
            Rpc::Vote(r) => Reply::Vote(raft.vote(r).await),
            Rpc::InstallSnapshot(r) => {
                self.heard.group(&req.group);
                Reply::InstallSnapshot(raft.install_snapshot(r).await)
            }
            Rpc::Beat { .. } => Reply::Beat,
        };
        reply.encode()
    }
}
