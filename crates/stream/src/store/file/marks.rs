//! Apply marks in the file store: writing them, keeping the last one when the segment that
//! holds it is deleted or rewritten, and holding back deletions in a store opened with
//! `truncate_after_last_mark`.
//!
//! Such a store is a Raft state machine's state. On open it drops every record after the
//! last mark (a batch that was not completely applied; it is applied again from the Raft log),
//! and what is left must be the state as of that mark. So what those records did must not
//! have reached the disk another way: a segment whose messages they removed must still be
//! there. Dead segments are therefore deleted, and sparse ones compacted, only while the last
//! mark is durable with nothing written after it (right after the `sync` that ends a batch,
//! which then does it). Copies of the last mark written when records are carried forward, or
//! the segment holding it goes, keep it last in record order and never lose it.

use super::FileStore;
use crate::store::segment::{KIND_MARK, REC_FIXED};
use crate::store::StoreError;

/// How a file store recovers on open ([`FileStore::open_with`]).
///
/// A store is meant to be opened always with the same options: one opened without
/// `truncate_after_last_mark` deletes segments and carries its mark forward whenever it
/// likes, so the records after its last mark no longer tell what a crash interrupted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Drop every record after the last apply mark (in record order across segments): the
    /// mark's segment is cut at the end of the mark, later segments are removed, and the
    /// state is rebuilt without them. A store with no mark at all (a fresh replica, which has
    /// applied nothing yet or holds data from before it was replicated) is kept as it is.
    /// Off (every non-replicated stream): marks change nothing but what
    /// [`crate::store::MsgStore::last_mark`] reports.
    pub truncate_after_last_mark: bool,
}

impl FileStore {
    /// Appends a mark record (a new segment first if the active one is full).
    pub(crate) fn put_mark(&mut self, index: u64, term: u64) -> Result<(), StoreError> {
        self.check()?;
        self.make_room(REC_FIXED)?;
        let start = self.active_len();
        self.put(start, KIND_MARK, index, term as i64)?;
        self.last_mark = Some((index, term));
        self.mark_seg = self.active().id;
        self.since_mark = false;
        self.mark_unsynced = true;
        Ok(())
    }

    /// Buffers a copy of the last mark (if any) for the active segment, which then holds it;
    /// on failure rolls back to `start`. Not synced.
    pub(crate) fn copy_mark(&mut self, start: u64) -> Result<(), StoreError> {
        if let Some((index, term)) = self.last_mark {
            self.put(start, KIND_MARK, index, term as i64)?;
            self.mark_seg = self.active().id;
        }
        Ok(())
    }

    /// Before segment `i` is deleted: if it holds the last mark, writes a copy of it to the
    /// active segment and syncs it.
    pub(crate) fn save_mark_of(&mut self, i: usize) -> Result<(), StoreError> {
        if self.last_mark.is_none() || self.segs[i].id != self.mark_seg {
            return Ok(());
        }
        let start = self.active_len();
        self.copy_mark(start)?;
        self.sync_now()
    }

    /// Whether segments may be deleted or rewritten now: unless the store drops records after
    /// its last mark on open, always; otherwise when there is no mark yet (everything is then
    /// kept on open) or the last mark is durable and nothing was written after it.
    pub(crate) fn may_drop(&self) -> bool {
        !self.recovery.truncate_after_last_mark
            || self.last_mark.is_none()
            || (!self.since_mark && !self.mark_unsynced)
    }
}
