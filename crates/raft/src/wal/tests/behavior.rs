//! Behaviour of the log as a whole: group commit across groups, backpressure from the
//! bounded channel, segment GC, corruption at open, shutdown, the interval sync mode and
//! group removal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{append_wait, entry, rt};
use crate::types::Vote;
use crate::wal::record::read_frame;
use crate::wal::segment::{self, HEADER_LEN};
use crate::wal::{SyncMode, Wal, WalError, WalOptions};

fn small(base: WalOptions, segment_bytes: u64) -> WalOptions {
    WalOptions {
        segment_bytes,
        ..base
    }
}

fn group_commit_shares_fsyncs_across_groups(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), base).unwrap();

        // Deterministic: 200 groups' appends queued while the writer is busy are written
        // and synced together, with one fsync.
        let resume = wal.pause().await;
        let before = wal.stats();
        let mut waiting = Vec::new();
        for g in 0..200 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let done = Box::new(move |r: std::io::Result<()>| {
                let _ = tx.send(r);
            });
            let log = wal.group(&format!("group-{g}"));
            log.append_with(vec![entry(1, 0, "x")], done).await.unwrap();
            waiting.push(rx);
        }
        drop(resume);
        for rx in waiting {
            rx.await.unwrap().unwrap();
        }
        let s = wal.stats();
        assert_eq!(s.appends - before.appends, 200);
        assert_eq!(s.fsyncs - before.fsyncs, 1, "200 queued appends, one fsync");

        // Free running: 200 tasks, each appending and waiting for its flush, 20 times.
        let before = wal.stats();
        let mut tasks = Vec::new();
        for g in 0..200 {
            let log = wal.group(&format!("group-{g}"));
            tasks.push(tokio::spawn(async move {
                for i in 1..=20 {
                    append_wait(&log, vec![entry(1, i, "x")]).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let s = wal.stats();
        let (appends, fsyncs) = (s.appends - before.appends, s.fsyncs - before.fsyncs);
        println!("group commit: {appends} appends, {fsyncs} fsyncs");
        assert_eq!(appends, 4000);
        assert_eq!(s.entries, 4200);
        // Each sync serves every group waiting at the time (the ratio depends on how long
        // an fsync takes: some 40 appends per fsync on a disk, fewer on tmpfs).
        assert!(
            fsyncs < appends / 2,
            "{fsyncs} fsyncs for {appends} appends"
        );
        for g in [0, 99, 199] {
            assert_eq!(
                wal.group(&format!("group-{g}"))
                    .entries_in(..)
                    .unwrap()
                    .len(),
                21
            );
        }
    });
}
both_budgets!(group_commit_shares_fsyncs_across_groups);

fn a_stalled_writer_makes_appends_wait_at_the_channel_bound(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            queue_depth: 8,
            ..base
        };
        let wal = Wal::open(dir.path(), opts).unwrap();
        assert_eq!(wal.queue_capacity(), 8);
        let resume = wal.pause().await;
        let sent = Arc::new(AtomicUsize::new(0));
        let flushed = Arc::new(AtomicUsize::new(0));
        let (log, sent2, flushed2) = (wal.group("g"), sent.clone(), flushed.clone());
        let task = tokio::spawn(async move {
            for i in 0..100 {
                let f = flushed2.clone();
                let done = Box::new(move |r: std::io::Result<()>| {
                    r.unwrap();
                    f.fetch_add(1, Ordering::SeqCst);
                });
                log.append_with(vec![entry(1, i, "x")], done).await.unwrap();
                sent2.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The channel holds 8 requests; the 9th append waits for room.
        assert_eq!(sent.load(Ordering::SeqCst), 8);
        assert_eq!(flushed.load(Ordering::SeqCst), 0);
        assert!(!task.is_finished());
        drop(resume);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("appends go on once the writer does")
            .unwrap();
        wal.shutdown().await.unwrap();
        assert_eq!(flushed.load(Ordering::SeqCst), 100);
    });
}
both_budgets!(a_stalled_writer_makes_appends_wait_at_the_channel_bound);

fn segment_count(dir: &std::path::Path) -> usize {
    segment::list(dir).unwrap().len()
}

fn purged_segments_are_deleted_and_a_reopen_recovers_the_same_state(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let opts = small(base, 4096);
        let wal = Wal::open(dir.path(), opts).unwrap();
        let data = "d".repeat(100);
        for g in 0..3 {
            let log = wal.group(&format!("g{g}"));
            log.save_vote_inner(&Vote::new(3, g)).await.unwrap();
            for i in 0..300 {
                append_wait(&log, vec![entry(2, i, &data)]).await;
            }
        }
        let before = segment_count(dir.path());
        assert!(before > 20, "only {before} segments");
        for g in 0..3 {
            let log = wal.group(&format!("g{g}"));
            let keep_from = 295;
            let at = log.entries_in(keep_from - 1..keep_from).unwrap()[0].log_id;
            log.purge_inner(at).await.unwrap();
            log.save_committed_inner(Some(at)).await.unwrap();
        }
        // A synced write after the purges: GC runs after each sync.
        wal.group("g0")
            .save_vote_inner(&Vote::new(4, 0))
            .await
            .unwrap();
        // Left: the segment of each group's last 5 entries (those of g2 may be the current
        // one) and the current one.
        let after = segment_count(dir.path());
        assert!(after <= 4, "{after} segments left of {before}");
        let state = |w: &Wal| {
            (0..3)
                .map(|g| {
                    let l = w.group(&format!("g{g}"));
                    (
                        l.entries_in(..).unwrap(),
                        l.vote(),
                        l.committed(),
                        l.log_state(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let want = state(&wal);
        assert_eq!(want[1].0.len(), 5);
        wal.shutdown().await.unwrap();
        drop(wal);
        let wal = Wal::open(dir.path(), opts).unwrap();
        assert_eq!(state(&wal), want);
        assert_eq!(wal.groups(), vec!["g0", "g1", "g2"]);
    });
}
both_budgets!(purged_segments_are_deleted_and_a_reopen_recovers_the_same_state);

/// Writes enough for several segments, then shuts the log down; returns the segments.
fn filled(dir: &std::path::Path, base: WalOptions) -> Vec<(u64, std::path::PathBuf)> {
    rt().block_on(async {
        let wal = Wal::open(dir, small(base, 2048)).unwrap();
        let log = wal.group("g");
        for i in 0..60 {
            append_wait(&log, vec![entry(1, i, &"p".repeat(100))]).await;
        }
        wal.shutdown().await.unwrap();
    });
    let segs = segment::list(dir).unwrap();
    assert!(segs.len() >= 3);
    segs
}

/// The offset of the second record of a segment.
fn second_record(path: &std::path::Path) -> (Vec<u8>, usize) {
    let buf = std::fs::read(path).unwrap();
    let (_, used) = read_frame(&buf[HEADER_LEN as usize..]).unwrap();
    (buf, HEADER_LEN as usize + used)
}

fn a_bad_record_inside_a_segment_is_an_error_naming_file_and_offset(base: WalOptions) {
    let dir = tempfile::tempdir().unwrap();
    let segs = filled(dir.path(), base);
    let path = &segs[0].1;
    let (mut buf, off) = second_record(path);
    buf[off + 12] ^= 0x01;
    std::fs::write(path, &buf).unwrap();
    match Wal::open(dir.path(), base) {
        Err(e @ WalError::Corrupt { .. }) => {
            let WalError::Corrupt {
                path: p, offset, ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(p, path);
            assert_eq!(*offset, off as u64);
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()) && msg.contains(&off.to_string()));
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a corrupt log"),
    }
    // Refused, not repaired: the file is as it was.
    assert_eq!(std::fs::read(path).unwrap(), buf);
}
both_budgets!(a_bad_record_inside_a_segment_is_an_error_naming_file_and_offset);

fn a_bad_record_mid_last_segment_is_an_error_but_a_torn_tail_is_cut(base: WalOptions) {
    let dir = tempfile::tempdir().unwrap();
    let segs = filled(dir.path(), base);
    // The segment before the last (the last one holds the shutdown's checkpoint only, at
    // most): make it the last by deleting the newest.
    let (_, newest) = segs.last().unwrap();
    std::fs::remove_file(newest).unwrap();
    let path = &segs[segs.len() - 2].1;
    let (mut buf, off) = second_record(path);
    let good = buf.clone();
    // What the log holds with this segment intact, opened on a copy.
    let copy = tempfile::tempdir().unwrap();
    for (_, p) in segment::list(dir.path()).unwrap() {
        std::fs::copy(&p, copy.path().join(p.file_name().unwrap())).unwrap();
    }
    let want = Wal::open(copy.path(), base)
        .unwrap()
        .group("g")
        .entries_in(..)
        .unwrap();
    assert!(want.len() > 10);
    buf[off + 12] ^= 0x01;
    std::fs::write(path, &buf).unwrap();
    assert!(matches!(
        Wal::open(dir.path(), base),
        Err(WalError::Corrupt { offset, .. }) if offset == off as u64
    ));
    // A torn tail instead: half a record, then zeroes. Both are cut off.
    let mut torn = good.clone();
    torn.extend_from_slice(&good[off..off + 11]);
    torn.extend_from_slice(&[0u8; 100]);
    std::fs::write(path, &torn).unwrap();
    let wal = Wal::open(dir.path(), base).unwrap();
    assert_eq!(std::fs::read(path).unwrap().len(), good.len());
    assert_eq!(wal.group("g").entries_in(..).unwrap(), want);
}
both_budgets!(a_bad_record_mid_last_segment_is_an_error_but_a_torn_tail_is_cut);

fn writes_after_shutdown_fail_promptly(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), base).unwrap();
        let log = wal.group("g");
        append_wait(&log, vec![entry(1, 0, "a")]).await;
        wal.shutdown().await.unwrap();
        let t = Instant::now();
        let r = log
            .append_with(vec![entry(1, 1, "b")], Box::new(|_| {}))
            .await;
        assert!(matches!(r, Err(WalError::Closed)), "{r:?}");
        assert!(matches!(
            log.save_vote_inner(&Vote::new(1, 1)).await,
            Err(WalError::Closed)
        ));
        assert!(matches!(wal.remove_group("g").await, Err(WalError::Closed)));
        assert!(t.elapsed() < Duration::from_secs(1));
        wal.shutdown().await.unwrap();
        drop((log, wal));
        let wal = Wal::open(dir.path(), base).unwrap();
        assert_eq!(wal.group("g").entries_in(..).unwrap().len(), 1);
    });
}
both_budgets!(writes_after_shutdown_fail_promptly);

fn appends_waiting_on_a_full_channel_at_shutdown_complete_or_fail(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            queue_depth: 2,
            ..base
        };
        let wal = Wal::open(dir.path(), opts).unwrap();
        let resume = wal.pause().await;
        let mut tasks = Vec::new();
        for g in 0..10 {
            let log = wal.group(&format!("g{g}"));
            tasks.push(tokio::spawn(async move {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let done = Box::new(move |r: std::io::Result<()>| {
                    let _ = tx.send(r);
                });
                match log.append_with(vec![entry(1, 0, "x")], done).await {
                    Ok(()) => rx.await.map_err(|_| ()).and_then(|r| r.map_err(|_| ())),
                    Err(WalError::Closed) => Err(()),
                    Err(e) => panic!("unexpected {e}"),
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let w = wal.clone();
        let shutdown = tokio::spawn(async move { w.shutdown().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(resume);
        let all = async {
            let mut ok = 0;
            for t in tasks {
                ok += usize::from(t.await.unwrap().is_ok());
            }
            shutdown.await.unwrap().unwrap();
            ok
        };
        let ok = tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .expect("nothing hangs");
        // Those queued before the shutdown were written; the rest failed.
        assert!(ok >= 2, "{ok}");
        drop(wal);
        let wal = Wal::open(dir.path(), opts).unwrap();
        assert_eq!(wal.groups().len(), ok);
    });
}
both_budgets!(appends_waiting_on_a_full_channel_at_shutdown_complete_or_fail);

fn interval_mode_reports_before_syncing_but_syncs_votes_and_on_time(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            sync: SyncMode::Interval(Duration::from_secs(3600)),
            ..base
        };
        let wal = Wal::open(dir.path(), opts).unwrap();
        let log = wal.group("g");
        let at_open = wal.stats().fsyncs;
        for i in 0..50 {
            append_wait(&log, vec![entry(1, i, "a")]).await;
        }
        assert_eq!(
            wal.stats().fsyncs,
            at_open,
            "appends synced in interval mode"
        );
        log.save_vote_inner(&Vote::new(1, 1)).await.unwrap();
        assert_eq!(
            wal.stats().fsyncs,
            at_open + 1,
            "a vote is synced before it returns"
        );
        wal.shutdown().await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            sync: SyncMode::Interval(Duration::from_millis(20)),
            ..base
        };
        let wal = Wal::open(dir.path(), opts).unwrap();
        let at_open = wal.stats().fsyncs;
        append_wait(&wal.group("g"), vec![entry(1, 0, "a")]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(wal.stats().fsyncs, at_open + 1, "the interval sync came");
    });
}
both_budgets!(interval_mode_reports_before_syncing_but_syncs_votes_and_on_time);

fn a_removed_group_stays_removed(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), small(base, 1024)).unwrap();
        for g in ["a", "b"] {
            let log = wal.group(g);
            log.save_vote_inner(&Vote::new(1, 1)).await.unwrap();
            for i in 0..20 {
                append_wait(&log, vec![entry(1, i, &"z".repeat(50))]).await;
            }
        }
        assert_eq!(wal.groups(), vec!["a", "b"]);
        wal.remove_group("a").await.unwrap();
        assert_eq!(wal.groups(), vec!["b"]);
        assert!(wal.group("a").entries_in(..).unwrap().is_empty());
        wal.shutdown().await.unwrap();
        drop(wal);
        let wal = Wal::open(dir.path(), small(base, 1024)).unwrap();
        assert_eq!(wal.groups(), vec!["b"]);
        assert_eq!(wal.group("a").vote(), None);
        assert_eq!(wal.group("b").entries_in(..).unwrap().len(), 20);
    });
}
both_budgets!(a_removed_group_stays_removed);

/// Measurement: 10,000 single-entry appends across 100 groups (each group waits for its
/// append to be flushed before the next, as a follower does), SyncMode::Always.
fn ten_thousand_appends_across_100_groups(base: WalOptions) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), base).unwrap();
        let before = wal.stats();
        let t = Instant::now();
        let mut tasks = Vec::new();
        for g in 0..100 {
            let log = wal.group(&format!("g{g}"));
            tasks.push(tokio::spawn(async move {
                for i in 0..100 {
                    append_wait(&log, vec![entry(1, i, &"m".repeat(128))]).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = t.elapsed();
        let s = wal.stats();
        println!(
            "10,000 appends across 100 groups, SyncMode::Always: {took:?}, {} fsyncs, {} bytes",
            s.fsyncs - before.fsyncs,
            s.bytes_written - before.bytes_written
        );
        assert_eq!(s.appends - before.appends, 10_000);
        // For scale: one group alone, one append (and one fsync) at a time.
        let log = wal.group("alone");
        let t = Instant::now();
        for i in 0..1000 {
            append_wait(&log, vec![entry(1, i, &"m".repeat(128))]).await;
        }
        println!("1,000 sequential appends in one group: {:?}", t.elapsed());
        wal.shutdown().await.unwrap();
        drop(wal);
        let wal = Wal::open(dir.path(), base).unwrap();
        assert_eq!(wal.group("g57").entries_in(..).unwrap().len(), 100);
    });
}
both_budgets!(ten_thousand_appends_across_100_groups);

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Damage anywhere (flipped bytes, a cut) makes `open` succeed or fail with an error;
    /// it never panics, and a cut at the end of the last segment always opens.
    #[test]
    fn damaged_segments_never_panic_at_open(
        flips in proptest::collection::vec((0usize..8, 0usize..4096, 1u8..=255), 0..4),
        cut in proptest::option::of((0usize..8, 0usize..4096)),
        memory_per_group in proptest::prop_oneof![proptest::strategy::Just(0u64), proptest::strategy::Just(8u64 << 20)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let segs = filled(dir.path(), WalOptions::default());
        for (s, at, x) in &flips {
            let path = &segs[s % segs.len()].1;
            let mut buf = std::fs::read(path).unwrap();
            let i = at % buf.len();
            buf[i] ^= x;
            std::fs::write(path, &buf).unwrap();
        }
        if let Some((s, at)) = cut {
            let path = &segs[s % segs.len()].1;
            let len = std::fs::metadata(path).unwrap().len() as usize;
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len((at % (len + 1)) as u64).unwrap();
        }
        let opts = WalOptions {
            memory_per_group,
            ..WalOptions::default()
        };
        match Wal::open(dir.path(), opts) {
            Ok(wal) => {
                // Read back, damaged or not: an error, never a panic.
                let _ = wal.group("g").entries_in(..);
            }
            Err(WalError::Corrupt { .. }) => {
                let last_cut_only = flips.is_empty()
                    && cut.is_some_and(|(s, _)| s % segs.len() == segs.len() - 1);
                proptest::prop_assert!(!last_cut_only, "a cut of the last segment is a torn tail");
            }
            Err(e) => proptest::prop_assert!(false, "unexpected error {}", e),
        }
    }
}

fn every_kind_of_entry_and_the_vote_survive_a_reopen(base: WalOptions) {
    use openraft::{BasicNode, CommittedLeaderId, EntryPayload, Membership};
    use std::collections::{BTreeMap, BTreeSet};

    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), base).unwrap();
        let log = wal.group("g");
        let lid = |i| crate::types::LogId::new(CommittedLeaderId::new(5, 2), i);
        let nodes: BTreeMap<u64, BasicNode> = [
            (1, BasicNode::new("a:1")),
            (2, BasicNode::new("b:2")),
            (3, BasicNode::default()),
        ]
        .into();
        let m = Membership::new(vec![BTreeSet::from([1, 2]), BTreeSet::from([2, 3])], nodes);
        let entries = vec![
            crate::types::Entry {
                log_id: lid(0),
                payload: EntryPayload::Blank,
            },
            crate::types::Entry {
                log_id: lid(1),
                payload: EntryPayload::Membership(m),
            },
            entry(5, 2, ""),
            crate::types::Entry {
                log_id: lid(3),
                payload: EntryPayload::Normal(bytes::Bytes::from(vec![0u8, 255, 7])),
            },
        ];
        append_wait(&log, entries.clone()).await;
        let vote = Vote::new_committed(5, 2);
        log.save_vote_inner(&vote).await.unwrap();
        log.save_committed_inner(Some(lid(1))).await.unwrap();
        wal.shutdown().await.unwrap();
        drop((log, wal));
        let wal = Wal::open(dir.path(), base).unwrap();
        let log = wal.group("g");
        assert_eq!(log.entries_in(..).unwrap(), entries);
        assert_eq!(log.vote(), Some(vote));
        assert_eq!(log.committed(), Some(lid(1)));
    });
}
both_budgets!(every_kind_of_entry_and_the_vote_survive_a_reopen);
