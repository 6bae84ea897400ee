//! Reading evicted entries back: the record of a written batch, at the offset the index
//! gives, checked (frame length, CRC, kind, group, indexes) before any of it is returned.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::group::DiskRead;
use super::record::{self, FrameError, Record};
use super::segment::{self, io_err};
use super::WalError;
use crate::types::Entry;

/// Segments opened for one read, by sequence number.
pub(crate) type Files = HashMap<u64, File>;

/// Reads entries `r.lo..=r.hi` of group `name` from the record the index gives.
pub(crate) fn read_batch(
    dir: &Path,
    name: &str,
    r: &DiskRead,
    files: &mut Files,
) -> Result<Vec<Entry>, WalError> {
    let path = segment::path(dir, r.seg);
    let corrupt = |reason: String| WalError::Corrupt {
        path: path.clone(),
        offset: r.off,
        reason,
    };
    let f = match files.entry(r.seg) {
        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(File::open(&path).map_err(|e| io_err(&path, e))?)
        }
    };
    let mut buf = vec![0u8; r.len as usize];
    f.read_exact_at(&mut buf, r.off).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            corrupt("record runs past the end of the file".into())
        } else {
            io_err(&path, e)
        }
    })?;
    let body = match record::read_frame(&buf) {
        Ok((body, used)) if used == buf.len() => body,
        Ok((_, used)) => {
            return Err(corrupt(format!(
                "record is {used} bytes, the index says {}",
                r.len
            )))
        }
        Err(FrameError::Short) => return Err(corrupt("record is longer than indexed".into())),
        Err(FrameError::Bad(why)) => return Err(corrupt(why)),
    };
    let mut entries = match record::decode_body(body).map_err(&corrupt)? {
        Record::Entries(n, es) if n == name => es,
        Record::Entries(n, _) => {
            return Err(corrupt(format!(
                "record holds entries of group {n:?}, not {name:?}"
            )))
        }
        other => {
            return Err(corrupt(format!(
                "not an append record: {}",
                kind_name(&other)
            )))
        }
    };
    let first = entries.first().map(|e| e.log_id.index);
    let want = first
        .filter(|f| *f <= r.lo)
        .and_then(|f| usize::try_from(r.lo - f).ok())
        .and_then(|from| {
            let n = usize::try_from(r.hi - r.lo).ok()?.checked_add(1)?;
            let to = from.checked_add(n)?;
            (to <= entries.len()).then_some(from..to)
        });
    match want {
        Some(span)
            if entries[span.clone()]
                .iter()
                .zip(r.lo..=r.hi)
                .all(|(e, i)| e.log_id.index == i) =>
        {
            entries.truncate(span.end);
            entries.drain(..span.start);
            Ok(entries)
        }
        _ => Err(corrupt(format!(
            "record does not hold entries {}..={} as the index says",
            r.lo, r.hi
        ))),
    }
}

fn kind_name(r: &Record) -> &'static str {
    match r {
        Record::Entries(..) => "entries",
        Record::Vote(..) => "vote",
        Record::Committed(..) => "committed",
        Record::Truncate(..) => "truncate",
        Record::Purge(..) => "purge",
        Record::RemoveGroup(..) => "remove group",
        Record::Checkpoint(..) => "checkpoint",
    }
}
