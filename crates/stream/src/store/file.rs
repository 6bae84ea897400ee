//! File storage: an append-only log of segment files (format in `store/segment.rs`) with the
//! shared in-memory index (`store/index.rs`) mapping each sequence to its record.
//!
//! Appends and removal records (tombstones, purge markers) go through one write buffer to the
//! newest ("active") segment. Reads of flushed records use `pread`; of buffered ones, the
//! buffer. A write that fails is cut back off the file, so nothing ever builds on a half
//! record; if even that fails the store refuses further writes.
//!
//! Segments with no live messages are deleted: the oldest directly; one in the middle after
//! copying forward the tombstones/markers it holds for older segments' messages (and syncing
//! them), so that deleted messages never come back on replay.

mod cache;
mod entry;
mod maintain;
mod marks;
#[cfg(test)]
mod paging_tests;
mod segs;

pub(crate) use cache::ReadCache;
pub(crate) use entry::FileEntry;
pub use marks::Recovery;
pub(crate) use segs::{create_segment, dec_live, sync_dir, Segment};

use super::index::{Entry, Index, PagingConfig, Plan, MAX_SEQ};
use super::segment::{
    corrupt, encode, io_err, msg_len, seg_name, Header, HEADER_LEN, KIND_MARK, KIND_MSG,
    KIND_PURGE, KIND_TOMB, MAX_RECORD, REC_FIXED,
};
use super::{MsgStore, Purge, StoreError, StoreState, StoredMsg};
use bytes::Bytes;
use parking_lot::Mutex;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Flush the write buffer once it holds this much.
const BUF_CAP: usize = 256 * 1024;

/// File store settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// Start a new segment file once the current one would grow past this (a single larger
    /// record still gets a segment of its own). Default 64 MiB.
    pub segment_bytes: u64,
}

impl Default for FileStoreConfig {
    fn default() -> Self {
        FileStoreConfig {
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A stream's messages in segment files under one directory.
pub struct FileStore {
    pub(crate) dir: PathBuf,
    pub(crate) seg_cap: u64,
    pub(crate) index: Index<FileEntry>,
    /// Ascending ids; the last is the active segment.
    pub(crate) segs: Vec<Segment>,
    /// Records not yet written to the active segment, which holds `flushed` bytes.
    pub(crate) buf: Vec<u8>,
    pub(crate) flushed: u64,
    /// The active segment has writes not yet fdatasync'ed.
    pub(crate) unsynced: bool,
    /// The active segment's header is known durable (older segments may then be deleted).
    pub(crate) header_synced: bool,
    pub(crate) dir_unsynced: bool,
    /// Set when a failed write could not be undone: the store refuses further writes.
    pub(crate) failed: Option<String>,
    /// Some segment may have no live messages left (worth a [`FileStore::reap`]).
    pub(crate) maybe_dead: bool,
    pub(crate) cache: Mutex<ReadCache>,
    /// How the index pages (kept for [`MsgStore::reload`]).
    pub(crate) paging: Option<PagingConfig>,
    /// How the store was opened (kept for [`MsgStore::reload`]).
    pub(crate) recovery: Recovery,
    /// The last apply mark written or recovered, and the id of the segment holding its newest
    /// record (0: none).
    pub(crate) last_mark: Option<(u64, u64)>,
    pub(crate) mark_seg: u64,
    /// Records were written after the last mark.
    pub(crate) since_mark: bool,
    /// The last mark was written after the last sync.
    pub(crate) mark_unsynced: bool,
}

impl FileStore {
    /// Opens the store in `dir`, creating the directory if missing and otherwise rebuilding
    /// the index from the segments (repairing a torn tail of the newest one).
    pub fn open(dir: &Path, config: FileStoreConfig) -> Result<FileStore, StoreError> {
        super::recover::open(dir, config, Recovery::default())
    }

    /// [`FileStore::open`] with these recovery options: a replicated stream's store is opened
    /// with `truncate_after_last_mark` (always: see [`Recovery`]).
    pub fn open_with(
        dir: &Path,
        config: FileStoreConfig,
        recovery: Recovery,
    ) -> Result<FileStore, StoreError> {
        super::recover::open(dir, config, recovery)
    }

    /// [`FileStore::open`] with these index paging settings (`None`: all in memory).
    #[cfg(test)]
    pub(crate) fn open_paged(
        dir: &Path,
        config: FileStoreConfig,
        paging: Option<PagingConfig>,
    ) -> Result<FileStore, StoreError> {
        super::recover::open_paged(dir, config, Recovery::default(), paging)
    }

    /// Bytes of the message index's slots held in memory (not the per-subject bookkeeping).
    pub fn index_memory(&self) -> usize {
        self.index.resident_bytes()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Paths of the segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segs.iter().map(|s| s.path.clone()).collect()
    }

    fn check(&self) -> Result<(), StoreError> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(io_err(
                &self.dir,
                std::io::Error::other(format!("store failed earlier: {why}")),
            )),
        }
    }

    fn active(&self) -> &Segment {
        &self.segs[self.segs.len() - 1]
    }

    fn active_len(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn seg(&self, id: u32) -> Option<&Segment> {
        let i = self
            .segs
            .binary_search_by_key(&u64::from(id), |s| s.id)
            .ok()?;
        Some(&self.segs[i])
    }

    /// Writes the buffer to the active segment. On failure the file is cut back to what it
    /// held before and the buffer is kept.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let seg = &self.segs[self.segs.len() - 1];
        match seg.file.write_all_at(&self.buf, self.flushed) {
            Ok(()) => {
                self.flushed += self.buf.len() as u64;
                self.buf.clear();
                self.unsynced = true;
                Ok(())
            }
            Err(e) => {
                let err = io_err(&seg.path, e);
                self.cut_file(self.flushed);
                Err(err)
            }
        }
    }

    /// Truncates the active segment file to `len` (undoing a partial write).
    fn cut_file(&mut self, len: u64) {
        self.cache.get_mut().clear();
        let seg = &self.segs[self.segs.len() - 1];
        if let Err(e) = seg.file.set_len(len) {
            let why = format!("cannot truncate {} back to {len}: {e}", seg.path.display());
            tracing::error!("{why}");
            self.failed = Some(why);
        }
    }

    /// Undoes everything written since the active segment was `start` bytes long.
    fn rollback(&mut self, start: u64) {
        if start >= self.flushed {
            self.buf.truncate((start - self.flushed) as usize);
        } else {
            self.buf.clear();
            self.cut_file(start);
            self.flushed = start;
        }
    }

    /// Buffers a tombstone or purge marker, flushing when the buffer is full; on failure
    /// rolls back to `start`.
    fn put(&mut self, start: u64, kind: u8, seq: u64, ts: i64) -> Result<(), StoreError> {
        encode(&mut self.buf, kind, seq, ts, "", None, &[]);
        if self.buf.len() >= BUF_CAP {
            if let Err(e) = self.flush() {
                self.rollback(start);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Flushes and fdatasyncs the active segment, and the directory if it changed: what
    /// [`MsgStore::sync`] does, without its reap (which calls this).
    pub(crate) fn sync_now(&mut self) -> Result<(), StoreError> {
        self.check()?;
        self.flush()?;
        if self.unsynced || !self.header_synced {
            self.sync_active()?;
        }
        if self.dir_unsynced {
            sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        self.mark_unsynced = false;
        Ok(())
    }

    /// fdatasyncs the active segment (its buffer already flushed).
    fn sync_active(&mut self) -> Result<(), StoreError> {
        let seg = self.active();
        if let Err(e) = seg.file.sync_data() {
            let err = io_err(&seg.path, e);
            // After a failed fsync the state of the page cache is unknown: stop writing.
            self.failed = Some(err.to_string());
            return Err(err);
        }
        self.unsynced = false;
        self.header_synced = true;
        Ok(())
    }

    /// Starts a new segment if `len` more bytes would overflow the active one.
    fn make_room(&mut self, len: usize) -> Result<(), StoreError> {
        let cur = self.active_len();
        if cur > HEADER_LEN as u64 && cur + len as u64 > self.seg_cap {
            self.roll(None)?;
        }
        Ok(())
    }

    /// Closes the active segment (flushed and synced, so only the newest segment can ever
    /// have a torn tail) and starts a new one. `reset`: the new segment discards everything
    /// before it and the next sequence is that value; it is synced before returning.
    fn roll(&mut self, reset: Option<u64>) -> Result<(), StoreError> {
        self.flush()?;
        if self.unsynced {
            self.sync_active()?;
        }
        let id = self.active().id + 1;
        if id > u64::from(u32::MAX) {
            return Err(corrupt(&self.dir, "segment ids exhausted"));
        }
        let header = Header {
            id,
            base: reset.unwrap_or(self.index.last_seq() + 1),
            last_ts: self.index.last_ts(),
            reset: reset.is_some(),
        };
        let path = self.dir.join(seg_name(id));
        let file = create_segment(&path, &header, reset.is_some())?;
        if reset.is_some() {
            if let Err(e) = sync_dir(&self.dir) {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        } else {
            self.dir_unsynced = true;
        }
        self.header_synced = reset.is_some();
        self.segs.push(Segment {
            id,
            path,
            file,
            base: header.base,
            reset: header.reset,
            live: 0,
            ext: 0,
        });
        self.flushed = HEADER_LEN as u64;
        Ok(())
    }

    /// Builds a message from its record.
    fn read_msg(&self, seq: u64, e: &FileEntry) -> Result<StoredMsg, StoreError> {
        let seg = self.seg(e.seg()).ok_or_else(|| {
            corrupt(
                &self.dir,
                format!("segment {} of seq {seq} is gone", e.seg()),
            )
        })?;
        let (off, len) = (u64::from(e.off()), e.len() as usize);
        let is_active = u64::from(e.seg()) == self.active().id;
        let data = if is_active && off >= self.flushed {
            let at = (off - self.flushed) as usize;
            self.buf[at..at + len].to_vec()
        } else {
            self.cache
                .lock()
                .read(seg, off, len)
                .map_err(|err| io_err(&seg.path, err))?
        };
        let bad = |why: String| corrupt(&seg.path, format!("record of seq {seq} at {off}: {why}"));
        let (rec, _) = super::segment::decode(&data).map_err(bad)?;
        if rec.kind != KIND_MSG || rec.seq != seq {
            return Err(bad(format!("found kind {} seq {}", rec.kind, rec.seq)));
        }
        let (headers, payload, ts) = (rec.headers, rec.payload, rec.ts);
        let data = Bytes::from(data);
        Ok(StoredMsg {
            seq,
            subject: self.index.subject_name(e.subj()).clone(),
            headers: headers.map(|(a, b)| data.slice(a..b)),
            payload: data.slice(payload.0..payload.1),
            time_ns: ts,
        })
    }

    /// Removes what `plan` selects (the store keeps messages, or removal is expiry): writes a
    /// purge marker or tombstones, then updates the index and deletes dead segments.
    fn remove_planned(&mut self, plan: &Plan) -> Result<u64, StoreError> {
        self.since_mark = true;
        self.make_room(REC_FIXED)?;
        let start = self.active_len();
        let base = self.active().base;
        let mut ext = 0;
        match plan {
            Plan::All => self.put(start, KIND_PURGE, self.index.last_seq() + 1, 0)?,
            &Plan::Below(below) => self.put(start, KIND_PURGE, below, self.index.last_ts())?,
            Plan::Seqs(seqs) => {
                for &seq in seqs {
                    self.put(start, KIND_TOMB, seq, 0)?;
                    ext += u64::from(seq < base);
                }
            }
        }
        if !matches!(plan, Plan::Seqs(_)) {
            ext += 1;
        }
        let last = self.segs.len() - 1;
        self.segs[last].ext += ext;
        let segs = &mut self.segs;
        let mut dead = false;
        let n = self
            .index
            .apply(plan, |_, e| dead |= dec_live(segs, e.seg()));
        self.maybe_dead |= dead;
        self.reap();
        Ok(n)
    }

    /// Replaces everything with an empty store whose next sequence is `next`: a new reset
    /// segment, then the old ones are deleted.
    fn reset_to(&mut self, next: u64) -> Result<(), StoreError> {
        self.since_mark = true;
        self.roll(Some(next))?;
        let ts = self.index.last_ts();
        self.index.reset(next, ts);
        let last = self.segs.len() - 1;
        for s in &mut self.segs[..last] {
            s.live = 0;
        }
        self.maybe_dead = true;
        self.reap();
        Ok(())
    }
}

impl MsgStore for FileStore {
    fn msg_size(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        super::file_msg_size(subject, headers, payload)
    }

    fn append(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.index.last_seq() + 1;
        self.append_at(seq, subject, headers, payload, time_ns)?;
        Ok(seq)
    }

    fn append_at(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<(), StoreError> {
        self.check()?;
        let last = self.index.last_seq();
        if seq <= last {
            return Err(StoreError::OutOfOrder { seq, last });
        }
        let total = msg_len(subject, headers, payload);
        if subject.len() > usize::from(u16::MAX) || total > MAX_RECORD {
            return Err(StoreError::TooLarge);
        }
        self.make_room(total)?;
        self.since_mark = true;
        let off = self.active_len();
        let mark = self.buf.len();
        encode(
            &mut self.buf,
            KIND_MSG,
            seq,
            time_ns,
            subject,
            headers,
            payload,
        );
        if self.buf.len() >= BUF_CAP {
            if let Err(e) = self.flush() {
                self.buf.truncate(mark);
                return Err(e);
            }
        }
        let last = self.segs.len() - 1;
        let seg = &mut self.segs[last];
        seg.live += 1;
        let entry = FileEntry::new(
            seg.id as u32,
            off as u32,
            total as u32,
            headers.is_some_and(|h| !h.is_empty()),
            self.index.intern(subject),
            time_ns,
        );
        // A record keeps its sequence, so a gap before it comes back on replay.
        self.index.push(seq, entry);
        Ok(())
    }

    fn skip_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError> {
        self.check()?;
        let next = next.min(MAX_SEQ);
        if next <= self.index.last_seq() + 1 {
            return Ok(());
        }
        self.since_mark = true;
        self.index.set_floor(next, last_ts);
        // A new segment's header raises the last sequence to its base - 1 on replay: the gap
        // survives a restart with no message after it.
        self.roll(None)
    }

    fn clear_to(&mut self, next: u64, last_ts: i64) -> Result<(), StoreError> {
        self.check()?;
        let next = next.clamp(1, MAX_SEQ);
        // The index first, so that the reset segment's header carries `last_ts`.
        self.index.reset(next, last_ts);
        self.reset_to(next)
    }

    fn write_out(&mut self) -> Result<(), StoreError> {
        self.check()?;
        self.flush()
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.sync_now()?;
        if self.recovery.truncate_after_last_mark {
            // Segments left dead since the last mark may go now (if this made a mark durable
            // with nothing written after it).
            self.reap();
        }
        Ok(())
    }

    fn mark(&mut self, index: u64, term: u64) -> Result<(), StoreError> {
        self.put_mark(index, term)
    }

    fn last_mark(&self) -> Option<(u64, u64)> {
        self.last_mark
    }

    fn reload(&mut self) -> Result<u64, StoreError> {
        self.check()?;
        let before = self.index.msgs();
        let config = FileStoreConfig {
            segment_bytes: self.seg_cap,
        };
        // The active segment was cut back to its last whole write when the write failed, so
        // the files hold exactly what was written. Until the fresh copy is read, this one
        // stays as it is (its index may point into the buffer).
        match super::recover::open_paged(&self.dir, config, self.recovery, self.paging) {
            Ok(fresh) => {
                self.buf.clear();
                *self = fresh;
                Ok(before.saturating_sub(self.index.msgs()))
            }
            Err(e) => {
                let why = format!("re-reading the store after a failed write failed: {e}");
                tracing::error!(path = %self.dir.display(), "{why}");
                self.failed = Some(why);
                Err(e)
            }
        }
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.get(seq) {
            Some(e) => self.read_msg(seq, &e).map(Some),
            None => Ok(None),
        }
    }

    fn next_matching(
        &self,
        from_seq: u64,
        filter: Option<&str>,
    ) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.next_matching(from_seq, filter) {
            Some((seq, e)) => self.read_msg(seq, &e).map(Some),
            None => Ok(None),
        }
    }

    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.last_matching(filter) {
            Some((seq, e)) => self.read_msg(seq, &e).map(Some),
            None => Ok(None),
        }
    }

    fn subject_count(&self, subject: &str) -> u64 {
        self.index.subject_count(subject)
    }

    fn first_seq_of_subject(&self, subject: &str) -> Option<u64> {
        self.index.first_seq_of_subject(subject)
    }

    fn delete(&mut self, seq: u64) -> Result<bool, StoreError> {
        self.check()?;
        if self.index.get(seq).is_none() {
            return Ok(false);
        }
        self.remove_planned(&Plan::Seqs(vec![seq]))?;
        Ok(true)
    }

    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError> {
        self.check()?;
        let plan = self.index.plan_purge(purge);
        if self.index.is_noop(&plan) {
            return Ok(0);
        }
        if !self.index.empties(&plan) {
            return self.remove_planned(&plan);
        }
        let n = self.index.msgs();
        let next = match plan {
            Plan::Below(below) => below.max(self.index.last_seq() + 1),
            _ => self.index.last_seq() + 1,
        };
        self.reset_to(next)?;
        Ok(n)
    }

    fn expire_before(&mut self, cutoff_ns: i64) -> Result<u64, StoreError> {
        self.check()?;
        let plan = self.index.plan_expire(cutoff_ns);
        if self.index.is_noop(&plan) {
            return Ok(0);
        }
        self.remove_planned(&plan)
    }

    fn state(&self) -> StoreState {
        self.index.state()
    }

    fn set_next_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.check()?;
        let seq = seq.clamp(1, MAX_SEQ);
        if self.index.msgs() > 0 || seq == self.index.first_seq() {
            return Ok(());
        }
        self.reset_to(seq)
    }

    fn subjects(&self) -> Vec<(Arc<str>, u64)> {
        self.index.subjects()
    }

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        let mut this = *self;
        this.buf.clear();
        let dir = std::mem::take(&mut this.dir);
        drop(this);
        fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if self.failed.is_none() && !self.segs.is_empty() {
            if let Err(e) = self.flush() {
                tracing::warn!(error = %e, "file store: flush on drop failed");
            }
        }
    }
}
