//! Small transactional state in sled: stream configs, consumer configs, and consumer delivery
//! state. Config writes are flushed (fsynced) before the API answers, so an acknowledged
//! create, update or delete survives a crash. Consumer state is written by each stream's
//! writer without a flush, and made durable by [`Meta::flush`] when the writer's batch holds
//! acks (group commit, see `writer.rs`).

use std::path::{Path, PathBuf};
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

/// The metadata database of one store directory. Cheap to clone (sled handles).
#[derive(Clone)]
pub struct Meta {
    path: PathBuf,
    db: sled::Db,
    streams: sled::Tree,
    consumers: sled::Tree,
    consumer_state: sled::Tree,
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
        let db = sled::open(&path).map_err(|source| MetaError::Db {
            path: path.clone(),
            source,
        })?;
        let tree = |name: &str| {
            db.open_tree(name).map_err(|source| MetaError::Db {
                path: path.clone(),
                source,
            })
        };
        let (streams, consumers, consumer_state) = (
            tree("streams")?,
            tree("consumers")?,
            tree("consumer_state")?,
        );
        Ok(Meta {
            path,
            db,
            streams,
            consumers,
            consumer_state,
        })
    }

    fn db_err(&self) -> impl FnOnce(sled::Error) -> MetaError + '_ {
        move |source| MetaError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores a stream's record (its JSON) durably.
    pub fn put_stream(&self, name: &str, record: &[u8]) -> Result<(), MetaError> {
        self.streams
            .insert(name.as_bytes(), record)
            .map_err(self.db_err())?;
        self.db.flush().map_err(self.db_err())?;
        Ok(())
    }

    /// Removes a stream's record durably.
    pub fn remove_stream(&self, name: &str) -> Result<(), MetaError> {
        self.streams
            .remove(name.as_bytes())
            .map_err(self.db_err())?;
        self.db.flush().map_err(self.db_err())?;
        Ok(())
    }

    /// Every stream record, by name.
    pub fn streams(&self) -> Result<Vec<(String, Vec<u8>)>, MetaError> {
        self.streams
            .iter()
            .map(|r| {
                r.map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
                    .map_err(self.db_err())
            })
            .collect()
    }

    /// Stores a consumer's record (config JSON) durably.
    pub fn put_consumer(&self, stream: &str, name: &str, record: &[u8]) -> Result<(), MetaError> {
        self.consumers
            .insert(consumer_key(stream, name), record)
            .map_err(self.db_err())?;
        self.db.flush().map_err(self.db_err())?;
        Ok(())
    }

    /// Removes a consumer's record and state durably.
    pub fn remove_consumer(&self, stream: &str, name: &str) -> Result<(), MetaError> {
        let key = consumer_key(stream, name);
        self.consumers.remove(&key).map_err(self.db_err())?;
        self.consumer_state.remove(&key).map_err(self.db_err())?;
        self.db.flush().map_err(self.db_err())?;
        Ok(())
    }

    /// Removes every consumer of `stream` (its records and state), durably.
    pub fn remove_consumers_of(&self, stream: &str) -> Result<(), MetaError> {
        let prefix = stream_prefix(stream);
        for tree in [&self.consumers, &self.consumer_state] {
            for r in tree.scan_prefix(&prefix) {
                let (k, _) = r.map_err(self.db_err())?;
                tree.remove(k).map_err(self.db_err())?;
            }
        }
        self.db.flush().map_err(self.db_err())?;
        Ok(())
    }

    /// Every consumer of `stream`: (name, record, state if any was written).
    pub fn consumers_of(&self, stream: &str) -> Result<Vec<StoredConsumer>, MetaError> {
        let prefix = stream_prefix(stream);
        let mut out = Vec::new();
        for r in self.consumers.scan_prefix(&prefix) {
            let (k, v) = r.map_err(self.db_err())?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let state = self.consumer_state.get(&k).map_err(self.db_err())?;
            out.push((name, v.to_vec(), state.map(|s| s.to_vec())));
        }
        Ok(out)
    }

    /// Writes a consumer's state, not flushed: see [`Meta::flush`].
    pub fn put_consumer_state(
        &self,
        stream: &str,
        name: &str,
        state: &[u8],
    ) -> Result<(), MetaError> {
        self.consumer_state
            .insert(consumer_key(stream, name), state)
            .map_err(self.db_err())?;
        Ok(())
    }

    /// Makes every write so far durable (fsync).
    pub fn flush(&self) -> Result<(), MetaError> {
        self.db.flush().map_err(self.db_err())?;
        Ok(())
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
