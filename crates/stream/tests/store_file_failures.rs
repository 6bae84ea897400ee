//! FileStore write failures: unusable paths, a rollover that cannot create its file, a full
//! disk. Each must be `StoreError::Io` naming the path, never a panic, and leave the store
//! consistent (nothing half-written that later appends build on).

use sluice_stream::store::file::{FileStore, FileStoreConfig};
use sluice_stream::store::{MsgStore, StoreError, StoredMsg};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn unusable_paths_are_io_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where a directory should be.
    let file = tmp.path().join("plain");
    fs::write(&file, b"x").unwrap();
    match FileStore::open(&file.join("stream"), cfg(1024)) {
        Err(StoreError::Io { path, .. }) => assert!(path.contains("plain"), "{path}"),
        other => panic!("want Io, got {:?}", other.map(|s| s.state())),
    }
    // A directory where a segment file should be.
    let dir = tmp.path().join("s");
    fs::create_dir_all(dir.join("00000000000000000001.seg")).unwrap();
    match FileStore::open(&dir, cfg(1024)) {
        Err(StoreError::Io { path, .. }) => assert!(path.ends_with("00000000000000000001.seg")),
        other => panic!("want Io, got {:?}", other.map(|s| s.state())),
    }
}

#[test]
fn failed_rollover_leaves_the_store_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path(), 512);
    // The next segment's path is taken by a directory: creating it fails.
    let blocker = tmp.path().join("00000000000000000002.seg");
    fs::create_dir(&blocker).unwrap();
    let mut ok = 0;
    let err = loop {
        match s.append("t", None, &payload(ok + 1), 1) {
            Ok(q) => {
                ok += 1;
                assert_eq!(q, ok);
            }
            Err(e) => break e,
        }
        assert!(ok < 100, "rollover never failed");
    };
    match &err {
        StoreError::Io { path, .. } => assert!(path.ends_with("00000000000000000002.seg")),
        e => panic!("want Io, got {e}"),
    }
    assert_eq!(s.state().msgs, ok);
    assert!(!s.delete(ok + 5).unwrap());
    assert_eq!(all(&s).len() as u64, ok);
    fs::remove_dir(&blocker).unwrap();
    assert_eq!(s.append("t", None, &payload(ok + 1), 1).unwrap(), ok + 1);
    s.sync().unwrap();
    let state = s.state();
    drop(s);
    let s = open(tmp.path(), 512);
    assert_eq!(s.state(), state);
    assert_eq!(all(&s).len() as u64, ok + 1);
}

/// A small tmpfs mounted on a temp dir (we run as root); None where mounting is not allowed.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?;
        st.success().then_some(Tmpfs(dir))
    }

    fn remount(&self, opts: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(self.0.path())
            .status();
        assert!(st.unwrap().success(), "remount {opts}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn full_disk_fails_cleanly() {
    let Some(fs_) = Tmpfs::mount("64k") else {
        eprintln!("cannot mount a tmpfs here; skipping the disk-full test");
        return;
    };
    let dir = fs_.0.path().join("stream");
    let mut s = open(&dir, 8 * 1024);
    let big = vec![7u8; 1000];
    let mut ok = 0u64;
    let err = loop {
        match s.append("full", None, &big, ok as i64) {
            Ok(_) => ok += 1,
            Err(e) => break e,
        }
        assert!(ok < 10_000, "never ran out of space");
    };
    match &err {
        StoreError::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(28), "{err}"),
        e => panic!("want Io, got {e}"),
    }
    eprintln!("disk full after {ok} appends: {err}");
    assert_eq!(s.state().msgs, ok);
    assert_eq!(s.state().last_seq, ok);
    for q in 1..=ok {
        assert_eq!(s.get(q).unwrap().unwrap().payload.len(), 1000);
    }
    // More room: everything acknowledged gets written, nothing half-written is in the way.
    fs_.remount("size=4m");
    assert_eq!(s.append("full", None, &big, 0).unwrap(), ok + 1);
    s.sync().unwrap();
    let state = s.state();
    drop(s);
    let sizes: Vec<u64> = seg_files(&dir)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .collect();
    let s = open(&dir, 8 * 1024);
    assert_eq!(s.state(), state);
    let after: Vec<u64> = seg_files(&dir)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .collect();
    assert_eq!(sizes, after, "reopen had to repair something");
    drop(s);
    assert_eq!(open(&dir, 8 * 1024).state(), state);
}
