//! Apply marks through what rewrites or deletes segments: a full purge (a reset segment),
//! dead segments deleted after limits removed their messages, and compaction. The last mark
//! must survive all of them, and a store opened with `truncate_after_last_mark` must not
//! delete anything that records after its last durable mark made dead.

use sluice_stream::store::file::{FileStore, FileStoreConfig, Recovery};
use sluice_stream::store::{MsgStore, Purge, StoredMsg};
use std::fs;
use std::path::{Path, PathBuf};

const REC_FIXED: u64 = 32;
const HEADER_LEN: u64 = 40;

fn open(dir: &Path, segment_bytes: u64, truncate: bool) -> FileStore {
    let recovery = Recovery {
        truncate_after_last_mark: truncate,
    };
    FileStore::open_with(dir, FileStoreConfig { segment_bytes }, recovery).unwrap()
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
    (st.first_seq..=st.last_seq)
        .filter_map(|q| s.get(q).unwrap())
        .collect()
}

fn payload(i: u64) -> Vec<u8> {
    format!("payload number {i:05}").into_bytes()
}

fn fill(s: &mut FileStore, from: u64, to: u64) {
    for i in from..=to {
        assert_eq!(s.append("m", None, &payload(i), i as i64).unwrap(), i);
    }
}

/// Segment size for five messages of `fill` each.
fn five() -> u64 {
    HEADER_LEN + 5 * (REC_FIXED + 1 + payload(1).len() as u64)
}

fn purge_all() -> Purge {
    Purge::default()
}

#[test]
fn full_purge_keeps_the_mark_without_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), five(), false);
    fill(&mut s, 1, 12);
    s.mark(12, 3).unwrap();
    s.sync().unwrap();
    assert_eq!(s.purge(&purge_all()).unwrap(), 12);
    // The old segments, the mark's too, are gone at once (as without marks).
    assert_eq!(seg_files(tmp.path()).len(), 1);
    assert_eq!(s.last_mark(), Some((12, 3)));
    drop(s);
    let s = open(tmp.path(), five(), false);
    assert_eq!(s.last_mark(), Some((12, 3)));
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 13, 12));
}

#[test]
fn full_purge_with_the_option_waits_for_the_next_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), five(), true);
    fill(&mut s, 1, 12);
    s.mark(12, 3).unwrap();
    s.sync().unwrap();
    let files = seg_files(tmp.path());
    s.purge(&purge_all()).unwrap();
    s.sync().unwrap();
    // No mark after the purge yet: the old segments stay.
    for f in &files {
        assert!(f.exists(), "{} deleted before a mark", f.display());
    }
    s.mark(13, 3).unwrap();
    s.sync().unwrap();
    assert_eq!(
        seg_files(tmp.path()).len(),
        1,
        "deleted once the mark is synced"
    );
    drop(s);
    let s = open(tmp.path(), five(), true);
    assert_eq!(s.last_mark(), Some((13, 3)));
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 13, 12));
}

#[test]
fn full_purge_after_the_last_mark_is_undone_by_a_crash() {
    for set_next in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = open(tmp.path(), five(), true);
        fill(&mut s, 1, 12);
        s.mark(12, 3).unwrap();
        s.sync().unwrap();
        let (state, msgs) = (s.state(), all(&s));
        s.purge(&purge_all()).unwrap();
        if set_next {
            s.set_next_seq(100).unwrap();
        }
        s.append("m", None, b"after", 1).unwrap();
        s.sync().unwrap();
        drop(s);
        let s = open(tmp.path(), five(), true);
        assert_eq!((s.state(), all(&s)), (state, msgs), "set_next {set_next}");
        assert_eq!(s.last_mark(), Some((12, 3)));
    }
}

#[test]
fn limits_delete_the_marks_segment_without_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), five(), false);
    fill(&mut s, 1, 3);
    s.mark(3, 1).unwrap();
    s.sync().unwrap();
    let mark_seg = seg_files(tmp.path())[0].clone();
    fill(&mut s, 4, 30);
    s.sync().unwrap();
    // max_msgs-style removal of the oldest: the mark's segment dies and is deleted.
    s.purge(&Purge {
        up_to_seq: Some(21),
        ..Default::default()
    })
    .unwrap();
    assert!(!mark_seg.exists());
    assert_eq!(s.last_mark(), Some((3, 1)));
    let (state, msgs) = (s.state(), all(&s));
    drop(s);
    let s = open(tmp.path(), five(), false);
    assert_eq!(s.last_mark(), Some((3, 1)));
    assert_eq!((s.state(), all(&s)), (state, msgs));
}

#[test]
fn limits_with_the_option_delete_only_behind_a_durable_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), five(), true);
    fill(&mut s, 1, 30);
    s.mark(30, 1).unwrap();
    s.sync().unwrap();
    let files = seg_files(tmp.path());
    let (state, msgs) = (s.state(), all(&s));
    // Removals after the mark (a batch in progress): nothing is deleted yet, even if synced.
    for q in 1..=12 {
        s.delete(q).unwrap();
    }
    s.purge(&Purge {
        up_to_seq: Some(16),
        ..Default::default()
    })
    .unwrap();
    s.sync().unwrap();
    assert_eq!(s.compact().unwrap(), 0, "no compaction mid-batch");
    assert!(
        files.iter().all(|f| f.exists()),
        "nothing deleted mid-batch"
    );
    drop(s);
    // A crash here: the removals were not covered by a mark; all is as at the mark.
    let mut s = open(tmp.path(), five(), true);
    assert_eq!((s.state(), all(&s)), (state, msgs));
    // Done again, then marked and synced: now the dead segments go.
    s.purge(&Purge {
        up_to_seq: Some(16),
        ..Default::default()
    })
    .unwrap();
    assert!(files.iter().all(|f| f.exists()));
    s.mark(31, 1).unwrap();
    assert!(files.iter().all(|f| f.exists()), "mark not synced yet");
    s.sync().unwrap();
    // Segments 1..=3 held messages 1..=15.
    let after = seg_files(tmp.path());
    assert_eq!(after[..], files[3..], "{after:?}");
    let (state, msgs) = (s.state(), all(&s));
    drop(s);
    let s = open(tmp.path(), five(), true);
    assert_eq!((s.state(), all(&s)), (state, msgs));
    assert_eq!(s.state().first_seq, 16);
    assert_eq!(s.last_mark(), Some((31, 1)));
}

#[test]
fn carried_tombstones_come_before_a_copy_of_the_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), five(), true);
    s.mark(0, 1).unwrap();
    s.sync().unwrap();
    fill(&mut s, 1, 10);
    // Segments 1 (mark, 1..=4), 2 (5..=9), 3 (10, tombstone of 2, 11..=13); 14 and 15 in
    // segment 4.
    s.delete(2).unwrap();
    fill(&mut s, 11, 15);
    let seg3 = tmp.path().join("00000000000000000003.seg");
    assert_eq!(s.segment_paths().len(), 4);
    for q in 10..=13 {
        s.delete(q).unwrap();
    }
    assert!(seg3.exists(), "dead, but waits for a mark");
    s.mark(15, 1).unwrap();
    s.sync().unwrap();
    // Segment 3 died: its tombstone of 2 was carried to the active segment, followed by a
    // copy of the mark, so a reopen keeps it (2 stays deleted) and the mark.
    assert!(!seg3.exists());
    drop(s);
    let s = open(tmp.path(), five(), true);
    let seqs: Vec<u64> = all(&s).iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 3, 4, 5, 6, 7, 8, 9, 14, 15]);
    assert_eq!(s.last_mark(), Some((15, 1)));
}

#[test]
fn compaction_rewrites_the_marks_segment_with_the_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 2048, false);
    fill(&mut s, 1, 30);
    s.mark(30, 2).unwrap();
    fill(&mut s, 31, 100);
    let mark_seg = s.segment_paths()[0].clone();
    for q in 1..=40 {
        if q % 10 != 0 {
            s.delete(q).unwrap();
        }
    }
    s.sync().unwrap();
    let (state, msgs) = (s.state(), all(&s));
    let before = fs::metadata(&mark_seg).unwrap().len();
    assert!(s.compact().unwrap() > 0);
    assert!(fs::metadata(&mark_seg).unwrap().len() < before, "rewritten");
    assert_eq!((s.state(), all(&s)), (state, msgs.clone()));
    drop(s);
    let s = open(tmp.path(), 2048, false);
    assert_eq!((s.state(), all(&s)), (state, msgs));
    assert_eq!(s.last_mark(), Some((30, 2)));
}

#[test]
fn compaction_with_the_option_runs_behind_a_durable_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 2048, true);
    fill(&mut s, 1, 100);
    for q in 1..=70 {
        if q % 10 != 0 {
            s.delete(q).unwrap();
        }
    }
    s.mark(100, 2).unwrap();
    assert_eq!(s.compact().unwrap(), 0, "mark not durable yet");
    s.sync().unwrap();
    let (state, msgs) = (s.state(), all(&s));
    assert!(s.compact().unwrap() > 0);
    assert_eq!((s.state(), all(&s)), (state, msgs.clone()));
    drop(s);
    let s = open(tmp.path(), 2048, true);
    assert_eq!((s.state(), all(&s)), (state, msgs));
    assert_eq!(s.last_mark(), Some((100, 2)));
}
