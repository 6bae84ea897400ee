//! Recovery: replays every segment in order into each group's state (the index of its live
//! append records, its most recent entries up to the memory budget, vote, committed, purge
//! mark).
//!
//! A torn record at the end of the last segment (short, or a bad CRC on the final record, or
//! zeroes to the end of the file) was never reported durable: it is cut off the file. A bad
//! record anywhere else is an error naming the file and the offset: the log refuses to open
//! rather than drop acknowledged data.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::group::GroupMem;
use super::record::{self, FrameError, Record, FRAME_HEADER};
use super::segment::{self, io_err, HEADER_LEN, MAGIC};
use super::WalError;

/// Everything recovered from a directory.
#[derive(Default, Debug)]
pub(crate) struct Recovered {
    pub groups: BTreeMap<String, GroupMem>,
    /// The segments that remain, by sequence number.
    pub segments: Vec<(u64, PathBuf)>,
    /// The sequence number for the next segment.
    pub next_seq: u64,
}

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> WalError {
    WalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

/// Replays the segments in `dir`, keeping in memory each group's most recent entries up to
/// `budget` bytes (see [`GroupMem`]).
pub(crate) fn recover(dir: &Path, budget: u64) -> Result<Recovered, WalError> {
    let segs = segment::list(dir)?;
    let mut rec = Recovered::default();
    let n = segs.len();
    for (i, (seq, path)) in segs.into_iter().enumerate() {
        let last = i + 1 == n;
        let buf = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        rec.next_seq = seq + 1;
        if (buf.len() as u64) < HEADER_LEN {
            if last {
                // Created, then the crash came before its header was on disk.
                tracing::warn!(file = %path.display(), "removing a torn segment header");
                std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
                segment::sync_dir(dir)?;
                continue;
            }
            return Err(corrupt(&path, 0, "segment shorter than its header"));
        }
        if &buf[..8] != MAGIC {
            return Err(corrupt(&path, 0, "not a segment (bad magic)"));
        }
        let hseq = u64::from_le_bytes(buf[8..16].try_into().unwrap_or([0; 8]));
        if hseq != seq {
            return Err(corrupt(&path, 8, format!("header says segment {hseq}")));
        }
        let mut off = HEADER_LEN as usize;
        while off < buf.len() {
            let rest = &buf[off..];
            match record::read_frame(rest) {
                Ok((body, used)) => {
                    let r = record::decode_body(body).map_err(|e| corrupt(&path, off as u64, e))?;
                    let at = Place {
                        seg: seq,
                        off: off as u64,
                        len: used as u32,
                    };
                    apply(&mut rec.groups, r, at, budget)
                        .map_err(|e| corrupt(&path, off as u64, e))?;
                    off += used;
                }
                Err(err) => {
                    let torn = last && is_torn_tail(rest, &err);
                    if !torn {
                        let why = match err {
                            FrameError::Short => "record runs past the end of the file".into(),
                            FrameError::Bad(why) => why,
                        };
                        return Err(corrupt(&path, off as u64, why));
                    }
                    tracing::warn!(
                        file = %path.display(),
                        offset = off,
                        dropped = rest.len(),
                        "cutting a torn record off the end of the log"
                    );
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| io_err(&path, e))?;
                    f.set_len(off as u64).map_err(|e| io_err(&path, e))?;
                    f.sync_all().map_err(|e| io_err(&path, e))?;
                    break;
                }
            }
        }
        if last {
            // What the last run wrote after its last sync may still be only in the page
            // cache; a new segment follows this one, and only the last may end torn.
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            f.sync_all().map_err(|e| io_err(&path, e))?;
        }
        rec.segments.push((seq, path));
    }
    Ok(rec)
}

/// Whether a bad frame at the end of the last segment is a write the crash cut short.
fn is_torn_tail(rest: &[u8], err: &FrameError) -> bool {
    match err {
        FrameError::Short => true,
        FrameError::Bad(_) => {
            if rest.iter().all(|b| *b == 0) {
                return true;
            }
            // A bad CRC on the final record: its length field says it ends at the end of
            // the file (or past it).
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            rest.len() >= FRAME_HEADER && FRAME_HEADER.saturating_add(len) >= rest.len()
        }
    }
}

/// Where a record is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    pub seg: u64,
    pub off: u64,
    pub len: u32,
}

/// Applies one record (at `at`) to the replayed state.
pub(crate) fn apply(
    groups: &mut BTreeMap<String, GroupMem>,
    r: Record,
    at: Place,
    budget: u64,
) -> Result<(), String> {
    fn group(groups: &mut BTreeMap<String, GroupMem>, name: String, budget: u64) -> &mut GroupMem {
        groups.entry(name).or_insert_with(|| GroupMem::new(budget))
    }
    match r {
        Record::Entries(name, entries) => {
            let consecutive = entries
                .windows(2)
                .all(|w| w[0].log_id.index.checked_add(1) == Some(w[1].log_id.index));
            if !consecutive {
                return Err("the entries of an append are not consecutive".into());
            }
            group(groups, name, budget).append_written(entries, at.seg, at.off, at.len)
        }
        Record::Vote(name, v) => group(groups, name, budget).vote = Some(v),
        Record::Committed(name, c) => group(groups, name, budget).committed = c,
        Record::Truncate(name, log_id) => group(groups, name, budget).truncate(log_id.index),
        Record::Purge(name, log_id) => group(groups, name, budget).purge(log_id),
        Record::RemoveGroup(name) => {
            groups.remove(&name);
        }
        Record::Checkpoint(list) => {
            // A group it does not list had no state then: what older segments hold of it is
            // dead (its removal may have been in a segment since deleted).
            let listed: std::collections::BTreeSet<&str> =
                list.iter().map(|cg| cg.name.as_str()).collect();
            groups.retain(|name, _| listed.contains(name.as_str()));
            for cg in list {
                let g = groups
                    .entry(cg.name)
                    .or_insert_with(|| GroupMem::new(budget));
                g.vote = cg.vote;
                g.committed = cg.committed;
                // Exactly its purge mark, not the larger of it and an older one: that may be
                // of an earlier group of the same name, removed in a segment since deleted.
                g.purged = None;
                if let Some(p) = cg.purged {
                    g.purge(p);
                }
                // Entries past the last live one were truncated (perhaps by a record in a
                // segment since deleted).
                match cg.last {
                    Some(l) => {
                        if let Some(end) = l.checked_add(1) {
                            g.truncate(end);
                        }
                    }
                    None => g.truncate(0),
                }
            }
        }
    }
    Ok(())
}
