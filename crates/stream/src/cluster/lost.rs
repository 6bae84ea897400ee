//! The stream groups in which this server may have lost what it promised ([`LostGroups`]).
//!
//! A server back on a wiped store rejoins under the same name, so as the same Raft member of
//! every group it was in, with empty logs. Its meta group starts held back from voting
//! (sluice-raft's `amnesia.rs`) until it has caught up with the meta leader; every stream
//! assignment it applies meanwhile (an entry, or a snapshot of them all) names a group it may
//! have been a member of, and promised entries in. Those groups' replicas start held back the
//! same way ([`sluice_raft::GroupOptions::recovering`]). Assignments applied once the meta
//! group has caught up were committed after this server came back: it promised nothing in
//! them, and votes there from the start. A server that kept its store, or formed a new
//! cluster, holds nothing back.

use parking_lot::Mutex;
use sluice_raft::RaftNode;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Shared by the meta group's machine (which records) and the replicas (which ask).
#[derive(Clone)]
pub(crate) struct LostGroups {
    node: Arc<RaftNode>,
    meta: &'static str,
    groups: Arc<Mutex<BTreeSet<String>>>,
}

impl LostGroups {
    /// For the groups assigned while `node`'s group `meta` (the meta group) is recovering.
    pub(crate) fn new(node: Arc<RaftNode>, meta: &'static str) -> LostGroups {
        LostGroups {
            node,
            meta,
            groups: Arc::default(),
        }
    }

    /// Assignments naming `groups` were applied: recorded if the meta group has not caught
    /// up yet.
    pub(crate) fn applied<'a>(&self, groups: impl IntoIterator<Item = &'a str>) {
        if self.node.is_recovering(self.meta) {
            let mut lost = self.groups.lock();
            for g in groups {
                if lost.insert(g.to_owned()) {
                    tracing::info!(group = g, "assigned before this server caught up: its replica here waits to catch up before it votes");
                }
            }
        }
    }

    /// Whether this server may have lost its state in stream group `group`.
    pub(crate) fn contains(&self, group: &str) -> bool {
        self.groups.lock().contains(group)
    }
}
