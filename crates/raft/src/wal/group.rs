//! One group's log on the shared write-ahead log: its state in memory (vote, committed,
//! purge mark, its recent entries and the index of where its older ones are in the
//! segments), and openraft's `RaftLogStorage`/`RaftLogReader` on top of it. Every change is
//! applied in memory and queued to the writer in call order; the writer reports where it wrote
//! each append, which may then be evicted from memory.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{AnyError, CommittedLeaderId, EntryPayload, OptionalSend, StorageIOError};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::read;
use super::record::{self, Kind};
use super::writer::{Done, Meta, WriteReq};
use super::{Wal, WalError};
use crate::types::{Entry, LogId, NodeId, StorageError, TypeConfig, Vote};

/// What an entry is taken to cost in memory besides its payload (its slot, its log id).
const ENTRY_OVERHEAD: u64 = 64;

/// What an entry counts against a group's memory budget.
fn cost(e: &Entry) -> u64 {
    ENTRY_OVERHEAD
        + match &e.payload {
            EntryPayload::Blank => 0,
            EntryPayload::Normal(d) => d.len() as u64,
            EntryPayload::Membership(_) => 256,
        }
}

/// Where the leader id changes within a batch: from this index on, this leader's.
pub(crate) type LeaderChange = (u64, CommittedLeaderId<NodeId>);

/// Where a written append batch is: its record in a segment, and enough of its log ids to
/// name any of its entries without reading it. Keyed in [`GroupMem::index`] by the first
/// live index it holds; the record may hold more (purged before `first`, truncated after
/// `last`), which a read skips.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    /// The last live index in the record.
    pub last: u64,
    /// The segment's sequence number.
    pub seg: u64,
    /// Where the record's frame starts in the segment.
    pub off: u64,
    /// The frame's length.
    pub len: u32,
    /// The leader id of the first entry indexed (changes before a later purge still hold).
    pub leader: CommittedLeaderId<NodeId>,
    /// Where the leader id changes within the record: (index, leader id), ascending (boxed:
    /// there is one index line per batch, and the leader seldom changes within one).
    pub changes: Option<Box<[LeaderChange]>>,
}

impl Loc {
    fn new(entries: &[Entry], seg: u64, off: u64, len: u32) -> Option<(u64, Loc)> {
        let first = entries.first()?;
        let mut changes = Vec::new();
        let mut cur = first.log_id.leader_id;
        for e in &entries[1..] {
            if e.log_id.leader_id != cur {
                cur = e.log_id.leader_id;
                changes.push((e.log_id.index, cur));
            }
        }
        let last = entries.last()?.log_id.index;
        Some((
            first.log_id.index,
            Loc {
                last,
                seg,
                off,
                len,
                leader: first.log_id.leader_id,
                changes: (!changes.is_empty()).then(|| changes.into_boxed_slice()),
            },
        ))
    }

    fn log_id(&self, index: u64) -> LogId {
        let leader = self
            .changes
            .iter()
            .flat_map(|c| c.iter())
            .rev()
            .find(|(i, _)| *i <= index)
            .map_or(self.leader, |(_, l)| *l);
        LogId::new(leader, index)
    }
}

/// An entry kept in memory.
#[derive(Debug)]
struct Cached {
    entry: Entry,
    /// The append batch it came in while the writer has not yet written it (`None`: it is in
    /// a segment, and in the index; it may be evicted).
    pending: Option<u64>,
}

/// A read of entries `lo..=hi` from the record at `seg`/`off` (indexed under `key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DiskRead {
    pub key: u64,
    pub seg: u64,
    pub off: u64,
    pub len: u32,
    pub lo: u64,
    pub hi: u64,
}

/// A piece of a read: entries from memory, or a record to read back.
#[derive(Debug)]
pub(crate) enum Piece {
    Mem(Vec<Entry>),
    Disk(DiskRead),
}

/// A group's state in memory: vote, committed, purge mark, and its live entries, each of
/// which is in the cache, in the index, or both. The cache holds every entry the writer has
/// not yet written and the most recent written ones up to the budget; the index locates every
/// written live entry's record. Both change together, under the group's lock.
#[derive(Debug)]
pub(crate) struct GroupMem {
    cache: BTreeMap<u64, Cached>,
    /// What the cache's entries cost (see [`cost`]).
    cache_bytes: u64,
    /// Written live batches by first live index.
    index: BTreeMap<u64, Loc>,
    /// The cache is kept under this many bytes, but for pending entries.
    budget: u64,
    next_batch: u64,
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
    pub purged: Option<LogId>,
}

impl GroupMem {
    pub(crate) fn new(budget: u64) -> GroupMem {
        GroupMem {
            cache: BTreeMap::new(),
            cache_bytes: 0,
            index: BTreeMap::new(),
            budget,
            next_batch: 0,
            vote: None,
            committed: None,
            purged: None,
        }
    }

    pub(crate) fn has_state(&self) -> bool {
        !self.cache.is_empty()
            || !self.index.is_empty()
            || self.vote.is_some()
            || self.committed.is_some()
            || self.purged.is_some()
    }

    /// The written live batches: (first, last, segment), ascending.
    pub(crate) fn batches(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.index.iter().map(|(f, l)| (*f, l.last, l.seg))
    }

    /// (entries, bytes) in the cache.
    #[cfg(test)]
    pub(crate) fn cached(&self) -> (usize, u64) {
        (self.cache.len(), self.cache_bytes)
    }

    fn last_index(&self) -> Option<u64> {
        let c = self.cache.last_key_value().map(|(i, _)| *i);
        let d = self.index.last_key_value().map(|(_, l)| l.last);
        c.max(d)
    }

    /// The log id of live entry `index`, if there is one.
    fn log_id_at(&self, index: u64) -> Option<LogId> {
        if let Some(c) = self.cache.get(&index) {
            return Some(c.entry.log_id);
        }
        self.loc_of(index).map(|(_, l)| l.log_id(index))
    }

    /// The indexed batch holding live entry `index`.
    fn loc_of(&self, index: u64) -> Option<(u64, &Loc)> {
        self.index
            .range(..=index)
            .next_back()
            .filter(|(_, l)| l.last >= index)
            .map(|(f, l)| (*f, l))
    }

    /// The last live entry's log id, or else the purge mark.
    pub(crate) fn last_log_id(&self) -> Option<LogId> {
        self.last_index()
            .and_then(|i| self.log_id_at(i))
            .or(self.purged)
    }

    fn drop_cached(&mut self, gone: BTreeMap<u64, Cached>) {
        for c in gone.values() {
            self.cache_bytes -= cost(&c.entry);
        }
    }

    /// Deletes the entries at `index` and after.
    pub(crate) fn truncate(&mut self, index: u64) {
        let gone = self.cache.split_off(&index);
        self.drop_cached(gone);
        let _ = self.index.split_off(&index);
        if let Some((_, l)) = self.index.last_key_value() {
            if l.last >= index {
                // `index` > the key >= 0 here.
                if let Some(mut e) = self.index.last_entry() {
                    e.get_mut().last = index - 1;
                }
            }
        }
    }

    /// Deletes the entries at the log id's index and before, and records the mark.
    pub(crate) fn purge(&mut self, log_id: LogId) {
        if self.purged.is_some_and(|p| p.index > log_id.index) {
            return;
        }
        self.purged = Some(log_id);
        let Some(next) = log_id.index.checked_add(1) else {
            self.cache.clear();
            self.cache_bytes = 0;
            self.index.clear();
            return;
        };
        let kept = self.cache.split_off(&next);
        let gone = std::mem::replace(&mut self.cache, kept);
        self.drop_cached(gone);
        let kept = self.index.split_off(&next);
        let gone = std::mem::replace(&mut self.index, kept);
        if let Some((_, l)) = gone.into_iter().next_back() {
            if l.last >= next {
                self.index.insert(next, l);
            }
        }
    }

    /// Takes a batch of consecutive entries the writer is yet to write (replacing the log
    /// from its first index on); returns the batch's number for [`GroupMem::placed`].
    pub(crate) fn append_pending(&mut self, entries: &[Entry]) -> u64 {
        self.next_batch += 1;
        let batch = self.next_batch;
        if let Some(first) = entries.first() {
            self.truncate(first.log_id.index);
        }
        for e in entries {
            self.cache_bytes += cost(e);
            self.cache.insert(
                e.log_id.index,
                Cached {
                    entry: e.clone(),
                    pending: Some(batch),
                },
            );
        }
        batch
    }

    /// The writer has written batch `batch` (entries `first..=last`) in the record at
    /// `seg`/`off`: indexes what of it is still live (truncations, purges and later appends
    /// may have replaced either end of it since), then evicts what is over the budget.
    pub(crate) fn placed(
        &mut self,
        batch: u64,
        first: u64,
        last: u64,
        seg: u64,
        off: u64,
        len: u32,
    ) {
        let mut live: Vec<Entry> = Vec::new();
        for (_, c) in self.cache.range_mut(first..=last) {
            if c.pending == Some(batch) {
                c.pending = None;
                live.push(c.entry.clone());
            }
        }
        if let Some((key, loc)) = Loc::new(&live, seg, off, len) {
            self.index.insert(key, loc);
        }
        self.evict();
    }

    /// Recovery: a batch read from the record at `seg`/`off`. Its entries must be
    /// consecutive.
    pub(crate) fn append_written(&mut self, entries: Vec<Entry>, seg: u64, off: u64, len: u32) {
        let Some((key, loc)) = Loc::new(&entries, seg, off, len) else {
            return;
        };
        self.truncate(key);
        for e in entries {
            self.cache_bytes += cost(&e);
            self.cache.insert(
                e.log_id.index,
                Cached {
                    entry: e,
                    pending: None,
                },
            );
        }
        self.index.insert(key, loc);
        self.evict();
    }

    /// Drops the oldest written entries from the cache while it is over the budget.
    fn evict(&mut self) {
        while self.cache_bytes > self.budget {
            let Some(e) = self.cache.first_entry() else {
                return;
            };
            if e.get().pending.is_some() {
                return;
            }
            let c = e.remove();
            self.cache_bytes -= cost(&c.entry);
        }
    }

    /// How to read the live entries in `start..end` (`end` `None`: to the last).
    pub(crate) fn plan(&self, start: u64, end: Option<u64>) -> Vec<Piece> {
        let mut out = Vec::new();
        let Some(last) = self.last_index() else {
            return out;
        };
        let end = match end {
            Some(e) => e.min(last.saturating_add(1)),
            None => last.saturating_add(1),
        };
        // (`last` = u64::MAX: the entry at u64::MAX itself is never read; no log gets there.)
        let mut i = start;
        let mut mem: Vec<Entry> = Vec::new();
        while i < end {
            if let Some(c) = self.cache.get(&i) {
                mem.push(c.entry.clone());
                i += 1;
                continue;
            }
            let loc = self
                .loc_of(i)
                .or_else(|| self.index.range(i..end).next().map(|(f, l)| (*f, l)));
            let next_cached = self.cache.range(i..end).next().map(|(k, _)| *k);
            let Some((key, l)) = loc else {
                match next_cached {
                    Some(k) => {
                        i = k;
                        continue;
                    }
                    None => break,
                }
            };
            let lo = key.max(i);
            if let Some(k) = next_cached.filter(|k| *k < lo) {
                i = k;
                continue;
            }
            if !mem.is_empty() {
                out.push(Piece::Mem(std::mem::take(&mut mem)));
            }
            let hi = l.last.min(end - 1);
            out.push(Piece::Disk(DiskRead {
                key,
                seg: l.seg,
                off: l.off,
                len: l.len,
                lo,
                hi,
            }));
            i = hi + 1;
        }
        if !mem.is_empty() {
            out.push(Piece::Mem(mem));
        }
        out
    }

    /// Whether a planned read still names live entries (they may have been purged or
    /// truncated since, and their segment deleted).
    pub(crate) fn still_indexed(&self, r: &DiskRead) -> bool {
        self.loc_of(r.lo)
            .is_some_and(|(_, l)| l.seg == r.seg && l.off == r.off && l.last >= r.hi)
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
                placed: None,
            })
            .await
    }

    /// Sends an append, to be indexed in `placed` once written.
    async fn send_placed(
        &self,
        kind: Kind,
        payload: Result<Vec<u8>, String>,
        meta: Meta,
        placed: Option<(Arc<Mutex<GroupMem>>, u64)>,
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
                sync: false,
                done,
                placed,
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
                    placed: None,
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
        let batch = self.mem.lock().append_pending(&entries);
        let meta = Meta::Entries { first, last };
        let placed = Some((self.mem.clone(), batch));
        self.send_placed(Kind::Entries, payload, meta, placed, Some(done))
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
        self.mem.lock().truncate(log_id.index);
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
        LogState {
            last_purged_log_id: m.purged,
            last_log_id: m.last_log_id(),
        }
    }

    /// The live entries in `range`: from memory, and what was evicted from its records in the
    /// segments (read without holding the group's lock).
    pub(crate) fn entries_in<RB: RangeBounds<u64>>(
        &self,
        range: RB,
    ) -> Result<Vec<Entry>, WalError> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => match s.checked_add(1) {
                Some(s) => s,
                None => return Ok(Vec::new()),
            },
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(e) => e.checked_add(1),
            Bound::Excluded(e) => Some(*e),
            Bound::Unbounded => None,
        };
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        // A planned record may stop being live (purged, truncated) and its segment be deleted
        // while it is read: then the read is planned again.
        let mut tries = 0;
        'plan: loop {
            let plan = self.mem.lock().plan(start, end);
            #[cfg(test)]
            after_plan();
            let mut out = Vec::new();
            let mut files = read::Files::new();
            for piece in plan {
                match piece {
                    Piece::Mem(es) => out.extend(es),
                    Piece::Disk(r) => {
                        match read::read_batch(self.wal.dir(), &self.name, &r, &mut files) {
                            Ok(es) => {
                                self.wal.count_disk_read();
                                out.extend(es);
                            }
                            Err(e) => {
                                tries += 1;
                                if tries < 100 && !self.mem.lock().still_indexed(&r) {
                                    continue 'plan;
                                }
                                return Err(e);
                            }
                        }
                    }
                }
            }
            return Ok(out);
        }
    }

    /// The records a read of the whole log would read back.
    #[cfg(test)]
    pub(crate) fn planned_disk_reads(&self) -> Vec<DiskRead> {
        self.mem
            .lock()
            .plan(0, None)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Disk(r) => Some(r),
                Piece::Mem(_) => None,
            })
            .collect()
    }

    /// (entries, bytes) the group keeps in memory.
    #[cfg(test)]
    pub(crate) fn cached(&self) -> (usize, u64) {
        self.mem.lock().cached()
    }

    pub(crate) fn vote(&self) -> Option<Vote> {
        self.mem.lock().vote
    }

    pub(crate) fn committed(&self) -> Option<LogId> {
        self.mem.lock().committed
    }
}

#[cfg(test)]
thread_local! {
    /// Test hook: called once, on this thread, between planning a read and reading.
    pub(crate) static AFTER_PLAN: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
        const { std::cell::RefCell::new(None) };
}

#[cfg(test)]
fn after_plan() {
    if let Some(f) = AFTER_PLAN.with(|h| h.borrow_mut().take()) {
        f();
    }
}

impl RaftLogReader<TypeConfig> for GroupLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.entries_in(range).map_err(|e| storage_err(e, false))
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
