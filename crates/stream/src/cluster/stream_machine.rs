//! A stream group's machine ([`StreamMachine`]): what openraft applies, snapshots and
//! installs, handed to the stream's owner (whose state it is) in order through its mailbox.
//!
//! Snapshots: the owner's state as bytes (`writer/image.rs`: config, messages, duplicate
//! window, consumers, last index applied). A group takes one when the entries applied since
//! the last one exceed twice the stream's bytes and `snapshot_log_bytes` (so a snapshot costs
//! at most about half of what it lets the log drop), and only while the stream holds at most
//! [`MAX_SNAPSHOT_STREAM`] (the snapshot is built and kept in memory; a larger stream keeps
//! its log). openraft then purges the log below it, keeps it in the group's directory (a
//! restarting replica starts from it and replays only the entries after it) and sends it to a
//! member behind the purged log (one back on an emptied disk, a new one).

use crate::cluster::entry::StreamEntry;
use crate::replication::Replica;
use crate::snapshot::SnapshotCell;
use crate::writer::{Cmd, CommittedEntries, ImageCmd, WriterTx};
use sluice_raft::{Committed, Machine};
use std::sync::Arc;
use tracing::error;

/// The largest stream (in stored bytes) whose group takes snapshots.
pub const MAX_SNAPSHOT_STREAM: u64 = 64 << 20;

/// See the module doc.
pub(crate) struct StreamMachine {
    tx: WriterTx,
    group: String,
    replica: Arc<Replica>,
    /// The stream's latest state, as its owner published it (for its bytes).
    state: Arc<SnapshotCell>,
    min_log: u64,
    /// Bytes of entries applied since the last snapshot.
    since: u64,
    /// A snapshot was asked for and has not been taken yet.
    asked: bool,
}

impl StreamMachine {
    pub(crate) fn new(
        tx: WriterTx,
        group: &str,
        replica: Arc<Replica>,
        state: Arc<SnapshotCell>,
        min_log: u64,
    ) -> Self {
        StreamMachine {
            tx,
            group: group.to_owned(),
            replica,
            state,
            min_log,
            since: 0,
            asked: false,
        }
    }

    /// Asks openraft for a snapshot when the log since the last one is worth dropping.
    fn maybe_snapshot(&mut self) {
        let bytes = self.state.get().state.bytes;
        if self.asked
            || bytes > MAX_SNAPSHOT_STREAM
            || self.since <= self.min_log.max(bytes.saturating_mul(2))
        {
            return;
        }
        let Some(raft) = self.replica.raft.get().cloned() else {
            return;
        };
        self.asked = true;
        // Not awaited here: openraft builds it on this machine's worker, after this apply.
        let group = self.group.clone();
        self.replica.rt.spawn(async move {
            if let Err(e) = raft.trigger().snapshot().await {
                tracing::debug!(group = %group, error = %e, "asking for a snapshot failed");
            }
        });
    }

    async fn ask_owner<T>(
        &self,
        cmd: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, String>>) -> ImageCmd,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if !self.tx.send(Cmd::Image(Box::new(cmd(tx)))) {
            return Err(format!("{}: the stream's owner has stopped", self.group));
        }
        rx.await
            .map_err(|_| format!("{}: the stream's owner has stopped", self.group))?
    }
}

impl Machine for StreamMachine {
    async fn apply(&mut self, entries: Vec<Committed>) {
        let mut out = Vec::with_capacity(entries.len());
        for c in entries {
            self.since += c.data.len() as u64;
            match StreamEntry::decode(&c.data) {
                Ok(e) => out.push((c.log_id.index, e)),
                // Every replica reads the same bytes and skips the same entry.
                Err(e) => {
                    error!(group = %self.group, index = c.log_id.index, error = %e, "an unreadable stream entry is skipped")
                }
            }
        }
        if out.is_empty() {
            return;
        }
        let (done, applied) = tokio::sync::oneshot::channel();
        let cmd = Cmd::Committed(Box::new(CommittedEntries { entries: out, done }));
        if self.tx.send(cmd) {
            let _ = applied.await;
        }
        self.maybe_snapshot();
    }

    async fn snapshot(&mut self) -> Result<Vec<u8>, String> {
        self.since = 0;
        self.asked = false;
        self.ask_owner(ImageCmd::Take).await
    }

    async fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        self.since = 0;
        let data = data.to_vec();
        self.ask_owner(move |tx| ImageCmd::Restore(data, tx)).await
    }
}
