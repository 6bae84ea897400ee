//! Segment files as the file store holds them ([`Segment`]) and the file operations on them
//! that need no store: creating one, syncing the directory, counting live messages.

use crate::store::segment::{io_err, Header};
use crate::store::StoreError;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub(crate) struct Segment {
    pub id: u64,
    pub path: PathBuf,
    pub file: File,
    /// Header base: the next sequence when the segment was created.
    pub base: u64,
    pub reset: bool,
    /// Live messages stored in this segment.
    pub live: u64,
    /// Records that act on older segments (tombstones below `base`, purge markers): they must
    /// be carried forward if this segment is deleted while older ones remain.
    pub ext: u64,
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Counts one message of segment `id` gone; true if that was its last.
pub(crate) fn dec_live(segs: &mut [Segment], id: u32) -> bool {
    match segs.binary_search_by_key(&u64::from(id), |s| s.id) {
        Ok(i) => {
            segs[i].live -= 1;
            segs[i].live == 0
        }
        Err(_) => false,
    }
}

/// Creates a segment file with its header; removes it again on failure.
pub(crate) fn create_segment(path: &Path, header: &Header, sync: bool) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    let written = file.write_all_at(&header.encode(), 0).and_then(|()| {
        if sync {
            file.sync_data()
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(io_err(path, e));
    }
    Ok(file)
}
