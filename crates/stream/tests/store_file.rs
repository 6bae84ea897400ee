//! FileStore specifics: persistence across reopen, segment files, crash recovery, corruption
//! and write failures.

use sluice_stream::store::file::{FileStore, FileStoreConfig};
use sluice_stream::store::{MsgStore, Purge, StoreError, StoredMsg};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const HEADER_LEN: u64 = 40;
const REC_FIXED: u64 = 32;

fn cfg(segment_bytes: u64) -> FileStoreConfig {
    FileStoreConfig { segment_bytes }
}

fn open(dir: &Path, segment_bytes: u64) -> FileStore {
    FileStore::open(dir, cfg(segment_bytes)).unwrap()
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

/// Record length of `payload(i)` under subject `subj` (no headers).
fn rec_len(subj: &str, i: u64) -> u64 {
    REC_FIXED + subj.len() as u64 + payload(i).len() as u64
}

fn fill(s: &mut FileStore, subj: &str, n: u64) {
    for i in 1..=n {
        s.append(subj, None, &payload(i), i as i64).unwrap();
    }
}

#[test]
fn default_config_is_64_mib() {
    assert_eq!(FileStoreConfig::default().segment_bytes, 64 * 1024 * 1024);
}

#[test]
fn new_dir_is_created_with_one_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/stream");
    let s = open(&dir, 1 << 20);
    assert_eq!(s.state().first_seq, 1);
    let files = seg_files(&dir);
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("00000000000000000001.seg"));
    assert_eq!(fs::metadata(&files[0]).unwrap().len(), HEADER_LEN);
}

#[test]
fn reopen_restores_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (before, state) = {
        let mut s = open(tmp.path(), 1 << 20);
        for i in 1..=50u64 {
            let hdr = format!("NATS/1.0\r\nI: {i}\r\n\r\n");
            let h = (i % 3 == 0).then_some(hdr.as_bytes());
            s.append(&format!("s.{}", i % 4), h, &payload(i), 1000 + i as i64)
                .unwrap();
        }
        s.delete(7).unwrap();
        s.delete(1).unwrap();
        s.delete(50).unwrap();
        s.purge(&Purge {
            filter: Some("s.2".into()),
            ..Purge::default()
        })
        .unwrap();
        s.purge(&Purge {
            up_to_seq: Some(5),
            ..Purge::default()
        })
        .unwrap();
        s.expire_before(1010).unwrap();
        s.sync().unwrap();
        (all(&s), s.state())
    };
    let s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), before);
    assert_eq!(state.first_seq, 11);
    assert_eq!(state.last_seq, 50);
    assert_eq!(s.subject_count("s.2"), 0);
    assert_eq!(s.first_seq_of_subject("s.1"), Some(13));
}

#[test]
fn drop_without_sync_still_writes_to_the_os() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = open(tmp.path(), 1 << 20);
        fill(&mut s, "d", 3);
    }
    let s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state().msgs, 3);
    assert_eq!(s.get(3).unwrap().unwrap().payload, payload(3));
}

#[test]
fn purge_and_next_seq_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = open(tmp.path(), 1 << 20);
        fill(&mut s, "p", 5);
        assert_eq!(s.purge(&Purge::default()).unwrap(), 5);
    }
    let mut s = open(tmp.path(), 1 << 20);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_ts),
        (0, 6, 5, 5)
    );
    assert_eq!(
        seg_files(tmp.path()).len(),
        1,
        "purge leaves one (new) segment"
    );
    s.set_next_seq(1000).unwrap();
    drop(s);
    let mut s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state().first_seq, 1000);
    assert_eq!(s.append("p", None, b"x", 9).unwrap(), 1000);
}

#[test]
fn segments_roll_over_and_dead_ones_are_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 1024);
    fill(&mut s, "roll", 100);
    s.sync().unwrap();
    let files = seg_files(tmp.path());
    assert!(files.len() >= 5, "{} segments", files.len());
    for f in &files {
        assert!(
            fs::metadata(f).unwrap().len() <= 1024,
            "{} too big",
            f.display()
        );
    }
    assert_eq!(s.segment_paths(), files);
    // Deleting the oldest messages deletes the oldest segments.
    for q in 1..=40 {
        s.delete(q).unwrap();
    }
    let after = seg_files(tmp.path());
    assert!(!after.contains(&files[0]) && !after.contains(&files[1]));
    // A dead segment in the middle goes too.
    let n = after.len();
    for q in 50..=75 {
        s.delete(q).unwrap();
    }
    let after = seg_files(tmp.path());
    assert!(after.len() < n, "{} -> {}", n, after.len());
    let state = s.state();
    let msgs = all(&s);
    drop(s);
    let s = open(tmp.path(), 1024);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), msgs);
    assert_eq!(state.msgs, 100 - 40 - 26);
}

#[test]
fn middle_segment_carries_its_tombstones_forward() {
    let tmp = tempfile::tempdir().unwrap();
    let one = REC_FIXED + 1 + payload(1).len() as u64;
    // Five messages per segment.
    let mut s = open(tmp.path(), HEADER_LEN + 5 * one);
    fill(&mut s, "m", 10);
    assert_eq!(seg_files(tmp.path()).len(), 2);
    // The tombstone of 2 lands in segment 2, next to messages 6..=10.
    s.delete(2).unwrap();
    s.append("m", None, &payload(11), 11).unwrap();
    assert_eq!(seg_files(tmp.path()).len(), 3);
    // Segment 2's messages all go: it is deleted, its tombstone of 2 moves to segment 3.
    for q in 6..=10 {
        s.delete(q).unwrap();
    }
    let files = seg_files(tmp.path());
    assert_eq!(files.len(), 2);
    assert!(files[1].ends_with("00000000000000000003.seg"));
    drop(s);
    let s = open(tmp.path(), HEADER_LEN + 5 * one);
    let seqs: Vec<u64> = all(&s).iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 3, 4, 5, 11]);
    assert_eq!(s.state().num_deleted, 6);
}

fn write_n_and_sync(dir: &Path, n: u64) -> PathBuf {
    let mut s = open(dir, 1 << 20);
    fill(&mut s, "t", n);
    s.sync().unwrap();
    drop(s);
    seg_files(dir).pop().unwrap()
}

#[test]
fn torn_tail_is_truncated_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = write_n_and_sync(tmp.path(), 10);
    let len = fs::metadata(&seg).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let mut s = open(tmp.path(), 1 << 20);
    let st = s.state();
    assert_eq!((st.msgs, st.last_seq), (9, 9));
    assert_eq!(fs::metadata(&seg).unwrap().len(), len - rec_len("t", 10));
    assert_eq!(s.append("t", None, b"again", 99).unwrap(), 10);
    s.sync().unwrap();
    drop(s);
    let s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state().msgs, 10);
    assert_eq!(s.get(10).unwrap().unwrap().payload, &b"again"[..]);
    assert_eq!(s.get(9).unwrap().unwrap().payload, payload(9));
}

#[test]
fn torn_length_field_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = write_n_and_sync(tmp.path(), 3);
    let len = fs::metadata(&seg).unwrap().len();
    // Only two bytes of the next record's length made it.
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0x30, 0x00]).unwrap();
    drop(f);
    let s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state().msgs, 3);
    assert_eq!(fs::metadata(&seg).unwrap().len(), len);
}

#[test]
fn garbage_at_the_tail_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = write_n_and_sync(tmp.path(), 10);
    let len = fs::metadata(&seg).unwrap().len();
    let mut x = 0x1234_5678u32;
    let garbage: Vec<u8> = (0..300)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&garbage).unwrap();
    f.write_all(&[0u8; 100]).unwrap();
    drop(f);
    let mut s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state().msgs, 10);
    assert_eq!(fs::metadata(&seg).unwrap().len(), len);
    assert_eq!(s.append("t", None, b"more", 1).unwrap(), 11);
}

#[test]
fn bad_checksum_on_the_last_record_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = write_n_and_sync(tmp.path(), 10);
    let len = fs::metadata(&seg).unwrap().len();
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(b"X", len - 2).unwrap();
    let s = open(tmp.path(), 1 << 20);
    assert_eq!(s.state().msgs, 9);
    assert_eq!(fs::metadata(&seg).unwrap().len(), len - rec_len("t", 10));
}

fn expect_corrupt(dir: &Path, seg: &Path, what: &str) {
    match FileStore::open(dir, cfg(1 << 20)) {
        Err(StoreError::Corrupt { path, reason }) => {
            assert!(
                path.contains(seg.file_name().unwrap().to_str().unwrap()),
                "{what}: {path}"
            );
            assert!(!reason.is_empty());
        }
        Err(e) => panic!("{what}: want Corrupt, got {e}"),
        Ok(s) => panic!("{what}: opened with {:?}", s.state()),
    }
}

#[test]
fn flipped_byte_in_the_middle_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = write_n_and_sync(tmp.path(), 10);
    let len = fs::metadata(&seg).unwrap().len();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    // Inside the payload of record 2.
    let at = HEADER_LEN + rec_len("t", 1) + REC_FIXED + 5;
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x40], at).unwrap();
    drop(f);
    expect_corrupt(tmp.path(), &seg, "flipped byte");
    // Nothing was dropped trying.
    assert_eq!(fs::metadata(&seg).unwrap().len(), len);
}

#[test]
fn damaged_length_in_the_middle_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = write_n_and_sync(tmp.path(), 10);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&[0xff, 0xff, 0xff, 0x00], HEADER_LEN)
        .unwrap();
    drop(f);
    expect_corrupt(tmp.path(), &seg, "bad length");
}

#[test]
fn damage_at_the_tail_of_an_older_segment_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = open(tmp.path(), 512);
        fill(&mut s, "t", 40);
        s.sync().unwrap();
    }
    let first = seg_files(tmp.path())[0].clone();
    let len = fs::metadata(&first).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    expect_corrupt(tmp.path(), &first, "older segment torn");
}

#[test]
fn bad_header_is_corrupt() {
    for (at, byte, what) in [
        (0u64, b'X', "magic"),
        (4, 2, "version"),
        (20, 7, "checksum"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let seg = write_n_and_sync(tmp.path(), 3);
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .write_all_at(&[byte], at)
            .unwrap();
        expect_corrupt(tmp.path(), &seg, what);
    }
}

#[test]
fn torn_header_of_the_newest_segment_is_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = open(tmp.path(), 512);
        fill(&mut s, "t", 40);
        s.sync().unwrap();
    }
    let files = seg_files(tmp.path());
    let older: u64 = files[..files.len() - 1]
        .iter()
        .map(|f| (fs::metadata(f).unwrap().len() - HEADER_LEN) / rec_len("t", 1))
        .sum();
    let newest = files.last().unwrap();
    OpenOptions::new()
        .write(true)
        .open(newest)
        .unwrap()
        .set_len(10)
        .unwrap();
    let mut s = open(tmp.path(), 512);
    assert_eq!(s.state().msgs, older);
    assert_eq!(s.state().last_seq, older);
    assert_eq!(fs::metadata(newest).unwrap().len(), HEADER_LEN);
    assert_eq!(s.append("t", None, b"next", 1).unwrap(), older + 1);
    drop(s);
    assert_eq!(open(tmp.path(), 512).state().msgs, older + 1);
}

#[test]
fn destroy_removes_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gone");
    let mut s = open(&dir, 1024);
    fill(&mut s, "x", 30);
    let b: Box<dyn MsgStore> = Box::new(s);
    b.destroy().unwrap();
    assert!(!dir.exists());
}

#[test]
fn large_records_get_their_own_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 1024);
    let big = vec![1u8; 5000];
    s.append("a", None, b"small", 1).unwrap();
    s.append("b", None, &big, 2).unwrap();
    s.append("c", None, b"small", 3).unwrap();
    assert_eq!(s.get(2).unwrap().unwrap().payload.len(), 5000);
    drop(s);
    let s = open(tmp.path(), 1024);
    assert_eq!(s.get(2).unwrap().unwrap().payload, big);
    assert_eq!(seg_files(tmp.path()).len(), 3);
}

#[test]
fn compact_rewrites_sparse_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 2048);
    fill(&mut s, "c", 200);
    // Keep one in ten, and delete one message of an older segment from a later one.
    for q in 1..=200 {
        if q % 10 != 0 {
            s.delete(q).unwrap();
        }
    }
    let before: u64 = seg_files(tmp.path())
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .sum();
    let msgs = all(&s);
    let state = s.state();
    let reclaimed = s.compact().unwrap();
    assert!(reclaimed > 0);
    let after: u64 = seg_files(tmp.path())
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(before - after, reclaimed);
    assert_eq!(all(&s), msgs);
    assert_eq!(s.compact().unwrap(), 0, "nothing left to compact");
    s.append("c", None, b"after", 1).unwrap();
    drop(s);
    // A leftover from an interrupted compaction is removed on open.
    fs::write(tmp.path().join("00000000000000000002.seg.tmp"), b"half").unwrap();
    let s = open(tmp.path(), 2048);
    assert!(!tmp.path().join("00000000000000000002.seg.tmp").exists());
    assert_eq!(s.state().msgs, state.msgs + 1);
    assert_eq!(all(&s)[..msgs.len()], msgs[..]);
}

#[test]
fn carrying_many_tombstones_forward_terminates() {
    let tmp = tempfile::tempdir().unwrap();
    let one = REC_FIXED + 1 + payload(1).len() as u64;
    // Four messages (or eight removal records) per segment.
    let seg = HEADER_LEN + 4 * one;
    let mut s = open(tmp.path(), seg);
    fill(&mut s, "m", 40);
    // Tombstones of most of the first segments' messages land in later segments ...
    for q in (2..=24).filter(|q| q % 4 != 1) {
        s.delete(q).unwrap();
    }
    for i in 41..=44 {
        s.append("m", None, &payload(i), i as i64).unwrap();
    }
    // ... which then die in the middle, with more tombstones to carry than a segment holds.
    for q in 25..=44 {
        s.delete(q).unwrap();
    }
    let state = s.state();
    let msgs = all(&s);
    assert_eq!(msgs.len(), 6);
    drop(s);
    let s = open(tmp.path(), seg);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s), msgs);
}
