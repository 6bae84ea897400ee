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
        // Lazy: a child another test thread is forking may hold one of our files for a
        // moment (until its exec closes it), which makes a plain umount fail as busy.
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
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

/// Regression (disk full, black-box in integration-tests/tests/disk_full.rs): messages whose
/// sync failed stayed in the store's buffer and index, readable, and were written once the disk
/// had room again, although their publishers had been told they were not stored. `reload`
/// drops them: the store is what its files hold, and the next append takes their sequence.
#[test]
fn reload_after_a_failed_sync_drops_what_was_not_written() {
    let Some(fs_) = Tmpfs::mount("64k") else {
        eprintln!("cannot mount a tmpfs here; skipping the disk-full test");
        return;
    };
    let dir = fs_.0.path().join("stream");
    let mut s = open(&dir, 1024 * 1024);
    let big = vec![7u8; 1000];
    let mut synced = 0u64;
    let err = loop {
        let seq = s.append("full", None, &big, 1).unwrap();
        match s.sync() {
            Ok(()) => synced = seq,
            Err(e) => break e,
        }
        assert!(synced < 10_000, "never ran out of space");
    };
    assert!(matches!(&err, StoreError::Io { source, .. } if source.raw_os_error() == Some(28)));
    // The refused message is still there until the reload...
    assert_eq!(s.state().last_seq, synced + 1);
    assert_eq!(s.reload().unwrap(), 1);
    // ... and gone after it.
    assert_eq!(s.state().last_seq, synced);
    assert_eq!(s.state().msgs, synced);
    assert!(s.get(synced + 1).unwrap().is_none());
    // Still full: refused again, and dropped again.
    s.append("full", None, &big, 1).unwrap();
    assert!(s.sync().is_err());
    assert_eq!(s.reload().unwrap(), 1);
    // Room again: the next message takes the refused one's sequence.
    fs_.remount("size=4m");
    assert_eq!(s.append("full", None, b"next", 2).unwrap(), synced + 1);
    s.sync().unwrap();
    let state = s.state();
    drop(s);
    let s = open(&dir, 1024 * 1024);
    assert_eq!(s.state(), state);
    assert_eq!(s.get(synced + 1).unwrap().unwrap().payload, "next");
    assert_eq!(all(&s).len() as u64, synced + 1);
}

/// The same at the stream level: a publish refused because its sync failed leaves no trace,
/// so the same `Nats-Msg-Id` is stored (not reported a duplicate of a message that is not
/// there) once the disk has room.
#[test]
fn refused_publish_leaves_no_duplicate_id_behind() {
    use sluice_stream::stream::{Policy, Stored, Stream};
    let Some(fs_) = Tmpfs::mount("64k") else {
        eprintln!("cannot mount a tmpfs here; skipping the disk-full test");
        return;
    };
    let dir = fs_.0.path().join("stream");
    let policy = Policy {
        name: "S".into(),
        ..Policy::default()
    };
    let mut s = Stream::open(policy, Box::new(open(&dir, 1024 * 1024)), 1).unwrap();
    let big = vec![7u8; 1000];
    let headers = |i: u64| format!("NATS/1.0\r\nNats-Msg-Id: id-{i}\r\n\r\n").into_bytes();
    let mut i = 0;
    let refused = loop {
        i += 1;
        let r = s.publish("s", Some(&headers(i)), &big, 1).unwrap();
        assert_eq!(r, Stored::New(i));
        if s.sync().is_err() {
            break i;
        }
        assert!(i < 10_000, "never ran out of space");
    };
    assert_eq!(s.reload(1).unwrap(), 1);
    assert_eq!(s.state().last_seq, refused - 1);
    fs_.remount("size=4m");
    let r = s.publish("s", Some(&headers(refused)), &big, 2).unwrap();
    assert_eq!(r, Stored::New(refused), "the refused id is free");
    s.sync().unwrap();
    // Ids stored before the failure are still known.
    let r = s.publish("s", Some(&headers(1)), &big, 3).unwrap();
    assert_eq!(r, Stored::Duplicate(1));
}

/// Regression (disk full, black-box in integration-tests/tests/disk_full.rs): sled remembers an
/// I/O error and fails every later operation with it while it stays open, so once the disk had
/// been full, consumer state and consumer/stream creates failed until a restart. The metadata
/// store now closes the database after an I/O error and reopens it on its next use.
#[test]
fn metadata_works_again_once_the_disk_has_room() {
    use sluice_stream::meta::Meta;
    let Some(fs_) = Tmpfs::mount("1m") else {
        eprintln!("cannot mount a tmpfs here; skipping the disk-full test");
        return;
    };
    let dir = fs_.0.path().join("store");
    let meta = Meta::open(&dir).unwrap();
    meta.put_stream("KEPT", b"{\"kept\":true}").unwrap();
    // Fill the rest of the tmpfs, then write until sled fails.
    let filler = fs_.0.path().join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    drop(f);
    let mut failed = None;
    for i in 0..10_000 {
        let state = vec![i as u8; 512];
        if let Err(e) = meta.save_consumer_states("KEPT", &[(format!("c{i}"), state)]) {
            failed = Some(e);
            break;
        }
    }
    let failed = failed.expect("sled never ran out of space");
    assert!(failed.to_string().contains("No space left"), "{failed}");
    assert!(meta.put_stream("NEW", b"{}").is_err(), "still full");
    // Room again: the same handle works, without reopening by hand.
    fs::remove_file(&filler).unwrap();
    meta.put_stream("NEW", b"{\"new\":true}").unwrap();
    let names: Vec<String> = meta
        .streams()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["KEPT", "NEW"]);
    drop(meta);
    let meta = Meta::open(&dir).unwrap();
    let names: Vec<String> = meta
        .streams()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["KEPT", "NEW"]);
}
