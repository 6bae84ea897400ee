//! What a replicated stream's owner knows of its Raft group ([`Replica`]): whether this server
//! leads it, and how to propose an entry. A leaf module: the owner (`writer.rs`) and the
//! cluster code (`cluster/replica.rs`, which starts the group) both use it.
//!
//! The group's log is the stream's truth: every replica applies the committed entries in
//! order (the group's machine hands them to the owner, `Cmd::Committed`), and only the
//! leader proposes (the ops it makes of publishes, acks, pull requests and API changes), acks,
//! answers and delivers. Only the leader's owner subscribes to the stream's subjects and its
//! consumers' (acks, pull requests, flow control): it subscribes when it learns it leads and
//! drops them when it learns it does not (`writer/replicated.rs`), so a follower's server
//! does no work for what clients send.

use crate::api::types::ClusterInfo;
use bytes::Bytes;
use openraft::Raft;
use sluice_raft::TypeConfig;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Bytes of entries a leader may have proposed and not yet seen answered; past it, its owner
/// keeps what its mailbox brings (still counted in the stream's backlog, so publishers are
/// paced by TCP) until proposals are answered.
pub(crate) const MAX_INFLIGHT: usize = 4 * 1024 * 1024;

/// This server's replica of a replicated stream: see the module doc.
pub(crate) struct Replica {
    /// The stream's Raft group.
    pub group: String,
    /// The group's members by server name, as the meta group placed them.
    pub peers: parking_lot::RwLock<Vec<String>>,
    /// The group, once started (the owner exists before it: the group's machine feeds it).
    pub raft: OnceLock<Raft<TypeConfig>>,
    pub rt: tokio::runtime::Handle,
    leader: AtomicBool,
    /// A membership change is under way (one at a time).
    changing: AtomicBool,
    inflight: AtomicUsize,
    /// Runs the owner again (set once the owner's mailbox exists).
    wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// The reply subject of the STREAM.CREATE this replica's group owes an answer, answered
    /// by the leader once it listens.
    create_reply: parking_lot::Mutex<Option<String>>,
    /// The group's `cluster` block for infos (set once the group runs).
    cluster: OnceLock<Box<dyn Fn() -> ClusterInfo + Send + Sync>>,
}

impl Replica {
    pub(crate) fn new(group: &str, peers: Vec<String>, rt: tokio::runtime::Handle) -> Arc<Replica> {
        Arc::new(Replica {
            group: group.to_owned(),
            peers: parking_lot::RwLock::new(peers),
            raft: OnceLock::new(),
            rt,
            leader: AtomicBool::new(false),
            changing: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            wake: OnceLock::new(),
            cluster: OnceLock::new(),
            create_reply: parking_lot::Mutex::new(None),
        })
    }

    /// Whether this server leads the group now (as of the group's last metrics).
    pub(crate) fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// Records a change of leadership and runs the owner (a new leader proposes; an old one
    /// stops answering).
    pub(crate) fn set_leader(&self, leader: bool) {
        if self.leader.swap(leader, Ordering::AcqRel) != leader {
            self.wake();
        }
    }

    /// Records that the group owes `reply` its STREAM.CREATE answer, and runs the owner (which
    /// answers it if it leads).
    pub(crate) fn set_create_reply(&self, reply: &str) {
        *self.create_reply.lock() = Some(reply.to_owned());
        self.wake();
    }

    /// The create answer owed, taken (the leader answers it; a follower forgets it).
    pub(crate) fn take_create_reply(&self) -> Option<String> {
        self.create_reply.lock().take()
    }

    pub(crate) fn set_cluster_info(&self, f: Box<dyn Fn() -> ClusterInfo + Send + Sync>) {
        let _ = self.cluster.set(f);
    }

    /// The group's `cluster` block (leader, replicas), if known.
    pub(crate) fn cluster_info(&self) -> Option<ClusterInfo> {
        self.cluster.get().map(|f| f())
    }

    pub(crate) fn set_wake(&self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = self.wake.set(wake);
    }

    fn wake(&self) {
        if let Some(w) = self.wake.get() {
            w();
        }
    }

    /// Claims the right to change the group's membership; false if a change is under way.
    pub(crate) fn start_membership_change(&self) -> bool {
        !self.changing.swap(true, Ordering::AcqRel)
    }

    /// The membership change claimed by [`Replica::start_membership_change`] is over.
    pub(crate) fn membership_changed(&self) {
        self.changing.store(false, Ordering::Release);
    }

    /// Whether the owner may propose more now.
    pub(crate) fn has_room(&self) -> bool {
        self.inflight.load(Ordering::Acquire) < MAX_INFLIGHT
    }

    /// Proposes one entry; the owner learns of it when it is committed (`Cmd::Committed`),
    /// and is run again when the proposal is answered (committed and applied, or refused
    /// because this server no longer leads: its publishers retry).
    pub(crate) fn propose(self: &Arc<Self>, entry: Bytes) {
        let Some(raft) = self.raft.get().cloned() else {
            return;
        };
        let len = entry.len();
        self.inflight.fetch_add(len, Ordering::AcqRel);
        let me = self.clone();
        self.rt.spawn(async move {
            if let Err(e) = raft.client_write(entry).await {
                tracing::debug!(group = %me.group, error = %e, "a proposal was not committed");
            }
            let before = me.inflight.fetch_sub(len, Ordering::AcqRel);
            if before >= MAX_INFLIGHT && before - len < MAX_INFLIGHT {
                me.wake();
            }
        });
    }
}
