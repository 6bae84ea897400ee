//! Test doubles, for this crate's tests and the layers above's: a log kept in memory (shared by clones, so a "restarted" node finds what it
//! had "on disk"), a transport between in-process nodes that tests can cut, and a machine that
//! records what it applied.

use crate::machine::{Committed, Machine};
use crate::node::RaftNode;
use crate::transport::{CallFuture, Transport, Unreachable};
use crate::types::{Entry, LogId, NodeId, StorageError, TypeConfig, Vote};
use bytes::Bytes;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::RangeBounds;
use std::sync::{Arc, Weak};
use std::time::Duration;

#[derive(Default)]
struct LogInner {
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    entries: BTreeMap<u64, Entry>,
}

/// A log in memory; clones share it.
#[derive(Clone, Default)]
pub struct MemLog(Arc<Mutex<LogInner>>);

impl RaftLogReader<TypeConfig> for MemLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(self
            .0
            .lock()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for MemLog {
    type LogReader = MemLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let l = self.0.lock();
        let last = l
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(l.purged);
        Ok(LogState {
            last_purged_log_id: l.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> MemLog {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.0.lock().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.0.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.0.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.0.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        {
            let mut l = self.0.lock();
            for e in entries {
                l.entries.insert(e.log_id.index, e);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.0.lock().entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut l = self.0.lock();
        l.purged = Some(log_id);
        let keep = l.entries.split_off(&(log_id.index + 1));
        l.entries = keep;
        Ok(())
    }
}

/// In-process nodes joined by calls that tests can cut, link by link.
#[derive(Default)]
pub struct MemNet {
    nodes: Mutex<HashMap<NodeId, Weak<RaftNode>>>,
    /// Links that drop everything, both ways: (a, b) with a < b.
    cut: Mutex<HashSet<(NodeId, NodeId)>>,
    /// Append requests (entries or heartbeats) sent, all groups.
    pub appends: std::sync::atomic::AtomicU64,
}

impl MemNet {
    pub fn new() -> Arc<MemNet> {
        Arc::new(MemNet::default())
    }

    pub fn join(&self, node: &Arc<RaftNode>) {
        self.nodes.lock().insert(node.id(), Arc::downgrade(node));
    }

    pub fn leave(&self, id: NodeId) {
        self.nodes.lock().remove(&id);
    }

    fn key(a: NodeId, b: NodeId) -> (NodeId, NodeId) {
        (a.min(b), a.max(b))
    }

    /// Cuts every link between a node of `side` and a node not in it.
    pub fn partition(&self, side: &[NodeId]) {
        let all: Vec<NodeId> = self.nodes.lock().keys().copied().collect();
        let mut cut = self.cut.lock();
        for a in side {
            for b in &all {
                if !side.contains(b) {
                    cut.insert(Self::key(*a, *b));
                }
            }
        }
    }

    pub fn heal(&self) {
        self.cut.lock().clear();
    }

    /// A transport for node `from`.
    pub fn transport(self: &Arc<Self>, from: NodeId) -> Arc<dyn Transport> {
        Arc::new(MemTransport {
            net: self.clone(),
            from,
        })
    }
}

struct MemTransport {
    net: Arc<MemNet>,
    from: NodeId,
}

impl Transport for MemTransport {
    fn call(&self, target: NodeId, _name: &str, frame: Bytes, timeout: Duration) -> CallFuture {
        let cut = self
            .net
            .cut
            .lock()
            .contains(&MemNet::key(self.from, target));
        let node = self.net.nodes.lock().get(&target).and_then(Weak::upgrade);
        if let Ok(crate::rpc::Request {
            rpc: crate::rpc::Rpc::AppendEntries(_),
            ..
        }) = crate::rpc::Request::decode(&frame)
        {
            self.net
                .appends
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Box::pin(async move {
            if cut {
                // As a cut TCP link: nothing comes back before the deadline.
                tokio::time::sleep(timeout).await;
                return Err(Unreachable("cut".into()));
            }
            let node = node.ok_or_else(|| Unreachable("down".into()))?;
            match tokio::time::timeout(timeout, node.handle(&frame)).await {
                Ok(reply) => Ok(Bytes::from(reply)),
                Err(_) => Err(Unreachable("timeout".into())),
            }
        })
    }
}

/// A machine that keeps every entry it applied, in order.
#[derive(Default)]
pub struct ListMachine {
    pub applied: Vec<(u64, Bytes)>,
}

impl Machine for ListMachine {
    async fn apply(&mut self, entries: Vec<Committed>) {
        for e in entries {
            self.applied.push((e.log_id.index, e.data));
        }
    }

    async fn snapshot(&mut self) -> Result<Vec<u8>, String> {
        bincode::serialize(&self.applied).map_err(|e| e.to_string())
    }

    async fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        self.applied = bincode::deserialize(data).map_err(|e| e.to_string())?;
        Ok(())
    }
}
