//! Recovery of a store opened with `truncate_after_last_mark`: finding the last apply mark
//! and cutting off everything written after it, before the segments are replayed.

use crate::store::file::sync_dir;
use crate::store::segment::{
    corrupt, io_err, scan, seg_name, valid_record_after, Header, ScanEnd, HEADER_LEN, KIND_MARK,
    KIND_MSG,
};
use crate::store::StoreError;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The last mark of one segment.
struct Found {
    /// Index into the ids.
    k: usize,
    path: PathBuf,
    file: File,
    len: u64,
    /// Where the mark record ends.
    end: u64,
    /// Messages after it in that segment.
    msgs_after: u64,
}

/// Finds the last mark record (newest segment first) and drops everything after it: later
/// segments are deleted (and taken out of `ids`), the mark's segment is cut at the end of the
/// mark and synced. A store with no mark at all is left as it is.
///
/// Damage is judged as the replay judges it: a bad header, or a bad record anywhere but at
/// the tail of the newest segment, is [`StoreError::Corrupt`] even after the mark, so nothing
/// the replay would refuse is cut off silently. A torn tail after the mark is simply cut.
pub(super) fn drop_after_last_mark(dir: &Path, ids: &mut Vec<u64>) -> Result<(), StoreError> {
    let n = ids.len();
    let mut later_msgs = 0u64;
    let mut found = None;
    for k in (0..n).rev() {
        let (id, newest) = (ids[k], k + 1 == n);
        let path = dir.join(seg_name(id));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let len = file.metadata().map_err(|e| io_err(&path, e))?.len();
        if len < HEADER_LEN as u64 {
            if !newest {
                return Err(corrupt(&path, format!("{len} bytes, short of a header")));
            }
            continue;
        }
        let mut h = [0u8; HEADER_LEN];
        file.read_exact_at(&mut h, 0)
            .map_err(|e| io_err(&path, e))?;
        let h = Header::decode(&h).map_err(|why| corrupt(&path, why))?;
        if h.id != id {
            return Err(corrupt(&path, format!("header says segment {}", h.id)));
        }
        let (mut end, mut msgs_after) = (None, 0u64);
        let scanned = scan(&file, &path, len, |off, total, rec| {
            match rec.kind {
                KIND_MARK => {
                    end = Some(off + u64::from(total));
                    msgs_after = 0;
                }
                KIND_MSG => msgs_after += 1,
                _ => {}
            }
            Ok(())
        })?;
        if let ScanEnd::Bad { offset, reason } = scanned {
            if !newest {
                return Err(corrupt(&path, format!("bad record at {offset}: {reason}")));
            }
            if let Some(at) = valid_record_after(&file, &path, offset, len)? {
                let why = format!("bad record at {offset} ({reason}) with a valid record at {at}");
                return Err(corrupt(&path, why));
            }
        }
        if let Some(end) = end {
            found = Some(Found {
                k,
                path,
                file,
                len,
                end,
                msgs_after,
            });
            break;
        }
        later_msgs += msgs_after;
    }
    let Some(f) = found else {
        return Ok(());
    };
    let later = ids.split_off(f.k + 1);
    if f.len == f.end && later.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        path = %f.path.display(),
        offset = f.end,
        dropped_bytes = f.len - f.end,
        dropped_segments = later.len(),
        dropped_msgs = f.msgs_after + later_msgs,
        "dropping what was written after the last apply mark (a batch not completely applied)"
    );
    for &id in later.iter().rev() {
        let path = dir.join(seg_name(id));
        fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
    }
    if !later.is_empty() {
        sync_dir(dir)?;
    }
    if f.len > f.end {
        f.file
            .set_len(f.end)
            .and_then(|()| f.file.sync_data())
            .map_err(|e| io_err(&f.path, e))?;
    }
    Ok(())
}
