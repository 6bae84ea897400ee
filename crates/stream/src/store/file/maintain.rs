//! Deleting dead segments (and compacting sparse ones). Both keep the last apply mark and
//! wait for it as `file/marks.rs` says.

use super::{sync_dir, FileStore, KIND_MARK, KIND_PURGE, KIND_TOMB};
use crate::store::segment::{encode, io_err, scan, HEADER_LEN};
use crate::store::StoreError;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

impl FileStore {
    /// Deletes segments with no live messages (never the active one). Failures are logged
    /// and retried next time. Waits while [`FileStore::may_drop`] says no.
    pub(crate) fn reap(&mut self) {
        if !self.maybe_dead || !self.may_drop() {
            return;
        }
        self.maybe_dead = false;
        let mut i = 0;
        while i + 1 < self.segs.len() {
            let s = &self.segs[i];
            if s.live > 0 || (i > 0 && s.reset) {
                i += 1;
                continue;
            }
            if i > 0 && s.ext > 0 {
                if let Err(e) = self.carry_forward(i) {
                    tracing::warn!(path = %self.segs[i].path.display(), error = %e, "cannot carry records forward; keeping dead segment");
                    self.maybe_dead = true;
                    i += 1;
                    continue;
                }
            }
            if let Err(e) = self.save_mark_of(i) {
                tracing::warn!(path = %self.segs[i].path.display(), error = %e, "cannot carry the apply mark forward; keeping dead segment");
                self.maybe_dead = true;
                i += 1;
                continue;
            }
            if !self.header_synced {
                if let Err(e) = self.sync_now() {
                    tracing::warn!(error = %e, "cannot sync before deleting dead segments");
                    self.maybe_dead = true;
                    return;
                }
            }
            let path = self.segs[i].path.clone();
            match fs::remove_file(&path) {
                Ok(()) => {
                    self.segs.remove(i);
                    self.dir_unsynced = true;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete dead segment");
                    self.maybe_dead = true;
                    i += 1;
                }
            }
        }
    }

    /// Copies to the active segment what dead segment `i` holds for older segments: a purge
    /// marker at the current first sequence (covering any it had) and its tombstones of
    /// messages that may still be on disk, then a copy of the last mark if there is one (so
    /// that they come before it); then syncs them.
    fn carry_forward(&mut self, i: usize) -> Result<(), StoreError> {
        let (base, oldest) = (self.segs[i].base, self.segs[0].base);
        let first = self.index.first_seq();
        let mut tombs = Vec::new();
        {
            let s = &self.segs[i];
            let len = s.file.metadata().map_err(|e| io_err(&s.path, e))?.len();
            scan(&s.file, &s.path, len, |_, _, rec| {
                if rec.kind == KIND_TOMB && rec.seq < base && rec.seq >= first.max(oldest) {
                    tombs.push(rec.seq);
                }
                Ok(())
            })?;
        }
        // No rollover here, even past segment_bytes: a new segment would leave the active one
        // sealed, possibly dead, and carrying its records again could go on forever.
        let start = self.active_len();
        self.put(start, KIND_PURGE, first, self.index.last_ts())?;
        for &seq in &tombs {
            self.put(start, KIND_TOMB, seq, 0)?;
        }
        self.copy_mark(start)?;
        let last = self.segs.len() - 1;
        self.segs[last].ext += 1 + tombs.len() as u64;
        self.sync_now()
    }

    /// Rewrites sealed segments whose live messages fill less than half of the file, keeping
    /// only those messages and the records that still act on older segments; returns the
    /// bytes reclaimed. Not part of [`MsgStore`]: meant for a background task now and then.
    /// Each rewrite goes to `<id>.seg.tmp`, is synced, and renamed over the original, so a
    /// crash leaves either version (stray temp files are removed on open). In a store opened
    /// with `truncate_after_last_mark`, does nothing (returns 0) unless the last apply mark is
    /// durable with nothing written after it (`file/marks.rs`). A segment holding the last
    /// mark keeps it, after everything else.
    pub fn compact(&mut self) -> Result<u64, StoreError> {
        self.check()?;
        if !self.may_drop() {
            return Ok(0);
        }
        let mut reclaimed = 0;
        for i in 0..self.segs.len().saturating_sub(1) {
            let s = &self.segs[i];
            if s.live == 0 {
                continue;
            }
            let file_len = s.file.metadata().map_err(|e| io_err(&s.path, e))?.len();
            let mut live_bytes = 0u64;
            self.index
                .each_live_in(s.base, self.segs[i + 1].base, |_, e| {
                    if u64::from(e.seg()) == s.id {
                        live_bytes += u64::from(e.len());
                    }
                });
            if live_bytes * 2 < file_len - HEADER_LEN as u64 {
                reclaimed += self.rewrite(i, file_len)?;
            }
        }
        Ok(reclaimed)
    }

    fn rewrite(&mut self, i: usize, file_len: u64) -> Result<u64, StoreError> {
        let (oldest, first) = (self.segs[0].base, self.index.first_seq());
        let s = &self.segs[i];
        let (id, base, end) = (s.id, s.base, self.segs[i + 1].base);
        let mut out = vec![0u8; HEADER_LEN];
        s.file
            .read_exact_at(&mut out, 0)
            .map_err(|e| io_err(&s.path, e))?;
        let mut moves = Vec::with_capacity(s.live as usize);
        let mut failed = None;
        self.index.each_live_in(base, end, |seq, e| {
            if u64::from(e.seg()) != id || failed.is_some() {
                return;
            }
            let at = out.len();
            out.resize(at + e.len() as usize, 0);
            match s.file.read_exact_at(&mut out[at..], u64::from(e.off())) {
                Ok(()) => moves.push((seq, at as u32)),
                Err(err) => failed = Some(io_err(&s.path, err)),
            }
        });
        if let Some(err) = failed {
            return Err(err);
        }
        let mut ext = 0;
        if s.ext > 0 {
            // Tombstones of messages that may still be on disk; a purge marker at the current
            // first sequence covers those below it (and any marker the segment had).
            let (mut tombs, mut marker) = (Vec::new(), false);
            scan(&s.file, &s.path, file_len, |_, _, rec| {
                marker |= rec.kind == KIND_PURGE;
                if rec.kind == KIND_TOMB && rec.seq < base && rec.seq >= oldest {
                    tombs.push(rec.seq);
                }
                Ok(())
            })?;
            let below = tombs.iter().filter(|&&t| t < first).count();
            if marker || below > 1 {
                tombs.retain(|&t| t >= first);
                encode(&mut out, KIND_PURGE, first, 0, "", None, &[]);
                ext += 1;
            }
            for &seq in &tombs {
                encode(&mut out, KIND_TOMB, seq, 0, "", None, &[]);
            }
            ext += tombs.len() as u64;
        }
        if let Some((index, term)) = self.last_mark.filter(|_| id == self.mark_seg) {
            encode(&mut out, KIND_MARK, index, term as i64, "", None, &[]);
        }
        if out.len() as u64 >= file_len {
            return Ok(0);
        }
        let tmp = s.path.with_extension("seg.tmp");
        let _ = fs::remove_file(&tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, e))?;
        let done = file
            .write_all_at(&out, 0)
            .and_then(|()| file.sync_data())
            .and_then(|()| fs::rename(&tmp, &s.path));
        if let Err(e) = done {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&tmp, e));
        }
        sync_dir(&self.dir)?;
        self.cache.get_mut().clear();
        let s = &mut self.segs[i];
        s.file = file;
        s.ext = ext;
        for (seq, off) in moves {
            if let Some(e) = self.index.get_mut(seq) {
                e.set_off(off);
            }
        }
        Ok(file_len - out.len() as u64)
    }
}
