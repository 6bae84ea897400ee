//! Apply marks in the stores: written, synced and reported again after a reopen; not counted
//! as messages; and, with `truncate_after_last_mark`, everything written after the last mark
//! dropped on open (torn tails included), while without it nothing changes.

use sluice_stream::store::file::{FileStore, FileStoreConfig, Recovery};
use sluice_stream::store::memory::MemoryStore;
use sluice_stream::store::{MsgStore, StoreError, StoreState, StoredMsg};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const HEADER_LEN: u64 = 40;
/// A mark record: the fixed part of a record and nothing else.
const MARK_LEN: u64 = 32;

fn cfg(segment_bytes: u64) -> FileStoreConfig {
    FileStoreConfig { segment_bytes }
}

fn open(dir: &Path, segment_bytes: u64, truncate: bool) -> FileStore {
    let recovery = Recovery {
        truncate_after_last_mark: truncate,
    };
    FileStore::open_with(dir, cfg(segment_bytes), recovery).unwrap()
}

fn seg_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn all(s: &dyn MsgStore) -> Vec<StoredMsg> {
    let st = s.state();
    (st.first_seq.saturating_sub(3)..=st.last_seq + 3)
        .filter_map(|q| s.get(q).unwrap())
        .collect()
}

fn payload(i: u64) -> Vec<u8> {
    format!("payload number {i:05}").into_bytes()
}

fn fill(s: &mut dyn MsgStore, subj: &str, from: u64, to: u64) {
    for i in from..=to {
        let hdr = format!("NATS/1.0\r\nI: {i}\r\n\r\n");
        let h = (i % 3 == 0).then_some(hdr.as_bytes());
        assert_eq!(s.append(subj, h, &payload(i), i as i64).unwrap(), i);
    }
}

fn len(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len()
}

fn cut(p: &Path, to: u64) {
    OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(to)
        .unwrap();
}

#[test]
fn mark_sync_reopen_reports_the_mark() {
    for truncate in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = open(tmp.path(), 1 << 20, truncate);
        assert_eq!(s.last_mark(), None);
        fill(&mut s, "m", 1, 5);
        s.mark(7, 2).unwrap();
        assert_eq!(s.last_mark(), Some((7, 2)));
        s.mark(9, 3).unwrap();
        // Term and index are full u64s.
        s.mark(u64::MAX - 1, u64::MAX).unwrap();
        s.sync().unwrap();
        drop(s);
        for reopen in [false, true] {
            let s = open(tmp.path(), 1 << 20, reopen);
            assert_eq!(s.last_mark(), Some((u64::MAX - 1, u64::MAX)), "{truncate}");
            assert_eq!(s.state().msgs, 5);
        }
    }
}

#[test]
fn marks_do_not_count_as_messages() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut plain = open(a.path(), 300, false);
    let mut marked = open(b.path(), 300, true);
    let mut mem = MemoryStore::new();
    let mut mem_plain = MemoryStore::new();
    for i in 1..=40 {
        fill(&mut plain, &format!("s.{}", i % 4), i, i);
        fill(&mut marked, &format!("s.{}", i % 4), i, i);
        fill(&mut mem, &format!("s.{}", i % 4), i, i);
        fill(&mut mem_plain, &format!("s.{}", i % 4), i, i);
        if i % 3 == 0 {
            marked.mark(i, 1).unwrap();
            mem.mark(i, 1).unwrap();
        }
        if i % 7 == 0 {
            marked.sync().unwrap();
        }
    }
    // Message 40 came after the mark of 39: without a mark after it, it would be dropped.
    marked.mark(40, 1).unwrap();
    mem.mark(40, 1).unwrap();
    marked.sync().unwrap();
    let want: StoreState = plain.state();
    assert_eq!(marked.state(), want);
    assert_eq!(mem.state(), mem_plain.state());
    assert_eq!(all(&marked), all(&plain));
    assert_eq!(marked.subjects().len(), 4);
    assert_eq!(mem.last_mark(), Some((40, 1)));
    drop(marked);
    let marked = open(b.path(), 300, true);
    assert_eq!(marked.state(), want);
    assert_eq!(all(&marked), all(&plain));
    assert_eq!(marked.last_mark(), Some((40, 1)));
    // Reads that walk the records: next/last matching skip marks.
    assert_eq!(
        marked.next_matching(0, Some("s.1")).unwrap().map(|m| m.seq),
        Some(1)
    );
    assert_eq!(
        marked.last_matching("s.*").unwrap().map(|m| m.seq),
        Some(40)
    );
}

/// Writes 10 messages, mark (10, 1), sync; then what comes after the mark: 5 more messages,
/// a delete of 4 and a purge below 3. Returns the store (not dropped).
fn after_mark(dir: &Path, truncate: bool) -> FileStore {
    let mut s = open(dir, 1 << 20, truncate);
    fill(&mut s, "a", 1, 10);
    s.mark(10, 1).unwrap();
    s.sync().unwrap();
    fill(&mut s, "b", 11, 15);
    assert!(s.delete(4).unwrap());
    s.purge(&sluice_stream::store::Purge {
        up_to_seq: Some(3),
        ..Default::default()
    })
    .unwrap();
    s.sync().unwrap();
    s
}

#[test]
fn records_after_the_last_mark_are_dropped_with_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reference = open(&tmp.path().join("ref"), 1 << 20, false);
    fill(&mut reference, "a", 1, 10);
    let dir = tmp.path().join("s");
    drop(after_mark(&dir, true));
    let mut s = open(&dir, 1 << 20, true);
    assert_eq!(s.state(), reference.state());
    assert_eq!(s.state().first_seq, 1);
    assert_eq!(s.state().last_seq, 10);
    assert_eq!(all(&s), all(&reference));
    assert!(s.get(11).unwrap().is_none());
    assert_eq!(s.subject_count("b"), 0);
    assert_eq!(s.subjects().len(), 1);
    assert_eq!(s.last_mark(), Some((10, 1)));
    let seg = seg_files(&dir).pop().unwrap();
    assert_eq!(s.segment_paths(), vec![seg.clone()]);
    // The segment ends with the mark now, and the store goes on from there.
    let mark_end = len(&seg);
    assert_eq!(s.append("c", None, b"again", 99).unwrap(), 11);
    s.mark(11, 2).unwrap();
    s.sync().unwrap();
    drop(s);
    let s = open(&dir, 1 << 20, true);
    assert_eq!(s.state().msgs, 11);
    assert_eq!(s.get(11).unwrap().unwrap().payload, &b"again"[..]);
    assert_eq!(s.last_mark(), Some((11, 2)));
    assert!(len(&seg) > mark_end);
}

#[test]
fn records_after_the_last_mark_are_kept_without_the_option() {
    for first in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        // Written with or without the option, opened without it: as today.
        let before = {
            let s = after_mark(tmp.path(), first);
            (s.state(), all(&s))
        };
        let s = open(tmp.path(), 1 << 20, false);
        assert_eq!((s.state(), all(&s)), before);
        assert_eq!(s.state().msgs, 12, "3..=15 but 4");
        assert_eq!((s.state().first_seq, s.state().last_seq), (3, 15));
        assert_eq!(s.last_mark(), Some((10, 1)));
    }
}

#[test]
fn records_after_the_mark_in_later_segments_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 400, true);
    fill(&mut s, "a", 1, 6);
    s.mark(6, 1).unwrap();
    s.sync().unwrap();
    let mark_seg = s.segment_paths().pop().unwrap();
    let state = s.state();
    let msgs = all(&s);
    fill(&mut s, "b", 7, 40);
    s.sync().unwrap();
    assert!(seg_files(tmp.path()).len() >= 4);
    drop(s);
    let s = open(tmp.path(), 400, true);
    assert_eq!(seg_files(tmp.path()).last(), Some(&mark_seg));
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), msgs);
    assert_eq!(s.last_mark(), Some((6, 1)));
}

#[test]
fn a_store_without_marks_is_kept_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 300, false);
    fill(&mut s, "old", 1, 20);
    s.delete(5).unwrap();
    s.sync().unwrap();
    let (state, msgs) = (s.state(), all(&s));
    drop(s);
    // An old store, or a fresh replica that applied nothing yet: opened with the option,
    // nothing is dropped.
    let files = seg_files(tmp.path());
    let s = open(tmp.path(), 300, true);
    assert_eq!((s.state(), all(&s)), (state, msgs));
    assert_eq!(s.last_mark(), None);
    assert_eq!(seg_files(tmp.path()), files);
}

#[test]
fn torn_tail_after_a_mark_is_dropped_with_what_follows_the_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 1 << 20, true);
    fill(&mut s, "a", 1, 5);
    s.mark(5, 1).unwrap();
    fill(&mut s, "a", 6, 8);
    s.mark(8, 1).unwrap();
    fill(&mut s, "a", 9, 10);
    s.sync().unwrap();
    drop(s);
    let seg = seg_files(tmp.path()).pop().unwrap();
    // Torn in the last message: back to the mark of 8.
    cut(&seg, len(&seg) - 3);
    let s = open(tmp.path(), 1 << 20, true);
    assert_eq!((s.state().msgs, s.state().last_seq), (8, 8));
    assert_eq!(s.last_mark(), Some((8, 1)));
    drop(s);
    // Torn in the mark record itself: back to the mark of 5.
    cut(&seg, len(&seg) - MARK_LEN / 2);
    let mut s = open(tmp.path(), 1 << 20, true);
    assert_eq!((s.state().msgs, s.state().last_seq), (5, 5));
    assert_eq!(s.last_mark(), Some((5, 1)));
    assert_eq!(all(&s).last().unwrap().payload, payload(5));
    assert_eq!(s.append("a", None, b"x", 1).unwrap(), 6);
}

#[test]
fn torn_tail_without_the_option_is_repaired_as_today() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 1 << 20, false);
    fill(&mut s, "a", 1, 5);
    s.mark(5, 1).unwrap();
    fill(&mut s, "a", 6, 8);
    s.sync().unwrap();
    drop(s);
    let seg = seg_files(tmp.path()).pop().unwrap();
    cut(&seg, len(&seg) - 3);
    let s = open(tmp.path(), 1 << 20, false);
    assert_eq!((s.state().msgs, s.state().last_seq), (7, 7));
    assert_eq!(s.last_mark(), Some((5, 1)));
}

#[test]
fn torn_header_of_a_segment_after_the_mark_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 300, true);
    fill(&mut s, "a", 1, 3);
    s.mark(3, 1).unwrap();
    s.sync().unwrap();
    let n = seg_files(tmp.path()).len();
    fill(&mut s, "a", 4, 20);
    drop(s);
    let files = seg_files(tmp.path());
    assert!(files.len() > n);
    cut(files.last().unwrap(), HEADER_LEN / 2);
    let s = open(tmp.path(), 300, true);
    assert_eq!(seg_files(tmp.path()).len(), n);
    assert_eq!(s.state().last_seq, 3);
}

#[test]
fn damage_before_the_end_is_still_corrupt_with_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 1 << 20, true);
    fill(&mut s, "a", 1, 5);
    s.mark(5, 1).unwrap();
    s.sync().unwrap();
    let seg = seg_files(tmp.path()).pop().unwrap();
    let mark_end = len(&seg);
    fill(&mut s, "a", 6, 10);
    s.sync().unwrap();
    drop(s);
    // A flipped byte in message 6 (after the mark), with valid records after it: damage,
    // not a torn tail, even though it would be cut off.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    let at = mark_end + 20;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], at).unwrap();
    drop(f);
    let got = FileStore::open_with(
        tmp.path(),
        cfg(1 << 20),
        Recovery {
            truncate_after_last_mark: true,
        },
    );
    assert!(
        matches!(got, Err(StoreError::Corrupt { .. })),
        "{:?}",
        got.err()
    );
}

#[test]
fn memory_store_keeps_the_last_mark() {
    let mut m = MemoryStore::new();
    assert_eq!(m.last_mark(), None);
    fill(&mut m, "a", 1, 3);
    m.mark(3, 1).unwrap();
    m.mark(4, 2).unwrap();
    assert_eq!(m.last_mark(), Some((4, 2)));
    m.purge(&Default::default()).unwrap();
    assert_eq!(m.last_mark(), Some((4, 2)));
    assert_eq!(m.state().msgs, 0);
}
