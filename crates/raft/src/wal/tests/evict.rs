//! Entries evicted from memory: read back from the segments equal to what was appended
//! (across rotation, truncation, purge, reopen and concurrent purges), memory kept under the
//! budget, and damage to a record read back reported as an error naming file and offset.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use openraft::storage::RaftLogReader;
use openraft::{CommittedLeaderId, EntryPayload};

use super::{append_wait, entry, rt};
use crate::types::{Entry, LogId};
use crate::wal::{segment, GroupLog, Wal, WalError, WalOptions};

fn opts(memory_per_group: u64, segment_bytes: u64) -> WalOptions {
    WalOptions {
        memory_per_group,
        segment_bytes,
        ..WalOptions::default()
    }
}

/// Entry `index` of term `term` with a payload of a size that varies with the index.
fn sized(term: u64, index: u64) -> Entry {
    let len = (index * 37 % 300) as usize;
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(Bytes::from(vec![(index % 251) as u8; len])),
    }
}

/// Checks the whole log and a few ranges of it against `want`.
fn check(log: &GroupLog, want: &BTreeMap<u64, Entry>, purged: Option<LogId>) {
    let all: Vec<Entry> = want.values().cloned().collect();
    assert_eq!(log.entries_in(..).unwrap(), all);
    let st = log.log_state();
    assert_eq!(
        st.last_log_id,
        want.values().next_back().map(|e| e.log_id).or(purged)
    );
    assert_eq!(st.last_purged_log_id, purged);
    let (Some(lo), Some(hi)) = (want.keys().next(), want.keys().next_back()) else {
        return;
    };
    for (a, b) in [
        (lo + 3, lo + 40),
        (hi.saturating_sub(7), hi + 5),
        (lo + 1, lo + 2),
    ] {
        let got = log.entries_in(a..b).unwrap();
        let exp: Vec<Entry> = want.range(a..b).map(|(_, e)| e.clone()).collect();
        assert_eq!(got, exp, "range {a}..{b}");
    }
    assert!(log.entries_in(hi + 1..).unwrap().is_empty());
}

#[test]
fn evicted_entries_read_back_equal_what_was_appended() {
    for budget in [0, 500, 5_000] {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let o = opts(budget, 4096);
            let wal = Wal::open(dir.path(), o).unwrap();
            let log = wal.group("g");
            let other = wal.group("other");
            let mut want = BTreeMap::new();
            // Batches of 1..=7 entries, the term changing inside some of them, interleaved
            // with another group's appends, over many segments.
            let mut i = 0u64;
            let mut term = 1;
            for b in 0..120u64 {
                let n = b % 7 + 1;
                let batch: Vec<Entry> = (0..n)
                    .map(|k| {
                        if (i + k).is_multiple_of(23) {
                            term += 1;
                        }
                        sized(term, i + k)
                    })
                    .collect();
                for e in &batch {
                    want.insert(e.log_id.index, e.clone());
                }
                append_wait(&log, batch).await;
                append_wait(&other, vec![sized(1, b)]).await;
                i += n;
            }
            assert!(segment::list(dir.path()).unwrap().len() > 5);
            check(&log, &want, None);
            if budget == 0 {
                assert_eq!(log.cached(), (0, 0));
            }
            let reads = wal.stats().disk_reads;
            assert!(reads > 0 || budget > 100_000);

            // Truncate inside an evicted batch: the last log id comes from the index.
            let cut = 200;
            log.truncate_inner(want[&cut].log_id).await.unwrap();
            let _ = want.split_off(&cut);
            check(&log, &want, None);
            // Append after it, in a new term.
            term += 1;
            let batch: Vec<Entry> = (cut..cut + 30).map(|k| sized(term, k)).collect();
            for e in &batch {
                want.insert(e.log_id.index, e.clone());
            }
            append_wait(&log, batch).await;
            check(&log, &want, None);

            // Purge inside a batch.
            let p = want[&57].log_id;
            log.purge_inner(p).await.unwrap();
            want = want.split_off(&58);
            check(&log, &want, Some(p));
            wal.shutdown().await.unwrap();
            drop((log, other, wal));

            // After a reopen: the same, the tail in memory within the budget.
            let wal = Wal::open(dir.path(), o).unwrap();
            let log = wal.group("g");
            check(&log, &want, Some(p));
            assert!(log.cached().1 <= budget, "{:?} over {budget}", log.cached());
            // And a truncation right after the reopen, into evicted entries.
            log.truncate_inner(want[&100].log_id).await.unwrap();
            let _ = want.split_off(&100);
            check(&log, &want, Some(p));
            wal.shutdown().await.unwrap();
            drop((log, wal));
            let wal = Wal::open(dir.path(), o).unwrap();
            check(&wal.group("g"), &want, Some(p));
        });
    }
}

#[test]
fn memory_stays_under_the_budget_while_appending_far_more() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let budget = 64 << 10;
        let o = opts(budget, 1 << 20);
        let wal = Wal::open(dir.path(), o).unwrap();
        let log = wal.group("g");
        let data = "k".repeat(1024);
        let n = 4000u64;
        for i in 0..n {
            let batch: Vec<Entry> = (0..(i % 3 + 1)).map(|_| entry(1, 0, &data)).collect();
            let first = log.log_state().last_log_id.map_or(0, |l| l.index + 1);
            let batch: Vec<Entry> = batch
                .into_iter()
                .enumerate()
                .map(|(k, mut e)| {
                    e.log_id.index = first + k as u64;
                    e
                })
                .collect();
            append_wait(&log, batch).await;
            let (_, bytes) = log.cached();
            assert!(bytes <= budget, "{bytes} bytes in memory, over {budget}");
        }
        let (entries, bytes) = log.cached();
        let last = log.log_state().last_log_id.unwrap().index;
        println!(
            "{} entries appended, {entries} ({bytes} bytes) in memory",
            last + 1
        );
        assert_eq!(last + 1, (0..n).map(|i| i % 3 + 1).sum::<u64>());
        assert!(entries > 10 && entries < 100);
        // All of it is there.
        let all = log.entries_in(..).unwrap();
        assert_eq!(all.len() as u64, last + 1);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, e)| e.log_id.index == i as u64));
        wal.shutdown().await.unwrap();
        drop((log, wal));
        let wal = Wal::open(dir.path(), o).unwrap();
        let log = wal.group("g");
        assert!(log.cached().1 <= budget);
        assert_eq!(log.entries_in(..).unwrap(), all);
    });
}

/// Pending entries are kept whatever the budget until written.
#[test]
fn unwritten_entries_stay_in_memory_over_the_budget() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), opts(0, 1 << 20)).unwrap();
        let log = wal.group("g");
        append_wait(&log, vec![entry(1, 0, "a")]).await;
        assert_eq!(log.cached().0, 0);
        let resume = wal.pause().await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        log.append_with(
            vec![entry(1, 1, "b"), entry(1, 2, "c")],
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .await
        .unwrap();
        assert_eq!(log.cached().0, 2);
        assert_eq!(log.entries_in(..).unwrap().len(), 3);
        // Truncated before it is written: the written record's stale part is never indexed.
        log.truncate_inner(entry(1, 2, "").log_id).await.unwrap();
        drop(resume);
        rx.await.unwrap().unwrap();
        assert_eq!(log.cached().0, 0);
        let got = log.entries_in(..).unwrap();
        assert_eq!(got, vec![entry(1, 0, "a"), entry(1, 1, "b")]);
        assert_eq!(log.log_state().last_log_id, Some(entry(1, 1, "").log_id));
    });
}

#[test]
fn a_damaged_record_read_back_is_an_error_naming_file_and_offset() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), opts(0, 2048)).unwrap();
        let log = wal.group("g");
        for i in 0..40 {
            append_wait(&log, vec![entry(1, i, &"p".repeat(100))]).await;
        }
        let reads = log.planned_disk_reads();
        assert_eq!(reads.len(), 40);
        let r = &reads[10];
        let path = segment::path(dir.path(), r.seg);
        let good = std::fs::read(&path).unwrap();
        // A flipped payload byte: the CRC does not match.
        let mut bad = good.clone();
        bad[(r.off + u64::from(r.len) - 1) as usize] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        let expect_corrupt = |res: Result<Vec<Entry>, WalError>| match res {
            Err(e @ WalError::Corrupt { .. }) => {
                let WalError::Corrupt {
                    path: p, offset, ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(p, &path);
                assert_eq!(*offset, r.off);
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()));
                assert!(msg.contains(&r.off.to_string()));
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("read a damaged record"),
        };
        expect_corrupt(log.entries_in(..));
        expect_corrupt(log.entries_in(10..11));
        // Through openraft's reader: a StorageError.
        let mut reader = log.clone();
        assert!(reader.try_get_log_entries(5..15).await.is_err());
        // What does not touch the damaged record reads on.
        assert_eq!(log.entries_in(11..40).unwrap().len(), 29);
        // A record cut short by the end of the file.
        let last = reads.iter().rfind(|x| x.seg == r.seg).unwrap();
        let mut cut = good.clone();
        cut.truncate((last.off + 5) as usize);
        std::fs::write(&path, &cut).unwrap();
        let err = log.entries_in(last.lo..=last.hi).unwrap_err();
        assert!(
            matches!(&err, WalError::Corrupt { offset, .. } if *offset == last.off),
            "{err}"
        );
        // A missing segment.
        std::fs::remove_file(&path).unwrap();
        let err = log.entries_in(last.lo..=last.hi).unwrap_err();
        assert!(
            matches!(&err, WalError::Io { path: p, .. } if *p == path),
            "{err}"
        );
        std::fs::write(&path, &good).unwrap();
        assert_eq!(log.entries_in(..).unwrap().len(), 40);
    });
}

/// Reads of evicted entries while the group appends and purges (and the writer deletes the
/// segments of what was purged): never an error, always a run of consecutive live entries.
#[test]
fn reads_race_purges_and_segment_deletion() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), opts(0, 1024)).unwrap();
        let log = wal.group("g");
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..1500u64 {
                    append_wait(&log, vec![entry(1, i, &"r".repeat(60))]).await;
                    if i % 10 == 9 {
                        let p = entry(1, i - 5, "").log_id;
                        log.purge_inner(p).await.unwrap();
                    }
                }
            })
        };
        let reader = {
            let log = log.clone();
            tokio::task::spawn_blocking(move || {
                let mut n = 0;
                while n < 20_000 {
                    let got = log.entries_in(..).unwrap();
                    for w in got.windows(2) {
                        assert_eq!(w[0].log_id.index + 1, w[1].log_id.index);
                    }
                    n += 1;
                    if got.last().is_some_and(|e| e.log_id.index == 1499) {
                        break;
                    }
                }
                n
            })
        };
        tokio::time::timeout(Duration::from_secs(60), writer)
            .await
            .unwrap()
            .unwrap();
        let n = reader.await.unwrap();
        println!("{n} reads raced the purges");
        assert!(segment::list(dir.path()).unwrap().len() < 5);
    });
}

/// A read planned before a purge whose segment the writer deletes before the read gets to
/// it: planned again, it returns what is live.
#[test]
fn a_read_whose_segment_is_deleted_meanwhile_is_planned_again() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let (wal, log) = rt.block_on(async {
        let wal = Wal::open(dir.path(), opts(0, 1024)).unwrap();
        let log = wal.group("g");
        for i in 0..60 {
            append_wait(&log, vec![entry(1, i, &"s".repeat(60))]).await;
        }
        (wal, log)
    });
    let first_seg = log.planned_disk_reads()[0].seg;
    let first_path = segment::path(dir.path(), first_seg);
    assert!(first_path.exists());
    let handle = rt.handle().clone();
    let log2 = log.clone();
    crate::wal::group::AFTER_PLAN.with(|h| {
        *h.borrow_mut() = Some(Box::new(move || {
            handle.block_on(async {
                log2.purge_inner(entry(1, 40, "").log_id).await.unwrap();
                // A synced write: the writer deletes dead segments after a sync.
                log2.save_vote_inner(&crate::types::Vote::new(1, 1))
                    .await
                    .unwrap();
            });
        }));
    });
    let got = log.entries_in(..).unwrap();
    assert!(!first_path.exists(), "the race did not happen");
    let want: Vec<Entry> = (41..60).map(|i| entry(1, i, &"s".repeat(60))).collect();
    assert_eq!(got, want);
    rt.block_on(wal.shutdown()).unwrap();
}

/// Measurement (run with `--ignored --nocapture`; `WAL_MEASURE_BUDGET` bytes, default the
/// default budget; `max` keeps everything, as the log did before eviction): 100,000 entries of
/// 1 KiB appended to one group (`WAL_MEASURE_BATCH` at a time, default 100), RSS and entries
/// in memory after, and after a reopen.
#[test]
#[ignore]
fn measure_memory_of_100k_entries_of_1k() {
    fn rss_mib() -> f64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
    let budget = match std::env::var("WAL_MEASURE_BUDGET").ok().as_deref() {
        Some("max") => u64::MAX,
        Some(b) => b.parse().unwrap(),
        None => WalOptions::default().memory_per_group,
    };
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let o = WalOptions {
            memory_per_group: budget,
            sync: crate::wal::SyncMode::Interval(Duration::from_millis(50)),
            ..WalOptions::default()
        };
        let before = rss_mib();
        let wal = Wal::open(dir.path(), o).unwrap();
        let log = wal.group("stream");
        let data = Bytes::from(vec![b'm'; 1024]);
        let t = std::time::Instant::now();
        // Entries per append (WAL_MEASURE_BATCH, default 100).
        let per: u64 = std::env::var("WAL_MEASURE_BATCH")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(100);
        for b in 0..100_000 / per {
            let batch: Vec<Entry> = (0..per)
                .map(|k| Entry {
                    log_id: LogId::new(CommittedLeaderId::new(1, 1), b * per + k),
                    payload: EntryPayload::Normal(data.clone().slice(..).to_vec().into()),
                })
                .collect();
            append_wait(&log, batch).await;
        }
        let took = t.elapsed();
        let (entries, bytes) = log.cached();
        println!(
            "budget {budget}: 100k x 1 KiB appended {per} at a time in {took:?}; in memory {entries} entries, {bytes} bytes; RSS {before:.1} -> {:.1} MiB",
            rss_mib()
        );
        wal.shutdown().await.unwrap();
        drop((log, wal));
        let t = std::time::Instant::now();
        let wal = Wal::open(dir.path(), o).unwrap();
        let log = wal.group("stream");
        let (entries, bytes) = log.cached();
        println!(
            "reopened in {:?}: in memory {entries} entries, {bytes} bytes; RSS {:.1} MiB",
            t.elapsed(),
            rss_mib()
        );
        let t = std::time::Instant::now();
        let mut n = 0;
        for b in 0..100u64 {
            n += log.entries_in(b * 1000..(b + 1) * 1000).unwrap().len();
        }
        println!(
            "reading all {n} back, 1,000 at a time: {:?} ({} disk reads); RSS {:.1} MiB",
            t.elapsed(),
            wal.stats().disk_reads,
            rss_mib()
        );
        assert_eq!(n, 100_000);
    });
}
