//! A file store whose index pages almost everything out answers exactly as one that keeps the
//! whole index in memory: the same random operations, restarts included, on both.

use super::{FileStore, FileStoreConfig};
use crate::store::index::PagingConfig;
use crate::store::{MsgStore, Purge, StoreState};
use std::path::Path;

/// Chunks of 8 slots, 2 of them in memory, 1 cached: nearly every read and change pages.
const TINY: PagingConfig = PagingConfig {
    chunk_bits: 3,
    resident: 2,
    cached: 1,
};

fn open(dir: &Path, paging: Option<PagingConfig>) -> FileStore {
    let config = FileStoreConfig {
        segment_bytes: 4096,
    };
    FileStore::open_paged(dir, config, paging).unwrap()
}

const FILTERS: [&str; 6] = [">", "a.*", "a.1", "b.>", "c", "none.such"];

/// Messages matching `filter` from `from` on, counted the way a consumer's num_pending walks
/// the store.
fn num_pending(s: &FileStore, from: u64, filter: &str) -> u64 {
    let mut n = 0;
    let mut seq = from;
    while let Some(m) = s.next_matching(seq, Some(filter)).unwrap() {
        n += 1;
        seq = m.seq + 1;
    }
    n
}

/// Everything a reader can ask, for comparing two stores.
fn answers(s: &FileStore) -> (StoreState, Vec<String>) {
    let st = s.state();
    let mut out = Vec::new();
    let mut subjects = s.subjects();
    subjects.sort();
    out.push(format!("{subjects:?}"));
    let span = st.last_seq.saturating_sub(st.first_seq) + 1;
    for k in 0..12u64 {
        let seq = st.first_seq.saturating_sub(1) + k * span / 11;
        out.push(format!("get {seq}: {:?}", s.get(seq).unwrap()));
        for f in FILTERS {
            let next = s.next_matching(seq, Some(f)).unwrap().map(|m| m.seq);
            out.push(format!("next {seq} {f}: {next:?}"));
        }
    }
    for f in FILTERS {
        let last = s.last_matching(f).unwrap();
        out.push(format!("last {f}: {last:?}"));
        out.push(format!("pending {f}: {}", num_pending(s, 0, f)));
        out.push(format!(
            "count {f}: {} {:?}",
            s.subject_count(f),
            s.first_seq_of_subject(f)
        ));
    }
    (st, out)
}

fn check_same(paged: &FileStore, full: &FileStore, step: usize) {
    let (a, b) = (answers(paged), answers(full));
    assert_eq!(a.0, b.0, "state at step {step}");
    for (x, y) in a.1.iter().zip(&b.1) {
        assert_eq!(x, y, "at step {step}");
    }
    let (resident, _) = paged.index.paging_stats();
    assert!(resident <= 3, "{resident} chunks in memory at step {step}");
}

/// Random appends (with time going backwards now and then), deletes, purges with every
/// option, expiry, compaction and restarts, on a paged and an unpaged store side by side.
#[test]
fn paged_index_answers_as_the_full_one() {
    for seed in [1u64, 7, 42] {
        let (dir_p, dir_f) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut paged, mut full) = (open(dir_p.path(), Some(TINY)), open(dir_f.path(), None));
        let mut x = seed;
        let mut rnd = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let subjects = ["a.1", "a.2", "a.3", "b.x.y", "b.z", "c"];
        let mut ts = 1_000i64;
        let mut page_reads = 0;
        for step in 0..1500 {
            let st = full.state();
            let span = st.last_seq.saturating_sub(st.first_seq) + 1;
            let pick = st.first_seq + rnd(span);
            match rnd(100) {
                0..=69 => {
                    ts += if rnd(20) == 0 { -5 } else { 10 };
                    let subj = subjects[rnd(6) as usize];
                    let hdrs = (rnd(4) == 0).then_some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..]);
                    let body = format!("m{step}");
                    let a = paged.append(subj, hdrs, body.as_bytes(), ts).unwrap();
                    let b = full.append(subj, hdrs, body.as_bytes(), ts).unwrap();
                    assert_eq!(a, b);
                }
                70..=79 => assert_eq!(paged.delete(pick).unwrap(), full.delete(pick).unwrap()),
                80..=85 => {
                    let p = Purge {
                        filter: [None, Some("a.*"), Some("b.z"), Some(">")][rnd(4) as usize]
                            .map(String::from),
                        up_to_seq: (rnd(2) == 0).then_some(pick),
                        keep: (rnd(2) == 0).then(|| rnd(40)),
                    };
                    assert_eq!(paged.purge(&p).unwrap(), full.purge(&p).unwrap(), "{p:?}");
                }
                86..=89 => {
                    let cutoff = ts - 200 - rnd(2000) as i64;
                    let a = paged.expire_before(cutoff).unwrap();
                    assert_eq!(a, full.expire_before(cutoff).unwrap());
                }
                90..=93 => {
                    paged.compact().unwrap();
                    full.compact().unwrap();
                }
                94..=96 => {
                    page_reads += paged.index.paging_stats().1;
                    drop((paged, full));
                    paged = open(dir_p.path(), Some(TINY));
                    full = open(dir_f.path(), None);
                }
                _ => {
                    let next = st.last_seq + 1 + rnd(3);
                    if st.msgs == 0 {
                        paged.set_next_seq(next).unwrap();
                        full.set_next_seq(next).unwrap();
                    }
                }
            }
            if step % 10 == 0 {
                check_same(&paged, &full, step);
            }
        }
        check_same(&paged, &full, usize::MAX);
        page_reads += paged.index.paging_stats().1;
        assert!(
            page_reads > 100,
            "only {page_reads} reads from the page file"
        );
        // A restart of the paged store rebuilds the same index from the segments.
        let before = answers(&paged);
        drop(paged);
        let paged = open(dir_p.path(), Some(TINY));
        assert_eq!(answers(&paged), before);
    }
}

/// The index's memory stays flat as the stream grows, and every message reads back.
#[test]
fn paged_index_memory_is_flat() {
    let dir = tempfile::tempdir().unwrap();
    let paging = PagingConfig {
        chunk_bits: 6,
        resident: 3,
        cached: 2,
    };
    let mut s = open(dir.path(), Some(paging));
    for i in 0..1_000u64 {
        s.append(&format!("s.{}", i % 10), None, b"x", i as i64)
            .unwrap();
    }
    let small = s.index_memory();
    for i in 1_000..20_000u64 {
        s.append(&format!("s.{}", i % 10), None, b"x", i as i64)
            .unwrap();
    }
    assert_eq!(s.index_memory(), small, "index memory grew with the stream");
    assert!(
        small <= 4 * 64 * 24,
        "{small} bytes for 3 chunks and a spare"
    );
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = open(full_dir.path(), None);
    for i in 0..20_000u64 {
        full.append("s", None, b"x", i as i64).unwrap();
    }
    assert!(full.index_memory() >= 20_000 * 24);
    // Every message reads back, in order, through the paged-out chunks; also after a restart
    // (whose replay pages out as it goes).
    for round in 0..2 {
        for seq in 1..=20_000u64 {
            let m = s.get(seq).unwrap().expect("stored");
            assert_eq!((m.seq, m.time_ns), (seq, seq as i64 - 1), "round {round}");
            assert_eq!(&*m.subject, format!("s.{}", (seq - 1) % 10));
        }
        assert_eq!(num_pending(&s, 1, "s.3"), 2_000);
        assert_eq!(s.last_matching("s.3").unwrap().unwrap().seq, 19_994);
        drop(s);
        s = open(dir.path(), Some(paging));
        assert_eq!(s.index_memory(), small, "after a restart");
    }
    assert_eq!(s.state().msgs, 20_000);
}

/// The process's resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Measurement, not a check: 4 M small messages in a file stream, then a restart, with the
/// index paging as `SLUICE_INDEX_PAGING` says (unset: the default; `off`: all in memory).
/// Run each phase in a process of its own, `write` first, in release mode:
/// `cargo test --release -p sluice-stream --lib measure_4m_write -- --ignored --nocapture`.
fn measure_dir() -> std::path::PathBuf {
    std::env::var_os("SLUICE_MEASURE_DIR")
        .map_or_else(|| std::env::temp_dir().join("sluice-4m"), Into::into)
}

#[test]
#[ignore = "measurement; see measure_dir"]
fn measure_4m_write() {
    let dir = measure_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let base = rss_kib();
    let t = std::time::Instant::now();
    let mut s = FileStore::open(&dir, FileStoreConfig::default()).unwrap();
    for i in 0..4_000_000u64 {
        s.append(
            &format!("m.{}", i % 16),
            None,
            b"0123456789abcdef",
            i as i64,
        )
        .unwrap();
    }
    s.sync().unwrap();
    let took = t.elapsed();
    println!(
        "write: 4M appends in {took:.2?}; index slots in memory {} KiB; RSS {} KiB (+{} KiB)",
        s.index_memory() / 1024,
        rss_kib(),
        rss_kib() - base
    );
    assert_eq!(s.state().msgs, 4_000_000);
}

#[test]
#[ignore = "measurement; see measure_dir"]
fn measure_4m_reopen() {
    let base = rss_kib();
    let t = std::time::Instant::now();
    let mut s = FileStore::open(&measure_dir(), FileStoreConfig::default()).unwrap();
    let open = t.elapsed();
    println!(
        "reopen: {open:.2?}; index slots in memory {} KiB; RSS {} KiB (+{} KiB)",
        s.index_memory() / 1024,
        rss_kib(),
        rss_kib() - base
    );
    let t = std::time::Instant::now();
    let mut n = 0u64;
    for seq in (1..=4_000_000u64).step_by(1) {
        n += u64::from(s.get(seq).unwrap().is_some());
    }
    println!("get of every message in order: {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    let mut x = 1u64;
    for _ in 0..100_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        assert!(s.get(1 + (x >> 33) % 4_000_000).unwrap().is_some());
    }
    println!("100k random gets: {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    assert_eq!(num_pending(&s, 1, "m.3"), 250_000);
    println!(
        "num_pending m.3 from 1 (250k next_matching): {:.2?}",
        t.elapsed()
    );
    assert_eq!(n, 4_000_000);
    let t = std::time::Instant::now();
    let mut deleted = 0;
    for _ in 0..20_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        deleted += u64::from(s.delete(1 + (x >> 33) % 4_000_000).unwrap());
    }
    println!("{deleted} random deletes: {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    let expired = s.expire_before(1_000_000).unwrap();
    println!("expiry of the oldest {expired}: {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    let purge = Purge {
        filter: Some("m.5".into()),
        ..Purge::default()
    };
    let purged = s.purge(&purge).unwrap();
    println!(
        "purge of subject m.5 ({purged} messages): {:.2?}",
        t.elapsed()
    );
    println!("RSS at the end {} KiB", rss_kib());
}

/// `state()` is asked for on every publish. Once the first chunk is paged out, reading the
/// first message's time from it cost a `pread` per call (a quarter of the JetStream publish
/// rate); it is read once per first message.
#[test]
fn state_reads_the_first_message_time_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path(), Some(TINY));
    for i in 0..100i64 {
        s.append("a.1", None, b"x", 1_000 + i).unwrap();
    }
    let before = s.index.paging_stats().1;
    for _ in 0..1000 {
        assert_eq!(s.state().first_ts, 1_000);
    }
    let reads = s.index.paging_stats().1 - before;
    assert!(reads <= 1, "{reads} page reads for 1000 state() calls");
    // A new first message (the old one deleted) is read once more, and answered right.
    assert!(s.delete(1).unwrap());
    let before = s.index.paging_stats().1;
    for _ in 0..1000 {
        assert_eq!(s.state().first_ts, 1_001);
    }
    assert!(s.index.paging_stats().1 - before <= 1);
}

/// Regression (found by `store_proptest`): the remembered first-message time is keyed by
/// sequence, and a sequence is used again once the stream is emptied and its next sequence
/// set back. The message now at that sequence is a new one with its own time.
#[test]
fn a_sequence_used_again_reports_the_new_message_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(dir.path(), Some(TINY));
    for i in 0..11i64 {
        s.append("a.1", None, b"x", 1_000 + i).unwrap();
    }
    s.purge(&Purge::default()).unwrap();
    s.set_next_seq(11).unwrap();
    s.append("a.1", None, b"x", 1_039).unwrap();
    assert_eq!(s.state().first_ts, 1_039);
    s.purge(&Purge::default()).unwrap();
    s.set_next_seq(11).unwrap();
    s.append("a.1", None, b"x", 1_050).unwrap();
    assert_eq!(s.state().first_ts, 1_050);
}
