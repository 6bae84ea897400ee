//! Opening a file store: rebuilding the index by replaying every segment in order.
//!
//! Only the newest segment can legitimately end in a torn record (older ones are synced
//! before a new segment is started), so a bad record there with nothing valid after it is cut
//! off with a warning. Anything else that does not parse is [`StoreError::Corrupt`].
//!
//! With `truncate_after_last_mark`, what follows the last apply mark is cut off first
//! (`recover/truncate.rs`), and what is left is synced before any dead segment is deleted.

mod truncate;

use super::file::{
    create_segment, sync_dir, FileEntry, FileStore, FileStoreConfig, Recovery, Segment,
};
use super::index::{Index, Pager, PagingConfig, Plan};
use super::segment::{
    corrupt, io_err, scan, seg_name, valid_record_after, Header, ScanEnd, HEADER_LEN, KIND_MARK,
    KIND_MSG, KIND_PURGE, KIND_TOMB,
};
use super::StoreError;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(crate) fn open(
    dir: &Path,
    config: FileStoreConfig,
    recovery: Recovery,
) -> Result<FileStore, StoreError> {
    open_paged(dir, config, recovery, PagingConfig::from_env())
}

/// [`open`] with these index paging settings (`None`: the whole index in memory).
pub(crate) fn open_paged(
    dir: &Path,
    config: FileStoreConfig,
    recovery: Recovery,
    paging: Option<PagingConfig>,
) -> Result<FileStore, StoreError> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".seg.tmp") {
            // A compaction that did not finish; the original is intact.
            fs::remove_file(entry.path()).map_err(|e| io_err(&entry.path(), e))?;
            continue;
        }
        if let Some(stem) = name.strip_suffix(".seg") {
            if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
                let id: u64 = stem.parse().unwrap_or(u64::MAX);
                if id == 0 || id > u64::from(u32::MAX) {
                    return Err(corrupt(&entry.path(), "segment id out of range"));
                }
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    if recovery.truncate_after_last_mark {
        truncate::drop_after_last_mark(dir, &mut ids)?;
    }
    let mut index = Index::new();
    if let Some(paging) = paging {
        index.set_pager(Box::new(Pager::new(dir.to_path_buf(), paging)));
    }
    let mut store = FileStore {
        dir: dir.to_path_buf(),
        seg_cap: config.segment_bytes.min(u64::from(u32::MAX)),
        paging,
        index,
        segs: Vec::new(),
        buf: Vec::with_capacity(256 * 1024),
        flushed: HEADER_LEN as u64,
        unsynced: false,
        header_synced: true,
        dir_unsynced: false,
        failed: None,
        maybe_dead: true,
        cache: Default::default(),
        recovery,
        last_mark: None,
        mark_seg: 0,
        since_mark: false,
        mark_unsynced: false,
    };
    if ids.is_empty() {
        let header = Header {
            id: 1,
            base: 1,
            last_ts: 0,
            reset: false,
        };
        let path = dir.join(seg_name(1));
        let file = create_segment(&path, &header, true)?;
        sync_dir(dir)?;
        store.segs.push(Segment {
            id: 1,
            path,
            file,
            base: 1,
            reset: false,
            live: 0,
            ext: 0,
        });
        return Ok(store);
    }
    let n = ids.len();
    for (k, &id) in ids.iter().enumerate() {
        load_segment(&mut store, id, k + 1 == n)?;
    }
    store.index.finish();
    if recovery.truncate_after_last_mark && store.last_mark.is_some() {
        // What was read may have been in the page cache only (a crash of the process): make
        // it durable before deleting anything on its word.
        store.unsynced = true;
        store.sync_now()?;
    }
    store.reap();
    Ok(store)
}

/// Replays one segment into the store's index and appends it to its segment list.
fn load_segment(store: &mut FileStore, id: u64, newest: bool) -> Result<(), StoreError> {
    let path = store.dir.join(seg_name(id));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    let mut len = file.metadata().map_err(|e| io_err(&path, e))?.len();
    let index = &mut store.index;
    let header = if len < HEADER_LEN as u64 {
        if !newest {
            return Err(corrupt(&path, format!("{len} bytes, short of a header")));
        }
        // Torn while being created: older segments were synced and never deleted before this
        // header was durable, so they hold everything it would have said.
        tracing::warn!(path = %path.display(), dropped = len, "segment header torn; rewriting it");
        let h = Header {
            id,
            base: index.last_seq() + 1,
            last_ts: index.last_ts(),
            reset: false,
        };
        file.set_len(0)
            .and_then(|()| file.write_all_at(&h.encode(), 0))
            .and_then(|()| file.sync_data())
            .map_err(|e| io_err(&path, e))?;
        len = HEADER_LEN as u64;
        h
    } else {
        let mut h = [0u8; HEADER_LEN];
        file.read_exact_at(&mut h, 0)
            .map_err(|e| io_err(&path, e))?;
        let h = Header::decode(&h).map_err(|why| corrupt(&path, why))?;
        if h.id != id {
            return Err(corrupt(&path, format!("header says segment {}", h.id)));
        }
        h
    };
    if header.reset {
        index.reset(header.base, header.last_ts);
        for s in &mut store.segs {
            s.live = 0;
        }
    } else {
        index.set_floor(header.base, header.last_ts);
    }
    let mut seg = Segment {
        id,
        path: path.clone(),
        file,
        base: header.base,
        reset: header.reset,
        live: 0,
        ext: 0,
    };
    let segs = &mut store.segs;
    let mut mark = None;
    let end = scan(&seg.file, &path, len, |off, total, rec| {
        let mut dec = |e: FileEntry| {
            if u64::from(e.seg()) == id {
                seg.live -= 1;
            } else if let Ok(i) = segs.binary_search_by_key(&u64::from(e.seg()), |s| s.id) {
                segs[i].live -= 1;
            }
        };
        match rec.kind {
            KIND_MSG => {
                if rec.seq <= index.last_seq() {
                    let why = format!(
                        "record at {off} has seq {}, not above {}",
                        rec.seq,
                        index.last_seq()
                    );
                    return Err(corrupt(&path, why));
                }
                if off > u64::from(u32::MAX) {
                    return Err(corrupt(&path, "segment too large"));
                }
                let subj = index.intern(rec.subject);
                let hdrs = rec.headers.is_some_and(|(a, b)| b > a);
                index.push(
                    rec.seq,
                    FileEntry::new(id as u32, off as u32, total, hdrs, subj, rec.ts),
                );
                seg.live += 1;
            }
            KIND_TOMB => {
                if let Some(e) = index.remove_deferred(rec.seq) {
                    dec(e);
                }
                seg.ext += u64::from(rec.seq < header.base);
            }
            KIND_PURGE => {
                index.apply(&Plan::Below(rec.seq), |_, e| dec(e));
                seg.ext += 1;
            }
            KIND_MARK => mark = Some((rec.seq, rec.ts as u64)),
            _ => unreachable!("decode only returns known kinds"),
        }
        Ok(())
    })?;
    if let ScanEnd::Bad { offset, reason } = end {
        if !newest {
            return Err(corrupt(&path, format!("bad record at {offset}: {reason}")));
        }
        if let Some(at) = valid_record_after(&seg.file, &path, offset, len)? {
            let why = format!("bad record at {offset} ({reason}) with a valid record at {at}");
            return Err(corrupt(&path, why));
        }
        // What is lost: every message after the last intact one (how many the torn bytes
        // held cannot be told: their lengths are not trustworthy).
        let last_intact_seq = index.last_seq();
        tracing::warn!(
            path = %path.display(),
            offset,
            dropped = len - offset,
            last_intact_seq,
            first_lost_seq = last_intact_seq + 1,
            reason = %reason,
            "truncating torn record at the tail of the newest segment: the bytes from offset on \
             are dropped, with any message numbered first_lost_seq or later"
        );
        seg.file
            .set_len(offset)
            .and_then(|()| seg.file.sync_data())
            .map_err(|e| io_err(&path, e))?;
        len = offset;
    }
    if let Some(mark) = mark {
        store.last_mark = Some(mark);
        store.mark_seg = id;
    }
    if newest {
        store.flushed = len;
    }
    store.segs.push(seg);
    Ok(())
}
