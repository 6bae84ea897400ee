//! The writer: one OS thread that owns the segment files. It takes every request queued on
//! the bounded channel, writes them in order, does one fdatasync for the lot (group commit
//! across groups), tells each group where its appends were written (see `GroupMem::placed`),
//! then completes their callbacks; it rotates segments, writes each new segment's
//! checkpoint, tracks which segment holds each group's live entries and deletes a segment
//! once nothing in it is live.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::group::GroupMem;
use super::record::{self, CheckpointGroup, Kind};
use super::recover::Recovered;
use super::segment::{self, io_err, HEADER_LEN};
use super::{SyncMode, WalError, WalOptions};
use crate::types::{LogId, Vote};

/// Called once with the outcome when a write is durable (per the sync mode) or failed.
pub(crate) type Done = Box<dyn FnOnce(Result<(), io::Error>) + Send>;

/// Most requests taken off the channel for one write and one sync.
const MAX_BATCH: usize = 4096;

/// What a record does to the writer's own view of a group.
#[derive(Debug)]
pub(crate) enum Meta {
    Entries { first: u64, last: u64 },
    Vote(Vote),
    Committed(Option<LogId>),
    Truncate(u64),
    Purge(LogId),
    Remove,
}

/// One record to write.
pub(crate) struct WriteReq {
    pub group: Arc<str>,
    /// The framed record (empty for an empty append, which still completes in order).
    pub frame: Vec<u8>,
    pub meta: Option<Meta>,
    /// Synced before `done`, whatever the mode (votes, group removal).
    pub sync: bool,
    pub done: Option<Done>,
    /// An append's group state and batch number: told where the batch was written.
    pub placed: Option<(Arc<Mutex<GroupMem>>, u64)>,
}

/// An append batch written to the buffer, to be indexed once the buffer is in the file.
struct Placement {
    mem: Arc<Mutex<GroupMem>>,
    batch: u64,
    first: u64,
    last: u64,
    seg: u64,
    off: u64,
    len: u32,
}

pub(crate) enum Request {
    Write(WriteReq),
    /// Write and sync everything queued before, fail what comes after, exit.
    Shutdown(oneshot::Sender<()>),
    /// Test hook: complete and sync everything before, report paused, wait until `resume`
    /// closes.
    #[cfg(test)]
    Pause {
        paused: oneshot::Sender<()>,
        resume: std::sync::mpsc::Receiver<()>,
    },
    /// Test hook: write what is queued before it without syncing or completing anything,
    /// then exit (the process "crashes").
    #[cfg(test)]
    Crash,
}

/// Counters and positions shared with the handles.
#[derive(Default)]
pub(crate) struct Shared {
    pub appends: AtomicU64,
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    /// Records read back from segments (entries evicted from memory).
    pub disk_reads: AtomicU64,
    /// (segment, length) of the last sync: everything before it is durable.
    pub durable: Mutex<(u64, u64)>,
}

/// A run of consecutive entries of one group in one segment.
#[derive(Debug)]
struct Run {
    first: u64,
    last: u64,
    seg: u64,
}

#[derive(Default)]
struct WGroup {
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    runs: VecDeque<Run>,
}

pub(crate) struct Writer {
    dir: PathBuf,
    opts: WalOptions,
    shared: Arc<Shared>,
    groups: HashMap<Arc<str>, WGroup>,
    /// Every segment on disk: its path and how many live entries it holds.
    segs: BTreeMap<u64, (PathBuf, u64)>,
    cur: File,
    cur_seq: u64,
    cur_path: PathBuf,
    cur_len: u64,
    /// Whether the current segment holds a record after its checkpoint.
    cur_has_records: bool,
    buf: Vec<u8>,
    /// The appends in `buf`, to be indexed once it is written.
    placements: Vec<Placement>,
    unsynced: bool,
    last_sync: Instant,
    failed: Option<String>,
}

fn dec(segs: &mut BTreeMap<u64, (PathBuf, u64)>, seg: u64, n: u64) {
    if let Some((_, live)) = segs.get_mut(&seg) {
        *live = live.saturating_sub(n);
    }
}

impl Writer {
    /// Takes over the recovered state, starts a new segment with a checkpoint, syncs it and
    /// deletes the segments that hold nothing live.
    pub(crate) fn start(
        dir: &Path,
        opts: WalOptions,
        rec: &Recovered,
        shared: Arc<Shared>,
    ) -> Result<Writer, WalError> {
        let mut segs: BTreeMap<u64, (PathBuf, u64)> = rec
            .segments
            .iter()
            .map(|(s, p)| (*s, (p.clone(), 0)))
            .collect();
        let mut groups = HashMap::new();
        for (name, g) in &rec.groups {
            let mut wg = WGroup {
                vote: g.vote,
                committed: g.committed,
                purged: g.purged,
                runs: VecDeque::new(),
            };
            for (first, last, seg) in g.batches() {
                if let Some((_, live)) = segs.get_mut(&seg) {
                    *live += last - first + 1;
                }
                match wg.runs.back_mut() {
                    Some(r) if r.seg == seg && r.last + 1 == first => r.last = last,
                    _ => wg.runs.push_back(Run { first, last, seg }),
                }
            }
            groups.insert(Arc::<str>::from(name.as_str()), wg);
        }
        let seq = rec.next_seq;
        let (cur, cur_path) = segment::create(dir, seq)?;
        segs.insert(seq, (cur_path.clone(), 0));
        let mut w = Writer {
            dir: dir.to_path_buf(),
            opts,
            shared,
            groups,
            segs,
            cur,
            cur_seq: seq,
            cur_path,
            cur_len: HEADER_LEN,
            cur_has_records: false,
            buf: Vec::new(),
            placements: Vec::new(),
            unsynced: true,
            last_sync: Instant::now(),
            failed: None,
        };
        w.write_checkpoint()?;
        w.flush_buf()?;
        w.sync()?;
        Ok(w)
    }

    /// The thread's body: serves requests until shut down or every handle is gone.
    pub(crate) fn run(mut self, rt: tokio::runtime::Runtime, mut rx: mpsc::Receiver<Request>) {
        let mut batch: Vec<Request> = Vec::new();
        loop {
            let Some(first) = self.next_request(&rt, &mut rx) else {
                self.final_sync();
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let mut writes = Vec::new();
            let mut reqs = std::mem::take(&mut batch).into_iter();
            while let Some(req) = reqs.next() {
                match req {
                    Request::Write(w) => writes.push(w),
                    Request::Shutdown(ack) => {
                        self.commit(std::mem::take(&mut writes));
                        self.final_sync();
                        rx.close();
                        reqs.by_ref().for_each(fail_request);
                        while let Ok(r) = rx.try_recv() {
                            fail_request(r);
                        }
                        let _ = ack.send(());
                        return;
                    }
                    #[cfg(test)]
                    Request::Pause { paused, resume } => {
                        self.commit(std::mem::take(&mut writes));
                        self.final_sync();
                        let _ = paused.send(());
                        let _ = resume.recv();
                    }
                    #[cfg(test)]
                    Request::Crash => {
                        let mut dones = Vec::new();
                        let _ = self.write_batch(std::mem::take(&mut writes), &mut dones);
                        let _ = self.flush_buf();
                        self.placements.clear();
                        // The callbacks are dropped uncalled: nothing was reported durable.
                        return;
                    }
                }
            }
            self.commit(writes);
        }
    }

    fn next_request(
        &mut self,
        rt: &tokio::runtime::Runtime,
        rx: &mut mpsc::Receiver<Request>,
    ) -> Option<Request> {
        loop {
            if let SyncMode::Interval(every) = self.opts.sync {
                if self.unsynced && self.failed.is_none() {
                    let due = self.last_sync + every;
                    let now = Instant::now();
                    if now >= due {
                        if let Err(e) = self.sync() {
                            self.fail(&e);
                        }
                        continue;
                    }
                    match rt.block_on(async { tokio::time::timeout(due - now, rx.recv()).await }) {
                        Ok(r) => return r,
                        Err(_) => continue,
                    }
                }
            }
            return rx.blocking_recv();
        }
    }

    fn final_sync(&mut self) {
        if self.unsynced && self.failed.is_none() {
            if let Err(e) = self.sync() {
                self.fail(&e);
            }
        }
    }

    fn fail(&mut self, e: &WalError) {
        tracing::error!(error = %e, "write-ahead log failed; every later write fails");
        self.failed = Some(e.to_string());
    }

    /// Writes a batch, syncs if the mode or a request asks, completes the callbacks.
    fn commit(&mut self, writes: Vec<WriteReq>) {
        if writes.is_empty() {
            return;
        }
        let mut dones = Vec::with_capacity(writes.len());
        let res = self
            .write_batch(writes, &mut dones)
            .and_then(|need_sync| self.flush_buf().map(|()| need_sync))
            .and_then(|need_sync| {
                if self.unsynced && need_sync {
                    self.sync()
                } else {
                    Ok(())
                }
            });
        if let Err(e) = &res {
            if self.failed.is_none() {
                self.fail(e);
            }
        }
        self.place();
        for d in dones {
            match &self.failed {
                None => d(Ok(())),
                Some(msg) => d(Err(io::Error::other(msg.clone()))),
            }
        }
    }

    /// Adds the batch's records to the buffer (rotating as needed) and to the writer's view.
    /// Returns whether the batch must be synced before its callbacks are called.
    fn write_batch(
        &mut self,
        writes: Vec<WriteReq>,
        dones: &mut Vec<Done>,
    ) -> Result<bool, WalError> {
        let mut need_sync = false;
        let mut err = None;
        let always = matches!(self.opts.sync, SyncMode::Always);
        for w in writes {
            // What waits for it (an append's callback, a vote) is told once it is synced in
            // `Always` mode; truncations, purges and committed ids wait for no one and ride
            // along with the next sync.
            need_sync |= w.sync || (always && w.done.is_some());
            if let Some(d) = w.done {
                dones.push(d);
            }
            if self.failed.is_some() || err.is_some() {
                continue;
            }
            if w.frame.is_empty() {
                continue;
            }
            if self.cur_has_records
                && self.cur_len + self.buf.len() as u64 + w.frame.len() as u64
                    > self.opts.segment_bytes
            {
                if let Err(e) = self.rotate() {
                    err = Some(e);
                    continue;
                }
            }
            if let (Some((mem, batch)), Some(Meta::Entries { first, last })) = (w.placed, &w.meta) {
                self.placements.push(Placement {
                    mem,
                    batch,
                    first: *first,
                    last: *last,
                    seg: self.cur_seq,
                    off: self.cur_len + self.buf.len() as u64,
                    len: w.frame.len() as u32,
                });
            }
            self.buf.extend_from_slice(&w.frame);
            self.cur_has_records = true;
            if let Some(meta) = w.meta {
                self.apply(w.group, meta);
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(need_sync),
        }
    }

    fn apply(&mut self, name: Arc<str>, meta: Meta) {
        if let Meta::Remove = meta {
            if let Some(g) = self.groups.remove(&name) {
                for r in g.runs {
                    dec(&mut self.segs, r.seg, r.last - r.first + 1);
                }
            }
            return;
        }
        let g = self.groups.entry(name).or_default();
        match meta {
            Meta::Entries { first, last } => {
                truncate_runs(g, &mut self.segs, first);
                let seg = self.cur_seq;
                match g.runs.back_mut() {
                    Some(r) if r.seg == seg && r.last + 1 == first => r.last = last,
                    _ => g.runs.push_back(Run { first, last, seg }),
                }
                if let Some((_, live)) = self.segs.get_mut(&seg) {
                    *live += last - first + 1;
                }
                self.shared.appends.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .entries
                    .fetch_add(last - first + 1, Ordering::Relaxed);
            }
            Meta::Vote(v) => g.vote = Some(v),
            Meta::Committed(c) => g.committed = c,
            Meta::Truncate(index) => truncate_runs(g, &mut self.segs, index),
            Meta::Purge(log_id) => {
                if g.purged.is_some_and(|p| p.index > log_id.index) {
                    return;
                }
                g.purged = Some(log_id);
                while let Some(r) = g.runs.front_mut() {
                    if r.last <= log_id.index {
                        dec(&mut self.segs, r.seg, r.last - r.first + 1);
                        g.runs.pop_front();
                    } else {
                        if r.first <= log_id.index {
                            dec(&mut self.segs, r.seg, log_id.index - r.first + 1);
                            r.first = log_id.index + 1;
                        }
                        break;
                    }
                }
            }
            Meta::Remove => {}
        }
    }

    /// Tells each group where its appends now in the file are (they may then be evicted from
    /// memory). After a failed write nothing is: the entries stay in memory.
    fn place(&mut self) {
        let placements = std::mem::take(&mut self.placements);
        if self.failed.is_some() || !self.buf.is_empty() {
            return;
        }
        for p in placements {
            p.mem
                .lock()
                .placed(p.batch, p.first, p.last, p.seg, p.off, p.len);
        }
    }

    fn flush_buf(&mut self) -> Result<(), WalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let res = self.cur.write_all(&self.buf);
        // Whatever part of it reached the file counts as unsynced from here on.
        self.unsynced = true;
        res.map_err(|e| io_err(&self.cur_path, e))?;
        let n = self.buf.len() as u64;
        self.cur_len += n;
        self.shared.bytes.fetch_add(n, Ordering::Relaxed);
        self.buf.clear();
        Ok(())
    }

    /// Starts the next segment: its header, then a checkpoint of every group's vote,
    /// committed, purge mark and last index, so that older segments are never needed for
    /// those. The segment it leaves is synced first: only the last segment may ever end in a
    /// torn write (recovery refuses one anywhere else).
    fn rotate(&mut self) -> Result<(), WalError> {
        self.flush_buf()?;
        self.cur
            .sync_data()
            .map_err(|e| io_err(&self.cur_path, e))?;
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        let seq = self.cur_seq + 1;
        let (f, p) = segment::create(&self.dir, seq)?;
        self.cur = f;
        self.cur_path = p.clone();
        self.segs.insert(seq, (p, 0));
        self.cur_seq = seq;
        self.cur_len = HEADER_LEN;
        self.cur_has_records = false;
        self.write_checkpoint()
    }

    fn write_checkpoint(&mut self) -> Result<(), WalError> {
        let mut list: Vec<CheckpointGroup> = self
            .groups
            .iter()
            .filter(|(_, g)| {
                g.vote.is_some()
                    || g.committed.is_some()
                    || g.purged.is_some()
                    || !g.runs.is_empty()
            })
            .map(|(name, g)| CheckpointGroup {
                name: name.to_string(),
                vote: g.vote,
                committed: g.committed,
                purged: g.purged,
                last: g.runs.back().map(|r| r.last),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        let frame = record::encode(Kind::Checkpoint, "", &list).map_err(WalError::Encode)?;
        self.buf.extend_from_slice(&frame);
        Ok(())
    }

    /// fdatasyncs the current segment (those before it were synced when it was started),
    /// then deletes dead segments.
    fn sync(&mut self) -> Result<(), WalError> {
        self.cur
            .sync_data()
            .map_err(|e| io_err(&self.cur_path, e))?;
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.unsynced = false;
        self.last_sync = Instant::now();
        *self.shared.durable.lock() = (self.cur_seq, self.cur_len);
        self.gc();
        Ok(())
    }

    /// Deletes every segment (but the current one) that holds no live entry. Its votes,
    /// committed ids and purge marks are superseded by the (synced) checkpoint of the current
    /// segment, and so are its truncations and removals: replaying that checkpoint drops
    /// unlisted groups and entries past each group's last live index (see `Kind::Checkpoint`).
    fn gc(&mut self) {
        let dead: Vec<u64> = self
            .segs
            .iter()
            .filter(|(seq, (_, live))| **seq != self.cur_seq && *live == 0)
            .map(|(seq, _)| *seq)
            .collect();
        let mut removed = false;
        for seq in dead {
            let Some((path, _)) = self.segs.get(&seq) else {
                continue;
            };
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(file = %path.display(), error = %e, "cannot delete a dead segment");
                continue;
            }
            self.segs.remove(&seq);
            removed = true;
        }
        if removed {
            if let Err(e) = segment::sync_dir(&self.dir) {
                tracing::warn!(error = %e, "cannot sync the log directory");
            }
        }
    }
}

fn truncate_runs(g: &mut WGroup, segs: &mut BTreeMap<u64, (PathBuf, u64)>, index: u64) {
    while let Some(r) = g.runs.back_mut() {
        if r.first >= index {
            dec(segs, r.seg, r.last - r.first + 1);
            g.runs.pop_back();
        } else {
            if r.last >= index {
                dec(segs, r.seg, r.last - index + 1);
                r.last = index - 1;
            }
            break;
        }
    }
}

/// Fails a request the writer will never serve.
pub(crate) fn fail_request(r: Request) {
    match r {
        Request::Write(w) => {
            if let Some(d) = w.done {
                d(Err(io::Error::other(WalError::Closed.to_string())));
            }
        }
        Request::Shutdown(ack) => {
            let _ = ack.send(());
        }
        #[cfg(test)]
        Request::Pause { paused, .. } => drop(paused),
        #[cfg(test)]
        Request::Crash => {}
    }
}
