//! A node's groups: [`RaftNode`] starts, finds and stops the groups this node is a member of,
//! and answers the Raft messages other nodes send them (`handle`: one frame in, one out).

use crate::amnesia::Amnesia;
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

/// How one group runs, beyond the node's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupOptions {
    /// Whether openraft builds snapshots on its own, every `Timing::snapshot_every` entries;
    /// false: only when asked (`raft.trigger().snapshot()`, a machine that decides by its own
    /// measure) or never. Either way the log is purged below a snapshot taken. (openraft
    /// treats a failed snapshot as fatal and stops the group.)
    pub snapshots: bool,
    /// Whether this node may have lost what it promised in this group (its store was wiped,
    /// or it cannot tell yet): if the group starts on an empty log with no vote, it refuses
    /// every vote until it has caught up with a leader (`amnesia.rs`), or until
    /// [`RaftNode::declare_fresh`]. False for a group known to be new here.
    pub recovering: bool,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            snapshots: true,
            recovering: false,
        }
    }
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
    /// Groups whose leadership this node is handing over (`step_down`): the liveness loop
    /// leaves their timers alone meanwhile.
    stepping: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Groups started empty that may have lost their state: no vote from them until they
    /// have caught up (`amnesia.rs`).
    amnesia: parking_lot::Mutex<HashMap<String, Amnesia>>,
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
            stepping: Default::default(),
            amnesia: Default::default(),
        });
        if quiesce {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(crate::liveness::run(Arc::downgrade(&node), timing));
            }
        }
        node
    }

    /// How long ago server `id` was last heard from (a beat, a Raft message or an answer).
    pub fn last_heard(&self, id: NodeId) -> Option<std::time::Duration> {
        self.heard.server_age(id)
    }

    pub(crate) fn is_stepping_down(&self, group: &str) -> bool {
        self.stepping.lock().contains(group)
    }

    /// Hands the leadership of `group` (led here) to another voter: this node stops beating
    /// for the group until the followers' leases ran out, then asks the most up-to-date
    /// follower to hold an election, and waits until somebody else leads (at most a few
    /// election timeouts). Errors if this node does not lead the group or nobody took over.
    pub async fn step_down(&self, group: &str) -> Result<(), String> {
        let raft = self
            .group(group)
            .ok_or_else(|| format!("no group {group}"))?;
        let m = raft.metrics().borrow().clone();
        if m.current_leader != Some(self.id) {
            return Err(format!("not the leader of {group}"));
        }
        let mut followers: Vec<(u64, NodeId, String)> = m
            .membership_config
            .nodes()
            .filter(|(id, _)| **id != self.id)
            .filter(|(id, _)| {
                m.membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == **id)
            })
            .map(|(id, n)| {
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten())
                    .map_or(0, |l| l.index);
                (matched, *id, n.addr.clone())
            })
            .collect();
        if followers.is_empty() {
            return Err(format!("{group} has no other voter"));
        }
        // Among the most caught-up, any may take over (as after a nats-server step-down, where
        // an election picks): a fixed order would hand over between the same two servers.
        let spin = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as usize / 1000);
        let n = followers.len();
        followers.rotate_left(spin % n);
        followers.sort_by_key(|f| std::cmp::Reverse(f.0));
        self.stepping.lock().insert(group.to_string());
        let rc = raft.runtime_config();
        rc.heartbeat(false);
        rc.tick(false);
        let lease = std::time::Duration::from_millis(self.timing.election_max_ms + 100);
        tokio::time::sleep(lease).await;
        let mut moved = false;
        for (_, id, name) in &followers {
            let frame = Request {
                group: group.to_string(),
                rpc: Rpc::Elect { from: self.id },
            }
            .encode();
            let _ = self
                .transport
                .call(*id, name, bytes::Bytes::from(frame), lease)
                .await;
            let until = tokio::time::Instant::now() + lease * 2;
            while tokio::time::Instant::now() < until {
                let l = raft.metrics().borrow().current_leader;
                if l.is_some() && l != Some(self.id) {
                    moved = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            if moved {
                break;
            }
        }
        rc.tick(true);
        rc.heartbeat(true);
        self.stepping.lock().remove(group);
        if moved {
            Ok(())
        } else {
            Err(format!("nobody took over {group}"))
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    pub(crate) fn transport(&self) -> Arc<dyn Transport> {
        self.transport.clone()
    }

    /// The running groups, by name.
    pub fn groups_snapshot(&self) -> Vec<(String, Raft<TypeConfig>)> {
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
        self.start_group_with(group, log, machine, dir, GroupOptions::default())
            .await
    }

    /// [`RaftNode::start_group`] with options of its own (a machine that takes no snapshots).
    pub async fn start_group_with<LS, M>(
        &self,
        group: &str,
        mut log: LS,
        machine: M,
        dir: &Path,
        options: GroupOptions,
    ) -> Result<(Raft<TypeConfig>, MachineStore<M>), NodeError>
    where
        LS: RaftLogStorage<TypeConfig>,
        M: Machine,
    {
        if self.groups.read().contains_key(group) {
            return Err(NodeError::Running(group.to_string()));
        }
        let mut timing = self.timing.clone();
        if !options.snapshots {
            timing.snapshot_every = 0;
        }
        let config = timing.openraft(group).map_err(|error| NodeError::Config {
            group: group.to_string(),
            error,
        })?;
        let store = MachineStore::open(dir, machine)
            .await
            .map_err(|error| NodeError::Storage {
                group: group.to_string(),
                error,
            })?;
        let storage = |error| NodeError::Storage {
            group: group.to_string(),
            error,
        };
        let empty = log
            .get_log_state()
            .await
            .map_err(storage)?
            .last_log_id
            .is_none()
            && log.read_vote().await.map_err(storage)?.is_none();
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
        if options.recovering && empty {
            tracing::info!(
                group,
                "started on an empty log: no vote until caught up with a leader"
            );
            self.amnesia
                .lock()
                .insert(group.to_string(), Amnesia::default());
        } else {
            self.amnesia.lock().remove(group);
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

    /// Whether group `group` is held back from voting because it started empty on a node
    /// that may have lost its state and has not caught up with a leader yet (`amnesia.rs`).
    /// Checked against the group's metrics: once caught up, it votes again for good.
    pub fn is_recovering(&self, group: &str) -> bool {
        let mut amnesia = self.amnesia.lock();
        let Some(a) = amnesia.get(group) else {
            return false;
        };
        let Some(raft) = self.group(group) else {
            return true;
        };
        let applied = raft.metrics().borrow().last_applied;
        if a.recovered(applied.as_ref()) {
            tracing::info!(group, "caught up with its leader: votes again");
            amnesia.remove(group);
            return false;
        }
        tracing::debug!(group, amnesia = ?a, ?applied, "not caught up yet");
        true
    }

    /// Declares group `group` new everywhere (the layer above saw every member start it
    /// empty): it may vote at once. Refused (false) if the group has heard from a leader or a
    /// candidate already, or holds a log: then it is not new, and must catch up first.
    pub fn declare_fresh(&self, group: &str) -> bool {
        let mut amnesia = self.amnesia.lock();
        if !amnesia.contains_key(group) {
            return true;
        }
        let Some(raft) = self.group(group) else {
            return false;
        };
        let heard = {
            let m = raft.metrics();
            let m = m.borrow();
            m.vote != openraft::Vote::default() || m.last_log_index.is_some()
        };
        if heard {
            return false;
        }
        amnesia.remove(group);
        true
    }

    /// The answer to a vote request in a group that is recovering: not granted, with the
    /// group's own vote (lower than the candidate's, so it changes nothing there).
    fn refuse_vote(&self, group: &str, raft: &Raft<TypeConfig>) -> Option<Reply> {
        if !self.is_recovering(group) {
            return None;
        }
        let vote = raft.metrics().borrow().vote;
        Some(Reply::Vote(Ok(openraft::raft::VoteResponse::new(
            vote, None, false,
        ))))
    }

    /// Stops group `group` (its log and snapshot stay on disk). Returns whether it ran.
    pub async fn stop_group(&self, group: &str) -> bool {
        self.amnesia.lock().remove(group);
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
            Rpc::Beat { from } | Rpc::Elect { from } => Some(*from),
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
                if r.vote.is_committed() {
                    if let Some(a) = self.amnesia.lock().get_mut(&req.group) {
                        a.heard_leader(r.vote.leader_id().term, r.leader_commit.map(|c| c.index));
                    }
                }
                Reply::AppendEntries(raft.append_entries(r).await)
            }
            Rpc::Vote(r) => match self.refuse_vote(&req.group, &raft) {
                Some(refusal) => refusal,
                None => Reply::Vote(raft.vote(r).await),
            },
            Rpc::InstallSnapshot(r) => {
                self.heard.group(&req.group);
                Reply::InstallSnapshot(raft.install_snapshot(r).await)
            }
            Rpc::Elect { .. } => {
                let _ = raft.trigger().elect().await;
                Reply::Elect
            }
            Rpc::Beat { .. } => Reply::Beat,
        };
        reply.encode()
    }
}
