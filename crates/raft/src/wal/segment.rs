//! Segment files: their names (`<seq>.wal`, the sequence zero-padded so names sort in order),
//! their header (magic and sequence number), listing them, creating one and syncing the
//! directory that holds them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::WalError;

/// The first bytes of every segment.
pub(crate) const MAGIC: &[u8; 8] = b"SLUWAL01";
/// Magic and the segment's sequence number (u64 LE).
pub(crate) const HEADER_LEN: u64 = 16;

/// The path of segment `seq` in `dir`.
pub(crate) fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// The header of segment `seq`.
pub(crate) fn header(seq: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..].copy_from_slice(&seq.to_le_bytes());
    h
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> WalError {
    WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The segments in `dir`, by sequence number. Files not named like a segment are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let ent = ent.map_err(|e| io_err(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = stem.parse::<u64>() {
            out.push((seq, ent.path()));
        }
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out)
}

/// Creates segment `seq` (it must not exist) with its header written, and syncs the
/// directory so that the file survives a crash.
pub(crate) fn create(dir: &Path, seq: u64) -> Result<(File, PathBuf), WalError> {
    let p = path(dir, seq);
    let mut f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&p)
        .map_err(|e| io_err(&p, e))?;
    f.write_all(&header(seq)).map_err(|e| io_err(&p, e))?;
    sync_dir(dir)?;
    Ok((f, p))
}

/// Makes the directory's entries (created and deleted files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    let d = File::open(dir).map_err(|e| io_err(dir, e))?;
    d.sync_all().map_err(|e| io_err(dir, e))
}
