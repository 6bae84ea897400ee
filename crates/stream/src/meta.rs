//! Small transactional state in sled: stream configs, consumer configs, and consumer delivery
//! state. Every change is flushed (fsynced) before the caller answers, so an acknowledged
//! create, update, delete or double ack survives a crash; each stream's writer saves its
//! consumers' changed state in one write and flush per batch ([`Meta::save_consumer_states`],
//! group commit, see `writer.rs`).
//!
//! Two failure modes are handled here: an I/O error (a full disk) closes the database, which
//! the next use reopens (sled would fail every later call otherwise), and a damaged log, from
//! which sled silently recovers an earlier state, is reported at startup (see `Changes`).

use parking_lot::{Mutex, RwLock};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// The on-disk layout version this build reads and writes.
pub const STORE_VERSION: &str = "1";
const VERSION_FILE: &str = "sluice-store-version";

/// Failures of the metadata store, each naming the path.
#[derive(Debug, Error)]
pub enum MetaError {
    #[error("store directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store directory {path} was written by an incompatible version ({found:?}, this build reads {STORE_VERSION:?})")]
    Version { path: PathBuf, found: String },
    #[error("metadata database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
}

/// The metadata database of one store directory. Cheap to clone (shared handles).
///
/// sled remembers an I/O error (a full disk, say) and fails every later operation with it, for
/// as long as the database stays open. So after an I/O error the database is closed, and the
/// next operation opens it again: sled's recovery then drops what it had not made durable
/// (nothing that was acknowledged, since every acknowledged change is flushed first), and the
/// metadata works again once the disk does, without a restart.
#[derive(Clone)]
pub struct Meta {
    path: PathBuf,
    /// `None` after an I/O error closed the database, until the next use reopens it.
    handles: Arc<RwLock<Option<Handles>>>,
    changes: Arc<Changes>,
}

/// Where the count of durable metadata changes is kept outside sled (in the store directory),
/// and its key inside sled.
const CHANGES_FILE: &str = "meta-changes";
const CHANGES_KEY: &[u8] = b"sluice/changes";

/// A count of the flushed metadata changes, kept both in sled (in the same flush as the
/// change) and, after sled's flush succeeded, in a small file of its own. sled recovers from a
/// damaged log by going back to an earlier state without a word; if sled's count is then
/// behind the file's, changes that were acknowledged are gone, and [`Meta::open`] says so.
struct Changes {
    /// The last number handed out.
    last: AtomicU64,
    /// The file, and the highest number written to it.
    file: Mutex<(std::fs::File, u64)>,
}

impl Changes {
    /// Records in the file that change `n` is durable in sled (a failure only weakens the
    /// check, so it is logged and otherwise ignored).
    fn durable(&self, n: u64) {
        let mut file = self.file.lock();
        if n <= file.1 {
            return;
        }
        use std::os::unix::fs::FileExt;
        match file.0.write_all_at(format!("{n:020}\n").as_bytes(), 0) {
            Ok(()) => file.1 = n,
            Err(e) => tracing::warn!(error = %e, "writing {CHANGES_FILE} failed"),
        }
    }
}

fn read_count(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The open database and its trees.
struct Handles {
    db: sled::Db,
    streams: sled::Tree,
    consumers: sled::Tree,
    consumer_state: sled::Tree,
}

impl Handles {
    fn open(path: &Path) -> Result<Handles, MetaError> {
        let err = |source| MetaError::Db {
            path: path.to_owned(),
            source,
        };
        // sled's file lock outlives a dropped database for a moment (its background writes
        // hold the file): wait for it a little when reopening in the same process.
        let mut tries = 0;
        let db = loop {
            match sled::open(path) {
                Err(sled::Error::Io(e))
                    if tries < 100 && e.to_string().contains("could not acquire lock") =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.map_err(err)?,
            }
        };
        let (streams, consumers, consumer_state) = (
            db.open_tree("streams").map_err(err)?,
            db.open_tree("consumers").map_err(err)?,
            db.open_tree("consumer_state").map_err(err)?,
        );
        Ok(Handles {
            db,
            streams,
            consumers,
            consumer_state,
        })
    }
}

/// A consumer as stored: its name, its record, and its state if any was written.
pub type StoredConsumer = (String, Vec<u8>, Option<Vec<u8>>);

/// The key of a consumer's records: `<stream> NUL <consumer>` (names never hold NUL).
fn consumer_key(stream: &str, consumer: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + consumer.len() + 1);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k.extend_from_slice(consumer.as_bytes());
    k
}

fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut k = stream.as_bytes().to_vec();
    k.push(0);
    k
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MetaError + '_ {
    move |source| MetaError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Meta {
    /// Opens (creating if needed) the store directory's metadata, checking its layout version.
    pub fn open(store_dir: &Path) -> Result<Meta, MetaError> {
        std::fs::create_dir_all(store_dir).map_err(io(store_dir))?;
        let version_path = store_dir.join(VERSION_FILE);
        match std::fs::read_to_string(&version_path) {
            Ok(found) if found.trim() == STORE_VERSION => {}
            Ok(found) => {
                return Err(MetaError::Version {
                    path: store_dir.to_owned(),
                    found: found.trim().to_owned(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::write(&version_path, STORE_VERSION).map_err(io(&version_path))?;
            }
            Err(e) => return Err(io(&version_path)(e)),
        }
        let path = store_dir.join("meta");
        let handles = Handles::open(&path)?;
        let in_sled = handles
            .db
            .get(CHANGES_KEY)
            .map_err(|source| MetaError::Db {
                path: path.clone(),
                source,
            })?
            .map_or(0, |v| read_count(&v));
        let changes_path = store_dir.join(CHANGES_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&changes_path)
            .map_err(io(&changes_path))?;
        let in_file = read_count(&std::fs::read(&changes_path).map_err(io(&changes_path))?);
        if in_file > in_sled {
            tracing::warn!(
                path = %path.display(),
                lost = in_file - in_sled,
                changes = in_sled,
                expected = in_file,
                "the metadata database came back without its newest changes: sled recovered \
                 to an earlier state of its log (it was damaged), and its count of changes is \
                 `lost` behind the one kept beside it. The newest changes to streams and \
                 consumers (creates, updates, deletes, consumer acks) may be gone: a stream or \
                 consumer created or deleted last may be missing or back, and consumers may \
                 deliver again what was acked last"
            );
        }
        let last = in_sled.max(in_file);
        Ok(Meta {
            path,
            handles: Arc::new(RwLock::new(Some(handles))),
            changes: Arc::new(Changes {
                last: AtomicU64::new(last),
                file: Mutex::new((file, in_file)),
            }),
        })
    }

    /// Runs `f` and then flushes, counting the change (see [`Changes`]).
    fn change<T>(&self, f: impl FnOnce(&Handles) -> sled::Result<T>) -> Result<T, MetaError> {
        let n = self.changes.last.fetch_add(1, Ordering::AcqRel) + 1;
        let v = self.with(|h| {
            let v = f(h)?;
            h.db.update_and_fetch(CHANGES_KEY, |old| {
                Some(format!("{}", n.max(old.map_or(0, read_count))).into_bytes())
            })?;
            h.db.flush()?;
            Ok(v)
        })?;
        self.changes.durable(n);
        Ok(v)
    }

    /// Runs `f` on the open database (reopening it first if an I/O error closed it). An I/O
    /// error from `f` closes the database: see [`Meta`].
    fn with<T>(&self, f: impl FnOnce(&Handles) -> sled::Result<T>) -> Result<T, MetaError> {
        if self.handles.read().is_none() {
            let mut w = self.handles.write();
            if w.is_none() {
                *w = Some(Handles::open(&self.path)?);
                tracing::info!(path = %self.path.display(), "metadata database reopened after an I/O error");
            }
        }
        let guard = self.handles.read();
        let Some(h) = guard.as_ref() else {
            // Closed by another thread's I/O error in between; the next use reopens it.
            return Err(MetaError::Db {
                path: self.path.clone(),
                source: sled::Error::Io(std::io::Error::other(
                    "closed after an I/O error; try again",
                )),
            });
        };
        let r = f(h);
        drop(guard);
        r.map_err(|source| {
            if let sled::Error::Io(e) = &source {
                let mut w = self.handles.write();
                if w.take().is_some() {
                    tracing::warn!(path = %self.path.display(), error = %e, "metadata database failed; closing it, to reopen it on its next use");
                }
            }
            MetaError::Db {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// Stores a stream's record (its JSON) durably.
    pub fn put_stream(&self, name: &str, record: &[u8]) -> Result<(), MetaError> {
        self.change(|h| {
            h.streams.insert(name.as_bytes(), record)?;
            Ok(())
        })
    }

    /// Removes a stream's record durably.
    pub fn remove_stream(&self, name: &str) -> Result<(), MetaError> {
        self.change(|h| {
            h.streams.remove(name.as_bytes())?;
            Ok(())
        })
    }

    /// Every stream record, by name.
    pub fn streams(&self) -> Result<Vec<(String, Vec<u8>)>, MetaError> {
        self.with(|h| {
            h.streams
                .iter()
                .map(|r| r.map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec())))
                .collect()
        })
    }

    /// Stores a consumer's record (config JSON) durably.
    pub fn put_consumer(&self, stream: &str, name: &str, record: &[u8]) -> Result<(), MetaError> {
        self.change(|h| {
            h.consumers.insert(consumer_key(stream, name), record)?;
            Ok(())
        })
    }

    /// Removes a consumer's record and state durably.
    pub fn remove_consumer(&self, stream: &str, name: &str) -> Result<(), MetaError> {
        let key = consumer_key(stream, name);
        self.change(|h| {
            h.consumers.remove(&key)?;
            h.consumer_state.remove(&key)?;
            Ok(())
        })
    }

    /// Removes every consumer of `stream` (its records and state), durably.
    pub fn remove_consumers_of(&self, stream: &str) -> Result<(), MetaError> {
        let prefix = stream_prefix(stream);
        self.change(|h| {
            for tree in [&h.consumers, &h.consumer_state] {
                for r in tree.scan_prefix(&prefix) {
                    let (k, _) = r?;
                    tree.remove(k)?;
                }
            }
            Ok(())
        })
    }

    /// Every consumer of `stream`: (name, record, state if any was written).
    pub fn consumers_of(&self, stream: &str) -> Result<Vec<StoredConsumer>, MetaError> {
        let prefix = stream_prefix(stream);
        self.with(|h| {
            let mut out = Vec::new();
            for r in h.consumers.scan_prefix(&prefix) {
                let (k, v) = r?;
                let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let state = h.consumer_state.get(&k)?;
                out.push((name, v.to_vec(), state.map(|s| s.to_vec())));
            }
            Ok(out)
        })
    }

    /// Writes a consumer's state, not flushed: see [`Meta::flush`].
    pub fn put_consumer_state(
        &self,
        stream: &str,
        name: &str,
        state: &[u8],
    ) -> Result<(), MetaError> {
        self.with(|h| {
            h.consumer_state
                .insert(consumer_key(stream, name), state)
                .map(drop)
        })
    }

    /// Writes the states of some consumers of `stream` and flushes, all on the same open
    /// database (so that a reopen in between cannot lose a write that is then reported
    /// flushed).
    pub fn save_consumer_states(
        &self,
        stream: &str,
        states: &[(String, Vec<u8>)],
    ) -> Result<(), MetaError> {
        self.change(|h| {
            for (name, state) in states {
                h.consumer_state
                    .insert(consumer_key(stream, name), state.as_slice())?;
            }
            Ok(())
        })
    }

    /// Makes every write so far durable (fsync).
    pub fn flush(&self) -> Result<(), MetaError> {
        self.with(|h| h.db.flush().map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let m = Meta::open(dir.path()).unwrap();
            m.put_stream("A", b"{\"a\":1}").unwrap();
            m.put_stream("B", b"{\"b\":2}").unwrap();
            m.remove_stream("A").unwrap();
        }
        let m = Meta::open(dir.path()).unwrap();
        assert_eq!(
            m.streams().unwrap(),
            vec![("B".to_owned(), b"{\"b\":2}".to_vec())]
        );
    }

    #[test]
    fn consumer_records_and_state_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let m = Meta::open(dir.path()).unwrap();
            m.put_consumer("S", "a", b"cfg-a").unwrap();
            m.put_consumer("S", "b", b"cfg-b").unwrap();
            m.put_consumer("S2", "a", b"other").unwrap();
            m.put_consumer_state("S", "a", b"state-a").unwrap();
            m.remove_consumer("S", "b").unwrap();
            m.flush().unwrap();
        }
        let m = Meta::open(dir.path()).unwrap();
        assert_eq!(
            m.consumers_of("S").unwrap(),
            vec![("a".to_owned(), b"cfg-a".to_vec(), Some(b"state-a".to_vec()))]
        );
        m.remove_consumers_of("S").unwrap();
        assert!(m.consumers_of("S").unwrap().is_empty());
        assert_eq!(m.consumers_of("S2").unwrap().len(), 1);
    }

    #[test]
    fn an_incompatible_version_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(VERSION_FILE), "99").unwrap();
        let err = Meta::open(dir.path()).err().expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("incompatible") && text.contains(&dir.path().display().to_string()),
            "{text}"
        );
    }
}
