//! The state machine a group feeds: the layer above's [`Machine`], and the adapter that makes
//! it openraft's `RaftStateMachine` ([`MachineStore`]).
//!
//! openraft hands committed entries to the adapter in log order, on every replica; the adapter
//! passes the application entries (opaque bytes) on to the machine, with their log ids, and
//! keeps what openraft needs to know: the last applied log id and membership.
//!
//! Snapshots: the machine serialises its state ([`Machine::snapshot`]) and is rebuilt from one
//! ([`Machine::restore`]). The adapter keeps the latest snapshot in a file in the group's
//! directory (written to a temporary file, fsynced, renamed, the directory fsynced), so that
//! after a restart the machine is rebuilt from it and openraft replays only the entries after
//! it. openraft purges log entries only once a snapshot covers them.

use crate::types::{LogId, NodeId, StorageError, StoredMembership, TypeConfig};
use bytes::Bytes;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, RaftSnapshotBuilder, SnapshotMeta, StorageIOError,
};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

/// A committed application entry, as the machine receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub log_id: LogId,
    pub data: Bytes,
}

/// What a group replicates into: the layer above's deterministic state machine.
pub trait Machine: Send + Sync + 'static {
    /// Applies committed entries, in log order, each once (after a restart, those after the
    /// snapshot it was restored from).
    fn apply(&mut self, entries: Vec<Committed>) -> impl Future<Output = ()> + Send;

    /// The machine's whole state, as bytes [`Machine::restore`] takes back.
    fn snapshot(&mut self) -> impl Future<Output = Result<Vec<u8>, String>> + Send;

    /// Replaces the machine's state with a snapshot's.
    fn restore(&mut self, data: &[u8]) -> impl Future<Output = Result<(), String>> + Send;
}

/// The snapshot file's contents.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
    data: Vec<u8>,
}

struct Inner<M> {
    machine: M,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// The latest snapshot (also in the file), for followers that need one.
    current: Option<(SnapshotMeta<NodeId, openraft::BasicNode>, Vec<u8>)>,
    /// Snapshots built by this process, to name them uniquely.
    built: u64,
}

/// openraft's state machine for a group: a [`Machine`] plus what openraft needs. Cheap to
/// clone (the snapshot builder is a clone).
pub struct MachineStore<M> {
    inner: Arc<Mutex<Inner<M>>>,
    path: PathBuf,
}

impl<M> Clone for MachineStore<M> {
    fn clone(&self) -> Self {
        MachineStore {
            inner: self.inner.clone(),
            path: self.path.clone(),
        }
    }
}

fn io_err(subject: ErrorSubject<NodeId>, verb: ErrorVerb, e: impl ToString) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(subject, verb, openraft::AnyError::error(e.to_string())),
    }
}

fn snap_err(verb: ErrorVerb, e: impl ToString) -> StorageError {
    io_err(ErrorSubject::Snapshot(None), verb, e)
}

impl<M: Machine> MachineStore<M> {
    /// The store of a group whose directory is `dir` (created if missing): `machine` is
    /// restored from the snapshot file there, if there is one.
    pub async fn open(dir: &Path, mut machine: M) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| snap_err(ErrorVerb::Read, e))?;
        let path = dir.join("snapshot");
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        let mut current = None;
        match std::fs::read(&path) {
            Ok(bytes) => {
                let file: SnapshotFile = bincode::deserialize(&bytes)
                    .map_err(|e| snap_err(ErrorVerb::Read, format!("{}: {e}", path.display())))?;
                machine
                    .restore(&file.data)
                    .await
                    .map_err(|e| snap_err(ErrorVerb::Read, format!("{}: {e}", path.display())))?;
                last_applied = file.meta.last_log_id;
                membership = file.meta.last_membership.clone();
                current = Some((file.meta, file.data));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(snap_err(
                    ErrorVerb::Read,
                    format!("{}: {e}", path.display()),
                ))
            }
        }
        let inner = Inner {
            machine,
            last_applied,
            membership,
            current,
            built: 0,
        };
        Ok(MachineStore {
            inner: Arc::new(Mutex::new(inner)),
            path,
        })
    }

    /// Runs `f` on the machine (between applies).
    pub async fn with<R>(&self, f: impl FnOnce(&mut M) -> R) -> R {
        f(&mut self.inner.lock().await.machine)
    }

    /// The last log id applied.
    pub async fn last_applied(&self) -> Option<LogId> {
        self.inner.lock().await.last_applied
    }

    fn save(&self, file: &SnapshotFile) -> std::io::Result<()> {
        let bytes = bincode::serialize(file).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl<M: Machine> RaftSnapshotBuilder<TypeConfig> for MachineStore<M> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut inner = self.inner.lock().await;
        let data = inner
            .machine
            .snapshot()
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        inner.built += 1;
        let snapshot_id = match inner.last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, inner.built),
            None => format!("0-0-{}", inner.built),
        };
        let meta = SnapshotMeta {
            last_log_id: inner.last_applied,
            last_membership: inner.membership.clone(),
            snapshot_id,
        };
        let file = SnapshotFile { meta, data };
        self.save(&file)
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        inner.current = Some((file.meta.clone(), file.data.clone()));
        Ok(Snapshot {
            meta: file.meta,
            snapshot: Box::new(Cursor::new(file.data)),
        })
    }
}

impl<M: Machine> RaftStateMachine<TypeConfig> for MachineStore<M> {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let inner = self.inner.lock().await;
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = crate::types::Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.inner.lock().await;
        let mut out = Vec::new();
        let mut answers = Vec::new();
        for entry in entries {
            inner.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(data) => out.push(Committed {
                    log_id: entry.log_id,
                    data,
                }),
                EntryPayload::Membership(m) => {
                    inner.membership = StoredMembership::new(Some(entry.log_id), m);
                }
            }
            answers.push(());
        }
        if !out.is_empty() {
            inner.machine.apply(out).await;
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let file = SnapshotFile {
            meta: meta.clone(),
            data,
        };
        // On disk first: if the restore below fails half way, a restart rebuilds from the file.
        self.save(&file)
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        let mut inner = self.inner.lock().await;
        inner
            .machine
            .restore(&file.data)
            .await
            .map_err(|e| snap_err(ErrorVerb::Read, e))?;
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner.current = Some((file.meta, file.data));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let inner = self.inner.lock().await;
        Ok(inner.current.as_ref().map(|(meta, data)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(data.clone())),
        }))
    }
}
