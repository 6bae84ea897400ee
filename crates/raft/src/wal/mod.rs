//! The node-wide write-ahead log: one log for every Raft group on the node, so that appends
//! of many groups share one fsync (group commit across groups).
//!
//! [`Wal`] is the handle (open, groups, stats, shutdown); [`GroupLog`] is one group's log and
//! implements openraft's `RaftLogStorage`. One writer thread owns the segment files and is fed
//! over a bounded channel (a full channel makes writers wait).
//!
//! Reads: each group keeps in memory its entries the writer has not yet written, and its most
//! recent written ones up to [`WalOptions::memory_per_group`] bytes; older ones are evicted
//! from memory but stay in the segments until purged. Once it has written an append batch the
//! writer tells the group where (segment, offset, length of the record), and the group keeps
//! that in a small index (one line per live batch, with the batch's log ids, so that the last
//! log id is known without a read); truncations and purges change the index as they change
//! memory, at once, so a removed entry is never read back. A read takes what it can from
//! memory and the rest, under no lock, from the records the index names, checking each (CRC,
//! kind, group, indexes): damage is a [`WalError::Corrupt`] naming the file and offset. A read
//! that races a purge (whose segment the writer may delete meanwhile) is planned again. At
//! open, recovery rebuilds the index and keeps only each group's tail in memory.
//!
//! Files: `record` (framing and kinds), `segment` (file names and headers), `recover`
//! (replay at open), `writer` (the thread), `group` (a group's log, memory and index), `read`
//! (reading records back).

mod group;
mod read;
mod record;
mod recover;
mod segment;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

pub use group::GroupLog;
use group::GroupMem;
use record::Kind;
use writer::{Meta, Request, Shared, WriteReq, Writer};

/// When an append is reported flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// After fdatasync.
    #[default]
    Always,
    /// After the write to the OS; fdatasync at most this long after (nats-server's weaker
    /// promise, for like-for-like benchmarks). Votes are synced before they are reported.
    Interval(Duration),
}

/// How the log is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is rotated once it would grow past this (default 64 MiB).
    pub segment_bytes: u64,
    /// When appends are reported flushed (default [`SyncMode::Always`]).
    pub sync: SyncMode,
    /// Requests queued to the writer before senders wait (default 4096; at least 1).
    pub queue_depth: usize,
    /// Bytes of entries each group keeps in memory (default 8 MiB): its most recent entries,
    /// each counted as its payload's size plus a small fixed overhead. Older ones are read
    /// back from the segments when asked for. Entries not yet written are kept whatever
    /// their size.
    pub memory_per_group: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            sync: SyncMode::Always,
            queue_depth: 4096,
            memory_per_group: 8 << 20,
        }
    }
}

/// A failure of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file operation failed.
    #[error("write-ahead log i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A segment holds a bad record where a torn write cannot be (not at the end of the last
    /// segment): the log refuses to open rather than drop acknowledged data.
    #[error("write-ahead log corrupt: {path} at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A record could not be encoded.
    #[error("write-ahead log record: {0}")]
    Encode(String),
    /// The log was shut down (or every handle dropped).
    #[error("write-ahead log is shut down")]
    Closed,
    /// The writer failed earlier (a write or sync failed); nothing more is written.
    #[error("write-ahead log failed: {0}")]
    Failed(String),
    /// The writer thread could not be started.
    #[error("write-ahead log writer thread: {0}")]
    Thread(String),
}

/// Counters since open (for tests and /metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Append batches written.
    pub appends: u64,
    /// Entries written.
    pub entries: u64,
    /// Bytes written to segments.
    pub bytes_written: u64,
    /// fdatasync calls on segments.
    pub fsyncs: u64,
    /// Append records read back from segments (entries no longer in memory).
    pub disk_reads: u64,
}

/// The node's write-ahead log. Cheap to clone; the writer stops when [`Wal::shutdown`] is
/// called or the last handle (including every [`GroupLog`]) is dropped.
#[derive(Clone)]
pub struct Wal {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("queue_capacity", &self.inner.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Inner {
    /// `None` only while dropping.
    tx: Option<mpsc::Sender<Request>>,
    groups: Mutex<HashMap<Arc<str>, Arc<Mutex<GroupMem>>>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    capacity: usize,
    dir: PathBuf,
    budget: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel stops the writer once it has written and synced what is queued.
        self.tx.take();
        if let Some(h) = self.thread.get_mut().take() {
            // (Never the writer joining itself, should a callback hold the last handle.)
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Wal {
    /// Opens (creating if need be) the log in `dir` and recovers every group's state.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal, WalError> {
        std::fs::create_dir_all(dir).map_err(|e| segment::io_err(dir, e))?;
        let budget = opts.memory_per_group;
        let rec = recover::recover(dir, budget)?;
        let shared = Arc::new(Shared::default());
        let writer = Writer::start(dir, opts, &rec, shared.clone())?;
        let groups: HashMap<_, _> = rec
            .groups
            .into_iter()
            .map(|(name, mem)| (Arc::<str>::from(name), Arc::new(Mutex::new(mem))))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| WalError::Thread(e.to_string()))?;
        let capacity = opts.queue_depth.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let thread = std::thread::Builder::new()
            .name("sluice-wal".into())
            .spawn(move || writer.run(rt, rx))
            .map_err(|e| WalError::Thread(e.to_string()))?;
        Ok(Wal {
            inner: Arc::new(Inner {
                tx: Some(tx),
                groups: Mutex::new(groups),
                shared,
                thread: Mutex::new(Some(thread)),
                capacity,
                dir: dir.to_path_buf(),
                budget,
            }),
        })
    }

    /// The log of group `name` (empty if the group is new).
    pub fn group(&self, name: &str) -> GroupLog {
        let mut groups = self.inner.groups.lock();
        let (name, mem) = match groups.get_key_value(name) {
            Some((k, v)) => (k.clone(), v.clone()),
            None => {
                let k: Arc<str> = Arc::from(name);
                let v = Arc::new(Mutex::new(GroupMem::new(self.inner.budget)));
                groups.insert(k.clone(), v.clone());
                (k, v)
            }
        };
        GroupLog::new(name, mem, self.clone())
    }

    /// The groups that have state (entries, a vote, a committed id or a purge mark), sorted.
    pub fn groups(&self) -> Vec<String> {
        let groups = self.inner.groups.lock();
        let mut out: Vec<String> = groups
            .iter()
            .filter(|(_, m)| m.lock().has_state())
            .map(|(k, _)| k.to_string())
            .collect();
        out.sort();
        out
    }

    /// Forgets group `name` and returns once that is durable; its entries become garbage.
    pub async fn remove_group(&self, name: &str) -> Result<(), WalError> {
        self.inner.groups.lock().remove(name);
        let frame = record::frame(Kind::RemoveGroup, name, &[]).map_err(WalError::Encode)?;
        let (tx, rx) = oneshot::channel();
        self.send(WriteReq {
            group: Arc::from(name),
            frame,
            meta: Some(Meta::Remove),
            sync: true,
            done: Some(Box::new(move |r| {
                let _ = tx.send(r);
            })),
            placed: None,
        })
        .await?;
        group::wait(rx).await
    }

    /// Counters since open.
    pub fn stats(&self) -> WalStats {
        let s = &self.inner.shared;
        WalStats {
            appends: s.appends.load(Ordering::Relaxed),
            entries: s.entries.load(Ordering::Relaxed),
            bytes_written: s.bytes.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            disk_reads: s.disk_reads.load(Ordering::Relaxed),
        }
    }

    /// How many requests the writer's channel holds before senders wait.
    pub fn queue_capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Writes and syncs everything queued, stops the writer thread and waits for it. Every
    /// later write fails with [`WalError::Closed`]. Calling it again does nothing.
    pub async fn shutdown(&self) -> Result<(), WalError> {
        let (ack, rx) = oneshot::channel();
        if self.send_request(Request::Shutdown(ack)).await.is_ok() {
            let _ = rx.await;
        }
        let handle = self.inner.thread.lock().take();
        if let Some(h) = handle {
            h.join()
                .map_err(|_| WalError::Thread("the writer thread panicked".into()))?;
        }
        Ok(())
    }

    /// The directory of the segments.
    pub(crate) fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub(crate) fn count_disk_read(&self) {
        self.inner.shared.disk_reads.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) async fn send(&self, w: WriteReq) -> Result<(), WalError> {
        self.send_request(Request::Write(w)).await
    }

    async fn send_request(&self, r: Request) -> Result<(), WalError> {
        let tx = self.inner.tx.as_ref().ok_or(WalError::Closed)?;
        tx.send(r).await.map_err(|_| WalError::Closed)
    }
}

#[cfg(test)]
impl Wal {
    /// Test hook: waits until the writer has completed everything queued before, and keeps it
    /// paused until the returned guard is dropped.
    pub(crate) async fn pause(&self) -> std::sync::mpsc::Sender<()> {
        let (paused, paused_rx) = oneshot::channel();
        let (resume_tx, resume) = std::sync::mpsc::channel();
        self.send_request(Request::Pause { paused, resume })
            .await
            .expect("writer running");
        paused_rx.await.expect("writer paused");
        resume_tx
    }

    /// Test hook: the writer writes what is queued before this without syncing or reporting
    /// it, and exits, as if the process died.
    pub(crate) async fn crash_after(&self, resume: Option<std::sync::mpsc::Sender<()>>) {
        self.send_request(Request::Crash)
            .await
            .expect("writer running");
        drop(resume);
        let handle = self.inner.thread.lock().take();
        if let Some(h) = handle {
            h.join().expect("writer thread");
        }
    }

    /// (segment, length) of the last sync.
    pub(crate) fn durable_position(&self) -> (u64, u64) {
        *self.inner.shared.durable.lock()
    }
}
