//! One group's log on the shared write-ahead log: its state in memory (live entries, vote,
//! committed, purge mark), which every read is served from, and openraft's
//! `RaftLogStorage`/`RaftLogReader` on top of it. Every change is applied in memory and queued
//! to the writer in call order.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{AnyError, OptionalSend, StorageIOError};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::record::{self, Kind};
use super::writer::{Done, Meta, WriteReq};
use super::{Wal, WalError};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// A group's state in memory.
#[derive(Default, Debug)]
pub(crate) struct GroupMem {
    pub entries: BTreeMap<u64, Entry>,
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
    pub purged: Option<LogId>,
}

impl GroupMem {
    pub(crate) fn has_state(&self) -> bool {
        !self.entries.is_empty()
            || self.vote.is_some()
            || self.committed.is_some()
            || self.purged.is_some()
    }

    pub(crate) fn purge(&mut self, log_id: LogId) {
        if self.purged.is_some_and(|p| p.index > log_id.index) {
            return;
        }
        self.entries = match log_id.index.checked_add(1) {
            Some(next) => self.entries.split_off(&next),
            None => BTreeMap::new(),
        };
        self.purged = Some(log_id);
    }
}

/// One group's log. Cheap to clone: clones share the group's state (a clone is the
/// `LogReader`). Do not keep using a handle after [`Wal::remove_group`] of its group.
#[derive(Clone)]
pub struct GroupLog {
    name: Arc<str>,
    mem: Arc<Mutex<GroupMem>>,
    wal: Wal,
}

impl Debug for GroupLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupLog")
            .field("name", &self.name)
            .finish()
    }
}

fn storage_err(e: WalError, write: bool) -> StorageError {
    let any = AnyError::new(&e);
    StorageError::IO {
        source: if write {
            StorageIOError::write_logs(any)
        } else {
            StorageIOError::read_logs(any)
        },
    }
}

fn vote_err(e: WalError) -> StorageError {
    StorageError::IO {
        source: StorageIOError::write_vote(AnyError::new(&e)),
    }
}

/// A callback that reports the outcome on a oneshot.
fn waiter() -> (Done, oneshot::Receiver<Result<(), std::io::Error>>) {
    let (tx, rx) = oneshot::channel();
    let done: Done = Box::new(move |r| {
        let _ = tx.send(r);
    });
    (done, rx)
}

/// Waits for a write to be synced.
pub(crate) async fn wait(
    rx: oneshot::Receiver<Result<(), std::io::Error>>,
) -> Result<(), WalError> {
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(WalError::Failed(e.to_string())),
        Err(_) => Err(WalError::Closed),
    }
}

impl GroupLog {
    pub(crate) fn new(name: Arc<str>, mem: Arc<Mutex<GroupMem>>, wal: Wal) -> GroupLog {
        GroupLog { name, mem, wal }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn send(
        &self,
        kind: Kind,
        payload: Result<Vec<u8>, String>,
        meta: Meta,
        sync: bool,
        done: Option<Done>,
    ) -> Result<(), WalError> {
        let frame = payload
            .and_then(|p| record::frame(kind, &self.name, &p))
            .map_err(WalError::Encode)?;
        self.wal
            .send(WriteReq {
                group: self.name.clone(),
                frame,
                meta: Some(meta),
                sync,
                done,
            })
            .await
    }

    /// Appends a batch (consecutive indexes, following the log or replacing its tail) and
    /// calls `done` once it is durable per the sync mode. The entries are readable when this
    /// returns.
    pub(crate) async fn append_with(
        &self,
        entries: Vec<Entry>,
        done: Done,
    ) -> Result<(), WalError> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            // Nothing to write; completes in order behind what is queued.
            return self
                .wal
                .send(WriteReq {
                    group: self.name.clone(),
                    frame: Vec::new(),
                    meta: None,
                    sync: false,
                    done: Some(done),
                })
                .await;
        };
        let (first, last) = (first.log_id.index, last.log_id.index);
        if last.checked_sub(first) != Some(entries.len() as u64 - 1) {
            return Err(WalError::Encode(
                "entries of an append are not consecutive".into(),
            ));
        }
        let payload = record::encode_payload(&entries);
        {
            let mut m = self.mem.lock();
            let _ = m.entries.split_off(&first);
            for e in &entries {
                m.entries.insert(e.log_id.index, e.clone());
            }
        }
        let meta = Meta::Entries { first, last };
        self.send(Kind::Entries, payload, meta, false, Some(done))
            .await
    }

    /// Saves the vote and returns once it is synced.
    pub(crate) async fn save_vote_inner(&self, vote: &Vote) -> Result<(), WalError> {
        self.mem.lock().vote = Some(*vote);
        let (done, rx) = waiter();
        let payload = record::encode_payload(vote);
        self.send(Kind::Vote, payload, Meta::Vote(*vote), true, Some(done))
            .await?;
        wait(rx).await
    }

    pub(crate) async fn save_committed_inner(&self, c: Option<LogId>) -> Result<(), WalError> {
        self.mem.lock().committed = c;
        let payload = record::encode_payload(&c);
        self.send(Kind::Committed, payload, Meta::Committed(c), false, None)
            .await
    }

    pub(crate) async fn truncate_inner(&self, log_id: LogId) -> Result<(), WalError> {
        let _ = self.mem.lock().entries.split_off(&log_id.index);
        let payload = record::encode_payload(&log_id);
        let meta = Meta::Truncate(log_id.index);
        self.send(Kind::Truncate, payload, meta, false, None).await
    }

    pub(crate) async fn purge_inner(&self, log_id: LogId) -> Result<(), WalError> {
        self.mem.lock().purge(log_id);
        let payload = record::encode_payload(&log_id);
        self.send(Kind::Purge, payload, Meta::Purge(log_id), false, None)
            .await
    }

    pub(crate) fn log_state(&self) -> LogState<TypeConfig> {
        let m = self.mem.lock();
        let last = m
            .entries
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(m.purged);
        LogState {
            last_purged_log_id: m.purged,
            last_log_id: last,
        }
    }

    pub(crate) fn entries_in<RB: RangeBounds<u64>>(&self, range: RB) -> Vec<Entry> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => match s.checked_add(1) {
                Some(s) => s,
                None => return Vec::new(),
            },
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(e) => e.checked_add(1),
            Bound::Excluded(e) => Some(*e),
            Bound::Unbounded => None,
        };
        let m = self.mem.lock();
        match end {
            Some(end) if end <= start => Vec::new(),
            Some(end) => m
                .entries
                .range(start..end)
                .map(|(_, e)| e.clone())
                .collect(),
            None => m.entries.range(start..).map(|(_, e)| e.clone()).collect(),
        }
    }

    pub(crate) fn vote(&self) -> Option<Vote> {
        self.mem.lock().vote
    }

    pub(crate) fn committed(&self) -> Option<LogId> {
        self.mem.lock().committed
    }
}

impl RaftLogReader<TypeConfig> for GroupLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(self.entries_in(range))
    }
}

impl RaftLogStorage<TypeConfig> for GroupLog {
    type LogReader = GroupLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        Ok(self.log_state())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.save_vote_inner(vote).await.map_err(vote_err)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.vote())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.save_committed_inner(committed)
            .await
            .map_err(|e| storage_err(e, true))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.committed())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let done: Done = Box::new(move |r| callback.log_io_completed(r));
        self.append_with(entries, done)
            .await
            .map_err(|e| storage_err(e, true))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.truncate_inner(log_id)
            .await
            .map_err(|e| storage_err(e, true))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.purge_inner(log_id)
            .await
            .map_err(|e| storage_err(e, true))
    }
}
