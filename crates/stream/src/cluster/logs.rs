//! Where this server's Raft groups keep their logs ([`Logs`]): the node's write-ahead log
//! (one for every group, `sluice_raft::wal`), or memory (tests).

use openraft::Raft;
use sluice_raft::testing::MemLog;
use sluice_raft::wal::Wal;
use sluice_raft::{GroupOptions, Machine, MachineStore, NodeError, RaftNode, TypeConfig};
use std::path::Path;

/// Where the groups' logs are kept.
#[derive(Clone)]
pub enum Logs {
    /// The node's write-ahead log: durable.
    Wal(Wal),
    /// In memory, lost when the process ends (tests only: a restarted server has no log).
    Memory,
}

impl Logs {
    /// Starts `group` on `node` with its log from here.
    pub(crate) async fn start_group<M: Machine>(
        &self,
        node: &RaftNode,
        group: &str,
        machine: M,
        dir: &Path,
        options: GroupOptions,
    ) -> Result<(Raft<TypeConfig>, MachineStore<M>), NodeError> {
        match self {
            Logs::Wal(wal) => {
                node.start_group_with(group, wal.group(group), machine, dir, options)
                    .await
            }
            Logs::Memory => {
                node.start_group_with(group, MemLog::default(), machine, dir, options)
                    .await
            }
        }
    }

    /// Forgets `group`'s log (the group is stopped).
    pub(crate) async fn remove(&self, group: &str) {
        if let Logs::Wal(wal) = self {
            if let Err(e) = wal.remove_group(group).await {
                tracing::warn!(group, error = %e, "removing a group's log failed");
            }
        }
    }
}
