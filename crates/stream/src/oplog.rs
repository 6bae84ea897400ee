//! The operation log in front of apply (issue 16, step 4): the seam where issue 18 puts Raft.
//!
//! A stream's owner (`writer.rs`) does not apply what its mailbox brings directly. Each step it
//! turns the mailbox's commands into [`StreamOp`]s and proposes them to its [`OpLog`] as one
//! batch ([`OpLog::append`]: consecutive indexes); the log hands back, in index order, the
//! entries that may be applied ([`OpLog::ready`]); the owner applies each through the one
//! entry point (`shell::run_op`: pure apply, then effects), makes what it wrote durable, tells
//! the log ([`OpLog::persisted`]), and releases the PubAcks and API answers of the entries at or
//! below the log's commit index ([`OpLog::committed`]) only. If it cannot make them durable it
//! abandons what is not committed ([`OpLog::abandon`]) and answers those entries with errors.
//!
//! ## The local log ([`LocalLog`])
//!
//! For a file stream the stream's own segment files are the durable log: applying a publish
//! writes its record there. So the local log keeps nothing of its own: `append` numbers the
//! ops and hands them straight back to be applied in order, and an entry is committed when the
//! owner's group-commit fdatasync after the batch (or, under `--sync <interval>`, the write to
//! the OS that every acked batch gets) succeeds. A memory stream's log is the same, committed
//! at once. Indexes start at 1 in every process and are not stored: nothing reads the log
//! back, the stream is reopened from its segments.
//!
//! Snapshots ([`OpLog::snapshot`], [`OpLog::install`]) are not implemented by the local log,
//! and need not be: a snapshot exists so that a log can be compacted and a lagging or new
//! replica brought up to date without replaying the whole log. The local log holds no entries
//! after they are applied (the segments are the state, and limits already remove old ones) and
//! there is no other replica, so it has nothing to compact and nobody to send a snapshot to.
//!
//! ## What the Raft log (issue 18) changes
//!
//! - `append` replicates the batch (openraft `client_write`) instead of handing it back:
//!   `ready` yields entries only once a majority has them (committed), on leaders and
//!   followers alike, so apply runs after commit, not before it as here.
//! - `committed` is Raft's commit index; `persisted` becomes a no-op for commitment (the
//!   stream's files are then the state machine, not the log; its own log storage is
//!   openraft's `RaftLogStorage`).
//! - `abandon` is what a leader that lost its term does with entries it proposed and that
//!   were not committed: their publishers get errors and retry.
//! - `snapshot` / `install` carry the machine's state (the stream's messages and consumer
//!   states) for openraft's `RaftStateMachine::build_snapshot` / `install_snapshot`.
//! - Only the leader sends acks, answers and deliveries; a follower applies and drops them.

use crate::op::StreamOp;
use std::ops::RangeInclusive;

/// The position of an entry in the log; the first entry is 1, 0 means "none".
pub(crate) type Index = u64;

/// A snapshot of the machine the log's entries build, as of an index.
#[allow(dead_code)] // made by the Raft log (issue 18)
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogSnapshot {
    /// The last entry the snapshot includes.
    pub last_index: Index,
    pub data: Vec<u8>,
}

/// A log that does not take snapshots (see the module doc for why the local one needs none).
// A replicated stream's snapshots are its Raft group's (`cluster/stream_machine.rs`), not
// this trait's: the local log takes none.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this op log does not take snapshots")]
pub(crate) struct NoSnapshots;

/// The operation log in front of apply. See the module doc.
// `snapshot` / `install` are unused: the local log needs none, and a replicated stream's
// group takes its own (`cluster/stream_machine.rs`).
#[allow(dead_code)]
pub(crate) trait OpLog {
    /// Proposes `ops` (taken out of the vector, which keeps its capacity) as consecutive
    /// entries after the last one. Returns their indexes (empty if there were none).
    fn append(&mut self, ops: &mut Vec<StreamOp>) -> RangeInclusive<Index>;

    /// Moves the ops of the entries that may be applied now to `out` (empty), in index order,
    /// each once, and returns the index of the first (the others follow it, consecutively).
    /// Ops are moved in bulk, not one by one: the publish path goes through here.
    fn ready(&mut self, out: &mut Vec<StreamOp>) -> Index;

    /// The index of the last entry appended.
    fn last_index(&self) -> Index;

    /// The commit index: the outcomes of entries up to here may be released.
    fn committed(&self) -> Index;

    /// What the owner applied through `index` is durable (local: its sync succeeded).
    fn persisted(&mut self, index: Index);

    /// The entries after the commit index cannot be made durable: they are dropped, and
    /// their outcomes must be answered as failures. Returns their indexes.
    fn abandon(&mut self) -> RangeInclusive<Index>;

    /// The machine's state as of the commit index, for compaction and lagging replicas.
    fn snapshot(&self) -> Result<LogSnapshot, NoSnapshots>;

    /// Replaces everything up to the snapshot's index with the snapshot.
    fn install(&mut self, snapshot: LogSnapshot) -> Result<(), NoSnapshots>;
}

/// The local log of one stream: see the module doc.
#[derive(Debug, Default)]
pub(crate) struct LocalLog {
    last: Index,
    committed: Index,
    /// Appended, not yet handed out for apply: the ops of entries `pending_first..=last`.
    /// Vectors are swapped, not copied, between the owner and the log, so their buffers go
    /// round and no op is moved twice.
    pending: Vec<StreamOp>,
    pending_first: Index,
}

impl LocalLog {
    pub(crate) fn new() -> Self {
        LocalLog {
            pending_first: 1,
            ..LocalLog::default()
        }
    }
}

/// Moves everything in `from` to the end of `to`: by swapping the two when `to` is empty.
fn take_all(to: &mut Vec<StreamOp>, from: &mut Vec<StreamOp>) {
    if to.is_empty() {
        std::mem::swap(to, from);
    } else {
        to.append(from);
    }
}

impl OpLog for LocalLog {
    fn append(&mut self, ops: &mut Vec<StreamOp>) -> RangeInclusive<Index> {
        let first = self.last + 1;
        self.last += ops.len() as Index;
        take_all(&mut self.pending, ops);
        first..=self.last
    }

    fn ready(&mut self, out: &mut Vec<StreamOp>) -> Index {
        let first = self.pending_first;
        take_all(out, &mut self.pending);
        self.pending_first = self.last + 1;
        first
    }

    fn last_index(&self) -> Index {
        self.last
    }

    fn committed(&self) -> Index {
        self.committed
    }

    fn persisted(&mut self, index: Index) {
        // Only what was applied can be durable: everything appended was handed out.
        let applied = self.pending_first - 1;
        self.committed = self.committed.max(index.min(applied));
    }

    fn abandon(&mut self) -> RangeInclusive<Index> {
        // What was applied and not made durable (the owner drops it from the store: see
        // `writer::forget_unwritten`); entries not yet applied are dropped here. Indexes are
        // not given again: the next entry follows the last one appended.
        self.pending.clear();
        self.pending_first = self.last + 1;
        let lost = self.committed + 1..=self.last;
        self.committed = self.last;
        lost
    }

    fn snapshot(&self) -> Result<LogSnapshot, NoSnapshots> {
        Err(NoSnapshots)
    }

    fn install(&mut self, _snapshot: LogSnapshot) -> Result<(), NoSnapshots> {
        Err(NoSnapshots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(times: &[i64]) -> Vec<StreamOp> {
        times
            .iter()
            .map(|&now_ns| StreamOp::Tick { now_ns })
            .collect()
    }

    fn times(first: Index, ops: &[StreamOp]) -> Vec<(Index, i64)> {
        (first..)
            .zip(ops)
            .map(|(i, op)| match op {
                StreamOp::Tick { now_ns } => (i, *now_ns),
                _ => unreachable!(),
            })
            .collect()
    }

    /// Drives any log the way the owner does.
    fn owner_round<L: OpLog>(
        log: &mut L,
        ops: &[i64],
        out: &mut Vec<StreamOp>,
    ) -> Vec<(Index, i64)> {
        let mut batch = ticks(ops);
        log.append(&mut batch);
        assert!(batch.is_empty());
        let first = log.ready(out);
        let got = times(first, out);
        out.clear();
        got
    }

    #[test]
    fn consecutive_indexes_in_order() {
        let mut log = LocalLog::new();
        assert_eq!((log.last_index(), log.committed()), (0, 0));
        let mut batch = ticks(&[10, 11, 12]);
        assert_eq!(log.append(&mut batch), 1..=3);
        assert!(batch.is_empty());
        assert_eq!(log.append(&mut Vec::new()).count(), 0);
        assert_eq!(log.append(&mut ticks(&[13])), 4..=4);
        let mut out = Vec::new();
        let first = log.ready(&mut out);
        assert_eq!(times(first, &out), vec![(1, 10), (2, 11), (3, 12), (4, 13)]);
        out.clear();
        assert_eq!(log.ready(&mut out), 5);
        assert!(out.is_empty(), "each entry is handed out once");
        assert_eq!(
            owner_round(&mut log, &[14, 15], &mut out),
            [(5, 14), (6, 15)]
        );
    }

    #[test]
    fn committed_only_when_persisted_and_only_what_was_applied() {
        let mut log = LocalLog::new();
        let mut out = Vec::new();
        owner_round(&mut log, &[1, 2, 3], &mut out);
        assert_eq!(log.committed(), 0, "applied is not committed");
        log.persisted(2);
        assert_eq!(log.committed(), 2);
        log.persisted(1);
        assert_eq!(log.committed(), 2, "the commit index never goes back");
        // Appended but not yet applied: cannot be durable.
        log.append(&mut ticks(&[4, 5]));
        log.persisted(5);
        assert_eq!(log.committed(), 3);
        log.ready(&mut out);
        log.persisted(5);
        assert_eq!(log.committed(), 5);
    }

    #[test]
    fn abandon_drops_what_is_not_committed_and_goes_on_after_it() {
        let mut log = LocalLog::new();
        let mut out = Vec::new();
        owner_round(&mut log, &[1, 2], &mut out);
        log.persisted(2);
        owner_round(&mut log, &[3, 4], &mut out);
        log.append(&mut ticks(&[5]));
        assert_eq!(log.abandon(), 3..=5);
        out.clear();
        assert_eq!(log.ready(&mut out), 6);
        assert!(out.is_empty(), "abandoned entries are not applied");
        assert_eq!(log.abandon().count(), 0);
        assert_eq!(owner_round(&mut log, &[6], &mut out), [(6, 6)]);
        log.persisted(6);
        assert_eq!(log.committed(), 6);
    }

    #[test]
    fn the_local_log_takes_no_snapshots() {
        let mut log = LocalLog::new();
        assert_eq!(log.snapshot(), Err(NoSnapshots));
        let snap = LogSnapshot {
            last_index: 1,
            data: Vec::new(),
        };
        assert_eq!(log.install(snap), Err(NoSnapshots));
    }
}
