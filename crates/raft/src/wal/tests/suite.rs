//! openraft's own storage test suite on a group of the write-ahead log, with a small
//! in-memory state machine (the suite tests the state machine side too).

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{AnyError, EntryPayload, RaftSnapshotBuilder, StorageIOError};
use parking_lot::Mutex;

use crate::types::{Entry, LogId, StorageError, StoredMembership, TypeConfig};
use crate::wal::{GroupLog, Wal, WalOptions};

#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
struct SmState {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// Every normal entry's data, in order.
    data: Vec<bytes::Bytes>,
}

#[derive(Default)]
struct SmInner {
    state: SmState,
    snapshot: Option<(SnapshotMeta<u64, openraft::BasicNode>, Vec<u8>)>,
    built: u64,
}

/// A state machine in memory: what the suite needs and nothing more.
#[derive(Default, Clone)]
pub(crate) struct MemSm(Arc<Mutex<SmInner>>);

fn sm_err(e: impl ToString) -> StorageError {
    StorageError::IO {
        source: StorageIOError::write_state_machine(AnyError::error(e)),
    }
}

impl MemSm {
    /// Every normal entry's data applied, in order.
    pub(crate) fn applied_data(&self) -> Vec<bytes::Bytes> {
        self.0.lock().state.data.clone()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for MemSm {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut g = self.0.lock();
        let bytes = serde_json::to_vec(&g.state).map_err(sm_err)?;
        g.built += 1;
        let meta = SnapshotMeta {
            last_log_id: g.state.last_applied,
            last_membership: g.state.membership.clone(),
            snapshot_id: format!("snap-{}", g.built),
        };
        g.snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemSm {
    type SnapshotBuilder = MemSm;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let g = self.0.lock();
        Ok((g.state.last_applied, g.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut g = self.0.lock();
        let mut out = Vec::new();
        for e in entries {
            g.state.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(d) => g.state.data.push(d),
                EntryPayload::Membership(m) => {
                    g.state.membership = StoredMembership::new(Some(e.log_id), m)
                }
            }
            out.push(());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let state: SmState = serde_json::from_slice(&bytes).map_err(sm_err)?;
        let mut g = self.0.lock();
        g.state = state;
        g.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let g = self.0.lock();
        Ok(g.snapshot.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.clone())),
        }))
    }
}

/// Each build: a fresh directory, a fresh log, one group on it.
struct WalBuilder {
    opts: WalOptions,
}

impl StoreBuilder<TypeConfig, GroupLog, MemSm, (Wal, tempfile::TempDir)> for WalBuilder {
    async fn build(&self) -> Result<((Wal, tempfile::TempDir), GroupLog, MemSm), StorageError> {
        let dir = tempfile::tempdir().map_err(sm_err)?;
        let wal = Wal::open(dir.path(), self.opts).map_err(sm_err)?;
        // Another group on the same log, so that the suite's group shares it.
        let other = wal.group("other");
        openraft::storage::RaftLogStorage::save_vote(
            &mut other.clone(),
            &openraft::Vote::new(9, 9),
        )
        .await?;
        let log = wal.group("suite");
        Ok(((wal, dir), log, MemSm::default()))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(WalBuilder {
        opts: WalOptions::default(),
    })
    .unwrap();
}

#[test]
fn openraft_storage_suite_small_segments_interval_sync() {
    Suite::test_all(WalBuilder {
        opts: WalOptions {
            segment_bytes: 256,
            sync: crate::wal::SyncMode::Interval(std::time::Duration::from_millis(5)),
            queue_depth: 2,
            ..WalOptions::default()
        },
    })
    .unwrap();
}

/// Every read of a written entry goes to the segments.
#[test]
fn openraft_storage_suite_no_memory_budget() {
    Suite::test_all(WalBuilder {
        opts: WalOptions {
            memory_per_group: 0,
            segment_bytes: 512,
            ..WalOptions::default()
        },
    })
    .unwrap();
}

/// A few entries in memory, the rest read back.
#[test]
fn openraft_storage_suite_tiny_memory_budget() {
    Suite::test_all(WalBuilder {
        opts: WalOptions {
            memory_per_group: 300,
            sync: crate::wal::SyncMode::Interval(std::time::Duration::from_millis(5)),
            ..WalOptions::default()
        },
    })
    .unwrap();
}
