//! Small transactional state in sled: stream configs (and, later, consumer configs and state).
//! Every write is flushed (fsynced) before the API answers, so an acknowledged create, update
//! or delete survives a crash.

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

/// The metadata database of one store directory.
pub struct Meta {
    path: PathBuf,
    db: sled::Db,
    streams: sled::Tree,
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
        let streams = db.open_tree("streams").map_err(|source| MetaError::Db {
            path: path.clone(),
            source,
        })?;
        Ok(Meta { path, db, streams })
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
